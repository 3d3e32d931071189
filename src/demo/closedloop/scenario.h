#pragma once
// The closed-loop demo's scenario: the load over time (phases) and the autoscalers' settings. Time
// is counted in the loop's own steps: a phase of 20s at a 1s step is 20 steps.
//
// clang-format off
// YAML format (durations the Go way: 500ms, 20s, 1m30s; every key optional unless marked):
//   phases:                       required, at least one; run in order
//   - name: idle                  required, [a-z][a-z0-9-]*, unique. Three names are required and
//                                 give the summary its meaning, in this order: `burst` (the time
//                                 to capacity is counted from its start, the capacity needed from
//                                 its highest load), `steady` (the flapping check) and `drop`
//                                 (the return to minReplicas is counted from its start).
//     duration: 20s               required, whole multiple of `step`, > 0
//     load: 0.2                   required, >= 0: multiple of each model's base rate at the start
//     to: 1                       default = load: linear ramp to this multiple at the end
//   baseRps:                      the rate a load of 1 means, per model, requests/s
//     concurrency: 100            default 100 (x 0.5 s per request = 50 in flight: one pod at 70)
//     cpu: 7                      default 7 (x 0.05 core-s = 0.35 core: one pod at 37 % of 1 core)
//     llm: 1.5                    default 1.5 (x 6.5 s per request = 9.8 running: one pod at 12)
//   step: 1s                      default 1s, in [100ms, 5s]: the loop's clock tick
//   autoscaling:
//     minReplicas: 1              default 1, >= 1
//     maxReplicas: 10             default 10, >= minReplicas, <= 100
//     syncPeriod: 15s             default 15s: the HPA's sync (and KEDA's HPA)
//     kedaPollingInterval: 15s    default 15s: how often the KEDA emulator calls GetMetrics
//     scaleUpStabilization: 0s    default 0s (HPA behavior scaleUp.stabilizationWindowSeconds)
//     scaleDownStabilization: 60s default 60s (upstream 300s; the --long scenario uses 300s)
//     metricWindow: 1m            default 1m, >= 6s: the adapter's concurrency window (and the
//                                 panic-aware metric's stable window)
//     panicWindow: 6s             default 6s, >= 2s: the panic-aware metric's and the KPA's panic
//                                 window (the adapter samples every second: two samples at least)
//     cpuWindow: 15s              default 15s: the adapter's CPU rate window, reported as the
//                                 PodMetrics window (metrics-server's is about 15s)
//     kpaStableWindow: 1m         default 1m: the simulated KPA's stable window
//     podStartDelay: 10s          default 10s: a new pod's creation -> ready
//     kedaCooldownPeriod: 30s     default 30s (KEDA's default 300s; the --long scenario uses 300s):
//                                 the scale-from-zero KEDA mode goes back to 0 after its triggers
//                                 were inactive this long
//     scaleToZeroGrace: 30s       default 30s (Knative's default): the KPA-from-zero mode holds
//                                 one pod this long after its decision became 0
// Errors are InvalidArgument "<file>:<line>:<column>: <field path>: <problem> (got "<value>")".
// clang-format on

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace aa::closedloop {

struct Phase {
  std::string name;
  absl::Duration duration;
  double load = 0;  // multiple of the base rate at the phase's start
  double to = 0;    // ... and at its end (linear in between)
};

struct AutoscalingSettings {
  int min_replicas = 1;
  int max_replicas = 10;
  absl::Duration sync_period = absl::Seconds(15);
  absl::Duration keda_polling_interval = absl::Seconds(15);
  absl::Duration scale_up_stabilization = absl::ZeroDuration();
  absl::Duration scale_down_stabilization = absl::Seconds(60);
  absl::Duration metric_window = absl::Minutes(1);
  absl::Duration panic_window = absl::Seconds(6);
  absl::Duration cpu_window = absl::Seconds(15);
  absl::Duration kpa_stable_window = absl::Minutes(1);
  absl::Duration pod_start_delay = absl::Seconds(10);
  absl::Duration keda_cooldown_period = absl::Seconds(30);
  absl::Duration scale_to_zero_grace = absl::Seconds(30);
};

struct Scenario {
  std::vector<Phase> phases;
  double concurrency_base_rps = 100;
  double cpu_base_rps = 7;
  double llm_base_rps = 1.5;
  absl::Duration step = absl::Seconds(1);
  AutoscalingSettings autoscaling;

  absl::Duration Length() const;
  int Steps() const;  // Length() / step
  // The phase running at `t` (the last phase at and after the end); never null for a valid
  // scenario.
  const Phase* PhaseAt(absl::Duration t) const;
  // The load multiple at `t` (0 after the end).
  double LoadAt(absl::Duration t) const;
  // Start of the named phase; InfiniteDuration if absent.
  absl::Duration PhaseStart(std::string_view name) const;
  // The highest load multiple within the named phase (0 if absent).
  double PhaseMaxLoad(std::string_view name) const;
};

// The default run (about four and a half minutes): idle 20s at 0.2, ramp 30s to 1, burst 50s at 5
// (a step), steady 70s at 5, drop 100s to 0; downscale stabilization 60s.
Scenario DefaultScenario();
// The long run (about sixteen minutes) with the upstream defaults: downscale stabilization 300s,
// phases stretched (steady 6 min, drop 7 min).
Scenario LongScenario();

// Validates a scenario (the checks listed above); InvalidArgument naming the field.
absl::Status ValidateScenario(const Scenario& s);

// Parses YAML `text`; `filename` is only used in messages.
absl::StatusOr<Scenario> ParseScenario(std::string_view text, std::string_view filename);
// Reads and parses a file. NotFound when it cannot be read.
absl::StatusOr<Scenario> LoadScenarioFile(const std::string& path);

}  // namespace aa::closedloop
