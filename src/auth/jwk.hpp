#pragma once
// JSON Web Keys (RFC 7517) and JWK Sets → verification keys. Every key must end up pinned to
// one algorithm: its "alg" member, or the one the caller gives (config); when both are
// present they must agree.
//
// A JWK is refused when: "kty" is not RSA, EC, OKP or oct; "use" is present and not "sig";
// "key_ops" is present and lacks "verify"; it holds private members ("d", "p", "q", "dp",
// "dq", "qi", "oth": a private key published as a verification key is a leak to fix, not to
// work around); its kty or crv does not fit the alg (kty EC with crv Ed25519, an RSA key for
// ES256, a P-384 key for ES256); coordinates are not the curve's full length (RFC 7518
// §6.2.1.2) or not on the curve; the key is too weak (RSA < 2048 bits, HMAC secret shorter
// than the hash). "x5c", "x5t", "x5u" are ignored: the key material is n/e, x/y or k.

#include <boost/json/object.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/algorithm.hpp"
#include "auth/error.hpp"
#include "auth/verification_key.hpp"

namespace bulwark::auth {

// `alg` pins the algorithm when the JWK has no "alg" member, or must agree with it.
Result<VerificationKey> key_from_jwk(const boost::json::object& jwk,
                                     std::optional<Algorithm> alg = std::nullopt);
Result<VerificationKey> key_from_jwk_json(std::string_view json,
                                          std::optional<Algorithm> alg = std::nullopt);

struct SkippedJwk {
  std::size_t index = 0;           // position in "keys"
  std::optional<std::string> kid;  // when the entry had a string kid
  std::string why;
};

struct JwkSet {
  std::vector<VerificationKey> keys;
  std::vector<SkippedJwk> skipped;  // entries not usable for verifying signatures, and why

  // The first key whose kid equals `kid` byte for byte and whose alg is `alg`, or null. A kid
  // is an opaque string: never a path, a query or a pattern.
  const VerificationKey* find(std::string_view kid, Algorithm alg) const;
};

// {"keys": [...]}: entries that cannot verify signatures (use "enc", an encryption alg,
// X25519, a broken entry...) are skipped and listed with the reason; the set is refused only
// when the document itself is bad or no entry is usable, so one odd key in an identity
// provider's set does not take the others down. With `alg` given, entries with another
// "alg" are skipped and entries without one take `alg`.
Result<JwkSet> key_set_from_jwks_json(std::string_view json,
                                      std::optional<Algorithm> alg = std::nullopt);

// Moves the HMAC (kty "oct") keys of `set` to its skipped list. For key sets fetched from a
// URL: a secret published at an address anyone can read is no secret, and accepting it would
// let any reader mint tokens. Returns the number of keys left.
std::size_t drop_symmetric_keys(JwkSet& set);

// The public JWK of an RSA, EC or Ed25519 key, with "alg", "use": "sig" and "kid" when set;
// nullopt for HMAC keys (a secret is never exported by accident). For `bulwark keys` and
// round-trip tests.
std::optional<boost::json::object> public_jwk(const VerificationKey& key);

}  // namespace bulwark::auth
