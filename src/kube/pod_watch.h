#pragma once
// The pod watch: an in-memory index of the cluster's pods, kept current with list + watch, as
// client-go's reflector does.
//
// - Lists (paged, `limit`), then watches from the list's resourceVersion with
//   allowWatchBookmarks=true and a server-side timeoutSeconds; BOOKMARK events only move the
//   resourceVersion. When the watch ends normally it is resumed from the last resourceVersion.
// - 410 Gone (an HTTP 410 answer, or an ERROR event with code 410) means the version is no longer
//   in the server's history: the watch lists again at once (the index keeps serving the old state
//   until the new list replaces it whole).
// - Other errors (connection refused, 5xx, 401/403, a broken stream) are retried after a backoff
//   (initial_backoff doubled per consecutive failure up to max_backoff, with jitter), measured on
//   the injected Clock: tests advance a SimulatedClock and call Wake(), they never sleep.
// - Staleness: after the first list the index keeps serving its last state while lists and
//   watches fail, but once no list succeeded and no watch was open for longer than
//   `max_staleness` (on the injected Clock) SyncStatus() reports it stale (readiness fails and the
//   answers that select pods by labels become 503), until a list succeeds or a watch is accepted.
// - Only what the adapter needs is kept (PodInfo: name, namespace, labels, phase, readiness, start
//   time, CPU requests).
// Thread-safe: reads take a short lock and return immutable per-namespace tables (shared_ptr),
// rebuilt lazily after a change.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "kube/client.h"
#include "kube/pod.h"

namespace aa::kube {

// The pods of one namespace at one moment, by name. Immutable once returned.
struct NamespacePods {
  std::map<std::string, PodInfo, std::less<>> pods;
};

struct PodWatchOptions {
  // Namespace to watch; "" for all namespaces (needs cluster-wide list/watch on pods).
  std::string ns{};
  // Page size of the list. Default 500.
  int list_page_size = 500;
  // timeoutSeconds asked of the server for each watch; the stream then ends and is resumed.
  // Default 5 min. The client gives up on a silent stream after this plus 1 min.
  absl::Duration watch_timeout = absl::Minutes(5);
  // Backoff after a failed list or watch: initial, doubled per consecutive failure, capped.
  // Defaults 1 s and 30 s.
  absl::Duration initial_backoff = absl::Seconds(1);
  absl::Duration max_backoff = absl::Seconds(30);
  // Each backoff is multiplied by a random factor in [1 - jitter, 1]. Default 0.2; tests use 0.
  double jitter = 0.2;
  // How long the index may go without a successful list or an open watch before it is stale
  // (SyncStatus() not OK). Measured from the end of the last good list or watch. A watch that
  // goes silent without failing counts as open until its idle timeout (watch_timeout + 1 min).
  // Default 2 min (--pod-watch-max-staleness).
  absl::Duration max_staleness = absl::Minutes(2);
};

class PodWatch {
 public:
  // `client` and `clock` must outlive the watch. Nothing happens before Start().
  PodWatch(Client& client, Clock& clock, PodWatchOptions options = {});
  ~PodWatch();
  PodWatch(const PodWatch&) = delete;
  PodWatch& operator=(const PodWatch&) = delete;

  // Starts the background thread (list, then watch). Call once.
  void Start();
  // Ends the running request and joins the thread. Idempotent.
  void Stop();

  // True once the first list succeeded (and from then on, also while relisting).
  bool Synced() const;
  // OK once Synced() while the index is fresh; else Unavailable saying it waits for the first list,
  // or that the index is stale (no successful list or open watch for longer than max_staleness,
  // since when, and the last error): the adapter's readiness check "pod-watch".
  absl::Status SyncStatus() const;
  // OK unless the index is stale (as SyncStatus(), but OK before the first list: callers that
  // fall back to another source until then).
  absl::Status StaleStatus() const;
  // The pods of `ns`: null until synced (callers then fall back to another source); an empty table
  // when the namespace has none (or is outside the watched namespace).
  std::shared_ptr<const NamespacePods> Pods(std::string_view ns) const;
  // One pod, or nullopt.
  std::optional<PodInfo> Find(std::string_view ns, std::string_view name) const;
  // Number of pods known.
  size_t size() const;

  struct Stats {
    int lists = 0;           // successful lists
    int list_failures = 0;   // failed lists (each followed by a backoff)
    int watches = 0;         // watch requests started
    int watch_failures = 0;  // watches that ended with an error other than 410 (then a backoff)
    int gone = 0;            // 410 Gone answers or ERROR events (each followed by a relist)
    int events = 0;          // ADDED/MODIFIED/DELETED events applied
    int bookmarks = 0;       // BOOKMARK events
    std::string resource_version;                     // the version the next watch starts from
    absl::Time backoff_until = absl::InfinitePast();  // during a backoff, when it ends
    absl::Status last_error;                          // the last failure (OK before any)
  };
  Stats stats() const;

  // Test hooks. Wake() re-checks the clock during a backoff (after SimulatedClock::Advance).
  // WaitFor() waits (real time, bounded) until `pred(stats())` holds; returns whether it did. The
  // predicate is re-checked after every change of the stats.
  void Wake();
  bool WaitFor(const std::function<bool(const Stats&)>& pred,
               absl::Duration timeout = absl::Seconds(10)) const;

 private:
  void Run();
  // Lists every page and replaces the index. Returns the list's resourceVersion.
  absl::StatusOr<std::string> List();
  // One watch request from `rv`; updates the index. OK when the stream ended normally.
  absl::Status WatchOnce(const std::string& rv, bool* got_events);
  // Waits out the backoff for `failures` consecutive failures; false when stopping.
  bool Backoff(int failures);
  void Apply(const WatchEvent& event);

  Client& client_;
  Clock& clock_;
  const PodWatchOptions options_;
  WatchCancel cancel_;
  std::thread thread_;

  // Waiters (WaitFor, Backoff) wait on mu_ with a condition, re-checked whenever mu_ is released.
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  bool synced_ ABSL_GUARDED_BY(mu_) = false;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  // A watch is open (its request was accepted and has not ended).
  bool watching_ ABSL_GUARDED_BY(mu_) = false;
  // When the index was last known current: the end of the last successful list or open watch.
  absl::Time last_good_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // Unavailable when stale, at `now` (see StaleStatus).
  absl::Status StaleLocked(absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // ns -> name -> pod. A namespace's table is copied before a change when a reader holds it
  // (use_count() > 1; readers only take references under mu_).
  std::map<std::string, std::shared_ptr<NamespacePods>, std::less<>> pods_ ABSL_GUARDED_BY(mu_);
};

}  // namespace aa::kube
