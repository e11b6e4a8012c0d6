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
//
// Choices (the paper counts objects; this counts bytes):
// - Small FIFO: capacity / 10 bytes; main: the rest. evict() takes from small while small
//   holds more than its share (or main is empty), else from main.
// - Frequency: 2 bits (0..3), bumped by touch(). Leaving small with freq > 0 moves an entry
//   to main's head with freq 0; main's tail with freq > 0 is decremented and reinserted at
//   the head (at most 3 laps per entry), freq 0 is evicted.
// - Ghost: ids evicted from small (never those from main), remembered in FIFO order while
//   their sizes sum to at most main's capacity (the paper's "as many as main holds", in
//   bytes; a size-0 entry counts as 1 so the count is bounded too). An admitted id found
//   there goes to main with freq 0 and leaves the ghost.
// - An entry larger than the whole small queue is admitted to main directly: in small it
//   would be alone and over its share, so evicted before it could ever be touched.
// - Queues are doubly linked lists with an id index, so erase() is exact O(1) (no
//   tombstones) and moves between queues are splices (no allocation on the eviction path).

#include <cstdint>
#include <list>
#include <optional>
#include <unordered_map>

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
  enum class Queue : uint8_t { kSmall, kMain };
  struct Item {
    uint64_t id;
    uint64_t size;
    uint8_t freq;  // 0..3
    Queue queue;
  };
  struct Ghost {
    uint64_t id;
    uint64_t weight;  // max(size, 1)
  };
  using Items = std::list<Item>;    // head = front (newest), tail = back
  using Ghosts = std::list<Ghost>;  // front = newest
  using GhostIndex = std::unordered_map<uint64_t, Ghosts::iterator>;

  void unlink(Items::iterator item);  // out of its queue and the byte counts, not live_
  void forget_ghost(GhostIndex::iterator g);
  std::optional<uint64_t> evict_small();
  std::optional<uint64_t> evict_main();
  void remember(uint64_t id, uint64_t size);
  Items& list_of(Queue q) { return q == Queue::kSmall ? small_ : main_; }
  uint64_t& used_of(Queue q) { return q == Queue::kSmall ? small_used_ : main_used_; }

  uint64_t capacity_;
  uint64_t small_capacity_;
  uint64_t main_capacity_;
  uint64_t used_ = 0;  // small_used_ + main_used_
  uint64_t small_used_ = 0;
  uint64_t main_used_ = 0;
  Items small_;
  Items main_;
  std::unordered_map<uint64_t, Items::iterator> live_;
  Ghosts ghost_;
  GhostIndex ghost_index_;
  uint64_t ghost_weight_ = 0;
};

}  // namespace bulwark::cache
