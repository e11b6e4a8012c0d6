#include "cache/key.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "support/case_name.hpp"

namespace bulwark::cache {
namespace {

using testing_support::case_name;

// ---- build_uri_key ---------------------------------------------------------------------------

struct UriKeyCase {
  std::string_view name;
  std::string_view path;
  std::string_view query;
  bool has_query;
  bool sort_query;
  std::vector<std::string> ignore_query;
  std::string_view expected;  // after "h.example"
};

void PrintTo(const UriKeyCase& c, std::ostream* os) {
  *os << c.name;
}

class UriKeyTest : public testing::TestWithParam<UriKeyCase> {};

TEST_P(UriKeyTest, Builds) {
  const auto& c = GetParam();
  const KeyOptions options{.sort_query = c.sort_query, .ignore_query = c.ignore_query};
  std::string out = "leftover";
  build_uri_key("h.example", c.path, c.query, c.has_query, options, out);
  EXPECT_EQ(out, "h.example" + std::string(c.expected));
}

using Names = std::vector<std::string>;

// clang-format off
const UriKeyCase kUriKeyCases[] = {
  // name                        path     query              has?   sort   ignore          expected
  {"NoQuery",                    "/a/b",  "",                false, false, {},             "/a/b"},
  {"QueryIgnoredWhenAbsent",     "/a",    "x=1",             false, false, {},             "/a"},
  {"EmptyQueryIsNoQuery",        "/a",    "",                true,  false, {},             "/a"},
  {"EmptyQuerySorted",           "/a",    "",                true,  true,  {},             "/a"},
  {"QueryKeptVerbatim",          "/a",    "b=2&a=1",         true,  false, {},             "/a?b=2&a=1"},
  {"VerbatimKeepsEmptyParams",   "/a",    "a=1&&b=2&",       true,  false, {},             "/a?a=1&&b=2&"},
  {"VerbatimKeepsLoneAmpersand", "/a",    "&",               true,  false, {},             "/a?&"},
  {"RootPath",                   "/",     "q",               true,  false, {},             "/?q"},
  {"Sorted",                     "/a",    "c=3&a=1&b=2",     true,  true,  {},             "/a?a=1&b=2&c=3"},
  {"SortedByWholeBytes",         "/a",    "a=2&a=1&a",       true,  true,  {},             "/a?a&a=1&a=2"},
  {"SortedEqualBytesKept",       "/a",    "x=1&x=1",         true,  true,  {},             "/a?x=1&x=1"},
  {"SortedNameVsLongerName",     "/a",    "a=1&a1=0",        true,  true,  {},             "/a?a1=0&a=1"},
  {"SortedUppercaseFirst",       "/a",    "b=1&B=1",         true,  true,  {},             "/a?B=1&b=1"},
  {"SortedHighBytesLast",        "/a",    "\xc3\xa9=1&z=1",  true,  true,  {},             "/a?z=1&\xc3\xa9=1"},
  {"SortDropsEmptyParams",       "/a",    "b=2&&a=1&",       true,  true,  {},             "/a?a=1&b=2"},
  {"SortOnlyAmpersands",         "/a",    "&&&",             true,  true,  {},             "/a"},
  {"SemicolonIsNotASeparator",   "/a",    "b=1;a=2",         true,  true,  {},             "/a?b=1;a=2"},
  {"Ignored",                    "/a",    "utm=x&a=1",       true,  false, {"utm"},        "/a?a=1"},
  {"IgnoredKeepsOrder",          "/a",    "b=1&utm=x&a=1",   true,  false, {"utm"},        "/a?b=1&a=1"},
  {"IgnoredAllOccurrences",      "/a",    "utm=1&a=1&utm=2", true,  false, {"utm"},        "/a?a=1"},
  {"IgnoredWithoutEquals",       "/a",    "utm&a=1",         true,  false, {"utm"},        "/a?a=1"},
  {"IgnoredEmptyValue",          "/a",    "utm=&a=1",        true,  false, {"utm"},        "/a?a=1"},
  {"IgnoredNameIsWholeName",     "/a",    "utm_source=1",    true,  false, {"utm"},        "/a?utm_source=1"},
  {"IgnoredNameCaseSensitive",   "/a",    "UTM=1",           true,  false, {"utm"},        "/a?UTM=1"},
  {"IgnoredNoPercentDecoding",   "/a",    "%75tm=1",         true,  false, {"utm"},        "/a?%75tm=1"},
  {"IgnoredNoPlusFolding",       "/a",    "a+b=1&a b=2",     true,  false, {"a b"},        "/a?a+b=1"},
  {"IgnoredValueNotAName",       "/a",    "a=utm",           true,  false, {"utm"},        "/a?a=utm"},
  {"IgnoredSecondEqualsInValue", "/a",    "utm=a=b&k",       true,  false, {"utm"},        "/a?k"},
  {"IgnoredEmptyName",           "/a",    "=x&a=1",          true,  false, {""},           "/a?a=1"},
  {"AllIgnoredIsNoQuery",        "/a",    "utm=1&fbclid=2",  true,  false, {"utm", "fbclid"}, "/a"},
  {"IgnoreDropsEmptyParams",     "/a",    "a=1&&b=2",        true,  false, {"zzz"},        "/a?a=1&b=2"},
  {"SortedAndIgnored",           "/a",    "z=1&utm=2&b=3",   true,  true,  {"utm"},        "/a?b=3&z=1"},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(UriKey, UriKeyTest, testing::ValuesIn(kUriKeyCases),
                         case_name<UriKeyCase>);

TEST(UriKey, SortedOrdersAgree) {
  const KeyOptions options{.sort_query = true, .ignore_query = {}};
  std::string a, b;
  build_uri_key("h", "/p", "x=1&y=2", true, options, a);
  build_uri_key("h", "/p", "y=2&x=1", true, options, b);
  EXPECT_EQ(a, b);
}

TEST(UriKey, HostsKeptApart) {
  std::string a, b;
  build_uri_key("a.example", "/p", "", false, {}, a);
  build_uri_key("b.example", "/p", "", false, {}, b);
  EXPECT_EQ(a, "a.example/p");
  EXPECT_NE(a, b);
}

// ---- identity_prefix -------------------------------------------------------------------------

TEST(IdentityPrefix, LengthPrefixed) {
  EXPECT_EQ(identity_prefix("alice"), std::string("\x01") + "5:alice");
  EXPECT_EQ(identity_prefix(""), std::string("\x01") + "0:");
  EXPECT_EQ(identity_prefix(std::string(12, 'x')),
            std::string("\x01") + "12:" + std::string(12, 'x'));
}

TEST(IdentityPrefix, NeverEmptySoNeverShared) {
  EXPECT_FALSE(identity_prefix("").empty());
}

TEST(IdentityPrefix, NoIdentityForgesAnother) {
  // "1:a" + a Vary key starting "b" must not equal identity "a" + ... nor "ab".
  EXPECT_NE(identity_prefix("ab"), identity_prefix("a") + "b");
  EXPECT_NE(identity_prefix("1:a"), identity_prefix("a"));
  EXPECT_NE(identity_prefix(std::string("\x01") + "1:a"), identity_prefix("a"));
}

TEST(IdentityPrefix, BinarySafe) {
  const std::string id("a\0b", 3);
  EXPECT_EQ(identity_prefix(id), std::string("\x01") + "3:" + id);
}

// ---- uri_key_path ----------------------------------------------------------------------------

TEST(UriKeyPath, FromFirstSlash) {
  EXPECT_EQ(uri_key_path("h.example/a/b"), "/a/b");
  EXPECT_EQ(uri_key_path("h.example/"), "/");
  EXPECT_EQ(uri_key_path("h.example/a?x=1/2"), "/a?x=1/2");
}

TEST(UriKeyPath, NoSlashIsEmpty) {
  EXPECT_EQ(uri_key_path("h.example"), "");
  EXPECT_EQ(uri_key_path(""), "");
}

TEST(UriKeyPath, RoundTripsBuiltKey) {
  std::string key;
  build_uri_key("[::1]", "/x/y", "q=1", true, {}, key);
  EXPECT_EQ(uri_key_path(key), "/x/y?q=1");
}

}  // namespace
}  // namespace bulwark::cache
