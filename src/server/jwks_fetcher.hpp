#pragma once
// Keeps remote key sets (auth::RemoteKeySet: an issuer's jwks_uri) filled, on one background
// thread of its own.
//
// For each watched set:
//   - fetch at once;
//   - after a good fetch, install it and fetch again after min(refresh, the response's
//     freshness lifetime): Cache-Control max-age minus Age; no-cache or no-store count as 0.
//     A freshness lifetime shortens the refresh to 30 s at the least (keys rotate in hours;
//     no-cache must not mean a fetch per second), and nothing fetches more than once a second;
//   - after a failed fetch, record it (the last good set stays in use) and retry after 1 s,
//     2 s, 4 s... up to min(refresh, 60 s);
//   - when a verifier met an unknown kid (RemoteKeySet::take_refetch_request(), polled every
//     100 ms), fetch early; the set itself rate-limits those requests.
// A fetch is one GET (server/http_fetch.hpp) bounded by the set's fetch_timeout, a body of at
// most 1 MiB, status 200 required, redirects not followed.
//
// Log lines (spdlog, prefix "jwks: <url>"): info on the first good fetch, on a change of the
// document and on recovery; warn on the first failure of a streak; debug otherwise.

#include <memory>
#include <vector>

namespace bulwark::auth {
class RemoteKeySet;
}

namespace bulwark::server {

class JwksFetcher {
 public:
  JwksFetcher();
  ~JwksFetcher();  // stops and joins
  JwksFetcher(const JwksFetcher&) = delete;
  JwksFetcher& operator=(const JwksFetcher&) = delete;

  // Starts the thread; once (a second call does nothing, and so does a call after stop()).
  void start();
  // Thread-safe, idempotent; returns once the thread has ended, promptly even mid-fetch.
  void stop();

  // Thread-safe: the sets to keep fresh from now on (after each config load or reload). Sets
  // already watched (same pointer) keep their schedule; new ones are fetched at once (or as
  // soon as start() runs); dropped ones are forgotten, a fetch of theirs in flight abandoned.
  void watch(std::vector<std::shared_ptr<auth::RemoteKeySet>> sets);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bulwark::server
