// Promiscuous mode held through a packet-socket membership (PACKET_MR_PROMISC): the kernel
// counts it in the device's promiscuity and drops it when the socket closes, also when the
// process dies, so a killed capture never leaves the NIC promiscuous.
#pragma once

#include <string>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace xesp::xdp {

class PromiscMembership {
 public:
  static Result<PromiscMembership> join(int ifindex, const std::string& ifname);
  PromiscMembership() = default;
  explicit operator bool() const { return static_cast<bool>(fd_); }
  void leave() { fd_.reset(); }

 private:
  explicit PromiscMembership(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace xesp::xdp
