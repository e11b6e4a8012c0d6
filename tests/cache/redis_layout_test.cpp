#include "cache/redis_layout.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "cache/http_date.hpp"
#include "cache/key.hpp"

namespace bulwark::cache {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::sys_seconds;

constexpr sys_seconds kT0{seconds{784111777}};
constexpr std::string_view kUri = "api.example/items?a=1";

// The text between the first '{' and the following '}': what Redis Cluster hashes.
std::string hash_tag(std::string_view key) {
  const size_t open = key.find('{');
  const size_t close = key.find('}', open + 1);
  return std::string(key.substr(open + 1, close - open - 1));
}

TEST(RedisLayout, DigestIsSha256Prefix) {
  // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223 b00361a396177a9cb410ff61f20015ad
  EXPECT_EQ(redis_digest("abc"), "ba7816bf8f01cfea414140de5dae2223");
  EXPECT_EQ(redis_digest(""), "e3b0c44298fc1c149afbf4c8996fb924");
}

TEST(RedisLayout, Names) {
  const std::string tag = redis_digest(kUri);
  EXPECT_EQ(redis_variants_key("bw:", kUri, ""), "bw:{" + tag + "}:v:s");
  EXPECT_EQ(redis_variants_key("bw:", kUri, identity_prefix("alice")),
            "bw:{" + tag + "}:v:i" + redis_digest(identity_prefix("alice")));
  EXPECT_EQ(redis_url_set_key("bw:", kUri), "bw:{" + tag + "}:u:" + std::string(kUri));
  EXPECT_EQ(redis_lock_key("bw:", kUri, ""), "bw:{" + tag + "}:l:s");
  EXPECT_EQ(redis_variants_prefix("bw:", kUri), "bw:{" + tag + "}:v:");
}

TEST(RedisLayout, OneUrlOneHashTag) {
  const std::string alice = identity_prefix("alice");
  const std::string tag = hash_tag(redis_url_set_key("p:", kUri));
  EXPECT_EQ(tag.size(), 32u);
  EXPECT_EQ(hash_tag(redis_variants_key("p:", kUri, "")), tag);
  EXPECT_EQ(hash_tag(redis_variants_key("p:", kUri, alice)), tag);
  EXPECT_EQ(hash_tag(redis_lock_key("p:", kUri, alice)), tag);
  EXPECT_NE(hash_tag(redis_url_set_key("p:", "api.example/items?a=2")), tag);
}

TEST(RedisLayout, IdentitiesAndUrlsGetDistinctKeys) {
  const std::string alice = identity_prefix("alice");
  const std::string bob = identity_prefix("bob");
  EXPECT_NE(redis_variants_key("p:", kUri, alice), redis_variants_key("p:", kUri, bob));
  EXPECT_NE(redis_variants_key("p:", kUri, alice), redis_variants_key("p:", kUri, ""));
  EXPECT_NE(redis_lock_key("p:", kUri, alice), redis_lock_key("p:", kUri, ""));
  EXPECT_NE(redis_variants_key("p:", "a/1", ""), redis_variants_key("p:", "a/2", ""));
  // The identity's bytes never appear in a key name.
  EXPECT_EQ(redis_variants_key("p:", kUri, alice).find("alice"), std::string::npos);
}

TEST(RedisLayout, UrlKeyReadBackFromSetName) {
  for (const std::string_view uri : {"api.example/items?a=1", "h:8080/", "h/{x}:u:y", "h"}) {
    EXPECT_EQ(redis_url_key_from_set_key("bw:", redis_url_set_key("bw:", uri)), uri);
  }
  const std::string key = redis_url_set_key("bw:", kUri);
  EXPECT_FALSE(redis_url_key_from_set_key("other:", key));
  EXPECT_FALSE(redis_url_key_from_set_key("bw:", redis_variants_key("bw:", kUri, "")));
  EXPECT_FALSE(redis_url_key_from_set_key("bw:", "bw:{short}:u:x"));
  std::string tampered = key;
  tampered.back() = '2';  // the tag no longer is the URL's digest
  EXPECT_FALSE(redis_url_key_from_set_key("bw:", tampered));
}

TEST(RedisLayout, ScanPatternEscapesGlobs) {
  EXPECT_EQ(redis_url_set_pattern("bw:", ""), "bw:{*}:u:*");
  EXPECT_EQ(redis_url_set_pattern("b*[w]?\\:", "api.example"),
            "b\\*\\[w\\]\\?\\\\:{*}:u:api.example[:/]*");
}

TEST(RedisLayout, PurgeMatchesAsTheMemoryStore) {
  EXPECT_TRUE(purge_matches("api.example/items", "", "/items", false));
  EXPECT_FALSE(purge_matches("api.example/items?x=1", "", "/items", false));
  EXPECT_TRUE(purge_matches("api.example/items?x=1", "", "/items", true));
  EXPECT_TRUE(purge_matches("api.example:8080/items", "api.example", "/items", false));
  EXPECT_FALSE(purge_matches("api.example.evil/items", "api.example", "/items", false));
  EXPECT_FALSE(purge_matches("other/items", "api.example", "/", true));
  EXPECT_TRUE(purge_matches("api.example/", "api.example", "/", true));
}

Entry stored(std::string cache_control, std::string etag = "",
             std::optional<int64_t> last_modified = std::nullopt) {
  Entry e;
  e.status = 200;
  e.body = std::make_shared<const std::string>("b");
  e.request_time = kT0;
  e.response_time = kT0;
  e.fields.emplace_back("Date", format_http_date(kT0));
  if (!cache_control.empty()) e.fields.emplace_back("Cache-Control", cache_control);
  if (!etag.empty()) e.fields.emplace_back("ETag", etag);
  if (last_modified)
    e.fields.emplace_back("Last-Modified", format_http_date(kT0 + seconds(*last_modified)));
  derive_metadata(e, false);
  return e;
}

milliseconds ttl_at(const Entry& e, int64_t offset) {
  return redis_ttl(e, kT0 + seconds(offset));
}

TEST(RedisLayout, TtlIsFreshnessLeft) {
  const Entry e = stored("max-age=60");
  EXPECT_EQ(ttl_at(e, 0), seconds(60));
  EXPECT_EQ(ttl_at(e, 15), seconds(45));
  EXPECT_EQ(ttl_at(e, 60), milliseconds(0));
  EXPECT_EQ(ttl_at(e, 1000), milliseconds(0));
}

TEST(RedisLayout, TtlAddsTheLargerStaleGrant) {
  EXPECT_EQ(ttl_at(stored("max-age=60, stale-while-revalidate=30"), 0), seconds(90));
  EXPECT_EQ(ttl_at(stored("max-age=60, stale-if-error=300"), 0), seconds(360));
  EXPECT_EQ(ttl_at(stored("max-age=60, stale-while-revalidate=30, stale-if-error=10"), 0),
            seconds(90));
  // Stale already: the grace used up counts.
  EXPECT_EQ(ttl_at(stored("max-age=60, stale-if-error=300"), 100), seconds(260));
  EXPECT_EQ(ttl_at(stored("max-age=60, stale-if-error=300"), 360), milliseconds(0));
}

TEST(RedisLayout, NoGraceWhenStaleIsForbidden) {
  for (const char* cc : {"max-age=60, stale-if-error=300, must-revalidate",
                         "max-age=60, stale-if-error=300, proxy-revalidate",
                         "max-age=60, s-maxage=60, stale-if-error=300",
                         "max-age=60, stale-while-revalidate=300, no-cache"}) {
    EXPECT_EQ(ttl_at(stored(cc), 0), seconds(60)) << cc;
  }
}

TEST(RedisLayout, ValidatorsKeepItForRevalidation) {
  EXPECT_EQ(ttl_at(stored("max-age=60", "\"v\""), 0), seconds(60) + kRedisValidatorKeep);
  EXPECT_EQ(ttl_at(stored("max-age=60", "", -3600), 1000), kRedisValidatorKeep);
  EXPECT_EQ(ttl_at(stored("no-cache", "\"v\""), 0), kRedisValidatorKeep);
}

TEST(RedisLayout, NotWorthSharing) {
  EXPECT_EQ(ttl_at(stored(""), 0), milliseconds(0));  // no freshness, no validator
  EXPECT_EQ(ttl_at(stored("max-age=0"), 0), milliseconds(0));
  EXPECT_EQ(ttl_at(stored("no-cache"), 0), milliseconds(0));
  EXPECT_EQ(ttl_at(stored("max-age=0, must-revalidate, stale-if-error=60"), 0), milliseconds(0));
}

TEST(RedisLayout, TtlIsCapped) {
  EXPECT_EQ(ttl_at(stored("max-age=2147483648, stale-if-error=2147483648", "\"v\""), 0),
            kMaxDeltaSeconds);
}

}  // namespace
}  // namespace bulwark::cache
