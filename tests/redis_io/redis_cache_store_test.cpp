// RedisCacheStore against a real redis-server: two stores on two clients stand for two
// gateway instances sharing one Redis.

#include "server/redis_cache_store.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <signal.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cache/entry_codec.hpp"
#include "cache/http_date.hpp"
#include "cache/key.hpp"
#include "cache/redis_layout.hpp"
#include "redis_server.hpp"

namespace bulwark::server {
namespace {

namespace asio = boost::asio;
using namespace testing_redis;
using cache::Entry;
using cache::FieldLine;
using Lines = std::vector<FieldLine>;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::sys_seconds;

constexpr std::string_view kPrefix = "bw:c:";
constexpr uint64_t kMaxObject = 64 * 1024;

sys_seconds now_s() {
  return std::chrono::floor<seconds>(std::chrono::system_clock::now());
}

struct Spec {
  std::string uri = "api.example/items";
  std::string who;  // the identity; "" for shared
  std::string cache_control = "max-age=600";
  std::string vary;
  Lines request;  // the request the variant was stored for
  std::string body = "body";
  std::string etag;
};

std::shared_ptr<const Entry> make(const Spec& s) {
  auto e = std::make_shared<Entry>();
  e->uri_key = s.uri;
  e->identity = s.who.empty() ? std::string() : cache::identity_prefix(s.who);
  e->status = 200;
  e->reason = "OK";
  e->fields.emplace_back("Content-Type", "text/plain");
  e->fields.emplace_back("Date", cache::format_http_date(now_s()));
  if (!s.cache_control.empty()) e->fields.emplace_back("Cache-Control", s.cache_control);
  if (!s.vary.empty()) e->fields.emplace_back("Vary", s.vary);
  if (!s.etag.empty()) e->fields.emplace_back("ETag", s.etag);
  e->body = std::make_shared<const std::string>(s.body);
  e->request_time = now_s();
  e->response_time = now_s();
  cache::derive_metadata(*e, false);
  e->vary = cache::parse_vary(s.vary);
  e->variant_key = e->identity + cache::vary_key(e->vary, s.request).value_or("");
  return e;
}

class RedisCacheStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start());
    client_a_ = std::make_unique<RedisClient>(io_.get_executor(), server_.url());
    client_b_ = std::make_unique<RedisClient>(io_.get_executor(), server_.url());
    raw_ = std::make_unique<RedisClient>(io_.get_executor(), server_.url());
    a_ = std::make_unique<RedisCacheStore>(*client_a_, std::string(kPrefix), kMaxObject);
    b_ = std::make_unique<RedisCacheStore>(*client_b_, std::string(kPrefix), kMaxObject);
  }

  void go(std::function<asio::awaitable<void>()> body) { ASSERT_TRUE(run(io_, std::move(body))); }

  std::string insert(RedisCacheStore& store, const Spec& s) {
    std::string error = "not run";
    const auto entry = make(s);
    go([&]() -> asio::awaitable<void> { error = co_await store.insert(entry, now_s()); });
    return error;
  }

  RedisCacheStore::Found lookup(RedisCacheStore& store, const std::string& uri,
                                const std::string& who = "", const Lines& request = {}) {
    RedisCacheStore::Found found{nullptr, "not run"};
    const std::string identity = who.empty() ? std::string() : cache::identity_prefix(who);
    go([&]() -> asio::awaitable<void> { found = co_await store.lookup(uri, identity, request); });
    return found;
  }

  // The body found for this request, "" for a miss (failing the test on an error).
  std::string body_of(RedisCacheStore& store, const std::string& uri, const std::string& who = "",
                      const Lines& request = {}) {
    const auto found = lookup(store, uri, who, request);
    EXPECT_EQ(found.error, "");
    return found.entry ? *found.entry->body : std::string();
  }

  redis::Reply raw(std::vector<std::string> args) {
    RedisResult r;
    go([&]() -> asio::awaitable<void> { r = co_await raw_->command(args); });
    EXPECT_TRUE(r.ok()) << r.error;
    return r.reply;
  }

  int64_t pttl(const std::string& key) { return raw(cmd("PTTL", key)).integer; }
  size_t key_count() { return raw(cmd("KEYS", "*")).elements.size(); }

  std::string variants_key(const std::string& uri, const std::string& who = "") {
    return cache::redis_variants_key(kPrefix, uri,
                                     who.empty() ? std::string() : cache::identity_prefix(who));
  }

  std::pair<uint64_t, std::string> purge(std::string host, std::string path, bool prefix) {
    std::pair<uint64_t, std::string> out{0, "not run"};
    go([&]() -> asio::awaitable<void> { out = co_await a_->purge(host, path, prefix); });
    return out;
  }

  std::optional<bool> try_lock(RedisCacheStore& store, const std::string& token,
                               milliseconds ttl = seconds(5)) {
    std::optional<bool> out;
    const std::string uri = "api.example/items";
    const std::string identity;
    go([&]() -> asio::awaitable<void> {
      out = co_await store.try_lock(uri, identity, token, ttl);
    });
    return out;
  }

  void unlock(RedisCacheStore& store, const std::string& token) {
    const std::string uri = "api.example/items";
    const std::string identity;
    go([&]() -> asio::awaitable<void> { co_await store.unlock(uri, identity, token); });
  }

  RedisServer server_;
  asio::io_context io_;
  std::unique_ptr<RedisClient> client_a_, client_b_, raw_;
  std::unique_ptr<RedisCacheStore> a_, b_;
};

TEST_F(RedisCacheStoreTest, WhatOneInstanceStoresTheOtherFinds) {
  ASSERT_EQ(insert(*a_, {.body = std::string("bin\0ary\r\n", 9)}), "");
  const auto found = lookup(*b_, "api.example/items");
  ASSERT_EQ(found.error, "");
  ASSERT_TRUE(found.entry);
  EXPECT_EQ(*found.entry->body, std::string("bin\0ary\r\n", 9));
  EXPECT_EQ(found.entry->field("content-type"), "text/plain");
  EXPECT_EQ(found.entry->lifetime.lifetime, seconds(600));
  EXPECT_EQ(body_of(*b_, "api.example/other"), "");
}

TEST_F(RedisCacheStoreTest, IdentitiesAreIsolated) {
  ASSERT_EQ(insert(*a_, {.who = "alice", .body = "alice's"}), "");
  EXPECT_EQ(body_of(*b_, "api.example/items", "alice"), "alice's");
  EXPECT_EQ(body_of(*b_, "api.example/items", "bob"), "");
  EXPECT_EQ(body_of(*b_, "api.example/items"), "");
  ASSERT_EQ(insert(*a_, {.body = "shared"}), "");
  EXPECT_EQ(body_of(*b_, "api.example/items"), "shared");
  EXPECT_EQ(body_of(*b_, "api.example/items", "alice"), "alice's");
  EXPECT_EQ(body_of(*b_, "api.example/items", "bob"), "");
}

TEST_F(RedisCacheStoreTest, AnEntryFiledUnderTheWrongKeysIsNeverReturned) {
  // alice's entry written by hand into the shared hash, and another URL's into this one:
  // the decoded keys must be the ones asked for.
  const auto alice = make({.who = "alice", .body = "alice's"});
  raw(cmd("HSET", variants_key("api.example/items"), alice->variant_key,
          cache::encode_entry(*alice)));
  raw(cmd("HSET", variants_key("api.example/items"), alice->identity, cache::encode_entry(*alice)));
  const auto other = make({.uri = "api.example/other"});
  raw(cmd("HSET", variants_key("api.example/items"), "", cache::encode_entry(*other)));
  EXPECT_EQ(body_of(*b_, "api.example/items"), "");
}

TEST_F(RedisCacheStoreTest, VaryMatching) {
  const Lines gzip = {{"Accept-Encoding", "gzip"}};
  const Lines br = {{"Accept-Encoding", "br"}};
  ASSERT_EQ(insert(*a_, {.vary = "Accept-Encoding", .request = gzip, .body = "gz"}), "");
  ASSERT_EQ(insert(*a_, {.vary = "Accept-Encoding", .request = br, .body = "br"}), "");
  EXPECT_EQ(body_of(*b_, "api.example/items", "", gzip), "gz");
  EXPECT_EQ(body_of(*b_, "api.example/items", "", br), "br");
  EXPECT_EQ(body_of(*b_, "api.example/items", "", {}), "");  // absent matches only absence
  EXPECT_EQ(body_of(*b_, "api.example/items", "", {{"Accept-Encoding", "zstd"}}), "");
  EXPECT_EQ(raw(cmd("HLEN", variants_key("api.example/items"))).integer, 2);

  ASSERT_EQ(insert(*a_, {.uri = "api.example/star", .vary = "*", .body = "never"}), "");
  EXPECT_EQ(body_of(*b_, "api.example/star"), "");
}

TEST_F(RedisCacheStoreTest, TtlIsRedisTtlAndNeverShortened) {
  const Spec long_lived{.cache_control = "max-age=600, stale-if-error=300"};
  ASSERT_EQ(insert(*a_, long_lived), "");
  const int64_t expected = cache::redis_ttl(*make(long_lived), now_s()).count();
  const std::string hash = variants_key("api.example/items");
  const std::string set = cache::redis_url_set_key(kPrefix, "api.example/items");
  EXPECT_NEAR(pttl(hash), expected, 2000);
  EXPECT_NEAR(pttl(set), expected, 2000);
  // A shorter-lived variant of the same hash does not cut the long one's time.
  const Lines gzip = {{"Accept-Encoding", "gzip"}};
  ASSERT_EQ(
      insert(*a_, {.cache_control = "max-age=10", .vary = "Accept-Encoding", .request = gzip}), "");
  EXPECT_NEAR(pttl(hash), expected, 2000);
  EXPECT_NEAR(pttl(set), expected, 2000);
  // A longer one raises it.
  ASSERT_EQ(insert(*a_, {.cache_control = "max-age=5000"}), "");
  EXPECT_NEAR(pttl(hash), 5000000, 2000);
}

TEST_F(RedisCacheStoreTest, NotSharedWithoutTtlOrOverMaxObject) {
  ASSERT_EQ(insert(*a_, {.cache_control = "no-cache"}), "");  // no validator: nothing to share
  ASSERT_EQ(insert(*a_, {.cache_control = "max-age=0"}), "");
  EXPECT_EQ(key_count(), 0u);
  ASSERT_EQ(insert(*a_, {.body = std::string(kMaxObject, 'x')}), "");
  EXPECT_EQ(key_count(), 0u);
  ASSERT_EQ(insert(*a_, {.body = std::string(kMaxObject / 2, 'x')}), "");
  EXPECT_EQ(key_count(), 2u);  // the hash and the URL's set
  ASSERT_EQ(insert(*a_, {.uri = "api.example/v", .cache_control = "no-cache", .etag = "\"v\""}),
            "");
  EXPECT_EQ(key_count(), 4u);  // validators make it worth keeping for revalidation
}

TEST_F(RedisCacheStoreTest, InvalidateRemovesEveryIdentityAndVariant) {
  const Lines gzip = {{"Accept-Encoding", "gzip"}};
  ASSERT_EQ(insert(*a_, {.body = "shared"}), "");
  ASSERT_EQ(insert(*a_, {.vary = "Accept-Encoding", .request = gzip}), "");
  ASSERT_EQ(insert(*a_, {.who = "alice"}), "");
  ASSERT_EQ(insert(*a_, {.who = "bob"}), "");
  ASSERT_EQ(insert(*a_, {.uri = "api.example/kept"}), "");
  std::string error = "not run";
  const std::string uri = "api.example/items";
  go([&]() -> asio::awaitable<void> { error = co_await b_->invalidate(uri); });
  EXPECT_EQ(error, "");
  EXPECT_EQ(body_of(*a_, uri), "");
  EXPECT_EQ(body_of(*a_, uri, "", gzip), "");
  EXPECT_EQ(body_of(*a_, uri, "alice"), "");
  EXPECT_EQ(body_of(*a_, uri, "bob"), "");
  EXPECT_EQ(body_of(*a_, "api.example/kept"), "body");
  EXPECT_EQ(key_count(), 2u);
}

TEST_F(RedisCacheStoreTest, InvalidateDeletesOnlyThatUrlsKeysWhateverItsSetHolds) {
  raw(cmd("SET", "precious", "1"));
  ASSERT_EQ(insert(*a_, {}), "");
  raw(cmd("SADD", cache::redis_url_set_key(kPrefix, "api.example/items"), "precious"));
  const std::string uri = "api.example/items";
  go([&]() -> asio::awaitable<void> { co_await b_->invalidate(uri); });
  EXPECT_EQ(raw(cmd("EXISTS", "precious")).integer, 1);
  EXPECT_EQ(key_count(), 1u);
}

class RedisCachePurgeTest : public RedisCacheStoreTest {
 protected:
  void SetUp() override {
    RedisCacheStoreTest::SetUp();
    for (const char* uri : {"a.example/items", "a.example/items?x=1", "a.example:8080/items",
                            "b.example/items", "a.example/other", "a.example.evil/items"}) {
      ASSERT_EQ(insert(*a_, {.uri = uri}), "");
      ASSERT_EQ(insert(*a_, {.uri = uri, .who = "alice"}), "");
    }
  }
  bool present(const std::string& uri) { return !body_of(*b_, uri, "alice").empty(); }
};

TEST_F(RedisCachePurgeTest, ExactPathOnEveryHost) {
  EXPECT_EQ(purge("", "/items", false), std::make_pair(uint64_t{4}, std::string()));
  EXPECT_FALSE(present("a.example/items"));
  EXPECT_FALSE(present("a.example:8080/items"));
  EXPECT_FALSE(present("b.example/items"));
  EXPECT_FALSE(present("a.example.evil/items"));
  EXPECT_TRUE(present("a.example/items?x=1"));
  EXPECT_TRUE(present("a.example/other"));
}

TEST_F(RedisCachePurgeTest, PrefixOnOneHost) {
  EXPECT_EQ(purge("a.example", "/items", true), std::make_pair(uint64_t{3}, std::string()));
  EXPECT_FALSE(present("a.example/items"));
  EXPECT_FALSE(present("a.example/items?x=1"));
  EXPECT_FALSE(present("a.example:8080/items"));
  EXPECT_TRUE(present("b.example/items"));
  EXPECT_TRUE(present("a.example.evil/items"));
  EXPECT_TRUE(present("a.example/other"));
}

TEST_F(RedisCachePurgeTest, WholeHost) {
  EXPECT_EQ(purge("b.example", "/", true), std::make_pair(uint64_t{1}, std::string()));
  EXPECT_FALSE(present("b.example/items"));
  EXPECT_TRUE(present("a.example/items"));
  EXPECT_EQ(purge("", "/", true), std::make_pair(uint64_t{5}, std::string()));
  EXPECT_EQ(key_count(), 0u);
}

TEST_F(RedisCacheStoreTest, PurgeWalksManyScanPages) {
  std::vector<std::shared_ptr<const Entry>> entries;
  for (int i = 0; i < 700; ++i)
    entries.push_back(make({.uri = "h.example/p/" + std::to_string(i)}));
  size_t failed = 0;
  go([&]() -> asio::awaitable<void> {
    for (int i = 0; i < 1200; ++i) {
      const std::vector<std::string> set = cmd("SET", "noise:" + std::to_string(i), "x");
      co_await raw_->command(set);
    }
    for (const auto& entry : entries) {
      const std::string error = co_await a_->insert(entry, now_s());
      if (!error.empty()) ++failed;
    }
  });
  EXPECT_EQ(failed, 0u);
  EXPECT_EQ(purge("h.example", "/p/", true), std::make_pair(uint64_t{700}, std::string()));
  EXPECT_EQ(key_count(), 1200u);
}

TEST_F(RedisCacheStoreTest, OnlyOneOfFiftyConcurrentLocksWins) {
  int done = 0;
  int won = 0;
  int lost = 0;
  const std::string uri = "api.example/items";
  const std::string identity;
  for (int i = 0; i < 50; ++i) {
    RedisCacheStore& store = i % 2 == 0 ? *a_ : *b_;
    asio::co_spawn(
        io_,
        [&, i]() -> asio::awaitable<void> {
          const std::string token = "token-" + std::to_string(i);
          const std::optional<bool> r = co_await store.try_lock(uri, identity, token, seconds(5));
          if (r == true) ++won;
          if (r == false) ++lost;
          ++done;
        },
        asio::detached);
  }
  const auto end = Clock::now() + 10s;
  while (done < 50 && Clock::now() < end) io_.run_for(50ms);
  EXPECT_EQ(won, 1);
  EXPECT_EQ(lost, 49);
}

TEST_F(RedisCacheStoreTest, UnlockNeedsTheToken) {
  ASSERT_EQ(try_lock(*a_, "mine"), true);
  unlock(*b_, "not mine");
  EXPECT_EQ(try_lock(*b_, "theirs"), false);
  unlock(*a_, "mine");
  EXPECT_EQ(try_lock(*b_, "theirs"), true);
}

TEST_F(RedisCacheStoreTest, LockExpires) {
  ASSERT_EQ(try_lock(*a_, "mine", milliseconds(100)), true);
  EXPECT_EQ(try_lock(*b_, "theirs"), false);
  go([&]() -> asio::awaitable<void> { co_await sleep_for(200ms); });
  EXPECT_EQ(try_lock(*b_, "theirs"), true);
  unlock(*a_, "mine");  // late: the lock is someone else's now
  EXPECT_EQ(try_lock(*a_, "again"), false);
}

TEST_F(RedisCacheStoreTest, FollowerGetsWhatTheLeaderStores) {
  ASSERT_EQ(try_lock(*a_, "leader"), true);
  const std::string uri = "api.example/items";
  const std::string identity;
  const Lines request;
  RedisCacheStore::Found found{nullptr, "not run"};
  bool follower_done = false;
  const auto start = Clock::now();
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        found = co_await b_->wait_for_leader(uri, identity, request, seconds(5));
        follower_done = true;
      },
      asio::detached);
  const auto entry = make({.body = "from the leader"});
  go([&]() -> asio::awaitable<void> {
    co_await sleep_for(150ms);
    EXPECT_FALSE(follower_done);
    EXPECT_EQ(co_await a_->insert(entry, now_s()), "");
    co_await a_->unlock(uri, identity, "leader");
    while (!follower_done) co_await sleep_for(5ms);
  });
  EXPECT_EQ(found.error, "");
  ASSERT_TRUE(found.entry);
  EXPECT_EQ(*found.entry->body, "from the leader");
  EXPECT_LT(Clock::now() - start, 1s);
}

TEST_F(RedisCacheStoreTest, FollowerStopsWhenTheLockGoesWithoutAnEntry) {
  ASSERT_EQ(try_lock(*a_, "leader"), true);
  const std::string uri = "api.example/items";
  const std::string identity;
  const Lines request;
  RedisCacheStore::Found found{nullptr, "not run"};
  const auto start = Clock::now();
  go([&]() -> asio::awaitable<void> {
    asio::co_spawn(
        co_await asio::this_coro::executor,
        [&]() -> asio::awaitable<void> {
          co_await sleep_for(100ms);
          co_await a_->unlock(uri, identity, "leader");
        },
        asio::detached);
    found = co_await b_->wait_for_leader(uri, identity, request, seconds(5));
  });
  EXPECT_EQ(found.error, "");
  EXPECT_FALSE(found.entry);
  EXPECT_LT(Clock::now() - start, 1s);
}

TEST_F(RedisCacheStoreTest, FollowerWaitIsBounded) {
  ASSERT_EQ(try_lock(*a_, "leader"), true);
  const std::string uri = "api.example/items";
  const std::string identity;
  const Lines request;
  RedisCacheStore::Found found{nullptr, "not run"};
  const auto start = Clock::now();
  go([&]() -> asio::awaitable<void> {
    found = co_await b_->wait_for_leader(uri, identity, request, milliseconds(200));
  });
  const auto took = Clock::now() - start;
  EXPECT_EQ(found.error, "");
  EXPECT_FALSE(found.entry);
  EXPECT_GE(took, 150ms);
  EXPECT_LT(took, 600ms);
}

TEST_F(RedisCacheStoreTest, RedisDownGivesErrorsNotHangs) {
  ASSERT_EQ(insert(*a_, {}), "");
  server_.stop();
  const std::string uri = "api.example/items";
  const std::string identity;
  const Lines request;
  const auto entry = make({});
  RedisCacheStore::Found found, waited;
  std::string inserted, invalidated;
  std::optional<bool> locked = true;
  std::pair<uint64_t, std::string> purged;
  const auto start = Clock::now();
  go([&]() -> asio::awaitable<void> {
    found = co_await a_->lookup(uri, identity, request);
    inserted = co_await a_->insert(entry, now_s());
    invalidated = co_await a_->invalidate(uri);
    purged = co_await a_->purge("", "/", true);
    locked = co_await a_->try_lock(uri, identity, "t", seconds(1));
    co_await a_->unlock(uri, identity, "t");
    waited = co_await a_->wait_for_leader(uri, identity, request, seconds(5));
  });
  EXPECT_LT(Clock::now() - start, 5s);  // each bounded by the client's timeouts
  EXPECT_FALSE(found.entry);
  EXPECT_NE(found.error, "");
  EXPECT_NE(inserted, "");
  EXPECT_NE(invalidated, "");
  EXPECT_NE(purged.second, "");
  EXPECT_EQ(locked, std::nullopt);
  EXPECT_FALSE(waited.entry);
  EXPECT_NE(waited.error, "");
  EXPECT_TRUE(found.unreachable) << "no answer: the failure policy's business";
  EXPECT_TRUE(waited.unreachable);
}

TEST_F(RedisCacheStoreTest, VariantsPerHashAreBounded) {
  const std::string hash = variants_key("api.example/items");
  std::vector<std::string> languages;  // the request lines below point into these
  for (int i = 0; i < RedisCacheStore::kMaxVariants; ++i) languages.push_back(std::to_string(i));
  for (const std::string& language : languages) {
    const Lines request = {{"Accept-Language", language}};
    ASSERT_EQ(insert(*a_, {.vary = "Accept-Language", .request = request, .body = "v"}), "");
  }
  EXPECT_EQ(raw(cmd("HLEN", hash)).integer, RedisCacheStore::kMaxVariants);
  // Storing one of them again replaces it in place...
  ASSERT_EQ(
      insert(*a_,
             {.vary = "Accept-Language", .request = {{"Accept-Language", "0"}}, .body = "again"}),
      "");
  EXPECT_EQ(raw(cmd("HLEN", hash)).integer, RedisCacheStore::kMaxVariants);
  // ... a new one starts the hash over.
  const Lines last = {{"Accept-Language", "new"}};
  ASSERT_EQ(insert(*a_, {.vary = "Accept-Language", .request = last, .body = "new"}), "");
  EXPECT_EQ(raw(cmd("HLEN", hash)).integer, 1);
  EXPECT_EQ(body_of(*b_, "api.example/items", "", last), "new");
}

TEST_F(RedisCacheStoreTest, IdentitiesPerUrlAreBounded) {
  // The URL's set filled up by hand to the bound: a new identity's copy stays local.
  const std::string set = cache::redis_url_set_key(kPrefix, "api.example/items");
  std::vector<std::string> sadd = cmd("SADD", set);
  for (int i = 0; i < RedisCacheStore::kMaxIdentitiesPerUrl; ++i) {
    std::string filler(kPrefix);  // appended, not '+': g++ 12 warns falsely (-Wrestrict) on that
    filler += "-filler-";
    filler += std::to_string(i);
    sadd.push_back(std::move(filler));
  }
  raw(sadd);
  ASSERT_EQ(insert(*a_, {.who = "alice", .body = "alice's"}), "");
  EXPECT_EQ(body_of(*b_, "api.example/items", "alice"), "");
  EXPECT_EQ(raw(cmd("EXISTS", variants_key("api.example/items", "alice"))).integer, 0);
}

TEST_F(RedisCacheStoreTest, GarbageIsNotAnOutage) {
  raw(cmd("HSET", variants_key("api.example/items"), "", "\x01\x02garbage"));
  const auto found = lookup(*b_, "api.example/items");
  EXPECT_FALSE(found.entry);
  EXPECT_NE(found.error, "");
  EXPECT_FALSE(found.unreachable) << "Redis answered: a miss, not a failed Redis";
}

TEST_F(RedisCacheStoreTest, GarbageIsAMissWithAnError) {
  const std::string hash = variants_key("api.example/items");
  raw(cmd("SET", hash, "garbage"));
  auto found = lookup(*b_, "api.example/items");
  EXPECT_FALSE(found.entry);
  EXPECT_NE(found.error.find("WRONGTYPE"), std::string::npos) << found.error;
  // The next store replaces the foreign key instead of failing on it until it expires.
  ASSERT_EQ(insert(*a_, {}), "");
  EXPECT_EQ(body_of(*b_, "api.example/items"), "body");

  raw(cmd("DEL", hash));
  raw(cmd("HSET", hash, "", "\x01\x02garbage"));
  found = lookup(*b_, "api.example/items");
  EXPECT_FALSE(found.entry);
  EXPECT_NE(found.error.find("bad cache entry"), std::string::npos) << found.error;

  // A good variant beside a broken one is still served, with the error reported.
  const Lines gzip = {{"Accept-Encoding", "gzip"}};
  ASSERT_EQ(insert(*a_, {.vary = "Accept-Encoding", .request = gzip, .body = "gz"}), "");
  found = lookup(*b_, "api.example/items", "", gzip);
  ASSERT_TRUE(found.entry);
  EXPECT_EQ(*found.entry->body, "gz");
  EXPECT_NE(found.error, "");

  // Truncated real encodings.
  const std::string valid = cache::encode_entry(*make({}));
  const std::string uri = "api.example/items";
  const std::string identity;
  const Lines request;
  size_t misses_with_error = 0;
  go([&]() -> asio::awaitable<void> {
    for (size_t n = 0; n < valid.size(); ++n) {
      const std::vector<std::string> hset = cmd("HSET", hash, "", valid.substr(0, n));
      co_await raw_->command(hset);
      const auto r = co_await b_->lookup(uri, identity, request);
      if (!r.entry && !r.error.empty()) ++misses_with_error;
    }
  });
  EXPECT_EQ(misses_with_error, valid.size());
}

TEST_F(RedisCacheStoreTest, HungRedisIsBoundedByTheCommandTimeout) {
  ASSERT_EQ(insert(*a_, {}), "");
  ASSERT_EQ(::kill(server_.pid(), SIGSTOP), 0);
  const std::string uri = "api.example/items";
  const std::string identity;
  const Lines request;
  RedisCacheStore::Found found{nullptr, ""};
  const auto start = Clock::now();
  go([&]() -> asio::awaitable<void> {
    found = co_await a_->wait_for_leader(uri, identity, request, seconds(10));
  });
  const auto took = Clock::now() - start;
  ::kill(server_.pid(), SIGCONT);
  EXPECT_FALSE(found.entry);
  EXPECT_NE(found.error.find("timed out"), std::string::npos) << found.error;
  EXPECT_LT(took, server_.url().command_timeout + 1s);
}

}  // namespace
}  // namespace bulwark::server
