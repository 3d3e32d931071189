#pragma once
// What the hostile-client suite and the soak benchmark share: an adapter config with a metric whose
// value is known exactly, so that a wrong answer is recognized whatever the load, and the adapter's
// resident memory.

#include <sys/types.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"

namespace aa::hostile {

// series_per_pod is 1 for every queue-proxy pod of the simulator in kserve-test, whatever the load:
// every pod list must hold exactly those pods with 1, every total is their number. concurrency (for
// KEDA streams) and cpu (for metrics.k8s.io) come along. GET queries, so that a proxy in front of
// Prometheus sees them whole in the URL.
inline constexpr char kExactNamespace[] = "kserve-test";
inline constexpr char kExactMetric[] = "series_per_pod";
inline constexpr char kExactMetricConfig[] = R"(
prometheus:
  method: GET
sampling:
  interval: 1s
  maxAge: 10s
  warmNamespaces: [kserve-test]
metrics:
- name: series_per_pod
  query: 'count by (<<.GroupBy>>) (revision_request_latencies_sum{<<.LabelMatchers>>})'
  namespaceLabel: namespace_name
  podLabel: pod_name
- name: concurrency
  preset: {type: concurrency, source: knative-queue-proxy, window: 30s}
  containerConcurrency: 100
  targetUtilizationPercentage: 70
- name: cpu
  preset: {type: cpu, window: 30s}
  targetUtilization: 50
)";

// VmRSS of /proc/<pid>/status in MiB; 0 when unreadable.
inline double ResidentMiB(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atof(line.c_str() + 6) / 1024.0;
  }
  return 0;
}

}  // namespace aa::hostile
