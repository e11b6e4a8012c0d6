#include "cache/conditional.hpp"

#include <algorithm>
#include <array>
#include <optional>

#include "cache/field_lines.hpp"
#include "cache/freshness.hpp"
#include "cache/http_date.hpp"
#include "http/forwarded_headers.hpp"

namespace bulwark::cache {
namespace {

using std::chrono::sys_seconds;

bool has_field(std::span<const FieldLine> fields, std::string_view name) {
  return std::any_of(fields.begin(), fields.end(),
                     [&](const FieldLine& line) { return http::iequals(line.first, name); });
}

std::optional<std::string_view> first_line(std::span<const FieldLine> fields,
                                           std::string_view name) {
  for (const auto& [field, value] : fields) {
    if (http::iequals(field, name)) return trim_ows(value);
  }
  return std::nullopt;
}

// ---- entity-tags (RFC 9110 §8.8.3) ------------------------------------------------------------

struct EntityTag {
  bool weak = false;
  std::string_view opaque;  // with its quotes
};

bool is_etagc(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u == 0x21 || (u >= 0x23 && u <= 0x7e) || u >= 0x80;
}

// Length of the entity-tag at the front of `s`, 0 when there is none. The weak indicator is
// case-sensitive (%s"W/"): `w/"x"` is not an entity-tag.
size_t entity_tag_length(std::string_view s) {
  size_t i = s.starts_with("W/") ? 2 : 0;
  if (i >= s.size() || s[i] != '"') return 0;
  for (++i; i < s.size(); ++i) {
    if (s[i] == '"') return i + 1;
    if (!is_etagc(s[i])) return 0;
  }
  return 0;  // unterminated
}

EntityTag entity_tag_at(std::string_view s, size_t length) {
  const bool weak = s.starts_with("W/");
  return {weak, s.substr(weak ? 2 : 0, length - (weak ? 2 : 0))};
}

std::optional<EntityTag> parse_entity_tag(std::string_view value) {
  value = trim_ows(value);
  const size_t length = entity_tag_length(value);
  if (length == 0 || length != value.size()) return std::nullopt;
  return entity_tag_at(value, length);
}

// The valid members of a #entity-tag list. A member that is not an entity-tag is skipped up
// to the next comma; an opaque-tag runs to its closing quote, commas included (etagc allows
// them), so `"a,"b"` holds the tag `"a,"` followed by junk, not `"b"`.
std::vector<EntityTag> entity_tag_list(std::string_view value) {
  std::vector<EntityTag> tags;
  size_t i = 0;
  while (i < value.size()) {
    if (value[i] == ',' || is_ows(value[i])) {
      ++i;
      continue;
    }
    const std::string_view rest = value.substr(i);
    const size_t length = entity_tag_length(rest);
    size_t end = i + length;
    while (end < value.size() && is_ows(value[end])) ++end;
    if (length > 0 && (end == value.size() || value[end] == ',')) {
      tags.push_back(entity_tag_at(rest, length));
      i = end;
      continue;
    }
    const size_t comma = value.find(',', i + length);
    i = comma == std::string_view::npos ? value.size() : comma + 1;
  }
  return tags;
}

bool strong_match(const EntityTag& a, const EntityTag& b) {
  return !a.weak && !b.weak && a.opaque == b.opaque;
}

// ---- the client's conditions -----------------------------------------------------------------

// RFC 9110 §13.1.2: `*` alone matches any current representation; otherwise a member must
// match the stored ETag by weak comparison. Malformed members never match.
bool none_match_matches(std::string_view value, const Entry& entry) {
  if (trim_ows(value) == "*") return true;
  const auto stored = parse_entity_tag(entry.etag);
  if (!stored) return false;
  const auto tags = entity_tag_list(value);
  return std::any_of(tags.begin(), tags.end(),
                     [&](const EntityTag& tag) { return tag.opaque == stored->opaque; });
}

// RFC 9111 §4.3.2: Last-Modified, else Date, else the time the response was received.
sys_seconds modification_time(const Entry& entry) {
  if (entry.last_modified) return *entry.last_modified;
  return entry.date.value_or(entry.response_time);
}

// ---- freshening (RFC 9111 §3.2, §4.3.4) ------------------------------------------------------

// Fields a 304 never updates in the stored response: connection-specific ones, those that
// describe this message rather than the stored one (Content-Length, Age: the Age is read
// into the new age calculation instead), Set-Cookie (never stored, see storability.hpp) and
// Vary (the entry stays filed under the variant key it was stored with).
bool never_taken(std::string_view name) {
  static constexpr std::array<std::string_view, 5> kNames = {"content-length", "age", "set-cookie",
                                                             "set-cookie2", "vary"};
  if (http::is_hop_by_hop(name)) return true;
  return std::any_of(kNames.begin(), kNames.end(),
                     [&](std::string_view n) { return http::iequals(name, n); });
}

bool named_by_connection(std::span<const FieldLine> fields, std::string_view name) {
  bool named = false;
  for (const auto& [field, value] : fields) {
    if (!http::iequals(field, "connection")) continue;
    http::for_each_list_token(value, [&](std::string_view token) {
      if (http::iequals(token, name)) named = true;
    });
  }
  return named;
}

bool taken(std::span<const FieldLine> not_modified_fields, std::string_view name) {
  return !never_taken(name) && !http::iequals(name, "date") &&
         !named_by_connection(not_modified_fields, name);
}

// RFC 9110 §6.6.1: a cache that receives a response without a (valid) Date records the
// receipt time as its Date, so a 304 without one still dates the freshened response.
std::string date_of(std::span<const FieldLine> not_modified_fields, sys_seconds response_time) {
  const auto value = joined_field(not_modified_fields, "date");
  if (value && parse_http_date(*value, response_time)) return *value;
  return format_http_date(response_time);
}

void merge_fields(std::vector<std::pair<std::string, std::string>>& stored,
                  std::span<const FieldLine> not_modified_fields, sys_seconds response_time) {
  std::vector<std::pair<std::string, std::string>> updates;
  for (const auto& [name, value] : not_modified_fields) {
    if (taken(not_modified_fields, name)) updates.emplace_back(name, trim_ows(value));
  }
  updates.emplace_back("Date", date_of(not_modified_fields, response_time));
  std::erase_if(stored, [&](const auto& line) {
    return std::any_of(updates.begin(), updates.end(),
                       [&](const auto& update) { return http::iequals(update.first, line.first); });
  });
  stored.insert(stored.end(), updates.begin(), updates.end());
}

}  // namespace

bool origin_only_conditions(std::span<const FieldLine> request) {
  return has_field(request, "if-match") || has_field(request, "if-unmodified-since") ||
         has_field(request, "if-range") || has_field(request, "range");
}

bool not_modified(const Entry& entry, std::span<const FieldLine> request, sys_seconds now) {
  // RFC 9110 §13.2.1: preconditions count only when the response would be a 2xx.
  if (entry.status < 200 || entry.status > 299) return false;
  if (const auto none_match = joined_field(request, "if-none-match")) {
    return none_match_matches(*none_match, entry);
  }
  const auto since_value = joined_field(request, "if-modified-since");
  if (!since_value) return false;
  // Several lines join into a value that is not a date: ignored, as §13.1.3 requires.
  const auto since = parse_http_date(*since_value, now);
  return since && modification_time(entry) <= *since;
}

bool weak_etag_match(std::string_view a, std::string_view b) {
  const auto left = parse_entity_tag(a);
  const auto right = parse_entity_tag(b);
  return left && right && left->opaque == right->opaque;
}

std::string validation_fields(const Entry& entry) {
  std::string out;
  // Only a valid entity-tag is sent: it also cannot carry a CR or LF into the request.
  if (parse_entity_tag(entry.etag)) {
    out += "If-None-Match: ";
    out += trim_ows(entry.etag);
    out += "\r\n";
  }
  if (entry.last_modified) {
    out += "If-Modified-Since: ";
    out += format_http_date(*entry.last_modified);
    out += "\r\n";
  }
  return out;
}

bool freshens(const Entry& entry, std::span<const FieldLine> not_modified_fields) {
  if (const auto etag = first_line(not_modified_fields, "etag")) {
    const auto tag = parse_entity_tag(*etag);
    const auto stored = parse_entity_tag(entry.etag);
    if (!tag || !stored) return false;
    return tag->weak ? tag->opaque == stored->opaque : strong_match(*tag, *stored);
  }
  if (const auto value = joined_field(not_modified_fields, "last-modified")) {
    const auto last_modified = parse_http_date(*value, entry.response_time);
    return last_modified && last_modified == entry.last_modified;
  }
  return entry.etag.empty() && !entry.last_modified;
}

std::shared_ptr<Entry> freshen(const Entry& entry, std::span<const FieldLine> not_modified_fields,
                               sys_seconds request_time, sys_seconds response_time,
                               bool heuristic_allowed) {
  auto updated = std::make_shared<Entry>(entry);
  merge_fields(updated->fields, not_modified_fields, response_time);
  updated->request_time = request_time;
  updated->response_time = response_time;
  const auto age_value = joined_field(not_modified_fields, "age");
  updated->age_field = age_value ? parse_age(*age_value) : std::nullopt;
  derive_metadata(*updated, heuristic_allowed);
  return updated;
}

std::vector<std::pair<std::string_view, std::string_view>> not_modified_response_fields(
    const Entry& entry) {
  static constexpr std::array<std::string_view, 7> kNames = {
      "cache-control", "content-location", "date", "etag", "expires", "last-modified", "vary"};
  std::vector<std::pair<std::string_view, std::string_view>> out;
  for (const auto& [name, value] : entry.fields) {
    const bool listed = std::any_of(kNames.begin(), kNames.end(),
                                    [&](std::string_view n) { return http::iequals(name, n); });
    if (listed) out.emplace_back(name, value);
  }
  return out;
}

}  // namespace bulwark::cache
