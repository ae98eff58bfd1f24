// Where pollers hand their frames: the pcapng writer for IESP, a user callback for IRTC.
#pragma once

#include <cstdint>
#include <span>

#include "xesp/frame.hpp"

namespace xesp::capture {

using Frame = xesp::Frame;  // data points into UMEM: valid only during FrameSink::consume

class FrameSink {
 public:
  virtual ~FrameSink() = default;
  // Runs on the poller thread of capture queue `queue_index` (position in the captured queue
  // list, not the NIC queue number); must not block for long. Returns how many frames of the
  // batch, from its start, were kept; the rest fell beyond a stop limit.
  virtual uint32_t consume(uint32_t queue_index, std::span<const Frame> batch) = 0;
  // The poller found its ring empty: a chance to flush buffered output.
  virtual void idle(uint32_t queue_index) { (void)queue_index; }
};

}  // namespace xesp::capture
