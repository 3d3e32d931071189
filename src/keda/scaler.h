#pragma once
// The external scaler's answers, computed from the pipeline's snapshots. No gRPC types: the gRPC
// service (keda/internal/service.h) translates requests into Triggers (keda/metadata.h) and these
// results into messages.
//
// Contract:
// - Resolve(): the trigger's metric in the sampler's CURRENT metric set (`metrics:` definitions and
//   the ones discovered from prometheus-adapter rules, so a metric discovered later is usable
//   without a restart): the trigger's `resource`, else pods when the name has a pods metric, else
//   the name's only resource.
// - Stats(): asks the pipeline's view (metric, resource, namespace, the trigger's labelSelector
//   over the Kubernetes labels of pods or other objects, or as matchers over an external metric's
//   series) and totals the rows selected (the pods, objects or series picked; without a selector
//   every one in the namespace). A first request for a new key waits for one sample, as the
//   pipeline does; StatsWhenSampled() calls back instead of waiting.
// - MetricSpec(): the per-pod target; reads no data unless the target is a percentage of a baseline
//   (cpu). Rule metrics have no target of their own: the trigger must give one.
// - Metrics(): the workload TOTAL over the selected pods (or series, or objects), so KEDA's
//   AverageValue (value / replicas vs per-pod target) gives replicas = ceil(total / target).
// - IsActive(): total > activationThreshold.
// Ad-hoc queries (triggers with KEDA's prometheus scaler keys, Trigger::adhoc) give what KEDA's
// prometheus scaler computes from the same answer, read from the pipeline's shared table of the
// query (View::DefineAdhoc):
//   no element: 0 with ignoreNullValues, else Unavailable ("target may be lost, the result is
//     empty");
//   one element: its value; NaN, +-Inf or no value (a range vector): 0 with ignoreNullValues,
//     else Unavailable;
//   more than one: InvalidArgument ("returned multiple elements": aggregate the query);
//   a scalar or string result, or a query Prometheus refuses: Unavailable naming Prometheus'
//     error (as any failed sample).
// MetricSpec() is the threshold; IsActive(): value > activationThreshold. Before anything is
// read: PermissionDenied when keda.adhocQueries.enabled is false or the query fully matches no
// regex of keda.adhocQueries.allowlist; InvalidArgument when serverAddress names no backend;
// ResourceExhausted beyond keda.adhocQueries.max distinct queries.
// Errors: NotFound for an unknown metric (the message lists the served ones, configured and
// discovered, and says when a discovered metric is no longer served), or for a resource the metric
// is not served for; InvalidArgument for a bad namespace or selector, a name served for several
// resources none of which is pods without `resource`, a selector the resource cannot take, or when
// no target can be determined; Unavailable when the data is older than maxAge, Prometheus is down
// or the first sample did not arrive in time (never a made-up zero). Thread-safe; what the view
// reads must outlive the Scaler.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "keda/metadata.h"
#include "pipeline/view.h"
#include "pipeline/workload.h"
#include "re2/re2.h"

namespace aa::keda {

// A trigger's metric, resolved against the sampler's metric set.
struct ResolvedMetric {
  std::shared_ptr<const pipeline::MetricSet> metrics;  // keeps `definition` alive
  const config::MetricDefinition* definition = nullptr;
  // External metrics: the labelSelector as PromQL matchers over the metric's series ("" = all).
  std::string extra_matchers;
  // Pods and other objects (not external): the selector over their Kubernetes labels ("" = every
  // one). Objects other than pods are picked by the view's object source (the Kubernetes API or
  // kube-state-metrics), as the custom metrics API picks them.
  std::string object_selector;
  // Whether reading asks the object source (objects other than pods selected by labels): such
  // reads may block for the source's time bound, so they run where blocking is bounded.
  bool asks_object_source = false;
  // Ad-hoc queries: the name the pipeline reads it by (`metrics` and `definition` are null).
  std::string adhoc_name;
};

// The aggregate of one trigger's pods, with where it came from.
struct Observation {
  std::shared_ptr<const pipeline::MetricSet> metrics;    // keeps `definition` alive
  const config::MetricDefinition* definition = nullptr;  // owned by `metrics`
  pipeline::WorkloadStats stats;
  uint64_t generation = 0;  // generation of the snapshot the table was read from
};

struct MetricSpecResult {
  std::string metric_name;
  double target = 0;        // per pod, > 0
  int64_t target_size = 1;  // TargetSize(target)
};

struct MetricValueResult {
  std::string metric_name;
  double total = 0;     // sum over the selected pods
  int64_t rounded = 0;  // RoundForKeda(total)
  int pods = 0;
};

class Scaler {
 public:
  explicit Scaler(pipeline::View view);
  ~Scaler() { Stop(); }
  Scaler(const Scaler&) = delete;
  Scaler& operator=(const Scaler&) = delete;

  // The trigger's metric and how to read it; errors as above (NotFound, InvalidArgument).
  absl::StatusOr<ResolvedMetric> Resolve(const Trigger& trigger) const;
  // Whether Stats() would wait for a first sample: the metric resolves, but the latest snapshot has
  // no slot for its (metric, namespace, selector) yet.
  bool WouldWait(const Trigger& trigger) const;
  // Whether reading `trigger` asks the object source (ResolvedMetric::asks_object_source); false
  // when it does not resolve.
  bool AsksObjectSource(const Trigger& trigger) const;
  // Makes the pipeline sample the trigger's (metric, namespace, matchers) if it holds nothing for
  // it yet, without waiting for it (View::SelectNow).
  void Demand(const Trigger& trigger) const;

  absl::StatusOr<Observation> Stats(const Trigger& trigger) const;
  // As Stats, but never waits: FailedPrecondition when the pipeline has no table for (metric,
  // namespace) yet.
  absl::StatusOr<Observation> StatsIfSampled(const Trigger& trigger) const;
  // Calls `done` with Stats()'s answer without waiting: at once when it is ready (or the trigger
  // does not resolve), else on the sampling thread once the first sample is published (or timed
  // out). `done` must be quick. Not for triggers that ask the object source (the answer would
  // ask it on the sampling thread): those get FailedPrecondition. Calls that arrive after Stop()
  // are dropped; answers on the sampling thread run one at a time.
  using ObservationDone = std::function<void(absl::StatusOr<Observation>)>;
  void StatsWhenSampled(const Trigger& trigger, ObservationDone done) const;
  // Drops the answers of StatsWhenSampled() that have not arrived yet; returns once none runs.
  // Idempotent; the destructor calls it.
  void Stop();

  // The answers; each reads Stats() (MetricSpec only for a percentage of a baseline), or takes
  // what StatsWhenSampled() observed.
  absl::StatusOr<MetricSpecResult> MetricSpec(const Trigger& trigger) const;
  absl::StatusOr<MetricSpecResult> MetricSpec(const Trigger& trigger,
                                              const absl::StatusOr<Observation>& obs) const;
  // Whether MetricSpec() reads data (the target is a percentage of a baseline).
  bool SpecReads(const Trigger& trigger) const;
  absl::StatusOr<MetricValueResult> Metrics(const Trigger& trigger) const;
  absl::StatusOr<MetricValueResult> Metrics(const Trigger& trigger,
                                            const absl::StatusOr<Observation>& obs) const;
  absl::StatusOr<bool> IsActive(const Trigger& trigger) const;
  absl::StatusOr<bool> IsActive(const Trigger& trigger,
                                const absl::StatusOr<Observation>& obs) const;

  const pipeline::View& view() const { return view_; }

  // At most this many discovered metrics are remembered to tell "no longer served" from "unknown".
  static constexpr size_t kMaxRemembered = 4096;

 private:
  static pipeline::Question QuestionFor(const Trigger& trigger, const ResolvedMetric& metric);
  absl::StatusOr<Observation> Observe(const Trigger& trigger,
                                      absl::StatusOr<pipeline::Selection> sel) const;
  absl::Status UnknownMetric(const Trigger& trigger, const pipeline::MetricSet& set) const;
  // Checks an ad-hoc trigger against keda.adhocQueries and the backends, and registers its query
  // with the pipeline; returns the name to read it by.
  absl::StatusOr<std::string> DefineAdhoc(const Trigger& trigger) const;
  // The value KEDA's prometheus scaler computes from the query's table.
  absl::StatusOr<Observation> AdhocObservation(const Trigger& trigger,
                                               const pipeline::Selection& sel) const;

  const pipeline::View view_;
  // keda.adhocQueries.allowlist, compiled (checked at config load).
  std::vector<std::unique_ptr<RE2>> allowlist_;
  struct Alive {
    absl::Mutex mu;
    bool alive ABSL_GUARDED_BY(mu) = true;
  };
  const std::shared_ptr<Alive> alive_;  // shared with answers pending on the sampling thread
  // Discovered metrics this scaler resolved once, "<name>" -> "<resource>, from <rule>": an unknown
  // name found here disappeared from discovery.
  mutable absl::Mutex seen_mu_;
  mutable std::map<std::string, std::string, std::less<>> seen_discovered_
      ABSL_GUARDED_BY(seen_mu_);
};

}  // namespace aa::keda
