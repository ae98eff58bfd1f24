#include "npp/capture_config.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <set>
#include <string_view>
#include <utility>

#include <sched.h>
#include <unistd.h>

#include "xesp_shared.h"
#include "base/text.hpp"

namespace xesp::npp {
namespace {

constexpr std::string_view kOwner = "NPP";

bool is_pow2(uint64_t v) { return v && !(v & (v - 1)); }

std::optional<uint64_t> parse_u64(std::string_view s) {
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// Byte counts accept k/M/G suffixes (powers of 1024), as capture tools do.
std::optional<uint64_t> parse_bytes(std::string_view s) {
  uint64_t mult = 1;
  if (!s.empty()) {
    switch (s.back()) {
      case 'k': case 'K': mult = 1ULL << 10; break;
      case 'm': case 'M': mult = 1ULL << 20; break;
      case 'g': case 'G': mult = 1ULL << 30; break;
      default: break;
    }
    if (mult != 1) s.remove_suffix(1);
  }
  auto v = parse_u64(s);
  if (!v || *v > UINT64_MAX / mult) return std::nullopt;
  return *v * mult;
}

std::optional<bool> parse_bool(std::string_view s) {
  for (auto t : {"yes", "true", "on", "1"})
    if (iequals(s, t)) return true;
  for (auto f : {"no", "false", "off", "0"})
    if (iequals(s, f)) return false;
  return std::nullopt;
}

std::optional<double> parse_seconds(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// One known tag: how to read its value into the config. Returns the reason on failure.
using Setter = std::function<std::optional<std::string>(CaptureConfig&, const std::string&)>;

std::optional<std::string> set_u32(uint32_t& field, const std::string& v, const char* what) {
  auto n = parse_u64(v);
  if (!n || *n > UINT32_MAX) return std::string("'") + v + "' is not a " + what;
  field = static_cast<uint32_t>(*n);
  return std::nullopt;
}

// A value that is one of a few keywords (any case), each naming one enum value; the reason on
// failure lists them: "'x' is not auto, write or map".
template <typename E>
std::optional<std::string> set_keyword(E& field, const std::string& v,
                                       std::initializer_list<std::pair<const char*, E>> words) {
  std::string list;
  std::size_t i = 0;
  for (const auto& [word, value] : words) {
    if (iequals(v, word)) {
      field = value;
      return std::nullopt;
    }
    if (i > 0) list += i + 1 == words.size() ? " or " : ", ";
    list += word;
    ++i;
  }
  return "'" + v + "' is not " + list;
}

std::optional<std::string> set_bool(bool& field, const std::string& v) {
  auto b = parse_bool(v);
  if (!b) return "'" + v + "' is not yes or no";
  field = *b;
  return std::nullopt;
}

// A byte count into `field` (a plain uint64_t, or an optional trigger).
template <typename Field>
std::optional<std::string> set_bytes(Field& field, const std::string& v) {
  auto n = parse_bytes(v);
  if (!n) return "'" + v + "' is not a byte count (suffix k, M, G allowed)";
  field = *n;
  return std::nullopt;
}

std::optional<std::string> set_trigger_u64(std::optional<uint64_t>& field, const std::string& v,
                                           bool bytes) {
  if (bytes) return set_bytes(field, v);
  auto n = parse_u64(v);
  if (!n) return "'" + v + "' is not a count";
  field = *n;
  return std::nullopt;
}

struct TagDef {
  const char* category;
  const char* tag;
  Setter set;
};

const std::vector<TagDef>& tag_table() {
  static const std::vector<TagDef> table = {
      {"Config", "Interface",
       [](CaptureConfig& c, const std::string& v) -> std::optional<std::string> {
         if (v.empty()) return "empty interface name";
         c.interface = v;
         return std::nullopt;
       }},
      {"Config", "Queues",
       [](CaptureConfig& c, const std::string& v) -> std::optional<std::string> {
         auto q = parse_queue_list(v);
         if (!q) return q.error().message;
         c.queues = *q;
         return std::nullopt;
       }},
      {"Config", "XdpMode",
       [](CaptureConfig& c, const std::string& v) -> std::optional<std::string> {
         auto m = xdp::parse_xdp_mode(v);
         if (!m) return m.error().message;
         c.xdp_mode = *m;
         return std::nullopt;
       }},
      {"Config", "BindMode",
       [](CaptureConfig& c, const std::string& v) -> std::optional<std::string> {
         auto m = xdp::parse_bind_mode(v);
         if (!m) return m.error().message;
         c.bind_mode = *m;
         return std::nullopt;
       }},
      {"Config", "FrameSize",
       [](CaptureConfig& c, const std::string& v) { return set_u32(c.frame_size, v, "frame size"); }},
      {"Config", "FrameCount",
       [](CaptureConfig& c, const std::string& v) { return set_u32(c.frame_count, v, "frame count"); }},
      {"Config", "RxRingSize",
       [](CaptureConfig& c, const std::string& v) { return set_u32(c.rx_ring_size, v, "ring size"); }},
      {"Config", "FillRingSize",
       [](CaptureConfig& c, const std::string& v) { return set_u32(c.fill_ring_size, v, "ring size"); }},
      {"Config", "BatchSize",
       [](CaptureConfig& c, const std::string& v) { return set_u32(c.batch_size, v, "batch size"); }},
      {"Config", "SnapLength",
       [](CaptureConfig& c, const std::string& v) { return set_u32(c.snap_length, v, "snap length"); }},
      {"Config", "CaptureDirectory",
       [](CaptureConfig& c, const std::string& v) -> std::optional<std::string> {
         c.capture_directory = v;
         return std::nullopt;
       }},
      {"Config", "CaptureFile",
       [](CaptureConfig& c, const std::string& v) -> std::optional<std::string> {
         c.capture_file = v;
         return std::nullopt;
       }},
      {"Config", "Promiscuous",
       [](CaptureConfig& c, const std::string& v) { return set_bool(c.promiscuous, v); }},
      {"Config", "UpdateFreq",
       [](CaptureConfig& c, const std::string& v) {
         return set_u32(c.update_freq_ms, v, "number of milliseconds");
       }},
      {"Config", "HugePages",
       [](CaptureConfig& c, const std::string& v) -> std::optional<std::string> {
         if (iequals(v, "auto")) c.huge_pages = xdp::HugePages::automatic;
         else if (auto b = parse_bool(v)) c.huge_pages = *b ? xdp::HugePages::yes : xdp::HugePages::no;
         else return "'" + v + "' is not auto, yes or no";
         return std::nullopt;
       }},
      {"Config", "Timestamps",
       [](CaptureConfig& c, const std::string& v) {
         return set_keyword(c.timestamps, v,
                            {{"kernel", Timestamps::kernel}, {"poller", Timestamps::poller}});
       }},
      {"Config", "FileIo",
       [](CaptureConfig& c, const std::string& v) {
         return set_keyword(c.file_io, v,
                            {{"auto", FileIo::automatic}, {"write", FileIo::write},
                             {"map", FileIo::map}});
       }},
      {"Config", "BusyPoll",
       [](CaptureConfig& c, const std::string& v) -> std::optional<std::string> {
         if (iequals(v, "auto")) {
           c.busy_poll_us.reset();
           return std::nullopt;
         }
         uint32_t us = 0;
         if (auto why = set_u32(us, v, "number of microseconds or auto")) return why;
         c.busy_poll_us = us;
         return std::nullopt;
       }},
      {"Config", "PollerCpus",
       [](CaptureConfig& c, const std::string& v) -> std::optional<std::string> {
         auto list = parse_queue_list(v);  // the same "0-3,6" syntax
         if (!list || !*list) return "CPU list '" + v + "': expected numbers and ranges like 1-3,5";
         c.poller_cpus = **list;
         return std::nullopt;
       }},
      {"Config", "RotateBytes",
       [](CaptureConfig& c, const std::string& v) { return set_bytes(c.rotation.max_bytes, v); }},
      {"Config", "RotateSeconds",
       [](CaptureConfig& c, const std::string& v) {
         return set_u32(c.rotation.seconds, v, "number of seconds");
       }},
      {"Config", "RotateFiles",
       [](CaptureConfig& c, const std::string& v) {
         return set_u32(c.rotation.files, v, "number of files");
       }},
      {"Config", "FileMode",
       [](CaptureConfig& c, const std::string& v) -> std::optional<std::string> {
         auto m = output::parse_file_mode(v);
         if (!m) return m.error().message;
         c.file_safety.mode = *m;
         return std::nullopt;
       }},
      {"Config", "FileGroup",
       [](CaptureConfig& c, const std::string& v) -> std::optional<std::string> {
         auto g = output::parse_group(v);
         if (!g) return g.error().message;
         c.file_safety.group = *g;
         return std::nullopt;
       }},
      {"Config", "Overwrite",
       [](CaptureConfig& c, const std::string& v) { return set_bool(c.file_safety.overwrite, v); }},
      {"Config", "Compression",
       [](CaptureConfig& c, const std::string& v) -> std::optional<std::string> {
         auto z = output::parse_compression(v);
         if (!z) return z.error().message;
         c.compression = *z;
         return std::nullopt;
       }},
      {"Config", "MinFreeBytes",
       [](CaptureConfig& c, const std::string& v) { return set_bytes(c.min_free_bytes, v); }},
      {"Trigger", "StopAfterFrames",
       [](CaptureConfig& c, const std::string& v) {
         return set_trigger_u64(c.triggers.stop_after_frames, v, false);
       }},
      {"Trigger", "StopAfterBytes",
       [](CaptureConfig& c, const std::string& v) {
         return set_trigger_u64(c.triggers.stop_after_bytes, v, true);
       }},
      {"Trigger", "StopAfterFileSize",
       [](CaptureConfig& c, const std::string& v) {
         return set_trigger_u64(c.triggers.stop_after_file_size, v, true);
       }},
      {"Trigger", "StopAfterSeconds",
       [](CaptureConfig& c, const std::string& v) -> std::optional<std::string> {
         auto s = parse_seconds(v);
         if (!s) return "'" + v + "' is not a number of seconds";
         c.triggers.stop_after_seconds = *s;
         return std::nullopt;
       }},
      {"Trigger", "PauseAfterFrames",
       [](CaptureConfig& c, const std::string& v) {
         return set_trigger_u64(c.triggers.pause_after_frames, v, false);
       }},
      {"Trigger", "PauseAfterBytes",
       [](CaptureConfig& c, const std::string& v) {
         return set_trigger_u64(c.triggers.pause_after_bytes, v, true);
       }},
  };
  return table;
}

// Categories NPP knows: Config and Trigger are read here; Location has no tags xesp uses;
// Remote is read by the factory.
constexpr const char* kKnownCategories[] = {"Config", "Trigger", "Location", "Remote"};

}  // namespace

Result<std::optional<std::vector<uint32_t>>> parse_queue_list(const std::string& text) {
  if (iequals(text, "all")) return std::optional<std::vector<uint32_t>>{};
  std::set<uint32_t> queues;
  std::string_view rest = text;
  // The reason comes in pieces that are appended: "'" + std::string(item) + ... makes gcc 12
  // at -O3 warn falsely about the insert inside operator+ (-Wrestrict, GCC bug 105329).
  auto bad = [&](std::initializer_list<std::string_view> why) {
    std::string message = "queue list '" + text + "': ";
    for (std::string_view piece : why) message += piece;
    return Error::nm(nmerr::blob_conversion_error, std::move(message));
  };
  if (rest.empty()) return bad({"empty"});
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    if (item.empty()) return bad({"empty item"});
    size_t dash = item.find('-');
    auto lo = parse_u64(item.substr(0, dash));
    auto hi = dash == std::string_view::npos ? lo : parse_u64(item.substr(dash + 1));
    if (!lo || !hi) return bad({"'", item, "' is not a queue number or range"});
    if (*lo > *hi) return bad({"range '", item, "' runs backwards"});
    if (*hi >= XESP_MAX_QUEUES) {
      return bad({"queue ", std::to_string(*hi), " is beyond ",
                  std::to_string(XESP_MAX_QUEUES - 1)});
    }
    for (uint64_t q = *lo; q <= *hi; ++q) queues.insert(static_cast<uint32_t>(q));
  }
  return std::optional<std::vector<uint32_t>>(std::vector<uint32_t>(queues.begin(), queues.end()));
}

ConfigParse parse_config(const Blob& blob, const CaptureConfig& base, bool require_interface) {
  ConfigParse out;
  CaptureConfig config = base;
  for (const auto& e : blob.entries()) {
    if (!iequals(e.owner, kOwner)) {
      out.foreign.push_back(e);
      continue;
    }
    bool known_category = std::any_of(std::begin(kKnownCategories), std::end(kKnownCategories),
                                      [&](const char* c) { return iequals(e.category, c); });
    if (!known_category) {
      out.problems.push_back({e.category, e.tag, nmerr::unknown_category,
                              "unknown category '" + e.category + "'"});
      continue;
    }
    if (iequals(e.category, "Remote") || iequals(e.category, "Location")) continue;
    auto def = std::find_if(tag_table().begin(), tag_table().end(), [&](const TagDef& d) {
      return iequals(e.category, d.category) && iequals(e.tag, d.tag);
    });
    if (def == tag_table().end()) {
      out.problems.push_back({e.category, e.tag, nmerr::unknown_tag,
                              "unknown tag '" + e.tag + "' in category '" + e.category + "'"});
      continue;
    }
    if (auto why = def->set(config, e.value))
      out.problems.push_back({def->category, def->tag, nmerr::blob_conversion_error, *why});
  }
  if (require_interface && config.interface.empty()) {
    out.problems.push_back({"Config", "Interface", nmerr::blob_entry_does_not_exist,
                            "required entry NPP:Config:Interface (the NIC to capture on) is missing"});
  }
  // A group to share files with needs files the group can read: 0640 unless a mode is given.
  if (config.file_safety.group && !blob.get(std::string(kOwner), "Config", "FileMode") &&
      config.file_safety.mode == 0600)
    config.file_safety.mode = 0640;
  if (out.problems.empty() && out.foreign.empty()) {
    out.problems = validate(config);
    if (out.problems.empty()) out.config = std::move(config);
  }
  return out;
}

std::vector<ConfigProblem> validate(const CaptureConfig& c) {
  std::vector<ConfigProblem> p;
  auto add = [&](const char* cat, const char* tag, nmerr code, std::string why) {
    p.push_back({cat, tag, code, std::move(why)});
  };
  // Aligned UMEM chunks must be 2048..PAGE_SIZE (4096) bytes and a power of two.
  if (!is_pow2(c.frame_size) || c.frame_size < 2048 || c.frame_size > 4096)
    add("Config", "FrameSize", nmerr::blob_conversion_error,
        "frame size " + std::to_string(c.frame_size) + " is not a power of two in 2048..4096");
  if (!is_pow2(c.rx_ring_size) || c.rx_ring_size < 64 || c.rx_ring_size > (1u << 20))
    add("Config", "RxRingSize", nmerr::blob_conversion_error,
        "RX ring size " + std::to_string(c.rx_ring_size) + " is not a power of two in 64..1048576");
  if (!is_pow2(c.fill_ring_size) || c.fill_ring_size < 64 || c.fill_ring_size > (1u << 20))
    add("Config", "FillRingSize", nmerr::blob_conversion_error,
        "fill ring size " + std::to_string(c.fill_ring_size) +
            " is not a power of two in 64..1048576");
  if (!is_pow2(c.batch_size) || c.batch_size > 4096 || c.batch_size > c.rx_ring_size)
    add("Config", "BatchSize", nmerr::blob_conversion_error,
        "batch size " + std::to_string(c.batch_size) +
            " is not a power of two in 1..4096 and at most the RX ring size");
  if (c.frame_count > kMaxFrameCount)
    add("Config", "FrameCount", nmerr::blob_conversion_error,
        "frame count " + std::to_string(c.frame_count) + " is above " +
            std::to_string(kMaxFrameCount) + " (64 GiB of 4 KiB chunks per queue)");
  else if (c.frame_count != 0 && c.frame_count < c.fill_ring_size)
    add("Config", "FrameCount", nmerr::blob_conversion_error,
        "frame count " + std::to_string(c.frame_count) + " cannot stock the fill ring of " +
            std::to_string(c.fill_ring_size));
  if (c.snap_length == 0 || c.snap_length > kMaxSnapLength)
    add("Config", "SnapLength", nmerr::blob_conversion_error,
        "snap length " + std::to_string(c.snap_length) + " is not in 1.." +
            std::to_string(kMaxSnapLength));
  if (c.busy_poll_us && *c.busy_poll_us > 1'000'000)
    add("Config", "BusyPoll", nmerr::blob_conversion_error,
        "busy poll " + std::to_string(*c.busy_poll_us) + " us is above one second");
  const long cpus = ::sysconf(_SC_NPROCESSORS_CONF);
  for (uint32_t cpu : c.poller_cpus) {
    if (cpus > 0 && cpu >= static_cast<unsigned long>(cpus))
      add("Config", "PollerCpus", nmerr::blob_conversion_error,
          "CPU " + std::to_string(cpu) + " does not exist (this machine has " +
              std::to_string(cpus) + ")");
  }
  if (c.queues && c.queues->empty())
    add("Config", "Queues", nmerr::blob_conversion_error, "empty queue list");
  const bool to_stdout = c.capture_file == "-";
  // tcpdump's -C counts millions of bytes; here a bare number is bytes: "-C 100" would make a
  // file per block. Files smaller than a poller's write are a mistake.
  if (c.rotation.max_bytes && c.rotation.max_bytes < kMinRotateBytes)
    add("Config", "RotateBytes", nmerr::blob_conversion_error,
        std::to_string(c.rotation.max_bytes) + " bytes is below the smallest file, 64k (did you "
        "mean " + std::to_string(c.rotation.max_bytes) + "M?)");
  if (c.rotation.files && !c.rotation.rotating())
    add("Config", "RotateFiles", nmerr::blob_conversion_error,
        "a ring of " + std::to_string(c.rotation.files) +
            " files needs rotation: RotateBytes or RotateSeconds");
  if (to_stdout && c.rotation.rotating())
    add("Config", c.rotation.max_bytes ? "RotateBytes" : "RotateSeconds",
        nmerr::blob_conversion_error, "standard output cannot rotate: name a file");
  if (to_stdout && c.min_free_bytes)
    add("Config", "MinFreeBytes", nmerr::blob_conversion_error,
        "standard output has no file system to watch: name a file");
  if (c.compression && *c.compression != output::Compression::none) {
    const auto by_name = output::compression_for_path(c.capture_file);
    if (by_name != output::Compression::none && by_name != *c.compression)
      add("Config", "Compression", nmerr::blob_conversion_error,
          std::string(output::to_string(*c.compression)) + " compression, but the file name '" +
              c.capture_file + "' ends in " + std::string(output::compression_extension(by_name)));
  }
  if (c.rotation.rotating() && c.triggers.stop_after_file_size)
    add("Trigger", "StopAfterFileSize", nmerr::illegal_trigger,
        "StopAfterFileSize limits one file: a rotating capture limits its files with "
        "RotateFiles (and the disk with MinFreeBytes)");
  const auto& t = c.triggers;
  auto zero = [&](const char* tag, bool is_zero) {
    if (is_zero) add("Trigger", tag, nmerr::illegal_trigger, std::string(tag) + " must be above 0");
  };
  zero("StopAfterFrames", t.stop_after_frames && *t.stop_after_frames == 0);
  zero("StopAfterBytes", t.stop_after_bytes && *t.stop_after_bytes == 0);
  zero("StopAfterFileSize", t.stop_after_file_size && *t.stop_after_file_size == 0);
  zero("StopAfterSeconds", t.stop_after_seconds && !(*t.stop_after_seconds > 0));
  // A timer past the clock's range would fire at once: ten years is the most we take.
  if (t.stop_after_seconds && *t.stop_after_seconds > kMaxStopAfterSeconds) {
    // %g, not an integer conversion: the value may be far beyond any integer type.
    char seconds[32];
    std::snprintf(seconds, sizeof(seconds), "%g", *t.stop_after_seconds);
    add("Trigger", "StopAfterSeconds", nmerr::illegal_trigger,
        std::string("StopAfterSeconds ") + seconds + " is more than ten years (" +
            std::to_string(static_cast<uint64_t>(kMaxStopAfterSeconds)) + " s)");
  }
  zero("PauseAfterFrames", t.pause_after_frames && *t.pause_after_frames == 0);
  zero("PauseAfterBytes", t.pause_after_bytes && *t.pause_after_bytes == 0);
  return p;
}

namespace {

// True when each of `pollers` pollers can have a CPU of its own: the distinct CPUs they are
// pinned to, else those this process may run on but one (left to the NIC's receive work).
bool pollers_have_own_cpus(const CaptureConfig& c, uint32_t pollers) {
  uint32_t cpus = 0;
  if (!c.poller_cpus.empty()) {
    cpus = static_cast<uint32_t>(std::set<uint32_t>(c.poller_cpus.begin(), c.poller_cpus.end()).size());
  } else {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof(set), &set) == 0) cpus = static_cast<uint32_t>(CPU_COUNT(&set));
    cpus = cpus > 1 ? cpus - 1 : 1;
  }
  return pollers <= cpus;
}

}  // namespace

uint32_t busy_poll_for(const CaptureConfig& c, uint32_t pollers) {
  if (c.busy_poll_us) return *c.busy_poll_us;
  return pollers_have_own_cpus(c, pollers) ? kDefaultBusyPollUs : 0;
}

FileIo file_io_for(const CaptureConfig& c, uint32_t pollers) {
  if (c.file_io != FileIo::automatic) return c.file_io;
  return pollers >= 2 && pollers_have_own_cpus(c, pollers) ? FileIo::automatic : FileIo::write;
}

output::Compression compression_for(const CaptureConfig& c) {
  if (c.compression) return *c.compression;
  return output::compression_for_path(c.capture_file);
}

std::error_code report_problems(const ConfigParse& parse, Blob* error_blob) {
  std::error_code first;
  for (const auto& e : parse.foreign) {
    auto code = make_error_code(nmerr::blob_owner_not_found);
    if (error_blob) error_blob->add_error(e.owner, e.category, e.tag, code,
                                          "unknown owner '" + e.owner + "' (expected NPP)");
    if (!first) first = code;
  }
  for (const auto& p : parse.problems) {
    auto code = make_error_code(p.code);
    if (error_blob) error_blob->add_error(kOwner, p.category, p.tag, code, p.reason);
    if (!first) first = code;
  }
  return first;
}

}  // namespace xesp::npp
