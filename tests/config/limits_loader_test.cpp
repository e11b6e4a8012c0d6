// The `limits` section: every value read, the defaults, and one row per mistake a user can
// make in it (each file gives exactly one error, on the right line and key, with the hint that
// says the fix). A route's `limits` and `limit_headers` keys: route_limits_test.cpp.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "loader_test_support.hpp"
#include "support/case_name.hpp"

namespace bulwark::config {
namespace {

using namespace std::chrono_literals;
using testing::all_errors;
using ::testing::ElementsAre;
using testing::ErrorCase;
using ::testing::HasSubstr;
using testing::kValidTail;
using testing::load;
using testing::load_valid;
using ::testing::Pair;
using testing_support::case_name;

std::string with_tail(const std::string& head) {
  return head + kValidTail;
}

LimitKeyPart client_ip() {
  return {LimitKeyPart::Kind::client_ip, ""};
}
LimitKeyPart route() {
  return {LimitKeyPart::Kind::route, ""};
}
LimitKeyPart claim(const char* name) {
  return {LimitKeyPart::Kind::claim, name};
}
LimitKeyPart header(const char* name) {
  return {LimitKeyPart::Kind::header, name};
}

// Every key of the section, none at its default, in four limits.
constexpr char kFullLimits[] = R"(limits:
  per_ip:
    rate: 100/s
    burst: 200
    key: client_ip
    mode: enforce
    max_keys: 500000
  per_user:
    rate: 600/m
    key: claim:sub
    mode: shadow
    missing: reject
    cost: {default: 2, POST: 5, DELETE: 10}
  per_tenant_route:
    rate: 10000/h
    key: [claim:realm.tenant, route, header:X-Api-Key]
    missing: skip
    cost: 3
  daily:
    rate: 100000/d
    key: [header:x-api-key]
    missing: client_ip
)";

const RateLimit& limit_at(const Config& config, size_t i) {
  return config.limits.at(i);
}

TEST(LimitsLoaderValid, ReadsLimitsInFileOrder) {
  const Config config = load_valid(with_tail(kFullLimits));
  ASSERT_EQ(config.limits.size(), 4u);
  EXPECT_EQ(limit_at(config, 0).name, "per_ip");
  EXPECT_EQ(limit_at(config, 0).line, 2u);
  EXPECT_EQ(limit_at(config, 1).name, "per_user");
  EXPECT_EQ(limit_at(config, 1).line, 8u);
  EXPECT_EQ(limit_at(config, 2).name, "per_tenant_route");
  EXPECT_EQ(limit_at(config, 3).name, "daily");
  EXPECT_EQ(config.find_limit("per_user"), &limit_at(config, 1));
  EXPECT_EQ(config.find_limit("per_usr"), nullptr);
}

TEST(LimitsLoaderValid, ReadsRateBurstKeyModeAndMaxKeys) {
  const Config config = load_valid(with_tail(kFullLimits));
  const RateLimit& per_ip = limit_at(config, 0);
  EXPECT_EQ(per_ip.count, 100u);
  EXPECT_EQ(per_ip.period, 1s);
  EXPECT_EQ(per_ip.burst, 200u);
  EXPECT_EQ(per_ip.effective_burst(), 200u);
  EXPECT_THAT(per_ip.key, ElementsAre(client_ip()));
  EXPECT_EQ(per_ip.mode, RateLimit::Mode::enforce);
  EXPECT_EQ(per_ip.max_keys, 500'000u);
}

TEST(LimitsLoaderValid, ReadsShadowMissingAndMethodCosts) {
  const Config config = load_valid(with_tail(kFullLimits));
  const RateLimit& per_user = limit_at(config, 1);
  EXPECT_EQ(per_user.count, 600u);
  EXPECT_EQ(per_user.period, 1min);
  EXPECT_EQ(per_user.burst, 0u);  // not given: the rate's count
  EXPECT_EQ(per_user.effective_burst(), 600u);
  EXPECT_THAT(per_user.key, ElementsAre(claim("sub")));
  EXPECT_EQ(per_user.mode, RateLimit::Mode::shadow);
  EXPECT_EQ(per_user.missing, RateLimit::Missing::reject);
  EXPECT_EQ(per_user.cost, 2u);
  EXPECT_THAT(per_user.method_costs, ElementsAre(Pair("POST", 5u), Pair("DELETE", 10u)));
}

TEST(LimitsLoaderValid, ReadsCompositeKeysInOrder) {
  const Config config = load_valid(with_tail(kFullLimits));
  const RateLimit& composite = limit_at(config, 2);
  EXPECT_EQ(composite.count, 10'000u);
  EXPECT_EQ(composite.period, 1h);
  EXPECT_THAT(composite.key, ElementsAre(claim("realm.tenant"), route(), header("X-Api-Key")));
  EXPECT_EQ(composite.missing, RateLimit::Missing::skip);
  EXPECT_EQ(composite.cost, 3u);
  EXPECT_TRUE(composite.method_costs.empty());
  const RateLimit& daily = limit_at(config, 3);
  EXPECT_EQ(daily.period, 24h);
  EXPECT_THAT(daily.key, ElementsAre(header("x-api-key")));  // as written
  EXPECT_EQ(daily.missing, RateLimit::Missing::client_ip);
}

TEST(LimitsLoaderDefaults, NoSectionNoLimits) {
  EXPECT_TRUE(load_valid(with_tail("")).limits.empty());
}

TEST(LimitsLoaderDefaults, EmptySectionIsFine) {
  EXPECT_TRUE(load_valid(with_tail("limits:\n")).limits.empty());
  EXPECT_TRUE(load_valid(with_tail("limits: {}\n")).limits.empty());
}

TEST(LimitsLoaderDefaults, OnlyRateAndKey) {
  const Config config = load_valid(with_tail("limits:\n  per_ip: {rate: 1/s, key: client_ip}\n"));
  const RateLimit& limit = limit_at(config, 0);
  EXPECT_EQ(limit.burst, 0u);
  EXPECT_EQ(limit.effective_burst(), 1u);
  EXPECT_EQ(limit.mode, RateLimit::Mode::enforce);
  EXPECT_EQ(limit.missing, RateLimit::Missing::client_ip);
  EXPECT_EQ(limit.cost, 1u);
  EXPECT_TRUE(limit.method_costs.empty());
  EXPECT_EQ(limit.max_keys, 100'000u);
}

// The tail's route names no limit: a limit that no route uses is allowed.
TEST(LimitsLoaderValues, UnusedLimitIsFine) {
  EXPECT_EQ(load_valid(with_tail(kFullLimits)).routes.at(0).limits.size(), 0u);
}

TEST(LimitsLoaderValues, OneKeyPartAloneOrInAList) {
  const auto key = [](const std::string& value) {
    return load_valid(with_tail("limits: {l: {rate: 1/s, key: " + value + "}}")).limits.at(0).key;
  };
  EXPECT_THAT(key("route"), ElementsAre(route()));
  EXPECT_THAT(key("[route]"), ElementsAre(route()));
  EXPECT_THAT(key("[client_ip, route]"), ElementsAre(client_ip(), route()));
  EXPECT_THAT(key("[header:X-Api-Key, header:X-Tenant]"),
              ElementsAre(header("X-Api-Key"), header("X-Tenant")));
}

// Only the first ':' separates the kind: namespaced claims hold colons of their own.
TEST(LimitsLoaderValues, ClaimNamesMayHoldColons) {
  const Config config =
      load_valid(with_tail("limits: {l: {rate: 1/s, key: \"claim:https://example.com/tenant\"}}"));
  EXPECT_THAT(limit_at(config, 0).key, ElementsAre(claim("https://example.com/tenant")));
}

// GCRA spaces requests period/count apart: down to 1 ns, and no finer.
TEST(LimitsLoaderValues, HighestRatesPerPeriod) {
  const auto count = [](const std::string& rate) {
    return load_valid(with_tail("limits: {l: {rate: " + rate + ", key: client_ip}}"))
        .limits.at(0)
        .count;
  };
  EXPECT_EQ(count("1000000000/s"), 1'000'000'000u);
  EXPECT_EQ(count("60000000000/m"), 60'000'000'000u);
  EXPECT_EQ(count("86400000000000/d"), 86'400'000'000'000u);
}

TEST(LimitsLoaderValues, NumberBoundaries) {
  const auto limit = [](const std::string& fields) {
    return load_valid(with_tail("limits: {l: {rate: 1/s, key: client_ip, " + fields + "}}"))
        .limits.at(0);
  };
  EXPECT_EQ(limit("burst: 1").burst, 1u);
  EXPECT_EQ(limit("burst: 1000000000").burst, 1'000'000'000u);
  EXPECT_EQ(limit("max_keys: 1").max_keys, 1u);
  EXPECT_EQ(limit("max_keys: 100000000").max_keys, 100'000'000u);
  EXPECT_EQ(limit("burst: 1000000, cost: 1000000").cost, 1'000'000u);
  EXPECT_EQ(limit("burst: 5, cost: {default: 5, POST: 5}").cost, 5u);  // equal to the burst
}

TEST(LimitsLoaderValues, MethodCostsWithoutDefaultKeepACostOfOne) {
  const Config config =
      load_valid(with_tail("limits: {l: {rate: 10/s, key: client_ip, cost: {POST: 4}}}"));
  EXPECT_EQ(limit_at(config, 0).cost, 1u);
  EXPECT_THAT(limit_at(config, 0).method_costs, ElementsAre(Pair("POST", 4u)));
}

TEST(LimitsLoaderValues, TheExampleConfigsLimits) {
  const Config config = load_valid(with_tail(R"(limits:
  per_ip:
    rate: 100/s
    burst: 200
    key: client_ip
  per_user:
    rate: 600/m
    key: claim:sub
    mode: enforce                  # or shadow
)"));
  ASSERT_EQ(config.limits.size(), 2u);
  EXPECT_EQ(limit_at(config, 0).burst, 200u);
  EXPECT_THAT(limit_at(config, 1).key, ElementsAre(claim("sub")));
}

// --- Mistakes in the section ----------------------------------------------------------------

class LimitError : public ::testing::TestWithParam<ErrorCase> {};
TEST_P(LimitError, Reported) {
  testing::expect_single_error(GetParam());
}

// One limit `per_ip` whose body is `body` (lines indented by four spaces), from line 3.
std::string limit(const std::string& body) {
  return with_tail("limits:\n  per_ip:\n" + body);
}

constexpr char kRate[] = "    rate: 100/s\n";
constexpr char kKey[] = "    key: client_ip\n";
constexpr char kClaimKey[] = "    key: claim:sub\n";

// A limit with rate and key on lines 3 and 4, and `more` from line 5.
std::string with(const std::string& more) {
  return limit(std::string(kRate) + kKey + more);
}

// The same keyed on a claim, so that `missing` applies.
std::string claim_keyed(const std::string& more) {
  return limit(std::string(kRate) + kClaimKey + more);
}

std::string at(const char* key) {
  return std::string("limits.per_ip.") + key;
}

INSTANTIATE_TEST_SUITE_P(
    Loader, LimitError,
    ::testing::Values(
        ErrorCase{"SectionNotAMapping",
                  with_tail("limits: [per_ip]\n"),
                  1,
                  "limits",
                  {"expected a mapping of limit names, like per_ip: {rate: 100/s, key: "
                   "client_ip}",
                   "got a list"}},
        ErrorCase{"LimitNotAMapping",
                  with_tail("limits:\n  per_ip: 100/s\n"),
                  2,
                  "limits.per_ip",
                  {"expected a mapping with the keys rate, burst, key, mode, missing, cost, "
                   "max_keys",
                   "got '100/s'"}},
        ErrorCase{"NameWithSpace",
                  with_tail("limits:\n  per ip:\n" + std::string(kRate) + kKey),
                  2,
                  "limits.per ip",
                  {"limit names may hold only letters, digits, '_', '.' and '-'"}},
        ErrorCase{"NameSetTwice",
                  with_tail("limits:\n  a: {rate: 1/s, key: route}\n  a: {rate: 2/s, key: "
                            "route}\n"),
                  3,
                  "limits.a",
                  {"set twice", "first is at line 2"}},
        ErrorCase{"UnknownKeyWithHint",
                  with("    brust: 10\n"),
                  5,
                  at("brust"),
                  {"unknown key 'brust'", "did you mean 'burst'?"}},
        ErrorCase{"UnknownKeyListsAllowed",
                  with("    window: 1s\n"),
                  5,
                  at("window"),
                  {"the keys allowed here are rate, burst, key, mode, missing, cost, max_keys"}},
        ErrorCase{"RateMissing",
                  limit(kKey),
                  2,
                  at("rate"),
                  {"missing: give the rate this limit allows, like rate: 100/s"}},
        ErrorCase{"RateMisspelledIsNotAlsoMissing",
                  limit("    rat: 100/s\n" + std::string(kKey)),
                  3,
                  at("rat"),
                  {"did you mean 'rate'?"}},
        ErrorCase{"KeyMissing",
                  limit(kRate),
                  2,
                  at("key"),
                  {"missing: say what the limit counts requests per, like key: client_ip"}},
        ErrorCase{"KeyMisspelledIsNotAlsoMissing",
                  limit(std::string(kRate) + "    keys: client_ip\n"),
                  4,
                  at("keys"),
                  {"did you mean 'key'?"}},
        ErrorCase{"RateWithoutPeriod",
                  limit("    rate: 100\n" + std::string(kKey)),
                  3,
                  at("rate"),
                  {"expected a rate like 20/m", "'100/s'"}},
        ErrorCase{"RateZero",
                  limit("    rate: 0/s\n" + std::string(kKey)),
                  3,
                  at("rate"),
                  {"the count must be at least 1"}},
        ErrorCase{"RateNegative",
                  limit("    rate: -5/s\n" + std::string(kKey)),
                  3,
                  at("rate"),
                  {"is negative"}},
        ErrorCase{"RateUnknownPeriod",
                  limit("    rate: 100/w\n" + std::string(kKey)),
                  3,
                  at("rate"),
                  {"expected a rate like 20/m"}},
        ErrorCase{"RateFinerThanANanosecond",
                  limit("    rate: 1000000001/s\n" + std::string(kKey)),
                  3,
                  at("rate"),
                  {"'1000000001/s' allows more than one request per nanosecond",
                   "the most a rate can allow is 1000000000/s"}},
        ErrorCase{"RateFinerThanANanosecondPerDay",
                  limit("    rate: 86400000000001/d\n" + std::string(kKey)),
                  3,
                  at("rate"),
                  {"the most a rate can allow is 86400000000000/d"}},
        ErrorCase{"RateTooLargeForAWholeNumber",
                  limit("    rate: 99999999999999999999999/s\n" + std::string(kKey)),
                  3,
                  at("rate"),
                  {"too large"}},
        ErrorCase{"RateAList",
                  limit("    rate: [100/s]\n" + std::string(kKey)),
                  3,
                  at("rate"),
                  {"expected a rate like 20/m, got a list"}},
        ErrorCase{"BurstZero",
                  with("    burst: 0\n"),
                  5,
                  at("burst"),
                  {"expected a whole number from 1 to 1000000000, got '0'"}},
        ErrorCase{"BurstTooLarge",
                  with("    burst: 1000000001\n"),
                  5,
                  at("burst"),
                  {"from 1 to 1000000000"}},
        ErrorCase{"BurstFraction",
                  with("    burst: 1.5\n"),
                  5,
                  at("burst"),
                  {"expected a whole number", "got '1.5'"}},
        ErrorCase{"BurstNegative", with("    burst: -1\n"), 5, at("burst"), {"got '-1'"}},
        ErrorCase{"KeyEmptyList",
                  limit(std::string(kRate) + "    key: []\n"),
                  4,
                  at("key"),
                  {"at least one key part is required, like key: client_ip or key: [claim:sub, "
                   "route]",
                   "(parts: client_ip, route, claim:NAME, header:NAME)"}},
        ErrorCase{"KeyNothing",
                  limit(std::string(kRate) + "    key:\n"),
                  4,
                  at("key"),
                  {"at least one key part is required"}},
        ErrorCase{"KeyPartDashWithHint",
                  limit(std::string(kRate) + "    key: client-ip\n"),
                  4,
                  at("key"),
                  {"unknown key part 'client-ip'", "did you mean 'client_ip'?",
                   "(key parts: client_ip, route, claim:NAME, header:NAME)"}},
        ErrorCase{"KeyPartIpMeansClientIp",
                  limit(std::string(kRate) + "    key: ip\n"),
                  4,
                  at("key"),
                  {"unknown key part 'ip'", "did you mean 'client_ip'?"}},
        ErrorCase{"KeyPartRemoteAddrMeansClientIp",
                  limit(std::string(kRate) + "    key: remote_addr\n"),
                  4,
                  at("key"),
                  {"did you mean 'client_ip'?"}},
        ErrorCase{"KeyPartCaseSensitive",
                  limit(std::string(kRate) + "    key: Client_IP\n"),
                  4,
                  at("key"),
                  {"unknown key part 'Client_IP'", "did you mean 'client_ip'?"}},
        ErrorCase{"KeyPartClaimsWithHint",
                  limit(std::string(kRate) + "    key: claims:sub\n"),
                  4,
                  at("key"),
                  {"unknown key part 'claims:sub'", "did you mean 'claim:sub'?"}},
        ErrorCase{"KeyPartHeadersWithHint",
                  limit(std::string(kRate) + "    key: [route, headers:X-Api-Key]\n"),
                  4,
                  at("key[1]"),
                  {"did you mean 'header:X-Api-Key'?"}},
        ErrorCase{"KeyPartUnknownListsParts",
                  limit(std::string(kRate) + "    key: sub\n"),
                  4,
                  at("key"),
                  {"unknown key part 'sub' (key parts: client_ip, route, claim:NAME, "
                   "header:NAME)"}},
        ErrorCase{"KeyPartClaimWithoutName",
                  limit(std::string(kRate) + "    key: claim\n"),
                  4,
                  at("key"),
                  {"claim needs a name after ':', like claim:sub"}},
        ErrorCase{"KeyPartClaimEmptyName",
                  limit(std::string(kRate) + "    key: \"claim:\"\n"),
                  4,
                  at("key"),
                  {"claim: needs a claim name after ':', like claim:sub"}},
        ErrorCase{"KeyPartHeaderEmptyName",
                  limit(std::string(kRate) + "    key: [\"header:\"]\n"),
                  4,
                  at("key[0]"),
                  {"header: needs a header name after ':', like header:X-Api-Key"}},
        ErrorCase{"KeyPartClaimPathWithEmptySegment",
                  limit(std::string(kRate) + "    key: claim:realm..tenant\n"),
                  4,
                  at("key"),
                  {"a dotted claim path needs a name between every two dots"}},
        ErrorCase{"KeyPartHeaderNotAToken",
                  limit(std::string(kRate) + "    key: \"header:X Api\"\n"),
                  4,
                  at("key"),
                  {"'X Api' is not a header name", "RFC 9110 token"}},
        ErrorCase{"KeyPartHeaderXForwardedFor",
                  limit(std::string(kRate) + "    key: header:X-Forwarded-For\n"),
                  4,
                  at("key"),
                  {"any client can write 'X-Forwarded-For'", "key on client_ip",
                   "server.trusted_proxies"}},
        ErrorCase{"KeyPartHeaderForwardedAnyCase",
                  limit(std::string(kRate) + "    key: header:forwarded\n"),
                  4,
                  at("key"),
                  {"any client can write 'forwarded'"}},
        ErrorCase{"KeyPartSpaceAfterColonReadsAsAMapping",
                  limit(std::string(kRate) + "    key: [claim: sub]\n"),
                  4,
                  at("key[0]"),
                  {"write 'claim:sub' with no space after ':'", "YAML reads a mapping"}},
        ErrorCase{"KeyPartQuotedSpaceAfterColon",
                  limit(std::string(kRate) + "    key: \"claim: sub\"\n"),
                  4,
                  at("key"),
                  {"remove the space after ':': write 'claim:sub'"}},
        ErrorCase{"KeyPartClientIpWithAName",
                  limit(std::string(kRate) + "    key: client_ip:v4\n"),
                  4,
                  at("key"),
                  {"client_ip takes no name: write client_ip"}},
        ErrorCase{"KeyPartListedTwice",
                  limit(std::string(kRate) + "    key: [claim:sub, route, claim:sub]\n"),
                  4,
                  at("key[2]"),
                  {"'claim:sub' is listed twice"}},
        ErrorCase{"KeyPartHeaderListedTwiceInAnyCase",
                  limit(std::string(kRate) +
                        "    key:\n      - header:X-Api-Key\n      - header:x-api-key\n"),
                  6,
                  at("key[1]"),
                  {"'header:x-api-key' is listed twice"}},
        ErrorCase{"KeyPartEmptyString",
                  limit(std::string(kRate) + "    key: [\"\"]\n"),
                  4,
                  at("key[0]"),
                  {"expected a key part like client_ip or claim:sub, got an empty string"}},
        ErrorCase{"KeyAMapping",
                  limit(std::string(kRate) + "    key: {a: 1, b: 2}\n"),
                  4,
                  at("key"),
                  {"expected a key part like client_ip or claim:sub, got a mapping"}},
        ErrorCase{"ModeUnknownWithHint",
                  with("    mode: shadwo\n"),
                  5,
                  at("mode"),
                  {"unknown mode 'shadwo'", "did you mean 'shadow'?", "(one of enforce, shadow)"}},
        ErrorCase{"ModeDryRunMeansShadow",
                  with("    mode: dry_run\n"),
                  5,
                  at("mode"),
                  {"did you mean 'shadow'?"}},
        ErrorCase{"ModeOffListsModes",
                  with("    mode: off\n"),
                  5,
                  at("mode"),
                  {"unknown mode 'off' (one of enforce, shadow)"}},
        ErrorCase{"ModeAList",
                  with("    mode: [shadow]\n"),
                  5,
                  at("mode"),
                  {"expected one of enforce, shadow, got a list"}},
        ErrorCase{"MissingUnknownWithHint",
                  claim_keyed("    missing: rejct\n"),
                  5,
                  at("missing"),
                  {"unknown missing policy 'rejct'", "did you mean 'reject'?",
                   "(one of reject, skip, client_ip)"}},
        ErrorCase{"MissingDenyMeansReject",
                  claim_keyed("    missing: deny\n"),
                  5,
                  at("missing"),
                  {"did you mean 'reject'?"}},
        ErrorCase{"MissingAllowMeansSkip",
                  claim_keyed("    missing: allow\n"),
                  5,
                  at("missing"),
                  {"did you mean 'skip'?"}},
        ErrorCase{"MissingWithAClientIpKey",
                  with("    missing: reject\n"),
                  5,
                  at("missing"),
                  {"missing has no effect: a request always has this key (client_ip)",
                   "only a claim:NAME or header:NAME part can be missing; remove it"}},
        ErrorCase{"MissingWithAClientIpAndRouteKey",
                  limit(std::string(kRate) + "    missing: skip\n    key: [client_ip, route]\n"),
                  4,
                  at("missing"),
                  {"a request always has this key (client_ip, route)"}},
        ErrorCase{"MissingWithABrokenKeyIsNotEchoed",
                  limit(std::string(kRate) + "    key: [client_ip, claims:sub]\n" +
                        "    missing: reject\n"),
                  4,
                  at("key[1]"),
                  {"did you mean 'claim:sub'?"}},
        ErrorCase{"CostZero",
                  with("    cost: 0\n"),
                  5,
                  at("cost"),
                  {"expected a whole number from 1 to 1000000, got '0'"}},
        ErrorCase{
            "CostTooLarge", with("    cost: 1000001\n"), 5, at("cost"), {"from 1 to 1000000"}},
        ErrorCase{"CostAList",
                  with("    cost: [1, 5]\n"),
                  5,
                  at("cost"),
                  {"expected a whole number from 1 to 1000000, or a mapping of methods to costs "
                   "like {default: 1, POST: 5}, got a list"}},
        ErrorCase{"CostEmptyMapping",
                  with("    cost: {}\n"),
                  5,
                  at("cost"),
                  {"an empty mapping sets no cost: leave cost out for a cost of 1"}},
        ErrorCase{"CostMethodLowerCase",
                  with("    cost: {post: 5}\n"),
                  5,
                  at("cost.post"),
                  {"methods are case-sensitive: write 'POST'"}},
        ErrorCase{"CostDefaultInCapitals",
                  with("    cost: {Default: 2}\n"),
                  5,
                  at("cost.Default"),
                  {"write default in lower case"}},
        ErrorCase{"CostMethodNotAMethodName",
                  with("    cost: {\"GET /\": 2}\n"),
                  5,
                  at("cost.GET /"),
                  {"'GET /' is not a method name"}},
        ErrorCase{"CostMethodZeroOnItsLine",
                  with("    cost:\n      default: 1\n      POST: 0\n"),
                  7,
                  at("cost.POST"),
                  {"expected a whole number from 1 to 1000000, got '0'"}},
        ErrorCase{"CostMethodSetTwice",
                  with("    cost:\n      POST: 5\n      POST: 6\n"),
                  7,
                  at("cost.POST"),
                  {"set twice", "first is at line 6"}},
        ErrorCase{"CostOverBurst",
                  with("    burst: 5\n    cost: 10\n"),
                  6,
                  at("cost"),
                  {"a cost of 10 is more than the burst of 5: such requests could never pass",
                   "raise burst to at least 10, or lower the cost"}},
        ErrorCase{"CostOverTheDefaultBurst",
                  limit("    rate: 5/s\n" + std::string(kKey) + "    cost: 6\n"),
                  5,
                  at("cost"),
                  {"a cost of 6 is more than the burst of 5 (the rate's count, as burst is not "
                   "set)"}},
        ErrorCase{
            "MethodCostOverBurst",
            with("    burst: 20\n    cost:\n      default: 1\n      DELETE: 50\n"),
            8,
            at("cost.DELETE"),
            {"a cost of 50 for DELETE is more than the burst of 20", "raise burst to at least 50"}},
        ErrorCase{"DefaultCostOverBurstInAMapping",
                  with("    burst: 2\n    cost: {default: 3}\n"),
                  6,
                  at("cost.default"),
                  {"a cost of 3 is more than the burst of 2"}},
        ErrorCase{"CostWithABadBurstIsNotEchoed",
                  with("    burst: 0\n    cost: 10\n"),
                  5,
                  at("burst"),
                  {"from 1 to 1000000000"}},
        ErrorCase{"MaxKeysZero",
                  with("    max_keys: 0\n"),
                  5,
                  at("max_keys"),
                  {"expected a whole number from 1 to 100000000, got '0'"}},
        ErrorCase{"MaxKeysTooLarge",
                  with("    max_keys: 100000001\n"),
                  5,
                  at("max_keys"),
                  {"from 1 to 100000000"}}),
    case_name<ErrorCase>);

TEST(LimitErrors, EveryLimitIsChecked) {
  const LoadResult result = load(with_tail(R"(limits:
  a:
    rate: 10/x
    key: client_ip
  b:
    rate: 1/s
    key: [route, ip]
  c: {rate: 1/s}
)"));
  std::vector<std::pair<unsigned, std::string>> where;
  for (const ConfigError& error : result.errors) where.emplace_back(error.line, error.key);
  EXPECT_THAT(where, ElementsAre(Pair(3u, "limits.a.rate"), Pair(7u, "limits.b.key[1]"),
                                 Pair(8u, "limits.c.key")))
      << all_errors(result);
}

TEST(LimitErrors, MissingRateAndKeyAreBothReported) {
  const LoadResult result = load(with_tail("limits:\n  per_ip: {mode: shadow}\n"));
  ASSERT_EQ(result.errors.size(), 2u) << all_errors(result);
  EXPECT_EQ(result.errors[0].key, "limits.per_ip.rate");
  EXPECT_EQ(result.errors[1].key, "limits.per_ip.key");
  EXPECT_THAT(result.errors[1].message, HasSubstr("missing"));
}

}  // namespace
}  // namespace bulwark::config
