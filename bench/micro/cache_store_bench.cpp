// The response cache's store on the request path: a lookup that hits one hot URL (the
// store's own cost: keyed hash, shard lock, Vary key, S3-FIFO touch, shared_ptr copy), a
// lookup hitting a 100k-entry working set in shuffled order (cache misses of the CPU
// included), a lookup that misses, and an insert into a full store (each one evicts).
//
// Measured (2-core VM, busy): hot hit ~95 ns; working set of 1k ~140 ns, 10k ~360 ns, 100k
// ~2 us (~0.1 GB of entries: each lookup walks several cold nodes, every one a DRAM and TLB
// miss on this VM); miss ~19 ns (the URL's shard and bucket only); insert + eviction ~1 us.
// BENCHMARK_MAIN lives in jws_bench.cpp.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cache/memory_store.hpp"

namespace {

using namespace bulwark::cache;

const std::vector<FieldLine> kRequest = {{"Host", "api.example"},
                                         {"Accept", "application/json"},
                                         {"Accept-Encoding", "gzip, br"},
                                         {"User-Agent", "bench/1.0"}};

std::string uri_of(int i) {
  return "api.example/v1/items/" + std::to_string(i) + "?page=1";
}

// A typical API response: Vary on Accept-Encoding, a few fields, a small JSON body.
std::shared_ptr<const Entry> entry_of(int i, std::size_t body_size) {
  auto e = std::make_shared<Entry>();
  e->uri_key = uri_of(i);
  e->vary = parse_vary("Accept-Encoding");
  e->variant_key = *vary_key(e->vary, kRequest);
  e->fields = {{"Content-Type", "application/json"},
               {"Cache-Control", "public, max-age=60"},
               {"ETag", std::string(1, '"').append(std::to_string(i)).append(1, '"')},
               {"Vary", "Accept-Encoding"}};
  e->body = std::make_shared<const std::string>(body_size, 'j');
  return e;
}

void BM_CacheStoreLookupHotKey(benchmark::State& state) {
  MemoryStore store({});
  store.insert(entry_of(1, 512));
  const std::string uri = uri_of(1);
  for (auto _ : state) {
    auto hit = store.lookup(uri, "", kRequest);
    benchmark::DoNotOptimize(hit);
  }
  if (!store.lookup(uri, "", kRequest)) state.SkipWithError("unexpected miss");
}
BENCHMARK(BM_CacheStoreLookupHotKey);

void BM_CacheStoreLookupWorkingSet(benchmark::State& state) {
  const auto entries = static_cast<int>(state.range(0));
  MemoryStore store({});  // 256 MiB: holds all of them (~0.9 KiB each)
  std::vector<std::string> uris;
  for (int i = 0; i < entries; ++i) {
    store.insert(entry_of(i, 512));
    uris.push_back(uri_of(i));
  }
  std::shuffle(uris.begin(), uris.end(), std::mt19937(7));
  std::size_t i = 0;
  for (auto _ : state) {
    auto hit = store.lookup(uris[i], "", kRequest);
    benchmark::DoNotOptimize(hit);
    if (++i == uris.size()) i = 0;
  }
  state.counters["entries"] = static_cast<double>(store.stats().entries);
  if (store.stats().evictions != 0) state.SkipWithError("unexpected eviction");
}
BENCHMARK(BM_CacheStoreLookupWorkingSet)->Arg(1'000)->Arg(10'000)->Arg(100'000);

void BM_CacheStoreLookupMiss(benchmark::State& state) {
  MemoryStore store({});
  store.insert(entry_of(1, 512));
  const std::string uri = uri_of(2);
  for (auto _ : state) {
    auto miss = store.lookup(uri, "", kRequest);
    benchmark::DoNotOptimize(miss);
  }
}
BENCHMARK(BM_CacheStoreLookupMiss);

// Entries are built beforehand (the stage builds them while reading the upstream response,
// outside the store): the loop measures insert + eviction alone. 20k entries cycle through
// a store holding ~2k, so every insert evicts.
void BM_CacheStoreInsertEvicting(benchmark::State& state) {
  constexpr int kPool = 20'000;
  MemoryStore store({.memory_bytes = 2 << 20, .max_object_bytes = 64 << 10, .shards = 8});
  std::vector<std::shared_ptr<const Entry>> pool;
  for (int i = 0; i < kPool; ++i) pool.push_back(entry_of(i, 512));
  std::size_t i = 0;
  for (const auto& e : pool) store.insert(e);  // full before timing
  const uint64_t evictions_before = store.stats().evictions;
  for (auto _ : state) {
    benchmark::DoNotOptimize(store.insert(pool[i]));
    if (++i == pool.size()) i = 0;
  }
  const StoreStats s = store.stats();
  state.counters["entries"] = static_cast<double>(s.entries);
  state.counters["evictions_per_insert"] =
      static_cast<double>(s.evictions - evictions_before) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_CacheStoreInsertEvicting);

}  // namespace
