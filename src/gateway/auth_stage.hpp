#pragma once
// The authenticate and authorize stages of a route (DESIGN.md, request path steps 2 and 3):
// token from the request → verified claims → the route's requirements → headers for the
// upstream. Pure of I/O except the failure log line; the connection applies the decision.

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/authenticator.hpp"
#include "auth/failure_guard.hpp"
#include "auth/revocation_list.hpp"
#include "auth/route_policy.hpp"
#include "config/config.hpp"
#include "http/framing.hpp"

namespace bulwark::gateway {

struct ForwardedClaim {
  auth::ClaimPath claim;
  std::string header;
};

struct RouteAuthPolicy {
  config::AuthMode mode = config::AuthMode::required;
  auth::IssuerMask issuers = auth::kAllIssuers;
  auth::Requirements requirements;
  std::vector<ForwardedClaim> forward_claims;
  config::TokenSource token;
  bool forward_token = true;
};

// Why a request failed authentication or authorization: the auth layer's reasons, then the
// stage's own. The metric label and log "reason" is auth_failure_reason_name().
enum class AuthFailureKind : uint8_t {
  // 0 .. kAuthLayerReasons-1: auth::AuthFailure values
  missing_token = 32,
  invalid_request,     // several Authorization fields, or several token cookies
  insufficient_scope,  // 403
};
inline constexpr std::size_t kAuthReasonSlots = 40;
std::string_view auth_failure_reason_name(std::size_t slot);  // "" for unused slots

// What the stage decided; reused per connection (clear() keeps capacity).
struct AuthDecision {
  bool pass = true;
  // When !pass: the response.
  unsigned status = 0;    // 400, 401, 403 or 429
  std::string error;      // the JSON body's "error"
  std::string detail;     // the JSON body's "detail" (same text as error_description)
  std::string challenge;  // WWW-Authenticate value, or empty
  uint64_t retry_after_s = 0;
  // For metrics and the access log.
  std::optional<std::size_t> failure_slot;  // auth_failure_reason_name slot, when it failed
  bool blocked = false;                     // refused by the brute-force guard
  bool guard_tripped = false;               // this failure started a cooldown
  bool cache_hit = false;
  bool verified = false;                                 // a token was checked (cache_hit says how)
  bool token_verified = false;                           // ... and it passed
  std::shared_ptr<const auth::VerifiedClaims> identity;  // the verified claims, when it passed
  std::string_view outcome;  // access log "auth": ok, anonymous, blocked, or the reason
  // When pass: headers for the upstream, and whether to drop the token's own field.
  std::vector<std::pair<std::string, std::string>> forward;  // header name, value
  bool drop_token_field = false;
  std::string cookie_without_token;  // the Cookie value to send when the token was a cookie

  void clear();
};

struct AuthServices {
  auth::Authenticator* authenticator = nullptr;
  auth::FailureGuard* guard = nullptr;
  // Checked on every verified token, cached or not; null: nothing is ever revoked.
  const auth::RevocationList* revocations = nullptr;
};

struct AuthRequest {
  std::span<const http::HeaderField> fields;
  const std::array<uint8_t, 16>& client;  // the client's address (for the guard)
  std::string_view client_ip;
  std::string_view route;
  std::string_view request_id;
};

void run_auth_stage(const RouteAuthPolicy& policy, const AuthServices& services,
                    const AuthRequest& request, std::chrono::system_clock::time_point now,
                    AuthDecision& decision);

// True for a field the gateway sets from claims on any route: stripped from every request.
bool is_forwarded_claim_header(std::span<const std::string> lower_names, std::string_view name);

}  // namespace bulwark::gateway
