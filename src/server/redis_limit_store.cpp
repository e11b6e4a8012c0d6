#include "server/redis_limit_store.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <deque>
#include <utility>
#include <vector>

#include "limit/redis_gcra.hpp"

namespace bulwark::server {
namespace asio = boost::asio;

namespace {

// One request's stage waiting in the queue: its checks and where its answer goes. It lives in
// the waiting coroutine's frame and the queue, whichever ends last.
struct Waiting {
  explicit Waiting(const asio::any_io_executor& executor) : wake(executor) {}
  limit::GcraGroup group;
  std::span<limit::LimitResult> results;
  std::optional<bool> verdict;
  std::string error;
  bool done = false;
  asio::steady_timer wake;  // cancelled when done

  void finish(std::optional<bool> answer, std::string why) {
    verdict = answer;
    error = std::move(why);
    done = true;
    wake.cancel();
  }
};

}  // namespace

struct RedisLimitStore::Queue {
  std::deque<std::shared_ptr<Waiting>> waiting;
  std::size_t callers = 0;  // drain loops running (each with at most one call in flight)
};

RedisLimitStore::RedisLimitStore(RedisClient& client, std::string prefix)
    : client_(client), prefix_(std::move(prefix)), queue_(std::make_shared<Queue>()) {}

namespace {

// Sends the queued stages, a batch per call, until the queue is empty. Runs while waiters are
// queued; they hold the worker's state (and so the client) until they are answered.
asio::awaitable<void> drain(std::shared_ptr<RedisLimitStore::Queue> queue, RedisClient& client,
                            std::string prefix);

}  // namespace

asio::awaitable<std::optional<bool>> RedisLimitStore::check(
    std::span<const limit::LimitCheck> enforced, std::span<const limit::LimitCheck> independent,
    std::span<limit::LimitResult> results, std::string& error) {
  if (results.size() != enforced.size() + independent.size()) {
    error = "redis limit store: " + std::to_string(results.size()) + " results for " +
            std::to_string(enforced.size() + independent.size()) + " checks";
    co_return std::nullopt;
  }
  if (results.empty()) co_return true;
  auto waiting = std::make_shared<Waiting>(client_.executor());
  waiting->group = limit::GcraGroup{enforced, independent};
  waiting->results = results;
  waiting->wake.expires_at(asio::steady_timer::time_point::max());
  queue_->waiting.push_back(waiting);
  if (queue_->callers < kMaxCalls) {
    ++queue_->callers;
    asio::co_spawn(client_.executor(), drain(queue_, client_, prefix_), asio::detached);
  }
  while (!waiting->done) {
    boost::system::error_code ec;
    co_await waiting->wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  error = std::move(waiting->error);
  co_return waiting->verdict;
}

namespace {

asio::awaitable<void> drain(std::shared_ptr<RedisLimitStore::Queue> queue, RedisClient& client,
                            std::string prefix) {
  std::vector<std::shared_ptr<Waiting>> batch;
  std::vector<limit::GcraGroup> groups;
  std::vector<std::span<limit::LimitResult>> results;
  std::vector<std::string> keys;
  std::vector<std::string> args;
  while (!queue->waiting.empty()) {
    batch.clear();
    groups.clear();
    results.clear();
    while (!queue->waiting.empty() && batch.size() < RedisLimitStore::kMaxBatch) {
      batch.push_back(std::move(queue->waiting.front()));
      queue->waiting.pop_front();
      groups.push_back(batch.back()->group);
      results.push_back(batch.back()->results);
    }
    limit::gcra_batch_call(prefix, groups, std::nullopt, keys, args);
    const std::span<const std::string> key_span(keys);
    const std::span<const std::string> arg_span(args);
    asio::awaitable<RedisResult> call = client.run_script(limit::gcra_script(), key_span, arg_span);
    const RedisResult result = co_await std::move(call);
    if (!result.ok()) {
      for (auto& waiting : batch) waiting->finish(std::nullopt, result.error);
      continue;
    }
    std::string error;
    std::unique_ptr<bool[]> passed(new bool[batch.size()]);
    if (!limit::decode_gcra_batch_reply(result.reply, results, {passed.get(), batch.size()},
                                        error)) {
      for (auto& waiting : batch) waiting->finish(std::nullopt, error);
      continue;
    }
    for (std::size_t i = 0; i < batch.size(); ++i) batch[i]->finish(passed[i], std::string());
  }
  --queue->callers;
}

}  // namespace

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
