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

  Via connected_via() const;
  std::string last_error() const;
  ConnectionInfo connection_info() const;

 private:
  struct Connection;
  struct Capture;

  std::error_code check(Via via) const;  // not connected / wrong interface
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
  void on_limit(capture::LimitKind kind);
  void on_sink_error(const Error& error);
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
  mutable std::mutex error_mutex_;  // last_error_ only; taken after mutex_, never before
  CaptureConfig config_;
  StatusCallback status_cb_;
  FramesCallback frames_cb_;
  void* user_context_ = nullptr;
  mutable std::string last_error_;
  std::string last_file_;
  std::vector<std::string> last_files_;
  std::string last_file_io_;
  uint32_t file_sequence_ = 0;
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
};

}  // namespace xesp::npp
