// The provider on a real veth: the lifecycle gates the program on the NIC (observed through the
// kernel), statistics agree with what was sent and with the file, files come and go with
// Start/Stop, blob errors are named, and every trigger fires the status callback.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <thread>
#include <mutex>
#include <set>

#include "pcapng/pcapng_reader.hpp"
#include "support/event_log.hpp"
#include "support/testbed.hpp"
#include "test_frame.hpp"
#include "xesp/esp.hpp"
#include "xesp/rtc.hpp"

namespace xesp::test {
namespace {

using namespace std::chrono_literals;

class Provider : public ::testing::Test {
 protected:
  void SetUp() override {
    XESP_REQUIRE_INTEGRATION();
    tb_ = Testbed::create();
    ASSERT_TRUE(tb_);
  }

  Blob blob(std::initializer_list<std::pair<std::string, std::string>> extra = {}) const {
    Blob b;
    b.set("NPP", "Config", "Interface", tb_->capture_if());
    b.set("NPP", "Config", "CaptureDirectory", dir_.path());
    b.set("NPP", "Config", "UpdateFreq", "20");
    for (const auto& [key, value] : extra) {
      auto colon = key.find(':');
      b.set("NPP", key.substr(0, colon), key.substr(colon + 1), value);
    }
    return b;
  }

  void send(uint64_t count, uint64_t start_seq = 0, uint32_t size = 100) {
    ProcessResult r = tb_->send(count, 20'000,
                                {"--size", std::to_string(size), "--start-seq",
                                 std::to_string(start_seq), "--src-mac", "02:00:00:00:00:01"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  static PcapngFile read(const std::string& path) {
    auto f = PcapngReader::read_file(path);
    EXPECT_TRUE(f) << path << ": " << (f ? "" : f.error().message);
    return f ? *f : PcapngFile{};
  }

  std::unique_ptr<Testbed> tb_;
  TempDir dir_;
};

TEST_F(Provider, LifecycleGatesTheProgramOnTheNic) {
  const std::string nic = tb_->capture_if();
  const int promisc_before = promiscuity(nic);
  EventLog log;
  Esp esp;
  EXPECT_EQ(attached_xdp_prog_id(nic), 0u) << "nothing before Connect";

  ASSERT_EQ(esp.connect(blob(), log.callback()), std::error_code()) << esp.last_error();
  const ConnectionInfo info = esp.connection_info();
  EXPECT_NE(info.prog_id, 0u);
  EXPECT_EQ(attached_xdp_prog_id(nic), info.prog_id) << "our program, attached after Connect";
  EXPECT_EQ(promiscuity(nic), promisc_before + 1);

  std::string path;
  ASSERT_EQ(esp.start(path), std::error_code()) << esp.last_error();
  send(100);
  ASSERT_TRUE(log.wait_seen(100));

  // Disconnect while capturing is refused, and the capture goes on.
  EXPECT_EQ(esp.disconnect(), make_error_code(nmerr::capturing));
  EXPECT_EQ(attached_xdp_prog_id(nic), info.prog_id) << "still attached after a refused Disconnect";
  send(100, 100);
  ASSERT_TRUE(log.wait_seen(200));

  Statistics st;
  ASSERT_EQ(esp.stop(st), std::error_code()) << esp.last_error();
  EXPECT_EQ(st.frames_captured, 200u) << "frames after the refused Disconnect were captured too";
  EXPECT_EQ(attached_xdp_prog_id(nic), info.prog_id) << "Stop does not detach";

  ASSERT_EQ(esp.disconnect(), std::error_code());
  EXPECT_EQ(attached_xdp_prog_id(nic), 0u) << "gone after Disconnect";
  EXPECT_EQ(promiscuity(nic), promisc_before) << "promiscuity as before Connect";
  EXPECT_EQ(read(path).packets.size(), 200u);
}

TEST_F(Provider, ReleasingACapturingProviderCompletesTheFileAndDetaches) {
  const std::string nic = tb_->capture_if();
  const int promisc_before = promiscuity(nic);
  std::string path;
  {
    EventLog log;
    Esp esp;
    ASSERT_EQ(esp.connect(blob(), log.callback()), std::error_code()) << esp.last_error();
    ASSERT_EQ(esp.start(path), std::error_code());
    send(50);
    ASSERT_TRUE(log.wait_seen(50));
  }  // released while capturing
  EXPECT_EQ(attached_xdp_prog_id(nic), 0u);
  EXPECT_EQ(promiscuity(nic), promisc_before);
  PcapngFile f = read(path);
  EXPECT_EQ(f.packets.size(), 50u);
  ASSERT_EQ(f.stats.size(), 1u) << "the statistics block marks a completed file";
  EXPECT_EQ(f.stats[0].usr_deliv, 50u);
}

TEST_F(Provider, PausedFramesAreSeenButNotWritten) {
  EventLog log;
  Esp esp;
  ASSERT_EQ(esp.connect(blob(), log.callback()), std::error_code()) << esp.last_error();
  std::string path;
  ASSERT_EQ(esp.start(path), std::error_code());
  send(300, 0);
  ASSERT_TRUE(log.wait_seen(300));
  ASSERT_EQ(esp.pause(), std::error_code());
  send(200, 300);
  ASSERT_TRUE(log.wait_seen(500));
  ASSERT_EQ(esp.resume(), std::error_code());
  send(100, 500);
  ASSERT_TRUE(log.wait_seen(600));
  Statistics st;
  ASSERT_EQ(esp.stop(st), std::error_code());
  EXPECT_EQ(st.frames_seen, 600u);
  EXPECT_EQ(st.frames_paused, 200u);
  EXPECT_EQ(st.frames_captured, 400u);
  EXPECT_EQ(st.frames_dropped, 0u);

  // Pause/Resume kept one file; it holds exactly the frames captured, none sent while paused.
  PcapngFile f = read(path);
  ASSERT_EQ(f.packets.size(), st.frames_captured);
  for (const auto& p : f.packets) {
    auto info = gen::parse_test_frame(p.data);
    ASSERT_TRUE(info);
    EXPECT_TRUE(info->seq < 300 || info->seq >= 500) << "seq " << info->seq << " was sent while paused";
  }
  EXPECT_EQ(esp.disconnect(), std::error_code());
}

TEST_F(Provider, StopConfigureStartWritesASecondFile) {
  EventLog log;
  Esp esp;
  ASSERT_EQ(esp.connect(blob(), log.callback()), std::error_code()) << esp.last_error();
  std::string first, second;
  ASSERT_EQ(esp.start(first), std::error_code());
  send(100);
  ASSERT_TRUE(log.wait_seen(100));
  Statistics st;
  ASSERT_EQ(esp.stop(st), std::error_code());
  Blob change;
  change.set("NPP", "Config", "SnapLength", "64");
  ASSERT_EQ(esp.configure(change), std::error_code()) << esp.last_error();
  ASSERT_EQ(esp.start(second), std::error_code());
  EXPECT_NE(first, second);
  send(50, 100);
  ASSERT_TRUE(log.wait([](const UpdateEvent& e) {
    return e.statistics && e.statistics->frames_captured >= 50 && e.statistics->frames_seen < 100;
  }));
  ASSERT_EQ(esp.stop(st), std::error_code());
  EXPECT_EQ(st.frames_captured, 50u);

  PcapngFile a = read(first), b = read(second);
  EXPECT_EQ(a.packets.size(), 100u);
  EXPECT_EQ(b.packets.size(), 50u);
  for (const auto& p : a.packets) EXPECT_EQ(p.captured_len, 100u);
  for (const auto& p : b.packets) {
    EXPECT_EQ(p.captured_len, 64u) << "the second file uses the new snap length";
    EXPECT_EQ(p.original_len, 100u);
  }
  EXPECT_EQ(first.rfind(dir_.path(), 0), 0u) << "files are made in the capture directory";
}

TEST_F(Provider, ConfigureCannotChangeTheInterface) {
  Esp esp;
  ASSERT_EQ(esp.connect(blob()), std::error_code()) << esp.last_error();
  Blob change, errors;
  change.set("NPP", "Config", "Interface", "lo");
  EXPECT_EQ(esp.configure(change, &errors), make_error_code(nmerr::blob_conversion_error));
  ASSERT_EQ(errors.entries().size(), 1u);
  EXPECT_EQ(errors.entries()[0].tag, "Interface");
  EXPECT_NE(errors.entries()[0].value.find("Disconnect"), std::string::npos);
  EXPECT_EQ(esp.disconnect(), std::error_code());
}

TEST_F(Provider, ConfigureRebuildsTheSocketsForNewRingSizes) {
  Esp esp;
  ASSERT_EQ(esp.connect(blob()), std::error_code()) << esp.last_error();
  const uint32_t before = attached_xdp_prog_id(tb_->capture_if());
  Blob change;
  change.set("NPP", "Config", "RxRingSize", "512");
  change.set("NPP", "Config", "XdpMode", "generic");
  ASSERT_EQ(esp.configure(change), std::error_code()) << esp.last_error();
  EXPECT_EQ(esp.connection_info().xdp_mode, "generic");
  const uint32_t after = attached_xdp_prog_id(tb_->capture_if());
  EXPECT_NE(after, 0u);
  EXPECT_NE(after, before) << "a new program and link replace the old ones";
  EXPECT_EQ(esp.disconnect(), std::error_code());
  EXPECT_EQ(attached_xdp_prog_id(tb_->capture_if()), 0u);
}

struct BlobErrorCase {
  const char* name;
  std::vector<std::string> lines;  // the whole blob
  int code;
  std::string category;
  std::string tag;
};

void PrintTo(const BlobErrorCase& c, std::ostream* os) { *os << c.name; }

class ProviderBlobErrors : public Provider,
                           public ::testing::WithParamInterface<BlobErrorCase> {};

TEST_P(ProviderBlobErrors, ConnectNamesTheEntryWithItsCode) {
  const BlobErrorCase& c = GetParam();
  ::unsetenv("XESP_CAPTURE_DIR");
  Blob b, errors;
  for (auto line : c.lines) {
    if (auto at = line.find("{nic}"); at != std::string::npos) line.replace(at, 5, tb_->capture_if());
    if (auto at = line.find("{dir}"); at != std::string::npos) line.replace(at, 5, dir_.path());
    ASSERT_FALSE(b.parse(line));
  }
  Esp esp;
  EXPECT_EQ(esp.connect(b, nullptr, nullptr, &errors).value(), c.code) << esp.last_error();
  ASSERT_FALSE(errors.empty());
  const BlobEntry& e = errors.entries()[0];
  EXPECT_EQ(e.owner, "NPP");
  EXPECT_EQ(e.category, c.category);
  EXPECT_EQ(e.tag, c.tag);
  EXPECT_EQ(Blob::error_code_of(e.value), c.code) << e.value;
  EXPECT_EQ(attached_xdp_prog_id(tb_->capture_if()), 0u) << "a refused Connect touches nothing";
  NetworkStatus st;
  EXPECT_EQ(esp.query_status(st), std::error_code());
  bool running, paused;
  EXPECT_EQ(esp.get_control_state(running, paused), make_error_code(nmerr::not_connected));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ProviderBlobErrors,
    ::testing::Values(
        BlobErrorCase{"MissingInterface", {"NPP:Config:CaptureDirectory={dir}"}, 1004, "Config", "Interface"},
        BlobErrorCase{"UnknownCategory",
                      {"NPP:Config:Interface={nic}", "NPP:Config:CaptureDirectory={dir}", "NPP:Colour:Hue=red"},
                      1008, "Colour", "Hue"},
        BlobErrorCase{"UnknownTag",
                      {"NPP:Config:Interface={nic}", "NPP:Config:CaptureDirectory={dir}", "NPP:Config:Turbo=on"},
                      1009, "Config", "Turbo"},
        BlobErrorCase{"ValueDoesNotParse",
                      {"NPP:Config:Interface={nic}", "NPP:Config:CaptureDirectory={dir}", "NPP:Config:SnapLength=big"},
                      1010, "Config", "SnapLength"},
        BlobErrorCase{"NoCaptureDirectoryNoFile", {"NPP:Config:Interface={nic}"}, 116, "Config",
                      "CaptureDirectory"}),
    [](const ::testing::TestParamInfo<BlobErrorCase>& info) { return std::string(info.param.name); });

TEST_F(Provider, UnknownOwnerIsNamedWithItsOwner) {
  Blob b, errors;
  ASSERT_FALSE(b.parse("NPP:Config:Interface=" + tb_->capture_if() + "\nACME:Config:X=1\n"));
  Esp esp;
  EXPECT_EQ(esp.connect(b, nullptr, nullptr, &errors), make_error_code(nmerr::blob_owner_not_found));
  ASSERT_EQ(errors.entries().size(), 1u);
  EXPECT_EQ(errors.entries()[0].owner, "ACME");
}

// ---- Triggers --------------------------------------------------------------------------

struct TriggerCase {
  const char* tag;           // NPP:Trigger:<tag>
  const char* value;
  uint32_t value_code;       // UPDATE_EVENT.Value
  bool pauses;               // else stops
  uint64_t frames_kept;      // exactly this many in the file (0: check by duration/size)
};

void PrintTo(const TriggerCase& c, std::ostream* os) { *os << c.tag; }

class ProviderTriggers : public Provider, public ::testing::WithParamInterface<TriggerCase> {};

TEST_P(ProviderTriggers, FireTheCallbackWithFinalStatisticsAndChangeState) {
  const TriggerCase& c = GetParam();
  EventLog log;
  Esp esp;
  ASSERT_EQ(esp.connect(blob({{std::string("Trigger:") + c.tag, c.value}}), log.callback()),
            std::error_code())
      << esp.last_error();
  std::string path;
  ASSERT_EQ(esp.start(path), std::error_code());
  NetworkStatus ns;
  ASSERT_EQ(esp.query_status(ns), std::error_code());
  EXPECT_EQ(ns.flags & kFlagTriggerPending, kFlagTriggerPending) << "trigger armed";
  send(300);  // 100-byte frames
  auto ev = log.wait([](const UpdateEvent& e) { return e.event == kEventTriggerBufferContent; });
  ASSERT_TRUE(ev) << "no trigger event";
  EXPECT_EQ(ev->action, c.pauses ? kActionPauseCapture : kActionStopCapture);
  EXPECT_EQ(ev->value, c.value_code);
  EXPECT_EQ(ev->trigger_name, c.tag);
  EXPECT_EQ(ev->status, c.pauses ? kStatePaused : kStateVoid);
  ASSERT_TRUE(ev->statistics) << "the event carries the statistics";
  if (c.frames_kept) {
    EXPECT_EQ(ev->statistics->frames_captured, c.frames_kept);
  }

  bool running = false, paused = false;
  ASSERT_EQ(esp.get_control_state(running, paused), std::error_code());
  EXPECT_EQ(running, c.pauses);
  EXPECT_EQ(paused, c.pauses);
  Statistics st;
  if (c.pauses) {
    ASSERT_EQ(esp.stop(st), std::error_code());
  } else {
    EXPECT_EQ(esp.stop(st), make_error_code(nmerr::not_capturing)) << "the trigger stopped it";
  }
  PcapngFile f = read(path);
  if (c.frames_kept) {
    EXPECT_EQ(f.packets.size(), c.frames_kept);
  }
  EXPECT_EQ(f.packets.size(), ev->statistics->frames_captured);
  EXPECT_EQ(log.count_triggers(), 1u) << "a trigger fires once";
  EXPECT_EQ(esp.disconnect(), std::error_code());
}

INSTANTIATE_TEST_SUITE_P(
    Tags, ProviderTriggers,
    ::testing::Values(TriggerCase{"StopAfterFrames", "100", 1, false, 100},
                      TriggerCase{"StopAfterBytes", "1000", 2, false, 10},
                      TriggerCase{"StopAfterSeconds", "0.3", 3, false, 0},
                      TriggerCase{"StopAfterFileSize", "4k", 4, false, 0},
                      TriggerCase{"PauseAfterFrames", "50", 5, true, 50},
                      TriggerCase{"PauseAfterBytes", "1000", 6, true, 10}),
    [](const ::testing::TestParamInfo<TriggerCase>& info) { return std::string(info.param.tag); });

TEST_F(Provider, StopAfterFileSizeKeepsTheFileWithinTheLimit) {
  EventLog log;
  Esp esp;
  ASSERT_EQ(esp.connect(blob({{"Trigger:StopAfterFileSize", "8192"}}), log.callback()),
            std::error_code());
  std::string path;
  ASSERT_EQ(esp.start(path), std::error_code());
  send(300);
  ASSERT_TRUE(log.wait([](const UpdateEvent& e) { return e.value == 4; }));
  PcapngFile f = read(path);
  ASSERT_FALSE(f.packets.empty());
  // The whole file, the closing statistics blocks included, fits the limit, and one more
  // frame would not.
  ASSERT_EQ(f.stats.size(), 1u);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  EXPECT_LE(size, 8192u);
  EXPECT_GT(size + 132, 8192u);  // an EPB of a 100-byte frame is 132 bytes
  EXPECT_EQ(esp.disconnect(), std::error_code());
}

// A rotating capture through IESP: each new file is announced by a status event naming it, the
// files hold every frame once, and each one ends with statistics blocks of its own.
TEST_F(Provider, RotationAnnouncesEachNewFile) {
  EventLog log;
  Esp esp;
  ASSERT_EQ(esp.connect(blob({{"Config:RotateBytes", "64k"}, {"Config:RotateFiles", "0"}}),
                        log.callback()),
            std::error_code())
      << esp.last_error();
  std::string first;
  ASSERT_EQ(esp.start(first), std::error_code()) << esp.last_error();
  send(2'000, 0, 200);  // ~460 kB: seven or eight files of 64 KiB
  ASSERT_TRUE(log.wait_seen(2'000));
  Statistics st;
  ASSERT_EQ(esp.stop(st), std::error_code()) << esp.last_error();
  const ConnectionInfo info = esp.connection_info();
  ASSERT_GT(info.files.size(), 5u);
  EXPECT_EQ(info.files.front(), first);
  // Every file opened was announced, in order (the events come from the control thread).
  ASSERT_TRUE(log.wait([&](const UpdateEvent& e) {
    return e.event == kEventNewFile && e.file == info.files.back();
  }));
  std::vector<std::string> announced;
  for (const auto& path : info.files)
    if (log.wait([&](const UpdateEvent& e) { return e.event == kEventNewFile && e.file == path; },
                 1s))
      announced.push_back(path);
  EXPECT_EQ(announced, info.files);
  uint64_t frames = 0;
  std::set<uint64_t> seqs;
  for (const auto& path : info.files) {
    PcapngFile f = read(path);
    ASSERT_EQ(f.stats.size(), 1u) << path;
    EXPECT_EQ(f.stats[0].usr_deliv, f.packets.size()) << path;
    frames += f.packets.size();
    for (const auto& p : f.packets) seqs.insert(gen::parse_test_frame(p.data)->seq);
  }
  EXPECT_EQ(frames, 2'000u);
  EXPECT_EQ(seqs.size(), 2'000u);
  EXPECT_EQ(st.frames_captured, 2'000u);
  EXPECT_EQ(esp.disconnect(), std::error_code());
}

// A fixed CaptureFile is created once: Start after Stop refuses to replace it (unless
// Overwrite), and the first capture stays as it was.
TEST_F(Provider, StartAfterStopNeverOverwritesAFixedFile) {
  const std::string file = dir_.file("fixed.pcapng");
  EventLog log;
  Esp esp;
  ASSERT_EQ(esp.connect(blob({{"Config:CaptureFile", file}}), log.callback()), std::error_code())
      << esp.last_error();
  std::string path;
  ASSERT_EQ(esp.start(path), std::error_code()) << esp.last_error();
  EXPECT_EQ(path, file);
  send(50);
  Statistics st;
  ASSERT_TRUE(log.wait_seen(50));
  ASSERT_EQ(esp.stop(st), std::error_code());
  ASSERT_EQ(read(file).packets.size(), 50u);
  EXPECT_EQ(esp.start(path), make_error_code(nmerr::invalid_parameter));
  EXPECT_NE(esp.last_error().find("exists"), std::string::npos) << esp.last_error();
  EXPECT_EQ(read(file).packets.size(), 50u) << "the earlier capture was touched";
  // Asked to, the next Start replaces it.
  Blob again;
  again.set("NPP", "Config", "Overwrite", "yes");
  ASSERT_EQ(esp.configure(again), std::error_code()) << esp.last_error();
  ASSERT_EQ(esp.start(path), std::error_code()) << esp.last_error();
  ASSERT_EQ(esp.stop(st), std::error_code());
  EXPECT_EQ(read(file).packets.size(), 0u);
  EXPECT_EQ(esp.disconnect(), std::error_code());
}

long free_huge_pages() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("HugePages_Free:", 0) == 0) return std::stol(line.substr(15));
  return 0;
}

// Huge pages are the admin's to reserve: the test reserves what it needs and gives it back.
class HugePageReserve {
 public:
  explicit HugePageReserve(long pages) : before_(read()) { write(before_ + pages); }
  ~HugePageReserve() { write(before_); }

 private:
  static long read() {
    std::ifstream in("/proc/sys/vm/nr_hugepages");
    long n = 0;
    in >> n;
    return n;
  }
  static void write(long n) { std::ofstream("/proc/sys/vm/nr_hugepages") << n; }
  long before_;
};

TEST_F(Provider, UmemOnHugePagesWhenReserved) {
  HugePageReserve reserve(64);  // 64 MiB of UMEM per queue = 32 pages of 2 MiB
  if (free_huge_pages() < 32) GTEST_SKIP() << "the kernel could not reserve 32 huge pages";
  EventLog log;
  Esp esp;
  ASSERT_EQ(esp.connect(blob({{"Config:HugePages", "yes"}}), log.callback()), std::error_code())
      << esp.last_error();
  EXPECT_TRUE(esp.connection_info().umem_huge_pages);
  std::string path;
  ASSERT_EQ(esp.start(path), std::error_code());
  send(200);
  ASSERT_TRUE(log.wait_seen(200));
  Statistics st;
  ASSERT_EQ(esp.stop(st), std::error_code());
  EXPECT_EQ(read(path).packets.size(), 200u);
  EXPECT_EQ(esp.disconnect(), std::error_code());
}

TEST_F(Provider, HugePagesRequiredButNoneFreeIsRefused) {
  const long free_pages = free_huge_pages();
  if (free_pages >= 32) GTEST_SKIP() << free_pages << " huge pages are free on this machine";
  Esp esp;
  EXPECT_NE(esp.connect(blob({{"Config:HugePages", "yes"}})), std::error_code());
  EXPECT_NE(esp.last_error().find("nr_hugepages"), std::string::npos) << esp.last_error();
  EXPECT_EQ(attached_xdp_prog_id(tb_->capture_if()), 0u);
  // auto falls back to normal pages.
  ASSERT_EQ(esp.connect(blob({{"Config:HugePages", "auto"}})), std::error_code()) << esp.last_error();
  EXPECT_FALSE(esp.connection_info().umem_huge_pages);
  EXPECT_EQ(esp.disconnect(), std::error_code());
}

// ---- IRTC ------------------------------------------------------------------------------

TEST_F(Provider, RtcHandsEveryFrameToTheCallbackAndMarksSpecialFrames) {
  std::mutex mutex;
  std::set<uint64_t> seqs;
  std::vector<std::string> markers;
  uint64_t others = 0;
  auto frames = [&](std::span<const Frame> batch) {
    std::lock_guard lock(mutex);
    for (const Frame& f : batch) {
      if (f.flags & kFrameSpecial) {
        markers.emplace_back(reinterpret_cast<const char*>(f.data), f.len);
        continue;
      }
      auto info = gen::parse_test_frame({f.data, f.len});
      if (info && f.orig_len == 100 && f.queue == 0) seqs.insert(info->seq);
      else ++others;
    }
  };
  EventLog log;
  Rtc rtc;
  ASSERT_EQ(rtc.connect(blob(), log.callback(), frames), std::error_code()) << rtc.last_error();
  ASSERT_EQ(rtc.start(), std::error_code());
  send(500);
  ASSERT_TRUE(log.wait_seen(500));
  ASSERT_EQ(rtc.insert_special_frame("marker one"), std::error_code());
  Statistics total;
  ASSERT_EQ(rtc.get_total_statistics(total, false), std::error_code());
  EXPECT_EQ(total.frames_seen, 500u);
  ASSERT_EQ(rtc.stop(), std::error_code());
  ASSERT_EQ(rtc.get_total_statistics(total, false), std::error_code());
  EXPECT_EQ(total.frames_captured, 500u);
  std::lock_guard lock(mutex);
  EXPECT_EQ(seqs.size(), 500u);
  EXPECT_EQ(others, 0u);
  ASSERT_EQ(markers.size(), 1u);
  EXPECT_EQ(markers[0], "marker one");
  EXPECT_EQ(rtc.disconnect(), std::error_code());
}

// A frames callback runs on a poller that Stop must join: what it requests happens on the
// control thread right after, and calls that would wait for the provider are refused.
TEST_F(Provider, FramesCallbackMayRequestStopAndPause) {
  Rtc rtc;
  std::atomic<int> stop_code{-1}, stats_code{-1}, status_state{-1};
  std::atomic<bool> asked{false};
  auto frames = [&](std::span<const Frame>) {
    if (asked.exchange(true)) return;
    NetworkStatus ns;
    (void)rtc.query_status(ns);
    status_state = static_cast<int>(ns.state);
    Statistics st;
    stats_code = rtc.get_total_statistics(st, false).value();
    stop_code = rtc.stop().value();
  };
  ASSERT_EQ(rtc.connect(blob(), nullptr, frames), std::error_code()) << rtc.last_error();
  ASSERT_EQ(rtc.start(), std::error_code());
  send(100);
  auto stopped = [&] {
    bool running = true, paused = false;
    (void)rtc.get_control_state(running, paused);
    return !running;
  };
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!stopped() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  EXPECT_TRUE(stopped()) << "Stop requested from the callback never happened";
  EXPECT_EQ(stop_code, 0);
  EXPECT_EQ(status_state, static_cast<int>(kStateCapturing));
  EXPECT_EQ(stats_code, static_cast<int>(nmerr::invalid_parameter))
      << "GetTotalStatistics waits for the provider: refused from a callback";
  EXPECT_EQ(rtc.stop(), make_error_code(nmerr::not_capturing));
  EXPECT_EQ(rtc.disconnect(), std::error_code());
}

TEST_F(Provider, SpecialFrameCallbackMayRequestPause) {
  Rtc rtc;
  std::atomic<int> pause_code{-1};
  auto frames = [&](std::span<const Frame> batch) {
    for (const Frame& f : batch)
      if (f.flags & kFrameSpecial) pause_code = rtc.pause().value();
  };
  ASSERT_EQ(rtc.connect(blob(), nullptr, frames), std::error_code()) << rtc.last_error();
  ASSERT_EQ(rtc.start(), std::error_code());
  ASSERT_EQ(rtc.insert_special_frame("pause here"), std::error_code());
  EXPECT_EQ(pause_code, 0);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  NetworkStatus ns;
  do {
    std::this_thread::sleep_for(5ms);
    (void)rtc.query_status(ns);
  } while (ns.state != kStatePaused && std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(ns.state, kStatePaused);
  EXPECT_EQ(rtc.stop(), std::error_code());
  EXPECT_EQ(rtc.disconnect(), std::error_code());
}

TEST_F(Provider, EspAndRtcShareOneProvider) {
  Esp esp;
  Rtc rtc(esp);
  ASSERT_EQ(rtc.connect(blob(), nullptr, [](std::span<const Frame>) {}), std::error_code());
  std::string path;
  EXPECT_EQ(esp.start(path), make_error_code(nmerr::not_esp));
  EXPECT_EQ(esp.connect(blob()), make_error_code(nmerr::already_connected));
  EXPECT_EQ(rtc.disconnect(), std::error_code());
  ASSERT_EQ(esp.connect(blob()), std::error_code());
  EXPECT_EQ(rtc.start(), make_error_code(nmerr::not_realtime));
  EXPECT_EQ(esp.disconnect(), std::error_code());
}

}  // namespace
}  // namespace xesp::test
