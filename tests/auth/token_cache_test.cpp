#include "auth/token_cache.hpp"

#include <gtest/gtest.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "auth/jws.hpp"
#include "auth_test_support.hpp"

namespace bulwark::auth {
namespace {

using namespace std::chrono_literals;
using testing_support::kNow;
using testing_support::now_plus;
using Clock = std::chrono::system_clock;

// A token-shaped string (~300 bytes, like an ES256 access token) unique per `id`.
std::string token(int id) {
  std::string t = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ1c2VyLSIsImV4cCI6MTcwMH0.";
  t += std::to_string(id);
  t.append(300 - t.size() % 300, 'A');
  return t;
}

NumericDate at(int64_t seconds_from_now) {
  return NumericDate(std::chrono::seconds(kNow + seconds_from_now));
}

std::shared_ptr<const VerifiedClaims> claims_for(std::string_view sub,
                                                 std::optional<NumericDate> exp) {
  auto c = std::make_shared<VerifiedClaims>();
  c->claims["sub"] = sub;
  if (exp) c->claims["exp"] = kNow;  // the value does not matter to the cache
  c->issuer = "https://issuer.example";
  c->expires_at = exp;
  return c;
}

std::string sub_of(const VerifiedClaims& c) {
  return std::string(c.claims.at("sub").as_string());
}

VerifiedTokenCache::Options one_shard(std::size_t max_entries) {
  VerifiedTokenCache::Options options;
  options.max_entries = max_entries;
  options.shards = 1;
  return options;
}

// ---- SipHash-2-4-128 ------------------------------------------------------------------------

std::array<uint8_t, 16> sequential_key() {
  std::array<uint8_t, 16> key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i);
  return key;
}

std::array<uint8_t, 16> bytes_of(TokenHash h) {
  std::array<uint8_t, 16> out{};
  for (int i = 0; i < 8; ++i) {
    out[i] = static_cast<uint8_t>(h.lo >> (8 * i));
    out[8 + i] = static_cast<uint8_t>(h.hi >> (8 * i));
  }
  return out;
}

std::array<uint8_t, 16> openssl_siphash(const std::array<uint8_t, 16>& key, std::string_view data,
                                        unsigned c_rounds = 2, unsigned d_rounds = 4) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_SIPHASH, nullptr);
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  std::size_t size = 16;
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
                               OSSL_PARAM_construct_uint(OSSL_MAC_PARAM_C_ROUNDS, &c_rounds),
                               OSSL_PARAM_construct_uint(OSSL_MAC_PARAM_D_ROUNDS, &d_rounds),
                               OSSL_PARAM_construct_end()};
  std::array<uint8_t, 16> out{};
  std::size_t written = 0;
  const bool ok =
      EVP_MAC_init(ctx, key.data(), key.size(), params) == 1 &&
      EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1 &&
      EVP_MAC_final(ctx, out.data(), &written, out.size()) == 1;
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(mac);
  if (!ok || written != 16) throw std::runtime_error("OpenSSL SIPHASH failed");
  return out;
}

TEST(SipHash128, ReferenceVectorEmptyMessage) {
  // vectors_sip128[0] of the SipHash reference implementation: key 00..0f, empty message.
  const std::array<uint8_t, 16> expected = {0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6,
                                            0x6d, 0xf6, 0x72, 0x14, 0xc7, 0x55, 0x02, 0x93};
  EXPECT_EQ(bytes_of(siphash_2_4_128(sequential_key(), "")), expected);
}

TEST(SipHash128, MatchesOpenSslForEveryTailLength) {
  std::mt19937_64 rng(42);
  std::array<uint8_t, 16> key{};
  for (auto& b : key) b = static_cast<uint8_t>(rng());
  std::string data;
  for (std::size_t n = 0; n <= 80; ++n) {
    SCOPED_TRACE(n);
    EXPECT_EQ(bytes_of(siphash_2_4_128(key, data)), openssl_siphash(key, data));
    EXPECT_EQ(bytes_of(siphash_1_3_128(key, data)), openssl_siphash(key, data, 1, 3));
    data.push_back(static_cast<char>(rng()));
  }
  const std::string long_token = token(7) + token(8) + token(9);
  EXPECT_EQ(bytes_of(siphash_2_4_128(key, long_token)), openssl_siphash(key, long_token));
  EXPECT_EQ(bytes_of(siphash_1_3_128(key, long_token)), openssl_siphash(key, long_token, 1, 3));
  EXPECT_EQ(bytes_of(siphash_2_4_128(sequential_key(), "abc")),
            openssl_siphash(sequential_key(), "abc"));
}

TEST(SipHash128, KeyChangesTheHash) {
  auto other = sequential_key();
  other[15] ^= 1;
  EXPECT_NE(siphash_2_4_128(sequential_key(), token(1)), siphash_2_4_128(other, token(1)));
  EXPECT_NE(siphash_1_3_128(sequential_key(), token(1)), siphash_1_3_128(other, token(1)));
}

// ---- validity: exp boundary and key generation ---------------------------------------------

struct ValidityCase {
  const char* name;
  Clock::time_point lookup_at;
  uint64_t lookup_generation;
  bool hit;
};

TEST(VerifiedTokenCache, HitOnlyBeforeExpAndUnderTheSameGeneration) {
  // Inserted at kNow, exp = kNow + 300 s, under generation 5.
  const ValidityCase cases[] = {
      {"at insert time", now_plus(0), 5, true},
      {"a second before exp", now_plus(299), 5, true},
      {"a microsecond before exp", now_plus(300) - 1us, 5, true},
      {"exactly at exp", now_plus(300), 5, false},
      {"a nanosecond after exp", now_plus(300) + 1ns, 5, false},
      {"after exp, inside a typical 30 s leeway", now_plus(310), 5, false},
      {"long after exp", now_plus(100'000), 5, false},
      {"newer key generation", now_plus(0), 6, false},
      {"older key generation (a caller behind a rotation)", now_plus(0), 4, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    VerifiedTokenCache cache({});
    ASSERT_TRUE(cache.insert(token(1), claims_for("alice", at(300)), now_plus(0), 5));
    const auto hit = cache.lookup(token(1), c.lookup_at, c.lookup_generation);
    EXPECT_EQ(hit != nullptr, c.hit);
    if (hit) {
      EXPECT_EQ(sub_of(*hit), "alice");
    }
    const auto stats = cache.stats();
    EXPECT_EQ(stats.hits, c.hit ? 1u : 0u);
    EXPECT_EQ(stats.misses, c.hit ? 0u : 1u);
  }
}

TEST(VerifiedTokenCache, ExpiredOrStaleEntriesAreDroppedWhenMet) {
  VerifiedTokenCache cache({});
  ASSERT_TRUE(cache.insert(token(1), claims_for("a", at(10)), now_plus(0), 1));
  ASSERT_TRUE(cache.insert(token(2), claims_for("b", at(1000)), now_plus(0), 1));
  EXPECT_EQ(cache.lookup(token(1), now_plus(10), 1), nullptr);  // expired: dropped
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.lookup(token(2), now_plus(11), 2), nullptr);  // key set changed: dropped
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.stats().expirations, 2u);
  // An entry newer than the caller's generation is not served to it, nor dropped.
  ASSERT_TRUE(cache.insert(token(3), claims_for("c", at(1000)), now_plus(0), 3));
  EXPECT_EQ(cache.lookup(token(3), now_plus(0), 2), nullptr);
  EXPECT_NE(cache.lookup(token(3), now_plus(0), 3), nullptr);
}

TEST(VerifiedTokenCache, KeyRotationInvalidatesEverythingAtOnce) {
  VerifiedTokenCache cache({});
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(cache.insert(token(i), claims_for("u", at(600)), now_plus(0), 1));
  }
  for (int i = 0; i < 100; ++i) EXPECT_EQ(cache.lookup(token(i), now_plus(1), 2), nullptr);
  EXPECT_EQ(cache.stats().hits, 0u);
  // Once a shard saw generation 2, an insert verified under generation 1 is refused.
  VerifiedTokenCache single(one_shard(10));
  ASSERT_TRUE(single.insert(token(1), claims_for("u", at(600)), now_plus(0), 2));
  EXPECT_FALSE(single.insert(token(2), claims_for("u", at(600)), now_plus(0), 1));
  EXPECT_EQ(single.lookup(token(2), now_plus(0), 1), nullptr);
}

// ---- what is not cached ----------------------------------------------------------------------

struct RefusalCase {
  const char* name;
  std::string token;
  std::shared_ptr<const VerifiedClaims> claims;
  std::size_t max_entries;
};

TEST(VerifiedTokenCache, RefusesWhatCannotBeCachedSafely) {
  const RefusalCase cases[] = {
      {"no exp: nothing bounds its validity", token(1), claims_for("a", std::nullopt), 10},
      {"exp == now", token(1), claims_for("a", at(0)), 10},
      {"exp already past (inside the leeway)", token(1), claims_for("a", at(-5)), 10},
      {"null claims", token(1), nullptr, 10},
      {"empty token", "", claims_for("a", at(60)), 10},
      {"token over kMaxTokenBytes", std::string(kMaxTokenBytes + 1, 'A'), claims_for("a", at(60)),
       10},
      {"cache disabled (max_entries 0)", token(1), claims_for("a", at(60)), 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    VerifiedTokenCache cache(one_shard(c.max_entries));
    EXPECT_FALSE(cache.insert(c.token, c.claims, now_plus(0), 1));
    EXPECT_EQ(cache.lookup(c.token, now_plus(0), 1), nullptr);
    EXPECT_EQ(cache.size(), 0u);
    EXPECT_EQ(cache.stats().inserts, 0u);
  }
  VerifiedTokenCache cache(one_shard(10));  // the largest allowed token is cached
  EXPECT_TRUE(
      cache.insert(std::string(kMaxTokenBytes, 'A'), claims_for("a", at(60)), now_plus(0), 1));
}

// ---- identity: claims are the ones inserted, tokens never share an entry --------------------

TEST(VerifiedTokenCache, EachTokenGetsItsOwnClaims) {
  VerifiedTokenCache cache({.max_entries = 5000});
  // Tokens differing only in their last byte, or being prefixes of one another.
  std::vector<std::string> tokens;
  for (int i = 0; i < 1000; ++i) tokens.push_back(token(i));
  const std::string base = token(5000);
  for (char c = 'a'; c <= 'z'; ++c) tokens.push_back(base.substr(0, base.size() - 1) + c);
  for (std::size_t n = 1; n <= 40; ++n) tokens.push_back(base.substr(0, n));
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    ASSERT_TRUE(cache.insert(tokens[i], claims_for(std::to_string(i), at(60)), now_plus(0), 1));
  }
  EXPECT_EQ(cache.size(), tokens.size());
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const auto hit = cache.lookup(tokens[i], now_plus(1), 1);
    ASSERT_NE(hit, nullptr) << i;
    EXPECT_EQ(sub_of(*hit), std::to_string(i));
  }
  EXPECT_EQ(cache.lookup(token(1001), now_plus(1), 1), nullptr);
}

TEST(VerifiedTokenCache, ReturnsTheSameClaimsObjectThatWasInserted) {
  VerifiedTokenCache cache({});
  const auto inserted = claims_for("alice", at(60));
  ASSERT_TRUE(cache.insert(token(1), inserted, now_plus(0), 1));
  const auto hit = cache.lookup(token(1), now_plus(0), 1);
  EXPECT_EQ(hit.get(), inserted.get());
  EXPECT_EQ(hit->issuer, "https://issuer.example");
}

TokenHash colliding_hash(std::string_view) {
  return TokenHash{0x1234, 0x5678};
}

TEST(VerifiedTokenCache, ForcedHashCollisionNeverReturnsAnotherTokensClaims) {
  VerifiedTokenCache::Options options;
  options.hash_for_testing = &colliding_hash;
  VerifiedTokenCache cache(options);
  ASSERT_TRUE(cache.insert(token(1), claims_for("alice", at(60)), now_plus(0), 1));
  EXPECT_EQ(cache.lookup(token(2), now_plus(0), 1), nullptr);  // same hash, other token
  ASSERT_NE(cache.lookup(token(1), now_plus(0), 1), nullptr);

  // The newest of two colliding tokens takes the entry; the other one misses from then on.
  ASSERT_TRUE(cache.insert(token(2), claims_for("mallory", at(60)), now_plus(0), 1));
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.lookup(token(1), now_plus(0), 1), nullptr);
  const auto hit = cache.lookup(token(2), now_plus(0), 1);
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(sub_of(*hit), "mallory");
  EXPECT_EQ(cache.stats().evictions, 1u);
}

TEST(VerifiedTokenCache, InsertingTheSameTokenAgainRefreshesItsEntry) {
  VerifiedTokenCache cache({});
  ASSERT_TRUE(cache.insert(token(1), claims_for("first", at(60)), now_plus(0), 1));
  ASSERT_TRUE(cache.insert(token(1), claims_for("second", at(60)), now_plus(1), 2));
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.stats().inserts, 1u);
  EXPECT_EQ(cache.lookup(token(1), now_plus(2), 1), nullptr);  // caller behind: not served
  const auto hit = cache.lookup(token(1), now_plus(2), 2);
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(sub_of(*hit), "second");
}

// ---- the bound and eviction ----------------------------------------------------------------

TEST(VerifiedTokenCache, FullShardDropsExpiredEntriesBeforeLiveOnes) {
  constexpr int kCapacity = 100;
  VerifiedTokenCache cache(one_shard(kCapacity));
  // Interleaved: even ids expire at +10 s, odd ids live for 1000 s.
  for (int i = 0; i < kCapacity; ++i) {
    ASSERT_TRUE(cache.insert(token(i), claims_for(std::to_string(i), at(i % 2 ? 1000 : 10)),
                             now_plus(0), 1));
  }
  EXPECT_EQ(cache.size(), std::size_t{kCapacity});
  for (int i = 0; i < kCapacity / 2; ++i) {  // at +20 s half the entries are expired
    ASSERT_TRUE(cache.insert(token(1000 + i), claims_for("new", at(1000)), now_plus(20), 1));
    ASSERT_LE(cache.size(), std::size_t{kCapacity});
  }
  for (int i = 1; i < kCapacity; i += 2)
    EXPECT_NE(cache.lookup(token(i), now_plus(21), 1), nullptr);
  for (int i = 0; i < kCapacity / 2; ++i) {
    EXPECT_NE(cache.lookup(token(1000 + i), now_plus(21), 1), nullptr);
  }
  auto stats = cache.stats();
  EXPECT_EQ(stats.evictions, 0u);
  EXPECT_EQ(stats.expirations, std::size_t{kCapacity / 2});

  // Nothing expired any more: live entries are evicted, the bound holds.
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(cache.insert(token(5000 + i), claims_for("more", at(1000)), now_plus(22), 1));
    ASSERT_EQ(cache.size(), std::size_t{kCapacity});
  }
  stats = cache.stats();
  EXPECT_EQ(stats.evictions, 1000u);
  EXPECT_EQ(cache.size(), stats.inserts - stats.evictions - stats.expirations);
}

TEST(VerifiedTokenCache, FullShardDropsEntriesOfAnOldGenerationFirst) {
  VerifiedTokenCache cache(one_shard(10));
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(cache.insert(token(i), claims_for("old", at(1000)), now_plus(0), 1));
  }
  ASSERT_TRUE(cache.insert(token(100), claims_for("new", at(1000)), now_plus(0), 2));
  EXPECT_EQ(cache.size(), 1u);  // the purge made room by dropping all ten stale entries
  EXPECT_EQ(cache.stats().expirations, 10u);
  EXPECT_EQ(cache.stats().evictions, 0u);
}

TEST(VerifiedTokenCache, ClockGivesRecentlyHitEntriesASecondChance) {
  VerifiedTokenCache cache(one_shard(4));
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(cache.insert(token(i), claims_for("u", at(1000)), now_plus(0), 1));
  }
  ASSERT_NE(cache.lookup(token(0), now_plus(1), 1), nullptr);
  ASSERT_NE(cache.lookup(token(2), now_plus(1), 1), nullptr);
  ASSERT_TRUE(cache.insert(token(4), claims_for("u", at(1000)), now_plus(1), 1));
  ASSERT_TRUE(cache.insert(token(5), claims_for("u", at(1000)), now_plus(1), 1));
  EXPECT_NE(cache.lookup(token(0), now_plus(2), 1), nullptr);
  EXPECT_NE(cache.lookup(token(2), now_plus(2), 1), nullptr);
  EXPECT_EQ(cache.lookup(token(1), now_plus(2), 1), nullptr);  // never hit: evicted
  EXPECT_EQ(cache.lookup(token(3), now_plus(2), 1), nullptr);
  EXPECT_EQ(cache.stats().evictions, 2u);
}

TEST(VerifiedTokenCache, BoundHoldsAcrossShards) {
  struct BoundCase {
    std::size_t max_entries;
    std::size_t shards;
  };
  const BoundCase cases[] = {{1000, 16}, {1, 16}, {7, 16}, {17, 16}, {1000, 1}, {100, 3}};
  for (const auto& c : cases) {
    SCOPED_TRACE(testing::Message() << c.max_entries << " entries, " << c.shards << " shards");
    VerifiedTokenCache cache({.max_entries = c.max_entries, .shards = c.shards});
    EXPECT_EQ(cache.capacity(), c.max_entries);
    for (int i = 0; i < 10'000; ++i) {
      ASSERT_TRUE(cache.insert(token(i), claims_for("u", at(1000)), now_plus(0), 1));
    }
    EXPECT_LE(cache.size(), c.max_entries);
    EXPECT_GE(cache.size(), c.max_entries * 9 / 10);  // the shards fill up, too
    const auto stats = cache.stats();
    EXPECT_EQ(stats.inserts, 10'000u);
    EXPECT_EQ(cache.size(), stats.inserts - stats.evictions - stats.expirations);
  }
}

TEST(VerifiedTokenCache, ClearEmptiesTheCache) {
  VerifiedTokenCache cache({});
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(cache.insert(token(i), claims_for("u", at(1000)), now_plus(0), 1));
  }
  cache.clear();
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.lookup(token(3), now_plus(0), 1), nullptr);
  const auto stats = cache.stats();
  EXPECT_EQ(cache.size(), stats.inserts - stats.evictions - stats.expirations);
}

// ---- concurrency ------------------------------------------------------------------------------

TEST(VerifiedTokenCache, ConcurrentMixedOperationsKeepCountsConsistent) {
  constexpr int kThreads = 4;
  constexpr int kOpsPerThread = 50'000;
  constexpr int kTokens = 3000;  // more than the capacity: evictions happen
  VerifiedTokenCache cache({.max_entries = 1024, .shards = 16});
  std::vector<std::string> tokens;
  for (int i = 0; i < kTokens; ++i) tokens.push_back(token(i));

  std::atomic<uint64_t> generation{1};
  std::atomic<uint64_t> lookups{0}, hits{0}, wrong_claims{0}, inserted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      uint64_t my_lookups = 0, my_hits = 0, my_wrong = 0, my_inserted = 0;
      for (int op = 0; op < kOpsPerThread; ++op) {
        if (t == 0 && op % 10'000 == 9'999) generation.fetch_add(1);  // a key rotation
        const int id = static_cast<int>(rng() % kTokens);
        const auto now = now_plus(op / 1000);  // time moves: short-lived entries expire
        const uint64_t gen = generation.load();
        if (rng() % 2 == 0) {
          ++my_lookups;
          if (const auto hit = cache.lookup(tokens[id], now, gen)) {
            ++my_hits;
            if (sub_of(*hit) != std::to_string(id)) ++my_wrong;
          }
        } else {
          const int64_t life = 1 + id % 60;  // 1..60 s
          if (cache.insert(tokens[id], claims_for(std::to_string(id), at(op / 1000 + life)), now,
                           gen)) {
            ++my_inserted;
          }
        }
      }
      lookups += my_lookups;
      hits += my_hits;
      wrong_claims += my_wrong;
      inserted += my_inserted;
    });
  }
  for (auto& thread : threads) thread.join();

  const auto stats = cache.stats();
  EXPECT_EQ(wrong_claims.load(), 0u);
  EXPECT_EQ(stats.hits, hits.load());
  EXPECT_EQ(stats.hits + stats.misses, lookups.load());
  EXPECT_GT(stats.hits, 0u);
  EXPECT_GT(stats.evictions + stats.expirations, 0u);
  EXPECT_LE(stats.inserts, inserted.load());  // refreshes of a present token are not counted
  EXPECT_LE(cache.size(), cache.capacity());
  EXPECT_EQ(cache.size(), stats.inserts - stats.evictions - stats.expirations);
}

// ---- memory --------------------------------------------------------------------------------

TEST(VerifiedTokenCache, MemoryPerEntryEstimate) {
  const std::size_t fixed = VerifiedTokenCache::fixed_bytes_per_entry();
  const std::size_t typical_token = 300 + 16;  // an ES256 token, plus its malloc header
  // make_shared: control block + VerifiedClaims; the JSON object holds ~8 members.
  const std::size_t claims_estimate = 16 + sizeof(VerifiedClaims) + 16 + 8 * 64 + 16;
  std::cout << "[ token cache ] fixed bookkeeping per entry: " << fixed
            << " B; with a 300-byte token and ~8-member claims: ~"
            << fixed + typical_token + claims_estimate << " B\n";
  EXPECT_LT(fixed, 256u);
}

}  // namespace
}  // namespace bulwark::auth
