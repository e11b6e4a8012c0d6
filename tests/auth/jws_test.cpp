#include "auth/jws.hpp"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include <ostream>
#include <string>
#include <string_view>

#include "auth/base64url.hpp"
#include "auth/ecdsa_signature.hpp"
#include "auth/jwk.hpp"
#include "auth/signing_key.hpp"
#include "auth_test_support.hpp"

namespace bulwark::auth {
namespace {

using namespace std::string_literals;
using namespace testing_support;

constexpr std::string_view kClaims = R"({"sub":"alice","exp":1700000600})";
const std::string kPayload = b64(kClaims);
const std::string kFakeSignature = b64("not a real signature");

std::string token_of(std::string_view header_json, std::string_view signature_b64 = {}) {
  return b64(header_json) + "." + kPayload + "." +
         std::string(signature_b64.empty() ? std::string_view(kFakeSignature) : signature_b64);
}

// ---- parse_compact refusals: each case a token that never reaches a key ----

struct ParseCase {
  std::string name;
  std::string token;
  AuthFailure reason;
};
void PrintTo(const ParseCase& c, std::ostream* os) {
  *os << c.name;
}

class ParseRefused : public testing::TestWithParam<ParseCase> {};

TEST_P(ParseRefused, WithReason) {
  const auto& c = GetParam();
  auto parsed = parse_compact(c.token);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().reason, c.reason) << parsed.error().detail;
  EXPECT_FALSE(parsed.error().detail.empty());
}

std::string case_name(const testing::TestParamInfo<ParseCase>& info) {
  return info.param.name;
}

constexpr auto kMalformed = AuthFailure::malformed;
constexpr auto kUnsupportedAlg = AuthFailure::unsupported_alg;

INSTANTIATE_TEST_SUITE_P(
    AlgNone, ParseRefused,
    testing::Values(ParseCase{"LowercaseEmptySignature",
                              b64(R"({"alg":"none"})") + "." + kPayload + ".", kUnsupportedAlg},
                    ParseCase{"Lowercase", token_of(R"({"alg":"none"})"), kUnsupportedAlg},
                    ParseCase{"Capitalized", token_of(R"({"alg":"None"})"), kUnsupportedAlg},
                    ParseCase{"Uppercase", token_of(R"({"alg":"NONE"})"), kUnsupportedAlg},
                    ParseCase{"MixedCase", token_of(R"({"alg":"nOnE"})"), kUnsupportedAlg},
                    ParseCase{"WithTyp", token_of(R"({"typ":"JWT","alg":"none"})"),
                              kUnsupportedAlg}),
    case_name);

INSTANTIATE_TEST_SUITE_P(
    AlgOther, ParseRefused,
    testing::Values(ParseCase{"LowercaseHs256", token_of(R"({"alg":"hs256"})"), kUnsupportedAlg},
                    ParseCase{"Unknown", token_of(R"({"alg":"HS1"})"), kUnsupportedAlg},
                    ParseCase{"EncryptionAlg", token_of(R"({"alg":"RSA-OAEP"})"), kUnsupportedAlg},
                    ParseCase{"Ed25519FullySpecifiedName", token_of(R"({"alg":"Ed25519"})"),
                              kUnsupportedAlg},
                    ParseCase{"TrailingSpace", token_of(R"({"alg":"HS256 "})"), kUnsupportedAlg},
                    ParseCase{"EmptyString", token_of(R"({"alg":""})"), kUnsupportedAlg},
                    ParseCase{"Missing", token_of(R"({"typ":"JWT"})"), kMalformed},
                    ParseCase{"EmptyHeaderObject", token_of("{}"), kMalformed},
                    ParseCase{"Number", token_of(R"({"alg":256})"), kMalformed},
                    ParseCase{"Null", token_of(R"({"alg":null})"), kMalformed},
                    ParseCase{"Array", token_of(R"({"alg":["HS256"]})"), kMalformed}),
    case_name);

INSTANTIATE_TEST_SUITE_P(
    Crit, ParseRefused,
    testing::Values(
        ParseCase{"UnknownExtension", token_of(R"({"alg":"HS256","crit":["exp"],"exp":1})"),
                  AuthFailure::unsupported_crit},
        ParseCase{"UnencodedPayloadB64", token_of(R"({"alg":"HS256","b64":false,"crit":["b64"]})"),
                  AuthFailure::unsupported_crit},
        ParseCase{"EmptyArray", token_of(R"({"alg":"HS256","crit":[]})"), kMalformed},
        ParseCase{"String", token_of(R"({"alg":"HS256","crit":"exp"})"), kMalformed},
        ParseCase{"NumberEntry", token_of(R"({"alg":"HS256","crit":[1]})"), kMalformed}),
    case_name);

INSTANTIATE_TEST_SUITE_P(
    HeaderMembers, ParseRefused,
    testing::Values(ParseCase{"KidNumber", token_of(R"({"alg":"HS256","kid":7})"), kMalformed},
                    ParseCase{"KidNull", token_of(R"({"alg":"HS256","kid":null})"), kMalformed},
                    ParseCase{"KidObject", token_of(R"({"alg":"HS256","kid":{}})"), kMalformed},
                    ParseCase{"TypNumber", token_of(R"({"alg":"HS256","typ":1})"), kMalformed}),
    case_name);

INSTANTIATE_TEST_SUITE_P(
    HeaderJson, ParseRefused,
    testing::Values(
        ParseCase{"NotJson", token_of("not json"), kMalformed},
        ParseCase{"Array", token_of(R"(["alg","HS256"])"), kMalformed},
        ParseCase{"String", token_of(R"("HS256")"), kMalformed},
        ParseCase{"TrailingData", token_of(R"({"alg":"HS256"} x)"), kMalformed},
        ParseCase{"TwoObjects", token_of(R"({"alg":"HS256"}{"alg":"none"})"), kMalformed},
        ParseCase{"Comment", token_of(R"({"alg":"HS256"/* hi */})"), kMalformed},
        ParseCase{"TrailingComma", token_of(R"({"alg":"HS256",})"), kMalformed},
        ParseCase{"SingleQuotes", token_of(R"({'alg':'HS256'})"), kMalformed},
        ParseCase{"InvalidUtf8", token_of("{\"alg\":\"HS256\",\"x\":\"\xff\"}"), kMalformed},
        ParseCase{"Truncated", token_of(R"({"alg":"HS256")"), kMalformed},
        ParseCase{
            "TooDeep",
            token_of(R"({"alg":"HS256","x":)" + std::string(40, '[') + std::string(40, ']') + "}"),
            kMalformed}),
    case_name);

// A last-wins parser would read {"alg":"none","alg":"HS256"} as HS256 and another as none.
INSTANTIATE_TEST_SUITE_P(
    DuplicateMembers, ParseRefused,
    testing::Values(
        ParseCase{"AlgNoneLast", token_of(R"({"alg":"HS256","alg":"none"})"), kMalformed},
        ParseCase{"AlgNoneFirst", token_of(R"({"alg":"none","alg":"HS256"})"), kMalformed},
        ParseCase{"SameAlgTwice", token_of(R"({"alg":"HS256","alg":"HS256"})"), kMalformed},
        ParseCase{"Kid", token_of(R"({"alg":"HS256","kid":"a","kid":"b"})"), kMalformed},
        ParseCase{"EscapedName", token_of(R"({"alg":"HS256","\u0061lg":"HS256"})"), kMalformed},
        ParseCase{"Nested", token_of(R"({"alg":"HS256","jwk":{"kty":"oct","kty":"RSA"}})"),
                  kMalformed},
        ParseCase{"ManyMembers", token_of([] {
                    std::string h = R"({"alg":"HS256")";
                    for (int i = 0; i < 40; ++i) h += ",\"m" + std::to_string(i) + "\":1";
                    return h + R"(,"m7":2})";
                  }()),
                  kMalformed}),
    case_name);

const std::string kHeader = b64(R"({"alg":"HS256"})");

INSTANTIATE_TEST_SUITE_P(
    Segments, ParseRefused,
    testing::Values(ParseCase{"Empty", "", kMalformed},
                    ParseCase{"OneSegment", kHeader, kMalformed},
                    ParseCase{"TwoSegments", kHeader + "." + kPayload, kMalformed},
                    ParseCase{"FourSegments",
                              kHeader + "." + kPayload + "." + kFakeSignature + ".x", kMalformed},
                    ParseCase{"SixSegments", kHeader + ".a.b.c.d.e", kMalformed},
                    ParseCase{"FiveSegmentsJwe",
                              b64(R"({"alg":"RSA-OAEP","enc":"A256GCM"})") + ".a.b.c.d",
                              AuthFailure::encrypted_token},
                    ParseCase{"FiveEmptySegments", "....", AuthFailure::encrypted_token},
                    ParseCase{"OnlyDots", "..", kMalformed},
                    ParseCase{"EmptyHeader", "." + kPayload + "." + kFakeSignature, kMalformed},
                    ParseCase{"EmptySignature", kHeader + "." + kPayload + ".", kMalformed}),
    case_name);

INSTANTIATE_TEST_SUITE_P(
    Base64url, ParseRefused,
    testing::Values(
        ParseCase{"HeaderPadded", kHeader + "==." + kPayload + "." + kFakeSignature, kMalformed},
        ParseCase{"PayloadPadded", kHeader + "." + b64("{}") + "=." + kFakeSignature, kMalformed},
        ParseCase{"SignaturePadded", kHeader + "." + kPayload + "." + b64("sig") + "=", kMalformed},
        ParseCase{"PlusInPayload", kHeader + ".eyJ+IjoxfQ." + kFakeSignature, kMalformed},
        ParseCase{"SlashInSignature", kHeader + "." + kPayload + ".c2ln/w", kMalformed},
        ParseCase{"SpaceInPayload", kHeader + ".eyJ4 IjoxfQ." + kFakeSignature, kMalformed},
        ParseCase{"NewlineInSignature", kHeader + "." + kPayload + ".c2ln\nZ2", kMalformed},
        ParseCase{"TrailingNewline", kHeader + "." + kPayload + "." + kFakeSignature + "\n",
                  kMalformed},
        ParseCase{"TrailingCrLf", kHeader + "." + kPayload + "." + kFakeSignature + "\r\n",
                  kMalformed},
        ParseCase{"LeadingSpace", " " + kHeader + "." + kPayload + "." + kFakeSignature,
                  kMalformed},
        ParseCase{"TabInHeader", "eyJhbGci\tOiJIUzI1NiJ9." + kPayload + "." + kFakeSignature,
                  kMalformed},
        ParseCase{"NonCanonicalSignatureTail", kHeader + "." + kPayload + ".Zh", kMalformed},
        ParseCase{"NonCanonicalPayloadTail", kHeader + ".Zm9." + kFakeSignature, kMalformed},
        ParseCase{"LengthOneModFour", kHeader + "." + kPayload + ".c2lnb", kMalformed},
        ParseCase{"StandardBase64Header",
                  // {"alg":"HS256","x":"??>"} encodes with '+' and '/' in standard base64.
                  "eyJhbGciOiJIUzI1NiIsIngiOiI/Pz4ifQ." + kPayload + "." + kFakeSignature,
                  kMalformed}),
    case_name);

INSTANTIATE_TEST_SUITE_P(
    Size, ParseRefused,
    testing::Values(
        ParseCase{"OneByteOver8KiB",
                  kHeader + "." + std::string(kMaxTokenBytes - kHeader.size() - 4, 'A') + ".AAA",
                  AuthFailure::token_too_large},
        ParseCase{"HugeGarbage", std::string(1 << 20, '.'), AuthFailure::token_too_large}),
    case_name);

// ---- parsed fields ----

TEST(ParseCompact, ReadsHeaderMembersAndKeepsTheSigningInput) {
  const std::string header = b64(R"({"alg":"ES256","kid":"key-1","typ":"at+jwt"})");
  const std::string token = header + "." + kPayload + "." + b64(std::string(64, 'x'));
  auto jws = parse_compact(token);
  ASSERT_TRUE(jws.ok()) << jws.error().detail;
  EXPECT_EQ(jws->header.alg, Algorithm::ES256);
  EXPECT_EQ(jws->header.kid, "key-1");
  EXPECT_EQ(jws->header.typ, "at+jwt");
  EXPECT_EQ(jws->signing_input, header + "." + kPayload);
  EXPECT_EQ(jws->payload, kClaims);
  EXPECT_EQ(jws->signature, std::string(64, 'x'));
}

TEST(ParseCompact, EmptyPayloadIsAValidJws) {
  auto jws = parse_compact(kHeader + ".." + kFakeSignature);
  ASSERT_TRUE(jws.ok()) << jws.error().detail;
  EXPECT_TRUE(jws->payload.empty());
}

TEST(ParseCompact, TokenOfExactly8KiBVerifies) {
  const auto& material = key_material(Algorithm::HS256);
  const SigningKey signer = signing_key(material, Algorithm::HS256);
  const std::string header = R"({"alg":"HS256"})";
  // HS256 signature: 43 chars; header: 20; two dots. The payload fills the rest.
  const std::size_t payload_chars = kMaxTokenBytes - b64(header).size() - 2 - 43;
  ASSERT_NE(payload_chars % 4, 1u);
  const std::size_t payload_bytes =
      payload_chars / 4 * 3 + (payload_chars % 4 == 0 ? 0 : payload_chars % 4 - 1);
  const std::size_t filler = payload_bytes - std::string_view(R"({"pad":""})").size();
  const std::string token =
      unwrap(sign_compact(header, R"({"pad":")" + std::string(filler, 'p') + R"("})", signer));
  ASSERT_EQ(token.size(), kMaxTokenBytes);
  auto jws = parse_compact(token);
  ASSERT_TRUE(jws.ok()) << jws.error().detail;
  EXPECT_TRUE(verify_signature(*jws, verification_key(material, Algorithm::HS256)).ok());
}

// ---- verify_signature refusals, each with a configured key ----

Result<void> parse_and_verify(std::string_view token, const VerificationKey& key) {
  auto jws = parse_compact(token);
  if (!jws) return std::move(jws).error();
  return verify_signature(*jws, key);
}

AuthFailure refusal_of(std::string_view token, const VerificationKey& key) {
  auto verdict = parse_and_verify(token, key);
  EXPECT_FALSE(verdict.ok());
  return verdict.ok() ? AuthFailure::crypto_error : verdict.error().reason;
}

// The classic attack: the RS256 public key is public, so an attacker HMACs a token with its
// PEM text as the secret and sets alg HS256, hoping the verifier feeds the "key" to HMAC.
TEST(AlgorithmConfusion, Hs256TokenMacedWithTheRsaPublicPemIsRefused) {
  const auto& rsa = key_material(Algorithm::RS256);
  const VerificationKey configured = verification_key(rsa, Algorithm::RS256);
  const SigningKey attacker =
      unwrap(SigningKey::from_hmac_secret(rsa.public_pem, Algorithm::HS256));
  const std::string token = raw_token(R"({"alg":"HS256","typ":"JWT"})", kClaims, attacker);
  ASSERT_TRUE(parse_compact(token).ok());
  EXPECT_EQ(refusal_of(token, configured), AuthFailure::alg_mismatch);
}

TEST(AlgorithmConfusion, PemMacedTokenClaimingRs256FailsTheSignature) {
  const auto& rsa = key_material(Algorithm::RS256);
  const VerificationKey configured = verification_key(rsa, Algorithm::RS256);
  const SigningKey attacker =
      unwrap(SigningKey::from_hmac_secret(rsa.public_pem, Algorithm::HS256));
  const std::string input = b64(R"({"alg":"RS256"})") + "." + kPayload;
  const std::string token = input + "." + b64(unwrap(attacker.sign(input)));
  EXPECT_EQ(refusal_of(token, configured), AuthFailure::bad_signature);
}

struct MismatchCase {
  std::string_view name;
  Algorithm token_alg;
  Algorithm key_alg;
};
void PrintTo(const MismatchCase& c, std::ostream* os) {
  *os << c.name;
}

class AlgMismatch : public testing::TestWithParam<MismatchCase> {};

// The token is validly signed by a key of the same material or type; the configured key is
// pinned to another alg, so the header alone decides the refusal.
TEST_P(AlgMismatch, IsRefusedBeforeAnyCrypto) {
  const auto& c = GetParam();
  const auto& material = key_material(c.token_alg);
  const SigningKey signer = signing_key(material, c.token_alg);
  const std::string header = R"({"alg":")" + std::string(algorithm_name(c.token_alg)) + R"("})";
  const std::string token = unwrap(sign_compact(header, kClaims, signer));
  const VerificationKey key = verification_key(key_material(c.key_alg), c.key_alg);
  EXPECT_EQ(refusal_of(token, key), AuthFailure::alg_mismatch);
}

INSTANTIATE_TEST_SUITE_P(
    PinnedKey, AlgMismatch,
    testing::Values(
        MismatchCase{"Rs256TokenPs256KeySameRsaKey", Algorithm::RS256, Algorithm::PS256},
        MismatchCase{"Ps256TokenRs256KeySameRsaKey", Algorithm::PS256, Algorithm::RS256},
        MismatchCase{"Rs384TokenRs256Key", Algorithm::RS384, Algorithm::RS256},
        MismatchCase{"Es256TokenEs384Key", Algorithm::ES256, Algorithm::ES384},
        MismatchCase{"Hs256TokenHs512Key", Algorithm::HS256, Algorithm::HS512},
        MismatchCase{"EdDsaTokenEs256Key", Algorithm::EdDSA, Algorithm::ES256},
        MismatchCase{"Hs256TokenRs256Key", Algorithm::HS256, Algorithm::RS256}),
    [](const testing::TestParamInfo<MismatchCase>& info) { return std::string(info.param.name); });

// ---- kid: an opaque string ----

struct KidCase {
  std::string_view name;
  std::string kid;
};
void PrintTo(const KidCase& c, std::ostream* os) {
  *os << c.name;
}

class OpaqueKid : public testing::TestWithParam<KidCase> {};

TEST_P(OpaqueKid, IsKeptVerbatimMatchesNoKeyAndDoesNotAffectVerification) {
  const std::string& kid = GetParam().kid;
  const auto& material = key_material(Algorithm::HS256);
  boost::json::object header{{"alg", "HS256"}, {"kid", kid}};
  const std::string token = unwrap(sign_compact(boost::json::serialize(header), kClaims,
                                                signing_key(material, Algorithm::HS256)));
  auto jws = parse_compact(token);
  ASSERT_TRUE(jws.ok()) << jws.error().detail;
  EXPECT_EQ(jws->header.kid, kid);

  const std::string jwks = R"({"keys":[{"kty":"oct","kid":"key-1","alg":"HS256","k":")" +
                           b64(material.secret) + R"("}]})";
  const JwkSet set = unwrap(key_set_from_jwks_json(jwks));
  EXPECT_EQ(set.find(*jws->header.kid, jws->header.alg), nullptr);
  ASSERT_NE(set.find("key-1", Algorithm::HS256), nullptr);
  // The kid does not pick the key: the configured one verifies.
  EXPECT_TRUE(verify_signature(*jws, *set.find("key-1", Algorithm::HS256)).ok());
}

INSTANTIATE_TEST_SUITE_P(
    Kid, OpaqueKid,
    testing::Values(KidCase{"PathTraversal", "../../../../etc/passwd"},
                    KidCase{"PathTraversalToKeyFile", "..\\..\\keys\\key-1"},
                    KidCase{"SqlInjection", "' OR '1'='1'; DROP TABLE keys; --"},
                    KidCase{"UrlOfAttacker", "https://attacker.example/key.pem"},
                    KidCase{"NulAndNewline", "key-1\0\n"s}, KidCase{"Empty", ""},
                    KidCase{"Long", std::string(2000, 'k')}, KidCase{"KeyIdPlusSuffix", "key-1 "}),
    [](const testing::TestParamInfo<KidCase>& info) { return std::string(info.param.name); });

// ---- jku, x5u, jwk, x5c: never followed or trusted ----

struct EmbeddedKeyCase {
  std::string_view name;
  std::string_view member;
};
void PrintTo(const EmbeddedKeyCase& c, std::ostream* os) {
  *os << c.name;
}

class EmbeddedKeyHeader : public testing::TestWithParam<EmbeddedKeyCase> {
 protected:
  // The attacker's own key, offered through the header member under test.
  static std::string header_offering(const VerificationKey& attacker_public,
                                     std::string_view member) {
    boost::json::object header{{"alg", "ES256"}};
    if (member == "jwk") {
      header["jwk"] = *public_jwk(attacker_public);
    } else if (member == "x5c") {
      header["x5c"] = boost::json::array{"MIIBszCCAVmgAwIBAgIUQ2b0"};
    } else {
      header[member] = "https://attacker.example/keys";
    }
    return boost::json::serialize(header);
  }
};

TEST_P(EmbeddedKeyHeader, IsIgnoredForATokenOfTheConfiguredKey) {
  const auto& material = key_material(Algorithm::ES256);
  const SigningKey signer = signing_key(material, Algorithm::ES256);
  const VerificationKey attacker_public = unwrap(
      signing_key(fresh_key_material(Algorithm::ES256), Algorithm::ES256).verification_key());
  const std::string token =
      unwrap(sign_compact(header_offering(attacker_public, GetParam().member), kClaims, signer));
  EXPECT_TRUE(parse_and_verify(token, verification_key(material, Algorithm::ES256)).ok());
}

TEST_P(EmbeddedKeyHeader, DoesNotMakeTheAttackersSignatureValid) {
  const auto& material = key_material(Algorithm::ES256);
  const SigningKey attacker = signing_key(fresh_key_material(Algorithm::ES256), Algorithm::ES256);
  const std::string token = unwrap(sign_compact(
      header_offering(unwrap(attacker.verification_key()), GetParam().member), kClaims, attacker));
  EXPECT_EQ(refusal_of(token, verification_key(material, Algorithm::ES256)),
            AuthFailure::bad_signature);
}

INSTANTIATE_TEST_SUITE_P(Header, EmbeddedKeyHeader,
                         testing::Values(EmbeddedKeyCase{"Jku", "jku"},
                                         EmbeddedKeyCase{"X5u", "x5u"},
                                         EmbeddedKeyCase{"Jwk", "jwk"},
                                         EmbeddedKeyCase{"X5c", "x5c"}),
                         [](const testing::TestParamInfo<EmbeddedKeyCase>& info) {
                           return std::string(info.param.name);
                         });

// ---- signature shapes ----

std::string with_signature(std::string_view token, std::string_view signature_bytes) {
  return std::string(token.substr(0, token.rfind('.') + 1)) + b64(signature_bytes);
}

std::string signature_of(std::string_view token) {
  return *base64url_decode(token.substr(token.rfind('.') + 1));
}

class SignatureShape : public testing::Test {
 protected:
  static std::string signed_token(Algorithm alg) {
    const std::string header = R"({"alg":")" + std::string(algorithm_name(alg)) + R"("})";
    return unwrap(sign_compact(header, kClaims, signing_key(key_material(alg), alg)));
  }
  static AuthFailure refusal(Algorithm alg, std::string_view token) {
    return refusal_of(token, verification_key(key_material(alg), alg));
  }
};

TEST_F(SignatureShape, Es256InDerFormIsRefused) {
  const std::string token = signed_token(Algorithm::ES256);
  std::string der;
  ASSERT_TRUE(ecdsa_raw_to_der(signature_of(token), der));
  ASSERT_NE(der.size(), 64u);
  const std::string der_token = with_signature(token, der);
  auto verdict = parse_and_verify(
      der_token, verification_key(key_material(Algorithm::ES256), Algorithm::ES256));
  ASSERT_FALSE(verdict.ok());
  EXPECT_EQ(verdict.error().reason, AuthFailure::bad_signature);
  EXPECT_NE(verdict.error().detail.find("DER"), std::string::npos) << verdict.error().detail;
  // The raw form of the same signature verifies.
  EXPECT_TRUE(
      parse_and_verify(token, verification_key(key_material(Algorithm::ES256), Algorithm::ES256))
          .ok());
}

TEST_F(SignatureShape, Es256OneByteShortIsRefused) {
  const std::string token = signed_token(Algorithm::ES256);
  EXPECT_EQ(refusal(Algorithm::ES256, with_signature(token, signature_of(token).substr(1))),
            AuthFailure::bad_signature);
}

TEST_F(SignatureShape, Es256OneByteLongIsRefused) {
  const std::string token = signed_token(Algorithm::ES256);
  EXPECT_EQ(refusal(Algorithm::ES256, with_signature(token, '\0' + signature_of(token))),
            AuthFailure::bad_signature);
}

TEST_F(SignatureShape, Es256AllZeroIsRefused) {
  const std::string token = signed_token(Algorithm::ES256);
  EXPECT_EQ(refusal(Algorithm::ES256, with_signature(token, std::string(64, '\0'))),
            AuthFailure::bad_signature);
}

TEST_F(SignatureShape, Es256SwappedRAndSIsRefused) {
  const std::string token = signed_token(Algorithm::ES256);
  const std::string sig = signature_of(token);
  EXPECT_EQ(refusal(Algorithm::ES256, with_signature(token, sig.substr(32) + sig.substr(0, 32))),
            AuthFailure::bad_signature);
}

TEST_F(SignatureShape, Es512WithEs384LengthIsRefused) {
  const std::string token = signed_token(Algorithm::ES512);
  EXPECT_EQ(refusal(Algorithm::ES512, with_signature(token, signature_of(token).substr(0, 96))),
            AuthFailure::bad_signature);
}

TEST_F(SignatureShape, Hs256TruncatedMacIsRefused) {
  const std::string token = signed_token(Algorithm::HS256);
  EXPECT_EQ(refusal(Algorithm::HS256, with_signature(token, signature_of(token).substr(0, 16))),
            AuthFailure::bad_signature);
}

TEST_F(SignatureShape, Hs256MacWithExtraByteIsRefused) {
  const std::string token = signed_token(Algorithm::HS256);
  EXPECT_EQ(refusal(Algorithm::HS256, with_signature(token, signature_of(token) + "x")),
            AuthFailure::bad_signature);
}

TEST_F(SignatureShape, Rs256ShortSignatureIsRefused) {
  const std::string token = signed_token(Algorithm::RS256);
  EXPECT_EQ(refusal(Algorithm::RS256, with_signature(token, signature_of(token).substr(1))),
            AuthFailure::bad_signature);
}

TEST_F(SignatureShape, Ed25519ShortSignatureIsRefused) {
  const std::string token = signed_token(Algorithm::EdDSA);
  EXPECT_EQ(refusal(Algorithm::EdDSA, with_signature(token, signature_of(token).substr(0, 63))),
            AuthFailure::bad_signature);
}

TEST_F(SignatureShape, Ps256SignatureIsNotAValidRs256Signature) {
  const std::string pss = signed_token(Algorithm::PS256);
  const std::string rs = signed_token(Algorithm::RS256);
  EXPECT_EQ(refusal(Algorithm::RS256, with_signature(rs, signature_of(pss))),
            AuthFailure::bad_signature);
}

}  // namespace
}  // namespace bulwark::auth
