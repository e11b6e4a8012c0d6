#pragma once
// S3-FIFO eviction (Yang et al., "FIFO queues are all you need for cache eviction", SOSP
// 2023), by bytes. Not thread-safe: the memory store runs one per shard under its mutex.
//
// Why S3-FIFO: API responses follow skewed popularity with many one-hit wonders (a crawl,
// a scan, a unique query string). A small probationary FIFO (10% of the bytes) filters
// those out before they can push popular entries out of the main FIFO; a ghost FIFO of
// recently evicted ids sends a returning id straight to main. Hits only bump a 2-bit
// counter (no list moves), so lookups stay cheap. On skewed traces it beats LRU's hit ratio
// (bench/micro/cache_hit_ratio_bench.cpp measures it against LRU on a Zipf trace).
//
// Ids are the store's (any uint64_t unique among live entries); sizes are bytes.

#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>
#include <unordered_set>

namespace bulwark::cache {

class S3Fifo {
 public:
  explicit S3Fifo(uint64_t capacity_bytes);

  // Records a new id of `size` bytes (not already present). Does not evict: the caller
  // calls evict() while over_budget().
  void admit(uint64_t id, uint64_t size);
  // An access to a live id (a hit).
  void touch(uint64_t id);
  // Forgets a live id removed by the store itself (invalidated, replaced, purged).
  void erase(uint64_t id);
  bool over_budget() const { return used_ > capacity_; }
  // The id to evict next (already forgotten here), or nullopt when nothing is held.
  std::optional<uint64_t> evict();

  uint64_t used_bytes() const { return used_; }
  uint64_t capacity_bytes() const { return capacity_; }
  size_t size() const;

 private:
  // implementation's choice
  uint64_t capacity_;
  uint64_t used_ = 0;
};

}  // namespace bulwark::cache
