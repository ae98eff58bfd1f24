#include "xdp/xdp_program.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>

#include "base/fork_guard.hpp"
#include "xesp_capture_bpf.skel.h"

static_assert(sizeof(xesp_meta) == XESP_META_SIZE);
static_assert(sizeof(xesp_queue_counters) == XESP_QUEUE_COUNTERS_SIZE);
static_assert(sizeof(xesp_control) == 16);

namespace xesp::xdp {
namespace {

std::atomic<int> g_libbpf_verbosity{0};

int libbpf_print(enum libbpf_print_level level, const char* fmt, va_list args) {
  int v = g_libbpf_verbosity.load(std::memory_order_relaxed);
  if (v < 2 || (level == LIBBPF_DEBUG && v < 3)) return 0;
  return std::vfprintf(stderr, fmt, args);
}

constexpr size_t kCounterFields = sizeof(QueueCounters) / sizeof(uint64_t);

uint64_t* fields(QueueCounters& c) { return reinterpret_cast<uint64_t*>(&c); }
const uint64_t* fields(const QueueCounters& c) { return reinterpret_cast<const uint64_t*>(&c); }

}  // namespace

void counters_add(QueueCounters& sum, const QueueCounters& x) {
  for (size_t i = 0; i < kCounterFields; ++i) fields(sum)[i] += fields(x)[i];
}

QueueCounters counters_diff(const QueueCounters& now, const QueueCounters& base) {
  QueueCounters out{};
  for (size_t i = 0; i < kCounterFields; ++i) fields(out)[i] = fields(now)[i] - fields(base)[i];
  return out;
}

void set_libbpf_verbosity(int level) {
  g_libbpf_verbosity.store(level);
  libbpf_set_print(libbpf_print);
}

struct XdpProgram::Loaded {
  xesp_capture_bpf* skel = nullptr;
  std::vector<ForkGuard> fork_guards;  // every fd and mapping of skel

  ~Loaded() {
    ForkFence fence;  // unregistered and released as one step for a fork in another thread
    fork_guards.clear();
    xesp_capture_bpf__destroy(skel);
  }

  Status keep(Result<ForkGuard> guard) {
    if (!guard) return std::move(guard).error();
    fork_guards.push_back(std::move(guard).value());
    return {};
  }

  // Everything the loaded object holds in the kernel or maps from it, registered with the fork
  // guard: program, map and BTF fds, links the skeleton made (none: XdpLink attaches), and the
  // maps libbpf mmapped for the skeleton (.bss, .rodata: MAP_SHARED views of the maps, each
  // holding a reference to its map).
  Status guard_from_fork() {
    bpf_object* obj = skel->obj;
    bpf_program* prog = nullptr;
    bpf_object__for_each_program(prog, obj) {
      if (bpf_program__fd(prog) < 0) continue;
      auto st = keep(ForkGuard::fd(bpf_program__fd(prog),
                                   std::string("BPF program '") + bpf_program__name(prog) + "'"));
      if (!st) return st;
    }
    bpf_map* map = nullptr;
    bpf_object__for_each_map(map, obj) {
      if (bpf_map__fd(map) < 0) continue;
      auto st = keep(
          ForkGuard::fd(bpf_map__fd(map), std::string("BPF map '") + bpf_map__name(map) + "'"));
      if (!st) return st;
    }
    if (const int btf_fd = bpf_object__btf_fd(obj); btf_fd >= 0) {
      if (auto st = keep(ForkGuard::fd(btf_fd, "the XDP program's BTF")); !st) return st;
    }
    // The skeleton's arrays are walked with the strides it declares, as libbpf does.
    const bpf_object_skeleton* s = skel->skeleton;
    for (int i = 0; i < s->prog_cnt; ++i) {
      const auto* p = reinterpret_cast<const bpf_prog_skeleton*>(
          reinterpret_cast<const char*>(s->progs) + static_cast<size_t>(i) * s->prog_skel_sz);
      if (!p->link || !*p->link || bpf_link__fd(*p->link) < 0) continue;
      auto st =
          keep(ForkGuard::fd(bpf_link__fd(*p->link), std::string("BPF link of '") + p->name + "'"));
      if (!st) return st;
    }
    for (int i = 0; i < s->map_cnt; ++i) {
      const auto* m = reinterpret_cast<const bpf_map_skeleton*>(
          reinterpret_cast<const char*>(s->maps) + static_cast<size_t>(i) * s->map_skel_sz);
      if (!m->mmaped || !*m->mmaped) continue;
      // libbpf's bpf_map_mmap_sz(): values 8-byte aligned, rounded up to pages (ForkGuard does).
      const bpf_map* mm = *m->map;
      const size_t length =
          (static_cast<size_t>(bpf_map__value_size(mm)) + 7) / 8 * 8 * bpf_map__max_entries(mm);
      auto st = keep(
          ForkGuard::mapping(*m->mmaped, length, std::string("mmapped BPF map '") + m->name + "'"));
      if (!st) return st;
    }
    return {};
  }
};

XdpProgram::XdpProgram(std::unique_ptr<Loaded> loaded, uint32_t queue_count)
    : loaded_(std::move(loaded)), queue_count_(queue_count) {
  int cpus = libbpf_num_possible_cpus();
  possible_cpus_ = cpus > 0 ? static_cast<uint32_t>(cpus) : 1;
}
XdpProgram::XdpProgram(XdpProgram&&) noexcept = default;
XdpProgram& XdpProgram::operator=(XdpProgram&&) noexcept = default;
XdpProgram::~XdpProgram() = default;

xesp_capture_bpf* XdpProgram::skel() const { return loaded_->skel; }

Result<XdpProgram> XdpProgram::load(uint32_t queue_count) {
  if (queue_count == 0 || queue_count > XESP_MAX_QUEUES)
    return Error::nm(nmerr::invalid_parameter,
                     "queue count " + std::to_string(queue_count) + " out of range 1.." +
                         std::to_string(XESP_MAX_QUEUES));
  set_libbpf_verbosity(g_libbpf_verbosity.load());
  auto loaded = std::make_unique<Loaded>();
  loaded->skel = xesp_capture_bpf__open();
  if (!loaded->skel) return Error::sys(errno, "opening the embedded XDP program");
  xesp_capture_bpf* skel = loaded->skel;
  skel->rodata->queue_count = queue_count;
  if (int err = bpf_map__set_max_entries(skel->maps.xsks, queue_count))
    return Error::sys(-err, "sizing the XSKMAP");
  if (int err = bpf_map__set_max_entries(skel->maps.queue_counters, queue_count + 1))
    return Error::sys(-err, "sizing the counter map");
  // Loading creates every fd and mapping: a fork in another thread waits until they are all
  // registered (the verifier's few milliseconds).
  ForkFence fence;
  if (int err = xesp_capture_bpf__load(skel)) {
    int e = -err;
    std::string hint = (e == EPERM || e == EACCES)
                           ? " (loading BPF programs needs CAP_BPF or CAP_SYS_ADMIN)"
                           : "";
    return Error::sys(e, "loading the XDP program into the kernel" + hint);
  }
  if (auto st = loaded->guard_from_fork(); !st) return std::move(st).error();
  return XdpProgram(std::move(loaded), queue_count);
}

int XdpProgram::prog_fd() const { return bpf_program__fd(skel()->progs.xesp_capture); }

uint32_t XdpProgram::prog_id() const {
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(prog_fd(), &info, &len) != 0) return 0;
  return info.id;
}

Status XdpProgram::set_socket(uint32_t queue, int xsk_fd) {
  int map_fd = bpf_map__fd(skel()->maps.xsks);
  if (bpf_map_update_elem(map_fd, &queue, &xsk_fd, BPF_ANY) != 0)
    return Error::sys(errno, "adding the socket of queue " + std::to_string(queue) + " to the XSKMAP");
  return {};
}

Status XdpProgram::clear_socket(uint32_t queue) {
  int map_fd = bpf_map__fd(skel()->maps.xsks);
  if (bpf_map_delete_elem(map_fd, &queue) != 0 && errno != ENOENT)
    return Error::sys(errno, "removing queue " + std::to_string(queue) + " from the XSKMAP");
  return {};
}

void XdpProgram::set_control(bool active, bool paused) {
  // The .bss page is shared with the program; atomic_ref orders the two stores and keeps the
  // compiler from caching or merging them. The program sees each store on its next frame.
  // Ending a capture clears `active` first: cleared the other way round, Stop from Paused would
  // let a frame see (active, not paused) in between and be redirected.
  auto& ctl = skel()->bss->control;
  std::atomic_ref<uint32_t> a(const_cast<uint32_t&>(ctl.active));
  std::atomic_ref<uint32_t> p(const_cast<uint32_t&>(ctl.paused));
  if (!active) {
    a.store(0);
    p.store(paused ? 1 : 0);
  } else {
    p.store(paused ? 1 : 0);
    a.store(1);
  }
}

void XdpProgram::set_no_meta(bool no_meta) {
  auto& ctl = skel()->bss->control;
  std::atomic_ref<uint32_t>(const_cast<uint32_t&>(ctl.no_meta)).store(no_meta ? 1 : 0);
}

const uint32_t* XdpProgram::no_meta_flag() const {
  return const_cast<const uint32_t*>(&skel()->bss->control.no_meta);
}

Result<QueueCounters> XdpProgram::read_counters(uint32_t slot) const {
  std::vector<QueueCounters> per_cpu(possible_cpus_);
  int map_fd = bpf_map__fd(skel()->maps.queue_counters);
  if (bpf_map_lookup_elem(map_fd, &slot, per_cpu.data()) != 0)
    return Error::sys(errno, "reading the XDP counters of queue " + std::to_string(slot));
  QueueCounters sum{};
  for (const auto& c : per_cpu) counters_add(sum, c);
  return sum;
}

}  // namespace xesp::xdp
