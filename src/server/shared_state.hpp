#pragma once
// The shared state of many instances (config `state:`), as the workers see it.
//
// StateHealth: whether Redis answers, as its users last saw it. Every call a layer makes
// reports here; a change of state is logged once (not once per request) and shows in
// /readyz and in bulwark_state_redis_up.
//
// WorkerState: one worker's handles on Redis: its own pipelined connection (a RedisClient is
// never touched from another thread) and the stores over it. A worker makes one when it
// installs a config with `state:`, and keeps it across reloads that do not change the
// settings. Connections hold it by shared_ptr for the request they serve, so a reload that
// replaces it never pulls it from under a command in flight.

#include <boost/asio/any_io_executor.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "redis/url.hpp"
#include "server/redis_cache_store.hpp"
#include "server/redis_client.hpp"
#include "server/redis_limit_store.hpp"

namespace bulwark::server {

class StateHealth {
 public:
  // A call that got an answer now.
  void succeeded();
  // An answer that came at `at_ms` (unix ms): it only says Redis is back when it is newer
  // than the last failure (a poll that succeeded just before Redis died says nothing).
  void succeeded_at(int64_t at_ms);
  // A call that got none: `layer` ("rate limits", "cache", "revocations") and why.
  void failed(std::string_view layer, std::string_view error);
  bool up() const { return up_.load(std::memory_order_relaxed); }
  std::string last_error() const;

 private:
  std::atomic<bool> up_{true};
  std::atomic<int64_t> last_failure_ms_{0};
  mutable std::mutex mutex_;
  std::string last_error_;
};

class WorkerState {
 public:
  WorkerState(boost::asio::any_io_executor executor, const config::StateSettings& settings,
              StateHealth& health, std::string instance_id);
  WorkerState(const WorkerState&) = delete;
  WorkerState& operator=(const WorkerState&) = delete;

  // True when `settings` are the ones this was made for (a reload may keep it).
  bool serves(const config::StateSettings& settings) const;
  bool fail_closed() const {
    return settings_.on_failure == config::StateSettings::OnFailure::fail_closed;
  }
  const config::StateSettings& settings() const { return settings_; }
  StateHealth& health() { return health_; }
  RedisClient& client() { return client_; }
  RedisLimitStore& limits() { return limits_; }
  RedisCacheStore& cache() { return cache_; }
  const std::string& instance_id() const { return instance_id_; }

 private:
  config::StateSettings settings_;
  StateHealth& health_;
  std::string instance_id_;
  RedisClient client_;
  RedisLimitStore limits_;
  RedisCacheStore cache_;
};

// The shared cache's key prefix under the state prefix.
std::string shared_cache_prefix(const config::StateSettings& settings);
// The stream of cache events (cache/cache_events.hpp).
std::string cache_events_key(const config::StateSettings& settings);

// The URL of `settings` (the loader checked it).
redis::RedisUrl state_url(const config::StateSettings& settings);

}  // namespace bulwark::server
