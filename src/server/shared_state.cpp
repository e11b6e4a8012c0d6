#include "server/shared_state.hpp"

#include <spdlog/spdlog.h>

#include <stdexcept>

namespace bulwark::server {

void StateHealth::succeeded() {
  if (up_.load(std::memory_order_relaxed)) return;
  // exchange: of many workers seeing Redis back at once, one logs it.
  if (up_.exchange(true)) return;
  spdlog::info("shared state: Redis answers again; limits, cache and revocations are shared again");
}

void StateHealth::failed(std::string_view layer, std::string_view error) {
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
                         const config::StateSettings& settings, StateHealth& health)
    : settings_(settings),
      health_(health),
      client_(std::move(executor), state_url(settings)),
      limits_(client_, settings.prefix) {}

bool WorkerState::serves(const config::StateSettings& settings) const {
  return settings.redis_url == settings_.redis_url && settings.prefix == settings_.prefix &&
         settings.on_failure == settings_.on_failure &&
         settings.cache_max_object_bytes == settings_.cache_max_object_bytes;
}

}  // namespace bulwark::server
