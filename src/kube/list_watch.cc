#include "kube/list_watch.h"

#include <algorithm>

#include "absl/random/random.h"
#include "kube/client.h"

namespace aa::kube {

void RunListWatch(const ListWatchSteps& steps) {
  using Failure = ListWatchSteps::Failure;
  std::string rv;
  bool need_list = true;
  int failures = 0;
  int empty_ends = 0;
  while (!steps.done()) {
    if (need_list) {
      absl::StatusOr<std::string> listed = steps.list();
      if (!listed.ok()) {
        if (steps.done()) return;
        steps.failed(Failure::kList, listed.status());
        if (!steps.backoff(++failures)) return;
        continue;
      }
      rv = *std::move(listed);
      need_list = false;
      failures = 0;
      continue;
    }
    bool got_events = false;
    const absl::Status s = steps.watch(rv, &got_events);
    if (steps.done()) return;
    rv = steps.resume_version();
    if (IsGone(s)) {
      steps.failed(Failure::kGone, s);
      need_list = true;
      continue;
    }
    if (s.ok() || s.code() == absl::StatusCode::kDeadlineExceeded) {
      // The server ended the stream (timeoutSeconds) or it went silent: resume from rv. A server
      // that keeps closing empty streams at once gets the backoff treatment.
      failures = 0;
      empty_ends = got_events ? 0 : empty_ends + 1;
      if (empty_ends >= 3 && !steps.backoff(1)) return;
      continue;
    }
    steps.failed(Failure::kWatch, s);
    if (!steps.backoff(++failures)) return;
  }
}

absl::Duration BackoffDelay(int failures, absl::Duration initial, absl::Duration max,
                            double jitter) {
  absl::Duration d = initial;
  for (int i = 1; i < failures && d < max; ++i) d *= 2;
  d = std::min(d, max);
  if (jitter > 0) {
    static thread_local absl::BitGen gen;
    d *= 1.0 - absl::Uniform(gen, 0.0, std::min(jitter, 1.0));
  }
  return d;
}

bool AwaitClock(absl::Mutex& mu, Clock& clock, absl::Time until, const bool& stopping, bool& wake) {
  auto woken = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return stopping || wake; };
  while (!stopping) {
    const absl::Time now = clock.Now();
    if (now >= until) break;
    wake = false;
    mu.AwaitWithTimeout(absl::Condition(&woken),
                        std::min(until - now, absl::Seconds(1)) + absl::Milliseconds(1));
  }
  return !stopping;
}

}  // namespace aa::kube
