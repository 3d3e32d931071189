// large_cluster_bench: the adapter against a large simulated cluster, several sizes in one run,
// printed side by side with the ratio of the last to the first.
//
// Per size (default 100 namespaces x 100 pods = 10,000 pods, then 1,000 x 100 = 100,000):
//  - a static exposition in this process (a loopback HTTP server; one pre-rendered page per 10
//    namespaces) holds every pod's series c, u, r, v (bench_cluster.h's three metrics) and its
//    kube_pod_labels (app, inferenceservice, and `workload`: pods by tens);
//  - a real Prometheus (demo::Stack, temporary data dir, query log on) scrapes it;
//  - the adapter (demo::Stack), its pod index from kube_pod_labels, is asked for every
//    (namespace, metric) once Prometheus holds every series, so it samples them all. Its limits
//    are raised through its config for the bench: sampling.maxNamespaces and the new-namespace
//    rate (every namespace demanded at once), firstSampleTimeout 200 ms (those first reads do not
//    wait for their rounds), keda.limits.maxStreams and maxStreamsPerClient (every stream comes
//    from 127.0.0.1, one client).
// Then, measured:
//  1. quiet (no client): --rounds sampling rounds: the adapter's CPU seconds per round
//     (/proc/<pid>/stat utime+stime over the rounds the round-duration histogram counted), its
//     resident size, the queries per round (its own gauge, and Prometheus'
//     prometheus_http_requests_total for /api/v1/query), the longest query sent (bytes, from
//     Prometheus' query log), and Prometheus' own cost: scrape duration, CPU, query time;
//  2. --streams KEDA StreamIsActive streams opened (gRPC, 20 connections) and held;
//  3. with them open, --clients HPA-like clients, each reading one custom.metrics.k8s.io metric of
//     its namespace with a labelSelector once per --sync (their reads spread over the period), over
//     64 keep-alive TLS connections, for --load: latency p50/p99, and the adapter's CPU and memory
//     meanwhile.
// Loopback only; every wait is bounded; the whole run stops by itself (about 5 minutes at the
// default sizes on 2 cores; --deadline bounds it). Exit 1 when a read fails or a stream does not
// get its first state. Objects other than pods are not exercised (the pods' index is
// kube_pod_labels: no Kubernetes API, no object LIST).
//
//   large_cluster_bench [--sizes=100x100,1000x100] [--clients=10000] [--streams=10000]
//                       [--sync=15s] [--load=30s] [--rounds=4] [--scrape_interval=10s]
//                       [--sampling_interval=5s] [--max_concurrent_queries=0] [--deadline=12m]

#include <grpcpp/grpcpp.h>
#include <httplib.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/bench_cluster.h"
#include "bench/load_client.h"
#include "common/duration.h"
#include "demo/stack.h"
#include "externalscaler.grpc.pb.h"
#include "net/call.h"
#include "net/url.h"
#include "nlohmann/json.hpp"

ABSL_FLAG(
    std::vector<std::string>, sizes, std::vector<std::string>({"100x100", "1000x100"}),
    "Cluster sizes, each NAMESPACESxPODS_PER_NAMESPACE (pods per namespace a multiple of 10)");
ABSL_FLAG(int, clients, 10000, "HPA-like clients (custom.metrics.k8s.io with a labelSelector)");
ABSL_FLAG(int, streams, 10000, "KEDA StreamIsActive streams held open");
ABSL_FLAG(absl::Duration, sync, absl::Seconds(15), "Each HPA-like client's period");
ABSL_FLAG(absl::Duration, load, absl::Seconds(30), "How long the HPA-like clients read");
ABSL_FLAG(int, rounds, 4, "Quiet sampling rounds measured");
ABSL_FLAG(absl::Duration, scrape_interval, absl::Seconds(10), "Prometheus' scrape interval");
ABSL_FLAG(absl::Duration, sampling_interval, absl::Seconds(5), "The adapter's sampling.interval");
ABSL_FLAG(int, max_concurrent_queries, 0,
          "The adapter's sampling.maxConcurrentQueries (0: its default, 4): fewer whole-cluster "
          "answers parsed at once");
ABSL_FLAG(absl::Duration, deadline, absl::Minutes(12),
          "Bound of the whole run: a wait that would pass it fails the run");

namespace aa {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kNamespacesPerPage = 10;
constexpr int kPodsPerWorkload = 10;
constexpr int kHttpConnections = 64;
constexpr int kGrpcConnections = 20;

absl::Time g_deadline;

// Polls `ready` every 200 ms until it holds; false at `timeout` or at the run's deadline.
template <typename F>
bool WaitFor(F ready, absl::Duration timeout) {
  absl::Time end = std::min(absl::Now() + timeout, g_deadline);
  while (!ready()) {
    if (absl::Now() >= end) return false;
    absl::SleepFor(absl::Milliseconds(200));
  }
  return true;
}

// ------------------------------------------------------------------------------------------
// The exposition: page k holds namespaces [k * 10, k * 10 + 10).

std::string RenderPage(int first_ns, int end_ns, int pods) {
  std::string out;
  const char* kSeries[] = {"c", "u", "r", "v"};
  for (const char* series : kSeries) {
    absl::StrAppend(&out, "# TYPE ", series, " gauge\n");
    for (int n = first_ns; n < end_ns; ++n) {
      const std::string ns = bench::NamespaceName(n);
      for (int p = 0; p < pods; ++p) {
        double v = series[0] == 'c'   ? 1 + p % 50
                   : series[0] == 'u' ? 0.1 * (p % 10 + 1)
                   : series[0] == 'r' ? 0.5
                                      : p % 7;
        absl::StrAppend(&out, series, "{namespace=\"", ns, "\",pod=\"", bench::PodName(ns, p),
                        "\"} ", v, "\n");
      }
    }
  }
  out += "# TYPE kube_pod_labels gauge\n";
  for (int n = first_ns; n < end_ns; ++n) {
    const std::string ns = bench::NamespaceName(n);
    for (int p = 0; p < pods; ++p) {
      absl::StrAppend(&out, "kube_pod_labels{namespace=\"", ns, "\",pod=\"", bench::PodName(ns, p),
                      "\",label_app=\"model-", ns,
                      "\",label_serving_kserve_io_inferenceservice=\"model-", ns,
                      "\",label_workload=\"w-", p / kPodsPerWorkload, "\"} 1\n");
    }
  }
  return out;
}

class Exposition {
 public:
  Exposition(int namespaces, int pods) {
    for (int first = 0; first < namespaces; first += kNamespacesPerPage) {
      pages_.push_back(RenderPage(first, std::min(namespaces, first + kNamespacesPerPage), pods));
      bytes_ += pages_.back().size();
    }
    server_.Get(R"(/metrics/(\d+))", [this](const httplib::Request& req, httplib::Response& res) {
      size_t k = 0;
      if (!absl::SimpleAtoi(req.matches[1].str(), &k) || k >= pages_.size()) {
        res.status = 404;
        return;
      }
      res.set_content(pages_[k], "text/plain; version=0.0.4");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~Exposition() {
    server_.stop();
    thread_.join();
  }
  // Prometheus' scrape config of every page (a `page` label tells the pages' own series apart, such
  // as scrape_duration_seconds).
  std::string ScrapeConfig() const {
    std::string out = "scrape_configs:\n- job_name: cluster\n  static_configs:\n";
    for (size_t k = 0; k < pages_.size(); ++k) {
      absl::StrAppend(&out, "  - targets: ['127.0.0.1:", port_,
                      "']\n    labels: {__metrics_path__: /metrics/", k, ", page: '", k, "'}\n");
    }
    return out;
  }
  int64_t bytes() const { return bytes_; }
  size_t pages() const { return pages_.size(); }

 private:
  std::vector<std::string> pages_;
  int64_t bytes_ = 0;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

// ------------------------------------------------------------------------------------------
// KEDA streams: counts the streams that received their first state.

struct StreamCount {
  std::mutex mu;
  std::condition_variable cv;
  int first = 0, done = 0, failed = 0;
};

class Stream : public grpc::ClientReadReactor<externalscaler::IsActiveResponse> {
 public:
  Stream(externalscaler::ExternalScaler::Stub* stub, StreamCount* count, int i, int namespaces)
      : count_(count) {
    ref_.set_name(absl::StrCat("so-", i));
    ref_.set_namespace_(bench::NamespaceName(i % namespaces));
    auto& md = *ref_.mutable_scalermetadata();
    md["metric"] = "concurrency";
    md["labelSelector"] = absl::StrCat("workload=w-", (i / namespaces) % kPodsPerWorkload);
    stub->async()->StreamIsActive(&ctx_, &ref_, this);
    StartRead(&response_);
    StartCall();
  }
  void Cancel() { ctx_.TryCancel(); }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (!got_first_) {
      got_first_ = true;
      std::lock_guard lock(count_->mu);
      ++count_->first;
      count_->cv.notify_all();
    }
    StartRead(&response_);
  }
  void OnDone(const grpc::Status& s) override {
    std::lock_guard lock(count_->mu);
    ++count_->done;
    if (!s.ok() && s.error_code() != grpc::StatusCode::CANCELLED) {
      if (count_->failed++ == 0) std::fprintf(stderr, "stream: %s\n", s.error_message().c_str());
    }
    count_->cv.notify_all();
  }

 private:
  StreamCount* count_;
  grpc::ClientContext ctx_;
  externalscaler::ScaledObjectRef ref_;
  externalscaler::IsActiveResponse response_;
  bool got_first_ = false;
};

// ------------------------------------------------------------------------------------------
// One size.

struct Figures {
  int namespaces = 0, pods = 0;
  double exposition_mib = 0;
  double prom_ingest_s = 0;      // from start until Prometheus held every pod's series
  double prom_scrape_max_s = 0;  // longest scrape_duration_seconds of one page
  double prom_scrape_sum_s = 0;  // all pages' scrape durations, one interval
  double prom_cpu_cores = 0;     // Prometheus CPU seconds per second, quiet window
  double prom_rss_mib = 0;
  double prom_query_s_per_round = 0;  // Prometheus' execTotalTime of the adapter's queries
  double prom_longest_query_exec_s = 0;
  double adapter_query_s_per_round = 0;  // the adapter's own view: request duration
  double rss_quiet_mib = 0, rss_streams_mib = 0, rss_load_mib = 0, hwm_mib = 0;
  // /proc/<pid>/status at the end of the quiet rounds and with the streams open: the adapter's own
  // (anonymous) memory, the mapped files (binary, shared libraries), its threads.
  double anon_quiet_mib = 0, file_quiet_mib = 0, anon_streams_mib = 0;
  int64_t threads_quiet = 0, threads_streams = 0;
  double cpu_per_round_s = 0, round_duration_s = 0;
  double cpu_per_round_load_s = 0;
  double queries_per_round = 0, prom_queries_per_round = 0, chunks_per_round = 0;
  int64_t longest_query_bytes = 0;        // the whole run, its first rounds included
  int64_t longest_quiet_query_bytes = 0;  // the quiet rounds
  double streams_open_s = 0;
  int streams_opened = 0;
  double streams_gauge = 0;
  bench::LoadResult hpa;
  double loadavg = 0;  // the machine's 1-minute load average at the end (other processes included)
  bool ok = true;
};

// Query log lines (JSON) between two byte offsets: the adapter's instant queries.
struct QueryLog {
  int64_t count = 0, longest_bytes = 0;
  std::string longest;
  double exec_s = 0, longest_exec_s = 0;
};
QueryLog ReadQueryLog(const std::string& path, std::streamoff from, std::streamoff to) {
  QueryLog out;
  std::ifstream in(path);
  in.seekg(from);
  for (std::string line; in.tellg() < to && std::getline(in, line);) {
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains("params")) continue;
    const std::string q = j["params"].value("query", "");
    if (q.find("bench-control") != std::string::npos) continue;
    ++out.count;
    if (static_cast<int64_t>(q.size()) > out.longest_bytes) {
      out.longest_bytes = static_cast<int64_t>(q.size());
      out.longest = q;
    }
    double exec = 0;
    if (j.contains("stats") && j["stats"].contains("timings")) {
      exec = j["stats"]["timings"].value("execTotalTime", 0.0);
    }
    out.exec_s += exec;
    out.longest_exec_s = std::max(out.longest_exec_s, exec);
  }
  return out;
}

std::streamoff FileSize(const std::string& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<std::streamoff>(size);
}

std::string Page(int port, const std::string& path) {
  auto r = net::HttpCall("GET", "127.0.0.1", port, path, "", absl::Seconds(10));
  return r.ok() && r->status == 200 ? r->body : "";
}

// One number from Prometheus (an instant query whose answer is one sample); -1 when none.
double PromScalar(int port, const std::string& query) {
  std::string body =
      Page(port, "/api/v1/query?query=" + net::UrlEncode(absl::StrCat(query, " # bench-control")));
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.contains("data") || j["data"]["result"].empty()) return -1;
  double v = -1;
  if (!absl::SimpleAtod(j["data"]["result"][0]["value"][1].get<std::string>(), &v)) return -1;
  return v;
}

Figures RunSize(int namespaces, int pods) {
  Figures f;
  f.namespaces = namespaces;
  f.pods = namespaces * pods;
  const int total = namespaces * pods;
  std::printf("== %d namespaces x %d pods = %d pods x 3 metrics\n", namespaces, pods, total);
  std::fflush(stdout);
  const auto t_start = Clock::now();
  Exposition exposition(namespaces, pods);
  f.exposition_mib = exposition.bytes() / 1048576.0;

  std::string tmpl = (std::filesystem::temp_directory_path() / "large-bench-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    f.ok = false;
    return f;
  }
  const std::string dir = tmpl;
  const std::string query_log = dir + "/query.log";
  const std::string scrape = FormatGoDuration(absl::GetFlag(FLAGS_scrape_interval));
  demo::StackOptions options;
  options.bin_dir = AA_BIN_DIR;
  options.prometheus_bin = AA_PROMETHEUS_BIN;
  options.work_dir = dir;
  options.start_timeout = absl::Seconds(60);
  options.prometheus_config_yaml =
      absl::StrCat("global: {scrape_interval: ", scrape, ", scrape_timeout: ", scrape,
                   ", evaluation_interval: ", scrape, ", query_log_file: ", query_log, "}\n",
                   exposition.ScrapeConfig());
  options.adapter_config_yaml = bench::ThreeMetricsConfig(
      absl::StrCat("interval: ", FormatGoDuration(absl::GetFlag(FLAGS_sampling_interval)),
                   ", maxAge: 60s, maxNamespaces: ", namespaces + 100,
                   ", newNamespacesPerSecond: ", namespaces + 100,
                   ", newNamespaceBurst: ", namespaces + 100, ", firstSampleTimeout: 200ms",
                   absl::GetFlag(FLAGS_max_concurrent_queries) > 0
                       ? absl::StrCat(", maxConcurrentQueries: ",
                                      absl::GetFlag(FLAGS_max_concurrent_queries))
                       : ""),
      absl::StrCat("keda: {limits: {maxStreams: ", absl::GetFlag(FLAGS_streams) + 1000,
                   ", maxStreamsPerClient: ", absl::GetFlag(FLAGS_streams) + 1000, "}}\n"));
  auto stack = demo::Stack::Start(options);
  if (!stack.ok()) {
    std::fprintf(stderr, "stack: %s\n", std::string(stack.status().message()).c_str());
    std::filesystem::remove_all(dir);
    f.ok = false;
    return f;
  }
  demo::Stack& s = **stack;
  const int prom = s.prometheus_port();
  const pid_t prom_pid = s.prometheus()->pid();
  const pid_t pid = s.adapter()->pid();
  auto fail = [&](const std::string& why) {
    std::fprintf(stderr, "FAIL (%d pods): %s\n", total, why.c_str());
    f.ok = false;
  };

  // Prometheus holds every series; then the adapter every pod value.
  if (!WaitFor(
          [&] {
            return PromScalar(prom, "count(kube_pod_labels)") == total &&
                   PromScalar(prom, "count(c)") == total && PromScalar(prom, "count(v)") == total;
          },
          absl::Minutes(3))) {
    fail("Prometheus did not hold every pod's series");
  }
  f.prom_ingest_s = std::chrono::duration<double>(Clock::now() - t_start).count();
  // Every (namespace, metric) demanded as HPAs demand them: a read each (its answer not awaited
  // past the bench's firstSampleTimeout of 200 ms), after Prometheus knows every namespace (the
  // adapter's namespace check reads them then).
  if (f.ok) {
    std::vector<std::thread> threads;
    for (int c = 0; c < kHttpConnections; ++c) {
      threads.emplace_back([&, c] {
        auto client = bench::NewClient(s.adapter_https_port(), /*tls=*/true);
        for (int i = c; i < namespaces * 3; i += kHttpConnections) {
          client->Get(absl::StrCat("/api/v1/namespaces/", bench::NamespaceName(i / 3), "/metrics/",
                                   bench::kMetricNames[i % 3]));
        }
      });
    }
    for (auto& t : threads) t.join();
  }
  if (f.ok && !WaitFor(
                  [&] {
                    std::string m = Page(s.adapter_port(), "/metrics");
                    for (const char* metric : bench::kMetricNames) {
                      if (bench::SumSamples(m, "autoscale_adapter_series_held",
                                            {absl::StrCat("metric=\"", metric, "\"")}) != total) {
                        return false;
                      }
                    }
                    return true;
                  },
                  absl::Minutes(2))) {
    fail("the adapter did not hold every pod's values");
  }
  f.prom_scrape_max_s = PromScalar(prom, "max(scrape_duration_seconds{job=\"cluster\"})");
  f.prom_scrape_sum_s = PromScalar(prom, "sum(scrape_duration_seconds{job=\"cluster\"})");

  // 1. Quiet rounds.
  auto rounds = [&](const std::string& m) {
    return bench::SumSamples(m, "autoscale_adapter_sampler_round_duration_seconds_count");
  };
  auto prom_queries = [&] {
    return bench::SumSamples(Page(prom, "/metrics"), "prometheus_http_requests_total",
                             {"handler=\"/api/v1/query\""});
  };
  if (f.ok) {
    std::string m0 = Page(s.adapter_port(), "/metrics");
    double r0 = rounds(m0);
    // Start at a round's end.
    WaitFor([&] { return rounds(Page(s.adapter_port(), "/metrics")) > r0; }, absl::Minutes(1));
    m0 = Page(s.adapter_port(), "/metrics");
    r0 = rounds(m0);
    const double pq0 = prom_queries();
    const std::streamoff log0 = FileSize(query_log);
    const double cpu0 = bench::CpuSeconds(pid), pcpu0 = bench::CpuSeconds(prom_pid);
    const auto t0 = Clock::now();
    int64_t rss_max = 0;
    std::string m1;
    const int want = absl::GetFlag(FLAGS_rounds);
    WaitFor(
        [&] {
          rss_max = std::max(rss_max, bench::StatusKiB(pid, "VmRSS"));
          m1 = Page(s.adapter_port(), "/metrics");
          return rounds(m1) >= r0 + want;
        },
        absl::Minutes(3));
    const double cpu1 = bench::CpuSeconds(pid), pcpu1 = bench::CpuSeconds(prom_pid);
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    const double pq1 = prom_queries();
    const QueryLog ql = ReadQueryLog(query_log, log0, FileSize(query_log));
    const double n = rounds(m1) - r0;
    if (n <= 0) fail("no sampling round finished");
    f.cpu_per_round_s = n > 0 ? (cpu1 - cpu0) / n : 0;
    f.round_duration_s =
        n > 0 ? (bench::SumSamples(m1, "autoscale_adapter_sampler_round_duration_seconds_sum") -
                 bench::SumSamples(m0, "autoscale_adapter_sampler_round_duration_seconds_sum")) /
                    n
              : 0;
    f.adapter_query_s_per_round =
        n > 0
            ? (bench::SumSamples(m1, "autoscale_adapter_prometheus_request_duration_seconds_sum") -
               bench::SumSamples(m0, "autoscale_adapter_prometheus_request_duration_seconds_sum")) /
                  n
            : 0;
    f.queries_per_round = bench::SumSamples(m1, "autoscale_adapter_sampler_round_queries");
    f.chunks_per_round = bench::SumSamples(m1, "autoscale_adapter_sampler_round_chunks");
    f.prom_queries_per_round = n > 0 ? (pq1 - pq0) / n : 0;
    f.prom_cpu_cores = (pcpu1 - pcpu0) / secs;
    f.prom_rss_mib = bench::StatusKiB(prom_pid, "VmRSS") / 1024.0;
    f.prom_query_s_per_round = n > 0 ? ql.exec_s / n : 0;
    f.prom_longest_query_exec_s = ql.longest_exec_s;
    f.longest_quiet_query_bytes = ql.longest_bytes;
    f.rss_quiet_mib = rss_max / 1024.0;
    f.anon_quiet_mib = bench::StatusKiB(pid, "RssAnon") / 1024.0;
    f.file_quiet_mib = bench::StatusKiB(pid, "RssFile") / 1024.0;
    f.threads_quiet = bench::StatusKiB(pid, "Threads");
  }
  // The longest query of the whole run (the first rounds included).
  {
    QueryLog whole = ReadQueryLog(query_log, 0, FileSize(query_log));
    f.longest_query_bytes = whole.longest_bytes;
    std::printf("longest query (%lld bytes): %s%s\n", static_cast<long long>(whole.longest_bytes),
                whole.longest.substr(0, 160).c_str(), whole.longest.size() > 160 ? "..." : "");
  }

  // 2. KEDA streams.
  StreamCount count;
  std::vector<std::unique_ptr<Stream>> streams;
  std::vector<std::unique_ptr<externalscaler::ExternalScaler::Stub>> stubs;
  const int want_streams = absl::GetFlag(FLAGS_streams);
  if (f.ok) {
    for (int c = 0; c < kGrpcConnections; ++c) {
      grpc::ChannelArguments args;
      args.SetInt("bench.channel", c);  // distinct arguments: distinct connections
      stubs.push_back(externalscaler::ExternalScaler::NewStub(
          grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", s.adapter_grpc_port()),
                                    grpc::InsecureChannelCredentials(), args)));
    }
    const auto t0 = Clock::now();
    for (int i = 0; i < want_streams; ++i) {
      streams.push_back(
          std::make_unique<Stream>(stubs[i % stubs.size()].get(), &count, i, namespaces));
    }
    {
      std::unique_lock lock(count.mu);
      count.cv.wait_until(lock, Clock::now() + std::chrono::seconds(90),
                          [&] { return count.first + count.done >= want_streams; });
      f.streams_opened = count.first;
    }
    f.streams_open_s = std::chrono::duration<double>(Clock::now() - t0).count();
    f.rss_streams_mib = bench::StatusKiB(pid, "VmRSS") / 1024.0;
    f.anon_streams_mib = bench::StatusKiB(pid, "RssAnon") / 1024.0;
    f.threads_streams = bench::StatusKiB(pid, "Threads");
    f.streams_gauge =
        bench::SumSamples(Page(s.adapter_port(), "/metrics"), "autoscale_adapter_keda_streams");
    if (f.streams_opened != want_streams) {
      fail(absl::StrCat(want_streams - f.streams_opened, " streams got no first state"));
    }
  }

  // 3. HPA-like clients with the streams open.
  if (f.ok) {
    std::vector<std::string> paths;
    const int clients = absl::GetFlag(FLAGS_clients);
    const int workloads = pods / kPodsPerWorkload;
    for (int i = 0; i < clients; ++i) {
      paths.push_back(absl::StrCat("/apis/custom.metrics.k8s.io/v1beta2/namespaces/",
                                   bench::NamespaceName(i % namespaces), "/pods/*/",
                                   bench::kMetricNames[i % 3], "?labelSelector=workload%3Dw-",
                                   (i / namespaces) % std::max(1, workloads)));
    }
    const std::string m0 = Page(s.adapter_port(), "/metrics");
    const double cpu0 = bench::CpuSeconds(pid);
    std::atomic<bool> running{true};
    std::atomic<int64_t> rss_max{0};
    std::thread watch([&] {
      while (running) {
        int64_t rss = bench::StatusKiB(pid, "VmRSS");
        if (rss > rss_max) rss_max = rss;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
    f.hpa = bench::RunPaced(
        s.adapter_https_port(), paths, absl::ToChronoMilliseconds(absl::GetFlag(FLAGS_sync)),
        absl::ToChronoMilliseconds(absl::GetFlag(FLAGS_load)), kHttpConnections, /*tls=*/true);
    running = false;
    watch.join();
    const double cpu1 = bench::CpuSeconds(pid);
    const std::string m1 = Page(s.adapter_port(), "/metrics");
    const double n = rounds(m1) - rounds(m0);
    f.cpu_per_round_load_s = n > 0 ? (cpu1 - cpu0) / n : 0;
    f.rss_load_mib = rss_max / 1024.0;
    if (f.hpa.errors > 0) fail(absl::StrCat(f.hpa.errors, " HPA-like reads failed"));
  }
  f.hwm_mib = bench::StatusKiB(pid, "VmHWM") / 1024.0;
  {
    std::ifstream loadavg("/proc/loadavg");
    loadavg >> f.loadavg;
  }

  for (auto& st : streams) st->Cancel();
  {
    std::unique_lock lock(count.mu);
    count.cv.wait_for(lock, std::chrono::seconds(30),
                      [&] { return count.done == static_cast<int>(streams.size()); });
  }
  streams.clear();
  s.Stop();
  std::filesystem::remove_all(dir);
  return f;
}

// ------------------------------------------------------------------------------------------
// The table.

void PrintTable(const std::vector<Figures>& all) {
  std::string head = absl::StrFormat("%-62s", "");
  for (const Figures& f : all)
    absl::StrAppend(&head, absl::StrFormat(" %14s", absl::StrCat(f.pods, " pods")));
  if (all.size() > 1) absl::StrAppend(&head, absl::StrFormat(" %8s", "ratio"));
  absl::StrAppend(&head, "  goal");
  std::printf("\n%s\n", head.c_str());
  auto row = [&](const char* name, auto get, const char* fmt, const char* goal) {
    std::string line = absl::StrFormat("%-62s", name);
    for (const Figures& f : all) {
      absl::StrAppend(&line, " ", absl::StrFormat("%14s", absl::StrFormat(fmt, get(f))));
    }
    if (all.size() > 1) {
      double a = get(all.front()), b = get(all.back());
      absl::StrAppend(&line,
                      absl::StrFormat(" %8s", a > 0 ? absl::StrFormat("%.2fx", b / a) : "-"));
    }
    absl::StrAppend(&line, "  ", goal);
    std::printf("%s\n", line.c_str());
  };
  auto d = [](double Figures::*m) { return [m](const Figures& f) { return f.*m; }; };
  std::printf("-- the adapter\n");
  row("resident memory, quiet rounds, highest (MiB)", d(&Figures::rss_quiet_mib), "%.1f",
      "< 200 at 100k");
  row("  anonymous (the adapter's own), quiet end (MiB)", d(&Figures::anon_quiet_mib), "%.1f", "");
  row("  file-backed (binary, shared libraries), quiet end", d(&Figures::file_quiet_mib), "%.1f",
      "");
  row(
      "  threads, quiet", [](const Figures& f) { return static_cast<double>(f.threads_quiet); },
      "%.0f", "");
  row("resident memory with the KEDA streams open (MiB)", d(&Figures::rss_streams_mib), "%.1f", "");
  row("  anonymous with the streams open (MiB)", d(&Figures::anon_streams_mib), "%.1f", "");
  row(
      "  anonymous per stream (KiB)",
      [](const Figures& f) {
        return f.streams_opened > 0
                   ? (f.anon_streams_mib - f.anon_quiet_mib) * 1024.0 / f.streams_opened
                   : 0.0;
      },
      "%.1f", "");
  row(
      "  threads with the streams open",
      [](const Figures& f) { return static_cast<double>(f.threads_streams); }, "%.0f", "");
  row("resident memory under load, highest (MiB)", d(&Figures::rss_load_mib), "%.1f",
      "< 200 at 100k");
  row("peak resident (VmHWM, MiB)", d(&Figures::hwm_mib), "%.1f", "");
  row("CPU seconds per sampling round, quiet", d(&Figures::cpu_per_round_s), "%.3f", "< 1");
  row("CPU seconds per round under load (serving included)", d(&Figures::cpu_per_round_load_s),
      "%.3f", "");
  row("sampling round duration, mean (s)", d(&Figures::round_duration_s), "%.3f", "");
  row("queries per round (adapter's gauge)", d(&Figures::queries_per_round), "%.0f",
      "independent of clients");
  row("query chunks per round (adapter's gauge)", d(&Figures::chunks_per_round), "%.0f", "");
  row("queries per round seen by Prometheus (/api/v1/query)", d(&Figures::prom_queries_per_round),
      "%.1f", "");
  row(
      "longest query sent, whole run (bytes)",
      [](const Figures& f) { return static_cast<double>(f.longest_query_bytes); }, "%.0f",
      "bounded");
  row(
      "longest query sent, quiet rounds (bytes)",
      [](const Figures& f) { return static_cast<double>(f.longest_quiet_query_bytes); }, "%.0f",
      "bounded");
  row("Prometheus request time per round, adapter's view (s)",
      d(&Figures::adapter_query_s_per_round), "%.3f", "");
  row(
      "custom.metrics labelSelector reads (HPA-like), requests",
      [](const Figures& f) { return static_cast<double>(f.hpa.requests); }, "%.0f", "");
  row(
      "  reads/s", [](const Figures& f) { return f.hpa.rps(); }, "%.0f", "");
  row(
      "  latency p50 (ms)", [](const Figures& f) { return f.hpa.p50_ms; }, "%.2f", "");
  row(
      "  latency p99 (ms)", [](const Figures& f) { return f.hpa.p99_ms; }, "%.2f", "< 5");
  row(
      "  errors", [](const Figures& f) { return static_cast<double>(f.hpa.errors); }, "%.0f", "0");
  row(
      "  sent over 100 ms late (client side)",
      [](const Figures& f) { return static_cast<double>(f.hpa.late); }, "%.0f", "");
  row(
      "KEDA streams with their first state",
      [](const Figures& f) { return static_cast<double>(f.streams_opened); }, "%.0f", "all");
  row("  time to open them all (s)", d(&Figures::streams_open_s), "%.2f", "");
  row("  autoscale_adapter_keda_streams", d(&Figures::streams_gauge), "%.0f", "");
  std::printf("-- Prometheus (the same machine's 2 cores)\n");
  row("exposition size, all pages (MiB)", d(&Figures::exposition_mib), "%.1f", "");
  row("time until it held every series (s, from start)", d(&Figures::prom_ingest_s), "%.1f", "");
  row("scrape duration, longest page of 10 namespaces (s)", d(&Figures::prom_scrape_max_s), "%.3f",
      "");
  row("scrape duration, all pages together (s per interval)", d(&Figures::prom_scrape_sum_s),
      "%.3f", "");
  row("CPU cores used, quiet rounds (scrapes + queries)", d(&Figures::prom_cpu_cores), "%.2f", "");
  row("query execution per round (s, query log execTotalTime)", d(&Figures::prom_query_s_per_round),
      "%.3f", "");
  row("longest query execution (s)", d(&Figures::prom_longest_query_exec_s), "%.3f", "");
  row("resident memory (MiB)", d(&Figures::prom_rss_mib), "%.0f", "");
  std::printf("-- the machine\n");
  row("load average (1 min) at the end, every process", d(&Figures::loadavg), "%.2f", "");
}

int Main() {
  g_deadline = absl::Now() + absl::GetFlag(FLAGS_deadline);
  std::vector<Figures> all;
  bool ok = true;
  for (const std::string& size : absl::GetFlag(FLAGS_sizes)) {
    std::vector<std::string> parts = absl::StrSplit(size, 'x');
    int namespaces = 0, pods = 0;
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &namespaces) ||
        !absl::SimpleAtoi(parts[1], &pods) || namespaces < 1 || pods < kPodsPerWorkload ||
        pods % kPodsPerWorkload != 0) {
      std::fprintf(stderr, "--sizes: %s is not NAMESPACESxPODS (pods a multiple of %d)\n",
                   size.c_str(), kPodsPerWorkload);
      return 2;
    }
    all.push_back(RunSize(namespaces, pods));
    ok = ok && all.back().ok;
  }
  std::printf(
      "\nlarge cluster: %d HPA-like clients (one custom.metrics read with a labelSelector per %s, "
      "%d TLS connections), %d KEDA streams (%d connections), sampling every %s, scrapes every %s, "
      "%u cores\n",
      absl::GetFlag(FLAGS_clients), absl::FormatDuration(absl::GetFlag(FLAGS_sync)).c_str(),
      kHttpConnections, absl::GetFlag(FLAGS_streams), kGrpcConnections,
      absl::FormatDuration(absl::GetFlag(FLAGS_sampling_interval)).c_str(),
      absl::FormatDuration(absl::GetFlag(FLAGS_scrape_interval)).c_str(),
      std::thread::hardware_concurrency());
  PrintTable(all);
  if (!ok) std::printf("FAIL: see the messages above\n");
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace aa

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return aa::Main();
}
