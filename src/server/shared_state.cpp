#include "server/shared_state.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <stdexcept>

namespace bulwark::server {

namespace {

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void StateHealth::succeeded() {
  succeeded_at(unix_ms());
}

void StateHealth::succeeded_at(int64_t at_ms) {
  if (up_.load(std::memory_order_relaxed)) return;
  if (at_ms <= last_failure_ms_.load(std::memory_order_relaxed)) return;
  // exchange: of many workers seeing Redis back at once, one logs it.
  if (up_.exchange(true)) return;
  spdlog::info("shared state: Redis answers again; limits, cache and revocations are shared again");
}

void StateHealth::failed(std::string_view layer, std::string_view error) {
  last_failure_ms_.store(unix_ms(), std::memory_order_relaxed);
  {
    std::lock_guard lock(mutex_);
    last_error_ = std::string(layer) + ": " + std::string(error);
  }
  if (!up_.load(std::memory_order_relaxed)) return;
  if (!up_.exchange(false)) return;
  spdlog::error(
      "shared state: Redis unavailable ({}: {}); the failure policy applies until it "
      "answers again",
      layer, error);
}

std::string StateHealth::last_error() const {
  std::lock_guard lock(mutex_);
  return last_error_;
}

redis::RedisUrl state_url(const config::StateSettings& settings) {
  std::string why;
  auto url = redis::parse_redis_url(settings.redis_url, &why);
  if (!url) throw std::invalid_argument("state.redis: " + why);
  return *url;
}

WorkerState::WorkerState(boost::asio::any_io_executor executor,
                         const config::StateSettings& settings, StateHealth& health,
                         std::string instance_id)
    : settings_(settings),
      health_(health),
      instance_id_(std::move(instance_id)),
      client_(std::move(executor), state_url(settings)),
      limits_(client_, settings.prefix),
      cache_(client_, shared_cache_prefix(settings), settings.cache_max_object_bytes) {}

std::string shared_cache_prefix(const config::StateSettings& settings) {
  return settings.prefix + ":c:";
}

std::string cache_events_key(const config::StateSettings& settings) {
  return settings.prefix + ":c:{events}";
}

bool WorkerState::serves(const config::StateSettings& settings) const {
  return settings.redis_url == settings_.redis_url && settings.prefix == settings_.prefix &&
         settings.on_failure == settings_.on_failure &&
         settings.cache_max_object_bytes == settings_.cache_max_object_bytes;
}

}  // namespace bulwark::server
