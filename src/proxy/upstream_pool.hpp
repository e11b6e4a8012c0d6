#pragma once
// Per-worker keep-alive connections to one upstream's targets, chosen round robin.
// Owned and used by a single worker thread: no locks.

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <memory>
#include <string>
#include <vector>

#include "gateway/runtime.hpp"

namespace bulwark::proxy {

struct UpstreamConnection {
  UpstreamConnection(boost::asio::any_io_executor ex, size_t buffer_limit)
      : socket(ex), buffer(buffer_limit) {}
  boost::asio::ip::tcp::socket socket;
  boost::beast::flat_buffer buffer;
  size_t target = 0;
  bool reused = false;
};

struct UpstreamTarget {
  std::vector<boost::asio::ip::tcp::endpoint> addresses;  // resolved at config load
  std::string label;                                      // "host:port" as configured
  std::vector<std::unique_ptr<UpstreamConnection>> idle;
};

class UpstreamPool {
 public:
  UpstreamPool(const gateway::CompiledUpstream& config,
               std::vector<std::vector<boost::asio::ip::tcp::endpoint>> resolved);
  ~UpstreamPool();

  const gateway::CompiledUpstream& config() const { return config_; }
  size_t target_count() const { return targets_.size(); }
  const UpstreamTarget& target(size_t i) const { return targets_[i]; }

  // The target to try next (round robin).
  size_t next_target();
  // A pooled connection to `target` that still looks alive, or nullptr.
  std::unique_ptr<UpstreamConnection> take_idle(size_t target);
  // Returns a connection whose last exchange ended cleanly with keep-alive.
  void release(std::unique_ptr<UpstreamConnection> connection);

 private:
  gateway::CompiledUpstream config_;
  std::vector<UpstreamTarget> targets_;
  size_t next_ = 0;
};

// Resolves each target's host (blocking getaddrinfo: call at config load, never on a
// worker's hot path). Throws std::runtime_error naming the target that failed.
std::vector<std::vector<boost::asio::ip::tcp::endpoint>> resolve_targets(
    const gateway::CompiledUpstream& upstream);

}  // namespace bulwark::proxy
