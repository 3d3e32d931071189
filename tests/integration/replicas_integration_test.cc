// Two adapter replicas against one real Prometheus (as the Deployment's two replicas behind one
// Service): every API answers the same values with the same timestamps, because both evaluate
// their queries at the sampling interval's boundaries; and a replica that restarts serves the
// panic-aware metric's windows the other one serves as soon as it reports ready, because it fills
// them from Prometheus with a range query.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "demo/proc/subprocess.h"
#include "demo/stack.h"
#include "gtest/gtest.h"
#include "integration/integration_util.h"

namespace aa {
namespace {

using integration::QueryJson;
using nlohmann::json;

constexpr char kNamespace[] = "kserve-test";

// A short stable window (12 s = 6 samples, the panic window 3 of them), so a replica that ran for
// a few seconds has a full window to compare with.
constexpr char kAdapterConfig[] = R"(
sampling:
  interval: 2s
  maxAge: 30s
  warmNamespaces: [kserve-test]
metrics:
- name: concurrency
  preset: {type: concurrency, source: knative-queue-proxy, window: 2s}
  containerConcurrency: 100
  targetUtilizationPercentage: 70
- name: concurrency_panic
  preset: {type: concurrency, source: knative-queue-proxy, window: 2s}
  containerConcurrency: 100
  panic: {stableWindow: 12s, panicWindowPercentage: 50}
)";

constexpr const char* kMetrics[] = {"concurrency", "concurrency_panic"};

class ReplicasIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto a = demo::Stack::Start(integration::StackOptionsFor(kAdapterConfig));
    ASSERT_TRUE(a.ok()) << a.status();
    a_ = a->release();
    demo::StackOptions options = integration::StackOptionsFor(kAdapterConfig);
    options.prometheus_url = a_->prometheus_url();
    auto b = demo::Stack::Start(options);
    ASSERT_TRUE(b.ok()) << b.status();
    b_ = b->release();
    kubeconfig_a_ = new std::string(a_->work_dir() + "/kubeconfig");
    kubeconfig_b_ = new std::string(b_->work_dir() + "/kubeconfig");
    integration::WriteKubeconfig(*kubeconfig_a_, a_->adapter_https_port());
    integration::WriteKubeconfig(*kubeconfig_b_, b_->adapter_https_port());
    for (demo::Stack* s : {a_, b_}) {
      ASSERT_TRUE(demo::WaitForHttp(s->adapter_port(), "/readyz", 200, absl::Seconds(30)).ok());
    }
    // Traffic in the rate windows of both.
    ASSERT_TRUE(proc::PollUntil(
        [] {
          json j = QueryApi(a_, "concurrency");
          return j.contains("total") && j["total"].get<double>() > 0;
        },
        absl::Seconds(30)));
  }
  static void TearDownTestSuite() {
    delete b_;  // before a_: it reads a_'s Prometheus
    delete a_;
    delete kubeconfig_a_;
    delete kubeconfig_b_;
    b_ = a_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(a_, nullptr);
    ASSERT_NE(b_, nullptr);
  }

  // The query API's answer for `metric` in kNamespace, without its ageSeconds (the one field that
  // depends on when it was asked).
  static json QueryApi(demo::Stack* s, const std::string& metric) {
    int status = 0;
    json j =
        QueryJson(s->adapter_https_port(),
                  absl::StrCat("/api/v1/namespaces/", kNamespace, "/metrics/", metric), &status);
    if (status != 200) return json();
    j.erase("ageSeconds");
    return j;
  }
  // custom.metrics.k8s.io through the pinned kubectl: every pod's value of `metric`.
  static json CustomMetrics(const std::string& kubeconfig, const std::string& metric) {
    return integration::KubectlJson(
        kubeconfig, absl::StrCat("/apis/custom.metrics.k8s.io/v1beta2/namespaces/", kNamespace,
                                 "/pods/*/", metric));
  }
  // KEDA's GetMetrics for `metric` from both replicas through one run of the Python grpcio client
  // (back to back, so that both usually answer from one evaluation time even on a loaded machine).
  static void KedaBoth(const std::string& metric, json* from_a, json* from_b) {
    const std::string address_a = absl::StrCat("127.0.0.1:", a_->adapter_grpc_port());
    const std::string address_b = absl::StrCat("127.0.0.1:", b_->adapter_grpc_port());
    std::string out = integration::RunCommand(absl::StrCat(
        "/usr/bin/python3 ", AA_SOURCE_DIR, "/tests/keda/keda_client_test.py call --address ",
        address_a, " --address ", address_b, " --proto ", AA_SOURCE_DIR,
        "/proto/externalscaler.proto --namespace ", kNamespace, " 'metric=", metric,
        "' 'target=1'"));
    json j = json::parse(out, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << out;
    *from_a = j[address_a]["GetMetrics"];
    *from_b = j[address_b]["GetMetrics"];
  }

  // How long the tests compare the replicas' answers: AA_REPLICAS_COMPARE_SECONDS (default 10 s,
  // five sampling intervals, for CI; `AA_REPLICAS_COMPARE_SECONDS=300` compares for five minutes).
  static absl::Duration CompareDuration() {
    const char* env = std::getenv("AA_REPLICAS_COMPARE_SECONDS");
    int seconds = 0;
    if (env == nullptr || !absl::SimpleAtoi(env, &seconds) || seconds <= 0) seconds = 10;
    return absl::Seconds(seconds);
  }

  // For `duration`, reads every metric's query API answer from both replicas: every pair of one
  // evaluation time must be identical, values, timestamps and panic windows alike; and most pairs
  // are of one evaluation time (they differ only while one replica's round is under way).
  static void CompareQueryApiAnswersFor(absl::Duration duration) {
    std::map<std::string, std::set<std::string>> times;  // metric -> evaluation times compared
    int pairs = 0, apart = 0;
    const absl::Time deadline = absl::Now() + duration;
    while (absl::Now() < deadline) {
      for (const char* metric : kMetrics) {
        json a = QueryApi(a_, metric), b = QueryApi(b_, metric);
        ASSERT_FALSE(a.is_null());
        ASSERT_FALSE(b.is_null());
        ++pairs;
        if (a["sampledAt"] != b["sampledAt"]) {
          ++apart;
          continue;
        }
        ASSERT_EQ(a, b) << metric;
        times[metric].insert(a["sampledAt"].get<std::string>());
      }
    }
    std::printf("%d pairs of query API answers over %s, %d of two evaluation times\n", pairs,
                absl::FormatDuration(duration).c_str(), apart);
    // One evaluation time per 2 s interval, at least 4 in 10 s.
    const size_t want = static_cast<size_t>(absl::ToInt64Seconds(duration) * 2 / 5);
    for (const char* metric : kMetrics) EXPECT_GE(times[metric].size(), want) << metric;
    EXPECT_LT(apart * 4, pairs) << apart << " of " << pairs << " pairs of different times";
  }

  // Reads `read` from both replicas between two query API reads of each; true (and both answers)
  // when all four saw the same table, i.e. the answers are of one evaluation time.
  template <typename ReadBoth>
  static bool ReadBothAtOneTime(const std::string& metric, ReadBoth read_both, json* from_a,
                                json* from_b) {
    json before_a = QueryApi(a_, metric), before_b = QueryApi(b_, metric);
    if (before_a.is_null() || before_a["sampledAt"] != before_b["sampledAt"]) return false;
    read_both(from_a, from_b);
    return QueryApi(a_, metric)["sampledAt"] == before_a["sampledAt"] &&
           QueryApi(b_, metric)["sampledAt"] == before_a["sampledAt"];
  }

  static demo::Stack* a_;
  static demo::Stack* b_;
  static std::string* kubeconfig_a_;
  static std::string* kubeconfig_b_;
};

demo::Stack* ReplicasIntegrationTest::a_ = nullptr;
demo::Stack* ReplicasIntegrationTest::b_ = nullptr;
std::string* ReplicasIntegrationTest::kubeconfig_a_ = nullptr;
std::string* ReplicasIntegrationTest::kubeconfig_b_ = nullptr;

TEST_F(ReplicasIntegrationTest, EveryApiAnswersTheSameValuesAndTimestampsOnBothReplicas) {
  CompareQueryApiAnswersFor(CompareDuration());

  // custom.metrics.k8s.io through kubectl, and KEDA through the Python client: the same answers
  // from both replicas for one evaluation time.
  for (const char* metric : kMetrics) {
    SCOPED_TRACE(metric);
    json a, b;
    ASSERT_TRUE(proc::PollUntil(
        [&] {
          return ReadBothAtOneTime(
              metric,
              [&](json* from_a, json* from_b) {
                *from_a = CustomMetrics(*kubeconfig_a_, metric);
                *from_b = CustomMetrics(*kubeconfig_b_, metric);
              },
              &a, &b);
        },
        absl::Seconds(20)));
    ASSERT_FALSE(a["items"].empty());
    EXPECT_EQ(a, b);
    ASSERT_TRUE(proc::PollUntil(
        [&] {
          return ReadBothAtOneTime(
              metric, [&](json* from_a, json* from_b) { KedaBoth(metric, from_a, from_b); }, &a,
              &b);
        },
        absl::Seconds(20)));
    ASSERT_TRUE(a.is_array()) << a.dump();
    EXPECT_EQ(a, b);
  }
}

TEST_F(ReplicasIntegrationTest, ARestartedReplicaServesTheSameWindowsAsSoonAsItIsReady) {
  // Replica A has run for longer than the stable window by now.
  EXPECT_EQ(b_->StopAdapter(), 0);
  ASSERT_TRUE(b_->StartAdapter().ok());
  ASSERT_TRUE(demo::WaitForHttp(b_->adapter_port(), "/readyz", 200, absl::Seconds(30)).ok());
  // The first table B serves (of its first round, or of the next one if A has not reached that
  // evaluation time yet): the same windowed values, windows and panic state as A's.
  json a, b;
  ASSERT_TRUE(proc::PollUntil(
      [&] {
        a = QueryApi(a_, "concurrency_panic");
        b = QueryApi(b_, "concurrency_panic");
        return !a.is_null() && a["sampledAt"] == b["sampledAt"];
      },
      absl::Seconds(10)));
  ASSERT_FALSE(b["pods"].empty());
  EXPECT_EQ(a, b);
  std::ifstream in(b_->work_dir() + "/adapter.log");
  const std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(absl::StrContains(log, "panic windows filled from Prometheus")) << log;
  // And from then on, every answer of one evaluation time.
  CompareQueryApiAnswersFor(CompareDuration() / 2);
}

}  // namespace
}  // namespace aa
