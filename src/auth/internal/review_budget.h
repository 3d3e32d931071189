#pragma once
// How many reviews (TokenReview, SubjectAccessReview) the adapter asks of the Kubernetes API,
// whatever its clients send: a token bucket per key (a rate and a burst) and a cap on reviews in
// flight. Requests over the budget are refused at once (the caller answers 429), never queued, so
// a flood of invented tokens or namespaces costs neither threads nor Kubernetes API calls.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace aa::auth::internal {

struct ReviewBudgetOptions {
  double per_second = 20;  // each key's refill rate; <= 0: no rate limit
  double burst = 40;       // each key's bucket size (at least 1)
  int max_in_flight = 8;   // reviews running at once over all keys; <= 0: no cap
  size_t max_keys = 4096;  // buckets kept; at the cap the one used longest ago is dropped
};

// Thread-safe; `clock` must outlive it.
class ReviewBudget {
 public:
  ReviewBudget(Clock& clock, ReviewBudgetOptions options) : clock_(clock), options_(options) {}

  // Takes one review from `key`'s bucket and one in-flight slot. False (nothing taken) when the
  // bucket is empty or the cap is reached. A true must be followed by Release() when the review
  // ends.
  bool TryAcquire(const std::string& key = "") {
    absl::MutexLock lock(&mu_);
    if (options_.max_in_flight > 0 && in_flight_ >= options_.max_in_flight) return false;
    const absl::Time now = clock_.Now();
    if (options_.per_second > 0) {
      auto it = buckets_.find(key);
      if (it == buckets_.end()) {
        if (buckets_.size() >= options_.max_keys) DropOldest();
        it = buckets_.emplace(key, Bucket{options_.burst, now}).first;
      }
      Bucket& b = it->second;
      b.tokens = std::min(options_.burst,
                          b.tokens + absl::ToDoubleSeconds(now - b.at) * options_.per_second);
      b.at = now;
      if (b.tokens < 1) return false;
      b.tokens -= 1;
    }
    ++in_flight_;
    return true;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    --in_flight_;
  }

 private:
  struct Bucket {
    double tokens;
    absl::Time at;  // last refill
  };
  void DropOldest() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto oldest = buckets_.begin();
    for (auto it = buckets_.begin(); it != buckets_.end(); ++it) {
      if (it->second.at < oldest->second.at) oldest = it;
    }
    if (oldest != buckets_.end()) buckets_.erase(oldest);
  }

  Clock& clock_;
  const ReviewBudgetOptions options_;
  absl::Mutex mu_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace aa::auth::internal
