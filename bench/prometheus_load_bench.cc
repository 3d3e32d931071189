// Prometheus load: many clients polling the adapter cost Prometheus one query per metric per
// interval, not one per request. 1,000 clients each poll one metric of one of 10 namespaces every
// 15 s for 2 minutes (the HPA's pattern), on loopback. Prometheus' own counter of /api/v1/query
// requests is read before and after; the figure is compared with what a pass-through adapter would
// send (one query per client request). Usage: prometheus_load_bench [--clients=1000] [--period=15s]
// [--duration=2m]

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "demo/stack.h"
#include "net/call.h"
#include "nlohmann/json.hpp"

ABSL_FLAG(int, clients, 1000, "Polling clients");
ABSL_FLAG(absl::Duration, period, absl::Seconds(15), "Each client's polling period");
ABSL_FLAG(absl::Duration, duration, absl::Minutes(2), "How long the clients poll");

namespace aa {
namespace {

using nlohmann::json;

// Prometheus' own count of instant queries served, read from its /metrics (it does not scrape
// itself here).
double PrometheusQueryCount(int port) {
  auto r = net::HttpCall("GET", "127.0.0.1", port, "/metrics");
  if (!r.ok() || r->status != 200) return -1;
  double total = 0;
  for (absl::string_view line : absl::StrSplit(r->body, '\n')) {
    if (!absl::StartsWith(line, "prometheus_http_requests_total{") ||
        !absl::StrContains(line, "handler=\"/api/v1/query\"")) {
      continue;
    }
    double v = 0;
    if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) total += v;
  }
  return total;
}

int Main() {
  demo::StackOptions options;
  options.bin_dir = AA_BIN_DIR;
  options.prometheus_bin = AA_PROMETHEUS_BIN;
  options.scrape_interval = absl::Seconds(5);
  options.sim_args = {std::string("--scenario=") + AA_BENCH_DIR + "/ten-namespaces.yaml"};
  options.adapter_config_yaml = R"(
sampling: {interval: 5s, maxAge: 60s}
metrics:
- name: concurrency
  preset: {type: concurrency, source: knative-queue-proxy, window: 1m}
  target: 70
- name: cpu
  preset: {type: cpu, window: 1m}
  targetUtilization: 50
)";
  auto stack = demo::Stack::Start(options);
  if (!stack.ok()) {
    std::fprintf(stderr, "%s\n", std::string(stack.status().message()).c_str());
    return 1;
  }
  demo::Stack& s = **stack;
  const int clients = absl::GetFlag(FLAGS_clients);
  const absl::Duration period = absl::GetFlag(FLAGS_period);
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);
  std::printf("%d clients, one metric in one of 10 namespaces each, every %s for %s...\n", clients,
              absl::FormatDuration(period).c_str(), absl::FormatDuration(duration).c_str());
  std::fflush(stdout);

  // Warm up as HPAs would: every (metric, namespace) answered once, after the rate windows hold
  // data.
  std::printf("waiting until all 10 namespaces have data...\n");
  std::fflush(stdout);
  bool warm = proc::PollUntil(
      [&] {
        for (int n = 0; n < 10; ++n) {
          for (const char* m : {"cpu", "concurrency"}) {
            auto r =
                net::HttpsGetInsecure("127.0.0.1", s.adapter_https_port(),
                                      absl::StrCat("/api/v1/namespaces/team-", n, "/metrics/", m));
            if (!r.ok() || r->status != 200) return false;
          }
        }
        return true;
      },
      absl::Minutes(2), absl::Seconds(1));
  if (!warm) {
    std::fprintf(stderr, "no data after 2 minutes\n");
    return 1;
  }
  double before = PrometheusQueryCount(s.prometheus_port());
  std::atomic<int64_t> requests{0}, ok{0};
  // Clients are spread evenly over the period, as HPAs' sync loops are; a few threads drive them
  // all.
  constexpr int kThreads = 16;
  absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; start + round * period < start + duration; ++round) {
        for (int c = t; c < clients; c += kThreads) {
          absl::Time due = start + round * period + period * c / clients;
          if (due >= start + duration) continue;
          absl::SleepFor(due - absl::Now());
          std::string path = absl::StrCat("/api/v1/namespaces/team-", c % 10, "/metrics/",
                                          c % 2 ? "cpu" : "concurrency");
          auto r = net::HttpsGetInsecure("127.0.0.1", s.adapter_https_port(), path);
          ++requests;
          if (r.ok() && r->status == 200) ++ok;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  double after = PrometheusQueryCount(s.prometheus_port());
  double received = after - before;
  std::printf("\nPrometheus load, %d clients x 2 metrics x 10 namespaces, %s, 2-core machine\n",
              clients, absl::FormatDuration(duration).c_str());
  std::printf("%-52s %10lld\n", "client requests to the adapter",
              static_cast<long long>(requests.load()));
  std::printf("%-52s %10lld\n", "  answered 200", static_cast<long long>(ok.load()));
  std::printf("%-52s %10.0f\n", "queries Prometheus received (its own counter)", received);
  std::printf("%-52s %10lld\n", "queries a pass-through adapter would send (1/request)",
              static_cast<long long>(requests.load()));
  std::printf("reduction: %.0fx fewer Prometheus queries\n",
              received > 0 ? requests.load() / received : 0);
  return 0;
}

}  // namespace
}  // namespace aa

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return aa::Main();
}
