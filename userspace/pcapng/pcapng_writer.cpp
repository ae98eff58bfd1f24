#include "pcapng/pcapng_writer.hpp"

#include <climits>
#include <algorithm>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "base/fork_guard.hpp"
#include "pcapng/pcapng_format.hpp"

namespace xesp {
namespace {

// Builds one non-hot-path block (SHB, IDB, ISB, comment EPB) in a growing byte vector and patches
// the leading total length at the end.
class BlockBuilder {
 public:
  explicit BlockBuilder(uint32_t type) {
    put_u32(type);
    put_u32(0);  // total length, patched by finish()
  }

  void put_u16(uint16_t v) { put_raw(&v, sizeof(v)); }
  void put_u32(uint32_t v) { put_raw(&v, sizeof(v)); }
  void put_i64(int64_t v) { put_raw(&v, sizeof(v)); }
  // The EPB timestamp layout: high 32 bits first, whatever the byte order.
  void put_timestamp(uint64_t ns) {
    put_u32(static_cast<uint32_t>(ns >> 32));
    put_u32(static_cast<uint32_t>(ns));
  }

  // Callers have checked value sizes against kOptionMaxValueSize (see check_option_size).
  void put_option(uint16_t code, const void* value, std::size_t size) {
    put_u16(code);
    put_u16(static_cast<uint16_t>(size));
    put_raw(value, size);
    pad();
    has_options_ = true;
  }
  void put_string_option(uint16_t code, std::string_view value) {
    if (!value.empty()) put_option(code, value.data(), value.size());
  }
  void put_u64_option(uint16_t code, const std::optional<uint64_t>& value) {
    if (value) put_option(code, &*value, sizeof(*value));
  }
  void put_timestamp_option(uint16_t code, const std::optional<uint64_t>& ns) {
    if (!ns) return;
    const uint32_t parts[2] = {static_cast<uint32_t>(*ns >> 32), static_cast<uint32_t>(*ns)};
    put_option(code, parts, sizeof(parts));
  }

  std::vector<std::byte> finish() && {
    if (has_options_) {
      put_u16(pcapng::kOptEndOfOpt);
      put_u16(0);
    }
    const auto total = static_cast<uint32_t>(bytes_.size() + pcapng::kBlockTrailerSize);
    put_u32(total);
    std::memcpy(bytes_.data() + 4, &total, sizeof(total));
    return std::move(bytes_);
  }

 private:
  void put_raw(const void* p, std::size_t n) {
    const auto* b = static_cast<const std::byte*>(p);
    bytes_.insert(bytes_.end(), b, b + n);
  }
  void pad() { bytes_.resize(pcapng::padded_size(bytes_.size()), std::byte{0}); }

  std::vector<std::byte> bytes_;
  bool has_options_ = false;
};

Status check_option_size(std::string_view what, std::string_view value) {
  if (value.size() <= pcapng::kOptionMaxValueSize) return {};
  return Error::nm(nmerr::invalid_parameter,
                   std::string(what) + ": " + std::to_string(value.size()) +
                       " bytes, longer than a pcapng option can hold (65535)");
}

void append(std::vector<std::byte>& out, const std::vector<std::byte>& block) {
  out.insert(out.end(), block.begin(), block.end());
}

// One Interface Statistics Block; unset options are left out.
std::vector<std::byte> encode_statistics(const InterfaceStats& st) {
  BlockBuilder isb(pcapng::kBlockInterfaceStatistics);
  isb.put_u32(st.interface_id);
  isb.put_timestamp(st.timestamp_ns);
  isb.put_timestamp_option(pcapng::kIsbStartTime, st.start_time_ns);
  isb.put_timestamp_option(pcapng::kIsbEndTime, st.end_time_ns);
  isb.put_u64_option(pcapng::kIsbIfRecv, st.if_recv);
  isb.put_u64_option(pcapng::kIsbIfDrop, st.if_drop);
  isb.put_u64_option(pcapng::kIsbFilterAccept, st.filter_accept);
  isb.put_u64_option(pcapng::kIsbOsDrop, st.os_drop);
  isb.put_u64_option(pcapng::kIsbUsrDeliv, st.usr_deliv);
  return std::move(isb).finish();
}

// SHB + IDBs, encoded before the output is opened so that bad metadata never truncates a file.
Result<std::vector<std::byte>> encode_headers(const SectionInfo& section,
                                              const std::vector<InterfaceInfo>& interfaces) {
  for (const auto& [what, value] :
       {std::pair<const char*, const std::string&>{"section hardware", section.hardware},
        {"section os", section.os},
        {"section user application", section.user_appl},
        {"section comment", section.comment}}) {
    if (auto s = check_option_size(what, value); !s) return std::move(s).error();
  }
  std::vector<std::byte> out;

  BlockBuilder shb(pcapng::kBlockSectionHeader);
  shb.put_u32(pcapng::kByteOrderMagic);
  shb.put_u16(pcapng::kVersionMajor);
  shb.put_u16(pcapng::kVersionMinor);
  shb.put_i64(pcapng::kSectionLengthUnknown);
  shb.put_string_option(pcapng::kOptComment, section.comment);
  shb.put_string_option(pcapng::kShbHardware, section.hardware);
  shb.put_string_option(pcapng::kShbOs, section.os);
  shb.put_string_option(pcapng::kShbUserAppl, section.user_appl);
  append(out, std::move(shb).finish());

  for (std::size_t i = 0; i < interfaces.size(); ++i) {
    const InterfaceInfo& itf = interfaces[i];
    const std::string what = "interface " + std::to_string(i) + " ('" + itf.name + "')";
    // +1: the filter option carries a type byte in front of the text.
    if (itf.filter.size() + 1 > pcapng::kOptionMaxValueSize) {
      return Error::nm(nmerr::invalid_parameter,
                       what + " filter: longer than a pcapng option can hold");
    }
    for (const auto& [field, value] :
         {std::pair<const char*, const std::string&>{" name", itf.name},
          {" description", itf.description},
          {" os", itf.os}}) {
      if (auto s = check_option_size(what + field, value); !s) return std::move(s).error();
    }

    BlockBuilder idb(pcapng::kBlockInterfaceDescription);
    idb.put_u16(itf.link_type);
    idb.put_u16(0);  // reserved
    idb.put_u32(itf.snap_len);
    idb.put_string_option(pcapng::kIfName, itf.name);
    idb.put_string_option(pcapng::kIfDescription, itf.description);
    idb.put_option(pcapng::kIfTsresol, &pcapng::kIfTsresolNanoseconds, 1);
    if (!itf.filter.empty()) {
      std::string value(1, static_cast<char>(pcapng::kIfFilterLibpcapString));
      value += itf.filter;
      idb.put_option(pcapng::kIfFilter, value.data(), value.size());
    }
    idb.put_string_option(pcapng::kIfOs, itf.os);
    append(out, std::move(idb).finish());
  }
  return out;
}

// Address space for a mapped file: 16 TiB where the process has 128 TiB (x86-64, most arm64),
// else 256 GiB (arm64 with 39-bit addresses). A file that outgrows it fails with EFBIG.
constexpr uint64_t kMapSpans[] = {16ull << 40, 256ull << 30};
// Pages this far behind the newest write leave the mapping in steps of this size: the mapped
// part of the file stays within 8-16 MiB of resident memory (RssShmem), however long the file.
constexpr uint64_t kUnmapStep = 8ull << 20;

uint64_t page_size() noexcept {
  static const uint64_t size = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

uint64_t total_length(std::span<const iovec> pieces) noexcept {
  uint64_t n = 0;
  for (const iovec& p : pieces) n += p.iov_len;
  return n;
}

// Maps fd (a regular file or not) for FileIo::map / automatic, or returns nullptr (then the
// writer uses writev).
std::byte* map_output(int fd, bool regular, FileIo io, uint64_t* span) {
  if (io == FileIo::write || !regular) return nullptr;
  if ((::fcntl(fd, F_GETFL) & O_ACCMODE) != O_RDWR) return nullptr;
  if (io == FileIo::automatic) {
    struct statfs fs {};
    if (::fstatfs(fd, &fs) != 0) return nullptr;
    if (fs.f_type != TMPFS_MAGIC && fs.f_type != RAMFS_MAGIC) return nullptr;
  }
  for (uint64_t s : kMapSpans) {
    void* p = ::mmap(nullptr, s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
    if (p == MAP_FAILED) continue;
    // MADV_POPULATE_WRITE (Linux 5.14) is what turns a page the file system cannot give into
    // an error rather than SIGBUS; an older kernel refuses the advice itself (EINVAL).
    if (::madvise(p, 0, MADV_POPULATE_WRITE) != 0) {
      ::munmap(p, s);
      return nullptr;
    }
    *span = s;
    return static_cast<std::byte*>(p);
  }
  return nullptr;
}

// Blocks SIGPIPE on this thread while it lives (when asked); a SIGPIPE that a write raised in
// the meantime is taken off the thread before the mask comes back, so it is never delivered.
class SigpipeGuard {
 public:
  explicit SigpipeGuard(bool active) : active_(active) {
    if (!active_) return;
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe, &old_);
  }
  ~SigpipeGuard() {
    if (!active_) return;
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    if (!was_pending_) {
      const timespec zero{0, 0};
      while (sigtimedwait(&pipe, nullptr, &zero) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  bool active_;
  bool was_pending_ = false;
  sigset_t old_{};
};

Error not_open(const std::string& output_name) {
  return Error::nm(
      nmerr::invalid_parameter,
      (output_name.empty() ? std::string("pcapng writer") : output_name) + ": not open");
}

}  // namespace

const char* to_string(FileIo io) noexcept {
  switch (io) {
    case FileIo::write: return "write";
    case FileIo::map: return "map";
    case FileIo::automatic: return "auto";
  }
  return "?";
}

PcapngWriter::State::~State() {
  // Unregistered from the fork guard and released under one fence (fork_guard.hpp).
  ForkFence fence;
  if (map) {
    map_guard.reset();
    ::munmap(map, map_span);
    // Cut the growth ahead (and anything after a failed copy) off an unclosed file.
    if (fd) (void)::ftruncate(fd.get(), static_cast<off_t>(std::min(tail, hole)));
  }
  fd_guard.reset();
  fd.reset();
}

Result<PcapngWriter> PcapngWriter::open(const std::string& path, const SectionInfo& section,
                                        std::vector<InterfaceInfo> interfaces, FileIo io) {
  // Bad metadata never truncates a file: check it before opening (adopt encodes it again).
  if (auto headers = encode_headers(section, interfaces); !headers)
    return std::move(headers).error();
  // Held from the fd's creation to its registration in adopt(): a fork in between would
  // hand the child an unregistered copy.
  ForkFence fence;
  UniqueFd fd;
  std::string name;
  if (path == "-") {
    name = "standard output";
    // A duplicate, so that closing the writer is the same step for stdout and files and never
    // closes the process's fd 1 under other code.
    fd.reset(::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 0));
  } else {
    name = "output file '" + path + "'";
    const int flags = O_CREAT | O_TRUNC | O_CLOEXEC;
    // A mapping needs read access too: a file we may only write to is written to. Only a
    // regular file (or a new one) is opened for reading: a pipe or FIFO opened O_RDWR would
    // hold its own read end, so a reader that goes away would never be an EPIPE.
    struct stat existing {};
    const bool regular_or_new =
        ::stat(path.c_str(), &existing) != 0 ? errno == ENOENT : S_ISREG(existing.st_mode);
    if (io != FileIo::write && regular_or_new) fd.reset(::open(path.c_str(), flags | O_RDWR, 0644));
    if (!fd) fd.reset(::open(path.c_str(), flags | O_WRONLY, 0644));
  }
  if (!fd) return Error::sys(errno, name);
  return adopt(std::move(fd), std::move(name), section, std::move(interfaces), io);
}

Result<PcapngWriter> PcapngWriter::adopt(UniqueFd fd, std::string output_name,
                                         const SectionInfo& section,
                                         std::vector<InterfaceInfo> interfaces, FileIo io,
                                         std::unique_ptr<ChunkTransform> transform) {
  auto headers = encode_headers(section, interfaces);
  if (!headers) return std::move(headers).error();
  if (!fd) return Error::sys(EBADF, output_name);

  auto state = std::make_unique<State>();
  state->output_name = std::move(output_name);
  {
    // Children of fork() must not hold the capture file (or a copy of standard output that
    // keeps a reader from seeing the end). The caller created fd under a ForkFence still held.
    auto guard = ForkGuard::fd(fd.get(), state->output_name);
    if (!guard) return std::move(guard).error();
    state->fd_guard = std::move(guard).value();
  }
  state->fd = std::move(fd);
  state->interfaces = std::move(interfaces);
  state->header_size = headers->size();
  state->transform = std::move(transform);
  struct stat st {};
  state->regular = ::fstat(state->fd.get(), &st) == 0 && S_ISREG(st.st_mode);
  bool appending = false;
  if (state->regular) {
    const int flags = ::fcntl(state->fd.get(), F_GETFL);
    const off_t pos = ::lseek(state->fd.get(), 0, SEEK_CUR);
    appending = flags >= 0 && (flags & O_APPEND);
    state->base_offset = appending ? static_cast<uint64_t>(st.st_size)
                         : pos > 0 ? static_cast<uint64_t>(pos)
                                   : 0;
  }
  {
    ForkFence fence;
    // A file that held something before us (standard output opened `>>` or `<>` onto an old
    // capture) is appended to with writev: a mapping of it starts at offset 0.
    if (!appending && state->base_offset == 0)
      state->map = map_output(state->fd.get(), state->regular, io, &state->map_span);
    if (state->map) {
      auto guard = ForkGuard::mapping(state->map, state->map_span, state->output_name);
      if (guard) {
        state->map_guard = std::move(guard).value();
      } else {
        ::munmap(state->map, state->map_span);  // writev then: nothing for a child to inherit
        state->map = nullptr;
      }
    }
  }
  state->mapped = state->map != nullptr;

  PcapngWriter writer(std::move(state));
  {
    std::lock_guard lock(writer.state_->mutex);
    if (writer.state_->transform) {
      if (auto s = writer.write_locked(writer.state_->transform->stream_header()); !s)
        return std::move(s).error();
    }
    if (auto s = writer.write_own_locked(headers.value()); !s) return std::move(s).error();
  }
  return writer;
}

uint64_t PcapngWriter::max_statistics_block_size() {
  InterfaceStats all;
  all.start_time_ns = all.end_time_ns = all.if_recv = all.if_drop = all.filter_accept =
      all.os_drop = all.usr_deliv = 0;
  return encode_statistics(all).size();
}

Status PcapngWriter::write_chunk(std::span<const std::byte> chunk) {
  if (!state_) return not_open({});
  std::lock_guard lock(state_->mutex);
  return write_locked(chunk);
}

Status PcapngWriter::write_vectored(std::span<iovec> pieces, WriteTally tally) {
  if (!state_) return not_open({});
  if (state_->mapped) return write_mapped(pieces, tally);
  std::lock_guard lock(state_->mutex);
  return write_vectored_locked(pieces);
}

Status PcapngWriter::write_comment(uint32_t interface_id, uint64_t timestamp_ns,
                                   std::string_view comment) {
  if (!state_) return not_open({});
  if (interface_id >= state_->interfaces.size()) {
    return Error::nm(nmerr::invalid_parameter, state_->output_name + ": comment for interface " +
                                                   std::to_string(interface_id) + ", but only " +
                                                   std::to_string(state_->interfaces.size()) +
                                                   " interface(s) declared");
  }
  if (auto s = check_option_size(state_->output_name + ": comment", comment); !s) return s;

  BlockBuilder epb(pcapng::kBlockEnhancedPacket);
  epb.put_u32(interface_id);
  epb.put_timestamp(timestamp_ns);
  epb.put_u32(0);  // captured length
  epb.put_u32(0);  // original length
  epb.put_string_option(pcapng::kOptComment, comment);
  const std::vector<std::byte> block = std::move(epb).finish();

  std::lock_guard lock(state_->mutex);
  return write_own_locked(block);
}

Status PcapngWriter::close(std::span<const InterfaceStats> stats) {
  if (!state_) return {};
  std::unique_lock lock(state_->mutex);
  if (state_->closed) return {};
  // Mapped: copies still running outside the lock finish first (the statistics go after them).
  state_->copied.wait(lock, [this] { return state_->copying == 0; });

  Status result;
  std::vector<std::byte> blocks;
  for (const InterfaceStats& st : stats) {
    if (st.interface_id >= state_->interfaces.size()) {
      // Keep going: the other interfaces' statistics still belong in the file.
      if (result) {
        result =
            Error::nm(nmerr::invalid_parameter,
                      state_->output_name + ": statistics for interface " +
                          std::to_string(st.interface_id) + ", but only " +
                          std::to_string(state_->interfaces.size()) + " interface(s) declared");
      }
      continue;
    }
    append(blocks, encode_statistics(st));
  }
  if (auto s = write_own_locked(blocks); !s && result) result = std::move(s);
  if (state_->transform) {
    if (auto s = write_locked(state_->transform->stream_trailer()); !s && result)
      result = std::move(s);
  }
  if (auto s = close_locked(); !s && result) result = std::move(s);
  return result;
}

Status PcapngWriter::write_own_locked(std::span<const std::byte> bytes) {
  if (!state_->transform || bytes.empty()) return write_locked(bytes);
  if (state_->failed) return *state_->failed;
  const iovec piece{const_cast<std::byte*>(bytes.data()), bytes.size()};
  auto out = state_->transform->apply(std::span<const iovec>(&piece, 1));
  if (!out) return Error{out.error().code, state_->output_name + ": " + out.error().message};
  return write_locked(*out);
}

Status PcapngWriter::write_locked(std::span<const std::byte> bytes) {
  iovec piece{const_cast<std::byte*>(bytes.data()), bytes.size()};
  return write_vectored_locked(std::span<iovec>(&piece, 1));
}

Status PcapngWriter::write_vectored_locked(std::span<iovec> pieces) {
  if (state_->failed) return *state_->failed;
  if (state_->closed) return not_open(state_->output_name);
  if (state_->mapped) {
    const uint64_t len = total_length(pieces);
    auto offset = reserve_locked(len, {});
    if (!offset) return std::move(offset).error();
    Status st = store(*offset, len, pieces);
    stored_locked(*offset, st);
    return st;
  }
  iovec* iov = pieces.data();
  std::size_t count = pieces.size();
  while (count > 0 && iov->iov_len == 0) {
    ++iov;
    --count;
  }
  const uint64_t start = state_->bytes_written.load(std::memory_order_relaxed);
  // Records the first error; a regular file is cut back to where this write began.
  auto fail = [&](int err) {
    state_->failed = Error::sys(err, state_->output_name);
    const auto cut = static_cast<off_t>(state_->base_offset + start);
    if (state_->regular && ::ftruncate(state_->fd.get(), cut) == 0) {
      state_->bytes_written.store(start, std::memory_order_relaxed);
      (void)::lseek(state_->fd.get(), cut, SEEK_SET);
    }
    return *state_->failed;
  };
  // A pipe whose reader left raises SIGPIPE, which kills a host that does not ignore it: it
  // is held back on this thread for the write, and taken if it came, so EPIPE is an error.
  const SigpipeGuard sigpipe(!state_->regular);
  while (count > 0) {
    const int chunk = static_cast<int>(std::min<std::size_t>(count, IOV_MAX));
    const ssize_t n = ::writev(state_->fd.get(), iov, chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN && !state_->regular) {
        // Standard output set O_NONBLOCK by whoever owns it: wait until it takes more.
        pollfd pfd{state_->fd.get(), POLLOUT, 0};
        if (::poll(&pfd, 1, -1) >= 0 || errno == EINTR) continue;
      }
      return fail(errno);
    }
    if (n == 0) {
      // writev(2) returns 0 for non-empty pieces only on odd devices; retrying could spin.
      return fail(EIO);
    }
    // Counted per call, so a partial write still matches the output's size.
    state_->bytes_written.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
    // Skip what was written: whole pieces, then part of the next one.
    std::size_t done = static_cast<std::size_t>(n);
    while (count > 0 && done >= iov->iov_len) {
      done -= iov->iov_len;
      ++iov;
      --count;
    }
    if (count > 0 && done > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + done;
      iov->iov_len -= done;
    }
  }
  return {};
}

Result<uint64_t> PcapngWriter::reserve_locked(uint64_t len, WriteTally tally) {
  State& s = *state_;
  if (s.failed) return *s.failed;
  if (s.closed) return not_open(s.output_name);
  const uint64_t offset = s.tail;
  const uint64_t end = offset + len;
  if (end > s.file_size) {
    if (end > s.map_span) {
      s.failed = Error::sys(EFBIG, s.output_name + ": larger than its mapping (" +
                                       std::to_string(s.map_span >> 30) +
                                       " GiB); --file-io write has no such limit");
      return *s.failed;
    }
    const uint64_t size = std::min(s.map_span, (end + kMapGrowBytes - 1) / kMapGrowBytes *
                                                   kMapGrowBytes);
    if (::ftruncate(s.fd.get(), static_cast<off_t>(size)) != 0) {
      s.failed = Error::sys(errno, s.output_name);
      return *s.failed;
    }
    s.file_size = size;
  }
  s.tail = end;
  s.bytes_written.fetch_add(len, std::memory_order_relaxed);
  ++s.copying;
  s.ranges.push_back({.offset = offset, .tally = tally});
  return offset;
}

Status PcapngWriter::store(uint64_t offset, uint64_t len, std::span<const iovec> pieces) const {
  if (len == 0) return {};
  const State& s = *state_;
  std::byte* dst = s.map + offset;
  const uint64_t page = page_size();
  const uint64_t first = offset / page * page;
  const uint64_t last = (offset + len + page - 1) / page * page;
  // Fault the pages in first: a page the file system cannot give (tmpfs full, a memory limit)
  // is an error here, where the copy's own fault would be SIGBUS.
  while (::madvise(s.map + first, last - first, MADV_POPULATE_WRITE) != 0) {
    if (errno == EINTR) continue;
    const int err = errno == EFAULT ? ENOSPC : errno;
    return Error::sys(err, s.output_name + ": " + std::to_string(len) + " bytes at offset " +
                               std::to_string(offset));
  }
  for (const iovec& p : pieces) {
    std::memcpy(dst, p.iov_base, p.iov_len);
    dst += p.iov_len;
  }
  return {};
}

void PcapngWriter::stored_locked(uint64_t offset, const Status& st) {
  State& s = *state_;
  if (!st) {
    s.hole = std::min(s.hole, offset);
    if (!s.failed) s.failed = st.error();
  }
  // Ranges are in offset order, and the one just copied is usually near the back.
  for (auto it = s.ranges.rbegin(); it != s.ranges.rend(); ++it) {
    if (it->offset == offset) {
      it->done = true;
      it->ok = static_cast<bool>(st);
      break;
    }
  }
  while (s.hole == UINT64_MAX && !s.ranges.empty() && s.ranges.front().done) s.ranges.pop_front();
  if (--s.copying == 0) s.copied.notify_all();
}

std::vector<WriteTally> PcapngWriter::frames_cut() const {
  if (!state_) return {};
  std::lock_guard lock(state_->mutex);
  std::vector<WriteTally> cut(state_->interfaces.size());
  for (uint32_t i = 0; i < cut.size(); ++i) cut[i].interface_id = i;
  for (const State::Range& r : state_->ranges) {
    if (r.offset > state_->hole && r.done && r.ok && r.tally.interface_id < cut.size()) {
      cut[r.tally.interface_id].frames += r.tally.frames;
      cut[r.tally.interface_id].wire_bytes += r.tally.wire_bytes;
    }
  }
  return cut;
}

Status PcapngWriter::write_mapped(std::span<iovec> pieces, WriteTally tally) {
  const uint64_t len = total_length(pieces);
  uint64_t offset = 0;
  {
    std::lock_guard lock(state_->mutex);
    auto r = reserve_locked(len, tally);
    if (!r) return std::move(r).error();
    offset = *r;
  }
  Status st = store(offset, len, pieces);
  // Before the copy is counted done: close() unmaps only once none is running.
  if (st) unmap_behind(offset + len);
  std::lock_guard lock(state_->mutex);
  stored_locked(offset, st);
  return st;
}

void PcapngWriter::unmap_behind(uint64_t end) {
  // One step of slack behind the newest write: copies still running below it are rare, and
  // harmless (their page faults back in from the file).
  if (end < 2 * kUnmapStep) return;
  const uint64_t target = (end / kUnmapStep - 1) * kUnmapStep;
  uint64_t done = state_->unmapped.load(std::memory_order_relaxed);
  if (target <= done || !state_->unmapped.compare_exchange_strong(done, target)) return;
  // MAP_SHARED: the pages stay in the file; only this process's view of them goes.
  (void)::madvise(state_->map + done, target - done, MADV_DONTNEED);
}

Status PcapngWriter::close_locked() {
  state_->closed = true;
  ForkFence fence;  // unregistered and released together (fork_guard.hpp)
  if (state_->map) {
    State& s = *state_;
    s.map_guard.reset();
    ::munmap(s.map, s.map_span);
    s.map = nullptr;
    // The growth ahead goes; after a failed copy, so does everything from its range on, so the
    // file ends on a block boundary (like the write path, later writes had stopped).
    if (::ftruncate(s.fd.get(), static_cast<off_t>(std::min(s.tail, s.hole))) != 0) {
      const int err = errno;
      s.fd_guard.reset();
      (void)::close(s.fd.release());
      return Error::sys(err, s.output_name);
    }
  }
  state_->fd_guard.reset();
  // close(2) is where NFS and some FUSE file systems report deferred write errors. EINTR is not
  // retried: on Linux the fd is released regardless.
  if (::close(state_->fd.release()) != 0 && errno != EINTR) {
    return Error::sys(errno, state_->output_name);
  }
  return {};
}

uint64_t PcapngWriter::header_size() const noexcept { return state_ ? state_->header_size : 0; }

uint64_t PcapngWriter::bytes_written() const noexcept {
  return state_ ? state_->bytes_written.load(std::memory_order_relaxed) : 0;
}

bool PcapngWriter::mapped() const noexcept { return state_ && state_->mapped; }

bool PcapngWriter::is_open() const noexcept {
  if (!state_) return false;
  std::lock_guard lock(state_->mutex);
  return !state_->closed;
}

const std::string& PcapngWriter::output_name() const noexcept {
  static const std::string kNone;
  return state_ ? state_->output_name : kNone;
}

const std::vector<InterfaceInfo>& PcapngWriter::interfaces() const noexcept {
  static const std::vector<InterfaceInfo> kNone;
  return state_ ? state_->interfaces : kNone;
}

}  // namespace xesp
