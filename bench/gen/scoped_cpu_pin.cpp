#include "scoped_cpu_pin.hpp"

#include <cerrno>
#include <string>

namespace xesp::gen {

Result<ScopedCpuPin> ScopedCpuPin::pin(int cpu) {
  ScopedCpuPin pin;
  if (cpu < 0) return pin;
  if (cpu >= CPU_SETSIZE) {
    return Error::nm(nmerr::invalid_parameter, "CPU " + std::to_string(cpu) + ": out of range");
  }
  if (::sched_getaffinity(0, sizeof pin.saved_, &pin.saved_) != 0) {
    return Error::sys(errno, "sched_getaffinity");
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  // pid 0 is the calling thread, not the whole process.
  if (::sched_setaffinity(0, sizeof set, &set) != 0) {
    return Error::sys(errno, "CPU " + std::to_string(cpu) + ": sched_setaffinity");
  }
  pin.restore_ = true;
  return pin;
}

ScopedCpuPin::ScopedCpuPin(ScopedCpuPin&& other) noexcept
    : saved_(other.saved_), restore_(other.restore_) {
  other.restore_ = false;
}

ScopedCpuPin::~ScopedCpuPin() {
  if (restore_) (void)::sched_setaffinity(0, sizeof saved_, &saved_);
}

}  // namespace xesp::gen
