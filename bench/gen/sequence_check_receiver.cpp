#include "sequence_check_receiver.hpp"

#include <bpf/bpf.h>
#include <linux/if_link.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>
#include <vector>

namespace xesp::gen {
namespace {

static_assert(sizeof(xesp_gen_rx_stats) == XESP_GEN_RX_STATS_SIZE);

constexpr uint32_t kMaxWindow = 64u << 20;  // 256 MiB of counters is enough for any test

uint64_t load(const __u64& v) noexcept { return __atomic_load_n(&v, __ATOMIC_RELAXED); }

}  // namespace

Status SequenceCheckConfig::validate() const {
  if (window < 1 || window > kMaxWindow) {
    return Error::nm(
        nmerr::invalid_parameter,
        "window " + std::to_string(window) + ": must be within 1.." + std::to_string(kMaxWindow));
  }
  if (flows > 65536) {
    return Error::nm(nmerr::invalid_parameter,
                     "flows " + std::to_string(flows) + ": must be within 0..65536");
  }
  return {};
}

SequenceCheckReceiver::SequenceCheckReceiver(SequenceCheckConfig config, NetInterface nic,
                                             GenSkeleton skel, BpfLink link, bool native)
    : config_(std::move(config)),
      nic_(std::move(nic)),
      skel_(std::move(skel)),
      link_(std::move(link)),
      native_(native) {}

Result<SequenceCheckReceiver> SequenceCheckReceiver::attach(SequenceCheckConfig config) {
  if (Status s = config.validate(); !s) return std::move(s).error();
  auto nic = NetInterface::find(config.interface);
  if (!nic) return std::move(nic).error();

  GenSkeleton skel(xesp_gen_bpf__open());
  if (!skel) return Error::sys(errno, "receiver BPF program: open");
  bpf_program__set_autoload(skel->progs.xesp_gen_tx, false);
  if (int err = bpf_map__set_max_entries(skel->maps.rx_seq_hits, config.window); err != 0) {
    return Error::sys(-err, "receiver BPF program: window of " + std::to_string(config.window));
  }
  if (int err = xesp_gen_bpf__load(skel.get()); err != 0) {
    return Error::sys(-err, "receiver BPF program: load (needs CAP_BPF and CAP_NET_ADMIN)");
  }
  auto& rc = skel->bss->rx_config;
  rc.seq_base = config.seq_base;
  rc.window = config.window;
  rc.flows = config.flows;
  rc.src_port_base = config.src_port;
  rc.verdict = config.pass ? XDP_PASS : XDP_DROP;

  // A link (not netlink attach): it goes away with this process, and it fails with EBUSY
  // instead of replacing a program someone else attached.
  BpfLink link(bpf_program__attach_xdp(skel->progs.xesp_gen_rx, nic->index));
  if (!link) {
    const int err = errno;
    return Error::sys(err, "interface '" + config.interface + "': attach XDP" +
                               (err == EBUSY ? " (another XDP program is attached)" : ""));
  }
  LIBBPF_OPTS(bpf_xdp_query_opts, query);
  bool native = true;
  if (bpf_xdp_query(nic->index, 0, &query) == 0) native = query.attach_mode == XDP_ATTACHED_DRV;
  return SequenceCheckReceiver(std::move(config), std::move(*nic), std::move(skel), std::move(link),
                               native);
}

uint64_t SequenceCheckReceiver::frames() const noexcept {
  return load(skel_->bss->rx_stats.frames);
}

void SequenceCheckReceiver::settle(int quiet_ms, int max_ms) const {
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + std::chrono::milliseconds(max_ms);
  uint64_t last = frames();
  auto quiet_since = clock::now();
  while (clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const uint64_t now = frames();
    if (now != last) {
      last = now;
      quiet_since = clock::now();
    } else if (clock::now() - quiet_since >= std::chrono::milliseconds(quiet_ms)) {
      return;
    }
  }
}

Result<SequenceCheckReport> SequenceCheckReceiver::report(uint64_t expected) const {
  SequenceCheckReport r;
  const auto& s = skel_->bss->rx_stats;
  r.frames = load(s.frames);
  r.bytes = load(s.bytes);
  r.test_frames = load(s.test_frames);
  r.bad_header = load(s.bad_header);
  r.out_of_window = load(s.out_of_window);
  r.other_frames = load(s.other_frames);

  const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(expected, config_.window));
  const int fd = bpf_map__fd(skel_->maps.rx_seq_hits);
  constexpr uint32_t kChunk = 1u << 16;
  std::vector<uint32_t> keys(kChunk);
  std::vector<uint32_t> hits(kChunk);
  for (uint32_t first = 0; first < n; first += kChunk) {
    // Batched lookups of an array map start at the key after `in_batch`; the first call starts
    // at key 0, later ones continue from the previous call's out_batch.
    uint32_t count = std::min(kChunk, n - first);
    uint32_t out_batch = 0;
    uint32_t in_batch = first - 1;
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    const int rc = bpf_map_lookup_batch(fd, first == 0 ? nullptr : &in_batch, &out_batch,
                                        keys.data(), hits.data(), &count, &opts);
    if (rc != 0 && errno != ENOENT) {
      return Error::sys(errno, "receiver: reading the sequence counters");
    }
    for (uint32_t i = 0; i < count; ++i) {
      if (keys[i] >= n) break;
      if (hits[i] == 0) {
        r.missing++;
        if (!r.first_missing) r.first_missing = config_.seq_base + keys[i];
      } else {
        r.distinct++;
        r.duplicates += hits[i] - 1;
      }
    }
  }
  r.untracked = expected - n;
  return r;
}

}  // namespace xesp::gen
