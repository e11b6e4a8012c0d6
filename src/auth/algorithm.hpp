#pragma once
// The JWS algorithms bulwark implements (RFC 7518 §3.1, RFC 8037 §3.1 for EdDSA with
// Ed25519 only). A key pins one of these; the token's "alg" never chooses the key type.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace bulwark::auth {

// clang-format off
enum class Algorithm : uint8_t {
  HS256, HS384, HS512,  // HMAC with SHA-2 (RFC 7518 §3.2)
  RS256, RS384, RS512,  // RSASSA-PKCS1-v1_5 (RFC 7518 §3.3)
  PS256, PS384, PS512,  // RSASSA-PSS, salt length = hash length (RFC 7518 §3.5)
  ES256, ES384, ES512,  // ECDSA P-256/P-384/P-521, raw R||S signatures (RFC 7518 §3.4)
  EdDSA,                // Ed25519 (RFC 8037 §3.1); Ed448 is not supported
};
// clang-format on

inline constexpr std::array<Algorithm, 13> kAllAlgorithms = {
    Algorithm::HS256, Algorithm::HS384, Algorithm::HS512, Algorithm::RS256, Algorithm::RS384,
    Algorithm::RS512, Algorithm::PS256, Algorithm::PS384, Algorithm::PS512, Algorithm::ES256,
    Algorithm::ES384, Algorithm::ES512, Algorithm::EdDSA};

enum class AlgorithmFamily : uint8_t { hmac, rsa_pkcs1, rsa_pss, ecdsa, eddsa };

// "HS256", ..., "EdDSA": the registered JWA names.
std::string_view algorithm_name(Algorithm alg);

// Exact, case-sensitive match of a registered name (RFC 7515 §4.1.1: "alg" is a
// case-sensitive string). "none" and anything unknown give nullopt.
std::optional<Algorithm> algorithm_from_name(std::string_view name);

AlgorithmFamily algorithm_family(Algorithm alg);

// Output size of the SHA-2 hash the algorithm uses: 32, 48 or 64 bytes; 0 for EdDSA,
// which hashes internally.
std::size_t hash_size_bytes(Algorithm alg);

// Length of an ECDSA JWS signature, R||S each padded to the curve's field size
// (RFC 7518 §3.4): 64 for ES256, 96 for ES384, 132 for ES512; 0 for other families.
std::size_t ecdsa_signature_bytes(Algorithm alg);

}  // namespace bulwark::auth
