// Running `xesp capture` against a testbed and checking what it wrote: shared by the CLI and
// file tests. Frames come from xesp-gen (bench/gen), so every frame read back can be rebuilt
// from its sequence number and compared byte for byte.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pcapng/pcapng_reader.hpp"
#include "support/subprocess.hpp"
#include "test_frame.hpp"

namespace xesp::test {

inline constexpr const char* kTestSrcMac = "02:00:00:00:00:01";

uint64_t now_ns();

// The frames xesp-gen sends with gen_args(mixed, flows), for rebuilding them.
gen::FrameSpec spec_for(bool mixed, uint32_t flows);
std::vector<std::string> gen_args(bool mixed, uint32_t flows);

// Starts `xesp capture -v ARGS` and waits until it says the capture runs (null, and a test
// failure, when it does not).
std::unique_ptr<Subprocess> start_capture(const std::vector<std::string>& args,
                                          const std::string& stdout_path = {});

// Waits (up to 20 s) until `xesp capture -v` says the capture runs; false if it never did (it
// ended, or took too long).
bool wait_until_capturing(Subprocess& p);

// Waits for the process to end by itself (a count trigger); interrupts it after `patience`.
ProcessResult finish(Subprocess& p, std::chrono::milliseconds patience);

bool wait_for(const std::function<bool()>& cond,
              std::chrono::milliseconds timeout = std::chrono::seconds(10));

// The --json summary on stdout (a test failure when there is none).
nlohmann::json summary_json(const ProcessResult& r);

// Checks every frame of a capture of test frames: byte-for-byte equal to what the generator
// built for its sequence number, each sequence number once, timestamps per interface never
// going backwards and taken while sending (give or take 100 ms). Returns frames per IDB.
std::map<uint32_t, uint64_t> check_frames(const PcapngFile& file, const gen::FrameSpec& spec,
                                          uint64_t expected_count, uint64_t first_seq,
                                          uint64_t sent_count, uint64_t t_begin, uint64_t t_end);

}  // namespace xesp::test
