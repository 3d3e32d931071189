#include "demo/closedloop/loop.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/duration.h"

namespace aa::closedloop {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double BaseRps(const Scenario& sc, ModelKind m) {
  return m == ModelKind::kCpu   ? sc.cpu_base_rps
         : m == ModelKind::kLlm ? sc.llm_base_rps
                                : sc.concurrency_base_rps;
}

// The per-pod target of the concurrency (and LLM: requests running) the utilization is counted
// against.
double InFlightTarget(ModelKind m) {
  return m == ModelKind::kLlm ? kLlmRunningTarget : kConcurrencyTarget;
}

// The `q` quantile of the TTFTs counted between two states of a service, interpolated linearly
// within the bucket it falls in; -1 when none.
double TtftQuantile(double q, const SimService& from, const SimService& to) {
  std::map<double, SimService::TtftBucket> delta;
  for (const auto& b : to.ttft_buckets) delta[b.lower] = b;
  for (const auto& b : from.ttft_buckets) {
    if (auto it = delta.find(b.lower); it != delta.end()) it->second.count -= b.count;
  }
  uint64_t total = 0;
  for (const auto& [lower, b] : delta) total += b.count;
  if (total == 0) return -1;
  const double rank = q * static_cast<double>(total);
  double below = 0;
  for (const auto& [lower, b] : delta) {
    if (b.count == 0) continue;
    if (below + static_cast<double>(b.count) >= rank) {
      return b.lower + (b.upper - b.lower) * (rank - below) / static_cast<double>(b.count);
    }
    below += static_cast<double>(b.count);
  }
  return delta.rbegin()->second.upper;
}

// Replicas that serve `load` (a multiple of the base) at the per-pod target: the smallest n with
// demand / n <= 70 in flight, or with (cores / n + idle) / request <= 50 %.
int Needed(const Scenario& sc, const ModeSpec& mode, const SimService& s, double load) {
  const double rps = load * BaseRps(sc, mode.model);
  double n = 1;
  if (mode.model == ModelKind::kCpu) {
    const double per_pod = kCpuTargetPercent / 100.0 * s.cpu_request - s.idle_cpu;
    n = per_pod > 0 ? std::ceil(rps * s.cpu_per_request / per_pod - 1e-9)
                    : sc.autoscaling.max_replicas;
  } else {
    n = std::ceil(rps * s.service_time_seconds / InFlightTarget(mode.model) - 1e-9);
  }
  return std::clamp(static_cast<int>(n), sc.autoscaling.min_replicas, sc.autoscaling.max_replicas);
}

// The panic-aware concurrency definition (the adapter's `panic` option): the same queue-proxy
// histogram over a short rate window (the panic window), averaged by the adapter over
// metricWindow normally and over panicWindow while the workload is in panic (Knative's rule).
std::string PanicMetricYaml(const Scenario& sc) {
  const AutoscalingSettings& a = sc.autoscaling;
  return absl::StrCat(
      "- name: concurrency_panic\n"
      "  preset: {type: concurrency, source: knative-queue-proxy, window: ",
      FormatGoDuration(a.panic_window),
      "}\n"
      "  containerConcurrency: 100\n"
      "  targetUtilizationPercentage: 70\n"
      "  panic: {stableWindow: ",
      FormatGoDuration(a.metric_window), ", panicWindowPercentage: ",
      absl::StrFormat("%.6g", 100 * absl::FDivDuration(a.panic_window, a.metric_window)), "}\n");
}

}  // namespace

std::vector<ModeSpec> DefaultModes(bool with_panic) {
  using M = ModelKind;
  using S = ScalerKind;
  std::vector<ModeSpec> all = {
      {"concurrency-hpa", "concurrency, HPA, plain metric", M::kConcurrency, S::kHpa,
       "concurrency"},
      {"concurrency-hpa-panic", "concurrency, HPA, panic-aware metric", M::kConcurrency, S::kHpa,
       "concurrency_panic"},
      {"concurrency-keda", "concurrency, KEDA, plain metric", M::kConcurrency, S::kKeda,
       "concurrency"},
      {"concurrency-keda-panic", "concurrency, KEDA, panic-aware metric", M::kConcurrency, S::kKeda,
       "concurrency_panic"},
      {"concurrency-kpa", "concurrency, Knative KPA (reference)", M::kConcurrency, S::kKpa, ""},
      {"concurrency-keda-zero",
       "concurrency, KEDA from zero (activator push)",
       M::kConcurrency,
       S::kKeda,
       "concurrency",
       "",
       {},
       false,
       true},
      {"concurrency-kpa-zero",
       "concurrency, Knative KPA from zero (reference)",
       M::kConcurrency,
       S::kKpa,
       "",
       "",
       {},
       false,
       true},
      {"cpu-hpa", "cpu, HPA (metrics.k8s.io)", M::kCpu, S::kHpa, "cpu"},
      {"cpu-keda", "cpu, KEDA", M::kCpu, S::kKeda, "cpu"},
      {"llm-hpa-running", "llm, HPA, requests running", M::kLlm, S::kHpa, "llm_running"},
      {"llm-hpa-two-metrics",
       "llm, HPA, waiting + KV cache",
       M::kLlm,
       S::kHpa,
       "llm_waiting",
       "",
       {"llm_kv_cache"}},
      {"cpu-hpa-saturation",
       "cpu, HPA (metrics.k8s.io), saturation-aware",
       M::kCpu,
       S::kHpa,
       "cpu",
       "",
       {},
       true},
      {"cpu-keda-saturation",
       "cpu, KEDA, saturation-aware",
       M::kCpu,
       S::kKeda,
       "cpu",
       "",
       {},
       true},
      {"cpu-hpa-panic",
       "cpu, HPA (metrics.k8s.io), saturation- and panic-aware",
       M::kCpu,
       S::kHpa,
       "cpu",
       "",
       {},
       false,
       false,
       true},
      {"cpu-keda-panic",
       "cpu, KEDA, saturation- and panic-aware",
       M::kCpu,
       S::kKeda,
       "cpu",
       "",
       {},
       false,
       false,
       true},
  };
  if (!with_panic) {
    std::erase_if(all, [](const ModeSpec& m) { return m.metric == "concurrency_panic"; });
  }
  return all;
}

absl::StatusOr<std::vector<ModeSpec>> SelectModes(const std::string& names,
                                                  const std::vector<ModeSpec>& available) {
  if (names == "all") return available;
  std::vector<std::string> valid;
  for (const ModeSpec& m : available) valid.push_back(m.name);
  std::vector<ModeSpec> out;
  std::set<std::string> seen;
  for (absl::string_view n : absl::StrSplit(names, ',')) {
    const std::string name(n);
    auto it = std::find_if(available.begin(), available.end(),
                           [&](const ModeSpec& m) { return m.name == name; });
    if (it == available.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--modes: unknown mode \"", name, "\" (valid: all, ", absl::StrJoin(valid, ", "), ")"));
    }
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat("--modes: \"", name, "\" given twice"));
    }
    out.push_back(*it);
  }
  return out;
}

std::string SimScenarioYaml(const Scenario& sc, const std::vector<ModeSpec>& modes,
                            const std::string& ns) {
  std::string out = "services:\n";
  const std::string delay = FormatGoDuration(sc.autoscaling.pod_start_delay);
  for (const ModeSpec& m : modes) {
    absl::StrAppend(&out, "- name: ", m.name, "\n  namespace: ", ns, "\n");
    if (m.model == ModelKind::kConcurrency) {
      absl::StrAppend(&out,
                      "  container_concurrency: 100\n  target_utilization_percent: 70\n"
                      "  service_time: 500ms\n  cpu_per_request: 0.005\n  idle_cpu: 0.02\n"
                      "  memory_working_set: 512Mi\n");
    } else if (m.model == ModelKind::kLlm) {
      // service_time is the mean of prefill + output tokens x 25 ms (informational for an llm
      // service: the loop's `needed` reads it).
      absl::StrAppend(&out, "  container_concurrency: ", kLlmBatchLimit,
                      "\n  target_utilization_percent: 75\n"
                      "  service_time: 6528ms\n  distribution: lognormal\n  lognormal_sigma: 0.5\n"
                      "  cpu_per_request: 0.01\n  idle_cpu: 0.05\n  memory_working_set: 2Gi\n"
                      "  llm: {prompt_tokens: 1024, output_tokens: 256, prefill_tokens_per_second: "
                      "8000, time_per_output_token: 25ms, kv_cache_tokens: ",
                      kLlmBatchLimit * (1024 + 256 / 2), "}\n");
    } else {
      absl::StrAppend(&out,
                      "  container_concurrency: 4\n  target_utilization_percent: 50\n"
                      "  service_time: 100ms\n  cpu_per_request: 0.05\n  idle_cpu: 0.02\n"
                      "  cpu_limit: 1\n  memory_working_set: 384Mi\n");
    }
    absl::StrAppend(&out, "  cpu_request: 1\n  replicas: ", ModeMinReplicas(m, sc),
                    "\n  start_delay: ", delay,
                    "\n  load:\n    loop: false\n    steps:\n    - {duration: 1s, rps: 0}\n");
  }
  return out;
}

bool NeedsSaturationAdapter(const std::vector<ModeSpec>& modes) {
  return std::any_of(modes.begin(), modes.end(), [](const ModeSpec& m) { return m.saturation; });
}

bool NeedsCpuPanicAdapter(const std::vector<ModeSpec>& modes) {
  return std::any_of(modes.begin(), modes.end(), [](const ModeSpec& m) { return m.cpu_panic; });
}

std::string AdapterConfigYaml(const Scenario& sc, bool with_panic, bool saturation,
                              bool cpu_panic) {
  const AutoscalingSettings& a = sc.autoscaling;
  std::string out = absl::StrCat(
      "sampling: {interval: 1s, maxAge: 30s, warmNamespaces: [kserve-test]}\n"
      "podLabels: {enabled: true}\n"
      "metrics:\n"
      "- name: concurrency\n"
      "  preset: {type: concurrency, source: knative-queue-proxy, window: ",
      FormatGoDuration(a.metric_window),
      "}\n"
      "  containerConcurrency: 100\n"
      "  targetUtilizationPercentage: 70\n");
  if (with_panic) {
    absl::StrAppend(&out, PanicMetricYaml(sc));
  }
  // Scale from zero: requests held by Knative's activator per revision (an external metric), the
  // most over two scrapes, with the concurrency's per-replica target for KEDA's HPA.
  absl::StrAppend(&out, "- name: ", kActivityMetric,
                  "\n  preset: {type: activity, window: 2s}\n  target: ", kConcurrencyTarget, "\n");
  if (cpu_panic) {
    // The demand over a short rate window, served as its mean over cpuWindow, or over panicWindow
    // while the workload is in panic (KPA's rule on utilization against the 50 % target).
    absl::StrAppend(&out, "- name: cpu\n  preset: {type: cpu, window: ",
                    FormatGoDuration(std::min(kCpuPanicRateWindow, a.panic_window)),
                    ", saturation: true}\n  targetUtilization: 50\n  panic: {stableWindow: ",
                    FormatGoDuration(a.cpu_window), ", panicWindowPercentage: ",
                    absl::StrFormat("%.6g", 100 * absl::FDivDuration(a.panic_window, a.cpu_window)),
                    "}\n");
  } else {
    absl::StrAppend(&out,
                    "- name: cpu\n  preset: {type: cpu, window: ", FormatGoDuration(a.cpu_window),
                    saturation ? ", saturation: true" : "", "}\n  targetUtilization: 50\n");
  }
  absl::StrAppend(&out,
                  "- name: memory\n"
                  "  query: sum by (<<.GroupBy>>) (container_memory_working_set_bytes{"
                  "<<.LabelMatchers>>,container!=\"\",container!=\"POD\"})\n");
  const std::string w = FormatGoDuration(kLlmWindow);
  absl::StrAppend(&out,
                  "- name: llm_running\n  preset: {type: concurrency, source: vllm, window: ", w,
                  "}\n  target: ", kLlmRunningTarget,
                  "\n- name: llm_waiting\n  preset: {type: waiting, window: ", w,
                  "}\n  target: ", kLlmWaitingTarget,
                  "\n- name: llm_kv_cache\n  preset: {type: kv-cache, window: ", w,
                  "}\n  target: ", kLlmKvCacheTarget, "\n");
  return out;
}

ClosedLoop::ClosedLoop(Options options)
    : options_(std::move(options)), sim_(options_.sim_port, options_.ns) {}

absl::StatusOr<std::unique_ptr<ClosedLoop>> ClosedLoop::Create(Options options) {
  if (absl::Status s = ValidateScenario(options.scenario); !s.ok()) return s;
  if (options.modes.empty()) return absl::InvalidArgumentError("no modes to run");
  std::unique_ptr<ClosedLoop> loop(new ClosedLoop(std::move(options)));
  AutoscalerContext ctx;
  ctx.scenario = &loop->options_.scenario;
  ctx.ns = loop->options_.ns;
  ctx.https_port = loop->options_.adapter_https_port;
  ctx.grpc_port = loop->options_.adapter_grpc_port;
  ctx.bearer_token = loop->options_.bearer_token;
  for (const ModeSpec& m : loop->options_.modes) {
    ctx.https_port = m.cpu_panic    ? loop->options_.cpu_panic_https_port
                     : m.saturation ? loop->options_.saturation_https_port
                                    : loop->options_.adapter_https_port;
    ctx.grpc_port = m.cpu_panic    ? loop->options_.cpu_panic_grpc_port
                    : m.saturation ? loop->options_.saturation_grpc_port
                                   : loop->options_.adapter_grpc_port;
    auto a = MakeAutoscaler(m, ctx);
    if (!a.ok()) {
      return absl::Status(a.status().code(),
                          absl::StrCat("mode ", m.name, ": ", a.status().message()));
    }
    loop->autoscalers_.push_back(*std::move(a));
  }
  loop->rows_.resize(loop->options_.modes.size());
  loop->last_observed_.assign(loop->options_.modes.size(), kNaN);
  return loop;
}

absl::Status ClosedLoop::Step(int step, absl::Time now) {
  const Scenario& sc = options_.scenario;
  const absl::Duration t = sc.step * step;
  const std::vector<ModeSpec>& modes = options_.modes;
  std::vector<double> rps(modes.size());
  for (size_t i = 0; i < modes.size(); ++i) {
    rps[i] = sc.LoadAt(t) * BaseRps(sc, modes[i].model);
    const bool changed = rows_[i].empty() || rows_[i].back().load_rps != rps[i];
    if (changed) {
      if (absl::Status s = sim_.SetLoad(modes[i].name, rps[i]); !s.ok()) return s;
    }
  }
  auto state = sim_.State();
  if (!state.ok()) return state.status();
  std::vector<SimService> services;
  for (const ModeSpec& m : modes) {
    auto it = state->services.find(m.name);
    if (it == state->services.end()) {
      return absl::NotFoundError(
          absl::StrCat("the simulator has no service ", options_.ns, "/", m.name));
    }
    services.push_back(it->second);
  }
  if (first_.empty()) first_ = services;
  if (at_burst_.empty() && t >= sc.PhaseStart("burst")) at_burst_ = services;
  if (at_drop_.empty() && t >= sc.PhaseStart("drop")) at_drop_ = services;
  const double dt = last_sim_seconds_ >= 0 ? state->time_seconds - last_sim_seconds_ : 0;
  const Phase* phase = sc.PhaseAt(t);
  for (size_t i = 0; i < modes.size(); ++i) {
    const SimService& s = services[i];
    Row row;
    row.step = step;
    row.t = absl::ToDoubleSeconds(t);
    row.phase = phase ? phase->name : "";
    row.load_rps = rps[i];
    row.desired = s.desired_replicas;
    row.ready = s.ready_replicas;
    row.pods = static_cast<int>(s.pods.size());
    row.queue = s.queue_length;
    row.needed = Needed(sc, modes[i], s, sc.LoadAt(t));
    row.demand = kNaN;
    row.utilization = kNaN;
    if (dt > 0 && !previous_.empty()) {
      const SimService& p = previous_[i];
      if (modes[i].model == ModelKind::kCpu) {
        row.demand = (s.cpu_seconds - p.cpu_seconds) / dt;
        if (s.ready_replicas > 0 && s.cpu_request > 0) {
          row.utilization = 100 * row.demand / (s.ready_replicas * s.cpu_request);
        }
      } else {
        row.demand = (s.concurrency_seconds - p.concurrency_seconds) / dt;
        if (s.ready_replicas > 0) {
          row.utilization = 100 * row.demand / (s.ready_replicas * InFlightTarget(modes[i].model));
        }
      }
    }
    Action a = autoscalers_[i]->Step(step, now, state->time_seconds, s);
    if (a.acted) {
      row.decision = a.note;
      if (a.ok) last_observed_[i] = a.observed;
      if (a.ok && a.replicas != s.desired_replicas) {
        if (absl::Status st = sim_.SetReplicas(modes[i].name, a.replicas); !st.ok()) return st;
        row.set_replicas = a.replicas;
      }
      if (!a.ok) row.decision = absl::StrCat("error: ", a.note);
    }
    row.observed = last_observed_[i];
    rows_[i].push_back(std::move(row));
  }
  previous_ = services;
  last_ = services;
  last_sim_seconds_ = state->time_seconds;
  return absl::OkStatus();
}

std::vector<std::string> ClosedLoop::States() const {
  std::vector<std::string> out;
  for (const auto& a : autoscalers_) out.push_back(a->State());
  return out;
}

std::vector<ModeSummary> ClosedLoop::Summarize() const {
  const Scenario& sc = options_.scenario;
  std::vector<ModeSummary> out;
  const double burst = absl::ToDoubleSeconds(sc.PhaseStart("burst"));
  const double steady = absl::ToDoubleSeconds(sc.PhaseStart("steady"));
  const double drop = absl::ToDoubleSeconds(sc.PhaseStart("drop"));
  for (size_t i = 0; i < options_.modes.size(); ++i) {
    ModeSummary m;
    m.mode = options_.modes[i];
    if (first_.empty() || rows_[i].empty()) {
      out.push_back(m);
      continue;
    }
    const SimService& a = first_[i];
    const SimService& b = last_[i];
    m.needed = Needed(sc, m.mode, a, sc.PhaseMaxLoad("burst"));
    m.pod_seconds = b.pod_seconds - a.pod_seconds;
    m.arrived = b.arrived - a.arrived;
    m.dropped = b.dropped - a.dropped;
    m.queued_share = m.arrived > 0 ? static_cast<double>(b.queued - a.queued) / m.arrived : 0;
    if (m.mode.from_zero) {
      if (b.first_arrival_seconds >= 0 && b.first_ready_seconds >= b.first_arrival_seconds) {
        m.first_ready = b.first_ready_seconds - b.first_arrival_seconds;
      }
      if (!b.first_waits.empty()) {
        std::vector<double> waits = b.first_waits;
        std::sort(waits.begin(), waits.end());
        m.first_waits_count = static_cast<int>(waits.size());
        m.first_wait_max = waits.back();
        m.first_wait_median = waits[(waits.size() - 1) / 2];
      }
    }
    if (m.mode.model == ModelKind::kLlm && !at_burst_.empty()) {
      m.ttft_p95 = TtftQuantile(0.95, at_burst_[i], at_drop_.empty() ? b : at_drop_[i]);
    }
    int last_direction = 0;
    for (const Row& r : rows_[i]) {
      const int replicas = r.set_replicas >= 0 ? r.set_replicas : r.desired;
      m.peak = std::max(m.peak, replicas);
      if (r.decision.rfind("error", 0) == 0) ++m.decisions_failed;
      if (m.time_to_capacity < 0 && r.t >= burst && r.ready >= m.needed) {
        m.time_to_capacity = r.t - burst;
      }
      if (r.t >= steady && r.t < drop) {
        m.steady_end_replicas = replicas;
        if (r.set_replicas >= 0) {
          const int direction = r.set_replicas > r.desired ? 1 : -1;
          if (last_direction != 0 && direction != last_direction) ++m.steady_direction_changes;
          last_direction = direction;
        }
      }
    }
    // Back to min: the first step after the drop from which the replicas stay at min.
    const int min_replicas = ModeMinReplicas(m.mode, sc);
    for (auto it = rows_[i].rbegin(); it != rows_[i].rend(); ++it) {
      const int replicas = it->set_replicas >= 0 ? it->set_replicas : it->desired;
      if (it->t < drop || replicas != min_replicas) break;
      m.back_to_min = it->t - drop;
    }
    out.push_back(m);
  }
  return out;
}

}  // namespace aa::closedloop
