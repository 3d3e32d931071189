#include "pipeline/panic_windows.h"

#include <algorithm>
#include <limits>

#include "absl/synchronization/mutex.h"

namespace aa::pipeline {
namespace {

// kube_pod_labels' sanitized name of serving.kserve.io/inferenceservice.
constexpr std::string_view kInferenceServiceLabelKey = "serving_kserve_io_inferenceservice";

std::string WorkloadName(const Snapshot& snapshot, std::string_view ns, std::string_view pod) {
  const prom::Labels* labels = snapshot.FindPodLabels(ns, pod);
  if (labels == nullptr) return "";
  return std::string(prom::LabelValue(*labels, kInferenceServiceLabelKey));
}

}  // namespace

PanicWindows::PanicWindows(const config::Config& config) { SetDefinitions(config.metrics, {}); }

bool PanicWindows::empty() const {
  absl::MutexLock lock(&mu_);
  return definitions_.empty();
}

void PanicWindows::SetDefinitions(const std::vector<config::MetricDefinition>& definitions,
                                  const std::set<std::string>& changed) {
  absl::MutexLock lock(&mu_);
  definitions_.clear();
  for (const config::MetricDefinition& def : definitions) {
    const bool utilization = def.target_utilization.has_value() && !def.baseline_query.empty();
    if (def.panic.has_value() && (def.target.has_value() || utilization) &&
        def.resource.is(config::MetricResource::Kind::kPods)) {
      definitions_.emplace(def.Key(), def);
    }
  }
  // Windows and seeds of changed definitions, or of ones no longer panic-aware, go.
  auto gone = [&](const auto& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return changed.contains(entry.first.metric) || !definitions_.contains(entry.first.metric);
  };
  std::erase_if(states_, gone);
  std::erase_if(seeds_, gone);
}

bool PanicWindows::IsPanicAware(const std::string& key) const {
  absl::MutexLock lock(&mu_);
  return definitions_.contains(key);
}

void PanicWindows::Seed(const SlotKey& key, SeedPoints pods) {
  absl::MutexLock lock(&mu_);
  if (definitions_.contains(key.metric)) seeds_[key] = std::move(pods);
}

void PanicWindows::Apply(Snapshot* snapshot) {
  absl::MutexLock lock(&mu_);
  if (definitions_.empty()) return;
  absl::Time latest = absl::InfinitePast();
  for (auto& [key, slot] : snapshot->slots) {
    if (!slot.table || slot.table->windows) continue;
    // Selector variants are windowed like their definition, each with its own history (their
    // values differ).
    auto def = definitions_.find(key.metric);
    if (def == definitions_.end()) continue;
    SlotState& state = states_[key];
    const absl::Time at = slot.table->sampled_at;
    latest = std::max(latest, at);
    if (auto seed = seeds_.find(key); seed != seeds_.end()) {
      if (state.pods.empty() && state.workloads.empty()) {
        // Replay: one table per time of the seed before this one, pods sorted by name (the map's
        // order).
        std::map<absl::Time, MetricTable> past;
        for (const auto& [pod, points] : seed->second) {
          for (const auto& [t, value] : points) {
            if (t >= at || t <= at - def->second.panic->stable_window) continue;
            MetricTable& table = past[t];
            table.sampled_at = t;
            table.pods.push_back(PodValue{pod, value, 0, false, -1, absl::ToUnixMillis(t), {}});
          }
        }
        for (const auto& [t, table] : past) Window(def->second, key.ns, table, *snapshot, state);
      }
      seeds_.erase(seed);
    }
    slot.table = Window(def->second, key.ns, *slot.table, *snapshot, state);
  }
  for (auto it = seeds_.begin(); it != seeds_.end();) {
    absl::Time newest = absl::InfinitePast();
    for (const auto& [pod, points] : it->second) {
      if (!points.empty()) newest = std::max(newest, points.back().first);
    }
    auto def = definitions_.find(it->first.metric);
    if (def == definitions_.end() || newest <= latest - def->second.panic->stable_window) {
      it = seeds_.erase(it);
    } else {
      ++it;
    }
  }
}

std::shared_ptr<const MetricTable> PanicWindows::Window(const config::MetricDefinition& def,
                                                        std::string_view ns,
                                                        const MetricTable& table,
                                                        const Snapshot& snapshot,
                                                        SlotState& state) {
  const config::PanicConfig& panic = *def.panic;
  const absl::Time at = table.sampled_at;
  const absl::Duration stable_window = panic.stable_window;
  const absl::Duration panic_window = panic.panic_window();

  // Record this round's samples; forget what left the stable window.
  for (const PodValue& p : table.pods) {
    auto& samples = state.pods[p.pod].samples;
    if (!samples.empty() && samples.back().at >= at) continue;  // same round seen twice
    samples.push_back(Sample{at, p.value, p.span_ms});
  }
  for (auto it = state.pods.begin(); it != state.pods.end();) {
    auto& samples = it->second.samples;
    while (!samples.empty() && samples.front().at <= at - stable_window) samples.pop_front();
    if (samples.empty()) {
      it = state.pods.erase(it);
    } else {
      ++it;
    }
  }

  auto windows = std::make_shared<WindowedValues>();
  windows->stable_window = stable_window;
  windows->panic_window = panic_window;
  std::map<std::string, size_t> workload_index;
  // cpu: panic is decided on utilization (value / baseline, in percent) against targetUtilization;
  // pods without a baseline count in no workload total.
  const bool utilization = !def.target.has_value();
  // Per pod: the spans of the stable and the panic means (-1 when the pod has no samples).
  std::vector<std::pair<int64_t, int64_t>> spans;
  std::vector<int> decision_pods;  // per workload
  std::vector<std::pair<double, double>> decision_totals;
  const int64_t rate_ms = absl::ToInt64Milliseconds(def.preset.window);
  for (const PodValue& p : table.pods) {
    PodWindow w;
    w.sampled = p.value;
    double stable_sum = 0, panic_sum = 0;
    const Sample* oldest_stable = nullptr;
    const Sample* oldest_panic = nullptr;
    for (const Sample& sample : state.pods[p.pod].samples) {
      stable_sum += sample.value;
      ++w.stable_samples;
      if (oldest_stable == nullptr) oldest_stable = &sample;
      if (sample.at > at - panic_window) {
        panic_sum += sample.value;
        ++w.panic_samples;
        if (oldest_panic == nullptr) oldest_panic = &sample;
      }
    }
    auto span = [&](const Sample* oldest) -> int64_t {
      if (oldest == nullptr) return p.span_ms;
      const int64_t own = oldest->span_ms >= 0 ? oldest->span_ms : rate_ms;
      return absl::ToInt64Milliseconds(at - oldest->at) + own;
    };
    spans.emplace_back(span(oldest_stable), span(oldest_panic));
    w.stable = w.stable_samples > 0 ? stable_sum / w.stable_samples : p.value;
    w.panic = w.panic_samples > 0 ? panic_sum / w.panic_samples : p.value;
    std::string name = WorkloadName(snapshot, ns, p.pod);
    auto [it, inserted] = workload_index.emplace(name, windows->workloads.size());
    if (inserted) {
      windows->workloads.push_back(WorkloadWindow{name});
      decision_pods.push_back(0);
      decision_totals.emplace_back(0, 0);
    }
    WorkloadWindow& wl = windows->workloads[it->second];
    ++wl.pods;
    wl.stable_total += w.stable;
    wl.panic_total += w.panic;
    if (!utilization) {
      ++decision_pods[it->second];
      decision_totals[it->second].first += w.stable;
      decision_totals[it->second].second += w.panic;
    } else if (p.has_baseline && p.baseline > 0) {
      ++decision_pods[it->second];
      decision_totals[it->second].first += 100 * w.stable / p.baseline;
      decision_totals[it->second].second += 100 * w.panic / p.baseline;
    }
    w.workload = it->second;
    windows->pods.push_back(w);
  }

  scaling::KpaOptions options;
  options.stable_window = stable_window;
  options.panic_window_percentage = panic.panic_window_percentage;
  options.panic_threshold_percentage = panic.panic_threshold_percentage;
  options.target = utilization ? *def.target_utilization : *def.target;
  for (size_t i = 0; i < windows->workloads.size(); ++i) {
    WorkloadWindow& wl = windows->workloads[i];
    auto it = state.workloads.try_emplace(wl.name, options).first;
    scaling::KpaDecision d = it->second.decider.Scale(
        at, decision_pods[i], decision_totals[i].first, decision_totals[i].second);
    it->second.last_seen = at;
    wl.in_panic = d.in_panic;
    wl.panic_since = d.panic_since;
  }
  for (auto it = state.workloads.begin(); it != state.workloads.end();) {
    if (it->second.last_seen <= at - stable_window) {
      it = state.workloads.erase(it);
    } else {
      ++it;
    }
  }

  auto out = std::make_shared<MetricTable>(table);
  for (size_t i = 0; i < out->pods.size(); ++i) {
    const PodWindow& w = windows->pods[i];
    const bool in_panic = windows->workloads[w.workload].in_panic;
    out->pods[i].value = in_panic ? w.panic : w.stable;
    const int64_t span = in_panic ? spans[i].second : spans[i].first;
    out->pods[i].span_ms =
        span < 0
            ? -1
            : static_cast<int32_t>(std::min<int64_t>(span, std::numeric_limits<int32_t>::max()));
  }
  out->windows = std::move(windows);
  return out;
}

}  // namespace aa::pipeline
