#include "http/forwarded_headers.hpp"

#include <array>

namespace bulwark::http {
namespace {

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? char(c + 32) : c;
}

bool in_list(std::string_view name, const auto& list) {
  for (std::string_view candidate : list) {
    if (iequals(name, candidate)) return true;
  }
  return false;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool is_hop_by_hop(std::string_view name) {
  static constexpr std::array<std::string_view, 8> kHopByHop = {
      "connection", "keep-alive",        "proxy-connection", "te",
      "trailer",    "transfer-encoding", "upgrade",          "expect"};
  return in_list(name, kHopByHop);
}

bool is_gateway_set_header(std::string_view name) {
  static constexpr std::array<std::string_view, 5> kGatewaySet = {
      "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-real-ip", "forwarded"};
  return in_list(name, kGatewaySet);
}

std::string forwarded_for_value(std::string_view incoming, bool peer_trusted,
                                std::string_view peer_ip) {
  if (!peer_trusted || incoming.empty()) return std::string(peer_ip);
  std::string value(incoming);
  value += ", ";
  value += peer_ip;
  return value;
}

}  // namespace bulwark::http
