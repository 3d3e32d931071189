// The pod-label index from a PodLabelSource (the Kubernetes pod watch) instead of kube_pod_labels:
// the sampler's seam, and selecting pods by their real label keys.

#include "pipeline/pod_source.h"

#include <mutex>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pipeline/pod_select.h"
#include "pipeline/sampler.h"
#include "pipeline/sampler_fixture.h"
#include "testutil/fake_prometheus.h"

namespace aa::pipeline {
namespace {

using ::aa::testing::FakePrometheus;
using ::aa::testing::VectorOf;

// A PodLabelSource whose answer the test sets; null means "not synced".
class FakePodSource final : public PodLabelSource {
 public:
  std::shared_ptr<const PodLabelsTable> PodLabels(std::string_view ns) override {
    std::lock_guard lock(mu_);
    calls_.emplace_back(ns);
    auto it = tables_.find(std::string(ns));
    return synced_ && it != tables_.end() ? it->second : nullptr;
  }
  void Set(const std::string& ns, std::map<std::string, prom::Labels> pods) {
    auto table = std::make_shared<PodLabelsTable>();
    table->from_kubernetes = true;
    for (auto& [name, labels] : pods) table->pods[name] = std::move(labels);
    std::lock_guard lock(mu_);
    tables_[ns] = std::move(table);
    synced_ = true;
  }
  std::vector<std::string> calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }

 private:
  std::mutex mu_;
  bool synced_ = false;
  std::map<std::string, std::shared_ptr<const PodLabelsTable>> tables_;
  std::vector<std::string> calls_;
};

config::Config TestConfig() {
  config::Config c = ::aa::testing::SamplingTestConfig();
  c.source = "test";
  c.sampling.demand_ttl = absl::Minutes(5);
  config::MetricDefinition conc;
  conc.name = "concurrency";
  conc.query = "sum by (<<.GroupBy>>) (rate(lat_sum{<<.LabelMatchers>>}[1m]))";
  conc.namespace_label = "namespace";
  conc.pod_label = "pod";
  c.metrics = {conc};
  c.pod_labels.enabled = true;
  return c;
}

std::vector<std::string> Selected(const MetricRead& read, std::string_view ns,
                                  std::string_view selector) {
  auto select = PodSelector(*read.snapshot, ns, selector);
  EXPECT_TRUE(select.ok()) << select.status();
  std::vector<std::string> out;
  if (!select.ok()) return out;
  for (const PodValue& pod : read.table->pods) {
    if (!*select || (*select)(pod)) out.push_back(pod.pod);
  }
  return out;
}

class PodSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    prom_.SetHandler([](const std::string& q, absl::Time at) -> absl::StatusOr<prom::QueryResult> {
      if (absl::StartsWith(q, "kube_pod_labels")) {
        return VectorOf({{{{"namespace", "a"}, {"pod", "a-1"}, {"label_app", "old"}}, 1}}, at);
      }
      // a-3 is a pod deleted a moment ago whose series Prometheus still returns.
      return VectorOf({{{{"namespace", "a"}, {"pod", "a-1"}}, 1},
                       {{{"namespace", "a"}, {"pod", "a-2"}}, 2},
                       {{{"namespace", "a"}, {"pod", "a-3"}}, 3}},
                      at);
    });
  }
  size_t PodLabelQueries() {
    size_t n = 0;
    for (const auto& q : prom_.queries()) n += absl::StartsWith(q, "kube_pod_labels");
    return n;
  }
  void NextRound(Sampler& s) { ASSERT_TRUE(::aa::testing::NextSamplerRound(s, clock_)); }

  FakePrometheus prom_;
  SimulatedClock clock_;
  FakePodSource source_;
};

TEST_F(PodSourceTest, SourceReplacesKubePodLabelsOnceSynced) {
  Sampler s(TestConfig(), prom_, clock_, nullptr);
  s.SetPodLabelSource(&source_);
  s.Start();
  // Not synced yet: kube_pod_labels answers (sanitized keys).
  auto read = s.Read("concurrency", "a");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(PodLabelQueries(), 1u);
  EXPECT_FALSE(read->snapshot->pod_labels.at("a")->from_kubernetes);
  EXPECT_THAT(Selected(*read, "a", "app=old"), ::testing::ElementsAre("a-1"));
  EXPECT_THAT(source_.calls(), ::testing::Contains("a"));

  source_.Set("a", {{"a-1", {{"app.kubernetes.io/name", "web"}, {"tier", ""}}},
                    {"a-2", {{"app.kubernetes.io/name", "web"}}}});
  NextRound(s);
  read = s.Read("concurrency", "a");
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(PodLabelQueries(), 1u);  // no further kube_pod_labels query
  EXPECT_TRUE(read->snapshot->pod_labels.at("a")->from_kubernetes);
  // Real keys, as written; an empty value is a value.
  EXPECT_THAT(Selected(*read, "a", "app.kubernetes.io/name=web"),
              ::testing::ElementsAre("a-1", "a-2"));
  EXPECT_THAT(Selected(*read, "a", "tier="), ::testing::ElementsAre("a-1"));
  EXPECT_THAT(Selected(*read, "a", "tier"), ::testing::ElementsAre("a-1"));
  EXPECT_THAT(Selected(*read, "a", "!tier"), ::testing::ElementsAre("a-2"));
  // The sanitized form does not match real keys; kube_pod_labels' labels are gone.
  EXPECT_THAT(Selected(*read, "a", "app_kubernetes_io_name=web"), ::testing::ElementsAre());
  EXPECT_THAT(Selected(*read, "a", "app=old"), ::testing::ElementsAre());
  // The deleted pod a-3 matches no selector (the empty selector still passes every row).
  EXPECT_THAT(Selected(*read, "a", "tier notin (x)"), ::testing::ElementsAre("a-1", "a-2"));
  EXPECT_THAT(Selected(*read, "a", ""), ::testing::ElementsAre("a-1", "a-2", "a-3"));

  EXPECT_EQ(CountIndexedPods(*read->snapshot, "a", "app.kubernetes.io/name=web"), 2u);
  EXPECT_EQ(CountIndexedPods(*read->snapshot, "a", "app.kubernetes.io/name=db"), 0u);
  EXPECT_EQ(CountIndexedPods(*read->snapshot, "a", ""), 2u);
  EXPECT_EQ(CountIndexedPods(*read->snapshot, "b", ""), std::nullopt);
}

TEST_F(PodSourceTest, SourceWorksWithKubePodLabelsDisabled) {
  auto cfg = TestConfig();
  cfg.pod_labels.enabled = false;
  source_.Set("a", {{"a-2", {{"app", "web"}}}});
  Sampler s(cfg, prom_, clock_, nullptr);
  s.SetPodLabelSource(&source_);
  s.Start();
  auto read = s.Read("concurrency", "a");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(PodLabelQueries(), 0u);
  EXPECT_THAT(Selected(*read, "a", "app=web"), ::testing::ElementsAre("a-2"));
  const prom::Labels* labels = read->snapshot->FindPodLabels("a", "a-2");
  ASSERT_NE(labels, nullptr);
  EXPECT_EQ(*labels, (prom::Labels{{"app", "web"}}));
}

}  // namespace
}  // namespace aa::pipeline
