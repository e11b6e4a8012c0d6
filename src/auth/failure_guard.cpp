#include "auth/failure_guard.hpp"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <unordered_map>

namespace bulwark::auth {
namespace {

constexpr std::size_t kShards = 16;

struct ClientKey {
  uint64_t hi = 0;  // the first 8 bytes: an IPv6 /64, or the IPv4-mapped prefix
  uint64_t lo = 0;  // the IPv4 address for mapped ones; 0 for IPv6 (counted per /64)
  friend bool operator==(const ClientKey&, const ClientKey&) = default;
};

struct ClientKeyHash {
  std::size_t operator()(const ClientKey& k) const noexcept {
    uint64_t x = k.hi * 0x9E3779B97F4A7C15ull ^ (k.lo + 0x632BE59BD9B4E019ull);
    x ^= x >> 31;
    x *= 0xD6E8FEB86659FD93ull;
    return static_cast<std::size_t>(x ^ (x >> 32));
  }
};

bool is_v4_mapped(const FailureGuard::Address& a) {
  static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(a.data(), kPrefix, sizeof kPrefix) == 0;
}

ClientKey key_of(const FailureGuard::Address& a) {
  ClientKey key;
  std::memcpy(&key.hi, a.data(), 8);
  if (is_v4_mapped(a)) std::memcpy(&key.lo, a.data() + 8, 8);
  return key;
}

struct ClientState {
  FailureGuard::Clock::time_point tat{};  // GCRA theoretical arrival time
  FailureGuard::Clock::time_point blocked_until{};
};

}  // namespace

struct FailureGuard::Shard {
  std::mutex mutex;
  std::unordered_map<ClientKey, ClientState, ClientKeyHash> clients;
  std::size_t capacity = 0;

  // Forgets clients with nothing left to remember; if that frees nothing, the one whose
  // state ends soonest.
  void make_room(Clock::time_point now) {
    std::erase_if(clients, [&](const auto& entry) {
      return entry.second.tat <= now && entry.second.blocked_until <= now;
    });
    if (clients.size() < capacity || clients.empty()) return;
    auto soonest = std::min_element(clients.begin(), clients.end(), [](auto& a, auto& b) {
      return std::max(a.second.tat, a.second.blocked_until) <
             std::max(b.second.tat, b.second.blocked_until);
    });
    clients.erase(soonest);
  }
};

FailureGuard::FailureGuard(Options options) : options_(options) {
  options_.limit = std::max<uint64_t>(options_.limit, 1);
  options_.per = std::max(options_.per, std::chrono::milliseconds(1));
  const std::size_t shards = std::clamp<std::size_t>(options_.max_clients, 1, kShards);
  for (std::size_t i = 0; i < shards; ++i) {
    auto shard = std::make_unique<Shard>();
    shard->capacity = std::max<std::size_t>(options_.max_clients / shards, 1);
    shards_.push_back(std::move(shard));
  }
}

FailureGuard::~FailureGuard() = default;

FailureGuard::Shard& FailureGuard::shard_for(uint64_t hash) const {
  return *shards_[hash % shards_.size()];
}

std::optional<FailureGuard::Clock::duration> FailureGuard::blocked_for(const Address& client,
                                                                       Clock::time_point now) {
  const ClientKey key = key_of(client);
  Shard& shard = shard_for(ClientKeyHash{}(key));
  std::lock_guard lock(shard.mutex);
  auto found = shard.clients.find(key);
  if (found == shard.clients.end() || found->second.blocked_until <= now) return std::nullopt;
  return found->second.blocked_until - now;
}

bool FailureGuard::record_failure(const Address& client, Clock::time_point now) {
  const ClientKey key = key_of(client);
  Shard& shard = shard_for(ClientKeyHash{}(key));
  std::lock_guard lock(shard.mutex);
  auto found = shard.clients.find(key);
  if (found == shard.clients.end()) {
    if (shard.clients.size() >= shard.capacity) shard.make_room(now);
    found = shard.clients.emplace(key, ClientState{}).first;
  }
  ClientState& state = found->second;
  if (state.blocked_until > now) return false;
  const Clock::duration interval = std::chrono::duration_cast<Clock::duration>(options_.per) /
                                   static_cast<int64_t>(options_.limit);
  const Clock::time_point tat = std::max(state.tat, now) + interval;
  if (tat - now > options_.per) {
    state.blocked_until = now + options_.cooldown;
    state.tat = now;
    return true;
  }
  state.tat = tat;
  return false;
}

std::size_t FailureGuard::tracked_clients() const {
  std::size_t total = 0;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    total += shard->clients.size();
  }
  return total;
}

}  // namespace bulwark::auth
