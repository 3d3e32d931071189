#include "demo/sim/exposition.h"

#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "demo/sim/scenario.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace aa::sim {
namespace {

using ::testing::Contains;
using ::testing::IsSupersetOf;

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct Parsed {
  std::map<std::string, std::string> types;  // family -> type
  std::vector<Sample> samples;
};

// A strict parser of the text format subset the simulator writes: fails the test on anything else.
Parsed Parse(const std::string& text) {
  Parsed out;
  std::istringstream in(text);
  std::string line;
  std::set<std::string> helped;
  while (std::getline(in, line)) {
    EXPECT_FALSE(line.empty());
    if (line.rfind("# HELP ", 0) == 0) {
      helped.insert(line.substr(7, line.find(' ', 7) - 7));
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      const size_t sp = line.find(' ', 7);
      const std::string family = line.substr(7, sp - 7);
      EXPECT_TRUE(helped.count(family)) << family;
      EXPECT_EQ(out.types.count(family), 0u) << "family twice: " << family;
      out.types[family] = line.substr(sp + 1);
      continue;
    }
    Sample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = line.substr(0, i);
    EXPECT_TRUE(std::isalpha(static_cast<unsigned char>(s.name[0])) || s.name[0] == '_') << line;
    for (char c : s.name)
      EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':') << line;
    if (line[i] == '{') {
      ++i;
      while (line[i] != '}') {
        const size_t eq = line.find('=', i);
        const std::string key = line.substr(i, eq - i);
        EXPECT_EQ(line[eq + 1], '"') << line;
        std::string value;
        size_t j = eq + 2;
        for (; line[j] != '"'; ++j) {
          if (line[j] == '\\') {
            ++j;
            value.push_back(line[j] == 'n' ? '\n' : line[j]);
          } else {
            value.push_back(line[j]);
          }
        }
        EXPECT_EQ(s.labels.count(key), 0u) << line;
        s.labels[key] = value;
        i = j + 1;
        if (line[i] == ',') ++i;
      }
      ++i;
    }
    EXPECT_EQ(line[i], ' ') << line;
    const std::string v = line.substr(i + 1);
    s.value = v == "+Inf" ? INFINITY : v == "NaN" ? NAN : std::stod(v);
    out.samples.push_back(std::move(s));
  }
  return out;
}

std::string Family(const Parsed& p, const std::string& name) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string sfx = suffix;
    if (name.size() > sfx.size() && name.compare(name.size() - sfx.size(), sfx.size(), sfx) == 0) {
      const std::string base = name.substr(0, name.size() - sfx.size());
      auto it = p.types.find(base);
      if (it != p.types.end() && it->second == "histogram") return base;
    }
  }
  return name;
}

std::vector<Sample> Find(const Parsed& p, const std::string& name) {
  std::vector<Sample> out;
  for (const auto& s : p.samples) {
    if (s.name == name) out.push_back(s);
  }
  return out;
}

std::set<std::string> Keys(const Sample& s) {
  std::set<std::string> k;
  for (const auto& [key, v] : s.labels) k.insert(key);
  return k;
}

std::unique_ptr<Simulator> DefaultSim() {
  auto sim = Simulator::Create(DefaultScenario(), 1, absl::FromUnixSeconds(1'800'000'000));
  EXPECT_TRUE(sim.ok());
  return std::move(*sim);
}

TEST(Exposition, EverySampleBelongsToATypedFamilyInOneBlock) {
  auto sim = DefaultSim();
  sim->Advance(absl::Seconds(90));
  const std::string text = RenderMetrics(*sim);
  const Parsed p = Parse(text);
  ASSERT_FALSE(p.samples.empty());
  std::string current;
  std::set<std::string> finished;
  for (const auto& s : p.samples) {
    const std::string f = Family(p, s.name);
    ASSERT_TRUE(p.types.count(f)) << s.name;
    if (f != current) {
      EXPECT_FALSE(finished.count(f)) << "family split: " << f;
      finished.insert(current);
      current = f;
    }
  }
  std::set<std::string> types;
  for (const auto& [f, t] : p.types) types.insert(t);
  EXPECT_THAT(types, IsSupersetOf({"counter", "gauge", "histogram"}));
}

// Only a container with a CPU limit has CFS counters and a limit in kube-state-metrics; they carry
// the cAdvisor labels and the model's values.
TEST(Exposition, CfsCountersAndTheLimitOfLimitedContainersOnly) {
  std::vector<ServiceSpec> specs = DefaultScenario();
  specs[1].cpu_limit = 1;
  specs[1].container_concurrency = 4;
  auto sim = Simulator::Create(specs, 1, absl::FromUnixSeconds(1'800'000'000));
  ASSERT_TRUE(sim.ok());
  (*sim)->Advance(absl::Seconds(30));
  const Parsed p = Parse(RenderMetrics(**sim));
  const ServiceView service = (*sim)->Services()[1];
  const PodView& pod = service.pods.at(0);
  for (const char* name :
       {"container_cpu_cfs_periods_total", "container_cpu_cfs_throttled_periods_total",
        "container_cpu_cfs_throttled_seconds_total", "kube_pod_container_resource_limits"}) {
    auto v = Find(p, name);
    ASSERT_EQ(v.size(), 1u) << name;
    EXPECT_EQ(v[0].labels.at("pod"), pod.name) << name;
    EXPECT_EQ(v[0].labels.at("container"), "kserve-container") << name;
  }
  EXPECT_EQ(p.types.at("container_cpu_cfs_throttled_seconds_total"), "counter");
  EXPECT_NEAR(Find(p, "container_cpu_cfs_periods_total")[0].value, 300, 1);  // whole periods
  EXPECT_EQ(Find(p, "container_cpu_cfs_throttled_seconds_total")[0].value, pod.throttled_seconds);
  EXPECT_EQ(Find(p, "container_cpu_cfs_throttled_periods_total")[0].value,
            std::floor(pod.cfs_throttled_periods));
  EXPECT_EQ(Find(p, "kube_pod_container_resource_limits")[0].value, 1);
  EXPECT_EQ(Find(p, "kube_pod_container_resource_limits")[0].labels.at("resource"), "cpu");
}

TEST(Exposition, HistogramBucketsAreCumulativeAndEndAtCount) {
  auto sim = DefaultSim();
  sim->Advance(absl::Seconds(120));
  const Parsed p = Parse(RenderMetrics(*sim));
  for (const std::string h : {"revision_request_latencies", "request_predict_seconds"}) {
    std::map<std::string, std::vector<std::pair<double, double>>> buckets;  // pod -> (le, value)
    for (const auto& s : Find(p, h + "_bucket")) {
      std::string pod = s.labels.count("pod") ? s.labels.at("pod") : s.labels.at("pod_name");
      const std::string le = s.labels.at("le");
      buckets[pod].emplace_back(le == "+Inf" ? INFINITY : std::stod(le), s.value);
    }
    std::map<std::string, double> counts;
    for (const auto& s : Find(p, h + "_count")) {
      counts[s.labels.count("pod") ? s.labels.at("pod") : s.labels.at("pod_name")] = s.value;
    }
    ASSERT_EQ(buckets.size(), 2u) << h;  // one pod per service at start
    for (const auto& [pod, b] : buckets) {
      for (size_t i = 1; i < b.size(); ++i) {
        EXPECT_LT(b[i - 1].first, b[i].first);
        EXPECT_LE(b[i - 1].second, b[i].second);
      }
      EXPECT_TRUE(std::isinf(b.back().first));
      EXPECT_EQ(b.back().second, counts.at(pod));
      EXPECT_GT(counts.at(pod), 100);
    }
  }
}

TEST(Exposition, LabelsAreTheOnesRealExportersUse) {
  auto sim = DefaultSim();
  sim->Advance(absl::Seconds(30));
  const Parsed p = Parse(RenderMetrics(*sim));
  const std::string pod = sim->Services()[0].pods[0].name;

  bool found = false;
  for (const auto& s : Find(p, "revision_request_count")) {
    EXPECT_EQ(Keys(s), (std::set<std::string>{"namespace_name", "configuration_name",
                                              "revision_name", "pod_name", "container_name",
                                              "response_code", "response_code_class"}));
    if (s.labels.at("pod_name") == pod) {
      found = true;
      EXPECT_EQ(s.labels.at("namespace_name"), "kserve-test");
      EXPECT_EQ(s.labels.at("configuration_name"), "concurrency-model-predictor");
      EXPECT_EQ(s.labels.at("revision_name"), "concurrency-model-predictor-00001");
      EXPECT_EQ(s.labels.at("container_name"), "queue-proxy");
      EXPECT_EQ(s.labels.at("response_code"), "200");
      EXPECT_EQ(s.labels.at("response_code_class"), "2xx");
      EXPECT_EQ(s.value, static_cast<double>(sim->Services()[0].pods[0].requests));
    }
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(p.types.at("revision_request_count"), "counter");
  for (const char* name :
       {"vllm:num_requests_running", "vllm:num_requests_waiting", "request_predict_seconds_sum"}) {
    auto v = Find(p, name);
    ASSERT_EQ(v.size(), 2u) << name;
    EXPECT_EQ(Keys(v[0]), (std::set<std::string>{"namespace", "pod", "model_name"})) << name;
  }
  std::set<std::string> containers;
  for (const auto& s : Find(p, "container_cpu_usage_seconds_total")) {
    if (s.labels.contains("id")) continue;  // the nodes' root cgroups (NodesAndTheirPods)
    EXPECT_EQ(Keys(s), (std::set<std::string>{"namespace", "pod", "container", "node"}));
    if (s.labels.at("pod") == pod) containers.insert(s.labels.at("container"));
  }
  EXPECT_EQ(containers, (std::set<std::string>{"", "POD", "kserve-container"}));
  int cpu_requests = 0;
  for (const auto& s : Find(p, "kube_pod_container_resource_requests")) {
    if (s.labels.at("resource") == "cpu") {
      EXPECT_EQ(s.labels.at("unit"), "core");
      EXPECT_EQ(s.labels.at("container"), "kserve-container");
      EXPECT_EQ(s.value, 1);
      ++cpu_requests;
    } else {
      EXPECT_EQ(s.labels.at("resource"), "memory");
      EXPECT_EQ(s.labels.at("unit"), "byte");
    }
  }
  EXPECT_EQ(cpu_requests, 2);
  for (const auto& s : Find(p, "kube_pod_labels")) {
    if (s.labels.at("pod") != pod) continue;
    EXPECT_EQ(s.labels.at("label_serving_kserve_io_inferenceservice"), "concurrency-model");
    EXPECT_EQ(s.labels.at("label_app"), "concurrency-model-predictor");
    EXPECT_EQ(s.labels.at("label_component"), "predictor");
  }
  // The Deployment and Service behind the pods, labelled like them.
  std::set<std::string> deployments;
  for (const auto& s : Find(p, "kube_deployment_labels")) {
    deployments.insert(s.labels.at("deployment"));
    EXPECT_EQ(s.labels.at("deployment"),
              s.labels.at("label_serving_kserve_io_inferenceservice") + "-predictor");
    EXPECT_EQ(s.labels.at("label_app"), s.labels.at("deployment"));
  }
  EXPECT_EQ(deployments,
            (std::set<std::string>{"concurrency-model-predictor", "cpu-model-predictor"}));
  for (const auto& s : Find(p, "kube_deployment_status_replicas")) EXPECT_EQ(s.value, 1);
  auto svc_labels = Find(p, "kube_service_labels");
  ASSERT_EQ(svc_labels.size(), 2u);
  EXPECT_EQ(svc_labels[0].labels.at("service"), "concurrency-model");
  EXPECT_EQ(svc_labels[0].labels.at("label_serving_kserve_io_inferenceservice"),
            "concurrency-model");
  for (const auto& s : Find(p, "kube_pod_status_ready")) {
    if (s.labels.at("condition") == "true") {
      EXPECT_EQ(s.value, 1);  // ready after 10 s
    }
  }
  for (const auto& s : Find(p, "kube_pod_start_time")) EXPECT_EQ(s.value, 1'800'000'000);
  auto replicas = Find(p, "sim_service_replicas");
  ASSERT_EQ(replicas.size(), 2u);
  EXPECT_EQ(replicas[1].labels.at("service"), "cpu-model");
  EXPECT_EQ(replicas[1].labels.at("namespace"), "kserve-test");
  EXPECT_EQ(replicas[1].value, 1);
  EXPECT_EQ(Find(p, "sim_time_seconds").at(0).value, 30);
}

TEST(Exposition, CpuUsageMatchesTheModelAndWaitingSumsToTheQueue) {
  auto sim = DefaultSim();
  sim->Advance(absl::Seconds(200));  // concurrency-model is above one pod's capacity
  const Parsed p = Parse(RenderMetrics(*sim));
  const ServiceView s = sim->Services()[0];
  ASSERT_GT(s.queue_length, 0);
  double waiting = 0;
  for (const auto& x : Find(p, "vllm:num_requests_waiting")) {
    if (x.labels.at("model_name") == "concurrency-model") waiting += x.value;
  }
  EXPECT_EQ(waiting, static_cast<double>(s.queue_length));
  for (const auto& x : Find(p, "container_cpu_usage_seconds_total")) {
    if (x.labels.contains("id")) continue;  // a node's root cgroup
    if (x.labels.at("pod") == s.pods[0].name && x.labels.at("container") == "kserve-container") {
      EXPECT_DOUBLE_EQ(x.value, s.pods[0].cpu_seconds);
    }
  }
}

// Per node: cAdvisor's root cgroup {id="/", node} and the kubelet's resource metrics, equal to the
// model's node totals; kube-state-metrics' node families; kube_pod_info names each pod's node.
TEST(Exposition, NodesAndTheirPods) {
  auto sim = DefaultSim();
  ASSERT_TRUE(sim->SetReplicas("kserve-test", "cpu-model", 3).ok());
  sim->Advance(absl::Seconds(60));
  const Parsed p = Parse(RenderMetrics(*sim));
  const std::vector<NodeView> nodes = sim->Nodes();
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(p.types.at("node_cpu_usage_seconds_total"), "counter");
  EXPECT_EQ(p.types.at("node_memory_working_set_bytes"), "gauge");
  for (const auto& [family, want_cpu] :
       {std::pair<std::string, bool>{"container_cpu_usage_seconds_total", true},
        {"container_memory_working_set_bytes", false},
        {"node_cpu_usage_seconds_total", true},
        {"node_memory_working_set_bytes", false}}) {
    std::map<std::string, double> by_node;
    for (const auto& s : Find(p, family)) {
      if (family.starts_with("container_") && !s.labels.contains("id")) continue;
      const std::set<std::string> keys = family.starts_with("container_")
                                             ? std::set<std::string>{"id", "node"}
                                             : std::set<std::string>{"node"};
      EXPECT_EQ(Keys(s), keys);
      if (s.labels.contains("id")) {
        EXPECT_EQ(s.labels.at("id"), "/");
      }
      by_node[s.labels.at("node")] = s.value;
    }
    ASSERT_EQ(by_node.size(), 2u) << family;
    for (const auto& n : nodes) {
      EXPECT_DOUBLE_EQ(by_node.at(n.name), want_cpu ? n.cpu_seconds : n.memory_bytes) << family;
    }
  }
  // kube_pod_info and the cAdvisor pod series agree on the node; every pod is on a known node.
  std::map<std::string, std::string> node_of;
  for (const auto& s : Find(p, "kube_pod_info")) {
    EXPECT_EQ(Keys(s), (std::set<std::string>{"namespace", "pod", "node"}));
    node_of[s.labels.at("pod")] = s.labels.at("node");
  }
  int pods = 0;
  for (const auto& svc : sim->Services()) {
    for (const auto& pod : svc.pods) {
      EXPECT_EQ(node_of.at(pod.name), pod.node);
      ++pods;
    }
  }
  EXPECT_EQ(static_cast<int>(node_of.size()), pods);
  for (const auto& s : Find(p, "container_cpu_usage_seconds_total")) {
    if (!s.labels.contains("id")) {
      EXPECT_EQ(s.labels.at("node"), node_of.at(s.labels.at("pod")));
    }
  }
  // Node CPU counter >= the sum of its pods' cgroup counters ("" container).
  std::map<std::string, double> pods_cpu;
  for (const auto& s : Find(p, "container_cpu_usage_seconds_total")) {
    if (!s.labels.contains("id") && s.labels.at("container").empty()) {
      pods_cpu[s.labels.at("node")] += s.value;
    }
  }
  for (const auto& n : nodes) EXPECT_GT(n.cpu_seconds, pods_cpu[n.name]);
  std::map<std::string, double> allocatable_cpu;
  for (const auto& s : Find(p, "kube_node_status_allocatable")) {
    if (s.labels.at("resource") == "cpu") allocatable_cpu[s.labels.at("node")] = s.value;
  }
  EXPECT_EQ(allocatable_cpu,
            (std::map<std::string, double>{{"sim-node-1", 7.5}, {"sim-node-2", 7.5}}));
  EXPECT_EQ(Find(p, "kube_node_status_capacity").size(), 4u);
  EXPECT_EQ(Find(p, "kube_node_info").size(), 2u);
  for (const auto& s : Find(p, "kube_node_labels")) {
    EXPECT_EQ(s.labels.at("label_kubernetes_io_hostname"), s.labels.at("node"));
  }
}

TEST(Exposition, VllmServersExportCacheUsageAndTimeToFirstToken) {
  std::vector<ServiceSpec> specs = DefaultScenario();
  ServiceSpec llm;
  llm.name = "llm-model";
  llm.ns = "kserve-test";
  llm.model_name = "llama-3-8b";
  llm.container_concurrency = 16;
  llm.replicas = 2;
  llm.llm = LlmSpec{};
  llm.load.segments = {{absl::Seconds(60), 4, 4}};
  specs.push_back(llm);
  auto sim = Simulator::Create(std::move(specs), 3, absl::FromUnixSeconds(1'800'000'000));
  ASSERT_TRUE(sim.ok()) << sim.status();
  (*sim)->Advance(absl::Seconds(90));
  const Parsed p = Parse(RenderMetrics(**sim));
  const ServiceView s = (*sim)->Services()[2];
  EXPECT_EQ(p.types.at("vllm:gpu_cache_usage_perc"), "gauge");
  EXPECT_EQ(p.types.at("vllm:time_to_first_token_seconds"), "histogram");
  // Only the LLM service's pods, with the model's labels and the model's values.
  const auto usage = Find(p, "vllm:gpu_cache_usage_perc");
  ASSERT_EQ(usage.size(), 2u);
  for (size_t i = 0; i < usage.size(); ++i) {
    EXPECT_EQ(usage[i].labels, (std::map<std::string, std::string>{{"namespace", "kserve-test"},
                                                                   {"pod", s.pods[i].name},
                                                                   {"model_name", "llama-3-8b"}}));
    EXPECT_DOUBLE_EQ(usage[i].value, s.pods[i].kv_cache_usage);
    EXPECT_GT(usage[i].value, 0);
  }
  std::vector<std::string> les;
  for (const auto& x : Find(p, "vllm:time_to_first_token_seconds_bucket")) {
    EXPECT_EQ(x.labels.at("model_name"), "llama-3-8b");
    if (x.labels.at("pod") == s.pods[0].name) les.push_back(x.labels.at("le"));
  }
  EXPECT_EQ(les, (std::vector<std::string>{"0.001", "0.005", "0.01", "0.02", "0.04", "0.06",
                                           "0.08",  "0.1",   "0.25", "0.5",  "0.75", "1",
                                           "2.5",   "5",     "7.5",  "10",   "20",   "40",
                                           "80",    "160",   "640",  "2560", "+Inf"}));
  const auto counts = Find(p, "vllm:time_to_first_token_seconds_count");
  const auto sums = Find(p, "vllm:time_to_first_token_seconds_sum");
  ASSERT_EQ(counts.size(), 2u);
  ASSERT_EQ(sums.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(counts[i].value, static_cast<double>(s.pods[i].ttft_seconds->count));
    EXPECT_DOUBLE_EQ(sums[i].value, s.pods[i].ttft_seconds->sum);
    EXPECT_GT(counts[i].value, 50);
  }
  // The running and waiting gauges the other services have too, for every pod.
  EXPECT_EQ(Find(p, "vllm:num_requests_running").size(), 4u);
}

TEST(Exposition, SeriesOfRemovedPodsDisappear) {
  auto sim = DefaultSim();
  ASSERT_TRUE(sim->SetReplicas("kserve-test", "cpu-model", 3).ok());
  sim->Advance(absl::Seconds(20));
  const std::string last = sim->Services()[1].pods[2].name;
  EXPECT_NE(RenderMetrics(*sim).find(last), std::string::npos);
  ASSERT_TRUE(sim->SetReplicas("kserve-test", "cpu-model", 1).ok());
  sim->Advance(absl::Seconds(5));
  EXPECT_EQ(RenderMetrics(*sim).find(last), std::string::npos);
}

// concurrency-model (the first service) at 0 replicas with 50 requests/s arriving for 2 s: every
// request waits.
std::unique_ptr<Simulator> SimWithRequestsWaitingAtZeroPods() {
  auto sim = DefaultSim();
  EXPECT_TRUE(sim->SetReplicas("kserve-test", "concurrency-model", 0).ok());
  EXPECT_TRUE(sim->SetLoadOverride("kserve-test", "concurrency-model", 50).ok());
  sim->Advance(absl::Seconds(2));
  return sim;
}

TEST(Exposition, TheActivatorHoldsTheQueueOfEachRevisionAlsoAtZeroPods) {
  auto sim = SimWithRequestsWaitingAtZeroPods();
  const ServiceView s = sim->Services()[0];
  ASSERT_TRUE(s.pods.empty());
  ASSERT_GT(s.queue_length, 0);
  const Parsed p = Parse(RenderMetrics(*sim));
  EXPECT_EQ(p.types.at("activator_request_concurrency"), "gauge");
  EXPECT_EQ(p.types.at("activator_request_count"), "counter");
  const std::vector<Sample> gauge = Find(p, "activator_request_concurrency");
  ASSERT_EQ(gauge.size(), sim->Services().size());  // one series per revision
  const std::map<std::string, std::string> labels = {
      {"namespace_name", "kserve-test"},
      {"service_name", "concurrency-model-predictor"},
      {"configuration_name", "concurrency-model-predictor"},
      {"revision_name", "concurrency-model-predictor-00001"},
      {"pod_name", "activator-sim"},
      {"container_name", "activator"}};
  EXPECT_EQ(gauge[0].labels, labels);
  EXPECT_EQ(gauge[0].value, static_cast<double>(s.queue_length));
  const std::vector<Sample> count = Find(p, "activator_request_count");
  ASSERT_EQ(count.size(), sim->Services().size());
  EXPECT_EQ(count[0].value, static_cast<double>(s.queued));
  EXPECT_EQ(count[0].labels.at("response_code"), "200");
  // Nothing waits for the other (serving, idle) revision.
  EXPECT_EQ(gauge[1].value, 0);
}

TEST(Exposition, TheIngressGatewayCountsRequestsOfEachServiceAlsoAtZeroPods) {
  auto sim = SimWithRequestsWaitingAtZeroPods();
  const ServiceView s = sim->Services()[0];
  ASSERT_TRUE(s.pods.empty());
  ASSERT_GT(s.queue_length, 0);
  ASSERT_GT(s.arrived, 0u);
  const Parsed p = Parse(RenderMetrics(*sim));
  EXPECT_EQ(p.types.at("istio_requests_total"), "counter");
  EXPECT_EQ(p.types.at("envoy_cluster_upstream_rq_pending_active"), "gauge");
  EXPECT_EQ(p.types.at("envoy_cluster_upstream_rq_active"), "gauge");
  const std::vector<Sample> requests = Find(p, "istio_requests_total");
  ASSERT_EQ(requests.size(), sim->Services().size());  // one series per service
  const std::map<std::string, std::string> labels = {
      {"reporter", "source"},
      {"source_workload", "istio-ingressgateway"},
      {"source_workload_namespace", "istio-system"},
      {"source_app", "istio-ingressgateway"},
      {"destination_service", "concurrency-model-predictor.kserve-test.svc.cluster.local"},
      {"destination_service_name", "concurrency-model-predictor"},
      {"destination_service_namespace", "kserve-test"},
      {"destination_workload", "concurrency-model-predictor"},
      {"destination_workload_namespace", "kserve-test"},
      {"request_protocol", "http"},
      {"response_code", "200"},
      {"response_flags", "-"},
      {"connection_security_policy", "unknown"}};
  EXPECT_EQ(requests[0].labels, labels);
  EXPECT_EQ(requests[0].value, static_cast<double>(s.arrived));
  const std::vector<Sample> pending = Find(p, "envoy_cluster_upstream_rq_pending_active");
  ASSERT_EQ(pending.size(), sim->Services().size());
  EXPECT_EQ(pending[0].labels,
            (std::map<std::string, std::string>{
                {"cluster_name",
                 "outbound|80||concurrency-model-predictor.kserve-test.svc.cluster.local"}}));
  // The same value as the activator's: the service queue.
  EXPECT_EQ(pending[0].value, static_cast<double>(s.queue_length));
  EXPECT_EQ(pending[0].value, Find(p, "activator_request_concurrency")[0].value);
  EXPECT_EQ(Find(p, "envoy_cluster_upstream_rq_active")[0].value, 0);
  // Nothing waits for the other (serving, idle) service.
  EXPECT_EQ(pending[1].value, 0);
}

TEST(Exposition, FormatsValuesAndEscapesLabels) {
  EXPECT_EQ(FormatSampleValue(1), "1");
  EXPECT_EQ(FormatSampleValue(0.1), "0.1");
  EXPECT_EQ(FormatSampleValue(1e21), "1e+21");
  EXPECT_EQ(FormatSampleValue(INFINITY), "+Inf");
  EXPECT_EQ(FormatSampleValue(-INFINITY), "-Inf");
  EXPECT_EQ(FormatSampleValue(NAN), "NaN");
  EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

}  // namespace
}  // namespace aa::sim
