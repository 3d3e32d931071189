#pragma once
// The autoscalers of the closed loop. Each one reads the metrics the way the real component does,
// runs the real decision (src/scaling: the upstream HPA controller, Knative's KPA) and returns the
// replica count to set:
// - HpaEmulator: a Kubernetes HPA on its sync period. `concurrency` models: Pods metric (the
//   adapter's custom.metrics.k8s.io v1beta2, with the workload's labelSelector) with an
//   averageValue target; `llm` models: one or more such Pods metrics (the largest recommendation
//   wins, as upstream); `cpu` models: Resource cpu with a Utilization target, from the adapter's
//   metrics.k8s.io PodMetrics and the pods' CPU requests (readiness rules included).
// - KedaEmulator: a ScaledObject with an external-push trigger on the adapter's gRPC port: a
//   StreamIsActive stream open for the whole run, GetMetrics every polling interval, and KEDA's HPA
//   (External metric, AverageValue = the trigger's GetMetricSpec target) on the sync period.
// - KpaReference: Knative's KPA fed with the exact concurrency of the simulator every step (as
//   queue-proxies report every second), deciding every 2 s; from zero, the activator's poke (a
//   request waiting at 0 pods) makes it decide at once, and at least 1 pod.
// Not thread-safe: the loop calls them from one thread.

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "demo/closedloop/clients.h"
#include "demo/closedloop/scenario.h"
#include "scaling/hpa.h"

namespace aa::closedloop {

enum class ModelKind { kConcurrency, kCpu, kLlm };
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
  // HPA only: further Pods metrics besides `metric` (targets from LlmTarget); the HPA takes the
  // largest of the metrics' recommendations.
  std::vector<std::string> more_metrics{};
  // cpu only: read from the second adapter, whose `cpu` preset has `saturation: true` (usage + CFS
  // throttled time, in metrics.k8s.io too); one adapter serves one metrics.k8s.io.
  bool saturation = false;
  // Scale from zero (KServe minReplicas 0): the service starts at 0 pods, its requests wait in
  // the activator. KEDA: minReplicaCount 0, a second trigger on the adapter's activity metric
  // (kActivityMetric, Knative's activator series); a pushed `true` at 0 replicas scales to 1 at
  // once, no trigger active for kedaCooldownPeriod scales to 0. KPA: the activator pokes it on the
  // first request (0 -> 1 at once), scale to zero after scaleToZeroGrace.
  bool from_zero = false;
  // cpu only: read from the third adapter, whose `cpu` preset (saturation-aware, 3 s rate window)
  // has the `panic` option: the mean over cpuWindow, or over panicWindow while in panic.
  bool cpu_panic = false;
};

// The adapter's activity metric (preset activity: requests held by Knative's activator per
// revision, an external metric), with the same per-replica target as the concurrency.
inline constexpr char kActivityMetric[] = "activator_requests";

// The replicas a mode starts with and returns to: 0 for the scale-from-zero modes, else the
// scenario's minReplicas.
int ModeMinReplicas(const ModeSpec& mode, const Scenario& scenario);

// Per-pod targets of the tutorial: 70 requests in flight (containerConcurrency 100 x 70 %), and
// 50 % of the CPU request.
inline constexpr double kConcurrencyTarget = 70;
inline constexpr int kCpuTargetPercent = 50;

// The LLM model (a vLLM-like server, batch limit 16; SimScenarioYaml) and its per-pod targets: 12
// requests running (75 % of the batch), 4 waiting, 75 % KV cache (its cache holds a full batch of
// average requests, so 75 % is 12 running). The adapter's LLM metrics average over kLlmWindow.
inline constexpr int kLlmBatchLimit = 16;
inline constexpr double kLlmRunningTarget = 12;
inline constexpr double kLlmWaitingTarget = 4;
inline constexpr double kLlmKvCacheTarget = 75;
inline constexpr absl::Duration kLlmWindow = absl::Seconds(15);
// The target of the adapter's LLM metric `metric` (llm_running, llm_waiting, llm_kv_cache); 0 for
// another name.
double LlmTarget(const std::string& metric);

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

// The HPA spec of an HPA mode: min/max and behavior from the scenario; concurrency: the Pods
// metric `metric` at kConcurrencyTarget; cpu: Resource cpu at kCpuTargetPercent; llm: Pods
// metrics `metric` and `more_metrics`, each at its LlmTarget.
scaling::HpaSpec HpaSpecFor(const ModeSpec& mode, const Scenario& scenario);

// Creates the autoscaler of `mode`. Errors: an invalid spec (InvalidArgument) or a KEDA trigger
// the adapter refuses (its gRPC status).
absl::StatusOr<std::unique_ptr<Autoscaler>> MakeAutoscaler(const ModeSpec& mode,
                                                           const AutoscalerContext& context);

}  // namespace aa::closedloop
