#include "xdp/promisc_membership.hpp"

#include <linux/if_packet.h>
#include <sys/socket.h>

namespace xesp::xdp {

Result<PromiscMembership> PromiscMembership::join(int ifindex, const std::string& ifname) {
  // Protocol 0: the socket is never hooked into the receive path, it only holds the membership.
  ForkFence fence;  // registered before a fork in another thread can copy it
  UniqueFd socket(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
  if (!socket) {
    int e = errno;
    return Error::sys(e, "promiscuous mode on '" + ifname + "': packet socket" +
                             (e == EPERM ? " (needs CAP_NET_RAW)" : ""));
  }
  auto fd = ForkGuardedFd::adopt(std::move(socket), "promiscuous mode on '" + ifname + "'");
  if (!fd) return std::move(fd).error();
  packet_mreq mreq{};
  mreq.mr_ifindex = ifindex;
  mreq.mr_type = PACKET_MR_PROMISC;
  if (::setsockopt(fd->get(), SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq, sizeof(mreq)) != 0)
    return Error::sys(errno, "promiscuous mode on '" + ifname + "'");
  return PromiscMembership(std::move(fd).value());
}

}  // namespace xesp::xdp
