#pragma once
// GCRA on Redis, as pure code: the Lua script that decides a request's limits in one EVALSHA,
// the key names and arguments it is called with, and the strict decoding of its answer. The
// I/O is server/redis_limit_store.hpp's. The script computes exactly what gcra.hpp and
// MemoryStore compute (the same cases run against both: tests/limit/gcra_store_cases.hpp),
// with the limits below.
//
// Keys: <prefix>:rl:{<tag>}:<limit name>, one string per (limit, key) holding its TAT as
// decimal nanoseconds since the epoch, with a TTL ending when the key would be idle again
// (ceil((TAT - now) / 1 ms), at least 1 ms): an idle key and an absent one decide the same, so
// expiry is Redis forgetting what no longer matters. The name, not the limit id, since ids are
// local to one process and its config.
//
// The hash tag. Redis Cluster hashes only what is between the first '{' and the next '}', so
// every limit keyed on one value (an IP's per-second and per-day limits) lands in one slot,
// and a script over them runs on one node. The tag is the key itself when it is short and
// plain; otherwise "#" and the first 16 bytes of its SHA-256 in hex (a key of any length or
// bytes names a slot, and braces in a key cannot break out of the tag). A key starting with '#'
// and the empty key (an empty "{}" tag would make Cluster hash the whole name) are hashed too,
// so that no plain key can spell another key's hashed tag.
// Limits keyed on different values (an IP's limit and a user's) cannot share a slot: a key's
// counter must be the same Redis key for every request that counts against it, whatever other
// limits that request also has, so its slot can only depend on its own key. On Cluster, a
// request's limits with different key values need one call per key value (losing the
// all-or-nothing rule across them, though not within one); one Redis server takes them all in
// one call. The prefix is expected to hold no braces (it would be the tag then).
//
// Exactness in Lua. Redis's Lua numbers are doubles, exact for integers below 2^53, while
// unix-epoch nanoseconds (~1.8e18) are not. So absolute times never become numbers: the TAT
// and `now` travel as decimal strings, split into (seconds, nanoseconds within the second),
// and only the difference TAT - now (how far a key is ahead of the clock) is a double. Every
// value the script computes from there is at most T + tau, kept below 2^53 ns (~104 days,
// kRedisMaxCapacityNs), so it is exact; floor divisions go through fmod, exact in IEEE.
// Parameters beyond the bound are clamped when the call is built (gcra_script_call):
//   - T above the bound becomes the bound: a rate slower than one request per 104 days is
//     enforced as one per 104 days (more lenient);
//   - tau is cut to bound - T: a limit whose burst spans more than 104 days keeps its rate but
//     gets a burst that fits in 104 days (stricter).
//   - costs above 2^53 become 2^53: they can never pass either way.
// redis_gcra_exact() says whether a limit is affected, for config checks. A stored TAT more
// than ~104 days ahead of `now` (a clock stepped far back, a limit reloaded with a shorter
// period) is taken as exactly 2^53 ns ahead: the request is refused as it would be, and the
// retry_after and reset it reports are shorter than the truth (the next answers correct them).
// A TAT that is not a decimal number is taken as absent (written by someone else; the next
// allowed request overwrites it).
//
// The clock. Without an explicit now the script reads Redis's TIME (microseconds), so every
// instance sharing the Redis shares one clock and no instance's skew shifts another's keys.
// Explicit nows are for tests, and must be non-negative (a negative one counts as 0).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "limit/store.hpp"
#include "redis/reply.hpp"
#include "redis/script.hpp"

namespace bulwark::limit {

// T + tau as sent to Redis stays at or below this (2^53 - 1 ns, ~104.2 days).
inline constexpr int64_t kRedisMaxCapacityNs = (int64_t{1} << 53) - 1;

// Tags longer than this are hashed.
inline constexpr std::size_t kRedisMaxPlainTag = 64;

// The script (see the .cpp for its contract).
const redis::Script& gcra_script();

// <prefix>:rl:{<tag>}:<check.name> (see "The hash tag" above).
std::string redis_limit_key(std::string_view prefix, const LimitCheck& check);

// False when the Redis store clamps these parameters (see "Exactness in Lua").
bool redis_gcra_exact(const GcraParams& params) noexcept;

// Fills `keys` and `args` (cleared first) for one gcra_script() call deciding one request's
// stage: gcra_batch_call with one group.
//
// A batch call decides the stages of several requests in one EVALSHA (the server batches the
// requests that arrive while a call is in flight), group after group, each as if alone:
//   KEYS  per group: its enforced checks' keys, then its independent ones'
//   ARGV  now (decimal ns; "" to use Redis TIME), the number of groups G, then per group its
//         number of enforced and of independent checks, then for each key in KEYS order:
//         T, tau, cost (decimal, clamped as above; cost 0 is 1).
// A group's enforced checks are all-or-nothing as Store::check_all; each independent check
// (a shadow limit) is decided and committed alone, after its group's enforced ones, whatever
// they decided. A later group sees what the earlier ones committed.
void gcra_script_call(std::string_view prefix, std::span<const LimitCheck> enforced,
                      std::span<const LimitCheck> independent, std::optional<int64_t> now_unix_ns,
                      std::vector<std::string>& keys, std::vector<std::string>& args);

struct GcraGroup {
  std::span<const LimitCheck> enforced;
  std::span<const LimitCheck> independent;
};

void gcra_batch_call(std::string_view prefix, std::span<const GcraGroup> groups,
                     std::optional<int64_t> now_unix_ns, std::vector<std::string>& keys,
                     std::vector<std::string>& args);

// Decodes the script's answer into `results` (the enforced checks', then the independent
// ones', as many as were sent), with Store::check_all's meaning. Returns whether the enforced
// group passed (true when it is empty), or nullopt with `error` set when the reply is an
// error or not exactly the shape the script returns: an array of 1 + 4 * results.size()
// integers, the group's verdict (0/1) then per result: allowed (0/1); retry_after ns (0 when
// allowed, -1 for never, else > 0); remaining (>= 0); reset ns (>= 0).
// `results` may be partly written when it fails.
std::optional<bool> decode_gcra_reply(const redis::Reply& reply, std::span<LimitResult> results,
                                      std::string& error);

// The same for a batch: results[g] gets group g's results (as many as it sent), passed[g] its
// verdict; the reply is the groups' answers one after the other. False with `error` set when
// any part is out of shape (nothing of it can be trusted then).
bool decode_gcra_batch_reply(const redis::Reply& reply,
                             std::span<const std::span<LimitResult>> results,
                             std::span<bool> passed, std::string& error);

}  // namespace bulwark::limit
