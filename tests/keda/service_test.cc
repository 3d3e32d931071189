// The ExternalScaler service end to end in-process: a real Sampler fed by FakeProm, the real gRPC
// server on 127.0.0.1 port 0, and the generated C++ stub over a real channel. The sampler runs on a
// SimulatedClock and is driven with Wake/WaitForGeneration; stream reads wait for messages (with
// deadlines), never for time.

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "externalscaler.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "keda/fake_prom.h"
#include "keda/server.h"
#include "pipeline/sampler.h"
#include "pipeline/view.h"
#include "prometheus/registry.h"
#include "testutil/metric_value.h"
#include "testutil/temp_dir.h"
#include "testutil/tls_certs.h"

namespace aa::keda {
namespace {

using ::externalscaler::ExternalScaler;
using ::externalscaler::GetMetricSpecResponse;
using ::externalscaler::GetMetricsRequest;
using ::externalscaler::GetMetricsResponse;
using ::externalscaler::IsActiveResponse;
using ::externalscaler::ScaledObjectRef;
using testing::FakeProm;
using ::testing::HasSubstr;

constexpr char kNs[] = "t1";
// A generous real-time bound for waits that should be instant.
constexpr absl::Duration kWait = absl::Seconds(20);

ScaledObjectRef Ref(const std::map<std::string, std::string>& md, const std::string& ns = kNs) {
  ScaledObjectRef ref;
  ref.set_name("so");
  ref.set_namespace_(ns);
  for (const auto& [k, v] : md) (*ref.mutable_scalermetadata())[k] = v;
  return ref;
}

void SetDeadline(grpc::ClientContext* ctx) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
}

using testutil::MetricValue;

class KedaServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    prom_.Set("conc", kNs, "pod-a", 0);
    prom_.Set("conc", kNs, "pod-b", 0);
    sampler_ =
        std::make_unique<pipeline::Sampler>(testing::KedaTestConfig(), prom_, clock_, &registry_);
    sampler_->Start();
  }

  void TearDown() override {
    if (server_) server_->Shutdown(absl::Seconds(2));
    sampler_->Stop();
  }

  void StartServer(ServerOptions options = {}) {
    options.listen_address = "127.0.0.1:0";
    options.registry = &registry_;
    if (options.tls_cert_file.empty()) options.allow_plaintext = true;
    auto server = Server::Start(options, pipeline::View(*sampler_));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    ASSERT_GT(server_->port(), 0);
    if (options.tls_cert_file.empty()) {
      stub_ = ExternalScaler::NewStub(
          grpc::CreateChannel(Address(), grpc::InsecureChannelCredentials()));
    }
  }

  std::string Address() const { return absl::StrCat("127.0.0.1:", server_->port()); }

  // One sampling interval later, with the round's snapshot published.
  void Tick() {
    uint64_t generation = sampler_->snapshot()->generation;
    clock_.Advance(absl::Seconds(5));
    sampler_->Wake();
    ASSERT_TRUE(sampler_->WaitForGeneration(generation + 1, kWait));
  }

  grpc::Status GetMetrics(const ScaledObjectRef& ref, GetMetricsResponse* out) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    GetMetricsRequest req;
    *req.mutable_scaledobjectref() = ref;
    req.set_metricname("whatever");
    return stub_->GetMetrics(&ctx, req, out);
  }
  grpc::Status GetMetricSpec(const ScaledObjectRef& ref, GetMetricSpecResponse* out) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    return stub_->GetMetricSpec(&ctx, ref, out);
  }
  grpc::Status IsActive(const ScaledObjectRef& ref, bool* active) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    IsActiveResponse resp;
    grpc::Status s = stub_->IsActive(&ctx, ref, &resp);
    *active = resp.result();
    return s;
  }

  SimulatedClock clock_;
  FakeProm prom_;
  prometheus::Registry registry_;
  std::unique_ptr<pipeline::Sampler> sampler_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<ExternalScaler::Stub> stub_;
};

// An open StreamIsActive call read synchronously.
struct StreamCall {
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReader<IsActiveResponse>> reader;

  StreamCall(ExternalScaler::Stub& stub, const ScaledObjectRef& ref) {
    SetDeadline(&ctx);
    reader = stub.StreamIsActive(&ctx, ref);
  }
  // The next message, or nullopt when the stream ended.
  std::optional<bool> Next() {
    IsActiveResponse resp;
    if (!reader->Read(&resp)) return std::nullopt;
    return resp.result();
  }
};

TEST_F(KedaServiceTest, GetMetricSpecDefaultTargetFromDefinition) {
  StartServer();
  GetMetricSpecResponse resp;
  grpc::Status s = GetMetricSpec(Ref({{"metric", "concurrency"}}), &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(resp.metricspecs_size(), 1);
  EXPECT_EQ(resp.metricspecs(0).metricname(), "concurrency");
  EXPECT_EQ(resp.metricspecs(0).targetsizefloat(), 70);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  EXPECT_EQ(resp.metricspecs(0).targetsize(), 70);
#pragma GCC diagnostic pop
}

TEST_F(KedaServiceTest, GetMetricSpecKServeConcurrency) {
  StartServer();
  GetMetricSpecResponse resp;
  grpc::Status s = GetMetricSpec(Ref({{"metric", "concurrency"},
                                      {"inferenceService", "isvc-a"},
                                      {"containerConcurrency", "10"},
                                      {"targetUtilizationPercentage", "75"}}),
                                 &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(resp.metricspecs_size(), 1);
  EXPECT_EQ(resp.metricspecs(0).metricname(), "concurrency-isvc-a");
  EXPECT_DOUBLE_EQ(resp.metricspecs(0).targetsizefloat(), 7.5);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  EXPECT_EQ(resp.metricspecs(0).targetsize(), 8);
#pragma GCC diagnostic pop
}

TEST_F(KedaServiceTest, CpuTargetIsPercentOfAverageRequest) {
  prom_.Set("cpu_usage", kNs, "pod-a", 0.2);
  prom_.Set("cpu_usage", kNs, "pod-b", 0.4);
  prom_.Set("cpu_request", kNs, "pod-a", 0.5);
  prom_.Set("cpu_request", kNs, "pod-b", 0.5);
  StartServer();
  GetMetricSpecResponse spec;
  grpc::Status s =
      GetMetricSpec(Ref({{"metric", "cpu"}, {"targetUtilizationPercentage", "50"}}), &spec);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(spec.metricspecs_size(), 1);
  EXPECT_DOUBLE_EQ(spec.metricspecs(0).targetsizefloat(), 0.25);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  EXPECT_EQ(spec.metricspecs(0).targetsize(), 1);
#pragma GCC diagnostic pop
  GetMetricsResponse values;
  s = GetMetrics(Ref({{"metric", "cpu"}, {"targetUtilizationPercentage", "50"}}), &values);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(values.metricvalues_size(), 1);
  // KEDA's AverageValue: ceil(0.6 / 0.25) = 3 replicas, the HPA's answer for 60 % utilization at a
  // 50 % target... of two pods: ceil(2 * 60 / 50) = 3.
  EXPECT_NEAR(values.metricvalues(0).metricvaluefloat(), 0.6, 1e-12);

  // No pod with a request: the target cannot be computed, and that is an error, not a guess.
  prom_.Set("cpu_usage", "t2", "pod-x", 0.1);
  s = GetMetricSpec(Ref({{"metric", "cpu"}}, "t2"), &spec);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("baseline"));
}

TEST_F(KedaServiceTest, GetMetricsReturnsWorkloadTotal) {
  prom_.Set("conc", kNs, "pod-a", 30);
  prom_.Set("conc", kNs, "pod-b", 45.5);
  StartServer();
  GetMetricsResponse resp;
  grpc::Status s = GetMetrics(Ref({{"metric", "concurrency"}}), &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(resp.metricvalues_size(), 1);
  EXPECT_EQ(resp.metricvalues(0).metricname(), "concurrency");
  EXPECT_DOUBLE_EQ(resp.metricvalues(0).metricvaluefloat(), 75.5);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  EXPECT_EQ(resp.metricvalues(0).metricvalue(), 76);
#pragma GCC diagnostic pop

  // Namespace from the metadata overrides the ScaledObject's.
  prom_.Set("conc", "t2", "pod-z", 3);
  s = GetMetrics(Ref({{"metric", "concurrency"}, {"namespace", "t2"}}), &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_DOUBLE_EQ(resp.metricvalues(0).metricvaluefloat(), 3);
}

TEST_F(KedaServiceTest, PodSelection) {
  prom_.Set("conc", kNs, "pod-a", 30);
  prom_.Set("conc", kNs, "pod-b", 45);
  prom_.Set("conc", kNs, "pod-c", 5);
  prom_.SetLabels(kNs, "pod-a", {{"serving.kserve.io/inferenceservice", "isvc-a"}, {"app", "web"}});
  prom_.SetLabels(kNs, "pod-b", {{"serving.kserve.io/inferenceservice", "isvc-b"}, {"app", "web"}});
  prom_.SetLabels(kNs, "pod-c", {{"app", "batch"}});
  StartServer();
  GetMetricsResponse resp;
  grpc::Status s =
      GetMetrics(Ref({{"metric", "concurrency"}, {"inferenceService", "isvc-a"}}), &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.metricvalues(0).metricname(), "concurrency-isvc-a");
  EXPECT_DOUBLE_EQ(resp.metricvalues(0).metricvaluefloat(), 30);

  s = GetMetrics(Ref({{"metric", "concurrency"}, {"labelSelector", "app=web"}}), &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_DOUBLE_EQ(resp.metricvalues(0).metricvaluefloat(), 75);

  s = GetMetrics(Ref({{"metric", "concurrency"}, {"labelSelector", "app notin (web)"}}), &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_DOUBLE_EQ(resp.metricvalues(0).metricvaluefloat(), 5);

  // An InferenceService without pods: a real zero (the table exists, no pod matches).
  s = GetMetrics(Ref({{"metric", "concurrency"}, {"inferenceService", "nobody"}}), &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.metricvalues(0).metricvaluefloat(), 0);
}

TEST_F(KedaServiceTest, IsActiveAgainstActivationThreshold) {
  StartServer();
  bool active = true;
  grpc::Status s = IsActive(Ref({{"metric", "concurrency"}}), &active);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(active);

  prom_.Set("conc", kNs, "pod-a", 75.5);
  Tick();
  s = IsActive(Ref({{"metric", "concurrency"}}), &active);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(active);
  s = IsActive(Ref({{"metric", "concurrency"}, {"activationThreshold", "80"}}), &active);
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(active);
  s = IsActive(Ref({{"metric", "concurrency"}, {"activationThreshold", "75"}}), &active);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(active);
}

TEST_F(KedaServiceTest, ErrorCodes) {
  StartServer();
  GetMetricsResponse values;
  GetMetricSpecResponse spec;
  bool active;

  grpc::Status s = GetMetrics(Ref({{"metric", "nope"}}), &values);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("concurrency, cpu, plain"));
  s = GetMetricSpec(Ref({{"metric", "nope"}}), &spec);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);

  s = GetMetrics(Ref({}), &values);  // no scalerMetadata at all
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("scalerMetadata.metric: required"));

  s = GetMetricSpec(Ref({{"metric", "concurrency"}, {"target", "NaN"}}), &spec);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(),
              HasSubstr("scalerMetadata.target: must be a finite number (got \"NaN\")"));
  s = IsActive(Ref({{"metric", "concurrency"}, {"activationThreshold", "-1"}}), &active);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // A metric without a target needs one in the trigger.
  s = GetMetricSpec(Ref({{"metric", "plain"}}), &spec);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("no target"));
  s = GetMetricSpec(Ref({{"metric", "plain"}, {"target", "3"}}), &spec);
  EXPECT_TRUE(s.ok()) << s.error_message();

  s = GetMetrics(Ref({{"metric", "concurrency"}}, ""), &values);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("ScaledObjectRef.namespace"));

  // Huge maps: too many keys, and a message over the size limit.
  std::map<std::string, std::string> many{{"metric", "concurrency"}};
  for (int i = 0; i < 1000; ++i) many[absl::StrCat("key", i)] = "v";
  s = GetMetrics(Ref(many), &values);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("too many keys"));
  s = GetMetrics(Ref({{"metric", "concurrency"}, {"blob", std::string(2 << 20, 'x')}}), &values);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();

  // Unknown keys are ignored.
  s = GetMetrics(Ref({{"metric", "concurrency"}, {"someKey", "1"}, {"scalerAddress", "x:1"}}),
                 &values);
  EXPECT_TRUE(s.ok()) << s.error_message();

  EXPECT_GE(MetricValue(registry_, "autoscale_adapter_keda_requests_total",
                        {{"method", "GetMetrics"}, {"code", "INVALID_ARGUMENT"}}),
            3);
  EXPECT_EQ(MetricValue(registry_, "autoscale_adapter_keda_requests_total",
                        {{"method", "GetMetricSpec"}, {"code", "NOT_FOUND"}}),
            1);
  EXPECT_GE(MetricValue(registry_, "autoscale_adapter_keda_requests_total",
                        {{"method", "GetMetrics"}, {"code", "OK"}}),
            1);
}

TEST_F(KedaServiceTest, PrometheusDownIsUnavailableNeverZero) {
  prom_.SetDown(true);
  StartServer();
  GetMetricsResponse values;
  grpc::Status s = GetMetrics(Ref({{"metric", "concurrency"}}), &values);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("connection refused"));
  bool active;
  s = IsActive(Ref({{"metric", "concurrency"}}), &active);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(KedaServiceTest, StaleDataIsUnavailable) {
  prom_.Set("conc", kNs, "pod-a", 4);
  StartServer();
  GetMetricsResponse values;
  ASSERT_TRUE(GetMetrics(Ref({{"metric", "concurrency"}}), &values).ok());
  prom_.SetDown(true);
  // Rounds fail; the last good table ages past maxAge (60s).
  for (int i = 0; i < 13; ++i) Tick();
  grpc::Status s = GetMetrics(Ref({{"metric", "concurrency"}}), &values);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("stale"));
  prom_.SetDown(false);
  Tick();
  s = GetMetrics(Ref({{"metric", "concurrency"}}), &values);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(values.metricvalues(0).metricvaluefloat(), 4);
}

// Triggers written for KEDA's prometheus scaler (type: prometheus -> type: external, same
// metadata): each gets the value KEDA's own scaler computes from the same Prometheus answer.
TEST_F(KedaServiceTest, PrometheusScalerTriggersGetKedasValue) {
  prom_.AnswerContaining("adhoc_sum", {{{}, 12.5}});
  prom_.AnswerContaining("adhoc_one", {{{{"job", "web"}, {"instance", "a"}}, 7}});
  prom_.AnswerContaining("adhoc_empty", {});
  prom_.AnswerContaining("adhoc_two", {{{{"job", "a"}}, 1}, {{{"job", "b"}}, 2}});
  prom_.AnswerContaining("adhoc_nan", {{{}, std::nan("")}});
  StartServer();
  auto ref = [](std::string query, std::map<std::string, std::string> more = {}) {
    more["query"] = std::move(query);
    more["threshold"] = "10";
    more["serverAddress"] = "default";
    return Ref(more);
  };
  auto value = [&](const ScaledObjectRef& r) -> absl::StatusOr<double> {
    GetMetricsResponse out;
    grpc::Status s = GetMetrics(r, &out);
    if (!s.ok())
      return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
    EXPECT_EQ(out.metricvalues_size(), 1);
    EXPECT_EQ(out.metricvalues(0).metricname(), "prometheus");
    return out.metricvalues(0).metricvaluefloat();
  };
  EXPECT_EQ(*value(ref("sum(adhoc_sum)")), 12.5);
  EXPECT_EQ(*value(ref("adhoc_one{job=\"web\"}")), 7);
  EXPECT_EQ(*value(ref("adhoc_empty")), 0);  // ignoreNullValues defaults to true
  EXPECT_EQ(*value(ref("adhoc_nan")), 0);
  auto empty = value(ref("adhoc_empty", {{"ignoreNullValues", "false"}}));
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(empty.status().message()), HasSubstr("the result is empty"));
  auto nan = value(ref("adhoc_nan", {{"ignoreNullValues", "false"}}));
  EXPECT_EQ(nan.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(nan.status().message()), HasSubstr("NaN"));
  auto two = value(ref("adhoc_two"));
  EXPECT_EQ(two.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(two.status().message()), HasSubstr("returned multiple elements (2)"));

  // GetMetricSpec: the threshold; IsActive: value > activationThreshold.
  GetMetricSpecResponse spec;
  grpc::Status s = GetMetricSpec(ref("sum(adhoc_sum)"), &spec);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(spec.metricspecs_size(), 1);
  EXPECT_EQ(spec.metricspecs(0).metricname(), "prometheus");
  EXPECT_EQ(spec.metricspecs(0).targetsizefloat(), 10);
  bool active = false;
  ASSERT_TRUE(IsActive(ref("sum(adhoc_sum)", {{"activationThreshold", "12"}}), &active).ok());
  EXPECT_TRUE(active);
  ASSERT_TRUE(IsActive(ref("sum(adhoc_sum)", {{"activationThreshold", "12.5"}}), &active).ok());
  EXPECT_FALSE(active);
  EXPECT_EQ(IsActive(ref("adhoc_two"), &active).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // The query's parameters, headers and timeout reach Prometheus.
  ASSERT_TRUE(value(ref("sum(adhoc_sum) + 0", {{"namespace", "team-a"},
                                               {"customHeaders", "X-Scope-OrgID=t1"},
                                               {"timeout", "3s"}}))
                  .ok());
  auto queries = prom_.FakePrometheus::queries();
  auto options = prom_.query_options();
  auto it = std::find(queries.begin(), queries.end(), "sum(adhoc_sum) + 0");
  ASSERT_NE(it, queries.end());
  const prom::QueryOptions& sent = options[static_cast<size_t>(it - queries.begin())];
  EXPECT_EQ(sent.params,
            (std::vector<std::pair<std::string, std::string>>{{"namespace", "team-a"}}));
  EXPECT_EQ(sent.headers,
            (std::vector<std::pair<std::string, std::string>>{{"X-Scope-OrgID", "t1"}}));
  EXPECT_EQ(sent.timeout, absl::Seconds(3));
}

TEST_F(KedaServiceTest, ThousandScaledObjectsWithOneQueryCostOneQueryPerInterval) {
  prom_.AnswerContaining("shared_queue", {{{}, 42}});
  StartServer();
  auto count = [&] {
    size_t n = 0;
    for (const std::string& q : prom_.FakePrometheus::queries()) n += q == "sum(shared_queue)";
    return n;
  };
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 1000; ++i) {
      ScaledObjectRef r =
          Ref({{"query", "sum(shared_queue)"}, {"threshold", "5"}}, absl::StrCat("ns-", i % 50));
      r.set_name(absl::StrCat("so-", i));
      GetMetricsResponse out;
      grpc::Status s = GetMetrics(r, &out);
      ASSERT_TRUE(s.ok()) << s.error_message();
      ASSERT_EQ(out.metricvalues(0).metricvaluefloat(), 42);
    }
    EXPECT_EQ(count(), static_cast<size_t>(round + 1));
    Tick();
    EXPECT_EQ(count(), static_cast<size_t>(round + 2));
  }
  EXPECT_EQ(sampler_->adhoc_queries(), 1u);
}

TEST_F(KedaServiceTest, PrometheusScalerStreamPushesActivity) {
  prom_.AnswerContaining("stream_q", {{{}, 0}});
  StartServer();
  StreamCall call(
      *stub_,
      Ref({{"query", "sum(stream_q)"}, {"threshold", "1"}, {"activationThreshold", "0.5"}}));
  EXPECT_EQ(call.Next(), false);
  prom_.AnswerContaining("stream_q", {{{}, 3}});
  Tick();
  EXPECT_EQ(call.Next(), true);
  server_->Shutdown(absl::Seconds(5));
  EXPECT_EQ(call.Next(), std::nullopt);
}

TEST_F(KedaServiceTest, PrometheusScalerTriggersArePolicedBeforeAnythingIsQueried) {
  auto restart = [&](std::function<void(config::Config&)> change) {
    if (server_) server_->Shutdown(absl::Seconds(2));
    server_.reset();
    sampler_->Stop();
    config::Config c = testing::KedaTestConfig();
    c.prometheus.url = "http://Prometheus.Monitoring:9090/";
    change(c);
    sampler_ = std::make_unique<pipeline::Sampler>(c, prom_, clock_, nullptr);
    sampler_->Start();
    StartServer();
  };
  auto code = [&](std::map<std::string, std::string> md) {
    md.emplace("threshold", "1");
    GetMetricsResponse out;
    grpc::Status s = GetMetrics(Ref(md), &out);
    return std::make_pair(s.error_code(), s.error_message());
  };
  restart([](config::Config&) {});
  // serverAddress: a backend by name or URL; nothing else.
  EXPECT_EQ(
      code({{"query", "vector(1)"}, {"serverAddress", "http://prometheus.monitoring:9090"}}).first,
      grpc::StatusCode::OK);
  EXPECT_EQ(code({{"query", "vector(1)"}, {"serverAddress", "default"}}).first,
            grpc::StatusCode::OK);
  // Refused triggers cost Prometheus nothing.
  auto sent = [&](const std::string& query) {
    auto queries = prom_.FakePrometheus::queries();
    return std::count(queries.begin(), queries.end(), query);
  };
  auto other = code({{"query", "vector(1)"}, {"serverAddress", "http://169.254.169.254"}});
  EXPECT_EQ(other.first, grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(other.second, HasSubstr("scalerMetadata.serverAddress"));
  EXPECT_THAT(other.second, HasSubstr("not a backend of this adapter"));

  restart([](config::Config& c) { c.keda.adhoc_queries.enabled = false; });
  auto off = code({{"query", "vector(1)"}});
  EXPECT_EQ(off.first, grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(off.second, HasSubstr("keda.adhocQueries.enabled is false"));

  restart([](config::Config& c) { c.keda.adhoc_queries.allowlist = {"sum\\(queue_.*\\)"}; });
  auto listed = code({{"query", "up"}});
  EXPECT_EQ(listed.first, grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(listed.second, HasSubstr("keda.adhocQueries.allowlist"));
  // Full match only.
  EXPECT_EQ(code({{"query", "sum(queue_a) or up"}}).first, grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(sent("up"), 0);
  EXPECT_EQ(sent("sum(queue_a) or up"), 0);
  EXPECT_EQ(code({{"query", "sum(queue_a)"}}).first, grpc::StatusCode::OK);
  EXPECT_EQ(sent("sum(queue_a)"), 1);

  restart([](config::Config& c) { c.keda.adhoc_queries.max = 1; });
  EXPECT_EQ(code({{"query", "vector(1) * 1"}}).first, grpc::StatusCode::OK);
  auto full = code({{"query", "vector(1) * 2"}});
  EXPECT_EQ(full.first, grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(full.second, HasSubstr("keda.adhocQueries.max 1"));
  EXPECT_EQ(sent("vector(1) * 2"), 0);
}

TEST_F(KedaServiceTest, StreamSendsStateAtOnceThenPushesChanges) {
  StartServer();
  StreamCall call(*stub_, Ref({{"metric", "concurrency"}, {"activationThreshold", "1"}}));
  EXPECT_EQ(call.Next(), false);
  ASSERT_TRUE(server_->WaitForOpenStreams(1, kWait));
  EXPECT_EQ(MetricValue(registry_, "autoscale_adapter_keda_streams"), 1);

  prom_.Set("conc", kNs, "pod-a", 5);
  Tick();
  EXPECT_EQ(call.Next(), true);
  // Still active: nothing is sent. Then inactive: the next message is `false`, not a repeated
  // `true`.
  prom_.Set("conc", kNs, "pod-a", 9);
  Tick();
  prom_.Set("conc", kNs, "pod-a", 0.5);  // below the activation threshold
  Tick();
  EXPECT_EQ(call.Next(), false);

  // Prometheus going down keeps the stream open and silent; recovery resumes pushes.
  prom_.SetDown(true);
  Tick();
  prom_.SetDown(false);
  prom_.Set("conc", kNs, "pod-b", 3);
  Tick();
  EXPECT_EQ(call.Next(), true);

  // Graceful shutdown finishes the stream with OK.
  server_->Shutdown(absl::Seconds(5));
  EXPECT_EQ(call.Next(), std::nullopt);
  grpc::Status s = call.reader->Finish();
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_EQ(server_->open_streams(), 0u);
  EXPECT_EQ(MetricValue(registry_, "autoscale_adapter_keda_streams"), 0);
}

// Scale from zero: an external activity metric (Knative's activator series, preset activity)
// exists while the workload has no pod; the sampling round that first sees a waiting request
// pushes `true` on the open stream.
class KedaActivityTest : public KedaServiceTest {
 protected:
  void SetUp() override {
    auto c = config::ParseConfig(absl::StrCat(std::string(testing::KedaTestConfigYaml()),
                                              "- name: activator_requests\n"
                                              "  preset: {type: activity, window: 2s}\n"
                                              "  target: 70\n"),
                                 "keda-activity-test");
    ASSERT_TRUE(c.ok()) << c.status();
    SetWaiting(0);
    sampler_ = std::make_unique<pipeline::Sampler>(*std::move(c), prom_, clock_, &registry_);
    sampler_->Start();
  }
  // The activator holds `n` requests of revision isvc-predictor-00001 in namespace t1.
  void SetWaiting(double n) {
    prom_.AnswerContaining("activator_request_concurrency{",
                           {{{{"namespace_name", kNs},
                              {"configuration_name", "isvc-predictor"},
                              {"revision_name", "isvc-predictor-00001"}},
                             n}});
  }
};

TEST_F(KedaActivityTest, StreamPushesTrueOnTheFirstSampleThatShowsAWaitingRequest) {
  StartServer();
  const ScaledObjectRef ref = Ref({{"metric", "activator_requests"},
                                   {"resource", "external"},
                                   {"labelSelector", "configuration_name=isvc-predictor"}});
  StreamCall call(*stub_, ref);
  EXPECT_EQ(call.Next(), false);  // nothing waits: inactive, and no pod needed to say so
  ASSERT_TRUE(server_->WaitForOpenStreams(1, kWait));
  SetWaiting(2);
  Tick();
  EXPECT_EQ(call.Next(), true);
  GetMetricsResponse metrics;
  ASSERT_TRUE(GetMetrics(ref, &metrics).ok());
  ASSERT_EQ(metrics.metricvalues_size(), 1);
  EXPECT_EQ(metrics.metricvalues(0).metricvaluefloat(), 2);
  GetMetricSpecResponse spec;
  ASSERT_TRUE(GetMetricSpec(ref, &spec).ok());
  ASSERT_EQ(spec.metricspecs_size(), 1);
  EXPECT_EQ(spec.metricspecs(0).targetsizefloat(), 70);
  // The activator drained its queue into the new pod: inactive again.
  SetWaiting(0);
  Tick();
  EXPECT_EQ(call.Next(), false);
}

TEST_F(KedaServiceTest, StreamErrors) {
  StartServer();
  {
    StreamCall call(*stub_, Ref({{"metric", "nope"}}));
    EXPECT_EQ(call.Next(), std::nullopt);
    EXPECT_EQ(call.reader->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
  }
  {
    StreamCall call(*stub_, Ref({{"metric", "concurrency"}, {"target", "-1"}}));
    EXPECT_EQ(call.Next(), std::nullopt);
    grpc::Status s = call.reader->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("scalerMetadata.target"));
  }
  {
    prom_.SetDown(true);
    StreamCall call(*stub_, Ref({{"metric", "concurrency"}}, "down-ns"));
    EXPECT_EQ(call.Next(), std::nullopt);
    EXPECT_EQ(call.reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  }
  ASSERT_TRUE(server_->WaitForOpenStreams(0, kWait));
}

// A config reload that removes the metric ends its streams with NOT_FOUND (KEDA reports the
// trigger's error); streams on the metrics that stay are untouched.
TEST_F(KedaServiceTest, StreamOnAMetricAReloadRemovedEndsWithNotFound) {
  StartServer();
  config::Config next = testing::KedaTestConfig();
  StreamCall gone(*stub_, Ref({{"metric", "concurrency"}, {"activationThreshold", "1"}}));
  EXPECT_EQ(gone.Next(), false);
  StreamCall stays(*stub_, Ref({{"metric", "plain"}, {"activationThreshold", "1e9"}}));
  EXPECT_EQ(stays.Next(), false);
  ASSERT_TRUE(server_->WaitForOpenStreams(2, kWait));

  std::erase_if(next.metrics, [](const auto& def) { return def.name == "concurrency"; });
  sampler_->Reload(next);
  Tick();
  EXPECT_EQ(gone.Next(), std::nullopt);
  grpc::Status s = gone.reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("concurrency"));
  ASSERT_TRUE(server_->WaitForOpenStreams(1, kWait));
}

TEST_F(KedaServiceTest, ManyStreamsShareOnePushAndDroppedStreamsAreReleased) {
  StartServer();
  constexpr int kStreams = 200;
  std::vector<std::unique_ptr<StreamCall>> calls;
  for (int i = 0; i < kStreams; ++i) {
    calls.push_back(std::make_unique<StreamCall>(*stub_, Ref({{"metric", "concurrency"}})));
  }
  for (auto& c : calls) EXPECT_EQ(c->Next(), false);
  ASSERT_TRUE(server_->WaitForOpenStreams(kStreams, kWait));
  EXPECT_EQ(MetricValue(registry_, "autoscale_adapter_keda_streams"), kStreams);
  int queries_before = prom_.queries();
  prom_.Set("conc", kNs, "pod-a", 1);
  Tick();
  for (auto& c : calls) EXPECT_EQ(c->Next(), true);
  // One round: the metric query and the pod labels query, whatever the number of streams.
  EXPECT_LE(prom_.queries() - queries_before, 2);

  // Clients go away without reading on: every stream is released.
  for (auto& c : calls) c->ctx.TryCancel();
  ASSERT_TRUE(server_->WaitForOpenStreams(0, kWait));
  EXPECT_EQ(MetricValue(registry_, "autoscale_adapter_keda_streams"), 0);
  EXPECT_EQ(MetricValue(registry_, "autoscale_adapter_keda_requests_total",
                        {{"method", "StreamIsActive"}, {"code", "CANCELLED"}}),
            kStreams);
}

TEST_F(KedaServiceTest, ClientThatDoesNotReadGetsCoalescedStates) {
  StartServer();
  StreamCall call(*stub_, Ref({{"metric", "concurrency"}}));
  EXPECT_EQ(call.Next(), false);
  // Toggle activity many times without reading, ending active. The pusher is let catch up every 10
  // rounds (50 simulated seconds): 99 rounds of 5 s outlast the sampler's demandTTL (5m), and a
  // pusher that fell that far behind would find the (metric, namespace) dropped and hand the stream
  // back to the opener, a different path from the one under test. States still coalesce: the client
  // never reads, so at most one write is in flight.
  constexpr int kToggles = 99;
  for (int i = 1; i <= kToggles; ++i) {
    prom_.Set("conc", kNs, "pod-a", i % 2);
    Tick();
    if (i % 10 == 0) {
      ASSERT_TRUE(server_->WaitForPushed(sampler_->snapshot()->generation, kWait));
    }
  }
  std::optional<bool> last = call.Next();  // at least the final change reaches the client
  ASSERT_TRUE(last.has_value());
  ASSERT_TRUE(server_->WaitForPushed(sampler_->snapshot()->generation, kWait));
  // Shutdown finishes the stream after the latest state is written; then read everything that was
  // sent.
  server_->Shutdown(absl::Seconds(5));
  std::vector<bool> messages{*last};
  while (auto m = call.Next()) messages.push_back(*m);
  EXPECT_TRUE(call.reader->Finish().ok());
  EXPECT_LE(messages.size(), static_cast<size_t>(kToggles));
  EXPECT_EQ(messages.front(), true);  // the first change after the initial `false`
  for (size_t i = 1; i < messages.size(); ++i) {
    ASSERT_NE(messages[i], messages[i - 1]) << "repeated state at message " << i;
  }
  EXPECT_EQ(messages.back(), true);  // the last state (i = 99: active)
}

TEST_F(KedaServiceTest, StreamLimit) {
  ServerOptions options;
  options.max_streams = 2;
  StartServer(options);
  StreamCall a(*stub_, Ref({{"metric", "concurrency"}}));
  StreamCall b(*stub_, Ref({{"metric", "concurrency"}}));
  EXPECT_EQ(a.Next(), false);
  EXPECT_EQ(b.Next(), false);
  StreamCall c(*stub_, Ref({{"metric", "concurrency"}}));
  EXPECT_EQ(c.Next(), std::nullopt);
  EXPECT_EQ(c.reader->Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

// Without certificates a client is its peer IP address: every connection from 127.0.0.1 counts
// against one limit.
TEST_F(KedaServiceTest, StreamsPerClientByAddress) {
  ServerOptions options;
  options.max_streams_per_client = 2;
  StartServer(options);
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own
  auto second = ExternalScaler::NewStub(
      grpc::CreateCustomChannel(Address(), grpc::InsecureChannelCredentials(), args));
  StreamCall a(*stub_, Ref({{"metric", "concurrency"}}));
  EXPECT_EQ(a.Next(), false);
  StreamCall b(*stub_, Ref({{"metric", "concurrency"}}));
  EXPECT_EQ(b.Next(), false);
  StreamCall c(*second, Ref({{"metric", "concurrency"}}));
  EXPECT_EQ(c.Next(), std::nullopt);
  EXPECT_EQ(c.reader->Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

// A request larger than max_receive_message_bytes is refused before it is parsed.
TEST_F(KedaServiceTest, LargeRequestRefused) {
  ServerOptions options;
  options.max_receive_message_bytes = 4096;
  StartServer(options);
  GetMetricsResponse resp;
  EXPECT_TRUE(GetMetrics(Ref({{"metric", "concurrency"}}), &resp).ok());
  grpc::Status s =
      GetMetrics(Ref({{"metric", "concurrency"}, {"padding", std::string(5000, 'x')}}), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

// HTTP/2 MAX_CONCURRENT_STREAMS: a connection holding its limit of calls gets no more (the
// client queues them until its deadline); another connection still works.
TEST_F(KedaServiceTest, ConcurrentStreamsPerConnection) {
  ServerOptions options;
  options.max_concurrent_streams_per_connection = 2;
  StartServer(options);
  StreamCall a(*stub_, Ref({{"metric", "concurrency"}}));
  StreamCall b(*stub_, Ref({{"metric", "concurrency"}}));
  EXPECT_EQ(a.Next(), false);
  EXPECT_EQ(b.Next(), false);
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
    GetMetricsRequest req;
    *req.mutable_scaledobjectref() = Ref({{"metric", "concurrency"}});
    GetMetricsResponse resp;
    EXPECT_EQ(stub_->GetMetrics(&ctx, req, &resp).error_code(),
              grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto other = ExternalScaler::NewStub(
      grpc::CreateCustomChannel(Address(), grpc::InsecureChannelCredentials(), args));
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  GetMetricsRequest req;
  *req.mutable_scaledobjectref() = Ref({{"metric", "concurrency"}});
  GetMetricsResponse resp;
  EXPECT_TRUE(other->GetMetrics(&ctx, req, &resp).ok());
}

// Keepalive enforcement: a client that pings much more often than min_ping_interval while no data
// flows is disconnected (GOAWAY ENHANCE_YOUR_CALM): its open stream ends UNAVAILABLE.
TEST_F(KedaServiceTest, PingFloodDisconnected) {
  ServerOptions options;
  options.min_ping_interval = absl::Minutes(1);
  options.max_ping_strikes = 1;
  StartServer(options);
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 50);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  auto flooder = ExternalScaler::NewStub(
      grpc::CreateCustomChannel(Address(), grpc::InsecureChannelCredentials(), args));
  StreamCall s(*flooder, Ref({{"metric", "concurrency"}}));
  EXPECT_EQ(s.Next(), false);
  EXPECT_EQ(s.Next(), std::nullopt);  // bounded by the call's deadline
  EXPECT_EQ(s.reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  // A well-behaved client is unaffected.
  GetMetricsResponse resp;
  EXPECT_TRUE(GetMetrics(Ref({{"metric", "concurrency"}}), &resp).ok());
}

// Connection age: an open stream is cut max_connection_age + grace after its connection opened
// (UNAVAILABLE; KEDA re-opens it on a new connection), and a new one opens at once.
TEST_F(KedaServiceTest, ConnectionAgeEndsStreams) {
  ServerOptions options;
  options.max_connection_age = absl::Milliseconds(300);
  options.max_connection_age_grace = absl::Milliseconds(300);
  StartServer(options);
  StreamCall s(*stub_, Ref({{"metric", "concurrency"}}));
  EXPECT_EQ(s.Next(), false);
  EXPECT_EQ(s.Next(), std::nullopt);  // bounded by the call's deadline
  EXPECT_EQ(s.reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  StreamCall again(*stub_, Ref({{"metric", "concurrency"}}));
  EXPECT_EQ(again.Next(), false);
}

// Connection idle: a connection without calls is closed by the server (the channel leaves READY).
TEST_F(KedaServiceTest, IdleConnectionClosed) {
  ServerOptions options;
  options.max_connection_idle = absl::Milliseconds(200);
  StartServer(options);
  auto channel = grpc::CreateChannel(Address(), grpc::InsecureChannelCredentials());
  auto stub = ExternalScaler::NewStub(channel);
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  GetMetricsRequest req;
  *req.mutable_scaledobjectref() = Ref({{"metric", "concurrency"}});
  GetMetricsResponse resp;
  ASSERT_TRUE(stub->GetMetrics(&ctx, req, &resp).ok());
  ASSERT_EQ(channel->GetState(false), GRPC_CHANNEL_READY);
  EXPECT_TRUE(channel->WaitForStateChange(
      GRPC_CHANNEL_READY, std::chrono::system_clock::now() + std::chrono::seconds(20)));
  EXPECT_NE(channel->GetState(false), GRPC_CHANNEL_READY);
}

TEST_F(KedaServiceTest, StartErrors) {
  ServerOptions o;
  o.tls_key_file = "/nonexistent.key";
  EXPECT_EQ(Server::Start(o, pipeline::View(*sampler_)).status().code(),
            absl::StatusCode::kInvalidArgument);
  o = ServerOptions{};
  o.client_ca_file = "/ca.pem";
  EXPECT_EQ(Server::Start(o, pipeline::View(*sampler_)).status().code(),
            absl::StatusCode::kInvalidArgument);
  o = ServerOptions{};
  o.tls_cert_file = "/nonexistent/cert.pem";
  o.tls_key_file = "/nonexistent/key.pem";
  EXPECT_EQ(Server::Start(o, pipeline::View(*sampler_)).status().code(),
            absl::StatusCode::kNotFound);

  o = ServerOptions{};
  o.listen_address = "127.0.0.1:0";
  auto plain = Server::Start(o, pipeline::View(*sampler_));
  EXPECT_EQ(plain.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(plain.status().message()), HasSubstr("--grpc-insecure"));
  o.allow_plaintext = true;
  o.client_names = {"keda"};  // names need mutual TLS
  EXPECT_EQ(Server::Start(o, pipeline::View(*sampler_)).status().code(),
            absl::StatusCode::kInvalidArgument);
  o = ServerOptions{};
  o.allow_plaintext = true;
  o.max_streams_per_client = 0;
  EXPECT_EQ(Server::Start(o, pipeline::View(*sampler_)).status().code(),
            absl::StatusCode::kInvalidArgument);

  StartServer();
  o = ServerOptions{};
  o.allow_plaintext = true;
  o.listen_address = Address();  // taken
  auto taken = Server::Start(o, pipeline::View(*sampler_));
  EXPECT_EQ(taken.status().code(), absl::StatusCode::kUnavailable) << taken.status();
}

class KedaTlsTest : public KedaServiceTest {
 protected:
  void MakeCerts() {
    auto ca = testutil::TestCa::Create(dir_.path(), "ca");
    ASSERT_TRUE(ca.ok()) << ca.status();
    auto server = ca->IssueServer(dir_.path(), "server");
    ASSERT_TRUE(server.ok()) << server.status();
    auto client = ca->IssueClient(dir_.path(), "client", "keda-operator");
    ASSERT_TRUE(client.ok()) << client.status();
    auto other_ca = testutil::TestCa::Create(dir_.path(), "other-ca");
    ASSERT_TRUE(other_ca.ok());
    auto stranger = other_ca->IssueClient(dir_.path(), "stranger", "stranger");
    ASSERT_TRUE(stranger.ok());
    ca_pem_ = ca->cert_pem();
    server_files_ = *server;
    client_files_ = *client;
    stranger_files_ = *stranger;
  }

  std::unique_ptr<ExternalScaler::Stub> TlsStub(const testutil::CertFiles* client) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ca_pem_;
    if (client != nullptr) {
      ssl.pem_private_key = client->key_pem;
      ssl.pem_cert_chain = client->cert_pem;
    }
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    // A connection of its own (not one shared from the global subchannel pool), so every stub
    // does a fresh handshake.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return ExternalScaler::NewStub(
        grpc::CreateCustomChannel(Address(), grpc::SslCredentials(ssl), args));
  }

  static grpc::Status Call(ExternalScaler::Stub& stub) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    GetMetricsRequest req;
    *req.mutable_scaledobjectref() = Ref({{"metric", "concurrency"}});
    GetMetricsResponse resp;
    return stub.GetMetrics(&ctx, req, &resp);
  }

  testutil::TempDir dir_;
  std::string ca_pem_;
  testutil::CertFiles server_files_, client_files_, stranger_files_;
};

TEST_F(KedaTlsTest, Tls) {
  MakeCerts();
  ServerOptions o;
  o.tls_cert_file = server_files_.cert_file;
  o.tls_key_file = server_files_.key_file;
  StartServer(o);
  auto stub = TlsStub(nullptr);
  grpc::Status s = Call(*stub);
  EXPECT_TRUE(s.ok()) << s.error_message();
  auto plain =
      ExternalScaler::NewStub(grpc::CreateChannel(Address(), grpc::InsecureChannelCredentials()));
  EXPECT_EQ(Call(*plain).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(KedaTlsTest, MutualTls) {
  MakeCerts();
  ServerOptions o;
  o.tls_cert_file = server_files_.cert_file;
  o.tls_key_file = server_files_.key_file;
  o.client_ca_file = dir_.File("ca.crt");
  StartServer(o);
  auto good = TlsStub(&client_files_);
  grpc::Status s = Call(*good);
  EXPECT_TRUE(s.ok()) << s.error_message();
  auto anonymous = TlsStub(nullptr);
  EXPECT_EQ(Call(*anonymous).error_code(), grpc::StatusCode::UNAVAILABLE);
  auto stranger = TlsStub(&stranger_files_);
  EXPECT_EQ(Call(*stranger).error_code(), grpc::StatusCode::UNAVAILABLE);
}

// The allowlist of client certificate names: the subject CN or a DNS SAN must be on it; a
// certificate the client CA signed with another name gets PERMISSION_DENIED on every call.
TEST_F(KedaTlsTest, ClientNamesAllowlist) {
  auto ca = testutil::TestCa::Create(dir_.path(), "ca-names");
  ASSERT_TRUE(ca.ok());
  auto server = ca->IssueServer(dir_.path(), "server");
  auto keda = ca->IssueClient(dir_.path(), "keda", "keda");
  testutil::CertSpec by_san;
  by_san.common_name = "something-else";
  by_san.dns_names = {"keda-operator.keda.svc"};
  by_san.client_auth = true;
  auto san = ca->Issue(dir_.path(), "san", by_san);
  auto other_name = ca->IssueClient(dir_.path(), "other-name", "keda-operator");
  ASSERT_TRUE(server.ok() && keda.ok() && san.ok() && other_name.ok());
  ca_pem_ = ca->cert_pem();
  ServerOptions o;
  o.tls_cert_file = server->cert_file;
  o.tls_key_file = server->key_file;
  o.client_ca_file = ca->cert_file();
  o.client_names = {"keda", "keda-operator.keda.svc"};
  StartServer(o);
  EXPECT_TRUE(Call(*TlsStub(&*keda)).ok());
  EXPECT_TRUE(Call(*TlsStub(&*san)).ok());
  grpc::Status denied = Call(*TlsStub(&*other_name));
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(denied.error_message(), HasSubstr("keda-operator"));
  EXPECT_EQ(Call(*TlsStub(nullptr)).error_code(), grpc::StatusCode::UNAVAILABLE);
  // A refused client's stream is refused too, before it is counted.
  auto refused_stub = TlsStub(&*other_name);
  StreamCall refused(*refused_stub, Ref({{"metric", "concurrency"}}));
  EXPECT_EQ(refused.Next(), std::nullopt);
  EXPECT_EQ(refused.reader->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(server_->open_streams(), 0u);
}

// One client (certificate name) cannot hold more than max_streams_per_client streams, whatever
// connections it uses; another client's stream still opens and gets pushes.
TEST_F(KedaTlsTest, StreamsPerClient) {
  auto ca = testutil::TestCa::Create(dir_.path(), "ca2");
  ASSERT_TRUE(ca.ok());
  auto server = ca->IssueServer(dir_.path(), "server2");
  auto a = ca->IssueClient(dir_.path(), "a", "client-a");
  auto b = ca->IssueClient(dir_.path(), "b", "client-b");
  ASSERT_TRUE(server.ok() && a.ok() && b.ok());
  ca_pem_ = ca->cert_pem();
  ServerOptions o;
  o.tls_cert_file = server->cert_file;
  o.tls_key_file = server->key_file;
  o.client_ca_file = ca->cert_file();
  o.max_streams_per_client = 3;
  StartServer(o);
  auto a1 = TlsStub(&*a);
  auto a2 = TlsStub(&*a);  // a second connection of the same client
  std::vector<std::unique_ptr<StreamCall>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(
        std::make_unique<StreamCall>(i % 2 ? *a2 : *a1, Ref({{"metric", "concurrency"}})));
    EXPECT_EQ(held.back()->Next(), false);
  }
  for (auto* stub : {a1.get(), a2.get()}) {
    StreamCall extra(*stub, Ref({{"metric", "concurrency"}}));
    EXPECT_EQ(extra.Next(), std::nullopt);
    grpc::Status s = extra.reader->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_THAT(s.error_message(), HasSubstr("per client"));
  }
  EXPECT_EQ(server_->open_streams(), 3u);
  auto b1 = TlsStub(&*b);
  StreamCall other(*b1, Ref({{"metric", "concurrency"}}));
  EXPECT_EQ(other.Next(), false);
  prom_.Set("conc", kNs, "pod-a", 10);
  Tick();
  EXPECT_EQ(other.Next(), true);
  // A stream closed gives its slot back.
  held.back()->ctx.TryCancel();
  held.pop_back();
  ASSERT_TRUE(server_->WaitForOpenStreams(3, kWait));
  StreamCall again(*a1, Ref({{"metric", "concurrency"}}));
  EXPECT_EQ(again.Next(), true);
}

// A connection that never completes its TLS handshake (a silent or slow-loris client) is closed
// after handshake_timeout: the server ends the socket, bounded here by a 20 s poll.
TEST_F(KedaTlsTest, SilentConnectionClosedAfterHandshakeTimeout) {
  MakeCerts();
  ServerOptions o;
  o.tls_cert_file = server_files_.cert_file;
  o.tls_key_file = server_files_.key_file;
  o.client_ca_file = dir_.File("ca.crt");
  o.handshake_timeout = absl::Milliseconds(300);
  StartServer(o);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(send(fd, "\x16\x03", 2, 0), 2);  // the first bytes of a ClientHello, then nothing
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 20000), 1) << "the server kept the silent connection";
  char buf[64];
  EXPECT_LE(recv(fd, buf, sizeof(buf), 0), 0);  // closed (0) or reset (-1)
  close(fd);
  // A real client still connects.
  EXPECT_TRUE(Call(*TlsStub(&client_files_)).ok());
}

TEST_F(KedaTlsTest, RotatedCertificateAndCaAreUsedWithoutRestart) {
  MakeCerts();
  auto ca_b = testutil::TestCa::Create(dir_.path(), "ca-b");
  ASSERT_TRUE(ca_b.ok());
  auto server_b = ca_b->IssueServer(dir_.path(), "server-b");
  auto client_b = ca_b->IssueClient(dir_.path(), "client-b", "keda-operator");
  ASSERT_TRUE(server_b.ok() && client_b.ok());
  // The files the server watches, replaced by renames as a Secret volume does.
  const std::string cert = dir_.WriteFile("live/tls.crt", server_files_.cert_pem);
  const std::string key = dir_.WriteFile("live/tls.key", server_files_.key_pem);
  const std::string ca = dir_.WriteFile("live/ca.crt", ca_pem_);
  ServerOptions o;
  o.tls_cert_file = cert;
  o.tls_key_file = key;
  o.client_ca_file = ca;
  o.tls_reload_interval = absl::Seconds(1);
  StartServer(o);
  EXPECT_TRUE(Call(*TlsStub(&client_files_)).ok());

  auto replace = [&](const std::string& path, const std::string& contents) {
    dir_.WriteFile("live/tmp", contents);
    ASSERT_EQ(rename(dir_.File("live/tmp").c_str(), path.c_str()), 0);
  };
  replace(key, server_b->key_pem);
  replace(cert, server_b->cert_pem);
  replace(ca, ca_b->cert_pem());
  const std::string old_ca = ca_pem_;
  ca_pem_ = ca_b->cert_pem();  // the client now trusts only CA B, and presents B's certificate
  // gRPC's watcher runs on real time: poll (bounded) until the new pair is served.
  bool rotated = false;
  for (int i = 0; i < 100 && !rotated; ++i) {
    rotated = Call(*TlsStub(&*client_b)).ok();
    if (!rotated) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(rotated);
  // The old client certificate no longer verifies against the new CA bundle.
  EXPECT_EQ(Call(*TlsStub(&client_files_)).error_code(), grpc::StatusCode::UNAVAILABLE);
  ca_pem_ = old_ca;
  EXPECT_EQ(Call(*TlsStub(&client_files_)).error_code(), grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace aa::keda
