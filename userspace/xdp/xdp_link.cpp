#include "xdp/xdp_link.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

namespace xesp::xdp {

const char* to_string(XdpMode mode) {
  switch (mode) {
    case XdpMode::automatic: return "auto";
    case XdpMode::native: return "native";
    case XdpMode::generic: return "generic";
  }
  return "?";
}

Result<XdpMode> parse_xdp_mode(const std::string& text) {
  if (text == "auto") return XdpMode::automatic;
  if (text == "native" || text == "drv") return XdpMode::native;
  if (text == "generic" || text == "skb") return XdpMode::generic;
  return Error::nm(nmerr::blob_conversion_error,
                   "XDP mode '" + text + "': expected auto, native or generic");
}

Result<AttachedXdp> query_attached_xdp(int ifindex) {
  LIBBPF_OPTS(bpf_xdp_query_opts, opts);
  if (int err = bpf_xdp_query(ifindex, 0, &opts))
    return Error::sys(-err, "querying the XDP state of interface index " + std::to_string(ifindex));
  AttachedXdp out;
  switch (opts.attach_mode) {
    case XDP_ATTACHED_DRV:
      out.prog_id = opts.drv_prog_id;
      out.mode = XdpMode::native;
      break;
    case XDP_ATTACHED_SKB:
      out.prog_id = opts.skb_prog_id;
      out.mode = XdpMode::generic;
      break;
    case XDP_ATTACHED_HW:
      out.prog_id = opts.hw_prog_id;
      break;
    case XDP_ATTACHED_MULTI:
      out.prog_id = opts.drv_prog_id ? opts.drv_prog_id : opts.skb_prog_id;
      out.mode = opts.drv_prog_id ? XdpMode::native : XdpMode::generic;
      break;
    default:
      break;
  }
  return out;
}

namespace {

Result<UniqueFd> create_link(int prog_fd, int ifindex, uint32_t flags) {
  LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = flags);
  int fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
  if (fd < 0) return Error{std::error_code(errno, std::system_category()), ""};
  return UniqueFd(fd);
}

Error attach_error(int err, const NicInfo& nic, XdpMode mode) {
  std::string what = "interface '" + nic.name + "'";
  if (err == EBUSY || err == EEXIST) {
    auto attached = query_attached_xdp(nic.ifindex);
    std::string id = attached && attached->prog_id
                         ? " (program id " + std::to_string(attached->prog_id) + ")"
                         : "";
    return Error::sys(err, what + " already has an XDP program attached" + id +
                               "; xesp never replaces another program: detach it first");
  }
  if (err == EOPNOTSUPP && mode == XdpMode::native)
    return Error::sys(err, what + ": native XDP is not supported by driver '" + nic.driver +
                               "'; try --xdp-mode generic");
  if (err == EPERM || err == EACCES)
    return Error::sys(err, what + ": attaching XDP needs CAP_NET_ADMIN and CAP_BPF");
  return Error::sys(err, what + ": attaching the XDP program in " + to_string(mode) + " mode");
}

}  // namespace

Result<XdpLink> XdpLink::attach(int prog_fd, const NicInfo& nic, XdpMode requested) {
  // Native first when the driver says it runs XDP (or cannot say); generic always works.
  const bool try_native = requested == XdpMode::native ||
                          (requested == XdpMode::automatic &&
                           (!nic.xdp_features || nic.native_xdp()));
  int native_err = 0;
  if (try_native) {
    ForkFence fence;  // a fork in another thread never gets the link before it is registered
    auto link = create_link(prog_fd, nic.ifindex, XDP_FLAGS_DRV_MODE);
    if (link) return XdpLink::confirmed(std::move(link).value(), nic, XdpMode::native);
    native_err = link.error().code.value();
    if (requested == XdpMode::native || native_err == EBUSY || native_err == EEXIST ||
        native_err == EPERM)
      return attach_error(native_err, nic, XdpMode::native);
  }
  ForkFence fence;
  auto link = create_link(prog_fd, nic.ifindex, XDP_FLAGS_SKB_MODE);
  if (!link) return attach_error(link.error().code.value(), nic, XdpMode::generic);
  return XdpLink::confirmed(std::move(link).value(), nic, XdpMode::generic);
}

Result<XdpLink> XdpLink::confirmed(UniqueFd fd, const NicInfo& nic, XdpMode asked) {
  // A forked child holding the link would keep the program on the NIC while it lives.
  auto guarded = ForkGuardedFd::adopt(std::move(fd), "the XDP link on '" + nic.name + "'");
  if (!guarded) return std::move(guarded).error();
  // Read back what the kernel really did rather than trusting the flag we passed.
  auto attached = query_attached_xdp(nic.ifindex);
  XdpMode mode = attached && attached->prog_id ? attached->mode : asked;
  return XdpLink(std::move(guarded).value(), mode);
}

}  // namespace xesp::xdp
