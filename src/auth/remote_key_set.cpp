#include "auth/remote_key_set.hpp"

namespace bulwark::auth {

RemoteKeySet::RemoteKeySet(Options options, KeyGeneration& generation)
    : options_(std::move(options)), generation_(generation) {}

std::shared_ptr<const JwkSet> RemoteKeySet::current() const {
  std::lock_guard lock(mutex_);
  return set_;
}

void RemoteKeySet::install(std::shared_ptr<const JwkSet> set, std::string_view document) {
  bool changed = false;
  {
    std::lock_guard lock(mutex_);
    changed = !set_ || document_ != document;
    set_ = std::move(set);
    if (changed) document_.assign(document);
    status_.has_keys = set_ != nullptr;
    ++status_.fetches_ok;
    status_.last_error.clear();
  }
  if (changed) generation_.bump();
}

void RemoteKeySet::record_failure(std::string why) {
  std::lock_guard lock(mutex_);
  ++status_.fetches_failed;
  status_.last_error = std::move(why);
}

bool RemoteKeySet::request_refetch(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (last_refetch_request_ && now - *last_refetch_request_ < options_.unknown_kid_refetch) {
    return false;
  }
  last_refetch_request_ = now;
  refetch_requested_.store(true, std::memory_order_release);
  return true;
}

bool RemoteKeySet::take_refetch_request() {
  return refetch_requested_.exchange(false, std::memory_order_acq_rel);
}

RemoteKeySet::Status RemoteKeySet::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

}  // namespace bulwark::auth
