// The Kubernetes APIs over metrics discovered from prometheus-adapter rules: discovery documents
// that follow the metric set, other namespaced objects (services, deployments.apps), cluster-scoped
// objects (nodes, namespaces) and the namespace object, in both custom.metrics versions.

#include <mutex>

#include "absl/strings/match.h"
#include "apiserver/server.h"
#include "apiserver/wire.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "pipeline/discovery.h"
#include "pipeline/object_select.h"
#include "pipeline/sampler_fixture.h"
#include "pipeline/view.h"
#include "selector/selector.h"
#include "testutil/fake_prometheus.h"

namespace aa::apiserver {
namespace {

using ::aa::testing::FakePrometheus;
using ::aa::testing::SeriesOf;
using ::aa::testing::VectorOf;
using net::HttpRequest;
using net::HttpResponse;
using nlohmann::json;
using ::testing::HasSubstr;

constexpr char kCustom2[] = "/apis/custom.metrics.k8s.io/v1beta2";
constexpr char kCustom1[] = "/apis/custom.metrics.k8s.io/v1beta1";
constexpr char kExternal[] = "/apis/external.metrics.k8s.io/v1beta1";

// Objects and their labels by (group resource, namespace), as a Kubernetes API would list them.
class FakeObjects final : public pipeline::ObjectSource {
 public:
  absl::StatusOr<std::vector<std::string>> Select(const pipeline::KubeResource& resource,
                                                  std::string_view ns,
                                                  const selector::Selector& sel) override {
    std::lock_guard lock(mu_);
    ++calls;
    if (!error.ok()) return error;
    std::vector<std::string> out;
    for (const auto& [name, labels] : objects[{resource.GroupResource(), std::string(ns)}]) {
      if (sel.Matches(labels)) out.push_back(name);
    }
    return out;
  }
  std::string Describe(const pipeline::KubeResource&) const override { return "the fake"; }

  std::mutex mu_;
  std::map<std::pair<std::string, std::string>,
           std::map<std::string, std::map<std::string, std::string, std::less<>>>>
      objects;
  absl::Status error;
  int calls = 0;
};

// The message of a Status answer.
std::string Message(const HttpResponse& r) {
  json j = json::parse(r.body, nullptr, false);
  return j.is_object() && j.contains("message") ? j["message"].get<std::string>() : r.body;
}

class RulesApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config::Config c = ::aa::testing::SamplingTestConfig();
    c.pod_labels.enabled = false;
    config::AdapterRule rule;
    rule.path = "rules[0]";
    rule.series_query = "{namespace!=\"\"}";
    rule.resources.label_template = "<<.Resource>>";
    rule.name_matches = "^(.*)_total$";
    rule.name_as = "${1}_per_second";
    rule.metrics_query = "sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)";
    config::AdapterRule nodes = rule;
    nodes.path = "rules[1]";
    nodes.series_query = "node_load";
    nodes.name_matches = ".*";
    nodes.name_as = "";
    nodes.metrics_query = "max(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)";
    config::AdapterRule external;
    external.path = "externalRules[0]";
    external.external = true;
    external.series_query = "queue_depth";
    external.resources.overrides["namespace"] = {"", "namespace"};
    external.metrics_query = "sum(<<.Series>>{<<.LabelMatchers>>}) by (queue)";
    c.rules = {rule, nodes, external};
    prom_.AnswerSeries("node_load", {SeriesOf("node_load", {{"node", "n1"}})});
    prom_.AnswerSeries("queue_depth",
                       {SeriesOf("queue_depth", {{"namespace", "ns"}, {"queue", "jobs"}})});
    prom_.SetSeriesHandler(
        [this](const std::vector<std::string>&) -> absl::StatusOr<std::vector<prom::Labels>> {
          std::vector<prom::Labels> out = {SeriesOf(
              "http_requests_total",
              {{"namespace", "ns"}, {"pod", "p"}, {"service", "web"}, {"deployment", "web"}})};
          if (second_metric_) {
            out.push_back(SeriesOf("errors_total", {{"namespace", "ns"}, {"pod", "p"}}));
          }
          return out;
        });
    prom_.AnswerPrefix("max(node_load", {{{{"node", "n1"}}, 0.5}, {{{"node", "n2"}}, 1.25}});
    prom_.AnswerContaining("by (namespace, service)",
                           {{{{"namespace", "ns"}, {"service", "web"}}, 12.5}});
    prom_.AnswerContaining("by (namespace, deployment)",
                           {{{{"namespace", "ns"}, {"deployment", "web"}}, 20}});
    prom_.AnswerContaining("by (namespace, pod)", {{{{"namespace", "ns"}, {"pod", "p"}}, 3}});
    prom_.AnswerContaining("by (namespace)", {{{{"namespace", "ns"}}, 21}});
    // The external metric's series, filtered by the queue matchers in the query.
    prom_.SetHandler([](const std::string& q, absl::Time at) -> absl::StatusOr<prom::QueryResult> {
      std::vector<std::pair<prom::Labels, double>> rows;
      if (absl::StartsWith(q, "sum(queue_depth")) {
        if (!absl::StrContains(q, "queue=\"mail\"")) rows.push_back({{{"queue", "jobs"}}, 12000});
        if (!absl::StrContains(q, "queue=\"jobs\"")) rows.push_back({{{"queue", "mail"}}, 0.5});
      }
      return VectorOf(rows, at);
    });
    sampler_ = std::make_unique<pipeline::Sampler>(c, prom_, clock_, nullptr);
    discoverer_ = std::make_unique<pipeline::Discoverer>(*sampler_, prom_, clock_);
    objects_.objects[{"deployments.apps", "ns"}] = {{"web", {{"app", "web"}}},
                                                    {"idle", {{"app", "idle"}}}};
    objects_.objects[{"services", "ns"}] = {{"web", {{"app", "web"}}}};
    objects_.objects[{"nodes", ""}] = {{"n1", {{"pool", "cpu"}}}, {"n2", {{"pool", "gpu"}}}};
    objects_.objects[{"namespaces", ""}] = {{"ns", {{"team", "a"}}}, {"empty", {{"team", "a"}}}};
    api_ = std::make_unique<MetricsApi>(pipeline::View(*sampler_, &objects_), clock_);
    discoverer_->RunOnce();
    sampler_->Start();
  }

  HttpResponse Get(const std::string& path) {
    HttpRequest r;
    r.method = "GET";
    r.path = path;
    return api_->Handle(r);
  }

  std::map<std::string, bool> Resources(const std::string& path) {
    HttpResponse r = Get(path);
    EXPECT_EQ(r.status, 200);
    std::map<std::string, bool> out;
    json j = json::parse(r.body);
    for (const auto& res : j["resources"]) {
      out[res["name"].get<std::string>()] = res["namespaced"].get<bool>();
    }
    return out;
  }

  HttpResponse Get(const std::string& path, const std::string& label_selector) {
    HttpRequest r;
    r.method = "GET";
    r.path = path;
    r.params.emplace("labelSelector", label_selector);
    return api_->Handle(r);
  }

  FakePrometheus prom_;
  SimulatedClock clock_;
  FakeObjects objects_;
  bool second_metric_ = false;
  std::unique_ptr<pipeline::Sampler> sampler_;
  std::unique_ptr<pipeline::Discoverer> discoverer_;
  std::unique_ptr<MetricsApi> api_;
};

TEST_F(RulesApiTest, DiscoveryDocumentsFollowTheMetricSet) {
  std::map<std::string, bool> want = {{"pods/http_requests_per_second", true},
                                      {"namespaces/http_requests_per_second", false},
                                      {"services/http_requests_per_second", true},
                                      {"deployments.apps/http_requests_per_second", true},
                                      {"nodes/node_load", false}};
  EXPECT_EQ(Resources(kCustom2), want);
  EXPECT_EQ(Resources(kCustom1), want);
  EXPECT_EQ(Resources(kExternal), (std::map<std::string, bool>{{"queue_depth", true}}));
  second_metric_ = true;
  discoverer_->RunOnce();
  want["pods/errors_per_second"] = true;
  want["namespaces/errors_per_second"] = false;
  EXPECT_EQ(Resources(kCustom2), want);
}

TEST_F(RulesApiTest, NamespacedObjectsByResourceInBothVersions) {
  HttpResponse r =
      Get(std::string(kCustom2) + "/namespaces/ns/deployments.apps/web/http_requests_per_second");
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["kind"], "MetricValueList");
  EXPECT_EQ(j["apiVersion"], "custom.metrics.k8s.io/v1beta2");
  ASSERT_EQ(j["items"].size(), 1u);
  EXPECT_EQ(j["items"][0]["describedObject"], json({{"kind", "Deployment"},
                                                    {"namespace", "ns"},
                                                    {"name", "web"},
                                                    {"apiVersion", "apps/v1"}}));
  EXPECT_EQ(j["items"][0]["metric"]["name"], "http_requests_per_second");
  EXPECT_EQ(j["items"][0]["value"], "20");
  EXPECT_TRUE(j["items"][0].contains("windowSeconds"));

  r = Get(std::string(kCustom1) + "/namespaces/ns/services/*/http_requests_per_second");
  ASSERT_EQ(r.status, 200) << r.body;
  j = json::parse(r.body);
  EXPECT_EQ(j["apiVersion"], "custom.metrics.k8s.io/v1beta1");
  ASSERT_EQ(j["items"].size(), 1u);
  EXPECT_EQ(
      j["items"][0]["describedObject"],
      json({{"kind", "Service"}, {"namespace", "ns"}, {"name", "web"}, {"apiVersion", "v1"}}));
  EXPECT_EQ(j["items"][0]["metricName"], "http_requests_per_second");
  EXPECT_EQ(j["items"][0]["value"], "12500m");
  EXPECT_TRUE(j["items"][0].contains("window"));

  // The pods of a rule metric, and the namespace object from the rule (grouped by namespace).
  r = Get(std::string(kCustom2) + "/namespaces/ns/pods/*/http_requests_per_second");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["items"][0]["value"], "3");
  r = Get(std::string(kCustom2) + "/namespaces/ns/metrics/http_requests_per_second");
  ASSERT_EQ(r.status, 200) << r.body;
  j = json::parse(r.body);
  EXPECT_EQ(j["items"][0]["describedObject"],
            json({{"kind", "Namespace"}, {"name", "ns"}, {"apiVersion", "v1"}}));
  EXPECT_EQ(j["items"][0]["value"], "21");

  // Unknown object, unknown resource for the metric, selector on non-pods.
  EXPECT_EQ(
      Get(std::string(kCustom2) + "/namespaces/ns/services/nope/http_requests_per_second").status,
      404);
  EXPECT_EQ(
      Get(std::string(kCustom2) + "/namespaces/ns/statefulsets.apps/x/http_requests_per_second")
          .status,
      404);
  // Without an object source, labelSelector on other objects is refused.
  MetricsApi no_source(pipeline::View(*sampler_), clock_);
  HttpRequest sel;
  sel.method = "GET";
  sel.path = std::string(kCustom2) + "/namespaces/ns/services/*/http_requests_per_second";
  sel.params.emplace("labelSelector", "app=web");
  HttpResponse bad = no_source.Handle(sel);
  EXPECT_EQ(bad.status, 400);
  EXPECT_THAT(bad.body, HasSubstr("without an object source"));
}

TEST_F(RulesApiTest, LabelSelectorPicksNamespacedObjectsByTheirLabels) {
  const std::string deployments =
      std::string(kCustom2) + "/namespaces/ns/deployments.apps/*/http_requests_per_second";
  HttpResponse r = Get(deployments, "app=web");
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  ASSERT_EQ(j["items"].size(), 1u);
  EXPECT_EQ(j["items"][0]["describedObject"]["name"], "web");
  EXPECT_EQ(j["items"][0]["describedObject"]["kind"], "Deployment");
  EXPECT_EQ(j["items"][0]["value"], "20");
  // v1beta1, services, set-based selector.
  r = Get(std::string(kCustom1) + "/namespaces/ns/services/*/http_requests_per_second",
          "app in (web, x)");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["items"][0]["metricName"], "http_requests_per_second");

  // Objects match, but none has a value: 404 that says so.
  r = Get(deployments, "app=idle");
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(Message(r),
              HasSubstr("1 deployments.apps match labelSelector \"app=idle\" in namespace "
                        "ns but it has no value of metric http_requests_per_second"));
  // No object matches: a different 404.
  r = Get(deployments, "app=nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(Message(r), HasSubstr("no deployments.apps match labelSelector \"app=nope\" in "
                                    "namespace ns (object labels from the fake)"));
  EXPECT_THAT(r.body, HasSubstr("\"reason\":\"NotFound\""));
  // A named object must also match the selector.
  EXPECT_EQ(
      Get(std::string(kCustom2) + "/namespaces/ns/deployments.apps/web/http_requests_per_second",
          "app=web")
          .status,
      200);
  r = Get(std::string(kCustom2) + "/namespaces/ns/deployments.apps/web/http_requests_per_second",
          "app=idle");
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.body, HasSubstr("does not match labelSelector"));

  // Malformed selectors stay 400, before the source is asked.
  const int calls = objects_.calls;
  r = Get(deployments, "app in (a");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("BadRequest"));
  EXPECT_EQ(objects_.calls, calls);
  // Unknown resource: 404 naming the known ones.
  r = Get(std::string(kCustom2) + "/namespaces/ns/widgets.example.com/*/http_requests_per_second",
          "app=web");
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(Message(r), HasSubstr("unknown resource \"widgets.example.com\""));
  EXPECT_THAT(r.body, HasSubstr("deployments.apps"));
  // The source failing is a 503 that carries its message.
  objects_.error = absl::UnavailableError("the Kubernetes API server failed listing: boom");
  r = Get(deployments, "app=web");
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(r.body, HasSubstr("the Kubernetes API server failed listing: boom"));
  EXPECT_THAT(r.body, HasSubstr("ServiceUnavailable"));
}

TEST_F(RulesApiTest, LabelSelectorPicksClusterScopedObjects) {
  HttpResponse r = Get(std::string(kCustom2) + "/nodes/*/node_load", "pool=gpu");
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  ASSERT_EQ(j["items"].size(), 1u);
  EXPECT_EQ(j["items"][0]["describedObject"],
            json({{"kind", "Node"}, {"name", "n2"}, {"apiVersion", "v1"}}));
  EXPECT_EQ(j["items"][0]["value"], "1250m");
  r = Get(std::string(kCustom2) + "/nodes/*/node_load", "pool=tpu");
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(Message(r), HasSubstr("no nodes match labelSelector \"pool=tpu\" (object labels"));

  // namespaces/*: each selected namespace is read on its own; those without a value are left out.
  r = Get(std::string(kCustom2) + "/namespaces/*/http_requests_per_second", "team=a");
  ASSERT_EQ(r.status, 200) << r.body;
  j = json::parse(r.body);
  ASSERT_EQ(j["items"].size(), 1u);
  EXPECT_EQ(j["items"][0]["describedObject"],
            json({{"kind", "Namespace"}, {"name", "ns"}, {"apiVersion", "v1"}}));
  EXPECT_EQ(j["items"][0]["value"], "21");
  r = Get(std::string(kCustom2) + "/namespaces/*/http_requests_per_second", "team=b");
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.body, HasSubstr("no namespaces match"));
}

TEST_F(RulesApiTest, ClusterScopedObjects) {
  HttpResponse r = Get(std::string(kCustom2) + "/nodes/n2/node_load");
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  ASSERT_EQ(j["items"].size(), 1u);
  EXPECT_EQ(j["items"][0]["describedObject"],
            json({{"kind", "Node"}, {"name", "n2"}, {"apiVersion", "v1"}}));
  EXPECT_EQ(j["items"][0]["value"], "1250m");
  r = Get(std::string(kCustom1) + "/nodes/*/node_load");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["items"].size(), 2u);
  r = Get(std::string(kCustom2) + "/namespaces/ns/http_requests_per_second");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["items"][0]["describedObject"]["name"], "ns");
  r = Get(std::string(kCustom2) + "/namespaces/*/http_requests_per_second");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("name the namespace"));
  EXPECT_EQ(Get(std::string(kCustom2) + "/nodes/n3/node_load").status, 404);
  // Namespaced resources need a namespace, cluster-scoped ones must not have one.
  EXPECT_EQ(Get(std::string(kCustom2) + "/services/web/http_requests_per_second").status, 404);
  EXPECT_EQ(Get(std::string(kCustom2) + "/namespaces/ns/nodes/n1/node_load").status, 404);
}

TEST_F(RulesApiTest, ExternalLabelSelectorFiltersTheSeriesAndItemsCarryTheirLabels) {
  HttpRequest r;
  r.method = "GET";
  r.path = std::string(kExternal) + "/namespaces/ns/queue_depth";
  HttpResponse all = api_->Handle(r);
  ASSERT_EQ(all.status, 200) << all.body;
  json j = json::parse(all.body);
  EXPECT_EQ(j["kind"], "ExternalMetricValueList");
  ASSERT_EQ(j["items"].size(), 2u);
  EXPECT_EQ(j["items"][0]["metricName"], "queue_depth");
  EXPECT_EQ(j["items"][0]["metricLabels"], json({{"queue", "jobs"}}));
  EXPECT_EQ(j["items"][0]["value"], "12k");
  EXPECT_EQ(j["items"][1]["metricLabels"], json({{"queue", "mail"}}));
  EXPECT_EQ(prom_.queries().back(), "sum(queue_depth{namespace=\"ns\"}) by (queue)");

  r.params.emplace("labelSelector", "queue=jobs");
  HttpResponse one = api_->Handle(r);
  ASSERT_EQ(one.status, 200) << one.body;
  j = json::parse(one.body);
  ASSERT_EQ(j["items"].size(), 1u);
  EXPECT_EQ(j["items"][0]["metricLabels"], json({{"queue", "jobs"}}));
  EXPECT_EQ(prom_.queries().back(), "sum(queue_depth{queue=\"jobs\",namespace=\"ns\"}) by (queue)");

  r.params = {{"labelSelector", "queue=jobs,queue=mail"}};
  HttpResponse none = api_->Handle(r);
  EXPECT_EQ(none.status, 404) << none.body;
  EXPECT_THAT(none.body, HasSubstr("no metrics returned"));
  r.params = {{"labelSelector", "queue>3"}};
  EXPECT_EQ(api_->Handle(r).status, 400);
}

TEST_F(RulesApiTest, SelectorVariantsAreBounded) {
  HttpRequest r;
  r.method = "GET";
  r.path = std::string(kExternal) + "/namespaces/ns/queue_depth";
  for (size_t i = 0; i < pipeline::Sampler::kMaxSelectorVariants; ++i) {
    r.params = {{"labelSelector", absl::StrCat("queue!=q", i)}};
    ASSERT_EQ(api_->Handle(r).status, 200) << i;
  }
  // One more evicts the least recently asked for variant instead of being refused.
  r.params = {{"labelSelector", "queue!=one-too-many"}};
  HttpResponse over = api_->Handle(r);
  EXPECT_EQ(over.status, 200) << over.body;
  ASSERT_TRUE(::aa::testing::NextSamplerRound(*sampler_, clock_));
  size_t variants = 0;
  for (const auto& [key, slot] : sampler_->snapshot()->slots) variants += !key.matchers.empty();
  EXPECT_EQ(variants, pipeline::Sampler::kMaxSelectorVariants);
  // Known variants still answer (an evicted one is sampled again).
  r.params = {{"labelSelector", "queue!=q0"}};
  EXPECT_EQ(api_->Handle(r).status, 200);
}

// resourceRules: PodMetrics per real container (containerQuery grouped by namespace, pod,
// containerLabel) and NodeMetrics (nodeQuery grouped by the node label).
TEST(ResourceRulesApiTest, PerContainerPodMetricsAndNodeMetrics) {
  auto config = config::ParseConfig(R"yaml(
podLabels: {enabled: false}
resourceRules:
  cpu:
    containerQuery: sum(rate(cpu_seconds{<<.LabelMatchers>>}[1m])) by (<<.GroupBy>>)
    nodeQuery: sum(rate(node_cpu{<<.LabelMatchers>>}[1m])) by (<<.GroupBy>>)
    resources: {overrides: {namespace: {resource: namespace}, pod: {resource: pod}, instance: {resource: node}}}
    containerLabel: ctr
  memory:
    containerQuery: sum(mem_bytes{<<.LabelMatchers>>}) by (<<.GroupBy>>)
    nodeQuery: sum(node_mem{<<.LabelMatchers>>}) by (<<.GroupBy>>)
    resources: {overrides: {namespace: {resource: namespace}, pod: {resource: pod}, instance: {resource: node}}}
    containerLabel: ctr
  window: 2m
)yaml",
                                    "t.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  FakePrometheus prom;
  prom.SetHandler([](const std::string& q, absl::Time at) -> absl::StatusOr<prom::QueryResult> {
    if (absl::StartsWith(q,
                         "sum(rate(cpu_seconds{namespace=\"ns\"}[1m])) by (namespace, pod, ctr)")) {
      return VectorOf({{{{"namespace", "ns"}, {"pod", "p1"}, {"ctr", "b"}}, 0.5},
                       {{{"namespace", "ns"}, {"pod", "p1"}, {"ctr", "a"}}, 0.25},
                       {{{"namespace", "ns"}, {"pod", "p1"}, {"ctr", ""}}, 0.75},  // cgroup total
                       {{{"namespace", "ns"}, {"pod", "p2"}, {"ctr", "a"}}, -1},
                       {{{"namespace", "ns"}, {"pod", "p3"}, {"ctr", "a"}}, 0.125}},
                      at);
    }
    if (absl::StartsWith(q, "sum(mem_bytes{namespace=\"ns\"}) by (namespace, pod, ctr)")) {
      return VectorOf({{{{"namespace", "ns"}, {"pod", "p1"}, {"ctr", "a"}}, 1024.0 * 1024},
                       {{{"namespace", "ns"}, {"pod", "p1"}, {"ctr", "b"}}, 2048.0 * 1024},
                       {{{"namespace", "ns"}, {"pod", "p2"}, {"ctr", "a"}}, 1025}},
                      at);
    }
    if (q == "sum(rate(node_cpu{instance!=\"\"}[1m])) by (instance)") {
      return VectorOf({{{{"instance", "n1"}}, 1.5}, {{{"instance", "n2"}}, 0.125}}, at);
    }
    if (q == "sum(node_mem{instance!=\"\"}) by (instance)") {
      return VectorOf({{{{"instance", "n1"}}, 2.0 * 1024 * 1024 * 1024}}, at);
    }
    return absl::InvalidArgumentError("unexpected query " + q);
  });
  SimulatedClock clock;
  pipeline::Sampler sampler(*config, prom, clock, nullptr);
  MetricsApi api(pipeline::View(sampler), clock);
  sampler.Start();
  auto get = [&](const std::string& path) {
    HttpRequest r;
    r.method = "GET";
    r.path = path;
    return api.Handle(r);
  };
  HttpResponse r = get("/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods");
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  // p3's container has cpu but no memory series: the pod is left out, never served with a
  // made-up memory value.
  ASSERT_EQ(j["items"].size(), 2u) << r.body;
  EXPECT_EQ(j["items"][0]["metadata"]["name"], "p1");
  EXPECT_EQ(j["items"][0]["window"], "2m0s");
  EXPECT_EQ(j["items"][0]["containers"],
            json::parse(R"([{"name":"a","usage":{"cpu":"250m","memory":"1Mi"}},
                            {"name":"b","usage":{"cpu":"500m","memory":"2Mi"}}])"));
  // Negative usage (a counter reset) is 0.
  EXPECT_EQ(j["items"][1]["containers"],
            json::parse(R"([{"name":"a","usage":{"cpu":"0","memory":"1025"}}])"));
  r = get("/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods/p2");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["kind"], "PodMetrics");
  r = get("/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods/p3");
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_THAT(r.body, HasSubstr("no memory value"));

  r = get("/apis/metrics.k8s.io/v1beta1/nodes");
  ASSERT_EQ(r.status, 200) << r.body;
  j = json::parse(r.body);
  EXPECT_EQ(j["kind"], "NodeMetricsList");
  // n2 has cpu but no memory series: left out, never served with a made-up memory value.
  ASSERT_EQ(j["items"].size(), 1u) << j.dump();
  EXPECT_EQ(j["items"][0]["metadata"]["name"], "n1");
  EXPECT_EQ(j["items"][0]["usage"], json::parse(R"({"cpu":"1500m","memory":"2Gi"})"));
  r = get("/apis/metrics.k8s.io/v1beta1/nodes/n1");
  ASSERT_EQ(r.status, 200) << r.body;
  j = json::parse(r.body);
  EXPECT_EQ(j["kind"], "NodeMetrics");
  EXPECT_EQ(j["apiVersion"], "metrics.k8s.io/v1beta1");
  EXPECT_EQ(j["metadata"]["name"], "n1");
  EXPECT_EQ(j["window"], "2m0s");
  EXPECT_EQ(j["metadata"]["creationTimestamp"], Rfc3339(clock.Now()));
  r = get("/apis/metrics.k8s.io/v1beta1/nodes/n2");
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.body, HasSubstr("no memory value"));
  r = get("/apis/metrics.k8s.io/v1beta1/nodes/n9");
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.body, HasSubstr("nodemetrics \\\"n9\\\" not found"));
  // Per-container and per-node definitions are not custom metrics.
  j = json::parse(get(kCustom2).body);
  for (const auto& res : j["resources"]) {
    EXPECT_THAT(res["name"].get<std::string>(), ::testing::Not(HasSubstr("cpu"))) << res.dump();
  }
}

// With the cpu preset and no resourceRules, NodeMetrics come from cAdvisor's root cgroup summed
// by the node label: the query the sampler sends, and what is served.
TEST(ResourceRulesApiTest, CpuPresetServesNodeMetricsFromTheRootCgroup) {
  auto config = config::ParseConfig(R"yaml(
podLabels: {enabled: false}
metrics:
- name: cpu
  preset: {type: cpu, window: 30s}
)yaml",
                                    "t.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  FakePrometheus prom;
  std::vector<std::string> node_queries;
  std::mutex mu;
  prom.SetHandler([&](const std::string& q, absl::Time at) -> absl::StatusOr<prom::QueryResult> {
    if (q.find("id=\"/\"") == std::string::npos) return VectorOf({}, at);
    {
      std::lock_guard lock(mu);
      node_queries.push_back(q);
    }
    if (q == "sum by (node) (rate(container_cpu_usage_seconds_total{id=\"/\",node!=\"\"}[30s]))") {
      return VectorOf({{{{"node", "node-a"}}, 0.25}, {{{"node", "node-b"}}, 1.0 / 3}}, at);
    }
    if (q == "sum by (node) (container_memory_working_set_bytes{id=\"/\",node!=\"\"})") {
      return VectorOf(
          {{{{"node", "node-a"}}, 3.0 * 1024 * 1024 * 1024}, {{{"node", "node-b"}}, 1000.0}}, at);
    }
    return absl::InvalidArgumentError("unexpected query " + q);
  });
  SimulatedClock clock;
  pipeline::Sampler sampler(*config, prom, clock, nullptr);
  FakeObjects objects;
  objects.objects[{"nodes", ""}] = {{"node-a", {{"pool", "gpu"}}}, {"node-b", {{"pool", "cpu"}}}};
  MetricsApi api(pipeline::View(sampler, &objects), clock);
  MetricsApi api_without_objects(pipeline::View(sampler), clock);
  sampler.Start();
  HttpRequest req;
  req.method = "GET";
  req.path = "/apis/metrics.k8s.io/v1beta1/nodes";
  HttpResponse r = api.Handle(req);
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  ASSERT_EQ(j["items"].size(), 2u) << r.body;
  EXPECT_EQ(j["items"][0]["metadata"]["name"], "node-a");
  EXPECT_EQ(j["items"][0]["window"], "30s");
  EXPECT_EQ(j["items"][0]["usage"], json::parse(R"({"cpu":"250m","memory":"3Gi"})"));
  // Nanocores (rounded); bytes below 1024 print as DecimalSI, as apimachinery does.
  EXPECT_EQ(j["items"][1]["usage"], json::parse(R"({"cpu":"333333333n","memory":"1k"})"));

  // labelSelector picks nodes by their Kubernetes labels (the object source).
  req.params = {{"labelSelector", "pool=cpu"}};
  r = api.Handle(req);
  ASSERT_EQ(r.status, 200) << r.body;
  j = json::parse(r.body);
  ASSERT_EQ(j["items"].size(), 1u) << r.body;
  EXPECT_EQ(j["items"][0]["metadata"]["name"], "node-b");
  req.params = {{"labelSelector", "pool in (tpu)"}};
  r = api.Handle(req);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(json::parse(r.body)["items"].empty()) << r.body;  // as metrics-server answers
  req.path = "/apis/metrics.k8s.io/v1beta1/nodes/node-a";
  req.params = {{"labelSelector", "pool=cpu"}};
  EXPECT_EQ(api.Handle(req).status, 404);
  req.path = "/apis/metrics.k8s.io/v1beta1/nodes";
  req.params = {{"labelSelector", "pool=a||b=c"}};
  r = api.Handle(req);
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(Message(r), HasSubstr("labelSelector"));
  req.params = {{"labelSelector", "pool=cpu"}};
  r = api_without_objects.Handle(req);
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(Message(r), HasSubstr("without an object source"));
  objects.error = absl::UnavailableError("kube-apiserver: connection refused");
  r = api.Handle(req);
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(Message(r), HasSubstr("connection refused"));
  std::lock_guard lock(mu);
  // cpu, the span of its samples (unanswered here: the window stays the configured 30s), memory.
  EXPECT_EQ(node_queries.size(), 3u);
  EXPECT_THAT(
      node_queries,
      ::testing::Contains(
          "min by (node) (timestamp(container_cpu_usage_seconds_total{id=\"/\",node!=\"\"}) "
          "- min_over_time(timestamp(container_cpu_usage_seconds_total{id=\"/\",node!=\"\"})"
          "[30s:1s]))"));
}

}  // namespace
}  // namespace aa::apiserver
