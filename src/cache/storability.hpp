#pragma once
// May a response be stored? RFC 9111 §3, for bulwark's SHARED cache. Pure; the caller
// passes what it read from the exchange. The first refusal found is returned, so that
// Cache-Status (RFC 9211) can say why.
//
// bulwark's rules on top of the RFC:
//   - Only GET and HEAD (§3 allows others with explicit freshness; bulwark keys by URI only).
//   - 206 is never stored: bulwark does not combine ranges (§3.3), and a partial body must not
//     answer a full request. 304 is never stored as an entry: it only freshens one (§4.3.4).
//   - Set-Cookie: never stored, whatever the directives say (one user's cookie must not
//     reach another).
//   - `private` (qualified or not) refuses storage in the shared cache: bulwark does not
//     strip the named fields (§5.2.2.7 allows treating the qualified form as unqualified).
//   - `private_allowed` is the per-identity mode: the key holds the verified identity, so the
//     entry is that identity's private cache. It accepts `private` and lifts the
//     Authorization rule of §3.5 (that rule protects other users, who cannot hit the entry).
//   - must-understand (§5.2.2.3): stored only for a status bulwark understands (the
//     heuristically cacheable ones but 206); then no-store in the response is ignored.

#include <chrono>
#include <string_view>

#include "cache/directives.hpp"

namespace bulwark::cache {

enum class StoreRefusal {
  none,               // storable
  method,             // not GET or HEAD
  status,             // not final, 304, or not understood with must-understand
  partial_content,    // 206
  request_no_store,   // request Cache-Control: no-store
  response_no_store,  // response Cache-Control: no-store
  private_response,   // response Cache-Control: private, shared entry
  set_cookie,         // response carries Set-Cookie
  authorization,      // request carries Authorization, response lacks public/s-maxage/m-r
  no_freshness,       // status not heuristically cacheable and no explicit freshness
  // Set by the gateway, not by storable(): Vary is `*`, or names a field bulwark rewrites
  // for the upstream (X-Forwarded-*, Via, ...), whose client value is not what the origin saw.
  vary,
};

std::string_view to_string(StoreRefusal refusal);

struct StorabilityInput {
  std::string_view method;
  int status = 0;
  const RequestDirectives* request = nullptr;    // required
  const ResponseDirectives* response = nullptr;  // required
  bool has_authorization = false;                // request Authorization field
  bool has_set_cookie = false;                   // response Set-Cookie field
  bool has_expires = false;                      // response Expires field (any value)
  bool private_allowed = false;                  // per-identity entry (see above)
};

StoreRefusal storable(const StorabilityInput& in);

// RFC 9110 §15.1: 200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501.
bool heuristically_cacheable(int status);

}  // namespace bulwark::cache
