#include "xdp/xsk_fork_guards.hpp"

#include <fcntl.h>
#include <linux/if_xdp.h>
#include <sys/socket.h>

#include <string>

namespace xesp::xdp {

Result<ForkGuard> guard_xsk_fd(int fd, std::string_view what) {
  const int flags = ::fcntl(fd, F_GETFD);
  if (flags < 0 || ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC) != 0)
    return Error::sys(errno, std::string(what) + ": setting close-on-exec");
  return ForkGuard::fd(fd, what);
}

Result<ForkGuard> guard_xsk_ring(int fd, XskRing which, void* ring, uint32_t entries,
                                 std::string_view what) {
  // Kernels with BPF links for XDP (5.9+) all answer with the full struct (flags included).
  xdp_mmap_offsets off{};
  socklen_t len = sizeof(off);
  if (::getsockopt(fd, SOL_XDP, XDP_MMAP_OFFSETS, &off, &len) != 0)
    return Error::sys(errno, std::string(what) + ": reading the ring offsets (XDP_MMAP_OFFSETS)");
  if (len != sizeof(off))
    return Error::sys(EPROTO, std::string(what) + ": ring offsets of an unexpected size (" +
                                  std::to_string(len) + " bytes)");
  uint64_t desc = 0;
  size_t entry_size = 0;
  switch (which) {
    case XskRing::rx:
      desc = off.rx.desc;
      entry_size = sizeof(xdp_desc);
      break;
    case XskRing::fill:
      desc = off.fr.desc;
      entry_size = sizeof(uint64_t);
      break;
    case XskRing::completion:
      desc = off.cr.desc;
      entry_size = sizeof(uint64_t);
      break;
  }
  auto* begin = static_cast<uint8_t*>(ring) - desc;
  return ForkGuard::mapping(begin, desc + static_cast<size_t>(entries) * entry_size, what);
}

}  // namespace xesp::xdp
