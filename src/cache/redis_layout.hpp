#pragma once
// Where the shared cache lives in Redis, and for how long. Pure: names and arithmetic only.
//
// Every key of one URL key starts with `prefix` (which must hold no '{' or '}') + "{" + tag + "}",
// the tag being the first 16 bytes of SHA-256(uri_key) in lower-case hex: a fixed function, so
// every instance computes the same names, and one hash tag, so a URL's keys share a Redis Cluster
// slot (its scripts and multi-key commands stay legal there). 128 bits: two URLs never share keys
// by accident, and a forced collision would need 2^64 work (even then the stores check each
// decoded entry's uri_key, so it could only make them miss).
//
//   prefix{tag}:v:<who>   HASH: variant_key → encode_entry(entry), one per identity
//   prefix{tag}:u:<uri>   SET: the names of that URL's variant hashes (for invalidation);
//                         the raw uri_key follows ":u:" so that a purge by host or path can
//                         SCAN for these names and read the URL back from them
//   prefix{tag}:l:<who>   STRING: the cross-instance flight lock of one identity's fetch
// <who> is "s" for shared entries, else "i" + the hex of the first 16 bytes of
// SHA-256(identity prefix): identities are user ids, and key names show up in monitoring.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cache/entry.hpp"

namespace bulwark::cache {

// The lower-case hex of the first 16 bytes of SHA-256(`bytes`) (32 characters).
std::string redis_digest(std::string_view bytes);

std::string redis_variants_key(std::string_view prefix, std::string_view uri_key,
                               std::string_view identity);
std::string redis_url_set_key(std::string_view prefix, std::string_view uri_key);
std::string redis_lock_key(std::string_view prefix, std::string_view uri_key,
                           std::string_view identity);

// The start every variants key of this URL shares (prefix{tag}:v:), so that an invalidation
// script deletes only keys that really are that URL's, whatever its set holds.
std::string redis_variants_prefix(std::string_view prefix, std::string_view uri_key);

// The SCAN MATCH pattern for URL sets under `prefix`, narrowed to `host` when not empty.
// Glob characters of prefix and host are escaped; matches still go through
// redis_url_key_from_set_key and purge_matches.
std::string redis_url_set_pattern(std::string_view prefix, std::string_view host);

// The uri_key a URL set's name holds, or nullopt when `key` is not a URL set name under
// `prefix` whose tag is that uri_key's digest.
std::optional<std::string> redis_url_key_from_set_key(std::string_view prefix,
                                                      std::string_view key);

// The admin purge's rule, the same as MemoryStore::purge: the URL key's path part
// (uri_key_path) equals `path` (with `prefix`: starts with it), on any host when `host` is
// empty, else on that host with any port.
bool purge_matches(std::string_view uri_key, std::string_view host, std::string_view path,
                   bool prefix);

// How long the shared copy is kept after storing it at `now`:
//   max(0, lifetime − age)                                      the freshness left
// + max(stale-while-revalidate, stale-if-error)                 the staleness it may be
//     − the staleness already past (an entry stored stale)      served with (reuse.hpp)
//     (0 with no-cache, must-revalidate, proxy-revalidate or
//      s-maxage: it is then never served stale)
// + kRedisValidatorKeep when it has an ETag or Last-Modified    another instance can still
//                                                               revalidate it with a 304
// capped at kMaxDeltaSeconds. 0 means do not share it: nothing left that any instance could
// serve or revalidate (a stale entry without validators or grace, or one with
// `lifetime == age` and nothing else). An entry kept past its grace is not served stale by
// mistake: the reader decides reuse on the decoded entry's own age and lifetime.
std::chrono::milliseconds redis_ttl(const Entry& e, std::chrono::sys_seconds now);

inline constexpr std::chrono::seconds kRedisValidatorKeep{600};

}  // namespace bulwark::cache
