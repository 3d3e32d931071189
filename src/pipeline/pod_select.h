#pragma once
// Selecting pods by their Kubernetes labels, from the pod-label index in the snapshot.

#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "pipeline/snapshot.h"

namespace aa::pipeline {

using PodPredicate = std::function<bool(const PodValue&)>;

// The label KServe puts on every pod of an InferenceService.
inline constexpr std::string_view kInferenceServiceLabel = "serving.kserve.io/inferenceservice";

// Returns a predicate that is true for pods of namespace `ns` whose labels match `label_selector`
// (Kubernetes selector syntax). The empty selector gives an empty predicate (every pod). Pods the
// index does not know never match a non-empty selector. The predicate holds what it needs; it may
// outlive `snapshot`. InvalidArgument for a malformed selector (the message says where).
absl::StatusOr<PodPredicate> PodSelector(const Snapshot& snapshot, std::string_view ns,
                                         std::string_view label_selector);

// The selector for the pods of one InferenceService ("serving.kserve.io/inferenceservice=<name>"),
// or InvalidArgument when `name` is not a valid label value.
absl::StatusOr<std::string> InferenceServiceSelector(std::string_view name);

}  // namespace aa::pipeline
