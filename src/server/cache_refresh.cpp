#include "server/cache_refresh.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>

#include "cache/conditional.hpp"

namespace bulwark::server {
namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using boost::system::error_code;

namespace {

constexpr size_t kMaxHeadBytes = 64 * 1024;

std::chrono::sys_seconds now_seconds() {
  return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
}

// A pooled connection, or a new one to the next target that accepts.
asio::awaitable<std::unique_ptr<proxy::UpstreamConnection>> connect(proxy::UpstreamPool& pool) {
  auto executor = co_await asio::this_coro::executor;
  for (size_t tries = 0; tries < pool.target_count(); ++tries) {
    size_t target = pool.next_target();
    if (auto idle = pool.take_idle(target)) co_return idle;
    for (const auto& address : pool.target(target).addresses) {
      auto connection = std::make_unique<proxy::UpstreamConnection>(executor, kMaxHeadBytes * 2);
      connection->target = target;
      error_code ec;
      co_await connection->socket.async_connect(address,
                                                asio::redirect_error(asio::use_awaitable, ec));
      if (!ec) co_return connection;
    }
  }
  co_return nullptr;
}

void store_outcome(CacheRefresh& job, const bhttp::response<bhttp::string_body>& response,
                   std::chrono::sys_seconds request_time) {
  auto& store = *job.runtime->cache_store;
  const auto& entry = *job.lookup.entry;
  auto now = now_seconds();
  std::vector<http::HeaderField> fields;
  std::vector<cache::FieldLine> lines;
  for (const auto& field : response) {
    fields.push_back({field.name_string(), field.value()});
    lines.emplace_back(field.name_string(), field.value());
  }
  unsigned status = response.result_int();
  if (status == 304 && cache::freshens(entry, lines)) {
    auto fresh = cache::freshen(entry, lines, request_time, now, job.config->heuristic_freshness);
    if (gateway::may_keep(job.lookup, *fresh)) {
      store.insert(std::move(fresh));
    } else {
      store.remove(entry);
    }
    return;
  }
  cache::StoreRefusal refusal;
  auto fresh = gateway::storable_entry(*job.config, job.lookup, status, response.reason(), fields,
                                       request_time, now, refusal);
  if (fresh && status != 304) {
    fresh->body = std::make_shared<const std::string>(response.body());
    if (store.insert(fresh)) job.metrics->cache_stored();
  } else if (!cache::is_error_status(status)) {
    // The upstream no longer lets this be stored (or the 304 fits no stored response).
    store.remove(entry);
  }
}

}  // namespace

asio::awaitable<void> refresh_cache_entry(std::unique_ptr<CacheRefresh> job) {
  job->lookup.request_lines.clear();
  for (const auto& [name, value] : job->lines) job->lookup.request_lines.emplace_back(name, value);
  auto& pool = *job->pool;
  auto request_time = now_seconds();
  auto timer = asio::steady_timer(co_await asio::this_coro::executor);
  auto connection = co_await connect(pool);
  bool ok = false;
  if (connection) {
    // The upstream's timeout bounds the whole exchange: the timer closes the socket.
    // `done` keeps a timer that fired just as the exchange ended off a released socket.
    auto done = std::make_shared<bool>(false);
    timer.expires_after(pool.config().timeout);
    timer.async_wait([done, &socket = connection->socket](error_code ec) {
      error_code ignored;
      if (!ec && !*done) socket.close(ignored);
    });
    error_code ec;
    co_await asio::async_write(connection->socket, asio::buffer(job->request_head),
                               asio::redirect_error(asio::use_awaitable, ec));
    bhttp::response_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<uint32_t>(kMaxHeadBytes));
    parser.body_limit(job->runtime->cache_max_object_bytes);
    if (!ec) {
      co_await bhttp::async_read(connection->socket, connection->buffer, parser,
                                 asio::redirect_error(asio::use_awaitable, ec));
    }
    *done = true;
    timer.cancel();
    if (!ec && parser.is_done()) {
      ok = !cache::is_error_status(parser.get().result_int());
      store_outcome(*job, parser.get(), request_time);
      if (parser.get().keep_alive() && connection->socket.is_open()) {
        connection->reused = true;
        pool.release(std::move(connection));
      }
    }
  }
  job->metrics->cache_refresh(ok);
  job->flight.finish();
}

}  // namespace bulwark::server
