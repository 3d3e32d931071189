#pragma once
// The autoscalers of the closed loop. Each one reads the metrics the way the real component does,
// runs the real decision (src/scaling: the upstream HPA controller, Knative's KPA) and returns the
// replica count to set:
// - HpaEmulator: a Kubernetes HPA on its sync period. `concurrency` models: Pods metric (the
//   adapter's custom.metrics.k8s.io v1beta2, with the workload's labelSelector) with an
//   averageValue target; `cpu` models: Resource cpu with a Utilization target, from the adapter's
//   metrics.k8s.io PodMetrics and the pods' CPU requests (readiness rules included).
// - KedaEmulator: a ScaledObject with an external-push trigger on the adapter's gRPC port: a
//   StreamIsActive stream open for the whole run, GetMetrics every polling interval, and KEDA's HPA
//   (External metric, AverageValue = the trigger's GetMetricSpec target) on the sync period.
// - KpaReference: Knative's KPA fed with the exact concurrency of the simulator every step (as
//   queue-proxies report every second), deciding every 2 s.
// Not thread-safe: the loop calls them from one thread.

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "demo/closedloop/clients.h"
#include "demo/closedloop/scenario.h"

namespace aa::closedloop {

enum class ModelKind { kConcurrency, kCpu };
enum class ScalerKind { kHpa, kKeda, kKpa };

// One mode of the demo: one simulated InferenceService scaled by one autoscaler on one metric.
struct ModeSpec {
  std::string name;   // the simulated InferenceService, e.g. "concurrency-hpa"
  std::string title;  // for tables and plots, e.g. "concurrency, HPA, plain metric"
  ModelKind model = ModelKind::kConcurrency;
  ScalerKind scaler = ScalerKind::kHpa;
  std::string metric;  // the adapter's metric ("concurrency", "concurrency_panic", "cpu"); empty
                       // for the KPA
  // KEDA only: the trigger a user migrating from KEDA's prometheus scaler keeps: this query with
  // threshold kConcurrencyTarget (concurrency) instead of `metric` (keda/metadata.h).
  std::string keda_query{};
};

// Per-pod targets of the tutorial: 70 requests in flight (containerConcurrency 100 x 70 %), and
// 50 % of the CPU request.
inline constexpr double kConcurrencyTarget = 70;
inline constexpr int kCpuTargetPercent = 50;

// What an autoscaler did at one step.
struct Action {
  bool acted = false;  // it synced (or decided) at this step
  int replicas = 0;    // the replica count it set (when acted and ok)
  bool ok = true;      // false: the metric could not be read or the decision failed
  // The value it acted on, in the table's unit: average per pod (concurrency), utilization
  // percent (cpu), NaN when unknown.
  double observed = 0;
  std::string note;  // short: "2 -> 4 (pods metric concurrency above target)", the error...
};

class Autoscaler {
 public:
  virtual ~Autoscaler() = default;
  // Called once per loop step, in step order. `now` is the loop's clock (the step's time on the
  // wall-clock scale, comparable with the simulator's pod timestamps); `service` the state read at
  // this step. Returns what it did; when `acted && ok` the loop sets `replicas`.
  virtual Action Step(int step, absl::Time now, double sim_seconds, const SimService& service) = 0;
  // Free text for the live table: e.g. "active (3 pushes)" for KEDA, "panic" for the KPA.
  virtual std::string State() const { return ""; }
};

struct AutoscalerContext {
  const Scenario* scenario = nullptr;
  std::string ns = "kserve-test";
  int https_port = 0;
  int grpc_port = 0;
  std::string bearer_token;
};

// Creates the autoscaler of `mode`. Errors: an invalid spec (InvalidArgument) or a KEDA trigger
// the adapter refuses (its gRPC status).
absl::StatusOr<std::unique_ptr<Autoscaler>> MakeAutoscaler(const ModeSpec& mode,
                                                           const AutoscalerContext& context);

}  // namespace aa::closedloop
