// Pins the calling thread to one CPU and restores its previous affinity when destroyed.
#pragma once

#include <sched.h>

#include "base/result.hpp"

namespace xesp::gen {

// Move-only. Must be destroyed on the thread that created it (affinity is per thread).
class ScopedCpuPin {
 public:
  // cpu < 0: a no-op pin that restores nothing.
  static Result<ScopedCpuPin> pin(int cpu);

  ScopedCpuPin(ScopedCpuPin&& other) noexcept;
  ScopedCpuPin& operator=(ScopedCpuPin&&) = delete;
  ScopedCpuPin(const ScopedCpuPin&) = delete;
  ScopedCpuPin& operator=(const ScopedCpuPin&) = delete;
  ~ScopedCpuPin();

 private:
  ScopedCpuPin() = default;

  cpu_set_t saved_{};
  bool restore_ = false;
};

}  // namespace xesp::gen
