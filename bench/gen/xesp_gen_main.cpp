// xesp-gen: sends xesp test frames (see test_frame.hpp) out of one interface, through an
// AF_PACKET socket (paced) or BPF_PROG_RUN live frames (fast), for tests and benchmarks.
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdarg>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "base/unique_fd.hpp"
#include "live_frame_generator.hpp"
#include "packet_socket_sender.hpp"
#include "sequence_check_receiver.hpp"

namespace {

using namespace xesp;
using namespace xesp::gen;

constexpr int kExitFailure = 1;  // the run failed, or --check found frames missing
constexpr int kExitUsage = 2;

struct Options {
  std::string interface;
  std::string netns;
  std::string mode = "packet";
  uint64_t count = 0;
  uint64_t rate = 0;
  std::string size = "60";
  uint32_t flows = 1;
  uint64_t start_seq = 0;
  int cpu = -1;
  std::string src_mac;
  std::string dst_mac = "ff:ff:ff:ff:ff:ff";
  std::string src_ip = "198.18.0.1";
  std::string dst_ip = "198.19.0.1";
  uint16_t src_port = 10000;
  uint16_t dst_port = 10000;
  uint32_t batch = 64;
  uint32_t frames_per_call = 4'000'000;
  bool qdisc_bypass = false;
  std::string check;
  bool check_pass = false;
  bool json = false;
  int verbose = 0;
};

int g_verbosity = 0;

int libbpf_log(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG && g_verbosity < 2) return 0;
  if (level == LIBBPF_INFO && g_verbosity < 1) return 0;
  if (level == LIBBPF_WARN && g_verbosity < 1) return 0;  // errors come back as values
  return std::vfprintf(stderr, format, args);
}

int fail(const std::string& message, int code = kExitFailure) {
  std::fflush(stdout);
  std::fprintf(stderr, "xesp-gen: %s\n", message.c_str());
  return code;
}

// A bad setting found by a validate() is bad usage; anything else is the run failing.
int fail(const Error& error) {
  return fail(error.message,
              error.code == make_error_code(nmerr::invalid_parameter) ? kExitUsage : kExitFailure);
}

// Joins /run/netns/NAME (made by `ip netns add`) for the calling thread, the only thread.
Status join_netns(const std::string& name) {
  const std::string path = "/run/netns/" + name;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::sys(errno, "--netns '" + name + "': " + path);
  if (::setns(fd.get(), CLONE_NEWNET) != 0) {
    return Error::sys(errno, "--netns '" + name + "': setns (needs CAP_SYS_ADMIN)");
  }
  return {};
}

Result<FrameSpec> frame_spec(const Options& o, const NetInterface& nic) {
  FrameSpec spec;
  if (o.size == "mixed") {
    spec.mixed_sizes = true;
  } else {
    uint32_t size = 0;
    const char* end = o.size.data() + o.size.size();
    auto [ptr, ec] = std::from_chars(o.size.data(), end, size);
    if (ec != std::errc() || ptr != end || size < kMinFrameSize || size > kMaxFrameSize) {
      return Error::nm(nmerr::invalid_parameter, "--size '" + o.size + "': expected " +
                                                     std::to_string(kMinFrameSize) + ".." +
                                                     std::to_string(kMaxFrameSize) + " or 'mixed'");
    }
    spec.frame_size = size;
  }
  if (o.src_mac.empty()) {
    spec.src_mac = nic.mac;
  } else {
    auto mac = parse_mac(o.src_mac);
    if (!mac) return Error{mac.error().code, "--src-mac: " + mac.error().message};
    spec.src_mac = *mac;
  }
  auto dst = parse_mac(o.dst_mac);
  if (!dst) return Error{dst.error().code, "--dst-mac: " + dst.error().message};
  spec.dst_mac = *dst;
  auto sip = parse_ipv4(o.src_ip);
  if (!sip) return Error{sip.error().code, "--src-ip: " + sip.error().message};
  auto dip = parse_ipv4(o.dst_ip);
  if (!dip) return Error{dip.error().code, "--dst-ip: " + dip.error().message};
  spec.src_ip = *sip;
  spec.dst_ip = *dip;
  spec.src_port = o.src_port;
  spec.dst_port = o.dst_port;
  spec.flows = o.flows;
  if (Status s = spec.validate(); !s) return std::move(s).error();
  return spec;
}

int run(const Options& o) {
  // Checked before anything touches the kernel.
  if (o.mode == "live" && o.rate != 0) {
    return fail(
        "--rate: live frames cannot be paced (each BPF_PROG_RUN call sends a burst of "
        "--frames-per-call frames); use --mode packet",
        kExitUsage);
  }
  if (o.mode == "live" && o.qdisc_bypass) {
    return fail("--qdisc-bypass: applies to --mode packet only", kExitUsage);
  }
  if (o.check_pass && o.check.empty()) {
    return fail("--check-pass: applies to --check only", kExitUsage);
  }
  if (o.count == 0) return fail("--count 0: must be at least 1", kExitUsage);
  if (o.cpu >= CPU_SETSIZE) {
    return fail("--cpu " + std::to_string(o.cpu) + ": out of range", kExitUsage);
  }

  // The receiver is attached in the namespace xesp-gen started in, before --netns is joined:
  // the usual set-up sends from a test namespace to the root-namespace end of a veth.
  std::optional<SequenceCheckReceiver> receiver;
  if (!o.check.empty()) {
    SequenceCheckConfig cc;
    cc.interface = o.check;
    cc.seq_base = o.start_seq;
    cc.window = static_cast<uint32_t>(std::min<uint64_t>(o.count, 64u << 20));
    cc.flows = o.flows;
    cc.src_port = o.src_port;
    cc.pass = o.check_pass;
    auto r = SequenceCheckReceiver::attach(cc);
    if (!r) return fail(Error{r.error().code, "--check: " + r.error().message});
    receiver.emplace(std::move(*r));
  }
  if (!o.netns.empty()) {
    if (Status s = join_netns(o.netns); !s) return fail(s.error().message);
  }
  auto nic = NetInterface::find(o.interface);
  if (!nic) {
    return fail(nic.error().message + (o.netns.empty() ? "" : " [netns " + o.netns + "]"));
  }
  auto spec = frame_spec(o, *nic);
  if (!spec) return fail(spec.error());

  Result<SendReport> report = Error{};
  if (o.mode == "packet") {
    PacketSenderConfig pc;
    pc.interface = o.interface;
    pc.frame = *spec;
    pc.start_seq = o.start_seq;
    pc.rate_pps = o.rate;
    pc.batch = o.batch;
    pc.qdisc_bypass = o.qdisc_bypass;
    pc.cpu = o.cpu;
    auto sender = PacketSocketSender::open(pc);
    if (!sender) return fail(sender.error());
    report = sender->send(o.count);
  } else {
    LiveGeneratorConfig lc;
    lc.interface = o.interface;
    lc.frame = *spec;
    lc.start_seq = o.start_seq;
    lc.batch_size = o.batch;
    lc.frames_per_call = o.frames_per_call;
    lc.cpu = o.cpu;
    auto gen = LiveFrameGenerator::open(lc);
    if (!gen) return fail(gen.error());
    report = gen->send(o.count);
  }
  if (!report) return fail(report.error());
  const SendReport& r = *report;

  std::optional<SequenceCheckReport> seen;
  if (receiver) {
    receiver->settle();
    auto rep = receiver->report(r.frames);
    if (!rep) return fail("--check: " + rep.error().message);
    seen = *rep;
  }

  const double gbps = r.seconds > 0 ? static_cast<double>(r.bytes) * 8 / r.seconds / 1e9 : 0;
  if (o.json) {
    nlohmann::json j = {
        {"mode", o.mode},          {"interface", o.interface},
        {"netns", o.netns},        {"size", o.size},
        {"flows", o.flows},        {"frames", r.frames},
        {"bytes", r.bytes},        {"first_seq", r.first_seq},
        {"seconds", r.seconds},    {"frames_per_second", r.frames_per_second()},
        {"gbit_per_second", gbps}, {"calls", r.calls},
        {"retries", r.retries},    {"device_drops", r.device_drops},
    };
    if (seen) {
      j["check"] = {
          {"interface", o.check},
          {"xdp_mode", receiver->mode()},
          {"verdict", o.check_pass ? "pass" : "drop"},
          {"frames", seen->frames},
          {"test_frames", seen->test_frames},
          {"distinct", seen->distinct},
          {"missing", seen->missing},
          {"duplicates", seen->duplicates},
          {"bad_header", seen->bad_header},
          {"out_of_window", seen->out_of_window},
          {"other_frames", seen->other_frames},
          {"untracked", seen->untracked},
          {"exact", seen->exact()},
      };
    }
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf(
        "xesp-gen: %s on %s: sent %llu frames (size %s, %u flows, seq %llu..) in %.3f s"
        " = %.0f frames/s, %.2f Gbit/s; device drops %llu\n",
        o.mode.c_str(), o.interface.c_str(), static_cast<unsigned long long>(r.frames),
        o.size.c_str(), o.flows, static_cast<unsigned long long>(r.first_seq), r.seconds,
        r.frames_per_second(), gbps, static_cast<unsigned long long>(r.device_drops));
    if (seen) {
      std::printf(
          "xesp-gen: check on %s (%s XDP, %s): %llu frames, %llu test frames, %llu missing,"
          " %llu duplicates, %llu bad headers, %llu out of window, %llu other\n",
          o.check.c_str(), receiver->mode(), o.check_pass ? "passed" : "dropped",
          static_cast<unsigned long long>(seen->frames),
          static_cast<unsigned long long>(seen->test_frames),
          static_cast<unsigned long long>(seen->missing),
          static_cast<unsigned long long>(seen->duplicates),
          static_cast<unsigned long long>(seen->bad_header),
          static_cast<unsigned long long>(seen->out_of_window),
          static_cast<unsigned long long>(seen->other_frames));
    }
  }
  if (r.device_drops > 0) {
    std::fflush(stdout);
    std::fprintf(stderr, "xesp-gen: %s: %llu of %llu frames did not reach the peer%s\n",
                 o.interface.c_str(), static_cast<unsigned long long>(r.device_drops),
                 static_cast<unsigned long long>(r.frames),
                 o.mode == "live" && r.device_drops == r.frames
                     ? " (a veth hands XDP_TX frames only to a peer with an XDP program attached"
                       " or GRO on, see --check, and only up to the peer's MTU + 18 bytes)"
                     : "");
  }
  if (seen && !seen->exact()) {
    std::fflush(stdout);
    std::fprintf(stderr,
                 "xesp-gen: --check: the receiver did not see every frame exactly once"
                 " (first missing seq: %s)\n",
                 seen->first_missing ? std::to_string(*seen->first_missing).c_str() : "none");
    return kExitFailure;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{
      "Sends xesp test frames (Ethernet/IPv4/UDP to 198.18.0.0/15 with a sequence-numbered "
      "header) out of one interface, for xesp's tests and benchmarks. Needs root (CAP_NET_RAW; "
      "live mode and --check also CAP_BPF and CAP_NET_ADMIN).",
      "xesp-gen"};
  app.add_option("-i,--interface", o.interface, "Interface to send from")->required();
  app.add_option("--netns", o.netns,
                 "Join network namespace /run/netns/NAME before opening the interface");
  app.add_option("--mode", o.mode,
                 "packet: AF_PACKET socket + sendmmsg, can be paced (~0.6 Mpps); live: "
                 "BPF_PROG_RUN live frames with XDP_TX, open loop (millions of frames/s), needs "
                 "an XDP program on the receiving veth end (see --check)")
      ->capture_default_str()
      ->check(CLI::IsMember({"packet", "live"}));
  app.add_option("-n,--count", o.count, "Frames to send (at least 1)")->required();
  app.add_option("--rate", o.rate, "Frames per second, packet mode only; 0 = as fast as possible")
      ->capture_default_str();
  app.add_option("--size", o.size,
                 "Frame size in bytes without FCS (60..9000), or 'mixed' for a deterministic "
                 "spread over 60..1514 including both ends")
      ->capture_default_str();
  app.add_option("--flows", o.flows,
                 "Flows; flow = seq % flows, sent from UDP source port --src-port + flow")
      ->capture_default_str();
  app.add_option("--start-seq", o.start_seq, "Sequence number of the first frame")
      ->capture_default_str();
  app.add_option("--cpu", o.cpu,
                 "Pin the sending thread to this CPU (default: not pinned); in live mode the CPU "
                 "picks the peer's RX "
                 "queue (cpu % queues)");
  app.add_option("--src-mac", o.src_mac, "Source MAC (default: the interface's own)");
  app.add_option("--dst-mac", o.dst_mac, "Destination MAC")->capture_default_str();
  app.add_option("--src-ip", o.src_ip, "Source IPv4 address")->capture_default_str();
  app.add_option("--dst-ip", o.dst_ip,
                 "Destination IPv4 address (198.18.0.0/15: the receiving namespace owns none, "
                 "so its stack drops the frames quietly)")
      ->capture_default_str();
  app.add_option("--src-port", o.src_port, "UDP source port of flow 0")->capture_default_str();
  app.add_option("--dst-port", o.dst_port, "UDP destination port")->capture_default_str();
  app.add_option("--batch", o.batch,
                 "Frames per sendmmsg (packet, 1..1024) or per kernel batch (live, 1..256)")
      ->capture_default_str();
  app.add_option("--frames-per-call", o.frames_per_call,
                 "Live mode: frames per BPF_PROG_RUN call (each call costs set-up time)")
      ->capture_default_str();
  app.add_flag("--qdisc-bypass", o.qdisc_bypass,
               "Packet mode: PACKET_QDISC_BYPASS (the TX queue then follows the CPU, not the "
               "flow hash)");
  app.add_option("--check", o.check,
                 "Attach a counting XDP program to this interface (looked up before --netns is "
                 "joined), then report what arrived; exit 1 unless every frame arrived once");
  app.add_flag("--check-pass", o.check_pass,
               "With --check: pass the frames on to the stack (XDP_PASS) instead of dropping "
               "them (XDP_DROP), so packet-socket tools on that interface (tcpdump, dumpcap, "
               "netsniff-ng) see them too");
  app.add_flag("--json", o.json, "Print the summary as one JSON object");
  app.add_flag("-v,--verbose", o.verbose, "libbpf messages (-vv: debug messages too)");
  app.footer(
      "Exit status: 0 sent (and, with --check, every frame arrived exactly once); "
      "1 failed; 2 bad usage.");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return fail(e.what(), kExitUsage);
  }
  g_verbosity = o.verbose;
  libbpf_set_print(libbpf_log);
  return run(o);
}
