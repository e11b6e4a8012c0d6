// sign_compact then parse_compact + verify_signature + validate_claims, for every algorithm,
// with keys generated in the test; and what sign_compact refuses to mint.

#include "auth/signing_key.hpp"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "auth/claims.hpp"
#include "auth/jwk.hpp"
#include "auth/jws.hpp"
#include "auth_test_support.hpp"

namespace bulwark::auth {
namespace {

using namespace testing_support;

std::string header_for(Algorithm alg, std::string_view kid = "key-1") {
  return R"({"alg":")" + std::string(algorithm_name(alg)) + R"(","typ":"JWT","kid":")" +
         std::string(kid) + R"("})";
}

std::string claims_json() {
  return R"({"iss":"https://issuer.example","sub":"alice","aud":"api","iat":)" +
         std::to_string(kNow) + R"(,"exp":)" + std::to_string(kNow + 600) + "}";
}

std::size_t signature_bytes(Algorithm alg) {
  switch (algorithm_family(alg)) {
    case AlgorithmFamily::hmac:
      return hash_size_bytes(alg);
    case AlgorithmFamily::rsa_pkcs1:
    case AlgorithmFamily::rsa_pss:
      return 256;  // 2048-bit test keys
    case AlgorithmFamily::ecdsa:
      return ecdsa_signature_bytes(alg);
    case AlgorithmFamily::eddsa:
      return 64;
  }
  return 0;
}

class RoundTrip : public testing::TestWithParam<Algorithm> {
 protected:
  Algorithm alg() const { return GetParam(); }
  const KeyMaterial& material() const { return key_material(alg()); }
  std::string mint() const {
    return unwrap(sign_compact(header_for(alg()), claims_json(), signing_key(material(), alg())));
  }
};

TEST_P(RoundTrip, SignedTokenParsesVerifiesAndItsClaimsPass) {
  const std::string token = mint();
  auto jws = parse_compact(token);
  ASSERT_TRUE(jws.ok()) << jws.error().detail;
  EXPECT_EQ(jws->header.alg, alg());
  EXPECT_EQ(jws->header.kid, "key-1");
  EXPECT_EQ(jws->header.typ, "JWT");
  EXPECT_EQ(jws->signature.size(), signature_bytes(alg()));
  auto verified = verify_signature(*jws, verification_key(material(), alg()));
  ASSERT_TRUE(verified.ok()) << verified.error().detail;

  ClaimsPolicy policy;
  policy.issuer = "https://issuer.example";
  policy.audiences = {"api"};
  policy.max_lifetime = std::chrono::minutes(15);
  auto claims = validate_claims(jws->payload, policy, now_plus(60));
  ASSERT_TRUE(claims.ok()) << claims.error().detail;
  EXPECT_EQ(claims->claims.at("sub").as_string(), "alice");
}

TEST_P(RoundTrip, VerifiesWithTheSigningKeysOwnVerificationKey) {
  const SigningKey signer = signing_key(material(), alg());
  const std::string token = unwrap(sign_compact(header_for(alg()), claims_json(), signer));
  const VerificationKey derived = unwrap(signer.verification_key());
  EXPECT_EQ(derived.algorithm(), alg());
  EXPECT_TRUE(verify_signature(unwrap(parse_compact(token)), derived).ok());
}

// HMAC secrets are never exported; every public key round-trips through its JWK.
TEST_P(RoundTrip, VerifiesThroughThePublicJwkUnlessHmac) {
  const SigningKey signer = signing_key(material(), alg());
  const auto jwk = public_jwk(unwrap(signer.verification_key()));
  if (algorithm_family(alg()) == AlgorithmFamily::hmac) {
    EXPECT_FALSE(jwk.has_value());
    return;
  }
  ASSERT_TRUE(jwk.has_value());
  const VerificationKey from_jwk = unwrap(key_from_jwk_json(boost::json::serialize(*jwk)));
  EXPECT_EQ(from_jwk.algorithm(), alg());
  EXPECT_TRUE(verify_signature(unwrap(parse_compact(mint())), from_jwk).ok());
}

TEST_P(RoundTrip, AnotherKeyOfTheSameAlgorithmRefuses) {
  const VerificationKey other = verification_key(fresh_key_material(alg()), alg());
  auto verified = verify_signature(unwrap(parse_compact(mint())), other);
  ASSERT_FALSE(verified.ok());
  EXPECT_EQ(verified.error().reason, AuthFailure::bad_signature);
}

TEST_P(RoundTrip, ChangedPayloadRefuses) {
  const std::string token = mint();
  const std::size_t first_dot = token.find('.');
  const std::size_t second_dot = token.find('.', first_dot + 1);
  const std::string forged = token.substr(0, first_dot + 1) +
                             b64(R"({"sub":"admin","exp":)" + std::to_string(kNow + 600) + "}") +
                             token.substr(second_dot);
  auto verified =
      verify_signature(unwrap(parse_compact(forged)), verification_key(material(), alg()));
  ASSERT_FALSE(verified.ok());
  EXPECT_EQ(verified.error().reason, AuthFailure::bad_signature);
}

TEST_P(RoundTrip, SignaturesVerifyRepeatedlyFromOneKey) {
  // A shared key keeps no state between verifications.
  const VerificationKey key = verification_key(material(), alg());
  const ParsedJws jws = unwrap(parse_compact(mint()));
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(verify_signature(jws, key).ok()) << i;
}

TEST_P(RoundTrip, OneKeyVerifiesFromManyThreadsAtOnce) {
  // Keys are built once at load and shared by every worker thread.
  const VerificationKey key = verification_key(material(), alg());
  const ParsedJws good = unwrap(parse_compact(mint()));
  ParsedJws bad = good;
  bad.signing_input.back() ^= 1;
  std::atomic<int> accepted{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        if (verify_signature(good, key).ok()) ++accepted;
        if (!verify_signature(bad, key).ok()) ++refused;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(accepted.load(), 100);
  EXPECT_EQ(refused.load(), 100);
}

INSTANTIATE_TEST_SUITE_P(EveryAlgorithm, RoundTrip, testing::ValuesIn(kAllAlgorithms),
                         [](const testing::TestParamInfo<Algorithm>& info) {
                           return std::string(algorithm_name(info.param));
                         });

// ---- what sign_compact refuses to mint ----

class SignCompact : public testing::Test {
 protected:
  const SigningKey key = signing_key(key_material(Algorithm::HS256), Algorithm::HS256);

  AuthFailure refusal(std::string_view header, std::string_view payload) const {
    auto token = sign_compact(header, payload, key);
    EXPECT_FALSE(token.ok());
    return token.ok() ? AuthFailure::crypto_error : token.error().reason;
  }
};

TEST_F(SignCompact, HeaderAlgOtherThanTheKeys) {
  EXPECT_EQ(refusal(R"({"alg":"HS512"})", "{}"), AuthFailure::alg_mismatch);
}

TEST_F(SignCompact, HeaderAlgNone) {
  EXPECT_EQ(refusal(R"({"alg":"none"})", "{}"), AuthFailure::unsupported_alg);
}

TEST_F(SignCompact, HeaderWithCrit) {
  EXPECT_EQ(refusal(R"({"alg":"HS256","crit":["x"],"x":1})", "{}"), AuthFailure::unsupported_crit);
}

TEST_F(SignCompact, HeaderNotJson) {
  EXPECT_EQ(refusal("alg=HS256", "{}"), AuthFailure::malformed);
}

TEST_F(SignCompact, PayloadNotAnObject) {
  EXPECT_EQ(refusal(R"({"alg":"HS256"})", "[]"), AuthFailure::malformed);
  EXPECT_EQ(refusal(R"({"alg":"HS256"})", "hello"), AuthFailure::malformed);
}

TEST_F(SignCompact, PayloadWithDuplicateClaim) {
  EXPECT_EQ(refusal(R"({"alg":"HS256"})", R"({"sub":"a","sub":"b"})"), AuthFailure::malformed);
}

TEST_F(SignCompact, KeepsTheJsonTextsByteForByte) {
  const std::string header = "{\"alg\":\"HS256\",\r\n \"typ\":\"JWT\"}";
  const std::string payload = "{ \"sub\" : \"alice\" }";
  const ParsedJws jws = unwrap(parse_compact(unwrap(sign_compact(header, payload, key))));
  EXPECT_EQ(jws.payload, payload);
  EXPECT_EQ(jws.signing_input, b64(header) + "." + b64(payload));
}

}  // namespace
}  // namespace bulwark::auth
