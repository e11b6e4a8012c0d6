#pragma once
// Revoked tokens, by jti or by subject, as checked on every authenticated request. The
// verified-token cache serves claims without looking at revocations, so the gateway asks
// is_revoked() on the claims after the cache, whether they came from it or not.
//
// Matching. A revocation names the token's "iss" (empty: any issuer) and either
//   - a jti: the token whose "jti" equals it is revoked, or
//   - a sub: every token of that subject issued at or before revoked_at_s ("iat" compared
//     in whole seconds, rounded down: a token from the revoking second is revoked too). A
//     token without a numeric "iat" cannot show it is newer, so it counts as revoked.
// A revocation stops matching once now > expires_at_s: by then every token it covers has
// expired anyway (the caller sets expires_at_s from the longest lifetime it accepts).
//
// Concurrency. Readers (every worker, every request) take no lock in the steady state: the
// content is an immutable table; each reader thread keeps a reference to the table it last
// used with its version number and only goes to the shared pointer (under a mutex) when the
// version has moved, i.e. once per thread after each change. empty() is one atomic load, the
// whole cost when nothing is revoked. Writers (admin adds, the Redis poll) copy the table:
// O(entries) per change, fine for what revocations are (rare, and forgotten after the
// longest token lifetime).
//
// Bound: at most max_entries (1,000,000 by default) entries; an add beyond it is refused.
// Pure code: no I/O, no logging; the clock is the caller's.

#include <boost/json/object.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace bulwark::auth {

struct Revocation {
  enum class Kind { jti, subject } kind = Kind::jti;
  std::string issuer;        // the token's "iss" value; empty = tokens of any issuer
  std::string value;         // the jti, or the sub
  int64_t revoked_at_s = 0;  // unix seconds; for a subject: tokens with iat <= this are revoked
  int64_t expires_at_s = 0;  // after this no token it covers can still be valid: forget it

  friend bool operator==(const Revocation&, const Revocation&) = default;
};

class RevocationList {
 public:
  static constexpr std::size_t kDefaultMaxEntries = 1'000'000;

  explicit RevocationList(std::size_t max_entries = kDefaultMaxEntries);
  ~RevocationList();
  RevocationList(const RevocationList&) = delete;
  RevocationList& operator=(const RevocationList&) = delete;

  // Adds `r`, or merges it into the entry for the same kind, issuer and value (the later
  // revoked_at and expires_at win). Empty on success, else why it was refused (the bound).
  std::string add(const Revocation& r);
  std::string add(const Revocation& r, std::chrono::steady_clock::time_point now);

  // Merges the shared store's content (as add() does each entry) and forgets the entries
  // that expired before `now_s` (unix seconds). Nothing else leaves the list: no operation
  // un-revokes a token, so a store that lost entries (a failover to a lagging replica, a
  // restore, a poll that read it just before a publish landed) never takes them from an
  // instance. Returns how many entries did not fit the bound (dropped).
  std::size_t merge(std::vector<Revocation> from_store, int64_t now_s);

  // `claims`: a verified token's claims set. See "Matching" above.
  bool is_revoked(const boost::json::object& claims, int64_t now_s) const;

  std::size_t size() const { return size_.load(std::memory_order_acquire); }
  bool empty() const { return size() == 0; }
  std::size_t max_entries() const { return max_entries_; }
  // Every entry, in no particular order: for tests and the admin status page.
  std::vector<Revocation> entries() const;

  struct Table;

 private:
  std::shared_ptr<const Table> current() const;
  void publish_locked(std::shared_ptr<const Table> table);

  const uint64_t id_;  // tells this list's thread-local references from another list's
  const std::size_t max_entries_;
  std::atomic<std::size_t> size_{0};
  std::atomic<uint64_t> version_{0};
  mutable std::mutex mutex_;  // writers; and readers fetching a newer table
  std::shared_ptr<const Table> table_;
};

}  // namespace bulwark::auth
