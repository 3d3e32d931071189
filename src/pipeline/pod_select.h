#pragma once
// Selecting pods by their Kubernetes labels, from the pod-label index in the snapshot.

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "pipeline/snapshot.h"
#include "selector/selector.h"

namespace aa::pipeline {

using PodPredicate = std::function<bool(const PodValue&)>;
// A predicate over one object's labels as a label index holds them (see LabelsMatcher).
using LabelsPredicate = std::function<bool(const prom::Labels&)>;

// How a label index's label sets are matched against a selector, for every index of Kubernetes
// labels the adapter keeps (pods, and the other objects of pipeline/object_select.h):
// - from kube-state-metrics' kube_<object>_labels (`from_kubernetes` false): the keys are the
//   sanitized label names without "label_" (KubeStateLabels): the selector's keys are sanitized the
//   same way (selector::SanitizeLabelName), once, and an empty value counts as absent (Prometheus
//   drops empty labels);
// - from the Kubernetes API (`from_kubernetes` true): keys are compared as written and an empty
//   value is a value.
// `labels` passed to the predicate must be sorted by key. The predicate shares `sel`.
LabelsPredicate LabelsMatcher(std::shared_ptr<const selector::Selector> sel, bool from_kubernetes);

// The Kubernetes labels of one kube-state-metrics kube_<object>_labels series: its "label_*"
// labels with the prefix removed (sanitized keys, e.g. serving_kserve_io_inferenceservice), in the
// series' (sorted) order.
prom::Labels KubeStateLabels(const prom::Labels& series);
// The same from a series' labels as they are parsed (prom::SampleRef::labels).
prom::Labels KubeStateLabels(std::span<const std::pair<std::string_view, std::string_view>> series);

// The label KServe puts on every pod of an InferenceService.
inline constexpr std::string_view kInferenceServiceLabel = "serving.kserve.io/inferenceservice";

// Returns a predicate that is true for pods of namespace `ns` whose labels match `label_selector`
// (Kubernetes selector syntax). The empty selector gives an empty predicate (every pod). Pods the
// index does not know (not yet listed, or deleted while Prometheus still has their series) never
// match a non-empty selector. With an index from kube_pod_labels the selector's keys are sanitized
// to match it and an empty value counts as absent; with an index from the Kubernetes pod watch
// (PodLabelsTable::from_kubernetes) keys are compared as written and an empty value is a value.
// The predicate holds what it needs; it may outlive `snapshot`. InvalidArgument for a malformed
// selector (the message says where).
absl::StatusOr<PodPredicate> PodSelector(const Snapshot& snapshot, std::string_view ns,
                                         std::string_view label_selector);

// How many pods of `ns` that exist match `label_selector`, whether or not they have a sample: known
// only with an index from the Kubernetes pod watch (nullopt otherwise, or for a bad selector).
// Lets the APIs tell "no such pods" from "pods exist but have no sample yet".
std::optional<size_t> CountIndexedPods(const Snapshot& snapshot, std::string_view ns,
                                       std::string_view label_selector);

// The selector for the pods of one InferenceService ("serving.kserve.io/inferenceservice=<name>"),
// or InvalidArgument when `name` is not a valid label value.
absl::StatusOr<std::string> InferenceServiceSelector(std::string_view name);

}  // namespace aa::pipeline
