#pragma once
// The admin listener's `POST /auth/revoke`: the body in, the revocation and the reply out.
// Pure of I/O; the caller stores the revocation (locally, and in the shared store).
//
// Body (JSON object, exactly one of jti / sub):
//   {"jti": "..."}      that one token
//   {"sub": "..."}      every token of that subject issued up to now
//   "iss": "..."        optional with either: tokens whose "iss" is that; all issuers without
// Each string is 1 to 1024 bytes. Anything else (unknown or duplicate members, other types,
// bad JSON) is a 400 {"error":"bad_request","detail":"..."}.
// The revocation lasts `lifetime_s` from now: the longest a token of any issuer can live
// (plus leeway), after which every token it covers has expired on its own.
// Replies 200 {"revoked":{"jti":"...","iss":"..."},"until":<unix seconds>}.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "auth/revocation_list.hpp"

namespace bulwark::gateway {

inline constexpr std::size_t kMaxRevocationValueBytes = 1024;

struct RevokeReply {
  unsigned status = 200;
  std::string body;                            // JSON
  std::optional<auth::Revocation> revocation;  // set when status is 200
};

RevokeReply parse_revocation(std::string_view body, int64_t now_s, int64_t lifetime_s);

// The 200 body for `r` (as parse_revocation builds it): for a caller that stored it.
std::string revocation_reply_body(const auth::Revocation& r);

}  // namespace bulwark::gateway
