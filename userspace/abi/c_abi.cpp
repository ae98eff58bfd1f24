// The C ABI of include/xesp/iesp.h over npp::Provider: COM-in-C objects (one per provider, two
// faces: IESP and IRTC), the SDK's blob functions over xesp::Blob, the factory. Every entry
// point catches everything: no C++ exception reaches a C caller.
#include "abi/c_abi.hpp"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "base/text.hpp"
#include "xesp/blob.hpp"
#include "xesp/error.hpp"
#include "xesp/frame.hpp"

#ifndef XESP_VERSION_STRING
#error "XESP_VERSION_STRING must come from the CMake project version"
#endif

// ---- IIDs (the SDK's values) ---------------------------------------------------------------
const IID IID_IUnknown = {
    0x00000000, 0x0000, 0x0000, {0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46}};
const IID IID_IESP = {0xE99A04AA, 0xAB95, 0x11D0, {0xBE, 0x96, 0x00, 0xA0, 0xC9, 0x49, 0x89, 0xDE}};
const IID IID_IRTC = {0x4811EA40, 0xB582, 0x11CE, {0xB5, 0xAF, 0x00, 0xAA, 0x00, 0x6C, 0xB3, 0x7D}};

// An HBLOB: the blob, plus stable copies of the entries handed out as `const char *` (the
// blob's own strings move when its vector grows; these stay put until their entry changes).
struct _XESP_BLOB {
  xesp::Blob blob;
  std::map<std::string, std::unique_ptr<xesp::BlobEntry>> views;
};

// xesp::Frame crosses to C without a copy: it must be XESP_FRAME, byte for byte.
static_assert(sizeof(xesp::Frame) == sizeof(XESP_FRAME));
static_assert(alignof(xesp::Frame) == alignof(XESP_FRAME));
static_assert(offsetof(xesp::Frame, data) == offsetof(XESP_FRAME, Data));
static_assert(offsetof(xesp::Frame, len) == offsetof(XESP_FRAME, CapturedLength));
static_assert(offsetof(xesp::Frame, orig_len) == offsetof(XESP_FRAME, OriginalLength));
static_assert(offsetof(xesp::Frame, timestamp_ns) == offsetof(XESP_FRAME, TimeStampNs));
static_assert(offsetof(xesp::Frame, queue) == offsetof(XESP_FRAME, Queue));
static_assert(offsetof(xesp::Frame, flags) == offsetof(XESP_FRAME, Flags));
static_assert(sizeof(xesp::Frame::timestamp_ns) == sizeof(XESP_FRAME::TimeStampNs));
static_assert(xesp::kFrameSpecial == XESP_FRAME_FLAG_SPECIAL);
static_assert(std::is_trivially_copyable_v<xesp::Frame>);

// The SDK layouts the C side relies on.
static_assert(sizeof(STATIONQUERY) == 192);
static_assert(sizeof(NETWORKSTATUS) == 8);
static_assert(sizeof(STATISTICS) == 88);
static_assert(xesp::kStateVoid == NETWORKSTATUS_STATE_VOID);
static_assert(xesp::kStateCapturing == NETWORKSTATUS_STATE_CAPTURING);
static_assert(xesp::kStatePaused == NETWORKSTATUS_STATE_PAUSED);
static_assert(xesp::kFlagTriggerPending == NETWORKSTATUS_FLAGS_TRIGGER_PENDING);
static_assert(xesp::kActionStopCapture == UPDATE_ACTION_STOP_CAPTURE);
static_assert(xesp::kActionPauseCapture == UPDATE_ACTION_PAUSE_CAPTURE);

namespace xesp::abi {
namespace {

using npp::Via;

// ---- Error text of the calling thread -------------------------------------------------------
thread_local std::string t_last_error;

void set_error(const char* where, std::string_view what) noexcept {
  try {
    std::string text(where);
    text += ": ";
    text += what;
    t_last_error = std::move(text);
  } catch (...) {
    t_last_error.clear();
  }
}

HRESULT hresult_of(nmerr code) noexcept { return NMERR_TO_HRESULT(static_cast<DWORD>(code)); }

// Runs one entry point; an exception becomes OUT_OF_MEMORY or INVALID_PARAMETER.
template <typename F>
HRESULT guard_hr(const char* where, F&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    set_error(where, "out of memory");
    return hresult_of(nmerr::out_of_memory);
  } catch (const std::exception& e) {
    set_error(where, e.what());
    return hresult_of(nmerr::invalid_parameter);
  } catch (...) {
    set_error(where, "unknown exception");
    return hresult_of(nmerr::invalid_parameter);
  }
}

// The same for the blob functions, which return bare NMERR codes.
template <typename F>
DWORD guard_nm(const char* where, F&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    set_error(where, "out of memory");
    return NMERR_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    set_error(where, e.what());
    return NMERR_INVALID_PARAMETER;
  } catch (...) {
    set_error(where, "unknown exception");
    return NMERR_INVALID_PARAMETER;
  }
}

HRESULT invalid(const char* where, std::string_view what) {
  set_error(where, what);
  return hresult_of(nmerr::invalid_parameter);
}

uint32_t sat32(uint64_t v) noexcept {
  return v > std::numeric_limits<uint32_t>::max() ? std::numeric_limits<uint32_t>::max()
                                                  : static_cast<uint32_t>(v);
}

int64_t sat64(uint64_t v) noexcept {
  return v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
             ? std::numeric_limits<int64_t>::max()
             : static_cast<int64_t>(v);
}

bool iid_equal(const IID& a, const IID& b) noexcept {
  return std::memcmp(&a, &b, sizeof(IID)) == 0;
}

// ---- The provider object: two faces over one npp::Provider ---------------------------------
struct ProviderObject;

// Each face starts with the interface struct (so an IESP* is a pointer to its face) and points
// back at its object.
struct EspFace {
  IESP iface;
  ProviderObject* self;
};
struct RtcFace {
  IRTC iface;
  ProviderObject* self;
};
static_assert(std::is_standard_layout_v<EspFace> && offsetof(EspFace, iface) == 0);
static_assert(std::is_standard_layout_v<RtcFace> && offsetof(RtcFace, iface) == 0);

extern const IESPVtbl kEspVtbl;
extern const IRTCVtbl kRtcVtbl;

struct ProviderObject {
  ProviderObject() : esp{{&kEspVtbl}, this}, rtc{{&kRtcVtbl}, this} {}
  ProviderObject(const ProviderObject&) = delete;
  ProviderObject& operator=(const ProviderObject&) = delete;

  EspFace esp;  // the object's identity (IID_IUnknown answers this pointer)
  RtcFace rtc;
  std::atomic<ULONG> refs{1};
  std::shared_ptr<npp::Provider> provider;
  // What the host gave Connect (the provider's callbacks capture copies of these).
  LPNETWORKCALLBACKPROC status_cb = nullptr;
  XESP_FRAMES_CALLBACK frames_cb = nullptr;
  void* user_context = nullptr;
};

ProviderObject* self_of(IESP* p) noexcept {
  if (!p || p->lpVtbl != &kEspVtbl) return nullptr;
  return reinterpret_cast<EspFace*>(p)->self;
}
ProviderObject* self_of(IRTC* p) noexcept {
  if (!p || p->lpVtbl != &kRtcVtbl) return nullptr;
  return reinterpret_cast<RtcFace*>(p)->self;
}

ULONG add_ref(ProviderObject* o) noexcept {
  return o->refs.fetch_add(1, std::memory_order_relaxed) + 1;
}

ULONG release(ProviderObject* o) noexcept {
  // From one of this provider's callbacks, the last Release would destroy it under the thread
  // that runs the callback (joining itself, or freeing what it still uses): refused, the count
  // left as it was. Release after the callback returns.
  if (o->provider->in_own_callback()) {
    set_error("Release", "not allowed from a status or frames callback of this provider: "
                         "release it after the callback returns");
    return o->refs.load(std::memory_order_acquire);
  }
  const ULONG left = o->refs.fetch_sub(1, std::memory_order_acq_rel) - 1;
  if (left == 0) {
    try {
      // The provider's destructor stops a running capture (completing the file) and detaches.
      std::unique_ptr<ProviderObject> owner(o);
    } catch (...) {
    }
  }
  return left;
}

HRESULT query_interface(ProviderObject* o, REFIID riid, void** ppv) noexcept {
  if (!ppv) {
    set_error("QueryInterface", "ppvObject is NULL");
    return E_POINTER;
  }
  *ppv = nullptr;
  if (!riid) {
    set_error("QueryInterface", "riid is NULL");
    return E_POINTER;
  }
  if (!o) {
    set_error("QueryInterface", "This is not an xesp interface pointer");
    return E_POINTER;
  }
  if (iid_equal(*riid, IID_IUnknown) || iid_equal(*riid, IID_IESP)) {
    *ppv = &o->esp.iface;
  } else if (iid_equal(*riid, IID_IRTC)) {
    *ppv = &o->rtc.iface;
  } else {
    set_error("QueryInterface", "xesp providers answer IID_IUnknown, IID_IESP and IID_IRTC only");
    return E_NOINTERFACE;
  }
  add_ref(o);
  return S_OK;
}

const char* via_name(Via via) {
  return via == Via::esp ? "IESP" : via == Via::rtc ? "IRTC" : "none";
}

// The HRESULT of a provider call, with the sentence behind a failure in the thread's text.
HRESULT result(const ProviderObject& o, const char* where, Via via, std::error_code ec) {
  if (!ec) return S_OK;
  std::string why;
  if (ec == nmerr::not_connected) {
    why = "the provider is not connected (call Connect first)";
  } else if (ec == nmerr::not_esp || ec == nmerr::not_realtime) {
    why = std::string("the provider is connected through ") +
          via_name(o.provider->connected_via()) + ", not " + via_name(via);
  } else {
    why = o.provider->last_error();
  }
  set_error(where, nmerr_name(ec.value()) + ": " + why);
  return to_hresult(ec);
}

// The host's status callback behind the provider's C++ one.
StatusCallback status_callback(LPNETWORKCALLBACKPROC cb) {
  if (!cb) return {};
  return [cb](const UpdateEvent& ev) {
    UPDATE_EVENT c;
    STATISTICS final_stats;
    to_c_update_event(ev, &c, &final_stats);
    cb(c);
  };
}

// The host's frames callback: the batch is handed over as it is (xesp::Frame is XESP_FRAME).
npp::FramesCallback frames_callback(XESP_FRAMES_CALLBACK cb, void* context) {
  if (!cb) return {};
  return [cb, context](std::span<const Frame> frames) {
    cb(reinterpret_cast<const XESP_FRAME*>(frames.data()), static_cast<DWORD>(frames.size()),
       context);
  };
}

HRESULT query_status(ProviderObject* o, const char* where, NETWORKSTATUS* out) {
  if (!o) return invalid(where, "This is not an xesp interface pointer");
  if (!out) return invalid(where, "pNetworkStatus is NULL");
  NetworkStatus s;
  const std::error_code ec = o->provider->query_status(&s);
  out->State = s.state;
  out->Flags = s.flags;
  if (ec) {
    set_error(where, nmerr_name(ec.value()) + ": " + o->provider->last_error());
    return to_hresult(ec);
  }
  return S_OK;
}

HRESULT control_state(ProviderObject* o, const char* where, Via via, BOOL* running, BOOL* paused) {
  if (!o) return invalid(where, "This is not an xesp interface pointer");
  if (!running) return invalid(where, "IsRunnning is NULL");
  if (!paused) return invalid(where, "IsPaused is NULL");
  *running = FALSE;
  *paused = FALSE;
  bool r = false, p = false;
  if (auto ec = o->provider->control_state(via, &r, &p)) return result(*o, where, via, ec);
  *running = r ? TRUE : FALSE;
  *paused = p ? TRUE : FALSE;
  return S_OK;
}

HRESULT query_stations(ProviderObject* o, const char* where, QUERYTABLE* table) {
  if (!o) return invalid(where, "This is not an xesp interface pointer");
  if (!table) return invalid(where, "lpQueryTable is NULL");
  const DWORD capacity = table->nStationQueries;
  const std::vector<npp::Station> found = o->provider->query_stations();
  for (size_t i = 0; i < found.size() && i < capacity; ++i) {
    // StationQuery[1] is the SDK's variable-length tail: the caller sized it for `capacity`.
    STATIONQUERY* entry = reinterpret_cast<STATIONQUERY*>(reinterpret_cast<unsigned char*>(table) +
                                                          offsetof(QUERYTABLE, StationQuery) +
                                                          i * sizeof(STATIONQUERY));
    to_c_station(found[i], entry);
  }
  table->nStationQueries = static_cast<DWORD>(found.size());
  if (found.size() > capacity) {
    set_error(where, "the table holds " + std::to_string(capacity) + " entries, " +
                         std::to_string(found.size()) + " stations were found");
    return hresult_of(nmerr::out_of_memory);
  }
  return S_OK;
}

HRESULT configure(ProviderObject* o, const char* where, Via via, HBLOB config, HBLOB errors) {
  if (!o) return invalid(where, "This is not an xesp interface pointer");
  if (!config) return invalid(where, "hConfigurationBlob is NULL");
  return result(*o, where, via,
                o->provider->configure(via, config->blob, errors ? &errors->blob : nullptr));
}

// ---- IESP ----------------------------------------------------------------------------------
HRESULT esp_query_interface(IESP* This, REFIID riid, void** ppv) {
  return guard_hr("IESP::QueryInterface",
                  [&] { return query_interface(self_of(This), riid, ppv); });
}
ULONG esp_add_ref(IESP* This) {
  ProviderObject* o = self_of(This);
  return o ? add_ref(o) : 0;
}
ULONG esp_release(IESP* This) {
  ProviderObject* o = self_of(This);
  return o ? release(o) : 0;
}

HRESULT esp_connect(IESP* This, HBLOB input, void* status_proc, void* user_context, HBLOB errors) {
  constexpr const char* kWhere = "IESP::Connect";
  return guard_hr(kWhere, [&] {
    ProviderObject* o = self_of(This);
    if (!o) return invalid(kWhere, "This is not an xesp IESP pointer");
    if (!input) return invalid(kWhere, "hInputBlob is NULL");
    auto cb = reinterpret_cast<LPNETWORKCALLBACKPROC>(status_proc);
    auto ec = o->provider->connect(Via::esp, input->blob, status_callback(cb), {}, user_context,
                                   errors ? &errors->blob : nullptr);
    if (!ec) {
      o->status_cb = cb;
      o->frames_cb = nullptr;
      o->user_context = user_context;
    }
    return result(*o, kWhere, Via::esp, ec);
  });
}

HRESULT esp_disconnect(IESP* This) {
  constexpr const char* kWhere = "IESP::Disconnect";
  return guard_hr(kWhere, [&] {
    ProviderObject* o = self_of(This);
    if (!o) return invalid(kWhere, "This is not an xesp IESP pointer");
    return result(*o, kWhere, Via::esp, o->provider->disconnect(Via::esp));
  });
}

HRESULT esp_query_status(IESP* This, NETWORKSTATUS* status) {
  constexpr const char* kWhere = "IESP::QueryStatus";
  return guard_hr(kWhere, [&] { return query_status(self_of(This), kWhere, status); });
}

HRESULT esp_configure(IESP* This, HBLOB config, HBLOB errors) {
  constexpr const char* kWhere = "IESP::Configure";
  return guard_hr(kWhere,
                  [&] { return configure(self_of(This), kWhere, Via::esp, config, errors); });
}

HRESULT esp_start(IESP* This, char* file_name) {
  constexpr const char* kWhere = "IESP::Start";
  return guard_hr(kWhere, [&] {
    ProviderObject* o = self_of(This);
    if (!o) return invalid(kWhere, "This is not an xesp IESP pointer");
    if (!file_name) return invalid(kWhere, "pFileName is NULL (it needs XESP_MAX_PATH bytes)");
    file_name[0] = '\0';
    std::string path;
    if (auto ec = o->provider->start(Via::esp, &path)) return result(*o, kWhere, Via::esp, ec);
    const size_t n = std::min(path.size(), static_cast<size_t>(XESP_MAX_PATH - 1));
    std::memcpy(file_name, path.data(), n);
    file_name[n] = '\0';
    return S_OK;
  });
}

HRESULT esp_pause(IESP* This, LPSTATISTICS stats) {
  constexpr const char* kWhere = "IESP::Pause";
  return guard_hr(kWhere, [&] {
    ProviderObject* o = self_of(This);
    if (!o) return invalid(kWhere, "This is not an xesp IESP pointer");
    if (auto ec = o->provider->pause(Via::esp)) return result(*o, kWhere, Via::esp, ec);
    // Obsolete in the SDK; a caller that still passes it gets the running totals.
    if (stats) {
      Statistics st;
      if (!o->provider->total_statistics(Via::esp, &st, false)) to_c_statistics(st, stats);
    }
    return S_OK;
  });
}

HRESULT esp_resume(IESP* This) {
  constexpr const char* kWhere = "IESP::Resume";
  return guard_hr(kWhere, [&] {
    ProviderObject* o = self_of(This);
    if (!o) return invalid(kWhere, "This is not an xesp IESP pointer");
    return result(*o, kWhere, Via::esp, o->provider->resume(Via::esp));
  });
}

HRESULT esp_stop(IESP* This, LPSTATISTICS stats) {
  constexpr const char* kWhere = "IESP::Stop";
  return guard_hr(kWhere, [&] {
    ProviderObject* o = self_of(This);
    if (!o) return invalid(kWhere, "This is not an xesp IESP pointer");
    if (!stats) return invalid(kWhere, "lpStats is NULL (IESP has no other way to read totals)");
    Statistics st;
    auto ec = o->provider->stop(Via::esp, &st);
    // INVALID_PARAMETER from Stop means the capture stopped but completing the file failed:
    // the totals are still the capture's. Any other refusal leaves *lpStats as it was.
    if (!ec || ec == nmerr::invalid_parameter) to_c_statistics(st, stats);
    return result(*o, kWhere, Via::esp, ec);
  });
}

HRESULT esp_get_control_state(IESP* This, BOOL* running, BOOL* paused) {
  constexpr const char* kWhere = "IESP::GetControlState";
  return guard_hr(kWhere,
                  [&] { return control_state(self_of(This), kWhere, Via::esp, running, paused); });
}

HRESULT esp_query_stations(IESP* This, QUERYTABLE* table) {
  constexpr const char* kWhere = "IESP::QueryStations";
  return guard_hr(kWhere, [&] { return query_stations(self_of(This), kWhere, table); });
}

// ---- IRTC ----------------------------------------------------------------------------------
HRESULT rtc_query_interface(IRTC* This, REFIID riid, void** ppv) {
  return guard_hr("IRTC::QueryInterface",
                  [&] { return query_interface(self_of(This), riid, ppv); });
}
ULONG rtc_add_ref(IRTC* This) {
  ProviderObject* o = self_of(This);
  return o ? add_ref(o) : 0;
}
ULONG rtc_release(IRTC* This) {
  ProviderObject* o = self_of(This);
  return o ? release(o) : 0;
}

HRESULT rtc_connect(IRTC* This, HBLOB input, void* status_proc, void* frames_proc,
                    void* user_context, HBLOB errors) {
  constexpr const char* kWhere = "IRTC::Connect";
  return guard_hr(kWhere, [&] {
    ProviderObject* o = self_of(This);
    if (!o) return invalid(kWhere, "This is not an xesp IRTC pointer");
    if (!input) return invalid(kWhere, "hInputBlob is NULL");
    auto status_cb = reinterpret_cast<LPNETWORKCALLBACKPROC>(status_proc);
    auto frames_cb = reinterpret_cast<XESP_FRAMES_CALLBACK>(frames_proc);
    auto ec = o->provider->connect(Via::rtc, input->blob, status_callback(status_cb),
                                   frames_callback(frames_cb, user_context), user_context,
                                   errors ? &errors->blob : nullptr);
    if (!ec) {
      o->status_cb = status_cb;
      o->frames_cb = frames_cb;
      o->user_context = user_context;
    }
    return result(*o, kWhere, Via::rtc, ec);
  });
}

HRESULT rtc_disconnect(IRTC* This) {
  constexpr const char* kWhere = "IRTC::Disconnect";
  return guard_hr(kWhere, [&] {
    ProviderObject* o = self_of(This);
    if (!o) return invalid(kWhere, "This is not an xesp IRTC pointer");
    return result(*o, kWhere, Via::rtc, o->provider->disconnect(Via::rtc));
  });
}

HRESULT rtc_query_status(IRTC* This, NETWORKSTATUS* status) {
  constexpr const char* kWhere = "IRTC::QueryStatus";
  return guard_hr(kWhere, [&] { return query_status(self_of(This), kWhere, status); });
}

HRESULT rtc_configure(IRTC* This, HBLOB config, HBLOB errors) {
  constexpr const char* kWhere = "IRTC::Configure";
  return guard_hr(kWhere,
                  [&] { return configure(self_of(This), kWhere, Via::rtc, config, errors); });
}

// Start, Pause, Resume, Stop: no arguments but This.
template <typename Call>
HRESULT rtc_simple(IRTC* This, const char* where, Call call) {
  return guard_hr(where, [&] {
    ProviderObject* o = self_of(This);
    if (!o) return invalid(where, "This is not an xesp IRTC pointer");
    return result(*o, where, Via::rtc, call(*o->provider));
  });
}

HRESULT rtc_start(IRTC* This) {
  return rtc_simple(This, "IRTC::Start",
                    [](npp::Provider& p) { return p.start(Via::rtc, nullptr); });
}
HRESULT rtc_pause(IRTC* This) {
  return rtc_simple(This, "IRTC::Pause", [](npp::Provider& p) { return p.pause(Via::rtc); });
}
HRESULT rtc_resume(IRTC* This) {
  return rtc_simple(This, "IRTC::Resume", [](npp::Provider& p) { return p.resume(Via::rtc); });
}
HRESULT rtc_stop(IRTC* This) {
  return rtc_simple(This, "IRTC::Stop", [](npp::Provider& p) { return p.stop(Via::rtc, nullptr); });
}

HRESULT rtc_get_control_state(IRTC* This, BOOL* running, BOOL* paused) {
  constexpr const char* kWhere = "IRTC::GetControlState";
  return guard_hr(kWhere,
                  [&] { return control_state(self_of(This), kWhere, Via::rtc, running, paused); });
}

HRESULT rtc_get_total_statistics(IRTC* This, LPSTATISTICS stats, BOOL clear) {
  constexpr const char* kWhere = "IRTC::GetTotalStatistics";
  return guard_hr(kWhere, [&] {
    ProviderObject* o = self_of(This);
    if (!o) return invalid(kWhere, "This is not an xesp IRTC pointer");
    if (!stats) return invalid(kWhere, "lpStats is NULL");
    Statistics st;
    if (auto ec = o->provider->total_statistics(Via::rtc, &st, clear != FALSE))
      return result(*o, kWhere, Via::rtc, ec);
    to_c_statistics(st, stats);
    return S_OK;
  });
}

HRESULT rtc_get_conversation_statistics(IRTC* This, DWORD* sessions, void* /*session_stats*/,
                                        DWORD* stations, void* /*station_stats*/, BOOL /*clear*/) {
  constexpr const char* kWhere = "IRTC::GetConversationStatistics";
  return guard_hr(kWhere, [&] {
    ProviderObject* o = self_of(This);
    if (!o) return invalid(kWhere, "This is not an xesp IRTC pointer");
    if (!sessions) return invalid(kWhere, "nSessions is NULL");
    if (!stations) return invalid(kWhere, "nStations is NULL");
    // Only the provider's connection checks (not connected, not through IRTC) apply.
    bool running = false, paused = false;
    if (auto ec = o->provider->control_state(Via::rtc, &running, &paused))
      return result(*o, kWhere, Via::rtc, ec);
    *sessions = 0;
    *stations = 0;
    return S_OK;
  });
}

HRESULT rtc_insert_special_frame(IRTC* This, DWORD /*frame_type*/, DWORD /*flags*/, BYTE* data,
                                 DWORD length) {
  constexpr const char* kWhere = "IRTC::InsertSpecialFrame";
  return guard_hr(kWhere, [&] {
    ProviderObject* o = self_of(This);
    if (!o) return invalid(kWhere, "This is not an xesp IRTC pointer");
    if (!data && length != 0) return invalid(kWhere, "pUserData is NULL with a non-zero length");
    const std::string_view text =
        data ? std::string_view(reinterpret_cast<const char*>(data), length) : std::string_view{};
    return result(*o, kWhere, Via::rtc, o->provider->insert_special_frame(Via::rtc, text));
  });
}

HRESULT rtc_query_stations(IRTC* This, QUERYTABLE* table) {
  constexpr const char* kWhere = "IRTC::QueryStations";
  return guard_hr(kWhere, [&] { return query_stations(self_of(This), kWhere, table); });
}

const IESPVtbl kEspVtbl = {
    .QueryInterface = esp_query_interface,
    .AddRef = esp_add_ref,
    .Release = esp_release,
    .Connect = esp_connect,
    .Disconnect = esp_disconnect,
    .QueryStatus = esp_query_status,
    .Configure = esp_configure,
    .Start = esp_start,
    .Pause = esp_pause,
    .Resume = esp_resume,
    .Stop = esp_stop,
    .GetControlState = esp_get_control_state,
    .QueryStations = esp_query_stations,
};

const IRTCVtbl kRtcVtbl = {
    .QueryInterface = rtc_query_interface,
    .AddRef = rtc_add_ref,
    .Release = rtc_release,
    .Connect = rtc_connect,
    .Disconnect = rtc_disconnect,
    .QueryStatus = rtc_query_status,
    .Configure = rtc_configure,
    .Start = rtc_start,
    .Pause = rtc_pause,
    .Resume = rtc_resume,
    .Stop = rtc_stop,
    .GetControlState = rtc_get_control_state,
    .GetTotalStatistics = rtc_get_total_statistics,
    .GetConversationStatistics = rtc_get_conversation_statistics,
    .InsertSpecialFrame = rtc_insert_special_frame,
    .QueryStations = rtc_query_stations,
};

// ---- Blobs ---------------------------------------------------------------------------------
using xesp::iequals;

std::string view_key(std::string_view owner, std::string_view category, std::string_view tag) {
  std::string key;
  for (std::string_view part : {owner, category, tag}) {
    for (char c : part) key += xesp::ascii_lower(c);
    key += '\x1f';
  }
  return key;
}

const BlobEntry* find_entry(const Blob& blob, std::string_view owner, std::string_view category,
                            std::string_view tag) {
  for (const auto& e : blob.entries())
    if (iequals(e.owner, owner) && iequals(e.category, category) && iequals(e.tag, tag)) return &e;
  return nullptr;
}

// The stable copy of `entry`: a string that did not change keeps its address.
const BlobEntry& view_of(_XESP_BLOB& h, const BlobEntry& entry) {
  auto& slot = h.views[view_key(entry.owner, entry.category, entry.tag)];
  if (!slot) {
    slot = std::make_unique<BlobEntry>(entry);
    return *slot;
  }
  if (slot->owner != entry.owner) slot->owner = entry.owner;
  if (slot->category != entry.category) slot->category = entry.category;
  if (slot->tag != entry.tag) slot->tag = entry.tag;
  if (slot->value != entry.value) slot->value = entry.value;
  return *slot;
}

DWORD blob_invalid(const char* where, std::string_view what) {
  set_error(where, what);
  return NMERR_INVALID_PARAMETER;
}

DWORD blob_not_initialized(const char* where) {
  set_error(where, "the HBLOB is NULL (CreateBlob makes one)");
  return NMERR_BLOB_NOT_INITIALIZED;
}

// Owner, category and tag are one name each in "Owner:Category:Tag=Value": no separators.
bool valid_name(const char* s) {
  if (!s || !*s) return false;
  for (const char* p = s; *p; ++p)
    if (*p == ':' || *p == '=' || *p == '\n' || *p == '\r') return false;
  return true;
}

}  // namespace

// ---- Conversions (c_abi.hpp) ---------------------------------------------------------------
void to_c_statistics(const Statistics& in, STATISTICS* out) noexcept {
  std::memset(out, 0, sizeof(*out));
  out->TimeElapsed = sat64(in.time_elapsed_us);
  out->TotalFramesCaptured = sat32(in.frames_captured);
  out->TotalBytesCaptured = sat32(in.bytes_captured);
  out->TotalFramesFiltered = sat32(in.frames_filtered);
  out->TotalBytesFiltered = sat32(in.bytes_filtered);
  out->TotalMulticastsFiltered = 0;  // xesp does not count frame classes
  out->TotalBroadcastsFiltered = 0;
  out->TotalFramesSeen = sat32(in.frames_seen);
  out->TotalBytesSeen = sat32(in.bytes_seen);
  out->TotalMulticastsReceived = 0;
  out->TotalBroadcastsReceived = 0;
  out->TotalFramesDropped = sat32(in.frames_dropped);
  out->TotalFramesDroppedFromBuffer = sat32(in.frames_dropped_from_buffer);
  out->MacFramesReceived = sat32(in.nic.frames_received);
  out->MacCRCErrors = sat32(in.nic.crc_errors);
  out->MacBytesReceivedEx = sat64(in.nic.bytes_received);
  out->MacFramesDropped_NoBuffers = sat32(in.nic.dropped_no_buffers);
  out->MacMulticastsReceived = sat32(in.nic.multicasts_received);
  out->MacBroadcastsReceived = 0;  // Linux keeps no broadcast counter per NIC
  out->MacFramesDropped_HwError = sat32(in.nic.hw_errors);
}

void to_c_update_event(const UpdateEvent& in, UPDATE_EVENT* out, STATISTICS* storage) noexcept {
  std::memset(out, 0, sizeof(*out));
  out->Event = in.event;
  out->Action = in.action;
  out->Status = in.status;
  out->Value = in.value;
  out->TimeStamp = sat64(in.timestamp_us);
  out->lpUserContext = in.context;
  out->FramesDropped = sat32(in.frames_dropped);
  if ((in.action == kActionStopCapture || in.action == kActionPauseCapture) && in.statistics) {
    to_c_statistics(*in.statistics, storage);
    out->lpFinalStats = storage;
  }
  // The path lives in `in`, which outlives the callback.
  if (in.event == kEventNewFile) out->lpReserved = const_cast<char*>(in.file.c_str());
}

namespace {

// UTF-8 to UTF-16 into `n` units, NUL-terminated; a malformed sequence becomes U+FFFD.
void to_utf16(std::string_view s, WCHAR* out, size_t n) {
  size_t o = 0;
  auto put = [&](uint32_t unit) {
    if (o + 1 >= n) return false;
    out[o++] = static_cast<WCHAR>(unit);
    return true;
  };
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    uint32_t cp = 0xFFFD;
    size_t len = 1;
    if (b < 0x80) {
      cp = b;
    } else if ((b & 0xE0) == 0xC0 || (b & 0xF0) == 0xE0 || (b & 0xF8) == 0xF0) {
      const size_t want = (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : 4;
      uint32_t v = want == 2 ? (b & 0x1F) : want == 3 ? (b & 0x0F) : (b & 0x07);
      size_t k = 1;
      for (; k < want && i + k < s.size(); ++k) {
        const auto c = static_cast<unsigned char>(s[i + k]);
        if ((c & 0xC0) != 0x80) break;
        v = (v << 6) | (c & 0x3F);
      }
      if (k == want) {
        len = want;
        const uint32_t min = want == 2 ? 0x80 : want == 3 ? 0x800 : 0x10000;
        if (v >= min && v <= 0x10FFFF && !(v >= 0xD800 && v <= 0xDFFF)) cp = v;
      } else {
        len = k;
      }
    }
    i += len;
    if (cp >= 0x10000) {
      if (o + 2 >= n) break;  // both halves of a surrogate pair, or neither
      cp -= 0x10000;
      put(0xD800 + (cp >> 10));
      put(0xDC00 + (cp & 0x3FF));
    } else if (!put(cp)) {
      break;
    }
  }
  if (n) out[o] = 0;
}

void copy_name(std::string_view s, BYTE* out, size_t n) {
  const size_t k = std::min(s.size(), n - 1);
  std::memcpy(out, s.data(), k);
  out[k] = 0;
}

}  // namespace

void to_c_station(const npp::Station& in, STATIONQUERY* out) noexcept {
  STATIONQUERY q;
  std::memset(&q, 0, sizeof(q));
  q.Flags = in.flags;
  q.BCDVerMajor = 0x00;  // xesp 0.1
  q.BCDVerMinor = 0x01;
  q.LicenseNumber = 0;
  copy_name(in.machine_name, q.MachineName, MACHINE_NAME_LENGTH);
  copy_name(in.user_name, q.UserName, USER_NAME_LENGTH);
  std::memcpy(q.AdapterAddress, in.adapter_address.data(), sizeof(q.AdapterAddress));
  // The packed struct's WCHAR arrays may be misaligned: convert aside, then copy bytes.
  WCHAR machine[MACHINE_NAME_LENGTH];
  WCHAR user[USER_NAME_LENGTH];
  to_utf16(in.machine_name, machine, MACHINE_NAME_LENGTH);
  to_utf16(in.user_name, user, USER_NAME_LENGTH);
  std::memcpy(reinterpret_cast<unsigned char*>(&q) + offsetof(STATIONQUERY, WMachineName), machine,
              sizeof(machine));
  std::memcpy(reinterpret_cast<unsigned char*>(&q) + offsetof(STATIONQUERY, WUserName), user,
              sizeof(user));
  std::memcpy(out, &q, sizeof(q));
}

HRESULT to_hresult(std::error_code ec) noexcept {
  if (!ec) return S_OK;
  if (ec.category() == nmerr_category()) return NMERR_TO_HRESULT(static_cast<DWORD>(ec.value()));
  // Provider results are nmerr; an OS code that slipped through maps to the nearest NMERR.
  if (ec == std::errc::not_enough_memory) return hresult_of(nmerr::out_of_memory);
  return hresult_of(nmerr::invalid_parameter);
}

}  // namespace xesp::abi

// ---- The C entry points --------------------------------------------------------------------
using xesp::abi::blob_invalid;
using xesp::abi::blob_not_initialized;
using xesp::abi::guard_hr;
using xesp::abi::guard_nm;
using xesp::abi::set_error;

extern "C" {

DWORD CreateBlob(HBLOB* phBlob) {
  return guard_nm("CreateBlob", [&]() -> DWORD {
    if (!phBlob) return blob_invalid("CreateBlob", "phBlob is NULL");
    *phBlob = std::make_unique<_XESP_BLOB>().release();
    return NMERR_SUCCESS;
  });
}

DWORD DestroyBlob(HBLOB hBlob) {
  return guard_nm("DestroyBlob", [&]() -> DWORD {
    if (!hBlob) return blob_not_initialized("DestroyBlob");
    std::unique_ptr<_XESP_BLOB> owner(hBlob);
    return NMERR_SUCCESS;
  });
}

DWORD DuplicateBlob(HBLOB hSrc, HBLOB* phDst) {
  return guard_nm("DuplicateBlob", [&]() -> DWORD {
    if (!hSrc) return blob_not_initialized("DuplicateBlob");
    if (!phDst) return blob_invalid("DuplicateBlob", "phDst is NULL");
    auto copy = std::make_unique<_XESP_BLOB>();
    copy->blob = hSrc->blob;
    *phDst = copy.release();
    return NMERR_SUCCESS;
  });
}

DWORD SetStringInBlob(HBLOB hBlob, const char* owner, const char* category, const char* tag,
                      const char* value) {
  constexpr const char* kWhere = "SetStringInBlob";
  return guard_nm(kWhere, [&]() -> DWORD {
    if (!hBlob) return blob_not_initialized(kWhere);
    if (!xesp::abi::valid_name(owner) || !xesp::abi::valid_name(category) ||
        !xesp::abi::valid_name(tag))
      return blob_invalid(kWhere,
                          "owner, category and tag must be non-empty names without ':', "
                          "'=' or line breaks");
    if (!value) return blob_invalid(kWhere, "value is NULL");
    if (std::strpbrk(value, "\r\n")) return blob_invalid(kWhere, "value has a line break");
    hBlob->blob.set(owner, category, tag, value);
    return NMERR_SUCCESS;
  });
}

DWORD GetStringFromBlob(HBLOB hBlob, const char* owner, const char* category, const char* tag,
                        const char** value) {
  constexpr const char* kWhere = "GetStringFromBlob";
  return guard_nm(kWhere, [&]() -> DWORD {
    if (!hBlob) return blob_not_initialized(kWhere);
    if (!owner || !category || !tag || !value)
      return blob_invalid(kWhere, "owner, category, tag and value must not be NULL");
    *value = nullptr;
    const xesp::BlobEntry* e = xesp::abi::find_entry(hBlob->blob, owner, category, tag);
    if (!e) {
      set_error(kWhere, std::string("no entry ") + owner + ":" + category + ":" + tag);
      return NMERR_BLOB_ENTRY_DOES_NOT_EXIST;
    }
    *value = xesp::abi::view_of(*hBlob, *e).value.c_str();
    return NMERR_SUCCESS;
  });
}

DWORD RemoveFromBlob(HBLOB hBlob, const char* owner, const char* category, const char* tag) {
  constexpr const char* kWhere = "RemoveFromBlob";
  return guard_nm(kWhere, [&]() -> DWORD {
    if (!hBlob) return blob_not_initialized(kWhere);
    if (!owner || !category || !tag)
      return blob_invalid(kWhere, "owner, category and tag must not be NULL");
    if (!hBlob->blob.erase(owner, category, tag)) {
      set_error(kWhere, std::string("no entry ") + owner + ":" + category + ":" + tag);
      return NMERR_BLOB_ENTRY_DOES_NOT_EXIST;
    }
    hBlob->views.erase(xesp::abi::view_key(owner, category, tag));
    return NMERR_SUCCESS;
  });
}

DWORD ReadBlobFromString(HBLOB hBlob, const char* text) {
  constexpr const char* kWhere = "ReadBlobFromString";
  return guard_nm(kWhere, [&]() -> DWORD {
    if (!hBlob) return blob_not_initialized(kWhere);
    if (!text) return blob_invalid(kWhere, "text is NULL");
    std::string why;
    if (auto ec = hBlob->blob.parse(text, &why)) {
      set_error(kWhere, why);
      return static_cast<DWORD>(ec.value());
    }
    return NMERR_SUCCESS;
  });
}

DWORD ReadBlobFromFile(HBLOB hBlob, const char* path) {
  constexpr const char* kWhere = "ReadBlobFromFile";
  return guard_nm(kWhere, [&]() -> DWORD {
    if (!hBlob) return blob_not_initialized(kWhere);
    if (!path) return blob_invalid(kWhere, "path is NULL");
    std::string why;
    if (auto ec = hBlob->blob.read_file(path, &why)) {
      set_error(kWhere, why);
      return static_cast<DWORD>(ec.value());
    }
    return NMERR_SUCCESS;
  });
}

DWORD WriteBlobToString(HBLOB hBlob, char* buffer, DWORD size, DWORD* needed) {
  constexpr const char* kWhere = "WriteBlobToString";
  return guard_nm(kWhere, [&]() -> DWORD {
    if (!hBlob) return blob_not_initialized(kWhere);
    if (!buffer && size != 0) return blob_invalid(kWhere, "buffer is NULL with a non-zero size");
    const std::string text = hBlob->blob.to_text();
    const size_t want = text.size() + 1;
    if (needed) *needed = static_cast<DWORD>(want);
    if (size != 0) {
      const size_t n = std::min(text.size(), static_cast<size_t>(size) - 1);
      std::memcpy(buffer, text.data(), n);
      buffer[n] = '\0';
    }
    if (want > size) {
      set_error(kWhere, "the buffer holds " + std::to_string(size) + " bytes, the text needs " +
                            std::to_string(want));
      return NMERR_OUT_OF_MEMORY;
    }
    return NMERR_SUCCESS;
  });
}

DWORD GetBlobEntry(HBLOB hBlob, DWORD index, const char** owner, const char** category,
                   const char** tag, const char** value) {
  constexpr const char* kWhere = "GetBlobEntry";
  return guard_nm(kWhere, [&]() -> DWORD {
    if (!hBlob) return blob_not_initialized(kWhere);
    for (const char** p : {owner, category, tag, value})
      if (p) *p = nullptr;
    const auto& entries = hBlob->blob.entries();
    if (index >= entries.size()) {
      set_error(kWhere, "index " + std::to_string(index) + " is past the last of " +
                            std::to_string(entries.size()) + " entries");
      return NMERR_BLOB_ENTRY_DOES_NOT_EXIST;
    }
    const xesp::BlobEntry& v = xesp::abi::view_of(*hBlob, entries[index]);
    if (owner) *owner = v.owner.c_str();
    if (category) *category = v.category.c_str();
    if (tag) *tag = v.tag.c_str();
    if (value) *value = v.value.c_str();
    return NMERR_SUCCESS;
  });
}

DWORD GetBlobEntryCount(HBLOB hBlob, DWORD* count) {
  constexpr const char* kWhere = "GetBlobEntryCount";
  return guard_nm(kWhere, [&]() -> DWORD {
    if (!hBlob) return blob_not_initialized(kWhere);
    if (!count) return blob_invalid(kWhere, "count is NULL");
    *count = static_cast<DWORD>(hBlob->blob.entries().size());
    return NMERR_SUCCESS;
  });
}

HRESULT CreateNPPInterface(HBLOB hBlob, REFIID riid, void** ppvObject) {
  constexpr const char* kWhere = "CreateNPPInterface";
  return guard_hr(kWhere, [&]() -> HRESULT {
    if (!ppvObject) {
      set_error(kWhere, "ppvObject is NULL");
      return E_POINTER;
    }
    *ppvObject = nullptr;
    if (!riid) {
      set_error(kWhere, "riid is NULL");
      return E_POINTER;
    }
    if (!hBlob) return xesp::abi::invalid(kWhere, "hBlob is NULL");
    const bool rtc = xesp::abi::iid_equal(*riid, IID_IRTC);
    if (!rtc && !xesp::abi::iid_equal(*riid, IID_IESP) &&
        !xesp::abi::iid_equal(*riid, IID_IUnknown)) {
      set_error(kWhere, "riid names neither IID_IESP, IID_IRTC nor IID_IUnknown");
      return E_NOINTERFACE;
    }
    if (!hBlob->blob.get("NPP", "Config", "Interface")) {
      set_error(kWhere, "required entry NPP:Config:Interface (the NIC to capture on) is missing");
      return NMERR_TO_HRESULT(NMERR_BLOB_ENTRY_DOES_NOT_EXIST);
    }
    if (hBlob->blob.has_category("NPP", "Remote")) {
      set_error(kWhere, "remote capture agents are not available yet");
      return NMERR_TO_HRESULT(NMERR_REMOTE_NOT_A_SERVER);
    }
    // The NIC is not touched here: Connect reads the blob again and builds everything.
    auto object = std::make_unique<xesp::abi::ProviderObject>();
    object->provider = std::make_shared<xesp::npp::Provider>();
    *ppvObject =
        rtc ? static_cast<void*>(&object->rtc.iface) : static_cast<void*>(&object->esp.iface);
    object.release();
    return S_OK;
  });
}

const char* XespLastErrorText(void) { return xesp::abi::t_last_error.c_str(); }

const char* XespVersion(void) { return XESP_VERSION_STRING; }

}  // extern "C"
