#pragma once
// `bulwark token sign` mints a JWT for testing; `bulwark token verify` checks one exactly as
// the auth kernel does (parse_compact, key by kid, verify_signature, validate_claims).
// Secrets come from environment variables, whose value is used as is: its bytes are the
// HMAC key (a secret written by `bulwark keys generate` is used as the text it is).

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace bulwark::cli {

struct TokenSignOptions {
  std::string key_file;
  std::string secret_env;
  std::string alg;
  std::string kid;
  std::string iss;
  std::vector<std::string> audiences;
  std::string sub;
  std::string scope;
  std::string ttl = "10m";
  std::vector<std::string> claims;
};

// `bulwark token --config FILE --issuer NAME ...`: sign with what the config says of the
// issuer (its iss, first audience, and its HS secret unless --key is given).
struct TokenMintOptions {
  std::string config_file;
  std::string issuer;
  std::string key_file;
  std::string alg;
  std::string sub;
  std::string scope;
  std::string ttl = "10m";
  std::vector<std::string> claims;
};

struct TokenVerifyOptions {
  std::string token;
  std::string config_file;
  std::string issuer;
  std::string jwk_file;
  std::string jwks_file;
  std::string pem_file;
  std::string secret_env;
  std::string alg;
  std::string iss;
  std::vector<std::string> audiences;
  std::string max_lifetime;
  std::string leeway = "30s";
  bool signature_only = false;
};

struct TokenCommand {
  CLI::App* token = nullptr;
  CLI::App* sign = nullptr;
  CLI::App* verify = nullptr;
  TokenMintOptions mint_options;
  TokenSignOptions sign_options;
  TokenVerifyOptions verify_options;
};

// Registers `token`, `token sign` and `token verify` on `app`; `command` must outlive the parse.
void add_token_command(CLI::App& app, TokenCommand& command);

// Exit code: 0 signed or valid, 1 invalid token or failure, 2 bad usage or unusable key.
int run_token_command(const TokenCommand& command);

}  // namespace bulwark::cli
