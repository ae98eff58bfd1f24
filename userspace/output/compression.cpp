#include "output/compression.hpp"

#include <array>
#include <string>

#include "base/text.hpp"

namespace xesp::output {
namespace {

constexpr std::array<Compression, 4> kAll = {Compression::none, Compression::zstd, Compression::lz4,
                                             Compression::gzip};

}  // namespace

const char* to_string(Compression c) noexcept {
  switch (c) {
    case Compression::none:
      return "none";
    case Compression::zstd:
      return "zstd";
    case Compression::lz4:
      return "lz4";
    case Compression::gzip:
      return "gzip";
  }
  return "unknown";
}

Result<Compression> parse_compression(std::string_view text) {
  for (Compression c : kAll) {
    if (iequals(text, to_string(c))) return c;
  }
  return Error::nm(nmerr::invalid_parameter,
                   "compression '" + std::string(text) + "': not one of zstd, lz4, gzip, none");
}

Compression compression_for_path(std::string_view path) noexcept {
  const std::size_t slash = path.rfind('/');
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  const std::size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return Compression::none;
  const std::string_view extension = name.substr(dot);
  for (Compression c : kAll) {
    if (c != Compression::none && iequals(extension, compression_extension(c))) return c;
  }
  return Compression::none;
}

std::string_view compression_extension(Compression c) noexcept {
  switch (c) {
    case Compression::none:
      return "";
    case Compression::zstd:
      return ".zst";
    case Compression::lz4:
      return ".lz4";
    case Compression::gzip:
      return ".gz";
  }
  return "";
}

}  // namespace xesp::output
