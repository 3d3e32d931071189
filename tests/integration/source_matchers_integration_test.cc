// Presets over series that two scrape jobs collect: a real Prometheus scrapes the simulator twice
// (jobs kserve-sim and kserve-sim-again, as when deploy/prometheus/scrape-config.yaml is added to a
// kube-prometheus-stack Prometheus that already scrapes cAdvisor and kube-state-metrics). Without
// preset.sourceMatchers/baselineMatchers the adapter's sums are the doubled sums Prometheus gives;
// with them they equal one job's.

#include <cmath>
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
- name: cpu_both_jobs
  preset: {type: cpu, window: 30s}
  targetUtilization: 50
- name: cpu_one_job
  preset:
    type: cpu
    window: 30s
    sourceMatchers: ['job="kserve-sim"']
    baselineMatchers: ['job = "kserve-sim"']
  targetUtilization: 50
- name: concurrency_both_jobs
  preset: {type: concurrency, source: kserve, window: 30s}
  target: 70
- name: concurrency_one_job
  preset: {type: concurrency, source: kserve, window: 30s, sourceMatchers: ['job=~"kserve-sim"']}
  target: 70
)";

// The preset's PromQL for namespace kserve-test, written out here (not taken from the adapter),
// with `job` the extra matchers ("" or `job="kserve-sim",`), summed by `by`.
std::string CpuQuery(const std::string& job, const std::string& by = "namespace, pod") {
  return absl::StrCat("sum by (", by,
                      ") (rate(container_cpu_usage_seconds_total{container!=\"\",container!="
                      "\"POD\",",
                      job, "namespace=\"kserve-test\"}[30s]))");
}
std::string CpuRequestsQuery(const std::string& job) {
  return absl::StrCat(
      "sum by (namespace, pod) "
      "(kube_pod_container_resource_requests{resource=\"cpu\",unit=\"core\",",
      job, "namespace=\"kserve-test\"})");
}
std::string ConcurrencyQuery(const std::string& job, const std::string& by = "namespace, pod") {
  return absl::StrCat("sum by (", by, ") (rate(request_predict_seconds_sum{", job,
                      "namespace=\"kserve-test\"}[30s]))");
}
constexpr char kOneJob[] = "job=\"kserve-sim\",";
constexpr char kByJob[] = "namespace, pod, job";

class SourceMatchersIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    demo::StackOptions options = integration::StackOptionsFor(kAdapterConfig);
    options.extra_scrape_jobs = {"kserve-sim-again"};
    auto stack = demo::Stack::Start(options);
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = stack->release();
  }
  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(stack_, nullptr); }

  // One sample of `metric` from the query API: per-pod values and baselines, and its evaluation
  // time.
  struct Sample {
    absl::Time at = absl::InfinitePast();
    std::map<std::string, double> values;
    std::map<std::string, double> baselines;
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
      const std::string key = absl::StrCat(kNamespace, "/", p["pod"].get<std::string>());
      s.values[key] = p["value"].get<double>();
      if (p.contains("baseline")) s.baselines[key] = p["baseline"].get<double>();
    }
    return s;
  }
  static std::map<std::string, double> Prometheus(const std::string& query, absl::Time at) {
    return integration::PrometheusValuesBy(stack_->prometheus_port(), query, {"namespace", "pod"},
                                           at);
  }
  // Per job: "<namespace>/<pod>" -> {job -> value}, for a query summed by kByJob.
  static std::map<std::string, std::map<std::string, double>> PerJob(const std::string& query,
                                                                     absl::Time at) {
    std::map<std::string, std::map<std::string, double>> out;
    for (const auto& [key, v] : integration::PrometheusValuesBy(stack_->prometheus_port(), query,
                                                                {"namespace", "pod", "job"}, at)) {
      const size_t slash = key.rfind('/');
      out[key.substr(0, slash)][key.substr(slash + 1)] = v;
    }
    return out;
  }
  // Whether `served` (per pod) is the sum of both jobs' values (each positive) when `doubled`, else
  // the value of job kserve-sim alone, with at least one pod busy in both jobs; `why` says what
  // differed.
  static bool JobsMatch(const std::map<std::string, double>& served,
                        const std::map<std::string, std::map<std::string, double>>& per_job,
                        bool doubled, std::string* why) {
    int busy = 0;
    for (const auto& [pod, value] : served) {
      auto it = per_job.find(pod);
      if (it == per_job.end() || it->second.size() != 2) {
        *why = absl::StrCat(pod, ": expected the series of both scrape jobs");
        return false;
      }
      const double one = it->second.at("kserve-sim");
      const double other = it->second.at("kserve-sim-again");
      if (one <= 0 || other <= 0) continue;  // an idle pod: 0 either way
      ++busy;
      const double want = doubled ? one + other : one;
      if (std::abs(value - want) > 1e-9 * (one + other)) {
        *why = absl::StrFormat("%s: served %.17g, want %.17g (jobs %.17g + %.17g, doubled=%d)", pod,
                               value, want, one, other, doubled);
        return false;
      }
    }
    if (busy == 0) *why = "no pod had a value from both jobs: the comparison shows nothing";
    return busy > 0;
  }

  // Polls (bounded) for a sample of `metric` whose values equal Prometheus' answer to `query` at
  // the sample's evaluation time, and whose per-job split (`by_job_query`) is as `doubled` says,
  // and returns it; a test failure when none is within 60 s. Polled because a scrape committed late
  // can change Prometheus' answer for a past time once (see pipeline_integration_test).
  static Sample ConfirmedSample(const std::string& metric, const std::string& query,
                                const std::string& by_job_query, bool doubled) {
    Sample last;
    std::map<std::string, double> expected;
    std::string why;
    bool ok = proc::PollUntil(
        [&] {
          Sample s = Get(metric);
          if (s.values.empty() || s.at == last.at) return false;
          last = std::move(s);
          expected = Prometheus(query, last.at);
          if (last.values != expected) {
            why = "the adapter's values differ from Prometheus'";
            return false;
          }
          return JobsMatch(last.values, PerJob(by_job_query, last.at), doubled, &why);
        },
        absl::Seconds(60));
    auto dump = [](const std::map<std::string, double>& m) {
      std::string out;
      for (const auto& [pod, v] : m) absl::StrAppendFormat(&out, "%s=%.17g ", pod, v);
      return out;
    };
    EXPECT_TRUE(ok) << metric << ": " << why << "; adapter " << dump(last.values) << "; prometheus "
                    << query << " " << dump(expected);
    return last;
  }

  static demo::Stack* stack_;
};

demo::Stack* SourceMatchersIntegrationTest::stack_ = nullptr;

// Without matchers the adapter serves the sum over both jobs' series: each pod counted twice. This
// is the problem the setting solves; the test must see it.
TEST_F(SourceMatchersIntegrationTest, WithoutMatchersTheSumsDouble) {
  Sample cpu =
      ConfirmedSample("cpu_both_jobs", CpuQuery(""), CpuQuery("", kByJob), /*doubled=*/true);
  ASSERT_FALSE(cpu.values.empty());
  // The CPU requests are constant gauges: exactly twice one job's.
  std::map<std::string, double> requests_one_job = Prometheus(CpuRequestsQuery(kOneJob), cpu.at);
  for (const auto& [pod, value] : cpu.values) {
    ASSERT_TRUE(cpu.baselines.count(pod) && requests_one_job.count(pod)) << pod;
    EXPECT_GT(requests_one_job[pod], 0) << pod;
    EXPECT_EQ(cpu.baselines[pod], 2 * requests_one_job[pod]) << pod;
  }
  Sample concurrency = ConfirmedSample("concurrency_both_jobs", ConcurrencyQuery(""),
                                       ConcurrencyQuery("", kByJob), /*doubled=*/true);
  ASSERT_FALSE(concurrency.values.empty());
}

// With sourceMatchers (and baselineMatchers for the CPU requests) the values are one job's.
TEST_F(SourceMatchersIntegrationTest, WithMatchersTheValuesAreOneJobs) {
  Sample cpu =
      ConfirmedSample("cpu_one_job", CpuQuery(kOneJob), CpuQuery("", kByJob), /*doubled=*/false);
  ASSERT_FALSE(cpu.values.empty());
  std::map<std::string, double> requests_one_job = Prometheus(CpuRequestsQuery(kOneJob), cpu.at);
  std::map<std::string, double> requests_both = Prometheus(CpuRequestsQuery(""), cpu.at);
  EXPECT_EQ(cpu.baselines.size(), cpu.values.size());
  for (const auto& [pod, baseline] : cpu.baselines) {
    EXPECT_GT(baseline, 0) << pod;
    EXPECT_EQ(baseline, requests_one_job[pod]) << pod;
    EXPECT_EQ(2 * baseline, requests_both[pod]) << pod;  // the other job's series exist
  }
  Sample concurrency = ConfirmedSample("concurrency_one_job", ConcurrencyQuery(kOneJob),
                                       ConcurrencyQuery("", kByJob), /*doubled=*/false);
  ASSERT_FALSE(concurrency.values.empty());
}

}  // namespace
}  // namespace aa
