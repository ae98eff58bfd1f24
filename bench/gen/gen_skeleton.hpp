// A move-only owner of the generator's BPF skeleton (both programs, their maps and .bss).
#pragma once

#include <bpf/libbpf.h>

#include <memory>

// The skeleton refers to the shared structs by name only; they must be declared first.
#include "xesp_gen_shared.h"
// clang-format off
#include "xesp_gen_bpf.skel.h"
// clang-format on

namespace xesp::gen {

struct GenSkeletonDeleter {
  void operator()(xesp_gen_bpf* skel) const noexcept { xesp_gen_bpf__destroy(skel); }
};
using GenSkeleton = std::unique_ptr<xesp_gen_bpf, GenSkeletonDeleter>;

struct BpfLinkDeleter {
  void operator()(bpf_link* link) const noexcept { bpf_link__destroy(link); }
};
// Detaches on destruction; the kernel also detaches when the process dies.
using BpfLink = std::unique_ptr<bpf_link, BpfLinkDeleter>;

}  // namespace xesp::gen
