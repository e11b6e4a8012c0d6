#pragma once
// The JWT claims set (RFC 7519 §4.1) checked against an issuer's policy at an injected time.
// Runs after the signature verified (jws.hpp): claims of an unverified token mean nothing.

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/error.hpp"

namespace bulwark::auth {

struct ClaimsPolicy {
  std::optional<std::string> issuer;   // "iss" must equal it exactly, when set
  std::vector<std::string> audiences;  // "aud" must name one of them, when not empty
  bool require_exp = true;             // short-lived tokens are the point
  std::chrono::seconds leeway{30};     // clock skew allowed for exp, nbf, iat
  // Refuse tokens that live longer: exp - iat, or exp - now when iat is absent (plus leeway,
  // since now is not the issuer's clock). Setting it makes exp required.
  std::optional<std::chrono::seconds> max_lifetime;
};

// A NumericDate (RFC 7519 §2) at microsecond precision: fractional seconds are allowed.
using NumericDate = std::chrono::sys_time<std::chrono::microseconds>;

// A JSON number (integer or finite double) from 0 to 253402300799 (9999-12-31T23:59:59Z);
// nullopt for anything else: strings, booleans, NaN, infinities, negative or huge values.
std::optional<NumericDate> numeric_date(const boost::json::value& value);

struct ValidClaims {
  boost::json::object claims;
  std::optional<NumericDate> expires_at;  // exp, for caches keyed by the token
};

// `payload_json` is the verified JWS payload. Refusals:
//   malformed          not a JSON object, or duplicate member names (RFC 7519 §4)
//   invalid_claim      iss, sub, jti, scope not strings; aud, scp not a string or an array
//                      of strings; exp, nbf, iat not NumericDates
//   missing_claim      exp absent (when required, or when max_lifetime is set); iss absent
//                      with an issuer set; aud absent with audiences set
//   expired            now >= exp + leeway (RFC 7519 §4.1.4)
//   not_yet_valid      now + leeway < nbf (§4.1.5)
//   issued_in_future   iat > now + leeway
//   issuer_mismatch, audience_mismatch (§4.1.1, §4.1.3), lifetime_too_long
// With `audiences` empty "aud" is not checked (but its type is).
Result<ValidClaims> validate_claims(std::string_view payload_json, const ClaimsPolicy& policy,
                                    std::chrono::system_clock::time_point now);
// The same checks on a claims set already parsed with parse_strict_json_object.
Result<ValidClaims> validate_claims(boost::json::object claims, const ClaimsPolicy& policy,
                                    std::chrono::system_clock::time_point now);

}  // namespace bulwark::auth
