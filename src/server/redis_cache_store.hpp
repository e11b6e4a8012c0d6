#pragma once
// The shared L2 cache on Redis, behind each instance's memory store: what one gateway
// stores, the others find. Keys and lifetimes are cache/redis_layout.hpp's, values
// cache/entry_codec.hpp's. Every call is one or a few commands on the worker's RedisClient
// (so the same threading rules: one executor), bounded by its command timeout; none
// throws for Redis trouble: failures come back as error strings for the caller's
// fail-open policy (serve from L1 / go upstream) and metrics.
//
// Nothing read from Redis is trusted: entries are decoded strictly, and an entry whose
// uri_key, identity or variant key is not the one asked for is never returned.

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "cache/entry.hpp"
#include "cache/vary.hpp"
#include "server/redis_client.hpp"

namespace bulwark::server {

class RedisCacheStore {
 public:
  // `prefix` starts every key (e.g. "bulwark:cache:"); it must not hold '{' or '}', which
  // would make Redis Cluster hash the prefix instead of each URL's tag (config refuses it).
  // `max_object_bytes` bounds what is shared, counted as MemoryStore counts it
  // (Entry::charge()).
  RedisCacheStore(RedisClient& client, std::string prefix, uint64_t max_object_bytes);

  struct Found {
    std::shared_ptr<const cache::Entry> entry;  // null: a miss
    // Non-empty when Redis failed or held garbage. `entry` may still be set: a valid
    // variant that matched beside an undecodable one is still served.
    std::string error;
    // True when Redis gave no answer at all (down, timed out, a broken connection): what the
    // failure policy is about. Garbage in an answer is a miss, not an outage.
    bool unreachable = false;
  };

  // Variants kept per URL and identity (beyond, the hash starts over: a Vary on a field with
  // many values must not grow one key without bound), and identities per URL in its set
  // (beyond, new identities' copies stay in their instance's memory).
  static constexpr int kMaxVariants = 32;
  static constexpr int kMaxIdentitiesPerUrl = 10000;

  // The variant of uri_key for this identity prefix whose Vary values match request_fields
  // (MemoryStore::lookup's matching, the most recent by Date when several match), or null.
  // One HGETALL.
  boost::asio::awaitable<Found> lookup(const std::string& uri_key, const std::string& identity,
                                       std::span<const cache::FieldLine> request_fields);

  // Shares `entry` for redis_ttl(entry, now): nothing when that is 0 or the entry is over
  // max_object_bytes (it stays local). One script: HSET, the TTL of the identity's hash
  // and of the URL's set raised to it (never shortened: other variants live there too),
  // SADD. Returns the error, or "" (also when nothing was to be shared).
  boost::asio::awaitable<std::string> insert(std::shared_ptr<const cache::Entry> entry,
                                             std::chrono::sys_seconds now);

  // Removes every identity and variant of uri_key (unsafe-method invalidation).
  boost::asio::awaitable<std::string> invalidate(const std::string& uri_key);

  // Admin purge with MemoryStore::purge's matching: SCANs the URL sets (never KEYS) and
  // invalidates each match. Returns how many URLs were removed, and the error that stopped
  // it early ("" when it went through).
  boost::asio::awaitable<std::pair<uint64_t, std::string>> purge(std::string host, std::string path,
                                                                 bool prefix);

  // Cross-instance coalescing: SET lock NX PX ttl. true: we lead (go upstream); false:
  // another instance leads; nullopt: Redis failed (lead locally).
  boost::asio::awaitable<std::optional<bool>> try_lock(const std::string& uri_key,
                                                       const std::string& identity,
                                                       const std::string& token,
                                                       std::chrono::milliseconds ttl);

  // Deletes the lock only while it still holds `token` (it may have expired and been taken
  // by another leader since). Errors are ignored: the lock expires by itself.
  boost::asio::awaitable<void> unlock(const std::string& uri_key, const std::string& identity,
                                      const std::string& token);

  // For followers: looks up every kPollInterval, for at most `wait`, until an entry
  // appears, the lock is gone (the leader failed or stored nothing shareable) or Redis
  // fails. Returns the last lookup's result (entry null when nothing came).
  boost::asio::awaitable<Found> wait_for_leader(const std::string& uri_key,
                                                const std::string& identity,
                                                std::span<const cache::FieldLine> request_fields,
                                                std::chrono::milliseconds wait);

  static constexpr std::chrono::milliseconds kPollInterval{20};

 private:
  // Deletes uri_key's keys; returns how many there were, or the error.
  boost::asio::awaitable<std::pair<int64_t, std::string>> remove_url(const std::string& uri_key);

  RedisClient& client_;
  std::string prefix_;
  uint64_t max_object_bytes_;
};

}  // namespace bulwark::server
