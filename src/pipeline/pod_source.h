#pragma once
// Where the sampler gets the pod-label index from when it is not kube_pod_labels: the seam between
// the pipeline and the Kubernetes pod watch (kube/watched_pod_labels.h), and a fake for tests.

#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "pipeline/snapshot.h"

namespace aa::pipeline {

class PodLabelSource {
 public:
  virtual ~PodLabelSource() = default;
  // The pods that exist in namespace `ns` with their labels (a table with from_kubernetes set), or
  // null when the source cannot answer yet (not synced): the sampler then falls back to
  // kube_pod_labels, when enabled. Called on the sampling thread once per namespace per round; must
  // be quick and thread-safe. The table is immutable once returned.
  virtual std::shared_ptr<const PodLabelsTable> PodLabels(std::string_view ns) = 0;
  // OK unless the index the source answers from is stale (its watch has failed for too long):
  // then Unavailable saying why, and the view answers questions that select pods by labels with
  // that error instead of selecting from an index that may be wrong. Quick and thread-safe.
  // Default: never stale.
  virtual absl::Status IndexStatus() const { return absl::OkStatus(); }
  // Whether namespace `ns` has pods now (false when the source cannot answer yet). Called from
  // request threads for namespaces nobody demands yet, so it must not cache anything per `ns`.
  virtual bool HasPods(std::string_view ns) {
    (void)ns;
    return false;
  }
  // Nobody demands `ns` any more: drop whatever is cached for it. Called on the sampling thread.
  virtual void Forget(std::string_view ns) { (void)ns; }
};

}  // namespace aa::pipeline
