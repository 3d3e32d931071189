// Several backends end to end: two real Prometheus servers, each scraping its own simulator
// (zone-a: shop/web and queues/worker of tests/migration/sim-two-namespaces.yaml; zone-b: the
// default scenario's kserve-test, seed 2), and VictoriaMetrics single-node behind vmauth (one user
// with basic auth, one with a bearer token), fed constant vLLM gauges and a queue depth through its
// import API. They start once for the whole binary; each suite starts its own adapter on them.
//
// BackendsIntegrationTest: one adapter reads all of them: per-pod metrics from each backend, and an
// externalRule whose discovery runs through VictoriaMetrics' /api/v1/series. Every API (the query
// API, custom.metrics.k8s.io and external.metrics.k8s.io through the pinned kubectl, and KEDA
// through the Python grpcio client) serves the numbers the backend itself answers to the same
// PromQL at the same evaluation time. A backend with a wrong vmauth credential fails alone, with a
// clear error that does not echo the credential, in its reads and its /readyz check.
//
// MigrationDirectoryTest: the files of tests/migration/ as a user migrating brings them, with only
// the cluster's addresses mapped to the loopback ones: the adapter config that replaces one
// prometheus-adapter per Prometheus (several-backends/adapter.yaml) serves each rule's numbers
// through kubectl and curl as its backend answers them, and the ScaledObjects written for KEDA's
// prometheus scaler (keda/scaledobjects.yaml) get, through the Python KEDA client reading the file,
// what KEDA's scaler computes from each backend's own answer.

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "demo/proc/subprocess.h"
#include "demo/stack.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "integration/integration_util.h"
#include "net/call.h"
#include "nlohmann/json.hpp"

namespace aa {
namespace {

using integration::ParseQuantity;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kZoneANamespace[] = "shop";       // simulator A (sim-two-namespaces.yaml)
constexpr char kSimNamespace[] = "kserve-test";  // simulator B (the default scenario)
constexpr char kVmNamespace[] = "vm-ns";
constexpr char kVmPassword[] = "vm-basic-s3cret";
constexpr char kVmToken[] = "vm-bearer-t0ken";
// The constant gauges imported into VictoriaMetrics, per pod of kVmNamespace, and per queue.
const std::map<std::string, double> kVmRunning = {{"vm-0", 3}, {"vm-1", 5.5}};
const std::map<std::string, double> kVmQueues = {{"orders", 12}, {"invoices", 4}};

// The vLLM preset with a 30 s window over `backend`.
std::string RunningMetric(const std::string& name, const std::string& backend) {
  return absl::StrCat("- name: ", name, "\n  backend: ", backend,
                      "\n  preset: {type: concurrency, source: vllm, window: 30s}\n  target: 70\n");
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

std::string SourceFile(const std::string& relative) {
  std::ifstream in(std::string(AA_SOURCE_DIR) + "/" + relative);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The backends, started by the first suite that needs them and stopped when the binary ends
// (BackendsEnvironment); each suite starts and stops its own adapter on them.
class SeveralBackends : public ::testing::Test {
 public:
  static void StopBackends() {
    if (stack_ != nullptr) stack_->StopAdapter();
    if (procs_ != nullptr) {
      for (auto it = procs_->rbegin(); it != procs_->rend(); ++it) (*it)->Stop();
    }
    delete procs_;
    procs_ = nullptr;
    delete stack_;  // stops Prometheus A and simulator A, removes the work dir
    stack_ = nullptr;
    delete kubeconfig_;
    kubeconfig_ = nullptr;
  }

 protected:
  static void StartBackends() {
    if (stack_ != nullptr) return;
    // Prometheus A (the default backend) scraping simulator A: the stack, its adapters started
    // by the suites once the other backends' ports are known.
    demo::StackOptions options = integration::StackOptionsFor("");
    options.sim_scenario_yaml = SourceFile("tests/migration/sim-two-namespaces.yaml");
    ASSERT_FALSE(options.sim_scenario_yaml.empty());
    options.start_adapter = false;
    auto stack = demo::Stack::Start(options);
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = stack->release();
    const std::string dir = stack_->work_dir();
    procs_ = new std::vector<std::unique_ptr<proc::Subprocess>>();

    // Simulator B (another seed) and Prometheus B scraping it.
    ASSERT_NO_FATAL_FAILURE(
        Spawn({std::string(AA_BIN_DIR) + "/autoscale-sim", "--listen=127.0.0.1:0", "--seed=2"},
              dir + "/sim-b.log"));
    auto sim_b = procs_->back()->WaitForListeningPort("http", absl::Seconds(30));
    ASSERT_TRUE(sim_b.ok()) << sim_b.status();
    prometheus_b_ = PickPort();
    WriteFile(dir + "/prometheus-b.yml",
              absl::StrCat("global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                           "scrape_configs:\n- job_name: kserve-sim-b\n  static_configs:\n"
                           "  - targets: ['127.0.0.1:",
                           *sim_b, "']\n"));
    ASSERT_NO_FATAL_FAILURE(
        Spawn({AA_PROMETHEUS_BIN, "--config.file=" + dir + "/prometheus-b.yml",
               "--storage.tsdb.path=" + dir + "/prometheus-b-data",
               absl::StrCat("--web.listen-address=127.0.0.1:", prometheus_b_), "--log.level=warn"},
              dir + "/prometheus-b.log"));
    ASSERT_TRUE(demo::WaitForHttp(prometheus_b_, "/-/ready", 200, absl::Seconds(30)).ok());

    // VictoriaMetrics (answers as of the query time, no cache: its own answers are
    // reproducible) and vmauth in front of it.
    vm_ = PickPort();
    ASSERT_NO_FATAL_FAILURE(
        Spawn({AA_VICTORIA_METRICS_BIN, absl::StrCat("-httpListenAddr=127.0.0.1:", vm_),
               "-storageDataPath=" + dir + "/vm-data", "-search.latencyOffset=0s",
               "-search.disableCache", "-loggerLevel=WARN"},
              dir + "/vm.log"));
    ASSERT_TRUE(demo::WaitForHttp(vm_, "/health", 200, absl::Seconds(30)).ok());
    vmauth_ = PickPort();
    WriteFile(dir + "/vmauth.yml",
              absl::StrCat("users:\n- username: adapter\n  password: ", kVmPassword,
                           "\n  url_prefix: http://127.0.0.1:", vm_, "\n- bearer_token: ", kVmToken,
                           "\n  url_prefix: http://127.0.0.1:", vm_, "\n"));
    ASSERT_NO_FATAL_FAILURE(
        Spawn({AA_VMAUTH_BIN, "-auth.config=" + dir + "/vmauth.yml",
               absl::StrCat("-httpListenAddr=127.0.0.1:", vmauth_), "-loggerLevel=WARN"},
              dir + "/vmauth.log"));
    ASSERT_TRUE(demo::WaitForHttp(vmauth_, "/health", 200, absl::Seconds(30)).ok());
    ASSERT_NO_FATAL_FAILURE(ImportIntoVm());
    WriteFile(dir + "/vm-token", kVmToken);
  }

  // Starts this suite's adapter with `config` (written to the work dir as `file`).
  static void StartAdapter(const std::string& file, const std::string& config) {
    const std::string dir = stack_->work_dir();
    WriteFile(dir + "/" + file, config);
    ASSERT_TRUE(stack_->StartAdapter({"--config=" + dir + "/" + file}).ok());
    delete kubeconfig_;
    kubeconfig_ = new std::string(dir + "/kubeconfig");
    integration::WriteKubeconfig(*kubeconfig_, stack_->adapter_https_port());
  }
  static void TearDownTestSuite() {
    if (stack_ != nullptr) stack_->StopAdapter();
  }
  void SetUp() override { ASSERT_NE(stack_, nullptr); }

  static void Spawn(std::vector<std::string> argv, const std::string& log) {
    auto p = proc::Subprocess::Start({std::move(argv), log, stack_->work_dir()});
    ASSERT_TRUE(p.ok()) << p.status();
    procs_->push_back(*std::move(p));
  }
  static int PickPort() {
    auto port = proc::PickUnusedPort();
    EXPECT_TRUE(port.ok()) << port.status();
    return port.ok() ? *port : 0;
  }

  // Constant gauges every 5 s from 5 minutes before to 5 minutes after now, so that any
  // evaluation time during the test finds them; then waits until VictoriaMetrics answers them.
  static void ImportIntoVm() {
    const int64_t now_ms = absl::ToUnixMillis(absl::Now());
    std::string body;
    for (int64_t t = now_ms - 300'000; t <= now_ms + 300'000; t += 5'000) {
      for (const auto& [pod, v] : kVmRunning) {
        absl::StrAppend(&body, "vllm:num_requests_running{namespace=\"", kVmNamespace, "\",pod=\"",
                        pod, "\"} ", v, " ", t, "\n");
      }
      for (const auto& [queue, v] : kVmQueues) {
        absl::StrAppend(&body, "queue_depth{queue=\"", queue, "\"} ", v, " ", t, "\n");
      }
    }
    // curl: net::HttpCall takes the import's 204 (no body) for a proxy's refusal.
    const std::string file = stack_->work_dir() + "/vm-import.txt";
    WriteFile(file, body);
    std::string code = integration::RunCommand(
        absl::StrCat("curl -s -o /dev/null -w '%{http_code}' --data-binary @", file,
                     " http://127.0.0.1:", vm_, "/api/v1/import/prometheus"));
    ASSERT_EQ(code, "204");
    bool visible = proc::PollUntil(
        [] { return BackendValues(vm_, "sum(queue_depth)", {}, absl::Now()).size() == 1; },
        absl::Seconds(30));
    ASSERT_TRUE(visible) << "VictoriaMetrics never answered the imported series";
  }

  // A backend's own answer to `query` at `at`, keyed by the values of `labels` joined with '/'.
  static std::map<std::string, double> BackendValues(int port, const std::string& query,
                                                     const std::vector<std::string>& labels,
                                                     absl::Time at) {
    return integration::PrometheusValuesBy(port, query, labels, at);
  }

  // The vLLM preset's query (window 30s) rendered as the sampler renders it for namespace `ns`.
  static std::string RunningQuery(const std::string& ns) {
    return absl::StrCat(
        "sum by (namespace, pod) (avg_over_time(vllm:num_requests_running{namespace=\"", ns,
        "\"}[30s]))");
  }

  static json QueryApi(const std::string& path, int* status = nullptr) {
    return integration::QueryJson(stack_->adapter_https_port(), path, status);
  }

  // What every API serves for pods metric `metric` of namespace `ns`, read from one table: the
  // query API's per-pod values and evaluation time, kubectl's custom.metrics items, and KEDA's
  // total (Python client). Retried (bounded) when a new table was published in between.
  struct Served {
    absl::Time sampled_at;
    std::map<std::string, double> query_api;
    std::map<std::string, double> custom_metrics;
    double query_api_total = 0;
    double keda_total = -1;
  };
  static Served ReadEverywhere(const std::string& metric, const std::string& ns) {
    const std::string path = absl::StrCat("/api/v1/namespaces/", ns, "/metrics/", metric);
    for (int attempt = 0; attempt < 20; ++attempt) {
      int status = 0;
      json before = QueryApi(path, &status);
      if (status != 200) {
        absl::SleepFor(absl::Milliseconds(500));  // the first samples are on their way
        continue;
      }
      json custom = integration::KubectlJson(
          *kubeconfig_,
          absl::StrCat("/apis/custom.metrics.k8s.io/v1beta2/namespaces/", ns, "/pods/*/", metric));
      json keda = PythonKeda(ns, {"metric=" + metric, "target=1"});
      json after = QueryApi(path);
      if (before["sampledAt"] != after["sampledAt"]) continue;  // a new table: read again
      Served s;
      std::string err;
      EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, before["sampledAt"].get<std::string>(),
                                  &s.sampled_at, &err))
          << err;
      for (const auto& p : before["pods"]) s.query_api[p["pod"]] = p["value"].get<double>();
      s.query_api_total = before["total"].get<double>();
      for (const auto& item : custom["items"]) {
        s.custom_metrics[item["describedObject"]["name"]] =
            ParseQuantity(item["value"].get<std::string>());
      }
      if (keda["GetMetrics"].is_array()) {
        s.keda_total = keda["GetMetrics"][0]["metricValueFloat"].get<double>();
      } else {
        ADD_FAILURE() << keda.dump();
      }
      return s;
    }
    ADD_FAILURE() << "no stable read of " << metric << " in " << ns;
    return {};
  }

  // The Python grpcio KEDA client against the adapter's gRPC port, with trigger `metadata`.
  static json PythonKeda(const std::string& ns, const std::vector<std::string>& metadata) {
    std::string args;
    for (const auto& m : metadata) absl::StrAppend(&args, " '", m, "'");
    std::string out = integration::RunCommand(absl::StrCat(
        "/usr/bin/python3 ", AA_SOURCE_DIR, "/tests/keda/keda_client_test.py call --address ",
        "127.0.0.1:", stack_->adapter_grpc_port(), " --proto ", AA_SOURCE_DIR,
        "/proto/externalscaler.proto --namespace ", ns, args));
    json j = json::parse(out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << out;
    return j;
  }

  // Checks that every API serves `metric` as the backend at `port` answers its query.
  static void ExpectSameNumbers(const std::string& metric, const std::string& ns, int port) {
    SCOPED_TRACE(metric);
    Served s = ReadEverywhere(metric, ns);
    std::map<std::string, double> want =
        BackendValues(port, RunningQuery(ns), {"pod"}, s.sampled_at);
    ASSERT_FALSE(want.empty());
    EXPECT_EQ(s.query_api, want);
    ASSERT_EQ(s.custom_metrics.size(), want.size());
    double total = 0;
    for (const auto& [pod, v] : want) {
      EXPECT_NEAR(s.custom_metrics[pod], v, 1e-3) << pod;  // a quantity: milli-units
      total += v;
    }
    EXPECT_NEAR(s.query_api_total, total, 1e-9);
    EXPECT_NEAR(s.keda_total, total, 1e-9);
  }

  static demo::Stack* stack_;
  static std::vector<std::unique_ptr<proc::Subprocess>>* procs_;
  static std::string* kubeconfig_;
  static int prometheus_b_;
  static int vm_;
  static int vmauth_;
};

demo::Stack* SeveralBackends::stack_ = nullptr;
std::vector<std::unique_ptr<proc::Subprocess>>* SeveralBackends::procs_ = nullptr;
std::string* SeveralBackends::kubeconfig_ = nullptr;
int SeveralBackends::prometheus_b_ = 0;
int SeveralBackends::vm_ = 0;
int SeveralBackends::vmauth_ = 0;

class BackendsEnvironment : public ::testing::Environment {
 public:
  void TearDown() override { SeveralBackends::StopBackends(); }
};
const ::testing::Environment* const kBackendsEnvironment =
    ::testing::AddGlobalTestEnvironment(new BackendsEnvironment);

class BackendsIntegrationTest : public SeveralBackends {
 protected:
  static void SetUpTestSuite() {
    ASSERT_NO_FATAL_FAILURE(StartBackends());
    const std::string dir = stack_->work_dir();
    const std::string vmauth_url = absl::StrCat("http://127.0.0.1:", vmauth_);
    const std::string config = absl::StrCat(
        "prometheus: {url: '", stack_->prometheus_url(), "'}\n", "backends:\n",
        "- name: zone-b\n  url: 'http://127.0.0.1:", prometheus_b_, "'\n", "- name: vm\n  url: '",
        vmauth_url, "'\n  basicAuth: {username: adapter, password: ", kVmPassword, "}\n",
        "- name: vm-token\n  url: '", vmauth_url, "/'\n  bearerTokenFile: ", dir, "/vm-token\n",
        "- name: vm-wrong\n  url: '", vmauth_url,
        "'\n  basicAuth: {username: adapter, password: not-the-password}\n  maxRetries: 0\n",
        "sampling: {interval: 2s, maxAge: 30s, warmNamespaces: [", kZoneANamespace, ", ",
        kSimNamespace, ", ", kVmNamespace, "]}\n", "podLabels: {enabled: false}\n", "metrics:\n",
        RunningMetric("running_a", "default"), RunningMetric("running_b", "zone-b"),
        RunningMetric("running_vm", "vm"), RunningMetric("running_vm_token", "vm-token"),
        RunningMetric("running_vm_wrong", "vm-wrong"),
        "externalRules:\n- seriesQuery: '{__name__=\"queue_depth\",queue!=\"\"}'\n"
        "  backend: vm-token\n  resources: {namespaced: false}\n"
        "  metricsQuery: 'sum(<<.Series>>{<<.LabelMatchers>>}) by (queue)'\n");
    ASSERT_NO_FATAL_FAILURE(StartAdapter("adapter-backends.yaml", config));
  }
};

TEST_F(BackendsIntegrationTest, EachBackendsNumbersThroughEveryApi) {
  ExpectSameNumbers("running_a", kZoneANamespace, stack_->prometheus_port());
  ExpectSameNumbers("running_b", kSimNamespace, prometheus_b_);
  // The two Prometheus servers hold different data (other simulators).
  EXPECT_NE(ReadEverywhere("running_a", kZoneANamespace).query_api,
            ReadEverywhere("running_b", kSimNamespace).query_api);
  // VictoriaMetrics, through vmauth with basic auth and with a bearer token.
  ExpectSameNumbers("running_vm", kVmNamespace, vm_);
  ExpectSameNumbers("running_vm_token", kVmNamespace, vm_);
  EXPECT_EQ(ReadEverywhere("running_vm", kVmNamespace).query_api, kVmRunning);
}

TEST_F(BackendsIntegrationTest, ExternalRuleDiscoveredThroughVictoriaMetricsSeries) {
  json external;
  bool found = proc::PollUntil(
      [&] {
        int code = 0;
        external = integration::KubectlJson(
            *kubeconfig_, "/apis/external.metrics.k8s.io/v1beta1/namespaces/default/queue_depth",
            &code);
        return code == 0 && external["items"].size() == kVmQueues.size();
      },
      absl::Seconds(30), absl::Milliseconds(500));
  ASSERT_TRUE(found) << external.dump();
  std::map<std::string, double> served;
  for (const auto& item : external["items"]) {
    served[item["metricLabels"]["queue"]] = ParseQuantity(item["value"].get<std::string>());
  }
  absl::Time at;
  std::string err;
  ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, external["items"][0]["timestamp"], &at, &err));
  EXPECT_EQ(served, BackendValues(vm_, "sum(queue_depth{queue!=\"\"}) by (queue)", {"queue"}, at));
  EXPECT_EQ(served, kVmQueues);
  json keda = PythonKeda("default", {"metric=queue_depth", "resource=external", "target=1"});
  ASSERT_TRUE(keda["GetMetrics"].is_array()) << keda.dump();
  EXPECT_EQ(keda["GetMetrics"][0]["metricValueFloat"].get<double>(), 16);
  // Discovery asked VictoriaMetrics' own series API (through vmauth).
  auto vm_metrics = net::HttpCall("GET", "127.0.0.1", vm_, "/metrics");
  ASSERT_TRUE(vm_metrics.ok());
  EXPECT_THAT(vm_metrics->body, HasSubstr("vm_http_requests_total{path=\"/api/v1/series\"}"));
  EXPECT_THAT(vm_metrics->body,
              Not(HasSubstr("vm_http_requests_total{path=\"/api/v1/series\"} 0\n")));
}

// KEDA's prometheus-scaler triggers name their backend in serverAddress, by name or by URL, and
// are queried there; any other address is refused before anything is queried.
TEST_F(BackendsIntegrationTest, KedaTriggersQueryTheBackendTheirServerAddressNames) {
  json by_name =
      PythonKeda("default", {"query=sum(queue_depth)", "threshold=1", "serverAddress=vm"});
  ASSERT_TRUE(by_name["GetMetrics"].is_array()) << by_name.dump();
  EXPECT_EQ(by_name["GetMetrics"][0]["metricValueFloat"].get<double>(), 16);
  json by_url = PythonKeda("default", {"query=sum(queue_depth)", "threshold=1",
                                       absl::StrCat("serverAddress=http://127.0.0.1:", vmauth_)});
  ASSERT_TRUE(by_url["GetMetrics"].is_array()) << by_url.dump();
  EXPECT_EQ(by_url["GetMetrics"][0]["metricValueFloat"].get<double>(), 16);
  // The second Prometheus server has no queue_depth: empty, an error without ignoreNullValues.
  json zone_b = PythonKeda("default", {"query=sum(queue_depth)", "threshold=1",
                                       "ignoreNullValues=false", "serverAddress=zone-b"});
  EXPECT_EQ(zone_b["GetMetrics"]["code"], "UNAVAILABLE") << zone_b.dump();
  json other = PythonKeda(
      "default", {"query=sum(queue_depth)", "threshold=1", "serverAddress=http://127.0.0.1:1"});
  EXPECT_EQ(other["GetMetrics"]["code"], "INVALID_ARGUMENT") << other.dump();
}

TEST_F(BackendsIntegrationTest, AWrongCredentialFailsAloneWithAClearError) {
  int status = 0;
  json wrong;
  bool failed = proc::PollUntil(
      [&] {
        wrong =
            QueryApi(absl::StrCat("/api/v1/namespaces/", kVmNamespace, "/metrics/running_vm_wrong"),
                     &status);
        return status == 503 && absl::StrContains(wrong.dump(), "HTTP");
      },
      absl::Seconds(30), absl::Milliseconds(500));
  ASSERT_TRUE(failed) << status << " " << wrong.dump();
  const std::string message = wrong.dump();
  // vmauth's refusal, and where it came from; never the credential (vmauth echoes it).
  EXPECT_THAT(message, HasSubstr(absl::StrCat("http://127.0.0.1:", vmauth_)));
  EXPECT_THAT(message, HasSubstr("auth"));
  EXPECT_THAT(message, Not(HasSubstr("not-the-password")));
  EXPECT_THAT(message, Not(HasSubstr("YWRhcHRlcjpub3QtdGhlLXBhc3N3b3Jk")));  // base64 of it
  // The same credential's backend through the other APIs: a clear error too.
  json keda = PythonKeda(kVmNamespace, {"metric=running_vm_wrong", "target=1"});
  EXPECT_EQ(keda["GetMetrics"]["code"], "UNAVAILABLE") << keda.dump();
  // Its readiness check fails alone; the others pass.
  auto ready = net::HttpCall("GET", "127.0.0.1", stack_->adapter_port(), "/readyz?verbose");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->status, 503);
  for (const char* ok : {"default", "zone-b", "vm", "vm-token"}) {
    EXPECT_THAT(ready->body, HasSubstr(absl::StrCat("[+]prometheus-", ok, " ok\n")));
  }
  EXPECT_THAT(ready->body, HasSubstr("[-]prometheus-vm-wrong failed: waiting for the first "
                                     "successful query to backend vm-wrong (last error: "));
  EXPECT_THAT(ready->body, Not(HasSubstr("not-the-password")));
  // The others keep serving, and /metrics counts each backend's requests apart.
  ExpectSameNumbers("running_vm", kVmNamespace, vm_);
  auto metrics = net::HttpCall("GET", "127.0.0.1", stack_->adapter_port(), "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_THAT(metrics->body,
              HasSubstr("autoscale_adapter_prometheus_requests_total{backend=\"vm-wrong\","
                        "endpoint=\"query\",outcome=\"error_http\"}"));
  EXPECT_THAT(metrics->body,
              HasSubstr("autoscale_adapter_prometheus_requests_total{backend=\"zone-b\","
                        "endpoint=\"query\",outcome=\"success\"}"));
}

// tests/migration/ as a user migrating brings it; only the cluster's addresses (and the token's
// path) are mapped to the test's, and the sampling interval is shortened for the test.
class MigrationDirectoryTest : public SeveralBackends {
 protected:
  static void SetUpTestSuite() {
    ASSERT_NO_FATAL_FAILURE(StartBackends());
    std::string config = SourceFile("tests/migration/several-backends/adapter.yaml");
    ASSERT_FALSE(config.empty());
    for (const auto& [from, to] : AddressMap()) absl::StrReplaceAll({{from, to}}, &config);
    absl::StrReplaceAll({{"/etc/adapter/vm-token", stack_->work_dir() + "/vm-token"}}, &config);
    // The test's additions: a short interval, and no pod-label index (the simulators' pods are in
    // no single kube-state-metrics).
    absl::StrAppend(&config,
                    "sampling: {interval: 2s, maxAge: 30s}\npodLabels: {enabled: false}\n");
    ASSERT_NO_FATAL_FAILURE(StartAdapter("adapter-migration.yaml", config));
    // Discovery has found every rule's metric.
    bool found = proc::PollUntil(
        [] {
          return Discovered("/apis/custom.metrics.k8s.io/v1beta2", "pods/cpu_usage_cores") &&
                 Discovered("/apis/custom.metrics.k8s.io/v1beta2",
                            "pods/vllm_num_requests_running") &&
                 Discovered("/apis/external.metrics.k8s.io/v1beta1", "queue_depth");
        },
        absl::Seconds(40), absl::Milliseconds(500));
    ASSERT_TRUE(found) << "discovery never produced the rules' metrics\n"
                       << stack_->adapter()->LogTail();
  }

  // The cluster addresses the files name, and where the test runs each of them.
  static std::vector<std::pair<std::string, std::string>> AddressMap() {
    return {{"http://prometheus-zone-a.monitoring:9090",
             absl::StrCat("http://127.0.0.1:", stack_->prometheus_port())},
            {"http://prometheus-zone-b.monitoring:9090",
             absl::StrCat("http://127.0.0.1:", prometheus_b_)},
            {"http://vmauth.monitoring:8427", absl::StrCat("http://127.0.0.1:", vmauth_)}};
  }
  // The port of the backend `url` (after the mapping) names; VictoriaMetrics itself for vmauth.
  static int BackendPort(const std::string& url) {
    if (absl::StartsWith(url, absl::StrCat("http://127.0.0.1:", vmauth_))) return vm_;
    if (absl::StartsWith(url, absl::StrCat("http://127.0.0.1:", prometheus_b_))) {
      return prometheus_b_;
    }
    return stack_->prometheus_port();
  }

  static bool Discovered(const std::string& group_path, const std::string& resource) {
    int code = 0;
    json j = integration::KubectlJson(*kubeconfig_, group_path, &code);
    if (code != 0 || !j.contains("resources")) return false;
    for (const auto& r : j["resources"]) {
      if (r["name"] == resource) return true;
    }
    return false;
  }

  // A metrics API path read with kubectl or with curl (the HTTPS port runs without authentication
  // here; its certificate is the stack's self-signed one).
  static json Served(const std::string& path, bool curl) {
    if (!curl) return integration::KubectlJson(*kubeconfig_, path);
    std::string out = integration::RunCommand(
        absl::StrCat("curl -sk 'https://127.0.0.1:", stack_->adapter_https_port(), path, "'"));
    return json::parse(out, nullptr, false);
  }

  // Every item of pods metric `metric` in `ns`, read with kubectl and with curl, equals what the
  // backend at `port` answers to `query` at the table's evaluation time.
  static void ExpectPodsEqualBackend(const std::string& metric, const std::string& ns, int port,
                                     const std::string& query) {
    const std::string path =
        absl::StrCat("/apis/custom.metrics.k8s.io/v1beta2/namespaces/", ns, "/pods/*/", metric);
    for (bool curl : {false, true}) {
      SCOPED_TRACE(absl::StrCat(metric, curl ? " through curl" : " through kubectl"));
      bool equal = false;
      std::string last;
      for (int attempt = 0; attempt < 20 && !equal; ++attempt) {
        json j = Served(path, curl);
        const absl::Time at =
            integration::SampledAt(stack_->adapter_https_port(), ns, metric, "pods");
        if (j.is_discarded() || j["items"].empty() ||
            j["items"][0]["timestamp"] != integration::Rfc3339Seconds(at)) {
          absl::SleepFor(absl::Milliseconds(300));  // a new table between the two reads
          continue;
        }
        std::map<std::string, double> want = BackendValues(port, query, {"pod"}, at);
        equal = !want.empty() && want.size() == j["items"].size();
        for (const auto& item : j["items"]) {
          const std::string pod = item["describedObject"]["name"].get<std::string>();
          const double v = ParseQuantity(item["value"].get<std::string>());
          equal = equal && want.contains(pod) && std::abs(want[pod] - v) <= 0.0005 + 1e-9;
        }
        last = absl::StrCat(j.dump(), " vs the backend's ", json(want).dump());
      }
      EXPECT_TRUE(equal) << last;
    }
  }
};

TEST_F(MigrationDirectoryTest, EachRuleServesItsBackendsNumbersThroughKubectlAndCurl) {
  // zone-a (the default backend): the cAdvisor rule.
  ExpectPodsEqualBackend(
      "cpu_usage_cores", kZoneANamespace, stack_->prometheus_port(),
      absl::StrCat("sum(rate(container_cpu_usage_seconds_total{namespace=\"", kZoneANamespace,
                   "\",container!=\"\",container!=\"POD\"}[1m])) by (namespace, "
                   "pod)"));
  // zone-b: the vLLM rule.
  ExpectPodsEqualBackend("vllm_num_requests_running", kSimNamespace, prometheus_b_,
                         absl::StrCat("sum(vllm:num_requests_running{namespace=\"", kSimNamespace,
                                      "\"}) by (namespace, pod)"));
  // VictoriaMetrics behind vmauth (bearer token): the namespaced: false external rule.
  for (bool curl : {false, true}) {
    json j = Served("/apis/external.metrics.k8s.io/v1beta1/namespaces/queues/queue_depth", curl);
    ASSERT_FALSE(j.is_discarded());
    std::map<std::string, double> served;
    for (const auto& item : j["items"]) {
      served[item["metricLabels"]["queue"]] = ParseQuantity(item["value"].get<std::string>());
    }
    EXPECT_EQ(served, kVmQueues) << j.dump();
  }
}

// keda/scaledobjects.yaml, read by the Python KEDA client and sent as KEDA sends it once each
// trigger is `type: external`: every trigger gets the value KEDA's prometheus scaler computes from
// its backend's own answer, its threshold as the target, and activation from its
// activationThreshold.
TEST_F(MigrationDirectoryTest, ScaledObjectsOfThePrometheusScalerGetTheirBackendsNumbers) {
  std::string maps;
  for (const auto& [from, to] : AddressMap())
    absl::StrAppend(&maps, " --server-map ", from, "=", to);
  const std::string out = integration::RunCommand(absl::StrCat(
      "/usr/bin/python3 ", AA_SOURCE_DIR, "/tests/keda/keda_client_test.py scaledobjects ",
      "--address 127.0.0.1:", stack_->adapter_grpc_port(), " --proto ", AA_SOURCE_DIR,
      "/proto/externalscaler.proto", maps, " ", AA_SOURCE_DIR,
      "/tests/migration/keda/scaledobjects.yaml"));
  json triggers = json::parse(out, nullptr, false);
  ASSERT_TRUE(triggers.is_array()) << out;
  ASSERT_EQ(triggers.size(), 5u) << out;
  for (const json& t : triggers) {
    const json& md = t["metadata"];
    const std::string query = md["query"].get<std::string>();
    SCOPED_TRACE(absl::StrCat(t["scaledObject"].get<std::string>(), " trigger ",
                              t["trigger"].get<int>(), ": ", query));
    const json& r = t["results"];
    ASSERT_TRUE(r["GetMetrics"].is_array()) << r.dump();
    const double value = r["GetMetrics"][0]["metricValueFloat"].get<double>();
    EXPECT_EQ(r["GetMetricSpec"][0]["targetSizeFloat"].get<double>(),
              std::stod(md["threshold"].get<std::string>()));
    const double activation = md.contains("activationThreshold")
                                  ? std::stod(md["activationThreshold"].get<std::string>())
                                  : 0;
    const int port = BackendPort(md["serverAddress"].get<std::string>());
    if (port == vm_) {
      // Constant gauges: exactly VictoriaMetrics' answer now; the refunds queue has no series,
      // which KEDA's default ignoreNullValues turns into 0.
      std::map<std::string, double> now = BackendValues(vm_, query, {}, absl::Now());
      const double want = now.empty() ? 0 : now.begin()->second;
      EXPECT_EQ(value, want);
      EXPECT_EQ(r["IsActive"], want > activation) << r.dump();
      continue;
    }
    // A Prometheus: one of the values it gave over the last seconds (gauges change with each
    // scrape; a rate() also with the evaluation time, so it lies within their range).
    std::set<double> seen = integration::PrometheusValuesOver(port, query, absl::Seconds(15));
    ASSERT_FALSE(seen.empty());
    if (absl::StrContains(query, "rate(")) {
      EXPECT_GE(value, *seen.begin());
      EXPECT_LE(value, *seen.rbegin());
    } else {
      EXPECT_TRUE(seen.contains(value)) << value << " not among " << json(seen).dump();
    }
    if (std::abs(value - activation) > 0.2 * activation) {
      EXPECT_EQ(r["IsActive"], value > activation) << r.dump();
    }
  }
}

}  // namespace
}  // namespace aa
