// Status events of a provider, collected from its control thread, for tests to wait on.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "xesp/esp.hpp"

namespace xesp::test {

// Status callback events, collected from the provider's control thread.
class EventLog {
 public:
  StatusCallback callback() {
    return [this](const UpdateEvent& ev) {
      std::lock_guard lock(mutex_);
      events_.push_back(ev);
      cv_.notify_all();
    };
  }
  // Waits for an event matching pred; returns it.
  std::optional<UpdateEvent> wait(const std::function<bool(const UpdateEvent&)>& pred,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mutex_);
    std::optional<UpdateEvent> found;
    cv_.wait_for(lock, timeout, [&] {
      for (const auto& e : events_)
        if (pred(e)) {
          found = e;
          return true;
        }
      return false;
    });
    return found;
  }
  // Waits until a status update reports at least `frames` seen: the program has run on them.
  bool wait_seen(uint64_t frames, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return wait([&](const UpdateEvent& e) {
             return e.statistics && e.statistics->frames_seen >= frames;
           }, timeout).has_value();
  }
  size_t count_triggers() {
    std::lock_guard lock(mutex_);
    size_t n = 0;
    for (const auto& e : events_) n += e.event == kEventTriggerBufferContent;
    return n;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<UpdateEvent> events_;
};

}  // namespace xesp::test
