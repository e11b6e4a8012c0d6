#pragma once
// The verified-token cache (DESIGN.md: "verify a token once"). A bearer token that passed
// parse_compact + verify_signature + validate_claims maps to its verified claims until the
// token's exp, so the next request carrying the same token skips the crypto. Pure code:
// no I/O, no logging, time and key generation injected by the caller.
//
// Keying. Entries are found by a 128-bit keyed hash of the token bytes (SipHash-1-3-128, key
// drawn from OpenSSL's RAND_bytes per cache instance), so nobody outside the process can
// aim tokens at one shard or bucket. 1-3 rather than 2-4: the hash is most of a hit's cost
// (~2x faster on a 600-byte token), 1-3 is what Rust's HashMap keys with against hash
// flooding, and correctness never rests on it (the full token is compared). The entry also keeps
// the full token and a hit requires the bytes to be equal: even a forced 128-bit collision can
// never return another token's claims. The token bytes stay inside the cache (no accessor, no
// logging): they are a credential. The byte compare is not constant time on purpose: it only runs
// when the keyed hashes already matched, which an attacker cannot arrange without the secret key.
//
// Validity. A hit needs both:
//   - now < exp exactly, with no leeway. validate_claims already granted the leeway when it
//     accepted the token; the cache serves it only until the real exp. A token inside its
//     leeway window (exp <= now < exp + leeway) is verified again on every request, and is
//     not cached (insert refuses entries already expired): that window is short and rare.
//   - the entry's key generation equals the caller's current one. The owner of the key set
//     bumps the generation whenever anything that decided validity changes (key rotation,
//     JWKS refresh, issuer policy reload), which invalidates every entry at once with no
//     sweep; stale entries are dropped when met, or in bulk when their shard needs room.
//     Generations only grow: an insert under a generation older than one the shard already
//     saw is refused (a worker that verified against a replaced key set must not fill the
//     cache with what the new set may reject).
// Tokens without exp are never cached: nothing bounds their validity, so a cached entry
// would outlive any revocation the issuer could express short of a key rotation.
//
// A cache serves one claims policy: the claims were validated against it (iss, aud...).
// Use one cache per issuer/policy, or make the generation cover the policy.
//
// Bound and eviction. At most max_entries entries (the bound is split across shards; a
// token over kMaxTokenBytes is never stored, so memory is bounded too). Sharded by the hash
// (default 16 shards, each with its own mutex) for use from every worker thread. A full
// shard first drops expired and stale entries: a sweep of the shard, run only when its
// earliest exp has passed or a newer generation arrived (so it always frees what it can, and
// its cost is amortized over the entries it frees or the time that passed); then CLOCK
// (second chance: a hit sets the entry's reference bit, the hand clears it or evicts), O(1)
// amortized.
//
// Memory per entry (x86-64, libstdc++): bookkeeping 148 B (slot 88 B, free-list index 4 B,
// hash-map node ~48 B with its malloc header, bucket 8 B), plus the token bytes (one heap
// block, typically 300-1000 B), plus the claims (make_shared block with VerifiedClaims and
// the JSON object's storage, ~0.5-1 KiB for a typical access token): ~1-2 KiB per entry,
// so 100k entries ~ 100-200 MiB. token_cache_test prints the estimate
// (fixed_bytes_per_entry).

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "auth/claims.hpp"

namespace bulwark::auth {

// What a cache hit yields: the verified claims set and who vouched for it.
struct VerifiedClaims {
  boost::json::object claims;             // the validated claims set
  std::string issuer;                     // the configured issuer whose key verified it
  std::optional<NumericDate> expires_at;  // exp; entries without it are not cached
};

// A 128-bit token digest (SipHash output words, little-endian order).
struct TokenHash {
  uint64_t lo = 0;
  uint64_t hi = 0;
  friend bool operator==(const TokenHash&, const TokenHash&) = default;
};

// SipHash with 128-bit output (Aumasson & Bernstein; the "siphash128" reference variant,
// the same as OpenSSL's SIPHASH MAC with size 16 and c-rounds/d-rounds). The cache uses
// 1-3; both are exposed for their tests and the benchmark.
TokenHash siphash_2_4_128(const std::array<uint8_t, 16>& key, std::string_view data) noexcept;
TokenHash siphash_1_3_128(const std::array<uint8_t, 16>& key, std::string_view data) noexcept;

class VerifiedTokenCache {
 public:
  struct Options {
    std::size_t max_entries = 100'000;  // 0 disables the cache (every lookup misses)
    std::size_t shards = 16;            // lowered to max_entries when that is smaller
    // Tests only: replaces the keyed hash (to force collisions). Null in production.
    TokenHash (*hash_for_testing)(std::string_view token) = nullptr;
  };

  // Counters since construction, for metrics (hits/misses as the cache hit ratio).
  //   inserts      new entries stored (an insert that refreshes an entry is not counted)
  //   evictions    live entries removed to make room (or displaced by a hash collision)
  //   expirations  entries removed because they expired or belong to an old key generation
  // At rest: size() == inserts - evictions - expirations.
  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t inserts = 0;
    uint64_t evictions = 0;
    uint64_t expirations = 0;
  };

  explicit VerifiedTokenCache(Options options);
  ~VerifiedTokenCache();
  VerifiedTokenCache(const VerifiedTokenCache&) = delete;
  VerifiedTokenCache& operator=(const VerifiedTokenCache&) = delete;

  // The claims cached for exactly this token, or null: absent, expired (now >= exp) or
  // verified under another key generation (such entries are dropped on the way).
  std::shared_ptr<const VerifiedClaims> lookup(std::string_view token,
                                               std::chrono::system_clock::time_point now,
                                               uint64_t key_generation);

  // Stores `claims` for `token` until claims->expires_at, verified under `key_generation`.
  // Returns false, storing nothing, when: claims is null or has no exp; now >= exp; the
  // token is empty or over kMaxTokenBytes; the generation is older than one already seen;
  // the cache is disabled. The same token again replaces its entry's value.
  bool insert(std::string_view token, std::shared_ptr<const VerifiedClaims> claims,
              std::chrono::system_clock::time_point now, uint64_t key_generation);

  void clear();
  std::size_t size() const;  // locks each shard in turn: for tests and metrics, not per request
  std::size_t capacity() const noexcept { return capacity_; }
  Stats stats() const noexcept;

  // The fixed per-entry bookkeeping (slot + hash-map node + bucket), without the token bytes
  // and the claims. See the estimate at the top of this file.
  static std::size_t fixed_bytes_per_entry() noexcept;

 private:
  struct Shard;
  TokenHash hash(std::string_view token) const noexcept;
  Shard& shard_for(const TokenHash& hash) const noexcept;

  std::array<uint8_t, 16> key_{};
  TokenHash (*hash_for_testing_)(std::string_view) = nullptr;
  std::size_t capacity_ = 0;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace bulwark::auth
