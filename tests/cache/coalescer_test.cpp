#include "cache/coalescer.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <latch>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace bulwark::cache {
namespace {

struct Counter final : Coalescer::Waiter {
  int woken = 0;
  void wake() override { ++woken; }
};

// Wakes a thread blocked in wait_for (as a server's waiter would post to its io_context).
struct Blocking final : Coalescer::Waiter {
  std::mutex mutex;
  std::condition_variable cv;
  bool woken = false;
  void wake() override {
    std::lock_guard lock(mutex);
    woken = true;
    cv.notify_all();
  }
  bool wait_for(std::chrono::microseconds timeout) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, timeout, [&] { return woken; });
  }
};

TEST(Coalescer, OneLeaderTheOthersFollow) {
  Coalescer c;
  Counter a, b, other;
  Coalescer::Flight lead = c.join("k", a);
  EXPECT_TRUE(lead.leads());
  Coalescer::Flight follow = c.join("k", b);
  EXPECT_FALSE(follow.leads());
  Coalescer::Flight elsewhere = c.join("k2", other);  // another key: its own flight
  EXPECT_TRUE(elsewhere.leads());
  EXPECT_EQ(c.in_flight(), 2u);
  lead.finish();
  EXPECT_FALSE(lead.leads());
  EXPECT_EQ(a.woken, 0);  // the leader's waiter is never registered
  EXPECT_EQ(b.woken, 1);
  EXPECT_EQ(other.woken, 0);
  EXPECT_EQ(c.in_flight(), 1u);
  EXPECT_TRUE(c.join("k", b).leads());  // a new flight (finished at once by the temporary)
}

TEST(Coalescer, EachFollowerIsWokenOnce) {
  Coalescer c;
  Counter leader;
  std::vector<Counter> followers(5);
  Coalescer::Flight lead = c.join("k", leader);
  for (Counter& f : followers) EXPECT_FALSE(c.join("k", f).leads());
  lead.finish();
  lead.finish();  // a second finish does nothing
  for (const Counter& f : followers) EXPECT_EQ(f.woken, 1);
  EXPECT_EQ(c.in_flight(), 0u);
}

TEST(Coalescer, AFollowerThatLeftIsNotWoken) {
  Coalescer c;
  Counter leader, stays, leaves;
  Coalescer::Flight lead = c.join("k", leader);
  c.join("k", stays);
  c.join("k", leaves);
  c.leave("k", leaves);
  c.leave("k", leaves);  // twice: nothing more
  lead.finish();
  EXPECT_EQ(stays.woken, 1);
  EXPECT_EQ(leaves.woken, 0);
  c.leave("k", stays);  // after being woken: safe, nothing happens
  c.leave("never", stays);
  EXPECT_EQ(stays.woken, 1);
}

TEST(Coalescer, TheDestructorFinishes) {
  Coalescer c;
  Counter leader, follower;
  {
    Coalescer::Flight lead = c.join("k", leader);
    c.join("k", follower);
    EXPECT_EQ(c.in_flight(), 1u);
  }
  EXPECT_EQ(follower.woken, 1);
  EXPECT_EQ(c.in_flight(), 0u);
}

TEST(Coalescer, MovingHandsTheFlightOver) {
  Coalescer c;
  Counter leader, follower;
  Coalescer::Flight a = c.join("k", leader);
  c.join("k", follower);
  Coalescer::Flight b = std::move(a);
  EXPECT_FALSE(a.leads());  // NOLINT(bugprone-use-after-move): moved-from does nothing
  EXPECT_TRUE(b.leads());
  a.finish();
  { Coalescer::Flight gone = std::move(a); }
  EXPECT_EQ(follower.woken, 0);
  EXPECT_EQ(c.in_flight(), 1u);
  b.finish();
  EXPECT_EQ(follower.woken, 1);
}

TEST(Coalescer, MoveAssignmentFinishesTheFlightItReplaces) {
  Coalescer c;
  Counter l1, l2, f1, f2;
  Coalescer::Flight x = c.join("k1", l1);
  Coalescer::Flight y = c.join("k2", l2);
  c.join("k1", f1);
  c.join("k2", f2);
  x = std::move(y);
  EXPECT_EQ(f1.woken, 1);
  EXPECT_EQ(f2.woken, 0);
  EXPECT_EQ(c.in_flight(), 1u);
  x = std::move(x);  // self-assignment keeps the flight
  EXPECT_TRUE(x.leads());
  x.finish();
  EXPECT_EQ(f2.woken, 1);
  EXPECT_EQ(c.in_flight(), 0u);
}

TEST(Coalescer, TryLeadNeverWaits) {
  Coalescer c;
  Counter follower;
  Coalescer::Flight refresh = c.try_lead("k");
  EXPECT_TRUE(refresh.leads());
  EXPECT_FALSE(c.join("k", follower).leads());  // a request arriving meanwhile follows
  Coalescer::Flight second = c.try_lead("k");
  EXPECT_FALSE(second.leads());
  second.finish();  // registers nothing, ends nothing
  EXPECT_EQ(c.in_flight(), 1u);
  EXPECT_EQ(follower.woken, 0);
  refresh.finish();
  EXPECT_EQ(follower.woken, 1);
  EXPECT_TRUE(c.try_lead("k").leads());
  EXPECT_EQ(c.in_flight(), 0u);
}

TEST(Coalescer, FollowersOnOtherThreadsAreWoken) {
  Coalescer c;
  Counter leader;
  Coalescer::Flight lead = c.join("k", leader);
  constexpr int kFollowers = 3;
  std::latch joined(kFollowers);
  std::atomic<int> woken{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kFollowers; ++i) {
    threads.emplace_back([&] {
      Blocking w;
      const bool leads = c.join("k", w).leads();
      joined.count_down();
      if (!leads && w.wait_for(std::chrono::seconds(10))) ++woken;
    });
  }
  joined.wait();
  lead.finish();
  for (auto& t : threads) t.join();
  EXPECT_EQ(woken.load(), kFollowers);
}

TEST(Coalescer, ConcurrentFlightsEndCleanly) {
  Coalescer c(4);
  std::atomic<int> led{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::string key = "k" + std::to_string((i + t) % 5);
        Blocking w;
        Coalescer::Flight f = c.join(key, w);
        if (f.leads()) {
          ++led;
          continue;  // the destructor finishes
        }
        // Either woken by now or soon; leave() makes `w` safe to destroy either way.
        w.wait_for(std::chrono::microseconds(50));
        c.leave(key, w);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_GT(led.load(), 0);
  EXPECT_EQ(c.in_flight(), 0u);
}

}  // namespace
}  // namespace bulwark::cache
