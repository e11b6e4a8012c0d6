#include "limit/gcra.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <ostream>
#include <random>
#include <string_view>

#include "support/case_name.hpp"

namespace bulwark::limit {
namespace {

using testing_support::case_name;

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr uint64_t kUint64Max = std::numeric_limits<uint64_t>::max();

// An arbitrary monotonic-clock origin (the kernel only compares the times it is given).
constexpr int64_t kT0 = 1'000 * kSecond;

// Sends `n` unit requests at `now`, storing the TAT; returns how many passed.
uint64_t send(int64_t& tat, int64_t now, const GcraParams& p, uint64_t n, uint64_t cost = 1) {
  uint64_t passed = 0;
  for (uint64_t i = 0; i < n; ++i) {
    const GcraDecision d = gcra_check(tat, now, p, cost);
    if (d.allowed) ++passed;
    tat = d.new_tat_ns;
  }
  return passed;
}

// ---- parameters -----------------------------------------------------------------------------

struct ParamsCase {
  std::string_view name;
  uint64_t count;
  int64_t period_ns;
  uint64_t burst;
  int64_t emission_interval_ns;
  int64_t burst_tolerance_ns;
};
void PrintTo(const ParamsCase& c, std::ostream* os) {
  *os << c.name;
}

class GcraParamsTable : public testing::TestWithParam<ParamsCase> {};

TEST_P(GcraParamsTable, EmissionIntervalAndTolerance) {
  const auto& c = GetParam();
  const GcraParams p = gcra_params(c.count, c.period_ns, c.burst);
  EXPECT_EQ(p.emission_interval_ns, c.emission_interval_ns);
  EXPECT_EQ(p.burst_tolerance_ns, c.burst_tolerance_ns);
}

INSTANTIATE_TEST_SUITE_P(
    Rates, GcraParamsTable,
    testing::Values(
        // T = period / count, tau = (burst - 1) * T; burst 0 is the default, the count.
        ParamsCase{"HundredPerSecond", 100, kSecond, 0, 10'000'000, 990'000'000},
        ParamsCase{"HundredPerSecondBurst200", 100, kSecond, 200, 10'000'000, 1'990'000'000},
        ParamsCase{"SixHundredPerMinute", 600, kMinute, 0, 100'000'000, 59'900'000'000},
        ParamsCase{"TenThousandPerHour", 10'000, kHour, 0, 360'000'000, 3'599'640'000'000},
        ParamsCase{"HundredThousandPerDay", 100'000, kDay, 0, 864'000'000, 86'399'136'000'000},
        ParamsCase{"OnePerDay", 1, kDay, 0, kDay, 0},
        ParamsCase{"BurstOne", 100, kSecond, 1, 10'000'000, 0},
        // Not a whole number of nanoseconds: T rounds up, never above the configured rate.
        ParamsCase{"ThreePerSecondRoundsUp", 3, kSecond, 0, 333'333'334, 666'666'668},
        // One request per nanosecond is exact; faster rates clamp T to 1 ns, whole burst kept.
        ParamsCase{"BillionPerSecond", 1'000'000'000, kSecond, 0, 1, 999'999'999},
        ParamsCase{"TrillionPerSecondClamps", 1'000'000'000'000, kSecond, 0, 1, 999'999'999'999},
        ParamsCase{"TrillionPerSecondBurst10", 1'000'000'000'000, kSecond, 10, 1, 9},
        // Nonsense in, sane out: count 0 is 1, a period <= 0 is 1 ns.
        ParamsCase{"CountZeroIsOne", 0, kSecond, 0, kSecond, 0},
        ParamsCase{"PeriodZeroIsOneNanosecond", 5, 0, 0, 1, 4},
        ParamsCase{"NegativePeriod", 5, -kSecond, 0, 1, 4},
        // Caps: T and tau at most 2^61 ns (~73 years) each.
        ParamsCase{"HugeBurstCapsTolerance", 1, kDay, kUint64Max, kDay, kMaxIntervalNs},
        ParamsCase{"HugeCountAndBurst", kUint64Max, kSecond, kUint64Max, 1, kMaxIntervalNs},
        ParamsCase{"HugePeriodCapsInterval", 1, kInt64Max, 0, kMaxIntervalNs, 0}),
    case_name<ParamsCase>);

TEST(GcraBurst, IsTheConfiguredBurst) {
  EXPECT_EQ(gcra_burst(gcra_params(100, kSecond)), 100u);
  EXPECT_EQ(gcra_burst(gcra_params(100, kSecond, 7)), 7u);
  EXPECT_EQ(gcra_burst(gcra_params(3, kSecond)), 3u);
  EXPECT_EQ(gcra_burst(gcra_params(1'000'000'000'000, kSecond)), 1'000'000'000'000u);
  EXPECT_EQ(gcra_burst(GcraParams{.emission_interval_ns = 0, .burst_tolerance_ns = -5}), 1u);
}

// ---- the algorithm, per configuration ---------------------------------------------------------

struct RateCase {
  std::string_view name;
  uint64_t count;
  int64_t period_ns;
  uint64_t burst;  // 0: the count
};
void PrintTo(const RateCase& c, std::ostream* os) {
  *os << c.name;
}

class GcraRates : public testing::TestWithParam<RateCase> {
 protected:
  GcraParams params() const {
    const auto& c = GetParam();
    return gcra_params(c.count, c.period_ns, c.burst);
  }
  uint64_t burst() const { return GetParam().burst == 0 ? GetParam().count : GetParam().burst; }
};

TEST_P(GcraRates, ExactBurstFromIdle) {
  const GcraParams p = params();
  int64_t tat = 0;
  for (uint64_t i = 1; i <= burst(); ++i) {
    const GcraDecision d = gcra_check(tat, kT0, p, 1);
    ASSERT_TRUE(d.allowed) << "request " << i;
    EXPECT_EQ(d.remaining, burst() - i);
    EXPECT_EQ(d.reset_ns, static_cast<int64_t>(i) * p.emission_interval_ns);
    EXPECT_EQ(d.retry_after_ns, 0);
    tat = d.new_tat_ns;
  }
  const GcraDecision over = gcra_check(tat, kT0, p, 1);
  EXPECT_FALSE(over.allowed);
  EXPECT_EQ(over.new_tat_ns, tat) << "a refusal changes nothing";
  EXPECT_EQ(over.remaining, 0u);
  EXPECT_EQ(over.retry_after_ns, p.emission_interval_ns);
  EXPECT_EQ(over.reset_ns, static_cast<int64_t>(burst()) * p.emission_interval_ns);
}

TEST_P(GcraRates, SteadyRatePassesAndOneFasterFails) {
  const GcraParams p = params();
  const int64_t t = p.emission_interval_ns;
  int64_t tat = 0;
  ASSERT_EQ(send(tat, kT0, p, burst()), burst());
  // Exactly one more every T, for as long as it goes on.
  for (int64_t i = 1; i <= 1000; ++i) {
    const GcraDecision d = gcra_check(tat, kT0 + i * t, p, 1);
    ASSERT_TRUE(d.allowed) << "request " << i << " after the burst";
    EXPECT_EQ(d.remaining, 0u);
    tat = d.new_tat_ns;
  }
  // One nanosecond early is too early, and says so exactly.
  const GcraDecision early = gcra_check(tat, kT0 + 1001 * t - 1, p, 1);
  EXPECT_FALSE(early.allowed);
  EXPECT_EQ(early.retry_after_ns, 1);
}

TEST_P(GcraRates, SteadyRateFromIdleNeverThrottled) {
  const GcraParams p = params();
  int64_t tat = 0;
  for (int64_t i = 0; i < 1000; ++i) {
    const GcraDecision d = gcra_check(tat, kT0 + i * p.emission_interval_ns, p, 1);
    ASSERT_TRUE(d.allowed) << "request " << i;
    EXPECT_EQ(d.remaining, burst() - 1);
    EXPECT_EQ(d.reset_ns, p.emission_interval_ns);
    tat = d.new_tat_ns;
  }
}

TEST_P(GcraRates, BoundaryInstantIsTatMinusTolerance) {
  const GcraParams p = params();
  int64_t tat = 0;
  ASSERT_EQ(send(tat, kT0, p, burst()), burst());
  const int64_t boundary = tat - p.burst_tolerance_ns;
  EXPECT_EQ(boundary, kT0 + p.emission_interval_ns);
  const GcraDecision before = gcra_check(tat, boundary - 1, p, 1);
  EXPECT_FALSE(before.allowed);
  EXPECT_EQ(before.retry_after_ns, 1);
  const GcraDecision at = gcra_check(tat, boundary, p, 1);
  EXPECT_TRUE(at.allowed);
  EXPECT_EQ(at.remaining, 0u);
  EXPECT_EQ(at.new_tat_ns, tat + p.emission_interval_ns);
}

TEST_P(GcraRates, LongIdleGivesNoCreditBeyondTheBurst) {
  const GcraParams p = params();
  int64_t tat = 0;
  ASSERT_EQ(send(tat, kT0, p, 1), 1u);
  const int64_t later = kT0 + 400 * kDay;
  EXPECT_EQ(gcra_check(tat, later, p, 1).remaining, burst() - 1);
  EXPECT_EQ(send(tat, later, p, burst() + 5), burst());
}

TEST_P(GcraRates, RetryAfterIsExact) {
  const GcraParams p = params();
  int64_t tat = 0;
  ASSERT_EQ(send(tat, kT0, p, burst()), burst());
  const uint64_t cost = burst() >= 3 ? 3 : burst();
  const int64_t now = kT0 + p.emission_interval_ns / 2;
  const GcraDecision refused = gcra_check(tat, now, p, cost);
  ASSERT_FALSE(refused.allowed);
  ASSERT_FALSE(refused.never());
  const int64_t wait = refused.retry_after_ns;
  EXPECT_FALSE(gcra_check(tat, now + wait - 1, p, cost).allowed);
  const GcraDecision later = gcra_check(tat, now + wait, p, cost);
  EXPECT_TRUE(later.allowed);
  EXPECT_EQ(later.remaining, 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Configs, GcraRates,
    testing::Values(RateCase{"HundredPerSecond", 100, kSecond, 0},
                    RateCase{"HundredPerSecondBurst200", 100, kSecond, 200},
                    RateCase{"HundredPerSecondBurst1", 100, kSecond, 1},
                    RateCase{"SixHundredPerMinute", 600, kMinute, 0},
                    RateCase{"TenThousandPerHour", 10'000, kHour, 0},
                    RateCase{"HundredThousandPerDay", 100'000, kDay, 0},
                    RateCase{"OnePerDay", 1, kDay, 0}, RateCase{"ThreePerSecond", 3, kSecond, 0},
                    RateCase{"BillionPerSecond", 1'000'000'000, kSecond, 1000},
                    RateCase{"TrillionPerSecond", 1'000'000'000'000, kSecond, 1000},
                    RateCase{"TenPerNanosecondTinyPeriod", 10, 1, 10},
                    RateCase{"OnePerWeekBurst2", 1, 7 * kDay, 2}),
    case_name<RateCase>);

// ---- specific situations ------------------------------------------------------------------------

// 10 per second (T = 100 ms), burst 5: capacity 500 ms.
const GcraParams kTenPerSecondBurst5 = gcra_params(10, kSecond, 5);
constexpr int64_t kMs = 1'000'000;

TEST(GcraCheck, RemainingAndResetAlongASequence) {
  struct Step {
    int64_t at_ms;
    uint64_t cost;
    bool allowed;
    uint64_t remaining;
    int64_t reset_ms;
    int64_t retry_ms;
  };
  const Step steps[] = {
      {0, 1, true, 4, 100, 0},       // from idle
      {0, 2, true, 2, 300, 0},       // cost 2
      {50, 1, true, 1, 350, 0},      // 50 ms later the fill is 250 ms, +100
      {50, 2, false, 1, 350, 50},    // needs 550 > 500: 50 ms more
      {100, 2, true, 0, 500, 0},     // exactly full after it
      {100, 1, false, 0, 500, 100},  // full
      {350, 1, true, 1, 350, 0},     // 250 ms later: fill 250, +100
      {2000, 1, true, 4, 100, 0},    // idle again: a fresh burst, no more
  };
  int64_t tat = 0;
  for (const Step& s : steps) {
    SCOPED_TRACE(testing::Message() << "at " << s.at_ms << " ms, cost " << s.cost);
    const GcraDecision d = gcra_check(tat, kT0 + s.at_ms * kMs, kTenPerSecondBurst5, s.cost);
    EXPECT_EQ(d.allowed, s.allowed);
    EXPECT_EQ(d.remaining, s.remaining);
    EXPECT_EQ(d.reset_ns, s.reset_ms * kMs);
    EXPECT_EQ(d.retry_after_ns, s.retry_ms * kMs);
    tat = d.new_tat_ns;
  }
}

TEST(GcraCheck, CostUpToTheBurstPassesFromIdle) {
  const GcraDecision d = gcra_check(0, kT0, kTenPerSecondBurst5, 5);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 0u);
  EXPECT_EQ(d.reset_ns, 500 * kMs);
  EXPECT_EQ(d.new_tat_ns, kT0 + 500 * kMs);
}

TEST(GcraCheck, CostAboveTheBurstNeverPasses) {
  for (const int64_t idle_for : {int64_t{0}, kDay, 1000 * kDay}) {
    const GcraDecision d = gcra_check(0, kT0 + idle_for, kTenPerSecondBurst5, 6);
    EXPECT_FALSE(d.allowed);
    EXPECT_TRUE(d.never());
    EXPECT_EQ(d.retry_after_ns, kRetryNever);
    EXPECT_EQ(d.new_tat_ns, 0) << "nothing consumed";
    EXPECT_EQ(d.remaining, 5u) << "the key itself is idle";
    EXPECT_EQ(d.reset_ns, 0);
  }
  const GcraDecision huge = gcra_check(0, kT0, kTenPerSecondBurst5, kUint64Max);
  EXPECT_TRUE(huge.never());
}

TEST(GcraCheck, CostZeroCountsAsOne) {
  const GcraDecision d = gcra_check(0, kT0, kTenPerSecondBurst5, 0);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 4u);
}

TEST(GcraCheck, AbsentKeyAndPastTatAreTheSame) {
  const GcraDecision absent = gcra_check(0, kT0, kTenPerSecondBurst5, 1);
  const GcraDecision past = gcra_check(kT0 - kSecond, kT0, kTenPerSecondBurst5, 1);
  EXPECT_EQ(absent.new_tat_ns, past.new_tat_ns);
  EXPECT_EQ(absent.remaining, past.remaining);
}

// ---- the clock going backwards --------------------------------------------------------------

TEST(GcraClockBackwards, NeverMoreThanTheBurstAndDelayedByTheStep) {
  const GcraParams p = kTenPerSecondBurst5;
  int64_t tat = 0;
  ASSERT_EQ(send(tat, kT0, p, 5), 5u);
  // The clock steps back 10 s: the key looks 10.5 s ahead and passes nothing...
  const int64_t back = kT0 - 10 * kSecond;
  const GcraDecision d = gcra_check(tat, back, p, 1);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.remaining, 0u);
  EXPECT_EQ(d.reset_ns, 10 * kSecond + 500 * kMs);
  EXPECT_EQ(d.retry_after_ns, 10 * kSecond + 100 * kMs);
  // ...until the clock has caught up, exactly as retry_after said.
  EXPECT_FALSE(gcra_check(tat, back + d.retry_after_ns - 1, p, 1).allowed);
  EXPECT_TRUE(gcra_check(tat, back + d.retry_after_ns, p, 1).allowed);
}

TEST(GcraClockBackwards, SmallReorderingCostsOnlyTheStep) {
  // Two threads read the clock, then commit in the other order: 1 us apart.
  const GcraParams p = kTenPerSecondBurst5;
  int64_t tat = 0;
  ASSERT_EQ(send(tat, kT0 + 1000, p, 1), 1u);
  const GcraDecision d = gcra_check(tat, kT0, p, 1);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 2u) << "the third is 1 us short, until 1 us from now";
  EXPECT_EQ(d.reset_ns, 200 * kMs + 1000);
  EXPECT_EQ(d.new_tat_ns, kT0 + 1000 + 200 * kMs);
}

TEST(GcraClockBackwards, BackwardsThenForwardNeverExceedsTheFormula) {
  // Whatever order times arrive in, k allowed requests at times within [t0, t1] satisfy
  // k <= burst + (t1 - t0) / T.
  const GcraParams p = kTenPerSecondBurst5;
  std::mt19937_64 random(42);
  std::uniform_int_distribution<int64_t> jitter(0, 10 * kSecond);
  int64_t tat = 0;
  uint64_t allowed = 0;
  for (int i = 0; i < 100'000; ++i) {
    const GcraDecision d = gcra_check(tat, kT0 + jitter(random), p, 1);
    allowed += d.allowed ? 1 : 0;
    tat = d.new_tat_ns;
  }
  EXPECT_LE(allowed, 5u + 10 * kSecond / p.emission_interval_ns);
}

// ---- no overflow, whatever the inputs --------------------------------------------------------

TEST(GcraExtremes, TrillionPerSecondFullBurstInOneCost) {
  const GcraParams p = gcra_params(1'000'000'000'000, kSecond);
  const GcraDecision d = gcra_check(0, kT0, p, 1'000'000'000'000);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 0u);
  EXPECT_EQ(d.reset_ns, 1'000'000'000'000);
  EXPECT_TRUE(gcra_check(0, kT0, p, 1'000'000'000'001).never());
  // Then one per nanosecond (the clamp): the next passes 1 ns later.
  const GcraDecision next = gcra_check(d.new_tat_ns, kT0, p, 1);
  EXPECT_EQ(next.retry_after_ns, 1);
}

TEST(GcraExtremes, OnePerDay) {
  const GcraParams p = gcra_params(1, kDay);
  int64_t tat = 0;
  ASSERT_EQ(send(tat, kT0, p, 1), 1u);
  const GcraDecision d = gcra_check(tat, kT0 + kDay - 1, p, 1);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_ns, 1);
  EXPECT_EQ(d.reset_ns, 1);
  EXPECT_TRUE(gcra_check(tat, kT0 + kDay, p, 1).allowed);
}

TEST(GcraExtremes, HundredThousandPerDayUsesItsWholeBurst) {
  const GcraParams p = gcra_params(100'000, kDay);
  const GcraDecision d = gcra_check(0, kT0, p, 100'000);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.reset_ns, kDay);
  const GcraDecision after = gcra_check(d.new_tat_ns, kT0 + kHour, p, 1);
  EXPECT_TRUE(after.allowed) << "an hour refills 100000 / 24 requests";
  EXPECT_EQ(after.remaining, 100'000u / 24 - 1);
}

TEST(GcraExtremes, SaturatesInsteadOfOverflowing) {
  const GcraParams huge = gcra_params(1, kInt64Max, kUint64Max);
  // TAT at the very end of time, now at the very start: a fill of ~2^64 ns.
  const GcraDecision d = gcra_check(kInt64Max, std::numeric_limits<int64_t>::min(), huge, 1);
  EXPECT_FALSE(d.allowed);
  EXPECT_FALSE(d.never()) << "a long wait is still a wait";
  EXPECT_EQ(d.retry_after_ns, kRetryNever - 1);
  EXPECT_EQ(d.reset_ns, kRetryNever - 1);
  EXPECT_EQ(d.remaining, 0u);
  // now near the end of time: the new TAT saturates.
  const GcraDecision end = gcra_check(0, kInt64Max - 5, huge, 1);
  EXPECT_TRUE(end.allowed);
  EXPECT_EQ(end.new_tat_ns, kInt64Max);
  // Hand-built parameters out of range are read as the nearest sane ones.
  const GcraParams bad{.emission_interval_ns = -1, .burst_tolerance_ns = kInt64Max};
  const GcraDecision b = gcra_check(0, kT0, bad, kUint64Max);
  EXPECT_FALSE(b.allowed);
  EXPECT_TRUE(b.never());
  EXPECT_EQ(gcra_check(0, kT0, bad, 1).remaining, static_cast<uint64_t>(kMaxIntervalNs));
}

// ---- property: retry_after is always exact ---------------------------------------------------

TEST(GcraProperty, RetryAfterIsExactForRandomStates) {
  std::mt19937_64 random(7);
  std::uniform_int_distribution<uint64_t> counts(1, 1000);
  std::uniform_int_distribution<int> periods(0, 3);
  const int64_t period_of[] = {kSecond, kMinute, kHour, kDay};
  for (int i = 0; i < 20'000; ++i) {
    const uint64_t count = counts(random);
    const uint64_t burst = std::uniform_int_distribution<uint64_t>(1, 2 * count)(random);
    const GcraParams p = gcra_params(count, period_of[periods(random)], burst);
    const int64_t capacity = p.emission_interval_ns + p.burst_tolerance_ns;
    const int64_t tat = kT0 + std::uniform_int_distribution<int64_t>(-capacity, capacity)(random);
    const uint64_t cost = std::uniform_int_distribution<uint64_t>(1, burst)(random);
    const GcraDecision d = gcra_check(tat, kT0, p, cost);
    if (d.allowed) {
      ASSERT_LE(d.new_tat_ns - kT0, capacity);
      continue;
    }
    ASSERT_GT(d.retry_after_ns, 0);
    ASSERT_FALSE(gcra_check(tat, kT0 + d.retry_after_ns - 1, p, cost).allowed);
    ASSERT_TRUE(gcra_check(tat, kT0 + d.retry_after_ns, p, cost).allowed);
  }
}

TEST(GcraState, MatchesARefusedCheck) {
  int64_t tat = 0;
  ASSERT_EQ(send(tat, kT0, kTenPerSecondBurst5, 3), 3u);
  const GcraState s = gcra_state(tat, kT0 + 50 * kMs, kTenPerSecondBurst5);
  EXPECT_EQ(s.remaining, 2u);
  EXPECT_EQ(s.reset_ns, 250 * kMs);
  const GcraState idle = gcra_state(0, kT0, kTenPerSecondBurst5);
  EXPECT_EQ(idle.remaining, 5u);
  EXPECT_EQ(idle.reset_ns, 0);
}

}  // namespace
}  // namespace bulwark::limit
