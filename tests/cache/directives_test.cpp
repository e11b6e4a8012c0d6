#include "cache/directives.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "support/case_name.hpp"

namespace bulwark::cache {
namespace {

using testing_support::case_name;

constexpr int64_t kNone = -1;
constexpr int64_t k2to31 = int64_t{1} << 31;

int64_t secs(const std::optional<std::chrono::seconds>& s) {
  return s ? s->count() : kNone;
}

// ---- response --------------------------------------------------------------------------------

struct ResponseCase {
  std::string_view name;
  std::string_view value;
  int64_t max_age;
  int64_t s_maxage;
  int64_t swr;
  int64_t sie;
};

void PrintTo(const ResponseCase& c, std::ostream* os) {
  *os << c.name;
}

class ResponseDeltaTest : public testing::TestWithParam<ResponseCase> {};

TEST_P(ResponseDeltaTest, Parses) {
  const auto& c = GetParam();
  const ResponseDirectives d = parse_response_directives(c.value);
  EXPECT_EQ(secs(d.max_age), c.max_age);
  EXPECT_EQ(secs(d.s_maxage), c.s_maxage);
  EXPECT_EQ(secs(d.stale_while_revalidate), c.swr);
  EXPECT_EQ(secs(d.stale_if_error), c.sie);
}

// clang-format off
const ResponseCase kResponseCases[] = {
  // name                     value                                       max-age  s-maxage swr    sie
  {"Empty",                   "",                                          kNone,  kNone,  kNone, kNone},
  {"MaxAge",                  "max-age=60",                                60,     kNone,  kNone, kNone},
  {"MaxAgeZero",              "max-age=0",                                 0,      kNone,  kNone, kNone},
  {"MaxAgeUpperCase",         "MAX-AGE=60",                                60,     kNone,  kNone, kNone},
  {"MaxAgeQuoted",            "max-age=\"10\"",                            10,     kNone,  kNone, kNone},
  {"MaxAgeEmpty",             "max-age=",                                  0,      kNone,  kNone, kNone},
  {"MaxAgeNoArgument",        "max-age",                                   0,      kNone,  kNone, kNone},
  {"MaxAgeLetters",           "max-age=abc",                               0,      kNone,  kNone, kNone},
  {"MaxAgeNegative",          "max-age=-1",                                0,      kNone,  kNone, kNone},
  {"MaxAgeFraction",          "max-age=1.5",                               0,      kNone,  kNone, kNone},
  {"MaxAgeSpaceAroundEquals", "max-age = 60",                              0,      kNone,  kNone, kNone},
  {"MaxAgeQuotedSpace",       "max-age=\" 10\"",                           0,      kNone,  kNone, kNone},
  {"MaxAgeUnterminated",      "max-age=\"10",                              0,      kNone,  kNone, kNone},
  {"MaxAgeTwiceDiffer",       "max-age=10, max-age=20",                    0,      kNone,  kNone, kNone},
  {"MaxAgeTwiceSame",         "max-age=10, max-age=10",                    10,     kNone,  kNone, kNone},
  {"MaxAgeTwiceOneInvalid",   "max-age=10, max-age=x",                     0,      kNone,  kNone, kNone},
  {"MaxAgeJoinedLines",       "public, max-age=10, max-age=\"10\"",        10,     kNone,  kNone, kNone},
  {"MaxAgeHuge",              "max-age=99999999999999999999999",           k2to31, kNone,  kNone, kNone},
  {"MaxAge2to31",             "max-age=2147483648",                        k2to31, kNone,  kNone, kNone},
  {"MaxAgeBelow2to31",        "max-age=2147483647",                        k2to31 - 1, kNone, kNone, kNone},
  {"MaxAgeLeadingZeros",      "max-age=007",                               7,      kNone,  kNone, kNone},
  {"SMaxAge",                 "s-maxage=30, max-age=60",                   60,     30,     kNone, kNone},
  {"SMaxAgeInvalid",          "s-maxage=x",                                kNone,  0,      kNone, kNone},
  {"SMaxAgeTwiceDiffer",      "s-maxage=1,s-maxage=2",                     kNone,  0,      kNone, kNone},
  {"StaleDirectives",         "max-age=15, stale-while-revalidate=15, stale-if-error=86400",
                                                                           15,     kNone,  15,    86400},
  {"StaleInvalidIsAbsent",    "stale-while-revalidate=x, stale-if-error=",  kNone, kNone,  kNone, kNone},
  {"StaleConflictIsAbsent",   "stale-if-error=1, stale-if-error=2",        kNone,  kNone,  kNone, kNone},
  {"UnknownIgnored",          "foo, bar=\"baz, qux\", max-age=5",          5,      kNone,  kNone, kNone},
  {"QuotedCommaNotASplit",    "ext=\"a,max-age=9\", max-age=5",            5,      kNone,  kNone, kNone},
  {"EmptyElements",           ", ,max-age=5,, ,",                          5,      kNone,  kNone, kNone},
  {"Whitespace",              " \tmax-age=5 \t, public",                   5,      kNone,  kNone, kNone},
  {"MalformedNeighbour",      "a b, max-age=5",                            5,      kNone,  kNone, kNone},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(Response, ResponseDeltaTest, testing::ValuesIn(kResponseCases),
                         case_name<ResponseCase>);

TEST(ResponseDirectives, BooleansAllSet) {
  const auto d = parse_response_directives(
      "no-cache, no-store, private, public, must-revalidate, proxy-revalidate, "
      "must-understand, no-transform");
  EXPECT_TRUE(d.no_cache);
  EXPECT_TRUE(d.no_cache_fields.empty());
  EXPECT_TRUE(d.no_store);
  EXPECT_TRUE(d.private_);
  EXPECT_TRUE(d.private_fields.empty());
  EXPECT_TRUE(d.public_);
  EXPECT_TRUE(d.must_revalidate);
  EXPECT_TRUE(d.proxy_revalidate);
  EXPECT_TRUE(d.must_understand);
  EXPECT_TRUE(d.no_transform);
}

TEST(ResponseDirectives, NoneSetByDefault) {
  const auto d = parse_response_directives("max-age=1, x-custom");
  EXPECT_FALSE(d.no_cache || d.no_store || d.private_ || d.public_ || d.must_revalidate ||
               d.proxy_revalidate || d.must_understand || d.no_transform);
}

TEST(ResponseDirectives, CaseInsensitiveNames) {
  const auto d = parse_response_directives("No-Store, PRIVATE, Public");
  EXPECT_TRUE(d.no_store);
  EXPECT_TRUE(d.private_);
  EXPECT_TRUE(d.public_);
}

TEST(ResponseDirectives, BooleanWithArgumentStillSet) {
  const auto d = parse_response_directives("no-store=1, must-revalidate=\"x\"");
  EXPECT_TRUE(d.no_store);
  EXPECT_TRUE(d.must_revalidate);
}

TEST(ResponseDirectives, MalformedRestrictiveStillSet) {
  EXPECT_TRUE(parse_response_directives("no-store=\"unterminated").no_store);
  EXPECT_TRUE(parse_response_directives("no-store =x").no_store);
}

struct FieldsCase {
  std::string_view name;
  std::string_view value;
  std::vector<std::string> private_fields;
  std::vector<std::string> no_cache_fields;
};

void PrintTo(const FieldsCase& c, std::ostream* os) {
  *os << c.name;
}

class FieldNamesTest : public testing::TestWithParam<FieldsCase> {};

TEST_P(FieldNamesTest, Parses) {
  const auto& c = GetParam();
  const auto d = parse_response_directives(c.value);
  EXPECT_EQ(d.private_fields, c.private_fields);
  EXPECT_EQ(d.no_cache_fields, c.no_cache_fields);
}

// clang-format off
const FieldsCase kFieldsCases[] = {
  {"PrivateQuoted",          "private=\"set-cookie\"",                {"set-cookie"},          {}},
  {"PrivateQuotedList",      "private=\"Set-Cookie, X-User\"",        {"set-cookie", "x-user"}, {}},
  {"PrivateToken",           "private=Set-Cookie",                    {"set-cookie"},          {}},
  {"PrivateDuplicateNames",  "private=\"a, A\", private=a",           {"a"},                   {}},
  {"PrivateThenUnqualified", "private=\"a\", private",                {},                      {}},
  {"PrivateNotAList",        "private=\"a b\"",                       {},                      {}},
  {"PrivateEmptyQuoted",     "private=\"\"",                          {},                      {}},
  {"NoCacheQuoted",          "no-cache=\"Set-Cookie\"",               {},                      {"set-cookie"}},
  {"NoCacheUnqualified",     "no-cache",                              {},                      {}},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(Qualified, FieldNamesTest, testing::ValuesIn(kFieldsCases),
                         case_name<FieldsCase>);

TEST(ResponseDirectives, QualifiedFormsSetTheFlag) {
  const auto d = parse_response_directives("private=\"set-cookie\", no-cache=\"x\"");
  EXPECT_TRUE(d.private_);
  EXPECT_TRUE(d.no_cache);
}

// ---- request ---------------------------------------------------------------------------------

struct RequestCase {
  std::string_view name;
  std::string_view value;
  int64_t max_age;
  bool max_stale;
  int64_t max_stale_seconds;
  int64_t min_fresh;
};

void PrintTo(const RequestCase& c, std::ostream* os) {
  *os << c.name;
}

class RequestDeltaTest : public testing::TestWithParam<RequestCase> {};

TEST_P(RequestDeltaTest, Parses) {
  const auto& c = GetParam();
  const RequestDirectives d = parse_request_directives(c.value);
  EXPECT_EQ(secs(d.max_age), c.max_age);
  EXPECT_EQ(d.max_stale, c.max_stale);
  EXPECT_EQ(secs(d.max_stale_seconds), c.max_stale_seconds);
  EXPECT_EQ(secs(d.min_fresh), c.min_fresh);
}

// clang-format off
const RequestCase kRequestCases[] = {
  // name                    value                               max-age max-stale secs   min-fresh
  {"Empty",                  "",                                  kNone,  false, kNone,  kNone},
  {"MaxAge",                 "max-age=5",                         5,      false, kNone,  kNone},
  {"MaxAgeInvalid",          "max-age=abc",                       0,      false, kNone,  kNone},
  {"MaxAgeConflict",         "max-age=5, max-age=6",              0,      false, kNone,  kNone},
  {"MaxStaleBare",           "max-stale",                         kNone,  true,  kNone,  kNone},
  {"MaxStaleValue",          "max-stale=30",                      kNone,  true,  30,     kNone},
  {"MaxStaleQuoted",         "max-stale=\"30\"",                  kNone,  true,  30,     kNone},
  {"MaxStaleInvalidIgnored", "max-stale=x",                       kNone,  false, kNone,  kNone},
  {"MaxStaleSmallestWins",   "max-stale=30, max-stale=10",        kNone,  true,  10,     kNone},
  {"MaxStaleBareAndValue",   "max-stale, max-stale=10",           kNone,  true,  10,     kNone},
  {"MaxStaleHuge",           "max-stale=999999999999",            kNone,  true,  k2to31, kNone},
  {"MinFresh",               "min-fresh=20",                      kNone,  false, kNone,  20},
  {"MinFreshLargestWins",    "min-fresh=20, min-fresh=40",        kNone,  false, kNone,  40},
  {"MinFreshInvalidIgnored", "min-fresh=-5",                      kNone,  false, kNone,  kNone},
  {"Everything",             "MAX-AGE=1, Max-Stale=2, min-fresh=3", 1,    true,  2,      3},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(Request, RequestDeltaTest, testing::ValuesIn(kRequestCases),
                         case_name<RequestCase>);

TEST(RequestDirectives, Booleans) {
  const auto d = parse_request_directives("no-cache, NO-STORE, no-transform, only-if-cached");
  EXPECT_TRUE(d.no_cache);
  EXPECT_TRUE(d.no_store);
  EXPECT_TRUE(d.no_transform);
  EXPECT_TRUE(d.only_if_cached);
  const auto none = parse_request_directives("public, private, max-age=1");
  EXPECT_FALSE(none.no_cache || none.no_store || none.no_transform || none.only_if_cached);
}

TEST(DeltaSeconds, Parses) {
  EXPECT_EQ(secs(parse_delta_seconds("0")), 0);
  EXPECT_EQ(secs(parse_delta_seconds("123")), 123);
  EXPECT_EQ(secs(parse_delta_seconds("2147483649")), k2to31);
  EXPECT_EQ(secs(parse_delta_seconds("")), kNone);
  EXPECT_EQ(secs(parse_delta_seconds(" 1")), kNone);
  EXPECT_EQ(secs(parse_delta_seconds("+1")), kNone);
}

}  // namespace
}  // namespace bulwark::cache
