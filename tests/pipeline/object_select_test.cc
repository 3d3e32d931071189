// Objects selected by their labels from kube-state-metrics' kube_<object>_labels, matched exactly
// as kube_pod_labels matches pods (sanitized keys, empty value = absent).

#include "pipeline/object_select.h"

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pipeline/pod_select.h"
#include "testutil/fake_prometheus.h"

namespace aa::pipeline {
namespace {

using ::aa::testing::FakePrometheus;
using ::aa::testing::VectorOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

selector::Selector Sel(std::string_view text) {
  auto s = selector::Selector::Parse(text);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : selector::Selector();
}

class KubeStateObjectSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    prom_.SetHandler([this](const std::string& q,
                            absl::Time at) -> absl::StatusOr<prom::QueryResult> {
      if (fail_) return absl::UnavailableError("connection refused");
      if (q == "kube_deployment_labels{namespace=\"ns\"}") {
        return VectorOf(
            {{{{"namespace", "ns"},
               {"deployment", "web"},
               {"label_app_kubernetes_io_name", "web"},
               {"label_tier", "front"}},
              1},
             {{{"namespace", "ns"}, {"deployment", "api"}, {"label_app_kubernetes_io_name", "api"}},
              1},
             {{{"namespace", "ns"}, {"label_app_kubernetes_io_name", "nameless"}}, 1}},
            at);
      }
      if (q == "kube_node_labels") {
        return VectorOf({{{{"node", "n1"}, {"label_pool", "gpu"}}, 1},
                         {{{"node", "n2"}, {"label_pool", "cpu"}}, 1}},
                        at);
      }
      if (q == "kube_job_labels{namespace=\"ns\"}") {
        return VectorOf({{{{"namespace", "ns"}, {"job_name", "batch-1"}, {"label_app", "b"}}, 1}},
                        at);
      }
      return VectorOf({}, at);
    });
  }

  FakePrometheus prom_;
  SimulatedClock clock_;
  bool fail_ = false;
  KubeStateObjectSource source_{prom_, clock_, absl::Seconds(5)};
  const KubeResource& deployments_ = *FindKubeResource("deployments.apps");
};

TEST_F(KubeStateObjectSourceTest, SelectorKeysAreSanitizedAsForPods) {
  auto names = source_.Select(deployments_, "ns", Sel("app.kubernetes.io/name in (web, api)"));
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_THAT(*names, ElementsAre("api", "web"));  // sorted; a series without a name is skipped
  EXPECT_EQ(prom_.queries().back(), "kube_deployment_labels{namespace=\"ns\"}");
  // != and notin match an absent label; = needs it present.
  EXPECT_THAT(*source_.Select(deployments_, "ns", Sel("tier!=front")), ElementsAre("api"));
  EXPECT_THAT(*source_.Select(deployments_, "ns", Sel("tier")), ElementsAre("web"));
  EXPECT_THAT(*source_.Select(deployments_, "ns", Sel("tier=back")), IsEmpty());
  // An empty value is absent in Prometheus: "tier=" matches objects without the label.
  EXPECT_THAT(*source_.Select(deployments_, "ns", Sel("tier=")), IsEmpty());
  EXPECT_THAT(*source_.Select(deployments_, "ns", Sel("!tier")), ElementsAre("api"));
  EXPECT_EQ(source_.Describe(deployments_), "kube_deployment_labels");
}

TEST_F(KubeStateObjectSourceTest, OneQueryPerNamespaceCachedForTheTtl) {
  ASSERT_TRUE(source_.Select(deployments_, "ns", Sel("tier=front")).ok());
  ASSERT_TRUE(source_.Select(deployments_, "ns", Sel("tier!=front")).ok());
  EXPECT_EQ(prom_.query_count(), 1u);
  ASSERT_TRUE(source_.Select(deployments_, "other", Sel("tier=front")).ok());
  EXPECT_EQ(prom_.query_count(), 2u);
  clock_.Advance(absl::Seconds(5));
  ASSERT_TRUE(source_.Select(deployments_, "ns", Sel("tier=front")).ok());
  EXPECT_EQ(prom_.query_count(), 3u);
}

TEST_F(KubeStateObjectSourceTest, ClusterScopedAndJobNames) {
  auto nodes = source_.Select(*FindKubeResource("nodes"), "", Sel("pool=gpu"));
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  EXPECT_THAT(*nodes, ElementsAre("n1"));
  EXPECT_EQ(prom_.queries().back(), "kube_node_labels");
  auto jobs = source_.Select(*FindKubeResource("jobs"), "ns", Sel("app=b"));
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  EXPECT_THAT(*jobs, ElementsAre("batch-1"));
  EXPECT_EQ(KubeStateNameLabel(*FindKubeResource("jobs.batch")), "job_name");
  EXPECT_EQ(KubeStateLabelsSeries(*FindKubeResource("horizontalpodautoscalers")),
            "kube_horizontalpodautoscaler_labels");
}

TEST_F(KubeStateObjectSourceTest, PrometheusFailureIsUnavailableAndNotCached) {
  fail_ = true;
  auto names = source_.Select(deployments_, "ns", Sel("tier=front"));
  ASSERT_FALSE(names.ok());
  EXPECT_EQ(names.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(names.status().message(), HasSubstr("kube_deployment_labels{namespace=\"ns\"}"));
  EXPECT_THAT(names.status().message(), HasSubstr("connection refused"));
  fail_ = false;
  EXPECT_THAT(*source_.Select(deployments_, "ns", Sel("tier=front")), ElementsAre("web"));
}

TEST(LabelsMatcherTest, BothIndexFlavours) {
  auto name = std::make_shared<const selector::Selector>(Sel("app.kubernetes.io/name=web"));
  auto empty = std::make_shared<const selector::Selector>(Sel("x="));
  // kube-state-metrics: sanitized keys; an empty value is absent, so "x=" never matches.
  EXPECT_TRUE(LabelsMatcher(name, false)({{"app_kubernetes_io_name", "web"}}));
  EXPECT_FALSE(LabelsMatcher(name, false)({{"app.kubernetes.io/name", "web"}}));
  EXPECT_FALSE(LabelsMatcher(empty, false)({{"x", ""}}));
  // Kubernetes API: real keys, an empty value is a value.
  EXPECT_TRUE(LabelsMatcher(name, true)({{"app.kubernetes.io/name", "web"}}));
  EXPECT_FALSE(LabelsMatcher(name, true)({{"app_kubernetes_io_name", "web"}}));
  EXPECT_TRUE(LabelsMatcher(empty, true)({{"x", ""}}));
  EXPECT_EQ(KubeStateLabels({{"deployment", "d"}, {"label_a", "1"}, {"label_b_c", "2"}}),
            (prom::Labels{{"a", "1"}, {"b_c", "2"}}));
}

}  // namespace
}  // namespace aa::pipeline
