// Capture statistics with 64-bit counters (the C ABI's STATISTICS keeps the SDK's 32-bit
// fields and saturates). Every frame the program saw on a captured queue while the capture ran
// lands in exactly one of: written, paused, after_stop, dropped_*.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace xesp {

struct QueueStatistics {
  uint32_t queue = 0;                // NIC RX queue number
  uint64_t frames_seen = 0;          // the XDP program ran on them (from Start to Stop)
  uint64_t bytes_seen = 0;
  uint64_t frames_redirected = 0;    // handed to this queue's AF_XDP socket
  uint64_t frames_received = 0;      // taken off the RX ring by the poller
  uint64_t frames_written = 0;       // in the file (or handed to the callback)
  uint64_t bytes_written = 0;        // wire bytes of those frames
  uint64_t frames_after_stop = 0;    // received after a stop/pause limit was reached: not kept
  uint64_t frames_paused = 0;        // seen while paused: passed to the stack
  uint64_t dropped_ring_full = 0;    // the socket's RX ring was full
  uint64_t dropped_fill_empty = 0;   // no free UMEM chunk (fill ring empty)
  uint64_t dropped_other = 0;        // any other loss between the program and the ring
  uint64_t dropped_write_error = 0;  // received, but the file could not take them (its write
                                     // failed, came after a failed one, or was cut off with it)
  uint64_t frames_no_metadata = 0;   // stamped when dequeued, not by the XDP program
                                     // (Timestamps=poller, or a driver without metadata room)
  uint64_t dropped() const {
    return dropped_ring_full + dropped_fill_empty + dropped_other + dropped_write_error;
  }
};

// Counters the NIC keeps (deltas since Start), from /sys/class/net/<if>/statistics.
struct NicCounters {
  uint64_t frames_received = 0;       // rx_packets
  uint64_t bytes_received = 0;        // rx_bytes
  uint64_t crc_errors = 0;            // rx_crc_errors
  uint64_t dropped_no_buffers = 0;    // rx_missed_errors + rx_fifo_errors + rx_over_errors
  uint64_t dropped_by_stack = 0;      // rx_dropped: lost in the driver/stack before or after XDP
  uint64_t multicasts_received = 0;   // multicast
  uint64_t hw_errors = 0;             // rx_errors - rx_crc_errors
};

struct Statistics {
  uint64_t time_elapsed_us = 0;
  uint64_t frames_captured = 0;       // in the file (or delivered to the callback)
  uint64_t bytes_captured = 0;        // wire bytes of those frames
  uint64_t frames_filtered = 0;       // passed the filter: redirected to a socket
  uint64_t bytes_filtered = 0;
  uint64_t frames_seen = 0;           // everything the NIC handed over on captured queues
  uint64_t bytes_seen = 0;
  uint64_t frames_dropped = 0;        // passed the filter, not saved: sum of the causes below
  uint64_t frames_dropped_from_buffer = 0;  // kept for the SDK layout: xesp never discards
  uint64_t dropped_ring_full = 0;
  uint64_t dropped_fill_empty = 0;
  uint64_t dropped_other = 0;
  uint64_t dropped_write_error = 0;
  uint64_t frames_paused = 0;
  uint64_t frames_after_stop = 0;
  // Received on RX queues the NIC gained after Connect (ethtool -L): the program has no socket
  // for them, so they pass to the stack, neither captured nor dropped. Reconnect to capture them.
  uint64_t frames_other_queues = 0;
  NicCounters nic;
  std::vector<QueueStatistics> queues;
};

}  // namespace xesp
