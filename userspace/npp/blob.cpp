#include "xesp/blob.hpp"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include "xesp/error.hpp"
#include "base/text.hpp"

namespace xesp {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

void Blob::set(std::string_view owner, std::string_view category, std::string_view tag,
               std::string_view value) {
  for (auto& e : entries_) {
    if (iequals(e.owner, owner) && iequals(e.category, category) && iequals(e.tag, tag)) {
      e.value = value;
      return;
    }
  }
  entries_.push_back({std::string(owner), std::string(category), std::string(tag),
                      std::string(value)});
}

std::optional<std::string> Blob::get(std::string_view owner, std::string_view category,
                                     std::string_view tag) const {
  for (const auto& e : entries_) {
    if (iequals(e.owner, owner) && iequals(e.category, category) && iequals(e.tag, tag))
      return e.value;
  }
  return std::nullopt;
}

bool Blob::erase(std::string_view owner, std::string_view category, std::string_view tag) {
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (iequals(it->owner, owner) && iequals(it->category, category) && iequals(it->tag, tag)) {
      entries_.erase(it);
      return true;
    }
  }
  return false;
}

bool Blob::has_category(std::string_view owner, std::string_view category) const {
  for (const auto& e : entries_) {
    if (iequals(e.owner, owner) && iequals(e.category, category)) return true;
  }
  return false;
}

std::error_code Blob::parse(std::string_view text, std::string* why) {
  std::vector<BlobEntry> parsed;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;
    if (line.empty() || line.front() == '#') continue;
    size_t eq = line.find('=');
    size_t c1 = line.find(':');
    size_t c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    if (eq == std::string_view::npos || c2 == std::string_view::npos || c2 > eq) {
      // The line itself is not repeated: a blob may be read from any file on the user's
      // behalf (as root), and an error must not become a way to print a file's contents.
      if (why) *why = "line " + std::to_string(line_no) + ": expected Owner:Category:Tag=Value";
      return make_error_code(nmerr::blob_string_invalid);
    }
    BlobEntry e{std::string(trim(line.substr(0, c1))),
                std::string(trim(line.substr(c1 + 1, c2 - c1 - 1))),
                std::string(trim(line.substr(c2 + 1, eq - c2 - 1))),
                std::string(trim(line.substr(eq + 1)))};
    if (e.owner.empty() || e.category.empty() || e.tag.empty()) {
      if (why)
        *why = "line " + std::to_string(line_no) + ": owner, category and tag must not be empty";
      return make_error_code(nmerr::blob_string_invalid);
    }
    parsed.push_back(std::move(e));
  }
  for (auto& e : parsed) set(e.owner, e.category, e.tag, e.value);
  return {};
}

std::error_code Blob::read_file(const std::string& path, std::string* why) {
  std::ifstream in(path);
  if (!in) {
    if (why) *why = "blob file '" + path + "': cannot be read (" + std::strerror(errno) + ")";
    return make_error_code(nmerr::invalid_blob);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string detail;
  auto ec = parse(ss.str(), &detail);
  if (ec && why) *why = "blob file '" + path + "', " + detail;
  return ec;
}

std::string Blob::to_text() const {
  std::string out;
  for (const auto& e : entries_) out += e.owner + ":" + e.category + ":" + e.tag + "=" + e.value + "\n";
  return out;
}

void Blob::add_error(std::string_view owner, std::string_view category, std::string_view tag,
                     std::error_code code, std::string_view reason) {
  entries_.push_back({std::string(owner), std::string(category), std::string(tag),
                      std::to_string(code.value()) + " " + nmerr_name(code.value()) + ": " +
                          std::string(reason)});
}

std::optional<int> Blob::error_code_of(std::string_view value) {
  int code = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), code);
  if (ec != std::errc() || ptr == value.data()) return std::nullopt;
  return code;
}

}  // namespace xesp
