#include "config/config.hpp"

namespace bulwark::config {

std::string Endpoint::to_string() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  const std::string shown_host = ipv6 ? "[" + host + "]" : host;
  return shown_host + ":" + std::to_string(port);
}

bool IpNetwork::contains(const std::array<uint8_t, 16>& ip) const {
  const unsigned bits = prefix_bits > 128 ? 128 : prefix_bits;
  const unsigned full_bytes = bits / 8;
  for (unsigned i = 0; i < full_bytes; ++i) {
    if (ip[i] != address[i]) return false;
  }
  const unsigned rest = bits % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (ip[full_bytes] & mask) == (address[full_bytes] & mask);
}

const Upstream* Config::find_upstream(std::string_view name) const {
  for (const Upstream& upstream : upstreams) {
    if (upstream.name == name) return &upstream;
  }
  return nullptr;
}

const AuthIssuer* Auth::find_issuer(std::string_view name) const {
  for (const AuthIssuer& issuer : issuers) {
    if (issuer.name == name) return &issuer;
  }
  return nullptr;
}

const RateLimit* Config::find_limit(std::string_view name) const {
  for (const RateLimit& limit : limits) {
    if (limit.name == name) return &limit;
  }
  return nullptr;
}

}  // namespace bulwark::config
