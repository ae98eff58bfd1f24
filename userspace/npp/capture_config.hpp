// The provider's configuration as plain data, read from a blob (NPP:Config:*, NPP:Trigger:*)
// and checked by a pure validate() that needs no privileges: tested without a NIC.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "output/capture_output.hpp"
#include "output/compression.hpp"
#include "pcapng/pcapng_writer.hpp"
#include "xdp/umem_area.hpp"
#include "xdp/xdp_link.hpp"
#include "xdp/xsk_socket.hpp"
#include "xesp/blob.hpp"

namespace xesp::npp {

inline constexpr uint32_t kMaxSnapLength = 262144;
inline constexpr uint32_t kDefaultFrameSize = 4096;
// Rings that absorb a poller's stall of ~2 ms at 4 Mpps (a write to tmpfs, a preempted vCPU):
// with 4096 entries, stalls cost frames at 64 B line rate on the 2-core test machine.
inline constexpr uint32_t kDefaultRxRingSize = 8192;
inline constexpr uint32_t kDefaultFillRingSize = 8192;
// A sleeping poller costs the kernel a wakeup per NAPI poll; spinning this long on an empty
// ring keeps it awake through bursts and costs nothing when traffic stops, as long as the
// poller has a CPU of its own (see busy_poll_for).
inline constexpr uint32_t kDefaultBusyPollUs = 200;
inline constexpr uint32_t kDefaultBatchSize = 256;
inline constexpr uint64_t kMinRotateBytes = 64 * 1024;
inline constexpr uint32_t kMaxFrameCount = 1u << 24;
inline constexpr double kMaxStopAfterSeconds = 10.0 * 365 * 24 * 3600;

struct Triggers {
  std::optional<uint64_t> stop_after_frames;
  std::optional<uint64_t> stop_after_bytes;
  std::optional<double> stop_after_seconds;
  std::optional<uint64_t> stop_after_file_size;
  std::optional<uint64_t> pause_after_frames;
  std::optional<uint64_t> pause_after_bytes;
  bool any() const {
    return stop_after_frames || stop_after_bytes || stop_after_seconds || stop_after_file_size ||
           pause_after_frames || pause_after_bytes;
  }
};

// Who stamps a frame's receive time: the XDP program (the kernel's TAI clock when the frame
// arrived, 16 bytes of header in front of it) or the poller when it dequeues the frame (no
// header: more frames per second on a busy CPU, but a time that includes the wait in the ring).
enum class Timestamps { kernel, poller };

struct CaptureConfig {
  std::string interface;                   // required
  std::optional<std::vector<uint32_t>> queues;  // unset: all RX queues of the NIC
  xdp::XdpMode xdp_mode = xdp::XdpMode::automatic;
  xdp::BindMode bind_mode = xdp::BindMode::automatic;
  uint32_t frame_size = kDefaultFrameSize;
  uint32_t frame_count = 0;                // 0: fill ring + RX ring
  uint32_t rx_ring_size = kDefaultRxRingSize;
  uint32_t fill_ring_size = kDefaultFillRingSize;
  uint32_t batch_size = kDefaultBatchSize;
  uint32_t snap_length = kMaxSnapLength;
  std::string capture_directory;           // empty: $XESP_CAPTURE_DIR
  std::string capture_file;                // exact file for the next Start; "-" is stdout
  bool promiscuous = true;
  uint32_t update_freq_ms = 1000;          // status callback interval; 0: never
  xdp::HugePages huge_pages = xdp::HugePages::automatic;
  Timestamps timestamps = Timestamps::kernel;
  FileIo file_io = FileIo::automatic;      // how blocks reach the file (see file_io_for)
  std::optional<uint32_t> busy_poll_us;   // spin this long on an empty ring, then sleep; unset:
                                          // auto (busy_poll_for)
  std::vector<uint32_t> poller_cpus;       // pin poller i to poller_cpus[i % size]; empty: unpinned
  // Files: rotation (RotateBytes, RotateSeconds, RotateFiles), how they are created (FileMode,
  // FileGroup, Overwrite) and the disk-space guard (MinFreeBytes).
  output::RotationPolicy rotation;
  output::FileSafety file_safety;
  uint64_t min_free_bytes = 0;
  // Compression (Compression): unset, the file name's extension decides (.zst, .lz4, .gz).
  std::optional<output::Compression> compression;
  Triggers triggers;

  uint32_t effective_frame_count() const {
    return frame_count ? frame_count : fill_ring_size + rx_ring_size;
  }
  uint64_t umem_bytes_per_queue() const {
    return static_cast<uint64_t>(effective_frame_count()) * frame_size;
  }
};

// The busy poll a capture with `pollers` pollers gets: the configured one, else (auto)
// kDefaultBusyPollUs when each poller can have a CPU of its own (the CPUs it is pinned to, or
// those this process may run on but one, left to the NIC's receive work), else 0: pollers that
// share CPUs would spin away the time the others and the kernel need.
uint32_t busy_poll_for(const CaptureConfig& c, uint32_t pollers);

// How a capture with `pollers` pollers writes its file: the configured FileIo; for auto,
// PcapngWriter's automatic (map on tmpfs) when there are several pollers and each can have a CPU
// of its own (as for busy_poll_for), else write. A mapping costs a page clear and a fault per
// page more than writev: it wins only where the copies really run in parallel (on 2 CPUs with 2
// pollers it kept 25-50% fewer frames; see docs/DESIGN-NOTES.md).
FileIo file_io_for(const CaptureConfig& c, uint32_t pollers);

// The codec a capture writes with: the Compression entry, else the capture file's extension.
output::Compression compression_for(const CaptureConfig& c);

// One problem with one blob entry.
struct ConfigProblem {
  std::string category;
  std::string tag;
  nmerr code;
  std::string reason;
};

// Reads NPP:Config and NPP:Trigger entries over `base` (Configure starts from the current
// configuration; Connect from defaults). Every problem is listed; the config is returned only
// when there are none.
struct ConfigParse {
  std::optional<CaptureConfig> config;
  std::vector<ConfigProblem> problems;
  std::vector<BlobEntry> foreign;  // entries of other owners (BLOB_OWNER_NOT_FOUND)
};
ConfigParse parse_config(const Blob& blob, const CaptureConfig& base, bool require_interface);

// Checks values against each other and against the kernel's limits. Pure.
std::vector<ConfigProblem> validate(const CaptureConfig& config);

// "0-3,6" -> {0,1,2,3,6}; "all" -> nullopt (all queues). Errors name the text.
Result<std::optional<std::vector<uint32_t>>> parse_queue_list(const std::string& text);

// Writes the problems into an error blob; returns the code of the first (or success).
std::error_code report_problems(const ConfigParse& parse, Blob* error_blob);

}  // namespace xesp::npp
