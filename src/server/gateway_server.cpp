#include "server/gateway_server.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <mutex>
#include <thread>

#include "config/loader.hpp"
#include "gateway/cache_purge.hpp"
#include "gateway/revocation_request.hpp"
#include "gateway/runtime.hpp"
#include "redis/url.hpp"
#include "server/admin_server.hpp"
#include "server/jwks_fetcher.hpp"
#include "server/state_control.hpp"
#include "server/worker.hpp"

namespace bulwark::server {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

unsigned worker_count(const config::Config& config) {
  if (config.server.workers > 0) return config.server.workers;
  unsigned cores = std::thread::hardware_concurrency();
  return cores > 0 ? cores : 1;
}

tcp::endpoint resolve_listen(const config::Endpoint& endpoint) {
  asio::io_context io;
  tcp::resolver resolver(io);
  auto results =
      resolver.resolve(endpoint.host, std::to_string(endpoint.port),
                       asio::ip::resolver_base::passive | asio::ip::resolver_base::numeric_service);
  return results.begin()->endpoint();
}

int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

spdlog::level::level_enum to_spdlog(config::LogLevel level) {
  switch (level) {
    case config::LogLevel::trace:
      return spdlog::level::trace;
    case config::LogLevel::debug:
      return spdlog::level::debug;
    case config::LogLevel::info:
      return spdlog::level::info;
    case config::LogLevel::warn:
      return spdlog::level::warn;
    case config::LogLevel::error:
      return spdlog::level::err;
    case config::LogLevel::off:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

}  // namespace

struct GatewayServer::Impl {
  Impl(config::Config config, std::string path)
      : config_path(std::move(path)),
        initial(std::move(config)),
        shared(worker_count(initial)),
        admin(shared.metrics, [this] { return readiness(); }) {
    shared.metrics.set_auth_reason_names(&gateway::auth_failure_reason_name);
    shared.metrics.set_cache_gauges([this]() -> std::optional<observe::CacheGauges> {
      auto runtime = admin_runtime();
      if (!runtime || !runtime->cache_store) return std::nullopt;
      auto stats = runtime->cache_store->stats();
      return observe::CacheGauges{.entries = stats.entries,
                                  .bytes = stats.bytes,
                                  .evictions = stats.evictions,
                                  .budget_bytes = runtime->cache_store->options().memory_bytes};
    });
    admin.on_post("/cache/purge", [this](std::string_view body) {
      auto runtime = admin_runtime();
      if (!runtime) return AdminServer::Reply{503, "{\"error\":\"service_unavailable\"}"};
      auto reply = gateway::purge_cache(*runtime, body);
      if (reply.status != 200) return AdminServer::Reply{reply.status, std::move(reply.body)};
      spdlog::info("cache purge: {} entries removed", reply.purged);
      if (StateControl* control = state_control.load()) return purge_shared(*control, reply);
      return AdminServer::Reply{reply.status, std::move(reply.body)};
    });
    admin.on_post("/auth/revoke", [this](std::string_view body) { return revoke(body); });
    shared.metrics.set_state_gauges([this] {
      const int64_t synced = shared.revocations_synced_ms.load(std::memory_order_relaxed);
      return observe::StateGauges{
          .redis_configured = state_control.load() != nullptr,
          .redis_up = shared.state_health.up(),
          .revocations = compile_environment.revocations->size(),
          .revocation_sync_age_s = synced == 0 ? 0.0 : double(unix_now_ms() - synced) / 1000.0};
    });
  }

  // The shared cache's part of a purge, after this instance's memory.
  static AdminServer::Reply purge_shared(StateControl& control, const gateway::PurgeReply& local) {
    uint64_t shared = 0;
    for (const auto& target : local.targets) {
      auto [removed, error] = control.purge(target.host, target.path, target.prefix);
      shared += removed;
      if (!error.empty()) {
        spdlog::error("cache purge: the shared cache was not purged: {}", error);
        std::string out = "{\"error\":\"service_unavailable\",\"detail\":";
        observe::append_json_string(out, "purged " + std::to_string(local.purged) +
                                             " entries from this instance's memory, but not the "
                                             "shared cache (" +
                                             error + "); retry");
        out += '}';
        return AdminServer::Reply{503, std::move(out)};
      }
    }
    spdlog::info("cache purge: {} URLs removed from the shared cache", shared);
    return AdminServer::Reply{200, "{\"purged\":" + std::to_string(local.purged) +
                                       ",\"shared_purged\":" + std::to_string(shared) + "}"};
  }

  // POST /auth/revoke (admin thread). With shared state the revocation goes to Redis first,
  // so that every instance refuses the token; when Redis cannot take it, this instance still
  // refuses it and the 503 says that the others do not.
  AdminServer::Reply revoke(std::string_view body) {
    auto runtime = admin_runtime();
    if (!runtime) return AdminServer::Reply{503, "{\"error\":\"service_unavailable\"}"};
    const int64_t now_s = unix_now_ms() / 1000;
    auto reply = gateway::parse_revocation(body, now_s, runtime->revocation_lifetime_s);
    if (!reply.revocation) return AdminServer::Reply{reply.status, std::move(reply.body)};
    const auth::Revocation& revocation = *reply.revocation;
    const char* kind = revocation.kind == auth::Revocation::Kind::jti ? "jti" : "sub";
    std::string error;
    if (StateControl* control = state_control.load()) {
      error = control->publish(revocation);
      if (!error.empty()) runtime->revocations->add(revocation);
    } else {
      error = runtime->revocations->add(revocation);
    }
    if (!error.empty()) {
      spdlog::error("revocation of {} '{}' (iss '{}') not stored everywhere: {}", kind,
                    revocation.value, revocation.issuer, error);
      std::string out = "{\"error\":\"service_unavailable\",\"detail\":";
      observe::append_json_string(
          out, state_control.load() != nullptr
                   ? "revoked on this instance only; the shared state did not store it (" + error +
                         "); retry"
                   : error);
      out += '}';
      return AdminServer::Reply{503, std::move(out)};
    }
    spdlog::info("revoked {} '{}' (iss '{}') until {}", kind, revocation.value, revocation.issuer,
                 revocation.expires_at_s);
    return AdminServer::Reply{200, std::move(reply.body)};
  }

  // The current runtime, for the admin thread.
  std::shared_ptr<const gateway::Runtime> admin_runtime() const {
    std::lock_guard lock(current_mutex);
    return current_for_admin;
  }

  std::string config_path;
  config::Config initial;
  SharedState shared;
  AdminServer admin;
  std::vector<std::unique_ptr<Worker>> workers;
  std::shared_ptr<const gateway::Runtime> current;
  mutable std::mutex current_mutex;
  std::shared_ptr<const gateway::Runtime> current_for_admin;  // `current`, under current_mutex
  uint64_t generation = 0;
  std::atomic<bool> serving{false};
  asio::io_context control{1};
  std::optional<asio::steady_timer> drain_timer;
  Clock::time_point drain_deadline;

  gateway::CompileEnvironment compile_environment;
  // The shared state's control-thread side; the current one (or null) for the admin thread.
  std::vector<std::unique_ptr<StateControl>> state_controls;
  std::atomic<StateControl*> state_control{nullptr};
  JwksFetcher jwks_fetcher;
  mutable std::mutex key_sets_mutex;
  std::vector<std::shared_ptr<auth::RemoteKeySet>> key_sets;  // of the current config

  // The shared state settings of `runtime` on the control thread: a StateControl per
  // settings. One replaced by a reload is kept until shutdown: the admin thread may be using it.
  void attach_state(const gateway::Runtime& runtime) {
    const auto& settings = runtime.config.state;
    StateControl* now = state_control.load();
    if (now != nullptr && settings && now->serves(*settings)) return;
    if (now != nullptr) now->retire();
    if (!settings) {
      state_control.store(nullptr);
      return;
    }
    state_controls.push_back(std::make_unique<StateControl>(
        control, *settings, compile_environment.revocations, shared,
        [this](const cache::CacheEvent& event) { apply_cache_event(event); }));
    state_control.store(state_controls.back().get());
    spdlog::info("shared state on {} (on_failure: {})", redis::redacted(state_url(*settings)),
                 settings->on_failure == config::StateSettings::OnFailure::fail_open
                     ? "fail_open"
                     : "fail_closed");
  }

  // Another instance changed or purged URLs: this instance's memory drops its copies.
  void apply_cache_event(const cache::CacheEvent& event) {
    auto runtime = admin_runtime();
    if (!runtime || !runtime->cache_store) return;
    if (event.kind == cache::CacheEvent::Kind::invalidate) {
      runtime->cache_store->invalidate(event.uri_key);
    } else {
      runtime->cache_store->purge(event.host, event.path, event.prefix);
    }
  }

  std::string shared_state_problem() const {
    if (state_control.load() == nullptr || shared.state_health.up()) return {};
    return "shared state: Redis unavailable (" + shared.state_health.last_error() + ")";
  }

  AdminServer::Readiness readiness() const {
    AdminServer::Readiness state{.reasons = not_ready_reasons(), .degraded = {}};
    std::string problem = shared_state_problem();
    if (problem.empty()) return state;
    auto runtime = admin_runtime();
    const bool closed =
        runtime && runtime->config.state &&
        runtime->config.state->on_failure == config::StateSettings::OnFailure::fail_closed;
    if (closed) {
      state.reasons.push_back(problem +
                              "; fail_closed: routes with rate limits or "
                              "authentication answer 503");
    } else {
      state.degraded.push_back(problem + "; fail_open: local rate limits and memory cache");
    }
    return state;
  }

  std::vector<std::string> not_ready_reasons() const {
    std::vector<std::string> reasons;
    if (!serving.load()) reasons.emplace_back("not serving yet");
    if (shared.draining.load()) reasons.emplace_back("draining: shutting down");
    std::lock_guard lock(key_sets_mutex);
    for (const auto& set : key_sets) {
      auto status = set->status();
      if (status.has_keys) continue;
      reasons.push_back("jwks " + set->options().url + ": no key set yet" +
                        (status.last_error.empty() ? std::string(" (first fetch pending)")
                                                   : " (last fetch: " + status.last_error + ")"));
    }
    return reasons;
  }

  gateway::CompileResult compile(const config::Config& config) {
    auto result =
        gateway::compile_runtime(config, shared.metrics, generation + 1, compile_environment);
    if (!result.runtime) return result;
    ++generation;
    for (const auto& warning : result.runtime->auth.warnings) {
      spdlog::warn("{}", warning.to_string());
    }
    return result;
  }

  void watch_key_sets(const gateway::Runtime& runtime) {
    {
      std::lock_guard lock(key_sets_mutex);
      key_sets = runtime.auth.remote_key_sets;
    }
    jwks_fetcher.watch(runtime.auth.remote_key_sets);
  }

  // Everything a worker needs for one config; throws on resolution or log-open failure.
  std::vector<WorkerConfig> prepare(const std::shared_ptr<const gateway::Runtime>& runtime) {
    std::vector<std::vector<std::vector<tcp::endpoint>>> resolved;
    for (const auto& upstream : runtime->upstreams) {
      resolved.push_back(proxy::resolve_targets(upstream));
    }
    auto access_log = observe::AccessLogSink::open(runtime->config.log.access);
    std::vector<WorkerConfig> out;
    for (size_t w = 0; w < workers.size(); ++w) {
      WorkerConfig wc{.runtime = runtime, .pools = {}, .access_log = access_log};
      for (size_t u = 0; u < runtime->upstreams.size(); ++u) {
        wc.pools.push_back(
            std::make_shared<proxy::UpstreamPool>(runtime->upstreams[u], resolved[u]));
      }
      out.push_back(std::move(wc));
    }
    return out;
  }

  void install(const std::shared_ptr<const gateway::Runtime>& runtime,
               std::vector<WorkerConfig> configs) {
    attach_state(*runtime);
    for (size_t w = 0; w < workers.size(); ++w) workers[w]->install(std::move(configs[w]));
    current = runtime;
    {
      std::lock_guard lock(current_mutex);
      current_for_admin = runtime;
    }
    spdlog::set_level(to_spdlog(runtime->config.log.level));
  }

  int run() {
    spdlog::set_level(to_spdlog(initial.log.level));
    // Installed before anything listens, so that an early signal is never fatal.
    asio::signal_set stop_signals(control, SIGTERM, SIGINT);
    asio::signal_set reload_signal(control, SIGHUP);
    unsigned count = worker_count(initial);
    for (unsigned i = 0; i < count; ++i) workers.push_back(std::make_unique<Worker>(i, shared));
    auto compiled = compile(initial);
    if (!compiled.runtime) {
      for (const auto& error : compiled.errors) spdlog::critical("{}", error.to_string());
      spdlog::critical("cannot start: {} error(s) in {}", compiled.errors.size(), config_path);
      return 1;
    }
    auto runtime = compiled.runtime;
    watch_key_sets(*runtime);
    try {
      auto configs = prepare(runtime);
      auto listen = resolve_listen(initial.server.listen);
      for (auto& worker : workers) worker->listen(listen);
      if (initial.admin.listen) admin.listen(resolve_listen(*initial.admin.listen));
      install(runtime, std::move(configs));
    } catch (const std::exception& e) {
      spdlog::critical("cannot start: {}", e.what());
      return 1;
    }
    if (StateControl* state = state_control.load(); state && !state->wait_for_first_sync()) {
      spdlog::error(
          "shared state: no answer from Redis at startup ({}); serving by the failure "
          "policy until it answers",
          shared.state_health.last_error());
    }
    for (auto& worker : workers) worker->start();
    jwks_fetcher.start();
    if (initial.admin.listen) admin.start();
    serving = true;
    spdlog::info("bulwark serving on {} with {} workers{}", initial.server.listen.to_string(),
                 count,
                 initial.admin.listen ? ", admin on " + initial.admin.listen->to_string() : "");

    wait_for_stop(stop_signals);
    wait_for_reload(reload_signal);
    control.run();

    jwks_fetcher.stop();
    for (auto& worker : workers) worker->stop();
    for (auto& worker : workers) worker->join();
    admin.stop();
    state_control.store(nullptr);
    state_controls.clear();
    workers.clear();
    spdlog::info("bulwark stopped");
    return 0;
  }

  void wait_for_stop(asio::signal_set& signals) {
    signals.async_wait([this, &signals](boost::system::error_code ec, int signal) {
      if (ec) return;
      if (shared.draining.exchange(true)) {
        spdlog::warn("second stop signal: closing in-flight connections now");
        control.stop();
        return;
      }
      begin_drain(signal);
      wait_for_stop(signals);
    });
  }

  void begin_drain(int signal) {
    auto timeout = current->config.server.drain_timeout;
    spdlog::info("received {}: draining (up to {} ms)", signal == SIGINT ? "SIGINT" : "SIGTERM",
                 timeout.count());
    for (auto& worker : workers) worker->begin_drain();
    drain_deadline = Clock::now() + timeout;
    drain_timer.emplace(control);
    poll_drain();
  }

  void poll_drain() {
    uint32_t open = 0;
    for (auto& worker : workers) open += worker->connections();
    if (open == 0) {
      spdlog::info("drained: all connections closed");
      control.stop();
      return;
    }
    if (Clock::now() >= drain_deadline) {
      spdlog::warn("drain timeout: closing {} connection(s) still open", open);
      control.stop();
      return;
    }
    drain_timer->expires_after(std::chrono::milliseconds(20));
    drain_timer->async_wait([this](boost::system::error_code ec) {
      if (!ec) poll_drain();
    });
  }

  void wait_for_reload(asio::signal_set& signals) {
    signals.async_wait([this, &signals](boost::system::error_code ec, int) {
      if (ec) return;
      reload();
      wait_for_reload(signals);
    });
  }

  void reload() {
    auto result = config::load_config_file(config_path);
    if (!result.ok()) {
      spdlog::error("reload of {} refused ({} error(s)); the previous config keeps serving",
                    config_path, result.errors.size());
      for (const auto& error : result.errors) spdlog::error("  {}", error.to_string());
      return;
    }
    const auto& next = *result.config;
    const auto& now = current->config;
    if (!(next.server.listen == now.server.listen) || next.server.workers != now.server.workers ||
        next.admin.listen != now.admin.listen) {
      spdlog::warn(
          "reload: server.listen, server.workers and admin.listen only change on restart; "
          "the rest of the new config is applied");
    }
    auto compiled = compile(next);
    if (!compiled.runtime) {
      spdlog::error("reload of {} refused ({} error(s)); the previous config keeps serving",
                    config_path, compiled.errors.size());
      for (const auto& error : compiled.errors) spdlog::error("  {}", error.to_string());
      return;
    }
    try {
      auto runtime = compiled.runtime;
      install(runtime, prepare(runtime));
      watch_key_sets(*runtime);
      spdlog::info("reloaded {} (generation {}): {} route(s), {} upstream(s)", config_path,
                   generation, runtime->routes.size(), runtime->upstreams.size());
    } catch (const std::exception& e) {
      spdlog::error("reload of {} refused: {}; the previous config keeps serving", config_path,
                    e.what());
    }
  }
};

GatewayServer::GatewayServer(config::Config config, std::string config_path)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(config_path))) {}

GatewayServer::~GatewayServer() = default;

int GatewayServer::run() {
  return impl_->run();
}

}  // namespace bulwark::server
