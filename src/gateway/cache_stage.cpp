#include "gateway/cache_stage.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "cache/conditional.hpp"
#include "cache/directives.hpp"
#include "cache/http_date.hpp"
#include "cache/vary.hpp"
#include "http/forwarded_headers.hpp"
#include "http/router.hpp"

namespace bulwark::gateway {
namespace {

using std::chrono::seconds;
using std::chrono::sys_seconds;

// The value of every line of `name`, joined with ", " (RFC 9110 §5.3); `present` tells
// whether any line was there.
std::string joined(std::span<const http::HeaderField> fields, std::string_view name,
                   bool* present = nullptr) {
  std::string out;
  bool found = false;
  for (const auto& field : fields) {
    if (!http::iequals(field.name, name)) continue;
    if (found) out += ", ";
    out += field.value;
    found = true;
  }
  if (present != nullptr) *present = found;
  return out;
}

bool has_field(std::span<const http::HeaderField> fields, std::string_view name) {
  return std::any_of(fields.begin(), fields.end(),
                     [&](const auto& field) { return http::iequals(field.name, name); });
}

bool pragma_no_cache(std::span<const http::HeaderField> fields) {
  bool no_cache = false;
  for (const auto& field : fields) {
    if (!http::iequals(field.name, "pragma")) continue;
    http::for_each_list_token(field.value, [&](std::string_view token) {
      if (http::iequals(token, "no-cache")) no_cache = true;
    });
  }
  return no_cache;
}

// The identity a per_identity key holds: the issuer that verified the token, then the
// claim with its type (a string and a number of the same text are different subjects, and
// so are equal subjects of two issuers). Empty when the token has no usable identity (the
// claim is missing, null or an empty string): such a caller must not share entries with
// anyone, anonymous callers included.
std::string identity_of(const CompiledCache& config, const auth::VerifiedClaims& verified) {
  const auto* value = auth::find_claim(verified.claims, config.identity_claim);
  if (value == nullptr || value->is_null()) return {};
  if (value->is_string() && value->get_string().empty()) return {};
  std::string identity = std::to_string(verified.issuer.size());
  identity += ':';
  identity += verified.issuer;
  if (value->is_string()) {
    identity += 's';
    identity += value->get_string();
  } else {
    identity += 'j';
    identity += boost::json::serialize(*value);
  }
  return identity;
}

// Fields that ask an origin framework to act on another URL or method: the key would not
// say what the response is for (cache deception), so such requests are not cached.
bool asks_for_override(std::span<const http::HeaderField> fields) {
  static constexpr std::string_view kNames[] = {
      "x-original-url",         "x-rewrite-url",      "x-override-url",
      "x-http-method-override", "x-http-method",      "x-method-override",
      "x-original-method",      "x-forwarded-prefix", "x-forwarded-path"};
  return std::any_of(fields.begin(), fields.end(), [](const http::HeaderField& field) {
    return std::any_of(std::begin(kNames), std::end(kNames),
                       [&](std::string_view name) { return http::iequals(field.name, name); });
  });
}

// RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then ':', before any
// '/', '?' or '#' (a relative path like "a?next=http://b" has none).
bool has_scheme(std::string_view reference) {
  size_t colon = reference.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  if (!std::isalpha(static_cast<unsigned char>(reference[0]))) return false;
  for (char c : reference.substr(0, colon)) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return false;
    }
  }
  return true;
}

// Vary on a field bulwark rewrites for the upstream: the client's value is not the one the
// origin saw, so the stored variant would be filed under the wrong values.
bool varies_on_rewritten_field(const cache::VaryFields& vary) {
  static constexpr std::string_view kRewritten[] = {
      "forwarded",        "max-forwards",      "via",       "x-forwarded-for",
      "x-forwarded-host", "x-forwarded-proto", "x-real-ip", "x-request-id"};
  return std::any_of(vary.names.begin(), vary.names.end(), [](const std::string& name) {
    return std::find(std::begin(kRewritten), std::end(kRewritten), name) != std::end(kRewritten);
  });
}

void append_number(std::string& out, int64_t value) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, end);
}

bool hop_by_hop_or_framing(std::string_view name) {
  return http::is_hop_by_hop(name) || http::iequals(name, "content-length") ||
         http::iequals(name, "transfer-encoding") || http::iequals(name, "age");
}

bool named_by_connection(std::span<const http::HeaderField> fields, std::string_view name) {
  bool named = false;
  for (const auto& field : fields) {
    if (!http::iequals(field.name, "connection")) continue;
    http::for_each_list_token(field.value, [&](std::string_view token) {
      if (http::iequals(token, name)) named = true;
    });
  }
  return named;
}

}  // namespace

CompiledCache compile_route_cache(const config::RouteCache& from) {
  return CompiledCache{.scope = from.scope,
                       .identity_claim = auth::claim_path(from.identity_claim),
                       .key = {.sort_query = from.sort_query, .ignore_query = from.ignore_query},
                       .heuristic_freshness = from.heuristic_freshness,
                       .coalesce_timeout = from.coalesce_timeout};
}

void CacheLookup::clear() {
  action = CacheAction::bypass;
  fwd = {};
  uri_key.clear();
  identity.clear();
  private_allowed = false;
  has_authorization = false;
  head = false;
  directives = {};
  entry.reset();
  not_modified = false;
  conditional = false;
  request_lines.clear();
}

std::string CacheLookup::flight_key() const {
  std::string key = uri_key;
  key += '\n';
  key += identity;
  return key;
}

namespace {

// What look_up needs to know of the request's fields, read in one pass: the fields a cache
// acts on are few, and most names fail on their first letter.
struct RequestFieldFacts {
  bool origin_only = false;     // Range, If-Match, If-Unmodified-Since, If-Range
  bool override_asked = false;  // X-Original-URL and the like (asks_for_override)
  bool conditional = false;     // If-None-Match, If-Modified-Since
  bool has_cache_control = false;
  bool pragma_no_cache = false;
};

RequestFieldFacts read_fields(std::span<const http::HeaderField> fields,
                              std::string& cache_control) {
  RequestFieldFacts facts;
  cache_control.clear();
  for (const auto& field : fields) {
    std::string_view name = field.name;
    if (name.empty()) continue;
    switch (name[0] | 0x20) {
      case 'c':
        if (http::iequals(name, "cache-control")) {
          if (facts.has_cache_control) cache_control += ", ";
          cache_control += field.value;
          facts.has_cache_control = true;
        }
        break;
      case 'p':
        if (http::iequals(name, "pragma")) facts.pragma_no_cache |= pragma_no_cache({&field, 1});
        break;
      case 'r':
        facts.origin_only |= http::iequals(name, "range");
        break;
      case 'i':
        facts.origin_only |= http::iequals(name, "if-match") ||
                             http::iequals(name, "if-unmodified-since") ||
                             http::iequals(name, "if-range");
        facts.conditional |=
            http::iequals(name, "if-none-match") || http::iequals(name, "if-modified-since");
        break;
      case 'x':
        facts.override_asked |= asks_for_override({&field, 1});
        break;
      default:
        break;
    }
  }
  return facts;
}

}  // namespace

void look_up(const CompiledCache& config, cache::Store& store, const CacheRequest& request,
             sys_seconds now, CacheLookup& out) {
  out.clear();
  out.head = request.method == "HEAD";
  if (request.method != "GET" && !out.head) {
    out.fwd = "method";
    return;
  }
  for (const auto& field : request.fields) out.request_lines.emplace_back(field.name, field.value);
  const RequestFieldFacts facts = read_fields(request.fields, out.cache_control);
  if (request.has_body || facts.origin_only || facts.override_asked) {
    out.fwd = "request";
    return;
  }
  if (config.scope == config::RouteCache::Scope::per_identity && request.identity != nullptr) {
    std::string identity = identity_of(config, *request.identity);
    if (identity.empty()) {
      out.fwd = "bypass";  // a verified caller without an identity to key on
      return;
    }
    out.identity = cache::identity_prefix(identity);
    out.private_allowed = true;
  }
  out.directives = cache::parse_request_directives(out.cache_control);
  // Pragma counts only without Cache-Control (RFC 9111 §5.4).
  if (!facts.has_cache_control && facts.pragma_no_cache) out.directives.no_cache = true;
  out.conditional = facts.conditional;
  out.has_authorization = request.has_authorization;
  cache::build_uri_key(request.authority, request.path, request.query, request.has_query,
                       config.key, out.uri_key);
  auto entry = store.lookup(out.uri_key, out.identity, out.request_lines);
  if (!entry) {
    out.action = out.directives.only_if_cached ? CacheAction::unavailable : CacheAction::miss;
    out.fwd = "miss";
    return;
  }
  decide(config, std::move(entry), now, out);
}

void decide(const CompiledCache&, std::shared_ptr<const cache::Entry> entry, sys_seconds now,
            CacheLookup& out) {
  const cache::ReuseInput input{.request = &out.directives,
                                .response = &entry->directives,
                                .pragma_no_cache = false,
                                .has_cache_control = true,
                                .age = entry->age_at(now),
                                .lifetime = entry->lifetime.lifetime};
  out.entry = std::move(entry);
  out.not_modified = false;
  switch (cache::decide_reuse(input)) {
    case cache::Reuse::fresh:
    case cache::Reuse::stale_allowed:
      out.action = CacheAction::hit;
      break;
    case cache::Reuse::serve_stale_revalidate:
      out.action = CacheAction::hit_and_refresh;
      break;
    case cache::Reuse::validate:
      out.action = out.directives.only_if_cached ? CacheAction::unavailable : CacheAction::validate;
      // RFC 9211 §2.2: "request" when the client's directives refused a fresh response (or
      // asked to go forward), "stale" when the stored response is past its lifetime.
      out.fwd = out.directives.no_cache || input.lifetime > input.age ? "request" : "stale";
      return;
  }
  out.not_modified = out.conditional && cache::not_modified(*out.entry, out.request_lines, now);
}

std::shared_ptr<cache::Entry> storable_entry(const CompiledCache& config, const CacheLookup& lookup,
                                             unsigned status, std::string_view reason,
                                             std::span<const http::HeaderField> response_fields,
                                             sys_seconds request_time, sys_seconds response_time,
                                             cache::StoreRefusal& refusal) {
  const auto response = cache::parse_response_directives(joined(response_fields, "cache-control"));
  const cache::StorabilityInput input{.method = lookup.head ? "HEAD" : "GET",
                                      .status = static_cast<int>(status),
                                      .request = &lookup.directives,
                                      .response = &response,
                                      .has_authorization = lookup.has_authorization,
                                      .has_set_cookie = has_field(response_fields, "set-cookie"),
                                      .has_expires = has_field(response_fields, "expires"),
                                      .private_allowed = lookup.private_allowed};
  refusal = cache::storable(input);
  if (refusal != cache::StoreRefusal::none) return nullptr;
  // RFC 9111 §5.1: an invalid Age is ignored (the response is stored as if it had none).
  bool has_age = false;
  std::string age = joined(response_fields, "age", &has_age);
  has_age = has_age && cache::parse_age(age).has_value();
  auto entry = std::make_shared<cache::Entry>();
  entry->vary = cache::parse_vary(joined(response_fields, "vary"));
  auto vary_key = cache::vary_key(entry->vary, lookup.request_lines);
  // Vary: * never matches a later request (RFC 9111 §4.1): storing it only costs memory.
  if (!vary_key || varies_on_rewritten_field(entry->vary)) {
    refusal = cache::StoreRefusal::vary;
    return nullptr;
  }
  entry->uri_key = lookup.uri_key;
  entry->identity = lookup.identity;
  entry->variant_key = lookup.identity + *vary_key;
  entry->status = status;
  entry->reason.assign(reason);
  for (const auto& field : response_fields) {
    if (hop_by_hop_or_framing(field.name) || named_by_connection(response_fields, field.name)) {
      continue;
    }
    entry->fields.emplace_back(std::string(field.name), std::string(field.value));
  }
  // RFC 9110 §6.6.1: a cache that receives a response without Date adds one.
  if (!entry->field("date")) {
    entry->fields.emplace_back("Date", cache::format_http_date(response_time));
  }
  // derive_metadata reads Age into age_field and takes it out of the stored fields.
  if (has_age) entry->fields.emplace_back("Age", std::move(age));
  entry->request_time = request_time;
  entry->response_time = response_time;
  cache::derive_metadata(*entry, config.heuristic_freshness);
  entry->body = std::make_shared<const std::string>();
  return entry;
}

bool may_keep(const CacheLookup& lookup, const cache::Entry& freshened) {
  const auto& directives = freshened.directives;
  return !directives.no_store && (!directives.private_ || lookup.private_allowed);
}

void append_hit_fields(const cache::Entry& entry, sys_seconds now, bool collapsed,
                       std::string& out) {
  auto age = entry.age_at(now);
  out += "Age: ";
  append_number(out, age.count());
  out += "\r\nCache-Status: bulwark; hit; ttl=";
  append_number(out, (entry.lifetime.lifetime - age).count());
  if (collapsed) out += "; collapsed";
  if (age >= entry.lifetime.lifetime) out += "; detail=stale";
  out += "\r\n";
}

void append_forward_fields(const ForwardStatus& status, std::string& out) {
  out += "Cache-Status: bulwark; fwd=";
  out += status.fwd;
  if (status.fwd_status != 0) {
    out += "; fwd-status=";
    append_number(out, status.fwd_status);
  }
  if (status.stored) out += "; stored";
  if (status.collapsed) out += "; collapsed";
  if (status.ttl) {
    out += "; ttl=";
    append_number(out, *status.ttl);
  }
  if (!status.detail.empty()) {
    out += "; detail=";
    out += status.detail;
  }
  out += "\r\n";
}

std::vector<http::NormalizedTarget> invalidated_targets(
    std::string_view authority, std::string_view request_path,
    std::span<const http::HeaderField> response_fields) {
  std::vector<http::NormalizedTarget> out;
  for (const auto& field : response_fields) {
    if (!http::iequals(field.name, "location") && !http::iequals(field.name, "content-location")) {
      continue;
    }
    std::string_view value = field.value;
    value = value.substr(0, value.find('#'));  // a fragment names part of the same resource
    std::string resolved;
    if (value.empty() || value.starts_with("//")) continue;
    if (value.front() == '?') {
      // A query-only reference (RFC 3986 §5.2.2): the request's path with that query.
      resolved.assign(request_path);
      resolved += value;
      value = resolved;
    } else if (!has_scheme(value) && value.front() != '/') {
      // A relative path: against the request path's directory.
      resolved.assign(request_path.substr(0, request_path.rfind('/') + 1));
      resolved += value;
      value = resolved;
    }
    auto normalized = http::normalize_target(value);
    if (!normalized.ok) continue;
    if (!normalized.target.authority.empty()) {
      std::string other = normalized.target.authority;
      for (char& c : other) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (other != authority) continue;
      normalized.target.authority.clear();
    }
    out.push_back(std::move(normalized.target));
  }
  return out;
}

bool coalescible(const CacheLookup& lookup) {
  if (lookup.action == CacheAction::miss) return true;
  if (lookup.action != CacheAction::validate || !lookup.entry) return false;
  // Validation that would be needed again right after the leader's (no-cache, no lifetime,
  // the client's own no-cache or max-age=0): waiting for the leader gains nothing.
  const auto& entry = *lookup.entry;
  const auto& request = lookup.directives;
  return !entry.directives.no_cache && entry.lifetime.lifetime.count() > 0 && !request.no_cache &&
         !(request.max_age && request.max_age->count() == 0);
}

bool refused_for_request(cache::StoreRefusal refusal) {
  return refusal == cache::StoreRefusal::request_no_store ||
         refusal == cache::StoreRefusal::authorization || refusal == cache::StoreRefusal::method;
}

bool is_unsafe_method(std::string_view method) {
  return method != "GET" && method != "HEAD" && method != "OPTIONS" && method != "TRACE";
}

}  // namespace bulwark::gateway
