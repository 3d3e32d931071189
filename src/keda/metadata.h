#pragma once
// KEDA trigger metadata (ScaledObjectRef.scalerMetadata): parsing, validation and the target
// arithmetic. Pure functions; no gRPC types; thread-safe.
//
// Trigger metadata keys (a ScaledObject trigger of type `external` or `external-push`):
//
//   metric: concurrency          required. Name of a metric the adapter serves: a `metrics:`
//                                definition, or one discovered from prometheus-adapter `rules` /
//                                `externalRules` (e.g. http_requests_per_second, queue_depth).
//   resource: pods               optional. Which of the metric's resources when a rule serves the
//                                name for several: `pods`, `external`, `namespaces`, `services`,
//                                `deployments.apps`... (plural, singular or with the group, as
//                                kubectl spells them). Unset: `pods` when the name has a pods
//                                metric, else the only resource it has (else InvalidArgument
//                                listing them). For `pods` the value is the sum over the selected
//                                pods; for `external` the sum over the metric's series
//                                (labelSelector filters the series by their own labels, as
//                                external.metrics.k8s.io does for externalRules); for `namespaces`
//                                the namespace's own value; for other resources the sum over the
//                                namespace's objects.
//   namespace: kserve-test       default: the ScaledObject's namespace. Where the pods are.
//   inferenceService: my-isvc    optional, pods metrics only. Only the pods of this KServe
//                                InferenceService, i.e. the label selector
//                                `serving.kserve.io/inferenceservice=<name>`. Excludes
//                                labelSelector.
//   labelSelector: app=web       optional. Pods metrics: only the pods matching this Kubernetes
//                                label selector (their Kubernetes labels). External metrics: only
//                                the series whose own labels match (PromQL matchers in the query).
//                                Refused for other resources. Neither key: every pod (series) of
//                                the namespace that has the metric.
//   target: 70                   per-pod target value, a finite number > 0 (e.g. 70 requests in
//                                flight, or 0.25 cores). Excludes containerConcurrency and
//                                targetUtilizationPercentage. Required for rule metrics (rules
//                                define no target).
//   containerConcurrency: 100    KServe's way, integer >= 1, with
//   targetUtilizationPercentage: 70
//                                per-pod target = containerConcurrency *
//                                targetUtilizationPercentage / 100 (percentage in (0, 100],
//                                default 70), so 100 and 70 give 70.
//   targetUtilizationPercentage: 50
//                                alone, for metrics with a baseline (the cpu preset: the pod's CPU
//                                request): per-pod target = 50 % of the selected pods' average
//                                baseline, in the metric's unit (cores). Then KEDA's AverageValue
//                                computes ceil(total usage / (request * 50 %)) replicas, which is
//                                the HPA's CPU utilization formula. Percentage in (0, 1000]. None
//                                of the target keys: the metric definition's own target (its
//                                `target`, or its `targetUtilization` for metrics with a baseline);
//                                none there either is an error.
//   activationThreshold: 0       finite number >= 0, default 0: IsActive / StreamIsActive report
//                                true when the workload total is above it.
//
// Or, instead of `metric`, the keys of KEDA's own prometheus scaler (an ad-hoc query: a trigger
// that was `type: prometheus` works unchanged as `type: external`), read as KEDA reads them:
// values are trimmed and an empty one counts as absent.
//   query: sum(rate(x[1m]))      required: PromQL sent as written (no placeholders), once per
//                                sampling interval however many triggers carry it. It must return
//                                one element (see keda/scaler.h for empty, NaN and several).
//   threshold: 70                required: a JSON number > 0, the target KEDA gives the HPA
//                                (per replica with the trigger's metricType AverageValue, the
//                                default, or the whole value with Value).
//   activationThreshold: 0       a JSON number, default 0: active when the value is above it.
//   ignoreNullValues: true       a Go boolean (true, false, 1, 0, t, f, TRUE...), default true:
//                                an empty result or a NaN/Inf value reads as 0; false: an error.
//   serverAddress: <backend>     which backend answers: a configured backend's name (`default`
//                                is the `prometheus:` section) or its URL (compared without a
//                                trailing slash, scheme and host in any case). Absent: default.
//                                Any other address is InvalidArgument: the adapter never queries
//                                an address a trigger names.
//   namespace: team-a            sent as the URL parameter namespace= (Thanos/Mimir-style tenancy
//                                proxies), not a label matcher; not "where the pods are" here.
//   queryParameters: a=b,c=d     extra URL parameters; never query or time.
//   customHeaders: X-Scope-OrgID=t1,X-B=v
//                                extra request headers (HTTP token names, values without CR/LF);
//                                never one the backend sets itself (its headers, credentials).
//   timeout: 5s                  one attempt's HTTP timeout: a Go duration, or whole milliseconds
//                                ("5000"); 0 or absent: the backend's.
// Metric-only keys (resource, inferenceService, labelSelector, target, containerConcurrency,
// targetUtilizationPercentage) are refused with `query`, and so is `metric`.
// Maps (queryParameters, customHeaders) are `key=value` pairs separated by commas, each trimmed;
// an element without exactly one '=' is an error, as in KEDA.
//
// Keys KEDA itself puts into the map (scalerAddress, enableTLS, unsafeSsl, tlsCertFile, caCert,
// tlsClientCert, tlsClientKey) are ignored silently; other keys are reported in
// Trigger::unknown_keys (the service logs each once) and otherwise ignored. Numbers are plain
// decimals ("70", "0.5", "1e2"), surrounding blanks allowed; NaN, Inf, hexadecimal and Kubernetes
// quantities ("500m") are refused.
//
// Limits (bad input must stay cheap): at most kMaxMetadataEntries keys, keys up to
// kMaxMetadataKeyBytes, values up to kMaxMetadataValueBytes.
//
// Errors are InvalidArgument, "scalerMetadata.<key>: <problem> (got \"<value>\")" (values escaped
// and cut to 64 bytes), or "ScaledObjectRef.namespace: ..." for a bad namespace taken from the
// ScaledObject.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "config/config.h"
#include "pipeline/workload.h"
#include "prometheus/client.h"

namespace aa::keda {

inline constexpr size_t kMaxMetadataEntries = 64;
inline constexpr size_t kMaxMetadataKeyBytes = 256;
inline constexpr size_t kMaxMetadataValueBytes = 4096;

// The metadata keys this scaler reads.
inline constexpr std::string_view kKeyMetric = "metric";
inline constexpr std::string_view kKeyResource = "resource";
inline constexpr std::string_view kKeyNamespace = "namespace";
inline constexpr std::string_view kKeyInferenceService = "inferenceService";
inline constexpr std::string_view kKeyLabelSelector = "labelSelector";
inline constexpr std::string_view kKeyTarget = "target";
inline constexpr std::string_view kKeyContainerConcurrency = "containerConcurrency";
inline constexpr std::string_view kKeyTargetUtilizationPercentage = "targetUtilizationPercentage";
inline constexpr std::string_view kKeyActivationThreshold = "activationThreshold";
// KEDA's prometheus scaler keys (ad-hoc queries).
inline constexpr std::string_view kKeyQuery = "query";
inline constexpr std::string_view kKeyThreshold = "threshold";
inline constexpr std::string_view kKeyIgnoreNullValues = "ignoreNullValues";
inline constexpr std::string_view kKeyServerAddress = "serverAddress";
inline constexpr std::string_view kKeyQueryParameters = "queryParameters";
inline constexpr std::string_view kKeyCustomHeaders = "customHeaders";
inline constexpr std::string_view kKeyTimeout = "timeout";

// Default targetUtilizationPercentage with containerConcurrency (KServe's and Knative's default).
inline constexpr double kDefaultTargetUtilizationPercentage = 70;

// scalerMetadata as views into the request (keys sorted, so errors come out in a stable order).
using Metadata = std::map<std::string_view, std::string_view>;

// A trigger with KEDA's prometheus scaler keys: its own query.
struct AdhocQuery {
  std::string query;
  std::string server_address;  // as given, trimmed; "" = the default backend
  double threshold = 0;        // > 0
  bool ignore_null_values = true;
  // namespace= first (when given), then queryParameters in the order given; customHeaders;
  // timeout (zero: the backend's).
  prom::QueryOptions options;

  // Triggers with equal identities read the same value (or the same error).
  std::string Identity() const;
};

// One parsed trigger.
struct Trigger {
  std::string metric;
  // The resource asked for, normalized ("pods", "external", "deployments.apps"...); "" when not
  // given (the Scaler chooses).
  std::string resource;
  std::string ns;
  std::string inference_service;  // as given, "" when not
  // The selector in Kubernetes syntax: labelSelector as given, or the InferenceService's; "" =
  // everything. Selects pods by their Kubernetes labels, except for external metrics, where it
  // filters the metric's series by their labels.
  std::string label_selector;
  std::optional<double> target;
  std::optional<int64_t> container_concurrency;
  std::optional<double> target_utilization_percentage;
  double activation_threshold = 0;
  std::vector<std::string> unknown_keys;  // keys neither read here nor set by KEDA, sorted
  // KEDA prometheus scaler keys that have no effect here (authModes, awsRegion, identityOwner:
  // the configured backend's credentials apply), sorted; the service logs each once.
  std::vector<std::string> no_effect_keys;
  // Set when the trigger carries `query` (then `metric` is empty, `ns` is "" and only
  // activation_threshold of the fields above applies).
  std::optional<AdhocQuery> adhoc;

  // The metric name reported to KEDA: "<metric>" or "<metric>-<inferenceService>"; "prometheus"
  // for an ad-hoc query, as KEDA's prometheus scaler names it (KEDA shows "s<index>-prometheus").
  // Stable for a trigger.
  std::string MetricName() const;
};

// Parses and validates `metadata`; `ref_namespace` is ScaledObjectRef.namespace (the default
// namespace).
absl::StatusOr<Trigger> ParseTrigger(const Metadata& metadata, std::string_view ref_namespace);

// How the per-pod target is obtained for one trigger and metric definition.
struct TargetRule {
  enum class Kind {
    kValue,            // a fixed per-pod value
    kBaselinePercent,  // a percentage of the selected pods' average baseline (needs data)
  };
  Kind kind = Kind::kValue;
  double value = 0;    // kValue: the per-pod target; kBaselinePercent: the percentage
  std::string origin;  // where it came from, for messages: "target", "containerConcurrency", ...
};

// Chooses the rule from the trigger's keys, falling back to the definition's own target.
// InvalidArgument when there is none, when targetUtilizationPercentage is used alone on a metric
// without baseline, or when a percentage is out of range for its use.
absl::StatusOr<TargetRule> ResolveTargetRule(const Trigger& trigger,
                                             const config::MetricDefinition& def);

// The per-pod target for `stats` (the selected pods). For kBaselinePercent: percent/100 *
// baseline_total / pods_with_baseline; Unavailable when no selected pod has a baseline yet (e.g. no
// CPU request known), since the target cannot be computed without data. Always > 0 and finite when
// OK.
absl::StatusOr<double> PerPodTarget(const TargetRule& rule, const pipeline::WorkloadStats& stats,
                                    std::string_view metric);

// KEDA's deprecated integer fields: round half away from zero, clamped to [0, INT64_MAX] (NaN gives
// 0).
int64_t RoundForKeda(double v);
// MetricSpec.targetSize: RoundForKeda(target), at least 1.
int64_t TargetSize(double target);

// Whether `key` is one KEDA itself adds to the metadata map (ignored without a warning).
bool IsKedaKey(std::string_view key);

}  // namespace aa::keda
