#include "net_interface.hpp"

#include <ifaddrs.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "base/unique_fd.hpp"

namespace xesp::gen {
namespace {

Result<UniqueFd> ioctl_socket() {
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return Error::sys(errno, "socket(AF_INET) for interface ioctls");
  return fd;
}

bool fill_ifreq(ifreq& ifr, const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ) return false;
  std::memset(&ifr, 0, sizeof ifr);
  std::memcpy(ifr.ifr_name, name.c_str(), name.size());
  return true;
}

// Returns 0 or an errno.
int ethtool(int fd, const std::string& name, void* request) {
  ifreq ifr;
  if (!fill_ifreq(ifr, name)) return EINVAL;
  ifr.ifr_data = static_cast<char*>(request);
  return ::ioctl(fd, SIOCETHTOOL, &ifr) == 0 ? 0 : errno;
}

// Sums the veth XDP transmit counters. A device without ethtool statistics has none: zeros.
Status read_xdp_xmit(const std::string& name, DeviceCounters& out) {
  auto fd = ioctl_socket();
  if (!fd) return std::move(fd).error();

  // ethtool_sset_info ends in a flexible array: one u32 follows for the one set asked for.
  std::vector<uint64_t> sset_buf(sizeof(ethtool_sset_info) / 8 + 1);
  auto* sset = reinterpret_cast<ethtool_sset_info*>(sset_buf.data());
  sset->cmd = ETHTOOL_GSSET_INFO;
  sset->sset_mask = 1ull << ETH_SS_STATS;
  int err = ethtool(fd->get(), name, sset);
  if (err == EOPNOTSUPP || (err == 0 && sset->sset_mask == 0)) return {};
  if (err != 0) return Error::sys(err, "interface '" + name + "': ETHTOOL_GSSET_INFO");
  const uint32_t n = sset->data[0];
  if (n == 0) return {};

  // uint64_t storage keeps the structs aligned; the kernel writes n strings / n values after them.
  std::vector<uint64_t> strings_buf((sizeof(ethtool_gstrings) + n * ETH_GSTRING_LEN) / 8 + 1);
  auto* strings = reinterpret_cast<ethtool_gstrings*>(strings_buf.data());
  strings->cmd = ETHTOOL_GSTRINGS;
  strings->string_set = ETH_SS_STATS;
  strings->len = n;
  if ((err = ethtool(fd->get(), name, strings)) != 0) {
    return Error::sys(err, "interface '" + name + "': ETHTOOL_GSTRINGS");
  }
  std::vector<uint64_t> stats_buf(sizeof(ethtool_stats) / 8 + 1 + n);
  auto* stats = reinterpret_cast<ethtool_stats*>(stats_buf.data());
  stats->cmd = ETHTOOL_GSTATS;
  stats->n_stats = n;
  if ((err = ethtool(fd->get(), name, stats)) != 0) {
    return Error::sys(err, "interface '" + name + "': ETHTOOL_GSTATS");
  }
  // A device may shrink its set between the calls (queues changed); trust the smaller count.
  const uint32_t got = std::min(n, std::min(strings->len, stats->n_stats));
  for (uint32_t i = 0; i < got; ++i) {
    const char* raw = reinterpret_cast<const char*>(strings->data) + i * ETH_GSTRING_LEN;
    const std::string_view key(raw, ::strnlen(raw, ETH_GSTRING_LEN));
    if (!key.starts_with("tx_queue_")) continue;
    if (key.ends_with("_xdp_xmit_errors")) {
      out.xdp_xmit_errors += stats->data[i];
    } else if (key.ends_with("_xdp_xmit")) {
      out.xdp_xmit += stats->data[i];
      out.has_xdp_xmit = true;
    }
  }
  return {};
}

}  // namespace

Result<NetInterface> NetInterface::find(const std::string& name) {
  ifreq ifr;
  if (!fill_ifreq(ifr, name)) {
    return Error::nm(nmerr::invalid_parameter, "interface '" + name + "': names are 1.." +
                                                   std::to_string(IFNAMSIZ - 1) + " characters");
  }
  NetInterface nic;
  nic.name = name;
  nic.index = static_cast<int>(::if_nametoindex(name.c_str()));
  if (nic.index == 0) {
    return Error::sys(errno, "interface '" + name + "' (in this network namespace)");
  }
  auto fd = ioctl_socket();
  if (!fd) return std::move(fd).error();
  if (::ioctl(fd->get(), SIOCGIFHWADDR, &ifr) != 0) {
    return Error::sys(errno, "interface '" + name + "': SIOCGIFHWADDR");
  }
  std::memcpy(nic.mac.data(), ifr.ifr_hwaddr.sa_data, nic.mac.size());
  return nic;
}

Result<DeviceCounters> NetInterface::counters() const {
  DeviceCounters out;
  // getifaddrs asks rtnetlink through a socket of the calling thread's namespace; /sys would show
  // the namespace /sys was mounted in, which is wrong after setns().
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return Error::sys(errno, "getifaddrs");
  const std::unique_ptr<ifaddrs, decltype(&::freeifaddrs)> owner(list, &::freeifaddrs);
  bool found = false;
  for (const ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_PACKET || a->ifa_data == nullptr ||
        name != a->ifa_name) {
      continue;
    }
    // 32-bit counters: good for the deltas over one run that they are used for.
    const auto* s = static_cast<const rtnl_link_stats*>(a->ifa_data);
    out.tx_packets = s->tx_packets;
    out.tx_dropped = s->tx_dropped;
    found = true;
    break;
  }
  if (!found) {
    return Error::nm(nmerr::invalid_parameter,
                     "interface '" + name + "': gone from this network namespace");
  }
  if (Status s = read_xdp_xmit(name, out); !s) return std::move(s).error();
  return out;
}

}  // namespace xesp::gen
