// PcapngReader: parses a whole pcapng file into plain structures, for tests and tools (not the
// capture path: it copies every packet). Any number of sections (`cat a.pcapng b.pcapng` is a
// valid file), each in either byte order.
//
// Sections and interface numbers. Each Section Header Block starts a new section whose
// interface ids restart at 0, so an id alone does not name an interface in a multi-section
// file. The reader keeps the single-section view its users had and adds the section:
// - `interfaces` holds every IDB of every section, in file order; `sections[s]` says which
//   of them belong to section s (first_interface, interface_count).
// - a packet's or statistics block's `interface_id` is the id as written in the block (within
//   its section), `section` the index in `sections`, and `interface_index` the index in
//   `interfaces` (first_interface of its section + interface_id).
// - `shb` is the first section's header (a copy of sections[0]).
// In a one-section file interface_index == interface_id, so `file.interfaces[pkt.interface_id]`
// stays right there; code meant for several sections indexes with interface_index.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace xesp {

// An option as it appears in the block, value without padding, in file order.
struct PcapngOption {
  uint16_t code = 0;
  std::vector<uint8_t> value{};
};

struct PcapngSection {
  uint64_t block_offset = 0;  // of the SHB
  uint16_t major_version = 0;
  uint16_t minor_version = 0;
  int64_t section_length = 0;
  bool swapped = false;  // written on a host of the other byte order
  std::string hardware{};
  std::string os{};
  std::string user_appl{};
  std::vector<std::string> comments{};
  std::vector<PcapngOption> options{};
  // This section's IDBs are interfaces[first_interface, first_interface + interface_count).
  uint32_t first_interface = 0;
  uint32_t interface_count = 0;
};

struct PcapngInterface {
  uint32_t section = 0;  // index in PcapngFile::sections; its id there is index - first_interface
  uint16_t link_type = 0;
  uint32_t snap_len = 0;
  std::string name{};
  std::string description{};
  std::string os{};
  // if_filter: the type byte (0 = libpcap filter string) and the rest of the value as text.
  std::optional<uint8_t> filter_type{};
  std::string filter{};
  // The raw if_tsresol byte; kIfTsresolDefault (microseconds) when the option is absent.
  uint8_t tsresol = 6;
  bool has_tsresol = false;
  int64_t tsoffset_s = 0;  // if_tsoffset
  std::vector<std::string> comments{};
  std::vector<PcapngOption> options{};
};

struct PcapngPacket {
  uint32_t block_type = 0;  // kBlockEnhancedPacket or kBlockSimplePacket
  uint64_t block_offset = 0;
  uint32_t section = 0;          // index in PcapngFile::sections
  uint32_t interface_id = 0;     // as written: the id within its section (0 for an SPB)
  uint32_t interface_index = 0;  // index in PcapngFile::interfaces
  uint64_t timestamp_raw = 0;    // in the interface's if_tsresol units; 0 for an SPB
  uint64_t timestamp_ns = 0;     // converted, with if_tsoffset applied
  uint32_t captured_len = 0;
  uint32_t original_len = 0;
  std::vector<uint8_t> data{};  // captured_len bytes, padding excluded
  std::vector<std::string> comments{};
  std::vector<PcapngOption> options{};
};

struct PcapngInterfaceStatistics {
  uint32_t section = 0;          // index in PcapngFile::sections
  uint32_t interface_id = 0;     // as written: the id within its section
  uint32_t interface_index = 0;  // index in PcapngFile::interfaces
  uint64_t timestamp_ns = 0;
  std::optional<uint64_t> start_time_ns{};
  std::optional<uint64_t> end_time_ns{};
  std::optional<uint64_t> if_recv{};
  std::optional<uint64_t> if_drop{};
  std::optional<uint64_t> filter_accept{};
  std::optional<uint64_t> os_drop{};
  std::optional<uint64_t> usr_deliv{};
  std::vector<std::string> comments{};
  std::vector<PcapngOption> options{};
};

struct PcapngFile {
  PcapngSection shb{};                        // the first section's header: sections[0]
  std::vector<PcapngSection> sections{};      // every section, in file order (at least one)
  std::vector<PcapngInterface> interfaces{};  // every section's IDBs, in file order
  std::vector<PcapngPacket> packets{};
  std::vector<PcapngInterfaceStatistics> stats{};
  std::vector<uint32_t> unknown_block_types{};  // in file order, one entry per block
};

class PcapngReader {
 public:
  // Malformed input gives an Error naming the source and the byte offset of the bad block.
  [[nodiscard]] static Result<PcapngFile> read_file(const std::string& path);
  // name: what error messages call the data (e.g. a file name).
  [[nodiscard]] static Result<PcapngFile> read_bytes(std::span<const std::byte> bytes,
                                                     const std::string& name = "pcapng data");

  // Converts a timestamp in if_tsresol units (10^-n s, or 2^-n s when bit 7 is set) to ns.
  static uint64_t to_ns(uint64_t ticks, uint8_t tsresol) noexcept;
};

}  // namespace xesp
