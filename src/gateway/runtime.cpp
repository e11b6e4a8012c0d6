#include "gateway/runtime.hpp"

namespace bulwark::gateway {

bool Runtime::is_trusted_proxy(const std::array<uint8_t, 16>& ip) const {
  for (const auto& network : config.server.trusted_proxies) {
    if (network.contains(ip)) return true;
  }
  return false;
}

std::shared_ptr<const Runtime> compile_runtime(config::Config config, observe::Metrics& metrics,
                                               uint64_t generation) {
  auto runtime = std::make_shared<Runtime>();
  runtime->router = http::Router(config.routes);
  runtime->generation = generation;
  for (const auto& u : config.upstreams) {
    runtime->upstreams.push_back(CompiledUpstream{.name = u.name,
                                                  .targets = u.targets,
                                                  .connect_timeout = u.connect_timeout,
                                                  .timeout = u.timeout,
                                                  .max_idle_per_target = u.max_idle_per_target,
                                                  .metrics_slot = metrics.upstream_slot(u.name)});
  }
  for (const auto& r : config.routes) {
    size_t upstream_index = 0;
    for (size_t i = 0; i < config.upstreams.size(); ++i) {
      if (config.upstreams[i].name == r.upstream) upstream_index = i;
    }
    runtime->routes.push_back(CompiledRoute{
        .name = r.name, .upstream = upstream_index, .metrics_slot = metrics.route_slot(r.name)});
  }
  runtime->config = std::move(config);
  return runtime;
}

}  // namespace bulwark::gateway
