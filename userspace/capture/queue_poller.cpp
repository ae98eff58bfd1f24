#include "capture/queue_poller.hpp"

#include "base/clock.hpp"
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <time.h>
#include <xdp/xsk.h>

#include <cstring>

#include "xesp_shared.h"

namespace xesp::capture {

int64_t tai_to_utc_offset_ns() {
  timespec tai{}, rt{};
  ::clock_gettime(CLOCK_TAI, &tai);
  ::clock_gettime(CLOCK_REALTIME, &rt);
  // The two clocks differ by whole seconds; rounding absorbs the time between the two reads.
  int64_t diff = (static_cast<int64_t>(rt.tv_sec) - tai.tv_sec) * 1'000'000'000LL +
                 (static_cast<int64_t>(rt.tv_nsec) - tai.tv_nsec);
  int64_t secs = (diff >= 0 ? diff + 500'000'000LL : diff - 500'000'000LL) / 1'000'000'000LL;
  return secs * 1'000'000'000LL;
}

namespace {

thread_local bool t_on_poller = false;

}  // namespace

bool on_poller_thread() { return t_on_poller; }

QueuePoller::QueuePoller(uint32_t index, CaptureQueue& queue, FrameSink& sink,
                         const PollerConfig& config)
    : index_(index),
      queue_(queue),
      sink_(sink),
      config_(config),
      wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

QueuePoller::~QueuePoller() {
  request_stop();
  join();
}

void QueuePoller::start() { thread_ = std::thread([this] { run(); }); }

void QueuePoller::request_stop() {
  stop_.store(true, std::memory_order_release);
  if (wake_) {
    const uint64_t one = 1;
    (void)!::write(wake_.get(), &one, sizeof(one));
  }
}

void QueuePoller::join() {
  if (thread_.joinable()) thread_.join();
}

void QueuePoller::run() {
  t_on_poller = true;
  if (config_.cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(config_.cpu, &set);
    ::pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  }
  char name[16];
  std::snprintf(name, sizeof(name), "xesp-q%u", queue_.nic_queue());
  ::pthread_setname_np(pthread_self(), name);

  xdp::XskSocket& socket = queue_.socket();
  xsk_ring_cons* rx = socket.rx();
  xsk_ring_prod* fill = queue_.umem().fill();
  uint8_t* base = queue_.umem().base();
  const uint32_t nic_queue = queue_.nic_queue();
  const uint32_t batch = config_.batch_size;
  std::vector<Frame> frames(batch);
  int64_t tai_offset = tai_to_utc_offset_ns();
  const uint32_t* no_meta_flag = config_.no_meta;
  // The socket, and the eventfd that request_stop() rings (without one, Stop waits for the
  // poll timeout).
  pollfd pfds[2] = {{socket.fd(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
  pollfd& pfd = pfds[0];
  const nfds_t nfds = wake_ ? 2 : 1;

  for (;;) {
    uint32_t idx = 0;
    uint32_t n = xsk_ring_cons__peek(rx, batch, &idx);
    if (n == 0 && config_.spin_ns && !stop_.load(std::memory_order_acquire)) {
      // Stay awake a while: a sleeping poller costs the kernel a wakeup per NAPI poll.
      const uint64_t until = monotonic_ns() + config_.spin_ns;
      while ((n = xsk_ring_cons__peek(rx, batch, &idx)) == 0 && monotonic_ns() < until)
        __builtin_ia32_pause();
    }
    if (n == 0) {
      if (stop_.load(std::memory_order_acquire)) break;
      sink_.idle(index_);
      // The kernel sets need_wakeup on the fill ring when it ran dry and wants a kick
      // (zero-copy drivers); copy mode wakes us through the socket's wait queue.
      if (xsk_ring_prod__needs_wakeup(fill))
        ::recvfrom(socket.fd(), nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
      pfds[0].revents = pfds[1].revents = 0;
      const int ready = ::poll(pfds, nfds, config_.poll_timeout_ms);
      // A socket whose NIC went away is unbound: its poll never reports an event again, the
      // error waits in SO_ERROR (ENETDOWN, set by the kernel's netdev notifier). Looked at when
      // the wait ends without frames, so a quiet capture notices within a poll timeout.
      if (ready == 0 || (pfd.revents & (POLLERR | POLLHUP | POLLNVAL))) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (::getsockopt(socket.fd(), SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0) {
          if (config_.on_fault) config_.on_fault(err);
          break;
        }
      }
      tai_offset = tai_to_utc_offset_ns();
      continue;
    }

    // Read after the ring (its peek is an acquire): a program that stopped writing headers set
    // the switch before the first frame without one was published.
    const bool headers = !no_meta_flag || __atomic_load_n(no_meta_flag, __ATOMIC_ACQUIRE) == 0;
    uint64_t bytes = 0;
    uint64_t no_meta = 0;
    for (uint32_t i = 0; i < n; ++i) {
      const xdp_desc* desc = xsk_ring_cons__rx_desc(rx, idx + i);
      const uint8_t* data = base + desc->addr;
      Frame& f = frames[i];
      f.data = data;
      f.len = desc->len;
      f.queue = nic_queue;
      f.flags = 0;
      xesp_meta meta{};
      if (headers) std::memcpy(&meta, data - sizeof(meta), sizeof(meta));
      if (meta.magic == XESP_META_MAGIC) {
        f.orig_len = meta.orig_len;
        f.timestamp_ns = meta.rx_tai_ns + static_cast<uint64_t>(tai_offset);
      } else {
        f.orig_len = desc->len;
        f.timestamp_ns = realtime_ns();
        ++no_meta;
      }
      bytes += f.orig_len;
    }
    uint32_t kept = sink_.consume(index_, std::span<const Frame>(frames.data(), n));
    uint64_t kept_bytes = bytes;
    if (kept < n) {
      kept_bytes = 0;
      for (uint32_t i = 0; i < kept; ++i) kept_bytes += frames[i].orig_len;
    }

    // Every frame of the batch is done with: give the chunks back to the kernel.
    for (uint32_t i = 0; i < n; ++i) queue_.release_chunk(xsk_ring_cons__rx_desc(rx, idx + i)->addr);
    xsk_ring_cons__release(rx, n);
    queue_.top_up_fill_ring();

    counters_.frames.fetch_add(n, std::memory_order_relaxed);
    counters_.bytes.fetch_add(bytes, std::memory_order_relaxed);
    counters_.kept.fetch_add(kept, std::memory_order_relaxed);
    counters_.kept_bytes.fetch_add(kept_bytes, std::memory_order_relaxed);
    counters_.over_limit.fetch_add(n - kept, std::memory_order_relaxed);
    if (no_meta) counters_.no_metadata.fetch_add(no_meta, std::memory_order_relaxed);
  }
  sink_.idle(index_);
}

}  // namespace xesp::capture
