#include "observe/security_log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "observe/access_log.hpp"

namespace bulwark::observe {
namespace {

spdlog::logger& security_logger() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto made = std::make_shared<spdlog::logger>("security",
                                                 std::make_shared<spdlog::sinks::stderr_sink_mt>());
    made->set_pattern("%v");
    made->set_level(spdlog::level::info);
    return made;
  }();
  return *logger;
}

void append_field(std::string& out, std::string_view key, std::optional<std::string_view> value) {
  out += ",\"";
  out += key;
  out += "\":";
  if (value) {
    append_json_string(out, *value);
  } else {
    out += "null";
  }
}

// Lines are a signal for people; a flood of them (a scanner, one client replaying a bad
// token) must not fill disks nor stall workers on a slow stderr: at most kBurst lines at
// once and kPerSecond after; what is dropped is counted and said in one line per second.
// The metrics count every event regardless.
class LineBudget {
 public:
  static constexpr double kPerSecond = 100;
  static constexpr double kBurst = 500;

  // True when a line may be written; `suppressed` is set to the lines dropped since the last
  // report, when one is due.
  bool take(uint64_t& suppressed) {
    std::lock_guard lock(mutex_);
    auto now = std::chrono::steady_clock::now();
    double elapsed = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    tokens_ = std::min(kBurst, tokens_ + elapsed * kPerSecond);
    suppressed = 0;
    if (dropped_ > 0 && now - last_report_ >= std::chrono::seconds(1)) {
      suppressed = dropped_;
      dropped_ = 0;
      last_report_ = now;
    }
    if (tokens_ < 1) {
      ++dropped_;
      return false;
    }
    tokens_ -= 1;
    return true;
  }

 private:
  std::mutex mutex_;
  double tokens_ = kBurst;
  uint64_t dropped_ = 0;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_report_{};
};

LineBudget& line_budget() {
  static LineBudget budget;
  return budget;
}

void report_suppressed(uint64_t count) {
  std::string line = "{\"time\":";
  append_json_time(line, std::chrono::system_clock::now());
  line += ",\"level\":\"warn\",\"event\":\"security_log_suppressed\",\"count\":";
  line += std::to_string(count);
  line += '}';
  security_logger().warn(line);
}

}  // namespace

void log_security_event(const SecurityEvent& event) {
  uint64_t suppressed = 0;
  bool write = line_budget().take(suppressed);
  if (suppressed > 0) report_suppressed(suppressed);
  if (!write) return;
  std::string line;
  line.reserve(320);
  line += "{\"time\":";
  append_json_time(line, std::chrono::system_clock::now());
  line += ",\"level\":\"warn\"";
  append_field(line, "event", event.event);
  append_field(line, "reason", event.reason);
  append_field(line, "client_ip", event.client_ip);
  append_field(line, "route", event.route);
  append_field(line, "request_id", event.request_id);
  if (event.limit) {
    append_field(line, "limit", event.limit);
    append_field(line, "key", event.key);
  } else {
    append_field(line, "alg", event.alg);
    append_field(line, "kid", event.kid);
    append_field(line, "iss", event.iss);
  }
  if (event.cooldown_s) {
    line += ",\"cooldown_s\":";
    line += std::to_string(*event.cooldown_s);
  }
  line += '}';
  security_logger().warn(line);
}

}  // namespace bulwark::observe
