// What one send() of a generator did.
#pragma once

#include <cstdint>

namespace xesp::gen {

struct SendReport {
  // Frames that left through the interface as far as the sender can tell: accepted by sendmmsg
  // (packet socket) or produced by the XDP program with XDP_TX (live frames). Exact, not rounded
  // to batches. They carry sequence numbers first_seq .. first_seq + frames - 1.
  uint64_t frames = 0;
  uint64_t bytes = 0;  // Ethernet bytes without FCS
  uint64_t first_seq = 0;
  double seconds = 0;    // wall clock of the whole send, set-up of each call included
  uint64_t calls = 0;    // sendmmsg / BPF_PROG_RUN calls that sent something
  uint64_t retries = 0;  // sendmmsg calls repeated after ENOBUFS/EAGAIN (packet socket only)
  // Frames counted above that the sending device did not hand to its peer (packet socket:
  // tx_dropped; live frames on a veth: frames - xdp_xmit). A receiver should see
  // frames - device_drops of them.
  uint64_t device_drops = 0;

  double frames_per_second() const noexcept { return seconds > 0 ? frames / seconds : 0.0; }
};

}  // namespace xesp::gen
