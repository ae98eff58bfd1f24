#include "xdp/umem_area.hpp"

#include <sys/mman.h>
#include <xdp/xsk.h>

#include <string>
#include <utility>
#include <vector>

#include "base/fork_guard.hpp"
#include "xdp/xsk_fork_guards.hpp"

namespace xesp::xdp {

struct UmemArea::State {
  UmemConfig config;
  void* area = MAP_FAILED;
  size_t size = 0;
  bool huge = false;
  xsk_umem* umem = nullptr;
  xsk_ring_prod fill{};
  xsk_ring_cons comp{};
  // Kept from forked children: the area, the UMEM's socket fd, and its fill and completion rings
  // until the first socket takes them (take_ring_fork_guards).
  ForkGuard area_guard;
  ForkGuard socket_guard;
  std::vector<ForkGuard> ring_guards;

  ~State() {
    ForkFence fence;  // unregistered and released as one step for a fork in another thread
    ring_guards.clear();
    socket_guard.reset();
    area_guard.reset();
    if (umem) xsk_umem__delete(umem);  // sockets on it are deleted first (XskSocket)
    if (area != MAP_FAILED) ::munmap(area, size);
  }

  // What xsk_umem__create made (its socket and the fill and completion rings), registered with
  // the fork guard.
  Status guard_umem(const std::string& what) {
    const int fd = xsk_umem__fd(umem);
    auto socket = guard_xsk_fd(fd, what + ": AF_XDP socket");
    if (!socket) return std::move(socket).error();
    socket_guard = std::move(socket).value();
    auto fill_ring =
        guard_xsk_ring(fd, XskRing::fill, fill.ring, config.fill_size, what + ": fill ring");
    if (!fill_ring) return std::move(fill_ring).error();
    ring_guards.push_back(std::move(fill_ring).value());
    auto comp_ring = guard_xsk_ring(fd, XskRing::completion, comp.ring, config.comp_size,
                                    what + ": completion ring");
    if (!comp_ring) return std::move(comp_ring).error();
    ring_guards.push_back(std::move(comp_ring).value());
    return {};
  }
};

UmemArea::UmemArea(std::unique_ptr<State> state) : state_(std::move(state)) {}
UmemArea::UmemArea(UmemArea&&) noexcept = default;
UmemArea& UmemArea::operator=(UmemArea&&) noexcept = default;
UmemArea::~UmemArea() = default;

Result<UmemArea> UmemArea::create(const UmemConfig& config) {
  auto state = std::make_unique<State>();
  state->config = config;
  state->size = static_cast<size_t>(config.frame_size) * config.frame_count;
  const std::string what = "UMEM of " + std::to_string(state->size >> 20) + " MiB";
  constexpr size_t kHugePage = 2u << 20;
  const int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE;
  // From the mapping to the last registration, a fork in another thread waits: a child never
  // gets the area (64 MiB by default, pinned: fork would copy it at once) nor the socket.
  ForkFence fence;
  if (config.hugepages != HugePages::no) {
    if (state->size % kHugePage == 0)
      state->area = ::mmap(nullptr, state->size, PROT_READ | PROT_WRITE, flags | MAP_HUGETLB, -1, 0);
    if (state->area == MAP_FAILED && config.hugepages == HugePages::yes) {
      const int e = state->size % kHugePage == 0 ? errno : EINVAL;
      return Error::sys(e, what + " on 2 MiB pages (reserve them: /proc/sys/vm/nr_hugepages; the "
                                  "size must be a multiple of 2 MiB)");
    }
    state->huge = state->area != MAP_FAILED;
  }
  if (state->area == MAP_FAILED)
    state->area = ::mmap(nullptr, state->size, PROT_READ | PROT_WRITE, flags, -1, 0);
  if (state->area == MAP_FAILED) return Error::sys(errno, what);
  // MADV_DONTFORK before AF_XDP pins the pages; it holds on 2 MiB pages too.
  auto area_guard = ForkGuard::mapping(state->area, state->size, what);
  if (!area_guard) return std::move(area_guard).error();
  state->area_guard = std::move(area_guard).value();
  xsk_umem_config cfg{};
  cfg.fill_size = config.fill_size;
  cfg.comp_size = config.comp_size;
  cfg.frame_size = config.frame_size;
  cfg.frame_headroom = 0;
  cfg.flags = 0;
  if (int err = xsk_umem__create(&state->umem, state->area, state->size, &state->fill,
                                 &state->comp, &cfg)) {
    state->umem = nullptr;
    int e = -err;
    std::string hint;
    if (e == ENOMEM || e == EPERM || e == ENOBUFS)
      hint = " (pinning packet memory needs CAP_IPC_LOCK or a larger RLIMIT_MEMLOCK)";
    else if (e == EAFNOSUPPORT)
      hint = " (the kernel has no AF_XDP support)";
    return Error::sys(e, "registering the " + what + " with AF_XDP" + hint);
  }
  if (auto st = state->guard_umem(what); !st) return std::move(st).error();
  return UmemArea(std::move(state));
}

uint8_t* UmemArea::base() const { return static_cast<uint8_t*>(state_->area); }
bool UmemArea::on_huge_pages() const { return state_->huge; }
size_t UmemArea::size() const { return state_->size; }
const UmemConfig& UmemArea::config() const { return state_->config; }
xsk_umem* UmemArea::umem() const { return state_->umem; }
xsk_ring_prod* UmemArea::fill() const { return &state_->fill; }
xsk_ring_cons* UmemArea::comp() const { return &state_->comp; }
std::vector<ForkGuard> UmemArea::take_ring_fork_guards() {
  return std::exchange(state_->ring_guards, {});
}

}  // namespace xesp::xdp
