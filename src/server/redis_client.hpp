#pragma once
// An asynchronous Redis client on one executor (one worker's io_context): one TCP connection,
// commands pipelined. Every command is appended (RESP-encoded) to one pending write buffer and
// a writer coroutine sends everything pending in one write, so commands from concurrent
// requests share writes; a reader coroutine feeds redis::ReplyReader and completes the
// waiting commands in FIFO order (Redis answers in order).
//
// Threading: the client, and every awaitable it returns, belong to the executor's thread. The
// workers' io_contexts take no locks (BOOST_ASIO_CONCURRENCY_HINT_UNSAFE): never call it, nor
// destroy it, from another thread.
//
// Connection life:
// - The first command connects (within connect_timeout: resolve, connect, AUTH, SELECT).
//   AUTH (with the user name when the URL has one) and SELECT db are sent before any user
//   command; a refused AUTH/SELECT fails the connection and the commands queued behind it.
// - A failure (connect, read, write, protocol garbage, a command timeout) closes the
//   connection and fails every pending command with the reason. The next command after
//   the backoff (100 ms, doubling to 5 s, reset by a successful connect) reconnects; before
//   that, commands fail at once ("redis unavailable: ..."): no queue while Redis is down.
// - A command that gets no reply within command_timeout fails, and the connection is closed
//   with every other pending command failed too: replies carry no ids, only their order
//   matches them to commands, so the timed-out command's late reply would be taken as the
//   answer to the next command. Skipping it instead would keep a slot per abandoned command
//   behind a server that is already slow or hung; closing bounds every wait and starts over.
// - At most max_pending commands wait for replies (or for the connection); beyond that a
//   command fails at once ("too many pending commands"), so memory stays bounded.
//
// Redis error replies ("-ERR ...", "-WRONGTYPE ...") are answers, not failures: they come
// back as ok() results holding a Reply of type error, and the connection stays open.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "redis/reply.hpp"
#include "redis/script.hpp"
#include "redis/url.hpp"

namespace bulwark::server {

struct RedisResult {
  redis::Reply reply;  // valid when ok(); may itself be an error reply (-ERR ...)
  // Non-empty when the command got no reply: "redis command timed out after 250ms",
  // "redis connect 127.0.0.1:6379: Connection refused", "redis unavailable: ...". Never holds
  // the password.
  std::string error;

  bool ok() const { return error.empty(); }
};

struct RedisClientOptions {
  size_t max_pending = 10000;
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
  redis::ReaderLimits reader_limits{};
};

// Counters since the client was made, for metrics and tests.
struct RedisClientStats {
  uint64_t commands = 0;  // sent to a connection (not failed at once)
  uint64_t writes = 0;    // socket writes of user commands: commands / writes is the batching
  uint64_t connects = 0;  // successful connections (handshake done)
  uint64_t failures = 0;  // connections closed on a failure
};

class RedisClient {
 public:
  RedisClient(boost::asio::any_io_executor executor, redis::RedisUrl url,
              RedisClientOptions options = {});
  // Fails every pending command ("redis client closed") and closes the connection.
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Sends one command (name first: {"SET", key, value}). The arguments are copied before this
  // returns. Never throws for network or protocol trouble: see RedisResult.
  // No initializer_list overload: g++ 12 rejects a braced list inside a coroutine's co_await
  // expression ("array used as initializer"); build a vector or an array of string_views.
  boost::asio::awaitable<RedisResult> command(std::span<const std::string_view> args);
  boost::asio::awaitable<RedisResult> command(const std::vector<std::string>& args);

  // EVALSHA of `script` with `keys` and `args`. A NOSCRIPT answer (the server restarted,
  // failed over or ran SCRIPT FLUSH since the script was last loaded) is followed by SCRIPT
  // LOAD and one more EVALSHA, so callers never see NOSCRIPT from a working server. Loading
  // is two extra round trips, once per server lifetime; EVAL instead would send the source
  // with every call. The spans must outlive the co_await.
  boost::asio::awaitable<RedisResult> run_script(const redis::Script& script,
                                                 std::span<const std::string> keys,
                                                 std::span<const std::string> args);

  // Fails every pending command and closes the connection for good: later commands fail at
  // once. For an owner whose io_context goes away before the client does.
  void close();

  // True while a connection is up (handshake done).
  bool connected() const;
  // Commands waiting for a reply or for the connection.
  size_t pending() const;
  const redis::RedisUrl& url() const;
  // The executor the client runs on: background users (revocation sync) spawn there.
  boost::asio::any_io_executor executor() const;
  const RedisClientStats& stats() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace bulwark::server
