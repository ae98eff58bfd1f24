// The IESP sink: frames into one pcapng output. Each queue encodes Enhanced Packet Blocks into
// its own buffer (no locks on the hot path) and hands the buffer to the writer in one big
// write when it fills, or when the queue has been idle for a while. Stop and pause triggers
// are enforced exactly by the LimitGate.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "base/result.hpp"
#include "capture/frame_sink.hpp"
#include "capture/limit_gate.hpp"
#include "pcapng/epb_buffer.hpp"
#include "pcapng/pcapng_writer.hpp"

namespace xesp::capture {

class PcapngSink final : public FrameSink {
 public:
  using ErrorHandler = std::function<void(const Error&)>;

  // One EpbBuffer of buffer_bytes per queue.
  PcapngSink(PcapngWriter writer, uint32_t queue_count, uint32_t snap_length,
             size_t buffer_bytes, LimitGate::Handler on_limit, ErrorHandler on_error);
  ~PcapngSink() override;

  uint32_t consume(uint32_t queue_index, std::span<const Frame> batch) override;
  void idle(uint32_t queue_index) override;

  // Arms (or re-arms, e.g. at Resume) the limits.
  void set_limits(const SinkLimits& limits) { gate_.set(limits, header_bytes_); }
  const LimitGate& gate() const { return gate_; }

  // A marker in the file: an empty frame carrying a comment.
  Status write_comment(uint32_t queue_index, uint64_t timestamp_ns, std::string_view text);

  // After every poller has stopped: flushes the buffers, writes the statistics blocks and
  // closes the output.
  Status finish(std::span<const InterfaceStats> stats);

 private:
  struct alignas(64) QueueOut {
    QueueOut(uint32_t id, size_t bytes) : buffer(id, bytes) {}
    EpbBuffer buffer;
    uint64_t last_flush_ns = 0;
  };

  void flush(QueueOut& q);

  PcapngWriter writer_;
  uint32_t snap_length_;
  uint64_t header_bytes_;
  std::vector<std::unique_ptr<QueueOut>> queues_;
  LimitGate gate_;
  ErrorHandler on_error_;
  std::atomic<bool> failed_{false};
};

}  // namespace xesp::capture
