// RevocationSync against a real redis-server: two instances (two clients, two lists) sharing
// one Redis, as two gateway processes would.

#include "server/revocation_sync.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "redis_server.hpp"

namespace bulwark::server {
namespace {

namespace asio = boost::asio;
using namespace testing_redis;
using auth::Revocation;
using Kind = Revocation::Kind;

constexpr std::string_view kEntries = "bw:{revocations}:entries";
constexpr std::string_view kVersion = "bw:{revocations}:version";

int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Revocation jti(std::string value, std::string issuer = {}) {
  return {Kind::jti, std::move(issuer), std::move(value), now_s(), now_s() + 3600};
}

boost::json::object token(std::string_view json) {
  return boost::json::parse(json).as_object();
}

// One gateway instance: its own client, list and sync.
struct Instance {
  Instance(asio::io_context& io, const redis::RedisUrl& url, std::chrono::milliseconds interval)
      : client(io.get_executor(), url),
        list(std::make_shared<auth::RevocationList>()),
        sync(client, "bw", list, interval) {}

  bool revoked(std::string_view claims) const { return list->is_revoked(token(claims), now_s()); }

  RedisClient client;
  std::shared_ptr<auth::RevocationList> list;
  RevocationSync sync;
};

class RevocationSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start());
    raw_ = std::make_unique<RedisClient>(io_.get_executor(), server_.url());
  }

  std::unique_ptr<Instance> instance(std::chrono::milliseconds interval = 50ms) {
    auto made = std::make_unique<Instance>(io_, server_.url(), interval);
    made->sync.start();
    return made;
  }

  // Runs the loop until `done` holds; false after `limit`.
  bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 5s) {
    const auto end = Clock::now() + limit;
    while (!done()) {
      if (Clock::now() > end) return false;
      io_.run_for(5ms);
      if (io_.stopped()) io_.restart();
    }
    return true;
  }

  std::string publish(Instance& on, const Revocation& r) {
    std::string problem = "not run";
    EXPECT_TRUE(
        run(io_, [&]() -> asio::awaitable<void> { problem = co_await on.sync.publish(r); }));
    return problem;
  }

  redis::Reply raw(std::vector<std::string> args) {
    RedisResult result;
    EXPECT_TRUE(
        run(io_, [&]() -> asio::awaitable<void> { result = co_await raw_->command(args); }));
    EXPECT_TRUE(result.ok()) << result.error;
    return result.reply;
  }

  RedisServer server_;
  asio::io_context io_;
  std::unique_ptr<RedisClient> raw_;
};

TEST(RevocationEntryTest, FieldsRoundTripWithBarsInValues) {
  const Revocation r{Kind::subject, "https://a|b", "us|er", 100, 200};
  EXPECT_EQ(revocation_field(r), "s|11|https://a|b|us|er");
  EXPECT_EQ(revocation_value(r), "100|200");
  EXPECT_EQ(parse_revocation_entry(revocation_field(r), revocation_value(r)), r);
  const Revocation any{Kind::jti, "", "|", 0, 1};
  EXPECT_EQ(revocation_field(any), "j|0|||");
  EXPECT_EQ(parse_revocation_entry("j|0|||", "0|1"), any);
}

TEST(RevocationEntryTest, MalformedEntriesRefused) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"", "1|2"},
      {"x|0||a", "1|2"},
      {"j", "1|2"},
      {"j|", "1|2"},
      {"j|0|", "1|2"},
      {"j|0||", "1|2"},
      {"j|1|ab", "1|2"},
      {"j|3|ab|c", "1|2"},
      {"j|01|a|b", "1|2"},
      {"j|x|a|b", "1|2"},
      {"j|1025|", "1|2"},
      {"j|0||a", ""},
      {"j|0||a", "1"},
      {"j|0||a", "1|"},
      {"j|0||a", "|2"},
      {"j|0||a", "1|2|3"},
      {"j|0||a", "-1|2"},
      {"j|0||a", "01|2"},
      {"j|0||a", "1|9e9"},
      {"j|0||a", "1| 2"},
      {"j|0||a", "1|253402300800"},
      {"j|0||" + std::string(1025, 'v'), "1|2"}};
  for (const auto& [field, value] : bad) {
    EXPECT_FALSE(parse_revocation_entry(field, value)) << field << " = " << value;
  }
}

TEST_F(RevocationSyncTest, PublishedOnOneInstanceHonouredByAnotherWithinOneSecond) {
  auto a = instance(250ms);
  auto b = instance(250ms);
  ASSERT_TRUE(wait_until([&] { return a->sync.last_sync_ms() && b->sync.last_sync_ms(); }));
  ASSERT_EQ(publish(*a, jti("t1", "https://idp")), "");
  EXPECT_TRUE(a->revoked(R"({"jti":"t1","iss":"https://idp"})"));
  const auto published = Clock::now();
  ASSERT_TRUE(wait_until([&] { return b->revoked(R"({"jti":"t1","iss":"https://idp"})"); }));
  EXPECT_LT(Clock::now() - published, 1s);
  EXPECT_FALSE(b->revoked(R"({"jti":"t1","iss":"https://other"})"));
  EXPECT_EQ(raw({"HGET", std::string(kEntries), "j|11|https://idp|t1"}).type,
            redis::ReplyType::string);
  EXPECT_EQ(raw({"GET", std::string(kVersion)}), redis::Reply::string("1"));
}

TEST_F(RevocationSyncTest, UnchangedVersionSkipsTheFullLoad) {
  auto a = instance();
  auto b = instance();
  ASSERT_TRUE(wait_until([&] { return b->sync.stats().full_loads == 1; }));
  const uint64_t polls = b->sync.stats().polls;
  ASSERT_TRUE(wait_until([&] { return b->sync.stats().polls >= polls + 10; }));
  EXPECT_EQ(b->sync.stats().full_loads, 1u);  // 10 polls at 50 ms: under the 5 s forced load
  ASSERT_EQ(publish(*a, jti("t2")), "");
  ASSERT_TRUE(wait_until([&] { return b->revoked(R"({"jti":"t2"})"); }));
  EXPECT_EQ(b->sync.stats().full_loads, 2u);
  EXPECT_EQ(b->sync.stats().failures, 0u);
}

TEST_F(RevocationSyncTest, SubjectRevokedAgainKeepsTheLatestTime) {
  auto a = instance();
  const int64_t until = now_s() + 3600;
  ASSERT_EQ(publish(*a, {Kind::subject, "", "u", 1'700'000'100, until}), "");
  ASSERT_EQ(publish(*a, {Kind::subject, "", "u", 1'700'000'000, until - 10}), "");
  EXPECT_EQ(raw({"HGET", std::string(kEntries), "s|0||u"}),
            redis::Reply::string("1700000100|" + std::to_string(until)));
  EXPECT_EQ(raw({"GET", std::string(kVersion)}), redis::Reply::string("2"));
}

TEST_F(RevocationSyncTest, ExpiredEntriesDroppedAndDeleted) {
  const std::string past = std::to_string(now_s() - 200) + "|" + std::to_string(now_s() - 100);
  // Expired 10 s ago: no longer enforced, but left in Redis for a minute (Redis's clock), so
  // that an instance whose clock runs ahead cannot delete what the others still enforce.
  const std::string just = std::to_string(now_s() - 100) + "|" + std::to_string(now_s() - 10);
  const std::string live = std::to_string(now_s()) + "|" + std::to_string(now_s() + 600);
  raw({"HSET", std::string(kEntries), "j|0||old", past, "j|0||just", just, "j|0||new", live});
  auto b = instance();
  ASSERT_TRUE(wait_until([&] { return b->sync.stats().cleaned == 1; }));
  EXPECT_EQ(b->list->size(), 1u);
  EXPECT_TRUE(b->revoked(R"({"jti":"new"})"));
  EXPECT_FALSE(b->revoked(R"({"jti":"old"})"));
  EXPECT_FALSE(b->revoked(R"({"jti":"just"})"));
  EXPECT_EQ(raw({"HEXISTS", std::string(kEntries), "j|0||old"}), redis::Reply::of_integer(0));
  EXPECT_EQ(raw({"HEXISTS", std::string(kEntries), "j|0||just"}), redis::Reply::of_integer(1));
  EXPECT_EQ(raw({"HEXISTS", std::string(kEntries), "j|0||new"}), redis::Reply::of_integer(1));
}

TEST_F(RevocationSyncTest, MalformedEntriesSkipped) {
  const std::string live = std::to_string(now_s()) + "|" + std::to_string(now_s() + 600);
  raw({"HSET", std::string(kEntries), "garbage", "1|2", "j|0||bad-value", "soon", "j|9||short|x",
       live, "j|0||good", live});
  raw({"SET", std::string(kVersion), "not a number"});
  auto b = instance();
  ASSERT_TRUE(wait_until([&] { return b->sync.stats().full_loads >= 1; }));
  EXPECT_EQ(b->sync.stats().skipped, 3u);
  EXPECT_EQ(b->list->size(), 1u);
  EXPECT_TRUE(b->revoked(R"({"jti":"good"})"));
  EXPECT_EQ(raw({"HLEN", std::string(kEntries)}), redis::Reply::of_integer(4));  // left there
}

TEST_F(RevocationSyncTest, WrongTypeKeepsTheListAndCounts) {
  auto b = instance();
  ASSERT_TRUE(wait_until([&] { return b->sync.stats().full_loads >= 1; }));
  b->list->add(jti("kept"));
  raw({"SET", std::string(kEntries), "a string"});
  raw({"INCR", std::string(kVersion)});
  ASSERT_TRUE(wait_until([&] { return b->sync.stats().failures >= 2; }));
  EXPECT_TRUE(b->revoked(R"({"jti":"kept"})"));
}

TEST_F(RevocationSyncTest, RedisDownKeepsListsAndRecoversByItself) {
  auto a = instance();
  auto b = instance();
  ASSERT_EQ(publish(*a, jti("before")), "");
  ASSERT_TRUE(wait_until([&] { return b->revoked(R"({"jti":"before"})"); }));

  server_.stop();
  ASSERT_TRUE(wait_until([&] { return b->sync.stats().failures >= 3; }));
  EXPECT_TRUE(a->revoked(R"({"jti":"before"})"));
  EXPECT_TRUE(b->revoked(R"({"jti":"before"})"));
  const std::string problem = publish(*a, jti("during"));
  EXPECT_TRUE(problem.starts_with("revocation not stored: redis")) << problem;
  EXPECT_FALSE(a->revoked(R"({"jti":"during"})"));
  const int64_t stale = b->sync.last_sync_ms();

  ASSERT_TRUE(server_.start());  // empty: no persistence
  // Publishing first counts the new store's version up to the one the instances knew.
  ASSERT_TRUE(wait_until([&] { return a->client.connected(); }, 10s));
  ASSERT_EQ(publish(*a, jti("after")), "");
  ASSERT_TRUE(wait_until([&] { return b->sync.last_sync_ms() > stale; }, 10s));
  ASSERT_TRUE(wait_until([&] { return b->revoked(R"({"jti":"after"})"); }, 10s));
  // The restarted store got back what the instances remembered.
  ASSERT_TRUE(wait_until(
      [&] {
        return raw({"HEXISTS", std::string(kEntries), "j|0||before"}) ==
               redis::Reply::of_integer(1);
      },
      10s));
  EXPECT_TRUE(a->revoked(R"({"jti":"before"})"));
  EXPECT_TRUE(b->revoked(R"({"jti":"before"})"));
}

TEST_F(RevocationSyncTest, EmptiedStoreRefilledFromTheInstances) {
  auto a = instance();
  auto b = instance();
  ASSERT_EQ(publish(*a, jti("one")), "");
  ASSERT_EQ(publish(*a, jti("two")), "");
  ASSERT_TRUE(wait_until([&] { return b->revoked(R"({"jti":"two"})"); }));
  raw({"FLUSHALL"});
  ASSERT_TRUE(wait_until([&] {
    return raw({"HLEN", std::string(kEntries)}) == redis::Reply::of_integer(2);
  }));
  io_.run_for(200ms);
  EXPECT_TRUE(a->revoked(R"({"jti":"one"})"));
  EXPECT_TRUE(b->revoked(R"({"jti":"one"})"));
  EXPECT_TRUE(b->revoked(R"({"jti":"two"})"));
}

// A store that lost some entries but kept its epoch (a failover to a lagging replica, a
// restore from an older snapshot): the instances keep refusing the tokens and write the lost
// entries back.
TEST_F(RevocationSyncTest, StoreThatLostEntriesTakesNothingAndIsWrittenBack) {
  auto a = instance();
  auto b = instance();
  ASSERT_EQ(publish(*a, jti("kept")), "");
  ASSERT_EQ(publish(*a, jti("lost")), "");
  ASSERT_TRUE(wait_until([&] { return b->revoked(R"({"jti":"lost"})"); }));
  const std::string lost_field = revocation_field(jti("lost"));
  raw({"HDEL", std::string(kEntries), lost_field});
  raw({"INCR", std::string(kVersion)});
  ASSERT_TRUE(wait_until([&] {
    return raw({"HEXISTS", std::string(kEntries), lost_field}) == redis::Reply::of_integer(1);
  })) << "written back by an instance";
  EXPECT_TRUE(a->revoked(R"({"jti":"lost"})"));
  EXPECT_TRUE(b->revoked(R"({"jti":"lost"})"));
  EXPECT_TRUE(b->revoked(R"({"jti":"kept"})"));
}

TEST_F(RevocationSyncTest, PublishRefusesMalformedRevocations) {
  auto a = instance();
  EXPECT_EQ(publish(*a, jti("")),
            "malformed revocation: jti/sub 1 to 1024 bytes, iss at most 1024, times in range");
  EXPECT_EQ(publish(*a, {Kind::jti, "", "a", 10, 5}),
            "malformed revocation: jti/sub 1 to 1024 bytes, iss at most 1024, times in range");
  EXPECT_TRUE(a->list->empty());
}

TEST_F(RevocationSyncTest, StoppedSyncDestroyedWithAPollInFlight) {
  auto b = instance();
  ASSERT_TRUE(wait_until([&] { return b->sync.stats().polls >= 2; }));
  ::kill(server_.pid(), SIGSTOP);  // the next poll waits for a reply that does not come
  io_.run_for(100ms);
  b->sync.stop();
  b.reset();
  io_.run_for(100ms);
  ::kill(server_.pid(), SIGCONT);
}

}  // namespace
}  // namespace bulwark::server
