#include "cache/freshness.hpp"

#include <algorithm>

#include "cache/http_date.hpp"
#include "cache/storability.hpp"

namespace bulwark::cache {

using std::chrono::seconds;
using std::chrono::sys_seconds;

std::optional<seconds> parse_age(std::string_view value) {
  // §5.1: a list-based value uses its first member.
  value = value.substr(0, value.find(','));
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  return parse_delta_seconds(value);
}

seconds age(std::optional<sys_seconds> date, std::optional<seconds> age_field,
            sys_seconds request_time, sys_seconds response_time, sys_seconds now) {
  const seconds zero{0};
  const sys_seconds date_value = date.value_or(response_time);
  const seconds apparent_age = std::max(zero, response_time - date_value);
  const seconds response_delay = std::max(zero, response_time - request_time);
  const seconds age_value = std::min(age_field.value_or(zero), kMaxDeltaSeconds);
  const seconds corrected_age_value = age_value + response_delay;
  const seconds corrected_initial_age = std::max(apparent_age, corrected_age_value);
  const seconds resident_time = std::max(zero, now - response_time);
  return std::min(corrected_initial_age + resident_time, kMaxDeltaSeconds);
}

FreshnessLifetime freshness_lifetime(const FreshnessInput& in) {
  const ResponseDirectives& d = *in.directives;
  if (in.shared && d.s_maxage) return {*d.s_maxage, FreshnessSource::s_maxage};
  if (d.max_age) return {*d.max_age, FreshnessSource::max_age};
  if (in.expires) {
    const auto expires = parse_http_date(*in.expires, in.date);
    if (!expires) return {seconds{0}, FreshnessSource::expires};
    return {std::clamp(*expires - in.date, seconds{0}, kMaxDeltaSeconds), FreshnessSource::expires};
  }
  if (in.heuristic_allowed && in.last_modified && heuristically_cacheable(in.status) &&
      in.status != 206 && *in.last_modified < in.date) {
    return {std::min((in.date - *in.last_modified) / 10, kMaxHeuristicLifetime),
            FreshnessSource::heuristic};
  }
  return {};
}

}  // namespace bulwark::cache
