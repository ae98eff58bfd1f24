// A veth pair made by the test itself: one end (capture side) in the root namespace, its peer
// (generator side) in a fresh network namespace, IPv6 off on both so the kernel adds no frames
// of its own. Names carry the test process id; everything is deleted by the destructor, and
// leftovers of a crashed run are swept before the tests start (see testbed.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "support/subprocess.hpp"

namespace xesp::test {

struct TestbedOptions {
  uint32_t queues = 1;  // RX/TX queues on both ends
  bool gro = false;     // GRO on the capture side (generic XDP with live frames needs it)
};

class Testbed {
 public:
  // Fails the calling test (ADD_FAILURE) and returns null when the kernel refuses.
  static std::unique_ptr<Testbed> create(const TestbedOptions& options = {});
  ~Testbed();

  const std::string& netns() const { return netns_; }
  const std::string& capture_if() const { return capture_if_; }  // root namespace
  const std::string& gen_if() const { return gen_if_; }          // inside netns()
  uint32_t queues() const { return queues_; }

  // Sends test frames from the generator side with bench/gen's xesp-gen (packet mode, paced).
  // Extra arguments are appended (e.g. {"--size", "mixed", "--flows", "8"}).
  ProcessResult send(uint64_t count, uint64_t rate, std::vector<std::string> extra = {});

 private:
  Testbed() = default;
  std::string netns_;
  std::string capture_if_;
  std::string gen_if_;
  uint32_t queues_ = 1;
};

// Why this process cannot run integration tests (empty when it can): CAP_NET_ADMIN, CAP_BPF.
std::string integration_skip_reason();

// The kernel's view of an interface in the root namespace.
uint32_t attached_xdp_prog_id(const std::string& ifname);
int promiscuity(const std::string& ifname);

// Paths of the binaries under test (set by CMake).
std::string xesp_binary();
std::string xesp_gen_binary();

// A fresh directory under /tmp, removed with its files at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace xesp::test

// Skips the test, with the reason, when integration tests cannot run here.
#define XESP_REQUIRE_INTEGRATION()                                  \
  do {                                                              \
    std::string why_ = ::xesp::test::integration_skip_reason();     \
    if (!why_.empty()) GTEST_SKIP() << why_;                        \
  } while (0)
