#include "redis/url.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <span>

#include "config/suggest.hpp"
#include "config/units.hpp"

namespace bulwark::redis {
namespace {

constexpr std::array<std::string_view, 2> kParameters = {"connect_timeout", "command_timeout"};

bool fail(std::string* why, const std::string& message) {
  if (why) *why = "redis URL: " + message;
  return false;
}

std::nullopt_t refuse(std::string* why, const std::string& message) {
  fail(why, message);
  return std::nullopt;
}

// Appends rather than "'" + string: g++ 12 warns falsely (-Wrestrict) on the latter.
std::string quoted(std::string_view text) {
  std::string out(1, '\'');
  out.append(text);
  out.push_back('\'');
  return out;
}

bool all_digits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A whole number up to `max`; nullopt for anything else, including too many digits.
std::optional<uint64_t> parse_number(std::string_view text, uint64_t max) {
  if (!all_digits(text)) return std::nullopt;
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || value > max) return std::nullopt;
  return value;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// nullopt on a '%' without two hex digits after it.
std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int high = hex_value(text[i + 1]);
    const int low = hex_value(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

bool has_space_or_control(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte <= 0x20 || byte == 0x7f;
  });
}

bool starts_with_nocase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) ==
                  std::tolower(static_cast<unsigned char>(b));
         });
}

// Strips "redis://"; the rest of the URL is never echoed since it may hold the password.
std::optional<std::string_view> strip_scheme(std::string_view text, std::string* why) {
  if (starts_with_nocase(text, "redis://")) return text.substr(8);
  if (starts_with_nocase(text, "rediss://")) {
    return refuse(why,
                  "TLS to Redis is not supported yet (rediss://); use redis:// on a trusted "
                  "network or through a local TLS tunnel");
  }
  const size_t colon = text.find("://");
  const std::string_view scheme = text.substr(0, colon);
  const bool plain = colon != std::string_view::npos && scheme.find_first_of("@:/") == scheme.npos;
  if (plain) return refuse(why, "scheme " + quoted(scheme) + " is not supported; write redis://");
  return refuse(why, "expected redis://host[:port][/db], the URL does not start with redis://");
}

// "user:password" (percent-decoded); a password is required once there is an '@'.
bool parse_user_info(std::string_view info, RedisUrl& url, std::string* why) {
  const size_t colon = info.find(':');
  if (info.empty()) return fail(why, "nothing before '@': drop the '@' or write :password@");
  if (colon == std::string_view::npos) {
    return fail(why,
                "the part before '@' has no ':'; write redis://user:password@host, or "
                "redis://:password@host for a password alone");
  }
  const auto user = percent_decode(info.substr(0, colon));
  if (!user) return fail(why, "bad '%' in the user name (write '%' as %25)");
  const auto password = percent_decode(info.substr(colon + 1));
  if (!password) return fail(why, "bad '%' in the password (write '%' as %25)");
  if (password->empty()) {
    return fail(why, "the password after ':' is empty (leave out 'user:@' for no AUTH)");
  }
  url.username = *user;
  url.password = *password;
  return true;
}

bool parse_port(std::string_view text, RedisUrl& url, std::string* why) {
  if (text.empty()) return fail(why, "the port after ':' is empty (leave out ':' for 6379)");
  if (!all_digits(text)) return fail(why, "port " + quoted(text) + " is not a number");
  const auto port = parse_number(text, 65535);
  if (!port || *port == 0) {
    return fail(why, "port " + quoted(text) + " is out of range (1..65535)");
  }
  url.port = static_cast<uint16_t>(*port);
  return true;
}

bool parse_ipv6_host(std::string_view authority, RedisUrl& url, std::string* why) {
  const size_t close = authority.find(']');
  if (close == std::string_view::npos) {
    return fail(why, "the IPv6 address has no closing ']'");
  }
  const std::string_view address = authority.substr(1, close - 1);
  if (address.find(':') == address.npos || !config::parse_ip_address(address)) {
    return fail(why, quoted(authority.substr(0, close + 1)) + " is not an IPv6 address");
  }
  url.host = std::string(address);
  const std::string_view rest = authority.substr(close + 1);
  if (rest.empty()) return true;
  if (rest.front() != ':') {
    return fail(why, "unexpected " + quoted(rest) + " after the IPv6 address");
  }
  return parse_port(rest.substr(1), url, why);
}

bool parse_host_port(std::string_view authority, RedisUrl& url, std::string* why) {
  if (authority.empty()) return fail(why, "the host is missing (write redis://host:6379)");
  if (authority.front() == '[') return parse_ipv6_host(authority, url, why);
  const size_t colon = authority.find(':');
  if (colon != authority.npos && authority.find(':', colon + 1) != authority.npos) {
    return fail(why, "write an IPv6 address in brackets, as in redis://[::1]:6379");
  }
  const std::string_view host = authority.substr(0, colon);
  if (host.empty()) return fail(why, "the host is missing (write redis://host:6379)");
  if (!config::is_hostname(host)) {
    return fail(why, "host " + quoted(host) + " is not a valid host name or address");
  }
  url.host = std::string(host);
  return colon == authority.npos || parse_port(authority.substr(colon + 1), url, why);
}

bool parse_db(std::string_view path, RedisUrl& url, std::string* why) {
  if (path.empty() || path == "/") return true;
  const std::string_view text = path.substr(1);
  const auto db = parse_number(text, kMaxDb);
  if (db) {
    url.db = static_cast<int>(*db);
    return true;
  }
  const std::string range = "(0.." + std::to_string(kMaxDb) + ")";
  if (all_digits(text)) return fail(why, "db " + quoted(text) + " is out of range " + range);
  return fail(why, "db " + quoted(text) + " is not a number " + range);
}

std::string unknown_parameter(std::string_view key) {
  const std::string hint = config::closest_match(key, kParameters);
  return "unknown parameter " + quoted(key) +
         (hint.empty() ? "" : ": did you mean " + quoted(hint) + "?") +
         " (known: connect_timeout, command_timeout)";
}

bool parse_parameter(std::string_view pair, RedisUrl& url, bool (&seen)[2], std::string* why) {
  const size_t equals = pair.find('=');
  const std::string_view key = pair.substr(0, equals);
  const auto known = std::find(kParameters.begin(), kParameters.end(), key);
  if (known == kParameters.end()) return fail(why, unknown_parameter(key));
  const size_t index = static_cast<size_t>(known - kParameters.begin());
  if (equals == pair.npos || equals + 1 == pair.size()) {
    return fail(why, quoted(key) + " has no value (write " + std::string(key) + "=250ms)");
  }
  if (seen[index]) return fail(why, quoted(key) + " is given twice");
  seen[index] = true;
  std::string reason;
  const auto duration = config::parse_duration(pair.substr(equals + 1), &reason);
  if (!duration) return fail(why, std::string(key) + ": " + reason);
  if (duration->count() <= 0) return fail(why, std::string(key) + " must be more than 0");
  (index == 0 ? url.connect_timeout : url.command_timeout) = *duration;
  return true;
}

bool parse_query(std::string_view query, RedisUrl& url, std::string* why) {
  bool seen[2] = {false, false};
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    if (!pair.empty() && !parse_parameter(pair, url, seen, why)) return false;
    query = amp == query.npos ? std::string_view() : query.substr(amp + 1);
  }
  return true;
}

// host[:port][/db][?query], after the user info.
bool parse_location(std::string_view rest, RedisUrl& url, std::string* why) {
  if (rest.find('#') != rest.npos) return fail(why, "a '#fragment' is not allowed");
  const size_t question = rest.find('?');
  const std::string_view before_query = rest.substr(0, question);
  const size_t slash = before_query.find('/');
  return parse_host_port(before_query.substr(0, slash), url, why) &&
         parse_db(slash == before_query.npos ? "" : before_query.substr(slash), url, why) &&
         (question == rest.npos || parse_query(rest.substr(question + 1), url, why));
}

}  // namespace

std::optional<RedisUrl> parse_redis_url(std::string_view text, std::string* why) {
  if (text.empty()) return refuse(why, "the URL is empty (write redis://host:6379)");
  if (has_space_or_control(text)) {
    return refuse(why, "the URL contains a space or control character (percent-encode it)");
  }
  const auto rest = strip_scheme(text, why);
  if (!rest) return std::nullopt;
  RedisUrl url;
  // The last '@': '@' has no other use after it, and a password may hold one unencoded.
  const size_t at = rest->rfind('@');
  if (at != rest->npos && !parse_user_info(rest->substr(0, at), url, why)) return std::nullopt;
  if (!parse_location(at == rest->npos ? *rest : rest->substr(at + 1), url, why)) {
    return std::nullopt;
  }
  return url;
}

std::string redacted(const RedisUrl& url) {
  std::string out = "redis://";
  if (url.needs_auth()) (out += url.username) += ":***@";
  const bool ipv6 = url.host.find(':') != std::string::npos;
  if (ipv6) out += '[';
  out += url.host;
  if (ipv6) out += ']';
  (out += ':') += std::to_string(url.port);
  if (url.db != 0) (out += '/') += std::to_string(url.db);
  return out;
}

}  // namespace bulwark::redis
