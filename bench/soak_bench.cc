// The soak: the adapter binary with a real Prometheus (restarted every 2 minutes) serving 1,000
// requests a second, mixed across every API (custom.metrics, external.metrics, metrics.k8s.io and
// the query API over HTTPS, KEDA's GetMetrics over gRPC), for 10 minutes on loopback. Prints the
// adapter's resident memory minute by minute, the requests served, failed and wrong per API, and
// whether memory stayed flat (minute 10 within 5 % of minute 2) with no wrong value served.
//
// A wrong value is recognized because the metric is known exactly: series_per_pod is 1 for each of
// the simulator's queue-proxy pods, so every pod list holds exactly those pods with 1, and every
// total is their number. While Prometheus is down a read may fail; it must never be wrong.
//
//   soak_bench [--duration=10m] [--rps=1000] [--restart_every=2m]

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "demo/proc/subprocess.h"
#include "demo/stack.h"
#include "externalscaler.grpc.pb.h"
#include "hostile/exact_metric.h"
#include "net/client.h"
#include "nlohmann/json.hpp"

ABSL_FLAG(absl::Duration, duration, absl::Minutes(10), "how long the soak runs");
ABSL_FLAG(int, rps, 1000, "requests per second over all APIs");
ABSL_FLAG(absl::Duration, restart_every, absl::Minutes(2), "Prometheus is restarted this often");

namespace aa {
namespace {

using nlohmann::json;

constexpr const char* kNs = hostile::kExactNamespace;

enum class Verdict { kRight, kFailed, kWrong };

struct Api {
  std::string name;
  // One request; Verdict from its answer.
  std::function<Verdict()> call;
  std::atomic<int64_t> right{0}, failed{0}, wrong{0};
};

int Run() {
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);
  const int rps = absl::GetFlag(FLAGS_rps);
  demo::StackOptions options;
  options.bin_dir = AA_BIN_DIR;
  options.prometheus_bin = AA_PROMETHEUS_BIN;
  options.adapter_config_yaml = hostile::kExactMetricConfig;
  auto started = demo::Stack::Start(options);
  if (!started.ok()) {
    std::fprintf(stderr, "stack: %s\n", started.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<demo::Stack> stack = *std::move(started);
  const pid_t pid = stack->adapter()->pid();

  auto https = [&](const std::string& path) -> std::optional<json> {
    thread_local std::unique_ptr<net::Client> client;
    if (!client) {
      client = *net::Client::Create(
          {.url = absl::StrCat("https://127.0.0.1:", stack->adapter_https_port()),
           .tls = {.insecure_skip_verify = true},
           .timeout = absl::Seconds(5),
           .max_idle_connections = 1,
           .name = "soak"});
    }
    net::Result r = client->Send({.target = path});
    if (!r.ok() || r.response.status != 200) return std::nullopt;
    json j = json::parse(r.response.body, nullptr, false);
    if (j.is_discarded()) return std::nullopt;
    return j;
  };
  // The pods the metric has, from a first good read; every later answer must match them.
  std::set<std::string> pods;
  const std::string custom_path = absl::StrCat("/apis/custom.metrics.k8s.io/v1beta2/namespaces/",
                                               kNs, "/pods/*/series_per_pod");
  bool have = proc::PollUntil(
      [&] {
        auto j = https(custom_path);
        if (!j) return false;
        for (const json& item : (*j)["items"])
          pods.insert(item["describedObject"].value("name", ""));
        return !pods.empty();
      },
      absl::Seconds(60));
  if (!have) {
    std::fprintf(stderr, "the adapter never served series_per_pod\n%s\n",
                 stack->adapter()->LogTail().c_str());
    return 1;
  }
  const double n_pods = static_cast<double>(pods.size());

  auto grpc_channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", stack->adapter_grpc_port()),
                                          grpc::InsecureChannelCredentials());
  auto stub = externalscaler::ExternalScaler::NewStub(grpc_channel);

  std::vector<std::unique_ptr<Api>> apis;
  auto add = [&](std::string name, std::function<Verdict()> call) {
    auto api = std::make_unique<Api>();
    api->name = std::move(name);
    api->call = std::move(call);
    apis.push_back(std::move(api));
  };
  add("custom.metrics pods", [&] {
    auto j = https(custom_path);
    if (!j) return Verdict::kFailed;
    std::set<std::string> got;
    for (const json& item : (*j)["items"]) {
      if (item.value("value", "") != "1") return Verdict::kWrong;
      got.insert(item["describedObject"].value("name", ""));
    }
    return got == pods ? Verdict::kRight : Verdict::kWrong;
  });
  add("external.metrics", [&] {
    auto j = https(
        absl::StrCat("/apis/external.metrics.k8s.io/v1beta1/namespaces/", kNs, "/series_per_pod"));
    if (!j) return Verdict::kFailed;
    if ((*j)["items"].size() != 1) return Verdict::kWrong;
    return (*j)["items"][0].value("value", "") == absl::StrCat(pods.size()) ? Verdict::kRight
                                                                            : Verdict::kWrong;
  });
  add("metrics.k8s.io pods", [&] {
    auto j = https(absl::StrCat("/apis/metrics.k8s.io/v1beta1/namespaces/", kNs, "/pods"));
    if (!j) return Verdict::kFailed;
    return (*j)["items"].is_array() ? Verdict::kRight : Verdict::kWrong;
  });
  add("query API", [&] {
    auto j = https(absl::StrCat("/api/v1/namespaces/", kNs, "/metrics/series_per_pod"));
    if (!j) return Verdict::kFailed;
    return (*j).value("total", -1.0) == n_pods ? Verdict::kRight : Verdict::kWrong;
  });
  add("KEDA GetMetrics", [&] {
    externalscaler::GetMetricsRequest req;
    req.mutable_scaledobjectref()->set_name("soak");
    req.mutable_scaledobjectref()->set_namespace_(kNs);
    (*req.mutable_scaledobjectref()->mutable_scalermetadata())["metric"] = "series_per_pod";
    (*req.mutable_scaledobjectref()->mutable_scalermetadata())["target"] = "1";
    req.set_metricname("series_per_pod");
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    externalscaler::GetMetricsResponse res;
    if (!stub->GetMetrics(&ctx, req, &res).ok()) return Verdict::kFailed;
    if (res.metricvalues_size() != 1) return Verdict::kWrong;
    return res.metricvalues(0).metricvaluefloat() == n_pods ? Verdict::kRight : Verdict::kWrong;
  });

  std::printf("soak: %s at %d requests/s over %zu APIs, Prometheus restarted every %s; %zu pods\n",
              absl::FormatDuration(duration).c_str(), rps, apis.size(),
              absl::FormatDuration(absl::GetFlag(FLAGS_restart_every)).c_str(), pods.size());
  const absl::Time start = absl::Now();
  const absl::Time end = start + duration;
  // Each API gets rps / apis requests a second from 4 paced threads.
  constexpr int kThreadsPerApi = 4;
  const absl::Duration gap = absl::Seconds(1) * (apis.size() * kThreadsPerApi) / rps;
  std::vector<std::thread> load;
  for (auto& api : apis) {
    for (int t = 0; t < kThreadsPerApi; ++t) {
      load.emplace_back([&, a = api.get()] {
        absl::Time next = absl::Now();
        while (next < end) {
          switch (a->call()) {
            case Verdict::kRight:
              ++a->right;
              break;
            case Verdict::kFailed:
              ++a->failed;
              break;
            case Verdict::kWrong:
              ++a->wrong;
              break;
          }
          next += gap;
          absl::SleepFor(next - absl::Now());  // paces the load; a late call goes at once
        }
      });
    }
  }
  // Minute by minute: memory; Prometheus restarts.
  std::vector<double> rss_by_minute;
  absl::Time next_restart = start + absl::GetFlag(FLAGS_restart_every);
  int restarts = 0;
  for (int second = 1; absl::Now() < end; ++second) {
    absl::SleepFor(start + absl::Seconds(second) - absl::Now());  // the sampling pace
    if (second % 60 == 0) {
      rss_by_minute.push_back(hostile::ResidentMiB(pid));
      int64_t right = 0, failed = 0, wrong = 0;
      for (auto& a : apis) right += a->right, failed += a->failed, wrong += a->wrong;
      std::printf("minute %2zu: RSS %.1f MiB, %lld right, %lld failed, %lld wrong\n",
                  rss_by_minute.size(), rss_by_minute.back(), static_cast<long long>(right),
                  static_cast<long long>(failed), static_cast<long long>(wrong));
      std::fflush(stdout);
    }
    if (absl::Now() >= next_restart && absl::Now() < end) {
      stack->StopPrometheus();
      absl::Status s = stack->StartPrometheus();
      if (!s.ok()) std::fprintf(stderr, "Prometheus restart: %s\n", s.ToString().c_str());
      ++restarts;
      next_restart += absl::GetFlag(FLAGS_restart_every);
    }
  }
  for (auto& t : load) t.join();

  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  int64_t total_wrong = 0, total = 0;
  std::printf("\n%-22s %10s %8s %6s\n", "API", "right", "failed", "wrong");
  for (auto& a : apis) {
    std::printf("%-22s %10lld %8lld %6lld\n", a->name.c_str(), static_cast<long long>(a->right),
                static_cast<long long>(a->failed), static_cast<long long>(a->wrong));
    total_wrong += a->wrong;
    total += a->right + a->failed + a->wrong;
  }
  std::printf("%lld requests in %.0f s (%.0f/s), %d Prometheus restarts\n",
              static_cast<long long>(total), seconds, total / seconds, restarts);
  bool flat = true;
  if (rss_by_minute.size() >= 10) {
    double m2 = rss_by_minute[1], m10 = rss_by_minute[9];
    flat = std::abs(m10 - m2) <= 0.05 * m2;
    std::printf("resident memory: minute 2 %.1f MiB, minute 10 %.1f MiB (%+.1f %%): %s\n", m2, m10,
                100 * (m10 - m2) / m2, flat ? "flat" : "NOT FLAT");
  }
  std::printf("wrong values served: %lld\n", static_cast<long long>(total_wrong));
  return total_wrong == 0 && flat ? 0 : 1;
}

}  // namespace
}  // namespace aa

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return aa::Run();
}
