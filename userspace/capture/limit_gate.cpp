#include "capture/limit_gate.hpp"

#include <algorithm>

namespace xesp::capture {

void LimitGate::set(const SinkLimits& limits, uint64_t file_base) {
  std::lock_guard lock(set_mutex_);
  max_frames_.store(limits.max_frames.value_or(UINT64_MAX));
  max_bytes_.store(limits.max_bytes.value_or(UINT64_MAX));
  uint64_t max_output = UINT64_MAX;
  if (limits.max_file_size)
    max_output = *limits.max_file_size > file_base ? *limits.max_file_size - file_base : 0;
  max_output_.store(max_output);
  byte_limits_.store(limits.max_bytes || limits.max_file_size);
  fired_.store(false);
}

void LimitGate::reached(LimitKind kind) {
  if (!fired_.exchange(true) && on_limit_) on_limit_(kind);
}

uint32_t LimitGate::claim_frames(uint32_t n) {
  const uint64_t max = max_frames_.load(std::memory_order_relaxed);
  const uint64_t prev = frames_.fetch_add(n, std::memory_order_relaxed);
  if (max == UINT64_MAX) return n;
  const uint64_t allowed = prev >= max ? 0 : std::min<uint64_t>(n, max - prev);
  if (allowed < n) frames_.fetch_sub(n - allowed, std::memory_order_relaxed);
  if (prev + allowed >= max) reached(LimitKind::frames);
  return static_cast<uint32_t>(allowed);
}

bool LimitGate::claim_bytes(uint32_t wire_len, uint64_t output_bytes) {
  if (!has_byte_limits()) {
    bytes_.fetch_add(wire_len, std::memory_order_relaxed);
    output_.fetch_add(output_bytes, std::memory_order_relaxed);
    return true;
  }
  const uint64_t max_bytes = max_bytes_.load(std::memory_order_relaxed);
  const uint64_t prev = bytes_.fetch_add(wire_len, std::memory_order_relaxed);
  if (prev >= max_bytes) {
    bytes_.fetch_sub(wire_len, std::memory_order_relaxed);
    reached(LimitKind::bytes);
    return false;
  }
  // The output limit is a cap: a frame is kept only if the output stays within it.
  const uint64_t max_output = max_output_.load(std::memory_order_relaxed);
  const uint64_t out_prev = output_.fetch_add(output_bytes, std::memory_order_relaxed);
  if (max_output != UINT64_MAX && out_prev + output_bytes > max_output) {
    output_.fetch_sub(output_bytes, std::memory_order_relaxed);
    bytes_.fetch_sub(wire_len, std::memory_order_relaxed);
    reached(LimitKind::file_size);
    return false;
  }
  if (prev + wire_len >= max_bytes) reached(LimitKind::bytes);
  return true;
}

}  // namespace xesp::capture
