#include "server/revocation_sync.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

namespace bulwark::server {
namespace {

namespace asio = boost::asio;
using auth::Revocation;

constexpr std::size_t kMaxValueBytes = 1024;      // as the admin request allows
constexpr int64_t kMaxSeconds = 253402300799;     // 9999-12-31T23:59:59Z, as NumericDate
constexpr std::size_t kCleanFieldsPerCall = 500;  // bounds one script's run inside Redis

// {version, epoch} when the version is ARGV[1], else {version, epoch, HGETALL}: one round
// trip, and the content read in the same atomic step as its version. The epoch names this
// incarnation of the store: a store that lost its keys gets a new one (ARGV[2]).
constexpr std::string_view kPollScript = R"(
local e = redis.call('GET', KEYS[3])
if not e then
  e = ARGV[2]
  redis.call('SET', KEYS[3], e)
end
local v = redis.call('GET', KEYS[2]) or '0'
if v == ARGV[1] then return {v, e} end
return {v, e, redis.call('HGETALL', KEYS[1])})";

// HSET keeping the later times of the stored and the new entry, and INCR, atomically.
constexpr std::string_view kPublishScript = R"(
local r = tonumber(ARGV[2])
local e = tonumber(ARGV[3])
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  local orv, oev = string.match(old, '^(%d+)|(%d+)$')
  if orv then
    r = math.max(r, tonumber(orv))
    e = math.max(e, tonumber(oev))
  end
end
redis.call('HSET', KEYS[1], ARGV[1], string.format('%d|%d', r, e))
return redis.call('INCR', KEYS[2]))";

// Deletes the fields ARGV[2..] whose entry expired before ARGV[1], checked inside Redis so
// that a field re-published since it was read survives.
constexpr std::string_view kCleanScript = R"(
-- Redis's clock, less a minute: an instance whose clock runs ahead must not delete what the
-- others still enforce (ARGV[1], the caller's time, only ever makes it stricter).
if redis.replicate_commands then redis.replicate_commands() end
local now = math.min(tonumber(ARGV[1]), tonumber(redis.call('TIME')[1]) - 60)
local n = 0
for i = 2, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v then
    local e = tonumber(string.match(v, '^%d+|(%d+)$'))
    if e and e < now then
      redis.call('HDEL', KEYS[1], ARGV[i])
      n = n + 1
    end
  end
end
return n)";

std::optional<int64_t> parse_seconds(std::string_view text) {
  if (text.empty() || text.size() > 12 || (text.size() > 1 && text[0] == '0')) return {};
  int64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return {};
    n = n * 10 + (c - '0');
  }
  if (n > kMaxSeconds) return {};
  return n;
}

int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string random_hex() {
  std::random_device device;
  const uint64_t bits = (uint64_t{device()} << 32) ^ device();
  return fmt::format("{:016x}", bits);
}

std::string limited(std::string text) {
  if (text.size() > 200) text.resize(200);
  return text;
}

}  // namespace

std::string revocation_field(const Revocation& r) {
  std::string field = r.kind == Revocation::Kind::jti ? "j|" : "s|";
  field += std::to_string(r.issuer.size());
  field += '|';
  field += r.issuer;
  field += '|';
  field += r.value;
  return field;
}

std::string revocation_value(const Revocation& r) {
  return std::to_string(r.revoked_at_s) + '|' + std::to_string(r.expires_at_s);
}

std::optional<Revocation> parse_revocation_entry(std::string_view field, std::string_view value) {
  if (field.size() < 2 || (field[0] != 'j' && field[0] != 's') || field[1] != '|') return {};
  Revocation r;
  r.kind = field[0] == 'j' ? Revocation::Kind::jti : Revocation::Kind::subject;
  field.remove_prefix(2);
  const auto bar = field.find('|');
  if (bar == std::string_view::npos) return {};
  const auto issuer_bytes = parse_seconds(field.substr(0, bar));
  if (!issuer_bytes || *issuer_bytes > static_cast<int64_t>(kMaxValueBytes)) return {};
  field.remove_prefix(bar + 1);
  const auto length = static_cast<std::size_t>(*issuer_bytes);
  if (field.size() < length + 1 || field[length] != '|') return {};
  r.issuer = field.substr(0, length);
  r.value = field.substr(length + 1);
  if (r.value.empty() || r.value.size() > kMaxValueBytes) return {};
  const auto times_bar = value.find('|');
  if (times_bar == std::string_view::npos) return {};
  const auto revoked = parse_seconds(value.substr(0, times_bar));
  const auto expires = parse_seconds(value.substr(times_bar + 1));
  if (!revoked || !expires) return {};
  r.revoked_at_s = *revoked;
  r.expires_at_s = *expires;
  return r;
}

struct RevocationSync::State {
  State(RedisClient& c, std::string prefix, std::shared_ptr<auth::RevocationList> l,
        std::chrono::milliseconds interval)
      : client(&c),
        entries_key(prefix + ":{revocations}:entries"),
        version_key(prefix + ":{revocations}:version"),
        epoch_key(prefix + ":{revocations}:epoch"),
        epoch_candidate(random_hex()),
        list(std::move(l)),
        poll_interval(interval),
        timer(c.executor()) {}

  RedisClient* client;
  const std::string entries_key;
  const std::string version_key;
  const std::string epoch_key;
  const std::string epoch_candidate;  // + a count: a fresh epoch each time this one makes one
  uint64_t polls_sent = 0;
  std::string epoch;  // of the store when last loaded; empty before the first load
  const std::shared_ptr<auth::RevocationList> list;
  const std::chrono::milliseconds poll_interval;
  asio::steady_timer timer;
  bool started = false;
  bool stopped = false;
  std::string version;  // of the last full load; empty before the first
  std::chrono::steady_clock::time_point last_full_load{};
  uint64_t connects_seen = 0;
  bool failing = false;
  bool garbage_logged = false;
  bool overflow_logged = false;
  std::atomic<int64_t> last_sync_ms{0};
  // The fields the last full load found: what the list holds beyond them, the store lost.
  std::unordered_set<std::string> stored_fields;
  Stats stats;

  bool needs_full_load() const {
    return version.empty() ||
           std::chrono::steady_clock::now() - last_full_load >= kFullLoadInterval ||
           client->stats().connects != connects_seen;
  }

  std::vector<std::string> script_args(std::string_view script) const {
    std::vector<std::string> args;
    args.emplace_back("EVAL");
    args.emplace_back(script);
    args.emplace_back(script == kCleanScript ? "1" : "2");
    args.push_back(entries_key);
    if (script != kCleanScript) args.push_back(version_key);
    return args;
  }

  std::vector<std::string> poll_args() {
    auto args = script_args(kPollScript);
    args[2] = "3";
    args.push_back(epoch_key);
    args.push_back(needs_full_load() ? std::string() : version);
    args.push_back(epoch_candidate + '-' + std::to_string(++polls_sent));
    return args;
  }

  // Why `result` is not a poll answer, or empty.
  static std::string poll_problem(const RedisResult& result) {
    if (!result.ok()) return result.error;
    const auto& reply = result.reply;
    if (reply.is_error()) return "redis answered " + reply.text;
    const auto& items = reply.elements;
    const bool shaped =
        reply.type == redis::ReplyType::array && (items.size() == 2 || items.size() == 3) &&
        items[0].type == redis::ReplyType::string && items[1].type == redis::ReplyType::string &&
        (items.size() == 2 ||
         (items[2].type == redis::ReplyType::array && items[2].elements.size() % 2 == 0));
    if (!shaped) return "unexpected reply " + limited(redis::describe(reply));
    return {};
  }

  void note_failure(const std::string& why) {
    stats.failures.fetch_add(1, std::memory_order_relaxed);
    if (failing) return;
    failing = true;
    spdlog::warn("revocations: poll of redis failed, keeping the {} known revocation(s): {}",
                 list->size(), why);
  }

  void note_success() {
    stats.polls.fetch_add(1, std::memory_order_relaxed);
    last_sync_ms.store(unix_ms(), std::memory_order_relaxed);
    if (!failing) return;
    failing = false;
    spdlog::info("revocations: poll of redis recovered");
  }

  void note_garbage(const redis::Reply& field) {
    stats.skipped.fetch_add(1, std::memory_order_relaxed);
    if (garbage_logged) return;
    garbage_logged = true;
    spdlog::warn("revocations: skipping malformed entry {} in {} (logged once)",
                 limited(redis::describe(field)), entries_key);
  }

  // Merges the live entries of an HGETALL reply into the list; returns the expired fields.
  std::vector<std::string> load(const redis::Reply& hash) {
    std::vector<Revocation> live;
    std::vector<std::string> expired;
    stored_fields.clear();
    const int64_t now_s = unix_seconds();
    const auto& items = hash.elements;
    for (std::size_t i = 0; i + 1 < items.size(); i += 2) {
      auto r = parse_revocation_entry(items[i].text, items[i + 1].text);
      if (!r || items[i].type != redis::ReplyType::string) {
        note_garbage(items[i]);
      } else if (r->expires_at_s < now_s) {
        expired.push_back(items[i].text);
      } else {
        stored_fields.insert(items[i].text);
        live.push_back(std::move(*r));
      }
    }
    const std::size_t dropped = list->merge(std::move(live), now_s);
    if (dropped > 0 && !overflow_logged) {
      overflow_logged = true;
      spdlog::error("revocations: {} stored revocation(s) over the bound of {} not loaded", dropped,
                    list->max_entries());
    }
    stats.full_loads.fetch_add(1, std::memory_order_relaxed);
    return expired;
  }
};

namespace {

using State = RevocationSync::State;

asio::awaitable<void> clean(std::shared_ptr<State> s, std::vector<std::string> fields) {
  for (std::size_t at = 0; at < fields.size() && !s->stopped; at += kCleanFieldsPerCall) {
    auto args = s->script_args(kCleanScript);
    args.push_back(std::to_string(unix_seconds()));
    const auto end = std::min(fields.size(), at + kCleanFieldsPerCall);
    args.insert(args.end(), fields.begin() + at, fields.begin() + end);
    RedisResult result = co_await s->client->command(args);
    // A failure leaves the fields for the next full load to find.
    if (!result.ok() || result.reply.type != redis::ReplyType::integer) co_return;
    s->stats.cleaned.fetch_add(result.reply.integer, std::memory_order_relaxed);
  }
}

std::vector<std::string> publish_args(const State& s, const Revocation& r) {
  auto args = s.script_args(kPublishScript);
  args.push_back(revocation_field(r));
  args.push_back(std::to_string(r.revoked_at_s));
  args.push_back(std::to_string(r.expires_at_s));
  return args;
}

// Writes the list's live entries back into a store that lost them: what was revoked stays
// revoked. False when Redis failed; the next poll sees the old version again and retries.
asio::awaitable<bool> reseed(std::shared_ptr<State> s) {
  const int64_t now_s = unix_seconds();
  const auto entries = s->list->entries();
  spdlog::warn(
      "revocations: the store lost its content ({} changed): writing {} revocation(s) back",
      s->epoch_key, entries.size());
  for (const auto& r : entries) {
    if (r.expires_at_s < now_s) continue;
    auto args = publish_args(*s, r);
    RedisResult result = co_await s->client->command(args);
    if (s->stopped || !result.ok() || result.reply.is_error()) co_return false;
  }
  co_return true;
}

// Writes back what the list holds and the store lacks (a failover to a lagging replica, a
// restore, a publish that failed): instances started later learn it too. A few per poll, so
// a large difference never holds up the poll for long.
asio::awaitable<void> reseed_missing(std::shared_ptr<State> s) {
  constexpr std::size_t kPerPoll = 100;
  const int64_t now_s = unix_seconds();
  std::size_t written = 0;
  for (const auto& r : s->list->entries()) {
    if (written >= kPerPoll || s->stopped) break;
    if (r.expires_at_s < now_s || s->stored_fields.count(revocation_field(r)) > 0) continue;
    auto args = publish_args(*s, r);
    RedisResult result = co_await s->client->command(args);
    if (!result.ok() || result.reply.is_error()) co_return;
    ++written;
  }
  if (written > 0) spdlog::warn("revocations: wrote {} revocation(s) the store lacked", written);
}

asio::awaitable<void> poll_once(std::shared_ptr<State> s) {
  auto args = s->poll_args();
  RedisResult result = co_await s->client->command(args);
  if (s->stopped) co_return;
  if (auto problem = State::poll_problem(result); !problem.empty()) {
    s->note_failure(problem);
    co_return;
  }
  const auto& items = result.reply.elements;
  if (!s->epoch.empty() && items[1].text != s->epoch) {
    // The list is kept until the store holds it again; the next poll loads the store.
    const bool reseeded = co_await reseed(s);
    if (reseeded) {
      s->epoch = items[1].text;
      s->version.clear();
    }
    co_return;
  }
  if (items.size() == 3) {
    auto expired = s->load(items[2]);
    s->epoch = items[1].text;
    s->version = items[0].text;
    s->last_full_load = std::chrono::steady_clock::now();
    s->connects_seen = s->client->stats().connects;
    s->note_success();
    if (!expired.empty()) co_await clean(s, std::move(expired));
    co_await reseed_missing(s);
    co_return;
  }
  s->note_success();
}

asio::awaitable<void> poll_loop(std::shared_ptr<State> s) {
  while (!s->stopped) {
    co_await poll_once(s);
    if (s->stopped) break;
    s->timer.expires_after(s->poll_interval);
    boost::system::error_code ec;
    co_await s->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

// Why `r` cannot be published, or empty.
std::string publish_problem(const Revocation& r, const auth::RevocationList& list) {
  if (r.issuer.size() > kMaxValueBytes || r.revoked_at_s > r.expires_at_s ||
      !parse_revocation_entry(revocation_field(r), revocation_value(r))) {
    return "malformed revocation: jti/sub 1 to 1024 bytes, iss at most 1024, times in range";
  }
  if (list.size() >= list.max_entries()) {
    return "the revocation list is full (" + std::to_string(list.max_entries()) + " entries)";
  }
  return {};
}

}  // namespace

RevocationSync::RevocationSync(RedisClient& client, std::string prefix,
                               std::shared_ptr<auth::RevocationList> list,
                               std::chrono::milliseconds poll_interval)
    : state_(std::make_shared<State>(client, std::move(prefix), std::move(list), poll_interval)) {}

RevocationSync::~RevocationSync() {
  stop();
}

void RevocationSync::start() {
  if (state_->started || state_->stopped) return;
  state_->started = true;
  asio::co_spawn(state_->client->executor(), poll_loop(state_), asio::detached);
}

void RevocationSync::stop() {
  state_->stopped = true;
  state_->timer.cancel();
}

asio::awaitable<std::string> RevocationSync::publish(const Revocation& r) {
  auto s = state_;
  const Revocation revocation = r;  // the caller's may not outlive the suspension
  if (auto problem = publish_problem(revocation, *s->list); !problem.empty()) co_return problem;
  auto args = publish_args(*s, revocation);
  RedisResult result = co_await s->client->command(args);
  std::string problem;
  if (!result.ok()) {
    problem = "revocation not stored: " + result.error;
  } else if (result.reply.is_error()) {
    problem = "revocation not stored: redis answered " + limited(result.reply.text);
  } else {
    problem = s->list->add(revocation);
  }
  co_return problem;
}

int64_t RevocationSync::last_sync_ms() const {
  return state_->last_sync_ms.load(std::memory_order_relaxed);
}

const RevocationSync::Stats& RevocationSync::stats() const {
  return state_->stats;
}

}  // namespace bulwark::server
