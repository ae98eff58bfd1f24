// A child process for tests: argv run directly (no shell), stdout and stderr captured to files
// so a chatty child never blocks on a full pipe. Killed (SIGKILL) if still running at
// destruction, so a failing test leaves no process behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace xesp::test {

struct ProcessResult {
  int exit_code = -1;   // exit status, or -1 if killed by a signal
  int signal = 0;       // the signal that ended it, if any
  std::string out;
  std::string err;
};

class Subprocess {
 public:
  explicit Subprocess(std::vector<std::string> argv, std::string stdout_path = {});
  // Standard output is `stdout_fd` (a pipe end, a file opened O_APPEND, ...), dup'ed onto the
  // child's; the caller keeps its own descriptor and closes it. ProcessResult::out stays empty.
  Subprocess(std::vector<std::string> argv, int stdout_fd);
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  ~Subprocess();

  pid_t pid() const { return pid_; }
  bool running();
  void signal(int sig);
  // Waits up to `timeout`; on expiry kills the child (SIGKILL) and reports it.
  ProcessResult wait(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // What the child wrote to stderr so far.
  std::string stderr_so_far() const;

 private:
  void spawn(std::vector<std::string> argv, int stdout_fd);

  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  std::string out_path_;
  std::string err_path_;
  bool own_out_ = true;
};

// Runs argv to completion.
ProcessResult run(std::vector<std::string> argv,
                  std::chrono::milliseconds timeout = std::chrono::seconds(60));

std::string read_file(const std::string& path);

}  // namespace xesp::test
