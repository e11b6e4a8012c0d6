#include "gateway/auth_stage.hpp"

#include "auth/token_source.hpp"
#include "http/forwarded_headers.hpp"
#include "observe/security_log.hpp"

namespace bulwark::gateway {
namespace {

using config::AuthMode;
using config::TokenSource;

constexpr std::size_t kAuthLayerReasons = static_cast<std::size_t>(auth::AuthFailure::revoked) + 1;

std::size_t slot(AuthFailureKind kind) {
  return static_cast<std::size_t>(kind);
}
std::size_t slot(auth::AuthFailure reason) {
  return static_cast<std::size_t>(reason);
}

// What the client is told: a fixed sentence per reason. The auth layer's own detail can
// name configured issuers or keys, which are for the operator's log, not for the caller.
std::string_view client_description(auth::AuthFailure reason) {
  using F = auth::AuthFailure;
  switch (reason) {
    case F::malformed:
      return "the token is not a well-formed JWS compact token";
    case F::token_too_large:
      return "the token is larger than 8192 bytes";
    case F::encrypted_token:
      return "encrypted tokens (JWE) are not accepted";
    case F::unsupported_alg:
      return "the token's algorithm is not accepted";
    case F::unsupported_crit:
      return "the token requires an extension (crit) that is not supported";
    case F::alg_mismatch:
      return "the token's algorithm does not match its key";
    case F::unknown_key:
      return "no key of the issuer matches the token";
    case F::bad_signature:
      return "the token's signature is invalid";
    case F::invalid_claim:
      return "a claim of the token has an invalid value";
    case F::missing_claim:
      return "the token lacks a required claim";
    case F::expired:
      return "the token has expired";
    case F::not_yet_valid:
      return "the token is not valid yet";
    case F::issued_in_future:
      return "the token is issued in the future";
    case F::issuer_mismatch:
      return "the token's issuer is not accepted here";
    case F::audience_mismatch:
      return "the token's audience is not accepted here";
    case F::lifetime_too_long:
      return "the token's lifetime is longer than allowed";
    case F::revoked:
      return "the token has been revoked";
    case F::invalid_key:
    case F::crypto_error:
      break;
  }
  return "the token could not be verified";
}

int64_t unix_seconds(std::chrono::system_clock::time_point now) {
  return std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
}

enum class Lookup { found, absent, ambiguous, malformed };

struct FoundToken {
  Lookup lookup = Lookup::absent;
  std::string_view token;
  std::string_view cookie_field;  // the Cookie value that held it
};

FoundToken find_bearer(std::span<const http::HeaderField> fields) {
  FoundToken found;
  for (const auto& field : fields) {
    if (!http::iequals(field.name, "authorization")) continue;
    if (found.lookup != Lookup::absent) return {Lookup::ambiguous, {}, {}};
    std::string_view token;
    switch (auth::parse_bearer(field.value, token)) {
      case auth::BearerParse::token:
        found = {Lookup::found, token, {}};
        break;
      case auth::BearerParse::malformed:
        found = {Lookup::malformed, {}, {}};
        break;
      case auth::BearerParse::other_scheme:
        found.lookup = Lookup::found;  // counted for the ambiguity check, undone below
        found.token = {};
        break;
    }
  }
  if (found.lookup == Lookup::found && found.token.empty()) found.lookup = Lookup::absent;
  return found;
}

FoundToken find_in_header(std::span<const http::HeaderField> fields, std::string_view name) {
  FoundToken found;
  for (const auto& field : fields) {
    if (!http::iequals(field.name, name)) continue;
    if (found.lookup != Lookup::absent) return {Lookup::ambiguous, {}, {}};
    found = {field.value.empty() ? Lookup::absent : Lookup::found, field.value, {}};
  }
  return found;
}

FoundToken find_in_cookie(std::span<const http::HeaderField> fields, std::string_view name) {
  FoundToken found;
  for (const auto& field : fields) {
    if (!http::iequals(field.name, "cookie")) continue;
    auto value = auth::cookie_value(field.value, name);
    if (!value) continue;
    // Two token cookies (cookie tossing from a sibling domain): which one is meant is unknown.
    if (found.lookup != Lookup::absent || auth::cookie_count(field.value, name) > 1) {
      return {Lookup::ambiguous, {}, {}};
    }
    found = {value->empty() ? Lookup::absent : Lookup::found, *value, field.value};
  }
  return found;
}

FoundToken find_token(const TokenSource& source, std::span<const http::HeaderField> fields) {
  switch (source.kind) {
    case TokenSource::Kind::bearer:
      return find_bearer(fields);
    case TokenSource::Kind::header:
      return find_in_header(fields, source.name);
    case TokenSource::Kind::cookie:
      return find_in_cookie(fields, source.name);
  }
  return {};
}

// error_description and scope are quoted-strings without escapes in bulwark's challenges:
// every text placed there comes from the fixed sentences above or from the config.
std::string challenge(std::string_view error, std::string_view description,
                      std::string_view scope = {}) {
  std::string out = "Bearer error=\"";
  out += error;
  out += "\", error_description=\"";
  for (char c : description) out += (c == '"' || c == '\\') ? '\'' : c;
  out += '"';
  if (!scope.empty()) {
    out += ", scope=\"";
    out += scope;
    out += '"';
  }
  return out;
}

void refuse(AuthDecision& d, unsigned status, std::string_view error, std::string_view detail,
            std::size_t failure_slot) {
  d.pass = false;
  d.status = status;
  d.error = error;
  d.detail = detail;
  d.failure_slot = failure_slot;
  d.outcome = auth_failure_reason_name(failure_slot);
}

void log_failure(const AuthRequest& request, std::string_view event, std::string_view reason,
                 const auth::TokenFacts* facts) {
  observe::SecurityEvent e{.event = event,
                           .reason = reason,
                           .client_ip = request.client_ip,
                           .route = request.route,
                           .request_id = request.request_id};
  if (facts) {
    if (facts->alg) e.alg = *facts->alg;
    if (facts->kid) e.kid = *facts->kid;
    if (facts->iss) e.iss = *facts->iss;
  }
  observe::log_security_event(e);
}

void record_guard_failure(const AuthServices& services, const AuthRequest& request,
                          AuthDecision& d) {
  if (!services.guard) return;
  if (!services.guard->record_failure(request.client, auth::FailureGuard::Clock::now())) return;
  d.guard_tripped = true;
  auto cooldown =
      std::chrono::duration_cast<std::chrono::seconds>(services.guard->options().cooldown);
  observe::log_security_event({.event = "auth_client_blocked",
                               .reason = "failed_attempts",
                               .client_ip = request.client_ip,
                               .route = request.route,
                               .request_id = request.request_id,
                               .cooldown_s = static_cast<uint64_t>(cooldown.count())});
}

bool refused_by_guard(const AuthServices& services, const AuthRequest& request, AuthDecision& d) {
  if (!services.guard) return false;
  auto left = services.guard->blocked_for(request.client, auth::FailureGuard::Clock::now());
  if (!left) return false;
  auto seconds = std::chrono::ceil<std::chrono::seconds>(*left).count();
  d.pass = false;
  d.blocked = true;
  d.status = 429;
  d.error = "too_many_failed_attempts";
  d.detail = "too many failed authentications from this client; retry in " +
             std::to_string(seconds) + " s";
  d.retry_after_s = static_cast<uint64_t>(std::max<int64_t>(seconds, 1));
  d.outcome = "blocked";
  return true;
}

void add_forwarded_claims(const RouteAuthPolicy& policy, const boost::json::object& claims,
                          AuthDecision& d) {
  for (const auto& forwarded : policy.forward_claims) {
    const auto* value = auth::find_claim(claims, forwarded.claim);
    if (value == nullptr) continue;
    auto text = auth::forwarded_claim_value(*value);
    if (text) d.forward.emplace_back(forwarded.header, std::move(*text));
  }
}

void fail_token(const AuthServices& services, const AuthRequest& request, AuthDecision& d,
                auth::AuthFailure reason, const auth::TokenFacts* facts) {
  std::string_view description = client_description(reason);
  refuse(d, 401, "invalid_token", description, slot(reason));
  d.challenge = challenge("invalid_token", description);
  log_failure(request, "auth_failure", auth::reason_name(reason), facts);
  // A kid bulwark does not know yet is mostly a key rotation racing the JWKS refresh: honest
  // clients must not be locked out for it, and it costs no signature check to refuse.
  if (reason != auth::AuthFailure::unknown_key) record_guard_failure(services, request, d);
}

}  // namespace

std::string_view auth_failure_reason_name(std::size_t index) {
  if (index < kAuthLayerReasons) return auth::reason_name(static_cast<auth::AuthFailure>(index));
  switch (static_cast<AuthFailureKind>(index)) {
    case AuthFailureKind::missing_token:
      return "missing_token";
    case AuthFailureKind::invalid_request:
      return "invalid_request";
    case AuthFailureKind::insufficient_scope:
      return "insufficient_scope";
  }
  return "";
}

void AuthDecision::clear() {
  pass = true;
  status = 0;
  error.clear();
  detail.clear();
  challenge.clear();
  retry_after_s = 0;
  failure_slot.reset();
  blocked = false;
  guard_tripped = false;
  cache_hit = false;
  verified = false;
  token_verified = false;
  identity.reset();
  outcome = {};
  forward.clear();
  drop_token_field = false;
  cookie_without_token.clear();
}

bool is_forwarded_claim_header(std::span<const std::string> lower_names, std::string_view name) {
  for (const auto& header : lower_names) {
    if (http::iequals(header, name)) return true;
  }
  return false;
}

void run_auth_stage(const RouteAuthPolicy& policy, const AuthServices& services,
                    const AuthRequest& request, std::chrono::system_clock::time_point now,
                    AuthDecision& d) {
  d.clear();
  if (policy.mode == AuthMode::off) {
    d.outcome = "off";
    return;
  }
  if (refused_by_guard(services, request, d)) return;
  FoundToken found = find_token(policy.token, request.fields);
  if (found.lookup == Lookup::ambiguous) {
    std::string_view detail = policy.token.kind == TokenSource::Kind::cookie
                                  ? "the token cookie is sent more than once"
                                  : "the token header is sent more than once";
    refuse(d, 400, "invalid_request", detail, slot(AuthFailureKind::invalid_request));
    d.challenge = challenge("invalid_request", detail);
    log_failure(request, "auth_failure", "invalid_request", nullptr);
    return;
  }
  if (found.lookup == Lookup::malformed) {
    fail_token(services, request, d, auth::AuthFailure::malformed, nullptr);
    return;
  }
  if (found.lookup == Lookup::absent) {
    if (policy.mode == AuthMode::optional) {
      d.outcome = "anonymous";
      return;
    }
    refuse(d, 401, "missing_token", "this route requires a bearer token",
           slot(AuthFailureKind::missing_token));
    d.challenge = "Bearer";  // RFC 6750 §3.1: no error code when no token was sent
    log_failure(request, "auth_failure", "missing_token", nullptr);
    return;
  }
  if (!services.authenticator) {
    fail_token(services, request, d, auth::AuthFailure::unknown_key, nullptr);
    return;
  }
  auth::TokenFacts facts;
  auto result = services.authenticator->authenticate(found.token, policy.issuers, now, &facts);
  d.verified = true;
  if (!result) {
    fail_token(services, request, d, result.error().reason, &facts);
    return;
  }
  d.cache_hit = result->cached;
  const auto& claims = result->claims->claims;
  if (services.revocations != nullptr && !services.revocations->empty() &&
      services.revocations->is_revoked(claims, unix_seconds(now))) {
    if (!facts.iss) facts.iss = services.authenticator->issuers()[result->issuer].policy.issuer;
    fail_token(services, request, d, auth::AuthFailure::revoked, &facts);
    return;
  }
  if (auto denial = auth::authorize(claims, policy.requirements)) {
    // A token served by the cache was not read again: name its issuer from the config.
    if (!facts.iss) {
      facts.iss = services.authenticator->issuers()[result->issuer].policy.issuer;
    }
    refuse(d, 403, "insufficient_scope", denial->description,
           slot(AuthFailureKind::insufficient_scope));
    d.challenge = challenge("insufficient_scope", denial->description, denial->missing_scope);
    log_failure(request, "auth_denied", "insufficient_scope", &facts);
    return;
  }
  d.outcome = d.cache_hit ? "ok_cached" : "ok";
  d.token_verified = true;
  d.identity = result->claims;
  add_forwarded_claims(policy, claims, d);
  if (!policy.forward_token) {
    d.drop_token_field = true;
    if (policy.token.kind == TokenSource::Kind::cookie) {
      d.cookie_without_token = auth::cookie_header_without(found.cookie_field, policy.token.name);
    }
  }
}

}  // namespace bulwark::gateway
