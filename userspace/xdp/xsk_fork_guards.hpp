// Keeping an AF_XDP socket and its rings out of forked children (see base/fork_guard.hpp).
// libxdp creates the socket and maps the rings itself; these find them and register them.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/fork_guard.hpp"

namespace xesp::xdp {

enum class XskRing { rx, fill, completion };

// The socket fd: close-on-exec (libxdp 1.3 opens AF_XDP sockets without SOCK_CLOEXEC, so
// system() and popen() children would keep them across exec), and registered.
[[nodiscard]] Result<ForkGuard> guard_xsk_fd(int fd, std::string_view what);

// The mapping libxdp made for one ring of socket `fd`, whose descriptors are at `ring` (the
// xsk_ring_{prod,cons}::ring pointer) and hold `entries` entries. The mapping starts
// XDP_MMAP_OFFSETS' `desc` bytes before the descriptors, as libxdp itself computes it to unmap.
[[nodiscard]] Result<ForkGuard> guard_xsk_ring(int fd, XskRing which, void* ring, uint32_t entries,
                                               std::string_view what);

}  // namespace xesp::xdp
