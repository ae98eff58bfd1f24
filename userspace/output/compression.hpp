// Compression: the codecs a capture file can be written with, and how their names and file
// extensions map to them (--compress zstd, -w capture.pcapng.zst).
#pragma once

#include <string_view>

#include "base/result.hpp"

namespace xesp::output {

enum class Compression { none, zstd, lz4, gzip };

// "none", "zstd", "lz4", "gzip".
const char* to_string(Compression c) noexcept;

// One of "none", "zstd", "lz4", "gzip", in any ASCII case. The error names the text and the
// choices.
[[nodiscard]] Result<Compression> parse_compression(std::string_view text);

// The codec a file name asks for by its last extension, in any ASCII case: ".zst", ".lz4" or
// ".gz" (so "a.pcapng.ZST" is zstd); none otherwise ("a.zst.pcapng", "-", a directory named
// "d.gz/" holding "a.pcapng"), and none for a name that is only the extension (".gz", a hidden
// file).
Compression compression_for_path(std::string_view path) noexcept;

// ".zst", ".lz4", ".gz", or "" for none: what rotation appends to a compressed file's name.
std::string_view compression_extension(Compression c) noexcept;

}  // namespace xesp::output
