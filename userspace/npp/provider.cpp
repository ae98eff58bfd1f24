#include "npp/provider.hpp"

#include <net/if.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <boost/asio/post.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "capture/callback_sink.hpp"
#include "output/compressing_transform.hpp"
#include "base/clock.hpp"
#include "xdp/privileges.hpp"

namespace xesp::npp {
namespace {

constexpr const char* kVersion = "0.1.0";
// Per-queue pcapng arena: small frames go out in writes of half of it. Short enough that the
// rings absorb the frames arriving during one write (4 MiB writes to tmpfs stalled a poller
// ~1.5 ms, long enough to overflow 4096-entry rings at 3 Mpps).
constexpr size_t kSinkBufferBytes = 1u << 20;
// Stop waits at most this long for frames the program redirected to reach the rings.
constexpr auto kDrainTimeout = std::chrono::seconds(2);

uint32_t trigger_value(const std::string& name) {
  static const char* const kNames[] = {"StopAfterFrames",  "StopAfterBytes",   "StopAfterSeconds",
                                       "StopAfterFileSize", "PauseAfterFrames", "PauseAfterBytes"};
  for (uint32_t i = 0; i < 6; ++i)
    if (name == kNames[i]) return i + 1;
  return 0;
}

// The nearest NMERR for an OS failure; the sentence keeps the real reason.
nmerr nmerr_from_errno(int err) {
  switch (err) {
    case ENOMEM: return nmerr::out_of_memory;
    case EBUSY:
    case EEXIST: return nmerr::agent_in_use;
    default: return nmerr::invalid_parameter;
  }
}

std::error_code code_of(const Error& e) {
  if (e.code.category() == nmerr_category()) return e.code;
  return make_error_code(nmerr_from_errno(e.code.value()));
}

std::string os_description() {
  utsname u{};
  if (::uname(&u) != 0) return "Linux";
  return std::string(u.sysname) + " " + u.release + " " + u.machine;
}

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

}  // namespace

// Kernel objects of one connection, declared in creation order: destroyed in reverse, so the
// program is detached first and the UMEMs are freed last but for the program itself.
struct Provider::Connection {
  xdp::NicInfo nic;
  std::vector<uint32_t> queues;  // NIC queue numbers captured, ascending
  std::optional<xdp::XdpProgram> program;
  std::vector<capture::CaptureQueue> rx;
  xdp::PromiscMembership promisc;
  std::optional<xdp::XdpLink> link;
};

struct Provider::Capture {
  uint64_t generation = 0;  // Provider::generation_ at its Start
  std::string path;
  std::string file_io;  // "write" or "map" (PcapngWriter::mapped); empty without a file
  std::unique_ptr<capture::PcapngSink> file_sink;
  std::unique_ptr<capture::CallbackSink> callback_sink;
  std::vector<std::unique_ptr<capture::QueuePoller>> pollers;
  std::vector<stats::QueueSample> start_samples;
  xdp::QueueCounters overflow_start{};  // the program's slot for queues beyond the NIC's count
  NicCounters nic_start;
  uint64_t start_realtime_ns = 0;
  uint64_t start_monotonic_ns = 0;
  bool pause_trigger_armed = false;
  std::string error;  // a write error that stopped the capture

  capture::FrameSink& sink() {
    return file_sink ? static_cast<capture::FrameSink&>(*file_sink) : *callback_sink;
  }
  uint64_t frames_kept() const {
    return file_sink ? file_sink->gate().frames() : callback_sink->gate().frames();
  }
  uint64_t bytes_kept() const {
    return file_sink ? file_sink->gate().bytes() : callback_sink->gate().bytes();
  }
};

namespace {

std::atomic<uint64_t> g_next_provider_id{1};

// The last failure of a call on a provider, per thread: a host's threads each see their own.
struct ThreadError {
  uint64_t provider = 0;
  std::string text;
};
thread_local ThreadError t_error;

// The provider whose callback this thread is running, if any (status, frames or marker).
thread_local const Provider* t_callback_owner = nullptr;
thread_local bool t_in_marker_callback = false;  // InsertSpecialFrame's callback runs here

// Marks the thread as running one of `owner`'s callbacks for its lifetime.
class CallbackScope {
 public:
  explicit CallbackScope(const Provider* owner) : saved_(t_callback_owner) {
    t_callback_owner = owner;
  }
  ~CallbackScope() { t_callback_owner = saved_; }
  CallbackScope(const CallbackScope&) = delete;
  CallbackScope& operator=(const CallbackScope&) = delete;

 private:
  const Provider* saved_;
};

}  // namespace

Provider::Provider()
    : id_(g_next_provider_id.fetch_add(1)),
      work_(boost::asio::make_work_guard(io_)),
      update_timer_(io_),
      duration_timer_(io_),
      rotation_timer_(io_),
      control_thread_([this] {
        ::pthread_setname_np(::pthread_self(), "xesp-control");
        io_.run();
      }),
      control_thread_id_(control_thread_.get_id()) {}

Provider::~Provider() {
  {
    std::unique_lock lock(mutex_);
    if (state_ == State::capturing || state_ == State::paused) do_stop(nullptr, nullptr);
    capture_.reset();
    connection_.reset();
    state_ = State::disconnected;
  }
  work_.reset();
  io_.stop();  // pending timer handlers are dropped unrun
  // Never destroyed on the control thread: Release from a callback is refused (C ABI) and an
  // Esp or Rtc dropped in one hands the provider to a thread of its own (esp.cpp).
  if (control_thread_.joinable()) control_thread_.join();
}

std::error_code Provider::fail(std::error_code code, std::string message) const {
  t_error.provider = id_;
  t_error.text = std::move(message);
  return code;
}

bool Provider::in_own_callback() const { return t_callback_owner == this; }

bool Provider::from_callback() const {
  return capture::on_poller_thread() || t_in_marker_callback;
}

std::error_code Provider::refuse_in_callback(const char* call) const {
  return fail(nmerr::invalid_parameter,
              std::string(call) + " is not allowed from a frames callback (only Pause, Resume, "
                                  "Stop, QueryStatus and GetControlState are)");
}

std::error_code Provider::precheck(Via via, const char* call) const {
  if (auto ec = check(via)) return fail(ec, std::string(call) + " refused");
  const State s = state_.load();
  const std::string c = call;
  if (c == "Pause") {
    if (s == State::paused) return fail(nmerr::capture_paused, "the capture is already paused");
    if (s != State::capturing) return fail(nmerr::not_capturing, "no capture is running");
  } else if (c == "Resume") {
    if (s != State::paused) return fail(nmerr::capture_not_paused, "the capture is not paused");
  } else if (s != State::capturing && s != State::paused) {
    return fail(nmerr::not_capturing, "no capture is running");
  }
  return {};
}

std::error_code Provider::check(Via via) const {
  if (state_ == State::disconnected) return nmerr::not_connected;
  if (via != via_) return via == Via::esp ? nmerr::not_esp : nmerr::not_realtime;
  return {};
}

Via Provider::connected_via() const {
  return state_ == State::disconnected ? Via::none : via_.load();
}

std::string Provider::last_error() const {
  return t_error.provider == id_ ? t_error.text : std::string();
}

ConnectionInfo Provider::connection_info() const {
  std::lock_guard lock(info_mutex_);
  return info_;
}

void Provider::refresh_connection_info() {
  ConnectionInfo conn;
  if (connection_) {
    const Connection& c = *connection_;
    conn.interface = c.nic.name;
    conn.driver = c.nic.driver;
    conn.nic_queues = c.nic.rx_queues;
    conn.queues = c.queues;
    conn.xdp_mode = c.link ? xdp::to_string(c.link->mode()) : "";
    conn.bind_mode = c.rx.empty() ? "" : xdp::to_string(c.rx.front().socket().mode());
    conn.prog_id = c.program ? c.program->prog_id() : 0;
    conn.umem_huge_pages = !c.rx.empty() && c.rx.front().umem().on_huge_pages();
  }
  std::lock_guard lock(info_mutex_);
  // The files stay: they describe the last capture until the next one starts.
  conn.file = std::move(info_.file);
  conn.files = std::move(info_.files);
  conn.files_opened = info_.files_opened;
  conn.file_io = std::move(info_.file_io);
  info_ = std::move(conn);
}

void Provider::set_info_files(const std::string& first, const std::string& file_io) {
  std::lock_guard lock(info_mutex_);
  info_.file = first;
  info_.files.clear();
  if (!first.empty()) info_.files.push_back(first);
  info_.files_opened = first.empty() ? 0 : 1;
  info_.file_io = file_io;
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

std::error_code Provider::connect(Via via, const Blob& blob, StatusCallback status_cb,
                                  FramesCallback frames_cb, void* user_context, Blob* error_blob) {
  if (from_callback()) return refuse_in_callback("Connect");
  std::lock_guard lock(mutex_);
  if (state_ != State::disconnected)
    return fail(nmerr::already_connected, "the provider is already connected");
  ConfigParse parsed = parse_config(blob, CaptureConfig{}, /*require_interface=*/true);
  if (auto ec = report_problems(parsed, error_blob)) return fail(ec, describe_problems(parsed));
  CaptureConfig config = *parsed.config;
  if (via == Via::esp) {
    if (auto problem = check_output(config)) {
      if (error_blob)
        error_blob->add_error("NPP", problem->category, problem->tag, make_error_code(problem->code),
                              problem->reason);
      return fail(problem->code, problem->reason);
    }
  }
  if (auto st = build_connection(config); !st) {
    if (error_blob && st.error().message.find("interface '") == 0)
      error_blob->add_error("NPP", "Config", "Interface", code_of(st.error()), st.error().message);
    if (error_blob && st.error().message.find("frame count ") == 0)
      error_blob->add_error("NPP", "Config", "FrameCount", code_of(st.error()), st.error().message);
    return fail(code_of(st.error()), st.error().message);
  }
  trigger_pending_ = config.triggers.any();
  config_ = std::move(config);
  via_ = via;
  status_cb_ = std::move(status_cb);
  frames_cb_ = std::move(frames_cb);
  user_context_ = user_context;
  {
    std::lock_guard fault_lock(fault_mutex_);
    fault_.clear();
  }
  set_info_files({}, {});
  refresh_connection_info();
  state_ = State::idle;
  return {};
}

std::error_code Provider::disconnect(Via via) {
  if (from_callback()) return refuse_in_callback("Disconnect");
  // The status callback runs on the control thread, inside a call the provider is making.
  if (in_own_callback())
    return fail(nmerr::invalid_parameter, "Disconnect is not allowed from a status callback");
  std::lock_guard lock(mutex_);
  if (auto ec = check(via)) return fail(ec, "Disconnect refused");
  if (state_ == State::capturing || state_ == State::paused)
    return fail(nmerr::capturing, "a capture is running: call Stop before Disconnect");
  capture_.reset();
  connection_.reset();  // detaches, closes the sockets, frees the UMEMs, in that order
  state_ = State::disconnected;
  via_ = Via::none;
  status_cb_ = nullptr;
  frames_cb_ = nullptr;
  {
    std::lock_guard fault_lock(fault_mutex_);
    fault_.clear();
  }
  refresh_connection_info();
  return {};
}

std::error_code Provider::configure(Via via, const Blob& blob, Blob* error_blob) {
  if (from_callback()) return refuse_in_callback("Configure");
  std::lock_guard lock(mutex_);
  if (auto ec = check(via)) return fail(ec, "Configure refused");
  if (state_ == State::capturing || state_ == State::paused)
    return fail(nmerr::capturing, "a capture is running: Stop it before Configure");
  ConfigParse parsed = parse_config(blob, config_, /*require_interface=*/false);
  if (parsed.config) {
    const CaptureConfig& c = *parsed.config;
    if (c.interface != config_.interface)
      parsed.problems.push_back({"Config", "Interface", nmerr::blob_conversion_error,
                                 "the interface cannot change while connected: Disconnect, then "
                                 "Connect with the new interface"});
    if (c.queues != config_.queues)
      parsed.problems.push_back({"Config", "Queues", nmerr::blob_conversion_error,
                                 "the captured queues cannot change while connected: Disconnect, "
                                 "then Connect with the new queue list"});
    if (via == Via::esp)
      if (auto problem = check_output(c)) parsed.problems.push_back(*problem);
    if (!parsed.problems.empty()) parsed.config.reset();
  }
  if (auto ec = report_problems(parsed, error_blob)) return fail(ec, describe_problems(parsed));
  CaptureConfig next = *parsed.config;
  const bool rebuild = next.xdp_mode != config_.xdp_mode || next.bind_mode != config_.bind_mode ||
                       next.frame_size != config_.frame_size ||
                       next.frame_count != config_.frame_count ||
                       next.rx_ring_size != config_.rx_ring_size ||
                       next.fill_ring_size != config_.fill_ring_size;
  if (rebuild) {
    // The sockets and UMEMs are sized at bind time: rebuild them. The old objects must go
    // first (a queue takes one socket, a NIC one link).
    capture_.reset();
    connection_.reset();
    if (auto st = build_connection(next); !st) {
      std::string why = st.error().message;
      if (auto back = build_connection(config_); !back) {
        state_ = State::disconnected;
        via_ = Via::none;
        refresh_connection_info();
        return fail(code_of(st.error()), why + "; restoring the previous configuration failed "
                                               "too, the provider is now disconnected: " +
                                               back.error().message);
      }
      refresh_connection_info();
      return fail(code_of(st.error()), why + " (the previous configuration stays in force)");
    }
    refresh_connection_info();
  } else if (next.promiscuous != config_.promiscuous) {
    if (next.promiscuous) {
      auto p = xdp::PromiscMembership::join(connection_->nic.ifindex, connection_->nic.name);
      if (!p) return fail(code_of(p.error()), p.error().message);
      connection_->promisc = std::move(p).value();
    } else {
      connection_->promisc.leave();
    }
  }
  trigger_pending_ = next.triggers.any();
  config_ = std::move(next);
  state_ = State::idle;
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

std::vector<stats::QueueSample> Provider::sample_queues() const {
  std::vector<stats::QueueSample> out;
  const Connection& c = *connection_;
  for (size_t i = 0; i < c.rx.size(); ++i) {
    stats::QueueSample s;
    if (auto counters = c.program->read_counters(c.queues[i])) s.program = *counters;
    if (auto st = c.rx[i].socket().statistics()) s.socket = *st;
    if (capture_ && i < capture_->pollers.size()) {
      const auto& pc = capture_->pollers[i]->counters();
      s.received = pc.frames.load(std::memory_order_relaxed);
      s.written = pc.kept.load(std::memory_order_relaxed);
      s.after_stop = pc.over_limit.load(std::memory_order_relaxed);
      s.no_metadata = pc.no_metadata.load(std::memory_order_relaxed);
      s.written_bytes = pc.kept_bytes.load(std::memory_order_relaxed);
      const auto q = static_cast<uint32_t>(i);
      if (capture_->file_sink) {
        s.unwritten = capture_->file_sink->unwritten(q);
        s.unwritten_bytes = capture_->file_sink->unwritten_bytes(q);
      } else if (capture_->callback_sink) {
        s.unwritten = capture_->callback_sink->undelivered(q);
        s.unwritten_bytes = capture_->callback_sink->undelivered_bytes(q);
      }
    }
    out.push_back(s);
  }
  return out;
}

Statistics Provider::snapshot(bool final) const {
  Statistics s;
  if (!capture_ || !connection_) return s;
  auto now = sample_queues();
  for (size_t i = 0; i < now.size(); ++i)
    s.queues.push_back(
        stats::account_queue(connection_->queues[i], now[i], capture_->start_samples[i], final));
  stats::sum_queues(s);
  // Frames on RX queues the NIC gained after Connect land in the program's last slot.
  if (auto o = connection_->program->read_counters(connection_->nic.rx_queues))
    s.frames_other_queues = xdp::counters_diff(*o, capture_->overflow_start).seen_frames;
  s.time_elapsed_us = (monotonic_ns() - capture_->start_monotonic_ns) / 1000;
  s.nic = stats::nic_delta(stats::read_nic_counters(connection_->nic.name), capture_->nic_start);
  return s;
}

void Provider::arm_sink_limits() {
  const Triggers& t = config_.triggers;
  capture::SinkLimits limits;
  auto min_opt = [](std::optional<uint64_t> a, std::optional<uint64_t> b) -> std::optional<uint64_t> {
    if (a && b) return std::min(*a, *b);
    return a ? a : b;
  };
  const bool pause = capture_->pause_trigger_armed;
  limits.max_frames = min_opt(t.stop_after_frames, pause ? t.pause_after_frames : std::nullopt);
  limits.max_bytes = min_opt(t.stop_after_bytes, pause ? t.pause_after_bytes : std::nullopt);
  limits.max_file_size = t.stop_after_file_size;
  if (capture_->file_sink) capture_->file_sink->set_limits(limits);
  else capture_->callback_sink->set_limits(limits);
}

std::error_code Provider::start(Via via, std::string* file_name) {
  if (from_callback()) return refuse_in_callback("Start");
  std::lock_guard lock(mutex_);
  if (via == Via::esp && !file_name)
    return fail(nmerr::invalid_parameter, "Start needs a buffer for the file name");
  if (auto ec = check(via)) return fail(ec, "Start refused");
  if (state_ == State::capturing) return fail(nmerr::capturing, "a capture is already running");
  if (state_ == State::paused) return fail(nmerr::capture_paused, "the capture is paused: Resume it");
  return do_start(file_name);
}

std::error_code Provider::do_start(std::string* file_name) {
  {
    std::lock_guard fault_lock(fault_mutex_);
    if (!fault_.empty()) return fail(nmerr::disconnected, fault_ + ": Disconnect, then Connect");
  }
  Connection& c = *connection_;
  auto cap = std::make_unique<Capture>();
  const uint64_t gen = generation_.fetch_add(1) + 1;
  cap->generation = gen;
  auto on_limit = [this, gen](capture::LimitKind kind) {
    boost::asio::post(io_, [this, gen, kind] { this->on_limit(gen, kind); });
  };
  auto on_error = [this, gen](const Error& e) {
    boost::asio::post(io_, [this, gen, e] { on_sink_error(gen, e); });
  };
  if (via_ == Via::esp) {
    auto path = next_file_path();
    if (!path) return fail(code_of(path.error()), path.error().message);
    SectionInfo section;
    section.os = os_description();
    section.user_appl = std::string("xesp ") + kVersion;
    std::vector<InterfaceInfo> interfaces;
    for (uint32_t q : c.queues) {
      InterfaceInfo info;
      info.name = c.nic.name + ":q" + std::to_string(q);
      info.description = "RX queue " + std::to_string(q) + " of " + c.nic.name + " (" +
                         (c.nic.driver.empty() ? "unknown driver" : c.nic.driver) + ", XDP " +
                         xdp::to_string(c.link->mode()) + ", AF_XDP " +
                         xdp::to_string(c.rx.front().socket().mode()) + ")";
      info.snap_len = config_.snap_length;
      interfaces.push_back(std::move(info));
    }
    output::OutputConfig oc;
    oc.path = *path;
    oc.rotation = config_.rotation;
    oc.safety = config_.file_safety;
    oc.io = file_io_for(config_, static_cast<uint32_t>(c.queues.size()));
    oc.min_free_bytes = config_.min_free_bytes;
    oc.section = section;
    oc.interfaces = std::move(interfaces);
    // Compressed: each file's own blocks through a compressor of its own, each queue's through
    // one on its poller (units of both append to the same file in any order).
    const output::Compression codec = compression_for(config_);
    std::vector<std::unique_ptr<ChunkTransform>> transforms;
    if (codec != output::Compression::none) {
      oc.make_transform = [codec] { return output::CompressingTransform::create(codec); };
      for (size_t i = 0; i < c.queues.size(); ++i) {
        auto t = output::CompressingTransform::create(codec);
        if (!t) return fail(code_of(t.error()), t.error().message);
        transforms.push_back(std::move(t).value());
      }
    }
    // Each file a rotation opens is reported on the control thread, like any status change.
    // Called under the output's lock (info_mutex_ is a leaf lock).
    auto on_file = [this](const std::string& file) {
      {
        std::lock_guard lock(info_mutex_);
        info_.file = file;
        info_.files.push_back(file);
        constexpr size_t kFilesKept = 10'000;  // a week of -G 60; the count goes on
        if (info_.files.size() > kFilesKept)
          info_.files.erase(info_.files.begin(), info_.files.begin() + (info_.files.size() - kFilesKept));
        ++info_.files_opened;
      }
      boost::asio::post(io_, [this, file] {
        UpdateEvent ev;
        ev.event = kEventNewFile;
        ev.action = kActionNotify;
        ev.status = status().state;
        ev.file = file;
        deliver(std::move(ev));
      });
    };
    set_info_files({}, {});
    auto out = output::CaptureOutput::open(std::move(oc), [this] { return queue_totals(); },
                                           std::move(on_file));
    if (!out) return fail(code_of(out.error()), out.error().message);
    cap->path = (*out)->first_path();
    cap->file_io = (*out)->mapped() ? "map" : "write";
    // A size limit per file wants chunks well below it, so files end close to the limit.
    size_t flush_bytes = kSinkBufferBytes / 2;
    if (config_.rotation.max_bytes)
      flush_bytes = static_cast<size_t>(std::clamp<uint64_t>(config_.rotation.max_bytes / 4,
                                                             64 * 1024, flush_bytes));
    cap->file_sink = std::make_unique<capture::PcapngSink>(
        std::move(out).value(), static_cast<uint32_t>(c.queues.size()), config_.snap_length,
        kSinkBufferBytes, flush_bytes, on_limit, on_error, std::move(transforms));
    {
      std::lock_guard lock(info_mutex_);
      info_.file_io = cap->file_io;
    }
  } else {
    // The host's callback runs marked as ours: destroying the provider there is deferred.
    auto frames = [this, cb = frames_cb_](std::span<const Frame> batch) {
      CallbackScope scope(this);
      cb(batch);
    };
    cap->callback_sink = std::make_unique<capture::CallbackSink>(
        std::move(frames), on_limit, static_cast<uint32_t>(c.queues.size()), on_error);
    set_info_files({}, {});
  }
  cap->pause_trigger_armed =
      config_.triggers.pause_after_frames.has_value() || config_.triggers.pause_after_bytes.has_value();
  capture_ = std::move(cap);
  arm_sink_limits();

  capture::PollerConfig pc;
  pc.batch_size = config_.batch_size;
  pc.spin_ns = static_cast<uint64_t>(busy_poll_for(config_, static_cast<uint32_t>(c.rx.size()))) * 1000;
  c.program->set_no_meta(config_.timestamps == Timestamps::poller);
  pc.no_meta = c.program->no_meta_flag();

  for (uint32_t i = 0; i < c.rx.size(); ++i) {
    pc.cpu = config_.poller_cpus.empty()
                 ? -1
                 : static_cast<int>(config_.poller_cpus[i % config_.poller_cpus.size()]);
    const uint32_t nic_queue = c.queues[i];
    pc.on_fault = [this, gen, nic_queue](int err) {
      boost::asio::post(io_, [this, gen, nic_queue, err] { on_queue_fault(gen, nic_queue, err); });
    };
    capture_->pollers.push_back(
        std::make_unique<capture::QueuePoller>(i, c.rx[i], capture_->sink(), pc));
  }
  capture_->start_samples = sample_queues();
  if (auto o = c.program->read_counters(c.nic.rx_queues)) capture_->overflow_start = *o;
  capture_->nic_start = stats::read_nic_counters(c.nic.name);
  capture_->start_realtime_ns = realtime_ns();
  capture_->start_monotonic_ns = monotonic_ns();
  for (auto& p : capture_->pollers) p->start();
  c.program->set_control(/*active=*/true, /*paused=*/false);
  state_ = State::capturing;
  if (file_name) *file_name = capture_->path;

  if (config_.triggers.stop_after_seconds) {
    duration_timer_.expires_after(std::chrono::microseconds(
        static_cast<int64_t>(*config_.triggers.stop_after_seconds * 1e6)));
    duration_timer_.async_wait([this, gen](const boost::system::error_code& ec) {
      if (ec) return;
      UpdateEvent ev;
      {
        std::lock_guard lock(mutex_);
        if (!current(gen)) return;
        Statistics st;
        do_stop(&st, nullptr);
        ev.event = kEventTriggerBufferContent;
        ev.action = kActionStopCapture;
        ev.trigger_name = "StopAfterSeconds";
        ev.frames_dropped = st.frames_dropped;
        ev.statistics = std::move(st);
        ev.status = kStateVoid;
      }
      deliver(std::move(ev));
    });
  }
  if (capture_->file_sink) schedule_rotation(capture_->file_sink->output().tick(realtime_ns()));
  schedule_update();
  return {};
}

void Provider::schedule_rotation(uint64_t deadline_ns) {
  if (deadline_ns == 0) return;
  // A little after the boundary: pollers flush what they buffered before it (an idle queue
  // within ~0.2 s), so it still goes into the file of its period. An earlier deadline (SIGHUP)
  // replaces a later one; tick() then tells the next.
  constexpr uint64_t kGraceNs = 250'000'000;
  rotation_timer_.expires_at(std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::nanoseconds(deadline_ns + kGraceNs))));
  rotation_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    std::lock_guard lock(mutex_);
    if ((state_ != State::capturing && state_ != State::paused) || !capture_ ||
        !capture_->file_sink)
      return;
    schedule_rotation(capture_->file_sink->output().tick(realtime_ns()));
  });
}

std::vector<output::QueueTotals> Provider::queue_totals() const {
  std::vector<output::QueueTotals> out;
  if (!capture_ || !connection_ || capture_->start_samples.empty()) return out;
  const auto now = sample_queues();
  for (size_t i = 0; i < now.size() && i < capture_->start_samples.size(); ++i) {
    const QueueStatistics q =
        stats::account_queue(connection_->queues[i], now[i], capture_->start_samples[i], false);
    out.push_back({q.frames_seen, q.dropped(), q.frames_redirected});
  }
  return out;
}

std::error_code Provider::rotate_file(Via via) {
  if (from_callback()) return refuse_in_callback("RotateFile");
  std::lock_guard lock(mutex_);
  if (auto ec = check(via)) return fail(ec, "RotateFile refused");
  if (state_ != State::capturing && state_ != State::paused)
    return fail(nmerr::not_capturing, "no capture is running");
  if (!capture_->file_sink || !capture_->file_sink->output().rotating())
    return fail(nmerr::invalid_parameter,
                "the capture writes one file: rotation needs RotateBytes or RotateSeconds");
  // Frames received before now go into the file being ended: it closes when the first later
  // frame arrives, or when the rotation timer fires shortly after (pollers have flushed by then).
  const uint64_t now = realtime_ns();
  if (capture_->file_sink->output().rotate(now)) schedule_rotation(now);
  return {};
}

void Provider::schedule_update() {
  if (config_.update_freq_ms == 0) return;
  update_timer_.expires_after(std::chrono::milliseconds(config_.update_freq_ms));
  update_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    UpdateEvent ev;
    {
      std::lock_guard lock(mutex_);
      if (state_ != State::capturing && state_ != State::paused) return;
      Statistics st = snapshot(false);
      ev.event = kEventNetworkStatus;
      ev.action = kActionNotify;
      ev.status = state_ == State::paused ? kStatePaused : kStateCapturing;
      ev.frames_dropped = st.frames_dropped;
      ev.statistics = std::move(st);
      schedule_update();
    }
    deliver(std::move(ev));
  });
}

void Provider::deliver(UpdateEvent event) {
  StatusCallback cb;
  {
    std::lock_guard lock(mutex_);
    cb = status_cb_;
    event.context = user_context_;
  }
  if (!cb) return;
  if (!event.trigger_name.empty()) event.value = trigger_value(event.trigger_name);
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  event.timestamp_us = static_cast<uint64_t>(ts.tv_sec) * 1'000'000ULL + ts.tv_nsec / 1000;
  std::lock_guard lock(callback_mutex_);
  CallbackScope scope(this);
  // A callback that throws must not end the control thread (and with it the process): the
  // event is lost to it, nothing else.
  try {
    cb(event);
  } catch (...) {
  }
}

bool Provider::current(uint64_t generation) const {
  return capture_ && capture_->generation == generation &&
         (state_ == State::capturing || state_ == State::paused);
}

void Provider::on_limit(uint64_t generation, capture::LimitKind kind) {
  UpdateEvent ev;
  {
    std::lock_guard lock(mutex_);
    if (!current(generation) || state_ != State::capturing) return;
    const Triggers& t = config_.triggers;
    const uint64_t frames = capture_->frames_kept();
    const uint64_t bytes = capture_->bytes_kept();
    // Which trigger ran out: a pause trigger that is armed and reached wins over a stop trigger
    // with a higher threshold.
    bool pause = false;
    std::string name;
    if (kind == capture::LimitKind::frames) {
      pause = capture_->pause_trigger_armed && t.pause_after_frames && frames >= *t.pause_after_frames &&
              !(t.stop_after_frames && *t.stop_after_frames <= *t.pause_after_frames);
      name = pause ? "PauseAfterFrames" : "StopAfterFrames";
    } else if (kind == capture::LimitKind::bytes) {
      pause = capture_->pause_trigger_armed && t.pause_after_bytes && bytes >= *t.pause_after_bytes &&
              !(t.stop_after_bytes && *t.stop_after_bytes <= *t.pause_after_bytes);
      name = pause ? "PauseAfterBytes" : "StopAfterBytes";
    } else {
      name = "StopAfterFileSize";
    }
    ev.event = kEventTriggerBufferContent;
    ev.trigger_name = name;
    if (pause) {
      connection_->program->set_control(true, true);
      capture_->pause_trigger_armed = false;
      state_ = State::paused;
      ev.action = kActionPauseCapture;
      ev.status = kStatePaused;
      // The limit fired inside a poller's batch: let the pollers publish what they kept, so
      // the event's totals match the file.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
      for (;;) {
        uint64_t published = 0;
        for (const auto& p : capture_->pollers) published += p->counters().kept.load();
        if (published >= capture_->frames_kept() || std::chrono::steady_clock::now() >= deadline)
          break;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      Statistics st = snapshot(false);
      ev.frames_dropped = st.frames_dropped;
      ev.statistics = std::move(st);
    } else {
      Statistics st;
      do_stop(&st, nullptr);
      ev.action = kActionStopCapture;
      ev.status = kStateVoid;
      ev.frames_dropped = st.frames_dropped;
      ev.statistics = std::move(st);
    }
  }
  deliver(std::move(ev));
}

UpdateEvent Provider::stop_on_error(const std::string& why) {
  UpdateEvent ev;
  Statistics st;
  std::string err = why;
  do_stop(&st, &err);
  ev.event = kEventNetworkStatus;
  ev.action = kActionStopCapture;
  ev.status = kStateVoid;
  ev.frames_dropped = st.frames_dropped;
  ev.statistics = std::move(st);
  ev.error = why;
  return ev;
}

void Provider::on_sink_error(uint64_t generation, const Error& error) {
  UpdateEvent ev;
  {
    std::lock_guard lock(mutex_);
    if (!current(generation)) return;
    ev = stop_on_error(error.message);
  }
  deliver(std::move(ev));
}

void Provider::on_queue_fault(uint64_t generation, uint32_t queue, int err) {
  UpdateEvent ev;
  {
    std::lock_guard lock(mutex_);
    if (!current(generation)) return;
    const std::string& nic = connection_->nic.name;
    const bool gone = static_cast<int>(::if_nametoindex(nic.c_str())) != connection_->nic.ifindex;
    std::string why = gone ? "interface '" + nic + "' was removed during the capture"
                           : "interface '" + nic + "' failed during the capture";
    why += " (the AF_XDP socket of queue " + std::to_string(queue) + ": " +
           std::strerror(err) + ")";
    {
      std::lock_guard fault_lock(fault_mutex_);
      fault_ = why;
    }
    ev = stop_on_error(why);
  }
  deliver(std::move(ev));
}

std::error_code Provider::pause(Via via) {
  if (from_callback()) {
    if (auto ec = precheck(via, "Pause")) return ec;
    // Not mutex_: Stop may hold it while it joins this very poller.
    const uint64_t gen = generation_.load(std::memory_order_acquire);
    boost::asio::post(io_, [this, via, gen] {
      std::lock_guard l(mutex_);
      if (current(gen)) (void)pause_locked(via);
    });
    return {};
  }
  std::lock_guard lock(mutex_);
  return pause_locked(via);
}

std::error_code Provider::pause_locked(Via via) {
  if (auto ec = check(via)) return fail(ec, "Pause refused");
  if (state_ == State::paused) return fail(nmerr::capture_paused, "the capture is already paused");
  if (state_ != State::capturing) return fail(nmerr::not_capturing, "no capture is running");
  connection_->program->set_control(true, true);
  state_ = State::paused;
  return {};
}

std::error_code Provider::resume(Via via) {
  if (from_callback()) {
    if (auto ec = precheck(via, "Resume")) return ec;
    // Not mutex_: Stop may hold it while it joins this very poller.
    const uint64_t gen = generation_.load(std::memory_order_acquire);
    boost::asio::post(io_, [this, via, gen] {
      std::lock_guard l(mutex_);
      if (current(gen)) (void)resume_locked(via);
    });
    return {};
  }
  std::lock_guard lock(mutex_);
  return resume_locked(via);
}

std::error_code Provider::resume_locked(Via via) {
  if (auto ec = check(via)) return fail(ec, "Resume refused");
  if (state_ != State::paused) return fail(nmerr::capture_not_paused, "the capture is not paused");
  // A pause trigger fires once: re-arm the limits without it.
  arm_sink_limits();
  connection_->program->set_control(true, false);
  state_ = State::capturing;
  return {};
}

std::error_code Provider::stop(Via via, Statistics* statistics) {
  if (from_callback()) {
    // A frames callback runs on a poller that Stop must join: the stop happens on the control
    // thread right after; its totals come with Stop's own statistics later (IRTC: through
    // GetTotalStatistics), so *statistics is left as it is. Tied to this capture: it never
    // stops a later one.
    if (auto ec = precheck(via, "Stop")) return ec;
    // Not mutex_: Stop may hold it while it joins this very poller.
    const uint64_t gen = generation_.load(std::memory_order_acquire);
    boost::asio::post(io_, [this, via, gen] {
      std::lock_guard l(mutex_);
      if (!current(gen) || check(via)) return;
      std::string error;
      do_stop(nullptr, &error);
    });
    return {};
  }
  std::lock_guard lock(mutex_);
  if (auto ec = check(via)) return fail(ec, "Stop refused");
  if (state_ != State::capturing && state_ != State::paused)
    return fail(nmerr::not_capturing, "no capture is running");
  std::string error;
  do_stop(statistics, &error);
  if (!error.empty()) return fail(nmerr::invalid_parameter, error);
  return {};
}

void Provider::do_stop(Statistics* out, std::string* error) {
  Connection& c = *connection_;
  c.program->set_control(false, false);
  update_timer_.cancel();
  duration_timer_.cancel();
  rotation_timer_.cancel();
  bool faulted = false;
  {
    std::lock_guard fault_lock(fault_mutex_);
    faulted = !fault_.empty();
  }
  // Frames the program redirected before it saw the flag are still on their way into the
  // rings: wait until every one is received or counted lost, so file and statistics agree.
  // Not for a NIC that is gone: nothing will arrive any more.
  const auto deadline = std::chrono::steady_clock::now() + kDrainTimeout;
  while (!faulted) {
    auto now = sample_queues();
    uint64_t pending = 0;
    for (size_t i = 0; i < now.size(); ++i) pending += stats::in_flight(now[i], capture_->start_samples[i]);
    if (pending == 0 || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  for (auto& p : capture_->pollers) p->request_stop();
  for (auto& p : capture_->pollers) p->join();
  // What the queues still buffer goes out now, so the statistics know what the file took.
  if (capture_->file_sink) capture_->file_sink->flush_all();
  Statistics st = snapshot(true);
  if (capture_->file_sink) {
    std::vector<output::QueueTotals> totals;
    for (const QueueStatistics& q : st.queues)
      totals.push_back({q.frames_seen, q.dropped(), q.frames_redirected});
    Status closed = capture_->file_sink->finish(totals);
    if (!closed && error && error->empty()) *error = closed.error().message;
  }
  if (error && !capture_->error.empty() && error->empty()) *error = capture_->error;
  last_statistics_ = st;
  if (out) *out = std::move(st);
  capture_.reset();
  state_ = State::stopped;
}

std::error_code Provider::control_state(Via via, bool* running, bool* paused) const {
  if (!running || !paused) return fail(nmerr::invalid_parameter, "null GetControlState pointer");
  if (auto ec = check(via)) return fail(ec, "GetControlState refused");
  const State s = state_.load();
  *running = s == State::capturing || s == State::paused;
  *paused = s == State::paused;
  return {};
}

std::error_code Provider::query_status(NetworkStatus* status) const {
  if (!status) return fail(nmerr::invalid_parameter, "null NETWORKSTATUS pointer");
  *status = this->status();
  std::lock_guard fault_lock(fault_mutex_);
  if (!fault_.empty()) return fail(nmerr::disconnected, fault_);
  return {};
}

NetworkStatus Provider::status() const {
  NetworkStatus st;
  const State s = state_.load();
  st.state = s == State::capturing ? kStateCapturing
             : s == State::paused  ? kStatePaused
                                   : kStateVoid;
  if ((s == State::capturing || s == State::paused) && trigger_pending_) st.flags |= kFlagTriggerPending;
  return st;
}

std::error_code Provider::total_statistics(Via via, Statistics* statistics, bool clear) {
  if (from_callback()) return refuse_in_callback("GetTotalStatistics");
  std::lock_guard lock(mutex_);
  if (!statistics) return fail(nmerr::invalid_parameter, "null statistics pointer");
  if (auto ec = check(via)) return fail(ec, "GetTotalStatistics refused");
  if (capture_) {
    *statistics = snapshot(false);
    if (clear) {
      capture_->start_samples = sample_queues();
      if (auto o = connection_->program->read_counters(connection_->nic.rx_queues))
        capture_->overflow_start = *o;
      capture_->nic_start = stats::read_nic_counters(connection_->nic.name);
      capture_->start_monotonic_ns = monotonic_ns();
    }
  } else {
    *statistics = last_statistics_.value_or(Statistics{});
    if (clear) last_statistics_.reset();
  }
  return {};
}

std::error_code Provider::insert_special_frame(Via via, std::string_view text) {
  if (from_callback()) return refuse_in_callback("InsertSpecialFrame");
  FramesCallback callback;
  uint32_t queue = 0;
  {
    std::lock_guard lock(mutex_);
    if (auto ec = check(via)) return fail(ec, "InsertSpecialFrame refused");
    if (state_ != State::capturing && state_ != State::paused)
      return fail(nmerr::not_capturing, "no capture is running");
    if (capture_->file_sink) {
      if (auto st = capture_->file_sink->write_comment(0, realtime_ns(), text); !st)
        return fail(code_of(st.error()), st.error().message);
      return {};
    }
    callback = frames_cb_;
    queue = connection_->queues.front();
  }
  // IRTC: a frame flagged special whose data is the marker text, on the caller's thread and
  // outside the lock, so the callback may request Pause or Stop like any frames callback.
  Frame marker{reinterpret_cast<const uint8_t*>(text.data()), static_cast<uint32_t>(text.size()),
               static_cast<uint32_t>(text.size()), realtime_ns(), queue, kFrameSpecial};
  if (!callback) return {};
  struct MarkerScope {
    CallbackScope owner;
    explicit MarkerScope(const Provider* p) : owner(p) { t_in_marker_callback = true; }
    ~MarkerScope() { t_in_marker_callback = false; }
  } scope(this);
  try {
    callback(std::span<const Frame>(&marker, 1));
  } catch (const std::exception& e) {
    return fail(nmerr::invalid_parameter,
                std::string("InsertSpecialFrame: the frames callback threw: ") + e.what());
  } catch (...) {
    return fail(nmerr::invalid_parameter, "InsertSpecialFrame: the frames callback threw");
  }
  return {};
}

std::vector<Station> Provider::query_stations() const { return {}; }

}  // namespace xesp::npp
