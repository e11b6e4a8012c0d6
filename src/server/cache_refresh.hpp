#pragma once
// Background revalidation of a stored response (stale-while-revalidate, RFC 5861 §3): the
// client was already answered from the cache; this asks the upstream once (the coalescer
// flight it holds keeps others from asking too) and stores what comes back. Runs on the
// worker's io_context, owns everything it uses, and ends within the upstream's timeout.

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cache/coalescer.hpp"
#include "gateway/cache_stage.hpp"
#include "gateway/runtime.hpp"
#include "observe/metrics.hpp"
#include "proxy/upstream_pool.hpp"

namespace bulwark::server {

struct CacheRefresh {
  std::shared_ptr<const gateway::Runtime> runtime;  // keeps the route and the store alive
  const gateway::CompiledCache* config = nullptr;   // the route's, inside `runtime`
  std::shared_ptr<proxy::UpstreamPool> pool;
  std::string request_head;     // a GET with bulwark's validators
  gateway::CacheLookup lookup;  // the client's, its request_lines rebuilt from `lines`
  std::vector<std::pair<std::string, std::string>> lines;  // the request's fields, owned
  cache::Coalescer::Flight flight;
  observe::MetricsShard* metrics = nullptr;
};

boost::asio::awaitable<void> refresh_cache_entry(std::unique_ptr<CacheRefresh> job);

}  // namespace bulwark::server
