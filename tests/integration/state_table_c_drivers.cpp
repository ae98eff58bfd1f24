// The state table's calls through the C ABI: IESP and IRTC vtables of one provider made by
// CreateNPPInterface, HRESULTs turned back into bare NMERR codes.
#include <array>
#include <string>

#include "state_table_drivers.hpp"
#include "xesp/iesp.h"

namespace xesp::test {
namespace {

// A C blob holding the entries of a C++ one; destroyed with the driver call.
class CBlob {
 public:
  explicit CBlob(const Blob& from) {
    CreateBlob(&h_);
    for (const auto& e : from.entries())
      SetStringInBlob(h_, e.owner.c_str(), e.category.c_str(), e.tag.c_str(), e.value.c_str());
  }
  ~CBlob() { DestroyBlob(h_); }
  CBlob(const CBlob&) = delete;
  CBlob& operator=(const CBlob&) = delete;
  HBLOB get() const { return h_; }

 private:
  HBLOB h_ = nullptr;
};

int code(HRESULT hr) { return static_cast<int>(HRESULT_TO_NMERR(hr)); }

int stations(HRESULT (*query)(void*, QUERYTABLE*), void* self, uint32_t* found) {
  struct {
    QUERYTABLE table;
    STATIONQUERY more[3];
  } t{};
  t.table.nStationQueries = 4;
  const int rc = code(query(self, &t.table));
  *found = t.table.nStationQueries;
  return rc;
}

class CEspDriver final : public Driver {
 public:
  explicit CEspDriver(IESP* esp) : esp_(esp) {}
  int connect(const Blob& b) override {
    CBlob blob(b);
    return code(esp_->lpVtbl->Connect(esp_, blob.get(), nullptr, nullptr, nullptr));
  }
  int configure(const Blob& b) override {
    CBlob blob(b);
    return code(esp_->lpVtbl->Configure(esp_, blob.get(), nullptr));
  }
  int start() override {
    std::array<char, XESP_MAX_PATH> path{};
    return code(esp_->lpVtbl->Start(esp_, path.data()));
  }
  int pause() override { return code(esp_->lpVtbl->Pause(esp_, nullptr)); }
  int resume() override { return code(esp_->lpVtbl->Resume(esp_)); }
  int stop() override {
    STATISTICS st{};
    return code(esp_->lpVtbl->Stop(esp_, &st));
  }
  int disconnect() override { return code(esp_->lpVtbl->Disconnect(esp_)); }
  int control_state(bool* running, bool* paused) override {
    BOOL r = -1, p = -1;
    const int rc = code(esp_->lpVtbl->GetControlState(esp_, &r, &p));
    *running = r == TRUE;
    *paused = p == TRUE;
    return rc;
  }
  int query_status(uint32_t* state) override {
    NETWORKSTATUS ns{99, 0};
    const int rc = code(esp_->lpVtbl->QueryStatus(esp_, &ns));
    *state = ns.State;
    return rc;
  }
  int query_stations(uint32_t* found) override {
    return stations(
        [](void* self, QUERYTABLE* t) {
          auto* esp = static_cast<IESP*>(self);
          return esp->lpVtbl->QueryStations(esp, t);
        },
        esp_, found);
  }
  int wrong_interface_code() const override { return NMERR_NOT_ESP; }
  std::string last_error() const override { return XespLastErrorText(); }

 private:
  IESP* esp_;
};

class CRtcDriver final : public Driver {
 public:
  explicit CRtcDriver(IRTC* rtc) : rtc_(rtc) {}
  int connect(const Blob& b) override {
    CBlob blob(b);
    XESP_FRAMES_CALLBACK frames = [](const XESP_FRAME*, DWORD, void*) {};
    return code(rtc_->lpVtbl->Connect(rtc_, blob.get(), nullptr, reinterpret_cast<void*>(frames),
                                      nullptr, nullptr));
  }
  int configure(const Blob& b) override {
    CBlob blob(b);
    return code(rtc_->lpVtbl->Configure(rtc_, blob.get(), nullptr));
  }
  int start() override { return code(rtc_->lpVtbl->Start(rtc_)); }
  int pause() override { return code(rtc_->lpVtbl->Pause(rtc_)); }
  int resume() override { return code(rtc_->lpVtbl->Resume(rtc_)); }
  int stop() override { return code(rtc_->lpVtbl->Stop(rtc_)); }
  int disconnect() override { return code(rtc_->lpVtbl->Disconnect(rtc_)); }
  int control_state(bool* running, bool* paused) override {
    BOOL r = -1, p = -1;
    const int rc = code(rtc_->lpVtbl->GetControlState(rtc_, &r, &p));
    *running = r == TRUE;
    *paused = p == TRUE;
    return rc;
  }
  int query_status(uint32_t* state) override {
    NETWORKSTATUS ns{99, 0};
    const int rc = code(rtc_->lpVtbl->QueryStatus(rtc_, &ns));
    *state = ns.State;
    return rc;
  }
  int query_stations(uint32_t* found) override {
    return stations(
        [](void* self, QUERYTABLE* t) {
          auto* rtc = static_cast<IRTC*>(self);
          return rtc->lpVtbl->QueryStations(rtc, t);
        },
        rtc_, found);
  }
  int wrong_interface_code() const override { return NMERR_NOT_REALTIME; }
  std::string last_error() const override { return XespLastErrorText(); }

 private:
  IRTC* rtc_;
};

}  // namespace

// One provider: its IESP from the factory, its IRTC by QueryInterface; released together.
DriverPair make_c_drivers(DriverKind kind) {
  HBLOB blob = nullptr;
  CreateBlob(&blob);
  SetStringInBlob(blob, "NPP", "Config", "Interface", "lo");  // the factory needs a name only
  IESP* esp = nullptr;
  IRTC* rtc = nullptr;
  CreateNPPInterface(blob, &IID_IESP, reinterpret_cast<void**>(&esp));
  DestroyBlob(blob);
  if (esp) esp->lpVtbl->QueryInterface(esp, &IID_IRTC, reinterpret_cast<void**>(&rtc));
  DriverPair pair;
  pair.provider = std::shared_ptr<void>(esp, [rtc](void* p) {
    if (rtc) rtc->lpVtbl->Release(rtc);
    if (p) static_cast<IESP*>(p)->lpVtbl->Release(static_cast<IESP*>(p));
  });
  auto e = std::make_unique<CEspDriver>(esp);
  auto r = std::make_unique<CRtcDriver>(rtc);
  if (kind == DriverKind::c_iesp) {
    pair.under_test = std::move(e);
    pair.other = std::move(r);
  } else {
    pair.under_test = std::move(r);
    pair.other = std::move(e);
  }
  return pair;
}

}  // namespace xesp::test
