// `xesp capture`: connect, start, stop on Ctrl-C / count / duration, disconnect — all through
// the IESP provider, so the CLI and embedders share one code path.
#include "cli/capture_command.hpp"

#include <signal.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <map>
#include <optional>

#include "cli/output.hpp"
#include "npp/capture_config.hpp"
#include "xdp/xdp_program.hpp"
#include "xesp/esp.hpp"

namespace xesp::cli {
namespace {

// The command-line option behind each blob tag, so errors name what the user typed.
std::string option_for_tag(const std::string& tag) {
  static const std::map<std::string, std::string> names = {
      {"Interface", "-i/--interface"},       {"CaptureFile", "-w/--write"},
      {"SnapLength", "-s/--snaplen"},        {"StopAfterFrames", "-c/--count"},
      {"StopAfterSeconds", "--duration"},    {"Queues", "--queues"},
      {"XdpMode", "--xdp-mode"},             {"BindMode", "--bind-mode"},
      {"FrameSize", "--frame-size"},         {"FrameCount", "--frame-count"},
      {"RxRingSize", "--ring-size"},         {"FillRingSize", "--fill-ring-size"},
      {"BatchSize", "--batch-size"},         {"StopAfterBytes", "--stop-after-bytes"},
      {"BusyPoll", "--busy-poll"},           {"PollerCpus", "--cpus"},
      {"HugePages", "--huge-pages"},         {"Timestamps", "--timestamps"},
      {"FileIo", "--file-io"},
      {"StopAfterFileSize", "--stop-after-file-size"},
  };
  auto it = names.find(tag);
  return it == names.end() ? "NPP:" + tag : it->second;
}

Blob build_blob(const CaptureOptions& o) {
  Blob blob;
  if (!o.blob_file.empty()) {
    // Already parsed in validate_options; repeated here so the command-line options win.
    std::string why;
    (void)blob.read_file(o.blob_file, &why);
  }
  auto set = [&](const char* cat, const char* tag, const std::string& v) {
    blob.set("NPP", cat, tag, v);
  };
  if (!o.interface.empty()) set("Config", "Interface", o.interface);
  if (!o.output.empty()) set("Config", "CaptureFile", o.output);
  if (o.snaplen) set("Config", "SnapLength", std::to_string(*o.snaplen));
  if (o.count) set("Trigger", "StopAfterFrames", std::to_string(*o.count));
  if (o.duration) set("Trigger", "StopAfterSeconds", *o.duration);
  if (!o.queues.empty()) set("Config", "Queues", o.queues);
  if (!o.xdp_mode.empty()) set("Config", "XdpMode", o.xdp_mode);
  if (!o.bind_mode.empty()) set("Config", "BindMode", o.bind_mode);
  if (o.frame_size) set("Config", "FrameSize", std::to_string(*o.frame_size));
  if (o.frame_count) set("Config", "FrameCount", std::to_string(*o.frame_count));
  if (o.ring_size) set("Config", "RxRingSize", std::to_string(*o.ring_size));
  if (o.fill_ring_size) set("Config", "FillRingSize", std::to_string(*o.fill_ring_size));
  if (o.batch_size) set("Config", "BatchSize", std::to_string(*o.batch_size));
  if (!o.busy_poll.empty()) set("Config", "BusyPoll", o.busy_poll);
  if (!o.huge_pages.empty()) set("Config", "HugePages", o.huge_pages);
  if (!o.timestamps.empty()) set("Config", "Timestamps", o.timestamps);
  if (!o.file_io.empty()) set("Config", "FileIo", o.file_io);
  if (!o.cpus.empty()) set("Config", "PollerCpus", o.cpus);
  if (!o.stop_after_bytes.empty()) set("Trigger", "StopAfterBytes", o.stop_after_bytes);
  if (!o.stop_after_file_size.empty()) set("Trigger", "StopAfterFileSize", o.stop_after_file_size);
  if (o.no_promisc) set("Config", "Promiscuous", "no");
  set("Config", "UpdateFreq", "1000");
  return blob;
}

// The first entry of an error blob as "option: reason".
std::string describe_error_blob(const Blob& errors, const std::string& fallback) {
  for (const auto& e : errors.entries()) {
    std::string reason = e.value;
    if (auto colon = reason.find(": "); colon != std::string::npos) reason = reason.substr(colon + 2);
    return option_for_tag(e.tag) + ": " + reason;
  }
  return fallback;
}

struct Session {
  boost::asio::io_context io;
  Esp esp;
  bool stopping = false;
  bool stopped_by_trigger = false;
  std::string stop_error;
  std::optional<Statistics> final_stats;
  std::optional<Statistics> last_stats;
  uint64_t last_frames = 0;
  uint64_t last_bytes = 0;
  std::chrono::steady_clock::time_point last_time = std::chrono::steady_clock::now();
  bool status_line_shown = false;
};

std::string queue_list(const std::vector<uint32_t>& queues) {
  std::string out;
  for (size_t i = 0; i < queues.size();) {
    size_t j = i;
    while (j + 1 < queues.size() && queues[j + 1] == queues[j] + 1) ++j;
    if (!out.empty()) out += ",";
    out += std::to_string(queues[i]);
    if (j > i) {
      out += '-';  // not "-" + std::to_string(): gcc 12 -O3 warns falsely (GCC bug 105329)
      out += std::to_string(queues[j]);
    }
    i = j + 1;
  }
  return out;
}

void print_status_line(Session& s, const Statistics& st) {
  auto now = std::chrono::steady_clock::now();
  double secs = std::chrono::duration<double>(now - s.last_time).count();
  if (secs <= 0) return;
  double fps = static_cast<double>(st.frames_captured - s.last_frames) / secs;
  double mbps = static_cast<double>(st.bytes_captured - s.last_bytes) * 8 / secs / 1e6;
  s.last_frames = st.frames_captured;
  s.last_bytes = st.bytes_captured;
  s.last_time = now;
  std::fprintf(stderr, "\r\033[K%12llu frames  %10.0f frames/s  %9.1f Mbit/s  drops %llu",
               static_cast<unsigned long long>(st.frames_captured), fps, mbps,
               static_cast<unsigned long long>(st.frames_dropped));
  std::fflush(stderr);
  s.status_line_shown = true;
}

}  // namespace

int run_capture(const CaptureOptions& o) {
  if (o.verbosity >= 2) xdp::set_libbpf_verbosity(o.verbosity);
  if (o.output.empty()) return fail_usage("-w/--write: required (a file, or - for standard output)");
  if (o.output == "-" && ::isatty(STDOUT_FILENO))
    return fail_usage("-w -: standard output is a terminal; pipe it (| tshark -r -) or name a file");
  if (!o.blob_file.empty()) {
    Blob check;
    std::string why;
    if (check.read_file(o.blob_file, &why)) return fail_usage("--blob: " + why);
  }

  // A reader of `-w -` that goes away must end the capture with an error, not kill us.
  ::signal(SIGPIPE, SIG_IGN);

  Session s;
  Blob errors;
  auto on_status = [&s](const UpdateEvent& ev) {
    boost::asio::post(s.io, [&s, ev] {
      if (ev.action == kActionStopCapture) {
        s.stopping = true;
        s.stopped_by_trigger = ev.error.empty();
        s.stop_error = ev.error;
        s.final_stats = ev.statistics;
        s.io.stop();
        return;
      }
      if (ev.statistics) {
        s.last_stats = ev.statistics;
        if (::isatty(STDERR_FILENO) && !s.stopping) print_status_line(s, *ev.statistics);
      }
    });
  };
  if (auto ec = s.esp.connect(build_blob(o), on_status, nullptr, &errors))
    return fail_runtime(describe_error_blob(errors, s.esp.last_error()));

  std::string path;
  if (auto ec = s.esp.start(path)) {
    std::string why = s.esp.last_error();
    (void)s.esp.disconnect();
    return fail_runtime(why);
  }
  ConnectionInfo info = s.esp.connection_info();
  if (o.verbosity >= 1 || ::isatty(STDERR_FILENO))
    std::fprintf(stderr, "xesp: capturing on %s (queues %s, XDP %s, AF_XDP %s%s) into %s (%s)\n",
                 info.interface.c_str(), queue_list(info.queues).c_str(), info.xdp_mode.c_str(),
                 info.bind_mode.c_str(), info.umem_huge_pages ? ", UMEM on 2 MiB pages" : "",
                 path == "-" ? "standard output" : path.c_str(),
                 info.file_io == "map" ? "mapped" : "writev");

  boost::asio::signal_set signals(s.io, SIGINT, SIGTERM);
  signals.async_wait([&s](const boost::system::error_code& ec, int) {
    if (!ec) s.io.stop();
  });
  s.io.run();
  signals.cancel();

  Statistics stats;
  if (s.final_stats) {
    stats = *s.final_stats;
  } else if (auto ec = s.esp.stop(stats)) {
    if (ec != make_error_code(nmerr::not_capturing)) s.stop_error = s.esp.last_error();
    else if (s.last_stats) stats = *s.last_stats;
  }
  if (s.status_line_shown) std::fputs("\n", stderr);
  (void)s.esp.disconnect();

  print_summary(info, path, stats, o.json, o.output == "-");
  if (!s.stop_error.empty()) return fail_runtime(s.stop_error);
  return 0;
}

}  // namespace xesp::cli
