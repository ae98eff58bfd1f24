// Running the tools people open capture files with (capinfos, tshark) from unit tests, which
// link no test-support library: header-only.
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <array>
#include <optional>
#include <sstream>
#include <string>

namespace xesp::test {

// Where `name` is on PATH, if anywhere.
inline std::optional<std::string> find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return std::nullopt;
  std::stringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

struct CommandOutput {
  int status = -1;
  std::string out;
};

// Runs a shell command (our arguments are temp paths without quotes or spaces) and returns its
// stdout and exit status.
inline CommandOutput run_command(const std::string& cmd) {
  CommandOutput r;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 65536> buf;
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) r.out.append(buf.data(), n);
  r.status = ::pclose(pipe);
  return r;
}

}  // namespace xesp::test
