// The IRTC sink: each batch goes to the caller's callback on the poller thread, with the same
// exact stop/pause limits as the file sink.
#pragma once

#include <functional>

#include "capture/frame_sink.hpp"
#include "capture/limit_gate.hpp"

namespace xesp::capture {

class CallbackSink final : public FrameSink {
 public:
  using Callback = std::function<void(std::span<const Frame> frames)>;
  CallbackSink(Callback callback, LimitGate::Handler on_limit)
      : callback_(std::move(callback)), gate_(std::move(on_limit)) {}

  uint32_t consume(uint32_t queue_index, std::span<const Frame> batch) override {
    const uint32_t kept = gate_.claim(batch, [](const Frame&) { return uint64_t{0}; });
    (void)queue_index;
    if (kept && callback_) callback_(batch.first(kept));
    return kept;
  }
  void set_limits(const SinkLimits& limits) { gate_.set(limits); }
  const LimitGate& gate() const { return gate_; }

 private:
  Callback callback_;
  LimitGate gate_;
};

}  // namespace xesp::capture
