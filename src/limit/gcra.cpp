#include "limit/gcra.hpp"

#include <algorithm>

namespace bulwark::limit {
namespace {

using int128 = __int128;

constexpr int64_t kMaxReportNs = kRetryNever - 1;  // below "never", so a wait stays a wait

// Parameters as gcra_params would have made them, so hand-built ones cannot overflow.
struct Sane {
  int64_t t;         // emission interval, [1, kMaxIntervalNs]
  int64_t capacity;  // T + tau, [T, 2 * kMaxIntervalNs]
};

inline Sane sane(const GcraParams& p) noexcept {
  const int64_t t = std::clamp<int64_t>(p.emission_interval_ns, 1, kMaxIntervalNs);
  const int64_t tau = std::clamp<int64_t>(p.burst_tolerance_ns, 0, kMaxIntervalNs);
  return {t, t + tau};
}

inline int64_t saturate(int128 v, int64_t max) noexcept {
  return v > max ? max : static_cast<int64_t>(v);
}

// Unit requests that fit between `fill` and the capacity.
inline uint64_t remaining_at(int128 fill, const Sane& s) noexcept {
  if (fill >= s.capacity) return 0;
  return static_cast<uint64_t>((s.capacity - static_cast<int64_t>(fill)) / s.t);
}

}  // namespace

GcraParams gcra_params(uint64_t count, int64_t period_ns, uint64_t burst) noexcept {
  count = std::max<uint64_t>(count, 1);
  const auto period = static_cast<uint64_t>(std::clamp<int64_t>(period_ns, 1, kMaxIntervalNs));
  if (burst == 0) burst = count;
  const uint64_t t = (period - 1) / count + 1;  // ceil(period / count) >= 1, no overflow
  const unsigned __int128 tau = static_cast<unsigned __int128>(burst - 1) * t;
  return GcraParams{
      .emission_interval_ns = static_cast<int64_t>(t),
      .burst_tolerance_ns =
          tau > static_cast<uint64_t>(kMaxIntervalNs) ? kMaxIntervalNs : static_cast<int64_t>(tau),
  };
}

uint64_t gcra_burst(const GcraParams& params) noexcept {
  const Sane s = sane(params);
  return static_cast<uint64_t>(s.capacity / s.t);
}

GcraDecision gcra_check(int64_t tat_ns, int64_t now_ns, const GcraParams& params,
                        uint64_t cost) noexcept {
  const Sane s = sane(params);
  const int128 fill = tat_ns > now_ns ? int128{tat_ns} - now_ns : 0;
  const int128 increment = static_cast<int128>(std::max<uint64_t>(cost, 1)) * s.t;

  GcraDecision d;
  if (increment > s.capacity) {  // more than the whole burst: can never pass
    d.new_tat_ns = tat_ns;
    d.retry_after_ns = kRetryNever;
    d.remaining = remaining_at(fill, s);
    d.reset_ns = saturate(fill, kMaxReportNs);
    return d;
  }
  const int128 after = fill + increment;
  if (after <= s.capacity) {
    d.allowed = true;
    // after <= capacity < 2^63, so `after` is exact in int64; only the sum can saturate.
    d.new_tat_ns = saturate(int128{now_ns} + after, std::numeric_limits<int64_t>::max());
    d.remaining = remaining_at(after, s);
    d.reset_ns = static_cast<int64_t>(after);
    return d;
  }
  d.new_tat_ns = tat_ns;
  d.retry_after_ns = saturate(after - s.capacity, kMaxReportNs);
  d.remaining = remaining_at(fill, s);
  d.reset_ns = saturate(fill, kMaxReportNs);
  return d;
}

GcraState gcra_state(int64_t tat_ns, int64_t now_ns, const GcraParams& params) noexcept {
  const Sane s = sane(params);
  const int128 fill = tat_ns > now_ns ? int128{tat_ns} - now_ns : 0;
  return GcraState{.remaining = remaining_at(fill, s), .reset_ns = saturate(fill, kMaxReportNs)};
}

}  // namespace bulwark::limit
