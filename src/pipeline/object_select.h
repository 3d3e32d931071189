#pragma once
// Selecting Kubernetes objects other than pods (services, deployments.apps, nodes, namespaces...)
// by their labels, for the custom metrics API's `{resource}/*/{metric}?labelSelector=`: which
// objects the selector picks decides which rows of the metric are served, as prometheus-adapter
// does. Two sources, chosen like the pod index (--pod_source): the Kubernetes API (a metadata-only
// watch cache per resource asked for, kube/object_watch.h, which falls back to a LIST with the
// selector passed through, kube/object_list.h) or kube-state-metrics' kube_<object>_labels series
// in Prometheus (KubeStateObjectSource below).

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "pipeline/discovery.h"
#include "prometheus/client.h"
#include "selector/selector.h"

namespace aa::pipeline {

class ObjectSource {
 public:
  virtual ~ObjectSource() = default;
  // The names (sorted, unique) of the objects of `resource` in namespace `ns` ("" for a
  // cluster-scoped resource) whose Kubernetes labels match `selector`. An empty result is an
  // answer ("no such objects"), not an error. Thread-safe; blocks for at most the source's time
  // bound.
  // Errors: Unavailable when the backend failed or did not answer in time (the message names the
  // backend and its error); NotFound when the backend does not serve `resource`.
  virtual absl::StatusOr<std::vector<std::string>> Select(const KubeResource& resource,
                                                          std::string_view ns,
                                                          const selector::Selector& selector) = 0;
  // Where the labels come from, for messages: "the Kubernetes API", "kube_deployment_labels".
  virtual std::string Describe(const KubeResource& resource) const = 0;
};

// kube-state-metrics' series for `resource`: "kube_deployment_labels", and the label holding the
// object's name ("deployment"; "job_name" for jobs, as kube-state-metrics names it).
std::string KubeStateLabelsSeries(const KubeResource& resource);
std::string KubeStateNameLabel(const KubeResource& resource);

// Object labels from kube_<singular>_labels in Prometheus, exactly as kube_pod_labels serves pods:
// keys are the sanitized label names (KubeStateLabels) and selectors are matched with
// LabelsMatcher(from_kubernetes=false). One instant query per (resource, namespace), for every
// object of the namespace at once (`kube_deployment_labels{namespace="ns"}`; cluster-scoped
// resources: one query for all), never a regex over names; the answer is cached for `cache_ttl`
// (the sampling interval in the adapter), so HPAs polling the same namespace share one query.
// Thread-safe; concurrent misses of one key may each query. `client` and `clock` must outlive this.
class KubeStateObjectSource final : public ObjectSource {
 public:
  KubeStateObjectSource(prom::Client& client, Clock& clock, absl::Duration cache_ttl);

  absl::StatusOr<std::vector<std::string>> Select(const KubeResource& resource, std::string_view ns,
                                                  const selector::Selector& selector) override;
  std::string Describe(const KubeResource& resource) const override;

  // Bound on cached (resource, namespace) tables; expired ones are dropped first.
  static constexpr size_t kMaxCached = 1024;

 private:
  using Objects = absl::flat_hash_map<std::string, prom::Labels>;  // name -> sanitized labels
  struct Cached {
    absl::Time fetched;
    std::shared_ptr<const Objects> objects;
  };
  absl::StatusOr<std::shared_ptr<const Objects>> Fetch(const KubeResource& resource,
                                                       std::string_view ns);

  prom::Client& client_;
  Clock& clock_;
  const absl::Duration cache_ttl_;
  absl::Mutex mu_;
  std::map<std::string, Cached, std::less<>> cache_
      ABSL_GUARDED_BY(mu_);  // "<group resource>\0<ns>"
};

}  // namespace aa::pipeline
