// Turns raw counters (program, socket, poller), sampled at Start and now, into per-queue
// statistics where every frame has exactly one cause. The kernel's own counters overlap
// (docs/DESIGN-NOTES.md): this is the one place that knows how.
#pragma once

#include <cstdint>

#include "xdp/xdp_program.hpp"
#include "xdp/xsk_socket.hpp"
#include "xesp/stats.hpp"

namespace xesp::stats {

struct QueueSample {
  xdp::QueueCounters program{};
  xdp::XskStatistics socket{};
  uint64_t received = 0;      // poller: frames off the RX ring
  uint64_t written = 0;       // poller: frames the sink kept
  uint64_t written_bytes = 0;
  uint64_t after_stop = 0;    // poller: frames the sink refused
  uint64_t unwritten = 0;     // sink: kept, but the file could not take them (PcapngSink)
  uint64_t unwritten_bytes = 0;  // their wire bytes
  uint64_t no_metadata = 0;
};

// final: the rings are drained, so redirected frames no counter explains are lost ("other");
// while a capture runs they may just be in flight and are not counted yet.
QueueStatistics account_queue(uint32_t queue, const QueueSample& now, const QueueSample& start,
                              bool final);

// Frames the program redirected that are neither received nor counted lost yet: in flight
// between the program and the ring. Stop waits for this to reach zero.
uint64_t in_flight(const QueueSample& now, const QueueSample& start);

// Sums the queues into the SDK-shaped totals (everything but time and NIC counters).
void sum_queues(Statistics& stats);

// /sys/class/net/<ifname>/statistics, read now.
NicCounters read_nic_counters(const std::string& ifname);
NicCounters nic_delta(const NicCounters& now, const NicCounters& base);

}  // namespace xesp::stats
