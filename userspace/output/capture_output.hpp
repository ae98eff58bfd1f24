// CaptureOutput: where a capture's blocks go. One file, or a rotating series of them (by size,
// by wall-clock period, on request), each a complete pcapng on its own: its own SHB and IDBs,
// and at its close one ISB per interface with that file's counts. A file is closed (statistics
// written) before the next one opens; the next opens when its first block arrives, so a quiet
// period makes no empty file. Old files of a ring are deleted, and a disk-space guard deletes
// them early or stops the capture before the file system runs full.
//
// Pollers call write() with their chunks from any thread; the decision which file a block goes
// to is taken under one lock, the copy itself (writev, or into the mapping) and the compression
// run outside it, so pollers still write in parallel (FileIo::map) and compress in parallel.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "output/file_namer.hpp"
#include "output/output_directory.hpp"
#include "pcapng/chunk_transform.hpp"
#include "pcapng/pcapng_writer.hpp"

namespace xesp::output {

struct RotationPolicy {
  uint64_t max_bytes = 0;  // -C: a new file before the next block would pass this; 0: no limit
  uint32_t seconds = 0;    // -G: a new file every period, aligned to the local wall clock
  uint32_t files = 0;      // -W: keep the newest N files, delete older ones; 0: keep all
  bool rotating() const noexcept { return max_bytes != 0 || seconds != 0; }
};

// Counters of one interface (capture queue) since the capture started, as the provider counts
// them; a file's statistics block carries their growth while the file was open.
struct QueueTotals {
  uint64_t seen = 0;
  uint64_t dropped = 0;
  uint64_t redirected = 0;
};

struct OutputConfig {
  std::string path;  // "-": standard output; else a file, whose name may hold strftime conversions
  RotationPolicy rotation{};
  FileSafety safety{};
  FileIo io = FileIo::write;
  uint64_t min_free_bytes = 0;  // keep this much free on the file system (0: no guard)
  SectionInfo section{};
  std::vector<InterfaceInfo> interfaces{};
  // Makes the transform (compression) of one writer's own blocks; null: none.
  std::function<Result<std::unique_ptr<ChunkTransform>>()> make_transform{};
  // Runs a job elsewhere (the provider's control thread): the ring's deletions, so that no
  // poller waits for an unlink. Null: done by the writer that trims the ring, after the lock.
  std::function<void(std::function<void()>)> run_later{};
};

// What a write could not put into a file.
struct Unwritten {
  uint64_t frames = 0;
  uint64_t wire_bytes = 0;
};

class CaptureOutput {
 public:
  // Cumulative counters per interface now (called under the output's lock, from a poller or
  // the control thread: it must not wait for either).
  using TotalsSource = std::function<std::vector<QueueTotals>()>;
  // A new file was opened (its path); called under the output's lock: must not block.
  using FileOpened = std::function<void(const std::string& path)>;

  // Opens the output and its first file (what Start reports).
  [[nodiscard]] static Result<std::unique_ptr<CaptureOutput>> open(OutputConfig config,
                                                                   TotalsSource totals,
                                                                   FileOpened on_file);
  ~CaptureOutput();
  CaptureOutput(const CaptureOutput&) = delete;
  CaptureOutput& operator=(const CaptureOutput&) = delete;

  // Whole blocks of one interface (iovecs are scratch: cut and advanced in place) holding
  // `frames` frames of `wire_bytes` original bytes. With a transform (the caller's own, one per
  // thread), each file's part is transformed outside the lock. *unwritten receives what did not
  // reach a file (nothing on success). After a failure every later write fails with the first
  // error.
  [[nodiscard]] Status write(uint32_t interface_id, std::span<iovec> pieces, uint64_t frames,
                             uint64_t wire_bytes, ChunkTransform* transform, Unwritten* unwritten);

  // A comment marker in the current file (opening one if a rotation left none).
  [[nodiscard]] Status write_comment(uint32_t interface_id, uint64_t timestamp_ns,
                                     std::string_view text);

  // Ends the current file at now_ns (SIGHUP), if it holds a frame: frames received before go
  // into it, later ones into the next file. It is closed by the first block received after
  // now_ns, or by tick(). False when there was nothing to end.
  bool rotate(uint64_t now_ns);
  // Closes a file whose period (-G) or forced end (rotate) has passed, even when no block
  // arrived since. Returns when to call again (wall clock, ns; 0: no deadline pending).
  uint64_t tick(uint64_t now_ns);

  // Frames, per interface, that writes reported done but a failed mapped file cut off (see
  // PcapngWriter::frames_cut); for when no write runs any more.
  std::vector<WriteTally> frames_cut() const;

  // Closes the current file with the final counters. Later writes fail.
  [[nodiscard]] Status close(const std::vector<QueueTotals>& final_totals);

  bool rotating() const noexcept { return config_.rotation.rotating(); }
  bool mapped() const;             // the current (or first) file is written through a mapping
  uint64_t header_size() const noexcept { return header_size_; }  // SHB + IDBs, untransformed
  const std::string& first_path() const noexcept { return first_path_; }

 private:
  struct File;
  struct Closed {
    std::string name;
    dev_t dev = 0;
    ino_t ino = 0;
    bool deleted = false;
  };

  CaptureOutput(OutputConfig config, TotalsSource totals, FileOpened on_file);

  Status open_file_locked(uint64_t first_timestamp_ns);
  // Closes current_ (it holds the lock in `lock`, released while in-flight writes finish).
  Status rotate_locked(std::unique_lock<std::mutex>& lock);
  Status close_file_locked(File& f, const std::vector<QueueTotals>& totals);
  // Keeps min_free_bytes free for `bytes` more: deletes the oldest files of the ring, or fails.
  Status ensure_room_locked(uint64_t bytes);
  void trim_ring_locked(std::size_t keep_closed);
  void wait_idle_locked(std::unique_lock<std::mutex>& lock);
  // Hands the ring's files to delete to run_later (or deletes them here: without it, or when
  // `here` asks for it).
  void remove_later_locked(bool here = false);
  // The end of the -G period that holds `ns`; UINT64_MAX without -G.
  uint64_t period_end(uint64_t ns) const;
  Status fail_locked(Error e);
  std::vector<QueueTotals> totals_now() const;

  OutputConfig config_;
  TotalsSource totals_;
  FileOpened on_file_;
  std::shared_ptr<OutputDirectory> dir_;  // none for standard output; shared with removals
  std::vector<Closed> to_remove_;  // ring files to delete once the lock is released
  std::optional<FileNamer> namer_;
  uint64_t header_size_ = 0;
  uint64_t closing_bytes_ = 0;  // the statistics blocks a file ends with
  std::string first_path_;

  mutable std::mutex mutex_;
  std::condition_variable idle_;  // rotating_ cleared, or an in-flight write ended
  std::unique_ptr<File> current_;
  bool rotating_ = false;
  bool closed_ = false;
  std::optional<Error> failed_;
  uint64_t sequence_ = 0;
  uint64_t next_name_floor_ns_ = 0;  // a name's time is at least this: capture start, last forced cut
  std::set<std::string> used_names_;
  std::deque<Closed> closed_files_;
  std::vector<WriteTally> cut_;  // frames_cut of closed files
  std::atomic<bool> forced_cut_{false};  // rotate() was asked: chunks must be walked from now
};

// The start of the period of `seconds` that holds `ns`, aligned to the local wall clock (so -G
// 3600 starts files on the hour and -G 86400 at local midnight).
uint64_t period_start(uint64_t ns, uint32_t seconds);

}  // namespace xesp::output
