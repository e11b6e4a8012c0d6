// YAML → Config. The loader walks the document once, section by section, and keeps going
// after a bad value so that one run of `bulwark check` reports every mistake in the file.

#include "config/loader.hpp"

#include <yaml-cpp/yaml.h>

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

#include "config/suggest.hpp"
#include "config/units.hpp"

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

// Sections of the example config that later versions add; named so the error can say so.
constexpr std::string_view kLaterTopLevelKeys[] = {"state", "auth", "limits", "cache"};
constexpr std::string_view kLaterRouteKeys[] = {"auth", "limits", "cache"};

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

// Where a route's parts sit, for the checks that compare routes with each other.
struct RouteSite {
  std::string path;  // "routes[2]"
  unsigned name_line = 0;
  bool match_valid = false;
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

  // Checks across sections.
  void check_route_names();
  void check_shadowed_routes();
  void check_listeners();

  Config config_;
  std::vector<ConfigError> errors_;
  std::vector<RouteSite> route_sites_;  // parallel to config_.routes
  bool upstreams_valid_ = true;         // false: route → upstream checks would only echo it
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

template <class T, class U>
void assign(T& out, const std::optional<U>& value) {
  if (value) out = static_cast<T>(*value);
}

// --- Sections -------------------------------------------------------------------------------

void Loader::load_root(const YAML::Node& root) {
  const Value document{root, "", line_of(root)};
  if (!root.IsMap()) {
    error(document.line, "",
          "expected a mapping of sections (server, admin, log, upstreams, routes), got " +
              describe(root));
    return;
  }
  // Stashed first, loaded in dependency order: routes refer to upstreams.
  std::optional<Value> server, admin, log, upstreams, routes;
  const Field fields[] = {
      {"server", [&](const Value& v) { server = v; }},
      {"admin", [&](const Value& v) { admin = v; }},
      {"log", [&](const Value& v) { log = v; }},
      {"upstreams", [&](const Value& v) { upstreams = v; }},
      {"routes", [&](const Value& v) { routes = v; }},
  };
  load_fields(document, fields, kLaterTopLevelKeys);
  if (server) load_server(*server);
  if (admin) load_admin(*admin);
  if (log) load_log(*log);
  if (upstreams) load_upstreams(*upstreams);
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
}

void Loader::load_route(const Value& item) {
  Route route;
  route.line = item.line;
  RouteSite site{item.path, 0, true};
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
  };
  const auto seen = load_fields(item, fields, kLaterRouteKeys);
  if (!seen) {
    site.match_valid = false;
  } else {
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
