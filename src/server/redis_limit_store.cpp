#include "server/redis_limit_store.hpp"

#include <utility>
#include <vector>

#include "limit/redis_gcra.hpp"

namespace bulwark::server {
namespace asio = boost::asio;

RedisLimitStore::RedisLimitStore(RedisClient& client, std::string prefix)
    : client_(client), prefix_(std::move(prefix)) {}

asio::awaitable<std::optional<bool>> RedisLimitStore::check(
    std::span<const limit::LimitCheck> enforced, std::span<const limit::LimitCheck> independent,
    std::span<limit::LimitResult> results, std::string& error) {
  return check_at(std::nullopt, enforced, independent, results, error);
}

asio::awaitable<std::optional<bool>> RedisLimitStore::check_at(
    std::optional<int64_t> now_unix_ns, std::span<const limit::LimitCheck> enforced,
    std::span<const limit::LimitCheck> independent, std::span<limit::LimitResult> results,
    std::string& error) {
  if (results.size() != enforced.size() + independent.size()) {
    error = "redis limit store: " + std::to_string(results.size()) + " results for " +
            std::to_string(enforced.size() + independent.size()) + " checks";
    co_return std::nullopt;
  }
  if (results.empty()) co_return true;
  std::vector<std::string> keys;
  std::vector<std::string> args;
  limit::gcra_script_call(prefix_, enforced, independent, now_unix_ns, keys, args);
  const std::span<const std::string> key_span(keys);
  const std::span<const std::string> arg_span(args);
  asio::awaitable<RedisResult> call = client_.run_script(limit::gcra_script(), key_span, arg_span);
  const RedisResult result = co_await std::move(call);
  if (!result.ok()) {
    error = result.error;
    co_return std::nullopt;
  }
  co_return limit::decode_gcra_reply(result.reply, results, error);
}

}  // namespace bulwark::server
