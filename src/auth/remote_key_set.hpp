#pragma once
// A JWK Set published at a URL (an identity provider's jwks_uri). The auth layer only holds
// the latest good set and the bookkeeping; the fetching itself (HTTP, TLS, timers) belongs
// to whoever runs the I/O (server/jwks_fetcher). Thread-safe: verifiers on every worker read
// the set while the fetcher replaces it.
//
// Lifecycle:
//   - until a first set is installed, current() is null: tokens for the issuer fail with
//     unknown_key and /readyz reports status() (not ready).
//   - the fetcher calls install() with every good set and record_failure() with every failed
//     fetch; a failure keeps the last good set in use.
//   - a verifier that meets an unknown kid calls request_refetch(); the fetcher polls
//     take_refetch_request() and fetches early, at most once per unknown_kid_refetch.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "auth/algorithm.hpp"
#include "auth/jwk.hpp"

namespace bulwark::auth {

// Bumped by every change of any key material (an install here, a config reload): the
// verified-token cache keys its entries by it, so a key change empties the cache at once.
class KeyGeneration {
 public:
  uint64_t current() const noexcept { return value_.load(std::memory_order_acquire); }
  void bump() noexcept { value_.fetch_add(1, std::memory_order_acq_rel); }

 private:
  std::atomic<uint64_t> value_{1};
};

class RemoteKeySet {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    std::string url;
    std::optional<Algorithm> alg;  // pins entries without "alg"; others are skipped
    std::chrono::milliseconds refresh{std::chrono::minutes(5)};
    std::chrono::milliseconds unknown_kid_refetch{std::chrono::seconds(30)};
    std::chrono::milliseconds fetch_timeout{std::chrono::seconds(5)};
    std::optional<std::string> ca_file;  // resolved path; https only
  };

  struct Status {
    bool has_keys = false;
    uint64_t fetches_ok = 0;
    uint64_t fetches_failed = 0;
    std::string last_error;  // empty when the last fetch succeeded
  };

  RemoteKeySet(Options options, KeyGeneration& generation);

  const Options& options() const noexcept { return options_; }

  // The latest good set, or null before the first one.
  std::shared_ptr<const JwkSet> current() const;

  // Replaces the set parsed from `document` (the fetched JWKS body). The key generation is
  // bumped only when the document changed, so a periodic refresh that brings the same keys
  // keeps the verified-token cache.
  void install(std::shared_ptr<const JwkSet> set, std::string_view document);
  void record_failure(std::string why);

  // Called by a verifier on an unknown kid. Returns true when this call scheduled a refetch
  // (the previous one was at least unknown_kid_refetch ago).
  bool request_refetch(Clock::time_point now);
  // For the fetcher: true once per granted refetch request.
  bool take_refetch_request();

  Status status() const;

 private:
  Options options_;
  KeyGeneration& generation_;
  mutable std::mutex mutex_;
  std::shared_ptr<const JwkSet> set_;
  std::string document_;
  Status status_;
  std::optional<Clock::time_point> last_refetch_request_;
  std::atomic<bool> refetch_requested_{false};
};

}  // namespace bulwark::auth
