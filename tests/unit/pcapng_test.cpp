// pcapng writer, hot-path encoder and reader: byte-exact encodings, a full round trip through our
// reader, malformed-input errors, and cross-checks against libpcap, capinfos and tshark.
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#ifdef XESP_HAVE_LIBPCAP
#include <pcap/pcap.h>
#endif

#include "support/scoped_tmpfs.hpp"
#include "support/tools.hpp"
#include "pcapng/epb_buffer.hpp"
#include "pcapng/epb_vector.hpp"
#include "pcapng/pcapng_format.hpp"
#include "pcapng/pcapng_reader.hpp"
#include "pcapng/pcapng_writer.hpp"

namespace xesp {
namespace {

namespace fs = std::filesystem;

// A private directory (under /tmp unless told), removed with everything in it when the test
// ends, pass or fail.
class TempDir {
 public:
  explicit TempDir(const std::string& under = "/tmp") {
    std::string tmpl = under + "/xesp-pcapng-test-XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  bool ok() const { return !path_.empty(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

class PcapngTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(dir_.ok()) << "mkdtemp under /tmp failed"; }
  TempDir dir_;
};

std::vector<std::byte> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(chars.size());
  if (!chars.empty()) std::memcpy(out.data(), chars.data(), chars.size());
  return out;
}

uint32_t load_u32(const std::vector<std::byte>& b, std::size_t at) {
  uint32_t v;
  std::memcpy(&v, b.data() + at, sizeof(v));
  return v;
}

void store_u32(std::vector<std::byte>& b, std::size_t at, uint32_t v) {
  std::memcpy(b.data() + at, &v, sizeof(v));
}

// Little-endian byte strings for the byte-exact tests, written independently of the encoder.
class Bytes {
 public:
  Bytes& u8(uint8_t v) {
    b_.push_back(std::byte{v});
    return *this;
  }
  Bytes& u16(uint16_t v) { return u8(v & 0xFF).u8(v >> 8); }
  Bytes& u32(uint32_t v) { return u16(v & 0xFFFF).u16(v >> 16); }
  Bytes& u64(uint64_t v) {
    return u32(static_cast<uint32_t>(v)).u32(static_cast<uint32_t>(v >> 32));
  }
  Bytes& be16(uint16_t v) { return u8(v >> 8).u8(v & 0xFF); }
  Bytes& be32(uint32_t v) { return be16(v >> 16).be16(v & 0xFFFF); }
  Bytes& text(std::string_view s) {
    for (char c : s) u8(static_cast<uint8_t>(c));
    return *this;
  }
  Bytes& pad() {
    while (b_.size() % 4 != 0) u8(0);
    return *this;
  }
  const std::vector<std::byte>& get() const { return b_; }

 private:
  std::vector<std::byte> b_;
};

std::vector<uint8_t> pattern(std::size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>((seed * 131 + i * 7 + 1) & 0xFF);
  return v;
}

// ---------------------------------------------------------------------------------------------
// The sample capture shared by the round trip and the external-tool checks.

struct ExpectedFrame {
  uint32_t interface_id = 0;
  uint64_t timestamp_ns = 0;
  std::vector<uint8_t> data;  // captured bytes
  uint32_t original_len = 0;
  std::string comment;  // non-empty: a comment marker (no data)
};

struct Sample {
  SectionInfo section;
  std::vector<InterfaceInfo> interfaces;
  std::vector<ExpectedFrame> frames;  // in file order
  std::vector<InterfaceStats> stats;
  uint64_t bytes_written = 0;
};

constexpr uint64_t kBaseTimeNs = 1'700'000'000'123'456'789ULL;
constexpr const char* kMarkerText = "trigger fired: start of burst (\xC2\xB5s marker)";

// Frames on eth1 are cut to this many bytes, as a 128-byte snap length would.
constexpr uint32_t kEth1CutLen = 128;

// Writes the sample to path through EpbBuffers small enough to flush many times, so that buffers
// are reused (stale bytes behind short frames) and chunks from different queues alternate.
// libpcap (1.10) refuses files whose IDBs differ in snap length, hence the choice for eth1's.
Result<Sample> write_sample(const std::string& path, uint32_t eth1_snap_len = kEth1CutLen) {
  Sample s;
  s.section = {"x86_64 test rig", "Linux 6.1.0-test", "xesp pcapng_test", "round trip section"};
  s.interfaces = {
      {"eth0", "Intel X710 port 0", 1, 262144, "udp port 4789 or host 10.0.0.1", ""},
      {"eth1", "", 1, eth1_snap_len, "", "Linux 6.1"},
      {"veth-c", "container side", 1, 262144, "", ""},
  };
  auto writer = PcapngWriter::open(path, s.section, s.interfaces);
  if (!writer) return std::move(writer).error();

  std::vector<EpbBuffer> buffers;
  std::vector<std::vector<ExpectedFrame>> pending(s.interfaces.size());
  for (uint32_t i = 0; i < s.interfaces.size(); ++i) buffers.emplace_back(i, 4096);
  auto flush = [&](uint32_t q) -> Status {
    if (auto st = writer->write_chunk(buffers[q].bytes()); !st) return st;
    buffers[q].clear();
    for (auto& f : pending[q]) s.frames.push_back(std::move(f));
    pending[q].clear();
    return {};
  };

  std::vector<uint32_t> sizes;
  for (uint32_t n = 0; n <= 70; ++n) sizes.push_back(n);
  for (uint32_t n : {127u, 128u, 129u, 255u, 256u, 257u, 511u, 1000u, 1023u, 1499u, 1500u, 1501u,
                     1513u, 1514u, 3u, 1514u, 1u, 1514u, 2u}) {
    sizes.push_back(n);
  }
  uint64_t ts = kBaseTimeNs;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const uint32_t q = static_cast<uint32_t>(i % s.interfaces.size());
    const uint32_t wire_len = sizes[i];
    uint32_t captured = std::min(wire_len, q == 1 ? kEth1CutLen : s.interfaces[q].snap_len);
    // Every 5th frame on eth0 is cut short too, as a snap length below the frame would.
    if (q == 0 && i % 5 == 0 && captured > 10) captured -= 7;
    ExpectedFrame f{q, ts, pattern(captured, static_cast<uint32_t>(i)), wire_len, ""};
    ts += 1'000'003 + i;  // odd steps: every digit of the ns timestamp matters

    if (!buffers[q].append(f.timestamp_ns, f.data.data(), captured, wire_len)) {
      if (auto st = flush(q); !st) return std::move(st).error();
      if (!buffers[q].append(f.timestamp_ns, f.data.data(), captured, wire_len)) {
        return Error{{}, "frame does not fit an empty buffer"};
      }
    }
    pending[q].push_back(std::move(f));

    if (i == sizes.size() / 2) {
      // The marker goes straight to the writer, between chunks.
      if (auto st = writer->write_comment(1, ts, kMarkerText); !st) return std::move(st).error();
      s.frames.push_back({1, ts, {}, 0, kMarkerText});
      ts += 17;
    }
  }
  for (uint32_t q = 0; q < s.interfaces.size(); ++q) {
    if (auto st = flush(q); !st) return std::move(st).error();
  }

  InterfaceStats all;
  all.interface_id = 0;
  all.timestamp_ns = ts + 1;
  all.start_time_ns = kBaseTimeNs - 5;
  all.end_time_ns = ts;
  all.if_recv = 123456789012ULL;
  all.if_drop = 3;
  all.filter_accept = 1000;
  all.os_drop = 0;  // set to zero: present, not absent
  all.usr_deliv = 999;
  InterfaceStats some;
  some.interface_id = 1;
  some.timestamp_ns = ts + 2;
  some.if_recv = 42;
  some.if_drop = 0xFFFF'FFFF'0000'0001ULL;
  InterfaceStats none;
  none.interface_id = 2;
  none.timestamp_ns = ts + 3;
  s.stats = {all, some, none};
  if (auto st = writer->close(s.stats); !st) return std::move(st).error();
  s.bytes_written = writer->bytes_written();
  return s;
}

// A second, smaller capture for the multi-section tests: a section of its own (shb_userappl
// "second"), two interfaces "b0" and "b1", ten frames whose bytes differ from the sample's, and
// one ISB (for b1).
struct SecondCapture {
  std::vector<InterfaceInfo> interfaces;
  std::vector<ExpectedFrame> frames;  // in file order
  uint64_t bytes_written = 0;
};

Result<SecondCapture> write_second(const std::string& path, uint32_t snap_len = 262144) {
  SecondCapture c;
  c.interfaces = {{"b0", "", 1, snap_len, "", ""}, {"b1", "", 1, snap_len, "", ""}};
  auto writer = PcapngWriter::open(path, {"", "", "second", ""}, c.interfaces);
  if (!writer) return std::move(writer).error();
  for (uint32_t i = 0; i < 10; ++i) {
    const uint32_t q = i % 3 == 0 ? 0 : 1;
    ExpectedFrame f{q, kBaseTimeNs + 5'000'000'000ULL + i, pattern(40 + i, 1000 + i), 40 + i, ""};
    EpbBuffer buf(q, 256);
    if (!buf.append(f.timestamp_ns, f.data.data(), 40 + i, 40 + i)) {
      return Error{{}, "frame does not fit an empty buffer"};
    }
    if (auto st = writer->write_chunk(buf.bytes()); !st) return std::move(st).error();
    c.frames.push_back(std::move(f));
  }
  InterfaceStats st;
  st.interface_id = 1;
  st.timestamp_ns = kBaseTimeNs + 6'000'000'000ULL;
  st.if_recv = 7;
  if (auto closed = writer->close(std::span(&st, 1)); !closed) return std::move(closed).error();
  c.bytes_written = writer->bytes_written();
  return c;
}

std::vector<std::byte> concat(std::initializer_list<std::vector<std::byte>> parts) {
  std::vector<std::byte> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// ---------------------------------------------------------------------------------------------
// EpbBuffer

TEST(EpbBufferTest, EncodesEnhancedPacketBlockByteExact) {
  EpbBuffer buf(7, 1024);
  const uint8_t frame[5] = {0xDE, 0xAD, 0xBE, 0xEF, 0x42};
  const uint64_t ts = 0x0123'4567'89AB'CDEFULL;
  ASSERT_TRUE(buf.append(ts, frame, 5, 60));
  // clang-format off
  const auto expected = Bytes()
                            .u32(6)
                            .u32(40)
                            .u32(7)
                            .u32(0x0123'4567)
                            .u32(0x89AB'CDEF)
                            .u32(5)
                            .u32(60)
                            .u8(0xDE).u8(0xAD).u8(0xBE).u8(0xEF).u8(0x42)
                            .pad()
                            .u32(40)
                            .get();
  // clang-format on
  ASSERT_EQ(buf.size(), expected.size());
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(), buf.bytes().begin()));
  EXPECT_EQ(buf.frames(), 1u);
  EXPECT_EQ(EpbBuffer::block_size(5), 40u);
  EXPECT_EQ(EpbBuffer::block_size(0), 32u);
  EXPECT_EQ(EpbBuffer::block_size(4), 36u);
}

TEST(EpbBufferTest, ZeroLengthFrameIsFixedPartOnly) {
  EpbBuffer buf(0, 64);
  ASSERT_TRUE(buf.append(1, nullptr, 0, 0));
  EXPECT_EQ(buf.size(), 32u);
  EXPECT_EQ(load_u32({buf.bytes().begin(), buf.bytes().end()}, 28), 32u);
}

TEST(EpbBufferTest, AppendReturnsFalseWhenFullAndTrueAfterClear) {
  const std::size_t block = EpbBuffer::block_size(60);
  EpbBuffer buf(0, 2 * block + block / 2);
  const auto frame = pattern(60, 1);
  EXPECT_TRUE(buf.append(1, frame.data(), 60, 60));
  EXPECT_TRUE(buf.append(2, frame.data(), 60, 60));
  EXPECT_FALSE(buf.append(3, frame.data(), 60, 60));
  EXPECT_EQ(buf.size(), 2 * block) << "a failed append must leave the buffer untouched";
  EXPECT_EQ(buf.frames(), 2u);
  // A smaller frame may still fit in what is left.
  EXPECT_TRUE(buf.append(4, frame.data(), 4, 4));
  buf.clear();
  EXPECT_TRUE(buf.empty());
  EXPECT_EQ(buf.frames(), 0u);
  EXPECT_TRUE(buf.append(5, frame.data(), 60, 60));
  EXPECT_EQ(buf.size(), block);
  EXPECT_FALSE(buf.fits_empty(1000));
  EXPECT_TRUE(buf.fits_empty(60));
  // A real 1000-byte frame: append's contract is that `data` holds captured_len bytes (gcc's
  // -Warray-bounds sees the copy a 60-byte frame would overrun, though the branch is not taken).
  const auto large = pattern(1000, 2);
  EXPECT_FALSE(buf.append(6, large.data(), 1000, 1000)) << "a block larger than the buffer";
}

TEST(EpbBufferTest, PaddingIsZeroWhenBufferIsReused) {
  EpbBuffer buf(0, 256);
  const std::vector<uint8_t> ones(200, 0xFF);
  ASSERT_TRUE(buf.append(1, ones.data(), 200, 200));
  buf.clear();
  const uint8_t one = 0xAB;
  ASSERT_TRUE(buf.append(2, &one, 1, 1));
  const auto b = buf.bytes();
  ASSERT_EQ(b.size(), 36u);
  EXPECT_EQ(b[28], std::byte{0xAB});
  EXPECT_EQ(b[29], std::byte{0});
  EXPECT_EQ(b[30], std::byte{0});
  EXPECT_EQ(b[31], std::byte{0});
}

TEST(EpbBufferTest, MovedFromBufferRefusesAppend) {
  EpbBuffer a(3, 128);
  const uint8_t x = 1;
  ASSERT_TRUE(a.append(1, &x, 1, 1));
  EpbBuffer b(std::move(a));
  EXPECT_EQ(b.size(), 36u);
  EXPECT_EQ(b.interface_id(), 3u);
  EXPECT_FALSE(a.append(1, &x, 1, 1));  // NOLINT(bugprone-use-after-move): defined state
  EXPECT_EQ(a.capacity(), 0u);          // NOLINT(bugprone-use-after-move)
}

// ---------------------------------------------------------------------------------------------
// PcapngWriter

TEST_F(PcapngTest, WriterEncodesHeaderBlocksByteExact) {
  const std::string path = dir_.file("headers.pcapng");
  SectionInfo section{"hw", "os1", "app", ""};
  std::vector<InterfaceInfo> itfs = {{"eth0", "", 1, 65535, "tcp", ""}};
  auto w = PcapngWriter::open(path, section, itfs);
  ASSERT_TRUE(w) << w.error().message;
  ASSERT_TRUE(w->close());

  // clang-format off
  const auto shb = Bytes()
                       .u32(0x0A0D0D0A).u32(56)
                       .u32(0x1A2B3C4D).u16(1).u16(0).u64(~uint64_t{0})
                       .u16(2).u16(2).text("hw").pad()
                       .u16(3).u16(3).text("os1").pad()
                       .u16(4).u16(3).text("app").pad()
                       .u16(0).u16(0)
                       .u32(56)
                       .get();
  // clang-format on
  // clang-format off
  const auto idb = Bytes()
                       .u32(1).u32(48)
                       .u16(1).u16(0).u32(65535)
                       .u16(2).u16(4).text("eth0")
                       .u16(9).u16(1).u8(9).pad()
                       .u16(11).u16(4).u8(0).text("tcp")
                       .u16(0).u16(0)
                       .u32(48)
                       .get();
  // clang-format on
  std::vector<std::byte> expected = shb;
  expected.insert(expected.end(), idb.begin(), idb.end());
  EXPECT_EQ(read_all(path), expected);
  EXPECT_EQ(w->bytes_written(), expected.size());
}

TEST_F(PcapngTest, RoundTripEveryBlockAndOption) {
  const std::string path = dir_.file("roundtrip.pcapng");
  auto sample = write_sample(path);
  ASSERT_TRUE(sample) << sample.error().message;
  const Sample& s = sample.value();

  EXPECT_EQ(fs::file_size(path), s.bytes_written);
  auto file = PcapngReader::read_file(path);
  ASSERT_TRUE(file) << file.error().message;
  const PcapngFile& f = file.value();

  EXPECT_EQ(f.shb.major_version, 1);
  EXPECT_EQ(f.shb.minor_version, 0);
  EXPECT_EQ(f.shb.section_length, -1);
  EXPECT_FALSE(f.shb.swapped);
  EXPECT_EQ(f.shb.hardware, s.section.hardware);
  EXPECT_EQ(f.shb.os, s.section.os);
  EXPECT_EQ(f.shb.user_appl, s.section.user_appl);
  EXPECT_EQ(f.shb.comments, std::vector<std::string>{s.section.comment});
  EXPECT_EQ(f.shb.options.size(), 4u);

  ASSERT_EQ(f.interfaces.size(), s.interfaces.size());
  for (std::size_t i = 0; i < s.interfaces.size(); ++i) {
    SCOPED_TRACE("interface " + std::to_string(i));
    const auto& want = s.interfaces[i];
    const auto& got = f.interfaces[i];
    EXPECT_EQ(got.link_type, want.link_type);
    EXPECT_EQ(got.snap_len, want.snap_len);
    EXPECT_EQ(got.name, want.name);
    EXPECT_EQ(got.description, want.description);
    EXPECT_EQ(got.os, want.os);
    EXPECT_TRUE(got.has_tsresol);
    EXPECT_EQ(got.tsresol, 9);
    EXPECT_EQ(got.filter, want.filter);
    if (want.filter.empty()) {
      EXPECT_FALSE(got.filter_type.has_value());
    } else {
      EXPECT_EQ(got.filter_type, std::optional<uint8_t>(0));
    }
    EXPECT_TRUE(got.comments.empty());
    // Exactly the options we set, in our order, nothing else.
    std::vector<uint16_t> codes;
    for (const auto& o : got.options) codes.push_back(o.code);
    std::vector<uint16_t> want_codes{2};
    if (!want.description.empty()) want_codes.push_back(3);
    want_codes.push_back(9);
    if (!want.filter.empty()) want_codes.push_back(11);
    if (!want.os.empty()) want_codes.push_back(12);
    EXPECT_EQ(codes, want_codes);
  }

  const auto raw = read_all(path);
  ASSERT_EQ(f.packets.size(), s.frames.size());
  for (std::size_t i = 0; i < s.frames.size(); ++i) {
    SCOPED_TRACE("packet " + std::to_string(i));
    const auto& want = s.frames[i];
    const auto& got = f.packets[i];
    EXPECT_EQ(got.block_type, pcapng::kBlockEnhancedPacket);
    EXPECT_EQ(got.interface_id, want.interface_id);
    EXPECT_EQ(got.timestamp_raw, want.timestamp_ns);
    EXPECT_EQ(got.timestamp_ns, want.timestamp_ns);
    EXPECT_EQ(got.captured_len, want.data.size());
    EXPECT_EQ(got.original_len, want.original_len);
    EXPECT_EQ(got.data, want.data);
    if (want.comment.empty()) {
      EXPECT_TRUE(got.options.empty());
    } else {
      EXPECT_EQ(got.comments, std::vector<std::string>{want.comment});
      EXPECT_EQ(got.options.size(), 1u);
    }
    // Padding after the data is zero, even where the buffer held a longer frame before.
    const std::size_t data_at = got.block_offset + 28;
    for (std::size_t p = data_at + got.captured_len;
         p < data_at + pcapng::padded_size(got.captured_len); ++p) {
      EXPECT_EQ(raw[p], std::byte{0}) << "padding byte at file offset " << p;
    }
  }

  ASSERT_EQ(f.stats.size(), s.stats.size());
  for (std::size_t i = 0; i < s.stats.size(); ++i) {
    SCOPED_TRACE("isb " + std::to_string(i));
    const auto& want = s.stats[i];
    const auto& got = f.stats[i];
    EXPECT_EQ(got.interface_id, want.interface_id);
    EXPECT_EQ(got.timestamp_ns, want.timestamp_ns);
    EXPECT_EQ(got.start_time_ns, want.start_time_ns);
    EXPECT_EQ(got.end_time_ns, want.end_time_ns);
    EXPECT_EQ(got.if_recv, want.if_recv);
    EXPECT_EQ(got.if_drop, want.if_drop);
    EXPECT_EQ(got.filter_accept, want.filter_accept);
    EXPECT_EQ(got.os_drop, want.os_drop);
    EXPECT_EQ(got.usr_deliv, want.usr_deliv);
    EXPECT_TRUE(got.comments.empty());
  }
  EXPECT_EQ(f.stats[2].options.size(), 0u) << "an ISB with no counters carries no options";
  EXPECT_TRUE(f.unknown_block_types.empty());
}

TEST_F(PcapngTest, IsbTimesUseTheEpbHighLowLayout) {
  const std::string path = dir_.file("isb.pcapng");
  auto w = PcapngWriter::open(path, {}, {{"lo", "", 1, 100, "", ""}});
  ASSERT_TRUE(w) << w.error().message;
  InterfaceStats st;
  st.timestamp_ns = 0x1111'2222'3333'4444ULL;
  st.start_time_ns = 0x0000'0001'0000'0002ULL;
  st.if_recv = 0x0000'0003'0000'0004ULL;
  ASSERT_TRUE(w->close(std::span(&st, 1)));
  const auto raw = read_all(path);
  // SHB (no options) 28 bytes, IDB with if_name + if_tsresol 40 bytes, then the ISB.
  const std::size_t isb = 28 + 40;
  ASSERT_EQ(raw.size(), isb + 52);
  EXPECT_EQ(load_u32(raw, isb), 5u);
  EXPECT_EQ(load_u32(raw, isb + 12), 0x1111'2222u);
  EXPECT_EQ(load_u32(raw, isb + 16), 0x3333'4444u);
  EXPECT_EQ(load_u32(raw, isb + 20), (8u << 16) | 2u);  // isb_starttime, length 8
  EXPECT_EQ(load_u32(raw, isb + 24), 1u);               // high word first
  EXPECT_EQ(load_u32(raw, isb + 28), 2u);
  EXPECT_EQ(load_u32(raw, isb + 32), (8u << 16) | 4u);  // isb_ifrecv: a plain u64
  EXPECT_EQ(load_u32(raw, isb + 36), 4u);               // low word first (little-endian)
  EXPECT_EQ(load_u32(raw, isb + 40), 3u);
}

TEST_F(PcapngTest, CloseIsIdempotentAndDestructorLeavesValidFile) {
  const std::string closed_path = dir_.file("closed.pcapng");
  const std::string dropped_path = dir_.file("dropped.pcapng");
  {
    auto w = PcapngWriter::open(closed_path, {}, {{.name = "eth0"}});
    ASSERT_TRUE(w) << w.error().message;
    EXPECT_TRUE(w->is_open());
    InterfaceStats st;
    st.if_recv = 1;
    ASSERT_TRUE(w->close(std::span(&st, 1)));
    EXPECT_FALSE(w->is_open());
    const uint64_t after_first = w->bytes_written();
    EXPECT_TRUE(w->close(std::span(&st, 1)));
    EXPECT_EQ(w->bytes_written(), after_first) << "a second close writes nothing";
    EXPECT_FALSE(w->write_chunk({}).ok()) << "writing after close is an error";
  }
  auto closed = PcapngReader::read_file(closed_path);
  ASSERT_TRUE(closed) << closed.error().message;
  EXPECT_EQ(closed->stats.size(), 1u);

  {
    auto w = PcapngWriter::open(dropped_path, {}, {{.name = "eth0"}});
    ASSERT_TRUE(w) << w.error().message;
    EpbBuffer buf(0, 4096);
    const auto frame = pattern(99, 5);
    ASSERT_TRUE(buf.append(10, frame.data(), 99, 99));
    ASSERT_TRUE(w->write_chunk(buf.bytes()));
    PcapngWriter moved = std::move(w.value());
    EXPECT_FALSE(w->is_open()) << "moved-from writer";  // NOLINT(bugprone-use-after-move)
    EXPECT_TRUE(moved.is_open());
  }  // destroyed without close()
  auto dropped = PcapngReader::read_file(dropped_path);
  ASSERT_TRUE(dropped) << dropped.error().message;
  ASSERT_EQ(dropped->packets.size(), 1u);
  EXPECT_EQ(dropped->packets[0].data, pattern(99, 5));
  EXPECT_TRUE(dropped->stats.empty());
}

TEST_F(PcapngTest, RejectsUnknownInterfaceIds) {
  const std::string path = dir_.file("ids.pcapng");
  auto w = PcapngWriter::open(path, {}, {{.name = "eth0"}, {.name = "eth1"}});
  ASSERT_TRUE(w) << w.error().message;
  const Status bad_comment = w->write_comment(2, 1, "no such interface");
  ASSERT_FALSE(bad_comment);
  EXPECT_NE(bad_comment.error().message.find("interface 2"), std::string::npos)
      << bad_comment.error().message;
  EXPECT_EQ(bad_comment.error().code, nmerr::invalid_parameter);

  InterfaceStats stats[2];
  stats[0].interface_id = 5;
  stats[1].interface_id = 1;
  stats[1].if_drop = 9;
  const Status closed = w->close(stats);
  EXPECT_FALSE(closed);
  // The valid ISB is still written and the file closed.
  EXPECT_FALSE(w->is_open());
  auto f = PcapngReader::read_file(path);
  ASSERT_TRUE(f) << f.error().message;
  ASSERT_EQ(f->stats.size(), 1u);
  EXPECT_EQ(f->stats[0].interface_id, 1u);
  EXPECT_EQ(f->stats[0].if_drop, std::optional<uint64_t>(9));
}

TEST_F(PcapngTest, OversizedOptionFailsBeforeTouchingTheFile) {
  const std::string path = dir_.file("keep.pcapng");
  { std::ofstream(path) << "keep me"; }
  SectionInfo section;
  section.comment.assign(70000, 'c');
  auto w = PcapngWriter::open(path, section, {{.name = "eth0"}});
  ASSERT_FALSE(w);
  EXPECT_NE(w.error().message.find("section comment"), std::string::npos) << w.error().message;
  EXPECT_EQ(fs::file_size(path), 7u) << "the existing file must not be truncated";
}

TEST(PcapngWriterTest, OpenUnwritablePathNamesPathAndReason) {
  const std::string path = "/nonexistent-xesp-dir/x.pcapng";
  auto w = PcapngWriter::open(path, {}, {{.name = "eth0"}});
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().message,
            "output file '/nonexistent-xesp-dir/x.pcapng': No such file or directory");
  EXPECT_EQ(w.error().code, std::errc::no_such_file_or_directory);
}

TEST(PcapngWriterTest, FullDeviceGivesNoSpaceError) {
  if (::access("/dev/full", W_OK) != 0) GTEST_SKIP() << "/dev/full is not writable here";
  auto w = PcapngWriter::open("/dev/full", {}, {{.name = "eth0"}});
  ASSERT_FALSE(w) << "the header write must fail on /dev/full";
  EXPECT_EQ(w.error().message, "output file '/dev/full': No space left on device");
}

// A reader that goes away (as with `-w - | head`) must give EPIPE as an error value, and the
// stream must refuse further writes since it may end inside a block. Whatever FileIo asks for:
// a pipe opened for reading too would hold a read end of its own and never see EPIPE.
class BrokenPipeTest : public ::testing::TestWithParam<FileIo> {};

TEST_P(BrokenPipeTest, IsAStickyErrorNamingTheOutput) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const std::string path = "/proc/self/fd/" + std::to_string(fds[1]);
  // SIGPIPE is the caller's business; the CLI ignores it, and so does this test while it runs.
  struct sigaction ignore {
  }, old{};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGPIPE, &ignore, &old), 0);

  auto w = PcapngWriter::open(path, {}, {{.name = "eth0"}}, GetParam());
  ::close(fds[1]);
  ASSERT_TRUE(w) << w.error().message;
  EXPECT_FALSE(w->mapped());
  ::close(fds[0]);
  EpbBuffer buf(0, 4096);
  const auto frame = pattern(64, 1);
  ASSERT_TRUE(buf.append(1, frame.data(), 64, 64));
  const Status first = w->write_chunk(buf.bytes());
  const Status second = w->write_chunk(buf.bytes());
  const Status closed = w->close();
  ::sigaction(SIGPIPE, &old, nullptr);

  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().message, "output file '" + path + "': Broken pipe");
  EXPECT_EQ(first.error().code, std::errc::broken_pipe);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().message, first.error().message);
  EXPECT_FALSE(closed) << "close reports the stream's error";
  EXPECT_FALSE(w->is_open());
}

INSTANTIATE_TEST_SUITE_P(FileIo, BrokenPipeTest,
                         ::testing::Values(FileIo::write, FileIo::map, FileIo::automatic),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST_F(PcapngTest, ConcurrentChunksNeverInterleave) {
  const std::string path = dir_.file("threads.pcapng");
  constexpr uint32_t kThreads = 4;
  constexpr uint32_t kFramesPerThread = 20000;
  std::vector<InterfaceInfo> itfs;
  for (uint32_t t = 0; t < kThreads; ++t) itfs.push_back({.name = "q" + std::to_string(t)});
  auto w = PcapngWriter::open(path, {}, itfs);
  ASSERT_TRUE(w) << w.error().message;

  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (uint32_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      EpbBuffer buf(t, 8192);  // small: many chunks, many lock hand-offs
      for (uint32_t i = 0; i < kFramesPerThread; ++i) {
        // The sequence number is the payload; sizes vary so that blocks straddle chunk ends.
        uint8_t frame[64] = {};
        std::memcpy(frame, &i, sizeof(i));
        const uint32_t len = 4 + (i % 60);
        if (!buf.append(i, frame, len, len)) {
          if (!w->write_chunk(buf.bytes())) ++failures[t];
          buf.clear();
          if (!buf.append(i, frame, len, len)) ++failures[t];
        }
      }
      if (!w->write_chunk(buf.bytes())) ++failures[t];
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(w->close());
  EXPECT_EQ(failures, std::vector<int>(kThreads, 0));
  EXPECT_EQ(fs::file_size(path), w->bytes_written());

  auto f = PcapngReader::read_file(path);
  ASSERT_TRUE(f) << f.error().message;
  ASSERT_EQ(f->packets.size(), kThreads * kFramesPerThread);
  std::vector<uint32_t> next(kThreads, 0);
  for (const auto& p : f->packets) {
    ASSERT_LT(p.interface_id, kThreads);
    uint32_t seq;
    std::memcpy(&seq, p.data.data(), sizeof(seq));
    ASSERT_EQ(seq, next[p.interface_id]) << "queue " << p.interface_id << " out of order";
    ASSERT_EQ(p.timestamp_ns, seq);
    ++next[p.interface_id];
  }
}

// ---------------------------------------------------------------------------------------------
// FileIo::map: pollers copy into a mapping of the file in parallel

bool on_tmpfs(const std::string& path) {
  struct statfs fs {};
  return ::statfs(path.c_str(), &fs) == 0 && fs.f_type == TMPFS_MAGIC;
}

class MappedWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!on_tmpfs("/dev/shm")) GTEST_SKIP() << "/dev/shm is not tmpfs here";
    ASSERT_TRUE(dir_.ok()) << "mkdtemp under /dev/shm failed";
  }
  TempDir dir_{"/dev/shm"};
};

// Several threads write vectored batches of small frames (copied next to their headers) and
// large ones (referenced where they lie, as UMEM frames are) past several growth steps and
// unmapping steps; every block must come back whole and in each thread's order.
TEST_F(MappedWriterTest, ConcurrentVectoredWritesLandWholeAndInOrder) {
  const std::string path = dir_.file("mapped.pcapng");
  constexpr uint32_t kThreads = 4;
  constexpr uint32_t kFramesPerThread = 40000;  // ~190 MiB in all: three growth steps
  std::vector<InterfaceInfo> itfs;
  for (uint32_t t = 0; t < kThreads; ++t) itfs.push_back({.name = "q" + std::to_string(t)});
  auto w = PcapngWriter::open(path, {}, itfs, FileIo::map);
  ASSERT_TRUE(w) << w.error().message;
  ASSERT_TRUE(w->mapped());

  auto frame_len = [](uint32_t i) { return i % 3 == 0 ? 60 + i % 7 : 1500 - i % 5; };
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (uint32_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      EpbVector v(t, 256 * 1024);
      std::vector<std::vector<uint8_t>> held;  // large frames must live until written
      auto flush = [&] {
        if (!w->write_vectored(v.iovecs())) ++failures[t];
        v.clear();
        held.clear();
      };
      for (uint32_t i = 0; i < kFramesPerThread; ++i) {
        auto data = pattern(frame_len(i), i * kThreads + t);
        std::memcpy(data.data(), &i, sizeof(i));
        if (!v.add(i, data.data(), static_cast<uint32_t>(data.size()), 1514)) {
          flush();
          if (!v.add(i, data.data(), static_cast<uint32_t>(data.size()), 1514)) ++failures[t];
        }
        held.push_back(std::move(data));
        if (held.size() == 200) flush();
      }
      flush();
    });
  }
  for (auto& th : threads) th.join();
  const uint64_t written = w->bytes_written();
  ASSERT_TRUE(w->close());
  EXPECT_EQ(failures, std::vector<int>(kThreads, 0));
  EXPECT_GT(written, 2 * PcapngWriter::kMapGrowBytes);
  EXPECT_EQ(fs::file_size(path), written) << "the growth ahead must be cut at close";

  auto f = PcapngReader::read_file(path);
  ASSERT_TRUE(f) << f.error().message;
  ASSERT_EQ(f->packets.size(), kThreads * kFramesPerThread);
  std::vector<uint32_t> next(kThreads, 0);
  for (const auto& p : f->packets) {
    ASSERT_LT(p.interface_id, kThreads);
    const uint32_t i = next[p.interface_id]++;
    auto want = pattern(frame_len(i), i * kThreads + p.interface_id);
    std::memcpy(want.data(), &i, sizeof(i));
    ASSERT_EQ(p.timestamp_ns, i) << "queue " << p.interface_id << " out of order";
    ASSERT_EQ(p.original_len, 1514u);
    ASSERT_TRUE(std::equal(p.data.begin(), p.data.end(), want.begin(), want.end()))
        << "queue " << p.interface_id << " frame " << i << " differs";
  }
}

TEST_F(MappedWriterTest, AutomaticMapsOnTmpfsOnly) {
  auto shm = PcapngWriter::open(dir_.file("auto.pcapng"), {}, {{.name = "eth0"}},
                                FileIo::automatic);
  ASSERT_TRUE(shm) << shm.error().message;
  EXPECT_TRUE(shm->mapped()) << "a regular file on tmpfs";

  TempDir disk;
  ASSERT_TRUE(disk.ok());
  auto other = PcapngWriter::open(disk.file("auto.pcapng"), {}, {{.name = "eth0"}},
                                  FileIo::automatic);
  ASSERT_TRUE(other) << other.error().message;
  EXPECT_EQ(other->mapped(), on_tmpfs("/tmp")) << "/tmp: mapped only where it is tmpfs";

  auto forced = PcapngWriter::open(disk.file("map.pcapng"), {}, {{.name = "eth0"}}, FileIo::map);
  ASSERT_TRUE(forced) << forced.error().message;
  EXPECT_TRUE(forced->mapped()) << "map is honoured on any regular file";

  auto written = PcapngWriter::open(dir_.file("write.pcapng"), {}, {{.name = "eth0"}},
                                    FileIo::write);
  ASSERT_TRUE(written) << written.error().message;
  EXPECT_FALSE(written->mapped());

  // A pipe cannot be mapped: map falls back to writes.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  auto pipe = PcapngWriter::open("/proc/self/fd/" + std::to_string(fds[1]), {},
                                 {{.name = "eth0"}}, FileIo::map);
  ASSERT_TRUE(pipe) << pipe.error().message;
  EXPECT_FALSE(pipe->mapped());
  ASSERT_TRUE(pipe->close());
  ::close(fds[0]);
  ::close(fds[1]);
}

// A writer destroyed without close() (a capture torn down by an error) still leaves a file of
// exactly the blocks written, not the zeros of the growth ahead.
TEST_F(MappedWriterTest, DestructorCutsTheGrowthAhead) {
  const std::string path = dir_.file("unclosed.pcapng");
  uint64_t written = 0;
  {
    auto w = PcapngWriter::open(path, {}, {{.name = "eth0"}}, FileIo::map);
    ASSERT_TRUE(w) << w.error().message;
    ASSERT_TRUE(w->mapped());
    EpbBuffer buf(0, 4096);
    const auto frame = pattern(100, 7);
    ASSERT_TRUE(buf.append(5, frame.data(), 100, 100));
    ASSERT_TRUE(w->write_chunk(buf.bytes()));
    EXPECT_EQ(fs::file_size(path), PcapngWriter::kMapGrowBytes) << "grown ahead while open";
    written = w->bytes_written();
  }
  EXPECT_EQ(fs::file_size(path), written);
  auto f = PcapngReader::read_file(path);
  ASSERT_TRUE(f) << f.error().message;
  ASSERT_EQ(f->packets.size(), 1u);
}

// A tmpfs of its own, 1 MiB, mounted for one test and unmounted after it, pass or fail.
class SmallTmpfs {
 public:
  SmallTmpfs() : tmpfs_(dir_.file("small"), "size=1m") {}
  const std::string& why_not() const { return tmpfs_.error(); }
  std::string file(const std::string& name) const { return tmpfs_.file(name); }

 private:
  TempDir dir_;  // before tmpfs_: made first, removed after the unmount
  test::ScopedTmpfs tmpfs_;
};

// A full tmpfs must be an error value naming the file (for a mapping: not SIGBUS), sticky, and
// the file must end on a block boundary: every block before the failed write, nothing of it or
// after it.
class FullFileSystemTest : public ::testing::TestWithParam<FileIo> {};

TEST_P(FullFileSystemTest, IsAStickyErrorAndTheFileEndsOnABlock) {
  SmallTmpfs tmpfs;
  if (!tmpfs.why_not().empty()) GTEST_SKIP() << tmpfs.why_not();
  const std::string path = tmpfs.file("full.pcapng");
  auto w = PcapngWriter::open(path, {}, {{.name = "eth0"}}, GetParam());
  ASSERT_TRUE(w) << w.error().message;
  ASSERT_EQ(w->mapped(), GetParam() == FileIo::map);
  EpbBuffer buf(0, 64 * 1024);
  const auto frame = pattern(1500, 3);
  uint32_t frames_ok = 0;
  Status st;
  for (int chunk = 0; chunk < 64 && st; ++chunk) {  // 64 x ~60 KiB: well past 1 MiB
    buf.clear();
    uint32_t n = 0;
    while (buf.append(n, frame.data(), 1500, 1500)) ++n;
    st = w->write_chunk(buf.bytes());
    if (st) frames_ok += n;
  }
  ASSERT_FALSE(st) << "1 MiB of tmpfs cannot hold 4 MiB";
  EXPECT_EQ(st.error().code, std::errc::no_space_on_device);
  EXPECT_NE(st.error().message.find("output file '" + path + "'"), std::string::npos)
      << st.error().message;
  const Status again = w->write_chunk(buf.bytes());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message, st.error().message);
  EXPECT_FALSE(w->close()) << "close reports the first error";

  auto f = PcapngReader::read_file(path);
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->packets.size(), frames_ok);
  EXPECT_GT(frames_ok, 0u);
}

INSTANTIATE_TEST_SUITE_P(FileIo, FullFileSystemTest, ::testing::Values(FileIo::write, FileIo::map),
                         [](const auto& info) { return std::string(to_string(info.param)); });

// ---------------------------------------------------------------------------------------------
// PcapngReader on malformed and foreign input

class PcapngReaderTest : public PcapngTest {
 protected:
  // A small valid file: SHB, one IDB, three EPBs, and the offsets of the EPBs.
  std::vector<std::byte> small_file(std::vector<std::size_t>* epb_offsets) {
    const std::string path = dir_.file("small.pcapng");
    auto w = PcapngWriter::open(path, {}, {{.name = "eth0"}});
    EXPECT_TRUE(w);
    EpbBuffer buf(0, 4096);
    std::size_t at = w->bytes_written();
    for (uint32_t n : {10u, 60u, 3u}) {
      const auto frame = pattern(n, n);
      EXPECT_TRUE(buf.append(n, frame.data(), n, n));
      epb_offsets->push_back(at);
      at += EpbBuffer::block_size(n);
    }
    EXPECT_TRUE(w->write_chunk(buf.bytes()));
    EXPECT_TRUE(w->close());
    return read_all(path);
  }
};

TEST_F(PcapngReaderTest, AcceptsTheSmallFile) {
  std::vector<std::size_t> epbs;
  const auto bytes = small_file(&epbs);
  auto f = PcapngReader::read_bytes(bytes);
  ASSERT_TRUE(f) << f.error().message;
  ASSERT_EQ(f->packets.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(f->packets[i].block_offset, epbs[i]);
}

TEST_F(PcapngReaderTest, RejectsTruncatedFileWithOffset) {
  std::vector<std::size_t> epbs;
  auto bytes = small_file(&epbs);
  bytes.resize(bytes.size() - 6);
  auto f = PcapngReader::read_bytes(bytes, "cut.pcapng");
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().message,
            "cut.pcapng: offset " + std::to_string(epbs[2]) +
                ": block total length 36 runs past the end (30 bytes left): truncated");

  // Cut inside a block header.
  bytes.resize(epbs[2] + 5);
  auto g = PcapngReader::read_bytes(bytes, "cut.pcapng");
  ASSERT_FALSE(g);
  EXPECT_NE(g.error().message.find("offset " + std::to_string(epbs[2]) + ": truncated block"),
            std::string::npos)
      << g.error().message;
}

TEST_F(PcapngReaderTest, RejectsTrailingLengthMismatchWithOffset) {
  std::vector<std::size_t> epbs;
  auto bytes = small_file(&epbs);
  const uint32_t total = load_u32(bytes, epbs[1] + 4);
  store_u32(bytes, epbs[1] + total - 4, total + 4);
  auto f = PcapngReader::read_bytes(bytes, "bad.pcapng");
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().message, "bad.pcapng: offset " + std::to_string(epbs[1]) +
                                   ": trailing block total length " + std::to_string(total + 4) +
                                   " differs from the leading " + std::to_string(total));
  EXPECT_EQ(f.error().code, std::errc::bad_message);
}

TEST_F(PcapngReaderTest, RejectsBadLengthsAndCapturedLength) {
  std::vector<std::size_t> epbs;
  const auto good = small_file(&epbs);

  auto odd = good;
  store_u32(odd, epbs[0] + 4, 41);
  auto f = PcapngReader::read_bytes(odd);
  ASSERT_FALSE(f);
  EXPECT_NE(f.error().message.find("offset " + std::to_string(epbs[0]) +
                                   ": block total length 41 is not a multiple of 4"),
            std::string::npos)
      << f.error().message;

  auto caplen = good;
  store_u32(caplen, epbs[0] + 20, 1000);
  auto g = PcapngReader::read_bytes(caplen);
  ASSERT_FALSE(g);
  EXPECT_NE(g.error().message.find("offset " + std::to_string(epbs[0]) + ": captured length 1000"),
            std::string::npos)
      << g.error().message;

  auto bad_if = good;
  store_u32(bad_if, epbs[0] + 8, 3);
  auto h = PcapngReader::read_bytes(bad_if);
  ASSERT_FALSE(h);
  EXPECT_NE(h.error().message.find("interface id 3"), std::string::npos) << h.error().message;
}

TEST_F(PcapngReaderTest, RejectsNonPcapngAndMissingFile) {
  const auto text = Bytes().text("this is not a capture file").pad().get();
  auto f = PcapngReader::read_bytes(text, "notes.txt");
  ASSERT_FALSE(f);
  EXPECT_NE(f.error().message.find("notes.txt: offset 0: not pcapng"), std::string::npos)
      << f.error().message;
  auto g = PcapngReader::read_bytes({}, "empty");
  ASSERT_FALSE(g);
  auto h = PcapngReader::read_file(dir_.file("missing.pcapng"));
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().message,
            "pcapng file '" + dir_.file("missing.pcapng") + "': No such file or directory");
}

// A section from a big-endian writer, with microsecond timestamps (no if_tsresol), a Simple
// Packet Block, and a block type we do not know: SHB, IDB "e0" (snap length 8), EPB (1.5 s, 3 of
// 9 bytes), SPB (12 bytes cut to 8), unknown 0x0BAD, ISB (2 s, isb_ifrecv 5).
std::vector<std::byte> big_endian_section() {
  // clang-format off
  return Bytes()
               // SHB, big-endian, shb_userappl "be"
               .be32(0x0A0D0D0A).be32(36)
               .be32(0x1A2B3C4D).be16(1).be16(0).be32(0xFFFFFFFF).be32(0xFFFFFFFF)
               .be16(4).be16(2).text("be").pad()
               .be32(36)
               // IDB: link type 1, snap len 8, if_name "e0", no tsresol
               .be32(1).be32(28)
               .be16(1).be16(0).be32(8)
               .be16(2).be16(2).text("e0").pad()
               .be32(28)
               // EPB: 1.5 s in microseconds, captured 3 of 9, then isb-free
               .be32(6).be32(36)
               .be32(0).be32(0).be32(1'500'000).be32(3).be32(9)
               .u8(1).u8(2).u8(3).pad()
               .be32(36)
               // SPB: original 12, cut to the snap length 8
               .be32(3).be32(28)
               .be32(12)
               .u8(10).u8(11).u8(12).u8(13).u8(14).u8(15)
               .u8(16).u8(17).u8(18).u8(19).u8(20).u8(21)
               .be32(28)
               // an unknown block
               .be32(0x0BAD).be32(16).be32(0).be32(16)
               // ISB with isb_ifrecv = 5
               .be32(5).be32(36)
               .be32(0).be32(0).be32(2'000'000)
               .be16(4).be16(8).be32(0).be32(5)
               .be32(36)
               .get();
  // clang-format on
}

TEST(PcapngReaderForeignTest, ReadsByteSwappedSectionSimplePacketsAndUnknownBlocks) {
  auto f = PcapngReader::read_bytes(big_endian_section());
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_TRUE(f->shb.swapped);
  EXPECT_EQ(f->shb.user_appl, "be");
  EXPECT_EQ(f->shb.section_length, -1);
  ASSERT_EQ(f->interfaces.size(), 1u);
  EXPECT_EQ(f->interfaces[0].name, "e0");
  EXPECT_FALSE(f->interfaces[0].has_tsresol);
  EXPECT_EQ(f->interfaces[0].tsresol, 6);
  ASSERT_EQ(f->packets.size(), 2u);
  EXPECT_EQ(f->packets[0].timestamp_ns, 1'500'000'000u);
  EXPECT_EQ(f->packets[0].captured_len, 3u);
  EXPECT_EQ(f->packets[0].original_len, 9u);
  EXPECT_EQ(f->packets[0].data, (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_EQ(f->packets[1].block_type, pcapng::kBlockSimplePacket);
  EXPECT_EQ(f->packets[1].original_len, 12u);
  EXPECT_EQ(f->packets[1].captured_len, 8u);
  EXPECT_EQ(f->packets[1].data, (std::vector<uint8_t>{10, 11, 12, 13, 14, 15, 16, 17}));
  EXPECT_EQ(f->unknown_block_types, std::vector<uint32_t>{0x0BAD});
  ASSERT_EQ(f->stats.size(), 1u);
  EXPECT_EQ(f->stats[0].timestamp_ns, 2'000'000'000u);
  EXPECT_EQ(f->stats[0].if_recv, std::optional<uint64_t>(5));
  EXPECT_FALSE(f->stats[0].if_drop.has_value());
}

TEST(PcapngReaderForeignTest, ConvertsEveryTimestampResolution) {
  EXPECT_EQ(PcapngReader::to_ns(123, 9), 123u);
  EXPECT_EQ(PcapngReader::to_ns(123, 6), 123'000u);
  EXPECT_EQ(PcapngReader::to_ns(123, 0), 123'000'000'000u);
  EXPECT_EQ(PcapngReader::to_ns(123'456, 12), 123u);
  EXPECT_EQ(PcapngReader::to_ns(1024, 0x80 | 10), 1'000'000'000u);  // 2^-10 s units
  EXPECT_EQ(PcapngReader::to_ns(uint64_t{3} << 32, 0x80 | 32), 3'000'000'000u);
  EXPECT_EQ(PcapngReader::to_ns(5, 40), 0u);
}

// ---------------------------------------------------------------------------------------------
// PcapngReader on files of several sections (`cat a.pcapng b.pcapng`)

TEST_F(PcapngTest, ReadsConcatenatedFilesSectionBySection) {
  auto a = write_sample(dir_.file("a.pcapng"));
  ASSERT_TRUE(a) << a.error().message;
  auto b = write_second(dir_.file("b.pcapng"));
  ASSERT_TRUE(b) << b.error().message;
  const auto bytes = concat({read_all(dir_.file("a.pcapng")), read_all(dir_.file("b.pcapng"))});
  auto f = PcapngReader::read_bytes(bytes, "a+b");
  ASSERT_TRUE(f) << f.error().message;

  ASSERT_EQ(f->sections.size(), 2u);
  EXPECT_EQ(f->shb.user_appl, a->section.user_appl) << "shb stays the first section's";
  EXPECT_EQ(f->sections[0].user_appl, a->section.user_appl);
  EXPECT_EQ(f->sections[0].block_offset, 0u);
  EXPECT_EQ(f->sections[0].first_interface, 0u);
  EXPECT_EQ(f->sections[0].interface_count, 3u);
  EXPECT_EQ(f->sections[1].user_appl, "second");
  EXPECT_EQ(f->sections[1].block_offset, a->bytes_written);
  EXPECT_EQ(f->sections[1].first_interface, 3u);
  EXPECT_EQ(f->sections[1].interface_count, 2u);

  ASSERT_EQ(f->interfaces.size(), 5u);
  const std::vector<std::string> names = {"eth0", "eth1", "veth-c", "b0", "b1"};
  for (uint32_t i = 0; i < 5; ++i) {
    EXPECT_EQ(f->interfaces[i].name, names[i]);
    EXPECT_EQ(f->interfaces[i].section, i < 3 ? 0u : 1u);
  }

  // Every packet in its section, with its id as written and its index in `interfaces`.
  ASSERT_EQ(f->packets.size(), a->frames.size() + b->frames.size());
  for (std::size_t i = 0; i < f->packets.size(); ++i) {
    SCOPED_TRACE("packet " + std::to_string(i));
    const bool first = i < a->frames.size();
    const ExpectedFrame& want = first ? a->frames[i] : b->frames[i - a->frames.size()];
    const PcapngPacket& got = f->packets[i];
    EXPECT_EQ(got.section, first ? 0u : 1u);
    EXPECT_EQ(got.interface_id, want.interface_id);
    EXPECT_EQ(got.interface_index, want.interface_id + (first ? 0u : 3u));
    EXPECT_EQ(f->interfaces[got.interface_index].section, got.section);
    EXPECT_EQ(got.timestamp_ns, want.timestamp_ns);
    EXPECT_EQ(got.original_len, want.original_len);
    EXPECT_EQ(got.data, want.data);
    if (!first) {
      EXPECT_GE(got.block_offset, a->bytes_written);
    }
  }

  ASSERT_EQ(f->stats.size(), 4u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(f->stats[i].section, 0u);
    EXPECT_EQ(f->stats[i].interface_index, i);
  }
  EXPECT_EQ(f->stats[3].section, 1u);
  EXPECT_EQ(f->stats[3].interface_id, 1u);
  EXPECT_EQ(f->stats[3].interface_index, 4u);
  EXPECT_EQ(f->stats[3].if_recv, std::optional<uint64_t>(7));
}

TEST_F(PcapngTest, ReadsSectionsOfEitherByteOrderInOneFile) {
  auto b = write_second(dir_.file("b.pcapng"));
  ASSERT_TRUE(b) << b.error().message;
  const auto little = read_all(dir_.file("b.pcapng"));
  const auto big = big_endian_section();
  // Little-endian, big-endian, little-endian again: each SHB sets the order of what follows.
  const auto bytes = concat({little, big, little});
  auto f = PcapngReader::read_bytes(bytes);
  ASSERT_TRUE(f) << f.error().message;

  ASSERT_EQ(f->sections.size(), 3u);
  EXPECT_FALSE(f->sections[0].swapped);
  EXPECT_TRUE(f->sections[1].swapped);
  EXPECT_FALSE(f->sections[2].swapped);
  EXPECT_EQ(f->sections[1].user_appl, "be");
  EXPECT_EQ(f->sections[1].block_offset, little.size());
  EXPECT_EQ(f->sections[2].block_offset, little.size() + big.size());
  ASSERT_EQ(f->interfaces.size(), 5u);
  EXPECT_EQ(f->interfaces[2].name, "e0");
  EXPECT_EQ(f->interfaces[2].snap_len, 8u);
  EXPECT_EQ(f->sections[2].first_interface, 3u);

  const std::size_t n = b->frames.size();
  ASSERT_EQ(f->packets.size(), 2 * n + 2);
  for (std::size_t i = 0; i < f->packets.size(); ++i) {
    SCOPED_TRACE("packet " + std::to_string(i));
    const PcapngPacket& got = f->packets[i];
    if (i == n || i == n + 1) {
      EXPECT_EQ(got.section, 1u);
      EXPECT_EQ(got.interface_id, 0u);
      EXPECT_EQ(got.interface_index, 2u);
      continue;
    }
    const uint32_t section = i < n ? 0 : 2;
    const ExpectedFrame& want = b->frames[i < n ? i : i - n - 2];
    EXPECT_EQ(got.section, section);
    EXPECT_EQ(got.interface_id, want.interface_id);
    EXPECT_EQ(got.interface_index, f->sections[section].first_interface + want.interface_id);
    EXPECT_EQ(got.timestamp_ns, want.timestamp_ns);
    EXPECT_EQ(got.data, want.data);
  }
  // The big-endian section's blocks read in its own order, its SPB cut to its own interface's
  // snap length (8; the little-endian interfaces have 262144).
  EXPECT_EQ(f->packets[n].timestamp_ns, 1'500'000'000u);
  EXPECT_EQ(f->packets[n].data, (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_EQ(f->packets[n + 1].block_type, pcapng::kBlockSimplePacket);
  EXPECT_EQ(f->packets[n + 1].data, (std::vector<uint8_t>{10, 11, 12, 13, 14, 15, 16, 17}));

  ASSERT_EQ(f->stats.size(), 3u);
  EXPECT_EQ(f->stats[0].interface_index, 1u);
  EXPECT_EQ(f->stats[1].section, 1u);
  EXPECT_EQ(f->stats[1].interface_index, 2u);
  EXPECT_EQ(f->stats[1].if_recv, std::optional<uint64_t>(5));
  EXPECT_EQ(f->stats[2].section, 2u);
  EXPECT_EQ(f->stats[2].interface_index, 4u);
  EXPECT_EQ(f->unknown_block_types, std::vector<uint32_t>{0x0BAD});
}

TEST_F(PcapngReaderTest, InterfaceIdsRestartInEachSection) {
  auto b = write_second(dir_.file("b.pcapng"));
  ASSERT_TRUE(b) << b.error().message;
  const auto first = read_all(dir_.file("b.pcapng"));  // two interfaces
  std::vector<std::size_t> epbs;
  auto second = small_file(&epbs);  // one interface
  // Interface 1 exists in the first section, not in the second.
  store_u32(second, epbs[0] + 8, 1);
  auto f = PcapngReader::read_bytes(concat({first, second}), "ids");
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().message, "ids: offset " + std::to_string(first.size() + epbs[0]) +
                                   ": interface id 1 but section 1 has only 1 interface(s) "
                                   "described so far");
}

TEST_F(PcapngReaderTest, RejectsABadSecondSectionHeader) {
  std::vector<std::size_t> epbs;
  const auto one = small_file(&epbs);
  auto two = concat({one, one});
  store_u32(two, one.size() + 8, 0x12345678);  // the second SHB's byte-order magic
  auto f = PcapngReader::read_bytes(two, "two");
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().message,
            "two: offset " + std::to_string(one.size()) + ": bad byte-order magic 0x12345678");
}

// ---------------------------------------------------------------------------------------------
// Cross-checks with the tools people will open our files with.

using test::CommandOutput;
using test::find_on_path;
using test::run_command;

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::string part;
  std::stringstream in(s);
  while (std::getline(in, part, sep)) parts.push_back(part);
  return parts;
}

std::string seconds_dot_nanos(uint64_t ns) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%llu.%09llu",
                static_cast<unsigned long long>(ns / 1'000'000'000),
                static_cast<unsigned long long>(ns % 1'000'000'000));
  return buf;
}

TEST_F(PcapngTest, CapinfosCountsFramesAndInterfaces) {
  const auto capinfos = find_on_path("capinfos");
  if (!capinfos) GTEST_SKIP() << "capinfos not on PATH (Debian package wireshark-common)";
  const std::string path = dir_.file("capinfos.pcapng");
  auto sample = write_sample(path);
  ASSERT_TRUE(sample) << sample.error().message;

  const auto r = run_command(*capinfos + " -M -c " + path + " 2>&1");
  ASSERT_EQ(r.status, 0) << r.out;
  const std::string want = "Number of packets:   " + std::to_string(sample->frames.size());
  EXPECT_NE(r.out.find(want + "\n"), std::string::npos) << "expected '" << want << "' in:\n"
                                                        << r.out;

  // The full report: section options, then every IDB with its options, its ISB count and its
  // packet count (comment markers included: they are EPBs).
  const auto full = run_command(*capinfos + " -M " + path + " 2>&1");
  ASSERT_EQ(full.status, 0) << full.out;
  for (const std::string& needle : {std::string("File timestamp precision:  nanoseconds (9)"),
                                    "Capture hardware:    " + sample->section.hardware,
                                    "Capture oper-sys:    " + sample->section.os,
                                    "Capture application: " + sample->section.user_appl,
                                    "Capture comment:     " + sample->section.comment,
                                    std::string("Number of interfaces in file: 3")}) {
    EXPECT_NE(full.out.find(needle + "\n"), std::string::npos) << "missing '" << needle << "' in:\n"
                                                               << full.out;
  }
  std::vector<std::size_t> per_interface(sample->interfaces.size(), 0);
  for (const auto& f : sample->frames) ++per_interface[f.interface_id];
  for (std::size_t i = 0; i < sample->interfaces.size(); ++i) {
    SCOPED_TRACE("interface " + std::to_string(i));
    const std::size_t from = full.out.find("Interface #" + std::to_string(i) + " info:");
    ASSERT_NE(from, std::string::npos) << full.out;
    const std::size_t to = full.out.find("Interface #" + std::to_string(i + 1) + " info:");
    const std::string block = full.out.substr(from, to == std::string::npos ? to : to - from);
    const InterfaceInfo& itf = sample->interfaces[i];
    std::vector<std::string> needles = {
        "Name = " + itf.name,
        "Encapsulation = Ethernet (1 - ether)",
        "Capture length = " + std::to_string(itf.snap_len),
        "Time precision = nanoseconds (9)",
        "Number of stat entries = 1",
        "Number of packets = " + std::to_string(per_interface[i]),
    };
    if (!itf.description.empty()) needles.push_back("Description = " + itf.description);
    if (!itf.filter.empty()) needles.push_back("Filter string = " + itf.filter);
    if (!itf.os.empty()) needles.push_back("Operating system = " + itf.os);
    for (const auto& needle : needles) {
      EXPECT_NE(block.find(needle + "\n"), std::string::npos) << "missing '" << needle << "' in:\n"
                                                              << block;
    }
  }
}

TEST_F(PcapngTest, TsharkSeesEveryFrameAndTheComment) {
  const auto tshark = find_on_path("tshark");
  if (!tshark) GTEST_SKIP() << "tshark not on PATH (Debian package tshark)";
  const std::string path = dir_.file("tshark.pcapng");
  auto sample = write_sample(path);
  ASSERT_TRUE(sample) << sample.error().message;

  const std::string err = dir_.file("tshark.err");
  const auto r = run_command(*tshark + " -r " + path +
                             " -T fields -E separator=/t -E occurrence=f -e frame.len"
                             " -e frame.cap_len -e frame.interface_name -e frame.time_epoch"
                             " -e frame.comment 2>" +
                             err);
  ASSERT_EQ(r.status, 0) << r.out;
  const auto lines = split(r.out, '\n');
  ASSERT_EQ(lines.size(), sample->frames.size()) << r.out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    SCOPED_TRACE("frame " + std::to_string(i + 1) + ": " + lines[i]);
    const auto& want = sample->frames[i];
    auto fields = split(lines[i], '\t');
    fields.resize(5);
    EXPECT_EQ(fields[0], std::to_string(want.original_len));
    EXPECT_EQ(fields[1], std::to_string(want.data.size()));
    EXPECT_EQ(fields[2], sample->interfaces[want.interface_id].name);
    EXPECT_EQ(fields[3], seconds_dot_nanos(want.timestamp_ns));
    EXPECT_EQ(fields[4], want.comment);
  }
}

TEST_F(PcapngTest, LibpcapReadsFramesWithNanosecondTimestamps) {
#ifndef XESP_HAVE_LIBPCAP
  GTEST_SKIP() << "built without libpcap";
#else
  const std::string path = dir_.file("libpcap.pcapng");
  auto sample = write_sample(path, 262144);
  ASSERT_TRUE(sample) << sample.error().message;

  char errbuf[PCAP_ERRBUF_SIZE] = {};
  pcap_t* pcap =
      pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, errbuf);
  ASSERT_NE(pcap, nullptr) << errbuf;
  EXPECT_EQ(pcap_datalink(pcap), DLT_EN10MB);
  std::size_t i = 0;
  pcap_pkthdr* hdr = nullptr;
  const u_char* data = nullptr;
  int rc;
  while ((rc = pcap_next_ex(pcap, &hdr, &data)) == 1) {
    ASSERT_LT(i, sample->frames.size());
    SCOPED_TRACE("frame " + std::to_string(i));
    const auto& want = sample->frames[i];
    EXPECT_EQ(hdr->caplen, want.data.size());
    EXPECT_EQ(hdr->len, want.original_len);
    EXPECT_EQ(static_cast<uint64_t>(hdr->ts.tv_sec), want.timestamp_ns / 1'000'000'000);
    EXPECT_EQ(static_cast<uint64_t>(hdr->ts.tv_usec), want.timestamp_ns % 1'000'000'000)
        << "tv_usec holds nanoseconds at PCAP_TSTAMP_PRECISION_NANO";
    EXPECT_TRUE(std::equal(want.data.begin(), want.data.end(), data));
    ++i;
  }
  const std::string last_error = pcap_geterr(pcap);
  pcap_close(pcap);
  EXPECT_EQ(rc, PCAP_ERROR_BREAK) << last_error;
  EXPECT_EQ(i, sample->frames.size());
#endif
}

// libpcap, like our reader, reads a concatenation as one capture: every frame of both files in
// order (its one requirement: every IDB with the first one's link type and snap length).
TEST_F(PcapngTest, LibpcapReadsConcatenatedFiles) {
#ifndef XESP_HAVE_LIBPCAP
  GTEST_SKIP() << "built without libpcap";
#else
  auto a = write_sample(dir_.file("a.pcapng"), 262144);
  ASSERT_TRUE(a) << a.error().message;
  auto b = write_second(dir_.file("b.pcapng"), 262144);
  ASSERT_TRUE(b) << b.error().message;
  const std::string path = dir_.file("a+b.pcapng");
  {
    const auto bytes = concat({read_all(dir_.file("a.pcapng")), read_all(dir_.file("b.pcapng"))});
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
  }
  auto ours = PcapngReader::read_file(path);
  ASSERT_TRUE(ours) << ours.error().message;
  ASSERT_EQ(ours->packets.size(), a->frames.size() + b->frames.size());

  char errbuf[PCAP_ERRBUF_SIZE] = {};
  pcap_t* pcap =
      pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, errbuf);
  ASSERT_NE(pcap, nullptr) << errbuf;
  std::size_t i = 0;
  pcap_pkthdr* hdr = nullptr;
  const u_char* data = nullptr;
  int rc;
  while ((rc = pcap_next_ex(pcap, &hdr, &data)) == 1) {
    ASSERT_LT(i, ours->packets.size());
    SCOPED_TRACE("frame " + std::to_string(i));
    const PcapngPacket& want = ours->packets[i];
    EXPECT_EQ(hdr->caplen, want.captured_len);
    EXPECT_EQ(hdr->len, want.original_len);
    EXPECT_EQ(static_cast<uint64_t>(hdr->ts.tv_sec) * 1'000'000'000 +
                  static_cast<uint64_t>(hdr->ts.tv_usec),
              want.timestamp_ns);
    EXPECT_TRUE(std::equal(want.data.begin(), want.data.end(), data));
    ++i;
  }
  const std::string last_error = pcap_geterr(pcap);
  pcap_close(pcap);
  EXPECT_EQ(rc, PCAP_ERROR_BREAK) << last_error;
  EXPECT_EQ(i, ours->packets.size());
#endif
}

}  // namespace
}  // namespace xesp
