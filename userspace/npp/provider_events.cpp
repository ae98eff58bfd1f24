// What the provider tells its host and how it reacts to what happens under a capture: status
// updates, triggers (stop or pause after N frames, bytes, seconds), write errors, a NIC that
// goes away. All of it runs on the control thread.
#include "npp/provider.hpp"

#include <net/if.h>
#include <time.h>

#include <boost/asio/post.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "base/clock.hpp"
#include "npp/provider_parts.hpp"

namespace xesp::npp {
namespace {

uint32_t trigger_value(const std::string& name) {
  static const char* const kNames[] = {"StopAfterFrames",  "StopAfterBytes",   "StopAfterSeconds",
                                       "StopAfterFileSize", "PauseAfterFrames", "PauseAfterBytes"};
  for (uint32_t i = 0; i < 6; ++i)
    if (name == kNames[i]) return i + 1;
  return 0;
}

}  // namespace

void Provider::schedule_update() {
  if (config_.update_freq_ms == 0) return;
  update_timer_.expires_after(std::chrono::milliseconds(config_.update_freq_ms));
  update_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    UpdateEvent ev;
    {
      std::lock_guard lock(mutex_);
      if (state_ != State::capturing && state_ != State::paused) return;
      Statistics st = snapshot(false);
      ev.event = kEventNetworkStatus;
      ev.action = kActionNotify;
      ev.status = state_ == State::paused ? kStatePaused : kStateCapturing;
      ev.frames_dropped = st.frames_dropped;
      ev.statistics = std::move(st);
      schedule_update();
    }
    deliver(std::move(ev));
  });
}

void Provider::deliver(UpdateEvent event) {
  StatusCallback cb;
  {
    std::lock_guard lock(mutex_);
    cb = status_cb_;
    event.context = user_context_;
  }
  if (!cb) return;
  if (!event.trigger_name.empty()) event.value = trigger_value(event.trigger_name);
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  event.timestamp_us = static_cast<uint64_t>(ts.tv_sec) * 1'000'000ULL + ts.tv_nsec / 1000;
  std::lock_guard lock(callback_mutex_);
  CallbackScope scope(this);
  // A callback that throws must not end the control thread (and with it the process): the
  // event is lost to it, nothing else.
  try {
    cb(event);
  } catch (...) {
  }
}

bool Provider::current(uint64_t generation) const {
  return capture_ && capture_->generation == generation &&
         (state_ == State::capturing || state_ == State::paused);
}

void Provider::on_limit(uint64_t generation, capture::LimitKind kind) {
  UpdateEvent ev;
  {
    std::lock_guard lock(mutex_);
    if (!current(generation) || state_ != State::capturing) return;
    const Triggers& t = config_.triggers;
    const uint64_t frames = capture_->frames_kept();
    const uint64_t bytes = capture_->bytes_kept();
    // Which trigger ran out: a pause trigger that is armed and reached wins over a stop trigger
    // with a higher threshold.
    bool pause = false;
    std::string name;
    if (kind == capture::LimitKind::frames) {
      pause = capture_->pause_trigger_armed && t.pause_after_frames && frames >= *t.pause_after_frames &&
              !(t.stop_after_frames && *t.stop_after_frames <= *t.pause_after_frames);
      name = pause ? "PauseAfterFrames" : "StopAfterFrames";
    } else if (kind == capture::LimitKind::bytes) {
      pause = capture_->pause_trigger_armed && t.pause_after_bytes && bytes >= *t.pause_after_bytes &&
              !(t.stop_after_bytes && *t.stop_after_bytes <= *t.pause_after_bytes);
      name = pause ? "PauseAfterBytes" : "StopAfterBytes";
    } else {
      name = "StopAfterFileSize";
    }
    ev.event = kEventTriggerBufferContent;
    ev.trigger_name = name;
    if (pause) {
      connection_->program->set_control(true, true);
      capture_->pause_trigger_armed = false;
      state_ = State::paused;
      ev.action = kActionPauseCapture;
      ev.status = kStatePaused;
      // The limit fired inside a poller's batch: let the pollers publish what they kept, so
      // the event's totals match the file.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
      for (;;) {
        uint64_t published = 0;
        for (const auto& p : capture_->pollers) published += p->counters().kept.load();
        if (published >= capture_->frames_kept() || std::chrono::steady_clock::now() >= deadline)
          break;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      Statistics st = snapshot(false);
      ev.frames_dropped = st.frames_dropped;
      ev.statistics = std::move(st);
    } else {
      Statistics st;
      do_stop(&st, nullptr);
      ev.action = kActionStopCapture;
      ev.status = kStateVoid;
      ev.frames_dropped = st.frames_dropped;
      ev.statistics = std::move(st);
    }
  }
  deliver(std::move(ev));
}

UpdateEvent Provider::stop_on_error(const std::string& why) {
  UpdateEvent ev;
  Statistics st;
  std::string err = why;
  do_stop(&st, &err);
  ev.event = kEventNetworkStatus;
  ev.action = kActionStopCapture;
  ev.status = kStateVoid;
  ev.frames_dropped = st.frames_dropped;
  ev.statistics = std::move(st);
  ev.error = why;
  return ev;
}

void Provider::on_sink_error(uint64_t generation, const Error& error) {
  UpdateEvent ev;
  {
    std::lock_guard lock(mutex_);
    if (!current(generation)) return;
    ev = stop_on_error(error.message);
  }
  deliver(std::move(ev));
}

void Provider::on_queue_fault(uint64_t generation, uint32_t queue, int err) {
  UpdateEvent ev;
  {
    std::lock_guard lock(mutex_);
    if (!current(generation)) return;
    const std::string& nic = connection_->nic.name;
    const bool gone = static_cast<int>(::if_nametoindex(nic.c_str())) != connection_->nic.ifindex;
    std::string why = gone ? "interface '" + nic + "' was removed during the capture"
                           : "interface '" + nic + "' failed during the capture";
    why += " (the AF_XDP socket of queue " + std::to_string(queue) + ": " +
           std::strerror(err) + ")";
    {
      std::lock_guard fault_lock(fault_mutex_);
      fault_ = why;
    }
    ev = stop_on_error(why);
  }
  deliver(std::move(ev));
}
}  // namespace xesp::npp
