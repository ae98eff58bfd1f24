// OutputDirectory: the directory a capture writes into, held open by a descriptor, so that every
// file is created relative to it (openat) and a rename or symlink swap of a parent directory
// after Start cannot redirect later files. Files are created O_CREAT|O_EXCL|O_NOFOLLOW with an
// exact mode: a symlink at the name, or an existing file, is never written through unless the
// caller asked to overwrite (and even then never a symlink).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "base/fork_guard.hpp"
#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace xesp::output {

// How capture files are created.
struct FileSafety {
  uint32_t mode = 0600;             // exact permission bits (umask does not apply)
  std::optional<gid_t> group{};     // chgrp new files to this group
  bool overwrite = false;           // truncate an existing regular file instead of refusing
};

// What create() made: the descriptor and the file's identity, so that the ring buffer removes
// only files this capture created (not whatever stands at the name later).
struct CreatedFile {
  UniqueFd fd;
  dev_t dev = 0;
  ino_t ino = 0;
  bool regular = false;  // false for an existing FIFO or character device written into
};

class OutputDirectory {
 public:
  // Opens `path` (a directory) and checks it: a directory writable by others must have the
  // sticky bit, or anyone could replace our files (refused, with the reason).
  [[nodiscard]] static Result<OutputDirectory> open(const std::string& path);

  OutputDirectory(OutputDirectory&&) noexcept = default;
  OutputDirectory& operator=(OutputDirectory&&) noexcept = default;

  // Creates `name` (one path component) in the directory. An existing FIFO or character device
  // (a reader such as Wireshark's extcap pipe, /dev/null) is opened for writing as it is; an
  // existing regular file is an error unless safety.overwrite; a symlink or anything else
  // always is. read_write: open O_RDWR (a mapping needs it), else O_WRONLY.
  [[nodiscard]] Result<CreatedFile> create(const std::string& name, const FileSafety& safety,
                                           bool read_write) const;

  // Removes `name` if it is still the file create() made (same device and inode).
  [[nodiscard]] Status remove(const std::string& name, dev_t dev, ino_t ino) const;

  // Bytes an unprivileged writer may still use on the directory's file system.
  [[nodiscard]] Result<uint64_t> free_bytes() const;

  const std::string& path() const noexcept { return path_; }
  int fd() const noexcept { return fd_.get(); }
  // "path/name", for messages and status events.
  std::string join(const std::string& name) const;

 private:
  OutputDirectory(ForkGuardedFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  ForkGuardedFd fd_;  // never held by a child of fork() (base/fork_guard.hpp)
  std::string path_;
};

// Splits an output path into its directory ("." when there is none) and its last component.
std::pair<std::string, std::string> split_path(const std::string& path);

// "0640" or "640" -> 0640; the reason names the text when it is not an octal mode <= 0777.
Result<uint32_t> parse_file_mode(const std::string& text);
// A group name or number -> gid; the reason names the text.
Result<gid_t> parse_group(const std::string& text);

}  // namespace xesp::output
