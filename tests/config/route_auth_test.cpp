// A route's `auth` key: the shorthand and the full form, the defaults, and one row per
// mistake (each file gives exactly one error, on the right line and key, with the fix).

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

// Eleven lines: an upstream and two issuers, so `routes:` is on line 12.
constexpr char kHead[] = R"(upstreams:
  api:
    targets: [127.0.0.1:8081]
auth:
  issuers:
    demo:
      issuer: https://demo.bulwark.local
      keys: [{alg: HS256, secret_env: DEMO_SECRET}]
    corp:
      issuer: https://corp.example.com
      keys: [{jwks_url: https://corp.example.com/jwks.json}]
)";

// One route whose `auth:` key is on line 15, followed by `rest` (the value, inline or on the
// next lines).
std::string route_auth(const std::string& rest) {
  return std::string(kHead) + "routes:\n  - name: api\n    upstream: api\n    auth:" + rest;
}

const Route& only_route(const Config& config) {
  return config.routes.at(0);
}

TEST(RouteAuthValid, ShorthandModes) {
  const std::pair<const char*, AuthMode> modes[] = {
      {"required", AuthMode::required}, {"optional", AuthMode::optional}, {"off", AuthMode::off}};
  for (const auto& [name, mode] : modes) {
    const Config config = load_valid(route_auth(std::string(" ") + name + "\n"));
    ASSERT_TRUE(only_route(config).auth.has_value()) << name;
    EXPECT_EQ(only_route(config).auth->mode, mode) << name;
    EXPECT_EQ(only_route(config).auth->line, 15u) << name;
  }
}

TEST(RouteAuthValid, ShorthandKeepsTheDefaults) {
  const Config config = load_valid(route_auth(" required\n"));
  const RouteAuth& auth = *only_route(config).auth;
  EXPECT_TRUE(auth.issuers.empty());  // every issuer
  EXPECT_TRUE(auth.scopes.empty());
  EXPECT_TRUE(auth.claims.empty());
  EXPECT_TRUE(auth.forward_claims.empty());
  EXPECT_EQ(auth.token.kind, TokenSource::Kind::bearer);
  EXPECT_TRUE(auth.forward_token);
}

TEST(RouteAuthValid, EmptyMappingIsRequiredWithDefaults) {
  const Config config = load_valid(route_auth(" {}\n"));
  EXPECT_EQ(only_route(config).auth->mode, AuthMode::required);
}

constexpr char kFullRouteAuth[] = R"(
      mode: optional
      issuers: [corp, demo]
      require:
        scopes: [read, "write:all"]
        claims:
          tenant: {equals: acme}
          realm_access.roles: {contains: admin}
          email_verified: {equals: true}
          level: {equals: 42}
      forward_claims:
        sub: X-User-Id
        scope: X-User-Scopes
        email: x-user-email
      token: {cookie: session}
      forward_token: false
)";

TEST(RouteAuthValid, FullFormReadsEveryKey) {
  const Config config = load_valid(route_auth(kFullRouteAuth));
  const RouteAuth& auth = *only_route(config).auth;
  EXPECT_EQ(auth.line, 15u);
  EXPECT_EQ(auth.mode, AuthMode::optional);
  EXPECT_THAT(auth.issuers, ElementsAre("corp", "demo"));
  EXPECT_THAT(auth.scopes, ElementsAre("read", "write:all"));
  EXPECT_EQ(auth.token.kind, TokenSource::Kind::cookie);
  EXPECT_EQ(auth.token.name, "session");
  EXPECT_FALSE(auth.forward_token);
}

TEST(RouteAuthValid, ClaimConditionsKeepTheScalarText) {
  const Config config = load_valid(route_auth(kFullRouteAuth));
  const auto& claims = only_route(config).auth->claims;
  ASSERT_EQ(claims.size(), 4u);
  EXPECT_EQ(claims[0].claim, "tenant");
  EXPECT_EQ(claims[0].op, ClaimCondition::Op::equals);
  EXPECT_EQ(claims[0].value, "acme");
  EXPECT_EQ(claims[1].claim, "realm_access.roles");
  EXPECT_EQ(claims[1].op, ClaimCondition::Op::contains);
  EXPECT_EQ(claims[1].value, "admin");
  EXPECT_EQ(claims[2].value, "true");  // a YAML bool, compared as its JSON text
  EXPECT_EQ(claims[3].value, "42");
}

TEST(RouteAuthValid, ForwardClaimsKeepFileOrderAndCase) {
  const Config config = load_valid(route_auth(kFullRouteAuth));
  EXPECT_THAT(only_route(config).auth->forward_claims,
              ElementsAre(Pair("sub", "X-User-Id"), Pair("scope", "X-User-Scopes"),
                          Pair("email", "x-user-email")));
}

TEST(RouteAuthValid, TokenFromAHeader) {
  const Config config = load_valid(route_auth(" {token: {header: X-Api-Token}}\n"));
  EXPECT_EQ(only_route(config).auth->token.kind, TokenSource::Kind::header);
  EXPECT_EQ(only_route(config).auth->token.name, "X-Api-Token");
}

TEST(RouteAuthValid, TokenHeaderAuthorizationIsTheBearerDefault) {
  for (const char* name : {"Authorization", "authorization", "AUTHORIZATION"}) {
    const Config config = load_valid(route_auth(std::string(" {token: {header: ") + name + "}}\n"));
    EXPECT_EQ(only_route(config).auth->token.kind, TokenSource::Kind::bearer) << name;
  }
}

TEST(RouteAuthValid, NoAuthKeyNoAuth) {
  const Config config =
      load_valid(std::string(kHead) + "routes:\n  - name: api\n    upstream: api\n");
  EXPECT_EQ(only_route(config).auth, std::nullopt);
}

TEST(RouteAuthValid, OffNeedsNoAuthSection) {
  const Config config = load_valid(R"(upstreams:
  api: {targets: [127.0.0.1:8081]}
routes:
  - name: admin
    match: {path_prefix: /admin/}
    upstream: api
    auth: {mode: off}
  - {name: api, upstream: api, auth: off}
)");
  EXPECT_EQ(config.routes.at(0).auth->mode, AuthMode::off);
  EXPECT_EQ(config.routes.at(1).auth->mode, AuthMode::off);
  EXPECT_FALSE(config.auth.has_value());
}

TEST(RouteAuthValid, AuthSectionMayComeAfterTheRoutes) {
  const Config config = load_valid(R"(upstreams:
  api: {targets: [127.0.0.1:8081]}
routes:
  - {name: api, upstream: api, auth: {issuers: [demo]}}
auth:
  issuers:
    demo: {issuer: demo, keys: [{alg: HS256, secret_env: S}]}
)");
  EXPECT_THAT(only_route(config).auth->issuers, ElementsAre("demo"));
}

TEST(RouteAuthValid, OneIssuerNameAlone) {
  const Config config = load_valid(route_auth(" {issuers: demo, require: {scopes: read}}\n"));
  EXPECT_THAT(only_route(config).auth->issuers, ElementsAre("demo"));
  EXPECT_THAT(only_route(config).auth->scopes, ElementsAre("read"));
}

TEST(RouteAuthValid, TwoRoutesMayForwardIntoTheSameHeader) {
  const Config config = load_valid(std::string(kHead) + R"(routes:
  - name: a
    match: {path_prefix: /a/}
    upstream: api
    auth: {forward_claims: {sub: X-User-Id}}
  - name: b
    upstream: api
    auth: {forward_claims: {user_id: X-User-Id}}
)");
  EXPECT_EQ(config.routes.size(), 2u);
}

TEST(RouteAuthValid, TheExampleConfigsRoute) {
  const Config config = load_valid(route_auth(R"(
      mode: required
      issuers: [demo]
      require: {scopes: [read]}
      forward_claims: {sub: X-User-Id}
)"));
  const RouteAuth& auth = *only_route(config).auth;
  EXPECT_EQ(auth.mode, AuthMode::required);
  EXPECT_THAT(auth.forward_claims, ElementsAre(Pair("sub", "X-User-Id")));
}

// --- Mistakes -------------------------------------------------------------------------------

class RouteAuthError : public ::testing::TestWithParam<ErrorCase> {};
TEST_P(RouteAuthError, Reported) {
  testing::expect_single_error(GetParam());
}

constexpr char kAuth[] = "routes[0].auth";

std::string at(const char* key) {
  return std::string(kAuth) + "." + key;
}

// A route with auth but no `auth` section (or one without issuers): the route's auth is on
// line 6.
std::string without_issuers(const char* auth_section, const char* route_auth) {
  return std::string("upstreams:\n  api: {targets: [127.0.0.1:8081]}\n") + auth_section +
         "routes:\n  - name: api\n    upstream: api\n    auth:" + route_auth;
}

INSTANTIATE_TEST_SUITE_P(
    Loader, RouteAuthError,
    ::testing::Values(
        ErrorCase{"ShorthandUnknownWithHint",
                  route_auth(" requird\n"),
                  15,
                  kAuth,
                  {"unknown auth mode 'requird'", "did you mean 'required'?",
                   "(modes: required, optional, off)"}},
        ErrorCase{"ShorthandFalseMeansOff",
                  route_auth(" false\n"),
                  15,
                  kAuth,
                  {"unknown auth mode 'false'", "did you mean 'off'?"}},
        ErrorCase{"ModeUnknownWithHint",
                  route_auth("\n      mode: optinal\n"),
                  16,
                  at("mode"),
                  {"did you mean 'optional'?"}},
        ErrorCase{"UnknownKeyWithHint",
                  route_auth(" {issuer: [demo]}\n"),
                  15,
                  at("issuer"),
                  {"unknown key 'issuer'", "did you mean 'issuers'?"}},
        ErrorCase{"GivenAList",
                  route_auth(" [demo]\n"),
                  15,
                  kAuth,
                  {"expected a mapping with the keys mode, issuers, require, forward_claims, "
                   "token, forward_token",
                   "got a list"}},
        ErrorCase{"RequiredWithoutAuthSection",
                  without_issuers("", " required\n"),
                  6,
                  kAuth,
                  {"there is no 'auth' section", "auth.issuers", "or set auth: off"}},
        ErrorCase{"BlockFormWithoutAuthSectionNamesTheAuthLine",
                  without_issuers("", "\n      mode: optional\n      issuers: [demo]\n"),
                  6,
                  kAuth,
                  {"there is no 'auth' section"}},
        ErrorCase{"OptionalWithEmptyIssuers",
                  without_issuers("auth:\n  issuers: {}\n", " optional\n"),
                  8,
                  kAuth,
                  {"auth.issuers is empty", "add the issuer of this route's tokens"}},
        ErrorCase{"ModeOffWithOtherKeys",
                  route_auth("\n      issuers: [demo]\n      mode: off\n"
                             "      forward_token: false\n"),
                  17,
                  at("mode"),
                  {"mode off turns auth off on this route, so issuers, forward_token have no "
                   "effect: remove them, or set mode to required or optional"}},
        ErrorCase{"ModeOffWithOneKey",
                  route_auth(" {mode: off, forward_claims: {sub: X-User-Id}}\n"),
                  15,
                  at("mode"),
                  {"so forward_claims has no effect: remove it"}},
        ErrorCase{"IssuerUnknownWithHint",
                  route_auth(" {issuers: [dmeo]}\n"),
                  15,
                  at("issuers[0]"),
                  {"no issuer named 'dmeo' under auth.issuers", "did you mean 'demo'?",
                   "(defined issuers: demo, corp)"}},
        ErrorCase{"IssuerUnknownOnItsLine",
                  route_auth("\n      issuers:\n        - demo\n        - billing\n"),
                  18,
                  at("issuers[1]"),
                  {"no issuer named 'billing'", "(defined issuers: demo, corp)"}},
        ErrorCase{"IssuersEmptyList",
                  route_auth(" {issuers: []}\n"),
                  15,
                  at("issuers"),
                  {"an empty list accepts no issuer", "leave issuers out"}},
        ErrorCase{"IssuerListedTwice",
                  route_auth(" {issuers: [demo, demo]}\n"),
                  15,
                  at("issuers[1]"),
                  {"'demo' is listed twice"}},
        ErrorCase{"RequireUnknownKeyWithHint",
                  route_auth(" {require: {scope: [read]}}\n"),
                  15,
                  at("require.scope"),
                  {"did you mean 'scopes'?"}},
        ErrorCase{"ScopeWithSpace",
                  route_auth(" {require: {scopes: [\"read write\"]}}\n"),
                  15,
                  at("require.scopes[0]"),
                  {"a scope holds no spaces", "[read, write]"}},
        ErrorCase{"ScopeWithQuote",
                  route_auth(" {require: {scopes: ['a\"b']}}\n"),
                  15,
                  at("require.scopes[0]"),
                  {"is not a scope"}},
        ErrorCase{"ScopeEmptyString",
                  route_auth(" {require: {scopes: [read, \"\"]}}\n"),
                  15,
                  at("require.scopes[1]"),
                  {"expected a scope like read, got an empty string"}},
        ErrorCase{"ScopeListedTwice",
                  route_auth(" {require: {scopes: [read, read]}}\n"),
                  15,
                  at("require.scopes[1]"),
                  {"'read' is listed twice"}},
        ErrorCase{"ScopesEmptyList",
                  route_auth(" {require: {scopes: []}}\n"),
                  15,
                  at("require.scopes"),
                  {"an empty list requires no scope"}},
        ErrorCase{
            "ClaimWithoutCondition",
            route_auth(" {require: {claims: {tenant: acme}}}\n"),
            15,
            at("require.claims.tenant"),
            {"expected {equals: VALUE} or {contains: VALUE}", "write tenant: {equals: acme}"}},
        ErrorCase{"ClaimBothOperators",
                  route_auth("\n      require:\n        claims:\n"
                             "          tenant:\n            equals: acme\n"
                             "            contains: acme\n"),
                  20,
                  at("require.claims.tenant.contains"),
                  {"equals and contains exclude each other"}},
        ErrorCase{"ClaimNoOperator",
                  route_auth("\n      require:\n        claims:\n          tenant: {}\n"),
                  18,
                  at("require.claims.tenant"),
                  {"missing: give equals or contains, like tenant: {equals: acme}"}},
        ErrorCase{"ClaimNothing",
                  route_auth("\n      require:\n        claims:\n          tenant:\n"),
                  18,
                  at("require.claims.tenant"),
                  {"missing: give equals or contains"}},
        ErrorCase{"ClaimValueAList",
                  route_auth(" {require: {claims: {roles: {contains: [a, b]}}}}\n"),
                  15,
                  at("require.claims.roles.contains"),
                  {"expected a single value to compare, like acme, got a list"}},
        ErrorCase{"ClaimOperatorWithHint",
                  route_auth(" {require: {claims: {tenant: {equal: acme}}}}\n"),
                  15,
                  at("require.claims.tenant.equal"),
                  {"did you mean 'equals'?"}},
        ErrorCase{"ClaimPathWithEmptySegment",
                  route_auth("\n      require:\n        claims:\n"
                             "          realm..roles: {contains: admin}\n"),
                  18,
                  at("require.claims.realm..roles"),
                  {"a dotted claim path needs a name between every two dots"}},
        ErrorCase{"ClaimsNotAMapping",
                  route_auth(" {require: {claims: [tenant]}}\n"),
                  15,
                  at("require.claims"),
                  {"expected a mapping of claims to conditions", "got a list"}},
        ErrorCase{"ForwardIntoAuthorization",
                  route_auth(" {forward_claims: {sub: Authorization}}\n"),
                  15,
                  at("forward_claims.sub"),
                  {"'Authorization' is a header that frames messages or that bulwark sets or "
                   "reads itself",
                   "like X-User-Id"}},
        ErrorCase{"ForwardIntoOwnedHeaderAnyCase",
                  route_auth(" {forward_claims: {sub: x-FORWARDED-for}}\n"),
                  15,
                  at("forward_claims.sub"),
                  {"'x-FORWARDED-for' is a header that frames messages"}},
        ErrorCase{"ForwardIntoContentLength",
                  route_auth("\n      forward_claims:\n        size: Content-Length\n"),
                  17,
                  at("forward_claims.size"),
                  {"frames messages"}},
        ErrorCase{"ForwardIntoRequestId",
                  route_auth(" {forward_claims: {jti: X-Request-Id}}\n"),
                  15,
                  at("forward_claims.jti"),
                  {"bulwark sets or reads itself"}},
        ErrorCase{"ForwardIntoUnderscoreHeader",
                  route_auth(" {forward_claims: {sub: X_User_Id}}\n"),
                  15,
                  at("forward_claims.sub"),
                  {"bulwark drops header names that hold '_': write 'X-User-Id'"}},
        ErrorCase{"ForwardIntoNotAHeaderName",
                  route_auth(" {forward_claims: {sub: \"X User\"}}\n"),
                  15,
                  at("forward_claims.sub"),
                  {"'X User' is not a header name"}},
        ErrorCase{"ForwardTwoClaimsIntoOneHeader",
                  route_auth("\n      forward_claims:\n        sub: X-User\n"
                             "        email: x-user\n"),
                  18,
                  at("forward_claims.email"),
                  {"header 'x-user' is already set from claim 'sub' at line 17",
                   "give each claim its own header"}},
        ErrorCase{"ForwardClaimsAList",
                  route_auth(" {forward_claims: [sub]}\n"),
                  15,
                  at("forward_claims"),
                  {"expected a mapping of claims to header names, like sub: X-User-Id"}},
        ErrorCase{"ForwardClaimPathWithTrailingDot",
                  route_auth(" {forward_claims: {\"realm.\": X-Realm}}\n"),
                  15,
                  at("forward_claims.realm."),
                  {"a dotted claim path"}},
        ErrorCase{"TokenHeaderAndCookie",
                  route_auth(" {token: {header: X-Api-Token, cookie: session}}\n"),
                  15,
                  at("token.cookie"),
                  {"header and cookie exclude each other"}},
        ErrorCase{"TokenNeither",
                  route_auth(" {token: {}}\n"),
                  15,
                  at("token"),
                  {"missing: give {header: NAME} or {cookie: NAME}",
                   "leave token out to read the Authorization: Bearer header"}},
        ErrorCase{"TokenUnknownKeyWithHint",
                  route_auth(" {token: {headr: X-Api-Token}}\n"),
                  15,
                  at("token.headr"),
                  {"did you mean 'header'?"}},
        ErrorCase{"TokenHeaderCookie",
                  route_auth(" {token: {header: Cookie}}\n"),
                  15,
                  at("token.header"),
                  {"write {cookie: NAME}"}},
        ErrorCase{"TokenHeaderOwned",
                  route_auth(" {token: {header: Host}}\n"),
                  15,
                  at("token.header"),
                  {"'Host' is a header that frames messages", "like X-Api-Token"}},
        ErrorCase{"TokenHeaderUnderscore",
                  route_auth(" {token: {header: X_Api_Token}}\n"),
                  15,
                  at("token.header"),
                  {"drops header names that hold '_'"}},
        ErrorCase{"TokenHeaderEmpty",
                  route_auth(" {token: {header: \"\"}}\n"),
                  15,
                  at("token.header"),
                  {"got an empty string"}},
        ErrorCase{"TokenCookieNotAToken",
                  route_auth(" {token: {cookie: \"a;b\"}}\n"),
                  15,
                  at("token.cookie"),
                  {"'a;b' is not a cookie name", "RFC 6265"}},
        ErrorCase{"TokenHeaderIsAForwardedClaimHeader",
                  std::string(kHead) +
                      "routes:\n"
                      "  - name: a\n    match: {path_prefix: /a/}\n    upstream: api\n"
                      "    auth: {forward_claims: {sub: X-Token}}\n"
                      "  - name: b\n    upstream: api\n"
                      "    auth: {token: {header: x-token}}\n",
                  19,
                  "routes[1].auth.token.header",
                  {"bulwark strips 'x-token' from every request, because "
                   "routes[0].auth.forward_claims.sub (line 16) forwards a claim in it"}},
        ErrorCase{"ForwardTokenYes",
                  route_auth(" {forward_token: yes}\n"),
                  15,
                  at("forward_token"),
                  {"expected true or false, got 'yes'"}}),
    case_name<ErrorCase>);

TEST(RouteAuthErrors, BrokenIssuersSectionIsNotEchoedByRoutes) {
  const LoadResult result = load(R"(upstreams:
  api: {targets: [127.0.0.1:8081]}
auth:
  issuers: [demo]
routes:
  - {name: api, upstream: api, auth: {issuers: [demo]}}
)");
  ASSERT_EQ(result.errors.size(), 1u) << all_errors(result);
  EXPECT_EQ(result.errors[0].key, "auth.issuers");
}

TEST(RouteAuthErrors, IssuerNamesAreNotLookedUpWithoutAnAuthSection) {
  const LoadResult result = load(R"(upstreams:
  api: {targets: [127.0.0.1:8081]}
routes:
  - {name: api, upstream: api, auth: {issuers: [demo]}}
)");
  ASSERT_EQ(result.errors.size(), 1u) << all_errors(result);
  EXPECT_EQ(result.errors[0].key, "routes[0].auth");
  EXPECT_THAT(result.errors[0].message, HasSubstr("there is no 'auth' section"));
}

TEST(RouteAuthErrors, EveryRouteIsChecked) {
  const LoadResult result = load(std::string(kHead) + R"(routes:
  - name: a
    match: {path: /a}
    upstream: api
    auth: {issuers: [nobody]}
  - name: b
    upstream: api
    auth: {forward_claims: {sub: Host}}
)");
  std::vector<std::pair<unsigned, std::string>> where;
  for (const ConfigError& error : result.errors) where.emplace_back(error.line, error.key);
  EXPECT_THAT(where, ElementsAre(Pair(16u, "routes[0].auth.issuers[0]"),
                                 Pair(19u, "routes[1].auth.forward_claims.sub")))
      << all_errors(result);
}

}  // namespace
}  // namespace bulwark::config
