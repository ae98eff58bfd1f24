#include "capture/capture_queue.hpp"

#include <xdp/xsk.h>

#include <algorithm>

namespace xesp::capture {

Result<CaptureQueue> CaptureQueue::open(const std::string& ifname, uint32_t nic_queue,
                                        const xdp::UmemConfig& umem_config, uint32_t rx_ring_size,
                                        xdp::BindMode bind_mode) {
  auto umem = xdp::UmemArea::create(umem_config);
  if (!umem) return std::move(umem).error();
  auto socket = xdp::XskSocket::create(ifname, nic_queue, *umem, rx_ring_size, bind_mode);
  if (!socket) return std::move(socket).error();
  CaptureQueue q(nic_queue, std::move(umem).value(), std::move(socket).value());
  q.top_up_fill_ring();
  return q;
}

CaptureQueue::CaptureQueue(uint32_t nic_queue, xdp::UmemArea umem, xdp::XskSocket socket)
    : nic_queue_(nic_queue),
      umem_(std::move(umem)),
      socket_(std::move(socket)),
      chunk_mask_(~static_cast<uint64_t>(umem_.config().frame_size - 1)) {
  const auto& c = umem_.config();
  free_chunks_.reserve(c.frame_count);
  for (uint32_t i = c.frame_count; i-- > 0;)
    free_chunks_.push_back(static_cast<uint64_t>(i) * c.frame_size);
}

void CaptureQueue::top_up_fill_ring() {
  xsk_ring_prod* fill = umem_.fill();
  const auto available = static_cast<uint32_t>(free_chunks_.size());
  uint32_t n = std::min(xsk_prod_nb_free(fill, available), available);
  uint32_t idx = 0;
  if (n == 0 || xsk_ring_prod__reserve(fill, n, &idx) != n) return;
  for (uint32_t i = 0; i < n; ++i) {
    *xsk_ring_prod__fill_addr(fill, idx + i) = free_chunks_.back();
    free_chunks_.pop_back();
  }
  xsk_ring_prod__submit(fill, n);
}

}  // namespace xesp::capture
