#pragma once
// JSON bodies of the Kubernetes metrics APIs this adapter serves: custom.metrics.k8s.io
// (v1beta1 and v1beta2), external.metrics.k8s.io/v1beta1, metrics.k8s.io/v1beta1, discovery
// documents and metav1.Status errors. Shapes follow the upstream Go types' JSON encoding
// (k8s.io/metrics, apimachinery); quantities follow apiserver/quantity.h.
//
// Every function is pure, thread-safe and returns one compact JSON document. Strings are escaped
// for JSON; invalid UTF-8 bytes are replaced by U+FFFD, as Go's encoding/json does, so the output
// always parses. Maps are printed in key order (std::map), like Go prints map keys sorted.
// Times are printed by Rfc3339 below.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace aa::apiserver {

// The object a custom metric describes (a core/v1 ObjectReference). Empty fields are omitted from
// the JSON, as Go's omitempty does; `ns` is empty for cluster-scoped objects.
struct DescribedObject {
  std::string kind;  // "Pod", "Namespace", "Deployment", ...
  std::string name;
  std::string ns;           // empty for cluster-scoped objects
  std::string api_version;  // "v1", "apps/v1", ...
};

// One metav1.LabelSelectorRequirement: {"key","operator","values"} (values omitted when empty).
struct SelectorExpression {
  std::string key;
  std::string op;  // "In", "NotIn", "Exists", "DoesNotExist"
  std::vector<std::string> values;
};

struct CustomMetricItem {
  DescribedObject object;
  std::string metric;
  // metricLabelSelector as a metav1.LabelSelector: {"matchLabels":{...},"matchExpressions":[...]}
  // (each omitted when empty); both empty print null.
  std::map<std::string, std::string> selector;
  std::vector<SelectorExpression> selector_expressions;
  absl::Time timestamp;
  int64_t window_seconds = 0;
  double value = 0;  // printed with FormatQuantity
};

// A custom.metrics.k8s.io MetricValueList, {"kind":"MetricValueList","apiVersion":
// "custom.metrics.k8s.io/<version>","metadata":{},"items":[...]}.
// version "v1beta1": items {describedObject, metricName, timestamp, window, value, selector};
// any other version (meant: "v1beta2"): items {describedObject, metric:{name,selector},
// timestamp, windowSeconds, value}. The caller validates the version.
std::string CustomMetricValueList(std::string_view version,
                                  const std::vector<CustomMetricItem>& items);

struct ExternalMetricItem {
  std::string metric;
  std::map<std::string, std::string> labels;  // metricLabels; empty prints {}
  absl::Time timestamp;
  int64_t window_seconds = 0;
  double value = 0;  // printed with FormatQuantity
};

// An external.metrics.k8s.io/v1beta1 ExternalMetricValueList; items {metricName, metricLabels,
// timestamp, window, value}.
std::string ExternalMetricValueList(const std::vector<ExternalMetricItem>& items);

struct ContainerUsage {
  std::string name;
  double cpu_cores = 0;  // printed with FormatNanoCores
  // Printed with FormatBytes; absent (no "memory" key) when the config defines no memory metric.
  std::optional<double> memory_bytes;
};

struct PodMetricsItem {
  std::string name, ns;
  std::map<std::string, std::string> labels;  // omitted when empty
  // metadata.creationTimestamp: the time the response is built, as metrics-server sets it.
  // InfinitePast prints null.
  absl::Time creation = absl::InfinitePast();
  absl::Time timestamp;
  absl::Duration window;  // printed as a Go duration string ("15s", "1m0s")
  std::vector<ContainerUsage> containers;
};

// metrics.k8s.io/v1beta1 PodMetrics: {"kind":"PodMetrics","apiVersion":"metrics.k8s.io/v1beta1",
// "metadata":{name,namespace,creationTimestamp[,labels]},"timestamp","window",
// "containers":[{"name","usage":{"cpu","memory"}}]}.
std::string PodMetrics(const PodMetricsItem& item);
// PodMetricsList with "metadata":{} and items shaped as PodMetrics without kind and apiVersion.
std::string PodMetricsList(const std::vector<PodMetricsItem>& items);

struct NodeMetricsItem {
  std::string name;
  std::map<std::string, std::string> labels;  // omitted when empty
  absl::Time timestamp;
  absl::Duration window;
  double cpu_cores = 0;
  std::optional<double> memory_bytes;          // as ContainerUsage::memory_bytes
  absl::Time creation = absl::InfinitePast();  // as PodMetricsItem::creation
};

// metrics.k8s.io/v1beta1 NodeMetrics: metadata {name, creationTimestamp[, labels]},
// timestamp, window, usage {cpu, memory}.
std::string NodeMetrics(const NodeMetricsItem& item);
// NodeMetricsList with "metadata":{} and items without kind and apiVersion.
std::string NodeMetricsList(const std::vector<NodeMetricsItem>& items);

// One discovery entry: {"name","singularName":"","namespaced","kind","verbs":[...]}.
struct ApiResource {
  std::string name;  // "pods/concurrency", "queue_depth", "pods"
  bool namespaced = false;
  std::string kind;  // "MetricValueList", "ExternalMetricValueList", "PodMetrics", ...
  std::vector<std::string> verbs;
};

// {"kind":"APIResourceList","apiVersion":"v1","groupVersion":..,"resources":[...]}.
std::string APIResourceList(std::string_view group_version,
                            const std::vector<ApiResource>& resources);

// {"kind":"APIGroupList","apiVersion":"v1","groups":[APIGroup without kind/apiVersion...]}.
// Each pair is group name -> versions; the first version is the preferred one.
std::string APIGroupList(
    const std::vector<std::pair<std::string, std::vector<std::string>>>& groups);

// {"kind":"APIGroup","apiVersion":"v1","name":group,"versions":[{"groupVersion":"<group>/<v>",
// "version":v}...],"preferredVersion":{first version}}; preferredVersion is omitted when
// `versions` is empty.
std::string APIGroup(std::string_view group, const std::vector<std::string>& versions);

// HTTP status for an absl status code: OK 200, InvalidArgument 400, Unauthenticated 401,
// PermissionDenied 403, NotFound 404, Unimplemented 405, Unavailable 503, DeadlineExceeded 504,
// everything else 500.
int HttpCodeFor(absl::StatusCode code);

// metav1.Status: {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message",
// "reason","code"}. Reasons: 400 BadRequest, 401 Unauthorized, 403 Forbidden, 404 NotFound,
// 405 MethodNotAllowed, 406 NotAcceptable, 413 RequestEntityTooLarge, 414/416/431 BadRequest
// (metav1 has no reason of their own), 429 TooManyRequests,
// 500 InternalError, 503 ServiceUnavailable, 504 Timeout; other codes omit "reason".
// A code below 400 prints "status":"Success" (no reason).
std::string StatusJson(int http_code, std::string_view message);
// The same with the code from HttpCodeFor(s.code()) and s.message().
std::string StatusJson(const absl::Status& s);

// RFC 3339 in UTC without fraction (truncated), as metav1.Time prints: "2026-11-28T10:00:00Z".
// Times outside years 0001..9999 (including the infinite ones) are clamped to
// "0001-01-01T00:00:00Z" / "9999-12-31T23:59:59Z" so the output always parses as a time.
std::string Rfc3339(absl::Time t);

}  // namespace aa::apiserver
