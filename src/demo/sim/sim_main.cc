// autoscale-sim: a simulated KServe cluster whose /metrics a real Prometheus scrapes. See
// src/sim/model.h for the model, src/sim/exposition.h for the metrics and src/sim/server.h for the
// HTTP API.

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "app/flags.h"
#include "common/log.h"
#include "common/signals.h"
#include "demo/sim/model.h"
#include "demo/sim/scenario.h"
#include "demo/sim/server.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0",
          "HTTP listen address host:port; port 0 picks a free port");
ABSL_FLAG(
    std::string, scenario, "",
    "scenario YAML file (see src/sim/scenario.h); empty = the built-in KServe tutorial scenario");
ABSL_FLAG(uint64_t, seed, 1,
          "random seed: the same seed, scenario and API calls give the same run");
ABSL_FLAG(absl::Duration, tick, absl::Milliseconds(100), "simulation step, advanced in real time");
ABSL_FLAG(std::string, log_level, "info", "log level: debug, info, warn, error");
ABSL_FLAG(std::string, log_format, "json", "log format: json or logfmt");

namespace {

ABSL_CONST_INIT absl::Mutex g_stop_mu(absl::kConstInit);
bool g_stop ABSL_GUARDED_BY(g_stop_mu) = false;

}  // namespace

int main(int argc, char** argv) {
  aa::ParseProgramFlags(
      argc, argv,
      "simulated KServe InferenceServices exposing queue-proxy, KServe, vLLM, cAdvisor and "
      "kube-state-metrics series at GET /metrics, with a JSON API to change replicas and load.\n"
      "Flag names accept '-' or '_'.");

  if (absl::Status st = aa::SetLogLevel(absl::GetFlag(FLAGS_log_level)); !st.ok()) {
    std::fprintf(stderr, "--log-level: %s\n", std::string(st.message()).c_str());
    return 2;
  }
  if (absl::Status st = aa::SetLogFormat(absl::GetFlag(FLAGS_log_format)); !st.ok()) {
    std::fprintf(stderr, "--log-format: %s\n", std::string(st.message()).c_str());
    return 2;
  }
  const absl::Duration tick = absl::GetFlag(FLAGS_tick);
  if (tick <= absl::ZeroDuration() || tick > absl::Minutes(1)) {
    aa::LogError(
        "bad flag",
        {{"flag", "tick"}, {"value", absl::FormatDuration(tick)}, {"error", "must be in (0, 1m]"}});
    return 2;
  }

  std::vector<aa::sim::ServiceSpec> specs;
  const std::string scenario = absl::GetFlag(FLAGS_scenario);
  if (scenario.empty()) {
    specs = aa::sim::DefaultScenario();
  } else {
    auto loaded = aa::sim::LoadScenarioFile(scenario);
    if (!loaded.ok()) {
      aa::LogError("cannot load scenario", {{"file", scenario}, {"error", loaded.status()}});
      return 2;
    }
    specs = std::move(*loaded);
  }
  auto sim = aa::sim::Simulator::Create(std::move(specs), absl::GetFlag(FLAGS_seed), absl::Now());
  if (!sim.ok()) {
    aa::LogError("invalid scenario", {{"file", scenario}, {"error", sim.status()}});
    return 2;
  }

  // Block the stop signals in every thread (the server's too) and take them synchronously in one
  // thread.
  const sigset_t signals = aa::BlockShutdownSignals();
  std::thread signal_thread([signals] {
    int sig = 0;
    sigwait(&signals, &sig);
    aa::LogInfo("stopping", {{"signal", aa::SignalName(sig)}});
    absl::MutexLock lock(&g_stop_mu);
    g_stop = true;
  });

  absl::Mutex sim_mu;
  auto server = aa::sim::SimHttpServer::Start(absl::GetFlag(FLAGS_listen), sim->get(), &sim_mu);
  if (!server.ok()) {
    aa::LogError("cannot listen",
                 {{"address", absl::GetFlag(FLAGS_listen)}, {"error", server.status()}});
    std::_Exit(1);  // the signal thread is parked in sigwait
  }
  aa::LogInfo("listening",
              {{"server", "http"}, {"address", (*server)->address()}, {"port", (*server)->port()}});
  {
    absl::MutexLock lock(&sim_mu);
    int pods = 0;
    for (const auto& s : (*sim)->Services()) pods += static_cast<int>(s.pods.size());
    aa::LogInfo("simulating", {{"services", static_cast<int>((*sim)->Services().size())},
                               {"pods", pods},
                               {"seed", absl::GetFlag(FLAGS_seed)},
                               {"tick", absl::FormatDuration(tick)}});
  }

  // Real-time loop: one tick of simulated time per tick of wall time. If we fall far behind (a
  // stalled machine), we skip ahead instead of replaying minutes of load in a burst.
  const auto tick_chrono = absl::ToChronoNanoseconds(tick);
  auto deadline = std::chrono::steady_clock::now() + tick_chrono;
  for (;;) {
    {
      absl::MutexLock lock(&g_stop_mu);
      const auto left = deadline - std::chrono::steady_clock::now();
      if (g_stop_mu.AwaitWithTimeout(absl::Condition(&g_stop), absl::FromChrono(left))) break;
    }
    int steps = 0;
    const auto now = std::chrono::steady_clock::now();
    while (deadline <= now && steps < 50) {
      {
        absl::MutexLock lock(&sim_mu);
        (*sim)->Advance(tick);
      }
      deadline += tick_chrono;
      ++steps;
    }
    if (deadline <= now) {
      aa::LogWarn("simulation fell behind real time; skipping ahead", {{"ticks", steps}});
      deadline = now + tick_chrono;
    }
  }
  (*server)->Stop();
  signal_thread.join();
  aa::LogInfo("stopped");
  return 0;
}
