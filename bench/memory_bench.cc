// Memory: resident size of the real adapter binary holding 10,000 pods x 3 metrics (100 namespaces
// x 100 pods) in its snapshot, plus the pod-label index. Prometheus is a fake HTTP server in this
// process that answers every instant query with one series per pod of the namespaces named in the
// query's matcher, on loopback. Usage: memory_bench [--namespaces=100] [--pods=100]

#include <httplib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "demo/proc/subprocess.h"
#include "demo/stack.h"
#include "net/call.h"

ABSL_FLAG(int, namespaces, 100, "Namespaces");
ABSL_FLAG(int, pods, 100, "Pods per namespace");

namespace aa {
namespace {

std::string Answer(const std::string& query, int pods) {
  // The sampler renders namespace="a" or namespace=~"a|b|c".
  static const std::regex kMatcher(R"re(namespace=~?"([^"]*)")re");
  std::smatch m;
  std::vector<std::string> namespaces;
  if (std::regex_search(query, m, kMatcher)) namespaces = absl::StrSplit(m[1].str(), '|');
  bool labels = query.rfind("kube_pod_labels", 0) == 0;
  std::string out = R"({"status":"success","data":{"resultType":"vector","result":[)";
  bool first = true;
  for (const auto& ns : namespaces) {
    for (int p = 0; p < pods; ++p) {
      absl::StrAppend(
          &out, first ? "" : ",", R"({"metric":{"namespace":")", ns, R"(","pod":"model-)", ns,
          "-predictor-7d9f8b6c5-", 10000 + p, "\"",
          labels ? absl::StrCat(R"(,"label_app":"model-)", ns,
                                R"(","label_serving_kserve_io_inferenceservice":"model-)", ns, "\"")
                 : "",
          R"(},"value":[1800000000.123,")", 1.5 + p, "\"]}");
      first = false;
    }
  }
  out += "]}}";
  return out;
}

std::string Status(pid_t pid, const std::string& field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) return line.substr(field.size() + 1);
  }
  return "?";
}

int Main() {
  const int namespaces = absl::GetFlag(FLAGS_namespaces);
  const int pods = absl::GetFlag(FLAGS_pods);
  httplib::Server fake;
  auto handle = [pods](const httplib::Request& req, httplib::Response& res) {
    res.set_content(Answer(req.get_param_value("query"), pods), "application/json");
  };
  fake.Get("/api/v1/query", handle);
  fake.Post("/api/v1/query", handle);
  int prom_port = fake.bind_to_any_port("127.0.0.1");
  std::thread server([&] { fake.listen_after_bind(); });

  std::string dir = "/tmp/memory-bench-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  {
    std::ofstream cfg(dir + "/adapter.yaml");
    cfg << "sampling: {interval: 2s, maxAge: 60s}\nmetrics:\n"
           "- {name: concurrency, query: 'sum by (<<.GroupBy>>) (c{<<.LabelMatchers>>})', target: "
           "70}\n"
           "- {name: cpu, query: 'sum by (<<.GroupBy>>) (u{<<.LabelMatchers>>})', "
           "targetUtilization: 50,\n"
           "   baselineQuery: 'sum by (<<.GroupBy>>) (r{<<.LabelMatchers>>})'}\n"
           "- {name: requests_running, query: 'sum by (<<.GroupBy>>) (v{<<.LabelMatchers>>})', "
           "target: 70}\n";
  }
  auto adapter = proc::Subprocess::Start(
      {{AA_BIN_DIR "/autoscale-adapter", "--config=" + dir + "/adapter.yaml",
        absl::StrCat("--prometheus_url=http://127.0.0.1:", prom_port), "--http_listen=127.0.0.1:0",
        "--https_listen=127.0.0.1:0", "--authentication=off", "--authorization=off",
        "--grpc_insecure", "--log_level=info"},
       dir + "/adapter.log",
       ""});
  if (!adapter.ok()) return 1;
  auto port = (*adapter)->WaitForListeningPort("http", absl::Seconds(20));
  if (!port.ok()) {
    std::fprintf(stderr, "%s\n", std::string(port.status().message()).c_str());
    return 1;
  }
  // The query API is on the HTTPS port (authentication off here), /metrics on the plain one.
  auto https_port = (*adapter)->WaitForListeningPort("https", absl::Seconds(20));
  if (!https_port.ok()) {
    std::fprintf(stderr, "%s\n", std::string(https_port.status().message()).c_str());
    return 1;
  }
  pid_t pid = (*adapter)->pid();
  std::string idle_rss = Status(pid, "VmRSS");
  int ok = 0;
  for (int n = 0; n < namespaces; ++n) {
    for (const char* metric : {"concurrency", "cpu", "requests_running"}) {
      auto r = net::HttpsGetInsecure(
          "127.0.0.1", *https_port, absl::StrCat("/api/v1/namespaces/ns-", n, "/metrics/", metric));
      ok += r.ok() && r->status == 200;
    }
  }
  // Let a few periodic rounds replace the first tables (old snapshots are freed as readers let go).
  absl::SleepFor(absl::Seconds(7));
  auto metrics = net::HttpCall("GET", "127.0.0.1", *port, "/metrics");
  std::string held;
  for (absl::string_view line : absl::StrSplit(metrics.ok() ? metrics->body : "", '\n')) {
    if (absl::StartsWith(line, "autoscale_adapter_series_held{"))
      absl::StrAppend(&held, "  ", line, "\n");
  }
  std::printf(
      "memory, %d namespaces x %d pods x 3 metrics = %d pod values + pod-label index, 2-core "
      "machine\n",
      namespaces, pods, namespaces * pods * 3);
  std::printf("reads answered 200: %d of %d\n%s", ok, namespaces * 3, held.c_str());
  std::printf("adapter VmRSS idle (before any read): %s\n", idle_rss.c_str());
  std::printf("adapter VmRSS with the full snapshot:  %s\n", Status(pid, "VmRSS").c_str());
  std::printf("adapter VmHWM (peak):                  %s\n", Status(pid, "VmHWM").c_str());
  std::printf("target: under 30 MiB resident\n");
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
