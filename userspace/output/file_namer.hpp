// FileNamer: the name of each file of a capture. The user's name is used as it is for a single
// file; it may hold strftime(3) conversions (`/cap/%Y%m%d-%H%M%S.pcapng`), expanded with the
// file's start time in local time; in a rotating capture without any, a sequence number goes
// before the extension (`cap.pcapng.zst` -> `cap-00001.pcapng.zst`).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace xesp::output {

class FileNamer {
 public:
  // file_name: the last path component the user gave (no directory).
  FileNamer(std::string file_name, bool rotating);

  // The name of file number `sequence` (1, 2, ...) that starts at `start_ns` (wall clock).
  // attempt > 0 (a name this capture already used, e.g. two files in one second of a pattern
  // with %S) inserts "-<attempt>" before the extension.
  std::string name(uint64_t sequence, uint64_t start_ns, uint32_t attempt = 0) const;

  bool has_pattern() const noexcept { return pattern_; }

 private:
  std::string file_name_;
  bool rotating_;
  bool pattern_;
};

// Where a file name's extension starts: the capture suffixes (.pcapng, .pcap, .cap, ...) and a
// compression suffix after them (.zst, .lz4, .gz) count as one extension ("a.b.pcapng.zst" ->
// ".pcapng.zst"); otherwise the last ".xyz", or none.
std::string_view::size_type extension_start(std::string_view name);

// Inserts `text` before the extension: ("cap.pcapng.gz", "-00001") -> "cap-00001.pcapng.gz".
std::string insert_before_extension(std::string_view name, std::string_view text);

}  // namespace xesp::output
