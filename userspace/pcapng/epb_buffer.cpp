#include "pcapng/epb_buffer.hpp"

#include <algorithm>
#include <utility>

namespace xesp {

EpbBuffer::EpbBuffer(uint32_t interface_id, std::size_t capacity_bytes)
    : data_(std::make_unique_for_overwrite<std::byte[]>(std::min(capacity_bytes, kMaxCapacity))),
      capacity_(std::min(capacity_bytes, kMaxCapacity)),
      interface_id_(interface_id) {}

EpbBuffer::EpbBuffer(EpbBuffer&& other) noexcept
    : data_(std::move(other.data_)),
      capacity_(std::exchange(other.capacity_, 0)),
      size_(std::exchange(other.size_, 0)),
      frames_(std::exchange(other.frames_, 0)),
      interface_id_(other.interface_id_) {}

EpbBuffer& EpbBuffer::operator=(EpbBuffer&& other) noexcept {
  if (this != &other) {
    data_ = std::move(other.data_);
    capacity_ = std::exchange(other.capacity_, 0);
    size_ = std::exchange(other.size_, 0);
    frames_ = std::exchange(other.frames_, 0);
    interface_id_ = other.interface_id_;
  }
  return *this;
}

}  // namespace xesp
