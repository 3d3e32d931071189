// autoscale-demo: the README's main job. Starts the KServe simulator, a real Prometheus scraping it
// and the adapter on its embedded default config, all on loopback, and shows the live per-pod
// figures and utilization of both tutorial models until stopped (Ctrl-C) or for --duration. Cleans
// up every process and temp dir it made.

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "app/flags.h"
#include "common/duration.h"
#include "common/log.h"
#include "common/signals.h"
#include "demo/stack.h"
#include "http/client.h"
#include "nlohmann/json.hpp"

ABSL_FLAG(std::string, duration, "0",
          "How long to run (Go duration, e.g. 60s); 0 runs until Ctrl-C");
ABSL_FLAG(std::string, refresh, "2s", "How often the table is refreshed");
ABSL_FLAG(std::string, scrape_interval, "2s", "Prometheus scrape interval");
ABSL_FLAG(std::string, bin_dir, "",
          "Directory of autoscale-sim and autoscale-adapter; default: this program's");
ABSL_FLAG(std::string, prometheus_bin, "/usr/bin/prometheus", "The Prometheus server binary");
ABSL_FLAG(std::string, work_dir, "",
          "Keep logs, configs and Prometheus data here; default: a temp dir removed at exit");
ABSL_FLAG(std::string, log_level, "warn", "Log level of the demo itself");

namespace aa {
namespace {

using nlohmann::json;

struct Model {
  const char* isvc;
  const char* metric;
  const char* unit;
};
constexpr Model kModels[] = {{"concurrency-model", "concurrency", "req in flight"},
                             {"cpu-model", "cpu", "cores"}};

std::string Row(int adapter_port, const Model& m) {
  auto r = http::HttpCall("GET", "127.0.0.1", adapter_port,
                          absl::StrCat("/api/v1/namespaces/kserve-test/metrics/", m.metric,
                                       "?inferenceService=", m.isvc));
  if (!r.ok())
    return absl::StrFormat("  %-18s adapter unreachable: %s\n", m.isvc, r.status().message());
  json j = json::parse(r->body, nullptr, false);
  if (j.is_discarded()) return absl::StrFormat("  %-18s bad answer\n", m.isvc);
  if (r->status != 200) {
    return absl::StrFormat("  %-18s %s\n", m.isvc, j["error"]["message"].get<std::string>());
  }
  auto num = [](const json& v) { return v.is_number() ? v.get<double>() : NAN; };
  std::string out = absl::StrFormat(
      "  %-18s pods %-2d  total %8.3f  avg %8.3f %-13s  utilization %6.1f %%  (target %s)\n",
      m.isvc, j["podCount"].get<int>(), num(j["total"]), num(j["average"]), m.unit,
      num(j["utilizationPercent"]),
      j["target"].is_number() ? absl::StrFormat("%g per pod", j["target"].get<double>())
                              : absl::StrFormat("%g %% of request", num(j["targetUtilization"])));
  for (const auto& pod : j["pods"]) {
    absl::StrAppendFormat(&out, "      %-44s %9.3f  %6.1f %%\n", pod["pod"].get<std::string>(),
                          num(pod["value"]), num(pod["utilizationPercent"]));
  }
  return out;
}

std::string SimLoad(int sim_port) {
  auto r = http::HttpCall("GET", "127.0.0.1", sim_port, "/api/v1/services");
  if (!r.ok() || r->status != 200) return "  simulator unreachable\n";
  json j = json::parse(r->body, nullptr, false);
  if (j.is_discarded() || !j.contains("services")) return "  simulator: bad answer\n";
  std::string out;
  for (const auto& s : j["services"]) {
    absl::StrAppendFormat(
        &out, "  %-18s load %7.1f req/s  replicas %d desired, %d ready  queue %d\n",
        s.value("name", "?"), s.value("arrival_rate", 0.0), s.value("desired_replicas", 0),
        s.value("ready_replicas", 0), s.value("queue_length", 0));
  }
  return out;
}

int Main(int argc, char** argv) {
  const sigset_t signals = BlockShutdownSignals();

  ParseProgramFlags(
      argc, argv, "runs the simulator, a real Prometheus and the adapter, and shows live figures");
  if (auto s = SetLogLevel(absl::GetFlag(FLAGS_log_level)); !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return 2;
  }
  auto duration = ParseGoDuration(absl::GetFlag(FLAGS_duration));
  auto refresh = ParseGoDuration(absl::GetFlag(FLAGS_refresh));
  auto scrape = ParseGoDuration(absl::GetFlag(FLAGS_scrape_interval));
  for (const auto* d : {&duration, &refresh, &scrape}) {
    if (!d->ok()) {
      std::fprintf(stderr, "autoscale-demo: %s\n", std::string(d->status().message()).c_str());
      return 2;
    }
  }
  if (*refresh <= absl::ZeroDuration() || *scrape < absl::Seconds(1)) {
    std::fprintf(stderr,
                 "autoscale-demo: --refresh must be positive and --scrape_interval at least 1s\n");
    return 2;
  }

  demo::StackOptions options;
  options.bin_dir = absl::GetFlag(FLAGS_bin_dir);
  if (options.bin_dir.empty())
    options.bin_dir = std::filesystem::canonical("/proc/self/exe").parent_path();
  options.prometheus_bin = absl::GetFlag(FLAGS_prometheus_bin);
  options.work_dir = absl::GetFlag(FLAGS_work_dir);
  options.scrape_interval = *scrape;
  std::printf("starting the simulator, Prometheus and the adapter...\n");
  std::fflush(stdout);
  auto stack = demo::Stack::Start(options);
  if (!stack.ok()) {
    std::fprintf(stderr, "autoscale-demo: %s\n", std::string(stack.status().message()).c_str());
    return 1;
  }
  demo::Stack& s = **stack;
  std::printf("simulator   http://127.0.0.1:%d/metrics  (state: /api/v1/services)\n", s.sim_port());
  std::printf("prometheus  %s  (data and logs in %s)\n", s.prometheus_url().c_str(),
              s.work_dir().c_str());
  std::printf("adapter     http://127.0.0.1:%d/api/v1/metrics  /metrics  /readyz\n",
              s.adapter_port());
  std::printf(
      "try: curl 'http://127.0.0.1:%d/api/v1/namespaces/kserve-test/metrics/concurrency'\n\n",
      s.adapter_port());
  std::fflush(stdout);

  absl::Time start = absl::Now();
  bool tty = isatty(STDOUT_FILENO);
  int signal_number = 0;
  while (true) {
    std::string frame =
        absl::StrCat(tty ? "\033[2J\033[H" : "",
                     "t=", absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Seconds(1))),
                     "  namespace kserve-test",
                     *duration > absl::ZeroDuration()
                         ? absl::StrCat(" (runs for ", absl::FormatDuration(*duration), ")")
                         : " (Ctrl-C stops)",
                     "\n", SimLoad(s.sim_port()));
    for (const Model& m : kModels) frame += Row(s.adapter_port(), m);
    std::fputs(frame.c_str(), stdout);
    std::fputs("\n", stdout);
    std::fflush(stdout);
    if (*duration > absl::ZeroDuration() && absl::Now() - start >= *duration) break;
    timespec wait = absl::ToTimespec(*refresh);
    signal_number = sigtimedwait(&signals, nullptr, &wait);
    if (signal_number > 0) break;
  }
  std::printf("stopping%s...\n", signal_number > 0 ? " (signal)" : "");
  s.Stop();
  std::printf("stopped; all processes ended and temporary files removed\n");
  return 0;
}

}  // namespace
}  // namespace aa

int main(int argc, char** argv) { return aa::Main(argc, argv); }
