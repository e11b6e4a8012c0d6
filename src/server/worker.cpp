#include "server/worker.hpp"

#include <fmt/format.h>

#include <random>

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/socket_base.hpp>

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <system_error>

#include "server/connection.hpp"

namespace bulwark::server {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kSweepInterval = std::chrono::milliseconds(100);

constexpr std::string_view kOverloadedResponse =
    "HTTP/1.1 503 Service Unavailable\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 78\r\n"
    "Connection: close\r\n"
    "Retry-After: 1\r\n"
    "\r\n"
    "{\"error\":\"overloaded\",\"detail\":\"too many open connections, retry in a moment\"}";
static_assert(kOverloadedResponse.size() - kOverloadedResponse.find("\r\n\r\n") - 4 == 78);

}  // namespace

Worker::Worker(size_t index, SharedState& shared)
    : index_(index),
      shared_(shared),
      // Only this worker's thread touches its io_context (other threads leave requests in
      // `requests_`, read on the sweep tick), so Asio needs no locking at all.
      io_(std::make_unique<asio::io_context>(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE)),
      metrics_(&shared.metrics.shard(index)) {
  sweep_timer_.emplace(*io_);
  mailbox_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (mailbox_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  mailbox_descriptor_.emplace(*io_, mailbox_fd_);  // owns the fd from here
}

Worker::~Worker() {
  stop();
  join();
  acceptor_.reset();
  {
    // Tearing down the io_context below ends connections, whose flights may still wake
    // followers of this worker: those tasks are dropped, never queued on a closed eventfd.
    std::lock_guard lock(mailbox_mutex_);
    mailbox_closed_ = true;
    mailbox_.clear();
  }
  mailbox_descriptor_.reset();
  sweep_timer_.reset();
  pools_.clear();
  // Connections hold the state by shared_ptr and die with the io_context: close its Redis
  // connection while the io_context still exists.
  for (const auto& made : states_made_) {
    if (auto state = made.lock()) state->client().close();
  }
  io_.reset();
  state_.reset();
}

void Worker::listen(const tcp::endpoint& endpoint) {
  acceptor_.emplace(*io_);
  acceptor_->open(endpoint.protocol());
  acceptor_->set_option(asio::socket_base::reuse_address(true));
  int one = 1;
  // One listener per worker on the same port: the kernel spreads connections across them.
  if (::setsockopt(acceptor_->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    throw std::system_error(errno, std::generic_category(), "setsockopt(SO_REUSEPORT)");
  }
  acceptor_->bind(endpoint);
  acceptor_->listen(asio::socket_base::max_listen_connections);
}

void Worker::install(WorkerConfig config) {
  if (!thread_.joinable()) {
    apply(std::move(config));
    return;
  }
  std::lock_guard lock(requests_mutex_);
  pending_config_ = std::move(config);
  has_requests_.store(true, std::memory_order_release);
}

void Worker::take_requests() {
  if (!has_requests_.load(std::memory_order_acquire)) return;
  std::optional<WorkerConfig> config;
  bool drain = false;
  bool stop = false;
  {
    std::lock_guard lock(requests_mutex_);
    config.swap(pending_config_);
    drain = std::exchange(drain_requested_, false);
    stop = stop_requested_;
    has_requests_.store(false, std::memory_order_relaxed);
  }
  if (config) apply(std::move(*config));
  if (drain) drain_now();
  if (stop) io_->stop();
}

void Worker::apply(WorkerConfig config) {
  // A control block of this worker's own: per-request copies of the runtime pointer then
  // touch no cache line that other workers write.
  auto shared_runtime = std::move(config.runtime);
  const gateway::Runtime* raw = shared_runtime.get();
  runtime_ = std::shared_ptr<const gateway::Runtime>(
      raw, [keep = std::move(shared_runtime)](const gateway::Runtime*) {});
  pools_ = std::move(config.pools);
  access_log_.set_sink(std::move(config.access_log));
  apply_state(*raw);
}

std::string random_instance_id() {
  std::random_device random;
  const uint64_t id = (uint64_t{random()} << 32) | random();
  return fmt::format("{:016x}", id);
}

// A reload that keeps the state settings keeps the connection to Redis.
void Worker::apply_state(const gateway::Runtime& runtime) {
  const auto& settings = runtime.config.state;
  if (!settings) {
    state_.reset();
    return;
  }
  if (state_ && state_->serves(*settings)) return;
  state_ = std::make_shared<WorkerState>(io_->get_executor(), *settings, shared_.state_health,
                                         shared_.instance_id);
  std::erase_if(states_made_, [](const auto& made) { return made.expired(); });
  states_made_.push_back(state_);
}

void Worker::run_on_worker(std::function<void()> task) {
  bool was_empty;
  {
    std::lock_guard lock(mailbox_mutex_);
    if (mailbox_closed_) return;
    was_empty = mailbox_.empty();
    mailbox_.push_back(std::move(task));
  }
  // One write per batch: the worker swaps the whole mailbox out after reading the count.
  if (!was_empty) return;
  uint64_t one = 1;
  ssize_t written;
  do {
    written = ::write(mailbox_fd_, &one, sizeof one);
  } while (written < 0 && errno == EINTR);
}

void Worker::read_mailbox() {
  mailbox_descriptor_->async_read_some(asio::buffer(&mailbox_count_, sizeof mailbox_count_),
                                       [this](boost::system::error_code ec, size_t) {
                                         if (ec == asio::error::operation_aborted) return;
                                         std::vector<std::function<void()>> tasks;
                                         {
                                           std::lock_guard lock(mailbox_mutex_);
                                           tasks.swap(mailbox_);
                                         }
                                         for (auto& task : tasks) task();
                                         if (mailbox_descriptor_ && mailbox_descriptor_->is_open())
                                           read_mailbox();
                                       });
}

void Worker::start() {
  refresh_http_date();
  start_sweep_timer();
  accept_next();
  read_mailbox();
  thread_ = std::thread([this] {
    try {
      io_->run();
    } catch (const std::exception& e) {
      spdlog::critical("worker {} stopped: {}", index_, e.what());
    }
    access_log_.flush();
  });
}

void Worker::accept_next() {
  if (!acceptor_ || !acceptor_->is_open()) return;
  acceptor_->async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_->is_open()) return;
    if (ec) {
      // EMFILE and friends: back off briefly instead of spinning.
      spdlog::warn("worker {}: accept failed: {}", index_, ec.message());
      auto timer = std::make_shared<asio::steady_timer>(*io_, std::chrono::milliseconds(50));
      timer->async_wait([this, timer](boost::system::error_code) { accept_next(); });
      return;
    }
    uint32_t limit = runtime_ ? runtime_->config.server.limits.max_connections : 10000;
    if (shared_.open_connections.load(std::memory_order_relaxed) >= limit) {
      metrics_->connection_refused();
      boost::system::error_code ignored;
      socket.non_blocking(true, ignored);
      socket.write_some(asio::buffer(kOverloadedResponse), ignored);
      socket.close(ignored);
    } else {
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      asio::co_spawn(*io_, serve_connection(*this, std::move(socket)), asio::detached);
    }
    accept_next();
  });
}

void Worker::connection_started() {
  connections_.fetch_add(1, std::memory_order_relaxed);
  shared_.open_connections.fetch_add(1, std::memory_order_relaxed);
  metrics_->connection_opened();
}

void Worker::connection_ended() {
  connections_.fetch_sub(1, std::memory_order_relaxed);
  shared_.open_connections.fetch_sub(1, std::memory_order_relaxed);
  metrics_->connection_closed();
}

void Worker::start_sweep_timer() {
  sweep_timer_->expires_after(kSweepInterval);
  sweep_timer_->async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    sweep();
    start_sweep_timer();
  });
}

void Worker::refresh_http_date() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[64];
  size_t n = std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  http_date_.assign(text, n);
}

void Worker::sweep() {
  take_requests();
  refresh_http_date();
  auto now = Clock::now();
  for (auto it = deadlines_.begin(); it != deadlines_.end();) {
    Deadline& d = *it++;
    if (d.when() <= now) {
      d.clear();
      d.on_deadline();
    }
  }
  access_log_.flush();
}

void Worker::begin_drain() {
  std::lock_guard lock(requests_mutex_);
  drain_requested_ = true;
  has_requests_.store(true, std::memory_order_release);
}

void Worker::drain_now() {
  draining_ = true;
  boost::system::error_code ignored;
  if (acceptor_) acceptor_->close(ignored);
  for (auto it = deadlines_.begin(); it != deadlines_.end();) {
    Deadline& d = *it++;
    d.on_drain();
  }
}

void Worker::stop() {
  if (!thread_.joinable()) {
    io_->stop();
    return;
  }
  std::lock_guard lock(requests_mutex_);
  stop_requested_ = true;
  has_requests_.store(true, std::memory_order_release);
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace bulwark::server
