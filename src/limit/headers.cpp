#include "limit/headers.hpp"

#include <algorithm>
#include <charconv>

namespace bulwark::limit {
namespace {

constexpr int64_t kNsPerSecond = 1'000'000'000;

void append_integer(std::string& out, uint64_t value) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, std::min(value, kMaxSfInteger));
  out.append(digits, end.ptr);
}

// RFC 9651 §4.1.6: DQUOTE, each character with '"' and '\' escaped, DQUOTE.
void append_sf_string(std::string& out, std::string_view text) {
  out.push_back('"');
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte > 0x7e) {
      out.push_back('?');
      continue;
    }
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
}

void start_member(std::string& field) {
  if (!field.empty()) field.append(", ");
}

}  // namespace

bool is_policy_name(std::string_view name) noexcept {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte >= 0x20 && byte <= 0x7e;
  });
}

int64_t ceil_seconds(int64_t ns) noexcept {
  if (ns <= 0) return 0;
  return std::min<int64_t>((ns - 1) / kNsPerSecond + 1, kMaxSfInteger);
}

int64_t reset_seconds(const LimitResult& result) noexcept {
  if (!result.allowed && !result.never()) return ceil_seconds(result.retry_after_ns);
  return ceil_seconds(result.reset_ns);
}

std::optional<int64_t> retry_after_seconds(const LimitResult& result) noexcept {
  if (result.allowed || result.never()) return std::nullopt;
  return std::max<int64_t>(ceil_seconds(result.retry_after_ns), 1);
}

void append_ratelimit_policy(std::string& field, std::string_view name, uint64_t count,
                             int64_t period_ns) {
  period_ns = std::max<int64_t>(period_ns, 1);
  uint64_t quota = count;
  int64_t window = period_ns / kNsPerSecond;
  if (period_ns % kNsPerSecond != 0) {  // not whole seconds: the same rate over whole ones
    window = ceil_seconds(period_ns);
    const unsigned __int128 scaled = static_cast<unsigned __int128>(count) *
                                     static_cast<uint64_t>(window) * kNsPerSecond /
                                     static_cast<uint64_t>(period_ns);
    quota = scaled > kMaxSfInteger ? kMaxSfInteger : static_cast<uint64_t>(scaled);
  }
  start_member(field);
  append_sf_string(field, name);
  field.append(";q=");
  append_integer(field, quota);
  field.append(";w=");
  append_integer(field, static_cast<uint64_t>(window));
}

void append_ratelimit(std::string& field, std::string_view name, const LimitResult& result) {
  start_member(field);
  append_sf_string(field, name);
  field.append(";r=");
  append_integer(field, result.remaining);
  field.append(";t=");
  append_integer(field, static_cast<uint64_t>(reset_seconds(result)));
}

std::string format_ratelimit_policy(std::string_view name, uint64_t count, int64_t period_ns) {
  std::string field;
  append_ratelimit_policy(field, name, count, period_ns);
  return field;
}

std::string format_ratelimit(std::string_view name, const LimitResult& result) {
  std::string field;
  append_ratelimit(field, name, result);
  return field;
}

LegacyFields format_legacy(uint64_t count, const LimitResult& result) {
  LegacyFields fields;
  append_integer(fields.limit, count);
  append_integer(fields.remaining, result.remaining);
  append_integer(fields.reset, static_cast<uint64_t>(reset_seconds(result)));
  return fields;
}

std::size_t most_restrictive(std::span<const LimitResult> results) noexcept {
  std::size_t best = 0;
  for (std::size_t i = 1; i < results.size(); ++i) {
    const LimitResult& r = results[i];
    const LimitResult& b = results[best];
    if (r.allowed != b.allowed) {
      if (!r.allowed) best = i;
      continue;
    }
    const bool more = r.allowed ? r.remaining < b.remaining ||
                                      (r.remaining == b.remaining && r.reset_ns > b.reset_ns)
                                : r.retry_after_ns > b.retry_after_ns;
    if (more) best = i;
  }
  return best;
}

}  // namespace bulwark::limit
