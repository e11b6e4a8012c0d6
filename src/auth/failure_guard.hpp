#pragma once
// The brute-force guard (DESIGN.md: repeated failures from one client are rate limited):
// counts failed authentications per client address with GCRA (`limit` per `per`, bursts up
// to `limit`), and once a client goes over, refuses it for `cooldown`. In memory, shared by
// the workers (sharded, each shard behind its own mutex), bounded in size.
//
// Clients are IPv4 addresses, or IPv6 /64 networks: one IPv6 host usually owns a whole /64,
// so counting single IPv6 addresses would let it rotate through 2^64 of them.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace bulwark::auth {

class FailureGuard {
 public:
  using Clock = std::chrono::steady_clock;
  using Address = std::array<uint8_t, 16>;  // IPv6, or IPv4-mapped IPv6

  struct Options {
    uint64_t limit = 20;
    std::chrono::milliseconds per{std::chrono::minutes(1)};
    std::chrono::milliseconds cooldown{std::chrono::minutes(5)};
    std::size_t max_clients = 100'000;  // tracked at once; idle ones are forgotten first
  };

  explicit FailureGuard(Options options);
  ~FailureGuard();

  // Time left in the client's cooldown, or nullopt when it may try.
  std::optional<Clock::duration> blocked_for(const Address& client, Clock::time_point now);

  // Records one failed authentication. True when this failure went over the limit and
  // started the cooldown.
  bool record_failure(const Address& client, Clock::time_point now);

  const Options& options() const noexcept { return options_; }
  std::size_t tracked_clients() const;

 private:
  struct Shard;
  Shard& shard_for(uint64_t key) const;
  Options options_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace bulwark::auth
