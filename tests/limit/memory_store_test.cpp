#include "limit/memory_store.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <barrier>
#include <cstdint>
#include <iostream>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "limit/gcra_store_cases.hpp"

namespace bulwark::limit {
namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kSecond = 1'000 * kMs;
constexpr int64_t kDay = 86'400 * kSecond;
constexpr int64_t kT0 = 1'000 * kSecond;

// 10 per second, bursts of 5: T = 100 ms.
const GcraParams kTenPerSecondBurst5 = gcra_params(10, kSecond, 5);

LimitCheck check(uint32_t limit, std::string_view key, GcraParams params = kTenPerSecondBurst5,
                 uint64_t cost = 1) {
  return LimitCheck{.limit_id = limit, .key = key, .params = params, .cost = cost};
}

LimitResult check_one(MemoryStore& store, const LimitCheck& c, int64_t now) {
  LimitResult result;
  store.check_all({&c, 1}, now, {&result, 1});
  return result;
}

// How many of `n` unit requests pass at `now`.
int passes(MemoryStore& store, const LimitCheck& c, int64_t now, int n) {
  int passed = 0;
  for (int i = 0; i < n; ++i) passed += check_one(store, c, now).allowed ? 1 : 0;
  return passed;
}

std::string key_of(int i) {
  return "10." + std::to_string(i >> 16 & 255) + "." + std::to_string(i >> 8 & 255) + "." +
         std::to_string(i & 255);
}

// ---- GCRA behaviour: the table every store passes ------------------------------------------

// A small base and one near unix-epoch now: the Redis store runs the table at the same two.
constexpr int64_t kTimeBases[] = {1'000'000, 1'800'000'000'123'456'789};

std::vector<LimitCheck> to_checks(const std::vector<cases::CaseCheck>& in,
                                  std::map<std::string_view, uint32_t>& ids, MemoryStore& store) {
  std::vector<LimitCheck> out;
  for (const cases::CaseCheck& c : in) {
    const auto [it, added] = ids.emplace(c.name, static_cast<uint32_t>(ids.size()));
    if (added) store.set_limit_capacity(it->second, 1000);
    out.push_back(LimitCheck{
        .limit_id = it->second, .key = c.key, .params = c.params, .cost = c.cost, .name = c.name});
  }
  return out;
}

void replay(const cases::GcraCase& gcra_case, int64_t base) {
  MemoryStore store;
  std::map<std::string_view, uint32_t> ids;
  for (std::size_t i = 0; i < gcra_case.steps.size(); ++i) {
    const cases::Step& step = gcra_case.steps[i];
    const std::vector<LimitCheck> enforced = to_checks(step.enforced, ids, store);
    const std::vector<LimitCheck> independent = to_checks(step.independent, ids, store);
    std::vector<LimitResult> results(enforced.size() + independent.size());
    ASSERT_EQ(results.size(), step.results.size()) << "step " << i << " of the table";
    const int64_t now = base + step.at_ns;
    const bool allowed = store.check_all(enforced, now, std::span(results).first(enforced.size()));
    for (std::size_t j = 0; j < independent.size(); ++j) {
      store.check_all({&independent[j], 1}, now, {&results[enforced.size() + j], 1});
    }
    EXPECT_EQ(cases::mismatch(step, allowed, results), "") << "step " << i;
  }
}

TEST(MemoryStore, GcraStoreCases) {
  const std::vector<cases::GcraCase> all = cases::gcra_store_cases();
  ASSERT_GE(all.size(), 20u);
  for (const int64_t base : kTimeBases) {
    for (const cases::GcraCase& gcra_case : all) {
      SCOPED_TRACE(gcra_case.title + " (time base " + std::to_string(base) + ")");
      replay(gcra_case, base);
    }
  }
}

// What the table cannot see: which keys the store holds.
TEST(MemoryStore, RefusedRequestsStoreNoKey) {
  MemoryStore store;
  store.set_limit_capacity(0, 100);
  store.set_limit_capacity(1, 100);
  EXPECT_TRUE(check_one(store, check(0, "k", kTenPerSecondBurst5, 6), kT0).never());
  EXPECT_EQ(store.size(0), 0u) << "a cost above the burst stored its key";
  const LimitCheck blocked = check(1, "user", kTenPerSecondBurst5, 1);
  ASSERT_EQ(passes(store, blocked, kT0, 5), 5);
  const std::array checks{check(0, "fresh-ip"), blocked};
  std::array<LimitResult, 2> results;
  EXPECT_FALSE(store.check_all(checks, kT0, results));
  EXPECT_EQ(store.size(0), 0u) << "a rejected request stored its new key";
  EXPECT_EQ(passes(store, check(0, "a"), kT0, 10), 5);
  EXPECT_EQ(passes(store, check(0, "b"), kT0, 10), 5);
  EXPECT_EQ(store.size(0), 2u);
}

TEST(MemoryStore, EmptyRequestIsAllowed) {
  MemoryStore store;
  EXPECT_TRUE(store.check_all({}, kT0, {}));
}

TEST(MemoryStore, CallerErrorsThrowBeforeAnythingIsConsumed) {
  MemoryStore store;
  store.set_limit_capacity(0, 10);
  const std::array checks{check(0, "k"), check(7, "k")};
  std::array<LimitResult, 2> results;
  EXPECT_THROW(store.check_all(checks, kT0, results), std::out_of_range);
  EXPECT_EQ(store.size(0), 0u);
  EXPECT_THROW(store.check_all(checks, kT0, std::span(results).first(1)), std::invalid_argument);
}

// ---- the bound --------------------------------------------------------------------------------

TEST(MemoryStoreBound, IdleKeysAreReclaimedFirst) {
  MemoryStore store;
  store.set_limit_capacity(0, 1000);
  // One new key every 10 ms, each idle 100 ms later: at most ~10 are live at once.
  std::size_t most = 0;
  for (int i = 0; i < 50'000; ++i) {
    ASSERT_TRUE(check_one(store, check(0, key_of(i)), kT0 + i * 10 * kMs).allowed);
    most = std::max(most, store.size(0));
  }
  EXPECT_LE(most, 1000u);
  const auto stats = store.stats(0);
  EXPECT_EQ(stats.live_evicted, 0u) << "a live key was dropped while idle ones were there";
  EXPECT_GT(stats.idle_reclaimed, 0u);
}

TEST(MemoryStoreBound, LiveKeysBeyondTheBoundEvictTheClosestToIdle) {
  MemoryStore store;
  store.set_limit_capacity(0, 640);
  const GcraParams per_day = gcra_params(1, kDay, 10);
  for (int i = 0; i < 10'000; ++i) {
    check_one(store, check(0, key_of(i), per_day), kT0 + i);
  }
  EXPECT_EQ(store.size(0), 640u);
  EXPECT_EQ(store.stats(0).live_evicted, 10'000u - 640u);
}

TEST(MemoryStoreBound, ThrottledKeySurvivesKeyRotation) {
  MemoryStore store;
  store.set_limit_capacity(0, 640);
  const GcraParams per_day = gcra_params(1, kDay, 10);
  const LimitCheck throttled = check(0, "198.51.100.7", per_day);
  ASSERT_EQ(passes(store, throttled, kT0, 11), 10);  // its TAT is now 10 days ahead
  for (int i = 0; i < 100'000; ++i) check_one(store, check(0, key_of(i), per_day), kT0 + i);
  EXPECT_LE(store.size(0), 640u);
  const LimitResult r = check_one(store, throttled, kT0 + kSecond);
  EXPECT_FALSE(r.allowed) << "rotating through fresh keys washed out the throttled one";
}

TEST(MemoryStoreBound, BoundBelowTheShardCountHolds) {
  MemoryStore store(MemoryStore::Options{.shards = 64});
  store.set_limit_capacity(0, 3);
  std::size_t most = 0;
  for (int i = 0; i < 1000; ++i) {
    check_one(store, check(0, key_of(i), gcra_params(1, kDay)), kT0);
    most = std::max(most, store.size(0));
  }
  EXPECT_EQ(most, 3u);
}

TEST(MemoryStoreBound, ZeroMeansOne) {
  MemoryStore store;
  store.set_limit_capacity(0, 0);
  for (int i = 0; i < 10; ++i) check_one(store, check(0, key_of(i)), kT0);
  EXPECT_EQ(store.size(0), 1u);
}

TEST(MemoryStoreBound, MemoryPerKeyAtTheBound) {
  constexpr int kKeys = 200'000;
  MemoryStore store;
  store.set_limit_capacity(0, kKeys);
  // Twice as many live keys as the bound: every shard ends holding exactly its share.
  for (int i = 0; i < 2 * kKeys; ++i) check_one(store, check(0, key_of(i)), kT0);
  ASSERT_EQ(store.size(0), static_cast<std::size_t>(kKeys));
  const double per_key = static_cast<double>(store.memory_bytes()) / kKeys;
  std::cout << "[ memory   ] " << per_key << " bytes per key (" << kKeys << " keys)\n";
  EXPECT_LE(per_key, MemoryStore::bytes_per_key_estimate() + 1.0);
}

// ---- declaring limits -------------------------------------------------------------------------

TEST(MemoryStoreLimits, RedeclaringTheSameBoundKeepsState) {
  MemoryStore store;
  store.set_limit_capacity(0, 100);
  ASSERT_EQ(passes(store, check(0, "k"), kT0, 5), 5);
  store.set_limit_capacity(0, 100);
  EXPECT_EQ(store.size(0), 1u);
  EXPECT_EQ(passes(store, check(0, "k"), kT0, 1), 0);
}

TEST(MemoryStoreLimits, AnotherBoundStartsOver) {
  MemoryStore store;
  store.set_limit_capacity(0, 100);
  ASSERT_EQ(passes(store, check(0, "k"), kT0, 5), 5);
  store.set_limit_capacity(0, 10);
  EXPECT_EQ(store.size(0), 0u);
  EXPECT_EQ(passes(store, check(0, "k"), kT0, 6), 5);
}

TEST(MemoryStoreLimits, RedeclaringWhileOthersCheck) {
  MemoryStore store;
  for (uint32_t id = 0; id <= 3; ++id) store.set_limit_capacity(id, 1000);
  std::atomic<bool> stop{false};
  std::atomic<int> done{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t) {
    workers.emplace_back([&, t] {
      std::array<LimitResult, 2> results;
      for (int i = 0; !stop.load(); ++i) {
        const std::string a = key_of(t * 100'000 + i % 5000);
        const std::string b = key_of(i % 77);
        const std::array checks{check(0, a), check(1 + i % 3, b)};
        store.check_all(checks, kT0 + i * kMs, results);
        ++done;
      }
    });
  }
  // Bounds change under the workers' feet, until they have made 200k requests.
  for (uint32_t round = 0; round < 200 || done.load() < 200'000; ++round) {
    for (uint32_t id = 1; id <= 3; ++id) store.set_limit_capacity(id, 10 + (round + id) % 100);
    std::this_thread::yield();
  }
  stop = true;
  for (auto& w : workers) w.join();
  for (uint32_t id = 0; id <= 3; ++id) EXPECT_LE(store.size(id), id == 0 ? 1000u : 109u);
}

// ---- concurrency ------------------------------------------------------------------------------

// 8 threads x 100k attempts on one key. Simulated time advances in ticks; within a tick every
// thread tries at the same instant, concurrently. The allowed total must be exactly the
// formula: burst + floor(elapsed / T).
TEST(MemoryStoreConcurrency, HotKeyAllowsExactlyTheFormula) {
  constexpr int kThreads = 8;
  constexpr int kTicks = 1000;
  constexpr int kAttemptsPerTick = 100;  // per thread: 8 x 100k attempts in all
  constexpr int64_t kTick = 1 * kMs;
  const GcraParams p = gcra_params(1000, kSecond, 50);        // T = 1 ms... one per tick
  const GcraParams odd = gcra_params(3000, 7 * kSecond, 20);  // T = 2.333 ms, not a tick

  for (const GcraParams& params : {p, odd}) {
    MemoryStore store;
    store.set_limit_capacity(0, 16);
    std::atomic<int64_t> clock{kT0};
    std::atomic<uint64_t> allowed{0};
    std::barrier tick(kThreads, [&]() noexcept { clock.fetch_add(kTick); });
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        const LimitCheck c = check(0, "203.0.113.1", params);
        uint64_t mine = 0;
        for (int k = 0; k < kTicks; ++k) {
          const int64_t now = clock.load();
          for (int a = 0; a < kAttemptsPerTick; ++a) mine += check_one(store, c, now).allowed;
          tick.arrive_and_wait();
        }
        allowed += mine;
      });
    }
    for (auto& th : threads) th.join();
    const int64_t elapsed = (kTicks - 1) * kTick;  // first attempt at kT0, last at this
    const uint64_t expected =
        gcra_burst(params) + static_cast<uint64_t>(elapsed / params.emission_interval_ns);
    EXPECT_EQ(allowed.load(), expected) << "T = " << params.emission_interval_ns;
  }
}

// The same key, with every attempt reading a shared clock that moves on each read: threads
// commit out of clock order. GCRA then never allows more than the formula, and misses
// at most a little of it.
TEST(MemoryStoreConcurrency, HotKeyWithAFreeRunningClockNeverExceedsTheFormula) {
  constexpr int kThreads = 8;
  constexpr int kAttempts = 100'000;
  constexpr int64_t kStep = 1000;  // 1 us per attempt, 0.8 s in all
  const GcraParams p = gcra_params(1000, kSecond, 50);
  MemoryStore store;
  store.set_limit_capacity(0, 16);
  std::atomic<int64_t> clock{kT0};
  std::atomic<uint64_t> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      const LimitCheck c = check(0, "203.0.113.1", p);
      uint64_t mine = 0;
      for (int a = 0; a < kAttempts; ++a) {
        mine += check_one(store, c, clock.fetch_add(kStep)).allowed;
      }
      allowed += mine;
    });
  }
  for (auto& th : threads) th.join();
  const int64_t elapsed = clock.load() - kStep - kT0;
  const uint64_t formula = 50 + static_cast<uint64_t>(elapsed / p.emission_interval_ns);
  EXPECT_LE(allowed.load(), formula);
  EXPECT_GE(allowed.load(), formula * 95 / 100);
}

TEST(MemoryStoreConcurrency, DistinctKeysInParallelEachGetTheirBurst) {
  constexpr int kThreads = 8;
  constexpr int kKeysPerThread = 20'000;
  MemoryStore store;
  // Room for twice the keys: each shard holds an exact share, and keys do not spread exactly.
  store.set_limit_capacity(0, 2 * kThreads * kKeysPerThread);
  std::atomic<uint64_t> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      uint64_t mine = 0;
      for (int i = 0; i < kKeysPerThread; ++i) {
        const std::string key = key_of(t * kKeysPerThread + i);
        mine += static_cast<uint64_t>(passes(store, check(0, key), kT0, 6));
      }
      allowed += mine;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(allowed.load(), uint64_t{5} * kThreads * kKeysPerThread);
  EXPECT_EQ(store.size(0), static_cast<std::size_t>(kThreads * kKeysPerThread));
  EXPECT_EQ(store.stats(0).live_evicted, 0u);
}

// Requests over two limits whose keys land in different shards, from many threads: no
// deadlock, and no lost update (each key's committed count matches what it has left).
TEST(MemoryStoreConcurrency, TwoLimitsAcrossShardsCommitAtomically) {
  constexpr int kThreads = 8;
  constexpr int kRequests = 20'000;
  constexpr int kKeys = 40;
  const GcraParams p = gcra_params(1, kDay, 300);
  MemoryStore store(MemoryStore::Options{.shards = 8});
  store.set_limit_capacity(0, 1000);
  store.set_limit_capacity(1, 1000);
  std::vector<std::atomic<int>> committed_a(kKeys);
  std::vector<std::atomic<int>> committed_b(kKeys);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::array<LimitResult, 2> results;
      for (int i = 0; i < kRequests; ++i) {
        const int a = (i * 7 + t) % kKeys;
        const int b = (i * 13 + 3 * t) % kKeys;
        const std::string key_a = key_of(a);
        const std::string key_b = key_of(b);
        // Alternate the order of the checks: locking must not depend on it.
        const std::array checks = i % 2 == 0 ? std::array{check(0, key_a, p), check(1, key_b, p)}
                                             : std::array{check(1, key_b, p), check(0, key_a, p)};
        if (store.check_all(checks, kT0, results)) {
          ++committed_a[a];
          ++committed_b[b];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int k = 0; k < kKeys; ++k) {
    const int used_a = committed_a[k].load();
    const int used_b = committed_b[k].load();
    ASSERT_LE(used_a, 300);
    ASSERT_LE(used_b, 300);
    EXPECT_EQ(passes(store, check(0, key_of(k), p), kT0, 400), 300 - used_a) << "key " << k;
    EXPECT_EQ(passes(store, check(1, key_of(k), p), kT0, 400), 300 - used_b) << "key " << k;
  }
}

}  // namespace
}  // namespace bulwark::limit
