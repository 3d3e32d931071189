#include "http/readiness.h"

#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/fake_apiserver.h"
#include "kube/pod_watch.h"
#include "pipeline/sampler.h"
#include "pipeline/view.h"
#include "prometheus/registry.h"
#include "queryapi/query_api.h"
#include "testutil/fake_prometheus.h"

namespace aa::http {
namespace {

using ::aa::testing::FakePrometheus;
using queryapi::QueryApi;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::Duration kWait = absl::Seconds(10);

config::Config TestConfig() {
  config::Config c;
  c.sampling.interval = absl::Seconds(5);
  c.sampling.max_age = absl::Seconds(30);
  c.pod_labels.enabled = false;
  config::MetricDefinition conc;
  conc.name = "concurrency";
  conc.query = "conc{<<.LabelMatchers>>}";
  conc.target = 70;
  c.metrics = {conc};
  return c;
}

net::HttpResponse Get(const QueryApi& api, const std::string& path, bool verbose = false) {
  net::HttpRequest r;
  r.method = "GET";
  r.path = path;
  if (verbose) r.params.emplace("verbose", "");
  return api.Handle(r);
}

// The adapter's wiring (adapter_main.cc): the sampler's check and the pod watch's.
class ReadinessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    prom_.AnswerOtherwise({});  // reachable, but no series (the workload has no data yet)
    auto server = kube::testing::FakeApiServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    apiserver_ = *std::move(server);
    auto client = kube::Client::Create(apiserver_->ClientConfigFor(""));
    ASSERT_TRUE(client.ok()) << client.status();
    kube_ = *std::move(client);
  }

  void StartAll(config::Config config) {
    kube::PodWatchOptions options;
    options.jitter = 0;
    // Far beyond the sampler's 5 s rounds, which advance the shared clock: the watch relists only
    // when the test advances past its backoff.
    options.initial_backoff = absl::Hours(1);
    options.max_backoff = absl::Hours(1);
    pod_watch_ = std::make_unique<kube::PodWatch>(*kube_, clock_, options);
    sampler_ = std::make_unique<pipeline::Sampler>(std::move(config), prom_, clock_, nullptr);
    sampler_->SetPodLabelSource(nullptr);
    AddSamplerCheck(*sampler_, readiness_);
    readiness_.Add("pod-watch", [this] { return pod_watch_->SyncStatus(); });
    api_ = std::make_unique<QueryApi>(pipeline::View(*sampler_), registry_, clock_, &readiness_);
    pod_watch_->Start();
    sampler_->Start();
  }

  void TearDown() override {
    if (sampler_) sampler_->Stop();
    if (pod_watch_) pod_watch_->Stop();
  }

  void NextSamplerRound() {
    uint64_t gen = sampler_->snapshot()->generation;
    clock_.Advance(absl::Seconds(5));
    sampler_->Wake();
    ASSERT_TRUE(sampler_->WaitForGeneration(gen + 1, kWait));
  }

  FakePrometheus prom_;
  SimulatedClock clock_;
  prometheus::Registry registry_;
  std::unique_ptr<kube::testing::FakeApiServer> apiserver_;
  std::unique_ptr<kube::Client> kube_;
  std::unique_ptr<kube::PodWatch> pod_watch_;
  std::unique_ptr<pipeline::Sampler> sampler_;
  Readiness readiness_;
  std::unique_ptr<QueryApi> api_;
};

TEST_F(ReadinessTest, NotReadyUntilPrometheusAnsweredAndThePodWatchListed) {
  prom_.SetDown(true);
  apiserver_->FailNext("GET", "/api/v1/pods", 503);  // the first list fails, then a 1 h backoff
  StartAll(TestConfig());
  ASSERT_TRUE(sampler_->WaitForGeneration(1, kWait));
  ASSERT_TRUE(
      pod_watch_->WaitFor([](const kube::PodWatch::Stats& s) { return s.list_failures == 1; }));

  net::HttpResponse r = Get(*api_, "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(r.body, HasSubstr("[-]prometheus failed: waiting for the first successful query to "
                                "Prometheus (last error: connection refused)\n"));
  EXPECT_THAT(r.body, HasSubstr("[-]pod-watch failed: waiting for the first list of pods from the "
                                "Kubernetes API (last error: "));
  EXPECT_THAT(r.body, HasSubstr("HTTP 503"));
  EXPECT_TRUE(absl::EndsWith(r.body, "readyz check failed\n")) << r.body;
  EXPECT_EQ(Get(*api_, "/readyz/pod-watch").status, 503);
  EXPECT_EQ(Get(*api_, "/readyz/no-such-check").status, 404);
  EXPECT_EQ(Get(*api_, "/livez").status, 200);  // liveness does not wait
  EXPECT_EQ(Get(*api_, "/healthz").status, 200);
  EXPECT_FALSE(readiness_.Status().ok());

  // Prometheus answers (with no series at all: that is the workload's state, not ours).
  prom_.SetDown(false);
  NextSamplerRound();
  r = Get(*api_, "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(r.body, HasSubstr("[+]prometheus ok\n"));
  EXPECT_THAT(r.body, HasSubstr("[-]pod-watch failed"));
  EXPECT_EQ(Get(*api_, "/readyz/prometheus").status, 200);

  // The pod watch lists after its backoff.
  ASSERT_TRUE(pod_watch_->WaitFor(
      [](const kube::PodWatch::Stats& s) { return s.backoff_until != absl::InfinitePast(); }));
  clock_.Advance(absl::Hours(1));
  pod_watch_->Wake();
  ASSERT_TRUE(pod_watch_->WaitFor([](const kube::PodWatch::Stats& s) { return s.lists == 1; }))
      << pod_watch_->stats().last_error << " " << pod_watch_->stats().list_failures;
  r = Get(*api_, "/readyz");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "ok");
  r = Get(*api_, "/readyz", /*verbose=*/true);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "[+]prometheus ok\n[+]pod-watch ok\nreadyz check passed\n");
  EXPECT_TRUE(readiness_.Status().ok());
}

TEST_F(ReadinessTest, WarmMetricsWithoutSeriesAreReady) {
  config::Config config = TestConfig();
  config.sampling.warm_namespaces = {"ns"};
  StartAll(std::move(config));
  ASSERT_TRUE(sampler_->WaitForGeneration(1, kWait));
  ASSERT_TRUE(pod_watch_->WaitFor([](const kube::PodWatch::Stats& s) { return s.lists == 1; }));
  net::HttpResponse r = Get(*api_, "/readyz", /*verbose=*/true);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, Not(HasSubstr("[-]")));
}

TEST_F(ReadinessTest, WarmMetricNotYetQueriedNamesTheMetric) {
  prom_.SetDown(true);
  config::Config config = TestConfig();
  config.sampling.warm_namespaces = {"ns"};
  StartAll(std::move(config));
  ASSERT_TRUE(sampler_->WaitForGeneration(1, kWait));
  net::HttpResponse r = Get(*api_, "/readyz/prometheus");
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(r.body, HasSubstr("waiting for the first successful query of metric concurrency"));
}

}  // namespace
}  // namespace aa::http
