#pragma once
// One metrics registry, rendered as Prometheus text on the admin listener.
// Each worker writes only its own shard (relaxed atomics, no contention); a scrape sums the
// shards. Labels are small integer slots assigned when a config is compiled, so the hot
// path never hashes a string.

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bulwark::observe {

enum class UpstreamError : uint8_t { connect = 0, timeout, reset, bad_response, count };

class MetricsShard {
 public:
  static constexpr size_t kMaxRoutes = 256;  // slot 0 is "no route matched"
  static constexpr size_t kMaxUpstreams = 256;
  static constexpr std::array<double, 14> kBucketsSeconds = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

  void record_request(uint32_t route_slot, unsigned status, uint64_t duration_us);
  void record_upstream_error(uint32_t upstream_slot, UpstreamError kind);
  void connection_opened() {
    add(open_connections_, 1);
    add(connections_total_, 1);
  }
  void connection_closed() { add(open_connections_, -1); }
  void connection_refused() { add(connections_refused_, 1); }
  void upstream_connection_opened() { add(upstream_connects_, 1); }
  void upstream_connection_reused() { add(upstream_reuses_, 1); }

  static constexpr size_t kMaxAuthReasons = 40;
  void auth_failure(size_t reason_slot) {
    add(auth_failures_[reason_slot < kMaxAuthReasons ? reason_slot : 0], 1);
  }
  void auth_verified(bool cache_hit) { add(cache_hit ? auth_cache_hits_ : auth_cache_misses_, 1); }
  void auth_blocked() { add(auth_blocked_, 1); }

  static constexpr size_t kMaxLimits = 256;
  enum class LimitVerdict : uint8_t { allowed = 0, rejected, shadow_rejected, count };
  void limit_verdict(uint32_t limit_slot, LimitVerdict verdict) {
    add(limits_[limit_slot < kMaxLimits ? limit_slot : 0][size_t(verdict)], 1);
  }

  // How the cache answered a request of a caching route (one per request).
  enum class CacheResult : uint8_t {
    hit = 0,         // fresh, or stale as the client allowed (max-stale)
    stale,           // stale-while-revalidate: answered stale, refreshed in the background
    stale_on_error,  // stale-if-error: the upstream failed, the stored response answered
    revalidated,     // the upstream said 304: the stored response answered
    miss,            // nothing usable stored (or it changed upstream): the upstream answered
    bypass,          // not cacheable as asked (method, Range, body, ...)
    count
  };
  void cache_result(CacheResult result) { add(cache_results_[size_t(result)], 1); }
  void cache_coalesced() { add(cache_coalesced_, 1); }
  void cache_stored() { add(cache_stored_, 1); }
  void cache_invalidated(uint64_t entries) { add(cache_invalidated_, entries); }
  void cache_refresh(bool ok) { add(ok ? cache_refreshes_ : cache_refresh_failures_, 1); }

  // The shared state (Redis): each call by the layer that made it, whether it got an answer,
  // and each request served without it (by the failure policy).
  enum class StateLayer : uint8_t { limits = 0, cache, revocations, count };
  void state_call(StateLayer layer, bool ok) { add(state_calls_[size_t(layer)][ok ? 0 : 1], 1); }
  void state_fallback(StateLayer layer, bool closed) {
    add(state_fallbacks_[size_t(layer)][closed ? 1 : 0], 1);
  }
  // The shared cache (L2) behind this instance's memory: what a miss in memory found there.
  enum class SharedCacheResult : uint8_t { hit = 0, miss, stored, waited, count };
  void cache_shared(SharedCacheResult result) { add(cache_shared_[size_t(result)], 1); }

 private:
  friend class Metrics;
  template <class T, class D>
  static void add(std::atomic<T>& a, D d) {
    // Single writer per shard: a relaxed load+store is enough and avoids a locked add.
    a.store(a.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
  }
  struct RouteCounters {
    std::array<std::atomic<uint64_t>, 5> by_class{};  // 1xx..5xx
    std::array<std::atomic<uint64_t>, kBucketsSeconds.size() + 1> buckets{};
    std::atomic<uint64_t> duration_sum_us{0};
  };
  std::array<RouteCounters, kMaxRoutes> routes_{};
  std::array<std::array<std::atomic<uint64_t>, size_t(UpstreamError::count)>, kMaxUpstreams>
      upstream_errors_{};
  std::atomic<int64_t> open_connections_{0};
  std::atomic<uint64_t> connections_total_{0};
  std::atomic<uint64_t> connections_refused_{0};
  std::atomic<uint64_t> upstream_connects_{0};
  std::atomic<uint64_t> upstream_reuses_{0};
  std::array<std::atomic<uint64_t>, kMaxAuthReasons> auth_failures_{};
  std::atomic<uint64_t> auth_cache_hits_{0};
  std::atomic<uint64_t> auth_cache_misses_{0};
  std::atomic<uint64_t> auth_blocked_{0};
  std::array<std::array<std::atomic<uint64_t>, size_t(LimitVerdict::count)>, kMaxLimits> limits_{};
  std::array<std::atomic<uint64_t>, size_t(CacheResult::count)> cache_results_{};
  std::atomic<uint64_t> cache_coalesced_{0};
  std::atomic<uint64_t> cache_stored_{0};
  std::atomic<uint64_t> cache_invalidated_{0};
  std::atomic<uint64_t> cache_refreshes_{0};
  std::atomic<uint64_t> cache_refresh_failures_{0};
  std::array<std::array<std::atomic<uint64_t>, 2>, size_t(StateLayer::count)> state_calls_{};
  std::array<std::array<std::atomic<uint64_t>, 2>, size_t(StateLayer::count)> state_fallbacks_{};
  std::array<std::atomic<uint64_t>, size_t(SharedCacheResult::count)> cache_shared_{};
};

// The cache store's own figures, read at scrape time.
struct CacheGauges {
  uint64_t entries = 0;
  uint64_t bytes = 0;
  uint64_t evictions = 0;
  uint64_t budget_bytes = 0;
};

// The shared state's figures, read at scrape time.
struct StateGauges {
  bool redis_configured = false;
  bool redis_up = false;
  uint64_t revocations = 0;          // held by this instance
  double revocation_sync_age_s = 0;  // since the last successful read of the shared list
};

class Metrics {
 public:
  explicit Metrics(size_t shards);

  MetricsShard& shard(size_t i) { return *shards_[i]; }
  // Stable slots for label values; names are never forgotten, so a reload keeps counters.
  uint32_t route_slot(std::string_view route_name);
  uint32_t upstream_slot(std::string_view upstream_name);
  uint32_t limit_slot(std::string_view limit_name);

  std::string render_prometheus() const;
  // Names the auth failure reason slots (MetricsShard::auth_failure); "" for unused slots.
  // Set once at startup, before any scrape.
  void set_auth_reason_names(std::string_view (*name_of)(size_t slot)) {
    auth_reason_name_ = name_of;
  }
  // Where the cache gauges come from (the current store); nullopt: no cache configured.
  void set_cache_gauges(std::function<std::optional<CacheGauges>()> source) {
    std::lock_guard lock(names_mutex_);
    cache_gauges_ = std::move(source);
  }
  void set_state_gauges(std::function<StateGauges()> source) {
    std::lock_guard lock(names_mutex_);
    state_gauges_ = std::move(source);
  }

 private:
  static uint32_t slot_in(std::vector<std::string>& names, std::string_view name, size_t max);
  std::vector<std::unique_ptr<MetricsShard>> shards_;
  mutable std::mutex names_mutex_;
  std::vector<std::string> route_names_;     // index = slot
  std::vector<std::string> upstream_names_;  // index = slot
  std::vector<std::string> limit_names_;     // index = slot
  std::string_view (*auth_reason_name_)(size_t) = nullptr;
  std::function<std::optional<CacheGauges>()> cache_gauges_;
  std::function<StateGauges()> state_gauges_;

  void render_auth(std::string& out) const;
  void render_limits(std::string& out) const;
  void render_cache(std::string& out) const;
  void render_state(std::string& out) const;
  // The sum over the workers' shards of `get(shard)`.
  template <class Get>
  uint64_t sum_shards(Get get) const {
    uint64_t total = 0;
    for (const auto& shard : shards_) total += get(*shard);
    return total;
  }
};

}  // namespace bulwark::observe
