#include "xesp/error.hpp"

#include <string>

namespace xesp {
namespace {

struct NmerrInfo {
  nmerr code;
  const char* name;
  const char* text;
};

constexpr NmerrInfo kNmerrTable[] = {
    {nmerr::success, "NMERR_SUCCESS", "success"},
    {nmerr::capturing, "NMERR_CAPTURING", "a capture is in progress"},
    {nmerr::not_capturing, "NMERR_NOT_CAPTURING", "no capture is in progress"},
    {nmerr::out_of_memory, "NMERR_OUT_OF_MEMORY", "out of memory"},
    {nmerr::capture_paused, "NMERR_CAPTURE_PAUSED", "the capture is paused"},
    {nmerr::capture_not_paused, "NMERR_CAPTURE_NOT_PAUSED", "the capture is not paused"},
    {nmerr::invalid_parameter, "NMERR_INVALID_PARAMETER", "invalid parameter"},
    {nmerr::lost_connection, "NMERR_LOST_CONNECTION", "lost the connection to the agent"},
    {nmerr::agent_in_use, "NMERR_AGENT_IN_USE", "the agent is in use by another client"},
    {nmerr::timeout, "NMERR_TIMEOUT", "timed out"},
    {nmerr::disconnected, "NMERR_DISCONNECTED", "disconnected"},
    {nmerr::not_connected, "NMERR_NOT_CONNECTED", "the provider is not connected"},
    {nmerr::already_connected, "NMERR_ALREADY_CONNECTED", "the provider is already connected"},
    {nmerr::not_delayed, "NMERR_NOT_DELAYED", "not connected through the delayed interface"},
    {nmerr::realtime, "NMERR_REALTIME", "connected through the real-time interface"},
    {nmerr::not_realtime, "NMERR_NOT_REALTIME", "not connected through the real-time interface"},
    {nmerr::not_stats_only, "NMERR_NOT_STATS_ONLY", "not connected through the statistics interface"},
    {nmerr::no_default_capture_directory, "NMERR_NO_DEFAULT_CAPTURE_DIRECTORY",
     "no capture directory and no capture file configured"},
    {nmerr::remote_not_a_server, "NMERR_REMOTE_NOT_A_SERVER", "the remote host runs no agent"},
    {nmerr::remote_version_outofsync, "NMERR_REMOTE_VERSION_OUTOFSYNC",
     "the remote agent speaks another protocol version"},
    {nmerr::esp, "NMERR_ESP", "connected through the ESP interface"},
    {nmerr::not_esp, "NMERR_NOT_ESP", "not connected through the ESP interface"},
    {nmerr::blob_not_initialized, "NMERR_BLOB_NOT_INITIALIZED", "the blob is not initialized"},
    {nmerr::invalid_blob, "NMERR_INVALID_BLOB", "invalid blob"},
    {nmerr::uplevel_blob, "NMERR_UPLEVEL_BLOB", "the blob comes from a newer version"},
    {nmerr::blob_entry_does_not_exist, "NMERR_BLOB_ENTRY_DOES_NOT_EXIST",
     "a required blob entry does not exist"},
    {nmerr::blob_owner_not_found, "NMERR_BLOB_OWNER_NOT_FOUND", "unknown blob owner"},
    {nmerr::blob_category_not_found, "NMERR_BLOB_CATEGORY_NOT_FOUND", "blob category not found"},
    {nmerr::unknown_category, "NMERR_UNKNOWN_CATEGORY", "unknown blob category"},
    {nmerr::unknown_tag, "NMERR_UNKNOWN_TAG", "unknown blob tag"},
    {nmerr::blob_conversion_error, "NMERR_BLOB_CONVERSION_ERROR", "a blob value does not parse"},
    {nmerr::illegal_trigger, "NMERR_ILLEGAL_TRIGGER", "illegal trigger"},
    {nmerr::blob_string_invalid, "NMERR_BLOB_STRING_INVALID", "invalid blob string"},
    {nmerr::invalid_remote_computername, "NMERR_INVALID_REMOTE_COMPUTERNAME",
     "invalid remote computer name"},
    {nmerr::rpc_remote_failure, "NMERR_RPC_REMOTE_FAILURE", "the remote call failed"},
};

const NmerrInfo* find_nmerr(int code) {
  for (const auto& info : kNmerrTable) {
    if (static_cast<int>(info.code) == code) return &info;
  }
  return nullptr;
}

class NmerrCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "nmerr"; }
  std::string message(int code) const override {
    const NmerrInfo* info = find_nmerr(code);
    return info ? info->text : "NMERR " + std::to_string(code);
  }
};

}  // namespace

const std::error_category& nmerr_category() noexcept {
  static const NmerrCategory category;
  return category;
}

std::string nmerr_name(int code) {
  const NmerrInfo* info = find_nmerr(code);
  return info ? info->name : "NMERR_" + std::to_string(code);
}

}  // namespace xesp
