// prometheus-adapter rule discovery: series -> metric definitions (filters, name mapping, resource
// mapping), failure isolation, and rule metrics flowing through the sampler.

#include "pipeline/discovery.h"

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pipeline/sampler.h"
#include "pipeline/sampler_fixture.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "testutil/fake_prometheus.h"

namespace aa::pipeline {
namespace {

using ::aa::testing::FakePrometheus;
using ::aa::testing::SeriesOf;
using ::aa::testing::VectorOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

config::AdapterRule Rule(std::string series_query, std::string metrics_query) {
  config::AdapterRule r;
  r.path = "rules[0]";
  r.series_query = std::move(series_query);
  r.metrics_query = std::move(metrics_query);
  r.resources.label_template = "<<.Resource>>";
  return r;
}

// "<resource>/<name> ns=<namespace label> obj=<object label>: query", for compact expectations.
std::vector<std::string> Describe(const std::vector<config::MetricDefinition>& defs) {
  std::vector<std::string> out;
  for (const auto& d : defs) {
    out.push_back(
        absl::StrCat(d.Key(), " ns=", d.namespace_label, " obj=", d.pod_label, ": ", d.query));
  }
  return out;
}

TEST(FindKubeResourceTest, SingularPluralAndGroup) {
  ASSERT_NE(FindKubeResource("pods"), nullptr);
  EXPECT_EQ(FindKubeResource("pod")->GroupResource(), "pods");
  EXPECT_EQ(FindKubeResource("deployments.apps")->kind, "Deployment");
  EXPECT_EQ(FindKubeResource("Deployment")->GroupResource(), "deployments.apps");
  EXPECT_EQ(FindKubeResource("deployment.apps")->api_version, "apps/v1");
  EXPECT_FALSE(FindKubeResource("nodes")->namespaced);
  EXPECT_FALSE(FindKubeResource("namespace")->namespaced);
  EXPECT_TRUE(FindKubeResource("services")->namespaced);
  EXPECT_EQ(FindKubeResource("deployments.batch"), nullptr);
  EXPECT_EQ(FindKubeResource("container"), nullptr);
}

TEST(DefinitionsForRuleTest, TemplateMapsLabelsToResources) {
  config::AdapterRule rule =
      Rule("{namespace!=\"\"}", "sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)");
  auto defs = DefinitionsForRule(
      rule, {SeriesOf("http_requests_total", {{"namespace", "a"},
                                              {"pod", "p"},
                                              {"service", "s"},
                                              {"container", "c"},
                                              {"deployment", "d"}}),
             // The same name again: no duplicate definitions.
             SeriesOf("http_requests_total", {{"namespace", "b"}, {"pod", "q"}})});
  EXPECT_THAT(
      Describe(defs),
      ElementsAre("deployments.apps/http_requests_total ns=namespace obj=deployment: "
                  "sum(rate(http_requests_total{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)",
                  "namespaces/http_requests_total ns=namespace obj=namespace: "
                  "sum(rate(http_requests_total{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)",
                  "http_requests_total ns=namespace obj=pod: "
                  "sum(rate(http_requests_total{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)",
                  "services/http_requests_total ns=namespace obj=service: "
                  "sum(rate(http_requests_total{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)"));
  EXPECT_EQ(defs[2].resource.name(), "pods");
  EXPECT_EQ(defs[2].rule, "rules[0]");
}

TEST(DefinitionsForRuleTest, OverridesPrefixedTemplateAndClusterScope) {
  config::AdapterRule rule = Rule("x", "sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)");
  rule.resources.label_template = "kube_<<.Group>>_<<.Resource>>";
  rule.resources.overrides["kubernetes_namespace"] = {"", "namespace"};
  rule.resources.overrides["kubernetes_node"] = {"", "nodes"};
  rule.resources.overrides["app"] = {"serving.kserve.io", "inferenceservices"};
  auto defs = DefinitionsForRule(rule, {SeriesOf("m", {{"kubernetes_namespace", "a"},
                                                       {"kubernetes_node", "n1"},
                                                       {"kube_apps_deployment", "d"},
                                                       {"app", "isvc"},
                                                       {"pod", "not-mapped"}})});
  EXPECT_THAT(Describe(defs),
              ElementsAre("inferenceservices.serving.kserve.io/m ns=kubernetes_namespace obj=app: "
                          "sum(m{<<.LabelMatchers>>}) by (<<.GroupBy>>)",
                          "deployments.apps/m ns=kubernetes_namespace obj=kube_apps_deployment: "
                          "sum(m{<<.LabelMatchers>>}) by (<<.GroupBy>>)",
                          "namespaces/m ns=kubernetes_namespace obj=kubernetes_namespace: "
                          "sum(m{<<.LabelMatchers>>}) by (<<.GroupBy>>)",
                          "nodes/m ns= obj=kubernetes_node: "
                          "sum(m{<<.LabelMatchers>>}) by (<<.GroupBy>>)"));
  // A namespaced object without a namespace label cannot be served.
  defs = DefinitionsForRule(Rule("x", "x{<<.LabelMatchers>>}"), {SeriesOf("m", {{"pod", "p"}})});
  EXPECT_TRUE(defs.empty());
}

TEST(DefinitionsForRuleTest, FiltersAndNameMapping) {
  config::AdapterRule rule = Rule("x", "<<.Series>>{<<.LabelMatchers>>}");
  rule.series_filters = {{false, ".*_seconds_total$"}, {true, "^http_"}};
  rule.name_matches = "^(.*)_total$";
  std::vector<prom::Labels> series = {
      SeriesOf("http_requests_total", {{"namespace", "a"}, {"pod", "p"}}),
      SeriesOf("http_latency_seconds_total", {{"namespace", "a"}, {"pod", "p"}}),  // isNot
      SeriesOf("grpc_requests_total", {{"namespace", "a"}, {"pod", "p"}}),         // not is
      SeriesOf("http_in_flight", {{"namespace", "a"}, {"pod", "p"}}),              // matches fails
  };
  auto names = [](const std::vector<config::MetricDefinition>& defs) {
    std::vector<std::string> out;
    for (const auto& d : defs) {
      if (d.resource.name() == "pods") out.push_back(d.name);
    }
    return out;
  };
  // One capture group and no `as`: $1.
  EXPECT_THAT(names(DefinitionsForRule(rule, series)), ElementsAre("http_requests"));
  rule.name_as = "${1}_per_second";
  EXPECT_THAT(names(DefinitionsForRule(rule, series)), ElementsAre("http_requests_per_second"));
  rule.name_matches = "^(?P<base>.*)_(?P<kind>[a-z]+)_total$";
  rule.name_as = "$kind:$base$$";
  EXPECT_THAT(names(DefinitionsForRule(rule, series)), ElementsAre("requests:http$"));
  // No capture group and no `as`: the whole match; unanchored like Go's regexp.
  rule.name_matches = "requests";
  rule.name_as = "";
  EXPECT_THAT(names(DefinitionsForRule(rule, series)), ElementsAre("requests"));
  // The query gets the series' real name, not the mapped one.
  rule.name_matches = ".*";
  auto defs = DefinitionsForRule(rule, series);
  ASSERT_FALSE(defs.empty());
  EXPECT_EQ(defs[0].query, "http_requests_total{<<.LabelMatchers>>}");
}

TEST(DefinitionsForRuleTest, ExternalRules) {
  config::AdapterRule rule = Rule("q", "sum(<<.Series>>{<<.LabelMatchers>>}) by (queue)");
  rule.external = true;
  rule.resources.label_template = "";
  rule.resources.overrides["namespace"] = {"", "namespace"};
  auto defs =
      DefinitionsForRule(rule, {SeriesOf("queue_depth", {{"namespace", "a"}, {"queue", "j"}})});
  EXPECT_THAT(Describe(defs), ElementsAre("external/queue_depth ns=namespace obj=: "
                                          "sum(queue_depth{<<.LabelMatchers>>}) by (queue)"));
  rule.resources.namespaced = false;
  defs = DefinitionsForRule(rule, {SeriesOf("queue_depth", {{"namespace", "a"}})});
  ASSERT_EQ(defs.size(), 1u);
  EXPECT_EQ(defs[0].namespace_label, "");
}

config::Config RulesConfig() {
  config::Config c = ::aa::testing::SamplingTestConfig();
  c.pod_labels.enabled = false;
  config::MetricDefinition static_def;
  static_def.name = "requests";  // also produced by a rule below: the `metrics:` entry wins
  static_def.query = "static_requests{<<.LabelMatchers>>}";
  c.metrics = {static_def};
  config::AdapterRule a = Rule("{__name__=~\"^a_.*\"}",
                               "sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)");
  a.path = "rules[0]";
  a.name_matches = "^a_(.*)_total$";
  config::AdapterRule b =
      Rule("{__name__=~\"^b_.*\"}", "sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)");
  b.path = "rules[1]";
  c.rules = {a, b};
  return c;
}

TEST(RuleDiscoveryTest, OneFailingSeriesQueryKeepsItsLastGoodResultAndHidesNothingElse) {
  config::Config config = RulesConfig();
  FakePrometheus prom;
  SimulatedClock clock;
  bool fail_a = false;
  prom.SetSeriesHandler(
      [&](const std::vector<std::string>& m) -> absl::StatusOr<std::vector<prom::Labels>> {
        if (absl::StrContains(m[0], "^a_")) {
          if (fail_a) return absl::UnavailableError("series: connection refused");
          return std::vector<prom::Labels>{
              SeriesOf("a_requests_total", {{"namespace", "x"}, {"pod", "p"}}),
              SeriesOf("a_jobs_total", {{"namespace", "x"}, {"pod", "p"}})};
        }
        return std::vector<prom::Labels>{SeriesOf("b_queue", {{"namespace", "x"}, {"pod", "p"}})};
      });
  RuleDiscovery discovery(config, prom, clock);
  auto keys = [](const std::vector<config::MetricDefinition>& defs) {
    std::vector<std::string> out;
    for (const auto& d : defs) out.push_back(d.Key());
    return out;
  };
  std::vector<std::string> want = {"namespaces/requests", "namespaces/jobs", "jobs",
                                   "namespaces/b_queue", "b_queue"};
  EXPECT_THAT(keys(discovery.Run()), ::testing::UnorderedElementsAreArray(want));
  EXPECT_TRUE(discovery.last_errors().empty());
  EXPECT_EQ(prom.series_count(), 2u);  // one call per distinct seriesQuery
  fail_a = true;
  EXPECT_THAT(keys(discovery.Run()), ::testing::UnorderedElementsAreArray(want));
  ASSERT_EQ(discovery.last_errors().size(), 1u);
  EXPECT_THAT(discovery.last_errors().begin()->second.message(), HasSubstr("connection refused"));
}

TEST(RuleDiscoveryTest, DiscovererTimesEachPassByOutcome) {
  config::Config config = RulesConfig();
  FakePrometheus prom;
  SimulatedClock clock;
  bool fail = false;
  prom.SetSeriesHandler(
      [&](const std::vector<std::string>&) -> absl::StatusOr<std::vector<prom::Labels>> {
        clock.Advance(absl::Milliseconds(100));
        if (fail) return absl::UnavailableError("connection refused");
        return std::vector<prom::Labels>{};
      });
  prometheus::Registry registry;
  Sampler sampler(config, prom, clock, nullptr);
  Discoverer discoverer(sampler, prom, clock, &registry);
  discoverer.RunOnce();
  fail = true;
  discoverer.RunOnce();
  const std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
  // Two distinct seriesQuery calls of 100 ms each per pass.
  EXPECT_THAT(
      text, HasSubstr("autoscale_adapter_discovery_duration_seconds_count{outcome=\"success\"} 1"));
  EXPECT_THAT(
      text, HasSubstr("autoscale_adapter_discovery_duration_seconds_sum{outcome=\"success\"} 0.2"));
  EXPECT_THAT(text,
              HasSubstr("autoscale_adapter_discovery_duration_seconds_count{outcome=\"error\"} 1"));
}

TEST(RuleDiscoveryTest, RuleMetricsFlowThroughTheSamplerBatchedByNamespace) {
  config::Config config = RulesConfig();
  FakePrometheus prom;
  SimulatedClock clock;
  prom.SetSeriesHandler(
      [&](const std::vector<std::string>& m) -> absl::StatusOr<std::vector<prom::Labels>> {
        if (!absl::StrContains(m[0], "^a_")) return std::vector<prom::Labels>{};
        return std::vector<prom::Labels>{
            SeriesOf("a_requests_total", {{"namespace", "x"}, {"pod", "p"}, {"node", "n1"}})};
      });
  prom.SetHandler([](const std::string& q, absl::Time at) -> absl::StatusOr<prom::QueryResult> {
    if (absl::StrContains(q, "by (namespace, pod)")) {
      return VectorOf(
          {{{{"namespace", "x"}, {"pod", "p1"}}, 1.5}, {{{"namespace", "y"}, {"pod", "p2"}}, 2.5}},
          at);
    }
    if (absl::StrContains(q, "by (namespace)")) {
      return VectorOf({{{{"namespace", "x"}}, 4}, {{{"namespace", "y"}}, 5}}, at);
    }
    if (absl::StrContains(q, "by (node)")) return VectorOf({{{{"node", "n1"}}, 7}}, at);
    return VectorOf({}, at);
  });
  Sampler sampler(config, prom, clock, nullptr);
  EXPECT_FALSE(sampler.Ready());  // rules: not ready before the first discovery
  Discoverer discoverer(sampler, prom, clock);
  uint64_t version = sampler.metrics()->version;
  discoverer.RunOnce();
  EXPECT_GT(sampler.metrics()->version, version);
  ASSERT_NE(sampler.metrics()->Find(config::MetricResource::Pods(), "requests"), nullptr);
  EXPECT_EQ(sampler.metrics()->Find(config::MetricResource::Pods(), "requests")->rule,
            "");  // `metrics:` wins
  ASSERT_NE(sampler.metrics()->Find(config::MetricResource::FromName("nodes"), "requests"),
            nullptr);
  sampler.Start();
  // Demand in two namespaces, then one periodic round samples both with one query.
  ASSERT_TRUE(sampler.Read("requests", "x", config::MetricResource::Namespaces()).ok());
  ASSERT_TRUE(sampler.Read("requests", "y", config::MetricResource::Namespaces()).ok());
  size_t before = prom.query_count();
  ASSERT_TRUE(::aa::testing::NextSamplerRound(sampler, clock));
  std::vector<std::string> queries = prom.queries();
  std::vector<std::string> round(queries.begin() + before, queries.end());
  EXPECT_THAT(round, ElementsAre("sum(rate(a_requests_total{namespace=~\"x|y\"}[2m])) by "
                                 "(namespace)"));
  auto y = sampler.Read("requests", "y", config::MetricResource::Namespaces());
  ASSERT_TRUE(y.ok()) << y.status();
  ASSERT_NE(y->table->Find("y"), nullptr);
  EXPECT_EQ(y->table->Find("y")->value, 5);
  // Cluster-scoped: no namespace matcher, grouped by the object label only.
  auto node = sampler.Read("requests", "ignored", config::MetricResource::FromName("nodes"));
  ASSERT_TRUE(node.ok()) << node.status();
  EXPECT_EQ(node->table->Find("n1")->value, 7);
  EXPECT_EQ(prom.queries().back(), "sum(rate(a_requests_total{node!=\"\"}[2m])) by (node)");
  auto missing = sampler.Read("nope", "x", config::MetricResource::FromName("services"));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace aa::pipeline
