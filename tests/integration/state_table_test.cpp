// Every cell of IESP.md's state table, for IESP and for IRTC: each of the ten calls made in
// each state returns the listed code and leaves the listed state, checked by the provider's
// codes and by what the kernel says is attached to the NIC.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>

#include "state_table_drivers.hpp"
#include "support/testbed.hpp"

namespace xesp::test {
namespace {

enum class St { disconnected, idle, stopped, capturing, paused, other };
enum class Call {
  connect, configure, start, pause, resume, stop, disconnect, control_state, query_status,
  query_stations
};

const char* name(St s) {
  switch (s) {
    case St::disconnected: return "Disconnected";
    case St::idle: return "Idle";
    case St::stopped: return "Stopped";
    case St::capturing: return "Capturing";
    case St::paused: return "Paused";
    case St::other: return "OtherInterface";
  }
  return "?";
}

const char* name(Call c) {
  switch (c) {
    case Call::connect: return "Connect";
    case Call::configure: return "Configure";
    case Call::start: return "Start";
    case Call::pause: return "Pause";
    case Call::resume: return "Resume";
    case Call::stop: return "Stop";
    case Call::disconnect: return "Disconnect";
    case Call::control_state: return "GetControlState";
    case Call::query_status: return "QueryStatus";
    case Call::query_stations: return "QueryStations";
  }
  return "?";
}

// What one cell says: the code, and the state afterwards (for GetControlState, the flags;
// for QueryStatus, the NETWORKSTATUS state it reports).
struct Cell {
  int code;          // NMERR; kWrongInterface stands for NOT_ESP (IESP) / NOT_REALTIME (IRTC)
  St after;
  bool running = false;  // GetControlState
  bool paused = false;
  uint32_t status = 0;   // QueryStatus
};
constexpr int kWrongInterface = -1;
constexpr int OK = 0;
constexpr int CAPTURING = 3, NOT_CAPTURING = 4, CAPTURE_PAUSED = 20, CAPTURE_NOT_PAUSED = 66,
              NOT_CONNECTED = 102, ALREADY_CONNECTED = 103;

// IESP.md's table, row by row.
Cell expected(Call call, St s) {
  const bool connected = s != St::disconnected;
  switch (call) {
    case Call::connect:
      return connected ? Cell{ALREADY_CONNECTED, s} : Cell{OK, St::idle};
    case Call::configure:
      if (!connected) return {NOT_CONNECTED, s};
      if (s == St::other) return {kWrongInterface, s};
      if (s == St::capturing || s == St::paused) return {CAPTURING, s};
      return {OK, St::idle};
    case Call::start:
      if (!connected) return {NOT_CONNECTED, s};
      if (s == St::other) return {kWrongInterface, s};
      if (s == St::capturing) return {CAPTURING, s};
      if (s == St::paused) return {CAPTURE_PAUSED, s};
      return {OK, St::capturing};
    case Call::pause:
      if (!connected) return {NOT_CONNECTED, s};
      if (s == St::other) return {kWrongInterface, s};
      if (s == St::capturing) return {OK, St::paused};
      if (s == St::paused) return {CAPTURE_PAUSED, s};
      return {NOT_CAPTURING, s};
    case Call::resume:
      if (!connected) return {NOT_CONNECTED, s};
      if (s == St::other) return {kWrongInterface, s};
      if (s == St::paused) return {OK, St::capturing};
      return {CAPTURE_NOT_PAUSED, s};
    case Call::stop:
      if (!connected) return {NOT_CONNECTED, s};
      if (s == St::other) return {kWrongInterface, s};
      if (s == St::capturing || s == St::paused) return {OK, St::stopped};
      return {NOT_CAPTURING, s};
    case Call::disconnect:
      if (!connected) return {NOT_CONNECTED, s};
      if (s == St::other) return {kWrongInterface, s};
      if (s == St::capturing || s == St::paused) return {CAPTURING, s};
      return {OK, St::disconnected};
    case Call::control_state: {
      if (!connected) return {NOT_CONNECTED, s};
      if (s == St::other) return {kWrongInterface, s};
      Cell c{OK, s};
      c.running = s == St::capturing || s == St::paused;
      c.paused = s == St::paused;
      return c;
    }
    case Call::query_status: {
      Cell c{OK, s};
      c.status = s == St::capturing ? 2 : s == St::paused ? 3 : 0;
      return c;
    }
    case Call::query_stations:
      return {OK, s};
  }
  return {OK, s};
}

struct Case {
  DriverKind driver;
  St state;
  Call call;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << driver_name(c.driver) << " " << name(c.call) << " in " << name(c.state);
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return std::string(driver_name(info.param.driver)) + "_" + name(info.param.call) + "_in_" +
         name(info.param.state);
}

class StateTable : public ::testing::TestWithParam<Case> {
 protected:
  static void SetUpTestSuite() {
    if (!integration_skip_reason().empty()) return;
    testbed_ = Testbed::create().release();
  }
  static void TearDownTestSuite() {
    delete testbed_;
    testbed_ = nullptr;
  }
  void SetUp() override {
    XESP_REQUIRE_INTEGRATION();
    ASSERT_NE(testbed_, nullptr);
  }

  // Drives a fresh provider into `state` through the interface under test (or, for `other`,
  // through the other interface).
  void enter(Driver& d, Driver& other, St state) {
    switch (state) {
      case St::disconnected:
        return;
      case St::other:
        ASSERT_EQ(other.connect(blob()), OK) << other.last_error();
        return;
      default:
        ASSERT_EQ(d.connect(blob()), OK) << d.last_error();
    }
    if (state == St::idle) return;
    ASSERT_EQ(d.start(), OK) << d.last_error();
    if (state == St::capturing) return;
    if (state == St::paused) {
      ASSERT_EQ(d.pause(), OK) << d.last_error();
      return;
    }
    ASSERT_EQ(d.stop(), OK) << d.last_error();  // stopped
  }

  Blob blob() const {
    Blob b;
    b.set("NPP", "Config", "Interface", testbed_->capture_if());
    b.set("NPP", "Config", "CaptureDirectory", dir_.path());
    // Small rings: the table needs no throughput, only the kernel objects.
    b.set("NPP", "Config", "RxRingSize", "256");
    b.set("NPP", "Config", "FillRingSize", "256");
    b.set("NPP", "Config", "UpdateFreq", "0");
    return b;
  }

  // Where the provider is, as its own answers and the kernel say.
  void expect_state(Driver& d, St s, const std::string& where) {
    SCOPED_TRACE(where);
    const uint32_t prog = attached_xdp_prog_id(testbed_->capture_if());
    const bool connected = s != St::disconnected;
    EXPECT_EQ(prog != 0, connected) << "XDP program attached: " << prog;
    uint32_t status = 99;
    EXPECT_EQ(d.query_status(&status), OK);
    EXPECT_EQ(status, s == St::capturing ? 2u : s == St::paused ? 3u : 0u);
    if (s == St::other || s == St::disconnected) return;
    bool running = false, paused = false;
    EXPECT_EQ(d.control_state(&running, &paused), OK);
    EXPECT_EQ(running, s == St::capturing || s == St::paused);
    EXPECT_EQ(paused, s == St::paused);
  }

  static Testbed* testbed_;
  TempDir dir_;
};

Testbed* StateTable::testbed_ = nullptr;

TEST_P(StateTable, CallReturnsTheListedCodeAndState) {
  const Case& c = GetParam();
  auto providers = make_drivers(c.driver);
  Driver& d = *providers.under_test;
  Driver& other = *providers.other;
  ASSERT_NO_FATAL_FAILURE(enter(d, other, c.state));
  expect_state(c.state == St::other ? other : d, c.state, "before the call");

  const Cell want = expected(c.call, c.state);
  const int want_code = want.code == kWrongInterface ? d.wrong_interface_code() : want.code;
  int got = -2;
  bool running = false, paused = false;
  uint32_t status = 99;
  switch (c.call) {
    case Call::connect: got = d.connect(blob()); break;
    case Call::configure: got = d.configure(blob()); break;
    case Call::start: got = d.start(); break;
    case Call::pause: got = d.pause(); break;
    case Call::resume: got = d.resume(); break;
    case Call::stop: got = d.stop(); break;
    case Call::disconnect: got = d.disconnect(); break;
    case Call::control_state: got = d.control_state(&running, &paused); break;
    case Call::query_status: got = d.query_status(&status); break;
    case Call::query_stations: {
      uint32_t found = 99;
      got = d.query_stations(&found);
      EXPECT_EQ(found, 0u) << "no capture agent runs here";
      break;
    }
  }
  EXPECT_EQ(got, want_code) << name(c.call) << " in " << name(c.state) << ": " << d.last_error();
  if (c.call == Call::control_state && got == OK) {
    EXPECT_EQ(running, want.running);
    EXPECT_EQ(paused, want.paused);
  }
  if (c.call == Call::query_status) {
    EXPECT_EQ(status, want.status);
  }
  Driver& observer = want.after == St::other ? other : d;
  expect_state(observer, want.after, "after the call");
  // Tear down in order so nothing outlives the case (the destructor would do it too).
  other.stop();
  other.disconnect();
  d.stop();
  d.disconnect();
}

std::vector<Case> all_cases() {
  std::vector<Case> out;
  for (DriverKind k : all_driver_kinds())
    for (St s : {St::disconnected, St::idle, St::stopped, St::capturing, St::paused, St::other})
      for (Call call : {Call::connect, Call::configure, Call::start, Call::pause, Call::resume,
                        Call::stop, Call::disconnect, Call::control_state, Call::query_status,
                        Call::query_stations})
        out.push_back({k, s, call});
  return out;
}

INSTANTIATE_TEST_SUITE_P(Cells, StateTable, ::testing::ValuesIn(all_cases()), case_name);

}  // namespace
}  // namespace xesp::test
