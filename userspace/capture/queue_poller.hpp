// One thread per captured RX queue: RX ring -> FrameSink in batches, frames back to the fill
// ring in the same batch, the fill ring kept topped up ahead of the RX ring.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#include "capture/capture_queue.hpp"
#include "base/unique_fd.hpp"
#include "capture/frame_sink.hpp"

namespace xesp::capture {

struct PollerConfig {
  uint32_t batch_size = 256;
  int cpu = -1;            // pin the thread to this CPU; -1: leave it to the scheduler
  int poll_timeout_ms = 100;
  uint64_t spin_ns = 0;    // busy-poll this long on an empty ring before sleeping
  // The program's no_meta switch (XdpProgram::no_meta_flag): set, frames come without the
  // time header and the poller stamps them. Null: read every frame's header.
  const uint32_t* no_meta = nullptr;
  // The socket failed (its NIC was removed: ENETDOWN): called once on the poller thread, which
  // then returns; it must not block. The argument is the errno.
  std::function<void(int err)> on_fault;
};

// Counters a poller publishes (relaxed atomics, written by the poller only).
struct PollerCounters {
  std::atomic<uint64_t> frames{0};        // taken off the RX ring
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> kept{0};          // accepted by the sink
  std::atomic<uint64_t> kept_bytes{0};    // wire bytes of those
  std::atomic<uint64_t> over_limit{0};    // refused by the sink (beyond a stop limit)
  std::atomic<uint64_t> no_metadata{0};   // stamped here, not by the program (no header)
};

class QueuePoller {
 public:
  // index: position of `queue` in the capture (the sink's queue index).
  QueuePoller(uint32_t index, CaptureQueue& queue, FrameSink& sink, const PollerConfig& config);
  QueuePoller(const QueuePoller&) = delete;
  QueuePoller& operator=(const QueuePoller&) = delete;
  ~QueuePoller();

  void start();
  // Asks the thread to return once its RX ring is empty; join() waits for it.
  void request_stop();
  void join();

  uint32_t index() const { return index_; }
  const PollerCounters& counters() const { return counters_; }

 private:
  void run();

  uint32_t index_;
  CaptureQueue& queue_;
  FrameSink& sink_;
  PollerConfig config_;
  PollerCounters counters_;
  std::atomic<bool> stop_{false};
  UniqueFd wake_;  // eventfd: request_stop() ends the poller's wait at once, not at its timeout
  std::thread thread_;
};

// True on a poller thread (where sinks and IRTC frames callbacks run): the provider answers
// calls made from there without taking its lock.
bool on_poller_thread();

// Realtime minus TAI: an integer number of seconds (leap seconds), 0 where NTP never set it.
int64_t tai_to_utc_offset_ns();

}  // namespace xesp::capture
