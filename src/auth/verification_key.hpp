#pragma once
// A key that checks JWS signatures for exactly one algorithm (DESIGN.md: a key pins its
// algorithm; the token's "alg" never chooses the key type). Built once at load from an HMAC
// secret, a PEM public key or a JWK (jwk.hpp); immutable after, and safe to share between
// threads: verify() keeps its working state on the stack.

#include <openssl/types.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "auth/algorithm.hpp"
#include "auth/error.hpp"

namespace bulwark::auth {

class VerificationKey {
 public:
  // The secret's raw bytes. Refused when shorter than the hash output: 32 bytes for HS256,
  // 48 for HS384, 64 for HS512 (RFC 7518 §3.2), or when `alg` is not an HS algorithm.
  static Result<VerificationKey> from_hmac_secret(std::string_view secret, Algorithm alg,
                                                  std::optional<std::string> kid = std::nullopt);

  // A "-----BEGIN PUBLIC KEY-----" (SubjectPublicKeyInfo) PEM. Refused when it holds a
  // private key, is encrypted, or its key does not fit `alg` (RSA under 2048 bits, an EC key
  // on another curve, a key of another type: key_requirements.hpp).
  static Result<VerificationKey> from_public_pem(std::string_view pem, Algorithm alg,
                                                 std::optional<std::string> kid = std::nullopt);

  // Takes ownership of `public_key` (freed on refusal too), e.g. one built from a JWK.
  static Result<VerificationKey> from_public_key(EVP_PKEY* public_key, Algorithm alg,
                                                 std::optional<std::string> kid = std::nullopt);

  VerificationKey(VerificationKey&&) noexcept;
  VerificationKey& operator=(VerificationKey&&) noexcept;
  ~VerificationKey();

  Algorithm algorithm() const noexcept;
  // The JWK "kid" or configured key id; an opaque string compared byte for byte.
  const std::optional<std::string>& kid() const noexcept;
  bool is_hmac() const noexcept;
  // The OpenSSL public key, borrowed; null for HMAC keys.
  const EVP_PKEY* public_key() const noexcept;

  // Checks the decoded JWS Signature over the JWS Signing Input (RFC 7515 §5.2 step 8) for
  // this key's algorithm. Callers compare the header's alg first (jws.hpp). Fails with
  // bad_signature, or crypto_error when OpenSSL itself fails.
  Result<void> verify(std::string_view signing_input, std::string_view signature) const;

 private:
  struct State;
  explicit VerificationKey(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace bulwark::auth
