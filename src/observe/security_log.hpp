#pragma once
// Security events (failed authentications, clients put in cooldown) as one JSON object per
// line on stderr, apart from the access log: they are what an operator greps and alerts on.
// Never holds a token or a secret; attacker-chosen strings (alg, kid, iss) are escaped.
// Bounded: at most 500 lines at once and 100 per second after; dropped lines are counted in
// one {"event":"security_log_suppressed","count":N} line per second.

#include <cstdint>
#include <optional>
#include <string_view>

namespace bulwark::observe {

struct SecurityEvent {
  std::string_view event;  // "auth_failure", "auth_denied", "auth_client_blocked"
  std::string_view reason;
  std::string_view client_ip;
  std::string_view route;
  std::string_view request_id;
  std::optional<std::string_view> alg;
  std::optional<std::string_view> kid;
  std::optional<std::string_view> iss;
  std::optional<uint64_t> cooldown_s;
  std::optional<std::string_view> limit;  // rate_limited: the limit's name and key
  std::optional<std::string_view> key;
};

void log_security_event(const SecurityEvent& event);

}  // namespace bulwark::observe
