// The block scan behind `xesp repair`: where the last whole block of a damaged pcapng file ends,
// how many frames lie before it, and which inputs it refuses. Every kept prefix is read back with
// PcapngReader, the tool-independent check that the repaired file opens.
#include "pcapng/pcapng_scan.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "pcapng/epb_buffer.hpp"
#include "pcapng/pcapng_format.hpp"
#include "pcapng/pcapng_reader.hpp"
#include "pcapng/pcapng_writer.hpp"

namespace xesp {
namespace {

namespace fs = std::filesystem;

using Bytes = std::vector<std::byte>;

class PcapngScanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = "/tmp/xesp-scan-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr) << std::strerror(errno);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  std::string file(const std::string& name) const { return (dir_ / name).string(); }

  static Bytes read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Bytes out(chars.size());
    if (!chars.empty()) std::memcpy(out.data(), chars.data(), chars.size());
    return out;
  }

  // A capture of `frames` frames (sizes 60..) over two interfaces, written by PcapngWriter and
  // closed (so with ISBs), as bytes; the offset of every EPB in *epbs.
  Bytes capture(const std::string& name, uint32_t frames, std::vector<std::size_t>* epbs) {
    const std::string path = file(name);
    auto w = PcapngWriter::open(path, {"", "", name, ""}, {{.name = "q0"}, {.name = "q1"}});
    EXPECT_TRUE(w) << w.error().message;
    if (!w) return {};
    for (uint32_t i = 0; i < frames; ++i) {
      EpbBuffer buf(i % 2, 4096);
      std::vector<uint8_t> frame(60 + i, static_cast<uint8_t>(i));
      EXPECT_TRUE(buf.append(1000 + i, frame.data(), 60 + i, 60 + i));
      epbs->push_back(w->bytes_written());
      EXPECT_TRUE(w->write_chunk(buf.bytes()));
    }
    InterfaceStats stats[2];
    stats[1].interface_id = 1;
    EXPECT_TRUE(w->close(stats));
    return read_all(path);
  }

  // Scans bytes, expects them cut at `whole_size`, and reads the kept prefix back.
  void expect_cut(const Bytes& bytes, std::size_t whole_size, uint64_t frames,
                  const std::string& reason) {
    auto scan = scan_pcapng(bytes, "damaged");
    ASSERT_TRUE(scan) << scan.error().message;
    EXPECT_FALSE(scan->whole());
    EXPECT_EQ(scan->size, bytes.size());
    EXPECT_EQ(scan->whole_size, whole_size);
    EXPECT_EQ(scan->cut_bytes(), bytes.size() - whole_size);
    EXPECT_EQ(scan->frames, frames);
    EXPECT_NE(scan->stop_reason.find(reason), std::string::npos) << scan->stop_reason;

    // The reader refuses the damaged bytes and reads the kept ones with as many packets.
    EXPECT_FALSE(PcapngReader::read_bytes(bytes, "damaged"));
    const auto kept = std::span(bytes).first(scan->whole_size);
    auto f = PcapngReader::read_bytes(kept, "kept");
    ASSERT_TRUE(f) << f.error().message;
    EXPECT_EQ(f->packets.size(), frames);
    auto again = scan_pcapng(kept, "kept");
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_TRUE(again->whole()) << again->stop_reason;
    EXPECT_EQ(again->frames, frames);
  }

  fs::path dir_;
};

TEST_F(PcapngScanTest, AWholeFileIsWhole) {
  std::vector<std::size_t> epbs;
  const Bytes bytes = capture("whole.pcapng", 10, &epbs);
  auto scan = scan_pcapng(bytes, "whole");
  ASSERT_TRUE(scan) << scan.error().message;
  EXPECT_TRUE(scan->whole());
  EXPECT_EQ(scan->whole_size, bytes.size());
  EXPECT_EQ(scan->cut_bytes(), 0u);
  EXPECT_EQ(scan->frames, 10u);
  EXPECT_EQ(scan->sections, 1u);
  EXPECT_EQ(scan->blocks, 1u + 2 + 10 + 2);  // SHB, IDBs, EPBs, ISBs
  EXPECT_TRUE(scan->stop_reason.empty());
}

TEST_F(PcapngScanTest, CutsABlockTruncatedInItsHeader) {
  std::vector<std::size_t> epbs;
  Bytes bytes = capture("header.pcapng", 10, &epbs);
  bytes.resize(epbs[7] + 6);  // the 8th EPB's type and half its length
  expect_cut(bytes, epbs[7], 7, "6 byte(s) left, fewer than the 12 of the smallest block");
}

TEST_F(PcapngScanTest, CutsABlockTruncatedInItsBody) {
  std::vector<std::size_t> epbs;
  Bytes bytes = capture("body.pcapng", 10, &epbs);
  bytes.resize(epbs[9] + 40);
  expect_cut(bytes, epbs[9], 9, "block total length 104 runs past the end (40 bytes left)");
}

TEST_F(PcapngScanTest, CutsSixtyFourMebibytesOfZeros) {
  // What a capture through a mapping leaves when it is killed: the file grown ahead by
  // PcapngWriter::kMapGrowBytes, zeros after the last block.
  std::vector<std::size_t> epbs;
  Bytes bytes = capture("zeros.pcapng", 10, &epbs);
  const std::size_t end = bytes.size();
  bytes.resize(end + PcapngWriter::kMapGrowBytes);
  expect_cut(bytes, end, 10, "zeros to the end");
}

TEST_F(PcapngScanTest, CutsGarbageAppended) {
  std::vector<std::size_t> epbs;
  Bytes bytes = capture("garbage.pcapng", 10, &epbs);
  const std::size_t end = bytes.size();
  for (uint32_t i = 0; i < 1000; ++i) bytes.push_back(std::byte(static_cast<uint8_t>(i * 37 + 11)));
  expect_cut(bytes, end, 10, "implausible block type 0x");
}

TEST_F(PcapngScanTest, CutsATornTrailerAndWhatFollows) {
  // A block whose trailing length was never written, then whole blocks: the file is kept only
  // up to the torn one (a reader could not step past it).
  std::vector<std::size_t> epbs;
  Bytes bytes = capture("torn.pcapng", 10, &epbs);
  const std::size_t trailer = epbs[5] - 4;  // the 5th EPB's last word
  std::memset(bytes.data() + trailer, 0, 4);
  expect_cut(bytes, epbs[4], 4, "trailing block total length 0 differs from the leading");
}

TEST_F(PcapngScanTest, CutsAPlausibleBlockWithAnUnknownInterface) {
  std::vector<std::size_t> epbs;
  Bytes bytes = capture("ids.pcapng", 10, &epbs);
  const uint32_t bad_id = 2;
  std::memcpy(bytes.data() + epbs[3] + 8, &bad_id, 4);
  expect_cut(bytes, epbs[3], 3, "interface id 2 but the section has 2 interface(s)");
}

TEST_F(PcapngScanTest, AValidMultiSectionFileIsWholeAndAcrossSectionsCounted) {
  std::vector<std::size_t> a_epbs, b_epbs;
  const Bytes a = capture("a.pcapng", 10, &a_epbs);
  const Bytes b = capture("b.pcapng", 5, &b_epbs);
  Bytes both = a;
  both.insert(both.end(), b.begin(), b.end());
  auto scan = scan_pcapng(both, "a+b");
  ASSERT_TRUE(scan) << scan.error().message;
  EXPECT_TRUE(scan->whole()) << scan->stop_reason;
  EXPECT_EQ(scan->frames, 15u);
  EXPECT_EQ(scan->sections, 2u);

  // Cut in the second section's third EPB: both sections' frames before it are kept.
  Bytes cut = both;
  cut.resize(a.size() + b_epbs[2] + 20);
  expect_cut(cut, a.size() + b_epbs[2], 12, "runs past the end");
}

TEST_F(PcapngScanTest, ReadsEachSectionInItsOwnByteOrder) {
  std::vector<std::size_t> epbs;
  const Bytes little = capture("le.pcapng", 3, &epbs);
  // A big-endian section: SHB, IDB, one EPB with 4 bytes of data; then a little-endian one.
  auto be32 = [](Bytes& b, uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
      b.push_back(std::byte(static_cast<uint8_t>(v >> shift)));
  };
  Bytes big;
  for (uint32_t v : {0x0A0D0D0Au, 28u, 0x1A2B3C4Du, 0x00010000u, 0xFFFFFFFFu, 0xFFFFFFFFu, 28u})
    be32(big, v);
  for (uint32_t v : {1u, 20u, 0x00010000u, 0u, 20u}) be32(big, v);
  for (uint32_t v : {6u, 36u, 0u, 0u, 1u, 4u, 4u, 0x01020304u, 36u}) be32(big, v);
  Bytes file = little;
  file.insert(file.end(), big.begin(), big.end());
  file.insert(file.end(), little.begin(), little.end());
  auto scan = scan_pcapng(file, "le+be+le");
  ASSERT_TRUE(scan) << scan.error().message;
  EXPECT_TRUE(scan->whole()) << scan->stop_reason;
  EXPECT_EQ(scan->sections, 3u);
  EXPECT_EQ(scan->frames, 3u + 1 + 3);
  auto f = PcapngReader::read_bytes(file, "le+be+le");
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->packets.size(), scan->frames);
}

TEST_F(PcapngScanTest, MappedWriterKilledLeavesZerosThatTheScanCuts) {
  // The real thing without a NIC: a child writes frames through a mapping and is killed before
  // it closes the file, as SIGKILL does to `xesp capture --file-io map`.
  const std::string path = file("killed.pcapng");
  const pid_t child = ::fork();
  ASSERT_GE(child, 0) << std::strerror(errno);
  if (child == 0) {
    auto w = PcapngWriter::open(path, {}, {{.name = "q0"}}, FileIo::map);
    if (!w || !w->mapped()) ::_exit(3);
    for (uint32_t i = 0; i < 100; ++i) {
      EpbBuffer buf(0, 4096);
      std::vector<uint8_t> frame(100, static_cast<uint8_t>(i));
      if (!buf.append(i, frame.data(), 100, 100) || !w->write_chunk(buf.bytes())) ::_exit(4);
    }
    ::raise(SIGKILL);
    ::_exit(5);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "child exited with " << WEXITSTATUS(status);

  const Bytes bytes = read_all(path);
  ASSERT_EQ(bytes.size(), PcapngWriter::kMapGrowBytes) << "the file as grown ahead";
  auto scan = scan_pcapng(bytes, path);
  ASSERT_TRUE(scan) << scan.error().message;
  EXPECT_EQ(scan->frames, 100u);
  EXPECT_EQ(scan->whole_size, 0u + 28 + 40 + 100 * EpbBuffer::block_size(100));
  EXPECT_NE(scan->stop_reason.find("zeros to the end"), std::string::npos) << scan->stop_reason;
  auto f = PcapngReader::read_bytes(std::span(bytes).first(scan->whole_size), path);
  ASSERT_TRUE(f) << f.error().message;
  ASSERT_EQ(f->packets.size(), 100u);
  for (uint32_t i = 0; i < 100; ++i)
    EXPECT_EQ(f->packets[i].data, std::vector<uint8_t>(100, static_cast<uint8_t>(i)));
}

TEST(PcapngScanRefusals, NotBeginningWithAWholeSectionHeaderIsAnError) {
  struct Case {
    const char* what;
    std::vector<uint8_t> bytes;
    const char* message;
  };
  const std::vector<uint8_t> shb = {0x0A, 0x0D, 0x0D, 0x0A, 28, 0, 0,    0,    0x4D, 0x3C,
                                    0x2B, 0x1A, 1,    0,    0,  0, 0xFF, 0xFF, 0xFF, 0xFF,
                                    0xFF, 0xFF, 0xFF, 0xFF, 28, 0, 0,    0};
  std::vector<uint8_t> bad_trailer = shb;
  bad_trailer[24] = 32;
  std::vector<uint8_t> bad_magic = shb;
  bad_magic[8] = 0;
  std::vector<uint8_t> version2 = shb;
  version2[12] = 2;
  const std::vector<Case> cases = {
      {"empty", {}, "f: empty: no section header block"},
      {"text",
       {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '!'},
       "f: not pcapng: it does not begin with a section header block"},
      {"zeros", std::vector<uint8_t>(4096, 0),
       "f: not pcapng: it does not begin with a section header block"},
      {"gzip", {0x1F, 0x8B, 8, 0, 0, 0, 0, 0}, "f: gzip-compressed: decompress it first (gunzip)"},
      {"zstd", {0x28, 0xB5, 0x2F, 0xFD, 0, 0}, "f: zstd-compressed: decompress it first (unzstd)"},
      {"lz4", {0x04, 0x22, 0x4D, 0x18, 0, 0}, "f: lz4-compressed: decompress it first (unlz4)"},
      {"pcap", {0xD4, 0xC3, 0xB2, 0xA1, 2, 0, 4, 0}, "f: a pcap file, not pcapng"},
      {"cut shb", std::vector<uint8_t>(shb.begin(), shb.begin() + 20),
       "f: its section header block is not whole: block total length 28 runs past the end (20 "
       "bytes left)"},
      {"bad trailer", bad_trailer,
       "f: its section header block is not whole: trailing block total length 32 differs from "
       "the leading 28"},
      {"bad magic", bad_magic,
       "f: its section header block is not whole: section header block with a bad byte-order "
       "magic 0x1a2b3c00"},
      {"version 2", version2,
       "f: its section header block is not whole: section header block of pcapng version 2.0"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    auto scan = scan_pcapng(std::as_bytes(std::span(c.bytes)), "f");
    ASSERT_FALSE(scan);
    EXPECT_EQ(scan.error().message, c.message);
  }
  // And the whole SHB alone is a valid, empty capture.
  auto alone = scan_pcapng(std::as_bytes(std::span(shb)), "f");
  ASSERT_TRUE(alone) << alone.error().message;
  EXPECT_TRUE(alone->whole());
  EXPECT_EQ(alone->frames, 0u);
}

TEST(PcapngScanRefusals, PlausibleBlockTypes) {
  for (uint32_t t : {0x0A0D0D0Au, 1u, 2u, 3u, 4u, 5u, 6u, 9u, 10u, 0x101u, 0x204u, 0xBADu,
                     0x40000BADu, 0x80000000u, 0xFFFFFFFFu})
    EXPECT_TRUE(plausible_block_type(t)) << std::hex << t;
  for (uint32_t t : {0u, 11u, 0x100u, 0x300u, 0xBAEu, 0x1A2B3C4Du, 0x7FFFFFFFu})
    EXPECT_FALSE(plausible_block_type(t)) << std::hex << t;
}

}  // namespace
}  // namespace xesp
