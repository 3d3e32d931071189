// Bounded demand: what clients can make the sampler query. Namespaces must exist to become demand,
// new ones are rate-limited, demand has a ceiling, queries are chunked, selector variants are
// evicted least recently used, and the pod source forgets namespaces with their demand. Every
// bound runs on a SimulatedClock: no sleeps.

#include <condition_variable>
#include <iostream>
#include <mutex>
#include <optional>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pipeline/pod_source.h"
#include "pipeline/sampler.h"
#include "pipeline/sampler_fixture.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "testutil/fake_prometheus.h"

namespace aa::pipeline {
namespace {

using ::aa::testing::FakePrometheus;
using ::aa::testing::kSamplerWait;
using ::aa::testing::NextSamplerRound;
using ::aa::testing::VectorOf;
using ::testing::HasSubstr;

config::Config DemandConfig() {
  config::Config c = ::aa::testing::SamplingTestConfig();
  c.source = "test";
  c.pod_labels.enabled = false;
  config::MetricDefinition m;
  m.name = "running";
  m.query = "sum by (<<.GroupBy>>) (running{<<.LabelMatchers>>})";
  m.namespace_label = "namespace";
  m.pod_label = "pod";
  c.metrics = {m};
  return c;
}

// The namespaces a query names: the values of namespace="x" or namespace=~"a|b"; {"*"} for
// namespace!="".
std::vector<std::string> NamedNamespaces(const std::string& q) {
  if (absl::StrContains(q, "namespace!=\"\"")) return {"*"};
  for (std::string_view prefix : {"namespace=~\"", "namespace=\""}) {
    size_t at = q.find(prefix);
    if (at == std::string::npos) continue;
    at += prefix.size();
    return absl::StrSplit(q.substr(at, q.find('"', at) - at), '|');
  }
  return {};
}

// A Prometheus whose namespaces each run one pod "<ns>-0" with value 10 + the namespace's index
// in `namespaces`, answering exactly the namespaces a query names.
class DemandTest : public ::testing::Test {
 protected:
  void SetUp() override { Serve({"real", "other"}); }
  void Serve(std::vector<std::string> namespaces) {
    {
      std::lock_guard lock(mu_);
      namespaces_ = namespaces;
    }
    prom_.SetLabelValues("namespace", namespaces);
    prom_.SetHandler([this](const std::string& q, absl::Time at) {
      std::lock_guard lock(mu_);
      const std::vector<std::string> named = NamedNamespaces(q);
      ::aa::testing::Rows rows;
      for (size_t i = 0; i < namespaces_.size(); ++i) {
        const std::string& ns = namespaces_[i];
        if (named != std::vector<std::string>{"*"} &&
            std::find(named.begin(), named.end(), ns) == named.end()) {
          continue;
        }
        rows.push_back({{{"namespace", ns}, {"pod", ns + "-0"}}, 10.0 + static_cast<double>(i)});
      }
      return absl::StatusOr<prom::QueryResult>(VectorOf(rows, at));
    });
  }
  // Queries of the running metric (not probes).
  std::vector<std::string> MetricQueries() {
    std::vector<std::string> out;
    for (const auto& q : prom_.queries()) {
      if (absl::StartsWith(q, "sum by")) out.push_back(q);
    }
    return out;
  }
  std::string Metrics() { return prometheus::TextSerializer().Serialize(registry_.Collect()); }

  std::mutex mu_;
  std::vector<std::string> namespaces_;
  FakePrometheus prom_;
  SimulatedClock clock_;
  prometheus::Registry registry_;
};

TEST_F(DemandTest, InventedNamespacesCostOneCheckPerIntervalAndReadEmpty) {
  Sampler sampler(DemandConfig(), prom_, clock_, &registry_);
  sampler.Start();
  for (int i = 0; i < 1000; ++i) {
    auto read = sampler.Read("running", absl::StrCat("ns-", i));
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_TRUE(read->table->pods.empty());
    EXPECT_EQ(read->own_table.get(), read->table);  // not in the snapshot
  }
  EXPECT_EQ(prom_.label_values_count(), 1u);
  EXPECT_TRUE(MetricQueries().empty());
  EXPECT_EQ(sampler.demanded_namespaces(), 0u);
  ASSERT_TRUE(NextSamplerRound(sampler, clock_));
  EXPECT_TRUE(MetricQueries().empty());  // nothing demanded: nothing sampled
  EXPECT_TRUE(sampler.snapshot()->slots.empty());

  // The real namespace is sampled, with its value.
  auto real = sampler.Read("running", "real");
  ASSERT_TRUE(real.ok()) << real.status();
  ASSERT_EQ(real->table->pods.size(), 1u);
  EXPECT_EQ(real->table->pods[0].value, 10);
  EXPECT_EQ(sampler.demanded_namespaces(), 1u);

  // Once the check interval has passed, the next invented namespace costs one more check.
  clock_.Advance(absl::Seconds(30));
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(sampler.Read("running", absl::StrCat("x-", i)).ok());
  EXPECT_EQ(prom_.label_values_count(), 2u);
  const std::string text = Metrics();
  EXPECT_THAT(text, HasSubstr("autoscale_adapter_sampler_demand_rejections_total{reason=\"unknown_"
                              "namespace\"} 1100"));
  EXPECT_THAT(text, HasSubstr("autoscale_adapter_sampler_namespace_checks_total{outcome="
                              "\"success\"} 2"));
  sampler.UpdateGauges();
  EXPECT_THAT(Metrics(), HasSubstr("autoscale_adapter_sampler_demanded_namespaces 1"));
}

TEST_F(DemandTest, ANamespaceThatAppearsIsAdmittedAfterTheNextCheck) {
  Sampler sampler(DemandConfig(), prom_, clock_, nullptr);
  sampler.Start();
  auto before = sampler.Read("running", "late");
  ASSERT_TRUE(before.ok());
  EXPECT_TRUE(before->table->pods.empty());
  Serve({"real", "other", "late"});
  // Within the interval the negative answer stands, without asking.
  EXPECT_TRUE(sampler.Read("running", "late")->table->pods.empty());
  EXPECT_EQ(prom_.label_values_count(), 1u);
  clock_.Advance(absl::Seconds(30));
  auto after = sampler.Read("running", "late");
  ASSERT_TRUE(after.ok()) << after.status();
  ASSERT_EQ(after->table->pods.size(), 1u);
  EXPECT_EQ(after->table->pods[0].pod, "late-0");
  EXPECT_EQ(prom_.label_values_count(), 2u);
}

TEST_F(DemandTest, AFailedCheckRefusesNewNamespacesUntilTheNextOne) {
  Serve({"real"});
  Sampler sampler(DemandConfig(), prom_, clock_, nullptr);
  sampler.Start();
  ASSERT_TRUE(sampler.Read("running", "real").ok());
  Serve({"real", "new"});
  prom_.SetDown(true, "connection refused");
  clock_.Advance(absl::Seconds(30));
  auto read = sampler.Read("running", "new");
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(WhyOf(read.status()), Why::kBackendFailed);
  EXPECT_THAT(read.status().message(), HasSubstr("cannot check whether the namespace exists"));
  EXPECT_THAT(read.status().message(), HasSubstr("connection refused"));
  EXPECT_EQ(prom_.label_values_count(), 2u);
  // Within the interval the failure stands without asking again; the demanded namespace keeps
  // its last good value.
  EXPECT_FALSE(sampler.Read("running", "new").ok());
  EXPECT_EQ(prom_.label_values_count(), 2u);
  EXPECT_TRUE(sampler.Read("running", "real").ok());
  prom_.SetDown(false);
  clock_.Advance(absl::Seconds(30));
  auto recovered = sampler.Read("running", "new");
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_EQ(recovered->table->pods.size(), 1u);
  EXPECT_EQ(sampler.demanded_namespaces(), 2u);
}

TEST_F(DemandTest, CeilingRefusesNewNamespacesAndKeepsServingDemandedOnes) {
  Serve({"a", "b", "c"});
  config::Config cfg = DemandConfig();
  cfg.sampling.max_namespaces = 2;
  Sampler sampler(cfg, prom_, clock_, &registry_);
  sampler.Start();
  ASSERT_TRUE(sampler.Read("running", "a").ok());
  ASSERT_TRUE(sampler.Read("running", "b").ok());
  auto c = sampler.Read("running", "c");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(WhyOf(c.status()), Why::kDemandLimit);
  EXPECT_THAT(c.status().message(), HasSubstr("demand ceiling"));
  EXPECT_THAT(c.status().message(), HasSubstr("sampling.maxNamespaces 2"));
  // Invented namespaces are not refused by the ceiling: they read empty.
  EXPECT_TRUE(sampler.Read("running", "invented").ok());
  ASSERT_TRUE(NextSamplerRound(sampler, clock_));
  EXPECT_EQ(sampler.Read("running", "a")->table->pods[0].value, 10);
  // "a" is kept asked for; "b" expires after demandTTL (5 min), then "c" is admitted.
  for (int i = 0; i < 62; ++i) {
    ASSERT_TRUE(sampler.Read("running", "a").ok());
    ASSERT_TRUE(NextSamplerRound(sampler, clock_));
  }
  EXPECT_EQ(sampler.demanded_namespaces(), 1u);
  auto admitted = sampler.Read("running", "c");
  ASSERT_TRUE(admitted.ok()) << admitted.status();
  EXPECT_EQ(admitted->table->pods[0].value, 12);
  EXPECT_THAT(Metrics(),
              HasSubstr("autoscale_adapter_sampler_demand_rejections_total{reason=\"ceiling\"} 1"));
}

TEST_F(DemandTest, NewNamespacesBeyondTheBucketWaitForTokens) {
  std::vector<std::string> names;
  for (int i = 0; i < 5; ++i) names.push_back(absl::StrCat("n", i));
  Serve(names);
  config::Config cfg = DemandConfig();
  cfg.sampling.new_namespace_burst = 3;
  cfg.sampling.new_namespaces_per_second = 1;
  Sampler sampler(cfg, prom_, clock_, &registry_);
  sampler.Start();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(sampler.Read("running", names[i]).ok());
  auto refused = sampler.Read("running", "n3");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(WhyOf(refused.status()), Why::kDemandLimit);
  EXPECT_THAT(refused.status().message(), HasSubstr("too many new namespaces"));
  // A demanded namespace never needs a token.
  EXPECT_TRUE(sampler.Read("running", "n0").ok());
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(sampler.Read("running", "n3").ok());
  EXPECT_FALSE(sampler.Read("running", "n4").ok());
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(sampler.Read("running", "n4").ok());
  EXPECT_THAT(Metrics(), HasSubstr("autoscale_adapter_sampler_demand_rejections_total{reason="
                                   "\"rate_limited\"} 2"));
}

TEST_F(DemandTest, QueriesAreChunkedWithTheValuesOfOneQuery) {
  std::vector<std::string> names;
  for (int i = 0; i < 7; ++i) names.push_back(absl::StrCat("chunk", i));
  for (int i = 0; i < 20; ++i) names.push_back(absl::StrCat("idle", i));  // known, never demanded
  Serve(names);
  config::Config cfg = DemandConfig();
  cfg.sampling.max_namespaces_per_query = 3;
  Sampler sampler(cfg, prom_, clock_, &registry_);
  sampler.Start();
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(sampler.Read("running", names[i]).ok());
  const size_t before = MetricQueries().size();
  ASSERT_TRUE(NextSamplerRound(sampler, clock_));
  const std::vector<std::string> all = MetricQueries();
  const std::vector<std::string> round(all.begin() + static_cast<long>(before), all.end());
  ASSERT_EQ(round.size(), 3u);  // 3 + 3 + 1
  std::set<std::string> covered;
  for (const auto& q : round) {
    auto named = NamedNamespaces(q);
    EXPECT_LE(named.size(), 3u) << q;
    covered.insert(named.begin(), named.end());
  }
  EXPECT_EQ(covered, std::set<std::string>(names.begin(), names.begin() + 7));
  for (int i = 0; i < 7; ++i) {
    auto read = sampler.Read("running", names[i]);
    ASSERT_TRUE(read.ok());
    ASSERT_EQ(read->table->pods.size(), 1u);
    EXPECT_EQ(read->table->pods[0].value, 10 + i);
  }
  const std::string text = Metrics();
  EXPECT_THAT(text, HasSubstr("autoscale_adapter_sampler_round_chunks 3"));
  EXPECT_THAT(text, HasSubstr("autoscale_adapter_sampler_round_queries 3"));
}

TEST_F(DemandTest, RegexBytesBoundTheChunks) {
  std::vector<std::string> names;
  for (int i = 0; i < 4; ++i) names.push_back(std::string(40, static_cast<char>('a' + i)));
  Serve(names);
  config::Config cfg = DemandConfig();
  cfg.sampling.max_matcher_bytes = 90;  // two 40-byte names and a '|'
  cfg.sampling.whole_cluster_percent = 0;
  Sampler sampler(cfg, prom_, clock_, nullptr);
  sampler.Start();
  for (const auto& ns : names) ASSERT_TRUE(sampler.Read("running", ns).ok());
  const size_t before = MetricQueries().size();
  ASSERT_TRUE(NextSamplerRound(sampler, clock_));
  const auto all = MetricQueries();
  ASSERT_EQ(all.size() - before, 2u);
  for (size_t i = before; i < all.size(); ++i) EXPECT_EQ(NamedNamespaces(all[i]).size(), 2u);
}

TEST_F(DemandTest, MostNamespacesDemandedMeansOneQueryWithoutANamespaceMatcher) {
  std::vector<std::string> names;
  for (int i = 0; i < 6; ++i) names.push_back(absl::StrCat("w", i));
  Serve(names);
  config::Config cfg = DemandConfig();
  cfg.sampling.max_namespaces_per_query = 2;
  Sampler sampler(cfg, prom_, clock_, nullptr);
  sampler.Start();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(sampler.Read("running", names[i]).ok());  // 4 of 6
  const size_t before = MetricQueries().size();
  ASSERT_TRUE(NextSamplerRound(sampler, clock_));
  const auto all = MetricQueries();
  ASSERT_EQ(all.size() - before, 1u);
  EXPECT_THAT(all.back(), HasSubstr("namespace!=\"\""));
  for (int i = 0; i < 4; ++i) {
    auto read = sampler.Read("running", names[i]);
    ASSERT_TRUE(read.ok());
    ASSERT_EQ(read->table->pods.size(), 1u);
    EXPECT_EQ(read->table->pods[0].value, 10 + i);
  }
  // Series of namespaces nobody demands are not kept.
  EXPECT_EQ(sampler.snapshot()->FindSlot({"running", "", "w5"}), nullptr);
}

// Warm namespaces never ask for an unknown namespace, so nothing else fetches the namespace list
// wholeClusterPercent compares them with: a round that would chunk fetches it (once per
// namespaceCheckInterval), and 4 warm namespaces of 6 known are one query for the metric and one
// for kube_pod_labels, without a namespace matcher, from the first round on.
TEST_F(DemandTest, MostNamespacesWarmMeansOneQueryWithoutANamespaceMatcher) {
  std::vector<std::string> names;
  for (int i = 0; i < 6; ++i) names.push_back(absl::StrCat("w", i));
  Serve(names);
  config::Config cfg = DemandConfig();
  cfg.pod_labels.enabled = true;
  cfg.sampling.max_namespaces_per_query = 2;
  cfg.sampling.namespace_check_interval = absl::Seconds(30);
  cfg.sampling.warm_namespaces.assign(names.begin(), names.begin() + 4);
  Sampler sampler(cfg, prom_, clock_, &registry_);
  sampler.Start();
  ASSERT_TRUE(sampler.WaitForGeneration(1, kSamplerWait));
  EXPECT_EQ(prom_.label_values_count(), 1u);
  auto first_round = prom_.queries();
  std::vector<std::string> metric, labels;
  for (const auto& q : first_round) {
    if (absl::StartsWith(q, "sum by")) metric.push_back(q);
    if (absl::StartsWith(q, "kube_pod_labels{")) labels.push_back(q);
  }
  ASSERT_EQ(metric.size(), 1u);
  EXPECT_THAT(metric[0], HasSubstr("namespace!=\"\""));
  ASSERT_EQ(labels.size(), 1u);
  EXPECT_THAT(labels[0], HasSubstr("namespace!=\"\""));
  for (int i = 0; i < 4; ++i) {
    auto read = sampler.Read("running", names[static_cast<size_t>(i)]);
    ASSERT_TRUE(read.ok()) << read.status();
    ASSERT_EQ(read->table->pods.size(), 1u);
    EXPECT_EQ(read->table->pods[0].value, 10 + i);
  }
  EXPECT_EQ(sampler.snapshot()->FindSlot({"running", "", "w5"}), nullptr);
  // The list is re-read once per namespaceCheckInterval, not every round.
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(NextSamplerRound(sampler, clock_));  // 25 s
  EXPECT_EQ(prom_.label_values_count(), 1u);
  ASSERT_TRUE(NextSamplerRound(sampler, clock_));  // 30 s
  EXPECT_EQ(prom_.label_values_count(), 2u);
  // 4 of 10 known (under wholeClusterPercent 50): chunked again after the next re-read.
  Serve({"w0", "w1", "w2", "w3", "x0", "x1", "x2", "x3", "x4", "x5"});
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(NextSamplerRound(sampler, clock_));
  const size_t before = MetricQueries().size();
  ASSERT_TRUE(NextSamplerRound(sampler, clock_));
  const auto all = MetricQueries();
  ASSERT_EQ(all.size() - before, 2u);  // 4 of 10: two chunks of 2
  for (size_t i = before; i < all.size(); ++i) EXPECT_EQ(NamedNamespaces(all[i]).size(), 2u);
}

// 1,000 warm namespaces (of 3,000 Prometheus knows): every query the sampler sends (the metric's,
// its baseline, kube_pod_labels, and the range query filling a panic-aware metric's windows) names
// at most maxNamespacesPerQuery namespaces in at most maxMatcherBytes of regex, and each
// namespace's values are those of the single query.
TEST_F(DemandTest, EveryQueryStaysBoundedWithAThousandNamespaces) {
  std::vector<std::string> names;
  for (int i = 0; i < 3000; ++i) names.push_back(absl::StrCat("team-", 1000 + i));
  Serve(names);
  prom_.EnableRangeQueries();
  config::Config cfg = DemandConfig();
  cfg.metrics[0].baseline_query = "sum by (<<.GroupBy>>) (baseline{<<.LabelMatchers>>})";
  config::MetricDefinition panic = cfg.metrics[0];
  panic.name = "running_panic";
  panic.baseline_query.clear();
  panic.target = 70;
  panic.panic = config::PanicConfig{};
  cfg.metrics.push_back(panic);
  cfg.pod_labels.enabled = true;
  cfg.sampling.warm_namespaces.assign(names.begin(), names.begin() + 1000);
  ASSERT_EQ(cfg.sampling.max_namespaces_per_query, 100);  // the defaults
  ASSERT_EQ(cfg.sampling.max_matcher_bytes, 4096);
  Sampler sampler(cfg, prom_, clock_, &registry_);
  sampler.Start();
  ASSERT_TRUE(NextSamplerRound(sampler, clock_));
  for (int i : {0, 517, 999}) {
    auto read = sampler.Read("running", names[static_cast<size_t>(i)]);
    ASSERT_TRUE(read.ok()) << read.status();
    ASSERT_EQ(read->table->pods.size(), 1u);
    EXPECT_EQ(read->table->pods[0].value, 10 + i);
  }
  std::vector<std::string> sent = prom_.queries();
  for (const auto& r : prom_.range_queries()) sent.push_back(r.promql);
  size_t metric = 0, baseline = 0, labels = 0, longest = 0;
  std::set<std::string> covered;
  for (const auto& q : sent) {
    const std::vector<std::string> named = NamedNamespaces(q);
    EXPECT_LE(named.size(), 100u) << q;
    size_t regex = 0;
    for (const auto& ns : named) regex += ns.size() + 1;
    EXPECT_LE(regex, 4096u + 1) << q;
    longest = std::max(longest, q.size());
    if (absl::StartsWith(q, "sum by (namespace, pod) (running{")) {
      ++metric;
      covered.insert(named.begin(), named.end());
    }
    baseline += absl::StartsWith(q, "sum by (namespace, pod) (baseline{") ? 1 : 0;
    labels += absl::StartsWith(q, "kube_pod_labels{") ? 1 : 0;
  }
  // The template's own bytes and 4,096 of regex at most.
  EXPECT_LE(longest, 4096u + 64) << "the longest query";
  EXPECT_EQ(covered.size(), 1000u);
  EXPECT_GE(metric, 10u * 2);  // the first round's and the next one's chunks, both metrics
  EXPECT_GE(baseline, 10u);
  EXPECT_GE(labels, 10u);
  EXPECT_GE(prom_.range_queries().size(), 10u);
  std::cout << "queries sent: " << sent.size() << ", longest " << longest << " bytes\n";
}

TEST_F(DemandTest, SelectorVariantsAreEvictedLeastRecentlyUsed) {
  Sampler sampler(DemandConfig(), prom_, clock_, &registry_);
  sampler.Start();
  auto variant = [](size_t i) { return absl::StrCat("app=\"v", i, "\""); };
  for (size_t i = 0; i < Sampler::kMaxSelectorVariants; ++i) {
    ASSERT_TRUE(sampler.Read("running", "real", {}, variant(i)).ok()) << i;
    clock_.Advance(absl::Milliseconds(10));
  }
  // Variant 0 is asked for again: variant 1 is now the least recently used.
  ASSERT_TRUE(sampler.Read("running", "real", {}, variant(0)).ok());
  clock_.Advance(absl::Milliseconds(10));
  auto fresh = sampler.Read("running", "real", {}, "app=\"new\"");
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  ASSERT_TRUE(NextSamplerRound(sampler, clock_));
  const auto snap = sampler.snapshot();
  EXPECT_EQ(snap->FindSlot({"running", variant(1), "real"}), nullptr);
  EXPECT_NE(snap->FindSlot({"running", variant(0), "real"}), nullptr);
  EXPECT_NE(snap->FindSlot({"running", "app=\"new\"", "real"}), nullptr);
  EXPECT_THAT(Metrics(), HasSubstr("autoscale_adapter_sampler_variants_evicted_total 1"));
}

// A pod source that has pods in the namespaces the test names and records Forget calls.
class FakePods final : public PodLabelSource {
 public:
  explicit FakePods(std::set<std::string> with_pods) : with_pods_(std::move(with_pods)) {}
  std::shared_ptr<const PodLabelsTable> PodLabels(std::string_view ns) override {
    auto table = std::make_shared<PodLabelsTable>();
    table->from_kubernetes = true;
    if (with_pods_.contains(std::string(ns))) table->pods[std::string(ns) + "-0"] = {};
    return table;
  }
  bool HasPods(std::string_view ns) override { return with_pods_.contains(std::string(ns)); }
  void Forget(std::string_view ns) override {
    std::lock_guard lock(mu_);
    forgotten_.emplace_back(ns);
  }
  std::vector<std::string> forgotten() {
    std::lock_guard lock(mu_);
    return forgotten_;
  }

 private:
  const std::set<std::string> with_pods_;
  std::mutex mu_;
  std::vector<std::string> forgotten_;
};

TEST_F(DemandTest, PodWatchAnswersExistenceAndForgetsNamespacesWithTheirDemand) {
  Serve({"real", "other", "pods-only"});
  prom_.SetLabelValues("namespace", {});  // Prometheus does not know them yet
  FakePods pods({"real", "pods-only"});
  Sampler sampler(DemandConfig(), prom_, clock_, nullptr);
  sampler.SetPodLabelSource(&pods);
  sampler.Start();
  auto read = sampler.Read("running", "pods-only");
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->table->pods.size(), 1u);
  EXPECT_EQ(prom_.label_values_count(), 0u);  // the pod watch answered
  // Neither the watch nor Prometheus has "ghost": empty, with no pod to select.
  auto ghost = sampler.Read("running", "ghost");
  ASSERT_TRUE(ghost.ok());
  EXPECT_TRUE(ghost->table->pods.empty());
  EXPECT_EQ(prom_.label_values_count(), 1u);
  EXPECT_TRUE(pods.forgotten().empty());
  for (int i = 0; i < 62; ++i) ASSERT_TRUE(NextSamplerRound(sampler, clock_));  // > demandTTL
  EXPECT_EQ(sampler.demanded_namespaces(), 0u);
  EXPECT_EQ(pods.forgotten(), std::vector<std::string>{"pods-only"});
  EXPECT_TRUE(sampler.snapshot()->pod_labels.empty());
}

TEST_F(DemandTest, ReadNowAndReadWhenSampledWaitForTheCheckWithoutBlocking) {
  Sampler sampler(DemandConfig(), prom_, clock_, nullptr);
  sampler.Start();
  // ReadNow never waits: the check and the first sample come with the next round.
  auto now = sampler.ReadNow("running", "other");
  ASSERT_FALSE(now.ok());
  EXPECT_EQ(WhyOf(now.status()), Why::kNotSampledYet);
  std::mutex mu;
  std::condition_variable cv;
  std::optional<absl::StatusOr<MetricRead>> invented, real;
  auto wait = [&](std::optional<absl::StatusOr<MetricRead>>& slot) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, absl::ToChronoNanoseconds(kSamplerWait),
                       [&] { return slot.has_value(); });
  };
  clock_.Advance(absl::Seconds(30));  // the next invented namespace needs a check
  sampler.ReadWhenSampled("running", "invented-2", {}, "", [&](absl::StatusOr<MetricRead> r) {
    std::lock_guard lock(mu);
    invented = std::move(r);
    cv.notify_all();
  });
  sampler.ReadWhenSampled("running", "real", {}, "", [&](absl::StatusOr<MetricRead> r) {
    std::lock_guard lock(mu);
    real = std::move(r);
    cv.notify_all();
  });
  ASSERT_TRUE(wait(invented));
  ASSERT_TRUE(invented->ok()) << invented->status();
  EXPECT_TRUE((*invented)->table->pods.empty());
  ASSERT_TRUE(wait(real));
  ASSERT_TRUE(real->ok()) << real->status();
  EXPECT_EQ((*real)->table->pods.size(), 1u);
  EXPECT_EQ(sampler.ReadNow("running", "other")->table->pods.size(), 1u);
}

TEST_F(DemandTest, WithoutTheCheckEveryValidNamespaceIsDemanded) {
  config::Config cfg = DemandConfig();
  cfg.sampling.check_namespaces = false;
  Sampler sampler(cfg, prom_, clock_, nullptr);
  sampler.Start();
  ASSERT_TRUE(sampler.Read("running", "invented").ok());
  EXPECT_EQ(prom_.label_values_count(), 0u);
  EXPECT_EQ(sampler.demanded_namespaces(), 1u);
}

}  // namespace
}  // namespace aa::pipeline
