// A capture's life inside the provider: Start builds the output (files or the callback) and
// the pollers, the statistics are sampled from the kernel and the pollers, Stop drains the
// rings, closes the output and keeps the totals.
#include "npp/provider.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "base/clock.hpp"
#include "npp/provider_parts.hpp"
#include "output/compressing_transform.hpp"

namespace xesp::npp {

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
    oc.run_later = [this](std::function<void()> job) { boost::asio::post(io_, std::move(job)); };
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
    const char* file_io = (*out)->mapped() ? "map" : "write";
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
      info_.file_io = file_io;
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
  last_statistics_ = st;
  if (out) *out = std::move(st);
  capture_.reset();
  state_ = State::stopped;
}

}  // namespace xesp::npp
