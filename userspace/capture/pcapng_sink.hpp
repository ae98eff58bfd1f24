// The IESP sink: frames into a capture output (one file, or a rotating series: CaptureOutput).
// Each queue encodes Enhanced Packet Blocks into its own EpbVector (no locks on the hot path).
// Small frames are copied into it and written in big pieces, when `flush_bytes` of it are used
// or the queue has been idle for a while; large frames are written straight from UMEM with
// writev before the batch returns (their chunks go back to the fill ring right after). With
// compression each queue compresses its own chunks on its poller. Stop and pause triggers are
// enforced exactly by the LimitGate.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "base/result.hpp"
#include "capture/frame_sink.hpp"
#include "capture/limit_gate.hpp"
#include "output/capture_output.hpp"
#include "pcapng/epb_vector.hpp"

namespace xesp::capture {

class PcapngSink final : public FrameSink {
 public:
  using ErrorHandler = std::function<void(const Error&)>;

  // One EpbVector with an arena of arena_bytes per queue, written out when flush_bytes of it are
  // used (at most half of it). transforms: each queue's compressor (one per queue), or none.
  PcapngSink(std::unique_ptr<output::CaptureOutput> output, uint32_t queue_count,
             uint32_t snap_length, size_t arena_bytes, size_t flush_bytes,
             LimitGate::Handler on_limit, ErrorHandler on_error,
             std::vector<std::unique_ptr<ChunkTransform>> transforms = {});
  ~PcapngSink() override;

  uint32_t consume(uint32_t queue_index, std::span<const Frame> batch) override;
  void idle(uint32_t queue_index) override;

  // Arms (or re-arms, e.g. at Resume) the limits. A file-size limit leaves room for the
  // headers and for the statistics blocks written at the end.
  void set_limits(const SinkLimits& limits) { gate_.set(limits, header_bytes_); }
  const LimitGate& gate() const { return gate_; }

  // Frames of this queue the sink kept but could not get into the file: their write failed, or
  // came after a failed one, or lay after a failed one in a mapped file (cut off at close).
  // Exact once flush_all() has run after the pollers stopped.
  uint64_t unwritten(uint32_t queue_index) const {
    return queues_[queue_index]->unwritten.load(std::memory_order_relaxed);
  }
  // Their original (wire) bytes.
  uint64_t unwritten_bytes(uint32_t queue_index) const {
    return queues_[queue_index]->unwritten_bytes.load(std::memory_order_relaxed);
  }

  // After every poller has stopped: writes what the queues still buffer and settles unwritten().
  void flush_all();

  // A marker in the file: an empty frame carrying a comment.
  Status write_comment(uint32_t queue_index, uint64_t timestamp_ns, std::string_view text);

  // After every poller has stopped: flushes the buffers, writes the last file's statistics
  // blocks (from the final counters) and closes the output.
  Status finish(const std::vector<output::QueueTotals>& final_totals);

  output::CaptureOutput& output() { return *output_; }


 private:
  struct alignas(64) QueueOut {
    QueueOut(uint32_t id, size_t bytes) : blocks(id, bytes) {}
    EpbVector blocks;
    std::unique_ptr<ChunkTransform> transform;  // this queue's compressor, or null
    uint64_t last_flush_ns = 0;
    std::atomic<uint64_t> unwritten{0};
    std::atomic<uint64_t> unwritten_bytes{0};
  };

  void flush(QueueOut& q);

  std::unique_ptr<output::CaptureOutput> output_;
  uint32_t snap_length_;
  size_t flush_bytes_;  // arena use that triggers a write
  uint64_t header_bytes_;
  std::vector<std::unique_ptr<QueueOut>> queues_;
  LimitGate gate_;
  ErrorHandler on_error_;
  std::atomic<bool> failed_{false};
  bool settled_ = false;  // flush_all() has added the frames cut from a mapped file
};

}  // namespace xesp::capture
