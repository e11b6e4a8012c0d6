#include "cache/s3_fifo.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <vector>

namespace bulwark::cache {
namespace {

// Admits `id` and evicts while over budget, as the store does; returns the evicted ids.
std::vector<uint64_t> put(S3Fifo& fifo, uint64_t id, uint64_t size) {
  fifo.admit(id, size);
  std::vector<uint64_t> out;
  while (fifo.over_budget()) {
    const auto victim = fifo.evict();
    if (!victim) break;
    out.push_back(*victim);
  }
  return out;
}

bool contains(const std::vector<uint64_t>& ids, uint64_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

TEST(S3Fifo, OneHitWondersGoBeforeAReaccessedEntry) {
  S3Fifo fifo(1000);  // small 100, main 900
  put(fifo, 1, 10);
  fifo.touch(1);
  std::vector<uint64_t> evicted;
  for (uint64_t id = 100; id < 400; ++id) {
    const auto out = put(fifo, id, 10);
    evicted.insert(evicted.end(), out.begin(), out.end());
  }
  EXPECT_FALSE(contains(evicted, 1));
  EXPECT_FALSE(evicted.empty());
  // The wonders leave in arrival order (FIFO), none of them touched.
  EXPECT_TRUE(std::is_sorted(evicted.begin(), evicted.end()));
}

TEST(S3Fifo, PlainFifoWhenNothingIsTouched) {
  S3Fifo fifo(100);  // small 10: every 10-byte entry fits it
  std::vector<uint64_t> evicted;
  for (uint64_t id = 0; id < 30; ++id) {
    const auto out = put(fifo, id, 10);
    evicted.insert(evicted.end(), out.begin(), out.end());
  }
  ASSERT_EQ(evicted.size(), 20u);
  for (uint64_t i = 0; i < evicted.size(); ++i) EXPECT_EQ(evicted[i], i);
}

TEST(S3Fifo, GhostSendsAReturningIdToMain) {
  S3Fifo fifo(1000);
  put(fifo, 7, 10);
  std::vector<uint64_t> evicted;
  uint64_t next = 100;
  while (!contains(evicted, 7)) {
    const auto out = put(fifo, next++, 10);
    evicted.insert(evicted.end(), out.begin(), out.end());
  }
  // Back soon after leaving small: admitted to main, so a flood of new untouched entries
  // (evicted from small first) does not reach it, although it is never touched.
  put(fifo, 7, 10);
  evicted.clear();
  for (int i = 0; i < 300; ++i) {
    const auto out = put(fifo, next++, 10);
    evicted.insert(evicted.end(), out.begin(), out.end());
  }
  EXPECT_FALSE(contains(evicted, 7));
  EXPECT_FALSE(evicted.empty());
}

TEST(S3Fifo, AnUnknownIdStartsInSmall) {
  // The same flood as above, with an id never seen: it goes with the wonders.
  S3Fifo fifo(1000);
  put(fifo, 7, 10);
  std::vector<uint64_t> evicted;
  for (uint64_t id = 100; id < 400; ++id) {
    const auto out = put(fifo, id, 10);
    evicted.insert(evicted.end(), out.begin(), out.end());
  }
  EXPECT_TRUE(contains(evicted, 7));
}

TEST(S3Fifo, GhostIsBoundedByMainsBytes) {
  S3Fifo fifo(100);  // main 90: the ghost remembers at most 9 evictions of 10 bytes
  for (uint64_t id = 0; id < 50; ++id) put(fifo, id, 10);
  // Ids 0..39 were evicted from small; only the last 9 (31..39) are remembered.
  put(fifo, 31, 10);  // remembered: main
  put(fifo, 5, 10);   // forgotten: small
  std::vector<uint64_t> evicted;
  for (uint64_t id = 1000; id < 1010; ++id) {
    const auto out = put(fifo, id, 10);
    evicted.insert(evicted.end(), out.begin(), out.end());
  }
  EXPECT_TRUE(contains(evicted, 5));
  EXPECT_FALSE(contains(evicted, 31));
}

TEST(S3Fifo, MainGivesATouchedEntryAnotherLap) {
  S3Fifo fifo(100);  // small 10: 45-byte entries go straight to main
  put(fifo, 1, 45);
  put(fifo, 2, 45);
  fifo.touch(1);
  EXPECT_EQ(put(fifo, 3, 45), std::vector<uint64_t>{2});
  EXPECT_EQ(fifo.size(), 2u);
}

// Runs a script where `hot` is touched `touches` times; returns the eviction order.
std::vector<uint64_t> laps(int touches) {
  S3Fifo fifo(100);
  put(fifo, 0, 45);
  for (int i = 0; i < touches; ++i) fifo.touch(0);
  std::vector<uint64_t> evicted;
  for (uint64_t id = 1; id < 12; ++id) {
    const auto out = put(fifo, id, 45);
    evicted.insert(evicted.end(), out.begin(), out.end());
  }
  return evicted;
}

TEST(S3Fifo, FrequencySaturatesAtThree) {
  EXPECT_EQ(laps(3), laps(10));
  EXPECT_NE(laps(2), laps(3));
  EXPECT_TRUE(contains(laps(10), 0));  // popular once is not popular forever
}

TEST(S3Fifo, EraseForgetsAnId) {
  S3Fifo fifo(1000);
  put(fifo, 1, 10);   // small
  put(fifo, 2, 500);  // larger than small: main
  put(fifo, 3, 10);
  fifo.erase(1);
  fifo.erase(2);
  fifo.erase(42);  // unknown: nothing happens
  EXPECT_EQ(fifo.size(), 1u);
  EXPECT_EQ(fifo.used_bytes(), 10u);
  fifo.touch(1);  // forgotten: nothing happens
  EXPECT_EQ(fifo.evict(), 3u);
  EXPECT_EQ(fifo.evict(), std::nullopt);
  // An erased id may come back, and is then one entry again.
  put(fifo, 1, 20);
  EXPECT_EQ(fifo.size(), 1u);
  EXPECT_EQ(fifo.used_bytes(), 20u);
  EXPECT_EQ(fifo.evict(), 1u);
  EXPECT_EQ(fifo.used_bytes(), 0u);
}

TEST(S3Fifo, LargeEntriesSkipSmall) {
  S3Fifo fifo(1000);  // small 100
  put(fifo, 1, 500);  // would be alone and over small's share: main
  std::vector<uint64_t> evicted;
  for (uint64_t id = 100; id < 200; ++id) {
    const auto out = put(fifo, id, 10);
    evicted.insert(evicted.end(), out.begin(), out.end());
  }
  EXPECT_FALSE(contains(evicted, 1));
  // Larger than the whole cache: admitted, then the only thing evict() can return first.
  S3Fifo tiny(1000);
  EXPECT_EQ(put(tiny, 9, 5000), std::vector<uint64_t>{9});
  EXPECT_EQ(tiny.used_bytes(), 0u);
  EXPECT_EQ(tiny.size(), 0u);
}

TEST(S3Fifo, CapacityZeroHoldsNothingButEmptyEntries) {
  S3Fifo fifo(0);
  EXPECT_EQ(fifo.evict(), std::nullopt);
  EXPECT_EQ(put(fifo, 1, 1), std::vector<uint64_t>{1});
  EXPECT_FALSE(fifo.over_budget());
  EXPECT_TRUE(put(fifo, 2, 0).empty());
  EXPECT_EQ(fifo.size(), 1u);
  EXPECT_EQ(fifo.used_bytes(), 0u);
}

TEST(S3Fifo, CapacityOneHoldsOneByte) {
  S3Fifo fifo(1);  // small 0, main 1
  EXPECT_TRUE(put(fifo, 1, 1).empty());
  EXPECT_EQ(put(fifo, 2, 1), std::vector<uint64_t>{1});
  fifo.touch(2);
  EXPECT_EQ(put(fifo, 3, 1), std::vector<uint64_t>{3});  // 2 had a lap left
  EXPECT_EQ(fifo.used_bytes(), 1u);
}

TEST(S3Fifo, BytesAreExactUnderRandomOperations) {
  std::mt19937_64 rng(12345);
  S3Fifo fifo(10'000);
  std::map<uint64_t, uint64_t> live;  // id → size
  uint64_t next = 0;
  for (int step = 0; step < 20'000; ++step) {
    const int op = static_cast<int>(rng() % 10);
    if (op < 5) {
      // New ids mostly, sometimes a recently evicted one (ghost hits).
      const uint64_t id = rng() % 4 == 0 && next > 50 ? next - 1 - rng() % 50 : next++;
      if (live.contains(id)) continue;
      const uint64_t size = 1 + rng() % 700;
      fifo.admit(id, size);
      live[id] = size;
      while (fifo.over_budget()) {
        const auto victim = fifo.evict();
        ASSERT_TRUE(victim.has_value());
        ASSERT_EQ(live.erase(*victim), 1u);
      }
    } else if (op < 8 && !live.empty()) {
      fifo.touch(std::next(live.begin(), rng() % live.size())->first);
    } else if (!live.empty()) {
      const auto it = std::next(live.begin(), rng() % live.size());
      fifo.erase(it->first);
      live.erase(it);
    }
    uint64_t bytes = 0;
    for (const auto& [id, size] : live) bytes += size;
    ASSERT_EQ(fifo.used_bytes(), bytes);
    ASSERT_EQ(fifo.size(), live.size());
    ASSERT_LE(fifo.used_bytes(), fifo.capacity_bytes());
  }
  while (const auto victim = fifo.evict()) ASSERT_EQ(live.erase(*victim), 1u);
  EXPECT_TRUE(live.empty());
  EXPECT_EQ(fifo.used_bytes(), 0u);
}

}  // namespace
}  // namespace bulwark::cache
