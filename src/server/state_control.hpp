#pragma once
// The shared state's work that belongs to no request, on the control thread (the main
// thread's io_context): the revocation list kept equal to Redis, a tick that turns its
// freshness into StateHealth and SharedState::revocations_synced_ms, and the admin
// listener's calls (revoke, purge), which block the admin thread for at most a few command
// timeouts. One per state settings: a reload that changes them makes a new one.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "auth/revocation_list.hpp"
#include "cache/cache_events.hpp"
#include "config/config.hpp"
#include "server/redis_cache_store.hpp"
#include "server/redis_client.hpp"
#include "server/revocation_sync.hpp"
#include "server/worker.hpp"

namespace bulwark::server {

class StateControl {
 public:
  // `apply` drops what another instance's cache event names from this instance's memory
  // (called on the control thread).
  using ApplyEvent = std::function<void(const cache::CacheEvent&)>;
  StateControl(boost::asio::io_context& control, const config::StateSettings& settings,
               std::shared_ptr<auth::RevocationList> revocations, SharedState& shared,
               ApplyEvent apply);
  // On the control thread.
  ~StateControl();
  StateControl(const StateControl&) = delete;
  StateControl& operator=(const StateControl&) = delete;

  bool serves(const config::StateSettings& settings) const;

  // Replaced by a reload: stops its loops (the revocation poll, the health tick, the event
  // reader), so that only the current settings' Redis feeds the list and the health. Kept
  // (not destroyed) until shutdown: the admin thread may still be in one of its calls.
  void retire();

  // At startup, before anything listens: runs the control loop until the first read of the
  // shared revocations (or connect + command timeout), so that the first requests are
  // checked against them. False when Redis did not answer in time.
  bool wait_for_first_sync();

  // From the admin thread: stores the revocation in Redis (then in this instance's list);
  // "" on success, else why it is not stored.
  std::string publish(const auth::Revocation& revocation);
  // From the admin thread: the shared cache's part of a purge (cache_purge.hpp's matching).
  // How many URLs were removed, and the error that stopped it ("" when it went through).
  std::pair<uint64_t, std::string> purge(const std::string& host, const std::string& path,
                                         bool prefix);

 private:
  void tick();
  // Reads the other instances' cache events every kEventPoll, for as long as *alive.
  static boost::asio::awaitable<void> read_events(StateControl* self, std::shared_ptr<bool> alive);
  // True when the read was full (more are waiting).
  boost::asio::awaitable<bool> read_events_once();
  boost::asio::awaitable<std::pair<uint64_t, std::string>> purge_and_tell(std::string host,
                                                                          std::string path,
                                                                          bool prefix);

  boost::asio::io_context& control_;
  config::StateSettings settings_;
  SharedState& shared_;
  RedisClient client_;
  RevocationSync sync_;
  RedisCacheStore cache_;
  boost::asio::steady_timer timer_;
  ApplyEvent apply_;
  std::string events_key_;
  std::string last_event_id_;  // empty: not positioned yet
  boost::asio::steady_timer events_timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace bulwark::server
