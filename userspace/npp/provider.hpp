// The packet provider: one NIC, one state machine (docs/IESP.md), reachable through IESP or
// IRTC. Connect builds the kernel objects in order and attaches the program; Disconnect and
// every failure path tear them down in reverse. One control thread (Boost.Asio) runs timers and
// turns triggers from the pollers into Stop or Pause.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/system_timer.hpp>
#include <boost/asio/executor_work_guard.hpp>

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "capture/capture_queue.hpp"
#include "capture/frame_sink.hpp"
#include "capture/pcapng_sink.hpp"
#include "capture/queue_poller.hpp"
#include "npp/capture_config.hpp"
#include "stats/queue_accounting.hpp"
#include "xdp/nic_info.hpp"
#include "xdp/promisc_membership.hpp"
#include "xdp/xdp_link.hpp"
#include "xdp/xdp_program.hpp"
#include "xesp/esp.hpp"

namespace xesp::npp {

// The interface a provider is connected through.
enum class Via { none, esp, rtc };

enum class State { disconnected, idle, capturing, paused, stopped };

// IRTC: frames handed to the caller on the poller thread of their queue.
using FramesCallback = std::function<void(std::span<const Frame> frames)>;

// A capture agent found by QueryStations.
struct Station {
  uint32_t flags = 0;  // STATIONQUERY_FLAGS_*
  std::string machine_name;
  std::string user_name;
  std::array<uint8_t, 6> adapter_address{};
};

class Provider {
 public:
  Provider();
  ~Provider();
  Provider(const Provider&) = delete;
  Provider& operator=(const Provider&) = delete;

  std::error_code connect(Via via, const Blob& config, StatusCallback status_cb,
                          FramesCallback frames_cb, void* user_context, Blob* error_blob);
  std::error_code disconnect(Via via);
  std::error_code configure(Via via, const Blob& config, Blob* error_blob);
  std::error_code start(Via via, std::string* file_name);
  std::error_code pause(Via via);
  std::error_code resume(Via via);
  std::error_code stop(Via via, Statistics* statistics);
  std::error_code control_state(Via via, bool* running, bool* paused) const;
  NetworkStatus status() const;
  // Totals of the running (or last) capture; `clear` restarts the counting (IRTC).
  std::error_code total_statistics(Via via, Statistics* statistics, bool clear);
  // A marker in the stream: a comment in the file (IESP), a marked frame for IRTC callbacks.
  std::error_code insert_special_frame(Via via, std::string_view text);
  // A rotating capture closes its current file now; the next frame opens a new one (SIGHUP).
  std::error_code rotate_file(Via via);
  // Capture agents on the local subnet. Stations are found by asking agents, which arrive
  // with the remote provider: until then the list is empty (not an error), in every state.
  std::vector<Station> query_stations() const;
  // QueryStatus: the state, or NMERR_DISCONNECTED once the NIC went away under a capture (the
  // capture was stopped with the reason; Disconnect clears it).
  std::error_code query_status(NetworkStatus* status) const;

  Via connected_via() const;
  // The sentence behind the last failed call this thread made on this provider.
  std::string last_error() const;
  // Callable from any thread, callbacks included: it never waits for a call in progress.
  ConnectionInfo connection_info() const;
  // True on a thread running one of this provider's callbacks (status, frames, marker): the
  // provider must not be destroyed there (it would free what that thread still uses).
  bool in_own_callback() const;

 private:
  struct Connection;
  struct Capture;

  std::error_code check(Via via) const;  // not connected / wrong interface
  std::error_code pause_locked(Via via);
  std::error_code resume_locked(Via via);
  // Records `message` as this thread's last error on this provider; returns code.
  std::error_code fail(std::error_code code, std::string message) const;
  // The code Pause/Resume/Stop would answer now, read without the lock.
  std::error_code precheck(Via via, const char* call) const;
  // A call that changes the state, made from a frames callback: refused, or for Pause, Resume
  // and Stop, checked and queued to the control thread.
  bool from_callback() const;
  std::error_code refuse_in_callback(const char* call) const;
  Status build_connection(const CaptureConfig& config);
  std::error_code do_start(std::string* file_name);
  void do_stop(Statistics* statistics, std::string* error);
  Statistics snapshot(bool final) const;
  void arm_sink_limits();
  // Deferred actions carry the generation of the capture they belong to: one that comes after
  // that capture ended (Stop, then Start again) is dropped instead of acting on the next.
  bool current(uint64_t generation) const;
  void on_limit(uint64_t generation, capture::LimitKind kind);
  void on_sink_error(uint64_t generation, const Error& error);
  void on_queue_fault(uint64_t generation, uint32_t queue, int err);
  // Stops the capture because of `why` (a write error, a lost NIC) and tells the status
  // callback; mutex_ held by the caller, the event delivered after it is released.
  UpdateEvent stop_on_error(const std::string& why);
  void set_info_files(const std::string& first, const std::string& file_io);
  // Copies what connection_ is into info_ (mutex_ held).
  void refresh_connection_info();
  void schedule_update();
  void deliver(UpdateEvent event);
  Result<std::string> next_file_path();
  std::vector<stats::QueueSample> sample_queues() const;
  // Per captured queue, seen/dropped/redirected since Start: what a file's statistics block
  // counts. Called by the capture output from pollers too: reads no state under mutex_.
  std::vector<output::QueueTotals> queue_totals() const;
  void schedule_rotation(uint64_t deadline_ns);

  // Held by every call that changes the state, and by Stop while it drains and joins the
  // pollers. Calls from callbacks (pollers, the control thread) must never wait for it while
  // its holder waits for them: QueryStatus and GetControlState read the atomics below, and
  // Pause/Resume/Stop requested from a frames callback run later on the control thread.
  mutable std::mutex mutex_;
  std::atomic<State> state_{State::disconnected};
  std::atomic<Via> via_{Via::none};
  std::atomic<bool> trigger_pending_{false};
  const uint64_t id_;  // tells this provider's errors from others' in a thread's record
  // Of the current (or last) capture: changed under mutex_, read by callbacks without it.
  std::atomic<uint64_t> generation_{0};
  CaptureConfig config_;
  StatusCallback status_cb_;
  FramesCallback frames_cb_;
  void* user_context_ = nullptr;
  uint32_t file_sequence_ = 0;
  // Why the connection is unusable (its NIC was removed); empty while it works. Under mutex_
  // and fault_mutex_ to write, either to read (QueryStatus takes only the second).
  mutable std::mutex fault_mutex_;
  std::string fault_;
  // What connection_info() answers, kept apart so callbacks can read it while a call holds
  // mutex_ (Stop joins the pollers with mutex_ held). A leaf lock: nothing is taken under it.
  mutable std::mutex info_mutex_;
  ConnectionInfo info_;
  std::unique_ptr<Connection> connection_;
  std::unique_ptr<Capture> capture_;
  std::optional<Statistics> last_statistics_;

  // Serialises callback delivery so a user callback never runs twice at once.
  std::mutex callback_mutex_;

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::steady_timer update_timer_;
  boost::asio::steady_timer duration_timer_;
  boost::asio::system_timer rotation_timer_;  // wall clock: -G periods are on the clock
  std::thread control_thread_;
  std::thread::id control_thread_id_;
};

}  // namespace xesp::npp
