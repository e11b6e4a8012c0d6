#include "gateway/cache_purge.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include "cache/key.hpp"
#include "config/loader.hpp"
#include "gateway/runtime.hpp"

namespace bulwark::gateway {
namespace {

constexpr std::string_view kConfig = R"(
server: {listen: 127.0.0.1:8080}
upstreams:
  origin: {targets: [127.0.0.1:9]}
routes:
  - name: sorted
    match: {path_prefix: /sorted/}
    upstream: origin
    cache: {scope: shared, sort_query: true, ignore_query: [utm_source]}
  - name: plain
    match: {path_prefix: /}
    upstream: origin
    cache: shared
)";

class CachePurgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = config::load_config_text(std::string(kConfig), "purge.yaml");
    ASSERT_TRUE(loaded.ok());
    auto compiled = compile_runtime(*loaded.config, metrics, 1, environment);
    ASSERT_TRUE(compiled.runtime);
    runtime = compiled.runtime;
    ASSERT_TRUE(runtime->cache_store);
  }

  // Stores an empty response under the URL key of `host` + `target` (path and query).
  void store(std::string_view host, std::string_view path, std::string_view query = {},
             const cache::KeyOptions& options = {}) {
    auto entry = std::make_shared<cache::Entry>();
    cache::build_uri_key(host, path, query, !query.empty(), options, entry->uri_key);
    entry->body = std::make_shared<const std::string>("x");
    ASSERT_TRUE(runtime->cache_store->insert(entry));
  }

  uint64_t entries() const { return runtime->cache_store->stats().entries; }

  observe::Metrics metrics{1};
  CompileEnvironment environment;
  std::shared_ptr<const Runtime> runtime;
};

TEST_F(CachePurgeTest, ExactUrlOnEveryHost) {
  store("a.example", "/items/1");
  store("b.example", "/items/1");
  store("a.example", "/items/10");
  auto reply = purge_cache(*runtime, R"({"url": "/items/1"})");
  EXPECT_EQ(reply.status, 200u);
  EXPECT_EQ(reply.body, R"({"purged":2})");
  EXPECT_EQ(entries(), 1u);
}

TEST_F(CachePurgeTest, ExactUrlOnOneHost) {
  store("a.example", "/items/1");
  store("b.example", "/items/1");
  auto reply = purge_cache(*runtime, R"({"url": "/items/1", "host": "A.example:8080"})");
  EXPECT_EQ(reply.body, R"({"purged":1})");
  EXPECT_EQ(entries(), 1u);
}

TEST_F(CachePurgeTest, HostMatchesEveryPortOfIt) {
  store("a.example:8080", "/items/1");
  store("a.example", "/items/1");
  store("a.example.evil:8080", "/items/1");
  auto reply = purge_cache(*runtime, R"({"url": "/items/1", "host": "a.example"})");
  EXPECT_EQ(reply.body, R"({"purged":2})");
  EXPECT_EQ(entries(), 1u);
}

TEST_F(CachePurgeTest, ExactUrlIsNormalizedLikeARequest) {
  store("a.example", "/items/~x");
  auto reply = purge_cache(*runtime, R"({"url": "/items/./%7Ex"})");
  EXPECT_EQ(reply.body, R"({"purged":1})");
}

TEST_F(CachePurgeTest, ExactUrlQueryTakesTheRoutesKeyForm) {
  const cache::KeyOptions sorted{.sort_query = true, .ignore_query = {"utm_source"}};
  store("a.example", "/sorted/list", "a=1&b=2", sorted);
  auto reply = purge_cache(*runtime, R"({"url": "/sorted/list?b=2&utm_source=mail&a=1"})");
  EXPECT_EQ(reply.body, R"({"purged":1})");
  EXPECT_EQ(entries(), 0u);
}

// What was purged from memory, for the shared store to purge too: the same arguments.
TEST_F(CachePurgeTest, TargetsSayWhatWasPurged) {
  auto exact = purge_cache(*runtime, R"({"url": "/items/./1", "host": "A.example"})");
  ASSERT_FALSE(exact.targets.empty());
  for (const auto& target : exact.targets) {
    EXPECT_EQ(target.host, "a.example");
    EXPECT_EQ(target.path, "/items/1");
    EXPECT_FALSE(target.prefix);
  }
  auto prefix = purge_cache(*runtime, R"({"prefix": "/items/"})");
  ASSERT_EQ(prefix.targets.size(), 1u);
  EXPECT_EQ(prefix.targets[0].host, "");
  EXPECT_EQ(prefix.targets[0].path, "/items/");
  EXPECT_TRUE(prefix.targets[0].prefix);
  EXPECT_TRUE(purge_cache(*runtime, R"({"url": 3})").targets.empty()) << "a refused body";
}

TEST_F(CachePurgeTest, ExactUrlWithoutQueryLeavesQueriedUrls) {
  store("a.example", "/items");
  store("a.example", "/items", "page=2");
  auto reply = purge_cache(*runtime, R"({"url": "/items"})");
  EXPECT_EQ(reply.body, R"({"purged":1})");
  EXPECT_EQ(entries(), 1u);
}

TEST_F(CachePurgeTest, Prefix) {
  store("a.example", "/api/v1/a");
  store("b.example", "/api/v1/b", "q=1");
  store("a.example", "/api/v2/a");
  auto reply = purge_cache(*runtime, R"({"prefix": "/api/v1/"})");
  EXPECT_EQ(reply.body, R"({"purged":2})");
  EXPECT_EQ(entries(), 1u);
}

TEST_F(CachePurgeTest, PrefixOnOneHost) {
  store("a.example", "/api/v1/a");
  store("b.example", "/api/v1/b");
  auto reply = purge_cache(*runtime, R"({"prefix": "/api/", "host": "b.example"})");
  EXPECT_EQ(reply.body, R"({"purged":1})");
}

struct BadBody {
  std::string_view body;
  std::string_view detail;
  friend void PrintTo(const BadBody& bad, std::ostream* out) { *out << "body " << bad.body; }
};

class CachePurgeBadBodyTest : public CachePurgeTest,
                              public ::testing::WithParamInterface<BadBody> {};

TEST_P(CachePurgeBadBodyTest, IsRefusedWith400AndTheReason) {
  store("a.example", "/items/1");
  auto reply = purge_cache(*runtime, GetParam().body);
  EXPECT_EQ(reply.status, 400u);
  EXPECT_EQ(reply.body, std::string(R"({"error":"bad_request","detail":")") +
                            std::string(GetParam().detail) + "\"}");
  EXPECT_EQ(entries(), 1u);  // nothing purged
}

INSTANTIATE_TEST_SUITE_P(
    Bodies, CachePurgeBadBodyTest,
    ::testing::Values(
        BadBody{"", R"(the body must be a JSON object: {\"url\": \"/path\"})"},
        BadBody{"[]", R"(the body must be a JSON object: {\"url\": \"/path\"})"},
        BadBody{"{", R"(the body must be a JSON object: {\"url\": \"/path\"})"},
        BadBody{"{}", R"(give exactly one of \"url\" and \"prefix\")"},
        BadBody{R"({"url": "/a", "prefix": "/b"})",
                R"(give exactly one of \"url\" and \"prefix\")"},
        BadBody{R"({"url": 5})", R"(field \"url\" must be a string)"},
        BadBody{R"({"path": "/a"})", R"(field \"path\" is unknown: use url or prefix, and host)"},
        BadBody{R"({"url": "items/1"})", "the url or prefix must be a path starting with '/'"},
        BadBody{R"({"url": ""})", "the url or prefix must be a path starting with '/'"},
        BadBody{R"({"url": "/a", "host": "a b"})", R"(\"host\" is not a valid host)"},
        BadBody{R"({"prefix": "/%2e%2e/x"})", "path escapes the root"}));

TEST(CachePurgeWithoutCache, Is404) {
  auto loaded = config::load_config_text(
      "server: {listen: 127.0.0.1:8080}\nupstreams:\n  o: {targets: [127.0.0.1:9]}\n"
      "routes:\n  - {name: r, match: {path_prefix: /}, upstream: o}\n",
      "nocache.yaml");
  ASSERT_TRUE(loaded.ok());
  observe::Metrics metrics{1};
  CompileEnvironment environment;
  auto compiled = compile_runtime(*loaded.config, metrics, 1, environment);
  ASSERT_TRUE(compiled.runtime);
  auto reply = purge_cache(*compiled.runtime, R"({"url": "/a"})");
  EXPECT_EQ(reply.status, 404u);
  EXPECT_EQ(reply.body, R"({"error":"not_found","detail":"no route caches responses"})");
}

}  // namespace
}  // namespace bulwark::gateway
