#include "pcapng/epb_vector.hpp"

namespace xesp {

EpbVector::EpbVector(uint32_t interface_id, std::size_t arena_bytes)
    : arena_(std::make_unique_for_overwrite<std::byte[]>(arena_bytes)),
      capacity_(arena_bytes),
      iov_(std::make_unique<iovec[]>(kMaxIovecs)),
      interface_id_(interface_id) {}

}  // namespace xesp
