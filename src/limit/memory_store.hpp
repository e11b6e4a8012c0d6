#pragma once
// The in-memory Store: GCRA state for one bulwark instance, shared by all its worker threads.
//
// Keys. A key is never stored: each is reduced to a 128-bit SipHash-1-3 digest under a secret
// key drawn at construction (auth::siphash_1_3_128, also the token cache's hash), and the
// digest is the key's identity. Entries are fixed-size whatever the key's length, no heap
// block per key, and nobody outside the process can aim keys at one shard or bucket (hash
// flooding degrades nothing). Two different keys share a counter only if their digests
// collide: with n keys held that is about n^2 / 2^129 (1e-27 for a million keys), and it
// cannot be provoked without the secret. The worst outcome would be two clients sharing one
// allowance; nothing here hands out data, so this is not a security boundary the way the
// token cache's is (which compares the full token).
//
// Layout. Shards (Options::shards, default 64), each behind its own mutex, chosen by the
// digest; a limit with max_keys below the shard count uses max_keys shards. Within a shard,
// one open-addressing table per limit (linear probing, 24-byte slots: digest + TAT, load
// factor at most 0.8, grown by doubling up to the size its share of max_keys needs).
// The same key under two limits lands in the same shard, so a route with "per second" and
// "per day" limits on the client IP takes one lock.
//
// check_all takes the locks of every shard its checks touch in ascending shard order (all
// callers agree on that order, so no deadlock), decides every check, then either commits all
// TATs or none, and unlocks: the check-then-commit is atomic with respect to other callers.
// Keys are hashed before any lock is taken.
//
// Bound. At most max_keys keys per limit, split exactly across its shards (the shares differ
// by at most one), so a limit starts making room a little before it holds max_keys keys: the
// fullest shard fills first (a million live keys under max_keys 1M: 99.7% held). A new key
// arriving at a full share makes room first: a hand sweeps the next 64 slots of that table
// (wrapping, and resuming there next time, so it walks the whole table over successive
// fills), reclaiming every idle key it meets (TAT <= now: it holds no state, forgetting it
// changes no decision). Only when none of those is idle does it evict a live key: the one of
// them with the earliest TAT, i.e. the closest to idle, so its client regains at most
// (TAT - now) / T requests, the least of any key looked at. A key rate limited hard (TAT far
// ahead) is the last to go, so rotating through fresh keys does not wash out a throttled
// client. O(1) work per insertion; memory never grows past the bound. Idle keys are reclaimed
// when room is needed, not on a timer: size() counts them until then, and a table keeps the
// memory of its largest size. LimitStats counts both kinds of removal, so operators see a
// max_keys that is too small (live_evicted growing).
//
// Memory (x86-64). 24 bytes per slot, at a load factor between 0.4 and 0.8 while a table
// grows; a table at its share of max_keys has 1.25 slots per key: 30 bytes per key, nothing
// else per key. Measured with a million IPv4 keys (limit_bench, BM_LimitMemoryPerKey, the
// store's account and the heap's agree within 0.3%): 30.0 bytes per key for a limit filled to
// max_keys (500k of them), 30.1 with max_keys 1M, 50.3 with room for 2M or 10M (tables that
// doubled to 32768 slots for ~15600 keys each). bytes_per_key_estimate() is the 30.
//
// Speed (limit_bench, 2-core VM): one check on a hot key ~25-30 ns (the keyed hash ~12 of
// them); on a million distinct keys ~280 ns, nearly all of it the one cache miss on the
// key's slot (a dependent load from 32 MB costs ~220 ns on that machine).

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "limit/store.hpp"

namespace bulwark::limit {

class MemoryStore final : public Store {
 public:
  struct Options {
    std::size_t shards = 64;  // clamped to [1, 4096]
  };

  // Counters of one limit since it was declared (or re-declared with another bound).
  struct LimitStats {
    std::size_t keys = 0;         // held now
    uint64_t idle_reclaimed = 0;  // idle keys forgotten to make room (harmless)
    uint64_t live_evicted = 0;    // live keys forgotten to make room (max_keys too small)
  };

  MemoryStore();  // default Options
  explicit MemoryStore(Options options);
  ~MemoryStore() override;
  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

  // Declares limit `limit_id` (ids dense from 0) with room for `max_keys` keys (0 counts as
  // 1). Called at config load; safe while other threads call check_all (a reload). Declaring
  // a limit again with the same bound keeps its state; with another bound, its keys are
  // forgotten (they start idle).
  void set_limit_capacity(uint32_t limit_id, std::size_t max_keys);

  // Store::check_all. Throws std::invalid_argument when `results` is shorter than `checks`,
  // std::out_of_range for a limit id never declared (both are bugs in the caller; nothing is
  // checked or consumed then).
  bool check_all(std::span<const LimitCheck> checks, int64_t now_ns,
                 std::span<LimitResult> results) override;

  // These lock each shard in turn: for tests, metrics and the status page, not per request.
  std::size_t size(uint32_t limit_id) const;  // keys held
  LimitStats stats(uint32_t limit_id) const;
  std::size_t memory_bytes() const;  // the tables' slots plus the shards' fixed parts

  // Bytes per key of a limit filled to its max_keys (see "Memory" above).
  static std::size_t bytes_per_key_estimate() noexcept;

 private:
  struct Shard;
  struct Layout;
  struct Layouts;
  struct Pending;

  std::optional<bool> try_check_all(std::span<const LimitCheck> checks, int64_t now_ns,
                                    std::span<LimitResult> results, std::span<Pending> pending);

  bool check_one(const LimitCheck& check, int64_t now_ns, LimitResult& result);

  std::array<uint8_t, 16> hash_key_{};
  std::size_t shard_count_ = 0;
  std::unique_ptr<Shard[]> shards_;

  // Declared limits: an immutable array, replaced whole by set_limit_capacity and read
  // without a lock by check_all. Replaced arrays are kept until destruction (a reader may
  // still hold one; there are as many as config loads that changed a bound).
  std::atomic<const Layouts*> layouts_{nullptr};
  std::mutex config_mutex_;
  std::vector<std::unique_ptr<const Layouts>> all_layouts_;
  uint32_t next_generation_ = 1;
};

}  // namespace bulwark::limit
