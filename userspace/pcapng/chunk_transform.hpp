// A transform applied to whole runs of pcapng blocks before they reach the output: compression
// (userspace/output/) makes each run one self-contained compressed unit, so units written by
// different threads concatenate into one valid compressed file.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <span>

#include "base/result.hpp"

namespace xesp {

class ChunkTransform {
 public:
  virtual ~ChunkTransform() = default;
  // The transformed bytes of the concatenated pieces; valid until the next call. Not
  // thread-safe: one transform per thread (PcapngWriter calls its own under its lock).
  virtual Result<std::span<const std::byte>> apply(std::span<const iovec> pieces) = 0;
  // Bytes the output starts with, before any unit, and ends with, after the last one (a
  // compressed stream's header and end). PcapngWriter writes them around everything else.
  virtual std::span<const std::byte> stream_header() const { return {}; }
  virtual std::span<const std::byte> stream_trailer() const { return {}; }
};

}  // namespace xesp
