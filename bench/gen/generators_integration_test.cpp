// Both generators on a real veth pair between two network namespaces made by the test: every
// frame must arrive exactly once (counted by SequenceCheckReceiver) and byte for byte as
// build_test_frame / LiveFrameGenerator::expected_frame say (read back with a packet socket).
// Needs root; skipped with the reason otherwise.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include "base/unique_fd.hpp"
#include "live_frame_generator.hpp"
#include "packet_socket_sender.hpp"
#include "sequence_check_receiver.hpp"

namespace xesp::gen {
namespace {

bool sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

// Joins a namespace for the calling thread; goes back to the previous one when destroyed.
class ScopedNetns {
 public:
  static Result<ScopedNetns> enter(const std::string& name) {
    UniqueFd home(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!home) return Error::sys(errno, "/proc/thread-self/ns/net");
    UniqueFd target(::open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC));
    if (!target) return Error::sys(errno, "/run/netns/" + name);
    if (::setns(target.get(), CLONE_NEWNET) != 0) return Error::sys(errno, "setns " + name);
    return ScopedNetns(std::move(home));
  }
  ScopedNetns(ScopedNetns&&) noexcept = default;
  ScopedNetns& operator=(ScopedNetns&&) = delete;
  ~ScopedNetns() {
    if (home_) (void)::setns(home_.get(), CLONE_NEWNET);
  }

 private:
  explicit ScopedNetns(UniqueFd home) : home_(std::move(home)) {}
  UniqueFd home_;
};

// tx namespace --veth--> rx namespace. The rx end is in a namespace too, so that no frame can
// reach the stack of the machine's own namespace whatever its forwarding settings.
class GeneratorsOnVeth : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, BPF, packet sockets)";
    if (!sh("ip -V")) GTEST_SKIP() << "iproute2 'ip' not found";
    const std::string id = std::to_string(::getpid());
    tx_ns_ = "xgen-" + id + "-tx";
    rx_ns_ = "xgen-" + id + "-rx";
    tx_if_ = "xgen" + id + "t";
    rx_if_ = "xgen" + id + "r";
    created_ = true;
    ASSERT_TRUE(sh("ip netns add " + tx_ns_));
    ASSERT_TRUE(sh("ip netns add " + rx_ns_));
    ASSERT_TRUE(sh("ip link add " + tx_if_ + " netns " + tx_ns_ + " type veth peer name " + rx_if_ +
                   " netns " + rx_ns_));
    // IPv6 off before the links come up: no neighbour discovery frames of their own.
    ASSERT_TRUE(
        sh("ip netns exec " + tx_ns_ + " sysctl -qw net.ipv6.conf." + tx_if_ + ".disable_ipv6=1"));
    ASSERT_TRUE(
        sh("ip netns exec " + rx_ns_ + " sysctl -qw net.ipv6.conf." + rx_if_ + ".disable_ipv6=1"));
    ASSERT_TRUE(sh("ip -n " + tx_ns_ + " link set " + tx_if_ + " up"));
    ASSERT_TRUE(sh("ip -n " + rx_ns_ + " link set " + rx_if_ + " up"));
  }
  void TearDown() override {
    if (!created_) return;
    sh("ip netns del " + tx_ns_);  // the veth pair goes with it
    sh("ip netns del " + rx_ns_);
  }

  // Runs `send` on a thread of its own inside the tx namespace.
  template <typename F>
  Result<SendReport> send_from_tx(F send) {
    Result<SendReport> out = Error{};
    std::thread t([&] {
      auto ns = ScopedNetns::enter(tx_ns_);
      if (!ns) {
        out = std::move(ns).error();
        return;
      }
      out = send();
    });
    t.join();
    return out;
  }

  // A packet socket on the rx end that sees every frame the XDP program passes.
  Result<UniqueFd> open_capture() {
    UniqueFd fd(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL)));
    if (!fd) return Error::sys(errno, "capture socket");
    const int rcvbuf = 256 << 20;  // live frames arrive at millions per second
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0) {
      return Error::sys(errno, "SO_RCVBUFFORCE");
    }
    auto nic = NetInterface::find(rx_if_);
    if (!nic) return std::move(nic).error();
    sockaddr_ll addr{};
    addr.sll_family = AF_PACKET;
    addr.sll_protocol = htons(ETH_P_ALL);
    addr.sll_ifindex = nic->index;
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      return Error::sys(errno, "bind capture socket");
    }
    return fd;
  }

  // Reads every queued frame: seq -> bytes. Counts frames that are not test frames.
  std::map<uint64_t, std::vector<uint8_t>> drain(int fd, size_t& foreign, size_t& repeated) {
    std::map<uint64_t, std::vector<uint8_t>> frames;
    std::vector<uint8_t> buf(16384);
    for (;;) {
      const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
      if (n < 0) break;
      std::vector<uint8_t> frame(buf.begin(), buf.begin() + n);
      const auto info = parse_test_frame(frame);
      if (!info) {
        foreign++;
        continue;
      }
      if (!frames.emplace(info->seq, std::move(frame)).second) repeated++;
    }
    return frames;
  }

  void check_exact(SequenceCheckReceiver& receiver, int capture, const SendReport& report,
                   uint64_t count, const std::function<std::vector<uint8_t>(uint64_t)>& expect) {
    EXPECT_EQ(report.frames, count);
    EXPECT_EQ(report.device_drops, 0u);
    receiver.settle();
    auto seen = receiver.report(count);
    ASSERT_TRUE(seen) << seen.error().message;
    EXPECT_TRUE(seen->exact()) << "missing " << seen->missing << ", duplicates " << seen->duplicates
                               << ", bad headers " << seen->bad_header;
    EXPECT_EQ(seen->test_frames, count);

    size_t foreign = 0;
    size_t repeated = 0;
    const auto frames = drain(capture, foreign, repeated);
    EXPECT_EQ(foreign, 0u);
    EXPECT_EQ(repeated, 0u);
    ASSERT_EQ(frames.size(), count);
    size_t mismatches = 0;
    for (uint64_t seq = report.first_seq; seq < report.first_seq + count; ++seq) {
      const auto it = frames.find(seq);
      ASSERT_NE(it, frames.end()) << "seq " << seq;
      if (it->second != expect(seq) && mismatches++ < 5) {
        ADD_FAILURE() << "frame " << seq << " differs from the expected bytes (size "
                      << it->second.size() << ", expected " << expect(seq).size() << ")";
      }
    }
    EXPECT_EQ(mismatches, 0u);
  }

  // The receiving end's sequence check for `window` frames of `spec` from `seq_base` on, passing
  // them on to the capture socket.
  SequenceCheckConfig passing_check(const FrameSpec& spec, uint64_t seq_base, uint64_t window) const {
    SequenceCheckConfig cc;
    cc.interface = rx_if_;
    cc.seq_base = seq_base;
    cc.window = window;
    cc.flows = spec.flows;
    cc.src_port = spec.src_port;
    cc.pass = true;  // on to the capture socket
    return cc;
  }

  std::string tx_ns_, rx_ns_, tx_if_, rx_if_;
  bool created_ = false;
};

FrameSpec mixed_spec() {
  FrameSpec spec;
  spec.mixed_sizes = true;
  spec.flows = 4;
  spec.src_port = 30000;
  return spec;
}

TEST_F(GeneratorsOnVeth, PacketSocketSenderDeliversExactFrames) {
  constexpr uint64_t kCount = 3000;
  const FrameSpec spec = mixed_spec();
  auto rx_ns = ScopedNetns::enter(rx_ns_);
  ASSERT_TRUE(rx_ns) << rx_ns.error().message;
  const SequenceCheckConfig cc = passing_check(spec, 1'000'000'007, kCount);
  auto receiver = SequenceCheckReceiver::attach(cc);
  ASSERT_TRUE(receiver) << receiver.error().message;
  auto capture = open_capture();
  ASSERT_TRUE(capture) << capture.error().message;

  auto report = send_from_tx([&]() -> Result<SendReport> {
    PacketSenderConfig pc;
    pc.interface = tx_if_;
    pc.frame = spec;
    pc.start_seq = cc.seq_base;
    auto sender = PacketSocketSender::open(pc);
    if (!sender) return std::move(sender).error();
    auto r = sender->send(kCount);
    if (r && sender->next_seq() != cc.seq_base + kCount) {
      return Error::nm(nmerr::invalid_parameter, "next_seq does not follow the frames sent");
    }
    return r;
  });
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->first_seq, cc.seq_base);
  check_exact(*receiver, capture->get(), *report, kCount,
              [&](uint64_t seq) { return build_test_frame(spec, seq); });
}

TEST_F(GeneratorsOnVeth, LiveFrameGeneratorDeliversExactFrames) {
  constexpr uint64_t kCount = 3000;
  const FrameSpec spec = mixed_spec();
  auto rx_ns = ScopedNetns::enter(rx_ns_);
  ASSERT_TRUE(rx_ns) << rx_ns.error().message;
  const SequenceCheckConfig cc = passing_check(spec, 77, kCount);
  auto receiver = SequenceCheckReceiver::attach(cc);
  ASSERT_TRUE(receiver) << receiver.error().message;
  auto capture = open_capture();
  ASSERT_TRUE(capture) << capture.error().message;

  std::optional<LiveFrameGenerator> kept;  // outlives the thread: expected_frame() is needed
  auto report = send_from_tx([&]() -> Result<SendReport> {
    LiveGeneratorConfig lc;
    lc.interface = tx_if_;
    lc.frame = spec;
    lc.start_seq = cc.seq_base;
    lc.frames_per_call = 1000;  // several calls: the sequence must carry over
    lc.cpu = 0;
    auto gen = LiveFrameGenerator::open(lc);
    if (!gen) return std::move(gen).error();
    auto r = gen->send(kCount);
    kept.emplace(std::move(*gen));
    return r;
  });
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->calls, 3u);
  EXPECT_EQ(kept->next_seq(), cc.seq_base + kCount);
  check_exact(*receiver, capture->get(), *report, kCount,
              [&](uint64_t seq) { return kept->expected_frame(seq); });
}

TEST_F(GeneratorsOnVeth, HundredThousandFramesEachArriveOnce) {
  constexpr uint64_t kCount = 100'000;
  auto rx_ns = ScopedNetns::enter(rx_ns_);
  ASSERT_TRUE(rx_ns) << rx_ns.error().message;
  for (const bool live : {false, true}) {
    SCOPED_TRACE(live ? "live frames" : "packet socket");
    SequenceCheckConfig cc;
    cc.interface = rx_if_;
    cc.window = kCount;
    auto receiver = SequenceCheckReceiver::attach(cc);
    ASSERT_TRUE(receiver) << receiver.error().message;
    EXPECT_STREQ(receiver->mode(), "native");
    auto report = send_from_tx([&]() -> Result<SendReport> {
      FrameSpec spec;  // 60 bytes, one flow
      if (live) {
        LiveGeneratorConfig lc;
        lc.interface = tx_if_;
        lc.frame = spec;
        auto gen = LiveFrameGenerator::open(lc);
        if (!gen) return std::move(gen).error();
        return gen->send(kCount);
      }
      PacketSenderConfig pc;
      pc.interface = tx_if_;
      pc.frame = spec;
      auto sender = PacketSocketSender::open(pc);
      if (!sender) return std::move(sender).error();
      return sender->send(kCount);
    });
    ASSERT_TRUE(report) << report.error().message;
    EXPECT_EQ(report->frames, kCount);
    EXPECT_EQ(report->device_drops, 0u);
    receiver->settle();
    auto seen = receiver->report(kCount);
    ASSERT_TRUE(seen) << seen.error().message;
    EXPECT_TRUE(seen->exact()) << "missing " << seen->missing << ", duplicates " << seen->duplicates
                               << ", first missing " << seen->first_missing.value_or(0);
    EXPECT_EQ(seen->test_frames, kCount);
    EXPECT_EQ(seen->other_frames, 0u);
  }
}

TEST_F(GeneratorsOnVeth, LiveFramesWithoutAReceiverProgramAreReportedLost) {
  // A veth hands XDP_TX frames only to a peer with NAPI (an XDP program, or GRO): without it the
  // kernel drops them without counting them anywhere on the device, and the generator has to
  // notice from the xdp_xmit counter instead.
  auto report = send_from_tx([&]() -> Result<SendReport> {
    LiveGeneratorConfig lc;
    lc.interface = tx_if_;
    auto gen = LiveFrameGenerator::open(lc);
    if (!gen) return std::move(gen).error();
    return gen->send(1000);
  });
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->frames, 1000u);
  EXPECT_EQ(report->device_drops, 1000u);
}

}  // namespace
}  // namespace xesp::gen
