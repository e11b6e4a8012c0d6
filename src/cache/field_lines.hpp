#pragma once
// Small helpers on field lines shared by the cache kernel's files: OWS trimming and the
// combined value of a repeated field (RFC 9110 §5.3).

#include <optional>
#include <string>
#include <string_view>

#include "http/forwarded_headers.hpp"

namespace bulwark::cache {

inline bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

inline std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// All lines of the field `name` in `lines` (name/value pairs of any string type), each
// trimmed, joined with ", "; nullopt when there is none.
template <class Lines>
std::optional<std::string> joined_field(const Lines& lines, std::string_view name) {
  std::optional<std::string> value;
  for (const auto& [field, line] : lines) {
    if (!http::iequals(field, name)) continue;
    if (value) {
      *value += ", ";
    } else {
      value.emplace();
    }
    *value += trim_ows(line);
  }
  return value;
}

}  // namespace bulwark::cache
