// The `auth` section: every value read, the defaults, and one row per mistake a user can make
// in it (each file gives exactly one error, on the right line and key, with the hint that
// says the fix). A route's `auth` key: route_auth_test.cpp.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "loader_test_support.hpp"
#include "support/case_name.hpp"

namespace bulwark::config {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using testing::ErrorCase;
using testing::kValidTail;
using testing::load_valid;
using testing_support::case_name;

std::string with_tail(const std::string& head) {
  return head + kValidTail;
}

// Every key of the section, none at its default.
constexpr char kFullAuth[] = R"(auth:
  leeway: 10s
  token_cache_entries: 5000
  issuers:
    demo:
      issuer: https://demo.bulwark.local
      audiences: [api, admin]
      max_lifetime: 15m
      keys:
        - alg: HS256
          secret_env: BULWARK_HS256_SECRET
          kid: hs-1
        - {alg: HS512, secret_file: secrets/hs512}
        - alg: ES256
          kid: k1
          pem_file: keys/es256.pub
        - {jwks_file: keys/jwks.json, alg: EdDSA}
        - jwks_url: https://idp.example.com/.well-known/jwks.json
          alg: RS256
          refresh: 10m
          unknown_kid_refetch: 1m
          fetch_timeout: 2s
          ca_file: certs/idp-ca.pem
    corp:
      issuer: corp
      audiences: gateway
      require_exp: false
      keys: [{jwks_url: "http://127.0.0.1:8090/jwks"}]
  failed_attempts:
    limit: 50/h
    cooldown: 30m
)";

TEST(AuthLoaderValid, ReadsTheSection) {
  const Config config = load_valid(with_tail(kFullAuth));
  ASSERT_TRUE(config.auth.has_value());
  EXPECT_EQ(config.auth->leeway, 10s);
  EXPECT_EQ(config.auth->token_cache_entries, 5000u);
  ASSERT_TRUE(config.auth->failed_attempts.has_value());
  EXPECT_EQ(config.auth->failed_attempts->limit, 50u);
  EXPECT_EQ(config.auth->failed_attempts->per, 1h);
  EXPECT_EQ(config.auth->failed_attempts->cooldown, 30min);
}

TEST(AuthLoaderValid, ReadsIssuersInFileOrder) {
  const Config config = load_valid(with_tail(kFullAuth));
  ASSERT_EQ(config.auth->issuers.size(), 2u);
  const AuthIssuer& demo = config.auth->issuers[0];
  EXPECT_EQ(demo.name, "demo");
  EXPECT_EQ(demo.line, 5u);
  EXPECT_EQ(demo.issuer, "https://demo.bulwark.local");
  EXPECT_THAT(demo.audiences, ElementsAre("api", "admin"));
  EXPECT_EQ(demo.max_lifetime, 15min);
  EXPECT_TRUE(demo.require_exp);
  EXPECT_EQ(demo.keys.size(), 5u);
  const AuthIssuer& corp = config.auth->issuers[1];
  EXPECT_EQ(corp.name, "corp");
  EXPECT_EQ(corp.line, 24u);
  EXPECT_THAT(corp.audiences, ElementsAre("gateway"));  // one string stands for a list of one
  EXPECT_FALSE(corp.require_exp);
  EXPECT_EQ(config.auth->find_issuer("corp"), &corp);
}

TEST(AuthLoaderValid, ReadsSecretAndPemKeys) {
  const Config config = load_valid(with_tail(kFullAuth));
  const auto& keys = config.auth->issuers.at(0).keys;
  ASSERT_EQ(keys.size(), 5u);
  EXPECT_EQ(keys[0].line, 10u);
  EXPECT_EQ(keys[0].alg, "HS256");
  EXPECT_EQ(keys[0].secret_env, "BULWARK_HS256_SECRET");
  EXPECT_EQ(keys[0].kid, "hs-1");
  EXPECT_EQ(keys[1].line, 13u);
  EXPECT_EQ(keys[1].alg, "HS512");
  EXPECT_EQ(keys[1].secret_file, "secrets/hs512");
  EXPECT_EQ(keys[1].kid, std::nullopt);
  EXPECT_EQ(keys[2].alg, "ES256");
  EXPECT_EQ(keys[2].kid, "k1");
  EXPECT_EQ(keys[2].pem_file, "keys/es256.pub");
  EXPECT_EQ(keys[2].secret_env, std::nullopt);
}

TEST(AuthLoaderValid, ReadsJwksKeys) {
  const Config config = load_valid(with_tail(kFullAuth));
  const auto& keys = config.auth->issuers.at(0).keys;
  ASSERT_EQ(keys.size(), 5u);
  EXPECT_EQ(keys[3].jwks_file, "keys/jwks.json");
  EXPECT_EQ(keys[3].alg, "EdDSA");
  const AuthKey& url = keys[4];
  EXPECT_EQ(url.line, 18u);
  EXPECT_EQ(url.jwks_url, "https://idp.example.com/.well-known/jwks.json");
  EXPECT_EQ(url.alg, "RS256");
  EXPECT_EQ(url.refresh, 10min);
  EXPECT_EQ(url.unknown_kid_refetch, 1min);
  EXPECT_EQ(url.fetch_timeout, 2s);
  EXPECT_EQ(url.ca_file, "certs/idp-ca.pem");
}

TEST(AuthLoaderDefaults, NoSectionNoAuth) {
  EXPECT_FALSE(load_valid(with_tail("")).auth.has_value());
}

TEST(AuthLoaderDefaults, EmptySectionKeepsDefaults) {
  const Config config = load_valid(with_tail("auth:\n"));
  ASSERT_TRUE(config.auth.has_value());
  EXPECT_EQ(config.auth->leeway, 30s);
  EXPECT_EQ(config.auth->token_cache_entries, 100'000u);
  EXPECT_TRUE(config.auth->issuers.empty());
  ASSERT_TRUE(config.auth->failed_attempts.has_value());
  EXPECT_EQ(config.auth->failed_attempts->limit, 20u);
  EXPECT_EQ(config.auth->failed_attempts->per, 1min);
  EXPECT_EQ(config.auth->failed_attempts->cooldown, 5min);
}

TEST(AuthLoaderDefaults, IssuerAndJwksUrlDefaults) {
  const Config config = load_valid(with_tail(R"(auth:
  issuers:
    demo:
      issuer: https://demo.bulwark.local
      keys: [{jwks_url: https://idp.example.com/jwks.json}]
)"));
  const AuthIssuer& demo = config.auth->issuers.at(0);
  EXPECT_TRUE(demo.audiences.empty());
  EXPECT_EQ(demo.max_lifetime, std::nullopt);
  EXPECT_TRUE(demo.require_exp);
  const AuthKey& key = demo.keys.at(0);
  EXPECT_EQ(key.alg, std::nullopt);
  EXPECT_EQ(key.refresh, 5min);
  EXPECT_EQ(key.unknown_kid_refetch, 30s);
  EXPECT_EQ(key.fetch_timeout, 5s);
  EXPECT_EQ(key.ca_file, std::nullopt);
}

TEST(AuthLoaderValues, FailedAttemptsOff) {
  const Config config = load_valid(with_tail("auth:\n  failed_attempts: off\n"));
  EXPECT_EQ(config.auth->failed_attempts, std::nullopt);
}

TEST(AuthLoaderValues, FailedAttemptsPartlyGivenKeepsTheRest) {
  const Config config = load_valid(with_tail("auth:\n  failed_attempts: {cooldown: 1m}\n"));
  ASSERT_TRUE(config.auth->failed_attempts.has_value());
  EXPECT_EQ(config.auth->failed_attempts->limit, 20u);
  EXPECT_EQ(config.auth->failed_attempts->per, 1min);
  EXPECT_EQ(config.auth->failed_attempts->cooldown, 1min);
}

TEST(AuthLoaderValues, LeewayBoundaries) {
  const auto leeway = [](const std::string& value) {
    return load_valid(with_tail("auth: {leeway: " + value + "}")).auth->leeway;
  };
  EXPECT_EQ(leeway("0s"), 0s);
  EXPECT_EQ(leeway("5m"), 5min);
  EXPECT_EQ(leeway("300s"), 5min);
}

TEST(AuthLoaderValues, TokenCacheBoundaries) {
  const auto entries = [](const std::string& value) {
    return load_valid(with_tail("auth: {token_cache_entries: " + value + "}"))
        .auth->token_cache_entries;
  };
  EXPECT_EQ(entries("0"), 0u);  // disables the verified-token cache
  EXPECT_EQ(entries("10000000"), 10'000'000u);
}

TEST(AuthLoaderValues, JwksFetchGapsAtTheirFloor) {
  const Config config = load_valid(with_tail(R"(auth:
  issuers:
    demo:
      issuer: demo
      keys:
        - jwks_url: "https://[::1]:8443/jwks"
          refresh: 1s
          unknown_kid_refetch: 1000ms
          fetch_timeout: 1ms
)"));
  const AuthKey& key = config.auth->issuers.at(0).keys.at(0);
  EXPECT_EQ(key.refresh, 1s);
  EXPECT_EQ(key.unknown_kid_refetch, 1s);
  EXPECT_EQ(key.fetch_timeout, 1ms);
}

TEST(AuthLoaderValues, EveryRegisteredAlgorithm) {
  for (const char* alg : {"HS256", "HS384", "HS512"}) {
    const std::string yaml = std::string("auth: {issuers: {demo: {issuer: d, keys: [{alg: ") + alg +
                             ", secret_env: S}]}}}";
    EXPECT_EQ(load_valid(with_tail(yaml)).auth->issuers.at(0).keys.at(0).alg, alg);
  }
  for (const char* alg :
       {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}) {
    const std::string yaml = std::string("auth: {issuers: {demo: {issuer: d, keys: [{alg: ") + alg +
                             ", pem_file: k.pem}]}}}";
    EXPECT_EQ(load_valid(with_tail(yaml)).auth->issuers.at(0).keys.at(0).alg, alg);
  }
}

TEST(AuthLoaderValues, SecretEnvNames) {
  for (const char* name : {"A", "_SECRET", "bulwark_secret_2"}) {
    const std::string yaml = std::string(
                                 "auth: {issuers: {demo: {issuer: d, keys: [{alg: "
                                 "HS256, secret_env: ") +
                             name + "}]}}}";
    EXPECT_EQ(load_valid(with_tail(yaml)).auth->issuers.at(0).keys.at(0).secret_env, name);
  }
}

TEST(AuthLoaderValues, EmptyIssuersWithoutAuthRoutesIsFine) {
  const Config config = load_valid(with_tail("auth:\n  issuers: {}\n"));
  EXPECT_TRUE(config.auth->issuers.empty());
}

// --- Mistakes in the section ----------------------------------------------------------------

class AuthError : public ::testing::TestWithParam<ErrorCase> {};
TEST_P(AuthError, Reported) {
  testing::expect_single_error(GetParam());
}

// One issuer `demo` whose body is `body` (lines indented by six spaces), starting on line 4.
std::string issuer(const std::string& body) {
  return with_tail("auth:\n  issuers:\n    demo:\n" + body);
}

constexpr char kIss[] = "      issuer: https://demo.bulwark.local\n";
constexpr char kKeys[] = "      keys: [{alg: HS256, secret_env: S}]\n";

INSTANTIATE_TEST_SUITE_P(
    Loader, AuthError,
    ::testing::Values(
        ErrorCase{"UnknownKeyWithHint",
                  with_tail("auth:\n  leway: 30s\n"),
                  2,
                  "auth.leway",
                  {"unknown key 'leway'", "did you mean 'leeway'?"}},
        ErrorCase{"UnknownKeyListsAllowed",
                  with_tail("auth:\n  algorithms: [HS256]\n"),
                  2,
                  "auth.algorithms",
                  {"leeway, token_cache_entries, issuers, failed_attempts"}},
        ErrorCase{"SectionNotAMapping",
                  with_tail("auth: required\n"),
                  1,
                  "auth",
                  {"expected a mapping with the keys leeway", "got 'required'"}},
        ErrorCase{"LeewayTooLong",
                  with_tail("auth:\n  leeway: 6m\n"),
                  2,
                  "auth.leeway",
                  {"must be at most 5m", "clock skew"}},
        ErrorCase{"LeewayWithoutUnit",
                  with_tail("auth:\n  leeway: 30\n"),
                  2,
                  "auth.leeway",
                  {"expected a duration like 10s", "'30s'"}},
        ErrorCase{"TokenCacheTooLarge",
                  with_tail("auth:\n  token_cache_entries: 10000001\n"),
                  2,
                  "auth.token_cache_entries",
                  {"whole number from 0 to 10000000", "got '10000001'"}},
        ErrorCase{"TokenCacheNegative",
                  with_tail("auth:\n  token_cache_entries: -1\n"),
                  2,
                  "auth.token_cache_entries",
                  {"whole number from 0 to 10000000"}},
        ErrorCase{"IssuersNotAMapping",
                  with_tail("auth:\n  issuers: [demo]\n"),
                  2,
                  "auth.issuers",
                  {"expected a mapping of issuer names", "got a list"}},
        ErrorCase{"IssuerNameWithSpace",
                  with_tail("auth:\n  issuers:\n    my idp:\n" + std::string(kIss) + kKeys),
                  3,
                  "auth.issuers.my idp",
                  {"issuer names may hold only letters, digits, '_', '.' and '-'"}},
        ErrorCase{"IssuerMissing",
                  issuer(kKeys),
                  3,
                  "auth.issuers.demo.issuer",
                  {"missing", "exact \"iss\"", "issuer: https://idp.example.com"}},
        ErrorCase{"IssuerMisspelledIsNotAlsoMissing",
                  issuer("      isuer: https://demo.bulwark.local\n" + std::string(kKeys)),
                  4,
                  "auth.issuers.demo.isuer",
                  {"did you mean 'issuer'?"}},
        ErrorCase{"KeysMissing",
                  issuer(kIss),
                  3,
                  "auth.issuers.demo.keys",
                  {"missing", "keys: [{jwks_url:"}},
        ErrorCase{"IssuerEmptyString",
                  issuer("      issuer: \"\"\n" + std::string(kKeys)),
                  4,
                  "auth.issuers.demo.issuer",
                  {"got an empty string"}},
        ErrorCase{"IssuerGivenAList",
                  issuer("      issuer: [a, b]\n" + std::string(kKeys)),
                  4,
                  "auth.issuers.demo.issuer",
                  {"exact \"iss\"", "got a list"}},
        ErrorCase{"IssuerUnknownKeyWithHint",
                  issuer(std::string(kIss) + kKeys + "      audience: api\n"),
                  6,
                  "auth.issuers.demo.audience",
                  {"did you mean 'audiences'?"}},
        ErrorCase{"IssuerNotAMapping",
                  with_tail("auth:\n  issuers:\n    demo: https://demo.bulwark.local\n"),
                  3,
                  "auth.issuers.demo",
                  {"expected a mapping with the keys issuer, audiences, max_lifetime, "
                   "require_exp, keys"}},
        ErrorCase{"AudiencesEmptyList",
                  issuer(std::string(kIss) + kKeys + "      audiences: []\n"),
                  6,
                  "auth.issuers.demo.audiences",
                  {"empty list checks no audience", "leave audiences out"}},
        ErrorCase{"AudienceListedTwice",
                  issuer(std::string(kIss) + kKeys + "      audiences: [api, api]\n"),
                  6,
                  "auth.issuers.demo.audiences[1]",
                  {"'api' is listed twice"}},
        ErrorCase{"AudienceEmptyString",
                  issuer(std::string(kIss) + kKeys +
                         "      audiences:\n        - api\n"
                         "        - \"\"\n"),
                  8,
                  "auth.issuers.demo.audiences[1]",
                  {"expected an audience like api, got an empty string"}},
        ErrorCase{"MaxLifetimeZero",
                  issuer(std::string(kIss) + kKeys + "      max_lifetime: 0s\n"),
                  6,
                  "auth.issuers.demo.max_lifetime",
                  {"more than 0"}},
        ErrorCase{"RequireExpYes",
                  issuer(std::string(kIss) + kKeys + "      require_exp: yes\n"),
                  6,
                  "auth.issuers.demo.require_exp",
                  {"expected true or false, got 'yes'"}},
        ErrorCase{"RequireExpOffWithMaxLifetime",
                  issuer(std::string(kIss) + kKeys +
                         "      require_exp: false\n"
                         "      max_lifetime: 15m\n"),
                  6,
                  "auth.issuers.demo.require_exp",
                  {"max_lifetime needs exp", "remove one of them"}},
        ErrorCase{"KeysEmptyList",
                  issuer(std::string(kIss) + "      keys: []\n"),
                  5,
                  "auth.issuers.demo.keys",
                  {"at least one key is required"}},
        ErrorCase{"KeysNotAList",
                  issuer(std::string(kIss) + "      keys: {alg: HS256, secret_env: S}\n"),
                  5,
                  "auth.issuers.demo.keys",
                  {"expected a list like [{alg: HS256", "got a mapping"}},
        ErrorCase{"SameIssuerTwice",
                  issuer(std::string(kIss) + kKeys + "    other:\n" + kIss + kKeys),
                  7,
                  "auth.issuers.other.issuer",
                  {"issuer 'https://demo.bulwark.local' is also the issuer of 'demo' (line 4)",
                   "ambiguous", "under one issuer"}},
        ErrorCase{"IssuerNameSetTwice",
                  issuer(std::string(kIss) + kKeys + "    demo:\n" + kIss + kKeys),
                  6,
                  "auth.issuers.demo",
                  {"set twice", "first is at line 3"}},
        ErrorCase{"FailedAttemptsLimitNotARate",
                  with_tail("auth:\n  failed_attempts:\n    limit: 20\n"),
                  3,
                  "auth.failed_attempts.limit",
                  {"expected a rate like 20/m"}},
        ErrorCase{"FailedAttemptsLimitZero",
                  with_tail("auth:\n  failed_attempts:\n    limit: 0/m\n"),
                  3,
                  "auth.failed_attempts.limit",
                  {"at least 1"}},
        ErrorCase{"FailedAttemptsCooldownZero",
                  with_tail("auth:\n  failed_attempts:\n    cooldown: 0s\n"),
                  3,
                  "auth.failed_attempts.cooldown",
                  {"more than 0"}},
        ErrorCase{"FailedAttemptsFalseIsNotOff",
                  with_tail("auth:\n  failed_attempts: false\n"),
                  2,
                  "auth.failed_attempts",
                  {"expected off or a mapping with the keys limit, cooldown", "got 'false'"}},
        ErrorCase{"FailedAttemptsUnknownKey",
                  with_tail("auth:\n  failed_attempts:\n    rate: 20/m\n"),
                  3,
                  "auth.failed_attempts.rate",
                  {"the keys allowed here are limit, cooldown"}}),
    case_name<ErrorCase>);

// --- Mistakes in one entry of `keys` ----------------------------------------------------------

class KeyError : public ::testing::TestWithParam<ErrorCase> {};
TEST_P(KeyError, Reported) {
  testing::expect_single_error(GetParam());
}

// Issuer `demo` with the `keys` list `list` (lines indented by eight spaces), from line 6.
std::string keys(const std::string& list) {
  return issuer(std::string(kIss) + "      keys:\n" + list);
}

// One flow-style key entry, on line 6.
std::string key(const std::string& flow) {
  return keys("        - {" + flow + "}\n");
}

constexpr char kKey0[] = "auth.issuers.demo.keys[0]";

std::string at(const char* key) {
  return std::string(kKey0) + "." + key;
}

INSTANTIATE_TEST_SUITE_P(
    Loader, KeyError,
    ::testing::Values(
        ErrorCase{"NoSource",
                  key("alg: HS256"),
                  6,
                  kKey0,
                  {"missing: give one key source: secret_env, secret_file, pem_file, jwks_file "
                   "or jwks_url"}},
        ErrorCase{"NoSourceEmptyMapping", key(""), 6, kKey0, {"missing: give one key source"}},
        ErrorCase{"TwoSources",
                  key("alg: HS256, secret_env: S, secret_file: s.txt"),
                  6,
                  at("secret_file"),
                  {"secret_env and secret_file exclude each other", "one key source per entry"}},
        ErrorCase{"TwoSourcesNamedInFileOrder",
                  keys("        - jwks_url: https://idp.example.com/jwks\n"
                       "          alg: ES256\n"
                       "          pem_file: k.pem\n"),
                  8,
                  at("pem_file"),
                  {"jwks_url and pem_file exclude each other"}},
        ErrorCase{"AlgNone",
                  key("alg: none, secret_env: S"),
                  6,
                  at("alg"),
                  {"'none' means an unsigned token, which bulwark never accepts"}},
        ErrorCase{"AlgNoneAnyCase",
                  key("alg: NoNe, jwks_file: j.json"),
                  6,
                  at("alg"),
                  {"unsigned token"}},
        ErrorCase{"AlgLowerCase",
                  key("alg: hs256, secret_env: S"),
                  6,
                  at("alg"),
                  {"unknown algorithm 'hs256'", "did you mean 'HS256'?", "case-sensitive"}},
        ErrorCase{"AlgTransposedDigits",
                  key("alg: ES265, pem_file: k.pem"),
                  6,
                  at("alg"),
                  {"did you mean 'ES256'?"}},
        ErrorCase{"AlgUnknownListsNames",
                  key("alg: A256GCM, jwks_file: j.json"),
                  6,
                  at("alg"),
                  {"unknown algorithm 'A256GCM'",
                   "HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, "
                   "ES512, EdDSA"}},
        ErrorCase{"SecretWithoutAlg",
                  key("secret_env: S"),
                  6,
                  at("alg"),
                  {"missing: secret_env holds an HMAC secret", "alg: HS256"}},
        ErrorCase{"SecretFileWithoutAlg",
                  key("secret_file: s.txt"),
                  6,
                  at("alg"),
                  {"missing: secret_file holds an HMAC secret"}},
        ErrorCase{"PemWithoutAlg",
                  key("pem_file: k.pem"),
                  6,
                  at("alg"),
                  {"missing", "alg: ES256", "pins its algorithm"}},
        ErrorCase{"SecretWithRsaAlg",
                  key("alg: RS256, secret_env: S"),
                  6,
                  at("alg"),
                  {"secret_env holds an HMAC secret, which verifies HS256, HS384 or HS512 only",
                   "'RS256' public key use pem_file"}},
        ErrorCase{"SecretFileWithEcAlg",
                  keys("        - secret_file: s.txt\n          alg: ES256\n"),
                  7,
                  at("alg"),
                  {"secret_file holds an HMAC secret"}},
        ErrorCase{
            "PemWithHmacAlg",
            key("alg: HS384, pem_file: k.pem"),
            6,
            at("alg"),
            {"an HMAC secret is not a PEM", "'HS384' secrets with secret_env or secret_file"}},
        ErrorCase{"JwksUrlWithHmacAlg",
                  key("alg: HS256, jwks_url: https://idp.example.com/jwks"),
                  6,
                  at("alg"),
                  {"a secret fetched from a URL is no secret"}},
        ErrorCase{"KidWithJwksFile",
                  key("jwks_file: j.json, kid: k1"),
                  6,
                  at("kid"),
                  {"kid is only for secret_env, secret_file and pem_file entries",
                   "carry their own kids"}},
        ErrorCase{"KidWithJwksUrlOnItsLine",
                  keys("        - jwks_url: https://idp.example.com/jwks\n"
                       "          kid: k1\n"),
                  7,
                  at("kid"),
                  {"kid is only for"}},
        ErrorCase{"KidEmpty",
                  key("alg: ES256, pem_file: k.pem, kid: \"\""),
                  6,
                  at("kid"),
                  {"expected a key id like k1, got an empty string"}},
        ErrorCase{"RefreshWithoutJwksUrl",
                  key("jwks_file: j.json, refresh: 5m"),
                  6,
                  at("refresh"),
                  {"refresh applies only to jwks_url entries: remove it"}},
        ErrorCase{"UnknownKidRefetchWithPem",
                  key("alg: ES256, pem_file: k.pem, unknown_kid_refetch: 30s"),
                  6,
                  at("unknown_kid_refetch"),
                  {"unknown_kid_refetch applies only to jwks_url entries"}},
        ErrorCase{"FetchTimeoutWithSecret",
                  key("alg: HS256, secret_env: S, fetch_timeout: 5s"),
                  6,
                  at("fetch_timeout"),
                  {"fetch_timeout applies only to jwks_url entries"}},
        ErrorCase{"CaFileWithJwksFile",
                  key("jwks_file: j.json, ca_file: ca.pem"),
                  6,
                  at("ca_file"),
                  {"ca_file applies only to jwks_url entries"}},
        ErrorCase{"CaFileWithHttpUrl",
                  keys("        - jwks_url: http://idp.internal/jwks\n"
                       "          ca_file: ca.pem\n"),
                  7,
                  at("ca_file"),
                  {"ca_file applies only to https:// URLs"}},
        ErrorCase{"RefreshUnderOneSecond",
                  key("jwks_url: https://idp.example.com/jwks, refresh: 500ms"),
                  6,
                  at("refresh"),
                  {"must be at least 1s"}},
        ErrorCase{"UnknownKidRefetchZero",
                  key("jwks_url: https://idp.example.com/jwks, unknown_kid_refetch: 0s"),
                  6,
                  at("unknown_kid_refetch"),
                  {"must be at least 1s"}},
        ErrorCase{"FetchTimeoutZero",
                  key("jwks_url: https://idp.example.com/jwks, fetch_timeout: 0s"),
                  6,
                  at("fetch_timeout"),
                  {"more than 0"}},
        ErrorCase{"SecretEnvHoldsASecret",
                  key("alg: HS256, secret_env: \"hunter2-is-not-a-name!\""),
                  6,
                  at("secret_env"),
                  {"expected the name of an environment variable", "never goes in the file"}},
        ErrorCase{"SecretEnvWithDollar",
                  key("alg: HS256, secret_env: \"${BULWARK_SECRET}\""),
                  6,
                  at("secret_env"),
                  {"without '$': 'BULWARK_SECRET'"}},
        ErrorCase{"SecretEnvStartsWithDigit",
                  key("alg: HS256, secret_env: 1SECRET"),
                  6,
                  at("secret_env"),
                  {"not starting with a digit"}},
        ErrorCase{"SecretFileEmpty",
                  key("alg: HS256, secret_file: \"\""),
                  6,
                  at("secret_file"),
                  {"expected a file path, got an empty string"}},
        ErrorCase{"PemFileAList",
                  key("alg: ES256, pem_file: [a.pem]"),
                  6,
                  at("pem_file"),
                  {"expected a file path, got a list"}},
        ErrorCase{"JwksUrlWithoutScheme",
                  key("jwks_url: idp.example.com/jwks"),
                  6,
                  at("jwks_url"),
                  {"expected an absolute URL like https://"}},
        ErrorCase{"JwksUrlOtherScheme",
                  key("jwks_url: \"ftp://idp.example.com/jwks\""),
                  6,
                  at("jwks_url"),
                  {"the scheme must be https or http, not 'ftp'"}},
        ErrorCase{"JwksUrlWithoutHost",
                  key("jwks_url: \"https:///jwks\""),
                  6,
                  at("jwks_url"),
                  {"names no host"}},
        ErrorCase{"JwksUrlWithCredentials",
                  key("jwks_url: \"https://user:pw@idp.example.com/jwks\""),
                  6,
                  at("jwks_url"),
                  {"credentials in the URL"}},
        ErrorCase{"JwksUrlWithFragment",
                  key("jwks_url: \"https://idp.example.com/jwks#keys\""),
                  6,
                  at("jwks_url"),
                  {"remove the fragment"}},
        ErrorCase{"JwksUrlWithSpace",
                  key("jwks_url: \"https://idp.example.com/my jwks\""),
                  6,
                  at("jwks_url"),
                  {"expected an absolute URL"}},
        ErrorCase{"UnknownKeyWithHint",
                  key("jwks_uri: https://idp.example.com/jwks"),
                  6,
                  at("jwks_uri"),
                  {"did you mean 'jwks_url'?"}},
        ErrorCase{"EntryNotAMapping",
                  keys("        - HS256\n"),
                  6,
                  kKey0,
                  {"expected a mapping with the keys alg, kid, secret_env, secret_file, pem_file, "
                   "jwks_file, jwks_url"}},
        ErrorCase{"SecondEntryNamedByIndex",
                  keys("        - {alg: HS256, secret_env: S}\n"
                       "        - {alg: HS256}\n"),
                  7,
                  "auth.issuers.demo.keys[1]",
                  {"missing: give one key source"}}),
    case_name<ErrorCase>);

// The first source written is kept; each later one is named against it.
TEST(KeyErrors, ThreeSourcesGiveOneErrorPerExtraSource) {
  const LoadResult result = testing::load(key("jwks_file: j, jwks_url: https://a/j, pem_file: p"));
  ASSERT_EQ(result.errors.size(), 2u) << testing::all_errors(result);
  EXPECT_EQ(result.errors[0].line, 6u);
  EXPECT_EQ(result.errors[0].key, at("jwks_url"));
  EXPECT_THAT(result.errors[0].message, ::testing::HasSubstr("jwks_file and jwks_url exclude"));
  EXPECT_EQ(result.errors[1].key, at("pem_file"));
  EXPECT_THAT(result.errors[1].message, ::testing::HasSubstr("jwks_file and pem_file exclude"));
}

}  // namespace
}  // namespace bulwark::config
