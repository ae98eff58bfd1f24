// Sends test frames through an AF_PACKET socket with sendmmsg, paced to a frame rate.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "net_interface.hpp"
#include "send_report.hpp"
#include "test_frame.hpp"

namespace xesp::gen {

struct PacketSenderConfig {
  std::string interface;  // looked up in the calling thread's network namespace
  FrameSpec frame;
  uint64_t start_seq = 0;
  uint64_t rate_pps = 0;  // frames per second; 0 = as fast as the kernel takes them
  uint32_t batch = 64;    // frames per sendmmsg call, 1..1024 (the kernel's UIO_MAXIOV)
  // PACKET_QDISC_BYPASS: hand frames straight to the driver. Off by default: through the qdisc
  // layer the TX queue follows the flow hash, so several flows spread over all queues of a
  // multi-queue veth; bypassed, the queue follows the sending CPU instead.
  bool qdisc_bypass = false;
  int cpu = -1;  // >= 0: pin the calling thread to this CPU during send()

  Status validate() const;
};

// Move-only owner of one packet socket bound to the interface.
class PacketSocketSender {
 public:
  static Result<PacketSocketSender> open(PacketSenderConfig config);

  // Sends `count` frames, continuing the sequence where the previous send() stopped. Frames the
  // kernel answers with ENOBUFS/EAGAIN are sent again after a short sleep, never skipped. On an
  // error the message says how many frames went out; next_seq() stays exact either way.
  Result<SendReport> send(uint64_t count);

  uint64_t next_seq() const noexcept { return next_seq_; }
  const NetInterface& interface() const noexcept { return nic_; }
  const PacketSenderConfig& config() const noexcept { return config_; }

 private:
  PacketSocketSender(PacketSenderConfig config, NetInterface nic, UniqueFd fd);

  // Sends msgs_[0 .. n), all of them; adds what went out to report.frames, on error too.
  Status transmit(uint32_t n, SendReport& report);

  PacketSenderConfig config_;
  NetInterface nic_;
  UniqueFd fd_;
  uint64_t next_seq_ = 0;
  uint32_t slot_size_ = 0;
  std::vector<uint8_t> frames_;  // batch slots of slot_size_ bytes
  std::vector<iovec> iov_;
  std::vector<mmsghdr> msgs_;
};

}  // namespace xesp::gen
