// Exact stop/pause limits shared by every queue of a capture, without locks: each queue claims
// what it wants to keep from atomic budgets and gives back what exceeds them, so the totals
// settle on exactly the frames kept however the queues race. The handler fires once per arming.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>

#include "xesp/frame.hpp"

namespace xesp::capture {

// Which limit ran out; the provider turns it into a Stop or a Pause.
enum class LimitKind { frames, bytes, file_size };

// Absolute totals since the capture began; unset = no limit.
struct SinkLimits {
  std::optional<uint64_t> max_frames;
  std::optional<uint64_t> max_bytes;      // wire bytes; the frame that reaches it is kept
  std::optional<uint64_t> max_file_size;  // output bytes (file sinks only)
};

class LimitGate {
 public:
  using Handler = std::function<void(LimitKind)>;
  explicit LimitGate(Handler on_limit) : on_limit_(std::move(on_limit)) {}

  // Arms (or re-arms, e.g. at Resume) the limits. file_base: output bytes not claimed here.
  void set(const SinkLimits& limits, uint64_t file_base = 0);

  // How many of n frames may be kept (a prefix of the batch).
  uint32_t claim_frames(uint32_t n);
  // Gives back frames claimed but not kept after all (a byte limit refused them).
  void unclaim_frames(uint32_t n) { frames_.fetch_sub(n, std::memory_order_relaxed); }
  // One frame's wire bytes and output bytes; false when a byte limit refuses it.
  bool claim_bytes(uint32_t wire_len, uint64_t output_bytes);
  bool has_byte_limits() const { return byte_limits_.load(std::memory_order_relaxed); }

  // The prefix of `batch` that may be kept, with every counter updated. output_size(frame)
  // gives a frame's output bytes. Without byte limits this costs two atomic adds per batch.
  template <typename OutputSize>
  uint32_t claim(std::span<const Frame> batch, OutputSize output_size) {
    uint32_t kept = claim_frames(static_cast<uint32_t>(batch.size()));
    if (has_byte_limits()) {
      for (uint32_t i = 0; i < kept; ++i) {
        if (!claim_bytes(batch[i].orig_len, output_size(batch[i]))) {
          unclaim_frames(kept - i);
          return i;
        }
      }
      return kept;
    }
    uint64_t wire = 0, output = 0;
    for (uint32_t i = 0; i < kept; ++i) {
      wire += batch[i].orig_len;
      output += output_size(batch[i]);
    }
    bytes_.fetch_add(wire, std::memory_order_relaxed);
    output_.fetch_add(output, std::memory_order_relaxed);
    return kept;
  }

  uint64_t frames() const { return frames_.load(std::memory_order_relaxed); }
  uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
  uint64_t output_bytes() const { return output_.load(std::memory_order_relaxed); }

 private:
  void reached(LimitKind kind);

  Handler on_limit_;
  std::mutex set_mutex_;  // set() against itself only; the hot path reads atomics
  std::atomic<uint64_t> max_frames_{UINT64_MAX};
  std::atomic<uint64_t> max_bytes_{UINT64_MAX};
  std::atomic<uint64_t> max_output_{UINT64_MAX};
  std::atomic<bool> byte_limits_{false};
  std::atomic<bool> fired_{false};
  std::atomic<uint64_t> frames_{0};
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> output_{0};
};

}  // namespace xesp::capture
