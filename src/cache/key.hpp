#pragma once
// The cache key (what two requests must share to share a response). Pure.
//
// URL key: authority (lower case, port as sent) + normalized path + canonical query. The path is
// the router's normalized path (dot segments, duplicate slashes, percent-encoding settled), so
// `/a/./b` and `/a//b` share `/a/b`. The scheme is always http on this listener and the
// method is always GET (HEAD is answered from GET's entry), so neither is spelled out.
// The query keeps its bytes; with `sort_query` its parameters are ordered (stable, by the
// whole `name=value` bytes), and parameters named in `ignore_query` (compared on the raw
// name, before any `=`) are left out. A query that ends up empty is the same as no query.
// With neither option the query is opaque (`a=1&&b=2` and `a=1&b=2` differ). With either,
// it is split at '&' only (not ';'), empty parameters are dropped (`a=1&&b=2&` has two), a
// parameter without '=' is all name, and names compare as raw bytes, case-sensitively: no
// percent-decoding and no '+' folding, so `ignore_query: [a]` leaves `%61=1` and `A=1` in.
//
// Variant key: the identity prefix, then the request's values of the Vary fields
// (cache/vary.hpp). Shared entries have an empty identity prefix; per-identity entries
// have "\x01" + the identity's length + ":" + the identity's bytes, so no identity value
// can collide with another's or with the shared one.
//
// Nothing else of the request is in the key: headers that change the response without
// appearing in its Vary are not trusted (no unkeyed-header cache poisoning), which is why
// the origin must name them in Vary.

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace bulwark::cache {

struct KeyOptions {
  bool sort_query = false;
  std::vector<std::string> ignore_query;
};

// Writes the URL key into `out` (cleared first). `host` is already lower case without port.
void build_uri_key(std::string_view host, std::string_view path, std::string_view query,
                   bool has_query, const KeyOptions& options, std::string& out);

// The identity prefix of a per-identity entry for `identity` (see above).
std::string identity_prefix(std::string_view identity);

// The path part of a URL key (from its first '/', the query included), for purges by path;
// empty when the key has no '/'.
std::string_view uri_key_path(std::string_view uri_key);

}  // namespace bulwark::cache
