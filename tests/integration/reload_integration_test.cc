// Reloading the config file without a restart, end to end: the simulator, a real Prometheus and the
// adapter binary started with --config pointing into a directory laid out as a Kubernetes
// ConfigMap volume (the file a symlink through `..data`, which the test swaps atomically to a new
// version directory, as the kubelet does). Checked through the HTTPS APIs with the pinned kubectl
// and a KEDA gRPC stream: a new metric appears, a removed one answers 404 and leaves discovery, a
// stream on it ends with NOT_FOUND, an unchanged one serves on; an invalid file keeps the running
// config, logs its line and field and reads 0 on the gauge; SIGHUP reloads.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <chrono>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "demo/proc/subprocess.h"
#include "demo/stack.h"
#include "externalscaler.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "integration/integration_util.h"
#include "net/call.h"
#include "nlohmann/json.hpp"
#include "testutil/temp_dir.h"

namespace aa {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kNamespace[] = "kserve-test";
// The watch checks the file every 5 s; a reload shows within that plus a sampling round.
constexpr absl::Duration kReloadWait = absl::Seconds(40);

constexpr char kPrefix[] = R"(sampling:
  interval: 2s
  maxAge: 30s
  warmNamespaces: [kserve-test]
metrics:
- name: concurrency
  preset: {type: concurrency, source: knative-queue-proxy, window: 30s}
  containerConcurrency: 100
  targetUtilizationPercentage: 70
)";
// v1: concurrency and requests_running.
constexpr char kRequestsRunning[] = R"(- name: requests_running
  preset: {type: concurrency, source: vllm, window: 30s}
  target: 70
)";
// v2: requests_running removed, concurrency_kserve added, and a field that needs a restart.
constexpr char kKserve[] = R"(- name: concurrency_kserve
  preset: {type: concurrency, source: kserve, window: 30s}
  target: 70
)";

class ReloadIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    volume_.Write(absl::StrCat(kPrefix, kRequestsRunning));
    demo::StackOptions options = integration::StackOptionsFor("");
    options.start_adapter = false;
    auto stack = demo::Stack::Start(options);
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = *std::move(stack);
    ASSERT_TRUE(stack_->StartAdapter({"--config=" + volume_.file()}).ok());
    kubeconfig_ = dir_.File("kubeconfig");
    integration::WriteKubeconfig(kubeconfig_, stack_->adapter_https_port());
  }

  std::string SelfMetrics() {
    auto r = net::HttpCall("GET", "127.0.0.1", stack_->adapter_port(), "/metrics");
    return r.ok() ? r->body : "";
  }
  std::string Log() { return testutil::ReadFileOrEmpty(stack_->adapter()->log_file()); }
  // The custom metrics API's discovery lists pods/<metric>.
  bool Listed(const std::string& metric) {
    json list = integration::KubectlJson(kubeconfig_, "/apis/custom.metrics.k8s.io/v1beta2");
    for (const auto& r : list["resources"]) {
      if (r["name"] == "pods/" + metric) return true;
    }
    return false;
  }
  // kubectl get --raw of every pod's `metric`: its exit code and output.
  std::string PodsMetric(const std::string& metric, int* exit_code) {
    return integration::RunKubectl(kubeconfig_,
                                   {"get", "--raw",
                                    absl::StrCat("/apis/custom.metrics.k8s.io/v1beta2/namespaces/",
                                                 kNamespace, "/pods/*/", metric)},
                                   exit_code);
  }

  testutil::TempDir dir_;
  testutil::ConfigMapVolume volume_{dir_, "adapter.yaml"};
  std::unique_ptr<demo::Stack> stack_;
  std::string kubeconfig_;
};

TEST_F(ReloadIntegrationTest, ASwappedConfigMapAppliesAndAnInvalidOneKeepsServing) {
  int code = -1;
  ASSERT_TRUE(proc::PollUntil(
      [&] {
        PodsMetric("requests_running", &code);
        return code == 0;
      },
      absl::Seconds(60)));
  ASSERT_TRUE(Listed("requests_running"));
  ASSERT_FALSE(Listed("concurrency_kserve"));

  // A KEDA stream on the metric about to be removed.
  auto stub = externalscaler::ExternalScaler::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", stack_->adapter_grpc_port()), grpc::InsecureChannelCredentials()));
  externalscaler::ScaledObjectRef ref;
  ref.set_name("concurrency-model-predictor");
  ref.set_namespace_(kNamespace);
  (*ref.mutable_scalermetadata())["metric"] = "requests_running";
  (*ref.mutable_scalermetadata())["inferenceService"] = "concurrency-model";
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(90));
  auto stream = stub->StreamIsActive(&ctx, ref);
  externalscaler::IsActiveResponse msg;
  ASSERT_TRUE(stream->Read(&msg));  // the current state

  // v2, swapped in as the kubelet does; the watch finds it.
  volume_.Write(absl::StrCat(
      kPrefix, kKserve, "podLabels:\n  query: kube_pod_labels{<<.LabelMatchers>>,job!=\"x\"}\n"));
  ASSERT_TRUE(proc::PollUntil([&] { return Listed("concurrency_kserve"); }, kReloadWait)) << Log();
  EXPECT_FALSE(Listed("requests_running"));
  std::string out = PodsMetric("requests_running", &code);
  EXPECT_NE(code, 0);
  EXPECT_THAT(out, HasSubstr("NotFound")) << out;
  ASSERT_TRUE(proc::PollUntil(
      [&] {
        PodsMetric("concurrency_kserve", &code);
        return code == 0;
      },
      absl::Seconds(30)));
  // The stream on the removed metric ends with NOT_FOUND.
  while (stream->Read(&msg)) {
  }
  grpc::Status end = stream->Finish();
  EXPECT_EQ(end.error_code(), grpc::StatusCode::NOT_FOUND) << end.error_message();
  // The unchanged definition serves on (that it keeps its very tables is the sampler's unit test).
  PodsMetric("concurrency", &code);
  EXPECT_EQ(code, 0);
  std::string log = Log();
  EXPECT_THAT(log, HasSubstr("config reloaded"));
  EXPECT_THAT(log, HasSubstr("podLabels.query"));  // named in the restart warning
  EXPECT_THAT(SelfMetrics(),
              HasSubstr("autoscale_adapter_config_reloads_total{outcome=\"success\"} 1"));

  // An invalid file: the running config keeps serving; the log names the file, line and field.
  volume_.Write(absl::StrCat(kPrefix, kKserve, "  scaling: {minReplicas: many}\n"));
  ASSERT_TRUE(proc::PollUntil(
      [&] {
        return absl::StrContains(SelfMetrics(),
                                 "autoscale_adapter_config_last_reload_successful 0");
      },
      kReloadWait))
      << Log();
  log = Log();
  EXPECT_THAT(log, HasSubstr("config reload failed"));
  EXPECT_THAT(log, HasSubstr("\"field\":\"metrics[1].scaling.minReplicas\"")) << log;
  EXPECT_THAT(log, HasSubstr("\"line\":13")) << log;
  EXPECT_THAT(log, HasSubstr(volume_.file()));
  PodsMetric("concurrency_kserve", &code);
  EXPECT_EQ(code, 0);
  EXPECT_TRUE(Listed("concurrency_kserve"));

  // SIGHUP: the valid v1 again; the signal reloads it (and does not stop the adapter).
  volume_.Write(absl::StrCat(kPrefix, kRequestsRunning));
  stack_->adapter()->Signal(SIGHUP);
  ASSERT_TRUE(proc::PollUntil(
      [&] {
        return absl::StrContains(SelfMetrics(),
                                 "autoscale_adapter_config_last_reload_successful 1");
      },
      kReloadWait));
  EXPECT_THAT(Log(), HasSubstr("SIGHUP: reloading the config file"));
  EXPECT_TRUE(Listed("requests_running"));
  EXPECT_FALSE(Listed("concurrency_kserve"));
  EXPECT_TRUE(stack_->adapter()->Running());
}

}  // namespace
}  // namespace aa
