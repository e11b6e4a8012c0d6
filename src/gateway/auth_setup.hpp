#pragma once
// From the `auth:` section to a working Authenticator: reads the secrets (environment,
// files), PEM keys and JWKS files, and sets up the remote key sets. Everything a config load
// checks about key material happens here, with the same file:line errors as the loader's,
// so `bulwark check`, `serve`, a reload and `bulwark token --config` agree.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/authenticator.hpp"
#include "auth/failure_guard.hpp"
#include "auth/remote_key_set.hpp"
#include "config/config.hpp"
#include "config/loader.hpp"

namespace bulwark::gateway {

// What outlives one config: the key generation, the remote key sets (a reload that keeps a
// jwks_url keeps its fetched keys) and the brute-force guard's memory.
struct AuthEnvironment {
  auth::KeyGeneration generation;
  std::map<std::string, std::shared_ptr<auth::RemoteKeySet>> remote_key_sets;
  std::shared_ptr<auth::FailureGuard> guard;
  // The environment lookup for secret_env (tests replace it).
  std::function<std::optional<std::string>(const std::string&)> getenv;

  AuthEnvironment();
};

struct AuthSetup {
  std::shared_ptr<auth::Authenticator> authenticator;  // null when the config has no issuers
  std::shared_ptr<auth::FailureGuard> guard;           // null when failed_attempts is off
  std::vector<std::shared_ptr<auth::RemoteKeySet>> remote_key_sets;  // to fetch
  std::vector<config::ConfigError> errors;
  // Legal but risky choices, said at load (`bulwark check`, serve, reload): an issuer without
  // audiences (RFC 8725 §3.9), keys fetched over plain http from another host.
  std::vector<config::ConfigError> warnings;
};

AuthSetup build_auth(const config::Config& config, AuthEnvironment& environment);

// The path a key file setting names: as is when absolute, else next to the config file.
std::string resolve_config_path(const std::string& config_path, const std::string& path);

}  // namespace bulwark::gateway
