#include "cache/vary.hpp"

#include <algorithm>

#include "cache/field_lines.hpp"
#include "http/forwarded_headers.hpp"

namespace bulwark::cache {
namespace {

bool is_tchar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

}  // namespace

VaryFields parse_vary(std::string_view value) {
  VaryFields out;
  size_t start = 0;
  while (start <= value.size()) {
    size_t end = value.find(',', start);
    if (end == std::string_view::npos) end = value.size();
    std::string_view member = trim_ows(value.substr(start, end - start));
    start = end + 1;
    if (member.empty()) continue;  // empty list elements (RFC 9110 §5.6.1)
    if (member == "*" || !std::all_of(member.begin(), member.end(), is_tchar)) {
      return {.any = true, .names = {}};
    }
    std::string name(member);
    for (char& c : name) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    out.names.push_back(std::move(name));
  }
  std::sort(out.names.begin(), out.names.end());
  out.names.erase(std::unique(out.names.begin(), out.names.end()), out.names.end());
  return out;
}

std::optional<std::string> vary_key(const VaryFields& vary, std::span<const FieldLine> request) {
  if (vary.any) return std::nullopt;
  std::string key;
  for (const std::string& name : vary.names) {
    bool present = false;
    std::string combined;
    for (const auto& [field, value] : request) {
      if (!http::iequals(field, name)) continue;
      if (present) combined += ", ";
      combined += trim_ows(value);
      present = true;
    }
    // Length-prefixed, so no value can forge the boundary of the next.
    key += name;
    if (present) {
      key += '=';
      key += std::to_string(combined.size());
      key += ':';
      key += combined;
    } else {
      key += '!';
    }
    key += '\n';
  }
  return key;
}

}  // namespace bulwark::cache
