#pragma once
// The rate-limit response fields, as pure functions of a limit and its LimitResult.
//
// Standard fields: draft-ietf-httpapi-ratelimit-headers-10 ("RateLimit header fields for
// HTTP", September 2025; -11 keeps the same syntax). Both are Structured Field Lists
// (RFC 9651 §3.1) of Items whose value is the policy name as an sf-string:
//   RateLimit-Policy: "per_ip";q=100;w=1       §3: quota q per window w seconds
//   RateLimit: "per_ip";r=57;t=1               §4: remaining r, t seconds until more quota
// A response names one limit, the most restrictive of the route's (most_restrictive below);
// the append_* forms add further members to a list for callers that report several.
//
// How GCRA maps onto the draft's quota model:
//   q, w  the configured rate: `rate: 100/s` is q=100;w=1, `600/m` is q=600;w=60. That is the
//         sustained rate a client can plan with, and the value stays the same on every
//         response, as §3 asks of RateLimit-Policy. The burst is not q: a client that spreads
//         its requests never meets it, and a burst above the count would advertise a rate
//         the limit does not sustain. (A period that is not whole seconds rounds w up and
//         scales q to the same rate: 10 per 100ms is q=100;w=1.)
//   r     the requests that would still pass right now after this one (LimitResult::
//         remaining): exact for GCRA, which has no window to count down.
//   t     on an allowed response, the seconds until the key is back to a full burst (reset):
//         a client that sends at most r requests over t seconds is never refused, and §8.5's
//         caution about inferring r/t as a rate errs on the safe side. On a refusal, the
//         seconds until the request would pass (retry_after), the same instant Retry-After
//         gives: §6 says Retry-After SHOULD NOT point earlier than t, and the draft's own
//         throttled example (appendix B.1.4) makes them equal.
// Seconds round up (a client waiting the advertised time is never early); integers above
// the Structured Fields maximum (15 digits) are clamped to it.
//
// Legacy fields (X-RateLimit-Limit / -Remaining / -Reset, as GitHub and others send them,
// for routes that ask): the same q, r and t as plain decimal integers. Reset is delay
// seconds, like t, not an epoch timestamp: no dependence on the client's clock.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "limit/store.hpp"

namespace bulwark::limit {

inline constexpr uint64_t kMaxSfInteger = 999'999'999'999'999;  // RFC 9651 §3.3.1

// Whether `name` is sent as-is in an sf-string: printable ASCII (%x20-7E), not empty.
// Config validation refuses other limit names; the formatters below replace each byte
// outside that range with '?', so a field is always well-formed.
bool is_policy_name(std::string_view name) noexcept;

// Delay seconds: ceil(ns / 1e9); 0 for ns <= 0; at most kMaxSfInteger.
int64_t ceil_seconds(int64_t ns) noexcept;

// The t parameter (and X-RateLimit-Reset) for a result: see "t" above.
int64_t reset_seconds(const LimitResult& result) noexcept;

// Retry-After delay seconds for a refusal: ceil, at least 1. nullopt when the result is
// allowed, or when the request can never pass (cost above the burst): send no Retry-After.
std::optional<int64_t> retry_after_seconds(const LimitResult& result) noexcept;

// RateLimit-Policy: "NAME";q=COUNT;w=SECONDS, for `count` per `period_ns`.
std::string format_ratelimit_policy(std::string_view name, uint64_t count, int64_t period_ns);
// RateLimit: "NAME";r=REMAINING;t=SECONDS.
std::string format_ratelimit(std::string_view name, const LimitResult& result);

// The same, appended to `field` as one more list member (", " first unless `field` is empty).
void append_ratelimit_policy(std::string& field, std::string_view name, uint64_t count,
                             int64_t period_ns);
void append_ratelimit(std::string& field, std::string_view name, const LimitResult& result);

struct LegacyFields {
  std::string limit;      // X-RateLimit-Limit: the count per period
  std::string remaining;  // X-RateLimit-Remaining
  std::string reset;      // X-RateLimit-Reset: delay seconds
};
LegacyFields format_legacy(uint64_t count, const LimitResult& result);

// Which result a response describes when a route has several limits: on a refusal, the
// refusing limit with the longest wait (the request passes only after it); otherwise the
// limit with the fewest remaining requests, the longest reset breaking ties. The first of
// equals wins. `results` must not be empty.
std::size_t most_restrictive(std::span<const LimitResult> results) noexcept;

}  // namespace bulwark::limit
