#include "auth/token_cache.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <atomic>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <unordered_map>
#include <utility>

#include "auth/jws.hpp"

namespace bulwark::auth {

namespace {

// ---- SipHash-c-d-128 ----------------------------------------------------------------------

inline uint64_t rotl(uint64_t x, int b) noexcept {
  return (x << b) | (x >> (64 - b));
}

// Little-endian load of `n` <= 8 bytes; GCC and Clang turn the full-width case into one mov.
inline uint64_t load_le(const unsigned char* p, std::size_t n) noexcept {
  uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}

inline uint64_t load_le64(const unsigned char* p) noexcept {
  return uint64_t{p[0]} | uint64_t{p[1]} << 8 | uint64_t{p[2]} << 16 | uint64_t{p[3]} << 24 |
         uint64_t{p[4]} << 32 | uint64_t{p[5]} << 40 | uint64_t{p[6]} << 48 | uint64_t{p[7]} << 56;
}

struct SipState {
  uint64_t v0, v1, v2, v3;

  void round() noexcept {
    v0 += v1;
    v1 = rotl(v1, 13);
    v1 ^= v0;
    v0 = rotl(v0, 32);
    v2 += v3;
    v3 = rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = rotl(v1, 17);
    v1 ^= v2;
    v2 = rotl(v2, 32);
  }
  uint64_t fold() const noexcept { return v0 ^ v1 ^ v2 ^ v3; }
};

// ---- the cache's storage --------------------------------------------------------------------

struct TokenHashHasher {
  // The words are already keyed-random: the low one is the bucket hash, the high one picks
  // the shard, so the two choices are independent.
  std::size_t operator()(const TokenHash& h) const noexcept {
    return static_cast<std::size_t>(h.lo);
  }
};

struct Slot {
  TokenHash hash;
  std::string token;  // the credential itself: compared on hit, never exposed
  std::shared_ptr<const VerifiedClaims> claims;
  int64_t expires_us = 0;  // exp, microseconds since the epoch (NumericDate precision)
  uint64_t generation = 0;
  bool used = false;
  bool referenced = false;  // CLOCK bit: set by a hit, cleared by the passing hand
};

constexpr int64_t kNoExpiry = std::numeric_limits<int64_t>::max();

int64_t micros_since_epoch(std::chrono::system_clock::time_point t) noexcept {
  // floor: with exp a whole number of microseconds, floor(now) < exp exactly when now < exp.
  return std::chrono::floor<std::chrono::microseconds>(t).time_since_epoch().count();
}

// Counters written under the shard mutex only (one writer at a time), read without it: a
// relaxed load + store is enough and avoids a locked read-modify-write per request.
inline void bump(std::atomic<uint64_t>& counter) noexcept {
  counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

template <int CompressionRounds, int FinalizationRounds>
TokenHash siphash_128(const std::array<uint8_t, 16>& key, std::string_view data) noexcept {
  const uint64_t k0 = load_le64(key.data());
  const uint64_t k1 = load_le64(key.data() + 8);
  SipState s{k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL, k0 ^ 0x6c7967656e657261ULL,
             k1 ^ 0x7465646279746573ULL};
  s.v1 ^= 0xee;  // the 128-bit output variant

  const auto compress = [&s](uint64_t m) {
    s.v3 ^= m;
    for (int i = 0; i < CompressionRounds; ++i) s.round();
    s.v0 ^= m;
  };
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const std::size_t n = data.size();
  const std::size_t whole = n & ~std::size_t{7};
  for (std::size_t i = 0; i < whole; i += 8) compress(load_le64(p + i));
  compress((uint64_t{n & 0xff} << 56) | load_le(p + whole, n - whole));

  s.v2 ^= 0xee;
  for (int i = 0; i < FinalizationRounds; ++i) s.round();
  TokenHash out;
  out.lo = s.fold();
  s.v1 ^= 0xdd;
  for (int i = 0; i < FinalizationRounds; ++i) s.round();
  out.hi = s.fold();
  return out;
}

}  // namespace

TokenHash siphash_2_4_128(const std::array<uint8_t, 16>& key, std::string_view data) noexcept {
  return siphash_128<2, 4>(key, data);
}

TokenHash siphash_1_3_128(const std::array<uint8_t, 16>& key, std::string_view data) noexcept {
  return siphash_128<1, 3>(key, data);
}

struct alignas(64) VerifiedTokenCache::Shard {
  explicit Shard(std::size_t capacity) : slots(capacity) {
    free.reserve(capacity);
    for (std::size_t i = capacity; i > 0; --i) free.push_back(static_cast<uint32_t>(i - 1));
    index.reserve(capacity);
  }

  void remove(uint32_t i) {
    Slot& slot = slots[i];
    index.erase(slot.hash);
    std::string().swap(slot.token);  // release the credential's bytes now
    slot.claims.reset();
    slot.used = false;
    slot.referenced = false;
    free.push_back(i);
  }

  // Drops every expired entry and every entry older than the newest generation seen, and
  // recomputes the earliest exp. Runs only when at least one such entry may exist.
  void purge(int64_t now_us) {
    int64_t earliest = kNoExpiry;
    for (uint32_t i = 0; i < slots.size(); ++i) {
      Slot& slot = slots[i];
      if (!slot.used) continue;
      if (now_us >= slot.expires_us || slot.generation != generation) {
        remove(i);
        bump(expirations);
      } else {
        earliest = std::min(earliest, slot.expires_us);
      }
    }
    earliest_expiry_us = earliest;
    stale_possible = false;
  }

  // A free slot, making room when full: expired and stale entries first, then CLOCK.
  uint32_t acquire(int64_t now_us) {
    if (free.empty() && (stale_possible || now_us >= earliest_expiry_us)) purge(now_us);
    while (free.empty()) {
      const auto i = static_cast<uint32_t>(hand);
      hand = (hand + 1 == slots.size()) ? 0 : hand + 1;
      Slot& slot = slots[i];
      if (!slot.used) continue;
      if (slot.referenced) {
        slot.referenced = false;  // second chance
        continue;
      }
      remove(i);
      bump(evictions);
    }
    const uint32_t i = free.back();
    free.pop_back();
    return i;
  }

  std::mutex mutex;
  std::vector<Slot> slots;
  std::vector<uint32_t> free;
  std::unordered_map<TokenHash, uint32_t, TokenHashHasher> index;
  std::size_t hand = 0;
  int64_t earliest_expiry_us = kNoExpiry;  // a lower bound of the entries' exp
  uint64_t generation = 0;                 // the newest key generation inserted here
  bool stale_possible = false;             // entries of an older generation may remain

  std::atomic<uint64_t> hits{0};
  std::atomic<uint64_t> misses{0};
  std::atomic<uint64_t> inserts{0};
  std::atomic<uint64_t> evictions{0};
  std::atomic<uint64_t> expirations{0};
};

VerifiedTokenCache::VerifiedTokenCache(Options options)
    : hash_for_testing_(options.hash_for_testing), capacity_(options.max_entries) {
  if (RAND_bytes(key_.data(), static_cast<int>(key_.size())) != 1) {
    throw std::runtime_error("token cache: RAND_bytes failed to draw the hash key");
  }
  if (capacity_ == 0) return;
  const std::size_t shard_count = std::clamp<std::size_t>(options.shards, 1, capacity_);
  shards_.reserve(shard_count);
  for (std::size_t i = 0; i < shard_count; ++i) {
    const std::size_t share = capacity_ / shard_count + (i < capacity_ % shard_count ? 1 : 0);
    shards_.push_back(std::make_unique<Shard>(share));
  }
}

VerifiedTokenCache::~VerifiedTokenCache() = default;

TokenHash VerifiedTokenCache::hash(std::string_view token) const noexcept {
  if (hash_for_testing_ != nullptr) return hash_for_testing_(token);
  return siphash_1_3_128(key_, token);
}

VerifiedTokenCache::Shard& VerifiedTokenCache::shard_for(const TokenHash& hash) const noexcept {
  return *shards_[hash.hi % shards_.size()];
}

std::shared_ptr<const VerifiedClaims> VerifiedTokenCache::lookup(
    std::string_view token, std::chrono::system_clock::time_point now, uint64_t key_generation) {
  if (shards_.empty()) return nullptr;
  const TokenHash h = hash(token);
  Shard& shard = shard_for(h);
  const int64_t now_us = micros_since_epoch(now);

  std::lock_guard lock(shard.mutex);
  const auto it = shard.index.find(h);
  if (it == shard.index.end()) {
    bump(shard.misses);
    return nullptr;
  }
  const uint32_t i = it->second;
  Slot& slot = shard.slots[i];
  if (slot.token != token) {  // a 128-bit collision: another token's entry
    bump(shard.misses);
    return nullptr;
  }
  if (now_us >= slot.expires_us || slot.generation < key_generation) {
    shard.remove(i);
    bump(shard.expirations);
    bump(shard.misses);
    return nullptr;
  }
  if (slot.generation != key_generation) {  // newer than the caller's key set: not for it
    bump(shard.misses);
    return nullptr;
  }
  slot.referenced = true;
  bump(shard.hits);
  return slot.claims;
}

bool VerifiedTokenCache::insert(std::string_view token,
                                std::shared_ptr<const VerifiedClaims> claims,
                                std::chrono::system_clock::time_point now,
                                uint64_t key_generation) {
  if (shards_.empty() || claims == nullptr || !claims->expires_at.has_value()) return false;
  if (token.empty() || token.size() > kMaxTokenBytes) return false;
  const int64_t expires_us = claims->expires_at->time_since_epoch().count();
  const int64_t now_us = micros_since_epoch(now);
  if (now_us >= expires_us) return false;

  const TokenHash h = hash(token);
  Shard& shard = shard_for(h);
  std::lock_guard lock(shard.mutex);
  if (key_generation < shard.generation) return false;
  if (key_generation > shard.generation) {
    shard.stale_possible = !shard.index.empty();
    shard.generation = key_generation;
  }

  if (const auto it = shard.index.find(h); it != shard.index.end()) {
    Slot& slot = shard.slots[it->second];
    if (slot.token == token) {  // verified again (e.g. by two workers at once): refresh
      slot.claims = std::move(claims);
      slot.expires_us = expires_us;
      slot.generation = key_generation;
      shard.earliest_expiry_us = std::min(shard.earliest_expiry_us, expires_us);
      return true;
    }
    shard.remove(it->second);  // a collision: the newest token takes the place
    bump(shard.evictions);
  }

  const uint32_t i = shard.acquire(now_us);
  Slot& slot = shard.slots[i];
  try {
    slot.token.assign(token);
    shard.index.emplace(h, i);
  } catch (...) {
    std::string().swap(slot.token);
    shard.free.push_back(i);
    throw;
  }
  slot.hash = h;
  slot.claims = std::move(claims);
  slot.expires_us = expires_us;
  slot.generation = key_generation;
  slot.used = true;
  slot.referenced = false;  // earns its second chance with a first hit
  shard.earliest_expiry_us = std::min(shard.earliest_expiry_us, expires_us);
  bump(shard.inserts);
  return true;
}

void VerifiedTokenCache::clear() {
  for (auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    for (uint32_t i = 0; i < shard->slots.size(); ++i) {
      if (!shard->slots[i].used) continue;
      shard->remove(i);
      bump(shard->expirations);
    }
    shard->earliest_expiry_us = kNoExpiry;
    shard->stale_possible = false;
  }
}

std::size_t VerifiedTokenCache::size() const {
  std::size_t total = 0;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    total += shard->index.size();
  }
  return total;
}

VerifiedTokenCache::Stats VerifiedTokenCache::stats() const noexcept {
  Stats s;
  for (const auto& shard : shards_) {
    s.hits += shard->hits.load(std::memory_order_relaxed);
    s.misses += shard->misses.load(std::memory_order_relaxed);
    s.inserts += shard->inserts.load(std::memory_order_relaxed);
    s.evictions += shard->evictions.load(std::memory_order_relaxed);
    s.expirations += shard->expirations.load(std::memory_order_relaxed);
  }
  return s;
}

std::size_t VerifiedTokenCache::fixed_bytes_per_entry() noexcept {
  // Slot + free-list index + hash-map node (next pointer + key/value pair, plus ~16 B of
  // malloc header) + one bucket pointer at load factor 1.
  constexpr std::size_t node = sizeof(void*) + sizeof(std::pair<const TokenHash, uint32_t>) + 16;
  return sizeof(Slot) + sizeof(uint32_t) + node + sizeof(void*);
}

}  // namespace bulwark::auth
