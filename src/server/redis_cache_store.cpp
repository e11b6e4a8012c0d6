#include "server/redis_cache_store.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <stdexcept>
#include <vector>

#include "cache/entry_codec.hpp"
#include "cache/redis_layout.hpp"
#include "redis/script.hpp"

namespace bulwark::server {
namespace {

namespace asio = boost::asio;
using cache::Entry;
using redis::Reply;
using redis::ReplyType;

// A key that holds another type (written by hand, or by an older layout) would make every
// HSET/SADD fail with WRONGTYPE until it expires, if it ever does: it is replaced. The TTLs
// are only ever raised: the hash and the set are shared by other variants and identities,
// and the set must outlive every hash it names (invalidation finds them through it).
constexpr std::string_view kInsertScript = R"lua(
local function retype(key, want)
  local have = redis.call('TYPE', key)['ok']
  if have ~= want and have ~= 'none' then redis.call('DEL', key) end
end
local function extend(key, ttl)
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
end
local ttl = tonumber(ARGV[3])
retype(KEYS[1], 'hash')
retype(KEYS[2], 'set')
if redis.call('SISMEMBER', KEYS[2], KEYS[1]) == 0 and
   redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[5]) then
  return 0 -- too many identities under this URL: this copy stays local
end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 and
   redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then
  redis.call('DEL', KEYS[1]) -- too many variants: start over
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
extend(KEYS[1], ttl)
redis.call('SADD', KEYS[2], KEYS[1])
extend(KEYS[2], ttl)
return 1
)lua";

// Deletes only members under this URL's own variants prefix: the set's content comes from
// Redis, and must not be a way to delete arbitrary keys. The shared hash is deleted even
// when the set is missing or broken, since its name needs nothing from the set.
constexpr std::string_view kInvalidateScript = R"lua(
local n = 0
if redis.call('TYPE', KEYS[1])['ok'] == 'set' then
  for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
    if string.sub(key, 1, #ARGV[1]) == ARGV[1] then n = n + redis.call('DEL', key) end
  end
end
return n + redis.call('DEL', KEYS[1], KEYS[2])
)lua";

constexpr std::string_view kUnlockScript = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
)lua";

// One follower poll in one round trip, seen atomically: the lock and the variants.
constexpr std::string_view kPollScript = R"lua(
return {redis.call('EXISTS', KEYS[2]), redis.call('HGETALL', KEYS[1])}
)lua";

constexpr std::string_view kScanCount = "500";

// The scripts, sent as EVALSHA (the client loads them again after a NOSCRIPT).
const redis::Script& script(std::string_view source) {
  static const redis::Script insert = redis::make_script(std::string(kInsertScript));
  static const redis::Script invalidate = redis::make_script(std::string(kInvalidateScript));
  static const redis::Script unlock = redis::make_script(std::string(kUnlockScript));
  static const redis::Script poll = redis::make_script(std::string(kPollScript));
  for (const redis::Script* s : {&insert, &invalidate, &unlock, &poll}) {
    if (s->source == source) return *s;
  }
  throw std::logic_error("redis cache store: unknown script");
}

// The failure a result stands for, or "" when it is a reply of the expected type.
std::string failure(const RedisResult& r, ReplyType want) {
  if (!r.ok()) return r.error;
  if (r.reply.is_error()) return "redis: " + r.reply.text;
  if (r.reply.type != want) return "redis: unexpected reply " + redis::describe(r.reply);
  return {};
}

bool newer(const Entry& a, const Entry& b) {
  return a.date.value_or(a.response_time) > b.date.value_or(b.response_time);
}

// Whether the decoded `e`, filed under hash field `field`, answers this request: the keys
// it carries must be the ones asked for, so no stored bytes can hand one URL's or one
// identity's response to another.
bool answers(const Entry& e, std::string_view field, const std::string& uri_key,
             const std::string& identity, std::span<const cache::FieldLine> request) {
  if (e.uri_key != uri_key || e.identity != identity || e.variant_key != field) return false;
  const std::optional<std::string> values = cache::vary_key(e.vary, request);
  if (!values) return false;  // Vary: *
  return field.size() == identity.size() + values->size() &&
         field.substr(identity.size()) == *values;
}

// The best variant among HGETALL's [field, value, ...].
RedisCacheStore::Found select(const Reply& pairs, const std::string& uri_key,
                              const std::string& identity,
                              std::span<const cache::FieldLine> request) {
  RedisCacheStore::Found found;
  if (pairs.elements.size() % 2 != 0) {
    found.error = "redis: odd HGETALL reply";
    return found;
  }
  std::optional<Entry> best;
  for (size_t i = 0; i < pairs.elements.size(); i += 2) {
    const Reply& field = pairs.elements[i];
    const Reply& value = pairs.elements[i + 1];
    std::string why;
    std::optional<Entry> e = cache::decode_entry(value.text, &why);
    if (field.type != ReplyType::string || value.type != ReplyType::string || !e) {
      found.error = why.empty() ? "redis: unexpected variant reply" : why;
      continue;
    }
    if (!answers(*e, field.text, uri_key, identity, request)) continue;
    if (!best || newer(*e, *best)) best = std::move(e);
  }
  if (best) found.entry = std::make_shared<const Entry>(std::move(*best));
  return found;
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace

RedisCacheStore::RedisCacheStore(RedisClient& client, std::string prefix, uint64_t max_object_bytes)
    : client_(client), prefix_(std::move(prefix)), max_object_bytes_(max_object_bytes) {}

asio::awaitable<RedisCacheStore::Found> RedisCacheStore::lookup(
    const std::string& uri_key, const std::string& identity,
    std::span<const cache::FieldLine> request_fields) {
  std::vector<std::string> args;
  args.emplace_back("HGETALL");
  args.push_back(cache::redis_variants_key(prefix_, uri_key, identity));
  const RedisResult r = co_await client_.command(args);
  std::string error = failure(r, ReplyType::array);
  if (!error.empty()) co_return Found{nullptr, std::move(error), !r.ok()};
  co_return select(r.reply, uri_key, identity, request_fields);
}

asio::awaitable<std::string> RedisCacheStore::insert(std::shared_ptr<const Entry> entry,
                                                     std::chrono::sys_seconds now) {
  if (!entry || entry->charge() > max_object_bytes_) co_return std::string();
  const std::chrono::milliseconds ttl = cache::redis_ttl(*entry, now);
  if (ttl.count() <= 0) co_return std::string();
  std::vector<std::string> keys;
  keys.push_back(cache::redis_variants_key(prefix_, entry->uri_key, entry->identity));
  keys.push_back(cache::redis_url_set_key(prefix_, entry->uri_key));
  std::vector<std::string> argv;
  argv.push_back(entry->variant_key);
  argv.push_back(cache::encode_entry(*entry));
  argv.push_back(std::to_string(ttl.count()));
  argv.push_back(std::to_string(kMaxVariants));
  argv.push_back(std::to_string(kMaxIdentitiesPerUrl));
  const std::span<const std::string> key_span(keys);
  const std::span<const std::string> arg_span(argv);
  const RedisResult r = co_await client_.run_script(script(kInsertScript), key_span, arg_span);
  co_return failure(r, ReplyType::integer);
}

asio::awaitable<std::string> RedisCacheStore::invalidate(const std::string& uri_key) {
  const std::pair<int64_t, std::string> removed = co_await remove_url(uri_key);
  co_return removed.second;
}

asio::awaitable<std::pair<int64_t, std::string>> RedisCacheStore::remove_url(
    const std::string& uri_key) {
  std::vector<std::string> keys;
  keys.push_back(cache::redis_url_set_key(prefix_, uri_key));
  keys.push_back(cache::redis_variants_key(prefix_, uri_key, ""));
  std::vector<std::string> argv;
  argv.push_back(cache::redis_variants_prefix(prefix_, uri_key));
  const std::span<const std::string> key_span(keys);
  const std::span<const std::string> arg_span(argv);
  const RedisResult r = co_await client_.run_script(script(kInvalidateScript), key_span, arg_span);
  std::string error = failure(r, ReplyType::integer);
  co_return std::make_pair(error.empty() ? r.reply.integer : 0, std::move(error));
}

asio::awaitable<std::pair<uint64_t, std::string>> RedisCacheStore::purge(std::string host,
                                                                         std::string path,
                                                                         bool prefix) {
  const std::string pattern = cache::redis_url_set_pattern(prefix_, host);
  uint64_t purged = 0;
  std::string cursor = "0";
  do {
    const std::vector<std::string> args = {"SCAN",  cursor,  "MATCH",
                                           pattern, "COUNT", std::string(kScanCount)};
    const RedisResult r = co_await client_.command(args);
    std::string error = failure(r, ReplyType::array);
    const auto& page = r.reply.elements;
    if (error.empty() && (page.size() != 2 || page[1].type != ReplyType::array))
      error = "redis: unexpected SCAN reply";
    if (!error.empty()) co_return std::make_pair(purged, std::move(error));
    cursor = page[0].text;
    for (const Reply& key : page[1].elements) {
      const std::optional<std::string> uri = cache::redis_url_key_from_set_key(prefix_, key.text);
      if (!uri || !cache::purge_matches(*uri, host, path, prefix)) continue;
      // SCAN may return a key twice, or one that expired since: count what went away.
      std::pair<int64_t, std::string> removed = co_await remove_url(*uri);
      if (!removed.second.empty()) co_return std::make_pair(purged, std::move(removed.second));
      if (removed.first > 0) ++purged;
    }
  } while (cursor != "0");
  co_return std::make_pair(purged, std::string());
}

asio::awaitable<std::optional<bool>> RedisCacheStore::try_lock(const std::string& uri_key,
                                                               const std::string& identity,
                                                               const std::string& token,
                                                               std::chrono::milliseconds ttl) {
  std::vector<std::string> args;
  args.emplace_back("SET");
  args.push_back(cache::redis_lock_key(prefix_, uri_key, identity));
  args.push_back(token);
  args.emplace_back("NX");
  args.emplace_back("PX");
  args.push_back(std::to_string(std::max<int64_t>(ttl.count(), 1)));
  const RedisResult r = co_await client_.command(args);
  if (!r.ok() || r.reply.is_error()) co_return std::nullopt;
  if (r.reply.is_nil()) co_return false;
  if (r.reply.type == ReplyType::status && r.reply.text == "OK") co_return true;
  co_return std::nullopt;
}

asio::awaitable<void> RedisCacheStore::unlock(const std::string& uri_key,
                                              const std::string& identity,
                                              const std::string& token) {
  std::vector<std::string> keys;
  keys.push_back(cache::redis_lock_key(prefix_, uri_key, identity));
  std::vector<std::string> argv;
  argv.push_back(token);
  const std::span<const std::string> key_span(keys);
  const std::span<const std::string> arg_span(argv);
  co_await client_.run_script(script(kUnlockScript), key_span, arg_span);
}

asio::awaitable<RedisCacheStore::Found> RedisCacheStore::wait_for_leader(
    const std::string& uri_key, const std::string& identity,
    std::span<const cache::FieldLine> request_fields, std::chrono::milliseconds wait) {
  std::vector<std::string> keys;
  keys.push_back(cache::redis_variants_key(prefix_, uri_key, identity));
  keys.push_back(cache::redis_lock_key(prefix_, uri_key, identity));
  const std::span<const std::string> key_span(keys);
  const std::span<const std::string> no_args;
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    const RedisResult r = co_await client_.run_script(script(kPollScript), key_span, no_args);
    std::string error = failure(r, ReplyType::array);
    const auto& parts = r.reply.elements;
    if (error.empty() && (parts.size() != 2 || parts[1].type != ReplyType::array))
      error = "redis: unexpected poll reply";
    if (!error.empty()) co_return Found{nullptr, std::move(error), !r.ok()};
    Found found = select(parts[1], uri_key, identity, request_fields);
    const bool locked = parts[0].type == ReplyType::integer && parts[0].integer != 0;
    if (found.entry || !locked) co_return found;
    if (std::chrono::steady_clock::now() + kPollInterval > deadline) co_return found;
    co_await sleep_for(kPollInterval);
  }
}

}  // namespace bulwark::server
