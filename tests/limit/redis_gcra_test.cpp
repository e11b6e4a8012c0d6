// The Redis GCRA store's pure parts: key names, the script's arguments, and the decoding of
// its answers, good and bad. The script itself runs against redis-server in
// tests/redis_io/redis_limit_store_test.cpp.

#include "limit/redis_gcra.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace bulwark::limit {
namespace {

using redis::Reply;

constexpr int64_t kSecond = 1'000'000'000;

LimitCheck check(std::string_view name, std::string_view key, GcraParams params,
                 uint64_t cost = 1) {
  return LimitCheck{.limit_id = 7, .key = key, .params = params, .cost = cost, .name = name};
}

Reply integers(std::vector<int64_t> values) {
  std::vector<Reply> elements;
  for (int64_t v : values) elements.push_back(Reply::of_integer(v));
  return Reply::array(std::move(elements));
}

// ---- the script ---------------------------------------------------------------------------

TEST(RedisScript, Sha1IsLowercaseHexOfTheSource) {
  const redis::Script script = redis::make_script("return 1");
  EXPECT_EQ(script.sha1, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
  EXPECT_EQ(script.source, "return 1");
}

TEST(RedisGcra, ScriptIsMadeOnce) {
  EXPECT_EQ(&gcra_script(), &gcra_script());
  EXPECT_EQ(gcra_script().sha1, redis::make_script(gcra_script().source).sha1);
  EXPECT_EQ(gcra_script().sha1.size(), 40u);
}

// ---- key names ----------------------------------------------------------------------------

TEST(RedisGcraKey, PlainKeyIsItsOwnTag) {
  EXPECT_EQ(redis_limit_key("bw", check("per-ip", "192.0.2.1", {})), "bw:rl:{192.0.2.1}:per-ip");
  EXPECT_EQ(redis_limit_key("", check("n", "k", {})), ":rl:{k}:n");
}

TEST(RedisGcraKey, LimitsOnOneKeyShareTheTag) {
  const std::string a = redis_limit_key("bw", check("per-second", "alice", {}));
  const std::string b = redis_limit_key("bw", check("per-day", "alice", {}));
  EXPECT_NE(a, b);
  EXPECT_EQ(a.substr(0, a.find('}') + 1), b.substr(0, b.find('}') + 1));
}

TEST(RedisGcraKey, SixtyFourBytesArePlainSixtyFiveAreHashed) {
  const std::string k64(64, 'x');
  const std::string k65(65, 'x');
  EXPECT_EQ(redis_limit_key("p", check("n", k64, {})), "p:rl:{" + k64 + "}:n");
  EXPECT_EQ(redis_limit_key("p", check("n", k65, {})),
            "p:rl:{#9537c5fdf120482f7d58d25e9ed583f5}:n");  // SHA-256("x" * 65), 16 bytes
}

TEST(RedisGcraKey, BracesAreHashed) {
  EXPECT_EQ(redis_limit_key("p", check("n", "{a}", {})),
            "p:rl:{#460c3a93211614ac783c0f1d1bbbcb45}:n");
  for (std::string_view key : {"a{", "}a", "{", "}"}) {
    const std::string name = redis_limit_key("p", check("n", key, {}));
    EXPECT_EQ(name.find('{'), name.rfind('{')) << name;
    EXPECT_EQ(name.find('}'), name.rfind('}')) << name;
    EXPECT_EQ(name.substr(0, 7), "p:rl:{#") << name;
  }
}

TEST(RedisGcraKey, EmptyAndHashLikeKeysAreHashed) {
  // An empty {} would make Cluster hash the whole name; a '#' key could spell another's hash.
  EXPECT_EQ(redis_limit_key("p", check("n", "", {})), "p:rl:{#e3b0c44298fc1c149afbf4c8996fb924}:n");
  const std::string spelled =
      redis_limit_key("p", check("n", "#9537c5fdf120482f7d58d25e9ed583f5", {}));
  EXPECT_NE(spelled, redis_limit_key("p", check("n", std::string(65, 'x'), {})));
  EXPECT_EQ(spelled.substr(0, 7), "p:rl:{#");
}

TEST(RedisGcraKey, AnyBytesInAPlainKey) {
  const std::string key("a\0b\r\n:", 6);
  EXPECT_EQ(redis_limit_key("p", check("n", key, {})), "p:rl:{" + key + "}:n");
}

// ---- arguments ----------------------------------------------------------------------------

TEST(RedisGcraCall, KeysAndArgsLayout) {
  const GcraParams p = gcra_params(10, kSecond, 5);  // T = 100 ms, tau = 400 ms
  const std::array enforced{check("a", "k1", p, 2), check("b", "k2", gcra_params(1, kSecond))};
  const std::array independent{check("shadow", "k1", p)};
  std::vector<std::string> keys{"stale"};
  std::vector<std::string> args{"stale"};
  gcra_script_call("bw", enforced, independent, 1'800'000'000'123'456'789, keys, args);
  EXPECT_EQ(keys, (std::vector<std::string>{"bw:rl:{k1}:a", "bw:rl:{k2}:b", "bw:rl:{k1}:shadow"}));
  // now, one group of 2 enforced + 1 independent, then T, tau, cost per key.
  EXPECT_EQ(args, (std::vector<std::string>{"1800000000123456789", "1", "2", "1",  //
                                            "100000000", "400000000", "2",         //
                                            "1000000000", "0", "1",                //
                                            "100000000", "400000000", "1"}));
}

TEST(RedisGcraCall, NoNowMeansRedisTime) {
  const std::array enforced{check("a", "k", gcra_params(1, kSecond))};
  std::vector<std::string> keys, args;
  gcra_script_call("bw", enforced, {}, std::nullopt, keys, args);
  EXPECT_EQ(args, (std::vector<std::string>{"", "1", "1", "0", "1000000000", "0", "1"}));
  gcra_script_call("bw", {}, {}, -5, keys, args);
  EXPECT_TRUE(keys.empty());
  EXPECT_EQ(args, (std::vector<std::string>{"0", "1", "0", "0"})) << "a negative now counts as 0";
}

TEST(RedisGcraCall, CostZeroIsOneAndHugeCostsAreCapped) {
  const GcraParams p = gcra_params(1, kSecond);
  const std::array enforced{check("a", "k", p, 0), check("a", "k", p, UINT64_MAX)};
  std::vector<std::string> keys, args;
  gcra_script_call("bw", enforced, {}, 0, keys, args);
  EXPECT_EQ(args[6], "1");
  EXPECT_EQ(args[9], "9007199254740992");
}

TEST(RedisGcraCall, CapacityIsClampedBelowTwoToThe53) {
  constexpr int64_t kDay = 86'400 * kSecond;
  const GcraParams day_burst_100 = gcra_params(100, 100 * kDay);  // capacity 100 days: exact
  const GcraParams year = gcra_params(1, 365 * kDay);             // T above the bound
  const GcraParams year_burst = gcra_params(10, 365 * kDay, 10);  // tau beyond the bound
  EXPECT_TRUE(redis_gcra_exact(day_burst_100));
  EXPECT_FALSE(redis_gcra_exact(year));
  EXPECT_FALSE(redis_gcra_exact(year_burst));
  const std::array enforced{check("a", "k", day_burst_100), check("b", "k", year),
                            check("c", "k", year_burst)};
  std::vector<std::string> keys, args;
  gcra_script_call("bw", enforced, {}, 0, keys, args);
  EXPECT_EQ(args[4], std::to_string(day_burst_100.emission_interval_ns));
  EXPECT_EQ(args[5], std::to_string(day_burst_100.burst_tolerance_ns));
  EXPECT_EQ(args[7], std::to_string(kRedisMaxCapacityNs));
  EXPECT_EQ(args[8], "0");
  EXPECT_EQ(args[10], std::to_string(year_burst.emission_interval_ns)) << "the rate is kept";
  EXPECT_EQ(args[11], std::to_string(kRedisMaxCapacityNs - year_burst.emission_interval_ns));
}

TEST(RedisGcraCall, BatchPutsEachGroupsSizesThenEveryKeyInOrder) {
  const GcraParams p = gcra_params(10, kSecond, 5);
  const std::array first_enforced{check("a", "k1", p)};
  const std::array second_enforced{check("a", "k2", p, 3), check("b", "k2", p)};
  const std::array second_shadow{check("s", "k2", p)};
  const std::array groups{GcraGroup{first_enforced, {}}, GcraGroup{second_enforced, second_shadow}};
  std::vector<std::string> keys, args;
  gcra_batch_call("bw", groups, std::nullopt, keys, args);
  EXPECT_EQ(keys, (std::vector<std::string>{"bw:rl:{k1}:a", "bw:rl:{k2}:a", "bw:rl:{k2}:b",
                                            "bw:rl:{k2}:s"}));
  EXPECT_EQ(args, (std::vector<std::string>{"", "2", "1", "0", "2", "1",    //
                                            "100000000", "400000000", "1",  //
                                            "100000000", "400000000", "3",  //
                                            "100000000", "400000000", "1",  //
                                            "100000000", "400000000", "1"}));
}

// ---- decoding -----------------------------------------------------------------------------

TEST(RedisGcraDecode, BatchReplySplitsIntoItsGroups) {
  std::array<LimitResult, 1> first{};
  std::array<LimitResult, 2> second{};
  const std::array<std::span<LimitResult>, 2> results{first, second};
  bool passed[2] = {true, true};
  std::string error;
  const Reply reply = integers({1, 1, 0, 4, 100, /* group 2 */ 0, 1, 0, 3, 0, 0, 50, 0, 400});
  ASSERT_TRUE(decode_gcra_batch_reply(reply, results, passed, error)) << error;
  EXPECT_TRUE(passed[0]);
  EXPECT_FALSE(passed[1]);
  EXPECT_TRUE(first[0].allowed);
  EXPECT_EQ(first[0].remaining, 4u);
  EXPECT_TRUE(second[0].allowed);
  EXPECT_EQ(second[0].remaining, 3u);
  EXPECT_FALSE(second[1].allowed);
  EXPECT_EQ(second[1].retry_after_ns, 50);
  EXPECT_EQ(second[1].reset_ns, 400);
}

TEST(RedisGcraDecode, BatchReplyOfTheWrongLengthIsRefused) {
  std::array<LimitResult, 1> first{};
  std::array<LimitResult, 1> second{};
  const std::array<std::span<LimitResult>, 2> results{first, second};
  bool passed[2] = {};
  std::string error;
  EXPECT_FALSE(decode_gcra_batch_reply(integers({1, 1, 0, 4, 100}), results, passed, error));
  EXPECT_NE(error.find("not an array of 10 integers"), std::string::npos) << error;
  EXPECT_FALSE(decode_gcra_batch_reply(integers({1, 1, 0, 4, 100, 2, 1, 0, 4, 100}), results,
                                       passed, error));
  EXPECT_EQ(error, "redis gcra script answered a verdict of 2");
}

TEST(RedisGcraDecode, GoodReply) {
  std::array<LimitResult, 3> results;
  std::string error;
  const auto passed =
      decode_gcra_reply(integers({0, 1, 0, 8, 200, 0, -1, 5, 0, 0, 700, 0, 1500}), results, error);
  ASSERT_TRUE(passed.has_value()) << error;
  EXPECT_FALSE(*passed);
  EXPECT_TRUE(results[0].allowed);
  EXPECT_EQ(results[0].remaining, 8u);
  EXPECT_EQ(results[0].reset_ns, 200);
  EXPECT_FALSE(results[1].allowed);
  EXPECT_TRUE(results[1].never());
  EXPECT_EQ(results[1].remaining, 5u);
  EXPECT_FALSE(results[2].allowed);
  EXPECT_EQ(results[2].retry_after_ns, 700);
  EXPECT_EQ(results[2].reset_ns, 1500);
}

TEST(RedisGcraDecode, EmptyGroupPasses) {
  std::string error;
  EXPECT_EQ(decode_gcra_reply(integers({1}), {}, error), std::optional<bool>(true)) << error;
}

struct BadReply {
  const char* why;
  Reply reply;
};

TEST(RedisGcraDecode, EveryMalformedReplyIsRefused) {
  const std::vector<BadReply> bad = {
      {"nil", Reply::nil()},
      {"error", Reply::error("ERR bulwark gcra: bad arguments")},
      {"status", Reply::status("OK")},
      {"integer", Reply::of_integer(1)},
      {"string", Reply::string("1")},
      {"too few", integers({1, 1, 0, 4})},
      {"too many", integers({1, 1, 0, 4, 100, 1, 0, 4, 100})},
      {"empty array", integers({})},
      {"string element",
       Reply::array({Reply::of_integer(1), Reply::of_integer(1), Reply::string("0"),
                     Reply::of_integer(4), Reply::of_integer(100)})},
      {"nil element", Reply::array({Reply::of_integer(1), Reply::of_integer(1), Reply::nil(),
                                    Reply::of_integer(4), Reply::of_integer(100)})},
      {"nested array", Reply::array({Reply::of_integer(1), integers({1, 0, 4, 100})})},
      {"verdict 2", integers({2, 1, 0, 4, 100})},
      {"verdict -1", integers({-1, 1, 0, 4, 100})},
      {"allowed 2", integers({1, 2, 0, 4, 100})},
      {"allowed -1", integers({1, -1, 0, 4, 100})},
      {"allowed with a retry", integers({1, 1, 5, 4, 100})},
      {"refused without a retry", integers({0, 0, 0, 4, 100})},
      {"retry -2", integers({0, 0, -2, 4, 100})},
      {"negative remaining", integers({1, 1, 0, -1, 100})},
      {"negative reset", integers({1, 1, 0, 4, -100})},
      {"min int", integers({0, 0, INT64_MIN, 0, 0})},
  };
  for (const BadReply& b : bad) {
    std::array<LimitResult, 1> results;
    std::string error;
    EXPECT_EQ(decode_gcra_reply(b.reply, results, error), std::nullopt) << b.why;
    EXPECT_FALSE(error.empty()) << b.why;
  }
}

TEST(RedisGcraDecode, ErrorReplySaysWhatRedisSaid) {
  std::array<LimitResult, 1> results;
  std::string error;
  EXPECT_EQ(decode_gcra_reply(Reply::error("WRONGTYPE Operation against a key"), results, error),
            std::nullopt);
  EXPECT_NE(error.find("WRONGTYPE"), std::string::npos) << error;
}

TEST(RedisGcraDecode, HugeArrayIsDescribedShortly) {
  std::vector<int64_t> many(10'000, 1);
  std::array<LimitResult, 1> results;
  std::string error;
  EXPECT_EQ(decode_gcra_reply(integers(many), results, error), std::nullopt);
  EXPECT_LT(error.size(), 300u) << error;
}

}  // namespace
}  // namespace bulwark::limit
