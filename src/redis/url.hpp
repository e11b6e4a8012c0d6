#pragma once
// The Redis connection URL:
//   redis://[user:password@]host[:port][/db][?connect_timeout=250ms&command_timeout=100ms]
//   redis://:password@host            (a password alone: AUTH password, the "default" user)
//   redis://[::1]:6380/2              (IPv6 in brackets)
// user and password are percent-decoded (write '%' as %25, ':' in a user name as %3A); the
// password may hold '@', ':' and '/' as they are, since the user info ends at the last '@'.
// rediss:// (TLS) is refused for now.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace bulwark::redis {

inline constexpr uint16_t kDefaultPort = 6379;
inline constexpr int kMaxDb = 15;
inline constexpr config::Duration kDefaultConnectTimeout = std::chrono::seconds(1);
inline constexpr config::Duration kDefaultCommandTimeout = std::chrono::milliseconds(250);

struct RedisUrl {
  std::string host;  // a host name, an IPv4 address, or an IPv6 address without brackets
  uint16_t port = kDefaultPort;
  std::string username;  // empty: AUTH with the password alone
  std::string password;  // empty: no AUTH (a URL with '@' always has one)
  int db = 0;            // SELECT it when not 0
  config::Duration connect_timeout = kDefaultConnectTimeout;
  config::Duration command_timeout = kDefaultCommandTimeout;

  bool needs_auth() const { return !password.empty(); }
  friend bool operator==(const RedisUrl&, const RedisUrl&) = default;
};

// Returns nullopt and sets `why` (when given) on bad input, e.g.
// "redis URL: port '99999' is out of range (1..65535)". Messages never contain the password
// (nor the user name: a password is sometimes written in its place by mistake).
std::optional<RedisUrl> parse_redis_url(std::string_view text, std::string* why = nullptr);

// The URL for logs and messages, password as "***": "redis://app:***@[::1]:6379/2".
std::string redacted(const RedisUrl& url);

}  // namespace bulwark::redis
