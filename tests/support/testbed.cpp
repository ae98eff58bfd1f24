#include "support/testbed.hpp"

#include <dirent.h>
#include <net/if.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "xdp/privileges.hpp"
#include "xdp/xdp_link.hpp"

#ifndef CAP_NET_ADMIN
#define CAP_NET_ADMIN 12
#endif
#ifndef CAP_SYS_ADMIN
#define CAP_SYS_ADMIN 21
#endif
#define XESP_CAP_BPF 39

namespace xesp::test {
namespace {

constexpr const char* kNetnsPrefix = "xesp-t";

bool run_ok(std::vector<std::string> argv, std::string* err = nullptr) {
  ProcessResult r = run(std::move(argv), std::chrono::seconds(20));
  if (r.exit_code != 0 && err) *err = r.err;
  return r.exit_code == 0;
}

// Namespaces left by an earlier test process that died (SIGKILL, crash) before its cleanup.
void sweep_stale_testbeds() {
  DIR* d = ::opendir("/run/netns");
  if (!d) return;
  std::vector<std::string> stale;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.rfind(kNetnsPrefix, 0) != 0) continue;
    pid_t owner = static_cast<pid_t>(std::atol(name.c_str() + std::strlen(kNetnsPrefix)));
    if (owner > 0 && (::kill(owner, 0) == 0 || errno == EPERM)) continue;  // still alive
    stale.push_back(name);
  }
  ::closedir(d);
  for (const auto& name : stale) run_ok({"ip", "netns", "del", name});
}

class SweepEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (integration_skip_reason().empty()) sweep_stale_testbeds();
  }
};

[[maybe_unused]] const auto* const kSweep =
    ::testing::AddGlobalTestEnvironment(new SweepEnvironment);  // gtest takes ownership

}  // namespace

std::string integration_skip_reason() {
  if (!xdp::has_capability(CAP_NET_ADMIN))
    return "integration test needs CAP_NET_ADMIN (network namespaces, veth, XDP): run as root";
  if (!xdp::has_capability(XESP_CAP_BPF) && !xdp::has_capability(CAP_SYS_ADMIN))
    return "integration test needs CAP_BPF or CAP_SYS_ADMIN to load XDP programs: run as root";
  return {};
}

std::unique_ptr<Testbed> Testbed::create(const TestbedOptions& options) {
  static std::atomic<int> counter{0};
  const int n = counter++;
  const std::string pid = std::to_string(::getpid());
  std::unique_ptr<Testbed> tb(new Testbed());
  tb->netns_ = kNetnsPrefix + pid + "-" + std::to_string(n);
  tb->capture_if_ = "xc" + pid + "n" + std::to_string(n);
  tb->gen_if_ = "xg" + pid + "n" + std::to_string(n);
  tb->queues_ = options.queues;
  const std::string q = std::to_string(options.queues);
  std::string err;
  auto step = [&](std::vector<std::string> argv) {
    if (run_ok(argv, &err)) return true;
    std::string cmd;
    for (auto& a : argv) cmd += a + " ";
    ADD_FAILURE() << "testbed: " << cmd << "failed: " << err;
    return false;
  };
  if (!step({"ip", "netns", "add", tb->netns_})) {
    tb->netns_.clear();
    return nullptr;
  }
  bool ok = step({"ip", "link", "add", tb->capture_if_, "numtxqueues", q, "numrxqueues", q, "type",
                  "veth", "peer", "name", tb->gen_if_, "netns", tb->netns_, "numtxqueues", q,
                  "numrxqueues", q}) &&
            step({"sysctl", "-qw", "net.ipv6.conf." + tb->capture_if_ + ".disable_ipv6=1"}) &&
            step({"ip", "netns", "exec", tb->netns_, "sysctl", "-qw",
                  "net.ipv6.conf." + tb->gen_if_ + ".disable_ipv6=1"}) &&
            step({"ip", "link", "set", tb->capture_if_, "up"}) &&
            step({"ip", "-n", tb->netns_, "link", "set", tb->gen_if_, "up"});
  if (ok && options.gro) ok = step({"ethtool", "-K", tb->capture_if_, "gro", "on"});
  if (!ok) return nullptr;  // the destructor removes what was made
  return tb;
}

Testbed::~Testbed() {
  // Deleting the namespace deletes the peer, and a veth pair dies with either end.
  if (!netns_.empty()) run_ok({"ip", "netns", "del", netns_});
  if (!capture_if_.empty() && ::if_nametoindex(capture_if_.c_str()) != 0)
    run_ok({"ip", "link", "del", capture_if_});
}

ProcessResult Testbed::send(uint64_t count, uint64_t rate, std::vector<std::string> extra) {
  std::vector<std::string> argv = {xesp_gen_binary(), "--interface", gen_if_, "--netns", netns_,
                                   "--mode", "packet", "--count", std::to_string(count),
                                   "--rate", std::to_string(rate)};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return run(std::move(argv), std::chrono::seconds(120));
}

uint32_t attached_xdp_prog_id(const std::string& ifname) {
  unsigned idx = ::if_nametoindex(ifname.c_str());
  if (idx == 0) return 0;
  auto attached = xdp::query_attached_xdp(static_cast<int>(idx));
  return attached ? attached->prog_id : 0;
}

int promiscuity(const std::string& ifname) {
  ProcessResult r = run({"ip", "-d", "-j", "link", "show", "dev", ifname});
  if (r.exit_code != 0) return -1;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (!j.is_array() || j.empty() || !j[0].contains("promiscuity")) return -1;
  return j[0]["promiscuity"].get<int>();
}

std::string xesp_binary() { return XESP_BINARY; }
std::string xesp_gen_binary() { return XESP_GEN_BINARY; }

TempDir::TempDir() {
  char tmpl[] = "/tmp/xesp-test-XXXXXX";
  const char* p = ::mkdtemp(tmpl);
  path_ = p ? p : "/tmp";
}

TempDir::~TempDir() {
  std::error_code ec;
  if (path_ != "/tmp") std::filesystem::remove_all(path_, ec);
}

}  // namespace xesp::test
