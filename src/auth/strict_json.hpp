#pragma once
// JSON text → object, refusing what the JOSE specs leave ambiguous: a duplicate member name
// at any depth (RFC 7515 §5.2 step 4 and RFC 7519 §4 allow refusing; Boost.JSON alone would
// keep the last one, so two parsers could read one token differently), trailing data,
// comments, invalid UTF-8, nesting deeper than 32, or a top-level value that is not an object.

#include <boost/json/object.hpp>
#include <boost/json/storage_ptr.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace bulwark::auth {

// On failure returns nullopt and sets `why` (when given) to a short sentence that never
// quotes the input. The object's memory comes from `storage` (the default resource when
// omitted; a stack-backed monotonic resource for objects that die with the caller).
std::optional<boost::json::object> parse_strict_json_object(std::string_view text,
                                                            std::string* why = nullptr,
                                                            boost::json::storage_ptr storage = {});

}  // namespace bulwark::auth
