#include "output/output_directory.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <vector>

namespace xesp::output {

std::pair<std::string, std::string> split_path(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return {".", path};
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

Result<OutputDirectory> OutputDirectory::open(const std::string& path) {
  const std::string what = "capture directory '" + path + "'";
  ForkFence fence;
  UniqueFd raw(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!raw) return Error::sys(errno, what);
  auto fd = ForkGuardedFd::adopt(std::move(raw), what);
  if (!fd) return std::move(fd).error();
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return Error::sys(errno, what);
  // Anyone may create, rename or delete entries in a directory writable by others; only the
  // sticky bit keeps them from removing or renaming what we made (and from racing a name).
  if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
    return Error::nm(nmerr::invalid_parameter,
                     what + " is writable by every user and has no sticky bit: anyone could "
                            "replace or redirect the capture files (chmod o-w or +t, or capture "
                            "elsewhere)");
  }
  return OutputDirectory(std::move(fd).value(), path);
}

std::string OutputDirectory::join(const std::string& name) const {
  if (path_ == ".") return name;
  return path_.back() == '/' ? path_ + name : path_ + "/" + name;
}

Result<CreatedFile> OutputDirectory::create(const std::string& name, const FileSafety& safety,
                                            bool read_write) const {
  const std::string what = "output file '" + join(name) + "'";
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos)
    return Error::nm(nmerr::invalid_parameter, what + ": not a file name");
  const int access = read_write ? O_RDWR : O_WRONLY;
  CreatedFile out;
  out.fd.reset(::openat(fd_.get(), name.c_str(),
                        access | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, safety.mode & 0777));
  bool created = static_cast<bool>(out.fd);
  if (!created) {
    if (errno != EEXIST) return Error::sys(errno, what);
    struct stat st {};
    if (::fstatat(fd_.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      return Error::sys(errno, what);
    if (S_ISLNK(st.st_mode))
      return Error::nm(nmerr::invalid_parameter,
                       what + " is a symbolic link: refused, a capture is never written through "
                              "one (name the target itself)");
    if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
      // A pipe someone reads from (or /dev/null): nothing to overwrite. Write-only: a FIFO
      // opened read-write would hold its own read end, so a reader that goes away would never
      // be an EPIPE.
      out.fd.reset(::openat(fd_.get(), name.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC));
    } else if (S_ISREG(st.st_mode)) {
      if (!safety.overwrite)
        return Error::nm(nmerr::invalid_parameter,
                         what + " exists: refused (choose a new name, or --overwrite / "
                                "NPP:Config:Overwrite=yes)");
      out.fd.reset(::openat(fd_.get(), name.c_str(), access | O_TRUNC | O_NOFOLLOW | O_CLOEXEC));
    } else {
      return Error::nm(nmerr::invalid_parameter,
                       what + " exists and is not a regular file, FIFO or character device");
    }
    if (!out.fd) return Error::sys(errno, what);
  }
  struct stat st {};
  if (::fstat(out.fd.get(), &st) != 0) return Error::sys(errno, what);
  out.dev = st.st_dev;
  out.ino = st.st_ino;
  out.regular = S_ISREG(st.st_mode);
  if (out.regular) {
    // Exact bits whatever the umask; for an overwritten file too, which kept its old mode.
    if (safety.group && ::fchown(out.fd.get(), static_cast<uid_t>(-1), *safety.group) != 0) {
      const int err = errno;
      if (created) (void)::unlinkat(fd_.get(), name.c_str(), 0);
      return Error::sys(err, what + ": cannot give it group " + std::to_string(*safety.group));
    }
    if (::fchmod(out.fd.get(), safety.mode & 0777) != 0) {
      const int err = errno;
      if (created) (void)::unlinkat(fd_.get(), name.c_str(), 0);
      return Error::sys(err, what + ": cannot set its mode");
    }
  }
  return out;
}

Status OutputDirectory::remove(const std::string& name, dev_t dev, ino_t ino) const {
  const std::string what = "output file '" + join(name) + "'";
  struct stat st {};
  if (::fstatat(fd_.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return {};  // someone removed it already: nothing of ours to delete
    return Error::sys(errno, what);
  }
  if (st.st_dev != dev || st.st_ino != ino) return {};  // not the file we made: leave it
  if (::unlinkat(fd_.get(), name.c_str(), 0) != 0 && errno != ENOENT)
    return Error::sys(errno, what);
  return {};
}

Result<uint64_t> OutputDirectory::free_bytes() const {
  struct statvfs vfs {};
  if (::fstatvfs(fd_.get(), &vfs) != 0) return Error::sys(errno, "capture directory '" + path_ + "'");
  return static_cast<uint64_t>(vfs.f_bavail) * static_cast<uint64_t>(vfs.f_frsize);
}

Result<uint32_t> parse_file_mode(const std::string& text) {
  uint32_t mode = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, mode, 8);
  if (text.empty() || ec != std::errc() || ptr != end || mode > 0777)
    return Error::nm(nmerr::blob_conversion_error,
                     "file mode '" + text + "' is not an octal mode from 0 to 0777 (e.g. 0640)");
  return mode;
}

Result<gid_t> parse_group(const std::string& text) {
  gid_t gid = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, gid);
  if (!text.empty() && ec == std::errc() && ptr == end) return gid;
  std::vector<char> buf(16384);
  group grp {};
  group* found = nullptr;
  const int rc = ::getgrnam_r(text.c_str(), &grp, buf.data(), buf.size(), &found);
  if (rc != 0 || !found)
    return Error::nm(nmerr::blob_conversion_error, "group '" + text + "' does not exist");
  return found->gr_gid;
}

}  // namespace xesp::output
