// pcapng wire constants (draft-ietf-opsawg-pcapng), shared by the writer, the hot-path encoder and
// the reader so the three cannot drift apart.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

namespace xesp::pcapng {

// We encode with plain memcpy of host integers; a big-endian host would need byte swaps on the
// hot path, and no target we ship is big-endian.
static_assert(std::endian::native == std::endian::little,
              "pcapng encoding assumes a little-endian host");

// Block types.
inline constexpr uint32_t kBlockSectionHeader = 0x0A0D0D0A;
inline constexpr uint32_t kBlockInterfaceDescription = 0x00000001;
inline constexpr uint32_t kBlockSimplePacket = 0x00000003;
inline constexpr uint32_t kBlockInterfaceStatistics = 0x00000005;
inline constexpr uint32_t kBlockEnhancedPacket = 0x00000006;

// The SHB magic as read on a host of the same / the other byte order as the writer.
inline constexpr uint32_t kByteOrderMagic = 0x1A2B3C4D;
inline constexpr uint32_t kByteOrderMagicSwapped = 0x4D3C2B1A;
inline constexpr uint16_t kVersionMajor = 1;
inline constexpr uint16_t kVersionMinor = 0;
inline constexpr int64_t kSectionLengthUnknown = -1;

// Options valid in every block.
inline constexpr uint16_t kOptEndOfOpt = 0;
inline constexpr uint16_t kOptComment = 1;

// Section Header Block options.
inline constexpr uint16_t kShbHardware = 2;
inline constexpr uint16_t kShbOs = 3;
inline constexpr uint16_t kShbUserAppl = 4;

// Interface Description Block options.
inline constexpr uint16_t kIfName = 2;
inline constexpr uint16_t kIfDescription = 3;
inline constexpr uint16_t kIfTsresol = 9;
inline constexpr uint16_t kIfFilter = 11;
inline constexpr uint16_t kIfOs = 12;
inline constexpr uint16_t kIfTsoffset = 14;
// First byte of an if_filter value: the rest is a libpcap filter string.
inline constexpr uint8_t kIfFilterLibpcapString = 0;
// if_tsresol value absent the option: microseconds.
inline constexpr uint8_t kIfTsresolDefault = 6;
// Every IDB we write carries if_tsresol = 9, so our EPB timestamps are plain nanoseconds.
inline constexpr uint8_t kIfTsresolNanoseconds = 9;

// Enhanced Packet Block options.
inline constexpr uint16_t kEpbFlags = 2;

// Interface Statistics Block options.
inline constexpr uint16_t kIsbStartTime = 2;
inline constexpr uint16_t kIsbEndTime = 3;
inline constexpr uint16_t kIsbIfRecv = 4;
inline constexpr uint16_t kIsbIfDrop = 5;
inline constexpr uint16_t kIsbFilterAccept = 6;
inline constexpr uint16_t kIsbOsDrop = 7;
inline constexpr uint16_t kIsbUsrDeliv = 8;

// Block framing: type + total length in front, total length again behind.
inline constexpr std::size_t kBlockHeaderSize = 8;
inline constexpr std::size_t kBlockTrailerSize = 4;
inline constexpr std::size_t kBlockMinSize = kBlockHeaderSize + kBlockTrailerSize;
// EPB fixed part: header, interface id, ts high, ts low, captured len, original len, trailer.
inline constexpr std::size_t kEpbFixedSize = kBlockHeaderSize + 20 + kBlockTrailerSize;
// Option header: code + length.
inline constexpr std::size_t kOptionHeaderSize = 4;
// An option value's length field is 16 bits.
inline constexpr std::size_t kOptionMaxValueSize = 0xFFFF;

// Bytes of padding-inclusive storage for n bytes of block body data (32-bit alignment).
constexpr std::size_t padded_size(std::size_t n) noexcept { return (n + 3) & ~std::size_t{3}; }

}  // namespace xesp::pcapng
