// Misuse of the API and faults under it, through the C++ API and the C ABI: each ends with a
// clear error code, never a deadlock, a crash or a capture that acts on the wrong one. Every
// test runs on a veth testbed of its own; waits are bounded, so a deadlock is a failure, not a
// hang.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include <gtest/gtest.h>

#include "support/event_log.hpp"
#include "support/testbed.hpp"
#include "xesp/esp.hpp"
#include "xesp/iesp.h"
#include "xesp/rtc.hpp"

namespace xesp::test {
namespace {

using namespace std::chrono_literals;

// Runs f on a thread of its own and waits at most `limit` for it: a call that deadlocks fails
// the test (the stuck thread is left behind; the test binary's exit ends it).
template <typename F>
bool finishes_within(std::chrono::milliseconds limit, F f) {
  auto task = std::make_shared<std::packaged_task<void()>>(std::move(f));
  auto done = task->get_future();
  std::thread([task] { (*task)(); }).detach();
  return done.wait_for(limit) == std::future_status::ready;
}

template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

class Misuse : public ::testing::Test {
 protected:
  void SetUp() override {
    XESP_REQUIRE_INTEGRATION();
    tb_ = Testbed::create();
    ASSERT_TRUE(tb_);
  }
  Blob blob(std::initializer_list<std::pair<std::string, std::string>> extra = {}) const {
    Blob b;
    b.set("NPP", "Config", "Interface", tb_->capture_if());
    b.set("NPP", "Config", "CaptureDirectory", dir_.path());
    b.set("NPP", "Config", "UpdateFreq", "20");
    b.set("NPP", "Config", "FrameCount", "8192");
    b.set("NPP", "Config", "FillRingSize", "4096");
    b.set("NPP", "Config", "RxRingSize", "4096");
    for (const auto& [key, value] : extra) {
      auto colon = key.find(':');
      b.set("NPP", key.substr(0, colon), key.substr(colon + 1), value);
    }
    return b;
  }
  void send(uint64_t count, uint64_t start_seq = 0, uint64_t rate = 20'000) {
    ProcessResult r = tb_->send(count, rate,
                                {"--size", "100", "--start-seq", std::to_string(start_seq),
                                 "--src-mac", "02:00:00:00:00:01"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  bool running(Rtc& rtc) {
    bool r = false, p = false;
    (void)rtc.get_control_state(r, p);
    return r;
  }

  std::unique_ptr<Testbed> tb_;
  TempDir dir_;
};

// connection_info() used to take the lock Stop holds while it joins the pollers: called from a
// frames callback during Stop, the two waited for each other for ever.
TEST_F(Misuse, ConnectionInfoFromAFramesCallbackNeverWaitsForStop) {
  Rtc rtc;
  std::atomic<uint64_t> calls{0};
  auto frames = [&](std::span<const Frame>) {
    // Slow batches, so Stop finds a poller inside one.
    const ConnectionInfo info = rtc.connection_info();
    if (info.interface == tb_->capture_if()) ++calls;
    std::this_thread::sleep_for(2ms);
  };
  ASSERT_EQ(rtc.connect(blob(), nullptr, frames), std::error_code()) << rtc.last_error();
  ASSERT_EQ(rtc.start(), std::error_code());
  std::thread sender([&] { send(4'000, 0, 8'000); });
  ASSERT_TRUE(eventually([&] { return calls.load() > 10; }));
  EXPECT_TRUE(finishes_within(10s, [&] { EXPECT_EQ(rtc.stop(), std::error_code()); }))
      << "Stop and a frames callback in connection_info() deadlocked";
  sender.join();
  EXPECT_GT(calls.load(), 10u);
  EXPECT_EQ(rtc.disconnect(), std::error_code());
}

// A Stop asked from a frames callback runs later on the control thread; if the capture it was
// asked for has ended and another started meanwhile, it must not stop that one.
TEST_F(Misuse, ADeferredStopNeverStopsTheNextCapture) {
  Rtc rtc;
  std::mutex m;
  std::condition_variable cv;
  bool hold_control = false, control_held = false, release_control = false;
  // The control thread, held inside a status callback, runs nothing else meanwhile.
  auto status = [&](const UpdateEvent&) {
    std::unique_lock lock(m);
    if (!hold_control || control_held) return;
    control_held = true;
    cv.notify_all();
    cv.wait_for(lock, 10s, [&] { return release_control; });
  };
  std::atomic<bool> asked{false};
  std::atomic<int> ask_code{-1};
  auto frames = [&](std::span<const Frame>) {
    if (!asked.exchange(true)) ask_code = rtc.stop().value();
  };
  ASSERT_EQ(rtc.connect(blob(), status, frames), std::error_code()) << rtc.last_error();
  ASSERT_EQ(rtc.start(), std::error_code());
  {
    std::unique_lock lock(m);
    hold_control = true;
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return control_held; }));
  }
  send(50);
  ASSERT_TRUE(eventually([&] { return ask_code.load() != -1; }));
  EXPECT_EQ(ask_code.load(), 0) << "Stop from the callback is accepted (and deferred)";
  // Stop and Start again from here while the deferred Stop still waits behind the held thread.
  ASSERT_EQ(rtc.stop(), std::error_code());
  ASSERT_EQ(rtc.start(), std::error_code());
  {
    std::lock_guard lock(m);
    release_control = true;
    cv.notify_all();
  }
  std::this_thread::sleep_for(500ms);  // the control thread runs what waited
  EXPECT_TRUE(running(rtc)) << "the first capture's deferred Stop stopped the second";
  send(20, 1'000);
  Statistics st;
  ASSERT_TRUE(eventually([&] {
    return !rtc.get_total_statistics(st, false) && st.frames_captured >= 20;
  }));
  ASSERT_EQ(rtc.stop(), std::error_code());
  EXPECT_EQ(rtc.disconnect(), std::error_code());
}

// A C++ frames callback that throws used to end the process (std::terminate on the poller).
TEST_F(Misuse, AFramesCallbackThatThrowsStopsTheCaptureWithTheReason) {
  EventLog log;
  auto frames = [](std::span<const Frame>) { throw std::runtime_error("boom in the callback"); };
  Rtc rtc;
  ASSERT_EQ(rtc.connect(blob(), log.callback(), frames), std::error_code()) << rtc.last_error();
  ASSERT_EQ(rtc.start(), std::error_code());
  send(200);
  const auto stopped = log.wait([](const UpdateEvent& e) { return e.action == kActionStopCapture; });
  ASSERT_TRUE(stopped);
  EXPECT_NE(stopped->error.find("the frames callback threw: boom in the callback"),
            std::string::npos)
      << stopped->error;
  ASSERT_TRUE(stopped->statistics);
  // Every frame kept is accounted for: delivered (the throwing batch) or counted not written.
  const Statistics& s = *stopped->statistics;
  EXPECT_EQ(s.frames_seen, s.frames_captured + s.frames_dropped + s.frames_after_stop);
  EXPECT_FALSE(running(rtc));
  EXPECT_EQ(rtc.disconnect(), std::error_code());
}

// The marker callback used to leave its thread marked "in a callback" when it threw, so every
// later call from that thread was refused as if made from a frames callback.
TEST_F(Misuse, AMarkerCallbackThatThrowsIsAnErrorAndLeavesNoMark) {
  auto frames = [](std::span<const Frame> batch) {
    for (const Frame& f : batch)
      if (f.flags & kFrameSpecial) throw std::runtime_error("marker refused");
  };
  Rtc rtc;
  ASSERT_EQ(rtc.connect(blob(), nullptr, frames), std::error_code()) << rtc.last_error();
  ASSERT_EQ(rtc.start(), std::error_code());
  EXPECT_EQ(rtc.insert_special_frame("m"), make_error_code(nmerr::invalid_parameter));
  EXPECT_NE(rtc.last_error().find("marker refused"), std::string::npos) << rtc.last_error();
  // This thread is an ordinary caller again: Stop happens now, not later.
  ASSERT_EQ(rtc.stop(), std::error_code()) << rtc.last_error();
  EXPECT_FALSE(running(rtc));
  EXPECT_EQ(rtc.disconnect(), std::error_code());
}

TEST_F(Misuse, AStatusCallbackThatThrowsEndsNothing) {
  std::atomic<int> events{0};
  auto status = [&](const UpdateEvent&) {
    ++events;
    throw std::runtime_error("status callback failure");
  };
  Esp esp;
  ASSERT_EQ(esp.connect(blob(), status), std::error_code()) << esp.last_error();
  std::string path;
  ASSERT_EQ(esp.start(path), std::error_code());
  ASSERT_TRUE(eventually([&] { return events.load() >= 3; })) << "events stopped coming";
  Statistics st;
  EXPECT_EQ(esp.stop(st), std::error_code());
  EXPECT_EQ(esp.disconnect(), std::error_code());
}

// Dropping the last Esp (or Rtc) inside its own callback used to destroy the provider on the
// thread running the callback: a join of itself, or memory freed under it.
TEST_F(Misuse, DroppingTheProviderInItsOwnCallbackIsSafe) {
  const std::string nic = tb_->capture_if();
  // What the callbacks touch lives as long as the callbacks (the provider holds them): when
  // only the test's reference is left, the provider is gone, on whatever thread.
  struct Shared {
    std::mutex m;
    std::unique_ptr<Esp> esp;
    std::unique_ptr<Rtc> rtc;
    std::atomic<bool> dropped{false};
  };
  {
    auto shared = std::make_shared<Shared>();
    shared->esp = std::make_unique<Esp>();
    auto status = [shared](const UpdateEvent&) {
      std::lock_guard lock(shared->m);
      if (shared->esp) {
        shared->esp.reset();  // the last owner, gone in the callback
        shared->dropped = true;
      }
    };
    {
      std::lock_guard lock(shared->m);
      ASSERT_EQ(shared->esp->connect(blob(), std::move(status)), std::error_code());
      std::string path;
      ASSERT_EQ(shared->esp->start(path), std::error_code());
    }
    ASSERT_TRUE(eventually([&] { return shared->dropped.load(); }));
    // Destroyed on a thread of its own: the capture stopped, the program detached, and the
    // provider with its callbacks is gone.
    EXPECT_TRUE(eventually([&] { return attached_xdp_prog_id(nic) == 0; }));
    EXPECT_TRUE(eventually([&] { return shared.use_count() == 1; }));
  }
  {
    auto shared = std::make_shared<Shared>();
    shared->rtc = std::make_unique<Rtc>();
    auto frames = [shared](std::span<const Frame>) {
      std::lock_guard lock(shared->m);
      if (shared->rtc) {
        shared->rtc.reset();  // from a poller thread
        shared->dropped = true;
      }
    };
    {
      std::lock_guard lock(shared->m);
      ASSERT_EQ(shared->rtc->connect(blob(), nullptr, std::move(frames)), std::error_code());
      ASSERT_EQ(shared->rtc->start(), std::error_code());
    }
    send(100);
    ASSERT_TRUE(eventually([&] { return shared->dropped.load(); }));
    EXPECT_TRUE(eventually([&] { return attached_xdp_prog_id(nic) == 0; }));
    EXPECT_TRUE(eventually([&] { return shared.use_count() == 1; }));
  }
}

TEST_F(Misuse, DisconnectFromTheStatusCallbackIsRefused) {
  Esp esp;
  std::atomic<int> code{-1};
  auto status = [&](const UpdateEvent&) {
    if (code.load() == -1) code = esp.disconnect().value();
  };
  ASSERT_EQ(esp.connect(blob(), status), std::error_code());
  std::string path;
  ASSERT_EQ(esp.start(path), std::error_code());
  ASSERT_TRUE(eventually([&] { return code.load() != -1; }));
  EXPECT_EQ(code.load(), static_cast<int>(nmerr::invalid_parameter));
  Statistics st;
  EXPECT_EQ(esp.stop(st), std::error_code());
  EXPECT_EQ(esp.disconnect(), std::error_code());
}

// The sentence behind an error is the calling thread's: another thread's failure on the same
// provider never replaces it.
TEST_F(Misuse, ErrorTextsArePerThread) {
  Esp esp;
  EXPECT_EQ(esp.pause(), make_error_code(nmerr::not_connected));
  const std::string mine = esp.last_error();
  std::string theirs;
  std::thread([&] {
    EXPECT_EQ(esp.connect(blob({{"Config:SnapLength", "0"}})),
              make_error_code(nmerr::blob_conversion_error));
    theirs = esp.last_error();
  }).join();
  EXPECT_NE(theirs.find("SnapLength"), std::string::npos) << theirs;
  EXPECT_EQ(esp.last_error(), mine) << "another thread's error replaced this one's";
  EXPECT_EQ(mine.find("SnapLength"), std::string::npos);
}

// ---- The C ABI -----------------------------------------------------------------------------

struct CHost {
  IESP* esp = nullptr;
  std::atomic<int> release_result{-1};
  std::atomic<bool> tried{false};
  std::string error;
};

CHost* g_host = nullptr;

DWORD release_in_status_callback(UPDATE_EVENT) {
  if (!g_host->tried.exchange(true)) {
    const int refs = static_cast<int>(g_host->esp->lpVtbl->Release(g_host->esp));
    g_host->error = XespLastErrorText();
    g_host->release_result = refs;  // last: the test reads `error` once it sees this
  }
  return 0;
}

TEST_F(Misuse, CReleaseFromACallbackIsRefused) {
  CHost host;
  g_host = &host;
  HBLOB config = nullptr;
  CreateBlob(&config);
  const Blob settings = blob();
  for (const auto& e : settings.entries())
    SetStringInBlob(config, e.owner.c_str(), e.category.c_str(), e.tag.c_str(), e.value.c_str());
  ASSERT_EQ(CreateNPPInterface(config, &IID_IESP, reinterpret_cast<void**>(&host.esp)), S_OK);
  ASSERT_EQ(host.esp->lpVtbl->Connect(host.esp, config, reinterpret_cast<void*>(&release_in_status_callback),
                                      nullptr, nullptr),
            S_OK)
      << XespLastErrorText();
  char path[XESP_MAX_PATH];
  ASSERT_EQ(host.esp->lpVtbl->Start(host.esp, path), S_OK);
  ASSERT_TRUE(eventually([&] { return host.release_result.load() != -1; }));
  EXPECT_EQ(host.release_result.load(), 1) << "the reference was dropped in the callback";
  EXPECT_NE(host.error.find("not allowed from a status or frames callback"), std::string::npos)
      << host.error;
  // Still alive and usable from here.
  STATISTICS st{};
  EXPECT_EQ(host.esp->lpVtbl->Stop(host.esp, &st), S_OK);
  EXPECT_EQ(host.esp->lpVtbl->Disconnect(host.esp), S_OK);
  EXPECT_EQ(host.esp->lpVtbl->Release(host.esp), 0u);
  DestroyBlob(config);
  g_host = nullptr;
}

// ---- Faults under a capture ------------------------------------------------------------------

// The NIC removed under a capture: the capture stops with the reason (a status event carrying
// it), QueryStatus answers NMERR_DISCONNECTED, Start too, and Disconnect still works.
TEST_F(Misuse, ANicRemovedStopsTheCaptureWithTheReason) {
  EventLog log;
  Esp esp;
  ASSERT_EQ(esp.connect(blob(), log.callback()), std::error_code()) << esp.last_error();
  std::string path;
  ASSERT_EQ(esp.start(path), std::error_code());
  send(300);
  ASSERT_TRUE(eventually([&] {
    NetworkStatus ns;
    (void)esp.query_status(ns);
    return ns.state == kStateCapturing;
  }));
  const std::string nic = tb_->capture_if();
  ASSERT_EQ(run({"ip", "link", "del", nic}).exit_code, 0);
  const auto stopped =
      log.wait([](const UpdateEvent& e) { return e.action == kActionStopCapture; }, 5s);
  ASSERT_TRUE(stopped) << "the removal was never noticed";
  EXPECT_NE(stopped->error.find("interface '" + nic + "' was removed during the capture"),
            std::string::npos)
      << stopped->error;
  ASSERT_TRUE(stopped->statistics);
  EXPECT_EQ(stopped->statistics->frames_captured, 300u);
  NetworkStatus ns;
  EXPECT_EQ(esp.query_status(ns), make_error_code(nmerr::disconnected));
  EXPECT_NE(esp.last_error().find("was removed"), std::string::npos) << esp.last_error();
  EXPECT_EQ(ns.state, kStateVoid);
  EXPECT_EQ(esp.start(path), make_error_code(nmerr::disconnected));
  EXPECT_EQ(esp.disconnect(), std::error_code());
  EXPECT_EQ(esp.query_status(ns), std::error_code());
}

// A library host writing to a pipe whose reader went away used to die of SIGPIPE: the capture
// now stops with the error (EPIPE) and the host lives on.
TEST_F(Misuse, APipeClosedUnderALibraryHostIsAnError) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const int saved_stdout = ::dup(STDOUT_FILENO);
  ASSERT_GE(saved_stdout, 0);
  ASSERT_EQ(::dup2(pipe_fds[1], STDOUT_FILENO), STDOUT_FILENO);
  ::close(pipe_fds[1]);
  ::close(pipe_fds[0]);  // nobody reads: the first write raises SIGPIPE
  struct Restore {
    int fd;
    ~Restore() {
      ::dup2(fd, STDOUT_FILENO);
      ::close(fd);
    }
  } restore{saved_stdout};
  struct sigaction old {};
  ASSERT_EQ(::sigaction(SIGPIPE, nullptr, &old), 0);
  ASSERT_EQ(old.sa_handler, SIG_DFL) << "the test needs SIGPIPE's default action (death)";

  Esp esp;
  // The headers go out at Start: that write already meets the closed pipe.
  ASSERT_EQ(esp.connect(blob({{"Config:CaptureFile", "-"}})), std::error_code())
      << esp.last_error();
  std::string path;
  // Alive to see it: Start fails with the pipe's error.
  EXPECT_EQ(esp.start(path), make_error_code(nmerr::invalid_parameter));
  EXPECT_NE(esp.last_error().find("Broken pipe"), std::string::npos) << esp.last_error();
  EXPECT_EQ(esp.disconnect(), std::error_code());
}

// Stop from Paused used to clear `paused` before `active`: in between, frames were redirected.
TEST_F(Misuse, StopFromPausedRedirectsNothing) {
  Esp esp;
  ASSERT_EQ(esp.connect(blob()), std::error_code()) << esp.last_error();
  std::string path;
  for (int round = 0; round < 5; ++round) {
    ASSERT_EQ(esp.start(path), std::error_code()) << esp.last_error();
    ASSERT_EQ(esp.pause(), std::error_code());
    std::thread sender([&] { send(3'000, 0, 30'000); });
    std::this_thread::sleep_for(50ms);
    Statistics st;
    ASSERT_EQ(esp.stop(st), std::error_code());
    sender.join();
    EXPECT_EQ(st.frames_filtered, 0u) << "round " << round << ": frames redirected after Pause";
    EXPECT_EQ(st.frames_captured, 0u) << "round " << round;
  }
  EXPECT_EQ(esp.disconnect(), std::error_code());
}

}  // namespace
}  // namespace xesp::test
