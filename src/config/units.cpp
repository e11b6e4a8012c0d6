// The value syntaxes of the config file. Hand-parsed (inet_pton for addresses) so that this
// translation unit stays free of Asio and quick to compile.

#include "config/units.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <limits>
#include <span>

namespace bulwark::config {
namespace {

struct Unit {
  std::string_view name;
  uint64_t factor;
};

constexpr Unit kDurationUnits[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000},
};
constexpr Unit kSizeUnits[] = {
    {"B", 1},      {"KB", 1000},         {"MB", 1000 * 1000},         {"GB", 1000 * 1000 * 1000},
    {"KiB", 1024}, {"MiB", 1024 * 1024}, {"GiB", 1024 * 1024 * 1024},
};
constexpr Unit kRatePeriods[] = {
    {"s", 1000},
    {"m", 60'000},
    {"h", 3'600'000},
    {"d", 86'400'000},
};

bool fail(std::string* why, std::string message) {
  if (why) *why = std::move(message);
  return false;
}

// Lets a parser say `return refuse(why, "...")` whatever optional it returns.
std::nullopt_t refuse(std::string* why, std::string message) {
  fail(why, std::move(message));
  return std::nullopt;
}

// Appends rather than `"'" + ... + "'"`, which trips a GCC 12 -Wrestrict false positive.
std::string quoted(std::string_view text) {
  std::string result;
  result.reserve(text.size() + 2);
  result.append(1, '\'').append(text).append(1, '\'');
  return result;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return ascii_lower(x) == ascii_lower(y);
         });
}

// YAML hands us trimmed scalars already; callers from elsewhere (CLI flags, headers) may not.
std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

// Refuses empty values and inner spaces ("10 s"), which would otherwise read as a typo'd unit.
bool check_shape(std::string_view text, std::string_view example, std::string* why) {
  if (text.empty()) return fail(why, "the value is empty: write something like " + quoted(example));
  if (std::any_of(text.begin(), text.end(), is_space)) {
    std::string joined;
    std::copy_if(text.begin(), text.end(), std::back_inserter(joined),
                 [](char c) { return !is_space(c); });
    return fail(why, "no spaces inside the value: write " + quoted(joined));
  }
  return true;
}

// Decimal digits only; nullopt on overflow of uint64_t.
std::optional<uint64_t> parse_digits(std::string_view digits) {
  uint64_t value = 0;
  for (char c : digits) {
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::string unit_list(std::span<const Unit> units) {
  std::string list;
  for (size_t i = 0; i < units.size(); ++i) {
    if (i > 0) list += i + 1 == units.size() ? " or " : ", ";
    list += units[i].name;
  }
  return list;
}

const Unit* find_unit(std::span<const Unit> units, std::string_view name) {
  for (const Unit& unit : units) {
    if (unit.name == name) return &unit;
  }
  return nullptr;
}

// Explains an unknown unit, pointing at the right spelling when only the case is wrong.
std::string unknown_unit(std::string_view text, std::string_view digits, std::string_view unit,
                         std::span<const Unit> units) {
  for (const Unit& known : units) {
    if (iequals(known.name, unit)) {
      return "units are case-sensitive: write " +
             quoted(std::string(digits) + std::string(known.name));
    }
  }
  return "unknown unit " + quoted(unit) + " in " + quoted(text) + ": use " + unit_list(units);
}

// "<digits><unit>" → digits × unit factor. `bare_unit` is the unit of a bare number, or
// nullptr when a bare number is refused (durations: "10" could mean 10 ms or 10 s).
std::optional<uint64_t> parse_scaled(std::string_view text, std::span<const Unit> units,
                                     const Unit* bare_unit, std::string_view example, uint64_t max,
                                     std::string* why) {
  if (!check_shape(text, example, why)) return std::nullopt;
  if (text.front() == '-') return refuse(why, quoted(text) + " is negative");
  const auto unit_start = std::find_if_not(text.begin(), text.end(), is_digit) - text.begin();
  const std::string_view digits = text.substr(0, unit_start);
  const std::string_view unit_name = text.substr(unit_start);
  if (digits.empty()) {
    return refuse(why, quoted(text) + " is not a number with a unit, like " + quoted(example));
  }
  if (!unit_name.empty() && unit_name.front() == '.') {
    return refuse(why, "whole numbers only: use a smaller unit (" + unit_list(units) + ")");
  }
  const Unit* unit = unit_name.empty() ? bare_unit : find_unit(units, unit_name);
  if (unit_name.empty() && !unit) {
    return refuse(why, quoted(text) + " has no unit: write " + quoted(std::string(digits) + "s") +
                           " or " + quoted(std::string(digits) + "ms") +
                           " (units: " + unit_list(units) + ")");
  }
  if (!unit) {
    const bool compound = std::any_of(unit_name.begin(), unit_name.end(), is_digit);
    return refuse(why, compound ? "use a single unit, e.g. '90m' rather than '1h30m'"
                                : unknown_unit(text, digits, unit_name, units));
  }
  const auto count = parse_digits(digits);
  if (!count || *count > max / unit->factor) {
    return refuse(why, quoted(text) + " is too large");
  }
  return *count * unit->factor;
}

bool looks_like_ipv4(std::string_view host) {
  return std::all_of(host.begin(), host.end(), [](char c) { return is_digit(c) || c == '.'; });
}

bool parse_ipv4(std::string_view text, uint8_t out[4]) {
  if (text.size() > 15) return false;
  const std::string copy(text);  // inet_pton needs a NUL-terminated string
  return inet_pton(AF_INET, copy.c_str(), out) == 1;
}

bool parse_ipv6(std::string_view text, uint8_t out[16]) {
  if (text.size() > 45) return false;
  const std::string copy(text);
  return inet_pton(AF_INET6, copy.c_str(), out) == 1;
}

std::array<uint8_t, 16> mapped_ipv4(const uint8_t v4[4]) {
  std::array<uint8_t, 16> mapped{};
  mapped[10] = 0xff;
  mapped[11] = 0xff;
  std::copy(v4, v4 + 4, mapped.begin() + 12);
  return mapped;
}

std::string format_address(const std::array<uint8_t, 16>& address, bool ipv4) {
  char buffer[INET6_ADDRSTRLEN] = {};
  if (ipv4) {
    inet_ntop(AF_INET, address.data() + 12, buffer, sizeof buffer);
  } else {
    inet_ntop(AF_INET6, address.data(), buffer, sizeof buffer);
  }
  return buffer;
}

// Zeroes the bits after the first `prefix_bits`.
std::array<uint8_t, 16> masked(std::array<uint8_t, 16> address, unsigned prefix_bits) {
  for (unsigned byte = 0; byte < 16; ++byte) {
    const unsigned bits_before = byte * 8;
    if (bits_before >= prefix_bits) {
      address[byte] = 0;
    } else if (prefix_bits - bits_before < 8) {
      address[byte] &= static_cast<uint8_t>(0xff << (8 - (prefix_bits - bits_before)));
    }
  }
  return address;
}

std::optional<uint16_t> parse_port(std::string_view text, std::string* why) {
  if (text.empty()) return refuse(why, "the port is missing after ':'");
  if (!std::all_of(text.begin(), text.end(), is_digit)) {
    return refuse(why, "the port " + quoted(text) + " is not a number");
  }
  const auto port = parse_digits(text);
  if (!port || *port < 1 || *port > 65535) {
    return refuse(why, "the port must be from 1 to 65535, not " + std::string(text));
  }
  return static_cast<uint16_t>(*port);
}

bool check_endpoint_host(std::string_view host, std::string* why) {
  if (host.empty()) {
    return fail(why, "the host is missing: write 0.0.0.0:PORT to use every IPv4 interface");
  }
  if (looks_like_ipv4(host)) {
    uint8_t ignored[4];
    if (!parse_ipv4(host, ignored)) return fail(why, quoted(host) + " is not an IPv4 address");
    return true;
  }
  if (!is_hostname(host)) return fail(why, quoted(host) + " is not a valid host name");
  return true;
}

}  // namespace

std::optional<Duration> parse_duration(std::string_view text, std::string* why) {
  const auto ms =
      parse_scaled(trim(text), kDurationUnits, nullptr, "10s",
                   static_cast<uint64_t>(std::numeric_limits<Duration::rep>::max()), why);
  if (!ms) return std::nullopt;
  return Duration(static_cast<Duration::rep>(*ms));
}

std::optional<uint64_t> parse_size(std::string_view text, std::string* why) {
  return parse_scaled(trim(text), kSizeUnits, &kSizeUnits[0], "16KiB",
                      std::numeric_limits<uint64_t>::max(), why);
}

std::optional<Rate> parse_rate(std::string_view text, std::string* why) {
  text = trim(text);
  if (!check_shape(text, "100/s", why)) return std::nullopt;
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    return refuse(
        why, "expected a count per period like '100/s' (periods: " + unit_list(kRatePeriods) + ")");
  }
  const std::string_view count_text = text.substr(0, slash);
  const std::string_view period_text = text.substr(slash + 1);
  if (count_text.empty() || !std::all_of(count_text.begin(), count_text.end(), is_digit)) {
    if (!count_text.empty() && count_text.front() == '-') {
      return refuse(why, quoted(text) + " is negative");
    }
    return refuse(why, "the count " + quoted(count_text) + " is not a whole number");
  }
  const auto count = parse_digits(count_text);
  if (!count) return refuse(why, quoted(text) + " is too large");
  if (*count < 1) return refuse(why, "the count must be at least 1");
  if (period_text.empty()) {
    return refuse(
        why, "the period is missing after '/': write " + quoted(std::string(count_text) + "/s"));
  }
  const Unit* period = find_unit(kRatePeriods, period_text);
  if (!period) {
    return refuse(why,
                  unknown_unit(text, std::string(count_text) + "/", period_text, kRatePeriods));
  }
  return Rate{*count, Duration(period->factor)};
}

std::optional<Endpoint> parse_endpoint(std::string_view text, std::string* why) {
  text = trim(text);
  if (!check_shape(text, "127.0.0.1:8080", why)) return std::nullopt;
  if (text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return refuse(why, "missing ']' after the IPv6 address");
    }
    const std::string_view host = text.substr(1, close - 1);
    uint8_t ignored[16];
    if (!parse_ipv6(host, ignored)) {
      return refuse(why, quoted(host) + " is not an IPv6 address");
    }
    const std::string_view rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') {
      const Endpoint example{std::string(host), 8080};
      return refuse(why, "the port is missing: write " + quoted(example.to_string()));
    }
    const auto port = parse_port(rest.substr(1), why);
    if (!port) return std::nullopt;
    return Endpoint{std::string(host), *port};
  }
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return refuse(why, "the port is missing: write " + quoted(std::string(text) + ":8080"));
  }
  const std::string_view host = text.substr(0, colon);
  if (host.find(':') != std::string_view::npos) {
    return refuse(why, "put an IPv6 address in brackets, as in [::1]:8080");
  }
  if (!check_endpoint_host(host, why)) return std::nullopt;
  const auto port = parse_port(text.substr(colon + 1), why);
  if (!port) return std::nullopt;
  return Endpoint{std::string(host), *port};
}

std::optional<IpNetwork> parse_ip_network(std::string_view text, std::string* why) {
  text = trim(text);
  if (!check_shape(text, "10.0.0.0/8", why)) return std::nullopt;
  const size_t slash = text.find('/');
  const std::string_view address_text = text.substr(0, slash);
  const bool ipv4 = address_text.find(':') == std::string_view::npos;
  const auto address = parse_ip_address(address_text);
  if (!address) {
    return refuse(why, quoted(address_text) + " is not an IPv4 or IPv6 address");
  }
  const unsigned max_bits = ipv4 ? 32 : 128;
  unsigned bits = max_bits;
  if (slash != std::string_view::npos) {
    const std::string_view bits_text = text.substr(slash + 1);
    const bool digits = !bits_text.empty() && bits_text.size() <= 3 &&
                        std::all_of(bits_text.begin(), bits_text.end(), is_digit);
    const auto parsed = digits ? parse_digits(bits_text) : std::nullopt;
    if (!parsed || *parsed > max_bits) {
      return refuse(why,
                    "the prefix length after '/' must be from 0 to " + std::to_string(max_bits));
    }
    bits = static_cast<unsigned>(*parsed);
  }
  const unsigned mapped_bits = ipv4 ? bits + 96 : bits;
  const auto network = masked(*address, mapped_bits);
  if (network != *address) {
    return refuse(why, "host bits are set in " + quoted(text) + ": did you mean " +
                           quoted(format_address(network, ipv4) + "/" + std::to_string(bits)) +
                           "?");
  }
  return IpNetwork{network, mapped_bits};
}

std::optional<std::array<uint8_t, 16>> parse_ip_address(std::string_view text) {
  text = trim(text);
  if (text.find(':') != std::string_view::npos) {
    std::array<uint8_t, 16> address{};
    if (!parse_ipv6(text, address.data())) return std::nullopt;
    return address;
  }
  uint8_t v4[4];
  if (!parse_ipv4(text, v4)) return std::nullopt;
  return mapped_ipv4(v4);
}

// '_' is allowed because container runtimes (Compose service names) use it.
bool is_hostname(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  size_t label_start = 0;
  for (size_t i = 0; i <= host.size(); ++i) {
    if (i == host.size() || host[i] == '.') {
      const std::string_view label = host.substr(label_start, i - label_start);
      if (label.empty() || label.size() > 63) return false;
      if (label.front() == '-' || label.back() == '-') return false;
      label_start = i + 1;
      continue;
    }
    const char c = host[i];
    const bool ok =
        is_digit(c) || (ascii_lower(c) >= 'a' && ascii_lower(c) <= 'z') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace bulwark::config
