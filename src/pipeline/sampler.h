#pragma once
// The sampler: the only component that talks to Prometheus on the serving path.
//
// Contract:
// - One batched query per metric definition per round (every `sampling.interval`), restricted to
// the namespaces
//   somebody asked for within `sampling.demand_ttl` (plus `warm_namespaces`), grouped by namespace
//   and pod. A metric nobody asked for costs Prometheus nothing.
// - The first Read() of a (metric, namespace) the sampler does not know yet asks for an immediate
// sample and waits
//   for it (up to `first_sample_timeout`); concurrent first reads of the same key share that one
//   query.
// - Results are published as immutable Snapshots; readers never wait on Prometheus otherwise.
// - A failed query keeps the last good table; values older than `max_age` are refused by Read(),
// never served.
// - One failing metric never stops the others.
// Thread-safe. Start() runs the sampling thread; Stop() (or the destructor) ends it.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "config/config.h"
#include "pipeline/metric_set.h"
#include "pipeline/snapshot.h"
#include "pipeline/why.h"
#include "prometheus/client.h"

namespace prometheus {
class Registry;
}

namespace aa::pipeline {

class SamplerMetrics;
class PanicWindows;
class PodLabelSource;

// A fresh table for one (metric, namespace), with the snapshot it came from (which keeps it alive).
struct MetricRead {
  std::shared_ptr<const MetricSet> metrics;              // keeps `definition` alive
  const config::MetricDefinition* definition = nullptr;  // owned by `metrics`
  std::shared_ptr<const Snapshot> snapshot;
  const MetricTable* table = nullptr;  // never null in a successful read
  absl::Duration age;                  // now - table->sampled_at
};

class Sampler {
 public:
  // `client` and `clock` must outlive the sampler. `registry` (may be null) receives the sampler's
  // self-metrics.
  Sampler(config::Config config, prom::Client& client, Clock& clock,
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
  // kMaxSelectorVariants live variants per definition.
  // Errors: NotFound for an unknown metric; Unavailable when there is no value younger than max_age
  // (the message gives the last good sample time and the last Prometheus error) or the first sample
  // did not arrive in time, or a new variant would exceed the bound.
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

  // Replaces the discovered definitions (from RuleDiscovery) and marks discovery as done once.
  // Tables of definitions that disappeared are dropped at the next round.
  void SetDiscoveredMetrics(std::vector<config::MetricDefinition> discovered);

  // The latest published snapshot (never null).
  std::shared_ptr<const Snapshot> snapshot() const;

  // Ready once every metric definition has had one successful query (or the config says not to
  // wait). When no namespace is demanded or warm, one successful probe query to Prometheus counts.
  // A successful query counts whether or not it returned series: readiness is about reaching
  // Prometheus, not about the workload having data. With rules, also waits for the first discovery.
  bool Ready() const { return ReadyStatus().ok(); }
  // OK when Ready(), else Unavailable saying what it waits for (and the last Prometheus error).
  absl::Status ReadyStatus() const;

  const config::Config& config() const { return config_; }

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

  // Refreshes the self-metric gauges (snapshot age per metric, series held); called before /metrics
  // is served.
  void UpdateGauges();

 private:
  struct Demand;
  enum class ReadMode { kWait, kNow, kNotify };
  // A ReadWhenSampled() caller waiting for the first sample of `key`.
  struct Waiter {
    SlotKey key;
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
  // Queries `def` for `namespaces` and folds the outcome into `next`.
  void SampleMetric(const config::MetricDefinition& def, const std::vector<std::string>& namespaces,
                    const std::string& extra_matchers, Snapshot* next);
  void SamplePodLabels(const std::vector<std::string>& namespaces, Snapshot* next);
  void Publish(const std::shared_ptr<Snapshot>& next);
  std::string RenderQuery(const std::string& tmpl, const config::MetricDefinition* def,
                          const std::vector<std::string>& namespaces,
                          const std::string& extra_matchers) const;
  absl::Status Freshness(const config::MetricDefinition& def, std::string_view ns, const Slot* slot,
                         absl::Time now) const;

  const config::Config config_;
  prom::Client& client_;
  Clock& clock_;
  PodLabelSource* pod_source_ = nullptr;
  std::unique_ptr<SamplerMetrics> metrics_;
  std::unique_ptr<PanicWindows> panic_windows_;  // windows panic-aware metrics' tables

  mutable std::mutex mu_;
  std::condition_variable cv_;            // wakes the sampling thread
  std::condition_variable published_cv_;  // wakes readers waiting for a publication
  std::shared_ptr<const Snapshot> snapshot_;
  std::shared_ptr<const MetricSet> metric_set_;
  bool discovered_ = false;               // SetDiscoveredMetrics ran once
  std::map<SlotKey, absl::Time> demand_;  // last time somebody asked
  std::set<SlotKey> urgent_;              // waiting for their first sample
  std::vector<Waiter> waiters_;           // ReadWhenSampled() callers
  std::set<std::string> ever_succeeded_;  // metric keys with at least one successful query
  // (metric key, variant matchers) whose last query failed (logged on change only).
  std::set<std::pair<std::string, std::string>> failing_;
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
