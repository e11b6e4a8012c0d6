#include "cache/vary.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace bulwark::cache {
namespace {

using Fields = std::vector<FieldLine>;

TEST(ParseVary, Names) {
  const VaryFields v = parse_vary("Accept-Encoding, accept-language,ACCEPT-ENCODING");
  EXPECT_FALSE(v.any);
  EXPECT_EQ(v.names, (std::vector<std::string>{"accept-encoding", "accept-language"}));
}

TEST(ParseVary, EmptyElementsAndWhitespace) {
  const VaryFields v = parse_vary(" , Origin ,, ");
  EXPECT_FALSE(v.any);
  EXPECT_EQ(v.names, (std::vector<std::string>{"origin"}));
  EXPECT_TRUE(parse_vary("").names.empty());
}

TEST(ParseVary, Star) {
  EXPECT_TRUE(parse_vary("*").any);
  EXPECT_TRUE(parse_vary("Accept, *").any);
}

TEST(ParseVary, MalformedReadsAsStar) {
  EXPECT_TRUE(parse_vary("Accept Encoding").any);
  EXPECT_TRUE(parse_vary("\"Accept\"").any);
}

TEST(VaryKey, StarNeverMatches) {
  EXPECT_EQ(vary_key(parse_vary("*"), Fields{}), std::nullopt);
}

TEST(VaryKey, NoVaryIsEmptyKey) {
  EXPECT_EQ(vary_key(parse_vary(""), Fields{{"Accept", "x"}}), "");
}

TEST(VaryKey, ExactEncoding) {
  const auto key = vary_key(parse_vary("Accept-Language, Accept-Encoding"),
                            Fields{{"accept-encoding", " gzip "}, {"Host", "a"}});
  EXPECT_EQ(key, "accept-encoding=4:gzip\naccept-language!\n");
}

TEST(VaryKey, NamesCaseInsensitive) {
  const auto v = parse_vary("accept-encoding");
  EXPECT_EQ(vary_key(v, Fields{{"ACCEPT-ENCODING", "gzip"}}),
            vary_key(v, Fields{{"Accept-Encoding", "gzip"}}));
}

TEST(VaryKey, RepeatedFieldsCombine) {
  const auto v = parse_vary("Accept");
  EXPECT_EQ(vary_key(v, Fields{{"Accept", "a"}, {"Accept", "\tb "}}),
            vary_key(v, Fields{{"Accept", "a, b"}}));
  EXPECT_NE(vary_key(v, Fields{{"Accept", "a"}, {"Accept", "b"}}),
            vary_key(v, Fields{{"Accept", "b, a"}}));
}

TEST(VaryKey, ValuesAreCaseSensitive) {
  const auto v = parse_vary("Accept-Encoding");
  EXPECT_NE(vary_key(v, Fields{{"Accept-Encoding", "gzip"}}),
            vary_key(v, Fields{{"Accept-Encoding", "GZIP"}}));
}

TEST(VaryKey, AbsentDiffersFromEmpty) {
  const auto v = parse_vary("Origin");
  EXPECT_NE(vary_key(v, Fields{}), vary_key(v, Fields{{"Origin", ""}}));
  EXPECT_EQ(vary_key(v, Fields{}), vary_key(v, Fields{{"Other", "x"}}));
}

TEST(VaryKey, OrderOfVaryNamesIrrelevant) {
  const Fields req{{"A", "1"}, {"B", "2"}};
  EXPECT_EQ(vary_key(parse_vary("A, B"), req), vary_key(parse_vary("b, a"), req));
}

TEST(VaryKey, NoBoundaryForgery) {
  const auto v = parse_vary("A, B");
  EXPECT_NE(vary_key(v, Fields{{"A", "1\nb=1:2"}}), vary_key(v, Fields{{"A", "1"}, {"B", "2"}}));
}

}  // namespace
}  // namespace bulwark::cache
