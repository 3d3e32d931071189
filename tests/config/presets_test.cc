// Preset expansion: the exact PromQL each preset renders, and (with promtool) that it is valid
// PromQL once the sampler substitutes the placeholders.

#include "config/internal/presets.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace aa::config {
namespace {

MetricDefinition FromYaml(const std::string& metric_body) {
  absl::StatusOr<Config> c =
      ParseConfig(absl::StrCat("metrics:\n- name: m\n  ", metric_body, "\n"), "t.yaml");
  EXPECT_TRUE(c.ok()) << c.status();
  if (!c.ok() || c->metrics.empty()) return {};
  return c->metrics[0];
}

TEST(PresetTest, KnativeQueueProxy) {
  MetricDefinition m =
      FromYaml("preset: {type: concurrency, source: knative-queue-proxy, window: 1m}");
  EXPECT_EQ(m.query,
            "sum by (<<.GroupBy>>) (rate(revision_request_latencies_sum{<<.LabelMatchers>>}[1m])) "
            "/ 1000");
  EXPECT_EQ(m.baseline_query, "");
  EXPECT_EQ(m.namespace_label, "namespace_name");
  EXPECT_EQ(m.pod_label, "pod_name");
  EXPECT_EQ(m.preset.type, "concurrency");
  EXPECT_EQ(m.preset.source, "knative-queue-proxy");
  EXPECT_EQ(m.preset.window, absl::Minutes(1));
  EXPECT_EQ(m.preset.metric, "revision_request_latencies");
  EXPECT_EQ(m.preset.unit, "ms");
  EXPECT_EQ(m.description,
            "Mean requests in flight per pod over 1m0s (Little's law on Knative queue-proxy "
            "revision_request_latencies)");
}

TEST(PresetTest, WindowDefaultsToOneMinute) {
  MetricDefinition m = FromYaml("preset: {type: concurrency, source: knative-queue-proxy}");
  EXPECT_EQ(m.preset.window, absl::Minutes(1));
  EXPECT_THAT(m.query, ::testing::HasSubstr("[1m]"));
}

TEST(PresetTest, Kserve) {
  MetricDefinition m = FromYaml("preset: {type: concurrency, source: kserve, window: 30s}");
  EXPECT_EQ(m.query,
            "sum by (<<.GroupBy>>) (rate(request_predict_seconds_sum{<<.LabelMatchers>>}[30s]))");
  EXPECT_EQ(m.namespace_label, "namespace");
  EXPECT_EQ(m.pod_label, "pod");
  EXPECT_EQ(m.preset.metric, "request_predict_seconds");
  EXPECT_EQ(m.preset.unit, "s");
}

TEST(PresetTest, Vllm) {
  MetricDefinition m = FromYaml("preset: {type: concurrency, source: vllm, window: 2m}");
  EXPECT_EQ(
      m.query,
      "sum by (<<.GroupBy>>) (avg_over_time(vllm:num_requests_running{<<.LabelMatchers>>}[2m]))");
  EXPECT_EQ(m.namespace_label, "namespace");
  EXPECT_EQ(m.pod_label, "pod");
  EXPECT_EQ(m.preset.metric, "vllm:num_requests_running");
  EXPECT_EQ(m.preset.unit, "");
}

TEST(PresetTest, VllmWaiting) {
  MetricDefinition m = FromYaml("preset: {type: waiting, window: 30s}\n  target: 5");
  EXPECT_EQ(
      m.query,
      "sum by (<<.GroupBy>>) (avg_over_time(vllm:num_requests_waiting{<<.LabelMatchers>>}[30s]))");
  EXPECT_EQ(m.namespace_label, "namespace");
  EXPECT_EQ(m.pod_label, "pod");
  EXPECT_EQ(m.preset.type, "waiting");
  EXPECT_EQ(m.preset.source, "vllm");
  EXPECT_EQ(m.preset.metric, "vllm:num_requests_waiting");
  EXPECT_EQ(m.preset.window, absl::Seconds(30));
  EXPECT_EQ(m.target, 5.0);
  EXPECT_EQ(m.description, "Mean requests waiting per pod over 30s (vLLM num_requests_waiting)");
}

TEST(PresetTest, VllmKvCacheInPercent) {
  MetricDefinition m = FromYaml(
      "preset: {type: kv-cache, source: vllm, sourceMatchers: ['job=\"vllm\"']}\n  target: 80");
  EXPECT_EQ(m.query,
            "sum by (<<.GroupBy>>) (avg_over_time(vllm:gpu_cache_usage_perc{job=\"vllm\","
            "<<.LabelMatchers>>}[1m])) * 100");
  EXPECT_EQ(m.preset.type, "kv-cache");
  EXPECT_EQ(m.preset.metric, "vllm:gpu_cache_usage_perc");
  EXPECT_EQ(m.target, 80.0);
}

TEST(PresetTest, VllmTimeToFirstTokenQuantile) {
  MetricDefinition m = FromYaml("preset: {type: ttft}");
  EXPECT_EQ(m.query,
            "histogram_quantile(0.95, sum by (<<.GroupBy>>, le) "
            "(rate(vllm:time_to_first_token_seconds_bucket{<<.LabelMatchers>>}[1m])))");
  EXPECT_EQ(m.preset.type, "ttft");
  EXPECT_EQ(m.preset.source, "vllm");
  EXPECT_EQ(m.preset.metric, "vllm:time_to_first_token_seconds");
  EXPECT_EQ(m.preset.unit, "s");
  EXPECT_EQ(m.description,
            "Quantile 0.95 of the time to first token per pod over 1m0s, seconds (vLLM "
            "time_to_first_token_seconds)");
  m = FromYaml("preset: {type: ttft, quantile: 0.5, window: 2m, podLabel: p}");
  EXPECT_EQ(m.query,
            "histogram_quantile(0.5, sum by (<<.GroupBy>>, le) "
            "(rate(vllm:time_to_first_token_seconds_bucket{<<.LabelMatchers>>}[2m])))");
  EXPECT_EQ(m.pod_label, "p");
}

TEST(PresetTest, HistogramInSeconds) {
  MetricDefinition m = FromYaml(
      "preset: {type: concurrency, source: histogram, metric: http_request_duration_seconds, unit: "
      "s}");
  EXPECT_EQ(
      m.query,
      "sum by (<<.GroupBy>>) (rate(http_request_duration_seconds_sum{<<.LabelMatchers>>}[1m]))");
  EXPECT_EQ(m.namespace_label, "namespace");
  EXPECT_EQ(m.preset.source, "histogram");
  EXPECT_EQ(m.preset.metric, "http_request_duration_seconds");
  EXPECT_EQ(m.preset.unit, "s");
}

TEST(PresetTest, HistogramInMillisecondsWithLabels) {
  MetricDefinition m = FromYaml(
      "preset: {type: concurrency, source: histogram, metric: 'app:latency_ms', unit: ms, window: "
      "90s, "
      "namespaceLabel: kubernetes_namespace, podLabel: kubernetes_pod}");
  EXPECT_EQ(m.query,
            "sum by (<<.GroupBy>>) (rate(app:latency_ms_sum{<<.LabelMatchers>>}[90s])) / 1000");
  EXPECT_EQ(m.namespace_label, "kubernetes_namespace");
  EXPECT_EQ(m.pod_label, "kubernetes_pod");
}

TEST(PresetTest, Gauge) {
  MetricDefinition m =
      FromYaml("preset: {type: concurrency, source: gauge, metric: inflight, window: 1500ms}");
  EXPECT_EQ(m.query, "sum by (<<.GroupBy>>) (avg_over_time(inflight{<<.LabelMatchers>>}[1500ms]))");
  EXPECT_EQ(m.preset.metric, "inflight");
  EXPECT_EQ(m.description, "Mean of gauge inflight per pod over 1.5s");
}

TEST(PresetTest, LabelOverridesApplyToKnownSources) {
  MetricDefinition m =
      FromYaml("preset: {type: concurrency, source: kserve, podLabel: instance_pod}");
  EXPECT_EQ(m.namespace_label, "namespace");
  EXPECT_EQ(m.pod_label, "instance_pod");
}

TEST(PresetTest, Cpu) {
  MetricDefinition m = FromYaml("preset: {type: cpu, window: 2h}\n  targetUtilization: 50");
  EXPECT_EQ(m.query,
            "sum by (<<.GroupBy>>) "
            "(rate(container_cpu_usage_seconds_total{container!=\"\",container!=\"POD\","
            "<<.LabelMatchers>>}[2h]))");
  EXPECT_EQ(
      m.baseline_query,
      "sum by (<<.GroupBy>>) (kube_pod_container_resource_requests{resource=\"cpu\",unit=\"core\","
      "<<.LabelMatchers>>})");
  EXPECT_EQ(m.namespace_label, "namespace");
  EXPECT_EQ(m.pod_label, "pod");
  EXPECT_EQ(m.preset.type, "cpu");
  EXPECT_EQ(m.preset.source, "");
  EXPECT_EQ(m.preset.metric, "container_cpu_usage_seconds_total");
  EXPECT_EQ(m.target_utilization, 50.0);
  EXPECT_FALSE(m.target.has_value());
}

// saturation: the demand, usage + CFS throttled seconds (0 where a container has no CPU limit and
// thus no throttling series), in the pods definition and in metrics.k8s.io's per-container cpu;
// the nodes keep the usage. Opt-in, cpu only.
TEST(PresetTest, CpuSaturation) {
  absl::StatusOr<Config> c = ParseConfig(
      "metrics:\n- name: cpu\n  preset: {type: cpu, window: 15s, saturation: true, "
      "sourceMatchers: ['job=\"kubelet\"']}\n  targetUtilization: 50\n",
      "t.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string usage =
      "sum by (<<.GroupBy>>) (rate(container_cpu_usage_seconds_total{container!=\"\","
      "container!=\"POD\",job=\"kubelet\",<<.LabelMatchers>>}[15s]))";
  const std::string throttled =
      "sum by (<<.GroupBy>>) (rate(container_cpu_cfs_throttled_seconds_total{container!=\"\","
      "container!=\"POD\",job=\"kubelet\",<<.LabelMatchers>>}[15s]))";
  const std::string demand = usage + " + (" + throttled + " or 0 * " + usage + ")";
  const MetricDefinition* cpu = c->FindMetric("cpu");
  ASSERT_NE(cpu, nullptr);
  EXPECT_EQ(cpu->query, demand);
  EXPECT_TRUE(cpu->preset.saturation);
  EXPECT_THAT(cpu->description, ::testing::StartsWith("CPU demand per pod in cores"));
  for (const MetricDefinition& def : c->metrics) {
    if (def.resource.is(MetricResource::Kind::kContainers) && def.name == "cpu") {
      EXPECT_EQ(def.query, demand);
    }
    if (def.resource.is(MetricResource::Kind::kNodeMetrics)) {
      EXPECT_THAT(def.query, ::testing::Not(::testing::HasSubstr("throttled")));
    }
  }
  EXPECT_FALSE(FromYaml("preset: {type: cpu}").preset.saturation);
  absl::StatusOr<Config> bad = ParseConfig(
      "metrics:\n- name: c\n  preset: {type: concurrency, source: kserve, saturation: true}\n",
      "t.yaml");
  EXPECT_THAT(bad.status().message(),
              ::testing::HasSubstr("metrics[0].preset.saturation: only for type cpu"));
  bad = ParseConfig("metrics:\n- name: c\n  preset: {type: cpu, saturation: maybe}\n", "t.yaml");
  EXPECT_THAT(bad.status().message(), ::testing::HasSubstr("metrics[0].preset.saturation"));
}

TEST(PresetTest, SourceMatchersRestrictTheSeries) {
  MetricDefinition m = FromYaml(
      "preset: {type: concurrency, source: kserve, sourceMatchers: ['job=\"kserve-model-server\"', "
      "' instance =~ \"a|b\" ']}");
  EXPECT_EQ(m.query,
            "sum by (<<.GroupBy>>) (rate(request_predict_seconds_sum{job=\"kserve-model-server\","
            "instance=~\"a|b\",<<.LabelMatchers>>}[1m]))");
  EXPECT_THAT(m.preset.source_matchers,
              ::testing::ElementsAre("job=\"kserve-model-server\"", "instance=~\"a|b\""));
  EXPECT_THAT(m.preset.baseline_matchers, ::testing::IsEmpty());
  MetricDefinition g = FromYaml(
      "preset: {type: concurrency, source: gauge, metric: g, sourceMatchers: ['job!=\"x\"']}");
  EXPECT_EQ(g.query, "sum by (<<.GroupBy>>) (avg_over_time(g{job!=\"x\",<<.LabelMatchers>>}[1m]))");
}

// cpu: sourceMatchers on the cAdvisor usage (and the metrics.k8s.io definitions derived from it),
// baselineMatchers on kube-state-metrics' requests.
TEST(PresetTest, CpuMatchers) {
  absl::StatusOr<Config> c = ParseConfig(
      "metrics:\n- name: cpu\n  preset: {type: cpu, sourceMatchers: ['job=\"kubelet\"'], "
      "baselineMatchers: ['job=\"kube-state-metrics\"', 'service!~\"x.*\"']}\n",
      "t.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  const MetricDefinition* cpu = c->FindMetric("cpu");
  ASSERT_NE(cpu, nullptr);
  EXPECT_EQ(cpu->query,
            "sum by (<<.GroupBy>>) (rate(container_cpu_usage_seconds_total{container!=\"\","
            "container!=\"POD\",job=\"kubelet\",<<.LabelMatchers>>}[1m]))");
  EXPECT_EQ(cpu->baseline_query,
            "sum by (<<.GroupBy>>) (kube_pod_container_resource_requests{resource=\"cpu\","
            "unit=\"core\",job=\"kube-state-metrics\",service!~\"x.*\",<<.LabelMatchers>>})");
  int derived = 0;
  for (const MetricDefinition& def : c->metrics) {
    if (!def.resource.is(MetricResource::Kind::kContainers) &&
        !def.resource.is(MetricResource::Kind::kNodeMetrics)) {
      continue;
    }
    ++derived;
    EXPECT_THAT(def.query, ::testing::HasSubstr("job=\"kubelet\",<<.LabelMatchers>>"))
        << def.resource.name() << "/" << def.name;
  }
  EXPECT_EQ(derived, 4);  // cpu and memory, per container and per node
}

// A config whose one metric has `body` is refused with an InvalidArgument containing `error`.
void ExpectRefused(const std::string& body, const std::string& error) {
  SCOPED_TRACE(body);
  absl::StatusOr<Config> c =
      ParseConfig(absl::StrCat("metrics:\n- name: m\n  ", body, "\n"), "t.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), ::testing::HasSubstr(error));
}

// What every activity preset expands to: an external metric, no pod label, no baseline.
struct ActivityExpansion {
  std::string query;
  std::string namespace_label;
  std::string source;
  std::string metric;
};

void ExpectActivity(const std::string& body, double target, const ActivityExpansion& want) {
  SCOPED_TRACE(body);
  MetricDefinition m = FromYaml(body);
  EXPECT_EQ(m.query, want.query);
  EXPECT_TRUE(m.resource.is(MetricResource::Kind::kExternal));
  EXPECT_EQ(m.Key(), "external/m");
  EXPECT_EQ(m.namespace_label, want.namespace_label);
  EXPECT_EQ(m.pod_label, "");
  EXPECT_EQ(m.baseline_query, "");
  EXPECT_EQ(m.target, target);
  EXPECT_EQ(m.preset.type, "activity");
  EXPECT_EQ(m.preset.source, want.source);
  EXPECT_EQ(m.preset.metric, want.metric);
  EXPECT_THAT(m.description, ::testing::HasSubstr("zero pods"));
}

TEST(PresetTest, KnativeActivatorActivityIsAnExternalMetricPerRevision) {
  const ActivityExpansion want{
      .query =
          "sum by (<<.GroupBy>>, configuration_name, revision_name) "
          "(max_over_time(activator_request_concurrency{<<.LabelMatchers>>}[2s]))",
      .namespace_label = "namespace_name",
      .source = "knative-activator",
      .metric = "activator_request_concurrency"};
  ExpectActivity("preset: {type: activity, window: 2s}\n  target: 70", 70, want);
  ExpectActivity(
      "preset: {type: activity, source: knative-activator, window: 2s}\n  resource: external\n"
      "  target: 70",
      70, want);
  for (const auto& [body, error] : std::vector<std::pair<std::string, std::string>>{
           {"preset: {type: activity}\n  resource: pods",
            "metrics[0].resource: must be external (preset activity is an external metric)"},
           {"preset: {type: concurrency, source: kserve}\n  resource: external",
            "metrics[0].resource: external is for preset activity only"},
           {"query: x{<<.LabelMatchers>>}\n  resource: external",
            "metrics[0].resource: external is for preset activity only"},
           {"preset: {type: activity, source: istio}",
            "metrics[0].preset.source: unknown source; expected knative-activator or "
            "istio-gateway (got \"istio\")"},
           {"preset: {type: activity, podLabel: p}", "metrics[0].preset.podLabel: only for"},
           {"preset: {type: activity}\n  target: 70\n  panic: {}",
            "metrics[0].panic: only for concurrency and cpu metrics"}}) {
    ExpectRefused(body, error);
  }
}

TEST(PresetTest, IstioGatewayActivityIsAnExternalMetricPerService) {
  const ActivityExpansion want{
      .query =
          "sum by (<<.GroupBy>>, destination_service_name) "
          "(rate(istio_requests_total{reporter=\"source\",<<.LabelMatchers>>}[2s]))",
      .namespace_label = "destination_service_namespace",
      .source = "istio-gateway",
      .metric = "istio_requests_total"};
  ExpectActivity("preset: {type: activity, source: istio-gateway, window: 2s}\n  target: 1", 1,
                 want);
  ExpectActivity(
      "preset: {type: activity, source: istio-gateway, window: 2s}\n  resource: external\n"
      "  target: 1",
      1, want);
  // sourceMatchers narrow it to one gateway.
  MetricDefinition m = FromYaml(
      "preset: {type: activity, source: istio-gateway, "
      "sourceMatchers: ['source_workload=\"istio-ingressgateway\"']}");
  EXPECT_EQ(m.query,
            "sum by (<<.GroupBy>>, destination_service_name) (rate(istio_requests_total{"
            "reporter=\"source\",source_workload=\"istio-ingressgateway\",<<.LabelMatchers>>}"
            "[1m]))");
  for (const auto& [body, error] : std::vector<std::pair<std::string, std::string>>{
           {"preset: {type: activity, source: istio-gateway}\n  resource: pods",
            "metrics[0].resource: must be external (preset activity is an external metric)"},
           {"preset: {type: activity, source: envoy}",
            "metrics[0].preset.source: unknown source; expected knative-activator or "
            "istio-gateway (got \"envoy\")"},
           {"preset: {type: activity, source: ''}",
            "metrics[0].preset.source: unknown source; expected knative-activator or "
            "istio-gateway"},
           {"preset: {type: activity, source: istio-gateway, podLabel: p}",
            "metrics[0].preset.podLabel: only for"},
           {"preset: {type: activity, source: istio-gateway, namespaceLabel: n}",
            "metrics[0].preset.namespaceLabel: only for"},
           {"preset: {type: activity, source: istio-gateway, metric: istio_requests_total}",
            "metrics[0].preset.metric: only for"},
           {"preset: {type: activity, source: istio-gateway, unit: s}",
            "metrics[0].preset.unit: only for"},
           {"preset: {type: activity, source: istio-gateway, quantile: 0.5}",
            "metrics[0].preset.quantile: only for type ttft"},
           {"preset: {type: activity, source: istio-gateway, baselineMatchers: ['a=\"b\"']}",
            "metrics[0].preset.baselineMatchers: only for type cpu"},
           {"preset: {type: activity, source: istio-gateway}\n  target: 1\n  panic: {}",
            "metrics[0].panic: only for concurrency and cpu metrics"}}) {
    ExpectRefused(body, error);
  }
}

TEST(PresetTest, UserDescriptionWins) {
  MetricDefinition m = FromYaml("description: mine\n  preset: {type: cpu}");
  EXPECT_EQ(m.description, "mine");
}

TEST(PresetTest, ExpandPresetOverwritesQueryFields) {
  MetricDefinition def;
  def.query = "old";
  def.baseline_query = "old";
  def.name = "keep";
  def.target = 3;
  internal::PresetSpec spec;
  spec.type = "concurrency";
  spec.source = "vllm";
  spec.window = absl::Seconds(45);
  internal::ExpandPreset(spec, &def);
  EXPECT_EQ(def.name, "keep");
  EXPECT_EQ(def.target, 3.0);
  EXPECT_EQ(def.baseline_query, "");
  EXPECT_EQ(
      def.query,
      "sum by (<<.GroupBy>>) (avg_over_time(vllm:num_requests_running{<<.LabelMatchers>>}[45s]))");
}

// ---- the rendered templates are valid PromQL (checked by Prometheus' own parser, promtool)
// ----------------

// Renders a template the way the sampler does.
std::string Render(const std::string& tmpl, const MetricDefinition& def) {
  if (def.namespace_label.empty()) {  // cluster-scoped (nodes), as the sampler renders them
    return absl::StrReplaceAll(tmpl, {{"<<.LabelMatchers>>", absl::StrCat(def.pod_label, "!=\"\"")},
                                      {"<<.GroupBy>>", def.pod_label}});
  }
  std::string out = absl::StrReplaceAll(
      tmpl, {{"<<.LabelMatchers>>", absl::StrCat(def.namespace_label, "=~\"kserve-test|other\"")},
             {"<<.GroupBy>>", def.pod_label.empty()  // external: the namespace only
                                  ? def.namespace_label
                                  : absl::StrCat(def.namespace_label, ", ", def.pod_label)}});
  return out;
}

bool HavePromtool() { return std::system("promtool --version >/dev/null 2>&1") == 0; }

TEST(PresetPromqlTest, EveryPresetRendersToValidPromql) {
  if (!HavePromtool()) GTEST_SKIP() << "promtool not installed";
  std::vector<std::string> bodies = {
      "preset: {type: concurrency, source: knative-queue-proxy}",
      "preset: {type: concurrency, source: kserve, window: 30s}",
      "preset: {type: concurrency, source: vllm, window: 1500ms}",
      "preset: {type: concurrency, source: histogram, metric: lat, unit: ms, window: 2h}",
      "preset: {type: concurrency, source: histogram, metric: lat_seconds, unit: s, podLabel: p, "
      "namespaceLabel: n}",
      "preset: {type: concurrency, source: gauge, metric: 'a:b', window: 90s}",
      "preset: {type: cpu, window: 5m}",
      "preset: {type: cpu, sourceMatchers: ['job=\"kubelet\"', "
      "'metrics_path=~\"/metrics/cad.*\"'], "
      "baselineMatchers: ['job=\"kube-state-metrics\"', 'x!=\"a\\\"b\\\\\"']}",
      "preset: {type: concurrency, source: knative-queue-proxy, sourceMatchers: ['job!~\"a|b\"']}",
      "preset: {type: waiting, window: 15s}",
      "preset: {type: kv-cache, sourceMatchers: ['job=\"vllm\"']}",
      "preset: {type: ttft, quantile: 0.99, window: 2m}",
      "preset: {type: activity, window: 2s, sourceMatchers: ['job=\"activator\"']}",
      "preset: {type: activity, source: istio-gateway, window: 2s, "
      "sourceMatchers: ['source_workload=\"istio-ingressgateway\"']}",
  };
  std::vector<MetricDefinition> defs;
  for (const std::string& body : bodies) defs.push_back(FromYaml(body));
  absl::StatusOr<Config> embedded = ParseConfig(EmbeddedDefaultConfig(), "<embedded>");
  ASSERT_TRUE(embedded.ok()) << embedded.status();
  for (const MetricDefinition& def : embedded->metrics) defs.push_back(def);

  std::string rules = "groups:\n- name: presets\n  rules:\n";
  int n = 0;
  for (const MetricDefinition& def : defs) {
    for (const std::string* tmpl : {&def.query, &def.baseline_query}) {
      if (tmpl->empty()) continue;
      std::string expr = Render(*tmpl, def);
      // Single-quoted YAML scalar: double the single quotes.
      absl::StrAppend(&rules, "  - record: rendered_", n++, "\n    expr: '",
                      absl::StrReplaceAll(expr, {{"'", "''"}}), "'\n");
    }
  }
  std::string path = absl::StrCat(::testing::TempDir(), "/config_presets_rules.yaml");
  { std::ofstream(path) << rules; }
  std::string command = absl::StrCat("promtool check rules ", path, " >/dev/null 2>&1");
  EXPECT_EQ(std::system(command.c_str()), 0) << "promtool rejected:\n" << rules;

  // The check is not vacuous: a broken expression fails it.
  std::string bad_path = absl::StrCat(::testing::TempDir(), "/config_presets_bad.yaml");
  {
    std::ofstream(bad_path)
        << "groups:\n- name: b\n  rules:\n  - record: r\n    expr: 'sum by (a (x'\n";
  }
  EXPECT_NE(
      std::system(absl::StrCat("promtool check rules ", bad_path, " >/dev/null 2>&1").c_str()), 0);
  std::remove(path.c_str());
  std::remove(bad_path.c_str());
}

}  // namespace
}  // namespace aa::config
