#include "auth/token_source.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "support/case_name.hpp"

namespace bulwark::auth {

inline std::ostream& operator<<(std::ostream& os, BearerParse parse) {
  switch (parse) {
    case BearerParse::token:
      return os << "token";
    case BearerParse::other_scheme:
      return os << "other_scheme";
    case BearerParse::malformed:
      return os << "malformed";
  }
  return os << "?";
}

namespace {

using testing_support::case_name;

// ---- parse_bearer (RFC 6750 §2.1) ----

struct BearerCase {
  std::string_view name;
  std::string_view authorization;
  BearerParse expected;
  std::string_view token;  // when expected == token
};
void PrintTo(const BearerCase& c, std::ostream* os) {
  *os << c.name;
}

class ParseBearer : public testing::TestWithParam<BearerCase> {};

TEST_P(ParseBearer, Verdict) {
  const auto& c = GetParam();
  std::string_view token = "untouched";
  EXPECT_EQ(parse_bearer(c.authorization, token), c.expected);
  if (c.expected == BearerParse::token) {
    EXPECT_EQ(token, c.token);
  } else {
    EXPECT_EQ(token, "untouched") << "the token is only set when one was found";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Accepted, ParseBearer,
    testing::Values(
        BearerCase{"Typical", "Bearer abc.def.ghi", BearerParse::token, "abc.def.ghi"},
        BearerCase{"SchemeLowercase", "bearer abc", BearerParse::token, "abc"},
        BearerCase{"SchemeUppercase", "BEARER abc", BearerParse::token, "abc"},
        BearerCase{"SchemeMixedCase", "bEaReR abc", BearerParse::token, "abc"},
        BearerCase{"SeveralSpacesAfterScheme", "Bearer    abc", BearerParse::token, "abc"},
        BearerCase{"SurroundingWhitespace", " \tBearer abc \t", BearerParse::token, "abc"},
        BearerCase{"EveryB64tokenCharacter", "Bearer AZaz09-._~+/", BearerParse::token,
                   "AZaz09-._~+/"},
        BearerCase{"PaddingAtTheEnd", "Bearer abc==", BearerParse::token, "abc=="},
        BearerCase{"OneCharacter", "Bearer a", BearerParse::token, "a"}),
    case_name<BearerCase>);

INSTANTIATE_TEST_SUITE_P(
    OtherScheme, ParseBearer,
    testing::Values(BearerCase{"Basic", "Basic dXNlcjpwYXNz", BearerParse::other_scheme, ""},
                    BearerCase{"Digest", "Digest username=\"x\"", BearerParse::other_scheme, ""},
                    BearerCase{"SchemeWithSuffix", "Bearerx abc", BearerParse::other_scheme, ""},
                    BearerCase{"SchemePrefixOnly", "Bear abc", BearerParse::other_scheme, ""},
                    BearerCase{"TokenWithoutScheme", "abc.def.ghi", BearerParse::other_scheme, ""},
                    BearerCase{"Empty", "", BearerParse::other_scheme, ""},
                    BearerCase{"OnlySpaces", "   ", BearerParse::other_scheme, ""},
                    // The scheme ends at any whitespace: a tab makes a malformed bearer attempt.
                    BearerCase{"TabAfterScheme", "Bearer\tabc", BearerParse::malformed, ""}),
    case_name<BearerCase>);

INSTANTIATE_TEST_SUITE_P(
    Malformed, ParseBearer,
    testing::Values(BearerCase{"SchemeAlone", "Bearer", BearerParse::malformed, ""},
                    BearerCase{"SchemeAndSpaces", "Bearer  ", BearerParse::malformed, ""},
                    BearerCase{"SpaceInsideToken", "Bearer abc def", BearerParse::malformed, ""},
                    BearerCase{"Comma", "Bearer abc,def", BearerParse::malformed, ""},
                    BearerCase{"Semicolon", "Bearer abc;def", BearerParse::malformed, ""},
                    BearerCase{"DoubleQuote", "Bearer \"abc\"", BearerParse::malformed, ""},
                    BearerCase{"TabInsideToken", "Bearer abc\tdef", BearerParse::malformed, ""},
                    BearerCase{"PaddingInTheMiddle", "Bearer ab=c", BearerParse::malformed, ""},
                    BearerCase{"PaddingOnly", "Bearer ==", BearerParse::malformed, ""},
                    BearerCase{"PaddingFirst", "Bearer =abc", BearerParse::malformed, ""},
                    BearerCase{"NonAscii", "Bearer abc\xc3\xa9", BearerParse::malformed, ""},
                    BearerCase{"Nul", std::string_view("Bearer ab\0c", 11), BearerParse::malformed,
                               ""},
                    BearerCase{"Backslash", "Bearer abc\\def", BearerParse::malformed, ""},
                    BearerCase{"Colon", "Bearer abc:def", BearerParse::malformed, ""}),
    case_name<BearerCase>);

// ---- cookie_value (RFC 6265 §4.2) ----

struct CookieCase {
  std::string_view name;
  std::string_view header;
  std::string_view cookie;
  std::optional<std::string_view> expected;
};
void PrintTo(const CookieCase& c, std::ostream* os) {
  *os << c.name;
}

class CookieValue : public testing::TestWithParam<CookieCase> {};

TEST_P(CookieValue, Found) {
  const auto& c = GetParam();
  EXPECT_EQ(cookie_value(c.header, c.cookie), c.expected);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CookieValue,
    testing::Values(CookieCase{"Only", "token=abc", "token", "abc"},
                    CookieCase{"First", "token=abc; a=1", "token", "abc"},
                    CookieCase{"Middle", "a=1; token=abc; b=2", "token", "abc"},
                    CookieCase{"Last", "a=1; token=abc", "token", "abc"},
                    CookieCase{"FirstOfDuplicates", "token=first; token=second", "token", "first"},
                    CookieCase{"QuotedValue", "token=\"abc\"", "token", "abc"},
                    CookieCase{"LoneQuoteKept", "token=\"", "token", "\""},
                    CookieCase{"EmptyQuotedValue", "token=\"\"", "token", ""},
                    CookieCase{"EmptyValue", "token=", "token", ""},
                    CookieCase{"ValueWithEquals", "token=a=b==", "token", "a=b=="},
                    CookieCase{"NoSpaceAfterSemicolon", "a=1;token=abc;b=2", "token", "abc"},
                    CookieCase{"SpacesAroundEverything", "  a=1 ;  token = abc  ; b=2 ", "token",
                               "abc"},
                    CookieCase{"EntryWithoutEqualsSkipped", "junk; token=abc", "token", "abc"},
                    CookieCase{"EmptyEntries", ";; token=abc;;", "token", "abc"},
                    CookieCase{"NamePrefixOfAnother", "tokenizer=x; token=abc", "token", "abc"},
                    CookieCase{"LongerNameOnly", "token=abc", "tok", std::nullopt},
                    CookieCase{"ShorterNameOnly", "tok=abc", "token", std::nullopt},
                    CookieCase{"NameIsCaseSensitive", "Token=abc", "token", std::nullopt},
                    CookieCase{"ValueIsNotAName", "a=token", "token", std::nullopt},
                    CookieCase{"Absent", "a=1; b=2", "token", std::nullopt},
                    CookieCase{"EmptyHeader", "", "token", std::nullopt}),
    case_name<CookieCase>);

// BUG (minor, see the report): an entry without '=' is a nameless cookie whose value is that
// text (RFC 6265bis §5.6), not a cookie of that name with an empty value; taken as the latter
// it hides the real cookie that follows.
TEST(CookieWithoutEquals, BareWordIsNotACookieOfThatName) {
  EXPECT_EQ(cookie_value("token; token=abc", "token"), std::optional<std::string_view>("abc"));
  EXPECT_EQ(cookie_value("token", "token"), std::nullopt);
}

// ---- cookie_header_without ----

struct WithoutCase {
  std::string_view name;
  std::string_view header;
  std::string_view cookie;
  std::string_view expected;
};
void PrintTo(const WithoutCase& c, std::ostream* os) {
  *os << c.name;
}

class CookieHeaderWithout : public testing::TestWithParam<WithoutCase> {};

TEST_P(CookieHeaderWithout, Rewritten) {
  const auto& c = GetParam();
  EXPECT_EQ(cookie_header_without(c.header, c.cookie), c.expected);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CookieHeaderWithout,
    testing::Values(
        WithoutCase{"OnlyTheToken", "token=abc", "token", ""},
        WithoutCase{"First", "token=abc; a=1; b=2", "token", "a=1; b=2"},
        WithoutCase{"Middle", "a=1; token=abc; b=2", "token", "a=1; b=2"},
        WithoutCase{"Last", "a=1; b=2; token=abc", "token", "a=1; b=2"},
        WithoutCase{"EveryDuplicate", "token=1; a=1; token=2", "token", "a=1"},
        WithoutCase{"OthersKeptAsWritten", "a=\"q v\";token=abc;b", "token", "a=\"q v\"; b"},
        WithoutCase{"SpacesNormalized", "  a=1 ;token = abc;  b=2  ", "token", "a=1; b=2"},
        WithoutCase{"NamePrefixKept", "tokenizer=x; token=abc; tok=y", "token",
                    "tokenizer=x; tok=y"},
        WithoutCase{"Absent", "a=1; b=2", "token", "a=1; b=2"},
        WithoutCase{"EmptyEntriesDropped", "a=1;; ;b=2", "token", "a=1; b=2"},
        WithoutCase{"EmptyHeader", "", "token", ""}),
    case_name<WithoutCase>);

}  // namespace
}  // namespace bulwark::auth
