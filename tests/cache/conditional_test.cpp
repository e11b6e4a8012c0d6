#include "cache/conditional.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cache/http_date.hpp"
#include "support/case_name.hpp"

namespace bulwark::cache {
namespace {

using std::chrono::seconds;
using std::chrono::sys_seconds;
using testing_support::case_name;
using Lines = std::vector<FieldLine>;
using StoredFields = std::vector<std::pair<std::string, std::string>>;

// 1994-11-06T08:49:37Z, the RFC's example date.
constexpr sys_seconds kT0{seconds{784111777}};
constexpr std::string_view kAt0 = "Sun, 06 Nov 1994 08:49:37 GMT";
constexpr std::string_view kAtMinus1s = "Sun, 06 Nov 1994 08:49:36 GMT";
constexpr std::string_view kAtPlus1s = "Sun, 06 Nov 1994 08:49:38 GMT";
constexpr std::string_view kAtMinus1h = "Sun, 06 Nov 1994 07:49:37 GMT";
constexpr std::string_view kAtMinus1hMinus1s = "Sun, 06 Nov 1994 07:49:36 GMT";
constexpr std::string_view kAtMinus1hPlus1s = "Sun, 06 Nov 1994 07:49:38 GMT";
constexpr std::string_view kAtMinus30m = "Sun, 06 Nov 1994 08:19:37 GMT";
constexpr std::string_view kAtPlus1y = "Mon, 06 Nov 1995 08:49:37 GMT";
constexpr std::optional<int64_t> kNone;

sys_seconds at(int64_t offset) {
  return kT0 + seconds{offset};
}

// A stored 200 with these validators (offsets from kT0), received at kT0.
Entry stored(std::string_view etag, std::optional<int64_t> last_modified,
             std::optional<int64_t> date, unsigned status = 200) {
  Entry e;
  e.status = status;
  e.body = std::make_shared<const std::string>("body");
  e.request_time = kT0;
  e.response_time = kT0;
  if (!etag.empty()) e.fields.emplace_back("ETag", etag);
  if (last_modified) e.fields.emplace_back("Last-Modified", format_http_date(at(*last_modified)));
  if (date) e.fields.emplace_back("Date", format_http_date(at(*date)));
  derive_metadata(e, false);
  return e;
}

// ---- origin_only_conditions ------------------------------------------------------------------

struct OriginOnlyCase {
  std::string_view name;
  Lines request;
  bool expected;
};

void PrintTo(const OriginOnlyCase& c, std::ostream* os) {
  *os << c.name;
}

class OriginOnlyTest : public testing::TestWithParam<OriginOnlyCase> {};

TEST_P(OriginOnlyTest, Detects) {
  EXPECT_EQ(origin_only_conditions(GetParam().request), GetParam().expected);
}

// clang-format off
const OriginOnlyCase kOriginOnlyCases[] = {
  {"NoFields",            {},                                              false},
  {"IfMatch",             {{"If-Match", "\"a\""}},                         true},
  {"IfUnmodifiedSince",   {{"If-Unmodified-Since", kAt0}},                 true},
  {"IfRange",             {{"If-Range", "\"a\""}},                         true},
  {"Range",               {{"Range", "bytes=0-1"}},                        true},
  {"NameCaseInsensitive", {{"RANGE", "bytes=0-1"}},                        true},
  {"EmptyValueCounts",    {{"if-match", ""}},                              true},
  {"AmongOthers",         {{"Accept", "*/*"}, {"If-Range", kAt0}},         true},
  {"IfNoneMatchIsNot",    {{"If-None-Match", "\"a\""}},                    false},
  {"IfModifiedSinceIsNot", {{"If-Modified-Since", kAt0}},                  false},
  {"SimilarNamesAreNot",  {{"If-Matches", "x"}, {"X-Range", "x"}, {"Content-Range", "x"}}, false},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(OriginOnly, OriginOnlyTest, testing::ValuesIn(kOriginOnlyCases),
                         case_name<OriginOnlyCase>);

// ---- weak_etag_match -------------------------------------------------------------------------

struct WeakMatchCase {
  std::string_view name;
  std::string_view a;
  std::string_view b;
  bool expected;
};

void PrintTo(const WeakMatchCase& c, std::ostream* os) {
  *os << c.name;
}

class WeakMatchTest : public testing::TestWithParam<WeakMatchCase> {};

TEST_P(WeakMatchTest, Compares) {
  const auto& c = GetParam();
  EXPECT_EQ(weak_etag_match(c.a, c.b), c.expected);
  EXPECT_EQ(weak_etag_match(c.b, c.a), c.expected);  // symmetric
}

// clang-format off
const WeakMatchCase kWeakMatchCases[] = {
  // RFC 9110 §8.8.3.2's table
  {"RfcWeakWeakSame",       "W/\"1\"",     "W/\"1\"",     true},
  {"RfcWeakWeakDiffer",     "W/\"1\"",     "W/\"2\"",     false},
  {"RfcWeakStrong",         "W/\"1\"",     "\"1\"",       true},
  {"RfcStrongStrong",       "\"1\"",       "\"1\"",       true},
  {"StrongDiffer",          "\"x\"",       "\"y\"",       false},
  {"OpaqueCaseSensitive",   "\"x\"",       "\"X\"",       false},
  {"EmptyOpaque",           "\"\"",        "\"\"",        true},
  {"EmptyOpaqueWeak",       "W/\"\"",      "\"\"",        true},
  {"Whitespace",            " \"x\"\t",    "\"x\"",       true},
  {"CommaInOpaque",         "\"a,b\"",     "\"a,b\"",     true},
  {"ObsText",               "\"\xc3\xbc\"", "\"\xc3\xbc\"", true},
  {"Unquoted",              "x",           "x",           false},
  {"UnquotedVsQuoted",      "x",           "\"x\"",       false},
  {"LowercaseWeak",         "w/\"x\"",     "w/\"x\"",     false},
  {"WeakWithoutSlash",      "W\"x\"",      "W\"x\"",      false},
  {"WeakWithBackslash",     "W\\\"x\"",    "W\\\"x\"",    false},
  {"SpaceAfterWeak",        "W/ \"x\"",    "W/ \"x\"",    false},
  {"SpaceInOpaque",         "\"a b\"",     "\"a b\"",     false},
  {"ControlInOpaque",       "\"a\x01\"",   "\"a\x01\"",   false},
  {"QuoteInOpaque",         "\"a\"b\"",    "\"a\"b\"",    false},
  {"TrailingJunk",          "\"x\"y",      "\"x\"y",      false},
  {"Unterminated",          "\"x",         "\"x",         false},
  {"List",                  "\"x\", \"x\"", "\"x\"",      false},
  {"Empty",                 "",            "",            false},
  {"Star",                  "*",           "*",           false},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(WeakMatch, WeakMatchTest, testing::ValuesIn(kWeakMatchCases),
                         case_name<WeakMatchCase>);

// ---- not_modified ----------------------------------------------------------------------------

struct NotModifiedCase {
  std::string_view name;
  std::string_view etag;  // stored ETag, "" for none
  std::optional<int64_t> last_modified;
  std::optional<int64_t> date;
  unsigned status;
  Lines request;
  bool expected;
};

void PrintTo(const NotModifiedCase& c, std::ostream* os) {
  *os << c.name;
}

class NotModifiedTest : public testing::TestWithParam<NotModifiedCase> {};

TEST_P(NotModifiedTest, Decides) {
  const auto& c = GetParam();
  const Entry e = stored(c.etag, c.last_modified, c.date, c.status);
  EXPECT_EQ(not_modified(e, c.request, at(100)), c.expected);
}

constexpr std::string_view kAbc = "\"abc\"";

// clang-format off
const NotModifiedCase kNotModifiedCases[] = {
  // name                        ETag          Last-Mod Date   status request                                                     304?
  // If-None-Match
  {"InmStrongMatch",             kAbc,         kNone,   0,     200, {{"If-None-Match", "\"abc\""}},                               true},
  {"InmMismatch",                kAbc,         kNone,   0,     200, {{"If-None-Match", "\"abd\""}},                               false},
  {"InmOpaqueCaseSensitive",     kAbc,         kNone,   0,     200, {{"If-None-Match", "\"ABC\""}},                               false},
  {"InmWeakRequestStrongStored", kAbc,         kNone,   0,     200, {{"If-None-Match", "W/\"abc\""}},                             true},
  {"InmStrongRequestWeakStored", "W/\"abc\"",  kNone,   0,     200, {{"If-None-Match", "\"abc\""}},                               true},
  {"InmBothWeak",                "W/\"abc\"",  kNone,   0,     200, {{"If-None-Match", "W/\"abc\""}},                             true},
  {"InmListFirst",               kAbc,         kNone,   0,     200, {{"If-None-Match", "\"abc\", \"1234\", \"5678\""}},           true},
  {"InmListMiddle",              kAbc,         kNone,   0,     200, {{"If-None-Match", "\"1234\", \"abc\", \"5678\""}},           true},
  {"InmListLast",                kAbc,         kNone,   0,     200, {{"If-None-Match", "\"1234\", \"5678\", \"abc\""}},           true},
  {"InmListNone",                kAbc,         kNone,   0,     200, {{"If-None-Match", "\"1234\", \"5678\""}},                    false},
  {"InmListNoSpaces",            kAbc,         kNone,   0,     200, {{"If-None-Match", "\"x\",\"abc\""}},                         true},
  {"InmListEmptyMembers",        kAbc,         kNone,   0,     200, {{"If-None-Match", " , ,\"abc\" ,"}},                         true},
  {"InmTwoLines",                kAbc,         kNone,   0,     200, {{"If-None-Match", "\"x\""}, {"if-none-match", "\"abc\""}},   true},
  {"InmStar",                    kAbc,         kNone,   0,     200, {{"If-None-Match", "*"}},                                     true},
  {"InmStarWithoutEtag",         "",           kNone,   0,     200, {{"If-None-Match", " * "}},                                   true},
  {"InmStarInListIsMalformed",   kAbc,         kNone,   0,     200, {{"If-None-Match", "\"x\", *"}},                              false},
  {"InmStarOnTwoLines",          kAbc,         kNone,   0,     200, {{"If-None-Match", "*"}, {"If-None-Match", "*"}},             false},
  {"InmUnquoted",                kAbc,         kNone,   0,     200, {{"If-None-Match", "abc"}},                                   false},
  {"InmUnquotedBothSides",       "abc",        kNone,   0,     200, {{"If-None-Match", "abc"}},                                   false},
  {"InmLowercaseWeak",           kAbc,         kNone,   0,     200, {{"If-None-Match", "w/\"abc\""}},                             false},
  {"InmMalformedMemberSkipped",  kAbc,         kNone,   0,     200, {{"If-None-Match", "junk, \"abc\""}},                         true},
  {"InmOnlyMalformed",           kAbc,         kNone,   0,     200, {{"If-None-Match", "junk"}},                                  false},
  {"InmJunkAfterTag",            kAbc,         kNone,   0,     200, {{"If-None-Match", "\"abc\"x"}},                              false},
  {"InmJunkAfterTagThenTag",     kAbc,         kNone,   0,     200, {{"If-None-Match", "\"abc\"x, \"abc\""}},                     true},
  {"InmUnterminated",            kAbc,         kNone,   0,     200, {{"If-None-Match", "\"abc"}},                                 false},
  {"InmQuoteRunsOverComma",      "\"b\"",      kNone,   0,     200, {{"If-None-Match", "\"a,\"b\""}},                             false},
  {"InmSpaceBreaksOpenTag",      "\"b\"",      kNone,   0,     200, {{"If-None-Match", "\"a, \"b\""}},                            true},
  {"InmCommaInStoredTag",        "\"a,b\"",    kNone,   0,     200, {{"If-None-Match", "\"a,b\""}},                               true},
  {"InmEmptyValue",              kAbc,         kNone,   0,     200, {{"If-None-Match", ""}},                                      false},
  {"InmNoStoredEtag",            "",           -3600,   0,     200, {{"If-None-Match", "\"abc\""}},                               false},
  {"InmStoredEtagInvalid",       "abc",        kNone,   0,     200, {{"If-None-Match", "\"abc\""}},                               false},
  {"InmNameCaseInsensitive",     kAbc,         kNone,   0,     200, {{"IF-NONE-MATCH", "\"abc\""}},                               true},
  {"InmMismatchBeatsIms",        kAbc,         -3600,   0,     200, {{"If-None-Match", "\"x\""}, {"If-Modified-Since", kAt0}},    false},
  {"InmMatchBeatsIms",           kAbc,         -3600,   0,     200, {{"If-Modified-Since", kAtMinus1hMinus1s}, {"If-None-Match", "\"abc\""}}, true},
  {"InmEmptyBeatsIms",           kAbc,         -3600,   0,     200, {{"If-None-Match", ""}, {"If-Modified-Since", kAt0}},         false},
  {"InmMalformedBeatsIms",       kAbc,         -3600,   0,     200, {{"If-None-Match", "abc"}, {"If-Modified-Since", kAt0}},      false},
  {"InmStored404",               kAbc,         kNone,   0,     404, {{"If-None-Match", "\"abc\""}},                               false},
  {"InmStarStored301",           kAbc,         kNone,   0,     301, {{"If-None-Match", "*"}},                                     false},
  {"InmStored204",               kAbc,         kNone,   0,     204, {{"If-None-Match", "\"abc\""}},                               true},
  {"InmStored203",               kAbc,         kNone,   0,     203, {{"If-None-Match", "\"abc\""}},                               true},
  // If-Modified-Since
  {"ImsEqualsLastModified",      "",           -3600,   0,     200, {{"If-Modified-Since", kAtMinus1h}},                          true},
  {"ImsAfterLastModified",       "",           -3600,   0,     200, {{"If-Modified-Since", kAtMinus1hPlus1s}},                    true},
  {"ImsBeforeLastModified",      "",           -3600,   0,     200, {{"If-Modified-Since", kAtMinus1hMinus1s}},                   false},
  {"ImsLastModifiedBeatsDate",   "",           -3600,   0,     200, {{"If-Modified-Since", kAtMinus30m}},                         true},
  {"ImsDateWithoutLastModified", "",           kNone,   0,     200, {{"If-Modified-Since", kAt0}},                                true},
  {"ImsBeforeDate",              "",           kNone,   0,     200, {{"If-Modified-Since", kAtMinus1s}},                          false},
  {"ImsReceiptTimeWithoutDate",  "",           kNone,   kNone, 200, {{"If-Modified-Since", kAt0}},                                true},
  {"ImsBeforeReceiptTime",       "",           kNone,   kNone, 200, {{"If-Modified-Since", kAtMinus1s}},                          false},
  {"ImsEtagIrrelevant",          kAbc,         -3600,   0,     200, {{"If-Modified-Since", kAtMinus1h}},                          true},
  {"ImsInFutureIsNotSpecial",    "",           -3600,   0,     200, {{"If-Modified-Since", kAtPlus1y}},                           true},
  {"ImsRfc850",                  "",           -3600,   0,     200, {{"If-Modified-Since", "Sunday, 06-Nov-94 07:49:37 GMT"}},    true},
  {"ImsRfc850Before",            "",           -3600,   0,     200, {{"If-Modified-Since", "Sunday, 06-Nov-94 07:49:36 GMT"}},    false},
  {"ImsAsctime",                 "",           -3600,   0,     200, {{"If-Modified-Since", "Sun Nov  6 07:49:37 1994"}},          true},
  {"ImsSurroundingWhitespace",   "",           -3600,   0,     200, {{"If-Modified-Since", "  Sun, 06 Nov 1994 07:49:37 GMT "}},  true},
  {"ImsInvalid",                 "",           -3600,   0,     200, {{"If-Modified-Since", "yesterday"}},                         false},
  {"ImsLowercaseGmt",            "",           -3600,   0,     200, {{"If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 gmt"}},     false},
  {"ImsEmpty",                   "",           -3600,   0,     200, {{"If-Modified-Since", ""}},                                  false},
  {"ImsTwoLines",                "",           -3600,   0,     200, {{"If-Modified-Since", kAt0}, {"If-Modified-Since", kAt0}},   false},
  {"ImsNameCaseInsensitive",     "",           -3600,   0,     200, {{"if-modified-since", kAt0}},                                true},
  {"ImsStored404",               "",           -3600,   0,     404, {{"If-Modified-Since", kAt0}},                                false},
  {"ImsStored500",               "",           -3600,   0,     500, {{"If-Modified-Since", kAt0}},                                false},
  // neither
  {"NoConditions",               kAbc,         -3600,   0,     200, {{"Accept", "*/*"}},                                          false},
  {"OriginOnlyConditionsIgnored", kAbc,        -3600,   0,     200, {{"If-Match", "\"abc\""}, {"If-Unmodified-Since", kAt0}},     false},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(NotModified, NotModifiedTest, testing::ValuesIn(kNotModifiedCases),
                         case_name<NotModifiedCase>);

TEST(NotModified, InvalidStoredDateFallsBackToReceiptTime) {
  Entry e;
  e.body = std::make_shared<const std::string>();
  e.request_time = at(-10);
  e.response_time = at(-10);
  e.fields = {{"Date", "not a date"}};
  derive_metadata(e, false);
  EXPECT_TRUE(not_modified(e, Lines{{"If-Modified-Since", format_http_date(at(-10))}}, kT0));
  EXPECT_FALSE(not_modified(e, Lines{{"If-Modified-Since", format_http_date(at(-11))}}, kT0));
}

TEST(NotModified, TwoDigitYearReadAgainstNow) {
  // "01-Jan-70" is 1970 seen from 1994 but 2070 seen from 2030 (RFC 9110 §5.6.7).
  const Entry e = stored("", kNone, 0);  // Date: 1994
  const Lines ims{{"If-Modified-Since", "Thursday, 01-Jan-70 00:00:00 GMT"}};
  EXPECT_FALSE(not_modified(e, ims, kT0));
  EXPECT_TRUE(not_modified(e, ims, sys_seconds{seconds{1'900'000'000}}));  // 2030
}

// ---- validation_fields -----------------------------------------------------------------------

TEST(ValidationFields, EtagAndLastModified) {
  EXPECT_EQ(validation_fields(stored("\"abc\"", -3600, 0)),
            "If-None-Match: \"abc\"\r\nIf-Modified-Since: Sun, 06 Nov 1994 07:49:37 GMT\r\n");
}

TEST(ValidationFields, EtagOnly) {
  EXPECT_EQ(validation_fields(stored("\"abc\"", kNone, 0)), "If-None-Match: \"abc\"\r\n");
}

TEST(ValidationFields, WeakEtagSentAsIs) {
  EXPECT_EQ(validation_fields(stored("W/\"abc\"", kNone, 0)), "If-None-Match: W/\"abc\"\r\n");
}

TEST(ValidationFields, LastModifiedOnly) {
  EXPECT_EQ(validation_fields(stored("", -3600, 0)),
            "If-Modified-Since: Sun, 06 Nov 1994 07:49:37 GMT\r\n");
}

TEST(ValidationFields, NoValidatorsIsEmpty) {
  EXPECT_EQ(validation_fields(stored("", kNone, 0)), "");
}

TEST(ValidationFields, DateIsNotAValidator) {
  EXPECT_EQ(validation_fields(stored("", kNone, -100)), "");
}

TEST(ValidationFields, InvalidEtagNotSent) {
  EXPECT_EQ(validation_fields(stored("abc", -3600, 0)),
            "If-Modified-Since: Sun, 06 Nov 1994 07:49:37 GMT\r\n");
}

TEST(ValidationFields, LastModifiedSentAsImfFixdate) {
  Entry e = stored("", kNone, 0);
  e.fields.emplace_back("Last-Modified", "Sunday, 06-Nov-94 07:49:37 GMT");
  derive_metadata(e, false);
  EXPECT_EQ(validation_fields(e), "If-Modified-Since: Sun, 06 Nov 1994 07:49:37 GMT\r\n");
}

TEST(ValidationFields, EtagCannotInjectFields) {
  Entry e = stored("", kNone, 0);
  e.etag = "\"a\"\r\nX-Injected: 1";
  EXPECT_EQ(validation_fields(e), "");
}

TEST(ValidationFields, EtagTrimmed) {
  Entry e = stored("", kNone, 0);
  e.etag = " \"a\" ";
  EXPECT_EQ(validation_fields(e), "If-None-Match: \"a\"\r\n");
}

// ---- freshens --------------------------------------------------------------------------------

struct FreshensCase {
  std::string_view name;
  std::string_view etag;                 // stored
  std::optional<int64_t> last_modified;  // stored
  Lines not_modified_fields;
  bool expected;
};

void PrintTo(const FreshensCase& c, std::ostream* os) {
  *os << c.name;
}

class FreshensTest : public testing::TestWithParam<FreshensCase> {};

TEST_P(FreshensTest, Selects) {
  const auto& c = GetParam();
  EXPECT_EQ(freshens(stored(c.etag, c.last_modified, 0), c.not_modified_fields), c.expected);
}

// clang-format off
const FreshensCase kFreshensCases[] = {
  // name                        stored ETag   stored LM  304 fields                                                     applies?
  {"StrongEqual",                kAbc,         kNone,     {{"ETag", "\"abc\""}},                                         true},
  {"StrongDiffers",              kAbc,         kNone,     {{"ETag", "\"abd\""}},                                         false},
  {"StrongVsStoredWeak",         "W/\"abc\"",  kNone,     {{"ETag", "\"abc\""}},                                         false},
  {"StrongVsNoneStored",         "",           -3600,     {{"ETag", "\"abc\""}, {"Last-Modified", kAtMinus1h}},          false},
  {"StrongVsStoredInvalid",      "abc",        kNone,     {{"ETag", "\"abc\""}},                                         false},
  {"StrongEqualLastModDiffers",  kAbc,         -3600,     {{"ETag", "\"abc\""}, {"Last-Modified", kAt0}},                true},
  {"WeakMatchesStoredStrong",    kAbc,         kNone,     {{"ETag", "W/\"abc\""}},                                       true},
  {"WeakMatchesStoredWeak",      "W/\"abc\"",  kNone,     {{"ETag", "W/\"abc\""}},                                       true},
  {"WeakDiffers",                "W/\"abc\"",  kNone,     {{"ETag", "W/\"x\""}},                                         false},
  {"InvalidEtagNeverApplies",    "abc",        kNone,     {{"ETag", "abc"}},                                             false},
  {"EtagDecidesOverLastMod",     kAbc,         -3600,     {{"ETag", "\"x\""}, {"Last-Modified", kAtMinus1h}},            false},
  {"EtagFirstLineCounts",        kAbc,         kNone,     {{"ETag", "\"abc\""}, {"ETag", "\"x\""}},                      true},
  {"EtagNameAndSpaces",          kAbc,         kNone,     {{"etag", " \"abc\" "}},                                       true},
  {"LastModEqual",               kAbc,         -3600,     {{"Last-Modified", kAtMinus1h}},                               true},
  {"LastModEqualRfc850",         "",           -3600,     {{"Last-Modified", "Sunday, 06-Nov-94 07:49:37 GMT"}},         true},
  {"LastModDiffers",             "",           -3600,     {{"Last-Modified", kAtMinus1hPlus1s}},                         false},
  {"LastModInvalid",             "",           -3600,     {{"Last-Modified", "soon"}},                                   false},
  {"LastModTwoLines",            "",           -3600,     {{"Last-Modified", kAtMinus1h}, {"Last-Modified", kAtMinus1h}}, false},
  {"LastModNoneStored",          kAbc,         kNone,     {{"Last-Modified", kAtMinus1h}},                               false},
  {"NoValidatorsEitherSide",     "",           kNone,     {{"Cache-Control", "max-age=60"}},                             true},
  {"NoValidator304EtagStored",   kAbc,         kNone,     {{"Cache-Control", "max-age=60"}},                             false},
  {"NoValidator304LastModStored", "",          -3600,     {},                                                            false},
  {"NoValidator304BadEtagStored", "abc",       kNone,     {},                                                            false},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(Freshens, FreshensTest, testing::ValuesIn(kFreshensCases),
                         case_name<FreshensCase>);

// ---- freshen ---------------------------------------------------------------------------------

class Freshen : public testing::Test {
 protected:
  Freshen() {
    old_.uri_key = "h.example/a";
    old_.variant_key =
        "\x01"
        "1:u";
    old_.identity =
        "\x01"
        "1:u";
    old_.vary = parse_vary("Accept");
    old_.status = 200;
    old_.reason = "OK";
    old_.body = std::make_shared<const std::string>("payload");
    old_.request_time = at(-1000);
    old_.response_time = at(-1000);
    old_.fields = {{"Date", format_http_date(at(-1000))},
                   {"Cache-Control", "max-age=1"},
                   {"ETag", "\"v1\""},
                   {"Vary", "Accept"},
                   {"X-A", "1"},
                   {"X-A", "2"},
                   {"X-Keep", "k"},
                   {"Age", "50"}};
    derive_metadata(old_, false);
  }

  std::shared_ptr<Entry> run(const Lines& fields, bool heuristic = false) {
    return freshen(old_, fields, at(-2), kT0, heuristic);
  }

  Entry old_;
};

TEST_F(Freshen, ReplacesAllLinesOfANameAndKeepsTheRest) {
  const auto e = run({{"Date", kAtMinus1s}, {"x-a", "3"}, {"X-New", "n"}});
  EXPECT_EQ(e->fields, (StoredFields{{"Cache-Control", "max-age=1"},
                                     {"ETag", "\"v1\""},
                                     {"Vary", "Accept"},
                                     {"X-Keep", "k"},
                                     {"x-a", "3"},
                                     {"X-New", "n"},
                                     {"Date", std::string(kAtMinus1s)}}));
}

TEST_F(Freshen, RepeatedLinesIn304AllTaken) {
  const auto e = run({{"Date", kAt0}, {"X-A", "3"}, {"X-A", "4"}});
  EXPECT_EQ(e->fields, (StoredFields{{"Cache-Control", "max-age=1"},
                                     {"ETag", "\"v1\""},
                                     {"Vary", "Accept"},
                                     {"X-Keep", "k"},
                                     {"X-A", "3"},
                                     {"X-A", "4"},
                                     {"Date", std::string(kAt0)}}));
}

TEST_F(Freshen, NeverTakesHopByHopFields) {
  const auto e = run({{"Date", kAt0},
                      {"Connection", "close"},
                      {"Keep-Alive", "timeout=5"},
                      {"Proxy-Connection", "keep-alive"},
                      {"TE", "trailers"},
                      {"Transfer-Encoding", "chunked"},
                      {"Upgrade", "h2c"},
                      {"Trailer", "X-T"}});
  for (std::string_view name : {"connection", "keep-alive", "proxy-connection", "te",
                                "transfer-encoding", "upgrade", "trailer"}) {
    EXPECT_EQ(e->field(name), std::nullopt) << name;
  }
}

TEST_F(Freshen, NeverTakesFieldsNamedByConnection) {
  const auto e = run({{"Connection", "X-Keep, x-other"}, {"X-Keep", "replaced"}, {"X-Other", "o"}});
  EXPECT_EQ(e->field("X-Keep"), "k");  // the stored line stays
  EXPECT_EQ(e->field("X-Other"), std::nullopt);
}

TEST_F(Freshen, NeverTakesContentLengthSetCookieOrVary) {
  const auto e = run({{"Content-Length", "0"},
                      {"Set-Cookie", "id=1"},
                      {"Set-Cookie2", "id=1"},
                      {"Vary", "Accept-Language"}});
  EXPECT_EQ(e->field("content-length"), std::nullopt);
  EXPECT_EQ(e->field("set-cookie"), std::nullopt);
  EXPECT_EQ(e->field("set-cookie2"), std::nullopt);
  EXPECT_EQ(e->field("vary"), "Accept");
  EXPECT_EQ(e->vary.names, (std::vector<std::string>{"accept"}));
}

TEST_F(Freshen, AgeOf304FeedsTheNewAge) {
  const auto e = run({{"Date", kAt0}, {"Age", "30"}});
  EXPECT_EQ(e->age_field, seconds{30});
  EXPECT_EQ(e->field("age"), std::nullopt);
  EXPECT_EQ(e->age_at(kT0), seconds{32});  // Age + the 2 s the exchange took
}

TEST_F(Freshen, NoAgeIn304ClearsTheStoredOne) {
  ASSERT_EQ(old_.age_field, seconds{50});
  const auto e = run({{"Date", kAt0}});
  EXPECT_EQ(e->age_field, std::nullopt);
  EXPECT_EQ(e->age_at(kT0), seconds{2});
}

TEST_F(Freshen, InvalidAgeIn304ReadsAsAbsent) {
  EXPECT_EQ(run({{"Date", kAt0}, {"Age", "soon"}})->age_field, std::nullopt);
}

TEST_F(Freshen, DateOf304Taken) {
  const auto e = run({{"Date", kAtMinus1s}});
  EXPECT_EQ(e->date, at(-1));
  EXPECT_EQ(e->field("date"), kAtMinus1s);
}

TEST_F(Freshen, MissingDateIsTheReceiptTime) {
  const auto e = run({{"X-A", "3"}});
  EXPECT_EQ(e->date, kT0);
  EXPECT_EQ(e->field("date"), kAt0);
  EXPECT_EQ(e->age_at(kT0), seconds{2});  // not the 1000 s of the old Date
}

TEST_F(Freshen, InvalidDateIsTheReceiptTime) {
  const auto e = run({{"Date", "garbage"}});
  EXPECT_EQ(e->date, kT0);
  EXPECT_EQ(e->field("date"), kAt0);
}

TEST_F(Freshen, NewExchangeTimes) {
  const auto e = run({{"Date", kAt0}});
  EXPECT_EQ(e->request_time, at(-2));
  EXPECT_EQ(e->response_time, kT0);
}

TEST_F(Freshen, RecomputesFreshnessFromNewCacheControl) {
  ASSERT_EQ(old_.lifetime.lifetime, seconds{1});
  const auto e = run({{"Date", kAt0}, {"Cache-Control", "max-age=3600, must-revalidate"}});
  EXPECT_EQ(e->lifetime.lifetime, seconds{3600});
  EXPECT_TRUE(e->directives.must_revalidate);
  EXPECT_EQ(e->field("cache-control"), "max-age=3600, must-revalidate");
}

TEST_F(Freshen, KeepsStoredCacheControlWhenAbsent) {
  const auto e = run({{"Date", kAt0}});
  EXPECT_EQ(e->lifetime.lifetime, seconds{1});
  EXPECT_EQ(e->lifetime.source, FreshnessSource::max_age);
}

TEST_F(Freshen, ExpiresFrom304CountsFromItsDate) {
  const auto e = run({{"Date", kAtMinus1s},
                      {"Cache-Control", "public"},
                      {"Expires", "Sun, 06 Nov 1994 09:49:36 GMT"}});
  EXPECT_EQ(e->lifetime.lifetime, seconds{3600});
  EXPECT_EQ(e->lifetime.source, FreshnessSource::expires);
}

TEST_F(Freshen, RecomputesValidators) {
  const auto e = run({{"Date", kAt0}, {"ETag", "W/\"v2\""}, {"Last-Modified", kAtMinus1h}});
  EXPECT_EQ(e->etag, "W/\"v2\"");
  EXPECT_EQ(e->last_modified, at(-3600));
}

TEST_F(Freshen, HeuristicFlagPassedOn) {
  old_.fields = {{"Last-Modified", format_http_date(at(-11000))}};
  derive_metadata(old_, false);
  const auto with = run({{"Date", kAt0}}, true);
  EXPECT_EQ(with->lifetime.source, FreshnessSource::heuristic);
  EXPECT_EQ(with->lifetime.lifetime, seconds{1100});
  EXPECT_EQ(run({{"Date", kAt0}}, false)->lifetime.source, FreshnessSource::none);
}

TEST_F(Freshen, KeepsKeysStatusAndSharesTheBody) {
  const auto e = run({{"Date", kAt0}});
  EXPECT_EQ(e->uri_key, old_.uri_key);
  EXPECT_EQ(e->variant_key, old_.variant_key);
  EXPECT_EQ(e->identity, old_.identity);
  EXPECT_EQ(e->status, 200u);
  EXPECT_EQ(e->reason, "OK");
  EXPECT_EQ(e->body.get(), old_.body.get());
}

TEST_F(Freshen, LeavesTheOriginalAlone) {
  const StoredFields before = old_.fields;
  const auto e = run({{"Date", kAt0}, {"X-A", "3"}, {"Cache-Control", "no-store"}});
  EXPECT_EQ(old_.fields, before);
  EXPECT_EQ(old_.lifetime.lifetime, seconds{1});
  EXPECT_FALSE(old_.directives.no_store);
  EXPECT_TRUE(e->directives.no_store);  // the caller sees it and does not store the result
}

// ---- not_modified_response_fields ------------------------------------------------------------

using Views = std::vector<std::pair<std::string_view, std::string_view>>;

TEST(NotModifiedResponseFields, TheListedOnesInStoredOrder) {
  Entry e;
  e.fields = {{"Content-Type", "text/html"},
              {"Vary", "Accept"},
              {"ETag", "\"a\""},
              {"Content-Length", "5"},
              {"Cache-Control", "max-age=60"},
              {"Set-Cookie", "x=1"},
              {"Date", std::string(kAt0)},
              {"Last-Modified", std::string(kAtMinus1h)},
              {"Expires", std::string(kAtPlus1s)},
              {"Content-Location", "/a.html"},
              {"Content-Encoding", "gzip"},
              {"Cache-Control", "public"}};
  EXPECT_EQ(not_modified_response_fields(e), (Views{{"Vary", "Accept"},
                                                    {"ETag", "\"a\""},
                                                    {"Cache-Control", "max-age=60"},
                                                    {"Date", kAt0},
                                                    {"Last-Modified", kAtMinus1h},
                                                    {"Expires", kAtPlus1s},
                                                    {"Content-Location", "/a.html"},
                                                    {"Cache-Control", "public"}}));
}

TEST(NotModifiedResponseFields, NamesCaseInsensitive) {
  Entry e;
  e.fields = {{"etag", "\"a\""}, {"CACHE-CONTROL", "no-cache"}};
  EXPECT_EQ(not_modified_response_fields(e),
            (Views{{"etag", "\"a\""}, {"CACHE-CONTROL", "no-cache"}}));
}

TEST(NotModifiedResponseFields, NoneListedIsEmpty) {
  Entry e;
  e.fields = {{"Content-Type", "text/plain"}, {"X-Etag", "\"a\""}};
  EXPECT_TRUE(not_modified_response_fields(e).empty());
}

TEST(NotModifiedResponseFields, ViewsIntoTheEntry) {
  Entry e;
  e.fields = {{"ETag", "\"a\""}};
  const auto out = not_modified_response_fields(e);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].second.data(), e.fields[0].second.data());
}

}  // namespace
}  // namespace bulwark::cache
