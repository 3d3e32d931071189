#include "keda/metadata.h"

#include <cmath>
#include <limits>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace aa::keda {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::StatusOr<Trigger> Parse(const Metadata& md, std::string_view ns = "kserve-test") {
  return ParseTrigger(md, ns);
}

std::string ErrorOf(const Metadata& md, std::string_view ns = "kserve-test") {
  auto t = Parse(md, ns);
  EXPECT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument) << t.status();
  return std::string(t.status().message());
}

config::MetricDefinition Def(std::string name, bool baseline = false) {
  config::MetricDefinition d;
  d.name = std::move(name);
  d.query = "q{<<.LabelMatchers>>}";
  if (baseline) d.baseline_query = "b{<<.LabelMatchers>>}";
  return d;
}

TEST(ParseTrigger, MinimalTakesNamespaceFromScaledObject) {
  auto t = Parse({{"metric", "concurrency"}});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->metric, "concurrency");
  EXPECT_EQ(t->ns, "kserve-test");
  EXPECT_EQ(t->label_selector, "");
  EXPECT_FALSE(t->target.has_value());
  EXPECT_EQ(t->activation_threshold, 0);
  EXPECT_EQ(t->MetricName(), "concurrency");
  EXPECT_TRUE(t->unknown_keys.empty());
}

TEST(ParseTrigger, ResourceIsNormalizedAsKubectlSpellsIt) {
  auto resource = [](std::string_view r) {
    auto t = Parse({{"metric", "m"}, {"resource", r}});
    return t.ok() ? t->resource : std::string("error: ") + std::string(t.status().message());
  };
  EXPECT_EQ(Parse({{"metric", "m"}})->resource, "");
  EXPECT_EQ(resource("pods"), "pods");
  EXPECT_EQ(resource("pod"), "pods");
  EXPECT_EQ(resource("Namespace"), "namespaces");
  EXPECT_EQ(resource("deployments"), "deployments.apps");
  EXPECT_EQ(resource("deployment.apps"), "deployments.apps");
  EXPECT_EQ(resource(" external "), "external");
  EXPECT_EQ(resource("foos.example.com"), "foos.example.com");  // a rule override's own resource
  EXPECT_THAT(ErrorOf({{"metric", "m"}, {"resource", "Bad_Name"}}),
              HasSubstr("scalerMetadata.resource: must be a Kubernetes resource"));
  EXPECT_THAT(ErrorOf({{"metric", "m"}, {"resource", ""}}), HasSubstr("scalerMetadata.resource"));
}

TEST(ParseTrigger, AllKeys) {
  auto t = Parse({{"metric", "concurrency"},
                  {"namespace", "other"},
                  {"inferenceService", "my-model"},
                  {"containerConcurrency", "100"},
                  {"targetUtilizationPercentage", "70"},
                  {"activationThreshold", " 0.5 "}});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->ns, "other");
  EXPECT_EQ(t->inference_service, "my-model");
  EXPECT_EQ(t->label_selector, "serving.kserve.io/inferenceservice=my-model");
  EXPECT_EQ(t->container_concurrency, 100);
  EXPECT_EQ(t->target_utilization_percentage, 70);
  EXPECT_EQ(t->activation_threshold, 0.5);
  EXPECT_EQ(t->MetricName(), "concurrency-my-model");
}

TEST(ParseTrigger, LabelSelectorKeptAsGiven) {
  auto t = Parse({{"metric", "m"}, {"labelSelector", "app=web,tier in (a,b)"}, {"target", "5"}});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->label_selector, "app=web,tier in (a,b)");
  EXPECT_EQ(t->target, 5);
  EXPECT_EQ(t->MetricName(), "m");
}

TEST(ParseTrigger, KedaKeysIgnoredSilentlyOthersReported) {
  auto t = Parse({{"metric", "m"},
                  {"scalerAddress", "adapter:9500"},
                  {"enableTLS", "true"},
                  {"unsafeSsl", "false"},
                  {"caCert", "pem"},
                  {"tlsClientCert", "pem"},
                  {"tlsClientKey", "pem"},
                  {"tlsCertFile", "/x"},
                  {"zeta", "1"},
                  {"metricQuery", "up"}});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(t->unknown_keys, ElementsAre("metricQuery", "zeta"));
  EXPECT_TRUE(t->no_effect_keys.empty());
}

TEST(ParseTrigger, PrometheusScalerAuthenticationKeysHaveNoEffectAndAreNotUnknown) {
  auto t = Parse({{"query", "sum(up)"},
                  {"threshold", "1"},
                  {"authModes", "bearer"},
                  {"awsRegion", "eu-west-1"},
                  {"identityOwner", "operator"}});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE(t->unknown_keys.empty());
  EXPECT_THAT(t->no_effect_keys, ElementsAre("authModes", "awsRegion", "identityOwner"));
}

TEST(ParseTrigger, MetricRequired) {
  EXPECT_THAT(ErrorOf({}), HasSubstr("scalerMetadata.metric: required"));
  EXPECT_THAT(ErrorOf({{"metric", "  "}}), HasSubstr("scalerMetadata.metric: must not be empty"));
}

TEST(ParseTrigger, Namespace) {
  EXPECT_THAT(ErrorOf({{"metric", "m"}}, ""), HasSubstr("ScaledObjectRef.namespace: empty"));
  EXPECT_THAT(ErrorOf({{"metric", "m"}}, "Bad_NS"), HasSubstr("ScaledObjectRef.namespace"));
  EXPECT_THAT(
      ErrorOf({{"metric", "m"}, {"namespace", "a\"b"}}),
      HasSubstr(
          "scalerMetadata.namespace: must be a Kubernetes namespace name (a DNS-1123 label) (got "
          "\"a\\\"b\")"));
  // An explicit namespace overrides an empty ScaledObject namespace.
  auto t = Parse({{"metric", "m"}, {"namespace", "ns1"}}, "");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->ns, "ns1");
}

TEST(ParseTrigger, Selectors) {
  EXPECT_THAT(ErrorOf({{"metric", "m"}, {"inferenceService", "a"}, {"labelSelector", "x=y"}}),
              HasSubstr("either inferenceService or labelSelector"));
  EXPECT_THAT(ErrorOf({{"metric", "m"}, {"inferenceService", ""}}),
              HasSubstr("scalerMetadata.inferenceService"));
  EXPECT_THAT(ErrorOf({{"metric", "m"}, {"inferenceService", "a b"}}),
              HasSubstr("scalerMetadata.inferenceService"));
  EXPECT_THAT(ErrorOf({{"metric", "m"}, {"labelSelector", "x in (a"}}),
              HasSubstr("scalerMetadata.labelSelector: invalid label selector"));
}

TEST(ParseTrigger, BadNumbers) {
  for (const char* bad : {"", "abc", "nan", "NaN", "inf", "-inf", "Infinity", "1e999", "0x10", "+5",
                          "5m", "1,5", "5 5", "--1"}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(ErrorOf({{"metric", "m"}, {"target", bad}}),
                HasSubstr("scalerMetadata.target: must be a"));
  }
  EXPECT_THAT(ErrorOf({{"metric", "m"}, {"target", "0"}}),
              HasSubstr("scalerMetadata.target: must be greater than 0"));
  EXPECT_THAT(ErrorOf({{"metric", "m"}, {"target", "-3"}}),
              HasSubstr("scalerMetadata.target: must be greater than 0 (got \"-3\")"));
  EXPECT_THAT(ErrorOf({{"metric", "m"}, {"activationThreshold", "-1"}}),
              HasSubstr("scalerMetadata.activationThreshold: must not be negative"));
  EXPECT_THAT(ErrorOf({{"metric", "m"}, {"activationThreshold", "NaN"}}),
              HasSubstr("scalerMetadata.activationThreshold: must be a finite number"));
  EXPECT_THAT(ErrorOf({{"metric", "m"}, {"containerConcurrency", "1.5"}}),
              HasSubstr("scalerMetadata.containerConcurrency: must be an integer"));
  EXPECT_THAT(ErrorOf({{"metric", "m"}, {"containerConcurrency", "0"}}),
              HasSubstr("scalerMetadata.containerConcurrency: must be at least 1"));
  EXPECT_THAT(ErrorOf({{"metric", "m"}, {"containerConcurrency", "99999999999999999999"}}),
              HasSubstr("must be an integer"));
  EXPECT_THAT(ErrorOf({{"metric", "m"},
                       {"containerConcurrency", "100"},
                       {"targetUtilizationPercentage", "101"}}),
              HasSubstr("must be at most 100 with containerConcurrency"));
  EXPECT_THAT(ErrorOf({{"metric", "m"}, {"targetUtilizationPercentage", "0"}}),
              HasSubstr("scalerMetadata.targetUtilizationPercentage: must be greater than 0"));
  EXPECT_THAT(ErrorOf({{"metric", "m"}, {"targetUtilizationPercentage", "1001"}}),
              HasSubstr("at most 1000"));
}

TEST(ParseTrigger, AcceptedNumberForms) {
  for (auto [text, want] : std::vector<std::pair<const char*, double>>{
           {"70", 70}, {"0.25", 0.25}, {"1e2", 100}, {" 7\t", 7}, {"1.5E-1", 0.15}}) {
    SCOPED_TRACE(text);
    auto t = Parse({{"metric", "m"}, {"target", text}});
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_DOUBLE_EQ(*t->target, want);
  }
}

TEST(ParseTrigger, TargetKeysAreExclusive) {
  EXPECT_THAT(ErrorOf({{"metric", "m"}, {"target", "5"}, {"containerConcurrency", "10"}}),
              HasSubstr("give either target, or containerConcurrency"));
  EXPECT_THAT(ErrorOf({{"metric", "m"}, {"target", "5"}, {"targetUtilizationPercentage", "10"}}),
              HasSubstr("give either target"));
}

TEST(ParseTrigger, HugeMetadataRefused) {
  Metadata md{{"metric", "m"}};
  std::vector<std::string> keys;
  for (int i = 0; i < 100; ++i) keys.push_back("k" + std::to_string(i));
  for (const auto& k : keys) md.emplace(k, "v");
  EXPECT_THAT(ErrorOf(md), HasSubstr("too many keys: 101 (at most 64)"));

  std::string long_key(300, 'k');
  EXPECT_THAT(ErrorOf({{"metric", "m"}, {long_key, "v"}}), HasSubstr("is longer than 256 bytes"));
  std::string long_value(5000, 'v');
  std::string msg = ErrorOf({{"metric", "m"}, {"labelSelector", long_value}});
  EXPECT_THAT(msg, HasSubstr("scalerMetadata.labelSelector: value longer than 4096 bytes"));
  EXPECT_THAT(msg, HasSubstr("(5000 bytes)"));
  EXPECT_LT(msg.size(), 300u);  // the value is cut in the message
}

TEST(ParseTrigger, ControlCharactersEscapedInMessages) {
  std::string msg = ErrorOf({{"metric", "m"}, {"target", std::string("a\nb\0c", 5)}});
  EXPECT_THAT(msg, HasSubstr("\\n"));
  EXPECT_EQ(msg.find('\n'), std::string::npos);
}

TEST(ResolveTargetRule, Precedence) {
  config::MetricDefinition def = Def("concurrency");
  def.target = 50;
  auto r = ResolveTargetRule(*Parse({{"metric", "concurrency"}, {"target", "10"}}), def);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->kind, TargetRule::Kind::kValue);
  EXPECT_EQ(r->value, 10);
  EXPECT_EQ(r->origin, "target");

  // KServe's tutorial: containerConcurrency 100 at 70 % -> 70 per pod.
  r = ResolveTargetRule(*Parse({{"metric", "concurrency"},
                                {"containerConcurrency", "100"},
                                {"targetUtilizationPercentage", "70"}}),
                        def);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_DOUBLE_EQ(r->value, 70);
  // The percentage defaults to 70.
  r = ResolveTargetRule(*Parse({{"metric", "concurrency"}, {"containerConcurrency", "10"}}), def);
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(r->value, 7);
  // Nothing in the trigger: the definition's target.
  r = ResolveTargetRule(*Parse({{"metric", "concurrency"}}), def);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->value, 50);
  EXPECT_EQ(r->origin, "metric definition");
}

TEST(ResolveTargetRule, BaselinePercent) {
  config::MetricDefinition cpu = Def("cpu", /*baseline=*/true);
  cpu.target_utilization = 80;
  auto r =
      ResolveTargetRule(*Parse({{"metric", "cpu"}, {"targetUtilizationPercentage", "50"}}), cpu);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->kind, TargetRule::Kind::kBaselinePercent);
  EXPECT_EQ(r->value, 50);
  r = ResolveTargetRule(*Parse({{"metric", "cpu"}}), cpu);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, TargetRule::Kind::kBaselinePercent);
  EXPECT_EQ(r->value, 80);
  // A fixed target in cores is allowed too.
  r = ResolveTargetRule(*Parse({{"metric", "cpu"}, {"target", "0.25"}}), cpu);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, TargetRule::Kind::kValue);
}

TEST(ResolveTargetRule, Errors) {
  config::MetricDefinition plain = Def("requests");
  auto r = ResolveTargetRule(
      *Parse({{"metric", "requests"}, {"targetUtilizationPercentage", "50"}}), plain);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("metric \"requests\" has none"));
  r = ResolveTargetRule(*Parse({{"metric", "requests"}}), plain);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("no target for metric \"requests\""));
}

TEST(PerPodTarget, BaselineAverageTimesPercent) {
  TargetRule rule{TargetRule::Kind::kBaselinePercent, 50, "targetUtilizationPercentage"};
  pipeline::WorkloadStats stats;
  stats.pods = 3;
  stats.pods_with_baseline = 2;
  stats.baseline_total = 1.0;  // two pods requesting 0.5 cores
  auto t = PerPodTarget(rule, stats, "cpu");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_DOUBLE_EQ(*t, 0.25);

  stats.pods_with_baseline = 0;
  stats.baseline_total = 0;
  t = PerPodTarget(rule, stats, "cpu");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(t.status().message(), HasSubstr("no selected pod has a baseline"));

  TargetRule fixed{TargetRule::Kind::kValue, 70, "target"};
  EXPECT_EQ(*PerPodTarget(fixed, stats, "concurrency"), 70);
}

TEST(Rounding, ForKeda) {
  EXPECT_EQ(RoundForKeda(0), 0);
  EXPECT_EQ(RoundForKeda(0.49), 0);
  EXPECT_EQ(RoundForKeda(0.5), 1);
  EXPECT_EQ(RoundForKeda(69.5), 70);
  EXPECT_EQ(RoundForKeda(-3), 0);
  EXPECT_EQ(RoundForKeda(std::nan("")), 0);
  EXPECT_EQ(RoundForKeda(1e300), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(TargetSize(0.25), 1);
  EXPECT_EQ(TargetSize(70), 70);
  EXPECT_EQ(TargetSize(7.6), 8);
}

TEST(IsKedaKey, KnownKeys) {
  EXPECT_TRUE(IsKedaKey("scalerAddress"));
  EXPECT_TRUE(IsKedaKey("enableTLS"));
  EXPECT_FALSE(IsKedaKey("metric"));
  EXPECT_FALSE(IsKedaKey("scaleraddress"));
}

// KEDA's prometheus scaler keys: what a `type: prometheus` trigger carries.
TEST(ParseTrigger, PrometheusScalerKeysMakeAnAdhocQuery) {
  auto t = Parse({{"serverAddress", "http://prometheus.monitoring:9090"},
                  {"query", " sum(rate(http_requests_total{deployment=\"web\"}[2m])) "},
                  {"threshold", "100.5"},
                  {"activationThreshold", "5"},
                  {"ignoreNullValues", "false"},
                  {"namespace", "team-a"},
                  {"queryParameters", "dedup=true, partial_response = false"},
                  {"customHeaders", "X-Scope-OrgID=tenant-1,X-Other = v w"},
                  {"timeout", "2500"},
                  {"unsafeSsl", "false"}});
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_TRUE(t->adhoc.has_value());
  EXPECT_EQ(t->adhoc->query, "sum(rate(http_requests_total{deployment=\"web\"}[2m]))");
  EXPECT_EQ(t->adhoc->server_address, "http://prometheus.monitoring:9090");
  EXPECT_EQ(t->adhoc->threshold, 100.5);
  EXPECT_EQ(t->activation_threshold, 5);
  EXPECT_FALSE(t->adhoc->ignore_null_values);
  // namespace is KEDA's URL parameter here, not where the pods are.
  EXPECT_EQ(t->ns, "");
  EXPECT_THAT(t->adhoc->options.params,
              ElementsAre(std::pair<std::string, std::string>{"namespace", "team-a"},
                          std::pair<std::string, std::string>{"dedup", "true"},
                          std::pair<std::string, std::string>{"partial_response", "false"}));
  EXPECT_THAT(t->adhoc->options.headers,
              ElementsAre(std::pair<std::string, std::string>{"X-Scope-OrgID", "tenant-1"},
                          std::pair<std::string, std::string>{"X-Other", "v w"}));
  EXPECT_EQ(t->adhoc->options.timeout, absl::Milliseconds(2500));
  EXPECT_EQ(t->MetricName(), "prometheus");
  EXPECT_TRUE(t->unknown_keys.empty());

  // Defaults: ignoreNullValues true, activation 0, no options, the default backend.
  auto d = Parse({{"query", "up"}, {"threshold", "1"}});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(d->adhoc->ignore_null_values);
  EXPECT_EQ(d->activation_threshold, 0);
  EXPECT_TRUE(d->adhoc->options.empty());
  EXPECT_EQ(d->adhoc->server_address, "");
  // As KEDA: an empty value is no value.
  auto e = Parse({{"query", "up"},
                  {"threshold", "1"},
                  {"ignoreNullValues", " "},
                  {"namespace", ""},
                  {"timeout", ""}});
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_TRUE(e->adhoc->ignore_null_values);
  EXPECT_TRUE(e->adhoc->options.empty());
  // A blank query is no query: the trigger names a metric or nothing.
  EXPECT_THAT(ErrorOf({{"query", "  "}, {"threshold", "1"}}), HasSubstr("scalerMetadata.metric"));
}

TEST(ParseTrigger, PrometheusScalerValuesAreReadAsKedaReadsThem) {
  auto with = [](std::string key, std::string value) {
    Metadata md = {{"query", "up"}, {"threshold", "1"}};
    md[key] = value;
    return Parse(md);
  };
  // Booleans as Go's strconv.ParseBool.
  for (const char* yes : {"1", "t", "T", "TRUE", "true", "True"}) {
    EXPECT_TRUE(with("ignoreNullValues", yes)->adhoc->ignore_null_values) << yes;
  }
  for (const char* no : {"0", "f", "F", "FALSE", "false", "False"}) {
    EXPECT_FALSE(with("ignoreNullValues", no)->adhoc->ignore_null_values) << no;
  }
  EXPECT_FALSE(with("ignoreNullValues", "yes").ok());
  // Numbers as JSON.
  EXPECT_EQ(with("threshold", "1e3")->adhoc->threshold, 1000);
  EXPECT_EQ(with("activationThreshold", "-2.5")->activation_threshold, -2.5);
  for (const char* bad : {"+1", ".5", "1.", "NaN", "Inf", "0x10", "01", "1e400", "500m"}) {
    auto r = with("threshold", bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr("scalerMetadata.threshold")) << bad;
  }
  EXPECT_THAT(std::string(with("threshold", "0").status().message()),
              HasSubstr("must be greater than 0"));
  // Durations: Go's, or whole milliseconds.
  EXPECT_EQ(with("timeout", "1m30s")->adhoc->options.timeout, absl::Seconds(90));
  EXPECT_EQ(with("timeout", "0")->adhoc->options.timeout, absl::ZeroDuration());
  EXPECT_FALSE(with("timeout", "-5").ok());
  EXPECT_FALSE(with("timeout", "soon").ok());
  // Maps: key=value elements; a later key replaces an earlier one.
  EXPECT_THAT(with("queryParameters", "a=1,a=2")->adhoc->options.params,
              ElementsAre(std::pair<std::string, std::string>{"a", "2"}));
  EXPECT_THAT(std::string(with("queryParameters", "a=1,b").status().message()),
              HasSubstr("element 1 is not one key=value pair"));
  EXPECT_FALSE(with("queryParameters", "a=1=2").ok());
  EXPECT_FALSE(with("queryParameters", "a=1,").ok());
}

TEST(ParseTrigger, PrometheusScalerKeysErrors) {
  EXPECT_THAT(ErrorOf({{"query", "up"}}), HasSubstr("scalerMetadata.threshold: required"));
  EXPECT_THAT(ErrorOf({{"query", "up"}, {"threshold", "1"}, {"metric", "concurrency"}}),
              HasSubstr("scalerMetadata.metric: not with query"));
  EXPECT_THAT(ErrorOf({{"query", "up"}, {"threshold", "1"}, {"labelSelector", "a=b"}}),
              HasSubstr("scalerMetadata.labelSelector: not with query"));
  // Parameters the adapter sets itself, and headers that would forge the request.
  EXPECT_THAT(ErrorOf({{"query", "up"}, {"threshold", "1"}, {"queryParameters", "query=x"}}),
              HasSubstr("scalerMetadata.queryParameters: query parameter query"));
  EXPECT_THAT(ErrorOf({{"query", "up"}, {"threshold", "1"}, {"queryParameters", "time=0"}}),
              HasSubstr("query parameter time"));
  EXPECT_THAT(ErrorOf({{"query", "up"}, {"threshold", "1"}, {"customHeaders", "Host=evil"}}),
              HasSubstr("scalerMetadata.customHeaders: header Host: reserved"));
  EXPECT_THAT(ErrorOf({{"query", "up"}, {"threshold", "1"}, {"customHeaders", "Bad Name=x"}}),
              HasSubstr("not a valid HTTP header name"));
  std::string injected =
      ErrorOf({{"query", "up"}, {"threshold", "1"}, {"customHeaders", "X-A=secret\nX-B: 1"}});
  EXPECT_THAT(injected, HasSubstr("scalerMetadata.customHeaders"));
  EXPECT_THAT(injected, ::testing::Not(HasSubstr("secret")));  // header values are never echoed
  std::string malformed =
      ErrorOf({{"query", "up"}, {"threshold", "1"}, {"customHeaders", "token"}});
  EXPECT_THAT(malformed, ::testing::Not(HasSubstr("token\"")));
}

}  // namespace
}  // namespace aa::keda
