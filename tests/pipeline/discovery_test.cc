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

// Records how far back each /api/v1/series call looks.
class SeriesWindowRecorder : public prom::Client {
 public:
  absl::StatusOr<prom::QueryResult> Query(std::string_view, absl::Time,
                                          const prom::QueryOptions&) override {
    return absl::UnavailableError("not asked here");
  }
  absl::StatusOr<std::vector<prom::Labels>> Series(const std::vector<std::string>&,
                                                   absl::Time start, absl::Time end) override {
    windows.push_back(end - start);
    return std::vector<prom::Labels>{};
  }
  std::vector<absl::Duration> windows;
};

TEST(RuleDiscoveryTest, SeriesLookBackTheMaxAgeElseTheInterval) {
  config::Config config = RulesConfig();
  config.discovery_interval = absl::Minutes(1);
  SimulatedClock clock;
  SeriesWindowRecorder prom;
  RuleDiscovery(config, prom, clock).Run();
  // --metrics-max-age (discovery_max_age) sets it; without it, the interval.
  config.discovery_max_age = absl::Minutes(5);
  RuleDiscovery(config, prom, clock).Run();
  EXPECT_THAT(prom.windows,
              ElementsAre(absl::Minutes(1), absl::Minutes(1), absl::Minutes(5), absl::Minutes(5)));
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

// What Prometheus has for RulesConfig()'s rules: one series for rule a (a_requests_total of pod p
// in namespace x on node n1), none for rule b.
absl::StatusOr<std::vector<prom::Labels>> RuleASeries(const std::vector<std::string>& matchers) {
  if (!absl::StrContains(matchers[0], "^a_")) return std::vector<prom::Labels>{};
  return std::vector<prom::Labels>{
      SeriesOf("a_requests_total", {{"namespace", "x"}, {"pod", "p"}, {"node", "n1"}})};
}

TEST(RuleDiscoveryTest, RuleMetricsFlowThroughTheSamplerBatchedByNamespace) {
  config::Config config = RulesConfig();
  FakePrometheus prom;
  SimulatedClock clock;
  prom.SetSeriesHandler(RuleASeries);
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

// prometheus-adapter's template fields beyond Series/LabelMatchers/GroupBy: GroupBySlice joined by
// range, and LabelValuesByName by index, rendered with the batch's namespaces.
TEST(RuleDiscoveryTest, GroupBySliceAndLabelValuesByNameRenderPerBatch) {
  config::Config config = ::aa::testing::SamplingTestConfig();
  config.pod_labels.enabled = false;
  config.metrics.clear();
  config::AdapterRule a =
      Rule("{__name__=\"a_total\"}",
           "sum by (<<range $i, $l := .GroupBySlice>><<if $i>>,<<end>><<$l>><<end>>) "
           "(rate(<<.Series>>{namespace=~\"<<index .LabelValuesByName \"namespace\">>\"}[1m]))");
  a.resources.label_template.clear();
  a.resources.overrides = {{"namespace", {"", "namespace"}}, {"pod", {"", "pod"}}};
  config.rules = {a};
  FakePrometheus prom;
  SimulatedClock clock;
  prom.SetSeriesHandler(
      [&](const std::vector<std::string>&) -> absl::StatusOr<std::vector<prom::Labels>> {
        return std::vector<prom::Labels>{SeriesOf("a_total", {{"namespace", "x"}, {"pod", "p"}})};
      });
  prom.SetHandler([](const std::string& q, absl::Time at) -> absl::StatusOr<prom::QueryResult> {
    return VectorOf(
        {{{{"namespace", "x"}, {"pod", "p1"}}, 1.5}, {{{"namespace", "y"}, {"pod", "p2"}}, 2.5}},
        at);
  });
  Sampler sampler(config, prom, clock, nullptr);
  Discoverer discoverer(sampler, prom, clock);
  discoverer.RunOnce();
  const config::MetricDefinition* def =
      sampler.metrics()->Find(config::MetricResource::Pods(), "a_total");
  ASSERT_NE(def, nullptr);
  EXPECT_FALSE(def->whole_cluster_query);  // LabelValuesByName restricts the namespaces
  sampler.Start();
  ASSERT_TRUE(sampler.Read("a_total", "x").ok());
  ASSERT_TRUE(sampler.Read("a_total", "y").ok());
  size_t before = prom.query_count();
  ASSERT_TRUE(::aa::testing::NextSamplerRound(sampler, clock));
  std::vector<std::string> queries = prom.queries();
  EXPECT_THAT(std::vector<std::string>(queries.begin() + before, queries.end()),
              ElementsAre("sum by (namespace,pod) (rate(a_total{namespace=~\"x|y\"}[1m]))"));
  EXPECT_EQ(sampler.Read("a_total", "y")->table->Find("p2")->value, 2.5);
}

// A metricsQuery without <<.LabelMatchers>>: one query per round however many namespaces ask, and
// each object gets the series that names it (prometheus-adapter's matching by the object label);
// series with the namespace label count in their namespace only; series without the object label
// match nothing.
TEST(RuleDiscoveryTest, QueryWithoutLabelMatchersRunsOnceAndMapsSeriesByObject) {
  config::Config config = ::aa::testing::SamplingTestConfig();
  config.pod_labels.enabled = false;
  config.metrics.clear();
  config::AdapterRule a = Rule("{__name__=\"mem\"}", "sum(<<.Series>>) by (pod)");
  a.resources.label_template.clear();
  a.resources.overrides = {{"namespace", {"", "namespace"}}, {"pod", {"", "pod"}}};
  config::AdapterRule b = Rule("{__name__=\"cpu\"}", "sum(<<.Series>>) by (<<.GroupBy>>)");
  b.path = "rules[1]";
  b.resources = a.resources;
  config.rules = {a, b};
  FakePrometheus prom;
  SimulatedClock clock;
  prom.SetSeriesHandler(
      [&](const std::vector<std::string>& m) -> absl::StatusOr<std::vector<prom::Labels>> {
        std::string name = absl::StrContains(m[0], "mem") ? "mem" : "cpu";
        return std::vector<prom::Labels>{SeriesOf(name, {{"namespace", "x"}, {"pod", "p"}})};
      });
  prom.SetHandler([](const std::string& q, absl::Time at) -> absl::StatusOr<prom::QueryResult> {
    if (q == "sum(mem) by (pod)") {
      return VectorOf({{{{"pod", "p1"}}, 10},
                       {{{"pod", "p2"}}, 20},
                       {{{"pod", "p1"}}, 11},
                       {{{"job", "no-pod"}}, 99}},
                      at);
    }
    return VectorOf(
        {{{{"namespace", "x"}, {"pod", "p1"}}, 1}, {{{"namespace", "y"}, {"pod", "p1"}}, 2}}, at);
  });
  Sampler sampler(config, prom, clock, nullptr);
  Discoverer discoverer(sampler, prom, clock);
  discoverer.RunOnce();
  const config::MetricDefinition* mem =
      sampler.metrics()->Find(config::MetricResource::Pods(), "mem");
  ASSERT_NE(mem, nullptr);
  EXPECT_TRUE(mem->whole_cluster_query);
  EXPECT_EQ(mem->series, "mem");
  sampler.Start();
  for (const char* ns : {"x", "y"}) {
    ASSERT_TRUE(sampler.Read("mem", ns).ok());
    ASSERT_TRUE(sampler.Read("cpu", ns).ok());
  }
  size_t before = prom.query_count();
  ASSERT_TRUE(::aa::testing::NextSamplerRound(sampler, clock));
  std::vector<std::string> queries = prom.queries();
  EXPECT_THAT(std::vector<std::string>(queries.begin() + before, queries.end()),
              ::testing::UnorderedElementsAre("sum(mem) by (pod)", "sum(cpu) by (namespace, pod)"));
  for (const char* ns : {"x", "y"}) {
    auto read = sampler.Read("mem", ns);
    ASSERT_TRUE(read.ok()) << read.status();
    ASSERT_EQ(read->table->pods.size(), 2u) << ns;  // the "no-pod" series matches nothing
    EXPECT_EQ(read->table->Find("p1")->value, 11);  // the last series of a name, as upstream
    EXPECT_EQ(read->table->Find("p2")->value, 20);
  }
  EXPECT_EQ(sampler.Read("cpu", "x")->table->Find("p1")->value, 1);
  EXPECT_EQ(sampler.Read("cpu", "y")->table->Find("p1")->value, 2);
}

// A reload discovers with the new rules at once: a rule that is gone takes its metrics with it,
// and a `metrics:` entry of the new config wins over a rule's metric of the same name.
TEST(RuleDiscoveryTest, AReloadDiscoversWithTheNewRules) {
  config::Config config = RulesConfig();
  FakePrometheus prom;
  SimulatedClock clock;
  prom.SetSeriesHandler(RuleASeries);
  Sampler sampler(config, prom, clock, nullptr);
  Discoverer discoverer(sampler, prom, clock);
  discoverer.RunOnce();
  const config::MetricResource nodes = config::MetricResource::FromName("nodes");
  ASSERT_NE(sampler.metrics()->Find(nodes, "requests"), nullptr);

  config::Config next = config;
  next.rules.clear();
  config::MetricDefinition own;
  own.name = "requests";
  own.resource = nodes;
  own.namespace_label = "";
  own.pod_label = "node";
  own.query = "mine{<<.LabelMatchers>>}";
  next.metrics.push_back(own);
  sampler.Reload(next);
  discoverer.Reload(next);
  ASSERT_NE(sampler.metrics()->Find(nodes, "requests"), nullptr);
  EXPECT_EQ(sampler.metrics()->Find(nodes, "requests")->query, own.query);
  EXPECT_EQ(sampler.metrics()->Find(config::MetricResource::Namespaces(), "requests"), nullptr);
  EXPECT_EQ(sampler.metrics()->definitions.size(), next.metrics.size());

  // The rules back: discovered again at once, `metrics:` still first.
  config.metrics = next.metrics;
  sampler.Reload(config);
  discoverer.Reload(config);
  EXPECT_NE(sampler.metrics()->Find(config::MetricResource::Namespaces(), "requests"), nullptr);
  EXPECT_EQ(sampler.metrics()->Find(nodes, "requests")->query, own.query);
}

}  // namespace
}  // namespace aa::pipeline
