#include "cache/directives.hpp"

#include <algorithm>
#include <cstdint>

#include "cache/field_lines.hpp"
#include "http/forwarded_headers.hpp"

namespace bulwark::cache {
namespace {

using std::chrono::seconds;

// tchar (RFC 9110 §5.6.2).
bool is_tchar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// One list element: `name`, `name=token` or `name="quoted"`.
struct Directive {
  std::string_view name;
  bool has_argument = false;
  bool valid = true;  // false: the element does not match the cache-directive grammar
  std::string argument;
};

// Splits at commas outside quoted strings (an unterminated quote runs to the end).
std::vector<std::string_view> split_elements(std::string_view value) {
  std::vector<std::string_view> out;
  size_t start = 0;
  bool quoted = false;
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (quoted) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(value.substr(start, i - start));
      start = i + 1;
    }
  }
  out.push_back(value.substr(start));
  return out;
}

Directive parse_element(std::string_view element) {
  Directive d;
  size_t i = 0;
  while (i < element.size() && is_tchar(element[i])) ++i;
  d.name = element.substr(0, i);
  if (i == element.size()) return d;
  if (element[i] != '=') {
    d.valid = false;
    return d;
  }
  d.has_argument = true;
  ++i;
  if (i < element.size() && element[i] == '"') {
    ++i;
    bool closed = false;
    while (i < element.size()) {
      char c = element[i++];
      if (c == '"') {
        closed = true;
        break;
      }
      if (c == '\\') {
        if (i == element.size()) break;
        c = element[i++];
      }
      auto u = static_cast<unsigned char>(c);
      if (!(u == '\t' || u == ' ' || (u >= 0x21 && u != 0x7f))) {
        d.valid = false;
        return d;
      }
      d.argument += c;
    }
    if (!closed || i != element.size()) d.valid = false;
    return d;
  }
  size_t start = i;
  while (i < element.size() && is_tchar(element[i])) ++i;
  d.argument = std::string(element.substr(start, i - start));
  if (d.argument.empty() || i != element.size()) d.valid = false;
  return d;
}

std::vector<Directive> parse_directives(std::string_view value) {
  std::vector<Directive> out;
  for (std::string_view element : split_elements(value)) {
    element = trim_ows(element);
    if (element.empty()) continue;  // empty list elements are allowed (RFC 9110 §5.6.1)
    Directive d = parse_element(element);
    if (d.name.empty()) continue;  // not even a name: nothing to honour
    out.push_back(std::move(d));
  }
  return out;
}

std::optional<seconds> delta_argument(const Directive& d) {
  if (!d.valid || !d.has_argument) return std::nullopt;
  return parse_delta_seconds(d.argument);
}

// Field names of a qualified no-cache / private; nullopt when the argument is not a list of
// tokens (the directive then applies to the whole response).
std::optional<std::vector<std::string>> field_names(const Directive& d) {
  if (!d.valid) return std::nullopt;
  std::vector<std::string> names;
  for (std::string_view element : split_elements(d.argument)) {
    element = trim_ows(element);
    if (element.empty()) continue;
    if (!std::all_of(element.begin(), element.end(), is_tchar)) return std::nullopt;
    std::string name = lowercase(element);
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  if (names.empty()) return std::nullopt;
  return names;
}

// A directive whose value must agree when repeated (§4.2.1).
class Agreeing {
 public:
  void add(std::optional<seconds> value) {
    if (!present_) {
      present_ = true;
      value_ = value;
      valid_ = value.has_value();
    } else if (!value || value != value_) {
      valid_ = false;
    }
  }
  bool present() const { return present_; }
  bool valid() const { return valid_; }
  std::optional<seconds> value() const { return valid_ ? value_ : std::nullopt; }

 private:
  bool present_ = false;
  bool valid_ = false;
  std::optional<seconds> value_;
};

std::optional<seconds> stale_on_conflict(const Agreeing& a) {
  if (!a.present()) return std::nullopt;
  return a.valid() ? a.value() : seconds{0};
}

void qualify(const Directive& d, bool& flag, std::vector<std::string>& fields, bool& unqualified) {
  flag = true;
  if (!d.has_argument) {
    unqualified = true;
    return;
  }
  auto names = field_names(d);
  if (!names) {
    unqualified = true;
    return;
  }
  for (auto& n : *names) {
    if (std::find(fields.begin(), fields.end(), n) == fields.end()) fields.push_back(n);
  }
}

}  // namespace

std::optional<seconds> parse_delta_seconds(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = std::min<int64_t>(value * 10 + (c - '0'), kMaxDeltaSeconds.count());
  }
  return seconds{value};
}

RequestDirectives parse_request_directives(std::string_view value) {
  using http::iequals;
  RequestDirectives r;
  Agreeing max_age;
  bool bare_max_stale = false;
  bool valued_max_stale = false;
  for (const Directive& d : parse_directives(value)) {
    if (iequals(d.name, "max-age")) {
      max_age.add(delta_argument(d));
    } else if (iequals(d.name, "max-stale")) {
      if (!d.has_argument && d.valid) {
        bare_max_stale = true;
      } else if (auto s = delta_argument(d)) {
        valued_max_stale = true;
        r.max_stale_seconds = r.max_stale_seconds ? std::min(*r.max_stale_seconds, *s) : *s;
      }
    } else if (iequals(d.name, "min-fresh")) {
      if (auto s = delta_argument(d)) r.min_fresh = r.min_fresh ? std::max(*r.min_fresh, *s) : *s;
    } else if (iequals(d.name, "no-cache")) {
      r.no_cache = true;
    } else if (iequals(d.name, "no-store")) {
      r.no_store = true;
    } else if (iequals(d.name, "no-transform")) {
      r.no_transform = true;
    } else if (iequals(d.name, "only-if-cached")) {
      r.only_if_cached = true;
    }
  }
  r.max_age = stale_on_conflict(max_age);
  r.max_stale = bare_max_stale || valued_max_stale;
  return r;
}

ResponseDirectives parse_response_directives(std::string_view value) {
  using http::iequals;
  ResponseDirectives r;
  Agreeing max_age, s_maxage, swr, sie;
  bool no_cache_whole = false, private_whole = false;
  for (const Directive& d : parse_directives(value)) {
    if (iequals(d.name, "max-age")) {
      max_age.add(delta_argument(d));
    } else if (iequals(d.name, "s-maxage")) {
      s_maxage.add(delta_argument(d));
    } else if (iequals(d.name, "no-cache")) {
      qualify(d, r.no_cache, r.no_cache_fields, no_cache_whole);
    } else if (iequals(d.name, "private")) {
      qualify(d, r.private_, r.private_fields, private_whole);
    } else if (iequals(d.name, "no-store")) {
      r.no_store = true;
    } else if (iequals(d.name, "public")) {
      r.public_ = true;
    } else if (iequals(d.name, "must-revalidate")) {
      r.must_revalidate = true;
    } else if (iequals(d.name, "proxy-revalidate")) {
      r.proxy_revalidate = true;
    } else if (iequals(d.name, "must-understand")) {
      r.must_understand = true;
    } else if (iequals(d.name, "no-transform")) {
      r.no_transform = true;
    } else if (iequals(d.name, "stale-while-revalidate")) {
      swr.add(delta_argument(d));
    } else if (iequals(d.name, "stale-if-error")) {
      sie.add(delta_argument(d));
    }
  }
  // An unqualified occurrence covers the whole response, whatever else was named.
  if (no_cache_whole) r.no_cache_fields.clear();
  if (private_whole) r.private_fields.clear();
  r.max_age = stale_on_conflict(max_age);
  r.s_maxage = stale_on_conflict(s_maxage);
  r.stale_while_revalidate = swr.value();
  r.stale_if_error = sie.value();
  return r;
}

}  // namespace bulwark::cache
