// PcapngScan: how much of a pcapng file is whole, for `xesp repair`. A capture killed before it
// closed its file (SIGKILL, a crash, power loss) leaves a file that ends inside a block, or, when
// it was written through a mapping, in up to 64 MiB of zeros; readers refuse such a file as a
// whole. The scan walks the block framing from the start and finds where the last whole block
// ends: everything before it is a valid file. A pure function over bytes (no I/O), so tests and a
// fuzz target can drive it, and a caller can hand it a read-only mapping of a file of any size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "base/result.hpp"

namespace xesp {

struct PcapngScan {
  uint64_t size = 0;        // bytes scanned
  uint64_t whole_size = 0;  // bytes from the start to the end of the last whole block
  uint64_t frames = 0;      // Enhanced and Simple Packet Blocks in [0, whole_size), all sections
  uint64_t blocks = 0;      // blocks in [0, whole_size)
  uint32_t sections = 0;    // Section Header Blocks in [0, whole_size)
  // Why the bytes at whole_size are not a whole block; empty when whole().
  std::string stop_reason{};

  bool whole() const noexcept { return whole_size == size; }
  uint64_t cut_bytes() const noexcept { return size - whole_size; }
};

// Whether a block type is one a writer may put in a file: those the pcapng draft registers
// (SHB, 1..10, Hone 0x101.., Sysdig 0x201.., the custom blocks 0xBAD and 0x40000BAD) and the
// local-use range (bit 31 set). Zero, which an unwritten tail holds, is not.
bool plausible_block_type(uint32_t type) noexcept;

// Walks bytes as a pcapng file and stops at the first block that is not whole: too few bytes
// left, an implausible type, a total length below 12, not a multiple of 4, past the end, or
// unequal to the trailing copy, an SHB with a bad byte-order magic or version, or a block whose
// fixed part does not fit it (an EPB's captured length, an interface id the section has not
// described). Every section's byte order is taken from its SHB. An Error (naming `name` and the
// reason) when the data does not begin with a whole, valid SHB: then there is nothing to keep
// (this includes gzip, zstd and lz4 files, recognized by their magic bytes, and pcap files).
[[nodiscard]] Result<PcapngScan> scan_pcapng(std::span<const std::byte> bytes,
                                             const std::string& name);

}  // namespace xesp
