#include "auth/route_policy.hpp"

#include <fmt/format.h>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>

namespace bulwark::auth {
namespace json = boost::json;
namespace {

constexpr std::size_t kMaxForwardedValueBytes = 4096;

template <class F>
void for_each_word(std::string_view text, F&& on_word) {
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t end = text.find(' ', i);
    if (end == std::string_view::npos) end = text.size();
    if (end > i) on_word(text.substr(i, end - i));
    i = end + 1;
  }
}

bool has_word(std::string_view text, std::string_view word) {
  bool found = false;
  for_each_word(text, [&](std::string_view w) { found = found || w == word; });
  return found;
}

// A number as people write it: 42, -7, 1.5 (shortest round trip), never 1.5E0.
std::string number_text(const json::value& v) {
  if (v.is_double()) return fmt::format("{}", v.get_double());
  return json::serialize(v);
}

template <class T>
std::optional<T> parse_whole(std::string_view text) {
  T out{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return out;
}

// Doubles hold every integer up to 2^53 exactly; past it, neighbouring integers (snowflake
// ids, tenant numbers) share one double, so no comparison may go through one there.
constexpr double kExactDoubleLimit = 9007199254740992.0;

// Numbers compare by value, exactly: 42 equals "42" and "42.0", 1.5 equals "1.5", and two
// different integers are never equal, however large.
bool number_equals(const json::value& v, std::string_view value) {
  if (v.is_int64()) {
    if (auto configured = parse_whole<int64_t>(value)) return *configured == v.get_int64();
  } else if (v.is_uint64()) {
    if (auto configured = parse_whole<uint64_t>(value)) return *configured == v.get_uint64();
  }
  auto configured = parse_whole<double>(value);
  if (!configured || std::abs(*configured) > kExactDoubleLimit) return false;
  if (v.is_double()) return v.get_double() == *configured;
  double claim = v.to_number<double>();
  return std::abs(claim) <= kExactDoubleLimit && claim == *configured;
}

bool scalar_equals(const json::value& v, std::string_view value) {
  if (v.is_string()) return v.get_string() == value;
  if (v.is_bool()) return json::serialize(v) == value;
  return v.is_number() && number_equals(v, value);
}

bool is_safe_field_value(std::string_view text) {
  for (unsigned char c : text) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  return text.size() <= kMaxForwardedValueBytes;
}

std::string joined_scopes(const Requirements& required) {
  std::string text;
  for (const auto& scope : required.scopes) {
    if (!text.empty()) text += ' ';
    text += scope;
  }
  return text;
}

}  // namespace

ClaimPath claim_path(std::string_view text) {
  ClaimPath path{std::string(text), {}};
  std::size_t i = 0;
  for (;;) {
    std::size_t dot = text.find('.', i);
    path.parts.emplace_back(text.substr(i, dot == std::string_view::npos ? dot : dot - i));
    if (dot == std::string_view::npos) break;
    i = dot + 1;
  }
  return path;
}

const json::value* find_claim(const json::object& claims, const ClaimPath& path) {
  if (const auto* whole = claims.if_contains(path.text)) return whole;
  if (path.parts.size() < 2) return nullptr;
  const json::object* object = &claims;
  const json::value* value = nullptr;
  for (const auto& part : path.parts) {
    if (object == nullptr) return nullptr;
    value = object->if_contains(part);
    if (value == nullptr) return nullptr;
    object = value->if_object();
  }
  return value;
}

bool grants_scope(const json::object& claims, std::string_view scope) {
  if (const auto* s = claims.if_contains("scope"); s && s->is_string()) {
    return has_word(s->get_string(), scope);
  }
  const auto* scp = claims.if_contains("scp");
  if (scp == nullptr) return false;
  if (scp->is_string()) return has_word(scp->get_string(), scope);
  if (const auto* list = scp->if_array()) {
    for (const auto& item : *list) {
      if (item.is_string() && item.get_string() == scope) return true;
    }
  }
  return false;
}

bool satisfies(const json::object& claims, const ClaimRequirement& requirement) {
  const auto* value = find_claim(claims, requirement.claim);
  if (value == nullptr) return false;
  if (requirement.op == ClaimRequirement::Op::equals) {
    return scalar_equals(*value, requirement.value);
  }
  if (value->is_string()) return has_word(value->get_string(), requirement.value);
  if (const auto* list = value->if_array()) {
    for (const auto& item : *list) {
      if (scalar_equals(item, requirement.value)) return true;
    }
  }
  return false;
}

std::optional<Denial> authorize(const json::object& claims, const Requirements& required) {
  for (const auto& scope : required.scopes) {
    if (!grants_scope(claims, scope)) {
      return Denial{"the token lacks the scope '" + scope + "'", joined_scopes(required)};
    }
  }
  for (const auto& requirement : required.claims) {
    if (!satisfies(claims, requirement)) {
      return Denial{"the token's claim '" + requirement.claim.text +
                        "' does not meet this route's requirement",
                    joined_scopes(required)};
    }
  }
  return std::nullopt;
}

std::optional<std::string> forwarded_claim_value(const json::value& value) {
  std::string text;
  if (value.is_null()) return std::nullopt;
  if (value.is_string()) {
    text = value.get_string();
  } else if (const auto* list = value.if_array();
             list && std::all_of(list->begin(), list->end(),
                                 [](const json::value& v) { return v.is_string(); })) {
    for (const auto& item : *list) {
      if (!text.empty()) text += ", ";
      text += item.get_string();
    }
  } else if (value.is_number()) {
    text = number_text(value);
  } else {
    text = json::serialize(value);
  }
  if (!is_safe_field_value(text)) return std::nullopt;
  return text;
}

}  // namespace bulwark::auth
