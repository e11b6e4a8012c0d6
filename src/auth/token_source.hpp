#pragma once
// Reading the token out of a request's field values: Authorization: Bearer (RFC 6750 §2.1),
// a named cookie (RFC 6265 §4.2), or a whole custom header value. Pure string functions.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace bulwark::auth {

enum class BearerParse {
  token,         // "Bearer <token>": the token is set
  other_scheme,  // another auth-scheme (Basic, Digest...): no bearer token in this field
  malformed,     // "Bearer" with no token, or a token with characters b64token forbids
};

// credentials = auth-scheme [ 1*SP token68 ]; the scheme is case-insensitive. The token must
// be a b64token (RFC 6750 §2.1: ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" then "="*);
// the JWS layer then narrows it to base64url segments.
BearerParse parse_bearer(std::string_view authorization, std::string_view& token);

// The value of the first cookie named `name` in a Cookie field value ("a=1; b=2"), or
// nullopt. A quoted value has its quotes removed.
std::optional<std::string_view> cookie_value(std::string_view cookie_header, std::string_view name);

// How many cookies named `name` the Cookie field value holds.
std::size_t cookie_count(std::string_view cookie_header, std::string_view name);

// `cookie_header` without the cookies named `name`; empty when none is left.
std::string cookie_header_without(std::string_view cookie_header, std::string_view name);

}  // namespace bulwark::auth
