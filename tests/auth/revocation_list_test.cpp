#include "auth/revocation_list.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace bulwark::auth {
namespace {

using namespace std::chrono_literals;
using Kind = Revocation::Kind;
using Steady = std::chrono::steady_clock;

constexpr int64_t kNow = 1'700'000'000;
constexpr int64_t kUntil = kNow + 3600;
const Steady::time_point kT0 = Steady::time_point(1000s);

Revocation jti(std::string value, std::string issuer = {}) {
  return {Kind::jti, std::move(issuer), std::move(value), kNow, kUntil};
}
Revocation subject(std::string value, std::string issuer = {}, int64_t at = kNow) {
  return {Kind::subject, std::move(issuer), std::move(value), at, kUntil};
}

// Not "n" + std::to_string(i): g++ 12 warns falsely (-Wrestrict) on that.
std::string numbered(std::string prefix, int i) {
  return prefix.append(std::to_string(i));
}

boost::json::object claims(std::string_view json) {
  return boost::json::parse(json).as_object();
}

TEST(RevocationListTest, EmptyRevokesNothing) {
  RevocationList list;
  EXPECT_TRUE(list.empty());
  EXPECT_FALSE(list.is_revoked(claims(R"({"jti":"a","sub":"u","iss":"i"})"), kNow));
}

TEST(RevocationListTest, JtiForItsIssuerOnly) {
  RevocationList list;
  ASSERT_EQ(list.add(jti("a", "https://idp.one")), "");
  EXPECT_EQ(list.size(), 1u);
  EXPECT_TRUE(list.is_revoked(claims(R"({"jti":"a","iss":"https://idp.one"})"), kNow));
  EXPECT_FALSE(list.is_revoked(claims(R"({"jti":"a","iss":"https://idp.two"})"), kNow));
  EXPECT_FALSE(list.is_revoked(claims(R"({"jti":"a"})"), kNow));
  EXPECT_FALSE(list.is_revoked(claims(R"({"jti":"b","iss":"https://idp.one"})"), kNow));
  EXPECT_FALSE(list.is_revoked(claims(R"({"jti":["a"],"iss":"https://idp.one"})"), kNow));
}

TEST(RevocationListTest, JtiForAnyIssuer) {
  RevocationList list;
  ASSERT_EQ(list.add(jti("a")), "");
  EXPECT_TRUE(list.is_revoked(claims(R"({"jti":"a","iss":"https://idp.one"})"), kNow));
  EXPECT_TRUE(list.is_revoked(claims(R"({"jti":"a","iss":"https://idp.two"})"), kNow));
  EXPECT_TRUE(list.is_revoked(claims(R"({"jti":"a"})"), kNow));
  EXPECT_TRUE(list.is_revoked(claims(R"({"jti":"a","iss":5})"), kNow));
}

TEST(RevocationListTest, JtiDoesNotRevokeBySubject) {
  RevocationList list;
  ASSERT_EQ(list.add(jti("u")), "");
  EXPECT_FALSE(list.is_revoked(claims(R"({"sub":"u","iat":1})"), kNow));
}

struct IatCase {
  const char* name;
  const char* claims;
  bool revoked;
};

class SubjectIatTest : public ::testing::TestWithParam<IatCase> {};

TEST_P(SubjectIatTest, IssuedAtOrBeforeTheRevocation) {
  RevocationList list;
  ASSERT_EQ(list.add(subject("u", "", kNow)), "");
  EXPECT_EQ(list.is_revoked(claims(GetParam().claims), kNow + 10), GetParam().revoked);
}

// kNow = 1700000000
INSTANTIATE_TEST_SUITE_P(
    Cases, SubjectIatTest,
    ::testing::Values(IatCase{"earlier", R"({"sub":"u","iat":1699999000})", true},
                      IatCase{"equal", R"({"sub":"u","iat":1700000000})", true},
                      IatCase{"same_second_fraction", R"({"sub":"u","iat":1700000000.9})", true},
                      IatCase{"one_second_later", R"({"sub":"u","iat":1700000001})", false},
                      IatCase{"later_fraction", R"({"sub":"u","iat":1700000001.5})", false},
                      IatCase{"no_iat", R"({"sub":"u"})", true},
                      IatCase{"string_iat", R"({"sub":"u","iat":"1700000001"})", true},
                      IatCase{"negative_iat", R"({"sub":"u","iat":-1})", true},
                      IatCase{"huge_iat", R"({"sub":"u","iat":1e300})", true},
                      IatCase{"other_subject", R"({"sub":"v","iat":1})", false},
                      IatCase{"sub_not_string", R"({"sub":1,"iat":1})", false}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(RevocationListTest, SubjectForItsIssuerOrAny) {
  RevocationList list;
  ASSERT_EQ(list.add(subject("u", "https://idp.one")), "");
  EXPECT_TRUE(list.is_revoked(claims(R"({"sub":"u","iss":"https://idp.one","iat":1})"), kNow));
  EXPECT_FALSE(list.is_revoked(claims(R"({"sub":"u","iss":"https://idp.two","iat":1})"), kNow));
  ASSERT_EQ(list.add(subject("u")), "");
  EXPECT_TRUE(list.is_revoked(claims(R"({"sub":"u","iss":"https://idp.two","iat":1})"), kNow));
}

TEST(RevocationListTest, SubjectRevokedAgainKeepsTheLatestTime) {
  RevocationList list;
  ASSERT_EQ(list.add(subject("u", "", kNow + 100)), "");
  ASSERT_EQ(list.add(subject("u", "", kNow)), "");
  EXPECT_EQ(list.size(), 1u);
  EXPECT_TRUE(list.is_revoked(claims(R"({"sub":"u","iat":1700000100})"), kNow));
  EXPECT_FALSE(list.is_revoked(claims(R"({"sub":"u","iat":1700000101})"), kNow));
}

TEST(RevocationListTest, ExpiredEntriesNeverMatch) {
  RevocationList list;
  ASSERT_EQ(list.add(jti("a")), "");
  ASSERT_EQ(list.add(subject("u")), "");
  const auto token = claims(R"({"jti":"a","sub":"u"})");
  EXPECT_TRUE(list.is_revoked(token, kUntil));
  EXPECT_FALSE(list.is_revoked(token, kUntil + 1));
}

TEST(RevocationListTest, EmptyValueRefused) {
  RevocationList list;
  EXPECT_EQ(list.add(jti("")), "a revocation needs a jti or a sub");
  EXPECT_TRUE(list.empty());
}

TEST(RevocationListTest, BoundRefusesNewEntriesButMergesKnownOnes) {
  RevocationList list(2);
  ASSERT_EQ(list.add(jti("a"), kT0), "");
  ASSERT_EQ(list.add(subject("a"), kT0), "");
  EXPECT_EQ(list.add(jti("b"), kT0), "the revocation list is full (2 entries)");
  EXPECT_EQ(list.add(jti("a"), kT0), "");
  EXPECT_EQ(list.size(), 2u);
  EXPECT_EQ(list.merge({jti("x"), jti("y"), jti("z")}, kNow), 3u);
  EXPECT_EQ(list.size(), 2u);
}

TEST(RevocationListTest, MergeAddsTheStoreContentAndKeepsWhatItHeld) {
  RevocationList list;
  ASSERT_EQ(list.add(jti("mine"), kT0), "");
  EXPECT_EQ(list.merge({jti("a"), subject("u")}, kNow), 0u);
  EXPECT_EQ(list.size(), 3u);
  EXPECT_TRUE(list.is_revoked(claims(R"({"jti":"a"})"), kNow));
  // A store that lost entries (failover, restore) takes nothing away: nothing un-revokes.
  list.merge({}, kNow);
  EXPECT_EQ(list.size(), 3u);
  EXPECT_TRUE(list.is_revoked(claims(R"({"jti":"mine"})"), kNow));
  EXPECT_TRUE(list.is_revoked(claims(R"({"jti":"a"})"), kNow));
}

TEST(RevocationListTest, MergeForgetsWhatExpired) {
  RevocationList list;
  ASSERT_EQ(list.add(jti("old"), kT0), "");  // until kUntil
  list.merge({jti("a")}, kUntil);
  EXPECT_EQ(list.size(), 2u) << "expires_at itself still counts";
  list.merge({jti("a")}, kUntil + 1);
  EXPECT_TRUE(list.empty()) << "both expired, the store's copy too";
}

TEST(RevocationListTest, MergeTakesTheLaterTimes) {
  RevocationList list;
  ASSERT_EQ(list.add(subject("u", "", kNow + 50), kT0), "");
  list.merge({subject("u", "", kNow)}, kNow);
  EXPECT_EQ(list.size(), 1u);
  EXPECT_TRUE(list.is_revoked(claims(R"({"sub":"u","iat":1700000050})"), kNow));
  list.merge({subject("u", "", kNow + 100)}, kNow);
  EXPECT_TRUE(list.is_revoked(claims(R"({"sub":"u","iat":1700000100})"), kNow));
}

TEST(RevocationListTest, EntriesListsEverything) {
  RevocationList list;
  ASSERT_EQ(list.add(jti("a", "i")), "");
  ASSERT_EQ(list.add(subject("u")), "");
  auto all = list.entries();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_NE(std::find(all.begin(), all.end(), jti("a", "i")), all.end());
  EXPECT_NE(std::find(all.begin(), all.end(), subject("u")), all.end());
}

// Readers on many threads while a writer swaps the content: each read sees one whole table
// (the "always" entry stays revoked throughout). Run under TSan to check the design.
TEST(RevocationListTest, ManyReadersWhileReplacing) {
  RevocationList list;
  ASSERT_EQ(list.add(jti("always")), "");
  std::atomic<bool> stop{false};
  std::atomic<int> wrong{0};
  std::atomic<uint64_t> reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      const auto always = claims(R"({"jti":"always","iss":"i"})");
      const auto other = claims(R"({"jti":"n5","iss":"i"})");
      while (!stop.load()) {
        if (!list.is_revoked(always, kNow)) ++wrong;
        (void)list.is_revoked(other, kNow);
        reads.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  while (reads.load() < 100) std::this_thread::yield();
  for (int round = 0; round < 300 || reads.load() < 10'000; ++round) {
    std::vector<Revocation> content = {jti("always")};
    for (int i = 0; i < round % 20; ++i) content.push_back(jti(numbered("n", i)));
    list.merge(std::move(content), kNow);
    if (round % 7 == 0) {
      ASSERT_EQ(list.add(subject(numbered("s", round))), "");
    }
  }
  stop = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace bulwark::auth
