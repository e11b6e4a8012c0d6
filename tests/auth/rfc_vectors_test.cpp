// Known answers: the example JWSs of RFC 7515 Appendix A.1-A.4 and RFC 8037 Appendix A.4,
// with the RFCs' own keys (public JWK members exactly as printed), each verified by the same
// code the gateway runs, and each refused once any single bit of any segment is flipped.

#include <gtest/gtest.h>

#include <openssl/evp.h>

#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "auth/base64url.hpp"
#include "auth/claims.hpp"
#include "auth/jwk.hpp"
#include "auth/jws.hpp"
#include "auth/signing_key.hpp"
#include "auth_test_support.hpp"

namespace bulwark::auth {
namespace {

using namespace testing_support;

// RFC 7515 A.1.1: the payload of A.1, A.2 and A.3.
#define RFC7515_JWT_PAYLOAD                                          \
  "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt" \
  "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ"

// RFC 7515 A.1: HMAC SHA-256. The JWK has no "alg"; HS256 is given explicitly.
constexpr std::string_view kA1Jwk = R"({"kty":"oct",
 "k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"
})";
constexpr std::string_view kA1Token =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." RFC7515_JWT_PAYLOAD
    ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

// RFC 7515 A.2: RSASSA-PKCS1-v1_5 SHA-256 (the public members of the A.2.1 key).
constexpr std::string_view kA2Jwk = R"({"kty":"RSA",
 "n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ",
 "e":"AQAB"
})";
constexpr std::string_view kA2Token =
    "eyJhbGciOiJSUzI1NiJ9." RFC7515_JWT_PAYLOAD
    ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5"
    "jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L"
    "07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUi"
    "pUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";

// RFC 7515 A.3: ECDSA P-256 SHA-256 (public members of the A.3.1 key; "d" follows below).
constexpr std::string_view kA3Jwk = R"({"kty":"EC",
 "crv":"P-256",
 "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
 "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
})";
constexpr std::string_view kA3JwkWithPrivateKey = R"({"kty":"EC",
 "crv":"P-256",
 "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
 "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
 "d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"
})";
constexpr std::string_view kA3Token =
    "eyJhbGciOiJFUzI1NiJ9." RFC7515_JWT_PAYLOAD
    ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

// RFC 7515 A.4: ECDSA P-521 SHA-512 over the payload "Payload".
constexpr std::string_view kA4Jwk = R"({"kty":"EC",
 "crv":"P-521",
 "x":"AekpBQ8ST8a8VcfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5EOnYG_NjFZ6OvLFV1jSfS9tsz4qUxcWceqwQGk",
 "y":"ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2Th-x3S1WDhjDly79ajL4Kkd0AZMaZmh9ubmf63e3kyMj2"
})";
constexpr std::string_view kA4Token =
    "eyJhbGciOiJFUzUxMiJ9.UGF5bG9hZA."
    "AdwMgeerwtHoh-l192l60hp9wAHZFVJbLfD_UxMi70cwnZOYaRI1bKPWROc-mZZqwqT2SI-KGDKB34XO0aw_7XdtAG8Ga"
    "SwFKdCAPZgoXD2YBJZCPEX3xKpRwcdOO8KpEHwJjyqOgzDO7iKvU8vcnwNrmxYbSW9ERBXukOXolLzeO_Jn";

// RFC 8037 A.4: Ed25519 over "Example of Ed25519 signing" (A.2 public key; A.1 secret "d").
constexpr std::string_view kRfc8037Jwk =
    R"({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})";
constexpr std::string_view kRfc8037SecretD = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
constexpr std::string_view kRfc8037Token =
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

struct Vector {
  std::string_view name;
  std::string_view jwk;
  Algorithm alg;
  std::string_view token;
  std::string_view payload;  // decoded
};
void PrintTo(const Vector& v, std::ostream* os) {
  *os << v.name;
}

constexpr std::string_view kJwtPayload =
    "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";

const Vector kVectors[] = {
    {"Rfc7515A1HS256", kA1Jwk, Algorithm::HS256, kA1Token, kJwtPayload},
    {"Rfc7515A2RS256", kA2Jwk, Algorithm::RS256, kA2Token, kJwtPayload},
    {"Rfc7515A3ES256", kA3Jwk, Algorithm::ES256, kA3Token, kJwtPayload},
    {"Rfc7515A4ES512", kA4Jwk, Algorithm::ES512, kA4Token, "Payload"},
    {"Rfc8037A4EdDSA", kRfc8037Jwk, Algorithm::EdDSA, kRfc8037Token, "Example of Ed25519 signing"},
};

class RfcVector : public testing::TestWithParam<Vector> {
 protected:
  VerificationKey key() const { return unwrap(key_from_jwk_json(GetParam().jwk, GetParam().alg)); }

  // Parse and verify; the failure, if any.
  static std::optional<AuthError> refusal(std::string_view token, const VerificationKey& key) {
    auto jws = parse_compact(token);
    if (!jws) return jws.error();
    auto verified = verify_signature(*jws, key);
    if (!verified) return verified.error();
    return std::nullopt;
  }
};

std::vector<std::string> segments_of(std::string_view token) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t dot; (dot = token.find('.', start)) != std::string_view::npos; start = dot + 1) {
    parts.emplace_back(token.substr(start, dot - start));
  }
  parts.emplace_back(token.substr(start));
  return parts;
}

TEST_P(RfcVector, Verifies) {
  const auto& v = GetParam();
  const VerificationKey k = key();
  auto jws = parse_compact(v.token);
  ASSERT_TRUE(jws.ok()) << jws.error().detail;
  EXPECT_EQ(jws->header.alg, v.alg);
  EXPECT_EQ(jws->payload, v.payload);
  auto verified = verify_signature(*jws, k);
  EXPECT_TRUE(verified.ok()) << verified.error().detail;
}

// Each bit of each decoded segment, re-encoded canonically: the token stays well-formed
// base64url, so the signature (or the header check) must catch the change.
TEST_P(RfcVector, FailsWithAnyDecodedBitFlipped) {
  const VerificationKey k = key();
  const auto segments = segments_of(GetParam().token);
  ASSERT_EQ(segments.size(), 3u);
  int tried = 0;
  for (std::size_t s = 0; s < 3; ++s) {
    const std::string bytes = *base64url_decode(segments[s]);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        std::string flipped = bytes;
        flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
        std::vector<std::string> parts = segments;
        parts[s] = base64url_encode(flipped);
        const std::string token = parts[0] + "." + parts[1] + "." + parts[2];
        const auto failure = refusal(token, k);
        ASSERT_TRUE(failure.has_value()) << "segment " << s << " byte " << i << " bit " << bit;
        if (s > 0) {
          EXPECT_EQ(failure->reason, AuthFailure::bad_signature);
        }
        ++tried;
      }
    }
  }
  EXPECT_GT(tried, 8 * 64);
}

// Each bit of each character of the token text: what decodes differently, or not at all
// (a character outside the alphabet, non-canonical trailing bits, a new '.'), is refused.
TEST_P(RfcVector, FailsWithAnyTextBitFlipped) {
  const VerificationKey k = key();
  const std::string token(GetParam().token);
  for (std::size_t i = 0; i < token.size(); ++i) {
    if (token[i] == '.') continue;
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = token;
      flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
      EXPECT_TRUE(refusal(flipped, k).has_value()) << "char " << i << " bit " << bit;
    }
  }
}

TEST_P(RfcVector, FailsWithAnotherKeyOfTheSameAlgorithm) {
  const auto& v = GetParam();
  const VerificationKey other = verification_key(key_material(v.alg), v.alg);
  const auto failure = refusal(v.token, other);
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->reason, AuthFailure::bad_signature);
}

INSTANTIATE_TEST_SUITE_P(KnownAnswers, RfcVector, testing::ValuesIn(kVectors),
                         [](const testing::TestParamInfo<Vector>& info) {
                           return std::string(info.param.name);
                         });

// RFC 7515 A.1 and RFC 8037 A.4 are deterministic: signing reproduces them byte for byte.
TEST(RfcSigning, Rfc7515A1HS256IsReproduced) {
  const auto segments = segments_of(kA1Token);
  const std::string secret = *base64url_decode(
      "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow");
  const SigningKey key = unwrap(SigningKey::from_hmac_secret(secret, Algorithm::HS256));
  auto token = sign_compact(*base64url_decode(segments[0]), *base64url_decode(segments[1]), key);
  ASSERT_TRUE(token.ok()) << token.error().detail;
  EXPECT_EQ(*token, kA1Token);
}

TEST(RfcSigning, Rfc8037A4Ed25519IsReproduced) {
  const std::string d = *base64url_decode(kRfc8037SecretD);
  Pkey raw(EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(d.data()), d.size()));
  ASSERT_TRUE(raw);
  const SigningKey key =
      unwrap(SigningKey::from_private_pem(private_pem(raw.get()), Algorithm::EdDSA));
  const std::string input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
  EXPECT_EQ(input + "." + b64(unwrap(key.sign(input))), kRfc8037Token);
  // And the derived public key is the RFC's "x".
  const auto jwk = public_jwk(unwrap(key.verification_key()));
  ASSERT_TRUE(jwk.has_value());
  EXPECT_EQ(jwk->at("x").as_string(), "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
}

// The A.3.1 key as printed holds "d": a verification key must be public, so it is refused.
TEST(RfcKeys, Rfc7515A3PrivateJwkIsRefusedAsAVerificationKey) {
  auto key = key_from_jwk_json(kA3JwkWithPrivateKey, Algorithm::ES256);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.error().reason, AuthFailure::invalid_key);
}

TEST(RfcKeys, Rfc7515A2KeyIs2048Bits) {
  const VerificationKey key = unwrap(key_from_jwk_json(kA2Jwk, Algorithm::RS256));
  EXPECT_EQ(EVP_PKEY_get_bits(key.public_key()), 2048);
}

// The A.1 claims (exp 1300819380, 2011-03-22T18:43:00Z) through the claims check.
TEST(RfcClaims, Rfc7515A1ClaimsAreValidBeforeExpAndExpiredAfter) {
  const std::string payload(kJwtPayload);
  ClaimsPolicy policy;
  policy.issuer = "joe";
  const auto at = [](int64_t s) {
    return std::chrono::system_clock::time_point(std::chrono::seconds(s));
  };
  auto before = validate_claims(payload, policy, at(1300819380 - 60));
  ASSERT_TRUE(before.ok()) << before.error().detail;
  EXPECT_TRUE(before->claims.at("http://example.com/is_root").as_bool());
  auto after = validate_claims(payload, policy, at(1300819380 + 30));
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().reason, AuthFailure::expired);
}

}  // namespace
}  // namespace bulwark::auth
