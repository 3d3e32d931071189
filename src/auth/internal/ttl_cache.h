#pragma once
// A bounded cache of values by string key, each kept until a time-to-live chosen when it is put;
// the store behind CachingTokenReviewer and CachingAuthorizer.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace aa::auth::internal {

// Holds at most `max_entries` values (at least 1). A value is served while the clock is before
// its expiry (put time + ttl). When a Put finds the cache full, it drops the expired entries and,
// if that frees nothing, the one put longest ago. Counts hits and misses (a lookup of an expired
// entry is a miss and drops it). Thread-safe; `clock` must outlive the cache. V must be copyable.
template <typename V>
class TtlCache {
 public:
  TtlCache(Clock& clock, size_t max_entries)
      : clock_(clock), max_entries_(std::max<size_t>(1, max_entries)) {}

  // The value for `key` while it has not expired, counting a hit; else nullopt, counting a miss.
  std::optional<V> Get(const std::string& key) {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      if (clock_.Now() < it->second.expires) {
        ++hits_;
        return it->second.value;
      }
      entries_.erase(it);
    }
    ++misses_;
    return std::nullopt;
  }

  // Keeps `value` for `key` until Now() + ttl, replacing any value the key had.
  void Put(const std::string& key, V value, absl::Duration ttl) {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_.Now();
    if (entries_.size() >= max_entries_) {
      // Drop the expired entries; if that frees nothing, the oldest one.
      for (auto it = entries_.begin(); it != entries_.end();) {
        if (it->second.expires <= now) {
          entries_.erase(it++);
        } else {
          ++it;
        }
      }
      if (entries_.size() >= max_entries_) {
        auto oldest = std::min_element(
            entries_.begin(), entries_.end(),
            [](const auto& a, const auto& b) { return a.second.seq < b.second.seq; });
        entries_.erase(oldest);
      }
    }
    entries_[key] = Entry{std::move(value), now + ttl, ++seq_};
  }

  uint64_t hits() const {
    absl::MutexLock lock(&mu_);
    return hits_;
  }
  uint64_t misses() const {
    absl::MutexLock lock(&mu_);
    return misses_;
  }
  // Entries held, expired ones not yet dropped included.
  size_t size() const {
    absl::MutexLock lock(&mu_);
    return entries_.size();
  }

 private:
  struct Entry {
    V value;
    absl::Time expires;
    uint64_t seq;  // order of Put, for dropping the oldest
  };
  Clock& clock_;
  const size_t max_entries_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  uint64_t seq_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t hits_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t misses_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace aa::auth::internal
