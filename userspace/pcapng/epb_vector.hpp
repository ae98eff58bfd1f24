// EpbVector: the capture hot path's encoder for vectored writes. One per capture queue, owned
// by a single poller thread. Small frames are copied next to their block headers into an arena
// (one contiguous run, written in big pieces); large frames are not copied at all: their
// iovec points at the frame where it lies (UMEM), between the arena's header and trailer, so
// the only copy of a large frame is the kernel's into the file. Frames referenced that way must
// stay put until the vector is written (PcapngWriter::write_vectored) and cleared.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

#include "pcapng/pcapng_format.hpp"

namespace xesp {

class EpbVector {
 public:
  // Frames of at most this many captured bytes are copied into the arena.
  static constexpr uint32_t kInlineMax = 512;
  static constexpr std::size_t kMaxIovecs = 1024;  // IOV_MAX

  EpbVector(uint32_t interface_id, std::size_t arena_bytes);

  // Adds one Enhanced Packet Block (ns timestamp, no options). False when it does not fit
  // (arena or iovec slots): write, clear() and retry.
  [[nodiscard]] bool add(uint64_t timestamp_ns, const uint8_t* data, uint32_t captured_len,
                         uint32_t original_len) noexcept;

  std::span<iovec> iovecs() noexcept { return {iov_.get(), iov_count_}; }
  bool empty() const noexcept { return iov_count_ == 0; }
  // True when an iovec points outside the arena: write before the frames are reused.
  bool references_frames() const noexcept { return external_; }
  std::size_t arena_used() const noexcept { return used_; }
  std::size_t bytes() const noexcept { return bytes_; }
  uint64_t frames() const noexcept { return frames_; }
  // Original (wire) lengths of the frames added, summed.
  uint64_t wire_bytes() const noexcept { return wire_bytes_; }
  uint32_t interface_id() const noexcept { return interface_id_; }
  void clear() noexcept {
    used_ = 0;
    iov_count_ = 0;
    bytes_ = 0;
    frames_ = 0;
    wire_bytes_ = 0;
    external_ = false;
  }

 private:
  // Appends arena bytes [at, at+len) to the iovec list, extending the last iovec when the two
  // are contiguous.
  void push_arena(std::byte* at, std::size_t len) noexcept;

  std::unique_ptr<std::byte[]> arena_;
  std::size_t capacity_ = 0;
  std::size_t used_ = 0;
  std::unique_ptr<iovec[]> iov_;
  std::size_t iov_count_ = 0;
  std::size_t bytes_ = 0;
  uint64_t frames_ = 0;
  uint64_t wire_bytes_ = 0;
  uint32_t interface_id_ = 0;
  bool external_ = false;
};

inline void EpbVector::push_arena(std::byte* at, std::size_t len) noexcept {
  if (iov_count_ != 0) {
    iovec& last = iov_[iov_count_ - 1];
    if (static_cast<std::byte*>(last.iov_base) + last.iov_len == at) {
      last.iov_len += len;
      return;
    }
  }
  iov_[iov_count_++] = {at, len};
}

inline bool EpbVector::add(uint64_t timestamp_ns, const uint8_t* data, uint32_t captured_len,
                           uint32_t original_len) noexcept {
  const std::size_t padded = pcapng::padded_size(captured_len);
  const std::size_t total = pcapng::kEpbFixedSize + padded;
  const bool inline_data = captured_len <= kInlineMax;
  const std::size_t arena_need = inline_data ? total : pcapng::kEpbFixedSize + 3;
  // A large frame may take three iovecs (header, frame, padding + trailer).
  if (arena_need > capacity_ - used_ || iov_count_ + 3 > kMaxIovecs) return false;

  std::byte* out = arena_.get() + used_;
  const auto total32 = static_cast<uint32_t>(total);
  auto store32 = [](std::byte* p, uint32_t v) { std::memcpy(p, &v, 4); };
  auto store64 = [](std::byte* p, uint64_t v) { std::memcpy(p, &v, 8); };
  store64(out, pcapng::kBlockEnhancedPacket | (uint64_t{total32} << 32));
  store64(out + 8, interface_id_ | ((timestamp_ns >> 32) << 32));
  store64(out + 16, (timestamp_ns & 0xFFFF'FFFFULL) | (uint64_t{captured_len} << 32));
  store32(out + 24, original_len);
  if (inline_data) {
    std::byte* body = out + 28;
    if (padded != 0) {
      store32(body + padded - 4, 0);  // zero the pad, then copy the frame over it
      std::memcpy(body, data, captured_len);
    }
    store32(body + padded, total32);
    push_arena(out, total);
    used_ += total;
  } else {
    push_arena(out, 28);
    iov_[iov_count_++] = {const_cast<uint8_t*>(data), captured_len};
    // Padding (0-3 zero bytes) and the trailing length, after the frame.
    std::byte* tail = out + 28;
    const std::size_t pad = padded - captured_len;
    std::memset(tail, 0, pad);
    store32(tail + pad, total32);
    push_arena(tail, pad + 4);
    used_ += 28 + pad + 4;
    external_ = true;
  }
  bytes_ += total;
  ++frames_;
  wire_bytes_ += original_len;
  return true;
}

}  // namespace xesp
