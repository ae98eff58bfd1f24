// A C++ host: the same capture through the C++ API.
#include <chrono>
#include <cstdio>
#include <thread>
#include <xesp/esp.hpp>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s IFACE DIRECTORY\n", argv[0]);
    return 2;
  }
  xesp::Blob config, errors;
  config.set("NPP", "Config", "Interface", argv[1]);
  config.set("NPP", "Config", "CaptureDirectory", argv[2]);

  xesp::Esp esp;  // released (capture stopped, program detached) when it goes out of scope
  if (auto ec = esp.connect(config, nullptr, nullptr, &errors)) {
    std::fprintf(stderr, "connect: %s: %s\n", ec.message().c_str(), esp.last_error().c_str());
    return 1;
  }
  std::string file;
  xesp::Statistics stats;
  if (!esp.start(file)) {
    std::this_thread::sleep_for(std::chrono::seconds(10));
    (void)esp.stop(stats);
    std::printf("%s: %llu frames captured, %llu dropped\n", file.c_str(),
                static_cast<unsigned long long>(stats.frames_captured),
                static_cast<unsigned long long>(stats.frames_dropped));
  }
  (void)esp.disconnect();
}
