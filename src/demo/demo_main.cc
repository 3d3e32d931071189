// autoscale-demo: the README's main job, a closed loop on one machine. Starts the KServe simulator
// (one simulated InferenceService per mode), a real Prometheus scraping it and the adapter, all on
// loopback; then the autoscalers (an HPA emulator on the adapter's HTTPS Kubernetes APIs, a KEDA
// emulator on its gRPC port, Knative's KPA as the reference) set the simulator's replicas while the
// scenario's load runs: idle, ramp, a 5x burst, steady, drop to zero. Shows a live table, then a
// summary per mode, and writes CSV files and PNG plots. Cleans up every process and temp dir it
// made, also on Ctrl-C and on failure.

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "app/flags.h"
#include "common/duration.h"
#include "common/log.h"
#include "common/signals.h"
#include "demo/closedloop/loop.h"
#include "demo/closedloop/report.h"
#include "demo/closedloop/scenario.h"
#include "demo/stack.h"
#include "nlohmann/json.hpp"

ABSL_FLAG(std::string, scenario, "",
          "Scenario YAML (see src/closedloop/scenario.h); default: the built-in ~4.5 min run");
ABSL_FLAG(bool, long, false,
          "Run the long built-in scenario (~16 min, upstream 5 min scale-down stabilization)");
ABSL_FLAG(
    std::string, modes, "all",
    "Comma-separated modes to run (concurrency-hpa, concurrency-hpa-panic, "
    "concurrency-keda, concurrency-keda-panic, concurrency-kpa, cpu-hpa, cpu-keda, "
    "cpu-hpa-saturation, cpu-keda-saturation, cpu-hpa-panic, cpu-keda-panic, "
    "llm-hpa-running, llm-hpa-two-metrics, concurrency-keda-zero, concurrency-kpa-zero) or all");
ABSL_FLAG(std::string, out_dir, "demo-output",
          "Where the CSV files, the summary and the PNG plots go (created)");
ABSL_FLAG(bool, plots, true, "Render PNG plots with gnuplot");
ABSL_FLAG(std::string, gnuplot_bin, "/usr/bin/gnuplot", "The gnuplot binary");
ABSL_FLAG(std::string, scrape_interval, "1s", "Prometheus scrape interval");
ABSL_FLAG(std::string, bin_dir, "",
          "Directory of autoscale-sim and autoscale-adapter; default: this program's");
ABSL_FLAG(std::string, prometheus_bin, "/usr/bin/prometheus", "The Prometheus server binary");
ABSL_FLAG(std::string, work_dir, "",
          "Keep logs, configs and Prometheus data here; default: a temp dir removed at exit");
ABSL_FLAG(std::string, adapter_args, "", "Extra flags for the adapter, space-separated");
ABSL_FLAG(std::string, log_level, "warn", "Log level of the demo itself");

namespace aa {
namespace {

int Fail(absl::string_view message, int code = 2) {
  std::fprintf(stderr, "autoscale-demo: %.*s\n", static_cast<int>(message.size()), message.data());
  return code;
}

int Main(int argc, char** argv) {
  const sigset_t signals = BlockShutdownSignals();
  std::vector<char*> positional = ParseProgramFlags(
      argc, argv,
      "closed-loop autoscaling demo: simulator + real Prometheus + adapter, with HPA, KEDA and KPA "
      "emulators scaling the simulated services");
  if (positional.size() > 1) {
    return Fail(absl::StrCat("unexpected argument \"", positional[1], "\" (flags start with --)"));
  }
  if (auto s = SetLogLevel(absl::GetFlag(FLAGS_log_level)); !s.ok()) return Fail(s.message());

  // Flags and scenario first: bad input changes nothing and starts nothing.
  closedloop::Scenario scenario;
  const std::string scenario_file = absl::GetFlag(FLAGS_scenario);
  if (!scenario_file.empty() && absl::GetFlag(FLAGS_long)) {
    return Fail("--scenario and --long exclude each other");
  }
  if (!scenario_file.empty()) {
    auto loaded = closedloop::LoadScenarioFile(scenario_file);
    if (!loaded.ok()) return Fail(absl::StrCat("--scenario: ", loaded.status().message()));
    scenario = *std::move(loaded);
  } else {
    scenario =
        absl::GetFlag(FLAGS_long) ? closedloop::LongScenario() : closedloop::DefaultScenario();
  }
  const bool with_panic = true;  // the adapter's `panic` option on a second concurrency metric
  const std::vector<closedloop::ModeSpec> available = closedloop::DefaultModes(with_panic);
  auto modes = closedloop::SelectModes(absl::GetFlag(FLAGS_modes), available);
  if (!modes.ok()) return Fail(modes.status().message());
  auto scrape = ParseGoDuration(absl::GetFlag(FLAGS_scrape_interval));
  if (!scrape.ok()) return Fail(absl::StrCat("--scrape_interval: ", scrape.status().message()));
  if (*scrape < absl::Seconds(1) || *scrape > absl::Seconds(5)) {
    return Fail("--scrape_interval: must be in [1s, 5s] (the adapter samples every second)");
  }
  const std::string out_dir = absl::GetFlag(FLAGS_out_dir);
  if (out_dir.empty()) return Fail("--out_dir: must not be empty");
  {
    std::error_code ec;
    std::filesystem::create_directories(out_dir, ec);
    if (ec || access(out_dir.c_str(), W_OK) != 0) {
      return Fail(absl::StrCat("--out_dir: cannot write to \"", out_dir, "\"",
                               ec ? absl::StrCat(": ", ec.message()) : ""));
    }
  }
  const bool plots = absl::GetFlag(FLAGS_plots);
  if (plots && access(absl::GetFlag(FLAGS_gnuplot_bin).c_str(), X_OK) != 0) {
    return Fail(absl::StrCat("--gnuplot_bin: \"", absl::GetFlag(FLAGS_gnuplot_bin),
                             "\" is not an executable (install gnuplot-nox or pass --noplots)"));
  }

  demo::StackOptions options;
  options.bin_dir = absl::GetFlag(FLAGS_bin_dir);
  if (options.bin_dir.empty()) {
    options.bin_dir = std::filesystem::canonical("/proc/self/exe").parent_path();
  }
  options.prometheus_bin = absl::GetFlag(FLAGS_prometheus_bin);
  options.work_dir = absl::GetFlag(FLAGS_work_dir);
  options.scrape_interval = *scrape;
  options.sim_scenario_yaml = closedloop::SimScenarioYaml(scenario, *modes, "kserve-test");
  options.adapter_config_yaml = closedloop::AdapterConfigYaml(scenario, with_panic);
  for (absl::string_view a :
       absl::StrSplit(absl::GetFlag(FLAGS_adapter_args), ' ', absl::SkipEmpty())) {
    options.adapter_args.emplace_back(a);
  }

  std::printf("starting the simulator (%zu services), Prometheus and the adapter...\n",
              modes->size());
  std::fflush(stdout);
  auto stack = demo::Stack::Start(options);
  if (!stack.ok()) return Fail(stack.status().message(), 1);
  demo::Stack& s = **stack;
  // Where to look while it runs: printed now, and kept above the live table on a terminal.
  std::string addresses =
      absl::StrCat("simulator   http://127.0.0.1:", s.sim_port(), "/api/v1/services\n",
                   "prometheus  ", s.prometheus_url(), "  (logs in ", s.work_dir(), ")\n",
                   "adapter     https://127.0.0.1:", s.adapter_https_port(),
                   "/api/v1/metrics (query API) and /apis (Kubernetes APIs), no authentication "
                   "(--authentication=off, local demo)  http://127.0.0.1:",
                   s.adapter_port(), "/metrics  gRPC 127.0.0.1:", s.adapter_grpc_port(), "\n");
  std::printf("%s", addresses.c_str());
  std::fflush(stdout);
  // The saturation-aware cpu modes read a second adapter on the same Prometheus: its `cpu` preset
  // serves the demand (usage + CFS throttled time), in metrics.k8s.io too.
  std::unique_ptr<demo::Stack> saturation;
  if (closedloop::NeedsSaturationAdapter(*modes)) {
    demo::StackOptions o = options;
    o.prometheus_url = s.prometheus_url();
    o.work_dir = s.work_dir() + "/saturation";
    o.adapter_config_yaml = closedloop::AdapterConfigYaml(scenario, with_panic, true);
    auto started = demo::Stack::Start(o);
    if (!started.ok()) return Fail(started.status().message(), 1);
    saturation = *std::move(started);
    const std::string line = absl::StrCat(
        "adapter #2  https://127.0.0.1:", saturation->adapter_https_port(),
        "/api/v1/metrics, the same with cpu preset saturation: true (the *-saturation modes)  "
        "http://127.0.0.1:",
        saturation->adapter_port(), "/metrics  gRPC 127.0.0.1:", saturation->adapter_grpc_port(),
        "\n");
    addresses += line;
    std::printf("%s", line.c_str());
    std::fflush(stdout);
  }
  // The panic-aware cpu modes read a third one: its `cpu` preset (the demand over 3 s) has the
  // `panic` option.
  std::unique_ptr<demo::Stack> cpu_panic;
  if (closedloop::NeedsCpuPanicAdapter(*modes)) {
    demo::StackOptions o = options;
    o.prometheus_url = s.prometheus_url();
    o.work_dir = s.work_dir() + "/cpu-panic";
    o.adapter_config_yaml = closedloop::AdapterConfigYaml(scenario, with_panic, true, true);
    auto started = demo::Stack::Start(o);
    if (!started.ok()) return Fail(started.status().message(), 1);
    cpu_panic = *std::move(started);
    const std::string line =
        absl::StrCat("adapter #3  https://127.0.0.1:", cpu_panic->adapter_https_port(),
                     "/api/v1/metrics, cpu saturation- and panic-aware (the cpu-*-panic modes)  "
                     "http://127.0.0.1:",
                     cpu_panic->adapter_port(),
                     "/metrics  gRPC 127.0.0.1:", cpu_panic->adapter_grpc_port(), "\n");
    addresses += line;
    std::printf("%s", line.c_str());
    std::fflush(stdout);
  }
  for (demo::Stack* stack : {&s, saturation.get(), cpu_panic.get()}) {
    if (stack == nullptr) continue;
    if (absl::Status ready =
            demo::WaitForHttp(stack->adapter_port(), "/readyz", 200, absl::Seconds(30));
        !ready.ok()) {
      return Fail(absl::StrCat("the adapter did not become ready: ", ready.message(),
                               "; its log: ", stack->adapter()->LogTail(10)),
                  1);
    }
  }

  // The first sync must find data: wait for two scrapes' worth of every pod's series (the
  // scale-from-zero modes start without pods).
  int initial_pods = 0;
  for (const closedloop::ModeSpec& m : *modes) {
    initial_pods += closedloop::ModeMinReplicas(m, scenario);
  }
  std::printf("waiting for the first samples of every pod...\n");
  std::fflush(stdout);
  for (const char* metric : {"concurrency", "cpu"}) {
    if (initial_pods == 0) break;
    if (absl::Status data = closedloop::WaitForAdapterData(s.adapter_https_port(), "kserve-test",
                                                           metric, initial_pods, absl::Seconds(60));
        !data.ok()) {
      return Fail(data.message(), 1);
    }
  }
  for (demo::Stack* stack : {saturation.get(), cpu_panic.get()}) {
    if (stack == nullptr || initial_pods <= 0) continue;
    if (absl::Status data = closedloop::WaitForAdapterData(
            stack->adapter_https_port(), "kserve-test", "cpu", initial_pods, absl::Seconds(60));
        !data.ok()) {
      return Fail(data.message(), 1);
    }
  }

  closedloop::ClosedLoop::Options loop_options;
  loop_options.scenario = scenario;
  loop_options.modes = *modes;
  loop_options.sim_port = s.sim_port();
  loop_options.adapter_https_port = s.adapter_https_port();
  loop_options.adapter_grpc_port = s.adapter_grpc_port();
  if (saturation) {
    loop_options.saturation_https_port = saturation->adapter_https_port();
    loop_options.saturation_grpc_port = saturation->adapter_grpc_port();
  }
  if (cpu_panic) {
    loop_options.cpu_panic_https_port = cpu_panic->adapter_https_port();
    loop_options.cpu_panic_grpc_port = cpu_panic->adapter_grpc_port();
  }
  auto loop = closedloop::ClosedLoop::Create(loop_options);
  if (!loop.ok()) return Fail(loop.status().message(), 1);

  const bool tty = isatty(STDOUT_FILENO);
  const int steps = (*loop)->steps();
  const int print_every = static_cast<int>(scenario.autoscaling.sync_period / scenario.step);
  std::printf("running %d modes for %s (%d steps of %s)%s\n", static_cast<int>(modes->size()),
              FormatGoDuration(scenario.Length()).c_str(), steps,
              FormatGoDuration(scenario.step).c_str(), tty ? "" : "; a status every sync period");
  std::fflush(stdout);
  const absl::Time start = absl::Now();
  int signal_number = 0;
  absl::Status failed;
  for (int i = 0; i < steps; ++i) {
    // Pace the loop's clock to the wall clock: Prometheus scrapes in real time.
    const absl::Time due = start + scenario.step * i;
    for (absl::Duration wait = due - absl::Now(); wait > absl::ZeroDuration();
         wait = due - absl::Now()) {
      timespec ts = absl::ToTimespec(wait);
      const int sig = sigtimedwait(&signals, nullptr, &ts);
      if (sig > 0) {
        signal_number = sig;
        break;
      }
    }
    if (signal_number > 0) break;
    failed = (*loop)->Step(i, due);
    if (!failed.ok()) break;
    if (tty) {
      std::printf("\033[2J\033[H%s\n%s", addresses.c_str(), closedloop::LiveTable(**loop).c_str());
    } else if (i % print_every == print_every - 1) {
      std::printf("%s", closedloop::LiveLines(**loop).c_str());
    }
    std::fflush(stdout);
  }

  int code = 0;
  if (signal_number > 0) {
    std::printf("\ninterrupted (%s): writing what ran so far\n", SignalName(signal_number));
    code = 130;
  } else if (!failed.ok()) {
    std::fprintf(stderr, "autoscale-demo: the loop stopped: %s\n",
                 std::string(failed.message()).c_str());
    code = 1;
  }
  std::printf("\n%s\n", closedloop::SummaryTable((*loop)->Summarize(), scenario).c_str());
  if (absl::Status w = closedloop::WriteCsv(**loop, out_dir); !w.ok()) {
    std::fprintf(stderr, "autoscale-demo: %s\n", std::string(w.message()).c_str());
    code = code ? code : 1;
  } else {
    std::printf("CSV: %s/<mode>.csv, %s/summary.csv\n", out_dir.c_str(), out_dir.c_str());
    if (plots && signal_number == 0) {
      if (absl::Status p =
              closedloop::RenderPlots(**loop, out_dir, absl::GetFlag(FLAGS_gnuplot_bin));
          !p.ok()) {
        std::fprintf(stderr, "autoscale-demo: plots: %s\n", std::string(p.message()).c_str());
        code = code ? code : 1;
      } else {
        std::printf("plots: %s/<mode>.png, %s/overview.png\n", out_dir.c_str(), out_dir.c_str());
      }
    }
  }
  loop->reset();  // closes the KEDA streams before the adapter stops
  std::printf("stopping...\n");
  if (saturation) saturation->Stop();
  if (cpu_panic) cpu_panic->Stop();
  s.Stop();
  std::printf("stopped; all processes ended and temporary files removed\n");
  return code;
}

}  // namespace
}  // namespace aa

int main(int argc, char** argv) { return aa::Main(argc, argv); }
