#pragma once
// The one read path of the pipeline: the frontends (apiserver/, keda/, queryapi/) ask the view a
// typed question and get a typed answer; they never see the sampler. Each frontend only maps its
// wire format to a Question and the Selection (or the error) to its wire format.
//
// A Question names a metric, the resource one value describes, a namespace, and which objects: one
// by name, or every object a Kubernetes label selector picks (pods by the pod-label index in the
// snapshot; other resources by their labels from the ObjectSource), optionally narrowed by PromQL
// matchers over the metric's own series (a metricLabelSelector; sampled as its own variant).
// Pods and containers may also be picked by a Kubernetes field selector over their metadata
// (metadata.name, metadata.namespace; selector/field_selector.h, as metrics-server), and read for
// every namespace at once (Question::all_namespaces: the sampler's one whole-cluster table per
// definition, not one read per namespace, so it costs one query per round however many
// namespaces there are and takes nothing from the per-namespace demand bound).
//
// The answer is a Selection: the table read (definition, snapshot, sample time, panic windows),
// the rows selected, and their totals. An empty selection is an answer, not an error (KEDA serves
// its total, 0; the Kubernetes APIs and the query API answer 404, each in its own words):
// Selection::why_empty says why nothing matched (kNoSuchObject or kNoValue). Errors carry a Why
// (WhyOf) besides their code:
//   kUnknownMetric   NotFound         the metric is not served for the resource
//   kBadQuestion     InvalidArgument  malformed namespace or label selector, or a selection the
//                                     resource cannot take (no object source, unknown resource)
//   kStale           Unavailable      the last good value is older than maxAge (the message gives
//                                     the last sample time and Prometheus' last error)
//   kNotSampledYet   Unavailable      no sample yet (the first sample did not arrive in time, or
//                                     SelectNow() before it)
//   kBackendFailed   Unavailable      Prometheus never answered this table, or the object source
//                                     failed (NotFound when it does not serve the resource), or
//                                     pods are selected by labels while the pod-label source's
//                                     index is stale (PodLabelSource::IndexStatus)
//   kTooManyVariants Unavailable      not returned any more (a new variant evicts the least
//                                     recently used one)
//   kDemandLimit     Unavailable      a new namespace is refused: more new namespaces at once than
//                                     the token bucket allows, or the ceiling of demanded ones
// A namespace that does not exist (sampling.checkNamespaces) reads as an empty table: no error.
// A selection whose total (or baseline total) is not finite (the values overflow a double when
// summed) is never returned: it is an Unavailable kBackendFailed error saying so, so no frontend
// ever turns NaN or Inf into a quantity, a KEDA value or a JSON number.
//
// Reading never blocks a caller that does not want to: Select() may wait for a first sample (as
// Sampler::Read), SelectNow() never does, and SelectWhenSampled() calls back once the answer can
// be given without waiting, so frontends need no threads of their own for first reads.
//
// Thread-safe. The sampler and the object source must outlive the view.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "config/config.h"
#include "pipeline/metric_set.h"
#include "pipeline/snapshot.h"
#include "pipeline/why.h"
#include "pipeline/workload.h"
#include "prometheus/backends.h"

namespace aa::pipeline {

class Sampler;
class ObjectSource;

struct Question {
  std::string metric;               // the served name
  config::MetricResource resource;  // what one value describes; default pods
  std::string ns;                   // ignored for cluster-scoped definitions
  std::optional<std::string> name;  // one object by name; unset: every selected object
  // Kubernetes label selector over the objects ("" = every object): pods by the pod-label index,
  // other resources by the ObjectSource (only for resources FindKubeResource knows).
  std::string label_selector;
  // Comma-joined PromQL matchers over the metric's own series, built safely (e.g.
  // selector::ParseSeriesSelector); "" = every series. Sampled and cached as its own variant.
  std::string series_matchers;
  // A Kubernetes field selector over the objects' metadata (selector::FieldSelector:
  // metadata.name, metadata.namespace, which is "" for cluster-scoped objects); "" = every object.
  // A malformed one or another field is kBadQuestion with upstream's message.
  std::string field_selector;
  // Pods and containers of namespaced definitions other than external ones: every namespace at
  // once (`ns` is ignored); the rows' namespaces are in their names (Selection::Object). Pods are
  // picked by labels from the index of their own namespace.
  bool all_namespaces = false;
};

// The object one row describes: its namespace (the question's, or its own in an all-namespaces
// read; "" for cluster-scoped definitions), its name (pod or other object) and, in per-container
// tables, its container ("" otherwise).
struct RowObject {
  std::string_view ns;
  std::string_view name;
  std::string_view container;
};

struct Selection {
  std::shared_ptr<const MetricSet> metrics;              // keeps `definition` alive
  const config::MetricDefinition* definition = nullptr;  // owned by `metrics`
  std::shared_ptr<const Snapshot> snapshot;              // keeps `table` alive
  const MetricTable* table = nullptr;                    // never null
  absl::Duration age;                                    // now - table->sampled_at
  // The selected rows: indexes into table->pods (and table->windows->pods), ascending.
  std::vector<size_t> rows;
  // Empty `rows` only: kNoSuchObject (nothing has the name or matches the selector) or kNoValue.
  Why why_empty = Why::kOther;
  // Label selection of objects other than pods: the names the object source picked (sorted).
  std::optional<std::vector<std::string>> objects;
  // Pods only: how many pods that exist match the selector (known only with the Kubernetes pod
  // watch as the pod-label source), and whether a named pod exists (the pod-label index has it).
  std::optional<size_t> existing_pods;
  bool named_pod_exists = false;
  // The question's namespace ("" for cluster-scoped definitions) and whether it read every one.
  std::string ns;
  bool all_namespaces = false;

  const config::MetricDefinition& def() const { return *definition; }
  absl::Time sampled_at() const { return table->sampled_at; }
  const PodValue& row(size_t i) const { return table->pods[rows[i]]; }
  // What row(i) describes, split from its name; views into the table.
  RowObject Object(size_t i) const;
  bool Selected(size_t table_index) const;
  // Totals over the rows; `target` / `target_utilization` override the definition's.
  WorkloadStats Stats(std::optional<double> target = std::nullopt,
                      std::optional<double> target_utilization = std::nullopt) const;
};

class View {
 public:
  // `sampler` and `objects` (may be null: no label selection of objects other than pods) must
  // outlive the view.
  explicit View(Sampler& sampler, ObjectSource* objects = nullptr);

  // The metrics served now (never null).
  std::shared_ptr<const MetricSet> metrics() const;
  // The latest snapshot (never null).
  std::shared_ptr<const Snapshot> snapshot() const;
  // The namespaces the pipeline holds a table of `def` for, with the warm namespaces; sorted.
  std::vector<std::string> Namespaces(const config::MetricDefinition& def) const;
  // The pipeline's configuration.
  const config::Config& config() const;
  // The backends the pipeline reads (names and URLs: KEDA's serverAddress must name one).
  const prom::Backends& backends() const;
  // How often rule discovery runs (for messages about metrics that disappeared).
  absl::Duration discovery_interval() const;
  // Whether label selection of objects other than pods is possible, and where the labels come
  // from (for messages).
  ObjectSource* objects() const { return objects_; }

  // The answer; the first question about a (metric, namespace, series matchers) the pipeline does
  // not hold yet waits for its first sample (up to sampling.firstSampleTimeout).
  absl::StatusOr<Selection> Select(const Question& q) const;
  // The answer from the latest snapshot, never waiting: kNotSampledYet (Unavailable) when the
  // pipeline holds nothing for the question yet, which then is sampled at once.
  absl::StatusOr<Selection> SelectNow(const Question& q) const;
  // Whether SelectNow() would answer kNotSampledYet. Records no demand.
  bool Sampled(const Question& q) const;
  // Calls `done` once with Select()'s answer, without waiting: at once (on the caller's thread)
  // when the answer is ready, else on the sampling thread after the publication that holds it (or
  // once the first sample timed out, or the sampler stops). `done` must be quick; questions that
  // select objects other than pods by labels ask the object source there, so ask those with
  // Select() instead.
  using Done = std::function<void(absl::StatusOr<Selection>)>;
  void SelectWhenSampled(Question q, Done done) const;

  // KEDA ad-hoc queries (a trigger's own PromQL): registers `def` with the pipeline
  // (Sampler::DefineAdhoc: bounded, shared by every asker, expiring with its demand) and returns
  // the name to ask for, in a Question with resource config::MetricResource::KedaAdhoc() and
  // namespace "". ResourceExhausted beyond keda.adhocQueries.max.
  absl::StatusOr<std::string> DefineAdhoc(config::MetricDefinition def) const;

  // OK once the pipeline can answer (Sampler::ReadyStatus), else Unavailable saying what it waits
  // for.
  absl::Status ReadyStatus() const;
  // OK unless the pod-label source (the Kubernetes pod watch) reports its index stale: then
  // Unavailable (kBackendFailed) saying why. Select() answers questions that pick pods by labels
  // with it; callers that pick pods by labels from a snapshot themselves check it first.
  absl::Status PodIndexStatus() const;
  // Refreshes the pipeline's self-metric gauges (before /metrics is served).
  void UpdateGauges() const;

  // Called after every publication, on the sampling thread (Sampler::Subscribe).
  using Listener = std::function<void(const std::shared_ptr<const Snapshot>&)>;
  uint64_t Subscribe(Listener listener) const;
  void Unsubscribe(uint64_t id) const;

 private:
  Sampler& sampler_;
  ObjectSource* objects_;
};

}  // namespace aa::pipeline
