#include "limit/redis_gcra.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <stdexcept>

namespace bulwark::limit {
namespace {

// gcra_check and MemoryStore::check_all, step for step, on the split clock of the header's
// "Exactness in Lua". Variables named after gcra.hpp: fill, after, capacity (T + tau).
// KEYS: the enforced checks' keys, then the independent ones'.
// ARGV: now (decimal ns, "" for TIME), the enforced count, then T, tau, cost per key.
// Answer: {passed 0/1, then per key: allowed 0/1, retry_after (-1: never), remaining, reset}.
// Arguments are all checked before the first write: a bad call changes nothing.
constexpr const char* kGcraLua = R"lua(
local FAR = 9007199254740992 -- 2^53: "at least this far ahead"
local BILLION = 1000000000
local tonumber, fmod, find, sub, format = tonumber, math.fmod, string.find, string.sub, string.format
local call = redis.call

-- Redis 3.2 to 4 need this to write after TIME; later versions always replicate effects.
if redis.replicate_commands then
  redis.replicate_commands()
end

local function fail(what)
  return redis.error_reply('ERR bulwark gcra: ' .. what)
end

-- A count bulwark sent: a whole number in [0, 2^53], else nil.
local function count(s)
  local n = tonumber(s)
  if not n or n < 0 or n > FAR or fmod(n, 1) ~= 0 then
    return nil
  end
  return n
end

-- a - a mod b is an exact multiple of b, so the division is exact too.
local function floor_div(a, b)
  return (a - fmod(a, b)) / b
end

-- Decimal nanoseconds -> seconds, nanoseconds within the second; nil unless digits.
local function split(s)
  if not s or #s == 0 or #s > 19 or find(s, '%D') then
    return nil
  end
  if #s <= 9 then
    return 0, tonumber(s)
  end
  return tonumber(sub(s, 1, -10)), tonumber(sub(s, -9))
end

local nkeys = #KEYS
local groups = count(ARGV[2])
if not groups or groups < 1 or #ARGV ~= 2 + 2 * groups + 3 * nkeys then
  return fail('bad argument count')
end
local base = 2 + 2 * groups
local T, CAPACITY, COST = {}, {}, {}
for i = 1, nkeys do
  local at = base + 3 * i
  local t, tau, cost = count(ARGV[at - 2]), count(ARGV[at - 1]), count(ARGV[at])
  if not (t and tau and cost) or t < 1 or cost < 1 or t + tau >= FAR then
    return fail('bad parameters for key ' .. i)
  end
  T[i], CAPACITY[i], COST[i] = t, t + tau, cost
end
local sizes, total = {}, 0
for g = 1, groups do
  local enforced, independent = count(ARGV[1 + 2 * g]), count(ARGV[2 + 2 * g])
  if not enforced or not independent then
    return fail('bad group size')
  end
  sizes[g] = enforced
  total = total + enforced + independent
  sizes[groups + g] = independent
end
if total ~= nkeys then
  return fail('bad group sizes')
end

local now_s, now_n
if ARGV[1] == '' then
  local time = call('TIME')
  now_s, now_n = tonumber(time[1]), tonumber(time[2]) * 1000
else
  now_s, now_n = split(ARGV[1])
  if not now_s then
    return fail('bad now')
  end
end

-- How far (tat_s, tat_n) is ahead of now: 0 when behind, FAR when beyond 2^53.
local function ahead(tat_s, tat_n)
  local ds = tat_s - now_s
  if ds < 0 then
    return 0
  end
  if ds > 9007199 then
    return FAR
  end
  -- ds * 1e9 is exact below 2^53; a sum that reaches 2^53 is "far" whatever its rounding.
  local d = ds * BILLION + (tat_n - now_n)
  if d < 0 then
    return 0
  end
  if d >= FAR then
    return FAR
  end
  return d
end

local function remaining_at(fill, capacity, t)
  if fill >= capacity then
    return 0
  end
  return floor_div(capacity - fill, t)
end

-- Stores the TAT (tat_s, tat_n) with a TTL until the key is idle again: `after` ns from now,
-- in whole milliseconds rounded up (a number: redis.call writes it as an integer).
local function commit(key, tat_s, tat_n, after)
  local ms = floor_div(after, 1000000)
  if fmod(after, 1000000) > 0 or ms < 1 then
    ms = ms + 1
  end
  local tat = tat_s == 0 and format('%d', tat_n) or format('%.0f%09d', tat_s, tat_n)
  call('SET', key, tat, 'PX', ms)
end

local out = {}
local o = 0
-- Per key, for the enforced checks: the fill it saw, its own stored fill, and when it would
-- pass: `after` and the TAT to store (one table each for the whole call).
local fills, own_fills, afters, tats_s, tats_n = {}, {}, {}, {}, {}

local key_index = 0
for g = 1, groups do
  local enforced, independent = sizes[g], sizes[groups + g]
  local first = key_index + 1
  local last = key_index + enforced
  -- The enforced checks: each sees the TATs the ones before it left (the same key twice
  -- counts twice); all are committed, or none.
  local chained = nil -- key -> index of the group's last passing check on it
  local passed = 1
  for i = first, last do
    local key, t, capacity, cost = KEYS[i], T[i], CAPACITY[i], COST[i]
    local s, n = split(call('GET', key))
    local own = s and ahead(s, n) or 0
    local fill = own
    local before = chained and chained[key]
    if before then
      fill = ahead(tats_s[before], tats_n[before])
    end
    fills[i], own_fills[i] = fill, own
    local after = fill + cost * t
    if cost > floor_div(capacity, t) or after > capacity then
      passed = 0
      afters[i] = false
    else
      afters[i] = after
      local tat_s = now_s + floor_div(after, BILLION)
      local tat_n = now_n + fmod(after, BILLION)
      if tat_n >= BILLION then
        tat_s, tat_n = tat_s + 1, tat_n - BILLION
      end
      tats_s[i], tats_n[i] = tat_s, tat_n
      if enforced > 1 then
        chained = chained or {}
        chained[key] = i
      end
    end
  end
  o = o + 1
  out[o] = passed
  for i = first, last do
    local t, capacity, cost, fill, after = T[i], CAPACITY[i], COST[i], fills[i], afters[i]
    local a, b, c, d
    if passed == 1 then
      commit(KEYS[i], tats_s[i], tats_n[i], after)
      a, b, c, d = 1, 0, remaining_at(after, capacity, t), after
    elseif after then -- would have passed: its state as stored, without this request
      local own = own_fills[i]
      a, b, c, d = 1, 0, remaining_at(own, capacity, t), own
    elseif cost > floor_div(capacity, t) then -- more than the whole burst: never
      a, b, c, d = 0, -1, remaining_at(fill, capacity, t), fill
    else
      a, b, c, d = 0, fill + cost * t - capacity, remaining_at(fill, capacity, t), fill
    end
    out[o + 1], out[o + 2], out[o + 3], out[o + 4] = a, b, c, d
    o = o + 4
  end
  -- Independent checks: each decided and committed on its own.
  for i = last + 1, last + independent do
    local key, t, capacity, cost = KEYS[i], T[i], CAPACITY[i], COST[i]
    local s, n = split(call('GET', key))
    local fill = s and ahead(s, n) or 0
    local after = fill + cost * t
    local a, b, c, d
    if cost > floor_div(capacity, t) then
      a, b, c, d = 0, -1, remaining_at(fill, capacity, t), fill
    elseif after <= capacity then
      local tat_s = now_s + floor_div(after, BILLION)
      local tat_n = now_n + fmod(after, BILLION)
      if tat_n >= BILLION then
        tat_s, tat_n = tat_s + 1, tat_n - BILLION
      end
      commit(key, tat_s, tat_n, after)
      a, b, c, d = 1, 0, remaining_at(after, capacity, t), after
    else
      a, b, c, d = 0, after - capacity, remaining_at(fill, capacity, t), fill
    end
    out[o + 1], out[o + 2], out[o + 3], out[o + 4] = a, b, c, d
    o = o + 4
  end
  key_index = last + independent
end
return out
)lua";

constexpr int64_t kMaxCost = int64_t{1} << 53;

std::string hex(const unsigned char* bytes, std::size_t length) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * length);
  for (std::size_t i = 0; i < length; ++i) {
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 15];
  }
  return out;
}

bool is_plain_tag(std::string_view key) {
  return !key.empty() && key.size() <= kRedisMaxPlainTag && key.front() != '#' &&
         key.find_first_of("{}") == std::string_view::npos;
}

std::string hashed_tag(std::string_view key) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(key.data(), key.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("redis limit key: SHA-256 failed");
  }
  std::string tag = "#";  // not "#" + hex(...): g++ 12 warns falsely (-Wrestrict) on that
  tag += hex(digest, 16);
  return tag;
}

struct SentParams {
  int64_t t;
  int64_t tau;
};

SentParams clamp_params(const GcraParams& p) {
  const int64_t t = std::clamp<int64_t>(p.emission_interval_ns, 1, kRedisMaxCapacityNs);
  const int64_t tau = std::clamp<int64_t>(p.burst_tolerance_ns, 0, kRedisMaxCapacityNs - t);
  return {t, tau};
}

void append_check(const LimitCheck& check, std::vector<std::string>& args) {
  const SentParams sent = clamp_params(check.params);
  const uint64_t cost = std::clamp<uint64_t>(check.cost, 1, kMaxCost);
  args.push_back(std::to_string(sent.t));
  args.push_back(std::to_string(sent.tau));
  args.push_back(std::to_string(cost));
}

// One result's 4 integers, checked; false with `error` set when out of shape.
bool decode_result(const redis::Reply* fields, LimitResult& result, std::string& error) {
  const int64_t allowed = fields[0].integer;
  const int64_t retry = fields[1].integer;
  const int64_t remaining = fields[2].integer;
  const int64_t reset = fields[3].integer;
  if (allowed != 0 && allowed != 1) {
    error = "allowed is " + std::to_string(allowed);
  } else if (allowed == 1 ? retry != 0 : retry != -1 && retry <= 0) {
    error = "retry_after " + std::to_string(retry) + (allowed == 1 ? " when allowed" : "");
  } else if (remaining < 0) {
    error = "remaining is " + std::to_string(remaining);
  } else if (reset < 0) {
    error = "reset is " + std::to_string(reset);
  } else {
    result = LimitResult{.allowed = allowed == 1,
                         .retry_after_ns = retry == -1 ? kRetryNever : retry,
                         .remaining = static_cast<uint64_t>(remaining),
                         .reset_ns = reset};
    return true;
  }
  return false;
}

std::string shape_error(const redis::Reply& reply, std::size_t expected) {
  if (reply.is_error()) return "redis gcra script failed: " + reply.text;
  std::string what = redis::describe(reply);
  if (what.size() > 120) what = what.substr(0, 117) + "...";
  return "redis gcra script answered " + what + ", not an array of " + std::to_string(expected) +
         " integers";
}

}  // namespace

const redis::Script& gcra_script() {
  static const redis::Script script = redis::make_script(kGcraLua);
  return script;
}

std::string redis_limit_key(std::string_view prefix, const LimitCheck& check) {
  const std::string tag = is_plain_tag(check.key) ? std::string(check.key) : hashed_tag(check.key);
  std::string key;
  key.reserve(prefix.size() + tag.size() + check.name.size() + 7);
  key.append(prefix).append(":rl:{").append(tag).append("}:").append(check.name);
  return key;
}

bool redis_gcra_exact(const GcraParams& params) noexcept {
  const SentParams sent = clamp_params(params);
  return sent.t == params.emission_interval_ns && sent.tau == params.burst_tolerance_ns;
}

void gcra_script_call(std::string_view prefix, std::span<const LimitCheck> enforced,
                      std::span<const LimitCheck> independent, std::optional<int64_t> now_unix_ns,
                      std::vector<std::string>& keys, std::vector<std::string>& args) {
  const GcraGroup group{enforced, independent};
  gcra_batch_call(prefix, {&group, 1}, now_unix_ns, keys, args);
}

void gcra_batch_call(std::string_view prefix, std::span<const GcraGroup> groups,
                     std::optional<int64_t> now_unix_ns, std::vector<std::string>& keys,
                     std::vector<std::string>& args) {
  keys.clear();
  args.clear();
  args.push_back(now_unix_ns ? std::to_string(std::max<int64_t>(*now_unix_ns, 0)) : "");
  args.push_back(std::to_string(groups.size()));
  for (const GcraGroup& group : groups) {
    args.push_back(std::to_string(group.enforced.size()));
    args.push_back(std::to_string(group.independent.size()));
  }
  for (const GcraGroup& group : groups) {
    for (const auto checks : {group.enforced, group.independent}) {
      for (const LimitCheck& check : checks) {
        keys.push_back(redis_limit_key(prefix, check));
        append_check(check, args);
      }
    }
  }
}

std::optional<bool> decode_gcra_reply(const redis::Reply& reply, std::span<LimitResult> results,
                                      std::string& error) {
  const std::span<LimitResult> groups[] = {results};
  bool passed = false;
  if (!decode_gcra_batch_reply(reply, groups, {&passed, 1}, error)) return std::nullopt;
  return passed;
}

bool decode_gcra_batch_reply(const redis::Reply& reply,
                             std::span<const std::span<LimitResult>> results,
                             std::span<bool> passed, std::string& error) {
  std::size_t expected = 0;
  for (const auto& group : results) expected += 1 + 4 * group.size();
  if (reply.type != redis::ReplyType::array || reply.elements.size() != expected ||
      passed.size() != results.size()) {
    error = shape_error(reply, expected);
    return false;
  }
  for (const redis::Reply& element : reply.elements) {
    if (element.type != redis::ReplyType::integer) {
      error = shape_error(reply, expected);
      return false;
    }
  }
  std::size_t at = 0;
  for (std::size_t g = 0; g < results.size(); ++g) {
    const int64_t verdict = reply.elements[at++].integer;
    if (verdict != 0 && verdict != 1) {
      error = "redis gcra script answered a verdict of " + std::to_string(verdict);
      return false;
    }
    passed[g] = verdict == 1;
    for (std::size_t i = 0; i < results[g].size(); ++i, at += 4) {
      if (!decode_result(&reply.elements[at], results[g][i], error)) {
        error = "redis gcra script answered for check " + std::to_string(i) + ": " + error;
        return false;
      }
    }
  }
  return true;
}

}  // namespace bulwark::limit
