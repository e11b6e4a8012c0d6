#include "gateway/auth_setup.hpp"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "auth/jwk.hpp"
#include "gateway_test_support.hpp"

namespace bulwark::gateway {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using auth::Algorithm;
using auth::testing_support::key_material;
using testing_support::claims;
using testing_support::hs256_token;
using testing_support::kIssuer;
using testing_support::kSecret;
using testing_support::now_plus;
using testing_support::unwrap;

config::AuthKey secret_env_key(std::string variable, unsigned line = 12) {
  config::AuthKey key;
  key.alg = "HS256";
  key.secret_env = std::move(variable);
  key.line = line;
  return key;
}

config::AuthIssuer issuer_with(std::vector<config::AuthKey> keys, std::string name = "main") {
  config::AuthIssuer issuer;
  issuer.name = std::move(name);
  issuer.issuer = std::string(kIssuer);
  issuer.audiences = {"api"};
  issuer.keys = std::move(keys);
  issuer.line = 10;
  return issuer;
}

std::string es256_token(std::string_view kid) {
  const auto& m = key_material(Algorithm::ES256);
  auto key = unwrap(auth::SigningKey::from_private_pem(m.private_pem, Algorithm::ES256));
  const std::string header = R"({"alg":"ES256","kid":")" + std::string(kid) + R"("})";
  return unwrap(auth::sign_compact(header, claims(), key));
}

std::string rs256_token() {
  const auto& m = key_material(Algorithm::RS256);
  auto key = unwrap(auth::SigningKey::from_private_pem(m.private_pem, Algorithm::RS256));
  return unwrap(auth::sign_compact(R"({"alg":"RS256"})", claims(), key));
}

// Each test gets a folder holding "bulwark.yaml" (never read: only its path matters) and
// whatever key files it writes; variables come from `env_`, never from the process.
class BuildAuth : public testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "bulwark-auth-setup-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    environment_.getenv = [this](const std::string& name) -> std::optional<std::string> {
      auto found = env_.find(name);
      if (found == env_.end()) return std::nullopt;
      return found->second;
    };
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string config_path() const { return (dir_ / "bulwark.yaml").string(); }

  void write(const std::string& relative, const std::string& bytes) {
    const fs::path path = dir_ / relative;
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << bytes;
  }

  config::Config config_with(std::vector<config::AuthIssuer> issuers) {
    config::Config config;
    config.source_path = config_path();
    config.auth = config::Auth{};
    config.auth->issuers = std::move(issuers);
    return config;
  }
  config::Config config_with_key(config::AuthKey key) {
    std::vector<config::AuthKey> keys;
    keys.push_back(std::move(key));
    std::vector<config::AuthIssuer> issuers;
    issuers.push_back(issuer_with(std::move(keys)));
    return config_with(std::move(issuers));
  }

  // The one error of a setup, or a failure.
  static config::ConfigError only_error(const gateway::AuthSetup& setup) {
    EXPECT_EQ(setup.errors.size(), 1u);
    if (setup.errors.empty()) return {};
    return setup.errors.front();
  }

  static auth::Result<auth::Authenticated> verify(const gateway::AuthSetup& setup,
                                                  const std::string& token) {
    return setup.authenticator->authenticate(token, auth::kAllIssuers, now_plus(0));
  }

  fs::path dir_;
  std::map<std::string, std::string> env_;
  AuthEnvironment environment_;
};

// ---- what the config holds ----

TEST_F(BuildAuth, NoAuthSection) {
  config::Config config;
  config.source_path = config_path();
  const auto setup = build_auth(config, environment_);
  EXPECT_EQ(setup.authenticator, nullptr);
  EXPECT_EQ(setup.guard, nullptr);
  EXPECT_TRUE(setup.remote_key_sets.empty());
  EXPECT_TRUE(setup.errors.empty());
}

TEST_F(BuildAuth, NoIssuersStillBuildsTheGuard) {
  const auto setup = build_auth(config_with({}), environment_);
  EXPECT_EQ(setup.authenticator, nullptr);
  ASSERT_NE(setup.guard, nullptr);
  EXPECT_EQ(setup.guard->options().limit, 20u);
  EXPECT_EQ(setup.guard->options().per, std::chrono::milliseconds(1min));
  EXPECT_EQ(setup.guard->options().cooldown, std::chrono::milliseconds(5min));
  EXPECT_TRUE(setup.errors.empty());
}

TEST_F(BuildAuth, IssuerPolicyFromTheConfig) {
  env_["SECRET"] = kSecret;
  auto issuer = issuer_with({secret_env_key("SECRET")}, "corp");
  issuer.audiences = {"api", "admin"};
  issuer.require_exp = false;
  issuer.max_lifetime = 15min;
  auto config = config_with({});
  config.auth->issuers.push_back(std::move(issuer));
  config.auth->leeway = 5s;
  const auto setup = build_auth(config, environment_);
  ASSERT_TRUE(setup.errors.empty());
  ASSERT_NE(setup.authenticator, nullptr);
  ASSERT_EQ(setup.authenticator->issuers().size(), 1u);
  const auto& built = setup.authenticator->issuers()[0];
  EXPECT_EQ(built.name, "corp");
  EXPECT_EQ(built.policy.issuer, std::string(kIssuer));
  EXPECT_EQ(built.policy.audiences, (std::vector<std::string>{"api", "admin"}));
  EXPECT_FALSE(built.policy.require_exp);
  EXPECT_EQ(built.policy.leeway, 5s);
  EXPECT_EQ(built.policy.max_lifetime, std::chrono::seconds(15min));
  EXPECT_EQ(built.keys.size(), 1u);
  EXPECT_TRUE(built.remote_keys.empty());
}

TEST_F(BuildAuth, IssuersInFileOrder) {
  env_["A"] = kSecret;
  env_["B"] = std::string(40, 'b');
  auto config = config_with({});
  config.auth->issuers.push_back(issuer_with({secret_env_key("A")}, "first"));
  config.auth->issuers.push_back(issuer_with({secret_env_key("B")}, "second"));
  const auto setup = build_auth(config, environment_);
  ASSERT_TRUE(setup.errors.empty());
  EXPECT_EQ(setup.authenticator->issuer_index("first"), 0u);
  EXPECT_EQ(setup.authenticator->issuer_index("second"), 1u);
}

// ---- secret_env ----

TEST_F(BuildAuth, SecretEnvVerifiesTokens) {
  env_["BULWARK_TEST_SECRET"] = kSecret;
  const auto setup =
      build_auth(config_with_key(secret_env_key("BULWARK_TEST_SECRET")), environment_);
  ASSERT_TRUE(setup.errors.empty()) << setup.errors.front().to_string();
  ASSERT_NE(setup.authenticator, nullptr);
  auto result = verify(setup, hs256_token(claims()));
  ASSERT_TRUE(result.ok()) << result.error().detail;
  EXPECT_EQ(result->claims->issuer, "main");
}

TEST_F(BuildAuth, SecretEnvUnset) {
  const auto setup =
      build_auth(config_with_key(secret_env_key("BULWARK_TEST_UNSET", 17)), environment_);
  const auto error = only_error(setup);
  EXPECT_EQ(error.file, config_path());
  EXPECT_EQ(error.line, 17u);
  EXPECT_EQ(error.key, "auth.issuers.main.keys[0].secret_env");
  EXPECT_EQ(error.message.rfind("the environment variable BULWARK_TEST_UNSET is not set", 0), 0u)
      << error.message;
  EXPECT_EQ(
      error.to_string().rfind(config_path() + ":17: auth.issuers.main.keys[0].secret_env: ", 0), 0u)
      << error.to_string();
}

TEST_F(BuildAuth, SecretEnvEmptyIsUnset) {
  env_["EMPTY"] = "";
  const auto error = only_error(build_auth(config_with_key(secret_env_key("EMPTY")), environment_));
  EXPECT_EQ(error.key, "auth.issuers.main.keys[0].secret_env");
  EXPECT_EQ(error.message.rfind("the environment variable EMPTY is not set", 0), 0u)
      << error.message;
}

TEST_F(BuildAuth, ErrorNamesTheKeyIndexAndIssuer) {
  env_["GOOD"] = kSecret;
  auto config = config_with({});
  config.auth->issuers.push_back(issuer_with({secret_env_key("GOOD")}, "first"));
  config.auth->issuers.push_back(
      issuer_with({secret_env_key("GOOD", 30), secret_env_key("MISSING", 33)}, "second"));
  const auto setup = build_auth(config, environment_);
  const auto error = only_error(setup);
  EXPECT_EQ(error.key, "auth.issuers.second.keys[1].secret_env");
  EXPECT_EQ(error.line, 33u);
}

TEST_F(BuildAuth, EveryErrorReported) {
  std::vector<config::AuthKey> keys{secret_env_key("MISSING_ONE", 20),
                                    secret_env_key("MISSING_TWO", 22)};
  const auto setup = build_auth(config_with({issuer_with(std::move(keys))}), environment_);
  ASSERT_EQ(setup.errors.size(), 2u);
  EXPECT_EQ(setup.errors[0].key, "auth.issuers.main.keys[0].secret_env");
  EXPECT_EQ(setup.errors[0].line, 20u);
  EXPECT_EQ(setup.errors[1].key, "auth.issuers.main.keys[1].secret_env");
  EXPECT_EQ(setup.errors[1].line, 22u);
}

TEST_F(BuildAuth, SecretEnvOf31BytesRefused) {
  const std::string secret(31, 's');
  env_["SHORT"] = secret;
  const auto error = only_error(build_auth(config_with_key(secret_env_key("SHORT")), environment_));
  EXPECT_EQ(error.key, "auth.issuers.main.keys[0].secret_env");
  EXPECT_EQ(error.message.rfind("HMAC secret has 31 bytes; at least 32", 0), 0u) << error.message;
  EXPECT_EQ(error.message.find(secret), std::string::npos) << "the secret is never printed";
}

TEST_F(BuildAuth, SecretEnvOf32BytesForHs384Refused) {
  env_["SECRET"] = kSecret;
  auto key = secret_env_key("SECRET");
  key.alg = "HS384";
  const auto error = only_error(build_auth(config_with_key(key), environment_));
  EXPECT_EQ(error.message.rfind("HMAC secret has 32 bytes; at least 48", 0), 0u) << error.message;
}

TEST_F(BuildAuth, SecretWithoutAlgRefused) {
  env_["SECRET"] = kSecret;
  auto key = secret_env_key("SECRET", 14);
  key.alg.reset();
  const auto error = only_error(build_auth(config_with_key(key), environment_));
  EXPECT_EQ(error.key, "auth.issuers.main.keys[0].alg");
  EXPECT_EQ(error.line, 14u);
  EXPECT_EQ(error.message, "a secret or PEM key needs its algorithm: add alg, like alg: HS256");
}

TEST_F(BuildAuth, SecretWithKid) {
  env_["SECRET"] = kSecret;
  auto key = secret_env_key("SECRET");
  key.kid = "hs-1";
  const auto setup = build_auth(config_with_key(key), environment_);
  ASSERT_TRUE(setup.errors.empty());
  EXPECT_TRUE(verify(setup, hs256_token(claims(), kSecret, "hs-1")).ok());
  auto other_kid = verify(setup, hs256_token(claims(), kSecret, "hs-2"));
  ASSERT_FALSE(other_kid.ok());
  EXPECT_EQ(other_kid.error().reason, auth::AuthFailure::unknown_key);
}

TEST_F(BuildAuth, GetenvReadsTheProcessEnvironmentByDefault) {
  AuthEnvironment fresh;
  ASSERT_EQ(setenv("BULWARK_AUTH_SETUP_TEST_VAR", "value-1", 1), 0);
  EXPECT_EQ(fresh.getenv("BULWARK_AUTH_SETUP_TEST_VAR"), "value-1");
  ASSERT_EQ(unsetenv("BULWARK_AUTH_SETUP_TEST_VAR"), 0);
  EXPECT_EQ(fresh.getenv("BULWARK_AUTH_SETUP_TEST_VAR"), std::nullopt);
}

TEST_F(BuildAuth, InjectedGetenvReplacesTheProcessEnvironment) {
  ASSERT_EQ(setenv("BULWARK_AUTH_SETUP_TEST_VAR", kSecret.c_str(), 1), 0);
  const auto setup =
      build_auth(config_with_key(secret_env_key("BULWARK_AUTH_SETUP_TEST_VAR")), environment_);
  unsetenv("BULWARK_AUTH_SETUP_TEST_VAR");
  const auto error = only_error(setup);
  EXPECT_EQ(error.key, "auth.issuers.main.keys[0].secret_env");
}

// ---- secret_file ----

config::AuthKey secret_file_key(std::string path) {
  config::AuthKey key;
  key.alg = "HS256";
  key.secret_file = std::move(path);
  key.line = 15;
  return key;
}

TEST_F(BuildAuth, SecretFileTrailingNewlineCut) {
  write("keys/hs.secret", kSecret + "\n");
  const auto setup = build_auth(config_with_key(secret_file_key("keys/hs.secret")), environment_);
  ASSERT_TRUE(setup.errors.empty()) << setup.errors.front().to_string();
  EXPECT_TRUE(verify(setup, hs256_token(claims())).ok());
  auto with_newline = verify(setup, hs256_token(claims(), kSecret + "\n"));
  ASSERT_FALSE(with_newline.ok());
  EXPECT_EQ(with_newline.error().reason, auth::AuthFailure::bad_signature);
}

TEST_F(BuildAuth, SecretFileCrLfCut) {
  write("hs.secret", kSecret + "\r\n");
  const auto setup = build_auth(config_with_key(secret_file_key("hs.secret")), environment_);
  ASSERT_TRUE(setup.errors.empty()) << setup.errors.front().to_string();
  EXPECT_TRUE(verify(setup, hs256_token(claims())).ok());
}

TEST_F(BuildAuth, SecretFileWithoutNewline) {
  write("hs.secret", kSecret);
  const auto setup = build_auth(config_with_key(secret_file_key("hs.secret")), environment_);
  ASSERT_TRUE(setup.errors.empty());
  EXPECT_TRUE(verify(setup, hs256_token(claims())).ok());
}

TEST_F(BuildAuth, SecretFileOnlyOneNewlineCut) {
  const std::string secret = kSecret + "\n";  // 33 bytes, the newline part of it
  write("hs.secret", secret + "\n");
  const auto setup = build_auth(config_with_key(secret_file_key("hs.secret")), environment_);
  ASSERT_TRUE(setup.errors.empty());
  EXPECT_TRUE(verify(setup, hs256_token(claims(), secret)).ok());
}

TEST_F(BuildAuth, SecretFileShortAfterTheNewline) {
  write("hs.secret", std::string(31, 's') + "\n");
  const auto error =
      only_error(build_auth(config_with_key(secret_file_key("hs.secret")), environment_));
  EXPECT_EQ(error.key, "auth.issuers.main.keys[0].secret_file");
  EXPECT_EQ(error.line, 15u);
  EXPECT_EQ(error.message.rfind("HMAC secret has 31 bytes", 0), 0u) << error.message;
}

TEST_F(BuildAuth, SecretFileAbsolutePath) {
  write("elsewhere/hs.secret", kSecret);
  const auto setup = build_auth(
      config_with_key(secret_file_key((dir_ / "elsewhere/hs.secret").string())), environment_);
  ASSERT_TRUE(setup.errors.empty());
  EXPECT_TRUE(verify(setup, hs256_token(claims())).ok());
}

TEST_F(BuildAuth, SecretFileMissing) {
  const auto error =
      only_error(build_auth(config_with_key(secret_file_key("keys/none.secret")), environment_));
  EXPECT_EQ(error.key, "auth.issuers.main.keys[0].secret_file");
  EXPECT_EQ(error.message, "'keys/none.secret' cannot open: No such file or directory");
}

TEST_F(BuildAuth, SecretFileIsADirectory) {
  fs::create_directories(dir_ / "keys");
  const auto error = only_error(build_auth(config_with_key(secret_file_key("keys")), environment_));
  EXPECT_EQ(error.key, "auth.issuers.main.keys[0].secret_file");
  EXPECT_EQ(error.message, "'keys' is a directory");
}

TEST_F(BuildAuth, SecretFileOverOneMebibyte) {
  write("big.secret", std::string(1024 * 1024 + 1, 's'));
  const auto error =
      only_error(build_auth(config_with_key(secret_file_key("big.secret")), environment_));
  EXPECT_EQ(error.message, "'big.secret' is larger than 1 MiB: not a key file");
}

// ---- pem_file ----

config::AuthKey pem_file_key(std::string path, std::string alg = "RS256") {
  config::AuthKey key;
  key.alg = std::move(alg);
  key.pem_file = std::move(path);
  key.line = 16;
  return key;
}

TEST_F(BuildAuth, PemFileVerifiesTokens) {
  write("keys/rs.pem", key_material(Algorithm::RS256).public_pem);
  const auto setup = build_auth(config_with_key(pem_file_key("keys/rs.pem")), environment_);
  ASSERT_TRUE(setup.errors.empty()) << setup.errors.front().to_string();
  auto result = verify(setup, rs256_token());
  EXPECT_TRUE(result.ok()) << result.error().detail;
}

TEST_F(BuildAuth, PemFileMissingNamesThePath) {
  const auto error =
      only_error(build_auth(config_with_key(pem_file_key("keys/missing.pem")), environment_));
  EXPECT_EQ(error.file, config_path());
  EXPECT_EQ(error.line, 16u);
  EXPECT_EQ(error.key, "auth.issuers.main.keys[0].pem_file");
  EXPECT_EQ(error.message, "'keys/missing.pem' cannot open: No such file or directory");
}

TEST_F(BuildAuth, PemFileOfTheWrongKeyType) {
  write("ec.pem", key_material(Algorithm::ES256).public_pem);
  const auto error = only_error(build_auth(config_with_key(pem_file_key("ec.pem")), environment_));
  EXPECT_EQ(error.key, "auth.issuers.main.keys[0].pem_file");
  EXPECT_FALSE(error.message.empty());
}

TEST_F(BuildAuth, PemFileHoldingAPrivateKeyRefused) {
  write("private.pem", key_material(Algorithm::RS256).private_pem);
  const auto error =
      only_error(build_auth(config_with_key(pem_file_key("private.pem")), environment_));
  EXPECT_EQ(error.key, "auth.issuers.main.keys[0].pem_file");
  const std::string& pem = key_material(Algorithm::RS256).private_pem;
  const std::string second_line = pem.substr(pem.find('\n') + 1, 64);
  EXPECT_EQ(error.message.find(second_line), std::string::npos) << "key material never printed";
}

// ---- jwks_file ----

std::string jwks_document(std::string_view kid) {
  auto key = unwrap(auth::VerificationKey::from_public_pem(
      key_material(Algorithm::ES256).public_pem, Algorithm::ES256, std::string(kid)));
  return boost::json::serialize(
      boost::json::object{{"keys", boost::json::array{*auth::public_jwk(key)}}});
}

config::AuthKey jwks_file_key(std::string path) {
  config::AuthKey key;
  key.jwks_file = std::move(path);
  key.line = 18;
  return key;
}

TEST_F(BuildAuth, JwksFileLoaded) {
  write("keys/jwks.json", jwks_document("es-1"));
  const auto setup = build_auth(config_with_key(jwks_file_key("keys/jwks.json")), environment_);
  ASSERT_TRUE(setup.errors.empty()) << setup.errors.front().to_string();
  ASSERT_EQ(setup.authenticator->issuers()[0].keys.size(), 1u);
  EXPECT_EQ(setup.authenticator->issuers()[0].keys[0].kid(), "es-1");
  auto result = verify(setup, es256_token("es-1"));
  EXPECT_TRUE(result.ok()) << result.error().detail;
  EXPECT_TRUE(setup.remote_key_sets.empty());
}

TEST_F(BuildAuth, JwksFileWithConflictingAlgRefused) {
  write("jwks.json", jwks_document("es-1"));
  auto key = jwks_file_key("jwks.json");
  key.alg = "RS256";  // every entry is ES256: none is usable
  const auto error = only_error(build_auth(config_with_key(key), environment_));
  EXPECT_EQ(error.key, "auth.issuers.main.keys[0].jwks_file");
}

// BUG (see the report): an alg name bulwark does not know is taken as "no alg": a JWKS file
// (or URL) then loads unpinned, with no error, and a secret is told to "add alg".
TEST_F(BuildAuth, UnknownAlgNameRefused) {
  write("jwks.json", jwks_document("es-1"));
  auto key = jwks_file_key("jwks.json");
  key.alg = "ES265";
  const auto error = only_error(build_auth(config_with_key(key), environment_));
  EXPECT_EQ(error.key, "auth.issuers.main.keys[0].alg");
  EXPECT_NE(error.message.find("ES265"), std::string::npos) << error.message;
}

TEST_F(BuildAuth, JwksFileNotJson) {
  write("jwks.json", "{\"keys\": [");
  const auto error =
      only_error(build_auth(config_with_key(jwks_file_key("jwks.json")), environment_));
  EXPECT_EQ(error.key, "auth.issuers.main.keys[0].jwks_file");
  EXPECT_EQ(error.line, 18u);
  EXPECT_FALSE(error.message.empty());
}

TEST_F(BuildAuth, JwksFileMissing) {
  const auto error =
      only_error(build_auth(config_with_key(jwks_file_key("nowhere.json")), environment_));
  EXPECT_EQ(error.key, "auth.issuers.main.keys[0].jwks_file");
  EXPECT_EQ(error.message, "'nowhere.json' cannot open: No such file or directory");
}

// ---- jwks_url ----

config::AuthKey jwks_url_key(std::string url) {
  config::AuthKey key;
  key.alg = "ES256";
  key.jwks_url = std::move(url);
  key.refresh = 10min;
  key.unknown_kid_refetch = 45s;
  key.fetch_timeout = 3s;
  key.line = 19;
  return key;
}

TEST_F(BuildAuth, JwksUrlCreatesARemoteKeySet) {
  const auto setup =
      build_auth(config_with_key(jwks_url_key("https://idp.example/jwks")), environment_);
  ASSERT_TRUE(setup.errors.empty());
  ASSERT_EQ(setup.remote_key_sets.size(), 1u);
  const auto& remote = setup.remote_key_sets[0];
  EXPECT_EQ(remote->options().url, "https://idp.example/jwks");
  EXPECT_EQ(remote->options().alg, Algorithm::ES256);
  EXPECT_EQ(remote->options().refresh, std::chrono::milliseconds(10min));
  EXPECT_EQ(remote->options().unknown_kid_refetch, std::chrono::milliseconds(45s));
  EXPECT_EQ(remote->options().fetch_timeout, std::chrono::milliseconds(3s));
  EXPECT_EQ(remote->options().ca_file, std::nullopt);
  ASSERT_EQ(setup.authenticator->issuers()[0].remote_keys.size(), 1u);
  EXPECT_EQ(setup.authenticator->issuers()[0].remote_keys[0], remote);
  EXPECT_EQ(remote->current(), nullptr);
}

TEST_F(BuildAuth, JwksUrlCaFileResolvedNextToTheConfig) {
  auto key = jwks_url_key("https://idp.example/jwks");
  key.ca_file = "certs/ca.pem";
  const auto setup = build_auth(config_with_key(key), environment_);
  ASSERT_EQ(setup.remote_key_sets.size(), 1u);
  EXPECT_EQ(setup.remote_key_sets[0]->options().ca_file, (dir_ / "certs/ca.pem").string());
}

TEST_F(BuildAuth, ReloadKeepsTheRemoteKeySet) {
  const auto config = config_with_key(jwks_url_key("https://idp.example/jwks"));
  const auto first = build_auth(config, environment_);
  const auto second = build_auth(config, environment_);
  ASSERT_EQ(first.remote_key_sets.size(), 1u);
  ASSERT_EQ(second.remote_key_sets.size(), 1u);
  EXPECT_EQ(first.remote_key_sets[0].get(), second.remote_key_sets[0].get());
  EXPECT_EQ(second.authenticator->issuers()[0].remote_keys[0].get(),
            first.remote_key_sets[0].get());
}

TEST_F(BuildAuth, RemoteKeysFetchedBeforeAReloadStillVerify) {
  const auto config = config_with_key(jwks_url_key("https://idp.example/jwks"));
  const auto first = build_auth(config, environment_);
  const std::string document = jwks_document("es-1");
  first.remote_key_sets[0]->install(
      std::make_shared<const auth::JwkSet>(unwrap(auth::key_set_from_jwks_json(document))),
      document);
  const auto second = build_auth(config, environment_);
  auto result = verify(second, es256_token("es-1"));
  EXPECT_TRUE(result.ok()) << result.error().detail;
}

TEST_F(BuildAuth, ChangedJwksUrlSettingsMakeANewSet) {
  const auto first =
      build_auth(config_with_key(jwks_url_key("https://idp.example/jwks")), environment_);
  const auto other_url =
      build_auth(config_with_key(jwks_url_key("https://idp.example/other")), environment_);
  auto slower = jwks_url_key("https://idp.example/jwks");
  slower.refresh = 20min;
  const auto other_refresh = build_auth(config_with_key(slower), environment_);
  EXPECT_NE(first.remote_key_sets[0].get(), other_url.remote_key_sets[0].get());
  EXPECT_NE(first.remote_key_sets[0].get(), other_refresh.remote_key_sets[0].get());
  EXPECT_EQ(other_refresh.remote_key_sets[0]->options().refresh, std::chrono::milliseconds(20min));
}

TEST_F(BuildAuth, SameUrlInTwoIssuersSharesOneSet) {
  auto config = config_with({});
  config.auth->issuers.push_back(issuer_with({jwks_url_key("https://idp.example/jwks")}, "a"));
  config.auth->issuers.push_back(issuer_with({jwks_url_key("https://idp.example/jwks")}, "b"));
  const auto setup = build_auth(config, environment_);
  ASSERT_EQ(setup.remote_key_sets.size(), 2u);
  EXPECT_EQ(setup.remote_key_sets[0], setup.remote_key_sets[1]);
  EXPECT_EQ(environment_.remote_key_sets.size(), 1u);
}

// ---- key generation, cache, guard ----

TEST_F(BuildAuth, EveryBuildBumpsTheKeyGeneration) {
  env_["SECRET"] = kSecret;
  const auto config = config_with_key(secret_env_key("SECRET"));
  const uint64_t before = environment_.generation.current();
  const auto first = build_auth(config, environment_);
  EXPECT_EQ(environment_.generation.current(), before + 1);
  const std::string token = hs256_token(claims());
  ASSERT_TRUE(verify(first, token).ok());
  ASSERT_TRUE(verify(first, token)->cached);
  build_auth(config, environment_);
  EXPECT_EQ(environment_.generation.current(), before + 2);
  EXPECT_FALSE(verify(first, token)->cached) << "a reload invalidates what was verified before";
}

TEST_F(BuildAuth, TokenCacheEntriesZeroNeverCaches) {
  env_["SECRET"] = kSecret;
  auto config = config_with_key(secret_env_key("SECRET"));
  config.auth->token_cache_entries = 0;
  const auto setup = build_auth(config, environment_);
  const std::string token = hs256_token(claims());
  EXPECT_FALSE(verify(setup, token)->cached);
  EXPECT_FALSE(verify(setup, token)->cached);
}

TEST_F(BuildAuth, FailedAttemptsOffMeansNoGuard) {
  env_["SECRET"] = kSecret;
  auto config = config_with_key(secret_env_key("SECRET"));
  config.auth->failed_attempts = std::nullopt;
  const auto setup = build_auth(config, environment_);
  EXPECT_EQ(setup.guard, nullptr);
  EXPECT_NE(setup.authenticator, nullptr);
}

TEST_F(BuildAuth, GuardFromTheConfigKeptAcrossReloads) {
  auto config = config_with({});
  config.auth->failed_attempts = config::FailedAttempts{.limit = 7, .per = 30s, .cooldown = 2min};
  const auto first = build_auth(config, environment_);
  ASSERT_NE(first.guard, nullptr);
  EXPECT_EQ(first.guard->options().limit, 7u);
  EXPECT_EQ(first.guard->options().per, std::chrono::milliseconds(30s));
  EXPECT_EQ(first.guard->options().cooldown, std::chrono::milliseconds(2min));
  const auto second = build_auth(config, environment_);
  EXPECT_EQ(second.guard, first.guard) << "the guard's memory outlives a reload";
  config.auth->failed_attempts->limit = 8;
  const auto changed = build_auth(config, environment_);
  ASSERT_NE(changed.guard, nullptr);
  EXPECT_NE(changed.guard, first.guard);
  EXPECT_EQ(changed.guard->options().limit, 8u);
}

// ---- resolve_config_path ----

TEST(ResolveConfigPath, Cases) {
  EXPECT_EQ(resolve_config_path("/etc/bulwark/bulwark.yaml", "keys/hs.secret"),
            "/etc/bulwark/keys/hs.secret");
  EXPECT_EQ(resolve_config_path("/etc/bulwark/bulwark.yaml", "/run/secrets/hs"), "/run/secrets/hs");
  EXPECT_EQ(resolve_config_path("/etc/bulwark/bulwark.yaml", "../shared/jwks.json"),
            "/etc/shared/jwks.json");
  EXPECT_EQ(resolve_config_path("/etc/bulwark/bulwark.yaml", "./hs.secret"),
            "/etc/bulwark/hs.secret");
  EXPECT_EQ(resolve_config_path("bulwark.yaml", "hs.secret"), "hs.secret");
  EXPECT_EQ(resolve_config_path("conf/bulwark.yaml", "hs.secret"), "conf/hs.secret");
  EXPECT_EQ(resolve_config_path("", "keys/hs.secret"), "keys/hs.secret");
}

}  // namespace
}  // namespace bulwark::gateway
