#include "http/path_normalizer.hpp"

#include <array>
#include <cstdint>

#include "http/router.hpp"  // host_without_port: the absolute-form authority is a Host value

namespace bulwark::http {
namespace {

// What a raw byte in a path segment may be. Allowed raw: RFC 3986 §3.3 pchar (unreserved,
// sub-delims, ':' and '@') minus ';', which some servers read as a path parameter
// delimiter (/admin;x/ reaching /admin/): a classic route bypass.
enum class PathByte : uint8_t { plain, percent, semicolon, backslash, nul, invalid };

constexpr bool is_unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

constexpr bool is_pchar_sub_delim(unsigned char c) {
  return c == '!' || c == '$' || c == '&' || c == '\'' || c == '(' || c == ')' || c == '*' ||
         c == '+' || c == ',' || c == '=' || c == ':' || c == '@';
}

constexpr PathByte classify(unsigned char c) {
  if (is_unreserved(c) || is_pchar_sub_delim(c)) return PathByte::plain;
  if (c == '%') return PathByte::percent;
  if (c == ';') return PathByte::semicolon;
  if (c == '\\') return PathByte::backslash;
  if (c == 0) return PathByte::nul;
  return PathByte::invalid;
}

constexpr std::array<PathByte, 256> make_path_table() {
  std::array<PathByte, 256> table{};
  for (unsigned c = 0; c < 256; ++c) table[c] = classify(static_cast<unsigned char>(c));
  return table;
}

constexpr std::array<PathByte, 256> kPathTable = make_path_table();

constexpr int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The byte of the escape at s[i] ('%'), or -1 when it is not '%' HEXDIG HEXDIG (§2.1).
int escape_value(std::string_view s, size_t i) {
  if (i + 2 >= s.size()) return -1;
  int hi = hex_value(s[i + 1]);
  int lo = hex_value(s[i + 2]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

constexpr char kHexUpper[] = "0123456789ABCDEF";

// One escape of a path segment: refused, decoded (unreserved) or kept upper-cased (§6.2.2).
std::string_view append_escape(int value, std::string& out) {
  if (value < 0) return "malformed percent-encoding";
  if (value == '/') return "encoded slash in path";
  if (value == '\\') return "backslash in path";
  if (value == 0) return "NUL in path";
  auto byte = static_cast<unsigned char>(value);
  if (is_unreserved(byte)) {
    out.push_back(static_cast<char>(byte));
  } else {
    out.push_back('%');
    out.push_back(kHexUpper[byte >> 4]);
    out.push_back(kHexUpper[byte & 0xF]);
  }
  return {};
}

// Steps 1 and 2 of the spec for one segment (the bytes between two '/'), appended to `out`.
std::string_view append_segment(std::string_view segment, std::string& out) {
  for (size_t i = 0; i < segment.size(); ++i) {
    char c = segment[i];
    switch (kPathTable[static_cast<unsigned char>(c)]) {
      case PathByte::plain:
        out.push_back(c);
        break;
      case PathByte::percent:
        if (auto error = append_escape(escape_value(segment, i), out); !error.empty()) {
          return error;
        }
        i += 2;
        break;
      case PathByte::semicolon:
        return "path parameters are not accepted";
      case PathByte::backslash:
        return "backslash in path";
      case PathByte::nul:
        return "NUL in path";
      case PathByte::invalid:
        return "invalid character in path";
    }
  }
  return {};
}

// Steps 3 and 4 for the segment just appended at out[mark] ("/" + segment). Dot segments are
// recognised after decoding, so "%2e%2e" climbs like ".." (RFC 3986 §5.2.4, §6.2.2.2). A
// final "." or ".." leaves a trailing '/', as §5.2.4 does ("/a/b/.." → "/a/").
std::string_view resolve_segment(std::string& out, size_t mark, bool last) {
  std::string_view segment = std::string_view(out).substr(mark + 1);
  bool dot = segment == ".";
  bool dot_dot = segment == "..";
  if (segment.empty() && last) return {};  // the trailing slash is kept
  if (!segment.empty() && !dot && !dot_dot) return {};
  out.resize(mark);  // an inner empty segment is a run of '/': merged (step 3)
  if (dot_dot) {
    if (out.empty()) return "path escapes the root";
    out.resize(out.rfind('/'));
  }
  if (last && (dot || dot_dot)) out.push_back('/');
  return {};
}

// `raw` starts with '/'. One pass: each segment is decoded into `out`, then resolved there.
std::string_view normalize_path(std::string_view raw, std::string& out) {
  out.reserve(raw.size() + 1);
  size_t pos = 1;
  for (;;) {
    size_t end = raw.find('/', pos);
    bool last = end == std::string_view::npos;
    if (last) end = raw.size();
    size_t mark = out.size();
    out.push_back('/');
    if (auto error = append_segment(raw.substr(pos, end - pos), out); !error.empty()) return error;
    if (auto error = resolve_segment(out, mark, last); !error.empty()) return error;
    if (last) break;
    pos = end + 1;
  }
  if (out.empty()) out.push_back('/');
  return {};
}

// The query is the upstream's business and is kept as sent, but it must still be a
// plausible RFC 3986 §3.4 query: no raw controls, space or non-ASCII, well-formed escapes.
std::string_view check_query(std::string_view query) {
  for (size_t i = 0; i < query.size(); ++i) {
    auto c = static_cast<unsigned char>(query[i]);
    if (c <= 0x20 || c >= 0x7F) return "invalid character in query";
    if (c != '%') continue;
    if (escape_value(query, i) < 0) return "malformed percent-encoding";
    i += 2;
  }
  return {};
}

// `b` is already lower case.
bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] + 32) : a[i];
    if (x != b[i]) return false;
  }
  return true;
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return out;
}

// absolute-form (RFC 9112 §3.2.2): "http://" or "https://" authority path-abempty [?query].
// On success `rest` is what follows the authority (path and query, maybe empty).
std::string_view split_absolute_form(std::string_view target, std::string& authority,
                                     std::string_view& rest) {
  size_t colon = target.find(':');
  if (colon == std::string_view::npos) return "unsupported request-target form";
  std::string_view scheme = target.substr(0, colon);
  if (!iequals(scheme, "http") && !iequals(scheme, "https")) {
    return "unsupported request-target form";
  }
  std::string_view after = target.substr(colon + 1);
  if (!after.starts_with("//")) return "unsupported request-target form";
  after.remove_prefix(2);
  size_t end = after.find_first_of("/?");
  if (end == std::string_view::npos) end = after.size();
  std::string_view raw_authority = after.substr(0, end);
  // RFC 9110 §4.2.4: userinfo is deprecated in http(s) URIs and a known phishing vector.
  if (raw_authority.find('@') != std::string_view::npos) return "userinfo in authority";
  if (!host_without_port(raw_authority)) return "invalid authority";
  authority = ascii_lower(raw_authority);  // RFC 3986 §6.2.2.1: host is case-insensitive
  rest = after.substr(end);
  return {};
}

}  // namespace

void normalize_target(std::string_view target, NormalizeResult& result) {
  result.ok = false;
  result.error = {};
  result.target.path.clear();
  result.target.query.clear();
  result.target.has_query = false;
  result.target.authority.clear();
  auto fail = [&](std::string_view reason) { result.error = reason; };
  // A fragment is never sent (RFC 9110 §7.1); its presence means a confused client.
  if (target.find('#') != std::string_view::npos) return fail("fragment in request-target");
  std::string_view rest = target;
  if (target.empty() || target.front() != '/') {
    auto error = split_absolute_form(target, result.target.authority, rest);
    if (!error.empty()) return fail(error);
  }
  size_t question = rest.find('?');
  std::string_view path = rest.substr(0, question);
  if (question != std::string_view::npos) {
    std::string_view query = rest.substr(question + 1);
    if (auto error = check_query(query); !error.empty()) return fail(error);
    result.target.query.assign(query);
    result.target.has_query = true;
  }
  if (path.empty()) path = "/";  // absolute-form with an empty path (RFC 9112 §3.2.1)
  if (auto error = normalize_path(path, result.target.path); !error.empty()) return fail(error);
  result.ok = true;
}

NormalizeResult normalize_target(std::string_view target) {
  NormalizeResult result;
  normalize_target(target, result);
  return result;
}

}  // namespace bulwark::http
