// A small tmpfs of a test's own (a full file system on demand), mounted on a directory it makes
// and unmounted when the test ends, pass or fail. Header-only: unit tests link no support
// library. Mounting needs CAP_SYS_ADMIN: error() says why it failed, for a skip.
#pragma once

#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace xesp::test {

class ScopedTmpfs {
 public:
  // path: a directory to make (or an empty one that exists); options: "size=2m[,mode=0700]".
  ScopedTmpfs(std::string path, const std::string& options) {
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
      error_ = "making " + path + ": " + std::strerror(errno);
      return;
    }
    if (::mount("xesp-test", path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
      error_ = "mounting a tmpfs (" + options + ") at " + path + ": " + std::strerror(errno) +
               " (needs CAP_SYS_ADMIN)";
      return;
    }
    path_ = std::move(path);
  }
  ~ScopedTmpfs() {
    if (!path_.empty()) ::umount2(path_.c_str(), MNT_DETACH);
  }
  ScopedTmpfs(const ScopedTmpfs&) = delete;
  ScopedTmpfs& operator=(const ScopedTmpfs&) = delete;

  bool ok() const { return !path_.empty(); }
  const std::string& error() const { return error_; }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
  std::string error_;
};

}  // namespace xesp::test
