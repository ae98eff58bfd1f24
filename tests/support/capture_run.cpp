#include "support/capture_run.hpp"

#include <time.h>

#include <thread>

#include <gtest/gtest.h>

#include "support/testbed.hpp"

namespace xesp::test {

using namespace std::chrono_literals;

uint64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

gen::FrameSpec spec_for(bool mixed, uint32_t flows) {
  gen::FrameSpec spec;
  spec.src_mac = *gen::parse_mac(kTestSrcMac);
  spec.dst_mac = gen::kBroadcastMac;
  spec.mixed_sizes = mixed;
  spec.flows = flows;
  return spec;
}

std::vector<std::string> gen_args(bool mixed, uint32_t flows) {
  return {"--size", mixed ? "mixed" : "60", "--flows", std::to_string(flows), "--src-mac", kTestSrcMac,
          "--dst-mac", "ff:ff:ff:ff:ff:ff"};
}

// Starts `xesp capture -v ...` and waits until it says the capture runs.
std::unique_ptr<Subprocess> start_capture(const std::vector<std::string>& args,
                                          const std::string& stdout_path) {
  std::vector<std::string> argv = {xesp_binary(), "capture", "-v"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto p = std::make_unique<Subprocess>(argv, stdout_path);
  if (wait_until_capturing(*p)) return p;
  ADD_FAILURE() << "xesp capture did not start: " << p->stderr_so_far();
  return nullptr;
}

bool wait_until_capturing(Subprocess& p) {
  auto started = [&] { return p.stderr_so_far().find("capturing on") != std::string::npos; };
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (started()) return true;
    if (!p.running()) break;
    std::this_thread::sleep_for(10ms);
  }
  return started();
}

// Waits for the process to end by itself (a count trigger); interrupts it after `patience`.
ProcessResult finish(Subprocess& p, std::chrono::milliseconds patience) {
  auto deadline = std::chrono::steady_clock::now() + patience;
  while (p.running() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  if (p.running()) p.signal(SIGINT);
  return p.wait(30s);
}

bool wait_for(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return cond();
}

nlohmann::json summary_json(const ProcessResult& r) {
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "no JSON summary on stdout: " << r.out << r.err;
  return j;
}

// Checks every frame of a capture of test frames: byte-for-byte equal to what the generator
// built for its sequence number, each sequence number once, timestamps per interface never
// going backwards and taken while sending (the XDP program's receive times, give or take 100 ms
// for the NAPI run that delivers the last frames). Returns frames per IDB.
std::map<uint32_t, uint64_t> check_frames(const PcapngFile& file, const gen::FrameSpec& spec,
                                          uint64_t expected_count, uint64_t first_seq,
                                          uint64_t sent_count, uint64_t t_begin, uint64_t t_end) {
  std::map<uint32_t, uint64_t> per_interface;
  std::map<uint32_t, uint64_t> last_ts;
  std::vector<bool> seen(sent_count, false);
  uint64_t mismatches = 0;
  EXPECT_EQ(file.packets.size(), expected_count);
  for (const auto& pkt : file.packets) {
    auto info = gen::parse_test_frame(pkt.data);
    if (!info) {
      ADD_FAILURE() << "frame at offset " << pkt.block_offset << " is not a test frame";
      continue;
    }
    if (info->seq < first_seq || info->seq >= first_seq + sent_count) {
      ADD_FAILURE() << "sequence " << info->seq << " was never sent";
      continue;
    }
    const uint64_t i = info->seq - first_seq;
    EXPECT_FALSE(seen[i]) << "sequence " << info->seq << " captured twice";
    seen[i] = true;
    auto expected = gen::build_test_frame(spec, info->seq);
    EXPECT_EQ(pkt.original_len, expected.size()) << "seq " << info->seq;
    if (pkt.data != expected && ++mismatches <= 5)
      ADD_FAILURE() << "frame seq " << info->seq << " differs from what was sent";
    EXPECT_GE(pkt.timestamp_ns + 100'000'000ULL, t_begin) << "seq " << info->seq;
    EXPECT_LE(pkt.timestamp_ns, t_end + 100'000'000ULL) << "seq " << info->seq;
    auto& last = last_ts[pkt.interface_id];
    EXPECT_GE(pkt.timestamp_ns, last) << "timestamp went backwards on interface "
                                      << pkt.interface_id << " at seq " << info->seq;
    last = pkt.timestamp_ns;
    ++per_interface[pkt.interface_id];
  }
  EXPECT_EQ(mismatches, 0u);
  return per_interface;
}

}  // namespace xesp::test
