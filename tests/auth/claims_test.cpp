#include "auth/claims.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <initializer_list>
#include <optional>
#include <ostream>
#include <string>
#include <utility>

#include "auth_test_support.hpp"

namespace bulwark::auth {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using testing_support::kNow;
using testing_support::now_plus;

constexpr std::string_view kIssuer = "https://issuer.example";

ClaimsPolicy default_policy() {
  ClaimsPolicy policy;
  policy.issuer = std::string(kIssuer);
  policy.audiences = {"api", "admin-api"};
  return policy;  // require_exp, leeway 30 s, no max_lifetime
}

// A valid claims set, issued 10 s ago, living 5 minutes, with members changed or removed.
std::string claims(std::initializer_list<std::pair<std::string_view, json::value>> changes = {},
                   std::initializer_list<std::string_view> removed = {}) {
  json::object c{{"iss", kIssuer},   {"aud", "api"},      {"sub", "alice"},
                 {"iat", kNow - 10}, {"exp", kNow + 300}, {"scope", "read write"}};
  for (const auto& [name, value] : changes) c[name] = value;
  for (auto name : removed) c.erase(name);
  return json::serialize(c);
}

ClaimsPolicy policy_with(void (*change)(ClaimsPolicy&)) {
  ClaimsPolicy policy = default_policy();
  change(policy);
  return policy;
}

struct ClaimsCase {
  std::string name;
  std::string payload;
  ClaimsPolicy policy;
  std::optional<AuthFailure> reason;  // nullopt: accepted
  int64_t now_offset = 0;
};
void PrintTo(const ClaimsCase& c, std::ostream* os) {
  *os << c.name;
}

class Claims : public testing::TestWithParam<ClaimsCase> {};

TEST_P(Claims, Verdict) {
  const auto& c = GetParam();
  auto result = validate_claims(c.payload, c.policy, now_plus(c.now_offset));
  if (!c.reason) {
    EXPECT_TRUE(result.ok()) << reason_name(result.error().reason) << ": " << result.error().detail;
  } else {
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().reason, *c.reason) << result.error().detail;
    EXPECT_FALSE(result.error().detail.empty());
  }
}

std::string case_name(const testing::TestParamInfo<ClaimsCase>& info) {
  return info.param.name;
}

const ClaimsPolicy kPolicy = default_policy();

INSTANTIATE_TEST_SUITE_P(
    Accepted, Claims,
    testing::Values(
        ClaimsCase{"Typical", claims(), kPolicy, std::nullopt},
        ClaimsCase{"AudArrayWithOneConfigured",
                   claims({{"aud", json::array{"other", "admin-api"}}}), kPolicy, std::nullopt},
        ClaimsCase{"NoIatNoNbf", claims({}, {"iat"}), kPolicy, std::nullopt},
        ClaimsCase{"FractionalExp", claims({{"exp", double(kNow) + 0.5}}), kPolicy, std::nullopt},
        ClaimsCase{"ExpAsLargeDouble", claims({{"exp", 1.7000003e9}}), kPolicy, std::nullopt},
        ClaimsCase{"ScpArray", claims({{"scp", json::array{"read", "write"}}}), kPolicy,
                   std::nullopt},
        ClaimsCase{"ScpString", claims({{"scp", "read"}}), kPolicy, std::nullopt},
        ClaimsCase{"UnknownClaimsOfAnyType",
                   claims({{"roles", json::array{1, "x"}}, {"tenant", json::object{{"id", 7}}}}),
                   kPolicy, std::nullopt},
        ClaimsCase{"MissingExpNotRequired", claims({}, {"exp"}),
                   policy_with([](ClaimsPolicy& p) { p.require_exp = false; }), std::nullopt},
        ClaimsCase{"NoIssuerConfigured", claims({}, {"iss"}),
                   policy_with([](ClaimsPolicy& p) { p.issuer.reset(); }), std::nullopt},
        ClaimsCase{"NoAudiencesConfiguredAudNotChecked", claims({{"aud", "someone-else"}}),
                   policy_with([](ClaimsPolicy& p) { p.audiences.clear(); }), std::nullopt}),
    case_name);

// exp: valid while now < exp + leeway (RFC 7519 §4.1.4); nbf: while now + leeway >= nbf
// (§4.1.5); iat: refused beyond now + leeway. Leeway 30 s, the boundary probed at ±1 s.
INSTANTIATE_TEST_SUITE_P(
    Time, Claims,
    testing::Values(
        ClaimsCase{"Expired", claims({{"iat", kNow - 600}, {"exp", kNow - 300}}), kPolicy,
                   AuthFailure::expired},
        ClaimsCase{"ExpiredOneSecondBeyondLeeway", claims({{"exp", kNow - 31}}), kPolicy,
                   AuthFailure::expired},
        ClaimsCase{"ExpiredExactlyAtLeeway", claims({{"exp", kNow - 30}}), kPolicy,
                   AuthFailure::expired},
        ClaimsCase{"ExpiredOneSecondWithinLeeway", claims({{"exp", kNow - 29}}), kPolicy,
                   std::nullopt},
        ClaimsCase{"ExpiredWithZeroLeeway", claims({{"exp", kNow}}),
                   policy_with([](ClaimsPolicy& p) { p.leeway = 0s; }), AuthFailure::expired},
        ClaimsCase{"ExpOneSecondAheadWithZeroLeeway", claims({{"exp", kNow + 1}}),
                   policy_with([](ClaimsPolicy& p) { p.leeway = 0s; }), std::nullopt},
        ClaimsCase{"NbfInTheFuture", claims({{"nbf", kNow + 120}}), kPolicy,
                   AuthFailure::not_yet_valid},
        ClaimsCase{"NbfOneSecondBeyondLeeway", claims({{"nbf", kNow + 31}}), kPolicy,
                   AuthFailure::not_yet_valid},
        ClaimsCase{"NbfExactlyAtLeeway", claims({{"nbf", kNow + 30}}), kPolicy, std::nullopt},
        ClaimsCase{"NbfOneSecondWithinLeeway", claims({{"nbf", kNow + 29}}), kPolicy, std::nullopt},
        ClaimsCase{"NbfInThePast", claims({{"nbf", kNow - 10}}), kPolicy, std::nullopt},
        ClaimsCase{"IatInTheFuture", claims({{"iat", kNow + 120}}), kPolicy,
                   AuthFailure::issued_in_future},
        ClaimsCase{"IatOneSecondBeyondLeeway", claims({{"iat", kNow + 31}}), kPolicy,
                   AuthFailure::issued_in_future},
        ClaimsCase{"IatExactlyAtLeeway", claims({{"iat", kNow + 30}}), kPolicy, std::nullopt},
        ClaimsCase{"MissingExp", claims({}, {"exp"}), kPolicy, AuthFailure::missing_claim},
        ClaimsCase{"ClockMovedPastExp", claims(), kPolicy, AuthFailure::expired, 330},
        ClaimsCase{"ClockJustBeforeExpPlusLeeway", claims(), kPolicy, std::nullopt, 329}),
    case_name);

INSTANTIATE_TEST_SUITE_P(
    IssuerAndAudience, Claims,
    testing::Values(
        ClaimsCase{"IssuerMismatch", claims({{"iss", "https://evil.example"}}), kPolicy,
                   AuthFailure::issuer_mismatch},
        ClaimsCase{"IssuerDiffersInCase", claims({{"iss", "https://Issuer.example"}}), kPolicy,
                   AuthFailure::issuer_mismatch},
        ClaimsCase{"IssuerWithTrailingSlash", claims({{"iss", "https://issuer.example/"}}), kPolicy,
                   AuthFailure::issuer_mismatch},
        ClaimsCase{"IssuerPrefixOnly", claims({{"iss", "https://issuer.example.evil"}}), kPolicy,
                   AuthFailure::issuer_mismatch},
        ClaimsCase{"IssuerMissing", claims({}, {"iss"}), kPolicy, AuthFailure::missing_claim},
        ClaimsCase{"AudienceMismatch", claims({{"aud", "other-api"}}), kPolicy,
                   AuthFailure::audience_mismatch},
        ClaimsCase{"AudienceArrayWithoutConfigured", claims({{"aud", json::array{"a", "b"}}}),
                   kPolicy, AuthFailure::audience_mismatch},
        ClaimsCase{"AudienceEmptyArray", claims({{"aud", json::array{}}}), kPolicy,
                   AuthFailure::audience_mismatch},
        ClaimsCase{"AudienceDiffersInCase", claims({{"aud", "API"}}), kPolicy,
                   AuthFailure::audience_mismatch},
        ClaimsCase{"AudienceMissing", claims({}, {"aud"}), kPolicy, AuthFailure::missing_claim}),
    case_name);

// max_lifetime 15 minutes: exp - iat when iat is present, else exp - now (+ leeway).
INSTANTIATE_TEST_SUITE_P(
    Lifetime, Claims,
    testing::Values(
        ClaimsCase{"OverMaxLifetime", claims({{"iat", kNow}, {"exp", kNow + 901}}),
                   policy_with([](ClaimsPolicy& p) { p.max_lifetime = 900s; }),
                   AuthFailure::lifetime_too_long},
        ClaimsCase{"ExactlyMaxLifetime", claims({{"iat", kNow}, {"exp", kNow + 900}}),
                   policy_with([](ClaimsPolicy& p) { p.max_lifetime = 900s; }), std::nullopt},
        ClaimsCase{"DayLongTokenOldIat", claims({{"iat", kNow - 86000}, {"exp", kNow + 400}}),
                   policy_with([](ClaimsPolicy& p) { p.max_lifetime = 900s; }),
                   AuthFailure::lifetime_too_long},
        ClaimsCase{"NoIatOverMaxFromNow", claims({{"exp", kNow + 931}}, {"iat"}),
                   policy_with([](ClaimsPolicy& p) { p.max_lifetime = 900s; }),
                   AuthFailure::lifetime_too_long},
        ClaimsCase{"NoIatWithinMaxPlusLeeway", claims({{"exp", kNow + 930}}, {"iat"}),
                   policy_with([](ClaimsPolicy& p) { p.max_lifetime = 900s; }), std::nullopt},
        ClaimsCase{"MaxLifetimeMakesExpRequired", claims({}, {"exp"}),
                   policy_with([](ClaimsPolicy& p) {
                     p.require_exp = false;
                     p.max_lifetime = 900s;
                   }),
                   AuthFailure::missing_claim}),
    case_name);

constexpr auto kInvalid = AuthFailure::invalid_claim;

INSTANTIATE_TEST_SUITE_P(
    WrongTypes, Claims,
    testing::Values(
        ClaimsCase{"ExpString", claims({{"exp", "1700000300"}}), kPolicy, kInvalid},
        ClaimsCase{"ExpBool", claims({{"exp", true}}), kPolicy, kInvalid},
        ClaimsCase{"ExpNull", claims({{"exp", nullptr}}), kPolicy, kInvalid},
        ClaimsCase{"ExpArray", claims({{"exp", json::array{kNow + 300}}}), kPolicy, kInvalid},
        ClaimsCase{"ExpNegative", claims({{"exp", -1}}), kPolicy, kInvalid},
        ClaimsCase{"ExpHugeDouble", claims({{"exp", 1e300}}), kPolicy, kInvalid},
        ClaimsCase{"ExpAfterYear9999", claims({{"exp", int64_t{253402300800}}}), kPolicy, kInvalid},
        ClaimsCase{"ExpMaxUint64", claims({{"exp", UINT64_MAX}}), kPolicy, kInvalid},
        ClaimsCase{"ExpInfinityFromText",
                   R"({"iss":"https://issuer.example","aud":"api","exp":1e400})", kPolicy,
                   kInvalid},
        ClaimsCase{"ExpHugeIntegerText",
                   R"({"iss":"https://issuer.example","aud":"api","exp":99999999999999999999999})",
                   kPolicy, kInvalid},
        ClaimsCase{"NbfString", claims({{"nbf", "now"}}), kPolicy, kInvalid},
        ClaimsCase{"IatObject", claims({{"iat", json::object{}}}), kPolicy, kInvalid},
        ClaimsCase{"IssNumber", claims({{"iss", 42}}), kPolicy, kInvalid},
        ClaimsCase{"IssArray", claims({{"iss", json::array{kIssuer}}}), kPolicy, kInvalid},
        ClaimsCase{"AudNumber", claims({{"aud", 1}}), kPolicy, kInvalid},
        ClaimsCase{"AudArrayWithNumber", claims({{"aud", json::array{"api", 1}}}), kPolicy,
                   kInvalid},
        ClaimsCase{"AudObject", claims({{"aud", json::object{{"api", true}}}}), kPolicy, kInvalid},
        ClaimsCase{"SubNumber", claims({{"sub", 1234}}), kPolicy, kInvalid},
        ClaimsCase{"SubNull", claims({{"sub", nullptr}}), kPolicy, kInvalid},
        ClaimsCase{"JtiNumber", claims({{"jti", 7}}), kPolicy, kInvalid},
        ClaimsCase{"ScopeArray", claims({{"scope", json::array{"read"}}}), kPolicy, kInvalid},
        ClaimsCase{"ScpNumber", claims({{"scp", 1}}), kPolicy, kInvalid},
        ClaimsCase{"ScpArrayWithBool", claims({{"scp", json::array{"read", false}}}), kPolicy,
                   kInvalid},
        // The wrong type is reported even when no policy reads the claim.
        ClaimsCase{"AudNumberWithoutAudiences", claims({{"aud", 1}}),
                   policy_with([](ClaimsPolicy& p) { p.audiences.clear(); }), kInvalid}),
    case_name);

INSTANTIATE_TEST_SUITE_P(
    Json, Claims,
    testing::Values(
        ClaimsCase{"NotJson", "Example of Ed25519 signing", kPolicy, AuthFailure::malformed},
        ClaimsCase{"Empty", "", kPolicy, AuthFailure::malformed},
        ClaimsCase{"Array", "[1,2]", kPolicy, AuthFailure::malformed},
        ClaimsCase{"DuplicateExp",
                   R"({"iss":"https://issuer.example","aud":"api","exp":1,"exp":1700000300})",
                   kPolicy, AuthFailure::malformed},
        ClaimsCase{
            "DuplicateIss",
            R"({"iss":"https://evil.example","iss":"https://issuer.example","aud":"api","exp":1700000300})",
            kPolicy, AuthFailure::malformed},
        ClaimsCase{"TrailingGarbage", claims() + "x", kPolicy, AuthFailure::malformed}),
    case_name);

TEST(ValidateClaims, ReturnsTheClaimsAndExpiry) {
  auto result = validate_claims(claims({{"exp", kNow + 300}}), default_policy(), now_plus(0));
  ASSERT_TRUE(result.ok()) << result.error().detail;
  EXPECT_EQ(result->claims.at("sub").as_string(), "alice");
  ASSERT_TRUE(result->expires_at.has_value());
  EXPECT_EQ(*result->expires_at, NumericDate(std::chrono::seconds(kNow + 300)));
}

TEST(ValidateClaims, FractionalExpKeepsMicroseconds) {
  auto result =
      validate_claims(claims({{"exp", double(kNow) + 300.25}}), default_policy(), now_plus(0));
  ASSERT_TRUE(result.ok()) << result.error().detail;
  EXPECT_EQ(*result->expires_at,
            NumericDate(std::chrono::seconds(kNow + 300)) + std::chrono::milliseconds(250));
}

TEST(ValidateClaims, SubSecondClockBeforeExpIsStillValid) {
  ClaimsPolicy policy = default_policy();
  policy.leeway = 0s;
  const auto just_before = now_plus(300) - std::chrono::nanoseconds(1);
  EXPECT_TRUE(validate_claims(claims(), policy, just_before).ok());
  EXPECT_FALSE(validate_claims(claims(), policy, now_plus(300)).ok());
}

TEST(ValidateClaims, ClockFarInTheFutureDoesNotOverflow) {
  // year 2200: system_clock nanoseconds are still in range; exp in 9999 is not expired.
  const auto far = std::chrono::system_clock::time_point(std::chrono::hours(24 * 365 * 230));
  auto result =
      validate_claims(claims({{"exp", int64_t{253402300799}}}, {"iat"}), default_policy(), far);
  EXPECT_TRUE(result.ok()) << result.error().detail;
}

TEST(NumericDate, AcceptsIntegersAndFiniteDoublesInRange) {
  EXPECT_TRUE(numeric_date(json::value(0)).has_value());
  EXPECT_TRUE(numeric_date(json::value(uint64_t{1700000000})).has_value());
  EXPECT_TRUE(numeric_date(json::value(1.5)).has_value());
  EXPECT_FALSE(numeric_date(json::value(-0.5)).has_value());
  EXPECT_FALSE(numeric_date(json::value(std::nan(""))).has_value());
  EXPECT_FALSE(numeric_date(json::value("1")).has_value());
}

}  // namespace
}  // namespace bulwark::auth
