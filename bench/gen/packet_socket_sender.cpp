#include "packet_socket_sender.hpp"

#include <linux/if_packet.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "scoped_cpu_pin.hpp"

namespace xesp::gen {
namespace {

constexpr uint32_t kMaxBatch = 1024;  // UIO_MAXIOV: sendmmsg's vlen limit
// Back-off when the kernel has no room (qdisc full, or the driver busy under QDISC_BYPASS).
constexpr auto kRetrySleep = std::chrono::microseconds(20);

timespec to_timespec(double ns) {
  timespec ts;
  ts.tv_sec = static_cast<time_t>(ns / 1e9);
  ts.tv_nsec = static_cast<long>(ns - static_cast<double>(ts.tv_sec) * 1e9);
  return ts;
}

double monotonic_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

}  // namespace

Status PacketSenderConfig::validate() const {
  if (Status s = frame.validate(); !s) return s;
  if (batch < 1 || batch > kMaxBatch) {
    return Error::nm(
        nmerr::invalid_parameter,
        "batch " + std::to_string(batch) + ": must be within 1.." + std::to_string(kMaxBatch));
  }
  return {};
}

PacketSocketSender::PacketSocketSender(PacketSenderConfig config, NetInterface nic, UniqueFd fd)
    : config_(std::move(config)),
      nic_(std::move(nic)),
      fd_(std::move(fd)),
      next_seq_(config_.start_seq),
      slot_size_(config_.frame.max_size()),
      frames_(size_t{slot_size_} * config_.batch),
      iov_(config_.batch),
      msgs_(config_.batch) {}

Result<PacketSocketSender> PacketSocketSender::open(PacketSenderConfig config) {
  if (Status s = config.validate(); !s) return std::move(s).error();
  auto nic = NetInterface::find(config.interface);
  if (!nic) return std::move(nic).error();

  // Protocol 0: the socket sends but never receives, so it does not get a copy of every frame
  // on the interface (its own included) that it would have to drain. The kernel still reads the
  // EtherType of each frame from its Ethernet header (packet_parse_headers).
  UniqueFd fd(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
  if (!fd) {
    return Error::sys(errno, "socket(AF_PACKET, SOCK_RAW) (needs CAP_NET_RAW)");
  }
  sockaddr_ll addr{};
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = 0;
  addr.sll_ifindex = nic->index;
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return Error::sys(errno, "interface '" + config.interface + "': bind(AF_PACKET)");
  }
  if (config.qdisc_bypass) {
    const int on = 1;
    if (::setsockopt(fd.get(), SOL_PACKET, PACKET_QDISC_BYPASS, &on, sizeof on) != 0) {
      return Error::sys(errno, "PACKET_QDISC_BYPASS");
    }
  }
  return PacketSocketSender(std::move(config), std::move(*nic), std::move(fd));
}

Status PacketSocketSender::transmit(uint32_t n, SendReport& report) {
  uint32_t done = 0;
  while (done < n) {
    const int rc = ::sendmmsg(fd_.get(), msgs_.data() + done, n - done, 0);
    if (rc > 0) {
      done += static_cast<uint32_t>(rc);
      report.calls++;
      continue;
    }
    const int err = rc == 0 ? EAGAIN : errno;
    if (err == EINTR) continue;
    // sendmmsg returns the frames before a failing one; the failing one was not queued (a
    // qdisc that drops answers ENOBUFS and frees the frame), so it is simply sent again.
    if (err == ENOBUFS || err == EAGAIN) {
      report.retries++;
      std::this_thread::sleep_for(kRetrySleep);
      continue;
    }
    report.frames += done;
    std::string hint;
    if (err == EMSGSIZE) hint = " (frame larger than the interface MTU + 14)";
    if (err == ENETDOWN) hint = " (interface is down)";
    return Error::sys(err, "interface '" + nic_.name + "': sendmmsg after " +
                               std::to_string(report.frames) + " frames" + hint);
  }
  report.frames += done;
  return {};
}

Result<SendReport> PacketSocketSender::send(uint64_t count) {
  auto pin = ScopedCpuPin::pin(config_.cpu);
  if (!pin) return std::move(pin).error();
  auto before = nic_.counters();
  if (!before) return std::move(before).error();

  SendReport report;
  report.first_seq = next_seq_;
  const FrameSpec& spec = config_.frame;
  // With a rate, send at most ~1 ms worth of frames per call so that pacing stays smooth
  // instead of bursting a whole batch at low rates.
  uint32_t batch = config_.batch;
  if (config_.rate_pps > 0) {
    batch = static_cast<uint32_t>(
        std::clamp<uint64_t>(config_.rate_pps / 1000, 1, uint64_t{config_.batch}));
  }
  const double ns_per_frame =
      config_.rate_pps > 0 ? 1e9 / static_cast<double>(config_.rate_pps) : 0;
  const auto t0 = std::chrono::steady_clock::now();
  const double start_ns = monotonic_ns();

  uint64_t queued = 0;  // frames built so far in this send()
  while (queued < count) {
    const auto n = static_cast<uint32_t>(std::min<uint64_t>(batch, count - queued));
    for (uint32_t i = 0; i < n; ++i) {
      std::span<uint8_t> slot(frames_.data() + size_t{i} * slot_size_, slot_size_);
      const size_t len = write_test_frame(spec, next_seq_ + i, slot);
      iov_[i] = {slot.data(), len};
      std::memset(&msgs_[i], 0, sizeof msgs_[i]);
      msgs_[i].msg_hdr.msg_iov = &iov_[i];
      msgs_[i].msg_hdr.msg_iovlen = 1;
      report.bytes += len;
    }
    if (ns_per_frame > 0) {
      // Absolute deadlines from the start: oversleeping once does not slow the whole run.
      const timespec due = to_timespec(start_ns + static_cast<double>(queued) * ns_per_frame);
      while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, nullptr) == EINTR) {
      }
    }
    const uint64_t sent_before = report.frames;
    Status s = transmit(n, report);
    next_seq_ += report.frames - sent_before;
    if (!s) return std::move(s).error();
    queued += n;
  }

  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto after = nic_.counters();
  if (!after) return std::move(after).error();
  report.device_drops = after->drops_since(*before);
  return report;
}

}  // namespace xesp::gen
