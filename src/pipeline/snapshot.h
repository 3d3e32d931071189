#pragma once
// Immutable tables of sampled values. A Snapshot is never modified after it is published: readers
// hold a shared_ptr to it and need no lock; the sampler builds the next one (sharing unchanged
// tables) and swaps it in.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "pipeline/pod_name.h"
#include "prometheus/types.h"

namespace aa::pipeline {

// One pod's value of one metric, from one query. `pod` is interned (pipeline/pod_name.h): the
// tables of every metric and the pod-label index share each name.
struct PodValue {
  PodName pod;
  double value = 0;  // always finite: NaN and Inf answers are dropped (and counted) by the sampler
  double baseline =
      0;  // the pod's baseline (e.g. CPU request, cores); meaningful only when has_baseline
  bool has_baseline = false;
  // The time between the first and the last sample behind the value, in milliseconds, when the
  // definition has a span_query (rate windows: at most the window; less for a pod whose series is
  // younger than the window); -1 when unknown. metrics.k8s.io reports it as the window.
  int32_t span_ms = -1;
  int64_t timestamp_ms = 0;  // the sample's timestamp as Prometheus returned it
  // External metrics only: the series' labels (without __name__); `pod` is then their text form.
  prom::Labels labels;
};

// Panic-aware definitions (config::PanicConfig): how each served value was computed. One pod's
// windows; `value` in its PodValue is `panic` while its workload is in panic, else `stable`.
struct PodWindow {
  double sampled = 0;  // the value Prometheus returned in this round
  double stable = 0;   // mean of the pod's samples within the stable window
  double panic = 0;    // mean of the pod's samples within the panic window
  int stable_samples = 0;
  int panic_samples = 0;
  size_t workload = 0;  // index into WindowedValues::workloads
};

// A workload of a panic-aware metric: the pods of one InferenceService (pod label
// serving.kserve.io/inferenceservice), or the namespace's pods without that label (name "").
struct WorkloadWindow {
  std::string name;
  int pods = 0;
  double stable_total = 0;  // sum of the pods' stable means
  double panic_total = 0;   // sum of the pods' panic means
  bool in_panic = false;
  absl::Time panic_since = absl::InfinitePast();  // last time the panic threshold was crossed
};

struct WindowedValues {
  absl::Duration stable_window;
  absl::Duration panic_window;
  std::vector<PodWindow> pods;  // parallel to MetricTable::pods
  std::vector<WorkloadWindow> workloads;
};

// All pods of one namespace for one metric, as of one successful query. Empty `pods` is a valid
// answer
// ("Prometheus has no series for this namespace"), distinct from having no table at all.
struct MetricTable {
  std::vector<PodValue> pods;  // sorted by pod name, names unique
  absl::Time sampled_at;       // the evaluation time the query was run at
  int dropped_non_finite = 0;  // series whose value was NaN or +-Inf, left out of `pods`
  // Panic-aware definitions only: the windows behind the values (pipeline/panic_windows.h).
  std::shared_ptr<const WindowedValues> windows;

  // Returns the pod's value or nullptr. O(log n).
  const PodValue* Find(std::string_view pod) const;
};

// One pod's labels (sorted by key) in a PodLabelsTable, shared by the pods whose labels are equal
// (the pods of one workload mostly are): reads as the const prom::Labels it holds ({} when none).
class SharedLabels {
 public:
  SharedLabels() = default;
  SharedLabels(prom::Labels labels);  // NOLINT(google-explicit-constructor): set like prom::Labels
  explicit SharedLabels(std::shared_ptr<const prom::Labels> labels) : labels_(std::move(labels)) {}

  const prom::Labels& get() const;
  operator const prom::Labels&() const { return get(); }  // NOLINT(google-explicit-constructor)
  bool empty() const { return get().empty(); }
  size_t size() const { return get().size(); }
  prom::Labels::const_iterator begin() const { return get().begin(); }
  prom::Labels::const_iterator end() const { return get().end(); }
  friend bool operator==(const SharedLabels& a, const prom::Labels& b) { return a.get() == b; }
  friend bool operator==(const SharedLabels& a, const SharedLabels& b) {
    return a.get() == b.get();
  }

 private:
  std::shared_ptr<const prom::Labels> labels_;
};

// Makes the SharedLabels of one table: equal label sets share one allocation.
class SharedLabelsMaker {
 public:
  SharedLabels Make(prom::Labels labels);

 private:
  absl::flat_hash_map<prom::Labels, std::shared_ptr<const prom::Labels>> seen_;
};

// Kubernetes labels of the pods of one namespace. Two sources:
// - kube_pod_labels (from_kubernetes false): keys are the sanitized label names without the
//   "label_" prefix (serving_kserve_io_inferenceservice); Prometheus drops empty values.
// - the Kubernetes pod watch (from_kubernetes true): keys are the real label keys
//   (serving.kserve.io/inferenceservice), an empty value is a value, and `pods` is exactly the set
//   of pods that exist (as of sampled_at).
struct PodLabelsTable {
  // Labels sorted by key; searchable by any string (PodName::Hash, Eq).
  absl::flat_hash_map<PodName, SharedLabels, PodName::Hash, PodName::Eq> pods;
  absl::Time sampled_at;
  bool from_kubernetes = false;
};

// What the pipeline knows about one (metric, namespace).
struct Slot {
  std::shared_ptr<const MetricTable> table;  // last good table; null until the first success
  absl::Status last_error;                   // status of the last attempt (OK after a success)
  absl::Time last_attempt = absl::InfinitePast();
};

// The namespace of the slot that holds every namespace of a namespaced definition at once (one
// query without a namespace matcher; Sampler::Read): not a valid namespace name, so it never
// collides with one. Its rows are named "<namespace>/<pod>" (per-container tables
// "<namespace>/<pod>/<container>"), sorted and unique like any table's.
inline constexpr std::string_view kAllNamespaces = "*";

// What one slot is about: one metric definition, or one selector variant of it, in one namespace.
struct SlotKey {
  std::string metric;    // config::MetricDefinition::Key()
  std::string matchers;  // a selector variant's PromQL matchers (Sampler::Read's extra_matchers);
                         // "" for the definition itself
  std::string ns;        // "" for a cluster-scoped definition; kAllNamespaces for every namespace

  friend bool operator==(const SlotKey& a, const SlotKey& b) {
    return a.metric == b.metric && a.matchers == b.matchers && a.ns == b.ns;
  }
  friend bool operator<(const SlotKey& a, const SlotKey& b) {
    return std::tie(a.metric, a.matchers, a.ns) < std::tie(b.metric, b.matchers, b.ns);
  }
  template <typename H>
  friend H AbslHashValue(H h, const SlotKey& k) {
    return H::combine(std::move(h), k.metric, k.matchers, k.ns);
  }
};

// One published state of the pipeline.
struct Snapshot {
  uint64_t generation = 0;
  absl::Time published_at = absl::InfinitePast();
  absl::flat_hash_map<SlotKey, Slot> slots;
  absl::flat_hash_map<std::string, std::shared_ptr<const PodLabelsTable>>
      pod_labels;  // by namespace

  const Slot* FindSlot(const SlotKey& key) const;
  // The namespaces (sorted, unique) that hold a slot of the definition keyed `metric_key`
  // (MetricDefinition::Key()) itself, not of its selector variants nor its whole-cluster table
  // (kAllNamespaces). O(slots).
  std::vector<std::string> Namespaces(std::string_view metric_key) const;
  // Labels of one pod, or nullptr when the index has none for it.
  const prom::Labels* FindPodLabels(std::string_view ns, std::string_view pod) const;
};

}  // namespace aa::pipeline
