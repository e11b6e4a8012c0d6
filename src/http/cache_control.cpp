#include "http/cache_control.hpp"

#include <cstdint>
#include <string>

#include "http/forwarded_headers.hpp"

namespace bulwark::http {
namespace {

// RFC 9111 §1.2.2: the greatest delta-seconds a recipient needs to represent.
constexpr int64_t kMaxDeltaSeconds = int64_t{1} << 31;

// tchar (RFC 9110 §5.6.2).
bool is_tchar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

// qdtext and the second octet of a quoted-pair (RFC 9110 §5.6.4): HTAB, SP, VCHAR, obs-text.
bool is_quotable(char c) {
  auto u = static_cast<unsigned char>(c);
  return u == '\t' || u == ' ' || (u >= 0x21 && u != 0x7f);
}

class DirectiveReader {
 public:
  explicit DirectiveReader(std::string_view text) : text_(text) {}

  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }
  void advance() { ++pos_; }
  void skip_ows() {
    while (!at_end() && is_ows(peek())) ++pos_;
  }

  std::string_view token() {
    size_t start = pos_;
    while (!at_end() && is_tchar(peek())) ++pos_;
    return text_.substr(start, pos_ - start);
  }

  // After the opening quote; false when the string is unterminated or holds a control octet.
  bool quoted_string(std::string& out) {
    while (!at_end()) {
      char c = peek();
      ++pos_;
      if (c == '"') return true;
      if (c == '\\') {
        if (at_end() || !is_quotable(peek())) return false;
        out += peek();
        ++pos_;
      } else if (is_quotable(c)) {
        out += c;
      } else {
        return false;
      }
    }
    return false;
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

std::optional<std::chrono::seconds> parse_delta_seconds(std::string_view value) {
  while (!value.empty() && is_ows(value.front())) value.remove_prefix(1);
  while (!value.empty() && is_ows(value.back())) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  int64_t seconds = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    seconds = seconds * 10 + (c - '0');
    if (seconds > kMaxDeltaSeconds) seconds = kMaxDeltaSeconds;  // RFC 9111 §1.2.2
  }
  return std::chrono::seconds(seconds);
}

ResponseFreshness parse_response_freshness(std::string_view value) {
  ResponseFreshness result;
  int max_age_count = 0;
  std::optional<std::chrono::seconds> max_age;
  DirectiveReader in(value);
  std::string quoted;
  in.skip_ows();
  while (!in.at_end()) {
    // Empty list elements (", ,") are allowed (RFC 9110 §5.6.1).
    if (in.peek() == ',') {
      in.advance();
      in.skip_ows();
      continue;
    }
    std::string_view name = in.token();
    if (name.empty()) return {};
    bool has_argument = false;
    std::string_view argument;
    if (!in.at_end() && in.peek() == '=') {
      in.advance();
      has_argument = true;
      if (!in.at_end() && in.peek() == '"') {
        in.advance();
        quoted.clear();
        if (!in.quoted_string(quoted)) return {};
        argument = quoted;
      } else {
        argument = in.token();
        if (argument.empty()) return {};
      }
    }
    in.skip_ows();
    if (!in.at_end() && in.peek() != ',') return {};

    if (iequals(name, "max-age")) {
      ++max_age_count;
      max_age = has_argument ? parse_delta_seconds(argument) : std::nullopt;
      // parse_delta_seconds trims whitespace; inside quotes that is not delta-seconds.
      if (max_age && argument.find_first_of(" \t") != std::string_view::npos) max_age.reset();
    } else if (iequals(name, "no-store")) {
      result.no_store = true;
    } else if (iequals(name, "no-cache")) {
      if (!has_argument) result.no_cache = true;
    }
  }
  if (max_age_count == 1) result.max_age = max_age;
  return result;
}

}  // namespace bulwark::http
