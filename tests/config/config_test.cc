#include "config/config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace aa::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kOneMetric[] = "metrics:\n- name: m\n  query: 'up{<<.LabelMatchers>>}'\n";

Config ParseOk(std::string_view yaml) {
  absl::StatusOr<Config> config = ParseConfig(yaml, "t.yaml");
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *std::move(config) : Config{};
}

// The message of the InvalidArgument that ParseConfig must return for `yaml`.
std::string ErrorOf(std::string_view yaml) {
  absl::StatusOr<Config> config = ParseConfig(yaml, "t.yaml");
  if (config.ok()) {
    ADD_FAILURE() << "parsed, expected an error:\n" << yaml;
    return "";
  }
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << config.status();
  return std::string(config.status().message());
}

// A config with one valid query metric plus `extra` (top-level YAML).
std::string WithMetric(const std::string& extra) { return absl::StrCat(extra, "\n", kOneMetric); }

// A config whose only metric has the given body (indented under "- ").
std::string Metric(const std::string& body) { return absl::StrCat("metrics:\n- ", body, "\n"); }

TEST(ParseConfigTest, EveryFieldIsRead) {
  Config c = ParseOk(R"yaml(
prometheus:
  url: https://thanos.example:10902/prefix
  headers: {X-Scope-OrgID: tenant-a, X-Other: "2"}
  basicAuth: {username: u, passwordFile: /run/pw}
  tls:
    caFile: /ca.pem
    certFile: /c.pem
    keyFile: /k.pem
    serverName: prom.local
    insecureSkipVerify: true
  timeout: 3s
  maxRetries: 5
  retryBackoff: 50ms
  method: post
  postThresholdBytes: 100
  maxResponseBytes: 1048576
  acceptWarnings: true
sampling:
  interval: 10s
  maxAge: 2m
  demandTTL: 10m
  firstSampleTimeout: 1500ms
  waitForFirstSample: false
  warmNamespaces: [kserve-test, other-ns]
podLabels:
  enabled: false
  query: 'kube_pod_labels{job="ksm",<<.LabelMatchers>>}'
metrics:
- name: my_metric
  description: custom one
  resource: pods
  query: 'sum by (<<.GroupBy>>) (rate(foo_total{<<.LabelMatchers>>}[1m]))'
  baselineQuery: 'sum by (<<.GroupBy>>) (foo_capacity{<<.LabelMatchers>>})'
  namespaceLabel: kubernetes_namespace
  podLabel: kubernetes_pod_name
  target: 12.5
  targetUtilization: 80
)yaml");
  EXPECT_EQ(c.source, "t.yaml");
  const prom::ClientOptions& p = c.prometheus;
  EXPECT_EQ(p.url, "https://thanos.example:10902/prefix");
  EXPECT_EQ(p.headers,
            (std::map<std::string, std::string>{{"X-Other", "2"}, {"X-Scope-OrgID", "tenant-a"}}));
  EXPECT_EQ(p.bearer_token_file, "");
  EXPECT_EQ(p.basic_auth_username, "u");
  EXPECT_EQ(p.basic_auth_password, "");
  EXPECT_EQ(p.basic_auth_password_file, "/run/pw");
  EXPECT_EQ(p.tls.ca_file, "/ca.pem");
  EXPECT_EQ(p.tls.cert_file, "/c.pem");
  EXPECT_EQ(p.tls.key_file, "/k.pem");
  EXPECT_EQ(p.tls.server_name, "prom.local");
  EXPECT_TRUE(p.tls.insecure_skip_verify);
  EXPECT_EQ(p.timeout, absl::Seconds(3));
  EXPECT_EQ(p.max_retries, 5);
  EXPECT_EQ(p.retry_backoff, absl::Milliseconds(50));
  EXPECT_EQ(p.method, "POST");
  EXPECT_EQ(p.post_threshold_bytes, 100u);
  EXPECT_EQ(p.max_response_bytes, 1048576u);
  EXPECT_TRUE(p.accept_warnings);
  const SamplingConfig& s = c.sampling;
  EXPECT_EQ(s.interval, absl::Seconds(10));
  EXPECT_EQ(s.max_age, absl::Minutes(2));
  EXPECT_EQ(s.demand_ttl, absl::Minutes(10));
  EXPECT_EQ(s.first_sample_timeout, absl::Milliseconds(1500));
  EXPECT_FALSE(s.wait_for_first_sample);
  EXPECT_EQ(s.warm_namespaces, (std::vector<std::string>{"kserve-test", "other-ns"}));
  EXPECT_FALSE(c.pod_labels.enabled);
  EXPECT_EQ(c.pod_labels.query, "kube_pod_labels{job=\"ksm\",<<.LabelMatchers>>}");
  ASSERT_EQ(c.metrics.size(), 1u);
  const MetricDefinition& m = c.metrics[0];
  EXPECT_EQ(m.name, "my_metric");
  EXPECT_EQ(m.description, "custom one");
  EXPECT_EQ(m.resource.name(), "pods");
  EXPECT_EQ(m.query, "sum by (<<.GroupBy>>) (rate(foo_total{<<.LabelMatchers>>}[1m]))");
  EXPECT_EQ(m.baseline_query, "sum by (<<.GroupBy>>) (foo_capacity{<<.LabelMatchers>>})");
  EXPECT_EQ(m.namespace_label, "kubernetes_namespace");
  EXPECT_EQ(m.pod_label, "kubernetes_pod_name");
  EXPECT_EQ(m.target, 12.5);
  EXPECT_EQ(m.target_utilization, 80.0);
  EXPECT_EQ(m.preset.type, "");
  EXPECT_EQ(m.preset.window, absl::ZeroDuration());
}

TEST(ParseConfigTest, DefaultsWhenOnlyMetricsAreGiven) {
  Config c = ParseOk(kOneMetric);
  prom::ClientOptions defaults;
  EXPECT_EQ(c.prometheus.url, "");
  EXPECT_TRUE(c.prometheus.headers.empty());
  EXPECT_EQ(c.prometheus.timeout, absl::Seconds(10));
  EXPECT_EQ(c.prometheus.max_retries, 2);
  EXPECT_EQ(c.prometheus.retry_backoff, absl::Milliseconds(200));
  EXPECT_EQ(c.prometheus.method, "auto");
  EXPECT_EQ(c.prometheus.post_threshold_bytes, defaults.post_threshold_bytes);
  EXPECT_EQ(c.prometheus.max_response_bytes, size_t{64} << 20);
  EXPECT_FALSE(c.prometheus.tls.insecure_skip_verify);
  EXPECT_FALSE(c.prometheus.accept_warnings);
  EXPECT_EQ(c.sampling.interval, absl::Seconds(5));
  EXPECT_EQ(c.sampling.max_age, absl::Seconds(60));
  EXPECT_EQ(c.sampling.demand_ttl, absl::Minutes(5));
  EXPECT_EQ(c.sampling.first_sample_timeout, absl::Seconds(5));
  EXPECT_TRUE(c.sampling.wait_for_first_sample);
  EXPECT_TRUE(c.sampling.warm_namespaces.empty());
  EXPECT_EQ(c.sampling.max_concurrent_queries, 4);
  EXPECT_TRUE(c.pod_labels.enabled);
  EXPECT_EQ(c.pod_labels.query, "kube_pod_labels{<<.LabelMatchers>>}");
  ASSERT_EQ(c.metrics.size(), 1u);
  EXPECT_EQ(c.metrics[0].resource.name(), "pods");
  EXPECT_EQ(c.metrics[0].namespace_label, "namespace");
  EXPECT_EQ(c.metrics[0].pod_label, "pod");
  EXPECT_EQ(c.metrics[0].baseline_query, "");
  EXPECT_FALSE(c.metrics[0].target.has_value());
  EXPECT_FALSE(c.metrics[0].target_utilization.has_value());
}

TEST(ParseConfigTest, NullValuesMeanDefaults) {
  Config c = ParseOk(WithMetric("prometheus:\n  url:\n  timeout: ~\nsampling:\npodLabels: null\n"));
  EXPECT_EQ(c.prometheus.url, "");
  EXPECT_EQ(c.prometheus.timeout, absl::Seconds(10));
  EXPECT_EQ(c.sampling.interval, absl::Seconds(5));
  EXPECT_TRUE(c.pod_labels.enabled);
}

TEST(ParseConfigTest, ObjectWatch) {
  Config d = ParseOk(kOneMetric);
  EXPECT_EQ(d.object_watch.max_resources, 16);
  EXPECT_EQ(d.object_watch.max_objects, 100000);
  EXPECT_EQ(d.object_watch.first_list_wait, absl::Seconds(5));
  EXPECT_EQ(d.object_watch.max_staleness, absl::Minutes(2));
  EXPECT_EQ(d.object_watch.list_page_size, 500);
  Config c = ParseOk(WithMetric(
      "objectWatch: {maxResources: 0, maxObjects: 2000000, firstListWait: 0s, maxStaleness: 10m, "
      "listPageSize: 100}"));
  EXPECT_EQ(c.object_watch.max_resources, 0);
  EXPECT_EQ(c.object_watch.max_objects, 2000000);
  EXPECT_EQ(c.object_watch.first_list_wait, absl::ZeroDuration());
  EXPECT_EQ(c.object_watch.max_staleness, absl::Minutes(10));
  EXPECT_EQ(c.object_watch.list_page_size, 100);
}

TEST(ParseConfigTest, MaxConcurrentQueries) {
  EXPECT_EQ(
      ParseOk(WithMetric("sampling: {maxConcurrentQueries: 1}")).sampling.max_concurrent_queries,
      1);
  EXPECT_EQ(
      ParseOk(WithMetric("sampling: {maxConcurrentQueries: 64}")).sampling.max_concurrent_queries,
      64);
}

TEST(ParseConfigTest, BearerTokenAndInlinePasswordAndMethods) {
  EXPECT_EQ(ParseOk(WithMetric("prometheus: {bearerTokenFile: /var/run/secrets/token}"))
                .prometheus.bearer_token_file,
            "/var/run/secrets/token");
  Config c = ParseOk(WithMetric("prometheus: {basicAuth: {username: u, password: p}}"));
  EXPECT_EQ(c.prometheus.basic_auth_username, "u");
  EXPECT_EQ(c.prometheus.basic_auth_password, "p");
  EXPECT_EQ(ParseOk(WithMetric("prometheus: {method: GET}")).prometheus.method, "GET");
  EXPECT_EQ(ParseOk(WithMetric("prometheus: {method: Auto}")).prometheus.method, "auto");
  EXPECT_EQ(ParseOk(WithMetric("prometheus: {url: 'http://[::1]:9090'}")).prometheus.url,
            "http://[::1]:9090");
  EXPECT_EQ(
      ParseOk(WithMetric("prometheus: {maxRetries: 0, retryBackoff: 0s}")).prometheus.max_retries,
      0);
}

TEST(ParseConfigTest, TargetsFromContainerConcurrency) {
  auto target_of = [](const std::string& fields) {
    Config c = ParseOk(
        Metric(absl::StrCat("name: c\n  preset: {type: concurrency, source: kserve}\n  ", fields)));
    return c.metrics.empty() ? std::optional<double>() : c.metrics[0].target;
  };
  EXPECT_EQ(target_of("containerConcurrency: 100\n  targetUtilizationPercentage: 70"), 70.0);
  EXPECT_EQ(target_of("containerConcurrency: 100"), 70.0);  // Knative's default 70 %
  EXPECT_EQ(target_of("containerConcurrency: 10\n  targetUtilizationPercentage: 50"), 5.0);
  EXPECT_EQ(target_of("containerConcurrency: 4\n  targetUtilizationPercentage: 100"), 4.0);
  EXPECT_EQ(target_of("target: 0.5"), 0.5);
  EXPECT_FALSE(target_of("description: none").has_value());
}

TEST(ParseConfigTest, PanicAwareMetric) {
  Config c = ParseOk(
      "sampling: {interval: 2s}\nmetrics:\n- name: c\n  preset: {type: concurrency, source: "
      "kserve, window: 2s}\n  containerConcurrency: 100\n  panic: {}\n- name: d\n  query: "
      "'x{<<.LabelMatchers>>}'\n  target: 5\n  panic: {stableWindow: 2m, panicWindowPercentage: "
      "5, panicThresholdPercentage: 300}\n- name: e\n  query: 'x{<<.LabelMatchers>>}'\n  "
      "target: 5\n  panic:\n");
  ASSERT_EQ(c.metrics.size(), 3u);
  ASSERT_TRUE(c.metrics[0].panic.has_value());
  EXPECT_EQ(c.metrics[0].panic->stable_window, absl::Seconds(60));
  EXPECT_EQ(c.metrics[0].panic->panic_window(), absl::Seconds(6));
  EXPECT_EQ(c.metrics[0].panic->panic_threshold_percentage, 200);
  ASSERT_TRUE(c.metrics[1].panic.has_value());
  EXPECT_EQ(c.metrics[1].panic->panic_window(), absl::Seconds(6));
  EXPECT_EQ(c.metrics[1].panic->panic_threshold_percentage, 300);
  EXPECT_FALSE(c.metrics[2].panic.has_value());  // `panic:` (null) means not set
}

TEST(ParseConfigTest, ScalingAssumptions) {
  Config c = ParseOk(
      Metric("name: m\n  query: 'a{<<.LabelMatchers>>}'\n  scaling:\n    minReplicas: 2\n    "
             "maxReplicas: 20\n    behavior:\n      scaleDown: {stabilizationWindowSeconds: 60, "
             "selectPolicy: Min, policies: [{type: Pods, value: 2, periodSeconds: 30}]}"));
  ASSERT_EQ(c.metrics.size(), 1u);
  const ScalingConfig& s = c.metrics[0].scaling;
  EXPECT_EQ(s.min_replicas, 2);
  EXPECT_EQ(s.max_replicas, 20);
  EXPECT_FALSE(s.behavior.scale_up.has_value());
  ASSERT_TRUE(s.behavior.scale_down.has_value());
  EXPECT_EQ(s.behavior.scale_down->stabilization_window_seconds, 60);
  EXPECT_EQ(s.behavior.scale_down->select_policy, scaling::SelectPolicy::kMin);
  ASSERT_EQ(s.behavior.scale_down->policies->size(), 1u);
  EXPECT_EQ((*s.behavior.scale_down->policies)[0].period_seconds, 30);
  // Defaults: the tutorial's 1..10 and an empty behavior (KServe's).
  c = ParseOk(kOneMetric);
  EXPECT_EQ(c.metrics[0].scaling.min_replicas, 1);
  EXPECT_EQ(c.metrics[0].scaling.max_replicas, 10);
  EXPECT_FALSE(c.metrics[0].scaling.behavior.scale_down.has_value());
}

TEST(ParseConfigTest, FindMetric) {
  Config c = ParseOk(
      "metrics:\n- {name: a, query: 'x{<<.LabelMatchers>>}'}\n- {name: b, preset: {type: cpu}}\n");
  ASSERT_NE(c.FindMetric("b"), nullptr);
  EXPECT_EQ(c.FindMetric("b")->preset.type, "cpu");
  EXPECT_EQ(c.FindMetric("a"), &c.metrics[0]);
  EXPECT_EQ(c.FindMetric("c"), nullptr);
  EXPECT_EQ(c.FindMetric(""), nullptr);
}

// ---- errors: one case per rule, with the exact message
// --------------------------------------------------------

struct ErrorCase {
  const char* name;
  std::string yaml;
  std::string message;
};

// CTest shows the case by its name instead of a byte dump of the struct.
void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

class ParseErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ParseErrorTest, ExactMessage) { EXPECT_EQ(ErrorOf(GetParam().yaml), GetParam().message); }

std::string Pm(const std::string& fields) {
  return WithMetric(absl::StrCat("prometheus: {", fields, "}"));
}
std::string Sm(const std::string& fields) {
  return WithMetric(absl::StrCat("sampling: {", fields, "}"));
}
std::string Preset(const std::string& fields) {
  return Metric(absl::StrCat("name: m\n  preset: {", fields, "}"));
}

INSTANTIATE_TEST_SUITE_P(
    Rules, ParseErrorTest,
    ::testing::Values(
        // top level and metric list
        ErrorCase{"Empty", "", "t.yaml: metrics: at least one metric is required"},
        ErrorCase{"OnlyComments", "# nothing\n",
                  "t.yaml: metrics: at least one metric is required"},
        ErrorCase{"EmptyList", "metrics: []", "t.yaml: metrics: at least one metric is required"},
        ErrorCase{"MetricsNotList", "metrics: {a: 1}",
                  "t.yaml: metrics: expected a list of metric definitions (got a map)"},
        ErrorCase{"TopNotMap", "- a\n- b\n", "t.yaml: expected a map (got a list)"},
        ErrorCase{"TopScalar", "hello", "t.yaml: expected a map (got \"hello\")"},
        ErrorCase{"TwoDocuments", absl::StrCat(kOneMetric, "---\n", kOneMetric),
                  "t.yaml: expected one YAML document, found 2"},
        ErrorCase{"DuplicateKey", absl::StrCat("sampling: {}\n", kOneMetric, "sampling: {}\n"),
                  "t.yaml: sampling: duplicate key"},
        ErrorCase{"NonStringKey", WithMetric("? [a]\n: 1"),
                  "t.yaml: map keys must be strings (got a list)"},
        ErrorCase{"MetricNull", "metrics:\n-\n",
                  "t.yaml: metrics[0]: expected a metric definition (a map), got null"},
        ErrorCase{"MetricScalar", "metrics: [cpu]",
                  "t.yaml: metrics[0]: expected a map (got \"cpu\")"},
        // unknown keys at every level
        ErrorCase{"UnknownTop",
                  WithMetric("prometh\xd0\xb5us: {}"),  // Cyrillic e: escaped in the message
                  "t.yaml: prometh\\xd0\\xb5us: unknown field; expected one of: prometheus, "
                  "backends, sampling, podLabels, objectWatch, keda, "
                  "metrics, discovery, rules, externalRules, resourceRules"},
        ErrorCase{
            "UnknownPrometheus", Pm("uri: x"),
            "t.yaml: prometheus.uri: unknown field; expected one of: url, headers, "
            "bearerTokenFile, basicAuth, "
            "tls, timeout, maxRetries, retryBackoff, method, postThresholdBytes, maxResponseBytes, "
            "acceptWarnings"},
        ErrorCase{"UnknownBasicAuth", Pm("basicAuth: {username: u, user: v}"),
                  "t.yaml: prometheus.basicAuth.user: unknown field; expected one of: username, "
                  "password, "
                  "passwordFile"},
        ErrorCase{"UnknownTls", Pm("tls: {ca: x}"),
                  "t.yaml: prometheus.tls.ca: unknown field; expected one of: caFile, certFile, "
                  "keyFile, serverName, "
                  "insecureSkipVerify"},
        ErrorCase{"UnknownSampling", Sm("intervall: 5s"),
                  "t.yaml: sampling.intervall: unknown field; expected one of: interval, maxAge, "
                  "demandTTL, "
                  "firstSampleTimeout, waitForFirstSample, warmNamespaces, checkNamespaces, "
                  "namespaceCheckInterval, maxNamespaces, newNamespacesPerSecond, "
                  "newNamespaceBurst, maxNamespacesPerQuery, maxMatcherBytes, "
                  "wholeClusterPercent, maxConcurrentQueries"},
        ErrorCase{"MaxNamespacesZero", Sm("maxNamespaces: 0"),
                  "t.yaml: sampling.maxNamespaces: must be between 1 and 1073741824 (got \"0\")"},
        ErrorCase{
            "UnknownPodLabels", WithMetric("podLabels: {enable: true}"),
            "t.yaml: podLabels.enable: unknown field; expected one of: enabled, query, backend"},
        ErrorCase{
            "UnknownMetric", Metric("name: m\n  query: 'x{<<.LabelMatchers>>}'\n  targetValue: 3"),
            "t.yaml: metrics[0].targetValue: unknown field; expected one of: name, description, "
            "resource, "
            "preset, query, baselineQuery, namespaceLabel, podLabel, target, targetUtilization, "
            "containerConcurrency, targetUtilizationPercentage, panic, scaling, backend"},
        ErrorCase{"UnknownPreset", Preset("type: cpu, windw: 1m"),
                  "t.yaml: metrics[0].preset.windw: unknown field; expected one of: type, source, "
                  "window, metric, "
                  "unit, quantile, namespaceLabel, podLabel, sourceMatchers, baselineMatchers, "
                  "saturation"},
        ErrorCase{"SnakeCaseIsUnknown", Sm("max_age: 5s"),
                  "t.yaml: sampling.max_age: unknown field; expected one of: interval, maxAge, "
                  "demandTTL, "
                  "firstSampleTimeout, waitForFirstSample, warmNamespaces, checkNamespaces, "
                  "namespaceCheckInterval, maxNamespaces, newNamespacesPerSecond, "
                  "newNamespaceBurst, maxNamespacesPerQuery, maxMatcherBytes, "
                  "wholeClusterPercent, maxConcurrentQueries"},
        ErrorCase{"MaxConcurrentQueriesZero", Sm("maxConcurrentQueries: 0"),
                  "t.yaml: sampling.maxConcurrentQueries: must be between 1 and 64 (got \"0\")"},
        ErrorCase{"MaxConcurrentQueriesHuge", Sm("maxConcurrentQueries: 65"),
                  "t.yaml: sampling.maxConcurrentQueries: must be between 1 and 64 (got \"65\")"},
        ErrorCase{"WholeClusterPercentOver100", Sm("wholeClusterPercent: 101"),
                  "t.yaml: sampling.wholeClusterPercent: must be between 0 and 100 (got \"101\")"},
        ErrorCase{"ObjectWatchUnknown", WithMetric("objectWatch: {maxObject: 1}"),
                  "t.yaml: objectWatch.maxObject: unknown field; expected one of: maxResources, "
                  "maxObjects, firstListWait, maxStaleness, listPageSize"},
        ErrorCase{"ObjectWatchNoObjects", WithMetric("objectWatch: {maxObjects: 0}"),
                  "t.yaml: objectWatch.maxObjects: must be between 1 and 10000000 (got \"0\")"},
        ErrorCase{"ObjectWatchWaitLong", WithMetric("objectWatch: {firstListWait: 2m}"),
                  "t.yaml: objectWatch.firstListWait: must be between 0s and 1m (got \"2m\")"},
        ErrorCase{"ObjectWatchStalenessShort", WithMetric("objectWatch: {maxStaleness: 500ms}"),
                  "t.yaml: objectWatch.maxStaleness: must be at least 1s (got \"500ms\")"},
        ErrorCase{"NamespaceCheckIntervalShort", Sm("namespaceCheckInterval: 100ms"),
                  "t.yaml: sampling.namespaceCheckInterval: must be at least 1s (got \"100ms\")"},
        // types
        ErrorCase{"SectionNotMap", WithMetric("sampling: [1]"),
                  "t.yaml: sampling: expected a map (got a list)"},
        ErrorCase{"StringGotMap", Pm("url: {a: b}"),
                  "t.yaml: prometheus.url: expected a string (got a map)"},
        ErrorCase{"BoolGotWord", Sm("waitForFirstSample: yes"),
                  "t.yaml: sampling.waitForFirstSample: expected true or false (got \"yes\")"},
        ErrorCase{"BoolQuoted", Sm("waitForFirstSample: 'true'"),
                  "t.yaml: sampling.waitForFirstSample: expected true or false (got \"true\")"},
        ErrorCase{"IntGotFloat", Pm("maxRetries: 1.5"),
                  "t.yaml: prometheus.maxRetries: expected an integer (got \"1.5\")"},
        ErrorCase{"IntQuoted", Pm("maxRetries: '1'"),
                  "t.yaml: prometheus.maxRetries: expected an integer (got \"1\")"},
        ErrorCase{"IntRange", Pm("maxRetries: 11"),
                  "t.yaml: prometheus.maxRetries: must be between 0 and 10 (got \"11\")"},
        ErrorCase{"IntNegative", Pm("maxRetries: -1"),
                  "t.yaml: prometheus.maxRetries: must be between 0 and 10 (got \"-1\")"},
        ErrorCase{
            "MaxResponseZero", Pm("maxResponseBytes: 0"),
            "t.yaml: prometheus.maxResponseBytes: must be between 1 and 1099511627776 (got \"0\")"},
        ErrorCase{
            "ListGotScalar", Sm("warmNamespaces: kserve-test"),
            "t.yaml: sampling.warmNamespaces: expected a list of strings (got \"kserve-test\")"},
        ErrorCase{"ListItemMap", Sm("warmNamespaces: [{a: b}]"),
                  "t.yaml: sampling.warmNamespaces[0]: expected a string (got a map)"},
        ErrorCase{"HeadersNotMap", Pm("headers: [a]"),
                  "t.yaml: prometheus.headers: expected a map of strings (got a list)"},
        // durations
        ErrorCase{"BadDuration", Sm("interval: 5"),
                  "t.yaml: sampling.interval: not a duration (write it like 5s, 1m30s or 250ms) "
                  "(got \"5\")"},
        ErrorCase{"NegativeDuration", Pm("timeout: -1s"),
                  "t.yaml: prometheus.timeout: not a duration (write it like 5s, 1m30s or 250ms) "
                  "(got \"-1s\")"},
        ErrorCase{"ZeroTimeout", Pm("timeout: 0s"),
                  "t.yaml: prometheus.timeout: must be positive (got \"0s\")"},
        ErrorCase{"IntervalBelow1s", Sm("interval: 500ms"),
                  "t.yaml: sampling.interval: must be at least 1s (got \"500ms\")"},
        ErrorCase{
            "MaxAgeBelowInterval", Sm("interval: 10s, maxAge: 5s"),
            "t.yaml: sampling.maxAge: must be at least twice sampling.interval (2 x 10s): values "
            "are up to one interval old when a round replaces them (got \"5s\")"},
        ErrorCase{
            "MaxAgeOfOneInterval", Sm("interval: 10s, maxAge: 10s"),
            "t.yaml: sampling.maxAge: must be at least twice sampling.interval (2 x 10s): values "
            "are up to one interval old when a round replaces them (got \"10s\")"},
        ErrorCase{
            "DefaultMaxAgeBelowInterval", Sm("interval: 2m"),
            "t.yaml: sampling.maxAge: must be at least twice sampling.interval (2 x 2m0s): values "
            "are up to one interval old when a round replaces them (got \"1m0s\")"},
        ErrorCase{
            "DemandTtlBelowInterval", Sm("interval: 10s, demandTTL: 9s"),
            "t.yaml: sampling.demandTTL: must be at least sampling.interval (10s) (got \"9s\")"},
        ErrorCase{"ZeroFirstSampleTimeout", Sm("firstSampleTimeout: 0s"),
                  "t.yaml: sampling.firstSampleTimeout: must be positive (got \"0s\")"},
        // namespaces
        ErrorCase{"BadNamespace", Sm("warmNamespaces: [ok, Bad_NS]"),
                  "t.yaml: sampling.warmNamespaces[1]: not a Kubernetes namespace name (lowercase "
                  "DNS label) (got "
                  "\"Bad_NS\")"},
        ErrorCase{"NamespaceWithQuote", Sm("warmNamespaces: ['a\"b']"),
                  "t.yaml: sampling.warmNamespaces[0]: not a Kubernetes namespace name (lowercase "
                  "DNS label) (got "
                  "\"a\\\"b\")"},
        ErrorCase{"DuplicateNamespace", Sm("warmNamespaces: [a, b, a]"),
                  "t.yaml: sampling.warmNamespaces[2]: duplicate namespace (got \"a\")"},
        // prometheus
        ErrorCase{"UrlScheme", Pm("url: ftp://x"),
                  "t.yaml: prometheus.url: scheme must be http:// or https:// (got \"ftp://x\")"},
        ErrorCase{
            "UrlNoScheme", Pm("url: prometheus:9090"),
            "t.yaml: prometheus.url: scheme must be http:// or https:// (got \"prometheus:9090\")"},
        ErrorCase{"UrlNoHost", Pm("url: 'http:///api'"),
                  "t.yaml: prometheus.url: must name a host (got \"http:///api\")"},
        ErrorCase{"UrlCredentials", Pm("url: 'http://u:p@h'"),
                  "t.yaml: prometheus.url: must not contain credentials (use basicAuth or "
                  "bearerTokenFile) (got "
                  "\"http://u:p@h\")"},
        ErrorCase{
            "UrlQuery", Pm("url: 'http://h/?x=1'"),
            "t.yaml: prometheus.url: must not have a query or fragment (got \"http://h/?x=1\")"},
        ErrorCase{"UrlPort", Pm("url: 'http://h:99999'"),
                  "t.yaml: prometheus.url: port must be 1..65535 (got \"http://h:99999\")"},
        ErrorCase{"Method", Pm("method: PUT"),
                  "t.yaml: prometheus.method: must be auto, GET or POST (got \"PUT\")"},
        ErrorCase{"KeyWithoutCert", Pm("tls: {keyFile: /k.pem}"),
                  "t.yaml: prometheus.tls.keyFile: needs tls.certFile (got \"/k.pem\")"},
        ErrorCase{"CertWithoutKey", Pm("tls: {certFile: /c.pem}"),
                  "t.yaml: prometheus.tls.certFile: needs tls.keyFile (got \"/c.pem\")"},
        ErrorCase{"PasswordAndFile", Pm("basicAuth: {username: u, password: p, passwordFile: f}"),
                  "t.yaml: prometheus.basicAuth.passwordFile: set either password or passwordFile, "
                  "not both"},
        ErrorCase{"BasicWithoutUser", Pm("basicAuth: {password: p}"),
                  "t.yaml: prometheus.basicAuth.username: required when basicAuth is set"},
        ErrorCase{"BearerAndBasic", Pm("bearerTokenFile: /t, basicAuth: {username: u}"),
                  "t.yaml: prometheus.bearerTokenFile: set either bearerTokenFile or basicAuth, "
                  "not both"},
        ErrorCase{"HeaderName", Pm("headers: {'bad header': x}"),
                  "t.yaml: prometheus.headers.bad header: not a valid HTTP header name"},
        ErrorCase{"HeaderValueNewline", Pm("headers: {X-A: \"secret\\r\\nX-B: y\"}"),
                  "t.yaml: prometheus.headers.X-A: header values must not contain CR, LF or NUL"},
        ErrorCase{"HeaderAuthorizationConflict",
                  Pm("bearerTokenFile: /t, headers: {authorization: x}"),
                  "t.yaml: prometheus.headers.authorization: conflicts with "
                  "bearerTokenFile/basicAuth, which set "
                  "Authorization"},
        ErrorCase{"DuplicateHeader", Pm("headers: {X-A: a, X-A: b}"),
                  "t.yaml: prometheus.headers.X-A: duplicate key"},
        // podLabels
        ErrorCase{"PodLabelsQueryNoMatchers", WithMetric("podLabels: {query: kube_pod_labels}"),
                  "t.yaml: podLabels.query: must contain <<.LabelMatchers>> (it restricts the "
                  "query to the "
                  "namespaces asked for) (got \"kube_pod_labels\")"},
        // metric definitions
        ErrorCase{"NameMissing", Metric("query: 'x{<<.LabelMatchers>>}'"),
                  "t.yaml: metrics[0].name: required"},
        ErrorCase{"NameBad", Metric("name: 9lives\n  query: 'x{<<.LabelMatchers>>}'"),
                  "t.yaml: metrics[0].name: must match [a-zA-Z_:][a-zA-Z0-9_:.-]* (at most 253 "
                  "characters) (got "
                  "\"9lives\")"},
        ErrorCase{"NameWithSlash", Metric("name: a/b\n  query: 'x{<<.LabelMatchers>>}'"),
                  "t.yaml: metrics[0].name: must match [a-zA-Z_:][a-zA-Z0-9_:.-]* (at most 253 "
                  "characters) (got "
                  "\"a/b\")"},
        ErrorCase{"NameDuplicate",
                  "metrics:\n- {name: a, preset: {type: cpu}}\n- {name: b, preset: {type: cpu}}\n"
                  "- {name: a, query: 'x{<<.LabelMatchers>>}'}\n",
                  "t.yaml: metrics[2].name: duplicate metric name, first defined at metrics[0] "
                  "(got \"a\")"},
        ErrorCase{"Resource", Metric("name: m\n  resource: nodes\n  preset: {type: cpu}"),
                  "t.yaml: metrics[0].resource: must be pods (or external, for preset activity) "
                  "(got \"nodes\")"},
        ErrorCase{"PresetAndQuery",
                  Metric("name: m\n  preset: {type: cpu}\n  query: 'x{<<.LabelMatchers>>}'"),
                  "t.yaml: metrics[0]: set exactly one of preset and query, not both"},
        ErrorCase{"NeitherPresetNorQuery", Metric("name: m"),
                  "t.yaml: metrics[0]: one of preset or query is required"},
        ErrorCase{"QueryNoMatchers", Metric("name: m\n  query: 'sum by (<<.GroupBy>>) (up)'"),
                  "t.yaml: metrics[0].query: must contain <<.LabelMatchers>> (it restricts the "
                  "query to the "
                  "namespaces asked for) (got \"sum by (<<.GroupBy>>) (up)\")"},
        ErrorCase{"QueryEmpty", Metric("name: m\n  query: ''"),
                  "t.yaml: metrics[0].query: must contain <<.LabelMatchers>> (it restricts the "
                  "query to the "
                  "namespaces asked for) (got \"\")"},
        ErrorCase{"QueryOtherConstruct",
                  Metric("name: m\n  query: 'sum(<<.Series>>{<<.LabelMatchers>>})'"),
                  "t.yaml: metrics[0].query: unsupported template construct \"<<.Series>>\"; only "
                  "<<.LabelMatchers>> and <<.GroupBy>> are expanded (got "
                  "\"sum(<<.Series>>{<<.LabelMatchers>>})\")"},
        ErrorCase{
            "QuerySpacedConstruct", Metric("name: m\n  query: 'x{<< .LabelMatchers >>}'"),
            "t.yaml: metrics[0].query: unsupported template construct \"<< .LabelMatchers >>\"; "
            "only "
            "<<.LabelMatchers>> and <<.GroupBy>> are expanded (got \"x{<< .LabelMatchers >>}\")"},
        ErrorCase{"QueryUnterminated", Metric("name: m\n  query: 'x{<<.LabelMatchers>>} << 2'"),
                  "t.yaml: metrics[0].query: unterminated template construct \"<< 2\" (got "
                  "\"x{<<.LabelMatchers>>} "
                  "<< 2\")"},
        ErrorCase{"BaselineBad",
                  Metric("name: m\n  query: 'x{<<.LabelMatchers>>}'\n  baselineQuery: 'y'"),
                  "t.yaml: metrics[0].baselineQuery: must contain <<.LabelMatchers>> (it restricts "
                  "the query to the "
                  "namespaces asked for) (got \"y\")"},
        ErrorCase{"QueryLabelBad",
                  Metric("name: m\n  query: 'x{<<.LabelMatchers>>}'\n  podLabel: pod-name"),
                  "t.yaml: metrics[0].podLabel: not a Prometheus label name (got \"pod-name\")"},
        ErrorCase{
            "PresetWithBaseline",
            Metric("name: m\n  preset: {type: cpu}\n  baselineQuery: 'y{<<.LabelMatchers>>}'"),
            "t.yaml: metrics[0].baselineQuery: only with query; a preset sets it (got "
            "\"y{<<.LabelMatchers>>}\")"},
        ErrorCase{"PresetWithLabel", Metric("name: m\n  preset: {type: cpu}\n  namespaceLabel: ns"),
                  "t.yaml: metrics[0].namespaceLabel: only with query; a preset sets it (or use "
                  "preset.namespaceLabel) (got \"ns\")"},
        // targets
        ErrorCase{"TargetZero", Metric("name: m\n  preset: {type: cpu}\n  target: 0"),
                  "t.yaml: metrics[0].target: must be a finite number > 0 (got \"0\")"},
        ErrorCase{"TargetNegative", Metric("name: m\n  preset: {type: cpu}\n  target: -3"),
                  "t.yaml: metrics[0].target: must be a finite number > 0 (got \"-3\")"},
        ErrorCase{"TargetInf", Metric("name: m\n  preset: {type: cpu}\n  target: .inf"),
                  "t.yaml: metrics[0].target: expected a number (got \".inf\")"},
        ErrorCase{"TargetInfWord", Metric("name: m\n  preset: {type: cpu}\n  target: inf"),
                  "t.yaml: metrics[0].target: must be a finite number > 0 (got \"inf\")"},
        ErrorCase{"TargetNan", Metric("name: m\n  preset: {type: cpu}\n  target: nan"),
                  "t.yaml: metrics[0].target: must be a finite number > 0 (got \"nan\")"},
        ErrorCase{"TargetHuge", Metric("name: m\n  preset: {type: cpu}\n  target: 1e999"),
                  "t.yaml: metrics[0].target: must be a finite number > 0 (got \"1e999\")"},
        ErrorCase{"TargetString", Metric("name: m\n  preset: {type: cpu}\n  target: seventy"),
                  "t.yaml: metrics[0].target: expected a number (got \"seventy\")"},
        ErrorCase{"TargetUtilizationZero",
                  Metric("name: m\n  preset: {type: cpu}\n  targetUtilization: 0"),
                  "t.yaml: metrics[0].targetUtilization: must be a finite number > 0 (got \"0\")"},
        ErrorCase{"TargetUtilizationWithoutBaseline",
                  Metric("name: m\n  query: 'x{<<.LabelMatchers>>}'\n  targetUtilization: 50"),
                  "t.yaml: metrics[0].targetUtilization: needs a baseline: preset type cpu, or "
                  "baselineQuery"},
        ErrorCase{
            "PercentageZero",
            Metric("name: m\n  preset: {type: cpu}\n  containerConcurrency: 10\n  "
                   "targetUtilizationPercentage: 0"),
            "t.yaml: metrics[0].targetUtilizationPercentage: must be in (0, 100] (got \"0\")"},
        ErrorCase{
            "PercentageOver100",
            Metric("name: m\n  preset: {type: cpu}\n  containerConcurrency: 10\n  "
                   "targetUtilizationPercentage: "
                   "100.5"),
            "t.yaml: metrics[0].targetUtilizationPercentage: must be in (0, 100] (got \"100.5\")"},
        ErrorCase{"PercentageWithoutConcurrency",
                  Metric("name: m\n  preset: {type: cpu}\n  targetUtilizationPercentage: 70"),
                  "t.yaml: metrics[0].targetUtilizationPercentage: needs containerConcurrency"},
        ErrorCase{"ConcurrencyFraction",
                  Metric("name: m\n  preset: {type: cpu}\n  containerConcurrency: 2.5"),
                  "t.yaml: metrics[0].containerConcurrency: must be an integer >= 1 (got \"2.5\")"},
        ErrorCase{"TargetAndConcurrency",
                  Metric("name: m\n  preset: {type: cpu}\n  target: 5\n  containerConcurrency: 10"),
                  "t.yaml: metrics[0].containerConcurrency: set either target or "
                  "containerConcurrency, not both"},
        // presets
        ErrorCase{"PresetNotMap", Metric("name: m\n  preset: cpu"),
                  "t.yaml: metrics[0].preset: expected a map (got \"cpu\")"},
        ErrorCase{"PresetTypeMissing", Preset("window: 1m"),
                  "t.yaml: metrics[0].preset.type: required: concurrency, cpu, waiting, kv-cache, "
                  "ttft or activity"},
        ErrorCase{"PresetTypeUnknown", Preset("type: memory"),
                  "t.yaml: metrics[0].preset.type: unknown preset type; expected concurrency, "
                  "cpu, waiting, kv-cache, ttft or activity (got \"memory\")"},
        ErrorCase{"VllmTypeOtherSource", Preset("type: waiting, source: kserve"),
                  "t.yaml: metrics[0].preset.source: must be vllm (the only source of this type) "
                  "(got \"kserve\")"},
        ErrorCase{"QuantileOutOfRange", Preset("type: ttft, quantile: 1"),
                  "t.yaml: metrics[0].preset.quantile: must be in (0, 1) (got \"1\")"},
        ErrorCase{"QuantileNotTtft", Preset("type: kv-cache, quantile: 0.9"),
                  "t.yaml: metrics[0].preset.quantile: only for type ttft (got \"0.9\")"},
        ErrorCase{"VllmTypeWithMetric", Preset("type: kv-cache, metric: x"),
                  "t.yaml: metrics[0].preset.metric: only for type concurrency with source "
                  "histogram or gauge (got \"x\")"},
        ErrorCase{"PanicOnWaiting",
                  Metric("name: m\n  preset: {type: waiting}\n  target: 3\n  panic: {}"),
                  "t.yaml: metrics[0].panic: only for concurrency and cpu metrics (preset type) "
                  "(got \"waiting\")"},
        ErrorCase{"SourceMissing", Preset("type: concurrency"),
                  "t.yaml: metrics[0].preset.source: required: knative-queue-proxy, kserve, vllm, "
                  "histogram or gauge"},
        ErrorCase{"SourceUnknown", Preset("type: concurrency, source: triton"),
                  "t.yaml: metrics[0].preset.source: unknown source; expected knative-queue-proxy, "
                  "kserve, vllm, "
                  "histogram or gauge (got \"triton\")"},
        ErrorCase{"CpuWithSource", Preset("type: cpu, source: kserve"),
                  "t.yaml: metrics[0].preset.source: only for type concurrency (got \"kserve\")"},
        ErrorCase{"CpuWithLabel", Preset("type: cpu, podLabel: p"),
                  "t.yaml: metrics[0].preset.podLabel: only for type concurrency (got \"p\")"},
        ErrorCase{"MatcherUnquoted", Preset("type: cpu, sourceMatchers: ['job=kubelet']"),
                  "t.yaml: metrics[0].preset.sourceMatchers[0]: the value must be one "
                  "double-quoted string, e.g. job=\"kubelet\" (got \"job=kubelet\")"},
        ErrorCase{"MatcherTwoInOne", Preset("type: cpu, sourceMatchers: ['job=\"a\",pod=\"b\"']"),
                  "t.yaml: metrics[0].preset.sourceMatchers[0]: the value must be one "
                  "double-quoted string, e.g. job=\"kubelet\" (got \"job=\\\"a\\\","
                  "pod=\\\"b\\\"\")"},
        ErrorCase{"MatcherNoLabel", Preset("type: cpu, sourceMatchers: ['=\"a\"']"),
                  "t.yaml: metrics[0].preset.sourceMatchers[0]: must start with a label name "
                  "([a-zA-Z_][a-zA-Z0-9_]*), e.g. job=\"kubelet\" (got \"=\\\"a\\\"\")"},
        ErrorCase{"MatcherNoOperator", Preset("type: cpu, sourceMatchers: ['job']"),
                  "t.yaml: metrics[0].preset.sourceMatchers[0]: expected =, !=, =~ or !~ after "
                  "the label name (got \"job\")"},
        ErrorCase{"MatcherBadRegex",
                  Preset("type: concurrency, source: kserve, sourceMatchers: ['job=~\"(a\"']"),
                  "t.yaml: metrics[0].preset.sourceMatchers[0]: invalid regular expression: "
                  "missing ): (a (got \"job=~\\\"(a\\\"\")"},
        ErrorCase{"MatcherBadEscape", Preset("type: cpu, baselineMatchers: ['job=\"a\\q\"']"),
                  "t.yaml: metrics[0].preset.baselineMatchers[0]: invalid escape in the value: "
                  "Unknown escape sequence: \\q (got \"job=\\\"a\\\\q\\\"\")"},
        ErrorCase{"MatcherTemplateSyntax",
                  Preset("type: cpu, sourceMatchers: ['job=\"<<.GroupBy>>\"']"),
                  "t.yaml: metrics[0].preset.sourceMatchers[0]: must not contain \"<<\" (the "
                  "queries' template syntax) (got \"job=\\\"<<.GroupBy>>\\\"\")"},
        ErrorCase{"MatchersNotAList", Preset("type: cpu, sourceMatchers: 'job=\"a\"'"),
                  "t.yaml: metrics[0].preset.sourceMatchers: expected a list of strings (got "
                  "\"job=\\\"a\\\"\")"},
        ErrorCase{"BaselineMatchersForConcurrency",
                  Preset("type: concurrency, source: kserve, baselineMatchers: ['job=\"a\"']"),
                  "t.yaml: metrics[0].preset.baselineMatchers: only for type cpu (concurrency has "
                  "no baseline) (got a list)"},
        ErrorCase{"WindowBelow1s", Preset("type: cpu, window: 500ms"),
                  "t.yaml: metrics[0].preset.window: must be at least 1s (got \"500ms\")"},
        ErrorCase{"WindowZero", Preset("type: cpu, window: 0"),
                  "t.yaml: metrics[0].preset.window: must be at least 1s (got \"0\")"},
        ErrorCase{"WindowSubMillisecond", Preset("type: cpu, window: 1.0005s"),
                  "t.yaml: metrics[0].preset.window: must be a whole number of milliseconds (got "
                  "\"1.0005s\")"},
        ErrorCase{"WindowBadText", Preset("type: cpu, window: 1 minute"),
                  "t.yaml: metrics[0].preset.window: not a duration (write it like 5s, 1m30s or "
                  "250ms) (got \"1 "
                  "minute\")"},
        ErrorCase{"HistogramNoMetric", Preset("type: concurrency, source: histogram, unit: s"),
                  "t.yaml: metrics[0].preset.metric: required: the histogram's base name"},
        ErrorCase{"HistogramNoUnit",
                  Preset("type: concurrency, source: histogram, metric: lat_seconds"),
                  "t.yaml: metrics[0].preset.unit: required: s or ms (the histogram's unit)"},
        ErrorCase{"HistogramBadUnit",
                  Preset("type: concurrency, source: histogram, metric: lat, unit: us"),
                  "t.yaml: metrics[0].preset.unit: must be s or ms (got \"us\")"},
        ErrorCase{"HistogramSumSuffix",
                  Preset("type: concurrency, source: histogram, metric: lat_sum, unit: s"),
                  "t.yaml: metrics[0].preset.metric: give the histogram's base name, without _sum "
                  "(got \"lat_sum\")"},
        ErrorCase{"HistogramBadMetric",
                  Preset("type: concurrency, source: histogram, metric: 'a{b=\"c\"}', unit: s"),
                  "t.yaml: metrics[0].preset.metric: not a Prometheus metric name (got "
                  "\"a{b=\\\"c\\\"}\")"},
        ErrorCase{"GaugeNoMetric", Preset("type: concurrency, source: gauge"),
                  "t.yaml: metrics[0].preset.metric: required: the gauge's name"},
        ErrorCase{"GaugeWithUnit", Preset("type: concurrency, source: gauge, metric: g, unit: s"),
                  "t.yaml: metrics[0].preset.unit: only for source histogram (got \"s\")"},
        ErrorCase{
            "KnativeWithMetric",
            Preset("type: concurrency, source: knative-queue-proxy, metric: x"),
            "t.yaml: metrics[0].preset.metric: only for sources histogram and gauge (got \"x\")"},
        ErrorCase{"PresetLabelBad",
                  Preset("type: concurrency, source: vllm, namespaceLabel: 'k8s-ns'"),
                  "t.yaml: metrics[0].preset.namespaceLabel: not a Prometheus label name (got "
                  "\"k8s-ns\")"},
        // panic-aware metrics
        ErrorCase{"PanicOnCpuWithoutTarget",
                  Metric("name: m\n  preset: {type: cpu, window: 3s}\n  panic: {}"),
                  "t.yaml: metrics[0].panic: needs a per-pod target (target or "
                  "containerConcurrency, or targetUtilization with a baseline) to decide panic"},
        ErrorCase{"PanicCpuWindowOverPanicWindow",
                  Metric("name: m\n  preset: {type: cpu, window: 15s}\n  targetUtilization: "
                         "50\n  panic: {}"),
                  "t.yaml: metrics[0].preset.window: must not exceed the panic window (6s): the "
                  "panic value would be a longer average (got \"15s\")"},
        ErrorCase{"PanicWithoutTarget",
                  Metric("name: m\n  query: 'a{<<.LabelMatchers>>}'\n  panic: {}"),
                  "t.yaml: metrics[0].panic: needs a per-pod target (target or "
                  "containerConcurrency, or targetUtilization with a baseline) to decide panic"},
        ErrorCase{"PanicUnknownKey",
                  Metric("name: m\n  query: 'a{<<.LabelMatchers>>}'\n  target: 1\n  panic: "
                         "{window: 6s}"),
                  "t.yaml: metrics[0].panic.window: unknown field; expected one of: "
                  "stableWindow, panicWindowPercentage, panicThresholdPercentage"},
        ErrorCase{"PanicStableWindowShort",
                  Metric("name: m\n  query: 'a{<<.LabelMatchers>>}'\n  target: 1\n  panic: "
                         "{stableWindow: 5s}"),
                  "t.yaml: metrics[0].panic.stableWindow: must be in 6s..1h (got \"5s\")"},
        ErrorCase{"PanicThresholdLow",
                  Metric("name: m\n  query: 'a{<<.LabelMatchers>>}'\n  target: 1\n  panic: "
                         "{panicThresholdPercentage: 100}"),
                  "t.yaml: metrics[0].panic.panicThresholdPercentage: must be in [110, 1000] "
                  "(got \"100\")"},
        ErrorCase{"PanicWindowPercentage",
                  Metric("name: m\n  query: 'a{<<.LabelMatchers>>}'\n  target: 1\n  panic: "
                         "{panicWindowPercentage: 0.5}"),
                  "t.yaml: metrics[0].panic.panicWindowPercentage: must be in [1, 100] (got "
                  "\"0.5\")"},
        ErrorCase{"PanicWindowBelowTwoSamples",
                  Metric("name: m\n  query: 'a{<<.LabelMatchers>>}'\n  target: 1\n  panic: {}"),
                  "t.yaml: metrics[0].panic: the panic window must span at least two samples: 2 "
                  "x sampling.interval (5s) or more; shorten sampling.interval or widen the "
                  "window (got \"6s\")"},
        ErrorCase{"PanicPresetWindowLonger",
                  Metric("name: m\n  preset: {type: concurrency, source: kserve}\n  target: 70\n"
                         "  panic: {}"),
                  "t.yaml: metrics[0].preset.window: must not exceed the panic window (6s): the "
                  "panic value would be a longer average (got \"1m0s\")"},
        ErrorCase{"ScalingMinAboveMax",
                  Metric("name: m\n  query: 'a{<<.LabelMatchers>>}'\n  scaling: {minReplicas: 5, "
                         "maxReplicas: 3}"),
                  "t.yaml: metrics[0].scaling.minReplicas: must not exceed maxReplicas (3) (got "
                  "\"5\")"},
        ErrorCase{"ScalingBadPolicyType",
                  Metric("name: m\n  query: 'a{<<.LabelMatchers>>}'\n  scaling: {behavior: "
                         "{scaleUp: {policies: [{type: Pods, value: 1, periodSeconds: 15}, {type: "
                         "Cores, value: 1, periodSeconds: 15}]}}}"),
                  "t.yaml: metrics[0].scaling.behavior.scaleUp.policies[1].type: required: Pods "
                  "or Percent (got \"Cores\")"},
        ErrorCase{
            "ScalingBadPeriod",
            Metric("name: m\n  query: 'a{<<.LabelMatchers>>}'\n  scaling: {behavior: "
                   "{scaleDown: {policies: [{type: Percent, value: 10, periodSeconds: 0}]}}}"),
            "t.yaml: metrics[0].scaling.behavior.scaleDown.policies[0].periodSeconds: must "
            "be between 1 and 1800 (got \"0\")"},
        ErrorCase{"ScalingBadSelect",
                  Metric("name: m\n  query: 'a{<<.LabelMatchers>>}'\n  scaling: {behavior: "
                         "{scaleDown: {selectPolicy: max}}}"),
                  "t.yaml: metrics[0].scaling.behavior.scaleDown.selectPolicy: must be Max, Min or "
                  "Disabled (got \"max\")"},
        // the index in the path follows the list
        ErrorCase{"SecondMetricPath",
                  "metrics:\n- {name: a, preset: {type: cpu}}\n- {name: b, preset: {type: cpu, "
                  "window: 10ms}}\n",
                  "t.yaml: metrics[1].preset.window: must be at least 1s (got \"10ms\")"}),
    [](const ::testing::TestParamInfo<ErrorCase>& info) { return info.param.name; });

TEST(ParseConfigTest, YamlSyntaxErrorCarriesLineAndColumn) {
  EXPECT_EQ(ErrorOf("sampling:\n  interval: 5s\nmetrics: [1,\n  2\n"),
            "t.yaml:5:1: YAML syntax error: end of sequence flow not found");
  std::string message = ErrorOf("metrics:\n- name: a\n   bad: indentation\n");
  EXPECT_THAT(message, StartsWith("t.yaml:3:"));
  EXPECT_THAT(message, HasSubstr("YAML syntax error"));
  EXPECT_THAT(ErrorOf("a: 'unterminated\n"), StartsWith("t.yaml:"));
  EXPECT_THAT(ErrorOf("a: *nowhere\n"), HasSubstr("YAML syntax error"));
}

TEST(ParseConfigTest, StrayFlowTokenIsASyntaxErrorNotAHang) {
  // yaml-cpp 0.7's LoadAll loops forever on these (found by config_fuzzer).
  EXPECT_EQ(ErrorOf(","), "t.yaml:1:1: YAML syntax error: unexpected \",\"");
  EXPECT_EQ(ErrorOf(", metrics: []"), "t.yaml:1:1: YAML syntax error: unexpected \",\"");
  EXPECT_EQ(ErrorOf("# c\n  ,"), "t.yaml:2:3: YAML syntax error: unexpected \",\"");
  EXPECT_EQ(ErrorOf(absl::StrCat(kOneMetric, "---\n,\n")),
            "t.yaml:5:1: YAML syntax error: unexpected \",\"");
  EXPECT_EQ(ErrorOf(std::string(",\x01\0\0\0\0\0\0\0\xffs\0\0\0", 14)),
            "t.yaml:1:1: YAML syntax error: unexpected \",\"");
}

TEST(ParseConfigTest, ManyDocumentsAreCountedBoundedly) {
  std::string text;
  for (int i = 0; i < 300; ++i) text += "---\na: 1\n";
  EXPECT_EQ(ErrorOf(text), "t.yaml: expected one YAML document, found more than 100");
  EXPECT_EQ(
      ErrorOf(absl::StrCat("---\n", kOneMetric, "...\n---\n", kOneMetric, "---\n", kOneMetric)),
      "t.yaml: expected one YAML document, found 3");
  // One explicit document is fine.
  EXPECT_EQ(ParseOk(absl::StrCat("---\n", kOneMetric, "...\n")).metrics.size(), 1u);
}

TEST(ParseConfigTest, SecretsAreNotEchoed) {
  // A header value may be a credential: messages name the header, never the value.
  std::string message = ErrorOf(Pm("headers: {X-Key: [hunter2]}"));
  EXPECT_EQ(message, "t.yaml: prometheus.headers.X-Key: expected a string");
  EXPECT_THAT(ErrorOf(Pm("headers: {X-Key: \"hunter2\\n\"}")), Not(HasSubstr("hunter2")));
  EXPECT_THAT(ErrorOf(Pm("basicAuth: {username: u, password: hunter2, passwordFile: f}")),
              Not(HasSubstr("hunter2")));
}

TEST(ParseConfigTest, LongAndBinaryValuesAreEscapedAndCut) {
  std::string long_name(300, 'a');
  std::string message =
      ErrorOf(Metric(absl::StrCat("name: ", long_name, "\n  preset: {type: cpu}")));
  EXPECT_THAT(message, HasSubstr(absl::StrCat("(got \"", std::string(120, 'a'), "...\")")));
  EXPECT_THAT(ErrorOf(Metric("name: \"a\\tb\"\n  preset: {type: cpu}")),
              HasSubstr("(got \"a\\tb\")"));
}

TEST(ParseConfigTest, SourceNamesTheInput) {
  absl::StatusOr<Config> c = ParseConfig("metrics: []", "/etc/adapter/config.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "/etc/adapter/config.yaml: metrics: at least one metric is required");
}

TEST(ParseConfigTest, RefusesHugeInput) {
  std::string text = absl::StrCat(kOneMetric, "# ", std::string(1 << 20, 'x'), "\n");
  EXPECT_EQ(ErrorOf(text), "t.yaml: configuration is larger than 1048576 bytes");
}

TEST(ParseConfigTest, DeepNestingIsAnErrorNotACrash) {
  std::string text = absl::StrCat("metrics: ", std::string(5000, '['), std::string(5000, ']'));
  EXPECT_THAT(ErrorOf(text), StartsWith("t.yaml"));
}

TEST(ParseConfigTest, AliasesAreFollowed) {
  Config c = ParseOk(
      "metrics:\n- {name: a, preset: &p {type: concurrency, source: vllm, window: 30s}}\n- {name: "
      "b, preset: *p}\n");
  ASSERT_EQ(c.metrics.size(), 2u);
  EXPECT_EQ(c.metrics[0].query, c.metrics[1].query);
}

// ---- ValidateForRun
// ---------------------------------------------------------------------------------------

TEST(ValidateForRunTest, RequiresUrl) {
  Config c = ParseOk(kOneMetric);
  absl::Status s = ValidateForRun(c);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      s.message(),
      "t.yaml: prometheus.url: required: set it in the configuration or with --prometheus-url");
  c.prometheus.url = "http://127.0.0.1:9090";
  EXPECT_TRUE(ValidateForRun(c).ok());
}

TEST(ValidateForRunTest, ChecksOverriddenOptions) {
  Config c = ParseOk(kOneMetric);
  c.prometheus.url = "127.0.0.1:9090";  // as a flag might set it
  EXPECT_EQ(ValidateForRun(c).message(),
            "t.yaml: prometheus.url: scheme must be http:// or https:// (got \"127.0.0.1:9090\")");
  c.prometheus.url = "https://p";
  c.prometheus.method = "PUT";
  EXPECT_EQ(ValidateForRun(c).message(),
            "t.yaml: prometheus.method: must be auto, GET or POST (got \"PUT\")");
  c.prometheus.method = "POST";
  c.prometheus.timeout = absl::ZeroDuration();
  EXPECT_EQ(ValidateForRun(c).message(),
            "t.yaml: prometheus.timeout: must be positive (got \"0s\")");
  c.prometheus.timeout = absl::Seconds(1);
  c.prometheus.tls.key_file = "/k";
  EXPECT_EQ(ValidateForRun(c).message(),
            "t.yaml: prometheus.tls.keyFile: needs tls.certFile (got \"/k\")");
  c.prometheus.tls.cert_file = "/c";
  EXPECT_TRUE(ValidateForRun(c).ok());
}

TEST(ValidateForRunTest, AcceptsTheFileUrl) {
  Config c = ParseOk(WithMetric("prometheus: {url: 'http://prometheus.monitoring.svc:9090'}"));
  EXPECT_TRUE(ValidateForRun(c).ok());
}

// ---- files
// ----------------------------------------------------------------------------------------------

TEST(LoadConfigFileTest, MissingFileIsNotFound) {
  absl::StatusOr<Config> c =
      LoadConfigFile(absl::StrCat(::testing::TempDir(), "/does-not-exist.yaml"));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(c.status().message(), HasSubstr("does-not-exist.yaml"));
}

TEST(LoadConfigFileTest, DirectoryIsAnError) {
  absl::StatusOr<Config> c = LoadConfigFile(::testing::TempDir());
  EXPECT_FALSE(c.ok());
}

TEST(LoadConfigFileTest, UnreadableIsPermissionDenied) {
  if (geteuid() == 0) GTEST_SKIP() << "root reads everything";
  std::string path = absl::StrCat(::testing::TempDir(), "/config_test_unreadable.yaml");
  { std::ofstream(path) << kOneMetric; }
  ASSERT_EQ(chmod(path.c_str(), 0), 0);
  EXPECT_EQ(LoadConfigFile(path).status().code(), absl::StatusCode::kPermissionDenied);
  std::remove(path.c_str());
}

TEST(LoadConfigFileTest, ErrorsNameTheFile) {
  std::string path = absl::StrCat(::testing::TempDir(), "/config_test_bad.yaml");
  { std::ofstream(path) << "metrics:\n- name: m\n  preset: {type: cpu, window: 1x}\n"; }
  absl::StatusOr<Config> c = LoadConfigFile(path);
  EXPECT_EQ(c.status().message(),
            absl::StrCat(path,
                         ": metrics[0].preset.window: not a duration (write it like 5s, "
                         "1m30s or 250ms) (got \"1x\")"));
  std::remove(path.c_str());
}

TEST(ExamplesTest, SimExampleParses) {
  absl::StatusOr<Config> c = LoadConfigFile(AA_SOURCE_DIR "/examples/config-sim.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(ValidateForRun(*c).ok()) << ValidateForRun(*c);
  ASSERT_NE(c->FindMetric("concurrency"), nullptr);
  EXPECT_EQ(c->FindMetric("concurrency")->target, 70.0);
  ASSERT_NE(c->FindMetric("cpu"), nullptr);
  EXPECT_EQ(c->FindMetric("cpu")->target_utilization, 50.0);
}

TEST(ExamplesTest, KserveExampleParses) {
  absl::StatusOr<Config> c = LoadConfigFile(AA_SOURCE_DIR "/examples/config-kserve.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(ValidateForRun(*c).ok()) << ValidateForRun(*c);
  EXPECT_EQ(c->sampling.warm_namespaces, std::vector<std::string>{"kserve-test"});
  const MetricDefinition* concurrency = c->FindMetric("concurrency");
  ASSERT_NE(concurrency, nullptr);
  EXPECT_EQ(concurrency->target, 70.0);
  EXPECT_EQ(concurrency->preset.source, "knative-queue-proxy");
  const MetricDefinition* cpu = c->FindMetric("cpu");
  ASSERT_NE(cpu, nullptr);
  EXPECT_EQ(cpu->target_utilization, 50.0);
  EXPECT_FALSE(cpu->baseline_query.empty());
}

TEST(ExamplesTest, SeedCorpusParsesOrFailsCleanly) {
  // Every seed of the fuzzer is either a valid config or an InvalidArgument: never another code.
  int files = 0;
  int valid = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(AA_SOURCE_DIR "/tests/testdata/config/corpus")) {
    std::string text = ReadFile(entry.path().string()).value_or("");
    absl::StatusOr<Config> c = ParseConfig(text, entry.path().filename().string());
    ++files;
    if (c.ok()) {
      ++valid;
    } else {
      EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << entry.path();
    }
  }
  EXPECT_GE(files, 5);
  EXPECT_GE(valid, 3);
}

// ---- the embedded default
// ------------------------------------------------------------------------------

TEST(EmbeddedDefaultTest, ParsesAsDocumented) {
  absl::StatusOr<Config> c = ParseConfig(EmbeddedDefaultConfig(), "<embedded>");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->source, "<embedded>");
  EXPECT_EQ(c->prometheus.url, "");
  // The demo passes --prometheus-url.
  EXPECT_EQ(ValidateForRun(*c).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c->sampling.interval, absl::Seconds(2));
  EXPECT_EQ(c->sampling.max_age, absl::Seconds(30));
  EXPECT_EQ(c->sampling.warm_namespaces, std::vector<std::string>{"kserve-test"});
  ASSERT_EQ(c->metrics.size(), 9u);
  EXPECT_EQ(c->metrics[4].name, "memory");  // metrics.k8s.io's memory (kubectl top pod)
  // The cpu preset brings per-container cAdvisor definitions for metrics.k8s.io.
  EXPECT_EQ(c->metrics[5].Key(), "containers/cpu");
  EXPECT_EQ(c->metrics[5].container_label, "container");
  EXPECT_EQ(c->metrics[5].query,
            "sum by (<<.GroupBy>>) (rate(container_cpu_usage_seconds_total{container!=\"\","
            "container!=\"POD\",<<.LabelMatchers>>}[1m]))");
  EXPECT_EQ(c->metrics[6].Key(), "containers/memory");
  // And per node cAdvisor's root cgroup, by the node label (kubectl top node).
  EXPECT_EQ(c->metrics[7].Key(), "nodemetrics/cpu");
  EXPECT_EQ(c->metrics[7].namespace_label, "");
  EXPECT_EQ(c->metrics[7].pod_label, "node");
  EXPECT_EQ(c->metrics[7].container_label, "");
  EXPECT_EQ(c->metrics[7].query,
            "sum by (<<.GroupBy>>) (rate(container_cpu_usage_seconds_total{id=\"/\","
            "<<.LabelMatchers>>}[1m]))");
  EXPECT_EQ(c->metrics[8].Key(), "nodemetrics/memory");
  EXPECT_EQ(c->metrics[8].query,
            "sum by (<<.GroupBy>>) (container_memory_working_set_bytes{id=\"/\","
            "<<.LabelMatchers>>})");
  EXPECT_EQ(c->FindMetric("cpu"), &c->metrics[3]);  // the pods definition

  const MetricDefinition& concurrency = c->metrics[0];
  EXPECT_EQ(concurrency.name, "concurrency");
  EXPECT_EQ(concurrency.preset.source, "knative-queue-proxy");
  EXPECT_EQ(concurrency.target, 70.0);
  EXPECT_EQ(concurrency.namespace_label, "namespace_name");
  EXPECT_EQ(concurrency.pod_label, "pod_name");
  EXPECT_EQ(concurrency.query,
            "sum by (<<.GroupBy>>) (rate(revision_request_latencies_sum{<<.LabelMatchers>>}[1m])) "
            "/ 1000");

  const MetricDefinition& kserve = c->metrics[1];
  EXPECT_EQ(kserve.name, "concurrency_kserve");
  EXPECT_EQ(kserve.preset.source, "kserve");
  EXPECT_EQ(kserve.target, 70.0);

  const MetricDefinition& vllm = c->metrics[2];
  EXPECT_EQ(vllm.name, "requests_running");
  EXPECT_EQ(vllm.preset.source, "vllm");

  const MetricDefinition& cpu = c->metrics[3];
  EXPECT_EQ(cpu.name, "cpu");
  EXPECT_EQ(cpu.preset.type, "cpu");
  EXPECT_EQ(cpu.target_utilization, 50.0);
  EXPECT_FALSE(cpu.target.has_value());
  EXPECT_FALSE(cpu.baseline_query.empty());
}

}  // namespace
}  // namespace aa::config

namespace aa::config {
namespace {

TEST(KedaSectionTest, ListenAndTls) {
  Config c = ParseOk(
      "keda:\n  listen: 127.0.0.1:0\n  tls: {certFile: s.crt, keyFile: s.key, clientCAFile: "
      "ca.crt}\n" +
      std::string(kOneMetric));
  EXPECT_EQ(c.keda.listen, "127.0.0.1:0");
  EXPECT_EQ(c.keda.tls_cert_file, "s.crt");
  EXPECT_EQ(c.keda.tls_key_file, "s.key");
  EXPECT_EQ(c.keda.client_ca_file, "ca.crt");
  EXPECT_EQ(ParseOk(kOneMetric).keda.listen, ":9500");
}

TEST(KedaSectionTest, Errors) {
  EXPECT_THAT(ErrorOf("keda: {tls: {certFile: a}}\n" + std::string(kOneMetric)),
              HasSubstr("keda.tls.keyFile: certFile and keyFile go together"));
  EXPECT_THAT(ErrorOf("keda: {tls: {clientCAFile: ca}}\n" + std::string(kOneMetric)),
              HasSubstr("keda.tls.clientCAFile: mutual TLS needs certFile and keyFile"));
  EXPECT_THAT(ErrorOf("keda: {port: 1}\n" + std::string(kOneMetric)), HasSubstr("keda.port"));
  EXPECT_THAT(ErrorOf("keda: {tls: {certFile: a, keyFile: b, clientNames: [keda]}}\n" +
                      std::string(kOneMetric)),
              HasSubstr("keda.tls.clientNames: allowed client names need clientCAFile"));
  EXPECT_THAT(ErrorOf("keda: {limits: {maxStreamsPerClient: 0}}\n" + std::string(kOneMetric)),
              HasSubstr("keda.limits.maxStreamsPerClient: must be between 1 and"));
  EXPECT_THAT(ErrorOf("keda: {limits: {maxConnectionAge: 0s}}\n" + std::string(kOneMetric)),
              HasSubstr("keda.limits.maxConnectionAge: must be at least 1ms"));
  EXPECT_THAT(ErrorOf("keda: {limits: {maxStream: 1}}\n" + std::string(kOneMetric)),
              HasSubstr("keda.limits.maxStream"));
}

TEST(KedaSectionTest, AdhocQueries) {
  Config d = ParseOk(kOneMetric);
  EXPECT_TRUE(d.keda.adhoc_queries.enabled);
  EXPECT_EQ(d.keda.adhoc_queries.max, 500);
  EXPECT_TRUE(d.keda.adhoc_queries.allowlist.empty());
  Config c = ParseOk(
      "keda:\n  adhocQueries: {enabled: false, max: 20, allowlist: ['sum\\(.*\\)', 'up']}\n" +
      std::string(kOneMetric));
  EXPECT_FALSE(c.keda.adhoc_queries.enabled);
  EXPECT_EQ(c.keda.adhoc_queries.max, 20);
  EXPECT_THAT(c.keda.adhoc_queries.allowlist, ::testing::ElementsAre("sum\\(.*\\)", "up"));
  EXPECT_THAT(ErrorOf("keda: {adhocQueries: {max: 0}}\n" + std::string(kOneMetric)),
              HasSubstr("keda.adhocQueries.max: must be between 1 and"));
  EXPECT_THAT(ErrorOf("keda: {adhocQueries: {allowlist: ['sum(']}}\n" + std::string(kOneMetric)),
              HasSubstr("keda.adhocQueries.allowlist[0]: invalid RE2 regex"));
  EXPECT_THAT(ErrorOf("keda: {adhocQueries: {limit: 1}}\n" + std::string(kOneMetric)),
              HasSubstr("keda.adhocQueries.limit"));
}

TEST(KedaSectionTest, InsecureClientNamesAndLimits) {
  Config c = ParseOk(
      "keda:\n  insecure: true\n  tls: {certFile: s.crt, keyFile: s.key, clientCAFile: ca.crt, "
      "clientNames: [keda, keda.keda.svc]}\n  limits: {maxStreams: 50, maxStreamsPerClient: 5, "
      "maxConcurrentStreamsPerConnection: 7, maxReceiveMessageBytes: 4096, minPingInterval: 10s, "
      "maxPingStrikes: 3, maxConnectionIdle: 1m, maxConnectionAge: 2h, maxConnectionAgeGrace: "
      "30s, handshakeTimeout: 3s}\n" +
      std::string(kOneMetric));
  EXPECT_TRUE(c.keda.insecure);
  EXPECT_THAT(c.keda.client_names, ::testing::ElementsAre("keda", "keda.keda.svc"));
  EXPECT_EQ(c.keda.max_streams, 50);
  EXPECT_EQ(c.keda.max_streams_per_client, 5);
  EXPECT_EQ(c.keda.max_concurrent_streams_per_connection, 7);
  EXPECT_EQ(c.keda.max_receive_message_bytes, 4096);
  EXPECT_EQ(c.keda.min_ping_interval, absl::Seconds(10));
  EXPECT_EQ(c.keda.max_ping_strikes, 3);
  EXPECT_EQ(c.keda.max_connection_idle, absl::Minutes(1));
  EXPECT_EQ(c.keda.max_connection_age, absl::Hours(2));
  EXPECT_EQ(c.keda.max_connection_age_grace, absl::Seconds(30));
  EXPECT_EQ(c.keda.handshake_timeout, absl::Seconds(3));
  Config d = ParseOk(kOneMetric);
  EXPECT_FALSE(d.keda.insecure);
  EXPECT_TRUE(d.keda.client_names.empty());
  EXPECT_EQ(d.keda.max_streams_per_client, 1000);
  EXPECT_EQ(d.keda.max_receive_message_bytes, 16384);
}

}  // namespace
}  // namespace aa::config
