#include "output/privilege_drop.hpp"

#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <vector>

namespace xesp::output {

Result<UserIds> lookup_user(const std::string& user) {
  std::vector<char> buf(16384);
  passwd pw {};
  passwd* found = nullptr;
  uid_t uid = 0;
  const char* end = user.data() + user.size();
  auto [ptr, ec] = std::from_chars(user.data(), end, uid);
  const int rc = !user.empty() && ec == std::errc() && ptr == end
                     ? ::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found)
                     : ::getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found);
  if (rc != 0 || !found)
    return Error::nm(nmerr::invalid_parameter, "user '" + user + "' does not exist");
  if (found->pw_uid == 0)
    return Error::nm(nmerr::invalid_parameter,
                     "user '" + user + "' is root: -Z is for giving root up");
  return UserIds{found->pw_name, found->pw_uid, found->pw_gid};
}

Status drop_privileges(const UserIds& user) {
  const std::string what = "dropping privileges to user '" + user.name + "'";
  // glibc applies each of these to every thread of the process (the setxid broadcast), so the
  // provider's control thread and pollers change identity together with this one.
  if (::initgroups(user.name.c_str(), user.gid) != 0) return Error::sys(errno, what + ": initgroups");
  if (::setresgid(user.gid, user.gid, user.gid) != 0) return Error::sys(errno, what + ": setresgid");
  if (::setresuid(user.uid, user.uid, user.uid) != 0) return Error::sys(errno, what + ": setresuid");
  // Nothing gained later through set-user-ID or file capabilities.
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return Error::sys(errno, what + ": no_new_privs");
  // Leaving uid 0 clears the permitted, effective and ambient sets (no SECBIT_KEEP_CAPS); check
  // rather than trust.
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return Error::sys(errno, what + ": capget");
  for (const auto& d : data) {
    if (d.effective || d.permitted || d.inheritable)
      return Error::nm(nmerr::invalid_parameter, what + ": capabilities remain after setresuid");
  }
  if (::setuid(0) == 0)
    return Error::nm(nmerr::invalid_parameter, what + ": root could be regained");
  return {};
}

}  // namespace xesp::output
