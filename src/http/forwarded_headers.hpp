#pragma once
// Which request headers reach the upstream, and what the gateway adds (DESIGN.md: headers
// the gateway sets are stripped from the incoming request first; hop-by-hop never forwarded).

#include <string>
#include <string_view>

namespace bulwark::http {

bool iequals(std::string_view a, std::string_view b);

// RFC 9110 §7.6.1 connection-specific fields, plus Keep-Alive / Proxy-Connection which
// old clients send; these are never forwarded in either direction.
bool is_hop_by_hop(std::string_view name);

// Calls `on_token(token)` for each comma-separated token of a Connection field value.
template <class F>
void for_each_list_token(std::string_view value, F&& on_token) {
  size_t i = 0;
  while (i <= value.size()) {
    size_t comma = value.find(',', i);
    if (comma == std::string_view::npos) comma = value.size();
    std::string_view token = value.substr(i, comma - i);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t'))
      token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
    if (!token.empty()) on_token(token);
    i = comma + 1;
  }
}

// Headers set by the gateway for the upstream; any copy sent by an untrusted client is
// dropped before the gateway sets its own.
bool is_gateway_set_header(std::string_view name);

// X-Forwarded-For for the upstream: the trusted chain plus the peer, or the peer alone
// when the peer is not a trusted proxy (so a client cannot forge its own chain).
std::string forwarded_for_value(std::string_view incoming, bool peer_trusted,
                                std::string_view peer_ip);

}  // namespace bulwark::http
