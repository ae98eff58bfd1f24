#include "stats/queue_accounting.hpp"

#include <algorithm>
#include <fstream>

namespace xesp::stats {

QueueStatistics account_queue(uint32_t queue, const QueueSample& now, const QueueSample& start,
                              bool final) {
  const auto prog = xdp::counters_diff(now.program, start.program);
  auto delta = [](uint64_t a, uint64_t b) { return a >= b ? a - b : 0; };
  const uint64_t ring_full = delta(now.socket.rx_ring_full, start.socket.rx_ring_full);
  const uint64_t rx_dropped = delta(now.socket.rx_dropped, start.socket.rx_dropped);
  const uint64_t fill_empty =
      delta(now.socket.rx_fill_ring_empty_descs, start.socket.rx_fill_ring_empty_descs);
  const uint64_t received = now.received - start.received;

  QueueStatistics q;
  q.queue = queue;
  q.frames_seen = prog.seen_frames;
  q.bytes_seen = prog.seen_bytes;
  q.frames_redirected = prog.redirected_frames;
  q.frames_received = received;
  // Frames the sink kept but could not write are a drop, not written.
  q.dropped_write_error = delta(now.unwritten, start.unwritten);
  q.frames_written = delta(now.written - start.written, q.dropped_write_error);
  q.bytes_written = delta(now.written_bytes - start.written_bytes,
                         delta(now.unwritten_bytes, start.unwritten_bytes));
  q.frames_after_stop = now.after_stop - start.after_stop;
  q.frames_paused = prog.paused_frames;
  q.frames_no_metadata = now.no_metadata - start.no_metadata;
  q.dropped_ring_full = ring_full;
  // In copy mode a frame that finds the fill ring empty bumps both rx_dropped and
  // rx_fill_ring_empty_descs (checked on 6.18); zero-copy drivers may count empty-ring polls
  // without a drop, so only rx_dropped is certain to be a lost frame.
  q.dropped_fill_empty = std::min(fill_empty, rx_dropped);
  // What rx_dropped holds beyond that, plus redirected frames no counter explains (a redirect
  // the socket refused before counting it), once nothing is in flight any more.
  const uint64_t explained = received + ring_full + rx_dropped;
  q.dropped_other = rx_dropped - q.dropped_fill_empty;
  if (final && prog.redirected_frames > explained)
    q.dropped_other += prog.redirected_frames - explained;
  return q;
}

uint64_t in_flight(const QueueSample& now, const QueueSample& start) {
  const uint64_t redirected = now.program.redirected_frames - start.program.redirected_frames;
  const uint64_t explained =
      (now.received - start.received) + (now.socket.rx_ring_full - start.socket.rx_ring_full) +
      (now.socket.rx_dropped - start.socket.rx_dropped);
  return redirected > explained ? redirected - explained : 0;
}

void sum_queues(Statistics& s) {
  for (const auto& q : s.queues) {
    s.frames_captured += q.frames_written;
    s.bytes_captured += q.bytes_written;
    s.frames_filtered += q.frames_redirected;
    s.frames_seen += q.frames_seen;
    s.bytes_seen += q.bytes_seen;
    s.dropped_ring_full += q.dropped_ring_full;
    s.dropped_fill_empty += q.dropped_fill_empty;
    s.dropped_other += q.dropped_other;
    s.dropped_write_error += q.dropped_write_error;
    s.frames_paused += q.frames_paused;
    s.frames_after_stop += q.frames_after_stop;
  }
  s.frames_dropped =
      s.dropped_ring_full + s.dropped_fill_empty + s.dropped_other + s.dropped_write_error;
}

namespace {

uint64_t read_counter(const std::string& ifname, const char* name) {
  std::ifstream in("/sys/class/net/" + ifname + "/statistics/" + name);
  uint64_t v = 0;
  in >> v;
  return v;
}

}  // namespace

NicCounters read_nic_counters(const std::string& ifname) {
  NicCounters c;
  c.frames_received = read_counter(ifname, "rx_packets");
  c.bytes_received = read_counter(ifname, "rx_bytes");
  c.crc_errors = read_counter(ifname, "rx_crc_errors");
  c.dropped_no_buffers = read_counter(ifname, "rx_missed_errors") +
                         read_counter(ifname, "rx_fifo_errors") +
                         read_counter(ifname, "rx_over_errors");
  c.dropped_by_stack = read_counter(ifname, "rx_dropped");
  c.multicasts_received = read_counter(ifname, "multicast");
  uint64_t errors = read_counter(ifname, "rx_errors");
  c.hw_errors = errors > c.crc_errors ? errors - c.crc_errors : 0;
  return c;
}

NicCounters nic_delta(const NicCounters& a, const NicCounters& b) {
  auto d = [](uint64_t x, uint64_t y) { return x >= y ? x - y : 0; };
  return {d(a.frames_received, b.frames_received), d(a.bytes_received, b.bytes_received),
          d(a.crc_errors, b.crc_errors),           d(a.dropped_no_buffers, b.dropped_no_buffers),
          d(a.dropped_by_stack, b.dropped_by_stack), d(a.multicasts_received, b.multicasts_received),
          d(a.hw_errors, b.hw_errors)};
}

}  // namespace xesp::stats
