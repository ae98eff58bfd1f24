#include "cli/output.hpp"

#include <cstdio>

#include <nlohmann/json.hpp>

namespace xesp::cli {

int fail_usage(const std::string& message) {
  std::fprintf(stderr, "xesp: %s\n", message.c_str());
  return kExitUsage;
}

int fail_runtime(const std::string& message) {
  std::fprintf(stderr, "xesp: %s\n", message.c_str());
  return kExitRuntime;
}

namespace {

// Frames written with the poller's time instead of the XDP program's (Timestamps=poller,
// or a driver without room for the header).
uint64_t poller_stamped(const Statistics& s) {
  uint64_t n = 0;
  for (const auto& q : s.queues) n += q.frames_no_metadata;
  return n;
}

// "FILE", or "N files, FIRST .. LAST" for a rotating capture.
std::string written_to(const ConnectionInfo& info, const std::string& path) {
  if (info.files.size() <= 1) return path;
  return std::to_string(info.files.size()) + " files, " + info.files.front() + " .. " +
         info.files.back();
}

nlohmann::json to_json(const ConnectionInfo& info, const std::string& path, const Statistics& s) {
  nlohmann::json queues = nlohmann::json::array();
  for (const auto& q : s.queues) {
    queues.push_back({{"queue", q.queue},
                      {"seen", q.frames_seen},
                      {"redirected", q.frames_redirected},
                      {"written", q.frames_written},
                      {"dropped_ring_full", q.dropped_ring_full},
                      {"dropped_fill_empty", q.dropped_fill_empty},
                      {"dropped_other", q.dropped_other},
                      {"dropped_write_error", q.dropped_write_error},
                      {"paused", q.frames_paused},
                      {"after_stop", q.frames_after_stop},
                      {"poller_stamped", q.frames_no_metadata}});
  }
  return {
      {"interface", info.interface},
      {"driver", info.driver},
      {"xdp_mode", info.xdp_mode},
      {"bind_mode", info.bind_mode},
      {"umem_huge_pages", info.umem_huge_pages},
      {"file", path},
      {"files", info.files},
      {"file_io", info.file_io},
      {"duration_s", static_cast<double>(s.time_elapsed_us) / 1e6},
      {"frames_seen", s.frames_seen},
      {"bytes_seen", s.bytes_seen},
      {"frames_written", s.frames_captured},
      {"bytes_written", s.bytes_captured},
      {"frames_dropped", s.frames_dropped},
      {"dropped",
       {{"rx_ring_full", s.dropped_ring_full},
        {"fill_ring_empty", s.dropped_fill_empty},
        {"other", s.dropped_other},
        {"write_error", s.dropped_write_error}}},
      {"frames_paused", s.frames_paused},
      {"frames_other_queues", s.frames_other_queues},
      {"frames_after_stop", s.frames_after_stop},
      {"frames_poller_stamped", poller_stamped(s)},
      {"nic",
       {{"rx_packets", s.nic.frames_received},
        {"rx_bytes", s.nic.bytes_received},
        {"rx_dropped", s.nic.dropped_by_stack},
        {"rx_missed", s.nic.dropped_no_buffers},
        {"rx_crc_errors", s.nic.crc_errors}}},
      {"queues", queues},
  };
}

}  // namespace

void print_summary(const ConnectionInfo& info, const std::string& path, const Statistics& s,
                   bool json, bool stdout_is_capture) {
  if (json) {
    std::FILE* out = stdout_is_capture ? stderr : stdout;
    // Names are bytes, not always UTF-8: a bad sequence becomes U+FFFD rather than an exception.
    std::fprintf(out, "%s\n",
                 to_json(info, path, s)
                     .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                     .c_str());
    std::fflush(out);
    return;
  }
  auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
  std::fprintf(stderr,
               "xesp: %s (driver %s, XDP %s, AF_XDP %s), %.3f s\n"
               "  frames seen      %llu\n"
               "  frames written   %llu (%s)\n"
               "  frames dropped   %llu (RX ring full %llu, fill ring empty %llu, other %llu)\n",
               info.interface.c_str(), info.driver.empty() ? "?" : info.driver.c_str(),
               info.xdp_mode.c_str(), info.bind_mode.c_str(),
               static_cast<double>(s.time_elapsed_us) / 1e6, u(s.frames_seen), u(s.frames_captured),
               path == "-" ? "standard output" : written_to(info, path).c_str(), u(s.frames_dropped),
               u(s.dropped_ring_full), u(s.dropped_fill_empty), u(s.dropped_other));
  if (s.dropped_write_error)
    std::fprintf(stderr, "  write error      %llu of those (received, but the file could not take "
                         "them)\n",
                 u(s.dropped_write_error));
  if (s.frames_after_stop)
    std::fprintf(stderr, "  after the stop   %llu (arrived once the count was reached: not written)\n",
                 u(s.frames_after_stop));
  if (s.frames_paused)
    std::fprintf(stderr, "  while paused     %llu (passed to the stack)\n", u(s.frames_paused));
  if (s.frames_other_queues)
    std::fprintf(stderr,
                 "  other queues     %llu (on RX queues added after the start: not captured)\n",
                 u(s.frames_other_queues));
  if (uint64_t n = poller_stamped(s))
    std::fprintf(stderr,
                 "  poller-stamped   %llu (written with the time they were dequeued, not received)\n",
                 u(n));
}

}  // namespace xesp::cli
