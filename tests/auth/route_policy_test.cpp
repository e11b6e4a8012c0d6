#include "auth/route_policy.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "support/case_name.hpp"

namespace bulwark::auth {
namespace {

namespace json = boost::json;
using testing_support::case_name;

json::object object(std::string_view text) {
  return json::parse(text).as_object();
}

// ---- claim_path ----

TEST(ClaimPath, SplitsOnDots) {
  EXPECT_EQ(claim_path("sub").parts, (std::vector<std::string>{"sub"}));
  EXPECT_EQ(claim_path("realm_access.roles").parts,
            (std::vector<std::string>{"realm_access", "roles"}));
  EXPECT_EQ(claim_path("a.b.c").parts, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(claim_path("a..b").parts, (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(claim_path("a.").parts, (std::vector<std::string>{"a", ""}));
  EXPECT_EQ(claim_path("").parts, (std::vector<std::string>{""}));
}

TEST(ClaimPath, KeepsTheConfiguredText) {
  EXPECT_EQ(claim_path("https://example.com/roles").text, "https://example.com/roles");
  EXPECT_EQ(claim_path("https://example.com/roles").parts,
            (std::vector<std::string>{"https://example", "com/roles"}));
}

// ---- find_claim ----

struct FindCase {
  std::string_view name;
  std::string_view claims;
  std::string_view path;
  std::optional<std::string_view> expected;  // the found value as compact JSON
};
void PrintTo(const FindCase& c, std::ostream* os) {
  *os << c.name;
}

class FindClaim : public testing::TestWithParam<FindCase> {};

TEST_P(FindClaim, Value) {
  const auto& c = GetParam();
  const auto claims = object(c.claims);
  const json::value* found = find_claim(claims, claim_path(c.path));
  if (!c.expected) {
    EXPECT_EQ(found, nullptr) << json::serialize(*found);
  } else {
    ASSERT_NE(found, nullptr);
    EXPECT_EQ(json::serialize(*found), *c.expected);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, FindClaim,
    testing::Values(FindCase{"TopLevel", R"({"sub":"alice"})", "sub", R"("alice")"},
                    FindCase{"Nested", R"({"realm_access":{"roles":["admin","user"]}})",
                             "realm_access.roles", R"(["admin","user"])"},
                    FindCase{"DeeplyNested", R"({"a":{"b":{"c":{"d":7}}}})", "a.b.c.d", "7"},
                    FindCase{"NestedObjectItself", R"({"a":{"b":{"c":1}}})", "a.b", R"({"c":1})"},
                    FindCase{"NameWithDotsWhole", R"({"https://example.com/roles":["x"]})",
                             "https://example.com/roles", R"(["x"])"},
                    FindCase{"WholeNameBeforePath", R"({"a.b":"whole","a":{"b":"nested"}})", "a.b",
                             R"("whole")"},
                    FindCase{"PathWhenWholeAbsent", R"({"a":{"b":"nested"}})", "a.b",
                             R"("nested")"},
                    FindCase{"NullValueFound", R"({"a":{"b":null}})", "a.b", "null"},
                    FindCase{"Missing", R"({"sub":"alice"})", "email", std::nullopt},
                    FindCase{"MissingIntermediate", R"({"a":{"x":1}})", "a.b.c", std::nullopt},
                    FindCase{"MissingLeaf", R"({"a":{"b":{}}})", "a.b.c", std::nullopt},
                    FindCase{"StringIntermediate", R"({"a":"text"})", "a.b", std::nullopt},
                    FindCase{"ArrayIntermediate", R"({"a":[{"b":1}]})", "a.b", std::nullopt},
                    FindCase{"ArrayIndexIsNotAPath", R"({"a":[{"b":1}]})", "a.0.b", std::nullopt},
                    FindCase{"NumberIntermediate", R"({"a":{"b":5}})", "a.b.c", std::nullopt},
                    FindCase{"NullIntermediate", R"({"a":null})", "a.b", std::nullopt},
                    FindCase{"DotNameNotSplitWhenPresent", R"({"x.y":1})", "x.y", "1"},
                    FindCase{"DotNameSplitWhenAbsent", R"({"x.y":1})", "x.y.z", std::nullopt},
                    FindCase{"EmptySegment", R"({"a":{"b":1}})", "a..b", std::nullopt}),
    case_name<FindCase>);

// ---- grants_scope ----

struct ScopeCase {
  std::string_view name;
  std::string_view claims;
  std::string_view scope;
  bool granted;
};
void PrintTo(const ScopeCase& c, std::ostream* os) {
  *os << c.name;
}

class GrantsScope : public testing::TestWithParam<ScopeCase> {};

TEST_P(GrantsScope, Verdict) {
  const auto& c = GetParam();
  EXPECT_EQ(grants_scope(object(c.claims), c.scope), c.granted);
}

INSTANTIATE_TEST_SUITE_P(
    Scope, GrantsScope,
    testing::Values(ScopeCase{"OnlyWord", R"({"scope":"read"})", "read", true},
                    ScopeCase{"FirstWord", R"({"scope":"read write"})", "read", true},
                    ScopeCase{"LastWord", R"({"scope":"read write"})", "write", true},
                    ScopeCase{"RepeatedSpaces", R"({"scope":"read    write"})", "write", true},
                    ScopeCase{"LeadingSpaces", R"({"scope":"   read"})", "read", true},
                    ScopeCase{"TrailingSpaces", R"({"scope":"read   "})", "read", true},
                    ScopeCase{"ColonScope", R"({"scope":"api:read api:write"})", "api:write", true},
                    ScopeCase{"Absent", R"({"scope":"read write"})", "admin", false},
                    ScopeCase{"PrefixWordDoesNotMatch", R"({"scope":"readonly"})", "read", false},
                    ScopeCase{"LongerWordDoesNotMatch", R"({"scope":"read"})", "readonly", false},
                    ScopeCase{"SuffixDoesNotMatch", R"({"scope":"unread"})", "read", false},
                    ScopeCase{"CaseSensitive", R"({"scope":"Read"})", "read", false},
                    ScopeCase{"CommaIsNotASeparator", R"({"scope":"read,write"})", "read", false},
                    ScopeCase{"TabIsNotASeparator", "{\"scope\":\"read\\twrite\"}", "read", false},
                    ScopeCase{"EmptyScopeString", R"({"scope":""})", "read", false},
                    ScopeCase{"OnlySpaces", R"({"scope":"   "})", "read", false},
                    ScopeCase{"EmptyRequiredScopeNeverGranted", R"({"scope":"read  write"})", "",
                              false},
                    ScopeCase{"NoScopeClaims", R"({"sub":"alice"})", "read", false}),
    case_name<ScopeCase>);

INSTANTIATE_TEST_SUITE_P(
    Scp, GrantsScope,
    testing::Values(
        ScopeCase{"ScpString", R"({"scp":"read write"})", "write", true},
        ScopeCase{"ScpStringPrefix", R"({"scp":"readonly"})", "read", false},
        ScopeCase{"ScpArray", R"({"scp":["read","write"]})", "write", true},
        ScopeCase{"ScpArrayPrefix", R"({"scp":["readonly"]})", "read", false},
        // An array holds whole scopes: an element with a space is one scope, not two.
        ScopeCase{"ScpArrayElementNotSplit", R"({"scp":["read write"]})", "read", false},
        ScopeCase{"ScpArrayNonStringsIgnored", R"({"scp":[1,true,null,"read"]})", "read", true},
        ScopeCase{"ScpArrayNumberNotAScope", R"({"scp":[42]})", "42", false},
        ScopeCase{"ScpEmptyArray", R"({"scp":[]})", "read", false},
        ScopeCase{"ScpObject", R"({"scp":{"read":true}})", "read", false},
        ScopeCase{"ScpNumber", R"({"scp":1})", "1", false},
        // A string "scope" is the answer, even when "scp" would grant it.
        ScopeCase{"ScopeWinsOverScp", R"({"scope":"write","scp":["read"]})", "read", false},
        // A "scope" that is not a string (validate_claims refuses such a token) grants nothing.
        ScopeCase{"ScopeArrayGrantsNothing", R"({"scope":["read"]})", "read", false},
        ScopeCase{"ScopeNumberGrantsNothing", R"({"scope":7})", "7", false},
        ScopeCase{"ScopeNullGrantsNothing", R"({"scope":null})", "read", false}),
    case_name<ScopeCase>);

// ---- satisfies ----

struct SatisfiesCase {
  std::string_view name;
  std::string_view claims;
  std::string_view claim;
  ClaimRequirement::Op op;
  std::string_view value;
  bool satisfied;
};
void PrintTo(const SatisfiesCase& c, std::ostream* os) {
  *os << c.name;
}

class Satisfies : public testing::TestWithParam<SatisfiesCase> {};

TEST_P(Satisfies, Verdict) {
  const auto& c = GetParam();
  const ClaimRequirement requirement{claim_path(c.claim), c.op, std::string(c.value)};
  EXPECT_EQ(satisfies(object(c.claims), requirement), c.satisfied);
}

constexpr auto kEquals = ClaimRequirement::Op::equals;
constexpr auto kContains = ClaimRequirement::Op::contains;

INSTANTIATE_TEST_SUITE_P(
    Equals, Satisfies,
    testing::Values(
        SatisfiesCase{"String", R"({"tenant":"acme"})", "tenant", kEquals, "acme", true},
        SatisfiesCase{"StringDiffers", R"({"tenant":"acme"})", "tenant", kEquals, "acme2", false},
        SatisfiesCase{"StringCaseSensitive", R"({"tenant":"Acme"})", "tenant", kEquals, "acme",
                      false},
        SatisfiesCase{"StringWithSpaceIsWhole", R"({"name":"a b"})", "name", kEquals, "a", false},
        SatisfiesCase{"EmptyString", R"({"tenant":""})", "tenant", kEquals, "", true},
        SatisfiesCase{"Integer", R"({"level":42})", "level", kEquals, "42", true},
        SatisfiesCase{"NegativeInteger", R"({"level":-3})", "level", kEquals, "-3", true},
        SatisfiesCase{"IntegerDiffers", R"({"level":42})", "level", kEquals, "43", false},
        SatisfiesCase{"IntegerEqualsSameNumberWritten42_0", R"({"level":42})", "level", kEquals,
                      "42.0", true},
        SatisfiesCase{"StringNumberIsText", R"({"level":"42"})", "level", kEquals, "42", true},
        SatisfiesCase{"BoolTrue", R"({"email_verified":true})", "email_verified", kEquals, "true",
                      true},
        SatisfiesCase{"BoolFalse", R"({"email_verified":false})", "email_verified", kEquals,
                      "false", true},
        SatisfiesCase{"BoolNotCapitalized", R"({"email_verified":true})", "email_verified", kEquals,
                      "True", false},
        SatisfiesCase{"BoolNotNumber", R"({"email_verified":true})", "email_verified", kEquals, "1",
                      false},
        SatisfiesCase{"StringTrueIsText", R"({"email_verified":"true"})", "email_verified", kEquals,
                      "true", true},
        SatisfiesCase{"NullNeverEquals", R"({"tenant":null})", "tenant", kEquals, "null", false},
        SatisfiesCase{"ArrayNeverEquals", R"({"roles":["admin"]})", "roles", kEquals, "admin",
                      false},
        SatisfiesCase{"ObjectNeverEquals", R"({"t":{}})", "t", kEquals, "{}", false},
        SatisfiesCase{"Nested", R"({"org":{"tenant":"acme"}})", "org.tenant", kEquals, "acme",
                      true},
        SatisfiesCase{"NestedMissing", R"({"org":{"name":"acme"}})", "org.tenant", kEquals, "acme",
                      false},
        SatisfiesCase{"Missing", R"({"sub":"alice"})", "tenant", kEquals, "acme", false}),
    case_name<SatisfiesCase>);

INSTANTIATE_TEST_SUITE_P(
    Contains, Satisfies,
    testing::Values(
        SatisfiesCase{"ArrayOfStrings", R"({"roles":["user","admin"]})", "roles", kContains,
                      "admin", true},
        SatisfiesCase{"ArrayOfStringsAbsent", R"({"roles":["user"]})", "roles", kContains, "admin",
                      false},
        SatisfiesCase{"ArrayElementPrefix", R"({"roles":["administrator"]})", "roles", kContains,
                      "admin", false},
        SatisfiesCase{"ArrayOfNumbers", R"({"groups":[7,42]})", "groups", kContains, "42", true},
        SatisfiesCase{"ArrayOfBools", R"({"flags":[false,true]})", "flags", kContains, "true",
                      true},
        SatisfiesCase{"NestedArrayNotSearched", R"({"roles":[["admin"]]})", "roles", kContains,
                      "admin", false},
        SatisfiesCase{"ObjectInArrayNotSearched", R"({"roles":[{"admin":1}]})", "roles", kContains,
                      "admin", false},
        SatisfiesCase{"EmptyArray", R"({"roles":[]})", "roles", kContains, "admin", false},
        SatisfiesCase{"StringWords", R"({"groups":"dev ops admin"})", "groups", kContains, "ops",
                      true},
        SatisfiesCase{"StringWordsSpaced", R"({"groups":"  dev   ops  "})", "groups", kContains,
                      "ops", true},
        SatisfiesCase{"StringWordPrefix", R"({"groups":"devops"})", "groups", kContains, "dev",
                      false},
        SatisfiesCase{"StringSameAsWhole", R"({"tenant":"acme"})", "tenant", kContains, "acme",
                      true},
        SatisfiesCase{"NumberNeverContains", R"({"level":42})", "level", kContains, "42", false},
        SatisfiesCase{"BoolNeverContains", R"({"ok":true})", "ok", kContains, "true", false},
        SatisfiesCase{"ObjectNeverContains", R"({"roles":{"admin":true}})", "roles", kContains,
                      "admin", false},
        SatisfiesCase{"NestedArray", R"({"realm_access":{"roles":["offline","admin"]}})",
                      "realm_access.roles", kContains, "admin", true},
        SatisfiesCase{"DottedNameArray", R"({"https://example.com/roles":["admin"]})",
                      "https://example.com/roles", kContains, "admin", true},
        SatisfiesCase{"Missing", R"({"sub":"alice"})", "roles", kContains, "admin", false}),
    case_name<SatisfiesCase>);

// BUG (minor, see the report): a non-integer number's "JSON text" is Boost.JSON's
// serialization ("1.5E0", "4.2E1" for 42.0), not the text the token carried, so an equals
// requirement written as the token writes it never matches.
TEST(DecimalClaims, DecimalNumberEqualsItsText) {
  const auto claims = object(R"({"acr":1.5,"level":42.0})");
  EXPECT_TRUE(satisfies(claims, ClaimRequirement{claim_path("acr"), kEquals, "1.5"}));
  EXPECT_TRUE(satisfies(claims, ClaimRequirement{claim_path("level"), kEquals, "42"}));
}

// ---- authorize ----

Requirements requirements(std::vector<std::string> scopes,
                          std::vector<ClaimRequirement> claims = {}) {
  return Requirements{std::move(scopes), std::move(claims)};
}

ClaimRequirement requirement(std::string_view claim, ClaimRequirement::Op op,
                             std::string_view value) {
  return ClaimRequirement{claim_path(claim), op, std::string(value)};
}

TEST(Authorize, EmptyRequirementsPass) {
  EXPECT_TRUE(requirements({}).empty());
  EXPECT_FALSE(authorize(object(R"({"sub":"alice"})"), requirements({})).has_value());
}

TEST(Authorize, EveryRequirementMetPasses) {
  const auto required = requirements({"read", "write"}, {requirement("tenant", kEquals, "acme"),
                                                         requirement("roles", kContains, "admin")});
  EXPECT_FALSE(required.empty());
  const auto claims = object(R"({"scope":"write read","tenant":"acme","roles":["user","admin"]})");
  EXPECT_FALSE(authorize(claims, required).has_value());
}

TEST(Authorize, FirstMissingScopeDescribedWithEveryRouteScope) {
  const auto denial =
      authorize(object(R"({"scope":"read"})"), requirements({"read", "write", "admin"}));
  ASSERT_TRUE(denial.has_value());
  EXPECT_EQ(denial->description, "the token lacks the scope 'write'");
  EXPECT_EQ(denial->missing_scope, "read write admin");
}

TEST(Authorize, ScopesCheckedBeforeClaims) {
  const auto denial = authorize(object(R"({"scope":"read","tenant":"other"})"),
                                requirements({"write"}, {requirement("tenant", kEquals, "acme")}));
  ASSERT_TRUE(denial.has_value());
  EXPECT_EQ(denial->description, "the token lacks the scope 'write'");
  EXPECT_EQ(denial->missing_scope, "write");
}

TEST(Authorize, FirstFailingClaimDescribedWithoutItsValue) {
  const auto required = requirements(
      {"read"}, {requirement("tenant", kEquals, "acme"), requirement("org.level", kEquals, "9")});
  const auto denial = authorize(
      object(R"({"scope":"read","tenant":"acme","org":{"level":"secret-level-3"}})"), required);
  ASSERT_TRUE(denial.has_value());
  EXPECT_EQ(denial->description,
            "the token's claim 'org.level' does not meet this route's requirement");
  EXPECT_EQ(denial->missing_scope, "read");
  EXPECT_EQ(denial->description.find("secret-level-3"), std::string::npos);
  EXPECT_EQ(denial->description.find("'9'"), std::string::npos);
}

TEST(Authorize, ClaimDenialWithoutRouteScopesHasEmptyScope) {
  const auto denial = authorize(object(R"({"tenant":"evil-corp"})"),
                                requirements({}, {requirement("tenant", kEquals, "acme")}));
  ASSERT_TRUE(denial.has_value());
  EXPECT_EQ(denial->description,
            "the token's claim 'tenant' does not meet this route's requirement");
  EXPECT_EQ(denial->missing_scope, "");
  EXPECT_EQ(denial->description.find("evil-corp"), std::string::npos);
}

TEST(Authorize, MissingClaimDenied) {
  const auto denial =
      authorize(object(R"({"sub":"alice"})"),
                requirements({}, {requirement("realm_access.roles", kContains, "admin")}));
  ASSERT_TRUE(denial.has_value());
  EXPECT_EQ(denial->description,
            "the token's claim 'realm_access.roles' does not meet this route's requirement");
}

// ---- forwarded_claim_value ----

struct ForwardCase {
  std::string_view name;
  std::string claim_json;  // the claim's value as JSON text
  std::optional<std::string> expected;
};
void PrintTo(const ForwardCase& c, std::ostream* os) {
  *os << c.name;
}

class ForwardedClaimValue : public testing::TestWithParam<ForwardCase> {};

TEST_P(ForwardedClaimValue, HeaderValue) {
  const auto& c = GetParam();
  EXPECT_EQ(forwarded_claim_value(json::parse(c.claim_json)), c.expected);
}

std::string json_string_of(std::size_t bytes) {
  std::string text(bytes + 2, 'x');
  text.front() = '"';
  text.back() = '"';
  return text;
}

// ["xx…","xx…"]: joined with ", " it is 2 * bytes + 2 long.
std::string two_string_array_of(std::size_t bytes) {
  std::string text = "[";
  text.append(json_string_of(bytes)).append(",").append(json_string_of(bytes)).append("]");
  return text;
}

INSTANTIATE_TEST_SUITE_P(
    Values, ForwardedClaimValue,
    testing::Values(
        ForwardCase{"String", R"("alice")", "alice"}, ForwardCase{"EmptyString", R"("")", ""},
        ForwardCase{"StringWithQuotesAsIs", R"("say \"hi\"")", "say \"hi\""},
        ForwardCase{"NonAsciiString", R"("caf\u00e9")", "caf\xc3\xa9"},
        ForwardCase{"Integer", "42", "42"}, ForwardCase{"NegativeInteger", "-7", "-7"},
        ForwardCase{"LargeUnsigned", "18446744073709551615", "18446744073709551615"},
        ForwardCase{"True", "true", "true"}, ForwardCase{"False", "false", "false"},
        ForwardCase{"ArrayOfStrings", R"(["admin","user"])", "admin, user"},
        ForwardCase{"ArrayOfOneString", R"(["admin"])", "admin"},
        ForwardCase{"MixedArrayAsJson", R"(["admin",1,true])", R"(["admin",1,true])"},
        ForwardCase{"ArrayOfNumbersAsJson", "[1, 2]", "[1,2]"},
        ForwardCase{"ObjectAsCompactJson", R"({ "a" : 1, "b" : [ "x" ] })", R"({"a":1,"b":["x"]})"},
        ForwardCase{"Null", "null", std::nullopt}, ForwardCase{"TabAllowed", R"("a\tb")", "a\tb"},
        ForwardCase{"CarriageReturn", R"("a\rb")", std::nullopt},
        ForwardCase{"LineFeed", R"("a\nX-Admin: true")", std::nullopt},
        ForwardCase{"Nul", R"("a\u0000b")", std::nullopt},
        ForwardCase{"OtherControl", R"("a\u001bb")", std::nullopt},
        ForwardCase{"Delete", R"("a\u007fb")", std::nullopt},
        ForwardCase{"LineFeedInArrayOfStrings", R"(["ok","a\nb"])", std::nullopt},
        // As JSON the control character is escaped: the field value holds "\n", no byte 0x0A.
        ForwardCase{"LineFeedInObjectEscaped", R"({"a":"x\ny"})", R"({"a":"x\ny"})"},
        ForwardCase{"Exactly4096Bytes", json_string_of(4096), std::string(4096, 'x')},
        ForwardCase{"Over4096Bytes", json_string_of(4097), std::nullopt},
        ForwardCase{"LongArrayOver4096Bytes", two_string_array_of(2048), std::nullopt}),
    case_name<ForwardCase>);

}  // namespace
}  // namespace bulwark::auth

// Ids past 2^53 (snowflakes, tenant numbers) are distinct integers, never rounded to one
// double: a neighbour's id must not pass another tenant's check.
TEST(LargeIntegerClaims, NeighbouringIdsAreNotEqual) {
  using bulwark::auth::ClaimRequirement;
  auto requirement = [](ClaimRequirement::Op op) {
    return ClaimRequirement{bulwark::auth::claim_path("org_id"), op, "1234567890123456789"};
  };
  auto object = [](std::string_view json) { return boost::json::parse(json).as_object(); };
  const auto equals = requirement(ClaimRequirement::Op::equals);
  const auto contains = requirement(ClaimRequirement::Op::contains);
  EXPECT_TRUE(bulwark::auth::satisfies(object(R"({"org_id":1234567890123456789})"), equals));
  EXPECT_FALSE(bulwark::auth::satisfies(object(R"({"org_id":1234567890123456800})"), equals));
  EXPECT_FALSE(bulwark::auth::satisfies(object(R"({"org_id":1234567890123456700})"), equals));
  EXPECT_FALSE(bulwark::auth::satisfies(object(R"({"org_id":1.2345678901234568e18})"), equals));
  EXPECT_FALSE(bulwark::auth::satisfies(object(R"({"org_id":[1234567890123456788]})"), contains));
  EXPECT_TRUE(bulwark::auth::satisfies(object(R"({"org_id":[1234567890123456789]})"), contains));
  EXPECT_TRUE(bulwark::auth::satisfies(
      object(R"({"org_id":18446744073709551615})"),
      ClaimRequirement{bulwark::auth::claim_path("org_id"), ClaimRequirement::Op::equals,
                       "18446744073709551615"}));
}
