#pragma once
// Minting tokens, for `bulwark token` and for tests: a key that signs for one algorithm, and
// the JWS Compact Serialization of a header and payload (RFC 7515 §7.1). The gateway itself
// never signs.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "auth/algorithm.hpp"
#include "auth/error.hpp"
#include "auth/verification_key.hpp"

namespace bulwark::auth {

class SigningKey {
 public:
  // Same size rules as VerificationKey::from_hmac_secret.
  static Result<SigningKey> from_hmac_secret(std::string_view secret, Algorithm alg,
                                             std::optional<std::string> kid = std::nullopt);

  // An unencrypted PEM private key ("PRIVATE KEY" PKCS#8, or "RSA/EC PRIVATE KEY"); its type
  // must fit `alg` like a verification key's (key_requirements.hpp).
  static Result<SigningKey> from_private_pem(std::string_view pem, Algorithm alg,
                                             std::optional<std::string> kid = std::nullopt);

  SigningKey(SigningKey&&) noexcept;
  SigningKey& operator=(SigningKey&&) noexcept;
  ~SigningKey();

  Algorithm algorithm() const noexcept;
  const std::optional<std::string>& kid() const noexcept;

  // The JWS Signature octets over `signing_input`: ECDSA as raw R||S (RFC 7518 §3.4),
  // RSA-PSS with salt length = hash length (§3.5), Ed25519 per RFC 8037 §3.1.
  Result<std::string> sign(std::string_view signing_input) const;

  // The key that verifies this key's signatures (same alg and kid).
  Result<VerificationKey> verification_key() const;

 private:
  struct State;
  explicit SigningKey(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// BASE64URL(header) '.' BASE64URL(payload) '.' BASE64URL(signature). The header must pass the
// same checks as a received one (jws.hpp) and name the key's alg; the payload must be a JSON
// object without duplicate members. The JSON texts are encoded as given, byte for byte.
Result<std::string> sign_compact(std::string_view header_json, std::string_view payload_json,
                                 const SigningKey& key);

}  // namespace bulwark::auth
