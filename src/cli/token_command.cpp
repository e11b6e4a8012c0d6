#include "cli/token_command.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <set>

#include "auth/algorithm.hpp"
#include "auth/base64url.hpp"
#include "auth/claims.hpp"
#include "auth/jwk.hpp"
#include "auth/jws.hpp"
#include "auth/signing_key.hpp"
#include "auth/verification_key.hpp"
#include "cli/support.hpp"
#include "config/loader.hpp"
#include "config/units.hpp"
#include "gateway/auth_setup.hpp"

namespace bulwark::cli {

namespace {

using auth::Algorithm;

constexpr const char* kAlgorithms =
    "HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA";

int usage(const char* command, const std::string& message) {
  std::cerr << "bulwark token " << command << ": " << message << "\n";
  return 2;
}

std::optional<Algorithm> algorithm_option(const char* command, const std::string& name) {
  const auto alg = auth::algorithm_from_name(name);
  if (!alg) {
    std::cerr << "bulwark token " << command << ": unknown --alg '" << name << "' (" << kAlgorithms
              << ")\n";
  }
  return alg;
}

// The environment variable's value as is, or nullopt with a message.
std::optional<std::string> secret_from_env(const char* command, const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr || *value == '\0') {
    std::cerr << "bulwark token " << command << ": the environment variable " << name
              << " is not set or empty\n";
    return std::nullopt;
  }
  return std::string(value);
}

// "10m" → whole seconds, or nullopt with a message.
std::optional<std::chrono::seconds> seconds_option(const char* command, const char* option,
                                                   const std::string& text) {
  std::string why;
  const auto duration = config::parse_duration(text, &why);
  if (!duration) {
    std::cerr << "bulwark token " << command << ": " << option << ": " << why << "\n";
    return std::nullopt;
  }
  return std::chrono::duration_cast<std::chrono::seconds>(*duration);
}

// ---- sign --------------------------------------------------------------------------------

const std::set<std::string, std::less<>> kSetByOptions = {"iss", "sub", "aud", "scope",
                                                          "iat", "exp", "jti"};

// `secret`, when given, is the HMAC key (from a config) in place of --secret-env.
int sign(const TokenSignOptions& options, const std::optional<std::string>& secret_bytes = {}) {
  const char* cmd = "sign";
  const auto alg = algorithm_option(cmd, options.alg);
  if (!alg) return 2;
  const auto ttl = seconds_option(cmd, "--ttl", options.ttl);
  if (!ttl) return 2;
  if (*ttl < std::chrono::seconds(1)) return usage(cmd, "--ttl must be at least 1s");

  std::optional<std::string> kid;
  if (!options.kid.empty()) kid = options.kid;

  std::optional<auth::SigningKey> key;
  if (secret_bytes) {
    auto made = auth::SigningKey::from_hmac_secret(*secret_bytes, *alg, kid);
    if (!made) return usage(cmd, "the issuer's secret: " + made.error().detail);
    key.emplace(std::move(made).value());
  } else if (!options.secret_env.empty()) {
    const auto secret = secret_from_env(cmd, options.secret_env);
    if (!secret) return 2;
    auto made = auth::SigningKey::from_hmac_secret(*secret, *alg, kid);
    if (!made) return usage(cmd, "--secret-env " + options.secret_env + ": " + made.error().detail);
    key.emplace(std::move(made).value());
  } else {
    std::string why;
    const auto pem = read_file(options.key_file, why);
    if (!pem) return usage(cmd, why);
    auto made = auth::SigningKey::from_private_pem(*pem, *alg, kid);
    if (!made) return usage(cmd, "--key " + options.key_file + ": " + made.error().detail);
    key.emplace(std::move(made).value());
  }

  boost::json::object header;
  header["alg"] = auth::algorithm_name(*alg);
  header["typ"] = "JWT";
  if (kid) header["kid"] = *kid;

  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  boost::json::object payload;
  payload["iss"] = options.iss;
  payload["sub"] = options.sub;
  if (options.audiences.size() == 1) {
    payload["aud"] = options.audiences.front();
  } else if (options.audiences.size() > 1) {
    boost::json::array audiences;
    for (const auto& audience : options.audiences) audiences.emplace_back(audience);
    payload["aud"] = std::move(audiences);
  }
  if (!options.scope.empty()) payload["scope"] = options.scope;
  payload["iat"] = now;
  payload["exp"] = now + ttl->count();
  const auto jti = random_bytes(16);
  if (!jti) return usage(cmd, "the random number generator failed");
  payload["jti"] = auth::base64url_encode(*jti);

  for (const auto& claim : options.claims) {
    const auto equals = claim.find('=');
    if (equals == std::string::npos || equals == 0) {
      return usage(cmd, "--claim '" + claim + "': expected name=value");
    }
    const std::string name = claim.substr(0, equals);
    const std::string text = claim.substr(equals + 1);
    if (kSetByOptions.count(name) != 0) {
      return usage(cmd, "--claim " + name +
                            ": set by its own option (--iss, --sub, --aud, "
                            "--scope, --ttl) or by the command (iat, jti)");
    }
    if (payload.contains(name)) return usage(cmd, "--claim " + name + " given twice");
    boost::system::error_code ec;
    boost::json::value value = boost::json::parse(text, ec);
    if (ec) value = boost::json::string(text);  // not JSON: a string
    payload[name] = std::move(value);
  }

  auto token =
      auth::sign_compact(boost::json::serialize(header), boost::json::serialize(payload), *key);
  if (!token) {
    std::cerr << "bulwark token sign: " << auth::reason_name(token.error().reason) << ": "
              << token.error().detail << "\n";
    return 1;
  }
  std::cout << *token << "\n";
  return 0;
}

// ---- verify ------------------------------------------------------------------------------

int invalid(const auth::AuthError& error) {
  std::cout << "invalid: " << auth::reason_name(error.reason) << " (" << error.detail << ")\n";
  return 1;
}

void print_payload(const std::string& payload) {
  boost::system::error_code ec;
  const boost::json::value value = boost::json::parse(payload, ec);
  if (ec) {
    std::cout << payload << "\n";
  } else {
    std::cout << pretty_json(value) << "\n";
  }
}

// ---- with a config ------------------------------------------------------------------------

struct LoadedConfig {
  config::Config config;
  gateway::AuthSetup auth;
};

std::optional<LoadedConfig> load_auth_config(const char* cmd, const std::string& path) {
  auto result = config::load_config_file(path);
  if (!result.ok()) {
    for (const auto& error : result.errors) std::cerr << error.to_string() << "\n";
    usage(cmd, "--config " + path + " has " + std::to_string(result.errors.size()) + " error(s)");
    return std::nullopt;
  }
  gateway::AuthEnvironment environment;
  auto auth = gateway::build_auth(*result.config, environment);
  if (!auth.errors.empty()) {
    for (const auto& error : auth.errors) std::cerr << error.to_string() << "\n";
    usage(cmd, "--config " + path + ": the keys cannot be loaded");
    return std::nullopt;
  }
  if (!auth.authenticator) {
    usage(cmd, "--config " + path + " defines no issuer under auth.issuers");
    return std::nullopt;
  }
  return LoadedConfig{std::move(*result.config), std::move(auth)};
}

const config::AuthIssuer* find_issuer(const char* cmd, const config::Config& config,
                                      const std::string& name) {
  const auto* issuer = config.auth->find_issuer(name);
  if (issuer == nullptr) {
    std::string names;
    for (const auto& i : config.auth->issuers) names += (names.empty() ? "" : ", ") + i.name;
    usage(cmd, "--issuer " + name + ": no such issuer in the config (issuers: " + names + ")");
  }
  return issuer;
}

// The issuer's HMAC secret as the gateway reads it, and the key entry it came from.
std::optional<std::string> config_secret(const std::string& config_path, const config::AuthKey& key,
                                         std::string& why) {
  if (key.secret_env) {
    const char* value = std::getenv(key.secret_env->c_str());
    if (value == nullptr || *value == '\0') {
      why = "the environment variable " + *key.secret_env + " is not set";
      return std::nullopt;
    }
    return std::string(value);
  }
  auto bytes = read_file(gateway::resolve_config_path(config_path, *key.secret_file), why);
  if (!bytes) return std::nullopt;
  if (!bytes->empty() && bytes->back() == '\n') bytes->pop_back();
  if (!bytes->empty() && bytes->back() == '\r') bytes->pop_back();
  return bytes;
}

int mint(const TokenMintOptions& options) {
  const char* cmd = "--config";
  auto loaded = load_auth_config(cmd, options.config_file);
  if (!loaded) return 2;
  const auto* issuer = find_issuer(cmd, loaded->config, options.issuer);
  if (issuer == nullptr) return 2;

  TokenSignOptions sign_options{.key_file = options.key_file,
                                .alg = options.alg,
                                .iss = issuer->issuer,
                                .sub = options.sub,
                                .scope = options.scope,
                                .ttl = options.ttl,
                                .claims = options.claims};
  if (!issuer->audiences.empty()) sign_options.audiences = {issuer->audiences.front()};
  std::optional<std::string> secret;
  const bool want_secret = options.key_file.empty();
  for (const auto& key : issuer->keys) {
    const bool is_secret = key.secret_env || key.secret_file;
    if (is_secret != want_secret || !key.alg) continue;
    if (!options.alg.empty() && *key.alg != options.alg) continue;
    sign_options.alg = *key.alg;
    sign_options.kid = key.kid.value_or("");
    if (want_secret) {
      std::string why;
      secret = config_secret(loaded->config.source_path, key, why);
      if (!secret) return usage(cmd, why);
    }
    break;
  }
  if (want_secret && !secret) {
    return usage(cmd, "issuer " + issuer->name +
                          " has no secret_env or secret_file key: sign with --key PRIVATE.pem");
  }
  if (sign_options.alg.empty()) {
    return usage(cmd, "give --alg: issuer " + issuer->name + " has no PEM key to take it from");
  }
  const auto ttl = seconds_option(cmd, "--ttl", options.ttl);
  if (!ttl) return 2;
  if (issuer->max_lifetime && *ttl > *issuer->max_lifetime) {
    return usage(cmd, "--ttl " + options.ttl + " is longer than the issuer's max_lifetime: the " +
                          "gateway would refuse the token");
  }
  return sign(sign_options, secret);
}

int verify_with_config(const TokenVerifyOptions& options) {
  const char* cmd = "verify";
  auto loaded = load_auth_config(cmd, options.config_file);
  if (!loaded) return 2;
  auth::IssuerMask allowed = auth::kAllIssuers;
  if (!options.issuer.empty()) {
    if (find_issuer(cmd, loaded->config, options.issuer) == nullptr) return 2;
    allowed = auth::IssuerMask{1} << *loaded->auth.authenticator->issuer_index(options.issuer);
  }
  if (!loaded->auth.remote_key_sets.empty()) {
    std::cerr << "note: keys from jwks_url are not fetched by this command; tokens signed by "
                 "them show as unknown_key\n";
  }
  auto& authenticator = *loaded->auth.authenticator;
  if (options.signature_only) {
    auto payload = authenticator.verify_signature_only(options.token, allowed);
    if (!payload) return invalid(payload.error());
    std::cout << "valid\n";
    std::cerr << "note: --signature-only: the claims were not checked\n";
    print_payload(*payload);
    return 0;
  }
  auto result =
      authenticator.authenticate(options.token, allowed, std::chrono::system_clock::now());
  if (!result) return invalid(result.error());
  std::cout << "valid (issuer " << authenticator.issuers()[result->issuer].name << ")\n"
            << pretty_json(result->claims->claims) << "\n";
  return 0;
}

int verify(const TokenVerifyOptions& options) {
  const char* cmd = "verify";
  if (!options.config_file.empty()) return verify_with_config(options);
  std::optional<Algorithm> alg;
  if (!options.alg.empty()) {
    alg = algorithm_option(cmd, options.alg);
    if (!alg) return 2;
  }
  if ((!options.pem_file.empty() || !options.secret_env.empty()) && !alg) {
    return usage(cmd, "--pem and --secret-env need --alg: a key pins its algorithm");
  }

  auth::ClaimsPolicy policy;
  if (!options.iss.empty()) policy.issuer = options.iss;
  policy.audiences = options.audiences;
  const auto leeway = seconds_option(cmd, "--leeway", options.leeway);
  if (!leeway) return 2;
  policy.leeway = *leeway;
  if (!options.max_lifetime.empty()) {
    const auto max_lifetime = seconds_option(cmd, "--max-lifetime", options.max_lifetime);
    if (!max_lifetime) return 2;
    policy.max_lifetime = *max_lifetime;
  }

  // The key first: an unusable key is the caller's problem, not the token's.
  std::optional<auth::VerificationKey> single_key;
  std::optional<auth::JwkSet> key_set;
  std::string why;
  if (!options.jwks_file.empty()) {
    const auto json = read_file(options.jwks_file, why);
    if (!json) return usage(cmd, why);
    auto set = auth::key_set_from_jwks_json(*json, alg);
    if (!set) return usage(cmd, "--jwks " + options.jwks_file + ": " + set.error().detail);
    for (const auto& skipped : set->skipped) {
      std::cerr << "note: --jwks entry " << skipped.index << " skipped: " << skipped.why << "\n";
    }
    key_set.emplace(std::move(set).value());
  } else if (!options.jwk_file.empty()) {
    const auto json = read_file(options.jwk_file, why);
    if (!json) return usage(cmd, why);
    auto made = auth::key_from_jwk_json(*json, alg);
    if (!made) return usage(cmd, "--jwk " + options.jwk_file + ": " + made.error().detail);
    single_key.emplace(std::move(made).value());
  } else if (!options.pem_file.empty()) {
    const auto pem = read_file(options.pem_file, why);
    if (!pem) return usage(cmd, why);
    auto made = auth::VerificationKey::from_public_pem(*pem, *alg);
    if (!made) return usage(cmd, "--pem " + options.pem_file + ": " + made.error().detail);
    single_key.emplace(std::move(made).value());
  } else if (!options.secret_env.empty()) {
    const auto secret = secret_from_env(cmd, options.secret_env);
    if (!secret) return 2;
    auto made = auth::VerificationKey::from_hmac_secret(*secret, *alg);
    if (!made) return usage(cmd, "--secret-env " + options.secret_env + ": " + made.error().detail);
    single_key.emplace(std::move(made).value());
  } else {
    return usage(cmd,
                 "give the key: --jwk FILE, --jwks FILE, --pem FILE --alg ALG or "
                 "--secret-env VAR --alg ALG");
  }

  auto parsed = auth::parse_compact(options.token);
  if (!parsed) return invalid(parsed.error());

  const auth::VerificationKey* key = single_key ? &*single_key : nullptr;
  if (key_set) {
    const auto& kid = parsed->header.kid;
    if (!kid) {
      return invalid(auth::auth_error(auth::AuthFailure::unknown_key,
                                      "the token has no kid: a JWKS key is chosen by kid"));
    }
    key = key_set->find(*kid, parsed->header.alg);
    if (key == nullptr) {
      // A key with this kid but another alg: let verify_signature name the mismatch.
      for (const auto& candidate : key_set->keys) {
        if (candidate.kid() == *kid) {
          key = &candidate;
          break;
        }
      }
    }
    if (key == nullptr) {
      return invalid(auth::auth_error(auth::AuthFailure::unknown_key,
                                      "no key in the JWKS has the token's kid for alg " +
                                          std::string(auth::algorithm_name(parsed->header.alg))));
    }
  }

  if (auto verified = auth::verify_signature(*parsed, *key); !verified) {
    return invalid(verified.error());
  }

  if (options.signature_only) {
    std::cout << "valid\n";
    std::cerr << "note: --signature-only: the claims were not checked\n";
    print_payload(parsed->payload);
    return 0;
  }

  auto claims = auth::validate_claims(parsed->payload, policy, std::chrono::system_clock::now());
  if (!claims) return invalid(claims.error());
  std::cout << "valid\n" << pretty_json(claims->claims) << "\n";
  return 0;
}

}  // namespace

void add_token_command(CLI::App& app, TokenCommand& command) {
  command.token = app.add_subcommand(
      "token",
      "Mint a token for a configured issuer (--config FILE --issuer NAME --sub ...), or use the "
      "sign / verify subcommands");
  command.token->require_subcommand(0, 1);
  auto& m = command.mint_options;
  command.token->add_option("--config", m.config_file, "Config file whose issuer signs");
  command.token->add_option("--issuer", m.issuer, "The issuer's name under auth.issuers");
  command.token->add_option("--key", m.key_file,
                            "Private key PEM (default: the issuer's HS secret)");
  command.token->add_option("--alg", m.alg, "Algorithm (default: the issuer key's)");
  command.token->add_option("--sub", m.sub, "Subject");
  command.token->add_option("--scope", m.scope, "Space-separated scopes, e.g. \"read write\"");
  command.token->add_option("--ttl", m.ttl, "Lifetime: 30s, 10m, 1h")->capture_default_str();
  command.token->add_option("--claim", m.claims, "Extra claim name=value (repeatable)");

  auto& s = command.sign_options;
  command.sign = command.token->add_subcommand(
      "sign",
      "Print a signed JWT (compact JWS) with iss, sub, aud, scope, iat, exp = now + ttl and a "
      "random jti. A secret is read from an environment variable and used as is: its bytes are "
      "the HMAC key.");
  auto* key_opt = command.sign->add_option("--key", s.key_file, "Private key PEM file");
  auto* env_opt = command.sign->add_option(
      "--secret-env", s.secret_env,
      "Environment variable holding the HMAC secret (its value as is, for HS*)");
  key_opt->excludes(env_opt);
  env_opt->excludes(key_opt);
  command.sign->add_option("--alg", s.alg, kAlgorithms)->required();
  command.sign->add_option("--kid", s.kid, "Key id for the header (needed to verify with a JWKS)");
  command.sign->add_option("--iss", s.iss, "Issuer")->required();
  command.sign->add_option("--aud", s.audiences, "Audience (repeatable)");
  command.sign->add_option("--sub", s.sub, "Subject")->required();
  command.sign->add_option("--scope", s.scope, "Space-separated scopes, e.g. \"read write\"");
  command.sign->add_option("--ttl", s.ttl, "Lifetime: 30s, 10m, 1h (whole seconds)")
      ->capture_default_str();
  command.sign->add_option("--claim", s.claims,
                           "Extra claim name=value (repeatable); the value is JSON when it "
                           "parses as JSON (42, true, [\"a\"]), a string otherwise");

  auto& v = command.verify_options;
  command.verify = command.token->add_subcommand(
      "verify",
      "Check a token as the gateway does: signature (key by kid in a JWKS), then claims. Prints "
      "`valid` and the claims (exit 0) or `invalid: REASON (detail)` (exit 1).");
  command.verify->add_option("token", v.token, "The compact JWS")->required();
  auto* config_opt = command.verify->add_option(
      "--config", v.config_file, "Verify with a config's issuers, exactly as the gateway does");
  command.verify->add_option("--issuer", v.issuer, "With --config: only this issuer (by name)");
  auto* jwk_opt = command.verify->add_option("--jwk", v.jwk_file, "A JWK file (public key or oct)");
  auto* jwks_opt = command.verify->add_option("--jwks", v.jwks_file, "A JWKS file; key by kid");
  auto* pem_opt = command.verify->add_option("--pem", v.pem_file, "A public key PEM (with --alg)");
  auto* venv_opt = command.verify->add_option(
      "--secret-env", v.secret_env,
      "Environment variable holding the HMAC secret (its value as is; with --alg)");
  const std::vector<CLI::Option*> key_options = {jwk_opt, jwks_opt, pem_opt, venv_opt, config_opt};
  for (auto* a : key_options) {
    for (auto* b : key_options) {
      if (a != b) a->excludes(b);
    }
  }
  command.verify->add_option("--alg", v.alg,
                             "The key's algorithm (required with --pem and --secret-env)");
  command.verify->add_option("--iss", v.iss, "Required issuer");
  command.verify->add_option("--aud", v.audiences, "Accepted audience (repeatable)");
  command.verify->add_option("--max-lifetime", v.max_lifetime,
                             "Refuse tokens living longer (exp - iat), e.g. 15m");
  command.verify->add_option("--leeway", v.leeway, "Clock skew allowed")->capture_default_str();
  command.verify->add_flag("--signature-only", v.signature_only,
                           "Check the signature only and print the payload, whatever it holds");
}

int run_token_command(const TokenCommand& command) {
  if (command.sign && *command.sign) {
    if (command.sign_options.key_file.empty() && command.sign_options.secret_env.empty()) {
      return usage("sign", "give the key: --key FILE or --secret-env VAR");
    }
    return sign(command.sign_options);
  }
  if (command.verify && *command.verify) return verify(command.verify_options);
  const auto& m = command.mint_options;
  if (m.config_file.empty()) {
    std::cerr << "bulwark token: give --config FILE --issuer NAME --sub SUBJECT, or a "
                 "subcommand: sign or verify\n";
    return 2;
  }
  if (m.issuer.empty() || m.sub.empty()) {
    return usage("--config", "--issuer NAME and --sub SUBJECT are required");
  }
  return mint(m);
}

}  // namespace bulwark::cli
