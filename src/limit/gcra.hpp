#pragma once
// GCRA, the generic cell rate algorithm (ITU-T I.371 "virtual scheduling"), as pure math on
// integers: one stored timestamp per key, the theoretical arrival time (TAT), decides exactly
// whether a request conforms to a rate with a burst. Times are nanoseconds on a monotonic
// clock the caller chooses (steady_clock in the server, an int64 in tests); nothing here reads
// a clock or allocates.
//
// Parameters (gcra_params). A limit of `count` per `period` with bursts of `burst`:
//   T   emission interval  = ceil(period / count)      one request's worth of time
//   tau burst tolerance    = (burst - 1) * T           how far ahead of the clock a key may run
// and a key may run at most T + tau = burst * T ahead of `now` (its capacity).
//   - burst 0 means the default, burst = count.
//   - T rounds up, so a key never gets more than count per period; periods written as
//     s/m/h/d with the usual counts (100/s, 600/m, 10000/h, 100000/d) divide exactly.
//   - Rates above one request per nanosecond (count > period_ns, e.g. 1e12/s) clamp T to
//     1 ns: such a key is limited to 1e9/s, which no gateway can reach; its burst still
//     passes whole.
//   - T and tau are each capped at kMaxIntervalNs (2^61 ns, ~73 years), so T + tau and every
//     sum below fit in int64 whatever the inputs (count 0 counts as 1, period <= 0 as 1 ns).
//
// Decision (gcra_check), for a request of cost c (c requests' worth; 0 counts as 1) at `now`:
//   fill  = max(tat, now) - now             how far ahead of the clock the key already is
//   after = fill + c * T                    ... and would be with this request
//   allowed  iff  after <= T + tau;  then  new_tat = now + after.
// From an idle key (tat <= now, including the absent key, tat 0) exactly `burst` unit
// requests pass at one instant; then one more every T. Equivalently, a unit request at `now`
// conforms iff now >= tat - tau: the boundary instant tat - tau itself is allowed.
//   remaining  unit requests that would still pass at `now` after this decision
//              = floor((T + tau - fill') / T), fill' = after if allowed else fill (0 if over)
//   reset      time until the key is idle again (a full burst available) = fill'
//   retry_after  for a rejection: the earliest wait after which the same request passes,
//              exactly after - (T + tau); waiting that long (with no other traffic on the
//              key) then succeeds. A request costing more than the whole capacity
//              (c * T > T + tau, i.e. c > burst) can never pass: retry_after is kRetryNever,
//              and the caller should treat the limit as misconfigured for that cost.
//
// Clock going backwards. The stored TAT is a point in time, so if `now` is earlier than the
// `now` that set it, the key simply looks further ahead of the clock (a larger fill): it is
// never granted more than its burst, and it is delayed by at most the size of the step.
// retry_after and reset stay exact for a clock that runs forward from `now`. With a monotonic
// clock the only backward steps are the tiny reorderings between threads that read the clock
// before taking the key's lock; those cost a request at most the few nanoseconds involved.
// Arithmetic is 128-bit where it can overflow: any int64 tat and now are safe (new_tat
// saturates at INT64_MAX; fill, retry_after and reset saturate below kRetryNever).
//
// The absent key is tat 0, so clocks are expected to be non-negative (steady_clock is).

#include <cstdint>
#include <limits>

namespace bulwark::limit {

inline constexpr int64_t kMaxIntervalNs = int64_t{1} << 61;
// retry_after for a request that can never pass (cost above the burst).
inline constexpr int64_t kRetryNever = std::numeric_limits<int64_t>::max();

struct GcraParams {
  int64_t emission_interval_ns = 1;  // T
  int64_t burst_tolerance_ns = 0;    // tau
  friend bool operator==(const GcraParams&, const GcraParams&) = default;
};

// `count` requests per `period_ns`, bursts of `burst` (0: the default, `count`).
GcraParams gcra_params(uint64_t count, int64_t period_ns, uint64_t burst = 0) noexcept;

// The most requests of unit cost that pass at once from an idle key: floor((T + tau) / T).
uint64_t gcra_burst(const GcraParams& params) noexcept;

struct GcraDecision {
  bool allowed = false;
  int64_t new_tat_ns = 0;      // the TAT to store when allowed; the unchanged tat otherwise
  int64_t retry_after_ns = 0;  // 0 when allowed; kRetryNever when the cost can never pass
  uint64_t remaining = 0;      // unit requests that would still pass now, after this one
  int64_t reset_ns = 0;        // until the key is back to a full burst
  bool never() const noexcept { return retry_after_ns == kRetryNever; }
};

// `tat_ns`: the key's stored TAT (0, or anything <= now, for an idle or absent key).
GcraDecision gcra_check(int64_t tat_ns, int64_t now_ns, const GcraParams& params,
                        uint64_t cost) noexcept;

// The key's state without a request: what a response that consumed nothing reports.
struct GcraState {
  uint64_t remaining = 0;  // unit requests that would pass now
  int64_t reset_ns = 0;    // until the key is back to a full burst
};
GcraState gcra_state(int64_t tat_ns, int64_t now_ns, const GcraParams& params) noexcept;

}  // namespace bulwark::limit
