// Capture files on a real veth: rotation by size, by the clock and on SIGHUP, ring buffers,
// safe creation, privilege drop and the disk-space guard. Paced, sequence-numbered frames from
// xesp-gen; the union of the files must hold every frame exactly once, byte for byte, and each
// file must be a complete pcapng that capinfos opens, with statistics blocks of its own.
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "support/scoped_tmpfs.hpp"
#include "support/capture_run.hpp"
#include "support/testbed.hpp"

namespace xesp::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// Every file read, checked on its own (whole, capinfos agrees, its ISBs count its frames), and
// all their frames in file order as one capture for check_frames.
struct FileSet {
  std::vector<std::string> paths;
  std::vector<PcapngFile> files;
  PcapngFile all;
};

// with_statistics: the files are ours (tshark's rewrites drop the ISBs).
FileSet read_files(const std::vector<std::string>& paths, bool with_statistics = true) {
  FileSet set;
  set.paths = paths;
  for (const std::string& path : paths) {
    auto f = PcapngReader::read_file(path);
    EXPECT_TRUE(f) << path << ": " << (f ? "" : f.error().message);
    if (!f) continue;
    ProcessResult ci = run({"capinfos", "-c", "-M", path});
    EXPECT_EQ(ci.exit_code, 0) << path << ": " << ci.err;
    EXPECT_NE(ci.out.find("Number of packets:   " + std::to_string(f->packets.size())),
              std::string::npos)
        << path << ": " << ci.out;
    std::map<uint32_t, uint64_t> per_if;
    for (const auto& p : f->packets) ++per_if[p.interface_id];
    if (with_statistics) {
      EXPECT_EQ(f->stats.size(), f->interfaces.size()) << path << ": one ISB per interface";
    }
    for (const auto& isb : f->stats)
      EXPECT_EQ(isb.usr_deliv.value_or(~0ULL), per_if[isb.interface_id])
          << path << ": the ISB counts another file's frames";
    if (set.all.interfaces.empty()) set.all.interfaces = f->interfaces;
    set.all.packets.insert(set.all.packets.end(), f->packets.begin(), f->packets.end());
    set.files.push_back(std::move(*f));
  }
  return set;
}

uint64_t free_bytes(const std::string& dir) {
  struct statvfs vfs {};
  if (::statvfs(dir.c_str(), &vfs) != 0) return 0;
  return uint64_t{vfs.f_bavail} * vfs.f_frsize;
}

class CaptureFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    XESP_REQUIRE_INTEGRATION();
    tb_ = Testbed::create();
    ASSERT_TRUE(tb_);
  }

  // Captures `frames` mixed frames sent at `rate` with -c frames --json and `extra`; returns
  // the run's result (the summary on stdout).
  ProcessResult capture(uint64_t frames, uint64_t rate, const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"-i", tb_->capture_if(), "-c", std::to_string(frames),
                                     "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto cap = start_capture(args);
    if (!cap) return {};
    t_begin_ = now_ns();
    ProcessResult sent = tb_->send(frames, rate, gen_args(/*mixed=*/true, 1));
    t_end_ = now_ns();
    EXPECT_EQ(sent.exit_code, 0) << sent.err;
    return finish(*cap, 30s);
  }

  std::unique_ptr<Testbed> tb_;
  TempDir dir_;
  uint64_t t_begin_ = 0;
  uint64_t t_end_ = 0;
};

TEST_F(CaptureFiles, SizeRotationKeepsEveryFrameExactlyOnce) {
  constexpr uint64_t kFrames = 20'000;  // ~16 MB of mixed frames: about 60 files of 256 KiB
  ProcessResult r = capture(kFrames, 20'000, {"-w", dir_.file("cap.pcapng"), "-C", "256k"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto paths = files_in(dir_.path());
  ASSERT_GT(paths.size(), 20u);
  EXPECT_EQ(paths.front(), dir_.file("cap-00001.pcapng"));
  for (const auto& p : paths) {
    EXPECT_LE(fs::file_size(p), 256u * 1024) << p;
    struct stat st {};
    ASSERT_EQ(::stat(p.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u) << p << ": capture files are private by default";
  }
  FileSet set = read_files(paths);
  check_frames(set.all, spec_for(true, 1), kFrames, 0, kFrames, t_begin_, t_end_);
  auto j = summary_json(r);
  EXPECT_EQ(j["frames_written"], kFrames);
  EXPECT_EQ(j["files"].get<std::vector<std::string>>(), paths);
}

TEST_F(CaptureFiles, FourQueuesRotateAMappedFile) {
  auto tb = Testbed::create({.queues = 4});
  ASSERT_TRUE(tb);
  constexpr uint64_t kFrames = 20'000;
  auto cap = start_capture({"-i", tb->capture_if(), "-w", dir_.file("m.pcapng"), "-C", "1M",
                            "--file-io", "map", "-c", std::to_string(kFrames), "--json"});
  ASSERT_TRUE(cap);
  const uint64_t t0 = now_ns();
  ASSERT_EQ(tb->send(kFrames, 20'000, gen_args(true, 64)).exit_code, 0);
  const uint64_t t1 = now_ns();
  ProcessResult r = finish(*cap, 30s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(summary_json(r)["file_io"], "map");
  const auto paths = files_in(dir_.path());
  ASSERT_GT(paths.size(), 5u);
  for (const auto& p : paths) EXPECT_LE(fs::file_size(p), 1024u * 1024) << p;
  FileSet set = read_files(paths);
  // Frames of different queues may cross a boundary in either order: check them as a set.
  std::sort(set.all.packets.begin(), set.all.packets.end(),
            [](const auto& a, const auto& b) { return a.timestamp_ns < b.timestamp_ns; });
  check_frames(set.all, spec_for(true, 64), kFrames, 0, kFrames, t0, t1);
}

// -G: files start on the clock's seconds; each holds the frames received in its period.
TEST_F(CaptureFiles, TimeRotationFallsOnTheClock) {
  constexpr uint64_t kFrames = 9'000;  // 3 s at 3000 frames/s: four or five periods of 1 s
  ProcessResult r =
      capture(kFrames, 3'000, {"-w", dir_.file("t-%Y%m%d-%H%M%S.pcapng"), "-G", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto paths = files_in(dir_.path());
  ASSERT_GE(paths.size(), 3u);
  FileSet set = read_files(paths);
  check_frames(set.all, spec_for(true, 1), kFrames, 0, kFrames, t_begin_, t_end_);
  for (std::size_t i = 0; i < set.files.size(); ++i) {
    const auto& pkts = set.files[i].packets;
    ASSERT_FALSE(pkts.empty()) << set.paths[i] << ": an empty file was made";
    // The name is the file's start; every frame lies in the same one-second period.
    const uint64_t second = pkts.front().timestamp_ns / 1'000'000'000ULL;
    for (const auto& p : pkts)
      EXPECT_EQ(p.timestamp_ns / 1'000'000'000ULL, second) << set.paths[i] << ": across a boundary";
    if (i == 0) continue;  // the first file starts at Start, not on a boundary
    const time_t t = static_cast<time_t>(second);
    tm local{};
    ::localtime_r(&t, &local);
    char name[64];
    std::strftime(name, sizeof(name), "t-%Y%m%d-%H%M%S.pcapng", &local);
    EXPECT_EQ(fs::path(set.paths[i]).filename().string(), name) << "not named after its period";
  }
}

TEST_F(CaptureFiles, ARingKeepsExactlyTheNewestFiles) {
  constexpr uint64_t kFrames = 20'000;
  ProcessResult r =
      capture(kFrames, 20'000, {"-w", dir_.file("ring.pcapng"), "-C", "128k", "-W", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto paths = files_in(dir_.path());
  ASSERT_EQ(paths.size(), 3u);
  const auto all_opened = summary_json(r)["files"].get<std::vector<std::string>>();
  ASSERT_GT(all_opened.size(), 3u);
  EXPECT_EQ(paths, std::vector<std::string>(all_opened.end() - 3, all_opened.end()));
  // The newest frames, in order, without a gap, up to the last one sent.
  FileSet set = read_files(paths);
  ASSERT_FALSE(set.all.packets.empty());
  uint64_t expect = gen::parse_test_frame(set.all.packets.front().data)->seq;
  for (const auto& p : set.all.packets) {
    auto info = gen::parse_test_frame(p.data);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->seq, expect++);
  }
  EXPECT_EQ(expect, kFrames);
}

TEST_F(CaptureFiles, SighupStartsANewFileAtTheSignal) {
  auto cap = start_capture({"-i", tb_->capture_if(), "-w", dir_.file("h.pcapng"), "-C", "1G",
                            "--json"});
  ASSERT_TRUE(cap);
  for (uint64_t batch = 0; batch < 3; ++batch) {
    ASSERT_EQ(tb_->send(2'000, 20'000, [&] {
                   auto a = gen_args(true, 1);
                   a.insert(a.end(), {"--start-seq", std::to_string(batch * 2'000)});
                   return a;
                 }())
                  .exit_code,
              0);
    std::this_thread::sleep_for(100ms);  // received (and counted) before the signal
    if (batch < 2) cap->signal(SIGHUP);
  }
  ASSERT_TRUE(wait_for([&] { return files_in(dir_.path()).size() == 3; }));
  cap->signal(SIGINT);
  ProcessResult r = cap->wait(20s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto paths = files_in(dir_.path());
  ASSERT_EQ(paths.size(), 3u);
  FileSet set = read_files(paths);
  for (std::size_t i = 0; i < set.files.size(); ++i) {
    const auto& pkts = set.files[i].packets;
    ASSERT_EQ(pkts.size(), 2'000u) << set.paths[i];
    EXPECT_EQ(gen::parse_test_frame(pkts.front().data)->seq, i * 2'000) << set.paths[i];
    EXPECT_EQ(gen::parse_test_frame(pkts.back().data)->seq, i * 2'000 + 1'999) << set.paths[i];
  }
  EXPECT_EQ(summary_json(r)["frames_written"], 6'000);
}

// Compressed while capturing, rotated too: tshark reads each file as it is; what it reads is
// rewritten as plain pcapng and compared frame by frame.
class CompressedCapture : public CaptureFiles, public ::testing::WithParamInterface<const char*> {};

TEST_P(CompressedCapture, TsharkReadsEveryFrameBack) {
  const std::string ext = GetParam();
  constexpr uint64_t kFrames = 10'000;
  // gzip is named by --compress here, with a plain name: the codec, not the name, decides.
  const bool by_option = ext == "gz";
  std::vector<std::string> args = {"-w", dir_.file(by_option ? "c.pcapng" : "c.pcapng." + ext),
                                   "-C", "1M"};
  if (by_option) args.insert(args.end(), {"--compress", "gzip"});
  ProcessResult r = capture(kFrames, 20'000, args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto paths = files_in(dir_.path());
  ASSERT_GE(paths.size(), 3u) << "~8 MB of frames in files of 1 MiB";
  TempDir plain;
  std::vector<std::string> rewritten;
  for (const auto& p : paths) {
    EXPECT_LE(fs::file_size(p), 1024u * 1024) << p;
    // Compressed on disk: the codec's magic, not pcapng's.
    std::ifstream in(p, std::ios::binary);
    unsigned char magic[4] = {};
    in.read(reinterpret_cast<char*>(magic), 4);
    const bool gzip = magic[0] == 0x1f && magic[1] == 0x8b;
    const bool zstd = magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd;
    const bool lz4 = magic[0] == 0x04 && magic[1] == 0x22 && magic[2] == 0x4d && magic[3] == 0x18;
    EXPECT_TRUE(ext == "gz" ? gzip : ext == "zst" ? zstd : lz4) << p << ": not " << ext;
    const std::string out = plain.file(fs::path(p).filename().string() + ".pcapng");
    ProcessResult t = run({"tshark", "-r", p, "-F", "pcapng", "-w", out}, 60s);
    ASSERT_EQ(t.exit_code, 0) << p << ": " << t.err;
    EXPECT_EQ(t.err.find("damaged"), std::string::npos) << t.err;
    rewritten.push_back(out);
  }
  FileSet set = read_files(rewritten, /*with_statistics=*/false);
  check_frames(set.all, spec_for(true, 1), kFrames, 0, kFrames, t_begin_, t_end_);
}

INSTANTIATE_TEST_SUITE_P(Codecs, CompressedCapture, ::testing::Values("zst", "lz4", "gz"));

// Rotation asked for in a --blob file rotates on SIGHUP too: the CLI asks the provider whether
// the capture rotates instead of reading its own options.
TEST_F(CaptureFiles, SighupRotatesACaptureTheBlobMadeRotating) {
  const std::string blob = dir_.file("rotate.blob");
  { std::ofstream(blob) << "NPP:Config:RotateBytes=1G\n"; }
  const std::string out = dir_.file("out");
  ASSERT_EQ(::mkdir(out.c_str(), 0700), 0);
  auto cap = start_capture({"-i", tb_->capture_if(), "-w", out + "/b.pcapng", "--blob", blob});
  ASSERT_TRUE(cap);
  for (uint64_t batch = 0; batch < 2; ++batch) {
    auto args = gen_args(true, 1);
    args.insert(args.end(), {"--start-seq", std::to_string(batch * 500)});
    ASSERT_EQ(tb_->send(500, 20'000, args).exit_code, 0);
    std::this_thread::sleep_for(100ms);
    if (batch == 0) cap->signal(SIGHUP);
  }
  ASSERT_TRUE(wait_for([&] { return files_in(out).size() == 2; }))
      << "SIGHUP ended the capture or made no new file: " << cap->stderr_so_far();
  cap->signal(SIGINT);
  ProcessResult r = cap->wait(20s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  FileSet set = read_files(files_in(out));
  ASSERT_EQ(set.files.size(), 2u);
  EXPECT_EQ(set.files[0].packets.size(), 500u);
  EXPECT_EQ(set.files[1].packets.size(), 500u);
}

TEST_F(CaptureFiles, CreatedPrivateOrWithTheModeAndGroupAsked) {
  group* daemon = ::getgrnam("daemon");
  ASSERT_NE(daemon, nullptr);
  struct Case {
    std::vector<std::string> args;
    mode_t mode;
    gid_t gid;
  };
  const Case cases[] = {{{}, 0600, 0},
                        {{"--file-mode", "0644"}, 0644, 0},
                        {{"--group", "daemon"}, 0640, daemon->gr_gid}};
  int n = 0;
  for (const Case& c : cases) {
    const std::string file = dir_.file("m" + std::to_string(n++) + ".pcapng");
    std::vector<std::string> args = {"-w", file};
    args.insert(args.end(), c.args.begin(), c.args.end());
    ProcessResult r = capture(50, 10'000, args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    struct stat st {};
    ASSERT_EQ(::stat(file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, c.mode) << file;
    EXPECT_EQ(st.st_gid, c.gid) << file;
  }
}

// Every refusal names the file and the reason, leaves the NIC as it was, writes nothing.
TEST_F(CaptureFiles, RefusesLinksExistingFilesAndOpenDirectories) {
  const std::string nic = tb_->capture_if();
  const std::string target = dir_.file("target");
  ASSERT_EQ(::symlink(target.c_str(), dir_.file("link.pcapng").c_str()), 0);
  { std::ofstream(dir_.file("old.pcapng")) << "an earlier capture"; }
  const std::string open_dir = dir_.file("open");
  ASSERT_EQ(::mkdir(open_dir.c_str(), 0777), 0);
  ASSERT_EQ(::chmod(open_dir.c_str(), 0777), 0);
  struct Case {
    std::string file;
    std::string reason;
  };
  for (const Case& c : {Case{dir_.file("link.pcapng"), "is a symbolic link"},
                        Case{dir_.file("old.pcapng"), "exists"},
                        Case{open_dir + "/x.pcapng", "writable by every user and has no sticky bit"}}) {
    ProcessResult r = run({xesp_binary(), "capture", "-i", nic, "-w", c.file, "-c", "1"}, 20s);
    EXPECT_NE(r.exit_code, 0) << c.file;
    EXPECT_NE(r.err.find(c.reason), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.file.substr(0, c.file.rfind('/'))), std::string::npos) << r.err;
    EXPECT_EQ(attached_xdp_prog_id(nic), 0u);
  }
  EXPECT_NE(::access(target.c_str(), F_OK), 0) << "a capture was written through the link";
  EXPECT_TRUE(files_in(open_dir).empty());
  std::ifstream old(dir_.file("old.pcapng"));
  std::string text((std::istreambuf_iterator<char>(old)), {});
  EXPECT_EQ(text, "an earlier capture");
  // Asked to, an existing file is replaced.
  ProcessResult r = capture(100, 10'000, {"-w", dir_.file("old.pcapng"), "--overwrite"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  FileSet set = read_files({dir_.file("old.pcapng")});
  check_frames(set.all, spec_for(true, 1), 100, 0, 100, t_begin_, t_end_);
}

// -Z: once attached, xesp runs as the user with no capability; rotated files are its own.
TEST_F(CaptureFiles, DropsToAnotherUserAndStillRotates) {
  passwd* nobody = ::getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  ASSERT_EQ(::chown(dir_.path().c_str(), nobody->pw_uid, 0), 0);
  constexpr uint64_t kFrames = 10'000;
  auto cap = start_capture({"-i", tb_->capture_if(), "-w", dir_.file("z.pcapng"), "-C", "256k",
                            "-Z", "nobody", "-c", std::to_string(kFrames), "--json"});
  ASSERT_TRUE(cap);
  // The running process: its user, and no capability in any set.
  std::ifstream status("/proc/" + std::to_string(cap->pid()) + "/status");
  std::string line, uid, cap_eff, cap_prm;
  while (std::getline(status, line)) {
    if (line.rfind("Uid:", 0) == 0) uid = line;
    if (line.rfind("CapEff:", 0) == 0) cap_eff = line;
    if (line.rfind("CapPrm:", 0) == 0) cap_prm = line;
  }
  const std::string id = std::to_string(nobody->pw_uid);
  EXPECT_EQ(uid, "Uid:\t" + id + "\t" + id + "\t" + id + "\t" + id);
  EXPECT_EQ(cap_eff, "CapEff:\t0000000000000000");
  EXPECT_EQ(cap_prm, "CapPrm:\t0000000000000000");
  const uint64_t t0 = now_ns();
  ASSERT_EQ(tb_->send(kFrames, 20'000, gen_args(true, 1)).exit_code, 0);
  const uint64_t t1 = now_ns();
  ProcessResult r = finish(*cap, 30s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto paths = files_in(dir_.path());
  ASSERT_GT(paths.size(), 5u);
  for (const auto& p : paths) {
    struct stat st {};
    ASSERT_EQ(::stat(p.c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, nobody->pw_uid) << p;
  }
  FileSet set = read_files(paths);
  check_frames(set.all, spec_for(true, 1), kFrames, 0, kFrames, t0, t1);
  // Stop and Disconnect worked without privileges: nothing is left on the NIC.
  EXPECT_TRUE(wait_for([&] { return attached_xdp_prog_id(tb_->capture_if()) == 0; }));
}

// A small tmpfs of the test's own: the guard keeps the free space, by deleting the ring's
// oldest files or, without a ring, by stopping with the reason.
TEST_F(CaptureFiles, DiskGuardKeepsTheFreeSpace) {
  ScopedTmpfs small(dir_.file("small"), "size=4m,mode=0700");
  if (!small.ok()) GTEST_SKIP() << small.error();
  const std::string& mnt = small.path();
  constexpr uint64_t kMinFree = 2u << 20;

  for (bool ring : {true, false}) {
    SCOPED_TRACE(ring ? "with a ring" : "without a ring");
    for (const auto& p : files_in(mnt)) fs::remove(p);
    std::vector<std::string> args = {"-i", tb_->capture_if(), "-w", mnt + "/g.pcapng",
                                     "--min-free", "2M", "-c", "10000", "--json"};
    if (ring) args.insert(args.end(), {"-C", "256k", "-W", "1000"});
    auto cap = start_capture(args);
    ASSERT_TRUE(cap);
    std::atomic<bool> done{false};
    std::atomic<uint64_t> lowest{UINT64_MAX};
    std::thread watch([&] {
      while (!done) {
        lowest = std::min<uint64_t>(lowest, free_bytes(mnt));
        std::this_thread::sleep_for(2ms);
      }
    });
    // ~8 MB of frames into 2 MB of allowance.
    ProcessResult sent = tb_->send(10'000, 10'000, gen_args(true, 1));
    ProcessResult r = finish(*cap, 30s);
    done = true;
    watch.join();
    EXPECT_EQ(sent.exit_code, 0);
    EXPECT_GE(lowest.load(), kMinFree) << "free space fell below --min-free";
    auto j = summary_json(r);
    if (ring) {
      EXPECT_EQ(r.exit_code, 0) << r.err;
      EXPECT_EQ(j["frames_written"], 10'000);
    } else {
      EXPECT_NE(r.exit_code, 0);
      EXPECT_NE(r.err.find("minimum free"), std::string::npos) << r.err;
      EXPECT_GT(j["dropped"]["write_error"].get<uint64_t>(), 0u);
    }
    FileSet set = read_files(files_in(mnt));  // every file left is whole
    EXPECT_FALSE(set.all.packets.empty());
    if (!ring) {
      EXPECT_EQ(j["frames_written"].get<uint64_t>(), set.all.packets.size());
    }
  }
}

}  // namespace
}  // namespace xesp::test
