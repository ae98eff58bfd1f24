// Fuzz target: PcapngReader::read_bytes over arbitrary bytes. A file it accepts must be
// consistent: every packet holds captured_len bytes and names a described interface.
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz/fuzz_check.hpp"
#include "pcapng/pcapng_format.hpp"
#include "pcapng/pcapng_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto bytes = std::as_bytes(std::span(data, size));
  const auto file = xesp::PcapngReader::read_bytes(bytes, "fuzz input");
  if (!file) {
    XESP_FUZZ_CHECK(!file.error().message.empty());
    return 0;
  }
  const xesp::PcapngFile& f = file.value();
  XESP_FUZZ_CHECK(f.shb.major_version == xesp::pcapng::kVersionMajor);
  for (const auto& p : f.packets) {
    XESP_FUZZ_CHECK(p.data.size() == p.captured_len);
    XESP_FUZZ_CHECK(p.interface_id < f.interfaces.size());
    XESP_FUZZ_CHECK(p.block_offset < size);
  }
  for (const auto& s : f.stats) XESP_FUZZ_CHECK(s.interface_id < f.interfaces.size());
  return 0;
}
