// The provider's kernel objects: finding the NIC and its queues, the packet memory and
// sockets, the program and its link, promiscuous mode; and the checks of the output that come
// before any of them.
#include "npp/provider.hpp"

#include <net/if.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

#include "npp/provider_parts.hpp"
#include "output/compression.hpp"
#include "output/output_directory.hpp"
#include "xdp/privileges.hpp"

namespace xesp::npp {
namespace {

// The nearest NMERR for an OS failure; the sentence keeps the real reason.
nmerr nmerr_from_errno(int err) {
  switch (err) {
    case ENOMEM: return nmerr::out_of_memory;
    case EBUSY:
    case EEXIST: return nmerr::agent_in_use;
    default: return nmerr::invalid_parameter;
  }
}

}  // namespace

std::error_code code_of(const Error& e) {
  if (e.code.category() == nmerr_category()) return e.code;
  return make_error_code(nmerr_from_errno(e.code.value()));
}

std::string os_description() {
  utsname u{};
  if (::uname(&u) != 0) return "Linux";
  return std::string(u.sysname) + " " + u.release + " " + u.machine;
}

namespace {

bool writable_directory(const std::string& dir, std::string* why) {
  struct stat st{};
  if (::stat(dir.c_str(), &st) != 0) {
    *why = std::strerror(errno);
    return false;
  }
  if (!S_ISDIR(st.st_mode)) {
    *why = "not a directory";
    return false;
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    *why = std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace

// Every problem of a parse in one line: "NPP:Config:SnapLength: ...; unknown owner 'X'".
std::string describe_problems(const ConfigParse& parsed) {
  std::string msg;
  auto add = [&](const std::string& part) { msg += (msg.empty() ? "" : "; ") + part; };
  for (const auto& e : parsed.foreign) add("unknown owner '" + e.owner + "'");
  for (const auto& p : parsed.problems) add("NPP:" + p.category + ":" + p.tag + ": " + p.reason);
  return msg;
}

// Checks that Start will be able to create its file, before anything touches the NIC: the
// directory exists, is ours to write and safe (not writable by others without the sticky bit),
// and a fixed file name that exists is refused unless Overwrite (a strftime pattern or a
// rotating name is only known at Start).
std::optional<ConfigProblem> check_output(const CaptureConfig& c) {
  std::string why;
  if (!c.capture_file.empty()) {
    if (c.capture_file == "-") return std::nullopt;
    auto [dir, name] = output::split_path(c.capture_file);
    struct stat st{};
    if (::stat(c.capture_file.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
      return ConfigProblem{"Config", "CaptureFile", nmerr::invalid_parameter,
                           "output file '" + c.capture_file + "' is a directory"};
    if (!writable_directory(dir, &why))
      return ConfigProblem{"Config", "CaptureFile", nmerr::invalid_parameter,
                           "output file '" + c.capture_file + "' is not writable: directory '" +
                               dir + "': " + why};
    if (auto d = output::OutputDirectory::open(dir); !d)
      return ConfigProblem{"Config", "CaptureFile", nmerr::invalid_parameter, d.error().message};
    const bool fixed_name = !c.rotation.rotating() && name.find('%') == std::string::npos;
    if (fixed_name && ::lstat(c.capture_file.c_str(), &st) == 0) {
      if (S_ISLNK(st.st_mode))
        return ConfigProblem{"Config", "CaptureFile", nmerr::invalid_parameter,
                             "output file '" + c.capture_file +
                                 "' is a symbolic link: refused, a capture is never written "
                                 "through one (name the target itself)"};
      if (S_ISREG(st.st_mode) && !c.file_safety.overwrite)
        return ConfigProblem{"Config", "CaptureFile", nmerr::invalid_parameter,
                             "output file '" + c.capture_file +
                                 "' exists: refused (choose a new name, or --overwrite / "
                                 "NPP:Config:Overwrite=yes)"};
    }
    return std::nullopt;
  }
  std::string dir = c.capture_directory;
  if (dir.empty()) {
    const char* env = std::getenv("XESP_CAPTURE_DIR");
    if (!env || !*env)
      return ConfigProblem{"Config", "CaptureDirectory", nmerr::no_default_capture_directory,
                           "no NPP:Config:CaptureDirectory, no NPP:Config:CaptureFile and "
                           "XESP_CAPTURE_DIR is not set: nowhere to write captures"};
    dir = env;
  }
  if (!writable_directory(dir, &why))
    return ConfigProblem{"Config", "CaptureDirectory", nmerr::invalid_parameter,
                         "capture directory '" + dir + "' is not usable: " + why};
  if (auto d = output::OutputDirectory::open(dir); !d)
    return ConfigProblem{"Config", "CaptureDirectory", nmerr::invalid_parameter, d.error().message};
  return std::nullopt;
}


Status Provider::build_connection(const CaptureConfig& config) {
  auto conn = std::make_unique<Connection>();
  auto nic = xdp::NicInfo::query(config.interface);
  if (!nic) return std::move(nic).error();
  conn->nic = std::move(nic).value();
  const xdp::NicInfo& n = conn->nic;
  if (!n.up)
    return Error::nm(nmerr::invalid_parameter,
                     "interface '" + n.name + "' is down (bring it up: ip link set " + n.name + " up)");

  if (config.queues) {
    for (uint32_t q : *config.queues) {
      if (q >= n.rx_queues)
        return Error::nm(nmerr::invalid_parameter,
                         "queue " + std::to_string(q) + ": interface '" + n.name + "' has " +
                             std::to_string(n.rx_queues) + " RX queue" +
                             (n.rx_queues == 1 ? " (0)" : "s (0-" + std::to_string(n.rx_queues - 1) + ")"));
    }
    conn->queues = *config.queues;
  } else {
    for (uint32_t q = 0; q < n.rx_queues; ++q) conn->queues.push_back(q);
  }

  // The packet memory is populated at once and locked: never more than half the machine (as
  // root the memlock limit does not stop it, the OOM killer would).
  const uint64_t umem_total = config.umem_bytes_per_queue() * conn->queues.size();
  struct sysinfo si {};
  if (::sysinfo(&si) == 0) {
    const uint64_t ram = uint64_t{si.totalram} * si.mem_unit;
    if (umem_total > ram / 2)
      return Error::nm(nmerr::out_of_memory,
                       "frame count " + std::to_string(config.effective_frame_count()) + ": " +
                           std::to_string(conn->queues.size()) + " queue(s) of " +
                           std::to_string(config.umem_bytes_per_queue() >> 20) +
                           " MiB of packet memory is more than half of this machine's " +
                           std::to_string(ram >> 20) + " MiB");
  }
  auto privileges = xdp::check_capture_privileges(umem_total);
  if (!privileges.ok()) return Error::nm(nmerr::invalid_parameter, privileges.describe());

  auto program = xdp::XdpProgram::load(n.rx_queues);
  if (!program) return std::move(program).error();
  conn->program.emplace(std::move(program).value());

  xdp::UmemConfig umem;
  umem.frame_size = config.frame_size;
  umem.frame_count = config.effective_frame_count();
  umem.fill_size = config.fill_ring_size;
  umem.comp_size = 64;  // receive-only: the completion ring is never used
  umem.hugepages = config.huge_pages;
  for (uint32_t q : conn->queues) {
    auto rx = capture::CaptureQueue::open(n.name, q, umem, config.rx_ring_size, config.bind_mode);
    if (!rx) return std::move(rx).error();
    if (auto st = conn->program->set_socket(q, rx->socket().fd()); !st) return std::move(st).error();
    conn->rx.push_back(std::move(rx).value());
  }

  if (config.promiscuous) {
    auto promisc = xdp::PromiscMembership::join(n.ifindex, n.name);
    if (!promisc) return std::move(promisc).error();
    conn->promisc = std::move(promisc).value();
  }

  // Last: from here the program sees every frame (and passes them until Start).
  auto link = xdp::XdpLink::attach(conn->program->prog_fd(), n, config.xdp_mode);
  if (!link) return std::move(link).error();
  conn->link.emplace(std::move(link).value());
  connection_ = std::move(conn);
  return {};
}
Result<std::string> Provider::next_file_path() {
  if (!config_.capture_file.empty()) return config_.capture_file;
  std::string dir = config_.capture_directory;
  if (dir.empty()) {
    const char* env = std::getenv("XESP_CAPTURE_DIR");
    dir = env ? env : "";
  }
  if (dir.empty())
    return Error::nm(nmerr::no_default_capture_directory, "no capture directory configured");
  time_t now = ::time(nullptr);
  tm local{};
  ::localtime_r(&now, &local);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &local);
  // The sequence keeps two Starts within one second apart; an existing file is never reused.
  for (;;) {
    std::string path = dir + "/xesp-" + connection_->nic.name + "-" + stamp + "-" +
                       std::to_string(++file_sequence_) + ".pcapng" +
                       std::string(output::compression_extension(compression_for(config_)));
    if (::access(path.c_str(), F_OK) != 0) return path;
  }
}
}  // namespace xesp::npp
