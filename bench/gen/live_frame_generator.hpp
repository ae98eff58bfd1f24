// Sends test frames with BPF_PROG_RUN in live-frames mode (BPF_F_TEST_XDP_LIVE_FRAMES): the
// kernel runs the generator's XDP program on copies of one template frame, and every XDP_TX
// leaves the interface as a frame. Fast (~6 Mpps into a veth, on the sending CPU, whose
// softirq also runs the receiving veth's NAPI) but open loop: no pacing, and each call costs
// ~25 ms of set-up, so frames go out in calls of millions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "gen_skeleton.hpp"
#include "net_interface.hpp"
#include "send_report.hpp"
#include "test_frame.hpp"

namespace xesp::gen {

struct LiveGeneratorConfig {
  std::string interface;  // looked up in the calling thread's network namespace
  // Mixed sizes work (the program shrinks a 1514-byte template per frame); flows change the UDP
  // source port. Live frames are limited to one page: sizes above ~3.5 KB are refused by the
  // kernel, and a veth drops (device_drops) any frame above its MTU + 18.
  FrameSpec frame;
  uint64_t start_seq = 0;
  uint32_t batch_size = 64;  // frames per kernel batch, 1..256 (kernel limit)
  // Repeat count of one BPF_PROG_RUN. Each call with repeat > 1 costs ~25 ms on this kernel
  // (measured: 100 calls of 64 or of 1000 frames take 2.5 s), while a call with repeat == 1
  // costs ~10 us: consistent with test_run.c swapping the program into the XDP dispatcher and
  // back (bpf_prog_change_xdp, RCU grace periods) only when repeat > 1. At ~6 Mpps, 4 M frames per
  // call keep the overhead near 4%.
  uint32_t frames_per_call = 4'000'000;
  // >= 0: pin the calling thread to this CPU during send(). A veth peer receives XDP_TX frames
  // on its RX queue (sending CPU % queue count), so the CPU picks the queue.
  int cpu = -1;

  Status validate() const;
};

// Move-only owner of the loaded generator program. One send() at a time: the frame count comes
// from the program's sequence counter. To fill several RX queues at once, run one generator per
// thread, each with its own CPU and a disjoint start_seq range.
class LiveFrameGenerator {
 public:
  static Result<LiveFrameGenerator> open(LiveGeneratorConfig config);

  // Sends `count` frames in calls of at most frames_per_call, continuing the sequence. The count
  // comes from the program's own sequence counter, so it is exact even for a call cut short.
  Result<SendReport> send(uint64_t count);

  uint64_t next_seq() const noexcept;
  // The sequence number the template (and so the fill of every frame) was built for.
  uint64_t template_seq() const noexcept { return config_.start_seq; }
  // The bytes the peer receives for frame `seq`.
  std::vector<uint8_t> expected_frame(uint64_t seq) const;
  const NetInterface& interface() const noexcept { return nic_; }
  const LiveGeneratorConfig& config() const noexcept { return config_; }

 private:
  LiveFrameGenerator(LiveGeneratorConfig config, NetInterface nic, GenSkeleton skel,
                     std::vector<uint8_t> frame_template);

  LiveGeneratorConfig config_;
  NetInterface nic_;
  GenSkeleton skel_;
  std::vector<uint8_t> template_;
};

}  // namespace xesp::gen
