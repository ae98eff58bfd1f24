// The receiving side of a generator self-test: an XDP program on the peer interface that counts
// test frames and how often each sequence number arrived, then drops (or passes) every frame.
// Also what makes XDP_TX frames of the live generator arrive at all: a veth delivers them only
// when the receiving end has a native XDP program (or GRO on, for generic mode).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "gen_skeleton.hpp"
#include "net_interface.hpp"

namespace xesp::gen {

struct SequenceCheckConfig {
  std::string interface;       // looked up in the calling thread's network namespace
  uint64_t seq_base = 0;       // first sequence number expected
  uint32_t window = 1u << 20;  // sequence numbers tracked one by one (4 bytes each, in a map)
  uint32_t flows = 0;          // > 0: check flow = seq % flows and the UDP source port
  uint16_t src_port = 10000;   // UDP source port of flow 0
  bool pass = false;           // XDP_PASS instead of XDP_DROP (let the stack see the frames)

  Status validate() const;
};

struct SequenceCheckReport {
  uint64_t frames = 0;  // every frame the program ran on
  uint64_t bytes = 0;
  uint64_t test_frames = 0;
  uint64_t bad_header = 0;     // length, flow or port disagree with the frame
  uint64_t out_of_window = 0;  // test frames outside [seq_base, seq_base + window)
  uint64_t other_frames = 0;   // not test frames
  // Over the first `expected` sequence numbers, as far as the window reaches:
  uint64_t distinct = 0;    // arrived at least once
  uint64_t missing = 0;     // never arrived
  uint64_t duplicates = 0;  // arrivals beyond the first
  std::optional<uint64_t> first_missing;
  // Expected sequence numbers beyond the window: they can only show up in out_of_window.
  uint64_t untracked = 0;

  // Every expected frame arrived exactly once (beyond the window: as many as expected) and
  // nothing else odd came along.
  bool exact() const noexcept {
    return missing == 0 && duplicates == 0 && bad_header == 0 && out_of_window == untracked;
  }
};

// Move-only; detaches the program when destroyed (through its BPF link).
class SequenceCheckReceiver {
 public:
  static Result<SequenceCheckReceiver> attach(SequenceCheckConfig config);

  // Frames the program has run on so far, summed over CPUs (one syscall; for waiting until
  // arrivals settle). Not thread-safe: it reuses one buffer.
  uint64_t frames() const noexcept;
  // Waits until no frame has arrived for `quiet_ms` (at most `max_ms`): a veth delivers from
  // its ring in NAPI after the sender returned.
  void settle(int quiet_ms = 50, int max_ms = 2000) const;
  // Counts over the first `expected` sequence numbers (clamped to the window).
  Result<SequenceCheckReport> report(uint64_t expected) const;
  // "native" or "generic": how the kernel attached the program.
  const char* mode() const noexcept { return native_ ? "native" : "generic"; }
  const NetInterface& interface() const noexcept { return nic_; }

 private:
  SequenceCheckReceiver(SequenceCheckConfig config, NetInterface nic, GenSkeleton skel,
                        BpfLink link, bool native, unsigned possible_cpus);
  // Sums the per-CPU copies of the program's counters; false (errno set) if the lookup failed.
  bool read_stats(xesp_gen_rx_stats& sum) const noexcept;

  SequenceCheckConfig config_;
  NetInterface nic_;
  GenSkeleton skel_;  // declared before link_: the link goes first
  BpfLink link_;
  bool native_ = true;
  // One slot per possible CPU for reading the per-CPU rx_stats map; allocated once at attach
  // so that frames(), polled every few ms, neither allocates nor throws.
  mutable std::vector<xesp_gen_rx_stats> percpu_stats_;
  mutable uint64_t last_frames_ = 0;  // frames() falls back to it when a lookup fails
};

}  // namespace xesp::gen
