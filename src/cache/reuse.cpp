#include "cache/reuse.hpp"

namespace bulwark::cache {
namespace {

using std::chrono::seconds;

bool must_validate(const ReuseInput& in) {
  // §5.4: Pragma counts only when the request has no Cache-Control at all.
  const bool pragma = in.pragma_no_cache && !in.has_cache_control;
  return in.request->no_cache || pragma || in.response->no_cache;
}

// The client's own limits on age (§5.2.1.1, §5.2.1.3). They bound every reuse, stale ones
// included: max-stale relaxes the freshness requirement, not the age the client accepts.
bool within_request_limits(const ReuseInput& in) {
  const RequestDirectives& req = *in.request;
  if (req.max_age && in.age > *req.max_age) return false;
  if (req.min_fresh && in.lifetime - in.age < *req.min_fresh) return false;
  return true;
}

// §4.2.4 with §5.2.2.2, §5.2.2.8 and §5.2.2.10: a shared cache never serves these stale.
bool stale_forbidden(const ResponseDirectives& res) {
  return res.must_revalidate || res.proxy_revalidate || res.s_maxage.has_value();
}

bool max_stale_allows(const RequestDirectives& req, seconds staleness) {
  if (!req.max_stale) return false;
  return !req.max_stale_seconds || staleness <= *req.max_stale_seconds;
}

}  // namespace

Reuse decide_reuse(const ReuseInput& in) {
  if (must_validate(in) || !within_request_limits(in)) return Reuse::validate;
  if (in.lifetime > in.age) return Reuse::fresh;
  if (stale_forbidden(*in.response)) return Reuse::validate;
  const seconds staleness = in.age - in.lifetime;
  if (max_stale_allows(*in.request, staleness)) return Reuse::stale_allowed;
  const auto& swr = in.response->stale_while_revalidate;
  if (swr && staleness <= *swr) return Reuse::serve_stale_revalidate;
  return Reuse::validate;
}

bool may_serve_on_error(const ResponseDirectives& response, std::chrono::seconds age,
                        std::chrono::seconds lifetime) {
  // §5.2.2.4: no-cache needs a successful validation, which a failure is not.
  if (response.no_cache) return false;
  if (lifetime > age) return true;
  if (stale_forbidden(response) || !response.stale_if_error) return false;
  return age - lifetime <= *response.stale_if_error;
}

bool is_error_status(unsigned status) {
  return status == 500 || status == 502 || status == 503 || status == 504;
}

}  // namespace bulwark::cache
