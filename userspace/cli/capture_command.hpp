#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace xesp::cli {

struct CaptureOptions {
  std::string interface;
  std::string output;
  std::optional<uint32_t> snaplen;
  std::optional<uint64_t> count;
  std::optional<std::string> duration;
  std::string queues;
  std::string xdp_mode;
  std::string bind_mode;
  std::optional<uint32_t> frame_size;
  std::optional<uint32_t> frame_count;
  std::optional<uint32_t> ring_size;
  std::optional<uint32_t> fill_ring_size;
  std::optional<uint32_t> batch_size;
  std::string busy_poll;
  std::string huge_pages;
  std::string timestamps;
  std::string file_io;
  std::string cpus;
  std::string stop_after_bytes;
  std::string stop_after_file_size;
  std::string blob_file;
  // Files: rotation, ring, creation, disk guard, privilege drop.
  std::string rotate_bytes;   // -C
  std::optional<uint32_t> rotate_seconds;  // -G
  std::optional<uint32_t> rotate_files;    // -W
  std::string file_mode;
  std::string group;
  bool overwrite = false;
  std::string min_free;
  std::string compress;       // --compress
  std::string user;           // -Z
  bool no_promisc = false;
  bool json = false;
  int verbosity = 0;
};

int run_capture(const CaptureOptions& options);

}  // namespace xesp::cli
