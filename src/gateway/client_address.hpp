#pragma once
// Who the client is, for per-client decisions (the failed-attempts guard, client rate
// limits): the peer itself, or, when the peer is a trusted proxy, the nearest address in
// X-Forwarded-For (or, when the request has none, in the for= parameters of Forwarded, RFC
// 7239) that is not a trusted proxy (walking from the right: entries to the left of an
// untrusted one could have been written by anybody).

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "http/framing.hpp"

namespace bulwark::gateway {

struct ClientAddress {
  std::array<uint8_t, 16> bytes{};  // IPv6 or IPv4-mapped
  std::string text;                 // as the log shows it
  // False when a trusted proxy sent no usable X-Forwarded-For entry: the client is then not
  // known, and per-client decisions must not fall on the proxy (all its clients at once).
  bool known = true;
};

// `peer` is the TCP peer. Entries may carry a port ("203.0.113.5:1111", "[2001:db8::1]:443",
// as Azure Application Gateway and IIS write them). A malformed entry ends the walk at the
// address before it (the last one known good); when even the rightmost is unusable, the
// result is the peer with known = false.
ClientAddress client_address(const ClientAddress& peer,
                             std::span<const config::IpNetwork> trusted_proxies,
                             std::span<const http::HeaderField> fields);

}  // namespace bulwark::gateway
