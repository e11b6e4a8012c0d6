// The verified-token cache's hot path: what a request costs when the token was seen before
// (goal: a hit under 200 ns, against tens of microseconds for a cold RS256/ES256 verify in
// jws_bench.cpp). Rows: hits for typical token sizes (a 10k-token working set, and one hot token),
// a miss, and the keyed hash alone.
// BENCHMARK_MAIN lives in jws_bench.cpp.

#include <benchmark/benchmark.h>

#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "auth/token_cache.hpp"

namespace {

using namespace bulwark::auth;

constexpr int64_t kNow = 1'700'000'000;
constexpr int kEntries = 10'000;

std::string token_of_size(int id, std::size_t size) {
  std::string t = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ1c2VyIn0." + std::to_string(id);
  t.resize(size, 'A');
  return t;
}

std::chrono::system_clock::time_point now() {
  return std::chrono::system_clock::time_point(std::chrono::seconds(kNow));
}

std::shared_ptr<const VerifiedClaims> claims(int id) {
  auto c = std::make_shared<VerifiedClaims>();
  c->claims["sub"] = "user-" + std::to_string(id);
  c->claims["scope"] = "read write";
  c->issuer = "https://issuer.example";
  c->expires_at = NumericDate(std::chrono::seconds(kNow + 900));
  return c;
}

// A cache holding kEntries tokens of `size` bytes; the loop looks them up in turn, so the
// cost includes the cache misses of a realistic working set, not one hot line.
void BM_TokenCacheLookupHit(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  VerifiedTokenCache cache({.max_entries = kEntries * 2});
  std::vector<std::string> tokens;
  for (int i = 0; i < kEntries; ++i) {
    tokens.push_back(token_of_size(i, size));
    cache.insert(tokens.back(), claims(i), now(), 1);
  }
  std::size_t i = 0;
  for (auto _ : state) {
    auto hit = cache.lookup(tokens[i], now(), 1);
    benchmark::DoNotOptimize(hit);
    if (++i == tokens.size()) i = 0;
  }
  if (cache.stats().misses != 0) state.SkipWithError("unexpected miss");
  state.SetLabel(std::to_string(size) + "-byte tokens");
}
BENCHMARK(BM_TokenCacheLookupHit)->Arg(300)->Arg(600)->Arg(1200);

// One token over and over: the compute cost alone (the gateway just read the token, so it
// is in cache; the stored copy and the entry are too, which they would not all be).
void BM_TokenCacheLookupHitHot(benchmark::State& state) {
  VerifiedTokenCache cache({});
  const std::string token = token_of_size(1, static_cast<std::size_t>(state.range(0)));
  cache.insert(token, claims(1), now(), 1);
  for (auto _ : state) {
    auto hit = cache.lookup(token, now(), 1);
    benchmark::DoNotOptimize(hit);
  }
}
BENCHMARK(BM_TokenCacheLookupHitHot)->Arg(300)->Arg(600);

void BM_TokenCacheLookupMiss(benchmark::State& state) {
  VerifiedTokenCache cache({.max_entries = kEntries * 2});
  for (int i = 0; i < kEntries; ++i) cache.insert(token_of_size(i, 600), claims(i), now(), 1);
  const std::string absent = token_of_size(kEntries + 1, 600);
  for (auto _ : state) {
    auto hit = cache.lookup(absent, now(), 1);
    benchmark::DoNotOptimize(hit);
  }
}
BENCHMARK(BM_TokenCacheLookupMiss);

template <TokenHash (*Hash)(const std::array<uint8_t, 16>&, std::string_view) noexcept>
void BM_SipHash128(benchmark::State& state) {
  const std::string token = token_of_size(1, static_cast<std::size_t>(state.range(0)));
  std::array<uint8_t, 16> key{};
  for (auto _ : state) {
    auto h = Hash(key, token);
    benchmark::DoNotOptimize(h);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_SipHash128<siphash_1_3_128>)->Name("BM_SipHash13_128")->Arg(300)->Arg(600);
BENCHMARK(BM_SipHash128<siphash_2_4_128>)->Name("BM_SipHash24_128")->Arg(300)->Arg(600);

}  // namespace
