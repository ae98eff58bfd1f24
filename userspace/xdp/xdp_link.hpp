// The attachment of a program to a NIC, as a BPF link: it dies with its fd (and so with the
// process, SIGKILL included), and the kernel refuses it (EBUSY) while another XDP program is
// attached, so xesp never replaces someone else's program.
#pragma once

#include <cstdint>
#include <string>

#include "base/fork_guard.hpp"
#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "xdp/nic_info.hpp"

namespace xesp::xdp {

enum class XdpMode { automatic, native, generic };

const char* to_string(XdpMode mode);
// "auto", "native", "generic" (also "drv", "skb" as xdp-tools spells them).
Result<XdpMode> parse_xdp_mode(const std::string& text);

// What the kernel reports attached on an interface (any owner), read with bpf_xdp_query.
struct AttachedXdp {
  uint32_t prog_id = 0;               // 0: nothing attached
  XdpMode mode = XdpMode::automatic;  // native or generic when attached
};
Result<AttachedXdp> query_attached_xdp(int ifindex);

class XdpLink {
 public:
  // Attaches prog_fd to the NIC. automatic tries native first (when the driver advertises it),
  // then generic; the mode actually in use is read back from the kernel.
  static Result<XdpLink> attach(int prog_fd, const NicInfo& nic, XdpMode requested);

  XdpLink(XdpLink&&) noexcept = default;
  XdpLink& operator=(XdpLink&&) noexcept = default;
  ~XdpLink() = default;  // closing the link fd detaches (a forked child never holds it)

  XdpMode mode() const { return mode_; }
  explicit operator bool() const { return static_cast<bool>(fd_); }
  void detach() { fd_.reset(); }

 private:
  XdpLink(ForkGuardedFd fd, XdpMode mode) : fd_(std::move(fd)), mode_(mode) {}
  static Result<XdpLink> confirmed(UniqueFd fd, const NicInfo& nic, XdpMode asked);
  ForkGuardedFd fd_;
  XdpMode mode_ = XdpMode::automatic;
};

}  // namespace xesp::xdp
