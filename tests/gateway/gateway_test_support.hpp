#pragma once
// Helpers shared by the gateway tests: HS256 issuers and tokens with the auth tests' clock,
// and addresses from their text.

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "auth/auth_test_support.hpp"
#include "auth/authenticator.hpp"
#include "auth/signing_key.hpp"
#include "config/units.hpp"

namespace bulwark::gateway::testing_support {

using auth::testing_support::kNow;
using auth::testing_support::now_plus;
using auth::testing_support::unwrap;

inline constexpr std::string_view kIssuer = "https://issuer.example";
// 32 bytes: the shortest HS256 secret bulwark accepts.
inline const std::string kSecret = "0123456789abcdef0123456789abcdef";

// A valid claims set for kIssuer: issued 10 s ago, living 5 minutes, audience "api".
inline std::string claims(
    std::initializer_list<std::pair<std::string_view, boost::json::value>> changes = {},
    std::initializer_list<std::string_view> removed = {}) {
  boost::json::object c{{"iss", kIssuer},   {"aud", "api"},      {"sub", "alice"},
                        {"iat", kNow - 10}, {"exp", kNow + 300}, {"scope", "read"}};
  for (const auto& [name, value] : changes) c[name] = value;
  for (auto name : removed) c.erase(name);
  return boost::json::serialize(c);
}

inline std::string hs256_token(const std::string& payload, std::string_view secret = kSecret,
                               std::optional<std::string_view> kid = std::nullopt) {
  auto key = unwrap(auth::SigningKey::from_hmac_secret(secret, auth::Algorithm::HS256));
  boost::json::object header{{"alg", "HS256"}, {"typ", "JWT"}};
  if (kid) header["kid"] = *kid;
  return unwrap(auth::sign_compact(boost::json::serialize(header), payload, key));
}

// One issuer, "main", for kIssuer with the HS256 secret kSecret and audience "api".
inline auth::Issuer hs256_issuer() {
  auth::Issuer issuer;
  issuer.name = "main";
  issuer.policy.issuer = std::string(kIssuer);
  issuer.policy.audiences = {"api"};
  issuer.keys.push_back(
      unwrap(auth::VerificationKey::from_hmac_secret(kSecret, auth::Algorithm::HS256)));
  return issuer;
}

inline std::array<uint8_t, 16> address(std::string_view text) {
  auto parsed = config::parse_ip_address(text);
  if (!parsed) throw std::invalid_argument("not an address: " + std::string(text));
  return *parsed;
}

inline config::IpNetwork network(std::string_view text) {
  auto parsed = config::parse_ip_network(text);
  if (!parsed) throw std::invalid_argument("not a network: " + std::string(text));
  return *parsed;
}

// The lines written to stderr while `action` runs (the security log writes there).
template <class Action>
std::vector<std::string> stderr_lines_of(Action&& action) {
  ::testing::internal::CaptureStderr();
  action();
  const std::string text = ::testing::internal::GetCapturedStderr();
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

}  // namespace bulwark::gateway::testing_support
