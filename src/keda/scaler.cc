#include "keda/scaler.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "pipeline/pod_select.h"

namespace aa::keda {

absl::StatusOr<const config::MetricDefinition*> Scaler::FindDefinition(
    const Trigger& trigger) const {
  const config::Config& config = sampler_.config();
  if (const config::MetricDefinition* def = config.FindMetric(trigger.metric)) return def;
  std::vector<std::string> names;
  for (const auto& d : config.metrics) names.push_back(d.name);
  return absl::NotFoundError(absl::StrCat("scalerMetadata.metric: unknown metric \"",
                                          trigger.metric,
                                          "\"; this adapter serves: ", absl::StrJoin(names, ", ")));
}

absl::StatusOr<Observation> Scaler::Stats(const Trigger& trigger) const {
  auto read = sampler_.Read(trigger.metric, trigger.ns);
  if (!read.ok()) return read.status();
  pipeline::PodPredicate include;
  if (!trigger.label_selector.empty()) {
    auto selected = pipeline::PodSelector(*read->snapshot, trigger.ns, trigger.label_selector);
    if (!selected.ok()) return selected.status();
    include = *std::move(selected);
  }
  Observation obs;
  obs.definition = read->definition;
  obs.generation = read->snapshot->generation;
  obs.stats =
      pipeline::Aggregate(*read->definition, *read->table, include, std::nullopt, std::nullopt);
  return obs;
}

absl::StatusOr<Observation> Scaler::StatsIfSampled(const Trigger& trigger) const {
  if (sampler_.snapshot()->FindSlot(trigger.metric, trigger.ns) == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("metric ", trigger.metric, " in namespace ", trigger.ns, ": not sampled yet"));
  }
  return Stats(trigger);
}

absl::StatusOr<MetricSpecResult> Scaler::MetricSpec(const Trigger& trigger) const {
  auto def = FindDefinition(trigger);
  if (!def.ok()) return def.status();
  auto rule = ResolveTargetRule(trigger, **def);
  if (!rule.ok()) return rule.status();
  pipeline::WorkloadStats stats;
  if (rule->kind == TargetRule::Kind::kBaselinePercent) {
    auto obs = Stats(trigger);
    if (!obs.ok()) return obs.status();
    stats = obs->stats;
  }
  auto target = PerPodTarget(*rule, stats, trigger.metric);
  if (!target.ok()) return target.status();
  return MetricSpecResult{trigger.MetricName(), *target, TargetSize(*target)};
}

absl::StatusOr<MetricValueResult> Scaler::Metrics(const Trigger& trigger) const {
  auto obs = Stats(trigger);
  if (!obs.ok()) return obs.status();
  return MetricValueResult{trigger.MetricName(), obs->stats.total, RoundForKeda(obs->stats.total),
                           obs->stats.pods};
}

absl::StatusOr<bool> Scaler::IsActive(const Trigger& trigger) const {
  auto obs = Stats(trigger);
  if (!obs.ok()) return obs.status();
  return obs->stats.total > trigger.activation_threshold;
}

}  // namespace aa::keda
