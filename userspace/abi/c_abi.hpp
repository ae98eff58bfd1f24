// Internals of the C ABI (c_abi.cpp) that unit tests reach directly: the conversions between
// the C++ provider's types and the SDK's C structs. Not installed, not exported by libxesp.so.
#pragma once

#include <cstdint>
#include <system_error>

#include "npp/provider.hpp"
#include "xesp/esp.hpp"
#include "xesp/iesp.h"
#include "xesp/stats.hpp"

namespace xesp::abi {

// The SDK's 32-bit STATISTICS from xesp's 64-bit counters; every field saturates (UINT32_MAX,
// INT64_MAX for the two 64-bit fields) instead of wrapping.
void to_c_statistics(const Statistics& in, STATISTICS* out) noexcept;

// One STATIONQUERY entry: names as bytes and as UTF-16 (both truncated, NUL-terminated),
// version BCD 0.1 (xesp's).
void to_c_station(const npp::Station& in, STATIONQUERY* out) noexcept;

// The host's UPDATE_EVENT of a provider event. lpFinalStats points to *storage (filled) only
// when the action is STOP_CAPTURE or PAUSE_CAPTURE and the event carries totals; else NULL.
void to_c_update_event(const UpdateEvent& in, UPDATE_EVENT* out, STATISTICS* storage) noexcept;

// The HRESULT of a provider result: 0, or NMERR_TO_HRESULT of its nmerr value (an OS error
// that escaped mapping becomes the nearest NMERR).
HRESULT to_hresult(std::error_code ec) noexcept;

}  // namespace xesp::abi
