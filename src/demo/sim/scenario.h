#pragma once
// Scenarios for autoscale-sim: the built-in default (the KServe tutorial's two InferenceServices)
// and YAML files.
//
// YAML format (every field optional unless marked; durations the Go way, "500ms", "1m"):
//   services:                        # required, at least one
//     - name: concurrency-model      # required, DNS label
//       namespace: kserve-test       # default "default"
//       model_name: concurrency-model       # default = name
//       container_concurrency: 100   # 0 = unlimited
//       target_utilization_percent: 70      # informational
//       service_time: 500ms          # mean
//       distribution: exponential    # exponential | lognormal | constant
//       lognormal_sigma: 0.5
//       cpu_per_request: 0.05        # core-seconds
//       idle_cpu: 0.02               # cores
//       cpu_request: 1               # cores; also "500m"
//       cpu_limit: 1                 # cores, default 0 (no limit): throttling and CFS counters
//       memory_request: 1Gi          # bytes; also Ki/Mi/Gi/Ti, k/M/G/T suffixes
//       memory_working_set: 512Mi
//       memory_per_request: 1Mi
//       replicas: 1
//       start_delay: 10s
//       queue_limit: 100000
//       llm:                         # a vLLM-like model server (model.h); container_concurrency
//         prompt_tokens: 512         #   is then its batch limit (max_num_seqs); defaults shown
//         output_tokens: 256
//         prefill_tokens_per_second: 8000
//         time_per_output_token: 25ms
//         kv_cache_tokens: 24576     # per pod
//       load:
//         loop: true                 # false: hold the last rate after the last step
//         steps:
//           - {duration: 1m, rps: 10}              # constant
//           - {duration: 1m, rps: 10, to_rps: 50}  # linear ramp
// Unknown fields, wrong types and out-of-range values are InvalidArgument errors whose message
// names the file, line, field path and offending value.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "demo/sim/model.h"

namespace aa::sim {

// The default scenario: namespace kserve-test, `concurrency-model` (containerConcurrency 100,
// target 70 %, ~0.5 s per request, peak load ~180 concurrent = ~3 pods) and `cpu-model` (1 core
// request, target 50 %, peak ~1.4 cores = ~3 pods), both starting at 1 replica, under a looping
// load: low, ramp, peak, lower.
std::vector<ServiceSpec> DefaultScenario();

// Parses scenario YAML `text`; `filename` is only used in error messages.
absl::StatusOr<std::vector<ServiceSpec>> ParseScenario(std::string_view text,
                                                       std::string_view filename);

// Reads and parses a scenario file. NotFound if it cannot be read.
absl::StatusOr<std::vector<ServiceSpec>> LoadScenarioFile(const std::string& path);

}  // namespace aa::sim
