#include "capture/pcapng_sink.hpp"

#include "base/clock.hpp"
#include <time.h>

#include <algorithm>

namespace xesp::capture {
namespace {

// An idle queue's partial buffer goes out after this long, so `-w -` readers see frames soon.
constexpr uint64_t kIdleFlushNs = 100'000'000;

}  // namespace

PcapngSink::PcapngSink(std::unique_ptr<output::CaptureOutput> output, uint32_t queue_count,
                       uint32_t snap_length, size_t arena_bytes, size_t flush_bytes,
                       LimitGate::Handler on_limit, ErrorHandler on_error,
                       std::vector<std::unique_ptr<ChunkTransform>> transforms)
    : output_(std::move(output)),
      snap_length_(snap_length),
      flush_bytes_(std::min(flush_bytes, arena_bytes / 2)),
      // The headers, and the statistics blocks the file ends with, count against a file-size
      // limit from the start: a capture stopped by it ends within the limit, ISBs included.
      header_bytes_(output_->header_size() +
                    uint64_t{queue_count} * PcapngWriter::max_statistics_block_size()),
      gate_(std::move(on_limit)),
      on_error_(std::move(on_error)) {
  // Room for a batch of small frames on top of the flush threshold.
  arena_bytes = std::max<size_t>(arena_bytes, 64 * 1024);
  for (uint32_t i = 0; i < queue_count; ++i) {
    queues_.push_back(std::make_unique<QueueOut>(i, arena_bytes));
    if (i < transforms.size()) queues_.back()->transform = std::move(transforms[i]);
  }
}

PcapngSink::~PcapngSink() = default;

uint32_t PcapngSink::consume(uint32_t queue_index, std::span<const Frame> batch) {
  QueueOut& q = *queues_[queue_index];
  const uint32_t snap = snap_length_;
  const uint32_t kept = gate_.claim(batch, [snap](const Frame& f) {
    return pcapng::kEpbFixedSize + pcapng::padded_size(std::min(f.len, snap));
  });
  for (uint32_t i = 0; i < kept; ++i) {
    const Frame& f = batch[i];
    const uint32_t caplen = std::min(f.len, snap);
    if (!q.blocks.add(f.timestamp_ns, f.data, caplen, f.orig_len)) {
      flush(q);
      (void)q.blocks.add(f.timestamp_ns, f.data, caplen, f.orig_len);
    }
  }
  // Frames written in place must be out before the poller hands their chunks back.
  if (q.blocks.references_frames() || q.blocks.arena_used() >= flush_bytes_) flush(q);
  return kept;
}

void PcapngSink::idle(uint32_t queue_index) {
  QueueOut& q = *queues_[queue_index];
  if (q.blocks.empty()) return;
  if (monotonic_ns() - q.last_flush_ns >= kIdleFlushNs) flush(q);
}

void PcapngSink::flush(QueueOut& q) {
  q.last_flush_ns = monotonic_ns();
  if (q.blocks.empty()) return;
  output::Unwritten unwritten;
  Status st = output_->write(q.blocks.interface_id(), q.blocks.iovecs(), q.blocks.frames(),
                             q.blocks.wire_bytes(), q.transform.get(), &unwritten);
  q.blocks.clear();
  if (st) return;
  q.unwritten.fetch_add(unwritten.frames, std::memory_order_relaxed);
  q.unwritten_bytes.fetch_add(unwritten.wire_bytes, std::memory_order_relaxed);
  if (!failed_.exchange(true) && on_error_) on_error_(st.error());
}

Status PcapngSink::write_comment(uint32_t queue_index, uint64_t timestamp_ns,
                                 std::string_view text) {
  return output_->write_comment(queue_index, timestamp_ns, text);
}

void PcapngSink::flush_all() {
  for (auto& q : queues_) flush(*q);
  if (settled_) return;
  settled_ = true;
  const std::vector<WriteTally> cut = output_->frames_cut();
  for (uint32_t i = 0; i < queues_.size() && i < cut.size(); ++i) {
    queues_[i]->unwritten.fetch_add(cut[i].frames, std::memory_order_relaxed);
    queues_[i]->unwritten_bytes.fetch_add(cut[i].wire_bytes, std::memory_order_relaxed);
  }
}

Status PcapngSink::finish(const std::vector<output::QueueTotals>& final_totals) {
  flush_all();
  return output_->close(final_totals);
}

}  // namespace xesp::capture
