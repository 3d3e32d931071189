#pragma once
// prometheus-adapter's rule discovery: turns `rules` and `externalRules` into metric definitions by
// asking Prometheus which series exist (`/api/v1/series`, one call per distinct seriesQuery), then
// applying each rule's seriesFilters, name mapping (matches/as) and resource mapping (overrides and
// template). The definitions feed the sampler like `metrics:` entries do.

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "config/config.h"
#include "prometheus/backends.h"
#include "prometheus/client.h"

namespace prometheus {
class Registry;
}

namespace aa::pipeline {

// A Kubernetes resource a series label can stand for. The table is built in: the adapter does not
// ask the API server for its RESTMapper.
struct KubeResource {
  std::string singular;     // "deployment"
  std::string plural;       // "deployments"
  std::string group;        // "apps"; "" for the core group
  std::string kind;         // "Deployment"
  std::string api_version;  // "apps/v1"
  bool namespaced = true;

  // "deployments.apps", or "pods" for the core group: the name in API paths and definitions.
  std::string GroupResource() const { return group.empty() ? plural : plural + "." + group; }
};

// Finds a resource by plural, singular, "plural.group" or "singular.group" (case-insensitive), or
// nullptr. The built-in table holds pods, namespaces, nodes, services, persistentvolumeclaims,
// persistentvolumes, deployments/statefulsets/daemonsets/replicasets (apps), jobs/cronjobs
// (batch), ingresses (networking.k8s.io) and horizontalpodautoscalers (autoscaling).
const KubeResource* FindKubeResource(std::string_view name);
// The built-in table's group resources, comma-separated ("pods, namespaces, ..."), for messages.
std::string KnownResourceNames();

// The definitions one rule yields for the given series (label sets with __name__), in series
// order, one per (metric name, resource). Pure; exposed for tests.
std::vector<config::MetricDefinition> DefinitionsForRule(const config::AdapterRule& rule,
                                                         const std::vector<prom::Labels>& series);

// Runs discovery for a config's rules. Thread-compatible (one caller at a time; the Discoverer
// thread in the adapter).
class RuleDiscovery {
 public:
  // `config` and `client` must outlive this object. `client` is the backend named default.
  RuleDiscovery(const config::Config& config, prom::Client& client, Clock& clock);
  // Each rule's series come from its backend (AdapterRule::backend) in `backends`.
  RuleDiscovery(const config::Config& config, prom::Backends backends, Clock& clock);

  // One pass: one /api/v1/series call per distinct (backend, seriesQuery) over the last discovery
  // interval, through the rule's backend (a backend `backends` lacks is an error of that rule).
  // A failing call keeps the previous definitions of the rules that use it (and is logged), so one
  // failing rule never hides the others. Returns every rule's definitions; (name, resource) pairs
  // already defined by `metrics:` or an earlier rule are left out.
  std::vector<config::MetricDefinition> Run();

  // The error of the last pass per seriesQuery that failed (empty when all succeeded); keyed
  // "<backend> <seriesQuery>" for rules of a backend other than default.
  std::map<std::string, absl::Status> last_errors() const { return last_errors_; }

 private:
  const config::Config& config_;
  prom::Backends backends_;
  Clock& clock_;
  std::vector<std::vector<config::MetricDefinition>> last_good_;  // per rule
  std::map<std::string, absl::Status> last_errors_;
};

class Sampler;
class DiscoveryMetrics;

// Runs RuleDiscovery now and then every `config.discovery_interval` on its own thread, handing the
// definitions to the sampler (which publishes them to the APIs). While a pass finds nothing or has
// errors, the next one comes after at most 10 s. Does nothing without rules.
// Start()/Stop() from one thread; Stop() (or the destructor) joins.
class Discoverer {
 public:
  // `sampler`, `client` and `clock` must outlive this object; the rules are the sampler's config's
  // until Reload(). `registry` (may be null) receives autoscale_adapter_discovery_duration_seconds.
  Discoverer(Sampler& sampler, prom::Client& client, Clock& clock,
             prometheus::Registry* registry = nullptr);
  // With every rule's backend (the clients must outlive this object).
  Discoverer(Sampler& sampler, prom::Backends backends, Clock& clock,
             prometheus::Registry* registry = nullptr);
  ~Discoverer();
  Discoverer(const Discoverer&) = delete;
  Discoverer& operator=(const Discoverer&) = delete;

  void Start();
  void Stop();
  // One discovery pass on the caller's thread (tests; the thread calls it too).
  void RunOnce();
  // A reloaded configuration (after Sampler::Reload): discovers with `next`'s rules (and leaves
  // out its `metrics:`) at once, on the caller's thread, then every discovery interval (the
  // thread starts if it had no rules before; without rules the discovered definitions are gone).
  // Call from the thread that calls Start and Stop.
  void Reload(const config::Config& next);

 private:
  Sampler& sampler_;
  prom::Backends backends_;  // every rule's backend, also for the rules of a reload
  Clock& clock_;
  std::unique_ptr<DiscoveryMetrics> metrics_;
  absl::Mutex run_mu_;  // one pass at a time
  // The rules discovered with: the sampler's config, or the last Reload()'s.
  std::unique_ptr<const config::Config> reloaded_ ABSL_GUARDED_BY(run_mu_);
  std::unique_ptr<RuleDiscovery> discovery_ ABSL_GUARDED_BY(run_mu_);
  bool has_rules_ ABSL_GUARDED_BY(run_mu_);
  absl::Duration interval_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The last pass found definitions and had no errors.
  bool healthy_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace aa::pipeline
