#pragma once
// The Kubernetes HorizontalPodAutoscaler's decision, reproduced from the upstream controller
// (pkg/controller/podautoscaler: replica_calculator.go and horizontal.go) so the project can
// predict and emulate what an HPA does with the numbers the adapter serves.
//
// Three layers, named after upstream so a reader can hold them against the Go:
// - Pure functions, one per metric source (Resource Utilization / AverageValue, Pods, Object
//   Value / AverageValue, External Value / AverageValue), returning the replica proposal of one
//   metric, and the behavior helpers (defaults, scale-up/down limits). No state, thread-safe.
// - The normalization steps of horizontal.go (stabilizeRecommendation[WithBehaviors],
//   convertDesiredReplicasWithRules, convertDesiredReplicasWithBehaviorRate): pure functions too,
//   given the history (recommendations, scale events) they read or update.
// - HpaController: the stateful part of one HPA (recommendation history for the stabilization
//   windows, scale events for the policies). Sync(now, current replicas, observations) is one
//   reconcile of the upstream controller, in upstream's steps: computeReplicasForMetrics, then
//   normalizeDesiredReplicas (no behavior) or normalizeDesiredReplicasWithBehaviors. Not
//   thread-safe (one owner calls it); time only comes from the `now` arguments, so tests and
//   simulations step it freely.
//
// Units: metric values and targets are integer milli-units, as the controller computes them
// (Quantity.MilliValue(); use MilliValue() below to convert a double). Utilization targets and
// results are integer percent.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace aa::scaling {

// ceil(value * 1000), as resource.Quantity.MilliValue() rounds up. Saturates at the int64 range;
// NaN gives 0.
int64_t MilliValue(double value);

// ----- Pods and samples, as the controller sees them -----

enum class PodPhase { kPending, kRunning, kSucceeded, kFailed, kUnknown };

struct Container {
  std::string name;
  // Resource requests in milli-units, e.g. {"cpu", 500} for 500m. A container without an entry for
  // the resource has no request for it (the Resource path then fails, as upstream).
  std::map<std::string, int64_t> requests_milli;
};

struct Pod {
  std::string name;
  PodPhase phase = PodPhase::kRunning;
  bool deleting = false;  // metadata.deletionTimestamp is set
  // The Ready condition: nullopt when the pod has none.
  std::optional<bool> ready = true;
  absl::Time ready_transition = absl::InfinitePast();  // the Ready condition's lastTransitionTime
  std::optional<absl::Time> start_time =
      absl::InfinitePast();  // status.startTime; nullopt if unset
  std::vector<Container> containers;
};

// One pod's sample of a metric (metrics.k8s.io or custom.metrics.k8s.io item).
struct PodSample {
  int64_t milli_value = 0;
  absl::Time timestamp = absl::InfinitePast();
  absl::Duration window = absl::Minutes(1);
};
using PodSamples = std::map<std::string, PodSample>;  // by pod name

// No change when (1 - scale_down) <= ratio <= (1 + scale_up).
struct Tolerances {
  double scale_down = 0.1;
  double scale_up = 0.1;
  bool IsWithin(double ratio) const;
};

struct ReplicaCalculatorOptions {
  absl::Duration cpu_initialization_period = absl::Minutes(5);  // --horizontal-pod-autoscaler-...
  absl::Duration delay_of_initial_readiness_status = absl::Seconds(30);
};

// A proposal of one metric. `usage_milli` is the current value the HPA reports in its status
// (average per pod, object value, external sum or external average per pod).
struct MetricProposal {
  int32_t replicas = 0;
  int64_t usage_milli = 0;
  std::optional<int32_t> utilization_percent;  // Resource Utilization only
};

// Resource (or ContainerResource when `container` is not empty) with a Utilization target.
// `current_replicas` is the scale's spec.replicas; `pods` the pods the scale selector matches;
// `samples` their samples (pods without one are "missing"). Readiness rules apply when `resource`
// is "cpu". Errors (InvalidArgument / FailedPrecondition with upstream's text): no pods, a pod
// without a request for the resource, no usable samples.
absl::StatusOr<MetricProposal> ResourceUtilizationReplicas(
    int32_t current_replicas, int32_t target_utilization_percent, std::string_view resource,
    std::string_view container, const std::vector<Pod>& pods, PodSamples samples,
    const Tolerances& tolerances, const ReplicaCalculatorOptions& options, absl::Time now);

// Resource with an AverageValue target (milli-units per pod).
absl::StatusOr<MetricProposal> ResourceAverageValueReplicas(
    int32_t current_replicas, int64_t target_average_milli, std::string_view resource,
    const std::vector<Pod>& pods, PodSamples samples, const Tolerances& tolerances,
    const ReplicaCalculatorOptions& options, absl::Time now);

// Pods metric (AverageValue target). No readiness rules: every non-pending pod with a sample
// counts.
absl::StatusOr<MetricProposal> PodsMetricReplicas(int32_t current_replicas,
                                                  int64_t target_average_milli,
                                                  const std::vector<Pod>& pods, PodSamples samples,
                                                  const Tolerances& tolerances);

// Object metric with a Value target: ratio = value / target; ceil(ratio * ready pods) (running and
// Ready pods), or ceil(ratio) when current_replicas is 0. Error when no pods match.
absl::StatusOr<MetricProposal> ObjectValueReplicas(int32_t current_replicas, int64_t target_milli,
                                                   int64_t value_milli,
                                                   const std::vector<Pod>& pods,
                                                   const Tolerances& tolerances);

// Object metric with an AverageValue target; `status_replicas` is the scale's status.replicas.
MetricProposal ObjectAverageValueReplicas(int32_t status_replicas, int64_t target_average_milli,
                                          int64_t value_milli, const Tolerances& tolerances);

// External metric with a Value target: the items' values are summed, then as ObjectValueReplicas.
absl::StatusOr<MetricProposal> ExternalValueReplicas(int32_t current_replicas, int64_t target_milli,
                                                     const std::vector<int64_t>& values_milli,
                                                     const std::vector<Pod>& pods,
                                                     const Tolerances& tolerances);

// External metric with an AverageValue target (the summed items, per replica).
MetricProposal ExternalAverageValueReplicas(int32_t status_replicas, int64_t target_average_milli,
                                            const std::vector<int64_t>& values_milli,
                                            const Tolerances& tolerances);

// ----- behavior -----

enum class ScalingPolicyType { kPods, kPercent };
enum class SelectPolicy { kMax, kMin, kDisabled };

struct ScalingPolicy {
  ScalingPolicyType type = ScalingPolicyType::kPods;
  int32_t value = 1;            // > 0: pods, or percent of the replicas at the period's start
  int32_t period_seconds = 15;  // 1..1800
  friend bool operator==(const ScalingPolicy&, const ScalingPolicy&) = default;
};

// One direction of spec.behavior as written in the HPA object: unset fields take the defaults.
struct ScalingRulesSpec {
  std::optional<int32_t> stabilization_window_seconds;  // 0..3600
  std::optional<SelectPolicy> select_policy;
  std::optional<std::vector<ScalingPolicy>> policies;
  std::optional<double> tolerance;  // >= 0 (HPAConfigurableTolerance, 1.33+)
  friend bool operator==(const ScalingRulesSpec&, const ScalingRulesSpec&) = default;
};

struct BehaviorSpec {
  std::optional<ScalingRulesSpec> scale_up;
  std::optional<ScalingRulesSpec> scale_down;
  friend bool operator==(const BehaviorSpec&, const BehaviorSpec&) = default;
};

// A direction with every default applied.
struct ScalingRules {
  int32_t stabilization_window_seconds = 0;
  SelectPolicy select_policy = SelectPolicy::kMax;
  std::vector<ScalingPolicy> policies;
  std::optional<double> tolerance;  // unset: the controller's --horizontal-pod-autoscaler-tolerance
};

struct Behavior {
  ScalingRules scale_up;
  ScalingRules scale_down;
};

// Upstream defaulting (SetDefaults_HorizontalPodAutoscalerBehavior plus the controller's
// maybeInitScaleDownStabilizationWindow): scaleUp window 0 s, policies Pods 4 / 15 s and Percent
// 100 / 15 s, selectPolicy Max; scaleDown window `downscale_stabilization` (default 300 s), policy
// Percent 100 / 15 s, selectPolicy Max. Given policies replace the default list.
Behavior DefaultedBehavior(const BehaviorSpec& spec,
                           absl::Duration downscale_stabilization = absl::Minutes(5));

// What KServe's HPAs get: it always writes `behavior: {}`, so every default above applies.
Behavior KServeBehavior();

// InvalidArgument naming the field (e.g. "behavior.scaleUp.policies[0].periodSeconds: must be in
// 1..1800 (got 0)") for values the API server would reject.
absl::Status ValidateBehaviorSpec(const BehaviorSpec& spec);

// A past change of the replica count (scaleUp or scaleDown direction), for the policies.
struct ScaleEvent {
  int32_t replica_change = 0;  // positive, in the event's direction
  absl::Time time;
  bool outdated = false;  // older than the longest policy period: reusable slot
};

// The highest count policies allow when scaling up from `current` (upstream
// calculateScaleUpLimitWithScalingRules): for each policy the replicas at the start of its period
// (current - added + deleted within it) plus Pods value / times (1 + Percent/100) rounded up; Max
// takes the largest, Min the smallest, Disabled returns `current`.
int32_t ScaleUpLimit(int32_t current, const std::vector<ScaleEvent>& scale_up_events,
                     const std::vector<ScaleEvent>& scale_down_events, const ScalingRules& rules,
                     absl::Time now);

// The lowest count policies allow when scaling down (calculateScaleDownLimitWithBehaviors): Pods
// subtracts, Percent multiplies by (1 - value/100) truncated; Max picks the lowest count, Min the
// highest, Disabled returns `current`.
int32_t ScaleDownLimit(int32_t current, const std::vector<ScaleEvent>& scale_up_events,
                       const std::vector<ScaleEvent>& scale_down_events, const ScalingRules& rules,
                       absl::Time now);

// ----- normalization: the steps of upstream's horizontal.go after the metrics -----

// A recommendation (the metrics' desired count before stabilization) made at `time` (upstream
// timestampedRecommendation).
struct Recommendation {
  int32_t replicas = 0;
  absl::Time time;
};

// A replica count and the condition reason that explains it.
struct ReasonedReplicas {
  int32_t replicas = 0;
  std::string_view reason;  // a literal: one of the reasons listed at HpaDecision
};

// What the normalization steps are given (upstream NormalizationArg).
struct NormalizationArg {
  int32_t min_replicas = 0;
  int32_t max_replicas = 0;
  int32_t current_replicas = 0;
  int32_t desired_replicas = 0;  // the recommendation being normalized
};

// Upstream stabilizeRecommendation (no behavior): the highest of `desired` and the
// recommendations not older than `now - window`. Records `desired` at `now` in `recommendations`,
// in the slot of one older than the window if there is one (the last such), else appended.
int32_t StabilizeRecommendation(int32_t desired, absl::Duration window, absl::Time now,
                                std::vector<Recommendation>* recommendations);

// Upstream calculateScaleUpLimit (no behavior): max(2 * current, 4).
int32_t CalculateScaleUpLimit(int32_t current);

// Upstream convertDesiredReplicasWithRules (no behavior): `desired` clamped to [min, the lower of
// max and CalculateScaleUpLimit(current)]. Reason "TooFewReplicas", "ScaleUpLimit",
// "TooManyReplicas" when clamped, else "DesiredWithinRange".
ReasonedReplicas ConvertDesiredReplicasWithRules(int32_t current, int32_t desired,
                                                 int32_t min_replicas, int32_t max_replicas);

// Upstream stabilizeRecommendationWithBehaviors: the lowest recommendation inside the scale-up
// window and the highest inside the scale-down window (each counting `arg.desired_replicas`)
// bound the current count from below and above. Records `arg.desired_replicas` at `now`, in the
// slot of one older than both windows if there is one (the last such), else appended. Reason
// "ScaleUpStabilized" when desired >= current, else "ScaleDownStabilized" (it only explains a
// result that differs from desired).
ReasonedReplicas StabilizeRecommendationWithBehaviors(const NormalizationArg& arg,
                                                      const Behavior& behavior, absl::Time now,
                                                      std::vector<Recommendation>* recommendations);

// Upstream convertDesiredReplicasWithBehaviorRate: scaling up, `arg.desired_replicas` is capped at
// the lower of max and the scale-up policies' limit (never below current); scaling down, raised to
// the higher of min and the scale-down policies' limit (never above current). Reason
// "ScaleUpLimit", "TooManyReplicas", "ScaleDownLimit" or "TooFewReplicas" when capped, else
// "DesiredWithinRange".
ReasonedReplicas ConvertDesiredReplicasWithBehaviorRate(
    const NormalizationArg& arg, const Behavior& behavior,
    const std::vector<ScaleEvent>& scale_up_events,
    const std::vector<ScaleEvent>& scale_down_events, absl::Time now);

// ----- the controller -----

enum class MetricSourceType { kResource, kContainerResource, kPods, kObject, kExternal };
enum class MetricTargetType { kUtilization, kAverageValue, kValue };

struct MetricSpec {
  MetricSourceType source = MetricSourceType::kPods;
  std::string name;       // the metric name; for Resource/ContainerResource the resource ("cpu")
  std::string container;  // ContainerResource only
  MetricTargetType target_type = MetricTargetType::kAverageValue;
  int64_t target_milli = 0;                // Value / AverageValue targets
  int32_t target_utilization_percent = 0;  // Utilization targets
};

struct HpaSpec {
  int32_t min_replicas = 1;   // >= 1, or 0 (HPAScaleToZero) with an Object or External metric only
  int32_t max_replicas = 10;  // >= min_replicas, >= 1
  std::vector<MetricSpec> metrics;  // at least one
  // nullopt: the legacy path (scale up at most max(2 * current, 4) per sync, scale-down window from
  // the options). KServe always sets behavior: {} (see KServeBehavior()).
  std::optional<BehaviorSpec> behavior;
};

struct HpaControllerOptions {
  double tolerance = 0.1;  // --horizontal-pod-autoscaler-tolerance
  absl::Duration cpu_initialization_period = absl::Minutes(5);
  absl::Duration delay_of_initial_readiness_status = absl::Seconds(30);
  absl::Duration downscale_stabilization_window = absl::Minutes(5);
};

// What one metric reported at a sync. Which member is read depends on the spec's source:
// Resource / ContainerResource / Pods read `pod_samples`, Object `object_value_milli`, External
// `external_values_milli`. A non-OK `status` means the metric could not be fetched (the HPA's
// FailedGetXMetric), the metric then counts as invalid.
struct MetricObservation {
  absl::Status status;
  PodSamples pod_samples;
  int64_t object_value_milli = 0;
  std::vector<int64_t> external_values_milli;
};

struct HpaObservations {
  std::vector<Pod> pods;                   // the pods the scale target's selector matches
  std::vector<MetricObservation> metrics;  // one per HpaSpec::metrics entry, same order
  // The scale's status.replicas (AverageValue Object/External paths); nullopt: current replicas.
  std::optional<int32_t> status_replicas;
};

struct MetricOutcome {
  absl::Status status;  // OK, or why this metric gave no proposal
  MetricProposal proposal;
};

struct HpaDecision {
  int32_t desired_replicas = 0;  // what the controller writes (== current when not rescaling)
  bool rescale = false;
  // Max of the metrics' proposals before normalization; -1 when the metrics were unusable.
  int32_t metric_desired_replicas = -1;
  std::string metric;  // the metric giving the max, e.g. "pods metric concurrency"
  // Upstream's rescale reason: "<metric> above target", "All metrics below target", "Current number
  // of replicas above Spec.MaxReplicas", "Current number of replicas below Spec.MinReplicas", or
  // "".
  std::string reason;
  // Condition reasons: AbleToScale ("ScaleUpStabilized", "ScaleDownStabilized",
  // "ReadyForNewScale") and ScalingLimited ("DesiredWithinRange", "ScaleUpLimit",
  // "ScaleDownLimit", "TooManyReplicas", "TooFewReplicas"); ScalingActive false reasons
  // ("ScalingDisabled", "FailedComputeMetricsReplicas") go to `scaling_disabled_reason`.
  std::string able_to_scale_reason;
  std::string scaling_limited_reason;
  std::string scaling_disabled_reason;
  std::vector<MetricOutcome> metrics;  // per spec metric
  // Set when some (or all) metrics failed: upstream's "invalid metrics (N invalid out of M), first
  // error is: ...". With all invalid (or invalid while scaling down) nothing changes.
  absl::Status error;
};

class HpaController {
 public:
  // InvalidArgument naming the field for an invalid spec (no metrics, min/max, targets <= 0,
  // behavior values, min 0 without an Object/External metric, a Utilization target on a non-
  // Resource metric...).
  static absl::StatusOr<HpaController> Create(HpaSpec spec, HpaControllerOptions options = {});

  // One reconcile at `now` (non-decreasing across calls). `current_replicas` is the scale's
  // spec.replicas. Records the recommendation and, when rescaling, the scale event.
  HpaDecision Sync(absl::Time now, int32_t current_replicas, const HpaObservations& observations);

  // What Sync would decide, without recording anything.
  HpaDecision Peek(absl::Time now, int32_t current_replicas,
                   const HpaObservations& observations) const;

  // Records a recommendation as if a sync at `time` had made it (before any later Sync), for
  // emulators and predictions that start from a steady state rather than from an empty history.
  void SeedRecommendation(absl::Time time, int32_t replicas) {
    recommendations_.push_back({replicas, time});
  }

  const HpaSpec& spec() const { return spec_; }
  // The defaulted behavior; nullptr on the legacy path.
  const Behavior* behavior() const { return behavior_ ? &*behavior_ : nullptr; }

  using Recommendation = scaling::Recommendation;
  const std::vector<Recommendation>& recommendations() const { return recommendations_; }
  const std::vector<ScaleEvent>& scale_up_events() const { return scale_up_events_; }
  const std::vector<ScaleEvent>& scale_down_events() const { return scale_down_events_; }

 private:
  HpaController(HpaSpec spec, HpaControllerOptions options);
  // The decision part of upstream reconcileAutoscaler: the min/max and scaling-disabled checks,
  // then the metrics' proposal normalized; `recommendations` is the history it reads and updates.
  HpaDecision Decide(absl::Time now, int32_t current_replicas, const HpaObservations& observations,
                     std::vector<Recommendation>* recommendations) const;
  // Upstream computeReplicasForMetrics: every metric's outcome into `d->metrics`, the first error
  // into `d->error`, and the highest proposal (its metric into `d->metric`); nullopt when all
  // metrics are invalid, or some are and the rest would scale down.
  std::optional<int32_t> ComputeReplicasForMetrics(absl::Time now, int32_t current_replicas,
                                                   const HpaObservations& observations,
                                                   HpaDecision* d) const;
  // Upstream computeReplicasForMetric: the proposal of spec metric `m` from its observation.
  absl::StatusOr<MetricProposal> ComputeReplicasForMetric(absl::Time now, const MetricSpec& m,
                                                          const MetricObservation& observation,
                                                          int32_t spec_replicas,
                                                          int32_t status_replicas,
                                                          const std::vector<Pod>& pods) const;
  // Upstream normalizeDesiredReplicas (no behavior) and normalizeDesiredReplicasWithBehaviors:
  // the normalized count of `prenormalized`; set the AbleToScale and ScalingLimited reasons of `d`.
  int32_t NormalizeDesiredReplicas(absl::Time now, int32_t current_replicas, int32_t prenormalized,
                                   std::vector<Recommendation>* recommendations,
                                   HpaDecision* d) const;
  int32_t NormalizeDesiredReplicasWithBehaviors(absl::Time now, int32_t current_replicas,
                                                int32_t prenormalized,
                                                std::vector<Recommendation>* recommendations,
                                                HpaDecision* d) const;
  void StoreScaleEvent(absl::Time now, int32_t previous, int32_t next);

  HpaSpec spec_;
  HpaControllerOptions options_;
  std::optional<Behavior> behavior_;
  std::vector<Recommendation> recommendations_;
  std::vector<ScaleEvent> scale_up_events_;
  std::vector<ScaleEvent> scale_down_events_;
};

}  // namespace aa::scaling
