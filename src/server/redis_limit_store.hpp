#pragma once
// The rate limiter's shared store: the GCRA state of every instance's keys in one Redis, each
// request's limits decided by one EVALSHA of limit/redis_gcra.hpp's script (atomic on the
// server, so concurrent requests from any number of instances never over-admit), on Redis's
// clock. Key names, the exactness bound and Cluster slots: limit/redis_gcra.hpp.
//
// It is not a limit::Store: the answer takes a round trip, so check() is a coroutine on the
// RedisClient's executor, and a failure is an answer (nullopt) the caller turns into its
// fail-open or fail-closed policy. Like the client, it belongs to that executor's thread.
//
// Batching. At most kMaxCalls script calls per store are in flight: the requests that
// arrive meanwhile queue, and the next call decides all of them (up to kMaxBatch) as groups
// of one EVALSHA. Redis spends most of a small script's time on the call itself (dispatch, TIME,
// argument parsing), so under load a worker's requests share that cost; an idle store sends a
// lone request at once, with no added wait.

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "limit/store.hpp"
#include "server/redis_client.hpp"

namespace bulwark::server {

class RedisLimitStore {
 public:
  // `prefix` starts every key (e.g. "bulwark"); it should hold no braces.
  RedisLimitStore(RedisClient& client, std::string prefix);

  // One EVALSHA round trip. nullopt when Redis failed or answered something malformed
  // (`error` says what, never the password); otherwise as Store::check_all for `enforced`,
  // plus each `independent` check alone. `results` has enforced.size() + independent.size()
  // entries. The spans must outlive the co_await.
  boost::asio::awaitable<std::optional<bool>> check(std::span<const limit::LimitCheck> enforced,
                                                    std::span<const limit::LimitCheck> independent,
                                                    std::span<limit::LimitResult> results,
                                                    std::string& error);

  // check() at an explicit clock (unix-epoch ns, >= 0) instead of Redis's TIME: for tests that
  // replay a schedule. Instances sharing a Redis must not mix clocks, so the server uses check().
  boost::asio::awaitable<std::optional<bool>> check_at(
      std::optional<int64_t> now_unix_ns, std::span<const limit::LimitCheck> enforced,
      std::span<const limit::LimitCheck> independent, std::span<limit::LimitResult> results,
      std::string& error);

  const std::string& prefix() const { return prefix_; }

  // Requests decided by one call at most (the rest wait for the next).
  static constexpr std::size_t kMaxBatch = 64;
  // Calls in flight at most: two, so that Redis works on one batch while the worker
  // answers the requests of the other.
  static constexpr std::size_t kMaxCalls = 2;

  struct Queue;  // the waiting requests (the .cpp's)

 private:
  RedisClient& client_;
  std::string prefix_;
  std::shared_ptr<Queue> queue_;
};

}  // namespace bulwark::server
