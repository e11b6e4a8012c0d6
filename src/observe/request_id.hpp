#pragma once
// X-Request-Id: kept when the client sent a sane one, generated otherwise.

#include <string>
#include <string_view>

namespace bulwark::observe {

// 1..128 characters from [A-Za-z0-9._:-]: anything else could smuggle log or header
// injection, so it is replaced rather than forwarded.
bool is_acceptable_request_id(std::string_view id);

// 32 lower-case hex digits from a per-thread generator seeded from the OS.
std::string generate_request_id();
// The same, into `out` (replacing its content, reusing its capacity).
void generate_request_id(std::string& out);

}  // namespace bulwark::observe
