#pragma once
// A stored response as bytes, for a shared store (Redis) that other instances read. Pure.
//
// Format (version 1), every integer little-endian, fixed width:
//   "BWCE" u8 version
//   str uri_key, str variant_key, str identity
//   u8 vary.any, list vary.names
//   u16 status, str reason
//   u32 field count, then str name, str value per field
//   u64 body length, body bytes
//   opt date, opt age_field, i64 request_time, i64 response_time
//   i64 lifetime, u8 lifetime source
//   opt max_age, opt s_maxage, opt stale_while_revalidate, opt stale_if_error
//   u16 directive flags, list no_cache_fields, list private_fields
//   str etag, opt last_modified
// where str = u32 length + bytes, list = u32 count + str each, opt = u8 0 (absent) or
// u8 1 + i64 seconds. Nothing may follow.
//
// Decoding is strict because the bytes come from outside the process: an unknown version
// or flag, a length past the end, a count larger than the bytes left could hold (or than
// the caps below), a status outside 100..599, durations outside 0..2^31 s, times beyond
// ±2^40 s (where age arithmetic could overflow), a variant key that does not start with
// the identity, or trailing bytes: all refuse the whole entry. Nothing is allocated before
// the bytes it describes are known to be there.

#include <optional>
#include <string>
#include <string_view>

#include "cache/entry.hpp"

namespace bulwark::cache {

inline constexpr uint8_t kEntryCodecVersion = 1;

std::string encode_entry(const Entry& e);

// nullopt when `bytes` is not a valid encoding; `why` (when given) then says what is wrong.
std::optional<Entry> decode_entry(std::string_view bytes, std::string* why = nullptr);

}  // namespace bulwark::cache
