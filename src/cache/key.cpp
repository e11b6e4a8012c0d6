#include "cache/key.hpp"

#include <algorithm>

namespace bulwark::cache {
namespace {

// The parameters of a query split at '&', empty ones left out: `a=1&&b=2` has two.
std::vector<std::string_view> split_params(std::string_view query) {
  std::vector<std::string_view> params;
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    if (end > start) params.push_back(query.substr(start, end - start));
    start = end + 1;
  }
  return params;
}

bool ignored(std::string_view param, const std::vector<std::string>& names) {
  const std::string_view name = param.substr(0, param.find('='));
  return std::find(names.begin(), names.end(), name) != names.end();
}

void append_canonical_query(std::string_view query, const KeyOptions& options, std::string& out) {
  std::vector<std::string_view> params = split_params(query);
  if (!options.ignore_query.empty()) {
    std::erase_if(params, [&](std::string_view p) { return ignored(p, options.ignore_query); });
  }
  // string_view compares bytes as unsigned char, so the order does not depend on the
  // platform's char signedness.
  if (options.sort_query) std::stable_sort(params.begin(), params.end());
  if (params.empty()) return;
  out += '?';
  for (size_t i = 0; i < params.size(); ++i) {
    if (i > 0) out += '&';
    out += params[i];
  }
}

}  // namespace

void build_uri_key(std::string_view host, std::string_view path, std::string_view query,
                   bool has_query, const KeyOptions& options, std::string& out) {
  out.clear();
  out += host;
  out += path;
  if (!has_query || query.empty()) return;
  if (!options.sort_query && options.ignore_query.empty()) {
    // Without options the query is opaque: the origin may give any byte of it a meaning.
    out += '?';
    out += query;
    return;
  }
  append_canonical_query(query, options, out);
}

std::string identity_prefix(std::string_view identity) {
  std::string prefix = "\x01";
  prefix += std::to_string(identity.size());
  prefix += ':';
  prefix += identity;
  return prefix;
}

std::string_view uri_key_path(std::string_view uri_key) {
  const size_t slash = uri_key.find('/');
  if (slash == std::string_view::npos) return uri_key.substr(uri_key.size());
  return uri_key.substr(slash);
}

}  // namespace bulwark::cache
