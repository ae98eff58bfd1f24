#include "support/subprocess.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace xesp::test {
namespace {

std::string temp_path(const char* what) {
  static std::atomic<int> counter{0};
  return "/tmp/xesp-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "." + what;
}

}  // namespace

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Subprocess::Subprocess(std::vector<std::string> argv, std::string stdout_path)
    : out_path_(stdout_path.empty() ? temp_path("out") : std::move(stdout_path)),
      err_path_(temp_path("err")),
      own_out_(stdout_path.empty()) {
  spawn(std::move(argv), -1);
}

Subprocess::Subprocess(std::vector<std::string> argv, int stdout_fd)
    : err_path_(temp_path("err")), own_out_(false) {
  spawn(std::move(argv), stdout_fd);
}

void Subprocess::spawn(std::vector<std::string> argv, int stdout_fd) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ == 0) {
    int out =
        stdout_fd >= 0 ? stdout_fd : ::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int in = ::open("/dev/null", O_RDONLY);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    // A test runner may have blocked or ignored signals; the child starts clean.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    ::signal(SIGQUIT, SIG_DFL);
    ::signal(SIGHUP, SIG_DFL);  // nohup's runner would hand on SIG_IGN
    ::signal(SIGPIPE, SIG_DFL);
    ::execvp(args[0], args.data());
    ::dprintf(2, "exec %s failed\n", args[0]);
    ::_exit(127);
  }
}

Subprocess::~Subprocess() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status_, 0);
  }
  if (own_out_) ::unlink(out_path_.c_str());
  ::unlink(err_path_.c_str());
}

bool Subprocess::running() {
  if (reaped_) return false;
  pid_t r = ::waitpid(pid_, &status_, WNOHANG);
  if (r == pid_) reaped_ = true;
  return !reaped_;
}

void Subprocess::signal(int sig) {
  if (!reaped_) ::kill(pid_, sig);
}

std::string Subprocess::stderr_so_far() const { return read_file(err_path_); }

ProcessResult Subprocess::wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ProcessResult r;
  if (!reaped_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status_, 0);
    reaped_ = true;
    r.err = "[test: killed after timeout]\n";
  }
  if (WIFEXITED(status_)) r.exit_code = WEXITSTATUS(status_);
  if (WIFSIGNALED(status_)) r.signal = WTERMSIG(status_);
  if (own_out_) r.out = read_file(out_path_);
  r.err += read_file(err_path_);
  return r;
}

ProcessResult run(std::vector<std::string> argv, std::chrono::milliseconds timeout) {
  Subprocess p(std::move(argv));
  return p.wait(timeout);
}

}  // namespace xesp::test
