#pragma once
// Where the GCRA state of rate-limited keys lives. The in-memory store (memory_store.hpp)
// serves one instance; a Redis store shares the state between instances. Both implement this
// interface and the same algorithm (gcra.hpp), so the limit stages never ask which one runs.

#include <cstdint>
#include <span>
#include <string_view>

#include "limit/gcra.hpp"

namespace bulwark::limit {

// One limit to check for a request: which limit, the request's key under it (a client IP,
// "sub|route"...), the limit's parameters and the request's cost (>= 1).
struct LimitCheck {
  uint32_t limit_id = 0;
  std::string_view key;
  GcraParams params;
  uint64_t cost = 1;
  // The limit's name from the config: what a shared store files the key under, since
  // limit_id numbers are local to one process.
  std::string_view name;
};

// The outcome for one LimitCheck. When the request as a whole was allowed, each entry is its
// limit's decision (gcra.hpp) with this request consumed. When it was rejected nothing was
// consumed anywhere: an entry whose limit would have let it through says allowed = true and
// reports its state as it stands (remaining and reset without this request); an entry whose
// limit refused says allowed = false with its retry_after_ns (kRetryNever when the cost is
// more than the limit's burst). The whole request passes after the largest retry_after_ns of
// its refusing entries.
struct LimitResult {
  bool allowed = false;
  int64_t retry_after_ns = 0;
  uint64_t remaining = 0;
  int64_t reset_ns = 0;
  bool never() const noexcept { return retry_after_ns == kRetryNever; }
};

class Store {
 public:
  virtual ~Store() = default;

  // Checks every entry and commits (stores the new TATs) only when all are allowed: a
  // rejected request consumes nothing from any limit. `results` gets one entry per check in
  // the same order (it must be at least as long as `checks`). Entries are evaluated in
  // order, so the same limit and key twice in one call count twice. Returns true when the
  // request is allowed. Thread-safe.
  virtual bool check_all(std::span<const LimitCheck> checks, int64_t now_ns,
                         std::span<LimitResult> results) = 0;
};

}  // namespace bulwark::limit
