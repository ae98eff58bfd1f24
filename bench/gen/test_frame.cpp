#include "test_frame.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>

#include "xesp_gen_shared.h"

namespace xesp::gen {

static_assert(sizeof(xesp_gen_header) == XESP_GEN_HEADER_SIZE);
static_assert(XESP_GEN_PAYLOAD_OFFSET + XESP_GEN_HEADER_SIZE == XESP_GEN_FILL_OFFSET);
static_assert(kTestHeaderOffset == XESP_GEN_PAYLOAD_OFFSET && kFillOffset == XESP_GEN_FILL_OFFSET);
static_assert(kMinFrameSize == XESP_GEN_MIN_FRAME && kMaxFrameSize == XESP_GEN_MAX_FRAME);
static_assert(kMixedMaxFrameSize == XESP_GEN_MIXED_MAX_FRAME);
static_assert(kFillOffset <= kMinFrameSize, "the test header must fit the smallest frame");
static_assert(sizeof(XESP_GEN_MAGIC) == XESP_GEN_MAGIC_LEN + 1);

namespace {

constexpr size_t kIpOffset = XESP_GEN_ETH_LEN;
constexpr size_t kUdpOffset = XESP_GEN_ETH_LEN + XESP_GEN_IPV4_LEN;

void put16(uint8_t* p, uint16_t v) noexcept {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) noexcept {
  put16(p, static_cast<uint16_t>(v >> 16));
  put16(p + 2, static_cast<uint16_t>(v));
}
void put64(uint8_t* p, uint64_t v) noexcept {
  put32(p, static_cast<uint32_t>(v >> 32));
  put32(p + 4, static_cast<uint32_t>(v));
}
uint16_t get16(const uint8_t* p) noexcept { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t get32(const uint8_t* p) noexcept {
  return (static_cast<uint32_t>(get16(p)) << 16) | get16(p + 2);
}
uint64_t get64(const uint8_t* p) noexcept {
  return (static_cast<uint64_t>(get32(p)) << 32) | get32(p + 4);
}

// 8 fill bytes at a time: byte b of word w (offset = 8w + b from the frame start). Mixing the
// sequence in makes a frame whose header and body come from different frames (a stale buffer)
// show up as a byte mismatch.
constexpr uint64_t kFillSeqMul = 0x9E3779B97F4A7C15ull;
constexpr uint64_t kFillWordMul = 0xD6E8FEB86659FD93ull;

uint64_t fill_mix(uint64_t x) noexcept { return x ^ (x >> 29); }

uint64_t fill_word(uint64_t fill_seq, uint64_t word) noexcept {
  return fill_mix((fill_seq + 1) * kFillSeqMul + word * kFillWordMul);
}

void write_fill(uint64_t fill_seq, std::span<uint8_t> frame, size_t from) noexcept {
  size_t off = from;
  // Head and tail byte by byte; whole words in between with one store each. This loop is what
  // limits the packet-socket sender with large frames, so it matters (byte-wise it took ~2.5 us
  // for a 1514-byte frame, word-wise ~0.15 us).
  for (; off < frame.size() && off % 8 != 0; ++off) frame[off] = fill_byte(fill_seq, off);
  if constexpr (std::endian::native == std::endian::little) {
    // fill_word's linear part advances by kFillWordMul per word: no multiply in the loop.
    uint64_t x = (fill_seq + 1) * kFillSeqMul + (off / 8) * kFillWordMul;
    for (; off + 8 <= frame.size(); off += 8, x += kFillWordMul) {
      const uint64_t word = fill_mix(x);
      std::memcpy(&frame[off], &word, 8);  // byte b of the word lands at offset 8w + b
    }
  }
  for (; off < frame.size(); ++off) frame[off] = fill_byte(fill_seq, off);
}

// Everything but the fill.
void write_headers(const FrameSpec& spec, uint64_t seq, uint32_t size, uint8_t* f) noexcept {
  const auto flow = static_cast<uint16_t>(spec.flows > 1 ? seq % spec.flows : 0);
  std::memcpy(f, spec.dst_mac.data(), 6);
  std::memcpy(f + 6, spec.src_mac.data(), 6);
  put16(f + 12, 0x0800);  // IPv4

  uint8_t* ip = f + kIpOffset;
  ip[0] = 0x45;  // version 4, 20-byte header
  ip[1] = 0;     // DSCP/ECN
  put16(ip + 2, static_cast<uint16_t>(size - kIpOffset));
  put16(ip + 4, 0);       // identification: fixed, so the XDP program never has to re-checksum
  put16(ip + 6, 0x4000);  // don't fragment
  ip[8] = 64;             // TTL
  ip[9] = 17;             // UDP
  put16(ip + 10, 0);
  put32(ip + 12, spec.src_ip);
  put32(ip + 16, spec.dst_ip);
  put16(ip + 10, internet_checksum({ip, XESP_GEN_IPV4_LEN}));

  uint8_t* udp = f + kUdpOffset;
  put16(udp, static_cast<uint16_t>(spec.src_port + flow));
  put16(udp + 2, spec.dst_port);
  put16(udp + 4, static_cast<uint16_t>(size - kUdpOffset));
  put16(udp + 6, 0);  // no UDP checksum (allowed over IPv4): ports can change without fix-up

  uint8_t* h = f + kTestHeaderOffset;
  std::memcpy(h + offsetof(xesp_gen_header, magic), XESP_GEN_MAGIC, XESP_GEN_MAGIC_LEN);
  put16(h + offsetof(xesp_gen_header, flow), flow);
  put64(h + offsetof(xesp_gen_header, seq), seq);
  put16(h + offsetof(xesp_gen_header, frame_len), static_cast<uint16_t>(size));
}

}  // namespace

uint32_t FrameSpec::size_of(uint64_t seq) const noexcept {
  return mixed_sizes ? mixed_frame_size(seq) : frame_size;
}

uint32_t FrameSpec::max_size() const noexcept {
  return mixed_sizes ? kMixedMaxFrameSize : frame_size;
}

Status FrameSpec::validate() const {
  if (!mixed_sizes && (frame_size < kMinFrameSize || frame_size > kMaxFrameSize)) {
    return Error::nm(nmerr::invalid_parameter,
                     "frame size " + std::to_string(frame_size) + ": must be within " +
                         std::to_string(kMinFrameSize) + ".." + std::to_string(kMaxFrameSize));
  }
  if (flows < 1 || flows > 65536) {
    return Error::nm(nmerr::invalid_parameter,
                     "flows " + std::to_string(flows) + ": must be within 1..65536");
  }
  if (uint32_t{src_port} + flows - 1 > 65535) {
    return Error::nm(nmerr::invalid_parameter, "source port " + std::to_string(src_port) + " + " +
                                                   std::to_string(flows) +
                                                   " flows: the last flow's port would pass 65535");
  }
  return {};
}

uint32_t mixed_frame_size(uint64_t seq) noexcept {
  if ((seq & 3) == 0) return kMinFrameSize;
  if ((seq & 3) == 1) return kMixedMaxFrameSize;
  const uint64_t j = (seq >> 2) * 2 + (seq & 1);
  constexpr uint64_t kSpan = kMixedMaxFrameSize - kMinFrameSize + 1;  // 1455 = 3 * 5 * 97
  // 1021 is prime and shares no factor with 1455, so j -> j * 1021 mod 1455 is a permutation.
  return kMinFrameSize + static_cast<uint32_t>(((j % kSpan) * 1021) % kSpan);
}

uint8_t fill_byte(uint64_t fill_seq, size_t offset) noexcept {
  return static_cast<uint8_t>(fill_word(fill_seq, offset / 8) >> (8 * (offset % 8)));
}

size_t write_test_frame(const FrameSpec& spec, uint64_t seq, std::span<uint8_t> out) noexcept {
  const uint32_t size = spec.size_of(seq);
  if (out.size() < size) return 0;
  write_headers(spec, seq, size, out.data());
  write_fill(seq, out.first(size), kFillOffset);
  return size;
}

std::vector<uint8_t> build_test_frame(const FrameSpec& spec, uint64_t seq) {
  std::vector<uint8_t> frame(spec.size_of(seq));
  write_test_frame(spec, seq, frame);
  return frame;
}

std::vector<uint8_t> build_live_test_frame(const FrameSpec& spec, uint64_t seq,
                                           uint64_t template_seq) {
  std::vector<uint8_t> frame(spec.size_of(seq));
  write_headers(spec, seq, static_cast<uint32_t>(frame.size()), frame.data());
  write_fill(template_seq, frame, kFillOffset);
  return frame;
}

std::optional<TestFrameInfo> parse_test_frame(std::span<const uint8_t> frame) noexcept {
  if (frame.size() < kFillOffset) return std::nullopt;
  const uint8_t* f = frame.data();
  const uint8_t* ip = f + kIpOffset;
  const uint8_t* udp = f + kUdpOffset;
  const uint8_t* h = f + kTestHeaderOffset;
  if (get16(f + 12) != 0x0800 || ip[0] != 0x45 || ip[9] != 17) return std::nullopt;
  if (std::memcmp(h, XESP_GEN_MAGIC, XESP_GEN_MAGIC_LEN) != 0) return std::nullopt;
  TestFrameInfo info;
  info.seq = get64(h + offsetof(xesp_gen_header, seq));
  info.flow = get16(h + offsetof(xesp_gen_header, flow));
  info.frame_len = get16(h + offsetof(xesp_gen_header, frame_len));
  info.captured_len = static_cast<uint32_t>(frame.size());
  info.src_port = get16(udp);
  info.dst_port = get16(udp + 2);
  info.src_ip = get32(ip + 12);
  info.dst_ip = get32(ip + 16);
  return info;
}

uint16_t internet_checksum(std::span<const uint8_t> bytes) noexcept {
  uint32_t sum = 0;
  size_t i = 0;
  for (; i + 1 < bytes.size(); i += 2) sum += get16(&bytes[i]);
  if (i < bytes.size()) sum += static_cast<uint32_t>(bytes[i]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

Result<MacAddress> parse_mac(std::string_view text) {
  MacAddress mac{};
  const auto bad = [&] {
    return Error::nm(
        nmerr::invalid_parameter,
        "MAC address '" + std::string(text) + "': expected six hex bytes like 02:00:00:00:00:01");
  };
  if (text.size() != 17) return bad();
  for (size_t i = 0; i < 6; ++i) {
    if (i > 0 && text[3 * i - 1] != ':' && text[3 * i - 1] != '-') return bad();
    unsigned value = 0;
    for (size_t k = 0; k < 2; ++k) {
      const char c = text[3 * i + k];
      unsigned digit = 0;
      if (c >= '0' && c <= '9')
        digit = static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f')
        digit = static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        digit = static_cast<unsigned>(c - 'A' + 10);
      else
        return bad();
      value = value * 16 + digit;
    }
    mac[i] = static_cast<uint8_t>(value);
  }
  return mac;
}

std::string format_mac(const MacAddress& mac) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                mac[4], mac[5]);
  return buf;
}

Result<uint32_t> parse_ipv4(std::string_view text) {
  in_addr addr{};
  const std::string s(text);
  if (::inet_pton(AF_INET, s.c_str(), &addr) != 1) {
    return Error::nm(nmerr::invalid_parameter,
                     "IPv4 address '" + s + "': expected a dotted quad like 198.18.0.1");
  }
  return ntohl(addr.s_addr);
}

std::string format_ipv4(uint32_t ip) {
  return std::to_string(ip >> 24) + "." + std::to_string((ip >> 16) & 0xff) + "." +
         std::to_string((ip >> 8) & 0xff) + "." + std::to_string(ip & 0xff);
}

}  // namespace xesp::gen
