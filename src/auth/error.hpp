#pragma once
// The auth layer's one error type. Every refusal carries a reason from a small, stable set
// (used as the `reason` label of bulwark_auth_failures_total and in the failure log line)
// and a detail sentence for humans (the log line, `bulwark token verify`). A detail never
// holds the token nor secret material; it may name a header value only when that value is
// one bulwark knows (an algorithm name), never an attacker-chosen string.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace bulwark::auth {

enum class AuthFailure : uint8_t {
  malformed,          // not a JWS compact token: segments, base64url, JSON, header members
  token_too_large,    // over kMaxTokenBytes, refused before parsing
  encrypted_token,    // 5 segments: a JWE (RFC 7516), never accepted
  unsupported_alg,    // "none" in any case, or an alg bulwark does not implement
  unsupported_crit,   // "crit" lists an extension: bulwark understands none (RFC 7515 §4.1.11)
  alg_mismatch,       // header alg differs from the key's pinned alg
  unknown_key,        // no configured key has the token's kid (and alg)
  bad_signature,      // the signature does not verify, or has the wrong shape
  invalid_claim,      // a claim has the wrong JSON type or an impossible value
  missing_claim,      // a claim the policy requires is absent
  expired,            // exp is past, beyond the leeway
  not_yet_valid,      // nbf is ahead, beyond the leeway
  issued_in_future,   // iat is ahead, beyond the leeway
  issuer_mismatch,    // iss differs from the configured issuer
  audience_mismatch,  // aud does not name any configured audience
  lifetime_too_long,  // exp - iat (or exp - now) exceeds max_lifetime
  invalid_key,        // a key, secret, PEM, JWK or JWKS is unusable (found at load)
  crypto_error,       // OpenSSL failed for a reason that is not the token's fault
  revoked,            // valid, but revoked (POST /auth/revoke: its jti, or its sub since)
};

// Stable short names: "malformed", "bad_signature", ... (the enumerator's name).
std::string_view reason_name(AuthFailure reason);

struct AuthError {
  AuthFailure reason;
  std::string detail;
};

inline AuthError auth_error(AuthFailure reason, std::string detail) {
  return AuthError{reason, std::move(detail)};
}

// A value or the layer's error. Small on purpose: std::expected is C++23.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
  Result(AuthError error) : state_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const AuthError& error() const& { return std::get<1>(state_); }
  AuthError&& error() && { return std::get<1>(std::move(state_)); }

 private:
  std::variant<T, AuthError> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(AuthError error) : error_(std::move(error)) {}

  bool ok() const noexcept { return !error_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }

  const AuthError& error() const& { return *error_; }
  AuthError&& error() && { return std::move(*error_); }

 private:
  std::optional<AuthError> error_;
};

}  // namespace bulwark::auth
