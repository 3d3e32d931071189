#include "queryapi/query_api.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http/process_metrics.h"
#include "nlohmann/json.hpp"
#include "pipeline/sampler_fixture.h"
#include "pipeline/view.h"
#include "prometheus/registry.h"
#include "testutil/fake_prometheus.h"

namespace aa::queryapi {

using net::HttpRequest;
using net::HttpResponse;
namespace {

using ::aa::testing::FakePrometheus;
using ::aa::testing::PodLabelsRows;
using nlohmann::json;
using ::testing::HasSubstr;

config::Config TestConfig() {
  config::Config c = ::aa::testing::SamplingTestConfig();
  c.sampling.warm_namespaces = {"ns"};
  config::MetricDefinition conc;
  conc.name = "concurrency";
  conc.query = "conc{<<.LabelMatchers>>}";
  conc.target = 70;
  config::MetricDefinition cpu;
  cpu.name = "cpu";
  cpu.query = "usage{<<.LabelMatchers>>}";
  cpu.baseline_query = "requests{<<.LabelMatchers>>}";
  cpu.target_utilization = 50;
  config::MetricDefinition panic = conc;
  panic.name = "concurrency_panic";
  panic.panic = config::PanicConfig{.stable_window = absl::Seconds(120)};  // 12 s panic window
  panic.scaling.max_replicas = 4;
  c.metrics = {conc, cpu, panic};
  return c;
}

class QueryApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    prom_.AnswerPrefix("kube_pod_labels",
                       PodLabelsRows("ns", {{"a-1", "a"}, {"a-2", "a"}, {"b-1", "b"}}));
    prom_.AnswerPrefix("conc", {{{{"namespace", "ns"}, {"pod", "a-1"}}, 35},
                                {{{"namespace", "ns"}, {"pod", "a-2"}}, 105},
                                {{{"namespace", "ns"}, {"pod", "b-1"}}, 7}});
    prom_.AnswerPrefix("usage", {{{{"namespace", "ns"}, {"pod", "b-1"}}, 0.25}});
    prom_.AnswerOtherwise({{{{"namespace", "ns"}, {"pod", "b-1"}}, 1}});
    sampler_ = std::make_unique<pipeline::Sampler>(TestConfig(), prom_, clock_, &registry_);
    api_ = std::make_unique<QueryApi>(pipeline::View(*sampler_), registry_, clock_);
    sampler_->Start();
    ASSERT_TRUE(sampler_->WaitForGeneration(1, absl::Seconds(10)));
  }

  net::HttpResponse Get(const std::string& path,
                        std::multimap<std::string, std::string> params = {},
                        const std::string& method = "GET") {
    net::HttpRequest r;
    r.method = method;
    r.path = path;
    r.params = std::move(params);
    return api_->Handle(r);
  }

  FakePrometheus prom_;
  SimulatedClock clock_;
  prometheus::Registry registry_;
  std::unique_ptr<pipeline::Sampler> sampler_;
  std::unique_ptr<QueryApi> api_;
};

TEST_F(QueryApiTest, PerPodValuesTotalsAndUtilization) {
  net::HttpResponse r = Get("/api/v1/namespaces/ns/metrics/concurrency");
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["metric"], "concurrency");
  EXPECT_EQ(j["podCount"], 3);
  EXPECT_EQ(j["total"], 147.0);
  EXPECT_EQ(j["average"], 49.0);
  EXPECT_EQ(j["target"], 70.0);
  EXPECT_DOUBLE_EQ(j["utilizationPercent"].get<double>(), 70.0);
  EXPECT_EQ(j["pods"][0]["pod"], "a-1");
  EXPECT_EQ(j["pods"][0]["value"], 35.0);
  EXPECT_DOUBLE_EQ(j["pods"][0]["utilizationPercent"].get<double>(), 50.0);
  EXPECT_EQ(j["ageSeconds"], 0.0);
  EXPECT_TRUE(absl::EndsWith(j["sampledAt"].get<std::string>(), "Z"));
}

TEST_F(QueryApiTest, WorkloadByInferenceServiceAndSelector) {
  json j = json::parse(
      Get("/api/v1/namespaces/ns/metrics/concurrency", {{"inferenceService", "a"}}).body);
  EXPECT_EQ(j["podCount"], 2);
  EXPECT_EQ(j["total"], 140.0);
  j = json::parse(Get("/api/v1/namespaces/ns/metrics/concurrency",
                      {{"labelSelector", "serving.kserve.io/inferenceservice in (b)"}})
                      .body);
  EXPECT_EQ(j["podCount"], 1);
  j = json::parse(
      Get("/api/v1/namespaces/ns/metrics/concurrency", {{"pod", "a-2"}, {"target", "100"}}).body);
  EXPECT_EQ(j["podCount"], 1);
  EXPECT_DOUBLE_EQ(j["utilizationPercent"].get<double>(), 105.0);
}

// fieldSelector picks pods by metadata.name and metadata.namespace, as metrics.k8s.io does.
TEST_F(QueryApiTest, FieldSelectorPicksPods) {
  json j = json::parse(
      Get("/api/v1/namespaces/ns/metrics/concurrency", {{"fieldSelector", "metadata.name!=a-2"}})
          .body);
  EXPECT_EQ(j["podCount"], 2);
  EXPECT_EQ(j["total"], 42.0);
  j = json::parse(
      Get("/api/v1/namespaces/ns/metrics/concurrency",
          {{"fieldSelector", "metadata.namespace=ns,metadata.name=b-1"}, {"inferenceService", "b"}})
          .body);
  EXPECT_EQ(j["podCount"], 1);
  EXPECT_EQ(j["pods"][0]["pod"], "b-1");
  net::HttpResponse r = Get("/api/v1/namespaces/ns/metrics/concurrency",
                            {{"fieldSelector", "metadata.namespace=other"}});
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_THAT(r.body, HasSubstr("with fields metadata.namespace=other"));
  r = Get("/api/v1/namespaces/ns/metrics/concurrency", {{"fieldSelector", "spec.nodeName=n"}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(json::parse(r.body)["error"]["message"],
            "\"spec.nodeName\" is not a known field selector: only \"metadata.name\", "
            "\"metadata.namespace\"");
  r = Get("/api/v1/namespaces/ns/metrics/concurrency/scaling",
          {{"fieldSelector", "metadata.name=a-1"}});
  ASSERT_EQ(r.status, 200) << r.body;
}

TEST_F(QueryApiTest, BaselineUtilization) {
  json j = json::parse(Get("/api/v1/namespaces/ns/metrics/cpu").body);
  EXPECT_EQ(j["baselineTotal"], 1.0);
  EXPECT_DOUBLE_EQ(j["utilizationPercent"].get<double>(), 25.0);
  EXPECT_EQ(j["targetUtilization"], 50.0);
}

TEST_F(QueryApiTest, BadParametersAre400) {
  for (auto params :
       std::vector<std::multimap<std::string, std::string>>{{{"target", "abc"}},
                                                            {{"target", "-1"}},
                                                            {{"target", "nan"}},
                                                            {{"targetUtilization", "inf"}},
                                                            {{"labelSelector", "x=a||y=b"}},
                                                            {{"inferenceService", "bad name!"}},
                                                            {{"bogus", "1"}}}) {
    net::HttpResponse r = Get("/api/v1/namespaces/ns/metrics/concurrency", params);
    EXPECT_EQ(r.status, 400) << params.begin()->first << " " << r.body;
    json j = json::parse(r.body);
    EXPECT_EQ(j["error"]["reason"], "BadRequest");
    EXPECT_FALSE(j["error"]["message"].get<std::string>().empty());
  }
  EXPECT_EQ(Get("/api/v1/namespaces/Bad_NS/metrics/concurrency").status, 400);
}

TEST_F(QueryApiTest, UnknownMetricPathOrPodIs404AndWrongMethod405) {
  net::HttpResponse r = Get("/api/v1/namespaces/ns/metrics/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.body, HasSubstr("unknown metric"));
  EXPECT_EQ(Get("/api/v2/whatever").status, 404);
  r = Get("/api/v1/namespaces/ns/metrics/concurrency", {{"pod", "zzz"}});
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.body, HasSubstr("no value for pod zzz"));
  r = Get("/api/v1/namespaces/ns/metrics/concurrency", {}, "POST");
  EXPECT_EQ(r.status, 405);
}

TEST_F(QueryApiTest, StaleDataIs503WithTheReason) {
  prom_.SetDown(true);
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(::aa::testing::NextSamplerRound(*sampler_, clock_));
  }
  net::HttpResponse r = Get("/api/v1/namespaces/ns/metrics/concurrency");
  EXPECT_EQ(r.status, 503);
  json j = json::parse(r.body);
  EXPECT_EQ(j["error"]["reason"], "ServiceUnavailable");
  EXPECT_THAT(j["error"]["message"].get<std::string>(), HasSubstr("connection refused"));
}

TEST_F(QueryApiTest, ListsDefinitionsAndHealth) {
  json j = json::parse(Get("/api/v1/metrics").body);
  ASSERT_EQ(j["metrics"].size(), 3u);
  EXPECT_EQ(j["metrics"][1]["name"], "cpu");
  EXPECT_EQ(j["metrics"][1]["baselineQuery"], "requests{<<.LabelMatchers>>}");
  EXPECT_EQ(Get("/healthz").status, 200);
  EXPECT_EQ(Get("/livez").status, 200);
  EXPECT_EQ(Get("/readyz").status, 200);
}

TEST_F(QueryApiTest, PanicAwareMetricShowsItsWindows) {
  net::HttpResponse r =
      Get("/api/v1/namespaces/ns/metrics/concurrency_panic", {{"inferenceService", "a"}});
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["pods"][1]["window"]["sampled"], 105.0);
  EXPECT_EQ(j["pods"][1]["window"]["stable"], 105.0);
  EXPECT_EQ(j["pods"][1]["window"]["panic"], 105.0);
  EXPECT_EQ(j["pods"][1]["window"]["workload"], "a");
  EXPECT_EQ(j["panic"]["stableWindowSeconds"], 120.0);
  EXPECT_EQ(j["panic"]["panicWindowSeconds"], 12.0);
  ASSERT_EQ(j["panic"]["workloads"].size(), 1u);
  EXPECT_EQ(j["panic"]["workloads"][0]["workload"], "a");
  EXPECT_EQ(j["panic"]["workloads"][0]["inPanic"], false);
  EXPECT_EQ(j["panic"]["workloads"][0]["panicTotal"], 140.0);
  // The plain metric has no windows.
  j = json::parse(Get("/api/v1/namespaces/ns/metrics/concurrency").body);
  EXPECT_FALSE(j.contains("panic"));
  EXPECT_FALSE(j["pods"][0].contains("window"));
}

TEST_F(QueryApiTest, ScalingPredictsHpaAndKpa) {
  const std::string path = "/api/v1/namespaces/ns/metrics/concurrency/scaling";
  // InferenceService a: 2 pods averaging 70 against a target of 20 -> 3.5 x 2 = 7. The HPA's next
  // sync may add 4 (KServe's default policies), it settles at 7; the KPA panics (7 / 2 >= 2).
  net::HttpResponse r = Get(path, {{"inferenceService", "a"}, {"target", "20"}});
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["workload"]["inferenceService"], "a");
  EXPECT_EQ(j["currentReplicas"], 2);
  EXPECT_EQ(j["average"], 70.0);
  EXPECT_DOUBLE_EQ(j["utilizationPercent"].get<double>(), 350.0);
  EXPECT_EQ(j["hpa"]["metricSource"], "Pods");
  EXPECT_EQ(j["hpa"]["minReplicas"], 1);
  EXPECT_EQ(j["hpa"]["maxReplicas"], 10);
  EXPECT_EQ(j["hpa"]["metricDesiredReplicas"], 7);
  EXPECT_EQ(j["hpa"]["desiredReplicas"], 6);
  EXPECT_EQ(j["hpa"]["scalingLimited"], "ScaleUpLimit");
  EXPECT_EQ(j["hpa"]["settledReplicas"], 7);
  EXPECT_EQ(j["hpa"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"], 300);
  EXPECT_EQ(j["hpa"]["behavior"]["scaleUp"]["policies"][0]["type"], "Pods");
  EXPECT_EQ(j["kpa"]["desiredStable"], 7);
  EXPECT_EQ(j["kpa"]["inPanic"], true);
  EXPECT_EQ(j["kpa"]["desiredReplicas"], 7);
  EXPECT_EQ(j["kpa"]["windowed"], false);
  // Scale-down from a steady state waits for the stabilization window; where it settles is 1.
  j = json::parse(Get(path, {{"inferenceService", "a"}, {"target", "200"}}).body);
  EXPECT_EQ(j["hpa"]["metricDesiredReplicas"], 1);
  EXPECT_EQ(j["hpa"]["desiredReplicas"], 2);
  EXPECT_EQ(j["hpa"]["ableToScale"], "ScaleDownStabilized");
  EXPECT_EQ(j["hpa"]["settledReplicas"], 1);
  EXPECT_EQ(j["kpa"]["desiredReplicas"], 1);  // at most halved: floor(2 / 2) = 1
  // min/max from the request, and the current count.
  j = json::parse(Get(path, {{"inferenceService", "a"},
                             {"target", "20"},
                             {"maxReplicas", "5"},
                             {"currentReplicas", "5"}})
                      .body);
  EXPECT_EQ(j["currentReplicas"], 5);
  EXPECT_EQ(j["hpa"]["maxReplicas"], 5);
  EXPECT_EQ(j["hpa"]["desiredReplicas"], 5);
  EXPECT_EQ(j["kpa"]["desiredReplicas"], 5);
  // The definition's `scaling` applies; the panic-aware metric's KPA uses its windows.
  j = json::parse(Get("/api/v1/namespaces/ns/metrics/concurrency_panic/scaling",
                      {{"inferenceService", "a"}, {"target", "20"}})
                      .body);
  EXPECT_EQ(j["hpa"]["maxReplicas"], 4);
  EXPECT_EQ(j["hpa"]["desiredReplicas"], 4);
  EXPECT_EQ(j["kpa"]["windowed"], true);
  EXPECT_EQ(j["kpa"]["desiredReplicas"], 4);
}

TEST_F(QueryApiTest, ScalingForCpuUsesTheResourcePath) {
  net::HttpResponse r =
      Get("/api/v1/namespaces/ns/metrics/cpu/scaling", {{"inferenceService", "b"}});
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["hpa"]["metricSource"], "Resource");
  EXPECT_EQ(j["hpa"]["utilizationPercent"], 25);
  EXPECT_EQ(j["hpa"]["metricDesiredReplicas"], 1);
  EXPECT_EQ(j["hpa"]["desiredReplicas"], 1);
  EXPECT_TRUE(j["kpa"].is_null());
  // 25 % against a target of 10 %: ceil(2.5 x 1) = 3.
  j = json::parse(Get("/api/v1/namespaces/ns/metrics/cpu/scaling",
                      {{"inferenceService", "b"}, {"targetUtilization", "10"}})
                      .body);
  EXPECT_EQ(j["hpa"]["desiredReplicas"], 3);
}

TEST_F(QueryApiTest, ScalingBadParameters) {
  const std::string path = "/api/v1/namespaces/ns/metrics/concurrency/scaling";
  EXPECT_EQ(Get(path, {{"pod", "a-1"}}).status, 400);
  net::HttpResponse r = Get(path, {{"currentReplicas", "0"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("currentReplicas"));
  EXPECT_EQ(Get(path, {{"maxReplicas", "x"}}).status, 400);
  EXPECT_EQ(Get(path, {{"inferenceService", "nope"}}).status, 404);
  EXPECT_EQ(Get("/api/v1/namespaces/ns/metrics/unknown/scaling").status, 404);
  EXPECT_EQ(Get(path, {}, "POST").status, 405);
}

// The plain-HTTP port's handler: /metrics and health as Handle, the query API nowhere.
TEST_F(QueryApiTest, OperationalHandlerServesNoQueryApi) {
  auto get = [this](const std::string& path) {
    net::HttpRequest r;
    r.method = "GET";
    r.path = path;
    return api_->HandleOperational(r);
  };
  for (const char* path : {"/metrics", "/healthz", "/livez", "/readyz"}) {
    EXPECT_EQ(get(path).status, 200) << path;
  }
  for (const char* path : {"/api/v1/metrics", "/api/v1/namespaces/ns/metrics/concurrency",
                           "/api/v1/namespaces/ns/metrics/concurrency/scaling"}) {
    net::HttpResponse r = get(path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(r.route, "moved");
    json j = json::parse(r.body);
    EXPECT_EQ(j["error"]["reason"], "NotFound");
    EXPECT_THAT(j["error"]["message"].get<std::string>(),
                HasSubstr("the query API is not served on this port"));
    EXPECT_THAT(j["error"]["message"].get<std::string>(), HasSubstr("HTTPS port (--https-listen"));
  }
  net::HttpResponse other = get("/nothing");
  EXPECT_EQ(other.status, 404);
  EXPECT_EQ(other.route, "unknown");
  EXPECT_THAT(other.body, HasSubstr("no such path: /nothing"));
}

TEST_F(QueryApiTest, SelfMetricsExposeSamplerState) {
  net::HttpResponse r = Get("/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(
      r.body,
      HasSubstr(
          "autoscale_adapter_sampler_queries_total{metric=\"concurrency\",outcome=\"success\"}"));
  EXPECT_THAT(r.body, HasSubstr("autoscale_adapter_series_held{metric=\"concurrency\"} 3"));
}

TEST_F(QueryApiTest, SelfMetricsIncludeTheProcessAndBuildInfo) {
  http::RegisterBuildInfo(registry_, "9.9.9", "abcdef012345");
  net::HttpResponse r = Get("/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("autoscale_adapter_build_info{revision=\"abcdef012345\",version="
                                "\"9.9.9\"} 1"));
  for (const char* name : {"process_cpu_seconds_total ", "process_resident_memory_bytes ",
                           "process_virtual_memory_bytes ", "process_open_fds ", "process_max_fds ",
                           "process_start_time_seconds "}) {
    EXPECT_THAT(r.body, HasSubstr(std::string("\n") + name)) << name;
  }
  // The first round (SetUp waited for it) is timed.
  EXPECT_THAT(r.body, HasSubstr("\nautoscale_adapter_sampler_round_duration_seconds_count "));
}

}  // namespace
}  // namespace aa::queryapi
