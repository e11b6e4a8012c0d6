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
#include "config/units.hpp"

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

int sign(const TokenSignOptions& options) {
  const char* cmd = "sign";
  const auto alg = algorithm_option(cmd, options.alg);
  if (!alg) return 2;
  const auto ttl = seconds_option(cmd, "--ttl", options.ttl);
  if (!ttl) return 2;
  if (*ttl < std::chrono::seconds(1)) return usage(cmd, "--ttl must be at least 1s");

  std::optional<std::string> kid;
  if (!options.kid.empty()) kid = options.kid;

  std::optional<auth::SigningKey> key;
  if (!options.secret_env.empty()) {
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

int verify(const TokenVerifyOptions& options) {
  const char* cmd = "verify";
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
  command.token = app.add_subcommand("token", "Mint a test token, or verify one");
  command.token->require_subcommand(1);

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
  auto* jwk_opt = command.verify->add_option("--jwk", v.jwk_file, "A JWK file (public key or oct)");
  auto* jwks_opt = command.verify->add_option("--jwks", v.jwks_file, "A JWKS file; key by kid");
  auto* pem_opt = command.verify->add_option("--pem", v.pem_file, "A public key PEM (with --alg)");
  auto* venv_opt = command.verify->add_option(
      "--secret-env", v.secret_env,
      "Environment variable holding the HMAC secret (its value as is; with --alg)");
  const std::vector<CLI::Option*> key_options = {jwk_opt, jwks_opt, pem_opt, venv_opt};
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
  std::cerr << "bulwark token: give a subcommand: sign or verify\n";
  return 2;
}

}  // namespace bulwark::cli
