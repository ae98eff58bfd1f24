// PcapngWriter: one pcapng output (file or stdout). It writes the section and interface headers at
// open, then takes whole chunks of already-encoded blocks (EpbBuffer::bytes()) from any number of
// poller threads, and Interface Statistics Blocks at close.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/fork_guard.hpp"
#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "pcapng/chunk_transform.hpp"

namespace xesp {

// Every member of these plain structs has an initializer, so that callers may brace-initialize a
// few of them (`{.name = "eth0"}`) without GCC's -Wmissing-field-initializers under -Werror.

// Section Header Block options; an empty string leaves its option out.
struct SectionInfo {
  std::string hardware{};   // shb_hardware
  std::string os{};         // shb_os
  std::string user_appl{};  // shb_userappl
  std::string comment{};    // opt_comment
};

// One Interface Description Block. Its index in the list given to open() is the interface id
// that EPBs, comments and statistics refer to. libpcap (so tcpdump; 1.10.3 checked) refuses a
// file whose IDBs differ in link type or snap length, where Wireshark copes: keep them equal in
// one file when it is meant for libpcap-based tools.
struct InterfaceInfo {
  std::string name{};         // if_name; empty leaves it out
  std::string description{};  // if_description; empty leaves it out
  uint16_t link_type = 1;     // LINKTYPE_ETHERNET
  uint32_t snap_len = 262144;
  std::string filter{};  // if_filter as a libpcap filter string; empty leaves it out
  std::string os{};      // if_os; empty leaves it out
};

// One Interface Statistics Block; an unset option is left out of the block.
struct InterfaceStats {
  uint32_t interface_id = 0;
  uint64_t timestamp_ns = 0;                // when the counters were read
  std::optional<uint64_t> start_time_ns{};  // isb_starttime
  std::optional<uint64_t> end_time_ns{};    // isb_endtime
  std::optional<uint64_t> if_recv{};        // isb_ifrecv
  std::optional<uint64_t> if_drop{};        // isb_ifdrop
  std::optional<uint64_t> filter_accept{};  // isb_filteraccept
  std::optional<uint64_t> os_drop{};        // isb_osdrop
  std::optional<uint64_t> usr_deliv{};      // isb_usrdeliv
};

// How blocks reach a regular file.
// - write: writev(2) under the writer's lock. Every file system serializes writes to one file
//   (tmpfs, ext4 and XFS hold the inode lock for the whole copy), so several pollers writing one
//   file copy one at a time: about one core's copy rate in all.
// - map: the file is mapped (MAP_SHARED); each call reserves its range under the lock, then
//   faults its pages in (MADV_POPULATE_WRITE, which returns ENOSPC and the like as an error
//   instead of SIGBUS) and copies outside it, so pollers copy in parallel. The file grows ahead
//   in steps of kMapGrowBytes and is cut to its exact size at close; a process killed before
//   close leaves up to that many zero bytes at the end.
// - automatic: map when the output is a regular file on tmpfs or ramfs (where the page cache is
//   the file, and a capture's rate is bounded by the copy), write otherwise.
// Map falls back to write where the file cannot be mapped (standard output, a pipe, a device, a
// file opened write-only); mapped() tells which one a writer uses.
enum class FileIo { write, map, automatic };
const char* to_string(FileIo io) noexcept;

// The frames in one write (PcapngWriter::write_vectored), for PcapngWriter::frames_cut().
struct WriteTally {
  uint32_t interface_id = 0;
  uint64_t frames = 0;
  uint64_t wire_bytes = 0;  // the frames' original lengths, summed
};

class PcapngWriter {
 public:
  // The mapped file grows by this much at a time, under the writer's lock.
  static constexpr uint64_t kMapGrowBytes = 64ull << 20;

  // Creates (truncates) path with mode 0644, or writes to standard output when path is "-", and
  // writes the SHB and one IDB per interface (each with if_tsresol = 9, i.e. ns timestamps).
  // For tests and tools: captures create their files through output::OutputDirectory (O_EXCL,
  // no symlinks, mode 0600) and hand the descriptor to adopt().
  [[nodiscard]] static Result<PcapngWriter> open(const std::string& path,
                                                 const SectionInfo& section,
                                                 std::vector<InterfaceInfo> interfaces,
                                                 FileIo io = FileIo::write);

  // The same over an open descriptor (O_RDWR for a regular file that may be mapped);
  // output_name is what error messages call it ("output file '/cap/a.pcapng'"). With a
  // transform, the writer's own blocks (headers, comments, statistics) go through it, and
  // write_vectored()/write_chunk() take bytes the caller has transformed already.
  [[nodiscard]] static Result<PcapngWriter> adopt(UniqueFd fd, std::string output_name,
                                                  const SectionInfo& section,
                                                  std::vector<InterfaceInfo> interfaces, FileIo io,
                                                  std::unique_ptr<ChunkTransform> transform = {});

  // The largest Interface Statistics Block close() writes for one interface (every option set):
  // what a file-size limit must leave room for.
  static uint64_t max_statistics_block_size();

  // Destroying (or assigning over) an open writer closes it without statistics blocks; the file
  // is still valid pcapng, as nothing is buffered here. A moved-from writer is closed.
  PcapngWriter(PcapngWriter&&) noexcept = default;
  PcapngWriter& operator=(PcapngWriter&&) noexcept = default;
  PcapngWriter(const PcapngWriter&) = delete;
  PcapngWriter& operator=(const PcapngWriter&) = delete;
  ~PcapngWriter() = default;

  // Writes whole blocks in one critical section (mapped: into one reserved range), so chunks from
  // different threads never interleave inside a block. After a failed write every later write
  // returns that first error instead of appending after garbage (a pipe may end inside a block;
  // a regular file is cut back to the last whole one). EPIPE comes back as an error only if the
  // caller ignores SIGPIPE (the CLI does).
  [[nodiscard]] Status write_chunk(std::span<const std::byte> chunk);

  // The same for a list of pieces (EpbVector::iovecs()), written with writev(2) in one critical
  // section (or copied into the mapping). The iovecs are scratch: a partial write advances them
  // in place. When a write to a regular file fails, the file is cut back to where that write
  // began, so it ends on a block boundary and none of the failed write's frames is in it.
  [[nodiscard]] Status write_vectored(std::span<iovec> pieces, WriteTally tally = {});

  // Mapped files only: frames (and their wire bytes), per interface (index = interface id), of
  // writes that succeeded but lie after one that failed. close() cuts the file where the failed
  // write began, so they are not in it either. Meant for when no write is running any more (the
  // pollers have stopped); all zero without a failure and for writev.
  std::vector<WriteTally> frames_cut() const;

  // A marker in the packet stream: an EPB with no packet data whose opt_comment carries the text
  // (Wireshark shows it as the frame's comment, and flags the empty Ethernet frame "Malformed";
  // tcpdump prints "[Invalid header: caplen==0, len==0]" for it and reads on).
  [[nodiscard]] Status write_comment(uint32_t interface_id, uint64_t timestamp_ns,
                                     std::string_view comment);

  // Writes one ISB per entry, then closes the output (for "-", our duplicate of fd 1). Returns the
  // stream's write error if there was one, or an error for an entry naming an undeclared
  // interface (the other entries are still written). Idempotent: later calls return success and
  // write nothing. No fsync: durability is the file system's business.
  [[nodiscard]] Status close(std::span<const InterfaceStats> stats = {});

  // Bytes handed to the output so far, header blocks included (after the transform: the file's
  // size). Readable from any thread (a file-size trigger polls it).
  uint64_t bytes_written() const noexcept;
  // The SHB and IDBs as encoded, before any transform.
  uint64_t header_size() const noexcept;
  bool is_open() const noexcept;
  // True when blocks are copied into a mapping of the file (FileIo::map), false for writev(2).
  bool mapped() const noexcept;
  // "output file '<path>'" or "standard output": the prefix of every error message.
  const std::string& output_name() const noexcept;
  const std::vector<InterfaceInfo>& interfaces() const noexcept;

 private:
  // Heap-held so the writer can move while the mutex and atomic stay put.
  struct State {
    std::mutex mutex;
    UniqueFd fd;
    ForkGuard fd_guard;   // fd kept from children of fork() (base/fork_guard.hpp)
    ForkGuard map_guard;  // the mapping too
    std::string output_name;
    std::vector<InterfaceInfo> interfaces;
    std::atomic<uint64_t> bytes_written{0};
    std::optional<Error> failed;  // the first write error; sticky
    bool closed = false;
    bool regular = false;  // a regular file: a failed write is cut off
    // Where our bytes start in a regular file we did not create (standard output redirected
    // with `>> old.pcapng`): a failed write is cut back to base + bytes_written, never into
    // what the file held before.
    uint64_t base_offset = 0;
    uint64_t header_size = 0;
    std::unique_ptr<ChunkTransform> transform;  // for the writer's own blocks; under mutex
    // FileIo::map only (map != nullptr). The mapping spans map_span bytes of address space from
    // file offset 0; the file's size (file_size) stays ahead of `tail`, the next free offset.
    bool mapped = false;  // set at open, never changes
    std::byte* map = nullptr;
    uint64_t map_span = 0;
    uint64_t file_size = 0;
    uint64_t tail = 0;
    uint64_t hole = UINT64_MAX;  // the first byte a failed copy left unwritten; close cuts there
    uint32_t copying = 0;        // reserved ranges being copied outside the lock
    std::condition_variable copied;
    std::atomic<uint64_t> unmapped{0};  // [0, unmapped) has had its pages dropped from the mapping
    // Reserved ranges in file order, from the oldest one not yet copied on (all of them once a
    // copy failed), for frames_cut().
    struct Range {
      uint64_t offset = 0;
      WriteTally tally;
      bool done = false;
      bool ok = false;
    };
    std::deque<Range> ranges;

    State() = default;
    ~State();  // unmaps, and cuts an unclosed mapped file to what was written
  };

  explicit PcapngWriter(std::unique_ptr<State> state) noexcept : state_(std::move(state)) {}
  // Caller holds state_->mutex. write_own_locked: one of the writer's own blocks (transformed
  // when there is a transform); write_locked: bytes as they go to the output.
  Status write_own_locked(std::span<const std::byte> bytes);
  Status write_locked(std::span<const std::byte> bytes);
  Status write_vectored_locked(std::span<iovec> pieces);
  Status close_locked();
  // FileIo::map. reserve_locked claims [offset, offset + len) and counts a copy in progress;
  // store copies the pieces there (no lock held); stored_locked ends the copy, recording a failure.
  Result<uint64_t> reserve_locked(uint64_t len, WriteTally tally);
  Status store(uint64_t offset, uint64_t len, std::span<const iovec> pieces) const;
  void stored_locked(uint64_t offset, const Status& st);
  Status write_mapped(std::span<iovec> pieces, WriteTally tally);
  // Drops the pages of what is long written from this process's mapping (they stay in the
  // file), so resident memory does not grow with the file.
  void unmap_behind(uint64_t end);

  std::unique_ptr<State> state_;
};

}  // namespace xesp
