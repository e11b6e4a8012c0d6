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

CompiledLimit compile_limit(const config::RateLimit& from, uint32_t id) {
  CompiledLimit limit{
      .id = id,
      .name = from.name,
      .params = limit::gcra_params(
          from.count, std::chrono::duration_cast<std::chrono::nanoseconds>(from.period).count(),
          from.effective_burst()),
      .count = from.count,
      .period_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(from.period).count(),
      .key = from.key,
      .claim_paths = {},
      .mode = from.mode,
      .missing = from.missing,
      .cost = from.cost,
      .method_costs = from.method_costs};
  for (const auto& part : from.key) {
    bool claim = part.kind == config::LimitKeyPart::Kind::claim;
    limit.claim_paths.push_back(claim ? auth::claim_path(part.name) : auth::ClaimPath{});
    limit.needs_claims = limit.needs_claims || claim;
  }
  return limit;
}

void compile_limits(const config::Config& config, observe::Metrics& metrics, Runtime& runtime) {
  for (const auto& from : config.limits) {
    uint32_t id = metrics.limit_slot(from.name);
    runtime.limit_store->set_limit_capacity(id, from.max_keys);
    runtime.limits.push_back(compile_limit(from, id));
  }
}

std::optional<RouteLimits> route_limits(const config::Route& route, const config::Config& config,
                                        const Runtime& runtime) {
  if (route.limits.empty()) return std::nullopt;
  RouteLimits limits{.before_auth = {}, .after_auth = {}, .headers = route.limit_headers};
  for (const auto& name : route.limits) {
    for (uint32_t i = 0; i < config.limits.size(); ++i) {
      if (config.limits[i].name != name) continue;
      (runtime.limits[i].needs_claims ? limits.after_auth : limits.before_auth).push_back(i);
    }
  }
  return limits;
}

// The cache store of `config`: the environment's when its sizes are unchanged (a reload keeps
// what is stored), a new one otherwise; null when no route caches.
void attach_cache(const config::Config& config, CompileEnvironment& environment, Runtime& runtime) {
  bool caches = std::any_of(config.routes.begin(), config.routes.end(),
                            [](const config::Route& route) { return route.cache.has_value(); });
  if (!caches) return;
  const config::CacheSettings settings = config.cache.value_or(config::CacheSettings{});
  auto& store = environment.cache_store;
  if (!store || store->options().memory_bytes != settings.memory_bytes ||
      store->options().max_object_bytes != settings.max_object_bytes) {
    store = std::make_shared<cache::MemoryStore>(cache::MemoryStore::Options{
        .memory_bytes = settings.memory_bytes, .max_object_bytes = settings.max_object_bytes});
  }
  runtime.cache_store = store;
  runtime.coalescer = environment.coalescer;
  runtime.cache_max_object_bytes = settings.max_object_bytes;
}

// A revocation is forgotten once no token it covers can still be accepted: after the longest
// lifetime any issuer allows (max_lifetime; a week for an issuer without one, whose tokens may
// live longer still: the docs say to set max_lifetime), plus twice the clock leeway.
int64_t revocation_lifetime(const config::Config& config) {
  constexpr int64_t kDefaultLifetimeS = 7 * 24 * 3600;
  int64_t longest = 0;
  int64_t leeway = 0;
  if (config.auth) {
    leeway = std::chrono::duration_cast<std::chrono::seconds>(config.auth->leeway).count();
    for (const auto& issuer : config.auth->issuers) {
      const int64_t lifetime =
          issuer.max_lifetime
              ? std::chrono::duration_cast<std::chrono::seconds>(*issuer.max_lifetime).count()
              : kDefaultLifetimeS;
      longest = std::max(longest, lifetime);
    }
  }
  // A token accepted at the revocation may carry an iat up to one leeway ahead, and is
  // accepted until its exp plus one leeway: two leeways, and a second for rounding.
  return (longest > 0 ? longest : kDefaultLifetimeS) + 2 * leeway + 1;
}

}  // namespace

bool Runtime::is_trusted_proxy(const std::array<uint8_t, 16>& ip) const {
  for (const auto& network : config.server.trusted_proxies) {
    if (network.contains(ip)) return true;
  }
  return false;
}

CompileResult compile_runtime(config::Config config, observe::Metrics& metrics, uint64_t generation,
                              CompileEnvironment& environment) {
  auto runtime = std::make_shared<Runtime>();
  runtime->auth = build_auth(config, environment.auth);
  runtime->limit_store = environment.limit_store;
  compile_limits(config, metrics, *runtime);
  attach_cache(config, environment, *runtime);
  runtime->revocations = environment.revocations;
  runtime->revocation_lifetime_s = revocation_lifetime(config);
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
    runtime->routes.push_back(CompiledRoute{
        .name = r.name,
        .upstream = upstream_index,
        .metrics_slot = metrics.route_slot(r.name),
        .auth = route_auth(r, runtime->auth),
        .limits = route_limits(r, config, *runtime),
        .cache = r.cache ? std::optional(compile_route_cache(*r.cache)) : std::nullopt});
    add_claim_headers(r, runtime->claim_headers);
  }
  runtime->config = std::move(config);
  return {std::move(runtime), {}};
}

}  // namespace bulwark::gateway
