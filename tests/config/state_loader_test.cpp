// The `state` section: every accepted shape with the values it loads, and one row per
// mistake (exactly one error, on the right line and key, fix included, never the password).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "loader_test_support.hpp"

namespace bulwark::config {
namespace {

using testing::ErrorCase;
using testing::kValidTail;
using testing::load;
using testing::load_valid;

std::string section(const std::string& text) {
  return text + kValidTail;
}

TEST(StateSectionValid, AbsentMeansLocalState) {
  EXPECT_FALSE(load_valid(section("")).state.has_value());
}

TEST(StateSectionValid, RedisAloneKeepsTheDefaults) {
  const Config config = load_valid(section("state:\n  redis: redis://127.0.0.1:6379/0\n"));
  ASSERT_TRUE(config.state.has_value());
  EXPECT_EQ(config.state->redis_url, "redis://127.0.0.1:6379/0");
  EXPECT_EQ(config.state->on_failure, StateSettings::OnFailure::fail_open);
  EXPECT_EQ(config.state->prefix, "bulwark");
  EXPECT_EQ(config.state->cache_max_object_bytes, 256u * 1024);
  EXPECT_EQ(config.state->line, 1u);
}

TEST(StateSectionValid, EveryKey) {
  const Config config = load_valid(
      "log: {level: info}\n" +
      section("state:\n  redis: redis://app:s3cret@redis.internal:6380/2?command_timeout=100ms\n"
              "  on_failure: fail_closed\n  prefix: bulwark-eu.1\n  cache_max_object: 64KiB\n"));
  ASSERT_TRUE(config.state.has_value());
  EXPECT_EQ(config.state->redis_url,
            "redis://app:s3cret@redis.internal:6380/2?command_timeout=100ms");
  EXPECT_EQ(config.state->on_failure, StateSettings::OnFailure::fail_closed);
  EXPECT_EQ(config.state->prefix, "bulwark-eu.1");
  EXPECT_EQ(config.state->cache_max_object_bytes, 64u * 1024);
  EXPECT_EQ(config.state->line, 2u);
}

TEST(StateSectionValid, FlowMapping) {
  const Config config =
      load_valid(section("state: {redis: 'redis://[::1]:6379', on_failure: fail_open}\n"));
  ASSERT_TRUE(config.state.has_value());
  EXPECT_EQ(config.state->redis_url, "redis://[::1]:6379");
}

class StateError : public ::testing::TestWithParam<ErrorCase> {};
TEST_P(StateError, Reported) {
  testing::expect_single_error(GetParam());
}

INSTANTIATE_TEST_SUITE_P(
    Section, StateError,
    ::testing::Values(
        ErrorCase{"MissingRedis",
                  section("state:\n  on_failure: fail_open\n"),
                  1,
                  "state",
                  {"missing 'redis'", "redis: redis://127.0.0.1:6379/0",
                   "leave the whole state section out"}},
        ErrorCase{"EmptySection", section("state: {}\n"), 1, "state", {"missing 'redis'"}},
        ErrorCase{"NotAMapping",
                  section("state: redis://127.0.0.1\n"),
                  1,
                  "state",
                  {"expected a mapping"}},
        ErrorCase{"UnknownKey",
                  section("state:\n  redis: redis://127.0.0.1\n  on_falure: fail_open\n"),
                  3,
                  "state.on_falure",
                  {"unknown key 'on_falure'", "did you mean 'on_failure'?"}},
        ErrorCase{"EmptyUrl",
                  section("state:\n  redis: ''\n"),
                  2,
                  "state.redis",
                  {"redis://127.0.0.1:6379/0"}},
        ErrorCase{"UrlNotAString", section("state:\n  redis: [a]\n"), 2, "state.redis", {}},
        ErrorCase{"WrongScheme",
                  section("state:\n  redis: http://127.0.0.1:6379\n"),
                  2,
                  "state.redis",
                  {"redis URL", "the form is redis://"}},
        ErrorCase{"TlsNotYet",
                  section("state:\n  redis: rediss://127.0.0.1:6379\n"),
                  2,
                  "state.redis",
                  {"rediss"}},
        ErrorCase{"PortOutOfRange",
                  section("state:\n  redis: redis://127.0.0.1:99999\n"),
                  2,
                  "state.redis",
                  {"99999", "out of range"}},
        ErrorCase{"DbOutOfRange",
                  section("state:\n  redis: redis://127.0.0.1:6379/16\n"),
                  2,
                  "state.redis",
                  {"16"}},
        ErrorCase{"BadTimeout",
                  section("state:\n  redis: redis://127.0.0.1?command_timeout=soon\n"),
                  2,
                  "state.redis",
                  {"command_timeout"}},
        ErrorCase{"UnknownPolicyWithHint",
                  section("state:\n  redis: redis://127.0.0.1\n  on_failure: closed\n"),
                  3,
                  "state.on_failure",
                  {"unknown failure policy 'closed'", "did you mean 'fail_closed'?",
                   "fail_open, fail_closed"}},
        ErrorCase{"PolicyTypo",
                  section("state:\n  redis: redis://127.0.0.1\n  on_failure: fail_opn\n"),
                  3,
                  "state.on_failure",
                  {"did you mean 'fail_open'?"}},
        ErrorCase{"PrefixWithBrace",
                  section("state:\n  redis: redis://127.0.0.1\n  prefix: 'a{b}'\n"),
                  3,
                  "state.prefix",
                  {"only letters, digits", "like bulwark-eu"}},
        ErrorCase{"PrefixWithSpace",
                  section("state:\n  redis: redis://127.0.0.1\n  prefix: 'a b'\n"),
                  3,
                  "state.prefix",
                  {"only letters, digits"}},
        ErrorCase{"PrefixEmpty",
                  section("state:\n  redis: redis://127.0.0.1\n  prefix: ''\n"),
                  3,
                  "state.prefix",
                  {"a key prefix like bulwark"}},
        ErrorCase{
            "PrefixTooLong",
            section("state:\n  redis: redis://127.0.0.1\n  prefix: " + std::string(65, 'p') + "\n"),
            3,
            "state.prefix",
            {"at most 64"}},
        ErrorCase{"CacheMaxObjectTooSmall",
                  section("state:\n  redis: redis://127.0.0.1\n  cache_max_object: 10B\n"),
                  3,
                  "state.cache_max_object",
                  {"at least", "256KiB"}},
        ErrorCase{"CacheMaxObjectNotASize",
                  section("state:\n  redis: redis://127.0.0.1\n  cache_max_object: big\n"),
                  3,
                  "state.cache_max_object",
                  {}}),
    testing::error_case_name);

// A URL that is wrong somewhere else than in its password never repeats the password.
TEST(StateSecrets, PasswordNeverInTheMessage) {
  for (const char* url :
       {"redis://app:Sup3rSecret@127.0.0.1:99999/0", "redis://:Sup3rSecret@127.0.0.1:6379/99",
        "redis://app:Sup3rSecret@127.0.0.1:6379/0?command_timeout=x"}) {
    const LoadResult result = load(section(std::string("state:\n  redis: '") + url + "'\n"));
    ASSERT_EQ(result.errors.size(), 1u) << url;
    EXPECT_THAT(result.errors.front().to_string(),
                ::testing::Not(::testing::HasSubstr("Sup3rSecret")))
        << url;
  }
}

}  // namespace
}  // namespace bulwark::config
