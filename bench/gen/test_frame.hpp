// Test frames of xesp's traffic generators: Ethernet II + IPv4 + UDP, a small header (magic,
// flow, sequence number, frame length; layout in xesp_gen_shared.h) and a fill pattern that is a
// pure function of (fill sequence, offset), so a test can rebuild every byte it should capture.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace xesp::gen {

using MacAddress = std::array<uint8_t, 6>;

inline constexpr uint32_t kMinFrameSize = 60;         // Ethernet minimum, FCS not counted
inline constexpr uint32_t kMaxFrameSize = 9000;       // beyond the veth MTU unless raised
inline constexpr uint32_t kMixedMaxFrameSize = 1514;  // top of the mixed spread (MTU 1500)
inline constexpr size_t kTestHeaderOffset = 42;       // Ethernet + IPv4 + UDP
inline constexpr size_t kFillOffset = 58;             // first byte after the test header
inline constexpr MacAddress kBroadcastMac = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

// One stream of test frames. IPv4 addresses are host-order numbers (198.18.0.1 = 0xC6120001).
struct FrameSpec {
  MacAddress src_mac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};  // locally administered
  // Broadcast by default: a frame that reaches some stack by mistake is not addressed to it at
  // L2, and IPv4 forwarding never routes such a frame on (ip_forward drops non-PACKET_HOST).
  MacAddress dst_mac = kBroadcastMac;
  // 198.18.0.0/15 is the benchmark range (RFC 2544): a test namespace owns no such address, so
  // its stack drops the frames quietly after XDP has seen them.
  uint32_t src_ip = 0xC6120001;  // 198.18.0.1
  uint32_t dst_ip = 0xC6130001;  // 198.19.0.1
  uint16_t src_port = 10000;     // flow f sends from src_port + f
  uint16_t dst_port = 10000;
  // Flow of frame seq = seq % flows. Flows differ in the UDP source port only, which is enough
  // for the kernel's flow hash to spread them over the TX queues of a multi-queue veth.
  uint32_t flows = 1;
  uint32_t frame_size = 60;  // every frame this long (64 on the wire with FCS), unless mixed_sizes
  bool mixed_sizes = false;  // sizes from mixed_frame_size(seq) instead

  // Size of frame `seq`.
  uint32_t size_of(uint64_t seq) const noexcept;
  // Largest frame of the stream (buffer size for write_test_frame).
  uint32_t max_size() const noexcept;
  // Checks sizes (60..9000), flows (1..65536) and that every flow's port fits in 16 bits.
  Status validate() const;
};

// What a test frame says about itself.
struct TestFrameInfo {
  uint64_t seq = 0;
  uint16_t flow = 0;
  uint32_t frame_len = 0;     // length of the frame as sent, from the test header
  uint32_t captured_len = 0;  // bytes handed to parse_test_frame (less when truncated)
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint32_t src_ip = 0;  // host order
  uint32_t dst_ip = 0;
};

// A deterministic spread over 60..1514: seq % 4 == 0 gives 60, seq % 4 == 1 gives 1514, and the
// other half walks a permutation of all 1455 sizes, so any 2910 consecutive frames hold every size
// once more besides the two ends. The XDP program of the live generator computes the same.
uint32_t mixed_frame_size(uint64_t seq) noexcept;

// Byte `offset` (counted from the frame start) of the fill of a frame built for `fill_seq`.
uint8_t fill_byte(uint64_t fill_seq, size_t offset) noexcept;

// Frame `seq` of the stream. The spec must be valid.
std::vector<uint8_t> build_test_frame(const FrameSpec& spec, uint64_t seq);

// Writes frame `seq` into out[0 .. size) and returns its size; out must hold spec.size_of(seq).
size_t write_test_frame(const FrameSpec& spec, uint64_t seq, std::span<uint8_t> out) noexcept;

// The frame the live generator sends for `seq`: its XDP program rewrites only the header fields
// (sequence, flow, source port, lengths), so the fill stays that of the template it was started
// with, built for `template_seq`.
std::vector<uint8_t> build_live_test_frame(const FrameSpec& spec, uint64_t seq,
                                           uint64_t template_seq);

// Reads the test header of a frame, which may be truncated (snap length) as long as the
// Ethernet, IPv4 and UDP headers and the test header are present. Nullopt: not a test frame.
std::optional<TestFrameInfo> parse_test_frame(std::span<const uint8_t> frame) noexcept;

// RFC 1071 checksum over `bytes` (the IPv4 header checksum when run over the header).
uint16_t internet_checksum(std::span<const uint8_t> bytes) noexcept;

Result<MacAddress> parse_mac(std::string_view text);
std::string format_mac(const MacAddress& mac);
// Dotted quad to a host-order number.
Result<uint32_t> parse_ipv4(std::string_view text);
std::string format_ipv4(uint32_t ip);

}  // namespace xesp::gen
