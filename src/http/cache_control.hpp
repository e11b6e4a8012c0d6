#pragma once
// The freshness directives of a response's Cache-Control (RFC 9111 §5.2.2), for a client that
// keeps one resource fresh (the JWKS fetcher). Pure: a field value in, plain values out.
//
// Choices where the RFC leaves room:
//   - max-age takes token or quoted-string form (`max-age=60`, `max-age="60"`, §5.2).
//   - A max-age that is not all digits (`-1`, `1.5`, empty, no argument) is unusable: nullopt.
//   - A max-age larger than 2^31 seconds is read as 2^31 (RFC 9111 §1.2.2).
//   - More than one max-age makes it unusable (nullopt), even when the values agree: the
//     caller falls back to its own interval (RFC 9111 §4.2.1 allows "use the first" or
//     "treat as stale"; neither is safer for a key set than the configured refresh).
//   - Directive names are case-insensitive (§5.2); unknown directives are ignored, and so is
//     s-maxage (it speaks to shared caches only).
//   - no-cache counts only in its unqualified form: `no-cache="Set-Cookie"` concerns the named
//     fields, not the response (§5.2.2.4).
//   - A value that does not parse as a list of directives (`max-age = 60`, an unterminated
//     quote, `a b`) yields no directives at all: a field that is half understood is not used.

#include <chrono>
#include <optional>
#include <string_view>

namespace bulwark::http {

struct ResponseFreshness {
  std::optional<std::chrono::seconds> max_age;  // nullopt: absent or unusable (see above)
  bool no_cache = false;                        // unqualified no-cache
  bool no_store = false;
};

// `value` is the field value; several Cache-Control lines are joined with ", " first
// (RFC 9110 §5.3).
ResponseFreshness parse_response_freshness(std::string_view value);

// delta-seconds (RFC 9111 §1.2.2), e.g. an Age field value: digits only, optional
// surrounding whitespace; values past 2^31 read as 2^31. nullopt when not digits.
std::optional<std::chrono::seconds> parse_delta_seconds(std::string_view value);

}  // namespace bulwark::http
