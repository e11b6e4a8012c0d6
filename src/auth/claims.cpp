#include "auth/claims.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "auth/strict_json.hpp"

namespace bulwark::auth {
namespace {

namespace json = boost::json;
using std::chrono::microseconds;

constexpr int64_t kMaxNumericDateSeconds = 253402300799;  // 9999-12-31T23:59:59Z

AuthError invalid(std::string_view claim, std::string_view expected) {
  return auth_error(AuthFailure::invalid_claim,
                    "claim \"" + std::string(claim) + "\" must be " + std::string(expected));
}

AuthError missing(std::string_view claim, std::string_view why) {
  return auth_error(AuthFailure::missing_claim,
                    "claim \"" + std::string(claim) + "\" is required" + std::string(why));
}

bool is_string_or_string_array(const json::value& v) {
  if (v.is_string()) return true;
  if (!v.is_array()) return false;
  const auto& items = v.get_array();
  return std::all_of(items.begin(), items.end(),
                     [](const json::value& x) { return x.is_string(); });
}

// The registered claims the checks read, found in one pass over the members.
struct RegisteredClaims {
  const json::value* iss = nullptr;
  const json::value* aud = nullptr;
  std::optional<NumericDate> exp, nbf, iat;
};

// Types of the registered claims (RFC 7519 §4.1) and of the scope claims the route policy
// will read ("scope" RFC 8693 §4.2; "scp" as some issuers send it).
Result<RegisteredClaims> read_registered_claims(const json::object& claims) {
  RegisteredClaims found;
  for (const auto& member : claims) {
    const std::string_view name(member.key());
    const json::value& v = member.value();
    if (name == "iss" || name == "sub" || name == "jti" || name == "scope") {
      if (!v.is_string()) return invalid(name, "a string");
      if (name == "iss") found.iss = &v;
    } else if (name == "aud" || name == "scp") {
      if (!is_string_or_string_array(v)) return invalid(name, "a string or an array of strings");
      if (name == "aud") found.aud = &v;
    } else if (name == "exp" || name == "nbf" || name == "iat") {
      auto date = numeric_date(v);
      if (!date) {
        return invalid(name, "a NumericDate: a JSON number of seconds since 1970, 0 to 9999-12-31");
      }
      (name == "exp" ? found.exp : name == "nbf" ? found.nbf : found.iat) = date;
    }
  }
  return found;
}

bool audience_matches(const json::value& aud, const std::vector<std::string>& audiences) {
  auto configured = [&](json::string_view s) {
    return std::find(audiences.begin(), audiences.end(), std::string_view(s)) != audiences.end();
  };
  if (aud.is_string()) return configured(aud.get_string());
  const auto& items = aud.get_array();
  return std::any_of(items.begin(), items.end(),
                     [&](const json::value& v) { return configured(v.get_string()); });
}

std::string seconds_text(microseconds d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count()) + " s";
}

}  // namespace

std::optional<NumericDate> numeric_date(const json::value& value) {
  if (value.is_int64()) {
    const int64_t s = value.get_int64();
    if (s < 0 || s > kMaxNumericDateSeconds) return std::nullopt;
    return NumericDate(std::chrono::seconds(s));
  }
  if (value.is_uint64()) {
    const uint64_t s = value.get_uint64();
    if (s > static_cast<uint64_t>(kMaxNumericDateSeconds)) return std::nullopt;
    return NumericDate(std::chrono::seconds(static_cast<int64_t>(s)));
  }
  if (value.is_double()) {
    const double s = value.get_double();
    if (!std::isfinite(s) || s < 0 || s > static_cast<double>(kMaxNumericDateSeconds)) {
      return std::nullopt;
    }
    return NumericDate(microseconds(static_cast<int64_t>(std::floor(s * 1e6))));
  }
  return std::nullopt;
}

Result<ValidClaims> validate_claims(std::string_view payload_json, const ClaimsPolicy& policy,
                                    std::chrono::system_clock::time_point now_point) {
  std::string why;
  auto parsed = parse_strict_json_object(payload_json, &why);
  if (!parsed) {
    return auth_error(AuthFailure::malformed, "claims set is not a valid JSON object: " + why);
  }
  return validate_claims(std::move(*parsed), policy, now_point);
}

Result<ValidClaims> validate_claims(boost::json::object claims, const ClaimsPolicy& policy,
                                    std::chrono::system_clock::time_point now_point) {
  ValidClaims result{std::move(claims), std::nullopt};
  auto registered = read_registered_claims(result.claims);
  if (!registered) return std::move(registered).error();
  const auto& [iss, aud, exp, nbf, iat] = registered.value();

  // Compared in microseconds: nanosecond time_points overflow before year 9999.
  const NumericDate now = std::chrono::floor<microseconds>(now_point);
  const microseconds leeway = policy.leeway;

  if (!exp && policy.require_exp) return missing("exp", "");
  if (!exp && policy.max_lifetime) return missing("exp", " when max_lifetime is set");
  if (exp && now >= *exp + leeway) {  // RFC 7519 §4.1.4: now must be before exp
    return auth_error(AuthFailure::expired, "token expired " + seconds_text(now - *exp) + " ago");
  }
  if (nbf && now + leeway < *nbf) {  // RFC 7519 §4.1.5: now must be at or after nbf
    return auth_error(AuthFailure::not_yet_valid,
                      "token is not valid for another " + seconds_text(*nbf - now));
  }
  if (iat && *iat > now + leeway) {
    return auth_error(AuthFailure::issued_in_future,
                      "token is issued " + seconds_text(*iat - now) + " in the future");
  }

  if (policy.issuer) {
    if (!iss) return missing("iss", "");
    if (std::string_view(iss->get_string()) != *policy.issuer) {
      return auth_error(AuthFailure::issuer_mismatch, "iss is not the configured issuer");
    }
  }
  if (!policy.audiences.empty()) {
    if (!aud) return missing("aud", "");
    if (!audience_matches(*aud, policy.audiences)) {
      return auth_error(AuthFailure::audience_mismatch,
                        "aud names none of the configured audiences");
    }
  }
  if (policy.max_lifetime) {
    const microseconds max = *policy.max_lifetime;
    const microseconds lifetime = iat ? *exp - *iat : *exp - now;
    const microseconds allowed = iat ? max : max + leeway;
    if (lifetime > allowed) {
      return auth_error(AuthFailure::lifetime_too_long,
                        "token lives " + seconds_text(lifetime) + (iat ? "" : " from now") +
                            "; max_lifetime is " + seconds_text(max));
    }
  }
  result.expires_at = exp;
  return result;
}

}  // namespace bulwark::auth
