#pragma once
// The compiled form of a config: built once at load (or SIGHUP), immutable afterwards, and
// shared by the workers. The hot path only reads it.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/revocation_list.hpp"
#include "cache/coalescer.hpp"
#include "cache/memory_store.hpp"
#include "config/config.hpp"
#include "config/loader.hpp"
#include "gateway/auth_setup.hpp"
#include "gateway/auth_stage.hpp"
#include "gateway/cache_stage.hpp"
#include "gateway/limit_stage.hpp"
#include "http/router.hpp"
#include "limit/memory_store.hpp"
#include "observe/metrics.hpp"

namespace bulwark::gateway {

struct CompiledUpstream {
  std::string name;
  std::vector<config::Endpoint> targets;
  config::Duration connect_timeout;
  config::Duration timeout;
  uint32_t max_idle_per_target = 0;
  uint32_t metrics_slot = 0;
};

struct CompiledRoute {
  std::string name;
  size_t upstream = 0;  // index into Runtime::upstreams
  uint32_t metrics_slot = 0;
  std::optional<RouteAuthPolicy> auth;  // nullopt: no authentication on this route
  std::optional<RouteLimits> limits;    // nullopt: no rate limit on this route
  std::optional<CompiledCache> cache;   // nullopt: nothing stored for this route
};

// What outlives one config: the key material's environment, the rate-limit state (a
// reload keeps every client's position in its limits) and the cache (kept while its size
// settings stay the same).
struct CompileEnvironment {
  AuthEnvironment auth;
  std::shared_ptr<limit::MemoryStore> limit_store =
      std::make_shared<limit::MemoryStore>(limit::MemoryStore::Options{});
  std::shared_ptr<cache::MemoryStore> cache_store;  // made by the first config that caches
  std::shared_ptr<cache::Coalescer> coalescer = std::make_shared<cache::Coalescer>();
  // Revoked tokens: kept across reloads (and shared through Redis with `state:`).
  std::shared_ptr<auth::RevocationList> revocations = std::make_shared<auth::RevocationList>();
};

struct Runtime {
  config::Config config;
  http::Router router;
  std::vector<CompiledRoute> routes;        // parallel to config.routes
  std::vector<CompiledUpstream> upstreams;  // parallel to config.upstreams
  uint64_t generation = 0;
  AuthSetup auth;
  // Lower-case names of every forward_claims header of every route: removed from every
  // incoming request, whatever its route, so that no client can pose as a verified user.
  std::vector<std::string> claim_headers;
  std::vector<CompiledLimit> limits;  // by index; CompiledLimit::id is the store's and metrics'
  std::shared_ptr<limit::MemoryStore> limit_store;
  // Null when no route caches.
  std::shared_ptr<cache::MemoryStore> cache_store;
  std::shared_ptr<cache::Coalescer> coalescer;
  uint64_t cache_max_object_bytes = 0;
  std::shared_ptr<auth::RevocationList> revocations;
  // How long a revocation is kept: the longest lifetime a token of any issuer may have.
  int64_t revocation_lifetime_s = 0;

  bool is_trusted_proxy(const std::array<uint8_t, 16>& ip) const;
};

struct CompileResult {
  std::shared_ptr<const Runtime> runtime;  // null when errors is not empty
  std::vector<config::ConfigError> errors;
};

// `config` must be validated (load_config_* succeeded). Fails when key material cannot be
// loaded (auth_setup.hpp).
CompileResult compile_runtime(config::Config config, observe::Metrics& metrics, uint64_t generation,
                              CompileEnvironment& environment);

}  // namespace bulwark::gateway
