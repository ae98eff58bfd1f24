#include "live_frame_generator.hpp"

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "scoped_cpu_pin.hpp"

namespace xesp::gen {
namespace {

constexpr uint32_t kMaxKernelBatch = 256;  // TEST_XDP_MAX_BATCH in net/bpf/test_run.c

}  // namespace

Status LiveGeneratorConfig::validate() const {
  if (Status s = frame.validate(); !s) return s;
  if (batch_size < 1 || batch_size > kMaxKernelBatch) {
    return Error::nm(nmerr::invalid_parameter, "batch size " + std::to_string(batch_size) +
                                                   ": must be within 1.." +
                                                   std::to_string(kMaxKernelBatch));
  }
  if (frames_per_call < 1) {
    return Error::nm(nmerr::invalid_parameter, "frames per call: must be at least 1");
  }
  return {};
}

LiveFrameGenerator::LiveFrameGenerator(LiveGeneratorConfig config, NetInterface nic,
                                       GenSkeleton skel, std::vector<uint8_t> frame_template)
    : config_(std::move(config)),
      nic_(std::move(nic)),
      skel_(std::move(skel)),
      template_(std::move(frame_template)) {}

Result<LiveFrameGenerator> LiveFrameGenerator::open(LiveGeneratorConfig config) {
  if (Status s = config.validate(); !s) return std::move(s).error();
  auto nic = NetInterface::find(config.interface);
  if (!nic) return std::move(nic).error();

  GenSkeleton skel(xesp_gen_bpf__open());
  if (!skel) return Error::sys(errno, "generator BPF program: open");
  const FrameSpec& spec = config.frame;
  skel->rodata->gen_flows = spec.flows;
  skel->rodata->gen_src_port_base = spec.src_port;
  skel->rodata->gen_mixed_sizes = spec.mixed_sizes ? 1 : 0;
  // Only the sending program: the receiving one is loaded by SequenceCheckReceiver.
  bpf_program__set_autoload(skel->progs.xesp_gen_rx, false);
  if (int err = xesp_gen_bpf__load(skel.get()); err != 0) {
    return Error::sys(-err, "generator BPF program: load (needs CAP_BPF and CAP_NET_ADMIN)");
  }
  skel->bss->gen_next_seq = config.start_seq;
  skel->bss->gen_aborted = 0;

  // Mixed sizes: the template has the largest size and the program shrinks each frame.
  FrameSpec tmpl_spec = spec;
  if (spec.mixed_sizes) {
    tmpl_spec.mixed_sizes = false;
    tmpl_spec.frame_size = kMixedMaxFrameSize;
  }
  std::vector<uint8_t> tmpl = build_test_frame(tmpl_spec, config.start_seq);
  return LiveFrameGenerator(std::move(config), std::move(*nic), std::move(skel), std::move(tmpl));
}

uint64_t LiveFrameGenerator::next_seq() const noexcept {
  return __atomic_load_n(&skel_->bss->gen_next_seq, __ATOMIC_RELAXED);
}

std::vector<uint8_t> LiveFrameGenerator::expected_frame(uint64_t seq) const {
  return build_live_test_frame(config_.frame, seq, template_seq());
}

Result<SendReport> LiveFrameGenerator::send(uint64_t count) {
  auto pin = ScopedCpuPin::pin(config_.cpu);
  if (!pin) return std::move(pin).error();
  auto before = nic_.counters();
  if (!before) return std::move(before).error();

  SendReport report;
  report.first_seq = next_seq();
  const int prog_fd = bpf_program__fd(skel_->progs.xesp_gen_tx);
  const auto t0 = std::chrono::steady_clock::now();

  while (report.frames < count) {
    const auto repeat =
        static_cast<uint32_t>(std::min<uint64_t>(config_.frames_per_call, count - report.frames));
    // The frame "arrives" on this interface's RX queue 0 and XDP_TX sends it back out of the
    // same interface, i.e. to the veth peer.
    xdp_md ctx{};
    ctx.data_end = static_cast<__u32>(template_.size());
    ctx.ingress_ifindex = static_cast<__u32>(nic_.index);
    ctx.rx_queue_index = 0;
    bpf_test_run_opts opts{};
    opts.sz = sizeof opts;
    opts.data_in = template_.data();
    opts.data_size_in = static_cast<__u32>(template_.size());
    opts.ctx_in = &ctx;
    opts.ctx_size_in = sizeof ctx;
    opts.repeat = repeat;
    opts.flags = BPF_F_TEST_XDP_LIVE_FRAMES;
    opts.batch_size = config_.batch_size;

    const uint64_t seq_before = next_seq();
    const uint64_t aborted_before = skel_->bss->gen_aborted;
    const int rc = bpf_prog_test_run_opts(prog_fd, &opts);
    const int err = rc != 0 ? errno : 0;
    // The program's own counter says how many frames it produced, also when the call was cut
    // short by a signal (EINTR) after an unknown number of repeats.
    const uint64_t produced = next_seq() - seq_before;
    const uint64_t aborted = skel_->bss->gen_aborted - aborted_before;
    report.frames += produced - aborted;
    if (produced > 0) report.calls++;
    if (err != 0) {
      std::string hint;
      if (err == EINVAL) {
        hint = " (live frames need a frame of at most ~3.5 KB and an interface that is up)";
      }
      return Error::sys(err, "interface '" + nic_.name + "': BPF_PROG_RUN live frames after " +
                                 std::to_string(report.frames) + " frames" + hint);
    }
    if (aborted > 0 || produced != repeat) {
      return Error::nm(nmerr::invalid_parameter,
                       "interface '" + nic_.name + "': generator program produced " +
                           std::to_string(produced - aborted) + " of " + std::to_string(repeat) +
                           " frames of one call");
    }
  }

  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const FrameSpec& spec = config_.frame;
  if (spec.mixed_sizes) {
    for (uint64_t s = report.first_seq; s < report.first_seq + report.frames; ++s) {
      report.bytes += mixed_frame_size(s);
    }
  } else {
    report.bytes = report.frames * spec.frame_size;
  }
  auto after = nic_.counters();
  if (!after) return std::move(after).error();
  if (after->has_xdp_xmit) {
    // Kernel 6.18: an XDP_TX frame the veth cannot hand to its peer (peer without an XDP
    // program or GRO, so without NAPI) vanishes without touching any counter of the device,
    // tx_dropped and xdp_xmit_errors included. The one trace is in what the peer did take: the
    // sender's tx_queue_<n>_xdp_xmit. (Assumes nothing else redirects into this device now.)
    const uint64_t delivered = after->xdp_xmit - before->xdp_xmit;
    report.device_drops = report.frames - std::min(report.frames, delivered);
  } else {
    report.device_drops = after->drops_since(*before);
  }
  return report;
}

}  // namespace xesp::gen
