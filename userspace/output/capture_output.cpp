#include "output/capture_output.hpp"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/clock.hpp"
#include "base/fork_guard.hpp"
#include "output/block_split.hpp"

namespace xesp::output {
namespace {

// Headroom for one compressed unit beyond its input (zstd, LZ4 and gzip add a few dozen bytes
// of framing to input that does not compress).
constexpr uint64_t kUnitOverheadBytes = 128;

void add_cut(std::vector<WriteTally>& into, const std::vector<WriteTally>& cut) {
  for (std::size_t i = 0; i < cut.size() && i < into.size(); ++i) {
    into[i].frames += cut[i].frames;
    into[i].wire_bytes += cut[i].wire_bytes;
  }
}

}  // namespace

uint64_t period_start(uint64_t ns, uint32_t seconds) {
  if (seconds == 0) return 0;
  const time_t t = static_cast<time_t>(ns / 1'000'000'000ULL);
  tm local{};
  ::localtime_r(&t, &local);
  const int64_t offset = local.tm_gmtoff;
  const int64_t local_secs = static_cast<int64_t>(t) + offset;
  int64_t start = local_secs - local_secs % static_cast<int64_t>(seconds);
  if (local_secs < 0 && local_secs % static_cast<int64_t>(seconds) != 0) start -= seconds;
  const int64_t utc = start - offset;
  return utc <= 0 ? 0 : static_cast<uint64_t>(utc) * 1'000'000'000ULL;
}

struct CaptureOutput::File {
  std::string name;  // in the directory; "-" for standard output
  std::string path;
  dev_t dev = 0;
  ino_t ino = 0;
  PcapngWriter writer;
  uint64_t reserved = 0;  // bytes claimed by writes decided so far (headers included)
  uint64_t frames = 0;
  std::vector<uint64_t> frames_per_interface;
  uint32_t in_flight = 0;
  uint64_t start_ns = 0;
  uint64_t period_end_ns = UINT64_MAX;
  std::vector<QueueTotals> base;

  explicit File(PcapngWriter w) : writer(std::move(w)) {}
};

CaptureOutput::CaptureOutput(OutputConfig config, TotalsSource totals, FileOpened on_file)
    : config_(std::move(config)), totals_(std::move(totals)), on_file_(std::move(on_file)) {}

CaptureOutput::~CaptureOutput() = default;

Result<std::unique_ptr<CaptureOutput>> CaptureOutput::open(OutputConfig config,
                                                           TotalsSource totals,
                                                           FileOpened on_file) {
  std::unique_ptr<CaptureOutput> out(
      new CaptureOutput(std::move(config), std::move(totals), std::move(on_file)));
  const OutputConfig& c = out->config_;
  if (c.path != "-") {
    auto [dir, name] = split_path(c.path);
    if (name.empty())
      return Error::nm(nmerr::invalid_parameter, "output file '" + c.path + "': no file name");
    auto d = OutputDirectory::open(dir);
    if (!d) return std::move(d).error();
    out->dir_ = std::make_shared<OutputDirectory>(std::move(d).value());
    out->namer_.emplace(name, c.rotation.rotating());
  } else if (c.rotation.rotating() || c.min_free_bytes) {
    return Error::nm(nmerr::invalid_parameter,
                     "standard output cannot rotate or watch free space: name a file");
  }
  out->cut_.resize(c.interfaces.size());
  for (uint32_t i = 0; i < out->cut_.size(); ++i) out->cut_[i].interface_id = i;
  // A compressed unit can be a little larger than its input (frame header, checksum).
  out->closing_bytes_ = c.interfaces.size() * PcapngWriter::max_statistics_block_size() +
                        (c.make_transform ? kUnitOverheadBytes : 0);
  out->next_name_floor_ns_ = realtime_ns();
  std::lock_guard lock(out->mutex_);
  if (auto st = out->open_file_locked(0); !st) return std::move(st).error();
  out->header_size_ = out->current_->writer.header_size();
  out->first_path_ = out->current_->path;
  return out;
}

std::vector<QueueTotals> CaptureOutput::totals_now() const {
  std::vector<QueueTotals> t = totals_ ? totals_() : std::vector<QueueTotals>{};
  t.resize(config_.interfaces.size());
  return t;
}

Status CaptureOutput::fail_locked(Error e) {
  if (!failed_) failed_ = std::move(e);
  return *failed_;
}

void CaptureOutput::wait_idle_locked(std::unique_lock<std::mutex>& lock) {
  idle_.wait(lock, [this] { return !rotating_; });
}

uint64_t CaptureOutput::period_end(uint64_t ns) const {
  const uint32_t secs = config_.rotation.seconds;
  return secs ? period_start(ns, secs) + uint64_t{secs} * 1'000'000'000ULL : UINT64_MAX;
}

Status CaptureOutput::open_file_locked(uint64_t first_timestamp_ns) {
  const uint64_t now = realtime_ns();
  const uint64_t period_begin =
      period_start(first_timestamp_ns ? first_timestamp_ns : now, config_.rotation.seconds);
  // A periodic file is named after its period (on the clock) unless it starts later within it
  // (the first file, or one after a forced cut).
  const uint64_t name_ns =
      config_.rotation.seconds ? std::max(period_begin, next_name_floor_ns_) : now;

  std::unique_ptr<ChunkTransform> transform;
  if (config_.make_transform) {
    auto t = config_.make_transform();
    if (!t) return fail_locked(std::move(t).error());
    transform = std::move(t).value();
  }

  std::string name = "-";
  std::string path = "-";
  std::string output_name = "standard output";
  // From the file's creation to its registration in PcapngWriter::adopt (fork_guard.hpp).
  ForkFence fence;
  UniqueFd fd;
  dev_t dev = 0;
  ino_t ino = 0;
  if (dir_) {
    if (config_.rotation.files) trim_ring_locked(config_.rotation.files - 1);
    if (auto st = ensure_room_locked(4096); !st) return st;
    ++sequence_;
    for (uint32_t attempt = 0;; ++attempt) {
      name = namer_->name(sequence_, name_ns, attempt);
      if (!used_names_.count(name)) break;
    }
    const bool read_write = config_.io != FileIo::write;
    auto created = dir_->create(name, config_.safety, read_write);
    if (!created) return fail_locked(std::move(created).error());
    path = dir_->join(name);
    output_name = "output file '" + path + "'";
    fd = std::move(created->fd);
    dev = created->dev;
    ino = created->ino;
    used_names_.insert(name);
  } else {
    fd.reset(::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 0));
    if (!fd) return fail_locked(Error::sys(errno, output_name));
  }
  auto writer = PcapngWriter::adopt(std::move(fd), output_name, config_.section,
                                    config_.interfaces, config_.io, std::move(transform));
  if (!writer) {
    if (dir_) (void)dir_->remove(name, dev, ino);  // a half-made file is no capture
    return fail_locked(std::move(writer).error());
  }
  auto f = std::make_unique<File>(std::move(writer).value());
  f->name = name;
  f->path = path;
  f->dev = dev;
  f->ino = ino;
  // The statistics blocks that close the file count against a size limit from the start.
  f->reserved = f->writer.bytes_written() + closing_bytes_;
  f->frames_per_interface.assign(config_.interfaces.size(), 0);
  f->start_ns = now;
  f->period_end_ns = period_end(first_timestamp_ns ? first_timestamp_ns : now);
  f->base = totals_now();
  current_ = std::move(f);
  if (on_file_) on_file_(path);
  return {};
}

void CaptureOutput::trim_ring_locked(std::size_t keep_closed) {
  std::size_t present = 0;
  for (const Closed& c : closed_files_) present += c.deleted ? 0 : 1;
  for (Closed& c : closed_files_) {
    if (present <= keep_closed) break;
    if (c.deleted) continue;
    // Deleted away from the lock (unlinking a large file can take milliseconds, which pollers
    // waiting on the lock would pay in ring space). A file someone removed or replaced is no
    // longer ours to count or delete.
    to_remove_.push_back(c);
    c.deleted = true;
    --present;
  }
  while (!closed_files_.empty() && closed_files_.front().deleted) closed_files_.pop_front();
}

Status CaptureOutput::ensure_room_locked(uint64_t bytes) {
  if (!config_.min_free_bytes || !dir_) return {};
  for (;;) {
    auto free = dir_->free_bytes();
    if (!free) return fail_locked(std::move(free).error());
    if (*free >= config_.min_free_bytes + bytes) return {};
    // The ring's oldest file goes first; without a ring nothing of ours may be deleted.
    auto oldest = std::find_if(closed_files_.begin(), closed_files_.end(),
                               [](const Closed& c) { return !c.deleted; });
    if (config_.rotation.files == 0 || oldest == closed_files_.end()) {
      return fail_locked(Error::nm(
          nmerr::out_of_memory,
          "capture directory '" + dir_->path() + "': " + std::to_string(*free) +
              " bytes free, and " + std::to_string(bytes) +
              " more would leave less than the minimum free, " +
              std::to_string(config_.min_free_bytes) + " bytes (--min-free, "
              "NPP:Config:MinFreeBytes)" +
              (config_.rotation.files ? ": no older file of the ring is left to delete"
                                      : ": without a ring (-W) no older file may be deleted")));
    }
    (void)dir_->remove(oldest->name, oldest->dev, oldest->ino);
    oldest->deleted = true;
    while (!closed_files_.empty() && closed_files_.front().deleted) closed_files_.pop_front();
  }
}

Status CaptureOutput::close_file_locked(File& f, const std::vector<QueueTotals>& totals) {
  const uint64_t end = realtime_ns();
  std::vector<InterfaceStats> isbs;
  for (uint32_t i = 0; i < config_.interfaces.size(); ++i) {
    const QueueTotals now = i < totals.size() ? totals[i] : QueueTotals{};
    const QueueTotals base = i < f.base.size() ? f.base[i] : QueueTotals{};
    auto delta = [](uint64_t a, uint64_t b) { return a >= b ? a - b : 0; };
    InterfaceStats isb;
    isb.interface_id = i;
    isb.timestamp_ns = end;
    isb.start_time_ns = f.start_ns;
    isb.end_time_ns = end;
    isb.if_recv = delta(now.seen, base.seen);
    isb.if_drop = delta(now.dropped, base.dropped);
    isb.filter_accept = delta(now.redirected, base.redirected);
    isb.os_drop = 0;
    isb.usr_deliv = f.frames_per_interface[i];
    isbs.push_back(isb);
  }
  add_cut(cut_, f.writer.frames_cut());
  Status st = f.writer.close(isbs);
  if (dir_) closed_files_.push_back({f.name, f.dev, f.ino, false});
  if (!st) return fail_locked(std::move(st).error());
  return {};
}

Status CaptureOutput::rotate_locked(std::unique_lock<std::mutex>& lock) {
  rotating_ = true;
  File* f = current_.get();
  // Writes already decided for this file finish into it first.
  idle_.wait(lock, [f] { return f->in_flight == 0; });
  Status st = close_file_locked(*f, totals_now());
  current_.reset();
  rotating_ = false;
  idle_.notify_all();
  return st;
}

Status CaptureOutput::write(uint32_t interface_id, std::span<iovec> pieces, uint64_t frames,
                            uint64_t wire_bytes, ChunkTransform* transform, Unwritten* unwritten) {
  thread_local std::vector<iovec> head;
  Unwritten done;  // what reached a file
  auto result = [&](Status st) {
    if (unwritten) {
      *unwritten = {};
      if (!st) {
        unwritten->frames = frames - std::min(done.frames, frames);
        unwritten->wire_bytes = wire_bytes - std::min(done.wire_bytes, wire_bytes);
      }
    }
    return st;
  };
  const uint64_t max_bytes = config_.rotation.max_bytes;
  // Without rotation a chunk is never cut: no need to walk its blocks.
  const bool may_cut = config_.rotation.rotating() || forced_cut_.load(std::memory_order_relaxed);
  while (!pieces.empty()) {
    std::unique_lock lock(mutex_);
    wait_idle_locked(lock);
    if (failed_) return result(*failed_);
    if (closed_) return result(Error::nm(nmerr::not_capturing, "the capture output is closed"));
    BlockPrefix part;
    if (!may_cut) {
      if (!current_) {
        if (auto st = open_file_locked(0); !st) return result(st);
      }
      part = {total_length(pieces), frames - done.frames, wire_bytes - done.wire_bytes, 0};
    } else {
      const BlockPrefix first = first_block(pieces);
      if (first.bytes == 0)
        return result(fail_locked(
            Error::nm(nmerr::invalid_parameter,
                      "capture output: a chunk that is not whole pcapng blocks")));
      if (!current_) {
        if (auto st = open_file_locked(first.first_timestamp_ns); !st) return result(st);
      }
      File* f = current_.get();
      const uint64_t room = transform || !max_bytes
                                ? UINT64_MAX
                                : (max_bytes > f->reserved ? max_bytes - f->reserved : 0);
      part = block_prefix(pieces, room, f->period_end_ns);
      if (part.bytes == 0) {
        const bool later_period = first.frames && first.first_timestamp_ns >= f->period_end_ns;
        if (f->frames != 0) {
          if (auto st = rotate_locked(lock); !st) return result(st);
          continue;
        }
        if (later_period) {
          // Nothing in this file yet: it simply becomes the file of the later period.
          f->period_end_ns = period_end(first.first_timestamp_ns);
          continue;
        }
        part = first;  // one block larger than a whole file: it goes alone into an empty one
      }
    }
    File* f = current_.get();

    std::span<const std::byte> bytes;
    iovec packed_piece{};
    if (!transform) {
      if (auto st = ensure_room_locked(part.bytes); !st) return result(st);
    } else {
      // Compressed: the part is cut by time above; its size is known once compressed, outside
      // the lock, and decides then whether it still fits the file.
      lock.unlock();
      std::span<iovec> rest = split_pieces(pieces, part.bytes, head);
      auto packed = transform->apply(head);
      lock.lock();
      wait_idle_locked(lock);
      if (!packed) return result(fail_locked(std::move(packed).error()));
      if (failed_) return result(*failed_);
      if (!current_) {
        if (auto st = open_file_locked(part.first_timestamp_ns); !st) return result(st);
      }
      f = current_.get();
      if (max_bytes && f->frames != 0 && f->reserved + packed->size() > max_bytes) {
        if (auto st = rotate_locked(lock); !st) return result(st);
        if (auto st = open_file_locked(part.first_timestamp_ns); !st) return result(st);
        f = current_.get();
      }
      if (auto st = ensure_room_locked(packed->size()); !st) return result(st);
      packed_piece = {const_cast<std::byte*>(packed->data()), packed->size()};
      bytes = *packed;
      pieces = rest;
    }
    const uint64_t size = transform ? bytes.size() : part.bytes;
    f->reserved += size;
    f->frames += part.frames;
    f->frames_per_interface[interface_id] += part.frames;
    ++f->in_flight;
    remove_later_locked();
    lock.unlock();
    const WriteTally tally{interface_id, part.frames, part.wire_bytes};
    Status st;
    if (transform) {
      st = f->writer.write_vectored(std::span<iovec>(&packed_piece, 1), tally);
    } else {
      std::span<iovec> rest = split_pieces(pieces, part.bytes, head);
      st = f->writer.write_vectored(head, tally);
      pieces = rest;
    }
    lock.lock();
    if (--f->in_flight == 0) idle_.notify_all();
    if (!st) {
      f->frames -= part.frames;
      f->frames_per_interface[interface_id] -= part.frames;
      return result(fail_locked(std::move(st).error()));
    }
    done.frames += part.frames;
    done.wire_bytes += part.wire_bytes;
  }
  return result({});
}

Status CaptureOutput::write_comment(uint32_t interface_id, uint64_t timestamp_ns,
                                    std::string_view text) {
  std::unique_lock lock(mutex_);
  wait_idle_locked(lock);
  if (failed_) return *failed_;
  if (closed_) return Error::nm(nmerr::not_capturing, "the capture output is closed");
  if (!current_) {
    if (auto st = open_file_locked(timestamp_ns); !st) return st;
  }
  // Counted as it goes out (writes in flight may add to the difference: it only errs high).
  const uint64_t before = current_->writer.bytes_written();
  Status st = current_->writer.write_comment(interface_id, timestamp_ns, text);
  current_->reserved += current_->writer.bytes_written() - before;
  return st;
}

void CaptureOutput::remove_later_locked(bool here) {
  if (to_remove_.empty()) return;
  auto job = [dir = dir_, victims = std::move(to_remove_)] {
    for (const Closed& c : victims) (void)dir->remove(c.name, c.dev, c.ino);
  };
  to_remove_.clear();
  if (config_.run_later && !here) config_.run_later(std::move(job));
  else job();
}

bool CaptureOutput::rotate(uint64_t now_ns) {
  std::unique_lock lock(mutex_);
  wait_idle_locked(lock);
  if (failed_ || closed_ || !current_ || current_->frames == 0) return false;
  forced_cut_.store(true, std::memory_order_relaxed);
  next_name_floor_ns_ = now_ns;
  current_->period_end_ns = std::min(current_->period_end_ns, now_ns);
  return true;
}

uint64_t CaptureOutput::tick(uint64_t now_ns) {
  std::unique_lock lock(mutex_);
  wait_idle_locked(lock);
  if (!failed_ && !closed_ && current_ && current_->frames != 0 &&
      now_ns >= current_->period_end_ns)
    (void)rotate_locked(lock);
  remove_later_locked();
  if (current_ && current_->period_end_ns != UINT64_MAX) return current_->period_end_ns;
  const uint64_t next = period_end(now_ns);
  return next == UINT64_MAX ? 0 : next;
}

std::vector<WriteTally> CaptureOutput::frames_cut() const {
  std::lock_guard lock(mutex_);
  std::vector<WriteTally> cut = cut_;
  if (current_) add_cut(cut, current_->writer.frames_cut());
  return cut;
}

Status CaptureOutput::close(const std::vector<QueueTotals>& final_totals) {
  std::unique_lock lock(mutex_);
  wait_idle_locked(lock);
  if (closed_) return failed_ ? Status(*failed_) : Status();
  closed_ = true;
  Status st;
  if (current_) {
    File* f = current_.get();
    idle_.wait(lock, [f] { return f->in_flight == 0; });
    std::vector<QueueTotals> totals = final_totals;
    totals.resize(config_.interfaces.size());
    st = close_file_locked(*f, totals);
    current_.reset();
  }
  // The ring is as it should be when the capture is over: what waits is deleted now.
  remove_later_locked(/*here=*/true);
  if (failed_) return *failed_;
  return st;
}

bool CaptureOutput::mapped() const {
  std::lock_guard lock(mutex_);
  return current_ && current_->writer.mapped();
}

}  // namespace xesp::output
