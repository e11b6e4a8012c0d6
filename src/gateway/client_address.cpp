#include "gateway/client_address.hpp"

#include <optional>
#include <vector>

#include "config/units.hpp"
#include "http/forwarded_headers.hpp"

namespace bulwark::gateway {
namespace {

bool trusted(std::span<const config::IpNetwork> networks, const std::array<uint8_t, 16>& ip) {
  for (const auto& network : networks) {
    if (network.contains(ip)) return true;
  }
  return false;
}

// The X-Forwarded-For entries in order, across fields.
std::vector<std::string_view> forwarded_for_entries(std::span<const http::HeaderField> fields) {
  std::vector<std::string_view> entries;
  for (const auto& field : fields) {
    if (!http::iequals(field.name, "x-forwarded-for")) continue;
    http::for_each_list_token(field.value, [&](std::string_view t) { entries.push_back(t); });
  }
  return entries;
}

bool iequals_prefix(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && http::iequals(text.substr(0, prefix.size()), prefix);
}

// The `for=` value of one Forwarded element ("for=192.0.2.60;proto=http"), unquoted; empty
// when the element has none (RFC 7239 §4: the walk cannot go on past such a hop).
std::string_view forwarded_for_value(std::string_view element) {
  while (!element.empty()) {
    std::size_t semicolon = element.find(';');
    std::string_view pair = element.substr(0, semicolon);
    while (!pair.empty() && (pair.front() == ' ' || pair.front() == '\t')) pair.remove_prefix(1);
    if (iequals_prefix(pair, "for=")) {
      std::string_view value = pair.substr(4);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
        value.remove_suffix(1);
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      return value;
    }
    if (semicolon == std::string_view::npos) break;
    element.remove_prefix(semicolon + 1);
  }
  return {};
}

// The Forwarded (RFC 7239) for= values in order, across fields; used when no
// X-Forwarded-For is present.
std::vector<std::string_view> forwarded_entries(std::span<const http::HeaderField> fields) {
  std::vector<std::string_view> entries;
  for (const auto& field : fields) {
    if (!http::iequals(field.name, "forwarded")) continue;
    http::for_each_list_token(
        field.value, [&](std::string_view e) { entries.push_back(forwarded_for_value(e)); });
  }
  return entries;
}

bool is_port(std::string_view text) {
  return !text.empty() && text.size() <= 5 &&
         text.find_first_not_of("0123456789") == std::string_view::npos;
}

// The address part of "a.b.c.d", "a.b.c.d:port", "v6", "[v6]" or "[v6]:port"; empty when
// the entry is none of these.
std::string_view address_part(std::string_view entry) {
  if (!entry.empty() && entry.front() == '[') {
    auto close = entry.find(']');
    if (close == std::string_view::npos) return {};
    std::string_view after = entry.substr(close + 1);
    if (!after.empty() && (after.front() != ':' || !is_port(after.substr(1)))) return {};
    return entry.substr(1, close - 1);
  }
  auto colon = entry.find(':');
  if (colon != std::string_view::npos && entry.find(':', colon + 1) == std::string_view::npos) {
    return is_port(entry.substr(colon + 1)) ? entry.substr(0, colon) : std::string_view{};
  }
  return entry;  // IPv4 without a port, or a bare IPv6 address
}

}  // namespace

ClientAddress client_address(const ClientAddress& peer,
                             std::span<const config::IpNetwork> trusted_proxies,
                             std::span<const http::HeaderField> fields) {
  if (trusted_proxies.empty() || !trusted(trusted_proxies, peer.bytes)) return peer;
  ClientAddress client = peer;
  client.known = false;
  auto entries = forwarded_for_entries(fields);
  if (entries.empty()) entries = forwarded_entries(fields);
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    std::string_view address = address_part(*it);
    auto ip = config::parse_ip_address(address);
    if (!ip) break;
    client.known = true;
    client.bytes = *ip;
    client.text.assign(address);
    if (!trusted(trusted_proxies, *ip)) break;
  }
  return client;
}

}  // namespace bulwark::gateway
