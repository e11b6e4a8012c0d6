#include "server/jwks_fetcher.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <exception>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "auth/jwk.hpp"
#include "auth/remote_key_set.hpp"
#include "http/cache_control.hpp"
#include "server/http_fetch.hpp"

namespace bulwark::server {
namespace asio = boost::asio;
using boost::system::error_code;
using std::chrono::milliseconds;
using namespace std::chrono_literals;

namespace {

constexpr milliseconds kMinFetchInterval = 1s;    // after any fetch, good or bad
constexpr milliseconds kMinHeaderInterval = 30s;  // the shortest refresh a max-age can ask
constexpr milliseconds kFirstRetry = 1s;
constexpr milliseconds kMaxRetry = 60s;
constexpr milliseconds kRefetchPoll = 100ms;
constexpr std::size_t kMaxDocumentBytes = 1024 * 1024;

std::string format_duration(milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

// When a good document is due again: the configured refresh, shortened to what is left of
// the response's freshness lifetime (RFC 9111 §4.2.1 max-age, §4.2.3 minus Age).
milliseconds delay_after_success(milliseconds refresh, const HttpGetResult& response) {
  auto freshness = http::parse_response_freshness(response.cache_control);
  std::optional<std::chrono::seconds> lifetime;
  if (freshness.no_store || freshness.no_cache) {
    lifetime = 0s;
  } else if (freshness.max_age) {
    lifetime = *freshness.max_age;
    if (auto age = http::parse_delta_seconds(response.age)) {
      lifetime = *lifetime - std::min(*age, *lifetime);
    }
  }
  // The response may shorten the configured refresh, but not below kMinHeaderInterval: a
  // provider answering no-cache (Keycloak does) would otherwise be fetched every second by
  // every instance, while keys rotate in hours.
  milliseconds delay = refresh;
  if (lifetime)
    delay = std::min<milliseconds>(delay, std::max<milliseconds>(*lifetime, kMinHeaderInterval));
  return std::max(delay, kMinFetchInterval);
}

// 1 s, 2 s, 4 s... up to min(refresh, 60 s), never under the floor.
milliseconds next_backoff(milliseconds previous, milliseconds refresh) {
  milliseconds cap = std::max(kMinFetchInterval, std::min(refresh, kMaxRetry));
  milliseconds next = previous.count() == 0 ? kFirstRetry : previous * 2;
  return std::clamp(next, kMinFetchInterval, cap);
}

bool is_redirect(unsigned status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// key_set_from_jwks_json details read "JWKS: ..."; the log line names the URL already.
std::string refusal_reason(std::string_view detail) {
  constexpr std::string_view kPrefix = "JWKS: ";
  if (detail.substr(0, kPrefix.size()) == kPrefix) detail.remove_prefix(kPrefix.size());
  if (detail.substr(0, 9) == "no usable") return std::string(detail);
  return "not a JWK Set: " + std::string(detail);
}

std::string plural(std::size_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

}  // namespace

struct JwksFetcher::Impl {
  struct Entry {
    Entry(asio::any_io_executor executor, std::shared_ptr<auth::RemoteKeySet> s)
        : set(std::move(s)), timer(executor) {}

    std::shared_ptr<auth::RemoteKeySet> set;
    asio::steady_timer timer;      // the wait until the next fetch
    HttpGet* in_flight = nullptr;  // the fetch under way, to cancel it when dropped
    bool fetching = true;          // from spawn until the first wait
    bool dropped = false;
    bool loaded = false;  // a good fetch happened (for the log)
    unsigned failures_in_row = 0;
    milliseconds backoff{0};
    std::string document;  // the last good body, to log changes
  };

  // Declared first, destroyed last: the timers, sockets and coroutine frames below die first.
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  asio::steady_timer poll_timer{io};
  std::map<const auth::RemoteKeySet*, std::shared_ptr<Entry>> entries;
  std::mutex lifecycle;
  bool started = false;
  bool stopped = false;
  std::thread thread;

  void apply_watch(std::vector<std::shared_ptr<auth::RemoteKeySet>> sets);
  void spawn(std::shared_ptr<Entry> entry);
  asio::awaitable<void> keep_fresh(std::shared_ptr<Entry> entry);
  asio::awaitable<milliseconds> fetch_once(Entry& entry);
  milliseconds settle(Entry& entry, HttpGetResult& response);
  milliseconds record_failure(Entry& entry, std::string why);
  asio::awaitable<void> poll_refetch_requests();
};

void JwksFetcher::Impl::apply_watch(std::vector<std::shared_ptr<auth::RemoteKeySet>> sets) {
  std::map<const auth::RemoteKeySet*, std::shared_ptr<Entry>> next;
  for (auto& set : sets) {
    if (!set || next.count(set.get())) continue;
    if (auto kept = entries.find(set.get()); kept != entries.end()) {
      next.emplace(set.get(), std::move(kept->second));
      entries.erase(kept);
      continue;
    }
    auto entry = std::make_shared<Entry>(io.get_executor(), std::move(set));
    next.emplace(entry->set.get(), entry);
    spawn(std::move(entry));
  }
  for (auto& [key, entry] : entries) {
    spdlog::debug("jwks: {} no longer watched", entry->set->options().url);
    entry->dropped = true;
    entry->timer.cancel();
    if (entry->in_flight) entry->in_flight->cancel();
  }
  entries = std::move(next);
}

void JwksFetcher::Impl::spawn(std::shared_ptr<Entry> entry) {
  std::string url = entry->set->options().url;
  asio::co_spawn(io, keep_fresh(std::move(entry)), [url](std::exception_ptr error) {
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      spdlog::error("jwks: {} refresh stopped: {}", url, e.what());
    }
  });
}

asio::awaitable<void> JwksFetcher::Impl::keep_fresh(std::shared_ptr<Entry> entry) {
  while (!entry->dropped) {
    entry->fetching = true;
    // Unknown-kid requests made until now are answered by this fetch.
    entry->set->take_refetch_request();
    milliseconds delay = co_await fetch_once(*entry);
    entry->fetching = false;
    if (entry->dropped) break;
    spdlog::debug("jwks: {} next fetch in {}", entry->set->options().url, format_duration(delay));
    // Cut short by poll_refetch_requests (unknown kid) or apply_watch (dropped).
    entry->timer.expires_after(delay);
    error_code ec;
    co_await entry->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

asio::awaitable<milliseconds> JwksFetcher::Impl::fetch_once(Entry& entry) {
  const auto& options = entry.set->options();
  HttpGetOptions get_options;
  get_options.timeout = options.fetch_timeout;
  get_options.max_body_bytes = kMaxDocumentBytes;
  get_options.ca_file = options.ca_file;
  get_options.accept = "application/json";
  HttpGet get(io.get_executor(), options.url, std::move(get_options));
  entry.in_flight = &get;
  HttpGetResult response;
  try {
    response = co_await get.run();
  } catch (const std::exception& e) {
    response.error = std::string("internal error: ") + e.what();
  }
  entry.in_flight = nullptr;
  if (entry.dropped) co_return kMinFetchInterval;
  co_return settle(entry, response);
}

milliseconds JwksFetcher::Impl::settle(Entry& entry, HttpGetResult& response) {
  const auto& options = entry.set->options();
  if (!response.error.empty()) return record_failure(entry, std::move(response.error));
  if (is_redirect(response.status)) {
    std::string why = "HTTP " + std::to_string(response.status) + ": redirects are not followed";
    if (!response.location.empty()) why += " (Location: " + response.location + ")";
    return record_failure(entry, std::move(why));
  }
  if (response.status != 200) {
    return record_failure(entry, "HTTP " + std::to_string(response.status));
  }
  auto parsed = auth::key_set_from_jwks_json(response.body, options.alg);
  if (!parsed) return record_failure(entry, refusal_reason(parsed.error().detail));
  if (auth::drop_symmetric_keys(parsed.value()) == 0) {
    return record_failure(entry,
                          "no usable signature key (symmetric oct keys are never taken "
                          "from a URL)");
  }

  auto set = std::make_shared<const auth::JwkSet>(std::move(parsed).value());
  std::size_t keys = set->keys.size();
  std::string skipped;
  if (!set->skipped.empty()) {
    skipped = ", skipped " + plural(set->skipped.size(), "unusable entry", "unusable entries") +
              " (first: " + set->skipped.front().why + ")";
  }
  bool changed = entry.document != response.body;
  entry.set->install(std::move(set), response.body);
  milliseconds delay = delay_after_success(options.refresh, response);
  if (!entry.loaded) {
    std::string after;
    if (entry.failures_in_row > 0) {
      after = " after " + plural(entry.failures_in_row, "failed fetch", "failed fetches");
    }
    spdlog::info("jwks: {} loaded {} key(s){}{}", options.url, keys, skipped, after);
  } else if (entry.failures_in_row > 0) {
    spdlog::info("jwks: {} recovered after {}: {} key(s){}", options.url,
                 plural(entry.failures_in_row, "failed fetch", "failed fetches"), keys,
                 changed ? " (changed)" : "");
  } else if (changed) {
    spdlog::info("jwks: {} keys changed: {} key(s){}", options.url, keys, skipped);
  } else {
    spdlog::debug("jwks: {} unchanged: {} key(s)", options.url, keys);
  }
  if (changed) entry.document = std::move(response.body);
  entry.loaded = true;
  entry.failures_in_row = 0;
  entry.backoff = 0ms;
  return delay;
}

milliseconds JwksFetcher::Impl::record_failure(Entry& entry, std::string why) {
  const auto& options = entry.set->options();
  ++entry.failures_in_row;
  entry.backoff = next_backoff(entry.backoff, options.refresh);
  if (entry.failures_in_row == 1) {
    auto current = entry.set->current();
    std::string keeping = current ? "keeping the " + std::to_string(current->keys.size()) +
                                        " key(s) of the last good fetch"
                                  : "no keys yet";
    spdlog::warn("jwks: {} fetch failed: {}; {}; retrying in {} with backoff", options.url, why,
                 keeping, format_duration(entry.backoff));
  } else {
    spdlog::debug("jwks: {} fetch failed again ({} in a row): {}; retrying in {}", options.url,
                  entry.failures_in_row, why, format_duration(entry.backoff));
  }
  entry.set->record_failure(std::move(why));
  return entry.backoff;
}

asio::awaitable<void> JwksFetcher::Impl::poll_refetch_requests() {
  for (;;) {
    poll_timer.expires_after(kRefetchPoll);
    error_code ec;
    co_await poll_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    for (auto& [key, entry] : entries) {
      // A set being fetched keeps its request pending: the next wait is cut short then.
      if (entry->fetching || entry->dropped) continue;
      if (entry->set->take_refetch_request()) {
        spdlog::debug("jwks: {} unknown kid: fetching now", entry->set->options().url);
        entry->timer.cancel();
      }
    }
  }
}

JwksFetcher::JwksFetcher() : impl_(std::make_unique<Impl>()) {}

JwksFetcher::~JwksFetcher() {
  stop();
}

void JwksFetcher::start() {
  std::lock_guard lock(impl_->lifecycle);
  if (impl_->started || impl_->stopped) return;
  impl_->started = true;
  Impl* impl = impl_.get();
  asio::co_spawn(impl->io, impl->poll_refetch_requests(), [](std::exception_ptr error) {
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      spdlog::error("jwks: unknown-kid polling stopped: {}", e.what());
    }
  });
  impl->thread = std::thread([impl] {
    try {
      impl->io.run();
    } catch (const std::exception& e) {
      spdlog::error("jwks: fetcher stopped: {}", e.what());
    }
  });
}

void JwksFetcher::stop() {
  std::lock_guard lock(impl_->lifecycle);
  impl_->stopped = true;
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

void JwksFetcher::watch(std::vector<std::shared_ptr<auth::RemoteKeySet>> sets) {
  Impl* impl = impl_.get();
  asio::post(impl->io,
             [impl, sets = std::move(sets)]() mutable { impl->apply_watch(std::move(sets)); });
}

}  // namespace bulwark::server
