#pragma once
// Keeps a RevocationList equal to the revocations stored in Redis, so that a token revoked
// through any instance is refused by all of them.
//
// Redis layout (one hash tag, so Redis Cluster keeps both keys in one slot):
//   <prefix>:{revocations}:entries  hash: field "j|<len(iss)>|<iss>|<jti>" or
//                                   "s|<len(iss)>|<iss>|<sub>" (the issuer's byte length
//                                   makes a '|' in either value unambiguous), value
//                                   "<revoked_at>|<expires_at>" in unix seconds
//   <prefix>:{revocations}:version  counter, INCRed by every publish
//   <prefix>:{revocations}:epoch    random name of this incarnation of the store, set by the
//                                   first poll that finds it missing
// A publish is one Lua script: HSET (keeping the later of the stored and new times, so a
// subject revoked again keeps its latest revoked_at) and INCR, atomically.
//
// The poll: every poll_interval one script returns the version and, only when it differs from
// the last one seen, the whole hash (so the content always matches its version). A full load
// is also forced every 5 s and after the client reconnected (a restarted Redis may have
// reached the old version number again). A full load merges into the list (nothing leaves it but
// expiry: no operation un-revokes, so a store that lost entries takes nothing from an
// instance, which writes what the store lacks back, a hundred per poll), leaves out expired entries
// and deletes their fields (a script that deletes a field only if it is still expired, so a
// concurrent re-publish survives). A field or value that does not parse is skipped, counted
// and logged once; it is left in Redis (a newer version may have written it).
// A changed epoch means the store lost its content (Redis restarted without persistence, a
// failover to a lagging replica; the version alone cannot tell, publishes since may have
// counted it back up): the instance writes its live entries back before loading again, so
// revocations survive as long as one instance remembers them. (So deleting the keys does not clear
// revocations while instances run; nothing should.) A failed poll keeps the list as it is (what is
// revoked stays revoked) and is retried at the next tick; the failure is logged once until a poll
// succeeds again.
//
// Staleness bound: a revocation published on one instance is honoured by every instance
// within poll_interval + the client's command_timeout (with the defaults, 250 ms + 250 ms:
// 0.5 s, plus the request already past its check). Beyond that only while Redis is
// unreachable, which last_sync_ms() shows.
//
// Threading: like the RedisClient, every member runs on the client's executor, except
// last_sync_ms() and stats(), which any thread may read. Stop (or destroy) the sync before
// destroying the client.

#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "auth/revocation_list.hpp"
#include "server/redis_client.hpp"

namespace bulwark::server {

// The hash field and value of a revocation, and back; nullopt for anything malformed.
std::string revocation_field(const auth::Revocation& r);
std::string revocation_value(const auth::Revocation& r);
std::optional<auth::Revocation> parse_revocation_entry(std::string_view field,
                                                       std::string_view value);

class RevocationSync {
 public:
  static constexpr std::chrono::seconds kFullLoadInterval{5};

  struct Stats {
    std::atomic<uint64_t> polls{0};       // successful polls
    std::atomic<uint64_t> full_loads{0};  // ... that read the whole hash
    std::atomic<uint64_t> failures{0};    // failed polls
    std::atomic<uint64_t> skipped{0};     // malformed entries met in full loads
    std::atomic<uint64_t> cleaned{0};     // expired fields deleted from Redis
  };

  RevocationSync(RedisClient& client, std::string prefix,
                 std::shared_ptr<auth::RevocationList> list,
                 std::chrono::milliseconds poll_interval = std::chrono::milliseconds(250));
  ~RevocationSync();  // stop()
  RevocationSync(const RevocationSync&) = delete;
  RevocationSync& operator=(const RevocationSync&) = delete;

  void start();  // spawns the poll loop on the client's executor; the first poll is at once
  void stop();   // ends it: once stopped the loop touches neither the client nor the list

  // Stores `r` in Redis, then in the local list. Empty on success, else the reason (Redis
  // unreachable or refusing, the list full, a malformed revocation).
  boost::asio::awaitable<std::string> publish(const auth::Revocation& r);

  // Unix ms of the last successful poll (0 = never): staleness for metrics and /readyz.
  int64_t last_sync_ms() const;
  const Stats& stats() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace bulwark::server
