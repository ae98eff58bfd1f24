// The `xesp` command.
#include <CLI/CLI.hpp>

#include "cli/capture_command.hpp"
#include "cli/interfaces_command.hpp"
#include "cli/output.hpp"
#include "cli/repair_command.hpp"

int main(int argc, char** argv) {
  using xesp::cli::CaptureOptions;
  CLI::App app{"xesp: kernel-bypass packet capture (XDP + AF_XDP) into pcapng"};
  app.set_version_flag("--version", std::string("xesp 0.1.0"));
  app.require_subcommand(1);

  CaptureOptions o;
  auto* capture = app.add_subcommand(
      "capture",
      "Capture the frames a NIC receives into a pcapng file (XDP sees received frames only).");
  capture->add_option("-i,--interface", o.interface, "NIC to capture on")->required();
  capture->add_option("-w,--write", o.output,
                      "pcapng file to write, or - for standard output; strftime conversions "
                      "(%Y%m%d-%H%M%S) are expanded with each file's start time")
      ->required();
  capture->add_option("-s,--snaplen", o.snaplen, "bytes kept per frame, 1..262144 (default 262144)");
  capture->add_option("-c,--count", o.count, "stop after exactly COUNT frames in the file");
  capture->add_option("--duration", o.duration, "stop after SECONDS (decimals allowed)");
  capture->add_option("--queues", o.queues, "RX queues to capture, e.g. 0-3,6 (default: all)");
  capture->add_option("--xdp-mode", o.xdp_mode, "auto (native, else generic), native or generic");
  capture->add_option("--bind-mode", o.bind_mode, "auto (zero-copy, else copy), zero-copy or copy");
  capture->add_option("--frame-size", o.frame_size, "UMEM chunk bytes, 2048 or 4096 (default 4096)");
  capture->add_option("--frame-count", o.frame_count, "UMEM chunks per queue (default: fill + RX ring)");
  capture->add_option("--ring-size", o.ring_size, "RX ring entries, power of two (default 8192)");
  capture->add_option("--fill-ring-size", o.fill_ring_size, "fill ring entries, power of two (default 8192)");
  capture->add_option("--batch-size", o.batch_size, "frames per poll, power of two (default 256)");
  capture->add_option("--busy-poll", o.busy_poll,
                      "pollers spin USEC on an empty ring before sleeping; 0: sleep at once; auto "
                      "(the default): 200 when each poller can have a CPU of its own, else 0");
  capture->add_option("--huge-pages", o.huge_pages,
                      "UMEM on 2 MiB pages: auto (when reserved, the default), yes or no");
  capture->add_option("--timestamps", o.timestamps,
                      "kernel (the XDP program's receive time, the default) or poller (the time "
                      "a poller dequeued the frame: no per-frame header, more frames/s)");
  capture->add_option("--file-io", o.file_io,
                      "how the file is written: write (writev), map (the pollers copy into a "
                      "mapping of the file in parallel) or auto (the default: map on tmpfs when "
                      "several pollers each have a CPU of their own, else write)");
  capture->add_option("--cpus", o.cpus, "pin the queue pollers to these CPUs, e.g. 1-3");
  capture->add_option("--stop-after-bytes", o.stop_after_bytes, "stop after N wire bytes (k, M, G suffixes)");
  capture->add_option("--stop-after-file-size", o.stop_after_file_size,
                      "stop before the file exceeds N bytes (k, M, G suffixes)");
  capture->add_option("-C,--file-size", o.rotate_bytes,
                      "start a new file before the next block would make it pass SIZE bytes "
                      "(k, M, G suffixes: powers of 1024; at least 64k)");
  capture->add_option("-G,--rotate-seconds", o.rotate_seconds,
                      "start a new file every SECONDS, on the local clock (-G 3600: on the hour)");
  capture->add_option("-W,--files", o.rotate_files,
                      "with -C or -G: keep the newest N files, delete older ones (a ring buffer)");
  capture->add_option("--file-mode", o.file_mode,
                      "permissions of new files, octal (default 0600; 0640 with --group)");
  capture->add_option("--group", o.group, "give new files this group (a name or number)");
  capture->add_flag("--overwrite", o.overwrite,
                    "replace an existing file of the same name (never a symbolic link)");
  capture->add_option("--compress", o.compress,
                      "zstd, lz4, gzip or none: compress while capturing, each queue on its own "
                      "poller (default: by the file name, -w cap.pcapng.zst / .lz4 / .gz); "
                      "Wireshark and tshark read these files as they are");
  capture->add_option("--min-free", o.min_free,
                      "keep SIZE bytes free on the file system: delete the ring's oldest files, "
                      "or stop (k, M, G suffixes)");
  capture->add_option("-Z,--user", o.user,
                      "after attaching, drop to USER with no capability left; files are then "
                      "created by USER, so its directory must be writable by it");
  capture->add_option("--blob", o.blob_file,
                      "read NPP:Category:Tag=Value settings from FILE (options given here win)");
  capture->add_flag("--no-promisc", o.no_promisc, "leave promiscuous mode off");
  capture->add_flag("--json", o.json, "print the summary as JSON");
  capture->add_flag("-v,--verbose", o.verbosity, "more output; -vv shows libbpf's messages");

  bool json = false;
  auto* interfaces = app.add_subcommand(
      "interfaces", "List NICs with their RX queues, driver and the XDP modes that work");
  interfaces->add_flag("--json", json, "print the list as JSON");

  xesp::cli::RepairOptions repair_options;
  auto* repair = app.add_subcommand(
      "repair",
      "Cut a pcapng file after its last whole block, so that a capture that was killed (and left "
      "a torn block or the zeros of its growth at the end) opens again; says how many frames it "
      "kept. A whole file is left untouched.");
  repair->add_option("FILE", repair_options.file, "pcapng file; nothing may write to it")
      ->required();
  repair->add_flag("-n,--dry-run", repair_options.dry_run, "only say what would be cut");
  repair->add_option("-o,--output", repair_options.output,
                     "write the repaired file to OUT and leave FILE as it is");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    return xesp::cli::fail_usage(e.what());
  }
  if (*capture) return xesp::cli::run_capture(o);
  if (*interfaces) return xesp::cli::run_interfaces(json);
  if (*repair) return xesp::cli::run_repair(repair_options);
  return 0;
}
