#include "server/redis_client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <deque>
#include <optional>
#include <utility>

#include "redis/command.hpp"

namespace bulwark::server {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kReadChunk = 64 * 1024;

auto redirect(error_code& ec) {
  return asio::redirect_error(asio::use_awaitable, ec);
}

std::string format_duration(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

// One command waiting for its reply: the command coroutine sleeps on `timer` (its deadline)
// and complete() wakes it early.
struct Waiter {
  explicit Waiter(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  std::optional<RedisResult> result;

  void complete(RedisResult r) {
    if (result) return;
    result = std::move(r);
    timer.cancel();
  }
};

// One TCP connection attempt and its life; replaced, never reused, after a failure.
struct Conn {
  explicit Conn(const asio::any_io_executor& ex, redis::ReaderLimits limits)
      : socket(ex), resolver(ex), connect_timer(ex), wake(ex), reader(limits) {}
  tcp::socket socket;
  tcp::resolver resolver;
  asio::steady_timer connect_timer;
  asio::steady_timer wake;  // wakes the writer
  redis::ReplyReader reader;
  bool alive = true;
  bool ready = false;  // handshake done
};

}  // namespace

struct RedisClient::State : std::enable_shared_from_this<RedisClient::State> {
  State(asio::any_io_executor ex, redis::RedisUrl u, RedisClientOptions o)
      : executor(std::move(ex)), url(std::move(u)), options(std::move(o)) {
    backoff = options.min_backoff;
  }

  asio::any_io_executor executor;
  redis::RedisUrl url;
  RedisClientOptions options;
  std::shared_ptr<Conn> conn;  // null while disconnected
  std::deque<std::shared_ptr<Waiter>> waiters;
  std::string out;  // encoded commands not yet handed to the writer
  std::chrono::milliseconds backoff;
  Clock::time_point next_attempt{};
  std::string last_error;
  bool closed = false;
  RedisClientStats stats;

  std::string where() const {
    bool v6 = url.host.find(':') != std::string::npos;
    return (v6 ? "[" + url.host + "]" : url.host) + ":" + std::to_string(url.port);
  }

  // Closes `c` (if it is the current connection) and fails every pending command.
  void fail(const std::shared_ptr<Conn>& c, const std::string& why) {
    if (!c || c != conn || !c->alive) return;
    c->alive = false;
    ++stats.failures;
    error_code ignored;
    c->socket.close(ignored);
    c->resolver.cancel();
    c->connect_timer.cancel();
    c->wake.cancel();
    conn.reset();
    out.clear();
    last_error = why;
    next_attempt = Clock::now() + backoff;
    backoff = std::min(backoff * 2, options.max_backoff);
    auto failed = std::move(waiters);
    waiters.clear();
    for (auto& w : failed) w->complete(RedisResult{{}, why});
  }

  void shutdown() {
    closed = true;
    if (conn) fail(conn, "redis client closed");
  }

  void start_connect() {
    conn = std::make_shared<Conn>(executor, options.reader_limits);
    auto c = conn;
    auto self = shared_from_this();
    c->connect_timer.expires_after(url.connect_timeout);
    c->connect_timer.async_wait([self, c](error_code ec) {
      if (ec || c->ready) return;
      self->fail(c, "redis connect " + self->where() + ": timed out after " +
                        format_duration(self->url.connect_timeout));
    });
    asio::co_spawn(executor, connect(self, c), asio::detached);
  }

  static asio::awaitable<void> connect(std::shared_ptr<State> self, std::shared_ptr<Conn> c) {
    error_code ec;
    tcp::resolver::results_type endpoints;
    auto address = asio::ip::make_address(self->url.host, ec);
    if (!ec) {
      endpoints = tcp::resolver::results_type::create(
          tcp::endpoint(address, self->url.port), self->url.host, std::to_string(self->url.port));
    } else {
      endpoints = co_await c->resolver.async_resolve(self->url.host, std::to_string(self->url.port),
                                                     redirect(ec));
      if (!c->alive) co_return;
      if (ec) {
        self->fail(c, "redis resolve " + self->url.host + ": " + ec.message());
        co_return;
      }
    }
    co_await asio::async_connect(c->socket, endpoints, redirect(ec));
    if (!c->alive) co_return;
    if (ec) {
      self->fail(c, "redis connect " + self->where() + ": " + ec.message());
      co_return;
    }
    c->socket.set_option(tcp::no_delay(true), ec);

    // AUTH and SELECT before any user command: those wait in `out` until the writer starts.
    std::string hello;
    std::vector<const char*> steps;
    const std::string db = std::to_string(self->url.db);
    if (self->url.needs_auth()) {
      if (self->url.username.empty()) {
        redis::append_command(hello, {"AUTH", self->url.password});
      } else {
        redis::append_command(hello, {"AUTH", self->url.username, self->url.password});
      }
      steps.push_back("AUTH");
    }
    if (self->url.db != 0) {
      redis::append_command(hello, {"SELECT", db});
      steps.push_back("SELECT");
    }
    if (!steps.empty()) {
      co_await asio::async_write(c->socket, asio::buffer(hello), redirect(ec));
      if (!c->alive) co_return;
      if (ec) {
        self->fail(c, "redis " + self->where() + ": write: " + ec.message());
        co_return;
      }
      std::vector<char> buffer(4096);
      size_t answered = 0;
      while (answered < steps.size()) {
        size_t n = co_await c->socket.async_read_some(asio::buffer(buffer), redirect(ec));
        if (!c->alive) co_return;
        if (ec) {
          self->fail(
              c, "redis " + self->where() + ": " + steps[answered] + ": " +
                     (ec == asio::error::eof ? "connection closed by the server" : ec.message()));
          co_return;
        }
        c->reader.feed(std::string_view(buffer.data(), n));
        while (auto reply = c->reader.next()) {
          if (reply->is_error()) {
            self->fail(
                c, "redis " + self->where() + ": " + steps[answered] + " refused: " + reply->text);
            co_return;
          }
          if (++answered == steps.size()) break;
        }
        if (c->reader.failed()) {
          self->fail(c, "redis " + self->where() + ": " + c->reader.error());
          co_return;
        }
      }
      if (c->reader.buffered_bytes() > 0) {
        self->fail(c, "redis " + self->where() + ": unexpected bytes after the handshake");
        co_return;
      }
    }
    c->ready = true;
    ++self->stats.connects;
    c->connect_timer.cancel();
    self->backoff = self->options.min_backoff;
    self->last_error.clear();
    asio::co_spawn(self->executor, reader(self, c), asio::detached);
    asio::co_spawn(self->executor, writer(self, c), asio::detached);
  }

  static asio::awaitable<void> writer(std::shared_ptr<State> self, std::shared_ptr<Conn> c) {
    std::string sending;
    error_code ec;
    while (c->alive) {
      if (self->out.empty()) {
        c->wake.expires_at(asio::steady_timer::time_point::max());
        co_await c->wake.async_wait(redirect(ec));
        continue;
      }
      sending.clear();
      std::swap(sending, self->out);
      ++self->stats.writes;
      co_await asio::async_write(c->socket, asio::buffer(sending), redirect(ec));
      if (!c->alive) co_return;
      if (ec) {
        self->fail(c, "redis " + self->where() + ": write: " + ec.message());
        co_return;
      }
      // Give back a huge buffer (a 1 MiB value) rather than keep it per connection.
      if (sending.capacity() > kReadChunk * 4) std::string().swap(sending);
    }
  }

  static asio::awaitable<void> reader(std::shared_ptr<State> self, std::shared_ptr<Conn> c) {
    std::vector<char> buffer(kReadChunk);
    error_code ec;
    for (;;) {
      size_t n = co_await c->socket.async_read_some(asio::buffer(buffer), redirect(ec));
      if (!c->alive) co_return;
      if (ec) {
        self->fail(c, "redis " + self->where() + ": " +
                          (ec == asio::error::eof ? "connection closed by the server"
                                                  : "read: " + ec.message()));
        co_return;
      }
      c->reader.feed(std::string_view(buffer.data(), n));
      while (auto reply = c->reader.next()) {
        if (self->waiters.empty()) {
          self->fail(c, "redis " + self->where() + ": a reply to no command");
          co_return;
        }
        auto w = std::move(self->waiters.front());
        self->waiters.pop_front();
        w->complete(RedisResult{std::move(*reply), {}});
      }
      if (c->reader.failed()) {
        self->fail(c, "redis " + self->where() + ": " + c->reader.error());
        co_return;
      }
    }
  }

  static asio::awaitable<RedisResult> run(std::shared_ptr<State> self, std::string encoded) {
    if (self->closed) co_return RedisResult{{}, "redis client closed"};
    if (self->waiters.size() >= self->options.max_pending) {
      co_return RedisResult{
          {},
          "redis: too many pending commands (" + std::to_string(self->options.max_pending) + ")"};
    }
    if (!self->conn) {
      auto now = Clock::now();
      if (now < self->next_attempt) {
        auto wait = std::chrono::ceil<std::chrono::milliseconds>(self->next_attempt - now);
        co_return RedisResult{{},
                              "redis unavailable: " + self->last_error + " (next attempt in " +
                                  format_duration(wait) + ")"};
      }
      self->start_connect();
    }
    auto c = self->conn;
    auto w = std::make_shared<Waiter>(self->executor);
    self->out += encoded;
    self->waiters.push_back(w);
    ++self->stats.commands;
    if (c->ready) c->wake.cancel();

    w->timer.expires_after(self->url.command_timeout);
    error_code ec;
    co_await w->timer.async_wait(redirect(ec));
    if (!w->result) {
      self->fail(c, "redis command timed out after " + format_duration(self->url.command_timeout) +
                        " (connection closed: replies are matched to commands by order)");
    }
    co_return std::move(*w->result);
  }
};

RedisClient::RedisClient(asio::any_io_executor executor, redis::RedisUrl url,
                         RedisClientOptions options)
    : state_(std::make_shared<State>(std::move(executor), std::move(url), std::move(options))) {}

RedisClient::~RedisClient() {
  state_->shutdown();
}

void RedisClient::close() {
  state_->shutdown();
}

asio::awaitable<RedisResult> RedisClient::command(std::span<const std::string_view> args) {
  return State::run(state_, redis::encode_command(args));
}

asio::awaitable<RedisResult> RedisClient::command(const std::vector<std::string>& args) {
  std::vector<std::string_view> views(args.begin(), args.end());
  return State::run(state_, redis::encode_command(views));
}

namespace {

std::vector<std::string_view> evalsha_command(const redis::Script& script,
                                              const std::string& key_count,
                                              std::span<const std::string> keys,
                                              std::span<const std::string> args) {
  std::vector<std::string_view> out;
  out.reserve(3 + keys.size() + args.size());
  out.push_back("EVALSHA");
  out.push_back(script.sha1);
  out.push_back(key_count);
  out.insert(out.end(), keys.begin(), keys.end());
  out.insert(out.end(), args.begin(), args.end());
  return out;
}

bool is_noscript(const RedisResult& result) {
  return result.ok() && result.reply.is_error() && result.reply.text.starts_with("NOSCRIPT");
}

}  // namespace

asio::awaitable<RedisResult> RedisClient::run_script(const redis::Script& script,
                                                     std::span<const std::string> keys,
                                                     std::span<const std::string> args) {
  // The state, not `this`: the client may be destroyed while this coroutine waits. Each
  // awaitable is a local first: g++ 12 mishandles temporaries with destructors (the encoded
  // string, the shared_ptr argument) inside a co_await expression.
  const std::shared_ptr<State> state = state_;
  const std::string key_count = std::to_string(keys.size());
  const std::string evalsha = redis::encode_command(evalsha_command(script, key_count, keys, args));
  asio::awaitable<RedisResult> first = State::run(state, evalsha);
  RedisResult result = co_await std::move(first);
  if (!is_noscript(result)) co_return result;

  const std::array<std::string_view, 3> load_args = {"SCRIPT", "LOAD", script.source};
  asio::awaitable<RedisResult> load = State::run(state, redis::encode_command(load_args));
  RedisResult loaded = co_await std::move(load);
  if (!loaded.ok() || loaded.reply.is_error()) co_return loaded;
  if (loaded.reply.text != script.sha1) {
    co_return RedisResult{{},
                          "redis SCRIPT LOAD answered " + redis::describe(loaded.reply) +
                              ", not the script's SHA-1 " + script.sha1};
  }
  asio::awaitable<RedisResult> again = State::run(state, evalsha);
  co_return co_await std::move(again);
}

bool RedisClient::connected() const {
  return state_->conn && state_->conn->ready;
}
size_t RedisClient::pending() const {
  return state_->waiters.size();
}
const redis::RedisUrl& RedisClient::url() const {
  return state_->url;
}

asio::any_io_executor RedisClient::executor() const {
  return state_->executor;
}

const RedisClientStats& RedisClient::stats() const {
  return state_->stats;
}

}  // namespace bulwark::server
