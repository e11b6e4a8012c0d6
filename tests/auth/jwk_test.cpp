// Verification keys from HMAC secrets, PEM public keys, JWKs and JWK Sets: what is accepted,
// and each way a key is refused at load.

#include "auth/jwk.hpp"

#include <gtest/gtest.h>

#include <openssl/core_names.h>
#include <openssl/err.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <functional>
#include <optional>
#include <ostream>
#include <string>

#include "auth/key_requirements.hpp"
#include "auth/verification_key.hpp"
#include "auth_test_support.hpp"

namespace bulwark::auth {
namespace {

namespace json = boost::json;
using namespace testing_support;

// ---- HMAC secrets: at least the hash size (RFC 7518 §3.2) ----

struct SecretCase {
  std::string_view name;
  Algorithm alg;
  std::size_t bytes;
  bool accepted;
};
void PrintTo(const SecretCase& c, std::ostream* os) {
  *os << c.name;
}

class HmacSecret : public testing::TestWithParam<SecretCase> {};

TEST_P(HmacSecret, SizeRule) {
  const auto& c = GetParam();
  auto key = VerificationKey::from_hmac_secret(std::string(c.bytes, 's'), c.alg);
  EXPECT_EQ(key.ok(), c.accepted);
  if (!key.ok()) {
    EXPECT_EQ(key.error().reason, AuthFailure::invalid_key);
  } else {
    EXPECT_TRUE(key->is_hmac());
    EXPECT_EQ(key->algorithm(), c.alg);
  }
  EXPECT_EQ(SigningKey::from_hmac_secret(std::string(c.bytes, 's'), c.alg).ok(), c.accepted);
}

INSTANTIATE_TEST_SUITE_P(
    Rfc7518, HmacSecret,
    testing::Values(SecretCase{"Hs256Empty", Algorithm::HS256, 0, false},
                    SecretCase{"Hs256ThirtyOneBytes", Algorithm::HS256, 31, false},
                    SecretCase{"Hs256ThirtyTwoBytes", Algorithm::HS256, 32, true},
                    SecretCase{"Hs384ThirtyTwoBytes", Algorithm::HS384, 32, false},
                    SecretCase{"Hs384FortySevenBytes", Algorithm::HS384, 47, false},
                    SecretCase{"Hs384FortyEightBytes", Algorithm::HS384, 48, true},
                    SecretCase{"Hs512SixtyThreeBytes", Algorithm::HS512, 63, false},
                    SecretCase{"Hs512SixtyFourBytes", Algorithm::HS512, 64, true},
                    SecretCase{"Hs512Longer", Algorithm::HS512, 200, true},
                    SecretCase{"SecretForRs256", Algorithm::RS256, 64, false},
                    SecretCase{"SecretForEdDsa", Algorithm::EdDSA, 64, false}),
    [](const testing::TestParamInfo<SecretCase>& info) { return std::string(info.param.name); });

TEST(HmacSecret, KeepsTheKid) {
  auto key = VerificationKey::from_hmac_secret(std::string(32, 's'), Algorithm::HS256, "k1");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->kid(), "k1");
  EXPECT_EQ(key->public_key(), nullptr);
}

// ---- PEM public keys ----

struct PemCase {
  std::string_view name;
  std::function<Pkey()> generate;
  Algorithm alg;
  bool accepted;
};
void PrintTo(const PemCase& c, std::ostream* os) {
  *os << c.name;
}

class PublicPem : public testing::TestWithParam<PemCase> {};

TEST_P(PublicPem, FitsTheAlgorithmOrIsRefused) {
  const auto& c = GetParam();
  Pkey key = c.generate();
  ASSERT_TRUE(key);
  auto verification = VerificationKey::from_public_pem(public_pem(key.get()), c.alg);
  EXPECT_EQ(verification.ok(), c.accepted)
      << (verification.ok() ? "" : verification.error().detail);
  if (!verification.ok()) {
    EXPECT_EQ(verification.error().reason, AuthFailure::invalid_key);
  }
  // A signing key follows the same rules.
  EXPECT_EQ(SigningKey::from_private_pem(private_pem(key.get()), c.alg).ok(), c.accepted);
}

Pkey rsa2048() {
  return generate_rsa(2048);
}
Pkey rsa1024() {
  return generate_rsa(1024);
}
Pkey rsa2040() {
  return generate_rsa(2040);
}
Pkey p256() {
  return generate_ec("P-256");
}
Pkey p384() {
  return generate_ec("P-384");
}
Pkey p521() {
  return generate_ec("P-521");
}
Pkey secp256k1() {
  return generate_ec("secp256k1");
}
Pkey ed448() {
  return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED448"));
}

INSTANTIATE_TEST_SUITE_P(
    KeyType, PublicPem,
    testing::Values(PemCase{"Rsa2048ForRs256", rsa2048, Algorithm::RS256, true},
                    PemCase{"Rsa2048ForPs512", rsa2048, Algorithm::PS512, true},
                    PemCase{"Rsa1024ForRs256", rsa1024, Algorithm::RS256, false},
                    PemCase{"Rsa2040ForPs256", rsa2040, Algorithm::PS256, false},
                    PemCase{"RsaForEs256", rsa2048, Algorithm::ES256, false},
                    PemCase{"RsaForHs256", rsa2048, Algorithm::HS256, false},
                    PemCase{"P256ForEs256", p256, Algorithm::ES256, true},
                    PemCase{"P384ForEs256", p384, Algorithm::ES256, false},
                    PemCase{"P256ForEs384", p256, Algorithm::ES384, false},
                    PemCase{"P384ForEs384", p384, Algorithm::ES384, true},
                    PemCase{"P521ForEs512", p521, Algorithm::ES512, true},
                    PemCase{"P521ForEs256", p521, Algorithm::ES256, false},
                    PemCase{"Secp256k1ForEs256", secp256k1, Algorithm::ES256, false},
                    PemCase{"EcForRs256", p256, Algorithm::RS256, false},
                    PemCase{"EcForEdDsa", p256, Algorithm::EdDSA, false},
                    PemCase{"Ed25519ForEdDsa", generate_ed25519, Algorithm::EdDSA, true},
                    PemCase{"Ed25519ForEs256", generate_ed25519, Algorithm::ES256, false},
                    PemCase{"Ed448ForEdDsa", ed448, Algorithm::EdDSA, false}),
    [](const testing::TestParamInfo<PemCase>& info) { return std::string(info.param.name); });

TEST(PublicPem, PrivateKeyPemIsRefusedWithAHint) {
  Pkey key = p256();
  auto verification = VerificationKey::from_public_pem(private_pem(key.get()), Algorithm::ES256);
  ASSERT_FALSE(verification.ok());
  EXPECT_NE(verification.error().detail.find("-pubout"), std::string::npos);
}

TEST(PublicPem, GarbageIsRefused) {
  for (std::string_view text :
       {"", "hello", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}) {
    auto verification = VerificationKey::from_public_pem(text, Algorithm::ES256);
    ASSERT_FALSE(verification.ok()) << text;
    EXPECT_EQ(verification.error().reason, AuthFailure::invalid_key);
  }
}

TEST(PrivatePem, EncryptedKeyIsRefusedWithoutPrompting) {
  Pkey key = p256();
  BIO* bio = BIO_new(BIO_s_mem());
  const char* pass = "passphrase";
  ASSERT_EQ(
      PEM_write_bio_PrivateKey(bio, key.get(), EVP_aes_256_cbc(),
                               reinterpret_cast<const unsigned char*>(pass), 10, nullptr, nullptr),
      1);
  const std::string encrypted = bio_text(bio);
  ASSERT_NE(encrypted.find("ENCRYPTED"), std::string::npos);
  auto signing = SigningKey::from_private_pem(encrypted, Algorithm::ES256);
  ASSERT_FALSE(signing.ok());
  EXPECT_EQ(signing.error().reason, AuthFailure::invalid_key);
}

TEST(PrivatePem, PublicPemIsNotASigningKey) {
  Pkey key = p256();
  EXPECT_FALSE(SigningKey::from_private_pem(public_pem(key.get()), Algorithm::ES256).ok());
}

// ---- single JWKs, from the RFC keys and edits of them ----

const std::string kRsaN =
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4"
    "QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-"
    "bSf63kpaSHSXndS5z5rexMdbB"
    "YUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-"
    "DWN"
    "moudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
const json::object kRsa{{"kty", "RSA"}, {"alg", "RS256"}, {"n", kRsaN}, {"e", "AQAB"}};
const json::object kEc{{"kty", "EC"},
                       {"alg", "ES256"},
                       {"crv", "P-256"},
                       {"x", "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"},
                       {"y", "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}};
const json::object kOkp{{"kty", "OKP"},
                        {"alg", "EdDSA"},
                        {"crv", "Ed25519"},
                        {"x", "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}};
const json::object kOct{
    {"kty", "oct"},
    {"alg", "HS256"},
    {"k",
     "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}};

json::object edit(json::object jwk,
                  std::initializer_list<std::pair<std::string_view, json::value>> set,
                  std::initializer_list<std::string_view> removed = {}) {
  for (const auto& [name, value] : set) jwk[name] = value;
  for (auto name : removed) jwk.erase(name);
  return jwk;
}

struct JwkCase {
  std::string_view name;
  json::object jwk;
  std::optional<Algorithm> given_alg;
  bool accepted;
  std::string_view why = {};  // a refusal's detail names the cause
};
void PrintTo(const JwkCase& c, std::ostream* os) {
  *os << c.name;
}

class Jwk : public testing::TestWithParam<JwkCase> {};

TEST_P(Jwk, AcceptedOrRefused) {
  const auto& c = GetParam();
  auto key = key_from_jwk(c.jwk, c.given_alg);
  EXPECT_EQ(key.ok(), c.accepted) << (key.ok() ? "" : key.error().detail);
  if (!key.ok()) {
    EXPECT_EQ(key.error().reason, AuthFailure::invalid_key);
    EXPECT_NE(key.error().detail.find(c.why), std::string::npos) << key.error().detail;
  }
  // The same through the text entry point.
  EXPECT_EQ(key_from_jwk_json(json::serialize(c.jwk), c.given_alg).ok(), c.accepted);
}

std::string jwk_case_name(const testing::TestParamInfo<JwkCase>& info) {
  return std::string(info.param.name);
}

INSTANTIATE_TEST_SUITE_P(
    Accepted, Jwk,
    testing::Values(
        JwkCase{"RsaWithAlg", kRsa, std::nullopt, true},
        JwkCase{"RsaWithAlgAndSameGiven", kRsa, Algorithm::RS256, true},
        JwkCase{"RsaWithoutAlgGivenPs384", edit(kRsa, {}, {"alg"}), Algorithm::PS384, true},
        JwkCase{"RsaUseSig", edit(kRsa, {{"use", "sig"}}), std::nullopt, true},
        JwkCase{"RsaKeyOpsVerify", edit(kRsa, {{"key_ops", json::array{"verify"}}}), std::nullopt,
                true},
        JwkCase{"RsaWithX5cIgnored", edit(kRsa, {{"x5c", json::array{"garbage"}}, {"x5t", "x"}}),
                std::nullopt, true},
        JwkCase{"RsaWithKid", edit(kRsa, {{"kid", "2011-04-29"}}), std::nullopt, true},
        JwkCase{"EcP256", kEc, std::nullopt, true}, JwkCase{"OkpEd25519", kOkp, std::nullopt, true},
        JwkCase{"OctHs256", kOct, std::nullopt, true},
        JwkCase{"OctHs512SixtyFourBytes", edit(kOct, {{"alg", "HS512"}}), std::nullopt, true}),
    jwk_case_name);

INSTANTIATE_TEST_SUITE_P(
    Refused, Jwk,
    testing::Values(
        JwkCase{"NoAlgAndNoneGiven", edit(kRsa, {}, {"alg"}), std::nullopt, false, "no \"alg\""},
        JwkCase{"AlgDiffersFromGiven", kRsa, Algorithm::PS256, false, "differs"},
        JwkCase{"AlgUnknown", edit(kRsa, {{"alg", "RSA-OAEP"}}), std::nullopt, false,
                "not a supported"},
        JwkCase{"AlgNone", edit(kOct, {{"alg", "none"}}), std::nullopt, false, "not a supported"},
        JwkCase{"AlgNumber", edit(kRsa, {{"alg", 256}}), std::nullopt, false, "must be a string"},
        JwkCase{"UseEnc", edit(kRsa, {{"use", "enc"}}), std::nullopt, false, "\"use\""},
        JwkCase{"UseNumber", edit(kRsa, {{"use", 1}}), std::nullopt, false, "must be a string"},
        JwkCase{"KeyOpsSignOnly", edit(kRsa, {{"key_ops", json::array{"sign"}}}), std::nullopt,
                false, "key_ops"},
        JwkCase{"KeyOpsString", edit(kRsa, {{"key_ops", "verify"}}), std::nullopt, false,
                "key_ops"},
        JwkCase{"KidNumber", edit(kRsa, {{"kid", 1}}), std::nullopt, false, "\"kid\""},
        // 2^40 + 1: odd, but each verification would cost far more than with 65537.
        JwkCase{"RsaExponentOver32Bits", edit(kRsa, {{"e", "AQAAAAAB"}}), std::nullopt, false,
                "longer than 32 bits"},
        // An 8208-bit modulus: accepted keys stop at 8192 bits.
        JwkCase{"RsaModulusOver8192Bits",
                edit(kRsa, {{"n", json::string("wQ" + std::string(1366, 'A'))}}), std::nullopt,
                false, "at most 8192"},
        JwkCase{"KtyMissing", edit(kRsa, {}, {"kty"}), std::nullopt, false, "kty"},
        JwkCase{"KtyUnknown", edit(kRsa, {{"kty", "RSA2"}}), std::nullopt, false, "kty"},
        JwkCase{"KtyLowercase", edit(kRsa, {{"kty", "rsa"}}), std::nullopt, false, "kty"},
        JwkCase{"RsaForEs256", edit(kRsa, {{"alg", "ES256"}}), std::nullopt, false,
                "cannot serve ES256"},
        JwkCase{"RsaForHs256", edit(kRsa, {{"alg", "HS256"}}), std::nullopt, false,
                "cannot serve HS256"},
        JwkCase{"RsaMissingN", edit(kRsa, {}, {"n"}), std::nullopt, false, "\"n\" is missing"},
        JwkCase{"RsaMissingE", edit(kRsa, {}, {"e"}), std::nullopt, false, "\"e\" is missing"},
        JwkCase{"RsaNPadded", edit(kRsa, {{"n", json::string(kRsaN + "==")}}), std::nullopt, false,
                "base64url"},
        JwkCase{"RsaNStandardBase64", edit(kRsa, {{"n", "ofgW+uLj/bRl"}}), std::nullopt, false,
                "base64url"},
        JwkCase{"RsaNTooShort", edit(kRsa, {{"n", json::string(kRsaN.substr(0, 168))}}),
                std::nullopt, false, "2048"},
        JwkCase{"RsaExponentOne", edit(kRsa, {{"e", "AQ"}}), std::nullopt, false, "exponent"},
        JwkCase{"RsaExponentEven", edit(kRsa, {{"e", "AQAA"}}), std::nullopt, false, "exponent"},
        JwkCase{"RsaPrivateD", edit(kRsa, {{"d", "AQAB"}}), std::nullopt, false, "private"},
        JwkCase{"RsaPrivateP", edit(kRsa, {{"p", "AQAB"}}), std::nullopt, false, "private"},
        JwkCase{"RsaPrivateQi", edit(kRsa, {{"qi", "AQAB"}}), std::nullopt, false, "private"},
        JwkCase{"EcForRs256", edit(kEc, {{"alg", "RS256"}}), std::nullopt, false,
                "cannot serve RS256"},
        JwkCase{"EcCrvP384ForEs256", edit(kEc, {{"crv", "P-384"}}), std::nullopt, false, "crv"},
        JwkCase{"EcP256KeyForEs384", edit(kEc, {{"alg", "ES384"}}), std::nullopt, false, "crv"},
        JwkCase{"EcCrvEd25519", edit(kEc, {{"crv", "Ed25519"}}), std::nullopt, false, "crv"},
        JwkCase{"EcCrvMissing", edit(kEc, {}, {"crv"}), std::nullopt, false, "crv"},
        JwkCase{"EcXShort", edit(kEc, {{"x", "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVA"}}),
                std::nullopt, false, "32 bytes"},
        JwkCase{"EcYMissing", edit(kEc, {}, {"y"}), std::nullopt, false, "\"y\" is missing"},
        JwkCase{"EcPointNotOnCurve",
                edit(kEc, {{"y", "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a4"}}), std::nullopt,
                false, "not on"},
        JwkCase{"EcPrivateD", edit(kEc, {{"d", "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}}),
                std::nullopt, false, "private"},
        JwkCase{"OkpCrvP256", edit(kOkp, {{"crv", "P-256"}}), std::nullopt, false, "Ed25519"},
        JwkCase{"OkpX25519", edit(kOkp, {{"crv", "X25519"}}), std::nullopt, false, "key agreement"},
        JwkCase{"OkpEd448", edit(kOkp, {{"crv", "Ed448"}}), std::nullopt, false, "Ed448"},
        JwkCase{"OkpXTooShort", edit(kOkp, {{"x", "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcH"}}),
                std::nullopt, false, "32 bytes"},
        JwkCase{"OkpForEs256", edit(kOkp, {{"alg", "ES256"}}), std::nullopt, false,
                "cannot serve ES256"},
        JwkCase{"OkpPrivateD", edit(kOkp, {{"d", "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}}),
                std::nullopt, false, "private"},
        JwkCase{"OctShortSecret", edit(kOct, {{"k", "c2hvcnQgc2VjcmV0"}}), std::nullopt, false,
                "at least 32"},
        JwkCase{"OctHs512WithHs384SizedSecret",
                edit(kOct, {{"alg", "HS512"}, {"k", json::string(b64(std::string(48, 'k')))}}),
                std::nullopt, false, "at least 64"},
        JwkCase{"OctForRs256", edit(kOct, {{"alg", "RS256"}}), std::nullopt, false,
                "cannot serve RS256"},
        JwkCase{"OctMissingK", edit(kOct, {}, {"k"}), std::nullopt, false, "\"k\" is missing"}),
    jwk_case_name);

TEST(Jwk, DuplicateMemberIsRefused) {
  auto key = key_from_jwk_json(
      R"({"kty":"OKP","alg":"EdDSA","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","alg":"HS256"})");
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.error().reason, AuthFailure::invalid_key);
}

TEST(Jwk, NotJsonIsRefused) {
  EXPECT_FALSE(key_from_jwk_json("{kty: RSA}").ok());
  EXPECT_FALSE(key_from_jwk_json("[]").ok());
}

TEST(Jwk, KidIsKept) {
  auto key = key_from_jwk(edit(kEc, {{"kid", "../k"}}));
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->kid(), "../k");
  EXPECT_EQ(key->algorithm(), Algorithm::ES256);
}

// ---- JWK Sets ----

TEST(Jwks, SkipsEntriesThatCannotVerifySignaturesAndSaysWhy) {
  const json::object set{
      {"keys", json::array{
                   edit(kRsa, {{"kid", "rsa-1"}, {"use", "sig"}}),      // 0: usable
                   edit(kEc, {{"kid", "ec-enc"}, {"use", "enc"}}),      // 1: encryption key
                   edit(kOkp, {{"kid", "x"}, {"crv", "X25519"}}),       // 2: key agreement
                   "not an object",                                     // 3
                   edit(kEc, {{"kid", "ec-1"}}),                        // 4: usable
                   edit(kRsa, {{"kid", "oaep"}, {"alg", "RSA-OAEP"}}),  // 5: encryption alg
                   edit(kOct, {{"kid", "weak"}, {"k", "c2hvcnQ"}}),     // 6: weak secret
                   edit(kOkp, {{"kid", "ed-1"}}),                       // 7: usable
               }}};
  auto result = key_set_from_jwks_json(json::serialize(set));
  ASSERT_TRUE(result.ok()) << result.error().detail;
  ASSERT_EQ(result->keys.size(), 3u);
  EXPECT_EQ(result->keys[0].kid(), "rsa-1");
  EXPECT_EQ(result->keys[1].kid(), "ec-1");
  EXPECT_EQ(result->keys[2].kid(), "ed-1");
  ASSERT_EQ(result->skipped.size(), 5u);
  EXPECT_EQ(result->skipped[0].index, 1u);
  EXPECT_EQ(result->skipped[0].kid, "ec-enc");
  EXPECT_NE(result->skipped[0].why.find("use"), std::string::npos);
  EXPECT_EQ(result->skipped[2].index, 3u);
  EXPECT_FALSE(result->skipped[2].kid.has_value());
  for (const auto& skipped : result->skipped) EXPECT_FALSE(skipped.why.empty());
}

TEST(Jwks, FindMatchesKidAndAlgExactly) {
  const json::object set{
      {"keys", json::array{edit(kRsa, {{"kid", "k"}}), edit(kRsa, {{"kid", "k"}, {"alg", "PS256"}}),
                           edit(kEc, {{"kid", "ec"}})}}};
  const JwkSet keys = unwrap(key_set_from_jwks_json(json::serialize(set)));
  ASSERT_NE(keys.find("k", Algorithm::PS256), nullptr);
  EXPECT_EQ(keys.find("k", Algorithm::PS256)->algorithm(), Algorithm::PS256);
  EXPECT_EQ(keys.find("k", Algorithm::RS256)->algorithm(), Algorithm::RS256);
  EXPECT_EQ(keys.find("k", Algorithm::ES256), nullptr);
  EXPECT_EQ(keys.find("K", Algorithm::RS256), nullptr);
  EXPECT_EQ(keys.find("e", Algorithm::ES256), nullptr);
  EXPECT_EQ(keys.find("ec ", Algorithm::ES256), nullptr);
  EXPECT_EQ(keys.find("", Algorithm::ES256), nullptr);
}

TEST(Jwks, GivenAlgPinsKeysWithoutAlgAndSkipsOthers) {
  const json::object set{{"keys", json::array{edit(kRsa, {{"kid", "a"}}, {"alg"}),
                                              edit(kRsa, {{"kid", "b"}, {"alg", "RS512"}}),
                                              edit(kEc, {{"kid", "c"}}, {"alg"})}}};
  auto result = key_set_from_jwks_json(json::serialize(set), Algorithm::RS256);
  ASSERT_TRUE(result.ok()) << result.error().detail;
  ASSERT_EQ(result->keys.size(), 1u);
  EXPECT_EQ(result->keys[0].kid(), "a");
  EXPECT_EQ(result->keys[0].algorithm(), Algorithm::RS256);
  EXPECT_EQ(result->skipped.size(), 2u);
}

TEST(Jwks, WithoutAnyUsableKeyIsRefused) {
  const json::object set{{"keys", json::array{edit(kEc, {{"use", "enc"}})}}};
  auto result = key_set_from_jwks_json(json::serialize(set));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().reason, AuthFailure::invalid_key);
  EXPECT_NE(result.error().detail.find("use"), std::string::npos);
  EXPECT_FALSE(key_set_from_jwks_json(R"({"keys":[]})").ok());
}

TEST(Jwks, BadDocumentsAreRefused) {
  for (std::string_view text :
       {"", "not json", "[]", R"({"keys":{}})", R"({"key":[]})", R"({"keys":[],"keys":[]})"}) {
    auto result = key_set_from_jwks_json(text);
    ASSERT_FALSE(result.ok()) << text;
    EXPECT_EQ(result.error().reason, AuthFailure::invalid_key) << text;
  }
}

// ---- public_jwk ----

TEST(PublicJwk, HmacKeysAreNeverExported) {
  const VerificationKey key = unwrap(key_from_jwk(kOct));
  EXPECT_FALSE(public_jwk(key).has_value());
}

TEST(PublicJwk, RfcKeysExportToTheirOwnMembers) {
  for (const json::object& jwk : {kRsa, kEc, kOkp}) {
    const auto exported = public_jwk(unwrap(key_from_jwk(jwk)));
    ASSERT_TRUE(exported.has_value());
    for (const auto& member : jwk) {
      EXPECT_EQ(exported->at(member.key()), member.value()) << member.key();
    }
    EXPECT_EQ(exported->at("use"), "sig");
  }
}

// OpenSSL's error queue is per thread: what a key load or a refusal leaves there would show
// up in the next, unrelated error message on that worker.
TEST(OpenSslErrorQueue, IsLeftEmptyByLoadsAndRefusals) {
  ERR_clear_error();
  for (Algorithm alg : kAllAlgorithms) {
    const KeyMaterial& material = key_material(alg);
    const VerificationKey key = verification_key(material, alg);
    const SigningKey signer = signing_key(material, alg);
    EXPECT_EQ(ERR_peek_error(), 0u) << algorithm_name(alg) << " load";
    const std::string input = "eyJhbGciOiJIUzI1NiJ9.e30";
    const std::string signature = unwrap(signer.sign(input));
    EXPECT_TRUE(key.verify(input, signature).ok());
    EXPECT_FALSE(key.verify(input + "x", signature).ok());
    EXPECT_EQ(ERR_peek_error(), 0u) << algorithm_name(alg) << " verify";
  }
  EXPECT_FALSE(VerificationKey::from_public_pem("garbage", Algorithm::ES256).ok());
  EXPECT_FALSE(
      key_from_jwk(edit(kEc, {{"y", "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a4"}})).ok());
  EXPECT_EQ(ERR_peek_error(), 0u) << "refused loads";
}

}  // namespace
}  // namespace bulwark::auth
