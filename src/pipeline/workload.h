#pragma once
// Aggregation of one metric table over a set of pods: what the query API, the Kubernetes APIs and
// KEDA report.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "pipeline/snapshot.h"

namespace aa::pipeline {

struct WorkloadStats {
  int pods = 0;               // pods with a value
  double total = 0;           // sum of the values
  double average = 0;         // total / pods (0 when no pods)
  double baseline_total = 0;  // sum of the baselines of pods that have one
  int pods_with_baseline = 0;
  // Utilization in percent: 100 * total / baseline_total for metrics with a baseline (as the HPA
  // computes CPU utilization), else 100 * average / target. Unset when neither is known, or when
  // the ratio is not finite.
  std::optional<double> utilization_percent;
  std::optional<double> target;  // per-pod target value used (metrics without baseline)
  std::optional<double>
      target_utilization;  // target utilization percent used (metrics with baseline)
};

// Aggregates the pods of `table` for which `include` returns true (all when it is empty). `target`
// overrides the definition's per-pod target; `target_utilization` its target utilization. Pure;
// thread-safe.
WorkloadStats Aggregate(const config::MetricDefinition& def, const MetricTable& table,
                        const std::function<bool(const PodValue&)>& include,
                        std::optional<double> target, std::optional<double> target_utilization);

// Per-pod utilization in percent (baseline or target based), unset when unknown or not finite.
std::optional<double> PodUtilizationPercent(const config::MetricDefinition& def,
                                            const PodValue& pod, std::optional<double> target);

}  // namespace aa::pipeline
