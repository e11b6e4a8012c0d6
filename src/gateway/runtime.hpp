#pragma once
// The compiled form of a config: built once at load (or SIGHUP), immutable afterwards, and
// shared by the workers. The hot path only reads it.

#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "http/router.hpp"
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
};

struct Runtime {
  config::Config config;
  http::Router router;
  std::vector<CompiledRoute> routes;        // parallel to config.routes
  std::vector<CompiledUpstream> upstreams;  // parallel to config.upstreams
  uint64_t generation = 0;

  bool is_trusted_proxy(const std::array<uint8_t, 16>& ip) const;
};

// `config` must be validated (load_config_* succeeded).
std::shared_ptr<const Runtime> compile_runtime(config::Config config, observe::Metrics& metrics,
                                               uint64_t generation);

}  // namespace bulwark::gateway
