#include "xdp/umem_area.hpp"

#include <sys/mman.h>
#include <xdp/xsk.h>

#include <string>

namespace xesp::xdp {

struct UmemArea::State {
  UmemConfig config;
  void* area = MAP_FAILED;
  size_t size = 0;
  bool huge = false;
  xsk_umem* umem = nullptr;
  xsk_ring_prod fill{};
  xsk_ring_cons comp{};

  ~State() {
    if (umem) xsk_umem__delete(umem);  // sockets on it are deleted first (XskSocket)
    if (area != MAP_FAILED) ::munmap(area, size);
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
  return UmemArea(std::move(state));
}

uint8_t* UmemArea::base() const { return static_cast<uint8_t*>(state_->area); }
bool UmemArea::on_huge_pages() const { return state_->huge; }
size_t UmemArea::size() const { return state_->size; }
const UmemConfig& UmemArea::config() const { return state_->config; }
xsk_umem* UmemArea::umem() const { return state_->umem; }
xsk_ring_prod* UmemArea::fill() const { return &state_->fill; }
xsk_ring_cons* UmemArea::comp() const { return &state_->comp; }

}  // namespace xesp::xdp
