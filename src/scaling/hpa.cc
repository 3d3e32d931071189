#include "scaling/hpa.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/enum_names.h"

namespace aa::scaling {
namespace {

using PodSet = std::set<std::string>;

constexpr int32_t kMaxInt32 = std::numeric_limits<int32_t>::max();
constexpr int32_t kMinInt32 = std::numeric_limits<int32_t>::min();

// int32(math.Ceil(x)) for the finite, in-range values the calculator produces; saturates otherwise.
int32_t CeilToInt32(double x) {
  if (std::isnan(x)) return 0;
  double c = std::ceil(x);
  if (c >= static_cast<double>(kMaxInt32)) return kMaxInt32;
  if (c <= static_cast<double>(kMinInt32)) return kMinInt32;
  return static_cast<int32_t>(c);
}

int32_t TruncToInt32(double x) {
  if (std::isnan(x)) return 0;
  if (x >= static_cast<double>(kMaxInt32)) return kMaxInt32;
  if (x <= static_cast<double>(kMinInt32)) return kMinInt32;
  return static_cast<int32_t>(x);
}

absl::Status NoPodsError() {
  return absl::FailedPreconditionError(
      "no pods returned by selector while calculating replica count");
}

struct PodGroups {
  int ready_count = 0;
  PodSet unready;
  PodSet missing;
  PodSet ignored;
};

// Upstream groupPods.
PodGroups GroupPods(const std::vector<Pod>& pods, const PodSamples& samples,
                    std::string_view resource, const ReplicaCalculatorOptions& options,
                    absl::Time now) {
  PodGroups g;
  for (const Pod& pod : pods) {
    if (pod.deleting || pod.phase == PodPhase::kFailed) {
      g.ignored.insert(pod.name);
      continue;
    }
    if (pod.phase == PodPhase::kPending) {
      g.unready.insert(pod.name);
      continue;
    }
    auto it = samples.find(pod.name);
    if (it == samples.end()) {
      g.missing.insert(pod.name);
      continue;
    }
    if (resource == "cpu") {
      bool unready = false;
      if (!pod.ready.has_value() || !pod.start_time.has_value()) {
        unready = true;
      } else if (*pod.start_time + options.cpu_initialization_period > now) {
        // Still within the initialization period: ignore the sample if the pod is unready or one
        // metric window has not passed since its last readiness transition.
        unready = !*pod.ready || it->second.timestamp < pod.ready_transition + it->second.window;
      } else {
        // Ignore the sample if the pod is unready and has never been ready.
        unready = !*pod.ready && *pod.start_time + options.delay_of_initial_readiness_status >
                                     pod.ready_transition;
      }
      if (unready) {
        g.unready.insert(pod.name);
        continue;
      }
    }
    ++g.ready_count;
  }
  return g;
}

// The first steps of both pod-based calculations (upstream calcPlainMetricReplicas and
// calcResourceReplicas): groups the pods, then keeps in `samples` only the ready pods' ones.
// FailedPrecondition when none is left.
absl::StatusOr<PodGroups> GroupPodsKeepReadySamples(const std::vector<Pod>& pods,
                                                    PodSamples& samples, std::string_view resource,
                                                    const ReplicaCalculatorOptions& options,
                                                    absl::Time now) {
  PodGroups g = GroupPods(pods, samples, resource, options, now);
  for (const PodSet* dropped : {&g.ignored, &g.unready}) {
    for (const std::string& name : *dropped) samples.erase(name);
  }
  if (samples.empty()) {
    return absl::FailedPreconditionError(
        "did not receive metrics for targeted pods (pods might be unready)");
  }
  return g;
}

// Upstream calculatePodRequests: the sum of the containers' requests per pod.
absl::StatusOr<std::map<std::string, int64_t>> PodRequests(const std::vector<Pod>& pods,
                                                           std::string_view container,
                                                           std::string_view resource) {
  std::map<std::string, int64_t> requests;
  for (const Pod& pod : pods) {
    int64_t total = 0;
    for (const Container& c : pod.containers) {
      if (!container.empty() && c.name != container) continue;
      auto it = c.requests_milli.find(std::string(resource));
      if (it == c.requests_milli.end()) {
        return absl::FailedPreconditionError(absl::StrCat("missing request for ",
                                                          std::string(resource), " in container ",
                                                          c.name, " of Pod ", pod.name));
      }
      total += it->second;
    }
    requests[pod.name] = total;
  }
  return requests;
}

struct UtilizationRatio {
  double ratio = 0;
  int32_t utilization = 0;
  int64_t raw_average = 0;
};

// Upstream GetResourceUtilizationRatio.
absl::StatusOr<UtilizationRatio> ResourceUtilizationRatio(
    const PodSamples& samples, const std::map<std::string, int64_t>& requests, int32_t target) {
  int64_t metrics_total = 0;
  int64_t requests_total = 0;
  int64_t entries = 0;
  for (const auto& [name, sample] : samples) {
    auto it = requests.find(name);
    if (it == requests.end()) continue;  // extraneous sample
    metrics_total += sample.milli_value;
    requests_total += it->second;
    ++entries;
  }
  if (requests_total == 0) {
    return absl::FailedPreconditionError("no metrics returned matched known pods");
  }
  UtilizationRatio r;
  r.utilization = static_cast<int32_t>((metrics_total * 100) / requests_total);
  r.ratio = static_cast<double>(r.utilization) / static_cast<double>(target);
  r.raw_average = metrics_total / entries;
  return r;
}

// Upstream GetMetricUsageRatio.
std::pair<double, int64_t> UsageRatio(const PodSamples& samples, int64_t target) {
  int64_t total = 0;
  for (const auto& [name, sample] : samples) total += sample.milli_value;
  int64_t usage = total / static_cast<int64_t>(samples.size());
  return {static_cast<double>(usage) / static_cast<double>(target), usage};
}

bool DirectionFlips(double old_ratio, double new_ratio) {
  return (old_ratio < 1.0 && new_ratio > 1.0) || (old_ratio > 1.0 && new_ratio < 1.0);
}

// The count when no pod is missing and no unready pod holds a scale-up back: `current` within the
// tolerance, else `ratio` times the ready pods, rounded up.
int32_t ReplicasFromReadyPods(const Tolerances& tolerances, double ratio, int32_t current,
                              int ready) {
  return tolerances.IsWithin(ratio) ? current : CeilToInt32(ratio * static_cast<double>(ready));
}

// The count after missing and unready pods were filled in (`entries` samples, `new_ratio` from
// them): `current` when the new ratio is within the tolerance, turns the direction of the first
// `ratio` round, or would move the count the other way than the new ratio says.
int32_t RebalancedCount(const Tolerances& tolerances, int32_t current, double ratio,
                        double new_ratio, size_t entries) {
  if (tolerances.IsWithin(new_ratio) || DirectionFlips(ratio, new_ratio)) return current;
  int32_t n = CeilToInt32(new_ratio * static_cast<double>(entries));
  if ((new_ratio < 1.0 && n > current) || (new_ratio > 1.0 && n < current)) return current;
  return n;
}

// Upstream calcPlainMetricReplicas (Pods metrics and Resource AverageValue).
absl::StatusOr<MetricProposal> PlainMetricReplicas(PodSamples samples, int32_t current,
                                                   int64_t target, const std::vector<Pod>& pods,
                                                   std::string_view resource,
                                                   const Tolerances& tolerances,
                                                   const ReplicaCalculatorOptions& options,
                                                   absl::Time now) {
  if (pods.empty()) return NoPodsError();
  if (target <= 0) return absl::InvalidArgumentError("target must be positive");
  absl::StatusOr<PodGroups> g = GroupPodsKeepReadySamples(pods, samples, resource, options, now);
  if (!g.ok()) return g.status();
  auto [ratio, usage] = UsageRatio(samples, target);
  MetricProposal p;
  p.usage_milli = usage;
  bool scale_up_with_unready = !g->unready.empty() && ratio > 1.0;
  if (!scale_up_with_unready && g->missing.empty()) {
    p.replicas = ReplicasFromReadyPods(tolerances, ratio, current, g->ready_count);
    return p;
  }
  for (const std::string& name : g->missing) {
    samples[name] = PodSample{ratio < 1.0 ? target : 0, now, absl::Minutes(1)};
  }
  if (scale_up_with_unready) {
    for (const std::string& name : g->unready) samples[name] = PodSample{0, now, absl::Minutes(1)};
  }
  double new_ratio = UsageRatio(samples, target).first;
  p.replicas = RebalancedCount(tolerances, current, ratio, new_ratio, samples.size());
  return p;
}

// Upstream getReadyPodsCount: running pods whose Ready condition is true.
absl::StatusOr<int64_t> ReadyPodsCount(const std::vector<Pod>& pods) {
  if (pods.empty()) return NoPodsError();
  int64_t n = 0;
  for (const Pod& pod : pods) {
    if (pod.phase == PodPhase::kRunning && pod.ready.value_or(false)) ++n;
  }
  return n;
}

// Upstream getUsageRatioReplicaCount.
absl::StatusOr<int32_t> UsageRatioReplicaCount(int32_t current, double ratio,
                                               const std::vector<Pod>& pods,
                                               const Tolerances& tolerances) {
  if (current != 0) {
    if (tolerances.IsWithin(ratio)) return current;
    absl::StatusOr<int64_t> ready = ReadyPodsCount(pods);
    if (!ready.ok()) return ready.status();
    return CeilToInt32(ratio * static_cast<double>(*ready));
  }
  return CeilToInt32(ratio);
}

MetricProposal PerPodReplicas(int32_t status_replicas, int64_t target, int64_t usage,
                              const Tolerances& tolerances) {
  MetricProposal p;
  p.replicas = status_replicas;
  double ratio = static_cast<double>(usage) /
                 (static_cast<double>(target) * static_cast<double>(status_replicas));
  if (!tolerances.IsWithin(ratio)) {
    p.replicas = CeilToInt32(static_cast<double>(usage) / static_cast<double>(target));
  }
  p.usage_milli = status_replicas > 0
                      ? static_cast<int64_t>(std::ceil(static_cast<double>(usage) /
                                                       static_cast<double>(status_replicas)))
                      : usage;
  return p;
}

int64_t Sum(const std::vector<int64_t>& values) {
  int64_t total = 0;
  for (int64_t v : values) total += v;
  return total;
}

}  // namespace

int64_t MilliValue(double value) {
  if (std::isnan(value)) return 0;
  double m = std::ceil(value * 1000.0);
  if (m >= 9.2e18) return std::numeric_limits<int64_t>::max();
  if (m <= -9.2e18) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(m);
}

bool Tolerances::IsWithin(double ratio) const {
  return (1.0 - scale_down) <= ratio && ratio <= (1.0 + scale_up);
}

absl::StatusOr<MetricProposal> ResourceUtilizationReplicas(
    int32_t current_replicas, int32_t target_utilization_percent, std::string_view resource,
    std::string_view container, const std::vector<Pod>& pods, PodSamples samples,
    const Tolerances& tolerances, const ReplicaCalculatorOptions& options, absl::Time now) {
  if (pods.empty()) return NoPodsError();
  if (target_utilization_percent <= 0) {
    return absl::InvalidArgumentError("target utilization must be positive");
  }
  absl::StatusOr<PodGroups> g = GroupPodsKeepReadySamples(pods, samples, resource, options, now);
  if (!g.ok()) return g.status();
  absl::StatusOr<std::map<std::string, int64_t>> requests = PodRequests(pods, container, resource);
  if (!requests.ok()) return requests.status();
  absl::StatusOr<UtilizationRatio> first =
      ResourceUtilizationRatio(samples, *requests, target_utilization_percent);
  if (!first.ok()) return first.status();
  MetricProposal p;
  p.utilization_percent = first->utilization;
  p.usage_milli = first->raw_average;
  const double ratio = first->ratio;
  bool scale_up_with_unready = !g->unready.empty() && ratio > 1.0;
  if (!scale_up_with_unready && g->missing.empty()) {
    p.replicas = ReplicasFromReadyPods(tolerances, ratio, current_replicas, g->ready_count);
    return p;
  }
  if (!g->missing.empty()) {
    if (ratio < 1.0) {
      // On a scale-down, missing pods count as using their full request (or the target when it is
      // above 100 %).
      int64_t fallback = std::max<int64_t>(100, target_utilization_percent);
      for (const std::string& name : g->missing) {
        samples[name] = PodSample{(*requests)[name] * fallback / 100, now, absl::Minutes(1)};
      }
    } else if (ratio > 1.0) {
      for (const std::string& name : g->missing)
        samples[name] = PodSample{0, now, absl::Minutes(1)};
    }
  }
  if (scale_up_with_unready) {
    for (const std::string& name : g->unready) samples[name] = PodSample{0, now, absl::Minutes(1)};
  }
  absl::StatusOr<UtilizationRatio> second =
      ResourceUtilizationRatio(samples, *requests, target_utilization_percent);
  if (!second.ok()) return second.status();
  p.replicas = RebalancedCount(tolerances, current_replicas, ratio, second->ratio, samples.size());
  return p;
}

absl::StatusOr<MetricProposal> ResourceAverageValueReplicas(
    int32_t current_replicas, int64_t target_average_milli, std::string_view resource,
    const std::vector<Pod>& pods, PodSamples samples, const Tolerances& tolerances,
    const ReplicaCalculatorOptions& options, absl::Time now) {
  return PlainMetricReplicas(std::move(samples), current_replicas, target_average_milli, pods,
                             resource, tolerances, options, now);
}

absl::StatusOr<MetricProposal> PodsMetricReplicas(int32_t current_replicas,
                                                  int64_t target_average_milli,
                                                  const std::vector<Pod>& pods, PodSamples samples,
                                                  const Tolerances& tolerances) {
  return PlainMetricReplicas(std::move(samples), current_replicas, target_average_milli, pods, "",
                             tolerances, ReplicaCalculatorOptions{}, absl::InfinitePast());
}

absl::StatusOr<MetricProposal> ObjectValueReplicas(int32_t current_replicas, int64_t target_milli,
                                                   int64_t value_milli,
                                                   const std::vector<Pod>& pods,
                                                   const Tolerances& tolerances) {
  if (target_milli <= 0) return absl::InvalidArgumentError("target must be positive");
  double ratio = static_cast<double>(value_milli) / static_cast<double>(target_milli);
  absl::StatusOr<int32_t> n = UsageRatioReplicaCount(current_replicas, ratio, pods, tolerances);
  if (!n.ok()) return n.status();
  MetricProposal p;
  p.replicas = *n;
  p.usage_milli = value_milli;
  return p;
}

MetricProposal ObjectAverageValueReplicas(int32_t status_replicas, int64_t target_average_milli,
                                          int64_t value_milli, const Tolerances& tolerances) {
  return PerPodReplicas(status_replicas, target_average_milli, value_milli, tolerances);
}

absl::StatusOr<MetricProposal> ExternalValueReplicas(int32_t current_replicas, int64_t target_milli,
                                                     const std::vector<int64_t>& values_milli,
                                                     const std::vector<Pod>& pods,
                                                     const Tolerances& tolerances) {
  return ObjectValueReplicas(current_replicas, target_milli, Sum(values_milli), pods, tolerances);
}

MetricProposal ExternalAverageValueReplicas(int32_t status_replicas, int64_t target_average_milli,
                                            const std::vector<int64_t>& values_milli,
                                            const Tolerances& tolerances) {
  return PerPodReplicas(status_replicas, target_average_milli, Sum(values_milli), tolerances);
}

// ----- behavior -----

namespace {

ScalingRules Fill(const std::optional<ScalingRulesSpec>& spec, ScalingRules defaults) {
  if (!spec) return defaults;
  if (spec->select_policy) defaults.select_policy = *spec->select_policy;
  if (spec->stabilization_window_seconds) {
    defaults.stabilization_window_seconds = *spec->stabilization_window_seconds;
  }
  if (spec->policies) defaults.policies = *spec->policies;
  if (spec->tolerance) defaults.tolerance = *spec->tolerance;
  return defaults;
}

absl::Status ValidateRules(const std::optional<ScalingRulesSpec>& spec, const std::string& path) {
  if (!spec) return absl::OkStatus();
  if (spec->stabilization_window_seconds &&
      (*spec->stabilization_window_seconds < 0 || *spec->stabilization_window_seconds > 3600)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s.stabilizationWindowSeconds: must be in 0..3600 (got %d)", path,
                        *spec->stabilization_window_seconds));
  }
  if (spec->tolerance && !(*spec->tolerance >= 0)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s.tolerance: must be >= 0 (got %g)", path, *spec->tolerance));
  }
  if (spec->policies) {
    bool disabled = spec->select_policy == SelectPolicy::kDisabled;
    if (spec->policies->empty() && !disabled) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s.policies: must have at least one policy", path));
    }
    for (size_t i = 0; i < spec->policies->size(); ++i) {
      const ScalingPolicy& p = (*spec->policies)[i];
      if (p.value <= 0) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s.policies[%d].value: must be greater than 0 (got %d)", path, i, p.value));
      }
      if (p.period_seconds <= 0 || p.period_seconds > 1800) {
        return absl::InvalidArgumentError(
            absl::StrFormat("%s.policies[%d].periodSeconds: must be in 1..1800 (got %d)", path, i,
                            p.period_seconds));
      }
    }
  }
  return absl::OkStatus();
}

// Upstream getReplicasChangePerPeriod.
int32_t ChangeInPeriod(int32_t period_seconds, const std::vector<ScaleEvent>& events,
                       absl::Time now) {
  absl::Time cutoff = now - absl::Seconds(period_seconds);
  int32_t n = 0;
  for (const ScaleEvent& e : events) {
    if (e.time > cutoff) n += e.replica_change;
  }
  return n;
}

int32_t LongestPolicyPeriod(const ScalingRules& rules) {
  int32_t longest = 0;
  for (const ScalingPolicy& p : rules.policies) longest = std::max(longest, p.period_seconds);
  return longest;
}

}  // namespace

Behavior DefaultedBehavior(const BehaviorSpec& spec, absl::Duration downscale_stabilization) {
  ScalingRules up;
  up.stabilization_window_seconds = 0;
  up.select_policy = SelectPolicy::kMax;
  up.policies = {{ScalingPolicyType::kPods, 4, 15}, {ScalingPolicyType::kPercent, 100, 15}};
  ScalingRules down;
  down.stabilization_window_seconds =
      static_cast<int32_t>(absl::ToInt64Seconds(downscale_stabilization));
  down.select_policy = SelectPolicy::kMax;
  down.policies = {{ScalingPolicyType::kPercent, 100, 15}};
  return Behavior{Fill(spec.scale_up, std::move(up)), Fill(spec.scale_down, std::move(down))};
}

Behavior KServeBehavior() { return DefaultedBehavior(BehaviorSpec{}); }

absl::Status ValidateBehaviorSpec(const BehaviorSpec& spec) {
  if (absl::Status s = ValidateRules(spec.scale_up, "behavior.scaleUp"); !s.ok()) return s;
  return ValidateRules(spec.scale_down, "behavior.scaleDown");
}

namespace {

// Upstream's per-policy limit loop, shared by both directions: each policy proposes a count from
// the replicas at the start of its period (current - added + deleted within it), and Max takes the
// largest change (the highest count up, the lowest down), Min the smallest.
int32_t PolicyLimit(bool scale_up, int32_t current, const std::vector<ScaleEvent>& scale_up_events,
                    const std::vector<ScaleEvent>& scale_down_events, const ScalingRules& rules,
                    absl::Time now) {
  if (rules.select_policy == SelectPolicy::kDisabled) return current;
  const bool pick_highest = (rules.select_policy == SelectPolicy::kMax) == scale_up;
  int32_t result = pick_highest ? kMinInt32 : kMaxInt32;
  for (const ScalingPolicy& policy : rules.policies) {
    int32_t added = ChangeInPeriod(policy.period_seconds, scale_up_events, now);
    int32_t deleted = ChangeInPeriod(policy.period_seconds, scale_down_events, now);
    int32_t start = current - added + deleted;
    int32_t proposed = 0;
    if (policy.type == ScalingPolicyType::kPods) {
      proposed = scale_up ? start + policy.value : start - policy.value;
    } else if (scale_up) {
      // Rounded up, or a small deployment could never grow.
      proposed = CeilToInt32(static_cast<double>(start) * (1.0 + policy.value / 100.0));
    } else {
      proposed = TruncToInt32(static_cast<double>(start) * (1.0 - policy.value / 100.0));
    }
    result = pick_highest ? std::max(result, proposed) : std::min(result, proposed);
  }
  return result;
}

}  // namespace

int32_t ScaleUpLimit(int32_t current, const std::vector<ScaleEvent>& scale_up_events,
                     const std::vector<ScaleEvent>& scale_down_events, const ScalingRules& rules,
                     absl::Time now) {
  return PolicyLimit(/*scale_up=*/true, current, scale_up_events, scale_down_events, rules, now);
}

int32_t ScaleDownLimit(int32_t current, const std::vector<ScaleEvent>& scale_up_events,
                       const std::vector<ScaleEvent>& scale_down_events, const ScalingRules& rules,
                       absl::Time now) {
  return PolicyLimit(/*scale_up=*/false, current, scale_up_events, scale_down_events, rules, now);
}

// ----- normalization -----

namespace {

// Records `desired` at `now`: in the slot of `old_index` when `found_old`, else appended.
void RecordRecommendation(int32_t desired, absl::Time now, bool found_old, size_t old_index,
                          std::vector<Recommendation>* recommendations) {
  if (found_old) {
    (*recommendations)[old_index] = {desired, now};
  } else {
    recommendations->push_back({desired, now});
  }
}

}  // namespace

int32_t StabilizeRecommendation(int32_t desired, absl::Duration window, absl::Time now,
                                std::vector<Recommendation>* recommendations) {
  int32_t max_recommendation = desired;
  bool found_old = false;
  size_t old_index = 0;
  const absl::Time cutoff = now - window;
  for (size_t i = 0; i < recommendations->size(); ++i) {
    const Recommendation& r = (*recommendations)[i];
    if (r.time < cutoff) {
      found_old = true;
      old_index = i;
    } else if (r.replicas > max_recommendation) {
      max_recommendation = r.replicas;
    }
  }
  RecordRecommendation(desired, now, found_old, old_index, recommendations);
  return max_recommendation;
}

int32_t CalculateScaleUpLimit(int32_t current) {
  return static_cast<int32_t>(std::max(2.0 * static_cast<double>(current), 4.0));
}

ReasonedReplicas ConvertDesiredReplicasWithRules(int32_t current, int32_t desired,
                                                 int32_t min_replicas, int32_t max_replicas) {
  // Not more than CalculateScaleUpLimit at once: upstream's guard against a bogus usage report
  // multiplying the replicas.
  const int32_t scale_up_limit = CalculateScaleUpLimit(current);
  int32_t maximum = max_replicas;
  std::string_view limit_reason = "TooManyReplicas";
  if (max_replicas > scale_up_limit) {
    maximum = scale_up_limit;
    limit_reason = "ScaleUpLimit";
  }
  if (desired < min_replicas) return {min_replicas, "TooFewReplicas"};
  if (desired > maximum) return {maximum, limit_reason};
  return {desired, "DesiredWithinRange"};
}

ReasonedReplicas StabilizeRecommendationWithBehaviors(
    const NormalizationArg& arg, const Behavior& behavior, absl::Time now,
    std::vector<Recommendation>* recommendations) {
  int32_t up_recommendation = arg.desired_replicas;
  int32_t down_recommendation = arg.desired_replicas;
  const absl::Time up_cutoff = now - absl::Seconds(behavior.scale_up.stabilization_window_seconds);
  const absl::Time down_cutoff =
      now - absl::Seconds(behavior.scale_down.stabilization_window_seconds);
  bool found_old = false;
  size_t old_index = 0;
  for (size_t i = 0; i < recommendations->size(); ++i) {
    const Recommendation& r = (*recommendations)[i];
    if (r.time > up_cutoff) up_recommendation = std::min(r.replicas, up_recommendation);
    if (r.time > down_cutoff) down_recommendation = std::max(r.replicas, down_recommendation);
    if (r.time < up_cutoff && r.time < down_cutoff) {
      found_old = true;
      old_index = i;
    }
  }
  // The current count, brought within [lowest recent up, highest recent down].
  int32_t stabilized = arg.current_replicas;
  if (stabilized < up_recommendation) stabilized = up_recommendation;
  if (stabilized > down_recommendation) stabilized = down_recommendation;
  RecordRecommendation(arg.desired_replicas, now, found_old, old_index, recommendations);
  return {stabilized, arg.desired_replicas >= arg.current_replicas ? "ScaleUpStabilized"
                                                                   : "ScaleDownStabilized"};
}

ReasonedReplicas ConvertDesiredReplicasWithBehaviorRate(
    const NormalizationArg& arg, const Behavior& behavior,
    const std::vector<ScaleEvent>& scale_up_events,
    const std::vector<ScaleEvent>& scale_down_events, absl::Time now) {
  const int32_t current = arg.current_replicas;
  const int32_t desired = arg.desired_replicas;
  if (desired > current) {
    int32_t limit =
        ScaleUpLimit(current, scale_up_events, scale_down_events, behavior.scale_up, now);
    // Below current while earlier scale-ups still count: no further scale-up until they age out.
    if (limit < current) limit = current;
    int32_t maximum = arg.max_replicas;
    std::string_view reason = "TooManyReplicas";
    if (maximum > limit) {
      maximum = limit;
      reason = "ScaleUpLimit";
    }
    if (desired > maximum) return {maximum, reason};
  } else if (desired < current) {
    int32_t limit =
        ScaleDownLimit(current, scale_up_events, scale_down_events, behavior.scale_down, now);
    if (limit > current) limit = current;
    int32_t minimum = arg.min_replicas;
    std::string_view reason = "TooFewReplicas";
    if (minimum < limit) {
      minimum = limit;
      reason = "ScaleDownLimit";
    }
    if (desired < minimum) return {minimum, reason};
  }
  return {desired, "DesiredWithinRange"};
}

// ----- the controller -----

namespace {

constexpr EnumName<MetricSourceType> kSourceNames[] = {
    {MetricSourceType::kResource, "resource"},
    {MetricSourceType::kContainerResource, "container resource"},
    {MetricSourceType::kPods, "pods metric"},
    {MetricSourceType::kObject, "object metric"},
    {MetricSourceType::kExternal, "external metric"}};

std::string_view SourceName(MetricSourceType t) { return NameOf(t, kSourceNames, "metric"); }

std::string MetricLabel(const MetricSpec& m) {
  std::string label = absl::StrCat(std::string(SourceName(m.source)), " ", m.name);
  if (m.source == MetricSourceType::kContainerResource) {
    absl::StrAppend(&label, " (container ", m.container, ")");
  }
  if (m.source == MetricSourceType::kResource || m.source == MetricSourceType::kContainerResource) {
    if (m.target_type == MetricTargetType::kUtilization) {
      absl::StrAppend(&label, " utilization (percentage of request)");
    }
  }
  return label;
}

absl::Status ValidateSpec(const HpaSpec& spec) {
  if (spec.metrics.empty()) return absl::InvalidArgumentError("metrics: at least one is required");
  if (spec.max_replicas < 1) {
    return absl::InvalidArgumentError(
        absl::StrFormat("maxReplicas: must be at least 1 (got %d)", spec.max_replicas));
  }
  if (spec.min_replicas < 0 || spec.min_replicas > spec.max_replicas) {
    return absl::InvalidArgumentError(
        absl::StrFormat("minReplicas: must be in 0..maxReplicas (%d) (got %d)", spec.max_replicas,
                        spec.min_replicas));
  }
  bool has_object_or_external = false;
  for (size_t i = 0; i < spec.metrics.size(); ++i) {
    const MetricSpec& m = spec.metrics[i];
    std::string path = absl::StrFormat("metrics[%d]", i);
    if (m.name.empty()) return absl::InvalidArgumentError(path + ".name: must not be empty");
    if (m.source == MetricSourceType::kObject || m.source == MetricSourceType::kExternal) {
      has_object_or_external = true;
    }
    if (m.source == MetricSourceType::kContainerResource && m.container.empty()) {
      return absl::InvalidArgumentError(path + ".container: required for ContainerResource");
    }
    const bool resource =
        m.source == MetricSourceType::kResource || m.source == MetricSourceType::kContainerResource;
    switch (m.target_type) {
      case MetricTargetType::kUtilization:
        if (!resource) {
          return absl::InvalidArgumentError(
              path + ".target.type: Utilization is only valid for Resource metrics");
        }
        if (m.target_utilization_percent <= 0) {
          return absl::InvalidArgumentError(
              absl::StrFormat("%s.target.averageUtilization: must be greater than 0 (got %d)", path,
                              m.target_utilization_percent));
        }
        break;
      case MetricTargetType::kAverageValue:
        if (m.target_milli <= 0) {
          return absl::InvalidArgumentError(absl::StrFormat(
              "%s.target.averageValue: must be positive (got %dm)", path, m.target_milli));
        }
        break;
      case MetricTargetType::kValue:
        if (m.source != MetricSourceType::kObject && m.source != MetricSourceType::kExternal) {
          return absl::InvalidArgumentError(
              path + ".target.type: Value is only valid for Object and External metrics");
        }
        if (m.target_milli <= 0) {
          return absl::InvalidArgumentError(
              absl::StrFormat("%s.target.value: must be positive (got %dm)", path, m.target_milli));
        }
        break;
    }
    if (m.source == MetricSourceType::kPods && m.target_type != MetricTargetType::kAverageValue) {
      return absl::InvalidArgumentError(path + ".target.type: Pods metrics need AverageValue");
    }
  }
  if (spec.min_replicas == 0 && !has_object_or_external) {
    return absl::InvalidArgumentError(
        "minReplicas: 0 needs at least one Object or External metric (got 0)");
  }
  if (spec.behavior) {
    if (absl::Status s = ValidateBehaviorSpec(*spec.behavior); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<HpaController> HpaController::Create(HpaSpec spec, HpaControllerOptions options) {
  if (absl::Status s = ValidateSpec(spec); !s.ok()) return s;
  if (!(options.tolerance >= 0)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("tolerance: must be >= 0 (got %g)", options.tolerance));
  }
  return HpaController(std::move(spec), options);
}

HpaController::HpaController(HpaSpec spec, HpaControllerOptions options)
    : spec_(std::move(spec)), options_(options) {
  if (spec_.behavior) {
    behavior_ = DefaultedBehavior(*spec_.behavior, options_.downscale_stabilization_window);
  }
}

HpaDecision HpaController::Sync(absl::Time now, int32_t current_replicas,
                                const HpaObservations& observations) {
  HpaDecision d = Decide(now, current_replicas, observations, &recommendations_);
  if (d.rescale) StoreScaleEvent(now, current_replicas, d.desired_replicas);
  return d;
}

HpaDecision HpaController::Peek(absl::Time now, int32_t current_replicas,
                                const HpaObservations& observations) const {
  std::vector<Recommendation> copy = recommendations_;
  return Decide(now, current_replicas, observations, &copy);
}

HpaDecision HpaController::Decide(absl::Time now, int32_t current_replicas,
                                  const HpaObservations& obs,
                                  std::vector<Recommendation>* recommendations) const {
  HpaDecision d;
  if (current_replicas == 0 && spec_.min_replicas != 0) {
    d.desired_replicas = 0;
    d.scaling_disabled_reason = "ScalingDisabled";
    return d;
  }
  if (current_replicas > spec_.max_replicas) {
    d.reason = "Current number of replicas above Spec.MaxReplicas";
    d.desired_replicas = spec_.max_replicas;
    d.rescale = true;
    return d;
  }
  if (current_replicas < spec_.min_replicas) {
    d.reason = "Current number of replicas below Spec.MinReplicas";
    d.desired_replicas = spec_.min_replicas;
    d.rescale = true;
    return d;
  }

  const std::optional<int32_t> metric_desired =
      ComputeReplicasForMetrics(now, current_replicas, obs, &d);
  if (!metric_desired) {
    d.desired_replicas = current_replicas;
    d.scaling_disabled_reason = "FailedComputeMetricsReplicas";
    return d;
  }
  d.metric_desired_replicas = *metric_desired;

  int32_t desired = 0;
  std::string rescale_metric;
  if (*metric_desired > desired) {
    desired = *metric_desired;
    rescale_metric = d.metric;
  }
  if (desired > current_replicas) d.reason = absl::StrCat(rescale_metric, " above target");
  if (desired < current_replicas) d.reason = "All metrics below target";
  desired = behavior_
                ? NormalizeDesiredReplicasWithBehaviors(now, current_replicas, desired,
                                                        recommendations, &d)
                : NormalizeDesiredReplicas(now, current_replicas, desired, recommendations, &d);
  d.rescale = desired != current_replicas;
  d.desired_replicas = d.rescale ? desired : current_replicas;
  return d;
}

std::optional<int32_t> HpaController::ComputeReplicasForMetrics(absl::Time now,
                                                                int32_t current_replicas,
                                                                const HpaObservations& obs,
                                                                HpaDecision* d) const {
  const int32_t spec_replicas = current_replicas;
  const int32_t status_replicas = obs.status_replicas.value_or(current_replicas);
  int32_t replicas = 0;
  int invalid = 0;
  absl::Status first_error;
  d->metrics.resize(spec_.metrics.size());
  for (size_t i = 0; i < spec_.metrics.size(); ++i) {
    const MetricSpec& m = spec_.metrics[i];
    MetricOutcome& out = d->metrics[i];
    absl::StatusOr<MetricProposal> proposal;
    if (i >= obs.metrics.size()) {
      proposal = absl::FailedPreconditionError(
          absl::StrFormat("no observation for metric %d (%s)", i, MetricLabel(m)));
    } else if (!obs.metrics[i].status.ok()) {
      proposal = obs.metrics[i].status;
    } else {
      proposal = ComputeReplicasForMetric(now, m, obs.metrics[i], spec_replicas, status_replicas,
                                          obs.pods);
    }
    if (!proposal.ok()) {
      out.status = proposal.status();
      if (invalid == 0) first_error = proposal.status();
      ++invalid;
      continue;
    }
    out.proposal = *proposal;
    if (replicas == 0 || proposal->replicas > replicas) {
      replicas = proposal->replicas;
      d->metric = MetricLabel(m);
    }
  }
  if (invalid > 0) {
    d->error =
        absl::Status(first_error.code(),
                     absl::StrFormat("invalid metrics (%d invalid out of %d), first error is: %s",
                                     invalid, spec_.metrics.size(), first_error.message()));
  }
  if (invalid >= static_cast<int>(spec_.metrics.size()) ||
      (invalid > 0 && replicas < spec_replicas)) {
    d->metric.clear();
    return std::nullopt;
  }
  return replicas;
}

absl::StatusOr<MetricProposal> HpaController::ComputeReplicasForMetric(
    absl::Time now, const MetricSpec& m, const MetricObservation& o, int32_t spec_replicas,
    int32_t status_replicas, const std::vector<Pod>& pods) const {
  // Per-direction tolerance from behavior (1.33+), else the controller's.
  Tolerances tol{options_.tolerance, options_.tolerance};
  if (behavior_) {
    tol.scale_up = behavior_->scale_up.tolerance.value_or(options_.tolerance);
    tol.scale_down = behavior_->scale_down.tolerance.value_or(options_.tolerance);
  }
  const ReplicaCalculatorOptions calc{options_.cpu_initialization_period,
                                      options_.delay_of_initial_readiness_status};
  switch (m.source) {
    case MetricSourceType::kResource:
    case MetricSourceType::kContainerResource: {
      // Both branches are string_views: a std::string/"" ternary would make a temporary.
      const std::string_view container = m.source == MetricSourceType::kContainerResource
                                             ? std::string_view(m.container)
                                             : std::string_view();
      if (m.target_type == MetricTargetType::kUtilization) {
        return ResourceUtilizationReplicas(spec_replicas, m.target_utilization_percent, m.name,
                                           container, pods, o.pod_samples, tol, calc, now);
      }
      return ResourceAverageValueReplicas(spec_replicas, m.target_milli, m.name, pods,
                                          o.pod_samples, tol, calc, now);
    }
    case MetricSourceType::kPods:
      return PodsMetricReplicas(spec_replicas, m.target_milli, pods, o.pod_samples, tol);
    case MetricSourceType::kObject:
    case MetricSourceType::kExternal: {
      // An External metric counts as one Object value: the sum of its series (upstream too).
      const int64_t value = m.source == MetricSourceType::kObject ? o.object_value_milli
                                                                  : Sum(o.external_values_milli);
      if (m.target_type == MetricTargetType::kValue) {
        return ObjectValueReplicas(spec_replicas, m.target_milli, value, pods, tol);
      }
      return ObjectAverageValueReplicas(status_replicas, m.target_milli, value, tol);
    }
  }
  return absl::InvalidArgumentError(
      absl::StrFormat("unknown metric source type %d", static_cast<int>(m.source)));
}

int32_t HpaController::NormalizeDesiredReplicas(absl::Time now, int32_t current_replicas,
                                                int32_t prenormalized,
                                                std::vector<Recommendation>* recommendations,
                                                HpaDecision* d) const {
  const int32_t stabilized = StabilizeRecommendation(
      prenormalized, options_.downscale_stabilization_window, now, recommendations);
  d->able_to_scale_reason =
      stabilized != prenormalized ? "ScaleDownStabilized" : "ReadyForNewScale";
  const ReasonedReplicas limited = ConvertDesiredReplicasWithRules(
      current_replicas, stabilized, spec_.min_replicas, spec_.max_replicas);
  d->scaling_limited_reason = limited.reason;
  return limited.replicas;
}

int32_t HpaController::NormalizeDesiredReplicasWithBehaviors(
    absl::Time now, int32_t current_replicas, int32_t prenormalized,
    std::vector<Recommendation>* recommendations, HpaDecision* d) const {
  NormalizationArg arg{spec_.min_replicas, spec_.max_replicas, current_replicas, prenormalized};
  const ReasonedReplicas stabilized =
      StabilizeRecommendationWithBehaviors(arg, *behavior_, now, recommendations);
  d->able_to_scale_reason =
      stabilized.replicas != prenormalized ? stabilized.reason : "ReadyForNewScale";
  arg.desired_replicas = stabilized.replicas;
  const ReasonedReplicas limited = ConvertDesiredReplicasWithBehaviorRate(
      arg, *behavior_, scale_up_events_, scale_down_events_, now);
  d->scaling_limited_reason = limited.reason;
  return limited.replicas;
}

void HpaController::StoreScaleEvent(absl::Time now, int32_t previous, int32_t next) {
  if (!behavior_ || previous == next) return;
  const bool up = next > previous;
  std::vector<ScaleEvent>& events = up ? scale_up_events_ : scale_down_events_;
  const ScalingRules& rules = up ? behavior_->scale_up : behavior_->scale_down;
  absl::Time cutoff = now - absl::Seconds(LongestPolicyPeriod(rules));
  bool found_old = false;
  size_t old_index = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].time < cutoff) events[i].outdated = true;
    if (events[i].outdated) {
      found_old = true;
      old_index = i;
    }
  }
  ScaleEvent e{up ? next - previous : previous - next, now, false};
  if (found_old) {
    events[old_index] = e;
  } else {
    events.push_back(e);
  }
}

}  // namespace aa::scaling
