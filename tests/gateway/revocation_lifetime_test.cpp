// How long a revocation is kept (Runtime::revocation_lifetime_s): until no token it covers
// can still be accepted, whatever its iat and exp within the issuers' rules.

#include <gtest/gtest.h>

#include "config/loader.hpp"
#include "gateway/runtime.hpp"

namespace bulwark::gateway {
namespace {

int64_t lifetime_of(const std::string& auth) {
  const std::string yaml = auth + R"(
upstreams:
  origin: {targets: [127.0.0.1:9]}
routes:
  - {name: all, upstream: origin}
)";
  auto loaded = config::load_config_text(yaml, "lifetime.yaml");
  EXPECT_TRUE(loaded.ok());
  if (!loaded.ok()) return -1;
  observe::Metrics metrics(1);
  CompileEnvironment environment;
  ::setenv("LIFETIME_TEST_SECRET", "0123456789abcdef0123456789abcdef", 1);
  auto compiled = compile_runtime(*loaded.config, metrics, 1, environment);
  EXPECT_TRUE(compiled.runtime);
  return compiled.runtime ? compiled.runtime->revocation_lifetime_s : -1;
}

std::string issuer(const std::string& name, const std::string& extra) {
  return "    " + name + ":\n      issuer: https://" + name +
         ".example\n      keys: [{alg: HS256, secret_env: LIFETIME_TEST_SECRET}]\n" + extra;
}

TEST(RevocationLifetime, LongestMaxLifetimePlusTwoLeewaysAndASecond) {
  EXPECT_EQ(
      lifetime_of("auth:\n  leeway: 30s\n  issuers:\n" + issuer("a", "      max_lifetime: 15m\n") +
                  issuer("b", "      max_lifetime: 1h\n")),
      3600 + 2 * 30 + 1);
}

TEST(RevocationLifetime, AnIssuerWithoutMaxLifetimeCountsAWeek) {
  EXPECT_EQ(lifetime_of("auth:\n  leeway: 0s\n  issuers:\n" +
                        issuer("a", "      max_lifetime: 15m\n") + issuer("b", "")),
            7 * 24 * 3600 + 1);
}

TEST(RevocationLifetime, WithoutAuthAWeek) {
  EXPECT_EQ(lifetime_of(""), 7 * 24 * 3600 + 1);
}

}  // namespace
}  // namespace bulwark::gateway
