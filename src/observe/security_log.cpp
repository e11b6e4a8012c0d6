#include "observe/security_log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
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

}  // namespace

void log_security_event(const SecurityEvent& event) {
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
  append_field(line, "alg", event.alg);
  append_field(line, "kid", event.kid);
  append_field(line, "iss", event.iss);
  if (event.cooldown_s) {
    line += ",\"cooldown_s\":";
    line += std::to_string(*event.cooldown_s);
  }
  line += '}';
  security_logger().warn(line);
}

}  // namespace bulwark::observe
