#include "auth/authenticator.hpp"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include <chrono>
#include <initializer_list>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/jwk.hpp"
#include "auth/signing_key.hpp"
#include "auth_test_support.hpp"
#include "support/case_name.hpp"

namespace bulwark::auth {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using ::bulwark::testing_support::case_name;
using testing_support::b64;
using testing_support::key_material;
using testing_support::kNow;
using testing_support::now_plus;
using testing_support::raw_token;
using testing_support::unwrap;

constexpr std::string_view kIssAlpha = "https://alpha.example";
constexpr std::string_view kIssBeta = "https://beta.example";
constexpr std::string_view kIssGamma = "https://gamma.example";

// HS256 secrets: at least 32 bytes.
const std::string kSecretAlpha = "alpha-secret-0123456789abcdefghij";
const std::string kSecretBeta1 = "beta-secret-one-0123456789abcdefg";
const std::string kSecretBeta2 = "beta-secret-two-0123456789abcdefg";

// A valid claims set for `iss`: issued 10 s ago, living 5 minutes, audience "api".
std::string claims(std::string_view iss,
                   std::initializer_list<std::pair<std::string_view, json::value>> changes = {},
                   std::initializer_list<std::string_view> removed = {}) {
  json::object c{{"iss", iss},       {"aud", "api"},      {"sub", "alice"},
                 {"iat", kNow - 10}, {"exp", kNow + 300}, {"scope", "read"}};
  for (const auto& [name, value] : changes) c[name] = value;
  for (auto name : removed) c.erase(name);
  return json::serialize(c);
}

std::string header(std::string_view alg, std::optional<std::string_view> kid) {
  json::object h{{"alg", alg}, {"typ", "JWT"}};
  if (kid) h["kid"] = *kid;
  return json::serialize(h);
}

std::string hs256(std::string_view secret, const std::string& payload,
                  std::optional<std::string_view> kid = std::nullopt) {
  auto key = unwrap(SigningKey::from_hmac_secret(secret, Algorithm::HS256));
  return unwrap(sign_compact(header("HS256", kid), payload, key));
}

std::string signed_with(Algorithm alg, const std::string& payload,
                        std::optional<std::string_view> kid = std::nullopt) {
  auto key = unwrap(SigningKey::from_private_pem(key_material(alg).private_pem, alg));
  return unwrap(sign_compact(header(algorithm_name(alg), kid), payload, key));
}

VerificationKey hs_key(std::string_view secret, std::optional<std::string> kid = std::nullopt) {
  return unwrap(VerificationKey::from_hmac_secret(secret, Algorithm::HS256, std::move(kid)));
}

VerificationKey pem_key(Algorithm alg, std::optional<std::string> kid = std::nullopt) {
  return unwrap(
      VerificationKey::from_public_pem(key_material(alg).public_pem, alg, std::move(kid)));
}

Issuer issuer(std::string name, std::string_view iss, std::vector<VerificationKey> keys) {
  Issuer made;
  made.name = std::move(name);
  made.policy.issuer = std::string(iss);
  made.policy.audiences = {"api"};
  made.keys = std::move(keys);
  return made;
}

template <typename... Keys>
std::vector<VerificationKey> keys(Keys&&... k) {
  std::vector<VerificationKey> list;
  (list.push_back(std::forward<Keys>(k)), ...);
  return list;
}

// Index 0 "alpha": one HS256 secret without kid.
// Index 1 "beta":  HS256 "b1" and "b2", ES256 "b-es", RS256 "b-rsa".
// Index 2 "gamma": one RS256 key without kid.
std::vector<Issuer> three_issuers() {
  std::vector<Issuer> list;
  list.push_back(issuer("alpha", kIssAlpha, keys(hs_key(kSecretAlpha))));
  list.push_back(
      issuer("beta", kIssBeta,
             keys(hs_key(kSecretBeta1, "b1"), hs_key(kSecretBeta2, "b2"),
                  pem_key(Algorithm::ES256, "b-es"), pem_key(Algorithm::RS256, "b-rsa"))));
  list.push_back(issuer("gamma", kIssGamma, keys(pem_key(Algorithm::RS256))));
  return list;
}

constexpr IssuerMask kAlpha = 1u << 0;
constexpr IssuerMask kBeta = 1u << 1;
constexpr IssuerMask kGamma = 1u << 2;

// ---- one token, one verdict ----

struct VerdictCase {
  std::string_view name;
  std::string (*token)();
  IssuerMask allowed = kAllIssuers;
  std::optional<std::size_t> issuer;  // accepted by this issuer
  std::optional<AuthFailure> reason;  // or refused for this reason
};
void PrintTo(const VerdictCase& c, std::ostream* os) {
  *os << c.name;
}

class AuthenticatorVerdict : public testing::TestWithParam<VerdictCase> {};

TEST_P(AuthenticatorVerdict, Verdict) {
  const auto& c = GetParam();
  KeyGeneration generation;
  Authenticator authenticator(three_issuers(), generation, 1000);
  auto result = authenticator.authenticate(c.token(), c.allowed, now_plus(0));
  if (c.issuer) {
    ASSERT_TRUE(result.ok()) << reason_name(result.error().reason) << ": " << result.error().detail;
    EXPECT_EQ(result->issuer, *c.issuer);
    EXPECT_FALSE(result->cached);
    EXPECT_EQ(result->claims->issuer, authenticator.issuers()[*c.issuer].name);
  } else {
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().reason, *c.reason) << result.error().detail;
    EXPECT_FALSE(result.error().detail.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(
    IssPicksTheIssuer, AuthenticatorVerdict,
    testing::Values(
        VerdictCase{"Alpha", +[] { return hs256(kSecretAlpha, claims(kIssAlpha)); }, kAllIssuers,
                    0},
        VerdictCase{"AlphaOnlyAllowed", +[] { return hs256(kSecretAlpha, claims(kIssAlpha)); },
                    kAlpha, 0},
        VerdictCase{"AlphaNotAllowed", +[] { return hs256(kSecretAlpha, claims(kIssAlpha)); },
                    kBeta | kGamma, std::nullopt, AuthFailure::issuer_mismatch},
        VerdictCase{"NoIssuerAllowed", +[] { return hs256(kSecretAlpha, claims(kIssAlpha)); }, 0,
                    std::nullopt, AuthFailure::issuer_mismatch},
        VerdictCase{"UnknownIss",
                    +[] { return hs256(kSecretAlpha, claims("https://evil.example")); },
                    kAllIssuers, std::nullopt, AuthFailure::issuer_mismatch},
        VerdictCase{"IssDiffersInCase",
                    +[] { return hs256(kSecretAlpha, claims("https://ALPHA.example")); },
                    kAllIssuers, std::nullopt, AuthFailure::issuer_mismatch},
        VerdictCase{"IssWithTrailingSlash",
                    +[] { return hs256(kSecretAlpha, claims("https://alpha.example/")); },
                    kAllIssuers, std::nullopt, AuthFailure::issuer_mismatch},
        VerdictCase{"IssMissing",
                    +[] { return hs256(kSecretAlpha, claims(kIssAlpha, {}, {"iss"})); },
                    kAllIssuers, std::nullopt, AuthFailure::missing_claim},
        VerdictCase{"IssNumber",
                    +[] {
                      return hs256(kSecretAlpha, claims(kIssAlpha, {{"iss", 7}}));
                    },
                    kAllIssuers, std::nullopt, AuthFailure::invalid_claim},
        VerdictCase{
            "IssArray",
            +[] {
              return hs256(kSecretAlpha, claims(kIssAlpha, {{"iss", json::array{kIssAlpha}}}));
            },
            kAllIssuers, std::nullopt, AuthFailure::invalid_claim},
        VerdictCase{"IssNull",
                    +[] {
                      return hs256(kSecretAlpha, claims(kIssAlpha, {{"iss", nullptr}}));
                    },
                    kAllIssuers, std::nullopt, AuthFailure::invalid_claim}),
    case_name<VerdictCase>);

INSTANTIATE_TEST_SUITE_P(
    OnlyThatIssuersKeys, AuthenticatorVerdict,
    testing::Values(
        // Each issuer's secret verifies only its own tokens.
        VerdictCase{"AlphaSignedWithBetaSecret",
                    +[] { return hs256(kSecretBeta1, claims(kIssAlpha)); }, kAllIssuers,
                    std::nullopt, AuthFailure::bad_signature},
        VerdictCase{"BetaSignedWithAlphaSecret",
                    +[] { return hs256(kSecretAlpha, claims(kIssBeta), "b1"); }, kAllIssuers,
                    std::nullopt, AuthFailure::bad_signature},
        VerdictCase{"BetaWithoutKidSignedWithAlphaSecret",
                    +[] { return hs256(kSecretAlpha, claims(kIssBeta)); }, kAllIssuers,
                    std::nullopt, AuthFailure::bad_signature},
        VerdictCase{"GammaHasNoEcKey",
                    +[] { return signed_with(Algorithm::ES256, claims(kIssGamma)); }, kAllIssuers,
                    std::nullopt, AuthFailure::unknown_key},
        VerdictCase{"GammaRs256", +[] { return signed_with(Algorithm::RS256, claims(kIssGamma)); },
                    kAllIssuers, 2},
        VerdictCase{"BetaEs256",
                    +[] { return signed_with(Algorithm::ES256, claims(kIssBeta), "b-es"); }, kBeta,
                    1}),
    case_name<VerdictCase>);

INSTANTIATE_TEST_SUITE_P(
    KidSelectsKeys, AuthenticatorVerdict,
    testing::Values(
        VerdictCase{"KidB1", +[] { return hs256(kSecretBeta1, claims(kIssBeta), "b1"); },
                    kAllIssuers, 1},
        VerdictCase{"KidB2", +[] { return hs256(kSecretBeta2, claims(kIssBeta), "b2"); },
                    kAllIssuers, 1},
        // b2's secret would verify it, but the kid names b1: b2 is never tried.
        VerdictCase{"KidB1SignedWithB2Secret",
                    +[] { return hs256(kSecretBeta2, claims(kIssBeta), "b1"); }, kAllIssuers,
                    std::nullopt, AuthFailure::bad_signature},
        VerdictCase{"UnknownKid", +[] { return hs256(kSecretBeta1, claims(kIssBeta), "b9"); },
                    kAllIssuers, std::nullopt, AuthFailure::unknown_key},
        VerdictCase{"KidDiffersInCase", +[] { return hs256(kSecretBeta1, claims(kIssBeta), "B1"); },
                    kAllIssuers, std::nullopt, AuthFailure::unknown_key},
        VerdictCase{"KidEmpty", +[] { return hs256(kSecretBeta1, claims(kIssBeta), ""); },
                    kAllIssuers, std::nullopt, AuthFailure::unknown_key},
        // Without a kid every key of the issuer for the alg may be tried.
        VerdictCase{"NoKidTriesEveryKey", +[] { return hs256(kSecretBeta2, claims(kIssBeta)); },
                    kAllIssuers, 1},
        // A key without a kid is tried whatever kid the token names.
        VerdictCase{"KeyWithoutKidTriedForAnyKid",
                    +[] { return hs256(kSecretAlpha, claims(kIssAlpha), "anything"); }, kAllIssuers,
                    0},
        VerdictCase{"KidOfAnotherIssuer",
                    +[] { return hs256(kSecretBeta1, claims(kIssAlpha), "b1"); }, kAllIssuers,
                    std::nullopt, AuthFailure::bad_signature}),
    case_name<VerdictCase>);

INSTANTIATE_TEST_SUITE_P(
    AlgPinned, AuthenticatorVerdict,
    testing::Values(
        VerdictCase{"KidOfEcKeyWithHs256",
                    +[] { return hs256(kSecretBeta1, claims(kIssBeta), "b-es"); }, kAllIssuers,
                    std::nullopt, AuthFailure::alg_mismatch},
        VerdictCase{"KidOfEcKeyWithEs384",
                    +[] { return signed_with(Algorithm::ES384, claims(kIssBeta), "b-es"); },
                    kAllIssuers, std::nullopt, AuthFailure::alg_mismatch},
        VerdictCase{"KidOfRsaKeyWithPs256",
                    +[] { return signed_with(Algorithm::PS256, claims(kIssBeta), "b-rsa"); },
                    kAllIssuers, std::nullopt, AuthFailure::alg_mismatch},
        VerdictCase{"NoKeyForTheAlg",
                    +[] { return signed_with(Algorithm::EdDSA, claims(kIssBeta)); }, kAllIssuers,
                    std::nullopt, AuthFailure::unknown_key},
        VerdictCase{"AlgNone",
                    +[] { return b64(R"({"alg":"none"})") + "." + b64(claims(kIssAlpha)) + "."; },
                    kAllIssuers, std::nullopt, AuthFailure::unsupported_alg},
        VerdictCase{"AlgNoneWithSignature",
                    +[] {
                      return b64(R"({"alg":"none"})") + "." + b64(claims(kIssAlpha)) + "." +
                             b64("x");
                    },
                    kAllIssuers, std::nullopt, AuthFailure::unsupported_alg}),
    case_name<VerdictCase>);

// Algorithm confusion: the RS256 public key's PEM text is public, so a forger can use it as an
// HMAC secret. The key pins RS256: the HS256 token must never verify.
std::string hs256_with_rsa_public_pem(std::optional<std::string_view> kid, std::string_view iss) {
  return hs256(key_material(Algorithm::RS256).public_pem, claims(iss), kid);
}

INSTANTIATE_TEST_SUITE_P(
    AlgorithmConfusion, AuthenticatorVerdict,
    testing::Values(VerdictCase{"PublicPemAsSecretNoKid",
                                +[] { return hs256_with_rsa_public_pem(std::nullopt, kIssGamma); },
                                kAllIssuers, std::nullopt, AuthFailure::unknown_key},
                    VerdictCase{"PublicPemAsSecretWithKid",
                                +[] { return hs256_with_rsa_public_pem("b-rsa", kIssBeta); },
                                kAllIssuers, std::nullopt, AuthFailure::alg_mismatch}),
    case_name<VerdictCase>);

INSTANTIATE_TEST_SUITE_P(
    ClaimsPolicy, AuthenticatorVerdict,
    testing::Values(
        VerdictCase{"Expired",
                    +[] {
                      return hs256(kSecretAlpha,
                                   claims(kIssAlpha, {{"iat", kNow - 600}, {"exp", kNow - 300}}));
                    },
                    kAllIssuers, std::nullopt, AuthFailure::expired},
        VerdictCase{"NotYetValid",
                    +[] {
                      return hs256(kSecretAlpha, claims(kIssAlpha, {{"nbf", kNow + 120}}));
                    },
                    kAllIssuers, std::nullopt, AuthFailure::not_yet_valid},
        VerdictCase{"WrongAudience",
                    +[] {
                      return hs256(kSecretAlpha, claims(kIssAlpha, {{"aud", "other"}}));
                    },
                    kAllIssuers, std::nullopt, AuthFailure::audience_mismatch},
        VerdictCase{"NoExp", +[] { return hs256(kSecretAlpha, claims(kIssAlpha, {}, {"exp"})); },
                    kAllIssuers, std::nullopt, AuthFailure::missing_claim},
        VerdictCase{"ExpiredAndBadSignatureIsBadSignature",
                    +[] {
                      return hs256(kSecretBeta1, claims(kIssAlpha, {{"exp", kNow - 300}}));
                    },
                    kAllIssuers, std::nullopt, AuthFailure::bad_signature}),
    case_name<VerdictCase>);

INSTANTIATE_TEST_SUITE_P(
    Malformed, AuthenticatorVerdict,
    testing::Values(
        VerdictCase{"NotAToken", +[] { return std::string("not-a-token"); }, kAllIssuers,
                    std::nullopt, AuthFailure::malformed},
        VerdictCase{"Empty", +[] { return std::string(); }, kAllIssuers, std::nullopt,
                    AuthFailure::malformed},
        VerdictCase{"PayloadNotJson",
                    +[] {
                      auto key =
                          unwrap(SigningKey::from_hmac_secret(kSecretAlpha, Algorithm::HS256));
                      return raw_token(R"({"alg":"HS256"})", "not json", key);
                    },
                    kAllIssuers, std::nullopt, AuthFailure::malformed},
        VerdictCase{
            "PayloadDuplicateIss",
            +[] {
              auto key = unwrap(SigningKey::from_hmac_secret(kSecretAlpha, Algorithm::HS256));
              return raw_token(
                  R"({"alg":"HS256"})",
                  R"({"iss":"https://evil.example","iss":"https://alpha.example","exp":1700000300,"aud":"api"})",
                  key);
            },
            kAllIssuers, std::nullopt, AuthFailure::malformed},
        VerdictCase{"Jwe", +[] { return std::string("a.b.c.d.e"); }, kAllIssuers, std::nullopt,
                    AuthFailure::encrypted_token}),
    case_name<VerdictCase>);

// ---- the verified-token cache ----

class AuthenticatorCache : public testing::Test {
 protected:
  std::unique_ptr<Authenticator> make(std::size_t cache_entries = 1000) {
    return std::make_unique<Authenticator>(three_issuers(), generation_, cache_entries);
  }
  KeyGeneration generation_;
};

TEST_F(AuthenticatorCache, SecondCallIsCached) {
  auto authenticator = make();
  const std::string token = hs256(kSecretAlpha, claims(kIssAlpha));
  auto first = authenticator->authenticate(token, kAllIssuers, now_plus(0));
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->cached);
  auto second = authenticator->authenticate(token, kAllIssuers, now_plus(5));
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->cached);
  EXPECT_EQ(second->issuer, 0u);
  EXPECT_EQ(second->claims, first->claims) << "the same verified claims object";
  EXPECT_EQ(second->claims->claims.at("sub").as_string(), "alice");
  EXPECT_EQ(second->claims->issuer, "alpha");
  const auto stats = authenticator->cache_stats();
  EXPECT_EQ(stats.hits, 1u);
  EXPECT_EQ(stats.misses, 1u);
  EXPECT_EQ(stats.inserts, 1u);
}

TEST_F(AuthenticatorCache, RefusedTokensAreNotCached) {
  auto authenticator = make();
  const std::string token = hs256(kSecretBeta1, claims(kIssAlpha));
  for (int i = 0; i < 2; ++i) {
    auto result = authenticator->authenticate(token, kAllIssuers, now_plus(0));
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().reason, AuthFailure::bad_signature);
  }
  EXPECT_EQ(authenticator->cache_stats().inserts, 0u);
  EXPECT_EQ(authenticator->cache_stats().hits, 0u);
}

TEST_F(AuthenticatorCache, CachedTokenOnARouteExcludingItsIssuer) {
  auto authenticator = make();
  const std::string token = hs256(kSecretAlpha, claims(kIssAlpha));
  ASSERT_TRUE(authenticator->authenticate(token, kAllIssuers, now_plus(0)).ok());
  TokenFacts facts;
  auto result = authenticator->authenticate(token, kBeta | kGamma, now_plus(1), &facts);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().reason, AuthFailure::issuer_mismatch);
  EXPECT_EQ(facts.iss, std::string(kIssAlpha));
  // Still served to a route that accepts it.
  auto again = authenticator->authenticate(token, kAlpha, now_plus(2));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->cached);
}

TEST_F(AuthenticatorCache, KeyGenerationBumpVerifiesAgain) {
  auto authenticator = make();
  const std::string token = hs256(kSecretAlpha, claims(kIssAlpha));
  ASSERT_TRUE(authenticator->authenticate(token, kAllIssuers, now_plus(0)).ok());
  generation_.bump();
  auto after_bump = authenticator->authenticate(token, kAllIssuers, now_plus(1));
  ASSERT_TRUE(after_bump.ok());
  EXPECT_FALSE(after_bump->cached);
  auto then = authenticator->authenticate(token, kAllIssuers, now_plus(2));
  ASSERT_TRUE(then.ok());
  EXPECT_TRUE(then->cached);
}

TEST_F(AuthenticatorCache, ZeroEntriesNeverCaches) {
  auto authenticator = make(0);
  const std::string token = hs256(kSecretAlpha, claims(kIssAlpha));
  for (int i = 0; i < 3; ++i) {
    auto result = authenticator->authenticate(token, kAllIssuers, now_plus(i));
    ASSERT_TRUE(result.ok());
    EXPECT_FALSE(result->cached) << "call " << i + 1;
  }
  EXPECT_EQ(authenticator->cache_stats().hits, 0u);
  EXPECT_EQ(authenticator->cache_stats().inserts, 0u);
}

TEST_F(AuthenticatorCache, NotServedPastExp) {
  auto authenticator = make();
  const std::string token = hs256(kSecretAlpha, claims(kIssAlpha));  // exp = now + 300
  ASSERT_TRUE(authenticator->authenticate(token, kAllIssuers, now_plus(0)).ok());
  // Inside the leeway: valid, but verified again rather than served from the cache.
  auto in_leeway = authenticator->authenticate(token, kAllIssuers, now_plus(310));
  ASSERT_TRUE(in_leeway.ok());
  EXPECT_FALSE(in_leeway->cached);
  auto past = authenticator->authenticate(token, kAllIssuers, now_plus(330));
  ASSERT_FALSE(past.ok());
  EXPECT_EQ(past.error().reason, AuthFailure::expired);
}

TEST_F(AuthenticatorCache, TokenWithoutExpNotCached) {
  std::vector<Issuer> list;
  list.push_back(issuer("alpha", kIssAlpha, keys(hs_key(kSecretAlpha))));
  list[0].policy.require_exp = false;
  Authenticator authenticator(std::move(list), generation_, 1000);
  const std::string token = hs256(kSecretAlpha, claims(kIssAlpha, {}, {"exp"}));
  for (int i = 0; i < 2; ++i) {
    auto result = authenticator.authenticate(token, kAllIssuers, now_plus(i));
    ASSERT_TRUE(result.ok());
    EXPECT_FALSE(result->cached);
  }
}

// ---- remote key sets ----

std::string jwks_document(std::initializer_list<std::string> kids) {
  json::array list;
  for (const auto& kid : kids) list.push_back(*public_jwk(pem_key(Algorithm::ES256, kid)));
  return json::serialize(json::object{{"keys", list}});
}

void install(RemoteKeySet& set, const std::string& document) {
  set.install(std::make_shared<const JwkSet>(unwrap(key_set_from_jwks_json(document))), document);
}

class AuthenticatorRemote : public testing::Test {
 protected:
  void SetUp() override {
    remote_ = std::make_shared<RemoteKeySet>(
        RemoteKeySet::Options{.url = "https://idp.example/jwks",
                              .alg = Algorithm::ES256,
                              .unknown_kid_refetch = std::chrono::hours(1)},
        generation_);
    std::vector<Issuer> list;
    list.push_back(issuer("alpha", kIssAlpha, keys(hs_key(kSecretAlpha))));
    Issuer idp = issuer("idp", kIssBeta, {});
    idp.remote_keys.push_back(remote_);
    list.push_back(std::move(idp));
    authenticator_ = std::make_unique<Authenticator>(std::move(list), generation_, 1000);
  }

  Result<Authenticated> authenticate(const std::string& token, int64_t at = 0) {
    return authenticator_->authenticate(token, kAllIssuers, now_plus(at));
  }

  KeyGeneration generation_;
  std::shared_ptr<RemoteKeySet> remote_;
  std::unique_ptr<Authenticator> authenticator_;
};

TEST_F(AuthenticatorRemote, BeforeTheFirstSetUnknownKeyAndRefetch) {
  auto result = authenticate(signed_with(Algorithm::ES256, claims(kIssBeta), "r1"));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().reason, AuthFailure::unknown_key);
  EXPECT_TRUE(remote_->take_refetch_request());
  EXPECT_FALSE(remote_->take_refetch_request());
}

TEST_F(AuthenticatorRemote, InstalledSetVerifies) {
  install(*remote_, jwks_document({"r1"}));
  auto result = authenticate(signed_with(Algorithm::ES256, claims(kIssBeta), "r1"));
  ASSERT_TRUE(result.ok()) << result.error().detail;
  EXPECT_EQ(result->issuer, 1u);
  EXPECT_EQ(result->claims->issuer, "idp");
  EXPECT_FALSE(remote_->take_refetch_request()) << "a known kid asks for nothing";
}

TEST_F(AuthenticatorRemote, UnknownKidAsksForOneRefetchThenRateLimited) {
  install(*remote_, jwks_document({"r1"}));
  auto first = authenticate(signed_with(Algorithm::ES256, claims(kIssBeta), "r2"));
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().reason, AuthFailure::unknown_key);
  EXPECT_TRUE(remote_->take_refetch_request());
  // Within unknown_kid_refetch (1 h here) another unknown kid schedules nothing.
  auto second = authenticate(signed_with(Algorithm::ES256, claims(kIssBeta), "r3"));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().reason, AuthFailure::unknown_key);
  EXPECT_FALSE(remote_->take_refetch_request());
}

TEST_F(AuthenticatorRemote, KnownKidWithBadSignatureAsksForNothing) {
  install(*remote_, jwks_document({"r1"}));
  // Signed by the EC key, but claims changed after signing.
  std::string token = signed_with(Algorithm::ES256, claims(kIssBeta), "r1");
  const auto first_dot = token.find('.');
  const auto second_dot = token.find('.', first_dot + 1);
  token.replace(first_dot + 1, second_dot - first_dot - 1,
                b64(claims(kIssBeta, {{"sub", "mallory"}})));
  auto result = authenticate(token);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().reason, AuthFailure::bad_signature);
  EXPECT_FALSE(remote_->take_refetch_request());
}

TEST_F(AuthenticatorRemote, OtherIssuersUnknownKidAsksForNothing) {
  install(*remote_, jwks_document({"r1"}));
  auto result = authenticate(hs256(kSecretAlpha, claims(kIssAlpha), "r9"));
  ASSERT_TRUE(result.ok()) << "alpha's key has no kid, so any kid is tried";
  auto refused = authenticate(signed_with(Algorithm::ES256, claims(kIssAlpha), "r9"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().reason, AuthFailure::unknown_key);
  EXPECT_FALSE(remote_->take_refetch_request()) << "alpha has no remote set";
}

TEST_F(AuthenticatorRemote, ChangedDocumentVerifiesAgain) {
  const std::string first = jwks_document({"r1"});
  install(*remote_, first);
  const std::string token = signed_with(Algorithm::ES256, claims(kIssBeta), "r1");
  ASSERT_FALSE(authenticate(token)->cached);
  ASSERT_TRUE(authenticate(token, 1)->cached);
  // A refresh that brings the same document keeps the cache.
  install(*remote_, first);
  auto same = authenticate(token, 2);
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(same->cached);
  // A changed document makes the next call verify again.
  install(*remote_, jwks_document({"r1", "r2"}));
  auto changed = authenticate(token, 3);
  ASSERT_TRUE(changed.ok());
  EXPECT_FALSE(changed->cached);
}

TEST_F(AuthenticatorRemote, KeyDroppedFromTheSetRefusesCachedToken) {
  install(*remote_, jwks_document({"r1"}));
  const std::string token = signed_with(Algorithm::ES256, claims(kIssBeta), "r1");
  ASSERT_TRUE(authenticate(token).ok());
  install(*remote_, jwks_document({"r2"}));
  auto result = authenticate(token, 1);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().reason, AuthFailure::unknown_key);
}

TEST_F(AuthenticatorRemote, FailedFetchKeepsVerifying) {
  install(*remote_, jwks_document({"r1"}));
  remote_->record_failure("HTTP 500");
  auto result = authenticate(signed_with(Algorithm::ES256, claims(kIssBeta), "r1"));
  EXPECT_TRUE(result.ok());
}

// ---- verify_signature_only ----

TEST(AuthenticatorSignatureOnly, ExpiredTokenPayloadReturnedAsSent) {
  KeyGeneration generation;
  Authenticator authenticator(three_issuers(), generation, 1000);
  const std::string payload = claims(kIssAlpha, {{"iat", kNow - 9000}, {"exp", kNow - 8000}});
  auto result = authenticator.verify_signature_only(hs256(kSecretAlpha, payload), kAllIssuers);
  ASSERT_TRUE(result.ok()) << result.error().detail;
  EXPECT_EQ(*result, payload);
  EXPECT_EQ(authenticator.cache_stats().inserts, 0u);
}

TEST(AuthenticatorSignatureOnly, BadSignatureRefused) {
  KeyGeneration generation;
  Authenticator authenticator(three_issuers(), generation, 1000);
  auto result =
      authenticator.verify_signature_only(hs256(kSecretBeta1, claims(kIssAlpha)), kAllIssuers);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().reason, AuthFailure::bad_signature);
}

TEST(AuthenticatorSignatureOnly, IssuerStillPicksTheKeys) {
  KeyGeneration generation;
  Authenticator authenticator(three_issuers(), generation, 1000);
  const std::string token = hs256(kSecretAlpha, claims(kIssAlpha));
  auto refused = authenticator.verify_signature_only(token, kBeta);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().reason, AuthFailure::issuer_mismatch);
  auto missing_iss = authenticator.verify_signature_only(
      hs256(kSecretAlpha, claims(kIssAlpha, {}, {"iss"})), kAllIssuers);
  ASSERT_FALSE(missing_iss.ok());
  EXPECT_EQ(missing_iss.error().reason, AuthFailure::missing_claim);
}

// ---- TokenFacts ----

TEST(AuthenticatorFacts, FilledForARefusedToken) {
  KeyGeneration generation;
  Authenticator authenticator(three_issuers(), generation, 1000);
  TokenFacts facts;
  auto result = authenticator.authenticate(hs256(kSecretBeta2, claims(kIssBeta), "b1"), kAllIssuers,
                                           now_plus(0), &facts);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(facts.alg, "HS256");
  EXPECT_EQ(facts.kid, "b1");
  EXPECT_EQ(facts.iss, std::string(kIssBeta));
}

TEST(AuthenticatorFacts, CutTo128Bytes) {
  KeyGeneration generation;
  Authenticator authenticator(three_issuers(), generation, 1000);
  const std::string long_kid(300, 'k');
  const std::string long_iss = "https://" + std::string(300, 'i');
  TokenFacts facts;
  auto result = authenticator.authenticate(hs256(kSecretAlpha, claims(long_iss), long_kid),
                                           kAllIssuers, now_plus(0), &facts);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().reason, AuthFailure::issuer_mismatch);
  EXPECT_EQ(facts.kid, long_kid.substr(0, 128));
  EXPECT_EQ(facts.iss, long_iss.substr(0, 128));
  EXPECT_EQ(facts.alg, "HS256");
}

TEST(AuthenticatorFacts, NoKidNoIss) {
  KeyGeneration generation;
  Authenticator authenticator(three_issuers(), generation, 1000);
  TokenFacts facts;
  auto result = authenticator.authenticate(hs256(kSecretAlpha, claims(kIssAlpha, {}, {"iss"})),
                                           kAllIssuers, now_plus(0), &facts);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(facts.alg, "HS256");
  EXPECT_EQ(facts.kid, std::nullopt);
  EXPECT_EQ(facts.iss, std::nullopt);
}

TEST(AuthenticatorFacts, NothingForAnUnparsableToken) {
  KeyGeneration generation;
  Authenticator authenticator(three_issuers(), generation, 1000);
  TokenFacts facts;
  auto result = authenticator.authenticate("abc.def", kAllIssuers, now_plus(0), &facts);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(facts.alg, std::nullopt);
  EXPECT_EQ(facts.kid, std::nullopt);
  EXPECT_EQ(facts.iss, std::nullopt);
}

TEST(AuthenticatorFacts, IssNotFilledWhenNotAString) {
  KeyGeneration generation;
  Authenticator authenticator(three_issuers(), generation, 1000);
  TokenFacts facts;
  auto result = authenticator.authenticate(hs256(kSecretAlpha, claims(kIssAlpha, {{"iss", 5}})),
                                           kAllIssuers, now_plus(0), &facts);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(facts.iss, std::nullopt);
}

// ---- issuers ----

TEST(AuthenticatorIssuers, IndexByName) {
  KeyGeneration generation;
  Authenticator authenticator(three_issuers(), generation, 1000);
  EXPECT_EQ(authenticator.issuer_index("alpha"), 0u);
  EXPECT_EQ(authenticator.issuer_index("beta"), 1u);
  EXPECT_EQ(authenticator.issuer_index("gamma"), 2u);
  EXPECT_EQ(authenticator.issuer_index("Alpha"), std::nullopt);
  EXPECT_EQ(authenticator.issuer_index(""), std::nullopt);
  EXPECT_EQ(authenticator.issuers().size(), 3u);
}

TEST(AuthenticatorIssuers, AtMost64) {
  std::vector<Issuer> list;
  for (int i = 0; i < 70; ++i) {
    const std::string n = std::to_string(i);
    std::string iss = "https://i";
    iss.append(n).append(".example");
    list.push_back(issuer("i" + n, iss, keys(hs_key(kSecretAlpha))));
  }
  KeyGeneration generation;
  Authenticator authenticator(std::move(list), generation, 1000);
  EXPECT_EQ(authenticator.issuers().size(), kMaxIssuers);
  EXPECT_EQ(authenticator.issuer_index("i63"), 63u);
  EXPECT_EQ(authenticator.issuer_index("i64"), std::nullopt);
  auto last = authenticator.authenticate(hs256(kSecretAlpha, claims("https://i63.example")),
                                         IssuerMask{1} << 63, now_plus(0));
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->issuer, 63u);
}

}  // namespace
}  // namespace bulwark::auth
