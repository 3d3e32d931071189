#pragma once
// The Kubernetes metrics APIs (custom.metrics.k8s.io v1beta1/v1beta2, external.metrics.k8s.io
// v1beta1, metrics.k8s.io v1beta1) and their discovery documents, served from the sampler's
// snapshots. Meant to sit behind an HTTPS HttpServer registered as an APIService.
//
// Served (GET only; everything else 405):
//   /apis                                   APIGroupList of the three groups
//   /apis/{group}, /apis/{group}/{version}  APIGroup, APIResourceList of the metrics that exist
//   /apis/custom.metrics.k8s.io/{v1beta1|v1beta2}/
//     namespaces/{ns}/pods/*/{metric}?labelSelector=   every pod with a value that the selector
//                                                      picks (by its Kubernetes labels)
//     namespaces/{ns}/pods/{name}/{metric}             exactly one pod
//     namespaces/{ns}/metrics/{metric}                 the Namespace object: sum over its pods
//     namespaces/{ns}/{metric}                         the same (cluster-scoped route)
//     namespaces/{ns}/{resource}/{name|*}/{metric}     other namespaced objects (services,
//                                                      deployments.apps...) from rule metrics
//     {resource}/{name|*}/{metric}                     cluster-scoped objects (nodes,
//                                                      namespaces) from rule metrics
//   /apis/external.metrics.k8s.io/v1beta1/namespaces/{ns}/{metric}?labelSelector=
//       externalRules metrics: one item per series, metricLabels its labels; the selector
//       filters the series (PromQL matchers in the query). `metrics:` definitions: one item, the
//       total over the pods the selector picks (metricLabels: its equality requirements)
//   custom metrics take metricLabelSelector: PromQL matchers over the series' own labels, put
//   first in <<.LabelMatchers>>, one cached sampler variant per distinct selector; items echo it
//   as a LabelSelector (matchLabels / matchExpressions).
//   /apis/metrics.k8s.io/v1beta1/{pods | namespaces/{ns}/pods | namespaces/{ns}/pods/{name}}
//       PodMetrics from the per-container definitions "containers" cpu (cores) and memory (bytes)
//       (resourceRules containerQuery, or the cAdvisor default next to the cpu preset), with the
//       real container names; without them, one container per pod ("kserve-container") from the
//       pods metrics "cpu" and "memory" (0 when absent). `/pods` lists the namespaces the snapshot
//       already holds cpu for. Negative values print as 0.
//   /apis/metrics.k8s.io/v1beta1/nodes[/{name}]  NodeMetrics from resourceRules nodeQuery, or
//       the cAdvisor root-cgroup default next to the cpu preset ("nodemetrics" definitions); an
//       empty list (and 404 by name) without them. A node with cpu but no memory value (when
//       memory is defined) is left out (404 by name). labelSelector picks nodes by their
//       Kubernetes labels from the ObjectSource (none matching: an empty list, as metrics-server);
//       400 without a source, 503 when it failed.
//   /healthz, /livez (200), /readyz[/<check>] (http/readiness.h: 200 once every check passes,
//   else 503 listing them); no authorization.
//   /api, /openapi/v2, /openapi/v3 and anything else: 404.
// Errors are metav1.Status JSON: 400 malformed path, namespace or selector (or a selector key
// that is not a Prometheus label name, or > / < in a series selector), 404 unknown
// group/version/metric/object or a selection with no value (never an empty list), 405 non-GET, 503
// data past the sampler's max age. Values are Kubernetes quantities (rounded to milli), timestamps
// the table's sampled_at. Objects other than pods exist for metrics discovered from
// prometheus-adapter rules whose resources map a label to them. labelSelector on their wildcard
// (`{resource}/*/{metric}`, including `namespaces/*/{metric}`) picks the objects by their
// Kubernetes labels from the ObjectSource (the Kubernetes API, or kube_<object>_labels), then
// serves the metric's rows of those objects: 404 when no object matches or none that matches has a
// value (the message says which), 503 when the source failed, 400 without a source.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "apiserver/wire.h"
#include "common/clock.h"
#include "http/readiness.h"
#include "net/server.h"
#include "pipeline/view.h"

namespace aa::apiserver {

// A metav1.Status error response (StatusJson): for HttpServerOptions::error_response, so what the
// HTTPS server refuses by itself (414 URI too long, 431 header too large, 400 malformed request)
// is answered in the same shape as every other error. Thread-safe.
net::HttpResponse StatusResponse(int status, const std::string& message);

// A selector over a metric's own series labels (metricLabelSelector, or an external metric's
// labelSelector): PromQL matchers for the pipeline, and the LabelSelector items echo.
struct SeriesSelector {
  std::string matchers;  // comma-joined PromQL matchers; "" selects every series
  std::map<std::string, std::string> match_labels;
  std::vector<SelectorExpression> expressions;
};

class MetricsApi {
 public:
  // What `view` reads (the pipeline, and its object source: without one, no labelSelector for
  // objects other than pods), `clock` and `readiness` must outlive this object. /readyz answers
  // from `readiness` (null: the pipeline's check alone).
  // The discovery documents are built on first use and rebuilt when the pipeline's metric set
  // changes (rule discovery), so they always list the metrics that exist.
  MetricsApi(pipeline::View view, Clock& clock, const http::Readiness* readiness = nullptr);

  // Thread-safe.
  net::HttpResponse Handle(const net::HttpRequest& request) const;

 private:
  std::string GroupListJson() const;
  std::string GroupJson(std::string_view group) const;
  std::string ResourceListJson(const pipeline::MetricSet& set, std::string_view group,
                               std::string_view version) const;
  // APIResourceList bodies by "group/version" for the sampler's current metric set.
  std::shared_ptr<const std::map<std::string, std::string, std::less<>>> ResourceLists() const;
  net::HttpResponse CustomObject(const net::HttpRequest& req, std::string_view version,
                                 std::optional<std::string_view> ns, std::string_view resource,
                                 std::string_view name, std::string_view metric,
                                 std::string route) const;
  net::HttpResponse CustomPods(const net::HttpRequest& req, std::string_view version,
                               std::string_view ns, std::string_view name, std::string_view metric,
                               std::string route) const;
  net::HttpResponse CustomNamespace(const net::HttpRequest& req, std::string_view version,
                                    std::string_view ns, std::string_view metric,
                                    std::string route) const;
  net::HttpResponse External(const net::HttpRequest& req, std::string_view ns,
                             std::string_view metric, std::string route) const;
  net::HttpResponse ResourceNodes(const net::HttpRequest& req, std::optional<std::string_view> name,
                                  std::string route) const;
  net::HttpResponse ExternalRule(const net::HttpRequest& req, std::string_view ns,
                                 std::string_view metric, std::string route) const;
  net::HttpResponse ResourcePods(const net::HttpRequest& req, std::optional<std::string_view> ns,
                                 std::optional<std::string_view> name, std::string route) const;

  // namespaces/*/{metric}?labelSelector=: one row per selected namespace.
  net::HttpResponse CustomNamespacesSelected(std::string_view version, std::string_view metric,
                                             std::string_view label_selector,
                                             const SeriesSelector& series, std::string route) const;
  // Every row of `metric` for `resource` in `ns` (that `field_selector` picks).
  absl::StatusOr<pipeline::Selection> ReadAll(std::string_view metric,
                                              const config::MetricResource& resource,
                                              std::string_view ns,
                                              std::string_view field_selector = "") const;

  const pipeline::View view_;
  Clock& clock_;  // creationTimestamp of PodMetrics and NodeMetrics
  std::unique_ptr<http::Readiness> own_readiness_;  // when none was given
  const http::Readiness* readiness_;
  mutable absl::Mutex lists_mu_;
  // The MetricSet version resource_lists_ was built from.
  mutable uint64_t lists_version_ ABSL_GUARDED_BY(lists_mu_) = 0;
  mutable std::shared_ptr<const std::map<std::string, std::string, std::less<>>> resource_lists_
      ABSL_GUARDED_BY(lists_mu_);
};

}  // namespace aa::apiserver
