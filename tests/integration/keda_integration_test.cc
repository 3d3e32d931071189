// KEDA's view end to end: the adapter binary fed by a real Prometheus scraping the simulator,
// called over gRPC by the independent Python grpcio client (stubs generated from our proto) and by
// a generated C++ stub for the StreamIsActive timing. GetMetrics must equal Prometheus' own sum for
// the same pods at the same time.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "demo/stack.h"
#include "externalscaler.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "integration/integration_util.h"
#include "net/call.h"
#include "net/url.h"
#include "nlohmann/json.hpp"
#include "testutil/temp_dir.h"
#include "testutil/tls_certs.h"

namespace aa {
namespace {

using nlohmann::json;

constexpr absl::Duration kInterval = absl::Seconds(1);
constexpr absl::Duration kScrape = absl::Seconds(1);

constexpr char kConfig[] = R"(
sampling:
  interval: 1s
  maxAge: 10s
  warmNamespaces: [kserve-test]
metrics:
- name: concurrency
  preset: {type: concurrency, source: knative-queue-proxy, window: 30s}
  containerConcurrency: 100
  targetUtilizationPercentage: 70
- name: requests_running
  preset: {type: concurrency, source: vllm, window: 2s}
  target: 70
- name: cpu
  preset: {type: cpu, window: 30s}
  targetUtilization: 50
- name: gateway_requests
  preset: {type: activity, source: istio-gateway, window: 2s}
  target: 1
)";

// Runs the independent Python grpcio client's `call` mode against the adapter's gRPC port with
// `args` (TLS files, trigger metadata key=value...); returns its JSON report (discarded JSON when
// it printed none).
json PythonScalerCall(int grpc_port, const std::string& args) {
  std::string out = integration::RunCommand(absl::StrCat(
      "/usr/bin/python3 ", AA_SOURCE_DIR,
      "/tests/keda/keda_client_test.py call --address 127.0.0.1:", grpc_port, " --proto ",
      AA_SOURCE_DIR, "/proto/externalscaler.proto --namespace kserve-test ", args));
  return json::parse(out, nullptr, false);
}

class KedaIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    demo::StackOptions options = integration::StackOptionsFor(kConfig);
    options.scrape_interval = kScrape;
    auto stack = demo::Stack::Start(options);
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = stack->release();
  }
  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(stack_, nullptr); }

  // Runs the Python client's `call` mode; returns its JSON report.
  static json PythonCall(const std::vector<std::string>& metadata) {
    std::string args;
    for (const auto& m : metadata) absl::StrAppend(&args, " '", m, "'");
    json j = PythonScalerCall(stack_->adapter_grpc_port(), args);
    EXPECT_FALSE(j.is_discarded()) << args;
    return j;
  }

  static std::pair<double, int64_t> AdapterTotal(const std::string& metric,
                                                 const std::string& isvc) {
    auto r = net::HttpsGetInsecure("127.0.0.1", stack_->adapter_https_port(),
                                   absl::StrCat("/api/v1/namespaces/kserve-test/metrics/", metric,
                                                "?inferenceService=", isvc));
    if (!r.ok() || r->status != 200) return {-1, 0};
    json j = json::parse(r->body);
    absl::Time t;
    std::string err;
    absl::ParseTime(absl::RFC3339_full, j["sampledAt"].get<std::string>(), &t, &err);
    return {j["total"].get<double>(), absl::ToUnixMillis(t)};
  }

  // Prometheus' own total of the metric's query over one InferenceService's pods, at `unix_ms`.
  static double PrometheusTotal(const std::string& query, int64_t unix_ms) {
    json j = integration::PrometheusQueryAt(stack_->prometheus_port(), query, unix_ms);
    if (!j.contains("data")) return -1;
    if (j["data"]["result"].empty()) return 0;
    return std::stod(j["data"]["result"][0]["value"][1].get<std::string>());
  }

  static demo::Stack* stack_;
};

demo::Stack* KedaIntegrationTest::stack_ = nullptr;

TEST_F(KedaIntegrationTest, PythonClientGetMetricsEqualsPrometheus) {
  ASSERT_TRUE(
      proc::PollUntil([] { return AdapterTotal("concurrency", "concurrency-model").first > 1; },
                      absl::Seconds(60)));
  // sum over the InferenceService's pods, as Prometheus computes it from the preset's per-pod
  // query.
  const std::string per_pod =
      "sum by (namespace_name, pod_name) "
      "(rate(revision_request_latencies_sum{namespace_name=\"kserve-test\","
      "configuration_name=\"concurrency-model-predictor\"}[30s])) / 1000";
  bool equal = false;
  json report;
  // Bounded in time rather than in tries: under load a new snapshot often lands during the Python
  // call, and such a try proves nothing either way.
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (!equal && absl::Now() < deadline) {
    auto before = AdapterTotal("concurrency", "concurrency-model");
    report = PythonCall({"metric=concurrency", "inferenceService=concurrency-model",
                         "containerConcurrency=100", "targetUtilizationPercentage=70",
                         "scalerAddress=ignored:9500"});
    auto after = AdapterTotal("concurrency", "concurrency-model");
    if (before.second != after.second)
      continue;  // a new snapshot landed between the calls: try again
    double value = report["GetMetrics"][0]["metricValueFloat"].get<double>();
    double prom = PrometheusTotal(absl::StrCat("sum(", per_pod, ")"), before.second);
    equal = std::abs(value - prom) <= 1e-9 * std::max(1.0, std::abs(prom)) && value == before.first;
  }
  EXPECT_TRUE(equal) << report.dump();
  // GetMetricSpec: per-pod target 70 from KServe's containerConcurrency 100 x 70 %.
  EXPECT_EQ(report["GetMetricSpec"][0]["targetSizeFloat"], 70.0);
  EXPECT_EQ(report["IsActive"], true);
}

TEST_F(KedaIntegrationTest, ErrorsAreRealGrpcCodes) {
  json unknown = PythonCall({"metric=nope", "target=1"});
  EXPECT_EQ(unknown["GetMetrics"]["code"], "NOT_FOUND") << unknown.dump();
  json bad = PythonCall({"metric=concurrency", "target=-3"});
  EXPECT_EQ(bad["GetMetricSpec"]["code"], "INVALID_ARGUMENT") << bad.dump();
}

TEST_F(KedaIntegrationTest, StreamIsActiveTurnsTrueWithinOneIntervalPlusOneScrapeOfLoadArriving) {
  const std::string load = "/api/v1/services/kserve-test/concurrency-model/load";
  ASSERT_TRUE(net::HttpCall("PUT", "127.0.0.1", stack_->sim_port(), load, R"({"rps":0})").ok());
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", stack_->adapter_grpc_port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = externalscaler::ExternalScaler::NewStub(channel);
  externalscaler::ScaledObjectRef ref;
  ref.set_name("concurrency-model-predictor");
  ref.set_namespace_("kserve-test");
  (*ref.mutable_scalermetadata())["metric"] = "requests_running";
  (*ref.mutable_scalermetadata())["inferenceService"] = "concurrency-model";
  // Wait for the in-flight gauge to drain to zero.
  ASSERT_TRUE(proc::PollUntil(
      [&] {
        grpc::ClientContext ctx;
        externalscaler::IsActiveResponse r;
        return stub->IsActive(&ctx, ref, &r).ok() && !r.result();
      },
      absl::Seconds(60)));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto stream = stub->StreamIsActive(&ctx, ref);
  externalscaler::IsActiveResponse msg;
  ASSERT_TRUE(stream->Read(&msg));  // the current state, at once
  EXPECT_FALSE(msg.result());
  absl::Time load_at = absl::Now();
  ASSERT_TRUE(net::HttpCall("PUT", "127.0.0.1", stack_->sim_port(), load, R"({"rps":100})").ok());
  ASSERT_TRUE(stream->Read(&msg));
  absl::Duration took = absl::Now() - load_at;
  EXPECT_TRUE(msg.result());
  // One sampling interval plus one scrape interval, with 1 s for process scheduling on a busy
  // 2-core machine.
  EXPECT_LE(took, kInterval + kScrape + absl::Seconds(1)) << took;
  std::printf("StreamIsActive reported true %s after the load arrived\n",
              absl::FormatDuration(took).c_str());
  ctx.TryCancel();
  ASSERT_TRUE(net::HttpCall("PUT", "127.0.0.1", stack_->sim_port(), load, R"({"rps":null})").ok());
}

// Scale from zero without an activator (KServe's Standard mode): cpu-model at 0 pods, its requests
// counted by Istio's ingress gateway (the simulator's istio_requests_total). The gateway-source
// activity metric reads 0 / inactive with no load, and > 0 / active (pushed on StreamIsActive)
// once requests arrive, all while the service has no pod.
TEST_F(KedaIntegrationTest, GatewayActivityAtZeroPodsTurnsActiveWhenRequestsArrive) {
  const std::string service = "/api/v1/services/kserve-test/cpu-model";
  ASSERT_TRUE(net::HttpCall("PUT", "127.0.0.1", stack_->sim_port(), service + "/replicas",
                            R"({"replicas":0})")
                  .ok());
  ASSERT_TRUE(
      net::HttpCall("PUT", "127.0.0.1", stack_->sim_port(), service + "/load", R"({"rps":0})")
          .ok());
  const absl::Time stopped_at = absl::Now();
  // The value through external.metrics.k8s.io (-1 when there is none) and its sample's time.
  absl::Time sampled_at = absl::InfinitePast();
  auto external_value = [&sampled_at] {
    auto r = net::HttpsGetInsecure(
        "127.0.0.1", stack_->adapter_https_port(),
        "/apis/external.metrics.k8s.io/v1beta1/namespaces/kserve-test/gateway_requests"
        "?labelSelector=destination_service_name%3Dcpu-model-predictor");
    if (!r.ok() || r->status != 200) return -1.0;
    json j = json::parse(r->body, nullptr, false);
    if (j.is_discarded() || !j.contains("items") || j["items"].size() != 1) return -1.0;
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, j["items"][0]["timestamp"].get<std::string>(),
                         &sampled_at, &err)) {
      return -1.0;
    }
    return integration::ParseQuantity(j["items"][0]["value"].get<std::string>());
  };
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", stack_->adapter_grpc_port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = externalscaler::ExternalScaler::NewStub(channel);
  externalscaler::ScaledObjectRef ref;
  ref.set_name("cpu-model-predictor");
  ref.set_namespace_("kserve-test");
  (*ref.mutable_scalermetadata())["metric"] = "gateway_requests";
  (*ref.mutable_scalermetadata())["resource"] = "external";
  (*ref.mutable_scalermetadata())["labelSelector"] = "destination_service_name=cpu-model-predictor";
  (*ref.mutable_scalermetadata())["activationThreshold"] = "0";
  auto is_active = [&]() -> std::optional<bool> {
    grpc::ClientContext ctx;
    externalscaler::IsActiveResponse r;
    if (!stub->IsActive(&ctx, ref, &r).ok()) return std::nullopt;
    return r.result();
  };
  // No load: once the 2 s window holds only samples taken after the load stopped, 0 and inactive.
  double value = -1;
  ASSERT_TRUE(proc::PollUntil(
      [&] {
        value = external_value();
        return sampled_at > stopped_at + absl::Seconds(2) && value == 0 && is_active() == false;
      },
      absl::Seconds(30)))
      << "value " << value;

  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto stream = stub->StreamIsActive(&ctx, ref);
  externalscaler::IsActiveResponse msg;
  ASSERT_TRUE(stream->Read(&msg));  // the current state, at once
  EXPECT_FALSE(msg.result());
  const absl::Time load_at = absl::Now();
  ASSERT_TRUE(
      net::HttpCall("PUT", "127.0.0.1", stack_->sim_port(), service + "/load", R"({"rps":20})")
          .ok());
  ASSERT_TRUE(stream->Read(&msg));
  const absl::Duration took = absl::Now() - load_at;
  EXPECT_TRUE(msg.result());
  // One scrape shows the counter's increase, the next sampling round pushes it (1 s each), with
  // slack for a busy 2-core machine.
  EXPECT_LE(took, kInterval + kScrape + absl::Seconds(2)) << took;
  std::printf(
      "Gateway activity: StreamIsActive reported true %s after requests arrived at 0 pods\n",
      absl::FormatDuration(took).c_str());
  ctx.TryCancel();
  ASSERT_TRUE(proc::PollUntil([&] { return (value = external_value()) > 0; }, absl::Seconds(10)))
      << "value " << value;
  EXPECT_EQ(is_active(), true);
  // Still no pod: the signal came from the gateway alone.
  auto state = net::HttpCall("GET", "127.0.0.1", stack_->sim_port(), service, "");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(json::parse(state->body)["pods"].size(), 0u) << state->body;

  ASSERT_TRUE(
      net::HttpCall("PUT", "127.0.0.1", stack_->sim_port(), service + "/load", R"({"rps":null})")
          .ok());
  ASSERT_TRUE(net::HttpCall("PUT", "127.0.0.1", stack_->sim_port(), service + "/replicas",
                            R"({"replicas":1})")
                  .ok());
}

}  // namespace
}  // namespace aa

namespace aa {
namespace {

// The gRPC port configured in the adapter's config file with mutual TLS: the Python client with the
// right client certificate gets answers; without one the handshake fails.
TEST(KedaTlsIntegrationTest, MutualTlsFromTheConfigFile) {
  testutil::TempDir dir;
  auto ca = testutil::TestCa::Create(dir.path(), "ca");
  ASSERT_TRUE(ca.ok()) << ca.status();
  auto server = ca->IssueServer(dir.path(), "server");
  auto client = ca->IssueClient(dir.path(), "client", "keda-operator");
  ASSERT_TRUE(server.ok() && client.ok());
  demo::StackOptions options = integration::StackOptionsFor(
      absl::StrCat(kConfig, "keda:\n  listen: 127.0.0.1:0\n  tls: {certFile: ", server->cert_file,
                   ", keyFile: ", server->key_file, ", clientCAFile: ", ca->cert_file(), "}\n"));
  // The Stack's --grpc_listen=127.0.0.1:0 sets the address; the TLS settings come from the file.
  auto stack = demo::Stack::Start(options);
  ASSERT_TRUE(stack.ok()) << stack.status();
  auto call = [&](bool with_client_cert) {
    return PythonScalerCall(
        (*stack)->adapter_grpc_port(),
        absl::StrCat(
            "--ca ", ca->cert_file(),
            with_client_cert
                ? absl::StrCat(" --cert ", client->cert_file, " --key ", client->key_file)
                : "",
            " --server-name localhost --timeout 5 metric=concurrency target=70 2>/dev/null"));
  };
  json ok = call(true);
  ASSERT_FALSE(ok.is_discarded());
  EXPECT_TRUE(ok["GetMetricSpec"].is_array()) << ok.dump();
  EXPECT_EQ(ok["GetMetricSpec"][0]["targetSizeFloat"], 70.0) << ok.dump();
  json refused = call(false);
  ASSERT_FALSE(refused.is_discarded());
  EXPECT_EQ(refused["GetMetricSpec"]["code"], "UNAVAILABLE") << refused.dump();
}

}  // namespace
}  // namespace aa

namespace aa {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// A prometheus-adapter config file, unchanged (tests/testdata/prometheus-adapter/config.yaml), then
// KEDA triggers naming the metrics its rules discover: GetMetrics equals Prometheus' own number for
// the rule's query at the time the adapter's table was evaluated.
class KedaRulesIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::ifstream in(std::string(AA_SOURCE_DIR) + "/tests/testdata/prometheus-adapter/config.yaml");
    std::stringstream config;
    config << in.rdbuf();
    ASSERT_FALSE(config.str().empty());
    auto stack = demo::Stack::Start(integration::StackOptionsFor(config.str()));
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = stack->release();
    stub_ = externalscaler::ExternalScaler::NewStub(
                grpc::CreateChannel(absl::StrCat("127.0.0.1:", stack_->adapter_grpc_port()),
                                    grpc::InsecureChannelCredentials()))
                .release();
  }
  static void TearDownTestSuite() {
    delete stub_;
    stub_ = nullptr;
    delete stack_;
    stack_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(stack_, nullptr); }

  static externalscaler::ScaledObjectRef Ref(const std::map<std::string, std::string>& md) {
    externalscaler::ScaledObjectRef ref;
    ref.set_name("so");
    ref.set_namespace_("kserve-test");
    for (const auto& [k, v] : md) (*ref.mutable_scalermetadata())[k] = v;
    return ref;
  }

  // GetMetrics through the generated C++ stub: the value, or the gRPC error.
  static absl::StatusOr<double> GetMetrics(const std::map<std::string, std::string>& md) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    externalscaler::GetMetricsRequest req;
    *req.mutable_scaledobjectref() = Ref(md);
    externalscaler::GetMetricsResponse resp;
    grpc::Status s = stub_->GetMetrics(&ctx, req, &resp);
    if (!s.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
    }
    if (resp.metricvalues_size() != 1) return absl::InternalError("not one metric value");
    return resp.metricvalues(0).metricvaluefloat();
  }

  // The evaluation time of the adapter's table of (metric, resource, series selector), from the
  // query API; InfinitePast when it has none.
  static absl::Time SampledAt(const std::string& metric, const std::string& resource,
                              const std::string& series_selector) {
    auto r = net::HttpsGetInsecure(
        "127.0.0.1", stack_->adapter_https_port(),
        absl::StrCat("/api/v1/namespaces/kserve-test/metrics/", metric, "?resource=", resource,
                     series_selector.empty() ? "" : "&metricLabelSelector=",
                     net::UrlEncode(series_selector)));
    absl::Time t = absl::InfinitePast();
    if (!r.ok() || r->status != 200) return t;
    json j = json::parse(r->body, nullptr, false);
    std::string err;
    if (j.is_discarded() || !j.contains("sampledAt") ||
        !absl::ParseTime(absl::RFC3339_full, j["sampledAt"].get<std::string>(), &t, &err)) {
      return absl::InfinitePast();
    }
    return t;
  }

  // GetMetrics for `md` equals Prometheus' answer to `query` (one number) at the evaluation time of
  // the table the answer came from (the same table before and after the call).
  static void ExpectEqualsPrometheus(const std::map<std::string, std::string>& md,
                                     const std::string& resource,
                                     const std::string& series_selector, const std::string& query) {
    bool equal = false;
    std::string last;
    for (const absl::Time deadline = absl::Now() + absl::Seconds(30);
         !equal && absl::Now() < deadline;) {
      absl::Time before = SampledAt(md.at("metric"), resource, series_selector);
      absl::StatusOr<double> value = GetMetrics(md);
      absl::Time after = SampledAt(md.at("metric"), resource, series_selector);
      if (!value.ok()) {
        last = value.status().ToString();
        absl::SleepFor(absl::Milliseconds(500));  // the first sample of a new key
        continue;
      }
      if (before == absl::InfinitePast() || before != after) continue;  // a new table landed
      json j = integration::PrometheusQueryAt(stack_->prometheus_port(), query,
                                              absl::ToUnixMillis(before));
      if (!j.contains("data") || j["data"]["result"].size() != 1) {
        last = j.dump();
        continue;
      }
      double prom = std::stod(j["data"]["result"][0]["value"][1].get<std::string>());
      equal = std::abs(*value - prom) <= 1e-9 * std::max(1.0, std::abs(prom));
      last = absl::StrCat("GetMetrics ", *value, " vs Prometheus ", prom, " at ",
                          absl::FormatTime(before));
    }
    EXPECT_TRUE(equal) << md.at("metric") << ": " << last;
  }

  static demo::Stack* stack_;
  static externalscaler::ExternalScaler::Stub* stub_;
};

demo::Stack* KedaRulesIntegrationTest::stack_ = nullptr;
externalscaler::ExternalScaler::Stub* KedaRulesIntegrationTest::stub_ = nullptr;

TEST_F(KedaRulesIntegrationTest, GetMetricsOfRuleMetricsEqualsPrometheus) {
  // Discovery runs at start and, while it finds nothing, every 10 s.
  ASSERT_TRUE(proc::PollUntil(
      [] {
        return GetMetrics({{"metric", "cpu_usage"}}).ok();
      },
      absl::Seconds(60)))
      << GetMetrics({{"metric", "cpu_usage"}}).status();

  // rules[0]: pods/cpu_usage (and namespaces/cpu_usage; pods is the default): the total over the
  // namespace's pods.
  ExpectEqualsPrometheus({{"metric", "cpu_usage"}, {"target", "0.5"}}, "pods", "",
                         "sum(sum(rate(container_cpu_usage_seconds_total{namespace=\"kserve-test\","
                         "container!=\"POD\"}[2m])) by (namespace, pod))");

  // externalRules[0]: labelSelector filters the series by their own labels.
  json services = integration::PrometheusQueryAt(
      stack_->prometheus_port(),
      "sum(sim_service_queue_length{namespace=\"kserve-test\"}) by (service)",
      absl::ToUnixMillis(absl::Now()));
  ASSERT_FALSE(services["data"]["result"].empty()) << services.dump();
  const std::string service = services["data"]["result"][0]["metric"]["service"].get<std::string>();
  ExpectEqualsPrometheus({{"metric", "sim_service_queue_length"},
                          {"labelSelector", "service=" + service},
                          {"target", "10"}},
                         "external", "service=" + service,
                         absl::StrCat("sum(sum(sim_service_queue_length{service=\"", service,
                                      "\",namespace=\"kserve-test\"}) by (service))"));
  // Without a selector: every series of the namespace.
  ExpectEqualsPrometheus(
      {{"metric", "sim_service_queue_length"}}, "external", "",
      "sum(sum(sim_service_queue_length{namespace=\"kserve-test\"}) by (service))");
}

TEST_F(KedaRulesIntegrationTest, PythonClientSeesRuleMetricsAndTheirErrors) {
  ASSERT_TRUE(proc::PollUntil(
      [] {
        return GetMetrics({{"metric", "cpu_usage"}}).ok();
      },
      absl::Seconds(60)));
  auto call = [](const std::string& args) {
    json j = PythonScalerCall(stack_->adapter_grpc_port(), args);
    EXPECT_FALSE(j.is_discarded()) << args;
    return j;
  };
  json ok = call("metric=cpu_usage target=0.5 activationThreshold=0");
  ASSERT_TRUE(ok["GetMetricSpec"].is_array()) << ok.dump();
  EXPECT_EQ(ok["GetMetricSpec"][0]["targetSizeFloat"], 0.5);
  ASSERT_TRUE(ok["GetMetrics"].is_array()) << ok.dump();
  EXPECT_GT(ok["GetMetrics"][0]["metricValueFloat"].get<double>(), 0);
  EXPECT_TRUE(ok["StreamIsActive"].is_array()) << ok.dump();
  // Rules define no target.
  json no_target = call("metric=cpu_usage");
  EXPECT_EQ(no_target["GetMetricSpec"]["code"], "INVALID_ARGUMENT") << no_target.dump();
  EXPECT_THAT(no_target["GetMetricSpec"]["message"].get<std::string>(), HasSubstr("target"));
  // services/ and namespaces/sim_service_in_flight: no pods metric of that name, so `resource`
  // must choose.
  json ambiguous = call("metric=sim_service_in_flight target=1");
  EXPECT_EQ(ambiguous["GetMetrics"]["code"], "INVALID_ARGUMENT") << ambiguous.dump();
  json chosen = call("metric=sim_service_in_flight resource=services target=1");
  EXPECT_TRUE(chosen["GetMetrics"].is_array()) << chosen.dump();
  // Unknown: the message lists configured and discovered names.
  json unknown = call("metric=nope target=1");
  EXPECT_EQ(unknown["GetMetrics"]["code"], "NOT_FOUND") << unknown.dump();
  EXPECT_THAT(unknown["GetMetrics"]["message"].get<std::string>(),
              AllOf(HasSubstr("cpu_usage"), HasSubstr("sim_service_queue_length (external)")));
}

}  // namespace
}  // namespace aa
