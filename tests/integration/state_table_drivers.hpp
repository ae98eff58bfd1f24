// The ten IESP/IRTC calls behind one interface, so the state table runs unchanged through the
// C++ API (Esp, Rtc) and through the C ABI (IESP, IRTC vtables). Each call returns the bare
// NMERR code.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "xesp/blob.hpp"

namespace xesp::test {

enum class DriverKind { cxx_esp, cxx_rtc, c_iesp, c_irtc };

const char* driver_name(DriverKind kind);
std::vector<DriverKind> all_driver_kinds();

class Driver {
 public:
  virtual ~Driver() = default;
  virtual int connect(const Blob& config) = 0;
  virtual int configure(const Blob& config) = 0;
  virtual int start() = 0;
  virtual int pause() = 0;
  virtual int resume() = 0;
  virtual int stop() = 0;
  virtual int disconnect() = 0;
  virtual int control_state(bool* running, bool* paused) = 0;
  virtual int query_status(uint32_t* state) = 0;
  virtual int query_stations(uint32_t* found) = 0;
  // NOT_ESP (139) for IESP, NOT_REALTIME (108) for IRTC.
  virtual int wrong_interface_code() const = 0;
  virtual std::string last_error() const = 0;
};

// Two views of one provider: the interface under test and the other one.
struct DriverPair {
  std::shared_ptr<void> provider;  // keeps the provider alive as long as the drivers
  std::unique_ptr<Driver> under_test;
  std::unique_ptr<Driver> other;
};

DriverPair make_drivers(DriverKind kind);

}  // namespace xesp::test
