// A received frame as pollers hand it to sinks and IRTC callbacks. Same layout as the C ABI's
// XESP_FRAME, so a batch crosses to C without a copy.
#pragma once

#include <cstdint>

namespace xesp {

inline constexpr uint32_t kFrameSpecial = 0x1;  // an InsertSpecialFrame marker: data is its text

struct Frame {
  const uint8_t* data;    // valid only during the callback that received it
  uint32_t len;           // bytes present (captured)
  uint32_t orig_len;      // length on the wire
  uint64_t timestamp_ns;  // receive time, ns since the Unix epoch (UTC), taken in the kernel
  uint32_t queue;         // NIC RX queue
  uint32_t flags;         // kFrameSpecial
};

}  // namespace xesp
