#include "server/admin_server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "observe/access_log.hpp"

namespace bulwark::server {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kAdminTimeout = std::chrono::seconds(30);

bhttp::response<bhttp::string_body> json_response(bhttp::status status, std::string body) {
  bhttp::response<bhttp::string_body> response{status, 11};
  response.set(bhttp::field::content_type, "application/json");
  response.set(bhttp::field::cache_control, "no-store");
  response.body() = std::move(body);
  return response;
}

void append_json_strings(std::string& body, std::string_view name,
                         const std::vector<std::string>& items) {
  body += ",\"";
  body += name;
  body += "\":[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) body += ',';
    observe::append_json_string(body, items[i]);
  }
  body += ']';
}

std::string readiness_body(const AdminServer::Readiness& readiness) {
  std::string body = readiness.reasons.empty() ? "{\"ready\":true" : "{\"ready\":false";
  if (!readiness.reasons.empty()) append_json_strings(body, "reasons", readiness.reasons);
  if (!readiness.degraded.empty()) append_json_strings(body, "degraded", readiness.degraded);
  body += '}';
  return body;
}

using PostHandlers = std::map<std::string, AdminServer::PostHandler, std::less<>>;

bhttp::response<bhttp::string_body> handle(const bhttp::request<bhttp::string_body>& request,
                                           observe::Metrics& metrics,
                                           const AdminServer::ReadinessProbe& readiness,
                                           const PostHandlers& post_handlers) {
  std::string_view target = request.target();
  target = target.substr(0, target.find('?'));
  if (auto action = post_handlers.find(target); action != post_handlers.end()) {
    if (request.method() != bhttp::verb::post) {
      auto response = json_response(bhttp::status::method_not_allowed,
                                    "{\"error\":\"method_not_allowed\",\"detail\":\"use POST\"}");
      response.set(bhttp::field::allow, "POST");
      return response;
    }
    auto reply = action->second(request.body());
    return json_response(static_cast<bhttp::status>(reply.status), std::move(reply.body));
  }
  bool read_only = request.method() == bhttp::verb::get || request.method() == bhttp::verb::head;
  bool known = target == "/healthz" || target == "/readyz" || target == "/metrics";
  if (known && !read_only) {
    auto response = json_response(bhttp::status::method_not_allowed,
                                  "{\"error\":\"method_not_allowed\",\"detail\":\"use GET\"}");
    response.set(bhttp::field::allow, "GET, HEAD");
    return response;
  }
  if (target == "/healthz") return json_response(bhttp::status::ok, "{\"status\":\"ok\"}");
  if (target == "/readyz") {
    auto state = readiness();
    return json_response(
        state.reasons.empty() ? bhttp::status::ok : bhttp::status::service_unavailable,
        readiness_body(state));
  }
  if (target == "/metrics") {
    bhttp::response<bhttp::string_body> response{bhttp::status::ok, 11};
    response.set(bhttp::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    response.body() = metrics.render_prometheus();
    return response;
  }
  std::string body = "{\"error\":\"not_found\",\"detail\":";
  observe::append_json_string(
      body, "no admin endpoint " + std::string(target) +
                "; try /healthz, /readyz, /metrics, POST /cache/purge or POST /auth/revoke");
  body += '}';
  return json_response(bhttp::status::not_found, std::move(body));
}

asio::awaitable<void> serve_admin(tcp::socket socket, observe::Metrics& metrics,
                                  const AdminServer::ReadinessProbe& readiness,
                                  const PostHandlers& post_handlers) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(64 * 1024);
    boost::system::error_code ec;
    stream.expires_after(kAdminTimeout);
    co_await bhttp::async_read(stream, buffer, parser,
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    auto request = parser.release();
    auto response = handle(request, metrics, readiness, post_handlers);
    response.keep_alive(request.keep_alive());
    response.prepare_payload();
    if (request.method() == bhttp::verb::head) response.body().clear();
    stream.expires_after(kAdminTimeout);
    co_await bhttp::async_write(stream, response, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !response.keep_alive()) break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace

AdminServer::AdminServer(observe::Metrics& metrics, ReadinessProbe readiness)
    : metrics_(metrics), readiness_(std::move(readiness)) {}

AdminServer::~AdminServer() {
  stop();
}

void AdminServer::listen(const tcp::endpoint& endpoint) {
  acceptor_.emplace(io_);
  acceptor_->open(endpoint.protocol());
  acceptor_->set_option(asio::socket_base::reuse_address(true));
  acceptor_->bind(endpoint);
  acceptor_->listen();
}

void AdminServer::start() {
  accept_next();
  thread_ = std::thread([this] {
    try {
      io_.run();
    } catch (const std::exception& e) {
      spdlog::error("admin listener stopped: {}", e.what());
    }
  });
}

void AdminServer::accept_next() {
  acceptor_->async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_->is_open()) return;
    if (!ec)
      asio::co_spawn(io_, serve_admin(std::move(socket), metrics_, readiness_, post_handlers_),
                     asio::detached);
    accept_next();
  });
}

void AdminServer::stop() {
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace bulwark::server
