// IRTC in C++: the same provider as Esp, frames handed to a callable instead of written to a
// file (the appliance use). An Rtc made from an Esp shares its provider: a call through one
// while the provider is connected through the other answers NMERR_NOT_REALTIME / NOT_ESP.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string_view>

#include "xesp/esp.hpp"
#include "xesp/frame.hpp"

namespace xesp {

// Runs on the poller thread of the frames' queue; the frames are valid only during the call.
// It must not block and must not call disconnect() or destroy the provider (it may call
// pause() or stop()).
using FramesCallback = std::function<void(std::span<const Frame> frames)>;

class Rtc {
 public:
  Rtc();                    // a provider of its own
  explicit Rtc(Esp& esp);   // the provider behind `esp`
  ~Rtc();
  Rtc(Rtc&&) noexcept;
  Rtc& operator=(Rtc&&) noexcept;

  std::error_code connect(const Blob& config, StatusCallback status, FramesCallback frames,
                          void* user_context = nullptr, Blob* error_blob = nullptr);
  std::error_code disconnect();
  std::error_code query_status(NetworkStatus& status) const;
  std::error_code configure(const Blob& config, Blob* error_blob = nullptr);
  std::error_code start();
  std::error_code pause();
  std::error_code resume();
  std::error_code stop();
  std::error_code get_control_state(bool& running, bool& paused) const;
  std::error_code get_total_statistics(Statistics& statistics, bool clear);
  // A marker in the stream: the callback gets a frame flagged kFrameSpecial holding `text`.
  std::error_code insert_special_frame(std::string_view text);
  // Capture agents on the local subnet; callable in any state (see Esp::query_stations).
  std::error_code query_stations(std::vector<Station>& stations) const;

  std::string last_error() const;
  ConnectionInfo connection_info() const;

 private:
  std::shared_ptr<npp::Provider> provider_;
};

}  // namespace xesp
