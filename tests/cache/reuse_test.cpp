#include "cache/reuse.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <ostream>
#include <string_view>

#include "support/case_name.hpp"

namespace bulwark::cache {
namespace {

using std::chrono::seconds;
using testing_support::case_name;

// ---- decide_reuse ----------------------------------------------------------------------------

struct ReuseCase {
  std::string_view name;
  std::optional<std::string_view> request_cc;  // nullopt: no Cache-Control field
  bool pragma_no_cache;
  std::string_view response_cc;
  int64_t age;
  int64_t lifetime;
  Reuse expected;
};

void PrintTo(const ReuseCase& c, std::ostream* os) {
  *os << c.name;
}

class ReuseTest : public testing::TestWithParam<ReuseCase> {};

TEST_P(ReuseTest, Decides) {
  const auto& c = GetParam();
  const RequestDirectives req = parse_request_directives(c.request_cc.value_or(""));
  const ResponseDirectives res = parse_response_directives(c.response_cc);
  const ReuseInput in{.request = &req,
                      .response = &res,
                      .pragma_no_cache = c.pragma_no_cache,
                      .has_cache_control = c.request_cc.has_value(),
                      .age = seconds{c.age},
                      .lifetime = seconds{c.lifetime}};
  EXPECT_EQ(decide_reuse(in), c.expected);
}

constexpr std::optional<std::string_view> kNoCc;
constexpr int64_t k2to31 = int64_t{1} << 31;
constexpr Reuse kFresh = Reuse::fresh;
constexpr Reuse kStale = Reuse::stale_allowed;
constexpr Reuse kSwr = Reuse::serve_stale_revalidate;
constexpr Reuse kValidate = Reuse::validate;

// clang-format off
const ReuseCase kReuseCases[] = {
  // name                              request CC                  pragma response CC                                         age   life  expected
  // 1. no-cache
  {"RequestNoCacheFresh",              "no-cache",                 false, "max-age=100",                                      10,   100,  kValidate},
  {"RequestNoCacheBeatsMaxStale",      "no-cache, max-stale",      false, "",                                                 200,  100,  kValidate},
  {"RequestNoCacheWithArgument",       "no-cache=x",               false, "max-age=100",                                      10,   100,  kValidate},
  {"PragmaWithoutCacheControl",        kNoCc,                      true,  "max-age=100",                                      10,   100,  kValidate},
  {"PragmaIgnoredWithCacheControl",    "foo",                      true,  "max-age=100",                                      10,   100,  kFresh},
  {"PragmaIgnoredWithEmptyCc",         "",                         true,  "max-age=100",                                      10,   100,  kFresh},
  {"PragmaIgnoredWithMaxStale",        "max-stale",                true,  "max-age=100",                                      200,  100,  kStale},
  {"NoPragmaNoCacheControl",           kNoCc,                      false, "max-age=100",                                      10,   100,  kFresh},
  {"ResponseNoCacheFresh",             kNoCc,                      false, "no-cache, max-age=100",                            10,   100,  kValidate},
  {"ResponseQualifiedNoCacheFresh",    kNoCc,                      false, "no-cache=\"Set-Cookie\", max-age=100",             10,   100,  kValidate},
  {"ResponseNoCacheBeatsMaxStale",     "max-stale",                false, "no-cache",                                         200,  100,  kValidate},
  {"ResponseNoCacheBeatsSwr",          kNoCc,                      false, "no-cache, max-age=1, stale-while-revalidate=100",  50,   1,    kValidate},
  // 2. the client's limits
  {"MaxAgeAcceptsEqualAge",            "max-age=10",               false, "max-age=100",                                      10,   100,  kFresh},
  {"MaxAgeRefusesOneOver",             "max-age=10",               false, "max-age=100",                                      11,   100,  kValidate},
  {"MaxAgeZeroAcceptsAgeZero",         "max-age=0",                false, "max-age=100",                                      0,    100,  kFresh},
  {"MaxAgeZeroRefusesAgeOne",          "max-age=0",                false, "max-age=100",                                      1,    100,  kValidate},
  {"MaxAgeInvalidReadsAsZero",         "max-age=abc",              false, "max-age=100",                                      1,    100,  kValidate},
  {"MaxAgeBoundsMaxStaleOnFresh",      "max-age=10, max-stale",    false, "max-age=100",                                      20,   100,  kValidate},
  {"MaxAgeBoundsMaxStaleOnStale",      "max-age=10, max-stale",    false, "max-age=5",                                        20,   5,    kValidate},
  {"MaxAgeWithMaxStaleYoungEnough",    "max-age=600, max-stale=100", false, "max-age=60",                                   100,  60,   kStale},
  {"MaxAgeBoundsSwr",                  "max-age=0",                false, "max-age=10, stale-while-revalidate=100",           20,   10,   kValidate},
  {"MaxAgeBoundsSwrOnFresh",           "max-age=5",                false, "max-age=100, stale-while-revalidate=100",          20,   100,  kValidate},
  {"MinFreshExactlyEnough",            "min-fresh=10",             false, "max-age=100",                                      90,   100,  kFresh},
  {"MinFreshOneShort",                 "min-fresh=10",             false, "max-age=100",                                      91,   100,  kValidate},
  {"MinFreshZeroOnFresh",              "min-fresh=0",              false, "max-age=100",                                      99,   100,  kFresh},
  {"MinFreshBoundsMaxStaleOnFresh",    "min-fresh=10, max-stale",  false, "max-age=100",                                      95,   100,  kValidate},
  {"MinFreshBoundsMaxStaleOnStale",    "min-fresh=0, max-stale",   false, "max-age=100",                                      150,  100,  kValidate},
  {"MinFreshBoundsSwr",                "min-fresh=5",              false, "max-age=100, stale-while-revalidate=100",          98,   100,  kValidate},
  {"MinFreshInvalidIgnored",           "min-fresh=x",              false, "max-age=100",                                      99,   100,  kFresh},
  {"MinFreshLargestWins",              "min-fresh=1, min-fresh=20", false, "max-age=100",                                     90,   100,  kValidate},
  // 3. fresh
  {"FreshFromZero",                    kNoCc,                      false, "max-age=1",                                        0,    1,    kFresh},
  {"FreshLastSecond",                  kNoCc,                      false, "max-age=100",                                      99,   100,  kFresh},
  {"AgeEqualsLifetimeIsStale",         kNoCc,                      false, "max-age=100",                                      100,  100,  kValidate},
  {"ZeroLifetimeIsStale",              kNoCc,                      false, "",                                                 0,    0,    kValidate},
  {"HugeValuesStillCompare",           kNoCc,                      false, "",                                                 k2to31 - 1, k2to31, kFresh},
  {"OnlyIfCachedFresh",                "only-if-cached",           false, "max-age=100",                                      5,    100,  kFresh},
  {"OnlyIfCachedStale",                "only-if-cached",           false, "max-age=100",                                      100,  100,  kValidate},
  // 4. stale reuse forbidden
  {"MustRevalidateBlocksMaxStale",     "max-stale",                false, "max-age=10, must-revalidate",                      20,   10,   kValidate},
  {"ProxyRevalidateBlocksMaxStale",    "max-stale",                false, "max-age=10, proxy-revalidate",                     20,   10,   kValidate},
  {"SMaxageBlocksMaxStale",            "max-stale",                false, "s-maxage=10",                                      20,   10,   kValidate},
  {"InvalidSMaxageStillBlocks",        "max-stale",                false, "s-maxage=abc",                                     5,    0,    kValidate},
  {"MustRevalidateBlocksSwr",          kNoCc,                      false, "max-age=10, must-revalidate, stale-while-revalidate=60", 20, 10, kValidate},
  {"ProxyRevalidateBlocksSwr",         kNoCc,                      false, "max-age=10, proxy-revalidate, stale-while-revalidate=60", 20, 10, kValidate},
  {"SMaxageBlocksSwr",                 kNoCc,                      false, "s-maxage=10, stale-while-revalidate=60",           20,   10,   kValidate},
  {"MustRevalidateAtBoundary",         "max-stale=100",            false, "max-age=10, must-revalidate",                      10,   10,   kValidate},
  {"MustRevalidateFreshIsFresh",       "max-stale",                false, "max-age=10, must-revalidate",                      9,    10,   kFresh},
  {"SMaxageFreshIsFresh",              kNoCc,                      false, "s-maxage=10",                                      9,    10,   kFresh},
  // 5. max-stale
  {"MaxStaleBareAnyStaleness",         "max-stale",                false, "max-age=10",                                       1000000, 10, kStale},
  {"MaxStaleWithinValue",              "max-stale=10",             false, "max-age=10",                                       20,   10,   kStale},
  {"MaxStaleOneOver",                  "max-stale=10",             false, "max-age=10",                                       21,   10,   kValidate},
  {"MaxStaleZeroAtBoundary",           "max-stale=0",              false, "max-age=10",                                       10,   10,   kStale},
  {"MaxStaleZeroPastBoundary",         "max-stale=0",              false, "max-age=10",                                       11,   10,   kValidate},
  {"MaxStaleInvalidIgnored",           "max-stale=abc",            false, "max-age=10",                                       20,   10,   kValidate},
  {"MaxStaleSmallestWins",             "max-stale=100, max-stale=5", false, "max-age=10",                                     20,   10,   kValidate},
  {"MaxStaleQuotedValue",              "max-stale=\"15\"",         false, "max-age=10",                                       25,   10,   kStale},
  {"MaxStaleBeatsSwr",                 "max-stale",                false, "max-age=10, stale-while-revalidate=5",             100,  10,   kStale},
  {"MaxStaleExceededFallsToSwr",       "max-stale=5",              false, "max-age=10, stale-while-revalidate=60",            30,   10,   kSwr},
  {"MaxStaleFreshIsFresh",             "max-stale",                false, "max-age=10",                                       3,    10,   kFresh},
  // 6. stale-while-revalidate
  {"SwrWithin",                        kNoCc,                      false, "max-age=10, stale-while-revalidate=60",            70,   10,   kSwr},
  {"SwrOneOver",                       kNoCc,                      false, "max-age=10, stale-while-revalidate=60",            71,   10,   kValidate},
  {"SwrAtLifetime",                    kNoCc,                      false, "max-age=10, stale-while-revalidate=60",            10,   10,   kSwr},
  {"SwrZeroAtBoundary",                kNoCc,                      false, "max-age=10, stale-while-revalidate=0",             10,   10,   kSwr},
  {"SwrZeroPastBoundary",              kNoCc,                      false, "max-age=10, stale-while-revalidate=0",             11,   10,   kValidate},
  {"SwrInvalidIgnored",                kNoCc,                      false, "max-age=10, stale-while-revalidate=x",             11,   10,   kValidate},
  {"SwrConflictingIgnored",            kNoCc,                      false, "max-age=10, stale-while-revalidate=5, stale-while-revalidate=50", 11, 10, kValidate},
  {"SwrFreshIsFresh",                  kNoCc,                      false, "max-age=10, stale-while-revalidate=60",            5,    10,   kFresh},
  {"StaleIfErrorIsNotForReuse",        kNoCc,                      false, "max-age=10, stale-if-error=60",                    20,   10,   kValidate},
  // 7. otherwise
  {"StaleWithoutGrant",                kNoCc,                      false, "max-age=10",                                       11,   10,   kValidate},
  {"StaleLifetimeFromElsewhere",       kNoCc,                      false, "public",                                           150,  100,  kValidate},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(Reuse, ReuseTest, testing::ValuesIn(kReuseCases), case_name<ReuseCase>);

// ---- may_serve_on_error ----------------------------------------------------------------------

struct ErrorCase {
  std::string_view name;
  std::string_view response_cc;
  int64_t age;
  int64_t lifetime;
  bool expected;
};

void PrintTo(const ErrorCase& c, std::ostream* os) {
  *os << c.name;
}

class ServeOnErrorTest : public testing::TestWithParam<ErrorCase> {};

TEST_P(ServeOnErrorTest, Decides) {
  const auto& c = GetParam();
  const ResponseDirectives res = parse_response_directives(c.response_cc);
  EXPECT_EQ(may_serve_on_error(res, seconds{c.age}, seconds{c.lifetime}), c.expected);
}

// clang-format off
const ErrorCase kErrorCases[] = {
  // name                          response CC                                            age  life expected
  {"FreshPlain",                   "max-age=10",                                          5,   10,  true},
  {"FreshMustRevalidate",          "max-age=10, must-revalidate",                         5,   10,  true},
  {"FreshSMaxage",                 "s-maxage=10",                                         9,   10,  true},
  {"FreshNoCache",                 "no-cache, max-age=10",                                5,   10,  false},
  {"FreshQualifiedNoCache",        "no-cache=\"X-A\", max-age=10",                        5,   10,  false},
  {"StaleWithoutGrant",            "max-age=10",                                          11,  10,  false},
  {"AgeEqualsLifetimeWithoutGrant", "max-age=10",                                         10,  10,  false},
  {"SieWithin",                    "max-age=10, stale-if-error=60",                       70,  10,  true},
  {"SieOneOver",                   "max-age=10, stale-if-error=60",                       71,  10,  false},
  {"SieZeroAtBoundary",            "max-age=10, stale-if-error=0",                        10,  10,  true},
  {"SieZeroPastBoundary",          "max-age=10, stale-if-error=0",                        11,  10,  false},
  {"SieMustRevalidate",            "max-age=10, must-revalidate, stale-if-error=60",      20,  10,  false},
  {"SieProxyRevalidate",           "max-age=10, proxy-revalidate, stale-if-error=60",     20,  10,  false},
  {"SieSMaxage",                   "s-maxage=10, stale-if-error=60",                      20,  10,  false},
  {"SieNoCache",                   "no-cache, max-age=10, stale-if-error=60",             20,  10,  false},
  {"SieInvalid",                   "max-age=10, stale-if-error=abc",                      20,  10,  false},
  {"SieConflicting",               "max-age=10, stale-if-error=60, stale-if-error=30",    20,  10,  false},
  {"SwrIsNotSie",                  "max-age=10, stale-while-revalidate=60",               20,  10,  false},
  {"SieWithoutLifetime",           "stale-if-error=60",                                   30,  0,   true},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(ServeOnError, ServeOnErrorTest, testing::ValuesIn(kErrorCases),
                         case_name<ErrorCase>);

// ---- is_error_status -------------------------------------------------------------------------

TEST(IsErrorStatus, TheFourGatewayFailures) {
  EXPECT_TRUE(is_error_status(500));
  EXPECT_TRUE(is_error_status(502));
  EXPECT_TRUE(is_error_status(503));
  EXPECT_TRUE(is_error_status(504));
}

TEST(IsErrorStatus, OthersAreNot) {
  for (unsigned status : {0u, 200u, 304u, 404u, 429u, 499u, 501u, 505u, 507u, 599u}) {
    EXPECT_FALSE(is_error_status(status)) << status;
  }
}

}  // namespace
}  // namespace bulwark::cache
