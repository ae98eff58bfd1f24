// The capture XDP program, loaded from the skeleton embedded in the binary. Owns the BPF object
// (program, XSKMAP, counters, the mmapped .bss with the run-time switches), none of which a
// forked child holds. Loading does not attach: that is XdpLink's job.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "base/result.hpp"
#include "xesp_shared.h"

struct xesp_capture_bpf;

namespace xesp::xdp {

// Per-queue counters summed over CPUs (same fields as the shared struct).
using QueueCounters = xesp_queue_counters;

// Field-wise sum and difference (the struct is C, shared with the program: no operators).
void counters_add(QueueCounters& sum, const QueueCounters& x);
QueueCounters counters_diff(const QueueCounters& now, const QueueCounters& base);

class XdpProgram {
 public:
  // queue_count: the NIC's RX queues; sizes the XSKMAP and the counter map.
  static Result<XdpProgram> load(uint32_t queue_count);

  XdpProgram(XdpProgram&&) noexcept;
  XdpProgram& operator=(XdpProgram&&) noexcept;
  ~XdpProgram();

  int prog_fd() const;
  uint32_t prog_id() const;
  uint32_t queue_count() const { return queue_count_; }

  // Puts the AF_XDP socket `xsk_fd` in the XSKMAP slot of `queue`.
  Status set_socket(uint32_t queue, int xsk_fd);
  Status clear_socket(uint32_t queue);

  // Flips the switches the program reads on every frame (no detach, no reload).
  void set_control(bool active, bool paused);

  // The program's no_meta switch (xesp_shared.h), set before a capture starts; pollers read it
  // through the pointer (an acquire load after the RX ring's) to know that frames come without
  // the time header.
  void set_no_meta(bool no_meta);
  const uint32_t* no_meta_flag() const;

  // Counters of one queue (or slot queue_count: out-of-range queues), summed over CPUs.
  Result<QueueCounters> read_counters(uint32_t slot) const;

 private:
  struct Loaded;  // the skeleton and the fork guards of what it holds, released together
  XdpProgram(std::unique_ptr<Loaded> loaded, uint32_t queue_count);
  xesp_capture_bpf* skel() const;

  std::unique_ptr<Loaded> loaded_;
  uint32_t queue_count_ = 0;
  uint32_t possible_cpus_ = 0;
};

// libbpf prints its own warnings to stderr; xesp mutes them unless asked (verbosity >= 2).
void set_libbpf_verbosity(int level);

}  // namespace xesp::xdp
