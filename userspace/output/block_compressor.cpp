#include "output/block_compressor.hpp"

#include <lz4.h>
#include <lz4frame.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>
#include <new>
#include <string>
#include <system_error>
#include <utility>

namespace xesp::output {
namespace {

template <std::size_t N>
constexpr std::array<std::byte, N> byte_array(const unsigned char (&bytes)[N]) {
  std::array<std::byte, N> out{};
  for (std::size_t i = 0; i < N; ++i) out[i] = static_cast<std::byte>(bytes[i]);
  return out;
}

// Capture defaults, measured (docs/DESIGN-NOTES.md, "Compressed capture files"): the fastest
// level of each codec that still takes the bulk of what it can take from pcapng.
constexpr int kZstdDefaultLevel = 1;
constexpr int kLz4DefaultLevel = 0;  // LZ4F's own default: the fast (non-HC) compressor
constexpr int kGzipDefaultLevel = 1;

// lz4 accepts acceleration down to -LZ4_ACCELERATION_MAX; LZ4HC's top level is 12.
constexpr int kLz4MinLevel = -65537;
constexpr int kLz4MaxLevel = 12;

// The LZ4 frame every .lz4 file is: magic, FLG (version 01, linked blocks, no block or content
// checksum, no content size), BD (64 KiB blocks) and the header checksum (byte 2 of XXH32 of
// FLG and BD). Linked blocks: a decoder keeps the last 64 KiB it decoded as history, which a
// block may reference. Each unit starts a new stream in its compressor (LZ4F_compressBegin),
// so a unit's first block references nothing before it, and its later blocks only its own
// earlier ones: units stay independent while a unit compresses as well as one stream would.
// 64 KiB blocks stay within the 128 KiB read buffer of later Wireshark, which refuses a
// compressed block that does not fit it. create() checks that liblz4 writes these very bytes.
constexpr auto kLz4FrameHeader = byte_array({0x04, 0x22, 0x4d, 0x18, 0x40, 0x40, 0xc0});
// The EndMark: a block size of 0. No content checksum follows: units arrive in any order, so
// no one sees the content in file order to compute it.
constexpr auto kLz4EndMark = byte_array({0x00, 0x00, 0x00, 0x00});

Error codec_error(const char* codec, const std::string& what) {
  return {std::make_error_code(std::errc::io_error), std::string(codec) + " compression: " + what};
}

Error level_error(Compression c, int level, int min, int max) {
  return Error::nm(nmerr::invalid_parameter, std::string(to_string(c)) + " level " +
                                                 std::to_string(level) + ": outside " +
                                                 std::to_string(min) + ".." + std::to_string(max));
}

}  // namespace

class BlockCompressor::Codec {
 public:
  explicit Codec(int level) noexcept : level_(level) {}
  virtual ~Codec() = default;
  Codec(const Codec&) = delete;
  Codec& operator=(const Codec&) = delete;

  virtual Compression kind() const noexcept = 0;
  int level() const noexcept { return level_; }
  // The most bytes a unit of `total` bytes in can take.
  virtual std::size_t bound(std::size_t total) noexcept = 0;
  // Compresses the pieces (total > 0 bytes) into out, which holds at least bound(total) bytes;
  // returns where the unit lies in it.
  virtual Result<std::span<std::byte>> encode(std::span<const iovec> pieces, std::size_t total,
                                              std::span<std::byte> out) = 0;

 private:
  int level_;
};

namespace {

// ---- zstd: blocks of the file's one frame ----

// The frame every .zst file is: magic, a descriptor with no content size, checksum or
// dictionary, and a 512 KiB window (exponent 9: 2^(10+9)). Units never reach further back
// than that: each is compressed with ZSTD_c_windowLog = kZstdWindowLog, which is level 1's own
// choice; it caps higher levels (19 would take 8 MiB), and keeps a compressor at 1.3 MiB and a
// reader's window at 0.5 MiB whatever the unit size.
constexpr int kZstdWindowLog = 19;
constexpr auto kZstdFrameHeader = byte_array({0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x48});
// An empty raw block flagged last: it ends the frame.
constexpr auto kZstdLastBlock = byte_array({0x01, 0x00, 0x00});

// Ends every unit. A unit's blocks come from a fresh frame, which starts with zstd's initial
// repeat offsets (1, 4, 8), while the file's frame carries on with whatever offsets the unit
// before it left; these three compressed blocks set them back to 1, 4, 8 (one sequence each,
// with new offsets 8, 4, 1, all three symbol codes in RLE mode, so no FSE state is coded).
// What they decode to is fixed by their literals: the 24-byte pcapng block
//   "syn\x80" (block type 0x806e7973, local use: readers skip it), total length 24,
//   body "syn\0syn\0\0\0\0\0", total length 24.
// Layout per block: 3-byte block header (compressed, not last), raw literals header (size << 3),
// the literals, 1 sequence, modes 0x54 (LL, OF, ML all RLE), the LL, OF and ML codes, then the
// bitstream: the offset's extra bits under a marker bit (offset value = offset + 3).
constexpr unsigned char kZstdUnitEndBytes[] = {
    // literals "syn\x80" + length 24 (8), then copy 3 from 8 back: "syn".
    0x7c, 0x00, 0x00, 0x40, 's', 'y', 'n', 0x80, 0x18, 0x00, 0x00, 0x00,  //
    0x01, 0x54, 8, 3, 0, 0x0b,  // LL 8; OF code 3, extra 3: value 11, offset 8; ML 3
    // literal 0, then copy 3 from 4 back: "syn".
    0x44, 0x00, 0x00, 0x08, 0x00,  //
    0x01, 0x54, 1, 2, 0, 0x07,     // LL 1; OF code 2, extra 3: value 7, offset 4; ML 3
    // literal 0, copy 3 from 1 back: 0 0 0; then the last literals 0 and length 24.
    0x6c, 0x00, 0x00, 0x30, 0x00, 0x00, 0x18, 0x00, 0x00, 0x00,  //
    0x01, 0x54, 1, 2, 0, 0x04};  // LL 1; OF code 2, extra 0: value 4, offset 1; ML 3
constexpr auto kZstdUnitEnd = byte_array(kZstdUnitEndBytes);
// What kZstdUnitEnd decodes to.
constexpr auto kZstdUnitSuffix =
    byte_array({'s', 'y', 'n', 0x80, 24, 0, 0, 0, 's', 'y', 'n', 0, 's', 'y', 'n', 0,  //
                0,   0,   0,   0,    24, 0, 0, 0});

// Where the blocks of a frame zstd wrote start: after the magic and the frame header, whose
// size its descriptor byte gives (RFC 8878, 3.1.1.1). 0 when it is not such a frame.
std::size_t zstd_blocks_offset(const std::byte* frame, std::size_t size) noexcept {
  if (size < 6 || std::memcmp(frame, kZstdFrameHeader.data(), 4) != 0) return 0;
  const auto fhd = std::to_integer<unsigned>(frame[4]);
  const unsigned fcs_flag = fhd >> 6;
  const bool single_segment = (fhd >> 5) & 1;
  constexpr std::size_t kDictIdSize[] = {0, 1, 2, 4};
  constexpr std::size_t kContentSizeSize[] = {0, 2, 4, 8};
  const std::size_t fcs = fcs_flag == 0 && single_segment ? 1 : kContentSizeSize[fcs_flag];
  return 5 + (single_segment ? 0 : 1) + kDictIdSize[fhd & 3] + fcs;
}

struct ZstdCCtxFree {
  void operator()(ZSTD_CCtx* c) const noexcept { ZSTD_freeCCtx(c); }
};

class ZstdCodec final : public BlockCompressor::Codec {
 public:
  static Result<std::unique_ptr<Codec>> create(int level) {
    if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel()) {
      return level_error(Compression::zstd, level, ZSTD_minCLevel(), ZSTD_maxCLevel());
    }
    std::unique_ptr<ZSTD_CCtx, ZstdCCtxFree> cctx(ZSTD_createCCtx());
    if (!cctx) return Error::sys(ENOMEM, "zstd compression context");
    // No checksum: it would cover one unit, and the file's frame has room for none.
    for (const auto& [param, value] :
         {std::pair{ZSTD_c_compressionLevel, level}, std::pair{ZSTD_c_windowLog, kZstdWindowLog},
          std::pair{ZSTD_c_checksumFlag, 0}}) {
      const std::size_t r = ZSTD_CCtx_setParameter(cctx.get(), param, value);
      if (ZSTD_isError(r)) return codec_error("zstd", ZSTD_getErrorName(r));
    }
    return std::unique_ptr<Codec>(std::make_unique<ZstdCodec>(std::move(cctx), level));
  }

  ZstdCodec(std::unique_ptr<ZSTD_CCtx, ZstdCCtxFree> cctx, int level) noexcept
      : Codec(level), cctx_(std::move(cctx)) {}

  Compression kind() const noexcept override { return Compression::zstd; }
  std::size_t bound(std::size_t total) noexcept override {
    return ZSTD_compressBound(total) + kZstdUnitEnd.size();
  }

  Result<std::span<std::byte>> encode(std::span<const iovec> pieces, std::size_t total,
                                      std::span<std::byte> out) override {
    // A fresh frame; the pledged size lets zstd size its tables to the unit.
    std::size_t r = ZSTD_CCtx_reset(cctx_.get(), ZSTD_reset_session_only);
    if (!ZSTD_isError(r)) r = ZSTD_CCtx_setPledgedSrcSize(cctx_.get(), total);
    if (ZSTD_isError(r)) return codec_error("zstd", ZSTD_getErrorName(r));
    ZSTD_outBuffer dst{out.data(), out.size() - kZstdUnitEnd.size(), 0};
    for (const iovec& piece : pieces) {
      ZSTD_inBuffer src{piece.iov_base, piece.iov_len, 0};
      while (src.pos < src.size) {
        const std::size_t before = src.pos + dst.pos;
        r = ZSTD_compressStream2(cctx_.get(), &dst, &src, ZSTD_e_continue);
        if (ZSTD_isError(r)) return codec_error("zstd", ZSTD_getErrorName(r));
        if (src.pos + dst.pos == before) return codec_error("zstd", "no progress");
      }
    }
    ZSTD_inBuffer none{nullptr, 0, 0};
    do {
      const std::size_t before = dst.pos;
      r = ZSTD_compressStream2(cctx_.get(), &dst, &none, ZSTD_e_end);
      if (ZSTD_isError(r)) return codec_error("zstd", ZSTD_getErrorName(r));
      if (r != 0 && dst.pos == before) return codec_error("zstd", "unit larger than its bound");
    } while (r != 0);

    // Keep the frame's blocks only: drop its header, clear the last block's flag (the file's
    // frame goes on), and append the blocks that reset the repeat offsets.
    const std::size_t begin = zstd_blocks_offset(out.data(), dst.pos);
    if (begin == 0) return codec_error("zstd", "libzstd wrote no frame header");
    std::size_t at = begin;
    std::size_t last = 0;
    bool ended = false;
    while (!ended && at + 3 <= dst.pos) {
      const uint32_t header = std::to_integer<uint32_t>(out[at]) |
                              std::to_integer<uint32_t>(out[at + 1]) << 8 |
                              std::to_integer<uint32_t>(out[at + 2]) << 16;
      const uint32_t type = (header >> 1) & 3;  // 0 raw, 1 RLE (one byte), 2 compressed
      last = at;
      at += 3 + (type == 1 ? 1 : header >> 3);
      ended = header & 1;
    }
    if (!ended || at != dst.pos) return codec_error("zstd", "frame blocks do not add up");
    out[last] &= ~std::byte{1};
    std::memcpy(out.data() + at, kZstdUnitEnd.data(), kZstdUnitEnd.size());
    return out.subspan(begin, at + kZstdUnitEnd.size() - begin);
  }

 private:
  std::unique_ptr<ZSTD_CCtx, ZstdCCtxFree> cctx_;
};

// ---- lz4: blocks of the file's one frame ----

struct Lz4CctxFree {
  void operator()(LZ4F_cctx* c) const noexcept { LZ4F_freeCompressionContext(c); }
};

class Lz4Codec final : public BlockCompressor::Codec {
 public:
  static Result<std::unique_ptr<Codec>> create(int level) {
    if (level < kLz4MinLevel || level > kLz4MaxLevel) {
      return level_error(Compression::lz4, level, kLz4MinLevel, kLz4MaxLevel);
    }
    LZ4F_cctx* raw = nullptr;
    const std::size_t made = LZ4F_createCompressionContext(&raw, LZ4F_VERSION);
    std::unique_ptr<LZ4F_cctx, Lz4CctxFree> cctx(raw);
    if (LZ4F_isError(made)) return codec_error("lz4", LZ4F_getErrorName(made));

    LZ4F_preferences_t prefs = LZ4F_INIT_PREFERENCES;
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockMode = LZ4F_blockLinked;
    // No block checksums: they cost 10-22% of lz4's speed on capture chunks (DESIGN-NOTES),
    // and lz4 is the codec for speed.
    prefs.frameInfo.blockChecksumFlag = LZ4F_noBlockChecksum;
    prefs.compressionLevel = level;

    // The header liblz4 writes for these preferences must be the file's (stream_header()).
    std::array<std::byte, LZ4F_HEADER_SIZE_MAX> header;
    const std::size_t n = LZ4F_compressBegin(cctx.get(), header.data(), header.size(), &prefs);
    if (LZ4F_isError(n)) return codec_error("lz4", LZ4F_getErrorName(n));
    if (n != kLz4FrameHeader.size() || std::memcmp(header.data(), kLz4FrameHeader.data(), n) != 0) {
      return codec_error("lz4", "liblz4 " + std::string(LZ4_versionString()) +
                                    " writes another frame header than the one files start with");
    }
    return std::unique_ptr<Codec>(std::make_unique<Lz4Codec>(std::move(cctx), prefs, level));
  }

  Compression kind() const noexcept override { return Compression::lz4; }
  // Covers the updates and the flush (LZ4F_compressBound() assumes a full block buffered).
  std::size_t bound(std::size_t total) noexcept override {
    return LZ4F_compressBound(total, &prefs_);
  }

  Result<std::span<std::byte>> encode(std::span<const iovec> pieces, std::size_t /*total*/,
                                      std::span<std::byte> out) override {
    // A new stream: no history from this compressor's previous unit, which lies elsewhere in
    // the file. The frame header it writes is the file's already; it is dropped.
    std::array<std::byte, LZ4F_HEADER_SIZE_MAX> header;
    const std::size_t begun =
        LZ4F_compressBegin(cctx_.get(), header.data(), header.size(), &prefs_);
    if (LZ4F_isError(begun)) return codec_error("lz4", LZ4F_getErrorName(begun));
    std::size_t used = 0;
    for (const iovec& piece : pieces) {
      if (piece.iov_len == 0) continue;
      const std::size_t r = LZ4F_compressUpdate(cctx_.get(), out.data() + used, out.size() - used,
                                                piece.iov_base, piece.iov_len, nullptr);
      if (LZ4F_isError(r)) return codec_error("lz4", LZ4F_getErrorName(r));
      used += r;
    }
    // Ends the unit on a block boundary: the last, partial block goes out now.
    const std::size_t r = LZ4F_flush(cctx_.get(), out.data() + used, out.size() - used, nullptr);
    if (LZ4F_isError(r)) return codec_error("lz4", LZ4F_getErrorName(r));
    return out.first(used + r);
  }

  Lz4Codec(std::unique_ptr<LZ4F_cctx, Lz4CctxFree> cctx, const LZ4F_preferences_t& prefs,
           int level) noexcept
      : Codec(level), cctx_(std::move(cctx)), prefs_(prefs) {}

 private:
  std::unique_ptr<LZ4F_cctx, Lz4CctxFree> cctx_;
  LZ4F_preferences_t prefs_;
};

// ---- gzip: a member per unit ----

class GzipCodec final : public BlockCompressor::Codec {
 public:
  static Result<std::unique_ptr<Codec>> create(int level) {
    if (level < Z_BEST_SPEED || level > Z_BEST_COMPRESSION) {
      return level_error(Compression::gzip, level, Z_BEST_SPEED, Z_BEST_COMPRESSION);
    }
    // Heap-held and never moved: zlib's state points back at its z_stream.
    auto codec = std::make_unique<GzipCodec>(level);
    // 15 + 16: a 32 KiB window with the gzip wrapper (header, CRC-32, length) around each member.
    const int r = deflateInit2(&codec->strm_, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    if (r != Z_OK) return codec_error("gzip", zError(r));
    codec->initialized_ = true;
    return std::unique_ptr<Codec>(std::move(codec));
  }

  ~GzipCodec() override {
    if (initialized_) deflateEnd(&strm_);
  }

  Compression kind() const noexcept override { return Compression::gzip; }
  // With the gzip wrapper set up, deflateBound() counts its header and trailer.
  std::size_t bound(std::size_t total) noexcept override { return deflateBound(&strm_, total); }

  Result<std::span<std::byte>> encode(std::span<const iovec> pieces, std::size_t /*total*/,
                                      std::span<std::byte> out) override {
    int r = deflateReset(&strm_);
    if (r != Z_OK) return codec_error("gzip", zError(r));
    std::byte* const end = out.data() + out.size();
    strm_.next_out = reinterpret_cast<Bytef*>(out.data());
    // zlib counts in uInt: pieces and the output are fed in slices of at most UINT_MAX.
    auto refill_out = [&] {
      const auto* at = reinterpret_cast<std::byte*>(strm_.next_out);
      strm_.avail_out = static_cast<uInt>(std::min<std::size_t>(end - at, UINT_MAX));
    };
    for (const iovec& piece : pieces) {
      auto* in = static_cast<Bytef*>(piece.iov_base);
      std::size_t left = piece.iov_len;
      while (left != 0) {
        const auto slice = static_cast<uInt>(std::min<std::size_t>(left, UINT_MAX));
        strm_.next_in = in;
        strm_.avail_in = slice;
        while (strm_.avail_in != 0) {
          refill_out();
          const uInt before = strm_.avail_in;
          r = deflate(&strm_, Z_NO_FLUSH);
          if (r != Z_OK) return codec_error("gzip", zError(r));
          if (strm_.avail_in == before && strm_.avail_out != 0) {
            return codec_error("gzip", "no progress");
          }
        }
        in += slice;
        left -= slice;
      }
    }
    do {
      refill_out();
      if (strm_.avail_out == 0) return codec_error("gzip", "unit larger than its bound");
      r = deflate(&strm_, Z_FINISH);
      if (r != Z_OK && r != Z_STREAM_END) return codec_error("gzip", zError(r));
    } while (r != Z_STREAM_END);
    return out.first(
        static_cast<std::size_t>(reinterpret_cast<std::byte*>(strm_.next_out) - out.data()));
  }

  explicit GzipCodec(int level) noexcept : Codec(level) {}

 private:
  z_stream strm_{};
  bool initialized_ = false;
};

}  // namespace

int BlockCompressor::default_level(Compression c) noexcept {
  switch (c) {
    case Compression::zstd:
      return kZstdDefaultLevel;
    case Compression::lz4:
      return kLz4DefaultLevel;
    case Compression::gzip:
      return kGzipDefaultLevel;
    case Compression::none:
      break;
  }
  return 0;
}

Result<BlockCompressor> BlockCompressor::create(Compression c, int level) {
  if (level == 0) level = default_level(c);
  Result<std::unique_ptr<Codec>> codec = Error::nm(
      nmerr::invalid_parameter, "compression 'none': no compressor (write the blocks as they are)");
  switch (c) {
    case Compression::zstd:
      codec = ZstdCodec::create(level);
      break;
    case Compression::lz4:
      codec = Lz4Codec::create(level);
      break;
    case Compression::gzip:
      codec = GzipCodec::create(level);
      break;
    case Compression::none:
      break;
  }
  if (!codec) return std::move(codec).error();
  return BlockCompressor(std::move(*codec));
}

std::span<const std::byte> BlockCompressor::stream_header(Compression c) noexcept {
  switch (c) {
    case Compression::zstd:
      return kZstdFrameHeader;
    case Compression::lz4:
      return kLz4FrameHeader;
    case Compression::gzip:
    case Compression::none:
      break;
  }
  return {};
}

std::span<const std::byte> BlockCompressor::stream_trailer(Compression c) noexcept {
  switch (c) {
    case Compression::zstd:
      return kZstdLastBlock;
    case Compression::lz4:
      return kLz4EndMark;
    case Compression::gzip:
    case Compression::none:
      break;
  }
  return {};
}

std::span<const std::byte> BlockCompressor::unit_suffix(Compression c) noexcept {
  if (c == Compression::zstd) return kZstdUnitSuffix;
  return {};
}

Result<std::span<const std::byte>> BlockCompressor::compress(std::span<const iovec> pieces) {
  if (!codec_) return Error::nm(nmerr::invalid_parameter, "compress on a moved-from compressor");
  std::size_t total = 0;
  for (const iovec& piece : pieces) total += piece.iov_len;
  if (total == 0) return std::span<const std::byte>{};

  const std::size_t need = codec_->bound(total);
  if (need > out_capacity_) {
    // Grown to the largest unit seen, then reused: no allocation per unit. nothrow: on the
    // poller's path a failed allocation is an error value, not an exception.
    std::unique_ptr<std::byte[]> grown(new (std::nothrow) std::byte[need]);
    if (!grown) {
      return Error::sys(ENOMEM, std::string(to_string(codec_->kind())) + " output of " +
                                    std::to_string(need) + " bytes");
    }
    out_ = std::move(grown);
    out_capacity_ = need;
  }
  auto unit = codec_->encode(pieces, total, {out_.get(), out_capacity_});
  if (!unit) return std::move(unit).error();
  return std::span<const std::byte>(*unit);
}

Compression BlockCompressor::kind() const noexcept {
  return codec_ ? codec_->kind() : Compression::none;
}

int BlockCompressor::level() const noexcept { return codec_ ? codec_->level() : 0; }

BlockCompressor::BlockCompressor(std::unique_ptr<Codec> codec) noexcept
    : codec_(std::move(codec)) {}
BlockCompressor::BlockCompressor(BlockCompressor&&) noexcept = default;
BlockCompressor& BlockCompressor::operator=(BlockCompressor&&) noexcept = default;
BlockCompressor::~BlockCompressor() = default;

}  // namespace xesp::output
