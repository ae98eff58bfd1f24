#include "base/fork_guard.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <string>

namespace xesp {
namespace {

// Why fixed arrays of atomics and no lock: the child handler runs in a copy of the process where
// only the forking thread exists. A mutex another thread held at the fork stays held forever
// there, so the handler may take none; it reads these slots with plain atomic loads, which see
// a consistent value whatever the other threads were doing. Registering is a compare-exchange
// on one slot, so it needs no lock either.
//
// Sizes: a queue registers two fds (its socket and its UMEM share one number, each registers it)
// and four mappings (UMEM, fill, completion and RX rings); XESP_MAX_QUEUES is 1024.
constexpr size_t kFdSlots = 4096;
constexpr size_t kMappingSlots = 8192;

// fd + 1, so that static storage's zero is a free slot and no constructor has to run first.
std::atomic<int> g_fds[kFdSlots];

struct MappingSlot {
  std::atomic<uintptr_t> begin;  // 0: free; set first when claimed, cleared last when freed
  std::atomic<size_t> length;    // 0 while being claimed or freed: the child skips the slot
};
MappingSlot g_mappings[kMappingSlots];

// The fence: threads inside a ForkFence (outermost scopes only), and forks between their
// prepare and parent handlers. Each side increments its own counter, then reads the other's
// (both sequentially consistent), so at least one of them sees the other: either the fork
// waits for the fence, or the fence steps back and waits for the fork.
std::atomic<uint32_t> g_fenced{0};
std::atomic<uint32_t> g_forking{0};
thread_local uint32_t t_fence_depth = 0;

void prepare() noexcept {
  g_forking.fetch_add(1);
  // A fork from inside our own fence (a signal handler) must not wait for itself.
  const uint32_t mine = t_fence_depth > 0 ? 1 : 0;
  for (uint32_t n = g_fenced.load(); n != mine; n = g_fenced.load()) g_fenced.wait(n);
}

void parent() noexcept {
  g_forking.fetch_sub(1);
  g_forking.notify_all();
}

// Only async-signal-safe calls from here: eventfd, dup3, close, mmap are plain system calls.
void child() noexcept {
  // The other threads, their fences and forks do not exist here.
  g_forking.store(0, std::memory_order_relaxed);
  g_fenced.store(t_fence_depth > 0 ? 1 : 0, std::memory_order_relaxed);

  int placeholder = -1;
  for (auto& slot : g_fds) {
    const int v = slot.load(std::memory_order_relaxed);
    if (v == 0) continue;
    const int fd = v - 1;
    if (fd == placeholder) {
      placeholder = -1;  // that number was free at the fork: it is a placeholder already
    } else {
      if (placeholder < 0) placeholder = ::eventfd(0, EFD_CLOEXEC);
      // dup3 swaps the file under the number in one step; without a placeholder (no fd left
      // for one), closing still drops the object, at the price of a free number.
      if (placeholder < 0 || ::dup3(placeholder, fd, O_CLOEXEC) < 0) ::close(fd);
    }
    slot.store(0, std::memory_order_relaxed);
  }
  if (placeholder >= 0) ::close(placeholder);

  for (auto& slot : g_mappings) {
    const uintptr_t begin = slot.begin.load(std::memory_order_relaxed);
    const size_t length = slot.length.load(std::memory_order_relaxed);
    if (begin == 0) continue;
    // MADV_DONTFORK left nothing there; where the kernel refused the advice this replaces the
    // inherited mapping (and drops its reference to the socket or map behind it).
    if (length != 0)
      (void)::mmap(reinterpret_cast<void*>(begin), length, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
    slot.length.store(0, std::memory_order_relaxed);
    slot.begin.store(0, std::memory_order_relaxed);
  }
}

// pthread_atfork from a shared object is unregistered by glibc when it is unloaded (dlclose),
// so libxesp.so leaves no handler pointing into unmapped code.
bool handlers_installed() noexcept {
  static const bool installed = ::pthread_atfork(prepare, parent, child) == 0;
  return installed;
}

Error registry_full(const char* kind, size_t capacity, std::string_view what) {
  return Error::sys(kind[0] == 'f' ? EMFILE : ENOMEM,
                    std::string(what) + ": more than " + std::to_string(capacity) + " " + kind +
                        " kept from forked children in this process");
}

}  // namespace

ForkFence::ForkFence() noexcept {
  (void)handlers_installed();
  if (t_fence_depth++ > 0) return;
  for (;;) {
    for (uint32_t f = g_forking.load(); f != 0; f = g_forking.load()) g_forking.wait(f);
    g_fenced.fetch_add(1);
    if (g_forking.load() == 0) return;
    // A fork began between the check and the increment: step back and let it finish.
    g_fenced.fetch_sub(1);
    g_fenced.notify_all();
  }
}

ForkFence::~ForkFence() {
  if (--t_fence_depth > 0) return;
  g_fenced.fetch_sub(1);
  g_fenced.notify_all();
}

Result<ForkGuard> ForkGuard::fd(int fd, std::string_view what) {
  if (fd < 0) return Error::sys(EBADF, std::string(what) + ": keeping it from forked children");
  if (!handlers_installed())
    return Error::sys(ENOMEM, std::string(what) + ": installing the fork handlers");
  for (uint32_t i = 0; i < kFdSlots; ++i) {
    int expected = 0;
    if (g_fds[i].load(std::memory_order_relaxed) == 0 &&
        g_fds[i].compare_exchange_strong(expected, fd + 1))
      return ForkGuard(Kind::fd, i, static_cast<uintptr_t>(fd) + 1);
  }
  return registry_full("fds", kFdSlots, what);
}

Result<ForkGuard> ForkGuard::mapping(void* addr, size_t length, std::string_view what) {
  static const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(addr);
  if (begin == 0 || length == 0 || begin % page != 0)
    return Error::sys(EINVAL, std::string(what) + ": keeping it from forked children");
  length = (length + page - 1) / page * page;
  if (!handlers_installed())
    return Error::sys(ENOMEM, std::string(what) + ": installing the fork handlers");
  ForkFence fence;  // the advice and the registration as one step for a fork
  if (::madvise(addr, length, MADV_DONTFORK) != 0 && errno != EINVAL)
    return Error::sys(errno, std::string(what) + ": madvise(MADV_DONTFORK)");
  for (uint32_t i = 0; i < kMappingSlots; ++i) {
    uintptr_t expected = 0;
    if (g_mappings[i].begin.load(std::memory_order_relaxed) == 0 &&
        g_mappings[i].begin.compare_exchange_strong(expected, begin)) {
      g_mappings[i].length.store(length);
      return ForkGuard(Kind::mapping, i, begin);
    }
  }
  return registry_full("mappings", kMappingSlots, what);
}

ForkGuard::ForkGuard(ForkGuard&& other) noexcept
    : kind_(std::exchange(other.kind_, Kind::none)), slot_(other.slot_), key_(other.key_) {}

ForkGuard& ForkGuard::operator=(ForkGuard&& other) noexcept {
  if (this != &other) {
    reset();
    kind_ = std::exchange(other.kind_, Kind::none);
    slot_ = other.slot_;
    key_ = other.key_;
  }
  return *this;
}

void ForkGuard::reset() noexcept {
  // Compare before clearing: in a child the registry was emptied and the slot may hold someone
  // else's registration by now.
  switch (std::exchange(kind_, Kind::none)) {
    case Kind::none:
      break;
    case Kind::fd: {
      int expected = static_cast<int>(key_);
      g_fds[slot_].compare_exchange_strong(expected, 0);
      break;
    }
    case Kind::mapping: {
      MappingSlot& s = g_mappings[slot_];
      if (s.begin.load() == key_) {
        s.length.store(0);
        s.begin.store(0);
      }
      break;
    }
  }
}

Result<ForkGuardedFd> ForkGuardedFd::adopt(UniqueFd fd, std::string_view what) {
  auto guard = ForkGuard::fd(fd.get(), what);
  if (!guard) return std::move(guard).error();
  return ForkGuardedFd(std::move(fd), std::move(guard).value());
}

ForkGuardedFd& ForkGuardedFd::operator=(ForkGuardedFd&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = std::move(other.fd_);
    guard_ = std::move(other.guard_);
  }
  return *this;
}

void ForkGuardedFd::reset() noexcept {
  if (!fd_ && !guard_) return;
  ForkFence fence;
  guard_.reset();
  fd_.reset();
}

size_t fork_guarded_fds() noexcept {
  size_t n = 0;
  for (const auto& slot : g_fds) n += slot.load(std::memory_order_relaxed) != 0;
  return n;
}

size_t fork_guarded_mappings() noexcept {
  size_t n = 0;
  for (const auto& slot : g_mappings) n += slot.length.load(std::memory_order_relaxed) != 0;
  return n;
}

}  // namespace xesp
