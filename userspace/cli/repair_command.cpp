// `xesp repair`: the file is read through a read-only mapping, so a capture of many GB is scanned
// without being loaded (the scan touches each block's header and trailer; the kernel pages the
// file in and drops it again). Cutting in place is one ftruncate(2); nothing else is written.
#include "cli/repair_command.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <span>
#include <utility>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "cli/output.hpp"
#include "pcapng/pcapng_scan.hpp"

namespace xesp::cli {
namespace {

// A read-only shared mapping of a whole file (none for an empty one). A file cut shorter by
// another process while mapped raises SIGBUS on the pages past its new end: repair a file that
// nothing writes any more.
class ReadOnlyMapping {
 public:
  static Result<ReadOnlyMapping> map(int fd, std::size_t size, const std::string& name) {
    if (size == 0) return ReadOnlyMapping(nullptr, 0);
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return Error::sys(errno, name + ": mapping it");
    // Read ahead aggressively and drop behind: the scan walks the file once, front to back.
    (void)::madvise(p, size, MADV_SEQUENTIAL);
    return ReadOnlyMapping(p, size);
  }
  ReadOnlyMapping(ReadOnlyMapping&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  ReadOnlyMapping& operator=(ReadOnlyMapping&&) = delete;
  ReadOnlyMapping(const ReadOnlyMapping&) = delete;
  ReadOnlyMapping& operator=(const ReadOnlyMapping&) = delete;
  ~ReadOnlyMapping() {
    if (data_ != nullptr) ::munmap(data_, size_);
  }

  std::span<const std::byte> bytes() const noexcept {
    return {static_cast<const std::byte*>(data_), size_};
  }

 private:
  ReadOnlyMapping(void* data, std::size_t size) noexcept : data_(data), size_(size) {}
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

std::string quoted(const std::string& path) { return "file '" + path + "'"; }

bool same_file(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// Writes bytes to a new file at path (created or truncated, mode 0644). A failed copy is
// removed, so no half-written file is left behind.
Status write_copy(const std::string& path, std::span<const std::byte> bytes) {
  const std::string name = "output " + quoted(path);
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return Error::sys(errno, name);
  auto fail = [&](int err) {
    ::unlink(path.c_str());
    return Error::sys(err, name);
  };
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd.get(), bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(errno);
    }
    bytes = bytes.subspan(static_cast<std::size_t>(n));
  }
  if (::close(fd.release()) != 0) return fail(errno);
  return {};
}

// Cuts the file at path to `size` bytes, through a second descriptor checked to be the file
// that was scanned (not one renamed into its place since).
Status cut_in_place(const std::string& path, const struct stat& scanned, uint64_t size) {
  const std::string name = quoted(path);
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return Error::sys(errno, name + ": opening it to cut it");
  struct stat now {};
  if (::fstat(fd.get(), &now) != 0) return Error::sys(errno, name);
  if (!same_file(now, scanned) || now.st_size != scanned.st_size) {
    return Error::sys(EAGAIN, name + ": replaced or changed while it was scanned; nothing cut");
  }
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
    return Error::sys(errno, name + ": cutting it to " + std::to_string(size) + " bytes");
  }
  return {};
}

std::string plural(uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// "12 frames in 2 sections (3456 bytes)"
std::string kept_text(const PcapngScan& scan) {
  return plural(scan.frames, "frame", "frames") + " in " +
         plural(scan.sections, "section", "sections") + " (" +
         plural(scan.whole_size, "byte", "bytes") + ")";
}

}  // namespace

int run_repair(const RepairOptions& o) {
  const std::string name = quoted(o.file);
  UniqueFd fd(::open(o.file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail_runtime(Error::sys(errno, name).message);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail_runtime(Error::sys(errno, name).message);
  if (!S_ISREG(st.st_mode)) return fail_runtime(name + ": not a regular file");
  if (!o.output.empty()) {
    struct stat out {};
    if (::stat(o.output.c_str(), &out) == 0 && same_file(out, st)) {
      return fail_runtime("output " + quoted(o.output) + " is the file to repair: leave -o out " +
                          "to cut it in place");
    }
  }

  auto mapping = ReadOnlyMapping::map(fd.get(), static_cast<std::size_t>(st.st_size), name);
  if (!mapping) return fail_runtime(mapping.error().message);
  auto scanned = scan_pcapng(mapping->bytes(), name);
  if (!scanned) return fail_runtime(scanned.error().message);
  const PcapngScan& scan = scanned.value();

  if (scan.whole() && (o.dry_run || o.output.empty())) {
    std::printf("%s: whole: %s; nothing to cut\n", o.file.c_str(), kept_text(scan).c_str());
    return 0;
  }
  // "<file>: cut 67108000 bytes at offset 1234: <why>", said once it is done (or would be).
  auto say_cut = [&](const char* verb) {
    if (scan.whole()) return;
    std::printf("%s: %s %s at offset %llu: %s\n", o.file.c_str(), verb,
                plural(scan.cut_bytes(), "byte", "bytes").c_str(),
                static_cast<unsigned long long>(scan.whole_size), scan.stop_reason.c_str());
  };
  if (o.dry_run) {
    say_cut("would cut");
    std::printf("%s: would keep %s\n", o.file.c_str(), kept_text(scan).c_str());
    return 0;
  }
  if (!o.output.empty()) {
    if (auto s = write_copy(o.output, mapping->bytes().first(scan.whole_size)); !s)
      return fail_runtime(s.error().message);
    say_cut("left out");
    std::printf("%s: kept %s%s\n", o.output.c_str(), kept_text(scan).c_str(),
                scan.whole() ? ": a copy of a whole file" : "");
    return 0;
  }
  if (auto s = cut_in_place(o.file, st, scan.whole_size); !s)
    return fail_runtime(s.error().message);
  say_cut("cut");
  std::printf("%s: kept %s\n", o.file.c_str(), kept_text(scan).c_str());
  return 0;
}

}  // namespace xesp::cli
