#pragma once
// The pod watch as the pipeline's pod-label index (pipeline::PodLabelSource): labels with their
// real Kubernetes keys, and exactly the pods that exist.

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "kube/pod_watch.h"
#include "pipeline/pod_source.h"

namespace aa::kube {

// Thread-safe. Converts a namespace's table only when the watch changed it (the converted table is
// cached per namespace, keyed by the watch's immutable table). `watch` and `clock` must outlive
// this.
class WatchedPodLabels final : public pipeline::PodLabelSource {
 public:
  WatchedPodLabels(const PodWatch& watch, Clock& clock) : watch_(watch), clock_(clock) {}

  // Null until the watch has synced. Terminating pods (deletionTimestamp set) and pods that ended
  // (Succeeded, Failed) are left out: the HPA ignores them, so selectors should not count them.
  std::shared_ptr<const pipeline::PodLabelsTable> PodLabels(std::string_view ns) override;
  // The watch's staleness (PodWatch::StaleStatus).
  absl::Status IndexStatus() const override { return watch_.StaleStatus(); }
  // Whether the synced watch has pods in `ns` (any phase). Caches nothing.
  bool HasPods(std::string_view ns) override;
  // Drops the converted table of `ns`.
  void Forget(std::string_view ns) override;
  // Namespaces with a converted table cached (for tests).
  size_t cached_namespaces();

 private:
  struct Cached {
    std::shared_ptr<const NamespacePods> source;
    std::shared_ptr<const pipeline::PodLabelsTable> table;
  };
  const PodWatch& watch_;
  Clock& clock_;
  absl::Mutex mu_;
  std::map<std::string, Cached, std::less<>> cache_ ABSL_GUARDED_BY(mu_);
};

}  // namespace aa::kube
