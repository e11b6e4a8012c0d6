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

constexpr char kPartSeparator = '\x1f';
constexpr std::string_view kClientIpFallback = "\x1e";  // keeps fallback keys apart
constexpr std::size_t kMaxChecks = 16;
constexpr int64_t kNanosPerSecond = 1'000'000'000;

// Appends the request's value for one key part; false when the request has none.
bool append_part(const CompiledLimit& limit, std::size_t i, const LimitRequest& request,
                 std::string& out) {
  const LimitKeyPart& part = limit.key[i];
  switch (part.kind) {
    case LimitKeyPart::Kind::client_ip:
      out += request.client.text;
      return true;
    case LimitKeyPart::Kind::route:
      out += request.route;
      return true;
    case LimitKeyPart::Kind::header:
      for (const auto& field : request.fields) {
        if (http::iequals(field.name, part.name) && !field.value.empty()) {
          out += field.value;
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
        out += value->get_string();
      } else {
        out += boost::json::serialize(*value);
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
    if (i > 0) out += kPartSeparator;
    if (append_part(limit, i, request, out)) continue;
    switch (limit.missing) {
      case config::RateLimit::Missing::skip:
        return KeyState::skip;
      case config::RateLimit::Missing::reject:
        return KeyState::reject;
      case config::RateLimit::Missing::client_ip:
        out.assign(kClientIpFallback);
        out += request.client.text;
        return KeyState::ready;
    }
  }
  return KeyState::ready;
}

uint64_t seconds_up(int64_t ns) {
  if (ns <= 0) return 0;
  return static_cast<uint64_t>((ns + kNanosPerSecond - 1) / kNanosPerSecond);
}

void log_rejection(const LimitRequest& request, const CompiledLimit& limit, std::string_view key,
                   bool shadow) {
  observe::log_security_event({.event = shadow ? "rate_limited_shadow" : "rate_limited",
                               .reason = shadow ? "shadow" : "over_limit",
                               .client_ip = request.client.text,
                               .route = request.route,
                               .request_id = request.request_id,
                               .limit = limit.name,
                               .key = key.substr(0, 128)});
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

void reject(LimitOutcome& outcome, const CompiledLimit& limit, uint64_t retry_after_s,
            std::string detail) {
  outcome.rejected = true;
  outcome.retry_after_s = retry_after_s;
  outcome.detail = std::move(detail);
  outcome.log_outcome = "rejected";
  (void)limit;
}

// Shadow limits: each alone, so that one over its limit does not keep the others from
// counting; nothing is ever refused.
void run_shadow(const CompiledLimit& limit, std::string_view key, const LimitRequest& request,
                const LimitServices& services, int64_t now_ns, LimitOutcome& outcome) {
  limit::LimitCheck check{limit.id, key, limit.params, limit.cost_of(request.method)};
  limit::LimitResult result{};
  bool allowed = services.store->check_all({&check, 1}, now_ns, {&result, 1});
  observe(services, limit, allowed ? LimitVerdict::allowed : LimitVerdict::shadow_rejected);
  if (allowed) return;
  log_rejection(request, limit, key, true);
  if (outcome.log_outcome.empty()) outcome.log_outcome = "shadow_rejected";
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

bool run_limit_stage(std::span<const uint32_t> group, std::span<const CompiledLimit> limits,
                     const LimitServices& services, const LimitRequest& request, int64_t now_ns,
                     LimitOutcome& outcome) {
  thread_local std::array<std::string, kMaxChecks> keys;
  std::array<limit::LimitCheck, kMaxChecks> checks;
  std::array<const CompiledLimit*, kMaxChecks> checked{};
  std::array<limit::LimitResult, kMaxChecks> results{};
  std::size_t count = 0;
  for (uint32_t index : group) {
    if (count == kMaxChecks) break;
    const CompiledLimit& limit = limits[index];
    std::string& key = keys[count];
    KeyState state = build_key(limit, request, key);
    if (state == KeyState::skip) continue;
    if (state == KeyState::reject) {
      if (limit.mode == config::RateLimit::Mode::shadow) continue;
      observe(services, limit, LimitVerdict::rejected);
      log_rejection(request, limit, "", false);
      reject(outcome, limit, 0,
             "this route's rate limit '" + limit.name + "' needs a value the request lacks");
      return false;
    }
    if (limit.mode == config::RateLimit::Mode::shadow) {
      run_shadow(limit, key, request, services, now_ns, outcome);
      continue;
    }
    checks[count] = {limit.id, key, limit.params, limit.cost_of(request.method)};
    checked[count] = &limit;
    ++count;
  }
  if (count == 0) return true;
  if (services.store->check_all({checks.data(), count}, now_ns, {results.data(), count})) {
    for (std::size_t i = 0; i < count; ++i) {
      observe(services, *checked[i], LimitVerdict::allowed);
      note_tightest(outcome, *checked[i], results[i]);
    }
    if (outcome.log_outcome.empty()) outcome.log_outcome = "ok";
    return true;
  }
  // Rejected: tell the client the longest wait among the limits it is over.
  const CompiledLimit* over = nullptr;
  int64_t wait_ns = 0;
  for (std::size_t i = 0; i < count; ++i) {
    if (results[i].allowed) continue;
    observe(services, *checked[i], LimitVerdict::rejected);
    log_rejection(request, *checked[i], checks[i].key, false);
    if (over == nullptr || results[i].retry_after_ns > wait_ns) {
      over = checked[i];
      wait_ns = results[i].retry_after_ns;
    }
  }
  outcome.tightest = over;
  outcome.tightest_result = limit::LimitResult{false, wait_ns, 0, wait_ns};
  for (std::size_t i = 0; i < count; ++i) {
    if (checked[i] == over) outcome.tightest_result = results[i];
  }
  // The loader refuses a cost over the burst, so a wait is always finite; stay safe anyway.
  const uint64_t seconds =
      wait_ns == limit::kRetryNever ? 0 : std::max<uint64_t>(seconds_up(wait_ns), 1);
  reject(outcome, *over, seconds,
         "rate limit '" + over->name + "' exceeded; retry in " + std::to_string(seconds) + " s");
  return false;
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
