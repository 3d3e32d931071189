#include "keda/scaler.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/strings.h"
#include "pipeline/pod_select.h"
#include "selector/selector.h"

namespace aa::keda {
namespace {

constexpr size_t kMaxListedNames = 50;

// Definitions KEDA triggers may name: the metrics.k8s.io internals (per-container and per-node cpu
// and memory) are not metrics of a workload.
bool ServedToKeda(const config::MetricDefinition& def) {
  return def.resource != "containers" && def.resource != "nodemetrics";
}

std::vector<const config::MetricDefinition*> Candidates(const pipeline::MetricSet& set,
                                                        std::string_view name) {
  std::vector<const config::MetricDefinition*> out;
  for (const config::MetricDefinition* def : set.FindAll(name)) {
    if (ServedToKeda(*def)) out.push_back(def);
  }
  return out;
}

std::string Resources(const std::vector<const config::MetricDefinition*>& defs) {
  std::vector<std::string> names;
  names.reserve(defs.size());
  for (const config::MetricDefinition* def : defs) names.push_back(def->resource);
  return absl::StrJoin(names, ", ");
}

// "concurrency, cpu, http_requests_per_second (pods, namespaces), queue_depth (external)".
std::string ServedNames(const pipeline::MetricSet& set) {
  std::vector<std::string> out;
  size_t total = 0;
  for (const auto& [name, indexes] : set.by_name) {
    auto defs = Candidates(set, name);
    if (defs.empty()) continue;
    if (++total > kMaxListedNames) continue;
    if (defs.size() == 1 && defs[0]->resource == "pods") {
      out.push_back(name);
    } else {
      out.push_back(absl::StrCat(name, " (", Resources(defs), ")"));
    }
  }
  if (total > kMaxListedNames) out.push_back(absl::StrCat("... (", total - out.size(), " more)"));
  return out.empty() ? std::string("none") : absl::StrJoin(out, ", ");
}

}  // namespace

absl::Status Scaler::UnknownMetric(const Trigger& trigger, const pipeline::MetricSet& set) const {
  std::string gone;
  {
    std::lock_guard lock(seen_mu_);
    if (auto it = seen_discovered_.find(trigger.metric); it != seen_discovered_.end()) {
      gone = it->second;
    }
  }
  if (!gone.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "scalerMetadata.metric: metric \"", trigger.metric, "\" (", gone,
        ") is no longer served: the latest rule discovery found no series for it (discovery runs "
        "every ",
        absl::FormatDuration(sampler_.config().discovery_interval),
        "; the metric comes back when its series do); this adapter serves: ", ServedNames(set)));
  }
  return absl::NotFoundError(absl::StrCat("scalerMetadata.metric: unknown metric \"",
                                          trigger.metric,
                                          "\"; this adapter serves: ", ServedNames(set)));
}

absl::StatusOr<ResolvedMetric> Scaler::Resolve(const Trigger& trigger) const {
  ResolvedMetric out;
  out.metrics = sampler_.metrics();
  const pipeline::MetricSet& set = *out.metrics;
  std::vector<const config::MetricDefinition*> defs = Candidates(set, trigger.metric);
  if (defs.empty()) return UnknownMetric(trigger, set);
  if (!trigger.resource.empty()) {
    for (const config::MetricDefinition* def : defs) {
      if (def->resource == trigger.resource) out.definition = def;
    }
    if (out.definition == nullptr) {
      return absl::NotFoundError(absl::StrCat("scalerMetadata.resource: metric \"", trigger.metric,
                                              "\" is not served for \"", trigger.resource,
                                              "\"; it is served for: ", Resources(defs)));
    }
  } else {
    for (const config::MetricDefinition* def : defs) {
      if (def->resource == "pods") out.definition = def;
    }
    if (out.definition == nullptr && defs.size() == 1) out.definition = defs[0];
    if (out.definition == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("scalerMetadata.resource: metric \"", trigger.metric,
                       "\" is served for several resources (", Resources(defs),
                       "): set resource to the one to scale on"));
    }
  }
  const config::MetricDefinition& def = *out.definition;
  if (def.resource == "pods") {
    out.pod_selector = trigger.label_selector;
  } else if (!trigger.inference_service.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "scalerMetadata.inferenceService: selects pods, but metric \"", def.name, "\" is ",
        def.resource == "external" ? std::string("an external metric: use labelSelector to filter "
                                                 "its series")
                                   : absl::StrCat("a metric of ", def.resource)));
  } else if (def.resource == "external") {
    // As external.metrics.k8s.io serves externalRules: the selector filters the series in the
    // query.
    auto series =
        selector::ParseSeriesSelector(trigger.label_selector, "scalerMetadata.labelSelector");
    if (!series.ok()) return series.status();
    out.extra_matchers = std::move(series->matchers);
  } else if (!trigger.label_selector.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "scalerMetadata.labelSelector: selecting ", def.resource,
        " by their labels is not supported (this adapter knows pods' labels only); without it the "
        "value is ",
        def.resource == "namespaces"
            ? std::string("the namespace's own")
            : absl::StrCat("the sum over the namespace's ", def.resource)));
  }
  if (!def.rule.empty()) {
    std::lock_guard lock(seen_mu_);
    if (seen_discovered_.size() < kMaxRemembered || seen_discovered_.contains(def.name)) {
      seen_discovered_[def.name] = absl::StrCat(def.resource, ", from ", def.rule);
    }
  }
  return out;
}

bool Scaler::WouldWait(const Trigger& trigger) const {
  auto metric = Resolve(trigger);
  return metric.ok() && !sampler_.HasSlot(trigger.metric, trigger.ns, metric->definition->resource,
                                          metric->extra_matchers);
}

absl::StatusOr<Observation> Scaler::StatsFor(const Trigger& trigger,
                                             const ResolvedMetric& metric) const {
  auto read =
      sampler_.Read(trigger.metric, trigger.ns, metric.definition->resource, metric.extra_matchers);
  if (!read.ok()) {
    // The metric may have disappeared between Resolve() and Read().
    if (read.status().code() == absl::StatusCode::kNotFound) {
      auto again = Resolve(trigger);
      if (!again.ok()) return again.status();
    }
    return read.status();
  }
  pipeline::PodPredicate include;
  if (!metric.pod_selector.empty()) {
    auto selected = pipeline::PodSelector(*read->snapshot, trigger.ns, metric.pod_selector);
    if (!selected.ok()) return selected.status();
    include = *std::move(selected);
  }
  Observation obs;
  obs.metrics = read->metrics;
  obs.definition = read->definition;
  obs.generation = read->snapshot->generation;
  obs.stats =
      pipeline::Aggregate(*read->definition, *read->table, include, std::nullopt, std::nullopt);
  return obs;
}

absl::StatusOr<Observation> Scaler::Stats(const Trigger& trigger) const {
  auto metric = Resolve(trigger);
  if (!metric.ok()) return metric.status();
  return StatsFor(trigger, *metric);
}

absl::StatusOr<Observation> Scaler::StatsIfSampled(const Trigger& trigger) const {
  auto metric = Resolve(trigger);
  if (!metric.ok()) return metric.status();
  if (!sampler_.HasSlot(trigger.metric, trigger.ns, metric->definition->resource,
                        metric->extra_matchers)) {
    return absl::FailedPreconditionError(
        absl::StrCat("metric ", trigger.metric, " in namespace ", trigger.ns, ": not sampled yet"));
  }
  return StatsFor(trigger, *metric);
}

absl::StatusOr<MetricSpecResult> Scaler::MetricSpec(const Trigger& trigger) const {
  auto metric = Resolve(trigger);
  if (!metric.ok()) return metric.status();
  auto rule = ResolveTargetRule(trigger, *metric->definition);
  if (!rule.ok()) return rule.status();
  pipeline::WorkloadStats stats;
  if (rule->kind == TargetRule::Kind::kBaselinePercent) {
    auto obs = StatsFor(trigger, *metric);
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
