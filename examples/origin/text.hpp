// Text helpers for the origin's responses: JSON strings, HTTP dates, query parameters and
// entity tags. Kept apart from server.cpp so they compile fast and hold no Beast templates.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace origin {

// Appends s as a quoted JSON string. Bytes that are not valid UTF-8 become U+FFFD, so a
// stored binary value still yields valid JSON.
void append_json_string(std::string& out, std::string_view s);

// Appends "Sun, 06 Nov 1994 08:49:37 GMT" (IMF-fixdate).
void append_http_date(std::string& out, std::time_t t);

// The current IMF-fixdate, formatted once per second per thread.
std::string_view http_date_now();

// Parses an IMF-fixdate; other (obsolete) formats are treated as absent.
std::optional<std::time_t> parse_http_date(std::string_view s);

// Reads a non-negative integer query parameter. Absent: value unchanged, returns true.
// Present but not a number: returns false.
bool query_uint(std::string_view query, std::string_view name, std::uint64_t& value);

// Reads a text query parameter, percent-decoded ('+' is a space). Absent: value unchanged,
// returns true. Present but malformed (bad escapes, or a control character once decoded, which
// could split a header field): returns false.
bool query_text(std::string_view query, std::string_view name, std::optional<std::string>& value);

// Whether s is an RFC 9110 token (a field name, say): one or more tchar.
bool is_token(std::string_view s);

// If-None-Match semantics (RFC 9110 §13.1.2): "*" or any listed tag equal under weak
// comparison.
bool etag_matches(std::string_view if_none_match, std::string_view etag);

// Percent-decodes a path segment; nullopt when the encoding is malformed.
std::optional<std::string> percent_decode(std::string_view s);

// Lower-cases ASCII into out (header names are case-insensitive; echo reports them lowered).
void append_lower(std::string& out, std::string_view s);

}  // namespace origin
