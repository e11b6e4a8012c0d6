#pragma once
// Test helpers for code that talks to a real redis-server: a free loopback port, a server
// process started and stopped by PID, and a loop that runs one coroutine to its end.

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
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "redis/url.hpp"

extern char** environ;

namespace bulwark::testing_redis {

namespace asio = boost::asio;
using boost::system::error_code;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// No braced list in a co_await expression: g++ 12 rejects initializer_lists there.
template <class... Args>
std::vector<std::string> cmd(const Args&... args) {
  std::vector<std::string> out;
  (out.emplace_back(std::string_view(args)), ...);
  return out;
}

inline uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

inline bool can_connect(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// Runs `body` as a coroutine on `io` until it ends (at most `limit`).
inline bool run(asio::io_context& io, std::function<asio::awaitable<void>()> body,
                std::chrono::milliseconds limit = 20s) {
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await body();
        done = true;
      },
      asio::detached);
  auto end = Clock::now() + limit;
  while (!done && Clock::now() < end) {
    io.run_for(50ms);
    if (io.stopped()) io.restart();
  }
  return done;
}

inline asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

// One redis-server process on a free loopback port; stopped by PID when destroyed.
class RedisServer {
 public:
  RedisServer() : port_(free_port()) {}
  ~RedisServer() { stop(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Starts it (again, on the same port); false when it did not accept connections in 5 s.
  bool start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "redis-server", "--port", std::to_string(port_), "--bind",   "127.0.0.1", "--save", "",
        "--appendonly", "no",     "--logfile",           "/dev/null"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (::posix_spawnp(&pid_, "redis-server", nullptr, nullptr, argv.data(), environ) != 0) {
      pid_ = -1;
      return false;
    }
    auto end = Clock::now() + 5s;
    while (!can_connect(port_)) {
      if (Clock::now() > end) return false;
      std::this_thread::sleep_for(10ms);
    }
    return true;
  }

  void stop(int signal = SIGTERM) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }

  redis::RedisUrl url() const {
    redis::RedisUrl u;
    u.host = "127.0.0.1";
    u.port = port_;
    u.connect_timeout = 1s;
    u.command_timeout = 2s;
    return u;
  }

 private:
  uint16_t port_;
  pid_t pid_ = -1;
};

// A fake Redis on the test's io_context: accepts one connection and answers `answer` (bytes
// as they are) to the first read (Mode::once, then reads on; Mode::once_then_close closes) or
// to every read (Mode::every_read).
struct FakeServer {
  enum class Mode { once, once_then_close, every_read };

  explicit FakeServer(asio::io_context& io)
      : acceptor(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), socket(io) {}
  uint16_t port() const { return acceptor.local_endpoint().port(); }
  asio::ip::tcp::acceptor acceptor;
  asio::ip::tcp::socket socket;
  bool closed_by_client = false;
  bool done = false;

  asio::awaitable<void> serve(std::string answer, Mode mode = Mode::once) {
    error_code ec;
    co_await acceptor.async_accept(socket, asio::redirect_error(asio::use_awaitable, ec));
    char buffer[4096];
    bool answered = false;
    while (!ec) {
      co_await socket.async_read_some(asio::buffer(buffer),
                                      asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      if (answered && mode != Mode::every_read) continue;
      answered = true;
      if (!answer.empty()) {
        co_await asio::async_write(socket, asio::buffer(answer),
                                   asio::redirect_error(asio::use_awaitable, ec));
      }
      if (mode == Mode::once_then_close) {
        socket.close(ec);
        break;
      }
    }
    closed_by_client = ec == asio::error::eof || ec == asio::error::connection_reset;
    done = true;
  }
};

}  // namespace bulwark::testing_redis
