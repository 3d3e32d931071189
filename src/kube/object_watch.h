#pragma once
// Objects other than pods selected by their labels from a watch cache (pipeline::ObjectSource):
// one metadata-only informer per resource somebody actually asked for, instead of one Kubernetes
// LIST per request (ApiObjectLister).
//
// - Lazy: nothing is listed or watched before the first Select() of a resource; a resource nobody
//   asks for is never listed. At most `max_resources` resources get an informer (the built-in
//   table has about 15); a request for another one is answered by a LIST, as ApiObjectLister does.
// - Each informer lists the whole resource (every namespace; paged, `limit`) asking for
//   PartialObjectMetadataList, then watches from the list's resourceVersion (asking for
//   PartialObjectMetadata, allowWatchBookmarks, a server-side timeoutSeconds) and resumes from the
//   last resourceVersion when a watch ends. 410 Gone (HTTP 410 or an ERROR event with code 410)
//   lists again. Other failures are retried after a backoff (doubled per consecutive failure,
//   jitter), on the injected Clock.
// - Only names and labels are kept. Memory is bounded: an informer whose resource has more than
//   `max_objects` objects drops its cache and stops; that resource is then answered by a LIST per
//   request (as before), with a warning in the log.
// - Readiness: a Select() of a resource whose first list has not completed waits for it up to
//   `first_list_wait` (real time; concurrent requests share the one list); if it has not completed
//   by then (or failed), the request is answered by a LIST, as before. So is every request while
//   the cache is stale: no successful list and no open watch for longer than `max_staleness` (on
//   the injected Clock; e.g. the watch is refused by RBAC).
// - Answers are those of a LIST with the labelSelector: the names (sorted, unique) of the objects
//   in the namespace whose labels match, as of the last event seen.
// Thread-safe. The destructor (or Stop()) ends every informer. `client` and `clock` must outlive
// this.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "kube/client.h"
#include "kube/object_list.h"
#include "pipeline/object_select.h"

namespace prometheus {
class Registry;
}

namespace aa::kube {

struct ObjectWatchOptions {
  // Resources with an informer; requests for more resources are answered by a LIST each.
  size_t max_resources = 16;
  // Objects one informer keeps (all namespaces); a resource with more is answered by LISTs.
  size_t max_objects = 100000;
  // How long (real time) a request waits for its resource's first list before it falls back to a
  // LIST of its own.
  absl::Duration first_list_wait = absl::Seconds(5);
  // No successful list and no open watch for longer than this (injected clock): stale, requests
  // are answered by LISTs until the informer recovers.
  absl::Duration max_staleness = absl::Minutes(2);
  int list_page_size = 500;
  // timeoutSeconds asked of the server for each watch; the client gives up on a silent stream after
  // this plus 1 min.
  absl::Duration watch_timeout = absl::Minutes(5);
  // Backoff after a failed list or watch: initial, doubled per consecutive failure, capped; each
  // multiplied by a random factor in [1 - jitter, 1].
  absl::Duration initial_backoff = absl::Seconds(1);
  absl::Duration max_backoff = absl::Seconds(30);
  double jitter = 0.2;
  // The fallback LIST's options.
  ObjectListOptions list{};
  // Self-metrics (null: none): autoscale_adapter_object_watch_objects{resource} (objects held),
  // autoscale_adapter_object_watch_lists_total{resource,outcome} (full lists: the first, after
  // 410 Gone, after a failure), autoscale_adapter_object_watch_relists_total{resource} (410 Gone),
  // autoscale_adapter_object_watch_fallbacks_total{resource,reason} (requests answered by a LIST:
  // too_many_resources, not_synced, stale, too_many_objects, stopped).
  prometheus::Registry* registry = nullptr;
};

class ObjectWatchCache final : public pipeline::ObjectSource {
 public:
  ObjectWatchCache(Client& client, Clock& clock, ObjectWatchOptions options = {});
  ~ObjectWatchCache() override;
  ObjectWatchCache(const ObjectWatchCache&) = delete;
  ObjectWatchCache& operator=(const ObjectWatchCache&) = delete;

  // Errors as ApiObjectLister's (they come from the fallback LIST; the cache itself answers only
  // when it holds the resource).
  absl::StatusOr<std::vector<std::string>> Select(const pipeline::KubeResource& resource,
                                                  std::string_view ns,
                                                  const selector::Selector& selector) override;
  std::string Describe(const pipeline::KubeResource&) const override {
    return "the Kubernetes API";
  }

  // Ends every informer; Select() then answers by LISTs. Idempotent.
  void Stop();

  struct Stats {
    int lists = 0;           // successful lists
    int list_failures = 0;   // failed lists
    int watches = 0;         // watch requests started
    int watch_failures = 0;  // watches that ended with an error other than 410
    int gone = 0;            // 410 Gone answers or ERROR events (each followed by a list)
    int events = 0;          // ADDED/MODIFIED/DELETED events applied
    size_t objects = 0;      // objects held
    bool synced = false;     // the first list completed
    bool gave_up = false;    // more than max_objects: the informer stopped
    std::string resource_version;
    absl::Status last_error;
  };
  // The informer of `group_resource` ("deployments.apps"); NotFound when it has none.
  absl::StatusOr<Stats> stats(std::string_view group_resource) const;
  // Resources with an informer.
  size_t informers() const;
  // Test hooks: Wake() re-checks the clock during the informers' backoffs; WaitFor() waits (real
  // time, bounded) until `group_resource` has an informer whose stats satisfy `pred`.
  void Wake();
  bool WaitFor(std::string_view group_resource, const std::function<bool(const Stats&)>& pred,
               absl::Duration timeout = absl::Seconds(10)) const;

 private:
  class Informer;
  struct Metrics;
  // The informer of `resource`, started on first use; null beyond max_resources or once stopped.
  Informer* InformerFor(const pipeline::KubeResource& resource);

  Client& client_;
  Clock& clock_;
  const ObjectWatchOptions options_;
  ApiObjectLister lister_;  // the fallback
  std::unique_ptr<Metrics> metrics_;
  mutable absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, std::unique_ptr<Informer>, std::less<>> informers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace aa::kube
