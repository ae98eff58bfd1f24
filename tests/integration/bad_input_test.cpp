// Every bad input to `xesp capture` gets one line on stderr naming the input and the reason, a
// non-zero exit, and leaves the NIC exactly as it was (XDP program and promiscuity, read from
// the kernel).
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include <gtest/gtest.h>

#include "support/testbed.hpp"

namespace xesp::test {
namespace {

struct BadInput {
  const char* name;
  std::vector<std::string> args;  // after `-i <nic>`; "{dir}" is replaced by a temp dir
  std::string expect;             // in the error line
  std::vector<std::string> prefix = {};  // runs xesp under this (setpriv, prlimit)
};

void PrintTo(const BadInput& input, std::ostream* os) { *os << input.name; }

// Lines on stderr that are not empty.
std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    std::string line = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    if (!line.empty()) out.push_back(line);
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return out;
}

class XespBadInput : public ::testing::TestWithParam<BadInput> {
 protected:
  void SetUp() override { XESP_REQUIRE_INTEGRATION(); }
};

TEST_P(XespBadInput, OneLineNonZeroExitNicUntouched) {
  const BadInput& c = GetParam();
  auto tb = Testbed::create();
  ASSERT_TRUE(tb);
  TempDir dir;
  const std::string nic = tb->capture_if();
  const int promisc_before = promiscuity(nic);
  std::vector<std::string> argv = c.prefix;
  argv.insert(argv.end(), {xesp_binary(), "capture", "-i", nic});
  if (std::find(c.args.begin(), c.args.end(), "-w") == c.args.end())
    argv.insert(argv.end(), {"-w", dir.file("x.pcapng")});
  for (auto a : c.args) {
    if (auto at = a.find("{dir}"); at != std::string::npos) a.replace(at, 5, dir.path());
    argv.push_back(a);
  }
  ProcessResult r = run(argv, std::chrono::seconds(30));
  EXPECT_NE(r.exit_code, 0) << "accepted: " << r.err;
  auto err = lines(r.err);
  ASSERT_EQ(err.size(), 1u) << "expected one line on stderr, got:\n" << r.err;
  EXPECT_EQ(err[0].rfind("xesp: ", 0), 0u) << err[0];
  EXPECT_NE(err[0].find(c.expect), std::string::npos) << "'" << c.expect << "' not in: " << err[0];
  EXPECT_EQ(attached_xdp_prog_id(nic), 0u);
  EXPECT_EQ(promiscuity(nic), promisc_before);
}

INSTANTIATE_TEST_SUITE_P(
    Inputs, XespBadInput,
    ::testing::Values(
        BadInput{"SnapLengthZero", {"-s", "0"}, "-s/--snaplen: snap length 0 is not in 1..262144"},
        BadInput{"SnapLengthTooBig", {"-s", "262145"}, "snap length 262145 is not in 1..262144"},
        BadInput{"QueueTheNicLacks", {"--queues", "0,5"}, "queue 5: interface"},
        BadInput{"QueueListGarbage", {"--queues", "1-x"}, "--queues: queue list '1-x'"},
        BadInput{"FrameSizeNotPowerOfTwo", {"--frame-size", "3000"},
                 "--frame-size: frame size 3000 is not a power of two"},
        BadInput{"RingSizeNotPowerOfTwo", {"--ring-size", "1000"},
                 "--ring-size: RX ring size 1000 is not a power of two"},
        BadInput{"FillRingSizeNotPowerOfTwo", {"--fill-ring-size", "3000"},
                 "--fill-ring-size: fill ring size 3000 is not a power of two"},
        BadInput{"BatchSizeNotPowerOfTwo", {"--batch-size", "100"}, "--batch-size: batch size 100"},
        BadInput{"XdpModeUnknown", {"--xdp-mode", "turbo"}, "--xdp-mode: XDP mode 'turbo'"},
        BadInput{"BindModeUnknown", {"--bind-mode", "fast"}, "--bind-mode: bind mode 'fast'"},
        BadInput{"BusyPollNotANumber", {"--busy-poll", "soon"},
                 "--busy-poll: 'soon' is not a number of microseconds or auto"},
        BadInput{"TimestampsUnknown", {"--timestamps", "hardware"},
                 "--timestamps: 'hardware' is not kernel or poller"},
        BadInput{"FileIoUnknown", {"--file-io", "mmap"},
                 "--file-io: 'mmap' is not auto, write or map"},
        BadInput{"CountZero", {"-c", "0"}, "-c/--count: StopAfterFrames must be above 0"},
        BadInput{"DurationNotANumber", {"--duration", "soon"}, "--duration: 'soon' is not a number"},
        // A timer past the clock's range fired at once: a "forever" capture ended immediately.
        BadInput{"DurationBeyondTenYears", {"--duration", "1e10"},
                 "--duration: StopAfterSeconds 1e+10 is more than ten years"},
        BadInput{"FrameCountAboveTheBound", {"--frame-count", "16777217"},
                 "--frame-count: frame count 16777217 is above 16777216"},
        BadInput{"OutputDirectoryMissing", {"-w", "{dir}/missing/x.pcapng"},
                 "is not writable: directory"},
        BadInput{"OutputIsADirectory", {"-w", "{dir}"}, "is a directory"},
        BadInput{"RotateBytesTooSmall", {"-C", "100"},
                 "-C/--file-size: 100 bytes is below the smallest file, 64k (did you mean 100M?)"},
        BadInput{"RingWithoutRotation", {"-W", "5"},
                 "-W/--files: a ring of 5 files needs rotation: RotateBytes or RotateSeconds"},
        BadInput{"RotateStandardOutput", {"-w", "-", "-G", "60"},
                 "-G/--rotate-seconds: standard output cannot rotate: name a file"},
        BadInput{"FileModeNotOctal", {"--file-mode", "0999"},
                 "--file-mode: file mode '0999' is not an octal mode from 0 to 0777"},
        BadInput{"GroupUnknown", {"--group", "no-such-group-xesp"},
                 "--group: group 'no-such-group-xesp' does not exist"},
        BadInput{"UserUnknown", {"-Z", "no-such-user-xesp"},
                 "-Z/--user: user 'no-such-user-xesp' does not exist"},
        BadInput{"UserRoot", {"-Z", "root"}, "-Z/--user: user 'root' is root"},
        BadInput{"FileSizeLimitWithRotation", {"-C", "1M", "--stop-after-file-size", "10M"},
                 "--stop-after-file-size: StopAfterFileSize limits one file"},
        BadInput{"NoCapNetAdmin", {}, "missing privileges: CAP_NET_ADMIN",
                 {"setpriv", "--bounding-set", "-net_admin", "--"}},
        BadInput{"NoCapBpf", {}, "missing privileges: CAP_BPF (or CAP_SYS_ADMIN)",
                 {"setpriv", "--bounding-set", "-bpf,-sys_admin", "--"}},
        BadInput{"NoCapNetRaw", {}, "missing privileges: CAP_NET_RAW",
                 {"setpriv", "--bounding-set", "-net_raw", "--"}},
        BadInput{"NoCapIpcLockLowMemlock", {}, "CAP_IPC_LOCK (or RLIMIT_MEMLOCK",
                 {"prlimit", "--memlock=65536", "setpriv", "--bounding-set", "-ipc_lock", "--"}}),
    [](const ::testing::TestParamInfo<BadInput>& info) { return std::string(info.param.name); });

class XespNicState : public ::testing::Test {
 protected:
  void SetUp() override { XESP_REQUIRE_INTEGRATION(); }
};

TEST_F(XespNicState, NoSuchInterface) {
  TempDir dir;
  ProcessResult r = run({xesp_binary(), "capture", "-i", "xesp-nosuch0", "-w", dir.file("x.pcapng")});
  EXPECT_NE(r.exit_code, 0);
  auto err = lines(r.err);
  ASSERT_EQ(err.size(), 1u) << r.err;
  EXPECT_NE(err[0].find("interface 'xesp-nosuch0': No such device"), std::string::npos) << err[0];
}

TEST_F(XespNicState, InterfaceDown) {
  auto tb = Testbed::create();
  ASSERT_TRUE(tb);
  TempDir dir;
  ASSERT_EQ(run({"ip", "link", "set", tb->capture_if(), "down"}).exit_code, 0);
  ProcessResult r = run({xesp_binary(), "capture", "-i", tb->capture_if(), "-w", dir.file("x.pcapng")});
  EXPECT_NE(r.exit_code, 0);
  auto err = lines(r.err);
  ASSERT_EQ(err.size(), 1u) << r.err;
  EXPECT_NE(err[0].find("interface '" + tb->capture_if() + "' is down"), std::string::npos) << err[0];
  EXPECT_EQ(attached_xdp_prog_id(tb->capture_if()), 0u);
}

// A frame count within the bound that the machine cannot hold: UMEM is populated and locked,
// and as root no memlock limit stops it, so more than half the RAM is refused before anything
// is allocated (before, the OOM killer chose). Enough queues for the refusal on this machine's
// RAM, read the way xesp reads it (MemTotal is sysinfo's totalram).
TEST_F(XespNicState, FrameCountBeyondHalfOfTheMemory) {
  constexpr uint64_t kFrameCount = 16'000'000;
  constexpr uint64_t kPerQueue = kFrameCount * 4096;  // the default frame size
  uint64_t mem_kib = 0;
  std::ifstream meminfo("/proc/meminfo");
  for (std::string line; std::getline(meminfo, line);)
    if (line.rfind("MemTotal:", 0) == 0) mem_kib = std::strtoull(line.c_str() + 9, nullptr, 10);
  ASSERT_GT(mem_kib, 0u) << "no MemTotal in /proc/meminfo";
  const uint64_t queues = mem_kib * 1024 / 2 / kPerQueue + 1;
  if (queues > 64)
    GTEST_SKIP() << "this machine has " << (mem_kib >> 20) << " GiB: the refusal needs " << queues
                 << " queues of 61 GiB, more than the 64 a test veth is given";
  auto tb = Testbed::create({.queues = static_cast<uint32_t>(queues)});
  ASSERT_TRUE(tb);
  TempDir dir;
  const std::string nic = tb->capture_if();
  const int promisc_before = promiscuity(nic);
  ProcessResult r = run({xesp_binary(), "capture", "-i", nic, "-w", dir.file("x.pcapng"),
                         "--frame-count", std::to_string(kFrameCount)});
  EXPECT_NE(r.exit_code, 0);
  auto err = lines(r.err);
  ASSERT_EQ(err.size(), 1u) << r.err;
  EXPECT_NE(err[0].find("xesp: --frame-count: frame count 16000000: " + std::to_string(queues) +
                        " queue(s)"),
            std::string::npos)
      << err[0];
  EXPECT_NE(err[0].find("half of this machine's"), std::string::npos) << err[0];
  EXPECT_EQ(attached_xdp_prog_id(nic), 0u);
  EXPECT_EQ(promiscuity(nic), promisc_before);
}

// xesp runs as root and reads the --blob file it is given: no error may print what is in it.
TEST_F(XespNicState, BlobFileContentsAreNeverEchoed) {
  auto tb = Testbed::create();
  ASSERT_TRUE(tb);
  TempDir dir;
  struct Case {
    std::string text;
    std::string expect;
  };
  for (const Case& c : {Case{"root:$6$secret-hash:19000:0:99999:7:::\n",
                             "line 1: expected Owner:Category:Tag=Value"},
                        Case{"NPP:Config:SnapLength=secret-value\n",
                             ": NPP:Config:SnapLength: '...' is not a snap length"},
                        Case{"secret-owner:Config:Interface=eth0\n",
                             ": an entry: unknown owner '...' (expected NPP)"},
                        Case{"NPP:Config:secret-tag=1\n", ": an entry: unknown tag '...'"}}) {
    const std::string file = dir.file("settings.blob");
    { std::ofstream(file) << c.text; }
    ProcessResult r = run({xesp_binary(), "capture", "-i", tb->capture_if(), "-w",
                           dir.file("x.pcapng"), "--blob", file});
    EXPECT_NE(r.exit_code, 0);
    auto err = lines(r.err);
    ASSERT_EQ(err.size(), 1u) << r.err;
    EXPECT_NE(err[0].find(c.expect), std::string::npos) << err[0];
    EXPECT_NE(err[0].find(file), std::string::npos) << "the file is named: " << err[0];
    EXPECT_EQ(r.err.find("secret"), std::string::npos) << "file contents echoed: " << r.err;
    EXPECT_EQ(attached_xdp_prog_id(tb->capture_if()), 0u);
  }
}

// Someone else's program (attached the legacy way, through netlink) stays where it is.
TEST_F(XespNicState, AnotherXdpProgramIsNeverReplaced) {
  auto tb = Testbed::create();
  ASSERT_TRUE(tb);
  TempDir dir;
  const bpf_insn pass[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, XDP_PASS},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  int prog = bpf_prog_load(BPF_PROG_TYPE_XDP, "foreign_pass", "GPL", pass, 2, nullptr);
  ASSERT_GE(prog, 0) << "loading a test XDP program: " << std::strerror(errno);
  const int ifindex = static_cast<int>(::if_nametoindex(tb->capture_if().c_str()));
  ASSERT_EQ(bpf_xdp_attach(ifindex, prog, XDP_FLAGS_DRV_MODE, nullptr), 0);
  ::close(prog);  // attached through netlink: it stays after the fd closes
  const uint32_t foreign_id = attached_xdp_prog_id(tb->capture_if());
  ASSERT_NE(foreign_id, 0u);
  const int promisc_before = promiscuity(tb->capture_if());

  for (const char* mode : {"auto", "native", "generic"}) {
    ProcessResult r = run({xesp_binary(), "capture", "-i", tb->capture_if(), "-w",
                           dir.file("x.pcapng"), "--xdp-mode", mode});
    EXPECT_NE(r.exit_code, 0) << mode;
    auto err = lines(r.err);
    ASSERT_EQ(err.size(), 1u) << r.err;
    EXPECT_NE(err[0].find("already has an XDP program attached (program id " +
                          std::to_string(foreign_id) + ")"),
              std::string::npos)
        << mode << ": " << err[0];
    EXPECT_EQ(attached_xdp_prog_id(tb->capture_if()), foreign_id) << "the other program was touched";
    EXPECT_EQ(promiscuity(tb->capture_if()), promisc_before);
  }
  EXPECT_EQ(bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, nullptr), 0);
}

}  // namespace
}  // namespace xesp::test
