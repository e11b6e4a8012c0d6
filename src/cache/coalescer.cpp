#include "cache/coalescer.hpp"

#include <algorithm>
#include <mutex>
#include <random>
#include <unordered_map>
#include <utility>
#include <vector>

#include "auth/token_cache.hpp"  // siphash_1_3_128

namespace bulwark::cache {
namespace {

constexpr unsigned kMaxShards = 4096;

using HashKey = std::array<uint8_t, 16>;

struct KeyHash {
  using is_transparent = void;
  const HashKey* key = nullptr;
  size_t operator()(std::string_view s) const noexcept { return auth::siphash_1_3_128(*key, s).lo; }
};

}  // namespace

struct alignas(64) Coalescer::Shard {
  mutable std::mutex mutex;
  // Running flights: key → the followers waiting on it.
  std::unordered_map<std::string, std::vector<Waiter*>, KeyHash, std::equal_to<>> flights;
};

Coalescer::Flight::Flight(Flight&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)), key_(std::move(other.key_)) {}

Coalescer::Flight& Coalescer::Flight::operator=(Flight&& other) noexcept {
  if (this != &other) {
    finish();  // the flight this one led ends here, as it would in the destructor
    owner_ = std::exchange(other.owner_, nullptr);
    key_ = std::move(other.key_);
  }
  return *this;
}

Coalescer::Flight::~Flight() {
  finish();
}

void Coalescer::Flight::finish() {
  if (owner_ == nullptr) return;
  std::exchange(owner_, nullptr)->finish(key_);
}

Coalescer::Coalescer(unsigned shards) : shard_count_(std::clamp(shards, 1u, kMaxShards)) {
  std::random_device random;
  for (std::size_t i = 0; i < hash_key_.size(); i += 4) {
    const uint32_t word = random();
    for (std::size_t b = 0; b < 4; ++b) hash_key_[i + b] = static_cast<uint8_t>(word >> (8 * b));
  }
  shards_ = std::make_unique<Shard[]>(shard_count_);
  for (unsigned i = 0; i < shard_count_; ++i) {
    shards_[i].flights = decltype(Shard::flights)(0, KeyHash{&hash_key_});
  }
}

Coalescer::~Coalescer() = default;

Coalescer::Shard& Coalescer::shard_of(std::string_view key) const {
  const uint64_t hash = auth::siphash_1_3_128(hash_key_, key).hi;
  return shards_[static_cast<uint64_t>((static_cast<unsigned __int128>(hash) * shard_count_) >>
                                       64)];
}

Coalescer::Flight Coalescer::join(std::string_view key, Waiter& waiter) {
  Shard& shard = shard_of(key);
  std::lock_guard lock(shard.mutex);
  const auto it = shard.flights.find(key);
  if (it == shard.flights.end()) {
    shard.flights.emplace(std::string(key), std::vector<Waiter*>{});
    return Flight(this, std::string(key));
  }
  it->second.push_back(&waiter);
  return Flight();
}

void Coalescer::leave(std::string_view key, Waiter& waiter) {
  Shard& shard = shard_of(key);
  std::lock_guard lock(shard.mutex);
  const auto it = shard.flights.find(key);
  if (it == shard.flights.end()) return;  // already woken: the flight is gone
  std::vector<Waiter*>& waiters = it->second;
  const auto w = std::find(waiters.begin(), waiters.end(), &waiter);
  if (w != waiters.end()) waiters.erase(w);
}

Coalescer::Flight Coalescer::try_lead(std::string_view key) {
  Shard& shard = shard_of(key);
  std::lock_guard lock(shard.mutex);
  if (shard.flights.contains(key)) return Flight();
  shard.flights.emplace(std::string(key), std::vector<Waiter*>{});
  return Flight(this, std::string(key));
}

void Coalescer::finish(const std::string& key) {
  Shard& shard = shard_of(key);
  std::lock_guard lock(shard.mutex);
  auto node = shard.flights.extract(key);
  if (node.empty()) return;
  // Woken under the lock: a follower's leave() on another thread waits for this, so no
  // waiter is freed while its wake() runs (see the header).
  for (Waiter* w : node.mapped()) w->wake();
}

uint64_t Coalescer::in_flight() const {
  uint64_t total = 0;
  for (unsigned i = 0; i < shard_count_; ++i) {
    std::lock_guard lock(shards_[i].mutex);
    total += shards_[i].flights.size();
  }
  return total;
}

}  // namespace bulwark::cache
