#pragma once
// The value syntaxes of the config file: durations ("250ms", "10s", "5m", "1h", "1d"),
// sizes ("512", "16KiB", "10MiB", "1GiB", also "KB"/"MB"/"GB" as powers of 1000), and
// rates ("100/s", "600/m", "10000/h", "100000/d").

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace bulwark::config {

struct Rate {
  uint64_t count = 0;
  Duration period{};
  friend bool operator==(const Rate&, const Rate&) = default;
};

// Each returns nullopt and sets `why` (when given) on bad input; never throws. Surrounding
// whitespace is ignored; whitespace inside a value is refused.
std::optional<Duration> parse_duration(std::string_view text, std::string* why = nullptr);
std::optional<uint64_t> parse_size(std::string_view text, std::string* why = nullptr);
std::optional<Rate> parse_rate(std::string_view text, std::string* why = nullptr);
std::optional<Endpoint> parse_endpoint(std::string_view text, std::string* why = nullptr);
std::optional<IpNetwork> parse_ip_network(std::string_view text, std::string* why = nullptr);
// Parses a literal IPv4 or IPv6 address into the mapped 16-byte form used by IpNetwork.
std::optional<std::array<uint8_t, 16>> parse_ip_address(std::string_view text);

// A DNS host name (labels of letters, digits, '-' and '_', separated by dots), any case.
// A dotted-quad like "127.0.0.1" passes too: callers that care check IPv4 first.
bool is_hostname(std::string_view text);

}  // namespace bulwark::config
