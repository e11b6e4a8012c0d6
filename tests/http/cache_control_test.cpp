#include "http/cache_control.hpp"

#include <gtest/gtest.h>

#include "support/case_name.hpp"

#include <optional>
#include <ostream>
#include <string_view>

namespace bulwark::http {
namespace {

using testing_support::case_name;

constexpr int64_t kNone = -1;
constexpr int64_t k2to31 = int64_t{1} << 31;

struct FreshnessCase {
  std::string_view name;
  std::string_view value;
  int64_t max_age;  // kNone: nullopt
  bool no_cache;
  bool no_store;
};

void PrintTo(const FreshnessCase& c, std::ostream* os) {
  *os << c.name;
}

class ResponseFreshnessTest : public testing::TestWithParam<FreshnessCase> {};

TEST_P(ResponseFreshnessTest, Parses) {
  const auto& c = GetParam();
  auto freshness = parse_response_freshness(c.value);
  if (c.max_age == kNone) {
    EXPECT_FALSE(freshness.max_age.has_value()) << freshness.max_age->count();
  } else {
    ASSERT_TRUE(freshness.max_age.has_value());
    EXPECT_EQ(freshness.max_age->count(), c.max_age);
  }
  EXPECT_EQ(freshness.no_cache, c.no_cache);
  EXPECT_EQ(freshness.no_store, c.no_store);
}

// clang-format off
const FreshnessCase kFreshnessCases[] = {
  // name                        value                                     max_age  no-cache no-store
  {"Empty",                      "",                                       kNone,   false, false},
  {"OnlyWhitespace",             " \t ",                                   kNone,   false, false},
  {"MaxAge",                     "max-age=60",                             60,      false, false},
  {"MaxAgeZero",                 "max-age=0",                              0,       false, false},
  {"MaxAgeLeadingZeros",         "max-age=007",                            7,       false, false},
  {"PublicThenMaxAge",           "public, max-age=300",                    300,     false, false},
  {"MaxAgeThenOthers",           "max-age=300, must-revalidate, no-transform", 300, false, false},
  {"Auth0Style",                 "public, max-age=15, stale-while-revalidate=15, stale-if-error=86400",
                                                                           15,      false, false},
  {"NoSpaceAfterComma",          "public,max-age=5",                       5,       false, false},
  {"SurroundingWhitespace",      " \tmax-age=5 \t",                        5,       false, false},
  {"EmptyElements",              ", ,max-age=5,, ,",                       5,       false, false},
  {"UpperCaseName",              "MAX-AGE=60",                             60,      false, false},
  {"MixedCaseName",              "Max-Age=60",                             60,      false, false},
  {"QuotedMaxAge",               "max-age=\"60\"",                         60,      false, false},
  {"QuotedEscapedDigit",         "max-age=\"6\\0\"",                       60,      false, false},
  {"QuotedEmpty",                "max-age=\"\"",                           kNone,   false, false},
  {"QuotedWithSpace",            "max-age=\" 60\"",                        kNone,   false, false},
  {"QuotedCommaElsewhere",       "no-cache=\"a, max-age=1\", max-age=9",   9,       false, false},
  {"SMaxAgeIgnored",             "s-maxage=10",                            kNone,   false, false},
  {"SMaxAgeBesideMaxAge",        "s-maxage=10, max-age=100",               100,     false, false},
  {"MaxStaleIgnored",            "max-stale=10",                           kNone,   false, false},
  {"Duplicate",                  "max-age=60, max-age=30",                 kNone,   false, false},
  {"DuplicateSameValue",         "max-age=60, max-age=60",                 kNone,   false, false},
  {"DuplicateFromJoinedLines",   "max-age=60, public, MAX-AGE=60",         kNone,   false, false},
  {"DuplicateOneInvalid",        "max-age=abc, max-age=60",                kNone,   false, false},
  {"Negative",                   "max-age=-1",                             kNone,   false, false},
  {"Plus",                       "max-age=+5",                             kNone,   false, false},
  {"Fraction",                   "max-age=1.5",                            kNone,   false, false},
  {"Letters",                    "max-age=abc",                            kNone,   false, false},
  {"HexLooking",                 "max-age=0x10",                           kNone,   false, false},
  {"NoArgument",                 "max-age",                                kNone,   false, false},
  {"NoArgumentBesideOthers",     "max-age, public",                        kNone,   false, false},
  {"Largest31Bit",               "max-age=2147483647",                     2147483647, false, false},
  {"Exactly2To31",               "max-age=2147483648",                     k2to31,  false, false},
  {"OverflowClamped",            "max-age=99999999999999999999999999",     k2to31,  false, false},
  {"NoCache",                    "no-cache",                               kNone,   true,  false},
  {"NoCacheUpper",               "No-Cache",                               kNone,   true,  false},
  {"NoCacheQualified",           "no-cache=\"Set-Cookie\"",                kNone,   false, false},
  {"NoCacheQualifiedToken",      "no-cache=Set-Cookie",                    kNone,   false, false},
  {"NoStore",                    "no-store",                               kNone,   false, true},
  {"NoStoreWithMaxAge",          "no-store, max-age=60",                   60,      false, true},
  {"KeycloakStyle",              "no-cache, must-revalidate, no-transform, no-store", kNone, true, true},
  {"PrivateMaxAge",              "private, max-age=30",                    30,      false, false},
  // Malformed lists: nothing is taken from them.
  {"SpaceAroundEquals",          "max-age = 60",                           kNone,   false, false},
  {"SpaceAfterEquals",           "max-age= 60",                            kNone,   false, false},
  {"EmptyArgument",              "max-age=, public",                       kNone,   false, false},
  {"TwoTokensNoComma",           "public max-age=60",                      kNone,   false, false},
  {"UnterminatedQuote",          "max-age=\"60",                           kNone,   false, false},
  {"TextAfterQuote",             "max-age=\"60\"s",                        kNone,   false, false},
  {"Semicolon",                  "max-age=60; public",                     kNone,   false, false},
  {"MalformedHidesNoStore",      "no-store, ==",                           kNone,   false, false},
  {"ControlCharInQuote",         "no-cache=\"a\x01\", max-age=5",          kNone,   false, false},
  {"NulByte",                    std::string_view("max-age=5\0", 10),      kNone,   false, false},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(Cases, ResponseFreshnessTest, testing::ValuesIn(kFreshnessCases),
                         case_name<FreshnessCase>);

struct DeltaCase {
  std::string_view name;
  std::string_view value;
  int64_t seconds;  // kNone: nullopt
};

void PrintTo(const DeltaCase& c, std::ostream* os) {
  *os << c.name;
}

class DeltaSecondsTest : public testing::TestWithParam<DeltaCase> {};

TEST_P(DeltaSecondsTest, Parses) {
  const auto& c = GetParam();
  auto seconds = parse_delta_seconds(c.value);
  if (c.seconds == kNone) {
    EXPECT_FALSE(seconds.has_value());
  } else {
    ASSERT_TRUE(seconds.has_value());
    EXPECT_EQ(seconds->count(), c.seconds);
  }
}

// clang-format off
const DeltaCase kDeltaCases[] = {
  {"Zero",              "0",                      0},
  {"Plain",             "120",                    120},
  {"Whitespace",        " 120\t",                 120},
  {"Huge",              "123456789012345678901",  k2to31},
  {"Empty",             "",                       kNone},
  {"Negative",          "-5",                     kNone},
  {"InnerSpace",        "1 2",                    kNone},
  {"Letters",           "12a",                    kNone},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(Cases, DeltaSecondsTest, testing::ValuesIn(kDeltaCases),
                         case_name<DeltaCase>);

}  // namespace
}  // namespace bulwark::http
