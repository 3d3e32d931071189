// `backends:` and the `backend:` key of metrics, rules, resourceRules and podLabels.

#include <string>

#include "config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace aa::config {
namespace {

using ::testing::ElementsAre;

constexpr char kTwoBackends[] = R"yaml(
prometheus: {url: "http://zone-a:9090"}
backends:
- name: zone-b
  url: https://zone-b.example/prom/
  headers: {X-Scope-OrgID: team-b}
  basicAuth: {username: adapter, passwordFile: /run/b-password}
  tls: {caFile: /ca.pem, certFile: /c.pem, keyFile: /k.pem}
  timeout: 3s
  maxRetries: 0
  method: post
- name: vm
  url: http://vmauth:8427
  bearerTokenFile: /run/vm-token
)yaml";

Config ParseOk(const std::string& yaml) {
  absl::StatusOr<Config> c = ParseConfig(yaml, "t.yaml");
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *std::move(c) : Config{};
}

std::string ErrorOf(const std::string& yaml) {
  absl::StatusOr<Config> c = ParseConfig(yaml, "t.yaml");
  if (c.ok()) return "parsed";
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(c.status().message());
}

TEST(BackendsConfigTest, EntriesHaveThePrometheusKeysAndEachUserPicksOne) {
  Config c = ParseOk(std::string(kTwoBackends) + R"yaml(
podLabels: {backend: vm}
metrics:
- name: a
  query: 'up{<<.LabelMatchers>>}'
- name: b
  backend: zone-b
  query: 'up{<<.LabelMatchers>>}'
- name: cpu
  backend: vm
  preset: {type: cpu}
rules:
- seriesQuery: '{__name__=~"^x_.*"}'
  backend: vm
  metricsQuery: 'sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)'
externalRules:
- seriesQuery: '{__name__=~"^q_.*"}'
  metricsQuery: 'sum(<<.Series>>{<<.LabelMatchers>>})'
)yaml");
  EXPECT_EQ(c.prometheus.url, "http://zone-a:9090");
  EXPECT_EQ(c.prometheus.name, "default");
  ASSERT_EQ(c.backends.size(), 2u);
  const prom::ClientOptions& b = c.backends[0].options;
  EXPECT_EQ(c.backends[0].path, "backends[0]");
  EXPECT_EQ(b.name, "zone-b");
  EXPECT_EQ(b.url, "https://zone-b.example/prom/");
  EXPECT_EQ(b.headers.at("X-Scope-OrgID"), "team-b");
  EXPECT_EQ(b.basic_auth_username, "adapter");
  EXPECT_EQ(b.basic_auth_password_file, "/run/b-password");
  EXPECT_EQ(b.tls.cert_file, "/c.pem");
  EXPECT_EQ(b.timeout, absl::Seconds(3));
  EXPECT_EQ(b.max_retries, 0);
  EXPECT_EQ(b.method, "POST");
  EXPECT_EQ(c.backends[1].options.bearer_token_file, "/run/vm-token");
  std::vector<std::string> names;
  for (const prom::ClientOptions& o : c.BackendOptions()) names.push_back(o.name);
  EXPECT_THAT(names, ElementsAre("default", "zone-b", "vm"));
  EXPECT_EQ(c.pod_labels.backend, "vm");
  EXPECT_EQ(c.FindMetric("a")->backend, "default");
  EXPECT_EQ(c.FindMetric("b")->backend, "zone-b");
  EXPECT_EQ(c.FindMetric("cpu")->backend, "vm");
  // The metrics.k8s.io definitions derived from the cpu preset read the same backend.
  for (const MetricDefinition& def : c.metrics) {
    if (!def.resource.is(MetricResource::Kind::kPods)) {
      EXPECT_EQ(def.backend, "vm") << def.Key();
    }
  }
  ASSERT_EQ(c.rules.size(), 2u);
  EXPECT_EQ(c.rules[0].backend, "vm");
  EXPECT_EQ(c.rules[1].backend, "default");
  EXPECT_TRUE(ValidateForRun(c).ok()) << ValidateForRun(c);
}

TEST(BackendsConfigTest, ResourceRulesPickABackend) {
  Config c = ParseOk(std::string(kTwoBackends) + R"yaml(
resourceRules:
  backend: zone-b
  cpu: {containerQuery: 'sum(rate(c{<<.LabelMatchers>>}[1m])) by (<<.GroupBy>>)'}
  memory: {containerQuery: 'sum(m{<<.LabelMatchers>>}) by (<<.GroupBy>>)'}
)yaml");
  ASSERT_TRUE(c.resource_rules.has_value());
  EXPECT_EQ(c.resource_rules->backend, "zone-b");
  ASSERT_FALSE(c.metrics.empty());
  for (const MetricDefinition& def : c.metrics) EXPECT_EQ(def.backend, "zone-b") << def.Key();
}

TEST(BackendsConfigTest, AnEntryNamedDefaultIsThePrometheusSection) {
  Config c = ParseOk(R"yaml(
backends:
- name: default
  url: http://prom:9090
  timeout: 2s
- name: other
  url: http://other:9090
metrics:
- {name: a, query: 'up{<<.LabelMatchers>>}', backend: default}
)yaml");
  EXPECT_EQ(c.prometheus.url, "http://prom:9090");
  EXPECT_EQ(c.prometheus.timeout, absl::Seconds(2));
  EXPECT_EQ(c.prometheus_path, "backends[0]");
  ASSERT_EQ(c.backends.size(), 1u);
  EXPECT_EQ(c.backends[0].path, "backends[1]");
  EXPECT_TRUE(ValidateForRun(c).ok()) << ValidateForRun(c);
  // Its URL may come from --prometheus-url, like the prometheus section's; without one the run
  // check names where the default backend was written.
  Config no_url = ParseOk(R"yaml(
backends: [{name: default}]
metrics: [{name: a, query: 'up{<<.LabelMatchers>>}'}]
)yaml");
  EXPECT_EQ(ValidateForRun(no_url).message(),
            "t.yaml: backends[0].url: required: set it in the configuration or with "
            "--prometheus-url");
}

TEST(BackendsConfigTest, ValidateForRunChecksEveryBackend) {
  Config c = ParseOk(std::string(kTwoBackends) +
                     "metrics: [{name: a, query: 'up{<<.LabelMatchers>>}'}]\n");
  c.backends[1].options.url = "ftp://vm";
  EXPECT_EQ(ValidateForRun(c).message(),
            "t.yaml: backends[1].url: scheme must be http:// or https:// (got \"ftp://vm\")");
}

// tests/migration/several-backends: three prometheus-adapter configs (one per --prometheus-url) and
// the one adapter config that replaces them: the same rules, each reading its backend.
TEST(BackendsConfigTest, MigrationFromOnePrometheusAdapterPerPrometheus) {
  const std::string dir = std::string(AA_SOURCE_DIR) + "/tests/migration/several-backends/";
  std::vector<AdapterRule> before;
  for (const char* file : {"prometheus-adapter-zone-a.yaml", "prometheus-adapter-zone-b.yaml",
                           "prometheus-adapter-vm.yaml"}) {
    absl::StatusOr<Config> c = LoadConfigFile(dir + file);
    ASSERT_TRUE(c.ok()) << c.status();
    before.insert(before.end(), c->rules.begin(), c->rules.end());
  }
  absl::StatusOr<Config> after = LoadConfigFile(dir + "adapter.yaml");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_TRUE(ValidateForRun(*after).ok()) << ValidateForRun(*after);
  ASSERT_EQ(after->rules.size(), before.size());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(after->rules[i].series_query, before[i].series_query);
    EXPECT_EQ(after->rules[i].metrics_query, before[i].metrics_query);
    EXPECT_EQ(after->rules[i].name_as, before[i].name_as);
    EXPECT_EQ(after->rules[i].external, before[i].external);
  }
  EXPECT_EQ(after->rules[0].backend, "default");
  EXPECT_EQ(after->rules[1].backend, "zone-b");
  EXPECT_EQ(after->rules[2].backend, "vm");
  ASSERT_EQ(after->backends.size(), 2u);
  EXPECT_EQ(after->backends[1].options.bearer_token_file, "/etc/adapter/vm-token");
}

struct ErrorCase {
  std::string yaml;
  std::string message;
};

class BackendsErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(BackendsErrorTest, ExactMessage) { EXPECT_EQ(ErrorOf(GetParam().yaml), GetParam().message); }

constexpr char kMetric[] = "metrics: [{name: a, query: 'up{<<.LabelMatchers>>}'}]\n";

INSTANTIATE_TEST_SUITE_P(
    All, BackendsErrorTest,
    ::testing::Values(
        ErrorCase{std::string("backends: {name: x}\n") + kMetric,
                  "t.yaml: backends: expected a list of backends (got a map)"},
        ErrorCase{std::string("backends: [{url: 'http://x'}]\n") + kMetric,
                  "t.yaml: backends[0].name: required"},
        ErrorCase{std::string("backends: [{name: Zone_B, url: 'http://x'}]\n") + kMetric,
                  "t.yaml: backends[0].name: must be a DNS-1123 label (a-z, 0-9 and '-', at most "
                  "63 characters) (got \"Zone_B\")"},
        ErrorCase{std::string("backends: [{name: b}]\n") + kMetric,
                  "t.yaml: backends[0].url: required"},
        ErrorCase{
            std::string("backends: [{name: b, url: 'http://x'}, {name: b, url: 'http://y'}]\n") +
                kMetric,
            "t.yaml: backends[1].name: duplicate backend name, first defined at "
            "backends[0] (got \"b\")"},
        ErrorCase{std::string("prometheus: {url: 'http://p'}\nbackends: [{name: default, url: "
                              "'http://x'}]\n") +
                      kMetric,
                  "t.yaml: backends[0].name: the prometheus: section is the backend named "
                  "default; rename this one or move it there (got \"default\")"},
        ErrorCase{std::string("backends: [{name: b, url: 'http://x', uri: y}]\n") + kMetric,
                  "t.yaml: backends[0].uri: unknown field; expected one of: name, url, headers, "
                  "bearerTokenFile, basicAuth, tls, timeout, maxRetries, retryBackoff, method, "
                  "postThresholdBytes, maxResponseBytes, acceptWarnings"},
        ErrorCase{
            std::string("backends: [{name: b, url: 'http://x', tls: {keyFile: /k}}]\n") + kMetric,
            "t.yaml: backends[0].tls.keyFile: needs tls.certFile (got \"/k\")"},
        ErrorCase{"backends: [{name: b, url: 'http://x'}]\nmetrics: [{name: a, backend: c, "
                  "query: 'up{<<.LabelMatchers>>}'}]\n",
                  "t.yaml: metrics[0].backend: unknown backend; configured: default, b (got "
                  "\"c\")"},
        ErrorCase{std::string("podLabels: {backend: zone}\n") + kMetric,
                  "t.yaml: podLabels.backend: unknown backend; configured: default (got "
                  "\"zone\")"},
        ErrorCase{"rules:\n- seriesQuery: 'x'\n  backend: zone\n  metricsQuery: "
                  "'sum(<<.Series>>{<<.LabelMatchers>>})'\n",
                  "t.yaml: rules[0].backend: unknown backend; configured: default (got "
                  "\"zone\")"},
        ErrorCase{"externalRules:\n- seriesQuery: 'x'\n  backend: zone\n  metricsQuery: "
                  "'sum(<<.Series>>{<<.LabelMatchers>>})'\n",
                  "t.yaml: externalRules[0].backend: unknown backend; configured: default (got "
                  "\"zone\")"},
        ErrorCase{"resourceRules:\n  backend: zone\n  cpu: {containerQuery: "
                  "'c{<<.LabelMatchers>>}'}\n  memory: {containerQuery: 'm{<<.LabelMatchers>>}'}\n",
                  "t.yaml: resourceRules.backend: unknown backend; configured: default (got "
                  "\"zone\")"}));

}  // namespace
}  // namespace aa::config
