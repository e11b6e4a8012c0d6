#include "gateway/runtime.hpp"

#include <algorithm>

namespace bulwark::gateway {
namespace {

std::string to_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return out;
}

auth::Requirements requirements(const config::RouteAuth& from) {
  auth::Requirements required;
  required.scopes = from.scopes;
  for (const auto& condition : from.claims) {
    required.claims.push_back(
        auth::ClaimRequirement{.claim = auth::claim_path(condition.claim),
                               .op = condition.op == config::ClaimCondition::Op::equals
                                         ? auth::ClaimRequirement::Op::equals
                                         : auth::ClaimRequirement::Op::contains,
                               .value = condition.value});
  }
  return required;
}

std::optional<RouteAuthPolicy> route_auth(const config::Route& route, const AuthSetup& setup) {
  if (!route.auth || route.auth->mode == config::AuthMode::off) return std::nullopt;
  const auto& from = *route.auth;
  RouteAuthPolicy policy{.mode = from.mode,
                         .issuers = from.issuers.empty() ? auth::kAllIssuers : 0,
                         .requirements = requirements(from),
                         .forward_claims = {},
                         .token = from.token,
                         .forward_token = from.forward_token};
  for (const auto& name : from.issuers) {
    auto index = setup.authenticator ? setup.authenticator->issuer_index(name) : std::nullopt;
    if (index) policy.issuers |= auth::IssuerMask{1} << *index;
  }
  for (const auto& [claim, header] : from.forward_claims) {
    policy.forward_claims.push_back({auth::claim_path(claim), header});
  }
  return policy;
}

void add_claim_headers(const config::Route& route, std::vector<std::string>& names) {
  if (!route.auth) return;
  for (const auto& [claim, header] : route.auth->forward_claims) {
    std::string lower = to_lower(header);
    if (std::find(names.begin(), names.end(), lower) == names.end()) names.push_back(lower);
  }
}

}  // namespace

bool Runtime::is_trusted_proxy(const std::array<uint8_t, 16>& ip) const {
  for (const auto& network : config.server.trusted_proxies) {
    if (network.contains(ip)) return true;
  }
  return false;
}

CompileResult compile_runtime(config::Config config, observe::Metrics& metrics, uint64_t generation,
                              AuthEnvironment& auth_environment) {
  auto runtime = std::make_shared<Runtime>();
  runtime->auth = build_auth(config, auth_environment);
  if (!runtime->auth.errors.empty()) return {nullptr, std::move(runtime->auth.errors)};
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
    runtime->routes.push_back(CompiledRoute{.name = r.name,
                                            .upstream = upstream_index,
                                            .metrics_slot = metrics.route_slot(r.name),
                                            .auth = route_auth(r, runtime->auth)});
    add_claim_headers(r, runtime->claim_headers);
  }
  runtime->config = std::move(config);
  return {std::move(runtime), {}};
}

}  // namespace bulwark::gateway
