#include "state_table_drivers.hpp"

#include "xesp/esp.hpp"
#include "xesp/rtc.hpp"

namespace xesp::test {
namespace {

class EspDriver final : public Driver {
 public:
  explicit EspDriver(Esp& esp) : esp_(esp) {}
  int connect(const Blob& b) override { return esp_.connect(b).value(); }
  int configure(const Blob& b) override { return esp_.configure(b).value(); }
  int start() override {
    std::string path;
    return esp_.start(path).value();
  }
  int pause() override { return esp_.pause().value(); }
  int resume() override { return esp_.resume().value(); }
  int stop() override {
    Statistics s;
    return esp_.stop(s).value();
  }
  int disconnect() override { return esp_.disconnect().value(); }
  int control_state(bool* running, bool* paused) override {
    return esp_.get_control_state(*running, *paused).value();
  }
  int query_status(uint32_t* state) override {
    NetworkStatus s;
    int rc = esp_.query_status(s).value();
    *state = s.state;
    return rc;
  }
  int query_stations(uint32_t* found) override {
    std::vector<Station> stations;
    int rc = esp_.query_stations(stations).value();
    *found = static_cast<uint32_t>(stations.size());
    return rc;
  }
  int wrong_interface_code() const override { return static_cast<int>(nmerr::not_esp); }
  std::string last_error() const override { return esp_.last_error(); }

 private:
  Esp& esp_;
};

class RtcDriver final : public Driver {
 public:
  explicit RtcDriver(std::unique_ptr<Rtc> rtc) : rtc_(std::move(rtc)) {}
  int connect(const Blob& b) override {
    return rtc_->connect(b, nullptr, [](std::span<const Frame>) {}).value();
  }
  int configure(const Blob& b) override { return rtc_->configure(b).value(); }
  int start() override { return rtc_->start().value(); }
  int pause() override { return rtc_->pause().value(); }
  int resume() override { return rtc_->resume().value(); }
  int stop() override { return rtc_->stop().value(); }
  int disconnect() override { return rtc_->disconnect().value(); }
  int control_state(bool* running, bool* paused) override {
    return rtc_->get_control_state(*running, *paused).value();
  }
  int query_status(uint32_t* state) override {
    NetworkStatus s;
    int rc = rtc_->query_status(s).value();
    *state = s.state;
    return rc;
  }
  int query_stations(uint32_t* found) override {
    std::vector<Station> stations;
    int rc = rtc_->query_stations(stations).value();
    *found = static_cast<uint32_t>(stations.size());
    return rc;
  }
  int wrong_interface_code() const override { return static_cast<int>(nmerr::not_realtime); }
  std::string last_error() const override { return rtc_->last_error(); }

 private:
  std::unique_ptr<Rtc> rtc_;
};

}  // namespace

const char* driver_name(DriverKind kind) {
  switch (kind) {
    case DriverKind::cxx_esp: return "CxxEsp";
    case DriverKind::cxx_rtc: return "CxxRtc";
    case DriverKind::c_iesp: return "CIesp";
    case DriverKind::c_irtc: return "CIrtc";
  }
  return "?";
}

DriverPair make_c_drivers(DriverKind kind);  // state_table_c_drivers.cpp, when the C ABI is built

std::vector<DriverKind> all_driver_kinds() {
  std::vector<DriverKind> kinds = {DriverKind::cxx_esp, DriverKind::cxx_rtc};
#ifdef XESP_HAVE_C_ABI
  kinds.push_back(DriverKind::c_iesp);
  kinds.push_back(DriverKind::c_irtc);
#endif
  return kinds;
}

DriverPair make_drivers(DriverKind kind) {
#ifdef XESP_HAVE_C_ABI
  if (kind == DriverKind::c_iesp || kind == DriverKind::c_irtc) return make_c_drivers(kind);
#endif
  auto esp = std::make_shared<Esp>();
  DriverPair pair;
  auto esp_driver = std::make_unique<EspDriver>(*esp);
  auto rtc_driver = std::make_unique<RtcDriver>(std::make_unique<Rtc>(*esp));
  if (kind == DriverKind::cxx_esp) {
    pair.under_test = std::move(esp_driver);
    pair.other = std::move(rtc_driver);
  } else {
    pair.under_test = std::move(rtc_driver);
    pair.other = std::move(esp_driver);
  }
  pair.provider = esp;
  return pair;
}

}  // namespace xesp::test
