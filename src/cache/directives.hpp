#pragma once
// Cache-Control directives of a request and of a response (RFC 9111 §5.2, RFC 5861).
// Pure: the field value in (several Cache-Control lines joined with ", ", RFC 9110 §5.3),
// plain values out. Never throws.
//
// Parsing is per list element: one malformed element does not hide the others, because a
// restrictive directive (no-store, private, no-cache) must never be lost to a typo elsewhere.
// Names are case-insensitive (§5.2); arguments take token or quoted-string form (§5.2);
// unknown directives are ignored (§5.2.3). delta-seconds past 2^31 read as 2^31 (§1.2.2).
//
// Invalid or conflicting values, rule by rule:
//   - Response max-age / s-maxage: not delta-seconds (`max-age=`, `=abc`, `=-1`, `=1.5`, no
//     argument, whitespace around `=`) or present twice with different values → 0, i.e. the
//     response is stale (§4.2.1: "SHOULD consider responses to be stale"). Repeated with the
//     same value → that value.
//   - Request max-age: invalid or conflicting → 0 (the client then always gets a validated
//     response, the conservative reading). Repeated equal values → that value.
//   - Request min-fresh: invalid → ignored; repeated → the largest (the strictest).
//   - Request max-stale: no argument → any staleness; invalid argument → ignored (no stale
//     accepted); repeated → the smallest, and a bare max-stale only counts when it is alone.
//   - stale-while-revalidate / stale-if-error: invalid or conflicting → absent (serving stale
//     is an optimisation; without a clear grant it is not done).
//   - no-cache / private: present in any form → set. A qualified form (`private="x, y"`, or
//     the token form `private=x`) lists the field names, lowercased; an argument that is not
//     a list of field names makes the directive unqualified (the whole response).
//   - Boolean directives ignore any argument they are given.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bulwark::cache {

// RFC 9111 §1.2.2: the greatest delta-seconds a recipient needs to represent.
inline constexpr std::chrono::seconds kMaxDeltaSeconds{int64_t{1} << 31};

struct RequestDirectives {
  std::optional<std::chrono::seconds> max_age;
  // max-stale: `max_stale` set when present; `max_stale_seconds` nullopt means "any".
  bool max_stale = false;
  std::optional<std::chrono::seconds> max_stale_seconds;
  std::optional<std::chrono::seconds> min_fresh;
  bool no_cache = false;
  bool no_store = false;
  bool no_transform = false;
  bool only_if_cached = false;
};

struct ResponseDirectives {
  std::optional<std::chrono::seconds> max_age;
  std::optional<std::chrono::seconds> s_maxage;
  bool no_cache = false;
  std::vector<std::string> no_cache_fields;  // qualified form; empty: the whole response
  bool no_store = false;
  bool private_ = false;
  std::vector<std::string> private_fields;  // qualified form; empty: the whole response
  bool public_ = false;
  bool must_revalidate = false;
  bool proxy_revalidate = false;
  bool must_understand = false;
  bool no_transform = false;
  std::optional<std::chrono::seconds> stale_while_revalidate;  // RFC 5861 §3
  std::optional<std::chrono::seconds> stale_if_error;          // RFC 5861 §4
};

RequestDirectives parse_request_directives(std::string_view value);
ResponseDirectives parse_response_directives(std::string_view value);

// delta-seconds (§1.2.2): one or more digits, nothing else; saturates at 2^31.
std::optional<std::chrono::seconds> parse_delta_seconds(std::string_view text);

}  // namespace bulwark::cache
