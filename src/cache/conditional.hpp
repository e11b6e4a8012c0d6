#pragma once
// Validation (RFC 9111 §4.3, RFC 9110 §13). Pure.
//
// Three jobs:
//   - The client's conditional GET/HEAD answered from a stored response (§4.3.2): 304 when
//     it matches. RFC 9110 §13.2.2 order: If-None-Match (weak comparison, `*` matches any
//     stored response, a list matches when any member does) decides alone when present;
//     otherwise If-Modified-Since, compared to the stored Last-Modified (or, without one,
//     the stored Date) — an invalid date is ignored.
//   - The validators bulwark sends upstream to revalidate a stored response (§4.3.1):
//     If-None-Match with its ETag and If-Modified-Since with its Last-Modified, each when
//     the entry has one.
//   - Freshening a stored response with a 304 (§4.3.4, §3.2): the 304's fields replace the
//     stored ones of the same name; hop-by-hop fields, fields named in the 304's
//     Connection, Content-Length, Transfer-Encoding and Age are never taken from it. A 304
//     whose strong ETag differs from the stored one's does not apply to it.
//
// Requests with If-Match, If-Unmodified-Since, If-Range or Range are preconditions for the
// origin (§4.3.2 "MUST NOT evaluate ... that only apply to an origin server"): the caller
// sends them upstream uncached; `origin_only_conditions` says which requests those are.

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cache/entry.hpp"
#include "cache/vary.hpp"

namespace bulwark::cache {

// True when the request carries If-Match, If-Unmodified-Since, If-Range or Range.
bool origin_only_conditions(std::span<const FieldLine> request);

// True when the client's If-None-Match / If-Modified-Since match `entry` (answer 304).
// `now` reads RFC 850 dates' two-digit years.
bool not_modified(const Entry& entry, std::span<const FieldLine> request,
                  std::chrono::sys_seconds now);

// RFC 9110 §8.8.3.2 weak comparison of two entity-tags (raw field values, e.g. W/"x").
// False when either is not a valid entity-tag.
bool weak_etag_match(std::string_view a, std::string_view b);

// The fields bulwark adds to the upstream request to revalidate `entry`: whole lines
// "Name: value\r\n"; empty when the entry has no validator (then it is a plain miss).
std::string validation_fields(const Entry& entry);

// True when a 304 carrying these fields applies to `entry` (§4.3.4: strong ETags equal,
// or no ETag in the 304 / none stored).
bool freshens(const Entry& entry, std::span<const FieldLine> not_modified_fields);

// A copy of `entry` (same keys and body, the body shared, not copied) with the 304's fields
// merged in (see above), the §4.2.3 times of the 304 exchange, and everything derived from
// the fields recomputed (derive_metadata in cache/entry.hpp).
std::shared_ptr<Entry> freshen(const Entry& entry, std::span<const FieldLine> not_modified_fields,
                               std::chrono::sys_seconds request_time,
                               std::chrono::sys_seconds response_time, bool heuristic_allowed);

// The fields of a 304 bulwark sends the client from a stored response (RFC 9110 §15.4.5):
// those of Cache-Control, Content-Location, Date, ETag, Expires, Last-Modified and Vary
// that the entry has, in stored order.
std::vector<std::pair<std::string_view, std::string_view>> not_modified_response_fields(
    const Entry& entry);

}  // namespace bulwark::cache
