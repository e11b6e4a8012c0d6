#pragma once
// The typed configuration: what a bulwark YAML file means once loaded and validated.
// Plain values only; the server compiles these into its runtime structures.

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
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

// --- auth ---------------------------------------------------------------------------------

// One entry of an issuer's `keys` list: exactly one source is set (the loader checks).
// Paths are as written; relative ones are resolved against the config file's folder.
struct AuthKey {
  std::optional<std::string> alg;         // JWA name; required for secrets and PEMs, pins JWKS keys
  std::optional<std::string> kid;         // for secrets and PEMs (JWKS entries carry their own)
  std::optional<std::string> secret_env;  // HS*: the variable's value, at least 32 bytes
  std::optional<std::string> secret_file;      // HS*: the file's bytes (one trailing newline cut)
  std::optional<std::string> pem_file;         // a public key PEM
  std::optional<std::string> jwks_file;        // a JWK Set file
  std::optional<std::string> jwks_url;         // http:// or https://, fetched in the background
  Duration refresh = std::chrono::minutes(5);  // jwks_url: longest gap between fetches
  Duration unknown_kid_refetch = std::chrono::seconds(30);  // jwks_url: shortest gap for a kid miss
  Duration fetch_timeout = std::chrono::seconds(5);         // jwks_url: one fetch, connect to body
  std::optional<std::string> ca_file;  // jwks_url https: trust these CAs instead of the system's
  unsigned line = 0;
};

struct AuthIssuer {
  std::string name;                    // the key under auth.issuers; routes refer to it
  std::string issuer;                  // the exact "iss" value
  std::vector<std::string> audiences;  // "aud" must name one; empty: aud not checked
  std::optional<Duration> max_lifetime;
  bool require_exp = true;
  std::vector<AuthKey> keys;
  unsigned line = 0;
};

// Brute-force guard: failed authentications per client IP.
struct FailedAttempts {
  uint64_t limit = 20;  // failures allowed per `per`
  Duration per = std::chrono::minutes(1);
  Duration cooldown = std::chrono::minutes(5);  // then 429 for this long
};

struct Auth {
  Duration leeway = std::chrono::seconds(30);
  uint64_t token_cache_entries = 100'000;  // verified-token cache bound; 0 disables it
  std::vector<AuthIssuer> issuers;         // in file order
  std::optional<FailedAttempts> failed_attempts = FailedAttempts{};  // nullopt: `off`

  const AuthIssuer* find_issuer(std::string_view name) const;
};

enum class AuthMode { off, optional, required };

// Where a route reads the token from. Default: Authorization: Bearer (RFC 6750 §2.1).
struct TokenSource {
  enum class Kind { bearer, header, cookie } kind = Kind::bearer;
  std::string name;  // header or cookie name for header / cookie
};

struct ClaimCondition {
  std::string claim;  // a claim name, or a dotted path into nested objects: "realm.roles"
  enum class Op { equals, contains } op = Op::equals;
  std::string value;
};

struct RouteAuth {
  AuthMode mode = AuthMode::required;
  std::vector<std::string> issuers;    // names under auth.issuers; empty: every issuer
  std::vector<std::string> scopes;     // all required, from "scope" (space-separated) or "scp"
  std::vector<ClaimCondition> claims;  // all required
  std::vector<std::pair<std::string, std::string>> forward_claims;  // claim → header, in order
  TokenSource token;
  bool forward_token = true;  // false: the token's header (or cookie) is not sent upstream
  unsigned line = 0;
};

// --- limits -------------------------------------------------------------------------------

// One part of a rate-limit key: `client_ip`, `claim:NAME`, `header:NAME` or `route`.
struct LimitKeyPart {
  enum class Kind { client_ip, claim, header, route } kind = Kind::client_ip;
  std::string name;  // the claim (name or dotted path) or header name
  friend bool operator==(const LimitKeyPart&, const LimitKeyPart&) = default;
};

struct RateLimit {
  std::string name;               // the key under `limits`; routes refer to it
  uint64_t count = 0;             // `rate: 100/s` → count 100 ...
  Duration period{};              // ... per 1 s
  uint64_t burst = 0;             // requests allowed at once; 0: the same as count
  std::vector<LimitKeyPart> key;  // one part, or a composite `[claim:sub, route]`
  enum class Mode { enforce, shadow } mode = Mode::enforce;
  // A request without the key's value (no such claim or header): refused with 429, not
  // limited, or limited by its client IP instead.
  enum class Missing { reject, skip, client_ip } missing = Missing::client_ip;
  uint64_t cost = 1;                                           // per request
  std::vector<std::pair<std::string, uint64_t>> method_costs;  // method → cost, overriding it
  uint64_t max_keys = 100'000;  // keys held at once; idle ones are reclaimed first
  unsigned line = 0;

  uint64_t effective_burst() const { return burst == 0 ? count : burst; }
};

// Which rate-limit fields a limited route's responses carry.
enum class LimitHeaders { standard, legacy, both, off };

// --- cache ---------------------------------------------------------------------------------

// The top-level `cache:` section: the memory store every caching route shares. Optional:
// a route with `cache:` and no section uses these defaults.
struct CacheSettings {
  uint64_t memory_bytes = uint64_t{256} << 20;    // byte budget of all stored responses
  uint64_t max_object_bytes = uint64_t{1} << 20;  // larger bodies are relayed, not stored
  unsigned line = 0;
};

// A route's `cache:`: how its GET/HEAD responses are stored and keyed.
struct RouteCache {
  // shared: one entry per URL (and Vary values) for every caller; responses to requests with
  // Authorization only when they allow it (RFC 9111 §3.5), `private` never.
  // per_identity: the verified identity (the claim `identity_claim`) is part of the key;
  // `private` responses are stored for that identity alone. Needs auth on the route.
  enum class Scope { shared, per_identity } scope = Scope::shared;
  std::string identity_claim = "sub";     // claim name or dotted path
  bool sort_query = false;                // key on the query parameters in sorted order
  std::vector<std::string> ignore_query;  // parameter names left out of the key
  bool heuristic_freshness = false;  // RFC 9111 §4.2.2 from Last-Modified when nothing explicit
  // Concurrent misses for one key wait this long for the first one's response, then go
  // upstream themselves; 0 turns coalescing off.
  Duration coalesce_timeout{5000};
  unsigned line = 0;
};

// --- state ---------------------------------------------------------------------------------

// The top-level `state:` section: where the state instances share lives. Absent: each
// instance keeps its rate-limit counters, cache and revocations in its own memory.
struct StateSettings {
  // What a request that needs shared state gets while Redis is down or answering garbage:
  // fail_open serves it with this instance's memory (local limits, L1 cache only);
  // fail_closed answers 503.
  enum class OnFailure { fail_open, fail_closed };
  std::string redis_url;  // valid (redis/url.hpp); holds the password: log redis::redacted()
  OnFailure on_failure = OnFailure::fail_open;
  std::string prefix = "bulwark";  // every key starts "<prefix>:", so deployments can share a Redis
  uint64_t cache_max_object_bytes = uint64_t{256} << 10;  // larger bodies stay in L1 only
  unsigned line = 0;
};

struct Route {
  std::string name;
  RouteMatch match;
  std::string upstream;
  std::optional<RouteAuth> auth;    // nullopt: no auth on this route (same as mode: off)
  std::vector<std::string> limits;  // names under `limits`, all must pass
  LimitHeaders limit_headers = LimitHeaders::standard;
  std::optional<RouteCache> cache;  // nullopt: responses are never stored
  unsigned line = 0;
};

struct Config {
  std::string source_path;
  Server server;
  Admin admin;
  Log log;
  std::vector<Upstream> upstreams;     // in file order
  std::vector<Route> routes;           // first match wins, in file order
  std::optional<Auth> auth;            // the `auth:` section, when present
  std::vector<RateLimit> limits;       // the `limits:` section, in file order
  std::optional<CacheSettings> cache;  // the `cache:` section, when present
  std::optional<StateSettings> state;  // the `state:` section, when present

  const RateLimit* find_limit(std::string_view name) const;

  const Upstream* find_upstream(std::string_view name) const;
};

}  // namespace bulwark::config
