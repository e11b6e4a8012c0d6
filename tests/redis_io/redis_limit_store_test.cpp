// The Redis limit store and its GCRA script against a real redis-server: the shared case table
// (tests/limit/gcra_store_cases.hpp) at two time bases, Redis's own clock, key TTLs,
// concurrency, the exactness bound, script loss (SCRIPT FLUSH) and servers that answer
// garbage.

#include "server/redis_limit_store.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "limit/gcra_store_cases.hpp"
#include "limit/redis_gcra.hpp"
#include "redis_server.hpp"
#include "server/redis_client.hpp"

namespace bulwark::server {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace testing_redis;
using limit::GcraParams;
using limit::LimitCheck;
using limit::LimitResult;
using limit::cases::kDay;
using limit::cases::kMs;
using limit::cases::kSecond;

constexpr int64_t kTimeBases[] = {1'000'000, 1'800'000'000'123'456'789};

LimitCheck check(std::string_view name, std::string_view key, GcraParams params,
                 uint64_t cost = 1) {
  return LimitCheck{.limit_id = 0, .key = key, .params = params, .cost = cost, .name = name};
}

// The answer to one store call.
struct Outcome {
  std::optional<bool> allowed;
  std::vector<LimitResult> results;
  std::string error;
};

class RedisLimitStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.start()) << "redis-server did not start"; }

  // One store call run to its end.
  Outcome call(RedisLimitStore& store, std::optional<int64_t> now,
               std::span<const LimitCheck> enforced, std::span<const LimitCheck> independent = {}) {
    Outcome out;
    out.results.resize(enforced.size() + independent.size());
    EXPECT_TRUE(run(io_, [&]() -> asio::awaitable<void> {
      auto pending = store.check_at(now, enforced, independent, out.results, out.error);
      out.allowed = co_await std::move(pending);
    }));
    return out;
  }

  RedisResult command(std::vector<std::string> args) {
    RedisResult result;
    EXPECT_TRUE(
        run(io_, [&]() -> asio::awaitable<void> { result = co_await client_.command(args); }));
    return result;
  }

  RedisServer server_;
  asio::io_context io_;
  RedisClient client_{io_.get_executor(), server_.url()};
};

std::vector<LimitCheck> to_checks(const std::vector<limit::cases::CaseCheck>& in) {
  std::vector<LimitCheck> out;
  for (const auto& c : in) out.push_back(check(c.name, c.key, c.params, c.cost));
  return out;
}

// Each case's steps run in one coroutine, with no pause between them: the keys they leave
// (busy for a second or more) cannot expire in real time while the case replays its clock.
TEST_F(RedisLimitStoreTest, GcraStoreCases) {
  const std::vector<limit::cases::GcraCase> all = limit::cases::gcra_store_cases();
  ASSERT_GE(all.size(), 20u);
  int run_index = 0;
  for (const int64_t base : kTimeBases) {
    for (const limit::cases::GcraCase& gcra_case : all) {
      SCOPED_TRACE(gcra_case.title + " (time base " + std::to_string(base) + ")");
      RedisLimitStore store(client_, "case" + std::to_string(run_index++));
      std::vector<Outcome> outcomes(gcra_case.steps.size());
      ASSERT_TRUE(run(io_, [&]() -> asio::awaitable<void> {
        for (std::size_t i = 0; i < gcra_case.steps.size(); ++i) {
          const limit::cases::Step& step = gcra_case.steps[i];
          const std::vector<LimitCheck> enforced = to_checks(step.enforced);
          const std::vector<LimitCheck> independent = to_checks(step.independent);
          Outcome& out = outcomes[i];
          out.results.resize(enforced.size() + independent.size());
          auto pending =
              store.check_at(base + step.at_ns, enforced, independent, out.results, out.error);
          out.allowed = co_await std::move(pending);
        }
      }));
      for (std::size_t i = 0; i < gcra_case.steps.size(); ++i) {
        const limit::cases::Step& step = gcra_case.steps[i];
        const Outcome& out = outcomes[i];
        ASSERT_TRUE(out.allowed.has_value()) << "step " << i << ": " << out.error;
        ASSERT_EQ(out.results.size(), step.results.size());
        EXPECT_EQ(limit::cases::mismatch(step, *out.allowed, out.results), "") << "step " << i;
      }
    }
  }
}

// ---- Redis's clock ------------------------------------------------------------------------

TEST_F(RedisLimitStoreTest, OnRedisTimeABurstPassesThenIsRefused) {
  RedisLimitStore store(client_, "bw");
  const std::array checks{check("per-ip", "192.0.2.1", limit::gcra_params(5, 60 * kSecond))};
  for (uint64_t i = 1; i <= 5; ++i) {
    Outcome out;
    out.results.resize(1);
    ASSERT_TRUE(run(io_, [&]() -> asio::awaitable<void> {
      auto pending = store.check(checks, {}, out.results, out.error);
      out.allowed = co_await std::move(pending);
    }));
    ASSERT_EQ(out.allowed, std::optional<bool>(true)) << out.error;
    EXPECT_EQ(out.results[0].remaining, 5 - i);
  }
  const Outcome refused = call(store, std::nullopt, checks);
  ASSERT_EQ(refused.allowed, std::optional<bool>(false)) << refused.error;
  // T = 12 s; the five took well under 2 s of Redis time (each run() turns the loop ~50 ms).
  EXPECT_LE(refused.results[0].retry_after_ns, 12 * kSecond);
  EXPECT_GT(refused.results[0].retry_after_ns, 10 * kSecond);
}

TEST_F(RedisLimitStoreTest, KeyTtlEndsWhenTheKeyIsIdle) {
  RedisLimitStore store(client_, "bw");
  const std::array checks{check("per-ip", "192.0.2.1", limit::gcra_params(1, 60 * kSecond, 3))};
  for (int i = 0; i < 2; ++i) call(store, std::nullopt, checks);
  const Outcome out = call(store, std::nullopt, checks);
  ASSERT_EQ(out.allowed, std::optional<bool>(true)) << out.error;
  const int64_t reset_ms = out.results[0].reset_ns / kMs;
  const RedisResult ttl = command(cmd("PTTL", "bw:rl:{192.0.2.1}:per-ip"));
  ASSERT_TRUE(ttl.ok()) << ttl.error;
  ASSERT_EQ(ttl.reply.type, redis::ReplyType::integer);
  EXPECT_LE(ttl.reply.integer, reset_ms + 1);
  EXPECT_GE(ttl.reply.integer, reset_ms - 1000) << "a TTL far below the reset";
  EXPECT_GT(reset_ms, 179'000);  // three of one a minute: ~3 minutes
}

TEST_F(RedisLimitStoreTest, TwoHundredConcurrentChecksOfABurstOf50AllowExactly50) {
  RedisLimitStore store(client_, "bw");
  const std::array checks{check("hot", "203.0.113.1", limit::gcra_params(50, 3600 * kSecond))};
  const std::array warm_up{check("hot", "198.51.100.1", limit::gcra_params(50, 3600 * kSecond))};
  ASSERT_EQ(call(store, std::nullopt, warm_up).allowed, std::optional<bool>(true));  // loads it
  const uint64_t writes_before = client_.stats().writes;
  constexpr int kRequests = 200;
  int finished = 0;
  int allowed = 0;
  int failed = 0;
  for (int i = 0; i < kRequests; ++i) {
    asio::co_spawn(
        io_,
        [&]() -> asio::awaitable<void> {
          std::array<LimitResult, 1> results;
          std::string error;
          auto pending = store.check(checks, {}, results, error);
          const std::optional<bool> verdict = co_await std::move(pending);
          if (!verdict) ++failed;
          if (verdict.value_or(false)) ++allowed;
          ++finished;
        },
        asio::detached);
  }
  const auto end = Clock::now() + 20s;
  while (finished < kRequests && Clock::now() < end) io_.run_for(50ms);
  ASSERT_EQ(finished, kRequests);
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(allowed, 50);
  EXPECT_LE(client_.stats().writes - writes_before, 10u) << "the checks were not pipelined";
}

// ---- the exactness bound --------------------------------------------------------------------

TEST_F(RedisLimitStoreTest, ASlowerRateThanOnePer104DaysIsClampedToIt) {
  RedisLimitStore store(client_, "bw");
  const std::array checks{check("yearly", "k", limit::gcra_params(1, 365 * kDay))};
  const int64_t now = kTimeBases[1];
  const Outcome first = call(store, now, checks);
  ASSERT_EQ(first.allowed, std::optional<bool>(true)) << first.error;
  EXPECT_EQ(first.results[0].reset_ns, limit::kRedisMaxCapacityNs);
  const Outcome second = call(store, now + kDay, checks);
  ASSERT_EQ(second.allowed, std::optional<bool>(false)) << second.error;
  EXPECT_EQ(second.results[0].retry_after_ns, limit::kRedisMaxCapacityNs - kDay);
  const Outcome later = call(store, now + limit::kRedisMaxCapacityNs, checks);
  EXPECT_EQ(later.allowed, std::optional<bool>(true)) << later.error;
}

TEST_F(RedisLimitStoreTest, ABurstBeyond104DaysIsCutKeepingTheRate) {
  RedisLimitStore store(client_, "bw");
  const GcraParams params = limit::gcra_params(10, 365 * kDay, 10);  // T = 36.5 days
  const int64_t t = params.emission_interval_ns;
  const std::array checks{check("yearly", "k", params)};
  const int64_t now = kTimeBases[1];
  // Capacity 2^53 - 1 ns holds two T: two pass at once, not ten.
  const Outcome first = call(store, now, checks);
  ASSERT_EQ(first.allowed, std::optional<bool>(true)) << first.error;
  EXPECT_EQ(first.results[0].remaining, 1u);
  EXPECT_EQ(first.results[0].reset_ns, t);
  const Outcome second = call(store, now, checks);
  ASSERT_EQ(second.allowed, std::optional<bool>(true)) << second.error;
  EXPECT_EQ(second.results[0].reset_ns, 2 * t);
  const Outcome third = call(store, now, checks);
  ASSERT_EQ(third.allowed, std::optional<bool>(false)) << third.error;
  EXPECT_EQ(third.results[0].retry_after_ns, 3 * t - limit::kRedisMaxCapacityNs);
  const Outcome refilled = call(store, now + t, checks);
  EXPECT_EQ(refilled.allowed, std::optional<bool>(true)) << refilled.error;
}

TEST_F(RedisLimitStoreTest, ATatFarAheadIsRefusedAsAtTheBound) {
  RedisLimitStore store(client_, "bw");
  const std::array checks{check("per-ip", "k", limit::gcra_params(1, kSecond, 5))};
  const int64_t now = kTimeBases[1];
  // 200 days ahead: a clock stepped back, or a limit that used to be much slower.
  const std::string far = std::to_string(now + 200 * kDay);
  ASSERT_TRUE(command(cmd("SET", "bw:rl:{k}:per-ip", far)).ok());
  const Outcome out = call(store, now, checks);
  ASSERT_EQ(out.allowed, std::optional<bool>(false)) << out.error;
  const int64_t two_to_53 = int64_t{1} << 53;
  EXPECT_EQ(out.results[0].reset_ns, two_to_53);
  EXPECT_EQ(out.results[0].retry_after_ns, two_to_53 - 4 * kSecond);
  EXPECT_EQ(out.results[0].remaining, 0u);
  const RedisResult kept = command(cmd("GET", "bw:rl:{k}:per-ip"));
  EXPECT_EQ(kept.reply, redis::Reply::string(far)) << "a refusal wrote the key";
}

// ---- what Redis holds -------------------------------------------------------------------------

TEST_F(RedisLimitStoreTest, StoredTatIsExactDecimalNanoseconds) {
  RedisLimitStore store(client_, "bw");
  const std::array checks{check("odd", "k", limit::gcra_params(3, 10 * kSecond))};
  const int64_t now = kTimeBases[1];
  ASSERT_EQ(call(store, now, checks).allowed, std::optional<bool>(true));
  const RedisResult tat = command(cmd("GET", "bw:rl:{k}:odd"));
  EXPECT_EQ(tat.reply, redis::Reply::string(std::to_string(now + 3'333'333'334)));
}

TEST_F(RedisLimitStoreTest, AGarbageTatCountsAsAbsentAndIsOverwritten) {
  RedisLimitStore store(client_, "bw");
  const std::array checks{check("per-ip", "k", limit::gcra_params(1, kSecond, 5))};
  ASSERT_TRUE(command(cmd("SET", "bw:rl:{k}:per-ip", "1e18")).ok());
  const Outcome out = call(store, 5'000'000'000, checks);
  ASSERT_EQ(out.allowed, std::optional<bool>(true)) << out.error;
  EXPECT_EQ(out.results[0].remaining, 4u);
  EXPECT_EQ(command(cmd("GET", "bw:rl:{k}:per-ip")).reply, redis::Reply::string("6000000000"));
}

TEST_F(RedisLimitStoreTest, AKeyOfAnotherTypeIsAnErrorNotACrash) {
  RedisLimitStore store(client_, "bw");
  ASSERT_TRUE(command(cmd("LPUSH", "bw:rl:{k}:per-ip", "x")).ok());
  const std::array checks{check("per-ip", "k", limit::gcra_params(1, kSecond))};
  const Outcome out = call(store, std::nullopt, checks);
  EXPECT_EQ(out.allowed, std::nullopt);
  EXPECT_NE(out.error.find("WRONGTYPE"), std::string::npos) << out.error;
}

TEST_F(RedisLimitStoreTest, BadArgumentsChangeNothing) {
  // The script checks every argument before its first write.
  const std::vector<std::string> keys = {"bw:rl:{k}:a", "bw:rl:{k}:b"};
  const std::vector<std::vector<std::string>> bad_args = {
      {"", "1", "1000", "0", "1"},                                // too few
      {"", "3", "1000", "0", "1", "1000", "0", "1"},              // more enforced than keys
      {"x", "2", "1000", "0", "1", "1000", "0", "1"},             // now not a number
      {"", "2", "1000", "0", "1", "0", "0", "1"},                 // T 0
      {"", "2", "1000", "0", "1", "1000", "0", "0"},              // cost 0
      {"", "2", "1000", "0", "1", "1e3", "0", "1"},               // not plain digits
      {"", "2", "1000", "0", "1", "9007199254740991", "1", "1"},  // capacity 2^53
  };
  for (const auto& args : bad_args) {
    RedisResult result;
    ASSERT_TRUE(run(io_, [&]() -> asio::awaitable<void> {
      auto pending = client_.run_script(limit::gcra_script(), keys, args);
      result = co_await std::move(pending);
    }));
    ASSERT_TRUE(result.ok()) << result.error;
    EXPECT_TRUE(result.reply.is_error()) << args[1] << " " << describe(result.reply);
    EXPECT_EQ(command(cmd("EXISTS", keys[0])).reply, redis::Reply::of_integer(0));
  }
}

// ---- scripts ----------------------------------------------------------------------------------

TEST_F(RedisLimitStoreTest, RunScriptLoadsTheScriptAgainAfterScriptFlush) {
  const redis::Script script = redis::make_script("return {KEYS[1], ARGV[1], #ARGV}");
  const std::vector<std::string> keys = {"k"};
  const std::vector<std::string> args = {"a", "b"};
  std::vector<RedisResult> results;
  ASSERT_TRUE(run(io_, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 2; ++i) {
      auto pending = client_.run_script(script, keys, args);
      results.push_back(co_await std::move(pending));
      auto flush = client_.command(cmd("SCRIPT", "FLUSH"));
      co_await std::move(flush);
    }
  }));
  const redis::Reply expected = redis::Reply::array(
      {redis::Reply::string("k"), redis::Reply::string("a"), redis::Reply::of_integer(2)});
  for (const RedisResult& r : results) {
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.reply, expected) << describe(r.reply);
  }
  // Each call: EVALSHA (NOSCRIPT), SCRIPT LOAD, EVALSHA; plus a SCRIPT FLUSH.
  EXPECT_EQ(client_.stats().commands, 8u);
}

TEST_F(RedisLimitStoreTest, StoreKeepsWorkingAfterScriptFlush) {
  RedisLimitStore store(client_, "bw");
  const std::array checks{check("per-ip", "k", limit::gcra_params(1, 60 * kSecond, 2))};
  ASSERT_EQ(call(store, std::nullopt, checks).allowed, std::optional<bool>(true));
  ASSERT_TRUE(command(cmd("SCRIPT", "FLUSH")).ok());
  const Outcome out = call(store, std::nullopt, checks);
  ASSERT_EQ(out.allowed, std::optional<bool>(true)) << out.error;
  EXPECT_EQ(out.results[0].remaining, 0u) << "the state survived, only the script was lost";
  EXPECT_EQ(call(store, std::nullopt, checks).allowed, std::optional<bool>(false));
}

TEST_F(RedisLimitStoreTest, ScriptErrorsOtherThanNoscriptAreAnswersNotRetries) {
  const redis::Script script = redis::make_script("return redis.error_reply('ERR nope')");
  std::vector<RedisResult> results;
  ASSERT_TRUE(run(io_, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 2; ++i) {
      auto pending = client_.run_script(script, {}, {});
      results.push_back(co_await std::move(pending));
    }
  }));
  for (const RedisResult& r : results) {
    ASSERT_TRUE(r.ok()) << r.error;
    ASSERT_TRUE(r.reply.is_error()) << describe(r.reply);
    EXPECT_NE(r.reply.text.find("nope"), std::string::npos) << r.reply.text;
  }
  // Loaded once (EVALSHA, SCRIPT LOAD, EVALSHA), then one EVALSHA: its error is not NOSCRIPT.
  EXPECT_EQ(client_.stats().commands, 4u);
}

// ---- servers that answer nonsense ------------------------------------------------------------

TEST_F(RedisLimitStoreTest, AServerAnsweringNonsenseGivesAnErrorNotACrash) {
  const std::vector<std::string> answers = {
      ":1\r\n",                                     // an integer
      "$2\r\nok\r\n",                               // a string
      "*-1\r\n",                                    // nil
      "*2\r\n:1\r\n:1\r\n",                         // too short
      "*5\r\n:1\r\n:1\r\n:0\r\n:-4\r\n:0\r\n",      // negative remaining
      "*5\r\n:1\r\n:1\r\n$1\r\n0\r\n:4\r\n:0\r\n",  // a string inside
      "-ERR something broke\r\n",                   // an error
      "?garbage\r\n",                               // not RESP
  };
  for (const std::string& answer : answers) {
    FakeServer fake(io_);
    asio::co_spawn(io_, fake.serve(answer, FakeServer::Mode::every_read), asio::detached);
    {
      redis::RedisUrl url = server_.url();
      url.port = fake.port();
      RedisClient client(io_.get_executor(), url);
      RedisLimitStore store(client, "bw");
      const std::array checks{check("per-ip", "k", limit::gcra_params(1, kSecond))};
      const Outcome out = call(store, std::nullopt, checks);
      EXPECT_EQ(out.allowed, std::nullopt) << answer;
      EXPECT_FALSE(out.error.empty()) << answer;
    }
    // The client is gone: the fake sees its connection end before the fake itself goes.
    error_code ignored;
    fake.acceptor.close(ignored);
    ASSERT_TRUE(run(io_, [&]() -> asio::awaitable<void> {
      while (!fake.done) co_await sleep_for(5ms);
    }));
  }
}

TEST_F(RedisLimitStoreTest, MismatchedResultsAreRefusedWithoutACall) {
  RedisLimitStore store(client_, "bw");
  const std::array checks{check("per-ip", "k", limit::gcra_params(1, kSecond))};
  std::array<LimitResult, 2> results;
  std::string error;
  std::optional<bool> verdict = true;
  ASSERT_TRUE(run(io_, [&]() -> asio::awaitable<void> {
    auto pending = store.check(checks, {}, results, error);
    verdict = co_await std::move(pending);
  }));
  EXPECT_EQ(verdict, std::nullopt);
  EXPECT_FALSE(error.empty());
  EXPECT_EQ(client_.stats().commands, 0u);
}

}  // namespace
}  // namespace bulwark::server
