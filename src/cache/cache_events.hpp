#pragma once
// What one instance tells the others about its cache through the shared state: "this URL
// changed" (an unsafe request went through it) and "these URLs were purged" (the admin), so
// that every instance drops the copies its own memory holds, not only the shared ones.
// Events go to a Redis stream (XADD, trimmed to about kCacheEventsKept entries) and every
// instance reads it on its control thread every few hundred milliseconds (XREAD from the last
// id it saw). Pure code: the commands and the parsing of the answers; the I/O is the caller's.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "redis/reply.hpp"

namespace bulwark::cache {

inline constexpr std::size_t kCacheEventsKept = 10000;
inline constexpr std::size_t kCacheEventsPerRead = 512;

struct CacheEvent {
  enum class Kind { invalidate, purge } kind = Kind::invalidate;
  std::string source;   // the instance that sent it (it ignores its own)
  std::string uri_key;  // invalidate: the URL key (cache/key.hpp), every identity and variant
  std::string host;     // purge: MemoryStore::purge's arguments
  std::string path;
  bool prefix = false;
  friend bool operator==(const CacheEvent&, const CacheEvent&) = default;
};

// XADD <stream> MAXLEN ~ kCacheEventsKept * <fields of the event>
std::vector<std::string> cache_event_command(std::string_view stream, const CacheEvent& event);
// XREAD COUNT kCacheEventsPerRead STREAMS <stream> <after>
std::vector<std::string> cache_events_read_command(std::string_view stream, std::string_view after);
// XREVRANGE <stream> + - COUNT 1: where a reader that starts now begins.
std::vector<std::string> cache_events_tail_command(std::string_view stream);

struct CacheEventBatch {
  std::vector<CacheEvent> events;
  std::string last_id;      // empty when the reply held no entry
  std::size_t skipped = 0;  // entries that were not events of ours
};

// An XREAD answer (`xread`; nil: nothing new) or an XREVRANGE one. nullopt with `why` when it
// is not shaped like that; a well-formed entry that is not one of our events is skipped and
// counted.
std::optional<CacheEventBatch> parse_cache_events(const redis::Reply& reply, bool xread,
                                                  std::string* why);

}  // namespace bulwark::cache
