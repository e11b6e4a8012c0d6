#include "server/cache_refresh.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>

#include "cache/conditional.hpp"
#include "http/forwarded_headers.hpp"

namespace bulwark::server {
namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using boost::system::error_code;

namespace {

constexpr size_t kMaxHeadBytes = 64 * 1024;
constexpr unsigned kMaxInterimResponses = 8;

using Parser = bhttp::response_parser<bhttp::string_body>;

std::chrono::sys_seconds now_seconds() {
  return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
}

auto redirect(error_code& ec) {
  return asio::redirect_error(asio::use_awaitable, ec);
}

// A pooled connection, or a new one to the next target that accepts. The caller's timer
// bounds the connects (it closes `connection`'s socket when it fires).
asio::awaitable<bool> connect(proxy::UpstreamPool& pool,
                              std::unique_ptr<proxy::UpstreamConnection>& connection) {
  auto executor = co_await asio::this_coro::executor;
  for (size_t tries = 0; tries < pool.target_count(); ++tries) {
    size_t target = pool.next_target();
    if ((connection = pool.take_idle(target))) co_return true;
    for (const auto& address : pool.target(target).addresses) {
      connection = std::make_unique<proxy::UpstreamConnection>(executor, kMaxHeadBytes * 2);
      connection->target = target;
      error_code ec;
      co_await connection->socket.async_connect(address, redirect(ec));
      if (!ec) co_return true;
      if (ec == asio::error::operation_aborted) co_return false;  // out of time
    }
  }
  connection.reset();
  co_return false;
}

// Only a lone "chunked" coding is understood (as on the request path): anything else would
// be stored mislabelled.
bool understood_codings(const Parser& parser) {
  bool ok = true;
  for (const auto& field : parser.get()) {
    if (field.name() != bhttp::field::transfer_encoding) continue;
    http::for_each_list_token(field.value(), [&](std::string_view token) {
      if (!http::iequals(token, "chunked")) ok = false;
    });
  }
  return ok;
}

// Reads the final response (interim 1xx skipped, a bounded number of them).
asio::awaitable<bool> read_final_response(proxy::UpstreamConnection& connection,
                                          std::optional<Parser>& parser, uint64_t body_limit) {
  for (unsigned interim = 0; interim <= kMaxInterimResponses; ++interim) {
    parser.emplace();
    parser->header_limit(static_cast<uint32_t>(kMaxHeadBytes));
    parser->body_limit(body_limit);
    error_code ec;
    co_await bhttp::async_read_header(connection.socket, connection.buffer, *parser, redirect(ec));
    if (ec) co_return false;
    unsigned status = parser->get().result_int();
    if (status == 101) co_return false;
    if (status >= 100 && status < 200) continue;
    if (!understood_codings(*parser)) co_return false;
    co_await bhttp::async_read(connection.socket, connection.buffer, *parser, redirect(ec));
    co_return !ec && parser->is_done();
  }
  co_return false;
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
    if (job.runtime->cache_store->insert(fresh)) job.metrics->cache_stored();
  } else if (!cache::is_error_status(status) && !gateway::refused_for_request(refusal)) {
    // The upstream no longer lets this be stored (or the 304 fits no stored response).
    store.remove(entry);
  }
}

}  // namespace

asio::awaitable<void> refresh_cache_entry(std::unique_ptr<CacheRefresh> job) {
  job->lookup.request_lines.clear();
  for (const auto& [name, value] : job->lines) job->lookup.request_lines.emplace_back(name, value);
  auto& pool = *job->pool;
  const auto& upstream = pool.config();
  auto request_time = now_seconds();
  std::unique_ptr<proxy::UpstreamConnection> connection;
  // One timer bounds the whole exchange (connect, send, response): it closes the socket.
  // `done` keeps a timer that fired just as the exchange ended off a released socket.
  auto done = std::make_shared<bool>(false);
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(upstream.connect_timeout + upstream.timeout);
  timer.async_wait([done, &connection](error_code ec) {
    error_code ignored;
    if (!ec && !*done && connection) connection->socket.close(ignored);
  });
  bool ok = false;
  std::optional<Parser> parser;
  if (co_await connect(pool, connection)) {
    error_code ec;
    co_await asio::async_write(connection->socket, asio::buffer(job->request_head), redirect(ec));
    if (!ec &&
        co_await read_final_response(*connection, parser, job->runtime->cache_max_object_bytes)) {
      ok = !cache::is_error_status(parser->get().result_int());
      store_outcome(*job, parser->get(), request_time);
    }
  }
  *done = true;
  timer.cancel();
  // Reused only when the exchange ended cleanly with nothing more buffered.
  if (ok && connection && connection->socket.is_open() && parser->get().keep_alive() &&
      connection->buffer.size() == 0) {
    connection->reused = true;
    pool.release(std::move(connection));
  }
  job->metrics->cache_refresh(ok);
  job->flight.finish();
}

}  // namespace bulwark::server
