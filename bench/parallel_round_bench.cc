// Parallel rounds: the time of one sampling round when one metric's query answers slowly, with
// sampling.maxConcurrentQueries 1 (one query after another) and with the default, measured in the
// same run. Prometheus is an HTTP server in this process on loopback that answers every instant
// query with one series per pod after a delay: --slow_ms for metric slow, --fast_ms for the
// --fast_metrics others. The sampler is the real one (pipeline::Sampler over prom::Client's HTTP
// client); each round is a fresh sampler's first round (warm namespace), --rounds times per
// setting, and the median is printed.
// Usage: parallel_round_bench [--fast_metrics=8] [--slow_ms=500] [--fast_ms=50] [--rounds=5]

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/clock.h"
#include "config/config.h"
#include "pipeline/sampler.h"
#include "prometheus/client.h"

ABSL_FLAG(int, fast_metrics, 8, "Metrics that answer after --fast_ms");
ABSL_FLAG(int, slow_ms, 500, "Answer time of the slow metric's query");
ABSL_FLAG(int, fast_ms, 50, "Answer time of the other queries");
ABSL_FLAG(int, rounds, 5, "Rounds measured per setting (median printed)");
ABSL_FLAG(int, pods, 100, "Pods in the one namespace");

namespace aa {
namespace {

std::string Answer(int pods) {
  std::string out = R"({"status":"success","data":{"resultType":"vector","result":[)";
  for (int p = 0; p < pods; ++p) {
    absl::StrAppend(&out, p ? "," : "", R"({"metric":{"namespace":"bench","pod":"pod-)", p,
                    R"("},"value":[1800000000.123,")", 1.5 + p, "\"]}");
  }
  out += "]}}";
  return out;
}

config::Config BenchConfig(int fast_metrics, int64_t max_concurrent_queries) {
  config::Config c;
  c.sampling.warm_namespaces = {"bench"};
  c.sampling.max_concurrent_queries = max_concurrent_queries;
  c.pod_labels.enabled = false;
  auto add = [&](const std::string& name) {
    config::MetricDefinition def;
    def.name = name;
    def.query = absl::StrCat(name, "{<<.LabelMatchers>>}");
    c.metrics.push_back(def);
  };
  add("slow");
  for (int i = 0; i < fast_metrics; ++i) add(absl::StrCat("fast", i));
  return c;
}

// The median time from Start() to the first published snapshot (every metric sampled once).
absl::Duration MedianRound(const std::string& url, int fast_metrics, int64_t limit, int rounds) {
  std::vector<absl::Duration> times;
  for (int r = 0; r < rounds; ++r) {
    prom::ClientOptions options;
    options.url = url;
    auto client = prom::NewHttpClient(options);
    if (!client.ok()) {
      std::fprintf(stderr, "client: %s\n", std::string(client.status().message()).c_str());
      std::exit(1);
    }
    pipeline::Sampler sampler(BenchConfig(fast_metrics, limit), **client, RealClock::Get(),
                              nullptr);
    const absl::Time start = absl::Now();
    sampler.Start();
    if (!sampler.WaitForGeneration(1, absl::Seconds(60))) {
      std::fprintf(stderr, "no round within 60 s\n");
      std::exit(1);
    }
    times.push_back(absl::Now() - start);
    const auto snap = sampler.snapshot();
    if (snap->slots.size() != static_cast<size_t>(fast_metrics + 1)) {
      std::fprintf(stderr, "round sampled %zu tables, not %d\n", snap->slots.size(),
                   fast_metrics + 1);
      std::exit(1);
    }
    sampler.Stop();
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

int Main() {
  const int fast_metrics = absl::GetFlag(FLAGS_fast_metrics);
  const int slow_ms = absl::GetFlag(FLAGS_slow_ms);
  const int fast_ms = absl::GetFlag(FLAGS_fast_ms);
  const int rounds = std::max(1, absl::GetFlag(FLAGS_rounds));
  const std::string body = Answer(absl::GetFlag(FLAGS_pods));
  httplib::Server fake;
  fake.new_task_queue = [] { return new httplib::ThreadPool(32); };
  fake.set_tcp_nodelay(true);  // as Prometheus (Go) answers: no Nagle delay between writes
  auto handle = [&](const httplib::Request& req, httplib::Response& res) {
    const bool slow = req.get_param_value("query").rfind("slow", 0) == 0;
    // The delay is Prometheus' answer time, what the benchmark is about.
    std::this_thread::sleep_for(std::chrono::milliseconds(slow ? slow_ms : fast_ms));
    res.set_content(body, "application/json");
  };
  fake.Get("/api/v1/query", handle);
  fake.Post("/api/v1/query", handle);
  const int port = fake.bind_to_any_port("127.0.0.1");
  std::thread server([&] { fake.listen_after_bind(); });
  const std::string url = absl::StrCat("http://127.0.0.1:", port);

  const int64_t by_default = config::SamplingConfig().max_concurrent_queries;
  std::printf("one round: 1 metric answering in %d ms, %d answering in %d ms, median of %d\n",
              slow_ms, fast_metrics, fast_ms, rounds);
  const absl::Duration sequential = MedianRound(url, fast_metrics, 1, rounds);
  const absl::Duration parallel = MedianRound(url, fast_metrics, by_default, rounds);
  const double ideal_seq = slow_ms + fast_metrics * fast_ms;
  std::printf("maxConcurrentQueries=1 (sequential): round %.0f ms (sum of answer times %.0f ms)\n",
              absl::ToDoubleMilliseconds(sequential), ideal_seq);
  std::printf(
      "maxConcurrentQueries=%lld (default): round %.0f ms (slowest answer %d ms): %.2fx "
      "faster\n",
      static_cast<long long>(by_default), absl::ToDoubleMilliseconds(parallel), slow_ms,
      absl::ToDoubleMilliseconds(sequential) / absl::ToDoubleMilliseconds(parallel));
  fake.stop();
  server.join();
  return 0;
}

}  // namespace
}  // namespace aa

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return aa::Main();
}
