// prometheus-adapter configs from tests/migration/ against the simulator with two namespaces
// (tests/migration/sim-two-namespaces.yaml: shop/web and queues/worker) scraped by a real
// Prometheus, read through kubectl: a <<.GroupBySlice>> rule, a <<.LabelValuesByName>> rule, a
// metricsQuery without <<.LabelMatchers>> and a `namespaced: false` external rule serve what
// Prometheus answers for the query prometheus-adapter would send for the same request, at the
// adapter's evaluation time. And the docs' sample config and the chart's default rules start the
// adapter and discover metrics.

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

std::string MigrationFile(const std::string& name) {
  std::ifstream in(std::string(AA_SOURCE_DIR) + "/tests/migration/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The resources of a discovery document ("pods/cpu_usage_cores"), empty when kubectl fails.
std::set<std::string> Resources(const std::string& kubeconfig, const std::string& path) {
  int code = -1;
  json j = integration::KubectlJson(kubeconfig, path, &code);
  std::set<std::string> out;
  if (code != 0 || j.is_discarded()) return out;
  for (const auto& r : j["resources"]) out.insert(r["name"].get<std::string>());
  return out;
}

class MigrationTemplatesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string config = MigrationFile("prometheus-adapter-templates.yaml");
    ASSERT_FALSE(config.empty());
    demo::StackOptions options = integration::StackOptionsFor(config);
    options.sim_scenario_yaml = MigrationFile("sim-two-namespaces.yaml");
    ASSERT_FALSE(options.sim_scenario_yaml.empty());
    auto stack = demo::Stack::Start(options);
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
      std::set<std::string> custom = Resources(*kubeconfig_, "/apis/custom.metrics.k8s.io/v1beta2");
      if (custom.contains("pods/cpu_usage_cores") && custom.contains("services/in_flight") &&
          custom.contains("pods/memory_bytes_cluster_wide")) {
        // And their first values (a rate() of a simulator Prometheus has just begun to scrape).
        for (const char* ns : {"shop", "queues"}) {
          ASSERT_TRUE(integration::WaitUntilServed(stack_->adapter_https_port(), ns,
                                                   "cpu_usage_cores", "pods"));
        }
        return;
      }
      absl::SleepFor(absl::Milliseconds(500));
    }
    FAIL() << "rule discovery never produced the rules' metrics";
  }

  static json KubectlJson(const std::string& path, int* exit_code = nullptr) {
    return integration::KubectlJson(*kubeconfig_, path, exit_code);
  }

  // Reads `path` through kubectl until its items' timestamp is the table's second, then checks
  // every item (keyed by `key(item)`) against Prometheus' answer to `query` at the table's exact
  // evaluation time (keyed by the values of `labels`): the same keys, the same values (to the
  // milli-unit the APIs print).
  static void ExpectEqualsPrometheus(const std::string& path, const std::string& ns,
                                     const std::string& metric, const std::string& resource,
                                     const std::string& query,
                                     const std::vector<std::string>& labels,
                                     const std::function<std::string(const json&)>& key) {
    bool equal = false;
    std::string last;
    for (const absl::Time deadline = absl::Now() + absl::Seconds(40);
         !equal && absl::Now() < deadline;) {
      json j = KubectlJson(path);
      absl::Time at = integration::SampledAt(stack_->adapter_https_port(), ns, metric, resource);
      if (j["items"].empty() || j["items"][0]["timestamp"] != integration::Rfc3339Seconds(at)) {
        absl::SleepFor(absl::Milliseconds(200));
        continue;
      }
      std::map<std::string, double> prom =
          integration::PrometheusValuesBy(stack_->prometheus_port(), query, labels, at);
      equal = !prom.empty() && prom.size() == j["items"].size();
      for (const auto& item : j["items"]) {
        std::string k = key(item);
        double v = ParseQuantity(item["value"].get<std::string>());
        equal = equal && prom.contains(k) && std::abs(prom[k] - v) <= 0.0005 + 1e-9;
      }
      last = absl::StrCat(j.dump(), " vs Prometheus ", json(prom).dump());
    }
    EXPECT_TRUE(equal) << path << ": " << last;
  }

  static std::string ObjectName(const json& item) {
    return item["describedObject"]["name"].get<std::string>();
  }

  static demo::Stack* stack_;
  static std::string* kubeconfig_;
};

demo::Stack* MigrationTemplatesTest::stack_ = nullptr;
std::string* MigrationTemplatesTest::kubeconfig_ = nullptr;

// rules[0]: sum by (<<range $i, $label := .GroupBySlice>>...) renders "by (namespace, pod)".
TEST_F(MigrationTemplatesTest, GroupBySliceRuleEqualsPrometheus) {
  for (const std::string ns : {"shop", "queues"}) {
    ExpectEqualsPrometheus(
        absl::StrCat("/apis/custom.metrics.k8s.io/v1beta2/namespaces/", ns,
                     "/pods/*/cpu_usage_cores"),
        ns, "cpu_usage_cores", "pods",
        absl::StrCat("sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{namespace=\"",
                     ns, "\",container!=\"\",container!=\"POD\"}[1m]))"),
        {"pod"}, ObjectName);
  }
}

// rules[1]: namespace=~"<<index .LabelValuesByName "namespace">>", per Service.
TEST_F(MigrationTemplatesTest, LabelValuesByNameRuleEqualsPrometheus) {
  ExpectEqualsPrometheus("/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/services/*/in_flight",
                         "shop", "in_flight", "services",
                         "sum(sim_service_in_flight{namespace=~\"shop\"}) by (namespace, service)",
                         {"service"}, ObjectName);
  json one = KubectlJson(
      "/apis/custom.metrics.k8s.io/v1beta1/namespaces/queues/services/worker/"
      "in_flight");
  ASSERT_EQ(one["items"].size(), 1u) << one.dump();
  EXPECT_EQ(one["items"][0]["describedObject"]["name"], "worker");
  EXPECT_EQ(one["items"][0]["describedObject"]["namespace"], "queues");
}

// rules[2]: `sum(...) by (pod)` names no namespace. prometheus-adapter lists the namespace's pods
// and gives each the series whose `pod` label names it: Prometheus' answer to the same query,
// restricted to the pods of the namespace (kube_pod_labels), and one named pod its own series.
TEST_F(MigrationTemplatesTest, QueryWithoutLabelMatchersServesEachPodItsSeries) {
  const std::string whole =
      "sum(container_memory_working_set_bytes{container!=\"\",container!=\"POD\"}) by (pod)";
  for (const std::string ns : {"shop", "queues"}) {
    ExpectEqualsPrometheus(
        absl::StrCat("/apis/custom.metrics.k8s.io/v1beta2/namespaces/", ns,
                     "/pods/*/memory_bytes_cluster_wide"),
        ns, "memory_bytes_cluster_wide", "pods",
        absl::StrCat(whole, " and on (pod) kube_pod_labels{namespace=\"", ns, "\"}"), {"pod"},
        ObjectName);
  }
  json shop = KubectlJson(
      "/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/pods/*/memory_bytes_cluster_wide");
  ASSERT_EQ(shop["items"].size(), 2u) << shop.dump();  // shop's two pods, not queues' too
  const std::string pod = ObjectName(shop["items"][0]);
  json one = KubectlJson(absl::StrCat("/apis/custom.metrics.k8s.io/v1beta1/namespaces/shop/pods/",
                                      pod, "/memory_bytes_cluster_wide"));
  ASSERT_EQ(one["items"].size(), 1u) << one.dump();
  absl::Time at = integration::SampledAt(stack_->adapter_https_port(), "shop",
                                         "memory_bytes_cluster_wide", "pods");
  std::map<std::string, double> prom =
      integration::PrometheusValuesBy(stack_->prometheus_port(), whole, {"pod"}, at);
  ASSERT_TRUE(prom.contains(pod)) << json(prom).dump();
  // Memory moves slowly: the table may be one round newer than `at`; 1 MiB of slack.
  EXPECT_NEAR(ParseQuantity(one["items"][0]["value"].get<std::string>()), prom[pod], 1 << 20);
}

// externalRules[0], namespaced: false: an HPA in namespace shop reads every namespace's queues,
// equal to Prometheus' answer without a namespace matcher; labelSelector picks queues' own.
TEST_F(MigrationTemplatesTest, NamespacedFalseExternalRuleReadsOtherNamespaces) {
  ASSERT_TRUE(Resources(*kubeconfig_, "/apis/external.metrics.k8s.io/v1beta1")
                  .contains("queue_length_all_namespaces"));
  const std::string path =
      "/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/queue_length_all_namespaces";
  ExpectEqualsPrometheus(path, "shop", "queue_length_all_namespaces", "external",
                         "sum(sim_service_queue_length{}) by (namespace, service)",
                         {"namespace", "service"}, [](const json& item) {
                           return absl::StrCat(item["metricLabels"]["namespace"].get<std::string>(),
                                               "/",
                                               item["metricLabels"]["service"].get<std::string>());
                         });
  json all = KubectlJson(path);
  std::set<std::string> namespaces;
  for (const auto& item : all["items"]) {
    namespaces.insert(item["metricLabels"]["namespace"].get<std::string>());
  }
  EXPECT_EQ(namespaces, (std::set<std::string>{"queues", "shop"})) << all.dump();
  json queues = KubectlJson(path + "?labelSelector=namespace%3Dqueues");
  ASSERT_EQ(queues["items"].size(), 1u) << queues.dump();
  EXPECT_EQ(queues["items"][0]["metricLabels"]["service"], "worker");
}

// The docs' sample config (quoting fixed) and the chart's default rules start the adapter against
// the same simulator, and discovery serves what their rules find: cAdvisor's counters as rates
// and the gauges per pod, and (chart) other exporters' series by their resource labels.
TEST(MigrationConfigsTest, SampleConfigAndChartDefaultRulesServe) {
  for (const auto& [file, want] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"prometheus-adapter-sample.yaml",
            {"pods/cpu_usage", "namespaces/cpu_usage", "services/sim_requests_completed"}},
           {"prometheus-adapter-chart-default-rules.yaml",
            {"pods/cpu_usage", "pods/memory_working_set_bytes", "services/sim_service_in_flight",
             "services/sim_requests_completed"}},
       }) {
    SCOPED_TRACE(file);
    demo::StackOptions options = integration::StackOptionsFor(MigrationFile(file));
    options.sim_scenario_yaml = MigrationFile("sim-two-namespaces.yaml");
    auto stack = demo::Stack::Start(options);
    ASSERT_TRUE(stack.ok()) << stack.status();
    const std::string kubeconfig = (*stack)->work_dir() + "/kubeconfig";
    integration::WriteKubeconfig(kubeconfig, (*stack)->adapter_https_port());
    std::set<std::string> got;
    bool all = false;
    for (int i = 0; i < 80 && !all; ++i) {
      got = Resources(kubeconfig, "/apis/custom.metrics.k8s.io/v1beta2");
      all = std::all_of(want.begin(), want.end(), [&](const auto& r) { return got.contains(r); });
      if (!all) absl::SleepFor(absl::Milliseconds(500));
    }
    EXPECT_TRUE(all) << json(got).dump();
    // Values through kubectl for shop's two pods (the first rule of both files; its rate needs
    // two scrapes).
    json pods;
    for (int i = 0; i < 40; ++i) {
      int code = -1;
      pods = integration::KubectlJson(
          kubeconfig, "/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/pods/*/cpu_usage",
          &code);
      if (code == 0 && pods["items"].size() == 2) break;
      absl::SleepFor(absl::Milliseconds(500));
    }
    EXPECT_EQ(pods["items"].size(), 2u) << pods.dump();
  }
}

}  // namespace
}  // namespace aa
