#pragma once
// Vary (RFC 9110 §12.5.5) and the secondary cache key of RFC 9111 §4.1. Pure.
//
// Normalization of a request's values: each field line is trimmed of OWS and the lines of
// one field are joined with ", " (RFC 9110 §5.3); names compare case-insensitively. Nothing
// more (no reordering of list members, no case folding of values): two requests share a
// variant only when their values are byte-identical after that.
// A field absent from the request matches only its absence (§4.1), never an empty value.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bulwark::cache {

struct VaryFields {
  bool any = false;                // `*`, or a value that is not a list of field names
  std::vector<std::string> names;  // lowercase, unique, sorted
};

// `value` is the Vary field value, several lines joined with ", ". A member that is not a
// field name makes the whole value read as `*` (never matches): a Vary half understood would
// let one variant answer requests it was not made for.
VaryFields parse_vary(std::string_view value);

using FieldLine = std::pair<std::string_view, std::string_view>;  // name, value

// The secondary key of a request for the stored variant's Vary: nullopt for `*` (never
// matches). Two requests match when their keys are equal. Fields are given in message order.
std::optional<std::string> vary_key(const VaryFields& vary, std::span<const FieldLine> request);

}  // namespace bulwark::cache
