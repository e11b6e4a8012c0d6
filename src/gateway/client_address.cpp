#include "gateway/client_address.hpp"

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

}  // namespace

ClientAddress client_address(const ClientAddress& peer,
                             std::span<const config::IpNetwork> trusted_proxies,
                             std::span<const http::HeaderField> fields) {
  if (trusted_proxies.empty() || !trusted(trusted_proxies, peer.bytes)) return peer;
  ClientAddress client = peer;
  auto entries = forwarded_for_entries(fields);
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    auto ip = config::parse_ip_address(*it);
    if (!ip) break;
    client.bytes = *ip;
    client.text.assign(*it);
    if (!trusted(trusted_proxies, *ip)) break;
  }
  return client;
}

}  // namespace bulwark::gateway
