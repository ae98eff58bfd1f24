// A host process that embeds the provider through the C++ API and forks while capturing, for
// fork_test. Usage: xesp-fork-host <interface> <capture-directory> [<blob line>...]
//
// Protocol (stdout, one line per step, unbuffered so the test can follow it while it runs):
//   connected pid=<pid> file=<path>   Connect and Start done; forks at the next SIGUSR1 (or
//                                     SIGTERM: the first of them)
//   seen frames=<n>                   whenever the frames seen (status updates) change
//   forked child=<pid>                the parent, after fork()
//   child pid=<pid>                   the child: it only sleeps (at most 60 s, then _exit)
//   captured frames=<n>               at the next signal: Stop's frames_captured, then Disconnect
//   disconnected                      and exit 0
//   error <sentence>                  and exit 1
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "xesp/blob.hpp"
#include "xesp/esp.hpp"

namespace {

int fail(const std::string& what, const xesp::Esp& esp) {
  ::dprintf(1, "error %s: %s\n", what.c_str(), esp.last_error().c_str());
  return 1;
}

int wait_for(const sigset_t& set) {
  int sig = 0;
  while (::sigwait(&set, &sig) != 0) {
  }
  return sig;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    ::dprintf(2, "usage: %s <interface> <capture-directory> [Owner:Category:Tag=Value...]\n",
              argv[0]);
    return 2;
  }
  // Before any thread exists, so the provider's threads inherit the mask and sigwait gets them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGTERM);
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);

  xesp::Blob blob;
  blob.set("NPP", "Config", "Interface", argv[1]);
  blob.set("NPP", "Config", "CaptureDirectory", argv[2]);
  for (int i = 3; i < argc; ++i) {
    std::string why;
    if (blob.parse(argv[i], &why)) {
      ::dprintf(1, "error blob: %s\n", why.c_str());
      return 1;
    }
  }

  // Status updates come from the provider's control thread, which exists in the parent only.
  auto on_status = [last = ~uint64_t{0}](const xesp::UpdateEvent& ev) mutable {
    if (!ev.statistics || ev.statistics->frames_seen == last) return;
    last = ev.statistics->frames_seen;
    ::dprintf(1, "seen frames=%llu\n", static_cast<unsigned long long>(last));
  };
  xesp::Esp esp;
  if (esp.connect(blob, on_status)) return fail("Connect", esp);
  std::string file;
  if (esp.start(file)) return fail("Start", esp);
  ::dprintf(1, "connected pid=%d file=%s\n", static_cast<int>(::getpid()), file.c_str());

  wait_for(set);  // the test has looked at this process
  const pid_t child = ::fork();
  if (child < 0) {
    ::dprintf(1, "error fork: %m\n");
    return 1;
  }
  if (child == 0) {
    // A child that goes on with its own work and never touches the capture (the provider's
    // threads do not exist here; only async-signal-safe calls until exec, as after any fork).
    ::dprintf(1, "child pid=%d\n", static_cast<int>(::getpid()));
    for (int i = 0; i < 60; ++i) ::sleep(1);
    ::_exit(0);
  }
  ::dprintf(1, "forked child=%d\n", static_cast<int>(child));

  wait_for(set);  // stop cleanly (the other run is ended by SIGKILL)
  xesp::Statistics st;
  if (esp.stop(st)) return fail("Stop", esp);
  ::dprintf(1, "captured frames=%llu\n", static_cast<unsigned long long>(st.frames_captured));
  if (esp.disconnect()) return fail("Disconnect", esp);
  ::dprintf(1, "disconnected\n");
  return 0;
}
