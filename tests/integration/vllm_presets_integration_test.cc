// The vLLM presets (waiting, kv-cache, ttft) against a real Prometheus scraping the simulator's
// vLLM-like server: each served per-pod value equals Prometheus' answer to the preset's PromQL
// (written out here, not taken from the adapter) at the sample's evaluation time, and the values
// show what they should (an overloaded server: requests waiting, KV cache in use, a TTFT quantile
// of seconds).

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "demo/proc/subprocess.h"
#include "demo/stack.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "integration/integration_util.h"
#include "nlohmann/json.hpp"

namespace aa {
namespace {

using integration::QueryJson;
using nlohmann::json;

constexpr char kNamespace[] = "kserve-test";

constexpr char kAdapterConfig[] = R"(
sampling:
  interval: 1s
  maxAge: 10s
  warmNamespaces: [kserve-test]
metrics:
- name: vllm_waiting
  preset: {type: waiting, window: 10s}
  target: 4
- name: vllm_kv_cache
  preset: {type: kv-cache, source: vllm, window: 10s}
  target: 80
- name: vllm_ttft_p95
  preset: {type: ttft, quantile: 0.95, window: 10s}
  target: 0.5
- name: vllm_ttft_p50
  preset: {type: ttft, quantile: 0.5, window: 10s}
  target: 0.5
)";

// Two pods of 8 slots, requests of ~6.5 s: 2.5 rps served, 6 rps arriving: the queue grows.
constexpr char kSimScenario[] = R"(
services:
- name: llm-model
  namespace: kserve-test
  model_name: llama-3-8b
  container_concurrency: 8
  replicas: 2
  llm: {prompt_tokens: 512, output_tokens: 256, time_per_output_token: 25ms, kv_cache_tokens: 8192}
  load:
    steps:
    - {duration: 1m, rps: 6}
)";

const std::string kMatchers = "namespace=\"kserve-test\"";

class VllmPresetsIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    demo::StackOptions options = integration::StackOptionsFor(kAdapterConfig);
    options.sim_scenario_yaml = kSimScenario;
    auto stack = demo::Stack::Start(options);
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = stack->release();
  }
  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(stack_, nullptr); }

  struct Sample {
    absl::Time at = absl::InfinitePast();
    std::map<std::string, double> values;  // "<namespace>/<pod>" -> value
  };
  static Sample Get(const std::string& metric) {
    Sample s;
    int status = 0;
    json j =
        QueryJson(stack_->adapter_https_port(),
                  absl::StrCat("/api/v1/namespaces/", kNamespace, "/metrics/", metric), &status);
    if (status != 200 || !j.contains("pods") || j["pods"].empty()) return s;
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, j["sampledAt"].get<std::string>(), &s.at, &err)) {
      ADD_FAILURE() << err;
    }
    for (const auto& p : j["pods"]) {
      s.values[absl::StrCat(kNamespace, "/", p["pod"].get<std::string>())] =
          p["value"].get<double>();
    }
    return s;
  }

  // Polls (bounded) for a sample of `metric` with a value for both pods, each passing `plausible`,
  // that equals Prometheus' answer to `query` at the sample's evaluation time; a test failure when
  // none is within 90 s. Polled because the first samples predate enough scrapes (and a scrape
  // committed late can change Prometheus' answer for a past time once).
  template <typename Pred>
  static Sample Confirmed(const std::string& metric, const std::string& query, Pred plausible) {
    Sample last;
    std::map<std::string, double> expected;
    std::string why = "no sample";
    const bool ok = proc::PollUntil(
        [&] {
          Sample s = Get(metric);
          if (s.values.empty() || s.at == last.at) return false;
          last = std::move(s);
          expected = integration::PrometheusValuesBy(stack_->prometheus_port(), query,
                                                     {"namespace", "pod"}, last.at);
          if (last.values.size() != 2) {
            why = "not both pods";
            return false;
          }
          if (last.values != expected) {
            why = "the adapter's values differ from Prometheus'";
            return false;
          }
          for (const auto& [pod, v] : last.values) {
            if (!plausible(v)) {
              why = absl::StrFormat("%s: implausible value %.17g", pod, v);
              return false;
            }
          }
          return true;
        },
        absl::Seconds(90));
    std::string dump;
    for (const auto& [pod, v] : last.values) absl::StrAppendFormat(&dump, "%s=%.17g ", pod, v);
    std::string dump_expected;
    for (const auto& [pod, v] : expected) {
      absl::StrAppendFormat(&dump_expected, "%s=%.17g ", pod, v);
    }
    EXPECT_TRUE(ok) << metric << ": " << why << "; adapter " << dump << "; prometheus " << query
                    << " " << dump_expected;
    return last;
  }

  static demo::Stack* stack_;
};

demo::Stack* VllmPresetsIntegrationTest::stack_ = nullptr;

TEST_F(VllmPresetsIntegrationTest, WaitingRequests) {
  Confirmed("vllm_waiting",
            absl::StrCat("sum by (namespace, pod) (avg_over_time(vllm:num_requests_waiting{",
                         kMatchers, "}[10s]))"),
            [](double v) { return v > 0; });
}

TEST_F(VllmPresetsIntegrationTest, KvCacheUtilizationInPercent) {
  // 8 running requests of 512 + up to 256 tokens on 8192: 50..75 %.
  Confirmed("vllm_kv_cache",
            absl::StrCat("sum by (namespace, pod) (avg_over_time(vllm:gpu_cache_usage_perc{",
                         kMatchers, "}[10s])) * 100"),
            [](double v) { return v >= 45 && v <= 80; });
}

TEST_F(VllmPresetsIntegrationTest, TimeToFirstTokenQuantiles) {
  auto query = [](const char* q) {
    return absl::StrCat("histogram_quantile(", q,
                        ", sum by (namespace, pod, le) (rate(vllm:time_to_first_token_seconds_"
                        "bucket{",
                        kMatchers, "}[10s])))");
  };
  // The queue grows from the start: waits of seconds.
  Sample p95 = Confirmed("vllm_ttft_p95", query("0.95"), [](double v) { return v > 0.25; });
  Sample p50 = Confirmed("vllm_ttft_p50", query("0.5"), [](double v) { return v > 0; });
  EXPECT_FALSE(p95.values.empty());
  EXPECT_FALSE(p50.values.empty());
}

}  // namespace
}  // namespace aa
