// A UMEM: the packet memory shared with the kernel, with its fill and completion rings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/fork_guard.hpp"
#include "base/result.hpp"

struct xsk_umem;
struct xsk_ring_prod;
struct xsk_ring_cons;

namespace xesp::xdp {

// Huge pages cut the TLB misses of the kernel's copy into UMEM and of the writes out of it
// (measured ~8% more frames/s at 64 B on the test machine); they must be reserved by the admin
// (/proc/sys/vm/nr_hugepages).
enum class HugePages { automatic, yes, no };  // automatic: when reserved pages are free

struct UmemConfig {
  uint32_t frame_size = 4096;   // chunk size, power of two, 2048..65536 (kernel limits)
  uint32_t frame_count = 0;     // chunks in the area
  uint32_t fill_size = 0;       // fill ring entries, power of two
  uint32_t comp_size = 0;       // completion ring entries (unused by RX-only sockets: keep small)
  HugePages hugepages = HugePages::no;  // back the area with 2 MiB pages (MAP_HUGETLB)
};

class UmemArea {
 public:
  static Result<UmemArea> create(const UmemConfig& config);

  UmemArea(UmemArea&&) noexcept;
  UmemArea& operator=(UmemArea&&) noexcept;
  ~UmemArea();

  uint8_t* base() const;
  bool on_huge_pages() const;
  size_t size() const;
  const UmemConfig& config() const;
  xsk_umem* umem() const;
  xsk_ring_prod* fill() const;  // stable address: libxdp keeps a pointer to it
  xsk_ring_cons* comp() const;

  // libxdp hands the fill and completion rings over to the first socket bound on the UMEM
  // (xsk_socket__delete unmaps them, xsk_umem__delete no longer does); their fork guards go
  // with them, to be unregistered before that socket is deleted.
  std::vector<ForkGuard> take_ring_fork_guards();

 private:
  struct State;
  explicit UmemArea(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace xesp::xdp
