#pragma once
// The typed configuration: what a bulwark YAML file means once loaded and validated.
// Plain values only; the server compiles these into its runtime structures.

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace bulwark::config {

using Duration = std::chrono::milliseconds;

// "127.0.0.1:8080", "[::1]:8080", "localhost:8081".
struct Endpoint {
  std::string host;
  uint16_t port = 0;

  std::string to_string() const;  // host:port, IPv6 in brackets
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

// An IPv4 or IPv6 network in CIDR form; IPv4 is held as an IPv4-mapped IPv6 address so
// that one comparison covers both families.
struct IpNetwork {
  std::array<uint8_t, 16> address{};
  unsigned prefix_bits = 0;  // 0..128, counted on the mapped form

  bool contains(const std::array<uint8_t, 16>& ip) const;
  friend bool operator==(const IpNetwork&, const IpNetwork&) = default;
};

struct ServerLimits {
  uint64_t max_header_bytes = 16 * 1024;
  uint64_t max_body_bytes = 10 * 1024 * 1024;
  Duration header_timeout = std::chrono::seconds(10);
  Duration idle_timeout = std::chrono::seconds(60);
  uint32_t max_connections = 10000;
};

struct Server {
  Endpoint listen{"127.0.0.1", 8080};
  unsigned workers = 0;  // 0 = auto: one per core
  std::vector<IpNetwork> trusted_proxies;
  ServerLimits limits;
  Duration drain_timeout = std::chrono::seconds(15);
};

struct Admin {
  std::optional<Endpoint> listen = Endpoint{"127.0.0.1", 9901};  // nullopt: `listen: off`
};

enum class LogLevel { trace, debug, info, warn, error, off };

struct Log {
  LogLevel level = LogLevel::info;
  std::string access = "stdout";  // "stdout", "stderr", "off", or a file path
};

struct Upstream {
  std::string name;
  std::vector<Endpoint> targets;
  Duration connect_timeout = std::chrono::seconds(1);
  Duration timeout = std::chrono::seconds(30);  // request sent → response header, and body gaps
  uint32_t max_idle_per_target = 64;            // per worker
  unsigned line = 0;
};

struct RouteMatch {
  std::optional<std::string> host;         // exact (case-insensitive) or "*.example.com"
  std::optional<std::string> path;         // exact normalized path
  std::optional<std::string> path_prefix;  // see docs/configuration.md: segment-aware
  std::vector<std::string> methods;        // empty: any method
};

struct Route {
  std::string name;
  RouteMatch match;
  std::string upstream;
  unsigned line = 0;
};

struct Config {
  std::string source_path;
  Server server;
  Admin admin;
  Log log;
  std::vector<Upstream> upstreams;  // in file order
  std::vector<Route> routes;        // first match wins, in file order

  const Upstream* find_upstream(std::string_view name) const;
};

}  // namespace bulwark::config
