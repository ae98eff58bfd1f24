// The C++ API: thin views (Esp, Rtc) over the shared provider.
#include "npp/provider.hpp"
#include "xesp/esp.hpp"
#include "xesp/rtc.hpp"

#include <thread>

namespace xesp {

using npp::Via;

namespace {

// Drops one owner of a provider. The last one, dropped in one of the provider's own callbacks,
// must not destroy it there (the provider would join the very thread, or free what it is still
// using): a thread of its own does, once that callback has returned.
void release_provider(std::shared_ptr<npp::Provider> provider) noexcept {
  if (!provider) return;
  if (provider.use_count() == 1 && provider->in_own_callback()) {
    try {
      std::thread([p = std::move(provider)]() mutable { p.reset(); }).detach();
      return;
    } catch (...) {
      // No thread to be had: leak it rather than destroy it from inside itself.
      new std::shared_ptr<npp::Provider>(std::move(provider));  // NOLINT: deliberate leak
      return;
    }
  }
}

}  // namespace

Esp::Esp() : provider_(std::make_shared<npp::Provider>()) {}
Esp::~Esp() { release_provider(std::move(provider_)); }
Esp::Esp(Esp&&) noexcept = default;
Esp& Esp::operator=(Esp&& other) noexcept {
  if (this != &other) {
    release_provider(std::move(provider_));
    provider_ = std::move(other.provider_);
  }
  return *this;
}

std::error_code Esp::connect(const Blob& config, StatusCallback callback, void* user_context,
                             Blob* error_blob) {
  return provider_->connect(Via::esp, config, std::move(callback), nullptr, user_context,
                            error_blob);
}
std::error_code Esp::disconnect() { return provider_->disconnect(Via::esp); }
std::error_code Esp::query_status(NetworkStatus& status) const {
  return provider_->query_status(&status);
}
std::error_code Esp::configure(const Blob& config, Blob* error_blob) {
  return provider_->configure(Via::esp, config, error_blob);
}
std::error_code Esp::start(std::string& file_name) { return provider_->start(Via::esp, &file_name); }
std::error_code Esp::pause() { return provider_->pause(Via::esp); }
std::error_code Esp::resume() { return provider_->resume(Via::esp); }
std::error_code Esp::stop(Statistics& statistics) { return provider_->stop(Via::esp, &statistics); }
std::error_code Esp::get_control_state(bool& running, bool& paused) const {
  return provider_->control_state(Via::esp, &running, &paused);
}
std::error_code Esp::rotate_file() { return provider_->rotate_file(Via::esp); }
namespace {

std::error_code list_stations(const npp::Provider& provider, std::vector<Station>& stations) {
  stations.clear();
  for (const auto& s : provider.query_stations())
    stations.push_back({s.flags, s.machine_name, s.user_name});
  return {};
}

}  // namespace

std::error_code Esp::query_stations(std::vector<Station>& stations) const {
  return list_stations(*provider_, stations);
}
std::string Esp::last_error() const { return provider_->last_error(); }
ConnectionInfo Esp::connection_info() const { return provider_->connection_info(); }

Rtc::Rtc() : provider_(std::make_shared<npp::Provider>()) {}
Rtc::Rtc(Esp& esp) : provider_(esp.provider_) {}
Rtc::~Rtc() { release_provider(std::move(provider_)); }
Rtc::Rtc(Rtc&&) noexcept = default;
Rtc& Rtc::operator=(Rtc&& other) noexcept {
  if (this != &other) {
    release_provider(std::move(provider_));
    provider_ = std::move(other.provider_);
  }
  return *this;
}

std::error_code Rtc::connect(const Blob& config, StatusCallback status, FramesCallback frames,
                             void* user_context, Blob* error_blob) {
  return provider_->connect(Via::rtc, config, std::move(status), std::move(frames), user_context,
                            error_blob);
}
std::error_code Rtc::disconnect() { return provider_->disconnect(Via::rtc); }
std::error_code Rtc::query_status(NetworkStatus& status) const {
  return provider_->query_status(&status);
}
std::error_code Rtc::configure(const Blob& config, Blob* error_blob) {
  return provider_->configure(Via::rtc, config, error_blob);
}
std::error_code Rtc::start() { return provider_->start(Via::rtc, nullptr); }
std::error_code Rtc::pause() { return provider_->pause(Via::rtc); }
std::error_code Rtc::resume() { return provider_->resume(Via::rtc); }
std::error_code Rtc::stop() { return provider_->stop(Via::rtc, nullptr); }
std::error_code Rtc::get_control_state(bool& running, bool& paused) const {
  return provider_->control_state(Via::rtc, &running, &paused);
}
std::error_code Rtc::get_total_statistics(Statistics& statistics, bool clear) {
  return provider_->total_statistics(Via::rtc, &statistics, clear);
}
std::error_code Rtc::insert_special_frame(std::string_view text) {
  return provider_->insert_special_frame(Via::rtc, text);
}
std::error_code Rtc::query_stations(std::vector<Station>& stations) const {
  return list_stations(*provider_, stations);
}
std::string Rtc::last_error() const { return provider_->last_error(); }
ConnectionInfo Rtc::connection_info() const { return provider_->connection_info(); }

}  // namespace xesp
