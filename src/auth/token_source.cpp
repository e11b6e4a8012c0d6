#include "auth/token_source.hpp"

#include <array>

namespace bulwark::auth {
namespace {

bool iequals_ascii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? char(a[i] + 32) : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? char(b[i] + 32) : b[i];
    if (x != y) return false;
  }
  return true;
}

// The b64token characters but '=' (RFC 6750 §2.1), as a table: this runs over every byte
// of every token on the hot path.
constexpr std::array<bool, 256> kB64TokenBody = [] {
  std::array<bool, 256> table{};
  for (int c = 'A'; c <= 'Z'; ++c) table[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) table[c] = true;
  for (int c = '0'; c <= '9'; ++c) table[c] = true;
  for (char c : std::string_view("-._~+/")) table[static_cast<unsigned char>(c)] = true;
  return table;
}();

bool is_b64token(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && kB64TokenBody[static_cast<unsigned char>(text[i])]) ++i;
  if (i == 0) return false;
  while (i < text.size() && text[i] == '=') ++i;
  return i == text.size();
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Calls on_pair(name, value, raw) for each "name=value" of a Cookie field value.
template <class F>
void for_each_cookie(std::string_view header, F&& on_pair) {
  std::size_t i = 0;
  while (i <= header.size()) {
    std::size_t end = header.find(';', i);
    if (end == std::string_view::npos) end = header.size();
    std::string_view raw = trim(header.substr(i, end - i));
    std::size_t eq = raw.find('=');
    if (!raw.empty()) {
      // RFC 6265bis §5.6: an entry without '=' is a cookie with an empty name.
      std::string_view name = eq == std::string_view::npos ? "" : trim(raw.substr(0, eq));
      std::string_view value = eq == std::string_view::npos ? raw : trim(raw.substr(eq + 1));
      on_pair(name, value, raw);
    }
    i = end + 1;
  }
}

}  // namespace

BearerParse parse_bearer(std::string_view authorization, std::string_view& token) {
  std::string_view value = trim(authorization);
  // The scheme ends at any whitespace: "Bearer<TAB>token" is not a token68 (RFC 9110 §11.4
  // wants SP) but it is a bearer attempt, refused as malformed rather than passed on as some
  // other scheme that an upstream splitting on any whitespace would read as a token.
  std::size_t space = value.find_first_of(" \t");
  std::string_view scheme = value.substr(0, space);
  if (!iequals_ascii(scheme, "bearer")) return BearerParse::other_scheme;
  if (space == std::string_view::npos || value[space] != ' ') return BearerParse::malformed;
  std::string_view rest = value.substr(space);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  if (!is_b64token(rest)) return BearerParse::malformed;
  token = rest;
  return BearerParse::token;
}

std::optional<std::string_view> cookie_value(std::string_view cookie_header,
                                             std::string_view name) {
  std::optional<std::string_view> found;
  for_each_cookie(cookie_header, [&](std::string_view n, std::string_view v, std::string_view) {
    if (found || n != name) return;
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    found = v;
  });
  return found;
}

std::size_t cookie_count(std::string_view cookie_header, std::string_view name) {
  std::size_t count = 0;
  for_each_cookie(cookie_header, [&](std::string_view n, std::string_view, std::string_view) {
    if (n == name) ++count;
  });
  return count;
}

std::string cookie_header_without(std::string_view cookie_header, std::string_view name) {
  std::string out;
  for_each_cookie(cookie_header, [&](std::string_view n, std::string_view, std::string_view raw) {
    if (n == name) return;
    if (!out.empty()) out += "; ";
    out += raw;
  });
  return out;
}

}  // namespace bulwark::auth
