#include "http/path_normalizer.hpp"

#include <gtest/gtest.h>

#include "support/case_name.hpp"

#include <ostream>

#include <string_view>

namespace bulwark::http {
namespace {

using namespace std::string_view_literals;

using testing_support::case_name;

// ---- accepted paths: origin-form, no query ----

struct PathCase {
  std::string_view name;
  std::string_view input;
  std::string_view path;
};

// ctest shows the case's name rather than its bytes.
void PrintTo(const PathCase& c, std::ostream* os) {
  *os << c.name;
}

class AcceptedPath : public testing::TestWithParam<PathCase> {};

TEST_P(AcceptedPath, NormalizesTo) {
  const auto& c = GetParam();
  auto result = normalize_target(c.input);
  ASSERT_TRUE(result.ok) << "refused: " << result.error;
  EXPECT_EQ(result.target.path, c.path);
  EXPECT_FALSE(result.target.has_query);
  EXPECT_EQ(result.target.query, "");
  EXPECT_EQ(result.target.authority, "");
}

INSTANTIATE_TEST_SUITE_P(
    Table, AcceptedPath,
    testing::Values(
        PathCase{"Root", "/", "/"}, PathCase{"Plain", "/api/users/42", "/api/users/42"},
        PathCase{"CaseIsKept", "/API/x", "/API/x"},
        PathCase{"DotDotClimbs", "/api/../admin", "/admin"},
        PathCase{"LeadingDoubleSlash", "//api", "/api"},
        PathCase{"InnerSlashRuns", "/a//b///c", "/a/b/c"}, PathCase{"OnlySlashes", "///", "/"},
        PathCase{"EncodedDotDotLower", "/api/%2e%2e/admin", "/admin"},
        PathCase{"EncodedDotDotUpper", "/api/%2E%2E/admin", "/admin"},
        PathCase{"DotThenEncodedDot", "/api/.%2e/admin", "/admin"},
        PathCase{"EncodedDotThenDot", "/api/%2e./admin", "/admin"},
        PathCase{"EncodedSingleDot", "/a/%2e/b", "/a/b"}, PathCase{"SingleDot", "/a/./b", "/a/b"},
        PathCase{"DotSlashAtRoot", "/./", "/"}, PathCase{"DotAtRoot", "/.", "/"},
        PathCase{"TrailingDotDotKeepsSlash", "/a/b/..", "/a/"},
        PathCase{"TrailingDotDotToRoot", "/a/..", "/"},
        PathCase{"TrailingDotDotSlash", "/a/../", "/"},
        PathCase{"TrailingDotKeepsSlash", "/a/b/.", "/a/b/"},
        PathCase{"TrailingSlashKept", "/a/b/", "/a/b/"},
        PathCase{"TrailingSlashRunMerged", "/a/b//", "/a/b/"},
        PathCase{"SeveralDotDots", "/a/b/c/../../d", "/a/d"},
        PathCase{"AlternatingDotDots", "/a/../b/../c", "/c"},
        PathCase{"SlashesMergedBeforeDotDot", "/a//../b", "/b"},
        PathCase{"ThreeDotsIsAName", "/a/.../b", "/a/.../b"},
        PathCase{"DotsInsideNames", "/a/..b/c./.d", "/a/..b/c./.d"},
        PathCase{"EncodedDotsInsideName", "/a/b%2e%2e", "/a/b.."},
        PathCase{"DecodesLetters", "/%41%62", "/Ab"}, PathCase{"DecodesTilde", "/%7e", "/~"},
        PathCase{"DecodesDigitDashUnderscore", "/%30%2D%5f", "/0-_"},
        PathCase{"ColonStaysEncoded", "/a%3ab", "/a%3Ab"},
        PathCase{"Utf8StaysEncodedUpperCased", "/caf%c3%a9", "/caf%C3%A9"},
        PathCase{"SemicolonEscapeIsData", "/a%3bb", "/a%3Bb"},
        PathCase{"PercentEscapeNotDecodedTwice", "/100%25", "/100%25"},
        PathCase{"PercentEscapeOfDotsStaysData", "/%252e%252e/x", "/%252e%252e/x"},
        PathCase{"SpaceEscapeKept", "/a%20b", "/a%20b"},
        PathCase{"QuestionEscapeKept", "/a%3f", "/a%3F"},
        PathCase{"HashEscapeKept", "/a%23", "/a%23"},
        PathCase{"SubDelimsColonAtRaw", "/a!$&'()*+,=:@b", "/a!$&'()*+,=:@b"},
        PathCase{"UnreservedRaw", "/a-b_c.d~e", "/a-b_c.d~e"}),
    case_name<PathCase>);

// ---- accepted targets with a query or in absolute-form ----

struct TargetCase {
  std::string_view name;
  std::string_view input;
  std::string_view path;
  bool has_query;
  std::string_view query;
  std::string_view authority;
};

// ctest shows the case's name rather than its bytes.
void PrintTo(const TargetCase& c, std::ostream* os) {
  *os << c.name;
}

class AcceptedTarget : public testing::TestWithParam<TargetCase> {};

TEST_P(AcceptedTarget, SplitsAndNormalizes) {
  const auto& c = GetParam();
  auto result = normalize_target(c.input);
  ASSERT_TRUE(result.ok) << "refused: " << result.error;
  EXPECT_EQ(result.target.path, c.path);
  EXPECT_EQ(result.target.has_query, c.has_query);
  EXPECT_EQ(result.target.query, c.query);
  EXPECT_EQ(result.target.authority, c.authority);
}

INSTANTIATE_TEST_SUITE_P(
    Table, AcceptedTarget,
    testing::Values(
        TargetCase{"QueryKeptRaw", "/a?x=%2f&y=a/b?c", "/a", true, "x=%2f&y=a/b?c", ""},
        TargetCase{"EmptyQuery", "/a?", "/a", true, "", ""},
        TargetCase{"QueryDotsNotNormalized", "/a?../../x", "/a", true, "../../x", ""},
        TargetCase{"QueryBracketsRaw", "/a?filter[name]=x|y", "/a", true, "filter[name]=x|y", ""},
        TargetCase{"QuerySemicolonRaw", "/a?x=1;y=2", "/a", true, "x=1;y=2", ""},
        TargetCase{"PathNormalizedQueryNot", "/a/../b/%7e?q=%7e", "/b/~", true, "q=%7e", ""},
        TargetCase{"RootWithQuery", "/?", "/", true, "", ""},
        TargetCase{"AbsoluteForm", "http://example.com/a/../b?q", "/b", true, "q", "example.com"},
        TargetCase{"AbsoluteSchemeAndHostCase", "HTTPS://Example.COM:8443/X", "/X", false, "",
                   "example.com:8443"},
        TargetCase{"AbsoluteEmptyPath", "http://example.com", "/", false, "", "example.com"},
        TargetCase{"AbsoluteQueryWithoutPath", "http://example.com?q=1", "/", true, "q=1",
                   "example.com"},
        TargetCase{"AbsoluteIpv6", "http://[::1]:8080/x", "/x", false, "", "[::1]:8080"},
        TargetCase{"AbsoluteDoubleSlashPath", "http://a.example//x//y", "/x/y", false, "",
                   "a.example"}),
    case_name<TargetCase>);

// ---- refused targets ----

struct RefusedCase {
  std::string_view name;
  std::string_view input;
  std::string_view error;
};

// ctest shows the case's name rather than its bytes.
void PrintTo(const RefusedCase& c, std::ostream* os) {
  *os << c.name;
}

class RefusedTarget : public testing::TestWithParam<RefusedCase> {};

TEST_P(RefusedTarget, FailsWithReason) {
  const auto& c = GetParam();
  auto result = normalize_target(c.input);
  EXPECT_FALSE(result.ok) << "normalized to: " << result.target.path;
  EXPECT_EQ(result.error, c.error);
}

constexpr std::string_view kForm = "unsupported request-target form";
constexpr std::string_view kMalformed = "malformed percent-encoding";
constexpr std::string_view kEscapes = "path escapes the root";
constexpr std::string_view kInvalid = "invalid character in path";
constexpr std::string_view kQuery = "invalid character in query";

INSTANTIATE_TEST_SUITE_P(
    Forms, RefusedTarget,
    testing::Values(
        RefusedCase{"Empty", "", kForm}, RefusedCase{"Asterisk", "*", kForm},
        RefusedCase{"AuthorityForm", "example.com:443", kForm},
        RefusedCase{"RelativePath", "api/x", kForm}, RefusedCase{"DotRelative", "./x", kForm},
        RefusedCase{"OtherScheme", "ftp://example.com/x", kForm},
        RefusedCase{"SchemeWithoutSlashes", "http:example.com/x", kForm},
        RefusedCase{"SchemeOneSlash", "http:/x", kForm},
        RefusedCase{"Userinfo", "http://user@example.com/", "userinfo in authority"},
        RefusedCase{"UserinfoWithPassword", "http://u:p@example.com/", "userinfo in authority"},
        RefusedCase{"EmptyAuthority", "http:///x", "invalid authority"},
        RefusedCase{"AuthorityBadPort", "http://example.com:99999/", "invalid authority"},
        RefusedCase{"AuthorityEncoded", "http://ex%61mple.com/", "invalid authority"},
        RefusedCase{"Fragment", "/a#b", "fragment in request-target"},
        RefusedCase{"FragmentAfterQuery", "/a?b#c", "fragment in request-target"},
        RefusedCase{"AbsoluteWithFragment", "http://example.com/#x", "fragment in request-target"}),
    case_name<RefusedCase>);

INSTANTIATE_TEST_SUITE_P(
    Paths, RefusedTarget,
    testing::Values(
        RefusedCase{"PathParameter", "/api;x=y", "path parameters are not accepted"},
        RefusedCase{"PathParameterMidPath", "/admin;/x", "path parameters are not accepted"},
        RefusedCase{"EncodedSlashUpper", "/a%2Fb", "encoded slash in path"},
        RefusedCase{"EncodedSlashLower", "/a%2fb", "encoded slash in path"},
        RefusedCase{"EncodedBackslashUpper", "/a%5Cb", "backslash in path"},
        RefusedCase{"EncodedBackslashLower", "/a%5cb", "backslash in path"},
        RefusedCase{"RawBackslash", "/a\\b", "backslash in path"},
        RefusedCase{"BackslashDotDot", "/a\\..\\admin", "backslash in path"},
        RefusedCase{"EncodedNul", "/a%00", "NUL in path"},
        RefusedCase{"RawNul", "/a\0b"sv, "NUL in path"},
        RefusedCase{"BadHexDigits", "/%zz", kMalformed},
        RefusedCase{"OneHexDigitAtEnd", "/%4", kMalformed},
        RefusedCase{"TrailingPercent", "/a%", kMalformed},
        RefusedCase{"SecondDigitNotHex", "/%4g", kMalformed},
        RefusedCase{"DoublePercent", "/%%41", kMalformed},
        RefusedCase{"PercentBeforeSlash", "/a%/b", kMalformed},
        RefusedCase{"DotDotAtRoot", "/..", kEscapes},
        RefusedCase{"DotDotAtRootThenName", "/../x", kEscapes},
        RefusedCase{"DotDotTwiceFromOne", "/a/../../b", kEscapes},
        RefusedCase{"EncodedDotDotAtRoot", "/%2e%2e/x", kEscapes},
        RefusedCase{"DotThenDotDot", "/./../x", kEscapes},
        RefusedCase{"SlashesDoNotHelpClimb", "//..//x", kEscapes},
        RefusedCase{"RawUtf8", "/caf\xc3\xa9", kInvalid},
        RefusedCase{"RawHighByte", "/\xff", kInvalid}, RefusedCase{"Tab", "/a\tb", kInvalid},
        RefusedCase{"Space", "/a b", kInvalid}, RefusedCase{"CarriageReturn", "/a\rb", kInvalid},
        RefusedCase{"LineFeed", "/a\nb", kInvalid}, RefusedCase{"ControlByte", "/a\x01", kInvalid},
        RefusedCase{"Delete", "/a\x7f", kInvalid}, RefusedCase{"DoubleQuote", "/a\"b", kInvalid},
        RefusedCase{"LessThan", "/a<b", kInvalid}, RefusedCase{"GreaterThan", "/a>b", kInvalid},
        RefusedCase{"Backtick", "/a`b", kInvalid}, RefusedCase{"OpenBrace", "/a{b", kInvalid},
        RefusedCase{"CloseBrace", "/a}b", kInvalid}, RefusedCase{"Pipe", "/a|b", kInvalid},
        RefusedCase{"Caret", "/a^b", kInvalid}, RefusedCase{"OpenBracket", "/a[b", kInvalid},
        RefusedCase{"CloseBracket", "/a]b", kInvalid},
        RefusedCase{"AbsoluteFormBadPath", "http://example.com/a;b",
                    "path parameters are not accepted"},
        RefusedCase{"AbsoluteFormEscapesRoot", "http://example.com/..", kEscapes}),
    case_name<RefusedCase>);

INSTANTIATE_TEST_SUITE_P(Queries, RefusedTarget,
                         testing::Values(RefusedCase{"QueryBadEscape", "/a?x=%zz", kMalformed},
                                         RefusedCase{"QueryTrailingPercent", "/a?x=%", kMalformed},
                                         RefusedCase{"QueryOneHexDigit", "/a?x=%4", kMalformed},
                                         RefusedCase{"QuerySpace", "/a?x y", kQuery},
                                         RefusedCase{"QueryTab", "/a?x\ty", kQuery},
                                         RefusedCase{"QueryNul", "/a?x\0"sv, kQuery},
                                         RefusedCase{"QueryControl", "/a?x=\x01", kQuery},
                                         RefusedCase{"QueryLineFeed", "/a?x=\n", kQuery},
                                         RefusedCase{"QueryDelete", "/a?x=\x7f", kQuery},
                                         RefusedCase{"QueryRawUtf8", "/a?q=\xc3\xa9", kQuery},
                                         RefusedCase{"PathCheckedEvenWithGoodQuery", "/a;b?x=1",
                                                     "path parameters are not accepted"}),
                         case_name<RefusedCase>);

TEST(NormalizeTarget, RefusalLeavesNoPartialTarget) {
  auto result = normalize_target("/a/b/../../../c");
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.target.path, "");
}

TEST(NormalizeTarget, LongPathNormalizes) {
  std::string input;
  std::string expected;
  for (int i = 0; i < 1000; ++i) {
    input += "/seg" + std::to_string(i) + "/./x/..//";
    expected += "/seg" + std::to_string(i);
  }
  auto result = normalize_target(input);
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.target.path, expected + "/");
}

}  // namespace
}  // namespace bulwark::http
