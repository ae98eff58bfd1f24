// Text helpers shared by the blob, the configuration and the C ABI.
#pragma once

#include <string_view>

namespace xesp {

// ASCII case-insensitive comparison: blob owners, categories and tags match this way.
inline char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

}  // namespace xesp
