#pragma once
// What the whole-system benchmarks that feed the adapter many pods share (memory_bench,
// large_cluster_bench): the cluster's names, the adapter config of three per-pod metrics, and
// readings of a process (/proc) and of a Prometheus text page. Header-only; no state.

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace aa::bench {

// Namespace n of the simulated cluster, and pod p of a namespace (a KServe predictor's pod name).
inline std::string NamespaceName(int n) { return absl::StrCat("ns-", n); }
inline std::string PodName(absl::string_view ns, int p) {
  return absl::StrCat("model-", ns, "-predictor-7d9f8b6c5-", 10000 + p);
}

// The three metrics' names, in the order of ThreeMetricsConfig.
inline constexpr const char* kMetricNames[] = {"concurrency", "cpu", "requests_running"};

// The adapter config: `sampling` (the inside of a YAML flow map, e.g. "interval: 2s, maxAge: 60s"),
// the three metrics over the series c (concurrency), u over the baseline r (cpu, a utilization)
// and v (requests_running), each per (namespace, pod), then `extra` (more top-level YAML).
inline std::string ThreeMetricsConfig(absl::string_view sampling, absl::string_view extra = "") {
  return absl::StrCat(
      "sampling: {", sampling,
      "}\nmetrics:\n"
      "- {name: concurrency, query: 'sum by (<<.GroupBy>>) (c{<<.LabelMatchers>>})', target: 70}\n"
      "- {name: cpu, query: 'sum by (<<.GroupBy>>) (u{<<.LabelMatchers>>})', "
      "targetUtilization: 50,\n"
      "   baselineQuery: 'sum by (<<.GroupBy>>) (r{<<.LabelMatchers>>})'}\n"
      "- {name: requests_running, query: 'sum by (<<.GroupBy>>) (v{<<.LabelMatchers>>})', "
      "target: 70}\n",
      extra);
}

// A "<field>: <n> kB" line of /proc/<pid>/status, in KiB; 0 when absent.
inline int64_t StatusKiB(pid_t pid, const std::string& field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) return std::atoll(line.c_str() + field.size() + 1);
  }
  return 0;
}

// CPU time a process has used so far (user + system, /proc/<pid>/stat), in seconds; 0 when the
// process is gone.
inline double CpuSeconds(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  // After "pid (comm)": state is field 3, utime and stime are fields 14 and 15.
  std::vector<absl::string_view> f =
      absl::StrSplit(absl::string_view(stat).substr(paren + 2), ' ', absl::SkipEmpty());
  int64_t utime = 0, stime = 0;
  if (f.size() < 13 || !absl::SimpleAtoi(f[11], &utime) || !absl::SimpleAtoi(f[12], &stime)) {
    return 0;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

inline std::string MiB(int64_t kib) { return absl::StrFormat("%.1f MiB", kib / 1024.0); }

// The sum of the samples of `name` in a Prometheus text page whose labels contain every string of
// `label_parts` (e.g. `handler="/api/v1/query"`); 0 when none.
inline double SumSamples(absl::string_view page, absl::string_view name,
                         std::initializer_list<absl::string_view> label_parts = {}) {
  double sum = 0;
  for (absl::string_view line : absl::StrSplit(page, '\n')) {
    if (!absl::StartsWith(line, name) || line.size() <= name.size()) continue;
    char next = line[name.size()];
    if (next != '{' && next != ' ') continue;
    size_t space = line.rfind(' ');
    absl::string_view labels = line.substr(name.size(), space - name.size());
    bool all = true;
    for (absl::string_view part : label_parts) all = all && absl::StrContains(labels, part);
    double v = 0;
    if (all && absl::SimpleAtod(line.substr(space + 1), &v)) sum += v;
  }
  return sum;
}

}  // namespace aa::bench
