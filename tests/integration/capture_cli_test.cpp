// End-to-end: `xesp capture` on a real veth in a test namespace, frames from xesp-gen read back
// from the pcapng file and compared byte for byte; what the NIC carries afterwards checked
// through the kernel (bpf_xdp_query, IFLA_PROMISCUITY), not through xesp's own view.
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pcapng/pcapng_reader.hpp"
#include "support/scoped_tmpfs.hpp"
#include "support/capture_run.hpp"
#include "support/testbed.hpp"
#include "test_frame.hpp"

namespace xesp::test {
namespace {

using namespace std::chrono_literals;

class CaptureCli : public ::testing::Test {
 protected:
  void SetUp() override { XESP_REQUIRE_INTEGRATION(); }

  // On a testbed of its own with `queues` RX queues: `frames` mixed test frames over `flows`
  // flows sent at `rate` per second and captured with `-c frames --json` plus `extra`; every
  // frame checked (check_frames). Leaves the file in file_, frames per IDB in per_interface_,
  // the JSON summary in summary_, the capture end's name in capture_if_.
  void capture_mixed(uint64_t frames, uint64_t rate, const std::vector<std::string>& extra,
                     uint32_t queues = 1, uint32_t flows = 1) {
    auto tb = Testbed::create({.queues = queues});
    ASSERT_TRUE(tb);
    capture_if_ = tb->capture_if();
    const std::string file = dir_.file("capture.pcapng");
    std::vector<std::string> args = {"-i", capture_if_, "-w", file, "-c", std::to_string(frames),
                                     "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto cap = start_capture(args);
    ASSERT_TRUE(cap);
    const uint64_t t_begin = now_ns();
    ProcessResult sent = tb->send(frames, rate, gen_args(/*mixed=*/true, flows));
    const uint64_t t_end = now_ns();
    ASSERT_EQ(sent.exit_code, 0) << sent.err;
    ProcessResult r = finish(*cap, 20s);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto parsed = PcapngReader::read_file(file);
    ASSERT_TRUE(parsed) << parsed.error().message;
    per_interface_ = check_frames(*parsed, spec_for(true, flows), frames, 0, frames, t_begin, t_end);
    file_ = std::move(*parsed);
    summary_ = summary_json(r);
  }

  TempDir dir_;
  std::string capture_if_;
  PcapngFile file_;
  std::map<uint32_t, uint64_t> per_interface_;
  nlohmann::json summary_;
};

TEST_F(CaptureCli, HundredThousandPacedMixedFramesByteForByte) {
  constexpr uint64_t kFrames = 100'000;
  ASSERT_NO_FATAL_FAILURE(capture_mixed(kFrames, 50'000, {}));
  ASSERT_EQ(file_.interfaces.size(), 1u);
  EXPECT_EQ(file_.interfaces[0].name, capture_if_ + ":q0");
  EXPECT_EQ(file_.interfaces[0].tsresol, 9);
  EXPECT_EQ(summary_["frames_written"], kFrames);
  EXPECT_EQ(summary_["frames_dropped"], 0);
  EXPECT_EQ(summary_["frames_poller_stamped"], 0) << "frames without the program's receive time";
  EXPECT_EQ(summary_["xdp_mode"], "native");
  EXPECT_EQ(summary_["file_io"], "write") << "one poller: auto writes";
  // The file's statistics block agrees with the summary.
  ASSERT_EQ(file_.stats.size(), 1u);
  EXPECT_EQ(file_.stats[0].usr_deliv, kFrames);
  EXPECT_EQ(file_.stats[0].if_drop, 0u);
}

TEST_F(CaptureCli, GenericXdpFramesCarryTheProgramsReceiveTimes) {
  // Generic XDP runs on socket buffers: the time header must survive that path too.
  constexpr uint64_t kFrames = 5'000;
  ASSERT_NO_FATAL_FAILURE(capture_mixed(kFrames, 20'000, {"--xdp-mode", "generic"}));
  EXPECT_EQ(summary_["xdp_mode"], "generic");
  EXPECT_EQ(summary_["frames_written"], kFrames);
  EXPECT_EQ(summary_["frames_poller_stamped"], 0) << "frames without the program's receive time";
}

TEST_F(CaptureCli, PollerTimestampsWriteEveryFrameWithoutTheHeader) {
  // --timestamps poller: the program writes no header, the pollers stamp every frame; the frames
  // are the same bytes and the times still fall within the sending (plus the ring's wait).
  constexpr uint64_t kFrames = 20'000;
  ASSERT_NO_FATAL_FAILURE(capture_mixed(kFrames, 50'000, {"--timestamps", "poller"}));
  EXPECT_EQ(summary_["frames_written"], kFrames);
  EXPECT_EQ(summary_["frames_poller_stamped"], kFrames);
  ASSERT_EQ(summary_["queues"].size(), 1u);
  EXPECT_EQ(summary_["queues"][0]["poller_stamped"], kFrames);
}

TEST_F(CaptureCli, FourQueuesAllCapturedEveryFrameAccounted) {
  constexpr uint64_t kFrames = 20'000;
  ASSERT_NO_FATAL_FAILURE(capture_mixed(kFrames, 20'000, {}, /*queues=*/4, /*flows=*/64));
  ASSERT_EQ(file_.interfaces.size(), 4u);
  for (uint32_t q = 0; q < 4; ++q)
    EXPECT_EQ(file_.interfaces[q].name, capture_if_ + ":q" + std::to_string(q));
  auto& per_if = per_interface_;
  for (uint32_t q = 0; q < 4; ++q) EXPECT_GT(per_if[q], 0u) << "no frame on queue " << q;

  const auto& j = summary_;
  ASSERT_EQ(j["queues"].size(), 4u);
  uint64_t written = 0;
  for (uint32_t q = 0; q < 4; ++q) {
    const auto& jq = j["queues"][q];
    EXPECT_EQ(jq["written"].get<uint64_t>(), per_if[q]) << "queue " << q;
    // Every frame the program saw is written or counted with its cause.
    EXPECT_EQ(jq["seen"].get<uint64_t>(),
              jq["written"].get<uint64_t>() + jq["after_stop"].get<uint64_t>() +
                  jq["dropped_ring_full"].get<uint64_t>() + jq["dropped_fill_empty"].get<uint64_t>() +
                  jq["dropped_other"].get<uint64_t>())
        << "queue " << q;
    EXPECT_EQ(jq["poller_stamped"].get<uint64_t>(), 0u) << "queue " << q;
    written += jq["written"].get<uint64_t>();
  }
  EXPECT_EQ(written, kFrames);
}

TEST_F(CaptureCli, FourQueuesIntoAMappedFileByteForByte) {
  // --file-io map: the pollers copy into a mapping of the file (here on /tmp, whatever its file
  // system), each into the range it reserved; every frame must come back whole, the file must
  // end at its last block (the growth ahead cut off) and hold the statistics blocks.
  constexpr uint64_t kFrames = 20'000;
  ASSERT_NO_FATAL_FAILURE(
      capture_mixed(kFrames, 20'000, {"--file-io", "map"}, /*queues=*/4, /*flows=*/64));
  EXPECT_EQ(summary_["file_io"], "map");
  EXPECT_EQ(summary_["frames_written"], kFrames);
  for (uint32_t q = 0; q < 4; ++q) EXPECT_GT(per_interface_[q], 0u) << "no frame on queue " << q;
  EXPECT_EQ(file_.stats.size(), 4u);
}

// A file system that fills up mid-capture (a 2 MiB tmpfs of the test's own): xesp stops with
// the error, the file ends on a block boundary and holds exactly the frames (and bytes) the
// summary calls written, each one a frame that was sent, and every frame the program saw is
// written or dropped with its cause, write_error among them.
class CaptureCliFullFs : public CaptureCli, public ::testing::WithParamInterface<const char*> {};

TEST_P(CaptureCliFullFs, EveryFrameAccountedAndTheFileReadable) {
  TempDir dir;
  ScopedTmpfs small(dir.file("small"), "size=2m");
  if (!small.ok()) GTEST_SKIP() << small.error();
  const std::string& mnt = small.path();
  auto tb = Testbed::create({.queues = 4});
  ASSERT_TRUE(tb);
  const std::string file = mnt + "/full.pcapng";
  auto cap = start_capture({"-i", tb->capture_if(), "-w", file, "--json", "--file-io", GetParam()});
  ASSERT_TRUE(cap);
  // Mixed sizes average ~800 bytes: 20,000 frames are eight times the file system.
  constexpr uint64_t kFrames = 20'000;
  const uint64_t t_begin = now_ns();
  ProcessResult sent = tb->send(kFrames, 50'000, gen_args(/*mixed=*/true, 64));
  const uint64_t t_end = now_ns();
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  ProcessResult r = finish(*cap, 20s);  // xesp stops itself at the error
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r.err;
  auto j = summary_json(r);
  EXPECT_EQ(j["file_io"], GetParam());
  auto parsed = PcapngReader::read_file(file);
  ASSERT_TRUE(parsed) << parsed.error().message;
  const uint64_t in_file = parsed->packets.size();
  check_frames(*parsed, spec_for(true, 64), in_file, 0, kFrames, t_begin, t_end);
  EXPECT_GT(in_file, 0u);
  EXPECT_EQ(j["frames_written"].get<uint64_t>(), in_file);
  // Bytes too: the frames in the file, not those the failed write lost (it counted them once).
  uint64_t bytes_in_file = 0;
  for (const auto& p : parsed->packets) bytes_in_file += p.original_len;
  EXPECT_EQ(j["bytes_written"].get<uint64_t>(), bytes_in_file);
  const auto& d = j["dropped"];
  EXPECT_GT(d["write_error"].get<uint64_t>(), 0u);
  const uint64_t by_cause = d["rx_ring_full"].get<uint64_t>() + d["fill_ring_empty"].get<uint64_t>() +
                            d["other"].get<uint64_t>() + d["write_error"].get<uint64_t>();
  EXPECT_EQ(j["frames_dropped"].get<uint64_t>(), by_cause);
  EXPECT_EQ(j["frames_seen"].get<uint64_t>(),
            in_file + by_cause + j["frames_after_stop"].get<uint64_t>() +
                j["frames_paused"].get<uint64_t>());
}

INSTANTIATE_TEST_SUITE_P(FileIo, CaptureCliFullFs, ::testing::Values("write", "map"));

TEST_F(CaptureCli, CountStopsAtExactlyThatManyFramesAcrossFourQueues) {
  auto tb = Testbed::create({.queues = 4});
  ASSERT_TRUE(tb);
  TempDir dir;
  const std::string file = dir.file("count.pcapng");
  auto cap = start_capture({"-i", tb->capture_if(), "-w", file, "-c", "1000", "--json"});
  ASSERT_TRUE(cap);
  // Open loop, five times more than the count, spread over the four queues.
  ProcessResult sent = tb->send(5'000, 0, gen_args(false, 64));
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  ProcessResult r = finish(*cap, 20s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto parsed = PcapngReader::read_file(file);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->packets.size(), 1000u);
  std::set<uint32_t> queues;
  for (const auto& p : parsed->packets) queues.insert(p.interface_id);
  EXPECT_GT(queues.size(), 1u) << "the count must hold across queues";
  auto j = summary_json(r);
  EXPECT_EQ(j["frames_written"], 1000);
}

TEST_F(CaptureCli, SnapLengthTruncatesFramesAndKeepsOriginalLength) {
  auto tb = Testbed::create();
  ASSERT_TRUE(tb);
  TempDir dir;
  const std::string file = dir.file("snap.pcapng");
  auto cap = start_capture({"-i", tb->capture_if(), "-w", file, "-c", "500", "-s", "100"});
  ASSERT_TRUE(cap);
  ASSERT_EQ(tb->send(500, 20'000, gen_args(true, 1)).exit_code, 0);
  ProcessResult r = finish(*cap, 20s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto parsed = PcapngReader::read_file(file);
  ASSERT_TRUE(parsed) << parsed.error().message;
  ASSERT_EQ(parsed->packets.size(), 500u);
  EXPECT_EQ(parsed->interfaces[0].snap_len, 100u);
  auto spec = spec_for(true, 1);
  for (const auto& p : parsed->packets) {
    auto info = gen::parse_test_frame(p.data);
    ASSERT_TRUE(info);
    auto full = gen::build_test_frame(spec, info->seq);
    EXPECT_EQ(p.original_len, full.size());
    EXPECT_EQ(p.captured_len, std::min<size_t>(100, full.size()));
    EXPECT_TRUE(std::equal(p.data.begin(), p.data.end(), full.begin()));
  }
}

TEST_F(CaptureCli, WritesToStandardOutputForPipes) {
  auto tb = Testbed::create();
  ASSERT_TRUE(tb);
  TempDir dir;
  const std::string out = dir.file("stdout.pcapng");
  auto cap = start_capture({"-i", tb->capture_if(), "-w", "-", "-c", "200"}, out);
  ASSERT_TRUE(cap);
  ASSERT_EQ(tb->send(200, 10'000, gen_args(false, 1)).exit_code, 0);
  ProcessResult r = finish(*cap, 20s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto parsed = PcapngReader::read_file(out);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->packets.size(), 200u);
  // capinfos agrees the stream is a complete pcapng file.
  ProcessResult ci = run({"capinfos", "-c", "-M", out});
  EXPECT_EQ(ci.exit_code, 0) << ci.err;
  EXPECT_NE(ci.out.find("200"), std::string::npos) << ci.out;
}

TEST_F(CaptureCli, InterfacesListsQueuesDriverAndXdpModes) {
  auto tb = Testbed::create({.queues = 4});
  ASSERT_TRUE(tb);
  ProcessResult r = run({xesp_binary(), "interfaces", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto list = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(list.is_array()) << r.out;
  bool found = false;
  for (const auto& nic : list) {
    if (nic["name"] != tb->capture_if()) continue;
    found = true;
    EXPECT_EQ(nic["rx_queues"], 4);
    EXPECT_EQ(nic["driver"], "veth");
    EXPECT_EQ(nic["up"], true);
    const auto& modes = nic["xdp_modes"];
    EXPECT_NE(std::find(modes.begin(), modes.end(), "native"), modes.end()) << modes.dump();
    EXPECT_NE(std::find(modes.begin(), modes.end(), "generic"), modes.end()) << modes.dump();
    EXPECT_EQ(std::find(modes.begin(), modes.end(), "zero-copy"), modes.end())
        << "veth has no AF_XDP zero-copy";
    EXPECT_EQ(nic["xdp_attached_prog_id"], 0);
  }
  EXPECT_TRUE(found) << tb->capture_if() << " not listed: " << r.out;
  // The plain table names it too, with its queue count.
  ProcessResult table = run({xesp_binary(), "interfaces"});
  ASSERT_EQ(table.exit_code, 0);
  EXPECT_NE(table.out.find(tb->capture_if()), std::string::npos);
}

// ---- Nothing stays on the NIC, however the capture ends --------------------------------

class CaptureCleanup : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override { XESP_REQUIRE_INTEGRATION(); }
};

TEST_P(CaptureCleanup, NoProgramAndPromiscuityRestored) {
  const int how = GetParam();  // 0: normal exit (count), else the signal that ends it
  auto tb = Testbed::create();
  ASSERT_TRUE(tb);
  TempDir dir;
  const std::string nic = tb->capture_if();
  const int promisc_before = promiscuity(nic);
  ASSERT_EQ(attached_xdp_prog_id(nic), 0u);
  std::vector<std::string> args = {"-i", nic, "-w", dir.file("c.pcapng")};
  if (how == 0) args.insert(args.end(), {"-c", "100"});
  auto cap = start_capture(args);
  ASSERT_TRUE(cap);
  EXPECT_NE(attached_xdp_prog_id(nic), 0u) << "program not attached during the capture";
  EXPECT_EQ(promiscuity(nic), promisc_before + 1) << "promiscuous mode not on during the capture";
  if (how == 0) {
    ASSERT_EQ(tb->send(300, 10'000, gen_args(false, 1)).exit_code, 0);
    ProcessResult r = finish(*cap, 20s);
    EXPECT_EQ(r.exit_code, 0) << r.err;
  } else {
    cap->signal(how);
    ProcessResult r = cap->wait(20s);
    if (how == SIGKILL) EXPECT_EQ(r.signal, SIGKILL);
    else EXPECT_EQ(r.exit_code, 0) << r.err;
  }
  // The link dies with its last fd; the kernel may finish the release a moment later.
  EXPECT_TRUE(wait_for([&] { return attached_xdp_prog_id(nic) == 0; }))
      << "XDP program still attached: id " << attached_xdp_prog_id(nic);
  EXPECT_TRUE(wait_for([&] { return promiscuity(nic) == promisc_before; }))
      << "promiscuity " << promiscuity(nic) << ", was " << promisc_before;
  if (how == SIGINT) {
    auto parsed = PcapngReader::read_file(dir.file("c.pcapng"));
    EXPECT_TRUE(parsed) << "interrupted capture left an unreadable file: " << parsed.error().message;
  }
}

INSTANTIATE_TEST_SUITE_P(Endings, CaptureCleanup, ::testing::Values(0, SIGINT, SIGTERM, SIGKILL),
                         [](const ::testing::TestParamInfo<int>& info) {
                           switch (info.param) {
                             case 0: return std::string("NormalExit");
                             case SIGINT: return std::string("Sigint");
                             case SIGTERM: return std::string("Sigterm");
                             default: return std::string("Sigkill");
                           }
                         });

}  // namespace
}  // namespace xesp::test
