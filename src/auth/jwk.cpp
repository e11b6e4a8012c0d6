#include "auth/jwk.hpp"

#include <openssl/core_names.h>

#include <algorithm>
#include <array>

#include "auth/base64url.hpp"
#include "auth/openssl_handles.hpp"
#include "auth/strict_json.hpp"

namespace bulwark::auth {
namespace {

namespace json = boost::json;

AuthError invalid(std::string detail) {
  return auth_error(AuthFailure::invalid_key, "JWK: " + std::move(detail));
}

struct CurveInfo {
  std::string_view jose_name;    // "crv" (RFC 7518 §6.2.1.1)
  const char* openssl_name;      // OSSL_PKEY_PARAM_GROUP_NAME
  std::size_t coordinate_bytes;  // full length of x and y (§6.2.1.2, §6.2.1.3)
};

CurveInfo curve_for(Algorithm alg) {
  switch (alg) {
    case Algorithm::ES384:
      return {"P-384", "secp384r1", 48};
    case Algorithm::ES512:
      return {"P-521", "secp521r1", 66};
    default:
      return {"P-256", "prime256v1", 32};
  }
}

// A required base64url string member, decoded.
Result<std::string> decoded_member(const json::object& jwk, std::string_view name) {
  const auto* v = jwk.if_contains(name);
  if (!v) return invalid("member \"" + std::string(name) + "\" is missing");
  if (!v->is_string()) return invalid("member \"" + std::string(name) + "\" must be a string");
  auto bytes = base64url_decode(std::string_view(v->get_string()));
  if (!bytes) return invalid("member \"" + std::string(name) + "\" is not unpadded base64url");
  if (bytes->empty()) return invalid("member \"" + std::string(name) + "\" is empty");
  return std::move(*bytes);
}

Result<std::optional<std::string>> optional_string(const json::object& jwk, std::string_view name) {
  const auto* v = jwk.if_contains(name);
  if (!v) return std::optional<std::string>{};
  if (!v->is_string()) return invalid("member \"" + std::string(name) + "\" must be a string");
  return std::optional<std::string>(std::string(v->get_string()));
}

// EVP_PKEY from OSSL_PARAMs, the OpenSSL 3 way to build a key from its numbers.
Result<EVP_PKEY*> key_from_params(const char* type, OSSL_PARAM_BLD* builder) {
  ossl::ParamPtr params(OSSL_PARAM_BLD_to_param(builder));
  ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return invalid("not a valid public key: " + ossl::take_error("rejected by OpenSSL"));
  }
  return key;
}

Result<VerificationKey> rsa_key(const json::object& jwk, Algorithm alg,
                                std::optional<std::string> kid) {
  auto n = decoded_member(jwk, "n");
  if (!n) return std::move(n).error();
  auto e = decoded_member(jwk, "e");
  if (!e) return std::move(e).error();
  // Leading zero octets are tolerated in n (some issuers emit them); the bit count decides.
  ossl::BignumPtr modulus(BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()),
                                    static_cast<int>(n->size()), nullptr));
  ossl::BignumPtr exponent(BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()),
                                     static_cast<int>(e->size()), nullptr));
  ossl::ParamBldPtr builder(OSSL_PARAM_BLD_new());
  if (!modulus || !exponent || !builder ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, modulus.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, exponent.get()) != 1) {
    return auth_error(AuthFailure::crypto_error, ossl::take_error("out of memory"));
  }
  auto key = key_from_params("RSA", builder.get());
  if (!key) return std::move(key).error();
  return VerificationKey::from_public_key(*key, alg, std::move(kid));
}

Result<VerificationKey> ec_key(const json::object& jwk, Algorithm alg,
                               std::optional<std::string> kid) {
  const CurveInfo curve = curve_for(alg);
  const auto* crv = jwk.if_contains("crv");
  if (!crv || !crv->is_string()) return invalid("EC key needs a \"crv\" string");
  if (std::string_view(crv->get_string()) != curve.jose_name) {
    return invalid("crv does not fit " + std::string(algorithm_name(alg)) + ", which needs " +
                   std::string(curve.jose_name));
  }
  auto x = decoded_member(jwk, "x");
  if (!x) return std::move(x).error();
  auto y = decoded_member(jwk, "y");
  if (!y) return std::move(y).error();
  if (x->size() != curve.coordinate_bytes || y->size() != curve.coordinate_bytes) {
    return invalid("x and y must be " + std::to_string(curve.coordinate_bytes) +
                   " bytes each for " + std::string(curve.jose_name) + " (RFC 7518 §6.2.1.2)");
  }
  std::string point = "\x04" + *x + *y;  // SEC 1 uncompressed point
  ossl::ParamBldPtr builder(OSSL_PARAM_BLD_new());
  if (!builder ||
      OSSL_PARAM_BLD_push_utf8_string(builder.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve.openssl_name,
                                      0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return auth_error(AuthFailure::crypto_error, ossl::take_error("out of memory"));
  }
  auto key = key_from_params("EC", builder.get());
  if (!key) return std::move(key).error();
  ossl::PkeyPtr owned(*key);
  ossl::PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, owned.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    return invalid("EC point is not on " + std::string(curve.jose_name) + ": " +
                   ossl::take_error("public key check failed"));
  }
  return VerificationKey::from_public_key(owned.release(), alg, std::move(kid));
}

Result<VerificationKey> okp_key(const json::object& jwk, Algorithm alg,
                                std::optional<std::string> kid) {
  const auto* crv = jwk.if_contains("crv");
  if (!crv || !crv->is_string()) return invalid("OKP key needs a \"crv\" string");
  const std::string_view name(crv->get_string());
  if (name == "X25519" || name == "X448") {
    return invalid("OKP curve is for key agreement, not signatures (RFC 8037 §3.2)");
  }
  if (name != "Ed25519") return invalid("OKP curve must be Ed25519 (Ed448 is not supported)");
  if (alg != Algorithm::EdDSA) {
    return invalid("an Ed25519 key cannot serve " + std::string(algorithm_name(alg)));
  }
  auto x = decoded_member(jwk, "x");
  if (!x) return std::move(x).error();
  if (x->size() != 32) return invalid("Ed25519 \"x\" must be 32 bytes (RFC 8037 §2)");
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(x->data()), x->size());
  if (!key) return invalid("not a valid Ed25519 key: " + ossl::take_error("rejected"));
  return VerificationKey::from_public_key(key, alg, std::move(kid));
}

Result<VerificationKey> oct_key(const json::object& jwk, Algorithm alg,
                                std::optional<std::string> kid) {
  auto k = decoded_member(jwk, "k");
  if (!k) return std::move(k).error();
  auto key = VerificationKey::from_hmac_secret(*k, alg, std::move(kid));
  OPENSSL_cleanse(k->data(), k->size());
  return key;
}

constexpr std::array<std::string_view, 7> kPrivateMembers = {"d",  "p",  "q",  "dp",
                                                             "dq", "qi", "oth"};

}  // namespace

Result<VerificationKey> key_from_jwk(const json::object& jwk, std::optional<Algorithm> alg) {
  const auto* kty_value = jwk.if_contains("kty");
  if (!kty_value || !kty_value->is_string()) return invalid("\"kty\" string is missing");
  const std::string_view kty(kty_value->get_string());

  auto use = optional_string(jwk, "use");
  if (!use) return std::move(use).error();
  if (*use && **use != "sig") return invalid("\"use\" is not \"sig\"");  // RFC 7517 §4.2
  if (const auto* ops = jwk.if_contains("key_ops")) {                    // RFC 7517 §4.3
    const bool verify_allowed =
        ops->is_array() &&
        std::any_of(ops->get_array().begin(), ops->get_array().end(), [](const json::value& op) {
          return op.is_string() && op.get_string() == "verify";
        });
    if (!verify_allowed) return invalid("\"key_ops\" does not allow \"verify\"");
  }
  if (kty != "oct") {
    for (std::string_view name : kPrivateMembers) {
      if (jwk.contains(name)) {
        return invalid("holds private key material (\"" + std::string(name) +
                       "\"); publish and configure only the public key");
      }
    }
  }
  auto kid = optional_string(jwk, "kid");
  if (!kid) return std::move(kid).error();

  auto named = optional_string(jwk, "alg");
  if (!named) return std::move(named).error();
  std::optional<Algorithm> pinned = alg;
  if (*named) {
    const auto own = algorithm_from_name(**named);
    if (!own) return invalid("\"alg\" is not a supported signature algorithm");
    if (alg && *own != *alg) {
      return invalid("\"alg\" " + std::string(algorithm_name(*own)) + " differs from the " +
                     "configured " + std::string(algorithm_name(*alg)));
    }
    pinned = own;
  }
  if (!pinned) return invalid("no \"alg\" member; give the algorithm explicitly");

  const AlgorithmFamily family = algorithm_family(*pinned);
  auto wrong_type = [&] {
    return invalid("kty " + std::string(kty) + " cannot serve " +
                   std::string(algorithm_name(*pinned)));
  };
  if (kty == "RSA") {
    if (family != AlgorithmFamily::rsa_pkcs1 && family != AlgorithmFamily::rsa_pss) {
      return wrong_type();
    }
    return rsa_key(jwk, *pinned, std::move(*kid));
  }
  if (kty == "EC") {
    if (family != AlgorithmFamily::ecdsa) return wrong_type();
    return ec_key(jwk, *pinned, std::move(*kid));
  }
  if (kty == "OKP") {
    if (family != AlgorithmFamily::eddsa) return wrong_type();
    return okp_key(jwk, *pinned, std::move(*kid));
  }
  if (kty == "oct") {
    if (family != AlgorithmFamily::hmac) return wrong_type();
    return oct_key(jwk, *pinned, std::move(*kid));
  }
  return invalid("kty is not RSA, EC, OKP or oct");
}

Result<VerificationKey> key_from_jwk_json(std::string_view text, std::optional<Algorithm> alg) {
  std::string why;
  auto jwk = parse_strict_json_object(text, &why);
  if (!jwk) return invalid("not a valid JSON object: " + why);
  return key_from_jwk(*jwk, alg);
}

const VerificationKey* JwkSet::find(std::string_view kid, Algorithm alg) const {
  for (const auto& key : keys) {
    if (key.kid() && *key.kid() == kid && key.algorithm() == alg) return &key;
  }
  return nullptr;
}

Result<JwkSet> key_set_from_jwks_json(std::string_view text, std::optional<Algorithm> alg) {
  std::string why;
  auto document = parse_strict_json_object(text, &why);
  if (!document) {
    return auth_error(AuthFailure::invalid_key, "JWKS: not a valid JSON object: " + why);
  }
  const auto* entries = document->if_contains("keys");
  if (!entries || !entries->is_array()) {
    return auth_error(AuthFailure::invalid_key, "JWKS: \"keys\" array is missing");
  }
  JwkSet set;
  std::size_t index = 0;
  for (const json::value& entry : entries->get_array()) {
    SkippedJwk skipped{index++, std::nullopt, {}};
    if (!entry.is_object()) {
      skipped.why = "entry is not a JSON object";
      set.skipped.push_back(std::move(skipped));
      continue;
    }
    if (const auto* kid = entry.get_object().if_contains("kid"); kid && kid->is_string()) {
      skipped.kid = std::string(kid->get_string());
    }
    auto key = key_from_jwk(entry.get_object(), alg);
    if (key) {
      set.keys.push_back(std::move(key).value());
    } else {
      skipped.why = key.error().detail;
      set.skipped.push_back(std::move(skipped));
    }
  }
  if (set.keys.empty()) {
    std::string detail = "JWKS: no usable signature key";
    if (!set.skipped.empty()) detail += " (first entry: " + set.skipped.front().why + ")";
    return auth_error(AuthFailure::invalid_key, std::move(detail));
  }
  return set;
}

std::optional<boost::json::object> public_jwk(const VerificationKey& key) {
  const EVP_PKEY* pkey = key.public_key();
  if (!pkey) return std::nullopt;
  json::object jwk;
  auto bignum_member = [&](const char* param, std::size_t width) -> std::optional<std::string> {
    BIGNUM* raw = nullptr;
    if (EVP_PKEY_get_bn_param(pkey, param, &raw) != 1) return std::nullopt;
    ossl::BignumPtr value(raw);
    std::string bytes(width ? width : static_cast<std::size_t>(BN_num_bytes(value.get())), '\0');
    if (BN_bn2binpad(value.get(), reinterpret_cast<unsigned char*>(bytes.data()),
                     static_cast<int>(bytes.size())) < 0) {
      return std::nullopt;
    }
    return base64url_encode(bytes);
  };
  switch (algorithm_family(key.algorithm())) {
    case AlgorithmFamily::rsa_pkcs1:
    case AlgorithmFamily::rsa_pss: {
      auto n = bignum_member(OSSL_PKEY_PARAM_RSA_N, 0);
      auto e = bignum_member(OSSL_PKEY_PARAM_RSA_E, 0);
      if (!n || !e) break;
      jwk["kty"] = "RSA";
      jwk["n"] = *n;
      jwk["e"] = *e;
      break;
    }
    case AlgorithmFamily::ecdsa: {
      const CurveInfo curve = curve_for(key.algorithm());
      auto x = bignum_member(OSSL_PKEY_PARAM_EC_PUB_X, curve.coordinate_bytes);
      auto y = bignum_member(OSSL_PKEY_PARAM_EC_PUB_Y, curve.coordinate_bytes);
      if (!x || !y) break;
      jwk["kty"] = "EC";
      jwk["crv"] = curve.jose_name;
      jwk["x"] = *x;
      jwk["y"] = *y;
      break;
    }
    case AlgorithmFamily::eddsa: {
      unsigned char raw[32];
      std::size_t length = sizeof raw;
      if (EVP_PKEY_get_raw_public_key(pkey, raw, &length) != 1 || length != sizeof raw) break;
      jwk["kty"] = "OKP";
      jwk["crv"] = "Ed25519";
      jwk["x"] = base64url_encode(std::string_view(reinterpret_cast<char*>(raw), length));
      break;
    }
    case AlgorithmFamily::hmac:
      break;
  }
  if (jwk.empty()) {
    ossl::clear_errors();
    return std::nullopt;
  }
  jwk["alg"] = algorithm_name(key.algorithm());
  jwk["use"] = "sig";
  if (key.kid()) jwk["kid"] = *key.kid();
  return jwk;
}

std::size_t drop_symmetric_keys(JwkSet& set) {
  std::vector<VerificationKey> kept;
  for (auto& key : set.keys) {
    if (!key.is_hmac()) {
      kept.push_back(std::move(key));
      continue;
    }
    set.skipped.push_back(
        SkippedJwk{0, key.kid(), "a symmetric (oct) key published at a URL is no secret"});
  }
  set.keys = std::move(kept);
  return set.keys.size();
}

}  // namespace bulwark::auth
