#include "cli/interfaces_command.hpp"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/output.hpp"
#include "xdp/nic_info.hpp"
#include "xdp/xdp_link.hpp"

namespace xesp::cli {
namespace {

// Generic XDP runs on every netdev; native and zero-copy as the driver advertises them. Read
// from the kernel's xdp_features: nothing is attached to find out (that would reset rings on
// some NICs).
std::vector<std::string> xdp_modes(const xdp::NicInfo& nic) {
  std::vector<std::string> modes;
  if (nic.native_xdp()) modes.push_back("native");
  modes.push_back("generic");
  if (nic.zero_copy()) modes.push_back("zero-copy");
  return modes;
}

}  // namespace

int run_interfaces(bool json) {
  nlohmann::json list = nlohmann::json::array();
  if (!json)
    std::printf("%-16s %6s  %-12s %-5s %-26s %s\n", "INTERFACE", "QUEUES", "DRIVER", "STATE",
                "XDP MODES", "ATTACHED");
  for (const auto& name : xdp::list_interfaces()) {
    auto nic = xdp::NicInfo::query(name);
    if (!nic) continue;  // vanished between listing and querying
    auto attached = xdp::query_attached_xdp(nic->ifindex);
    std::string attached_text = "-";
    if (attached && attached->prog_id)
      attached_text = "prog " + std::to_string(attached->prog_id) + " (" +
                      xdp::to_string(attached->mode) + ")";
    auto modes = xdp_modes(*nic);
    std::string modes_text;
    for (const auto& m : modes) modes_text += (modes_text.empty() ? "" : ",") + m;
    if (!nic->xdp_features) modes_text += " (native: unknown)";
    if (json) {
      list.push_back({{"name", nic->name},
                      {"ifindex", nic->ifindex},
                      {"rx_queues", nic->rx_queues},
                      {"driver", nic->driver},
                      {"up", nic->up},
                      {"carrier", nic->carrier},
                      {"mac", xdp::format_mac(nic->mac)},
                      {"xdp_modes", modes},
                      {"xdp_attached_prog_id", attached ? attached->prog_id : 0}});
    } else {
      std::printf("%-16s %6u  %-12s %-5s %-26s %s\n", nic->name.c_str(), nic->rx_queues,
                  nic->driver.empty() ? "-" : nic->driver.c_str(), nic->up ? "up" : "down",
                  modes_text.c_str(), attached_text.c_str());
    }
  }
  if (json) std::printf("%s\n", list.dump().c_str());
  return 0;
}

}  // namespace xesp::cli
