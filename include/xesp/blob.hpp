// The configuration blob: a tree Owner -> Category -> Tag -> Value, written as text
// "Owner:Category:Tag=Value", one entry per line. Names compare case-insensitively and keep
// the case they were set with. An error blob is a Blob too: each entry names the offending
// Owner:Category:Tag and its value is "<code> <NMERR_NAME>: <reason>".
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace xesp {

struct BlobEntry {
  std::string owner;
  std::string category;
  std::string tag;
  std::string value;
};

class Blob {
 public:
  // Replaces the value when the entry exists (keeping its position), else appends it.
  void set(std::string_view owner, std::string_view category, std::string_view tag,
           std::string_view value);
  std::optional<std::string> get(std::string_view owner, std::string_view category,
                                 std::string_view tag) const;
  bool erase(std::string_view owner, std::string_view category, std::string_view tag);
  bool has_category(std::string_view owner, std::string_view category) const;

  const std::vector<BlobEntry>& entries() const { return entries_; }
  bool empty() const { return entries_.empty(); }
  void clear() { entries_.clear(); }

  // Adds the entries of `text` (lines "Owner:Category:Tag=Value"; blank lines and lines
  // starting with '#' are skipped). On a malformed line nothing is added, the result is
  // NMERR_BLOB_STRING_INVALID and *why (if given) names the line.
  std::error_code parse(std::string_view text, std::string* why = nullptr);
  std::error_code read_file(const std::string& path, std::string* why = nullptr);
  std::string to_text() const;

  // Error-blob helpers.
  void add_error(std::string_view owner, std::string_view category, std::string_view tag,
                 std::error_code code, std::string_view reason);
  // The code stored in an error-blob value ("1009 NMERR_UNKNOWN_TAG: ..."), if it has one.
  static std::optional<int> error_code_of(std::string_view value);

 private:
  std::vector<BlobEntry> entries_;
};

}  // namespace xesp
