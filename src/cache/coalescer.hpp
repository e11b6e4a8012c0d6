#pragma once
// Request coalescing: concurrent misses for one key send one request upstream. The first
// caller for a key leads (goes upstream, then calls finish); later callers follow (wait
// until woken or their own deadline, then look in the store again). Thread-safe: callers
// on different worker threads coalesce too. Pure of I/O: a follower's way of waiting is its
// own (the server's waiter posts to its io_context).
//
// A leader that never calls finish (its client went away mid-way) must still end the
// flight: Flight is an RAII handle whose destructor finishes it.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace bulwark::cache {

class Coalescer {
 public:
  // Woken once, from any thread, when the flight it waits on ends. Must stay valid until
  // woken or until leave() returned. wake() runs under the coalescer's shard lock (so that
  // a concurrent leave() cannot free the waiter mid-call): it must only post work
  // elsewhere, never call back into the coalescer.
  class Waiter {
   public:
    virtual ~Waiter() = default;
    virtual void wake() = 0;
  };

  class Flight {
   public:
    Flight() = default;
    Flight(Flight&& other) noexcept;
    Flight& operator=(Flight&& other) noexcept;
    ~Flight();
    bool leads() const { return owner_ != nullptr; }
    // Ends the flight now: every follower is woken.
    void finish();

   private:
    friend class Coalescer;
    Flight(Coalescer* owner, std::string key) : owner_(owner), key_(std::move(key)) {}
    Coalescer* owner_ = nullptr;
    std::string key_;
  };

  explicit Coalescer(unsigned shards = 32);
  ~Coalescer();

  // Leads when no flight for `key` is running (the returned Flight leads()); otherwise
  // registers `waiter` on the running flight and returns a Flight that does not lead.
  Flight join(std::string_view key, Waiter& waiter);
  // Takes a follower's waiter off its flight (it stopped waiting). Safe after it was woken.
  void leave(std::string_view key, Waiter& waiter);
  // Leads when no flight for `key` is running; never waits (for background refreshes).
  Flight try_lead(std::string_view key);

  uint64_t in_flight() const;

 private:
  // Flights live in shards (a mutex and a hash map each), picked by SipHash-1-3 of the key
  // under a secret drawn at construction: keys come from requests, so they must not be
  // aimable at one shard or one bucket chain.
  struct Shard;
  void finish(const std::string& key);
  Shard& shard_of(std::string_view key) const;

  std::array<uint8_t, 16> hash_key_{};
  std::unique_ptr<Shard[]> shards_;
  unsigned shard_count_;
};

}  // namespace bulwark::cache
