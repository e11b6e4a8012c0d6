#pragma once
// The admin listener, on its own address and thread: /healthz, /readyz, /metrics.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "observe/metrics.hpp"

namespace bulwark::server {

class AdminServer {
 public:
  // Reasons the instance is not ready; empty when ready.
  using ReadinessProbe = std::function<std::vector<std::string>()>;

  AdminServer(observe::Metrics& metrics, ReadinessProbe readiness);
  ~AdminServer();

  // Throws std::system_error when the address cannot be bound.
  void listen(const boost::asio::ip::tcp::endpoint& endpoint);
  void start();
  void stop();

 private:
  void accept_next();

  observe::Metrics& metrics_;
  ReadinessProbe readiness_;
  boost::asio::io_context io_{1};
  std::optional<boost::asio::ip::tcp::acceptor> acceptor_;
  std::thread thread_;
};

}  // namespace bulwark::server
