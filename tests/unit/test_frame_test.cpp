// Test frames of the traffic generators: the format other tests rebuild captured frames from.
#include "test_frame.hpp"

#include <gtest/gtest.h>

#include <set>

#include "xesp_gen_shared.h"

namespace xesp::gen {
namespace {

FrameSpec spec_of_size(uint32_t size) {
  FrameSpec spec;
  spec.frame_size = size;
  return spec;
}

uint16_t be16(const std::vector<uint8_t>& f, size_t at) {
  return static_cast<uint16_t>((f[at] << 8) | f[at + 1]);
}

TEST(TestFrame, RoundTripFixedSize) {
  FrameSpec spec = spec_of_size(1514);
  spec.src_mac = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
  spec.dst_mac = {0x02, 0x66, 0x77, 0x88, 0x99, 0xaa};
  const auto frame = build_test_frame(spec, 0x0123456789abcdefull);
  ASSERT_EQ(frame.size(), 1514u);
  EXPECT_EQ(std::vector<uint8_t>(frame.begin(), frame.begin() + 6),
            std::vector<uint8_t>(spec.dst_mac.begin(), spec.dst_mac.end()));
  EXPECT_EQ(std::vector<uint8_t>(frame.begin() + 6, frame.begin() + 12),
            std::vector<uint8_t>(spec.src_mac.begin(), spec.src_mac.end()));
  EXPECT_EQ(be16(frame, 12), 0x0800);

  const auto info = parse_test_frame(frame);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->seq, 0x0123456789abcdefull);
  EXPECT_EQ(info->flow, 0);
  EXPECT_EQ(info->frame_len, 1514u);
  EXPECT_EQ(info->captured_len, 1514u);
  EXPECT_EQ(info->src_ip, spec.src_ip);
  EXPECT_EQ(info->dst_ip, spec.dst_ip);
  EXPECT_EQ(info->src_port, spec.src_port);
  EXPECT_EQ(info->dst_port, spec.dst_port);
}

TEST(TestFrame, HeaderLayoutIsBigEndianAtFixedOffsets) {
  const auto frame = build_test_frame(spec_of_size(60), 0x1122334455667788ull);
  EXPECT_EQ(std::string(frame.begin() + 42, frame.begin() + 46), XESP_GEN_MAGIC);
  const std::vector<uint8_t> seq(frame.begin() + 48, frame.begin() + 56);
  EXPECT_EQ(seq, (std::vector<uint8_t>{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88}));
  EXPECT_EQ(be16(frame, 56), 60);  // frame_len
}

TEST(TestFrame, LengthsAndIpv4ChecksumAreCorrect) {
  for (uint32_t size : {60u, 61u, 64u, 128u, 1500u, 1514u, 9000u}) {
    const auto frame = build_test_frame(spec_of_size(size), size * 3);
    ASSERT_EQ(frame.size(), size);
    EXPECT_EQ(be16(frame, 14 + 2), size - 14) << size;       // IPv4 total length
    EXPECT_EQ(be16(frame, 14 + 20 + 4), size - 34) << size;  // UDP length
    // A correct header checksums to zero including its checksum field.
    EXPECT_EQ(internet_checksum({frame.data() + 14, 20}), 0) << size;
    EXPECT_NE(be16(frame, 14 + 10), 0) << size;
  }
}

TEST(TestFrame, InternetChecksumKnownVector) {
  // RFC 1071 style example header (from Wikipedia's IPv4 checksum article): checksum 0xb861.
  const std::vector<uint8_t> ip = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                                   0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  EXPECT_EQ(internet_checksum(ip), 0xb861);
}

TEST(TestFrame, FillIsAPureFunctionOfSeqAndOffset) {
  const FrameSpec spec = spec_of_size(300);
  const auto a = build_test_frame(spec, 7);
  const auto b = build_test_frame(spec, 7);
  const auto c = build_test_frame(spec, 8);
  EXPECT_EQ(a, b);
  for (size_t off = kFillOffset; off < a.size(); ++off) {
    ASSERT_EQ(a[off], fill_byte(7, off)) << off;
  }
  size_t differing = 0;
  for (size_t off = kFillOffset; off < a.size(); ++off) differing += a[off] != c[off];
  EXPECT_GT(differing, (a.size() - kFillOffset) / 2);
  // The fill does not depend on the frame length: a longer frame extends a shorter one.
  const auto longer = build_test_frame(spec_of_size(600), 7);
  EXPECT_TRUE(std::equal(a.begin() + kFillOffset, a.end(), longer.begin() + kFillOffset));
}

TEST(TestFrame, InPlaceVariantWritesTheSameBytes) {
  FrameSpec spec;
  spec.mixed_sizes = true;
  std::vector<uint8_t> buf(spec.max_size(), 0xee);
  for (uint64_t seq = 0; seq < 64; ++seq) {
    const size_t n = write_test_frame(spec, seq, buf);
    ASSERT_EQ(n, spec.size_of(seq));
    EXPECT_EQ(std::vector<uint8_t>(buf.begin(), buf.begin() + n), build_test_frame(spec, seq));
  }
  std::vector<uint8_t> small(59);
  EXPECT_EQ(write_test_frame(spec_of_size(60), 0, small), 0u);
}

TEST(TestFrame, MixedSizesCoverBothEndsAndStayInRange) {
  std::set<uint32_t> sizes;
  for (uint64_t seq = 0; seq < 2 * 2910; ++seq) {
    const uint32_t s = mixed_frame_size(seq);
    ASSERT_GE(s, kMinFrameSize);
    ASSERT_LE(s, kMixedMaxFrameSize);
    sizes.insert(s);
  }
  EXPECT_EQ(mixed_frame_size(0), 60u);
  EXPECT_EQ(mixed_frame_size(1), 1514u);
  EXPECT_EQ(sizes.size(), 1455u);  // every size of 60..1514
  // Far-away sequence numbers stay in range too (no overflow in the arithmetic).
  for (uint64_t seq = ~0ull - 100; seq != 0; ++seq) {
    ASSERT_GE(mixed_frame_size(seq), kMinFrameSize);
    ASSERT_LE(mixed_frame_size(seq), kMixedMaxFrameSize);
  }
}

TEST(TestFrame, MixedSizesArePinned) {
  // The XDP program computes the same sizes; these numbers pin the shared formula.
  EXPECT_EQ(mixed_frame_size(2), 60u);          // j = 0
  EXPECT_EQ(mixed_frame_size(3), 60u + 1021u);  // j = 1
  EXPECT_EQ(mixed_frame_size(6), 60u + 587u);   // j = 2: 2042 % 1455
  FrameSpec spec;
  spec.mixed_sizes = true;
  for (uint64_t seq = 0; seq < 16; ++seq) {
    const auto frame = build_test_frame(spec, seq);
    EXPECT_EQ(frame.size(), mixed_frame_size(seq));
    EXPECT_EQ(parse_test_frame(frame)->frame_len, frame.size());
    EXPECT_EQ(internet_checksum({frame.data() + 14, 20}), 0);
  }
}

TEST(TestFrame, FlowsChangeTheSourcePort) {
  FrameSpec spec;
  spec.flows = 4;
  spec.src_port = 20000;
  std::set<uint16_t> ports;
  for (uint64_t seq = 0; seq < 16; ++seq) {
    const auto info = parse_test_frame(build_test_frame(spec, seq));
    ASSERT_TRUE(info);
    EXPECT_EQ(info->flow, seq % 4);
    EXPECT_EQ(info->src_port, 20000 + seq % 4);
    EXPECT_EQ(info->dst_port, spec.dst_port);
    ports.insert(info->src_port);
  }
  EXPECT_EQ(ports.size(), 4u);
}

TEST(TestFrame, TruncatedFramesParseWhileTheHeaderIsPresent) {
  const auto frame = build_test_frame(spec_of_size(1514), 42);
  for (size_t snap : {size_t{58}, size_t{60}, size_t{64}, size_t{128}}) {
    const auto info = parse_test_frame(std::span(frame).first(snap));
    ASSERT_TRUE(info) << snap;
    EXPECT_EQ(info->seq, 42u);
    EXPECT_EQ(info->frame_len, 1514u);
    EXPECT_EQ(info->captured_len, snap);
  }
  EXPECT_FALSE(parse_test_frame(std::span(frame).first(57)));
  EXPECT_FALSE(parse_test_frame({}));
}

TEST(TestFrame, ForeignFramesDoNotParse) {
  auto frame = build_test_frame(spec_of_size(100), 1);
  auto bad_magic = frame;
  bad_magic[42] ^= 1;
  EXPECT_FALSE(parse_test_frame(bad_magic));
  auto ipv6 = frame;
  ipv6[12] = 0x86;
  ipv6[13] = 0xdd;
  EXPECT_FALSE(parse_test_frame(ipv6));
  auto tcp = frame;
  tcp[14 + 9] = 6;
  EXPECT_FALSE(parse_test_frame(tcp));
}

TEST(TestFrame, LiveFramesKeepTheTemplateFill) {
  FrameSpec spec = spec_of_size(200);
  spec.flows = 3;
  const auto live = build_live_test_frame(spec, 1000, 5);
  const auto own = build_test_frame(spec, 1000);
  const auto tmpl = build_test_frame(spec, 5);
  EXPECT_TRUE(std::equal(live.begin(), live.begin() + kFillOffset, own.begin()));
  EXPECT_TRUE(std::equal(live.begin() + kFillOffset, live.end(), tmpl.begin() + kFillOffset));
  EXPECT_EQ(build_live_test_frame(spec, 5, 5), tmpl);
}

TEST(TestFrame, SpecValidation) {
  EXPECT_TRUE(spec_of_size(60).validate());
  EXPECT_TRUE(spec_of_size(9000).validate());
  EXPECT_FALSE(spec_of_size(59).validate());
  EXPECT_FALSE(spec_of_size(9001).validate());
  FrameSpec mixed = spec_of_size(0);
  mixed.mixed_sizes = true;
  EXPECT_TRUE(mixed.validate());
  FrameSpec flows;
  flows.flows = 0;
  EXPECT_FALSE(flows.validate());
  flows.flows = 16;
  flows.src_port = 65530;
  const Status s = flows.validate();
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("65535"), std::string::npos);
  flows.src_port = 65520;
  EXPECT_TRUE(flows.validate());
}

TEST(TestFrame, AddressParsing) {
  auto mac = parse_mac("02:AB:cd:00:01:ff");
  ASSERT_TRUE(mac);
  EXPECT_EQ(format_mac(*mac), "02:ab:cd:00:01:ff");
  EXPECT_FALSE(parse_mac("02:ab:cd:00:01"));
  EXPECT_FALSE(parse_mac("02:ab:cd:00:01:fg"));
  EXPECT_FALSE(parse_mac("02ab:cd:00:01:ff:1"));
  const auto bad = parse_mac("zz");
  EXPECT_NE(bad.error().message.find("'zz'"), std::string::npos);
  auto ip = parse_ipv4("198.18.0.1");
  ASSERT_TRUE(ip);
  EXPECT_EQ(*ip, 0xC6120001u);
  EXPECT_EQ(format_ipv4(*ip), "198.18.0.1");
  EXPECT_FALSE(parse_ipv4("198.18.0"));
}

}  // namespace
}  // namespace xesp::gen
