#pragma once
// The in-memory cache store: shared by all workers, sharded by URL key (a mutex per shard,
// held for a few hash-table operations; bodies are never copied under it), with a byte
// budget split evenly over the shards and S3-FIFO eviction per shard (cache/s3_fifo.hpp).
//
// Per shard: URL key → the variants stored for it (any identity, any Vary), each an entry
// of its own for eviction. A lookup finds the URL's variants, computes the request's
// variant key for each distinct Vary seen for that URL (usually one), and finds the entry.

#include <array>
#include <cstdint>
#include <memory>

#include "cache/store.hpp"

namespace bulwark::cache {

class MemoryStore final : public Store {
 public:
  struct Options {
    uint64_t memory_bytes = uint64_t{256} << 20;
    uint64_t max_object_bytes = uint64_t{1} << 20;  // bigger entries (charge) are refused
    unsigned shards = 32;
  };

  explicit MemoryStore(Options options);
  ~MemoryStore() override;

  std::shared_ptr<const Entry> lookup(std::string_view uri_key, std::string_view identity,
                                      std::span<const FieldLine> request_fields) override;
  bool insert(std::shared_ptr<const Entry> entry) override;
  void remove(const Entry& entry) override;
  uint64_t invalidate(std::string_view uri_key) override;
  uint64_t purge(std::string_view host, std::string_view path, bool prefix) override;
  StoreStats stats() const override;

  const Options& options() const { return options_; }

 private:
  // Shards. options().shards is the count in use: the one asked for (1..4096), lowered so
  // that each shard's budget (memory_bytes / shards, split evenly) fits at least four
  // objects of max_object_bytes: min(shards, memory_bytes / (4 * max_object_bytes)), at
  // least 1. Without that, an even split would quietly lower the object bound to
  // memory_bytes / shards. The even split means one shard cannot borrow another's unused
  // budget; keys are spread by a keyed hash, so shards fill alike. An entry larger than
  // its shard's budget (only possible when memory_bytes < 4 * max_object_bytes) is refused.
  //
  // Keys. URL keys and variant keys pick shards and hash-table buckets through SipHash-1-3
  // under a secret drawn at construction, so requests cannot be aimed at one chain. The
  // S3-FIFO id of an entry is derived from both digests, so an entry evicted and stored
  // again comes back with the same id and the ghost queue recognizes it.
  struct Shard;
  Shard& shard_of(uint64_t hash) const;

  Options options_;
  std::array<uint8_t, 16> hash_key_{};
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace bulwark::cache
