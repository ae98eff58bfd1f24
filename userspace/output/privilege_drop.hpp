// Dropping root after the kernel objects exist (`xesp capture -Z USER`): the program attached,
// sockets bound, promiscuous mode held, the process becomes USER with no capability left, for
// every thread, and cannot regain any (no_new_privs). What it still needs works on descriptors
// it already holds: the BPF link and maps (map operations on an open fd need no capability
// since Linux 6.5), the AF_XDP sockets, the packet socket; files are created as USER.
#pragma once

#include <sys/types.h>

#include <string>

#include "base/result.hpp"

namespace xesp::output {

struct UserIds {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

// Looks USER up (a name or a number); the error names it.
[[nodiscard]] Result<UserIds> lookup_user(const std::string& user);

// Becomes `user` (its supplementary groups too) for every thread of the process, then checks
// that no capability is left in any set and that root cannot be regained.
[[nodiscard]] Status drop_privileges(const UserIds& user);

}  // namespace xesp::output
