#pragma once
// JWS Compact Serialization (RFC 7515 §7.1): parse a token into its protected header,
// payload and signature, then check the signature with one configured key. Pure functions;
// claims are checked apart (claims.hpp) so a bad signature and a bad claim stay distinct.
//
// Header rules (RFC 7515 §4.1), strictest reading:
//   - "alg" is required and case-sensitive; "none" in any case is refused (an unsecured JWS
//     is never accepted), and so is any alg bulwark does not implement.
//   - "crit", when present, must be a non-empty array of strings (§4.1.11) and is then
//     refused: bulwark understands no extension, so every listed one is unknown.
//   - "kid" and "typ", when present, must be strings. "kid" is an opaque lookup key.
//   - "jku", "x5u", "jwk" and "x5c" are ignored: a key named or carried by the token itself
//     is never fetched, parsed or trusted (§10.3 and §10.4 leave this to the application;
//     trusting them would let the token pick its own key). Only configured keys verify.
//   - The header is a JSON object with no duplicate member names (§5.2 step 4).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "auth/algorithm.hpp"
#include "auth/error.hpp"
#include "auth/verification_key.hpp"

namespace bulwark::auth {

// Longer tokens are refused before any decoding (DoS bound; real access tokens are ~1 KiB).
inline constexpr std::size_t kMaxTokenBytes = 8 * 1024;

struct JwsHeader {
  Algorithm alg{};
  std::optional<std::string> kid;
  std::optional<std::string> typ;
};

struct ParsedJws {
  JwsHeader header;
  std::string signing_input;  // ASCII(BASE64URL(header) || '.' || BASE64URL(payload))
  std::string payload;        // decoded payload octets: the claims set JSON for a JWT
  std::string signature;      // decoded signature octets
};

// The decoded protected header (JSON text) checked against the rules above.
Result<JwsHeader> parse_jws_header(std::string_view header_json);

// Refuses: over kMaxTokenBytes (token_too_large); 5 segments, a JWE (encrypted_token);
// any other count but 3, an empty header or signature segment, bad base64url or a bad
// header (malformed); alg "none" or unknown (unsupported_alg); "crit" (unsupported_crit).
Result<ParsedJws> parse_compact(std::string_view token);

// The key's pinned alg must equal the header's exactly (alg_mismatch otherwise), then the
// signature must verify (bad_signature). The token's header never chooses the key type.
Result<void> verify_signature(const ParsedJws& jws, const VerificationKey& key);

}  // namespace bulwark::auth
