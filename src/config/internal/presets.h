#pragma once
// Expansion of metric presets into PromQL templates, so KServe and vLLM users write no PromQL.
// Pure functions; thread-safe.

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "config/config.h"

namespace aa::config::internal {

// A preset as written in YAML, already checked by the loader: `type` is "concurrency", "cpu",
// "waiting", "kv-cache" or "ttft" (the last three read vLLM's series), or "activity" (an external
// metric: ExpandPreset sets pod_label "", the caller the resource); `source` is set for
// concurrency, and for activity "knative-activator" (also when empty) or "istio-gateway";
// `quantile` (in (0, 1)) is read by ttft only; `metric` for the histogram and gauge sources, `unit`
// ("s" or "ms") for histogram; `window` is a positive whole number of milliseconds. Empty label
// overrides mean the source's defaults. The matchers are valid PromQL label matchers
// (LabelMatcherProblem's normalized form); baseline_matchers only for cpu.
struct PresetSpec {
  std::string type;
  std::string source;
  absl::Duration window = absl::Minutes(1);
  std::string metric;
  std::string unit;
  double quantile = 0.95;
  std::string namespace_label;
  std::string pod_label;
  std::vector<std::string> source_matchers;    // added to the selector of the series it reads
  std::vector<std::string> baseline_matchers;  // cpu: added to the CPU requests' selector
  bool saturation = false;                     // cpu: usage + CFS throttled seconds (the demand)
};

// The cpu preset's value over the cAdvisor series `filter` selects (it ends in <<.LabelMatchers>>):
// sum by (<<.GroupBy>>) (rate(container_cpu_usage_seconds_total{<filter>}[<window>])), and with
// `saturation` plus the same of container_cpu_cfs_throttled_seconds_total (0 for groups without
// that series: containers without a CPU limit have none).
std::string CpuQuery(const std::string& filter, const std::string& window, bool saturation);
// The seconds between the first and the last cAdvisor CPU usage sample within `window` of the
// series `filter` selects, grouped by <<.GroupBy>> (the smallest of a group's series).
std::string CpuSpanQuery(const std::string& filter, const std::string& window);

// The extra matchers a selector starts with: "" when there are none, else the matchers joined by
// "," and followed by "," (so that "<<.LabelMatchers>>" can follow).
std::string MatcherPrefix(const std::vector<std::string>& matchers);

// Sets def->query, baseline_query, namespace_label, pod_label and preset, and def->description when
// it is empty. Leaves name, resource and the targets alone.
void ExpandPreset(const PresetSpec& spec, MetricDefinition* def);

}  // namespace aa::config::internal
