/* See c_host_common.h. Everything here is plain C11 + POSIX: what a C host of libxesp has. */
#define _GNU_SOURCE
#include "c_host_common.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

/* ---- Layouts ------------------------------------------------------------------------------ */
_Static_assert(sizeof(STATIONQUERY) == 192, "STATIONQUERY is packed: 4+1+1+4+16+32+32+6+32+64");
_Static_assert(offsetof(STATIONQUERY, WUserName) == 128, "STATIONQUERY.WUserName");
_Static_assert(sizeof(NETWORKSTATUS) == 8, "NETWORKSTATUS");
_Static_assert(sizeof(STATISTICS) == 88, "STATISTICS (SDK layout)");
_Static_assert(offsetof(STATISTICS, MacBytesReceivedEx) == 64, "STATISTICS.MacBytesReceivedEx");
_Static_assert(sizeof(UPDATE_EVENT) == 64, "UPDATE_EVENT");
_Static_assert(offsetof(UPDATE_EVENT, lpFinalStats) == 56, "UPDATE_EVENT.lpFinalStats");
_Static_assert(sizeof(XESP_FRAME) == 32, "XESP_FRAME");
_Static_assert(sizeof(GUID) == 16, "GUID");

int xesp_host_check_layouts(void) {
  int ok = sizeof(STATIONQUERY) == 192 && offsetof(QUERYTABLE, StationQuery) == 4 &&
           sizeof(NETWORKSTATUS) == 8 && sizeof(STATISTICS) == 88 &&
           offsetof(STATISTICS, TotalFramesSeen) == 32 && sizeof(UPDATE_EVENT) == 64 &&
           sizeof(XESP_FRAME) == 32 && offsetof(XESP_FRAME, Queue) == 24;
  printf(
      "%s: C struct layouts (STATIONQUERY 192, NETWORKSTATUS 8, STATISTICS 88, "
      "UPDATE_EVENT 64, XESP_FRAME 32)\n",
      ok ? "ok" : "FAIL");
  return ok;
}

/* ---- Privileges --------------------------------------------------------------------------- */
static int has_capability(int cap) {
  FILE* f = fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  unsigned long long eff = 0;
  int found = 0;
  while (fgets(line, sizeof(line), f))
    if (sscanf(line, "CapEff: %llx", &eff) == 1) {
      found = 1;
      break;
    }
  fclose(f);
  return found && (eff >> cap) & 1ULL;
}

const char* xesp_host_skip_reason(void) {
  if (!has_capability(12 /* CAP_NET_ADMIN */))
    return "needs CAP_NET_ADMIN (network namespace, veth, XDP): run as root";
  if (!has_capability(39 /* CAP_BPF */) && !has_capability(21 /* CAP_SYS_ADMIN */))
    return "needs CAP_BPF or CAP_SYS_ADMIN to load XDP programs: run as root";
  return NULL;
}

/* ---- Commands ------------------------------------------------------------------------------ */
/* Absolute paths, found before anything needs them: cleanup runs in signal handlers too,
 * where only fork/execve/waitpid are safe. */
static char g_ip[64];
static char g_rm[64];

static int find_tool(const char* name, char* out, size_t n) {
  static const char* const dirs[] = {"/usr/sbin", "/sbin", "/usr/bin", "/bin"};
  for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); ++i) {
    snprintf(out, n, "%s/%s", dirs[i], name);
    if (access(out, X_OK) == 0) return 1;
  }
  out[0] = '\0';
  return 0;
}

/* Runs argv (argv[0] an absolute path), waits; the exit status, or -1. Async-signal-safe. */
static int run_quiet(char* const argv[], int quiet) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (quiet) {
      int null = open("/dev/null", O_WRONLY);
      if (null >= 0) {
        dup2(null, 1);
        dup2(null, 2);
      }
    }
    execve(argv[0], argv, environ);
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int run_logged(char* const argv[]) {
  printf("  $");
  for (char* const* a = argv; *a; ++a) printf(" %s", *a);
  printf("\n");
  fflush(stdout);
  int rc = run_quiet(argv, 0);
  if (rc != 0) printf("FAIL: the command exited with %d\n", rc);
  return rc == 0;
}

/* ---- The testbed -------------------------------------------------------------------------- */
static char g_netns[64];  /* generator side; "xesp-t<pid>-..." as the gtest sweeper expects */
static char g_cap_if[16]; /* capture side, root namespace */
static char g_gen_if[16]; /* inside g_netns */
static char g_dir[64];    /* capture directory */
static volatile sig_atomic_t g_cleaned = 0;

static void cleanup(void) {
  if (g_cleaned) return;
  g_cleaned = 1;
  if (g_netns[0] && g_ip[0]) {
    /* Deleting the namespace deletes the peer, and a veth pair dies with either end. */
    char* del_ns[] = {g_ip, "netns", "del", g_netns, NULL};
    run_quiet(del_ns, 1);
  }
  if (g_cap_if[0] && g_ip[0]) {
    char* del_if[] = {g_ip, "link", "del", g_cap_if, NULL};
    run_quiet(del_if, 1); /* normally gone already: quiet */
  }
  if (g_dir[0] && g_rm[0]) {
    char* rm[] = {g_rm, "-rf", g_dir, NULL};
    run_quiet(rm, 1);
  }
}

/* What each signal did before us (the default, or a sanitizer's report): it runs after the
 * cleanup. */
static struct sigaction g_previous[65];

static void on_signal(int sig) {
  cleanup();
  sigaction(sig, &g_previous[sig], NULL);
  raise(sig); /* pending until we return; a fault also happens again on return */
}

static int make_testbed(const char* name) {
  const long pid = (long)getpid();
  snprintf(g_netns, sizeof(g_netns), "xesp-t%ld-%s", pid, name);
  snprintf(g_cap_if, sizeof(g_cap_if), "xc%ldh", pid);
  snprintf(g_gen_if, sizeof(g_gen_if), "xg%ldh", pid);
  char cap_sysctl[96], gen_sysctl[96];
  snprintf(cap_sysctl, sizeof(cap_sysctl), "net.ipv6.conf.%s.disable_ipv6=1", g_cap_if);
  snprintf(gen_sysctl, sizeof(gen_sysctl), "net.ipv6.conf.%s.disable_ipv6=1", g_gen_if);
  char sysctl[64];
  if (!find_tool("sysctl", sysctl, sizeof(sysctl))) {
    printf("FAIL: no sysctl binary\n");
    return 0;
  }
  char* add_ns[] = {g_ip, "netns", "add", g_netns, NULL};
  if (!run_logged(add_ns)) {
    g_netns[0] = '\0';
    return 0;
  }
  char* add_veth[] = {g_ip,          "link",        "add",         g_cap_if, "numtxqueues",
                      "1",           "numrxqueues", "1",           "type",   "veth",
                      "peer",        "name",        g_gen_if,      "netns",  g_netns,
                      "numtxqueues", "1",           "numrxqueues", "1",      NULL};
  char* v6_cap[] = {sysctl, "-qw", cap_sysctl, NULL};
  char* v6_gen[] = {g_ip, "netns", "exec", g_netns, sysctl, "-qw", gen_sysctl, NULL};
  char* up_cap[] = {g_ip, "link", "set", g_cap_if, "up", NULL};
  char* up_gen[] = {g_ip, "-n", g_netns, "link", "set", g_gen_if, "up", NULL};
  return run_logged(add_veth) && run_logged(v6_cap) && run_logged(v6_gen) && run_logged(up_cap) &&
         run_logged(up_gen);
}

/* Whether the capture interface carries an XDP program (`ip link` shows "prog/xdp"). */
static int xdp_attached(void) {
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "%s -d link show dev %s", g_ip, g_cap_if);
  FILE* p = popen(cmd, "r");
  if (!p) return -1;
  char line[512];
  int attached = 0;
  while (fgets(line, sizeof(line), p))
    if (strstr(line, "prog/xdp")) attached = 1;
  pclose(p);
  return attached;
}

static int send_frames(const char* gen_binary, unsigned count) {
  char n[32];
  snprintf(n, sizeof(n), "%u", count);
  char* argv[] = {(char*)gen_binary, "--interface", g_gen_if,  "--netns", g_netns,
                  "--mode",          "packet",      "--count", n,         "--rate",
                  "20000",           "--size",      "100",     NULL};
  int ok = run_logged(argv);
  /* The veth peer hands frames to NAPI: let the XDP program see the last one before the next
   * state change. */
  struct timespec settle = {0, 400 * 1000 * 1000};
  nanosleep(&settle, NULL);
  return ok;
}

/* ---- The pcapng file ---------------------------------------------------------------------- */
/* Enhanced Packet Blocks in `path`, walking the blocks; -1 when the file is not well-formed
 * pcapng. Also counts the EPBs whose original length is not `frame_size`. */
static long count_epbs(const char* path, uint32_t frame_size, long* wrong_size) {
  FILE* f = fopen(path, "rb");
  if (!f) {
    printf("FAIL: cannot open %s: %s\n", path, strerror(errno));
    return -1;
  }
  long epbs = 0, others = 0;
  *wrong_size = 0;
  unsigned char hdr[8];
  int first = 1;
  for (;;) {
    size_t got = fread(hdr, 1, sizeof(hdr), f);
    if (got == 0 && feof(f)) break;
    if (got != sizeof(hdr)) {
      printf("FAIL: %s: truncated block header\n", path);
      epbs = -1;
      break;
    }
    uint32_t type, len;
    memcpy(&type, hdr, 4);
    memcpy(&len, hdr + 4, 4);
    if (first && type != 0x0A0D0D0Au) {
      printf("FAIL: %s: not pcapng (first block 0x%08x)\n", path, type);
      epbs = -1;
      break;
    }
    if (len < 12 || len % 4 != 0) {
      printf("FAIL: %s: block of type 0x%x has length %u\n", path, type, len);
      epbs = -1;
      break;
    }
    unsigned char* body = malloc(len - 8);
    if (!body || fread(body, 1, len - 8, f) != len - 8) {
      printf("FAIL: %s: truncated block of type 0x%x\n", path, type);
      free(body);
      epbs = -1;
      break;
    }
    uint32_t trailer;
    memcpy(&trailer, body + len - 12, 4);
    if (first) {
      uint32_t magic;
      memcpy(&magic, body, 4);
      if (magic != 0x1A2B3C4Du) {
        printf("FAIL: %s: byte-order magic 0x%08x (not this host's order)\n", path, magic);
        free(body);
        epbs = -1;
        break;
      }
    }
    if (trailer != len) {
      printf("FAIL: %s: block lengths %u and %u disagree\n", path, len, trailer);
      free(body);
      epbs = -1;
      break;
    }
    if (type == 6) {
      uint32_t orig_len;
      memcpy(&orig_len, body + 16, 4); /* interface, ts high, ts low, captured, original */
      if (orig_len != frame_size) ++*wrong_size;
      ++epbs;
    } else if (type == 2 || type == 3) {
      ++others;
    }
    free(body);
    first = 0;
  }
  fclose(f);
  if (epbs >= 0 && others) {
    printf("FAIL: %s: %ld packet blocks other than EPBs\n", path, others);
    return -1;
  }
  return epbs;
}

/* ---- The host sequence -------------------------------------------------------------------- */
static int g_context_cookie;
static atomic_int g_events;
static atomic_int g_bad_events;

static DWORD on_status(UPDATE_EVENT ev) {
  atomic_fetch_add(&g_events, 1);
  int bad = ev.lpUserContext != &g_context_cookie;
  if (ev.Action == UPDATE_ACTION_NOTIFY && ev.lpFinalStats != NULL) bad = 1;
  if (ev.Event == UPDATE_EVENT_NETWORK_STATUS && ev.Action == UPDATE_ACTION_NOTIFY &&
      ev.Status != NETWORKSTATUS_STATE_CAPTURING && ev.Status != NETWORKSTATUS_STATE_PAUSED)
    bad = 1;
  if (bad) atomic_fetch_add(&g_bad_events, 1);
  return 0;
}

static const xesp_host_api* g_api;
static int g_failed;

static const char* why(void) {
  const char* t = g_api->XespLastErrorText ? g_api->XespLastErrorText() : "";
  return t ? t : "";
}

#define CHECK(cond, ...) \
  do {                   \
    if (cond) {          \
      printf("ok: ");    \
    } else {             \
      printf("FAIL: ");  \
      g_failed = 1;      \
    }                    \
    printf(__VA_ARGS__); \
    printf("\n");        \
    fflush(stdout);      \
  } while (0)

/* An HRESULT that must be `want`; stops the sequence otherwise. */
#define EXPECT_HR(call, want)                                                                      \
  do {                                                                                             \
    HRESULT hr_ = (call);                                                                          \
    CHECK(hr_ == (want), "%s -> 0x%08x (want 0x%08x)%s%s", #call, (unsigned)hr_, (unsigned)(want), \
          hr_ == (want) ? "" : ": ", hr_ == (want) ? "" : why());                                  \
    if (hr_ != (want)) goto done;                                                                  \
  } while (0)

static int expect_state(IESP* esp, DWORD state, HRESULT control_hr, BOOL running, BOOL paused,
                        const char* when) {
  const int failed_before = g_failed;
  g_failed = 0;
  NETWORKSTATUS ns = {99, 99};
  HRESULT hr = esp->lpVtbl->QueryStatus(esp, &ns);
  CHECK(hr == S_OK && ns.State == state, "%s: QueryStatus -> 0x%08x, State %u (want %u)", when,
        (unsigned)hr, ns.State, state);
  BOOL r = 42, p = 42;
  hr = esp->lpVtbl->GetControlState(esp, &r, &p);
  if (control_hr == S_OK)
    CHECK(hr == S_OK && r == running && p == paused,
          "%s: GetControlState -> 0x%08x, running %d paused %d (want %d %d)", when, (unsigned)hr, r,
          p, running, paused);
  else
    CHECK(hr == control_hr, "%s: GetControlState -> 0x%08x (want 0x%08x)", when, (unsigned)hr,
          (unsigned)control_hr);
  const int ok = !g_failed;
  g_failed |= failed_before;
  return ok;
}

/* IRTC: frames reach a C callback as XESP_FRAMEs (no copy), markers as flagged frames. */
static atomic_long g_rtc_frames;
static atomic_long g_rtc_bad_frames;
static atomic_long g_rtc_markers;
static const char kMarker[] = "xesp-marker\0binary"; /* user data may be binary */

static void on_frames(const XESP_FRAME* frames, DWORD count, void* context) {
  for (DWORD i = 0; i < count; ++i) {
    const XESP_FRAME* f = &frames[i];
    int bad =
        context != &g_context_cookie || f->Data == NULL || f->TimeStampNs <= 0 || f->Queue != 0;
    if (f->Flags & XESP_FRAME_FLAG_SPECIAL) {
      if (f->CapturedLength != sizeof(kMarker) - 1 ||
          memcmp(f->Data, kMarker, sizeof(kMarker) - 1) != 0)
        bad = 1;
      atomic_fetch_add(&g_rtc_markers, 1);
    } else {
      if (f->CapturedLength != 100 || f->OriginalLength != 100) bad = 1;
      atomic_fetch_add(&g_rtc_frames, 1);
    }
    if (bad) atomic_fetch_add(&g_rtc_bad_frames, 1);
  }
}

static void rtc_sequence(IESP* esp, HBLOB blob, const char* gen_binary) {
  enum { kFrames = 500 };
  IRTC* rtc = NULL;
  char file[XESP_MAX_PATH];
  EXPECT_HR(
      esp->lpVtbl->QueryInterface(
          esp, &(IID){0x4811EA40, 0xB582, 0x11CE, {0xB5, 0xAF, 0x00, 0xAA, 0x00, 0x6C, 0xB3, 0x7D}},
          (void**)&rtc),
      S_OK);
  EXPECT_HR(rtc->lpVtbl->Connect(rtc, blob, NULL, (void*)on_frames, &g_context_cookie, NULL), S_OK);
  EXPECT_HR(esp->lpVtbl->Start(esp, file), NMERR_TO_HRESULT(NMERR_NOT_ESP));
  EXPECT_HR(rtc->lpVtbl->Start(rtc), S_OK);
  NETWORKSTATUS ns = {0, 0};
  EXPECT_HR(esp->lpVtbl->QueryStatus(esp, &ns), S_OK);
  CHECK(ns.State == NETWORKSTATUS_STATE_CAPTURING,
        "IESP's QueryStatus reports the IRTC capture (State %u)", ns.State);
  CHECK(send_frames(gen_binary, kFrames), "IRTC: sent %d frames", kFrames);
  EXPECT_HR(rtc->lpVtbl->InsertSpecialFrame(rtc, 0, 0, (BYTE*)kMarker, sizeof(kMarker) - 1), S_OK);
  STATISTICS st;
  EXPECT_HR(rtc->lpVtbl->GetTotalStatistics(rtc, &st, FALSE), S_OK);
  CHECK(st.TotalFramesCaptured == kFrames, "IRTC: GetTotalStatistics: %u frames captured",
        st.TotalFramesCaptured);
  DWORD sessions = 9, stations = 9;
  EXPECT_HR(rtc->lpVtbl->GetConversationStatistics(rtc, &sessions, NULL, &stations, NULL, FALSE),
            S_OK);
  CHECK(sessions == 0 && stations == 0, "IRTC: GetConversationStatistics: 0 sessions, 0 stations");
  EXPECT_HR(rtc->lpVtbl->Stop(rtc), S_OK);
  EXPECT_HR(rtc->lpVtbl->Disconnect(rtc), S_OK);
  CHECK(atomic_load(&g_rtc_frames) == kFrames && atomic_load(&g_rtc_markers) == 1 &&
            atomic_load(&g_rtc_bad_frames) == 0,
        "IRTC: the frames callback got %ld frames of 100 bytes on queue 0 and %ld marker "
        "(%ld wrong)",
        atomic_load(&g_rtc_frames), atomic_load(&g_rtc_markers), atomic_load(&g_rtc_bad_frames));
done:
  if (rtc) rtc->lpVtbl->Release(rtc);
}

int xesp_host_run(const char* name, const xesp_host_api* api, const char* gen_binary) {
  enum { kCapturedFrames = 1000, kPausedFrames = 700, kFrameSize = 100 };
  g_api = api;
  g_failed = 0;
  const char* skip = xesp_host_skip_reason();
  if (skip) {
    printf("SKIP: %s: %s\n", name, skip);
    return XESP_HOST_SKIP;
  }
  if (!find_tool("ip", g_ip, sizeof(g_ip)) || !find_tool("rm", g_rm, sizeof(g_rm))) {
    printf("FAIL: no ip or rm binary\n");
    return XESP_HOST_FAIL;
  }
  if (access(gen_binary, X_OK) != 0) {
    printf("FAIL: generator %s: %s\n", gen_binary, strerror(errno));
    return XESP_HOST_FAIL;
  }
  atexit(cleanup);
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  /* Interrupted, or crashed: the testbed goes either way (atexit covers a normal exit). */
  static const int kSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL};
  for (size_t i = 0; i < sizeof(kSignals) / sizeof(kSignals[0]); ++i)
    sigaction(kSignals[i], &sa, &g_previous[kSignals[i]]);

  strcpy(g_dir, "/tmp/xesp-chost-XXXXXX");
  if (!mkdtemp(g_dir)) {
    printf("FAIL: mkdtemp: %s\n", strerror(errno));
    g_dir[0] = '\0';
    return XESP_HOST_FAIL;
  }
  if (!make_testbed(name)) {
    printf("FAIL: could not make the testbed\n");
    return XESP_HOST_FAIL;
  }
  printf("testbed: netns %s, capture side %s, generator side %s, files in %s\n", g_netns, g_cap_if,
         g_gen_if, g_dir);

  HBLOB blob = NULL;
  IESP* esp = NULL;
  char file[XESP_MAX_PATH] = "";
  STATISTICS stats;
  memset(&stats, 0, sizeof(stats));

  CHECK(api->CreateBlob(&blob) == NMERR_SUCCESS, "CreateBlob");
  if (!blob) goto done;
  CHECK(
      api->SetStringInBlob(blob, "NPP", "Config", "Interface", g_cap_if) == NMERR_SUCCESS &&
          api->SetStringInBlob(blob, "NPP", "Config", "CaptureDirectory", g_dir) == NMERR_SUCCESS &&
          api->SetStringInBlob(blob, "NPP", "Config", "UpdateFreq", "100") == NMERR_SUCCESS,
      "SetStringInBlob: Interface=%s CaptureDirectory=%s UpdateFreq=100", g_cap_if, g_dir);
  if (g_failed) goto done;

  EXPECT_HR(api->CreateNPPInterface(blob, api->iid_iesp, (void**)&esp), S_OK);
  if (!esp) goto done;
  if (!expect_state(esp, NETWORKSTATUS_STATE_VOID, NMERR_TO_HRESULT(NMERR_NOT_CONNECTED), 0, 0,
                    "created"))
    goto done;
  CHECK(xdp_attached() == 0, "created: no XDP program on %s (the factory does not touch the NIC)",
        g_cap_if);

  EXPECT_HR(esp->lpVtbl->Connect(esp, blob, (void*)on_status, &g_context_cookie, NULL), S_OK);
  if (!expect_state(esp, NETWORKSTATUS_STATE_VOID, S_OK, FALSE, FALSE, "connected")) goto done;
  CHECK(xdp_attached() == 1, "connected: an XDP program is attached to %s", g_cap_if);
  EXPECT_HR(esp->lpVtbl->Connect(esp, blob, NULL, NULL, NULL),
            NMERR_TO_HRESULT(NMERR_ALREADY_CONNECTED));

  EXPECT_HR(esp->lpVtbl->Start(esp, file), S_OK);
  printf("Start named %s\n", file);
  CHECK(strncmp(file, g_dir, strlen(g_dir)) == 0, "the file is in the capture directory");
  if (!expect_state(esp, NETWORKSTATUS_STATE_CAPTURING, S_OK, TRUE, FALSE, "capturing")) goto done;
  EXPECT_HR(esp->lpVtbl->Disconnect(esp), NMERR_TO_HRESULT(NMERR_CAPTURING));
  EXPECT_HR(esp->lpVtbl->Resume(esp), NMERR_TO_HRESULT(NMERR_CAPTURE_NOT_PAUSED));

  CHECK(send_frames(gen_binary, kCapturedFrames), "sent %d frames while capturing",
        kCapturedFrames);
  if (g_failed) goto done;

  EXPECT_HR(esp->lpVtbl->Pause(esp, NULL), S_OK);
  if (!expect_state(esp, NETWORKSTATUS_STATE_PAUSED, S_OK, TRUE, TRUE, "paused")) goto done;
  EXPECT_HR(esp->lpVtbl->Pause(esp, NULL), NMERR_TO_HRESULT(NMERR_CAPTURE_PAUSED));
  CHECK(send_frames(gen_binary, kPausedFrames), "sent %d frames while paused", kPausedFrames);
  if (g_failed) goto done;

  EXPECT_HR(esp->lpVtbl->Resume(esp), S_OK);
  if (!expect_state(esp, NETWORKSTATUS_STATE_CAPTURING, S_OK, TRUE, FALSE, "resumed")) goto done;

  EXPECT_HR(esp->lpVtbl->Stop(esp, &stats), S_OK);
  if (!expect_state(esp, NETWORKSTATUS_STATE_VOID, S_OK, FALSE, FALSE, "stopped")) goto done;
  STATISTICS again;
  memset(&again, 0x5A, sizeof(again));
  EXPECT_HR(esp->lpVtbl->Stop(esp, &again), NMERR_TO_HRESULT(NMERR_NOT_CAPTURING));
  CHECK(again.TotalFramesCaptured == 0x5A5A5A5Au, "a refused Stop leaves lpStats as it was");
  printf(
      "STATISTICS: TimeElapsed %lld us, captured %u frames / %u bytes, filtered %u, seen %u, "
      "dropped %u, MacFramesReceived %u\n",
      (long long)stats.TimeElapsed, stats.TotalFramesCaptured, stats.TotalBytesCaptured,
      stats.TotalFramesFiltered, stats.TotalFramesSeen, stats.TotalFramesDropped,
      stats.MacFramesReceived);
  CHECK(stats.TotalFramesCaptured == kCapturedFrames, "TotalFramesCaptured %u == %d",
        stats.TotalFramesCaptured, kCapturedFrames);
  CHECK(stats.TotalFramesSeen >= kCapturedFrames + kPausedFrames, "TotalFramesSeen %u >= %d",
        stats.TotalFramesSeen, kCapturedFrames + kPausedFrames);
  CHECK(stats.TotalBytesCaptured == (DWORD)kCapturedFrames * kFrameSize,
        "TotalBytesCaptured %u == %d", stats.TotalBytesCaptured, kCapturedFrames * kFrameSize);
  CHECK(stats.TotalFramesDropped == 0, "TotalFramesDropped %u == 0", stats.TotalFramesDropped);
  CHECK(stats.TimeElapsed > 0, "TimeElapsed %lld > 0", (long long)stats.TimeElapsed);

  EXPECT_HR(esp->lpVtbl->Disconnect(esp), S_OK);
  if (!expect_state(esp, NETWORKSTATUS_STATE_VOID, NMERR_TO_HRESULT(NMERR_NOT_CONNECTED), 0, 0,
                    "disconnected"))
    goto done;
  CHECK(xdp_attached() == 0, "disconnected: no XDP program on %s", g_cap_if);

  struct stat st;
  CHECK(stat(file, &st) == 0 && S_ISREG(st.st_mode), "the file %s exists (%lld bytes)", file,
        (long long)st.st_size);
  long wrong_size = 0;
  long epbs = count_epbs(file, kFrameSize, &wrong_size);
  CHECK(epbs == kCapturedFrames, "the file is pcapng with %ld Enhanced Packet Blocks (want %d)",
        epbs, kCapturedFrames);
  CHECK(wrong_size == 0, "every EPB holds a %d-byte frame (%ld do not)", kFrameSize, wrong_size);
  int events = atomic_load(&g_events), bad = atomic_load(&g_bad_events);
  CHECK(events >= 1 && bad == 0,
        "status callback: %d events with the Connect context, NULL lpFinalStats on "
        "notifications (%d wrong)",
        events, bad);

  /* The same provider, now through IRTC. */
  rtc_sequence(esp, blob, gen_binary);

done:
  if (esp) {
    ULONG left = esp->lpVtbl->Release(esp);
    CHECK(left == 0, "Release -> %u", left);
  }
  if (blob) api->DestroyBlob(blob);
  printf("%s: %s\n", g_failed ? "FAIL" : "PASS", name);
  return g_failed ? XESP_HOST_FAIL : XESP_HOST_PASS;
}
