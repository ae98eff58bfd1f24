// The provider's private parts, shared by its source files (provider.cpp: the state machine;
// provider_connection.cpp: the kernel objects and the output checks; provider_capture.cpp: a
// capture's start, statistics and stop; provider_events.cpp: status events, triggers, faults).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "capture/callback_sink.hpp"
#include "capture/capture_queue.hpp"
#include "capture/pcapng_sink.hpp"
#include "capture/queue_poller.hpp"
#include "npp/provider.hpp"
#include "stats/queue_accounting.hpp"

namespace xesp::npp {

inline constexpr const char* kVersion = "0.1.0";
// Per-queue pcapng arena: small frames go out in writes of half of it. Short enough that the
// rings absorb the frames arriving during one write (4 MiB writes to tmpfs stalled a poller
// ~1.5 ms, long enough to overflow 4096-entry rings at 3 Mpps).
inline constexpr size_t kSinkBufferBytes = 1u << 20;
// Stop waits at most this long for frames the program redirected to reach the rings.
inline constexpr auto kDrainTimeout = std::chrono::seconds(2);

// Kernel objects of one connection, declared in creation order: destroyed in reverse, so the
// program is detached first and the UMEMs are freed last but for the program itself.
struct Provider::Connection {
  xdp::NicInfo nic;
  std::vector<uint32_t> queues;  // NIC queue numbers captured, ascending
  std::optional<xdp::XdpProgram> program;
  std::vector<capture::CaptureQueue> rx;
  xdp::PromiscMembership promisc;
  std::optional<xdp::XdpLink> link;
};

struct Provider::Capture {
  uint64_t generation = 0;  // Provider::generation_ at its Start
  std::string path;
  std::unique_ptr<capture::PcapngSink> file_sink;
  std::unique_ptr<capture::CallbackSink> callback_sink;
  std::vector<std::unique_ptr<capture::QueuePoller>> pollers;
  std::vector<stats::QueueSample> start_samples;
  xdp::QueueCounters overflow_start{};  // the program's slot for queues beyond the NIC's count
  NicCounters nic_start;
  uint64_t start_realtime_ns = 0;
  uint64_t start_monotonic_ns = 0;
  bool pause_trigger_armed = false;

  capture::FrameSink& sink() {
    return file_sink ? static_cast<capture::FrameSink&>(*file_sink) : *callback_sink;
  }
  uint64_t frames_kept() const {
    return file_sink ? file_sink->gate().frames() : callback_sink->gate().frames();
  }
  uint64_t bytes_kept() const {
    return file_sink ? file_sink->gate().bytes() : callback_sink->gate().bytes();
  }
};

// The nearest NMERR of an Error (its own when it has one).
std::error_code code_of(const Error& e);
// "Linux 6.18.0 x86_64", for the section header.
std::string os_description();
// Every problem of a parse in one line: "NPP:Config:SnapLength: ...; unknown owner 'X'".
std::string describe_problems(const ConfigParse& parsed);
// Checks that Start will be able to create its file, before anything touches the NIC.
std::optional<ConfigProblem> check_output(const CaptureConfig& c);

// The provider whose callback this thread is running, if any (status, frames or marker).
extern thread_local const Provider* t_callback_owner;
extern thread_local bool t_in_marker_callback;  // InsertSpecialFrame's callback runs here

// Marks the thread as running one of `owner`'s callbacks for its lifetime.
class CallbackScope {
 public:
  explicit CallbackScope(const Provider* owner) : saved_(t_callback_owner) {
    t_callback_owner = owner;
  }
  ~CallbackScope() { t_callback_owner = saved_; }
  CallbackScope(const CallbackScope&) = delete;
  CallbackScope& operator=(const CallbackScope&) = delete;

 private:
  const Provider* saved_;
};

}  // namespace xesp::npp
