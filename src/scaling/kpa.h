#pragma once
// The Knative Pod Autoscaler's decision (knative/serving pkg/autoscaler: scaling/autoscaler.go,
// aggregation/bucketing.go and the KPA scaler's scale-to-zero step), reproduced so the project can
// show what Knative would do with the same load.
//
// Pieces:
// - WindowAverage: Knative's TimedFloat64Buckets (1 s buckets, linear average over the filled part
//   of the window; gaps count 0). One per window (stable, panic).
// - KpaDecider: autoscaler.Scale(): desired pods from the stable and panic totals, panic mode.
// - ScaleToZeroGate: the scaler's hold of one pod until the decision has been 0 for the grace
//   period, and the min/max scale bounds.
// All take time as arguments (non-decreasing); none is thread-safe (one owner calls it).

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace aa::scaling {

struct KpaOptions {
  absl::Duration stable_window = absl::Seconds(60);  // 6 s .. 1 h
  double panic_window_percentage = 10.0;             // 1 .. 100: panic window = 6 s by default
  double panic_threshold_percentage = 200.0;         // 110 .. 1000
  double max_scale_up_rate = 1000.0;                 // > 1
  double max_scale_down_rate = 2.0;                  // > 1
  // Per-pod target of the metric, e.g. containerConcurrency 100 * 70 % = 70. >= 0.01.
  double target = 70.0;
  // false while the revision is not reachable (not routed): then no scale-down limit applies.
  bool reachable = true;
  // Knative's activation scale (min pods once there is any traffic), >= 1.
  int32_t activation_scale = 1;
  // Scale to zero (scaler step).
  bool enable_scale_to_zero = true;
  absl::Duration scale_to_zero_grace_period = absl::Seconds(30);
  int32_t min_scale = 0;  // autoscaling.knative.dev/min-scale
  int32_t max_scale = 0;  // autoscaling.knative.dev/max-scale, 0 = unbounded

  absl::Duration panic_window() const;
};

// InvalidArgument naming the field and value for anything outside the ranges above.
absl::Status ValidateKpaOptions(const KpaOptions& options);

// Knative's concurrency target: container_concurrency (0 = unlimited -> the default 100) times the
// target utilization percentage / 100, at least 0.01.
double KpaConcurrencyTarget(int32_t container_concurrency,
                            double target_utilization_percentage = 70);

// Knative's TimedFloat64Buckets: values recorded in `granularity` buckets (values in one bucket add
// up, e.g. one per pod); WindowAverage is the bucket total over the window divided by the number of
// buckets since the first write (at most the window's), 0 when nothing was written for a window.
class WindowAverage {
 public:
  explicit WindowAverage(absl::Duration window, absl::Duration granularity = absl::Seconds(1));
  void Record(absl::Time time, double value);
  double Average(absl::Time now) const;
  bool IsEmpty(absl::Time now) const;
  absl::Duration window() const { return window_; }

 private:
  int64_t Index(absl::Time t) const;
  absl::Time Truncate(absl::Time t) const;

  absl::Duration window_;
  absl::Duration granularity_;
  std::vector<double> buckets_;
  double window_total_ = 0;
  absl::Time first_write_ = absl::InfinitePast();
  absl::Time last_write_ = absl::InfinitePast();
};

struct KpaDecision {
  bool valid = false;          // false: no data yet (Knative keeps the current scale)
  int32_t desired_pods = 0;    // the decision (before ScaleToZeroGate)
  int32_t desired_stable = 0;  // clamped ceil(stable total / target)
  int32_t desired_panic = 0;   // clamped ceil(panic total / target)
  bool in_panic = false;
  bool over_panic_threshold = false;  // desired panic / ready pods >= threshold at this decision
  absl::Time panic_since = absl::InfinitePast();  // last time the threshold was crossed (in panic)
};

class KpaDecider {
 public:
  // `options` must be valid (ValidateKpaOptions).
  explicit KpaDecider(KpaOptions options);

  // One decision at `now` (Knative decides every 2 s). `ready_pods` is the number of ready pods;
  // `stable_total` / `panic_total` the observed metric summed over pods and averaged over the
  // stable / panic window (not per pod). Panic starts when ceil(panic_total / target) /
  // max(1, ready_pods) >= threshold, is extended while it holds, and ends once it does not hold and
  // the last crossing is more than a stable window ago; while in panic the decision is the highest
  // of stable, panic and every panic decision so far (never scaling down).
  KpaDecision Scale(absl::Time now, int32_t ready_pods, double stable_total, double panic_total);

  // When no data: returns an invalid decision without touching the panic state.
  KpaDecision NoData() const;

  bool in_panic() const { return panic_time_ != absl::InfinitePast(); }
  const KpaOptions& options() const { return options_; }

 private:
  KpaOptions options_;
  absl::Time panic_time_ = absl::InfinitePast();
  int32_t max_panic_pods_ = 0;
};

// The KPA scaler's last step: applies min/max scale, and scales to zero only after the decision has
// been 0 for scale_to_zero_grace_period (holding one pod meanwhile), and only when enabled and
// min_scale is 0.
class ScaleToZeroGate {
 public:
  explicit ScaleToZeroGate(KpaOptions options) : options_(options) {}
  int32_t Apply(absl::Time now, int32_t desired_pods);

 private:
  KpaOptions options_;
  absl::Time zero_since_ = absl::InfinitePast();
};

// Stable/panic windows, the decider and the gate together, for simulations: record the metric
// (e.g. the total concurrency of all pods) as it is observed, and ask for a decision.
class KpaAutoscaler {
 public:
  explicit KpaAutoscaler(KpaOptions options);
  void Record(absl::Time time, double total_value);
  // Decision plus gate. Without data the decision is invalid and `desired_pods` is `current`.
  KpaDecision Decide(absl::Time now, int32_t ready_pods, int32_t current);
  double StableAverage(absl::Time now) const { return stable_.Average(now); }
  double PanicAverage(absl::Time now) const { return panic_.Average(now); }

 private:
  WindowAverage stable_;
  WindowAverage panic_;
  KpaDecider decider_;
  ScaleToZeroGate gate_;
};

}  // namespace aa::scaling
