#pragma once
// Base64url without padding, as JWS uses it (RFC 7515 §2, RFC 4648 §5). Decoding is strict:
// only A-Z a-z 0-9 '-' '_', no '=' padding, no whitespace, no '+' or '/', a length that is
// not 1 mod 4, and zero unused bits in the last character (RFC 4648 §3.5), so each byte
// string has exactly one accepted encoding and a token cannot be altered without changing
// its bytes.

#include <optional>
#include <string>
#include <string_view>

namespace bulwark::auth {

// Appends the encoding of `bytes` to `out`.
void base64url_encode_append(std::string_view bytes, std::string& out);
std::string base64url_encode(std::string_view bytes);

// Replaces `out` with the decoded bytes (reusing its capacity). On invalid input returns
// false and leaves `out` unspecified.
bool base64url_decode_into(std::string_view text, std::string& out);
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace bulwark::auth
