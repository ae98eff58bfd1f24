// EpbBuffer: the capture hot path's encoder. One per capture queue, owned by a single poller
// thread: it packs Enhanced Packet Blocks back to back into one preallocated buffer, which the
// poller hands to PcapngWriter::write_chunk in one big write when full (or on a timer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

#include "pcapng/pcapng_format.hpp"

namespace xesp {

class EpbBuffer {
 public:
  static constexpr std::size_t kMaxCapacity = 0xFFFF'FFFC;

  // interface_id: the IDB index (in PcapngWriter's interface list) this queue's frames belong to.
  // The whole capacity is allocated here, once; append never allocates. Capacity is capped at
  // kMaxCapacity so that every block that fits also has a 32-bit total length.
  EpbBuffer(uint32_t interface_id, std::size_t capacity_bytes);

  // A moved-from buffer has capacity 0: append() on it fails instead of writing through null.
  EpbBuffer(EpbBuffer&& other) noexcept;
  EpbBuffer& operator=(EpbBuffer&& other) noexcept;
  EpbBuffer(const EpbBuffer&) = delete;
  EpbBuffer& operator=(const EpbBuffer&) = delete;

  // Encodes one EPB (ns timestamp, no options). False when the block does not fit in what is
  // left: the caller flushes bytes(), clear()s and retries. A block larger than capacity() never
  // fits (check fits_empty() once, or clamp captured_len to the snap length, which the sink does).
  // Defined inline: it is called per frame from another translation unit.
  [[nodiscard]] bool append(uint64_t timestamp_ns, const uint8_t* data, uint32_t captured_len,
                            uint32_t original_len) noexcept;

  // Bytes a frame of captured_len takes once encoded.
  static constexpr std::size_t block_size(uint32_t captured_len) noexcept {
    return pcapng::kEpbFixedSize + pcapng::padded_size(captured_len);
  }
  bool fits_empty(uint32_t captured_len) const noexcept {
    return block_size(captured_len) <= capacity_;
  }

  std::span<const std::byte> bytes() const noexcept { return {data_.get(), size_}; }
  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return capacity_; }
  bool empty() const noexcept { return size_ == 0; }
  // Frames encoded since the last clear().
  uint64_t frames() const noexcept { return frames_; }
  uint32_t interface_id() const noexcept { return interface_id_; }
  void clear() noexcept {
    size_ = 0;
    frames_ = 0;
  }

 private:
  static void store_u32(std::byte* p, uint32_t v) noexcept { std::memcpy(p, &v, sizeof(v)); }
  static void store_u64(std::byte* p, uint64_t v) noexcept { std::memcpy(p, &v, sizeof(v)); }

  // unique_ptr<byte[]> rather than vector: make_unique_for_overwrite skips zero-filling megabytes
  // we are about to overwrite, and padding is zeroed per block anyway.
  std::unique_ptr<std::byte[]> data_;
  std::size_t capacity_ = 0;
  std::size_t size_ = 0;
  uint64_t frames_ = 0;
  uint32_t interface_id_ = 0;
};

inline bool EpbBuffer::append(uint64_t timestamp_ns, const uint8_t* data, uint32_t captured_len,
                              uint32_t original_len) noexcept {
  const std::size_t padded = pcapng::padded_size(captured_len);
  const std::size_t total = pcapng::kEpbFixedSize + padded;
  if (total > capacity_ - size_) return false;

  std::byte* out = data_.get() + size_;
  // Fields go straight into the destination, paired into 64-bit stores (little-endian: the low
  // half lands first). Building the header in a local array and copying it was ~2.5x slower for
  // small frames: the wide reloads of freshly written narrow stack stores stall on store
  // forwarding. The casts cannot truncate: total <= capacity_ <= kMaxCapacity.
  const auto total32 = static_cast<uint32_t>(total);
  store_u64(out, pcapng::kBlockEnhancedPacket | (uint64_t{total32} << 32));
  store_u64(out + 8, interface_id_ | ((timestamp_ns >> 32) << 32));
  store_u64(out + 16, (timestamp_ns & 0xFFFF'FFFFULL) | (uint64_t{captured_len} << 32));
  store_u32(out + 24, original_len);
  out += 28;
  if (padded != 0) {
    // Zero the last word first, then copy the frame over it: the 0-3 pad bytes end up zero
    // without a branchy memset, and the buffer's previous contents never leak into the file.
    store_u32(out + padded - 4, 0);
    std::memcpy(out, data, captured_len);
  }
  store_u32(out + padded, total32);

  size_ += total;
  ++frames_;
  return true;
}

}  // namespace xesp
