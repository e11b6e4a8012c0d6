#pragma once
// One stored response (a variant of a URL) as the cache holds it. Immutable once built: a
// 304 that freshens it produces a new Entry that replaces it (cache/conditional.hpp), so
// readers holding a std::shared_ptr<const Entry> keep a consistent response and its body
// without a copy or a lock while they write it out.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cache/directives.hpp"
#include "cache/freshness.hpp"
#include "cache/vary.hpp"

namespace bulwark::cache {

struct Entry {
  // Where it is filed (cache/key.hpp): the URL key, and within it the variant key (the
  // identity prefix followed by the request's Vary values).
  std::string uri_key;
  std::string variant_key;
  std::string identity;  // the identity prefix alone (empty for shared entries)
  VaryFields vary;

  unsigned status = 200;
  std::string reason;
  // End-to-end fields as received, in order: hop-by-hop fields, those named by Connection,
  // framing (Content-Length, Transfer-Encoding) and Age are never stored.
  std::vector<std::pair<std::string, std::string>> fields;
  std::shared_ptr<const std::string> body;  // never null; shared by every reader

  // RFC 9111 §4.2.3 inputs, fixed at storage time.
  std::optional<std::chrono::sys_seconds> date;  // the Date field, when valid
  std::optional<std::chrono::seconds> age_field;
  std::chrono::sys_seconds request_time{};
  std::chrono::sys_seconds response_time{};
  FreshnessLifetime lifetime;
  ResponseDirectives directives;

  // Validators (RFC 9110 §8.8): the raw ETag value ("..." or W/"...") and Last-Modified.
  std::string etag;
  std::optional<std::chrono::sys_seconds> last_modified;

  // current_age (§4.2.3) at `now`.
  std::chrono::seconds age_at(std::chrono::sys_seconds now) const {
    return age(date, age_field, request_time, response_time, now);
  }
  // The value of a stored field (first line), or nullopt.
  std::optional<std::string_view> field(std::string_view name) const;
  // Bytes this entry holds, counted against the store's budget: body, fields, keys and a
  // fixed overhead per entry.
  uint64_t charge() const;
};

// Fills date, age_field, directives (Cache-Control lines joined), etag, last_modified and
// lifetime from `fields`, `status` and `response_time` (a missing or invalid Date reads as
// `response_time`, RFC 9110 §6.6.1), for a shared cache; heuristic freshness only when
// `heuristic_allowed`.
//   - Age: pass the response's Age line(s) in `fields`; they are read into age_field (an
//     invalid value reads as absent: the caller refuses to store such a response first) and
//     removed from `fields`, which never hold Age. Without an Age line, age_field is left as
//     the caller set it.
//   - Date, Expires, Last-Modified given on several lines join into a value that is not a
//     date, so they read as invalid (Expires: already expired, §4.2.1).
//   - etag: the first ETag line, trimmed, unvalidated (conditional.hpp validates on use).
void derive_metadata(Entry& entry, bool heuristic_allowed);

// Per-entry bookkeeping counted by charge() besides the strings themselves.
inline constexpr uint64_t kEntryOverheadBytes = 256;

}  // namespace bulwark::cache
