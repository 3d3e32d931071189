#include "apiserver/server.h"

#include <httplib.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <memory>

#include "absl/strings/match.h"
#include "apiserver/internal/self_signed.h"
#include "apiserver/wire.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "pipeline/sampler_fixture.h"
#include "pipeline/view.h"
#include "prometheus/registry.h"
#include "testutil/fake_prometheus.h"
#include "testutil/temp_dir.h"

namespace aa::apiserver {
namespace {

using ::aa::testing::FakePrometheus;
using ::aa::testing::PodLabelsRows;
using ::aa::testing::VectorOf;
using net::HttpRequest;
using net::HttpResponse;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kCustom2[] = "/apis/custom.metrics.k8s.io/v1beta2";
constexpr char kCustom1[] = "/apis/custom.metrics.k8s.io/v1beta1";
constexpr char kExternal[] = "/apis/external.metrics.k8s.io/v1beta1";
constexpr char kResource[] = "/apis/metrics.k8s.io/v1beta1";

config::Config TestConfig() {
  config::Config c = ::aa::testing::SamplingTestConfig();
  c.sampling.warm_namespaces = {"ns"};
  config::MetricDefinition conc;
  conc.name = "concurrency";
  conc.query = "conc{<<.LabelMatchers>>}";
  conc.target = 70;
  conc.preset.type = "concurrency";
  conc.preset.window = absl::Seconds(30);
  config::MetricDefinition cpu;
  cpu.name = "cpu";
  cpu.query = "usage{<<.LabelMatchers>>}";
  cpu.baseline_query = "requests{<<.LabelMatchers>>}";
  cpu.target_utilization = 50;
  config::MetricDefinition memory;
  memory.name = "memory";
  memory.query = "mem{<<.LabelMatchers>>}";
  c.metrics = {conc, cpu, memory};
  return c;
}

class MetricsApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    prom_.AnswerPrefix("kube_pod_labels",
                       PodLabelsRows("ns", {{"a-1", "a"}, {"a-2", "a"}, {"b-1", "b"}}));
    prom_.AnswerPrefix("conc", {{{{"namespace", "ns"}, {"pod", "a-1"}}, 35},
                                {{{"namespace", "ns"}, {"pod", "a-2"}}, 105.5},
                                {{{"namespace", "ns"}, {"pod", "b-1"}}, 7}});
    prom_.AnswerPrefix("usage", {{{{"namespace", "ns"}, {"pod", "a-1"}}, 0.25},
                                 {{{"namespace", "ns"}, {"pod", "b-1"}}, 1.5}});
    prom_.AnswerPrefix("mem", {{{{"namespace", "ns"}, {"pod", "a-1"}}, 2.0 * 1024 * 1024 * 1024},
                               {{{"namespace", "ns"}, {"pod", "b-1"}}, 1025}});
    prom_.AnswerOtherwise({{{{"namespace", "ns"}, {"pod", "b-1"}}, 1}});
    sampler_ = std::make_unique<pipeline::Sampler>(TestConfig(), prom_, clock_, &registry_);
    sampler_->SetPodLabelSource(&pod_index_);
    api_ = std::make_unique<MetricsApi>(pipeline::View(*sampler_), clock_);
    sampler_->Start();
    ASSERT_TRUE(sampler_->WaitForGeneration(1, absl::Seconds(10)));
  }

  HttpResponse Get(const std::string& path, std::multimap<std::string, std::string> params = {},
                   const std::string& method = "GET") {
    HttpRequest r;
    r.method = method;
    r.path = path;
    r.params = std::move(params);
    return api_->Handle(r);
  }

  // Parses a Status body and checks its shape.
  static json ExpectStatus(const HttpResponse& r, int code, const std::string& reason) {
    EXPECT_EQ(r.status, code) << r.body;
    json j = json::parse(r.body);
    EXPECT_EQ(j["kind"], "Status");
    EXPECT_EQ(j["apiVersion"], "v1");
    EXPECT_EQ(j["status"], "Failure");
    EXPECT_EQ(j["code"], code);
    EXPECT_EQ(j["reason"], reason);
    EXPECT_FALSE(j["message"].get<std::string>().empty());
    return j;
  }

  FakePrometheus prom_;
  SimulatedClock clock_;
  prometheus::Registry registry_;
  ::aa::testing::StalablePodIndex pod_index_;
  std::unique_ptr<pipeline::Sampler> sampler_;
  std::unique_ptr<MetricsApi> api_;
};

TEST_F(MetricsApiTest, DiscoveryListsGroupsVersionsAndExactlyTheMetrics) {
  HttpResponse r = Get("/apis");
  ASSERT_EQ(r.status, 200);
  json j = json::parse(r.body);
  EXPECT_EQ(j["kind"], "APIGroupList");
  ASSERT_EQ(j["groups"].size(), 3u);
  std::set<std::string> names;
  for (const auto& g : j["groups"]) names.insert(g["name"].get<std::string>());
  EXPECT_EQ(names, (std::set<std::string>{"custom.metrics.k8s.io", "external.metrics.k8s.io",
                                          "metrics.k8s.io"}));

  j = json::parse(Get("/apis/custom.metrics.k8s.io").body);
  EXPECT_EQ(j["kind"], "APIGroup");
  EXPECT_EQ(j["name"], "custom.metrics.k8s.io");

  for (const char* v : {kCustom2, kCustom1}) {
    r = Get(v);
    ASSERT_EQ(r.status, 200) << v;
    j = json::parse(r.body);
    EXPECT_EQ(j["kind"], "APIResourceList");
    EXPECT_EQ(j["groupVersion"], std::string(v).substr(6));
    ASSERT_EQ(j["resources"].size(), 6u);
    std::map<std::string, bool> namespaced;
    for (const auto& res : j["resources"]) {
      namespaced[res["name"].get<std::string>()] = res["namespaced"].get<bool>();
      EXPECT_EQ(res["kind"], "MetricValueList");
      EXPECT_EQ(res["verbs"], json::array({"get"}));
    }
    EXPECT_EQ(namespaced, (std::map<std::string, bool>{{"pods/concurrency", true},
                                                       {"pods/cpu", true},
                                                       {"pods/memory", true},
                                                       {"namespaces/concurrency", false},
                                                       {"namespaces/cpu", false},
                                                       {"namespaces/memory", false}}));
  }
  j = json::parse(Get(kExternal).body);
  ASSERT_EQ(j["resources"].size(), 3u);
  EXPECT_EQ(j["resources"][0]["name"], "concurrency");
  EXPECT_EQ(j["resources"][0]["namespaced"], true);
  EXPECT_EQ(j["resources"][0]["kind"], "ExternalMetricValueList");
  j = json::parse(Get(kResource).body);
  ASSERT_EQ(j["resources"].size(), 2u);
  EXPECT_EQ(j["resources"][0]["name"], "nodes");
  EXPECT_EQ(j["resources"][0]["namespaced"], false);
  EXPECT_EQ(j["resources"][1]["name"], "pods");
  EXPECT_EQ(j["resources"][1]["namespaced"], true);
  EXPECT_EQ(j["resources"][1]["verbs"], json::array({"get", "list"}));

  ExpectStatus(Get("/apis/bogus.k8s.io"), 404, "NotFound");
  ExpectStatus(Get("/apis/custom.metrics.k8s.io/v2"), 404, "NotFound");
  ExpectStatus(Get("/apis/metrics.k8s.io/v1beta2"), 404, "NotFound");
  ExpectStatus(Get("/api"), 404, "NotFound");
  ExpectStatus(Get("/api/v1"), 404, "NotFound");
  ExpectStatus(Get("/openapi/v2"), 404, "NotFound");
  ExpectStatus(Get("/openapi/v3"), 404, "NotFound");
}

TEST_F(MetricsApiTest, DiscoveryNeverAnswers503EvenWhenDataIsStale) {
  prom_.SetDown(true);
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(::aa::testing::NextSamplerRound(*sampler_, clock_));
  }
  EXPECT_EQ(Get("/apis").status, 200);
  EXPECT_EQ(Get(kCustom2).status, 200);
  json j = ExpectStatus(Get(std::string(kCustom2) + "/namespaces/ns/pods/*/concurrency"), 503,
                        "ServiceUnavailable");
  EXPECT_THAT(j["message"].get<std::string>(), HasSubstr("connection refused"));
  ExpectStatus(Get(std::string(kExternal) + "/namespaces/ns/concurrency"), 503,
               "ServiceUnavailable");
  ExpectStatus(Get(std::string(kResource) + "/namespaces/ns/pods"), 503, "ServiceUnavailable");
}

TEST_F(MetricsApiTest, CustomPodsWildcardV1beta2) {
  HttpResponse r = Get(std::string(kCustom2) + "/namespaces/ns/pods/*/concurrency");
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["kind"], "MetricValueList");
  EXPECT_EQ(j["apiVersion"], "custom.metrics.k8s.io/v1beta2");
  ASSERT_EQ(j["items"].size(), 3u);
  const json& item = j["items"][1];
  EXPECT_EQ(item["describedObject"]["kind"], "Pod");
  EXPECT_EQ(item["describedObject"]["name"], "a-2");
  EXPECT_EQ(item["describedObject"]["namespace"], "ns");
  EXPECT_EQ(item["describedObject"]["apiVersion"], "v1");
  EXPECT_EQ(item["metric"]["name"], "concurrency");
  EXPECT_EQ(item["windowSeconds"], 30);
  EXPECT_EQ(item["value"], "105500m");
  EXPECT_FALSE(item.contains("metricName"));
  EXPECT_EQ(j["items"][0]["value"], "35");
  EXPECT_TRUE(absl::EndsWith(item["timestamp"].get<std::string>(), "Z"));
}

TEST_F(MetricsApiTest, CustomPodsV1beta1ItemShape) {
  HttpResponse r = Get(std::string(kCustom1) + "/namespaces/ns/pods/*/concurrency");
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["apiVersion"], "custom.metrics.k8s.io/v1beta1");
  ASSERT_EQ(j["items"].size(), 3u);
  EXPECT_EQ(j["items"][2]["metricName"], "concurrency");
  EXPECT_EQ(j["items"][2]["window"], 30);
  EXPECT_EQ(j["items"][2]["value"], "7");
  EXPECT_FALSE(j["items"][2].contains("metric"));
  EXPECT_FALSE(j["items"][2].contains("windowSeconds"));
}

TEST_F(MetricsApiTest, CustomPodsByLabelSelectorAndNamedPod) {
  // As the HttpServer hands it over after decoding "in+%28a%29".
  json j = json::parse(Get(std::string(kCustom2) + "/namespaces/ns/pods/*/concurrency",
                           {{"labelSelector", "serving.kserve.io/inferenceservice in (a)"}})
                           .body);
  ASSERT_EQ(j["items"].size(), 2u);
  EXPECT_EQ(j["items"][0]["describedObject"]["name"], "a-1");
  EXPECT_EQ(j["items"][1]["describedObject"]["name"], "a-2");

  HttpResponse r = Get(std::string(kCustom1) + "/namespaces/ns/pods/b-1/concurrency");
  ASSERT_EQ(r.status, 200);
  j = json::parse(r.body);
  ASSERT_EQ(j["items"].size(), 1u);
  EXPECT_EQ(j["items"][0]["describedObject"]["name"], "b-1");

  j = ExpectStatus(Get(std::string(kCustom2) + "/namespaces/ns/pods/zzz/concurrency"), 404,
                   "NotFound");
  EXPECT_THAT(j["message"].get<std::string>(), HasSubstr("pod zzz"));
  // A selector that matches nothing is an error, never an empty list.
  j = ExpectStatus(Get(std::string(kCustom2) + "/namespaces/ns/pods/*/concurrency",
                       {{"labelSelector", "serving.kserve.io/inferenceservice=zzz"}}),
                   404, "NotFound");
  EXPECT_THAT(j["message"].get<std::string>(), HasSubstr("no metrics returned"));
  // Known namespace format but nothing sampled there: empty table -> 404.
  ExpectStatus(Get(std::string(kCustom2) + "/namespaces/empty/pods/*/concurrency"), 404,
               "NotFound");
}

TEST_F(MetricsApiTest, CustomNamespaceObjectIsTheSum) {
  for (const std::string& path : {std::string(kCustom2) + "/namespaces/ns/metrics/concurrency",
                                  std::string(kCustom2) + "/namespaces/ns/concurrency"}) {
    HttpResponse r = Get(path);
    ASSERT_EQ(r.status, 200) << path << r.body;
    json j = json::parse(r.body);
    ASSERT_EQ(j["items"].size(), 1u);
    EXPECT_EQ(j["items"][0]["describedObject"]["kind"], "Namespace");
    EXPECT_EQ(j["items"][0]["describedObject"]["name"], "ns");
    EXPECT_EQ(j["items"][0]["describedObject"]["apiVersion"], "v1");
    EXPECT_EQ(j["items"][0]["value"], "147500m");
  }
  json j = json::parse(Get(std::string(kCustom1) + "/namespaces/ns/metrics/cpu").body);
  EXPECT_EQ(j["items"][0]["metricName"], "cpu");
  EXPECT_EQ(j["items"][0]["value"], "1750m");
  EXPECT_EQ(j["items"][0]["window"], 60);
}

TEST_F(MetricsApiTest, ExternalIsTheTotalOverSelectedPods) {
  HttpResponse r = Get(std::string(kExternal) + "/namespaces/ns/concurrency",
                       {{"labelSelector", "serving.kserve.io/inferenceservice=a"}});
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["kind"], "ExternalMetricValueList");
  EXPECT_EQ(j["apiVersion"], "external.metrics.k8s.io/v1beta1");
  ASSERT_EQ(j["items"].size(), 1u);
  EXPECT_EQ(j["items"][0]["metricName"], "concurrency");
  EXPECT_EQ(j["items"][0]["metricLabels"], (json{{"serving.kserve.io/inferenceservice", "a"}}));
  EXPECT_EQ(j["items"][0]["window"], 30);
  EXPECT_EQ(j["items"][0]["value"], "140500m");

  j = json::parse(Get(std::string(kExternal) + "/namespaces/ns/concurrency").body);
  EXPECT_EQ(j["items"][0]["value"], "147500m");
  ExpectStatus(Get(std::string(kExternal) + "/namespaces/ns/concurrency",
                   {{"labelSelector", "serving.kserve.io/inferenceservice=zzz"}}),
               404, "NotFound");
  ExpectStatus(Get(std::string(kExternal) + "/namespaces/ns/nope"), 404, "NotFound");
}

TEST_F(MetricsApiTest, ResourcePodMetrics) {
  HttpResponse r = Get(std::string(kResource) + "/namespaces/ns/pods");
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["kind"], "PodMetricsList");
  EXPECT_EQ(j["apiVersion"], "metrics.k8s.io/v1beta1");
  ASSERT_EQ(j["items"].size(), 2u);
  const json& a = j["items"][0];
  EXPECT_EQ(a["metadata"]["name"], "a-1");
  EXPECT_EQ(a["metadata"]["namespace"], "ns");
  EXPECT_EQ(a["metadata"]["labels"]["serving_kserve_io_inferenceservice"], "a");
  EXPECT_EQ(a["window"], "1m0s");
  // As metrics-server: the time the response was built, from the injected clock.
  EXPECT_EQ(a["metadata"]["creationTimestamp"], Rfc3339(clock_.Now()));
  EXPECT_EQ(j["items"][1]["metadata"]["creationTimestamp"], Rfc3339(clock_.Now()));
  ASSERT_EQ(a["containers"].size(), 1u);
  EXPECT_EQ(a["containers"][0]["name"], "kserve-container");
  EXPECT_EQ(a["containers"][0]["usage"]["cpu"], "250m");
  EXPECT_EQ(a["containers"][0]["usage"]["memory"], "2Gi");
  EXPECT_EQ(j["items"][1]["containers"][0]["usage"]["memory"], "1025");

  j = json::parse(Get(std::string(kResource) + "/namespaces/ns/pods",
                      {{"labelSelector", "serving.kserve.io/inferenceservice=b"}})
                      .body);
  ASSERT_EQ(j["items"].size(), 1u);
  EXPECT_EQ(j["items"][0]["metadata"]["name"], "b-1");

  r = Get(std::string(kResource) + "/namespaces/ns/pods/b-1");
  ASSERT_EQ(r.status, 200) << r.body;
  j = json::parse(r.body);
  EXPECT_EQ(j["kind"], "PodMetrics");
  EXPECT_EQ(j["metadata"]["name"], "b-1");
  clock_.Advance(absl::Seconds(1));
  j = json::parse(Get(std::string(kResource) + "/namespaces/ns/pods/b-1").body);
  EXPECT_EQ(j["metadata"]["creationTimestamp"], Rfc3339(clock_.Now()));
  EXPECT_EQ(j["containers"][0]["usage"]["cpu"], "1500m");
  ExpectStatus(Get(std::string(kResource) + "/namespaces/ns/pods/zzz"), 404, "NotFound");

  j = json::parse(Get(std::string(kResource) + "/pods").body);
  EXPECT_EQ(j["kind"], "PodMetricsList");
  EXPECT_EQ(j["items"].size(), 2u);
  j = json::parse(Get(std::string(kResource) + "/nodes").body);
  EXPECT_EQ(j["kind"], "NodeMetricsList");
  EXPECT_EQ(j["items"].size(), 0u);
}

// The PodMetrics window is the real span of the samples behind the value (span_query), never more
// than the configured window: a pod younger than the window reports less (so the HPA's CPU
// readiness rule counts its sample sooner, as with metrics-server); unknown spans report the
// configured window.
TEST(MetricsApiSpanTest, PodMetricsWindowIsTheSamplesSpanAtMostTheWindow) {
  FakePrometheus prom;
  prom.AnswerPrefix("kube_pod_labels",
                    PodLabelsRows("ns", {{"a-1", "a"}, {"a-2", "a"}, {"b-1", "b"}}));
  prom.AnswerPrefix("usage", {{{{"namespace", "ns"}, {"pod", "a-1"}}, 0.25},
                              {{{"namespace", "ns"}, {"pod", "a-2"}}, 0.5},
                              {{{"namespace", "ns"}, {"pod", "b-1"}}, 1.5}});
  // a-1 started 4.5 s ago; a-2's oldest sample is a subquery step before the window; b-1 has none.
  prom.AnswerPrefix("span", {{{{"namespace", "ns"}, {"pod", "a-1"}}, 4.5},
                             {{{"namespace", "ns"}, {"pod", "a-2"}}, 15.8}});
  prom.AnswerOtherwise({});
  config::Config c = ::aa::testing::SamplingTestConfig();
  c.sampling.warm_namespaces = {"ns"};
  config::MetricDefinition cpu;
  cpu.name = "cpu";
  cpu.query = "usage{<<.LabelMatchers>>}";
  cpu.span_query = "span{<<.LabelMatchers>>}";
  cpu.preset.window = absl::Seconds(15);
  c.metrics = {cpu};
  SimulatedClock clock;
  prometheus::Registry registry;
  ::aa::testing::StalablePodIndex pod_index;
  pipeline::Sampler sampler(c, prom, clock, &registry);
  sampler.SetPodLabelSource(&pod_index);
  MetricsApi api(pipeline::View(sampler), clock);
  sampler.Start();
  ASSERT_TRUE(sampler.WaitForGeneration(1, absl::Seconds(10)));
  HttpRequest r;
  r.method = "GET";
  r.path = std::string(kResource) + "/namespaces/ns/pods";
  HttpResponse resp = api.Handle(r);
  ASSERT_EQ(resp.status, 200) << resp.body;
  json j = json::parse(resp.body);
  ASSERT_EQ(j["items"].size(), 3u);
  EXPECT_EQ(j["items"][0]["metadata"]["name"], "a-1");
  EXPECT_EQ(j["items"][0]["window"], "4.5s");
  EXPECT_EQ(j["items"][1]["window"], "15s");  // capped at the window
  EXPECT_EQ(j["items"][2]["window"], "15s");  // span unknown: the configured window
}

// Every namespace (kubectl top pod -A) from one whole-cluster read, namespaces nobody asked for
// included, ordered by namespace then name as metrics-server orders them; fieldSelector as
// metrics-server answers it.
TEST_F(MetricsApiTest, ResourcePodsOfEveryNamespaceAndFieldSelectors) {
  // "ns-2/x-1" sorts before "ns/a-1" as a string; metrics-server's order puts ns first.
  prom_.AnswerPrefix("usage", {{{{"namespace", "ns"}, {"pod", "a-1"}}, 0.25},
                               {{{"namespace", "ns"}, {"pod", "b-1"}}, 1.5},
                               {{{"namespace", "ns-2"}, {"pod", "x-1"}}, 0.5},
                               {{{"namespace", "zz"}, {"pod", "z-1"}}, 2}});
  prom_.AnswerPrefix("mem", {{{{"namespace", "ns"}, {"pod", "a-1"}}, 1024},
                             {{{"namespace", "ns"}, {"pod", "b-1"}}, 1025},
                             {{{"namespace", "ns-2"}, {"pod", "x-1"}}, 2048},
                             {{{"namespace", "zz"}, {"pod", "z-1"}}, 4096}});
  auto names = [&](std::multimap<std::string, std::string> params) {
    HttpResponse r = Get(std::string(kResource) + "/pods", std::move(params));
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<std::string> out;
    const json list = json::parse(r.body);
    for (const json& item : list["items"]) {
      out.push_back(absl::StrCat(item["metadata"]["namespace"].get<std::string>(), "/",
                                 item["metadata"]["name"].get<std::string>()));
    }
    return out;
  };
  EXPECT_THAT(names({}), ElementsAre("ns/a-1", "ns/b-1", "ns-2/x-1", "zz/z-1"));
  // No namespace became demand beyond the warm one.
  EXPECT_EQ(sampler_->demanded_namespaces(), 1u);
  EXPECT_THAT(names({{"fieldSelector", "metadata.namespace=zz"}}), ElementsAre("zz/z-1"));
  EXPECT_THAT(names({{"fieldSelector", "metadata.namespace!=ns"}}),
              ElementsAre("ns-2/x-1", "zz/z-1"));
  EXPECT_THAT(names({{"fieldSelector", "metadata.name==x-1"}}), ElementsAre("ns-2/x-1"));
  EXPECT_THAT(names({{"fieldSelector", "metadata.name!=a-1,metadata.namespace=ns"}}),
              ElementsAre("ns/b-1"));
  EXPECT_THAT(names({{"labelSelector", "serving.kserve.io/inferenceservice=a"}}),
              ElementsAre("ns/a-1"));
  HttpResponse r =
      Get(std::string(kResource) + "/namespaces/ns/pods", {{"fieldSelector", "metadata.name=b-1"}});
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(json::parse(r.body)["items"].size(), 1u);
  EXPECT_EQ(json::parse(r.body)["items"][0]["containers"][0]["usage"]["cpu"], "1500m");

  const std::string unknown =
      R"("spec.nodeName" is not a known field selector: only "metadata.name", )"
      R"("metadata.namespace")";
  for (const std::string path : {"/pods", "/namespaces/ns/pods", "/nodes"}) {
    json j =
        ExpectStatus(Get(std::string(kResource) + path, {{"fieldSelector", "spec.nodeName=n"}}),
                     400, "BadRequest");
    EXPECT_EQ(j["message"], unknown) << path;
    j = ExpectStatus(Get(std::string(kResource) + path, {{"fieldSelector", "metadata.name"}}), 400,
                     "BadRequest");
    EXPECT_EQ(j["message"], "invalid selector: 'metadata.name'; can't understand 'metadata.name'");
  }
}

// A stale pod index (the pod watch failed for too long): what picks pods by labels is 503 with the
// reason; what does not is served.
TEST_F(MetricsApiTest, StalePodIndexMakesLabelSelectionsOfPodsUnavailable) {
  const std::multimap<std::string, std::string> by_labels = {
      {"labelSelector", "serving.kserve.io/inferenceservice=b"}};
  ASSERT_EQ(Get(std::string(kResource) + "/namespaces/ns/pods", by_labels).status, 200);
  pod_index_.Set(absl::UnavailableError("the pod index is stale: since T"));
  for (const std::string& path :
       {std::string(kResource) + "/namespaces/ns/pods", std::string(kResource) + "/pods",
        std::string(kCustom2) + "/namespaces/ns/pods/*/concurrency",
        std::string(kExternal) + "/namespaces/ns/concurrency"}) {
    json j = ExpectStatus(Get(path, by_labels), 503, "ServiceUnavailable");
    EXPECT_THAT(j["message"].get<std::string>(),
                HasSubstr("pods are selected by their labels from the Kubernetes pod watch: the "
                          "pod index is stale: since T"))
        << path;
  }
  EXPECT_EQ(Get(std::string(kResource) + "/namespaces/ns/pods").status, 200);
  EXPECT_EQ(Get(std::string(kCustom2) + "/namespaces/ns/pods/*/concurrency").status, 200);
  EXPECT_EQ(Get(std::string(kCustom2) + "/namespaces/ns/pods/a-1/concurrency").status, 200);
  pod_index_.Set(absl::OkStatus());
  EXPECT_EQ(Get(std::string(kResource) + "/namespaces/ns/pods", by_labels).status, 200);
}

TEST_F(MetricsApiTest, MetricLabelSelectorFiltersSeriesInTheQueryWithItsOwnCachedSlot) {
  const std::string pods = std::string(kCustom2) + "/namespaces/ns/pods/*/concurrency";
  HttpResponse r = Get(pods, {{"metricLabelSelector", "response_code=200,path in (v2,v1)"}});
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  ASSERT_FALSE(j["items"].empty());
  EXPECT_EQ(j["items"][0]["metric"]["selector"],
            json::parse(R"({"matchLabels":{"response_code":"200"},
                            "matchExpressions":[{"key":"path","operator":"In","values":["v1","v2"]}]})"));
  std::vector<std::string> queries = prom_.queries();
  // The selector's matchers come first in <<.LabelMatchers>>, values escaped and regex-quoted.
  EXPECT_TRUE(std::count(queries.begin(), queries.end(),
                         "conc{path=~\"v1|v2\",response_code=\"200\",namespace=\"ns\"}") == 1)
      << ::testing::PrintToString(queries);
  // Cached: the same selector again costs Prometheus nothing until the next round.
  size_t count = prom_.query_count();
  ASSERT_EQ(Get(pods, {{"metricLabelSelector", "path in (v1,v2),response_code=200"}}).status, 200);
  EXPECT_EQ(prom_.query_count(), count);
  // v1beta1 carries it at the item's top level; != becomes NotIn.
  r = Get(std::string(kCustom1) + "/namespaces/ns/pods/a-1/concurrency",
          {{"metricLabelSelector", "code!=500,!debug"}});
  ASSERT_EQ(r.status, 200) << r.body;
  j = json::parse(r.body);
  EXPECT_EQ(j["items"][0]["selector"],
            json::parse(R"({"matchExpressions":[{"key":"code","operator":"NotIn","values":["500"]},
                                                {"key":"debug","operator":"DoesNotExist"}]})"));
  EXPECT_EQ(prom_.queries().back(), "conc{code!=\"500\",debug=\"\",namespace=\"ns\"}");
  // Without a selector: the plain slot, selector null.
  j = json::parse(Get(pods).body);
  EXPECT_TRUE(j["items"][0]["metric"]["selector"].is_null());
}

TEST_F(MetricsApiTest, BadRequestsGetTheRightStatus) {
  const std::string pods = std::string(kCustom2) + "/namespaces/ns/pods/*/concurrency";
  ExpectStatus(Get(pods, {{"labelSelector", "x=a||y=b"}}), 400, "BadRequest");
  ExpectStatus(Get(pods, {{"metricLabelSelector", "queue>1"}}), 400, "BadRequest");
  // Label keys must be Prometheus label names to filter series.
  json bad = ExpectStatus(Get(pods, {{"metricLabelSelector", "app.kubernetes.io/name=x"}}), 400,
                          "BadRequest");
  EXPECT_THAT(bad["message"].get<std::string>(), HasSubstr("app.kubernetes.io/name"));
  ExpectStatus(Get(pods, {{"metricLabelSelector", "(("}}), 400, "BadRequest");
  EXPECT_EQ(Get(pods, {{"metricLabelSelector", ""}}).status, 200);
  ExpectStatus(Get(std::string(kCustom2) + "/namespaces/Bad_NS/pods/*/concurrency"), 400,
               "BadRequest");
  ExpectStatus(Get(std::string(kCustom2) + "/namespaces/ns/pods/*/bad metric!"), 400, "BadRequest");
  ExpectStatus(Get(std::string(kCustom2) + "/namespaces/ns/pods/*"), 400, "BadRequest");
  ExpectStatus(Get(std::string(kCustom2) + "/namespaces//pods/*/concurrency"), 400, "BadRequest");
  ExpectStatus(Get(std::string(kExternal) + "/namespaces/ns/concurrency",
                   {{"labelSelector", "a in (xyz abc)"}}),
               400, "BadRequest");
  ExpectStatus(Get(std::string(kExternal) + "/ns/concurrency"), 400, "BadRequest");
  ExpectStatus(Get(std::string(kResource) + "/namespaces/ns/pods", {{"labelSelector", "(("}}), 400,
               "BadRequest");
  ExpectStatus(Get(std::string(kCustom2) + "/namespaces/ns/pods/*/nope"), 404, "NotFound");
  ExpectStatus(Get(std::string(kCustom2) + "/namespaces/ns/services/web/concurrency"), 404,
               "NotFound");
  HttpResponse r = Get(pods, {}, "POST");
  ExpectStatus(r, 405, "MethodNotAllowed");
  ExpectStatus(Get("/apis", {}, "DELETE"), 405, "MethodNotAllowed");
}

TEST_F(MetricsApiTest, HealthWithoutAuthorization) {
  EXPECT_EQ(Get("/healthz").status, 200);
  EXPECT_EQ(Get("/livez").status, 200);
  EXPECT_EQ(Get("/readyz").status, 200);
}

TEST_F(MetricsApiTest, ReadyzAnswersFromTheAdaptersReadinessChecks) {
  http::Readiness readiness;
  http::AddSamplerCheck(*sampler_, readiness);
  readiness.Add("pod-watch", [] { return absl::UnavailableError("waiting for the first list"); });
  MetricsApi api(pipeline::View(*sampler_), clock_, &readiness);
  HttpRequest r;
  r.method = "GET";
  r.path = "/readyz";
  HttpResponse res = api.Handle(r);
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(
      res.body,
      "[+]prometheus ok\n[-]pod-watch failed: waiting for the first list\nreadyz check failed\n");
  r.path = "/livez";
  EXPECT_EQ(api.Handle(r).status, 200);
}

// Through the real HttpServer: the wildcard and the selector arrive percent-encoded, as the
// aggregator sends them.
TEST_F(MetricsApiTest, PercentEncodedWildcardAndPlusThroughTheServer) {
  net::HttpServerOptions options;
  auto server =
      net::StartHttpServer(options, [this](const HttpRequest& r) { return api_->Handle(r); });
  ASSERT_TRUE(server.ok()) << server.status();
  httplib::Client client("127.0.0.1", (*server)->port());
  client.set_url_encode(false);
  auto res = client.Get(
      "/apis/custom.metrics.k8s.io/v1beta2/namespaces/ns/pods/%2A/concurrency"
      "?labelSelector=serving.kserve.io%2Finferenceservice+in+%28a%2Cb%29");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  ASSERT_EQ(res->status, 200) << res->body;
  json j = json::parse(res->body);
  EXPECT_EQ(j["items"].size(), 3u);
  res = client.Get(
      "/apis/external.metrics.k8s.io/v1beta1/namespaces/ns/concurrency"
      "?labelSelector=serving.kserve.io%2Finferenceservice%3Db");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(json::parse(res->body)["items"][0]["value"], "7");
  client.stop();
  (*server)->Stop();
}

// Over TLS, what the server refuses by itself before MetricsApi sees the request (an oversized
// request line or header field, a method HTTP/1.1 does not know) is a metav1.Status like every
// other error, with the right code; and the server goes on serving.
TEST_F(MetricsApiTest, OversizedRequestsAndBadMethodsGetAStatusOverTls) {
  testutil::TempDir dir;
  auto files = WriteSelfSignedCertificate(dir.path(), {"127.0.0.1"}, absl::Now());
  ASSERT_TRUE(files.ok()) << files.status();
  net::HttpServerOptions options;
  options.name = "https";
  options.tls_cert_file = files->cert_file;
  options.tls_key_file = files->key_file;
  options.error_response = StatusResponse;
  options.registry = &registry_;
  auto server =
      net::StartHttpServer(options, [this](const HttpRequest& r) { return api_->Handle(r); });
  ASSERT_TRUE(server.ok()) << server.status();
  httplib::SSLClient client("127.0.0.1", (*server)->port());
  client.enable_server_certificate_verification(false);
  const std::string pods = std::string(kCustom2) + "/namespaces/ns/pods/%2A/concurrency";
  auto expect_status = [](const httplib::Result& res, int code, const std::string& reason) {
    if (!res) {
      ADD_FAILURE() << httplib::to_string(res.error());
      return json();
    }
    EXPECT_EQ(res->status, code) << res->body;
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
    json j = json::parse(res->body, nullptr, /*allow_exceptions=*/false);
    EXPECT_EQ(j.value("kind", ""), "Status") << res->body;
    EXPECT_EQ(j.value("apiVersion", ""), "v1");
    EXPECT_EQ(j.value("status", ""), "Failure");
    EXPECT_EQ(j.value("reason", ""), reason);
    EXPECT_EQ(j.value("code", 0), code);
    return j;
  };
  auto expect_serving = [&] {
    auto res = client.Get(pods.c_str());
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200) << res->body;
    EXPECT_EQ(json::parse(res->body)["items"].size(), 3u);
  };
  expect_serving();

  // A query string over the limit: 414.
  json j = expect_status(client.Get((pods + "?labelSelector=" + std::string(9000, 'a')).c_str()),
                         414, "BadRequest");
  EXPECT_THAT(j.value("message", ""), HasSubstr("8192-byte limit"));
  expect_serving();
  // A header field over the limit: 431, whether it comes first or after others.
  j = expect_status(client.Get(pods.c_str(), {{"X-Big", std::string(9000, 'h')}}), 431,
                    "BadRequest");
  EXPECT_THAT(j.value("message", ""), HasSubstr("request headers exceed the 8192-byte limit"));
  expect_serving();
  httplib::Request big_first;
  big_first.method = "GET";
  big_first.path = pods;
  big_first.headers.emplace("A-Big", std::string(9000, 'h'));
  expect_status(client.send(big_first), 431, "BadRequest");
  expect_serving();
  // Many header fields each under the limit are fine, within the limit of all fields together
  // (32 KiB); past it, 431.
  httplib::Headers many;
  for (int i = 0; i < 20; ++i) many.emplace("X-H" + std::to_string(i), std::string(1000, 'h'));
  auto res = client.Get(pods.c_str(), many);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  for (int i = 20; i < 40; ++i) many.emplace("X-H" + std::to_string(i), std::string(1000, 'h'));
  j = expect_status(client.Get(pods.c_str(), many), 431, "BadRequest");
  EXPECT_THAT(j.value("message", ""), HasSubstr("32768-byte limit of all header fields together"));
  expect_serving();

  // Methods: only GET and HEAD.
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "FOO"}) {
    httplib::Request r;
    r.method = method;
    r.path = pods;
    if (std::string_view(method) != "OPTIONS") r.body = "{}";
    j = expect_status(client.send(r), 405, "MethodNotAllowed");
    EXPECT_THAT(j.value("message", ""), HasSubstr(method));
    expect_serving();
  }
  res = client.Head(pods.c_str());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_TRUE(res->body.empty());
  expect_serving();

  // A Range header never cuts a JSON body.
  res = client.Get(pods.c_str(), {{"Range", "bytes=0-9"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(json::parse(res->body)["items"].size(), 3u);
  client.stop();
  (*server)->Stop();
}

}  // namespace
}  // namespace aa::apiserver

namespace aa::apiserver {
namespace {

// The generated certificate parses, carries the SANs, and serves TLS through the HttpServer.
TEST(SelfSignedCertificate, ServesHttpsWithTheSans) {
  char dir_template[] = "/tmp/apiserver_test.XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  auto files =
      WriteSelfSignedCertificate(dir, {"localhost", "127.0.0.1", "adapter.svc"}, absl::Now());
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(WriteSelfSignedCertificate(dir, {}, absl::Now()).status().code(),
            absl::StatusCode::kInvalidArgument);

  FILE* f = std::fopen(files->cert_file.c_str(), "r");
  ASSERT_NE(f, nullptr);
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(X509_check_host(cert, "adapter.svc", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(cert, "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(cert, "127.0.0.1", 0), 1);
  EXPECT_NE(X509_check_host(cert, "evil.example", 0, 0, nullptr), 1);
  X509_free(cert);
  struct stat st;
  ASSERT_EQ(stat(files->key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  net::HttpServerOptions options;
  options.name = "https";
  options.tls_cert_file = files->cert_file;
  options.tls_key_file = files->key_file;
  auto server = net::StartHttpServer(options, [](const HttpRequest& r) {
    HttpResponse out;
    out.body = r.path;
    return out;
  });
  ASSERT_TRUE(server.ok()) << server.status();
  {
    httplib::SSLClient client("127.0.0.1", (*server)->port());
    client.set_ca_cert_path(files->cert_file.c_str());
    client.enable_server_certificate_verification(true);
    auto res = client.Get("/apis");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->body, "/apis");
  }
  (*server)->Stop();
  unlink(files->cert_file.c_str());
  unlink(files->key_file.c_str());
  rmdir(dir.c_str());
}

}  // namespace
}  // namespace aa::apiserver

namespace aa::apiserver {
namespace {

// A panic-aware concurrency metric: custom.metrics and external.metrics serve the windowed value,
// the stable mean normally and the panic-window mean once a burst puts the workload in panic.
TEST(PanicAwareMetricsApiTest, CustomAndExternalServeThePanicValueDuringABurst) {
  std::atomic<double> per_pod{60};
  FakePrometheus prom;
  prom.SetHandler([&](const std::string& q, absl::Time at) -> absl::StatusOr<prom::QueryResult> {
    if (absl::StartsWith(q, "kube_pod_labels")) {
      return aa::testing::PodLabelsOf("ns", {{"a-1", "a"}, {"a-2", "a"}}, at);
    }
    return VectorOf({{{{"namespace", "ns"}, {"pod", "a-1"}}, per_pod.load()},
                     {{{"namespace", "ns"}, {"pod", "a-2"}}, per_pod.load()}},
                    at);
  });
  config::Config c = ::aa::testing::SamplingTestConfig(absl::Seconds(2));
  c.sampling.warm_namespaces = {"ns"};
  config::MetricDefinition conc;
  conc.name = "concurrency";
  conc.query = "conc{<<.LabelMatchers>>}";
  conc.target = 70;
  conc.panic = config::PanicConfig{};
  c.metrics = {conc};
  SimulatedClock clock;
  prometheus::Registry registry;
  pipeline::Sampler sampler(c, prom, clock, &registry);
  MetricsApi api(pipeline::View(sampler), clock);
  sampler.Start();
  ASSERT_TRUE(sampler.WaitForGeneration(1, absl::Seconds(10)));
  auto round = [&] {
    ASSERT_TRUE(::aa::testing::NextSamplerRound(sampler, clock, absl::Seconds(2)));
  };
  auto get = [&](const std::string& path) {
    HttpRequest r;
    r.method = "GET";
    r.path = path;
    r.params = {{"labelSelector", "serving.kserve.io/inferenceservice=a"}};
    HttpResponse resp = api.Handle(r);
    EXPECT_EQ(resp.status, 200) << resp.body;
    return json::parse(resp.body);
  };
  const std::string custom = std::string(kCustom2) + "/namespaces/ns/pods/*/concurrency";
  const std::string external = std::string(kExternal) + "/namespaces/ns/concurrency";
  for (int i = 0; i < 30; ++i) round();
  EXPECT_EQ(get(custom)["items"][0]["value"], "60");
  EXPECT_EQ(get(external)["items"][0]["value"], "120");
  // 5x burst: after three 2 s rounds the 6 s panic window holds only burst samples, while the 60 s
  // mean is still near 84.
  per_pod = 300;
  for (int i = 0; i < 3; ++i) round();
  EXPECT_EQ(get(custom)["items"][0]["value"], "300");
  EXPECT_EQ(get(external)["items"][0]["value"], "600");
}

}  // namespace
}  // namespace aa::apiserver
