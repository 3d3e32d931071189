#include "pipeline/view.h"

#include <atomic>
#include <mutex>
#include <optional>

#include "absl/strings/match.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pipeline/sampler.h"
#include "pipeline/sampler_fixture.h"
#include "testutil/fake_prometheus.h"

namespace aa::pipeline {
namespace {

using ::aa::testing::FakePrometheus;
using ::aa::testing::kSamplerWait;
using ::aa::testing::VectorOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The pods' label as kube_pod_labels holds it (PodLabelsOf).
constexpr char kIsvcA[] = "serving.kserve.io/inferenceservice=a";
constexpr char kIsvcB[] = "serving.kserve.io/inferenceservice=b";

config::Config TestConfig() {
  config::Config c = ::aa::testing::SamplingTestConfig();
  config::MetricDefinition conc;
  conc.name = "concurrency";
  conc.query = "conc{<<.LabelMatchers>>}";
  conc.target = 70;
  c.metrics = {conc};
  return c;
}

// Pods a-1, a-2 (InferenceService a) and b-1 (b) in namespace ns, with 35, 105 and 7 concurrent
// requests.
class ViewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    prom_.SetHandler(
        [this](const std::string& q, absl::Time at) -> absl::StatusOr<prom::QueryResult> {
          if (down_) return absl::UnavailableError("connection refused");
          if (absl::StartsWith(q, "kube_pod_labels")) {
            return aa::testing::PodLabelsOf("ns", {{"a-1", "a"}, {"a-2", "a"}, {"b-1", "b"}}, at);
          }
          return VectorOf({{{{"namespace", "ns"}, {"pod", "a-1"}}, 35},
                           {{{"namespace", "ns"}, {"pod", "a-2"}}, 105},
                           {{{"namespace", "ns"}, {"pod", "b-1"}}, 7}},
                          at);
        });
    sampler_ = std::make_unique<Sampler>(TestConfig(), prom_, clock_, nullptr);
    sampler_->Start();
  }

  Question Pods(std::string selector = "") {
    Question q;
    q.metric = "concurrency";
    q.ns = "ns";
    q.label_selector = std::move(selector);
    return q;
  }

  std::atomic<bool> down_{false};
  FakePrometheus prom_;
  SimulatedClock clock_;
  std::unique_ptr<Sampler> sampler_;
};

TEST_F(ViewTest, SelectsPodsBySelectorOrNameWithTotals) {
  View view(*sampler_);
  auto all = view.Select(Pods());
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_THAT(all->rows, ElementsAre(0, 1, 2));
  EXPECT_DOUBLE_EQ(all->Stats().total, 147);
  auto a = view.Select(Pods(kIsvcA));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT(a->rows, ElementsAre(0, 1));
  EXPECT_EQ(a->row(1).pod, "a-2");
  EXPECT_DOUBLE_EQ(a->Stats().total, 140);
  EXPECT_EQ(a->Stats().pods, 2);
  Question named = Pods(kIsvcA);
  named.name = "b-1";  // exists, but the selector does not pick it
  auto none = view.Select(named);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->rows.empty());
  EXPECT_EQ(none->why_empty, Why::kNoValue);
  EXPECT_TRUE(none->named_pod_exists);
}

TEST_F(ViewTest, ErrorsSayWhy) {
  View view(*sampler_);
  Question unknown = Pods();
  unknown.metric = "nope";
  auto u = view.Select(unknown);
  EXPECT_EQ(u.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(WhyOf(u.status()), Why::kUnknownMetric);
  auto bad = view.Select(Pods("app in (a"));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WhyOf(bad.status()), Why::kBadQuestion);
  Question bad_ns = Pods();
  bad_ns.ns = "Not_A_Namespace";
  EXPECT_EQ(WhyOf(view.Select(bad_ns).status()), Why::kBadQuestion);
  // Objects other than pods need an object source.
  Question services = Pods(kIsvcA);
  services.resource = config::MetricResource::FromName("services");
  EXPECT_EQ(WhyOf(view.Select(services).status()), Why::kUnknownMetric);
  // Stale: Prometheus down for longer than maxAge (30 s).
  ASSERT_TRUE(view.Select(Pods()).ok());
  down_ = true;
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(::aa::testing::NextSamplerRound(*sampler_, clock_));
  auto stale = view.Select(Pods());
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(WhyOf(stale.status()), Why::kStale);
  EXPECT_THAT(stale.status().message(), HasSubstr("connection refused"));
  EXPECT_EQ(WhyOf(absl::UnavailableError("x")), Why::kOther);
}

TEST_F(ViewTest, SelectNowNeverWaitsAndSelectWhenSampledCallsBack) {
  View view(*sampler_);
  EXPECT_FALSE(view.Sampled(Pods()));
  auto now = view.SelectNow(Pods());
  EXPECT_EQ(now.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(WhyOf(now.status()), Why::kNotSampledYet);
  // SelectNow asked for the sample; the callback comes with the publication that holds it.
  absl::Notification called;
  std::optional<absl::StatusOr<Selection>> answer;
  view.SelectWhenSampled(Pods(kIsvcB), [&](absl::StatusOr<Selection> sel) {
    answer = std::move(sel);
    called.Notify();
  });
  ASSERT_TRUE(called.WaitForNotificationWithTimeout(kSamplerWait));
  ASSERT_TRUE(answer->ok()) << answer->status();
  EXPECT_THAT((*answer)->rows, ElementsAre(2));
  EXPECT_TRUE(view.Sampled(Pods()));
  // Sampled now: answered at once, on this thread.
  bool inline_call = false;
  view.SelectWhenSampled(Pods(), [&](absl::StatusOr<Selection> sel) {
    inline_call = sel.ok() && sel->rows.size() == 3;
  });
  EXPECT_TRUE(inline_call);
  EXPECT_TRUE(view.SelectNow(Pods()).ok());
}

TEST_F(ViewTest, WaitersGetTheTimeoutErrorWhenTheSamplerStops) {
  prom_.SetHandler([](const std::string&, absl::Time) -> absl::StatusOr<prom::QueryResult> {
    return absl::UnavailableError("never");
  });
  sampler_->Stop();
  View view(*sampler_);
  // Stopped: nothing will be sampled; the callback still comes, at once.
  bool called = false;
  view.SelectWhenSampled(Pods(), [&](absl::StatusOr<Selection> sel) {
    called = true;
    EXPECT_EQ(WhyOf(sel.status()), Why::kNotSampledYet);
  });
  EXPECT_TRUE(called);
}

TEST_F(ViewTest, NamespacesHoldingADefinitionIncludeTheWarmOnes) {
  View view(*sampler_);
  ASSERT_TRUE(view.Select(Pods()).ok());
  Question variant = Pods();
  variant.series_matchers = "code=\"200\"";
  ASSERT_TRUE(view.Select(variant).ok());
  const config::MetricDefinition& def = view.metrics()->definitions[0];
  EXPECT_THAT(view.Namespaces(def), ElementsAre("ns"));
  EXPECT_THAT(view.snapshot()->Namespaces(def.Key()), ElementsAre("ns"));
}

// Every namespace at once: one query without a namespace matcher, rows named "<ns>/<pod>", no
// namespace demanded, pods picked by labels from their own namespace's index and by fields.
TEST(ViewAllNamespacesTest, OneWholeClusterQueryServesEveryNamespace) {
  FakePrometheus prom;
  prom.SetHandler([](const std::string& q, absl::Time at) -> absl::StatusOr<prom::QueryResult> {
    if (!absl::StrContains(q, "namespace!=\"\"")) {
      return VectorOf({{{{"namespace", "ns"}, {"pod", "a-1"}}, 35}}, at);
    }
    if (absl::StartsWith(q, "kube_pod_labels")) {
      aa::testing::Rows rows = aa::testing::PodLabelsRows("ns", {{"a-1", "a"}, {"b-1", "b"}});
      for (auto& row : aa::testing::PodLabelsRows("other", {{"x-1", "a"}})) rows.push_back(row);
      return VectorOf(rows, at);
    }
    return VectorOf({{{{"namespace", "ns"}, {"pod", "a-1"}}, 35},
                     {{{"namespace", "ns"}, {"pod", "b-1"}}, 7},
                     {{{"namespace", "other"}, {"pod", "x-1"}}, 2},
                     {{{"namespace", "zz"}, {"pod", "z-1"}}, 1}},
                    at);
  });
  SimulatedClock clock;
  Sampler sampler(TestConfig(), prom, clock, nullptr);
  sampler.Start();
  View view(sampler);
  Question q;
  q.metric = "concurrency";
  q.all_namespaces = true;
  auto all = view.Select(q);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->rows.size(), 4u);
  EXPECT_EQ(all->row(0).pod, "ns/a-1");
  EXPECT_EQ(all->Object(2).ns, "other");
  EXPECT_EQ(all->Object(2).name, "x-1");
  EXPECT_DOUBLE_EQ(all->Stats().total, 45);
  // One key of demand, not a namespace: the per-namespace bound is untouched.
  EXPECT_EQ(sampler.demanded_namespaces(), 0u);
  EXPECT_THAT(prom.queries(), ::testing::Contains("conc{namespace!=\"\"}"));

  auto names = [](const Selection& sel) {
    std::vector<std::string> out;
    for (size_t i = 0; i < sel.rows.size(); ++i) out.push_back(sel.row(i).pod);
    return out;
  };
  q.field_selector = "metadata.namespace=other";
  EXPECT_THAT(names(*view.Select(q)), ElementsAre("other/x-1"));
  q.field_selector = "metadata.namespace!=ns,metadata.name!=z-1";
  EXPECT_THAT(names(*view.Select(q)), ElementsAre("other/x-1"));
  q.field_selector = "metadata.name=a-1";
  EXPECT_THAT(names(*view.Select(q)), ElementsAre("ns/a-1"));
  q.field_selector = "";
  // The label index of every namespace with a row: zz has none, so its pod never matches.
  ASSERT_TRUE(::aa::testing::NextSamplerRound(sampler, clock));
  q.label_selector = kIsvcA;
  EXPECT_THAT(names(*view.Select(q)), ElementsAre("ns/a-1", "other/x-1"));
  q.label_selector = "";

  q.field_selector = "spec.nodeName=node-1";
  auto bad = view.Select(q);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WhyOf(bad.status()), Why::kBadQuestion);
  EXPECT_EQ(bad.status().message(),
            "\"spec.nodeName\" is not a known field selector: only \"metadata.name\", "
            "\"metadata.namespace\"");

  // A namespace asked for on its own is served by the same whole-cluster query.
  Question one;
  one.metric = "concurrency";
  one.ns = "ns";
  ASSERT_TRUE(view.Select(one).ok());
  const size_t before = prom.queries().size();
  // A round already under way may publish first: wait for up to four rounds.
  auto ns = view.Select(one);
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(::aa::testing::NextSamplerRound(sampler, clock));
    ns = view.Select(one);
    if (ns.ok() && ns->rows.size() == 2) break;
  }
  std::vector<std::string> rounds = prom.queries();
  rounds.erase(rounds.begin(), rounds.begin() + static_cast<long>(before));
  // Every query of the metric since then is the whole-cluster one: none for the namespace alone.
  EXPECT_GE(std::count(rounds.begin(), rounds.end(), "conc{namespace!=\"\"}"), 1);
  EXPECT_EQ(std::count_if(rounds.begin(), rounds.end(),
                          [](const std::string& s) { return absl::StartsWith(s, "conc{"); }),
            std::count(rounds.begin(), rounds.end(), "conc{namespace!=\"\"}"));
  ASSERT_TRUE(ns.ok()) << ns.status();
  ASSERT_THAT(names(*ns), ElementsAre("a-1", "b-1"));
  EXPECT_EQ(ns->Object(1).ns, "ns");
}

}  // namespace
}  // namespace aa::pipeline
