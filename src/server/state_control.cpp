#include "server/state_control.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
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
                           std::shared_ptr<auth::RevocationList> revocations, SharedState& shared,
                           ApplyEvent apply)
    : control_(control),
      settings_(settings),
      shared_(shared),
      client_(control.get_executor(), state_url(settings)),
      sync_(client_, settings.prefix, std::move(revocations), kPollInterval),
      cache_(client_, shared_cache_prefix(settings), settings.cache_max_object_bytes),
      timer_(control),
      apply_(std::move(apply)),
      events_key_(cache_events_key(settings)),
      events_timer_(control) {
  sync_.start();
  tick();
  asio::co_spawn(control_, read_events(this, alive_), asio::detached);
}

StateControl::~StateControl() {
  retire();
}

asio::awaitable<void> StateControl::read_events(StateControl* self, std::shared_ptr<bool> alive) {
  constexpr int kReadsPerTick = 16;
  while (*alive) {
    for (int i = 0; i < kReadsPerTick && *alive; ++i) {
      if (!co_await self->read_events_once()) break;
    }
    if (!*alive) co_return;
    self->events_timer_.expires_after(kPollInterval);
    boost::system::error_code ec;
    co_await self->events_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

// One read: positions at the stream's end first (what happened before this instance started
// is in no memory of it), then applies what others sent since.
asio::awaitable<bool> StateControl::read_events_once() {
  const bool positioned = !last_event_id_.empty();
  const auto command = positioned ? cache::cache_events_read_command(events_key_, last_event_id_)
                                  : cache::cache_events_tail_command(events_key_);
  const RedisResult result = co_await client_.command(command);
  if (!result.ok() || result.reply.is_error()) co_return false;  // the poll's health says it
  std::string why;
  auto batch = cache::parse_cache_events(result.reply, positioned, &why);
  if (!batch) {
    spdlog::warn("shared state: {}", why);
    co_return false;
  }
  if (!positioned) {
    last_event_id_ = batch->last_id.empty() ? "0-0" : batch->last_id;
    co_return false;
  }
  if (!batch->last_id.empty()) last_event_id_ = batch->last_id;
  for (const auto& event : batch->events) {
    if (event.source != shared_.instance_id) apply_(event);
  }
  // A full read: more are waiting, read on at once (a busy cluster must not fall behind).
  co_return batch->events.size() + batch->skipped >= cache::kCacheEventsPerRead;
}

void StateControl::retire() {
  *alive_ = false;
  timer_.cancel();
  events_timer_.cancel();
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
  timer_.async_wait([this, alive = alive_](boost::system::error_code ec) {
    if (!ec && *alive) tick();
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

// The shared copies first, then the event that makes the other instances drop theirs.
asio::awaitable<std::pair<uint64_t, std::string>> StateControl::purge_and_tell(std::string host,
                                                                               std::string path,
                                                                               bool prefix) {
  auto purged = co_await cache_.purge(host, path, prefix);
  if (!purged.second.empty()) co_return purged;
  const cache::CacheEvent event{.kind = cache::CacheEvent::Kind::purge,
                                .source = shared_.instance_id,
                                .uri_key = {},
                                .host = std::move(host),
                                .path = std::move(path),
                                .prefix = prefix};
  const auto command = cache::cache_event_command(events_key_, event);
  const RedisResult sent = co_await client_.command(command);
  if (!sent.ok()) purged.second = sent.error;
  if (sent.ok() && sent.reply.is_error()) purged.second = "redis: " + sent.reply.text;
  co_return purged;
}

std::pair<uint64_t, std::string> StateControl::purge(const std::string& host,
                                                     const std::string& path, bool prefix) {
  auto done = asio::co_spawn(control_, purge_and_tell(host, path, prefix), asio::use_future);
  // A SCAN over a large keyspace takes many round trips: each is bounded by the command
  // timeout; this bounds the whole for the admin caller.
  if (done.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    return {0, "the shared cache purge did not finish within 30 s"};
  }
  return done.get();
}

}  // namespace bulwark::server
