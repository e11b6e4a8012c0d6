#include "limit/headers.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "support/case_name.hpp"

namespace bulwark::limit {
namespace {

using namespace std::string_view_literals;
using testing_support::case_name;

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kSecond = 1'000 * kMs;

LimitResult allowed(uint64_t remaining, int64_t reset_ns) {
  return LimitResult{
      .allowed = true, .retry_after_ns = 0, .remaining = remaining, .reset_ns = reset_ns};
}
LimitResult refused(int64_t retry_after_ns, uint64_t remaining, int64_t reset_ns) {
  return LimitResult{.allowed = false,
                     .retry_after_ns = retry_after_ns,
                     .remaining = remaining,
                     .reset_ns = reset_ns};
}

// ---- RateLimit-Policy -------------------------------------------------------------------------

struct PolicyCase {
  std::string_view name;
  std::string_view policy;
  uint64_t count;
  int64_t period_ns;
  std::string_view field;
};
void PrintTo(const PolicyCase& c, std::ostream* os) {
  *os << c.name;
}

class RateLimitPolicyField : public testing::TestWithParam<PolicyCase> {};

TEST_P(RateLimitPolicyField, Formats) {
  const auto& c = GetParam();
  EXPECT_EQ(format_ratelimit_policy(c.policy, c.count, c.period_ns), c.field);
}

INSTANTIATE_TEST_SUITE_P(
    Draft10, RateLimitPolicyField,
    testing::Values(
        PolicyCase{"PerSecond", "per_ip", 100, kSecond, R"("per_ip";q=100;w=1)"},
        PolicyCase{"PerMinute", "per_user", 600, 60 * kSecond, R"("per_user";q=600;w=60)"},
        PolicyCase{"PerHour", "h", 10'000, 3600 * kSecond, R"("h";q=10000;w=3600)"},
        PolicyCase{"PerDay", "daily", 100'000, 86'400 * kSecond, R"("daily";q=100000;w=86400)"},
        // The draft's own example (§3.2).
        PolicyCase{"DraftExample", "default", 100, 10 * kSecond, R"("default";q=100;w=10)"},
        // sf-string escaping (RFC 9651 §4.1.6): '"' and '\' get a backslash.
        PolicyCase{"QuoteEscaped", "a\"b", 1, kSecond, R"("a\"b";q=1;w=1)"},
        PolicyCase{"BackslashEscaped", "a\\b", 1, kSecond, R"("a\\b";q=1;w=1)"},
        PolicyCase{"SpacesAndPunctuationKept", "per ip, route=/x;y", 1, kSecond,
                   R"("per ip, route=/x;y";q=1;w=1)"},
        // Bytes a sf-string cannot carry become '?', so the field stays well-formed.
        PolicyCase{"ControlAndNonAsciiReplaced", "a\tb\xc3\xa9", 1, kSecond, R"("a?b??";q=1;w=1)"},
        PolicyCase{"EmptyName", "", 1, kSecond, R"("";q=1;w=1)"},
        // Periods that are not whole seconds: w rounds up, q keeps the rate.
        PolicyCase{"SubSecondPeriod", "fast", 10, 100 * kMs, R"("fast";q=100;w=1)"},
        PolicyCase{"FractionalSeconds", "odd", 3, 1500 * kMs, R"("odd";q=4;w=2)"},
        // Integers beyond the 15 digits Structured Fields allow are clamped.
        PolicyCase{"HugeCountClamped", "big", 1'000'000'000'000'000'000, kSecond,
                   R"("big";q=999999999999999;w=1)"}),
    case_name<PolicyCase>);

// ---- RateLimit --------------------------------------------------------------------------------

struct RateLimitCase {
  std::string_view name;
  LimitResult result;
  std::string_view field;
};
void PrintTo(const RateLimitCase& c, std::ostream* os) {
  *os << c.name;
}

class RateLimitField : public testing::TestWithParam<RateLimitCase> {};

TEST_P(RateLimitField, Formats) {
  const auto& c = GetParam();
  EXPECT_EQ(format_ratelimit("per_ip", c.result), c.field);
}

INSTANTIATE_TEST_SUITE_P(
    Draft10, RateLimitField,
    testing::Values(
        // Allowed: t is the time until a full burst again, rounded up.
        RateLimitCase{"Allowed", allowed(50, 30 * kSecond), R"("per_ip";r=50;t=30)"},
        RateLimitCase{"ResetRoundsUp", allowed(99, 10 * kMs), R"("per_ip";r=99;t=1)"},
        RateLimitCase{"ResetJustOverASecond", allowed(0, kSecond + 1), R"("per_ip";r=0;t=2)"},
        RateLimitCase{"ResetZero", allowed(100, 0), R"("per_ip";r=100;t=0)"},
        // Refused: t is when the request would pass, like Retry-After.
        RateLimitCase{"Refused", refused(1500 * kMs, 0, 60 * kSecond), R"("per_ip";r=0;t=2)"},
        RateLimitCase{"RefusedWithUnitsLeft", refused(200 * kMs, 2, 59 * kSecond),
                      R"("per_ip";r=2;t=1)"},
        // Refused for good (cost above the burst): the key's own reset.
        RateLimitCase{"NeverPasses", refused(kRetryNever, 5, 0), R"("per_ip";r=5;t=0)"},
        RateLimitCase{"HugeValuesClamped", allowed(UINT64_MAX, INT64_MAX),
                      R"("per_ip";r=999999999999999;t=9223372037)"}),
    case_name<RateLimitCase>);

TEST(RateLimitFields, AppendBuildsAList) {
  std::string policy;
  append_ratelimit_policy(policy, "permin", 50, 60 * kSecond);
  append_ratelimit_policy(policy, "perhr", 1000, 3600 * kSecond);
  EXPECT_EQ(policy, R"("permin";q=50;w=60, "perhr";q=1000;w=3600)");
  std::string ratelimit;
  append_ratelimit(ratelimit, "permin", allowed(49, 2 * kSecond));
  append_ratelimit(ratelimit, "perhr", allowed(999, 4 * kSecond));
  EXPECT_EQ(ratelimit, R"("permin";r=49;t=2, "perhr";r=999;t=4)");
}

TEST(RateLimitFields, PolicyNames) {
  EXPECT_TRUE(is_policy_name("per_ip"));
  EXPECT_TRUE(is_policy_name("a \"quoted\" \\ name"));
  EXPECT_FALSE(is_policy_name(""));
  EXPECT_FALSE(is_policy_name("tab\there"));
  EXPECT_FALSE(is_policy_name("caf\xc3\xa9"));
  EXPECT_FALSE(is_policy_name("del\x7f"));
}

// ---- legacy and Retry-After -------------------------------------------------------------------

TEST(LegacyFields, SameNumbersAsThePolicy) {
  const LegacyFields ok = format_legacy(100, allowed(57, 4300 * kMs));
  EXPECT_EQ(ok.limit, "100");
  EXPECT_EQ(ok.remaining, "57");
  EXPECT_EQ(ok.reset, "5");
  const LegacyFields no = format_legacy(100, refused(10 * kMs, 0, kSecond));
  EXPECT_EQ(no.limit, "100");
  EXPECT_EQ(no.remaining, "0");
  EXPECT_EQ(no.reset, "1");
}

struct RetryCase {
  std::string_view name;
  LimitResult result;
  std::optional<int64_t> seconds;
};
void PrintTo(const RetryCase& c, std::ostream* os) {
  *os << c.name;
}

class RetryAfter : public testing::TestWithParam<RetryCase> {};

TEST_P(RetryAfter, Seconds) {
  EXPECT_EQ(retry_after_seconds(GetParam().result), GetParam().seconds);
}

INSTANTIATE_TEST_SUITE_P(
    Rfc9110, RetryAfter,
    testing::Values(RetryCase{"OneNanosecondIsOneSecond", refused(1, 0, 1), 1},
                    RetryCase{"ExactlyOneSecond", refused(kSecond, 0, kSecond), 1},
                    RetryCase{"JustOverOneSecond", refused(kSecond + 1, 0, kSecond), 2},
                    RetryCase{"ZeroStillOneSecond", refused(0, 0, 0), 1},
                    RetryCase{"LongWait", refused(3600 * kSecond, 0, 0), 3600},
                    RetryCase{"AllowedHasNone", allowed(0, kSecond), std::nullopt},
                    RetryCase{"NeverHasNone", refused(kRetryNever, 0, 0), std::nullopt}),
    case_name<RetryCase>);

TEST(CeilSeconds, RoundsUpAndClamps) {
  EXPECT_EQ(ceil_seconds(-5), 0);
  EXPECT_EQ(ceil_seconds(0), 0);
  EXPECT_EQ(ceil_seconds(1), 1);
  EXPECT_EQ(ceil_seconds(kSecond), 1);
  EXPECT_EQ(ceil_seconds(kSecond + 1), 2);
  EXPECT_EQ(ceil_seconds(INT64_MAX), 9'223'372'037);
}

// ---- which limit a response describes ---------------------------------------------------------

TEST(MostRestrictive, FewestRemainingWhenAllowed) {
  const std::array results{allowed(10, kSecond), allowed(3, kSecond), allowed(3, 2 * kSecond),
                           allowed(50, 60 * kSecond)};
  EXPECT_EQ(most_restrictive(results), 2u) << "3 left, and the longer reset of the two";
}

TEST(MostRestrictive, LongestWaitWhenRefused) {
  const std::array results{allowed(0, kSecond), refused(100 * kMs, 0, kSecond),
                           refused(2 * kSecond, 1, kSecond), refused(kSecond, 0, kSecond)};
  EXPECT_EQ(most_restrictive(results), 2u);
}

TEST(MostRestrictive, NeverIsTheLongestWait) {
  const std::array results{refused(5 * kSecond, 0, 0), refused(kRetryNever, 0, 0)};
  EXPECT_EQ(most_restrictive(results), 1u);
}

TEST(MostRestrictive, FirstOfEqualsAndSingle) {
  const std::array results{allowed(1, kSecond), allowed(1, kSecond)};
  EXPECT_EQ(most_restrictive(results), 0u);
  EXPECT_EQ(most_restrictive(std::span(results).first(1)), 0u);
}

}  // namespace
}  // namespace bulwark::limit
