// Query API and custom.metrics.k8s.io (HTTPS) under load: one namespace with 100 pods (the
// simulator, scraped by a real Prometheus), keep-alive clients on loopback. In the same run, the
// same data fetched by a direct Prometheus instant query (what a pass-through adapter such as
// prometheus-adapter pays on every request), and the ratio. Usage: query_api_bench [--seconds=10]
// [--connections=8] [--pods=100]

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "bench/load_client.h"
#include "demo/stack.h"
#include "net/call.h"
#include "net/url.h"
#include "nlohmann/json.hpp"

ABSL_FLAG(int, seconds, 10, "Duration of each load phase");
ABSL_FLAG(int, connections, 8, "Concurrent keep-alive connections");
ABSL_FLAG(int, pods, 100, "Pods of concurrency-model in the namespace");

namespace aa {
namespace {

using nlohmann::json;

int Main() {
  const int pods = absl::GetFlag(FLAGS_pods);
  demo::StackOptions options;
  options.bin_dir = AA_BIN_DIR;
  options.prometheus_bin = AA_PROMETHEUS_BIN;
  options.scrape_interval = absl::Seconds(2);
  auto stack = demo::Stack::Start(options);
  if (!stack.ok()) {
    std::fprintf(stderr, "%s\n", std::string(stack.status().message()).c_str());
    return 1;
  }
  demo::Stack& s = **stack;
  auto put = net::HttpCall("PUT", "127.0.0.1", s.sim_port(),
                           "/api/v1/services/kserve-test/concurrency-model/replicas",
                           absl::StrCat("{\"replicas\":", pods, "}"));
  if (!put.ok() || put->status != 200) {
    std::fprintf(stderr, "cannot scale the simulator\n");
    return 1;
  }
  const std::string path =
      "/api/v1/namespaces/kserve-test/metrics/concurrency?inferenceService=concurrency-model";
  std::printf("waiting for %d pods with data...\n", pods);
  std::fflush(stdout);
  bool ready = proc::PollUntil(
      [&] {
        auto r = net::HttpsGetInsecure("127.0.0.1", s.adapter_https_port(), path);
        if (!r.ok() || r->status != 200) return false;
        json j = json::parse(r->body, nullptr, false);
        return !j.is_discarded() && j["podCount"].get<int>() >= pods;
      },
      absl::Minutes(3), absl::Seconds(1));
  if (!ready) {
    std::fprintf(stderr, "the adapter never saw %d pods\n", pods);
    return 1;
  }
  // The query a pass-through adapter would send for this request (same rendered PromQL as the
  // sampler's).
  auto defs = json::parse(
      net::HttpsGetInsecure("127.0.0.1", s.adapter_https_port(), "/api/v1/metrics")->body);
  std::string query;
  for (const auto& d : defs["metrics"]) {
    if (d["name"] == "concurrency") query = d["query"].get<std::string>();
  }
  query = absl::StrReplaceAll(query, {{"<<.LabelMatchers>>", "namespace_name=\"kserve-test\""},
                                      {"<<.GroupBy>>", "namespace_name, pod_name"}});
  const std::string prom_path = "/api/v1/query?query=" + net::UrlEncode(query);

  const int connections = absl::GetFlag(FLAGS_connections);
  const auto duration = std::chrono::seconds(absl::GetFlag(FLAGS_seconds));
  // The query API is on the HTTPS port (no credentials: the stack runs with authentication off).
  bench::LoadResult adapter =
      bench::RunLoad(s.adapter_https_port(), path, connections, duration, /*tls=*/true);
  const std::string custom_path =
      "/apis/custom.metrics.k8s.io/v1beta2/namespaces/kserve-test/pods/%2A/concurrency"
      "?labelSelector=serving.kserve.io%2Finferenceservice%3Dconcurrency-model";
  bench::LoadResult custom =
      bench::RunLoad(s.adapter_https_port(), custom_path, connections, duration, /*tls=*/true);
  bench::LoadResult direct = bench::RunLoad(s.prometheus_port(), prom_path, connections, duration);

  std::printf(
      "\nquery API, 1 namespace x %d pods, %d keep-alive connections, %ds each, 2-core machine\n",
      pods, connections, absl::GetFlag(FLAGS_seconds));
  std::printf("%-34s %10s %10s %10s %8s\n", "path", "req/s", "p50 ms", "p99 ms", "errors");
  std::printf("%-34s %10.0f %10.3f %10.3f %8lld\n", "adapter query API over TLS", adapter.rps(),
              adapter.p50_ms, adapter.p99_ms, static_cast<long long>(adapter.errors));
  std::printf("%-34s %10.0f %10.3f %10.3f %8lld\n", "custom.metrics v1beta2 over TLS", custom.rps(),
              custom.p50_ms, custom.p99_ms, static_cast<long long>(custom.errors));
  std::printf("%-34s %10.0f %10.3f %10.3f %8lld\n", "direct Prometheus instant query", direct.rps(),
              direct.p50_ms, direct.p99_ms, static_cast<long long>(direct.errors));
  std::printf("ratio: adapter serves %.1fx the requests/s at %.1fx lower p99 latency\n",
              direct.rps() > 0 ? adapter.rps() / direct.rps() : 0,
              adapter.p99_ms > 0 ? direct.p99_ms / adapter.p99_ms : 0);
  std::printf("ratio (custom.metrics over TLS): %.1fx the requests/s at %.1fx lower p99 latency\n",
              direct.rps() > 0 ? custom.rps() / direct.rps() : 0,
              custom.p99_ms > 0 ? direct.p99_ms / custom.p99_ms : 0);
  auto verdict = [](const char* name, const bench::LoadResult& r) {
    std::printf("targets (%s): >= 5000 req/s: %s; p99 < 5 ms: %s\n", name,
                r.rps() >= 5000 ? "met" : "MISSED", r.p99_ms < 5 ? "met" : "MISSED");
  };
  verdict("query API", adapter);
  verdict("custom.metrics over TLS", custom);
  return 0;
}

}  // namespace
}  // namespace aa

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return aa::Main();
}
