#pragma once
// The sampler's self-metrics, declared in one place and built once from the registry.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/time/time.h"

namespace prometheus {
class Registry;
}

namespace aa::pipeline {

class SamplerMetrics {
 public:
  // `registry` may be null: then every call is a no-op.
  static std::unique_ptr<SamplerMetrics> Create(prometheus::Registry* registry);
  virtual ~SamplerMetrics() = default;

  // autoscale_adapter_sampler_queries_total{metric,outcome="success|error"}
  virtual void Query(const std::string& metric, bool ok) = 0;
  // autoscale_adapter_sampler_dropped_values_total{metric,reason="nan|inf|duplicate"}
  virtual void DroppedValue(const std::string& metric, const std::string& reason) = 0;
  // autoscale_adapter_snapshot_age_seconds{metric}, absent while the metric has no good sample
  // (`age_seconds` nullopt), and autoscale_adapter_series_held{metric}
  virtual void SetGauges(const std::string& metric, std::optional<double> age_seconds,
                         int64_t series) = 0;
  // autoscale_adapter_sampler_round_duration_seconds: one sampling round, its queries and the
  // publication of its snapshot (by the sampler's clock).
  virtual void Round(absl::Duration elapsed) = 0;
  // autoscale_adapter_sampler_round_queries and autoscale_adapter_sampler_round_chunks (gauges):
  // queries sent to Prometheus, and metric query chunks among them, by the last periodic round.
  virtual void RoundWork(int queries, int chunks) = 0;
  // autoscale_adapter_sampler_demanded_namespaces (gauge)
  virtual void SetDemand(int64_t namespaces) = 0;
  // autoscale_adapter_sampler_demand_rejections_total{reason="unknown_namespace|check_failed|
  // rate_limited|ceiling|adhoc_limit"}: first requests of a namespace (or of a KEDA ad-hoc query,
  // adhoc_limit) that did not become demand. Ad-hoc queries' other self-metrics share the metric
  // label "keda_adhoc".
  virtual void Rejected(const std::string& reason) = 0;
  // autoscale_adapter_sampler_variants_evicted_total: selector variants evicted (least recently
  // asked for) to make room for a new one.
  virtual void VariantEvicted() = 0;
  // autoscale_adapter_sampler_namespace_checks_total{outcome="success|error|unsupported"}
  virtual void NamespaceCheck(const std::string& outcome) = 0;
};

// The rule discoverer's self-metric.
class DiscoveryMetrics {
 public:
  // `registry` may be null: then Run is a no-op.
  static std::unique_ptr<DiscoveryMetrics> Create(prometheus::Registry* registry);
  virtual ~DiscoveryMetrics() = default;
  // autoscale_adapter_discovery_duration_seconds{outcome="success|error"}: one rule discovery pass
  // (error: some seriesQuery failed).
  virtual void Run(absl::Duration elapsed, bool ok) = 0;
};

}  // namespace aa::pipeline
