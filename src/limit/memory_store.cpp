#include "limit/memory_store.hpp"

#include <algorithm>
#include <limits>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>

#include "auth/token_cache.hpp"  // siphash_1_3_128

namespace bulwark::limit {
namespace {

constexpr std::size_t kMaxShards = 4096;
constexpr uint32_t kFirstSlots = 16;
constexpr uint32_t kSweepWindow = 64;     // slots the hand looks at to make room
constexpr std::size_t kInlineChecks = 4;  // checks per request handled without allocating

// One key: its digest (h0 == 0 marks an empty slot) and its TAT.
struct Slot {
  uint64_t h0 = 0;
  uint64_t h1 = 0;
  int64_t tat = 0;
};
static_assert(sizeof(Slot) == 24);

// Slots a share of `max_keys` keys ends with: load factor <= 0.8, and always one empty slot
// so that every probe ends.
uint32_t final_slots(uint32_t max_keys) {
  return static_cast<uint32_t>(std::min<uint64_t>(uint64_t{max_keys} + max_keys / 4 + 1,
                                                  std::numeric_limits<uint32_t>::max()));
}

// Maps a 64-bit hash onto [0, n) with a multiply (Lemire's fastrange): no division, and
// n need not be a power of two.
inline uint32_t fastrange(uint64_t hash, uint32_t n) {
  return static_cast<uint32_t>((static_cast<unsigned __int128>(hash) * n) >> 64);
}

// One limit's keys in one shard.
struct Table {
  std::unique_ptr<Slot[]> slots;
  uint32_t slot_count = 0;
  uint32_t size = 0;
  uint32_t max_keys = 0;  // this shard's share of the limit's bound
  uint32_t hand = 0;      // where the next sweep for room starts
  uint32_t generation = 0;
  uint64_t idle_reclaimed = 0;
  uint64_t live_evicted = 0;

  void reset(uint32_t share, uint32_t gen) {
    *this = Table{};
    max_keys = share;
    generation = gen;
  }

  uint32_t home(uint64_t h0) const { return fastrange(h0, slot_count); }
  uint32_t next(uint32_t i) const { return i + 1 == slot_count ? 0 : i + 1; }

  // The key's slot (found = true) or the empty slot where the probe ended.
  uint32_t probe(uint64_t h0, uint64_t h1, bool& found) const {
    uint32_t i = home(h0);
    for (;;) {
      const Slot& s = slots[i];
      if (s.h0 == h0 && s.h1 == h1) {
        found = true;
        return i;
      }
      if (s.h0 == 0) {
        found = false;
        return i;
      }
      i = next(i);
    }
  }

  // Backward-shift deletion (linear probing without tombstones): entries after the hole
  // that may live there move back, so every probe still finds its key.
  void erase(uint32_t hole) {
    uint32_t j = hole;
    for (;;) {
      j = next(j);
      if (slots[j].h0 == 0) break;
      const uint32_t k = home(slots[j].h0);
      const bool movable = hole <= j ? (k <= hole || k > j) : (k <= hole && k > j);
      if (movable) {
        slots[hole] = slots[j];
        hole = j;
      }
    }
    slots[hole] = Slot{};
    --size;
  }

  void rehash(uint32_t count) {
    auto fresh = std::make_unique<Slot[]>(count);
    std::swap(slots, fresh);
    const uint32_t old_count = slot_count;
    slot_count = count;
    hand = 0;
    for (uint32_t i = 0; i < old_count; ++i) {
      if (fresh[i].h0 == 0) continue;
      uint32_t j = home(fresh[i].h0);
      while (slots[j].h0 != 0) j = next(j);
      slots[j] = fresh[i];
    }
  }

  // Frees one slot or more in a table holding max_keys keys (see the header).
  void make_room(int64_t now_ns) {
    const uint32_t window = std::min(kSweepWindow, slot_count);
    uint32_t freed = 0;
    uint32_t oldest = slot_count;  // the live key closest to idle, while nothing was freed
    uint32_t i = hand;
    // Looks at `window` slots, and on (in a table this sparse only after shrinking to tiny
    // shares) until it has seen at least one key. Each erase pulls a later entry back into
    // slot i, which is looked at again.
    for (uint32_t looked = 0; looked < window || (freed == 0 && oldest == slot_count); ++looked) {
      const Slot& s = slots[i];
      if (s.h0 != 0 && s.tat <= now_ns) {
        erase(i);
        ++freed;
        continue;
      }
      if (s.h0 != 0 && freed == 0 && (oldest == slot_count || s.tat < slots[oldest].tat)) {
        oldest = i;
      }
      i = next(i);
    }
    hand = i;
    if (freed > 0) {
      idle_reclaimed += freed;
      return;
    }
    erase(oldest);
    ++live_evicted;
  }

  // Stores a key known to be absent.
  void insert(uint64_t h0, uint64_t h1, int64_t tat, int64_t now_ns) {
    if (max_keys == 0) return;  // a shard the limit does not use (never reached)
    if (size >= max_keys) {
      make_room(now_ns);
    } else if (slot_count == 0 || (uint64_t{size} + 1) * 5 > uint64_t{slot_count} * 4) {
      const uint32_t last = final_slots(max_keys);
      if (slot_count < last) {
        rehash(static_cast<uint32_t>(
            std::min<uint64_t>(std::max<uint64_t>(uint64_t{slot_count} * 2, kFirstSlots), last)));
      }
    }
    bool found = false;
    const uint32_t i = probe(h0, h1, found);
    slots[i] = Slot{h0, h1, tat};
    ++size;
  }

  std::size_t bytes() const { return std::size_t{slot_count} * sizeof(Slot); }
};

}  // namespace

// One declared limit.
struct MemoryStore::Layout {
  bool declared = false;
  uint32_t generation = 0;
  uint32_t shards_used = 0;  // min(shards, max_keys)
  std::size_t max_keys = 0;

  uint32_t share(uint32_t shard) const {
    const std::size_t base = max_keys / shards_used;
    const std::size_t extra = shard < max_keys % shards_used ? 1 : 0;
    return static_cast<uint32_t>(
        std::min<std::size_t>(base + extra, std::numeric_limits<uint32_t>::max() - 1));
  }
  uint32_t shard_of(uint64_t h1) const { return fastrange(h1, shards_used); }
};

struct MemoryStore::Layouts {
  std::vector<Layout> limits;  // by limit id
};

struct alignas(64) MemoryStore::Shard {
  mutable std::mutex mutex;
  std::vector<Table> tables;  // by limit id; created when first used

  void reserve(uint32_t limit_id) {
    if (tables.size() <= limit_id) tables.resize(std::size_t{limit_id} + 1);
  }

  // The limit's table (reserved), brought up to `layout`'s generation; null when the caller's
  // layout is older than the table (a set_limit_capacity raced with the caller: start over).
  Table* table(uint32_t limit_id, const Layout& layout, uint32_t shard_index) {
    Table& t = tables[limit_id];
    if (t.generation == layout.generation) return &t;
    if (t.generation > layout.generation) return nullptr;
    t.reset(layout.share(shard_index), layout.generation);
    return &t;
  }
};

// A check between its decision and its commit.
struct MemoryStore::Pending {
  uint64_t h0 = 0;
  uint64_t h1 = 0;
  uint32_t shard = 0;
  const Layout* layout = nullptr;
  Table* table = nullptr;
  uint32_t slot = 0;
  bool found = false;
  int64_t tat = 0;  // the stored TAT (before this request)
  GcraDecision decision;
};

MemoryStore::MemoryStore(Options options) {
  shard_count_ = std::clamp<std::size_t>(options.shards, 1, kMaxShards);
  shards_ = std::make_unique<Shard[]>(shard_count_);
  std::random_device random;
  for (std::size_t i = 0; i < hash_key_.size(); i += 4) {
    const uint32_t word = random();
    for (std::size_t b = 0; b < 4; ++b) hash_key_[i + b] = static_cast<uint8_t>(word >> (8 * b));
  }
  auto empty = std::make_unique<const Layouts>();
  layouts_.store(empty.get(), std::memory_order_release);
  all_layouts_.push_back(std::move(empty));
}

MemoryStore::MemoryStore() : MemoryStore(Options{}) {}

MemoryStore::~MemoryStore() = default;

void MemoryStore::set_limit_capacity(uint32_t limit_id, std::size_t max_keys) {
  max_keys = std::max<std::size_t>(max_keys, 1);
  std::lock_guard config(config_mutex_);
  const Layouts& current = *layouts_.load(std::memory_order_acquire);
  if (limit_id < current.limits.size() && current.limits[limit_id].declared &&
      current.limits[limit_id].max_keys == max_keys) {
    return;
  }
  auto next = std::make_unique<Layouts>(current);
  if (next->limits.size() <= limit_id) next->limits.resize(std::size_t{limit_id} + 1);
  Layout& layout = next->limits[limit_id];
  layout.declared = true;
  layout.generation = next_generation_++;
  layout.max_keys = max_keys;
  layout.shards_used = static_cast<uint32_t>(std::min(shard_count_, max_keys));
  const Layout published = layout;
  layouts_.store(next.get(), std::memory_order_release);
  all_layouts_.push_back(std::move(next));

  // Drops the limit's old keys now rather than when each shard is next used, so shards it no
  // longer uses give their memory back too.
  for (uint32_t s = 0; s < shard_count_; ++s) {
    Shard& shard = shards_[s];
    std::lock_guard lock(shard.mutex);
    if (shard.tables.size() <= limit_id) continue;
    Table& t = shard.tables[limit_id];
    if (t.generation < published.generation) {
      t.reset(s < published.shards_used ? published.share(s) : 0, published.generation);
    }
  }
}

bool MemoryStore::check_all(std::span<const LimitCheck> checks, int64_t now_ns,
                            std::span<LimitResult> results) {
  if (results.size() < checks.size()) {
    throw std::invalid_argument("limit: fewer results than checks");
  }
  if (checks.empty()) return true;
  if (checks.size() == 1) return check_one(checks[0], now_ns, results[0]);

  std::array<Pending, kInlineChecks> inline_pending;
  std::vector<Pending> heap_pending;
  std::span<Pending> pending(inline_pending.data(), checks.size());
  if (checks.size() > kInlineChecks) {
    heap_pending.resize(checks.size());
    pending = heap_pending;
  }
  for (std::size_t i = 0; i < checks.size(); ++i) {
    const auto digest = auth::siphash_1_3_128(hash_key_, checks[i].key);
    pending[i].h0 = digest.lo == 0 ? 1 : digest.lo;
    pending[i].h1 = digest.hi;
  }
  for (;;) {
    const Layouts& layouts = *layouts_.load(std::memory_order_acquire);
    for (std::size_t i = 0; i < checks.size(); ++i) {
      const uint32_t id = checks[i].limit_id;
      if (id >= layouts.limits.size() || !layouts.limits[id].declared) {
        throw std::out_of_range("limit: undeclared limit id " + std::to_string(id));
      }
      pending[i].layout = &layouts.limits[id];
      pending[i].shard = pending[i].layout->shard_of(pending[i].h1);
    }
    if (const auto allowed = try_check_all(checks, now_ns, results, pending)) return *allowed;
  }
}

// check_all for a single check: the same steps without the bookkeeping for several.
bool MemoryStore::check_one(const LimitCheck& check, int64_t now_ns, LimitResult& result) {
  const auto digest = auth::siphash_1_3_128(hash_key_, check.key);
  const uint64_t h0 = digest.lo == 0 ? 1 : digest.lo;
  const uint64_t h1 = digest.hi;
  for (;;) {
    const Layouts& layouts = *layouts_.load(std::memory_order_acquire);
    const uint32_t id = check.limit_id;
    if (id >= layouts.limits.size() || !layouts.limits[id].declared) {
      throw std::out_of_range("limit: undeclared limit id " + std::to_string(id));
    }
    const Layout& layout = layouts.limits[id];
    const uint32_t shard_index = layout.shard_of(h1);
    Shard& shard = shards_[shard_index];
    std::lock_guard lock(shard.mutex);
    shard.reserve(id);
    Table* table = shard.table(id, layout, shard_index);
    if (table == nullptr) continue;  // the layouts changed under us: start over

    bool found = false;
    uint32_t slot = 0;
    int64_t tat = 0;
    if (table->slot_count != 0) {
      slot = table->probe(h0, h1, found);
      if (found) tat = table->slots[slot].tat;
    }
    const GcraDecision d = gcra_check(tat, now_ns, check.params, check.cost);
    if (d.allowed) {
      if (found) {
        table->slots[slot].tat = d.new_tat_ns;
      } else {
        table->insert(h0, h1, d.new_tat_ns, now_ns);
      }
    }
    result = LimitResult{.allowed = d.allowed,
                         .retry_after_ns = d.retry_after_ns,
                         .remaining = d.remaining,
                         .reset_ns = d.reset_ns};
    return d.allowed;
  }
}

// One attempt under one snapshot of the layouts (pending[i].layout, .shard): whether the
// request was allowed, or nullopt when a concurrent set_limit_capacity made the snapshot stale
// (nothing was changed then).
std::optional<bool> MemoryStore::try_check_all(std::span<const LimitCheck> checks, int64_t now_ns,
                                               std::span<LimitResult> results,
                                               std::span<Pending> pending) {
  const std::size_t n = checks.size();

  // The shards to lock, ascending and distinct.
  std::array<uint32_t, kInlineChecks> inline_order;
  std::vector<uint32_t> heap_order;
  std::span<uint32_t> order(inline_order.data(), n);
  if (n > kInlineChecks) {
    heap_order.resize(n);
    order = heap_order;
  }
  for (std::size_t i = 0; i < n; ++i) {  // insertion sort: n is a handful
    std::size_t j = i;
    for (; j > 0 && order[j - 1] > pending[i].shard; --j) order[j] = order[j - 1];
    order[j] = pending[i].shard;
  }
  const std::size_t distinct =
      static_cast<std::size_t>(std::unique(order.begin(), order.end()) - order.begin());
  struct Locks {  // unlocks on every way out, exceptions (bad_alloc while growing) included
    Shard* shards;
    const uint32_t* order;
    std::size_t held = 0;
    ~Locks() {
      for (std::size_t i = held; i > 0; --i) shards[order[i - 1]].mutex.unlock();
    }
  } locks{shards_.get(), order.data()};
  for (; locks.held < distinct; ++locks.held) shards_[order[locks.held]].mutex.lock();

  // Tables first (creating one may move the shard's others), then pointers to them.
  for (std::size_t i = 0; i < n; ++i) shards_[pending[i].shard].reserve(checks[i].limit_id);
  for (std::size_t i = 0; i < n; ++i) {
    Pending& p = pending[i];
    p.table = shards_[p.shard].table(checks[i].limit_id, *p.layout, p.shard);
    if (p.table == nullptr) return std::nullopt;
  }

  // Decide every check, each seeing the ones before it (the same key twice counts twice).
  bool all_allowed = true;
  for (std::size_t i = 0; i < n; ++i) {
    Pending& p = pending[i];
    p.found = false;
    p.tat = 0;
    if (p.table->slot_count != 0) {
      p.slot = p.table->probe(p.h0, p.h1, p.found);
      if (p.found) p.tat = p.table->slots[p.slot].tat;
    }
    int64_t tat = p.tat;
    for (std::size_t j = i; j > 0; --j) {
      const Pending& earlier = pending[j - 1];
      if (earlier.table == p.table && earlier.h0 == p.h0 && earlier.h1 == p.h1) {
        tat = earlier.decision.new_tat_ns;
        break;
      }
    }
    p.decision = gcra_check(tat, now_ns, checks[i].params, checks[i].cost);
    all_allowed = all_allowed && p.decision.allowed;
  }

  if (all_allowed) {
    // Commit in order. An insertion may move other entries (growth, room-making), after which
    // the slots found above are re-probed.
    bool moved = false;
    for (std::size_t i = 0; i < n; ++i) {
      Pending& p = pending[i];
      Table& t = *p.table;
      const int64_t tat = p.decision.new_tat_ns;
      if (moved && t.slot_count != 0) p.slot = t.probe(p.h0, p.h1, p.found);
      if (p.found) {
        t.slots[p.slot].tat = tat;
      } else {
        t.insert(p.h0, p.h1, tat, now_ns);
        moved = true;
      }
      const GcraDecision& d = p.decision;
      results[i] = LimitResult{
          .allowed = true, .retry_after_ns = 0, .remaining = d.remaining, .reset_ns = d.reset_ns};
    }
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      const Pending& p = pending[i];
      const GcraDecision& d = p.decision;
      if (d.allowed) {
        const GcraState state = gcra_state(p.tat, now_ns, checks[i].params);
        results[i] = LimitResult{.allowed = true,
                                 .retry_after_ns = 0,
                                 .remaining = state.remaining,
                                 .reset_ns = state.reset_ns};
      } else {
        results[i] = LimitResult{.allowed = false,
                                 .retry_after_ns = d.retry_after_ns,
                                 .remaining = d.remaining,
                                 .reset_ns = d.reset_ns};
      }
    }
  }
  return all_allowed;
}

std::size_t MemoryStore::size(uint32_t limit_id) const {
  return stats(limit_id).keys;
}

MemoryStore::LimitStats MemoryStore::stats(uint32_t limit_id) const {
  const Layouts& layouts = *layouts_.load(std::memory_order_acquire);
  LimitStats total;
  if (limit_id >= layouts.limits.size()) return total;
  const uint32_t generation = layouts.limits[limit_id].generation;
  for (std::size_t s = 0; s < shard_count_; ++s) {
    const Shard& shard = shards_[s];
    std::lock_guard lock(shard.mutex);
    if (shard.tables.size() <= limit_id) continue;
    const Table& t = shard.tables[limit_id];
    if (t.generation != generation) continue;
    total.keys += t.size;
    total.idle_reclaimed += t.idle_reclaimed;
    total.live_evicted += t.live_evicted;
  }
  return total;
}

std::size_t MemoryStore::memory_bytes() const {
  std::size_t total = sizeof(*this) + shard_count_ * sizeof(Shard);
  for (std::size_t s = 0; s < shard_count_; ++s) {
    const Shard& shard = shards_[s];
    std::lock_guard lock(shard.mutex);
    total += shard.tables.capacity() * sizeof(Table);
    for (const Table& t : shard.tables) total += t.bytes();
  }
  return total;
}

std::size_t MemoryStore::bytes_per_key_estimate() noexcept {
  return sizeof(Slot) * 5 / 4;  // 1.25 slots per key at max_keys
}

}  // namespace bulwark::limit
