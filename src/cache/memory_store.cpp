#include "cache/memory_store.hpp"

#include <algorithm>
#include <mutex>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "auth/token_cache.hpp"  // siphash_1_3_128
#include "cache/key.hpp"
#include "cache/s3_fifo.hpp"

namespace bulwark::cache {
namespace {

constexpr uint64_t kMaxShards = 4096;
constexpr uint64_t kObjectsPerShard = 4;  // max-size objects a shard's budget must fit

using HashKey = std::array<uint8_t, 16>;

// A key with its digest computed once: it picks the shard and then the bucket.
struct Hashed {
  std::string_view text;
  uint64_t hash;
};

// Deliberately not noexcept: libstdc++ then stores each node's hash code, so walking a
// bucket compares codes instead of rehashing (SipHash) every key it passes.
struct KeyHash {
  using is_transparent = void;
  const HashKey* key = nullptr;
  size_t operator()(std::string_view s) const { return auth::siphash_1_3_128(*key, s).lo; }
  size_t operator()(const Hashed& h) const { return h.hash; }
};

struct KeyEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const noexcept { return a == b; }
  bool operator()(const Hashed& a, std::string_view b) const noexcept { return a.text == b; }
  bool operator()(std::string_view a, const Hashed& b) const noexcept { return a == b.text; }
};

// Maps a 64-bit hash onto [0, n) with a multiply (Lemire's fastrange).
uint64_t fastrange(uint64_t hash, uint64_t n) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(hash) * n) >> 64);
}

bool same_vary(const VaryFields& a, const VaryFields& b) {
  return a.any == b.any && a.names == b.names;
}

// RFC 9111 §4.1: of several matching variants, the most recent one (by Date) answers.
bool newer(const Entry& a, const Entry& b) {
  return a.date.value_or(a.response_time) > b.date.value_or(b.response_time);
}

unsigned shard_count(const MemoryStore::Options& o) {
  uint64_t n = std::clamp<uint64_t>(o.shards, 1, kMaxShards);
  if (o.max_object_bytes > 0) {
    const uint64_t fit = o.memory_bytes / o.max_object_bytes / kObjectsPerShard;
    n = std::min(n, std::max<uint64_t>(fit, 1));
  }
  return static_cast<unsigned>(n);
}

struct Variant {
  std::shared_ptr<const Entry> entry;
  uint64_t id;      // in the shard's S3Fifo
  uint64_t charge;  // entry->charge(), computed once
};

// A Vary seen among a URL's variants, and how many of them carry it.
struct VaryUse {
  VaryFields vary;
  uint64_t count;
};

// One URL key's variants, keyed by variant key (views into each entry's own variant_key).
struct UriNode {
  explicit UriNode(const HashKey* key) : variants(0, KeyHash{key}) {}
  std::unordered_map<std::string_view, Variant, KeyHash, KeyEq> variants;
  std::vector<VaryUse> varies;

  void use(const VaryFields& vary) {
    for (VaryUse& u : varies) {
      if (same_vary(u.vary, vary)) {
        ++u.count;
        return;
      }
    }
    varies.push_back(VaryUse{.vary = vary, .count = 1});
  }
  void unuse(const VaryFields& vary) {
    for (auto it = varies.begin(); it != varies.end(); ++it) {
      if (same_vary(it->vary, vary) && --it->count == 0) {
        varies.erase(it);
        return;
      }
    }
  }
};

}  // namespace

struct alignas(64) MemoryStore::Shard {
  using Nodes = std::unordered_map<std::string, UriNode, KeyHash, KeyEq>;
  using Variants = decltype(UriNode::variants);

  mutable std::mutex mutex;
  Nodes nodes;
  std::unordered_map<uint64_t, const Entry*> by_id;  // what S3Fifo's ids stand for
  S3Fifo fifo{0};
  uint64_t budget = 0;
  uint64_t bytes = 0;
  uint64_t evictions = 0;
  uint64_t spare_id = 0;  // ids for the (astronomically rare) digest collision

  void init(const HashKey* hash_key, uint64_t bytes_budget) {
    nodes = Nodes(0, KeyHash{hash_key});
    fifo = S3Fifo(bytes_budget);
    budget = bytes_budget;
  }

  // An id unused in this shard, the same for the same keys whenever possible.
  uint64_t id_for(uint64_t uri_hash, uint64_t variant_hash) {
    uint64_t id = uri_hash ^ (variant_hash * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL);
    while (by_id.contains(id)) id = spare_id++;
    return id;
  }

  // Forgets one variant (and its node when it was the last). `in_fifo`: false when S3Fifo
  // already forgot it (it chose it for eviction).
  void drop(Nodes::iterator node, Variants::iterator v, bool in_fifo) {
    const uint64_t id = v->second.id;
    if (in_fifo) fifo.erase(id);
    by_id.erase(id);
    bytes -= v->second.charge;
    UriNode& n = node->second;
    n.unuse(v->second.entry->vary);
    n.variants.erase(v);
    if (n.variants.empty()) nodes.erase(node);
  }

  uint64_t drop_all(Nodes::iterator node) {
    Variants& variants = node->second.variants;
    const uint64_t count = variants.size();
    for (const auto& [variant_key, v] : variants) {
      fifo.erase(v.id);
      by_id.erase(v.id);
      bytes -= v.charge;
    }
    nodes.erase(node);
    return count;
  }

  void evict_while_over_budget() {
    while (fifo.over_budget()) {
      const std::optional<uint64_t> id = fifo.evict();
      if (!id) return;
      const Entry* e = by_id.at(*id);
      const auto node = nodes.find(std::string_view(e->uri_key));
      drop(node, node->second.variants.find(std::string_view(e->variant_key)), false);
      ++evictions;
    }
  }

  // The best variant of `node` for the request, or null.
  static const Variant* select(const UriNode& node, std::string_view identity,
                               std::span<const FieldLine> request_fields) {
    const Variant* best = nullptr;
    std::string wanted;
    for (const VaryUse& use : node.varies) {
      const std::optional<std::string> values = vary_key(use.vary, request_fields);
      if (!values) continue;  // `*`: never matches
      wanted.assign(identity);
      wanted += *values;
      const auto v = node.variants.find(std::string_view(wanted));
      if (v == node.variants.end()) continue;
      // The keys already encode both; checked again so that no way of building a variant
      // key (a Vary-`*` entry's, say) can hand one identity's response to another.
      const Entry& e = *v->second.entry;
      if (e.identity != identity || !same_vary(e.vary, use.vary)) continue;
      if (best == nullptr || newer(e, *best->entry)) best = &v->second;
    }
    return best;
  }
};

MemoryStore::MemoryStore(Options options) : options_(options) {
  options_.shards = shard_count(options);
  std::random_device random;
  for (std::size_t i = 0; i < hash_key_.size(); i += 4) {
    const uint32_t word = random();
    for (std::size_t b = 0; b < 4; ++b) hash_key_[i + b] = static_cast<uint8_t>(word >> (8 * b));
  }
  const uint64_t n = options_.shards;
  shards_ = std::make_unique<Shard[]>(n);
  for (uint64_t i = 0; i < n; ++i) {
    const uint64_t share = options_.memory_bytes / n + (i < options_.memory_bytes % n ? 1 : 0);
    shards_[i].init(&hash_key_, share);
  }
}

MemoryStore::~MemoryStore() = default;

MemoryStore::Shard& MemoryStore::shard_of(uint64_t hash) const {
  return shards_[fastrange(hash, options_.shards)];
}

std::shared_ptr<const Entry> MemoryStore::lookup(std::string_view uri_key,
                                                 std::string_view identity,
                                                 std::span<const FieldLine> request_fields) {
  const auto digest = auth::siphash_1_3_128(hash_key_, uri_key);
  Shard& shard = shard_of(digest.hi);
  std::lock_guard lock(shard.mutex);
  const auto node = shard.nodes.find(Hashed{uri_key, digest.lo});
  if (node == shard.nodes.end()) return nullptr;
  const Variant* v = Shard::select(node->second, identity, request_fields);
  if (v == nullptr) return nullptr;
  shard.fifo.touch(v->id);
  return v->entry;
}

bool MemoryStore::insert(std::shared_ptr<const Entry> entry) {
  if (!entry) return false;
  const uint64_t charge = entry->charge();
  if (charge > options_.max_object_bytes) return false;
  const Entry* raw = entry.get();
  const auto digest = auth::siphash_1_3_128(hash_key_, raw->uri_key);
  const uint64_t variant_hash = auth::siphash_1_3_128(hash_key_, raw->variant_key).lo;
  Shard& shard = shard_of(digest.hi);
  if (charge > shard.budget) return false;

  std::lock_guard lock(shard.mutex);
  auto node = shard.nodes.find(Hashed{raw->uri_key, digest.lo});
  bool replaces = false;
  if (node != shard.nodes.end()) {
    const auto old = node->second.variants.find(std::string_view(raw->variant_key));
    if (old != node->second.variants.end()) {
      shard.drop(node, old, true);
      node = shard.nodes.find(Hashed{raw->uri_key, digest.lo});  // it may have gone
      replaces = true;
    }
  }
  if (node == shard.nodes.end())
    node = shard.nodes.emplace(raw->uri_key, UriNode(&hash_key_)).first;

  const uint64_t id = shard.id_for(digest.lo, variant_hash);
  node->second.use(raw->vary);
  node->second.variants.emplace(std::string_view(raw->variant_key),
                                Variant{.entry = std::move(entry), .id = id, .charge = charge});
  shard.by_id.emplace(id, raw);
  shard.bytes += charge;
  shard.fifo.admit(id, charge);
  // A replacement (a refetch, a freshening 304) comes of a request for the old entry: it
  // counts as an access, so a popular entry is promoted out of the small queue again
  // instead of being judged a one-hit wonder.
  if (replaces) shard.fifo.touch(id);
  shard.evict_while_over_budget();
  return shard.by_id.contains(id);  // S3-FIFO may have chosen the newcomer itself
}

void MemoryStore::remove(const Entry& entry) {
  const auto digest = auth::siphash_1_3_128(hash_key_, entry.uri_key);
  Shard& shard = shard_of(digest.hi);
  std::lock_guard lock(shard.mutex);
  const auto node = shard.nodes.find(Hashed{entry.uri_key, digest.lo});
  if (node == shard.nodes.end()) return;
  const auto v = node->second.variants.find(std::string_view(entry.variant_key));
  if (v == node->second.variants.end() || v->second.entry.get() != &entry) return;
  shard.drop(node, v, true);
}

uint64_t MemoryStore::invalidate(std::string_view uri_key) {
  const auto digest = auth::siphash_1_3_128(hash_key_, uri_key);
  Shard& shard = shard_of(digest.hi);
  std::lock_guard lock(shard.mutex);
  const auto node = shard.nodes.find(Hashed{uri_key, digest.lo});
  return node == shard.nodes.end() ? 0 : shard.drop_all(node);
}

namespace {

// A URL key's authority keeps the port the client sent: "api.example:8080" is on the host
// "api.example" as much as "api.example" itself.
bool authority_has_host(std::string_view authority, std::string_view host) {
  if (!authority.starts_with(host)) return false;
  return authority.size() == host.size() || authority[host.size()] == ':';
}

}  // namespace

uint64_t MemoryStore::purge(std::string_view host, std::string_view path, bool prefix) {
  uint64_t purged = 0;
  for (unsigned s = 0; s < options_.shards; ++s) {
    Shard& shard = shards_[s];
    std::lock_guard lock(shard.mutex);
    for (auto it = shard.nodes.begin(); it != shard.nodes.end();) {
      const std::string_view key = it->first;
      const bool host_matches =
          host.empty() || authority_has_host(key.substr(0, key.find('/')), host);
      const auto here = it++;
      const std::string_view key_path = uri_key_path(key);
      if (host_matches && (prefix ? key_path.starts_with(path) : key_path == path)) {
        purged += shard.drop_all(here);
      }
    }
  }
  return purged;
}

StoreStats MemoryStore::stats() const {
  StoreStats total;
  for (unsigned s = 0; s < options_.shards; ++s) {
    const Shard& shard = shards_[s];
    std::lock_guard lock(shard.mutex);
    total.entries += shard.by_id.size();
    total.bytes += shard.bytes;
    total.evictions += shard.evictions;
  }
  return total;
}

}  // namespace bulwark::cache
