// A host that forks while capturing (issue 13), seen from outside through /proc and the kernel:
// the child holds none of the capture's fds and none of its memory, the program leaves the NIC
// and promiscuity drops when the parent is killed although the child lives on, and the parent
// goes on capturing after the fork. The host is xesp-fork-host (fork_host.cpp).
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "pcapng/pcapng_reader.hpp"
#include "support/testbed.hpp"
#include "test_frame.hpp"

#ifndef AF_XDP
#define AF_XDP 44
#endif

namespace xesp::test {
namespace {

using namespace std::chrono_literals;

// FrameCount x the default 4096-byte chunks; HugePages=no so the area counts in VmRSS.
constexpr uint64_t kFrameCount = 16384;
constexpr uint64_t kUmemBytes = kFrameCount * 4096;  // 64 MiB

// What one fd of another process is, for the capture's purposes.
struct FdInfo {
  int fd = -1;
  std::string target;  // readlink of /proc/<pid>/fd/<fd>
  int domain = -1;     // SO_DOMAIN of a socket (read through a pidfd_getfd copy)
  bool bpf() const { return target.rfind("anon_inode:bpf", 0) == 0 || target == "anon_inode:btf"; }
  bool socket() const { return target.rfind("socket:[", 0) == 0; }
};

std::vector<FdInfo> fds_of(pid_t pid) {
  std::vector<FdInfo> out;
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  std::error_code ec;
  for (const auto& e :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    FdInfo info;
    info.fd = std::atoi(e.path().filename().c_str());
    info.target = std::filesystem::read_symlink(e.path(), ec).string();
    if (info.socket() && pidfd >= 0) {
      const int copy = static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, info.fd, 0));
      if (copy >= 0) {
        socklen_t len = sizeof(info.domain);
        if (::getsockopt(copy, SOL_SOCKET, SO_DOMAIN, &info.domain, &len) != 0) info.domain = -1;
        ::close(copy);  // at once: the test must not hold the host's sockets
      }
    }
    out.push_back(std::move(info));
  }
  if (pidfd >= 0) ::close(pidfd);
  return out;
}

size_t count(const std::vector<FdInfo>& fds, const std::string& target_prefix) {
  size_t n = 0;
  for (const auto& f : fds) n += f.target.rfind(target_prefix, 0) == 0;
  return n;
}

size_t count_domain(const std::vector<FdInfo>& fds, int domain) {
  size_t n = 0;
  for (const auto& f : fds) n += f.socket() && f.domain == domain;
  return n;
}

std::string describe(const std::vector<FdInfo>& fds) {
  std::string s;
  for (const auto& f : fds)
    s += "  " + std::to_string(f.fd) + " -> " + f.target +
         (f.socket() ? " (domain " + std::to_string(f.domain) + ")" : "") + "\n";
  return s;
}

struct Mapping {
  uintptr_t begin = 0;
  uintptr_t end = 0;
  std::string perms;
  std::string path;
  uint64_t rss_kb = 0;
  uint64_t size() const { return end - begin; }
};

std::vector<Mapping> mappings_of(pid_t pid) {
  std::vector<Mapping> out;
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps");
  std::string line;
  while (std::getline(in, line)) {
    // A mapping's header is "begin-end perms offset dev inode [path]"; its fields follow.
    const auto dash = line.find('-');
    const auto space = line.find(' ');
    if (dash != std::string::npos && space != std::string::npos && dash < space &&
        line.find_first_not_of("0123456789abcdef") == dash) {
      Mapping m;
      m.begin = std::stoull(line.substr(0, dash), nullptr, 16);
      m.end = std::stoull(line.substr(dash + 1, space - dash - 1), nullptr, 16);
      std::istringstream fields(line.substr(space + 1));
      std::string offset, dev, inode;
      fields >> m.perms >> offset >> dev >> inode;
      std::getline(fields >> std::ws, m.path);
      out.push_back(std::move(m));
    } else if (line.rfind("Rss:", 0) == 0 && !out.empty()) {
      out.back().rss_kb = std::stoull(line.substr(4));
    }
  }
  return out;
}

std::string describe(const std::vector<Mapping>& maps) {
  std::ostringstream s;
  for (const auto& m : maps)
    s << "  " << std::hex << m.begin << "-" << m.end << std::dec << " " << m.perms << " "
      << m.rss_kb << " kB " << m.path << "\n";
  return s.str();
}

uint64_t vm_rss_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  return 0;
}

// Alive and not a zombie.
bool running(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return false;
  const auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

class ForkedHost : public ::testing::Test {
 protected:
  void SetUp() override {
    XESP_REQUIRE_INTEGRATION();
    // The child outlives the host it forked from: as subreaper this process inherits it and
    // can reap it (the host's own Subprocess is killed and reaped by its destructor).
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    tb_ = Testbed::create();
    ASSERT_TRUE(tb_);
    nic_ = tb_->capture_if();
    promisc_before_ = promiscuity(nic_);
  }

  void TearDown() override {
    if (child_ > 0) {
      ::kill(child_, SIGKILL);
      ::waitpid(child_, nullptr, 0);  // ECHILD when it was not reparented here: nothing to do
    }
    host_.reset();
  }

  // The host's stdout line that starts with `prefix` (the rest of it), waiting for it.
  std::optional<std::string> wait_line(const std::string& prefix,
                                       std::chrono::milliseconds timeout = 20s) {
    std::optional<std::string> found;
    eventually(
        [&] {
          std::istringstream lines(read_file(out_path_));
          std::string line;
          while (std::getline(lines, line))
            if (line.rfind(prefix, 0) == 0) {
              found = line.substr(prefix.size());
              return true;
            }
          return false;
        },
        timeout);
    if (!found)
      ADD_FAILURE() << "no '" << prefix << "' line from the host; stdout:\n"
                    << read_file(out_path_) << "stderr:\n"
                    << host_->stderr_so_far();
    return found;
  }

  // Starts the host, lets it capture, looks at it, makes it fork, and checks what its child
  // holds. Leaves host_ and child_ running.
  void fork_while_capturing() {
    host_ = std::make_unique<Subprocess>(
        std::vector<std::string>{XESP_FORK_HOST, nic_, dir_.path(),
                                 "NPP:Config:FrameCount=" + std::to_string(kFrameCount),
                                 "NPP:Config:HugePages=no", "NPP:Config:UpdateFreq=20"},
        out_path_);
    auto connected = wait_line("connected pid=");
    ASSERT_TRUE(connected);
    host_pid_ = host_->pid();
    ASSERT_EQ(std::atoi(connected->c_str()), host_pid_);
    file_ = connected->substr(connected->find(" file=") + 6);
    prog_id_ = attached_xdp_prog_id(nic_);
    ASSERT_NE(prog_id_, 0u) << "the host's program is on the NIC";
    ASSERT_EQ(promiscuity(nic_), promisc_before_ + 1);

    // The host before the fork: what a child would inherit without the fork guard.
    const auto parent_fds = fds_of(host_pid_);
    EXPECT_GE(count(parent_fds, "anon_inode:bpf_link") + count(parent_fds, "anon_inode:bpf-link"),
              1u)
        << describe(parent_fds);
    EXPECT_GE(count(parent_fds, "anon_inode:bpf-prog"), 1u) << describe(parent_fds);
    EXPECT_GE(count(parent_fds, "anon_inode:bpf-map"), 2u) << describe(parent_fds);
    EXPECT_GE(count_domain(parent_fds, AF_XDP), 1u) << describe(parent_fds);
    EXPECT_EQ(count_domain(parent_fds, AF_PACKET), 1u) << "the promiscuous membership\n"
                                                       << describe(parent_fds);
    EXPECT_EQ(count(parent_fds, dir_.path() + "/xesp-"), 1u) << "the capture file\n"
                                                             << describe(parent_fds);
    const auto parent_maps = mappings_of(host_pid_);
    const Mapping* umem = nullptr;
    // Anonymous, populated (MAP_POPULATE), at least that size: an area without MADV_DONTFORK
    // merges with an anonymous neighbour.
    for (const auto& m : parent_maps)
      if (m.size() >= kUmemBytes && m.perms == "rw-p" && m.path.empty() &&
          m.rss_kb >= kUmemBytes / 1024 * 9 / 10)
        umem = &m;
    ASSERT_NE(umem, nullptr) << "no resident 64 MiB UMEM in the host\n" << describe(parent_maps);
    size_t shared_views = 0;  // AF_XDP rings and mmapped BPF maps
    for (const auto& m : parent_maps)
      shared_views += m.path.find("socket:[") != std::string::npos ||
                      m.path.find("bpf-map") != std::string::npos;
    EXPECT_GE(shared_views, 4u) << describe(parent_maps);
    const uint64_t parent_rss = vm_rss_kb(host_pid_);

    host_->signal(SIGUSR1);
    auto forked = wait_line("forked child=");
    auto child = wait_line("child pid=");
    ASSERT_TRUE(forked && child);
    child_ = std::atoi(child->c_str());
    ASSERT_GT(child_, 0);
    ASSERT_EQ(std::atoi(forked->c_str()), child_);

    // (a) No fd of the capture in the child: no BPF object, no AF_XDP or packet socket, none
    // of the host's sockets.
    const auto child_fds = fds_of(child_);
    std::set<std::string> host_sockets;
    for (const auto& f : parent_fds)
      if (f.socket()) host_sockets.insert(f.target);
    for (const auto& f : child_fds) {
      EXPECT_FALSE(f.bpf()) << "the child holds a BPF object\n" << describe(child_fds);
      EXPECT_FALSE(f.socket() && (f.domain == AF_XDP || f.domain == AF_PACKET))
          << "the child holds a capture socket\n"
          << describe(child_fds);
      EXPECT_EQ(host_sockets.count(f.target), 0u) << "the child holds a socket of the host\n"
                                                  << describe(child_fds);
      // Nor the capture file or its directory (the host's capture directory is dir_).
      const bool capture_file = f.target.rfind(dir_.path(), 0) == 0 &&
                                f.target.find(".pcapng") != std::string::npos;
      EXPECT_FALSE(capture_file || f.target == dir_.path())
          << "the child holds the capture file or directory\n"
          << describe(child_fds);
    }

    // (b) No packet memory in the child: nothing readable where the UMEM is (the fork guard
    // leaves an empty PROT_NONE reservation there), no view of a ring or a BPF map, and a
    // resident set without the 64 MiB.
    const auto child_maps = mappings_of(child_);
    for (const auto& m : child_maps) {
      if (m.begin < umem->end && umem->begin < m.end) {
        EXPECT_EQ(m.perms, "---p") << "UMEM range in the child\n" << describe(child_maps);
        EXPECT_EQ(m.rss_kb, 0u) << "UMEM range in the child\n" << describe(child_maps);
      }
      EXPECT_EQ(m.path.find("socket:["), std::string::npos) << describe(child_maps);
      EXPECT_EQ(m.path.find("bpf-map"), std::string::npos) << describe(child_maps);
      // Large readable reservations that hold nothing (AddressSanitizer's shadow) are fine.
      EXPECT_FALSE(m.size() >= kUmemBytes && m.perms.find('r') != std::string::npos &&
                   m.rss_kb >= kUmemBytes / 1024 / 10)
          << "a UMEM-sized resident mapping in the child\n"
          << describe(child_maps);
    }
    const uint64_t child_rss = vm_rss_kb(child_);
    EXPECT_LT(child_rss + kUmemBytes / 1024 * 9 / 10, parent_rss)
        << "child " << child_rss << " kB, host " << parent_rss << " kB";
    EXPECT_LT(child_rss, kUmemBytes / 1024 / 4) << "kB resident in the child";
  }

  std::unique_ptr<Testbed> tb_;
  TempDir dir_;
  std::string out_path_ = dir_.file("host.out");
  std::string nic_;
  int promisc_before_ = -1;
  std::unique_ptr<Subprocess> host_;
  pid_t host_pid_ = -1;
  pid_t child_ = -1;
  uint32_t prog_id_ = 0;
  std::string file_;
};

TEST_F(ForkedHost, KilledHostLeavesNothingOnTheNicWhileItsChildLives) {
  ASSERT_NO_FATAL_FAILURE(fork_while_capturing());
  ASSERT_TRUE(running(child_));

  host_->signal(SIGKILL);
  ProcessResult r = host_->wait(10s);
  EXPECT_EQ(r.signal, SIGKILL);

  // (c) The link died with the host's last fd: nothing on the NIC, promiscuity as before,
  // while the child still runs.
  EXPECT_TRUE(eventually([&] { return attached_xdp_prog_id(nic_) == 0; }, 5s))
      << "program " << attached_xdp_prog_id(nic_) << " still attached";
  EXPECT_TRUE(eventually([&] { return promiscuity(nic_) == promisc_before_; }, 5s))
      << "promiscuity " << promiscuity(nic_) << ", was " << promisc_before_;
  EXPECT_TRUE(running(child_)) << "the child must still run for the check to mean anything";
}

TEST_F(ForkedHost, HostCapturesAfterTheForkAndStopsCleanly) {
  ASSERT_NO_FATAL_FAILURE(fork_while_capturing());

  constexpr uint64_t kFrames = 200;
  ProcessResult sent = tb_->send(
      kFrames, 20'000, {"--size", "100", "--start-seq", "1000", "--src-mac", "02:00:00:00:00:01"});
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  // The program has run on all of them (only these frames cross the veth: IPv6 is off).
  ASSERT_TRUE(wait_line("seen frames=" + std::to_string(kFrames), 10s));

  host_->signal(SIGTERM);
  ProcessResult r = host_->wait(20s);
  ASSERT_EQ(r.exit_code, 0) << r.err << read_file(out_path_);
  auto captured = wait_line("captured frames=", 1s);
  ASSERT_TRUE(captured);
  EXPECT_EQ(std::stoull(*captured), kFrames);
  EXPECT_TRUE(wait_line("disconnected", 1s));

  auto f = PcapngReader::read_file(file_);
  ASSERT_TRUE(f) << f.error().message;
  ASSERT_EQ(f->packets.size(), kFrames);
  for (size_t i = 0; i < f->packets.size(); ++i) {
    auto info = gen::parse_test_frame(f->packets[i].data);
    ASSERT_TRUE(info) << "frame " << i;
    EXPECT_EQ(info->seq, 1000 + i) << "frame " << i;
  }

  // Disconnect released everything although the child holds on to its copy of the process.
  EXPECT_EQ(attached_xdp_prog_id(nic_), 0u);
  EXPECT_EQ(promiscuity(nic_), promisc_before_);
  EXPECT_TRUE(running(child_));
}

}  // namespace
}  // namespace xesp::test
