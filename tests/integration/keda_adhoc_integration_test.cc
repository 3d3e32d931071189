// Triggers written for KEDA's prometheus scaler, served by the adapter binary fed by a real
// Prometheus: the independent Python grpcio client sends the metadata of real `type: prometheus`
// triggers (sum, a single series, empty with and without ignoreNullValues, two elements, NaN) and
// gets what KEDA's own scaler computes from Prometheus' answer; 1,000 ScaledObjects with the same
// query cost one Prometheus query per sampling interval (the adapter's self-metrics); and the
// closed loop's KEDA emulator scales on such a trigger.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "demo/closedloop/autoscalers.h"
#include "demo/closedloop/scenario.h"
#include "demo/stack.h"
#include "externalscaler.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "integration/integration_util.h"
#include "net/call.h"
#include "net/url.h"
#include "nlohmann/json.hpp"

namespace aa {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

// No warm namespaces and no other definition in use: every query the sampler sends is the probe or
// an ad-hoc query.
constexpr char kConfig[] = R"(
sampling:
  interval: 1s
  maxAge: 10s
metrics:
- name: concurrency
  preset: {type: concurrency, source: knative-queue-proxy, window: 30s}
  target: 70
)";

// Everything the sim's concurrency model has served so far, in seconds of latency (a counter: its
// value changes with every scrape).
constexpr char kCounterQuery[] =
    "sum(revision_request_latencies_sum{namespace_name=\"kserve-test\"})";

class KedaAdhocIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto stack = demo::Stack::Start(integration::StackOptionsFor(kConfig));
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = stack->release();
    stub_ = externalscaler::ExternalScaler::NewStub(
                grpc::CreateChannel(absl::StrCat("127.0.0.1:", stack_->adapter_grpc_port()),
                                    grpc::InsecureChannelCredentials()))
                .release();
    // Until the sim's series are in Prometheus at the adapter's evaluation times (the sampling
    // interval's boundary before each request: up to 1 s ago).
    ASSERT_TRUE(proc::PollUntil(
        [] {
          return !integration::PrometheusQueryAt(
                      stack_->prometheus_port(), kCounterQuery,
                      absl::ToUnixMillis(absl::Now()) - 1000)["data"]["result"]
                      .empty();
        },
        absl::Seconds(60)));
  }
  static void TearDownTestSuite() {
    delete stub_;
    stub_ = nullptr;
    delete stack_;
    stack_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(stack_, nullptr); }

  // The gRPC code of one call in a Python client's report: "OK" when it answered.
  static std::string Code(const json& report, const std::string& rpc) {
    if (!report.contains(rpc)) return "missing";
    const json& r = report[rpc];
    return r.is_object() && r.contains("code") ? r["code"].get<std::string>() : "OK";
  }
  static std::string Message(const json& report, const std::string& rpc) {
    const json& r = report[rpc];
    return r.is_object() && r.contains("message") ? r["message"].get<std::string>() : r.dump();
  }

  // The Python client's report for a trigger with `metadata` (key=value each).
  static json PythonCall(const std::vector<std::string>& metadata) {
    std::string args;
    for (const auto& m : metadata) absl::StrAppend(&args, " '", m, "'");
    std::string out = integration::RunCommand(absl::StrCat(
        "/usr/bin/python3 ", AA_SOURCE_DIR,
        "/tests/keda/keda_client_test.py call --address 127.0.0.1:", stack_->adapter_grpc_port(),
        " --proto ", AA_SOURCE_DIR, "/proto/externalscaler.proto --namespace shop", args));
    json j = json::parse(out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << args << ": " << out;
    return j;
  }

  // Prometheus' own result (the `result` array) for `query`, now.
  static json PrometheusNow(const std::string& query) {
    json j = integration::PrometheusQueryAt(stack_->prometheus_port(), query,
                                            absl::ToUnixMillis(absl::Now()));
    if (!j.contains("data")) return json::array();
    return j["data"]["result"];
  }

  // Every value Prometheus gave `query` over the last `span`.
  static std::set<double> PrometheusValuesOver(const std::string& query, absl::Duration span) {
    return integration::PrometheusValuesOver(stack_->prometheus_port(), query, span);
  }

  static double SelfMetric(const std::string& name, const std::string& labels_part) {
    auto r = net::HttpCall("GET", "127.0.0.1", stack_->adapter_port(), "/metrics");
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return -1;
    for (absl::string_view line : absl::StrSplit(r->body, '\n')) {
      if (!absl::StartsWith(line, name) || !absl::StrContains(line, labels_part)) continue;
      double v = 0;
      if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) return v;
    }
    return 0;
  }

  static demo::Stack* stack_;
  static externalscaler::ExternalScaler::Stub* stub_;
};

demo::Stack* KedaAdhocIntegrationTest::stack_ = nullptr;
externalscaler::ExternalScaler::Stub* KedaAdhocIntegrationTest::stub_ = nullptr;

// First in the suite: no other ad-hoc query is live, so the adapter's keda_adhoc query count is
// this one query's.
TEST_F(KedaAdhocIntegrationTest, AThousandScaledObjectsWithOneQueryCostOneQueryPerInterval) {
  auto queries = [] {
    return SelfMetric("autoscale_adapter_sampler_queries_total", "metric=\"keda_adhoc\"");
  };
  auto rounds = [] {
    return SelfMetric("autoscale_adapter_sampler_round_duration_seconds_count", "");
  };
  const double queries_before = queries();
  const double rounds_before = rounds();
  const absl::Time start = absl::Now();
  // The 1,000 ask again and again for at least 4 sampling intervals (4 s).
  int calls = 0;
  for (int i = 0; i < 1000 || absl::Now() - start < absl::Seconds(4); ++i, ++calls) {
    externalscaler::GetMetricsRequest req;
    externalscaler::ScaledObjectRef* ref = req.mutable_scaledobjectref();
    ref->set_name(absl::StrCat("worker-", i % 1000));
    ref->set_namespace_(absl::StrCat("team-", i % 20));
    (*ref->mutable_scalermetadata())["serverAddress"] = "default";
    (*ref->mutable_scalermetadata())["query"] = "count(up) * 3";
    (*ref->mutable_scalermetadata())["threshold"] = "2";
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    externalscaler::GetMetricsResponse resp;
    grpc::Status s = stub_->GetMetrics(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << i << ": " << s.error_message();
    ASSERT_EQ(resp.metricvalues(0).metricvaluefloat(), 3) << i;
  }
  const absl::Duration took = absl::Now() - start;
  const double sent = queries() - queries_before;
  const double ran = rounds() - rounds_before;
  std::printf(
      "1000 ScaledObjects, one query: %d GetMetrics calls, %.0f Prometheus queries in %.0f "
      "sampling rounds, %s\n",
      calls, sent, ran, absl::FormatDuration(took).c_str());
  // At most one per sampling round (the first one included), and one per second of the run (plus
  // the first sample and the round in progress): independent of the 1,000 ScaledObjects.
  EXPECT_GE(sent, 4);
  EXPECT_LE(sent, ran + 1);
  EXPECT_LE(sent, absl::ToDoubleSeconds(took) + 2);
}

TEST_F(KedaAdhocIntegrationTest, PythonClientGetsWhatKedasPrometheusScalerComputes) {
  const std::vector<std::string> common = {"scalerAddress=ignored:9500", "serverAddress=default",
                                           "threshold=2", "activationThreshold=0.5"};
  auto call = [&](std::vector<std::string> md) {
    md.insert(md.end(), common.begin(), common.end());
    return PythonCall(md);
  };
  // A sum: one element without labels; Prometheus answers the same.
  json sum = call({"query=sum(up) * 2.5"});
  json prom_sum = PrometheusNow("sum(up) * 2.5");
  ASSERT_EQ(prom_sum.size(), 1u);
  ASSERT_EQ(Code(sum, "GetMetrics"), "OK") << sum.dump();
  EXPECT_EQ(sum["GetMetrics"][0]["metricValueFloat"].get<double>(),
            std::stod(prom_sum[0]["value"][1].get<std::string>()))
      << sum.dump();
  EXPECT_EQ(sum["GetMetrics"][0]["metricName"], "prometheus");
  EXPECT_EQ(sum["GetMetricSpec"][0]["targetSizeFloat"], 2.0);
  EXPECT_EQ(sum["GetMetricSpec"][0]["metricName"], "prometheus");
  EXPECT_EQ(sum["IsActive"], true);
  EXPECT_EQ(sum["StreamIsActive"], json::array({true}));

  // A single series, not aggregated.
  json single = call({"query=up{job=\"kserve-sim\"}"});
  json prom_single = PrometheusNow("up{job=\"kserve-sim\"}");
  ASSERT_EQ(prom_single.size(), 1u);
  ASSERT_EQ(Code(single, "GetMetrics"), "OK") << single.dump();
  EXPECT_EQ(single["GetMetrics"][0]["metricValueFloat"].get<double>(),
            std::stod(prom_single[0]["value"][1].get<std::string>()))
      << single.dump();

  // A value that changes with every scrape: one Prometheus gave at the adapter's evaluation time.
  json counter = call({absl::StrCat("query=", kCounterQuery)});
  ASSERT_EQ(Code(counter, "GetMetrics"), "OK") << counter.dump();
  const double value = counter["GetMetrics"][0]["metricValueFloat"].get<double>();
  std::set<double> seen = PrometheusValuesOver(kCounterQuery, absl::Seconds(15));
  EXPECT_TRUE(seen.contains(value)) << value << " not among " << seen.size() << " values";

  // Empty: 0 with ignoreNullValues (KEDA's default), else UNAVAILABLE.
  ASSERT_TRUE(PrometheusNow("up{job=\"nope\"}").empty());
  json empty = call({"query=up{job=\"nope\"}"});
  ASSERT_EQ(Code(empty, "GetMetrics"), "OK") << empty.dump();
  EXPECT_EQ(empty["GetMetrics"][0]["metricValueFloat"], 0.0) << empty.dump();
  EXPECT_EQ(empty["IsActive"], false);
  json empty_strict = call({"query=up{job=\"nope\"}", "ignoreNullValues=false"});
  EXPECT_EQ(Code(empty_strict, "GetMetrics"), "UNAVAILABLE") << empty_strict.dump();
  EXPECT_THAT(Message(empty_strict, "GetMetrics"), HasSubstr("the result is empty"));
  EXPECT_EQ(Code(empty_strict, "IsActive"), "UNAVAILABLE");

  // Two elements: INVALID_ARGUMENT, as KEDA refuses them.
  const std::string two_query = "up or label_replace(up, \"copy\", \"1\", \"\", \"\")";
  ASSERT_EQ(PrometheusNow(two_query).size(), 2u);
  json two = call({absl::StrCat("query=", two_query)});
  EXPECT_EQ(Code(two, "GetMetrics"), "INVALID_ARGUMENT") << two.dump();
  EXPECT_THAT(Message(two, "GetMetrics"), HasSubstr("returned multiple elements (2)"));

  // NaN: 0 with ignoreNullValues, else UNAVAILABLE.
  json prom_nan = PrometheusNow("vector(NaN)");
  ASSERT_EQ(prom_nan.size(), 1u);
  ASSERT_EQ(prom_nan[0]["value"][1], "NaN");
  json nan = call({"query=vector(NaN)"});
  ASSERT_EQ(Code(nan, "GetMetrics"), "OK") << nan.dump();
  EXPECT_EQ(nan["GetMetrics"][0]["metricValueFloat"], 0.0) << nan.dump();
  json nan_strict = call({"query=vector(NaN)", "ignoreNullValues=false"});
  EXPECT_EQ(Code(nan_strict, "GetMetrics"), "UNAVAILABLE") << nan_strict.dump();

  // An address the adapter does not know is never queried.
  json elsewhere =
      PythonCall({"query=sum(up)", "threshold=2", "serverAddress=http://10.0.0.1:9090"});
  EXPECT_EQ(Code(elsewhere, "GetMetrics"), "INVALID_ARGUMENT") << elsewhere.dump();
}

// The closed loop's KEDA emulator (what KEDA does with GetMetricSpec and GetMetrics: an HPA on the
// external metric) with a `type: prometheus` trigger's metadata as it is.
TEST_F(KedaAdhocIntegrationTest, KedaEmulatorScalesOnAPrometheusScalerTrigger) {
  closedloop::Scenario scenario;
  scenario.autoscaling.keda_polling_interval = absl::Seconds(1);
  scenario.autoscaling.sync_period = absl::Seconds(1);
  closedloop::ModeSpec mode;
  mode.name = "concurrency-model";
  mode.model = closedloop::ModelKind::kConcurrency;
  mode.scaler = closedloop::ScalerKind::kKeda;
  // One scrape target: the query answers 350, and with the threshold of 70 per replica
  // (AverageValue) KEDA's HPA wants ceil(350 / 70) = 5 replicas (within its first scale-up step).
  mode.metric = "prometheus";  // the HPA's name for it, replaced by GetMetricSpec's
  mode.keda_query = "count(up) * 350";
  closedloop::AutoscalerContext context;
  context.scenario = &scenario;
  context.grpc_port = stack_->adapter_grpc_port();
  auto autoscaler = closedloop::MakeAutoscaler(mode, context);
  ASSERT_TRUE(autoscaler.ok()) << autoscaler.status();
  closedloop::SimService service;
  service.name = mode.name;
  service.desired_replicas = 1;
  service.ready_replicas = 1;
  const absl::Time now = absl::Now();
  service.pods.push_back(
      {"concurrency-model-1", true, false, now - absl::Minutes(5), now - absl::Minutes(5)});
  closedloop::Action last;
  for (int step = 0; step < 3; ++step) {
    last = (*autoscaler)->Step(step, now + absl::Seconds(step), step, service);
    ASSERT_TRUE(last.acted) << step;
    ASSERT_TRUE(last.ok) << step << ": " << last.note;
    service.desired_replicas = last.replicas;  // as the loop applies it
  }
  EXPECT_EQ(service.desired_replicas, 5) << last.note;
}

}  // namespace
}  // namespace aa
