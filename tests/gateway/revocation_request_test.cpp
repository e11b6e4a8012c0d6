#include "gateway/revocation_request.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace bulwark::gateway {
namespace {

using Kind = auth::Revocation::Kind;

constexpr int64_t kNow = 1'700'000'000;
constexpr int64_t kLifetime = 3630;

struct BadBody {
  const char* name;
  std::string body;
  std::string detail;
};

std::string error_body(std::string_view detail) {
  return std::string(R"({"error":"bad_request","detail":")") + std::string(detail) + "\"}";
}

class RevocationRequestBadTest : public ::testing::TestWithParam<BadBody> {};

TEST_P(RevocationRequestBadTest, RefusedWithItsReason) {
  auto reply = parse_revocation(GetParam().body, kNow, kLifetime);
  EXPECT_EQ(reply.status, 400u);
  EXPECT_EQ(reply.body, error_body(GetParam().detail));
  EXPECT_FALSE(reply.revocation);
}

const std::string kShape = R"(the body must be a JSON object: {\"jti\": \"...\"} )";

INSTANTIATE_TEST_SUITE_P(
    Cases, RevocationRequestBadTest,
    ::testing::Values(
        BadBody{"empty", "", kShape + "(not valid JSON)"},
        BadBody{"not_json", "jti=abc", kShape + "(not valid JSON)"},
        BadBody{"truncated", R"({"jti": "a")", kShape + "(not valid JSON)"},
        BadBody{"array", R"(["a"])", kShape + "(not a JSON object)"},
        BadBody{"string", R"("a")", kShape + "(not a JSON object)"},
        BadBody{"trailing", R"({"jti": "a"} {})", kShape + "(data after the JSON value)"},
        BadBody{"duplicate_jti", R"({"jti": "a", "jti": "b"})", kShape + "(duplicate member name)"},
        BadBody{"duplicate_iss", R"({"sub": "a", "iss": "x", "iss": "y"})",
                kShape + "(duplicate member name)"},
        BadBody{"comment", R"({"jti": "a" /* x */})", kShape + "(not valid JSON)"},
        BadBody{"invalid_utf8", "{\"jti\": \"\xff\"}", kShape + "(not valid JSON)"},
        BadBody{"empty_object", "{}", R"(give exactly one of \"jti\" and \"sub\")"},
        BadBody{"iss_only", R"({"iss": "x"})", R"(give exactly one of \"jti\" and \"sub\")"},
        BadBody{"both", R"({"jti": "a", "sub": "b"})",
                R"(give exactly one of \"jti\" and \"sub\")"},
        BadBody{"unknown", R"({"jti": "a", "exp": 5})",
                R"(field \"exp\" is unknown: use jti or sub, and iss)"},
        BadBody{"jti_number", R"({"jti": 5})", R"(field \"jti\" must be a string)"},
        BadBody{"sub_null", R"({"sub": null})", R"(field \"sub\" must be a string)"},
        BadBody{"iss_array", R"({"jti": "a", "iss": ["x"]})", R"(field \"iss\" must be a string)"},
        BadBody{"jti_empty", R"({"jti": ""})", R"(field \"jti\" must not be empty)"},
        BadBody{"iss_empty", R"({"jti": "a", "iss": ""})", R"(field \"iss\" must not be empty)"},
        BadBody{"sub_too_long", R"({"sub": ")" + std::string(1025, 'x') + "\"}",
                R"(field \"sub\" is longer than 1024 bytes)"},
        BadBody{"iss_too_long", R"({"jti": "a", "iss": ")" + std::string(1025, 'x') + "\"}",
                R"(field \"iss\" is longer than 1024 bytes)"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(RevocationRequestTest, Jti) {
  auto reply = parse_revocation(R"({"jti": "abc"})", kNow, kLifetime);
  EXPECT_EQ(reply.status, 200u);
  EXPECT_EQ(reply.body, R"({"revoked":{"jti":"abc"},"until":1700003630})");
  ASSERT_TRUE(reply.revocation);
  EXPECT_EQ(*reply.revocation, (auth::Revocation{Kind::jti, "", "abc", kNow, kNow + kLifetime}));
}

TEST(RevocationRequestTest, SubjectOfOneIssuer) {
  auto reply = parse_revocation(R"({"iss": "https://idp.example", "sub": "user-1"})", kNow, 60);
  EXPECT_EQ(reply.status, 200u);
  EXPECT_EQ(reply.body,
            R"({"revoked":{"sub":"user-1","iss":"https://idp.example"},"until":1700000060})");
  ASSERT_TRUE(reply.revocation);
  EXPECT_EQ(*reply.revocation,
            (auth::Revocation{Kind::subject, "https://idp.example", "user-1", kNow, kNow + 60}));
}

TEST(RevocationRequestTest, LongestValueAndAnyBytesAccepted) {
  const std::string value(1024, 'v');
  auto reply = parse_revocation(R"({"sub": ")" + value + "\"}", kNow, kLifetime);
  ASSERT_EQ(reply.status, 200u);
  EXPECT_EQ(reply.revocation->value, value);
  reply = parse_revocation(R"({"jti": "a|b\"c\u0001é"})", kNow, kLifetime);
  ASSERT_EQ(reply.status, 200u);
  EXPECT_EQ(reply.revocation->value, "a|b\"c\x01\xc3\xa9");
  EXPECT_EQ(reply.body, R"({"revoked":{"jti":"a|b\"c\u0001é"},"until":1700003630})");
}

}  // namespace
}  // namespace bulwark::gateway
