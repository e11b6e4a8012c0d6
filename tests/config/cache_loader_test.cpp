// The `cache` section and a route's `cache` key: every accepted shape with the values it
// loads, and one row per mistake (each file gives exactly one error, on the right line and
// key, with exactly the message shown, fix included).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "loader_test_support.hpp"
#include "support/case_name.hpp"

namespace bulwark::config {
namespace {

using namespace std::chrono_literals;
using testing::all_errors;
using ::testing::ElementsAre;
using testing::ErrorCase;
using testing::kValidTail;
using testing::load;
using testing::load_valid;
using ::testing::Pair;
using testing_support::case_name;

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;

// Eight lines: an upstream and an issuer, so `routes:` is on line 9.
constexpr char kHead[] = R"(upstreams:
  api:
    targets: [127.0.0.1:8081]
auth:
  issuers:
    demo:
      issuer: https://demo.bulwark.local
      keys: [{alg: HS256, secret_env: DEMO_SECRET}]
)";

// One route `api` with the keys `before` (from line 12), then `cache:` followed by `rest`
// (the value, inline or on the next lines). Without `before`, `cache:` is on line 12.
std::string route(const std::string& before, const std::string& rest) {
  return std::string(kHead) + "routes:\n  - name: api\n    upstream: api\n" + before +
         "    cache:" + rest;
}

// A route without auth whose `cache:` is on line 12.
std::string route_cache(const std::string& rest) {
  return route("", rest);
}

// A route with `auth: required` on line 12, so its `cache:` is on line 13.
std::string authed_cache(const std::string& rest) {
  return route("    auth: required\n", rest);
}

// A top-level `cache` section on line 1, then a valid rest of the file.
std::string section(const std::string& text) {
  return text + kValidTail;
}

const Route& only_route(const Config& config) {
  return config.routes.at(0);
}

const RouteCache& only_cache(const Config& config) {
  EXPECT_TRUE(only_route(config).cache.has_value()) << "the route has no cache";
  static const RouteCache none;
  return only_route(config).cache ? *only_route(config).cache : none;
}

void expect_default_keys(const RouteCache& cache) {
  EXPECT_EQ(cache.identity_claim, "sub");
  EXPECT_FALSE(cache.sort_query);
  EXPECT_TRUE(cache.ignore_query.empty());
  EXPECT_FALSE(cache.heuristic_freshness);
  EXPECT_EQ(cache.coalesce_timeout, Duration(5000));
}

// --- The section ----------------------------------------------------------------------------

TEST(CacheSectionValid, AbsentMeansNoSection) {
  const Config config = load_valid(section(""));
  EXPECT_FALSE(config.cache.has_value());
}

TEST(CacheSectionValid, AloneKeepsTheDefaults) {
  const Config config = load_valid(section("cache:\n"));
  ASSERT_TRUE(config.cache.has_value());
  EXPECT_EQ(config.cache->memory_bytes, 256 * kMiB);
  EXPECT_EQ(config.cache->max_object_bytes, 1 * kMiB);
  EXPECT_EQ(config.cache->line, 1u);
}

TEST(CacheSectionValid, EmptyMappingKeepsTheDefaults) {
  const Config config = load_valid(section("cache: {}\n"));
  ASSERT_TRUE(config.cache.has_value());
  EXPECT_EQ(config.cache->memory_bytes, 256 * kMiB);
  EXPECT_EQ(config.cache->max_object_bytes, 1 * kMiB);
}

TEST(CacheSectionValid, EveryKey) {
  const Config config =
      load_valid("log: {level: info}\n" + section("cache:\n  memory: 64MiB\n  max_object: 2MiB\n"));
  ASSERT_TRUE(config.cache.has_value());
  EXPECT_EQ(config.cache->memory_bytes, 64 * kMiB);
  EXPECT_EQ(config.cache->max_object_bytes, 2 * kMiB);
  EXPECT_EQ(config.cache->line, 2u);
}

TEST(CacheSectionValid, OnlyMemory) {
  const Config config = load_valid(section("cache: {memory: 1GiB}\n"));
  EXPECT_EQ(config.cache->memory_bytes, 1024 * kMiB);
  EXPECT_EQ(config.cache->max_object_bytes, 1 * kMiB);
}

TEST(CacheSectionValid, OnlyMaxObject) {
  const Config config = load_valid(section("cache: {max_object: 64MiB}\n"));
  EXPECT_EQ(config.cache->memory_bytes, 256 * kMiB);
  EXPECT_EQ(config.cache->max_object_bytes, 64 * kMiB);
}

TEST(CacheSectionValid, TheSmallestSizes) {
  const Config config = load_valid(section("cache: {memory: 1MiB, max_object: 1KiB}\n"));
  EXPECT_EQ(config.cache->memory_bytes, 1 * kMiB);
  EXPECT_EQ(config.cache->max_object_bytes, 1 * kKiB);
}

TEST(CacheSectionValid, MaxObjectExactlyAQuarterOfMemory) {
  const Config config = load_valid(section("cache: {memory: 1MiB, max_object: 256KiB}\n"));
  EXPECT_EQ(config.cache->max_object_bytes, 256 * kKiB);
}

TEST(CacheSectionValid, DecimalUnitsAndBareBytes) {
  const Config config = load_valid(section("cache: {memory: 100MB, max_object: 25000000}\n"));
  EXPECT_EQ(config.cache->memory_bytes, 100'000'000u);
  EXPECT_EQ(config.cache->max_object_bytes, 25'000'000u);
}

TEST(CacheSectionValid, MayComeAfterTheRoutes) {
  const Config config = load_valid(route_cache(" shared\ncache: {memory: 8MiB}\n"));
  EXPECT_EQ(config.cache->memory_bytes, 8 * kMiB);
  EXPECT_EQ(config.cache->line, 13u);
}

// --- A route's cache ------------------------------------------------------------------------

TEST(RouteCacheValid, NoCacheKeyNoCache) {
  const Config config =
      load_valid(std::string(kHead) + "routes:\n  - {name: api, upstream: api}\n");
  EXPECT_EQ(only_route(config).cache, std::nullopt);
}

TEST(RouteCacheValid, ShorthandShared) {
  const Config config = load_valid(route_cache(" shared\n"));
  EXPECT_EQ(only_cache(config).scope, RouteCache::Scope::shared);
  EXPECT_EQ(only_cache(config).line, 12u);
  expect_default_keys(only_cache(config));
  EXPECT_FALSE(config.cache.has_value()) << "a route's cache needs no section";
}

TEST(RouteCacheValid, ShorthandPerIdentity) {
  const Config config = load_valid(authed_cache(" per_identity\n"));
  EXPECT_EQ(only_cache(config).scope, RouteCache::Scope::per_identity);
  EXPECT_EQ(only_cache(config).line, 13u);
  expect_default_keys(only_cache(config));
}

TEST(RouteCacheValid, EmptyMappingIsSharedWithDefaults) {
  const Config config = load_valid(route_cache(" {}\n"));
  EXPECT_EQ(only_cache(config).scope, RouteCache::Scope::shared);
  expect_default_keys(only_cache(config));
}

TEST(RouteCacheValid, NothingIsSharedWithDefaults) {
  const Config config = load_valid(route_cache("\n"));
  EXPECT_EQ(only_cache(config).scope, RouteCache::Scope::shared);
  expect_default_keys(only_cache(config));
}

TEST(RouteCacheValid, ScopeSharedAlone) {
  const Config config = load_valid(route_cache(" {scope: shared}\n"));
  EXPECT_EQ(only_cache(config).scope, RouteCache::Scope::shared);
  expect_default_keys(only_cache(config));
}

TEST(RouteCacheValid, EveryKey) {
  const Config config = load_valid(authed_cache(R"(
      scope: per_identity
      identity_claim: realm_access.user_id
      sort_query: true
      ignore_query: [utm_source, fbclid, "%5Bref%5D"]
      heuristic_freshness: true
      coalesce_timeout: 250ms
)"));
  const RouteCache& cache = only_cache(config);
  EXPECT_EQ(cache.line, 13u);
  EXPECT_EQ(cache.scope, RouteCache::Scope::per_identity);
  EXPECT_EQ(cache.identity_claim, "realm_access.user_id");
  EXPECT_TRUE(cache.sort_query);
  EXPECT_THAT(cache.ignore_query, ElementsAre("utm_source", "fbclid", "%5Bref%5D"));
  EXPECT_TRUE(cache.heuristic_freshness);
  EXPECT_EQ(cache.coalesce_timeout, Duration(250));
}

TEST(RouteCacheValid, SharedKeysWithoutScope) {
  const Config config = load_valid(
      route_cache(" {sort_query: false, ignore_query: utm_source, heuristic_freshness: false, "
                  "coalesce_timeout: 1m}\n"));
  const RouteCache& cache = only_cache(config);
  EXPECT_EQ(cache.scope, RouteCache::Scope::shared);
  EXPECT_FALSE(cache.sort_query);
  EXPECT_THAT(cache.ignore_query, ElementsAre("utm_source"));  // one name alone
  EXPECT_FALSE(cache.heuristic_freshness);
  EXPECT_EQ(cache.coalesce_timeout, Duration(60'000));
}

TEST(RouteCacheValid, IgnoreQueryEmptyListIgnoresNothing) {
  const Config config = load_valid(route_cache(" {ignore_query: []}\n"));
  EXPECT_TRUE(only_cache(config).ignore_query.empty());
}

TEST(RouteCacheValid, CoalesceTimeoutBounds) {
  const std::pair<const char*, Duration> cases[] = {
      {"0s", Duration(0)}, {"0ms", Duration(0)}, {"1ms", Duration(1)}, {"60s", Duration(60'000)}};
  for (const auto& [text, expected] : cases) {
    const Config config =
        load_valid(route_cache(std::string(" {coalesce_timeout: ") + text + "}\n"));
    EXPECT_EQ(only_cache(config).coalesce_timeout, expected) << text;
  }
}

TEST(RouteCacheValid, IdentityClaimForms) {
  for (const char* claim : {"sub", "email", "realm_access.user_id", "https://example.com/uid"}) {
    const Config config = load_valid(
        authed_cache(std::string(" {scope: per_identity, identity_claim: \"") + claim + "\"}\n"));
    EXPECT_EQ(only_cache(config).identity_claim, claim);
  }
}

// Anonymous callers of an optional-auth route use the shared entries; identified ones their own.
TEST(RouteCacheValid, PerIdentityWithOptionalAuth) {
  const Config config = load_valid(route("    auth: {mode: optional}\n", " per_identity\n"));
  EXPECT_EQ(only_cache(config).scope, RouteCache::Scope::per_identity);
  EXPECT_EQ(only_route(config).auth->mode, AuthMode::optional);
}

TEST(RouteCacheValid, PerIdentityWithAuthMapping) {
  const Config config = load_valid(
      route("    auth: {mode: required, issuers: [demo]}\n", " {scope: per_identity}\n"));
  EXPECT_EQ(only_cache(config).scope, RouteCache::Scope::per_identity);
}

TEST(RouteCacheValid, AuthMayComeAfterTheCache) {
  const Config config = load_valid(route_cache(" per_identity\n    auth: required\n"));
  EXPECT_EQ(only_cache(config).scope, RouteCache::Scope::per_identity);
}

TEST(RouteCacheValid, MethodsWithGetOrHead) {
  for (const char* methods : {"[GET]", "[HEAD]", "[GET, HEAD]", "[POST, GET]", "[OPTIONS, HEAD]"}) {
    const Config config =
        load_valid(route(std::string("    match: {methods: ") + methods + "}\n", " shared\n"));
    EXPECT_TRUE(only_route(config).cache.has_value()) << methods;
  }
}

TEST(RouteCacheValid, RoutesCacheEachTheirOwnWay) {
  const Config config = load_valid(std::string(kHead) + R"(routes:
  - name: public
    match: {path_prefix: /public/, methods: [GET, HEAD]}
    upstream: api
    cache: {scope: shared, sort_query: true}
  - name: writes
    match: {path_prefix: /api/, methods: [POST]}
    upstream: api
  - name: api
    match: {path_prefix: /api/}
    upstream: api
    auth: required
    cache: {scope: per_identity, identity_claim: email}
cache: {memory: 64MiB, max_object: 1MiB}
)");
  ASSERT_EQ(config.routes.size(), 3u);
  EXPECT_EQ(config.routes[0].cache->scope, RouteCache::Scope::shared);
  EXPECT_TRUE(config.routes[0].cache->sort_query);
  EXPECT_EQ(config.routes[0].cache->line, 13u);
  EXPECT_EQ(config.routes[1].cache, std::nullopt);
  EXPECT_EQ(config.routes[2].cache->scope, RouteCache::Scope::per_identity);
  EXPECT_EQ(config.routes[2].cache->identity_claim, "email");
  EXPECT_EQ(config.routes[2].cache->line, 21u);
  EXPECT_EQ(config.cache->memory_bytes, 64 * kMiB);
}

// examples/quickstart.yaml, found from this file's path (tests/config/ → the repository).
TEST(RouteCacheValid, TheQuickstartCaches) {
  const auto file = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() /
                    "examples" / "quickstart.yaml";
  const LoadResult result = load_config_file(file.string());
  ASSERT_TRUE(result.ok()) << all_errors(result);
  const Config& config = *result.config;
  ASSERT_TRUE(config.cache.has_value());
  EXPECT_EQ(config.cache->memory_bytes, 64 * kMiB);
  EXPECT_EQ(config.cache->max_object_bytes, 1 * kMiB);
  std::vector<std::pair<std::string, RouteCache::Scope>> cached;
  for (const Route& r : config.routes) {
    if (r.cache) cached.emplace_back(r.name, r.cache->scope);
  }
  EXPECT_THAT(cached, ElementsAre(Pair("public", RouteCache::Scope::shared),
                                  Pair("api", RouteCache::Scope::per_identity)));
}

// --- Mistakes -------------------------------------------------------------------------------

// Exactly one error, and its message is exactly the row's one hint.
class CacheError : public ::testing::TestWithParam<ErrorCase> {};
TEST_P(CacheError, Reported) {
  const ErrorCase& c = GetParam();
  ASSERT_EQ(c.hints.size(), 1u) << "a row gives the whole message";
  testing::expect_single_error(c);
  const LoadResult result = load(c.yaml);
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].message, c.hints[0]);
}

constexpr char kRouteCache[] = "routes[0].cache";

std::string at(const char* key) {
  return std::string(kRouteCache) + "." + key;
}

constexpr char kFits[] =
    "memory is split over the store's shards, and each shard must hold several objects; ";
constexpr char kRouteKeys[] =
    "expected a mapping with the keys scope, identity_claim, sort_query, ignore_query, "
    "heuristic_freshness, coalesce_timeout, got ";
constexpr char kLeaveOut[] =
    "to store nothing from this route, leave cache out: a cache takes the scope shared or "
    "per_identity";
constexpr char kCoalesceMax[] =
    "must be at most 60s, like 5s: it is how long a miss waits for the same request already "
    "sent upstream before going upstream itself (0s turns coalescing off)";
constexpr char kIdentityClaimShared[] =
    "identity_claim applies only to scope: per_identity (a shared entry serves every caller): "
    "remove it, or set scope: per_identity";
constexpr char kNoAuth[] =
    "per_identity caching keys on the verified identity, and this route has no auth: add auth "
    "to the route (mode required or optional), or use ";
constexpr char kAuthOff[] =
    "per_identity caching keys on the verified identity, and this route has auth: off: add "
    "auth to the route (mode required or optional), or use ";
constexpr char kNothingCached[] =
    ", and the cache stores GET responses (HEAD is answered from them): nothing would be "
    "cached; remove cache, or add GET to match.methods";

std::string concat(const char* a, const char* b) {
  return std::string(a) + b;
}

INSTANTIATE_TEST_SUITE_P(
    Section, CacheError,
    ::testing::Values(
        ErrorCase{"UnknownKeyWithHint",
                  section("cache:\n  memroy: 64MiB\n"),
                  2,
                  "cache.memroy",
                  {"unknown key 'memroy': did you mean 'memory'?"}},
        ErrorCase{"UnknownKeyListsAllowed",
                  section("cache:\n  shards: 16\n"),
                  2,
                  "cache.shards",
                  {"unknown key 'shards': the keys allowed here are memory, max_object"}},
        ErrorCase{"NotAMapping",
                  section("cache: 64MiB\n"),
                  1,
                  "cache",
                  {"expected a mapping with the keys memory, max_object, got '64MiB'"}},
        ErrorCase{"AList",
                  section("cache: [memory]\n"),
                  1,
                  "cache",
                  {"expected a mapping with the keys memory, max_object, got a list"}},
        ErrorCase{"KeySetTwice",
                  section("cache:\n  memory: 64MiB\n  memory: 128MiB\n"),
                  3,
                  "cache.memory",
                  {"set twice: the first is at line 2; keep one"}},
        ErrorCase{"MemoryBelowOneMiB",
                  section("cache:\n  memory: 512KiB\n"),
                  2,
                  "cache.memory",
                  {"must be at least 1MiB, like 256MiB"}},
        ErrorCase{"MemoryOneMBIsBelowOneMiB",
                  section("cache: {memory: 1MB}\n"),
                  1,
                  "cache.memory",
                  {"must be at least 1MiB, like 256MiB"}},
        ErrorCase{"MemoryUnitCase",
                  section("cache:\n  memory: 64mib\n"),
                  2,
                  "cache.memory",
                  {"expected a size like 16KiB: units are case-sensitive: write '64MiB'"}},
        ErrorCase{"MemoryNotASize",
                  section("cache:\n  memory: lots\n"),
                  2,
                  "cache.memory",
                  {"expected a size like 16KiB: 'lots' is not a number with a unit, like "
                   "'16KiB'"}},
        ErrorCase{"MemoryAList",
                  section("cache:\n  memory: [64MiB]\n"),
                  2,
                  "cache.memory",
                  {"expected a size like 16KiB, got a list"}},
        ErrorCase{"MaxObjectBelowOneKiB",
                  section("cache:\n  max_object: 512\n"),
                  2,
                  "cache.max_object",
                  {"must be at least 1KiB, like 1MiB"}},
        ErrorCase{"MaxObjectNegative",
                  section("cache:\n  max_object: -1MiB\n"),
                  2,
                  "cache.max_object",
                  {"expected a size like 16KiB: '-1MiB' is negative"}},
        ErrorCase{"MaxObjectOverAQuarterOfMemory",
                  section("cache:\n  memory: 4MiB\n  max_object: 2MiB\n"),
                  3,
                  "cache.max_object",
                  {"max_object (2MiB) must be at most a quarter of memory (4MiB): " +
                   std::string(kFits) + "lower max_object to at most 1MiB, or raise memory"}},
        ErrorCase{"MaxObjectOverAQuarterOfTheDefaultMemory",
                  section("cache:\n  max_object: 100MiB\n"),
                  2,
                  "cache.max_object",
                  {"max_object (100MiB) must be at most a quarter of memory (256MiB, the "
                   "default): " +
                   std::string(kFits) + "lower max_object to at most 64MiB, or raise memory"}},
        ErrorCase{"MemoryUnderFourTimesTheDefaultMaxObject",
                  section("cache:\n  memory: 3MiB\n"),
                  2,
                  "cache.memory",
                  {"max_object (1MiB, the default) must be at most a quarter of memory (3MiB): " +
                   std::string(kFits) +
                   "raise memory to at least 4MiB, or set a smaller "
                   "max_object"}},
        ErrorCase{"QuarterInDecimalUnits",
                  section("cache: {memory: 10MB, max_object: 2500001}\n"),
                  1,
                  "cache.max_object",
                  {"max_object (2500001 bytes) must be at most a quarter of memory (10MB): " +
                   std::string(kFits) + "lower max_object to at most 2500KB, or raise memory"}}),
    case_name<ErrorCase>);

INSTANTIATE_TEST_SUITE_P(
    Route, CacheError,
    ::testing::Values(
        ErrorCase{"ShorthandUnknownWithHint",
                  route_cache(" sharde\n"),
                  12,
                  kRouteCache,
                  {"unknown cache scope 'sharde': did you mean 'shared'? (one of shared, "
                   "per_identity)"}},
        ErrorCase{"ShorthandPublicMeansShared",
                  route_cache(" public\n"),
                  12,
                  kRouteCache,
                  {"unknown cache scope 'public': did you mean 'shared'? (one of shared, "
                   "per_identity)"}},
        ErrorCase{"ShorthandPrivateMeansPerIdentity",
                  authed_cache(" private\n"),
                  13,
                  kRouteCache,
                  {"unknown cache scope 'private': did you mean 'per_identity'? (one of "
                   "shared, per_identity)"}},
        ErrorCase{"ShorthandOff", route_cache(" off\n"), 12, kRouteCache, {kLeaveOut}},
        ErrorCase{"ShorthandFalse", route_cache(" false\n"), 12, kRouteCache, {kLeaveOut}},
        ErrorCase{"GivenAList",
                  route_cache(" [shared]\n"),
                  12,
                  kRouteCache,
                  {concat(kRouteKeys, "a list")}},
        ErrorCase{"UnknownKeyWithHint",
                  route_cache(" {scop: shared}\n"),
                  12,
                  at("scop"),
                  {"unknown key 'scop': did you mean 'scope'?"}},
        ErrorCase{"UnknownKeyListsAllowed",
                  route_cache(" {ttl: 60s}\n"),
                  12,
                  at("ttl"),
                  {"unknown key 'ttl': the keys allowed here are scope, identity_claim, "
                   "sort_query, ignore_query, heuristic_freshness, coalesce_timeout"}},
        ErrorCase{"KeySetTwice",
                  route_cache("\n      sort_query: true\n      sort_query: false\n"),
                  14,
                  at("sort_query"),
                  {"set twice: the first is at line 13; keep one"}},
        ErrorCase{"CacheSetTwiceOnTheRoute",
                  route_cache(" shared\n    cache: shared\n"),
                  13,
                  kRouteCache,
                  {"set twice: the first is at line 12; keep one"}},
        ErrorCase{"ScopeUnknown",
                  route_cache("\n      scope: global\n"),
                  13,
                  at("scope"),
                  {"unknown cache scope 'global' (one of shared, per_identity)"}},
        ErrorCase{"ScopeOff", route_cache(" {scope: none}\n"), 12, at("scope"), {kLeaveOut}},
        ErrorCase{"ScopeAList",
                  route_cache(" {scope: [shared]}\n"),
                  12,
                  at("scope"),
                  {"expected one of shared, per_identity, got a list"}},
        ErrorCase{"PerIdentityWithoutAuth",
                  route_cache(" {scope: per_identity}\n"),
                  12,
                  at("scope"),
                  {concat(kNoAuth, "scope: shared")}},
        ErrorCase{"PerIdentityWithoutAuthOnTheScopeLine",
                  route_cache("\n      sort_query: true\n      scope: per_identity\n"),
                  14,
                  at("scope"),
                  {concat(kNoAuth, "scope: shared")}},
        ErrorCase{"PerIdentityShorthandWithoutAuth",
                  route_cache(" per_identity\n"),
                  12,
                  kRouteCache,
                  {concat(kNoAuth, "cache: shared")}},
        ErrorCase{"PerIdentityWithAuthOff",
                  route("    auth: off\n", " per_identity\n"),
                  13,
                  kRouteCache,
                  {concat(kAuthOff, "cache: shared")}},
        ErrorCase{"PerIdentityWithAuthModeOff",
                  route("    auth: {mode: off}\n", " {scope: per_identity}\n"),
                  13,
                  at("scope"),
                  {concat(kAuthOff, "scope: shared")}},
        ErrorCase{"IdentityClaimWithScopeShared",
                  authed_cache(" {scope: shared, identity_claim: email}\n"),
                  13,
                  at("identity_claim"),
                  {kIdentityClaimShared}},
        ErrorCase{"IdentityClaimWithTheDefaultScope",
                  route_cache("\n      identity_claim: email\n"),
                  13,
                  at("identity_claim"),
                  {kIdentityClaimShared}},
        ErrorCase{"IdentityClaimEmpty",
                  authed_cache(" {scope: per_identity, identity_claim: \"\"}\n"),
                  13,
                  at("identity_claim"),
                  {"expected a claim name like sub, got an empty string"}},
        ErrorCase{"IdentityClaimPathWithEmptySegment",
                  authed_cache(" {scope: per_identity, identity_claim: realm..id}\n"),
                  13,
                  at("identity_claim"),
                  {"a dotted claim path needs a name between every two dots, like "
                   "realm_access.roles"}},
        ErrorCase{"IdentityClaimPathWithTrailingDot",
                  authed_cache(" {scope: per_identity, identity_claim: realm.}\n"),
                  13,
                  at("identity_claim"),
                  {"a dotted claim path needs a name between every two dots, like "
                   "realm_access.roles"}},
        ErrorCase{"IdentityClaimWithTheLimitsPrefix",
                  authed_cache(" {scope: per_identity, identity_claim: \"claim:email\"}\n"),
                  13,
                  at("identity_claim"),
                  {"write the claim's name alone: identity_claim: email"}},
        ErrorCase{"IdentityClaimAList",
                  authed_cache(" {scope: per_identity, identity_claim: [sub]}\n"),
                  13,
                  at("identity_claim"),
                  {"expected a claim name like sub, got a list"}},
        ErrorCase{"SortQueryYes",
                  route_cache(" {sort_query: yes}\n"),
                  12,
                  at("sort_query"),
                  {"expected true or false, got 'yes'"}},
        ErrorCase{"HeuristicFreshnessOne",
                  route_cache("\n      heuristic_freshness: 1\n"),
                  13,
                  at("heuristic_freshness"),
                  {"expected true or false, got '1'"}},
        ErrorCase{"IgnoreQueryEmptyName",
                  route_cache(" {ignore_query: [utm_source, \"\"]}\n"),
                  12,
                  at("ignore_query[1]"),
                  {"expected a query parameter name like utm_source, got an empty string"}},
        ErrorCase{"IgnoreQueryNameOnItsLine",
                  route_cache("\n      ignore_query:\n        - utm_source\n        - \"a&b\"\n"),
                  15,
                  at("ignore_query[1]"),
                  {"'&' separates parameters, so no name holds it: list each name on its own, "
                   "like [a, b]"}},
        ErrorCase{"IgnoreQueryNameWithValue",
                  route_cache(" {ignore_query: [\"utm_source=mail\"]}\n"),
                  12,
                  at("ignore_query[0]"),
                  {"write the parameter's name alone: 'utm_source' leaves the parameter out of "
                   "the key whatever its value"}},
        ErrorCase{"IgnoreQueryOnlyAValue",
                  route_cache(" {ignore_query: \"=x\"}\n"),
                  12,
                  at("ignore_query"),
                  {"'=' starts a parameter's value, so no name holds it"}},
        ErrorCase{"IgnoreQueryNameWithSpace",
                  route_cache(" {ignore_query: [\"utm source\"]}\n"),
                  12,
                  at("ignore_query[0]"),
                  {"spaces, control characters and non-ASCII characters never appear raw in a "
                   "query: write the name percent-encoded, as clients send it"}},
        ErrorCase{"IgnoreQueryNameListedTwice",
                  route_cache(" {ignore_query: [fbclid, gclid, fbclid]}\n"),
                  12,
                  at("ignore_query[2]"),
                  {"'fbclid' is listed twice"}},
        ErrorCase{"IgnoreQueryAMapping",
                  route_cache(" {ignore_query: {utm_source: true}}\n"),
                  12,
                  at("ignore_query"),
                  {"expected a list like [utm_source, fbclid], got a mapping"}},
        ErrorCase{"CoalesceTimeoutOver60s",
                  route_cache(" {coalesce_timeout: 61s}\n"),
                  12,
                  at("coalesce_timeout"),
                  {kCoalesceMax}},
        ErrorCase{"CoalesceTimeoutInMinutes",
                  route_cache("\n      coalesce_timeout: 2m\n"),
                  13,
                  at("coalesce_timeout"),
                  {kCoalesceMax}},
        ErrorCase{"CoalesceTimeoutNoUnit",
                  route_cache(" {coalesce_timeout: 5}\n"),
                  12,
                  at("coalesce_timeout"),
                  {"expected a duration like 10s: '5' has no unit: write '5s' or '5ms' (units: "
                   "ms, s, m, h or d)"}},
        ErrorCase{"CoalesceTimeoutOff",
                  route_cache(" {coalesce_timeout: off}\n"),
                  12,
                  at("coalesce_timeout"),
                  {"expected a duration like 10s: 'off' is not a number with a unit, like "
                   "'10s'"}},
        ErrorCase{"MethodsWithoutGetOrHead",
                  route("    match: {methods: [POST, PUT]}\n", " shared\n"),
                  13,
                  kRouteCache,
                  {concat("this route matches only POST, PUT", kNothingCached)}},
        ErrorCase{
            "MethodsWithoutGetOrHeadMappingForm",
            route("    match: {path: /orders, methods: [DELETE]}\n", "\n      sort_query: true\n"),
            13,
            kRouteCache,
            {concat("this route matches only DELETE", kNothingCached)}},
        ErrorCase{"LaterRoutePath",
                  std::string(kHead) +
                      "routes:\n  - {name: a, match: {path: /a}, upstream: api, cache: shared}\n"
                      "  - {name: b, upstream: api, cache: {scope: per_identity}}\n",
                  11,
                  "routes[1].cache.scope",
                  {concat(kNoAuth, "scope: shared")}}),
    case_name<ErrorCase>);

// --- Checks that stay quiet when another error already says it -----------------------------

TEST(CacheErrors, UnknownAuthModeIsNotEchoedByPerIdentity) {
  const LoadResult result = load(route("    auth: requird\n", " per_identity\n"));
  ASSERT_EQ(result.errors.size(), 1u) << all_errors(result);
  EXPECT_EQ(result.errors[0].key, "routes[0].auth");
}

TEST(CacheErrors, InvalidMethodsAreNotEchoedByTheCache) {
  const LoadResult result = load(route("    match: {methods: [post]}\n", " shared\n"));
  ASSERT_EQ(result.errors.size(), 1u) << all_errors(result);
  EXPECT_EQ(result.errors[0].key, "routes[0].match.methods[0]");
}

TEST(CacheErrors, InvalidIdentityClaimIsNotEchoedByTheScope) {
  const LoadResult result = load(route_cache(" {identity_claim: \"a..b\"}\n"));
  ASSERT_EQ(result.errors.size(), 1u) << all_errors(result);
  EXPECT_EQ(result.errors[0].key, "routes[0].cache.identity_claim");
}

TEST(CacheErrors, InvalidSizeSkipsTheQuarterCheck) {
  const LoadResult result = load(section("cache: {memory: 2MiB, max_object: 2mib}\n"));
  ASSERT_EQ(result.errors.size(), 1u) << all_errors(result);
  EXPECT_EQ(result.errors[0].key, "cache.max_object");
}

TEST(CacheErrors, EveryMistakeIsReportedInLineOrder) {
  const LoadResult result = load(std::string(kHead) + R"(routes:
  - name: a
    match: {path: /a, methods: [POST]}
    upstream: api
    cache:
      scope: per_identity
      identity_claim: ""
      coalesce_timeout: 90s
cache:
  memory: 512KiB
  max_objct: 1KiB
)");
  std::vector<std::pair<unsigned, std::string>> where;
  for (const ConfigError& error : result.errors) where.emplace_back(error.line, error.key);
  EXPECT_THAT(where, ElementsAre(Pair(13u, "routes[0].cache"), Pair(14u, "routes[0].cache.scope"),
                                 Pair(15u, "routes[0].cache.identity_claim"),
                                 Pair(16u, "routes[0].cache.coalesce_timeout"),
                                 Pair(18u, "cache.memory"), Pair(19u, "cache.max_objct")))
      << all_errors(result);
}

}  // namespace
}  // namespace bulwark::config
