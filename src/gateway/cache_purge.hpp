#pragma once
// The admin listener's `POST /cache/purge`: removes stored responses by URL or by path
// prefix. Pure of I/O: the body in, the reply out.
//
// Body (JSON object, at most one of url / prefix):
//   {"url": "/api/data/x?a=1"}            exact: that path and query, on every host
//   {"prefix": "/api/public/"}            every URL whose path (and query) starts with it
//   "host": "api.example.com"             optional with either: that host only (any port)
// The url and prefix are normalized like request targets (dot segments, percent-encoding),
// and an exact url's query is put in the key form of every caching route (sort_query /
// ignore_query), so that what a client requested is what gets purged.
// Replies 200 {"purged": N}; 400 with the reason for a malformed body; 404 when no route
// caches.

#include <string>
#include <string_view>
#include <vector>

#include "gateway/runtime.hpp"

namespace bulwark::gateway {

// One purge as applied to the memory store, for a shared store to apply too.
struct PurgeTarget {
  std::string host;
  std::string path;
  bool prefix = false;
};

struct PurgeReply {
  unsigned status = 200;
  std::string body;  // JSON
  uint64_t purged = 0;
  std::vector<PurgeTarget> targets;  // what was purged (status 200)
};

PurgeReply purge_cache(const Runtime& runtime, std::string_view body);

}  // namespace bulwark::gateway
