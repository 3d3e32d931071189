// KEDA's view end to end: the adapter binary fed by a real Prometheus scraping the simulator,
// called over gRPC by the independent Python grpcio client (stubs generated from our proto) and by
// a generated C++ stub for the StreamIsActive timing. GetMetrics must equal Prometheus' own sum for
// the same pods at the same time.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "demo/stack.h"
#include "externalscaler.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http/client.h"
#include "integration/integration_util.h"
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
    auto r = http::HttpCall("GET", "127.0.0.1", stack_->adapter_port(),
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
  for (int i = 0; i < 5 && !equal; ++i) {
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
  ASSERT_TRUE(http::HttpCall("PUT", "127.0.0.1", stack_->sim_port(), load, R"({"rps":0})").ok());
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
  ASSERT_TRUE(http::HttpCall("PUT", "127.0.0.1", stack_->sim_port(), load, R"({"rps":100})").ok());
  ASSERT_TRUE(stream->Read(&msg));
  absl::Duration took = absl::Now() - load_at;
  EXPECT_TRUE(msg.result());
  // One sampling interval plus one scrape interval, with 1 s for process scheduling on a busy
  // 2-core machine.
  EXPECT_LE(took, kInterval + kScrape + absl::Seconds(1)) << took;
  std::printf("StreamIsActive reported true %s after the load arrived\n",
              absl::FormatDuration(took).c_str());
  ctx.TryCancel();
  ASSERT_TRUE(http::HttpCall("PUT", "127.0.0.1", stack_->sim_port(), load, R"({"rps":null})").ok());
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
  options.adapter_args = {
      "--grpc_listen="};  // the Stack's plaintext default is overridden by the file
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
