// `xesp repair`: a capture through a mapping (`--file-io map`) killed with SIGKILL mid-capture
// leaves a file that readers refuse (the growth ahead of its last block is zeros); repair cuts
// it so that capinfos and PcapngReader open it, and every frame in it is a frame that was sent,
// byte for byte. Also the command's promises without a NIC: a whole file is left untouched (its
// mtime too), -n writes nothing, -o leaves the input as it was, and refusals exit 1 with the
// file and the reason.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <thread>

#include "pcapng/epb_buffer.hpp"
#include "pcapng/pcapng_reader.hpp"
#include "pcapng/pcapng_writer.hpp"
#include "support/capture_run.hpp"
#include "support/testbed.hpp"
#include "test_frame.hpp"

namespace xesp::test {
namespace {

using namespace std::chrono_literals;

std::vector<char> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct stat stat_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path << ": " << std::strerror(errno);
  return st;
}

bool same_mtime(const struct stat& a, const struct stat& b) {
  return a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

// The number after "kept " (or -n's "would keep ") in xesp repair's last line.
uint64_t frames_kept(const std::string& out) {
  for (const char* word : {": kept ", ": would keep "}) {
    const std::size_t at = out.rfind(word);
    if (at != std::string::npos) return std::stoull(out.substr(at + std::strlen(word)));
  }
  return UINT64_MAX;
}

// ---- A killed capture, repaired --------------------------------------------------------------

class RepairKilledCapture : public ::testing::Test {
 protected:
  void SetUp() override { XESP_REQUIRE_INTEGRATION(); }
};

TEST_F(RepairKilledCapture, CutsTheZerosAndKeepsEveryFrameWhole) {
  auto tb = Testbed::create({.queues = 2});
  ASSERT_TRUE(tb);
  TempDir dir;
  const std::string file = dir.file("killed.pcapng");
  auto cap = start_capture({"-i", tb->capture_if(), "-w", file, "--file-io", "map"});
  ASSERT_TRUE(cap);

  // 2 s of mixed sizes over both queues; the kill lands in the middle, with frames in flight.
  const gen::FrameSpec spec = spec_for(/*mixed=*/true, 16);
  ProcessResult sent;
  std::thread sender([&] { sent = tb->send(100'000, 50'000, gen_args(/*mixed=*/true, 16)); });
  std::this_thread::sleep_for(1s);
  cap->signal(SIGKILL);
  ProcessResult killed = cap->wait(20s);
  sender.join();
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  ASSERT_EQ(killed.signal, SIGKILL);

  // What the kill left: the file grown ahead in 64 MiB steps, refused by every reader.
  const auto before = file_bytes(file);
  ASSERT_GT(before.size(), 0u);
  EXPECT_EQ(before.size() % PcapngWriter::kMapGrowBytes, 0u) << before.size();
  auto refused = PcapngReader::read_file(file);
  EXPECT_FALSE(refused) << "the reader took the killed capture's file";
  ProcessResult ci_before = run({"capinfos", "-c", "-M", file});
  EXPECT_NE(ci_before.exit_code, 0) << "capinfos took the killed capture's file: " << ci_before.out;

  ProcessResult dry = run({xesp_binary(), "repair", "-n", file});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(file_bytes(file).size(), before.size()) << "-n changed the file";

  ProcessResult r = run({xesp_binary(), "repair", file});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(" cut "), std::string::npos) << r.out;
  const uint64_t kept = frames_kept(r.out);
  EXPECT_EQ(frames_kept(dry.out), kept) << dry.out;

  // Only cut: what is left is the start of what was there, byte for byte.
  const auto after = file_bytes(file);
  ASSERT_LT(after.size(), before.size());
  EXPECT_TRUE(std::equal(after.begin(), after.end(), before.begin()));
  EXPECT_NE(r.out.find("at offset " + std::to_string(after.size()) + ":"), std::string::npos)
      << r.out;

  ProcessResult ci = run({"capinfos", "-c", "-M", file});
  ASSERT_EQ(ci.exit_code, 0) << ci.out << ci.err;
  EXPECT_NE(ci.out.find("Number of packets:   " + std::to_string(kept) + "\n"), std::string::npos)
      << ci.out;
  auto parsed = PcapngReader::read_file(file);
  ASSERT_TRUE(parsed) << parsed.error().message;
  ASSERT_EQ(parsed->packets.size(), kept);
  EXPECT_GT(kept, 1000u) << "the capture ran for a second at 50,000 frames/s";
  std::map<uint64_t, int> seen;
  uint64_t wrong = 0;
  for (const PcapngPacket& p : parsed->packets) {
    auto info = gen::parse_test_frame(p.data);
    ASSERT_TRUE(info) << "frame at offset " << p.block_offset << " is not a test frame";
    ASSERT_LT(info->seq, 100'000u) << "sequence never sent";
    EXPECT_EQ(++seen[info->seq], 1) << "sequence " << info->seq << " twice";
    const auto want = gen::build_test_frame(spec, info->seq);
    EXPECT_EQ(p.original_len, want.size()) << "seq " << info->seq;
    if (p.data != want && ++wrong <= 5) ADD_FAILURE() << "frame seq " << info->seq << " differs";
  }
  EXPECT_EQ(wrong, 0u);

  // Repaired once is whole: a second run leaves it as it is, mtime included.
  const struct stat st = stat_of(file);
  std::this_thread::sleep_for(20ms);
  ProcessResult again = run({xesp_binary(), "repair", file});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find(": whole: " + std::to_string(kept) + " frame"), std::string::npos)
      << again.out;
  EXPECT_TRUE(same_mtime(stat_of(file), st)) << "a whole file was touched";
}

// ---- The command's promises, on files written here (no privileges needed) ------------------

class RepairCli : public ::testing::Test {
 protected:
  // A closed capture of 20 frames, then `tail` appended; returns its size before the tail.
  std::size_t write_file(const std::string& path, const std::vector<char>& tail = {}) {
    auto w = PcapngWriter::open(path, {}, {{.name = "q0"}});
    EXPECT_TRUE(w) << w.error().message;
    if (!w) return 0;
    for (uint32_t i = 0; i < 20; ++i) {
      EpbBuffer buf(0, 4096);
      std::vector<uint8_t> frame(64 + i, static_cast<uint8_t>(i));
      EXPECT_TRUE(buf.append(i, frame.data(), 64 + i, 64 + i));
      EXPECT_TRUE(w->write_chunk(buf.bytes()));
    }
    EXPECT_TRUE(w->close());
    const std::size_t size = w->bytes_written();
    std::ofstream(path, std::ios::binary | std::ios::app).write(tail.data(), tail.size());
    return size;
  }

  TempDir dir_;
};

TEST_F(RepairCli, AWholeFileIsLeftUntouched) {
  const std::string file = dir_.file("whole.pcapng");
  const std::size_t size = write_file(file);
  // An mtime in the past: a rewrite of any kind would move it.
  const timespec times[2] = {{1'600'000'000, 0}, {1'600'000'000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, file.c_str(), times, 0), 0);
  const struct stat before = stat_of(file);
  ProcessResult r = run({xesp_binary(), "repair", file});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, file + ": whole: 20 frames in 1 section (" + std::to_string(size) +
                       " bytes); nothing to cut\n");
  const struct stat after = stat_of(file);
  EXPECT_TRUE(same_mtime(after, before));
  EXPECT_EQ(after.st_size, static_cast<off_t>(size));
}

TEST_F(RepairCli, CutsInPlaceDryRunAndCopy) {
  const std::string file = dir_.file("torn.pcapng");
  const std::vector<char> torn = {6, 0, 0, 0, 96, 0, 0, 0, 0, 0};  // an EPB cut in its header
  const std::size_t size = write_file(file, torn);
  const auto damaged = file_bytes(file);

  ProcessResult dry = run({xesp_binary(), "repair", "--dry-run", file});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(dry.out, file + ": would cut 10 bytes at offset " + std::to_string(size) +
                         ": 10 byte(s) left, fewer than the 12 of the smallest block\n" + file +
                         ": would keep 20 frames in 1 section (" + std::to_string(size) +
                         " bytes)\n");
  EXPECT_EQ(file_bytes(file), damaged);

  const std::string copy = dir_.file("copy.pcapng");
  ProcessResult c = run({xesp_binary(), "repair", "-o", copy, file});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_EQ(file_bytes(file), damaged) << "-o changed the input";
  EXPECT_EQ(file_bytes(copy), std::vector<char>(damaged.begin(), damaged.begin() + size));
  EXPECT_EQ(frames_kept(c.out), 20u) << c.out;

  ProcessResult r = run({xesp_binary(), "repair", file});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, file + ": cut 10 bytes at offset " + std::to_string(size) +
                       ": 10 byte(s) left, fewer than the 12 of the smallest block\n" + file +
                       ": kept 20 frames in 1 section (" + std::to_string(size) + " bytes)\n");
  EXPECT_EQ(file_bytes(file), file_bytes(copy));
  auto parsed = PcapngReader::read_file(file);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->packets.size(), 20u);
}

TEST_F(RepairCli, RefusalsExitOneNamingTheFileAndTheReason) {
  const std::string text = dir_.file("notes.txt");
  std::ofstream(text) << "not a capture at all\n";
  const std::string gz = dir_.file("c.pcapng.gz");
  std::ofstream(gz, std::ios::binary) << "\x1f\x8b\x08" << std::string(40, '\0');
  const std::string whole = dir_.file("w.pcapng");
  write_file(whole);
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{text},
       "xesp: file '" + text +
           "': not pcapng: it does not begin with a section header "
           "block\n"},
      {{gz}, "xesp: file '" + gz + "': gzip-compressed: decompress it first (gunzip)\n"},
      {{dir_.file("missing.pcapng")},
       "xesp: file '" + dir_.file("missing.pcapng") + "': No such file or directory\n"},
      {{dir_.path()}, "xesp: file '" + dir_.path() + "': not a regular file\n"},
      {{whole, "-o", whole},
       "xesp: output file '" + whole +
           "' is the file to repair: leave -o out to cut it in "
           "place\n"},
  };
  for (const auto& [args, message] : cases) {
    std::vector<std::string> argv = {xesp_binary(), "repair"};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessResult r = run(argv);
    EXPECT_EQ(r.exit_code, 1) << args[0];
    EXPECT_EQ(r.err, message);
    EXPECT_EQ(r.out, "");
  }
  EXPECT_EQ(run({xesp_binary(), "repair"}).exit_code, 2) << "no FILE is a usage error";
}

}  // namespace
}  // namespace xesp::test
