// YAML → Config. The loader walks the document once, section by section, and keeps going
// after a bad value so that one run of `bulwark check` reports every mistake in the file.

#include "config/loader.hpp"

#include <yaml-cpp/yaml.h>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <span>
#include <sstream>

#include "auth/algorithm.hpp"
#include "config/suggest.hpp"
#include "config/units.hpp"
#include "redis/url.hpp"

namespace bulwark::config {

std::string ConfigError::to_string() const {
  std::string text = file;
  if (line > 0) text += ":" + std::to_string(line);
  text += ": ";
  if (!key.empty()) text += key + ": ";
  return text + message;
}

namespace {

constexpr unsigned kMaxWorkers = 256;
constexpr uint64_t kMinHeaderBytes = 1024;
constexpr uint64_t kMaxHeaderBytes = 1024 * 1024;
constexpr uint64_t kMaxIdlePerTarget = 10000;
constexpr uint64_t kMaxTokenCacheEntries = 10'000'000;
constexpr Duration kMaxLeeway = std::chrono::minutes(5);

// Sections of the example config that later versions add; named so the error can say so.

constexpr std::string_view kLogLevelNames[] = {"trace", "debug", "info", "warn", "error", "off"};
constexpr LogLevel kLogLevels[] = {LogLevel::trace, LogLevel::debug, LogLevel::info,
                                   LogLevel::warn,  LogLevel::error, LogLevel::off};

// A node of the document with its place: the dotted key path and the 1-based line.
struct Value {
  YAML::Node node;
  std::string path;
  unsigned line = 0;
};

// One key of a mapping; `key_line` is where the key itself is written.
struct Entry {
  std::string name;
  unsigned key_line = 0;
  Value value;
};

struct Field {
  std::string_view name;
  std::function<void(const Value&)> load;
};

using SeenKeys = std::set<std::string, std::less<>>;

unsigned line_of(const YAML::Node& node) {
  const int line = node.Mark().line;
  return line >= 0 ? static_cast<unsigned>(line) + 1 : 0;
}

std::string child_path(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return std::string(parent) + "." + std::string(key);
}

// Appends rather than `"'" + ... + "'"`, which trips a GCC 12 -Wrestrict false positive.
std::string in_quotes(std::string_view text) {
  std::string result;
  result.reserve(text.size() + 2);
  result.append(1, '\'').append(text).append(1, '\'');
  return result;
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Scalar:
      return in_quotes(node.Scalar());
    default:
      return "nothing";
  }
}

std::string join(std::span<const std::string_view> names) {
  std::string joined;
  for (std::string_view name : names) {
    if (!joined.empty()) joined += ", ";
    joined += name;
  }
  return joined;
}

std::vector<std::string_view> field_names(std::span<const Field> fields) {
  std::vector<std::string_view> names;
  for (const Field& field : fields) names.push_back(field.name);
  return names;
}

std::string unknown_key_message(std::string_view key, std::span<const Field> fields,
                                std::span<const std::string_view> later_keys) {
  if (std::find(later_keys.begin(), later_keys.end(), key) != later_keys.end()) {
    return in_quotes(key) +
           " is not supported by this version of bulwark (it arrives in a later version): "
           "remove it";
  }
  if (key == "<<") {
    return "YAML merge keys ('<<') are not supported by the YAML library bulwark uses: write "
           "the keys out (an alias of a whole mapping, as in 'api2: *api', does work)";
  }
  const auto names = field_names(fields);
  const std::string hint = closest_match(key, names);
  if (!hint.empty()) {
    return "unknown key " + in_quotes(key) + ": did you mean " + in_quotes(hint) + "?";
  }
  return "unknown key " + in_quotes(key) + ": the keys allowed here are " + join(names);
}

bool is_name(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

bool is_digits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_hex(char c) {
  return std::isxdigit(static_cast<unsigned char>(c)) != 0;
}

bool is_unreserved(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
         c == '~';
}

// RFC 9110 token characters.
bool is_tchar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string to_upper(std::string_view text) {
  std::string upper(text);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return upper;
}

std::string to_lower(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower;
}

// Why a percent escape at `path[i]` differs from what the path normalizer produces, or "".
std::string escape_problem(std::string_view path, size_t i) {
  if (i + 2 >= path.size() || !is_hex(path[i + 1]) || !is_hex(path[i + 2])) {
    return "'%' must start an escape of two hex digits, like %20";
  }
  const std::string escape(path.substr(i, 3));
  const char decoded = static_cast<char>(std::stoi(escape.substr(1), nullptr, 16));
  if (decoded == '/' || decoded == '\\' || decoded == '\0') {
    return escape + " is refused in request paths, so this route could never match";
  }
  if (is_unreserved(decoded)) {
    return "write " + in_quotes(std::string(1, decoded)) + " rather than " + escape +
           ": such escapes are decoded before routing";
  }
  if (escape != to_upper(escape)) {
    return "write the escape as " + to_upper(escape) + ": escapes are upper-cased before routing";
  }
  return "";
}

// Why `path` can never equal a normalized request path (src/http/path_normalizer.hpp), or "".
std::string path_problem(std::string_view path) {
  if (path.empty() || path.front() != '/') {
    return "must start with '/': write " + in_quotes("/" + std::string(path));
  }
  for (size_t i = 0; i < path.size(); ++i) {
    const auto c = static_cast<unsigned char>(path[i]);
    if (c == '?') return "a route path holds no query ('?'): queries are not used for routing";
    if (c == '#') return "a route path holds no fragment ('#'): clients never send one";
    if (c <= 0x20 || c >= 0x7f) {
      return "spaces, control characters and non-ASCII characters must be percent-encoded";
    }
    if (c == '\\' || c == ';') {
      return "'\\' and ';' are refused in request paths, so this route could never match";
    }
    if (c == '%') {
      const std::string problem = escape_problem(path, i);
      if (!problem.empty()) return problem;
    }
  }
  if (path.find("//") != std::string_view::npos) {
    return "holds '//', which becomes '/' before routing, so it could never match";
  }
  const std::string with_end = std::string(path) + "/";
  if (with_end.find("/./") != std::string::npos || with_end.find("/../") != std::string::npos) {
    return "holds a '.' or '..' segment, which is resolved before routing, so it could never "
           "match";
  }
  return "";
}

// Why `host` is not a route host ("api.example.com" or "*.example.com"), or "".
std::string host_problem(std::string_view host) {
  if (host.empty() || host == "*") return "leave host out to match any host";
  if (host.front() == '[') return "IPv6 literals are not supported as route hosts";
  if (host.find(':') != std::string_view::npos) {
    return "write the host name alone: the port is ignored when matching hosts";
  }
  if (host.back() == '.') {
    return "drop the trailing dot: write " + in_quotes(host.substr(0, host.size() - 1));
  }
  const std::string_view name = host.starts_with("*.") ? host.substr(2) : host;
  if (name.find('*') != std::string_view::npos) {
    return "a wildcard is allowed only as the whole first label, as in '*.example.com'";
  }
  if (!is_hostname(name)) return in_quotes(host) + " is not a valid host name";
  return "";
}

std::string method_problem(std::string_view method) {
  if (std::any_of(method.begin(), method.end(), [](char c) { return c >= 'a' && c <= 'z'; })) {
    return "methods are case-sensitive: write " + in_quotes(to_upper(method));
  }
  if (method.empty() || !std::all_of(method.begin(), method.end(), is_tchar)) {
    return in_quotes(method) + " is not a method name: write names like GET or POST";
  }
  return "";
}

// The paths a route matches, in the terms of docs/configuration.md.
bool prefix_matches(std::string_view prefix, std::string_view path) {
  if (prefix.ends_with('/')) return path.starts_with(prefix);
  return path == prefix || path.starts_with(std::string(prefix) + "/");
}

bool matches_any_path(const RouteMatch& m) {
  return !m.path && (!m.path_prefix || *m.path_prefix == "/");
}

bool host_covers(const RouteMatch& a, const RouteMatch& b) {
  if (!a.host) return true;
  if (!b.host) return false;
  if (!a.host->starts_with("*.")) return *a.host == *b.host;
  const std::string_view suffix = std::string_view(*a.host).substr(1);  // ".example.com"
  const std::string_view other =
      b.host->starts_with("*.") ? std::string_view(*b.host).substr(1) : *b.host;
  return other.ends_with(suffix);
}

bool path_covers(const RouteMatch& a, const RouteMatch& b) {
  if (matches_any_path(a)) return true;
  if (matches_any_path(b)) return false;
  if (a.path) return b.path == a.path;
  if (b.path) return prefix_matches(*a.path_prefix, *b.path);
  const std::string& outer = *a.path_prefix;
  const std::string& inner = *b.path_prefix;
  if (outer.ends_with('/')) return inner.starts_with(outer);
  return inner == outer || inner.starts_with(outer + "/");
}

bool methods_cover(const RouteMatch& a, const RouteMatch& b) {
  if (a.methods.empty()) return true;
  if (b.methods.empty()) return false;
  return std::all_of(b.methods.begin(), b.methods.end(), [&](const std::string& method) {
    return std::find(a.methods.begin(), a.methods.end(), method) != a.methods.end();
  });
}

// Whether every request that `b` matches is matched by `a` too.
bool covers(const RouteMatch& a, const RouteMatch& b) {
  return host_covers(a, b) && path_covers(a, b) && methods_cover(a, b);
}

bool matches_every_request(const RouteMatch& m) {
  return !m.host && matches_any_path(m) && m.methods.empty();
}

bool is_wildcard_address(std::string_view host) {
  return host == "0.0.0.0" || host == "::";
}

bool listeners_clash(const Endpoint& a, const Endpoint& b) {
  if (a.port != b.port) return false;
  return a.host == b.host || is_wildcard_address(a.host) || is_wildcard_address(b.host);
}

// --- auth: rules on single values ---------------------------------------------------------

constexpr std::string_view kKeySources[] = {"secret_env", "secret_file", "pem_file", "jwks_file",
                                            "jwks_url"};
constexpr std::string_view kJwksUrlOptions[] = {"refresh", "unknown_kid_refetch", "fetch_timeout",
                                                "ca_file"};

constexpr std::string_view kTokenSources[] = {"header", "cookie"};
constexpr std::string_view kClaimOperators[] = {"equals", "contains"};

constexpr std::string_view kAuthModeNames[] = {"required", "optional", "off"};
constexpr AuthMode kAuthModes[] = {AuthMode::required, AuthMode::optional, AuthMode::off};

// Headers that frame messages, or that bulwark sets or reads itself, in lower case: a claim is
// never forwarded in one, and a token is never read from one.
// clang-format off
constexpr std::string_view kOwnedHeaders[] = {
    "host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer",
    "upgrade", "proxy-connection", "proxy-authorization", "expect", "authorization", "cookie",
    "forwarded", "via", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-real-ip",
    "x-request-id"};
// clang-format on

bool is_empty_list(const YAML::Node& node) {
  return node.IsNull() || (node.IsSequence() && node.size() == 0);
}

bool is_owned_header(std::string_view name) {
  const std::string lower = to_lower(name);
  return std::find(std::begin(kOwnedHeaders), std::end(kOwnedHeaders), lower) !=
         std::end(kOwnedHeaders);
}

bool is_token(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), is_tchar);
}

std::vector<std::string_view> algorithm_names() {
  std::vector<std::string_view> names;
  for (auth::Algorithm alg : auth::kAllAlgorithms) names.push_back(auth::algorithm_name(alg));
  return names;
}

bool is_hmac(std::string_view alg) {
  const auto parsed = auth::algorithm_from_name(alg);
  return parsed && auth::algorithm_family(*parsed) == auth::AlgorithmFamily::hmac;
}

// Why `name` is not a registered JWA algorithm name (RFC 7518 §3.1), or "".
std::string algorithm_problem(std::string_view name) {
  if (auth::algorithm_from_name(name)) return "";
  if (to_lower(name) == "none") {
    return "'none' means an unsigned token, which bulwark never accepts: name the algorithm "
           "the key verifies, like HS256 or ES256";
  }
  const auto names = algorithm_names();
  const std::string hint = closest_match(name, names);
  return "unknown algorithm " + in_quotes(name) +
         (hint.empty() ? "" : ": did you mean " + in_quotes(hint) + "?") +
         " (names are case-sensitive: " + join(names) + ")";
}

// Why `name` is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*), or "".
std::string env_name_problem(std::string_view name) {
  const bool valid = !name.empty() && !is_digits(name.substr(0, 1)) &&
                     std::all_of(name.begin(), name.end(), [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                     });
  if (valid) return "";
  if (name.starts_with('$')) {
    std::string bare(name.substr(1));
    if (bare.starts_with('{') && bare.ends_with('}')) bare = bare.substr(1, bare.size() - 2);
    return "write the variable's name without '$': " + in_quotes(bare);
  }
  return "expected the name of an environment variable (letters, digits and '_', not starting "
         "with a digit), like BULWARK_HS256_SECRET: the secret itself never goes in the file";
}

// Why `text` is not a URL bulwark can fetch a JWK Set from, or "".
std::string jwks_url_problem(std::string_view text) {
  if (text.find('#') != std::string_view::npos) {
    return "remove the fragment ('#...'): it is never sent to the server";
  }
  const auto parsed = boost::urls::parse_absolute_uri(text);
  if (!parsed) {
    return "expected an absolute URL like https://idp.example.com/.well-known/jwks.json, got " +
           in_quotes(text);
  }
  const std::string scheme = to_lower(parsed->scheme());
  if (scheme != "http" && scheme != "https") {
    return "the scheme must be https or http, not " + in_quotes(parsed->scheme());
  }
  if (!parsed->has_authority() || parsed->encoded_host().empty()) {
    return "the URL names no host: write it like https://idp.example.com/.well-known/jwks.json";
  }
  if (parsed->has_userinfo()) {
    return "credentials in the URL ('user@') are not supported: publish the JWK Set without "
           "them";
  }
  return "";
}

bool is_https(std::string_view url) {
  return to_lower(url.substr(0, 8)) == "https://";
}

// Why `claim` is not a claim name or dotted path ("realm_access.roles"), or "".
std::string claim_problem(std::string_view claim) {
  if (claim.empty()) return "a claim name cannot be empty";
  if (claim.front() == '.' || claim.back() == '.' || claim.find("..") != std::string::npos) {
    return "a dotted claim path needs a name between every two dots, like realm_access.roles";
  }
  return "";
}

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
std::string scope_problem(std::string_view scope) {
  if (scope.find(' ') != std::string_view::npos) {
    return "a scope holds no spaces (the \"scope\" claim is space-separated): list " +
           in_quotes(scope) + " as separate scopes, like [read, write]";
  }
  const bool valid = std::all_of(scope.begin(), scope.end(), [](char c) {
    return c >= 0x21 && c <= 0x7e && c != '"' && c != '\\';
  });
  return valid ? ""
               : in_quotes(scope) + " is not a scope: use printable ASCII without '\"' or '\\'";
}

// Why a claim may not be forwarded in the header `name`, or "".
std::string forwarded_header_problem(std::string_view name) {
  if (!is_token(name)) {
    return in_quotes(name) + " is not a header name: use letters, digits and '-', like X-User-Id";
  }
  if (name.find('_') != std::string_view::npos) {
    std::string dashed(name);
    std::replace(dashed.begin(), dashed.end(), '_', '-');
    return "bulwark drops header names that hold '_': write " + in_quotes(dashed);
  }
  if (is_owned_header(name)) {
    return in_quotes(name) +
           " is a header that frames messages or that bulwark sets or reads itself: forward "
           "the claim in a header of its own, like X-User-Id";
  }
  return "";
}

// Why a token cannot be read from the header `name` (Authorization excepted), or "".
std::string token_header_problem(std::string_view name) {
  if (!is_token(name)) {
    return in_quotes(name) + " is not a header name: use letters, digits and '-', like X-Api-Token";
  }
  if (name.find('_') != std::string_view::npos) {
    return "bulwark drops header names that hold '_', so the token would never arrive";
  }
  if (to_lower(name) == "cookie") return "to read the token from a cookie, write {cookie: NAME}";
  if (is_owned_header(name)) {
    return in_quotes(name) +
           " is a header that frames messages or that bulwark sets itself: read the token from "
           "a header of its own, like X-Api-Token";
  }
  return "";
}

// Where `key` is written in the mapping `map`: its 0-based line and column, or {-1, -1}.
std::pair<int, int> key_position(const YAML::Node& map, std::string_view key) {
  if (!map.IsMap()) return {-1, -1};
  for (const auto& pair : map) {
    if (pair.first.IsScalar() && pair.first.Scalar() == key) {
      return {pair.first.Mark().line, pair.first.Mark().column};
    }
  }
  return {-1, -1};
}

// The 1-based line where `key` is written in the mapping `map`, or 0.
unsigned key_line(const YAML::Node& map, std::string_view key) {
  const int line = key_position(map, key).first;
  return line >= 0 ? static_cast<unsigned>(line) + 1 : 0;
}

// Whether a key of `map` outside `fields` reads as a misspelling of one of `names`: the
// unknown-key error already says what to write, so a "missing" error would only echo it.
bool misspells(const YAML::Node& map, std::span<const Field> fields,
               std::span<const std::string_view> names) {
  if (!map.IsMap()) return false;
  const auto known = field_names(fields);
  for (const auto& pair : map) {
    if (!pair.first.IsScalar()) continue;
    const std::string& key = pair.first.Scalar();
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    const std::string hint = closest_match(key, known);
    if (std::find(names.begin(), names.end(), hint) != names.end()) return true;
  }
  return false;
}

// --- limits: rules on single values -------------------------------------------------------

constexpr uint64_t kMaxBurst = 1'000'000'000;
constexpr uint64_t kMaxCost = 1'000'000;
constexpr uint64_t kMaxLimitKeys = 100'000'000;
constexpr uint64_t kNanosPerMilli = 1'000'000;

constexpr std::string_view kLimitModeNames[] = {"enforce", "shadow"};
constexpr RateLimit::Mode kLimitModes[] = {RateLimit::Mode::enforce, RateLimit::Mode::shadow};
constexpr std::string_view kMissingNames[] = {"reject", "skip", "client_ip"};
constexpr RateLimit::Missing kMissingPolicies[] = {
    RateLimit::Missing::reject, RateLimit::Missing::skip, RateLimit::Missing::client_ip};
constexpr std::string_view kLimitHeadersNames[] = {"standard", "legacy", "both", "off"};
constexpr LimitHeaders kLimitHeaders[] = {LimitHeaders::standard, LimitHeaders::legacy,
                                          LimitHeaders::both, LimitHeaders::off};
constexpr std::string_view kKeyKinds[] = {"client_ip", "route", "claim", "header"};
constexpr std::string_view kKeyParts = "client_ip, route, claim:NAME, header:NAME";

// A word that is no close misspelling of any name, but plainly means one of them.
struct Alias {
  std::string_view word;
  std::string_view meant;
};

// clang-format off
constexpr Alias kLimitModeAliases[] = {
    {"dry_run", "shadow"}, {"dry-run", "shadow"}, {"dryrun", "shadow"}, {"log", "shadow"},
    {"log_only", "shadow"}, {"monitor", "shadow"}, {"report", "shadow"}, {"on", "enforce"},
    {"true", "enforce"}};
constexpr Alias kMissingAliases[] = {
    {"deny", "reject"}, {"refuse", "reject"}, {"block", "reject"}, {"429", "reject"},
    {"allow", "skip"}, {"pass", "skip"}, {"ignore", "skip"}, {"ip", "client_ip"}};
constexpr Alias kLimitHeadersAliases[] = {
    {"draft", "standard"}, {"ietf", "standard"}, {"x-ratelimit", "legacy"},
    {"none", "off"}, {"false", "off"}, {"no", "off"}};
// clang-format on

// Headers that carry the client's address as the client wrote it: keyed on directly, a
// client picks its own bucket. client_ip reads them from trusted proxies only.
constexpr std::string_view kAddressHeaders[] = {"x-forwarded-for", "forwarded", "x-real-ip"};

// Whether `word` reads as the client's address ("ip", "remote_addr", "peer"...).
bool means_client_ip(std::string_view word) {
  const std::string lower = to_lower(word);
  return lower == "ip" || lower == "peer" || lower == "client" || lower.ends_with("_ip") ||
         lower.ends_with("-ip") || lower.find("addr") != std::string::npos;
}

std::string key_part_text(const LimitKeyPart& part) {
  switch (part.kind) {
    case LimitKeyPart::Kind::client_ip:
      return "client_ip";
    case LimitKeyPart::Kind::route:
      return "route";
    case LimitKeyPart::Kind::claim:
      return "claim:" + part.name;
    case LimitKeyPart::Kind::header:
      return "header:" + part.name;
  }
  return "";
}

// Header names compare case-insensitively, claims exactly.
bool same_key_part(const LimitKeyPart& a, const LimitKeyPart& b) {
  if (a.kind != b.kind) return false;
  if (a.kind == LimitKeyPart::Kind::header) return to_lower(a.name) == to_lower(b.name);
  return a.name == b.name;
}

bool has_claim_part(const RateLimit& limit) {
  return std::any_of(limit.key.begin(), limit.key.end(), [](const LimitKeyPart& part) {
    return part.kind == LimitKeyPart::Kind::claim;
  });
}

// Why `name` (after "header:") cannot key a limit, or "".
std::string key_header_problem(std::string_view name) {
  if (!is_token(name)) {
    return in_quotes(name) +
           " is not a header name: use letters, digits and !#$%&'*+-.^_`|~ (an RFC 9110 "
           "token), like header:X-Api-Key";
  }
  const std::string lower = to_lower(name);
  if (std::find(std::begin(kAddressHeaders), std::end(kAddressHeaders), lower) !=
      std::end(kAddressHeaders)) {
    return "any client can write " + in_quotes(name) +
           ", and so choose its own bucket: key on client_ip, which reads the client's address "
           "from it only when the peer is in server.trusted_proxies";
  }
  return "";
}

// The highest count `period` allows: one request per nanosecond.
uint64_t max_rate_count(Duration period) {
  return static_cast<uint64_t>(period.count()) * kNanosPerMilli;
}

// --- cache: rules on single values --------------------------------------------------------

constexpr uint64_t kMinCacheMemory = uint64_t{1} << 20;
constexpr uint64_t kMinCacheObject = uint64_t{1} << 10;
constexpr Duration kMaxCoalesceTimeout = std::chrono::seconds(60);

constexpr std::string_view kOnFailureNames[] = {"fail_open", "fail_closed"};
constexpr StateSettings::OnFailure kOnFailures[] = {StateSettings::OnFailure::fail_open,
                                                    StateSettings::OnFailure::fail_closed};
constexpr Alias kOnFailureAliases[] = {{"open", "fail_open"},      {"closed", "fail_closed"},
                                       {"fail-open", "fail_open"}, {"fail-closed", "fail_closed"},
                                       {"failopen", "fail_open"},  {"failclosed", "fail_closed"}};

constexpr std::string_view kCacheScopeNames[] = {"shared", "per_identity"};
constexpr RouteCache::Scope kCacheScopes[] = {RouteCache::Scope::shared,
                                              RouteCache::Scope::per_identity};
// clang-format off
constexpr Alias kCacheScopeAliases[] = {
    {"public", "shared"}, {"true", "shared"}, {"on", "shared"}, {"private", "per_identity"},
    {"identity", "per_identity"}, {"per_user", "per_identity"}, {"user", "per_identity"}};
// clang-format on
// Words that mean "no cache", which is written by leaving the key out.
constexpr std::string_view kNoCacheWords[] = {"off", "false", "no", "none", "disabled"};

// A size in the largest unit that divides it exactly, as the file would write it.
std::string size_text(uint64_t bytes) {
  struct SizeUnit {
    uint64_t factor;
    std::string_view name;
  };
  constexpr SizeUnit kUnits[] = {{uint64_t{1} << 30, "GiB"}, {1'000'000'000, "GB"},
                                 {uint64_t{1} << 20, "MiB"}, {1'000'000, "MB"},
                                 {uint64_t{1} << 10, "KiB"}, {1'000, "KB"}};
  for (const SizeUnit& unit : kUnits) {
    if (bytes > 0 && bytes % unit.factor == 0) {
      return std::to_string(bytes / unit.factor) + std::string(unit.name);
    }
  }
  return std::to_string(bytes) + " bytes";
}

// Why `claim` cannot name the identity of a per_identity entry, or "".
std::string identity_claim_problem(std::string_view claim) {
  if (claim.starts_with("claim:")) {
    return "write the claim's name alone: identity_claim: " + std::string(claim.substr(6));
  }
  return claim_problem(claim);
}

// Why `name` can never equal a query parameter's name as the cache key compares it (the raw
// bytes before any '='), or "".
std::string query_name_problem(std::string_view name) {
  if (name.find('&') != std::string_view::npos) {
    std::string list;
    for (char c : name) list += c == '&' ? std::string(", ") : std::string(1, c);
    return "'&' separates parameters, so no name holds it: list each name on its own, like [" +
           list + "]";
  }
  if (const size_t equals = name.find('='); equals != std::string_view::npos) {
    const std::string bare(name.substr(0, equals));
    if (bare.empty()) return "'=' starts a parameter's value, so no name holds it";
    return "write the parameter's name alone: " + in_quotes(bare) +
           " leaves the parameter out of the key whatever its value";
  }
  const bool raw = std::any_of(name.begin(), name.end(), [](char c) {
    return static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f;
  });
  if (raw) {
    return "spaces, control characters and non-ASCII characters never appear raw in a query: "
           "write the name percent-encoded, as clients send it";
  }
  return "";
}

// Where a route's parts sit, for the checks that compare routes with each other.
struct RouteSite {
  std::string path;  // "routes[2]"
  unsigned name_line = 0;
  bool match_valid = false;
};

// One list of strings in the auth sections: each non-empty and listed once. A single string
// stands for a list of one.
struct StringRules {
  std::string_view expected;                             // "an audience like api"
  std::string_view example;                              // "[api, admin]"
  std::function<std::string(std::string_view)> problem;  // "" when the string is fine
};

// One entry of an issuer's `keys`, for the rules between its keys.
struct KeySite {
  const Value& item;
  std::span<const Field> fields;
  const SeenKeys& seen;

  bool has(std::string_view key) const { return seen.contains(key); }
  unsigned line(std::string_view key) const { return key_line(item.node, key); }
  std::string path(std::string_view key) const { return child_path(item.path, key); }
};

// Where a piece of text (a header name, an issuer's "iss") is written, for checks across
// entries.
struct TextSite {
  std::string name;
  unsigned line = 0;
  std::string path;
};

// One cost of a limit as written: the default (method "") or a method's.
struct CostSite {
  std::string method;
  uint64_t cost = 0;
  unsigned line = 0;
  std::string path;
};

// Where a route's `cache` and its scope and identity_claim are written, for the checks
// against the route's auth and methods.
struct CacheSite {
  std::string path;  // "routes[2].cache"
  unsigned line = 0;
  bool shorthand = false;   // `cache: per_identity`
  bool scope_known = true;  // false: the scope was refused, so checks on it would only echo
  unsigned scope_line = 0;
  std::string scope_path;
  unsigned identity_claim_line = 0;  // 0: not written, or refused
};

class Loader {
 public:
  explicit Loader(std::string source) { config_.source_path = std::move(source); }

  LoadResult load(const std::string& text);
  LoadResult fail(std::string message);

 private:
  void error(unsigned line, std::string key, std::string message);
  void error(const Value& at, std::string message) { error(at.line, at.path, std::move(message)); }
  LoadResult finish();

  // Shapes.
  std::optional<std::vector<Entry>> entries(const Value& map, std::string_view expected);
  std::optional<SeenKeys> load_fields(const Value& map, std::span<const Field> fields,
                                      std::span<const std::string_view> later_keys = {});
  std::vector<Value> items(const Value& list, std::string_view example);
  std::optional<std::string> scalar(const Value& v, std::string_view expected);

  // Values.
  std::optional<Duration> duration(const Value& v, bool positive);
  std::optional<uint64_t> size(const Value& v);
  std::optional<uint64_t> whole_number(const Value& v, uint64_t min, uint64_t max);
  std::optional<Endpoint> endpoint(const Value& v, std::string_view example);
  std::optional<Rate> rate(const Value& v);
  std::optional<bool> boolean(const Value& v);
  std::optional<std::string> non_empty(const Value& v, std::string_view expected);
  std::optional<std::string> checked(const Value& v, std::string_view expected,
                                     std::string (*problem)(std::string_view));
  std::vector<std::string> strings(const Value& v, const StringRules& rules);

  // Sections.
  void load_root(const YAML::Node& root);
  void load_server(const Value& section);
  void load_workers(const Value& v);
  void load_trusted_proxies(const Value& v);
  void load_server_limits(const Value& section);
  void load_admin(const Value& section);
  void load_log(const Value& section);
  void load_log_level(const Value& v);
  void load_upstreams(const Value& section);
  void load_upstream(const Entry& entry);
  void load_targets(const Value& v, std::vector<Endpoint>& targets);
  void load_routes(const Value& section);
  void load_route(const Value& item);
  void load_route_upstream(const Value& v, std::string& upstream);
  void load_match(const Value& section, RouteMatch& match);
  void load_host(const Value& v, std::optional<std::string>& host);
  void load_methods(const Value& v, std::vector<std::string>& methods);

  // The `auth` section.
  void load_auth(const Value& section);
  void load_leeway(const Value& v, Duration& leeway);
  void load_failed_attempts(const Value& v, std::optional<FailedAttempts>& guard);
  void load_issuers(const Value& section);
  TextSite load_issuer(const Entry& entry);
  void check_issuer_required_keys(const Entry& entry, std::span<const Field> fields,
                                  const SeenKeys& seen);
  void check_distinct_issuers(std::span<const TextSite> iss_sites);
  void load_audiences(const Value& v, std::vector<std::string>& audiences);
  void load_keys(const Value& v, std::vector<AuthKey>& keys);
  AuthKey load_key(const Value& item);
  std::optional<Duration> fetch_gap(const Value& v);
  std::optional<std::string_view> key_source(const KeySite& site);
  void check_key_alg(const KeySite& site, const AuthKey& key, std::string_view source);
  void check_key_options(const KeySite& site, const AuthKey& key, std::string_view source);

  // A route's `auth`.
  RouteAuth load_route_auth(const Value& v, unsigned line);
  std::optional<AuthMode> auth_mode(const Value& v);
  bool load_route_auth_fields(const Value& section, RouteAuth& auth);
  void check_mode_off_alone(const Value& section, unsigned mode_line, std::span<const Field> fields,
                            const SeenKeys& seen);
  void check_route_has_issuers(const std::string& path, unsigned line);
  void load_route_issuers(const Value& v, std::vector<std::string>& names);
  std::string issuer_name_problem(std::string_view name) const;
  void load_require(const Value& section, RouteAuth& auth);
  void load_claim_conditions(const Value& section, std::vector<ClaimCondition>& claims);
  std::optional<ClaimCondition> claim_condition(const Entry& entry);
  void load_forward_claims(const Value& section,
                           std::vector<std::pair<std::string, std::string>>& forward);
  void load_token_source(const Value& section, TokenSource& token);
  void load_token_header(const Value& v, TokenSource& token);
  void load_token_cookie(const Value& v, TokenSource& token);

  // The `limits` section.
  void load_limits(const Value& section);
  void load_limit(const Entry& entry);
  std::optional<Rate> limit_rate(const Value& v);
  bool load_limit_key(const Value& v, std::vector<LimitKeyPart>& key);
  std::optional<LimitKeyPart> key_part(const Value& v);
  std::optional<LimitKeyPart> named_key_part(const Value& v, std::string_view kind,
                                             std::string_view name);
  std::string unknown_key_part(std::string_view text) const;
  void load_limit_cost(const Value& v, RateLimit& limit, std::vector<CostSite>& costs);
  void load_method_costs(const Value& v, RateLimit& limit, std::vector<CostSite>& costs);
  void check_missing_policy(const Entry& entry, const RateLimit& limit);
  void check_costs(const RateLimit& limit, std::span<const CostSite> costs);
  std::optional<size_t> one_of(const Value& v, std::string_view what,
                               std::span<const std::string_view> names,
                               std::span<const Alias> aliases);

  // A route's `limits` and `limit_headers`.
  std::vector<Value> load_route_limits(const Value& v, std::vector<std::string>& names);
  std::string limit_name_problem(std::string_view name) const;
  void check_route_limit_auth(const Route& route, std::span<const Value> limit_sites);

  // The `cache` section.
  void load_cache(const Value& section, unsigned line);
  // The `state` section.
  void load_state(const Value& section, unsigned line);
  void load_state_url(const Value& v, StateSettings& state);
  void load_state_prefix(const Value& v, StateSettings& state);
  std::optional<uint64_t> size_at_least(const Value& v, uint64_t min, std::string_view example);
  void check_cache_object_fits(const CacheSettings& cache, const std::optional<Value>& memory,
                               const std::optional<Value>& max_object);

  // A route's `cache`.
  RouteCache load_route_cache(const Value& v, unsigned line, CacheSite& site);
  void load_route_cache_fields(const Value& section, RouteCache& cache, CacheSite& site);
  std::optional<RouteCache::Scope> cache_scope(const Value& v);
  std::optional<Duration> coalesce_timeout(const Value& v);
  void check_cache_identity(const Route& route, const CacheSite& site);
  void check_cache_methods(const Route& route, const CacheSite& site);

  // Checks across sections.
  void check_route_names();
  void check_shadowed_routes();
  void check_listeners();
  void check_token_headers();
  void check_limit_key_headers();

  Config config_;
  std::vector<ConfigError> errors_;
  std::vector<RouteSite> route_sites_;       // parallel to config_.routes
  bool upstreams_valid_ = true;              // false: route → upstream checks would only echo it
  bool issuers_valid_ = true;                // false: route → issuer checks would only echo it
  bool limits_valid_ = true;                 // false: route → limit checks would only echo it
  bool limits_section_ = false;              // a `limits:` section was given
  std::vector<TextSite> limit_key_headers_;  // every limit's header:NAME key parts
  std::vector<TextSite> forwarded_headers_;  // every route's forward_claims headers
  std::vector<TextSite> token_headers_;      // every route's token: {header: ...}
  unsigned server_listen_line_ = 0;
  unsigned admin_listen_line_ = 0;
};

void Loader::error(unsigned line, std::string key, std::string message) {
  errors_.push_back({config_.source_path, line, std::move(key), std::move(message)});
}

LoadResult Loader::fail(std::string message) {
  error(0, "", std::move(message));
  return finish();
}

// Errors come out in file order; those without a line (missing sections) last.
LoadResult Loader::finish() {
  std::stable_sort(errors_.begin(), errors_.end(), [](const auto& a, const auto& b) {
    const unsigned a_line = a.line == 0 ? UINT_MAX : a.line;
    const unsigned b_line = b.line == 0 ? UINT_MAX : b.line;
    return a_line < b_line;
  });
  LoadResult result;
  result.errors = std::move(errors_);
  if (result.errors.empty()) result.config = std::move(config_);
  return result;
}

LoadResult Loader::load(const std::string& text) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    const unsigned line = e.mark.line >= 0 ? static_cast<unsigned>(e.mark.line) + 1 : 0;
    const std::string column =
        e.mark.column >= 0 ? " (column " + std::to_string(e.mark.column + 1) + ")" : "";
    error(line, "", "YAML syntax error: " + e.msg + column);
    return finish();
  }
  if (documents.empty() || documents.front().IsNull()) {
    return fail("the file is empty: a config needs at least 'upstreams' and 'routes'");
  }
  if (documents.size() > 1) {
    error(line_of(documents[1]), "",
          "the file holds " + std::to_string(documents.size()) +
              " YAML documents (separated by '---'): bulwark reads one; remove the others");
  }
  try {
    load_root(documents.front());
  } catch (const std::exception& e) {  // a yaml-cpp corner we did not foresee: report, not crash
    error(0, "", std::string("could not read the config: ") + e.what());
  }
  return finish();
}

// --- Shapes ---------------------------------------------------------------------------------

std::optional<std::vector<Entry>> Loader::entries(const Value& map, std::string_view expected) {
  if (map.node.IsNull()) return std::vector<Entry>{};  // "section:" alone: all defaults
  if (!map.node.IsMap()) {
    error(map, "expected " + std::string(expected) + ", got " + describe(map.node));
    return std::nullopt;
  }
  std::vector<Entry> result;
  std::map<std::string, unsigned, std::less<>> first_lines;
  for (const auto& pair : map.node) {
    const YAML::Node& key = pair.first;
    if (!key.IsScalar()) {
      error(line_of(key), map.path, "keys must be plain names, not " + describe(key));
      continue;
    }
    const std::string& name = key.Scalar();
    const Value value{pair.second, child_path(map.path, name),
                      pair.second.IsNull() ? line_of(key) : line_of(pair.second)};
    const auto [first, inserted] = first_lines.emplace(name, line_of(key));
    if (!inserted) {
      error(line_of(key), value.path,
            "set twice: the first is at line " + std::to_string(first->second) + "; keep one");
      continue;
    }
    result.push_back({name, line_of(key), value});
  }
  return result;
}

// Hands each known key's value to its field; reports unknown keys. nullopt: not a mapping.
std::optional<SeenKeys> Loader::load_fields(const Value& map, std::span<const Field> fields,
                                            std::span<const std::string_view> later_keys) {
  const auto names = field_names(fields);
  const auto all = entries(map, "a mapping with the keys " + join(names));
  if (!all) return std::nullopt;
  SeenKeys seen;
  for (const Entry& entry : *all) {
    const auto field = std::find_if(fields.begin(), fields.end(),
                                    [&](const Field& f) { return f.name == entry.name; });
    if (field == fields.end()) {
      error(entry.key_line, entry.value.path, unknown_key_message(entry.name, fields, later_keys));
      continue;
    }
    seen.insert(entry.name);
    field->load(entry.value);
  }
  return seen;
}

// The elements of a list; nothing (with an error) when `list` is something else.
std::vector<Value> Loader::items(const Value& list, std::string_view example) {
  if (list.node.IsNull()) return {};
  if (!list.node.IsSequence()) {
    error(list, "expected a list like " + std::string(example) + ", got " + describe(list.node));
    return {};
  }
  std::vector<Value> result;
  for (size_t i = 0; i < list.node.size(); ++i) {
    const YAML::Node item = list.node[i];
    const unsigned line = item.IsNull() ? list.line : line_of(item);
    result.push_back({item, list.path + "[" + std::to_string(i) + "]", line});
  }
  return result;
}

std::optional<std::string> Loader::scalar(const Value& v, std::string_view expected) {
  if (v.node.IsScalar()) return v.node.Scalar();
  error(v, "expected " + std::string(expected) + ", got " + describe(v.node));
  return std::nullopt;
}

// --- Values ---------------------------------------------------------------------------------

std::optional<Duration> Loader::duration(const Value& v, bool positive) {
  constexpr std::string_view kExpected = "a duration like 10s";
  const auto text = scalar(v, kExpected);
  if (!text) return std::nullopt;
  std::string why;
  const auto parsed = parse_duration(*text, &why);
  if (!parsed) {
    error(v, "expected " + std::string(kExpected) + ": " + why);
    return std::nullopt;
  }
  if (positive && parsed->count() == 0) {
    error(v, "must be more than 0, like 10s");
    return std::nullopt;
  }
  return parsed;
}

std::optional<uint64_t> Loader::size(const Value& v) {
  constexpr std::string_view kExpected = "a size like 16KiB";
  const auto text = scalar(v, kExpected);
  if (!text) return std::nullopt;
  std::string why;
  const auto parsed = parse_size(*text, &why);
  if (!parsed) error(v, "expected " + std::string(kExpected) + ": " + why);
  return parsed;
}

std::optional<uint64_t> Loader::whole_number(const Value& v, uint64_t min, uint64_t max) {
  const std::string expected =
      "a whole number from " + std::to_string(min) + " to " + std::to_string(max);
  const auto text = scalar(v, expected);
  if (!text) return std::nullopt;
  const bool digits = is_digits(*text) && text->size() <= 19;
  const uint64_t number = digits ? std::stoull(*text) : 0;
  if (!digits || number < min || number > max) {
    error(v, "expected " + expected + ", got " + in_quotes(*text));
    return std::nullopt;
  }
  return number;
}

std::optional<Endpoint> Loader::endpoint(const Value& v, std::string_view example) {
  const std::string expected = "an address like " + std::string(example);
  const auto text = scalar(v, expected);
  if (!text) return std::nullopt;
  std::string why;
  const auto parsed = parse_endpoint(*text, &why);
  if (!parsed) error(v, "expected " + expected + ": " + why);
  return parsed;
}

std::optional<Rate> Loader::rate(const Value& v) {
  constexpr std::string_view kExpected = "a rate like 20/m";
  const auto text = scalar(v, kExpected);
  if (!text) return std::nullopt;
  std::string why;
  const auto parsed = parse_rate(*text, &why);
  if (!parsed) error(v, "expected " + std::string(kExpected) + ": " + why);
  return parsed;
}

// YAML's true and false only: "yes", "on" and the like read differently across YAML versions.
std::optional<bool> Loader::boolean(const Value& v) {
  const auto text = scalar(v, "true or false");
  if (!text) return std::nullopt;
  if (*text == "true") return true;
  if (*text == "false") return false;
  error(v, "expected true or false, got " + in_quotes(*text));
  return std::nullopt;
}

std::optional<std::string> Loader::non_empty(const Value& v, std::string_view expected) {
  const auto text = scalar(v, expected);
  if (text && text->empty()) {
    error(v, "expected " + std::string(expected) + ", got an empty string");
    return std::nullopt;
  }
  return text;
}

// A non-empty string that `problem` finds nothing wrong with.
std::optional<std::string> Loader::checked(const Value& v, std::string_view expected,
                                           std::string (*problem)(std::string_view)) {
  const auto text = non_empty(v, expected);
  if (!text) return std::nullopt;
  const std::string why = problem(*text);
  if (why.empty()) return text;
  error(v, why);
  return std::nullopt;
}

std::vector<std::string> Loader::strings(const Value& v, const StringRules& rules) {
  const std::vector<Value> list =
      v.node.IsScalar() ? std::vector<Value>{v} : items(v, rules.example);
  std::vector<std::string> result;
  for (const Value& item : list) {
    const auto text = non_empty(item, rules.expected);
    if (!text) continue;
    const std::string problem = rules.problem ? rules.problem(*text) : "";
    if (!problem.empty()) {
      error(item, problem);
    } else if (std::find(result.begin(), result.end(), *text) != result.end()) {
      error(item, in_quotes(*text) + " is listed twice");
    } else {
      result.push_back(*text);
    }
  }
  return result;
}

template <class T, class U>
void assign(T& out, const std::optional<U>& value) {
  if (value) out = static_cast<T>(*value);
}

// --- Sections -------------------------------------------------------------------------------

void Loader::load_root(const YAML::Node& root) {
  const Value document{root, "", line_of(root)};
  if (!root.IsMap()) {
    error(document.line, "",
          "expected a mapping of sections (server, admin, log, upstreams, auth, limits, "
          "cache, state, routes), got " +
              describe(root));
    return;
  }
  // Stashed first, loaded in dependency order: routes refer to upstreams, issuers and limits.
  std::optional<Value> server, admin, log, upstreams, routes, auth, limits, cache, state;
  const Field fields[] = {
      {"server", [&](const Value& v) { server = v; }},
      {"admin", [&](const Value& v) { admin = v; }},
      {"log", [&](const Value& v) { log = v; }},
      {"upstreams", [&](const Value& v) { upstreams = v; }},
      {"routes", [&](const Value& v) { routes = v; }},
      {"auth", [&](const Value& v) { auth = v; }},
      {"limits", [&](const Value& v) { limits = v; }},
      {"cache", [&](const Value& v) { cache = v; }},
      {"state", [&](const Value& v) { state = v; }},
  };
  load_fields(document, fields);
  if (server) load_server(*server);
  if (admin) load_admin(*admin);
  if (log) load_log(*log);
  if (upstreams) load_upstreams(*upstreams);
  if (auth) load_auth(*auth);
  if (limits) load_limits(*limits);
  if (cache) load_cache(*cache, key_line(root, "cache"));
  if (state) load_state(*state, key_line(root, "state"));
  if (routes) {
    load_routes(*routes);
  } else {
    error(0, "routes", "missing: add a 'routes' list; a request that matches no route gets 404");
  }
  check_listeners();
}

void Loader::load_server(const Value& section) {
  Server& server = config_.server;
  const Field fields[] = {
      {"listen",
       [&](const Value& v) {
         assign(server.listen, endpoint(v, "127.0.0.1:8080"));
         server_listen_line_ = v.line;
       }},
      {"workers", [&](const Value& v) { load_workers(v); }},
      {"trusted_proxies", [&](const Value& v) { load_trusted_proxies(v); }},
      {"limits", [&](const Value& v) { load_server_limits(v); }},
      {"drain_timeout", [&](const Value& v) { assign(server.drain_timeout, duration(v, false)); }},
  };
  load_fields(section, fields);
}

void Loader::load_workers(const Value& v) {
  const std::string expected =
      "auto or a number of worker threads from 1 to " + std::to_string(kMaxWorkers);
  const auto text = scalar(v, expected);
  if (!text) return;
  if (*text == "auto") {
    config_.server.workers = 0;
    return;
  }
  const bool digits = is_digits(*text) && text->size() <= 3;
  const unsigned count = digits ? static_cast<unsigned>(std::stoul(*text)) : 0;
  if (count < 1 || count > kMaxWorkers) {
    error(v, "expected " + expected + ", got " + in_quotes(*text));
    return;
  }
  config_.server.workers = count;
}

void Loader::load_trusted_proxies(const Value& v) {
  for (const Value& item : items(v, "[10.0.0.0/8, 192.168.1.10]")) {
    constexpr std::string_view kExpected = "a network like 10.0.0.0/8 or an address";
    const auto text = scalar(item, kExpected);
    if (!text) continue;
    std::string why;
    const auto network = parse_ip_network(*text, &why);
    if (!network) {
      error(item, "expected " + std::string(kExpected) + ": " + why);
      continue;
    }
    config_.server.trusted_proxies.push_back(*network);
  }
}

void Loader::load_server_limits(const Value& section) {
  ServerLimits& limits = config_.server.limits;
  const Field fields[] = {
      {"max_header_bytes",
       [&](const Value& v) {
         const auto bytes = size(v);
         if (bytes && (*bytes < kMinHeaderBytes || *bytes > kMaxHeaderBytes)) {
           error(v, "must be from 1KiB to 1MiB");
           return;
         }
         assign(limits.max_header_bytes, bytes);
       }},
      {"max_body_bytes", [&](const Value& v) { assign(limits.max_body_bytes, size(v)); }},
      {"header_timeout", [&](const Value& v) { assign(limits.header_timeout, duration(v, true)); }},
      {"idle_timeout", [&](const Value& v) { assign(limits.idle_timeout, duration(v, true)); }},
      {"max_connections",
       [&](const Value& v) { assign(limits.max_connections, whole_number(v, 1, UINT32_MAX)); }},
  };
  load_fields(section, fields);
}

void Loader::load_admin(const Value& section) {
  const Field fields[] = {
      {"listen",
       [&](const Value& v) {
         admin_listen_line_ = v.line;
         if (v.node.IsScalar() && v.node.Scalar() == "off") {
           config_.admin.listen.reset();
           return;
         }
         assign(config_.admin.listen, endpoint(v, "127.0.0.1:9901, or off"));
       }},
  };
  load_fields(section, fields);
}

void Loader::load_log(const Value& section) {
  const Field fields[] = {
      {"level", [&](const Value& v) { load_log_level(v); }},
      {"access",
       [&](const Value& v) {
         const auto text = scalar(v, "stdout, stderr, off or a file path");
         if (text && text->empty()) {
           error(v, "expected stdout, stderr, off or a file path, got an empty string");
           return;
         }
         assign(config_.log.access, text);
       }},
  };
  load_fields(section, fields);
}

void Loader::load_log_level(const Value& v) {
  const auto text = scalar(v, "one of " + join(kLogLevelNames));
  if (!text) return;
  const auto* found = std::find(std::begin(kLogLevelNames), std::end(kLogLevelNames), *text);
  if (found != std::end(kLogLevelNames)) {
    config_.log.level = kLogLevels[found - std::begin(kLogLevelNames)];
    return;
  }
  const std::string hint = closest_match(*text, kLogLevelNames);
  error(v, "unknown level " + in_quotes(*text) +
               (hint.empty() ? "" : ": did you mean " + in_quotes(hint) + "?") +
               " (levels: " + join(kLogLevelNames) + ")");
}

void Loader::load_upstreams(const Value& section) {
  const auto all = entries(section, "a mapping of upstream names, like api: {targets: [...]}");
  if (!all) {
    upstreams_valid_ = false;
    return;
  }
  for (const Entry& entry : *all) load_upstream(entry);
}

void Loader::load_upstream(const Entry& entry) {
  Upstream upstream;
  upstream.name = entry.name;
  upstream.line = entry.key_line;
  if (!is_name(entry.name)) {
    error(entry.key_line, entry.value.path,
          "upstream names may hold only letters, digits, '_', '.' and '-'");
  }
  const Field fields[] = {
      {"targets", [&](const Value& v) { load_targets(v, upstream.targets); }},
      {"connect_timeout",
       [&](const Value& v) { assign(upstream.connect_timeout, duration(v, true)); }},
      {"timeout", [&](const Value& v) { assign(upstream.timeout, duration(v, true)); }},
      {"max_idle_per_target",
       [&](const Value& v) {
         assign(upstream.max_idle_per_target, whole_number(v, 0, kMaxIdlePerTarget));
       }},
  };
  const auto seen = load_fields(entry.value, fields);
  if (seen && !seen->contains("targets")) {
    error(entry.key_line, child_path(entry.value.path, "targets"),
          "missing: list the servers to send requests to, like targets: [127.0.0.1:8081]");
  }
  config_.upstreams.push_back(std::move(upstream));
}

void Loader::load_targets(const Value& v, std::vector<Endpoint>& targets) {
  const auto list = items(v, "[127.0.0.1:8081]");
  if (list.empty() && (v.node.IsNull() || v.node.IsSequence())) {
    error(v, "at least one target is required, like [127.0.0.1:8081]");
    return;
  }
  for (const Value& item : list) {
    const auto target = endpoint(item, "127.0.0.1:8081");
    if (!target) continue;
    if (std::find(targets.begin(), targets.end(), *target) != targets.end()) {
      error(item, in_quotes(target->to_string()) + " is listed twice");
      continue;
    }
    targets.push_back(*target);
  }
}

void Loader::load_routes(const Value& section) {
  const auto list = items(section, "[{name: api, upstream: api}]");
  if (list.empty() && (section.node.IsNull() || section.node.IsSequence())) {
    error(section, "at least one route is required; a request that matches no route gets 404");
    return;
  }
  for (const Value& item : list) load_route(item);
  check_route_names();
  check_shadowed_routes();
  check_token_headers();
  check_limit_key_headers();
}

void Loader::load_route(const Value& item) {
  Route route;
  route.line = item.line;
  RouteSite site{item.path, 0, true};
  std::vector<Value> limit_sites;  // where each of route.limits is written
  unsigned limit_headers_line = 0;
  CacheSite cache_site;
  const Field fields[] = {
      {"name",
       [&](const Value& v) {
         site.name_line = v.line;
         const auto text = scalar(v, "a route name like api");
         if (text && !is_name(*text)) {
           error(v, "route names may hold only letters, digits, '_', '.' and '-'");
         }
         assign(route.name, text);
       }},
      {"match",
       [&](const Value& v) {
         const size_t errors_before = errors_.size();
         load_match(v, route.match);
         site.match_valid = errors_.size() == errors_before;
       }},
      {"upstream", [&](const Value& v) { load_route_upstream(v, route.upstream); }},
      {"auth",
       [&](const Value& v) { route.auth = load_route_auth(v, key_line(item.node, "auth")); }},
      {"limits", [&](const Value& v) { limit_sites = load_route_limits(v, route.limits); }},
      {"limit_headers",
       [&](const Value& v) {
         limit_headers_line = v.line;
         if (const auto index =
                 one_of(v, "limit_headers value", kLimitHeadersNames, kLimitHeadersAliases)) {
           route.limit_headers = kLimitHeaders[*index];
         }
       }},
      {"cache",
       [&](const Value& v) {
         route.cache = load_route_cache(v, key_line(item.node, "cache"), cache_site);
       }},
  };
  const auto seen = load_fields(item, fields);
  if (!seen) {
    site.match_valid = false;
  } else {
    if (seen->contains("limit_headers") && !seen->contains("limits")) {
      error(limit_headers_line, child_path(item.path, "limit_headers"),
            "limit_headers has no effect on a route without limits: remove it, or name the "
            "limits this route must pass, like limits: [per_ip]");
    }
    check_route_limit_auth(route, limit_sites);
    if (route.cache) {
      check_cache_identity(route, cache_site);
      if (site.match_valid) check_cache_methods(route, cache_site);
    }
    if (!seen->contains("name")) {
      error(item.line, child_path(item.path, "name"),
            "missing: every route needs a unique name, like name: api");
    }
    if (!seen->contains("upstream")) {
      error(item.line, child_path(item.path, "upstream"),
            "missing: name the upstream that serves this route, like upstream: api");
    }
  }
  config_.routes.push_back(std::move(route));
  route_sites_.push_back(std::move(site));
}

void Loader::load_route_upstream(const Value& v, std::string& upstream) {
  const auto name = scalar(v, "the name of an upstream");
  if (!name) return;
  upstream = *name;
  if (!upstreams_valid_ || config_.find_upstream(*name)) return;
  std::vector<std::string_view> defined;
  for (const Upstream& u : config_.upstreams) defined.push_back(u.name);
  if (defined.empty()) {
    error(v, "no upstream named " + in_quotes(*name) +
                 ": no upstreams are defined; add one under 'upstreams'");
    return;
  }
  const std::string hint = closest_match(*name, defined);
  error(v, "no upstream named " + in_quotes(*name) +
               (hint.empty() ? "" : ": did you mean " + in_quotes(hint) + "?") +
               " (defined upstreams: " + join(defined) + ")");
}

void Loader::load_match(const Value& section, RouteMatch& match) {
  auto load_path = [&](const Value& v, std::optional<std::string>& out) {
    const auto text = scalar(v, "a path like /api/");
    if (!text) return;
    const std::string problem = path_problem(*text);
    if (!problem.empty()) {
      error(v, problem);
      return;
    }
    out = *text;
  };
  unsigned prefix_line = 0;
  const Field fields[] = {
      {"host", [&](const Value& v) { load_host(v, match.host); }},
      {"path", [&](const Value& v) { load_path(v, match.path); }},
      {"path_prefix",
       [&](const Value& v) {
         prefix_line = v.line;
         load_path(v, match.path_prefix);
       }},
      {"methods", [&](const Value& v) { load_methods(v, match.methods); }},
  };
  load_fields(section, fields);
  if (match.path && match.path_prefix) {
    error(prefix_line, child_path(section.path, "path_prefix"),
          "path and path_prefix exclude each other: keep path for one exact path, or "
          "path_prefix for a subtree");
  }
}

void Loader::load_host(const Value& v, std::optional<std::string>& host) {
  const auto text = scalar(v, "a host name like api.example.com or *.example.com");
  if (!text) return;
  const std::string lower = to_lower(*text);  // hosts compare case-insensitively
  const std::string problem = host_problem(lower);
  if (!problem.empty()) {
    error(v, problem);
    return;
  }
  host = lower;
}

void Loader::load_methods(const Value& v, std::vector<std::string>& methods) {
  const auto list = items(v, "[GET, HEAD]");
  if (list.empty() && v.node.IsSequence()) {
    error(v, "an empty list matches no request: leave methods out to match any method");
    return;
  }
  for (const Value& item : list) {
    const auto method = scalar(item, "a method name like GET");
    if (!method) continue;
    const std::string problem = method_problem(*method);
    if (!problem.empty()) {
      error(item, problem);
      continue;
    }
    if (std::find(methods.begin(), methods.end(), *method) != methods.end()) {
      error(item, in_quotes(*method) + " is listed twice");
      continue;
    }
    methods.push_back(*method);
  }
}

// --- auth -----------------------------------------------------------------------------------

void Loader::load_auth(const Value& section) {
  Auth& auth = config_.auth.emplace();
  const Field fields[] = {
      {"leeway", [&](const Value& v) { load_leeway(v, auth.leeway); }},
      {"token_cache_entries",
       [&](const Value& v) {
         assign(auth.token_cache_entries, whole_number(v, 0, kMaxTokenCacheEntries));
       }},
      {"issuers", [&](const Value& v) { load_issuers(v); }},
      {"failed_attempts", [&](const Value& v) { load_failed_attempts(v, auth.failed_attempts); }},
  };
  if (!load_fields(section, fields)) issuers_valid_ = false;
}

void Loader::load_leeway(const Value& v, Duration& leeway) {
  const auto parsed = duration(v, false);
  if (parsed && *parsed > kMaxLeeway) {
    error(v, "must be at most 5m: the leeway only absorbs clock skew between hosts, like 30s");
    return;
  }
  assign(leeway, parsed);
}

void Loader::load_failed_attempts(const Value& v, std::optional<FailedAttempts>& guard) {
  if (v.node.IsScalar()) {
    if (v.node.Scalar() == "off") {
      guard.reset();
    } else {
      error(v, "expected off or a mapping with the keys limit, cooldown, got " + describe(v.node));
    }
    return;
  }
  FailedAttempts& limits = guard.emplace();
  const Field fields[] = {
      {"limit",
       [&](const Value& value) {
         if (const auto parsed = rate(value)) {
           limits.limit = parsed->count;
           limits.per = parsed->period;
         }
       }},
      {"cooldown", [&](const Value& value) { assign(limits.cooldown, duration(value, true)); }},
  };
  load_fields(v, fields);
}

void Loader::load_issuers(const Value& section) {
  const auto all =
      entries(section, "a mapping of issuer names, like demo: {issuer: ..., keys: [...]}");
  if (!all) {
    issuers_valid_ = false;
    return;
  }
  std::vector<TextSite> iss_sites;  // where each issuer's `issuer` value is written
  for (const Entry& entry : *all) iss_sites.push_back(load_issuer(entry));
  check_distinct_issuers(iss_sites);
}

TextSite Loader::load_issuer(const Entry& entry) {
  AuthIssuer issuer;
  issuer.name = entry.name;
  issuer.line = entry.key_line;
  if (!is_name(entry.name)) {
    error(entry.key_line, entry.value.path,
          "issuer names may hold only letters, digits, '_', '.' and '-'");
  }
  TextSite iss_site{"", 0, child_path(entry.value.path, "issuer")};
  unsigned require_exp_line = 0;
  const Field fields[] = {
      {"issuer",
       [&](const Value& v) {
         iss_site.line = v.line;
         assign(issuer.issuer,
                non_empty(v, "the exact \"iss\" of the tokens, like https://idp.example.com"));
       }},
      {"audiences", [&](const Value& v) { load_audiences(v, issuer.audiences); }},
      {"max_lifetime", [&](const Value& v) { issuer.max_lifetime = duration(v, true); }},
      {"require_exp",
       [&](const Value& v) {
         require_exp_line = v.line;
         assign(issuer.require_exp, boolean(v));
       }},
      {"keys", [&](const Value& v) { load_keys(v, issuer.keys); }},
  };
  if (const auto seen = load_fields(entry.value, fields)) {
    check_issuer_required_keys(entry, fields, *seen);
  }
  if (issuer.max_lifetime && !issuer.require_exp) {  // the lifetime is measured up to exp
    error(require_exp_line, child_path(entry.value.path, "require_exp"),
          "max_lifetime needs exp to measure a token's lifetime, so require_exp: false has no "
          "effect: remove one of them");
  }
  iss_site.name = issuer.issuer;
  config_.auth->issuers.push_back(std::move(issuer));
  return iss_site;
}

void Loader::check_issuer_required_keys(const Entry& entry, std::span<const Field> fields,
                                        const SeenKeys& seen) {
  constexpr std::string_view kIssuer[] = {"issuer"}, kKeys[] = {"keys"};
  if (!seen.contains("issuer") && !misspells(entry.value.node, fields, kIssuer)) {
    error(entry.key_line, child_path(entry.value.path, "issuer"),
          "missing: give the exact \"iss\" of this issuer's tokens, like issuer: "
          "https://idp.example.com");
  }
  if (!seen.contains("keys") && !misspells(entry.value.node, fields, kKeys)) {
    error(entry.key_line, child_path(entry.value.path, "keys"),
          "missing: list the keys that verify this issuer's tokens, like keys: [{jwks_url: "
          "https://idp.example.com/.well-known/jwks.json}]");
  }
}

// Two issuers with one "iss" would make the issuer that verifies a token a matter of order.
void Loader::check_distinct_issuers(std::span<const TextSite> iss_sites) {
  const auto& issuers = config_.auth->issuers;
  std::map<std::string_view, size_t> first;
  for (size_t i = 0; i < issuers.size(); ++i) {
    if (iss_sites[i].name.empty()) continue;
    const auto [earlier, inserted] = first.emplace(iss_sites[i].name, i);
    if (inserted) continue;
    error(iss_sites[i].line, iss_sites[i].path,
          "issuer " + in_quotes(iss_sites[i].name) + " is also the issuer of " +
              in_quotes(issuers[earlier->second].name) + " (line " +
              std::to_string(iss_sites[earlier->second].line) +
              "): which one verifies a token would be ambiguous; list all its keys under one "
              "issuer");
  }
}

void Loader::load_audiences(const Value& v, std::vector<std::string>& audiences) {
  if (is_empty_list(v.node)) {
    error(v,
          "an empty list checks no audience: leave audiences out to skip the \"aud\" check, "
          "or list the audiences this gateway serves");
    return;
  }
  audiences = strings(v, {"an audience like api", "[api, admin]", {}});
}

void Loader::load_keys(const Value& v, std::vector<AuthKey>& keys) {
  if (is_empty_list(v.node)) {
    error(v,
          "at least one key is required, like keys: [{jwks_url: "
          "https://idp.example.com/.well-known/jwks.json}]");
    return;
  }
  for (const Value& item : items(v, "[{alg: HS256, secret_env: BULWARK_HS256_SECRET}]")) {
    keys.push_back(load_key(item));
  }
}

// Only the shape: env vars and files are read later, by the gateway, when keys are built.
AuthKey Loader::load_key(const Value& item) {
  AuthKey key;
  key.line = item.line;
  auto path = [&](std::optional<std::string>& out) {
    return [this, target = &out](const Value& v) { *target = non_empty(v, "a file path"); };
  };
  const Field fields[] = {
      {"alg",
       [&](const Value& v) { key.alg = checked(v, "an algorithm like HS256", algorithm_problem); }},
      {"kid", [&](const Value& v) { key.kid = non_empty(v, "a key id like k1"); }},
      {"secret_env",
       [&](const Value& v) {
         key.secret_env = checked(v, "the name of an environment variable", env_name_problem);
       }},
      {"secret_file", path(key.secret_file)},
      {"pem_file", path(key.pem_file)},
      {"jwks_file", path(key.jwks_file)},
      {"jwks_url",
       [&](const Value& v) { key.jwks_url = checked(v, "an https:// URL", jwks_url_problem); }},
      {"refresh", [&](const Value& v) { assign(key.refresh, fetch_gap(v)); }},
      {"unknown_kid_refetch",
       [&](const Value& v) { assign(key.unknown_kid_refetch, fetch_gap(v)); }},
      {"fetch_timeout", [&](const Value& v) { assign(key.fetch_timeout, duration(v, true)); }},
      {"ca_file", path(key.ca_file)},
  };
  const auto seen = load_fields(item, fields);
  if (!seen) return key;
  const KeySite site{item, fields, *seen};
  if (const auto source = key_source(site)) {
    check_key_alg(site, key, *source);
    check_key_options(site, key, *source);
  }
  return key;
}

std::optional<Duration> Loader::fetch_gap(const Value& v) {
  const auto parsed = duration(v, false);
  if (parsed && *parsed < std::chrono::seconds(1)) {
    error(v,
          "must be at least 1s, like 30s: fetching keys more often only loads the identity "
          "provider");
    return std::nullopt;
  }
  return parsed;
}

// The entry's one key source; nullopt (reported) when it has none or several.
std::optional<std::string_view> Loader::key_source(const KeySite& site) {
  std::vector<std::string_view> given;
  for (std::string_view name : kKeySources) {
    if (site.has(name)) given.push_back(name);
  }
  if (given.empty()) {
    if (misspells(site.item.node, site.fields, kKeySources)) return std::nullopt;
    error(site.item,
          "missing: give one key source: secret_env, secret_file, pem_file, jwks_file or "
          "jwks_url");
    return std::nullopt;
  }
  std::sort(given.begin(), given.end(), [&](std::string_view a, std::string_view b) {
    return key_position(site.item.node, a) < key_position(site.item.node, b);
  });
  for (size_t i = 1; i < given.size(); ++i) {
    error(site.line(given[i]), site.path(given[i]),
          std::string(given[0]) + " and " + std::string(given[i]) +
              " exclude each other: give one key source per entry, and list another entry for "
              "another key");
  }
  if (given.size() > 1) return std::nullopt;
  return given.front();
}

// A key pins its algorithm, and the algorithm must fit the kind of key material.
void Loader::check_key_alg(const KeySite& site, const AuthKey& key, std::string_view source) {
  const bool secret = source == "secret_env" || source == "secret_file";
  const std::string src(source);
  if (!site.has("alg")) {
    if (secret) {
      error(site.item.line, site.path("alg"),
            "missing: " + src +
                " holds an HMAC secret: say which algorithm it verifies, like "
                "alg: HS256 (HS256, HS384 or HS512)");
    } else if (source == "pem_file") {
      error(site.item.line, site.path("alg"),
            "missing: say which algorithm the PEM key verifies, like alg: ES256 (RS*, PS*, ES* "
            "or EdDSA): a key pins its algorithm");
    }
    return;
  }
  if (!key.alg) return;  // refused already
  const std::string alg = in_quotes(*key.alg);
  const bool hmac = is_hmac(*key.alg);
  if (secret && !hmac) {
    error(site.line("alg"), site.path("alg"),
          src + " holds an HMAC secret, which verifies HS256, HS384 or HS512 only: for an " + alg +
              " public key use pem_file, jwks_file or jwks_url");
  } else if (source == "pem_file" && hmac) {
    error(site.line("alg"), site.path("alg"),
          "an HMAC secret is not a PEM: give " + alg +
              " secrets with secret_env or secret_file; pem_file holds an RS*, PS*, ES* or "
              "EdDSA public key");
  } else if (source == "jwks_url" && hmac) {
    error(site.line("alg"), site.path("alg"),
          "a JWKS URL publishes public keys, and a secret fetched from a URL is no secret: give " +
              alg + " secrets with secret_env or secret_file");
  }
}

void Loader::check_key_options(const KeySite& site, const AuthKey& key, std::string_view source) {
  const bool jwks = source == "jwks_file" || source == "jwks_url";
  if (site.has("kid") && jwks) {
    error(site.line("kid"), site.path("kid"),
          "kid is only for secret_env, secret_file and pem_file entries: the keys of a JWK Set "
          "carry their own kids; remove it");
  }
  for (std::string_view name : kJwksUrlOptions) {
    if (!site.has(name) || source == "jwks_url") continue;
    error(site.line(name), site.path(name),
          std::string(name) + " applies only to jwks_url entries: remove it");
  }
  if (source == "jwks_url" && site.has("ca_file") && key.jwks_url && !is_https(*key.jwks_url)) {
    error(site.line("ca_file"), site.path("ca_file"),
          "ca_file applies only to https:// URLs: remove it, or fetch the keys over https");
  }
}

// --- A route's auth -------------------------------------------------------------------------

RouteAuth Loader::load_route_auth(const Value& v, unsigned line) {
  RouteAuth auth;
  auth.line = line;
  bool mode_known = true;
  if (v.node.IsScalar()) {  // the shorthand `auth: required`
    const auto mode = auth_mode(v);
    mode_known = mode.has_value();
    assign(auth.mode, mode);
  } else {
    mode_known = load_route_auth_fields(v, auth);
  }
  if (mode_known && auth.mode != AuthMode::off) check_route_has_issuers(v.path, line);
  return auth;
}

std::optional<AuthMode> Loader::auth_mode(const Value& v) {
  const auto text = scalar(v, "required, optional or off");
  if (!text) return std::nullopt;
  const auto* found = std::find(std::begin(kAuthModeNames), std::end(kAuthModeNames), *text);
  if (found != std::end(kAuthModeNames)) return kAuthModes[found - std::begin(kAuthModeNames)];
  std::string hint = closest_match(*text, kAuthModeNames);
  if (*text == "false" || *text == "no") hint = "off";
  error(v, "unknown auth mode " + in_quotes(*text) +
               (hint.empty() ? "" : ": did you mean " + in_quotes(hint) + "?") +
               " (modes: required, optional, off)");
  return std::nullopt;
}

// False when the mode is unknown (reported), so that checks that depend on it stay quiet.
bool Loader::load_route_auth_fields(const Value& section, RouteAuth& auth) {
  bool mode_known = true;
  unsigned mode_line = section.line;
  const Field fields[] = {
      {"mode",
       [&](const Value& v) {
         mode_line = v.line;
         const auto mode = auth_mode(v);
         mode_known = mode.has_value();
         assign(auth.mode, mode);
       }},
      {"issuers", [&](const Value& v) { load_route_issuers(v, auth.issuers); }},
      {"require", [&](const Value& v) { load_require(v, auth); }},
      {"forward_claims", [&](const Value& v) { load_forward_claims(v, auth.forward_claims); }},
      {"token", [&](const Value& v) { load_token_source(v, auth.token); }},
      {"forward_token", [&](const Value& v) { assign(auth.forward_token, boolean(v)); }},
  };
  const auto seen = load_fields(section, fields);
  if (!seen) return false;
  if (auth.mode == AuthMode::off) check_mode_off_alone(section, mode_line, fields, *seen);
  return mode_known;
}

void Loader::check_mode_off_alone(const Value& section, unsigned mode_line,
                                  std::span<const Field> fields, const SeenKeys& seen) {
  std::vector<std::string_view> others;
  for (const Field& field : fields) {
    if (field.name != "mode" && seen.contains(field.name)) others.push_back(field.name);
  }
  if (others.empty()) return;
  const bool one = others.size() == 1;
  error(mode_line, child_path(section.path, "mode"),
        "mode off turns auth off on this route, so " + join(others) + (one ? " has" : " have") +
            " no effect: remove " + (one ? "it" : "them") +
            ", or set mode to required or optional");
}

void Loader::check_route_has_issuers(const std::string& path, unsigned line) {
  if (!issuers_valid_ || (config_.auth && !config_.auth->issuers.empty())) return;
  const std::string why = config_.auth ? "auth.issuers is empty" : "there is no 'auth' section";
  error(line, path,
        why +
            ": add the issuer of this route's tokens under auth.issuers (with its issuer and "
            "keys), or set auth: off");
}

void Loader::load_route_issuers(const Value& v, std::vector<std::string>& names) {
  if (is_empty_list(v.node)) {
    error(v,
          "an empty list accepts no issuer: leave issuers out to accept every issuer under "
          "auth.issuers");
    return;
  }
  // Without issuers, check_route_has_issuers says what to add; naming each would only echo it.
  const bool look_up = issuers_valid_ && config_.auth && !config_.auth->issuers.empty();
  names = strings(v, {"an issuer name like demo", "[demo]", [&](std::string_view name) {
                        return look_up ? issuer_name_problem(name) : std::string();
                      }});
}

std::string Loader::issuer_name_problem(std::string_view name) const {
  if (config_.auth->find_issuer(name)) return "";
  std::vector<std::string_view> defined;
  for (const AuthIssuer& issuer : config_.auth->issuers) defined.push_back(issuer.name);
  const std::string hint = closest_match(name, defined);
  return "no issuer named " + in_quotes(name) + " under auth.issuers" +
         (hint.empty() ? "" : ": did you mean " + in_quotes(hint) + "?") +
         " (defined issuers: " + join(defined) + ")";
}

void Loader::load_require(const Value& section, RouteAuth& auth) {
  const Field fields[] = {
      {"scopes",
       [&](const Value& v) {
         if (is_empty_list(v.node)) {
           error(v,
                 "an empty list requires no scope: leave scopes out, or list the scopes "
                 "this route needs");
           return;
         }
         auth.scopes = strings(v, {"a scope like read", "[read, write]", scope_problem});
       }},
      {"claims", [&](const Value& v) { load_claim_conditions(v, auth.claims); }},
  };
  load_fields(section, fields);
}

void Loader::load_claim_conditions(const Value& section, std::vector<ClaimCondition>& claims) {
  const auto all =
      entries(section, "a mapping of claims to conditions, like tenant: {equals: acme}");
  if (!all) return;
  for (const Entry& entry : *all) {
    const std::string problem = claim_problem(entry.name);
    if (!problem.empty()) {
      error(entry.key_line, entry.value.path, problem);
      continue;
    }
    if (auto condition = claim_condition(entry)) claims.push_back(std::move(*condition));
  }
}

std::optional<ClaimCondition> Loader::claim_condition(const Entry& entry) {
  const Value& section = entry.value;
  if (section.node.IsScalar()) {
    error(section, "expected {equals: VALUE} or {contains: VALUE}: write " + entry.name +
                       ": {equals: " + section.node.Scalar() + "}");
    return std::nullopt;
  }
  ClaimCondition condition{entry.name};
  std::optional<std::string> value;
  constexpr std::string_view kExpected = "a single value to compare, like acme";
  const Field fields[] = {
      {"equals", [&](const Value& v) { value = scalar(v, kExpected); }},
      {"contains",
       [&](const Value& v) {
         condition.op = ClaimCondition::Op::contains;
         value = scalar(v, kExpected);
       }},
  };
  const auto seen = load_fields(section, fields);
  if (!seen) return std::nullopt;
  if (seen->empty()) {
    if (misspells(section.node, fields, kClaimOperators)) return std::nullopt;
    error(entry.key_line, section.path,
          "missing: give equals or contains, like " + entry.name + ": {equals: acme}");
    return std::nullopt;
  }
  if (seen->size() > 1) {
    error(key_line(section.node, "contains"), child_path(section.path, "contains"),
          "equals and contains exclude each other: give one condition per claim");
    return std::nullopt;
  }
  if (!value) return std::nullopt;
  condition.value = std::move(*value);
  return condition;
}

void Loader::load_forward_claims(const Value& section,
                                 std::vector<std::pair<std::string, std::string>>& forward) {
  const auto all = entries(section, "a mapping of claims to header names, like sub: X-User-Id");
  if (!all) return;
  std::map<std::string, std::pair<std::string, unsigned>> headers;  // lower-case → claim, line
  for (const Entry& entry : *all) {
    const std::string problem = claim_problem(entry.name);
    if (!problem.empty()) {
      error(entry.key_line, entry.value.path, problem);
      continue;
    }
    const auto header =
        checked(entry.value, "a header name like X-User-Id", forwarded_header_problem);
    if (!header) continue;
    const auto [first, inserted] =
        headers.emplace(to_lower(*header), std::pair(entry.name, entry.value.line));
    if (!inserted) {
      error(entry.value, "header " + in_quotes(*header) + " is already set from claim " +
                             in_quotes(first->second.first) + " at line " +
                             std::to_string(first->second.second) +
                             ": give each claim its own header");
      continue;
    }
    forward.emplace_back(entry.name, *header);
    forwarded_headers_.push_back({*header, entry.value.line, entry.value.path});
  }
}

void Loader::load_token_source(const Value& section, TokenSource& token) {
  std::optional<Value> header, cookie;
  const Field fields[] = {
      {"header", [&](const Value& v) { header = v; }},
      {"cookie", [&](const Value& v) { cookie = v; }},
  };
  const auto seen = load_fields(section, fields);
  if (!seen) return;
  if (header && cookie) {
    error(cookie->line >= header->line ? *cookie : *header,
          "header and cookie exclude each other: read the token from one place");
  } else if (header) {
    load_token_header(*header, token);
  } else if (cookie) {
    load_token_cookie(*cookie, token);
  } else if (!misspells(section.node, fields, kTokenSources)) {
    error(section,
          "missing: give {header: NAME} or {cookie: NAME}; leave token out to read "
          "the Authorization: Bearer header");
  }
}

void Loader::load_token_header(const Value& v, TokenSource& token) {
  const auto name = non_empty(v, "a header name like X-Api-Token");
  if (!name) return;
  if (to_lower(*name) == "authorization") {  // the default: Authorization: Bearer
    token = TokenSource{};
    return;
  }
  const std::string problem = token_header_problem(*name);
  if (!problem.empty()) {
    error(v, problem);
    return;
  }
  token = TokenSource{TokenSource::Kind::header, *name};
  token_headers_.push_back({*name, v.line, v.path});
}

// RFC 6265 §4.1.1: a cookie-name is a token.
void Loader::load_token_cookie(const Value& v, TokenSource& token) {
  const auto name = non_empty(v, "a cookie name like session");
  if (!name) return;
  if (!is_token(*name)) {
    error(v, in_quotes(*name) +
                 " is not a cookie name: use letters, digits and !#$%&'*+-.^_`|~ (RFC 6265)");
    return;
  }
  token = TokenSource{TokenSource::Kind::cookie, *name};
}

// --- limits ---------------------------------------------------------------------------------

void Loader::load_limits(const Value& section) {
  limits_section_ = true;
  const auto all =
      entries(section, "a mapping of limit names, like per_ip: {rate: 100/s, key: client_ip}");
  if (!all) {
    limits_valid_ = false;
    return;
  }
  for (const Entry& entry : *all) load_limit(entry);
}

void Loader::load_limit(const Entry& entry) {
  RateLimit limit;
  limit.name = entry.name;
  limit.line = entry.key_line;
  if (!is_name(entry.name)) {
    error(entry.key_line, entry.value.path,
          "limit names may hold only letters, digits, '_', '.' and '-'");
  }
  bool key_valid = false;  // every part of the key read: checks that depend on it may speak
  bool burst_valid = true;
  std::vector<CostSite> costs;
  const Field fields[] = {
      {"rate",
       [&](const Value& v) {
         if (const auto parsed = limit_rate(v)) {
           limit.count = parsed->count;
           limit.period = parsed->period;
         }
       }},
      {"burst",
       [&](const Value& v) {
         const auto burst = whole_number(v, 1, kMaxBurst);
         burst_valid = burst.has_value();
         assign(limit.burst, burst);
       }},
      {"key", [&](const Value& v) { key_valid = load_limit_key(v, limit.key); }},
      {"mode",
       [&](const Value& v) {
         if (const auto index = one_of(v, "mode", kLimitModeNames, kLimitModeAliases)) {
           limit.mode = kLimitModes[*index];
         }
       }},
      {"missing",
       [&](const Value& v) {
         if (const auto index = one_of(v, "missing policy", kMissingNames, kMissingAliases)) {
           limit.missing = kMissingPolicies[*index];
         }
       }},
      {"cost", [&](const Value& v) { load_limit_cost(v, limit, costs); }},
      {"max_keys",
       [&](const Value& v) { assign(limit.max_keys, whole_number(v, 1, kMaxLimitKeys)); }},
  };
  const auto seen = load_fields(entry.value, fields);
  if (seen) {
    constexpr std::string_view kRate[] = {"rate"}, kKey[] = {"key"};
    if (!seen->contains("rate") && !misspells(entry.value.node, fields, kRate)) {
      error(entry.key_line, child_path(entry.value.path, "rate"),
            "missing: give the rate this limit allows, like rate: 100/s");
    }
    if (!seen->contains("key") && !misspells(entry.value.node, fields, kKey)) {
      error(entry.key_line, child_path(entry.value.path, "key"),
            "missing: say what the limit counts requests per, like key: client_ip (or claim:sub, "
            "header:X-Api-Key, route, or a list of them)");
    }
    if (seen->contains("missing") && key_valid) check_missing_policy(entry, limit);
    if (limit.count > 0 && burst_valid) check_costs(limit, costs);
  }
  config_.limits.push_back(std::move(limit));
}

// parse_rate ensures a count of at least 1 and a whole period; GCRA spaces requests
// period/count apart, kept in nanoseconds.
std::optional<Rate> Loader::limit_rate(const Value& v) {
  const auto parsed = rate(v);
  if (!parsed || parsed->count <= max_rate_count(parsed->period)) return parsed;
  const std::string& text = v.node.Scalar();
  const std::string unit = text.substr(text.find('/') + 1);
  error(v, in_quotes(text) +
               " allows more than one request per nanosecond, finer than the limiter's clock: "
               "the most a rate can allow is " +
               std::to_string(max_rate_count(parsed->period)) + "/" + unit);
  return std::nullopt;
}

// True when every part was read.
bool Loader::load_limit_key(const Value& v, std::vector<LimitKeyPart>& key) {
  if (is_empty_list(v.node)) {
    error(v,
          "at least one key part is required, like key: client_ip or key: [claim:sub, route] "
          "(parts: " +
              std::string(kKeyParts) + ")");
    return false;
  }
  const std::vector<Value> list =
      v.node.IsSequence() ? items(v, "[claim:sub, route]") : std::vector<Value>{v};
  bool all_read = true;
  for (const Value& item : list) {
    const auto part = key_part(item);
    if (!part) {
      all_read = false;
      continue;
    }
    const auto same = [&](const LimitKeyPart& p) { return same_key_part(p, *part); };
    if (std::any_of(key.begin(), key.end(), same)) {
      error(item, in_quotes(key_part_text(*part)) + " is listed twice");
      all_read = false;
      continue;
    }
    if (part->kind == LimitKeyPart::Kind::header) {
      limit_key_headers_.push_back({part->name, item.line, item.path});
    }
    key.push_back(*part);
  }
  return all_read;
}

std::optional<LimitKeyPart> Loader::key_part(const Value& v) {
  // `claim: sub` with a space reads as a mapping in YAML.
  if (v.node.IsMap() && v.node.size() == 1) {
    const auto pair = *v.node.begin();
    if (pair.first.IsScalar() && pair.second.IsScalar()) {
      const std::string meant = pair.first.Scalar() + ":" + pair.second.Scalar();
      error(v, "write " + in_quotes(meant) +
                   " with no space after ':': with a space, YAML reads a mapping");
      return std::nullopt;
    }
  }
  const auto text = non_empty(v, "a key part like client_ip or claim:sub");
  if (!text) return std::nullopt;
  if (*text == "client_ip") return LimitKeyPart{LimitKeyPart::Kind::client_ip, ""};
  if (*text == "route") return LimitKeyPart{LimitKeyPart::Kind::route, ""};
  const size_t colon = text->find(':');
  if (colon == std::string::npos) {
    error(v, unknown_key_part(*text));
    return std::nullopt;
  }
  return named_key_part(v, std::string_view(*text).substr(0, colon),
                        std::string_view(*text).substr(colon + 1));
}

std::optional<LimitKeyPart> Loader::named_key_part(const Value& v, std::string_view kind,
                                                   std::string_view name) {
  if (kind == "client_ip" || kind == "route") {
    error(v, std::string(kind) + " takes no name: write " + std::string(kind));
    return std::nullopt;
  }
  if (kind != "claim" && kind != "header") {
    error(v, unknown_key_part(std::string(kind) + ":" + std::string(name)));
    return std::nullopt;
  }
  const std::string example = kind == "claim" ? "claim:sub" : "header:X-Api-Key";
  if (name.empty()) {
    error(v, std::string(kind) + ": needs a " + std::string(kind) + " name after ':', like " +
                 example);
    return std::nullopt;
  }
  if (std::isspace(static_cast<unsigned char>(name.front()))) {
    error(v, "remove the space after ':': write " +
                 in_quotes(std::string(kind) + ":" + std::string(name.substr(1))));
    return std::nullopt;
  }
  const std::string problem = kind == "claim" ? claim_problem(name) : key_header_problem(name);
  if (!problem.empty()) {
    error(v, problem);
    return std::nullopt;
  }
  const auto part_kind = kind == "claim" ? LimitKeyPart::Kind::claim : LimitKeyPart::Kind::header;
  return LimitKeyPart{part_kind, std::string(name)};
}

std::string Loader::unknown_key_part(std::string_view text) const {
  const std::string list = " (key parts: " + std::string(kKeyParts) + ")";
  const size_t colon = text.find(':');
  const std::string_view kind = text.substr(0, colon);
  if (colon == std::string_view::npos && (kind == "claim" || kind == "header")) {
    return std::string(kind) + " needs a name after ':', like " +
           (kind == "claim" ? "claim:sub" : "header:X-Api-Key");
  }
  std::string hint = closest_match(kind, kKeyKinds);
  if (hint.empty() && means_client_ip(kind)) hint = "client_ip";
  if (!hint.empty() && colon != std::string_view::npos && (hint == "claim" || hint == "header")) {
    hint += ":" + std::string(text.substr(colon + 1));
  }
  if (hint == "claim" || hint == "header") hint += ":NAME";
  return "unknown key part " + in_quotes(text) +
         (hint.empty() ? "" : ": did you mean " + in_quotes(hint) + "?") + list;
}

void Loader::load_limit_cost(const Value& v, RateLimit& limit, std::vector<CostSite>& costs) {
  if (v.node.IsMap()) {
    load_method_costs(v, limit, costs);
    return;
  }
  if (!v.node.IsScalar()) {
    error(v, "expected a whole number from 1 to " + std::to_string(kMaxCost) +
                 ", or a mapping of methods to costs like {default: 1, POST: 5}, got " +
                 describe(v.node));
    return;
  }
  if (const auto cost = whole_number(v, 1, kMaxCost)) {
    limit.cost = *cost;
    costs.push_back({"", *cost, v.line, v.path});
  }
}

void Loader::load_method_costs(const Value& v, RateLimit& limit, std::vector<CostSite>& costs) {
  const auto all = entries(v, "a mapping of methods to costs, like {default: 1, POST: 5}");
  if (!all) return;
  if (all->empty()) {
    error(v,
          "an empty mapping sets no cost: leave cost out for a cost of 1, or give costs like "
          "{default: 1, POST: 5}");
    return;
  }
  for (const Entry& entry : *all) {
    const bool is_default = entry.name == "default";
    if (!is_default) {
      std::string problem = method_problem(entry.name);
      if (to_lower(entry.name) == "default") problem = "write default in lower case";
      if (!problem.empty()) {
        error(entry.key_line, entry.value.path, problem + " (or default, for other methods)");
        continue;
      }
    }
    const auto cost = whole_number(entry.value, 1, kMaxCost);
    if (!cost) continue;
    if (is_default) {
      limit.cost = *cost;
    } else {
      limit.method_costs.emplace_back(entry.name, *cost);
    }
    costs.push_back({is_default ? "" : entry.name, *cost, entry.value.line, entry.value.path});
  }
}

// The missing policy applies to a claim or header that a request lacks; a client's address
// and the route are always there.
void Loader::check_missing_policy(const Entry& entry, const RateLimit& limit) {
  const bool can_miss = std::any_of(limit.key.begin(), limit.key.end(), [](const auto& part) {
    return part.kind == LimitKeyPart::Kind::claim || part.kind == LimitKeyPart::Kind::header;
  });
  if (can_miss || limit.key.empty()) return;
  std::vector<std::string> parts;
  for (const LimitKeyPart& part : limit.key) parts.push_back(key_part_text(part));
  std::vector<std::string_view> views(parts.begin(), parts.end());
  error(key_line(entry.value.node, "missing"), child_path(entry.value.path, "missing"),
        "missing has no effect: a request always has this key (" + join(views) +
            "), since only a claim:NAME or header:NAME part can be missing; remove it");
}

// A request that costs more than the burst could never pass (GCRA admits at most `burst`
// at once): refused here rather than rejected forever.
void Loader::check_costs(const RateLimit& limit, std::span<const CostSite> costs) {
  const uint64_t burst = limit.effective_burst();
  const std::string burst_text = limit.burst == 0 ? "the burst of " + std::to_string(burst) +
                                                        " (the rate's count, as burst is not set)"
                                                  : "the burst of " + std::to_string(burst);
  for (const CostSite& site : costs) {
    if (site.cost <= burst) continue;
    const std::string what = site.method.empty() ? "" : " for " + site.method;
    error(site.line, site.path,
          "a cost of " + std::to_string(site.cost) + what + " is more than " + burst_text +
              ": such requests could never pass; raise burst to at least " +
              std::to_string(site.cost) + ", or lower the cost");
  }
}

// The index of `v`'s text in `names`; reported, with a hint, when it is none of them.
std::optional<size_t> Loader::one_of(const Value& v, std::string_view what,
                                     std::span<const std::string_view> names,
                                     std::span<const Alias> aliases) {
  const std::vector<std::string_view> list(names.begin(), names.end());
  const auto text = scalar(v, "one of " + join(list));
  if (!text) return std::nullopt;
  const auto found = std::find(names.begin(), names.end(), *text);
  if (found != names.end()) return static_cast<size_t>(found - names.begin());
  std::string hint = closest_match(*text, names);
  for (const Alias& alias : aliases) {
    if (to_lower(*text) == alias.word) hint = alias.meant;
  }
  error(v, "unknown " + std::string(what) + " " + in_quotes(*text) +
               (hint.empty() ? "" : ": did you mean " + in_quotes(hint) + "?") + " (one of " +
               join(list) + ")");
  return std::nullopt;
}

// --- A route's limits ---------------------------------------------------------------------

// The names, and where each accepted one is written.
std::vector<Value> Loader::load_route_limits(const Value& v, std::vector<std::string>& names) {
  if (is_empty_list(v.node)) {
    error(v,
          "an empty list applies no limit: leave limits out, or name the limits this route "
          "must pass, like limits: [per_ip]");
    return {};
  }
  names = strings(v, {"a limit name like per_ip", "[per_ip, per_user]", [&](std::string_view n) {
                        return limits_valid_ ? limit_name_problem(n) : std::string();
                      }});
  const std::vector<Value> list =
      v.node.IsSequence() ? items(v, "[per_ip, per_user]") : std::vector<Value>{v};
  std::vector<Value> sites;
  for (const std::string& name : names) {
    const auto written = std::find_if(list.begin(), list.end(), [&](const Value& item) {
      return item.node.IsScalar() && item.node.Scalar() == name;
    });
    sites.push_back(*written);
  }
  return sites;
}

std::string Loader::limit_name_problem(std::string_view name) const {
  if (config_.find_limit(name)) return "";
  if (config_.limits.empty()) {
    return "no limit named " + in_quotes(name) + ": " +
           (limits_section_ ? "no limits are defined under 'limits'"
                            : "there is no 'limits' section") +
           "; define it there, like limits: {" + std::string(name) +
           ": {rate: 100/s, key: client_ip}}";
  }
  std::vector<std::string_view> defined;
  for (const RateLimit& limit : config_.limits) defined.push_back(limit.name);
  const std::string hint = closest_match(name, defined);
  return "no limit named " + in_quotes(name) + " under limits" +
         (hint.empty() ? "" : ": did you mean " + in_quotes(hint) + "?") +
         " (defined limits: " + join(defined) + ")";
}

// A claim exists only once a token is verified, so a limit keyed on one needs the route to
// authenticate.
void Loader::check_route_limit_auth(const Route& route, std::span<const Value> limit_sites) {
  if (route.auth && route.auth->mode != AuthMode::off) return;
  for (size_t i = 0; i < route.limits.size(); ++i) {
    const RateLimit* limit = config_.find_limit(route.limits[i]);
    if (!limit || !has_claim_part(*limit)) continue;
    const auto claim = std::find_if(limit->key.begin(), limit->key.end(), [](const auto& part) {
      return part.kind == LimitKeyPart::Kind::claim;
    });
    const std::string why = route.auth ? "this route has auth: off" : "this route has no auth";
    error(limit_sites[i], "limit " + in_quotes(limit->name) + " is keyed on " +
                              key_part_text(*claim) +
                              ", which only a verified token carries, and " + why +
                              ": give the route auth (mode required or optional), or use a limit "
                              "whose key has no claim part");
  }
}

// --- cache ----------------------------------------------------------------------------------

void Loader::load_cache(const Value& section, unsigned line) {
  CacheSettings& cache = config_.cache.emplace();
  cache.line = line;
  std::optional<Value> memory, max_object;  // where each is written, when it is valid
  bool sizes_valid = true;
  const Field fields[] = {
      {"memory",
       [&](const Value& v) {
         const auto bytes = size_at_least(v, kMinCacheMemory, "256MiB");
         sizes_valid = sizes_valid && bytes;
         if (bytes) memory = v;
         assign(cache.memory_bytes, bytes);
       }},
      {"max_object",
       [&](const Value& v) {
         const auto bytes = size_at_least(v, kMinCacheObject, "1MiB");
         sizes_valid = sizes_valid && bytes;
         if (bytes) max_object = v;
         assign(cache.max_object_bytes, bytes);
       }},
  };
  if (load_fields(section, fields) && sizes_valid) {
    check_cache_object_fits(cache, memory, max_object);
  }
}

std::optional<uint64_t> Loader::size_at_least(const Value& v, uint64_t min,
                                              std::string_view example) {
  const auto bytes = size(v);
  if (bytes && *bytes < min) {
    error(v, "must be at least " + size_text(min) + ", like " + std::string(example));
    return std::nullopt;
  }
  return bytes;
}

// The memory is split evenly over the store's shards, and a shard that holds only one or two
// objects would evict on nearly every insert: one object may take a quarter of it at most.
// Reported on max_object when it is written, else on memory (the default max_object is fine
// for the default memory, so one of them is written).
void Loader::check_cache_object_fits(const CacheSettings& cache, const std::optional<Value>& memory,
                                     const std::optional<Value>& max_object) {
  if (cache.max_object_bytes <= cache.memory_bytes / 4) return;
  const std::string why =
      "max_object (" + size_text(cache.max_object_bytes) + (max_object ? "" : ", the default") +
      ") must be at most a quarter of memory (" + size_text(cache.memory_bytes) +
      (memory ? "" : ", the default") +
      "): memory is split over the store's shards, and each shard must hold several objects; ";
  if (max_object) {
    error(*max_object, why + "lower max_object to at most " + size_text(cache.memory_bytes / 4) +
                           ", or raise memory");
  } else if (memory) {
    error(*memory, why + "raise memory to at least " + size_text(4 * cache.max_object_bytes) +
                       ", or set a smaller max_object");
  }
}

// --- state ----------------------------------------------------------------------------------

void Loader::load_state(const Value& section, unsigned line) {
  StateSettings& state = config_.state.emplace();
  state.line = line;
  bool has_url = false;
  const Field fields[] = {
      {"redis",
       [&](const Value& v) {
         has_url = true;
         load_state_url(v, state);
       }},
      {"on_failure",
       [&](const Value& v) {
         if (const auto index = one_of(v, "failure policy", kOnFailureNames, kOnFailureAliases)) {
           state.on_failure = kOnFailures[*index];
         }
       }},
      {"prefix", [&](const Value& v) { load_state_prefix(v, state); }},
      {"cache_max_object",
       [&](const Value& v) {
         assign(state.cache_max_object_bytes, size_at_least(v, kMinCacheObject, "256KiB"));
       }},
  };
  if (load_fields(section, fields) && !has_url) {
    error(line, "state",
          "missing 'redis': give the shared Redis, like redis: redis://127.0.0.1:6379/0 "
          "(leave the whole state section out to keep state in each instance's memory)");
  }
}

// The URL is checked here, so that a typo fails at load and not at the first request; its
// text may hold a password, which no message repeats (parse_redis_url's never do).
void Loader::load_state_url(const Value& v, StateSettings& state) {
  const auto text = non_empty(v, "a redis:// URL like redis://127.0.0.1:6379/0");
  if (!text) return;
  std::string why;
  if (!redis::parse_redis_url(*text, &why)) {
    error(v, why +
                 "; the form is redis://[user:password@]host[:port][/db]"
                 "[?connect_timeout=1s&command_timeout=250ms]");
    return;
  }
  state.redis_url = *text;
}

// The prefix starts every key: letters, digits and - _ . only, so it never holds the '{' of
// a hash tag, a space, or a glob character that would upset a SCAN pattern.
void Loader::load_state_prefix(const Value& v, StateSettings& state) {
  const auto text = non_empty(v, "a key prefix like bulwark");
  if (!text) return;
  const bool plain =
      text->size() <= 64 && std::all_of(text->begin(), text->end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
      });
  if (!plain) {
    error(v, "the prefix " + in_quotes(*text) +
                 " may hold only letters, digits, '-', '_' and '.' (at most 64), like bulwark-eu");
    return;
  }
  state.prefix = *text;
}

// --- A route's cache ------------------------------------------------------------------------

RouteCache Loader::load_route_cache(const Value& v, unsigned line, CacheSite& site) {
  RouteCache cache;
  cache.line = line;
  site = CacheSite{v.path, line, v.node.IsScalar(), true, line, v.path, 0};
  if (site.shorthand) {  // `cache: shared`, like `auth: required`
    const auto scope = cache_scope(v);
    site.scope_known = scope.has_value();
    assign(cache.scope, scope);
  } else {
    load_route_cache_fields(v, cache, site);
  }
  return cache;
}

void Loader::load_route_cache_fields(const Value& section, RouteCache& cache, CacheSite& site) {
  const Field fields[] = {
      {"scope",
       [&](const Value& v) {
         site.scope_line = v.line;
         site.scope_path = v.path;
         const auto scope = cache_scope(v);
         site.scope_known = scope.has_value();
         assign(cache.scope, scope);
       }},
      {"identity_claim",
       [&](const Value& v) {
         const auto claim = checked(v, "a claim name like sub", identity_claim_problem);
         if (claim) site.identity_claim_line = v.line;
         assign(cache.identity_claim, claim);
       }},
      {"sort_query", [&](const Value& v) { assign(cache.sort_query, boolean(v)); }},
      {"ignore_query",
       [&](const Value& v) {
         cache.ignore_query = strings(v, {"a query parameter name like utm_source",
                                          "[utm_source, fbclid]", query_name_problem});
       }},
      {"heuristic_freshness",
       [&](const Value& v) { assign(cache.heuristic_freshness, boolean(v)); }},
      {"coalesce_timeout",
       [&](const Value& v) { assign(cache.coalesce_timeout, coalesce_timeout(v)); }},
  };
  if (!load_fields(section, fields)) site.scope_known = false;
}

std::optional<RouteCache::Scope> Loader::cache_scope(const Value& v) {
  if (v.node.IsScalar() && std::find(std::begin(kNoCacheWords), std::end(kNoCacheWords),
                                     to_lower(v.node.Scalar())) != std::end(kNoCacheWords)) {
    error(v,
          "to store nothing from this route, leave cache out: a cache takes the scope "
          "shared or per_identity");
    return std::nullopt;
  }
  const auto index = one_of(v, "cache scope", kCacheScopeNames, kCacheScopeAliases);
  if (!index) return std::nullopt;
  return kCacheScopes[*index];
}

std::optional<Duration> Loader::coalesce_timeout(const Value& v) {
  const auto parsed = duration(v, false);
  if (parsed && *parsed > kMaxCoalesceTimeout) {
    error(v,
          "must be at most 60s, like 5s: it is how long a miss waits for the same request "
          "already sent upstream before going upstream itself (0s turns coalescing off)");
    return std::nullopt;
  }
  return parsed;
}

// per_identity keys on the verified identity, which only a route with auth has; an
// identity_claim on a shared route would be silently unused.
void Loader::check_cache_identity(const Route& route, const CacheSite& site) {
  if (!site.scope_known) return;
  if (route.cache->scope == RouteCache::Scope::shared) {
    if (site.identity_claim_line == 0) return;
    error(site.identity_claim_line, child_path(site.path, "identity_claim"),
          "identity_claim applies only to scope: per_identity (a shared entry serves every "
          "caller): remove it, or set scope: per_identity");
    return;
  }
  if (route.auth && route.auth->mode != AuthMode::off) return;
  const std::string why = route.auth ? "this route has auth: off" : "this route has no auth";
  const std::string shared = site.shorthand ? "cache: shared" : "scope: shared";
  error(site.scope_line, site.scope_path,
        "per_identity caching keys on the verified identity, and " + why +
            ": add auth to the route (mode required or optional), or use " + shared);
}

// Only GET responses are stored, and HEAD is answered from them: a cache on a route that
// takes neither method would never store or serve anything.
void Loader::check_cache_methods(const Route& route, const CacheSite& site) {
  const auto& methods = route.match.methods;
  const auto readable = [](const std::string& m) { return m == "GET" || m == "HEAD"; };
  if (methods.empty() || std::any_of(methods.begin(), methods.end(), readable)) return;
  const std::vector<std::string_view> names(methods.begin(), methods.end());
  error(site.line, site.path,
        "this route matches only " + join(names) +
            ", and the cache stores GET responses (HEAD is answered from them): nothing would "
            "be cached; remove cache, or add GET to match.methods");
}

// --- Checks across sections -----------------------------------------------------------------

void Loader::check_route_names() {
  std::map<std::string, unsigned, std::less<>> first_lines;
  for (size_t i = 0; i < config_.routes.size(); ++i) {
    const std::string& name = config_.routes[i].name;
    if (name.empty()) continue;
    const RouteSite& site = route_sites_[i];
    const auto [first, inserted] = first_lines.emplace(name, site.name_line);
    if (!inserted) {
      error(site.name_line, child_path(site.path, "name"),
            "route name " + in_quotes(name) + " is already used by the route at line " +
                std::to_string(first->second) + ": names must be unique");
    }
  }
}

// A route that an earlier route fully covers is dead configuration, and almost always a
// mistake in the order of routes.
void Loader::check_shadowed_routes() {
  const auto& routes = config_.routes;
  auto display_name = [&](size_t i) {
    return routes[i].name.empty() ? route_sites_[i].path : in_quotes(routes[i].name);
  };
  for (size_t later = 0; later < routes.size(); ++later) {
    if (!route_sites_[later].match_valid) continue;
    for (size_t earlier = 0; earlier < later; ++earlier) {
      if (!route_sites_[earlier].match_valid) continue;
      if (!covers(routes[earlier].match, routes[later].match)) continue;
      const std::string what = matches_every_request(routes[earlier].match)
                                   ? "matches every request first"
                                   : "matches every request it would match, and comes first";
      error(routes[later].line, route_sites_[later].path,
            "route " + display_name(later) + " can never match: route " + display_name(earlier) +
                " at line " + std::to_string(routes[earlier].line) + " " + what);
      break;
    }
  }
}

void Loader::check_listeners() {
  const auto& admin = config_.admin.listen;
  if (!admin || !listeners_clash(*admin, config_.server.listen)) return;
  const std::string message = "the admin listener (" + admin->to_string() +
                              ") and server.listen (" + config_.server.listen.to_string() +
                              ") would share port " + std::to_string(admin->port) +
                              ": give each its own port (admin.listen defaults to 127.0.0.1:9901)";
  if (admin_listen_line_ > 0) {
    error(admin_listen_line_, "admin.listen", message);
  } else {
    error(server_listen_line_, "server.listen", message);
  }
}

// Forwarded-claim headers are stripped from every request on every route, so a token read
// from one of them would never arrive.
void Loader::check_token_headers() {
  for (const TextSite& token : token_headers_) {
    const auto forwarded =
        std::find_if(forwarded_headers_.begin(), forwarded_headers_.end(),
                     [&](const TextSite& f) { return to_lower(f.name) == to_lower(token.name); });
    if (forwarded == forwarded_headers_.end()) continue;
    error(token.line, token.path,
          "bulwark strips " + in_quotes(token.name) + " from every request, because " +
              forwarded->path + " (line " + std::to_string(forwarded->line) +
              ") forwards a claim in it, so no token would arrive: read the token from another "
              "header");
  }
}

// A header that some route forwards a claim in is set by bulwark, not by the client: keyed on
// directly, it is either stripped or forged. The claim itself is the key that was meant.
void Loader::check_limit_key_headers() {
  for (const TextSite& key : limit_key_headers_) {
    const auto forwarded =
        std::find_if(forwarded_headers_.begin(), forwarded_headers_.end(),
                     [&](const TextSite& f) { return to_lower(f.name) == to_lower(key.name); });
    if (forwarded == forwarded_headers_.end()) continue;
    const std::string claim = forwarded->path.substr(forwarded->path.rfind("forward_claims.") +
                                                     std::string_view("forward_claims.").size());
    error(key.line, key.path,
          in_quotes(key.name) + " is a header bulwark sets from a verified claim (" +
              forwarded->path + ", line " + std::to_string(forwarded->line) +
              "): what a client sends in it is never trusted; key on " +
              in_quotes("claim:" + claim) + " instead");
  }
}

}  // namespace

LoadResult load_config_text(const std::string& yaml, const std::string& source_name) {
  return Loader(source_name).load(yaml);
}

LoadResult load_config_file(const std::string& path) {
  Loader loader(path);
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return loader.fail("is a directory: give the path of the YAML file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return loader.fail(std::string("cannot open the file: ") + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return loader.fail(std::string("cannot read the file: ") + std::strerror(errno));
  return loader.load(text.str());
}

}  // namespace bulwark::config
