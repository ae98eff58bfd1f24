// Which of the privileges a capture needs this process lacks, checked before touching the NIC
// so the user gets one line naming them instead of an EPERM from deep inside libbpf.
#pragma once

#include <string>
#include <vector>

namespace xesp::xdp {

struct PrivilegeCheck {
  std::vector<std::string> missing;  // e.g. "CAP_NET_ADMIN", "CAP_BPF (or CAP_SYS_ADMIN)"
  bool ok() const { return missing.empty(); }
  std::string describe() const;      // "missing privileges: CAP_NET_ADMIN, CAP_BPF ..."
};

// umem_bytes: the packet memory the capture will pin (checked against RLIMIT_MEMLOCK when
// CAP_IPC_LOCK is absent).
PrivilegeCheck check_capture_privileges(unsigned long long umem_bytes);

bool has_capability(int cap);

}  // namespace xesp::xdp
