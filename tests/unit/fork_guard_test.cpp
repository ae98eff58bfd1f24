// The fork guard without privileges: registered fds are swapped for placeholders in a child and
// nowhere else, registered mappings reach no child (and their range is reserved there), a
// ForkFence holds off fork() in other threads, and the registry refuses past its capacity.
#include "base/fork_guard.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace xesp {
namespace {

using namespace std::chrono_literals;

// Runs `body` in a child made by fork(); its return value is the child's exit status (0: all
// good, else which check failed). Nothing gtest runs in the child.
int in_child(const std::function<int()>& body) {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(body());
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string fd_target(int fd) {
  char buf[256] = {};
  const std::string link = "/proc/self/fd/" + std::to_string(fd);
  const ssize_t n = ::readlink(link.c_str(), buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// The perms of the mapping that holds addr in this process ("" when none does).
std::string perms_at(const void* addr) {
  std::ifstream in("/proc/self/maps");
  const auto a = reinterpret_cast<uintptr_t>(addr);
  std::string line;
  while (std::getline(in, line)) {
    uintptr_t begin = 0, end = 0;
    char perms[8] = {};
    if (std::sscanf(line.c_str(), "%lx-%lx %4s", &begin, &end, perms) == 3 && a >= begin && a < end)
      return perms;
  }
  return "";
}

struct Pipe {
  int fds[2] = {-1, -1};
  Pipe() { EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0); }
  ~Pipe() {
    for (int fd : fds)
      if (fd >= 0) ::close(fd);
  }
};

TEST(ForkGuard, RegisteredFdBecomesAPlaceholderInTheChildOnly) {
  Pipe p;
  const std::string pipe_target = fd_target(p.fds[0]);
  ASSERT_EQ(pipe_target.rfind("pipe:[", 0), 0u);
  auto guard = ForkGuard::fd(p.fds[0], "test pipe");
  ASSERT_TRUE(guard) << guard.error().message;
  EXPECT_EQ(fork_guarded_fds(), 1u);

  EXPECT_EQ(in_child([&] {
              if (fd_target(p.fds[0]) != "anon_inode:[eventfd]")
                return 1;                                        // number kept, object gone
              if (fd_target(p.fds[1]) != pipe_target) return 2;  // the unregistered end stays
              if (fork_guarded_fds() != 0) return 3;             // the child owns nothing
              return 0;
            }),
            0);
  EXPECT_EQ(fd_target(p.fds[0]), pipe_target) << "the parent keeps its fd";
  EXPECT_EQ(fork_guarded_fds(), 1u);
}

TEST(ForkGuard, ChildHoldsNoReferenceToTheObject) {
  // Once the parent closes its read end, the pipe has no reader anywhere: the child's copy of
  // that number is a placeholder. A write then fails with EPIPE.
  Pipe p;
  auto guard = ForkGuard::fd(p.fds[0], "test pipe");
  ASSERT_TRUE(guard);
  Pipe ready;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(ready.fds[0]);
    ::close(ready.fds[1]);  // "forked": the parent sees EOF
    ::pause();
    ::_exit(0);
  }
  ASSERT_GT(pid, 0);
  ::close(ready.fds[1]);
  ready.fds[1] = -1;
  char c;
  ASSERT_EQ(::read(ready.fds[0], &c, 1), 0);
  guard->reset();
  ::close(p.fds[0]);
  p.fds[0] = -1;
  ::signal(SIGPIPE, SIG_IGN);
  errno = 0;
  EXPECT_EQ(::write(p.fds[1], "x", 1), -1);
  EXPECT_EQ(errno, EPIPE) << "the child still holds the read end";
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

TEST(ForkGuard, UnregisteredFdIsInheritedAsBefore) {
  Pipe p;
  const std::string target = fd_target(p.fds[0]);
  {
    auto guard = ForkGuard::fd(p.fds[0], "test pipe");
    ASSERT_TRUE(guard);
    ForkGuard moved = std::move(guard).value();  // moving keeps one registration
    EXPECT_EQ(fork_guarded_fds(), 1u);
  }
  EXPECT_EQ(fork_guarded_fds(), 0u);
  EXPECT_EQ(in_child([&] { return fd_target(p.fds[0]) == target ? 0 : 1; }), 0);
}

TEST(ForkGuard, MappingReachesNoChildAndItsRangeIsReserved) {
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t length = 4 * page;
  for (int flags : {MAP_PRIVATE, MAP_SHARED}) {
    void* area = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(area, MAP_FAILED);
    std::memset(area, 0x5a, length);
    {
      auto guard = ForkGuard::mapping(area, length, "test area");
      ASSERT_TRUE(guard) << guard.error().message;
      EXPECT_EQ(fork_guarded_mappings(), 1u);
      EXPECT_EQ(in_child([&] {
                  // Reading would fault: the range holds an inaccessible reservation, no data.
                  if (perms_at(area) != "---p") return 1;
                  if (perms_at(static_cast<char*>(area) + length - 1) != "---p") return 2;
                  if (fork_guarded_mappings() != 0) return 3;
                  // A stale owner's munmap in the child removes only the reservation.
                  if (::munmap(area, length) != 0) return 4;
                  return 0;
                }),
                0)
          << (flags == MAP_SHARED ? "MAP_SHARED" : "MAP_PRIVATE");
      EXPECT_EQ(static_cast<unsigned char*>(area)[length - 1], 0x5a) << "the parent's data stays";
    }
    EXPECT_EQ(fork_guarded_mappings(), 0u);
    // Unregistered: a later child still gets no copy (the advice stays with the mapping until
    // it is unmapped, which the owner does right after unregistering) and no reservation.
    EXPECT_EQ(in_child([&] { return perms_at(area).empty() ? 0 : 1; }), 0);
    ::munmap(area, length);
  }
}

TEST(ForkGuard, MisalignedMappingIsRefused) {
  alignas(64) static char buffer[64];
  auto guard = ForkGuard::mapping(buffer + 1, 10, "odd range");
  ASSERT_FALSE(guard);
  EXPECT_EQ(guard.error().code, std::error_code(EINVAL, std::system_category()));
}

TEST(ForkGuard, FenceHoldsOffForkInOtherThreads) {
  std::atomic<bool> fenced{false};
  std::thread holder([&] {
    ForkFence fence;
    fenced = true;
    std::this_thread::sleep_for(300ms);
  });
  while (!fenced) std::this_thread::sleep_for(1ms);
  const auto before = std::chrono::steady_clock::now();
  EXPECT_EQ(in_child([] { return 0; }), 0);
  const auto waited = std::chrono::steady_clock::now() - before;
  holder.join();
  EXPECT_GE(waited, 200ms) << "fork() did not wait for the fence";
}

TEST(ForkGuard, ForkFromInsideAFenceDoesNotWaitForItself) {
  ForkFence outer;
  ForkFence nested;
  const auto before = std::chrono::steady_clock::now();
  EXPECT_EQ(in_child([] {
              ForkFence in_child_fence;  // the child's fence state starts clean
              return 0;
            }),
            0);
  EXPECT_LT(std::chrono::steady_clock::now() - before, 5s);
}

TEST(ForkGuard, GuardedFdUnregistersThenCloses) {
  Pipe p;
  auto guarded = ForkGuardedFd::adopt(UniqueFd(p.fds[0]), "test pipe");
  p.fds[0] = -1;
  ASSERT_TRUE(guarded);
  const int fd = guarded->get();
  EXPECT_EQ(fork_guarded_fds(), 1u);
  ForkGuardedFd moved = std::move(guarded).value();
  EXPECT_EQ(moved.get(), fd);
  moved.reset();
  EXPECT_FALSE(moved);
  EXPECT_EQ(fork_guarded_fds(), 0u);
  EXPECT_TRUE(fd_target(fd).empty()) << "closed";
}

TEST(ForkGuard, FullRegistryIsAnErrorNotASilentLeak) {
  std::vector<ForkGuard> guards;
  for (;;) {
    auto g = ForkGuard::fd(0, "stdin");
    if (!g) {
      EXPECT_EQ(g.error().code, std::error_code(EMFILE, std::system_category()));
      EXPECT_NE(g.error().message.find("stdin"), std::string::npos) << g.error().message;
      break;
    }
    guards.push_back(std::move(g).value());
    ASSERT_LE(guards.size(), 1u << 20) << "no capacity limit";
  }
  EXPECT_EQ(fork_guarded_fds(), guards.size());
  guards.clear();
  EXPECT_EQ(fork_guarded_fds(), 0u);
}

}  // namespace
}  // namespace xesp
