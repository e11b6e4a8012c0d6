#pragma once
// HTTP-date (RFC 9110 §5.6.7): IMF-fixdate, plus the obsolete RFC 850 and asctime forms that
// recipients must accept. Pure; never throws. Times are std::chrono::sys_seconds (UTC).
//
// Choices:
//   - Names ("Sun", "Nov", "GMT") are case-sensitive, as in the grammar (%s"...").
//   - The day name must be a valid one but need not agree with the date (RFC 9110 does not
//     require the check; common caches do not make it).
//   - Second 60 (a leap second) is accepted and reads as the next second.
//   - Surrounding whitespace is trimmed; anything else extra makes the value invalid.
//   - RFC 850's two-digit year: a year more than 50 years after `now` is read as the most
//     recent past year with the same last two digits (RFC 9110 §5.6.7).

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace bulwark::cache {

std::optional<std::chrono::sys_seconds> parse_http_date(std::string_view text,
                                                        std::chrono::sys_seconds now);

// IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
std::string format_http_date(std::chrono::sys_seconds time);

}  // namespace bulwark::cache
