#include "output/block_split.hpp"

#include <algorithm>
#include <cstring>

#include "pcapng/pcapng_format.hpp"

namespace xesp::output {
namespace {

// Reads bytes [offset, offset + n) of the concatenated pieces into out; false past the end.
// `cursor` remembers the piece the last read ended in, so a forward walk stays linear.
struct PieceReader {
  std::span<const iovec> pieces;
  std::size_t index = 0;
  uint64_t index_start = 0;  // offset of pieces[index] in the run

  bool read(uint64_t offset, void* out, std::size_t n) {
    auto* dst = static_cast<std::byte*>(out);
    while (index < pieces.size() && offset >= index_start + pieces[index].iov_len) {
      index_start += pieces[index].iov_len;
      ++index;
    }
    std::size_t i = index;
    uint64_t start = index_start;
    while (n > 0) {
      if (i >= pieces.size()) return false;
      const uint64_t within = offset - start;
      if (within >= pieces[i].iov_len) {
        start += pieces[i].iov_len;
        ++i;
        continue;
      }
      const std::size_t take = std::min<uint64_t>(n, pieces[i].iov_len - within);
      std::memcpy(dst, static_cast<const std::byte*>(pieces[i].iov_base) + within, take);
      dst += take;
      n -= take;
      offset += take;
    }
    return true;
  }
};

struct BlockHead {
  uint32_t type = 0;
  uint32_t length = 0;
  bool is_epb = false;
  uint64_t timestamp_ns = 0;
  uint32_t original_len = 0;
};

bool read_head(PieceReader& r, uint64_t offset, BlockHead& h) {
  // type, length, interface, timestamp high, low, captured length, original length
  uint32_t words[7];
  if (!r.read(offset, words, 8)) return false;
  h.type = words[0];
  h.length = words[1];
  if (h.length < 12 || h.length % 4 != 0) return false;
  h.is_epb = h.type == pcapng::kBlockEnhancedPacket && h.length >= pcapng::kEpbFixedSize;
  if (h.is_epb) {
    if (!r.read(offset + 8, words + 2, 20)) return false;
    h.timestamp_ns = (uint64_t{words[3]} << 32) | words[4];
    h.original_len = words[6];
  }
  return true;
}

}  // namespace

uint64_t total_length(std::span<const iovec> pieces) noexcept {
  uint64_t n = 0;
  for (const iovec& p : pieces) n += p.iov_len;
  return n;
}

BlockPrefix block_prefix(std::span<const iovec> pieces, uint64_t max_bytes, uint64_t before_ns) {
  const uint64_t total = total_length(pieces);
  PieceReader reader{pieces};
  BlockPrefix out;
  uint64_t offset = 0;
  while (offset < total) {
    BlockHead h;
    if (!read_head(reader, offset, h) || offset + h.length > total) break;
    if (offset + h.length > max_bytes) break;
    if (h.is_epb && h.timestamp_ns >= before_ns) break;
    if (h.is_epb) {
      if (out.frames == 0) out.first_timestamp_ns = h.timestamp_ns;
      ++out.frames;
      out.wire_bytes += h.original_len;
    }
    offset += h.length;
  }
  out.bytes = offset;
  return out;
}

BlockPrefix first_block(std::span<const iovec> pieces) {
  PieceReader reader{pieces};
  BlockHead h;
  BlockPrefix out;
  if (!read_head(reader, 0, h) || h.length > total_length(pieces)) return out;
  out.bytes = h.length;
  out.frames = h.is_epb ? 1 : 0;
  out.wire_bytes = h.original_len;
  out.first_timestamp_ns = h.timestamp_ns;
  return out;
}

std::span<iovec> split_pieces(std::span<iovec> pieces, uint64_t bytes, std::vector<iovec>& head) {
  head.clear();
  std::size_t i = 0;
  while (i < pieces.size() && bytes > 0) {
    iovec& p = pieces[i];
    if (p.iov_len <= bytes) {
      head.push_back(p);
      bytes -= p.iov_len;
      ++i;
      continue;
    }
    head.push_back({p.iov_base, static_cast<std::size_t>(bytes)});
    p.iov_base = static_cast<std::byte*>(p.iov_base) + bytes;
    p.iov_len -= static_cast<std::size_t>(bytes);
    bytes = 0;
  }
  return pieces.subspan(i);
}

}  // namespace xesp::output
