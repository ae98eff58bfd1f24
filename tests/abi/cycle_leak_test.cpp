// 200 whole provider lifetimes through the C ABI on a veth testbed: CreateNPPInterface ->
// Connect -> Start -> frames -> Stop -> Disconnect -> Release. What a host that captures again
// and again would pile up is counted before and after (a few warm-up cycles first, so that
// one-time allocations are behind us): open file descriptors and threads (exact), BPF programs
// and maps in the kernel (exact: no object created during the cycles may outlive them), and
// memory (VmRSS and the number of mappings, within the bounds below).
#include <bpf/bpf.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/testbed.hpp"
#include "xesp/iesp.h"

namespace xesp::test {
namespace {

using namespace std::chrono_literals;

constexpr int kWarmupCycles = 5;
constexpr int kCycles = 200;
constexpr uint64_t kFramesPerCycle = 16;
constexpr uint32_t kFrameSize = 100;
// Growth allowed over 200 cycles. One UMEM (512 chunks of 2048 bytes) kept per cycle would be
// 200 MiB, one 4 KiB page per cycle 800 KiB; malloc's free lists and arenas move by less than
// the bound after the warm-up.
constexpr long kRssSlackKiB = 2048;
constexpr long kMappingsSlack = 4;

// ---- What is counted ---------------------------------------------------------------------

std::size_t entries_in(const char* dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

long vm_rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

long mappings() {
  std::ifstream in("/proc/self/maps");
  long n = 0;
  std::string line;
  while (std::getline(in, line)) ++n;
  return n;
}

std::set<uint32_t> bpf_ids(int (*next)(__u32, __u32*)) {
  std::set<uint32_t> ids;
  __u32 id = 0;
  while (next(id, &id) == 0) ids.insert(id);
  return ids;
}

// BPF objects other processes hold (other tests may run beside this one): ids from every
// other process's fdinfo (a program's, a map's, a link's program), and the maps of those
// programs.
struct Foreign {
  std::set<uint32_t> progs;
  std::set<uint32_t> maps;
};

Foreign foreign_bpf_objects() {
  Foreign f;
  const std::string self = std::to_string(::getpid());
  std::error_code ec;
  for (const auto& proc : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string pid = proc.path().filename();
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos || pid == self)
      continue;
    std::error_code ec2;
    for (const auto& fd : std::filesystem::directory_iterator(proc.path() / "fdinfo", ec2)) {
      std::ifstream in(fd.path());
      std::string line;
      while (std::getline(in, line)) {
        unsigned id = 0;
        if (std::sscanf(line.c_str(), "prog_id: %u", &id) == 1) f.progs.insert(id);
        if (std::sscanf(line.c_str(), "map_id: %u", &id) == 1) f.maps.insert(id);
      }
    }
  }
  for (uint32_t prog : f.progs) {
    const int fd = bpf_prog_get_fd_by_id(prog);
    if (fd < 0) continue;
    std::vector<__u32> map_ids(64);
    bpf_prog_info info{};
    info.nr_map_ids = static_cast<__u32>(map_ids.size());
    info.map_ids = reinterpret_cast<uintptr_t>(map_ids.data());
    __u32 len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) {
      for (__u32 i = 0; i < std::min<__u32>(info.nr_map_ids, 64); ++i) f.maps.insert(map_ids[i]);
    }
    ::close(fd);
  }
  return f;
}

std::string bpf_name(uint32_t id, bool prog) {
  const int fd = prog ? bpf_prog_get_fd_by_id(id) : bpf_map_get_fd_by_id(id);
  if (fd < 0) return "(gone)";
  std::string name;
  if (prog) {
    bpf_prog_info info{};
    __u32 len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) name = info.name;
  } else {
    bpf_map_info info{};
    __u32 len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) name = info.name;
  }
  ::close(fd);
  return name;
}

struct Census {
  std::size_t fds = 0;
  std::size_t threads = 0;
  std::set<uint32_t> progs;
  std::set<uint32_t> maps;
  long rss_kib = 0;
  long mappings = 0;
};

Census take_census() {
  Census c;
  c.fds = entries_in("/proc/self/fd");
  c.threads = entries_in("/proc/self/task");
  c.progs = bpf_ids(bpf_prog_get_next_id);
  c.maps = bpf_ids(bpf_map_get_next_id);
  c.rss_kib = vm_rss_kib();
  c.mappings = mappings();
  return c;
}

// Objects in `after` that were not in `before` and no other process holds: ours, outliving
// the cycles that made them.
std::vector<uint32_t> left_behind(const std::set<uint32_t>& before, const std::set<uint32_t>& after,
                                  const std::set<uint32_t>& foreign) {
  std::vector<uint32_t> ids;
  for (uint32_t id : after) {
    if (!before.count(id) && !foreign.count(id)) ids.push_back(id);
  }
  return ids;
}

// ---- The cycle ---------------------------------------------------------------------------

class CBlob {
 public:
  CBlob() { CreateBlob(&h_); }
  ~CBlob() { DestroyBlob(h_); }
  CBlob(const CBlob&) = delete;
  CBlob& operator=(const CBlob&) = delete;
  HBLOB get() const { return h_; }
  void set(const char* category, const char* tag, const std::string& value) {
    EXPECT_EQ(SetStringInBlob(h_, "NPP", category, tag, value.c_str()), NMERR_SUCCESS) << tag;
  }

 private:
  HBLOB h_ = nullptr;
};

class CycleLeak : public ::testing::Test {
 protected:
  void SetUp() override { XESP_REQUIRE_INTEGRATION(); }

  // One whole lifetime; false (with the failure added) when a step fails.
  bool cycle(Testbed& tb, HBLOB blob, int n) {
    SCOPED_TRACE("cycle " + std::to_string(n));
    IESP* esp = nullptr;
    HRESULT hr = CreateNPPInterface(blob, &IID_IESP, reinterpret_cast<void**>(&esp));
    EXPECT_EQ(hr, S_OK) << XespLastErrorText();
    if (esp == nullptr) return false;
    bool ok = false;
    char file[XESP_MAX_PATH] = "";
    STATISTICS stats{};
    do {
      hr = esp->lpVtbl->Connect(esp, blob, nullptr, nullptr, nullptr);
      if (hr != S_OK) {
        ADD_FAILURE() << "Connect: " << XespLastErrorText();
        break;
      }
      hr = esp->lpVtbl->Start(esp, file);
      if (hr != S_OK) {
        ADD_FAILURE() << "Start: " << XespLastErrorText();
        (void)esp->lpVtbl->Disconnect(esp);
        break;
      }
      // The frames are in the file once it has grown by their blocks (the veth hands them to
      // NAPI, then a poller writes them): wait for that instead of a fixed settle time.
      const auto want = std::filesystem::file_size(file) + kFramesPerCycle * kEpbBytes;
      ProcessResult sent = tb.send(kFramesPerCycle, 0, {"--size", std::to_string(kFrameSize)});
      EXPECT_EQ(sent.exit_code, 0) << sent.err;
      const auto deadline = std::chrono::steady_clock::now() + 2s;
      while (std::filesystem::file_size(file) < want && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(1ms);
      hr = esp->lpVtbl->Stop(esp, &stats);
      EXPECT_EQ(hr, S_OK) << "Stop: " << XespLastErrorText();
      EXPECT_EQ(stats.TotalFramesCaptured, kFramesPerCycle);
      hr = esp->lpVtbl->Disconnect(esp);
      EXPECT_EQ(hr, S_OK) << "Disconnect: " << XespLastErrorText();
      ok = hr == S_OK && stats.TotalFramesCaptured == kFramesPerCycle;
    } while (false);
    EXPECT_EQ(esp->lpVtbl->Release(esp), 0u);
    if (file[0] != '\0') std::filesystem::remove(file);
    return ok;
  }

  // An EPB holding a 100-byte frame: 28 bytes of header, the frame, the trailing length.
  static constexpr uint64_t kEpbBytes = 28 + kFrameSize + 4;
};

TEST_F(CycleLeak, TwoHundredLifetimesLeaveNothingBehind) {
  auto tb = Testbed::create();
  ASSERT_TRUE(tb);
  TempDir dir;
  CBlob blob;
  blob.set("Config", "Interface", tb->capture_if());
  blob.set("Config", "CaptureDirectory", dir.path());
  // Small rings and UMEM: the cycle is what is tested, not the rate.
  blob.set("Config", "FrameSize", "2048");
  blob.set("Config", "FrameCount", "512");
  blob.set("Config", "RxRingSize", "256");
  blob.set("Config", "FillRingSize", "256");
  blob.set("Config", "BatchSize", "64");
  blob.set("Config", "FileIo", "write");

  for (int i = 0; i < kWarmupCycles; ++i) ASSERT_TRUE(cycle(*tb, blob.get(), -1 - i));
  const Census before = take_census();

  const auto t0 = std::chrono::steady_clock::now();
  int failed = 0;
  for (int i = 0; i < kCycles && failed < 3; ++i) failed += cycle(*tb, blob.get(), i) ? 0 : 1;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(failed, 0);

  // A program's maps outlive it by a moment (the kernel drops them from the program's deferred
  // free, after an RCU grace period: the last cycle's four maps are still listed when Release
  // returns, gone 200 ms later): give the kernel time before calling anything left behind.
  Census after = take_census();
  std::vector<uint32_t> progs, maps;
  for (auto deadline = std::chrono::steady_clock::now() + 5s;;) {
    const Foreign foreign = foreign_bpf_objects();
    progs = left_behind(before.progs, after.progs, foreign.progs);
    maps = left_behind(before.maps, after.maps, foreign.maps);
    if ((progs.empty() && maps.empty()) || std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(100ms);
    after = take_census();
  }

  std::printf(
      "%d cycles in %.1f s (%.0f ms each); before -> after: fds %zu -> %zu, threads %zu -> %zu, "
      "BPF programs %zu -> %zu, maps %zu -> %zu (kernel-wide), VmRSS %ld -> %ld KiB, "
      "mappings %ld -> %ld\n",
      kCycles, seconds, seconds * 1000 / kCycles, before.fds, after.fds, before.threads,
      after.threads, before.progs.size(), after.progs.size(), before.maps.size(), after.maps.size(),
      before.rss_kib, after.rss_kib, before.mappings, after.mappings);
  EXPECT_EQ(after.fds, before.fds) << "file descriptors leak";
  EXPECT_EQ(after.threads, before.threads) << "threads leak";
  for (uint32_t id : progs)
    ADD_FAILURE() << "BPF program " << id << " '" << bpf_name(id, true) << "' outlived its cycle";
  for (uint32_t id : maps)
    ADD_FAILURE() << "BPF map " << id << " '" << bpf_name(id, false) << "' outlived its cycle";
  EXPECT_LE(after.rss_kib - before.rss_kib, kRssSlackKiB) << "memory grows with the cycles";
  EXPECT_LE(after.mappings - before.mappings, kMappingsSlack) << "mappings grow with the cycles";
  EXPECT_EQ(attached_xdp_prog_id(tb->capture_if()), 0u) << "a program is still attached";
}

}  // namespace
}  // namespace xesp::test
