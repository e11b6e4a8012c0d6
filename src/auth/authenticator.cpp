#include "auth/authenticator.hpp"

#include "auth/jws.hpp"
#include "auth/strict_json.hpp"

namespace bulwark::auth {
namespace {

// A token can make bulwark try several keys (keys without a kid are tried for any token):
// this bounds the signature checks one token can cost.
constexpr std::size_t kMaxVerifyAttempts = 8;
constexpr std::size_t kMaxFactBytes = 128;

std::string fact(std::string_view text) {
  return std::string(text.substr(0, kMaxFactBytes));
}

bool allows(IssuerMask mask, std::size_t index) {
  return index < kMaxIssuers && (mask >> index) & 1u;
}

// Tries the keys that may have signed `jws`, in order, until one verifies.
class KeySearch {
 public:
  explicit KeySearch(const ParsedJws& jws) : jws_(jws) {}

  void try_key(const VerificationKey& key) {
    if (verified_ || attempts_ >= kMaxVerifyAttempts) return;
    const auto& kid = jws_.header.kid;
    if (kid && key.kid() && *key.kid() != *kid) return;
    if (key.algorithm() != jws_.header.alg) {
      if (kid && key.kid()) other_alg_ = true;
      return;
    }
    if (kid && key.kid()) kid_found_ = true;
    ++attempts_;
    auto result = verify_signature(jws_, key);
    if (result) {
      verified_ = true;
    } else if (!last_error_) {
      last_error_ = std::move(result).error();
    }
  }

  bool verified() const { return verified_; }
  bool kid_found() const { return kid_found_; }

  AuthError failure() const {
    if (last_error_) return *last_error_;
    if (other_alg_) {
      return auth_error(AuthFailure::alg_mismatch,
                        "the key with this kid is pinned to another algorithm");
    }
    if (jws_.header.kid) {
      return auth_error(AuthFailure::unknown_key, "no key of the issuer has the token's kid");
    }
    return auth_error(AuthFailure::unknown_key, "no key of the issuer is for " +
                                                    std::string(algorithm_name(jws_.header.alg)));
  }

 private:
  const ParsedJws& jws_;
  std::size_t attempts_ = 0;
  bool verified_ = false;
  bool kid_found_ = false;
  bool other_alg_ = false;
  std::optional<AuthError> last_error_;
};

}  // namespace

struct Authenticator::Verified {
  boost::json::object claims;
  std::size_t issuer = 0;
  std::string payload;
};

Authenticator::Authenticator(std::vector<Issuer> issuers, KeyGeneration& generation,
                             std::size_t cache_entries)
    : issuers_(std::move(issuers)),
      generation_(generation),
      cache_(VerifiedTokenCache::Options{.max_entries = cache_entries}) {
  if (issuers_.size() > kMaxIssuers) issuers_.resize(kMaxIssuers);
}

std::optional<std::size_t> Authenticator::issuer_index(std::string_view name) const {
  for (std::size_t i = 0; i < issuers_.size(); ++i) {
    if (issuers_[i].name == name) return i;
  }
  return std::nullopt;
}

Result<Authenticator::Verified> Authenticator::verify(std::string_view token, IssuerMask allowed,
                                                      TokenFacts* facts) {
  auto jws = parse_compact(token);
  if (!jws) return std::move(jws).error();
  if (facts) {
    facts->alg = std::string(algorithm_name(jws->header.alg));
    if (jws->header.kid) facts->kid = fact(*jws->header.kid);
  }
  std::string why;
  auto claims = parse_strict_json_object(jws->payload, &why);
  if (!claims) {
    return auth_error(AuthFailure::malformed, "claims set is not a valid JSON object: " + why);
  }
  // "iss" only chooses whose keys to try; validate_claims checks it again afterwards.
  const auto* iss = claims->if_contains("iss");
  if (iss == nullptr) return auth_error(AuthFailure::missing_claim, "iss is missing");
  if (!iss->is_string()) return auth_error(AuthFailure::invalid_claim, "iss is not a string");
  std::string_view iss_text = iss->get_string();
  if (facts) facts->iss = fact(iss_text);
  std::optional<std::size_t> chosen;
  for (std::size_t i = 0; i < issuers_.size(); ++i) {
    if (allows(allowed, i) && issuers_[i].policy.issuer == iss_text) chosen = i;
  }
  if (!chosen) {
    return auth_error(AuthFailure::issuer_mismatch, "iss names no issuer this route accepts");
  }
  const Issuer& issuer = issuers_[*chosen];
  KeySearch search(*jws);
  for (const auto& key : issuer.keys) search.try_key(key);
  for (const auto& remote : issuer.remote_keys) {
    auto set = remote->current();
    if (!set) continue;
    for (const auto& key : set->keys) search.try_key(key);
  }
  if (!search.verified()) {
    if (jws->header.kid && !search.kid_found()) {
      for (const auto& remote : issuer.remote_keys) {
        remote->request_refetch(RemoteKeySet::Clock::now());
      }
    }
    return search.failure();
  }
  return Verified{std::move(*claims), *chosen, std::move(jws->payload)};
}

Result<Authenticated> Authenticator::authenticate(std::string_view token, IssuerMask allowed,
                                                  std::chrono::system_clock::time_point now,
                                                  TokenFacts* facts) {
  // Read before verifying: a key change during the verification leaves the entry stale.
  const uint64_t generation = generation_.current();
  if (auto hit = cache_.lookup(token, now, generation)) {
    auto index = issuer_index(hit->issuer);
    if (index && allows(allowed, *index)) return Authenticated{std::move(hit), *index, true};
    if (facts && index) facts->iss = fact(*issuers_[*index].policy.issuer);
    return auth_error(AuthFailure::issuer_mismatch, "iss names no issuer this route accepts");
  }
  auto verified = verify(token, allowed, facts);
  if (!verified) return std::move(verified).error();
  const Issuer& issuer = issuers_[verified->issuer];
  auto valid = validate_claims(std::move(verified->claims), issuer.policy, now);
  if (!valid) return std::move(valid).error();
  auto claims = std::make_shared<const VerifiedClaims>(
      VerifiedClaims{std::move(valid->claims), issuer.name, valid->expires_at});
  cache_.insert(token, claims, now, generation);
  return Authenticated{std::move(claims), verified->issuer, false};
}

Result<std::string> Authenticator::verify_signature_only(std::string_view token, IssuerMask allowed,
                                                         TokenFacts* facts) {
  auto verified = verify(token, allowed, facts);
  if (!verified) return std::move(verified).error();
  return std::move(verified->payload);
}

}  // namespace bulwark::auth
