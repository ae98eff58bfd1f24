#include "output/file_namer.hpp"

#include <time.h>

#include <cstdio>
#include <ctime>

#include "base/text.hpp"

namespace xesp::output {
namespace {

bool ends_with_ci(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && iequals(s.substr(s.size() - suffix.size()), suffix);
}

}  // namespace

std::string_view::size_type extension_start(std::string_view name) {
  std::string_view rest = name;
  for (std::string_view z : {".zst", ".lz4", ".gz"}) {
    if (ends_with_ci(rest, z) && rest.size() > z.size()) {
      rest.remove_suffix(z.size());
      break;
    }
  }
  for (std::string_view c : {".pcapng", ".pcap", ".ntar", ".cap"}) {
    if (ends_with_ci(rest, c) && rest.size() > c.size()) return rest.size() - c.size();
  }
  if (rest.size() < name.size()) return rest.size();  // only a compression suffix
  const auto dot = name.rfind('.');
  // A leading dot names a hidden file, not an extension.
  return dot == std::string_view::npos || dot == 0 ? name.size() : dot;
}

std::string insert_before_extension(std::string_view name, std::string_view text) {
  const auto at = extension_start(name);
  std::string out(name.substr(0, at));
  out += text;
  out += name.substr(at);
  return out;
}

FileNamer::FileNamer(std::string file_name, bool rotating)
    : file_name_(std::move(file_name)),
      rotating_(rotating),
      pattern_(file_name_.find('%') != std::string::npos) {}

std::string FileNamer::name(uint64_t sequence, uint64_t start_ns, uint32_t attempt) const {
  std::string out = file_name_;
  if (pattern_) {
    const time_t secs = static_cast<time_t>(start_ns / 1'000'000'000ULL);
    tm local{};
    ::localtime_r(&secs, &local);
    // strftime gives 0 both for "too small" and for an empty result: grow a few times.
    for (std::size_t size = 256; size <= 65536; size *= 4) {
      std::string buf(size, '\0');
      const std::size_t n = std::strftime(buf.data(), buf.size(), file_name_.c_str(), &local);
      if (n > 0) {
        buf.resize(n);
        out = std::move(buf);
        break;
      }
    }
  } else if (rotating_) {
    char seq[32];
    std::snprintf(seq, sizeof(seq), "-%05llu", static_cast<unsigned long long>(sequence));
    out = insert_before_extension(out, seq);
  }
  if (attempt > 0) out = insert_before_extension(out, "-" + std::to_string(attempt));
  return out;
}

}  // namespace xesp::output
