#pragma once
// The cache stage of a route (DESIGN.md, request path steps 5 and 7): after authentication
// and the identity limits, it decides whether a stored response answers the request, and
// later whether the upstream's response is stored. Pure of I/O: the connection does the
// waiting, the relaying and the background refresh; this file holds the decisions.
//
// What a route's cache does, in order, for one request:
//   - Only GET and HEAD without a body are looked up; HEAD is answered from GET's entry
//     and, on a miss, forwarded as HEAD and not stored. Requests with preconditions meant
//     for the origin (Range, If-Match, If-Unmodified-Since, If-Range) and requests with a
//     body bypass the cache (Cache-Status fwd=request); other methods fwd=method.
//   - The key (cache/key.hpp): URL key + identity prefix (per_identity with a verified
//     identity) + Vary values. An anonymous caller of a per_identity route uses the shared
//     entries, where `private` is never stored.
//   - The stored response's reuse (cache/reuse.hpp): fresh, stale allowed by the client,
//     stale-while-revalidate (answer, refresh once in the background), or validate
//     (conditionally when the entry has validators). only-if-cached without a usable entry
//     → 504.
//   - The client's own If-None-Match / If-Modified-Since are evaluated by the cache against
//     the entry it answers from (cache/conditional.hpp); when it asks upstream to validate,
//     bulwark's validators replace the client's.

#include <boost/json/object.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "auth/route_policy.hpp"
#include "auth/token_cache.hpp"
#include "cache/entry.hpp"
#include "cache/key.hpp"
#include "cache/reuse.hpp"
#include "cache/storability.hpp"
#include "cache/store.hpp"
#include "config/config.hpp"
#include "http/framing.hpp"
#include "http/path_normalizer.hpp"

namespace bulwark::gateway {

struct CompiledCache {
  config::RouteCache::Scope scope = config::RouteCache::Scope::shared;
  auth::ClaimPath identity_claim;
  cache::KeyOptions key;
  bool heuristic_freshness = false;
  config::Duration coalesce_timeout{0};
};

CompiledCache compile_route_cache(const config::RouteCache& from);

enum class CacheAction {
  bypass,           // not a request the cache takes part in: straight upstream
  hit,              // answer from `entry`
  hit_and_refresh,  // answer from `entry` (stale-while-revalidate), refresh it once
  validate,         // ask the upstream about `entry` (conditionally when it has validators)
  miss,             // nothing usable stored: ask the upstream, store what comes back
  unavailable,      // only-if-cached and nothing usable: 504
};

struct CacheRequest {
  std::string_view method;
  // The authority the upstream receives (absolute-form authority, else Host), lower case,
  // port included: the origin may build links from it, so it is keyed as sent.
  std::string_view authority;
  std::string_view path;  // normalized
  std::string_view query;
  bool has_query = false;
  bool has_body = false;
  // Whether the request carried credentials (RFC 9111 §3.5): an Authorization field, or a
  // token the route read from a cookie or another header, forwarded or not.
  bool has_authorization = false;
  // The fields as the upstream gets them (claim headers set by bulwark included): Vary
  // values are read from these, since they are what the response was made for.
  std::span<const http::HeaderField> fields;
  const auth::VerifiedClaims* identity = nullptr;  // the verified token, or null
};

// One request's cache state, reused across the requests of a connection.
struct CacheLookup {
  CacheAction action = CacheAction::bypass;
  // Cache-Status fwd= for a forwarded request: "method", "request", "miss", "stale".
  std::string_view fwd;
  std::string uri_key;
  std::string identity;  // identity prefix; empty: shared entries
  bool private_allowed = false;
  bool has_authorization = false;
  bool head = false;
  cache::RequestDirectives directives;
  std::shared_ptr<const cache::Entry> entry;
  bool not_modified = false;  // answering from `entry`: the client's conditional matched
  bool conditional = false;   // the request has If-None-Match or If-Modified-Since
  std::vector<cache::FieldLine> request_lines;  // the request's fields, for Vary
  std::string cache_control;  // the request's Cache-Control lines joined (capacity reused)

  void clear();
  // The coalescing key of this request's misses (URL key and identity).
  std::string flight_key() const;
};

// Fills `out` for `request` (which `out` then refers to until the next call).
void look_up(const CompiledCache& config, cache::Store& store, const CacheRequest& request,
             std::chrono::sys_seconds now, CacheLookup& out);

// Decides again with an entry found later (a coalesced follower, a refreshed entry).
void decide(const CompiledCache& config, std::shared_ptr<const cache::Entry> entry,
            std::chrono::sys_seconds now, CacheLookup& out);

// The entry to store for an upstream response, without its body (the caller adds it once
// relayed), or null with `refusal` set when it must not be stored.
std::shared_ptr<cache::Entry> storable_entry(const CompiledCache& config, const CacheLookup& lookup,
                                             unsigned status, std::string_view reason,
                                             std::span<const http::HeaderField> response_fields,
                                             std::chrono::sys_seconds request_time,
                                             std::chrono::sys_seconds response_time,
                                             cache::StoreRefusal& refusal);

// Whether an entry freshened by a 304 may stay stored: the 304 may have added no-store, or
// private where the lookup allows no private entry.
bool may_keep(const CacheLookup& lookup, const cache::Entry& freshened);

// The fields of a response answered from `entry` without asking the upstream:
// "Age: N\r\nCache-Status: bulwark; hit; ttl=N[; collapsed][; detail=stale]\r\n".
void append_hit_fields(const cache::Entry& entry, std::chrono::sys_seconds now, bool collapsed,
                       std::string& out);

// The Cache-Status line of a forwarded request's response (RFC 9211 §2): fwd, fwd-status,
// stored, collapsed, ttl (of the stored response that answered, when one did) and detail.
struct ForwardStatus {
  std::string_view fwd;
  unsigned fwd_status = 0;  // 0: none (no response came)
  bool stored = false;
  bool collapsed = false;
  std::optional<int64_t> ttl;
  std::string_view detail;
};
void append_forward_fields(const ForwardStatus& status, std::string& out);

// The targets an unsafe request's non-error response invalidates besides its own
// (RFC 9111 §4.4): Location and Content-Location, absolute on the same authority (`authority`:
// lower case, port included) or relative (resolved against `request_path`), normalized.
// Others are ignored (§4.4: only same-origin).
std::vector<http::NormalizedTarget> invalidated_targets(
    std::string_view authority, std::string_view request_path,
    std::span<const http::HeaderField> response_fields);

// Whether waiting for a concurrent identical request (coalescing) can answer this one: a
// miss, or a validation whose result the entry could then serve to the waiters.
bool coalescible(const CacheLookup& lookup);

// Whether a refusal depends on the request only (the response itself could be stored):
// then a stored response must not be removed because of it.
bool refused_for_request(cache::StoreRefusal refusal);

// Methods whose non-error responses invalidate (RFC 9110 §9.2.1: not safe).
bool is_unsafe_method(std::string_view method);

}  // namespace bulwark::gateway
