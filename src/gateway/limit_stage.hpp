#pragma once
// The rate-limit stages of a route (DESIGN.md, request path steps 1 and 4): the route's limits
// whose key needs no claim run before authentication, so a flood is stopped before any
// signature check; those keyed on a claim run after it. Within one stage every enforced limit
// must pass, and a rejected request consumes nothing from any of them (Store::check_all).
// Shadow limits are checked one by one: they count and log would-be rejections only.

#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/route_policy.hpp"
#include "config/config.hpp"
#include "gateway/client_address.hpp"
#include "http/framing.hpp"
#include "limit/gcra.hpp"
#include "limit/store.hpp"

namespace bulwark::gateway {

struct CompiledLimit {
  uint32_t id = 0;  // the store's limit id and the metrics slot
  std::string name;
  limit::GcraParams params{};
  uint64_t count = 0;  // per window, for RateLimit-Policy
  int64_t period_ns = 0;
  std::vector<config::LimitKeyPart> key;
  std::vector<auth::ClaimPath> claim_paths;  // parallel to key (empty for other parts)
  config::RateLimit::Mode mode = config::RateLimit::Mode::enforce;
  config::RateLimit::Missing missing = config::RateLimit::Missing::client_ip;
  uint64_t cost = 1;
  std::vector<std::pair<std::string, uint64_t>> method_costs;
  bool needs_claims = false;

  uint64_t cost_of(std::string_view method) const;
};

struct RouteLimits {
  std::vector<uint32_t> before_auth;  // indexes into the runtime's limits
  std::vector<uint32_t> after_auth;
  config::LimitHeaders headers = config::LimitHeaders::standard;
};

// What the limit stages found for one request, across both stages.
struct LimitOutcome {
  bool rejected = false;
  uint64_t retry_after_s = 0;
  std::string detail;
  // The most restrictive enforced limit seen (least remaining), for the response fields.
  const CompiledLimit* tightest = nullptr;
  limit::LimitResult tightest_result{};
  std::string_view log_outcome;  // access log "limit": ok, rejected, shadow_rejected

  void clear();
};

struct LimitRequest {
  std::span<const http::HeaderField> fields;
  std::string_view method;
  std::string_view route;
  std::string_view request_id;
  const ClientAddress& client;
  const boost::json::object* claims = nullptr;  // verified claims, after authentication
};

// Called once per limit checked, for metrics.
enum class LimitVerdict { allowed, rejected, shadow_rejected };
using LimitObserver = void (*)(void* context, const CompiledLimit& limit, LimitVerdict verdict);

struct LimitServices {
  limit::Store* store = nullptr;
  LimitObserver observe = nullptr;
  void* observer_context = nullptr;
};

// Runs the limits `group` (indexes into `limits`) for `request` against services.store;
// false when the request is rejected (`outcome` then says why and for how long).
bool run_limit_stage(std::span<const uint32_t> group, std::span<const CompiledLimit> limits,
                     const LimitServices& services, const LimitRequest& request, int64_t now_ns,
                     LimitOutcome& outcome);

// The same stage in two halves, for a store that answers asynchronously (Redis): plan the
// checks, have the store decide them (check_all on `enforced`, each `shadow` alone; results in
// `results`, enforced first), then finish. The plan owns the keys the checks point into, so it
// must outlive the store's call; reuse one per connection (no allocation once warm).
struct LimitPlan {
  std::vector<std::string> keys;
  std::vector<limit::LimitCheck> enforced;
  std::vector<const CompiledLimit*> enforced_limits;
  std::vector<limit::LimitCheck> shadow;
  std::vector<const CompiledLimit*> shadow_limits;
  std::vector<limit::LimitResult> results;  // enforced.size() + shadow.size()
  const CompiledLimit* lacking = nullptr;   // an enforced limit whose key value is missing
  bool enforced_allowed = false;            // the store's verdict on `enforced`

  // True when the store has something to decide (with `lacking`, only the shadow limits).
  bool needs_store() const { return !(enforced.empty() && shadow.empty()); }
};

// Builds the plan; a missing key value is settled here (skip, or a shadow would-be rejection
// observed at once).
void plan_limit_stage(std::span<const uint32_t> group, std::span<const CompiledLimit> limits,
                      const LimitServices& services, const LimitRequest& request, LimitPlan& plan,
                      LimitOutcome& outcome);

// Decides the plan with a local store (the fallback when a shared one fails).
void decide_locally(limit::Store& store, int64_t now_ns, LimitPlan& plan);

// Applies the store's results (plan.results, plan.enforced_allowed): metrics, log lines, the
// outcome. False when the request is rejected.
bool finish_limit_stage(const LimitPlan& plan, const LimitServices& services,
                        const LimitRequest& request, LimitOutcome& outcome);

// The response fields for `outcome` as whole lines ("Name: value\r\n" each), for a limited
// route's responses; nothing when no limit was checked or `headers` is off.
void append_limit_fields(const LimitOutcome& outcome, config::LimitHeaders headers,
                         std::string& out);

// A monotonic nanosecond clock shared by the stages and the store.
int64_t limit_clock_ns();

}  // namespace bulwark::gateway
