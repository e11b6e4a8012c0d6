#include "cache/s3_fifo.hpp"

#include <algorithm>

namespace bulwark::cache {
namespace {

constexpr uint8_t kMaxFreq = 3;

}  // namespace

S3Fifo::S3Fifo(uint64_t capacity_bytes)
    : capacity_(capacity_bytes),
      small_capacity_(capacity_bytes / 10),
      main_capacity_(capacity_bytes - capacity_bytes / 10) {}

size_t S3Fifo::size() const {
  return live_.size();
}

void S3Fifo::admit(uint64_t id, uint64_t size) {
  const auto [slot, fresh] = live_.try_emplace(id);
  if (!fresh) unlink(slot->second);  // a caller breaking the contract: replaced, index intact
  Queue queue = size > small_capacity_ ? Queue::kMain : Queue::kSmall;
  if (const auto g = ghost_index_.find(id); g != ghost_index_.end()) {
    // Evicted from small recently and back already: it was not a one-hit wonder.
    queue = Queue::kMain;
    forget_ghost(g);
  }
  Items& list = list_of(queue);
  list.push_front(Item{.id = id, .size = size, .freq = 0, .queue = queue});
  slot->second = list.begin();
  used_of(queue) += size;
  used_ += size;
}

void S3Fifo::touch(uint64_t id) {
  const auto it = live_.find(id);
  if (it == live_.end()) return;
  uint8_t& freq = it->second->freq;
  if (freq < kMaxFreq) ++freq;
}

void S3Fifo::erase(uint64_t id) {
  const auto it = live_.find(id);
  if (it == live_.end()) return;
  unlink(it->second);
  live_.erase(it);
}

void S3Fifo::unlink(Items::iterator item) {
  used_of(item->queue) -= item->size;
  used_ -= item->size;
  list_of(item->queue).erase(item);
}

void S3Fifo::forget_ghost(GhostIndex::iterator g) {
  ghost_weight_ -= g->second->weight;
  ghost_.erase(g->second);
  ghost_index_.erase(g);
}

std::optional<uint64_t> S3Fifo::evict() {
  for (;;) {
    if (small_.empty() && main_.empty()) return std::nullopt;
    const bool from_small = !small_.empty() && (small_used_ > small_capacity_ || main_.empty());
    const std::optional<uint64_t> out = from_small ? evict_small() : evict_main();
    if (out) return out;
  }
}

// Small's tail: promoted to main when it was touched while in small, else evicted (and its
// id remembered). nullopt when it was promoted.
std::optional<uint64_t> S3Fifo::evict_small() {
  const Items::iterator tail = std::prev(small_.end());
  if (tail->freq > 0) {
    tail->freq = 0;
    tail->queue = Queue::kMain;
    small_used_ -= tail->size;
    main_used_ += tail->size;
    main_.splice(main_.begin(), small_, tail);
    return std::nullopt;
  }
  const Item item = *tail;
  small_used_ -= item.size;
  used_ -= item.size;
  small_.erase(tail);
  live_.erase(item.id);
  remember(item.id, item.size);
  return item.id;
}

// Main's tail: another lap (one less frequency) when it was touched, else evicted.
std::optional<uint64_t> S3Fifo::evict_main() {
  const Items::iterator tail = std::prev(main_.end());
  if (tail->freq > 0) {
    --tail->freq;
    main_.splice(main_.begin(), main_, tail);
    return std::nullopt;
  }
  const Item item = *tail;
  main_used_ -= item.size;
  used_ -= item.size;
  main_.erase(tail);
  live_.erase(item.id);
  return item.id;
}

void S3Fifo::remember(uint64_t id, uint64_t size) {
  const uint64_t weight = std::max<uint64_t>(size, 1);
  if (weight > main_capacity_) return;  // would push out every other ghost for nothing
  if (const auto old = ghost_index_.find(id); old != ghost_index_.end()) forget_ghost(old);
  ghost_.push_front(Ghost{.id = id, .weight = weight});
  ghost_index_[id] = ghost_.begin();
  ghost_weight_ += weight;
  while (ghost_weight_ > main_capacity_) {
    const Ghost& oldest = ghost_.back();
    ghost_weight_ -= oldest.weight;
    ghost_index_.erase(oldest.id);
    ghost_.pop_back();
  }
}

}  // namespace bulwark::cache
