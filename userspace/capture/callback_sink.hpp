// The IRTC sink: each batch goes to the caller's callback on the poller thread, with the same
// exact stop/pause limits as the file sink. A callback that throws stops the capture with the
// reason instead of ending the process; the batches that come before the stop are counted as
// not delivered (like frames a file could not take).
#pragma once

#include <atomic>
#include <exception>
#include <functional>
#include <memory>
#include <vector>

#include "base/result.hpp"
#include "capture/frame_sink.hpp"
#include "capture/limit_gate.hpp"

namespace xesp::capture {

class CallbackSink final : public FrameSink {
 public:
  using Callback = std::function<void(std::span<const Frame> frames)>;
  using ErrorHandler = std::function<void(const Error&)>;
  CallbackSink(Callback callback, LimitGate::Handler on_limit, uint32_t queue_count = 0,
               ErrorHandler on_error = {})
      : callback_(std::move(callback)), gate_(std::move(on_limit)), on_error_(std::move(on_error)) {
    for (uint32_t i = 0; i < queue_count; ++i) undelivered_.push_back(std::make_unique<Undelivered>());
  }

  uint32_t consume(uint32_t queue_index, std::span<const Frame> batch) override {
    const uint32_t kept = gate_.claim(batch, [](const Frame&) { return uint64_t{0}; });
    if (!kept || !callback_) return kept;
    if (failed_.load(std::memory_order_relaxed)) {
      count_undelivered(queue_index, batch.first(kept));
      return kept;
    }
    try {
      callback_(batch.first(kept));
    } catch (const std::exception& e) {
      fail(std::string("the frames callback threw: ") + e.what());
    } catch (...) {
      fail("the frames callback threw an exception that is not a std::exception");
    }
    return kept;
  }
  void set_limits(const SinkLimits& limits) { gate_.set(limits); }
  const LimitGate& gate() const { return gate_; }
  // Frames of this queue kept but never handed to the callback (it had thrown before), and
  // their wire bytes.
  uint64_t undelivered(uint32_t queue_index) const {
    return queue_index < undelivered_.size() ? undelivered_[queue_index]->frames.load() : 0;
  }
  uint64_t undelivered_bytes(uint32_t queue_index) const {
    return queue_index < undelivered_.size() ? undelivered_[queue_index]->bytes.load() : 0;
  }

 private:
  void fail(std::string why) {
    if (!failed_.exchange(true) && on_error_)
      on_error_(Error::nm(nmerr::invalid_parameter, std::move(why)));
  }
  void count_undelivered(uint32_t queue_index, std::span<const Frame> frames) {
    if (queue_index >= undelivered_.size()) return;
    uint64_t bytes = 0;
    for (const Frame& f : frames) bytes += f.orig_len;
    undelivered_[queue_index]->frames.fetch_add(frames.size(), std::memory_order_relaxed);
    undelivered_[queue_index]->bytes.fetch_add(bytes, std::memory_order_relaxed);
  }
  struct Undelivered {
    std::atomic<uint64_t> frames{0};
    std::atomic<uint64_t> bytes{0};
  };

  Callback callback_;
  LimitGate gate_;
  ErrorHandler on_error_;
  std::atomic<bool> failed_{false};
  std::vector<std::unique_ptr<Undelivered>> undelivered_;
};

}  // namespace xesp::capture
