#include "cache/memory_store.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace bulwark::cache {
namespace {

using Fields = std::vector<FieldLine>;

// The identity prefix of cache/key.hpp, spelled out here.
std::string prefix(std::string_view identity) {
  std::string out = "\x01";
  out += std::to_string(identity.size());
  out += ':';
  out += identity;
  return out;
}

struct Spec {
  std::string uri = "api.example/items";
  std::string identity;  // the prefix
  std::string vary;      // the Vary field value
  Fields request;        // the request the variant was stored for
  std::string body = "body";
  int64_t date = 0;  // seconds
};

std::shared_ptr<const Entry> make(const Spec& s) {
  auto e = std::make_shared<Entry>();
  e->uri_key = s.uri;
  e->identity = s.identity;
  e->vary = parse_vary(s.vary);
  e->variant_key = s.identity + vary_key(e->vary, s.request).value_or("");
  e->body = std::make_shared<const std::string>(s.body);
  e->date = std::chrono::sys_seconds(std::chrono::seconds(s.date));
  return e;
}

std::shared_ptr<const Entry> get(MemoryStore& store, std::string_view uri,
                                 std::string_view identity = "", const Fields& fields = {}) {
  return store.lookup(uri, identity, fields);
}

MemoryStore::Options small_store(uint64_t memory, uint64_t max_object, unsigned shards) {
  return {.memory_bytes = memory, .max_object_bytes = max_object, .shards = shards};
}

TEST(MemoryStore, HitAndMiss) {
  MemoryStore store({});
  const auto e = make({});
  ASSERT_TRUE(store.insert(e));
  EXPECT_EQ(get(store, "api.example/items"), e);
  EXPECT_EQ(get(store, "api.example/other"), nullptr);
  EXPECT_EQ(get(store, "other.example/items"), nullptr);
  const StoreStats s = store.stats();
  EXPECT_EQ(s.entries, 1u);
  EXPECT_EQ(s.bytes, e->charge());
  EXPECT_EQ(s.evictions, 0u);
  EXPECT_FALSE(store.insert(nullptr));
}

TEST(MemoryStore, VaryVariants) {
  MemoryStore store({});
  const auto gzip = make({.vary = "Accept-Encoding", .request = {{"Accept-Encoding", "gzip"}}});
  const auto br = make({.vary = "Accept-Encoding", .request = {{"accept-encoding", "br"}}});
  const auto absent = make({.vary = "Accept-Encoding", .request = {}});
  ASSERT_TRUE(store.insert(gzip));
  ASSERT_TRUE(store.insert(br));
  const std::string uri = "api.example/items";
  EXPECT_EQ(get(store, uri, "", {{"Accept-Encoding", " gzip "}}), gzip);
  EXPECT_EQ(get(store, uri, "", {{"ACCEPT-ENCODING", "br"}}), br);
  EXPECT_EQ(get(store, uri, "", {{"Accept-Encoding", "deflate"}}), nullptr);
  EXPECT_EQ(get(store, uri), nullptr);
  ASSERT_TRUE(store.insert(absent));
  EXPECT_EQ(get(store, uri), absent);
  // An empty value is not the field's absence (RFC 9111 §4.1).
  EXPECT_EQ(get(store, uri, "", {{"Accept-Encoding", ""}}), nullptr);
  EXPECT_EQ(store.stats().entries, 3u);
}

TEST(MemoryStore, VaryStarNeverMatches) {
  MemoryStore store({});
  ASSERT_TRUE(store.insert(make({.vary = "*"})));
  EXPECT_EQ(get(store, "api.example/items"), nullptr);
  EXPECT_EQ(store.stats().entries, 1u);
  // Even when its variant key is what a request computes for another Vary of the URL.
  auto star = std::make_shared<Entry>(*make({.vary = "*"}));
  star->variant_key = "accept!\n";  // vary_key({accept}, no Accept field)
  ASSERT_TRUE(store.insert(star));
  ASSERT_TRUE(store.insert(make({.identity = prefix("alice"), .vary = "Accept"})));
  EXPECT_EQ(get(store, "api.example/items"), nullptr);
}

TEST(MemoryStore, IdentitiesNeverCross) {
  MemoryStore store({});
  const auto alice = make({.identity = prefix("alice"), .body = "alice's"});
  ASSERT_TRUE(store.insert(alice));
  EXPECT_EQ(get(store, "api.example/items", prefix("alice")), alice);
  EXPECT_EQ(get(store, "api.example/items", prefix("bob")), nullptr);
  EXPECT_EQ(get(store, "api.example/items", ""), nullptr);
  const auto shared = make({.body = "everyone's"});
  ASSERT_TRUE(store.insert(shared));
  EXPECT_EQ(get(store, "api.example/items", ""), shared);
  EXPECT_EQ(get(store, "api.example/items", prefix("alice")), alice);
  EXPECT_EQ(get(store, "api.example/items", prefix("bob")), nullptr);
  // Same Vary values, different identities: still apart.
  const Fields fr = {{"Accept-Language", "fr"}};
  // (Newer than alice's entry without Vary, which matches too: the newer one answers.)
  const auto alice_fr =
      make({.identity = prefix("alice"), .vary = "Accept-Language", .request = fr, .date = 1});
  ASSERT_TRUE(store.insert(alice_fr));
  EXPECT_EQ(get(store, "api.example/items", prefix("alice"), fr), alice_fr);
  EXPECT_EQ(get(store, "api.example/items", prefix("bob"), fr), nullptr);
  EXPECT_EQ(get(store, "api.example/items", "", fr), shared);
}

TEST(MemoryStore, TheNewestOfSeveralMatchingVariantsAnswers) {
  MemoryStore store({});
  const Fields request = {{"Accept", "a"}, {"Origin", "o"}};
  const auto older = make({.vary = "Accept", .request = request, .date = 100});
  const auto newer = make({.vary = "Origin", .request = request, .date = 200});
  ASSERT_TRUE(store.insert(newer));
  ASSERT_TRUE(store.insert(older));
  EXPECT_EQ(get(store, "api.example/items", "", request), newer);
  EXPECT_EQ(get(store, "api.example/items", "", {{"Accept", "a"}}), older);
}

TEST(MemoryStore, InsertReplacesTheSameVariant) {
  MemoryStore store({});
  const auto first = make({.body = "first"});
  const auto second = make({.body = "the second one"});
  ASSERT_TRUE(store.insert(first));
  ASSERT_TRUE(store.insert(second));
  EXPECT_EQ(get(store, "api.example/items"), second);
  const StoreStats s = store.stats();
  EXPECT_EQ(s.entries, 1u);
  EXPECT_EQ(s.bytes, second->charge());
  EXPECT_EQ(s.evictions, 0u);
}

TEST(MemoryStore, RemoveOnlyTheSameEntry) {
  MemoryStore store({});
  const auto first = make({.body = "first"});
  const auto second = make({.body = "second"});
  ASSERT_TRUE(store.insert(first));
  ASSERT_TRUE(store.insert(second));
  store.remove(*first);  // replaced already: the newer one stays
  EXPECT_EQ(get(store, "api.example/items"), second);
  store.remove(*make({.body = "second"}));  // equal content, another object
  EXPECT_EQ(get(store, "api.example/items"), second);
  store.remove(*second);
  EXPECT_EQ(get(store, "api.example/items"), nullptr);
  EXPECT_EQ(store.stats().entries, 0u);
  EXPECT_EQ(store.stats().bytes, 0u);
  store.remove(*second);  // gone already: nothing happens
}

TEST(MemoryStore, InvalidateRemovesEveryVariantOfEveryIdentity) {
  MemoryStore store({});
  const Fields gz = {{"Accept-Encoding", "gzip"}};
  ASSERT_TRUE(store.insert(make({.vary = "Accept-Encoding", .request = gz})));
  ASSERT_TRUE(store.insert(make({.vary = "Accept-Encoding"})));
  ASSERT_TRUE(store.insert(make({.identity = prefix("alice")})));
  const auto other = make({.uri = "api.example/other"});
  ASSERT_TRUE(store.insert(other));
  EXPECT_EQ(store.invalidate("api.example/items"), 3u);
  EXPECT_EQ(store.invalidate("api.example/items"), 0u);
  EXPECT_EQ(get(store, "api.example/items", "", gz), nullptr);
  EXPECT_EQ(get(store, "api.example/other"), other);
  EXPECT_EQ(store.stats().entries, 1u);
  EXPECT_EQ(store.stats().bytes, other->charge());
}

TEST(MemoryStore, PurgePrefix) {
  MemoryStore store({});
  for (const char* uri : {"a.example/api/v1/x", "a.example/api/v1/y?q=1", "a.example/api/v2/z",
                          "b.example/api/v1/x", "a.example.evil/api/v1/x", "a.example/static"}) {
    ASSERT_TRUE(store.insert(make({.uri = uri})));
  }
  ASSERT_TRUE(store.insert(make({.uri = "a.example/api/v1/x", .identity = prefix("alice")})));
  EXPECT_EQ(store.purge("a.example", "/api/v1/", true), 3u);  // the host is compared whole
  EXPECT_EQ(get(store, "a.example.evil/api/v1/x")->uri_key, "a.example.evil/api/v1/x");
  EXPECT_NE(get(store, "a.example/api/v2/z"), nullptr);
  EXPECT_EQ(store.purge("", "/api/v1", true), 2u);  // any host
  EXPECT_EQ(store.purge("a.example", "/nothing", true), 0u);
  EXPECT_EQ(store.stats().entries, 2u);
  EXPECT_EQ(store.purge("", "/", true), 2u);
  EXPECT_EQ(store.stats().entries, 0u);
  EXPECT_EQ(store.stats().bytes, 0u);
}

TEST(MemoryStore, PurgeExactMatchesPathAndQueryWhole) {
  MemoryStore store({});
  for (const char* uri : {"a.example/items", "a.example/items?page=2", "a.example/items/1",
                          "b.example/items", "a.example/itemsx"}) {
    ASSERT_TRUE(store.insert(make({.uri = uri})));
  }
  ASSERT_TRUE(store.insert(make({.uri = "a.example/items", .identity = prefix("alice")})));
  EXPECT_EQ(store.purge("a.example", "/items", false), 2u);  // both identities, no other URL
  EXPECT_EQ(store.stats().entries, 4u);
  EXPECT_EQ(store.purge("", "/items", false), 1u);  // b.example's
  EXPECT_EQ(store.purge("", "/items?page=2", false), 1u);
  EXPECT_NE(get(store, "a.example/items/1"), nullptr);
  EXPECT_NE(get(store, "a.example/itemsx"), nullptr);
  EXPECT_EQ(store.stats().entries, 2u);
}

TEST(MemoryStore, ShardsFitFourLargestObjects) {
  EXPECT_EQ(MemoryStore({}).options().shards, 32u);  // 256 MiB over 1 MiB objects
  EXPECT_EQ(MemoryStore(small_store(1 << 20, 64 << 10, 32)).options().shards, 4u);
  EXPECT_EQ(MemoryStore(small_store(100 << 10, 64 << 10, 32)).options().shards, 1u);
  EXPECT_EQ(MemoryStore(small_store(1 << 30, 1 << 10, 0)).options().shards, 1u);
  EXPECT_EQ(MemoryStore(small_store(1 << 30, 1 << 10, 9)).options().shards, 9u);
}

TEST(MemoryStore, RefusesEntriesOverTheObjectBoundOrTheBudget) {
  const auto e = make({.body = std::string(2000, 'x')});
  const uint64_t charge = e->charge();
  MemoryStore exact(small_store(1 << 20, charge, 8));
  EXPECT_TRUE(exact.insert(e));
  MemoryStore bounded(small_store(1 << 20, charge - 1, 8));
  EXPECT_FALSE(bounded.insert(e));
  MemoryStore tiny(small_store(charge - 1, 1 << 20, 8));  // one shard, smaller than the entry
  EXPECT_EQ(tiny.options().shards, 1u);
  EXPECT_FALSE(tiny.insert(e));
  EXPECT_EQ(tiny.stats().entries, 0u);
  MemoryStore none(small_store(0, 1 << 20, 8));
  EXPECT_FALSE(none.insert(e));
}

TEST(MemoryStore, StaysWithinBudgetAndCountsEvictions) {
  const uint64_t memory = 64 << 10;
  MemoryStore store(small_store(memory, 4 << 10, 4));
  ASSERT_EQ(store.options().shards, 4u);
  const int n = 1000;
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(
        store.insert(make({.uri = "h/" + std::to_string(i), .body = std::string(700, 'b')})));
    ASSERT_LE(store.stats().bytes, memory);
  }
  const StoreStats s = store.stats();
  EXPECT_GT(s.entries, 40u);  // ~1 KiB each: most of the 64 KiB is in use
  EXPECT_EQ(s.entries + s.evictions, static_cast<uint64_t>(n));
  EXPECT_EQ(store.purge("", "", true), s.entries);
  EXPECT_EQ(store.stats().bytes, 0u);
}

TEST(MemoryStore, APopularEntrySurvivesAScan) {
  MemoryStore store(small_store(64 << 10, 4 << 10, 1));
  const auto hot = make({.uri = "h/hot", .body = std::string(700, 'h')});
  ASSERT_TRUE(store.insert(hot));
  for (int i = 0; i < 2000; ++i) {
    store.insert(make({.uri = "h/scan" + std::to_string(i), .body = std::string(700, 's')}));
    if (i % 20 == 0) {
      ASSERT_EQ(get(store, "h/hot"), hot) << "after " << i;
    }
  }
  EXPECT_GT(store.stats().evictions, 1000u);
}

TEST(MemoryStore, AReaderKeepsItsEntryAfterEviction) {
  MemoryStore store(small_store(16 << 10, 4 << 10, 1));
  ASSERT_TRUE(store.insert(make({.uri = "h/kept", .body = "still here"})));
  const auto held = get(store, "h/kept");
  ASSERT_NE(held, nullptr);
  // Small entries push it (touched once) from the small queue into main; entries larger
  // than the small queue (1.6 KiB) then go to main and push it out of there.
  for (int i = 0; i < 400; ++i) {
    const std::string body(i < 200 ? 500 : 2000, 'x');
    store.insert(make({.uri = "h/" + std::to_string(i), .body = body}));
  }
  EXPECT_EQ(get(store, "h/kept"), nullptr);
  EXPECT_EQ(*held->body, "still here");
}

TEST(MemoryStore, ConcurrentInsertsAndLookups) {
  const uint64_t memory = 256 << 10;
  MemoryStore store(small_store(memory, 8 << 10, 8));
  std::atomic<uint64_t> hits{0};
  std::atomic<bool> wrong{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < 5000; ++i) {
        const std::string uri = "h/" + std::to_string(rng() % 600);
        const std::string who = rng() % 2 == 0 ? "" : prefix(std::to_string(rng() % 3));
        if (rng() % 3 == 0) {
          store.insert(make({.uri = uri, .identity = who, .body = std::string(rng() % 2000, 'x')}));
        } else if (const auto e = store.lookup(uri, who, {})) {
          if (e->uri_key != uri || e->identity != who) wrong = true;
          ++hits;
        }
        if (i % 1000 == 0) store.invalidate(uri);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_FALSE(wrong);
  EXPECT_GT(hits.load(), 0u);
  const StoreStats s = store.stats();
  EXPECT_LE(s.bytes, memory);
  EXPECT_GT(s.evictions, 0u);
  EXPECT_EQ(store.purge("", "", true), s.entries);
  EXPECT_EQ(store.stats().entries, 0u);
  EXPECT_EQ(store.stats().bytes, 0u);
}

}  // namespace
}  // namespace bulwark::cache
