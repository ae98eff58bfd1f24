#include "capture/pcapng_sink.hpp"

#include <time.h>

#include <algorithm>

namespace xesp::capture {
namespace {

// An idle queue's partial buffer goes out after this long, so `-w -` readers see frames soon.
constexpr uint64_t kIdleFlushNs = 100'000'000;

uint64_t monotonic_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

PcapngSink::PcapngSink(PcapngWriter writer, uint32_t queue_count, uint32_t snap_length,
                       size_t buffer_bytes, LimitGate::Handler on_limit, ErrorHandler on_error)
    : writer_(std::move(writer)),
      snap_length_(snap_length),
      header_bytes_(writer_.bytes_written()),
      gate_(std::move(on_limit)),
      on_error_(std::move(on_error)) {
  // A full-size frame must always fit an empty buffer.
  buffer_bytes = std::max(buffer_bytes, EpbBuffer::block_size(snap_length) * 2);
  for (uint32_t i = 0; i < queue_count; ++i)
    queues_.push_back(std::make_unique<QueueOut>(i, buffer_bytes));
}

PcapngSink::~PcapngSink() = default;

uint32_t PcapngSink::consume(uint32_t queue_index, std::span<const Frame> batch) {
  QueueOut& q = *queues_[queue_index];
  const uint32_t snap = snap_length_;
  const uint32_t kept = gate_.claim(
      batch, [snap](const Frame& f) { return EpbBuffer::block_size(std::min(f.len, snap)); });
  for (uint32_t i = 0; i < kept; ++i) {
    const Frame& f = batch[i];
    const uint32_t caplen = std::min(f.len, snap);
    if (!q.buffer.append(f.timestamp_ns, f.data, caplen, f.orig_len)) {
      flush(q);
      (void)q.buffer.append(f.timestamp_ns, f.data, caplen, f.orig_len);
    }
  }
  return kept;
}

void PcapngSink::idle(uint32_t queue_index) {
  QueueOut& q = *queues_[queue_index];
  if (q.buffer.empty()) return;
  if (monotonic_ns() - q.last_flush_ns >= kIdleFlushNs) flush(q);
}

void PcapngSink::flush(QueueOut& q) {
  q.last_flush_ns = monotonic_ns();
  if (q.buffer.empty()) return;
  Status st = writer_.write_chunk(q.buffer.bytes());
  q.buffer.clear();
  if (!st && !failed_.exchange(true) && on_error_) on_error_(st.error());
}

Status PcapngSink::write_comment(uint32_t queue_index, uint64_t timestamp_ns,
                                 std::string_view text) {
  return writer_.write_comment(queue_index, timestamp_ns, text);
}

Status PcapngSink::finish(std::span<const InterfaceStats> stats) {
  for (auto& q : queues_) flush(*q);
  return writer_.close(stats);
}

}  // namespace xesp::capture
