// metrics-server parity where kubectl and the HPA look, end to end: the simulator with pods in
// three namespaces nobody asked for, a real Prometheus, the adapter binary over HTTPS and the
// pinned kubectl. `kubectl top pod -A` (the all-namespaces PodMetricsList) lists every pod with
// data from one whole-cluster query per definition, without demanding any namespace; fieldSelector
// on pod and node lists selects by metadata.name and metadata.namespace, and anything else is
// metrics-server's 400 with its message.

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "demo/stack.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "integration/integration_util.h"
#include "nlohmann/json.hpp"

namespace aa {
namespace {

using integration::Scrape;
using integration::ScrapeValue;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

const std::vector<std::string> kNamespaces = {"team-a", "team-b", "team-c"};

std::string Scenario() {
  std::string out = "services:\n";
  for (const std::string& ns : kNamespaces) {
    absl::StrAppend(&out, "  - name: model-", ns.substr(5), "\n    namespace: ", ns,
                    "\n    service_time: 100ms\n    cpu_per_request: 0.01\n    idle_cpu: 20m\n"
                    "    cpu_request: \"1\"\n    memory_request: 1Gi\n"
                    "    memory_working_set: 256Mi\n    memory_per_request: 1Mi\n"
                    "    replicas: 2\n    start_delay: 0s\n"
                    "    load: {loop: true, steps: [{duration: 10s, rps: 20}]}\n");
  }
  return out;
}

// One namespace per query when namespaces are demanded one by one, and never a whole-cluster
// query for them: only the all-namespaces read can make one.
constexpr char kAdapterConfig[] = R"(
sampling:
  interval: 2s
  maxAge: 20s
  maxNamespacesPerQuery: 1
  wholeClusterPercent: 0
metrics:
- name: cpu
  preset: {type: cpu, window: 30s}
  targetUtilization: 50
)";

constexpr char kUnknownField[] =
    R"("spec.nodeName" is not a known field selector: only "metadata.name", "metadata.namespace")";

class MetricsServerIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    demo::StackOptions options = integration::StackOptionsFor(kAdapterConfig);
    options.sim_scenario_yaml = Scenario();
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
  void SetUp() override { ASSERT_NE(stack_, nullptr); }

  static std::string Kubectl(const std::vector<std::string>& args, int* exit_code) {
    return integration::RunKubectl(*kubeconfig_, args, exit_code);
  }
  static json KubectlJson(const std::string& path, int* exit_code = nullptr) {
    return integration::KubectlJson(*kubeconfig_, path, exit_code);
  }
  // (namespace, name) of the items of a PodMetricsList, in their order.
  static std::vector<std::pair<std::string, std::string>> Items(const json& list) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& item : list["items"]) {
      out.emplace_back(item["metadata"].value("namespace", ""),
                       item["metadata"]["name"].get<std::string>());
    }
    return out;
  }
  // The pods Prometheus has a working set for now, as (namespace, pod), sorted.
  static std::vector<std::pair<std::string, std::string>> PrometheusPods() {
    json j = integration::PrometheusQueryAt(
        stack_->prometheus_port(),
        "sum by (namespace, pod) "
        "(container_memory_working_set_bytes{container=\"kserve-container\"})",
        absl::ToUnixMillis(absl::Now()));
    std::set<std::pair<std::string, std::string>> pods;
    for (const auto& s : j["data"]["result"]) {
      pods.emplace(s["metric"]["namespace"].get<std::string>(),
                   s["metric"]["pod"].get<std::string>());
    }
    return {pods.begin(), pods.end()};
  }
  // Waits (bounded) until the all-namespaces list has the six pods Prometheus has, and returns it.
  static std::vector<std::pair<std::string, std::string>> AllPods() {
    std::vector<std::pair<std::string, std::string>> items, prometheus;
    for (int i = 0; i < 120; ++i) {
      int code = -1;
      json j = KubectlJson("/apis/metrics.k8s.io/v1beta1/pods", &code);
      if (code == 0) {
        EXPECT_EQ(j["kind"], "PodMetricsList");
        items = Items(j);
        prometheus = PrometheusPods();
        if (items.size() == 6 && items == prometheus) return items;
      }
      absl::SleepFor(absl::Milliseconds(500));
    }
    ADD_FAILURE() << "the all-namespaces list never held Prometheus' six pods: "
                  << json(items).dump() << " vs " << json(prometheus).dump();
    return items;
  }
  static demo::Stack* stack_;
  static std::string* kubeconfig_;
};

demo::Stack* MetricsServerIntegrationTest::stack_ = nullptr;
std::string* MetricsServerIntegrationTest::kubeconfig_ = nullptr;

// Nobody asked for team-a, team-b or team-c before: the all-namespaces list has every pod, ordered
// by namespace and name as metrics-server orders them, and kubectl top pod -A prints them. The
// cost is one query per definition per round, and no namespace is demanded.
TEST_F(MetricsServerIntegrationTest, TopPodAllNamespacesListsEveryPodAtBoundedCost) {
  std::vector<std::pair<std::string, std::string>> pods = AllPods();
  ASSERT_EQ(pods.size(), 6u);
  EXPECT_TRUE(std::is_sorted(pods.begin(), pods.end()));
  std::set<std::string> namespaces;
  for (const auto& [ns, pod] : pods) namespaces.insert(ns);
  EXPECT_EQ(namespaces, std::set<std::string>(kNamespaces.begin(), kNamespaces.end()));

  int code = -1;
  std::string out = Kubectl({"top", "pod", "-A"}, &code);
  ASSERT_EQ(code, 0) << out;
  EXPECT_THAT(out, HasSubstr("NAMESPACE"));
  for (const auto& [ns, pod] : pods) EXPECT_THAT(out, HasSubstr(pod)) << out;

  // Two more rounds, then the sampler's own figures: the container cpu table, the span of its
  // samples (the PodMetrics window), the memory table and the pod labels, one query each;
  // namespaces asked for one by one (maxNamespacesPerQuery 1) would cost one query per namespace
  // and definition.
  absl::SleepFor(absl::Seconds(4));
  const std::string metrics = Scrape(stack_->adapter_port());
  EXPECT_EQ(ScrapeValue(metrics, "autoscale_adapter_sampler_demanded_namespaces", {}), 0)
      << metrics;
  EXPECT_LE(ScrapeValue(metrics, "autoscale_adapter_sampler_round_queries", {}), 4) << metrics;
  EXPECT_GE(ScrapeValue(metrics, "autoscale_adapter_sampler_round_queries", {}), 2) << metrics;
}

TEST_F(MetricsServerIntegrationTest, FieldSelectorsOnPodsAsMetricsServer) {
  std::vector<std::pair<std::string, std::string>> pods = AllPods();
  ASSERT_EQ(pods.size(), 6u);
  const std::string& first = pods[0].second;  // a team-a pod
  const std::string base = "/apis/metrics.k8s.io/v1beta1/pods?fieldSelector=";
  auto items = [&](const std::string& path) { return Items(KubectlJson(path)); };

  for (const auto& [ns, pod] : items(base + "metadata.namespace%3Dteam-b")) EXPECT_EQ(ns, "team-b");
  EXPECT_EQ(items(base + "metadata.namespace%3Dteam-b").size(), 2u);
  EXPECT_EQ(items(base + "metadata.namespace%3D%3Dteam-b").size(), 2u);
  auto not_a = items(base + "metadata.namespace%21%3Dteam-a");
  EXPECT_EQ(not_a.size(), 4u);
  for (const auto& [ns, pod] : not_a) EXPECT_NE(ns, "team-a");
  EXPECT_EQ(items(base + "metadata.name%3D" + first),
            (std::vector<std::pair<std::string, std::string>>{pods[0]}));
  EXPECT_EQ(items(base + "metadata.name%21%3D" + first).size(), 5u);
  EXPECT_EQ(items(base + "metadata.namespace%3Dteam-a,metadata.name%21%3D" + first).size(), 1u);
  EXPECT_EQ(items("/apis/metrics.k8s.io/v1beta1/namespaces/team-a/pods?fieldSelector="
                  "metadata.name%3D" +
                  first)
                .size(),
            1u);
  EXPECT_TRUE(items(base + "metadata.namespace%3Dnowhere").empty());

  // Through kubectl top, which sends the selector as it is.
  int code = -1;
  std::string out =
      Kubectl({"top", "pod", "-A", "--field-selector", "metadata.namespace=team-c"}, &code);
  ASSERT_EQ(code, 0) << out;
  for (const auto& [ns, pod] : pods) {
    if (ns == "team-c") {
      EXPECT_THAT(out, HasSubstr(pod));
    } else {
      EXPECT_THAT(out, Not(HasSubstr(pod)));
    }
  }
  out =
      Kubectl({"top", "pod", "-n", "team-a", "--field-selector", "metadata.name!=" + first}, &code);
  ASSERT_EQ(code, 0) << out;
  EXPECT_THAT(out, Not(HasSubstr(first)));
  EXPECT_THAT(out, HasSubstr(pods[1].second));

  // metrics-server answers 400 for another field (spec.nodeName included: its pod list holds
  // only metadata) and for a malformed selector, with the generic apiserver's messages.
  out = Kubectl({"top", "pod", "-A", "--field-selector", "spec.nodeName=node-1"}, &code);
  EXPECT_NE(code, 0);
  EXPECT_THAT(out, HasSubstr(kUnknownField));
  out = Kubectl({"get", "--raw", base + "metadata.name"}, &code);
  EXPECT_NE(code, 0);
  EXPECT_THAT(out, HasSubstr("BadRequest"));
  EXPECT_THAT(out,
              HasSubstr("invalid selector: 'metadata.name'; can't understand 'metadata.name'"));
  out = Kubectl({"get", "--raw", base + "metadata.name%3Da%3Db"}, &code);
  EXPECT_NE(code, 0);
  EXPECT_THAT(out, HasSubstr("invalid field selector: unescaped character in value: 61"));
}

TEST_F(MetricsServerIntegrationTest, FieldSelectorsOnNodesAsMetricsServer) {
  std::vector<std::string> nodes;
  for (int i = 0; i < 60 && nodes.size() < 2; ++i) {
    int code = -1;
    json j = KubectlJson("/apis/metrics.k8s.io/v1beta1/nodes", &code);
    nodes.clear();
    if (code == 0) {
      for (const auto& item : j["items"]) nodes.push_back(item["metadata"]["name"]);
    }
    if (nodes.size() < 2) absl::SleepFor(absl::Milliseconds(500));
  }
  ASSERT_EQ(nodes.size(), 2u);
  auto names = [&](const std::string& selector) {
    std::vector<std::string> out;
    json j = KubectlJson("/apis/metrics.k8s.io/v1beta1/nodes?fieldSelector=" + selector);
    for (const auto& item : j["items"]) out.push_back(item["metadata"]["name"]);
    return out;
  };
  EXPECT_EQ(names("metadata.name%3D" + nodes[0]), std::vector<std::string>{nodes[0]});
  EXPECT_EQ(names("metadata.name%21%3D" + nodes[0]), std::vector<std::string>{nodes[1]});
  // A node has no namespace: metadata.namespace reads as "", as metrics-server matches it.
  EXPECT_TRUE(names("metadata.namespace%3Dteam-a").empty());
  EXPECT_EQ(names("metadata.namespace%21%3Dteam-a").size(), 2u);
  int code = -1;
  std::string out = Kubectl(
      {"get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes?fieldSelector=spec.nodeName%3Dx"},
      &code);
  EXPECT_NE(code, 0);
  EXPECT_THAT(out, HasSubstr(kUnknownField));
}

}  // namespace
}  // namespace aa
