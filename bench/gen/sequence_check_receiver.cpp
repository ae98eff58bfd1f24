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
// A per-CPU map lookup fills one value per possible CPU, each rounded up to 8 bytes; with a
// multiple of 8 that is a plain array of the struct.
static_assert(XESP_GEN_RX_STATS_SIZE % 8 == 0);

constexpr uint32_t kMaxWindow = 64u << 20;  // 256 MiB of counters is enough for any test

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
                                             GenSkeleton skel, BpfLink link, bool native,
                                             unsigned possible_cpus)
    : config_(std::move(config)),
      nic_(std::move(nic)),
      skel_(std::move(skel)),
      link_(std::move(link)),
      native_(native),
      percpu_stats_(possible_cpus) {}

Result<SequenceCheckReceiver> SequenceCheckReceiver::attach(SequenceCheckConfig config) {
  if (Status s = config.validate(); !s) return std::move(s).error();
  auto nic = NetInterface::find(config.interface);
  if (!nic) return std::move(nic).error();

  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return Error::sys(cpus < 0 ? -cpus : EINVAL, "receiver: counting possible CPUs");

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
                               native, static_cast<unsigned>(cpus));
}

bool SequenceCheckReceiver::read_stats(xesp_gen_rx_stats& sum) const noexcept {
  const uint32_t key = 0;
  const size_t bytes = percpu_stats_.size() * sizeof(xesp_gen_rx_stats);
  if (bpf_map__lookup_elem(skel_->maps.rx_stats, &key, sizeof(key), percpu_stats_.data(), bytes,
                           0) != 0) {
    return false;
  }
  sum = {};
  for (const xesp_gen_rx_stats& c : percpu_stats_) {
    sum.frames += c.frames;
    sum.bytes += c.bytes;
    sum.test_frames += c.test_frames;
    sum.bad_header += c.bad_header;
    sum.out_of_window += c.out_of_window;
    sum.other_frames += c.other_frames;
  }
  return true;
}

uint64_t SequenceCheckReceiver::frames() const noexcept {
  // A failed lookup (it should not fail for key 0 of a live map) repeats the last value, 0 before
  // any success: to settle() that reads as "nothing new arrived", never as an error.
  xesp_gen_rx_stats s;
  if (read_stats(s)) last_frames_ = s.frames;
  return last_frames_;
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
  xesp_gen_rx_stats s;
  if (!read_stats(s)) return Error::sys(errno, "receiver: reading the frame counters");
  r.frames = s.frames;
  r.bytes = s.bytes;
  r.test_frames = s.test_frames;
  r.bad_header = s.bad_header;
  r.out_of_window = s.out_of_window;
  r.other_frames = s.other_frames;

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
