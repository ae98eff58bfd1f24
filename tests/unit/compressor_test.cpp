// BlockCompressor and the compression names: units decoded by each library's own streaming
// decoder (zstd, lz4 frame, zlib), and capture files of units read by tshark, capinfos, our
// pcapng reader and libpcap.
#include <gtest/gtest.h>
#include <lz4frame.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#ifdef XESP_HAVE_LIBPCAP
#include <pcap/pcap.h>
#endif

#include "support/tools.hpp"
#include "output/block_compressor.hpp"
#include "output/compression.hpp"
#include "pcapng/epb_vector.hpp"
#include "pcapng/pcapng_reader.hpp"
#include "pcapng/pcapng_writer.hpp"

namespace xesp::output {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<std::byte>;

constexpr Compression kCodecs[] = {Compression::zstd, Compression::lz4, Compression::gzip};

// ---------------------------------------------------------------------------------------------
// Inputs

// xorshift64*: the same bytes on every run.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ULL + 1) {}
  uint64_t next() {
    s_ ^= s_ >> 12;
    s_ ^= s_ << 25;
    s_ ^= s_ >> 27;
    return s_ * 0x2545F4914F6CDD1DULL;
  }
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }

 private:
  uint64_t s_;
};

// Runs of zeros, of 4- and 8-byte patterns, random bytes and copies of earlier bytes: what
// makes the codecs use short repeat offsets (zstd's 1, 4, 8 among them) right at a unit's start.
Bytes patterned(std::size_t n, uint64_t seed) {
  Rng rng(seed);
  Bytes out;
  out.reserve(n);
  while (out.size() < n) {
    const std::size_t len = std::min<std::size_t>(1 + rng.below(300), n - out.size());
    const std::size_t kind = rng.below(5);
    const uint64_t word = rng.next();
    for (std::size_t i = 0; i < len; ++i) {
      std::byte b{0};
      if (kind == 1) b = static_cast<std::byte>(word >> (8 * (i % 4)));
      if (kind == 2) b = static_cast<std::byte>(word >> (8 * (i % 8)));
      if (kind == 3) b = static_cast<std::byte>(rng.next());
      if (kind == 4 && out.size() > 1000) b = out[out.size() - 1000];
      out.push_back(b);
    }
  }
  return out;
}

Bytes random_bytes(std::size_t n, uint64_t seed) {
  Rng rng(seed);
  Bytes out(n);
  for (auto& b : out) b = static_cast<std::byte>(rng.next());
  return out;
}

// Pieces over `data`, cut at the given lengths (0 allowed); the rest of data is not covered.
std::vector<iovec> cut(Bytes& data, const std::vector<std::size_t>& lengths) {
  std::vector<iovec> pieces;
  std::size_t at = 0;
  for (std::size_t len : lengths) {
    pieces.push_back({data.data() + at, len});
    at += len;
  }
  return pieces;
}

Bytes joined(std::span<const iovec> pieces) {
  Bytes out;
  for (const iovec& p : pieces) {
    const auto* b = static_cast<const std::byte*>(p.iov_base);
    out.insert(out.end(), b, b + p.iov_len);
  }
  return out;
}

void append(Bytes& to, std::span<const std::byte> bytes) {
  to.insert(to.end(), bytes.begin(), bytes.end());
}

// ---------------------------------------------------------------------------------------------
// The libraries' own streaming decoders, fed the whole file.

struct Decoded {
  std::string error;  // empty: the input was whole and valid
  Bytes data;         // what came out before the end or the error
  int frames = 0;     // zstd/lz4 frames or gzip members that ended
};

Decoded decode_zstd(std::span<const std::byte> in) {
  Decoded d;
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  ZSTD_inBuffer src{in.data(), in.size(), 0};
  std::vector<std::byte> chunk(1 << 17);
  bool open = false;  // inside a frame, after the last call that took or gave bytes
  for (;;) {
    ZSTD_outBuffer dst{chunk.data(), chunk.size(), 0};
    const std::size_t before = src.pos;
    const std::size_t r = ZSTD_decompressStream(dctx.get(), &dst, &src);
    if (ZSTD_isError(r)) {
      d.error = ZSTD_getErrorName(r);
      return d;
    }
    if (src.pos == before && dst.pos == 0) break;
    d.data.insert(d.data.end(), chunk.begin(), chunk.begin() + dst.pos);
    open = r != 0;
    if (r == 0) ++d.frames;
  }
  if (open) d.error = "truncated zstd frame";
  return d;
}

Decoded decode_lz4(std::span<const std::byte> in) {
  Decoded d;
  LZ4F_dctx* raw = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&raw, LZ4F_VERSION))) {
    d.error = "no lz4 context";
    return d;
  }
  std::unique_ptr<LZ4F_dctx, decltype(&LZ4F_freeDecompressionContext)> dctx(
      raw, LZ4F_freeDecompressionContext);
  std::vector<std::byte> chunk(1 << 17);
  std::size_t at = 0;
  bool open = false;  // inside a frame, after the last call that took or gave bytes
  for (;;) {
    std::size_t in_size = in.size() - at;
    std::size_t out_size = chunk.size();
    const std::size_t r =
        LZ4F_decompress(dctx.get(), chunk.data(), &out_size, in.data() + at, &in_size, nullptr);
    if (LZ4F_isError(r)) {
      d.error = LZ4F_getErrorName(r);
      return d;
    }
    if (in_size == 0 && out_size == 0) break;
    at += in_size;
    d.data.insert(d.data.end(), chunk.begin(), chunk.begin() + out_size);
    open = r != 0;
    if (r == 0) ++d.frames;
  }
  if (open) d.error = "truncated lz4 frame";
  return d;
}

Decoded decode_gzip(std::span<const std::byte> in) {
  Decoded d;
  z_stream strm{};
  if (inflateInit2(&strm, 15 + 16) != Z_OK) {
    d.error = "no zlib stream";
    return d;
  }
  std::vector<std::byte> chunk(1 << 17);
  strm.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data()));
  strm.avail_in = static_cast<uInt>(in.size());
  int r = Z_OK;
  while (strm.avail_in != 0) {
    strm.next_out = reinterpret_cast<Bytef*>(chunk.data());
    strm.avail_out = static_cast<uInt>(chunk.size());
    r = inflate(&strm, Z_NO_FLUSH);
    d.data.insert(d.data.end(), chunk.begin(), chunk.end() - strm.avail_out);
    if (r == Z_STREAM_END) {
      ++d.frames;
      if (strm.avail_in != 0) inflateReset(&strm);  // the next member
    } else if (r != Z_OK) {
      d.error = strm.msg != nullptr ? strm.msg : "inflate error " + std::to_string(r);
      break;
    }
  }
  if (d.error.empty() && r != Z_STREAM_END) d.error = "truncated gzip member";
  inflateEnd(&strm);
  return d;
}

Decoded decode(Compression c, std::span<const std::byte> in) {
  switch (c) {
    case Compression::zstd:
      return decode_zstd(in);
    case Compression::lz4:
      return decode_lz4(in);
    case Compression::gzip:
      return decode_gzip(in);
    case Compression::none:
      break;
  }
  return {"no codec", Bytes(in.begin(), in.end()), 0};
}

// Builds a compressed file as the output layer will: header, units, trailer, and what it must
// decompress to.
class FileOfUnits {
 public:
  explicit FileOfUnits(Compression c) : c_(c) { append(file_, BlockCompressor::stream_header(c)); }

  // Adds a unit made from `pieces` by `compressor`; the unit's bytes are appended at once.
  ::testing::AssertionResult add(BlockCompressor& compressor, std::span<const iovec> pieces) {
    auto unit = compressor.compress(pieces);
    if (!unit) return ::testing::AssertionFailure() << unit.error().message;
    add_unit(*unit, joined(pieces));
    return ::testing::AssertionSuccess();
  }
  // A unit made elsewhere, and the input it was made of.
  void add_unit(std::span<const std::byte> unit, const Bytes& input) {
    append(file_, unit);
    append(expected_, input);
    if (!input.empty()) append(expected_, BlockCompressor::unit_suffix(c_));
    if (!input.empty()) ++units_;
  }
  const Bytes& finish() {
    append(file_, BlockCompressor::stream_trailer(c_));
    return file_;
  }
  const Bytes& file() const { return file_; }
  const Bytes& expected() const { return expected_; }
  int units() const { return units_; }

 private:
  Compression c_;
  Bytes file_;
  Bytes expected_;
  int units_ = 0;
};

std::string codec_name(const ::testing::TestParamInfo<Compression>& info) {
  return to_string(info.param);
}

}  // namespace

// gtest prints a parameter with this ("GetParam() = zstd").
void PrintTo(Compression c, std::ostream* os) { *os << to_string(c); }

namespace {

// ---------------------------------------------------------------------------------------------
// Round trips

class CompressorRoundTrip : public ::testing::TestWithParam<Compression> {};

TEST_P(CompressorRoundTrip, UnitsOfEveryShapeDecodeToTheirConcatenation) {
  auto compressor = BlockCompressor::create(GetParam());
  ASSERT_TRUE(compressor) << compressor.error().message;
  EXPECT_EQ(compressor->kind(), GetParam());
  FileOfUnits file(GetParam());

  // Nothing in, nothing out: an empty list, and pieces of 0 bytes.
  Bytes none;
  for (const auto& pieces : {std::vector<iovec>{}, cut(none, {0, 0, 0})}) {
    auto unit = compressor->compress(pieces);
    ASSERT_TRUE(unit) << unit.error().message;
    EXPECT_TRUE(unit->empty());
  }

  Bytes large = patterned(3 << 20, 1);
  ASSERT_TRUE(file.add(*compressor, cut(large, {large.size()})));

  // Many small pieces, with empty ones among them.
  Bytes small = patterned(100'000, 2);
  std::vector<std::size_t> lengths;
  Rng rng(3);
  for (std::size_t used = 0; used < small.size();) {
    const std::size_t len = std::min<std::size_t>(rng.below(65), small.size() - used);
    lengths.push_back(len);
    used += len;
  }
  ASSERT_GT(lengths.size(), 2000u);
  ASSERT_TRUE(file.add(*compressor, cut(small, lengths)));

  Bytes one = {std::byte{0x42}};
  ASSERT_TRUE(file.add(*compressor, cut(one, {0, 1, 0})));

  // Incompressible: the unit comes out larger than its input, within the codec's bound.
  Bytes noise = random_bytes(1 << 20, 4);
  ASSERT_TRUE(file.add(*compressor, cut(noise, {100, noise.size() - 100})));

  const Decoded d = decode(GetParam(), file.finish());
  EXPECT_EQ(d.error, "");
  EXPECT_TRUE(d.data == file.expected())
      << "decoded " << d.data.size() << " bytes, expected " << file.expected().size();
}

// One compressor, hundreds of units: every unit boundary is one where the next unit must not
// depend on what the previous one left in the codec.
TEST_P(CompressorRoundTrip, OneCompressorMakesManyUnits) {
  auto compressor = BlockCompressor::create(GetParam());
  ASSERT_TRUE(compressor) << compressor.error().message;
  FileOfUnits file(GetParam());
  Rng rng(5);
  for (int i = 0; i < 300; ++i) {
    Bytes data = patterned(1 + rng.below(20'000), 100 + i);
    const std::size_t half = rng.below(data.size());
    ASSERT_TRUE(file.add(*compressor, cut(data, {half, data.size() - half}))) << "unit " << i;
  }
  const Decoded d = decode(GetParam(), file.finish());
  EXPECT_EQ(d.error, "");
  EXPECT_TRUE(d.data == file.expected());
  // zstd and lz4 files are one frame; gzip files a member per unit.
  EXPECT_EQ(d.frames, GetParam() == Compression::gzip ? 300 : 1);
}

// Two pollers, each with its own compressor on its own thread; their units land in the file in
// an order neither chose.
TEST_P(CompressorRoundTrip, UnitsOfTwoThreadsInAnyOrder) {
  constexpr int kUnits = 40;
  struct Made {
    std::vector<Bytes> units;
    std::vector<Bytes> inputs;
    std::string error;
  };
  std::array<Made, 2> made;
  auto poller = [&](int id) {
    auto compressor = BlockCompressor::create(GetParam());
    if (!compressor) {
      made[id].error = compressor.error().message;
      return;
    }
    for (int i = 0; i < kUnits; ++i) {
      Bytes data = patterned(5'000 + 997 * i, 1000 * (id + 1) + i);
      auto unit = compressor->compress(cut(data, {data.size() / 3, data.size() - data.size() / 3}));
      if (!unit) {
        made[id].error = unit.error().message;
        return;
      }
      made[id].units.emplace_back(unit->begin(), unit->end());
      made[id].inputs.push_back(std::move(data));
    }
  };
  std::thread t0(poller, 0);
  std::thread t1(poller, 1);
  t0.join();
  t1.join();
  ASSERT_EQ(made[0].error, "");
  ASSERT_EQ(made[1].error, "");

  // Poller 1's units backwards, interleaved with poller 0's in order.
  FileOfUnits file(GetParam());
  for (int i = 0; i < kUnits; ++i) {
    file.add_unit(made[0].units[i], made[0].inputs[i]);
    file.add_unit(made[1].units[kUnits - 1 - i], made[1].inputs[kUnits - 1 - i]);
  }
  const Decoded d = decode(GetParam(), file.finish());
  EXPECT_EQ(d.error, "");
  EXPECT_TRUE(d.data == file.expected());
}

TEST_P(CompressorRoundTrip, EachUnitStandsAlone) {
  auto compressor = BlockCompressor::create(GetParam());
  ASSERT_TRUE(compressor) << compressor.error().message;
  for (int i = 0; i < 5; ++i) {
    Bytes data = patterned(70'000 * (i + 1), 50 + i);
    FileOfUnits file(GetParam());
    ASSERT_TRUE(file.add(*compressor, cut(data, {data.size()})));
    const Decoded d = decode(GetParam(), file.finish());
    EXPECT_EQ(d.error, "") << "unit " << i;
    EXPECT_TRUE(d.data == file.expected()) << "unit " << i;
  }
}

// A capture that is killed leaves no trailer: every unit still decodes, and the decoder says
// the stream ended early (gzip has no trailer: its file is whole after any unit).
TEST_P(CompressorRoundTrip, FileWithoutTrailerYieldsItsUnits) {
  auto compressor = BlockCompressor::create(GetParam());
  ASSERT_TRUE(compressor) << compressor.error().message;
  FileOfUnits file(GetParam());
  for (int i = 0; i < 3; ++i) {
    Bytes data = patterned(200'000, 60 + i);
    ASSERT_TRUE(file.add(*compressor, cut(data, {data.size()})));
  }
  const Decoded d = decode(GetParam(), file.file());
  EXPECT_EQ(d.error, GetParam() == Compression::gzip
                         ? ""
                         : "truncated " + std::string(to_string(GetParam())) + " frame");
  EXPECT_TRUE(d.data == file.expected());
}

TEST_P(CompressorRoundTrip, LevelsAcrossTheRange) {
  std::vector<int> levels;
  switch (GetParam()) {
    case Compression::zstd:
      levels = {-5, 3, 19};
      break;
    case Compression::lz4:
      levels = {-10, 1, 9, 12};  // 9 and 12: LZ4HC
      break;
    default:
      levels = {1, 6, 9};
  }
  Bytes data = patterned(300'000, 7);
  for (int level : levels) {
    SCOPED_TRACE("level " + std::to_string(level));
    auto compressor = BlockCompressor::create(GetParam(), level);
    ASSERT_TRUE(compressor) << compressor.error().message;
    EXPECT_EQ(compressor->level(), level);
    FileOfUnits file(GetParam());
    ASSERT_TRUE(file.add(*compressor, cut(data, {1000, data.size() - 1000})));
    ASSERT_TRUE(file.add(*compressor, cut(data, {data.size()})));
    const Decoded d = decode(GetParam(), file.finish());
    EXPECT_EQ(d.error, "");
    EXPECT_TRUE(d.data == file.expected());
  }
}

INSTANTIATE_TEST_SUITE_P(Codecs, CompressorRoundTrip, ::testing::ValuesIn(kCodecs), codec_name);

// ---------------------------------------------------------------------------------------------
// The compressor's contract

TEST(BlockCompressorTest, DefaultLevelsAreTheFastOnes) {
  EXPECT_EQ(BlockCompressor::default_level(Compression::zstd), 1);
  EXPECT_EQ(BlockCompressor::default_level(Compression::lz4), 0);
  EXPECT_EQ(BlockCompressor::default_level(Compression::gzip), 1);
  for (Compression c : kCodecs) {
    auto compressor = BlockCompressor::create(c);
    ASSERT_TRUE(compressor) << compressor.error().message;
    EXPECT_EQ(compressor->level(), BlockCompressor::default_level(c)) << to_string(c);
  }
}

TEST(BlockCompressorTest, RefusesLevelsOutsideTheCodecsRange) {
  const struct {
    Compression c;
    int level;
    std::string message;
  } cases[] = {
      {Compression::zstd, ZSTD_maxCLevel() + 1,
       "zstd level 23: outside " + std::to_string(ZSTD_minCLevel()) + "..22"},
      {Compression::zstd, ZSTD_minCLevel() - 1,
       "zstd level " + std::to_string(ZSTD_minCLevel() - 1)},
      {Compression::lz4, 13, "lz4 level 13: outside -65537..12"},
      {Compression::lz4, -65538, "lz4 level -65538: outside -65537..12"},
      {Compression::gzip, 10, "gzip level 10: outside 1..9"},
      {Compression::gzip, -1, "gzip level -1: outside 1..9"},
  };
  for (const auto& tc : cases) {
    auto compressor = BlockCompressor::create(tc.c, tc.level);
    ASSERT_FALSE(compressor) << to_string(tc.c) << " " << tc.level;
    EXPECT_EQ(compressor.error().code, make_error_code(nmerr::invalid_parameter));
    EXPECT_EQ(compressor.error().message.rfind(tc.message, 0), 0u) << compressor.error().message;
  }
}

TEST(BlockCompressorTest, NoneHasNoCompressorAndNoFraming) {
  auto compressor = BlockCompressor::create(Compression::none);
  ASSERT_FALSE(compressor);
  EXPECT_EQ(compressor.error().code, make_error_code(nmerr::invalid_parameter));
  EXPECT_NE(compressor.error().message.find("'none'"), std::string::npos);
  EXPECT_TRUE(BlockCompressor::stream_header(Compression::none).empty());
  EXPECT_TRUE(BlockCompressor::stream_trailer(Compression::none).empty());
  EXPECT_TRUE(BlockCompressor::stream_header(Compression::gzip).empty());
  EXPECT_TRUE(BlockCompressor::stream_trailer(Compression::gzip).empty());
  EXPECT_TRUE(BlockCompressor::unit_suffix(Compression::gzip).empty());
  EXPECT_TRUE(BlockCompressor::unit_suffix(Compression::lz4).empty());
}

TEST(BlockCompressorTest, MovedFromCompressorRefusesToCompress) {
  auto compressor = BlockCompressor::create(Compression::zstd);
  ASSERT_TRUE(compressor) << compressor.error().message;
  BlockCompressor taken = std::move(*compressor);
  Bytes data = patterned(1000, 8);
  auto unit = compressor->compress(cut(data, {data.size()}));  // NOLINT(bugprone-use-after-move)
  ASSERT_FALSE(unit);
  EXPECT_EQ(compressor->kind(), Compression::none);
  EXPECT_EQ(taken.kind(), Compression::zstd);
  auto ok = taken.compress(cut(data, {data.size()}));
  EXPECT_TRUE(ok) << ok.error().message;
}

TEST(BlockCompressorTest, Lz4FileIsOneFrameOfLinked64KiBBlocks) {
  const auto header = BlockCompressor::stream_header(Compression::lz4);
  LZ4F_dctx* raw = nullptr;
  ASSERT_FALSE(LZ4F_isError(LZ4F_createDecompressionContext(&raw, LZ4F_VERSION)));
  std::unique_ptr<LZ4F_dctx, decltype(&LZ4F_freeDecompressionContext)> dctx(
      raw, LZ4F_freeDecompressionContext);
  LZ4F_frameInfo_t info;
  std::size_t size = header.size();
  const std::size_t r = LZ4F_getFrameInfo(dctx.get(), &info, header.data(), &size);
  ASSERT_FALSE(LZ4F_isError(r)) << LZ4F_getErrorName(r);
  EXPECT_EQ(size, header.size());
  EXPECT_EQ(info.blockMode, LZ4F_blockLinked);
  EXPECT_EQ(info.blockSizeID, LZ4F_max64KB);
  EXPECT_EQ(info.contentChecksumFlag, LZ4F_noContentChecksum);
  EXPECT_EQ(info.blockChecksumFlag, LZ4F_noBlockChecksum);
  EXPECT_EQ(info.contentSize, 0u);
  // Header and trailer alone: an empty frame.
  Bytes empty(header.begin(), header.end());
  append(empty, BlockCompressor::stream_trailer(Compression::lz4));
  const Decoded d = decode_lz4(empty);
  EXPECT_EQ(d.error, "");
  EXPECT_EQ(d.frames, 1);
  EXPECT_TRUE(d.data.empty());
}

TEST(BlockCompressorTest, ZstdFileIsOneFrameWithA512KiBWindow) {
  auto compressor = BlockCompressor::create(Compression::zstd);
  ASSERT_TRUE(compressor) << compressor.error().message;
  FileOfUnits file(Compression::zstd);
  for (int i = 0; i < 20; ++i) {
    Bytes data = patterned(30'000, 70 + i);
    ASSERT_TRUE(file.add(*compressor, cut(data, {data.size()})));
  }
  const Bytes& bytes = file.finish();
  EXPECT_EQ(ZSTD_findFrameCompressedSize(bytes.data(), bytes.size()), bytes.size());
  EXPECT_EQ(ZSTD_getFrameContentSize(bytes.data(), bytes.size()), ZSTD_CONTENTSIZE_UNKNOWN);
  // The window a decoder must hold: 512 KiB, whatever the level.
  Bytes empty;
  append(empty, BlockCompressor::stream_header(Compression::zstd));
  append(empty, BlockCompressor::stream_trailer(Compression::zstd));
  for (const int window_log_max : {18, 19}) {
    std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
    ASSERT_EQ(ZSTD_isError(ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, window_log_max)),
              0u);
    std::vector<std::byte> out(64);
    ZSTD_inBuffer src{empty.data(), empty.size(), 0};
    ZSTD_outBuffer dst{out.data(), out.size(), 0};
    const std::size_t r = ZSTD_decompressStream(dctx.get(), &dst, &src);
    EXPECT_EQ(ZSTD_isError(r), window_log_max < 19) << "windowLogMax " << window_log_max;
    if (window_log_max == 19) {
      EXPECT_EQ(r, 0u) << "header and trailer: one empty frame";
      EXPECT_EQ(dst.pos, 0u);
    }
  }
  // A level that would take a wider window (19: 8 MiB) is held to it too: the repeat 1 MiB back
  // in this unit is out of its reach.
  auto high = BlockCompressor::create(Compression::zstd, 19);
  ASSERT_TRUE(high) << high.error().message;
  FileOfUnits wide(Compression::zstd);
  Bytes data = random_bytes(1 << 20, 90);
  data.insert(data.end(), data.begin(), data.end());
  ASSERT_TRUE(wide.add(*high, cut(data, {data.size()})));
  const Bytes& wide_file = wide.finish();
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  ASSERT_EQ(ZSTD_isError(ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, 19)), 0u);
  Bytes out(data.size() + 1000);
  ZSTD_inBuffer src{wide_file.data(), wide_file.size(), 0};
  ZSTD_outBuffer dst{out.data(), out.size(), 0};
  const std::size_t r = ZSTD_decompressStream(dctx.get(), &dst, &src);
  ASSERT_FALSE(ZSTD_isError(r)) << ZSTD_getErrorName(r);
  EXPECT_EQ(r, 0u);
  out.resize(dst.pos);
  EXPECT_TRUE(out == wide.expected());
}

// ---------------------------------------------------------------------------------------------
// Names and extensions

TEST(CompressionNamesTest, ParsesTheFourNamesInAnyCase) {
  const std::pair<const char*, Compression> cases[] = {
      {"zstd", Compression::zstd}, {"ZSTD", Compression::zstd}, {"Lz4", Compression::lz4},
      {"gzip", Compression::gzip}, {"GZip", Compression::gzip}, {"none", Compression::none},
      {"NONE", Compression::none}};
  for (const auto& [text, want] : cases) {
    auto c = parse_compression(text);
    ASSERT_TRUE(c) << text << ": " << c.error().message;
    EXPECT_EQ(*c, want) << text;
  }
}

TEST(CompressionNamesTest, RefusesOtherNamesNamingTheText) {
  for (const char* text : {"zst", "gz", "", "xz", " zstd", "zstd2", "lz4hc", "bzip2"}) {
    auto c = parse_compression(text);
    ASSERT_FALSE(c) << "'" << text << "' parsed";
    EXPECT_EQ(c.error().code, make_error_code(nmerr::invalid_parameter));
    EXPECT_EQ(c.error().message,
              "compression '" + std::string(text) + "': not one of zstd, lz4, gzip, none");
  }
}

TEST(CompressionNamesTest, NamesAndExtensionsRoundTrip) {
  for (Compression c :
       {Compression::none, Compression::zstd, Compression::lz4, Compression::gzip}) {
    auto parsed = parse_compression(to_string(c));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, c);
    EXPECT_EQ(compression_for_path("capture.pcapng" + std::string(compression_extension(c))), c);
  }
  EXPECT_EQ(compression_extension(Compression::zstd), ".zst");
  EXPECT_EQ(compression_extension(Compression::lz4), ".lz4");
  EXPECT_EQ(compression_extension(Compression::gzip), ".gz");
  EXPECT_EQ(compression_extension(Compression::none), "");
}

TEST(CompressionNamesTest, PathsGoByTheirLastExtensionInAnyCase) {
  const std::pair<const char*, Compression> cases[] = {
      {"a.pcapng.zst", Compression::zstd},
      {"/var/cap/a.pcapng.lz4", Compression::lz4},
      {"a.pcapng.gz", Compression::gzip},
      {"A.PCAPNG.GZ", Compression::gzip},
      {"a.pcapng.Zst", Compression::zstd},
      {"a.zst", Compression::zstd},
      {"a.zst.pcapng", Compression::none},
      {"a.pcapng", Compression::none},
      {"a.pcapng.zstd", Compression::none},
      {"a.pcapng.xz", Compression::none},
      {"d.gz/a.pcapng", Compression::none},
      {".gz", Compression::none},
      {"dir/.zst", Compression::none},
      {"-", Compression::none},
      {"", Compression::none},
      {"a.pcapng.", Compression::none},
  };
  for (const auto& [path, want] : cases) {
    EXPECT_EQ(compression_for_path(path), want) << "'" << path << "'";
  }
}

// ---------------------------------------------------------------------------------------------
// Capture files of units, read by the tools people open them with.

using test::CommandOutput;
using test::find_on_path;
using test::run_command;

Bytes read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Bytes out(chars.size());
  if (!chars.empty()) std::memcpy(out.data(), chars.data(), chars.size());
  return out;
}

std::string read_text(const std::string& path) {
  const Bytes b = read_all(path);
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

bool write_all(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(out);
}

struct Frame {
  uint32_t interface_id = 0;
  uint64_t timestamp_ns = 0;
  std::vector<uint8_t> data;
};

// 64- and 1500-byte frames, alternately on two interfaces: an Ethernet header with a local
// experimental EtherType (0x88b5, so tshark does not dissect further), then half a frame of
// noise and half of zeros, which makes a file of about 1 MiB per 3000 frames once compressed.
std::vector<Frame> make_frames(std::size_t n) {
  std::vector<Frame> frames(n);
  Rng rng(11);
  for (std::size_t i = 0; i < n; ++i) {
    Frame& f = frames[i];
    f.interface_id = static_cast<uint32_t>(i % 2);
    f.timestamp_ns = 1'700'000'000'000'000'000ULL + i * 1'234;
    f.data.assign(i % 3 == 0 ? 1500 : 64, 0);
    const uint8_t eth[14] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, 0x88, 0xb5};
    std::memcpy(f.data.data(), eth, sizeof(eth));
    for (std::size_t b = 14; b < f.data.size() / 2; ++b)
      f.data[b] = static_cast<uint8_t>(rng.next());
  }
  return frames;
}

class CompressedCaptureTest : public ::testing::TestWithParam<Compression> {
 protected:
  void SetUp() override {
    std::string tmpl = "/tmp/xesp-compressor-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr) << "mkdtemp under /tmp failed";
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // SHB and IDBs as PcapngWriter encodes them: the bytes of a file it opened and closed.
  Bytes header_blocks() {
    const std::string path = (dir_ / "header.pcapng").string();
    auto writer = PcapngWriter::open(path, {.user_appl = "compressor_test"},
                                     {{.name = "q0"}, {.name = "q1"}});
    EXPECT_TRUE(writer) << writer.error().message;
    if (!writer) return {};
    EXPECT_TRUE(writer->close());
    return read_all(path);
  }

  // A capture file: the header blocks as one unit, then EPBs in units of `frames_per_unit`
  // (EpbVector batches of one interface each, as a poller makes them) by two compressors in
  // turn; or, with frames_per_unit 0, the header and every EPB in a single unit.
  ::testing::AssertionResult write_capture(const std::string& path,
                                           const std::vector<Frame>& frames,
                                           std::size_t frames_per_unit, int* units) {
    const std::size_t per_batch = frames_per_unit == 0 ? SIZE_MAX : frames_per_unit;
    std::vector<std::unique_ptr<EpbVector>> batches;
    for (uint32_t itf = 0; itf < 2; ++itf) {
      std::size_t in_batch = 0;
      batches.push_back(std::make_unique<EpbVector>(itf, std::size_t{1} << 20));
      for (const Frame& f : frames) {
        if (f.interface_id != itf) continue;
        const auto len = static_cast<uint32_t>(f.data.size());
        if (in_batch == per_batch ||
            !batches.back()->add(f.timestamp_ns, f.data.data(), len, len)) {
          batches.push_back(std::make_unique<EpbVector>(itf, std::size_t{1} << 20));
          in_batch = 0;
          if (!batches.back()->add(f.timestamp_ns, f.data.data(), len, len)) {
            return ::testing::AssertionFailure() << "a frame does not fit an empty batch";
          }
        }
        ++in_batch;
      }
    }

    auto c0 = BlockCompressor::create(GetParam());
    auto c1 = BlockCompressor::create(GetParam());
    if (!c0 || !c1) return ::testing::AssertionFailure() << "no compressor";
    FileOfUnits file(GetParam());
    Bytes header = header_blocks();
    std::vector<iovec> pieces = {{header.data(), header.size()}};
    if (frames_per_unit == 0) {
      for (const auto& batch : batches) {
        for (const iovec& v : batch->iovecs()) pieces.push_back(v);
      }
      if (auto r = file.add(*c0, pieces); !r) return r;
    } else {
      if (auto r = file.add(*c0, pieces); !r) return r;
      for (std::size_t i = 0; i < batches.size(); ++i) {
        if (auto r = file.add(i % 2 == 0 ? *c1 : *c0, batches[i]->iovecs()); !r) return r;
      }
    }
    *units = file.units();
    file.finish();
    // Our own decoders agree before any tool is asked.
    const Decoded d = decode(GetParam(), file.file());
    if (!d.error.empty()) return ::testing::AssertionFailure() << "decoding: " << d.error;
    if (d.data != file.expected()) return ::testing::AssertionFailure() << "decoded bytes differ";
    decoded_ = d.data;
    if (!write_all(path, file.file())) return ::testing::AssertionFailure() << "writing " << path;
    return ::testing::AssertionSuccess();
  }

  // Frames in file order: interface 0's, then interface 1's (each poller's units in turn).
  static std::vector<const Frame*> file_order(const std::vector<Frame>& frames) {
    std::vector<const Frame*> order;
    for (uint32_t itf = 0; itf < 2; ++itf) {
      for (const Frame& f : frames) {
        if (f.interface_id == itf) order.push_back(&f);
      }
    }
    return order;
  }

  void expect_tools_read(const std::string& path, const std::vector<Frame>& frames, int units) {
    const auto tshark = find_on_path("tshark");
    const auto capinfos = find_on_path("capinfos");
    if (!tshark || !capinfos) {
      GTEST_SKIP() << "tshark or capinfos not on PATH (Debian packages tshark, wireshark-common)";
    }
    const std::vector<const Frame*> order = file_order(frames);

    const auto info = run_command(*capinfos + " -M -c " + path + " 2>&1");
    EXPECT_EQ(info.status, 0) << info.out;
    const std::string want = "Number of packets:   " + std::to_string(frames.size()) + "\n";
    EXPECT_NE(info.out.find(want), std::string::npos) << "expected '" << want << "' in:\n"
                                                      << info.out;

    // Every frame, in order, with its interface, length and timestamp (first differences only).
    const std::string err = path + ".err";
    const auto r = run_command(*tshark + " -r " + path +
                               " -T fields -E separator=/s -e frame.interface_id -e frame.len"
                               " -e frame.time_epoch 2>" +
                               err);
    EXPECT_EQ(r.status, 0) << read_text(err);
    std::stringstream lines(r.out);
    std::string line;
    std::size_t n = 0;
    int mismatches = 0;
    while (std::getline(lines, line)) {
      if (n < order.size() && mismatches < 5) {
        const Frame& f = *order[n];
        char want_line[96];
        std::snprintf(want_line, sizeof(want_line), "%u %zu %llu.%09llu", f.interface_id,
                      f.data.size(),
                      static_cast<unsigned long long>(f.timestamp_ns / 1'000'000'000),
                      static_cast<unsigned long long>(f.timestamp_ns % 1'000'000'000));
        if (line != want_line) {
          ++mismatches;
          ADD_FAILURE() << "frame " << n + 1 << ": tshark says '" << line << "', expected '"
                        << want_line << "'";
        }
      }
      ++n;
    }
    EXPECT_EQ(n, frames.size()) << "lines from tshark";

    // Two passes: the second reads frames again by seeking in the compressed file.
    const auto two = run_command(*tshark + " -2 -r " + path + " 2>" + err + " | wc -l");
    EXPECT_EQ(two.status, 0);
    EXPECT_EQ(read_text(err).find("damaged"), std::string::npos) << read_text(err);
    EXPECT_EQ(std::stoul(two.out), frames.size()) << "frames from tshark -2";

    // The decompressed file: our reader and libpcap see every frame, and zstd's suffix blocks
    // as blocks of an unknown type.
    auto parsed = PcapngReader::read_bytes(decoded_, "decompressed " + path);
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(parsed->packets.size(), frames.size());
    const std::size_t suffixes =
        std::count(parsed->unknown_block_types.begin(), parsed->unknown_block_types.end(),
                   BlockCompressor::kZstdSuffixBlockType);
    EXPECT_EQ(suffixes, GetParam() == Compression::zstd ? static_cast<std::size_t>(units) : 0u);
    EXPECT_EQ(parsed->unknown_block_types.size(), suffixes);
#ifdef XESP_HAVE_LIBPCAP
    FILE* mem = ::fmemopen(decoded_.data(), decoded_.size(), "rb");
    ASSERT_NE(mem, nullptr);
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t* pcap = pcap_fopen_offline(mem, errbuf);  // takes the FILE
    ASSERT_NE(pcap, nullptr) << errbuf;
    pcap_pkthdr* hdr;
    const u_char* data;
    std::size_t got = 0;
    int rc;
    while ((rc = pcap_next_ex(pcap, &hdr, &data)) == 1) ++got;
    EXPECT_EQ(rc, PCAP_ERROR_BREAK) << pcap_geterr(pcap);
    EXPECT_EQ(got, frames.size()) << "frames from libpcap";
    pcap_close(pcap);
#endif
  }

  fs::path dir_;
  Bytes decoded_;
};

// ~100 units of 200 blocks each: several MiB of compressed file, far past the 128 KiB that
// Wireshark 4.0 reads before it first looks for a frame's successor.
TEST_P(CompressedCaptureTest, ToolsReadAFileOfManyUnits) {
  const std::vector<Frame> frames = make_frames(20'000);
  const std::string path =
      (dir_ / ("many.pcapng" + std::string(compression_extension(GetParam())))).string();
  int units = 0;
  ASSERT_TRUE(write_capture(path, frames, 200, &units));
  EXPECT_EQ(units, 101);
  EXPECT_GT(fs::file_size(path), std::uintmax_t{1} << 20);
  expect_tools_read(path, frames, units);
}

TEST_P(CompressedCaptureTest, ToolsReadAFileOfOneUnit) {
  const std::vector<Frame> frames = make_frames(6'000);
  const std::string path =
      (dir_ / ("one.pcapng" + std::string(compression_extension(GetParam())))).string();
  int units = 0;
  ASSERT_TRUE(write_capture(path, frames, 0, &units));
  EXPECT_EQ(units, 1);
  expect_tools_read(path, frames, units);
}

INSTANTIATE_TEST_SUITE_P(Codecs, CompressedCaptureTest, ::testing::ValuesIn(kCodecs), codec_name);

}  // namespace
}  // namespace xesp::output
