#include "cache/redis_layout.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>

#include "cache/key.hpp"

namespace bulwark::cache {
namespace {

constexpr size_t kDigestBytes = 16;
constexpr std::string_view kHex = "0123456789abcdef";

std::string tagged(std::string_view prefix, std::string_view uri_key, std::string_view kind) {
  std::string out(prefix);
  out += '{';
  out += redis_digest(uri_key);
  out += "}:";
  out += kind;
  return out;
}

std::string who(std::string_view identity) {
  if (identity.empty()) return "s";
  std::string out = "i";
  out += redis_digest(identity);
  return out;
}

// SCAN MATCH is a glob: a prefix or host holding *, ?, [ or \ must match itself only.
void append_escaped(std::string& out, std::string_view text) {
  for (const char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
}

bool authority_has_host(std::string_view authority, std::string_view host) {
  if (!authority.starts_with(host)) return false;
  return authority.size() == host.size() || authority[host.size()] == ':';
}

// How long past its freshness an entry may still be served (reuse.hpp): never with
// no-cache, must-revalidate, proxy-revalidate or s-maxage.
std::chrono::seconds stale_grace(const ResponseDirectives& d) {
  using std::chrono::seconds;
  if (d.no_cache || d.must_revalidate || d.proxy_revalidate || d.s_maxage) return seconds{0};
  return std::max(d.stale_while_revalidate.value_or(seconds{0}),
                  d.stale_if_error.value_or(seconds{0}));
}

}  // namespace

std::string redis_digest(std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  // SHA-256 cannot fail on a valid input; a failed call leaves zeros, still one fixed name.
  EVP_Digest(bytes.data(), bytes.size(), md.data(), &len, EVP_sha256(), nullptr);
  std::string out;
  out.reserve(2 * kDigestBytes);
  for (size_t i = 0; i < kDigestBytes; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out;
}

std::string redis_variants_key(std::string_view prefix, std::string_view uri_key,
                               std::string_view identity) {
  return tagged(prefix, uri_key, "v:") + who(identity);
}

std::string redis_url_set_key(std::string_view prefix, std::string_view uri_key) {
  std::string out = tagged(prefix, uri_key, "u:");
  out += uri_key;
  return out;
}

std::string redis_lock_key(std::string_view prefix, std::string_view uri_key,
                           std::string_view identity) {
  return tagged(prefix, uri_key, "l:") + who(identity);
}

std::string redis_variants_prefix(std::string_view prefix, std::string_view uri_key) {
  return tagged(prefix, uri_key, "v:");
}

std::string redis_url_set_pattern(std::string_view prefix, std::string_view host) {
  std::string out;
  append_escaped(out, prefix);
  out += "{*}:u:";
  if (!host.empty()) {
    append_escaped(out, host);
    out += "[:/]";
  }
  out += '*';
  return out;
}

std::optional<std::string> redis_url_key_from_set_key(std::string_view prefix,
                                                      std::string_view key) {
  constexpr size_t kTagged = 1 + 2 * kDigestBytes + 4;  // {<hex>}:u:
  if (!key.starts_with(prefix) || key.size() < prefix.size() + kTagged) return std::nullopt;
  std::string uri_key(key.substr(prefix.size() + kTagged));
  if (key.substr(prefix.size()) != tagged("", uri_key, "u:") + uri_key) return std::nullopt;
  return uri_key;
}

bool purge_matches(std::string_view uri_key, std::string_view host, std::string_view path,
                   bool prefix) {
  if (!host.empty() && !authority_has_host(uri_key.substr(0, uri_key.find('/')), host))
    return false;
  const std::string_view key_path = uri_key_path(uri_key);
  return prefix ? key_path.starts_with(path) : key_path == path;
}

std::chrono::milliseconds redis_ttl(const Entry& e, std::chrono::sys_seconds now) {
  using std::chrono::seconds;
  const seconds zero{0};
  const seconds age = e.age_at(now);
  const seconds fresh_left = std::max(zero, e.lifetime.lifetime - age);
  // The grace runs from the end of the freshness: a stale entry has used part of it.
  const seconds grace_left =
      std::max(zero, stale_grace(e.directives) - std::max(zero, age - e.lifetime.lifetime));
  const bool validators = !e.etag.empty() || e.last_modified.has_value();
  const seconds keep = validators ? kRedisValidatorKeep : zero;
  return std::min(fresh_left + grace_left + keep, kMaxDeltaSeconds);
}

}  // namespace bulwark::cache
