#pragma once
// Request-target normalization, done once before routing (DESIGN.md, security rules).
// Pure function on plain strings: no sockets, no Beast.

#include <string>
#include <string_view>

namespace bulwark::http {

struct NormalizedTarget {
  std::string path;   // normalized, starts with '/', still percent-encoded where needed
  std::string query;  // raw query without the '?', empty when absent
  bool has_query = false;
  std::string authority;  // host[:port] from an absolute-form target, else empty
};

struct NormalizeResult {
  bool ok = false;
  NormalizedTarget target;
  std::string_view error;  // a short, stable reason for the 400 body when !ok
};

// Accepts origin-form ("/a/b?q") and absolute-form ("http://host/a?q"); refuses
// asterisk-form, authority-form and anything else.
//
// Path steps, in order:
//  1. every %XX must be two hex digits; %2F, %5C and %00 (any case) are refused, as are a raw
//     '\', control bytes, bytes >= 0x80 and ';' (path parameters, a classic route bypass);
//  2. escapes of unreserved characters (ALPHA DIGIT - . _ ~) are decoded, other escapes have
//     their hex digits upper-cased (RFC 3986 §6.2.2);
//  3. runs of '/' are merged into one;
//  4. dot segments are removed (RFC 3986 §5.2.4); climbing above the root is refused.
// The query is kept as sent (it is not used for routing), but must not hold raw control
// bytes or bytes >= 0x80, and its escapes must be well formed.
NormalizeResult normalize_target(std::string_view target);
// The same, into `result`, reusing its strings' capacity (the per-request hot path).
void normalize_target(std::string_view target, NormalizeResult& result);

}  // namespace bulwark::http
