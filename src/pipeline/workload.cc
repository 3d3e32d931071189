#include "pipeline/workload.h"

#include <cmath>

namespace aa::pipeline {

WorkloadStats Aggregate(const config::MetricDefinition& def, const MetricTable& table,
                        const std::function<bool(const PodValue&)>& include,
                        std::optional<double> target, std::optional<double> target_utilization) {
  WorkloadStats stats;
  stats.target = target ? target : def.target;
  stats.target_utilization = target_utilization ? target_utilization : def.target_utilization;
  for (const PodValue& pod : table.pods) {
    if (include && !include(pod)) continue;
    ++stats.pods;
    stats.total += pod.value;
    if (pod.has_baseline) {
      stats.baseline_total += pod.baseline;
      ++stats.pods_with_baseline;
    }
  }
  if (stats.pods > 0) stats.average = stats.total / stats.pods;
  bool with_baseline = !def.baseline_query.empty();
  if (with_baseline && stats.baseline_total > 0) {
    stats.utilization_percent = 100.0 * stats.total / stats.baseline_total;
  } else if (!with_baseline && stats.target && *stats.target > 0 && stats.pods > 0) {
    stats.utilization_percent = 100.0 * stats.average / *stats.target;
  }
  // A tiny baseline or target can overflow the ratio: unknown rather than Inf.
  if (stats.utilization_percent && !std::isfinite(*stats.utilization_percent)) {
    stats.utilization_percent.reset();
  }
  return stats;
}

std::optional<double> PodUtilizationPercent(const config::MetricDefinition& def,
                                            const PodValue& pod, std::optional<double> target) {
  std::optional<double> percent;
  if (!def.baseline_query.empty()) {
    if (pod.has_baseline) percent = 100.0 * pod.value / pod.baseline;
  } else if (std::optional<double> t = target ? target : def.target; t && *t > 0) {
    percent = 100.0 * pod.value / *t;
  }
  if (percent && !std::isfinite(*percent)) return std::nullopt;
  return percent;
}

}  // namespace aa::pipeline
