#include "gateway/auth_setup.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "auth/jwk.hpp"

namespace bulwark::gateway {
namespace {

constexpr uint64_t kMaxKeyFileBytes = 1024 * 1024;

std::optional<std::string> read_small_file(const std::string& path, std::string& why) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    why = "is a directory";
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    why = std::string("cannot open: ") + std::strerror(errno);
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::string bytes = text.str();
  if (bytes.size() > kMaxKeyFileBytes) {
    why = "is larger than 1 MiB: not a key file";
    return std::nullopt;
  }
  return bytes;
}

// A secret file usually ends with the newline an editor or `echo` added: it is not part of
// the secret.
std::string without_final_newline(std::string text) {
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty() && text.back() == '\r') text.pop_back();
  return text;
}

bool is_plain_http_to_another_host(std::string_view url) {
  constexpr std::string_view kHttp = "http://";
  if (url.substr(0, kHttp.size()) != kHttp) return false;
  std::string_view rest = url.substr(kHttp.size());
  for (std::string_view loopback : {"127.", "localhost:", "localhost/", "[::1]"}) {
    if (rest.substr(0, loopback.size()) == loopback) return false;
  }
  return rest != "localhost";
}

std::string remote_key_set_id(const config::AuthKey& key, const std::string& ca_path) {
  return *key.jwks_url + '\n' + key.alg.value_or("") + '\n' + std::to_string(key.refresh.count()) +
         '\n' + std::to_string(key.unknown_kid_refetch.count()) + '\n' +
         std::to_string(key.fetch_timeout.count()) + '\n' + ca_path;
}

class IssuerBuilder {
 public:
  IssuerBuilder(const config::Config& config, AuthEnvironment& environment, AuthSetup& setup)
      : config_(config), environment_(environment), setup_(setup) {}

  auth::Issuer build(const config::AuthIssuer& from) {
    path_ = "auth.issuers." + from.name + ".keys";
    if (from.audiences.empty()) {
      setup_.warnings.push_back(
          {config_.source_path, from.line, "auth.issuers." + from.name + ".audiences",
           "not set: tokens are accepted whatever their aud, including ID tokens and tokens "
           "issued for other clients of " +
               from.issuer + " (RFC 8725 §3.9); list this API's audience"});
    }
    auth::Issuer issuer;
    issuer.name = from.name;
    issuer.policy.issuer = from.issuer;
    issuer.policy.audiences = from.audiences;
    issuer.policy.require_exp = from.require_exp;
    issuer.policy.leeway = std::chrono::duration_cast<std::chrono::seconds>(config_.auth->leeway);
    if (from.max_lifetime) {
      issuer.policy.max_lifetime =
          std::chrono::duration_cast<std::chrono::seconds>(*from.max_lifetime);
    }
    for (std::size_t i = 0; i < from.keys.size(); ++i) add_key(from.keys[i], i, issuer);
    return issuer;
  }

 private:
  void error(const config::AuthKey& key, std::size_t index, std::string_view field,
             std::string message) {
    setup_.errors.push_back({config_.source_path, key.line,
                             path_ + "[" + std::to_string(index) + "]." + std::string(field),
                             std::move(message)});
  }

  std::optional<auth::Algorithm> alg(const config::AuthKey& key) {
    if (!key.alg) return std::nullopt;
    return auth::algorithm_from_name(*key.alg);
  }

  std::optional<std::string> file(const config::AuthKey& key, std::size_t index,
                                  std::string_view field, const std::string& path) {
    std::string why;
    auto bytes = read_small_file(resolve_config_path(config_.source_path, path), why);
    if (!bytes) error(key, index, field, "'" + path + "' " + why);
    return bytes;
  }

  void add(auth::Result<auth::VerificationKey> made, const config::AuthKey& key, std::size_t index,
           std::string_view field, auth::Issuer& issuer) {
    if (!made) {
      error(key, index, field, made.error().detail);
      return;
    }
    issuer.keys.push_back(std::move(made.value()));
  }

  void add_key(const config::AuthKey& key, std::size_t index, auth::Issuer& issuer) {
    const auto algorithm = alg(key);
    if (key.alg && !algorithm) {
      error(key, index, "alg",
            "unknown algorithm '" + *key.alg +
                "': use one of HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512 ES256 "
                "ES384 ES512 EdDSA");
      return;
    }
    if (!algorithm && !key.jwks_file && !key.jwks_url) {
      error(key, index, "alg", "a secret or PEM key needs its algorithm: add alg, like alg: HS256");
      return;
    }
    if (key.secret_env) {
      auto secret = environment_.getenv(*key.secret_env);
      if (!secret || secret->empty()) {
        error(key, index, "secret_env",
              "the environment variable " + *key.secret_env +
                  " is not set: export it with a random secret of at least 32 bytes, e.g. "
                  "`bulwark keys generate --alg HS256`");
        return;
      }
      add(auth::VerificationKey::from_hmac_secret(*secret, *algorithm, key.kid), key, index,
          "secret_env", issuer);
    } else if (key.secret_file) {
      auto bytes = file(key, index, "secret_file", *key.secret_file);
      if (!bytes) return;
      add(auth::VerificationKey::from_hmac_secret(without_final_newline(*bytes), *algorithm,
                                                  key.kid),
          key, index, "secret_file", issuer);
    } else if (key.pem_file) {
      auto bytes = file(key, index, "pem_file", *key.pem_file);
      if (!bytes) return;
      add(auth::VerificationKey::from_public_pem(*bytes, *algorithm, key.kid), key, index,
          "pem_file", issuer);
    } else if (key.jwks_file) {
      auto bytes = file(key, index, "jwks_file", *key.jwks_file);
      if (!bytes) return;
      auto set = auth::key_set_from_jwks_json(*bytes, algorithm);
      if (!set) {
        error(key, index, "jwks_file", set.error().detail);
        return;
      }
      for (auto& k : set->keys) issuer.keys.push_back(std::move(k));
    } else if (key.jwks_url) {
      if (is_plain_http_to_another_host(*key.jwks_url)) {
        setup_.warnings.push_back(
            {config_.source_path, key.line, path_ + "[" + std::to_string(index) + "].jwks_url",
             "plain http to another host: anyone on the path can serve their own keys; use "
             "https://"});
      }
      issuer.remote_keys.push_back(remote_set(key, algorithm));
    }
  }

  std::shared_ptr<auth::RemoteKeySet> remote_set(const config::AuthKey& key,
                                                 std::optional<auth::Algorithm> algorithm) {
    std::string ca = key.ca_file ? resolve_config_path(config_.source_path, *key.ca_file) : "";
    auto& slot = environment_.remote_key_sets[remote_key_set_id(key, ca)];
    if (!slot) {
      auth::RemoteKeySet::Options options{.url = *key.jwks_url,
                                          .alg = algorithm,
                                          .refresh = key.refresh,
                                          .unknown_kid_refetch = key.unknown_kid_refetch,
                                          .fetch_timeout = key.fetch_timeout,
                                          .ca_file = std::nullopt};
      if (key.ca_file) options.ca_file = ca;
      slot = std::make_shared<auth::RemoteKeySet>(std::move(options), environment_.generation);
    }
    setup_.remote_key_sets.push_back(slot);
    return slot;
  }

  const config::Config& config_;
  AuthEnvironment& environment_;
  AuthSetup& setup_;
  std::string path_;
};

std::shared_ptr<auth::FailureGuard> guard_for(const config::FailedAttempts& attempts,
                                              AuthEnvironment& environment) {
  auth::FailureGuard::Options options{
      .limit = attempts.limit, .per = attempts.per, .cooldown = attempts.cooldown};
  const auto& kept = environment.guard;
  if (kept && kept->options().limit == options.limit && kept->options().per == options.per &&
      kept->options().cooldown == options.cooldown) {
    return kept;
  }
  environment.guard = std::make_shared<auth::FailureGuard>(options);
  return environment.guard;
}

}  // namespace

AuthEnvironment::AuthEnvironment()
    : getenv([](const std::string& name) -> std::optional<std::string> {
        const char* value = std::getenv(name.c_str());
        if (value == nullptr) return std::nullopt;
        return std::string(value);
      }) {}

std::string resolve_config_path(const std::string& config_path, const std::string& path) {
  std::filesystem::path p(path);
  if (p.is_absolute() || config_path.empty()) return path;
  return (std::filesystem::path(config_path).parent_path() / p).lexically_normal().string();
}

AuthSetup build_auth(const config::Config& config, AuthEnvironment& environment) {
  AuthSetup setup;
  if (!config.auth) return setup;
  const auto& auth_config = *config.auth;
  if (!auth_config.issuers.empty()) {
    std::vector<auth::Issuer> issuers;
    IssuerBuilder builder(config, environment, setup);
    for (const auto& issuer : auth_config.issuers) issuers.push_back(builder.build(issuer));
    // Any config load may change keys or policies: entries verified before are not reused.
    environment.generation.bump();
    setup.authenticator = std::make_shared<auth::Authenticator>(
        std::move(issuers), environment.generation, auth_config.token_cache_entries);
  }
  if (auth_config.failed_attempts) {
    setup.guard = guard_for(*auth_config.failed_attempts, environment);
  }
  return setup;
}

}  // namespace bulwark::gateway
