// A route's `limits` and `limit_headers` keys: the names, the header forms, the defaults, and
// one row per mistake (each file gives exactly one error, on the right line and key, with the
// fix). The `limits` section itself: limits_loader_test.cpp.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "loader_test_support.hpp"
#include "support/case_name.hpp"

namespace bulwark::config {
namespace {

using testing::all_errors;
using ::testing::ElementsAre;
using testing::ErrorCase;
using ::testing::HasSubstr;
using testing::load;
using testing::load_valid;
using ::testing::Pair;
using testing_support::case_name;

// Thirteen lines: an upstream, an issuer and four limits, so `routes:` is on line 14.
constexpr char kHead[] = R"(upstreams:
  api:
    targets: [127.0.0.1:8081]
auth:
  issuers:
    demo:
      issuer: https://demo.bulwark.local
      keys: [{alg: HS256, secret_env: DEMO_SECRET}]
limits:
  per_ip: {rate: 100/s, key: client_ip}
  per_user: {rate: 600/m, key: claim:sub}
  per_tenant: {rate: 10/s, key: [claim:tenant, route], missing: reject}
  per_key: {rate: 5/s, key: header:X-Api-Key, missing: skip}
)";

// One route `api` whose keys after name and upstream are `rest`, from line 17.
std::string route(const std::string& rest) {
  return std::string(kHead) + "routes:\n  - name: api\n    upstream: api\n" + rest;
}

const Route& only_route(const Config& config) {
  return config.routes.at(0);
}

TEST(RouteLimitsValid, ListOfNames) {
  const Config config = load_valid(route("    limits: [per_ip, per_key]\n"));
  EXPECT_THAT(only_route(config).limits, ElementsAre("per_ip", "per_key"));
  EXPECT_EQ(only_route(config).limit_headers, LimitHeaders::standard);
}

TEST(RouteLimitsValid, OneNameAlone) {
  const Config config = load_valid(route("    limits: per_ip\n"));
  EXPECT_THAT(only_route(config).limits, ElementsAre("per_ip"));
}

TEST(RouteLimitsValid, NoLimitsKeyNoLimits) {
  const Config config = load_valid(route(""));
  EXPECT_TRUE(only_route(config).limits.empty());
  EXPECT_EQ(only_route(config).limit_headers, LimitHeaders::standard);
}

TEST(RouteLimitsValid, LimitHeadersForms) {
  const std::pair<const char*, LimitHeaders> forms[] = {{"standard", LimitHeaders::standard},
                                                        {"legacy", LimitHeaders::legacy},
                                                        {"both", LimitHeaders::both},
                                                        {"off", LimitHeaders::off}};
  for (const auto& [name, form] : forms) {
    const Config config =
        load_valid(route(std::string("    limits: [per_ip]\n    limit_headers: ") + name + "\n"));
    EXPECT_EQ(only_route(config).limit_headers, form) << name;
  }
}

TEST(RouteLimitsValid, ClaimLimitsWithRequiredAuth) {
  const Config config = load_valid(route("    auth: required\n    limits: [per_ip, per_user]\n"));
  EXPECT_THAT(only_route(config).limits, ElementsAre("per_ip", "per_user"));
}

// Without a token the claim is missing, and the limit's `missing` policy decides.
TEST(RouteLimitsValid, ClaimLimitsWithOptionalAuth) {
  const Config config =
      load_valid(route("    auth: {mode: optional}\n    limits: [per_tenant, per_user]\n"));
  EXPECT_THAT(only_route(config).limits, ElementsAre("per_tenant", "per_user"));
}

TEST(RouteLimitsValid, AuthMayComeAfterLimitsInTheRoute) {
  const Config config = load_valid(route("    limits: [per_user]\n    auth: required\n"));
  EXPECT_THAT(only_route(config).limits, ElementsAre("per_user"));
}

TEST(RouteLimitsValid, LimitsSectionMayComeAfterTheRoutes) {
  const Config config = load_valid(R"(upstreams:
  api: {targets: [127.0.0.1:8081]}
routes:
  - {name: api, upstream: api, limits: [per_ip], limit_headers: both}
limits:
  per_ip: {rate: 100/s, key: client_ip}
)");
  EXPECT_THAT(only_route(config).limits, ElementsAre("per_ip"));
  EXPECT_EQ(only_route(config).limit_headers, LimitHeaders::both);
}

TEST(RouteLimitsValid, RoutesShareLimits) {
  const Config config = load_valid(std::string(kHead) + R"(routes:
  - name: a
    match: {path_prefix: /a/}
    upstream: api
    limits: [per_ip, per_key]
  - name: b
    upstream: api
    limits: [per_key]
    limit_headers: legacy
)");
  EXPECT_THAT(config.routes.at(0).limits, ElementsAre("per_ip", "per_key"));
  EXPECT_THAT(config.routes.at(1).limits, ElementsAre("per_key"));
  EXPECT_EQ(config.routes.at(1).limit_headers, LimitHeaders::legacy);
}

TEST(RouteLimitsValid, TheExampleConfigsRoutes) {
  const Config config = load_valid(R"(upstreams:
  api:
    targets: [127.0.0.1:8081]
auth:
  issuers:
    demo:
      issuer: https://demo.bulwark.local
      audiences: [api]
      keys: [{alg: HS256, secret_env: BULWARK_HS256_SECRET}]
limits:
  per_ip:
    rate: 100/s
    burst: 200
    key: client_ip
  per_user:
    rate: 600/m
    key: claim:sub
    mode: enforce                  # or shadow
routes:                            # first match wins, in this order
  - name: public
    match: {path_prefix: /api/public/, methods: [GET, HEAD]}
    upstream: api
    limits: [per_ip]
  - name: api
    match: {path_prefix: /api/}
    upstream: api
    auth:
      mode: required               # required | optional | off
      issuers: [demo]
      require: {scopes: [read]}
      forward_claims: {sub: X-User-Id}
    limits: [per_ip, per_user]
)");
  EXPECT_THAT(config.routes.at(0).limits, ElementsAre("per_ip"));
  EXPECT_THAT(config.routes.at(1).limits, ElementsAre("per_ip", "per_user"));
}

// --- Mistakes -------------------------------------------------------------------------------

class RouteLimitsError : public ::testing::TestWithParam<ErrorCase> {};
TEST_P(RouteLimitsError, Reported) {
  testing::expect_single_error(GetParam());
}

constexpr char kLimits[] = "routes[0].limits";

std::string at(const char* key) {
  return std::string("routes[0].") + key;
}

// A route with `limits: [per_ip]` and no `limits` section (or the one given): the route's
// limits are on line 6.
std::string without_limits(const char* limits_section) {
  return std::string("upstreams:\n  api: {targets: [127.0.0.1:8081]}\n") + limits_section +
         "routes:\n  - name: api\n    upstream: api\n    limits: [per_ip]\n";
}

INSTANTIATE_TEST_SUITE_P(
    Loader, RouteLimitsError,
    ::testing::Values(
        ErrorCase{"NameUnknownWithHint",
                  route("    limits: [per_ipp]\n"),
                  17,
                  at("limits[0]"),
                  {"no limit named 'per_ipp' under limits", "did you mean 'per_ip'?",
                   "(defined limits: per_ip, per_user, per_tenant, per_key)"}},
        ErrorCase{"NameUnknownOnItsLine",
                  route("    limits:\n      - per_ip\n      - billing\n"),
                  19,
                  at("limits[1]"),
                  {"no limit named 'billing' under limits",
                   "(defined limits: per_ip, per_user, per_tenant, per_key)"}},
        ErrorCase{"SingleNameUnknown",
                  route("    limits: per_usr\n"),
                  17,
                  kLimits,
                  {"did you mean 'per_user'?"}},
        ErrorCase{"NameListedTwice",
                  route("    limits: [per_ip, per_ip]\n"),
                  17,
                  at("limits[1]"),
                  {"'per_ip' is listed twice"}},
        ErrorCase{"NameEmptyString",
                  route("    limits: [per_ip, \"\"]\n"),
                  17,
                  at("limits[1]"),
                  {"expected a limit name like per_ip, got an empty string"}},
        ErrorCase{"EmptyList",
                  route("    limits: []\n"),
                  17,
                  kLimits,
                  {"an empty list applies no limit: leave limits out"}},
        ErrorCase{"NotAList",
                  route("    limits: {per_ip: true}\n"),
                  17,
                  kLimits,
                  {"expected a list like [per_ip, per_user], got a mapping"}},
        ErrorCase{"NoLimitsSection",
                  without_limits(""),
                  6,
                  at("limits[0]"),
                  {"no limit named 'per_ip': there is no 'limits' section",
                   "like limits: {per_ip: {rate: 100/s, key: client_ip}}"}},
        ErrorCase{"EmptyLimitsSection",
                  without_limits("limits: {}\n"),
                  7,
                  at("limits[0]"),
                  {"no limits are defined under 'limits'"}},
        ErrorCase{"LimitHeadersWithoutLimits",
                  route("    limit_headers: legacy\n"),
                  17,
                  at("limit_headers"),
                  {"limit_headers has no effect on a route without limits: remove it, or name "
                   "the limits this route must pass"}},
        ErrorCase{"LimitHeadersUnknownWithHint",
                  route("    limits: [per_ip]\n    limit_headers: legcy\n"),
                  18,
                  at("limit_headers"),
                  {"unknown limit_headers value 'legcy'", "did you mean 'legacy'?",
                   "(one of standard, legacy, both, off)"}},
        ErrorCase{"LimitHeadersFalseMeansOff",
                  route("    limits: [per_ip]\n    limit_headers: false\n"),
                  18,
                  at("limit_headers"),
                  {"did you mean 'off'?"}},
        ErrorCase{"LimitHeadersAList",
                  route("    limits: [per_ip]\n    limit_headers: [standard, legacy]\n"),
                  18,
                  at("limit_headers"),
                  {"expected one of standard, legacy, both, off, got a list"}},
        ErrorCase{"ClaimLimitWithoutAuth",
                  route("    limits: [per_ip, per_user]\n"),
                  17,
                  at("limits[1]"),
                  {"limit 'per_user' is keyed on claim:sub, which only a verified token "
                   "carries, and this route has no auth",
                   "give the route auth (mode required or optional)"}},
        ErrorCase{"ClaimLimitWithAuthOff",
                  route("    auth: off\n    limits:\n      - per_tenant\n"),
                  19,
                  at("limits[0]"),
                  {"limit 'per_tenant' is keyed on claim:tenant", "this route has auth: off"}},
        ErrorCase{"ClaimLimitAlone",
                  route("    limits: per_user\n"),
                  17,
                  kLimits,
                  {"limit 'per_user' is keyed on claim:sub"}},
        ErrorCase{"ClaimLimitWithAnUnknownAuthModeIsNotEchoed",
                  route("    auth: requird\n    limits: [per_user]\n"),
                  17,
                  at("auth"),
                  {"did you mean 'required'?"}},
        ErrorCase{"UnknownKeyWithHint",
                  route("    limit: [per_ip]\n"),
                  17,
                  at("limit"),
                  {"unknown key 'limit'", "did you mean 'limits'?"}},
        ErrorCase{"KeyHeaderIsAForwardedClaimHeader",
                  std::string(kHead) + "  per_uid: {rate: 1/s, key: [route, header:x-user-id]}\n"
                                       "routes:\n  - name: api\n    upstream: api\n"
                                       "    auth: {forward_claims: {sub: X-User-Id}}\n",
                  14,
                  "limits.per_uid.key[1]",
                  {"'x-user-id' is a header bulwark sets from a verified claim "
                   "(routes[0].auth.forward_claims.sub, line 18)",
                   "never trusted; key on 'claim:sub' instead"}}),
    case_name<ErrorCase>);

TEST(RouteLimitsErrors, BrokenLimitsSectionIsNotEchoedByRoutes) {
  const LoadResult result = load(R"(upstreams:
  api: {targets: [127.0.0.1:8081]}
limits: [per_ip]
routes:
  - {name: api, upstream: api, limits: [per_ip]}
)");
  ASSERT_EQ(result.errors.size(), 1u) << all_errors(result);
  EXPECT_EQ(result.errors[0].key, "limits");
}

// A limit whose key could not be read has no claim part to speak of.
TEST(RouteLimitsErrors, BrokenKeyIsNotEchoedByRoutes) {
  const LoadResult result = load(R"(upstreams:
  api: {targets: [127.0.0.1:8081]}
limits:
  per_user: {rate: 1/s, key: claims:sub}
routes:
  - {name: api, upstream: api, limits: [per_user]}
)");
  ASSERT_EQ(result.errors.size(), 1u) << all_errors(result);
  EXPECT_EQ(result.errors[0].key, "limits.per_user.key");
}

TEST(RouteLimitsErrors, EveryRouteIsChecked) {
  const LoadResult result = load(std::string(kHead) + R"(routes:
  - name: a
    match: {path: /a}
    upstream: api
    limits: [nobody]
  - name: b
    upstream: api
    limits: [per_user]
    limit_headers: standrd
)");
  std::vector<std::pair<unsigned, std::string>> where;
  for (const ConfigError& error : result.errors) where.emplace_back(error.line, error.key);
  EXPECT_THAT(where, ElementsAre(Pair(18u, "routes[0].limits[0]"), Pair(21u, "routes[1].limits[0]"),
                                 Pair(22u, "routes[1].limit_headers")))
      << all_errors(result);
  EXPECT_THAT(result.errors[1].message, HasSubstr("this route has no auth"));
}

}  // namespace
}  // namespace bulwark::config
