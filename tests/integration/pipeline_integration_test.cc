// End to end: the simulator, a real Prometheus scraping it, and the adapter binary. The adapter's
// figures must equal what Prometheus itself answers for the same query at the same evaluation time,
// through load and replica changes, a Prometheus outage (values go stale and are refused) and its
// return (values come back without a restart).

#include <cmath>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "demo/stack.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "integration/integration_util.h"
#include "net/call.h"
#include "nlohmann/json.hpp"

namespace aa {
namespace {

using integration::QueryJson;
using nlohmann::json;
using ::testing::HasSubstr;

constexpr char kNamespace[] = "kserve-test";

// Short interval and age limit so staleness shows within seconds.
constexpr char kAdapterConfig[] = R"(
sampling:
  interval: 1s
  maxAge: 4s
  warmNamespaces: [kserve-test]
metrics:
- name: concurrency
  preset: {type: concurrency, source: knative-queue-proxy, window: 30s}
  containerConcurrency: 100
  targetUtilizationPercentage: 70
- name: concurrency_kserve
  preset: {type: concurrency, source: kserve, window: 30s}
  target: 70
- name: cpu
  preset: {type: cpu, window: 30s}
  targetUtilization: 50
)";

class PipelineIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto stack = demo::Stack::Start(integration::StackOptionsFor(kAdapterConfig));
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = stack->release();
  }
  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(stack_, nullptr); }

  // One comparison: the adapter's per-pod values (one sample, evaluated at `ts_ms`) and Prometheus'
  // own answer to the same query at the same evaluation time.
  struct Comparison {
    bool answered = false;  // the adapter answered 200 with pods
    int64_t ts_ms = -1;
    std::map<std::string, double> adapter;
    std::map<std::string, double> prometheus;
    bool equal() const { return answered && adapter == prometheus; }
  };
  static Comparison CompareWithPrometheus(const std::string& metric) {
    Comparison c;
    int status = 0;
    json a =
        QueryJson(stack_->adapter_https_port(),
                  absl::StrCat("/api/v1/namespaces/", kNamespace, "/metrics/", metric), &status);
    if (status != 200 || !a.contains("pods") || a["pods"].empty()) return c;
    for (const auto& p : a["pods"]) {
      c.adapter[p["pod"].get<std::string>()] = p["value"].get<double>();
      absl::Time t;
      std::string err;
      EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, p["timestamp"].get<std::string>(), &t, &err))
          << err;
      c.ts_ms = absl::ToUnixMillis(t);
    }
    c.answered = true;
    c.prometheus = integration::PrometheusValues(
        stack_->adapter_https_port(), stack_->prometheus_port(), metric, kNamespace, c.ts_ms);
    return c;
  }

  // The adapter's answer for evaluation time T must equal Prometheus' answer for T. But Prometheus'
  // answer for T can still change after the adapter asked: a scrape stamped before T is committed
  // when it completes, later under load, and then counts in windows ending at T. Such a sample
  // makes one adapter sample differ for good (asking again returns the same sample), so this polls,
  // within a bounded time, for one of the adapter's samples (a new one each sampling interval) that
  // Prometheus confirms. A wrong adapter value never matches and fails after the deadline.
  static void ExpectEqualToPrometheus(const std::string& metric) {
    Comparison last;
    int samples = 0;
    bool equal = proc::PollUntil(
        [&] {
          Comparison c = CompareWithPrometheus(metric);
          if (!c.answered || c.ts_ms == last.ts_ms) return false;  // wait for a new sample
          last = std::move(c);
          ++samples;
          return last.equal();
        },
        absl::Seconds(60));
    auto dump = [](const std::map<std::string, double>& m) {
      std::string out;
      for (const auto& [pod, v] : m) absl::StrAppendFormat(&out, "%s=%.17g ", pod, v);
      return out;
    };
    EXPECT_TRUE(equal) << metric << ": no match in " << samples << " adapter samples; last at "
                       << last.ts_ms << " ms: adapter " << dump(last.adapter) << "; prometheus "
                       << dump(last.prometheus);
  }

  static demo::Stack* stack_;
};

demo::Stack* PipelineIntegrationTest::stack_ = nullptr;

TEST_F(PipelineIntegrationTest, BecomesReadyAndListsDefinitions) {
  ASSERT_TRUE(demo::WaitForHttp(stack_->adapter_port(), "/readyz", 200, absl::Seconds(30)).ok());
  json defs = QueryJson(stack_->adapter_https_port(), "/api/v1/metrics");
  ASSERT_EQ(defs["metrics"].size(), 3u);
  EXPECT_EQ(defs["metrics"][0]["target"], 70.0);
}

TEST_F(PipelineIntegrationTest, ValuesEqualPrometheusForEveryMetric) {
  // Wait until the rate windows hold traffic.
  ASSERT_TRUE(proc::PollUntil(
      [] {
        json a = QueryJson(stack_->adapter_https_port(),
                           absl::StrCat("/api/v1/namespaces/", kNamespace,
                                        "/metrics/concurrency?inferenceService=concurrency-model"));
        return a.contains("total") && a["total"].get<double>() > 1;
      },
      absl::Seconds(60)));
  ExpectEqualToPrometheus("concurrency");
  ExpectEqualToPrometheus("concurrency_kserve");
  ExpectEqualToPrometheus("cpu");
  json cpu = QueryJson(
      stack_->adapter_https_port(),
      absl::StrCat("/api/v1/namespaces/", kNamespace, "/metrics/cpu?inferenceService=cpu-model"));
  EXPECT_EQ(cpu["podCount"], 1);
  EXPECT_GT(cpu["baselineTotal"].get<double>(), 0);
  EXPECT_TRUE(cpu["utilizationPercent"].is_number());
}

TEST_F(PipelineIntegrationTest, FollowsReplicaAndLoadChanges) {
  const std::string svc = absl::StrCat("/api/v1/services/", kNamespace, "/concurrency-model");
  auto r =
      net::HttpCall("PUT", "127.0.0.1", stack_->sim_port(), svc + "/replicas", R"({"replicas":3})");
  ASSERT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.status().ToString());
  r = net::HttpCall("PUT", "127.0.0.1", stack_->sim_port(), svc + "/load", R"({"rps":150})");
  ASSERT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.status().ToString());
  const std::string path = absl::StrCat("/api/v1/namespaces/", kNamespace,
                                        "/metrics/concurrency?inferenceService=concurrency-model");
  // Three pods, each serving: the new pods show up with non-zero concurrency.
  bool three = proc::PollUntil(
      [&] {
        json a = QueryJson(stack_->adapter_https_port(), path);
        if (!a.contains("pods") || a["pods"].size() != 3) return false;
        for (const auto& p : a["pods"]) {
          if (p["value"].get<double>() <= 0) return false;
        }
        return true;
      },
      absl::Seconds(90));
  EXPECT_TRUE(three) << QueryJson(stack_->adapter_https_port(), path).dump();
  ExpectEqualToPrometheus("concurrency");
}

TEST_F(PipelineIntegrationTest, PrometheusOutageGoesStaleThenRecoversWithoutRestart) {
  const std::string path = absl::StrCat("/api/v1/namespaces/", kNamespace, "/metrics/concurrency");
  int status = 0;
  QueryJson(stack_->adapter_https_port(), path, &status);
  ASSERT_EQ(status, 200);
  stack_->StopPrometheus();
  json err;
  bool stale = proc::PollUntil(
      [&] {
        err = QueryJson(stack_->adapter_https_port(), path, &status);
        return status == 503;
      },
      absl::Seconds(30));
  ASSERT_TRUE(stale) << err.dump();
  EXPECT_EQ(err["error"]["reason"], "ServiceUnavailable");
  EXPECT_THAT(err["error"]["message"].get<std::string>(), HasSubstr("stale"));
  EXPECT_THAT(err["error"]["message"].get<std::string>(), HasSubstr("last good sample at"));
  // The outage is visible in the adapter's own metrics.
  auto metrics = net::HttpCall("GET", "127.0.0.1", stack_->adapter_port(), "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_THAT(
      metrics->body,
      HasSubstr(
          "autoscale_adapter_sampler_queries_total{metric=\"concurrency\",outcome=\"error\"}"));
  EXPECT_EQ(stack_->adapter()->Running(), true);

  ASSERT_TRUE(stack_->StartPrometheus().ok());
  bool back = proc::PollUntil(
      [&] {
        QueryJson(stack_->adapter_https_port(), path, &status);
        return status == 200;
      },
      absl::Seconds(30));
  EXPECT_TRUE(back);
  ExpectEqualToPrometheus("concurrency");
}

TEST(AdapterProcess, BrokenConfigExitsNonZeroNamingFileAndField) {
  demo::StackOptions options =
      integration::StackOptionsFor("sampling:\n  interval: fast\nmetrics: []\n");
  options.start_adapter = false;
  auto stack = demo::Stack::Start(options);
  ASSERT_TRUE(stack.ok()) << stack.status();
  absl::Status s = (*stack)->StartAdapter();
  EXPECT_FALSE(s.ok());
  ASSERT_NE((*stack)->adapter(), nullptr);
  std::string log = (*stack)->adapter()->LogTail();
  EXPECT_THAT(log, HasSubstr("adapter.yaml"));
  EXPECT_THAT(log, HasSubstr("sampling.interval"));
  EXPECT_EQ((*stack)->adapter()->Stop(), 1);
}

TEST(AdapterProcess, UnreachablePrometheusAtStartIsNotReadyAndRefusesClearly) {
  demo::StackOptions options = integration::StackOptionsFor(kAdapterConfig);
  options.adapter_args = {
      "--prometheus_url=http://127.0.0.1:1"};  // later flag wins: nothing listens on port 1
  auto stack = demo::Stack::Start(options);
  ASSERT_TRUE(stack.ok()) << stack.status();
  int port = (*stack)->adapter_port();
  int status = 0;
  auto ready = net::HttpCall("GET", "127.0.0.1", port, "/readyz");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->status, 503);
  json err =
      QueryJson((*stack)->adapter_https_port(),
                absl::StrCat("/api/v1/namespaces/", kNamespace, "/metrics/concurrency"), &status);
  EXPECT_EQ(status, 503);
  EXPECT_THAT(err["error"]["message"].get<std::string>(), HasSubstr("127.0.0.1:1"));
  // It shuts down cleanly on SIGTERM.
  EXPECT_EQ((*stack)->StopAdapter(), 0);
}

}  // namespace
}  // namespace aa
