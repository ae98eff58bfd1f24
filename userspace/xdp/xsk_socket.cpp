#include "xdp/xsk_socket.hpp"

#include <linux/if_xdp.h>
#include <sys/socket.h>
#include <xdp/xsk.h>

#include <chrono>
#include <thread>
#include <vector>

#include "base/fork_guard.hpp"
#include "xdp/xsk_fork_guards.hpp"

namespace xesp::xdp {

const char* to_string(BindMode mode) {
  switch (mode) {
    case BindMode::automatic: return "auto";
    case BindMode::zero_copy: return "zero-copy";
    case BindMode::copy: return "copy";
  }
  return "?";
}

Result<BindMode> parse_bind_mode(const std::string& text) {
  if (text == "auto") return BindMode::automatic;
  if (text == "zero-copy" || text == "zerocopy" || text == "zc") return BindMode::zero_copy;
  if (text == "copy") return BindMode::copy;
  return Error::nm(nmerr::blob_conversion_error,
                   "bind mode '" + text + "': expected auto, zero-copy or copy");
}

struct XskSocket::State {
  xsk_socket* xsk = nullptr;
  xsk_ring_cons rx{};
  uint32_t queue = 0;
  BindMode mode = BindMode::copy;
  // The socket fd, its RX ring, and the UMEM's fill and completion rings (libxdp unmaps them
  // when this socket is deleted).
  std::vector<ForkGuard> fork_guards;
  ~State() {
    ForkFence fence;  // unregistered and released as one step for a fork in another thread
    fork_guards.clear();
    if (xsk) xsk_socket__delete(xsk);  // closing the fd also drops it from the XSKMAP
  }
};

XskSocket::XskSocket(std::unique_ptr<State> state) : state_(std::move(state)) {}
XskSocket::XskSocket(XskSocket&&) noexcept = default;
XskSocket& XskSocket::operator=(XskSocket&&) noexcept = default;
XskSocket::~XskSocket() = default;

namespace {

// A closed socket leaves its queue busy for a moment: the kernel detaches the buffer pool from
// the queue in a work item after the socket is destroyed (xp_release_deferred), so a bind right
// after the previous owner closed fails with EBUSY (seen on 6.18 when Disconnect is followed by
// Connect, or Configure rebuilds the sockets). Retry for a bounded time; a queue held by a live
// socket of another process stays busy and the error stands.
constexpr auto kBusyQueueGrace = std::chrono::seconds(2);

// The socket fd (the UMEM's own, which UmemArea registered too, for the first socket on it)
// and the RX ring libxdp mapped, registered with the fork guard.
Status guard_socket(xsk_socket* xsk, const xsk_ring_cons& rx, uint32_t rx_size,
                    const std::string& what, std::vector<ForkGuard>& guards) {
  const int fd = xsk_socket__fd(xsk);
  auto socket = guard_xsk_fd(fd, what);
  if (!socket) return std::move(socket).error();
  guards.push_back(std::move(socket).value());
  auto ring = guard_xsk_ring(fd, XskRing::rx, rx.ring, rx_size, what + ": RX ring");
  if (!ring) return std::move(ring).error();
  guards.push_back(std::move(ring).value());
  return {};
}

// Creates and binds the socket, and registers it with the fork guard under the same ForkFence
// (a fork in another thread never inherits it unregistered). EBUSY is retried outside the fence,
// so a fork never waits for the grace period. A refused bind is an Error with only the code.
Status try_create(xsk_socket** xsk, const std::string& ifname, uint32_t queue, UmemArea& umem,
                  xsk_ring_cons* rx, uint32_t rx_size, uint16_t copy_flag, const std::string& what,
                  std::vector<ForkGuard>& guards) {
  xsk_socket_config cfg{};
  cfg.rx_size = rx_size;
  cfg.tx_size = 0;
  // xesp loads and attaches its own program through a BPF link; libxdp must not load one.
  cfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
  cfg.bind_flags = XDP_USE_NEED_WAKEUP | copy_flag;
  const auto deadline = std::chrono::steady_clock::now() + kBusyQueueGrace;
  for (;;) {
    {
      ForkFence fence;
      int err = xsk_socket__create(xsk, ifname.c_str(), queue, umem.umem(), rx, nullptr, &cfg);
      if (err == 0) {
        for (ForkGuard& g : umem.take_ring_fork_guards()) guards.push_back(std::move(g));
        Status st = guard_socket(*xsk, *rx, rx_size, what, guards);
        if (!st) {
          guards.clear();
          xsk_socket__delete(*xsk);
          *xsk = nullptr;
        }
        return st;
      }
      *xsk = nullptr;
      if (err != -EBUSY || std::chrono::steady_clock::now() >= deadline)
        return Error{std::error_code(-err, std::system_category()), ""};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace

Result<XskSocket> XskSocket::create(const std::string& ifname, uint32_t queue, UmemArea& umem,
                                    uint32_t rx_size, BindMode requested) {
  auto state = std::make_unique<State>();
  state->queue = queue;
  const std::string what = "AF_XDP socket on '" + ifname + "' queue " + std::to_string(queue);
  int err = 0;
  if (requested != BindMode::copy) {
    Status st = try_create(&state->xsk, ifname, queue, umem, &state->rx, rx_size, XDP_ZEROCOPY,
                           what, state->fork_guards);
    if (!st && !st.error().message.empty()) return std::move(st).error();
    err = st ? 0 : st.error().code.value();
    // A refused zero-copy bind leaves the UMEM usable: libxdp keeps its rings for a retry.
    if (err && requested == BindMode::zero_copy) {
      std::string hint = (err == EOPNOTSUPP || err == EINVAL)
                             ? " (the driver does not support zero-copy: try --bind-mode copy)"
                             : "";
      return Error::sys(err, what + ": zero-copy bind" + hint);
    }
  }
  if (requested == BindMode::copy || err) {
    Status st = try_create(&state->xsk, ifname, queue, umem, &state->rx, rx_size, XDP_COPY, what,
                           state->fork_guards);
    if (!st) {
      if (!st.error().message.empty()) return std::move(st).error();
      int e = st.error().code.value();
      std::string hint = (e == EPERM || e == EACCES) ? " (AF_XDP sockets need CAP_NET_RAW)" : "";
      if (e == EBUSY) hint = " (another AF_XDP socket is already bound to this queue)";
      return Error::sys(e, what + hint);
    }
  }
  xdp_options opts{};
  socklen_t len = sizeof(opts);
  if (::getsockopt(xsk_socket__fd(state->xsk), SOL_XDP, XDP_OPTIONS, &opts, &len) == 0)
    state->mode = (opts.flags & XDP_OPTIONS_ZEROCOPY) ? BindMode::zero_copy : BindMode::copy;
  return XskSocket(std::move(state));
}

int XskSocket::fd() const { return xsk_socket__fd(state_->xsk); }
uint32_t XskSocket::queue() const { return state_->queue; }
BindMode XskSocket::mode() const { return state_->mode; }
xsk_ring_cons* XskSocket::rx() const { return &state_->rx; }

Result<XskStatistics> XskSocket::statistics() const {
  xdp_statistics st{};
  socklen_t len = sizeof(st);
  if (::getsockopt(fd(), SOL_XDP, XDP_STATISTICS, &st, &len) != 0)
    return Error::sys(errno, "reading XDP_STATISTICS of queue " + std::to_string(state_->queue));
  XskStatistics out;
  out.rx_dropped = st.rx_dropped;
  out.rx_invalid_descs = st.rx_invalid_descs;
  out.rx_ring_full = st.rx_ring_full;
  out.rx_fill_ring_empty_descs = st.rx_fill_ring_empty_descs;
  return out;
}

}  // namespace xesp::xdp
