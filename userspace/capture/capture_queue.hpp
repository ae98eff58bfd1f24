// Everything one captured RX queue owns for the whole connection: its UMEM, its AF_XDP socket
// and the UMEM chunks that are in no ring. Pollers come and go with captures; the chunk
// bookkeeping must outlive them, or a second Start would stock the fill ring twice.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "xdp/umem_area.hpp"
#include "xdp/xsk_socket.hpp"

namespace xesp::capture {

class CaptureQueue {
 public:
  static Result<CaptureQueue> open(const std::string& ifname, uint32_t nic_queue,
                                   const xdp::UmemConfig& umem_config, uint32_t rx_ring_size,
                                   xdp::BindMode bind_mode);

  uint32_t nic_queue() const { return nic_queue_; }
  xdp::UmemArea& umem() { return umem_; }
  const xdp::UmemArea& umem() const { return umem_; }
  xdp::XskSocket& socket() { return socket_; }
  const xdp::XskSocket& socket() const { return socket_; }

  // Moves free chunks into the fill ring until it is full or none is left.
  void top_up_fill_ring();
  // Hands a used chunk back (any address inside it).
  void release_chunk(uint64_t addr) { free_chunks_.push_back(addr & chunk_mask_); }

 private:
  CaptureQueue(uint32_t nic_queue, xdp::UmemArea umem, xdp::XskSocket socket);

  uint32_t nic_queue_;
  xdp::UmemArea umem_;
  xdp::XskSocket socket_;  // after umem_: destroyed before it
  std::vector<uint64_t> free_chunks_;
  uint64_t chunk_mask_;
};

}  // namespace xesp::capture
