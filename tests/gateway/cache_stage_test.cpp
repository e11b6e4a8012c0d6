#include "gateway/cache_stage.hpp"

#include <gtest/gtest.h>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cache/memory_store.hpp"

namespace bulwark::gateway {
namespace {

using namespace std::chrono_literals;
using Fields = std::vector<http::HeaderField>;
using std::chrono::sys_seconds;

const sys_seconds kT0{std::chrono::seconds(1'700'000'000)};  // 2023-11-14T22:13:20Z
constexpr std::string_view kT0Date = "Tue, 14 Nov 2023 22:13:20 GMT";

CompiledCache shared_cache() {
  return compile_route_cache(config::RouteCache{});
}

CompiledCache per_identity_cache() {
  config::RouteCache route;
  route.scope = config::RouteCache::Scope::per_identity;
  return compile_route_cache(route);
}

auth::VerifiedClaims claims_of(std::string_view json, std::string issuer = "demo") {
  return auth::VerifiedClaims{.claims = boost::json::parse(json).as_object(),
                              .issuer = std::move(issuer),
                              .expires_at = std::nullopt};
}

// One exchange against a store: look up, and on a miss store what the "upstream" sends.
class CacheStageTest : public ::testing::Test {
 protected:
  cache::MemoryStore store{
      cache::MemoryStore::Options{.memory_bytes = 64 << 20, .max_object_bytes = 1 << 20}};
  CacheLookup lookup;

  CacheRequest request(std::string_view method, const Fields& fields,
                       const auth::VerifiedClaims* identity = nullptr) {
    return CacheRequest{.method = method,
                        .authority = "api.example.com",
                        .path = "/items/1",
                        .query = "",
                        .has_query = false,
                        .has_body = false,
                        .has_authorization = false,
                        .fields = fields,
                        .identity = identity};
  }

  // Stores the response for the request last looked up; returns the refusal.
  cache::StoreRefusal respond(const CompiledCache& config, const Fields& response,
                              std::string body = "hello", unsigned status = 200) {
    cache::StoreRefusal refusal;
    auto entry = storable_entry(config, lookup, status, "OK", response, kT0, kT0, refusal);
    if (!entry) return refusal;
    entry->body = std::make_shared<const std::string>(std::move(body));
    EXPECT_TRUE(store.insert(entry));
    return cache::StoreRefusal::none;
  }
};

TEST_F(CacheStageTest, PostBypassesWithFwdMethod) {
  Fields fields;
  look_up(shared_cache(), store, request("POST", fields), kT0, lookup);
  EXPECT_EQ(lookup.action, CacheAction::bypass);
  EXPECT_EQ(lookup.fwd, "method");
}

TEST_F(CacheStageTest, RangeRequestBypassesWithFwdRequest) {
  Fields fields{{"Range", "bytes=0-10"}};
  look_up(shared_cache(), store, request("GET", fields), kT0, lookup);
  EXPECT_EQ(lookup.action, CacheAction::bypass);
  EXPECT_EQ(lookup.fwd, "request");
}

TEST_F(CacheStageTest, IfMatchBypasses) {
  Fields fields{{"If-Match", "\"a\""}};
  look_up(shared_cache(), store, request("GET", fields), kT0, lookup);
  EXPECT_EQ(lookup.action, CacheAction::bypass);
}

TEST_F(CacheStageTest, GetWithBodyBypasses) {
  Fields fields;
  auto req = request("GET", fields);
  req.has_body = true;
  look_up(shared_cache(), store, req, kT0, lookup);
  EXPECT_EQ(lookup.action, CacheAction::bypass);
  EXPECT_EQ(lookup.fwd, "request");
}

TEST_F(CacheStageTest, EmptyStoreIsAMiss) {
  Fields fields;
  look_up(shared_cache(), store, request("GET", fields), kT0, lookup);
  EXPECT_EQ(lookup.action, CacheAction::miss);
  EXPECT_EQ(lookup.fwd, "miss");
  EXPECT_EQ(lookup.uri_key, "api.example.com/items/1");
}

TEST_F(CacheStageTest, OnlyIfCachedMissIsUnavailable) {
  Fields fields{{"Cache-Control", "only-if-cached"}};
  look_up(shared_cache(), store, request("GET", fields), kT0, lookup);
  EXPECT_EQ(lookup.action, CacheAction::unavailable);
}

TEST_F(CacheStageTest, StoredFreshResponseIsAHitForGetAndHead) {
  Fields fields;
  auto config = shared_cache();
  look_up(config, store, request("GET", fields), kT0, lookup);
  ASSERT_EQ(respond(config, {{"Cache-Control", "max-age=60"}, {"Date", kT0Date}}),
            cache::StoreRefusal::none);
  look_up(config, store, request("GET", fields), kT0 + 10s, lookup);
  ASSERT_EQ(lookup.action, CacheAction::hit);
  EXPECT_EQ(*lookup.entry->body, "hello");
  look_up(config, store, request("HEAD", fields), kT0 + 10s, lookup);
  EXPECT_EQ(lookup.action, CacheAction::hit);
  EXPECT_TRUE(lookup.head);
}

TEST_F(CacheStageTest, HeadMissIsNotStored) {
  Fields fields;
  auto config = shared_cache();
  look_up(config, store, request("HEAD", fields), kT0, lookup);
  ASSERT_EQ(lookup.action, CacheAction::miss);
  // A HEAD response has no body to answer a GET with: the caller never stores it, and the
  // stage marks the lookup as HEAD so that it can tell.
  EXPECT_TRUE(lookup.head);
}

TEST_F(CacheStageTest, PastLifetimeValidatesWithFwdStale) {
  Fields fields;
  auto config = shared_cache();
  look_up(config, store, request("GET", fields), kT0, lookup);
  respond(config, {{"Cache-Control", "max-age=60"}, {"Date", kT0Date}, {"ETag", "\"v1\""}});
  look_up(config, store, request("GET", fields), kT0 + 60s, lookup);
  EXPECT_EQ(lookup.action, CacheAction::validate);
  EXPECT_EQ(lookup.fwd, "stale");
  ASSERT_TRUE(lookup.entry);
  EXPECT_EQ(lookup.entry->etag, "\"v1\"");
}

TEST_F(CacheStageTest, RequestNoCacheValidatesWithFwdRequest) {
  Fields fields;
  auto config = shared_cache();
  look_up(config, store, request("GET", fields), kT0, lookup);
  respond(config, {{"Cache-Control", "max-age=60"}, {"Date", kT0Date}});
  Fields no_cache{{"Cache-Control", "no-cache"}};
  look_up(config, store, request("GET", no_cache), kT0 + 1s, lookup);
  EXPECT_EQ(lookup.action, CacheAction::validate);
  EXPECT_EQ(lookup.fwd, "request");
}

TEST_F(CacheStageTest, PragmaNoCacheCountsOnlyWithoutCacheControl) {
  Fields fields;
  auto config = shared_cache();
  look_up(config, store, request("GET", fields), kT0, lookup);
  respond(config, {{"Cache-Control", "max-age=60"}, {"Date", kT0Date}});
  Fields pragma{{"Pragma", "no-cache"}};
  look_up(config, store, request("GET", pragma), kT0 + 1s, lookup);
  EXPECT_EQ(lookup.action, CacheAction::validate);
  Fields both{{"Pragma", "no-cache"}, {"Cache-Control", "max-stale"}};
  look_up(config, store, request("GET", both), kT0 + 1s, lookup);
  EXPECT_EQ(lookup.action, CacheAction::hit);
}

TEST_F(CacheStageTest, StaleWhileRevalidateServesAndRefreshes) {
  Fields fields;
  auto config = shared_cache();
  look_up(config, store, request("GET", fields), kT0, lookup);
  respond(config, {{"Cache-Control", "max-age=1, stale-while-revalidate=30"}, {"Date", kT0Date}});
  look_up(config, store, request("GET", fields), kT0 + 5s, lookup);
  EXPECT_EQ(lookup.action, CacheAction::hit_and_refresh);
  look_up(config, store, request("GET", fields), kT0 + 32s, lookup);
  EXPECT_EQ(lookup.action, CacheAction::validate);
}

TEST_F(CacheStageTest, MatchingIfNoneMatchAnswersNotModified) {
  Fields fields;
  auto config = shared_cache();
  look_up(config, store, request("GET", fields), kT0, lookup);
  respond(config, {{"Cache-Control", "max-age=60"}, {"Date", kT0Date}, {"ETag", "\"v1\""}});
  Fields conditional{{"If-None-Match", "W/\"v1\""}};
  look_up(config, store, request("GET", conditional), kT0 + 1s, lookup);
  ASSERT_EQ(lookup.action, CacheAction::hit);
  EXPECT_TRUE(lookup.not_modified);
  Fields other{{"If-None-Match", "\"v2\""}};
  look_up(config, store, request("GET", other), kT0 + 1s, lookup);
  ASSERT_EQ(lookup.action, CacheAction::hit);
  EXPECT_FALSE(lookup.not_modified);
}

TEST_F(CacheStageTest, SetCookieIsNeverStored) {
  Fields fields;
  auto config = shared_cache();
  look_up(config, store, request("GET", fields), kT0, lookup);
  EXPECT_EQ(respond(config, {{"Cache-Control", "public, max-age=60"}, {"Set-Cookie", "s=1"}}),
            cache::StoreRefusal::set_cookie);
}

TEST_F(CacheStageTest, SharedScopeRefusesPrivate) {
  Fields fields;
  auto config = shared_cache();
  look_up(config, store, request("GET", fields), kT0, lookup);
  EXPECT_EQ(respond(config, {{"Cache-Control", "private, max-age=60"}}),
            cache::StoreRefusal::private_response);
}

TEST_F(CacheStageTest, AuthorizationNeedsPublicInSharedScope) {
  Fields fields{{"Authorization", "Bearer x"}};
  auto config = shared_cache();
  auto req = request("GET", fields);
  req.has_authorization = true;
  look_up(config, store, req, kT0, lookup);
  EXPECT_EQ(respond(config, {{"Cache-Control", "max-age=60"}}), cache::StoreRefusal::authorization);
  EXPECT_EQ(respond(config, {{"Cache-Control", "public, max-age=60"}}), cache::StoreRefusal::none);
}

TEST_F(CacheStageTest, PerIdentityEntriesNeverCrossIdentities) {
  auto config = per_identity_cache();
  auto alice = claims_of(R"({"sub":"alice"})");
  auto bob = claims_of(R"({"sub":"bob"})");
  Fields fields{{"Authorization", "Bearer a"}};
  auto req = request("GET", fields, &alice);
  req.has_authorization = true;
  look_up(config, store, req, kT0, lookup);
  EXPECT_TRUE(lookup.private_allowed);
  ASSERT_EQ(respond(config, {{"Cache-Control", "private, max-age=60"}}, "alice's"),
            cache::StoreRefusal::none);

  look_up(config, store, req, kT0 + 1s, lookup);
  ASSERT_EQ(lookup.action, CacheAction::hit);
  EXPECT_EQ(*lookup.entry->body, "alice's");

  auto bob_req = request("GET", fields, &bob);
  bob_req.has_authorization = true;
  look_up(config, store, bob_req, kT0 + 1s, lookup);
  EXPECT_EQ(lookup.action, CacheAction::miss);

  Fields anonymous;
  look_up(config, store, request("GET", anonymous), kT0 + 1s, lookup);
  EXPECT_EQ(lookup.action, CacheAction::miss);
  EXPECT_FALSE(lookup.private_allowed);
}

TEST_F(CacheStageTest, PerIdentityAnonymousCallerCannotStorePrivate) {
  auto config = per_identity_cache();
  Fields fields;
  look_up(config, store, request("GET", fields), kT0, lookup);
  EXPECT_EQ(respond(config, {{"Cache-Control", "private, max-age=60"}}),
            cache::StoreRefusal::private_response);
}

TEST_F(CacheStageTest, IdentityHoldsTheClaimsType) {
  auto config = per_identity_cache();
  auto numeric = claims_of(R"({"sub":42})");
  auto text = claims_of(R"({"sub":"42"})");
  Fields fields;
  look_up(config, store, request("GET", fields, &numeric), kT0, lookup);
  std::string numeric_identity = lookup.identity;
  look_up(config, store, request("GET", fields, &text), kT0, lookup);
  EXPECT_NE(numeric_identity, lookup.identity);
  EXPECT_FALSE(numeric_identity.empty());
  EXPECT_EQ(lookup.identity, cache::identity_prefix("4:demos42"));
}

TEST_F(CacheStageTest, IdentityHoldsTheIssuer) {
  auto config = per_identity_cache();
  auto first = claims_of(R"({"sub":"1001"})", "issuer-a");
  auto second = claims_of(R"({"sub":"1001"})", "issuer-b");
  Fields fields;
  look_up(config, store, request("GET", fields, &first), kT0, lookup);
  ASSERT_EQ(lookup.action, CacheAction::miss);
  ASSERT_EQ(respond(config, {{"Cache-Control", "private, max-age=60"}}, "a's"),
            cache::StoreRefusal::none);
  look_up(config, store, request("GET", fields, &second), kT0 + 1s, lookup);
  EXPECT_EQ(lookup.action, CacheAction::miss);
  look_up(config, store, request("GET", fields, &first), kT0 + 1s, lookup);
  EXPECT_EQ(lookup.action, CacheAction::hit);
}

TEST_F(CacheStageTest, VerifiedTokenWithoutUsableIdentityBypasses) {
  auto config = per_identity_cache();
  Fields fields;
  for (auto json : {R"({"client":"svc-1"})", R"({"sub":null})", R"({"sub":""})"}) {
    auto claims = claims_of(json);
    look_up(config, store, request("GET", fields, &claims), kT0, lookup);
    EXPECT_EQ(lookup.action, CacheAction::bypass) << json;
    EXPECT_EQ(lookup.fwd, "bypass") << json;
  }
}

TEST_F(CacheStageTest, OverrideHeadersBypass) {
  for (auto name : {"X-Original-URL", "X-Rewrite-URL", "X-HTTP-Method-Override", "x-http-method",
                    "X-Method-Override"}) {
    Fields fields{{name, "/admin"}};
    look_up(shared_cache(), store, request("GET", fields), kT0, lookup);
    EXPECT_EQ(lookup.action, CacheAction::bypass) << name;
    EXPECT_EQ(lookup.fwd, "request") << name;
  }
}

TEST_F(CacheStageTest, VaryOnAFieldBulwarkRewritesIsNotStored) {
  auto config = shared_cache();
  Fields fields{{"X-Forwarded-Host", "evil.example"}};
  for (auto vary : {"X-Forwarded-Host", "Accept, x-forwarded-proto", "Forwarded", "Via",
                    "X-Forwarded-For", "X-Real-IP"}) {
    look_up(config, store, request("GET", fields), kT0, lookup);
    EXPECT_EQ(respond(config, {{"Cache-Control", "max-age=60"}, {"Vary", vary}}),
              cache::StoreRefusal::vary)
        << vary;
  }
}

TEST_F(CacheStageTest, AuthorityKeepsItsPort) {
  Fields fields;
  auto req = request("GET", fields);
  req.authority = "api.example.com:8080";
  look_up(shared_cache(), store, req, kT0, lookup);
  EXPECT_EQ(lookup.uri_key, "api.example.com:8080/items/1");
}

TEST_F(CacheStageTest, VaryKeepsVariantsApart) {
  auto config = shared_cache();
  Fields json{{"Accept", "application/json"}};
  Fields xml{{"Accept", "application/xml"}};
  look_up(config, store, request("GET", json), kT0, lookup);
  respond(config, {{"Cache-Control", "max-age=60"}, {"Vary", "Accept"}}, "json");
  look_up(config, store, request("GET", xml), kT0, lookup);
  EXPECT_EQ(lookup.action, CacheAction::miss);
  respond(config, {{"Cache-Control", "max-age=60"}, {"Vary", "Accept"}}, "xml");
  look_up(config, store, request("GET", json), kT0 + 1s, lookup);
  ASSERT_EQ(lookup.action, CacheAction::hit);
  EXPECT_EQ(*lookup.entry->body, "json");
  look_up(config, store, request("GET", xml), kT0 + 1s, lookup);
  ASSERT_EQ(lookup.action, CacheAction::hit);
  EXPECT_EQ(*lookup.entry->body, "xml");
}

TEST_F(CacheStageTest, VaryStarIsNotStored) {
  auto config = shared_cache();
  Fields fields;
  look_up(config, store, request("GET", fields), kT0, lookup);
  EXPECT_NE(respond(config, {{"Cache-Control", "max-age=60"}, {"Vary", "*"}}),
            cache::StoreRefusal::none);
  look_up(config, store, request("GET", fields), kT0, lookup);
  EXPECT_EQ(lookup.action, CacheAction::miss);
}

TEST_F(CacheStageTest, HopByHopFramingAndAgeFieldsAreNotStored) {
  auto config = shared_cache();
  Fields fields;
  look_up(config, store, request("GET", fields), kT0, lookup);
  cache::StoreRefusal refusal;
  Fields response{{"Cache-Control", "max-age=60"},
                  {"Connection", "X-Hop"},
                  {"X-Hop", "1"},
                  {"Keep-Alive", "timeout=5"},
                  {"Content-Length", "5"},
                  {"Transfer-Encoding", "chunked"},
                  {"Age", "10"},
                  {"X-Kept", "yes"},
                  {"Date", kT0Date}};
  auto entry = storable_entry(config, lookup, 200, "OK", response, kT0, kT0, refusal);
  ASSERT_TRUE(entry);
  std::vector<std::string> names;
  for (const auto& [name, value] : entry->fields) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"Cache-Control", "X-Kept", "Date"}));
  EXPECT_EQ(entry->age_at(kT0), 10s);  // the Age it came with still counts
}

TEST_F(CacheStageTest, MissingDateIsAddedFromTheReceiptTime) {
  auto config = shared_cache();
  Fields fields;
  look_up(config, store, request("GET", fields), kT0, lookup);
  cache::StoreRefusal refusal;
  const Fields response{{"Cache-Control", "max-age=60"}};
  auto entry = storable_entry(config, lookup, 200, "OK", response, kT0, kT0, refusal);
  ASSERT_TRUE(entry);
  auto date = entry->field("date");
  ASSERT_TRUE(date);
  EXPECT_EQ(*date, kT0Date);
}

TEST_F(CacheStageTest, InvalidAgeIsIgnored) {
  // RFC 9111 §5.1: "a cache SHOULD ignore the field".
  auto config = shared_cache();
  Fields fields;
  look_up(config, store, request("GET", fields), kT0, lookup);
  cache::StoreRefusal refusal;
  const Fields response{{"Cache-Control", "max-age=60"}, {"Age", "ten"}, {"Date", kT0Date}};
  auto entry = storable_entry(config, lookup, 200, "OK", response, kT0, kT0, refusal);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->age_at(kT0 + 5s), 5s);
  EXPECT_FALSE(entry->field("age"));
}

TEST_F(CacheStageTest, FreshEntryRefusedByTheClientIsFwdRequest) {
  auto config = shared_cache();
  Fields fields;
  look_up(config, store, request("GET", fields), kT0, lookup);
  respond(config, {{"Cache-Control", "max-age=60"}, {"Date", kT0Date}});
  Fields min_fresh{{"Cache-Control", "min-fresh=120"}};
  look_up(config, store, request("GET", min_fresh), kT0 + 1s, lookup);
  EXPECT_EQ(lookup.action, CacheAction::validate);
  EXPECT_EQ(lookup.fwd, "request");
  Fields max_age{{"Cache-Control", "max-age=0"}};
  look_up(config, store, request("GET", max_age), kT0 + 1s, lookup);
  EXPECT_EQ(lookup.fwd, "request");
}

TEST_F(CacheStageTest, CoalescibleOnlyWhenWaitingCanAnswer) {
  auto config = shared_cache();
  Fields fields;
  look_up(config, store, request("GET", fields), kT0, lookup);
  EXPECT_TRUE(coalescible(lookup));  // a miss
  respond(config, {{"Cache-Control", "max-age=60"}, {"Date", kT0Date}, {"ETag", "\"a\""}});
  look_up(config, store, request("GET", fields), kT0 + 61s, lookup);
  ASSERT_EQ(lookup.action, CacheAction::validate);
  EXPECT_TRUE(coalescible(lookup));  // stale with a lifetime: the refreshed entry answers
  Fields no_cache{{"Cache-Control", "no-cache"}};
  look_up(config, store, request("GET", no_cache), kT0 + 61s, lookup);
  EXPECT_FALSE(coalescible(lookup));
  Fields max_age_0{{"Cache-Control", "max-age=0"}};
  look_up(config, store, request("GET", max_age_0), kT0 + 61s, lookup);
  EXPECT_FALSE(coalescible(lookup));
  respond(config, {{"Cache-Control", "no-cache, max-age=60"}, {"Date", kT0Date}});
  look_up(config, store, request("GET", fields), kT0 + 1s, lookup);
  ASSERT_EQ(lookup.action, CacheAction::validate);
  EXPECT_FALSE(coalescible(lookup));  // every use validates
}

TEST_F(CacheStageTest, FlightKeySeparatesIdentities) {
  auto config = per_identity_cache();
  auto alice = claims_of(R"({"sub":"alice"})");
  Fields fields;
  look_up(config, store, request("GET", fields, &alice), kT0, lookup);
  std::string alice_key = lookup.flight_key();
  look_up(config, store, request("GET", fields), kT0, lookup);
  EXPECT_NE(alice_key, lookup.flight_key());
}

TEST(CacheStatusFields, HitLine) {
  cache::Entry entry;
  entry.date = kT0;
  entry.request_time = kT0;
  entry.response_time = kT0;
  entry.lifetime.lifetime = 60s;
  std::string out;
  append_hit_fields(entry, kT0 + 15s, false, out);
  EXPECT_EQ(out, "Age: 15\r\nCache-Status: bulwark; hit; ttl=45\r\n");
  out.clear();
  append_hit_fields(entry, kT0 + 75s, true, out);
  EXPECT_EQ(out, "Age: 75\r\nCache-Status: bulwark; hit; ttl=-15; collapsed; detail=stale\r\n");
}

TEST(CacheStatusFields, ForwardLine) {
  std::string out;
  append_forward_fields({.fwd = "miss", .fwd_status = 200, .stored = true}, out);
  EXPECT_EQ(out, "Cache-Status: bulwark; fwd=miss; fwd-status=200; stored\r\n");
  out.clear();
  append_forward_fields({.fwd = "stale", .fwd_status = 503, .ttl = -4, .detail = "stale-if-error"},
                        out);
  EXPECT_EQ(out,
            "Cache-Status: bulwark; fwd=stale; fwd-status=503; ttl=-4; detail=stale-if-error\r\n");
  out.clear();
  append_forward_fields({.fwd = "method"}, out);
  EXPECT_EQ(out, "Cache-Status: bulwark; fwd=method\r\n");
}

TEST(InvalidatedTargets, SameHostOnly) {
  Fields response{{"Location", "/items/2"},
                  {"Content-Location", "http://API.example.com:8080/items/3?x=1"},
                  {"Location", "http://other.example.com/items/4"},
                  {"Location", "relative/path"},
                  {"X-Other", "/items/5"}};
  auto targets = invalidated_targets("api.example.com:8080", "/items/1", response);
  ASSERT_EQ(targets.size(), 3u);
  EXPECT_EQ(targets[0].path, "/items/2");
  EXPECT_EQ(targets[1].path, "/items/3");
  EXPECT_EQ(targets[1].query, "x=1");
  EXPECT_TRUE(targets[1].authority.empty());
  EXPECT_EQ(targets[2].path, "/items/relative/path");  // resolved against /items/
}

TEST(InvalidatedTargets, RelativeReferencesResolveAgainstTheRequest) {
  Fields response{{"Location", "?z=1"},
                  {"Location", "sibling?next=http://a.example/"},
                  {"Content-Location", "../up#part"},
                  {"Location", "#only-a-fragment"},
                  {"Location", "//other.example/x"}};
  auto targets = invalidated_targets("h", "/a/b/c", response);
  ASSERT_EQ(targets.size(), 3u);
  EXPECT_EQ(targets[0].path, "/a/b/c");
  EXPECT_EQ(targets[0].query, "z=1");
  EXPECT_EQ(targets[1].path, "/a/b/sibling");
  EXPECT_EQ(targets[1].query, "next=http://a.example/");
  EXPECT_EQ(targets[2].path, "/a/up");
}

TEST(InvalidatedTargets, OtherPortIsAnotherOrigin) {
  Fields response{{"Location", "http://api.example.com:9090/items/3"}};
  EXPECT_TRUE(invalidated_targets("api.example.com:8080", "/", response).empty());
}

TEST(InvalidatedTargets, PathsAreNormalized) {
  Fields response{{"Location", "/a/./b/../c"}};
  auto targets = invalidated_targets("h", "/", response);
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0].path, "/a/c");
}

TEST(UnsafeMethods, Classification) {
  for (auto method : {"POST", "PUT", "PATCH", "DELETE", "PURGE"}) {
    EXPECT_TRUE(is_unsafe_method(method)) << method;
  }
  for (auto method : {"GET", "HEAD", "OPTIONS", "TRACE"}) {
    EXPECT_FALSE(is_unsafe_method(method)) << method;
  }
}

}  // namespace
}  // namespace bulwark::gateway
