#pragma once
// Panic-aware metrics (config::PanicConfig): Knative's stable and panic windows computed in the
// pipeline from its own samples. Concurrency definitions decide panic on value / per-pod target;
// cpu definitions (a baseline and targetUtilization) on value / baseline against the target
// utilization, summed over the workload's pods that have a baseline.
//
// For each panic-aware definition the sampler hands every freshly sampled table to Apply() before
// publishing it. PanicWindows keeps each pod's samples for one stable window, groups the pods into
// workloads (InferenceService label from the pod-label index, else the namespace's remaining pods),
// decides panic per workload with the KPA's rule (scaling::KpaDecider: ceil(panic total / target)
// / pods >= threshold enters or extends panic; it ends once that has not held for a stable window)
// and replaces each pod's value by its stable-window mean, or its panic-window mean while its
// workload panics. The served value's span (PodValue::span_ms) is the time from the oldest sample
// of the mean to the newest plus that oldest sample's own span (its rate window when unknown).
// Every serving path (query API, custom and external metrics, KEDA) reads the table, so all of them
// serve the same windowed value.
//
// Thread-safe (one internal mutex; the sampler calls it from its thread).

#include <deque>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "config/config.h"
#include "pipeline/snapshot.h"
#include "scaling/kpa.h"

namespace aa::pipeline {

class PanicWindows {
 public:
  // Copies `config`'s panic-aware definitions.
  explicit PanicWindows(const config::Config& config);

  // True when no definition is panic-aware (Apply does nothing).
  bool empty() const;

  // A reloaded configuration: serves `definitions`' panic-aware ones from now on. The windows of
  // definitions whose key is in `changed`, or that are no longer panic-aware, start afresh; the
  // others keep theirs.
  void SetDefinitions(const std::vector<config::MetricDefinition>& definitions,
                      const std::set<std::string>& changed);

  // Whether the definition of key `key` (MetricDefinition::Key()) is panic-aware here.
  bool IsPanicAware(const std::string& key) const;

  // History from Prometheus for slot `key` (e.g. a range query over the stable window at the
  // sampling interval's boundaries): each pod's (time, value) points, in time order. The first
  // Apply() that windows a table of that slot while it has no history yet replays the points older
  // than the table, in time order, as if each time had been a round's table (its pod labels taken
  // from that round's snapshot), so the slot serves what a sampler that ran all along serves; a
  // slot with history ignores its seed. Seeds not used within a stable window of their newest point
  // are dropped.
  using SeedPoints = std::map<std::string, std::vector<std::pair<absl::Time, double>>>;
  void Seed(const SlotKey& key, SeedPoints pods);

  // Windows every table of a panic-aware definition in `snapshot` that is not windowed yet (i.e.
  // was sampled in this round), using the table's sampled_at as the time. Forgets pods and
  // workloads not seen for a stable window.
  void Apply(Snapshot* snapshot);

 private:
  struct Sample {
    absl::Time at;
    double value = 0;
    int32_t span_ms = -1;  // PodValue::span_ms of the sample
  };
  struct PodHistory {
    std::deque<Sample> samples;  // oldest first
  };
  struct Workload {
    explicit Workload(const scaling::KpaOptions& options) : decider(options) {}
    scaling::KpaDecider decider;
    absl::Time last_seen = absl::InfinitePast();
  };
  struct SlotState {
    std::map<std::string, PodHistory> pods;
    std::map<std::string, Workload> workloads;
  };

  std::shared_ptr<const MetricTable> Window(const config::MetricDefinition& def,
                                            std::string_view ns, const MetricTable& table,
                                            const Snapshot& snapshot, SlotState& state);

  mutable absl::Mutex mu_;
  std::map<std::string, config::MetricDefinition> definitions_ ABSL_GUARDED_BY(mu_);  // by Key()
  std::map<SlotKey, SlotState> states_ ABSL_GUARDED_BY(mu_);
  std::map<SlotKey, SeedPoints> seeds_ ABSL_GUARDED_BY(mu_);
};

}  // namespace aa::pipeline
