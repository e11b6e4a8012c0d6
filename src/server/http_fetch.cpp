#include "server/http_fetch.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <charconv>
#include <utility>

namespace bulwark::server {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr std::size_t kMaxResponseHeadBytes = 64 * 1024;
// 1xx heads skipped before the final response (103 Early Hints), at most.
constexpr int kMaxInterimResponses = 8;

auto redirect(error_code& ec) {
  return asio::redirect_error(asio::use_awaitable, ec);
}

struct Target {
  bool tls = false;
  std::string host;  // a name, or an IP address without brackets
  bool host_is_address = false;
  uint16_t port = 0;
  std::string host_field;   // Host: as in the URL (brackets, port)
  std::string request_uri;  // origin-form: path and query
};

// Only what a fetch needs: http or https, a host, an optional port; no userinfo (a password
// in a config URL would end up in logs).
std::optional<Target> parse_target(std::string_view url, std::string& why) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) {
    why = "bad URL: " + parsed.error().message();
    return std::nullopt;
  }
  const auto& u = *parsed;
  Target target;
  if (u.scheme_id() == boost::urls::scheme::https) {
    target.tls = true;
  } else if (u.scheme_id() != boost::urls::scheme::http) {
    why = "bad URL: scheme must be http or https";
    return std::nullopt;
  }
  if (u.has_userinfo()) {
    why = "bad URL: user information is not supported";
    return std::nullopt;
  }
  switch (u.host_type()) {
    case boost::urls::host_type::name:
      target.host = u.host_name();
      break;
    case boost::urls::host_type::ipv4:
    case boost::urls::host_type::ipv6:
      target.host = u.host_address();
      target.host_is_address = true;
      break;
    default:
      break;
  }
  if (target.host.empty()) {
    why = "bad URL: no host";
    return std::nullopt;
  }
  target.port = target.tls ? 443 : 80;
  if (u.has_port() && !u.port().empty()) {
    std::string_view text = u.port();
    unsigned value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535) {
      why = "bad URL: bad port";
      return std::nullopt;
    }
    target.port = static_cast<uint16_t>(value);
  }
  target.host_field = u.encoded_host_and_port();
  target.request_uri = u.encoded_target();
  if (target.request_uri.empty()) target.request_uri = "/";
  return target;
}

std::string format_duration(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

std::string size_text(std::size_t bytes) {
  if (bytes % (1024 * 1024) == 0) return std::to_string(bytes / (1024 * 1024)) + " MiB";
  if (bytes % 1024 == 0) return std::to_string(bytes / 1024) + " KiB";
  return std::to_string(bytes) + " bytes";
}

// Header values from the peer go into log lines: printable ASCII only, bounded.
std::string printable(std::string_view value, std::size_t max = 200) {
  std::string out;
  for (char c : value.substr(0, max)) {
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  if (value.size() > max) out += "...";
  return out;
}

}  // namespace

struct HttpGet::State : std::enable_shared_from_this<HttpGet::State> {
  State(asio::any_io_executor ex, std::string u, HttpGetOptions o)
      : executor(ex),
        url(std::move(u)),
        options(std::move(o)),
        resolver(ex),
        deadline(ex),
        wake(ex),
        socket(ex) {}

  asio::any_io_executor executor;
  std::string url;
  HttpGetOptions options;
  tcp::resolver resolver;
  asio::steady_timer deadline;
  asio::steady_timer wake;  // wakes the coroutine waiting on a resolution
  tcp::socket socket;       // http://
  std::optional<ssl::context> tls_context;
  std::optional<ssl::stream<tcp::socket>> tls_stream;  // https://
  bool timed_out = false;
  bool cancelled = false;
  bool started = false;
  const char* phase = "resolving";

  bool aborted() const { return timed_out || cancelled; }

  void abort() {
    error_code ignored;
    resolver.cancel();
    wake.cancel();
    socket.close(ignored);
    if (tls_stream) tls_stream->lowest_layer().close(ignored);
  }

  // Why the step failed: the deadline or a cancel first, since they show up as some socket
  // error in the step they interrupted.
  std::string failure(std::string what) const {
    if (timed_out) {
      return "timed out after " + format_duration(options.timeout) + " (" + phase + ")";
    }
    if (cancelled) return "cancelled";
    return what;
  }

  asio::awaitable<tcp::resolver::results_type> resolve(const Target& target, error_code& ec);
  asio::awaitable<void> connect(const Target& target, tcp::socket& into, std::string& error);
  bool prepare_tls(const Target& target, std::string& error);
  template <class Stream>
  asio::awaitable<void> exchange(Stream& stream, const Target& target, HttpGetResult& result);
};

// The resolver runs getaddrinfo on a thread of its own that no cancel can interrupt, so the
// fetch waits for the first of (the answer, the deadline, a cancel) and leaves a late answer
// behind, instead of waiting on a hung name server past its deadline.
asio::awaitable<tcp::resolver::results_type> HttpGet::State::resolve(const Target& target,
                                                                     error_code& ec) {
  struct Answer {
    bool done = false;
    error_code ec;
    tcp::resolver::results_type results;
  };
  auto answer = std::make_shared<Answer>();
  auto self = shared_from_this();
  resolver.async_resolve(target.host, std::to_string(target.port),
                         [answer, self](error_code ec, tcp::resolver::results_type results) {
                           answer->done = true;
                           answer->ec = ec;
                           answer->results = std::move(results);
                           self->wake.cancel();
                         });
  wake.expires_at(asio::steady_timer::time_point::max());
  error_code ignored;
  co_await wake.async_wait(redirect(ignored));
  if (!answer->done) {
    ec = asio::error::operation_aborted;
    co_return tcp::resolver::results_type{};
  }
  ec = answer->ec;
  co_return std::move(answer->results);
}

asio::awaitable<void> HttpGet::State::connect(const Target& target, tcp::socket& into,
                                              std::string& error) {
  error_code ec;
  tcp::resolver::results_type endpoints;
  if (target.host_is_address) {
    auto address = asio::ip::make_address(target.host, ec);
    if (ec) {
      error = "bad address " + target.host;
      co_return;
    }
    endpoints = tcp::resolver::results_type::create(tcp::endpoint(address, target.port),
                                                    target.host, std::to_string(target.port));
  } else {
    phase = "resolving";
    endpoints = co_await resolve(target, ec);
    if (ec || aborted()) {
      error = failure("resolve " + target.host + ": " + ec.message());
      co_return;
    }
  }
  phase = "connecting";
  co_await asio::async_connect(into, endpoints, redirect(ec));
  if (ec || aborted()) {
    bool v6 = target.host.find(':') != std::string::npos;
    std::string where = v6 ? "[" + target.host + "]" : target.host;
    error = failure("connect " + where + ":" + std::to_string(target.port) + ": " + ec.message());
  }
}

bool HttpGet::State::prepare_tls(const Target& target, std::string& error) {
  error_code ec;
  tls_context.emplace(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(tls_context->native_handle(), TLS1_2_VERSION);
  tls_context->set_verify_mode(ssl::verify_peer, ec);
  if (options.ca_file) {
    if (!ec) tls_context->load_verify_file(*options.ca_file, ec);
    if (ec) {
      error = "TLS: cannot load ca_file " + *options.ca_file + ": " + ec.message();
      return false;
    }
  } else {
    if (!ec) tls_context->set_default_verify_paths(ec);
    if (ec) {
      error = "TLS: cannot load the system trust store: " + ec.message();
      return false;
    }
  }
  tls_stream.emplace(executor, *tls_context);
  SSL* ssl_handle = tls_stream->native_handle();
  // The name (or address) of the URL must be in the certificate. OpenSSL's own check
  // (X509_check_host / X509_check_ip during chain verification) rather than a verify
  // callback: its failure keeps a precise verify result ("Hostname mismatch") for the log.
  int checked = target.host_is_address
                    ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_handle), target.host.c_str())
                    : SSL_set1_host(ssl_handle, target.host.c_str());
  // SNI carries names only, never an address (RFC 6066 §3).
  if (checked == 1 && !target.host_is_address) {
    checked = static_cast<int>(SSL_set_tlsext_host_name(ssl_handle, target.host.c_str()));
  }
  if (checked != 1) {
    error = "TLS: cannot set the expected host name " + target.host;
    return false;
  }
  return true;
}

template <class Stream>
asio::awaitable<void> HttpGet::State::exchange(Stream& stream, const Target& target,
                                               HttpGetResult& result) {
  error_code ec;
  phase = "sending the request";
  bhttp::request<bhttp::empty_body> request{bhttp::verb::get, target.request_uri, 11};
  request.set(bhttp::field::host, target.host_field);
  request.set(bhttp::field::accept, options.accept);
  request.set(bhttp::field::user_agent, "bulwark");
  request.set(bhttp::field::connection, "close");
  co_await bhttp::async_write(stream, request, redirect(ec));
  if (ec || aborted()) {
    result.error = failure("sending the request: " + ec.message());
    co_return;
  }

  phase = "reading the response";
  beast::flat_buffer buffer;
  std::optional<bhttp::response_parser<bhttp::string_body>> parser;
  for (int interim = 0;; ++interim) {
    parser.emplace();
    parser->header_limit(kMaxResponseHeadBytes);
    parser->body_limit(options.max_body_bytes);
    co_await bhttp::async_read_header(stream, buffer, *parser, redirect(ec));
    if (ec == bhttp::error::body_limit) {
      result.error = failure("response body over " + size_text(options.max_body_bytes));
      co_return;
    }
    if (ec == bhttp::error::header_limit) {
      result.error = failure("response head over " + size_text(kMaxResponseHeadBytes));
      co_return;
    }
    if (ec || aborted()) {
      result.error = failure("reading the response: " + ec.message());
      co_return;
    }
    unsigned status = parser->get().result_int();
    if (status < 100 || status >= 200 || status == 101) break;
    if (interim >= kMaxInterimResponses) {
      result.error = "too many interim (1xx) responses";
      co_return;
    }
  }

  const auto& head = parser->get();
  result.status = head.result_int();
  for (const auto& field : head) {
    if (field.name() == bhttp::field::cache_control) {
      if (!result.cache_control.empty()) result.cache_control += ", ";
      result.cache_control.append(field.value());
    }
  }
  if (auto age = head.find(bhttp::field::age); age != head.end()) result.age = age->value();
  if (auto location = head.find(bhttp::field::location); location != head.end()) {
    result.location = printable(location->value());
  }
  if (result.status != 200) co_return;

  phase = "reading the response body";
  co_await bhttp::async_read(stream, buffer, *parser, redirect(ec));
  if (ec == bhttp::error::body_limit) {
    result.error = failure("response body over " + size_text(options.max_body_bytes));
    co_return;
  }
  if (ec || aborted()) {
    result.error = failure("reading the response body: " + ec.message());
    co_return;
  }
  result.body = std::move(parser->get().body());
}

HttpGet::HttpGet(asio::any_io_executor executor, std::string url, HttpGetOptions options)
    : state_(std::make_shared<State>(executor, std::move(url), std::move(options))) {}

HttpGet::~HttpGet() {
  // A deadline handler still queued holds the state; it must find nothing left to do.
  state_->cancelled = true;
  state_->abort();
  state_->deadline.cancel();
}

void HttpGet::cancel() {
  state_->cancelled = true;
  state_->abort();
}

asio::awaitable<HttpGetResult> HttpGet::run() {
  std::shared_ptr<State> state = state_;
  HttpGetResult result;
  if (state->started) {
    result.error = "HttpGet::run called twice";
    co_return result;
  }
  state->started = true;
  if (state->cancelled) {
    result.error = "cancelled";
    co_return result;
  }
  auto target = parse_target(state->url, result.error);
  if (!target) co_return result;

  state->deadline.expires_after(state->options.timeout);
  state->deadline.async_wait([state](error_code ec) {
    if (ec || state->aborted()) return;
    state->timed_out = true;
    state->abort();
  });

  if (target->tls) {
    if (state->prepare_tls(*target, result.error)) {
      co_await state->connect(*target, state->tls_stream->next_layer(), result.error);
    }
    if (result.error.empty()) {
      state->phase = "TLS handshake";
      error_code ec;
      co_await state->tls_stream->async_handshake(ssl::stream_base::client, redirect(ec));
      if (ec || state->aborted()) {
        long verify = SSL_get_verify_result(state->tls_stream->native_handle());
        if (verify != X509_V_OK) {
          result.error = state->failure(std::string("TLS: certificate verify failed: ") +
                                        X509_verify_cert_error_string(verify));
        } else {
          result.error = state->failure("TLS: " + ec.message());
        }
      }
    }
    if (result.error.empty()) co_await state->exchange(*state->tls_stream, *target, result);
  } else {
    co_await state->connect(*target, state->socket, result.error);
    if (result.error.empty()) co_await state->exchange(state->socket, *target, result);
  }

  // Connection: close; a TLS close_notify is not needed once the message is complete.
  state->deadline.cancel();
  state->abort();
  co_return result;
}

}  // namespace bulwark::server
