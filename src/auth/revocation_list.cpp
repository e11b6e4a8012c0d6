#include "auth/revocation_list.hpp"

#include <boost/json/value.hpp>

#include <algorithm>
#include <functional>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "auth/claims.hpp"

namespace bulwark::auth {
namespace revocation_detail {

struct Key {
  std::string issuer;
  std::string value;
};
struct KeyView {
  std::string_view issuer;
  std::string_view value;
};
inline KeyView view(const Key& k) {
  return {k.issuer, k.value};
}
inline KeyView view(const KeyView& k) {
  return k;
}

// Transparent, so a request's claims are looked up as string_views without building a Key.
struct KeyHash {
  using is_transparent = void;
  template <class K>
  std::size_t operator()(const K& key) const noexcept {
    const KeyView k = view(key);
    const std::size_t a = std::hash<std::string_view>{}(k.issuer);
    const std::size_t b = std::hash<std::string_view>{}(k.value);
    return b ^ (a + 0x9e3779b97f4a7c15ULL + (b << 6) + (b >> 2));
  }
};
struct KeyEqual {
  using is_transparent = void;
  template <class A, class B>
  bool operator()(const A& a, const B& b) const noexcept {
    const KeyView x = view(a);
    const KeyView y = view(b);
    return x.issuer == y.issuer && x.value == y.value;
  }
};

struct Times {
  int64_t revoked_at_s = 0;
  int64_t expires_at_s = 0;
};
using Map = std::unordered_map<Key, Times, KeyHash, KeyEqual>;

}  // namespace revocation_detail

using revocation_detail::Key;
using revocation_detail::KeyView;
using revocation_detail::Map;
using revocation_detail::Times;

struct RevocationList::Table {
  Map jti;
  Map subject;

  std::size_t size() const { return jti.size() + subject.size(); }
  Map& map_for(Revocation::Kind kind) { return kind == Revocation::Kind::jti ? jti : subject; }

  // Merges `r`: the later times win for an entry already there. False when `r` is new and the
  // table already holds `max` entries.
  bool merge(const Revocation& r, std::size_t max) {
    Map& map = map_for(r.kind);
    auto it = map.find(KeyView{r.issuer, r.value});
    if (it != map.end()) {
      it->second.revoked_at_s = std::max(it->second.revoked_at_s, r.revoked_at_s);
      it->second.expires_at_s = std::max(it->second.expires_at_s, r.expires_at_s);
      return true;
    }
    if (size() >= max) return false;
    map.emplace(Key{r.issuer, r.value}, Times{r.revoked_at_s, r.expires_at_s});
    return true;
  }
};

namespace {

std::atomic<uint64_t> next_list_id{1};

// The table a reader thread last used, so that steady-state reads touch no shared counter.
struct ReaderRef {
  uint64_t list_id = 0;
  uint64_t version = 0;
  std::shared_ptr<const RevocationList::Table> table;
};
thread_local ReaderRef reader_ref;

std::string_view string_claim(const boost::json::object& claims, std::string_view name) {
  const auto* value = claims.if_contains(name);
  if (!value || !value->is_string()) return {};
  return value->get_string();
}

// The entries for (iss, value) and (any issuer, value) that have not expired.
template <class Match>
bool any_live(const Map& map, std::string_view iss, std::string_view value, int64_t now_s,
              Match match) {
  auto test = [&](std::string_view issuer) {
    auto it = map.find(KeyView{issuer, value});
    return it != map.end() && now_s <= it->second.expires_at_s && match(it->second);
  };
  return test(iss) || (!iss.empty() && test({}));
}

}  // namespace

RevocationList::RevocationList(std::size_t max_entries)
    : id_(next_list_id.fetch_add(1, std::memory_order_relaxed)),
      max_entries_(max_entries),
      table_(std::make_shared<Table>()) {}

RevocationList::~RevocationList() = default;

std::string RevocationList::add(const Revocation& r) {
  return add(r, std::chrono::steady_clock::now());
}

std::string RevocationList::add(const Revocation& r, std::chrono::steady_clock::time_point now) {
  if (r.value.empty()) return "a revocation needs a jti or a sub";
  std::lock_guard lock(mutex_);
  auto table = std::make_shared<Table>(*table_);
  if (!table->merge(r, max_entries_)) {
    return "the revocation list is full (" + std::to_string(max_entries_) + " entries)";
  }
  publish_locked(std::move(table));
  return {};
}

std::size_t RevocationList::merge(std::vector<Revocation> from_store, int64_t now_s) {
  auto table = std::make_shared<Table>();
  std::size_t dropped = 0;
  std::lock_guard lock(mutex_);
  // What this list holds stays until it expires: nothing un-revokes a token, and a store
  // that lost entries (a failover, a restore) must not take them from the instances.
  for (auto* map : {&table_->jti, &table_->subject}) {
    for (const auto& [key, times] : *map) {
      if (times.expires_at_s < now_s) continue;
      table->map_for(map == &table_->jti ? Revocation::Kind::jti : Revocation::Kind::subject)
          .emplace(key, times);
    }
  }
  for (const auto& r : from_store) {
    if (r.value.empty() || r.expires_at_s < now_s) continue;
    dropped += !table->merge(r, max_entries_);
  }
  publish_locked(std::move(table));
  return dropped;
}

void RevocationList::publish_locked(std::shared_ptr<const Table> table) {
  const std::size_t size = table->size();
  table_ = std::move(table);
  version_.fetch_add(1, std::memory_order_release);
  size_.store(size, std::memory_order_release);
}

std::shared_ptr<const RevocationList::Table> RevocationList::current() const {
  std::lock_guard lock(mutex_);
  return table_;
}

bool RevocationList::is_revoked(const boost::json::object& claims, int64_t now_s) const {
  if (empty()) return false;
  ReaderRef& ref = reader_ref;
  const uint64_t version = version_.load(std::memory_order_acquire);
  if (ref.list_id != id_ || ref.version != version) {
    std::lock_guard lock(mutex_);
    ref = {id_, version_.load(std::memory_order_relaxed), table_};
  }
  const Table& table = *ref.table;
  const std::string_view iss = string_claim(claims, "iss");
  const std::string_view jti = string_claim(claims, "jti");
  auto any = [](const Times&) { return true; };
  if (!jti.empty() && any_live(table.jti, iss, jti, now_s, any)) return true;
  const std::string_view sub = string_claim(claims, "sub");
  if (sub.empty() || table.subject.empty()) return false;
  std::optional<int64_t> iat_s;
  if (const auto* iat = claims.if_contains("iat")) {
    if (auto date = numeric_date(*iat)) {
      iat_s = std::chrono::floor<std::chrono::seconds>(*date).time_since_epoch().count();
    }
  }
  return any_live(table.subject, iss, sub, now_s,
                  [&](const Times& t) { return !iat_s || *iat_s <= t.revoked_at_s; });
}

std::vector<Revocation> RevocationList::entries() const {
  auto table = current();
  std::vector<Revocation> out;
  out.reserve(table->size());
  for (auto kind : {Revocation::Kind::jti, Revocation::Kind::subject}) {
    const Map& map = kind == Revocation::Kind::jti ? table->jti : table->subject;
    for (const auto& [key, times] : map) {
      out.push_back({kind, key.issuer, key.value, times.revoked_at_s, times.expires_at_s});
    }
  }
  return out;
}

}  // namespace bulwark::auth
