#include "xdp/privileges.hpp"

#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef CAP_BPF
#define CAP_BPF 39
#endif

namespace xesp::xdp {

bool has_capability(int cap) {
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  if (::syscall(SYS_capget, &header, data) != 0) return false;
  return (data[cap / 32].effective >> (cap % 32)) & 1u;
}

PrivilegeCheck check_capture_privileges(unsigned long long umem_bytes) {
  PrivilegeCheck check;
  if (!has_capability(CAP_NET_ADMIN)) check.missing.push_back("CAP_NET_ADMIN");
  if (!has_capability(CAP_BPF) && !has_capability(CAP_SYS_ADMIN))
    check.missing.push_back("CAP_BPF (or CAP_SYS_ADMIN)");
  if (!has_capability(CAP_NET_RAW)) check.missing.push_back("CAP_NET_RAW");
  if (!has_capability(CAP_IPC_LOCK)) {
    rlimit lim{};
    if (::getrlimit(RLIMIT_MEMLOCK, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY &&
        lim.rlim_cur < umem_bytes)
      check.missing.push_back("CAP_IPC_LOCK (or RLIMIT_MEMLOCK >= " +
                              std::to_string(umem_bytes >> 20) + " MiB, now " +
                              std::to_string(lim.rlim_cur >> 20) + " MiB)");
  }
  return check;
}

std::string PrivilegeCheck::describe() const {
  std::string out = "missing privileges: ";
  for (size_t i = 0; i < missing.size(); ++i) out += (i ? ", " : "") + missing[i];
  return out + " (run as root, or grant them with setcap)";
}

}  // namespace xesp::xdp
