#pragma once
// The sampler: the only component that talks to Prometheus on the serving path.
//
// Contract:
// - One batched query per metric definition per round (every `sampling.interval`), restricted to
// the namespaces
//   somebody asked for within `sampling.demand_ttl` (plus `warm_namespaces`), grouped by namespace
//   and pod. A metric nobody asked for costs Prometheus nothing.
// - Every query of a round is evaluated at the round's EvaluationTime() (the interval's boundary at
//   or before the round's start), also a first sample's round between two boundaries; a table's
//   sampled_at is that time, and its age (maxAge) counts from it. Periodic rounds start a little
//   after each boundary (a tenth of the interval, at most 1 s, so the scrapes stamped just before
//   it are in Prometheus).
// - The first Read() of a (metric, namespace) the sampler does not know yet asks for an immediate
// sample and waits
//   for it (up to `first_sample_timeout`); concurrent first reads of the same key share that one
//   query.
// - Results are published as immutable Snapshots; readers never wait on Prometheus otherwise.
// - A failed query keeps the last good table; values older than `max_age` are refused by Read(),
// never served.
// - One failing metric never stops the others, and one slow metric does not delay them: a round's
//   queries (one task per metric or selector variant, with its chunks and baseline) run up to
//   `max_concurrent_queries` at once on a pool of that many threads; the round still publishes
//   one snapshot once all have answered. 1 runs them one after another on the sampling thread.
// - Demand is bounded (sampling.* in config.h): a namespace nobody demands yet becomes demand only
//   if it exists (the pod source has pods in it, or it is among the values Prometheus has for the
//   metric's namespace label, re-read at most once per `namespace_check_interval`); a namespace
//   that does not exist reads as an empty table without any query. New namespaces take a token
//   from a bucket (`new_namespaces_per_second`, `new_namespace_burst`) and at most
//   `max_namespaces` are demanded at once; beyond either a new namespace is refused (Unavailable,
//   Why kDemandLimit) while demanded ones keep being served. Each metric's query names at most
//   `max_namespaces_per_query` namespaces in at most `max_matcher_bytes` of regex (more are split
//   over several queries evaluated at the same time), or has no namespace matcher when most of
//   the known namespaces are demanded. Selector variants beyond kMaxSelectorVariants per
//   definition evict the least recently asked for one.
// - A panic-aware definition's windows for the namespaces demanded at start (warm ones) are filled
//   from Prometheus by the first round, before it reports ready (FillPanicWindows).
// - Reload() swaps in a reloaded configuration's definitions and sampling durations (see there).
// Thread-safe. Start() runs the sampling thread; Stop() (or the destructor) ends it.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/task_pool.h"
#include "config/config.h"
#include "pipeline/metric_set.h"
#include "pipeline/snapshot.h"
#include "pipeline/why.h"
#include "prometheus/backends.h"
#include "prometheus/client.h"

namespace prometheus {
class Registry;
}

namespace aa::pipeline {

class SamplerMetrics;
class PanicWindows;
class PodLabelSource;

// The instant a round run at `now` evaluates its queries at: the last boundary of `interval` at or
// before `now`, boundaries being the multiples of `interval` since the Unix epoch (UTC), i.e.
// floor(now / interval) * interval. Two replicas reading one Prometheus thus ask for the same
// instants and serve the same values and timestamps. `now` itself when `interval` is not positive.
absl::Time EvaluationTime(absl::Time now, absl::Duration interval);

// A fresh table for one (metric, namespace), with the snapshot it came from (which keeps it alive).
struct MetricRead {
  std::shared_ptr<const MetricSet> metrics;              // keeps `definition` alive
  const config::MetricDefinition* definition = nullptr;  // owned by `metrics`
  std::shared_ptr<const Snapshot> snapshot;
  const MetricTable* table = nullptr;  // never null in a successful read
  absl::Duration age;                  // now - table->sampled_at
  // Set when `table` is not in `snapshot` (the empty table of a namespace that does not exist).
  std::shared_ptr<const MetricTable> own_table;
};

class Sampler {
 public:
  // `client` and `clock` must outlive the sampler. `registry` (may be null) receives the sampler's
  // self-metrics. `client` is the backend named default (the only one).
  Sampler(const config::Config& config, prom::Client& client, Clock& clock,
          prometheus::Registry* registry);
  // Several backends: each definition is queried through its backend (MetricDefinition::backend),
  // the pod labels through config.pod_labels.backend, and the namespace check asks each backend in
  // use for its own namespace labels. A definition whose backend `backends` lacks fails its queries
  // (NotFound). The clients must outlive the sampler.
  Sampler(config::Config config, prom::Backends backends, Clock& clock,
          prometheus::Registry* registry);
  ~Sampler();
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  // Optional: take the pod-label index from `source` (the Kubernetes pod watch) instead of the
  // kube_pod_labels query, for every namespace it can answer for (kube_pod_labels, when enabled,
  // still covers the rounds before the source has synced). `source` must outlive the sampler. Call
  // before Start().
  void SetPodLabelSource(PodLabelSource* source) { pod_source_ = source; }
  // The source set above, or null.
  PodLabelSource* pod_label_source() const { return pod_source_; }

  void Start();
  // Stops the sampling thread; pending first reads fail with Unavailable. Idempotent.
  void Stop();

  // Returns the current table of `metric` (for `resource`, default pods) in namespace `ns`,
  // recording the demand. Cluster-scoped definitions (namespace_label "") take ns "".
  // `extra_matchers` (comma-joined PromQL label matchers the caller built safely, e.g. from a
  // metricLabelSelector with selector::ToPromQLMatchers) selects a variant of the metric: sampled
  // and cached on its own, with the matchers put first in <<.LabelMatchers>>; at most
  // kMaxSelectorVariants live variants per definition (a new one evicts the least recently asked
  // for).
  // A namespace that does not exist (see the contract above) reads as an empty table.
  // `ns` kAllNamespaces (namespaced definitions other than external ones) reads every namespace
  // at once: one table (rows "<namespace>/<pod>", snapshot.h) from one query per round without a
  // namespace matcher, which also serves the namespaces demanded one by one; it is one key of
  // demand (expiring as any), not a namespace: it takes no namespace check, no token and no room
  // under max_namespaces.
  // Errors: NotFound for an unknown metric; Unavailable when there is no value younger than max_age
  // (the message gives the last good sample time and the last Prometheus error) or the first sample
  // did not arrive in time, or the namespace is new and refused (Why kDemandLimit), or whether it
  // exists could not be checked (Why kBackendFailed).
  absl::StatusOr<MetricRead> Read(std::string_view metric, std::string_view ns,
                                  const config::MetricResource& resource = {},
                                  std::string_view extra_matchers = "");
  static constexpr size_t kMaxSelectorVariants = 64;

  // As Read(), but never waits: without a slot for the key yet, demands its first sample and
  // returns Unavailable (Why kNotSampledYet) at once.
  absl::StatusOr<MetricRead> ReadNow(std::string_view metric, std::string_view ns,
                                     const config::MetricResource& resource = {},
                                     std::string_view extra_matchers = "");
  // As Read(), but instead of waiting calls `done` with Read()'s answer: at once (on the caller's
  // thread) when Read() would not wait, else on the sampling thread after the publication that
  // holds the slot, or with Read()'s timeout error once `first_sample_timeout` of real time passed
  // or the sampler stopped. `done` must be quick and must not call Read().
  using ReadDone = std::function<void(absl::StatusOr<MetricRead>)>;
  void ReadWhenSampled(std::string_view metric, std::string_view ns,
                       const config::MetricResource& resource, std::string_view extra_matchers,
                       ReadDone done);

  // Whether the latest snapshot holds a slot (a table or an error) for what Read() with the same
  // arguments would return, i.e. whether that Read() answers without waiting for a first sample.
  // Records no demand. False for an unknown metric or an invalid namespace (Read() answers those at
  // once too, with an error).
  bool HasSlot(std::string_view metric, std::string_view ns,
               const config::MetricResource& resource = {},
               std::string_view extra_matchers = "") const;

  // The definitions served now (never null).
  std::shared_ptr<const MetricSet> metrics() const;

  // KEDA ad-hoc queries: registers `def` (a trigger's own PromQL, `adhoc` set; its name, resource
  // and labels are set here) and returns the name to read it by, with resource
  // config::MetricResource::KedaAdhoc() and namespace "" (cluster-scoped). The same (backend,
  // query, query_options.params, query_options.headers) gets the same name while it lives (the
  // first registration's timeout stays); each is sampled once per round like any definition,
  // with the query as written and its options. A definition nobody read or registered again
  // within demand_ttl is dropped with its table. Ad-hoc definitions are kept apart from
  // metrics(): no listing or other API sees them. ResourceExhausted (nothing is queried) when
  // keda.adhocQueries.max of them live already. Thread-safe.
  absl::StatusOr<std::string> DefineAdhoc(config::MetricDefinition def);
  // Ad-hoc definitions live now.
  size_t adhoc_queries() const;

  // Replaces the discovered definitions (from RuleDiscovery) and marks discovery as done once.
  // Tables of definitions that disappeared are dropped at the next round.
  void SetDiscoveredMetrics(std::vector<config::MetricDefinition> discovered);

  // Applies a reloaded configuration (validated like the one the sampler started with): its
  // `metrics:` definitions and its sampling.interval, maxAge, demandTTL and firstSampleTimeout.
  // Every other setting stays as the sampler started (config()). metrics() serves the new
  // definitions at once (a removed one reads as NotFound); the discovered definitions stay until
  // the next SetDiscoveredMetrics. A definition with the same Key() and content keeps its tables,
  // demand and panic windows; a changed one (same Key(), other content) starts afresh: the next
  // round, which comes at once when somebody demands it, drops its tables and windows and samples
  // it again for the namespaces that demand it. Tables of removed definitions go at the next round.
  void Reload(const config::Config& next);

  // The latest published snapshot (never null).
  std::shared_ptr<const Snapshot> snapshot() const;

  // Ready once every metric definition has had one successful query (or the config says not to
  // wait). When no namespace is demanded or warm, one successful probe query to Prometheus counts.
  // A successful query counts whether or not it returned series: readiness is about reaching
  // Prometheus, not about the workload having data. With rules, also waits for the first discovery.
  bool Ready() const { return ReadyStatus().ok(); }
  // OK when Ready(), else Unavailable saying what it waits for (and the last Prometheus error).
  absl::Status ReadyStatus() const;
  // One backend's readiness: OK once it answered a query successfully; else Unavailable with its
  // last error. With several backends, each one that has not answered yet is probed (vector(1))
  // every round, so a backend nothing queries yet is checked too. NotFound for an unknown name.
  absl::Status BackendReadyStatus(std::string_view backend) const;

  // The backends (never empty).
  const prom::Backends& backends() const { return backends_; }

  // The configuration the sampler started with. Reload() changes metrics() and the durations
  // (interval(), max_age()...), not this.
  const config::Config& config() const { return config_; }
  // The sampling durations in force (the config's, or the last Reload()'s).
  absl::Duration interval() const { return interval_.Get(); }
  absl::Duration max_age() const { return max_age_.Get(); }
  absl::Duration demand_ttl() const { return demand_ttl_.Get(); }
  absl::Duration first_sample_timeout() const { return first_sample_timeout_.Get(); }

  // Called after every publication with the new snapshot, on the sampling thread; must be quick and
  // must not call back into the sampler's blocking methods. Returns an id for Unsubscribe.
  using Listener = std::function<void(const std::shared_ptr<const Snapshot>&)>;
  uint64_t Subscribe(Listener listener);
  void Unsubscribe(uint64_t id);

  // Test hooks: wake the sampling thread (after advancing a SimulatedClock), and wait until a
  // snapshot with a generation >= `generation` is published (or `timeout` of real time passes;
  // returns whether it was).
  void Wake();
  bool WaitForGeneration(uint64_t generation, absl::Duration timeout);

  // Refreshes the self-metric gauges (snapshot age per metric, series held, demanded namespaces);
  // called before /metrics is served.
  void UpdateGauges();

  // Namespaces demanded now (warm ones included).
  size_t demanded_namespaces() const;

 private:
  struct Demand;
  enum class ReadMode { kWait, kNow, kNotify };
  // A ReadWhenSampled() caller waiting for the first sample of `key`.
  struct Waiter {
    static constexpr uint64_t kNoCheck = ~uint64_t{0};
    SlotKey key;
    // Not kNoCheck: waits for the namespace check after this many (then asks again).
    uint64_t checks_seen = kNoCheck;
    std::string metric;  // as asked for
    config::MetricResource resource;
    std::chrono::steady_clock::time_point deadline;
    absl::Status timeout_error;
    ReadDone done;
  };
  // kNotify takes `*done` (leaving it empty) when the answer has to wait.
  absl::StatusOr<MetricRead> ReadImpl(std::string_view metric, std::string_view ns,
                                      const config::MetricResource& resource,
                                      std::string_view extra_matchers, ReadMode mode,
                                      ReadDone* done);
  // Answers the waiters whose slot is published, or whose time is up (all once stopping).
  void FireWaiters();
  void Run();
  // One round: urgent keys first, then (if due) every demanded metric. Publishes one snapshot if
  // anything ran.
  void RunRound(bool periodic);
  // Queries `def` for `namespaces` (in chunks, or once without a namespace matcher) and folds the
  // outcome into `next`.
  void SampleMetric(const config::MetricDefinition& def, const std::vector<std::string>& namespaces,
                    const std::string& extra_matchers, Snapshot* next);
  // One query (and its baseline) for `namespaces` at `at`; `all_namespaces` leaves the namespace
  // matcher out, and `whole` (with it) also makes the kAllNamespaces table of every series.
  absl::Status SampleChunk(const config::MetricDefinition& def,
                           const std::vector<std::string>& namespaces,
                           const std::string& extra_matchers, bool all_namespaces, absl::Time at,
                           Snapshot* next, bool whole = false);
  // The first round, before its queries: the panic windows of each panic-aware definition's
  // namespaces demanded at start (the warm ones) get the history a sampler that ran all along has,
  // from one range query per definition over its stable window (steps at the interval's boundaries
  // before the round's time; PanicWindows::Seed). A failed one is logged; those windows start
  // empty.
  void FillPanicWindows(const MetricSet& set);
  // Records the outcome of one definition's (or variant's) round: readiness, failure logging.
  void FinishMetric(const config::MetricDefinition& def,
                    const std::pair<std::string, std::string>& variant, const absl::Status& status);
  // `namespaces` split as sampling.maxNamespacesPerQuery and maxMatcherBytes allow (every query
  // naming namespaces is chunked so: metrics, baselines, pod labels, the panic windows' fill).
  std::vector<std::vector<std::string>> NamespaceChunks(
      const std::vector<std::string>& namespaces) const;
  // `all_namespaces`: one query without a namespace matcher (tables still only for `namespaces`);
  // else one query per chunk (NamespaceChunks).
  void SamplePodLabels(const std::vector<std::string>& namespaces, Snapshot* next,
                       bool all_namespaces = false);
  void Publish(const std::shared_ptr<Snapshot>& next);
  // `all_namespaces`: `ns_label!=""` instead of naming `namespaces`.
  // Definitions from prometheus-adapter rules run their Go template (which can fail: index out of
  // range...: InvalidArgument naming the rule); the others are rendered by replacement.
  absl::StatusOr<std::string> RenderQuery(const std::string& tmpl,
                                          const config::MetricDefinition* def,
                                          const std::vector<std::string>& namespaces,
                                          const std::string& extra_matchers,
                                          bool all_namespaces = false) const;
  // Re-reads the namespaces each backend has for every namespace label in use there (sampling
  // thread).
  void CheckNamespaces(const MetricSet& set);
  enum class Exists { kYes, kNo, kCheck, kFailed };
  // Whether `ns` exists for `def`'s namespace label in its backend; `has_pods` from the pod
  // source. Needs mu_.
  Exists NamespaceExists(const config::MetricDefinition& def, const std::string& ns, bool has_pods,
                         absl::Time now) const;
  // The last namespace check's outcome for `backend` (OK when none). Needs mu_.
  const absl::Status& CheckError(const std::string& backend) const;
  // Whether `demanded` namespaces are at least sampling.wholeClusterPercent of those the last
  // good namespace check found for `label` in `backend` (then one query without a namespace
  // matcher replaces the chunks). Needs mu_.
  bool WholeClusterPays(const std::string& backend, const std::string& label,
                        size_t demanded) const;
  // Whether this round needs Prometheus' namespace list first: some query of `work` (or the pod
  // labels' of `namespaces`) would be chunked, wholeClusterPercent could replace the chunks, and
  // the list is missing or older than sampling.namespaceCheckInterval. Demand that never asked
  // for an unknown namespace (warm namespaces, namespaces with pods in the pod source) would
  // otherwise never fetch it.
  bool NamespaceListWanted(
      const std::map<std::pair<std::string, std::string>, std::vector<std::string>>& work,
      const MetricSet& set, const MetricSet& adhoc, const std::set<std::string>& namespaces,
      absl::Time now) const;
  // Queries through `backend`'s client, noting the outcome for BackendReadyStatus(). With `visit`,
  // an instant vector's elements go to it as they are parsed (prom::Client::QueryEach: discard
  // them on an error).
  absl::StatusOr<prom::QueryResult> QueryBackend(const std::string& backend,
                                                 const std::string& promql, absl::Time at,
                                                 const prom::QueryOptions& options = {},
                                                 std::optional<prom::SampleVisitor> visit = {});
  void NoteBackend(const std::string& backend, const absl::Status& status);
  // Admits new namespace `ns` (ceiling, token bucket) or says why not. Needs mu_.
  absl::Status AdmitNamespace(const config::MetricDefinition& def, std::string_view ns,
                              absl::Time now);
  // demand_ changes, keeping ns_demand_ in step. Need mu_. EraseDemand appends a namespace nobody
  // demands any more to forgotten_.
  void AddDemand(const SlotKey& key, absl::Time now);
  std::map<SlotKey, absl::Time>::iterator EraseDemand(std::map<SlotKey, absl::Time>::iterator it);
  // The read of namespace `ns` that does not exist: an empty table as of the last check. Needs mu_.
  MetricRead AbsentRead(std::shared_ptr<const MetricSet> set, const config::MetricDefinition* def,
                        std::string_view ns, absl::Time now) const;
  absl::Status Freshness(const config::MetricDefinition& def, std::string_view ns, const Slot* slot,
                         absl::Time now) const;
  // The set holding `resource`'s definitions (the ad-hoc one for KedaAdhoc()), and `metric` in it
  // (null when unknown).
  std::pair<std::shared_ptr<const MetricSet>, const config::MetricDefinition*> Lookup(
      const config::MetricResource& resource, std::string_view metric) const;
  // Ad-hoc definitions nobody asked for within demand_ttl leave the ad-hoc set; returns their
  // keys. Needs mu_.
  std::vector<std::string> ExpireAdhoc(absl::Time now);

  // A duration read without the lock (Reload() may change it).
  class AtomicDuration {
   public:
    explicit AtomicDuration(absl::Duration d) : ns_(absl::ToInt64Nanoseconds(d)) {}
    absl::Duration Get() const { return absl::Nanoseconds(ns_.load(std::memory_order_relaxed)); }
    void Set(absl::Duration d) {
      ns_.store(absl::ToInt64Nanoseconds(d), std::memory_order_relaxed);
    }

   private:
    std::atomic<int64_t> ns_;
  };

  const config::Config config_;
  AtomicDuration interval_;
  AtomicDuration max_age_;
  AtomicDuration demand_ttl_;
  AtomicDuration first_sample_timeout_;
  prom::Backends backends_;
  Clock& clock_;
  PodLabelSource* pod_source_ = nullptr;
  std::unique_ptr<SamplerMetrics> metrics_;
  std::unique_ptr<PanicWindows> panic_windows_;  // windows panic-aware metrics' tables

  mutable std::mutex mu_;
  std::condition_variable cv_;            // wakes the sampling thread
  std::condition_variable published_cv_;  // wakes readers waiting for a publication
  std::shared_ptr<const Snapshot> snapshot_;
  std::shared_ptr<const MetricSet> metric_set_;
  bool discovered_ = false;  // SetDiscoveredMetrics ran once
  // KEDA ad-hoc definitions (DefineAdhoc): their set, and per identity (backend, query,
  // parameters, headers) the name and the last registration.
  std::shared_ptr<const MetricSet> adhoc_set_;
  struct Adhoc {
    std::string name;
    absl::Time touched;
  };
  std::map<std::string, Adhoc> adhoc_;
  uint64_t next_adhoc_ = 0;
  // Reload(): definitions changed since the last round, whose tables and windows the next round
  // drops; the `metrics:` definitions for the panic windows (set when a reload is pending).
  std::set<std::string> reset_;
  std::optional<std::vector<config::MetricDefinition>> reloaded_;
  std::map<SlotKey, absl::Time> demand_;  // last time somebody asked
  std::set<SlotKey> urgent_;              // waiting for their first sample
  std::set<SlotKey> in_round_;            // sampled by the round under way (until it publishes)
  std::vector<Waiter> waiters_;           // ReadWhenSampled() callers
  std::set<std::string> ever_succeeded_;  // metric keys with at least one successful query
  // (metric key, variant matchers) whose last query failed (logged on change only).
  std::set<std::pair<std::string, std::string>> failing_;
  // Bounded demand (guarded by mu_).
  std::map<std::string, size_t> ns_demand_;  // namespace -> demand_ keys naming it
  double tokens_ = 0;                        // new-namespace token bucket
  absl::Time tokens_at_;
  // (backend, namespace label) -> that backend's values.
  std::map<std::pair<std::string, std::string>, std::set<std::string>> known_ns_;
  absl::Time checked_at_ = absl::InfinitePast();     // the last namespace check
  std::map<std::string, absl::Status> check_error_;  // its outcome per backend
  // Per backend: answered a query once; the last failed query's error.
  std::set<std::string> backend_answered_;
  std::map<std::string, absl::Status> backend_error_;
  uint64_t checks_ = 0;  // namespace checks so far
  bool check_wanted_ = false;
  std::set<SlotKey> evicted_;  // selector variants evicted, whose slots go at the next round
  std::vector<std::string> forgotten_;  // namespaces nobody demands any more (for pod_source_)
  // First requests of namespaces waiting for the next namespace check (at most
  // new_namespace_burst): admitted or dropped by the round that checks.
  std::map<SlotKey, absl::Time> candidates_;
  // The current round's evaluation time (EvaluationTime of its start; set by the sampling thread
  // before the round's queries run), its queries and chunks (counted by its concurrent queries).
  absl::Time round_at_;
  bool windows_filled_ = false;  // FillPanicWindows ran
  std::atomic<int> round_queries_ = 0;
  std::atomic<int> round_chunks_ = 0;
  // Runs a round's queries, up to sampling.maxConcurrentQueries at once (sampling thread; created
  // by the first round, ended by Stop()).
  std::unique_ptr<TaskPool> queries_;
  std::mutex next_mu_;  // guards the round's next snapshot while its queries fold their tables
  bool probe_succeeded_ = false;
  absl::Status last_query_error_;  // the last failed query to Prometheus (for ReadyStatus)
  bool wake_ = false;
  bool stopping_ = false;
  absl::Time next_round_ = absl::InfinitePast();
  std::mutex
      listeners_mu_;  // held while listeners run, so Unsubscribe() returns only after its last call
  std::map<uint64_t, Listener> listeners_;
  uint64_t next_listener_id_ = 1;
  std::thread thread_;
};

}  // namespace aa::pipeline
