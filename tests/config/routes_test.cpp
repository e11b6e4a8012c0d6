// The `routes` list: each mistake gives one error on the right line and key, and routes that
// an earlier route fully covers are reported as dead.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "loader_test_support.hpp"

namespace bulwark::config {
namespace {

using testing::all_errors;
using ::testing::ElementsAre;
using testing::ErrorCase;
using ::testing::HasSubstr;
using testing::load;
using testing::load_valid;
using ::testing::Not;

// Five lines, so the first route is on line 7.
constexpr char kUpstreams[] = R"(upstreams:
  api:
    targets: [127.0.0.1:8081]
  auth:
    targets: [127.0.0.1:8082]
)";

std::string routes(const char* list) {
  return std::string(kUpstreams) + "routes:\n" + list;
}

class RouteError : public ::testing::TestWithParam<ErrorCase> {};
TEST_P(RouteError, Reported) {
  testing::expect_single_error(GetParam());
}

INSTANTIATE_TEST_SUITE_P(
    Loader, RouteError,
    ::testing::Values(
        ErrorCase{"RoutesMissing", kUpstreams, 0, "routes", {"missing", "404"}},
        ErrorCase{"RoutesEmptyList",
                  std::string(kUpstreams) + "routes: []\n",
                  6,
                  "routes",
                  {"at least one route"}},
        ErrorCase{"RoutesNothing",
                  std::string(kUpstreams) + "routes:\n",
                  6,
                  "routes",
                  {"at least one route"}},
        ErrorCase{"RoutesNotAList",
                  routes("  all: {upstream: api}\n"),
                  7,
                  "routes",
                  {"expected a list like", "got a mapping"}},
        ErrorCase{"RouteNotAMapping",
                  routes("  - api\n"),
                  7,
                  "routes[0]",
                  {"expected a mapping with the keys name, match, upstream"}},
        ErrorCase{"NameMissing",
                  routes("  - upstream: api\n"),
                  7,
                  "routes[0].name",
                  {"missing", "unique name"}},
        ErrorCase{"UpstreamMissing",
                  routes("  - name: all\n"),
                  7,
                  "routes[0].upstream",
                  {"missing", "upstream: api"}},
        ErrorCase{"NameWithSpace",
                  routes("  - {name: all routes, upstream: api}\n"),
                  7,
                  "routes[0].name",
                  {"letters, digits, '_', '.' and '-'"}},
        ErrorCase{"NameEmpty",
                  routes("  - {name: \"\", upstream: api}\n"),
                  7,
                  "routes[0].name",
                  {"letters, digits"}},
        ErrorCase{"NameUsedTwice",
                  routes("  - name: a\n    match: {path: /a}\n    upstream: api\n"
                         "  - name: a\n    match: {path: /b}\n    upstream: api\n"),
                  10,
                  "routes[1].name",
                  {"route name 'a' is already used by the route at line 7"}},
        ErrorCase{
            "UpstreamUnknownWithHint",
            routes("  - {name: all, upstream: apii}\n"),
            7,
            "routes[0].upstream",
            {"no upstream named 'apii'", "did you mean 'api'?", "defined upstreams: api, auth"}},
        ErrorCase{"UpstreamUnknownListsDefined",
                  routes("  - {name: all, upstream: billing}\n"),
                  7,
                  "routes[0].upstream",
                  {"no upstream named 'billing'", "(defined upstreams: api, auth)"}},
        ErrorCase{"UpstreamNoneDefined",
                  "routes:\n  - {name: all, upstream: api}\n",
                  2,
                  "routes[0].upstream",
                  {"no upstreams are defined"}},
        ErrorCase{"UpstreamNotAName",
                  routes("  - {name: all, upstream: [api]}\n"),
                  7,
                  "routes[0].upstream",
                  {"expected the name of an upstream, got a list"}},
        ErrorCase{"UnknownKeyWithHint",
                  routes("  - name: all\n    matches: {path: /}\n    upstream: api\n"),
                  8,
                  "routes[0].matches",
                  {"did you mean 'match'?"}},
        ErrorCase{"CacheScopeUnknownWithHint",
                  routes("  - name: all\n    upstream: api\n    cache: {scope: shard}\n"),
                  9,
                  "routes[0].cache.scope",
                  {"did you mean 'shared'?"}}),
    testing::error_case_name);

// One route with `match: {<match>}`, so the error is on line 8.
std::string match(const std::string& flow) {
  return routes(("  - name: r\n    match: {" + flow + "}\n    upstream: api\n").c_str());
}

class MatchError : public ::testing::TestWithParam<ErrorCase> {};
TEST_P(MatchError, Reported) {
  testing::expect_single_error(GetParam());
}

INSTANTIATE_TEST_SUITE_P(
    Loader, MatchError,
    ::testing::Values(
        ErrorCase{"NotAMapping",
                  routes("  - name: r\n    match: /api\n    upstream: api\n"),
                  8,
                  "routes[0].match",
                  {"expected a mapping with the keys host, path, path_prefix, methods"}},
        ErrorCase{"UnknownKeyWithHint",
                  match("methds: [GET]"),
                  8,
                  "routes[0].match.methds",
                  {"did you mean 'methods'?"}},
        ErrorCase{"UnknownKeyListsAllowed",
                  match("query: x"),
                  8,
                  "routes[0].match.query",
                  {"host, path, path_prefix, methods"}},
        ErrorCase{"PathAndPathPrefixBoth",
                  routes("  - name: r\n    match:\n      path: /a\n      path_prefix: /b\n"
                         "    upstream: api\n"),
                  10,
                  "routes[0].match.path_prefix",
                  {"path and path_prefix exclude each other"}},
        ErrorCase{"PathWithoutSlash",
                  match("path: api"),
                  8,
                  "routes[0].match.path",
                  {"must start with '/'", "'/api'"}},
        ErrorCase{"PathPrefixWithoutSlash",
                  match("path_prefix: api/"),
                  8,
                  "routes[0].match.path_prefix",
                  {"must start with '/'", "'/api/'"}},
        ErrorCase{
            "PathEmpty", match("path: \"\""), 8, "routes[0].match.path", {"must start with '/'"}},
        ErrorCase{
            "PathWithQuery", match("path: \"/search?q=1\""), 8, "routes[0].match.path", {"query"}},
        ErrorCase{"PathWithFragment", match("path: /a#b"), 8, "routes[0].match.path", {"fragment"}},
        ErrorCase{"PathDoubleSlash",
                  match("path_prefix: /api//v1/"),
                  8,
                  "routes[0].match.path_prefix",
                  {"'//'", "never match"}},
        ErrorCase{"PathDotSegment",
                  match("path: /api/./v1"),
                  8,
                  "routes[0].match.path",
                  {"'.' or '..' segment"}},
        ErrorCase{"PathDotDotAtEnd",
                  match("path_prefix: /api/.."),
                  8,
                  "routes[0].match.path_prefix",
                  {"'.' or '..' segment"}},
        ErrorCase{
            "PathSpace", match("path: \"/a b\""), 8, "routes[0].match.path", {"percent-encoded"}},
        ErrorCase{"PathNonAscii",
                  match("path: /caf\xc3\xa9"),
                  8,
                  "routes[0].match.path",
                  {"percent-encoded"}},
        ErrorCase{"PathBackslash",
                  match("path: /a\\b"),
                  8,
                  "routes[0].match.path",
                  {"refused in request paths"}},
        ErrorCase{"PathSemicolon",
                  match("path: /a;b"),
                  8,
                  "routes[0].match.path",
                  {"refused in request paths"}},
        ErrorCase{"PathEncodedSlash",
                  match("path: /a%2Fb"),
                  8,
                  "routes[0].match.path",
                  {"%2F is refused"}},
        ErrorCase{"PathEncodedUnreserved",
                  match("path_prefix: /%7Euser/"),
                  8,
                  "routes[0].match.path_prefix",
                  {"write '~' rather than %7E"}},
        ErrorCase{"PathLowerCaseEscape",
                  match("path: /caf%c3%a9"),
                  8,
                  "routes[0].match.path",
                  {"%C3", "upper-cased"}},
        ErrorCase{"PathBrokenEscape",
                  match("path: /a%zz"),
                  8,
                  "routes[0].match.path",
                  {"two hex digits"}},
        ErrorCase{"PathTruncatedEscape",
                  match("path: /a%4"),
                  8,
                  "routes[0].match.path",
                  {"two hex digits"}},
        ErrorCase{"HostWithPort",
                  match("host: \"example.com:8080\""),
                  8,
                  "routes[0].match.host",
                  {"port is ignored"}},
        ErrorCase{"HostStar", match("host: \"*\""), 8, "routes[0].match.host", {"leave host out"}},
        ErrorCase{"HostTrailingDot",
                  match("host: example.com."),
                  8,
                  "routes[0].match.host",
                  {"drop the trailing dot", "'example.com'"}},
        ErrorCase{"HostWildcardInside",
                  match("host: api.*.example.com"),
                  8,
                  "routes[0].match.host",
                  {"whole first label"}},
        ErrorCase{"HostPartialWildcard",
                  match("host: \"*api.example.com\""),
                  8,
                  "routes[0].match.host",
                  {"whole first label"}},
        ErrorCase{"HostInvalid",
                  match("host: exa!mple.com"),
                  8,
                  "routes[0].match.host",
                  {"not a valid host name"}},
        ErrorCase{"HostIpv6Literal",
                  match("host: \"[::1]\""),
                  8,
                  "routes[0].match.host",
                  {"IPv6 literals"}},
        ErrorCase{"MethodLowerCase",
                  match("methods: [get]"),
                  8,
                  "routes[0].match.methods[0]",
                  {"case-sensitive", "write 'GET'"}},
        ErrorCase{"MethodMixedCase",
                  match("methods: [GET, Post]"),
                  8,
                  "routes[0].match.methods[1]",
                  {"write 'POST'"}},
        ErrorCase{"MethodListedTwice",
                  match("methods: [GET, POST, GET]"),
                  8,
                  "routes[0].match.methods[2]",
                  {"'GET' is listed twice"}},
        ErrorCase{"MethodsEmptyList",
                  match("methods: []"),
                  8,
                  "routes[0].match.methods",
                  {"matches no request", "leave methods out"}},
        ErrorCase{"MethodsNotAList",
                  match("methods: GET"),
                  8,
                  "routes[0].match.methods",
                  {"expected a list like [GET, HEAD]"}},
        ErrorCase{"MethodNotAToken",
                  match("methods: [\"GE T\"]"),
                  8,
                  "routes[0].match.methods[0]",
                  {"not a method name"}},
        ErrorCase{
            "MethodOnItsOwnLine",
            routes("  - name: r\n    match:\n      methods:\n        - GET\n        - delete\n"
                   "    upstream: api\n"),
            11,
            "routes[0].match.methods[1]",
            {"write 'DELETE'"}}),
    testing::error_case_name);

TEST(RouteUpstream, NoHintWhenNothingIsClose) {
  const LoadResult result = load(routes("  - {name: all, upstream: billing}\n"));
  ASSERT_EQ(result.errors.size(), 1u) << all_errors(result);
  EXPECT_THAT(result.errors[0].message, Not(HasSubstr("did you mean")));
}

TEST(RouteUpstream, UpstreamsSectionBrokenDoesNotBlameEveryRoute) {
  const LoadResult result = load(
      "upstreams: [api]\nroutes:\n"
      "  - {name: a, match: {path: /a}, upstream: api}\n"
      "  - {name: b, match: {path: /b}, upstream: api}\n");
  ASSERT_EQ(result.errors.size(), 1u) << all_errors(result);
  EXPECT_EQ(result.errors[0].key, "upstreams");
}

TEST(RouteUpstream, UpstreamWithErrorsStillCountsAsDefined) {
  const LoadResult result = load(
      "upstreams:\n  api:\n    targets: []\n"
      "routes:\n  - {name: a, upstream: api}\n");
  ASSERT_EQ(result.errors.size(), 1u) << all_errors(result);
  EXPECT_EQ(result.errors[0].key, "upstreams.api.targets");
}

// --- Valid matches --------------------------------------------------------------------------

RouteMatch loaded_match(const std::string& flow) {
  const Config config = load_valid(match(flow));
  return config.routes.empty() ? RouteMatch{} : config.routes[0].match;
}

TEST(RouteMatchValid, HostIsLowerCased) {
  EXPECT_EQ(loaded_match("host: API.Example.com").host, "api.example.com");
}

TEST(RouteMatchValid, WildcardHost) {
  EXPECT_EQ(loaded_match("host: \"*.Example.com\"").host, "*.example.com");
}

TEST(RouteMatchValid, RootPrefix) {
  EXPECT_EQ(loaded_match("path_prefix: /").path_prefix, "/");
}

TEST(RouteMatchValid, PrefixWithAndWithoutTrailingSlash) {
  EXPECT_EQ(loaded_match("path_prefix: /api").path_prefix, "/api");
  EXPECT_EQ(loaded_match("path_prefix: /api/").path_prefix, "/api/");
}

TEST(RouteMatchValid, UpperCaseEscapesOfReservedCharacters) {
  EXPECT_EQ(loaded_match("path: /caf%C3%A9").path, "/caf%C3%A9");
  EXPECT_EQ(loaded_match("path: /a%20b").path, "/a%20b");
}

TEST(RouteMatchValid, DotsInsideSegments) {
  EXPECT_EQ(loaded_match("path: /v1.2/..hidden/file.txt").path, "/v1.2/..hidden/file.txt");
}

TEST(RouteMatchValid, ExtensionMethods) {
  EXPECT_THAT(loaded_match("methods: [PURGE, M-SEARCH]").methods, ElementsAre("PURGE", "M-SEARCH"));
}

TEST(RouteMatchValid, EmptyMatchIsAllowed) {
  const RouteMatch m = loaded_match("");
  EXPECT_FALSE(m.host || m.path || m.path_prefix);
}

// --- Shadowed routes ------------------------------------------------------------------------

// Two routes: the first on line 7, the second on line 10.
std::string two_routes(const std::string& first, const std::string& second) {
  return routes(("  - name: first\n    match: {" + first + "}\n    upstream: api\n" +
                 "  - name: second\n    match: {" + second + "}\n    upstream: api\n")
                    .c_str());
}

const char kEveryRequest[] =
    "route 'second' can never match: route 'first' at line 7 matches every "
    "request first";
const char kCovered[] =
    "route 'second' can never match: route 'first' at line 7 matches every "
    "request it would match";

class ShadowedRoute : public ::testing::TestWithParam<ErrorCase> {};
TEST_P(ShadowedRoute, Reported) {
  testing::expect_single_error(GetParam());
}

INSTANTIATE_TEST_SUITE_P(
    Loader, ShadowedRoute,
    ::testing::Values(
        ErrorCase{"AfterRouteWithoutMatch",
                  routes("  - name: first\n    upstream: api\n"
                         "  - name: second\n    match: {path_prefix: /users/}\n"
                         "    upstream: api\n"),
                  9,
                  "routes[1]",
                  {"route 'second' can never match: route 'first' at line 7 matches every "
                   "request first"}},
        ErrorCase{"AfterEmptyMatch", two_routes("", "path: /x"), 10, "routes[1]", {kEveryRequest}},
        ErrorCase{"AfterRootPrefix",
                  two_routes("path_prefix: /", "host: a.example.com"),
                  10,
                  "routes[1]",
                  {kEveryRequest}},
        ErrorCase{
            "SameMatchTwice", two_routes("path: /a", "path: /a"), 10, "routes[1]", {kCovered}},
        ErrorCase{"ExactPathUnderEarlierPrefix",
                  two_routes("path_prefix: /api/", "path: /api/users"),
                  10,
                  "routes[1]",
                  {kCovered}},
        ErrorCase{"BarePathUnderPrefixWithoutSlash",
                  two_routes("path_prefix: /api", "path: /api"),
                  10,
                  "routes[1]",
                  {kCovered}},
        ErrorCase{"PrefixUnderShorterPrefix",
                  two_routes("path_prefix: /api", "path_prefix: /api/v1/"),
                  10,
                  "routes[1]",
                  {kCovered}},
        ErrorCase{"SlashPrefixUnderBarePrefix",
                  two_routes("path_prefix: /api", "path_prefix: /api/"),
                  10,
                  "routes[1]",
                  {kCovered}},
        ErrorCase{"ExactHostUnderWildcard",
                  two_routes("host: \"*.example.com\"", "host: api.example.com, path: /x"),
                  10,
                  "routes[1]",
                  {kCovered}},
        ErrorCase{"DeeperWildcardUnderWildcard",
                  two_routes("host: \"*.example.com\"", "host: \"*.eu.example.com\""),
                  10,
                  "routes[1]",
                  {kCovered}},
        ErrorCase{"HostComparedWithoutCase",
                  two_routes("host: API.example.com", "host: api.EXAMPLE.com"),
                  10,
                  "routes[1]",
                  {kCovered}},
        ErrorCase{
            "MethodSubset",
            two_routes("path_prefix: /a/, methods: [GET, POST]", "path: /a/b, methods: [GET]"),
            10,
            "routes[1]",
            {kCovered}}),
    testing::error_case_name);

struct RoutePair {
  std::string name;
  std::string first;
  std::string second;
};

void PrintTo(const RoutePair& c, std::ostream* os) {
  *os << c.name;
}

class ReachableRoute : public ::testing::TestWithParam<RoutePair> {};
TEST_P(ReachableRoute, Loads) {
  const Config config = load_valid(two_routes(GetParam().first, GetParam().second));
  EXPECT_EQ(config.routes.size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(
    Loader, ReachableRoute,
    ::testing::Values(
        RoutePair{"BarePathAfterSlashPrefix", "path_prefix: /api/", "path: /api"},
        RoutePair{"SiblingPrefix", "path_prefix: /api", "path_prefix: /apix"},
        RoutePair{"ShorterPrefixAfterLonger", "path_prefix: /api/v1/", "path_prefix: /api/"},
        RoutePair{"ExactThenPrefixOfSamePath", "path: /a", "path_prefix: /a"},
        RoutePair{"MoreMethodsAfterFewer", "methods: [GET]", "methods: [GET, POST]"},
        RoutePair{"AnyMethodAfterSome", "path: /a, methods: [GET]", "path: /a"},
        RoutePair{"ApexAfterWildcard", "host: \"*.example.com\"", "host: example.com"},
        RoutePair{"AnyHostAfterOneHost", "host: a.example.com", "path: /x"},
        RoutePair{"OtherHost", "host: a.example.com", "host: b.example.com"},
        RoutePair{"CatchAllLast", "path: /a", ""}),
    [](const auto& info) { return info.param.name; });

TEST(ShadowedRoutes, EveryShadowedRouteIsReported) {
  const LoadResult result =
      load(routes("  - {name: all, upstream: api}\n"
                  "  - {name: a, match: {path: /a}, upstream: api}\n"
                  "  - {name: b, match: {path: /b}, upstream: api}\n"));
  std::vector<std::pair<unsigned, std::string>> where;
  for (const ConfigError& error : result.errors) where.emplace_back(error.line, error.key);
  EXPECT_THAT(where, ElementsAre(std::pair(8u, "routes[1]"), std::pair(9u, "routes[2]")))
      << all_errors(result);
}

TEST(ShadowedRoutes, ReportsTheFirstRouteThatCovers) {
  const LoadResult result =
      load(routes("  - {name: one, match: {path_prefix: /a/}, upstream: api}\n"
                  "  - {name: two, match: {path_prefix: /a/}, upstream: api}\n"
                  "  - {name: three, match: {path: /a/x}, upstream: api}\n"));
  ASSERT_EQ(result.errors.size(), 2u) << all_errors(result);
  EXPECT_THAT(result.errors[1].message, HasSubstr("route 'one' at line 7"));
}

TEST(ShadowedRoutes, RouteWithBadMatchShadowsNothing) {
  const LoadResult result =
      load(routes("  - {name: one, match: {path_prefix: api}, upstream: api}\n"
                  "  - {name: two, match: {path: /x}, upstream: api}\n"));
  ASSERT_EQ(result.errors.size(), 1u) << all_errors(result);
  EXPECT_EQ(result.errors[0].key, "routes[0].match.path_prefix");
}

TEST(ShadowedRoutes, UnnamedRouteIsNamedByPosition) {
  const LoadResult result =
      load(routes("  - {name: all, upstream: api}\n"
                  "  - {match: {path: /a}, upstream: api}\n"));
  ASSERT_EQ(result.errors.size(), 2u) << all_errors(result);
  EXPECT_THAT(result.errors[1].message, HasSubstr("route routes[1] can never match"));
}

}  // namespace
}  // namespace bulwark::config
