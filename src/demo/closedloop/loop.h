#pragma once
// The closed loop: every step of the loop's clock it sets each simulated service's load from the
// scenario, reads the simulator, lets each mode's autoscaler act (setting the replicas it decides)
// and records one row per mode. The caller paces the steps (the demo waits for the wall clock,
// since Prometheus scrapes in real time) and passes each step's time: the loop itself never reads
// a clock and never sleeps.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "demo/closedloop/autoscalers.h"
#include "demo/closedloop/clients.h"
#include "demo/closedloop/scenario.h"

namespace aa::closedloop {

// The demo's modes: for each tutorial model the HPA on the plain metric, the HPA on the panic-aware
// metric (concurrency only), KEDA in front (plain and panic-aware for concurrency), and the KPA as
// the reference for concurrency, and scale from zero with KEDA (activator push) and the KPA; for
// cpu also the HPA and KEDA on the saturation-aware cpu (the second adapter's); for the LLM model
// the HPA on requests running alone and on two metrics at once (requests waiting and KV-cache
// usage). `with_panic` false leaves out the panic-aware ones.
std::vector<ModeSpec> DefaultModes(bool with_panic);

// Selects modes by comma-separated names ("all" = every one of `available`). InvalidArgument
// naming an unknown or duplicate name and listing the valid ones.
absl::StatusOr<std::vector<ModeSpec>> SelectModes(const std::string& names,
                                                  const std::vector<ModeSpec>& available);

// The simulator scenario YAML (src/sim/scenario.h) with one service per mode, in namespace
// `ns`: concurrency models serve 0.5 s requests with containerConcurrency 100; cpu models cost 0.05
// core-s per request (0.5 core for 0.1 s unthrottled) with containerConcurrency 4 (four worker
// threads) and a 1-core CPU limit (request 1 core): a busy pod wants 2 cores, gets 1 and is
// throttled; llm models are vLLM-like servers (batch limit 16, 1024 prompt and 256 output tokens
// on average (lognormal), 25 ms per output token: 6.5 s per request; KV cache for a full batch of
// average requests). Load starts at 0 (the loop sets it every step).
std::string SimScenarioYaml(const Scenario& scenario, const std::vector<ModeSpec>& modes,
                            const std::string& ns);

// The adapter's config for the loop: sampling every second, the concurrency metric over the
// scenario's metricWindow, the panic-aware `concurrency_panic` (when `with_panic`), cpu over
// cpuWindow (usage, or with `saturation` the demand: usage + CFS throttled time), memory (for
// metrics.k8s.io), and the LLM metrics llm_running, llm_waiting and llm_kv_cache (vLLM presets
// over kLlmWindow).
// With `cpu_panic`, cpu is the saturation-aware demand over kCpuPanicRateWindow (at most
// panicWindow) with the `panic`
// option (stable window cpuWindow, panic window panicWindow).
std::string AdapterConfigYaml(const Scenario& scenario, bool with_panic, bool saturation = false,
                              bool cpu_panic = false);

// The rate window of the panic-aware cpu (short: its windows average the rates); the panic window
// when that is shorter (the rate window must not exceed it).
inline constexpr absl::Duration kCpuPanicRateWindow = absl::Seconds(3);

// Whether any of `modes` reads the saturation-aware adapter, or the panic-aware cpu one.
bool NeedsSaturationAdapter(const std::vector<ModeSpec>& modes);
bool NeedsCpuPanicAdapter(const std::vector<ModeSpec>& modes);

// One mode at one step.
struct Row {
  int step = 0;
  double t = 0;  // seconds since the loop started
  std::string phase;
  double load_rps = 0;     // the arrival rate set for this step
  int desired = 0;         // replicas asked for (before this step's decision)
  int ready = 0;           // serving pods
  int pods = 0;            // pods that exist (starting and draining included)
  int64_t queue = 0;       // requests waiting
  int needed = 0;          // replicas that serve this step's load at the per-pod target
  double demand = 0;       // concurrency models: mean in flight + queued since the previous step;
                           // cpu models: cores used
  double utilization = 0;  // demand / (ready x per-pod target) in percent (cpu: of the request)
  double observed = 0;     // what the autoscaler acted on at its last sync (NaN before)
  std::string decision;    // this step's decision, empty when it did not act
  int set_replicas = -1;   // the replicas it set at this step, -1 when none
};

struct ModeSummary {
  ModeSpec mode;
  int needed = 0;                // replicas that serve the burst at the target
  double time_to_capacity = -1;  // s from the burst's start until ready >= needed; -1: never
  int peak = 0;                  // highest replicas asked for
  double pod_seconds = 0;        // over the run
  double queued_share = 0;       // requests that waited in the queue / requests arrived
  uint64_t arrived = 0;
  uint64_t dropped = 0;
  int steady_direction_changes = 0;  // up<->down reversals of the replicas during `steady`
  int steady_end_replicas = 0;
  double back_to_min = -1;   // s from the drop's start until replicas == min; -1: never
  int decisions_failed = 0;  // syncs where the metric could not be read
  // LLM models: the 95th percentile of the time to first token (s) of the requests admitted from
  // the burst's start to the drop's start; -1 otherwise (or none admitted).
  double ttft_p95 = -1;
  // Scale-from-zero modes (ModeSpec::from_zero), from the simulator's own record; -1 otherwise:
  // seconds from the first request to the first ready pod, and the queue waits of the first
  // requests (at most sim::kFirstWaitsRecorded of them): the longest and the median.
  double first_ready = -1;
  int first_waits_count = 0;
  double first_wait_max = -1;
  double first_wait_median = -1;
};

class ClosedLoop {
 public:
  struct Options {
    Scenario scenario;
    std::vector<ModeSpec> modes;
    std::string ns = "kserve-test";
    int sim_port = 0;
    int adapter_https_port = 0;
    int adapter_grpc_port = 0;
    // The second adapter (saturation-aware cpu), for the modes with ModeSpec::saturation.
    int saturation_https_port = 0;
    int saturation_grpc_port = 0;
    // The third adapter (saturation- and panic-aware cpu), for the modes with ModeSpec::cpu_panic.
    int cpu_panic_https_port = 0;
    int cpu_panic_grpc_port = 0;
    std::string bearer_token = "closed-loop-demo";
  };
  // Creates the autoscalers (KEDA asks GetMetricSpec here). Errors from the adapter are returned.
  static absl::StatusOr<std::unique_ptr<ClosedLoop>> Create(Options options);

  // Runs step `step` (0, 1, 2, ... in order) at `now`, the loop clock's time of the step. An error
  // stops the loop: the simulator became unreachable or refused a change.
  absl::Status Step(int step, absl::Time now);

  int steps() const { return options_.scenario.Steps(); }
  const Scenario& scenario() const { return options_.scenario; }
  const std::vector<ModeSpec>& modes() const { return options_.modes; }
  // Rows per mode (same order as modes()), one per step run.
  const std::vector<std::vector<Row>>& rows() const { return rows_; }
  // Free-text state per mode for the live table (KEDA activity, KPA panic).
  std::vector<std::string> States() const;
  // The summary over the steps run so far.
  std::vector<ModeSummary> Summarize() const;

 private:
  explicit ClosedLoop(Options options);

  Options options_;
  SimClient sim_;
  std::vector<std::unique_ptr<Autoscaler>> autoscalers_;
  std::vector<std::vector<Row>> rows_;
  std::vector<double> last_observed_;
  std::vector<SimService> first_, last_;        // the services at the first and the latest step
  std::vector<SimService> at_burst_, at_drop_;  // ... at the burst's and the drop's first step
  double last_sim_seconds_ = -1;
  std::vector<SimService> previous_;
};

}  // namespace aa::closedloop
