#include "cache/storability.hpp"

namespace bulwark::cache {

std::string_view to_string(StoreRefusal refusal) {
  switch (refusal) {
    case StoreRefusal::none:
      return "none";
    case StoreRefusal::method:
      return "method";
    case StoreRefusal::status:
      return "status";
    case StoreRefusal::partial_content:
      return "partial-content";
    case StoreRefusal::request_no_store:
      return "request-no-store";
    case StoreRefusal::response_no_store:
      return "response-no-store";
    case StoreRefusal::private_response:
      return "private";
    case StoreRefusal::set_cookie:
      return "set-cookie";
    case StoreRefusal::authorization:
      return "authorization";
    case StoreRefusal::no_freshness:
      return "no-freshness";
    case StoreRefusal::vary:
      return "vary";
  }
  return "unknown";
}

bool heuristically_cacheable(int status) {
  switch (status) {
    case 200:
    case 203:
    case 204:
    case 206:
    case 300:
    case 301:
    case 308:
    case 404:
    case 405:
    case 410:
    case 414:
    case 501:
      return true;
    default:
      return false;
  }
}

StoreRefusal storable(const StorabilityInput& in) {
  const RequestDirectives& req = *in.request;
  const ResponseDirectives& res = *in.response;
  // Methods are case-sensitive (RFC 9110 §9.1).
  if (in.method != "GET" && in.method != "HEAD") return StoreRefusal::method;
  // §3: a final status; 304 freshens a stored response, it is not one (§4.3.4).
  if (in.status < 200 || in.status > 599 || in.status == 304) return StoreRefusal::status;
  if (in.status == 206) return StoreRefusal::partial_content;
  if (req.no_store) return StoreRefusal::request_no_store;
  const bool understood = heuristically_cacheable(in.status);
  if (res.must_understand) {
    if (!understood) return StoreRefusal::status;
  } else if (res.no_store) {
    return StoreRefusal::response_no_store;
  }
  if (res.private_ && !in.private_allowed) return StoreRefusal::private_response;
  if (in.has_set_cookie) return StoreRefusal::set_cookie;
  // §3.5: shared caches store authorized responses only when the response allows it.
  if (in.has_authorization && !in.private_allowed && !res.public_ && !res.s_maxage &&
      !res.must_revalidate) {
    return StoreRefusal::authorization;
  }
  const bool explicit_freshness = res.public_ || res.max_age || res.s_maxage || in.has_expires ||
                                  (in.private_allowed && res.private_);
  if (!understood && !explicit_freshness) return StoreRefusal::no_freshness;
  return StoreRefusal::none;
}

}  // namespace bulwark::cache
