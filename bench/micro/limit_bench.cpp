// The rate-limit kernel's hot path: one check as a limit stage makes it (goal: under 100 ns
// single-threaded). Rows: the GCRA math alone; the keyed hash alone; MemoryStore::check_all on
// one hot key and on a million distinct keys (cache misses included), with two limits per
// request, and from several threads (distinct keys, and everyone on one hot key); and the
// memory a million keys take (counters, one iteration each).
// BENCHMARK_MAIN lives in jws_bench.cpp.

#include <benchmark/benchmark.h>
#include <malloc.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "auth/token_cache.hpp"
#include "limit/gcra.hpp"
#include "limit/memory_store.hpp"

namespace {

using namespace bulwark::limit;

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kT0 = 1'000 * kSecond;
constexpr int kManyKeys = 1'000'000;

// 1e6 per second per key (T = 1 us), bursts of 1000: a key checked once per iteration with
// the clock moving 1 us each time is allowed every time, so every check commits.
const GcraParams kParams = gcra_params(1'000'000, kSecond, 1000);

// Client-IP-shaped keys: "10.a.b.c", 8 to 15 bytes.
std::string ip_key(int i) {
  return "10." + std::to_string(i >> 16 & 255) + "." + std::to_string(i >> 8 & 255) + "." +
         std::to_string(i & 255);
}

const std::vector<std::string>& many_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k;
    k.reserve(kManyKeys);
    for (int i = 0; i < kManyKeys; ++i) k.push_back(ip_key(i));
    std::shuffle(k.begin(), k.end(), std::mt19937_64(1));
    return k;
  }();
  return keys;
}

// A store holding every key of many_keys() under limit 0 (room for all of them).
MemoryStore& filled_store() {
  static MemoryStore* store = [] {
    auto* s = new MemoryStore();
    s->set_limit_capacity(0, 2 * kManyKeys);
    s->set_limit_capacity(1, 2 * kManyKeys);
    LimitResult r;
    for (const std::string& key : many_keys()) {
      const LimitCheck c{.limit_id = 0, .key = key, .params = kParams, .cost = 1};
      s->check_all({&c, 1}, kT0, {&r, 1});
    }
    return s;
  }();
  return *store;
}

void BM_GcraCheck(benchmark::State& state) {
  int64_t tat = 0;
  int64_t now = kT0;
  for (auto _ : state) {
    const GcraDecision d = gcra_check(tat, now, kParams, 1);
    tat = d.new_tat_ns;
    now += 1000;
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_GcraCheck);

void BM_LimitKeyHash(benchmark::State& state) {
  const std::array<uint8_t, 16> key{1, 2, 3};
  const std::string ip = "203.0.113.195";
  for (auto _ : state) {
    auto h = bulwark::auth::siphash_1_3_128(key, ip);
    benchmark::DoNotOptimize(h);
  }
}
BENCHMARK(BM_LimitKeyHash);

void BM_LimitCheckHotKey(benchmark::State& state) {
  MemoryStore store;
  store.set_limit_capacity(0, 100'000);
  const LimitCheck c{.limit_id = 0, .key = "203.0.113.195", .params = kParams, .cost = 1};
  LimitResult r;
  int64_t now = kT0;
  uint64_t allowed = 0;
  for (auto _ : state) {
    allowed += store.check_all({&c, 1}, now, {&r, 1}) ? 1 : 0;
    now += 1000;
  }
  state.counters["allowed"] =
      benchmark::Counter(static_cast<double>(allowed), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_LimitCheckHotKey);

// A million keys in the table, looked up in a shuffled order: each check misses the CPU cache.
void BM_LimitCheckDistinctKeys(benchmark::State& state) {
  MemoryStore& store = filled_store();
  const auto& keys = many_keys();
  LimitResult r;
  std::size_t i = 0;
  int64_t now = kT0 + kSecond;
  for (auto _ : state) {
    const LimitCheck c{.limit_id = 0, .key = keys[i], .params = kParams, .cost = 1};
    benchmark::DoNotOptimize(store.check_all({&c, 1}, now, {&r, 1}));
    if (++i == keys.size()) i = 0;
    now += 1;
  }
  state.counters["keys"] = static_cast<double>(store.size(0));
}
BENCHMARK(BM_LimitCheckDistinctKeys);

// A route with two limits on one request (per IP and per user): one call, both committed.
void BM_LimitCheckTwoLimitsHot(benchmark::State& state) {
  MemoryStore store;
  store.set_limit_capacity(0, 100'000);
  store.set_limit_capacity(1, 100'000);
  const std::array checks{
      LimitCheck{.limit_id = 0, .key = "203.0.113.195", .params = kParams, .cost = 1},
      LimitCheck{.limit_id = 1, .key = "user-1234|api", .params = kParams, .cost = 1}};
  std::array<LimitResult, 2> results;
  int64_t now = kT0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(store.check_all(checks, now, results));
    now += 1000;
  }
}
BENCHMARK(BM_LimitCheckTwoLimitsHot);

// ---- threads ----------------------------------------------------------------------------------

void up_to_hardware_threads(benchmark::internal::Benchmark* b) {
  const int most = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int t = 1; t < most; t *= 2) b->Threads(t);
  b->Threads(most);
  b->UseRealTime();
}

// Every thread on its own slice of the million keys (one shared store).
void BM_LimitCheckDistinctKeysThreads(benchmark::State& state) {
  MemoryStore& store = filled_store();
  const auto& keys = many_keys();
  const std::size_t slice = keys.size() / static_cast<std::size_t>(state.threads());
  const std::size_t first = slice * static_cast<std::size_t>(state.thread_index());
  LimitResult r;
  std::size_t i = 0;
  int64_t now = kT0 + 2 * kSecond;
  for (auto _ : state) {
    const LimitCheck c{.limit_id = 0, .key = keys[first + i], .params = kParams, .cost = 1};
    benchmark::DoNotOptimize(store.check_all({&c, 1}, now, {&r, 1}));
    if (++i == slice) i = 0;
    now += 1;
  }
}
BENCHMARK(BM_LimitCheckDistinctKeysThreads)->Apply(up_to_hardware_threads);

// Every thread on the same key: the worst case for a sharded store (one mutex).
void BM_LimitCheckHotKeyThreads(benchmark::State& state) {
  static MemoryStore store;
  static std::once_flag declared;
  std::call_once(declared, [] { store.set_limit_capacity(0, 100'000); });
  const LimitCheck c{.limit_id = 0, .key = "203.0.113.195", .params = kParams, .cost = 1};
  LimitResult r;
  int64_t now = kT0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(store.check_all({&c, 1}, now, {&r, 1}));
    now += 1000;
  }
}
BENCHMARK(BM_LimitCheckHotKeyThreads)->Apply(up_to_hardware_threads);

// ---- memory ------------------------------------------------------------------------------------

// Bytes the process has allocated: small blocks from the heap plus big ones mmapped apart.
std::size_t heap_in_use() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

// A million live keys under one limit with room for `max_keys`. Counters: bytes per key by the
// store's own account (its slot arrays and shards), and by the heap's (mallinfo2: what the
// process really gave it, malloc overhead included), and the keys held.
void BM_LimitMemoryPerKey(benchmark::State& state) {
  const auto max_keys = static_cast<std::size_t>(state.range(0));
  const auto& keys = many_keys();
  for (auto _ : state) {
    const std::size_t heap_before = heap_in_use();
    auto store = std::make_unique<MemoryStore>();
    store->set_limit_capacity(0, max_keys);
    LimitResult r;
    for (const std::string& key : keys) {
      const LimitCheck c{.limit_id = 0, .key = key, .params = kParams, .cost = 1};
      store->check_all({&c, 1}, kT0, {&r, 1});
    }
    const std::size_t heap_after = heap_in_use();
    const auto held = static_cast<double>(store->size(0));
    state.counters["keys"] = held;
    state.counters["bytes_per_key"] = static_cast<double>(store->memory_bytes()) / held;
    state.counters["heap_bytes_per_key"] = static_cast<double>(heap_after - heap_before) / held;
  }
}
BENCHMARK(BM_LimitMemoryPerKey)
    ->Arg(500'000)
    ->Arg(1'000'000)
    ->Arg(2'000'000)
    ->Arg(10'000'000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
