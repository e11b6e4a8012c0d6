#include "gateway/cache_purge.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <vector>

#include "cache/key.hpp"
#include "http/path_normalizer.hpp"
#include "http/router.hpp"
#include "observe/access_log.hpp"

namespace bulwark::gateway {
namespace {

PurgeReply bad_request(std::string_view detail) {
  PurgeReply reply{.status = 400, .body = "{\"error\":\"bad_request\",\"detail\":", .purged = 0};
  observe::append_json_string(reply.body, detail);
  reply.body += '}';
  return reply;
}

PurgeReply purged_reply(uint64_t purged) {
  return {.status = 200, .body = "{\"purged\":" + std::to_string(purged) + "}", .purged = purged};
}

struct PurgeRequest {
  std::string target;
  bool prefix = false;
  std::string host;  // lower case without port; empty: every host
};

// Reads the body; the error's text when it is not a purge request.
std::string read_request(std::string_view body, PurgeRequest& out) {
  boost::system::error_code ec;
  auto value = boost::json::parse(body, ec);
  if (ec || !value.is_object()) return "the body must be a JSON object: {\"url\": \"/path\"}";
  const auto& object = value.get_object();
  for (const auto& member : object) {
    std::string_view key = member.key();
    std::string problem = "field \"";
    problem += key;
    if (key != "url" && key != "prefix" && key != "host") {
      return problem += "\" is unknown: use url or prefix, and host";
    }
    if (!member.value().is_string()) return problem += "\" must be a string";
  }
  const bool has_url = object.contains("url");
  const bool has_prefix = object.contains("prefix");
  if (has_url == has_prefix) return "give exactly one of \"url\" and \"prefix\"";
  out.prefix = has_prefix;
  out.target = object.at(has_url ? "url" : "prefix").get_string();
  if (out.target.empty() || out.target.front() != '/') {
    return "the url or prefix must be a path starting with '/'";
  }
  if (auto host = object.if_contains("host")) {
    auto parsed = http::host_without_port(host->get_string());
    if (!parsed) return "\"host\" is not a valid host";
    out.host = std::move(*parsed);
  }
  return {};
}

}  // namespace

PurgeReply purge_cache(const Runtime& runtime, std::string_view body) {
  if (!runtime.cache_store) {
    return {.status = 404,
            .body = "{\"error\":\"not_found\",\"detail\":\"no route caches responses\"}",
            .purged = 0};
  }
  PurgeRequest request;
  if (auto problem = read_request(body, request); !problem.empty()) return bad_request(problem);
  auto normalized = http::normalize_target(request.target);
  if (!normalized.ok) return bad_request(normalized.error);
  const auto& target = normalized.target;
  std::string path = target.path;
  if (request.prefix) {
    if (target.has_query) (path += '?') += target.query;
    auto reply = purged_reply(runtime.cache_store->purge(request.host, path, true));
    reply.targets.push_back({request.host, path, true});
    return reply;
  }
  // The key's form of the path and query: that of each caching route (built for an empty
  // authority, a URL key is its path part). Without a host the route is not known, so every
  // caching route's form is purged; the forms are of the same URL.
  std::vector<std::string> forms;
  for (const auto& route : runtime.routes) {
    if (!route.cache) continue;
    cache::build_uri_key("", target.path, target.query, target.has_query, route.cache->key, path);
    if (std::find(forms.begin(), forms.end(), path) == forms.end()) forms.push_back(path);
  }
  uint64_t purged = 0;
  for (const auto& form : forms) purged += runtime.cache_store->purge(request.host, form, false);
  auto reply = purged_reply(purged);
  for (auto& form : forms) reply.targets.push_back({request.host, std::move(form), false});
  return reply;
}

}  // namespace bulwark::gateway
