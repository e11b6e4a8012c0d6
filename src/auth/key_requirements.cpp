#include "auth/key_requirements.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

#include <string>

#include "auth/openssl_handles.hpp"

namespace bulwark::auth {
namespace {

std::string for_alg(Algorithm alg) {
  return " for " + std::string(algorithm_name(alg));
}

int curve_nid_for(Algorithm alg) {
  switch (alg) {
    case Algorithm::ES256:
      return NID_X9_62_prime256v1;
    case Algorithm::ES384:
      return NID_secp384r1;
    case Algorithm::ES512:
      return NID_secp521r1;
    default:
      return NID_undef;
  }
}

const char* curve_jose_name(Algorithm alg) {
  switch (alg) {
    case Algorithm::ES256:
      return "P-256";
    case Algorithm::ES384:
      return "P-384";
    case Algorithm::ES512:
      return "P-521";
    default:
      return "?";
  }
}

}  // namespace

std::size_t min_hmac_secret_bytes(Algorithm alg) {
  return hash_size_bytes(alg);
}

Result<void> check_hmac_secret(std::string_view secret, Algorithm alg) {
  if (algorithm_family(alg) != AlgorithmFamily::hmac) {
    return auth_error(AuthFailure::invalid_key,
                      "an HMAC secret cannot serve " + std::string(algorithm_name(alg)));
  }
  const std::size_t min = min_hmac_secret_bytes(alg);
  if (secret.size() < min) {
    return auth_error(AuthFailure::invalid_key, "HMAC secret has " + std::to_string(secret.size()) +
                                                    " bytes; at least " + std::to_string(min) +
                                                    " are required" + for_alg(alg) +
                                                    " (RFC 7518 §3.2)");
  }
  return {};
}

Result<void> check_key_fits(const EVP_PKEY* key, Algorithm alg) {
  const int type = EVP_PKEY_get_base_id(key);
  switch (algorithm_family(alg)) {
    case AlgorithmFamily::hmac:
      return auth_error(AuthFailure::invalid_key, "a public/private key cannot serve " +
                                                      std::string(algorithm_name(alg)) +
                                                      "; HS algorithms take a secret");
    case AlgorithmFamily::rsa_pkcs1:
    case AlgorithmFamily::rsa_pss: {
      if (type == EVP_PKEY_RSA_PSS) {
        return auth_error(
            AuthFailure::invalid_key,
            "RSA-PSS-restricted keys are not supported; use a plain RSA key" + for_alg(alg));
      }
      if (type != EVP_PKEY_RSA) {
        return auth_error(AuthFailure::invalid_key, "key is not an RSA key" + for_alg(alg));
      }
      const int bits = EVP_PKEY_get_bits(key);
      if (bits < kMinRsaModulusBits) {
        return auth_error(AuthFailure::invalid_key,
                          "RSA key has " + std::to_string(bits) +
                              " bits; at least 2048 are required (RFC 7518 §3.3)");
      }
      if (bits > kMaxRsaModulusBits) {
        return auth_error(AuthFailure::invalid_key,
                          "RSA key has " + std::to_string(bits) + " bits; at most " +
                              std::to_string(kMaxRsaModulusBits) + " are accepted");
      }
      // e = 1 would make every value its own signature; an even e is not an RSA key.
      BIGNUM* exponent = nullptr;
      if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &exponent) != 1) {
        ERR_clear_error();
        return auth_error(AuthFailure::invalid_key, "RSA key has no public exponent");
      }
      const ossl::BignumPtr owned_exponent(exponent);
      if (!BN_is_odd(exponent) || BN_is_one(exponent)) {
        return auth_error(AuthFailure::invalid_key,
                          "RSA public exponent must be odd and at least 3");
      }
      if (BN_num_bits(exponent) > kMaxRsaExponentBits) {
        return auth_error(AuthFailure::invalid_key,
                          "RSA public exponent is longer than 32 bits (65537 is the usual one)");
      }
      return {};
    }
    case AlgorithmFamily::ecdsa: {
      if (type != EVP_PKEY_EC) {
        return auth_error(AuthFailure::invalid_key, "key is not an EC key" + for_alg(alg));
      }
      char group[64] = {};
      std::size_t length = 0;
      if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                         &length) != 1 ||
          OBJ_txt2nid(group) != curve_nid_for(alg)) {
        ERR_clear_error();
        return auth_error(AuthFailure::invalid_key, std::string("EC key is not on curve ") +
                                                        curve_jose_name(alg) + for_alg(alg) +
                                                        " (RFC 7518 §3.4)");
      }
      return {};
    }
    case AlgorithmFamily::eddsa:
      if (type != EVP_PKEY_ED25519) {
        return auth_error(AuthFailure::invalid_key,
                          "key is not an Ed25519 key for EdDSA (only Ed25519 is supported)");
      }
      return {};
  }
  return auth_error(AuthFailure::invalid_key, "unsupported algorithm");
}

}  // namespace bulwark::auth
