// One AF_XDP socket bound to one RX queue of a NIC, receive-only, need_wakeup on.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/result.hpp"
#include "xdp/umem_area.hpp"

struct xsk_socket;

namespace xesp::xdp {

enum class BindMode { automatic, zero_copy, copy };

const char* to_string(BindMode mode);
Result<BindMode> parse_bind_mode(const std::string& text);

// The kernel's XDP_STATISTICS for one socket.
struct XskStatistics {
  uint64_t rx_dropped = 0;                // dropped for other reasons (see DESIGN notes)
  uint64_t rx_invalid_descs = 0;
  uint64_t rx_ring_full = 0;              // RX ring had no room
  uint64_t rx_fill_ring_empty_descs = 0;  // times the fill ring was found empty
};

class XskSocket {
 public:
  // automatic: zero-copy when the driver takes it, else copy. The socket uses `umem` alone.
  static Result<XskSocket> create(const std::string& ifname, uint32_t queue, UmemArea& umem,
                                  uint32_t rx_size, BindMode requested);

  XskSocket(XskSocket&&) noexcept;
  XskSocket& operator=(XskSocket&&) noexcept;
  ~XskSocket();

  int fd() const;
  uint32_t queue() const;
  BindMode mode() const;  // zero_copy or copy, as the kernel reports it
  xsk_ring_cons* rx() const;  // stable address
  Result<XskStatistics> statistics() const;

 private:
  struct State;
  explicit XskSocket(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace xesp::xdp
