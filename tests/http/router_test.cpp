#include "http/router.hpp"

#include <gtest/gtest.h>

#include "support/case_name.hpp"

#include <ostream>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bulwark::http {
namespace {

using testing_support::case_name;

struct RouteSpec {
  std::optional<std::string> host;
  std::optional<std::string> path;
  std::optional<std::string> path_prefix;
  std::vector<std::string> methods;
};

config::Route make_route(std::string name, RouteSpec spec) {
  config::Route route;
  route.name = std::move(name);
  route.match.host = std::move(spec.host);
  route.match.path = std::move(spec.path);
  route.match.path_prefix = std::move(spec.path_prefix);
  route.match.methods = std::move(spec.methods);
  route.upstream = "api";
  return route;
}

// The routing table every Router case runs against; the index is what match() returns.
const std::vector<config::Route>& routes() {
  static const std::vector<config::Route> table = {
      make_route("health", {std::nullopt, "/healthz", std::nullopt, {"GET"}}),              // 0
      make_route("admin", {"Admin.Example.COM", std::nullopt, "/", {}}),                    // 1
      make_route("tenant", {"*.tenants.example.com", std::nullopt, "/api", {}}),            // 2
      make_route("public", {std::nullopt, std::nullopt, "/api/public/", {"GET", "HEAD"}}),  // 3
      make_route("api", {std::nullopt, std::nullopt, "/api/", {}}),                         // 4
      make_route("v1", {std::nullopt, std::nullopt, "/v1", {"get"}}),                       // 5
      make_route("upload", {std::nullopt, "/upload", std::nullopt, {"POST", "PUT"}}),       // 6
      make_route("shadowed", {std::nullopt, "/api/x", std::nullopt, {}}),                   // 7
      make_route("docs", {"docs.example.com.", std::nullopt, "/", {}}),                     // 8
  };
  return table;
}

struct MatchCase {
  std::string_view name;
  std::string_view host;
  std::string_view path;
  std::string_view method;
  std::optional<size_t> expected;
};

// ctest shows the case's name rather than its bytes.
void PrintTo(const MatchCase& c, std::ostream* os) {
  *os << c.name;
}

class RouterMatch : public testing::TestWithParam<MatchCase> {};

TEST_P(RouterMatch, PicksFirstMatchingRoute) {
  const auto& c = GetParam();
  Router router(routes());
  EXPECT_EQ(router.match(c.host, c.path, c.method), c.expected);
}

constexpr std::optional<size_t> kNone = std::nullopt;

INSTANTIATE_TEST_SUITE_P(
    Table, RouterMatch,
    testing::Values(
        // exact path, method list
        MatchCase{"ExactPath", "x.test", "/healthz", "GET", 0},
        MatchCase{"ExactPathTrailingSlashDiffers", "x.test", "/healthz/", "GET", kNone},
        MatchCase{"ExactPathOtherMethod", "x.test", "/healthz", "POST", kNone},
        MatchCase{"MethodIsCaseSensitive", "x.test", "/healthz", "get", kNone},
        MatchCase{"ExactPathSecondMethod", "x.test", "/upload", "PUT", 6},
        MatchCase{"ExactPathNotPrefix", "x.test", "/upload/x", "POST", kNone},
        // host: exact, case-insensitive, before later routes
        MatchCase{"ExactHostWins", "admin.example.com", "/api/x", "GET", 1},
        MatchCase{"ExactHostAnyCase", "ADMIN.example.Com", "/anything", "DELETE", 1},
        MatchCase{"ExactHostNotSubdomain", "x.admin.example.com", "/anything", "GET", kNone},
        MatchCase{"ExactHostNotParent", "example.com", "/anything", "GET", kNone},
        MatchCase{"ConfigTrailingDotIgnored", "docs.example.com", "/", "GET", 8},
        // host: wildcard
        MatchCase{"WildcardOneLabel", "a.tenants.example.com", "/api", "GET", 2},
        MatchCase{"WildcardTwoLabels", "a.b.tenants.example.com", "/api/x", "GET", 2},
        MatchCase{"WildcardAnyCase", "A.Tenants.EXAMPLE.com", "/api/x", "GET", 2},
        MatchCase{"WildcardNotApex", "tenants.example.com", "/api/x", "GET", 4},
        MatchCase{"WildcardNotLookalike", "eviltenants.example.com", "/api/x", "GET", 4},
        MatchCase{"WildcardSegmentAwarePrefix", "a.tenants.example.com", "/apix", "GET", kNone},
        // segment-aware prefixes
        MatchCase{"PrefixWithSlashMatchesBelow", "x.test", "/api/orders/1", "DELETE", 4},
        MatchCase{"PrefixWithSlashNotBare", "x.test", "/api", "GET", kNone},
        MatchCase{"PrefixWithSlashItself", "x.test", "/api/", "GET", 4},
        MatchCase{"PrefixWithoutSlashItself", "x.test", "/v1", "GET", 5},
        MatchCase{"PrefixWithoutSlashBelow", "x.test", "/v1/users", "GET", 5},
        MatchCase{"PrefixWithoutSlashTrailing", "x.test", "/v1/", "GET", 5},
        MatchCase{"PrefixWithoutSlashNotLonger", "x.test", "/v1x", "GET", kNone},
        MatchCase{"PrefixWithoutSlashNotLongerSegment", "x.test", "/v10/users", "GET", kNone},
        MatchCase{"PrefixIsCaseSensitive", "x.test", "/API/x", "GET", kNone},
        MatchCase{"ConfigMethodUpperCased", "x.test", "/v1/x", "GET", 5},
        MatchCase{"ConfigMethodListed", "x.test", "/v1/x", "POST", kNone},
        // order: first match wins
        MatchCase{"EarlierNarrowRouteFirst", "x.test", "/api/public/x", "GET", 3},
        MatchCase{"NarrowRouteMethodFallsThrough", "x.test", "/api/public/x", "POST", 4},
        MatchCase{"EarlierBroadRouteShadows", "x.test", "/api/x", "GET", 4},
        MatchCase{"NoRoute", "x.test", "/other", "GET", kNone}),
    case_name<MatchCase>);

struct OtherMethodCase {
  std::string_view name;
  std::string_view host;
  std::string_view path;
  bool expected;
};

// ctest shows the case's name rather than its bytes.
void PrintTo(const OtherMethodCase& c, std::ostream* os) {
  *os << c.name;
}

class RouterOtherMethod : public testing::TestWithParam<OtherMethodCase> {};

TEST_P(RouterOtherMethod, TellsMethodNotAllowedFromNotFound) {
  const auto& c = GetParam();
  Router router(routes());
  EXPECT_EQ(router.path_matches_other_method(c.host, c.path), c.expected);
}

INSTANTIATE_TEST_SUITE_P(
    Table, RouterOtherMethod,
    testing::Values(OtherMethodCase{"ExactPathOtherMethod", "x.test", "/healthz", true},
                    OtherMethodCase{"PrefixOtherMethod", "x.test", "/v1/users", true},
                    OtherMethodCase{"UnknownPath", "x.test", "/other", false},
                    OtherMethodCase{"HostMustMatchToo", "x.test", "/anything", false},
                    OtherMethodCase{"HostAnyCase", "ADMIN.EXAMPLE.COM", "/anything", true}),
    case_name<OtherMethodCase>);

TEST(Router, EmptyTableMatchesNothing) {
  Router router(std::vector<config::Route>{});
  EXPECT_EQ(router.match("x.test", "/", "GET"), std::nullopt);
  EXPECT_FALSE(router.path_matches_other_method("x.test", "/"));
}

TEST(Router, RouteWithoutConditionsMatchesEverything) {
  Router router({make_route("all", {})});
  EXPECT_EQ(router.match("x.test", "/a/b", "PATCH"), 0u);
}

TEST(Router, StarHostMatchesAnyHost) {
  Router router({make_route("all", {"*", std::nullopt, std::nullopt, {}})});
  EXPECT_EQ(router.match("anything.test", "/", "GET"), 0u);
}

TEST(Router, ExactPathWinsOverPrefixWhenBothSet) {
  Router router({make_route("both", {std::nullopt, "/a", "/a/", {}})});
  EXPECT_EQ(router.match("x.test", "/a", "GET"), 0u);
  EXPECT_EQ(router.match("x.test", "/a/b", "GET"), std::nullopt);
}

TEST(Router, RootPrefixMatchesEveryPath) {
  Router router({make_route("root", {std::nullopt, std::nullopt, "/", {}})});
  EXPECT_EQ(router.match("x.test", "/", "GET"), 0u);
  EXPECT_EQ(router.match("x.test", "/deep/path", "GET"), 0u);
}

TEST(Router, VeryLongHostIsLowerCasedToo) {
  std::string label(300, 'A');
  Router router({make_route("long", {label, std::nullopt, std::nullopt, {}})});
  EXPECT_EQ(router.match(label, "/", "GET"), 0u);
}

TEST(RouteMatcher, BuiltKinds) {
  RouteMatcher m;
  m.host_kind = RouteMatcher::HostKind::wildcard_suffix;
  m.host = ".example.com";
  m.path_kind = RouteMatcher::PathKind::prefix;
  m.path = "/api";
  m.methods = {"GET"};
  EXPECT_TRUE(m.matches("a.example.com", "/api/x", "GET"));
  EXPECT_FALSE(m.matches("example.com", "/api/x", "GET"));
  EXPECT_FALSE(m.matches("a.example.com", "/apix", "GET"));
  EXPECT_FALSE(m.matches("a.example.com", "/api/x", "HEAD"));
}

// ---- Host header parsing ----

struct HostCase {
  std::string_view name;
  std::string_view input;
  std::optional<std::string> expected;
};

// ctest shows the case's name rather than its bytes.
void PrintTo(const HostCase& c, std::ostream* os) {
  *os << c.name;
}

class HostWithoutPort : public testing::TestWithParam<HostCase> {};

TEST_P(HostWithoutPort, ParsesUriHost) {
  const auto& c = GetParam();
  EXPECT_EQ(host_without_port(c.input), c.expected);
}

const std::optional<std::string> kInvalidHost = std::nullopt;

INSTANTIATE_TEST_SUITE_P(
    Accepted, HostWithoutPort,
    testing::Values(HostCase{"Plain", "example.com", "example.com"},
                    HostCase{"LowerCased", "Example.COM", "example.com"},
                    HostCase{"PortStripped", "Example.COM:8080", "example.com"},
                    HostCase{"MaxPort", "example.com:65535", "example.com"},
                    HostCase{"TrailingDotStripped", "example.com.", "example.com"},
                    HostCase{"TrailingDotAndPort", "example.com.:80", "example.com"},
                    HostCase{"SingleLabel", "localhost", "localhost"},
                    HostCase{"Ipv4", "127.0.0.1:80", "127.0.0.1"},
                    HostCase{"Ipv6Loopback", "[::1]:80", "[::1]"},
                    HostCase{"Ipv6NoPort", "[::1]", "[::1]"},
                    HostCase{"Ipv6LowerCased", "[FE80::AB]", "[fe80::ab]"},
                    HostCase{"Ipv6MappedIpv4", "[::ffff:10.0.0.1]:443", "[::ffff:10.0.0.1]"},
                    HostCase{"UnderscoreAndDash", "my_svc-1.internal", "my_svc-1.internal"}),
    case_name<HostCase>);

INSTANTIATE_TEST_SUITE_P(
    Refused, HostWithoutPort,
    testing::Values(HostCase{"Empty", "", kInvalidHost}, HostCase{"OnlyPort", ":80", kInvalidHost},
                    HostCase{"EmptyPort", "example.com:", kInvalidHost},
                    HostCase{"PortNotDigits", "example.com:http", kInvalidHost},
                    HostCase{"PortTooBig", "example.com:65536", kInvalidHost},
                    HostCase{"PortTooLong", "example.com:000080", kInvalidHost},
                    HostCase{"TwoColons", "example.com:80:81", kInvalidHost},
                    HostCase{"BareIpv6", "::1", kInvalidHost},
                    HostCase{"Space", "exa mple.com", kInvalidHost},
                    HostCase{"Tab", "example.com\t", kInvalidHost},
                    HostCase{"Userinfo", "user@example.com", kInvalidHost},
                    HostCase{"Slash", "example.com/x", kInvalidHost},
                    HostCase{"Backslash", "example.com\\x", kInvalidHost},
                    HostCase{"ControlByte", "example.com\x01", kInvalidHost},
                    HostCase{"Nul", std::string_view("a\0b", 3), kInvalidHost},
                    HostCase{"PercentEncoded", "ex%61mple.com", kInvalidHost},
                    HostCase{"Comma", "a.com,b.com", kInvalidHost},
                    HostCase{"NonAscii", "caf\xc3\xa9.com", kInvalidHost},
                    HostCase{"LeadingDot", ".example.com", kInvalidHost},
                    HostCase{"EmptyLabel", "a..example.com", kInvalidHost},
                    HostCase{"TwoTrailingDots", "example.com..", kInvalidHost},
                    HostCase{"OnlyDot", ".", kInvalidHost},
                    HostCase{"Wildcard", "*.example.com", kInvalidHost},
                    HostCase{"TooLong",
                             std::string_view("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
                             kInvalidHost},
                    HostCase{"UnclosedBracket", "[::1:80", kInvalidHost},
                    HostCase{"JunkAfterBracket", "[::1]x", kInvalidHost},
                    HostCase{"BracketEmptyPort", "[::1]:", kInvalidHost},
                    HostCase{"BracketNotIpv6", "[example.com]", kInvalidHost},
                    HostCase{"BracketZoneId", "[fe80::1%25eth0]", kInvalidHost},
                    HostCase{"IpvFuture", "[v1.fe80::a]", kInvalidHost},
                    HostCase{"EmptyBrackets", "[]", kInvalidHost}),
    case_name<HostCase>);

}  // namespace
}  // namespace bulwark::http
