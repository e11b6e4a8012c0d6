#pragma once
// The admin listener, on its own address and thread: /healthz, /readyz, /metrics, and the
// POST actions registered with on_post (cache purge).

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "observe/metrics.hpp"

namespace bulwark::server {

class AdminServer {
 public:
  // Reasons the instance is not ready (empty when ready), and what it serves in a degraded
  // way while still ready (a fail_open policy at work).
  struct Readiness {
    std::vector<std::string> reasons;
    std::vector<std::string> degraded;
  };
  using ReadinessProbe = std::function<Readiness()>;

  // A POST action: the request body in, the status and JSON body out. Runs on the admin
  // thread.
  struct Reply {
    unsigned status = 200;
    std::string body;
  };
  using PostHandler = std::function<Reply(std::string_view body)>;

  AdminServer(observe::Metrics& metrics, ReadinessProbe readiness);
  // Before start(): serves POST `path` with `handler`.
  void on_post(std::string path, PostHandler handler) {
    post_handlers_[std::move(path)] = std::move(handler);
  }
  ~AdminServer();

  // Throws std::system_error when the address cannot be bound.
  void listen(const boost::asio::ip::tcp::endpoint& endpoint);
  void start();
  void stop();

 private:
  void accept_next();

  observe::Metrics& metrics_;
  ReadinessProbe readiness_;
  std::map<std::string, PostHandler, std::less<>> post_handlers_;
  boost::asio::io_context io_{1};
  std::optional<boost::asio::ip::tcp::acceptor> acceptor_;
  std::thread thread_;
};

}  // namespace bulwark::server
