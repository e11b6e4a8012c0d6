#pragma once
// Route selection: first match wins, in config order. Matching is on the normalized path
// (see path_normalizer.hpp), the request host and the method.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace bulwark::http {

struct RouteMatcher {
  enum class HostKind { any, exact, wildcard_suffix };
  HostKind host_kind = HostKind::any;
  std::string host;  // lower-case; for wildcard_suffix the suffix with its leading '.'
  enum class PathKind { any, exact, prefix };
  PathKind path_kind = PathKind::any;
  std::string path;
  std::vector<std::string> methods;  // empty: any

  bool matches(std::string_view host_lower, std::string_view path, std::string_view method) const;
};

class Router {
 public:
  Router() = default;
  explicit Router(const std::vector<config::Route>& routes);

  // Index into the routes given at construction, or nullopt (→ 404).
  // `host` is the request's host without port, any case; `path` is normalized.
  std::optional<size_t> match(std::string_view host, std::string_view path,
                              std::string_view method) const;

  // Whether the path matches some route for another method (→ 405 rather than 404).
  bool path_matches_other_method(std::string_view host, std::string_view path) const;

  // The Allow field value for a 405: the methods of every route whose host and path match,
  // in route order without repeats ("GET, HEAD").
  std::string allowed_methods(std::string_view host, std::string_view path) const;

 private:
  std::vector<RouteMatcher> matchers_;
};

// Host header (or absolute-form authority) → lower-case host without port; nullopt when the
// value is not a valid uri-host [":" port] (RFC 9110 §7.2).
std::optional<std::string> host_without_port(std::string_view host_header);

}  // namespace bulwark::http
