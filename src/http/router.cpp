#include "http/router.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>

namespace bulwark::http {
namespace {

constexpr char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
}
constexpr char upper(char c) {
  return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c;
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), lower);
  return out;
}

// A lower-cased copy of a request host, on the stack for any real host name (DNS names are
// at most 253 bytes), so that routing allocates nothing per request.
class LowerHost {
 public:
  explicit LowerHost(std::string_view host) {
    if (host.size() <= buffer_.size()) {
      std::transform(host.begin(), host.end(), buffer_.begin(), lower);
      view_ = std::string_view(buffer_.data(), host.size());
    } else {
      heap_ = ascii_lower(host);
      view_ = heap_;
    }
  }
  LowerHost(const LowerHost&) = delete;
  LowerHost& operator=(const LowerHost&) = delete;
  std::string_view view() const { return view_; }

 private:
  std::array<char, 256> buffer_;
  std::string heap_;
  std::string_view view_;
};

// A config host is normalized like a request host (lower case, no trailing dot) so that the
// two compare byte for byte.
std::string normalize_config_host(std::string_view host) {
  if (host.size() > 1 && host.back() == '.') host.remove_suffix(1);
  return ascii_lower(host);
}

void set_host(RouteMatcher& m, const std::optional<std::string>& host) {
  if (!host || host->empty() || *host == "*") return;
  if (host->starts_with("*.")) {
    m.host_kind = RouteMatcher::HostKind::wildcard_suffix;
    m.host = normalize_config_host(std::string_view(*host).substr(1));  // keeps the '.'
  } else {
    m.host_kind = RouteMatcher::HostKind::exact;
    m.host = normalize_config_host(*host);
  }
}

// An exact path wins over a prefix if a config sets both: the narrower match is the safer.
void set_path(RouteMatcher& m, const config::RouteMatch& match) {
  if (match.path) {
    m.path_kind = RouteMatcher::PathKind::exact;
    m.path = *match.path;
  } else if (match.path_prefix) {
    m.path_kind = RouteMatcher::PathKind::prefix;
    m.path = *match.path_prefix;
  }
}

RouteMatcher make_matcher(const config::Route& route) {
  RouteMatcher m;
  set_host(m, route.match.host);
  set_path(m, route.match);
  // Methods are case-sensitive (RFC 9110 §9.1); a YAML "get" can only mean GET.
  for (const auto& method : route.match.methods) {
    std::string name(method);
    std::transform(name.begin(), name.end(), name.begin(), upper);
    m.methods.push_back(std::move(name));
  }
  return m;
}

bool host_matches(const RouteMatcher& m, std::string_view host_lower) {
  switch (m.host_kind) {
    case RouteMatcher::HostKind::any:
      return true;
    case RouteMatcher::HostKind::exact:
      return host_lower == m.host;
    case RouteMatcher::HostKind::wildcard_suffix:
      // "*.example.com" needs at least one label before the suffix: not example.com itself.
      return host_lower.size() > m.host.size() && host_lower.ends_with(m.host);
  }
  return false;
}

// Segment-aware: "/api" matches /api and /api/x but not /apix, which belongs to someone else.
bool prefix_matches(std::string_view prefix, std::string_view path) {
  if (!path.starts_with(prefix)) return false;
  if (prefix.empty() || prefix.back() == '/' || path.size() == prefix.size()) return true;
  return path[prefix.size()] == '/';
}

bool path_matches(const RouteMatcher& m, std::string_view path) {
  switch (m.path_kind) {
    case RouteMatcher::PathKind::any:
      return true;
    case RouteMatcher::PathKind::exact:
      return path == m.path;
    case RouteMatcher::PathKind::prefix:
      return prefix_matches(m.path, path);
  }
  return false;
}

bool method_matches(const RouteMatcher& m, std::string_view method) {
  if (m.methods.empty()) return true;
  return std::find(m.methods.begin(), m.methods.end(), method) != m.methods.end();
}

constexpr bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// reg-name (RFC 3986 §3.2.2), narrowed to what DNS names use: letters, digits, '-', '_',
// '~' and non-empty dot-separated labels. Percent-escapes and sub-delims are refused: a host
// that only matches a route after decoding is a way around host-based routing.
bool valid_reg_name(std::string_view host) {
  if (host.empty() || host.size() > 253 || host.back() == '.') return false;
  char previous = '.';
  for (char c : host) {
    if (c == '.' && previous == '.') return false;  // empty label
    if (!is_alnum(c) && c != '-' && c != '_' && c != '~' && c != '.') return false;
    previous = c;
  }
  return true;
}

// IP-literal (RFC 3986 §3.2.2): an IPv6 address in brackets. IPvFuture and zone ids are
// refused; inet_pton is the strict validator.
bool valid_ip_literal(std::string_view literal) {
  if (literal.size() < 4 || literal.size() > 47) return false;  // "[::]" .. INET6_ADDRSTRLEN
  std::array<char, 48> text{};
  std::copy(literal.begin() + 1, literal.end() - 1, text.begin());
  in6_addr address;
  return inet_pton(AF_INET6, text.data(), &address) == 1;
}

// port = 1*5DIGIT up to 65535. RFC 3986 allows an empty port; no client sends one, so it is
// refused as a malformed Host.
bool valid_port(std::string_view port) {
  if (port.empty() || port.size() > 5) return false;
  unsigned value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value <= 65535;
}

}  // namespace

bool RouteMatcher::matches(std::string_view host_lower, std::string_view request_path,
                           std::string_view method) const {
  return host_matches(*this, host_lower) && path_matches(*this, request_path) &&
         method_matches(*this, method);
}

Router::Router(const std::vector<config::Route>& routes) {
  matchers_.reserve(routes.size());
  for (const auto& route : routes) matchers_.push_back(make_matcher(route));
}

std::optional<size_t> Router::match(std::string_view host, std::string_view path,
                                    std::string_view method) const {
  LowerHost lowered(host);
  for (size_t i = 0; i < matchers_.size(); ++i) {
    if (matchers_[i].matches(lowered.view(), path, method)) return i;
  }
  return std::nullopt;
}

bool Router::path_matches_other_method(std::string_view host, std::string_view path) const {
  LowerHost lowered(host);
  return std::any_of(matchers_.begin(), matchers_.end(), [&](const RouteMatcher& m) {
    return host_matches(m, lowered.view()) && path_matches(m, path);
  });
}

std::string Router::allowed_methods(std::string_view host, std::string_view path) const {
  LowerHost lowered(host);
  std::vector<std::string_view> methods;
  for (const auto& m : matchers_) {
    if (!host_matches(m, lowered.view()) || !path_matches(m, path)) continue;
    for (const auto& method : m.methods) {
      if (std::find(methods.begin(), methods.end(), method) == methods.end()) {
        methods.push_back(method);
      }
    }
  }
  std::string out;
  for (auto method : methods) {
    if (!out.empty()) out += ", ";
    out += method;
  }
  return out;
}

std::optional<std::string> host_without_port(std::string_view host_header) {
  std::string_view host = host_header;
  std::string_view port;
  bool has_port = false;
  if (host.starts_with('[')) {
    size_t close = host.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    std::string_view after = host.substr(close + 1);
    host = host.substr(0, close + 1);
    if (!after.empty() && after.front() != ':') return std::nullopt;
    has_port = !after.empty();
    if (has_port) port = after.substr(1);
    if (!valid_ip_literal(host)) return std::nullopt;
  } else {
    size_t colon = host.find(':');
    if (colon != std::string_view::npos) {
      port = host.substr(colon + 1);  // a second colon fails the digit check
      host = host.substr(0, colon);
      has_port = true;
    }
    // RFC 1034 §3.1: a trailing dot is the same name; strip it so it cannot dodge a route.
    if (host.size() > 1 && host.back() == '.') host.remove_suffix(1);
    if (!valid_reg_name(host)) return std::nullopt;
  }
  if (has_port && !valid_port(port)) return std::nullopt;
  return ascii_lower(host);
}

}  // namespace bulwark::http
