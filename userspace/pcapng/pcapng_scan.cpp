#include "pcapng/pcapng_scan.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string_view>

#include "pcapng/pcapng_format.hpp"

namespace xesp {
namespace {

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

// Formats that are not pcapng but are easily taken for it, by their first bytes.
struct Magic {
  std::string_view bytes;
  const char* what;
};
constexpr Magic kForeignMagics[] = {
    {"\x1f\x8b", "gzip-compressed: decompress it first (gunzip)"},
    {"\x28\xb5\x2f\xfd", "zstd-compressed: decompress it first (unzstd)"},
    {"\x04\x22\x4d\x18", "lz4-compressed: decompress it first (unlz4)"},
    {"\xd4\xc3\xb2\xa1", "a pcap file, not pcapng"},
    {"\xa1\xb2\xc3\xd4", "a pcap file, not pcapng"},
    {"\x4d\x3c\xb2\xa1", "a pcap file (nanosecond), not pcapng"},
    {"\xa1\xb2\x3c\x4d", "a pcap file (nanosecond), not pcapng"},
};

const char* foreign_format(std::span<const std::byte> bytes) {
  for (const Magic& m : kForeignMagics) {
    if (bytes.size() >= m.bytes.size() &&
        std::memcmp(bytes.data(), m.bytes.data(), m.bytes.size()) == 0)
      return m.what;
  }
  return nullptr;
}

bool zeros_to_the_end(std::span<const std::byte> rest) {
  for (std::byte b : rest) {
    if (b != std::byte{0}) return false;
  }
  return true;
}

class Scanner {
 public:
  explicit Scanner(std::span<const std::byte> bytes) : bytes_(bytes) {}

  // Checks the block at off; on success returns its total length, else the reason it is not a
  // whole block.
  std::optional<std::string> check(std::size_t off, uint32_t* total_out) {
    const std::size_t left = bytes_.size() - off;
    if (left < pcapng::kBlockMinSize) {
      return std::to_string(left) + " byte(s) left, fewer than the 12 of the smallest block";
    }
    const uint32_t raw_type = raw_u32(off);
    const bool shb = raw_type == pcapng::kBlockSectionHeader;
    bool swapped = swapped_;
    if (shb) {
      const uint32_t magic = raw_u32(off + 8);
      if (magic == pcapng::kByteOrderMagic) {
        swapped = false;
      } else if (magic == pcapng::kByteOrderMagicSwapped) {
        swapped = true;
      } else {
        return "section header block with a bad byte-order magic " + hex32(magic);
      }
    } else if (!plausible_block_type(order(raw_type, swapped))) {
      return "implausible block type " + hex32(order(raw_type, swapped));
    }
    const uint32_t type = order(raw_type, swapped);
    const uint32_t total = order(raw_u32(off + 4), swapped);
    if (total < pcapng::kBlockMinSize) {
      return "block total length " + std::to_string(total) + " is smaller than 12";
    }
    if (total % 4 != 0) {
      return "block total length " + std::to_string(total) + " is not a multiple of 4";
    }
    if (total > left) {
      return "block total length " + std::to_string(total) + " runs past the end (" +
             std::to_string(left) + " bytes left)";
    }
    const uint32_t trailing = order(raw_u32(off + total - pcapng::kBlockTrailerSize), swapped);
    if (trailing != total) {
      return "trailing block total length " + std::to_string(trailing) +
             " differs from the leading " + std::to_string(total);
    }
    const std::size_t body = off + pcapng::kBlockHeaderSize;
    const std::size_t body_size = total - pcapng::kBlockMinSize;
    auto short_body = [&](std::size_t need, const char* kind) -> std::optional<std::string> {
      if (body_size >= need) return std::nullopt;
      return std::string(kind) + " body of " + std::to_string(body_size) +
             " bytes is shorter than its fixed part (" + std::to_string(need) + ")";
    };
    // An interface id of the current section (there is one: the first block is an SHB).
    auto unknown_interface = [&](uint32_t id) -> std::optional<std::string> {
      if (id < interfaces_) return std::nullopt;
      return "interface id " + std::to_string(id) + " but the section has " +
             std::to_string(interfaces_) + " interface(s)";
    };
    switch (type) {
      case pcapng::kBlockSectionHeader: {
        if (auto r = short_body(16, "section header block")) return r;
        const uint16_t major = order16(body + 4, swapped);
        if (major != pcapng::kVersionMajor) {
          return "section header block of pcapng version " + std::to_string(major) + "." +
                 std::to_string(order16(body + 6, swapped));
        }
        swapped_ = swapped;
        interfaces_ = 0;
        ++sections_;
        break;
      }
      case pcapng::kBlockInterfaceDescription:
        if (auto r = short_body(8, "interface description block")) return r;
        ++interfaces_;
        break;
      case pcapng::kBlockEnhancedPacket: {
        if (auto r = short_body(20, "enhanced packet block")) return r;
        if (auto r = unknown_interface(order(raw_u32(body), swapped))) return r;
        const uint32_t captured = order(raw_u32(body + 12), swapped);
        if (pcapng::padded_size(captured) > body_size - 20) {
          return "captured length " + std::to_string(captured) +
                 " runs past the end of its enhanced packet block";
        }
        ++frames_;
        break;
      }
      case pcapng::kBlockSimplePacket:
        if (auto r = short_body(4, "simple packet block")) return r;
        if (auto r = unknown_interface(0)) return r;
        ++frames_;
        break;
      case pcapng::kBlockInterfaceStatistics:
        if (auto r = short_body(12, "interface statistics block")) return r;
        if (auto r = unknown_interface(order(raw_u32(body), swapped))) return r;
        break;
      default:
        break;
    }
    *total_out = total;
    return std::nullopt;
  }

  uint64_t frames() const { return frames_; }
  uint32_t sections() const { return sections_; }

 private:
  static uint32_t order(uint32_t v, bool swapped) { return swapped ? __builtin_bswap32(v) : v; }
  uint32_t raw_u32(std::size_t at) const {
    uint32_t v;
    std::memcpy(&v, bytes_.data() + at, sizeof(v));
    return v;
  }
  uint16_t order16(std::size_t at, bool swapped) const {
    uint16_t v;
    std::memcpy(&v, bytes_.data() + at, sizeof(v));
    return swapped ? __builtin_bswap16(v) : v;
  }

  std::span<const std::byte> bytes_;
  bool swapped_ = false;     // the current section's byte order
  uint32_t interfaces_ = 0;  // IDBs of the current section so far
  uint32_t sections_ = 0;
  uint64_t frames_ = 0;
};

}  // namespace

bool plausible_block_type(uint32_t type) noexcept {
  if (type == pcapng::kBlockSectionHeader) return true;
  if (type >= 0x00000001 && type <= 0x0000000A) return true;  // IDB .. Decryption Secrets
  if (type >= 0x00000101 && type <= 0x000002FF) return true;  // Hone, Sysdig
  if (type == 0x00000BAD || type == 0x40000BAD) return true;  // custom blocks
  return (type & 0x80000000u) != 0;                           // local use
}

Result<PcapngScan> scan_pcapng(std::span<const std::byte> bytes, const std::string& name) {
  auto refuse = [&](int err, const std::string& why) {
    return Error{std::error_code(err, std::system_category()), name + ": " + why};
  };
  if (bytes.empty()) return refuse(EBADMSG, "empty: no section header block");
  if (const char* foreign = foreign_format(bytes)) return refuse(EOPNOTSUPP, foreign);
  uint32_t first_type = 0;
  std::memcpy(&first_type, bytes.data(), std::min(bytes.size(), sizeof(first_type)));
  if (first_type != pcapng::kBlockSectionHeader) {
    return refuse(EBADMSG, "not pcapng: it does not begin with a section header block");
  }

  Scanner scanner(bytes);
  PcapngScan scan;
  scan.size = bytes.size();
  std::size_t off = 0;
  while (off < bytes.size()) {
    uint32_t total = 0;
    if (auto reason = scanner.check(off, &total)) {
      if (off == 0) return refuse(EBADMSG, "its section header block is not whole: " + *reason);
      scan.stop_reason = zeros_to_the_end(bytes.subspan(off))
                             ? "zeros to the end (a file grown ahead of its writes, whose "
                               "writer never cut it back)"
                             : std::move(*reason);
      break;
    }
    off += total;
    ++scan.blocks;
  }
  scan.whole_size = off;
  scan.frames = scanner.frames();
  scan.sections = scanner.sections();
  return scan;
}

}  // namespace xesp
