// BlockCompressor: turns a poller's batch of encoded pcapng blocks into one compressed unit that
// can be appended to a capture file next to the units of other pollers, in any order. One per
// poller thread (not thread-safe), so the compression cost spreads over the pollers' cores.
//
// A compressed file is stream_header(), then the units of all pollers in any order, then
// stream_trailer(); it decompresses to the units' input in file order, each followed by
// unit_suffix() (zstd only). Per codec (why: see
// docs/DESIGN-NOTES.md, "Compressed capture files"):
// - gzip: a unit is one gzip member; no header or trailer. Every reader takes a file of
//   members (RFC 1952), Wireshark 4.0 included.
// - zstd, lz4: the file is ONE frame and a unit is blocks of it that depend on no other unit's.
//   A file of frames is what Wireshark 4.0 (Debian 12) cannot read: past its first 128 KiB it
//   takes the next frame for uncompressed data and calls the file damaged.
//   - lz4: a unit is the blocks of a stream its compressor starts afresh, so none of them
//     references data of another unit (blocks of at most 64 KiB, linked within the unit).
//   - zstd: a unit is the blocks of a frame compressed on its own, followed by three small
//     blocks that put the frame's repeat offsets back to their initial values, so the next
//     unit decodes as if it began a frame. Those blocks decode to a 24-byte pcapng block of a
//     local-use type (0x806e7973) that pcapng readers skip: the decompressed file has one after
//     each unit's blocks.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "base/result.hpp"
#include "output/compression.hpp"

namespace xesp::output {

class BlockCompressor {
 public:
  // The level create() picks for level 0, chosen for capture speed (figures in DESIGN-NOTES).
  static int default_level(Compression c) noexcept;

  // A compressor for one codec (not none: an uncompressed file takes the iovecs as they are).
  // level 0 means default_level(c); otherwise zstd takes ZSTD_minCLevel()..ZSTD_maxCLevel(),
  // lz4 -65537..12 (below 0: faster, less compression; 3 and up: LZ4HC), gzip 1..9.
  [[nodiscard]] static Result<BlockCompressor> create(Compression c, int level = 0);

  // Bytes a file compressed with c starts with, before any unit, and ends with, after the last
  // one: the frame's header and its end for zstd and lz4, nothing for gzip (and none). A file
  // that lacks its trailer (the capture was killed) still yields every unit in it, but readers
  // report it truncated.
  static std::span<const std::byte> stream_header(Compression c) noexcept;
  static std::span<const std::byte> stream_trailer(Compression c) noexcept;
  // What a unit decodes to after its input: zstd's 24-byte pcapng block of the local-use type
  // kZstdSuffixBlockType (readers skip it), nothing for the others.
  static std::span<const std::byte> unit_suffix(Compression c) noexcept;
  static constexpr uint32_t kZstdSuffixBlockType = 0x806e7973;  // "syn\x80" in the file

  // The compressed unit for the concatenation of these pieces (EpbVector::iovecs(): whole
  // pcapng blocks), valid until the next call or until this compressor goes. The pieces are
  // streamed into the codec, never gathered into one buffer first. No bytes in (an empty list,
  // or pieces of 0 bytes) gives an empty unit: nothing to write. On an error the compressor
  // stays usable: the next call starts a new unit.
  [[nodiscard]] Result<std::span<const std::byte>> compress(std::span<const iovec> pieces);

  Compression kind() const noexcept;
  // The level in use (default_level() resolved).
  int level() const noexcept;

  BlockCompressor(BlockCompressor&&) noexcept;
  BlockCompressor& operator=(BlockCompressor&&) noexcept;
  BlockCompressor(const BlockCompressor&) = delete;
  BlockCompressor& operator=(const BlockCompressor&) = delete;
  ~BlockCompressor();

  // One codec's context (ZSTD_CCtx, LZ4F_cctx, z_stream), defined in block_compressor.cpp.
  class Codec;

 private:
  explicit BlockCompressor(std::unique_ptr<Codec> codec) noexcept;

  std::unique_ptr<Codec> codec_;
  // The unit of the last compress(); grown, never shrunk.
  std::unique_ptr<std::byte[]> out_;
  std::size_t out_capacity_ = 0;
};

}  // namespace xesp::output
