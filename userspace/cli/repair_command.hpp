#pragma once

#include <string>

namespace xesp::cli {

struct RepairOptions {
  std::string file;
  std::string output;    // -o: write the repaired copy here and leave `file` as it is
  bool dry_run = false;  // -n: report only
};

// `xesp repair FILE`: cuts a pcapng file after its last whole block (scan_pcapng), in place or
// into a copy, and says how many frames it kept. A whole file is left untouched.
int run_repair(const RepairOptions& options);

}  // namespace xesp::cli
