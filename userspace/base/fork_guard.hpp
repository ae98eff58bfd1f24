// What a child made by fork() (without exec) keeps of a capture: nothing.
//
// xesp lives inside host processes that fork (a daemon spawning helpers). A child of fork()
// gets every fd and, unless told otherwise, every mapping of its parent, and O_CLOEXEC does not
// help without exec: the child would hold the XDP link (the program stays on the NIC while the
// child lives, also after the parent is SIGKILLed), the AF_XDP sockets (their queues stay
// bound), the BPF objects, the promiscuous membership, and a copy of the UMEM.
//
// So every owner of a kernel object or of packet memory registers it here, process-wide:
//  - an fd: in the child, a pthread_atfork handler puts an inert placeholder (an eventfd) on its
//    number, which drops the kernel object but keeps the number taken, so the child's stale copy
//    of the owner, should it ever be destroyed there (exit() running destructors), closes the
//    placeholder and never a file the child opened since;
//  - a mapping: madvise(MADV_DONTFORK) keeps it out of the child (nothing copied, nothing
//    shared), and the child handler reserves its range (PROT_NONE, no memory) for the same
//    reason: a stale owner's munmap in the child removes the reservation, not the child's data.
// The registry is cleared in the child, which owns none of these objects.
//
// Owners register after creating and unregister before releasing (an fd number or address
// reused by someone else is never touched in a child), and hold a ForkFence across "create ..
// register" and "unregister .. release", so a fork in another thread never falls between them.
// Registration only happens at Connect/Start/Stop; nothing here is on the packet path.
//
// Not covered: children made without the atfork handlers (_Fork, clone, vfork; posix_spawn,
// which system() and popen() use, execs right away and relies on close-on-exec).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace xesp {

// While one is alive in any thread, fork() in the other threads waits (in the atfork prepare
// handler) until it is gone, so a resource between its creation and its registration (or its
// unregistration and its release) is never inherited unregistered. Keep the scope to the
// system calls that create or release: a fork in another thread waits for it. Nests; a fork from
// the thread that holds one (a signal handler) does not wait for that thread.
class ForkFence {
 public:
  ForkFence() noexcept;
  ~ForkFence();
  ForkFence(const ForkFence&) = delete;
  ForkFence& operator=(const ForkFence&) = delete;
};

// One registration: an fd replaced in children, or a mapping kept out of them. Does not own the
// resource: destroy (or reset) it before the fd is closed or the range unmapped, under a
// ForkFence held across both.
class ForkGuard {
 public:
  ForkGuard() = default;
  // fd: what the caller owns (or a library owns for it); `what` names it in errors.
  [[nodiscard]] static Result<ForkGuard> fd(int fd, std::string_view what);
  // [addr, addr + length): page-aligned, mapped. Applies MADV_DONTFORK. A kernel that refuses
  // the advice for this mapping (EINVAL: VM_IO / VM_PFNMAP mappings, as AF_XDP rings were
  // before their vmalloc rework) still has it replaced in the child by the handler.
  [[nodiscard]] static Result<ForkGuard> mapping(void* addr, size_t length, std::string_view what);

  ForkGuard(ForkGuard&& other) noexcept;
  ForkGuard& operator=(ForkGuard&& other) noexcept;
  ForkGuard(const ForkGuard&) = delete;
  ForkGuard& operator=(const ForkGuard&) = delete;
  ~ForkGuard() { reset(); }

  explicit operator bool() const noexcept { return kind_ != Kind::none; }
  // Unregisters (the resource itself is left alone).
  void reset() noexcept;

 private:
  enum class Kind : uint8_t { none, fd, mapping };
  ForkGuard(Kind kind, uint32_t slot, uintptr_t key) : kind_(kind), slot_(slot), key_(key) {}
  Kind kind_ = Kind::none;
  uint32_t slot_ = 0;
  uintptr_t key_ = 0;  // what the slot holds while it is ours: fd + 1, or the mapping's start
};

// An owned fd that children never hold: a UniqueFd registered for its whole life. Closing it
// unregisters first, under a ForkFence. For fds xesp opens itself (link, packet socket, capture
// files, the capture directory).
class ForkGuardedFd {
 public:
  ForkGuardedFd() = default;
  // Create the fd under a ForkFence that is still held here:
  //   ForkFence fence;
  //   UniqueFd fd(::openat(...));
  //   if (!fd) ...;
  //   auto guarded = ForkGuardedFd::adopt(std::move(fd), "capture file 'x'");
  // On error the fd is closed.
  [[nodiscard]] static Result<ForkGuardedFd> adopt(UniqueFd fd, std::string_view what);

  ForkGuardedFd(ForkGuardedFd&& other) noexcept = default;  // members move; nothing is closed
  ForkGuardedFd& operator=(ForkGuardedFd&& other) noexcept;
  ~ForkGuardedFd() { reset(); }

  int get() const noexcept { return fd_.get(); }
  explicit operator bool() const noexcept { return static_cast<bool>(fd_); }
  void reset() noexcept;

 private:
  ForkGuardedFd(UniqueFd fd, ForkGuard guard) : fd_(std::move(fd)), guard_(std::move(guard)) {}
  UniqueFd fd_;
  ForkGuard guard_;
};

// How many fds and mappings are registered now (tests, diagnostics).
size_t fork_guarded_fds() noexcept;
size_t fork_guarded_mappings() noexcept;

}  // namespace xesp
