#include "auth/jws.hpp"

#include <boost/json/monotonic_resource.hpp>

#include <algorithm>
#include <array>

#include "auth/base64url.hpp"
#include "auth/strict_json.hpp"

namespace bulwark::auth {
namespace {

AuthError malformed(std::string detail) {
  return auth_error(AuthFailure::malformed, std::move(detail));
}

bool equals_ignoring_ascii_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

// A member that must be a string when present.
Result<std::optional<std::string>> optional_string(const boost::json::object& header,
                                                   std::string_view name) {
  const auto* member = header.if_contains(name);
  if (!member) return std::optional<std::string>{};
  if (!member->is_string()) {
    return malformed("header \"" + std::string(name) + "\" must be a string");
  }
  return std::optional<std::string>(std::string(member->get_string()));
}

}  // namespace

Result<JwsHeader> parse_jws_header(std::string_view header_json) {
  std::string why;
  // The header object dies here: build it in a stack arena, not on the heap.
  unsigned char arena_buffer[1024];
  boost::json::monotonic_resource arena(arena_buffer, sizeof arena_buffer);
  auto parsed = parse_strict_json_object(header_json, &why, &arena);
  if (!parsed) return malformed("header is not a valid JSON object: " + why);
  const boost::json::object& header = *parsed;

  JwsHeader result;
  const auto* alg = header.if_contains("alg");
  if (!alg) return malformed("header has no \"alg\"");
  if (!alg->is_string()) return malformed("header \"alg\" must be a string");
  const std::string_view alg_name(alg->get_string());
  if (equals_ignoring_ascii_case(alg_name, "none")) {
    return auth_error(AuthFailure::unsupported_alg,
                      "alg \"none\" (an unsecured JWS) is refused (RFC 7518 §3.6)");
  }
  const auto known = algorithm_from_name(alg_name);
  if (!known) {
    return auth_error(AuthFailure::unsupported_alg,
                      "alg is not one of HS256/384/512, RS256/384/512, PS256/384/512, "
                      "ES256/384/512, EdDSA");
  }
  result.alg = *known;

  if (const auto* crit = header.if_contains("crit")) {
    // RFC 7515 §4.1.11: a non-empty array of names; every name here is one bulwark does not
    // understand, so the JWS must be refused.
    if (!crit->is_array() || crit->get_array().empty() ||
        !std::all_of(crit->get_array().begin(), crit->get_array().end(),
                     [](const boost::json::value& v) { return v.is_string(); })) {
      return malformed("header \"crit\" must be a non-empty array of strings");
    }
    return auth_error(AuthFailure::unsupported_crit,
                      "header \"crit\" lists extensions bulwark does not understand");
  }

  auto kid = optional_string(header, "kid");
  if (!kid) return std::move(kid).error();
  result.kid = std::move(kid.value());
  auto typ = optional_string(header, "typ");
  if (!typ) return std::move(typ).error();
  result.typ = std::move(typ.value());
  // "jku", "x5u", "jwk", "x5c" (and "x5t", "cty", private names) are deliberately not read.
  return result;
}

Result<ParsedJws> parse_compact(std::string_view token) {
  if (token.size() > kMaxTokenBytes) {
    return auth_error(AuthFailure::token_too_large,
                      "token is over " + std::to_string(kMaxTokenBytes) + " bytes");
  }
  std::array<std::size_t, 4> dots{};
  std::size_t dot_count = 0;
  for (std::size_t at = token.find('.'); at != std::string_view::npos;
       at = token.find('.', at + 1)) {
    if (dot_count == dots.size()) return malformed("token has more than 5 segments");
    dots[dot_count++] = at;
  }
  if (dot_count == 4) {
    // RFC 7516 §7.1: five segments is JWE Compact Serialization.
    return auth_error(AuthFailure::encrypted_token, "encrypted tokens (JWE) are not accepted");
  }
  if (dot_count != 2) {
    return malformed("a JWS compact token has 3 segments separated by '.', got " +
                     std::to_string(dot_count + 1));
  }
  const std::string_view header_text = token.substr(0, dots[0]);
  const std::string_view payload_text = token.substr(dots[0] + 1, dots[1] - dots[0] - 1);
  const std::string_view signature_text = token.substr(dots[1] + 1);
  if (header_text.empty()) return malformed("header segment is empty");

  ParsedJws jws;
  std::string header_json;
  if (!base64url_decode_into(header_text, header_json)) {
    return malformed("header segment is not unpadded base64url (RFC 7515 §2)");
  }
  auto header = parse_jws_header(header_json);
  if (!header) return std::move(header).error();
  jws.header = std::move(header.value());
  // After the header, so an unsecured JWS ("alg":"none", empty signature) says so.
  if (signature_text.empty()) return malformed("signature segment is empty");

  if (!base64url_decode_into(payload_text, jws.payload)) {
    return malformed("payload segment is not unpadded base64url (RFC 7515 §2)");
  }
  if (!base64url_decode_into(signature_text, jws.signature)) {
    return malformed("signature segment is not unpadded base64url (RFC 7515 §2)");
  }
  jws.signing_input.assign(token.substr(0, dots[1]));
  return jws;
}

Result<void> verify_signature(const ParsedJws& jws, const VerificationKey& key) {
  if (jws.header.alg != key.algorithm()) {
    // Both names are registered ones, never attacker text.
    return auth_error(AuthFailure::alg_mismatch, "token alg " +
                                                     std::string(algorithm_name(jws.header.alg)) +
                                                     " does not match the key's " +
                                                     std::string(algorithm_name(key.algorithm())));
  }
  return key.verify(jws.signing_input, jws.signature);
}

}  // namespace bulwark::auth
