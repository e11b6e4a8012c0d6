#include "server/connection.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory_resource>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "auth/token_source.hpp"
#include "cache/cache_events.hpp"
#include "cache/conditional.hpp"
#include "config/units.hpp"
#include "gateway/cache_stage.hpp"
#include "gateway/client_address.hpp"
#include "gateway/limit_stage.hpp"
#include "http/forwarded_headers.hpp"
#include "http/framing.hpp"
#include "http/path_normalizer.hpp"
#include "http/router.hpp"
#include "observe/access_log.hpp"
#include "observe/request_id.hpp"
#include "proxy/message_head.hpp"
#include "server/cache_refresh.hpp"
#include "server/worker.hpp"

namespace bulwark::server {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr size_t kChunkBytes = 16 * 1024;
constexpr size_t kReadBytes = 16 * 1024;
constexpr uint64_t kMaxResponseHeadBytes = 64 * 1024;
constexpr unsigned kMaxInterimResponses = 8;
// Bounds on what a peer can make bulwark buffer outside bodies (chunk-size lines with
// extensions, trailers, heads): the read buffers never grow past these.
constexpr size_t kMaxUpstreamBufferBytes = kMaxResponseHeadBytes + 2 * kReadBytes;

// Parsed fields live in a per-connection arena released after each exchange: no heap
// allocation per field in steady state.
using FieldsAllocator = std::pmr::polymorphic_allocator<char>;
using RequestParser = bhttp::request_parser<bhttp::buffer_body, FieldsAllocator>;
using ResponseParser = bhttp::response_parser<bhttp::buffer_body, FieldsAllocator>;

auto redirect(error_code& ec) {
  return asio::redirect_error(asio::use_awaitable, ec);
}

// Writes all of `buffers`: straight away first (the sockets are non-blocking), and through
// the reactor only what the kernel did not take. Most writes complete at once, and then no
// completion waits in the io_context's queue behind other connections' work.
template <class Buffers>
asio::awaitable<void> write_all(tcp::socket& socket, const Buffers& buffers, error_code& ec) {
  size_t total = asio::buffer_size(buffers);
  size_t written = socket.write_some(buffers, ec);
  if (!ec && written == total) co_return;
  if (ec && ec != asio::error::would_block && ec != asio::error::try_again) co_return;
  ec = {};
  beast::buffers_suffix<Buffers> rest(buffers);
  rest.consume(written);
  co_await asio::async_write(socket, rest, redirect(ec));
}

// Parses what `buffer` already holds into `parser` without a trip through the reactor.
// Returns false when the parser needs bytes from the socket first.
template <class Parser>
bool parse_buffered(Parser& parser, beast::flat_buffer& buffer, error_code& ec) {
  if (buffer.size() == 0) return false;
  size_t used = parser.put(buffer.data(), ec);
  buffer.consume(used);
  if (ec == bhttp::error::need_more || ec == bhttp::error::need_buffer) ec = {};
  return used > 0 || ec;
}

bool is_idempotent(bhttp::verb method) {
  switch (method) {
    case bhttp::verb::get:
    case bhttp::verb::head:
    case bhttp::verb::options:
    case bhttp::verb::trace:
    case bhttp::verb::put:
    case bhttp::verb::delete_:
      return true;
    default:
      return false;
  }
}

std::string_view status_error_name(unsigned status) {
  switch (status) {
    case 400:
      return "bad_request";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 405:
      return "method_not_allowed";
    case 408:
      return "request_timeout";
    case 413:
      return "payload_too_large";
    case 429:
      return "too_many_requests";
    case 431:
      return "request_header_fields_too_large";
    case 501:
      return "not_implemented";
    case 502:
      return "bad_gateway";
    case 503:
      return "service_unavailable";
    case 504:
      return "gateway_timeout";
    case 505:
      return "http_version_not_supported";
    default:
      return "error";
  }
}

std::optional<uint64_t> to_std(const boost::optional<uint64_t>& value) {
  return value ? std::optional<uint64_t>(*value) : std::nullopt;
}

// Why a final response head from an upstream cannot be relayed, or empty when it can.
template <class Parser>
std::string_view response_head_problem(const Parser& parser) {
  unsigned status = parser.get().result_int();
  if (status == 101) return "asked for a protocol upgrade, which is not supported";
  if (status < 100 || status > 599) return "sent an invalid status code";
  // bulwark re-frames bodies itself and decodes no content coding: anything but a lone
  // "chunked" would reach the client mislabelled.
  bool other_coding = false;
  for (const auto& field : parser.get()) {
    if (field.name() != bhttp::field::transfer_encoding) continue;
    http::for_each_list_token(field.value(), [&](std::string_view token) {
      if (!http::iequals(token, "chunked")) other_coding = true;
    });
  }
  return other_coding ? "sent a transfer coding other than chunked" : "";
}

// Where the exchange stands; decides what an expired deadline means.
enum class Phase {
  idle,
  head,
  body,
  upstream_connect,
  upstream_send,
  upstream_wait,
  upstream_body,
  respond
};

struct ErrorReply {
  unsigned status = 0;
  std::string detail;
  std::string allow;        // for 405
  std::string error;        // the body's "error"; empty: named after the status
  std::string more_fields;  // whole lines ("\r\nName: value"...) added to the head
};

// One request's record, reset for every request on the connection.
struct Exchange {
  Clock::time_point start;
  std::string request_id;
  std::string method;
  std::string path;
  std::string_view route;
  uint32_t route_slot = 0;
  unsigned status = 0;
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  int64_t upstream_us = -1;
  std::string upstream_label;
  std::string_view error;
  std::string_view auth;   // the auth stage's outcome, for the access log
  std::string_view limit;  // the limit stages' outcome, for the access log
  std::string_view cache;  // how the cache answered, for the access log
  // What the client asked for, captured before the head is rewritten for the upstream.
  unsigned client_version = 11;
  bool client_keep_alive = true;
  bool expects_continue = false;
  bool head_request = false;
};

enum class Relay { ok, read_failed, write_failed };

// Whether a HEAD response carries the validators of the stored GET response (§4.3.5).
template <class Response>
bool same_validators(const cache::Entry& entry, const Response& response) {
  auto etag = response[bhttp::field::etag];
  auto last_modified = response[bhttp::field::last_modified];
  if (!etag.empty() && etag != entry.etag) return false;
  auto stored = entry.field("last-modified");
  if (!last_modified.empty() && (!stored || *stored != last_modified)) return false;
  return true;
}

std::chrono::sys_seconds now_seconds() {
  return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
}

// A coalesced follower's wait. The leader may run on another worker: it wakes this one
// through the follower's worker mailbox (never by posting to its lock-free io_context),
// which cancels the timer on the follower's own thread. A waiter destroyed while still
// registered (its connection torn down at shutdown) takes itself off the flight first.
class FlightWaiter final : public cache::Coalescer::Waiter {
 public:
  FlightWaiter(Worker& worker, const asio::any_io_executor& executor)
      : worker_(worker), timer_(std::make_shared<asio::steady_timer>(executor)) {}
  FlightWaiter(const FlightWaiter&) = delete;
  FlightWaiter& operator=(const FlightWaiter&) = delete;
  ~FlightWaiter() override { leave(); }

  // Joins the flight for `key`; the returned Flight leads when there was none.
  cache::Coalescer::Flight join(cache::Coalescer& coalescer, std::string key) {
    auto flight = coalescer.join(key, *this);
    if (!flight.leads()) {
      coalescer_ = &coalescer;
      key_ = std::move(key);
    }
    return flight;
  }
  void leave() {
    if (coalescer_ == nullptr) return;
    std::exchange(coalescer_, nullptr)->leave(key_, *this);
  }
  void wake() override {
    // A weak reference: the task must not keep a timer alive past its io_context.
    worker_.run_on_worker([timer = std::weak_ptr(timer_)] {
      if (auto alive = timer.lock()) alive->cancel();
    });
  }
  asio::steady_timer& timer() { return *timer_; }

 private:
  Worker& worker_;
  std::shared_ptr<asio::steady_timer> timer_;
  cache::Coalescer* coalescer_ = nullptr;  // set while registered on a flight
  std::string key_;
};

class ClientConnection final : public Deadline {
 public:
  ClientConnection(Worker& worker, tcp::socket socket)
      : worker_(worker), client_(std::move(socket)), in_buf_(client_buffer_limit(worker)) {
    worker_.connection_started();
    worker_.deadlines().push_back(*this);
    error_code ec;
    client_.non_blocking(true, ec);  // for write_all's first, direct attempt
    auto peer = client_.remote_endpoint(ec);
    if (!ec) {
      auto address = peer.address();
      if (address.is_v6() && address.to_v6().is_v4_mapped()) {
        address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
      }
      client_ip_ = address.to_string();
      auto mapped = address.is_v4()
                        ? asio::ip::make_address_v6(asio::ip::v4_mapped, address.to_v4())
                        : address.to_v6();
      client_ip_bytes_ = mapped.to_bytes();
    }
  }

  ~ClientConnection() override { worker_.connection_ended(); }

  // The client read buffer holds a head (up to max_header_bytes) and a read's worth of
  // what follows; Beast keeps chunk-size lines and trailers here too, so this bound is
  // also theirs.
  static size_t client_buffer_limit(Worker& worker) {
    const auto& runtime = worker.runtime();
    uint64_t head = runtime ? runtime->config.server.limits.max_header_bytes : 16 * 1024;
    return static_cast<size_t>(std::max<uint64_t>(head, 16 * 1024)) + 2 * kReadBytes;
  }

  asio::awaitable<void> run();

  void on_deadline() override {
    expired_ = phase_;
    error_code ignored;
    switch (phase_) {
      case Phase::head:
      case Phase::body:
        // Only the read stops: the client still gets its 408 before the close.
        client_.cancel(ignored);
        break;
      case Phase::idle:
      case Phase::respond:
        client_.close(ignored);
        break;
      default:
        if (upstream_) upstream_->socket.close(ignored);
    }
  }

  void on_drain() override {
    draining_ = true;
    // A connection waiting for its next request is closed now; one mid-request finishes it
    // and closes after the response.
    if (phase_ == Phase::idle || (phase_ == Phase::head && in_buf_.size() == 0)) {
      error_code ignored;
      client_.close(ignored);
    }
  }

 private:
  enum class Head { ready, closed, refused };

  void arm(Phase phase, config::Duration timeout) {
    phase_ = phase;
    expired_.reset();
    expire_after(timeout);
  }
  bool expired(Phase phase) const { return expired_ && *expired_ == phase; }
  const config::ServerLimits& limits() const { return runtime_->config.server.limits; }
  // RFC 9112 §2.3: a higher minor version of HTTP/1 is processed as HTTP/1.1. Beast refuses
  // "HTTP/1.2" outright, so the digit is rewritten in the buffered head before parsing.
  void downgrade_minor_version(size_t head_bytes) {
    char* data = static_cast<char*>(in_buf_.data().data());
    std::string_view head(data, head_bytes);
    size_t line_end = head.find("\r\n");
    if (line_end < 9 || head.substr(line_end - 9, 7) != " HTTP/1") return;
    if (head[line_end - 2] != '.') return;
    char& minor = data[line_end - 1];
    if (minor >= '2' && minor <= '9') minor = '1';
  }
  std::string_view buffered() const {
    auto data = in_buf_.data();
    return {static_cast<const char*>(data.data()), data.size()};
  }

  asio::awaitable<Head> read_head(bool first);
  asio::awaitable<bool> handle_request(size_t head_bytes);
  bool parse_request_head(size_t head_bytes);
  bool resolve_target();
  asio::awaitable<bool> proxy(const gateway::CompiledRoute& route, RequestParser& parser);
  asio::awaitable<bool> read_response_head(bool& retryable, ErrorReply& error);
  asio::awaitable<bool> open_upstream(proxy::UpstreamPool& pool, size_t target);
  asio::awaitable<bool> send_request(RequestParser& parser, bool has_body, ErrorReply& error,
                                     bool& retryable);
  asio::awaitable<bool> relay_response(ResponseParser& parser, bool& upstream_reusable);
  // Moves one message from `in` to `out`: `head` first (already written by bulwark), then
  // the body in pieces of up to kChunkBytes, chunk-framed when `chunked_out`. Nothing is
  // held whole. `head_written` tells whether any byte reached `out`.
  template <class Parser>
  asio::awaitable<Relay> relay(tcp::socket& in, beast::flat_buffer& in_buffer, Parser& parser,
                               tcp::socket& out, std::string_view head, bool chunked_out,
                               Phase read_phase, config::Duration read_timeout, Phase write_phase,
                               config::Duration write_timeout, uint64_t& body_bytes,
                               bool& head_written, error_code& ec, std::string* capture = nullptr);
  // The request head for the upstream, into `out`: this request's target and fields.
  void write_upstream_head(std::string_view method, proxy::BodyFraming framing,
                           std::optional<uint64_t> content_length, std::string& out);
  // --- the cache stage (gateway/cache_stage.hpp holds the decisions) ---
  // Looks the request up and answers it from the cache, or sends it upstream.
  asio::awaitable<bool> serve_with_cache(const gateway::CompiledRoute& route, RequestParser& parser,
                                         bool had_authorization);
  // A follower of another request's miss: waits for it, then looks again. True when the
  // cache can now answer (cache_ says how).
  asio::awaitable<bool> wait_for_leader(const gateway::CompiledCache& config);
  // The shared cache (L2) after a miss in memory: its copy, or another instance's fetch to
  // wait for. True when the request is now answered from the cache (cache_ says how).
  asio::awaitable<bool> look_up_shared(const gateway::CompiledCache& config);
  bool adopt_shared(std::shared_ptr<const cache::Entry> entry,
                    const gateway::CompiledCache& config);
  void share(std::shared_ptr<const cache::Entry> entry);
  void release_shared_lock();
  void unshare(const std::string& uri_key);
  // Answers from cache_.entry; `forwarded` (the upstream was asked: 304, or an error for
  // stale-if-error) names the Cache-Status, else it is a hit.
  asio::awaitable<bool> reply_from_cache(const gateway::ForwardStatus* forwarded);
  // bulwark's validators replace the client's conditional fields (the cache evaluates those
  // itself). False when the entry has no validator.
  bool add_validators();
  void drop_validators();
  // cache_authority_ for this request: the authority the upstream receives, lower case.
  // The host as the router read it (lower case, no trailing dot) and the port as sent.
  void set_cache_authority() {
    std::string_view authority = normalized_.target.authority;
    if (authority.empty()) authority = request_parser_->get()[bhttp::field::host];
    cache_authority_ = host_;
    size_t bracket = authority.rfind(']');
    size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
      cache_authority_ += authority.substr(colon);
    }
  }
  void start_refresh(const gateway::CompiledRoute& route);
  // Whether the stored response may answer now that the upstream failed (stale-if-error).
  bool stale_answers_error() const;
  // After the response head: decides whether it is stored; the body goes to the returned
  // buffer while relayed, or nullptr when not stored. Sets the Cache-Status line.
  std::string* begin_cache_store(const ResponseParser& parser);
  void finish_cache_store(bool complete);
  // RFC 9111 §4.4: a non-error response to an unsafe method invalidates the stored responses
  // of its target and of its same-host Location / Content-Location, on every route.
  void invalidate_after_unsafe(const ResponseParser& parser);
  uint64_t invalidate_target(std::string_view path, std::string_view query, bool has_query);
  void record_cache(observe::MetricsShard::CacheResult result) {
    static constexpr std::string_view kNames[] = {"hit",         "stale", "stale_on_error",
                                                  "revalidated", "miss",  "bypass"};
    worker_.metrics().cache_result(result);
    exchange_.cache = kNames[static_cast<size_t>(result)];
  }
  // limit_lines_ and cache_lines_ together, for a head bulwark writes.
  std::string_view gateway_lines() {
    if (cache_lines_.empty()) return limit_lines_;  // routes without a cache: no copy
    gateway_lines_ = limit_lines_;
    gateway_lines_ += cache_lines_;
    return gateway_lines_;
  }
  // Runs the route's authentication; false (with the refusal set) when it refuses.
  bool authenticate(const gateway::RouteAuthPolicy& policy);
  // Runs one group of the route's rate limits; false (with the refusal set) when one refuses.
  bool check_limits(const gateway::RouteLimits& limits, std::span<const uint32_t> group);
  // The same against the shared state (Redis), with the failure policy when it fails.
  asio::awaitable<bool> check_shared_limits(const gateway::RouteLimits& limits,
                                            std::span<const uint32_t> group);
  gateway::LimitRequest limit_request();
  bool revocations_unknown();
  gateway::LimitServices limit_services();
  bool limits_decided(const gateway::RouteLimits& limits, bool allowed);
  // Who the client is (trusted proxies applied), worked out once per request when needed.
  const gateway::ClientAddress& client() {
    if (!client_resolved_) {
      client_address_ = gateway::client_address({client_ip_bytes_, client_ip_, true},
                                                runtime_->config.server.trusted_proxies, fields_);
      client_resolved_ = true;
    }
    return client_address_;
  }
  // The request's fields as the upstream gets them: claim headers stripped (every route),
  // the verified claims added and the token dropped as the route says.
  void prepare_upstream_fields(const gateway::CompiledRoute& route);
  void end_exchange();
  asio::awaitable<bool> reply_error(const ErrorReply& error, bool keep_alive);
  // A refusal is recorded first and sent by send_refusal(), so that no temporary with a
  // destructor appears inside a co_await expression: GCC 12 destroys some of those twice.
  void set_refusal(unsigned status, std::string detail) {
    refusal_ = ErrorReply{status, std::move(detail), {}};
  }
  asio::awaitable<bool> send_refusal();
  // The final recipient of OPTIONS with Max-Forwards: 0 (RFC 9110 §7.6.2).
  asio::awaitable<bool> reply_options(const std::string& allow, bool keep_alive);
  // Allow for the request's host and path: the methods of the routes that match them, or
  // the common methods when a matching route takes any method.
  std::string allowed_methods(std::string_view host) const {
    auto methods = runtime_->router.allowed_methods(host, exchange_.path);
    return methods.empty() ? std::string("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS") : methods;
  }
  // The fields every response bulwark writes itself carries.
  void append_local_fields(std::string& out) const {
    out += "\r\nDate: ";
    out += worker_.http_date();
    out += "\r\nX-Request-Id: ";
    out += exchange_.request_id;
  }
  // Ends the head of a response bulwark writes itself (with the blank line).
  void append_connection_field(std::string& out, bool keep_alive) const {
    if (!keep_alive) {
      out += "\r\nConnection: close\r\n\r\n";
    } else if (exchange_.client_version == 10) {
      out += "\r\nConnection: keep-alive\r\n\r\n";
    } else {
      out += "\r\n\r\n";
    }
  }
  void finish_exchange();

  Worker& worker_;
  tcp::socket client_;
  std::string client_ip_;
  std::array<uint8_t, 16> client_ip_bytes_{};
  beast::flat_buffer in_buf_;
  std::shared_ptr<const gateway::Runtime> runtime_;
  std::shared_ptr<proxy::UpstreamPool> pool_;
  std::unique_ptr<proxy::UpstreamConnection> upstream_;
  std::array<std::byte, 8192> arena_buffer_;
  std::pmr::monotonic_buffer_resource arena_{arena_buffer_.data(), arena_buffer_.size()};
  std::optional<RequestParser> request_parser_;
  std::optional<ResponseParser> response_parser_;
  http::NormalizeResult normalized_;
  std::string host_;  // the request's host to route on: lower-case, without port
  std::array<char, kChunkBytes> chunk_{};
  std::vector<http::HeaderField> fields_;           // the request's, as views
  std::vector<http::HeaderField> gateway_fields_;   // set by bulwark (claims), as views
  std::vector<http::HeaderField> response_fields_;  // the upstream response's, as views
  std::string upstream_head_;
  std::string response_head_;
  Exchange exchange_;
  ErrorReply refusal_;
  gateway::AuthDecision auth_decision_;
  gateway::LimitOutcome limit_outcome_;
  gateway::LimitPlan limit_plan_;       // for the shared store, which answers after a co_await
  std::shared_ptr<WorkerState> state_;  // the worker's, held for the request being served
  // Set while this request holds the shared cache's lock for its key (it leads the instances).
  std::string shared_lock_token_;
  std::string limit_lines_;  // rate-limit fields for this response ("Name: value\r\n" lines)
  std::string cache_lines_;  // Age / Cache-Status for this response
  std::string gateway_lines_;
  // The cache stage's state for this request; cache_config_ is null on routes that do not
  // cache (and for requests that never reached the stage).
  const gateway::CompiledCache* cache_config_ = nullptr;
  gateway::CacheLookup cache_;
  std::vector<http::HeaderField> cache_fields_;  // what the upstream sees, for Vary
  std::chrono::sys_seconds cache_request_time_{};
  cache::Coalescer::Flight cache_flight_;  // leading a miss: followers wait for its end
  std::optional<FlightWaiter> flight_waiter_;
  std::shared_ptr<cache::Entry> cache_pending_;  // to store once its body is relayed
  std::string cache_body_;
  bool cache_capture_overflow_ = false;
  std::string validator_lines_;  // backing for the validator fields in gateway_fields_
  size_t validator_count_ = 0;   // how many of gateway_fields_ (at its end) they are
  bool validating_ = false;
  bool cache_collapsed_ = false;
  bool cache_retry_ = false;       // a 304 that fits no stored response: ask again unconditionally
  std::string cache_authority_;    // the key's authority (see CacheRequest::authority)
  std::string passthrough_lines_;  // a 304's Set-Cookie lines, for this response only
  gateway::ClientAddress client_address_;
  bool client_resolved_ = false;
  size_t head_bytes_ = 0;  // set by read_head when it returns Head::ready
  Phase phase_ = Phase::idle;
  std::optional<Phase> expired_;
  bool draining_ = false;
};

asio::awaitable<void> ClientConnection::run() {
  bool first = true;
  for (;;) {
    runtime_ = worker_.runtime();
    if (!runtime_) break;
    Head head = co_await read_head(first);
    first = false;
    if (head == Head::closed) break;
    if (head == Head::refused) {
      end_exchange();
      exchange_.start = Clock::now();
      observe::generate_request_id(exchange_.request_id);
      co_await reply_error(refusal_, false);
      break;
    }
    bool keep_alive = co_await handle_request(head_bytes_);
    if (!keep_alive || draining_ || !client_.is_open()) break;
  }
  clear();
  end_exchange();
  error_code ignored;
  client_.shutdown(tcp::socket::shutdown_send, ignored);
  client_.close(ignored);
}

// Reads up to the end of a request head into in_buf_ without parsing it, so that the raw
// bytes can be checked (obs-fold, bare LF) and the size and time limits applied first.
asio::awaitable<ClientConnection::Head> ClientConnection::read_head(bool first) {
  const auto& lim = limits();
  if (first) {
    arm(Phase::head, lim.header_timeout);
  } else {
    arm(Phase::idle, lim.idle_timeout);
  }
  size_t scanned = 0;
  for (;;) {
    // RFC 9112 §2.2: ignore empty lines received before the request-line.
    std::string_view data = buffered();
    size_t skip = 0;
    while (data.size() >= skip + 2 && data[skip] == '\r' && data[skip + 1] == '\n') skip += 2;
    if (skip > 0) {
      in_buf_.consume(skip);
      data = buffered();
      scanned = 0;
    }
    while (scanned < data.size()) {
      const void* lf = std::memchr(data.data() + scanned, '\n', data.size() - scanned);
      if (lf == nullptr) {
        scanned = data.size();
        break;
      }
      size_t pos = static_cast<const char*>(lf) - data.data();
      if (pos == 0 || data[pos - 1] != '\r') {
        set_refusal(400, "bare LF in request head");
        co_return Head::refused;
      }
      if (pos >= 3 && data.substr(pos - 3, 4) == "\r\n\r\n") {
        if (pos + 1 > lim.max_header_bytes) break;
        head_bytes_ = pos + 1;
        co_return Head::ready;
      }
      scanned = pos + 1;
    }
    if (data.size() >= lim.max_header_bytes) {
      set_refusal(431, "request head exceeds server.limits.max_header_bytes");
      co_return Head::refused;
    }
    if (phase_ == Phase::idle && !data.empty()) arm(Phase::head, lim.header_timeout);
    error_code ec;
    size_t room = std::min(kReadBytes, in_buf_.max_size() - in_buf_.size());
    size_t n = co_await client_.async_read_some(in_buf_.prepare(room), redirect(ec));
    in_buf_.commit(n);
    // The sweep may have fired just as this read completed: the deadline still holds.
    if (expired(Phase::head)) {
      set_refusal(408, "request head not received in time");
      co_return Head::refused;
    }
    if (ec) co_return Head::closed;  // idle timeout, drain, or the client went away
    if (phase_ == Phase::idle) arm(Phase::head, lim.header_timeout);
  }
}

asio::awaitable<bool> ClientConnection::handle_request(size_t head_bytes) {
  end_exchange();
  exchange_.start = Clock::now();
  // A request is served by the config current when its head arrived (a reload may have
  // happened while this connection sat idle).
  runtime_ = worker_.runtime();
  if (!parse_request_head(head_bytes) || !resolve_target()) co_return co_await send_refusal();

  auto& parser = *request_parser_;
  auto& request = parser.get();
  const auto& runtime = *runtime_;
  auto route_index = runtime.router.match(host_, exchange_.path, exchange_.method);
  bool has_body = parser.chunked() || (parser.content_length() && *parser.content_length() > 0);
  // An unread body would be taken for the next request: close instead.
  bool client_keep_alive = exchange_.client_keep_alive && !has_body;
  if (!route_index) {
    bool other_method = runtime.router.path_matches_other_method(host_, exchange_.path);
    ErrorReply error{other_method ? 405u : 404u,
                     (other_method ? "method not allowed: " : "no route for ") + exchange_.method +
                         " " + exchange_.path};
    if (other_method) error.allow = runtime.router.allowed_methods(host_, exchange_.path);
    co_await reply_error(error, client_keep_alive && !draining_);
    co_return client_keep_alive;
  }
  const auto& route = runtime.routes[*route_index];
  exchange_.route = route.name;
  exchange_.route_slot = route.metrics_slot;
  auth_decision_.clear();
  limit_outcome_.clear();
  limit_lines_.clear();
  client_resolved_ = false;
  // RFC 9211: until the cache stage says otherwise, the cache took no part (a refusal, TRACE,
  // an OPTIONS answered here, a body over the limit).
  if (route.cache) cache_lines_ = "Cache-Status: bulwark; detail=not-cached\r\n";

  if (request.method() == bhttp::verb::trace) {
    // TRACE echoes the request, credentials included, back to the page that sent it
    // (cross-site tracing); like nginx, bulwark does not pass it on.
    std::string allow = allowed_methods(host_);
    ErrorReply error{405, "TRACE is not forwarded", allow};
    co_await reply_error(error, client_keep_alive && !draining_);
    co_return client_keep_alive;
  }
  if (request.method() == bhttp::verb::options) {
    auto hops = proxy::parse_max_forwards(request[bhttp::field::max_forwards]);
    if (hops && *hops == 0) {
      std::string allow = allowed_methods(host_);
      co_return co_await reply_options(allow, client_keep_alive);
    }
  }
  // DESIGN.md order: client limits, authenticate + authorize, identity limits.
  state_ = worker_.state();
  bool admitted = true;
  if (route.limits && state_) {
    admitted = co_await check_shared_limits(*route.limits, route.limits->before_auth);
  } else if (route.limits) {
    admitted = check_limits(*route.limits, route.limits->before_auth);
  }
  if (admitted && route.auth) admitted = authenticate(*route.auth);
  if (admitted && route.limits && state_) {
    admitted = co_await check_shared_limits(*route.limits, route.limits->after_auth);
  } else if (admitted && route.limits) {
    admitted = check_limits(*route.limits, route.limits->after_auth);
  }
  if (!admitted) {
    if (route.cache) cache_lines_ = "Cache-Status: bulwark; detail=refused\r\n";
    co_await reply_error(refusal_, client_keep_alive && !draining_);
    co_return client_keep_alive;
  }
  if (auto length = parser.content_length(); length && *length > limits().max_body_bytes) {
    set_refusal(413, "request body exceeds server.limits.max_body_bytes");
    co_return co_await send_refusal();
  }
  const bool caching = route.cache && runtime.cache_store;
  // RFC 9111 §3.5 protects credentials in any form: Authorization, or the token a route reads
  // from a cookie or another header.
  const bool had_authorization =
      caching && (auth_decision_.token_verified ||
                  std::any_of(fields_.begin(), fields_.end(), [](const http::HeaderField& field) {
                    return http::iequals(field.name, "authorization");
                  }));
  prepare_upstream_fields(route);
  if (caching) co_return co_await serve_with_cache(route, parser, had_authorization);
  co_return co_await proxy(route, parser);
}

asio::awaitable<bool> ClientConnection::serve_with_cache(const gateway::CompiledRoute& route,
                                                         RequestParser& parser,
                                                         bool had_authorization) {
  const auto& config = *route.cache;
  cache_config_ = &config;
  cache_request_time_ = now_seconds();
  cache_fields_.assign(fields_.begin(), fields_.end());
  cache_fields_.insert(cache_fields_.end(), gateway_fields_.begin(), gateway_fields_.end());
  auto& target = normalized_.target;
  set_cache_authority();
  const gateway::CacheRequest request{
      .method = exchange_.method,
      .authority = cache_authority_,
      .path = target.path,
      .query = target.query,
      .has_query = target.has_query,
      .has_body = parser.chunked() || (parser.content_length() && *parser.content_length() > 0),
      .has_authorization = had_authorization,
      .fields = cache_fields_,
      .identity = auth_decision_.identity.get()};
  gateway::look_up(config, *runtime_->cache_store, request, cache_request_time_, cache_);
  if (cache_.action != gateway::CacheAction::bypass &&
      (config.key.sort_query || !config.key.ignore_query.empty())) {
    // The upstream gets the query in the key's form (sorted, ignored parameters left out):
    // the stored response is then exactly the answer to what the key says.
    size_t question = cache_.uri_key.find('?');
    target.has_query = question != std::string::npos;
    target.query.assign(target.has_query ? std::string_view(cache_.uri_key).substr(question + 1)
                                         : std::string_view());
  }
  auto& metrics = worker_.metrics();
  switch (cache_.action) {
    case gateway::CacheAction::hit:
      record_cache(observe::MetricsShard::CacheResult::hit);
      co_return co_await reply_from_cache(nullptr);
    case gateway::CacheAction::hit_and_refresh:
      record_cache(observe::MetricsShard::CacheResult::stale);
      start_refresh(route);
      co_return co_await reply_from_cache(nullptr);
    case gateway::CacheAction::unavailable:
      record_cache(observe::MetricsShard::CacheResult::miss);
      cache_lines_ = "Cache-Status: bulwark; fwd=miss; detail=only-if-cached\r\n";
      set_refusal(504, "only-if-cached: no stored response can answer this request");
      co_return co_await reply_error(refusal_, exchange_.client_keep_alive);
    case gateway::CacheAction::bypass:
      break;
    case gateway::CacheAction::miss:
    case gateway::CacheAction::validate:
      bool coalesced = false;
      if (config.coalesce_timeout.count() > 0 && !cache_.head && gateway::coalescible(cache_)) {
        coalesced = co_await wait_for_leader(config);
      }
      if (!coalesced && state_) coalesced = co_await look_up_shared(config);
      if (coalesced) {
        // Memory holds the answer now: this instance's waiters for the key look again.
        cache_flight_.finish();
        if (cache_collapsed_) metrics.cache_coalesced();
        record_cache(cache_.action == gateway::CacheAction::hit
                         ? observe::MetricsShard::CacheResult::hit
                         : observe::MetricsShard::CacheResult::stale);
        if (cache_.action == gateway::CacheAction::hit_and_refresh) start_refresh(route);
        co_return co_await reply_from_cache(nullptr);
      }
      if (cache_.action == gateway::CacheAction::validate) validating_ = add_validators();
      break;
  }
  bool keep_alive = co_await proxy(route, parser);
  if (cache_retry_) {
    cache_retry_ = false;
    drop_validators();
    keep_alive = co_await proxy(route, parser);
  }
  cache_flight_.finish();  // also when the upstream failed: followers need not wait it out
  release_shared_lock();
  co_return keep_alive;
}

asio::awaitable<bool> ClientConnection::look_up_shared(const gateway::CompiledCache& config) {
  using Layer = observe::MetricsShard::StateLayer;
  using Shared = observe::MetricsShard::SharedCacheResult;
  auto state = state_;  // held across the awaits
  auto& metrics = worker_.metrics();
  auto found =
      co_await state->cache().lookup(cache_.uri_key, cache_.identity, cache_.request_lines);
  // Garbage in an answer is a miss (logged at debug); no answer at all is an outage.
  const bool answered = !found.unreachable;
  metrics.state_call(Layer::cache, answered);
  if (answered && !found.error.empty()) spdlog::debug("shared cache: {}", found.error);
  if (!answered) {
    // The cache never fails a request: without Redis this instance's memory serves alone.
    state->health().failed("cache", found.error);
    metrics.state_fallback(Layer::cache, false);
    co_return false;
  }
  state->health().succeeded();
  if (found.entry && adopt_shared(std::move(found.entry), config)) {
    metrics.cache_shared(Shared::hit);
    co_return true;
  }
  metrics.cache_shared(Shared::miss);
  // One instance fetches a missing key for all: the others wait for its shared copy.
  if (cache_.action != gateway::CacheAction::miss || cache_.head ||
      config.coalesce_timeout.count() == 0) {
    co_return false;
  }
  thread_local std::mt19937_64 random{std::random_device{}()};
  std::string token = std::to_string(random());
  const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(config.coalesce_timeout);
  const std::optional<bool> leads =
      co_await state->cache().try_lock(cache_.uri_key, cache_.identity, token, wait);
  if (!leads) co_return false;
  if (*leads) {
    shared_lock_token_ = std::move(token);
    // The leader before us may have shared its copy and let go of the lock since our look:
    // look again before going upstream.
    auto again =
        co_await state->cache().lookup(cache_.uri_key, cache_.identity, cache_.request_lines);
    if (!again.entry || !adopt_shared(std::move(again.entry), config)) co_return false;
    release_shared_lock();
    metrics.cache_shared(Shared::waited);
    cache_collapsed_ = true;
    co_return true;
  }
  arm(Phase::upstream_wait, config.coalesce_timeout + std::chrono::seconds(1));
  auto waited = co_await state->cache().wait_for_leader(cache_.uri_key, cache_.identity,
                                                        cache_.request_lines, wait);
  if (!waited.entry || !adopt_shared(std::move(waited.entry), config)) co_return false;
  metrics.cache_shared(Shared::waited);
  cache_collapsed_ = true;
  co_return true;
}

// Takes a shared copy into this instance's memory when it is newer than what memory held,
// and decides with it. True when it answers the request as it stands.
bool ClientConnection::adopt_shared(std::shared_ptr<const cache::Entry> entry,
                                    const gateway::CompiledCache& config) {
  if (cache_.entry && entry->response_time <= cache_.entry->response_time) return false;
  runtime_->cache_store->insert(entry);
  gateway::decide(config, std::move(entry), now_seconds(), cache_);
  return cache_.action == gateway::CacheAction::hit ||
         cache_.action == gateway::CacheAction::hit_and_refresh;
}

namespace {

asio::awaitable<void> share_entry(std::shared_ptr<WorkerState> state,
                                  std::shared_ptr<const cache::Entry> entry, std::string lock_token,
                                  observe::MetricsShard* metrics) {
  using Layer = observe::MetricsShard::StateLayer;
  const auto now =
      std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  const std::string error = co_await state->cache().insert(entry, now);
  metrics->state_call(Layer::cache, error.empty());
  if (error.empty()) {
    metrics->cache_shared(observe::MetricsShard::SharedCacheResult::stored);
  } else {
    state->health().failed("cache", error);
  }
  if (!lock_token.empty()) {
    co_await state->cache().unlock(entry->uri_key, entry->identity, lock_token);
  }
}

asio::awaitable<void> unlock_shared(std::shared_ptr<WorkerState> state, std::string uri_key,
                                    std::string identity, std::string lock_token) {
  co_await state->cache().unlock(uri_key, identity, lock_token);
}

asio::awaitable<void> invalidate_shared(std::shared_ptr<WorkerState> state, std::string uri_key,
                                        observe::MetricsShard* metrics) {
  const std::string error = co_await state->cache().invalidate(uri_key);
  metrics->state_call(observe::MetricsShard::StateLayer::cache, error.empty());
  if (!error.empty()) {
    state->health().failed("cache", error);
    co_return;
  }
  // The other instances drop their memory's copies too (they read the stream).
  const cache::CacheEvent event{.kind = cache::CacheEvent::Kind::invalidate,
                                .source = state->instance_id(),
                                .uri_key = uri_key};
  const auto command = cache::cache_event_command(cache_events_key(state->settings()), event);
  const RedisResult sent = co_await state->client().command(command);
  if (!sent.ok()) state->health().failed("cache", sent.error);
  if (sent.ok() && sent.reply.is_error()) spdlog::warn("shared cache event: {}", sent.reply.text);
}

}  // namespace

// Writes what memory just took to the shared cache too, in the background (the response is
// not held for it), and hands over the lock this request held for the key.
void ClientConnection::share(std::shared_ptr<const cache::Entry> entry) {
  if (!state_) return;
  asio::co_spawn(
      client_.get_executor(),
      share_entry(state_, std::move(entry), std::move(shared_lock_token_), &worker_.metrics()),
      asio::detached);
  shared_lock_token_.clear();
}

void ClientConnection::release_shared_lock() {
  if (shared_lock_token_.empty() || !state_) return;
  asio::co_spawn(
      client_.get_executor(),
      unlock_shared(state_, cache_.uri_key, cache_.identity, std::move(shared_lock_token_)),
      asio::detached);
  shared_lock_token_.clear();
}

void ClientConnection::unshare(const std::string& uri_key) {
  if (!state_) return;
  asio::co_spawn(client_.get_executor(), invalidate_shared(state_, uri_key, &worker_.metrics()),
                 asio::detached);
}

asio::awaitable<bool> ClientConnection::wait_for_leader(const gateway::CompiledCache& config) {
  if (!flight_waiter_) flight_waiter_.emplace(worker_, client_.get_executor());
  cache_flight_ = flight_waiter_->join(*runtime_->coalescer, cache_.flight_key());
  if (cache_flight_.leads()) {
    // A leader that finished between this request's lookup and its join stored what this
    // one needs: look again before going upstream.
    auto entry =
        runtime_->cache_store->lookup(cache_.uri_key, cache_.identity, cache_.request_lines);
    if (!entry || entry == cache_.entry) co_return false;
    gateway::decide(config, std::move(entry), now_seconds(), cache_);
    if (cache_.action != gateway::CacheAction::hit) co_return false;
    cache_flight_.finish();
    co_return true;
  }
  // The timer below bounds the wait; the deadline only backs it up.
  arm(Phase::upstream_wait, config.coalesce_timeout + std::chrono::seconds(1));
  auto& timer = flight_waiter_->timer();
  timer.expires_after(config.coalesce_timeout);
  error_code ec;
  co_await timer.async_wait(redirect(ec));
  flight_waiter_->leave();
  auto entry = runtime_->cache_store->lookup(cache_.uri_key, cache_.identity, cache_.request_lines);
  if (!entry) co_return false;
  gateway::decide(config, std::move(entry), now_seconds(), cache_);
  cache_collapsed_ = cache_.action == gateway::CacheAction::hit ||
                     cache_.action == gateway::CacheAction::hit_and_refresh;
  co_return cache_collapsed_;
}

bool ClientConnection::add_validators() {
  validator_lines_ = cache::validation_fields(*cache_.entry);
  if (validator_lines_.empty()) return false;
  std::erase_if(fields_, [](const http::HeaderField& field) {
    return http::iequals(field.name, "if-none-match") ||
           http::iequals(field.name, "if-modified-since");
  });
  std::string_view lines = validator_lines_;
  while (!lines.empty()) {
    size_t end = lines.find("\r\n");
    std::string_view line = lines.substr(0, end);
    size_t colon = line.find(':');
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    gateway_fields_.push_back({line.substr(0, colon), value});
    ++validator_count_;
    lines.remove_prefix(end == std::string_view::npos ? lines.size() : end + 2);
  }
  return true;
}

void ClientConnection::drop_validators() {
  gateway_fields_.resize(gateway_fields_.size() - validator_count_);
  validator_count_ = 0;
  validating_ = false;
}

void ClientConnection::start_refresh(const gateway::CompiledRoute& route) {
  auto flight = runtime_->coalescer->try_lead(cache_.flight_key());
  if (!flight.leads()) return;  // another request is refreshing it
  auto job = std::make_unique<CacheRefresh>();
  job->runtime = runtime_;
  job->config = &*route.cache;
  job->pool = worker_.pool(route.upstream);
  job->lookup = cache_;
  job->lookup.head = false;  // the refresh is a GET, whatever the client asked
  for (const auto& [name, value] : cache_.request_lines) job->lines.emplace_back(name, value);
  // The refresh asks as this request would have, with bulwark's validators.
  add_validators();
  write_upstream_head("GET", proxy::BodyFraming::none, std::nullopt, job->request_head);
  job->flight = std::move(flight);
  job->metrics = &worker_.metrics();
  asio::co_spawn(client_.get_executor(), refresh_cache_entry(std::move(job)), asio::detached);
}

asio::awaitable<bool> ClientConnection::reply_from_cache(const gateway::ForwardStatus* forwarded) {
  auto entry = cache_.entry;  // held across the write
  auto now = now_seconds();
  const bool not_modified = cache_.not_modified;
  const unsigned status = not_modified ? 304 : entry->status;
  response_fields_.clear();
  if (not_modified) {
    for (auto [name, value] : cache::not_modified_response_fields(*entry)) {
      response_fields_.push_back({name, value});
    }
  } else {
    for (const auto& [name, value] : entry->fields) response_fields_.push_back({name, value});
  }
  std::optional<uint64_t> length;
  if (status != 204 && status != 304) length = entry->body->size();
  const bool send_body = length && !exchange_.head_request;
  cache_lines_.clear();
  if (forwarded == nullptr) {
    gateway::append_hit_fields(*entry, now, cache_collapsed_, cache_lines_);
  } else {
    auto age = entry->age_at(now);
    cache_lines_ = "Age: " + std::to_string(age.count()) + "\r\n";
    auto status_line = *forwarded;
    status_line.ttl = (entry->lifetime.lifetime - age).count();
    gateway::append_forward_fields(status_line, cache_lines_);
  }
  cache_lines_ += passthrough_lines_;
  const bool keep_alive = exchange_.client_keep_alive && !draining_ && !worker_.draining();
  proxy::write_client_response_head(
      proxy::ClientResponseHead{
          .status = status,
          .reason =
              not_modified ? std::string_view("Not Modified") : std::string_view(entry->reason),
          .fields = response_fields_,
          .request_id = exchange_.request_id,
          .framing = send_body ? proxy::BodyFraming::content_length : proxy::BodyFraming::none,
          .content_length = length,
          .keep_alive = keep_alive,
          .client_http10 = exchange_.client_version == 10,
          .date = worker_.http_date(),
          .gateway_lines = gateway_lines()},
      response_head_);
  exchange_.status = status;
  std::array<asio::const_buffer, 2> buffers{
      asio::buffer(response_head_), send_body ? asio::buffer(*entry->body) : asio::const_buffer()};
  arm(Phase::respond, limits().idle_timeout);
  error_code ec;
  co_await write_all(client_, buffers, ec);
  exchange_.bytes_sent = send_body ? entry->body->size() : 0;
  finish_exchange();
  co_return keep_alive && !ec;
}

bool ClientConnection::stale_answers_error() const {
  if (cache_config_ == nullptr || !cache_.entry || cache_.directives.no_cache) return false;
  const auto& entry = *cache_.entry;
  return cache::may_serve_on_error(entry.directives, entry.age_at(now_seconds()),
                                   entry.lifetime.lifetime);
}

std::string* ClientConnection::begin_cache_store(const ResponseParser& parser) {
  const auto& response = parser.get();
  const unsigned status = response.result_int();
  auto& store = *runtime_->cache_store;
  const bool wanted = cache_.action == gateway::CacheAction::miss ||
                      cache_.action == gateway::CacheAction::validate;
  bool stored = false;
  if (wanted && !cache_.head) {
    cache::StoreRefusal refusal;
    auto entry =
        gateway::storable_entry(*cache_config_, cache_, status, response.reason(), response_fields_,
                                cache_request_time_, now_seconds(), refusal);
    auto length = parser.content_length();
    // The store counts the whole entry against max_object (body, fields, keys); a chunked
    // body's size is known only at its end, so only a sized one is announced as stored.
    const uint64_t max = runtime_->cache_max_object_bytes;
    if (entry && (!length || entry->charge() + *length <= max)) {
      cache_pending_ = std::move(entry);
      stored = length.has_value();
    } else if (cache_.entry && status != 304 && !cache::is_error_status(status) &&
               !gateway::refused_for_request(refusal)) {
      // What the upstream sent now replaces the stored response, which is outdated.
      store.remove(*cache_.entry);
      unshare(cache_.entry->uri_key);
    }
  }
  record_cache(cache_.action == gateway::CacheAction::bypass
                   ? observe::MetricsShard::CacheResult::bypass
                   : observe::MetricsShard::CacheResult::miss);
  cache_lines_.clear();
  gateway::append_forward_fields({.fwd = cache_.fwd, .fwd_status = status, .stored = stored},
                                 cache_lines_);
  if (cache_.head && cache_.entry && status == 200 && !same_validators(*cache_.entry, response)) {
    // RFC 9111 §4.3.5: a HEAD response with other validators means the entry is outdated.
    store.remove(*cache_.entry);
    unshare(cache_.entry->uri_key);
  }
  if (!cache_pending_) {
    cache_flight_.finish();  // nothing will be stored: followers need not wait for the body
    return nullptr;
  }
  cache_body_.clear();
  if (auto length = parser.content_length()) cache_body_.reserve(*length);
  return &cache_body_;
}

void ClientConnection::finish_cache_store(bool complete) {
  auto entry = std::move(cache_pending_);
  if (entry && complete && !cache_capture_overflow_) {
    entry->body = std::make_shared<const std::string>(std::move(cache_body_));
    std::shared_ptr<const cache::Entry> stored = std::move(entry);
    if (runtime_->cache_store->insert(stored)) {
      worker_.metrics().cache_stored();
      share(std::move(stored));
    }
  }
  // An idle keep-alive connection keeps no copy buffer of up to max_object.
  if (cache_body_.capacity() > kChunkBytes) std::string().swap(cache_body_);
  cache_flight_.finish();  // followers look again now
}

void ClientConnection::invalidate_after_unsafe(const ResponseParser& parser) {
  const unsigned status = parser.get().result_int();
  if (!runtime_->cache_store || status < 200 || status >= 400 ||
      !gateway::is_unsafe_method(exchange_.method)) {
    return;
  }
  const auto& target = normalized_.target;
  uint64_t removed = invalidate_target(target.path, target.query, target.has_query);
  std::vector<http::HeaderField> locations;
  for (const auto& field : parser.get()) {
    if (field.name() == bhttp::field::location || field.name() == bhttp::field::content_location) {
      locations.push_back({field.name_string(), field.value()});
    }
  }
  set_cache_authority();
  for (const auto& other : gateway::invalidated_targets(cache_authority_, target.path, locations)) {
    removed += invalidate_target(other.path, other.query, other.has_query);
  }
  if (removed > 0) worker_.metrics().cache_invalidated(removed);
}

uint64_t ClientConnection::invalidate_target(std::string_view path, std::string_view query,
                                             bool has_query) {
  // The key is built as the GET route for this URL builds it (its query options).
  auto route = runtime_->router.match(host_, path, "GET");
  if (!route || !runtime_->routes[*route].cache) return 0;
  const auto& options = runtime_->routes[*route].cache->key;
  std::string key;
  set_cache_authority();
  cache::build_uri_key(cache_authority_, path, query, has_query, options, key);
  uint64_t removed = runtime_->cache_store->invalidate(key);
  unshare(key);
  if (cache_authority_ != host_) {
    // `Host: example.test:80` changes what `example.test` serves too (not other ports: a
    // scan of every entry per unsafe request would cost too much).
    cache::build_uri_key(host_, path, query, has_query, options, key);
    removed += runtime_->cache_store->invalidate(key);
    unshare(key);
  }
  return removed;
}

// Checks and parses the head buffered in in_buf_ and records what the exchange needs from
// it. False (with the refusal set) when the request cannot be served.
bool ClientConnection::parse_request_head(size_t head_bytes) {
  std::string_view head = buffered().substr(0, head_bytes);
  if (auto verdict = http::check_raw_head(head); !verdict.ok()) {
    set_refusal(verdict.status, std::string(verdict.reason));
    return false;
  }
  downgrade_minor_version(head_bytes);
  auto& parser = request_parser_.emplace(std::piecewise_construct, std::make_tuple(),
                                         std::make_tuple(FieldsAllocator(&arena_)));
  parser.eager(false);
  parser.header_limit(static_cast<std::uint32_t>(limits().max_header_bytes + 1));
  parser.body_limit(limits().max_body_bytes);
  error_code ec;
  size_t used = parser.put(asio::buffer(head.data(), head.size()), ec);
  if (ec == bhttp::error::body_limit) {
    set_refusal(413, "request body exceeds server.limits.max_body_bytes");
    return false;
  }
  if (ec == bhttp::error::bad_version) {
    set_refusal(505, "only HTTP/1.x is served here");
    return false;
  }
  if (ec || !parser.is_header_done()) {
    set_refusal(400, "malformed request head: " + ec.message());
    return false;
  }
  in_buf_.consume(used);

  auto& request = parser.get();
  exchange_.method.assign(request.method_string());
  exchange_.path.assign(request.target());  // until normalized
  exchange_.client_version = request.version() == 10 ? 10 : 11;
  exchange_.client_keep_alive = request.keep_alive();
  // RFC 9110 §10.1.1: the expectation is ignored from HTTP/1.0 clients, which must never
  // see a 1xx response.
  exchange_.expects_continue = exchange_.client_version == 11 &&
                               http::iequals(request[bhttp::field::expect], "100-continue");
  exchange_.head_request = request.method() == bhttp::verb::head;

  fields_.clear();
  for (const auto& field : request) fields_.push_back({field.name_string(), field.value()});
  if (auto verdict = http::check_request_head(request.version(), fields_); !verdict.ok()) {
    set_refusal(verdict.status, std::string(verdict.reason));
    return false;
  }
  auto request_id = request["X-Request-Id"];
  if (observe::is_acceptable_request_id(request_id)) {
    exchange_.request_id.assign(request_id);
  } else {
    observe::generate_request_id(exchange_.request_id);
  }
  return true;
}

// Normalizes the target and works out the host to route on (absolute-form authority, else
// Host). False (with the refusal set) when either cannot be used.
bool ClientConnection::resolve_target() {
  const auto& request = request_parser_->get();
  http::normalize_target(request.target(), normalized_);
  if (!normalized_.ok) {
    set_refusal(400, std::string(normalized_.error));
    return false;
  }
  exchange_.path.assign(normalized_.target.path);
  std::string_view host_value = normalized_.target.authority.empty()
                                    ? std::string_view(request[bhttp::field::host])
                                    : std::string_view(normalized_.target.authority);
  host_.clear();
  if (host_value.empty()) return true;
  auto parsed = http::host_without_port(host_value);
  if (!parsed) {
    set_refusal(400, "invalid Host");
    return false;
  }
  host_ = std::move(*parsed);
  return true;
}

bool ClientConnection::authenticate(const gateway::RouteAuthPolicy& policy) {
  const auto& client = this->client();
  // An unknown client is not throttled: the guard would throttle its proxy, and with it
  // every client behind it.
  const gateway::AuthServices services{runtime_->auth.authenticator.get(),
                                       client.known ? runtime_->auth.guard.get() : nullptr,
                                       runtime_->revocations.get()};
  const gateway::AuthRequest auth_request{.fields = fields_,
                                          .client = client.bytes,
                                          .client_ip = client.text,
                                          .route = exchange_.route,
                                          .request_id = exchange_.request_id};
  auto& decision = auth_decision_;
  gateway::run_auth_stage(policy, services, auth_request, std::chrono::system_clock::now(),
                          decision);
  auto& metrics = worker_.metrics();
  if (decision.verified) metrics.auth_verified(decision.cache_hit);
  if (decision.failure_slot) metrics.auth_failure(*decision.failure_slot);
  if (decision.blocked) metrics.auth_blocked();
  exchange_.auth = decision.outcome;
  if (decision.pass && decision.token_verified && revocations_unknown()) {
    worker_.metrics().state_fallback(observe::MetricsShard::StateLayer::revocations, true);
    refusal_ = ErrorReply{503,
                          "shared state unavailable: token revocations cannot be checked "
                          "(state.on_failure: fail_closed)",
                          {},
                          "service_unavailable",
                          "\r\nRetry-After: 1"};
    return false;
  }
  if (decision.pass) return true;
  refusal_ = ErrorReply{decision.status, decision.detail, {}, decision.error, {}};
  if (!decision.challenge.empty()) {
    refusal_.more_fields += "\r\nWWW-Authenticate: ";
    refusal_.more_fields += decision.challenge;
  }
  if (decision.retry_after_s > 0) {
    refusal_.more_fields += "\r\nRetry-After: ";
    refusal_.more_fields += std::to_string(decision.retry_after_s);
  }
  return false;
}

// fail_closed: the revocations this instance holds are older than the bound it promises.
bool ClientConnection::revocations_unknown() {
  if (!state_ || !state_->fail_closed()) return false;
  const int64_t synced = worker_.shared().revocations_synced_ms.load(std::memory_order_relaxed);
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  return now - synced > kRevocationStalenessMs;
}

gateway::LimitRequest ClientConnection::limit_request() {
  const auto& identity = auth_decision_.identity;
  return gateway::LimitRequest{.fields = fields_,
                               .method = exchange_.method,
                               .route = exchange_.route,
                               .request_id = exchange_.request_id,
                               .client = client(),
                               .claims = identity ? &identity->claims : nullptr};
}

gateway::LimitServices ClientConnection::limit_services() {
  return gateway::LimitServices{
      .store = runtime_->limit_store.get(),
      .observe =
          [](void* context, const gateway::CompiledLimit& limit, gateway::LimitVerdict verdict) {
            static_cast<observe::MetricsShard*>(context)->limit_verdict(
                limit.id, static_cast<observe::MetricsShard::LimitVerdict>(verdict));
          },
      .observer_context = &worker_.metrics()};
}

bool ClientConnection::check_limits(const gateway::RouteLimits& limits,
                                    std::span<const uint32_t> group) {
  if (group.empty()) return true;
  bool allowed =
      gateway::run_limit_stage(group, runtime_->limits, limit_services(), limit_request(),
                               gateway::limit_clock_ns(), limit_outcome_);
  return limits_decided(limits, allowed);
}

asio::awaitable<bool> ClientConnection::check_shared_limits(const gateway::RouteLimits& limits,
                                                            std::span<const uint32_t> group) {
  if (group.empty()) co_return true;
  const auto request = limit_request();
  const auto services = limit_services();
  auto& plan = limit_plan_;
  gateway::plan_limit_stage(group, runtime_->limits, services, request, plan, limit_outcome_);
  if (plan.needs_store()) {
    using Layer = observe::MetricsShard::StateLayer;
    std::string error;
    const std::span<const limit::LimitCheck> enforced(plan.enforced);
    const std::span<const limit::LimitCheck> shadow(plan.shadow);
    const std::span<limit::LimitResult> results(plan.results);
    const std::optional<bool> verdict =
        co_await state_->limits().check(enforced, shadow, results, error);
    auto& metrics = worker_.metrics();
    metrics.state_call(Layer::limits, verdict.has_value());
    if (verdict) {
      state_->health().succeeded();
      plan.enforced_allowed = *verdict;
    } else {
      state_->health().failed("rate limits", error);
      metrics.state_fallback(Layer::limits, state_->fail_closed());
      if (state_->fail_closed()) {
        refusal_ = ErrorReply{503,
                              "shared state unavailable: this route's rate limits cannot be "
                              "checked (state.on_failure: fail_closed)",
                              {},
                              "service_unavailable",
                              "\r\nRetry-After: 1"};
        co_return false;
      }
      // fail_open: this instance's own counters decide, as they would without `state:`.
      gateway::decide_locally(*runtime_->limit_store, gateway::limit_clock_ns(), plan);
    }
  }
  const bool allowed = gateway::finish_limit_stage(plan, services, request, limit_outcome_);
  co_return limits_decided(limits, allowed);
}

bool ClientConnection::limits_decided(const gateway::RouteLimits& limits, bool allowed) {
  exchange_.limit = limit_outcome_.log_outcome;
  limit_lines_.clear();
  gateway::append_limit_fields(limit_outcome_, limits.headers, limit_lines_);
  if (allowed) return true;
  refusal_ = ErrorReply{429, limit_outcome_.detail, {}, "rate_limited", {}};
  if (limit_outcome_.retry_after_s > 0) {
    refusal_.more_fields += "\r\nRetry-After: ";
    refusal_.more_fields += std::to_string(limit_outcome_.retry_after_s);
  }
  return false;
}

void ClientConnection::prepare_upstream_fields(const gateway::CompiledRoute& route) {
  const auto& strip = runtime_->claim_headers;
  const auto& decision = auth_decision_;
  gateway_fields_.clear();
  if (strip.empty() && !route.auth) return;
  const config::TokenSource* token = route.auth ? &route.auth->token : nullptr;
  auto carries_token = [&](http::HeaderField& field) {
    if (!decision.drop_token_field || token == nullptr) return false;
    switch (token->kind) {
      case config::TokenSource::Kind::bearer:
        return http::iequals(field.name, "authorization");
      case config::TokenSource::Kind::header:
        return http::iequals(field.name, token->name);
      case config::TokenSource::Kind::cookie:
        if (!http::iequals(field.name, "cookie") || !auth::cookie_value(field.value, token->name)) {
          return false;
        }
        if (decision.cookie_without_token.empty()) return true;
        field.value = decision.cookie_without_token;
        return false;
    }
    return false;
  };
  // A bearer token bulwark did not verify never reaches the upstream of an auth route: on
  // an optional route without a token, or a route reading its token elsewhere, an upstream
  // might still decode it, trusting the gateway.
  const bool verified_bearer = token != nullptr &&
                               token->kind == config::TokenSource::Kind::bearer &&
                               decision.token_verified;
  auto unverified_bearer = [&](const http::HeaderField& field) {
    std::string_view ignored;
    return route.auth && !verified_bearer && http::iequals(field.name, "authorization") &&
           auth::parse_bearer(field.value, ignored) != auth::BearerParse::other_scheme;
  };
  std::erase_if(fields_, [&](http::HeaderField& field) {
    return gateway::is_forwarded_claim_header(strip, field.name) || carries_token(field) ||
           unverified_bearer(field);
  });
  gateway_fields_.clear();
  for (const auto& [name, value] : decision.forward) gateway_fields_.push_back({name, value});
}

void ClientConnection::write_upstream_head(std::string_view method, proxy::BodyFraming framing,
                                           std::optional<uint64_t> content_length,
                                           std::string& out) {
  const auto& target = normalized_.target;
  proxy::write_upstream_request_head(
      proxy::UpstreamRequestHead{.method = method,
                                 .path = target.path,
                                 .query = target.query,
                                 .has_query = target.has_query,
                                 .authority = target.authority,
                                 .fields = fields_,
                                 .gateway_fields = gateway_fields_,
                                 .peer_trusted = runtime_->is_trusted_proxy(client_ip_bytes_),
                                 .peer_ip = client_ip_,
                                 .request_id = exchange_.request_id,
                                 .framing = framing,
                                 .content_length = content_length},
      out);
}

asio::awaitable<bool> ClientConnection::open_upstream(proxy::UpstreamPool& pool, size_t target) {
  const auto& addresses = pool.target(target).addresses;
  arm(Phase::upstream_connect, pool.config().connect_timeout);
  for (const auto& address : addresses) {
    auto connection = std::make_unique<proxy::UpstreamConnection>(client_.get_executor(),
                                                                  kMaxUpstreamBufferBytes);
    connection->target = target;
    upstream_ = std::move(connection);
    error_code ec;
    co_await upstream_->socket.async_connect(address, redirect(ec));
    if (!ec) {
      error_code ignored;
      upstream_->socket.set_option(tcp::no_delay(true), ignored);
      upstream_->socket.non_blocking(true, ignored);
      worker_.metrics().upstream_connection_opened();
      co_return true;
    }
    upstream_.reset();
    if (expired(Phase::upstream_connect)) break;
  }
  co_return false;
}

asio::awaitable<bool> ClientConnection::proxy(const gateway::CompiledRoute& route,
                                              RequestParser& parser) {
  pool_ = worker_.pool(route.upstream);
  auto& pool = *pool_;
  const auto& upstream_config = pool.config();
  auto& request = parser.get();
  bool has_body = !parser.is_done();
  bool idempotent = is_idempotent(request.method());
  auto upstream_start = Clock::now();
  const auto framing = parser.chunked() ? proxy::BodyFraming::chunked
                       : has_body       ? proxy::BodyFraming::content_length
                                        : proxy::BodyFraming::none;
  write_upstream_head(request.method_string(), framing, to_std(parser.content_length()),
                      upstream_head_);

  // Connect failures move on to the next target (nothing was sent). A pooled connection
  // that the upstream closed just before our request arrived is retried once on a fresh
  // connection, only for an idempotent request without a body (RFC 9110 §9.2.2).
  ErrorReply error;
  bool answered = false;
  bool stale_retried = false;
  size_t targets_failed = 0;
  size_t target = pool.next_target();
  while (!answered) {
    upstream_ = stale_retried ? nullptr : pool.take_idle(target);
    if (upstream_) {
      worker_.metrics().upstream_connection_reused();
    } else if (!co_await open_upstream(pool, target)) {
      worker_.metrics().record_upstream_error(upstream_config.metrics_slot,
                                              observe::UpstreamError::connect);
      error = {502, "upstream '" + upstream_config.name + "' is unreachable"};
      if (++targets_failed >= pool.target_count()) break;
      target = (target + 1) % pool.target_count();
      continue;
    }
    exchange_.upstream_label = pool.target(target).label;
    bool reused = upstream_->reused;
    bool retryable = false;
    answered = co_await send_request(parser, has_body, error, retryable) &&
               co_await read_response_head(retryable, error);
    if (answered) break;
    upstream_.reset();
    if (!(reused && retryable && idempotent && !has_body) || stale_retried) break;
    stale_retried = true;
  }
  exchange_.upstream_us =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - upstream_start).count();
  if (!answered) {
    upstream_.reset();
    if (stale_answers_error()) {
      record_cache(observe::MetricsShard::CacheResult::stale_on_error);
      const gateway::ForwardStatus forwarded{.fwd = cache_.fwd, .detail = "stale-if-error"};
      co_return co_await reply_from_cache(&forwarded);
    }
    if (error.status == 0) error = {502, "upstream '" + upstream_config.name + "' failed"};
    if (cache_config_ != nullptr) {
      if (cache_.action != gateway::CacheAction::bypass) {
        record_cache(observe::MetricsShard::CacheResult::miss);
      }
      cache_lines_.clear();
      gateway::append_forward_fields({.fwd = cache_.fwd, .detail = "upstream-failed"},
                                     cache_lines_);
    }
    co_return co_await reply_error(error, false);
  }
  if (cache_config_ != nullptr) {
    const unsigned status = response_parser_->get().result_int();
    if (validating_ && status == 304) {
      std::vector<cache::FieldLine> lines;
      passthrough_lines_.clear();
      for (const auto& field : response_parser_->get()) {
        lines.emplace_back(field.name_string(), field.value());
        // Never stored (one user's cookie), but this client's request caused the 304.
        if (field.name() == bhttp::field::set_cookie) {
          passthrough_lines_ += "Set-Cookie: ";
          passthrough_lines_ += field.value();
          passthrough_lines_ += "\r\n";
        }
      }
      const bool reusable = response_parser_->get().keep_alive() && response_parser_->is_done();
      if (reusable && request_parser_->is_done()) pool.release(std::move(upstream_));
      upstream_.reset();
      if (!cache::freshens(*cache_.entry, lines)) {
        // §4.3.4: it fits no stored response; the stored one is outdated.
        runtime_->cache_store->remove(*cache_.entry);
        unshare(cache_.entry->uri_key);
        cache_retry_ = true;
        co_return true;
      }
      auto fresh = cache::freshen(*cache_.entry, lines, cache_request_time_, now_seconds(),
                                  cache_config_->heuristic_freshness);
      if (gateway::may_keep(cache_, *fresh)) {
        if (runtime_->cache_store->insert(fresh)) share(fresh);
      } else {
        runtime_->cache_store->remove(*cache_.entry);
        unshare(cache_.entry->uri_key);
      }
      cache_.entry = std::move(fresh);
      cache_.not_modified = cache::not_modified(*cache_.entry, cache_.request_lines, now_seconds());
      cache_flight_.finish();
      record_cache(observe::MetricsShard::CacheResult::revalidated);
      const gateway::ForwardStatus forwarded{.fwd = cache_.fwd, .fwd_status = 304};
      co_return co_await reply_from_cache(&forwarded);
    }
    if (cache::is_error_status(status) && stale_answers_error()) {
      upstream_.reset();
      record_cache(observe::MetricsShard::CacheResult::stale_on_error);
      const gateway::ForwardStatus forwarded{
          .fwd = cache_.fwd, .fwd_status = status, .detail = "stale-if-error"};
      co_return co_await reply_from_cache(&forwarded);
    }
  }
  invalidate_after_unsafe(*response_parser_);

  bool upstream_reusable = false;
  bool keep_alive = co_await relay_response(*response_parser_, upstream_reusable);
  if (upstream_reusable && upstream_ && request_parser_->is_done()) {
    pool.release(std::move(upstream_));
  }
  upstream_.reset();
  co_return keep_alive;
}

// Reads the upstream's response head, skipping interim 1xx responses (Expect was answered
// by bulwark itself). `retryable` tells whether the upstream closed without a byte.
asio::awaitable<bool> ClientConnection::read_response_head(bool& retryable, ErrorReply& error) {
  const auto& upstream_config = pool_->config();
  // The timeout covers everything up to the final response head, interim ones included.
  arm(Phase::upstream_wait, upstream_config.timeout);
  for (unsigned interim = 0;; ++interim) {
    if (interim > kMaxInterimResponses) {
      worker_.metrics().record_upstream_error(upstream_config.metrics_slot,
                                              observe::UpstreamError::bad_response);
      error = {502, "upstream '" + upstream_config.name + "' sent too many 1xx responses"};
      co_return false;
    }
    auto& response_parser = response_parser_.emplace(std::piecewise_construct, std::make_tuple(),
                                                     std::make_tuple(FieldsAllocator(&arena_)));
    response_parser.header_limit(static_cast<std::uint32_t>(kMaxResponseHeadBytes));
    response_parser.body_limit(boost::none);
    if (exchange_.head_request) response_parser.skip(true);
    error_code ec;
    co_await bhttp::async_read_header(upstream_->socket, upstream_->buffer, response_parser,
                                      redirect(ec));
    if (ec) {
      bool timed_out = expired(Phase::upstream_wait);
      bool closed_silently = !timed_out && response_parser.got_some() == false &&
                             (ec == bhttp::error::end_of_stream ||
                              ec == asio::error::connection_reset || ec == asio::error::eof);
      retryable = closed_silently;
      worker_.metrics().record_upstream_error(
          upstream_config.metrics_slot,
          timed_out ? observe::UpstreamError::timeout
                    : (closed_silently ? observe::UpstreamError::reset
                                       : observe::UpstreamError::bad_response));
      error =
          timed_out
              ? ErrorReply{504, "upstream '" + upstream_config.name + "' did not answer in time"}
              : ErrorReply{502, "upstream '" + upstream_config.name + "' sent no valid response"};
      co_return false;
    }
    unsigned status = response_parser.get().result_int();
    if (status >= 100 && status < 200 && status != 101) continue;
    std::string_view problem = response_head_problem(response_parser);
    if (!problem.empty()) {
      worker_.metrics().record_upstream_error(upstream_config.metrics_slot,
                                              observe::UpstreamError::bad_response);
      error = {502, "upstream '" + upstream_config.name + "' " + std::string(problem)};
      co_return false;
    }
    co_return true;
  }
}

asio::awaitable<bool> ClientConnection::send_request(RequestParser& parser, bool has_body,
                                                     ErrorReply& error, bool& retryable) {
  const auto& upstream_config = pool_->config();
  error_code ec;
  if (!has_body) {
    arm(Phase::upstream_send, upstream_config.timeout);
    co_await write_all(upstream_->socket, asio::buffer(upstream_head_), ec);
    if (ec) {
      retryable = upstream_->reused;
      worker_.metrics().record_upstream_error(upstream_config.metrics_slot,
                                              observe::UpstreamError::reset);
      error = {502, "upstream '" + upstream_config.name + "' closed the connection"};
      co_return false;
    }
    co_return true;
  }

  // bulwark answers Expect: 100-continue itself (the field is not forwarded), once the
  // request is known to be routable and within limits.
  if (exchange_.expects_continue) {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    arm(Phase::respond, limits().idle_timeout);
    co_await write_all(client_, asio::buffer(kContinue), ec);
    if (ec) co_return false;
  }
  bool head_written = false;
  Relay relay = co_await this->relay(client_, in_buf_, parser, upstream_->socket, upstream_head_,
                                     parser.chunked(), Phase::body, limits().idle_timeout,
                                     Phase::upstream_send, upstream_config.timeout,
                                     exchange_.bytes_received, head_written, ec);
  if (relay == Relay::ok) co_return true;
  if (relay == Relay::read_failed) {
    if (ec == bhttp::error::body_limit) {
      error = {413, "request body exceeds server.limits.max_body_bytes"};
    } else if (ec == bhttp::error::buffer_overflow) {
      error = {400, "chunk framing line or trailer section too long"};
    } else if (expired(Phase::body)) {
      error = {408, "request body not received in time"};
    } else {
      error = {400, "request body could not be read: " + ec.message()};
    }
    co_return false;
  }
  worker_.metrics().record_upstream_error(upstream_config.metrics_slot,
                                          observe::UpstreamError::reset);
  error = {502, "upstream '" + upstream_config.name + "' closed the connection"};
  co_return false;
}

template <class Parser>
asio::awaitable<Relay> ClientConnection::relay(tcp::socket& in, beast::flat_buffer& in_buffer,
                                               Parser& parser, tcp::socket& out,
                                               std::string_view head, bool chunked_out,
                                               Phase read_phase, config::Duration read_timeout,
                                               Phase write_phase, config::Duration write_timeout,
                                               uint64_t& body_bytes, bool& head_written,
                                               error_code& ec, std::string* capture) {
  static constexpr std::string_view kCrlf = "\r\n";
  static constexpr std::string_view kLastChunk = "0\r\n\r\n";
  auto& body = parser.get().body();
  parser.eager(true);  // the head is done: take as many body bytes per read as fit
  bool head_pending = !head.empty();
  char size_line[20];
  for (;;) {
    size_t got = 0;
    if (!parser.is_done()) {
      body.data = chunk_.data();
      body.size = chunk_.size();
      arm(read_phase, read_timeout);
      if (!parse_buffered(parser, in_buffer, ec)) {
        co_await bhttp::async_read_some(in, in_buffer, parser, redirect(ec));
      }
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) co_return Relay::read_failed;
      got = chunk_.size() - body.size;
      body_bytes += got;
      if (capture != nullptr) {
        if (capture->size() + got > runtime_->cache_max_object_bytes) {
          cache_capture_overflow_ = true;  // too big to store: relayed only
          capture = nullptr;
        } else {
          capture->append(chunk_.data(), got);
        }
      }
    }
    bool last = parser.is_done();
    if (last && capture != nullptr) {
      // Stored before the last piece reaches the client: its next request finds the entry.
      finish_cache_store(true);
      capture = nullptr;
    }
    std::array<asio::const_buffer, 5> pieces;
    size_t count = 0;
    if (head_pending) pieces[count++] = asio::buffer(head);
    if (got > 0) {
      if (chunked_out)
        pieces[count++] = asio::buffer(size_line, proxy::write_chunk_size_line(got, size_line));
      pieces[count++] = asio::buffer(chunk_.data(), got);
      if (chunked_out) pieces[count++] = asio::buffer(kCrlf);
    }
    if (last && chunked_out) pieces[count++] = asio::buffer(kLastChunk);
    if (count > 0) {
      arm(write_phase, write_timeout);
      co_await write_all(out, std::span<const asio::const_buffer>(pieces.data(), count), ec);
      if (ec) co_return Relay::write_failed;
      head_written = true;
      head_pending = false;
    }
    if (last) co_return Relay::ok;
  }
}

asio::awaitable<bool> ClientConnection::relay_response(ResponseParser& parser,
                                                       bool& upstream_reusable) {
  const auto& response = parser.get();
  unsigned status = response.result_int();
  bool upstream_keep_alive = response.keep_alive();
  bool no_body = exchange_.head_request || status == 204 || status == 304;
  bool upstream_chunked = parser.chunked();
  bool close_delimited = !no_body && !upstream_chunked && !parser.content_length();

  // The client's framing: chunked only for HTTP/1.1 clients; otherwise the end of the
  // body is the end of the connection.
  bool keep_alive = exchange_.client_keep_alive && !draining_ && !worker_.draining();
  bool client_http10 = exchange_.client_version == 10;
  proxy::BodyFraming framing = proxy::BodyFraming::content_length;
  if (no_body) {
    // A HEAD response describes the GET response's framing without a body.
    framing = upstream_chunked && exchange_.head_request && !client_http10
                  ? proxy::BodyFraming::chunked
                  : proxy::BodyFraming::none;
  } else if (upstream_chunked || close_delimited) {
    framing = client_http10 ? proxy::BodyFraming::until_close : proxy::BodyFraming::chunked;
    if (client_http10) keep_alive = false;
  }
  response_fields_.clear();
  for (const auto& field : response) {
    response_fields_.push_back({field.name_string(), field.value()});
  }
  std::string* capture = cache_config_ != nullptr ? begin_cache_store(parser) : nullptr;
  // Content-Length: the body's length, or for HEAD and 304 the length the GET response
  // would have had (RFC 9110 §8.6); never on 204.
  std::optional<uint64_t> content_length;
  if (framing == proxy::BodyFraming::content_length ||
      (no_body && framing == proxy::BodyFraming::none && status != 204)) {
    if (parser.content_length()) content_length = *parser.content_length();
  }
  if (framing == proxy::BodyFraming::content_length && !content_length) content_length = 0;
  proxy::write_client_response_head(proxy::ClientResponseHead{.status = status,
                                                              .reason = response.reason(),
                                                              .fields = response_fields_,
                                                              .request_id = exchange_.request_id,
                                                              .framing = framing,
                                                              .content_length = content_length,
                                                              .keep_alive = keep_alive,
                                                              .client_http10 = client_http10,
                                                              .date = worker_.http_date(),
                                                              .gateway_lines = gateway_lines()},
                                    response_head_);
  exchange_.status = status;

  const auto& upstream_config = pool_->config();
  error_code ec;
  if (no_body) {
    // Stored before the client has the response: its next request finds the entry.
    if (cache_config_ != nullptr) finish_cache_store(parser.is_done());
    arm(Phase::respond, limits().idle_timeout);
    co_await write_all(client_, asio::buffer(response_head_), ec);
    upstream_reusable = upstream_keep_alive && parser.is_done();
    finish_exchange();
    co_return keep_alive && !ec;
  }
  bool head_written = false;
  Relay relay = co_await this->relay(
      upstream_->socket, upstream_->buffer, parser, client_, response_head_,
      framing == proxy::BodyFraming::chunked, Phase::upstream_body, upstream_config.timeout,
      Phase::respond, limits().idle_timeout, exchange_.bytes_sent, head_written, ec, capture);
  if (cache_config_ != nullptr) finish_cache_store(relay == Relay::ok);
  if (relay == Relay::read_failed) {
    bool timed_out = expired(Phase::upstream_body);
    worker_.metrics().record_upstream_error(
        upstream_config.metrics_slot,
        timed_out ? observe::UpstreamError::timeout : observe::UpstreamError::reset);
    if (!head_written) {
      // Nothing reached the client yet: it can still get a proper error.
      ErrorReply reply{timed_out ? 504u : 502u,
                       "upstream '" + upstream_config.name + "' failed mid-response"};
      upstream_reusable = false;
      co_return co_await reply_error(reply, false);
    }
    exchange_.error = "upstream failed mid-response";
  } else if (relay == Relay::write_failed) {
    exchange_.error = "client went away mid-response";
  }
  upstream_reusable = relay == Relay::ok && upstream_keep_alive && !close_delimited;
  finish_exchange();
  co_return relay == Relay::ok&& keep_alive;
}

// Drops what the previous exchange held; strings keep their capacity for the next one.
void ClientConnection::end_exchange() {
  response_parser_.reset();
  request_parser_.reset();
  fields_.clear();
  response_fields_.clear();
  arena_.release();
  exchange_.request_id.clear();
  exchange_.method.clear();
  exchange_.path.clear();
  exchange_.upstream_label.clear();
  exchange_.route = {};
  exchange_.route_slot = 0;
  exchange_.status = 0;
  exchange_.bytes_sent = 0;
  exchange_.bytes_received = 0;
  exchange_.upstream_us = -1;
  exchange_.error = {};
  exchange_.auth = {};
  exchange_.limit = {};
  exchange_.cache = {};
  limit_lines_.clear();
  cache_lines_.clear();
  cache_config_ = nullptr;
  release_shared_lock();  // names the key: before cache_ is cleared
  cache_.clear();
  cache_flight_ = {};
  cache_pending_.reset();
  state_.reset();  // an idle connection keeps no Redis connection alive across a reload
  cache_capture_overflow_ = false;
  validating_ = false;
  validator_count_ = 0;
  cache_collapsed_ = false;
  cache_retry_ = false;
  passthrough_lines_.clear();
  exchange_.client_version = 11;
  exchange_.client_keep_alive = true;
  exchange_.expects_continue = false;
  exchange_.head_request = false;
}

asio::awaitable<bool> ClientConnection::send_refusal() {
  if (exchange_.request_id.empty()) observe::generate_request_id(exchange_.request_id);
  co_await reply_error(refusal_, false);
  co_return false;
}

asio::awaitable<bool> ClientConnection::reply_options(const std::string& allow, bool keep_alive) {
  exchange_.status = 200;
  std::string out = "HTTP/1.1 200 OK\r\nContent-Length: 0";
  append_local_fields(out);
  out += "\r\nAllow: ";
  out += allow;
  if (std::string_view lines = gateway_lines(); !lines.empty()) {
    out += "\r\n";
    out.append(lines.substr(0, lines.size() - 2));  // the lines without the last CRLF
  }
  keep_alive = keep_alive && !draining_ && !worker_.draining();
  append_connection_field(out, keep_alive);
  arm(Phase::respond, limits().idle_timeout);
  error_code ec;
  co_await write_all(client_, asio::buffer(out), ec);
  finish_exchange();
  co_return keep_alive && !ec;
}

asio::awaitable<bool> ClientConnection::reply_error(const ErrorReply& error, bool keep_alive) {
  exchange_.status = error.status;
  exchange_.error = error.error.empty() ? status_error_name(error.status) : error.error;
  std::string body = "{\"error\":\"";
  body += exchange_.error;
  body += "\",\"detail\":";
  observe::append_json_string(body, error.detail);
  body += '}';
  keep_alive = keep_alive && !draining_ && !worker_.draining();

  std::string out;
  out.reserve(256 + body.size());
  out += "HTTP/1.1 ";
  out += std::to_string(error.status);
  out += ' ';
  out += bhttp::obsolete_reason(static_cast<bhttp::status>(error.status));
  out += "\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nContent-Length: ";
  out += std::to_string(body.size());
  append_local_fields(out);
  if (!error.allow.empty()) {
    out += "\r\nAllow: ";
    out += error.allow;
  }
  out += error.more_fields;
  if (std::string_view lines = gateway_lines(); !lines.empty()) {
    out += "\r\n";
    out.append(lines.substr(0, lines.size() - 2));  // the lines without the last CRLF
  }
  append_connection_field(out, keep_alive);
  bool head_request = exchange_.method == "HEAD";
  if (!head_request) out += body;
  exchange_.bytes_sent = head_request ? 0 : body.size();

  arm(Phase::respond, limits().idle_timeout);
  error_code ec;
  co_await write_all(client_, asio::buffer(out), ec);
  finish_exchange();
  co_return keep_alive && !ec;
}

void ClientConnection::finish_exchange() {
  auto now = Clock::now();
  auto duration_us = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(now - exchange_.start).count());
  worker_.metrics().record_request(exchange_.route_slot, exchange_.status, duration_us);
  auto& log = worker_.access_log();
  if (!log.enabled()) return;
  observe::AccessRecord record;
  record.time = std::chrono::system_clock::now();
  record.request_id = exchange_.request_id;
  record.client_ip = client_ip_;
  record.method = exchange_.method;
  record.path = exchange_.path;
  record.route = exchange_.route;
  record.status = exchange_.status;
  record.bytes_sent = exchange_.bytes_sent;
  record.bytes_received = exchange_.bytes_received;
  record.duration_us = duration_us;
  record.upstream_us = exchange_.upstream_us;
  record.upstream = exchange_.upstream_label;
  record.error = exchange_.error;
  record.auth = exchange_.auth;
  record.limit = exchange_.limit;
  record.cache = exchange_.cache;
  log.append(record);
}

}  // namespace

asio::awaitable<void> serve_connection(Worker& worker, tcp::socket socket) {
  ClientConnection connection(worker, std::move(socket));
  co_await connection.run();
}

}  // namespace bulwark::server
