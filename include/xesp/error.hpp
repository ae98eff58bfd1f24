// The nmerr error category: Network Monitor's NMERR codes as std::error_code values.
#pragma once

#include <cstdint>
#include <string>
#include <system_error>

namespace xesp {

// Numeric values from Netmon.h (see docs/IESP.md).
enum class nmerr : int {
  success = 0,
  capturing = 3,
  not_capturing = 4,
  out_of_memory = 19,
  capture_paused = 20,
  capture_not_paused = 66,
  invalid_parameter = 76,
  lost_connection = 93,
  agent_in_use = 95,
  timeout = 96,
  disconnected = 97,
  not_connected = 102,
  already_connected = 103,
  not_delayed = 106,
  realtime = 107,
  not_realtime = 108,
  not_stats_only = 110,
  no_default_capture_directory = 116,
  remote_not_a_server = 126,
  remote_version_outofsync = 127,
  esp = 138,
  not_esp = 139,
  blob_not_initialized = 1000,
  invalid_blob = 1001,
  uplevel_blob = 1002,
  blob_entry_does_not_exist = 1004,
  blob_owner_not_found = 1006,
  blob_category_not_found = 1007,
  unknown_category = 1008,
  unknown_tag = 1009,
  blob_conversion_error = 1010,
  illegal_trigger = 1011,
  blob_string_invalid = 1012,
  invalid_remote_computername = 1016,
  rpc_remote_failure = 1017,
};

const std::error_category& nmerr_category() noexcept;

inline std::error_code make_error_code(nmerr e) noexcept {
  return {static_cast<int>(e), nmerr_category()};
}

// The SDK's symbolic name of a code ("NMERR_NOT_CONNECTED"), or "NMERR_<n>" for unknown ones.
std::string nmerr_name(int code);

}  // namespace xesp

template <>
struct std::is_error_code_enum<xesp::nmerr> : std::true_type {};
