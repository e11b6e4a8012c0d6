#include "observe/metrics.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace bulwark::observe {
namespace {

constexpr std::array<std::string_view, size_t(UpstreamError::count)> kUpstreamErrorNames = {
    "connect", "timeout", "reset", "bad_response"};

std::string escape_label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

template <class T>
T load(const std::atomic<T>& a) {
  return a.load(std::memory_order_relaxed);
}

}  // namespace

void MetricsShard::record_request(uint32_t route_slot, unsigned status, uint64_t duration_us) {
  auto& r = routes_[route_slot < kMaxRoutes ? route_slot : 0];
  unsigned cls = status / 100;
  if (cls >= 1 && cls <= 5) add(r.by_class[cls - 1], 1);
  double seconds = double(duration_us) / 1e6;
  size_t b = 0;
  while (b < kBucketsSeconds.size() && seconds > kBucketsSeconds[b]) ++b;
  add(r.buckets[b], 1);
  add(r.duration_sum_us, duration_us);
}

void MetricsShard::record_upstream_error(uint32_t upstream_slot, UpstreamError kind) {
  if (upstream_slot >= kMaxUpstreams) return;
  add(upstream_errors_[upstream_slot][size_t(kind)], 1);
}

Metrics::Metrics(size_t shards) {
  for (size_t i = 0; i < shards; ++i) shards_.push_back(std::make_unique<MetricsShard>());
  route_names_.push_back("");  // slot 0: no route matched
}

uint32_t Metrics::slot_in(std::vector<std::string>& names, std::string_view name, size_t max) {
  auto it = std::find(names.begin(), names.end(), name);
  if (it != names.end()) return uint32_t(it - names.begin());
  if (names.size() >= max) return uint32_t(max);  // over the bound: not counted by label
  names.emplace_back(name);
  return uint32_t(names.size() - 1);
}

uint32_t Metrics::route_slot(std::string_view route_name) {
  std::lock_guard lock(names_mutex_);
  return slot_in(route_names_, route_name, MetricsShard::kMaxRoutes);
}

uint32_t Metrics::upstream_slot(std::string_view upstream_name) {
  std::lock_guard lock(names_mutex_);
  return slot_in(upstream_names_, upstream_name, MetricsShard::kMaxUpstreams);
}

uint32_t Metrics::limit_slot(std::string_view limit_name) {
  std::lock_guard lock(names_mutex_);
  return slot_in(limit_names_, limit_name, MetricsShard::kMaxLimits);
}

std::string Metrics::render_prometheus() const {
  std::lock_guard lock(names_mutex_);
  std::string out;
  auto sum = [&](auto get) { return sum_shards(get); };

  out += "# HELP bulwark_requests_total Requests answered, by route and status class.\n";
  out += "# TYPE bulwark_requests_total counter\n";
  for (size_t r = 0; r < route_names_.size(); ++r) {
    for (size_t c = 0; c < 5; ++c) {
      uint64_t v = sum([&](const MetricsShard& s) { return load(s.routes_[r].by_class[c]); });
      if (v == 0) continue;
      fmt::format_to(std::back_inserter(out),
                     "bulwark_requests_total{{route=\"{}\",status=\"{}xx\"}} {}\n",
                     escape_label(route_names_[r]), c + 1, v);
    }
  }

  out += "# HELP bulwark_request_duration_seconds Time from request head read to response end.\n";
  out += "# TYPE bulwark_request_duration_seconds histogram\n";
  for (size_t r = 0; r < route_names_.size(); ++r) {
    uint64_t count = 0;
    std::string lines;
    auto label = escape_label(route_names_[r]);
    for (size_t b = 0; b <= MetricsShard::kBucketsSeconds.size(); ++b) {
      count += sum([&](const MetricsShard& s) { return load(s.routes_[r].buckets[b]); });
      if (b < MetricsShard::kBucketsSeconds.size()) {
        fmt::format_to(std::back_inserter(lines),
                       "bulwark_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n",
                       label, MetricsShard::kBucketsSeconds[b], count);
      } else {
        fmt::format_to(std::back_inserter(lines),
                       "bulwark_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n",
                       label, count);
      }
    }
    if (count == 0) continue;
    uint64_t sum_us =
        sum([&](const MetricsShard& s) { return load(s.routes_[r].duration_sum_us); });
    out += lines;
    fmt::format_to(std::back_inserter(out),
                   "bulwark_request_duration_seconds_sum{{route=\"{}\"}} {:.6f}\n"
                   "bulwark_request_duration_seconds_count{{route=\"{}\"}} {}\n",
                   label, double(sum_us) / 1e6, label, count);
  }

  out += "# HELP bulwark_upstream_errors_total Failed exchanges with an upstream, by kind.\n";
  out += "# TYPE bulwark_upstream_errors_total counter\n";
  for (size_t u = 0; u < upstream_names_.size(); ++u) {
    for (size_t k = 0; k < size_t(UpstreamError::count); ++k) {
      uint64_t v = sum([&](const MetricsShard& s) { return load(s.upstream_errors_[u][k]); });
      fmt::format_to(std::back_inserter(out),
                     "bulwark_upstream_errors_total{{upstream=\"{}\",kind=\"{}\"}} {}\n",
                     escape_label(upstream_names_[u]), kUpstreamErrorNames[k], v);
    }
  }

  int64_t open = 0;
  for (auto& s : shards_) open += load(s->open_connections_);
  fmt::format_to(std::back_inserter(out),
                 "# HELP bulwark_open_connections Client connections open now.\n"
                 "# TYPE bulwark_open_connections gauge\n"
                 "bulwark_open_connections {}\n"
                 "# HELP bulwark_connections_total Client connections accepted.\n"
                 "# TYPE bulwark_connections_total counter\n"
                 "bulwark_connections_total {}\n"
                 "# HELP bulwark_connections_refused_total Connections closed at once: "
                 "server.limits.max_connections reached.\n"
                 "# TYPE bulwark_connections_refused_total counter\n"
                 "bulwark_connections_refused_total {}\n"
                 "# HELP bulwark_upstream_connections_total Upstream connections opened.\n"
                 "# TYPE bulwark_upstream_connections_total counter\n"
                 "bulwark_upstream_connections_total {}\n"
                 "# HELP bulwark_upstream_reuses_total Requests sent on a pooled keep-alive "
                 "upstream connection.\n"
                 "# TYPE bulwark_upstream_reuses_total counter\n"
                 "bulwark_upstream_reuses_total {}\n",
                 open, sum([](const MetricsShard& s) { return load(s.connections_total_); }),
                 sum([](const MetricsShard& s) { return load(s.connections_refused_); }),
                 sum([](const MetricsShard& s) { return load(s.upstream_connects_); }),
                 sum([](const MetricsShard& s) { return load(s.upstream_reuses_); }));
  render_auth(out);
  render_limits(out);
  render_cache(out);
  render_state(out);
  return out;
}

void Metrics::render_state(std::string& out) const {
  static constexpr std::string_view kLayers[] = {"limits", "cache", "revocations"};
  static constexpr std::string_view kShared[] = {"hit", "miss", "stored", "waited"};
  auto sum = [&](auto get) { return sum_shards(get); };
  // One counter per layer and one of two values of a second label.
  using Pairs =
      std::array<std::array<std::atomic<uint64_t>, 2>, size_t(MetricsShard::StateLayer::count)>;
  auto by_layer = [&](std::string_view name, std::string_view label,
                      std::array<std::string_view, 2> values, Pairs MetricsShard::*counters) {
    for (size_t l = 0; l < std::size(kLayers); ++l) {
      for (size_t i = 0; i < 2; ++i) {
        uint64_t v = sum([&](const MetricsShard& s) { return load((s.*counters)[l][i]); });
        fmt::format_to(std::back_inserter(out), "{}{{layer=\"{}\",{}=\"{}\"}} {}\n", name,
                       kLayers[l], label, values[i], v);
      }
    }
  };
  out +=
      "# HELP bulwark_state_calls_total Calls to the shared state (Redis), by layer and whether "
      "they got an answer.\n# TYPE bulwark_state_calls_total counter\n";
  by_layer("bulwark_state_calls_total", "outcome", {"ok", "failed"}, &MetricsShard::state_calls_);
  out +=
      "# HELP bulwark_state_fallbacks_total Requests served without the shared state, by layer "
      "and failure policy (fail_open: local state; fail_closed: 503).\n"
      "# TYPE bulwark_state_fallbacks_total counter\n";
  by_layer("bulwark_state_fallbacks_total", "policy", {"fail_open", "fail_closed"},
           &MetricsShard::state_fallbacks_);
  out +=
      "# HELP bulwark_cache_shared_total What a miss in this instance's memory found in the "
      "shared cache (waited: another instance's request was fetching it).\n"
      "# TYPE bulwark_cache_shared_total counter\n";
  for (size_t r = 0; r < std::size(kShared); ++r) {
    uint64_t v = sum([&](const MetricsShard& s) { return load(s.cache_shared_[r]); });
    fmt::format_to(std::back_inserter(out), "bulwark_cache_shared_total{{result=\"{}\"}} {}\n",
                   kShared[r], v);
  }
  // names_mutex_ is held by render_prometheus (it also guards state_gauges_).
  if (!state_gauges_) return;
  const StateGauges gauges = state_gauges_();
  fmt::format_to(std::back_inserter(out),
                 "# HELP bulwark_revocations Token revocations held by this instance.\n"
                 "# TYPE bulwark_revocations gauge\nbulwark_revocations {}\n",
                 gauges.revocations);
  if (!gauges.redis_configured) return;
  fmt::format_to(std::back_inserter(out),
                 "# HELP bulwark_state_redis_up 1 while the shared Redis answers, 0 while it "
                 "does not (the failure policy applies).\n"
                 "# TYPE bulwark_state_redis_up gauge\nbulwark_state_redis_up {}\n"
                 "# HELP bulwark_revocation_sync_age_seconds Since this instance last read the "
                 "shared revocation list.\n"
                 "# TYPE bulwark_revocation_sync_age_seconds gauge\n"
                 "bulwark_revocation_sync_age_seconds {:.3f}\n",
                 gauges.redis_up ? 1 : 0, gauges.revocation_sync_age_s);
}

void Metrics::render_cache(std::string& out) const {
  static constexpr std::string_view kResults[] = {"hit",         "stale", "stale_on_error",
                                                  "revalidated", "miss",  "bypass"};
  auto sum = [&](auto get) { return sum_shards(get); };
  out +=
      "# HELP bulwark_cache_requests_total Requests of caching routes, by how the cache "
      "answered.\n# TYPE bulwark_cache_requests_total counter\n";
  for (size_t r = 0; r < std::size(kResults); ++r) {
    uint64_t v = sum([&](const MetricsShard& s) { return load(s.cache_results_[r]); });
    fmt::format_to(std::back_inserter(out), "bulwark_cache_requests_total{{result=\"{}\"}} {}\n",
                   kResults[r], v);
  }
  fmt::format_to(
      std::back_inserter(out),
      "# HELP bulwark_cache_coalesced_total Misses that waited for another request's response "
      "instead of going upstream, and were answered from it.\n"
      "# TYPE bulwark_cache_coalesced_total counter\nbulwark_cache_coalesced_total {}\n"
      "# HELP bulwark_cache_stored_total Responses stored.\n"
      "# TYPE bulwark_cache_stored_total counter\nbulwark_cache_stored_total {}\n"
      "# HELP bulwark_cache_invalidated_total Entries removed by unsafe requests.\n"
      "# TYPE bulwark_cache_invalidated_total counter\nbulwark_cache_invalidated_total {}\n"
      "# HELP bulwark_cache_background_refreshes_total Background revalidations "
      "(stale-while-revalidate), by outcome.\n"
      "# TYPE bulwark_cache_background_refreshes_total counter\n"
      "bulwark_cache_background_refreshes_total{{outcome=\"ok\"}} {}\n"
      "bulwark_cache_background_refreshes_total{{outcome=\"failed\"}} {}\n",
      sum([](const MetricsShard& s) { return load(s.cache_coalesced_); }),
      sum([](const MetricsShard& s) { return load(s.cache_stored_); }),
      sum([](const MetricsShard& s) { return load(s.cache_invalidated_); }),
      sum([](const MetricsShard& s) { return load(s.cache_refreshes_); }),
      sum([](const MetricsShard& s) { return load(s.cache_refresh_failures_); }));
  // names_mutex_ is held by render_prometheus (it also guards cache_gauges_).
  std::optional<CacheGauges> gauges = cache_gauges_ ? cache_gauges_() : std::nullopt;
  if (!gauges) return;
  fmt::format_to(std::back_inserter(out),
                 "# HELP bulwark_cache_entries Responses held by the cache.\n"
                 "# TYPE bulwark_cache_entries gauge\nbulwark_cache_entries {}\n"
                 "# HELP bulwark_cache_bytes Bytes held by the cache (bodies, fields, keys).\n"
                 "# TYPE bulwark_cache_bytes gauge\nbulwark_cache_bytes {}\n"
                 "# HELP bulwark_cache_budget_bytes The cache's memory budget.\n"
                 "# TYPE bulwark_cache_budget_bytes gauge\nbulwark_cache_budget_bytes {}\n"
                 "# HELP bulwark_cache_evictions_total Entries evicted to stay within the "
                 "budget.\n"
                 "# TYPE bulwark_cache_evictions_total counter\nbulwark_cache_evictions_total {}\n",
                 gauges->entries, gauges->bytes, gauges->budget_bytes, gauges->evictions);
}

void Metrics::render_limits(std::string& out) const {
  static constexpr std::string_view kVerdicts[] = {"allowed", "rejected", "shadow_rejected"};
  out +=
      "# HELP bulwark_limit_requests_total Requests checked by a rate limit, by verdict "
      "(shadow_rejected: over a limit in shadow mode, let through).\n"
      "# TYPE bulwark_limit_requests_total counter\n";
  for (size_t l = 0; l < limit_names_.size(); ++l) {
    for (size_t v = 0; v < std::size(kVerdicts); ++v) {
      uint64_t total = 0;
      for (auto& s : shards_) total += load(s->limits_[l][v]);
      fmt::format_to(std::back_inserter(out),
                     "bulwark_limit_requests_total{{limit=\"{}\",verdict=\"{}\"}} {}\n",
                     escape_label(limit_names_[l]), kVerdicts[v], total);
    }
  }
}

void Metrics::render_auth(std::string& out) const {
  auto sum = [&](auto get) { return sum_shards(get); };
  out +=
      "# HELP bulwark_auth_failures_total Requests refused by authentication or "
      "authorization, by reason.\n# TYPE bulwark_auth_failures_total counter\n";
  for (size_t r = 0; auth_reason_name_ && r < MetricsShard::kMaxAuthReasons; ++r) {
    std::string_view name = auth_reason_name_(r);
    if (name.empty()) continue;
    uint64_t v = sum([&](const MetricsShard& s) { return load(s.auth_failures_[r]); });
    fmt::format_to(std::back_inserter(out), "bulwark_auth_failures_total{{reason=\"{}\"}} {}\n",
                   name, v);
  }
  fmt::format_to(
      std::back_inserter(out),
      "# HELP bulwark_auth_token_cache_hits_total Tokens accepted from the verified-token cache.\n"
      "# TYPE bulwark_auth_token_cache_hits_total counter\n"
      "bulwark_auth_token_cache_hits_total {}\n"
      "# HELP bulwark_auth_token_cache_misses_total Tokens verified (signature and claims).\n"
      "# TYPE bulwark_auth_token_cache_misses_total counter\n"
      "bulwark_auth_token_cache_misses_total {}\n"
      "# HELP bulwark_auth_blocked_total Requests refused with 429 during a client's "
      "failed-attempts cooldown.\n"
      "# TYPE bulwark_auth_blocked_total counter\n"
      "bulwark_auth_blocked_total {}\n",
      sum([](const MetricsShard& s) { return load(s.auth_cache_hits_); }),
      sum([](const MetricsShard& s) { return load(s.auth_cache_misses_); }),
      sum([](const MetricsShard& s) { return load(s.auth_blocked_); }));
}

}  // namespace bulwark::observe
