// A network interface of the calling thread's network namespace, as the generators see it.
#pragma once

#include <cstdint>
#include <string>

#include "base/result.hpp"
#include "test_frame.hpp"

namespace xesp::gen {

// Counters of the sending device that tell whether frames the kernel accepted were lost on the
// way to the peer. Both generators hand frames over without an error when the device then drops
// them, so this is the only place such drops show.
// tx_packets and tx_dropped come from getifaddrs, which offers 32-bit counters only: deltas are
// taken modulo 2^32, right for runs of fewer than 4 G frames.
struct DeviceCounters {
  uint64_t tx_packets = 0;
  // veth: frames of the stack (packet sockets) dropped in veth_xmit, e.g. peer's ring full.
  // Not XDP frames: see LiveFrameGenerator::send for where those go missing.
  uint64_t tx_dropped = 0;
  // veth: XDP frames (XDP_TX/redirect) the peer's ring took / refused because it was full;
  // summed over the ethtool counters tx_queue_<n>_xdp_xmit(_errors).
  uint64_t xdp_xmit = 0;
  uint64_t xdp_xmit_errors = 0;
  bool has_xdp_xmit = false;  // the device offers those counters (veth does)

  // Frames of the stack lost in the device between `before` and this reading.
  uint64_t drops_since(const DeviceCounters& before) const noexcept {
    const auto dropped = static_cast<uint32_t>(tx_dropped - before.tx_dropped);
    return dropped + (xdp_xmit_errors - before.xdp_xmit_errors);
  }
};

struct NetInterface {
  std::string name;
  int index = 0;
  MacAddress mac{};

  // Looks `name` up in the calling thread's network namespace.
  static Result<NetInterface> find(const std::string& name);

  // Reads the counters now (ethtool statistics through SIOCETHTOOL, the rest from rtnetlink).
  Result<DeviceCounters> counters() const;
};

}  // namespace xesp::gen
