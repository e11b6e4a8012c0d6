#include "proxy/upstream_pool.hpp"

#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cerrno>
#include <stdexcept>

namespace bulwark::proxy {
namespace {

// A pooled connection the upstream has closed (or sent unsolicited bytes on) must not be
// reused: a request written to it would fail, and a non-idempotent one cannot be retried.
bool looks_alive(boost::asio::ip::tcp::socket& socket) {
  char byte;
  ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace

UpstreamPool::UpstreamPool(const gateway::CompiledUpstream& config,
                           std::vector<std::vector<boost::asio::ip::tcp::endpoint>> resolved)
    : config_(config) {
  for (size_t i = 0; i < resolved.size(); ++i) {
    targets_.push_back(UpstreamTarget{
        .addresses = std::move(resolved[i]), .label = config.targets[i].to_string(), .idle = {}});
  }
}

UpstreamPool::~UpstreamPool() = default;

size_t UpstreamPool::next_target() {
  size_t t = next_;
  next_ = (next_ + 1) % targets_.size();
  return t;
}

std::unique_ptr<UpstreamConnection> UpstreamPool::take_idle(size_t target) {
  auto& idle = targets_[target].idle;
  while (!idle.empty()) {
    auto connection = std::move(idle.back());
    idle.pop_back();
    if (connection->buffer.size() == 0 && looks_alive(connection->socket)) {
      connection->reused = true;
      return connection;
    }
  }
  return nullptr;
}

void UpstreamPool::release(std::unique_ptr<UpstreamConnection> connection) {
  auto& idle = targets_[connection->target].idle;
  if (idle.size() >= config_.max_idle_per_target) return;  // closed by the destructor
  idle.push_back(std::move(connection));
}

std::vector<std::vector<boost::asio::ip::tcp::endpoint>> resolve_targets(
    const gateway::CompiledUpstream& upstream) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::resolver resolver(io);
  std::vector<std::vector<boost::asio::ip::tcp::endpoint>> out;
  for (const auto& target : upstream.targets) {
    boost::system::error_code ec;
    auto results = resolver.resolve(target.host, std::to_string(target.port),
                                    boost::asio::ip::resolver_base::numeric_service, ec);
    if (ec || results.empty()) {
      throw std::runtime_error("upstream '" + upstream.name + "': cannot resolve target '" +
                               target.to_string() + "': " + ec.message());
    }
    std::vector<boost::asio::ip::tcp::endpoint> addresses;
    for (const auto& r : results) addresses.push_back(r.endpoint());
    out.push_back(std::move(addresses));
  }
  return out;
}

}  // namespace bulwark::proxy
