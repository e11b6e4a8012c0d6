#pragma once
// Age and freshness lifetime of a stored response (RFC 9111 §4.2). Pure arithmetic on
// injected times: absolute times are std::chrono::sys_seconds (UTC, one-second resolution
// as HTTP-dates have), durations std::chrono::seconds. The caller's clock supplies `now`.

#include <chrono>
#include <optional>
#include <string_view>

#include "cache/directives.hpp"

namespace bulwark::cache {

// The Age field value (RFC 9111 §5.1): delta-seconds; a list uses its first member. nullopt
// when invalid; the cache then ignores the response (does not store it).
std::optional<std::chrono::seconds> parse_age(std::string_view value);

// current_age of RFC 9111 §4.2.3, exactly:
//   apparent_age = max(0, response_time - date_value)
//   corrected_age_value = age_value + (response_time - request_time)
//   corrected_initial_age = max(apparent_age, corrected_age_value)
//   resident_time = now - response_time
//   current_age = corrected_initial_age + resident_time
// `date` nullopt (no valid Date): the receipt time stands in (RFC 9110 §6.6.1), so
// apparent_age is 0. `age_field` nullopt: no Age field, age_value 0. A clock that stepped
// backwards (response_time < request_time, now < response_time) contributes 0, never a
// negative age. The result saturates at 2^31 (§5.1).
std::chrono::seconds age(std::optional<std::chrono::sys_seconds> date,
                         std::optional<std::chrono::seconds> age_field,
                         std::chrono::sys_seconds request_time,
                         std::chrono::sys_seconds response_time, std::chrono::sys_seconds now);

enum class FreshnessSource {
  s_maxage,  // shared caches only
  max_age,
  expires,    // Expires − Date; an invalid Expires gives 0
  heuristic,  // RFC 9111 §4.2.2
  none,       // no explicit or heuristic freshness: lifetime 0
};

struct FreshnessLifetime {
  std::chrono::seconds lifetime{0};
  FreshnessSource source = FreshnessSource::none;
};

struct FreshnessInput {
  const ResponseDirectives* directives = nullptr;  // required
  int status = 200;
  std::optional<std::string_view> expires;  // raw Expires value; nullopt: field absent
  std::chrono::sys_seconds date{};          // Date, or the receipt time when absent/invalid
  std::optional<std::chrono::sys_seconds> last_modified;
  bool shared = true;              // s-maxage counts only in a shared cache
  bool heuristic_allowed = false;  // the route enables heuristic freshness
};

// RFC 9111 §4.2.1, first match: s-maxage (shared), max-age, Expires − Date (an Expires that
// is not a valid HTTP-date, "0" included, means already expired: 0), then the heuristic:
// 10% of Date − Last-Modified capped at one day, only when allowed and only for a
// heuristically cacheable status (RFC 9110 §15.1; 206 excluded, see storability.hpp).
FreshnessLifetime freshness_lifetime(const FreshnessInput& in);

// Heuristic cap (a common choice; RFC 9111 §4.2.2 suggests a fraction of the interval).
inline constexpr std::chrono::seconds kMaxHeuristicLifetime{86400};

}  // namespace bulwark::cache
