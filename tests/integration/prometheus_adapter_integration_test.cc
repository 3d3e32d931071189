// A prometheus-adapter configuration file, unchanged (tests/testdata/prometheus-adapter/
// config.yaml), against the simulator scraped by a real Prometheus: rule discovery through
// /api/v1/series, the discovered metrics listed in discovery documents, and kubectl reading pods,
// services and namespace objects whose values equal Prometheus' own answer for the query the rule
// renders, at the table's evaluation time.

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "demo/stack.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "integration/integration_util.h"

namespace aa {
namespace {

using integration::ParseQuantity;
using nlohmann::json;
using ::testing::HasSubstr;

constexpr char kNamespace[] = "kserve-test";

std::string AdapterConfig() {
  std::ifstream in(std::string(AA_SOURCE_DIR) + "/tests/testdata/prometheus-adapter/config.yaml");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class PrometheusAdapterConfigTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string config = AdapterConfig();
    ASSERT_FALSE(config.empty());
    auto stack = demo::Stack::Start(integration::StackOptionsFor(config));
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = stack->release();
    kubeconfig_ = new std::string(stack_->work_dir() + "/kubeconfig");
    integration::WriteKubeconfig(*kubeconfig_, stack_->adapter_https_port());
  }
  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
    delete kubeconfig_;
    kubeconfig_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(stack_, nullptr);
    // Discovery runs at start and, while it finds nothing, every 10 s: wait (bounded) for it.
    for (int i = 0; i < 80; ++i) {
      if (Resources("/apis/custom.metrics.k8s.io/v1beta2").contains("pods/cpu_usage")) {
        // And its first values (a rate() of a simulator Prometheus has just begun to scrape).
        ASSERT_TRUE(integration::WaitUntilServed(stack_->adapter_https_port(), "kserve-test",
                                                 "cpu_usage", "pods"));
        return;
      }
      absl::SleepFor(absl::Milliseconds(500));
    }
    FAIL() << "rule discovery never produced pods/cpu_usage";
  }

  static json KubectlJson(const std::string& path, int* exit_code = nullptr) {
    return integration::KubectlJson(*kubeconfig_, path, exit_code);
  }

  static std::map<std::string, bool> Resources(const std::string& path) {
    int code = -1;
    json j = KubectlJson(path, &code);
    std::map<std::string, bool> out;
    if (code != 0 || j.is_discarded()) return out;
    for (const auto& r : j["resources"]) {
      out[r["name"].get<std::string>()] = r["namespaced"].get<bool>();
    }
    return out;
  }

  // The evaluation time of the adapter's current table of `metric` for `resource` (the
  // Kubernetes APIs print it truncated to seconds).
  static absl::Time SampledAt(const std::string& metric, const std::string& resource,
                              const std::string& metric_selector = "") {
    return integration::SampledAt(stack_->adapter_https_port(), kNamespace, metric, resource,
                                  metric_selector);
  }

  // Prometheus' answer to `query` at `at`, by the value of `label`.
  static std::map<std::string, double> PrometheusValues(const std::string& query,
                                                        const std::string& label, absl::Time at) {
    return integration::PrometheusValuesBy(stack_->prometheus_port(), query, {label}, at);
  }

  // Reads `path` through kubectl until its items' timestamp is the table's second, then checks
  // every item against Prometheus' answer to `query` at the table's exact evaluation time.
  static void ExpectEqualsPrometheus(const std::string& path, const std::string& metric,
                                     const std::string& resource, const std::string& query,
                                     const std::string& label, const std::string& kind,
                                     const std::string& metric_selector = "") {
    bool equal = false;
    std::string last;
    for (const absl::Time deadline = absl::Now() + absl::Seconds(30);
         !equal && absl::Now() < deadline;) {
      json j = KubectlJson(path);
      absl::Time at = SampledAt(metric, resource, metric_selector);
      if (j["items"].empty() || j["items"][0]["timestamp"] != integration::Rfc3339Seconds(at)) {
        continue;
      }
      std::map<std::string, double> prom = PrometheusValues(query, label, at);
      equal = !prom.empty() && prom.size() == j["items"].size();
      for (const auto& item : j["items"]) {
        EXPECT_EQ(item["describedObject"]["kind"], kind);
        std::string name = item["describedObject"]["name"].get<std::string>();
        double v = ParseQuantity(item["value"].get<std::string>());
        // Values are rounded to milli, as the HPA reads them.
        equal = equal && prom.contains(name) && std::abs(prom[name] - v) <= 0.0005 + 1e-9;
      }
      last = absl::StrCat(j.dump(), " vs Prometheus ", json(prom).dump());
    }
    EXPECT_TRUE(equal) << path << ": " << last;
  }

  static demo::Stack* stack_;
  static std::string* kubeconfig_;
};

demo::Stack* PrometheusAdapterConfigTest::stack_ = nullptr;
std::string* PrometheusAdapterConfigTest::kubeconfig_ = nullptr;

TEST_F(PrometheusAdapterConfigTest, DiscoveryListsWhatTheRulesFind) {
  for (const char* version : {"v1beta2", "v1beta1"}) {
    std::map<std::string, bool> r =
        Resources(absl::StrCat("/apis/custom.metrics.k8s.io/", version));
    // rules[0]: container_cpu_usage_seconds_total -> cpu_usage (pods and their namespace).
    EXPECT_EQ(r["pods/cpu_usage"], true);
    EXPECT_TRUE(r.contains("namespaces/cpu_usage"));
    EXPECT_EQ(r["namespaces/cpu_usage"], false);
    // rules[1]: the gauge as it is, for the simulator's services (label `service`).
    EXPECT_EQ(r["services/sim_service_in_flight"], true);
    EXPECT_TRUE(r.contains("namespaces/sim_service_in_flight"));
    // rules[3]: kube-state-metrics' deployment gauge, per Deployment.
    EXPECT_EQ(r["deployments.apps/deployment_status_replicas"], true);
    // rules[2]: counters renamed with `as`.
    EXPECT_TRUE(r.contains("services/sim_requests_completed_per_second"));
    EXPECT_TRUE(r.contains("services/sim_requests_arrived_per_second"));
    // Filtered out or never matched: nothing else from those series.
    EXPECT_FALSE(r.contains("pods/container_cpu_usage_seconds_total"));
    EXPECT_FALSE(r.contains("services/sim_requests_completed_total"));
    // resourceRules serve metrics.k8s.io only.
    EXPECT_FALSE(r.contains("pods/cpu"));
  }
  std::map<std::string, bool> ext = Resources("/apis/external.metrics.k8s.io/v1beta1");
  EXPECT_EQ(ext, (std::map<std::string, bool>{{"sim_service_queue_length", true}}));
}

TEST_F(PrometheusAdapterConfigTest, PodsServicesAndNamespaceEqualPrometheus) {
  const std::string base =
      absl::StrCat("/apis/custom.metrics.k8s.io/v1beta2/namespaces/", kNamespace);
  ExpectEqualsPrometheus(
      base + "/pods/*/cpu_usage", "cpu_usage", "pods",
      absl::StrCat("sum(rate(container_cpu_usage_seconds_total{namespace=\"", kNamespace,
                   "\",container!=\"POD\"}[2m])) by (namespace, pod)"),
      "pod", "Pod");
  ExpectEqualsPrometheus(base + "/services/*/sim_service_in_flight", "sim_service_in_flight",
                         "services",
                         absl::StrCat("sum(sim_service_in_flight{namespace=\"", kNamespace,
                                      "\"}) by (namespace, service)"),
                         "service", "Service");
  ExpectEqualsPrometheus(absl::StrCat("/apis/custom.metrics.k8s.io/v1beta1/namespaces/", kNamespace,
                                      "/metrics/sim_requests_completed_per_second"),
                         "sim_requests_completed_per_second", "namespaces",
                         absl::StrCat("sum(rate(sim_requests_completed_total{namespace=\"",
                                      kNamespace, "\"}[2m])) by (namespace)"),
                         "namespace", "Namespace");
  // One named object, v1beta1 shape.
  json services = KubectlJson(base + "/services/*/sim_service_in_flight");
  ASSERT_FALSE(services["items"].empty());
  std::string name = services["items"][0]["describedObject"]["name"].get<std::string>();
  json one = KubectlJson(absl::StrCat("/apis/custom.metrics.k8s.io/v1beta1/namespaces/", kNamespace,
                                      "/services/", name, "/sim_service_in_flight"));
  ASSERT_EQ(one["items"].size(), 1u);
  EXPECT_EQ(one["items"][0]["metricName"], "sim_service_in_flight");
  EXPECT_EQ(one["items"][0]["describedObject"]["apiVersion"], "v1");
  int code = 0;
  KubectlJson(base + "/services/no-such-service/sim_service_in_flight", &code);
  EXPECT_NE(code, 0);
}

// labelSelector on Deployments and Services picks the objects by their Kubernetes labels (here,
// without a Kubernetes API, from the simulator's kube-state-metrics kube_deployment_labels and
// kube_service_labels), and their values equal Prometheus' for those objects.
TEST_F(PrometheusAdapterConfigTest, LabelSelectorPicksDeploymentsAndServices) {
  const std::string base =
      absl::StrCat("/apis/custom.metrics.k8s.io/v1beta2/namespaces/", kNamespace);
  ExpectEqualsPrometheus(
      base +
          "/deployments.apps/*/deployment_status_replicas"
          "?labelSelector=serving.kserve.io%2Finferenceservice%3Dcpu-model",
      "deployment_status_replicas", "deployments.apps",
      absl::StrCat("sum(kube_deployment_status_replicas{namespace=\"", kNamespace,
                   "\",deployment=\"cpu-model-predictor\"}) by (namespace, deployment)"),
      "deployment", "Deployment");
  ExpectEqualsPrometheus(
      base +
          "/services/*/sim_service_in_flight"
          "?labelSelector=serving.kserve.io%2Finferenceservice+in+%28concurrency-model%29",
      "sim_service_in_flight", "services",
      absl::StrCat("sum(sim_service_in_flight{namespace=\"", kNamespace,
                   "\",service=\"concurrency-model\"}) by (namespace, service)"),
      "service", "Service");
  // Both deployments without a selector; one object each with one.
  json all = KubectlJson(base + "/deployments.apps/*/deployment_status_replicas");
  EXPECT_EQ(all["items"].size(), 2u) << all.dump();
  json one = KubectlJson(base +
                         "/deployments.apps/*/deployment_status_replicas"
                         "?labelSelector=app%3Dconcurrency-model-predictor");
  ASSERT_EQ(one["items"].size(), 1u) << one.dump();
  EXPECT_EQ(one["items"][0]["describedObject"]["name"], "concurrency-model-predictor");
  EXPECT_EQ(one["items"][0]["describedObject"]["apiVersion"], "apps/v1");
  // No such objects: a 404 that says so (never an empty list); malformed: 400.
  int code = 0;
  std::string out = integration::RunKubectl(
      *kubeconfig_,
      {"get", "--raw",
       base + "/deployments.apps/*/deployment_status_replicas?labelSelector=app%3Dnope"},
      &code);
  EXPECT_NE(code, 0);
  EXPECT_THAT(out, HasSubstr("NotFound"));
  EXPECT_THAT(out, HasSubstr("no deployments.apps match labelSelector"));
  out = integration::RunKubectl(
      *kubeconfig_,
      {"get", "--raw",
       base + "/deployments.apps/*/deployment_status_replicas?labelSelector=app+in+%28a"},
      &code);
  EXPECT_NE(code, 0);
  EXPECT_THAT(out, HasSubstr("BadRequest"));
}

// metricLabelSelector filters the series in the query (its own cached table): only the model
// container's CPU, not the pod cgroup total ("") counted by the unfiltered rule.
TEST_F(PrometheusAdapterConfigTest, MetricLabelSelectorFiltersSeries) {
  ExpectEqualsPrometheus(
      absl::StrCat("/apis/custom.metrics.k8s.io/v1beta2/namespaces/", kNamespace,
                   "/pods/*/cpu_usage?metricLabelSelector=container%3Dkserve-container"),
      "cpu_usage", "pods",
      absl::StrCat("sum(rate(container_cpu_usage_seconds_total{container=\"kserve-container\","
                   "namespace=\"",
                   kNamespace, "\",container!=\"POD\"}[2m])) by (namespace, pod)"),
      "pod", "Pod", "container=kserve-container");
  json j = KubectlJson(
      absl::StrCat("/apis/custom.metrics.k8s.io/v1beta2/namespaces/", kNamespace,
                   "/pods/*/cpu_usage?metricLabelSelector=container%3Dkserve-container"));
  ASSERT_FALSE(j["items"].empty());
  EXPECT_EQ(j["items"][0]["metric"]["selector"],
            json::parse(R"({"matchLabels":{"container":"kserve-container"}})"));
}

// externalRules: one item per series with its labels; labelSelector filters those labels.
TEST_F(PrometheusAdapterConfigTest, ExternalItemsCarryMetricLabels) {
  const std::string path = absl::StrCat("/apis/external.metrics.k8s.io/v1beta1/namespaces/",
                                        kNamespace, "/sim_service_queue_length");
  json all = KubectlJson(path);
  EXPECT_EQ(all["kind"], "ExternalMetricValueList");
  ASSERT_FALSE(all["items"].empty());
  std::set<std::string> services;
  for (const auto& item : all["items"]) {
    EXPECT_EQ(item["metricName"], "sim_service_queue_length");
    ASSERT_TRUE(item["metricLabels"].contains("service")) << item.dump();
    EXPECT_EQ(item["metricLabels"].size(), 1u);  // the query keeps `by (service)` only
    services.insert(item["metricLabels"]["service"].get<std::string>());
  }
  // The services Prometheus knows for this series.
  json prom = integration::PrometheusQueryAt(
      stack_->prometheus_port(),
      absl::StrCat("sum(sim_service_queue_length{namespace=\"", kNamespace, "\"}) by (service)"),
      absl::ToUnixMillis(absl::Now()));
  std::set<std::string> want;
  for (const auto& s : prom["data"]["result"])
    want.insert(s["metric"]["service"].get<std::string>());
  EXPECT_EQ(services, want);
  const std::string one = *services.begin();
  json filtered = KubectlJson(path + "?labelSelector=service%3D" + one);
  ASSERT_EQ(filtered["items"].size(), 1u);
  EXPECT_EQ(filtered["items"][0]["metricLabels"]["service"], one);
  int code = 0;
  KubectlJson(path + "?labelSelector=service%3Dno-such-service", &code);
  EXPECT_NE(code, 0);
}

TEST_F(PrometheusAdapterConfigTest, ResourceRulesServeKubectlTop) {
  // PodMetrics per real container, equal to Prometheus for resourceRules' containerQuery.
  bool equal = false;
  std::string last;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(30);
       !equal && absl::Now() < deadline;) {
    json j =
        KubectlJson(absl::StrCat("/apis/metrics.k8s.io/v1beta1/namespaces/", kNamespace, "/pods"));
    absl::Time at = SampledAt("cpu", "containers");
    if (j["items"].empty() || j["items"][0]["timestamp"] != integration::Rfc3339Seconds(at)) {
      continue;
    }
    std::map<std::string, double> want = integration::PrometheusValuesBy(
        stack_->prometheus_port(),
        absl::StrCat("sum by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{"
                     "container!=\"\",container!=\"POD\",namespace=\"",
                     kNamespace, "\"}[1m]))"),
        {"pod", "container"}, at);
    std::map<std::string, double> got;
    for (const auto& item : j["items"]) {
      EXPECT_EQ(item["window"], "1m0s");
      for (const auto& c : item["containers"]) {
        got[absl::StrCat(item["metadata"]["name"].get<std::string>(), "/",
                         c["name"].get<std::string>())] =
            ParseQuantity(c["usage"]["cpu"].get<std::string>());
      }
    }
    equal = !want.empty() && want.size() == got.size();
    for (const auto& [key, v] : want) {
      equal = equal && got.contains(key) && std::abs(got[key] - v) <= 1e-6;
    }
    last = absl::StrCat(json(got).dump(), " vs Prometheus ", json(want).dump());
  }
  EXPECT_TRUE(equal) << last;

  int code = -1;
  std::string out = integration::RunKubectl(*kubeconfig_, {"top", "pod", "-n", kNamespace}, &code);
  ASSERT_EQ(code, 0) << out;
  EXPECT_THAT(out, HasSubstr("CPU(cores)"));
  json pods = KubectlJson(absl::StrCat("/apis/custom.metrics.k8s.io/v1beta2/namespaces/",
                                       kNamespace, "/pods/*/cpu_usage"));
  ASSERT_FALSE(pods["items"].empty());
  for (const auto& item : pods["items"]) {
    EXPECT_THAT(out, HasSubstr(item["describedObject"]["name"].get<std::string>()));
  }
}

// resourceRules' nodeQuery (cAdvisor's root cgroup, `node` mapped to nodes): NodeMetrics equal to
// Prometheus' answer for the rendered query at the table's evaluation time.
TEST_F(PrometheusAdapterConfigTest, ResourceRulesServeNodeMetrics) {
  bool equal = false;
  std::string last;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(30);
       !equal && absl::Now() < deadline;) {
    json j = KubectlJson("/apis/metrics.k8s.io/v1beta1/nodes");
    absl::Time at = SampledAt("cpu", "nodemetrics");
    EXPECT_EQ(j["kind"], "NodeMetricsList");
    if (j["items"].empty() || j["items"][0]["timestamp"] != integration::Rfc3339Seconds(at)) {
      continue;
    }
    std::map<std::string, double> want = PrometheusValues(
        "sum(rate(container_cpu_usage_seconds_total{node!=\"\", id='/'}[1m])) by (node)", "node",
        at);
    std::map<std::string, double> got;
    for (const auto& item : j["items"]) {
      EXPECT_EQ(item["window"], "1m0s");
      got[item["metadata"]["name"].get<std::string>()] =
          ParseQuantity(item["usage"]["cpu"].get<std::string>());
    }
    equal = want.size() == 2 && want.size() == got.size();
    for (const auto& [node, v] : want) {
      equal = equal && got.contains(node) && std::abs(got[node] - v) <= 2e-9;
    }
    last = absl::StrCat(j.dump(), " vs Prometheus ", json(want).dump());
  }
  EXPECT_TRUE(equal) << last;
  json one = KubectlJson("/apis/metrics.k8s.io/v1beta1/nodes/sim-node-1");
  EXPECT_EQ(one["kind"], "NodeMetrics");
  EXPECT_EQ(one["metadata"]["name"], "sim-node-1");
  EXPECT_GT(ParseQuantity(one["usage"]["memory"].get<std::string>()), 1 << 30);
}

}  // namespace
}  // namespace aa
