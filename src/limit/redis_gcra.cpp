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

-- a - a mod b is an exact multiple of b, so the division is exact too.
local function floor_div(a, b)
  return (a - math.fmod(a, b)) / b
end

-- Decimal nanoseconds -> seconds, nanoseconds within the second; nil unless digits.
local function split(s)
  if type(s) ~= 'string' or #s == 0 or #s > 19 or s:find('%D') then
    return nil
  end
  if #s <= 9 then
    return 0, tonumber(s)
  end
  return tonumber(s:sub(1, -10)), tonumber(s:sub(-9))
end

-- A decimal count that fits exactly in a double, else nil.
local function count(s)
  if type(s) ~= 'string' or #s == 0 or #s > 16 or s:find('%D') then
    return nil
  end
  local n = tonumber(s)
  if n > FAR then
    return nil
  end
  return n
end

-- How far (tat_s, tat_n) is ahead of (now_s, now_n): 0 when behind, FAR when beyond 2^53.
local function ahead(tat_s, tat_n, now_s, now_n)
  local ds = tat_s - now_s
  if ds < 0 then
    return 0
  end
  if ds > 9007198 then
    return FAR
  end
  local d = ds * BILLION + (tat_n - now_n)
  if d < 0 then
    return 0
  end
  return d
end

-- (now_s, now_n) + d, as seconds and nanoseconds.
local function later(now_s, now_n, d)
  local s = now_s + floor_div(d, BILLION)
  local n = now_n + math.fmod(d, BILLION)
  if n >= BILLION then
    s = s + 1
    n = n - BILLION
  end
  return s, n
end

local function decimal(s, n)
  if s == 0 then
    return string.format('%d', n)
  end
  return string.format('%.0f%09d', s, n)
end

-- The key's TTL: until it is idle again, in whole milliseconds rounded up.
local function ttl_ms(d)
  local ms = floor_div(d, 1000000)
  if math.fmod(d, 1000000) > 0 then
    ms = ms + 1
  end
  return string.format('%.0f', math.max(ms, 1))
end

local function remaining_at(fill, capacity, t)
  if fill >= capacity then
    return 0
  end
  return floor_div(capacity - fill, t)
end

-- allowed, retry_after, remaining, reset, after (0 unless allowed).
local function decide(fill, t, capacity, cost)
  if cost > floor_div(capacity, t) then -- cost * T > T + tau: never
    return 0, -1, remaining_at(fill, capacity, t), fill, 0
  end
  local room = capacity - cost * t -- fill <= room  <=>  fill + cost * T <= capacity
  if fill <= room then
    local after = fill + cost * t
    return 1, 0, remaining_at(after, capacity, t), after, after
  end
  return 0, fill - room, remaining_at(fill, capacity, t), fill, 0
end

local function stored(key)
  local s, n = split(redis.call('GET', key))
  if not s then
    return 0, 0
  end
  return s, n
end

-- Redis 3.2 to 4 need this to write after TIME; later versions always replicate effects.
if redis.replicate_commands then
  redis.replicate_commands()
end

local nkeys = #KEYS
local enforced = count(ARGV[2])
if #ARGV ~= 2 + 3 * nkeys or not enforced or enforced > nkeys then
  return redis.error_reply('ERR bulwark gcra: bad argument count')
end
local T, CAPACITY, COST = {}, {}, {}
for i = 1, nkeys do
  local t, tau, cost = count(ARGV[3 * i]), count(ARGV[3 * i + 1]), count(ARGV[3 * i + 2])
  if not (t and tau and cost) or t < 1 or cost < 1 or t + tau >= FAR then
    return redis.error_reply('ERR bulwark gcra: bad parameters for key ' .. i)
  end
  T[i], CAPACITY[i], COST[i] = t, t + tau, cost
end

local now_s, now_n
if ARGV[1] == '' then
  local time = redis.call('TIME')
  now_s, now_n = tonumber(time[1]), tonumber(time[2]) * 1000
else
  now_s, now_n = split(ARGV[1])
  if not now_s then
    return redis.error_reply('ERR bulwark gcra: bad now')
  end
end

local function commit(key, s, n, after)
  redis.call('SET', key, decimal(s, n), 'PX', ttl_ms(after))
end

local function push(out, allowed, retry, remaining, reset)
  out[#out + 1] = allowed
  out[#out + 1] = retry
  out[#out + 1] = remaining
  out[#out + 1] = reset
end

-- The enforced group: each check sees the TATs the ones before it left (the same key twice
-- counts twice); all are committed, or none.
local out = {1}
local decisions = {}
local chained = {}
for i = 1, enforced do
  local key = KEYS[i]
  local stored_s, stored_n = stored(key)
  local tat = chained[key] or {stored_s, stored_n}
  local fill = ahead(tat[1], tat[2], now_s, now_n)
  local allowed, retry, remaining, reset, after = decide(fill, T[i], CAPACITY[i], COST[i])
  local d = {allowed, retry, remaining, reset, after, stored_s, stored_n}
  if allowed == 1 then
    d[8], d[9] = later(now_s, now_n, after)
    chained[key] = {d[8], d[9]}
  else
    out[1] = 0
  end
  decisions[i] = d
end
for i = 1, enforced do
  local d = decisions[i]
  if out[1] == 1 then
    commit(KEYS[i], d[8], d[9], d[5])
    push(out, 1, 0, d[3], d[4])
  elseif d[1] == 1 then -- would have passed: its state without this request
    local fill = ahead(d[6], d[7], now_s, now_n)
    push(out, 1, 0, remaining_at(fill, CAPACITY[i], T[i]), fill)
  else
    push(out, 0, d[2], d[3], d[4])
  end
end

-- Independent checks: each decided and committed on its own.
for i = enforced + 1, nkeys do
  local stored_s, stored_n = stored(KEYS[i])
  local fill = ahead(stored_s, stored_n, now_s, now_n)
  local allowed, retry, remaining, reset, after = decide(fill, T[i], CAPACITY[i], COST[i])
  if allowed == 1 then
    local s, n = later(now_s, now_n, after)
    commit(KEYS[i], s, n, after)
  end
  push(out, allowed, retry, remaining, reset)
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
  keys.clear();
  args.clear();
  keys.reserve(enforced.size() + independent.size());
  args.reserve(2 + 3 * (enforced.size() + independent.size()));
  args.push_back(now_unix_ns ? std::to_string(std::max<int64_t>(*now_unix_ns, 0)) : "");
  args.push_back(std::to_string(enforced.size()));
  for (const auto group : {enforced, independent}) {
    for (const LimitCheck& check : group) {
      keys.push_back(redis_limit_key(prefix, check));
      append_check(check, args);
    }
  }
}

std::optional<bool> decode_gcra_reply(const redis::Reply& reply, std::span<LimitResult> results,
                                      std::string& error) {
  const std::size_t expected = 1 + 4 * results.size();
  if (reply.type != redis::ReplyType::array || reply.elements.size() != expected) {
    error = shape_error(reply, expected);
    return std::nullopt;
  }
  for (const redis::Reply& element : reply.elements) {
    if (element.type != redis::ReplyType::integer) {
      error = shape_error(reply, expected);
      return std::nullopt;
    }
  }
  const int64_t passed = reply.elements[0].integer;
  if (passed != 0 && passed != 1) {
    error = "redis gcra script answered a verdict of " + std::to_string(passed);
    return std::nullopt;
  }
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (!decode_result(&reply.elements[1 + 4 * i], results[i], error)) {
      error = "redis gcra script answered for check " + std::to_string(i) + ": " + error;
      return std::nullopt;
    }
  }
  return passed == 1;
}

}  // namespace bulwark::limit
