// Faults, signals and odd outputs of `xesp capture` (issue 13), each on a veth testbed of its
// own: a NIC removed or taken down mid-capture, RX queues added under a capture, signals at any
// moment (start-up included), a file name that is not UTF-8, standard output appended to a file
// on a file system that fills up, and an O_NONBLOCK pipe read slowly. What the CLI promises is
// checked from outside: exit status and signal, the stderr lines, the --json summary against
// the frames really in the file (PcapngReader, capinfos, check_frames) and the NIC's state
// read from the kernel (bpf_xdp_query, IFLA_PROMISCUITY).
//
// Each test says which earlier behaviour it catches; the ones checked by reverting the fix
// locally say so.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <thread>

#include "pcapng/pcapng_reader.hpp"
#include "support/scoped_tmpfs.hpp"
#include "support/capture_run.hpp"
#include "support/testbed.hpp"
#include "test_frame.hpp"

namespace xesp::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* kOtherQueuesWarning = "frames arrive on RX queues the NIC gained";

class Faults : public ::testing::Test {
 protected:
  void SetUp() override { XESP_REQUIRE_INTEGRATION(); }
};

// The --json summary when it is on stderr (with -w -): the line that is a JSON object.
nlohmann::json json_from_stderr(const std::string& err) {
  std::size_t start = 0;
  while (start < err.size()) {
    std::size_t nl = err.find('\n', start);
    const std::string line =
        err.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    if (!line.empty() && line.front() == '{') {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_discarded()) return j;
    }
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  ADD_FAILURE() << "no JSON summary on stderr: " << err;
  return nlohmann::json::object();
}

uint64_t number(const nlohmann::json& j, const char* key) {
  EXPECT_TRUE(j.contains(key) && j[key].is_number_unsigned()) << key << " missing: " << j.dump();
  return j.contains(key) && j[key].is_number_unsigned() ? j[key].get<uint64_t>() : UINT64_MAX;
}

// capinfos opens the file and counts `frames` in it.
void expect_capinfos_count(const std::string& path, uint64_t frames) {
  ProcessResult ci = run({"capinfos", "-c", "-M", path});
  EXPECT_EQ(ci.exit_code, 0) << path << ": " << ci.err;
  EXPECT_NE(ci.out.find("Number of packets:   " + std::to_string(frames)), std::string::npos)
      << ci.out;
}

std::vector<std::byte> bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chars{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::vector<std::byte> out(chars.size());
  std::memcpy(out.data(), chars.data(), chars.size());
  return out;
}

bool run_ok(const std::vector<std::string>& argv) {
  ProcessResult r = run(argv, 20s);
  EXPECT_EQ(r.exit_code, 0) << argv[0] << " " << argv[1] << " ...: " << r.err;
  return r.exit_code == 0;
}

// The number after `label` in the plain-text summary on stderr.
uint64_t summary_line_number(const std::string& err, const std::string& label) {
  const std::size_t at = err.find(label);
  if (at == std::string::npos) return UINT64_MAX;
  return std::strtoull(err.c_str() + at + label.size(), nullptr, 10);
}

// ---- 1. The NIC removed mid-capture -------------------------------------------------------

// Before: the poller slept in poll() on a socket the kernel had unbound (no event ever came)
// and the capture ran on with nothing to capture until someone pressed Ctrl-C; here the test
// would time out waiting for the process to end by itself.
TEST_F(Faults, NicRemovedEndsTheCaptureWithTheReasonAndAWholeFile) {
  auto tb = Testbed::create();
  ASSERT_TRUE(tb);
  TempDir dir;
  const std::string nic = tb->capture_if();
  const std::string file = dir.file("removed.pcapng");
  auto cap = start_capture({"-i", nic, "-w", file, "-c", "1000000", "--json"});
  ASSERT_TRUE(cap);
  constexpr uint64_t kFrames = 3'000;
  const uint64_t t_begin = now_ns();
  ProcessResult sent = tb->send(kFrames, 10'000, gen_args(/*mixed=*/true, 1));
  const uint64_t t_end = now_ns();
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  // The last frames reach the socket's ring within microseconds of the send; what veth still
  // holds when the link goes is dropped by the kernel, so give it a moment.
  std::this_thread::sleep_for(200ms);
  ASSERT_TRUE(run_ok({"ip", "link", "del", nic}));
  ASSERT_TRUE(wait_for([&] { return !cap->running(); }, 5s))
      << "xesp still runs 5 s after its NIC was removed: " << cap->stderr_so_far();
  ProcessResult r = cap->wait(1s);
  EXPECT_EQ(r.signal, 0);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("xesp: interface '" + nic + "' was removed during the capture ("),
            std::string::npos)
      << r.err;
  auto j = summary_json(r);
  EXPECT_EQ(number(j, "frames_written"), kFrames);
  auto parsed = PcapngReader::read_file(file);
  ASSERT_TRUE(parsed) << parsed.error().message;
  check_frames(*parsed, spec_for(true, 1), kFrames, 0, kFrames, t_begin, t_end);
  expect_capinfos_count(file, kFrames);
}

// ---- 2. Link down and up again ------------------------------------------------------------

// The issue asks that a link going down and up either ends the capture with the reason or lets
// it go on, never a silent hang. xesp goes on: the socket stays bound (the kernel unbinds
// AF_XDP sockets on unregister only), the program runs again once the link is up. This guards
// that the fault check added for removal (SO_ERROR) never mistakes a link flap for a removal,
// and that frames after the flap are still captured (a poller that stopped on the flap would
// leave the -c count unreached: the test would see a capture that does not end by itself).
TEST_F(Faults, LinkDownAndUpTheCaptureGoesOn) {
  auto tb = Testbed::create();
  ASSERT_TRUE(tb);
  TempDir dir;
  const std::string nic = tb->capture_if();
  const std::string file = dir.file("flap.pcapng");
  constexpr uint64_t kBefore = 2'000;
  constexpr uint64_t kAfter = 3'000;
  auto cap =
      start_capture({"-i", nic, "-w", file, "-c", std::to_string(kBefore + kAfter), "--json"});
  ASSERT_TRUE(cap);
  const uint64_t t_begin = now_ns();
  ProcessResult sent = tb->send(kBefore, 10'000, gen_args(/*mixed=*/true, 1));
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  std::this_thread::sleep_for(200ms);  // into the ring before the link goes (see above)
  ASSERT_TRUE(run_ok({"ip", "link", "set", nic, "down"}));
  std::this_thread::sleep_for(500ms);  // several poll timeouts: each one looks at SO_ERROR
  ASSERT_TRUE(run_ok({"ip", "link", "set", nic, "up"}));
  ASSERT_TRUE(cap->running()) << "the capture ended on the link going down: "
                              << cap->stderr_so_far();
  // The veth's carrier (both ends up) before the next frames, or they are dropped unsent.
  ASSERT_TRUE(wait_for([&] {
    ProcessResult show = run({"ip", "-j", "link", "show", "dev", nic});
    auto j = nlohmann::json::parse(show.out, nullptr, false);
    return j.is_array() && !j.empty() && j[0].value("operstate", "") == "UP";
  }));
  auto more = gen_args(/*mixed=*/true, 1);
  more.insert(more.end(), {"--start-seq", std::to_string(kBefore)});
  sent = tb->send(kAfter, 10'000, more);
  const uint64_t t_end = now_ns();
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  ASSERT_TRUE(wait_for([&] { return !cap->running(); }, 20s))
      << "the count was not reached: frames after the flap were lost";
  ProcessResult r = cap->wait(1s);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto j = summary_json(r);
  EXPECT_EQ(number(j, "frames_written"), kBefore + kAfter);
  auto parsed = PcapngReader::read_file(file);
  ASSERT_TRUE(parsed) << parsed.error().message;
  check_frames(*parsed, spec_for(true, 1), kBefore + kAfter, 0, kBefore + kAfter, t_begin, t_end);
}

// ---- 3. RX queues added mid-capture -------------------------------------------------------

// The veth starts with one RX queue (so xesp captures queue 0 only) and gets four while the
// capture runs; 64 flows then spread over the four. Every frame sent is seen on queue 0 or
// counted on the queues added later ("other queues"), the warning comes once, and every frame
// of queue 0 is in the file. Before: frames on the new queues went to the stack uncounted
// (frames_seen + 0 < frames sent, no warning, no frames_other_queues in --json).
//
// On this kernel (6.18) veth allows native XDP only while its RX queues are at least its
// peer's TX queues, and runs XDP on RX queues added while it is up only after the link goes
// down and up: `native` lowers the peer's TX queues too and flaps the link after adding the
// queues; `generic` lowers only the capture end's (xesp's auto mode then attaches generic
// XDP, where the queue index comes from the peer's TX queue and no flap is needed).
struct AddedQueues {
  const char* name;
  bool native;
  bool json;  // --json, or the plain summary's "other queues" line
};

void PrintTo(const AddedQueues& c, std::ostream* os) { *os << c.name; }

class FaultsAddedQueues : public Faults, public ::testing::WithParamInterface<AddedQueues> {};

TEST_P(FaultsAddedQueues, FramesOnTheNewQueuesAreCountedAndWarnedOnce) {
  const AddedQueues& c = GetParam();
  auto tb = Testbed::create({.queues = 4});
  ASSERT_TRUE(tb);
  TempDir dir;
  const std::string nic = tb->capture_if();
  const std::string file = dir.file("added.pcapng");
  auto ethtool_gen = [&](const char* n) {
    return run_ok({"ip", "netns", "exec", tb->netns(), "ethtool", "-L", tb->gen_if(), "tx", n});
  };
  ASSERT_TRUE(run_ok({"ethtool", "-L", nic, "rx", "1", "tx", "1"}));
  if (c.native) {
    ASSERT_TRUE(ethtool_gen("1"));
  }
  std::vector<std::string> args = {"-i", nic, "-w", file};
  if (c.json) args.push_back("--json");
  auto cap = start_capture(args);
  ASSERT_TRUE(cap);
  EXPECT_NE(cap->stderr_so_far().find(c.native ? "XDP native" : "XDP generic"), std::string::npos)
      << cap->stderr_so_far();
  EXPECT_NE(cap->stderr_so_far().find("(queues 0,"), std::string::npos) << cap->stderr_so_far();
  ASSERT_TRUE(run_ok({"ethtool", "-L", nic, "rx", "4", "tx", "4"}));
  if (c.native) {
    ASSERT_TRUE(ethtool_gen("4"));
    ASSERT_TRUE(run_ok({"ip", "link", "set", nic, "down"}));
    ASSERT_TRUE(run_ok({"ip", "link", "set", nic, "up"}));
    std::this_thread::sleep_for(200ms);  // the carrier
  }
  constexpr uint64_t kFrames = 4'000;
  const uint64_t t_begin = now_ns();
  ProcessResult sent = tb->send(kFrames, 10'000, gen_args(/*mixed=*/true, 64));
  const uint64_t t_end = now_ns();
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  // Statistics go out once a second: the warning comes with the first that counts them.
  EXPECT_TRUE(wait_for(
      [&] { return cap->stderr_so_far().find(kOtherQueuesWarning) != std::string::npos; }, 5s))
      << "no warning while the capture runs";
  cap->signal(SIGINT);
  ProcessResult r = cap->wait(20s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  uint64_t seen = 0, other = 0, written = 0;
  if (c.json) {
    auto j = summary_json(r);
    seen = number(j, "frames_seen");
    other = number(j, "frames_other_queues");
    written = number(j, "frames_written");
    EXPECT_EQ(number(j, "frames_dropped"), 0u);
  } else {
    seen = summary_line_number(r.err, "  frames seen ");
    other = summary_line_number(r.err, "  other queues ");
    written = summary_line_number(r.err, "  frames written ");
    EXPECT_NE(r.err.find("(on RX queues added after the start: not captured)"), std::string::npos)
        << r.err;
  }
  EXPECT_GT(seen, 0u) << "nothing on queue 0: the test shows nothing";
  EXPECT_GT(other, 0u) << "nothing on the added queues: the test shows nothing";
  EXPECT_EQ(seen + other, kFrames);
  std::size_t warnings = 0;
  for (std::size_t at = r.err.find(kOtherQueuesWarning); at != std::string::npos;
       at = r.err.find(kOtherQueuesWarning, at + 1))
    ++warnings;
  EXPECT_EQ(warnings, 1u) << r.err;
  auto parsed = PcapngReader::read_file(file);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(written, seen) << "frames of queue 0 lost";
  check_frames(*parsed, spec_for(true, 64), seen, 0, kFrames, t_begin, t_end);
  for (const auto& p : parsed->packets) EXPECT_EQ(p.interface_id, 0u);
}

INSTANTIATE_TEST_SUITE_P(Ways, FaultsAddedQueues,
                         ::testing::Values(AddedQueues{"NativeJson", true, true},
                                           AddedQueues{"GenericText", false, false}),
                         [](const ::testing::TestParamInfo<AddedQueues>& info) {
                           return std::string(info.param.name);
                         });

// ---- 4. Signals ---------------------------------------------------------------------------

// (a) SIGQUIT and SIGHUP (no rotation) end a capture like Ctrl-C: every frame sent is in a
// whole file, the summary counts exactly those. Before (xesp handled SIGINT and SIGTERM only)
// SIGQUIT killed it with a core dump and SIGHUP killed it, the file without its statistics
// blocks and no summary (checked by removing them from the signal set).
class FaultsEndingSignal : public Faults, public ::testing::WithParamInterface<int> {};

TEST_P(FaultsEndingSignal, EndsTheCaptureWithAWholeFileAndTheTrueSummary) {
  const int sig = GetParam();
  auto tb = Testbed::create();
  ASSERT_TRUE(tb);
  TempDir dir;
  const std::string file = dir.file("signal.pcapng");
  auto cap = start_capture({"-i", tb->capture_if(), "-w", file, "--json"});
  ASSERT_TRUE(cap);
  constexpr uint64_t kFrames = 2'000;
  const uint64_t t_begin = now_ns();
  ProcessResult sent = tb->send(kFrames, 10'000, gen_args(/*mixed=*/true, 1));
  const uint64_t t_end = now_ns();
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  std::this_thread::sleep_for(100ms);
  cap->signal(sig);
  ProcessResult r = cap->wait(20s);
  EXPECT_EQ(r.signal, 0) << "killed by " << ::strsignal(r.signal);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto parsed = PcapngReader::read_file(file);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->stats.size(), 1u) << "no statistics block: the file was not closed";
  check_frames(*parsed, spec_for(true, 1), kFrames, 0, kFrames, t_begin, t_end);
  auto j = summary_json(r);
  EXPECT_EQ(number(j, "frames_written"), parsed->packets.size());
  expect_capinfos_count(file, kFrames);
}

INSTANTIATE_TEST_SUITE_P(Signals, FaultsEndingSignal, ::testing::Values(SIGQUIT, SIGHUP),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::string(info.param == SIGQUIT ? "Sigquit" : "Sighup");
                         });

// Whether the process catches `sig` (SigCgt in /proc/PID/status).
bool catches(pid_t pid, int sig) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("SigCgt:", 0) != 0) continue;
    const uint64_t mask = std::strtoull(line.c_str() + 7, nullptr, 16);
    return (mask >> (sig - 1)) & 1;
  }
  return false;
}

// Whether the process holds a BPF object (program, map, link): Connect has begun.
bool holds_bpf(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return false;
  bool found = false;
  while (dirent* e = ::readdir(d)) {
    char target[256] = {};
    const std::string link = dir + "/" + e->d_name;
    if (::readlink(link.c_str(), target, sizeof(target) - 1) > 0 &&
        std::strncmp(target, "anon_inode:bpf", 14) == 0)
      found = true;
  }
  ::closedir(d);
  return found;
}

// (b) A signal at any moment of start-up. A large --frame-count makes Connect take a while
// (1 GiB of UMEM populated and locked: ~0.8 s here), so most delays land inside it. Whatever
// the moment, the process exits normally (by its own exit, not the signal): with "... before
// the capture started: nothing captured" and status 1 before Start, else status 0 and a whole
// file; nothing stays attached and promiscuity is back. The one exception: a signal so early
// that no handler is installed yet (the first ~10 ms: the loader, argument parsing) kills the
// process, which is harmless then, as nothing has been touched; the test then asserts that
// Connect had not begun. Before (handlers installed after Start) every signal during Connect
// killed the process by its default action: caught by "Connect has begun, so the handler must
// be there" (checked by moving the signal set after Start).
struct StartupSignal {
  int delay_ms;
  int sig;
};

void PrintTo(const StartupSignal& c, std::ostream* os) {
  *os << c.delay_ms << " ms, " << ::strsignal(c.sig);
}

class FaultsStartupSignal : public Faults, public ::testing::WithParamInterface<StartupSignal> {};

TEST_P(FaultsStartupSignal, ExitsNormallyAndLeavesTheNicClean) {
  const StartupSignal& c = GetParam();
  auto tb = Testbed::create();
  ASSERT_TRUE(tb);
  TempDir dir;
  const std::string nic = tb->capture_if();
  const std::string file = dir.file("startup.pcapng");
  const int promisc_before = promiscuity(nic);
  const auto spawned = std::chrono::steady_clock::now();
  Subprocess cap(
      {xesp_binary(), "capture", "-v", "-i", nic, "-w", file, "--frame-count", "262144"});
  std::this_thread::sleep_until(spawned + std::chrono::milliseconds(c.delay_ms));
  // In this order: a process seen connecting must already catch the signal (handlers come
  // before Connect), and one that catches it then catches it when it comes.
  const bool connecting = holds_bpf(cap.pid());
  const bool caught = catches(cap.pid(), c.sig);
  cap.signal(c.sig);
  ProcessResult r = cap.wait(30s);
  if (connecting) {
    EXPECT_TRUE(caught) << "Connect began before the handler for the signal was installed";
  }
  const bool started = r.err.find("capturing on") != std::string::npos;
  const char* outcome = r.signal     ? "killed by the signal"
                        : started    ? "after Start"
                        : connecting ? "during Connect"
                                     : "before Connect";
  std::cout << "[ outcome  ] " << c.delay_ms << " ms " << ::strsignal(c.sig) << ": " << outcome
            << " (exit " << r.exit_code << ")\n";
  if (caught || r.signal == 0) {
    EXPECT_EQ(r.signal, 0) << "killed by " << ::strsignal(r.signal);
    if (started) {
      EXPECT_EQ(r.exit_code, 0) << r.err;
    } else {
      EXPECT_EQ(r.exit_code, 1) << r.err;
      EXPECT_NE(r.err.find(std::string(::strsignal(c.sig)) +
                           " before the capture started: nothing captured"),
                std::string::npos)
          << r.err;
    }
  } else {
    EXPECT_EQ(r.signal, c.sig);
    EXPECT_FALSE(connecting);
  }
  EXPECT_TRUE(wait_for([&] { return attached_xdp_prog_id(nic) == 0; }))
      << "XDP program still attached: id " << attached_xdp_prog_id(nic);
  EXPECT_TRUE(wait_for([&] { return promiscuity(nic) == promisc_before; }))
      << "promiscuity " << promiscuity(nic) << ", was " << promisc_before;
  if (started) {
    auto parsed = PcapngReader::read_file(file);
    EXPECT_TRUE(parsed) << "the file is not whole: " << parsed.error().message;
  } else {
    EXPECT_FALSE(fs::exists(file)) << "a file from a capture that never started";
  }
}

INSTANTIATE_TEST_SUITE_P(Moments, FaultsStartupSignal,
                         ::testing::Values(StartupSignal{20, SIGINT}, StartupSignal{40, SIGINT},
                                           StartupSignal{40, SIGTERM}, StartupSignal{60, SIGINT},
                                           StartupSignal{80, SIGINT}, StartupSignal{120, SIGINT},
                                           StartupSignal{120, SIGTERM}, StartupSignal{200, SIGINT},
                                           StartupSignal{400, SIGINT}, StartupSignal{400, SIGTERM},
                                           StartupSignal{1500, SIGINT}),
                         [](const ::testing::TestParamInfo<StartupSignal>& info) {
                           return std::to_string(info.param.delay_ms) + "ms" +
                                  (info.param.sig == SIGINT ? "Sigint" : "Sigterm");
                         });

// (c) The -c count reached and Ctrl-C at the same moment: Stop then finds the capture already
// stopped by its trigger. Before, the summary was then the last one-second snapshot, short of
// the frames written since (frames_written below the frames in the file); now it waits for the
// trigger's final statistics. The race is hit only sometimes, hence the repeats.
TEST_F(Faults, CountAndCtrlCTogetherGiveTheFinalSummary) {
  auto tb = Testbed::create();
  ASSERT_TRUE(tb);
  TempDir dir;
  constexpr uint64_t kFrames = 5'000;
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    // The last round's link may be released by the kernel a moment after its process is
    // reaped: until then this NIC "already has an XDP program attached".
    ASSERT_TRUE(wait_for([&] { return attached_xdp_prog_id(tb->capture_if()) == 0; }))
        << "the last round's program is still attached";
    const std::string file = dir.file("race" + std::to_string(round) + ".pcapng");
    auto cap = start_capture(
        {"-i", tb->capture_if(), "-w", file, "-c", std::to_string(kFrames), "--json"});
    ASSERT_TRUE(cap);
    auto args = gen_args(/*mixed=*/false, 1);
    args.insert(args.end(), {"--start-seq", std::to_string(round * kFrames)});
    const uint64_t t_begin = now_ns();
    ProcessResult sent = tb->send(kFrames, 100'000, args);
    cap->signal(SIGINT);
    const uint64_t t_end = now_ns();
    ASSERT_EQ(sent.exit_code, 0) << sent.err;
    ProcessResult r = cap->wait(20s);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto parsed = PcapngReader::read_file(file);
    ASSERT_TRUE(parsed) << parsed.error().message;
    const uint64_t in_file = parsed->packets.size();
    EXPECT_LE(in_file, kFrames);
    check_frames(*parsed, spec_for(false, 1), in_file, round * kFrames, kFrames, t_begin, t_end);
    auto j = summary_json(r);
    EXPECT_EQ(number(j, "frames_written"), in_file);
    EXPECT_EQ(number(j, "frames_seen"), number(j, "frames_written") + number(j, "frames_dropped") +
                                            number(j, "frames_after_stop") +
                                            number(j, "frames_paused"));
  }
}

// ---- 6. A file name that is not UTF-8 -----------------------------------------------------

// Names are bytes. Before, --json threw nlohmann's type_error 316 on the byte \xff: the
// process died by SIGABRT after the capture, with no summary (checked by dropping the replace
// handler from dump()).
TEST_F(Faults, JsonSummaryOfAFileNameThatIsNotUtf8) {
  auto tb = Testbed::create();
  ASSERT_TRUE(tb);
  TempDir dir;
  const std::string file = dir.file("cap-\xff-latin1.pcapng");
  auto cap = start_capture({"-i", tb->capture_if(), "-w", file, "-c", "100", "--json"});
  ASSERT_TRUE(cap);
  ASSERT_EQ(tb->send(100, 10'000, gen_args(false, 1)).exit_code, 0);
  ProcessResult r = finish(*cap, 20s);
  EXPECT_EQ(r.signal, 0) << "killed by " << ::strsignal(r.signal);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = summary_json(r);
  ASSERT_TRUE(j.contains("file")) << r.out;
  EXPECT_EQ(j["file"].get<std::string>(), dir.file("cap-\xef\xbf\xbd-latin1.pcapng"))
      << "the bad byte becomes U+FFFD";
  EXPECT_EQ(number(j, "frames_written"), 100u);
  auto parsed = PcapngReader::read_file(file);  // under its real (byte) name
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->packets.size(), 100u);
}

// ---- 7. Standard output appended to a file, and the file system fills up --------------------

// `xesp capture -w - >> old.pcapng` on a 2 MiB tmpfs. At the write error the writer cuts the
// file back to the last whole block, counted from where the file began for it (its size when
// opened O_APPEND). Before, it cut at its own byte count as if the file started empty: the
// appended part ended mid-block, or the old content was cut (checked by reverting the offset).
TEST_F(Faults, AppendedStandardOutputOnAFullFileSystemKeepsTheOldContent) {
  TempDir dir;
  ScopedTmpfs small(dir.file("small"), "size=2m");
  if (!small.ok()) GTEST_SKIP() << small.error();
  const std::string& mnt = small.path();
  auto tb = Testbed::create();
  ASSERT_TRUE(tb);
  const std::string file = mnt + "/old.pcapng";
  // Old content that is no pcapng and no multiple of 4 bytes: any cut in the wrong place
  // shows, in the old part or in the new.
  std::vector<std::byte> old(256 * 1024 + 3);
  for (std::size_t i = 0; i < old.size(); ++i) old[i] = std::byte(0xa5 ^ (i * 7));
  {
    std::ofstream out(file, std::ios::binary);
    out.write(reinterpret_cast<const char*>(old.data()), static_cast<std::streamsize>(old.size()));
  }
  const int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  Subprocess cap({xesp_binary(), "capture", "-v", "-i", tb->capture_if(), "-w", "-", "--json"}, fd);
  ::close(fd);
  ASSERT_TRUE(wait_until_capturing(cap)) << cap.stderr_so_far();
  constexpr uint64_t kFrames = 20'000;  // ~16 MB of mixed frames for 1.75 MiB of room
  const uint64_t t_begin = now_ns();
  ProcessResult sent = tb->send(kFrames, 50'000, gen_args(/*mixed=*/true, 1));
  const uint64_t t_end = now_ns();
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  ProcessResult r = finish(cap, 20s);  // xesp stops itself at the error
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r.err;
  const std::vector<std::byte> now = bytes_of(file);
  ASSERT_GT(now.size(), old.size());
  EXPECT_TRUE(std::equal(old.begin(), old.end(), now.begin())) << "the old content was changed";
  auto appended = PcapngReader::read_bytes(std::span(now).subspan(old.size()), "appended part");
  ASSERT_TRUE(appended) << appended.error().message;
  const uint64_t in_file = appended->packets.size();
  EXPECT_GT(in_file, 0u);
  check_frames(*appended, spec_for(true, 1), in_file, 0, kFrames, t_begin, t_end);
  auto j = json_from_stderr(r.err);
  EXPECT_EQ(number(j, "frames_written"), in_file);
  EXPECT_GT(number(j["dropped"], "write_error"), 0u);
}

// The same with a descriptor opened O_RDWR|O_APPEND (what a program, not a shell, hands on)
// and --file-io map: the mapping starts at offset 0, so the capture used to overwrite the old
// content and cut the file to its own length. The writer now writes such a file with writev.
TEST_F(Faults, AppendedStandardOutputIsNeverMappedOverTheOldContent) {
  auto tb = Testbed::create();
  ASSERT_TRUE(tb);
  TempDir dir;
  const std::string file = dir.file("old.pcapng");
  std::vector<std::byte> old(100'003);
  for (std::size_t i = 0; i < old.size(); ++i) old[i] = std::byte(0x5a ^ (i * 13));
  {
    std::ofstream out(file, std::ios::binary);
    out.write(reinterpret_cast<const char*>(old.data()), static_cast<std::streamsize>(old.size()));
  }
  const int fd = ::open(file.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  Subprocess cap({xesp_binary(), "capture", "-v", "-i", tb->capture_if(), "-w", "-", "--file-io",
                  "map", "-c", "200", "--json"},
                 fd);
  ::close(fd);
  ASSERT_TRUE(wait_until_capturing(cap)) << cap.stderr_so_far();
  const uint64_t t_begin = now_ns();
  ASSERT_EQ(tb->send(200, 10'000, gen_args(/*mixed=*/true, 1)).exit_code, 0);
  const uint64_t t_end = now_ns();
  ProcessResult r = finish(cap, 20s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::byte> now = bytes_of(file);
  ASSERT_GT(now.size(), old.size());
  EXPECT_TRUE(std::equal(old.begin(), old.end(), now.begin())) << "the old content was changed";
  auto appended = PcapngReader::read_bytes(std::span(now).subspan(old.size()), "appended part");
  ASSERT_TRUE(appended) << appended.error().message;
  check_frames(*appended, spec_for(true, 1), 200, 0, 200, t_begin, t_end);
}

// ---- 8. An O_NONBLOCK pipe as standard output, read slowly --------------------------------

// The reader sets its pipe O_NONBLOCK (as some shells' and runtimes' pipes are) and reads
// 64 KiB every 20 ms, after a first pause long enough that the pipe is full: the writer meets
// EAGAIN. Before, EAGAIN was a write error that ended the capture ("Resource temporarily
// unavailable", exit 1); now the writer waits for room.
TEST_F(Faults, NonBlockingPipeReadSlowlyLosesNothing) {
  auto tb = Testbed::create();
  ASSERT_TRUE(tb);
  int ends[2];
  ASSERT_EQ(::pipe2(ends, O_CLOEXEC), 0);
  struct CloseRead {
    int fd;
    ~CloseRead() { ::close(fd); }
  } read_end{ends[0]};
  ASSERT_EQ(::fcntl(ends[1], F_SETFL, ::fcntl(ends[1], F_GETFL) | O_NONBLOCK), 0);
  constexpr uint64_t kFrames = 20'000;
  Subprocess cap({xesp_binary(), "capture", "-v", "-i", tb->capture_if(), "-w", "-", "-c",
                  std::to_string(kFrames), "--json"},
                 ends[1]);
  ::close(ends[1]);  // the child's is the only write end: its exit is our end of file
  ASSERT_TRUE(wait_until_capturing(cap)) << cap.stderr_so_far();

  // 60-byte frames at 10,000/s: ~1 MB/s against 3.2 MB/s read, so the pause below (5,000
  // frames) fits in the RX ring of 8192 and no frame is dropped while the writer waits.
  const uint64_t t_begin = now_ns();
  ProcessResult sent;
  std::thread sender([&] { sent = tb->send(kFrames, 10'000, gen_args(/*mixed=*/false, 1)); });
  std::this_thread::sleep_for(500ms);
  std::vector<std::byte> stream;
  std::vector<std::byte> chunk(64 * 1024);
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  for (;;) {
    pollfd pfd{ends[0], POLLIN, 0};
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "no end of file within 60 s";
      cap.signal(SIGKILL);
      break;
    }
    if (::poll(&pfd, 1, 100) <= 0) continue;
    const ssize_t n = ::read(ends[0], chunk.data(), chunk.size());
    if (n <= 0) break;
    stream.insert(stream.end(), chunk.begin(), chunk.begin() + n);
    std::this_thread::sleep_for(20ms);
  }
  sender.join();
  const uint64_t t_end = now_ns();
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  ProcessResult r = cap.wait(10s);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("Resource temporarily unavailable"), std::string::npos) << r.err;
  auto parsed = PcapngReader::read_bytes(stream, "the pipe");
  ASSERT_TRUE(parsed) << parsed.error().message;
  check_frames(*parsed, spec_for(false, 1), kFrames, 0, kFrames, t_begin, t_end);
  auto j = json_from_stderr(r.err);
  EXPECT_EQ(number(j, "frames_written"), kFrames);
  EXPECT_EQ(number(j, "frames_dropped"), 0u);
}

}  // namespace
}  // namespace xesp::test
