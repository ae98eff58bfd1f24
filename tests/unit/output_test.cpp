// The capture output without a NIC: file names, safe creation, cutting chunks at block
// boundaries, and CaptureOutput's rotation (size, period, forced), rings, per-file statistics
// and empty-file rules, with several writer threads, read back with PcapngReader.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.hpp"
#include "output/block_split.hpp"
#include "output/capture_output.hpp"
#include "output/file_namer.hpp"
#include "output/output_directory.hpp"
#include "pcapng/epb_vector.hpp"
#include "pcapng/pcapng_reader.hpp"
#include "support/scoped_tmpfs.hpp"

namespace xesp::output {
namespace {

namespace fs = std::filesystem;
constexpr uint64_t kSec = 1'000'000'000ULL;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/xesp-output-test-XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Files in a directory, sorted by name.
std::vector<std::string> list(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// A frame whose first 8 bytes are its number, then a fill that depends on it.
std::vector<uint8_t> frame_bytes(uint64_t n, uint32_t len) {
  std::vector<uint8_t> f(len);
  for (uint32_t i = 0; i < len; ++i) f[i] = static_cast<uint8_t>(n * 7 + i);
  std::memcpy(f.data(), &n, std::min<uint32_t>(8, len));
  return f;
}

uint64_t frame_number(const std::vector<uint8_t>& data) {
  uint64_t n = 0;
  std::memcpy(&n, data.data(), std::min<std::size_t>(8, data.size()));
  return n;
}

std::vector<InterfaceInfo> interfaces(uint32_t n) {
  std::vector<InterfaceInfo> out;
  for (uint32_t i = 0; i < n; ++i) out.push_back({.name = "q" + std::to_string(i)});
  return out;
}

// ---- names ------------------------------------------------------------------------------

TEST(FileNamer, ExtensionsAndSequenceNumbers) {
  EXPECT_EQ(insert_before_extension("cap.pcapng", "-00001"), "cap-00001.pcapng");
  EXPECT_EQ(insert_before_extension("cap.pcapng.zst", "-00002"), "cap-00002.pcapng.zst");
  EXPECT_EQ(insert_before_extension("a.b.PCAP.GZ", "-3"), "a.b-3.PCAP.GZ");
  EXPECT_EQ(insert_before_extension("cap.lz4", "-1"), "cap-1.lz4");
  EXPECT_EQ(insert_before_extension("cap.data", "-1"), "cap-1.data");
  EXPECT_EQ(insert_before_extension("capture", "-1"), "capture-1");
  EXPECT_EQ(insert_before_extension(".hidden", "-1"), ".hidden-1");

  FileNamer single("cap.pcapng", false);
  EXPECT_EQ(single.name(1, 0), "cap.pcapng");
  FileNamer ring("cap.pcapng", true);
  EXPECT_EQ(ring.name(1, 0), "cap-00001.pcapng");
  EXPECT_EQ(ring.name(123456, 0), "cap-123456.pcapng");
  EXPECT_EQ(ring.name(7, 0, 2), "cap-00007-2.pcapng");
}

TEST(FileNamer, StrftimePatternsUseTheFilesStartInLocalTime) {
  const char* old = ::getenv("TZ");
  const std::string saved = old ? old : "";
  ::setenv("TZ", "UTC", 1);
  ::tzset();
  FileNamer n("cap-%Y%m%d-%H%M%S.pcapng", true);
  EXPECT_TRUE(n.has_pattern());
  // 2026-12-01 10:00:05 UTC
  const uint64_t t = 1796119205ULL * kSec;
  EXPECT_EQ(n.name(9, t), "cap-20261201-100005.pcapng");  // no sequence number with a pattern
  EXPECT_EQ(n.name(9, t, 1), "cap-20261201-100005-1.pcapng");
  if (old) ::setenv("TZ", saved.c_str(), 1);
  else ::unsetenv("TZ");
  ::tzset();
}

TEST(FileNamer, PeriodsAlignToTheLocalClock) {
  const char* old = ::getenv("TZ");
  const std::string saved = old ? old : "";
  ::setenv("TZ", "Asia/Kolkata", 1);  // UTC+5:30: "on the hour" is not a UTC hour there
  ::tzset();
  const uint64_t t = 1796119205ULL * kSec;  // 15:30:05 local
  if (::access("/usr/share/zoneinfo/Asia/Kolkata", F_OK) != 0)
    GTEST_SKIP() << "no tzdata for Asia/Kolkata";
  EXPECT_EQ(period_start(t, 3600), 1796117400ULL * kSec);  // 15:00 local = 09:30 UTC...
  tm local{};
  const time_t start = static_cast<time_t>(period_start(t, 3600) / kSec);
  ::localtime_r(&start, &local);
  EXPECT_EQ(local.tm_min, 0);  // ...the period starts at a local hour
  EXPECT_EQ(local.tm_sec, 0);
  EXPECT_LE(period_start(t, 3600), t);
  EXPECT_GT(period_start(t, 3600) + 3600 * kSec, t);
  if (old) ::setenv("TZ", saved.c_str(), 1);
  else ::unsetenv("TZ");
  ::tzset();
}

// ---- safe creation -------------------------------------------------------------------------

class OutputDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(dir_.ok()); }
  TempDir dir_;
};

TEST_F(OutputDirectoryTest, RefusesADirectoryEveryoneMayWriteWithoutTheStickyBit) {
  const std::string d = dir_.file("open");
  ASSERT_EQ(::mkdir(d.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(d.c_str(), 0777), 0);
  auto refused = OutputDirectory::open(d);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("writable by every user and has no sticky bit"),
            std::string::npos)
      << refused.error().message;
  ASSERT_EQ(::chmod(d.c_str(), 01777), 0);
  EXPECT_TRUE(OutputDirectory::open(d));
  auto missing = OutputDirectory::open(dir_.file("none"));
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("'" + dir_.file("none") + "'"), std::string::npos);
}

TEST_F(OutputDirectoryTest, CreatesWithAnExactModeAndNeverThroughALink) {
  auto d = OutputDirectory::open(dir_.path());
  ASSERT_TRUE(d);
  const mode_t old_umask = ::umask(0);  // the mode must not depend on it
  auto f = d->create("a.pcapng", {}, false);
  ::umask(old_umask);
  ASSERT_TRUE(f) << f.error().message;
  struct stat st {};
  ASSERT_EQ(::stat(dir_.file("a.pcapng").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_TRUE(f->regular);

  // An existing file is refused, then replaced only when asked.
  ASSERT_EQ(::write(f->fd.get(), "old", 3), 3);
  auto again = d->create("a.pcapng", {}, false);
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message.find("exists"), std::string::npos);
  auto replaced = d->create("a.pcapng", {.mode = 0640, .overwrite = true}, true);
  ASSERT_TRUE(replaced) << replaced.error().message;
  ASSERT_EQ(::stat(dir_.file("a.pcapng").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);

  // A symlink at the name is never followed, overwrite or not; its target stays untouched.
  ASSERT_EQ(::symlink(dir_.file("target").c_str(), dir_.file("link.pcapng").c_str()), 0);
  for (bool overwrite : {false, true}) {
    auto l = d->create("link.pcapng", {.overwrite = overwrite}, false);
    ASSERT_FALSE(l);
    EXPECT_NE(l.error().message.find("symbolic link"), std::string::npos) << l.error().message;
  }
  EXPECT_NE(::access(dir_.file("target").c_str(), F_OK), 0);
  EXPECT_FALSE(d->create("../escape", {}, false));
}

TEST_F(OutputDirectoryTest, WritesIntoAnExistingFifoAsItIs) {
  auto d = OutputDirectory::open(dir_.path());
  ASSERT_TRUE(d);
  ASSERT_EQ(::mkfifo(dir_.file("pipe").c_str(), 0600), 0);
  const int reader = ::open(dir_.file("pipe").c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(reader, 0);
  auto f = d->create("pipe", {}, true);  // read_write asked: a FIFO still opens write-only
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_FALSE(f->regular);
  EXPECT_EQ(::fcntl(f->fd.get(), F_GETFL) & O_ACCMODE, O_WRONLY);
  ASSERT_EQ(::write(f->fd.get(), "x", 1), 1);
  char c = 0;
  EXPECT_EQ(::read(reader, &c, 1), 1);
  ::close(reader);
}

TEST_F(OutputDirectoryTest, RemovesOnlyTheFileItMade) {
  auto d = OutputDirectory::open(dir_.path());
  ASSERT_TRUE(d);
  auto f = d->create("r.pcapng", {}, false);
  ASSERT_TRUE(f);
  // Someone replaced it: the ring must not delete theirs.
  ASSERT_EQ(::rename(dir_.file("r.pcapng").c_str(), dir_.file("moved").c_str()), 0);
  ASSERT_EQ(::close(::open(dir_.file("r.pcapng").c_str(), O_CREAT | O_WRONLY, 0600)), 0);
  EXPECT_TRUE(d->remove("r.pcapng", f->dev, f->ino));
  EXPECT_EQ(::access(dir_.file("r.pcapng").c_str(), F_OK), 0);
  EXPECT_TRUE(d->remove("moved", f->dev, f->ino));
  EXPECT_NE(::access(dir_.file("moved").c_str(), F_OK), 0);
}

TEST(FileSafetyParsing, ModesAndGroups) {
  EXPECT_EQ(*parse_file_mode("0640"), 0640u);
  EXPECT_EQ(*parse_file_mode("600"), 0600u);
  for (const char* bad : {"", "0800", "1777", "rw-", "0x1"}) {
    auto m = parse_file_mode(bad);
    ASSERT_FALSE(m) << bad;
    EXPECT_NE(m.error().message.find(std::string("'") + bad + "'"), std::string::npos);
  }
  EXPECT_EQ(*parse_group("root"), 0u);
  EXPECT_EQ(*parse_group("4242"), 4242u);
  auto none = parse_group("no-such-group-xesp");
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("'no-such-group-xesp' does not exist"), std::string::npos);
}

// ---- cutting chunks ------------------------------------------------------------------------

// An EpbVector of `n` frames from `first`, alternating small (inline) and large (referenced)
// frames, timestamped from `t0` one `step` apart. The frames live in `store`.
EpbVector make_chunk(uint32_t interface_id, uint64_t first, uint32_t n, uint64_t t0,
                     uint64_t step, std::vector<std::vector<uint8_t>>& store) {
  EpbVector v(interface_id, 1 << 20);
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t len = i % 2 ? 1400 : 60 + i % 7;
    store.push_back(frame_bytes(first + i, len));
    EXPECT_TRUE(v.add(t0 + i * step, store.back().data(), len, len));
  }
  return v;
}

std::vector<uint8_t> flatten(std::span<const iovec> pieces) {
  std::vector<uint8_t> out;
  for (const iovec& p : pieces) {
    auto* b = static_cast<const uint8_t*>(p.iov_base);
    out.insert(out.end(), b, b + p.iov_len);
  }
  return out;
}

TEST(BlockSplit, CutsOnlyBetweenWholeBlocks) {
  std::vector<std::vector<uint8_t>> store;
  EpbVector v = make_chunk(0, 0, 20, 1000, 10, store);
  const std::vector<uint8_t> all = flatten(v.iovecs());
  const BlockPrefix whole = block_prefix(v.iovecs(), UINT64_MAX, UINT64_MAX);
  EXPECT_EQ(whole.bytes, all.size());
  EXPECT_EQ(whole.frames, 20u);
  EXPECT_EQ(whole.first_timestamp_ns, 1000u);

  // By size: the longest run of whole blocks that fits.
  const BlockPrefix half = block_prefix(v.iovecs(), all.size() / 2, UINT64_MAX);
  EXPECT_LE(half.bytes, all.size() / 2);
  EXPECT_GT(half.frames, 0u);
  const BlockPrefix one_more = block_prefix(v.iovecs(), half.bytes + 1, UINT64_MAX);
  EXPECT_EQ(one_more.bytes, half.bytes);  // a block never fits by one byte
  // By time: frames 0..9 have timestamps below 1100.
  const BlockPrefix early = block_prefix(v.iovecs(), UINT64_MAX, 1100);
  EXPECT_EQ(early.frames, 10u);
  EXPECT_EQ(block_prefix(v.iovecs(), UINT64_MAX, 1000).bytes, 0u);
  EXPECT_EQ(first_block(v.iovecs()).frames, 1u);

  // Head and rest together are the run, byte for byte, wherever the cut falls.
  for (uint64_t cut : {early.bytes, half.bytes, uint64_t{1}, uint64_t{29}, uint64_t(all.size())}) {
    EpbVector w = make_chunk(0, 0, 20, 1000, 10, store);
    std::vector<iovec> head;
    std::span<iovec> rest = split_pieces(w.iovecs(), cut, head);
    std::vector<uint8_t> joined = flatten(head);
    EXPECT_EQ(joined.size(), cut);
    const std::vector<uint8_t> tail = flatten(rest);
    joined.insert(joined.end(), tail.begin(), tail.end());
    EXPECT_EQ(joined, all) << "cut at " << cut;
  }
}

// ---- CaptureOutput ---------------------------------------------------------------------------

struct Counted {
  std::map<uint64_t, int> frames;  // frame number -> how often found
  uint64_t files = 0;
};

// Reads every file in `dir`: each must be a whole pcapng whose ISBs count its own frames.
Counted read_all(const std::string& dir, uint32_t n_interfaces, uint64_t max_file_bytes = 0) {
  Counted c;
  for (const std::string& path : list(dir)) {
    auto f = PcapngReader::read_file(path);
    EXPECT_TRUE(f) << path << ": " << (f ? "" : f.error().message);
    if (!f) continue;
    ++c.files;
    if (max_file_bytes) {
      EXPECT_LE(fs::file_size(path), max_file_bytes) << path;
    }
    EXPECT_EQ(f->interfaces.size(), n_interfaces) << path;
    std::vector<uint64_t> per_if(n_interfaces, 0);
    for (const auto& p : f->packets) {
      ++c.frames[frame_number(p.data)];
      EXPECT_EQ(p.data, frame_bytes(frame_number(p.data), p.captured_len)) << path;
      if (p.interface_id < n_interfaces) ++per_if[p.interface_id];
    }
    EXPECT_EQ(f->stats.size(), n_interfaces) << path << ": one ISB per interface";
    for (const auto& isb : f->stats) {
      if (isb.interface_id >= n_interfaces) {
        ADD_FAILURE() << path << ": ISB for interface " << isb.interface_id;
        continue;
      }
      EXPECT_EQ(isb.usr_deliv.value_or(~0ULL), per_if[isb.interface_id])
          << path << " interface " << isb.interface_id;
    }
  }
  return c;
}

class CaptureOutputTest : public ::testing::TestWithParam<FileIo> {
 protected:
  void SetUp() override { ASSERT_TRUE(dir_.ok()); }
  OutputConfig config(const std::string& name, uint32_t n_interfaces) {
    OutputConfig c;
    c.path = dir_.file(name);
    c.io = GetParam();
    c.interfaces = interfaces(n_interfaces);
    return c;
  }
  TempDir dir_;
};

TEST_P(CaptureOutputTest, SizeRotationFromFourThreadsKeepsEveryFrameOnce) {
  OutputConfig c = config("cap.pcapng", 4);
  c.rotation.max_bytes = 64 * 1024;
  std::vector<std::string> opened;
  std::mutex opened_mutex;
  auto out = CaptureOutput::open(
      c, [] { return std::vector<QueueTotals>(4, QueueTotals{10, 1, 9}); },
      [&](const std::string& p) {
        std::lock_guard l(opened_mutex);
        opened.push_back(p);
      });
  ASSERT_TRUE(out) << out.error().message;
  constexpr uint32_t kChunks = 60, kPerChunk = 40;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (uint32_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::vector<uint8_t>> store;
      for (uint32_t k = 0; k < kChunks; ++k) {
        store.clear();
        const uint64_t first = (uint64_t{t} * kChunks + k) * kPerChunk;
        EpbVector v = make_chunk(t, first, kPerChunk, (k + 1) * kSec, 1000, store);
        Unwritten unwritten{99, 99};
        if (!(*out)->write(t, v.iovecs(), v.frames(), v.wire_bytes(), nullptr, &unwritten) || unwritten.frames != 0 || unwritten.wire_bytes != 0)
          ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_TRUE((*out)->close(std::vector<QueueTotals>(4, QueueTotals{10, 1, 9})));
  const Counted got = read_all(dir_.path(), 4, c.rotation.max_bytes);
  EXPECT_EQ(got.frames.size(), 4u * kChunks * kPerChunk);
  for (const auto& [n, times] : got.frames) EXPECT_EQ(times, 1) << "frame " << n;
  EXPECT_GT(got.files, 10u);
  EXPECT_EQ(opened.size(), got.files);
  EXPECT_EQ(opened, list(dir_.path()));  // every file announced, in the order they were made
  EXPECT_EQ(list(dir_.path()).front(), dir_.file("cap-00001.pcapng"));
}

TEST_P(CaptureOutputTest, PeriodsAndForcedCutsSplitByReceiveTime) {
  OutputConfig c = config("p-%H%M%S.pcapng", 1);
  c.rotation.seconds = 10;
  auto out = CaptureOutput::open(c, {}, {});
  ASSERT_TRUE(out) << out.error().message;
  // 100 frames 0.5 s apart from a period boundary on: 50 s, five periods.
  const uint64_t t0 = period_start(realtime_ns(), 10) + 10 * kSec;
  std::vector<std::vector<uint8_t>> store;
  for (uint32_t k = 0; k < 10; ++k) {
    EpbVector v = make_chunk(0, k * 10, 10, t0 + k * 5 * kSec, kSec / 2, store);
    Unwritten unwritten;
    ASSERT_TRUE((*out)->write(0, v.iovecs(), v.frames(), v.wire_bytes(), nullptr, &unwritten));
  }
  // A forced cut (SIGHUP) inside the last period: frames received after it go to a new file.
  // (After every frame written so far, as "now" is when the signal comes.)
  const uint64_t cut = t0 + 49'600'000'000ULL;
  EXPECT_TRUE((*out)->rotate(cut));
  EpbVector late = make_chunk(0, 100, 10, cut - kSec / 5, kSec / 20, store);  // 4 before, 6 after
  Unwritten unwritten;
  ASSERT_TRUE((*out)->write(0, late.iovecs(), late.frames(), late.wire_bytes(), nullptr, &unwritten));
  ASSERT_TRUE((*out)->close({}));

  // The file opened at "Start" got nothing before the first period: it became its file.
  const auto files = list(dir_.path());
  ASSERT_EQ(files.size(), 6u) << "5 periods, plus the part after the cut";
  std::set<uint64_t> all;
  for (const std::string& path : files) {
    auto f = PcapngReader::read_file(path);
    ASSERT_TRUE(f) << path;
    ASSERT_FALSE(f->packets.empty()) << path << ": an empty file was made";
    const uint64_t begin = period_start(f->packets.front().timestamp_ns, 10);
    const bool after_cut = path == files.back();
    for (const auto& p : f->packets) {
      all.insert(frame_number(p.data));
      EXPECT_EQ(period_start(p.timestamp_ns, 10), begin) << path << ": frame across a period";
      EXPECT_EQ(p.timestamp_ns >= cut, after_cut) << path << " frame " << frame_number(p.data);
    }
    if (after_cut) {
      ASSERT_EQ(f->packets.size(), 6u);
      EXPECT_EQ(frame_number(f->packets.front().data), 104u);
    }
  }
  EXPECT_EQ(all.size(), 110u);
}

TEST_P(CaptureOutputTest, ARingKeepsTheNewestFilesAndNoEmptyOnes) {
  OutputConfig c = config("ring.pcapng", 1);
  c.rotation.max_bytes = 16 * 1024;
  c.rotation.files = 3;
  auto out = CaptureOutput::open(c, {}, {});
  ASSERT_TRUE(out);
  std::vector<std::vector<uint8_t>> store;
  for (uint32_t k = 0; k < 40; ++k) {
    store.clear();
    EpbVector v = make_chunk(0, k * 10, 10, (k + 1) * kSec, 1000, store);
    Unwritten unwritten;
    ASSERT_TRUE((*out)->write(0, v.iovecs(), v.frames(), v.wire_bytes(), nullptr, &unwritten));
  }
  // A cut and ticks with no frame after them make no new file.
  EXPECT_TRUE((*out)->rotate(realtime_ns()));
  (*out)->tick(realtime_ns() + kSec);
  const auto before_close = list(dir_.path());
  ASSERT_TRUE((*out)->close({}));
  const auto files = list(dir_.path());
  EXPECT_EQ(files, before_close);
  ASSERT_EQ(files.size(), 3u);
  // The newest three, and together the newest frames without a gap.
  std::vector<uint64_t> numbers;
  for (const auto& path : files) {
    auto f = PcapngReader::read_file(path);
    ASSERT_TRUE(f);
    for (const auto& p : f->packets) numbers.push_back(frame_number(p.data));
  }
  ASSERT_FALSE(numbers.empty());
  EXPECT_EQ(numbers.back(), 399u);
  for (std::size_t i = 1; i < numbers.size(); ++i) EXPECT_EQ(numbers[i], numbers[i - 1] + 1);
  EXPECT_FALSE((*out)->rotate(realtime_ns()));  // closed: nothing to cut
}

// A transform that frames each unit with a marker, to see the units in the file: what the
// compressed path does, with bytes we can check.
class MarkingTransform final : public ChunkTransform {
 public:
  Result<std::span<const std::byte>> apply(std::span<const iovec> pieces) override {
    out_.clear();
    for (const iovec& p : pieces) {
      auto* b = static_cast<const std::byte*>(p.iov_base);
      out_.insert(out_.end(), b, b + p.iov_len);
    }
    ++units;
    return std::span<const std::byte>(out_);
  }
  int units = 0;

 private:
  std::vector<std::byte> out_;
};

TEST_P(CaptureOutputTest, TransformedUnitsRotateWholeAndOwnBlocksToo) {
  OutputConfig c = config("t.pcapng", 1);
  c.rotation.max_bytes = 32 * 1024;
  int own_units = 0;
  c.make_transform = [&]() -> Result<std::unique_ptr<ChunkTransform>> {
    ++own_units;
    return std::unique_ptr<ChunkTransform>(std::make_unique<MarkingTransform>());
  };
  auto out = CaptureOutput::open(c, {}, {});
  ASSERT_TRUE(out);
  MarkingTransform poller;
  std::vector<std::vector<uint8_t>> store;
  for (uint32_t k = 0; k < 30; ++k) {
    store.clear();
    EpbVector v = make_chunk(0, k * 8, 8, (k + 1) * kSec, 1000, store);
    Unwritten unwritten;
    ASSERT_TRUE((*out)->write(0, v.iovecs(), v.frames(), v.wire_bytes(), &poller, &unwritten));
  }
  ASSERT_TRUE((*out)->close({}));
  EXPECT_EQ(poller.units, 30);  // one unit a chunk: none was cut
  const Counted got = read_all(dir_.path(), 1, c.rotation.max_bytes);
  EXPECT_EQ(got.frames.size(), 240u);
  EXPECT_EQ(static_cast<uint64_t>(own_units), got.files);  // each file's writer had its own
}

INSTANTIATE_TEST_SUITE_P(FileIo, CaptureOutputTest, ::testing::Values(FileIo::write, FileIo::map),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST(CaptureOutputDiskGuard, DeletesTheRingsOldestOrStops) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a small tmpfs needs root";
  TempDir under;
  ASSERT_TRUE(under.ok());
  test::ScopedTmpfs dir(under.file("small"), "size=1m,mode=0700");
  ASSERT_TRUE(dir.ok()) << dir.error();
  for (bool ring : {true, false}) {
    SCOPED_TRACE(ring ? "ring" : "no ring");
    OutputConfig c;
    c.path = dir.file(ring ? "ring.pcapng" : "one.pcapng");
    c.interfaces = interfaces(1);
    c.rotation.max_bytes = ring ? 64 * 1024 : 0;
    c.rotation.files = ring ? 1000 : 0;
    c.min_free_bytes = 512 * 1024;
    auto out = CaptureOutput::open(c, {}, {});
    ASSERT_TRUE(out) << out.error().message;
    std::vector<std::vector<uint8_t>> store;
    Status last;
    uint64_t min_free = UINT64_MAX;
    for (uint32_t k = 0; k < 150 && last; ++k) {
      store.clear();
      EpbVector v = make_chunk(0, k * 10, 10, (k + 1) * kSec, 1000, store);
      Unwritten unwritten;
      last = (*out)->write(0, v.iovecs(), v.frames(), v.wire_bytes(), nullptr, &unwritten);
      struct statvfs vfs {};
      ASSERT_EQ(::statvfs(dir.path().c_str(), &vfs), 0);
      min_free = std::min<uint64_t>(min_free, uint64_t{vfs.f_bavail} * vfs.f_frsize);
    }
    EXPECT_GE(min_free, c.min_free_bytes) << "the guard let the file system fall below it";
    if (ring) {
      EXPECT_TRUE(last) << last.error().message;  // 1.4 MB written into 1 MB: old files went
    } else {
      ASSERT_FALSE(last);
      EXPECT_NE(last.error().message.find("minimum free"), std::string::npos)
          << last.error().message;
    }
    (void)(*out)->close({});
    for (const auto& p : list(dir.path())) {
      auto f = PcapngReader::read_file(p);
      EXPECT_TRUE(f) << p;  // every file, also the one the guard stopped, is whole
      fs::remove(p);
    }
  }
}

}  // namespace
}  // namespace xesp::output
