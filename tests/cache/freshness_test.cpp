#include "cache/freshness.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <ostream>
#include <string_view>

#include "cache/http_date.hpp"
#include "support/case_name.hpp"

namespace bulwark::cache {
namespace {

using std::chrono::seconds;
using std::chrono::sys_seconds;
using testing_support::case_name;

constexpr int64_t kNone = -1;
constexpr int64_t k2to31 = int64_t{1} << 31;
// 1994-11-06T08:49:37Z, the RFC's example date.
constexpr sys_seconds kT0{seconds{784111777}};

sys_seconds at(int64_t offset) {
  return kT0 + seconds{offset};
}

// ---- HTTP-date -------------------------------------------------------------------------------

struct DateCase {
  std::string_view name;
  std::string_view text;
  int64_t unix_seconds;  // kNone: invalid
};

void PrintTo(const DateCase& c, std::ostream* os) {
  *os << c.name;
}

class HttpDateTest : public testing::TestWithParam<DateCase> {};

TEST_P(HttpDateTest, Parses) {
  const auto& c = GetParam();
  const sys_seconds now{seconds{1'700'000'000}};  // 2023-11-14
  const auto t = parse_http_date(c.text, now);
  EXPECT_EQ(t ? t->time_since_epoch().count() : kNone, c.unix_seconds);
}

// clang-format off
const DateCase kDateCases[] = {
  {"ImfFixdate",            "Sun, 06 Nov 1994 08:49:37 GMT",   784111777},
  {"Rfc850",                "Sunday, 06-Nov-94 08:49:37 GMT",  784111777},
  {"Asctime",               "Sun Nov  6 08:49:37 1994",        784111777},
  {"AsctimeTwoDigitDay",    "Sun Nov 16 08:49:37 1994",        784111777 + 10 * 86400},
  {"Epoch",                 "Thu, 01 Jan 1970 00:00:00 GMT",   0},
  {"LeapDay",               "Thu, 29 Feb 2024 12:00:00 GMT",   1709208000},
  {"LeapSecond",            "Sat, 31 Dec 2016 23:59:60 GMT",   1483228800},
  {"Whitespace",            " Sun, 06 Nov 1994 08:49:37 GMT\t", 784111777},
  {"Rfc850YearNearFuture",  "Thursday, 01-Jan-70 00:00:00 GMT", 3155760000},
  {"Rfc850YearFarFuture",   "Tuesday, 01-Jan-74 00:00:00 GMT", 126230400},
  {"Zero",                  "0",                               kNone},
  {"Empty",                 "",                                kNone},
  {"LowercaseGmt",          "Sun, 06 Nov 1994 08:49:37 gmt",   kNone},
  {"NotGmt",                "Sun, 06 Nov 1994 08:49:37 UTC",   kNone},
  {"OneDigitDay",           "Sun, 6 Nov 1994 08:49:37 GMT",    kNone},
  {"BadMonth",              "Sun, 06 Foo 1994 08:49:37 GMT",   kNone},
  {"BadDayName",            "Xyz, 06 Nov 1994 08:49:37 GMT",   kNone},
  {"Feb30",                 "Mon, 30 Feb 2015 00:00:00 GMT",   kNone},
  {"Feb29NonLeap",          "Sun, 29 Feb 2015 00:00:00 GMT",   kNone},
  {"Hour24",                "Sun, 06 Nov 1994 24:00:00 GMT",   kNone},
  {"Minute60",              "Sun, 06 Nov 1994 08:60:00 GMT",   kNone},
  {"TrailingGarbage",       "Sun, 06 Nov 1994 08:49:37 GMT x", kNone},
  {"TwoDatesJoined",        "Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT", kNone},
  {"NegativeNumber",        "-1",                              kNone},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(Dates, HttpDateTest, testing::ValuesIn(kDateCases), case_name<DateCase>);

TEST(HttpDate, FormatsImfFixdate) {
  EXPECT_EQ(format_http_date(kT0), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(format_http_date(sys_seconds{seconds{0}}), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(parse_http_date(format_http_date(at(123456789)), kT0), at(123456789));
}

// ---- Age (RFC 9111 §4.2.3) -------------------------------------------------------------------

struct AgeCase {
  std::string_view name;
  std::optional<int64_t> date;  // offsets from kT0
  std::optional<int64_t> age_field;
  int64_t request_time;
  int64_t response_time;
  int64_t now;
  int64_t expected;
};

void PrintTo(const AgeCase& c, std::ostream* os) {
  *os << c.name;
}

class AgeTest : public testing::TestWithParam<AgeCase> {};

TEST_P(AgeTest, Computes) {
  const auto& c = GetParam();
  std::optional<sys_seconds> date;
  if (c.date) date = at(*c.date);
  std::optional<seconds> age_field;
  if (c.age_field) age_field = seconds{*c.age_field};
  EXPECT_EQ(age(date, age_field, at(c.request_time), at(c.response_time), at(c.now)).count(),
            c.expected);
}

// clang-format off
const AgeCase kAgeCases[] = {
  // name                         date          Age           req  resp  now    expected
  {"FreshFromOrigin",             0,            std::nullopt, 0,   0,    0,     0},
  {"ResidentOnly",                0,            std::nullopt, 0,   0,    30,    30},
  {"ResponseDelayCounts",         0,            std::nullopt, 0,   2,    2,     2},
  {"AgeFieldPlusDelay",           0,            100,          0,   2,    2,     102},
  {"AgeFieldPlusDelayPlusResident", 0,          100,          0,   2,    12,    112},
  {"ApparentAgeWins",             -500,         100,          0,   2,    2,     502},
  {"CorrectedAgeWins",            -50,          100,          0,   2,    2,     102},
  {"DateAheadClockSkew",          3600,         std::nullopt, 0,   1,    1,     1},
  {"DateAheadWithAge",            3600,         10,           0,   1,    5,     15},
  {"NoDate",                      std::nullopt, 7,            0,   3,    3,     10},
  {"NoDateNoAge",                 std::nullopt, std::nullopt, 0,   3,    13,    13},
  {"ClockBackwardsResident",      0,            std::nullopt, 0,   10,   5,     10},
  {"ClockBackwardsDelay",         0,            std::nullopt, 10,  5,    5,     5},
  {"HugeAgeSaturates",            0,            k2to31,       0,   10,   100,   k2to31},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(Age, AgeTest, testing::ValuesIn(kAgeCases), case_name<AgeCase>);

TEST(AgeField, Parses) {
  EXPECT_EQ(parse_age("60"), seconds{60});
  EXPECT_EQ(parse_age(" 60 "), seconds{60});
  EXPECT_EQ(parse_age("60, 70"), seconds{60});  // §5.1: the first member of a list
  EXPECT_EQ(parse_age("99999999999"), seconds{k2to31});
  EXPECT_EQ(parse_age("-1"), std::nullopt);
  EXPECT_EQ(parse_age("1.5"), std::nullopt);
  EXPECT_EQ(parse_age(""), std::nullopt);
  EXPECT_EQ(parse_age("x, 60"), std::nullopt);
}

// ---- freshness lifetime (RFC 9111 §4.2.1, §4.2.2) --------------------------------------------

struct LifetimeCase {
  std::string_view name;
  std::string_view cache_control;
  std::optional<std::string_view> expires;
  std::optional<int64_t> last_modified;  // offset from Date (kT0)
  int status;
  bool shared;
  bool heuristic_allowed;
  int64_t lifetime;
  FreshnessSource source;
};

void PrintTo(const LifetimeCase& c, std::ostream* os) {
  *os << c.name;
}

class LifetimeTest : public testing::TestWithParam<LifetimeCase> {};

TEST_P(LifetimeTest, Computes) {
  const auto& c = GetParam();
  const ResponseDirectives d = parse_response_directives(c.cache_control);
  FreshnessInput in{.directives = &d,
                    .status = c.status,
                    .expires = c.expires,
                    .date = kT0,
                    .shared = c.shared,
                    .heuristic_allowed = c.heuristic_allowed};
  if (c.last_modified) in.last_modified = at(*c.last_modified);
  const FreshnessLifetime f = freshness_lifetime(in);
  EXPECT_EQ(f.lifetime.count(), c.lifetime);
  EXPECT_EQ(f.source, c.source);
}

using S = FreshnessSource;
constexpr std::optional<std::string_view> kNoExpires;
constexpr std::optional<int64_t> kNoLm;
constexpr std::string_view kPlus1h = "Sun, 06 Nov 1994 09:49:37 GMT";
constexpr std::string_view kMinus1h = "Sun, 06 Nov 1994 07:49:37 GMT";

// clang-format off
const LifetimeCase kLifetimeCases[] = {
  // name                      Cache-Control                Expires     Last-Mod  status shared heur  lifetime  source
  {"Nothing",                  "",                          kNoExpires, kNoLm,    200,   true,  true,  0,       S::none},
  {"MaxAge",                   "max-age=60",                kNoExpires, kNoLm,    200,   true,  false, 60,      S::max_age},
  {"SMaxAgeWinsShared",        "max-age=60, s-maxage=5",    kNoExpires, kNoLm,    200,   true,  false, 5,       S::s_maxage},
  {"SMaxAgeIgnoredPrivate",    "max-age=60, s-maxage=5",    kNoExpires, kNoLm,    200,   false, false, 60,      S::max_age},
  {"MaxAgeBeatsExpires",       "max-age=60",                kPlus1h,    kNoLm,    200,   true,  false, 60,      S::max_age},
  {"InvalidMaxAgeIsStale",     "max-age=abc",               kPlus1h,    kNoLm,    200,   true,  false, 0,       S::max_age},
  {"ConflictingMaxAgeIsStale", "max-age=10, max-age=20",    kNoExpires, kNoLm,    200,   true,  false, 0,       S::max_age},
  {"Expires",                  "",                          kPlus1h,    kNoLm,    200,   true,  false, 3600,    S::expires},
  {"ExpiresRfc850",            "",                          "Sunday, 06-Nov-94 09:49:37 GMT", kNoLm, 200, true, false, 3600, S::expires},
  {"ExpiresAsctime",           "",                          "Sun Nov  6 09:49:37 1994", kNoLm, 200, true, false, 3600, S::expires},
  {"ExpiresInPast",            "",                          kMinus1h,   kNoLm,    200,   true,  false, 0,       S::expires},
  {"ExpiresZero",              "",                          "0",        kNoLm,    200,   true,  false, 0,       S::expires},
  {"ExpiresGarbage",           "",                          "tomorrow", kNoLm,    200,   true,  false, 0,       S::expires},
  {"ExpiresBlocksHeuristic",   "",                          "0",        -100000,  200,   true,  true,  0,       S::expires},
  {"Heuristic10Percent",       "",                          kNoExpires, -36000,   200,   true,  true,  3600,    S::heuristic},
  {"HeuristicCappedAtOneDay",  "",                          kNoExpires, -8640000, 200,   true,  true,  86400,   S::heuristic},
  {"HeuristicRoundsDown",      "",                          kNoExpires, -19,      200,   true,  true,  1,       S::heuristic},
  {"HeuristicNotAllowed",      "",                          kNoExpires, -36000,   200,   true,  false, 0,       S::none},
  {"HeuristicStatus404",       "",                          kNoExpires, -36000,   404,   true,  true,  3600,    S::heuristic},
  {"HeuristicNotFor302",       "",                          kNoExpires, -36000,   302,   true,  true,  0,       S::none},
  {"HeuristicNotFor206",       "",                          kNoExpires, -36000,   206,   true,  true,  0,       S::none},
  {"HeuristicNotFor500",       "",                          kNoExpires, -36000,   500,   true,  true,  0,       S::none},
  {"HeuristicFutureLastMod",   "",                          kNoExpires, 100,      200,   true,  true,  0,       S::none},
  {"HeuristicLastModEqDate",   "",                          kNoExpires, 0,        200,   true,  true,  0,       S::none},
  {"HeuristicNeedsLastMod",    "",                          kNoExpires, kNoLm,    200,   true,  true,  0,       S::none},
  {"ExplicitBeatsHeuristic",   "max-age=7",                 kNoExpires, -36000,   200,   true,  true,  7,       S::max_age},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(Lifetime, LifetimeTest, testing::ValuesIn(kLifetimeCases),
                         case_name<LifetimeCase>);

}  // namespace
}  // namespace bulwark::cache
