#pragma once
// Where stored responses live. The stages talk to this interface only: the memory store
// here, a Redis-backed one in a later issue. Every call is thread-safe and non-blocking
// (the memory store takes one shard's mutex for a few hash-table operations).

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "cache/entry.hpp"
#include "cache/vary.hpp"

namespace bulwark::cache {

struct StoreStats {
  uint64_t entries = 0;
  uint64_t bytes = 0;      // sum of Entry::charge()
  uint64_t evictions = 0;  // entries removed to make room, since start
};

class Store {
 public:
  virtual ~Store() = default;

  // The stored variant of `uri_key` for this identity prefix whose Vary values match the
  // request's, or null. Counts as an access for the eviction policy.
  virtual std::shared_ptr<const Entry> lookup(std::string_view uri_key, std::string_view identity,
                                              std::span<const FieldLine> request_fields) = 0;

  // Stores `entry` (its uri_key, identity, vary and variant_key set), replacing the entry
  // with the same uri_key and variant_key. False when it was not stored (larger than the
  // object bound or the whole budget).
  virtual bool insert(std::shared_ptr<const Entry> entry) = 0;

  // Removes `entry` if it is still the stored one for its keys (a newer one is kept).
  virtual void remove(const Entry& entry) = 0;

  // Removes every variant of `uri_key`, of every identity. Returns how many.
  virtual uint64_t invalidate(std::string_view uri_key) = 0;

  // Removes every entry whose URL key's path part (uri_key_path: path and query) equals
  // `path` (with `prefix`: starts with it), on any host when `host` is empty, else on that
  // host only (with any port). Returns how many.
  virtual uint64_t purge(std::string_view host, std::string_view path, bool prefix) = 0;

  virtual StoreStats stats() const = 0;
};

}  // namespace bulwark::cache
