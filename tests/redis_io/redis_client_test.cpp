// RedisClient against real redis-server processes (Debian's), each on a free loopback port,
// started by the fixture and stopped by PID in TearDown; and against fake servers in the test
// that answer garbage or nothing.

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "redis_server.hpp"
#include "server/redis_client.hpp"

namespace bulwark::server {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace testing_redis;

class RedisClientTest : public ::testing::Test {
 protected:
  void TearDown() override { stop_server(); }

  void start_server(std::vector<std::string> extra = {}) {
    ASSERT_TRUE(server_.start(std::move(extra))) << "redis-server did not start";
  }
  void stop_server(int signal = SIGTERM) { server_.stop(signal); }
  redis::RedisUrl url() const { return server_.url(); }

  asio::io_context io_;
  RedisServer server_;
};

TEST_F(RedisClientTest, PingSetGetRoundTrip) {
  start_server();
  RedisClient client(io_.get_executor(), url());
  std::vector<RedisResult> results;
  ASSERT_TRUE(run(io_, [&]() -> asio::awaitable<void> {
    results.push_back(co_await client.command(cmd("PING")));
    results.push_back(co_await client.command(cmd("SET", "k", std::string_view("a\0b\r\n", 5))));
    results.push_back(co_await client.command(cmd("GET", "k")));
    results.push_back(co_await client.command(cmd("GET", "missing")));
  }));
  ASSERT_EQ(results.size(), 4u);
  for (auto& r : results) EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(results[0].reply, redis::Reply::status("PONG"));
  EXPECT_EQ(results[1].reply, redis::Reply::status("OK"));
  EXPECT_EQ(results[2].reply, redis::Reply::string(std::string("a\0b\r\n", 5)));
  EXPECT_TRUE(results[3].reply.is_nil());
  EXPECT_TRUE(client.connected());
}

TEST_F(RedisClientTest, ThousandConcurrentCommandsAnsweredInOrder) {
  start_server();
  RedisClient client(io_.get_executor(), url());
  constexpr int kCount = 1000;
  std::vector<RedisResult> results(kCount);
  int finished = 0;
  for (int i = 0; i < kCount; ++i) {
    asio::co_spawn(
        io_,
        [&, i]() -> asio::awaitable<void> {
          results[i] = co_await client.command(cmd("INCR", "counter"));
          ++finished;
        },
        asio::detached);
  }
  auto end = Clock::now() + 20s;
  while (finished < kCount && Clock::now() < end) io_.run_for(50ms);
  ASSERT_EQ(finished, kCount);
  // Batched: commands appended in one turn of the loop share writes.
  EXPECT_EQ(client.stats().commands, uint64_t{kCount});
  EXPECT_LE(client.stats().writes, 10u) << client.stats().writes;
  // Started in order, so appended and answered in order: the i-th INCR sees i + 1.
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].error;
    ASSERT_EQ(results[i].reply, redis::Reply::of_integer(i + 1)) << i;
  }
}

TEST_F(RedisClientTest, BigValue) {
  start_server();
  RedisClient client(io_.get_executor(), url());
  std::string big(1 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + i / 251);
  RedisResult set, get;
  ASSERT_TRUE(run(io_, [&]() -> asio::awaitable<void> {
    set = co_await client.command(cmd("SET", "big", big));
    get = co_await client.command(cmd("GET", "big"));
  }));
  ASSERT_TRUE(set.ok()) << set.error;
  ASSERT_TRUE(get.ok()) << get.error;
  EXPECT_EQ(get.reply.type, redis::ReplyType::string);
  EXPECT_TRUE(get.reply.text == big);
}

TEST_F(RedisClientTest, ErrorReplyIsAnAnswerNotAFailure) {
  start_server();
  RedisClient client(io_.get_executor(), url());
  RedisResult bad, wrongtype, ping;
  ASSERT_TRUE(run(io_, [&]() -> asio::awaitable<void> {
    bad = co_await client.command(cmd("NOSUCHCOMMAND", "x"));
    co_await client.command(cmd("SET", "s", "v"));
    wrongtype = co_await client.command(cmd("LPUSH", "s", "x"));
    ping = co_await client.command(cmd("PING"));
  }));
  ASSERT_TRUE(bad.ok()) << bad.error;
  EXPECT_TRUE(bad.reply.is_error());
  EXPECT_EQ(bad.reply.text.rfind("ERR", 0), 0u) << bad.reply.text;
  ASSERT_TRUE(wrongtype.ok());
  EXPECT_EQ(wrongtype.reply.text.rfind("WRONGTYPE", 0), 0u) << wrongtype.reply.text;
  ASSERT_TRUE(ping.ok()) << ping.error;
  EXPECT_EQ(ping.reply, redis::Reply::status("PONG"));
}

TEST_F(RedisClientTest, AuthWithTheRightPassword) {
  start_server({"--requirepass", "s3cret:@/"});
  auto with_password = url();
  with_password.password = "s3cret:@/";
  auto with_user = with_password;
  with_user.username = "default";
  RedisClient a(io_.get_executor(), with_password);
  RedisClient b(io_.get_executor(), with_user);
  RedisClient none(io_.get_executor(), url());
  RedisResult ra, rb, rnone;
  ASSERT_TRUE(run(io_, [&]() -> asio::awaitable<void> {
    ra = co_await a.command(cmd("PING"));
    rb = co_await b.command(cmd("PING"));
    rnone = co_await none.command(cmd("PING"));
  }));
  ASSERT_TRUE(ra.ok()) << ra.error;
  EXPECT_EQ(ra.reply, redis::Reply::status("PONG"));
  ASSERT_TRUE(rb.ok()) << rb.error;
  EXPECT_EQ(rb.reply, redis::Reply::status("PONG"));
  ASSERT_TRUE(rnone.ok()) << rnone.error;
  EXPECT_EQ(rnone.reply.text.rfind("NOAUTH", 0), 0u) << rnone.reply.text;
}

TEST_F(RedisClientTest, AuthWithTheWrongPasswordFailsTheCommands) {
  start_server({"--requirepass", "right"});
  auto wrong = url();
  wrong.password = "wrong-pw";
  RedisClient client(io_.get_executor(), wrong);
  RedisResult first, second;
  ASSERT_TRUE(run(io_, [&]() -> asio::awaitable<void> {
    first = co_await client.command(cmd("PING"));
    second = co_await client.command(cmd("PING"));  // within the backoff: fails at once
  }));
  ASSERT_FALSE(first.ok());
  EXPECT_NE(first.error.find("AUTH refused"), std::string::npos) << first.error;
  EXPECT_EQ(first.error.find("wrong-pw"), std::string::npos) << first.error;
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error.find("redis unavailable"), std::string::npos) << second.error;
  EXPECT_FALSE(client.connected());
}

TEST_F(RedisClientTest, SelectDb) {
  start_server();
  auto db3 = url();
  db3.db = 3;
  RedisClient c3(io_.get_executor(), db3);
  RedisClient c0(io_.get_executor(), url());
  RedisResult set, get3, get0;
  ASSERT_TRUE(run(io_, [&]() -> asio::awaitable<void> {
    set = co_await c3.command(cmd("SET", "where", "three"));
    get3 = co_await c3.command(cmd("GET", "where"));
    get0 = co_await c0.command(cmd("GET", "where"));
  }));
  ASSERT_TRUE(set.ok()) << set.error;
  EXPECT_EQ(get3.reply, redis::Reply::string("three"));
  ASSERT_TRUE(get0.ok()) << get0.error;
  EXPECT_TRUE(get0.reply.is_nil());
}

TEST_F(RedisClientTest, ServerKilledThenRestartedOnTheSamePort) {
  start_server();
  RedisClient client(io_.get_executor(), url());  // command_timeout 2s
  RedisResult ping, blocked, ready;
  std::chrono::milliseconds failed_after{};
  int attempts = 0;
  ASSERT_TRUE(run(io_, [&]() -> asio::awaitable<void> {
    ping = co_await client.command(cmd("PING"));
    // A command the server holds; the server dies while it is pending.
    auto started = Clock::now();
    asio::co_spawn(
        co_await asio::this_coro::executor,
        [&]() -> asio::awaitable<void> {
          co_await sleep_for(100ms);
          stop_server(SIGKILL);
        },
        asio::detached);
    blocked = co_await client.command(cmd("BLPOP", "nothing", "0"));
    failed_after = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
    start_server();
    // The client reconnects by itself on a command after the backoff.
    auto end = Clock::now() + 10s;
    while (Clock::now() < end) {
      ++attempts;
      ready = co_await client.command(cmd("PING"));
      if (ready.ok()) break;
      co_await sleep_for(50ms);
    }
  }));
  ASSERT_TRUE(ping.ok()) << ping.error;
  ASSERT_FALSE(blocked.ok());
  EXPECT_LT(failed_after, 2s) << blocked.error;
  EXPECT_NE(blocked.error.find("closed by the server"), std::string::npos) << blocked.error;
  ASSERT_TRUE(ready.ok()) << ready.error << " after " << attempts << " attempts";
  EXPECT_EQ(ready.reply, redis::Reply::status("PONG"));
  EXPECT_EQ(client.stats().connects, 2u);
  EXPECT_GE(client.stats().failures, 1u);
}

TEST_F(RedisClientTest, GarbageFromTheServerFailsTheCommandsAndCloses) {
  FakeServer fake(io_);
  asio::co_spawn(io_, fake.serve("?garbage\r\n"), asio::detached);
  auto u = url();
  u.port = fake.port();
  RedisClient client(io_.get_executor(), u);
  RedisResult a, b;
  ASSERT_TRUE(run(io_, [&]() -> asio::awaitable<void> {
    int done = 0;
    auto executor = co_await asio::this_coro::executor;
    asio::co_spawn(
        executor,
        [&]() -> asio::awaitable<void> {
          b = co_await client.command(cmd("GET", "b"));
          ++done;
        },
        asio::detached);
    a = co_await client.command(cmd("GET", "a"));
    ++done;
    while (done < 2 || !fake.closed_by_client) co_await sleep_for(10ms);
  }));
  ASSERT_FALSE(a.ok());
  ASSERT_FALSE(b.ok());
  EXPECT_NE(a.error.find("protocol error"), std::string::npos) << a.error;
  EXPECT_EQ(a.error, b.error);
  EXPECT_TRUE(fake.closed_by_client);
  EXPECT_FALSE(client.connected());
}

TEST_F(RedisClientTest, ServerClosingMidReplyFailsTheCommand) {
  FakeServer fake(io_);
  asio::co_spawn(io_, fake.serve("$10\r\nabc", FakeServer::Mode::once_then_close), asio::detached);
  auto u = url();
  u.port = fake.port();
  RedisClient client(io_.get_executor(), u);
  RedisResult r;
  ASSERT_TRUE(
      run(io_, [&]() -> asio::awaitable<void> { r = co_await client.command(cmd("GET", "a")); }));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error.find("closed by the server"), std::string::npos) << r.error;
  EXPECT_EQ(client.stats().failures, 1u);
}

TEST_F(RedisClientTest, DestroyingTheClientFailsPendingCommands) {
  start_server();
  std::optional<RedisClient> client(std::in_place, io_.get_executor(), url());
  RedisResult ping, blocked;
  ASSERT_TRUE(run(io_, [&]() -> asio::awaitable<void> {
    ping = co_await client->command(cmd("PING"));
    asio::co_spawn(
        co_await asio::this_coro::executor,
        [&]() -> asio::awaitable<void> {
          co_await sleep_for(50ms);
          client.reset();
        },
        asio::detached);
    blocked = co_await client->command(cmd("BLPOP", "nothing", "0"));
  }));
  ASSERT_TRUE(ping.ok()) << ping.error;
  EXPECT_EQ(blocked.error, "redis client closed");
}

TEST_F(RedisClientTest, ServerThatNeverAnswersHitsTheCommandTimeout) {
  FakeServer fake(io_);
  asio::co_spawn(io_, fake.serve(""), asio::detached);
  auto u = url();
  u.port = fake.port();
  u.command_timeout = 200ms;
  RedisClient client(io_.get_executor(), u);
  RedisResult a, b;
  std::chrono::milliseconds took{};
  ASSERT_TRUE(run(io_, [&]() -> asio::awaitable<void> {
    auto started = Clock::now();
    a = co_await client.command(cmd("PING"));
    took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
    b = co_await client.command(cmd("PING"));  // within the backoff
    while (!fake.closed_by_client) co_await sleep_for(10ms);
  }));
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error.find("timed out after 200ms"), std::string::npos) << a.error;
  EXPECT_GE(took, 190ms);
  EXPECT_LT(took, 1s);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error.find("redis unavailable"), std::string::npos) << b.error;
}

TEST_F(RedisClientTest, PendingCommandsAreCapped) {
  FakeServer fake(io_);
  asio::co_spawn(io_, fake.serve(""), asio::detached);
  auto u = url();
  u.port = fake.port();
  u.command_timeout = 300ms;
  RedisClientOptions options;
  options.max_pending = 10;
  RedisClient client(io_.get_executor(), u, options);
  std::vector<RedisResult> results(11);
  int finished = 0;
  for (int i = 0; i < 11; ++i) {
    asio::co_spawn(
        io_,
        [&, i]() -> asio::awaitable<void> {
          results[i] = co_await client.command(cmd("PING"));
          ++finished;
        },
        asio::detached);
  }
  auto end = Clock::now() + 5s;
  while (finished < 11 && Clock::now() < end) io_.run_for(20ms);
  ASSERT_EQ(finished, 11);
  EXPECT_NE(results[10].error.find("too many pending commands"), std::string::npos)
      << results[10].error;
  for (int i = 0; i < 10; ++i) {
    EXPECT_NE(results[i].error.find("timed out"), std::string::npos) << results[i].error;
  }
}

TEST_F(RedisClientTest, ConnectRefused) {
  RedisClient client(io_.get_executor(), url());  // nothing listens on its port
  RedisResult r;
  ASSERT_TRUE(
      run(io_, [&]() -> asio::awaitable<void> { r = co_await client.command(cmd("PING")); }));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error.find("redis connect 127.0.0.1:"), std::string::npos) << r.error;
}

}  // namespace
}  // namespace bulwark::server
