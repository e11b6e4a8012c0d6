#pragma once
// May a stored response answer this request, and how (RFC 9111 §4, §4.2.4, RFC 5861)? Pure:
// ages and lifetimes come in, a decision comes out.
//
// Order of the rules:
//   1. Request `no-cache`, or `Pragma: no-cache` without a Cache-Control field (§5.4), and
//      response `no-cache` (qualified or not: bulwark does not strip the named fields) →
//      validate.
//   2. Request limits: max-age (age must not exceed it) and min-fresh (lifetime − age must
//      be at least it) → validate when refused. They bound every reuse, stale ones
//      included: max-stale relaxes the freshness requirement, not the client's own limits,
//      and stale-while-revalidate is the origin's grant, not the client's.
//   3. Fresh (lifetime > age; age == lifetime is stale) → fresh.
//   4. Stale reuse is forbidden by must-revalidate, proxy-revalidate or s-maxage (§4.2.4,
//      §5.2.2.2, §5.2.2.8, §5.2.2.10, shared cache) → validate.
//   5. Request max-stale (bare, or staleness ≤ its value) → stale_allowed.
//   6. Response stale-while-revalidate and staleness ≤ its value → serve_stale_revalidate
//      (answer now, refresh in the background).
//   7. Otherwise → validate.
// `staleness` = age − lifetime.
//
// only-if-cached (§5.2.1.7): the caller answers 504 when the decision is validate.

#include <chrono>

#include "cache/directives.hpp"

namespace bulwark::cache {

enum class Reuse {
  fresh,                   // answer from the cache
  stale_allowed,           // answer from the cache: the client accepts this staleness
  serve_stale_revalidate,  // answer from the cache and revalidate once in the background
  validate,                // ask the upstream (conditionally when the entry has validators)
};

struct ReuseInput {
  const RequestDirectives* request = nullptr;    // required
  const ResponseDirectives* response = nullptr;  // required (the stored response's)
  bool pragma_no_cache = false;                  // request Pragma: no-cache
  bool has_cache_control = false;                // request has a Cache-Control field
  std::chrono::seconds age{0};
  std::chrono::seconds lifetime{0};
};

Reuse decide_reuse(const ReuseInput& in);

// Whether a stored response may answer when the upstream failed (no response, a timeout,
// or a 500, 502, 503 or 504). Never with response no-cache, fresh or not (§5.2.2.4: only
// after a successful validation). Otherwise a fresh response may; a stale one only with a
// stale-if-error covering its staleness (RFC 5861 §4, staleness ≤ its value) and without
// must-revalidate, proxy-revalidate or s-maxage.
bool may_serve_on_error(const ResponseDirectives& response, std::chrono::seconds age,
                        std::chrono::seconds lifetime);

// The statuses that count as an upstream failure for stale-if-error (RFC 5861 §4).
bool is_error_status(unsigned status);

}  // namespace bulwark::cache
