#include "pipeline/panic_windows.h"

#include <algorithm>

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
    if (def.panic.has_value() && def.target.has_value() &&
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
            table.pods.push_back(PodValue{pod, value, 0, false, absl::ToUnixMillis(t), {}});
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
    if (!samples.empty() && samples.back().first >= at) continue;  // same round seen twice
    samples.emplace_back(at, p.value);
  }
  for (auto it = state.pods.begin(); it != state.pods.end();) {
    auto& samples = it->second.samples;
    while (!samples.empty() && samples.front().first <= at - stable_window) samples.pop_front();
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
  for (const PodValue& p : table.pods) {
    PodWindow w;
    w.sampled = p.value;
    double stable_sum = 0, panic_sum = 0;
    for (const auto& [t, v] : state.pods[p.pod].samples) {
      stable_sum += v;
      ++w.stable_samples;
      if (t > at - panic_window) {
        panic_sum += v;
        ++w.panic_samples;
      }
    }
    w.stable = w.stable_samples > 0 ? stable_sum / w.stable_samples : p.value;
    w.panic = w.panic_samples > 0 ? panic_sum / w.panic_samples : p.value;
    std::string name = WorkloadName(snapshot, ns, p.pod);
    auto [it, inserted] = workload_index.emplace(name, windows->workloads.size());
    if (inserted) windows->workloads.push_back(WorkloadWindow{name});
    WorkloadWindow& wl = windows->workloads[it->second];
    ++wl.pods;
    wl.stable_total += w.stable;
    wl.panic_total += w.panic;
    w.workload = it->second;
    windows->pods.push_back(w);
  }

  scaling::KpaOptions options;
  options.stable_window = stable_window;
  options.panic_window_percentage = panic.panic_window_percentage;
  options.panic_threshold_percentage = panic.panic_threshold_percentage;
  options.target = *def.target;
  for (WorkloadWindow& wl : windows->workloads) {
    auto it = state.workloads.try_emplace(wl.name, options).first;
    scaling::KpaDecision d = it->second.decider.Scale(at, wl.pods, wl.stable_total, wl.panic_total);
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
    out->pods[i].value = windows->workloads[w.workload].in_panic ? w.panic : w.stable;
  }
  out->windows = std::move(windows);
  return out;
}

}  // namespace aa::pipeline
