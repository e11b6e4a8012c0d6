#include "auth/remote_key_set.hpp"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "auth_test_support.hpp"

namespace bulwark::auth {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using testing_support::key_material;
using testing_support::unwrap;
using Clock = RemoteKeySet::Clock;

const Clock::time_point kT0 = Clock::time_point(1000h);

// A JWKS document with one ES256 key per kid (the same public key each time).
std::string jwks_document(std::initializer_list<std::string> kids) {
  json::array keys;
  for (const auto& kid : kids) {
    auto key = unwrap(VerificationKey::from_public_pem(key_material(Algorithm::ES256).public_pem,
                                                       Algorithm::ES256, kid));
    keys.push_back(*public_jwk(key));
  }
  return json::serialize(json::object{{"keys", keys}});
}

std::shared_ptr<const JwkSet> parse(const std::string& document) {
  return std::make_shared<const JwkSet>(unwrap(key_set_from_jwks_json(document)));
}

RemoteKeySet::Options options() {
  return RemoteKeySet::Options{
      .url = "https://idp.example/jwks.json", .alg = Algorithm::ES256, .unknown_kid_refetch = 30s};
}

TEST(KeyGeneration, StartsAtOneAndGrows) {
  KeyGeneration generation;
  EXPECT_EQ(generation.current(), 1u);
  generation.bump();
  generation.bump();
  EXPECT_EQ(generation.current(), 3u);
}

TEST(RemoteKeySet, EmptyBeforeTheFirstInstall) {
  KeyGeneration generation;
  RemoteKeySet set(options(), generation);
  EXPECT_EQ(set.current(), nullptr);
  const auto status = set.status();
  EXPECT_FALSE(status.has_keys);
  EXPECT_EQ(status.fetches_ok, 0u);
  EXPECT_EQ(status.fetches_failed, 0u);
  EXPECT_EQ(status.last_error, "");
  EXPECT_EQ(generation.current(), 1u);
  EXPECT_EQ(set.options().url, "https://idp.example/jwks.json");
  EXPECT_EQ(set.options().alg, Algorithm::ES256);
}

TEST(RemoteKeySet, FirstInstallBumpsTheGeneration) {
  KeyGeneration generation;
  RemoteKeySet set(options(), generation);
  const std::string document = jwks_document({"k1"});
  auto keys = parse(document);
  set.install(keys, document);
  EXPECT_EQ(set.current(), keys);
  EXPECT_EQ(generation.current(), 2u);
  const auto status = set.status();
  EXPECT_TRUE(status.has_keys);
  EXPECT_EQ(status.fetches_ok, 1u);
}

TEST(RemoteKeySet, SameDocumentKeepsTheGeneration) {
  KeyGeneration generation;
  RemoteKeySet set(options(), generation);
  const std::string document = jwks_document({"k1"});
  set.install(parse(document), document);
  auto again = parse(document);
  set.install(again, document);
  EXPECT_EQ(generation.current(), 2u);
  EXPECT_EQ(set.current(), again) << "the newest parsed set is served";
  EXPECT_EQ(set.status().fetches_ok, 2u);
}

TEST(RemoteKeySet, ChangedDocumentBumpsTheGeneration) {
  KeyGeneration generation;
  RemoteKeySet set(options(), generation);
  const std::string first = jwks_document({"k1"});
  const std::string second = jwks_document({"k1", "k2"});
  set.install(parse(first), first);
  set.install(parse(second), second);
  EXPECT_EQ(generation.current(), 3u);
  ASSERT_NE(set.current(), nullptr);
  EXPECT_EQ(set.current()->keys.size(), 2u);
  // Going back to the first document is a change too.
  set.install(parse(first), first);
  EXPECT_EQ(generation.current(), 4u);
  set.install(parse(first), first);
  EXPECT_EQ(generation.current(), 4u);
}

TEST(RemoteKeySet, FailureKeepsTheLastGoodSet) {
  KeyGeneration generation;
  RemoteKeySet set(options(), generation);
  const std::string document = jwks_document({"k1"});
  auto keys = parse(document);
  set.install(keys, document);
  set.record_failure("connect: connection refused");
  set.record_failure("HTTP 503");
  EXPECT_EQ(set.current(), keys);
  EXPECT_EQ(generation.current(), 2u);
  auto status = set.status();
  EXPECT_TRUE(status.has_keys);
  EXPECT_EQ(status.fetches_ok, 1u);
  EXPECT_EQ(status.fetches_failed, 2u);
  EXPECT_EQ(status.last_error, "HTTP 503");
  // The next good fetch clears the error; the failure count stays.
  set.install(parse(document), document);
  status = set.status();
  EXPECT_EQ(status.last_error, "");
  EXPECT_EQ(status.fetches_ok, 2u);
  EXPECT_EQ(status.fetches_failed, 2u);
}

TEST(RemoteKeySet, FailureBeforeAnySet) {
  KeyGeneration generation;
  RemoteKeySet set(options(), generation);
  set.record_failure("DNS: no such host");
  EXPECT_EQ(set.current(), nullptr);
  const auto status = set.status();
  EXPECT_FALSE(status.has_keys);
  EXPECT_EQ(status.fetches_failed, 1u);
  EXPECT_EQ(status.last_error, "DNS: no such host");
  EXPECT_EQ(generation.current(), 1u);
}

TEST(RemoteKeySet, RefetchRequestsRateLimited) {
  KeyGeneration generation;
  RemoteKeySet set(options(), generation);
  EXPECT_TRUE(set.request_refetch(kT0));
  EXPECT_FALSE(set.request_refetch(kT0));
  EXPECT_FALSE(set.request_refetch(kT0 + 29s));
  EXPECT_FALSE(set.request_refetch(kT0 + 30s - 1ms));
  EXPECT_TRUE(set.request_refetch(kT0 + 30s));
  // The window restarts from the last granted request, not from the refused ones.
  EXPECT_FALSE(set.request_refetch(kT0 + 59s));
  EXPECT_TRUE(set.request_refetch(kT0 + 60s));
}

TEST(RemoteKeySet, RefetchTakenOnce) {
  KeyGeneration generation;
  RemoteKeySet set(options(), generation);
  EXPECT_FALSE(set.take_refetch_request()) << "nothing requested yet";
  EXPECT_TRUE(set.request_refetch(kT0));
  EXPECT_TRUE(set.take_refetch_request());
  EXPECT_FALSE(set.take_refetch_request());
  // A refused request schedules nothing.
  EXPECT_FALSE(set.request_refetch(kT0 + 1s));
  EXPECT_FALSE(set.take_refetch_request());
  // Two granted requests before the fetcher looks are one refetch.
  EXPECT_TRUE(set.request_refetch(kT0 + 30s));
  EXPECT_TRUE(set.request_refetch(kT0 + 60s));
  EXPECT_TRUE(set.take_refetch_request());
  EXPECT_FALSE(set.take_refetch_request());
}

TEST(RemoteKeySet, ZeroRefetchIntervalGrantsEveryRequest) {
  KeyGeneration generation;
  auto zero = options();
  zero.unknown_kid_refetch = 0ms;
  RemoteKeySet set(zero, generation);
  EXPECT_TRUE(set.request_refetch(kT0));
  EXPECT_TRUE(set.request_refetch(kT0));
}

TEST(RemoteKeySet, SharesOneGenerationWithOtherSets) {
  KeyGeneration generation;
  RemoteKeySet a(options(), generation);
  auto other = options();
  other.url = "https://other.example/jwks.json";
  RemoteKeySet b(other, generation);
  const std::string document = jwks_document({"k1"});
  a.install(parse(document), document);
  b.install(parse(document), document);
  EXPECT_EQ(generation.current(), 3u) << "each set's first install is a change";
}

}  // namespace
}  // namespace bulwark::auth
