// End to end with kubectl as the client: the simulator, a real Prometheus scraping it, and the
// adapter binary serving the Kubernetes metrics APIs over HTTPS (self-signed certificate). kubectl
// talks straight to the adapter with a kubeconfig (a token, insecure-skip-tls-verify); its output
// is parsed and checked against Prometheus' own answer for the same query at the same evaluation
// time.

#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "demo/stack.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "integration/integration_util.h"
#include "nlohmann/json.hpp"

namespace aa {
namespace {

using integration::ParseQuantity;
using nlohmann::json;
using ::testing::HasSubstr;

constexpr char kNamespace[] = "kserve-test";

// A 3 s interval leaves time to read the same table through kubectl and the query API.
constexpr char kAdapterConfig[] = R"(
sampling:
  interval: 3s
  maxAge: 30s
  warmNamespaces: [kserve-test]
metrics:
- name: concurrency
  preset: {type: concurrency, source: knative-queue-proxy, window: 30s}
  containerConcurrency: 100
  targetUtilizationPercentage: 70
- name: cpu
  preset: {type: cpu, window: 30s}
  targetUtilization: 50
- name: memory
  query: sum by (<<.GroupBy>>) (container_memory_working_set_bytes{<<.LabelMatchers>>,container!="",container!="POD"})
)";

class KubectlIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto stack = demo::Stack::Start(integration::StackOptionsFor(kAdapterConfig));
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = stack->release();
    ASSERT_GT(stack_->adapter_https_port(), 0);
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
    // Wait (bounded) until the adapter has data: the wildcard answers 200.
    for (int i = 0; i < 60; ++i) {
      int code = -1;
      Kubectl({"get", "--raw",
               absl::StrCat("/apis/custom.metrics.k8s.io/v1beta2/namespaces/", kNamespace,
                            "/pods/*/cpu")},
              &code);
      if (code == 0) return;
      absl::SleepFor(absl::Milliseconds(500));
    }
    FAIL() << "the adapter never served cpu through kubectl";
  }

  // Runs kubectl with our kubeconfig; returns stdout+stderr and sets `exit_code`.
  static std::string Kubectl(const std::vector<std::string>& args, int* exit_code) {
    return integration::RunKubectl(*kubeconfig_, args, exit_code);
  }

  static json KubectlJson(const std::string& path) {
    return integration::KubectlJson(*kubeconfig_, path);
  }

  static std::map<std::string, double> PrometheusValues(const std::string& metric, absl::Time at) {
    return integration::PrometheusValues(stack_->adapter_https_port(), stack_->prometheus_port(),
                                         metric, kNamespace, absl::ToUnixMillis(at));
  }

  // The evaluation time of the adapter's current table of `metric` (the metrics APIs print it
  // truncated to seconds).
  static absl::Time SampledAt(const std::string& metric, const std::string& resource = "pods") {
    return integration::SampledAt(stack_->adapter_https_port(), kNamespace, metric, resource);
  }

  // Prometheus' answer at `at`, by "<pod>/<container>".
  static std::map<std::string, double> PrometheusByContainer(const std::string& query,
                                                             absl::Time at) {
    return integration::PrometheusValuesBy(stack_->prometheus_port(), query, {"pod", "container"},
                                           at);
  }

  static bool SameSecond(const std::string& rfc3339, absl::Time t) {
    return rfc3339 == integration::Rfc3339Seconds(t);
  }

  static demo::Stack* stack_;
  static std::string* kubeconfig_;
};

demo::Stack* KubectlIntegrationTest::stack_ = nullptr;
std::string* KubectlIntegrationTest::kubeconfig_ = nullptr;

TEST_F(KubectlIntegrationTest, DiscoveryThroughKubectl) {
  json j = KubectlJson("/apis");
  EXPECT_EQ(j["kind"], "APIGroupList");
  EXPECT_EQ(j["groups"].size(), 3u);
  j = KubectlJson("/apis/custom.metrics.k8s.io/v1beta2");
  std::set<std::string> names;
  for (const auto& r : j["resources"]) names.insert(r["name"].get<std::string>());
  EXPECT_TRUE(names.contains("pods/concurrency"));
  EXPECT_TRUE(names.contains("namespaces/memory"));
  EXPECT_EQ(names.size(), 6u);
  j = KubectlJson("/apis/metrics.k8s.io/v1beta1");
  EXPECT_EQ(j["resources"].size(), 2u);
  int code = 0;
  std::string out = Kubectl({"get", "--raw",
                             "/apis/custom.metrics.k8s.io/v1beta2/namespaces/" +
                                 std::string(kNamespace) + "/pods/*/nope"},
                            &code);
  EXPECT_NE(code, 0);
  EXPECT_THAT(out, HasSubstr("NotFound"));
  out = Kubectl({"get", "--raw",
                 "/apis/custom.metrics.k8s.io/v1beta2/namespaces/" + std::string(kNamespace) +
                     "/pods/*/cpu?labelSelector=a%20in%20(xyz%20abc)"},
                &code);
  EXPECT_NE(code, 0);
  EXPECT_THAT(out, HasSubstr("BadRequest"));
}

// Both custom metrics versions, every pod: values equal Prometheus' at the table's evaluation time.
// Prometheus' answer for a time can still change after the adapter asked (a scrape stamped before
// it is committed late under load), so each comparison here polls, within a bounded time, for an
// adapter sample that Prometheus confirms; a wrong value never matches and fails at the deadline.
TEST_F(KubectlIntegrationTest, CustomMetricsEqualPrometheus) {
  for (const auto& [metric, version] : std::vector<std::pair<std::string, std::string>>{
           {"cpu", "v1beta2"}, {"cpu", "v1beta1"}, {"concurrency", "v1beta2"}}) {
    bool equal = false;
    std::string last;
    for (const absl::Time deadline = absl::Now() + absl::Seconds(30);
         !equal && absl::Now() < deadline;) {
      json j = KubectlJson(absl::StrCat("/apis/custom.metrics.k8s.io/", version, "/namespaces/",
                                        kNamespace, "/pods/*/", metric));
      absl::Time at = SampledAt(metric);
      ASSERT_FALSE(j["items"].empty());
      if (!SameSecond(j["items"][0]["timestamp"].get<std::string>(), at)) continue;
      std::map<std::string, double> prom = PrometheusValues(metric, at);
      equal = prom.size() == j["items"].size();
      for (const auto& item : j["items"]) {
        EXPECT_EQ(item["describedObject"]["kind"], "Pod");
        EXPECT_EQ(item["describedObject"]["namespace"], kNamespace);
        if (version == "v1beta2") {
          EXPECT_EQ(item["metric"]["name"], metric);
          EXPECT_EQ(item["windowSeconds"], 30);
        } else {
          EXPECT_EQ(item["metricName"], metric);
          EXPECT_EQ(item["window"], 30);
        }
        std::string pod = item["describedObject"]["name"].get<std::string>();
        double v = ParseQuantity(item["value"].get<std::string>());
        // Values are rounded (up or to nearest) to milli.
        equal = equal && prom.contains(pod) && std::abs(prom[pod] - v) <= 0.001;
      }
      last = absl::StrCat(j.dump(), " vs Prometheus ", json(prom).dump());
    }
    EXPECT_TRUE(equal) << metric << " " << version << ": " << last;
  }
}

// The selector arrives percent-encoded with '+' for spaces, as the aggregator re-encodes it.
TEST_F(KubectlIntegrationTest, LabelSelectorPicksThePodsOfOneInferenceService) {
  json j = KubectlJson(absl::StrCat(
      "/apis/custom.metrics.k8s.io/v1beta2/namespaces/", kNamespace,
      "/pods/%2A/cpu?labelSelector=serving.kserve.io%2Finferenceservice+in+%28cpu-model%29"));
  ASSERT_FALSE(j["items"].empty());
  for (const auto& item : j["items"]) {
    EXPECT_TRUE(item["describedObject"]["name"].get<std::string>().starts_with("cpu-model"))
        << item.dump();
  }
  json all = KubectlJson(
      absl::StrCat("/apis/custom.metrics.k8s.io/v1beta2/namespaces/", kNamespace, "/pods/*/cpu"));
  EXPECT_LT(j["items"].size(), all["items"].size());
}

TEST_F(KubectlIntegrationTest, NamespaceObjectAndExternalAreTheTotal) {
  for (const std::string& path :
       {absl::StrCat("/apis/custom.metrics.k8s.io/v1beta2/namespaces/", kNamespace, "/metrics/cpu"),
        absl::StrCat("/apis/external.metrics.k8s.io/v1beta1/namespaces/", kNamespace, "/cpu")}) {
    bool equal = false;
    std::string last;
    for (const absl::Time deadline = absl::Now() + absl::Seconds(30);
         !equal && absl::Now() < deadline;) {
      json j = KubectlJson(path);
      absl::Time at = SampledAt("cpu");
      ASSERT_EQ(j["items"].size(), 1u) << j.dump();
      if (!SameSecond(j["items"][0]["timestamp"].get<std::string>(), at)) continue;
      double total = 0;
      for (const auto& [pod, v] : PrometheusValues("cpu", at)) total += v;
      double v = ParseQuantity(j["items"][0]["value"].get<std::string>());
      equal = total > 0 && std::abs(total - v) <= 0.001;
      last = absl::StrCat(j.dump(), " vs Prometheus total ", total);
    }
    EXPECT_TRUE(equal) << path << ": " << last;
  }
}

TEST_F(KubectlIntegrationTest, PodMetricsEqualPrometheusAndKubectlTopShowsThePods) {
  bool equal = false;
  std::string last;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(30);
       !equal && absl::Now() < deadline;) {
    json j =
        KubectlJson(absl::StrCat("/apis/metrics.k8s.io/v1beta1/namespaces/", kNamespace, "/pods"));
    // Per container, from the cAdvisor definitions the cpu preset brings.
    absl::Time cpu_at = SampledAt("cpu", "containers");
    absl::Time memory_at = SampledAt("memory", "containers");
    EXPECT_EQ(j["kind"], "PodMetricsList");
    if (j["items"].empty() || !SameSecond(j["items"][0]["timestamp"].get<std::string>(), cpu_at)) {
      continue;
    }
    const std::string filter =
        absl::StrCat("container!=\"\",container!=\"POD\",namespace=\"", kNamespace, "\"");
    std::map<std::string, double> cpu = PrometheusByContainer(
        absl::StrCat("sum by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{",
                     filter, "}[30s]))"),
        cpu_at);
    std::map<std::string, double> memory = PrometheusByContainer(
        absl::StrCat("sum by (namespace, pod, container) (container_memory_working_set_bytes{",
                     filter, "})"),
        memory_at);
    size_t containers = 0;
    equal = !cpu.empty();
    for (const auto& item : j["items"]) {
      std::string pod = item["metadata"]["name"].get<std::string>();
      integration::ExpectWindowWithin(item["window"], absl::Seconds(30));
      for (const auto& container : item["containers"]) {
        // The simulator's model container, by its real name.
        EXPECT_EQ(container["name"], "kserve-container");
        std::string key = absl::StrCat(pod, "/", container["name"].get<std::string>());
        double c = ParseQuantity(container["usage"]["cpu"].get<std::string>());
        double m = ParseQuantity(container["usage"]["memory"].get<std::string>());
        equal = equal && cpu.contains(key) && std::abs(cpu[key] - c) <= 1e-6 &&
                memory.contains(key) && std::abs(memory[key] - m) <= 1;
        ++containers;
      }
    }
    equal = equal && containers == cpu.size();
    last = absl::StrCat(j.dump(), " vs Prometheus cpu ", json(cpu).dump(), " memory ",
                        json(memory).dump());
  }
  EXPECT_TRUE(equal) << last;

  int code = -1;
  std::string out = Kubectl({"top", "pod", "-n", kNamespace}, &code);
  ASSERT_EQ(code, 0) << out;
  EXPECT_THAT(out, HasSubstr("CPU(cores)"));
  EXPECT_THAT(out, HasSubstr("MEMORY(bytes)"));
  std::map<std::string, double> cpu = PrometheusValues("cpu", SampledAt("cpu"));
  ASSERT_FALSE(cpu.empty());
  for (const auto& [pod, v] : cpu) EXPECT_THAT(out, HasSubstr(pod)) << out;
}

}  // namespace
}  // namespace aa
