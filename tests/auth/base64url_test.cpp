#include "auth/base64url.hpp"

#include <gtest/gtest.h>

#include "support/case_name.hpp"

#include <ostream>
#include <string>
#include <string_view>

namespace bulwark::auth {
namespace {

using namespace std::string_view_literals;

using testing_support::case_name;

struct KnownCase {
  std::string_view name;
  std::string_view bytes;
  std::string_view text;
};
void PrintTo(const KnownCase& c, std::ostream* os) {
  *os << c.name;
}

class Base64urlKnown : public testing::TestWithParam<KnownCase> {};

TEST_P(Base64urlKnown, EncodesAndDecodes) {
  const auto& c = GetParam();
  EXPECT_EQ(base64url_encode(c.bytes), c.text);
  const auto decoded = base64url_decode(c.text);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, c.bytes);
}

// RFC 4648 §10 test vectors without padding, plus the two characters that differ from
// base64 ('-' for 62, '_' for 63) and a JWS header from RFC 7515 §3.1.
INSTANTIATE_TEST_SUITE_P(
    Rfc4648, Base64urlKnown,
    testing::Values(KnownCase{"Empty", "", ""}, KnownCase{"F", "f", "Zg"},
                    KnownCase{"Fo", "fo", "Zm8"}, KnownCase{"Foo", "foo", "Zm9v"},
                    KnownCase{"Foob", "foob", "Zm9vYg"}, KnownCase{"Fooba", "fooba", "Zm9vYmE"},
                    KnownCase{"Foobar", "foobar", "Zm9vYmFy"},
                    KnownCase{"MinusAndUnderscore", "\xfb\xff\xbf", "-_-_"},
                    KnownCase{"AllZeroBytes", "\0\0\0\0"sv, "AAAAAA"},
                    KnownCase{"JwsHeader", "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}",
                              "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"}),
    case_name<KnownCase>);

struct RefusedCase {
  std::string_view name;
  std::string_view text;
};
void PrintTo(const RefusedCase& c, std::ostream* os) {
  *os << c.name;
}

class Base64urlRefused : public testing::TestWithParam<RefusedCase> {};

TEST_P(Base64urlRefused, DoesNotDecode) {
  EXPECT_FALSE(base64url_decode(GetParam().text).has_value());
}

INSTANTIATE_TEST_SUITE_P(
    Strict, Base64urlRefused,
    testing::Values(RefusedCase{"PaddingTwo", "Zg=="}, RefusedCase{"PaddingOne", "Zm8="},
                    RefusedCase{"PaddingInside", "Zg==Zm9v"}, RefusedCase{"PlusFromBase64", "+_8"},
                    RefusedCase{"SlashFromBase64", "-/8"}, RefusedCase{"SpaceInside", "Zm9v YmFy"},
                    RefusedCase{"LeadingSpace", " Zm9v"}, RefusedCase{"TrailingNewline", "Zm9v\n"},
                    RefusedCase{"CrLfInside", "Zm9v\r\nYmFy"}, RefusedCase{"Tab", "Zm\t9v"},
                    RefusedCase{"LengthOneModFour", "Zm9vY"}, RefusedCase{"SingleChar", "Z"},
                    RefusedCase{"NonCanonicalTwoChars", "Zh"},
                    RefusedCase{"NonCanonicalThreeChars", "Zm9"},
                    RefusedCase{"NonCanonicalLowBitOnly", "AB"}, RefusedCase{"Nul", "Zm\0v"sv},
                    RefusedCase{"Dot", "Zm.v"}, RefusedCase{"NonAscii", "Zm\xc3\xa9v"},
                    RefusedCase{"HighByte", "\xff\xff"}),
    case_name<RefusedCase>);

TEST(Base64url, EveryLengthRoundTrips) {
  std::string bytes;
  for (int length = 0; length < 300; ++length) {
    const std::string text = base64url_encode(bytes);
    EXPECT_EQ(text.size(), (bytes.size() * 4 + 2) / 3) << length;
    EXPECT_EQ(text.find_first_of("=+/"), std::string::npos) << length;
    const auto decoded = base64url_decode(text);
    ASSERT_TRUE(decoded.has_value()) << length;
    EXPECT_EQ(*decoded, bytes) << length;
    bytes.push_back(static_cast<char>((length * 151 + 7) & 0xff));
  }
}

// Every accepted text re-encodes to itself: one encoding per byte string, so a token's
// signature covers the only way to write its bytes.
TEST(Base64url, EveryAcceptedTwoAndThreeCharTailIsCanonical) {
  constexpr std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  int accepted = 0;
  for (char a : alphabet) {
    for (char b : alphabet) {
      const std::string two{a, b};
      if (auto d = base64url_decode(two)) {
        EXPECT_EQ(base64url_encode(*d), two);
        ++accepted;
      }
      for (char c : std::string_view("AQgh-_")) {
        const std::string three{a, b, c};
        if (auto d = base64url_decode(three)) {
          EXPECT_EQ(base64url_encode(*d), three);
        }
      }
    }
  }
  EXPECT_EQ(accepted, 256);  // exactly one text per byte value
}

TEST(Base64url, DecodeIntoReusesTheBuffer) {
  std::string out = "previous contents that are longer";
  ASSERT_TRUE(base64url_decode_into("Zm9v", out));
  EXPECT_EQ(out, "foo");
}

TEST(Base64url, EncodeAppendKeepsThePrefix) {
  std::string out = "a.";
  base64url_encode_append("foo", out);
  EXPECT_EQ(out, "a.Zm9v");
}

}  // namespace
}  // namespace bulwark::auth
