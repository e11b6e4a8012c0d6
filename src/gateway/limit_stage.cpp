#include "gateway/limit_stage.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>

#include "http/forwarded_headers.hpp"
#include "limit/headers.hpp"
#include "observe/security_log.hpp"

namespace bulwark::gateway {
namespace {

using config::LimitKeyPart;

constexpr int64_t kNanosPerSecond = 1'000'000'000;

// Each part goes into the key as "<tag><length>:<value>": claim values may hold any byte, so
// no separator could keep `a|b` + `c` apart from `a` + `b|c`; a length can.
void append_encoded(std::string& out, char tag, std::string_view value) {
  out += tag;
  out += std::to_string(value.size());
  out += ':';
  out += value;
}

// Appends the request's value for one key part; false when the request has none.
bool append_part(const CompiledLimit& limit, std::size_t i, const LimitRequest& request,
                 std::string& out) {
  const LimitKeyPart& part = limit.key[i];
  switch (part.kind) {
    case LimitKeyPart::Kind::client_ip:
      append_encoded(out, 'i', request.client.text);
      return true;
    case LimitKeyPart::Kind::route:
      append_encoded(out, 'r', request.route);
      return true;
    case LimitKeyPart::Kind::header:
      for (const auto& field : request.fields) {
        if (http::iequals(field.name, part.name) && !field.value.empty()) {
          append_encoded(out, 'h', field.value);
          return true;
        }
      }
      return false;
    case LimitKeyPart::Kind::claim: {
      if (request.claims == nullptr) return false;
      const auto* value = auth::find_claim(*request.claims, limit.claim_paths[i]);
      if (value == nullptr || value->is_null()) return false;
      if (value->is_string()) {
        if (value->get_string().empty()) return false;
        append_encoded(out, 'c', value->get_string());
      } else {
        append_encoded(out, 'c', boost::json::serialize(*value));
      }
      return true;
    }
  }
  return false;
}

// The limit's key for the request, or nullopt when a part is missing and the limit's
// `missing` policy does not say to use the client address instead.
enum class KeyState { ready, skip, reject };
KeyState build_key(const CompiledLimit& limit, const LimitRequest& request, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < limit.key.size(); ++i) {
    if (append_part(limit, i, request, out)) continue;
    switch (limit.missing) {
      case config::RateLimit::Missing::skip:
        return KeyState::skip;
      case config::RateLimit::Missing::reject:
        return KeyState::reject;
      case config::RateLimit::Missing::client_ip:
        out.clear();
        append_encoded(out, 'f', request.client.text);  // apart from a client_ip part
        return KeyState::ready;
    }
  }
  return KeyState::ready;
}

// The key as people read it in the log: the parts' values joined with " | ", and a client
// address standing in for a missing part shown as "client_ip=ADDRESS".
std::string display_key(std::string_view encoded) {
  std::string out;
  while (!encoded.empty()) {
    char tag = encoded.front();
    std::size_t colon = encoded.find(':');
    if (colon == std::string_view::npos) break;
    std::size_t length = 0;
    for (char c : encoded.substr(1, colon - 1))
      length = length * 10 + static_cast<std::size_t>(c - '0');
    std::string_view value = encoded.substr(colon + 1, length);
    if (!out.empty()) out += " | ";
    if (tag == 'f') out += "client_ip=";
    out += value;
    encoded.remove_prefix(std::min(encoded.size(), colon + 1 + length));
  }
  return out;
}

uint64_t seconds_up(int64_t ns) {
  if (ns <= 0) return 0;
  return static_cast<uint64_t>((ns + kNanosPerSecond - 1) / kNanosPerSecond);
}

void log_rejection(const LimitRequest& request, const CompiledLimit& limit, std::string_view key,
                   bool shadow) {
  const std::string shown = display_key(key);
  observe::log_security_event({.event = shadow ? "rate_limited_shadow" : "rate_limited",
                               .reason = shadow ? "shadow" : "over_limit",
                               .client_ip = request.client.text,
                               .route = request.route,
                               .request_id = request.request_id,
                               .limit = limit.name,
                               .key = std::string_view(shown).substr(0, 128)});
}

void observe(const LimitServices& services, const CompiledLimit& limit, LimitVerdict verdict) {
  if (services.observe) services.observe(services.observer_context, limit, verdict);
}

void note_tightest(LimitOutcome& outcome, const CompiledLimit& limit,
                   const limit::LimitResult& result) {
  if (outcome.tightest == nullptr || result.remaining < outcome.tightest_result.remaining ||
      (result.remaining == outcome.tightest_result.remaining &&
       result.reset_ns > outcome.tightest_result.reset_ns)) {
    outcome.tightest = &limit;
    outcome.tightest_result = result;
  }
}

// The access log keeps the gravest outcome of the request's stages.
void note_outcome(LimitOutcome& outcome, std::string_view verdict) {
  auto rank = [](std::string_view v) {
    return v == "rejected" ? 3 : v == "shadow_rejected" ? 2 : v == "ok" ? 1 : 0;
  };
  if (rank(verdict) > rank(outcome.log_outcome)) outcome.log_outcome = verdict;
}

void reject(LimitOutcome& outcome, uint64_t retry_after_s, std::string detail) {
  outcome.rejected = true;
  outcome.retry_after_s = retry_after_s;
  outcome.detail = std::move(detail);
  note_outcome(outcome, "rejected");
}

void shadow_rejection(const LimitServices& services, const CompiledLimit& limit,
                      const LimitRequest& request, std::string_view key, LimitOutcome& outcome) {
  observe(services, limit, LimitVerdict::shadow_rejected);
  log_rejection(request, limit, key, true);
  note_outcome(outcome, "shadow_rejected");
}

}  // namespace

uint64_t CompiledLimit::cost_of(std::string_view method) const {
  for (const auto& [name, value] : method_costs) {
    if (name == method) return value;
  }
  return cost;
}

void LimitOutcome::clear() {
  rejected = false;
  retry_after_s = 0;
  detail.clear();
  tightest = nullptr;
  tightest_result = {};
  log_outcome = {};
}

void plan_limit_stage(std::span<const uint32_t> group, std::span<const CompiledLimit> limits,
                      const LimitServices& services, const LimitRequest& request, LimitPlan& plan,
                      LimitOutcome& outcome) {
  // Keys first, all of them, so the checks' views into them stay valid.
  if (plan.keys.size() < group.size()) plan.keys.resize(group.size());
  plan.enforced.clear();
  plan.enforced_limits.clear();
  plan.shadow.clear();
  plan.shadow_limits.clear();
  plan.lacking = nullptr;
  plan.enforced_allowed = false;
  for (std::size_t g = 0; g < group.size(); ++g) {
    const CompiledLimit& limit = limits[group[g]];
    std::string& key = plan.keys[g];
    const KeyState state = build_key(limit, request, key);
    const bool shadow = limit.mode == config::RateLimit::Mode::shadow;
    if (state == KeyState::skip) continue;
    if (state == KeyState::reject && shadow) {
      shadow_rejection(services, limit, request, "", outcome);
    } else if (state == KeyState::reject) {
      if (plan.lacking == nullptr) plan.lacking = &limit;
    } else {
      const limit::LimitCheck check{limit.id, key, limit.params, limit.cost_of(request.method),
                                    limit.name};
      (shadow ? plan.shadow : plan.enforced).push_back(check);
      (shadow ? plan.shadow_limits : plan.enforced_limits).push_back(&limit);
    }
  }
  if (plan.lacking != nullptr) {  // refused whatever the store says: consume nothing
    plan.enforced.clear();
    plan.enforced_limits.clear();
  }
  plan.results.resize(plan.enforced.size() + plan.shadow.size());
}

void decide_locally(limit::Store& store, int64_t now_ns, LimitPlan& plan) {
  const std::size_t count = plan.enforced.size();
  plan.enforced_allowed =
      count == 0 || store.check_all(plan.enforced, now_ns, {plan.results.data(), count});
  // Shadow limits: each alone, so that one over its limit does not keep the others from
  // counting; nothing is ever refused.
  for (std::size_t i = 0; i < plan.shadow.size(); ++i) {
    store.check_all({&plan.shadow[i], 1}, now_ns, {&plan.results[count + i], 1});
  }
}

namespace {

void finish_shadow(const LimitPlan& plan, const LimitServices& services,
                   const LimitRequest& request, LimitOutcome& outcome) {
  const std::size_t base = plan.enforced.size();
  for (std::size_t i = 0; i < plan.shadow.size(); ++i) {
    const CompiledLimit& limit = *plan.shadow_limits[i];
    if (plan.results[base + i].allowed) {
      observe(services, limit, LimitVerdict::allowed);
      note_outcome(outcome, "ok");
    } else {
      shadow_rejection(services, limit, request, plan.shadow[i].key, outcome);
    }
  }
}

bool finish_rejected(const LimitPlan& plan, const LimitServices& services,
                     const LimitRequest& request, LimitOutcome& outcome) {
  // Tell the client the longest wait among the limits it is over.
  const CompiledLimit* over = nullptr;
  int64_t wait_ns = 0;
  const std::size_t count = plan.enforced.size();
  for (std::size_t i = 0; i < count; ++i) {
    if (plan.results[i].allowed) continue;
    observe(services, *plan.enforced_limits[i], LimitVerdict::rejected);
    log_rejection(request, *plan.enforced_limits[i], plan.enforced[i].key, false);
    if (over == nullptr || plan.results[i].retry_after_ns > wait_ns) {
      over = plan.enforced_limits[i];
      wait_ns = plan.results[i].retry_after_ns;
    }
  }
  if (over == nullptr) {  // a store that said no without saying which: still a refusal
    over = plan.enforced_limits.front();
    wait_ns = kNanosPerSecond;
  }
  outcome.tightest = over;
  outcome.tightest_result = limit::LimitResult{false, wait_ns, 0, wait_ns};
  for (std::size_t i = 0; i < count; ++i) {
    if (plan.enforced_limits[i] == over) outcome.tightest_result = plan.results[i];
  }
  // The loader refuses a cost over the burst, so a wait is always finite; stay safe anyway.
  const uint64_t seconds =
      wait_ns == limit::kRetryNever ? 0 : std::max<uint64_t>(seconds_up(wait_ns), 1);
  reject(outcome, seconds,
         "rate limit '" + over->name + "' exceeded; retry in " + std::to_string(seconds) + " s");
  return false;
}

}  // namespace

bool finish_limit_stage(const LimitPlan& plan, const LimitServices& services,
                        const LimitRequest& request, LimitOutcome& outcome) {
  finish_shadow(plan, services, request, outcome);
  if (plan.lacking != nullptr) {
    observe(services, *plan.lacking, LimitVerdict::rejected);
    log_rejection(request, *plan.lacking, "", false);
    reject(outcome, 0,
           "this route's rate limit '" + plan.lacking->name + "' needs a value the request lacks");
    return false;
  }
  if (plan.enforced.empty()) return true;
  if (!plan.enforced_allowed) return finish_rejected(plan, services, request, outcome);
  for (std::size_t i = 0; i < plan.enforced.size(); ++i) {
    observe(services, *plan.enforced_limits[i], LimitVerdict::allowed);
    note_tightest(outcome, *plan.enforced_limits[i], plan.results[i]);
  }
  note_outcome(outcome, "ok");
  return true;
}

bool run_limit_stage(std::span<const uint32_t> group, std::span<const CompiledLimit> limits,
                     const LimitServices& services, const LimitRequest& request, int64_t now_ns,
                     LimitOutcome& outcome) {
  // One plan per thread: sized by the largest group seen, no allocation per request after.
  thread_local LimitPlan plan;
  plan_limit_stage(group, limits, services, request, plan, outcome);
  if (plan.needs_store()) decide_locally(*services.store, now_ns, plan);
  return finish_limit_stage(plan, services, request, outcome);
}

void append_limit_fields(const LimitOutcome& outcome, config::LimitHeaders headers,
                         std::string& out) {
  const CompiledLimit* limit = outcome.tightest;
  if (limit == nullptr || headers == config::LimitHeaders::off) return;
  const auto& result = outcome.tightest_result;
  if (headers == config::LimitHeaders::standard || headers == config::LimitHeaders::both) {
    out += "RateLimit-Policy: ";
    out += limit::format_ratelimit_policy(limit->name, limit->count, limit->period_ns);
    out += "\r\nRateLimit: ";
    out += limit::format_ratelimit(limit->name, result);
    out += "\r\n";
  }
  if (headers == config::LimitHeaders::legacy || headers == config::LimitHeaders::both) {
    auto legacy = limit::format_legacy(limit->count, result);
    out += "X-RateLimit-Limit: ";
    out += legacy.limit;
    out += "\r\nX-RateLimit-Remaining: ";
    out += legacy.remaining;
    out += "\r\nX-RateLimit-Reset: ";
    out += legacy.reset;
    out += "\r\n";
  }
}

int64_t limit_clock_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace bulwark::gateway
