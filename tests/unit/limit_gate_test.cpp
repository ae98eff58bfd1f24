// The stop/pause limits every queue shares, and the per-queue accounting of every frame.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "capture/limit_gate.hpp"
#include "stats/queue_accounting.hpp"

namespace xesp {
namespace {

using capture::LimitGate;
using capture::LimitKind;
using capture::SinkLimits;

TEST(LimitGate, UnlimitedKeepsEverything) {
  int fired = 0;
  LimitGate gate([&](LimitKind) { ++fired; });
  EXPECT_EQ(gate.claim_frames(100), 100u);
  EXPECT_TRUE(gate.claim_bytes(1500, 1532));
  EXPECT_EQ(gate.frames(), 100u);
  EXPECT_EQ(gate.bytes(), 1500u);
  EXPECT_EQ(fired, 0);
}

TEST(LimitGate, FrameLimitKeepsAPrefixAndFiresOnce) {
  std::vector<LimitKind> fired;
  LimitGate gate([&](LimitKind k) { fired.push_back(k); });
  gate.set({.max_frames = 10, .max_bytes = {}, .max_file_size = {}});
  EXPECT_EQ(gate.claim_frames(4), 4u);
  EXPECT_EQ(gate.claim_frames(4), 4u);
  EXPECT_EQ(gate.claim_frames(4), 2u);
  EXPECT_EQ(gate.claim_frames(4), 0u);
  EXPECT_EQ(gate.frames(), 10u);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0], LimitKind::frames);
  // Re-arming (Resume after a pause trigger) with a higher limit lets frames through again.
  gate.set({.max_frames = 12, .max_bytes = {}, .max_file_size = {}});
  EXPECT_EQ(gate.claim_frames(4), 2u);
  EXPECT_EQ(fired.size(), 2u);
}

TEST(LimitGate, ExactUnderRacingQueues) {
  constexpr uint64_t kLimit = 100'003;
  std::atomic<int> fired{0};
  LimitGate gate([&](LimitKind) { ++fired; });
  gate.set({.max_frames = kLimit, .max_bytes = {}, .max_file_size = {}});
  std::atomic<uint64_t> kept{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20'000; ++i) kept += gate.claim_frames(static_cast<uint32_t>(1 + (i + t) % 7));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(kept.load(), kLimit);
  EXPECT_EQ(gate.frames(), kLimit);
  EXPECT_EQ(fired.load(), 1);
}

TEST(LimitGate, ByteLimitKeepsTheFrameThatReachesIt) {
  std::vector<LimitKind> fired;
  LimitGate gate([&](LimitKind k) { fired.push_back(k); });
  gate.set({.max_frames = {}, .max_bytes = 250, .max_file_size = {}});
  EXPECT_TRUE(gate.claim_bytes(100, 0));
  EXPECT_TRUE(gate.claim_bytes(100, 0));
  EXPECT_TRUE(gate.claim_bytes(100, 0));  // reaches 300 >= 250: kept, limit fires
  EXPECT_FALSE(gate.claim_bytes(100, 0));
  EXPECT_EQ(gate.bytes(), 300u);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0], LimitKind::bytes);
}

TEST(LimitGate, FileSizeIsACap) {
  std::vector<LimitKind> fired;
  LimitGate gate([&](LimitKind k) { fired.push_back(k); });
  gate.set({.max_frames = {}, .max_bytes = {}, .max_file_size = 1000}, /*file_base=*/200);
  EXPECT_TRUE(gate.claim_bytes(60, 400));
  EXPECT_TRUE(gate.claim_bytes(60, 400));   // 200 + 800 = 1000: exactly the cap
  EXPECT_FALSE(gate.claim_bytes(60, 4));    // 1004 > 1000
  EXPECT_EQ(gate.output_bytes(), 800u);
  EXPECT_EQ(gate.bytes(), 120u) << "a refused frame's bytes are given back";
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0], LimitKind::file_size);
}

TEST(LimitGate, ClaimABatchKeepsAPrefixUnderAByteLimit) {
  std::vector<LimitKind> fired;
  LimitGate gate([&](LimitKind k) { fired.push_back(k); });
  std::vector<Frame> batch(8, Frame{nullptr, 100, 100, 0, 0, 0});
  auto out = [](const Frame& f) { return uint64_t{f.len + 32u}; };
  EXPECT_EQ(gate.claim(batch, out), 8u);  // unlimited: counted per batch
  EXPECT_EQ(gate.bytes(), 800u);
  EXPECT_EQ(gate.output_bytes(), 8u * 132);
  gate.set({.max_frames = {}, .max_bytes = 1250, .max_file_size = {}});
  EXPECT_EQ(gate.claim(batch, out), 5u) << "800 + 5 x 100 reaches 1250";
  EXPECT_EQ(gate.frames(), 13u);
  EXPECT_EQ(gate.claim(batch, out), 0u);
  EXPECT_EQ(gate.frames(), 13u) << "refused frames are given back to the frame count";
  ASSERT_EQ(fired.size(), 1u);
}

stats::QueueSample sample(uint64_t seen, uint64_t redirected, uint64_t received, uint64_t written,
                          uint64_t ring_full, uint64_t rx_dropped, uint64_t fill_empty) {
  stats::QueueSample s;
  s.program.seen_frames = seen;
  s.program.redirected_frames = redirected;
  s.received = received;
  s.written = written;
  s.after_stop = received - written;
  s.socket.rx_ring_full = ring_full;
  s.socket.rx_dropped = rx_dropped;
  s.socket.rx_fill_ring_empty_descs = fill_empty;
  return s;
}

TEST(QueueAccounting, EveryFrameHasOneCause) {
  // Since start: 1000 redirected; 900 received (880 written, 20 after the stop), 50 lost to a
  // full RX ring, 40 to an empty fill ring (counted in rx_dropped and fill_empty both, as the
  // kernel does in copy mode), 10 redirected frames no counter explains.
  auto start = sample(500, 400, 300, 300, 5, 7, 7);
  auto now = sample(1500, 1400, 1200, 1180, 55, 47, 47);
  QueueStatistics q = stats::account_queue(3, now, start, /*final=*/true);
  EXPECT_EQ(q.queue, 3u);
  EXPECT_EQ(q.frames_seen, 1000u);
  EXPECT_EQ(q.frames_redirected, 1000u);
  EXPECT_EQ(q.frames_written, 880u);
  EXPECT_EQ(q.frames_after_stop, 20u);
  EXPECT_EQ(q.dropped_ring_full, 50u);
  EXPECT_EQ(q.dropped_fill_empty, 40u);
  EXPECT_EQ(q.dropped_other, 10u);
  EXPECT_EQ(q.frames_written + q.frames_after_stop + q.dropped(), q.frames_redirected);
  // While running, the unexplained frames may still be in flight: not counted lost yet.
  EXPECT_EQ(stats::account_queue(3, now, start, false).dropped_other, 0u);
  EXPECT_EQ(stats::in_flight(now, start), 10u);
}

TEST(QueueAccounting, FramesTheFileCouldNotTakeAreAWriteErrorDropNotWritten) {
  // 100 received and kept by the sink, 30 of them in writes that failed (or were cut off).
  auto start = sample(0, 0, 0, 0, 0, 0, 0);
  auto now = sample(100, 100, 100, 100, 0, 0, 0);
  now.unwritten = 30;
  QueueStatistics q = stats::account_queue(0, now, start, true);
  EXPECT_EQ(q.frames_written, 70u);
  EXPECT_EQ(q.dropped_write_error, 30u);
  EXPECT_EQ(q.dropped(), 30u);
  EXPECT_EQ(q.frames_written + q.frames_after_stop + q.dropped(), q.frames_seen);
  Statistics s;
  s.queues = {q, q};
  stats::sum_queues(s);
  EXPECT_EQ(s.dropped_write_error, 60u);
  EXPECT_EQ(s.frames_dropped, 60u);
  EXPECT_EQ(s.frames_captured, 140u);
}

TEST(QueueAccounting, EmptyFillRingPollsWithoutDropsAreNotLosses) {
  // Zero-copy drivers count empty fill-ring polls that lost nothing: only rx_dropped counts.
  auto start = sample(0, 0, 0, 0, 0, 0, 0);
  auto now = sample(100, 100, 100, 100, 0, 0, 37);
  QueueStatistics q = stats::account_queue(0, now, start, true);
  EXPECT_EQ(q.dropped(), 0u);
}

TEST(QueueAccounting, SumsIntoSdkTotals) {
  Statistics s;
  QueueStatistics a;
  a.frames_written = 10;
  a.frames_seen = 12;
  a.dropped_ring_full = 2;
  QueueStatistics b;
  b.frames_written = 5;
  b.frames_seen = 6;
  b.dropped_other = 1;
  s.queues = {a, b};
  stats::sum_queues(s);
  EXPECT_EQ(s.frames_captured, 15u);
  EXPECT_EQ(s.frames_seen, 18u);
  EXPECT_EQ(s.frames_dropped, 3u);
}

}  // namespace
}  // namespace xesp
