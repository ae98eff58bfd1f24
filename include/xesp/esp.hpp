// The C++ API of an xesp packet provider: IESP's ten operations on an RAII object, errors as
// std::error_code in the nmerr category, 64-bit statistics. Destroying a capturing provider
// stops the capture (the file is completed) and detaches the program from the NIC.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "xesp/blob.hpp"
#include "xesp/error.hpp"
#include "xesp/stats.hpp"

namespace xesp {

namespace npp {
class Provider;
}

// NETWORKSTATUS
inline constexpr uint32_t kStateVoid = 0;
inline constexpr uint32_t kStateInit = 1;
inline constexpr uint32_t kStateCapturing = 2;
inline constexpr uint32_t kStatePaused = 3;
inline constexpr uint32_t kFlagTriggerPending = 0x1;

struct NetworkStatus {
  uint32_t state = kStateVoid;
  uint32_t flags = 0;
};

// UPDATE_EVENT codes (Netmon.h)
inline constexpr uint16_t kEventNetworkStatus = 1;
inline constexpr uint16_t kEventTriggerBufferContent = 5;
inline constexpr uint16_t kEventTriggerPatternMatch = 6;
inline constexpr uint16_t kEventTriggerBufferPattern = 7;
inline constexpr uint16_t kEventTriggerBufferContentPattern = 8;
inline constexpr uint16_t kEventSecurityBreach = 0xA;
inline constexpr uint16_t kEventRemoteFailure = 0xB;
// xesp's own: a rotating capture opened a new file (UpdateEvent::file).
inline constexpr uint16_t kEventNewFile = 0x100;
inline constexpr uint32_t kActionNotify = 1;
inline constexpr uint32_t kActionStopCapture = 2;
inline constexpr uint32_t kActionPauseCapture = 3;

struct UpdateEvent {
  uint16_t event = kEventNetworkStatus;
  uint32_t action = kActionNotify;
  uint32_t status = 0;              // NETWORKSTATUS state after the event
  uint32_t value = 0;               // trigger events: which Trigger tag fired (see trigger_name)
  uint64_t timestamp_us = 0;        // wall clock, µs since the Unix epoch
  void* context = nullptr;          // the caller's context from Connect
  uint64_t frames_dropped = 0;
  std::optional<Statistics> statistics;  // final totals when a trigger stopped the capture;
                                         // running totals on NETWORK_STATUS events
  std::string trigger_name;         // "StopAfterFrames", ... for trigger events
  std::string error;                // set when the capture stopped on an error (e.g. disk full)
  std::string file;                 // kEventNewFile: the path of the file opened
};
using StatusCallback = std::function<void(const UpdateEvent&)>;

// What Connect and Start set up, as the kernel reports it.
// A capture agent on the local subnet (QueryStations).
inline constexpr uint32_t kStationLoaded = 0x1;
inline constexpr uint32_t kStationRunning = 0x2;
inline constexpr uint32_t kStationCapturing = 0x4;
struct Station {
  uint32_t flags = 0;  // kStation*
  std::string machine_name;
  std::string user_name;
};

struct ConnectionInfo {
  std::string interface;
  std::string driver;
  uint32_t nic_queues = 0;
  std::vector<uint32_t> queues;     // captured
  std::string xdp_mode;             // "native" or "generic"
  std::string bind_mode;            // "zero-copy" or "copy"
  uint32_t prog_id = 0;
  bool umem_huge_pages = false;     // packet memory on 2 MiB pages
  std::string file;                 // current or last capture file
  std::vector<std::string> files;   // files of the current or last capture (rotation), the
                                    // newest 10,000 of them
  uint64_t files_opened = 0;        // how many files that capture opened in all
  std::string file_io;              // how it is written: "write" (writev) or "map" (FileIo=auto|map)
};

class Esp {
 public:
  Esp();
  ~Esp();
  Esp(Esp&&) noexcept;
  Esp& operator=(Esp&&) noexcept;

  std::error_code connect(const Blob& config, StatusCallback callback = {},
                          void* user_context = nullptr, Blob* error_blob = nullptr);
  std::error_code disconnect();
  std::error_code query_status(NetworkStatus& status) const;
  std::error_code configure(const Blob& config, Blob* error_blob = nullptr);
  std::error_code start(std::string& file_name);
  std::error_code pause();
  std::error_code resume();
  std::error_code stop(Statistics& statistics);
  std::error_code get_control_state(bool& running, bool& paused) const;

  // Not one of IESP's ten: a rotating capture (NPP:Config:RotateBytes or RotateSeconds) closes
  // its current file now; the next frame opens a new one (what SIGHUP does to `xesp capture`).
  // NMERR_INVALID_PARAMETER when the capture writes one file, NMERR_NOT_CAPTURING when none runs.
  std::error_code rotate_file();

  // The sentence behind the last error of this object (names the input and the OS reason).
  std::string last_error() const;
  ConnectionInfo connection_info() const;

  // Lists the agents found; callable in any state. Agents arrive with the remote provider:
  // until then the list is empty.
  std::error_code query_stations(std::vector<Station>& stations) const;

 private:
  friend class Rtc;
  std::shared_ptr<npp::Provider> provider_;
};

}  // namespace xesp
