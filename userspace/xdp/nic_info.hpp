// What xesp needs to know about a NIC before touching it: index, RX queues, driver, state and
// the XDP modes its driver supports. Read-only: nothing here changes the NIC.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace xesp::xdp {

struct NicInfo {
  std::string name;
  int ifindex = 0;
  uint32_t rx_queues = 0;        // queues XDP sees as rx_queue_index 0..rx_queues-1
  std::string driver;            // ethtool driver name ("veth", "mlx5_core"), empty if unknown
  bool up = false;               // administratively up (IFF_UP)
  bool carrier = false;          // lower layer up (IFF_RUNNING)
  std::array<uint8_t, 6> mac{};
  uint32_t mtu = 0;
  // From the netdev generic-netlink family (kernel >= 6.3); unset when the kernel cannot say.
  std::optional<uint64_t> xdp_features;

  bool native_xdp() const;       // driver runs XDP programs itself (NETDEV_XDP_ACT_BASIC)
  bool zero_copy() const;        // driver supports AF_XDP zero-copy (NETDEV_XDP_ACT_XSK_ZEROCOPY)

  // Looks the interface up by name; "no such interface" names it.
  static Result<NicInfo> query(const std::string& name);
};

// Names of all interfaces in this network namespace, in ifindex order.
std::vector<std::string> list_interfaces();

// "aa:bb:cc:dd:ee:ff"
std::string format_mac(const std::array<uint8_t, 6>& mac);

}  // namespace xesp::xdp
