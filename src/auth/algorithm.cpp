#include "auth/algorithm.hpp"

namespace bulwark::auth {

std::string_view algorithm_name(Algorithm alg) {
  switch (alg) {
    case Algorithm::HS256:
      return "HS256";
    case Algorithm::HS384:
      return "HS384";
    case Algorithm::HS512:
      return "HS512";
    case Algorithm::RS256:
      return "RS256";
    case Algorithm::RS384:
      return "RS384";
    case Algorithm::RS512:
      return "RS512";
    case Algorithm::PS256:
      return "PS256";
    case Algorithm::PS384:
      return "PS384";
    case Algorithm::PS512:
      return "PS512";
    case Algorithm::ES256:
      return "ES256";
    case Algorithm::ES384:
      return "ES384";
    case Algorithm::ES512:
      return "ES512";
    case Algorithm::EdDSA:
      return "EdDSA";
  }
  return "?";
}

std::optional<Algorithm> algorithm_from_name(std::string_view name) {
  for (Algorithm alg : kAllAlgorithms) {
    if (algorithm_name(alg) == name) return alg;
  }
  return std::nullopt;
}

AlgorithmFamily algorithm_family(Algorithm alg) {
  switch (alg) {
    case Algorithm::HS256:
    case Algorithm::HS384:
    case Algorithm::HS512:
      return AlgorithmFamily::hmac;
    case Algorithm::RS256:
    case Algorithm::RS384:
    case Algorithm::RS512:
      return AlgorithmFamily::rsa_pkcs1;
    case Algorithm::PS256:
    case Algorithm::PS384:
    case Algorithm::PS512:
      return AlgorithmFamily::rsa_pss;
    case Algorithm::ES256:
    case Algorithm::ES384:
    case Algorithm::ES512:
      return AlgorithmFamily::ecdsa;
    case Algorithm::EdDSA:
      return AlgorithmFamily::eddsa;
  }
  return AlgorithmFamily::hmac;
}

std::size_t hash_size_bytes(Algorithm alg) {
  switch (alg) {
    case Algorithm::HS256:
    case Algorithm::RS256:
    case Algorithm::PS256:
    case Algorithm::ES256:
      return 32;
    case Algorithm::HS384:
    case Algorithm::RS384:
    case Algorithm::PS384:
    case Algorithm::ES384:
      return 48;
    case Algorithm::HS512:
    case Algorithm::RS512:
    case Algorithm::PS512:
    case Algorithm::ES512:
      return 64;
    case Algorithm::EdDSA:
      return 0;
  }
  return 0;
}

std::size_t ecdsa_signature_bytes(Algorithm alg) {
  switch (alg) {
    case Algorithm::ES256:
      return 2 * 32;
    case Algorithm::ES384:
      return 2 * 48;
    case Algorithm::ES512:
      return 2 * 66;  // P-521: 521 bits round up to 66 bytes
    default:
      return 0;
  }
}

}  // namespace bulwark::auth
