#pragma once
// Bearer token → verified claims, the way the gateway and `bulwark token verify --config`
// both do it. The token's "iss" (read before the signature is checked, only to choose) picks
// one configured issuer; only that issuer's keys are tried, by kid when the token has one;
// the claims are then checked against that issuer's policy. Verified tokens are cached until
// their exp (token_cache.hpp), under a key generation that any key change bumps.
//
// Thread-safe: the issuers are immutable after construction, remote key sets and the cache
// lock internally.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/claims.hpp"
#include "auth/error.hpp"
#include "auth/remote_key_set.hpp"
#include "auth/token_cache.hpp"
#include "auth/verification_key.hpp"

namespace bulwark::auth {

struct Issuer {
  std::string name;                   // the config's name for it (routes refer to it)
  ClaimsPolicy policy;                // policy.issuer is the exact "iss"
  std::vector<VerificationKey> keys;  // secrets, PEMs and JWKS files, fixed at load
  std::vector<std::shared_ptr<RemoteKeySet>> remote_keys;  // jwks_url sources
};

// A set of issuers by index; routes accept a subset, as a bit mask (at most 64 issuers).
using IssuerMask = uint64_t;
inline constexpr std::size_t kMaxIssuers = 64;
inline constexpr IssuerMask kAllIssuers = ~IssuerMask{0};

// What is known of a token for the failure log line, even when it fails: attacker-chosen
// text, so each is cut to 128 bytes and must be escaped by whoever prints it.
struct TokenFacts {
  std::optional<std::string> alg;
  std::optional<std::string> kid;
  std::optional<std::string> iss;
};

struct Authenticated {
  std::shared_ptr<const VerifiedClaims> claims;
  std::size_t issuer = 0;  // index into issuers()
  bool cached = false;     // served by the verified-token cache
};

class Authenticator {
 public:
  // `issuers` at most kMaxIssuers. `generation` must outlive the authenticator and be the
  // one the remote key sets bump.
  Authenticator(std::vector<Issuer> issuers, KeyGeneration& generation, std::size_t cache_entries);

  // `allowed`: the issuers the caller accepts. Refusals are those of parse_compact,
  // verify_signature and validate_claims, plus: issuer_mismatch when "iss" names no
  // allowed issuer; unknown_key when no key of the issuer has the token's kid (a remote set
  // is then asked for an early refetch) or alg. `facts` (optional) is filled as far as the
  // token could be read.
  Result<Authenticated> authenticate(std::string_view token, IssuerMask allowed,
                                     std::chrono::system_clock::time_point now,
                                     TokenFacts* facts = nullptr);

  // As authenticate, but only the JWS layer: the issuer's keys and the signature; the
  // claims are not validated. The payload is returned as sent. For `bulwark token verify
  // --signature-only`.
  Result<std::string> verify_signature_only(std::string_view token, IssuerMask allowed,
                                            TokenFacts* facts = nullptr);

  const std::vector<Issuer>& issuers() const noexcept { return issuers_; }
  std::optional<std::size_t> issuer_index(std::string_view name) const;
  VerifiedTokenCache::Stats cache_stats() const noexcept { return cache_.stats(); }

 private:
  struct Verified;
  Result<Verified> verify(std::string_view token, IssuerMask allowed, TokenFacts* facts);

  std::vector<Issuer> issuers_;
  KeyGeneration& generation_;
  VerifiedTokenCache cache_;
};

}  // namespace bulwark::auth
