// Bounded demand end to end: the simulator with pods in six namespaces, a real Prometheus, and the
// adapter binary. Each metric's query is split into chunks of two namespaces, and the values the
// adapter serves equal Prometheus' own answer to the single, unchunked query at the same evaluation
// time; 10,000 requests for invented namespaces cost a bounded number of Prometheus requests (the
// adapter's and Prometheus' own counters) while a real namespace keeps its correct value.

#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "demo/stack.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "integration/integration_util.h"
#include "net/call.h"
#include "net/client.h"
#include "nlohmann/json.hpp"

namespace aa {
namespace {

using integration::QueryJson;
using integration::Scrape;
using integration::ScrapeValue;
using nlohmann::json;

constexpr int kNamespaces = 6;

std::string Ns(int i) { return absl::StrCat("team-", i); }

std::string Scenario() {
  std::string out = "services:\n";
  for (int i = 0; i < kNamespaces; ++i) {
    absl::StrAppend(&out, "  - name: model-", i, "\n    namespace: ", Ns(i),
                    "\n    service_time: 100ms\n    cpu_per_request: 0.01\n    idle_cpu: 20m\n"
                    "    cpu_request: \"1\"\n    memory_request: 1Gi\n"
                    "    memory_working_set: 256Mi\n    memory_per_request: 1Mi\n"
                    "    replicas: 2\n    start_delay: 0s\n"
                    "    load: {loop: true, steps: [{duration: 10s, rps: ",
                    10 + 5 * i, "}, {duration: 10s, rps: ", 30 + 5 * i, "}]}\n");
  }
  return out;
}

// Chunks of two namespaces, never one whole-cluster query; 2 s rounds.
constexpr char kAdapterConfig[] = R"(
sampling:
  interval: 2s
  maxAge: 20s
  namespaceCheckInterval: 5s
  maxNamespacesPerQuery: 2
  wholeClusterPercent: 0
metrics:
- name: memory
  query: 'sum by (<<.GroupBy>>) (container_memory_working_set_bytes{container="kserve-container",<<.LabelMatchers>>})'
  namespaceLabel: namespace
  podLabel: pod
  target: 1000000000
)";

constexpr char kQuery[] =
    "sum by (namespace, pod) (container_memory_working_set_bytes{container=\"kserve-container\","
    "namespace=~\"team-0|team-1|team-2|team-3|team-4|team-5\"})";

class DemandIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    demo::StackOptions options = integration::StackOptionsFor(kAdapterConfig);
    options.sim_scenario_yaml = Scenario();
    auto stack = demo::Stack::Start(options);
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = stack->release();
  }
  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(stack_, nullptr); }

  // The adapter's per-pod values of namespace `ns` ("ns/pod" -> value) and their evaluation time;
  // empty unless it answers 200 with pods.
  static std::map<std::string, double> Served(const std::string& ns, absl::Time* at) {
    int status = 0;
    json j = QueryJson(stack_->adapter_https_port(),
                       absl::StrCat("/api/v1/namespaces/", ns, "/metrics/memory"), &status);
    std::map<std::string, double> out;
    if (status != 200 || !j.contains("pods") || j["pods"].empty()) return out;
    std::string err;
    EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, j["sampledAt"].get<std::string>(), at, &err))
        << err;
    for (const auto& p : j["pods"]) {
      out[absl::StrCat(ns, "/", p["pod"].get<std::string>())] = p["value"].get<double>();
    }
    return out;
  }

  // Whether every namespace's served values equal Prometheus' unchunked query at one evaluation
  // time (all chunks of a round share it); `why` says what differed.
  static bool ChunkedEqualsSingle(std::string* why) {
    std::map<std::string, double> served;
    absl::Time at = absl::InfinitePast();
    for (int i = 0; i < kNamespaces; ++i) {
      absl::Time t;
      auto values = Served(Ns(i), &t);
      if (values.empty()) {
        *why = absl::StrCat(Ns(i), ": no values served yet");
        return false;
      }
      if (i > 0 && t != at) {
        *why = "the namespaces' tables come from different rounds";
        return false;
      }
      at = t;
      served.insert(values.begin(), values.end());
    }
    auto single = integration::PrometheusValuesBy(stack_->prometheus_port(), kQuery,
                                                  {"namespace", "pod"}, at);
    if (served != single) {
      *why = absl::StrCat("served ", served.size(), " values, the single query ", single.size(),
                          ", or their values differ");
      return false;
    }
    return true;
  }

  // ChunkedEqualsSingle within 60 s: the tables of one round are read one namespace at a time, so
  // it is retried until all six come from one round (and, at the start, until they are sampled).
  static bool EventuallyChunkedEqualsSingle(std::string* why) {
    for (int attempt = 0; attempt < 120; ++attempt) {
      if (ChunkedEqualsSingle(why)) return true;
      absl::SleepFor(absl::Milliseconds(500));
    }
    return false;
  }

  static demo::Stack* stack_;
};
demo::Stack* DemandIntegrationTest::stack_ = nullptr;

TEST_F(DemandIntegrationTest, ChunkedQueriesServeTheValuesOfTheSingleQuery) {
  std::string why;
  EXPECT_TRUE(EventuallyChunkedEqualsSingle(&why)) << why;
  // The six tables may all come from first samples' rounds (evaluated at one interval boundary);
  // the periodic round after them queries the six namespaces in three chunks.
  std::string metrics;
  EXPECT_TRUE(proc::PollUntil(
      [&] {
        metrics = Scrape(stack_->adapter_port());
        return ScrapeValue(metrics, "autoscale_adapter_sampler_round_chunks", {}) == 3;
      },
      absl::Seconds(10)))
      << metrics;
  EXPECT_EQ(ScrapeValue(metrics, "autoscale_adapter_sampler_demanded_namespaces", {}), 6);
}

TEST_F(DemandIntegrationTest, InventedNamespacesCostABoundedNumberOfQueries) {
  absl::Time at;
  bool served = false;
  for (int attempt = 0; attempt < 120 && !served; ++attempt) {
    served = !Served(Ns(0), &at).empty();
    if (!served) absl::SleepFor(absl::Milliseconds(500));
  }
  ASSERT_TRUE(served);
  // The query API over HTTPS, on kept-alive connections (no credentials: the stack runs with
  // --authentication=off).
  auto client =
      net::Client::Create({.url = absl::StrCat("https://127.0.0.1:", stack_->adapter_https_port()),
                           .tls = {.insecure_skip_verify = true}});
  ASSERT_TRUE(client.ok()) << client.status();
  const std::string before = Scrape(stack_->adapter_port());
  const std::string prom_before = Scrape(stack_->prometheus_port());
  const absl::Time start = absl::Now();
  constexpr int kRequests = 10000;
  int not_found = 0;
  for (int i = 0; i < kRequests; ++i) {
    net::Result r =
        (*client)->Send({.target = absl::StrCat("/api/v1/namespaces/ns-", i, "/metrics/memory")});
    ASSERT_TRUE(r.ok()) << r.detail;
    not_found += r.response.status == 404;
    if (i == 0) {
      EXPECT_THAT(r.response.body, ::testing::HasSubstr("has no value")) << r.response.body;
    }
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  EXPECT_EQ(not_found, kRequests);
  const std::string after = Scrape(stack_->adapter_port());
  const std::string prom_after = Scrape(stack_->prometheus_port());
  auto delta = [](const std::string& a, const std::string& b, const std::string& name,
                  const std::vector<std::string>& labels) {
    return ScrapeValue(b, name, labels) - ScrapeValue(a, name, labels);
  };
  const double queries =
      delta(before, after, "autoscale_adapter_prometheus_requests_total", {"endpoint=\"query\""});
  const double checks = delta(before, after, "autoscale_adapter_prometheus_requests_total",
                              {"endpoint=\"label_values\""});
  const double prom_queries = delta(prom_before, prom_after, "prometheus_http_requests_total",
                                    {"handler=\"/api/v1/query\""});
  const double rejected = delta(before, after, "autoscale_adapter_sampler_demand_rejections_total",
                                {"reason=\"unknown_namespace\""});
  // Without the attack: 3 chunks and 1 pod-label query per 2 s round.
  const double rounds = seconds / 2 + 2;
  const double bound = rounds * 4 + 4;
  std::printf(
      "%d requests for invented namespaces in %.1f s: %.0f queries and %.0f namespace checks "
      "from the adapter, %.0f /api/v1/query requests seen by Prometheus (bound %.0f), %.0f "
      "rejections\n",
      kRequests, seconds, queries, checks, prom_queries, bound, rejected);
  // The counters are read right: the adapter has queried all along.
  EXPECT_GT(
      ScrapeValue(after, "autoscale_adapter_prometheus_requests_total", {"endpoint=\"query\""}), 0);
  EXPECT_LE(queries, bound);
  EXPECT_LE(prom_queries, bound);
  EXPECT_LE(checks, seconds / 5 + 2);
  EXPECT_EQ(rejected, kRequests);
  EXPECT_EQ(ScrapeValue(after, "autoscale_adapter_sampler_demanded_namespaces", {}), 6);
  // The real namespaces keep their correct values.
  std::string why;
  EXPECT_TRUE(EventuallyChunkedEqualsSingle(&why)) << why;
}

}  // namespace
}  // namespace aa
