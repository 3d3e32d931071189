#pragma once
// The external scaler's answers, computed from the pipeline's snapshots. No gRPC types: the gRPC
// service (keda/internal/service.h) translates requests into Triggers (keda/metadata.h) and these
// results into messages.
//
// Contract:
// - Stats(): Sampler::Read(metric, namespace) (a first request for a new (metric, namespace) waits
// for one sample,
//   as the pipeline does), then the pods chosen by the trigger's selector, aggregated by
//   pipeline::Aggregate.
// - MetricSpec(): the per-pod target; reads no data unless the target is a percentage of a baseline
// (cpu).
// - Metrics(): the workload TOTAL over the selected pods, so KEDA's AverageValue (value / replicas
// vs per-pod
//   target) gives replicas = ceil(total / target).
// - IsActive(): total > activationThreshold.
// Errors: NotFound for an unknown metric (the message lists the served ones); InvalidArgument for a
// bad namespace or selector, or when no target can be determined; Unavailable when the data is
// older than maxAge, Prometheus is down or the first sample did not arrive in time (never a made-up
// zero). Thread-safe; `sampler` must outlive the Scaler.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "keda/metadata.h"
#include "pipeline/sampler.h"
#include "pipeline/workload.h"

namespace aa::keda {

// The aggregate of one trigger's pods, with where it came from.
struct Observation {
  const config::MetricDefinition* definition = nullptr;  // owned by the sampler's config
  pipeline::WorkloadStats stats;
  uint64_t generation = 0;  // generation of the snapshot the table was read from
};

struct MetricSpecResult {
  std::string metric_name;
  double target = 0;        // per pod, > 0
  int64_t target_size = 1;  // TargetSize(target)
};

struct MetricValueResult {
  std::string metric_name;
  double total = 0;     // sum over the selected pods
  int64_t rounded = 0;  // RoundForKeda(total)
  int pods = 0;
};

class Scaler {
 public:
  explicit Scaler(pipeline::Sampler& sampler) : sampler_(sampler) {}

  absl::StatusOr<Observation> Stats(const Trigger& trigger) const;
  // As Stats, but never waits: FailedPrecondition when the sampler has no slot for (metric,
  // namespace) yet.
  absl::StatusOr<Observation> StatsIfSampled(const Trigger& trigger) const;

  absl::StatusOr<MetricSpecResult> MetricSpec(const Trigger& trigger) const;
  absl::StatusOr<MetricValueResult> Metrics(const Trigger& trigger) const;
  absl::StatusOr<bool> IsActive(const Trigger& trigger) const;

  // Definition of the trigger's metric, or NotFound listing the served names.
  absl::StatusOr<const config::MetricDefinition*> FindDefinition(const Trigger& trigger) const;

  pipeline::Sampler& sampler() const { return sampler_; }

 private:
  pipeline::Sampler& sampler_;
};

}  // namespace aa::keda
