#pragma once
// The list + watch loop of client-go's reflector, shared by the pod watch and the object watch
// cache: list, then watch from the list's resourceVersion; resume from the last resourceVersion
// when a watch ends normally (or goes silent); list again at once on 410 Gone; back off after any
// other failure (and after three empty streams in a row). The caller owns the cache, the
// requests and the locking; the steps run on the caller's thread.

#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace aa::kube {

struct ListWatchSteps {
  enum class Failure { kList, kWatch, kGone };
  // Lists everything and replaces the cache; returns the list's resourceVersion.
  std::function<absl::StatusOr<std::string>()> list;
  // One watch from `rv`; sets *got_events when an event arrived. OK (or DeadlineExceeded: silent)
  // when the stream ended without an error; IsGone() for 410.
  std::function<absl::Status(const std::string& rv, bool* got_events)> watch;
  // The resourceVersion to resume from after a watch (the last event's).
  std::function<std::string()> resume_version;
  // True once the loop must end; checked before each step and after each failed one.
  std::function<bool()> done;
  // Each failure (counting and logging it), before the backoff (kGone: before the list).
  std::function<void(Failure, const absl::Status&)> failed;
  // Waits out the backoff after `failures` consecutive failures; false when the loop must end.
  std::function<bool(int failures)> backoff;
};

// Runs the loop until steps.done() or a backoff returns false.
void RunListWatch(const ListWatchSteps& steps);

// The backoff before retry number `failures` (>= 1): `initial` doubled per further failure,
// capped at `max`, times a random factor in [1 - jitter, 1].
absl::Duration BackoffDelay(int failures, absl::Duration initial, absl::Duration max,
                            double jitter);

// Waits (with `mu` held) until `clock` reaches `until` or `stopping` is set, looking at the clock
// again when `wake` is set (tests advance a SimulatedClock, then set it) and at least once a real
// second. Clears `wake`. Returns !stopping.
bool AwaitClock(absl::Mutex& mu, Clock& clock, absl::Time until, const bool& stopping, bool& wake)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

}  // namespace aa::kube
