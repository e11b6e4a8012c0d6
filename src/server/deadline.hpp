#pragma once
// Cheap timeouts for many connections: each connection holds a deadline that it moves with
// a plain store, and its worker sweeps all deadlines on a coarse tick (100 ms). Arming a
// timeout on the hot path is then a clock read, with no timer queue operation.

#include <boost/intrusive/list.hpp>
#include <chrono>

namespace bulwark::server {

using Clock = std::chrono::steady_clock;

class Deadline : public boost::intrusive::list_base_hook<
                     boost::intrusive::link_mode<boost::intrusive::auto_unlink>> {
 public:
  virtual ~Deadline() = default;

  void expire_at(Clock::time_point when) { when_ = when; }
  void expire_after(Clock::duration d) { when_ = Clock::now() + d; }
  void clear() { when_ = Clock::time_point::max(); }
  Clock::time_point when() const { return when_; }

  // Called by the worker's sweep, on the worker's thread, once per expiry.
  virtual void on_deadline() = 0;
  // Called when the worker starts draining (SIGTERM).
  virtual void on_drain() {}

 private:
  Clock::time_point when_ = Clock::time_point::max();
};

using DeadlineList = boost::intrusive::list<Deadline, boost::intrusive::constant_time_size<false>>;

}  // namespace bulwark::server
