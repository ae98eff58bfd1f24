// Fuzz target: the provider's configuration from a blob (what Connect and Configure read), and
// the queue-list syntax on its own. A config that parse_config returns must pass validate();
// a refused one must say why, and the error blob written from it must carry a code.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.hpp"
#include "npp/capture_config.hpp"
#include "xesp/blob.hpp"
#include "xesp_shared.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);

  xesp::Blob blob;
  (void)blob.parse(text);  // a malformed blob is simply empty: parse_config must cope with it
  const xesp::npp::ConfigParse parse =
      xesp::npp::parse_config(blob, xesp::npp::CaptureConfig{}, true);
  if (parse.config) {
    XESP_FUZZ_CHECK(parse.problems.empty() && parse.foreign.empty());
    XESP_FUZZ_CHECK(xesp::npp::validate(*parse.config).empty());
    XESP_FUZZ_CHECK(!parse.config->interface.empty());
  } else {
    XESP_FUZZ_CHECK(!parse.problems.empty() || !parse.foreign.empty());
    xesp::Blob errors;
    const std::error_code first = xesp::npp::report_problems(parse, &errors);
    XESP_FUZZ_CHECK(first);
    XESP_FUZZ_CHECK(errors.entries().size() == parse.problems.size() + parse.foreign.size());
    XESP_FUZZ_CHECK(xesp::Blob::error_code_of(errors.entries().front().value) == first.value());
    for (const auto& e : errors.entries())
      XESP_FUZZ_CHECK(xesp::Blob::error_code_of(e.value).has_value());
  }

  // The queue (and CPU) list syntax, over the whole input as one value.
  const auto queues = xesp::npp::parse_queue_list(text);
  if (queues && *queues) {
    const auto& list = **queues;
    XESP_FUZZ_CHECK(!list.empty());
    for (std::size_t i = 0; i < list.size(); ++i) {
      XESP_FUZZ_CHECK(list[i] < XESP_MAX_QUEUES);
      XESP_FUZZ_CHECK(i == 0 || list[i - 1] < list[i]);  // sorted, no duplicates
    }
  }
  return 0;
}
