#pragma once
// Validation (RFC 9111 §4.3, RFC 9110 §13). Pure.
//
// Three jobs:
//   - The client's conditional GET/HEAD answered from a stored response (§4.3.2): 304 when
//     it matches, and only for a stored 2xx (RFC 9110 §13.2.1: preconditions are ignored
//     when the response would not be a 2xx). RFC 9110 §13.2.2 order: If-None-Match (weak
//     comparison, `*` alone matches any stored response, a list matches when any member
//     does; members that are not entity-tags never match) decides alone when present, even
//     when it matches nothing; otherwise If-Modified-Since, compared to the stored
//     Last-Modified (or, without one, the stored Date, or else the receipt time): 304 when
//     that is not after it. An invalid date, or several If-Modified-Since lines, is ignored.
//     A date in the future is not special (RFC 9110 has no such rule).
//   - The validators bulwark sends upstream to revalidate a stored response (§4.3.1):
//     If-None-Match with its ETag and If-Modified-Since with its Last-Modified (as an
//     IMF-fixdate), each when the entry has one. An ETag that is not a valid entity-tag is
//     not sent (a full request instead of a malformed one).
//   - Freshening a stored response with a 304 (§4.3.4, §3.2): the 304's fields replace all
//     the stored lines of the same name. Never taken from it: hop-by-hop fields, fields named
//     in its Connection, Content-Length, Age (read into the new age instead), Set-Cookie and
//     Set-Cookie2 (never stored; the caller passes them to its client only) and Vary (the
//     entry stays filed under its variant key). A 304 without a valid Date is dated with its
//     receipt time (RFC 9110 §6.6.1). A 304 can add no-store or private: the caller checks
//     the result's directives before storing it.
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
// `now` reads RFC 850 dates' two-digit years. The caller asks only for GET and HEAD
// (§13.1.2, §13.1.3: other methods ignore these fields).
bool not_modified(const Entry& entry, std::span<const FieldLine> request,
                  std::chrono::sys_seconds now);

// RFC 9110 §8.8.3.2 weak comparison of two entity-tags (raw field values, e.g. W/"x").
// False when either is not a valid entity-tag.
bool weak_etag_match(std::string_view a, std::string_view b);

// The fields bulwark adds to the upstream request to revalidate `entry`: whole lines
// "Name: value\r\n"; empty when the entry has no validator (then it is a plain miss).
std::string validation_fields(const Entry& entry);

// True when a 304 carrying these fields applies to `entry` (§4.3.4, first match):
//   - the 304 has an ETag: a strong one must equal the stored strong ETag (strong
//     comparison), a weak one must match the stored ETag by weak comparison; an ETag that
//     is not a valid entity-tag, on either side, never applies;
//   - else the 304 has a Last-Modified: it must be a valid date equal to the stored one;
//   - else (no validator in the 304) it applies only to an entry without validators.
// The first ETag line counts; Last-Modified lines are joined (several never match).
bool freshens(const Entry& entry, std::span<const FieldLine> not_modified_fields);

// A copy of `entry` (same keys, status and body, the body shared, not copied) with the
// 304's fields merged in (see above: the stored lines of a replaced field are removed, the
// 304's lines appended), the §4.2.3 times of the 304 exchange, age_field from the 304's Age
// (none: absent), and everything derived from the fields recomputed (derive_metadata in
// cache/entry.hpp).
std::shared_ptr<Entry> freshen(const Entry& entry, std::span<const FieldLine> not_modified_fields,
                               std::chrono::sys_seconds request_time,
                               std::chrono::sys_seconds response_time, bool heuristic_allowed);

// The fields of a 304 bulwark sends the client from a stored response (RFC 9110 §15.4.5):
// those of Cache-Control, Content-Location, Date, ETag, Expires, Last-Modified and Vary
// that the entry has, in stored order.
std::vector<std::pair<std::string_view, std::string_view>> not_modified_response_fields(
    const Entry& entry);

}  // namespace bulwark::cache
