#pragma once
// A worker: one thread, one io_context, its own SO_REUSEPORT listener, its own upstream
// pools and metrics shard. Connections never leave the worker that accepted them.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "gateway/runtime.hpp"
#include "observe/access_log.hpp"
#include "observe/metrics.hpp"
#include "proxy/upstream_pool.hpp"
#include "server/deadline.hpp"
#include "server/shared_state.hpp"

namespace bulwark::server {

std::string random_instance_id();

// State every worker sees.
struct SharedState {
  explicit SharedState(size_t workers) : metrics(workers) {}
  observe::Metrics metrics;
  std::atomic<uint32_t> open_connections{0};
  std::atomic<bool> draining{false};
  StateHealth state_health;
  // This process among the instances sharing a Redis (it skips its own cache events).
  std::string instance_id = random_instance_id();
  // Unix ms of the last read of the shared revocation list (state: only).
  std::atomic<int64_t> revocations_synced_ms{0};
};

// fail_closed refuses authenticated requests once the revocations held are older than this.
inline constexpr int64_t kRevocationStalenessMs = 2000;

// What a worker needs to serve one config generation.
struct WorkerConfig {
  std::shared_ptr<const gateway::Runtime> runtime;
  std::vector<std::shared_ptr<proxy::UpstreamPool>> pools;  // parallel to runtime->upstreams
  std::shared_ptr<observe::AccessLogSink> access_log;
};

class Worker {
 public:
  Worker(size_t index, SharedState& shared);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Binds this worker's listener (SO_REUSEPORT); throws std::system_error on failure.
  void listen(const boost::asio::ip::tcp::endpoint& endpoint);
  // Thread-safe: the worker switches to `config` for requests that start after this
  // (within one sweep tick, 100 ms).
  void install(WorkerConfig config);
  void start();
  // Thread-safe: stop accepting, close idle connections, let in-flight requests finish.
  void begin_drain();
  // Thread-safe: end everything (within one sweep tick).
  void stop();
  void join();
  uint32_t connections() const { return connections_.load(std::memory_order_relaxed); }

  // For connections, on this worker's thread only.
  boost::asio::io_context& io() { return *io_; }
  const std::shared_ptr<const gateway::Runtime>& runtime() const { return runtime_; }
  const std::shared_ptr<proxy::UpstreamPool>& pool(size_t upstream) const {
    return pools_[upstream];
  }
  observe::MetricsShard& metrics() { return *metrics_; }
  // This worker's handles on the shared state; null when the config has no `state:`.
  const std::shared_ptr<WorkerState>& state() const { return state_; }
  observe::AccessLogBuffer& access_log() { return access_log_; }
  DeadlineList& deadlines() { return deadlines_; }
  SharedState& shared() { return shared_; }
  bool draining() const { return draining_; }
  // The current time as an HTTP-date (RFC 9110 §5.6.7), refreshed on each sweep tick.
  const std::string& http_date() const { return http_date_; }
  void connection_started();
  void connection_ended();
  // Thread-safe: runs `task` on this worker's thread soon. The io_context takes no locks
  // (BOOST_ASIO_CONCURRENCY_HINT_UNSAFE), so another thread must never post to it: tasks go
  // through a mutex-guarded mailbox and an eventfd that wakes the worker's loop.
  void run_on_worker(std::function<void()> task);

 private:
  void apply(WorkerConfig config);
  void apply_state(const gateway::Runtime& runtime);
  void take_requests();
  void drain_now();
  void sweep();
  void refresh_http_date();
  void start_sweep_timer();
  void accept_next();
  void read_mailbox();

  size_t index_;
  SharedState& shared_;
  // Destroyed explicitly (and first) in ~Worker: destroying it destroys suspended
  // connection coroutines, which still use the members below.
  std::unique_ptr<boost::asio::io_context> io_;
  std::optional<boost::asio::ip::tcp::acceptor> acceptor_;
  std::optional<boost::asio::steady_timer> sweep_timer_;
  std::shared_ptr<const gateway::Runtime> runtime_;
  std::vector<std::shared_ptr<proxy::UpstreamPool>> pools_;
  std::shared_ptr<WorkerState> state_;
  // Every WorkerState this worker made: one replaced by a reload may live on in a request or
  // a background copy, and its Redis connection must close while the io_context exists.
  std::vector<std::weak_ptr<WorkerState>> states_made_;
  observe::MetricsShard* metrics_;
  observe::AccessLogBuffer access_log_;
  DeadlineList deadlines_;
  std::atomic<uint32_t> connections_{0};
  bool draining_ = false;
  std::string http_date_;
  std::thread thread_;

  // Requests from other threads, taken by the worker on its sweep tick.
  std::mutex requests_mutex_;
  std::atomic<bool> has_requests_{false};
  std::optional<WorkerConfig> pending_config_;
  bool drain_requested_ = false;
  bool stop_requested_ = false;

  // run_on_worker's mailbox; the eventfd counts posts not yet read.
  std::mutex mailbox_mutex_;
  std::vector<std::function<void()>> mailbox_;
  bool mailbox_closed_ = false;  // the worker is going away: tasks are dropped
  int mailbox_fd_ = -1;
  std::optional<boost::asio::posix::stream_descriptor> mailbox_descriptor_;
  uint64_t mailbox_count_ = 0;
};

}  // namespace bulwark::server
