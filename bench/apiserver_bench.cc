// Kubernetes metrics API latency on the adapter binary over HTTPS (keep-alive, loopback):
// - discovery `GET /apis/custom.metrics.k8s.io/v1beta2` with 1,000 metric definitions (target < 5
// ms;
//   prometheus-adapter users report 1,984 ms);
// - `GET /apis/metrics.k8s.io/v1beta1/pods`, a PodMetricsList of 1,000 pods (target < 20 ms).
// Prometheus is a fake HTTP server in this process answering one series per pod of the namespaces
// in the query. Usage: apiserver_bench [--requests=200]

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "demo/proc/subprocess.h"
#include "net/call.h"

ABSL_FLAG(int, requests, 200, "Timed requests per path");

namespace aa {
namespace {

constexpr int kNamespaces = 10;
constexpr int kPodsPerNamespace = 100;

std::string Answer(const std::string& query) {
  static const std::regex kMatcher(R"re(namespace=~?"([^"]*)")re");
  std::smatch m;
  std::vector<std::string> namespaces;
  if (std::regex_search(query, m, kMatcher)) namespaces = absl::StrSplit(m[1].str(), '|');
  bool memory = query.find("memory") != std::string::npos;
  std::string out = R"({"status":"success","data":{"resultType":"vector","result":[)";
  bool first = true;
  for (const auto& ns : namespaces) {
    for (int p = 0; p < kPodsPerNamespace; ++p) {
      absl::StrAppend(&out, first ? "" : ",", R"({"metric":{"namespace":")", ns,
                      R"(","pod":"model-)", ns, "-predictor-7d9f8b6c5-", 10000 + p,
                      R"("},"value":[1800000000.123,")", memory ? 300e6 + p : 0.25 + p / 1000.0,
                      "\"]}");
      first = false;
    }
  }
  return out + "]}}";
}

struct Latency {
  double p50_ms = 0, p99_ms = 0;
  size_t bytes = 0;
  int errors = 0;
};

Latency Time(int port, const std::string& path, int n) {
  httplib::Client client(absl::StrCat("https://127.0.0.1:", port));
  client.enable_server_certificate_verification(false);
  client.set_keep_alive(true);
  client.set_tcp_nodelay(true);
  std::vector<double> ms;
  Latency out;
  for (int i = 0; i < n + 5; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto res = client.Get(path.c_str());
    auto t1 = std::chrono::steady_clock::now();
    if (!res || res->status != 200) {
      ++out.errors;
      continue;
    }
    out.bytes = res->body.size();
    if (i >= 5)
      ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());  // 5 warm-ups
  }
  std::sort(ms.begin(), ms.end());
  if (!ms.empty()) {
    out.p50_ms = ms[ms.size() / 2];
    out.p99_ms = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
  }
  return out;
}

int Main() {
  httplib::Server fake;
  auto handle = [](const httplib::Request& req, httplib::Response& res) {
    res.set_content(Answer(req.get_param_value("query")), "application/json");
  };
  fake.Get("/api/v1/query", handle);
  fake.Post("/api/v1/query", handle);
  int prom_port = fake.bind_to_any_port("127.0.0.1");
  std::thread server([&] { fake.listen_after_bind(); });

  std::string dir = "/tmp/apiserver-bench-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  {
    std::ofstream cfg(dir + "/adapter.yaml");
    cfg << "sampling: {interval: 2s, maxAge: 60s, warmNamespaces: [";
    for (int n = 0; n < kNamespaces; ++n) cfg << (n ? ", " : "") << "ns-" << n;
    cfg << "]}\npodLabels: {enabled: false}\nmetrics:\n"
           "- {name: cpu, query: 'sum by (<<.GroupBy>>) (cpu{<<.LabelMatchers>>})', target: 1}\n"
           "- {name: memory, query: 'sum by (<<.GroupBy>>) (memory{<<.LabelMatchers>>})', target: "
           "1}\n";
    // 998 more definitions, for discovery; never demanded, so never queried.
    for (int i = 0; i < 998; ++i) {
      cfg << "- {name: custom_metric_" << i << ", query: 'sum by (<<.GroupBy>>) (m" << i
          << "{<<.LabelMatchers>>})', target: 1}\n";
    }
  }
  auto adapter = proc::Subprocess::Start(
      {{AA_BIN_DIR "/autoscale-adapter", "--config=" + dir + "/adapter.yaml",
        absl::StrCat("--prometheus_url=http://127.0.0.1:", prom_port), "--http_listen=127.0.0.1:0",
        "--authentication=off", "--authorization=off", "--https_listen=127.0.0.1:0",
        "--grpc_listen=off"},
       dir + "/adapter.log",
       ""});
  if (!adapter.ok()) return 1;
  auto port = (*adapter)->WaitForListeningPort("https", absl::Seconds(20));
  auto http_port = (*adapter)->WaitForListeningPort("http", absl::Seconds(20));
  if (!port.ok() || !http_port.ok()) {
    std::fprintf(stderr, "adapter did not start\n%s", (*adapter)->LogTail().c_str());
    return 1;
  }
  bool ready = proc::PollUntil(
      [&] {
        auto r = net::HttpCall("GET", "127.0.0.1", *http_port, "/readyz");
        return r.ok() && r->status == 200;
      },
      absl::Seconds(30));
  if (!ready) {
    std::fprintf(stderr, "adapter never became ready\n");
    return 1;
  }
  const int n = absl::GetFlag(FLAGS_requests);
  Latency discovery = Time(*port, "/apis/custom.metrics.k8s.io/v1beta2", n);
  Latency pods = Time(*port, "/apis/metrics.k8s.io/v1beta1/pods", n);
  std::printf(
      "Kubernetes metrics APIs over HTTPS (keep-alive, one client, %d requests each), 2-core "
      "machine\n",
      n);
  std::printf("%-58s %9s %9s %10s %7s\n", "request", "p50 ms", "p99 ms", "bytes", "errors");
  std::printf("%-58s %9.3f %9.3f %10zu %7d\n", "discovery v1beta2, 1,000 metric definitions",
              discovery.p50_ms, discovery.p99_ms, discovery.bytes, discovery.errors);
  std::printf("%-58s %9.3f %9.3f %10zu %7d\n", "PodMetricsList, 1,000 pods (10 namespaces x 100)",
              pods.p50_ms, pods.p99_ms, pods.bytes, pods.errors);
  std::printf("targets: discovery < 5 ms: %s; PodMetricsList < 20 ms: %s\n",
              discovery.p99_ms < 5 && discovery.errors == 0 ? "met" : "MISSED",
              pods.p99_ms < 20 && pods.errors == 0 ? "met" : "MISSED");
  (*adapter)->Stop();
  fake.stop();
  server.join();
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace aa

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return aa::Main();
}
