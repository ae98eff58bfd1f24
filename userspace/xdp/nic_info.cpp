#include "xdp/nic_info.hpp"

#include <dirent.h>
#include <linux/ethtool.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string_view>

#include "base/unique_fd.hpp"

namespace xesp::xdp {
namespace {

// uapi <linux/netdev.h> (kernel 6.3+); Debian 12's linux-libc-dev (6.1) predates it.
constexpr uint8_t kNetdevCmdDevGet = 1;
constexpr uint16_t kNetdevAttrIfindex = 1;
constexpr uint16_t kNetdevAttrXdpFeatures = 3;
constexpr uint64_t kXdpActBasic = 1u << 0;
constexpr uint64_t kXdpActXskZeroCopy = 1u << 3;

Result<UniqueFd> ioctl_socket() {
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) fd.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return Error::sys(errno, "socket for interface queries");
  return fd;
}

bool ethtool(int fd, const std::string& name, void* data) {
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  ifr.ifr_data = static_cast<char*>(data);
  return ::ioctl(fd, SIOCETHTOOL, &ifr) == 0;
}

uint32_t count_sysfs_rx_queues(const std::string& name) {
  std::string dir = "/sys/class/net/" + name + "/queues";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return 0;
  uint32_t count = 0;
  while (dirent* e = ::readdir(d)) {
    if (std::string_view(e->d_name).starts_with("rx-")) ++count;
  }
  ::closedir(d);
  return count;
}

// A tiny generic-netlink exchange: one request, one reply, attributes walked in place.
class GenlSocket {
 public:
  bool open() {
    fd_.reset(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC));
    if (!fd_) return false;
    timeval tv{1, 0};  // the kernel answers at once; never hang a status query on it
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return true;
  }

  // Sends cmd with attributes (already encoded) to family; returns the reply payload after
  // the genl header, or nothing on error.
  std::optional<std::vector<uint8_t>> request(uint16_t family, uint8_t cmd,
                                              const std::vector<uint8_t>& attrs) {
    std::vector<uint8_t> msg(NLMSG_HDRLEN + GENL_HDRLEN + attrs.size());
    auto* nlh = reinterpret_cast<nlmsghdr*>(msg.data());
    nlh->nlmsg_len = static_cast<uint32_t>(msg.size());
    nlh->nlmsg_type = family;
    nlh->nlmsg_flags = NLM_F_REQUEST;
    nlh->nlmsg_seq = ++seq_;
    auto* genl = reinterpret_cast<genlmsghdr*>(msg.data() + NLMSG_HDRLEN);
    genl->cmd = cmd;
    genl->version = 1;
    std::copy(attrs.begin(), attrs.end(), msg.begin() + NLMSG_HDRLEN + GENL_HDRLEN);
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(fd_.get(), msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
                 sizeof(kernel)) < 0)
      return std::nullopt;
    std::vector<uint8_t> buf(16384);
    ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
    if (n < static_cast<ssize_t>(NLMSG_HDRLEN + GENL_HDRLEN)) return std::nullopt;
    auto* reply = reinterpret_cast<nlmsghdr*>(buf.data());
    if (reply->nlmsg_type == NLMSG_ERROR || reply->nlmsg_len > static_cast<uint32_t>(n))
      return std::nullopt;
    return std::vector<uint8_t>(buf.begin() + NLMSG_HDRLEN + GENL_HDRLEN,
                                buf.begin() + reply->nlmsg_len);
  }

 private:
  UniqueFd fd_;
  uint32_t seq_ = 0;
};

void put_attr(std::vector<uint8_t>& out, uint16_t type, const void* data, size_t len) {
  nlattr a{};
  a.nla_len = static_cast<uint16_t>(NLA_HDRLEN + len);
  a.nla_type = type;
  size_t at = out.size();
  out.resize(at + NLA_ALIGN(a.nla_len), 0);
  std::memcpy(out.data() + at, &a, sizeof(a));
  std::memcpy(out.data() + at + NLA_HDRLEN, data, len);
}

// Calls fn(type, payload, len) for each attribute.
template <typename Fn>
void for_each_attr(const std::vector<uint8_t>& payload, Fn fn) {
  size_t off = 0;
  while (off + NLA_HDRLEN <= payload.size()) {
    nlattr a;
    std::memcpy(&a, payload.data() + off, sizeof(a));
    if (a.nla_len < NLA_HDRLEN || off + a.nla_len > payload.size()) break;
    fn(static_cast<uint16_t>(a.nla_type & NLA_TYPE_MASK), payload.data() + off + NLA_HDRLEN,
       a.nla_len - NLA_HDRLEN);
    off += NLA_ALIGN(a.nla_len);
  }
}

std::optional<uint64_t> query_xdp_features(int ifindex) {
  GenlSocket genl;
  if (!genl.open()) return std::nullopt;
  std::vector<uint8_t> attrs;
  const char family_name[] = "netdev";
  put_attr(attrs, CTRL_ATTR_FAMILY_NAME, family_name, sizeof(family_name));
  auto fam = genl.request(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, attrs);
  if (!fam) return std::nullopt;
  std::optional<uint16_t> family;
  for_each_attr(*fam, [&](uint16_t type, const uint8_t* data, size_t len) {
    if (type == CTRL_ATTR_FAMILY_ID && len >= 2) {
      uint16_t id;
      std::memcpy(&id, data, 2);
      family = id;
    }
  });
  if (!family) return std::nullopt;
  attrs.clear();
  uint32_t idx = static_cast<uint32_t>(ifindex);
  put_attr(attrs, kNetdevAttrIfindex, &idx, sizeof(idx));
  auto dev = genl.request(*family, kNetdevCmdDevGet, attrs);
  if (!dev) return std::nullopt;
  std::optional<uint64_t> features;
  for_each_attr(*dev, [&](uint16_t type, const uint8_t* data, size_t len) {
    if (type == kNetdevAttrXdpFeatures && len >= 8) {
      uint64_t v;
      std::memcpy(&v, data, 8);
      features = v;
    }
  });
  return features;
}

}  // namespace

bool NicInfo::native_xdp() const { return xdp_features && (*xdp_features & kXdpActBasic); }
bool NicInfo::zero_copy() const { return xdp_features && (*xdp_features & kXdpActXskZeroCopy); }

Result<NicInfo> NicInfo::query(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ)
    return Error::sys(ENODEV, "interface '" + name + "'");
  NicInfo info;
  info.name = name;
  info.ifindex = static_cast<int>(::if_nametoindex(name.c_str()));
  if (info.ifindex == 0) return Error::sys(errno == 0 ? ENODEV : errno, "interface '" + name + "'");

  auto sock = ioctl_socket();
  if (!sock) return std::move(sock).error();
  int fd = sock->get();

  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (::ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
    info.up = ifr.ifr_flags & IFF_UP;
    info.carrier = ifr.ifr_flags & IFF_RUNNING;
  }
  if (::ioctl(fd, SIOCGIFHWADDR, &ifr) == 0)
    std::memcpy(info.mac.data(), ifr.ifr_hwaddr.sa_data, 6);
  if (::ioctl(fd, SIOCGIFMTU, &ifr) == 0) info.mtu = static_cast<uint32_t>(ifr.ifr_mtu);

  ethtool_drvinfo drv{};
  drv.cmd = ETHTOOL_GDRVINFO;
  if (ethtool(fd, name, &drv)) info.driver = drv.driver;

  // Channels are what the driver really polls; sysfs rx-N is the fallback for drivers
  // without ethtool channel support.
  ethtool_channels ch{};
  ch.cmd = ETHTOOL_GCHANNELS;
  if (ethtool(fd, name, &ch) && ch.combined_count + ch.rx_count > 0)
    info.rx_queues = ch.combined_count + ch.rx_count;
  else
    info.rx_queues = count_sysfs_rx_queues(name);
  if (info.rx_queues == 0) info.rx_queues = 1;

  info.xdp_features = query_xdp_features(info.ifindex);
  return info;
}

std::vector<std::string> list_interfaces() {
  std::vector<std::pair<unsigned, std::string>> found;
  if (struct if_nameindex* list = ::if_nameindex()) {
    for (struct if_nameindex* i = list; i->if_index != 0; ++i) found.emplace_back(i->if_index, i->if_name);
    ::if_freenameindex(list);
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> names;
  for (auto& [index, name] : found) names.push_back(std::move(name));
  return names;
}

std::string format_mac(const std::array<uint8_t, 6>& mac) {
  char buf[18];
  std::snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                mac[4], mac[5]);
  return buf;
}

}  // namespace xesp::xdp
