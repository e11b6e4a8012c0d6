#include "server/state_control.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <future>

namespace bulwark::server {
namespace asio = boost::asio;

namespace {

constexpr auto kTick = std::chrono::milliseconds(100);
constexpr auto kPollInterval = std::chrono::milliseconds(250);

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

StateControl::StateControl(asio::io_context& control, const config::StateSettings& settings,
                           std::shared_ptr<auth::RevocationList> revocations, SharedState& shared)
    : control_(control),
      settings_(settings),
      shared_(shared),
      client_(control.get_executor(), state_url(settings)),
      sync_(client_, settings.prefix, std::move(revocations), kPollInterval),
      cache_(client_, shared_cache_prefix(settings), settings.cache_max_object_bytes),
      timer_(control) {
  sync_.start();
  tick();
}

StateControl::~StateControl() {
  timer_.cancel();
  sync_.stop();
}

bool StateControl::serves(const config::StateSettings& settings) const {
  return settings.redis_url == settings_.redis_url && settings.prefix == settings_.prefix;
}

// The poll reports to no one by itself: this turns its freshness into the health every
// instance's /readyz and log show, also while no request uses Redis.
void StateControl::tick() {
  const int64_t synced = sync_.last_sync_ms();
  shared_.revocations_synced_ms.store(synced, std::memory_order_relaxed);
  const auto timeout =
      std::chrono::duration_cast<std::chrono::milliseconds>(client_.url().command_timeout);
  const int64_t bound = (kPollInterval + timeout + kTick).count();
  if (synced != 0 && unix_ms() - synced <= bound) {
    shared_.state_health.succeeded_at(synced);
  } else if (synced != 0 || client_.stats().failures > 0) {
    shared_.state_health.failed("revocations", "no answer from Redis for the revocation poll");
  }
  timer_.expires_after(kTick);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) tick();
  });
}

bool StateControl::wait_for_first_sync() {
  const auto limit = client_.url().connect_timeout + client_.url().command_timeout + kPollInterval;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (sync_.last_sync_ms() == 0 && std::chrono::steady_clock::now() < deadline) {
    control_.run_one_for(std::chrono::milliseconds(20));
  }
  control_.restart();
  shared_.revocations_synced_ms.store(sync_.last_sync_ms(), std::memory_order_relaxed);
  return sync_.last_sync_ms() != 0;
}

std::string StateControl::publish(const auth::Revocation& revocation) {
  auto done = asio::co_spawn(
      control_, [this, revocation]() { return sync_.publish(revocation); }, asio::use_future);
  // The client's timeouts bound the call; this only guards against a stopped control loop.
  if (done.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    return "revocation not stored: the control loop did not answer";
  }
  return done.get();
}

std::pair<uint64_t, std::string> StateControl::purge(const std::string& host,
                                                     const std::string& path, bool prefix) {
  auto done = asio::co_spawn(
      control_, [this, host, path, prefix]() { return cache_.purge(host, path, prefix); },
      asio::use_future);
  // A SCAN over a large keyspace takes many round trips: each is bounded by the command
  // timeout; this bounds the whole for the admin caller.
  if (done.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    return {0, "the shared cache purge did not finish within 30 s"};
  }
  return done.get();
}

}  // namespace bulwark::server
