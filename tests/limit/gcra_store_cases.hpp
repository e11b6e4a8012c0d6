#pragma once
// GCRA store behaviour as data: every store (MemoryStore in tests/limit, the Redis script in
// tests/redis_io) replays these steps and must give exactly these answers. A step is one
// request at `at_ns` after the run's time base: its enforced checks go through the store's
// all-or-nothing check (Store::check_all), then each independent check alone. Runners replay
// each case at a small time base and at one near unix-epoch now, so nothing may depend on the
// base. Expected values are worked out by hand from gcra.hpp's formulas, not by calling it.
//
// Every key a later step reads stays busy for at least ~1 s (T of a second or more, or large
// costs when T is tiny): the Redis store gives keys a TTL in real time while these steps
// replay an explicit clock, so a key busy for 1 ms could expire under a slow test run.

#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "limit/gcra.hpp"
#include "limit/store.hpp"

namespace bulwark::limit::cases {

inline constexpr int64_t kMs = 1'000'000;
inline constexpr int64_t kSecond = 1'000 * kMs;
inline constexpr int64_t kDay = 86'400 * kSecond;

struct CaseCheck {
  std::string_view name;  // the limit; one name means one set of parameters within a case
  std::string_view key;
  GcraParams params;
  uint64_t cost = 1;
};

struct Step {
  int64_t at_ns = 0;
  std::vector<CaseCheck> enforced;
  std::vector<CaseCheck> independent;
  bool allowed = true;               // the enforced group's verdict
  std::vector<LimitResult> results;  // enforced, then independent
};

struct GcraCase {
  std::string title;
  std::vector<Step> steps;
};

inline LimitResult ok(uint64_t remaining, int64_t reset) {
  return {.allowed = true, .retry_after_ns = 0, .remaining = remaining, .reset_ns = reset};
}
inline LimitResult wait(int64_t retry, uint64_t remaining, int64_t reset) {
  return {.allowed = false, .retry_after_ns = retry, .remaining = remaining, .reset_ns = reset};
}
inline LimitResult never(uint64_t remaining, int64_t reset) {
  return wait(kRetryNever, remaining, reset);
}

// One request of one enforced check.
inline Step one(int64_t at, CaseCheck check, LimitResult expected) {
  return Step{.at_ns = at,
              .enforced = {check},
              .independent = {},
              .allowed = expected.allowed,
              .results = {expected}};
}

// A group of enforced checks.
inline Step group(int64_t at, std::vector<CaseCheck> checks, bool allowed,
                  std::vector<LimitResult> expected) {
  return Step{.at_ns = at,
              .enforced = std::move(checks),
              .independent = {},
              .allowed = allowed,
              .results = std::move(expected)};
}

// `burst` unit requests at `at` from an idle key: remaining counts down, reset grows by T.
inline void burst_from_idle(std::vector<Step>& steps, int64_t at, const CaseCheck& check,
                            uint64_t burst) {
  for (uint64_t i = 1; i <= burst; ++i) {
    steps.push_back(
        one(at, check, ok(burst - i, static_cast<int64_t>(i) * check.params.emission_interval_ns)));
  }
}

// What a step's answers were, or "" when they are what the step expects.
inline std::string mismatch(const Step& step, bool allowed, std::span<const LimitResult> got) {
  std::string out;
  if (allowed != step.allowed) out += " verdict " + std::to_string(allowed);
  for (std::size_t i = 0; i < step.results.size() && i < got.size(); ++i) {
    const LimitResult& e = step.results[i];
    const LimitResult& g = got[i];
    if (e.allowed != g.allowed || e.retry_after_ns != g.retry_after_ns ||
        e.remaining != g.remaining || e.reset_ns != g.reset_ns) {
      out += " [" + std::to_string(i) + "] got {" + std::to_string(g.allowed) + ", " +
             std::to_string(g.retry_after_ns) + ", " + std::to_string(g.remaining) + ", " +
             std::to_string(g.reset_ns) + "} want {" + std::to_string(e.allowed) + ", " +
             std::to_string(e.retry_after_ns) + ", " + std::to_string(e.remaining) + ", " +
             std::to_string(e.reset_ns) + "}";
    }
  }
  return out;
}

inline std::vector<GcraCase> gcra_store_cases() {
  constexpr int64_t s = kSecond;
  const GcraParams one_per_s_burst5 = gcra_params(1, s, 5);  // T = 1 s, capacity 5 s
  const GcraParams one_per_s_burst3 = gcra_params(1, s, 3);
  const GcraParams one_per_s_burst2 = gcra_params(1, s, 2);
  const GcraParams one_per_s_burst1 = gcra_params(1, s, 1);
  const CaseCheck k5{"per-ip", "192.0.2.1", one_per_s_burst5};
  const CaseCheck k3{"per-ip", "192.0.2.1", one_per_s_burst3};
  auto cost = [](CaseCheck c, uint64_t n) {
    c.cost = n;
    return c;
  };
  std::vector<GcraCase> all;

  {
    GcraCase c{"a burst passes whole from an idle key, then one more is refused", {}};
    burst_from_idle(c.steps, 0, k5, 5);
    c.steps.push_back(one(0, k5, wait(s, 0, 5 * s)));
    all.push_back(std::move(c));
  }
  {
    GcraCase c{"after the burst, one more every T", {}};
    burst_from_idle(c.steps, 0, k5, 5);
    c.steps.push_back(one(s, k5, ok(0, 5 * s)));  // TAT 6 s
    c.steps.push_back(one(s, k5, wait(s, 0, 5 * s)));
    c.steps.push_back(one(2500 * kMs, k5, ok(0, 4500 * kMs)));  // fill 3.5 s
    c.steps.push_back(one(2500 * kMs, k5, wait(500 * kMs, 0, 4500 * kMs)));
    all.push_back(std::move(c));
  }
  {
    GcraCase c{"the boundary instant tat - tau is allowed, 1 ns before it is not", {}};
    burst_from_idle(c.steps, 0, k3, 3);  // TAT 3 s, tau 2 s
    c.steps.push_back(one(s - 1, k3, wait(1, 0, 2 * s + 1)));
    c.steps.push_back(one(s, k3, ok(0, 3 * s)));
    all.push_back(std::move(c));
  }
  {
    GcraCase c{"a T that does not divide the period, and its retry_after honoured", {}};
    const GcraParams p = gcra_params(3, 10 * s);  // T = 3333333334, burst 3
    const int64_t t = 3'333'333'334;
    const CaseCheck k{"odd", "k", p};
    burst_from_idle(c.steps, 0, k, 3);
    c.steps.push_back(one(0, k, wait(t, 0, 3 * t)));
    c.steps.push_back(one(t - 1, k, wait(1, 0, 2 * t + 1)));
    c.steps.push_back(one(t, k, ok(0, 3 * t)));
    all.push_back(std::move(c));
  }
  {
    GcraCase c{"an idle key is back to a full burst", {}};
    burst_from_idle(c.steps, 0, k3, 3);
    c.steps.push_back(one(10 * s, k3, ok(2, s)));
    c.steps.push_back(one(10 * s, k3, ok(1, 2 * s)));
    all.push_back(std::move(c));
  }
  {
    GcraCase c{"no burst (burst 1): one per T", {}};
    const CaseCheck k{"slow", "k", gcra_params(1, 10 * s, 1)};
    c.steps.push_back(one(0, k, ok(0, 10 * s)));
    c.steps.push_back(one(5 * s, k, wait(5 * s, 0, 5 * s)));
    c.steps.push_back(one(10 * s, k, ok(0, 10 * s)));
    all.push_back(std::move(c));
  }
  {
    GcraCase c{"a cost takes several requests' worth", {}};
    c.steps.push_back(one(0, cost(k5, 3), ok(2, 3 * s)));
    c.steps.push_back(one(0, cost(k5, 3), wait(s, 2, 3 * s)));
    c.steps.push_back(one(0, cost(k5, 2), ok(0, 5 * s)));
    all.push_back(std::move(c));
  }
  {
    GcraCase c{"a cost equal to the burst passes from idle", {}};
    c.steps.push_back(one(0, cost(k5, 5), ok(0, 5 * s)));
    c.steps.push_back(one(0, k5, wait(s, 0, 5 * s)));
    c.steps.push_back(one(4 * s, cost(k5, 5), wait(s, 4, s)));
    all.push_back(std::move(c));
  }
  {
    GcraCase c{"a cost above the burst never passes and consumes nothing", {}};
    c.steps.push_back(one(0, cost(k5, 6), never(5, 0)));
    c.steps.push_back(one(0, k5, ok(4, s)));
    c.steps.push_back(one(0, cost(k5, 6), never(4, s)));
    c.steps.push_back(one(0, cost(k5, std::numeric_limits<uint64_t>::max()), never(4, s)));
    all.push_back(std::move(c));
  }
  {
    GcraCase c{"cost 0 counts as 1", {}};
    c.steps.push_back(one(0, cost(k5, 0), ok(4, s)));
    all.push_back(std::move(c));
  }
  {
    GcraCase c{"a rejected request consumes nothing from any limit", {}};
    const CaseCheck roomy{"roomy", "client", gcra_params(1, s, 10)};
    const CaseCheck tight{"tight", "client", one_per_s_burst2};
    c.steps.push_back(group(0, {roomy, tight}, true, {ok(9, s), ok(1, s)}));
    c.steps.push_back(group(0, {roomy, tight}, true, {ok(8, 2 * s), ok(0, 2 * s)}));
    for (int i = 0; i < 3; ++i) {
      c.steps.push_back(group(0, {roomy, tight}, false, {ok(8, 2 * s), wait(s, 0, 2 * s)}));
    }
    c.steps.push_back(one(0, roomy, ok(7, 3 * s)));
    all.push_back(std::move(c));
  }
  {
    GcraCase c{"a new key is not stored when the request is rejected", {}};
    const CaseCheck fresh{"per-ip", "198.51.100.9", one_per_s_burst3};
    const CaseCheck user{"per-user", "alice", one_per_s_burst1};
    c.steps.push_back(one(0, user, ok(0, s)));
    c.steps.push_back(group(0, {fresh, user}, false, {ok(3, 0), wait(s, 0, s)}));
    c.steps.push_back(one(0, fresh, ok(2, s)));
    all.push_back(std::move(c));
  }
  {
    GcraCase c{"the whole request passes after its longest retry_after", {}};
    const CaseCheck fast{"fast", "k", one_per_s_burst1};
    const CaseCheck slow{"slow", "k", gcra_params(1, 5 * s, 1)};
    c.steps.push_back(group(0, {fast, slow}, true, {ok(0, s), ok(0, 5 * s)}));
    c.steps.push_back(group(0, {fast, slow}, false, {wait(s, 0, s), wait(5 * s, 0, 5 * s)}));
    c.steps.push_back(group(5 * s - 1, {fast, slow}, false, {ok(1, 0), wait(1, 0, 1)}));
    c.steps.push_back(group(5 * s, {fast, slow}, true, {ok(0, s), ok(0, 5 * s)}));
    all.push_back(std::move(c));
  }
  {
    GcraCase c{"the same limit and key twice in one request counts twice", {}};
    const CaseCheck two = cost(k5, 2);
    c.steps.push_back(group(0, {two, two}, true, {ok(3, 2 * s), ok(1, 4 * s)}));
    c.steps.push_back(group(0, {two, two}, false, {wait(s, 1, 4 * s), wait(s, 1, 4 * s)}));
    c.steps.push_back(one(0, k5, ok(0, 5 * s)));
    all.push_back(std::move(c));
  }
  {
    GcraCase c{"the second of the same key fails on what the first took: nothing is kept", {}};
    const CaseCheck three = cost(k5, 3);
    c.steps.push_back(group(0, {three, three}, false, {ok(5, 0), wait(s, 2, 3 * s)}));
    c.steps.push_back(one(0, k5, ok(4, s)));
    all.push_back(std::move(c));
  }
  {
    GcraCase c{"more checks than fit inline: all or nothing still", {}};
    std::vector<CaseCheck> checks;
    static constexpr std::string_view kNames[] = {"l0", "l1", "l2", "l3", "l4", "l5"};
    for (std::string_view name : kNames) checks.push_back({name, "k", one_per_s_burst5});
    checks.push_back({"l6", "k", one_per_s_burst1});
    std::vector<LimitResult> first(6, ok(4, s));
    first.push_back(ok(0, s));
    std::vector<LimitResult> second(6, ok(4, s));
    second.push_back(wait(s, 0, s));
    c.steps.push_back(group(0, checks, true, first));
    c.steps.push_back(group(0, checks, false, second));
    all.push_back(std::move(c));
  }
  {
    GcraCase c{"keys and limit names are separate counters", {}};
    const CaseCheck a{"per-ip", "a", one_per_s_burst1};
    const CaseCheck b{"per-ip", "b", one_per_s_burst1};
    const CaseCheck a_other{"per-route", "a", one_per_s_burst1};
    c.steps.push_back(one(0, a, ok(0, s)));
    c.steps.push_back(one(0, a, wait(s, 0, s)));
    c.steps.push_back(one(0, b, ok(0, s)));
    c.steps.push_back(one(0, a_other, ok(0, s)));
    all.push_back(std::move(c));
  }
  {
    GcraCase c{"keys with braces, hashes or any length are counters like others", {}};
    static const std::string kLong(300, 'x');
    const CaseCheck braces{"per-key", "{a}", one_per_s_burst1};
    const CaseCheck plain{"per-key", "a", one_per_s_burst1};
    const CaseCheck hashy{"per-key", "#9537c5fdf120482f7d58d25e9ed583f5", one_per_s_burst1};
    const CaseCheck long_key{"per-key", kLong, one_per_s_burst1};
    const CaseCheck empty{"per-key", "", one_per_s_burst1};
    for (const CaseCheck& k : {braces, plain, hashy, long_key, empty}) {
      c.steps.push_back(one(0, k, ok(0, s)));
    }
    for (const CaseCheck& k : {braces, plain, hashy, long_key, empty}) {
      c.steps.push_back(one(0, k, wait(s, 0, s)));
    }
    all.push_back(std::move(c));
  }
  {
    GcraCase c{"100 per day: T = 864 s, the burst a whole day", {}};
    const int64_t t = 864 * s;
    const CaseCheck k{"daily", "k", gcra_params(100, kDay)};
    c.steps.push_back(one(0, cost(k, 100), ok(0, kDay)));
    c.steps.push_back(one(0, k, wait(t, 0, kDay)));
    c.steps.push_back(one(t, k, ok(0, kDay)));
    c.steps.push_back(one(kDay / 2, k, ok(48, 44'928 * s)));
    all.push_back(std::move(c));
  }
  {
    GcraCase c{"one per day, bursts of 7: a week of capacity", {}};
    const CaseCheck k{"weekly", "k", gcra_params(1, kDay, 7)};
    burst_from_idle(c.steps, 0, k, 7);
    c.steps.push_back(one(0, k, wait(kDay, 0, 7 * kDay)));
    c.steps.push_back(one(3 * kDay + 1, k, ok(2, 5 * kDay - 1)));
    c.steps.push_back(one(3 * kDay + 1, cost(k, 3), wait(kDay - 1, 2, 5 * kDay - 1)));
    all.push_back(std::move(c));
  }
  {
    GcraCase c{"tiny T: 1e12 per second is T = 1 ns with a burst of 1e12", {}};
    const CaseCheck k{"firehose", "k", gcra_params(1'000'000'000'000, s)};
    constexpr uint64_t kHalf = 500'000'000'000;
    c.steps.push_back(one(0, cost(k, kHalf), ok(kHalf, kHalf)));
    c.steps.push_back(one(0, cost(k, kHalf), ok(0, 2 * kHalf)));
    c.steps.push_back(one(0, k, wait(1, 0, 2 * kHalf)));
    c.steps.push_back(one(1, k, ok(0, 2 * kHalf)));
    c.steps.push_back(one(1, cost(k, 2 * kHalf + 1), never(0, 2 * kHalf)));
    c.steps.push_back(one(kHalf + 1, cost(k, kHalf), ok(0, 2 * kHalf)));
    all.push_back(std::move(c));
  }
  {
    GcraCase c{"huge counts with T above 1 ns: 1e9 per 1000 s", {}};
    const CaseCheck k{"bulk", "k", gcra_params(1'000'000'000, 1000 * s)};  // T = 1 us
    c.steps.push_back(one(0, cost(k, 999'999'999), ok(1, 999'999'999'000)));
    c.steps.push_back(one(0, cost(k, 2), wait(1'000, 1, 999'999'999'000)));
    c.steps.push_back(one(1'000, cost(k, 2), ok(0, 1'000 * s)));
    all.push_back(std::move(c));
  }
  {
    GcraCase c{"a clock going backwards sees the key further ahead", {}};
    const CaseCheck k{"per-ip", "k", one_per_s_burst2};
    c.steps.push_back(one(10 * s, k, ok(1, s)));  // TAT 11 s
    c.steps.push_back(one(9 * s, k, wait(s, 0, 2 * s)));
    c.steps.push_back(one(9500 * kMs, k, wait(500 * kMs, 0, 1500 * kMs)));
    c.steps.push_back(one(10 * s, k, ok(0, 2 * s)));
    all.push_back(std::move(c));
  }
  {
    GcraCase c{"a shadow check is committed even when the enforced group is rejected", {}};
    const CaseCheck strict{"strict", "k", one_per_s_burst1};
    const CaseCheck shadow{"shadow", "k", one_per_s_burst2};
    c.steps.push_back(Step{0, {strict}, {shadow}, true, {ok(0, s), ok(1, s)}});
    c.steps.push_back(Step{0, {strict}, {shadow}, false, {wait(s, 0, s), ok(0, 2 * s)}});
    c.steps.push_back(Step{0, {strict}, {shadow}, false, {wait(s, 0, s), wait(s, 0, 2 * s)}});
    all.push_back(std::move(c));
  }
  {
    GcraCase c{"a refusing shadow check does not block the request", {}};
    const CaseCheck enforced{"enforced", "k", one_per_s_burst5};
    const CaseCheck shadow{"shadow", "k", one_per_s_burst1};
    c.steps.push_back(Step{0, {enforced}, {shadow}, true, {ok(4, s), ok(0, s)}});
    c.steps.push_back(Step{0, {enforced}, {shadow}, true, {ok(3, 2 * s), wait(s, 0, s)}});
    all.push_back(std::move(c));
  }
  {
    GcraCase c{"shadow checks alone, each committed on its own, the same key twice included", {}};
    const CaseCheck shadow{"shadow", "k", one_per_s_burst2};
    const CaseCheck never_fits = cost(shadow, 3);
    c.steps.push_back(
        Step{0, {}, {shadow, shadow, never_fits}, true, {ok(1, s), ok(0, 2 * s), never(0, 2 * s)}});
    c.steps.push_back(Step{0, {}, {shadow}, true, {wait(s, 0, 2 * s)}});
    all.push_back(std::move(c));
  }
  return all;
}

}  // namespace bulwark::limit::cases
