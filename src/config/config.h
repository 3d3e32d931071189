#pragma once
// The adapter's configuration: one YAML file, validated whole at load time.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "prometheus/client.h"

namespace aa::config {

// Where a metric definition came from when it was written as a preset (kept for listing and docs).
struct PresetInfo {
  std::string type;    // "concurrency" or "cpu"; empty when the definition was written as PromQL
  std::string source;  // concurrency: "knative-queue-proxy", "kserve", "vllm", "histogram", "gauge"
};

// One metric the adapter serves. After loading, presets are expanded: `query` is always set.
struct MetricDefinition {
  std::string name;              // served name, e.g. "concurrency"; unique; [a-zA-Z_:][a-zA-Z0-9_:.-]*
  std::string resource = "pods";  // the Kubernetes resource one value describes; "pods" for now
  std::string description;
  // PromQL with placeholders, rendered by the sampler:
  //   <<.LabelMatchers>>  matchers restricting the namespaces, e.g. namespace=~"a|b" (never empty)
  //   <<.GroupBy>>        the grouping labels, e.g. namespace, pod
  // Each result series must carry namespace_label and pod_label.
  std::string query;
  // Optional PromQL (same placeholders) giving each pod's baseline, e.g. its CPU request in cores: then
  // utilization = value / baseline (summed per workload, as the HPA does), and `target_utilization` applies.
  std::string baseline_query;
  std::string namespace_label = "namespace";  // series label naming the pod's namespace
  std::string pod_label = "pod";              // series label naming the pod
  // Per-pod target of the value (e.g. 70 concurrent requests), when known: utilization = value / target.
  std::optional<double> target;
  // Target utilization in percent of the baseline (e.g. 50 for CPU), when baseline_query is set.
  std::optional<double> target_utilization;
  PresetInfo preset;
};

struct SamplingConfig {
  absl::Duration interval = absl::Seconds(5);    // one query per demanded metric per interval
  absl::Duration max_age = absl::Seconds(60);    // older values are never served
  absl::Duration demand_ttl = absl::Minutes(5);  // a (metric, namespace) nobody asked for that long is dropped
  absl::Duration first_sample_timeout = absl::Seconds(5);  // how long a first request waits for its sample
  // Readiness: true waits until every metric definition has sampled once successfully.
  bool wait_for_first_sample = true;
  // Namespaces sampled from start, before anybody asks (readiness checks these). Empty: none.
  std::vector<std::string> warm_namespaces;
};

// Pod labels index from kube-state-metrics (kube_pod_labels), used to select pods by their Kubernetes labels.
struct PodLabelsConfig {
  bool enabled = true;
  std::string query = "kube_pod_labels{<<.LabelMatchers>>}";
};

struct Config {
  std::string source;  // the file it came from ("<embedded>" for strings), for messages
  prom::ClientOptions prometheus;  // the `registry` and `sleep` members are not read from YAML
  SamplingConfig sampling;
  PodLabelsConfig pod_labels;
  std::vector<MetricDefinition> metrics;

  // Returns the definition named `name`, or nullptr.
  const MetricDefinition* FindMetric(std::string_view name) const;
};

// Parses and validates YAML text. `source` names it in errors. InvalidArgument with "<source>: <field path>:
// <problem> (got <value>)" for unknown fields, wrong types, bad durations, duplicate names, unknown presets,
// templates missing their placeholders, an empty metric list, and YAML syntax errors (with line and column).
absl::StatusOr<Config> ParseConfig(std::string_view yaml_text, std::string_view source);

// Reads and parses a file. NotFound / PermissionDenied when it cannot be read, else as ParseConfig.
absl::StatusOr<Config> LoadConfigFile(const std::string& path);

// The built-in default: the two tutorial metrics (concurrency from Knative queue-proxy, cpu) for the simulator.
std::string_view EmbeddedDefaultConfig();

}  // namespace aa::config
