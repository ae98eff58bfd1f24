// Fuzz target: Blob::parse over arbitrary text. Beyond not crashing, a blob that parses must
// survive its own text form: parse(to_text()) gives back the same entries, in the same order.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.hpp"
#include "xesp/blob.hpp"
#include "xesp/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  xesp::Blob blob;
  std::string why;
  const std::error_code ec = blob.parse(text, &why);
  if (ec) {
    XESP_FUZZ_CHECK(ec == xesp::make_error_code(xesp::nmerr::blob_string_invalid));
    XESP_FUZZ_CHECK(blob.empty());  // a malformed line adds nothing
    XESP_FUZZ_CHECK(why.rfind("line ", 0) == 0);
    return 0;
  }
  xesp::Blob again;
  XESP_FUZZ_CHECK(!again.parse(blob.to_text()));
  XESP_FUZZ_CHECK(again.entries().size() == blob.entries().size());
  for (std::size_t i = 0; i < blob.entries().size(); ++i) {
    const auto& a = blob.entries()[i];
    const auto& b = again.entries()[i];
    XESP_FUZZ_CHECK(a.owner == b.owner && a.category == b.category && a.tag == b.tag &&
                    a.value == b.value);
    XESP_FUZZ_CHECK(blob.get(a.owner, a.category, a.tag) == a.value);
  }
  return 0;
}
