// NodeMetrics end to end: the simulator's nodes (cAdvisor root cgroup, kube-state-metrics node
// series), a real Prometheus scraping them, the adapter serving metrics.k8s.io over HTTPS with its
// built-in node queries, and kubectl as the client: `kubectl get --raw` for the NodeMetricsList and
// one NodeMetrics, checked against Prometheus' own answer at the table's evaluation time, and
// `kubectl top node`. `top node` also reads the Node objects (allocatable) from the core API, so
// for it kubectl talks to a stand-in kube-apiserver (the fake one) that serves /api/v1/nodes from
// the simulator's kube_node_status_* series and forwards metrics.k8s.io to the adapter, as the
// aggregator does.

#include <cmath>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "demo/stack.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "integration/integration_util.h"
#include "kube/fake_apiserver.h"
#include "net/call.h"
#include "net/url.h"
#include "selector/selector.h"

namespace aa {
namespace {

using integration::ParseQuantity;
using integration::Rfc3339Seconds;
using kube::testing::FakeApiServer;
using kube::testing::FakeRequest;
using kube::testing::FakeResponse;
using nlohmann::json;
using ::testing::HasSubstr;

// The cpu preset brings the built-in per-container and per-node (cAdvisor) definitions. A 3 s
// interval leaves time to read one table through kubectl and the query API.
constexpr char kAdapterConfig[] = R"(
sampling:
  interval: 3s
  maxAge: 30s
  warmNamespaces: [kserve-test]
metrics:
- name: cpu
  preset: {type: cpu, window: 30s}
  targetUtilization: 50
)";

constexpr char kNodeCpuQuery[] =
    "sum by (node) (rate(container_cpu_usage_seconds_total{id=\"/\",node!=\"\"}[30s]))";
constexpr char kNodeMemoryQuery[] =
    "sum by (node) (container_memory_working_set_bytes{id=\"/\",node!=\"\"})";

class NodeMetricsIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto stack = demo::Stack::Start(integration::StackOptionsFor(kAdapterConfig));
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = stack->release();
    kubeconfig_ = new std::string(stack_->work_dir() + "/kubeconfig");
    integration::WriteKubeconfig(*kubeconfig_, stack_->adapter_https_port());
  }
  static void TearDownTestSuite() {
    delete front_;
    front_ = nullptr;
    delete stack_;
    stack_ = nullptr;
    delete kubeconfig_;
    kubeconfig_ = nullptr;
    delete front_kubeconfig_;
    front_kubeconfig_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(stack_, nullptr);
    // Wait (bounded) until both nodes have values: the first request demands the table.
    for (int i = 0; i < 80; ++i) {
      int code = -1;
      json j = KubectlJson("/apis/metrics.k8s.io/v1beta1/nodes", &code);
      if (code == 0 && j["items"].size() == 2) return;
      absl::SleepFor(absl::Milliseconds(500));
    }
    FAIL() << "the adapter never served the two nodes' metrics";
  }

  static std::string Kubectl(const std::string& kubeconfig, const std::vector<std::string>& args,
                             int* exit_code) {
    return integration::RunKubectl(kubeconfig, args, exit_code);
  }

  // `kubectl get --raw path` against the adapter; `exit_code` null: it must succeed.
  static json KubectlJson(const std::string& path, int* exit_code = nullptr) {
    return integration::KubectlJson(*kubeconfig_, path, exit_code);
  }

  // The evaluation time of the adapter's current node table of `metric` (query API, ms).
  static absl::Time SampledAt(const std::string& metric) {
    return integration::SampledAt(stack_->adapter_https_port(), "default", metric, "nodemetrics");
  }

  // Prometheus' answer to `query` at `at`, by the value of `label`.
  static std::map<std::string, double> Prometheus(const std::string& query, absl::Time at,
                                                  const std::string& label = "node") {
    return integration::PrometheusValuesBy(stack_->prometheus_port(), query, {label}, at);
  }

  // Starts the stand-in kube-apiserver for `kubectl top node` (once).
  static void StartFront() {
    if (front_ != nullptr) return;
    auto front = FakeApiServer::Start();
    ASSERT_TRUE(front.ok()) << front.status();
    front_ = front->release();
    const int adapter = stack_->adapter_https_port();
    // Forwards the request, query included, to the adapter's HTTPS port.
    auto forward = [adapter](const FakeRequest& req) {
      std::string target = req.path;
      char sep = '?';
      for (const auto& [k, v] : req.params) {
        absl::StrAppend(&target, std::string(1, sep), k, "=", net::UrlEncode(v));
        sep = '&';
      }
      auto r = net::HttpsGetInsecure("127.0.0.1", adapter, target, "integration-test-token");
      if (!r.ok()) return FakeResponse::Status(502, "BadGateway", r.status().ToString());
      json body = json::parse(r->body, nullptr, false);
      if (body.is_discarded()) return FakeResponse::Status(502, "BadGateway", r->body);
      return FakeResponse{r->status, std::move(body)};
    };
    // The Node objects: capacity and allocatable from kube-state-metrics' series.
    std::map<std::string, json> nodes;
    for (const char* family : {"kube_node_status_capacity", "kube_node_status_allocatable"}) {
      json j = integration::PrometheusQueryAt(stack_->prometheus_port(), family,
                                              absl::ToUnixMillis(absl::Now()));
      for (const auto& s : j["data"]["result"]) {
        const std::string node = s["metric"]["node"].get<std::string>();
        const std::string resource = s["metric"]["resource"].get<std::string>();
        const std::string field =
            std::string(family) == "kube_node_status_capacity" ? "capacity" : "allocatable";
        const double v = std::stod(s["value"][1].get<std::string>());
        // Whole bytes; cores as milli (7.5 -> 7500m).
        nodes[node]["status"][field][resource] = resource == "cpu"
                                                     ? absl::StrCat(std::llround(v * 1000), "m")
                                                     : absl::StrCat(std::llround(v));
      }
    }
    ASSERT_EQ(nodes.size(), 2u);
    json items = json::array();
    for (auto& [name, node] : nodes) {
      node["kind"] = "Node";
      node["apiVersion"] = "v1";
      node["metadata"] = {{"name", name}, {"labels", {{"kubernetes.io/hostname", name}}}};
      items.push_back(node);
      // A copy: clang 14 cannot capture a structured binding.
      front_->Handle("GET", "/api/v1/nodes/" + name, [object = node](const FakeRequest&) {
        return FakeResponse{200, object};
      });
      front_->Handle("GET", "/apis/metrics.k8s.io/v1beta1/nodes/" + name, forward);
    }
    // The list honours labelSelector, as kube-apiserver does (kubectl top node -l).
    front_->Handle("GET", "/api/v1/nodes", [items](const FakeRequest& req) {
      auto selector = selector::Selector::Parse(req.Param("labelSelector"));
      if (!selector.ok()) {
        return FakeResponse::Status(400, "BadRequest", selector.status().ToString());
      }
      json selected = json::array();
      for (const json& node : items) {
        std::map<std::string, std::string, std::less<>> labels;
        for (const auto& [k, v] : node["metadata"]["labels"].items()) labels[k] = v;
        if (selector->Matches(labels)) selected.push_back(node);
      }
      return FakeResponse{200, json{{"kind", "NodeList"},
                                    {"apiVersion", "v1"},
                                    {"metadata", {{"resourceVersion", "1"}}},
                                    {"items", selected}}};
    });
    for (const char* path : {"/apis", "/apis/metrics.k8s.io", "/apis/metrics.k8s.io/v1beta1",
                             "/apis/metrics.k8s.io/v1beta1/nodes"}) {
      front_->Handle("GET", path, forward);
    }
    front_kubeconfig_ = new std::string(stack_->work_dir() + "/front-kubeconfig");
    std::ofstream(*front_kubeconfig_) << front_->Kubeconfig("front-token");
  }

  static demo::Stack* stack_;
  static std::string* kubeconfig_;
  static FakeApiServer* front_;
  static std::string* front_kubeconfig_;
};

demo::Stack* NodeMetricsIntegrationTest::stack_ = nullptr;
std::string* NodeMetricsIntegrationTest::kubeconfig_ = nullptr;
FakeApiServer* NodeMetricsIntegrationTest::front_ = nullptr;
std::string* NodeMetricsIntegrationTest::front_kubeconfig_ = nullptr;

// The list and one node: cpu in nanocores and memory in bytes as canonical quantities, equal to
// Prometheus' answer for the root cgroups at the table's evaluation time.
TEST_F(NodeMetricsIntegrationTest, NodeMetricsEqualPrometheus) {
  bool equal = false;
  std::string last;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(30);
       !equal && absl::Now() < deadline;) {
    json j = KubectlJson("/apis/metrics.k8s.io/v1beta1/nodes");
    const absl::Time cpu_at = SampledAt("cpu");
    const absl::Time memory_at = SampledAt("memory");
    EXPECT_EQ(j["kind"], "NodeMetricsList");
    EXPECT_EQ(j["apiVersion"], "metrics.k8s.io/v1beta1");
    if (j["items"].empty() || j["items"][0]["timestamp"] != Rfc3339Seconds(cpu_at)) continue;
    std::map<std::string, double> cpu = Prometheus(kNodeCpuQuery, cpu_at);
    std::map<std::string, double> memory = Prometheus(kNodeMemoryQuery, memory_at);
    equal = cpu.size() == 2 && j["items"].size() == 2;
    for (const auto& item : j["items"]) {
      const std::string name = item["metadata"]["name"].get<std::string>();
      integration::ExpectWindowWithin(item["window"], absl::Seconds(30));
      const std::string c = item["usage"]["cpu"].get<std::string>();
      const std::string m = item["usage"]["memory"].get<std::string>();
      // Canonical DecimalSI cores (46652000 nanocores prints as 46652u), bytes (BinarySI: a
      // number, or Ki/Mi/Gi when it divides evenly).
      EXPECT_THAT(c, ::testing::MatchesRegex("0|[1-9][0-9]*[num]?")) << c;
      EXPECT_THAT(m, ::testing::MatchesRegex("0|[1-9][0-9]*(Ki|Mi|Gi)?")) << m;
      equal = equal && cpu.contains(name) && std::abs(cpu[name] - ParseQuantity(c)) <= 2e-9 &&
              memory.contains(name) && std::abs(memory[name] - ParseQuantity(m)) <= 1;
    }
    last = absl::StrCat(j.dump(), " vs Prometheus cpu ", json(cpu).dump(), " memory ",
                        json(memory).dump());
  }
  EXPECT_TRUE(equal) << last;

  // The kubelet's resource metrics (what metrics-server and prometheus-adapter's current default
  // nodeQuery read) say the same as the root cgroups.
  const absl::Time at = SampledAt("cpu");
  std::map<std::string, double> root = Prometheus(kNodeCpuQuery, at);
  std::map<std::string, double> kubelet =
      Prometheus("sum by (node) (rate(node_cpu_usage_seconds_total[30s]))", at);
  ASSERT_EQ(kubelet.size(), 2u);
  for (const auto& [node, v] : root) EXPECT_NEAR(kubelet[node], v, 1e-9) << node;
  EXPECT_EQ(Prometheus("sum by (node) (node_memory_working_set_bytes)", at),
            Prometheus(kNodeMemoryQuery, at));

  // One node by name: a NodeMetrics object (not a list) for that node.
  json one = KubectlJson("/apis/metrics.k8s.io/v1beta1/nodes/sim-node-2");
  EXPECT_EQ(one["kind"], "NodeMetrics");
  EXPECT_EQ(one["apiVersion"], "metrics.k8s.io/v1beta1");
  EXPECT_EQ(one["metadata"]["name"], "sim-node-2");
  integration::ExpectWindowWithin(one["window"], absl::Seconds(30));
  ASSERT_TRUE(one["usage"].contains("cpu") && one["usage"].contains("memory")) << one.dump();
  const absl::Time one_at = SampledAt("cpu");
  if (one["timestamp"] == Rfc3339Seconds(one_at)) {
    EXPECT_NEAR(ParseQuantity(one["usage"]["cpu"].get<std::string>()),
                Prometheus(kNodeCpuQuery, one_at)["sim-node-2"], 2e-9);
  }
}

// Every pod of the cluster runs on a node (kube_pod_info) whose usage covers its pods' usage.
TEST_F(NodeMetricsIntegrationTest, NodeUsageCoversItsPods) {
  json j;
  absl::Time at;
  for (int attempt = 0; attempt < 10; ++attempt) {
    j = KubectlJson("/apis/metrics.k8s.io/v1beta1/nodes");
    at = SampledAt("cpu");
    if (!j["items"].empty() && j["items"][0]["timestamp"] == Rfc3339Seconds(at)) break;
  }
  ASSERT_EQ(j["items"].size(), 2u);
  ASSERT_EQ(j["items"][0]["timestamp"], Rfc3339Seconds(at));
  std::map<std::string, double> pods_cpu = Prometheus(
      "sum by (node) (sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{"
      "container=\"\",pod!=\"\"}[30s])) * on (namespace, pod) group_left (node) kube_pod_info)",
      at);
  std::map<std::string, double> pods_memory = Prometheus(
      "sum by (node) (sum by (namespace, pod) (container_memory_working_set_bytes{"
      "container=\"\",pod!=\"\"}) * on (namespace, pod) group_left (node) kube_pod_info)",
      at);
  ASSERT_FALSE(pods_cpu.empty());
  for (const auto& item : j["items"]) {
    const std::string name = item["metadata"]["name"].get<std::string>();
    EXPECT_GE(ParseQuantity(item["usage"]["cpu"].get<std::string>()), pods_cpu[name]) << name;
    EXPECT_GT(ParseQuantity(item["usage"]["memory"].get<std::string>()), pods_memory[name]) << name;
  }
}

TEST_F(NodeMetricsIntegrationTest, UnknownNodeIsNotFoundAndLabelSelectorPicksNodes) {
  int code = 0;
  std::string out = Kubectl(
      *kubeconfig_, {"get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes/no-such-node"}, &code);
  EXPECT_NE(code, 0);
  EXPECT_THAT(out, HasSubstr("NotFound"));
  EXPECT_THAT(out, HasSubstr("no-such-node"));
  // A malformed selector is a 400.
  out = Kubectl(*kubeconfig_,
                {"get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes?labelSelector=a%20in%20(x"},
                &code);
  EXPECT_NE(code, 0);
  EXPECT_THAT(out, HasSubstr("BadRequest"));
  // Selecting nodes by their Kubernetes labels (kube_node_labels here): exactly the selected node.
  json j = KubectlJson(
      "/apis/metrics.k8s.io/v1beta1/nodes?labelSelector=kubernetes.io%2Fhostname%3Dsim-node-1");
  ASSERT_EQ(j["items"].size(), 1u) << j.dump();
  EXPECT_EQ(j["items"][0]["metadata"]["name"], "sim-node-1");
  j = KubectlJson("/apis/metrics.k8s.io/v1beta1/nodes?labelSelector=kubernetes.io%2Fos%3Dlinux");
  EXPECT_EQ(j["items"].size(), 2u) << j.dump();
}

// `kubectl top node` and `kubectl top node NAME`: usage in millicores and Mi, percentages of the
// Node's allocatable, for the table Prometheus is asked about.
TEST_F(NodeMetricsIntegrationTest, KubectlTopNodeShowsTheNodes) {
  ASSERT_NO_FATAL_FAILURE(StartFront());
  bool equal = false;
  std::string last;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(30);
       !equal && absl::Now() < deadline;) {
    const absl::Time before = SampledAt("cpu");
    int code = -1;
    std::string out = Kubectl(*front_kubeconfig_, {"top", "node"}, &code);
    const absl::Time after = SampledAt("cpu");
    ASSERT_EQ(code, 0) << out;
    if (before != after) continue;  // a new table came in between
    std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipEmpty());
    ASSERT_EQ(lines.size(), 3u) << out;
    EXPECT_THAT(lines[0],
                ::testing::MatchesRegex(
                    "NAME +CPU\\(cores\\) +CPU\\(%\\) +MEMORY\\(bytes\\) +MEMORY\\(%\\) *"));
    std::map<std::string, double> cpu = Prometheus(kNodeCpuQuery, before);
    std::map<std::string, double> memory = Prometheus(kNodeMemoryQuery, SampledAt("memory"));
    equal = true;
    for (size_t i = 1; i < lines.size(); ++i) {
      std::vector<std::string> f = absl::StrSplit(lines[i], ' ', absl::SkipEmpty());
      ASSERT_EQ(f.size(), 5u) << lines[i];
      ASSERT_TRUE(cpu.contains(f[0])) << lines[i];
      // kubectl prints MilliValue() (rounded up) and Value() / 2^20; percentages of 7.5 cores
      // and 31 GiB allocatable, truncated.
      const double cpu_m = std::ceil(cpu[f[0]] * 1000 - 1e-6);
      const double memory_mi = std::floor(memory[f[0]] / 1048576);
      equal =
          equal && f[1] == absl::StrCat(cpu_m, "m") &&
          f[2] == absl::StrCat(static_cast<int64_t>(cpu_m * 100 / 7500), "%") &&
          f[3] == absl::StrCat(memory_mi, "Mi") &&
          f[4] == absl::StrCat(static_cast<int64_t>(memory[f[0]] * 100 / (31.0 * 1073741824)), "%");
    }
    last =
        absl::StrCat(out, " vs Prometheus cpu ", json(cpu).dump(), " memory ", json(memory).dump());
  }
  EXPECT_TRUE(equal) << last;
  std::printf("kubectl top node:\n%s\n", last.c_str());

  int code = -1;
  std::string out = Kubectl(*front_kubeconfig_, {"top", "node", "sim-node-1"}, &code);
  ASSERT_EQ(code, 0) << out;
  EXPECT_THAT(out, HasSubstr("sim-node-1"));
  EXPECT_THAT(out, ::testing::Not(HasSubstr("sim-node-2")));
  // By label: the selector reaches the adapter (kube_node_labels) and kube-apiserver alike.
  out = Kubectl(*front_kubeconfig_, {"top", "node", "-l", "kubernetes.io/hostname=sim-node-2"},
                &code);
  ASSERT_EQ(code, 0) << out;
  EXPECT_THAT(out, HasSubstr("sim-node-2"));
  EXPECT_THAT(out, ::testing::Not(HasSubstr("sim-node-1")));
  EXPECT_THAT(out, ::testing::Not(HasSubstr("unknown")));
  // kubectl read the node's metrics and the Node object through the stand-in.
  EXPECT_GE(front_->CountRequests("GET", "/apis/metrics.k8s.io/v1beta1/nodes/sim-node-1"), 1);
  EXPECT_GE(front_->CountRequests("GET", "/api/v1/nodes/sim-node-1"), 1);
}

}  // namespace
}  // namespace aa
