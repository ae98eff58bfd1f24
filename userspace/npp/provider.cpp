// The packet provider's state machine (docs/IESP.md): Connect, Configure, Start, Pause,
// Resume, Stop, Disconnect and the queries, each checked against the state and the interface
// it is called through.
#include "npp/provider.hpp"

#include <unistd.h>

#include <boost/asio/post.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "base/clock.hpp"
#include "npp/provider_parts.hpp"

namespace xesp::npp {

thread_local const Provider* t_callback_owner = nullptr;
thread_local bool t_in_marker_callback = false;

namespace {

std::atomic<uint64_t> g_next_provider_id{1};

// The last failure of a call on a provider, per thread: a host's threads each see their own.
struct ThreadError {
  uint64_t provider = 0;
  std::string text;
};
thread_local ThreadError t_error;

}  // namespace

Provider::Provider()
    : id_(g_next_provider_id.fetch_add(1)),
      work_(boost::asio::make_work_guard(io_)),
      update_timer_(io_),
      duration_timer_(io_),
      rotation_timer_(io_),
      control_thread_([this] {
        ::pthread_setname_np(::pthread_self(), "xesp-control");
        io_.run();
      }),
      control_thread_id_(control_thread_.get_id()) {}

Provider::~Provider() {
  {
    std::unique_lock lock(mutex_);
    if (state_ == State::capturing || state_ == State::paused) do_stop(nullptr, nullptr);
    capture_.reset();
    connection_.reset();
    state_ = State::disconnected;
  }
  work_.reset();
  io_.stop();  // pending timer handlers are dropped unrun
  // Never destroyed on the control thread: Release from a callback is refused (C ABI) and an
  // Esp or Rtc dropped in one hands the provider to a thread of its own (esp.cpp). Should some
  // other path still get here, a detach beats std::terminate from joining itself.
  if (control_thread_.joinable()) {
    if (control_thread_.get_id() == std::this_thread::get_id()) control_thread_.detach();
    else control_thread_.join();
  }
}

std::error_code Provider::fail(std::error_code code, std::string message) const {
  t_error.provider = id_;
  t_error.text = std::move(message);
  return code;
}

bool Provider::in_own_callback() const { return t_callback_owner == this; }

bool Provider::from_callback() const {
  return capture::on_poller_thread() || t_in_marker_callback;
}

std::error_code Provider::refuse_in_callback(const char* call) const {
  return fail(nmerr::invalid_parameter,
              std::string(call) + " is not allowed from a frames callback (only Pause, Resume, "
                                  "Stop, QueryStatus and GetControlState are)");
}

std::error_code Provider::precheck(Via via, const char* call) const {
  if (auto ec = check(via)) return fail(ec, std::string(call) + " refused");
  const State s = state_.load();
  const std::string c = call;
  if (c == "Pause") {
    if (s == State::paused) return fail(nmerr::capture_paused, "the capture is already paused");
    if (s != State::capturing) return fail(nmerr::not_capturing, "no capture is running");
  } else if (c == "Resume") {
    if (s != State::paused) return fail(nmerr::capture_not_paused, "the capture is not paused");
  } else if (s != State::capturing && s != State::paused) {
    return fail(nmerr::not_capturing, "no capture is running");
  }
  return {};
}

std::error_code Provider::check(Via via) const {
  if (state_ == State::disconnected) return nmerr::not_connected;
  if (via != via_) return via == Via::esp ? nmerr::not_esp : nmerr::not_realtime;
  return {};
}

Via Provider::connected_via() const {
  return state_ == State::disconnected ? Via::none : via_.load();
}

std::string Provider::last_error() const {
  return t_error.provider == id_ ? t_error.text : std::string();
}

ConnectionInfo Provider::connection_info() const {
  std::lock_guard lock(info_mutex_);
  return info_;
}

void Provider::refresh_connection_info() {
  ConnectionInfo conn;
  if (connection_) {
    const Connection& c = *connection_;
    conn.interface = c.nic.name;
    conn.driver = c.nic.driver;
    conn.nic_queues = c.nic.rx_queues;
    conn.queues = c.queues;
    conn.xdp_mode = c.link ? xdp::to_string(c.link->mode()) : "";
    conn.bind_mode = c.rx.empty() ? "" : xdp::to_string(c.rx.front().socket().mode());
    conn.prog_id = c.program ? c.program->prog_id() : 0;
    conn.umem_huge_pages = !c.rx.empty() && c.rx.front().umem().on_huge_pages();
  }
  std::lock_guard lock(info_mutex_);
  // The files stay: they describe the last capture until the next one starts.
  conn.file = std::move(info_.file);
  conn.files = std::move(info_.files);
  conn.files_opened = info_.files_opened;
  conn.file_io = std::move(info_.file_io);
  info_ = std::move(conn);
}

void Provider::set_info_files(const std::string& first, const std::string& file_io) {
  std::lock_guard lock(info_mutex_);
  info_.file = first;
  info_.files.clear();
  if (!first.empty()) info_.files.push_back(first);
  info_.files_opened = first.empty() ? 0 : 1;
  info_.file_io = file_io;
}
std::error_code Provider::connect(Via via, const Blob& blob, StatusCallback status_cb,
                                  FramesCallback frames_cb, void* user_context, Blob* error_blob) {
  if (from_callback()) return refuse_in_callback("Connect");
  std::lock_guard lock(mutex_);
  if (state_ != State::disconnected)
    return fail(nmerr::already_connected, "the provider is already connected");
  ConfigParse parsed = parse_config(blob, CaptureConfig{}, /*require_interface=*/true);
  if (auto ec = report_problems(parsed, error_blob)) return fail(ec, describe_problems(parsed));
  CaptureConfig config = *parsed.config;
  if (via == Via::esp) {
    if (auto problem = check_output(config)) {
      if (error_blob)
        error_blob->add_error("NPP", problem->category, problem->tag, make_error_code(problem->code),
                              problem->reason);
      return fail(problem->code, problem->reason);
    }
  }
  if (auto st = build_connection(config); !st) {
    if (error_blob && st.error().message.find("interface '") == 0)
      error_blob->add_error("NPP", "Config", "Interface", code_of(st.error()), st.error().message);
    if (error_blob && st.error().message.find("frame count ") == 0)
      error_blob->add_error("NPP", "Config", "FrameCount", code_of(st.error()), st.error().message);
    return fail(code_of(st.error()), st.error().message);
  }
  trigger_pending_ = config.triggers.any();
  config_ = std::move(config);
  via_ = via;
  status_cb_ = std::move(status_cb);
  frames_cb_ = std::move(frames_cb);
  user_context_ = user_context;
  {
    std::lock_guard fault_lock(fault_mutex_);
    fault_.clear();
  }
  set_info_files({}, {});
  refresh_connection_info();
  state_ = State::idle;
  return {};
}

std::error_code Provider::disconnect(Via via) {
  if (from_callback()) return refuse_in_callback("Disconnect");
  // The status callback runs on the control thread, inside a call the provider is making.
  if (in_own_callback())
    return fail(nmerr::invalid_parameter, "Disconnect is not allowed from a status callback");
  std::lock_guard lock(mutex_);
  if (auto ec = check(via)) return fail(ec, "Disconnect refused");
  if (state_ == State::capturing || state_ == State::paused)
    return fail(nmerr::capturing, "a capture is running: call Stop before Disconnect");
  capture_.reset();
  connection_.reset();  // detaches, closes the sockets, frees the UMEMs, in that order
  state_ = State::disconnected;
  via_ = Via::none;
  status_cb_ = nullptr;
  frames_cb_ = nullptr;
  {
    std::lock_guard fault_lock(fault_mutex_);
    fault_.clear();
  }
  refresh_connection_info();
  return {};
}

std::error_code Provider::configure(Via via, const Blob& blob, Blob* error_blob) {
  if (from_callback()) return refuse_in_callback("Configure");
  std::lock_guard lock(mutex_);
  if (auto ec = check(via)) return fail(ec, "Configure refused");
  if (state_ == State::capturing || state_ == State::paused)
    return fail(nmerr::capturing, "a capture is running: Stop it before Configure");
  ConfigParse parsed = parse_config(blob, config_, /*require_interface=*/false);
  if (parsed.config) {
    const CaptureConfig& c = *parsed.config;
    if (c.interface != config_.interface)
      parsed.problems.push_back({"Config", "Interface", nmerr::blob_conversion_error,
                                 "the interface cannot change while connected: Disconnect, then "
                                 "Connect with the new interface"});
    if (c.queues != config_.queues)
      parsed.problems.push_back({"Config", "Queues", nmerr::blob_conversion_error,
                                 "the captured queues cannot change while connected: Disconnect, "
                                 "then Connect with the new queue list"});
    if (via == Via::esp)
      if (auto problem = check_output(c)) parsed.problems.push_back(*problem);
    if (!parsed.problems.empty()) parsed.config.reset();
  }
  if (auto ec = report_problems(parsed, error_blob)) return fail(ec, describe_problems(parsed));
  CaptureConfig next = *parsed.config;
  const bool rebuild = next.xdp_mode != config_.xdp_mode || next.bind_mode != config_.bind_mode ||
                       next.frame_size != config_.frame_size ||
                       next.frame_count != config_.frame_count ||
                       next.rx_ring_size != config_.rx_ring_size ||
                       next.fill_ring_size != config_.fill_ring_size;
  if (rebuild) {
    // The sockets and UMEMs are sized at bind time: rebuild them. The old objects must go
    // first (a queue takes one socket, a NIC one link).
    capture_.reset();
    connection_.reset();
    if (auto st = build_connection(next); !st) {
      std::string why = st.error().message;
      if (auto back = build_connection(config_); !back) {
        state_ = State::disconnected;
        via_ = Via::none;
        refresh_connection_info();
        return fail(code_of(st.error()), why + "; restoring the previous configuration failed "
                                               "too, the provider is now disconnected: " +
                                               back.error().message);
      }
      refresh_connection_info();
      return fail(code_of(st.error()), why + " (the previous configuration stays in force)");
    }
    refresh_connection_info();
  } else if (next.promiscuous != config_.promiscuous) {
    if (next.promiscuous) {
      auto p = xdp::PromiscMembership::join(connection_->nic.ifindex, connection_->nic.name);
      if (!p) return fail(code_of(p.error()), p.error().message);
      connection_->promisc = std::move(p).value();
    } else {
      connection_->promisc.leave();
    }
  }
  trigger_pending_ = next.triggers.any();
  config_ = std::move(next);
  state_ = State::idle;
  return {};
}
std::error_code Provider::start(Via via, std::string* file_name) {
  if (from_callback()) return refuse_in_callback("Start");
  std::lock_guard lock(mutex_);
  if (via == Via::esp && !file_name)
    return fail(nmerr::invalid_parameter, "Start needs a buffer for the file name");
  if (auto ec = check(via)) return fail(ec, "Start refused");
  if (state_ == State::capturing) return fail(nmerr::capturing, "a capture is already running");
  if (state_ == State::paused) return fail(nmerr::capture_paused, "the capture is paused: Resume it");
  return do_start(file_name);
}
std::error_code Provider::pause(Via via) {
  if (from_callback()) {
    if (auto ec = precheck(via, "Pause")) return ec;
    // Not mutex_: Stop may hold it while it joins this very poller.
    const uint64_t gen = generation_.load(std::memory_order_acquire);
    boost::asio::post(io_, [this, via, gen] {
      std::lock_guard l(mutex_);
      if (current(gen)) (void)pause_locked(via);
    });
    return {};
  }
  std::lock_guard lock(mutex_);
  return pause_locked(via);
}

std::error_code Provider::pause_locked(Via via) {
  if (auto ec = check(via)) return fail(ec, "Pause refused");
  if (state_ == State::paused) return fail(nmerr::capture_paused, "the capture is already paused");
  if (state_ != State::capturing) return fail(nmerr::not_capturing, "no capture is running");
  connection_->program->set_control(true, true);
  state_ = State::paused;
  return {};
}

std::error_code Provider::resume(Via via) {
  if (from_callback()) {
    if (auto ec = precheck(via, "Resume")) return ec;
    // Not mutex_: Stop may hold it while it joins this very poller.
    const uint64_t gen = generation_.load(std::memory_order_acquire);
    boost::asio::post(io_, [this, via, gen] {
      std::lock_guard l(mutex_);
      if (current(gen)) (void)resume_locked(via);
    });
    return {};
  }
  std::lock_guard lock(mutex_);
  return resume_locked(via);
}

std::error_code Provider::resume_locked(Via via) {
  if (auto ec = check(via)) return fail(ec, "Resume refused");
  if (state_ != State::paused) return fail(nmerr::capture_not_paused, "the capture is not paused");
  // A pause trigger fires once: re-arm the limits without it.
  arm_sink_limits();
  connection_->program->set_control(true, false);
  state_ = State::capturing;
  return {};
}

std::error_code Provider::stop(Via via, Statistics* statistics) {
  if (from_callback()) {
    // A frames callback runs on a poller that Stop must join: the stop happens on the control
    // thread right after; its totals come with Stop's own statistics later (IRTC: through
    // GetTotalStatistics), so *statistics is left as it is. Tied to this capture: it never
    // stops a later one.
    if (auto ec = precheck(via, "Stop")) return ec;
    // Not mutex_: Stop may hold it while it joins this very poller.
    const uint64_t gen = generation_.load(std::memory_order_acquire);
    boost::asio::post(io_, [this, via, gen] {
      std::lock_guard l(mutex_);
      if (!current(gen) || check(via)) return;
      std::string error;
      do_stop(nullptr, &error);
    });
    return {};
  }
  std::lock_guard lock(mutex_);
  if (auto ec = check(via)) return fail(ec, "Stop refused");
  if (state_ != State::capturing && state_ != State::paused)
    return fail(nmerr::not_capturing, "no capture is running");
  std::string error;
  do_stop(statistics, &error);
  if (!error.empty()) return fail(nmerr::invalid_parameter, error);
  return {};
}
std::error_code Provider::control_state(Via via, bool* running, bool* paused) const {
  if (!running || !paused) return fail(nmerr::invalid_parameter, "null GetControlState pointer");
  if (auto ec = check(via)) return fail(ec, "GetControlState refused");
  const State s = state_.load();
  *running = s == State::capturing || s == State::paused;
  *paused = s == State::paused;
  return {};
}

std::error_code Provider::query_status(NetworkStatus* status) const {
  if (!status) return fail(nmerr::invalid_parameter, "null NETWORKSTATUS pointer");
  *status = this->status();
  std::lock_guard fault_lock(fault_mutex_);
  if (!fault_.empty()) return fail(nmerr::disconnected, fault_);
  return {};
}

NetworkStatus Provider::status() const {
  NetworkStatus st;
  const State s = state_.load();
  st.state = s == State::capturing ? kStateCapturing
             : s == State::paused  ? kStatePaused
                                   : kStateVoid;
  if ((s == State::capturing || s == State::paused) && trigger_pending_) st.flags |= kFlagTriggerPending;
  return st;
}

std::error_code Provider::total_statistics(Via via, Statistics* statistics, bool clear) {
  if (from_callback()) return refuse_in_callback("GetTotalStatistics");
  std::lock_guard lock(mutex_);
  if (!statistics) return fail(nmerr::invalid_parameter, "null statistics pointer");
  if (auto ec = check(via)) return fail(ec, "GetTotalStatistics refused");
  if (capture_) {
    *statistics = snapshot(false);
    if (clear) {
      capture_->start_samples = sample_queues();
      if (auto o = connection_->program->read_counters(connection_->nic.rx_queues))
        capture_->overflow_start = *o;
      capture_->nic_start = stats::read_nic_counters(connection_->nic.name);
      capture_->start_monotonic_ns = monotonic_ns();
    }
  } else {
    *statistics = last_statistics_.value_or(Statistics{});
    if (clear) last_statistics_.reset();
  }
  return {};
}

std::error_code Provider::insert_special_frame(Via via, std::string_view text) {
  if (from_callback()) return refuse_in_callback("InsertSpecialFrame");
  FramesCallback callback;
  uint32_t queue = 0;
  {
    std::lock_guard lock(mutex_);
    if (auto ec = check(via)) return fail(ec, "InsertSpecialFrame refused");
    if (state_ != State::capturing && state_ != State::paused)
      return fail(nmerr::not_capturing, "no capture is running");
    if (capture_->file_sink) {
      if (auto st = capture_->file_sink->write_comment(0, realtime_ns(), text); !st)
        return fail(code_of(st.error()), st.error().message);
      return {};
    }
    callback = frames_cb_;
    queue = connection_->queues.front();
  }
  // IRTC: a frame flagged special whose data is the marker text, on the caller's thread and
  // outside the lock, so the callback may request Pause or Stop like any frames callback.
  Frame marker{reinterpret_cast<const uint8_t*>(text.data()), static_cast<uint32_t>(text.size()),
               static_cast<uint32_t>(text.size()), realtime_ns(), queue, kFrameSpecial};
  if (!callback) return {};
  struct MarkerScope {
    CallbackScope owner;
    explicit MarkerScope(const Provider* p) : owner(p) { t_in_marker_callback = true; }
    ~MarkerScope() { t_in_marker_callback = false; }
  } scope(this);
  try {
    callback(std::span<const Frame>(&marker, 1));
  } catch (const std::exception& e) {
    return fail(nmerr::invalid_parameter,
                std::string("InsertSpecialFrame: the frames callback threw: ") + e.what());
  } catch (...) {
    return fail(nmerr::invalid_parameter, "InsertSpecialFrame: the frames callback threw");
  }
  return {};
}

std::vector<Station> Provider::query_stations() const { return {}; }

}  // namespace xesp::npp
