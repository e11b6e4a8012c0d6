// The origin's HTTP/1.1 server: Beast parses requests (strictly, into a per-connection arena),
// responses are written by hand into reused buffers. This origin is the upstream in load
// benchmarks, so the steady state of a keep-alive connection allocates nothing per request.
#include "server.hpp"

#include <openssl/evp.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstring>
#include <memory_resource>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "database.hpp"
#include "text.hpp"

namespace origin {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Socket = asio::basic_stream_socket<tcp, asio::io_context::executor_type>;

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxPutBytes = 1 << 20;
constexpr std::size_t kHeaderLimit = 64 * 1024;
constexpr std::size_t kMaxDrainBytes = 1 << 20;  // read before closing, see close_gracefully
constexpr std::size_t kPiece = 64 * 1024;        // write size for streamed bodies
constexpr std::uint64_t kMaxSlowMs = 10 * 60 * 1000;
constexpr std::uint64_t kMaxChunks = 1'000'000;
constexpr std::uint64_t kMaxChunkSize = 64 << 20;

// Per I/O thread, one cache line each, so threads never write to a shared line.
struct alignas(64) Counters {
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> connections{0};
};

struct Shared {
  Database& db;
  asio::thread_pool& pool;
  std::vector<Counters>& counters;
};

// Where a request body goes while Beast parses it: nowhere, into a hash, or into a string.
struct BodySink {
  enum class Mode { discard, hash, store } mode = Mode::discard;
  EVP_MD_CTX* sha = nullptr;
  std::string* store = nullptr;
  std::uint64_t bytes = 0;

  bool consume(const char* data, std::size_t n) {
    bytes += n;
    if (mode == Mode::hash) EVP_DigestUpdate(sha, data, n);
    if (mode != Mode::store) return true;
    if (store->size() + n > kMaxPutBytes) return false;
    store->append(data, n);
    return true;
  }
};

// A Beast body that hands each parsed piece to a BodySink, so a body is never held whole
// unless the handler asked for it (PUT, bounded). The sink is chosen after the header is read.
struct sink_body {
  using value_type = BodySink*;

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(http::header<isRequest, Fields>&, value_type& sink) : sink_(sink) {}
    void init(const boost::optional<std::uint64_t>&, error_code& ec) { ec = {}; }
    template <class Buffers>
    std::size_t put(const Buffers& buffers, error_code& ec) {
      ec = {};
      std::size_t total = 0;
      for (asio::const_buffer b : beast::buffers_range_ref(buffers)) {
        if (sink_ && !sink_->consume(static_cast<const char*>(b.data()), b.size())) {
          ec = http::error::body_limit;
          return total;
        }
        total += b.size();
      }
      return total;
    }
    void finish(error_code& ec) { ec = {}; }

   private:
    value_type& sink_;
  };
};

// Header fields live in a per-connection arena that is reset between requests.
using FieldsAlloc = std::pmr::polymorphic_allocator<char>;
using Parser = http::request_parser<sink_body, FieldsAlloc>;
using Request = Parser::value_type;

enum class Route {
  secure,
  pub,
  data,
  stats,
  stats_reset,
  echo,
  chunked,
  slow,
  big,
  cookie,
  priv,
  not_found
};

Route route_of(std::string_view path) {
  if (path.starts_with("/api/public/")) return Route::pub;
  if (path.starts_with("/api/data/")) return Route::data;
  if (path == "/api/echo" || path.starts_with("/api/echo/")) return Route::echo;
  static constexpr std::pair<std::string_view, Route> kExact[] = {
      {"/api/secure", Route::secure},       {"/stats", Route::stats},
      {"/stats/reset", Route::stats_reset}, {"/api/chunked", Route::chunked},
      {"/api/slow", Route::slow},           {"/api/big", Route::big},
      {"/api/cookie", Route::cookie},       {"/api/private", Route::priv}};
  for (auto [p, r] : kExact)
    if (p == path) return r;
  return Route::not_found;
}

// The Allow value for a route, or empty when any method is accepted.
std::string_view allowed_methods(Route route) {
  switch (route) {
    case Route::echo:
    case Route::slow:
    case Route::not_found:
      return {};
    case Route::data:
      return "GET, HEAD, PUT, POST, DELETE";
    case Route::stats_reset:
      return "POST";
    default:
      return "GET, HEAD";
  }
}

bool method_allowed(Route route, std::string_view method) {
  std::string_view allow = allowed_methods(route);
  if (allow.empty()) return true;
  while (!allow.empty()) {
    std::size_t comma = allow.find(", ");
    if (allow.substr(0, comma) == method) return true;
    allow = comma == std::string_view::npos ? std::string_view{} : allow.substr(comma + 2);
  }
  return false;
}

// The deterministic streamed body: byte i is 'a' + i % 26. Any offset's bytes start at
// pattern()[offset % 26], for up to kPiece bytes.
const char* pattern() {
  static const auto bytes = [] {
    std::array<char, kPiece + 26> p{};
    for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<char>('a' + i % 26);
    return p;
  }();
  return bytes.data();
}

template <class Int>
void append_number(std::string& out, Int n) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, end);
}

void append_hex(std::string& out, const unsigned char* data, std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < n; ++i) {
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 0xF];
  }
}

// What the response needs to know about its request.
struct Exchange {
  const Request* req = nullptr;
  std::string_view path, query;
  bool keep_alive = false;
  bool http10 = false;
  bool head_only = false;  // HEAD: the GET response's header, no body
};

struct Head {
  unsigned status = 200;
  std::string_view cache_control;
  std::string_view etag;
  std::int64_t last_modified = -1;
  std::string_view extra;  // complete header lines, each ending in CRLF

  Head& with_status(unsigned s) { return status = s, *this; }
  Head& with_cache(std::string_view cc) { return cache_control = cc, *this; }
  Head& with_etag(std::string_view tag) { return etag = tag, *this; }
  Head& with_modified(std::int64_t t) { return last_modified = t, *this; }
  Head& with_extra(std::string_view lines) { return extra = lines, *this; }
};

// A strong entity tag from a row version, formatted into buf.
std::string_view format_etag(char (&buf)[24], std::int64_t version) {
  char* end = std::to_chars(buf + 1, buf + sizeof buf - 1, version).ptr;
  buf[0] = *end = '"';
  return std::string_view(buf, end + 1);
}

struct EvpDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

class Session {
 public:
  Session(Socket socket, Shared& shared, Counters& counters)
      : socket_(std::move(socket)), shared_(shared), counters_(counters) {}

  asio::awaitable<void> run();

 private:
  asio::awaitable<bool> serve_one();
  asio::awaitable<bool> reject(error_code ec);
  asio::awaitable<error_code> read_body(Parser& parser, BodySink& sink);
  asio::awaitable<bool> dispatch(Route route, Exchange& ex, const BodySink& sink);
  asio::awaitable<bool> serve_data(Exchange& ex);
  asio::awaitable<bool> serve_data_get(Exchange& ex, const std::string& key);
  asio::awaitable<bool> serve_chunked(Exchange& ex);
  asio::awaitable<bool> serve_big(Exchange& ex);
  asio::awaitable<bool> serve_slow(Exchange& ex);
  asio::awaitable<bool> send_json(const Exchange& ex, const Head& head);
  asio::awaitable<bool> send_error(const Exchange& ex, unsigned status, std::string_view code,
                                   std::string_view extra = {});
  asio::awaitable<bool> write_out();
  asio::awaitable<void> close_gracefully();
  template <class F>
  asio::awaitable<std::invoke_result_t<F&>> on_pool(F f);

  Exchange make_exchange(const Request& req) const;
  bool read_cc(const Exchange& ex);
  BodySink sink_for(Route route, const Request& req);
  void begin_head(const Exchange& ex, const Head& head);
  void body_user_message(const Exchange& ex, std::string_view message);
  void body_stats();
  void body_echo(const Exchange& ex, const BodySink& sink);

  Socket socket_;
  Shared& shared_;
  Counters& counters_;
  beast::flat_buffer buffer_;
  std::array<std::byte, 4096> arena_;
  std::pmr::monotonic_buffer_resource fields_{arena_.data(), arena_.size()};
  std::string out_;                // the response header, and streamed body pieces
  std::string body_;               // the JSON body
  std::string value_;              // a PUT body, or an echoed header value
  std::string name_;               // an echoed header name
  std::optional<std::string> cc_;  // a Cache-Control asked for with ?cc=
  std::string extra_;              // extra header lines (Vary, Location) built per request
  std::unique_ptr<EVP_MD_CTX, EvpDeleter> sha_;
};

asio::awaitable<void> Session::run() {
  bool keep_alive = true;
  while (keep_alive) {
    fields_.release();
    bool failed = false;
    try {
      keep_alive = co_await serve_one();
    } catch (const std::exception&) {
      failed = true;  // no co_await inside a handler
    }
    // A failed dependency (SQLite) ends this exchange with a 500, never the process.
    if (failed) keep_alive = co_await send_error(Exchange{}, 500, "internal_error");
  }
  co_await close_gracefully();
}

asio::awaitable<bool> Session::serve_one() {
  Parser parser(std::piecewise_construct, std::make_tuple(),
                std::make_tuple(FieldsAlloc(&fields_)));
  parser.header_limit(kHeaderLimit);
  parser.body_limit(boost::none);  // bodies stream through the sink, which sets its own limit
  auto [ec, n] = co_await http::async_read_header(socket_, buffer_, parser, nothrow);
  if (ec) co_return co_await reject(ec);

  const Request& req = parser.get();
  Exchange ex = make_exchange(req);
  Route route = route_of(ex.path);
  if (route != Route::stats && route != Route::stats_reset)
    counters_.requests.fetch_add(1, std::memory_order_relaxed);

  BodySink sink = sink_for(route, req);
  if (sink.mode == BodySink::Mode::store && parser.content_length().value_or(0) > kMaxPutBytes) {
    ex.keep_alive = false;  // the body is not read, so the connection cannot be reused
    co_return co_await send_error(ex, 413, "body_too_large");
  }
  if (auto body_ec = co_await read_body(parser, sink)) co_return co_await reject(body_ec);
  co_return co_await dispatch(route, ex, sink);
}

// A broken or closed connection just ends; a malformed request gets a 400 (431 for a huge
// header) and the connection closes, since its framing can no longer be trusted.
asio::awaitable<bool> Session::reject(error_code ec) {
  if (ec.category() != http::make_error_code(http::error::bad_target).category() ||
      ec == http::error::end_of_stream || ec == http::error::partial_message)
    co_return false;
  Exchange ex;
  if (ec == http::error::header_limit) co_return co_await send_error(ex, 431, "header_too_large");
  if (ec == http::error::body_limit) co_return co_await send_error(ex, 413, "body_too_large");
  co_return co_await send_error(ex, 400, "bad_request");
}

Exchange Session::make_exchange(const Request& req) const {
  Exchange ex;
  ex.req = &req;
  std::string_view target = req.target();
  std::size_t q = target.find('?');
  ex.path = target.substr(0, q);
  if (q != std::string_view::npos) ex.query = target.substr(q + 1);
  ex.http10 = req.version() == 10;
  ex.head_only = req.method() == http::verb::head;
  // Tests ask for "X-Origin-Close: 1" to see how the gateway handles an upstream that closes.
  ex.keep_alive = req.keep_alive() && req["X-Origin-Close"] != "1";
  return ex;
}

BodySink Session::sink_for(Route route, const Request& req) {
  BodySink sink;
  if (route == Route::echo) {
    if (!sha_) sha_.reset(EVP_MD_CTX_new());
    EVP_DigestInit_ex(sha_.get(), EVP_sha256(), nullptr);
    sink.mode = BodySink::Mode::hash;
    sink.sha = sha_.get();
  } else if (route == Route::data &&
             (req.method() == http::verb::put || req.method() == http::verb::post)) {
    value_.clear();
    sink.mode = BodySink::Mode::store;
    sink.store = &value_;
  }
  return sink;
}

asio::awaitable<error_code> Session::read_body(Parser& parser, BodySink& sink) {
  if (parser.is_done()) co_return error_code{};
  const Request& req = parser.get();
  if (req.version() >= 11 && beast::iequals(req[http::field::expect], "100-continue")) {
    out_.assign("HTTP/1.1 100 Continue\r\n\r\n");
    if (!co_await write_out()) co_return asio::error::broken_pipe;
  }
  parser.get().body() = &sink;
  auto [ec, n] = co_await http::async_read(socket_, buffer_, parser, nothrow);
  co_return ec;
}

asio::awaitable<bool> Session::dispatch(Route route, Exchange& ex, const BodySink& sink) {
  std::string_view method = ex.req->method_string();
  if (!method_allowed(route, method)) {
    std::string allow = "Allow: " + std::string(allowed_methods(route)) + "\r\n";
    co_return co_await send_error(ex, 405, "method_not_allowed", allow);
  }
  switch (route) {
    case Route::secure:
      body_user_message(ex, "hello from the origin");
      co_return co_await send_json(ex, Head());
    case Route::priv:
      body_user_message(ex, "private to this user");
      co_return co_await send_json(ex, Head().with_cache("private, max-age=60"));
    case Route::pub:
      body_.assign("{\"path\":");
      append_json_string(body_, ex.path);
      body_ += ",\"public\":true}";
      co_return co_await send_json(ex, Head().with_cache("public, max-age=60"));
    case Route::cookie:
      body_.assign("{\"cookie\":\"session\"}");
      co_return co_await send_json(
          ex, Head().with_cache("public, max-age=60").with_extra("Set-Cookie: session=abc\r\n"));
    case Route::stats:
      body_stats();
      co_return co_await send_json(ex, Head().with_cache("no-store"));
    case Route::stats_reset:
      for (Counters& c : shared_.counters) {
        c.requests.store(0, std::memory_order_relaxed);
        c.connections.store(0, std::memory_order_relaxed);
      }
      shared_.db.reset_queries();
      body_.assign("{\"reset\":true}");
      co_return co_await send_json(ex, Head().with_cache("no-store"));
    case Route::echo:
      body_echo(ex, sink);
      co_return co_await send_json(ex, Head().with_cache("no-store"));
    case Route::data:
      co_return co_await serve_data(ex);
    case Route::chunked:
      co_return co_await serve_chunked(ex);
    case Route::big:
      co_return co_await serve_big(ex);
    case Route::slow:
      co_return co_await serve_slow(ex);
    case Route::not_found:
      break;
  }
  co_return co_await send_error(ex, 404, "not_found");
}

void Session::body_user_message(const Exchange& ex, std::string_view message) {
  body_.assign("{\"user\":");
  auto user = ex.req->find("X-User-Id");
  if (user == ex.req->end())
    body_ += "null";
  else
    append_json_string(body_, user->value());
  body_ += ",\"message\":";
  append_json_string(body_, message);
  body_ += '}';
}

void Session::body_stats() {
  std::uint64_t requests = 0, connections = 0;
  for (const Counters& c : shared_.counters) {
    requests += c.requests.load(std::memory_order_relaxed);
    connections += c.connections.load(std::memory_order_relaxed);
  }
  body_.assign("{\"db_queries\":");
  append_number(body_, shared_.db.queries());
  body_ += ",\"requests\":";
  append_number(body_, requests);
  body_ += ",\"connections\":";
  append_number(body_, connections);
  body_ += '}';
}

// Header names are reported lower-cased (they are case-insensitive); repeated fields are
// joined with ", " as RFC 9110 §5.3 allows, so none is lost.
void Session::body_echo(const Exchange& ex, const BodySink& sink) {
  const Request& req = *ex.req;
  body_.assign("{\"method\":");
  append_json_string(body_, req.method_string());
  body_ += ",\"path\":";
  append_json_string(body_, ex.path);
  body_ += ",\"query\":";
  append_json_string(body_, ex.query);
  body_ += ",\"headers\":{";
  bool first = true;
  for (auto it = req.begin(); it != req.end(); ++it) {
    auto seen = [&](const auto& f) { return beast::iequals(f.name_string(), it->name_string()); };
    if (std::find_if(req.begin(), it, seen) != it) continue;
    if (!first) body_ += ',';
    first = false;
    name_.clear();
    append_lower(name_, it->name_string());
    value_.assign(it->value());  // free: a PUT body is the only other use of value_
    for (auto more = std::next(it); more != req.end(); ++more)
      if (seen(*more)) value_.append(", ").append(more->value());
    append_json_string(body_, name_);
    body_ += ':';
    append_json_string(body_, value_);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  EVP_DigestFinal_ex(sink.sha, digest, &digest_len);
  body_ += "},\"body_bytes\":";
  append_number(body_, sink.bytes);
  body_ += ",\"body_sha256\":\"";
  append_hex(body_, digest, digest_len);
  body_ += "\"}";
}

// Runs blocking database work on the pool; the I/O thread keeps serving meanwhile.
template <class F>
asio::awaitable<std::invoke_result_t<F&>> Session::on_pool(F f) {
  using Result = std::invoke_result_t<F&>;
  co_return co_await asio::co_spawn(
      shared_.pool, [&f]() -> asio::awaitable<Result> { co_return f(); }, asio::use_awaitable);
}

asio::awaitable<bool> Session::serve_data(Exchange& ex) {
  std::optional<std::string> key = percent_decode(ex.path.substr(std::strlen("/api/data/")));
  if (!key) co_return co_await send_error(ex, 400, "bad_key");
  if (key->empty()) co_return co_await send_error(ex, 404, "not_found");
  Database& db = shared_.db;
  switch (ex.req->method()) {
    case http::verb::put:
    case http::verb::post: {
      Row row = co_await on_pool([&] { return db.put(*key, value_); });
      char etag[24];
      body_.assign("{\"key\":");
      append_json_string(body_, *key);
      body_ += ",\"stored\":true}";
      Head head = Head().with_etag(format_etag(etag, row.version)).with_modified(row.modified);
      // POST names the stored resource (its path, without the request's query), so a test
      // can tell an invalidation by Location from one by the request's own URL.
      if (ex.req->method() == http::verb::post) {
        extra_.assign("Location: ").append(ex.path) += "\r\n";
        head.with_extra(extra_);
      }
      co_return co_await send_json(ex, head);
    }
    case http::verb::delete_:
      co_await on_pool([&] { return db.remove(*key); });
      co_return co_await send_json(ex, Head().with_status(204));
    default:
      co_return co_await serve_data_get(ex, *key);
  }
}

// ?cc=VALUE: the Cache-Control the response carries instead of its own; false (after a 400)
// when the value is malformed.
bool Session::read_cc(const Exchange& ex) {
  cc_.reset();
  return query_text(ex.query, "cc", cc_);
}

asio::awaitable<bool> Session::serve_data_get(Exchange& ex, const std::string& key) {
  // ?vary=NAME: the response varies on that request header, and its body shows the value.
  std::optional<std::string> vary;
  if (!read_cc(ex) || !query_text(ex.query, "vary", vary) || (vary && !is_token(*vary)))
    co_return co_await send_error(ex, 400, "bad_query");
  std::optional<Row> row = co_await on_pool([&] { return shared_.db.get(key); });
  if (!row) co_return co_await send_error(ex, 404, "not_found");
  char etag[24];
  Head head = Head()
                  .with_cache(cc_ ? std::string_view(*cc_) : "public, max-age=60")
                  .with_etag(format_etag(etag, row->version))
                  .with_modified(row->modified);
  if (vary) {
    extra_.assign("Vary: ").append(*vary) += "\r\n";
    head.with_extra(extra_);  // on 304 too (RFC 9110 §15.4.5)
  }
  // RFC 9110 §13.2.2: If-None-Match wins; If-Modified-Since counts only without it.
  auto inm = ex.req->find(http::field::if_none_match);
  auto ims = ex.req->find(http::field::if_modified_since);
  bool not_modified = false;
  if (inm != ex.req->end()) {
    not_modified = etag_matches(inm->value(), head.etag);
  } else if (ims != ex.req->end()) {
    auto since = parse_http_date(ims->value());
    not_modified = since && row->modified <= *since;
  }
  if (not_modified) {
    head.status = 304;
    co_return co_await send_json(ex, head);
  }
  body_.assign("{\"key\":");
  append_json_string(body_, key);
  body_ += ",\"value\":";
  append_json_string(body_, row->value);
  if (vary) {
    body_ += ",\"vary\":{";
    name_.clear();
    append_lower(name_, *vary);
    append_json_string(body_, name_);
    body_ += ':';
    auto field = ex.req->find(*vary);
    if (field == ex.req->end())
      body_ += "null";
    else
      append_json_string(body_, field->value());
    body_ += '}';
  }
  body_ += '}';
  co_return co_await send_json(ex, head);
}

// N chunks of S bytes, each framed by hand; frames are batched into kPiece writes unless a
// delay between chunks asks for each to go out on its own.
asio::awaitable<bool> Session::serve_chunked(Exchange& ex) {
  std::uint64_t n = 4, size = 1024, delay_ms = 0;
  if (!query_uint(ex.query, "n", n) || !query_uint(ex.query, "size", size) ||
      !query_uint(ex.query, "delay_ms", delay_ms) || n > kMaxChunks || size > kMaxChunkSize ||
      delay_ms > kMaxSlowMs || !read_cc(ex))
    co_return co_await send_error(ex, 400, "bad_query");
  if (ex.http10) co_return co_await serve_big(ex);  // HTTP/1.0 has no chunked coding
  begin_head(ex, Head().with_cache(cc_ ? std::string_view(*cc_) : std::string_view()));
  out_ += "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
  if (ex.head_only) co_return co_await write_out() && ex.keep_alive;
  asio::steady_timer timer(socket_.get_executor());
  std::uint64_t offset = 0;
  for (std::uint64_t i = 0; i < n && size > 0; ++i) {
    char hex[20];
    out_.append(hex, std::to_chars(hex, hex + sizeof hex, size, 16).ptr).append("\r\n");
    for (std::uint64_t left = size; left > 0;) {
      std::size_t len = std::min<std::uint64_t>(left, kPiece);
      out_.append(pattern() + offset % 26, len);
      offset += len;
      left -= len;
      if (out_.size() >= kPiece && !co_await write_out()) co_return false;
    }
    out_ += "\r\n";
    if (delay_ms == 0 || i + 1 == n) continue;
    if (!co_await write_out()) co_return false;
    timer.expires_after(std::chrono::milliseconds(delay_ms));
    co_await timer.async_wait(nothrow);
  }
  out_ += "0\r\n\r\n";
  co_return co_await write_out() && ex.keep_alive;
}

// A Content-Length body streamed straight from the pattern, never allocated whole. Also the
// HTTP/1.0 form of /api/chunked, whose total length is n * size.
asio::awaitable<bool> Session::serve_big(Exchange& ex) {
  std::uint64_t bytes = 1 << 20, n = 1, size = 0;
  bool chunked_form = ex.path == "/api/chunked";
  if (chunked_form) {
    n = 4, size = 1024;
    query_uint(ex.query, "n", n);
    query_uint(ex.query, "size", size);
    bytes = n * size;
  } else if (!query_uint(ex.query, "bytes", bytes)) {
    co_return co_await send_error(ex, 400, "bad_query");
  }
  if (!read_cc(ex)) co_return co_await send_error(ex, 400, "bad_query");
  begin_head(ex, Head().with_cache(cc_ ? std::string_view(*cc_) : std::string_view()));
  out_ += "Content-Type: application/octet-stream\r\nContent-Length: ";
  append_number(out_, bytes);
  out_ += "\r\n\r\n";
  if (ex.head_only) bytes = 0;
  // The header goes out with the first piece: one write for a small body.
  std::size_t first = std::min<std::uint64_t>(bytes, kPiece);
  std::array<asio::const_buffer, 2> buffers{asio::buffer(out_), asio::buffer(pattern(), first)};
  if (auto [ec, w] = co_await asio::async_write(socket_, buffers, nothrow); ec) co_return false;
  for (std::uint64_t offset = first; offset < bytes;) {
    std::size_t len = std::min<std::uint64_t>(bytes - offset, kPiece);
    auto [ec, w] =
        co_await asio::async_write(socket_, asio::buffer(pattern() + offset % 26, len), nothrow);
    if (ec) co_return false;
    offset += len;
  }
  co_return ex.keep_alive;
}

asio::awaitable<bool> Session::serve_slow(Exchange& ex) {
  std::uint64_t ms = 1000;
  if (!query_uint(ex.query, "ms", ms) || ms > kMaxSlowMs)
    co_return co_await send_error(ex, 400, "bad_query");
  asio::steady_timer timer(socket_.get_executor(), std::chrono::milliseconds(ms));
  co_await timer.async_wait(nothrow);
  body_.assign("{\"slept_ms\":");
  append_number(body_, ms);
  body_ += '}';
  co_return co_await send_json(ex, Head());
}

void Session::begin_head(const Exchange& ex, const Head& head) {
  out_.assign("HTTP/1.1 ");
  append_number(out_, head.status);
  out_ += ' ';
  out_ += http::obsolete_reason(static_cast<http::status>(head.status));
  out_ += "\r\nDate: ";
  out_ += http_date_now();
  out_ += "\r\nServer: bulwark-origin\r\n";
  if (!head.cache_control.empty())
    out_.append("Cache-Control: ").append(head.cache_control) += "\r\n";
  if (!head.etag.empty()) out_.append("ETag: ").append(head.etag) += "\r\n";
  if (head.last_modified >= 0) {
    out_ += "Last-Modified: ";
    append_http_date(out_, static_cast<std::time_t>(head.last_modified));
    out_ += "\r\n";
  }
  out_ += head.extra;
  if (!ex.keep_alive)
    out_ += "Connection: close\r\n";
  else if (ex.http10)
    out_ += "Connection: keep-alive\r\n";
}

// Sends body_ as the JSON body (none for 204 and 304, nor for HEAD). Returns whether the
// connection stays open for the next request.
asio::awaitable<bool> Session::send_json(const Exchange& ex, const Head& head) {
  begin_head(ex, head);
  bool bodyless = head.status == 204 || head.status == 304;
  if (!bodyless) {
    out_ += "Content-Type: application/json\r\nContent-Length: ";
    append_number(out_, body_.size());
    out_ += "\r\n";
  }
  out_ += "\r\n";
  std::size_t body_size = bodyless || ex.head_only ? 0 : body_.size();
  std::array<asio::const_buffer, 2> buffers{asio::buffer(out_),
                                            asio::buffer(body_.data(), body_size)};
  auto [ec, n] = co_await asio::async_write(socket_, buffers, nothrow);
  co_return !ec && ex.keep_alive;
}

asio::awaitable<bool> Session::send_error(const Exchange& ex, unsigned status,
                                          std::string_view code, std::string_view extra) {
  body_.assign("{\"error\":");
  append_json_string(body_, code);
  body_ += '}';
  co_return co_await send_json(ex, Head().with_status(status).with_extra(extra));
}

asio::awaitable<bool> Session::write_out() {
  auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(out_), nothrow);
  out_.clear();
  co_return !ec;
}

// Half-close, then read and discard until the peer closes (bounded in time and bytes): a
// plain close with unread pipelined requests would send a RST that can destroy the response
// the client has not read yet.
asio::awaitable<void> Session::close_gracefully() {
  error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  asio::steady_timer timer(socket_.get_executor(), std::chrono::seconds(1));
  timer.async_wait([this](error_code e) {
    if (!e) socket_.cancel();
  });
  for (std::size_t drained = 0; !ec && drained < kMaxDrainBytes;) {
    auto [read_ec, n] = co_await socket_.async_read_some(buffer_.prepare(4096), nothrow);
    ec = read_ec;
    drained += n;
  }
  timer.cancel();
  socket_.close(ec);
}

asio::awaitable<void> serve_connection(Socket socket, Shared& shared, Counters& counters) {
  Session session(std::move(socket), shared, counters);
  co_await session.run();
}

std::string format_endpoint(const tcp::endpoint& ep) {
  std::string address = ep.address().to_string();
  if (ep.address().is_v6()) address = "[" + address + "]";
  return address + ":" + std::to_string(ep.port());
}

}  // namespace

class Server::Impl {
 public:
  Impl(const ServerOptions& options, Database& db)
      : options_(options),
        pool_(static_cast<std::size_t>(options.db_threads)),
        counters_(static_cast<std::size_t>(options.io_threads)),
        shared_{db, pool_, counters_} {
    for (int i = 0; i < options.io_threads; ++i)
      contexts_.push_back(std::make_unique<asio::io_context>(1));
  }

  std::string start();
  void stop();

 private:
  void listen();
  asio::awaitable<void> accept_loop();

  ServerOptions options_;
  // Destroyed in reverse: acceptor, then the pool (whose queued work may own sessions'
  // frames, which hold sockets), then the contexts.
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  asio::thread_pool pool_;
  std::vector<Counters> counters_;
  Shared shared_;
  std::optional<tcp::acceptor> acceptor_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
};

std::string Server::Impl::start() {
  try {
    listen();
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("cannot listen on " + options_.host + ":" +
                             std::to_string(options_.port) + ": " + e.code().message());
  }
  asio::io_context& first = *contexts_.front();
  asio::co_spawn(first, accept_loop(), asio::detached);
  for (auto& context : contexts_) {
    guards_.push_back(asio::make_work_guard(*context));
    threads_.emplace_back([&context = *context] { context.run(); });
  }
  return format_endpoint(acceptor_->local_endpoint());
}

void Server::Impl::listen() {
  asio::io_context& first = *contexts_.front();
  tcp::resolver resolver(first);
  tcp::endpoint endpoint =
      *resolver.resolve(options_.host, std::to_string(options_.port), tcp::resolver::passive)
           .begin();
  acceptor_.emplace(first);
  acceptor_->open(endpoint.protocol());
  acceptor_->set_option(tcp::acceptor::reuse_address(true));
  acceptor_->bind(endpoint);
  acceptor_->listen(asio::socket_base::max_listen_connections);
}

void Server::Impl::stop() {
  for (auto& context : contexts_) context->stop();
  for (auto& thread : threads_) thread.join();
  pool_.stop();
  pool_.join();
}

// One acceptor hands connections round-robin to the I/O threads: no SO_REUSEPORT, so a
// second origin started on the same port fails loudly instead of silently sharing it.
asio::awaitable<void> Server::Impl::accept_loop() {
  std::size_t next = 0;
  for (;;) {
    asio::io_context& target = *contexts_[next];
    Counters& counters = counters_[next];
    next = (next + 1) % contexts_.size();
    auto [ec, socket] = co_await acceptor_->async_accept(target, nothrow);
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {  // out of descriptors and the like: back off rather than spin
      asio::steady_timer pause(acceptor_->get_executor(), std::chrono::milliseconds(10));
      co_await pause.async_wait(nothrow);
      continue;
    }
    counters.connections.fetch_add(1, std::memory_order_relaxed);
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    asio::co_spawn(target, serve_connection(std::move(socket), shared_, counters), asio::detached);
  }
}

Server::Server(const ServerOptions& options, Database& db)
    : impl_(std::make_unique<Impl>(options, db)) {}

Server::~Server() = default;

std::string Server::start() {
  return impl_->start();
}

void Server::stop() {
  impl_->stop();
}

}  // namespace origin
