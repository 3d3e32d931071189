// Several backends: each definition, rule, the pod labels and the namespace check go through their
// own backend's client, and one backend that is down fails alone.

#include "prometheus/backends.h"

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pipeline/discovery.h"
#include "pipeline/sampler.h"
#include "pipeline/sampler_fixture.h"
#include "testutil/fake_prometheus.h"

namespace aa::pipeline {
namespace {

using ::aa::testing::FakePrometheus;
using ::aa::testing::SeriesOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

config::MetricDefinition Running(std::string name, std::string backend) {
  config::MetricDefinition m;
  m.name = std::move(name);
  m.backend = std::move(backend);
  m.query = "sum by (<<.GroupBy>>) (running{<<.LabelMatchers>>})";
  return m;
}

// Two Prometheus servers: "default" (the prometheus: section) and "zone-b", each with its own pods.
class BackendsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = ::aa::testing::SamplingTestConfig();
    config_.pod_labels.enabled = false;
    config_.metrics = {Running("a_running", ""), Running("b_running", "zone-b")};
    a_.AnswerOtherwise({{{{"namespace", "shop"}, {"pod", "a-0"}}, 3}});
    b_.AnswerOtherwise({{{{"namespace", "shop"}, {"pod", "b-0"}}, 7}});
    ASSERT_TRUE(backends_.AddUnowned("default", "http://a:9090", a_).ok());
    ASSERT_TRUE(backends_.AddUnowned("zone-b", "http://b:9090", b_).ok());
  }
  void NextRound(Sampler& s) { ASSERT_TRUE(::aa::testing::NextSamplerRound(s, clock_)); }

  config::Config config_;
  FakePrometheus a_, b_;
  prom::Backends backends_;
  SimulatedClock clock_;
};

TEST_F(BackendsTest, EachDefinitionIsQueriedThroughItsBackend) {
  Sampler s(config_, backends_, clock_, nullptr);
  s.Start();
  auto a = s.Read("a_running", "shop");
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(a->table->pods.size(), 1u);
  EXPECT_EQ(a->table->pods[0].pod, "a-0");
  EXPECT_EQ(a->table->pods[0].value, 3);
  auto b = s.Read("b_running", "shop");
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_EQ(b->table->pods.size(), 1u);
  EXPECT_EQ(b->table->pods[0].pod, "b-0");
  EXPECT_EQ(b->table->pods[0].value, 7);
  // default may have been probed by a first round that had no work yet.
  std::vector<std::string> a_queries = a_.queries();
  std::erase(a_queries, "vector(1)");
  EXPECT_THAT(a_queries,
              ::testing::ElementsAre("sum by (namespace, pod) (running{namespace=\"shop\"})"));
  // zone-b: its readiness probe (it had not answered when the first round ended), then its query.
  EXPECT_THAT(
      b_.queries(),
      ::testing::ElementsAre("vector(1)", "sum by (namespace, pod) (running{namespace=\"shop\"})"));
}

TEST_F(BackendsTest, OneBackendDownFailsAloneInReadsAndReadiness) {
  b_.SetDown(true, "401 Unauthorized");
  Sampler s(config_, backends_, clock_, nullptr);
  s.Start();
  EXPECT_THAT(s.BackendReadyStatus("zone-b").message(), HasSubstr("waiting"));
  NextRound(s);
  ASSERT_TRUE(s.Read("a_running", "shop").ok());
  auto b = s.Read("b_running", "shop");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(b.status().message(), HasSubstr("401 Unauthorized"));
  EXPECT_TRUE(s.BackendReadyStatus("default").ok());
  EXPECT_TRUE(s.BackendReadyStatus("").ok());  // "" is default
  absl::Status zone_b = s.BackendReadyStatus("zone-b");
  EXPECT_EQ(zone_b.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(zone_b.message(), HasSubstr("backend zone-b"));
  EXPECT_THAT(zone_b.message(), HasSubstr("401 Unauthorized"));
  EXPECT_EQ(s.BackendReadyStatus("nope").code(), absl::StatusCode::kNotFound);
  // Every round probes the backend that never answered; once it answers, it is ready.
  b_.SetDown(false);
  NextRound(s);
  EXPECT_TRUE(s.BackendReadyStatus("zone-b").ok());
  EXPECT_THAT(b_.queries(), Contains("vector(1)"));
}

TEST_F(BackendsTest, ABackendNothingQueriesIsProbedForItsReadiness) {
  FakePrometheus c;
  c.AnswerOtherwise({});
  ASSERT_TRUE(backends_.AddUnowned("idle", "http://c:9090", c).ok());
  Sampler s(config_, backends_, clock_, nullptr);
  s.Start();
  NextRound(s);
  EXPECT_TRUE(s.BackendReadyStatus("idle").ok());
  EXPECT_THAT(c.queries(), ::testing::ElementsAre("vector(1)"));
  NextRound(s);
  EXPECT_EQ(c.queries().size(), 1u);  // probed until it answered, then no more
}

TEST_F(BackendsTest, NamespacesAreCheckedPerBackend) {
  config_.sampling.check_namespaces = true;
  a_.SetLabelValues("namespace", {"shop"});
  b_.SetLabelValues("namespace", {"zone-b-only"});
  b_.AnswerOtherwise({{{{"namespace", "zone-b-only"}, {"pod", "b-0"}}, 7}});
  Sampler s(config_, backends_, clock_, nullptr);
  s.Start();
  // "shop" exists in default's Prometheus only: zone-b reads it as empty (without a query while no
  // metric demands it: a demanded namespace is known to exist).
  auto b_shop = s.Read("b_running", "shop");
  ASSERT_TRUE(b_shop.ok()) << b_shop.status();
  EXPECT_TRUE(b_shop->table->pods.empty());
  auto a = s.Read("a_running", "shop");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->table->pods.size(), 1u);
  auto b = s.Read("b_running", "zone-b-only");
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_EQ(b->table->pods.size(), 1u);
  EXPECT_EQ(b->table->pods[0].value, 7);
  // One backend's failing check refuses new namespaces there only.
  b_.SetDown(true);
  clock_.Advance(config_.sampling.namespace_check_interval);
  a_.SetLabelValues("namespace", {"shop", "new"});
  auto b_new = s.Read("b_running", "new");
  ASSERT_FALSE(b_new.ok());
  EXPECT_THAT(b_new.status().message(), HasSubstr("cannot check whether the namespace exists"));
  auto a_new = s.Read("a_running", "new");
  ASSERT_TRUE(a_new.ok()) << a_new.status();
  EXPECT_EQ(a_new->own_table, nullptr);  // sampled, not the empty read of a missing namespace
  EXPECT_THAT(a_.queries(), Contains(HasSubstr("new")));
}

TEST_F(BackendsTest, PodLabelsComeFromTheirBackend) {
  config_.pod_labels.enabled = true;
  config_.pod_labels.backend = "zone-b";
  b_.AnswerPrefix("kube_pod_labels", ::aa::testing::PodLabelsRows("shop", {{"b-0", "isvc"}}));
  Sampler s(config_, backends_, clock_, nullptr);
  s.Start();
  ASSERT_TRUE(s.Read("a_running", "shop").ok());
  NextRound(s);
  for (const std::string& q : a_.queries()) EXPECT_THAT(q, Not(HasSubstr("kube_pod_labels")));
  EXPECT_THAT(b_.queries(), Contains(HasSubstr("kube_pod_labels")));
  ASSERT_TRUE(s.snapshot()->pod_labels.contains("shop"));
}

TEST_F(BackendsTest, RulesDiscoverThroughTheirBackendAndDefinitionsCarryIt) {
  config::AdapterRule rule;
  rule.path = "rules[0]";
  rule.series_query = "{__name__=~\"^queue_.*\"}";
  rule.metrics_query = "sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)";
  rule.resources.label_template = "<<.Resource>>";
  rule.backend = "zone-b";
  config_.rules = {rule};
  b_.AnswerSeries(rule.series_query,
                  {SeriesOf("queue_depth", {{"namespace", "shop"}, {"pod", "b-0"}})});
  Sampler s(config_, backends_, clock_, nullptr);
  Discoverer discoverer(s, backends_, clock_);
  discoverer.RunOnce();
  EXPECT_EQ(a_.series_count(), 0u);
  EXPECT_EQ(b_.series_count(), 1u);
  const config::MetricDefinition* def =
      s.metrics()->Find(config::MetricResource::Pods(), "queue_depth");
  ASSERT_NE(def, nullptr);
  EXPECT_EQ(def->backend, "zone-b");
  s.Start();
  auto read = s.Read("queue_depth", "shop");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_THAT(b_.queries(), Contains(HasSubstr("queue_depth")));
  for (const std::string& q : a_.queries()) EXPECT_THAT(q, Not(HasSubstr("queue_depth")));
  // A rule naming a backend the registry lacks is that rule's error, not a crash.
  prom::Backends only_default = prom::Backends::Single(a_);
  RuleDiscovery lacking(config_, only_default, clock_);
  EXPECT_TRUE(lacking.Run().empty());
  ASSERT_EQ(lacking.last_errors().size(), 1u);
  EXPECT_EQ(lacking.last_errors().begin()->first, "zone-b {__name__=~\"^queue_.*\"}");
  EXPECT_THAT(lacking.last_errors().begin()->second.message(),
              HasSubstr("no backend named zone-b"));
}

}  // namespace
}  // namespace aa::pipeline
