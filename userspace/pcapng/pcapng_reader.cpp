#include "pcapng/pcapng_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "base/unique_fd.hpp"
#include "pcapng/pcapng_format.hpp"

namespace xesp {
namespace {

// std::byteswap is C++23.
uint16_t swap_bytes(uint16_t v) { return __builtin_bswap16(v); }
uint32_t swap_bytes(uint32_t v) { return __builtin_bswap32(v); }
uint64_t swap_bytes(uint64_t v) { return __builtin_bswap64(v); }

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

class Parser {
 public:
  Parser(std::span<const std::byte> bytes, std::string name)
      : bytes_(bytes), name_(std::move(name)) {}

  Result<PcapngFile> run() {
    std::size_t off = 0;
    while (off < bytes_.size()) {
      const std::size_t left = bytes_.size() - off;
      if (left < pcapng::kBlockMinSize) {
        return bad(off, "truncated block: " + std::to_string(left) +
                            " bytes left, a block needs at least 12");
      }
      const uint32_t raw_type = raw_u32(off);
      if (raw_type == pcapng::kBlockSectionHeader) {
        // The SHB type is a byte-order palindrome; its magic tells how to read everything after,
        // up to the next SHB (each section has its own byte order).
        const uint32_t magic = raw_u32(off + 8);
        if (magic == pcapng::kByteOrderMagic) {
          swapped_ = false;
        } else if (magic == pcapng::kByteOrderMagicSwapped) {
          swapped_ = true;
        } else {
          return bad(off, "bad byte-order magic " + hex32(magic));
        }
      } else if (file_.sections.empty()) {
        return bad(off, "not pcapng: first block has type " + hex32(raw_type) +
                            ", not a section header block");
      }
      const uint32_t type = u32(off);
      const uint32_t total = u32(off + 4);
      if (total < pcapng::kBlockMinSize) {
        return bad(off, "block total length " + std::to_string(total) + " is smaller than 12");
      }
      if (total % 4 != 0) {
        return bad(off, "block total length " + std::to_string(total) + " is not a multiple of 4");
      }
      if (total > left) {
        return bad(off, "block total length " + std::to_string(total) + " runs past the end (" +
                            std::to_string(left) + " bytes left): truncated");
      }
      const uint32_t trailing = u32(off + total - pcapng::kBlockTrailerSize);
      if (trailing != total) {
        return bad(off, "trailing block total length " + std::to_string(trailing) +
                            " differs from the leading " + std::to_string(total));
      }
      const std::size_t body = off + pcapng::kBlockHeaderSize;
      const std::size_t body_size = total - pcapng::kBlockMinSize;
      Status s;
      switch (type) {
        case pcapng::kBlockSectionHeader:
          s = parse_shb(off, body, body_size);
          break;
        case pcapng::kBlockInterfaceDescription:
          s = parse_idb(off, body, body_size);
          break;
        case pcapng::kBlockEnhancedPacket:
          s = parse_epb(off, body, body_size);
          break;
        case pcapng::kBlockSimplePacket:
          s = parse_spb(off, body, body_size);
          break;
        case pcapng::kBlockInterfaceStatistics:
          s = parse_isb(off, body, body_size);
          break;
        default:
          file_.unknown_block_types.push_back(type);
          break;
      }
      if (!s) return std::move(s).error();
      off += total;
    }
    if (file_.sections.empty()) return bad(0, "empty: no section header block");
    file_.shb = file_.sections.front();
    return std::move(file_);
  }

 private:
  Error bad(std::size_t offset, const std::string& what) const {
    return Error{std::error_code(EBADMSG, std::system_category()),
                 name_ + ": offset " + std::to_string(offset) + ": " + what};
  }

  uint32_t raw_u32(std::size_t at) const {
    uint32_t v;
    std::memcpy(&v, bytes_.data() + at, sizeof(v));
    return v;
  }
  uint16_t u16(std::size_t at) const {
    uint16_t v;
    std::memcpy(&v, bytes_.data() + at, sizeof(v));
    return swapped_ ? swap_bytes(v) : v;
  }
  uint32_t u32(std::size_t at) const {
    const uint32_t v = raw_u32(at);
    return swapped_ ? swap_bytes(v) : v;
  }
  uint64_t u64(std::size_t at) const {
    uint64_t v;
    std::memcpy(&v, bytes_.data() + at, sizeof(v));
    return swapped_ ? swap_bytes(v) : v;
  }
  // High 32 bits first, each half in the section's byte order (EPB and isb_*time layout).
  uint64_t timestamp(std::size_t at) const { return (uint64_t{u32(at)} << 32) | u32(at + 4); }

  Result<std::vector<PcapngOption>> parse_options(std::size_t pos, std::size_t end) const {
    std::vector<PcapngOption> options;
    while (end - pos >= pcapng::kOptionHeaderSize) {
      const uint16_t code = u16(pos);
      const uint16_t len = u16(pos + 2);
      if (code == pcapng::kOptEndOfOpt) break;
      const std::size_t value = pos + pcapng::kOptionHeaderSize;
      if (pcapng::padded_size(len) > end - value) {
        return bad(pos, "option " + std::to_string(code) + " of length " + std::to_string(len) +
                            " runs past the end of its block");
      }
      const auto* p = reinterpret_cast<const uint8_t*>(bytes_.data() + value);
      options.push_back({code, std::vector<uint8_t>(p, p + len)});
      pos = value + pcapng::padded_size(len);
    }
    return options;
  }

  static std::string text(const PcapngOption& o) { return {o.value.begin(), o.value.end()}; }

  Result<uint64_t> option_u64(std::size_t block, const PcapngOption& o) const {
    if (o.value.size() != 8) {
      return bad(block, "option " + std::to_string(o.code) + " has length " +
                            std::to_string(o.value.size()) + ", expected 8");
    }
    uint64_t v;
    std::memcpy(&v, o.value.data(), sizeof(v));
    return swapped_ ? swap_bytes(v) : v;
  }
  Result<uint64_t> option_timestamp(std::size_t block, const PcapngOption& o) const {
    if (o.value.size() != 8) {
      return bad(block, "option " + std::to_string(o.code) + " has length " +
                            std::to_string(o.value.size()) + ", expected 8");
    }
    uint32_t hi, lo;
    std::memcpy(&hi, o.value.data(), 4);
    std::memcpy(&lo, o.value.data() + 4, 4);
    if (swapped_) {
      hi = swap_bytes(hi);
      lo = swap_bytes(lo);
    }
    return (uint64_t{hi} << 32) | lo;
  }

  Status check_body(std::size_t off, std::size_t body_size, std::size_t need,
                    const char* kind) const {
    if (body_size >= need) return {};
    return bad(off, std::string(kind) + " body of " + std::to_string(body_size) +
                        " bytes is shorter than its fixed part (" + std::to_string(need) + ")");
  }

  Status parse_shb(std::size_t off, std::size_t body, std::size_t body_size) {
    if (auto s = check_body(off, body_size, 16, "section header block"); !s) return s;
    PcapngSection shb;
    shb.block_offset = off;
    shb.first_interface = static_cast<uint32_t>(file_.interfaces.size());
    shb.swapped = swapped_;
    shb.major_version = u16(body + 4);
    shb.minor_version = u16(body + 6);
    shb.section_length = static_cast<int64_t>(u64(body + 8));
    if (shb.major_version != pcapng::kVersionMajor) {
      return bad(off, "unsupported pcapng version " + std::to_string(shb.major_version) + "." +
                          std::to_string(shb.minor_version));
    }
    auto options = parse_options(body + 16, body + body_size);
    if (!options) return std::move(options).error();
    for (const PcapngOption& o : options.value()) {
      switch (o.code) {
        case pcapng::kOptComment:
          shb.comments.push_back(text(o));
          break;
        case pcapng::kShbHardware:
          shb.hardware = text(o);
          break;
        case pcapng::kShbOs:
          shb.os = text(o);
          break;
        case pcapng::kShbUserAppl:
          shb.user_appl = text(o);
          break;
        default:
          break;
      }
    }
    shb.options = std::move(options).value();
    file_.sections.push_back(std::move(shb));
    return {};
  }

  Status parse_idb(std::size_t off, std::size_t body, std::size_t body_size) {
    if (auto s = check_body(off, body_size, 8, "interface description block"); !s) return s;
    PcapngInterface itf;
    itf.section = section_index();
    itf.link_type = u16(body);
    itf.snap_len = u32(body + 4);
    auto options = parse_options(body + 8, body + body_size);
    if (!options) return std::move(options).error();
    for (const PcapngOption& o : options.value()) {
      switch (o.code) {
        case pcapng::kOptComment:
          itf.comments.push_back(text(o));
          break;
        case pcapng::kIfName:
          itf.name = text(o);
          break;
        case pcapng::kIfDescription:
          itf.description = text(o);
          break;
        case pcapng::kIfOs:
          itf.os = text(o);
          break;
        case pcapng::kIfTsresol:
          if (o.value.size() != 1)
            return bad(off,
                       "if_tsresol has length " + std::to_string(o.value.size()) + ", expected 1");
          itf.tsresol = o.value[0];
          itf.has_tsresol = true;
          break;
        case pcapng::kIfTsoffset: {
          auto v = option_u64(off, o);
          if (!v) return std::move(v).error();
          itf.tsoffset_s = static_cast<int64_t>(v.value());
          break;
        }
        case pcapng::kIfFilter:
          if (o.value.empty()) return bad(off, "if_filter is empty: no filter type byte");
          itf.filter_type = o.value[0];
          itf.filter.assign(o.value.begin() + 1, o.value.end());
          break;
        default:
          break;
      }
    }
    itf.options = std::move(options).value();
    file_.interfaces.push_back(std::move(itf));
    ++file_.sections.back().interface_count;
    return {};
  }

  // Blocks before the first SHB are refused in run(), so there is always a current section.
  uint32_t section_index() const { return static_cast<uint32_t>(file_.sections.size() - 1); }

  // The index in file_.interfaces of interface `id` of the current section.
  Result<uint32_t> interface_index(std::size_t off, uint32_t id) const {
    const PcapngSection& section = file_.sections.back();
    if (id < section.interface_count) return section.first_interface + id;
    return bad(off, "interface id " + std::to_string(id) + " but section " +
                        std::to_string(section_index()) + " has only " +
                        std::to_string(section.interface_count) + " interface(s) described so far");
  }

  uint64_t to_ns(const PcapngInterface& itf, uint64_t ticks) const {
    return PcapngReader::to_ns(ticks, itf.tsresol) +
           static_cast<uint64_t>(itf.tsoffset_s) * 1'000'000'000ULL;
  }

  Status parse_epb(std::size_t off, std::size_t body, std::size_t body_size) {
    if (auto s = check_body(off, body_size, 20, "enhanced packet block"); !s) return s;
    PcapngPacket pkt;
    pkt.block_type = pcapng::kBlockEnhancedPacket;
    pkt.block_offset = off;
    pkt.section = section_index();
    pkt.interface_id = u32(body);
    auto index = interface_index(off, pkt.interface_id);
    if (!index) return std::move(index).error();
    pkt.interface_index = index.value();
    pkt.timestamp_raw = timestamp(body + 4);
    pkt.timestamp_ns = to_ns(file_.interfaces[pkt.interface_index], pkt.timestamp_raw);
    pkt.captured_len = u32(body + 12);
    pkt.original_len = u32(body + 16);
    const std::size_t data = body + 20;
    if (pcapng::padded_size(pkt.captured_len) > body_size - 20) {
      return bad(off, "captured length " + std::to_string(pkt.captured_len) +
                          " runs past the end of its block");
    }
    const auto* p = reinterpret_cast<const uint8_t*>(bytes_.data() + data);
    pkt.data.assign(p, p + pkt.captured_len);
    auto options = parse_options(data + pcapng::padded_size(pkt.captured_len), body + body_size);
    if (!options) return std::move(options).error();
    for (const PcapngOption& o : options.value()) {
      if (o.code == pcapng::kOptComment) pkt.comments.push_back(text(o));
    }
    pkt.options = std::move(options).value();
    file_.packets.push_back(std::move(pkt));
    return {};
  }

  Status parse_spb(std::size_t off, std::size_t body, std::size_t body_size) {
    if (auto s = check_body(off, body_size, 4, "simple packet block"); !s) return s;
    // An SPB belongs to the section's first interface.
    auto index = interface_index(off, 0);
    if (!index) return std::move(index).error();
    const PcapngInterface& itf = file_.interfaces[index.value()];
    PcapngPacket pkt;
    pkt.block_type = pcapng::kBlockSimplePacket;
    pkt.block_offset = off;
    pkt.section = section_index();
    pkt.interface_index = index.value();
    pkt.original_len = u32(body);
    // An SPB has no captured length: it is the original length cut to the snap length (0 means
    // no limit) and to what the block holds.
    std::size_t captured = std::min<std::size_t>(pkt.original_len, body_size - 4);
    if (itf.snap_len != 0) captured = std::min<std::size_t>(captured, itf.snap_len);
    pkt.captured_len = static_cast<uint32_t>(captured);
    const auto* p = reinterpret_cast<const uint8_t*>(bytes_.data() + body + 4);
    pkt.data.assign(p, p + captured);
    file_.packets.push_back(std::move(pkt));
    return {};
  }

  Status parse_isb(std::size_t off, std::size_t body, std::size_t body_size) {
    if (auto s = check_body(off, body_size, 12, "interface statistics block"); !s) return s;
    PcapngInterfaceStatistics st;
    st.section = section_index();
    st.interface_id = u32(body);
    auto index = interface_index(off, st.interface_id);
    if (!index) return std::move(index).error();
    st.interface_index = index.value();
    const PcapngInterface& itf = file_.interfaces[st.interface_index];
    st.timestamp_ns = to_ns(itf, timestamp(body + 4));
    auto options = parse_options(body + 12, body + body_size);
    if (!options) return std::move(options).error();
    for (const PcapngOption& o : options.value()) {
      std::optional<uint64_t>* field = nullptr;
      bool is_time = false;
      switch (o.code) {
        case pcapng::kOptComment:
          st.comments.push_back(text(o));
          continue;
        case pcapng::kIsbStartTime:
          field = &st.start_time_ns;
          is_time = true;
          break;
        case pcapng::kIsbEndTime:
          field = &st.end_time_ns;
          is_time = true;
          break;
        case pcapng::kIsbIfRecv:
          field = &st.if_recv;
          break;
        case pcapng::kIsbIfDrop:
          field = &st.if_drop;
          break;
        case pcapng::kIsbFilterAccept:
          field = &st.filter_accept;
          break;
        case pcapng::kIsbOsDrop:
          field = &st.os_drop;
          break;
        case pcapng::kIsbUsrDeliv:
          field = &st.usr_deliv;
          break;
        default:
          continue;
      }
      auto v = is_time ? option_timestamp(off, o) : option_u64(off, o);
      if (!v) return std::move(v).error();
      *field = is_time ? to_ns(itf, v.value()) : v.value();
    }
    st.options = std::move(options).value();
    file_.stats.push_back(std::move(st));
    return {};
  }

  std::span<const std::byte> bytes_;
  std::string name_;
  bool swapped_ = false;
  PcapngFile file_;
};

}  // namespace

uint64_t PcapngReader::to_ns(uint64_t ticks, uint8_t tsresol) noexcept {
  constexpr uint64_t kNsPerSecond = 1'000'000'000;
  const unsigned exponent = tsresol & 0x7F;
  if (tsresol & 0x80) {
    // Units of 2^-n seconds; 128-bit so that ticks * 1e9 cannot overflow before the shift.
    return static_cast<uint64_t>((static_cast<unsigned __int128>(ticks) * kNsPerSecond) >>
                                 exponent);
  }
  uint64_t scale = 1;
  if (exponent <= 9) {
    for (unsigned i = exponent; i < 9; ++i) scale *= 10;
    return ticks * scale;
  }
  if (exponent - 9 > 19) return 0;  // a unit so small that no u64 tick count reaches 1 ns
  for (unsigned i = 9; i < exponent; ++i) scale *= 10;
  return ticks / scale;
}

Result<PcapngFile> PcapngReader::read_bytes(std::span<const std::byte> bytes,
                                            const std::string& name) {
  return Parser(bytes, name).run();
}

Result<PcapngFile> PcapngReader::read_file(const std::string& path) {
  const std::string name = "pcapng file '" + path + "'";
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::sys(errno, name);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Error::sys(errno, name);
  std::vector<std::byte> bytes;
  // A regular file is read in one pass (+1 so the end-of-file read needs no regrowth); a pipe or
  // FIFO grows the buffer as data comes.
  bytes.resize(S_ISREG(st.st_mode) ? static_cast<std::size_t>(st.st_size) + 1
                                   : std::size_t{1} << 16);
  std::size_t have = 0;
  for (;;) {
    if (have == bytes.size()) bytes.resize(bytes.size() * 2);
    const ssize_t n = ::read(fd.get(), bytes.data() + have, bytes.size() - have);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::sys(errno, name);
    }
    if (n == 0) break;
    have += static_cast<std::size_t>(n);
  }
  bytes.resize(have);
  return read_bytes(bytes, name);
}

}  // namespace xesp
