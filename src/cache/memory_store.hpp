#pragma once
// The in-memory cache store: shared by all workers, sharded by URL key (a mutex per shard,
// held for a few hash-table operations; bodies are never copied under it), with a byte
// budget split evenly over the shards and S3-FIFO eviction per shard (cache/s3_fifo.hpp).
//
// Per shard: URL key → the variants stored for it (any identity, any Vary), each an entry
// of its own for eviction. A lookup finds the URL's variants, computes the request's
// variant key for each distinct Vary seen for that URL (usually one), and finds the entry.

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
  uint64_t purge_prefix(std::string_view host, std::string_view path_prefix) override;
  StoreStats stats() const override;

  const Options& options() const { return options_; }

 private:
  struct Shard;
  Options options_;
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace bulwark::cache
