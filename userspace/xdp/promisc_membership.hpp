// Promiscuous mode held through a packet-socket membership (PACKET_MR_PROMISC): the kernel
// counts it in the device's promiscuity and drops it when the socket closes, also when the
// process dies, so a killed capture never leaves the NIC promiscuous (and a forked child, which
// never holds the socket, does not keep it so).
#pragma once

#include <string>

#include "base/fork_guard.hpp"
#include "base/result.hpp"

namespace xesp::xdp {

class PromiscMembership {
 public:
  static Result<PromiscMembership> join(int ifindex, const std::string& ifname);
  PromiscMembership() = default;
  explicit operator bool() const { return static_cast<bool>(fd_); }
  void leave() { fd_.reset(); }

 private:
  explicit PromiscMembership(ForkGuardedFd fd) : fd_(std::move(fd)) {}
  ForkGuardedFd fd_;
};

}  // namespace xesp::xdp
