#include "cache/entry.hpp"

#include <algorithm>

#include "cache/field_lines.hpp"
#include "cache/http_date.hpp"
#include "http/forwarded_headers.hpp"

namespace bulwark::cache {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

// A singleton date field given on several lines joins into a value that is not a date, so
// it reads as invalid: the conservative reading of §4.2.1 ("considered stale").
std::optional<std::chrono::sys_seconds> date_field(const Fields& fields, std::string_view name,
                                                   std::chrono::sys_seconds now) {
  const auto value = joined_field(fields, name);
  if (!value) return std::nullopt;
  return parse_http_date(*value, now);
}

// Takes the Age lines out of `entry.fields` into `entry.age_field`: a cache generates its
// own Age (RFC 9111 §5.1), so a stored one must never reach a client.
void take_age(Entry& entry) {
  const auto value = joined_field(entry.fields, "age");
  if (!value) return;
  // An invalid Age reads as absent (RFC 9111 §5.1: a cache SHOULD ignore it).
  entry.age_field = parse_age(*value);
  std::erase_if(entry.fields, [](const auto& line) { return http::iequals(line.first, "age"); });
}

}  // namespace

std::optional<std::string_view> Entry::field(std::string_view name) const {
  for (const auto& [field_name, value] : fields) {
    if (http::iequals(field_name, name)) return std::string_view(value);
  }
  return std::nullopt;
}

uint64_t Entry::charge() const {
  uint64_t bytes = kEntryOverheadBytes + uri_key.size() + variant_key.size() + identity.size() +
                   reason.size() + (body ? body->size() : 0);
  for (const auto& [name, value] : fields) bytes += name.size() + value.size();
  return bytes;
}

void derive_metadata(Entry& entry, bool heuristic_allowed) {
  const auto now = entry.response_time;
  take_age(entry);
  entry.directives =
      parse_response_directives(joined_field(entry.fields, "cache-control").value_or(""));
  entry.date = date_field(entry.fields, "date", now);
  entry.last_modified = date_field(entry.fields, "last-modified", now);
  entry.etag = std::string(trim_ows(entry.field("etag").value_or("")));

  const auto expires = joined_field(entry.fields, "expires");
  const FreshnessInput in{
      .directives = &entry.directives,
      .status = static_cast<int>(entry.status),
      .expires = expires ? std::optional<std::string_view>(*expires) : std::nullopt,
      .date = entry.date.value_or(entry.response_time),
      .last_modified = entry.last_modified,
      .shared = true,
      .heuristic_allowed = heuristic_allowed};
  entry.lifetime = freshness_lifetime(in);
}

}  // namespace bulwark::cache
