#include "xesp/esp.hpp"

#include "npp/provider.hpp"

namespace xesp {

Esp::Esp() : provider_(std::make_shared<npp::Provider>()) {}
Esp::~Esp() = default;
Esp::Esp(Esp&&) noexcept = default;
Esp& Esp::operator=(Esp&&) noexcept = default;

std::error_code Esp::connect(const Blob& config, StatusCallback callback, void* user_context,
                             Blob* error_blob) {
  return provider_->connect(npp::Via::esp, config, std::move(callback), nullptr, user_context,
                            error_blob);
}
std::error_code Esp::disconnect() { return provider_->disconnect(npp::Via::esp); }
std::error_code Esp::query_status(NetworkStatus& status) const {
  status = provider_->status();
  return {};
}
std::error_code Esp::configure(const Blob& config, Blob* error_blob) {
  return provider_->configure(npp::Via::esp, config, error_blob);
}
std::error_code Esp::start(std::string& file_name) {
  return provider_->start(npp::Via::esp, &file_name);
}
std::error_code Esp::pause() { return provider_->pause(npp::Via::esp); }
std::error_code Esp::resume() { return provider_->resume(npp::Via::esp); }
std::error_code Esp::stop(Statistics& statistics) {
  return provider_->stop(npp::Via::esp, &statistics);
}
std::error_code Esp::get_control_state(bool& running, bool& paused) const {
  return provider_->control_state(npp::Via::esp, &running, &paused);
}
std::string Esp::last_error() const { return provider_->last_error(); }
ConnectionInfo Esp::connection_info() const { return provider_->connection_info(); }
npp::Provider& Esp::provider() { return *provider_; }

}  // namespace xesp
