#pragma once
// What a key must be to serve a pinned algorithm. Checked once, when a key is loaded, so a
// weak or mismatched key is a load error and never a per-request surprise. Internal to
// src/auth/ (verification and signing keys share these rules).

#include <openssl/types.h>

#include <cstddef>
#include <string_view>

#include "auth/algorithm.hpp"
#include "auth/error.hpp"

namespace bulwark::auth {

// RSA moduli under 2048 bits are refused (RFC 7518 §3.3 and §3.5: "2048 bits or larger").
inline constexpr int kMinRsaModulusBits = 2048;
// Verification cost grows with the modulus and the exponent: a key set fetched from a URL
// must not make each request cost milliseconds.
inline constexpr int kMaxRsaModulusBits = 8192;
inline constexpr int kMaxRsaExponentBits = 32;

// An HMAC secret must hold at least as many bytes as the hash output (RFC 7518 §3.2: "a key
// of the same size as the hash output ... or larger MUST be used"): 32 for HS256, 48 for
// HS384, 64 for HS512. 32 bytes is also the gateway's floor for any HS secret.
std::size_t min_hmac_secret_bytes(Algorithm alg);

Result<void> check_hmac_secret(std::string_view secret, Algorithm alg);

// The key's type fits the algorithm: RSA (not RSA-PSS-restricted) of at least 2048 bits for
// RS*/PS*; an EC key on P-256/P-384/P-521 for ES256/ES384/ES512; Ed25519 for EdDSA.
Result<void> check_key_fits(const EVP_PKEY* key, Algorithm alg);

}  // namespace bulwark::auth
