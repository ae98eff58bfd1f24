// What the CLI prints: one-line errors ("xesp: <input>: <reason>") and the capture summary.
#pragma once

#include <string>

#include "xesp/esp.hpp"

namespace xesp::cli {

inline constexpr int kExitRuntime = 1;
inline constexpr int kExitUsage = 2;

int fail_usage(const std::string& message);
int fail_runtime(const std::string& message);

// Human summary on stderr; with json, the same as one JSON object (on stdout, or on stderr
// when stdout carries the capture).
void print_summary(const ConnectionInfo& info, const std::string& path, const Statistics& stats,
                   bool json, bool stdout_is_capture);

}  // namespace xesp::cli
