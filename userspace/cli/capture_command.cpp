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
#include <cstring>
#include <functional>
#include <map>
#include <optional>

#include "cli/output.hpp"
#include "npp/capture_config.hpp"
#include "output/privilege_drop.hpp"
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
      {"RotateBytes", "-C/--file-size"},     {"RotateSeconds", "-G/--rotate-seconds"},
      {"RotateFiles", "-W/--files"},         {"FileMode", "--file-mode"},
      {"FileGroup", "--group"},              {"Overwrite", "--overwrite"},
      {"MinFreeBytes", "--min-free"},        {"Promiscuous", "--no-promisc"},
      {"Compression", "--compress"},
  };
  auto it = names.find(tag);
  return it == names.end() ? "NPP:" + tag : it->second;
}

// The entries the command line sets itself (not those of --blob).
Blob options_blob(const CaptureOptions& o) {
  Blob blob;
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
  if (!o.rotate_bytes.empty()) set("Config", "RotateBytes", o.rotate_bytes);
  if (o.rotate_seconds) set("Config", "RotateSeconds", std::to_string(*o.rotate_seconds));
  if (o.rotate_files) set("Config", "RotateFiles", std::to_string(*o.rotate_files));
  if (!o.file_mode.empty()) set("Config", "FileMode", o.file_mode);
  if (!o.group.empty()) set("Config", "FileGroup", o.group);
  if (o.overwrite) set("Config", "Overwrite", "yes");
  if (!o.min_free.empty()) set("Config", "MinFreeBytes", o.min_free);
  if (!o.compress.empty()) set("Config", "Compression", o.compress);
  if (o.no_promisc) set("Config", "Promiscuous", "no");
  set("Config", "UpdateFreq", "1000");
  return blob;
}

// The --blob file's entries, then the command line's over them (options given here win).
Blob build_blob(const Blob& from_file, const Blob& from_options) {
  Blob blob = from_file;
  for (const auto& e : from_options.entries()) blob.set(e.owner, e.category, e.tag, e.value);
  return blob;
}

// Quoted text in a reason ('...') replaced by '...': it is the value as the user wrote it.
std::string without_quoted_text(const std::string& reason) {
  std::string out;
  bool quoted = false;
  for (char ch : reason) {
    if (ch == '\'') {
      if (!quoted) out += "'...'";
      quoted = !quoted;
      continue;
    }
    if (!quoted) out += ch;
  }
  return out;
}

// The first entry of an error blob as "option: reason". An entry that came from the --blob
// file is named by its tag only, and the values it quotes are left out: xesp runs as root and
// reads any file it is given, so an error must never print a file's contents.
std::string describe_error_blob(const Blob& errors, const std::string& fallback,
                                const std::string& blob_file, const Blob& from_file,
                                const Blob& from_options) {
  for (const auto& e : errors.entries()) {
    std::string reason = e.value;
    if (auto colon = reason.find(": "); colon != std::string::npos) reason = reason.substr(colon + 2);
    const auto code = Blob::error_code_of(e.value).value_or(0);
    const bool unknown_name = code == static_cast<int>(nmerr::blob_owner_not_found) ||
                              code == static_cast<int>(nmerr::unknown_category) ||
                              code == static_cast<int>(nmerr::unknown_tag);
    const bool from_blob_file =
        !blob_file.empty() && !from_options.get(e.owner, e.category, e.tag) &&
        (unknown_name || from_file.get(e.owner, e.category, e.tag));
    if (from_blob_file) {
      const std::string entry =
          unknown_name ? std::string("an entry") : "NPP:" + e.category + ":" + e.tag;
      return "--blob " + blob_file + ": " + entry + ": " + without_quoted_text(reason);
    }
    return option_for_tag(e.tag) + ": " + reason;
  }
  return fallback;
}

struct Session {
  boost::asio::io_context io;
  Esp esp;
  bool stopping = false;
  int stop_signal = 0;  // the signal that ended the capture, if one did
  std::string stop_error;
  std::optional<Statistics> final_stats;
  std::optional<Statistics> last_stats;
  uint64_t last_frames = 0;
  uint64_t last_bytes = 0;
  std::chrono::steady_clock::time_point last_time = std::chrono::steady_clock::now();
  bool status_line_shown = false;
  bool started = false;  // Start succeeded: SIGHUP may rotate from now on
  bool announce_files = false;
  bool warned_other_queues = false;
  std::string first_file;
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
  Blob from_file;
  if (!o.blob_file.empty()) {
    std::string why;
    if (from_file.read_file(o.blob_file, &why)) return fail_usage("--blob: " + why);
  }
  const Blob from_options = options_blob(o);
  std::optional<output::UserIds> drop_to;
  if (!o.user.empty()) {
    auto u = output::lookup_user(o.user);
    if (!u) return fail_usage("-Z/--user: " + u.error().message);
    drop_to = *u;
  }

  // A reader of `-w -` that goes away must end the capture with an error, not kill us.
  ::signal(SIGPIPE, SIG_IGN);

  Session s;
  // Installed before anything else: Connect and Start can take seconds, and a signal then must
  // still end in an orderly way (queued by Asio until the loop runs). SIGHUP (a closed
  // terminal, or logrotate) starts a new file in a rotating capture and ends any other.
  boost::asio::signal_set signals(s.io, SIGINT, SIGTERM, SIGQUIT);
  signals.add(SIGHUP);
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int signo) {
        if (ec) return;
        // Whether the capture rotates is the provider's to say (the options and --blob both
        // set it): a capture of one file answers INVALID_PARAMETER, and SIGHUP ends it.
        if (signo == SIGHUP && s.started && !s.stopping &&
            s.esp.rotate_file() != make_error_code(nmerr::invalid_parameter)) {
          signals.async_wait(on_signal);
          return;
        }
        s.stop_signal = signo;
        s.io.stop();
      };
  signals.async_wait(on_signal);
  auto interrupted = [&] {
    s.io.poll();
    return s.stop_signal != 0;
  };

  Blob errors;
  auto on_status = [&s](const UpdateEvent& ev) {
    boost::asio::post(s.io, [&s, ev] {
      if (ev.event == kEventNewFile) {
        if (s.announce_files && ev.file != s.first_file) {
          if (s.status_line_shown) std::fputs("\r\033[K", stderr);
          std::fprintf(stderr, "xesp: writing %s\n", ev.file.c_str());
        }
        return;
      }
      if (ev.action == kActionStopCapture) {
        s.stopping = true;
        s.stop_error = ev.error;
        s.final_stats = ev.statistics;
        s.io.stop();
        return;
      }
      if (ev.statistics) {
        s.last_stats = ev.statistics;
        if (ev.statistics->frames_other_queues && !s.warned_other_queues) {
          s.warned_other_queues = true;
          if (s.status_line_shown) std::fputs("\r\033[K", stderr);
          std::fprintf(stderr,
                       "xesp: warning: frames arrive on RX queues the NIC gained after the capture "
                       "started (ethtool -L?): they go to the stack, not into the file; counted "
                       "as \"other queues\". Restart the capture to include them.\n");
        }
        if (::isatty(STDERR_FILENO) && !s.stopping) print_status_line(s, *ev.statistics);
      }
    });
  };
  if (auto ec = s.esp.connect(build_blob(from_file, from_options), on_status, nullptr, &errors))
    return fail_runtime(
        describe_error_blob(errors, s.esp.last_error(), o.blob_file, from_file, from_options));
  if (drop_to) {
    if (auto st = output::drop_privileges(*drop_to); !st) {
      (void)s.esp.disconnect();
      return fail_runtime("-Z/--user: " + st.error().message);
    }
  }
  if (interrupted()) {
    (void)s.esp.disconnect();
    std::fprintf(stderr, "xesp: %s before the capture started: nothing captured\n",
                 ::strsignal(s.stop_signal));
    return kExitRuntime;
  }

  std::string path;
  if (auto ec = s.esp.start(path)) {
    std::string why = s.esp.last_error();
    (void)s.esp.disconnect();
    if (drop_to && ec)
      why += " (as user '" + drop_to->name + "', after -Z: the directory must be writable by it)";
    return fail_runtime(why);
  }
  ConnectionInfo info = s.esp.connection_info();
  s.first_file = path;
  s.started = true;
  s.announce_files = o.verbosity >= 1 || ::isatty(STDERR_FILENO);
  if (s.announce_files)
    std::fprintf(stderr, "xesp: capturing on %s (queues %s, XDP %s, AF_XDP %s%s) into %s (%s)\n",
                 info.interface.c_str(), queue_list(info.queues).c_str(), info.xdp_mode.c_str(),
                 info.bind_mode.c_str(), info.umem_huge_pages ? ", UMEM on 2 MiB pages" : "",
                 path == "-" ? "standard output" : path.c_str(),
                 info.file_io == "map" ? "mapped" : "writev");

  if (!interrupted()) s.io.run();

  Statistics stats;
  if (s.final_stats) {
    stats = *s.final_stats;
  } else if (auto ec = s.esp.stop(stats)) {
    if (ec != make_error_code(nmerr::not_capturing)) {
      s.stop_error = s.esp.last_error();
    } else {
      // A trigger (or a write error) stopped the capture just as a signal arrived: its event,
      // with the final totals, is on its way from the provider's control thread.
      s.io.restart();
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (!s.final_stats && std::chrono::steady_clock::now() < deadline)
        s.io.run_for(std::chrono::milliseconds(50));
      if (s.final_stats) stats = *s.final_stats;
      else if (s.last_stats) stats = *s.last_stats;
    }
  }
  if (s.status_line_shown) std::fputs("\n", stderr);
  info = s.esp.connection_info();
  (void)s.esp.disconnect();
  signals.cancel();

  print_summary(info, path, stats, o.json, o.output == "-");
  if (!s.stop_error.empty()) return fail_runtime(s.stop_error);
  return 0;
}

}  // namespace xesp::cli
