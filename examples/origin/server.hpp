// The origin's HTTP/1.1 server. Asio and Beast stay behind this interface, in server.cpp, so
// main.cpp compiles quickly.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace origin {

class Database;

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8081;  // 0 picks a free port; start() returns the real one
  int io_threads = 1;
  int db_threads = 4;
};

class Server {
 public:
  Server(const ServerOptions& options, Database& db);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, starts the threads and returns the bound address as HOST:PORT.
  // Throws std::exception when the address cannot be bound.
  std::string start();

  // Stops accepting and serving, and joins the threads. Call from one thread, once.
  void stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace origin
