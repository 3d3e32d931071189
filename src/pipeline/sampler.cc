#include "pipeline/sampler.h"

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iterator>
#include <limits>
#include <optional>
#include <span>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "common/log.h"
#include "common/strings.h"
#include "common/time_format.h"
#include "config/go_template.h"
#include "pipeline/panic_windows.h"
#include "pipeline/pod_select.h"
#include "pipeline/pod_source.h"
#include "pipeline/sampler_metrics.h"
#include "pipeline/validation.h"

namespace aa::pipeline {
namespace {

std::chrono::nanoseconds ToChrono(absl::Duration d) {
  if (d < absl::ZeroDuration()) return std::chrono::nanoseconds(0);
  if (d > absl::Hours(1)) d = absl::Hours(1);
  return absl::ToChronoNanoseconds(d);
}

// A stable name for one series of an external metric: its labels, {a="x",b="y"} without the name.
std::string SeriesKey(std::span<const std::pair<std::string_view, std::string_view>> labels) {
  std::string out = "{";
  for (const auto& [name, value] : labels) {
    if (name == "__name__") continue;
    if (out.size() > 1) out += ',';
    absl::StrAppend(&out, ToAbsl(name), "=\"", absl::CHexEscape(ToAbsl(value)), "\"");
  }
  out += '}';
  return out;
}

// Label -> value of comma-joined PromQL matchers `a="x",b=~"y|z"` (as selector::ToPromQLMatchers
// writes them: quoted values, escaped as PromQL strings), for prometheus-adapter's
// LabelValuesByName. Anything else is skipped.
std::map<std::string, std::string> MatcherValues(std::string_view matchers) {
  std::map<std::string, std::string> out;
  size_t i = 0;
  while (i < matchers.size()) {
    size_t op = matchers.find_first_of("=!", i);
    size_t quote = matchers.find('"', i);
    if (op == std::string_view::npos || quote == std::string_view::npos) break;
    std::string name(matchers.substr(i, op - i));
    std::string value;
    size_t j = quote + 1;
    for (; j < matchers.size() && matchers[j] != '"'; ++j) {
      if (matchers[j] == '\\' && j + 1 < matchers.size()) ++j;
      value.push_back(matchers[j]);
    }
    out[std::move(name)] = std::move(value);
    i = matchers.find(',', j);
    if (i == std::string_view::npos) break;
    ++i;
  }
  return out;
}

// Builds the set from the config's definitions followed by `discovered`.
std::shared_ptr<const MetricSet> MakeSet(const std::vector<config::MetricDefinition>& configured,
                                         std::vector<config::MetricDefinition> discovered,
                                         uint64_t version) {
  auto set = std::make_shared<MetricSet>();
  set->version = version;
  set->definitions = configured;
  set->configured = configured.size();
  for (auto& def : discovered) set->definitions.push_back(std::move(def));
  for (size_t i = 0; i < set->definitions.size(); ++i) {
    // The first definition of a key wins.
    if (set->by_key.emplace(set->definitions[i].Key(), i).second) {
      set->by_name[set->definitions[i].name].push_back(i);
    }
  }
  return set;
}

// Splits sorted `namespaces` into runs of at most `max_count` whose regex ("a|b|c") has at most
// `max_bytes` bytes (a namespace name, at most 63 bytes, always fits: max_bytes >= 64).
std::vector<std::vector<std::string>> ChunkNamespaces(const std::vector<std::string>& namespaces,
                                                      size_t max_count, size_t max_bytes) {
  std::vector<std::vector<std::string>> chunks;
  size_t bytes = 0;
  for (const auto& ns : namespaces) {
    if (chunks.empty() || chunks.back().size() >= max_count || bytes + 1 + ns.size() > max_bytes) {
      chunks.emplace_back();
      bytes = ns.size();
    } else {
      bytes += 1 + ns.size();
    }
    chunks.back().push_back(ns);
  }
  return chunks;
}

// Adds the namespaces of the rows of `snapshot`'s whole-cluster tables (kAllNamespaces) to `out`.
void AddWholeClusterNamespaces(const Snapshot& snapshot, std::set<std::string>* out) {
  for (const auto& [key, slot] : snapshot.slots) {
    if (key.ns != kAllNamespaces || !slot.table) continue;
    std::string_view last;
    for (const PodValue& v : slot.table->pods) {
      std::string_view ns = std::string_view(v.pod).substr(0, v.pod.find('/'));
      if (ns != last) out->emplace(ns);
      last = ns;
    }
  }
}

// How long after an interval's boundary its periodic round starts, so that Prometheus has ingested
// the scrapes stamped just before the boundary (a scrape is stamped when it starts and visible when
// it ends): a tenth of the interval, at most 1 s.
absl::Duration SettleDelay(absl::Duration interval) {
  return std::min(interval / 10, absl::Seconds(1));
}

// Prometheus' namespace list covers series seen within this long.
constexpr absl::Duration kNamespaceLookback = absl::Hours(1);

// Ad-hoc definitions' keys (MetricDefinition::Key() of resource KedaAdhoc()) start with this, and
// their self-metrics share one label value (one per query would grow without bound).
constexpr char kAdhocKeyPrefix[] = "keda-adhoc/";
constexpr char kAdhocMetricLabel[] = "keda_adhoc";

bool IsAdhocKey(std::string_view key) { return key.starts_with(kAdhocKeyPrefix); }

// What makes two ad-hoc definitions the same query: the backend, the query, its parameters and
// headers in order, and its timeout (each part length-prefixed, so no two differ only in where
// one part ends).
std::string AdhocIdentity(const config::MetricDefinition& def) {
  const std::string backend =
      def.backend.empty() ? std::string(prom::Backends::kDefault) : def.backend;
  std::string id = absl::StrCat(backend.size(), ":", backend, def.query.size(), ":", def.query);
  for (const auto& [k, v] : def.query_options.params) {
    absl::StrAppend(&id, "p", k.size(), ":", k, v.size(), ":", v);
  }
  for (const auto& [k, v] : def.query_options.headers) {
    absl::StrAppend(&id, "h", k.size(), ":", k, v.size(), ":", v);
  }
  absl::StrAppend(&id, "t", absl::ToInt64Milliseconds(def.query_options.timeout));
  return id;
}

// The canonical name of a backend: "" is the default one.
std::string BackendName(std::string_view backend) {
  return std::string(backend.empty() ? prom::Backends::kDefault : backend);
}

}  // namespace

absl::Time EvaluationTime(absl::Time now, absl::Duration interval) {
  if (interval <= absl::ZeroDuration()) return now;
  return absl::UnixEpoch() + absl::Floor(now - absl::UnixEpoch(), interval);
}

Sampler::Sampler(const config::Config& config, prom::Client& client, Clock& clock,
                 prometheus::Registry* registry)
    : Sampler(config, prom::Backends::Single(client, config.prometheus.url), clock, registry) {}

Sampler::Sampler(config::Config config, prom::Backends backends, Clock& clock,
                 prometheus::Registry* registry)
    : config_(std::move(config)),
      interval_(config_.sampling.interval),
      max_age_(config_.sampling.max_age),
      demand_ttl_(config_.sampling.demand_ttl),
      first_sample_timeout_(config_.sampling.first_sample_timeout),
      backends_(std::move(backends)),
      clock_(clock),
      metrics_(SamplerMetrics::Create(registry)),
      panic_windows_(std::make_unique<PanicWindows>(config_)),
      snapshot_(std::make_shared<Snapshot>()),
      metric_set_(MakeSet(config_.metrics, {}, 1)),
      adhoc_set_(MakeSet({}, {}, 1)) {
  absl::Time now = clock_.Now();
  tokens_ = static_cast<double>(config_.sampling.new_namespace_burst);
  tokens_at_ = now;
  for (const auto& ns : config_.sampling.warm_namespaces) {
    for (const auto& def : config_.metrics) AddDemand(SlotKey{def.Key(), "", ns}, now);
  }
}

void Sampler::AddDemand(const SlotKey& key, absl::Time now) {
  auto [it, inserted] = demand_.insert_or_assign(key, now);
  if (inserted && !key.ns.empty() && key.ns != kAllNamespaces) ++ns_demand_[key.ns];
}

std::map<SlotKey, absl::Time>::iterator Sampler::EraseDemand(
    std::map<SlotKey, absl::Time>::iterator it) {
  if (!it->first.ns.empty() && it->first.ns != kAllNamespaces) {
    auto n = ns_demand_.find(it->first.ns);
    if (n != ns_demand_.end() && --n->second == 0) {
      forgotten_.push_back(n->first);
      ns_demand_.erase(n);
    }
  }
  return demand_.erase(it);
}

size_t Sampler::demanded_namespaces() const {
  std::lock_guard lock(mu_);
  return ns_demand_.size();
}

std::shared_ptr<const MetricSet> Sampler::metrics() const {
  std::lock_guard lock(mu_);
  return metric_set_;
}

void Sampler::SetDiscoveredMetrics(std::vector<config::MetricDefinition> discovered) {
  std::lock_guard lock(mu_);
  const MetricSet& old = *metric_set_;
  metric_set_ = MakeSet({old.definitions.begin(), old.definitions.begin() + old.configured},
                        std::move(discovered), old.version + 1);
  discovered_ = true;
}

absl::StatusOr<std::string> Sampler::DefineAdhoc(config::MetricDefinition def) {
  if (!def.adhoc) return absl::InvalidArgumentError("DefineAdhoc: not an ad-hoc definition");
  std::string id = AdhocIdentity(def);
  const absl::Time now = clock_.Now();
  std::lock_guard lock(mu_);
  if (auto it = adhoc_.find(id); it != adhoc_.end()) {
    it->second.touched = now;
    return it->second.name;
  }
  const size_t max = static_cast<size_t>(config_.keda.adhoc_queries.max);
  if (adhoc_.size() >= max) {
    metrics_->Rejected("adhoc_limit");
    return absl::ResourceExhaustedError(absl::StrCat(
        "too many ad-hoc queries: ", adhoc_.size(), " distinct ones are sampled already (",
        "keda.adhocQueries.max ", max, "); a new one is admitted once one is not asked for during ",
        "demandTTL (", absl::FormatDuration(demand_ttl_.Get()), ")"));
  }
  def.name = absl::StrCat("adhoc-", ++next_adhoc_);
  def.resource = config::MetricResource::KedaAdhoc();
  def.namespace_label.clear();  // cluster-scoped: one table
  def.pod_label.clear();
  def.container_label.clear();
  def.baseline_query.clear();
  def.span_query.clear();
  def.panic.reset();
  std::string name = def.name;
  std::vector<config::MetricDefinition> defs = adhoc_set_->definitions;
  defs.push_back(std::move(def));
  adhoc_set_ = MakeSet(defs, {}, adhoc_set_->version + 1);
  adhoc_.emplace(std::move(id), Adhoc{name, now});
  return name;
}

size_t Sampler::adhoc_queries() const {
  std::lock_guard lock(mu_);
  return adhoc_.size();
}

std::vector<std::string> Sampler::ExpireAdhoc(absl::Time now) {
  std::vector<std::string> gone;
  for (auto it = adhoc_.begin(); it != adhoc_.end();) {
    const std::string key = absl::StrCat(kAdhocKeyPrefix, it->second.name);
    if (now - it->second.touched > demand_ttl_.Get() && !demand_.contains(SlotKey{key, "", ""})) {
      gone.push_back(key);
      it = adhoc_.erase(it);
    } else {
      ++it;
    }
  }
  if (!gone.empty()) {
    std::vector<config::MetricDefinition> defs;
    for (const auto& def : adhoc_set_->definitions) {
      if (std::find(gone.begin(), gone.end(), def.Key()) == gone.end()) defs.push_back(def);
    }
    adhoc_set_ = MakeSet(defs, {}, adhoc_set_->version + 1);
    for (const auto& key : gone) failing_.erase({key, ""});
  }
  return gone;
}

std::pair<std::shared_ptr<const MetricSet>, const config::MetricDefinition*> Sampler::Lookup(
    const config::MetricResource& resource, std::string_view metric) const {
  std::shared_ptr<const MetricSet> set;
  {
    std::lock_guard lock(mu_);
    set = resource == config::MetricResource::KedaAdhoc() ? adhoc_set_ : metric_set_;
  }
  const config::MetricDefinition* def = set->Find(resource, metric);
  return {std::move(set), def};
}

void Sampler::Reload(const config::Config& next) {
  const absl::Time now = clock_.Now();
  {
    std::lock_guard lock(mu_);
    const MetricSet& old = *metric_set_;
    for (const config::MetricDefinition& def : next.metrics) {
      const std::string key = def.Key();
      auto it = old.by_key.find(key);
      if (it != old.by_key.end() && old.definitions[it->second] == def) continue;
      if (it != old.by_key.end()) {
        // Changed: its tables go at the next round, which samples it again where it is demanded.
        reset_.insert(key);
        for (auto d = demand_.lower_bound(SlotKey{key, "", ""});
             d != demand_.end() && d->first.metric == key; ++d) {
          urgent_.insert(d->first);
        }
        for (auto f = failing_.begin(); f != failing_.end();) {
          f = f->first == key ? failing_.erase(f) : std::next(f);
        }
      }
      for (const auto& ns : config_.sampling.warm_namespaces) {
        SlotKey warm{key, "", ns};
        if (!demand_.contains(warm)) urgent_.insert(warm);
        AddDemand(warm, now);
      }
    }
    metric_set_ =
        MakeSet(next.metrics, {old.definitions.begin() + old.configured, old.definitions.end()},
                old.version + 1);
    reloaded_ = next.metrics;
    interval_.Set(next.sampling.interval);
    max_age_.Set(next.sampling.max_age);
    demand_ttl_.Set(next.sampling.demand_ttl);
    first_sample_timeout_.Set(next.sampling.first_sample_timeout);
    // The next periodic round comes one new interval after the last one.
    if (next_round_ != absl::InfinitePast()) {
      next_round_ = std::min(next_round_,
                             EvaluationTime(now, next.sampling.interval) + next.sampling.interval);
    }
    wake_ = true;
  }
  cv_.notify_all();
}

Sampler::~Sampler() { Stop(); }

void Sampler::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Run(); });
}

void Sampler::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  published_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // The sampling thread is gone: nothing runs on the pool any more.
  queries_.reset();
  FireWaiters();  // stopping: every waiter gets its answer now
}

void Sampler::Wake() {
  {
    std::lock_guard lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

void Sampler::Run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    absl::Time now = clock_.Now();
    bool periodic = now >= next_round_;
    if (periodic || !urgent_.empty() || check_wanted_) {
      wake_ = false;
      lock.unlock();
      RunRound(periodic);
      // A round frees a whole generation of tables and the parsed answers; hand that memory back to
      // the system instead of keeping it in malloc's free lists (it halves the resident size of
      // large snapshots).
      malloc_trim(0);
      lock.lock();
      // Periodic rounds come at the interval's boundaries (EvaluationTime), whenever this one ran.
      if (periodic) next_round_ = EvaluationTime(now, interval_.Get()) + interval_.Get();
      continue;
    }
    std::chrono::nanoseconds wait = ToChrono(next_round_ + SettleDelay(interval_.Get()) - now);
    for (const Waiter& w : waiters_) {
      wait = std::min(wait, std::max(std::chrono::nanoseconds(0),
                                     std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         w.deadline - std::chrono::steady_clock::now())));
    }
    cv_.wait_for(lock, wait,
                 [this] { return stopping_ || wake_ || !urgent_.empty() || check_wanted_; });
    wake_ = false;
    if (!waiters_.empty()) {
      lock.unlock();
      FireWaiters();  // the ones whose first sample did not come in time
      lock.lock();
    }
  }
}

absl::StatusOr<std::string> Sampler::RenderQuery(const std::string& tmpl,
                                                 const config::MetricDefinition* def,
                                                 const std::vector<std::string>& namespaces,
                                                 const std::string& extra_matchers,
                                                 bool all_namespaces) const {
  const std::string ns_label = def ? def->namespace_label : "namespace";
  const std::string pod_label = def ? def->pod_label : "pod";
  // Namespaces are validated DNS labels, so they need no regex or string escaping.
  std::string matchers;
  if (!ns_label.empty() && all_namespaces) {
    matchers = absl::StrCat(ns_label, "!=\"\"");
  } else if (!ns_label.empty()) {
    matchers = namespaces.size() == 1
                   ? absl::StrCat(ns_label, "=\"", namespaces[0], "\"")
                   : absl::StrCat(ns_label, "=~\"", absl::StrJoin(namespaces, "|"), "\"");
  } else if (!pod_label.empty()) {
    // Cluster-scoped: every series that names an object (never an empty matcher list, which a
    // template like `x{<<.LabelMatchers>>,a="b"}` could not take).
    matchers = absl::StrCat(pod_label, "!=\"\"");
  }
  // else: an external metric without a namespace (`namespaced: false`): nothing to restrict, as
  // prometheus-adapter renders it (`x{<<.LabelMatchers>>}` becomes `x{}`; a `__name__` matcher
  // would be refused by Prometheus next to the metric name).
  // A metricLabelSelector's (or external labelSelector's) matchers come first, as in
  // prometheus-adapter.
  if (!extra_matchers.empty()) {
    matchers = matchers.empty() ? extra_matchers : absl::StrCat(extra_matchers, ",", matchers);
  }
  std::vector<std::string> group_by;
  if (!ns_label.empty()) group_by.push_back(ns_label);
  if (!pod_label.empty() && pod_label != ns_label) group_by.push_back(pod_label);
  if (def && !def->container_label.empty()) group_by.push_back(def->container_label);
  if (def == nullptr || def->rule.empty()) {
    return absl::StrReplaceAll(
        tmpl, {{"<<.LabelMatchers>>", matchers}, {"<<.GroupBy>>", absl::StrJoin(group_by, ", ")}});
  }
  // prometheus-adapter's template: the same values, also as a list and a map (label -> values
  // joined by "|", as prometheus-adapter's LabelValuesByName: the selector's labels, the
  // namespace label, and ".+" for labels the query matches as `label!=""`).
  auto t = config::GoTemplate::Parse(
      tmpl, {"Series", "LabelMatchers", "GroupBy", "GroupBySlice", "LabelValuesByName"});
  if (!t.ok()) return t.status();
  std::map<std::string, std::string> by_name = MatcherValues(extra_matchers);
  if (!ns_label.empty()) {
    by_name[ns_label] = all_namespaces ? ".+" : absl::StrJoin(namespaces, "|");
  } else if (!pod_label.empty()) {
    by_name[pod_label] = ".+";
  }
  auto query = t->Execute({{"Series", def->series},
                           {"LabelMatchers", matchers},
                           {"GroupBy", absl::StrJoin(group_by, ", ")},
                           {"GroupBySlice", config::TemplateValue::List(group_by)},
                           {"LabelValuesByName", config::TemplateValue::Map(std::move(by_name))}});
  if (!query.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(def->rule, ".metricsQuery: ", query.status().message()));
  }
  return query;
}

void Sampler::RunRound(bool periodic) {
  absl::Time now = clock_.Now();
  round_at_ = EvaluationTime(now, interval_.Get());
  // (metric key, selector variant's matchers) -> namespaces
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> work;
  std::vector<SlotKey> pruned;
  std::set<std::string> namespaces;
  std::shared_ptr<const Snapshot> current;
  std::shared_ptr<const MetricSet> set;
  std::vector<std::string> forgotten;
  round_queries_ = 0;
  round_chunks_ = 0;
  bool check;
  std::set<std::string> reset;
  std::optional<std::vector<config::MetricDefinition>> reloaded;
  {
    std::lock_guard lock(mu_);
    set = metric_set_;
    check = check_wanted_;
    reset.swap(reset_);
    reloaded.swap(reloaded_);
  }
  // A reload: changed definitions start afresh (their windows here, their tables below).
  if (reloaded.has_value()) panic_windows_->SetDefinitions(*reloaded, reset);
  if (check) CheckNamespaces(*set);
  std::shared_ptr<const MetricSet> adhoc;
  {
    std::lock_guard lock(mu_);
    current = snapshot_;
    set = metric_set_;
    // First requests that waited for this check: admitted now (and sampled in this round) or
    // dropped (their callers ask again and get the answer for a namespace that does not exist, or
    // the refusal).
    for (const auto& [key, at] : candidates_) {
      const config::MetricDefinition* def = nullptr;
      if (auto d = set->by_key.find(key.metric); d != set->by_key.end()) {
        def = &set->definitions[d->second];
      }
      if (def == nullptr) continue;
      if (ns_demand_.contains(key.ns) ||
          (NamespaceExists(*def, key.ns, false, now) == Exists::kYes &&
           AdmitNamespace(*def, key.ns, now).ok())) {
        if (!demand_.contains(key)) urgent_.insert(key);
        AddDemand(key, at);
      }
    }
    candidates_.clear();
    for (const SlotKey& key : evicted_) {
      if (!demand_.contains(key)) pruned.push_back(key);
    }
    evicted_.clear();
    for (auto it = demand_.begin(); it != demand_.end();) {
      const SlotKey& key = it->first;
      bool warm = std::find(config_.sampling.warm_namespaces.begin(),
                            config_.sampling.warm_namespaces.end(),
                            key.ns) != config_.sampling.warm_namespaces.end();
      // A discovered metric that disappeared, or an ad-hoc one that expired.
      bool gone = IsAdhocKey(key.metric) ? !adhoc_set_->by_key.contains(key.metric)
                                         : !set->by_key.contains(key.metric);
      if (gone || (!warm && now - it->second > demand_ttl_.Get() && !urgent_.contains(it->first))) {
        pruned.push_back(it->first);
        it = EraseDemand(it);
        continue;
      }
      if (periodic || urgent_.contains(it->first)) {
        in_round_.insert(key);
        work[{key.metric, key.matchers}].push_back(key.ns);
        if (!key.ns.empty() && key.ns != kAllNamespaces) namespaces.insert(key.ns);
      }
      ++it;
    }
    urgent_.clear();
    forgotten.swap(forgotten_);
    for (std::string& key : ExpireAdhoc(now)) pruned.push_back(SlotKey{std::move(key), "", ""});
    adhoc = adhoc_set_;
  }
  if (pod_source_ != nullptr) {
    for (const auto& ns : forgotten) pod_source_->Forget(ns);
  }
  if (!windows_filled_) {
    windows_filled_ = true;
    FillPanicWindows(*set);
  }
  // wholeClusterPercent compares the demand with Prometheus' namespace list, which otherwise only
  // a request for a namespace nobody demands yet fetches.
  if (!check && NamespaceListWanted(work, *set, *adhoc, namespaces, now)) CheckNamespaces(*set);

  auto next = std::make_shared<Snapshot>(*current);
  for (const auto& key : pruned) next->slots.erase(key);
  for (auto it = next->slots.begin(); !reset.empty() && it != next->slots.end();) {
    if (reset.contains(it->first.metric)) {
      next->slots.erase(it++);
    } else {
      ++it;
    }
  }
  if (!pruned.empty()) {
    // Drop pod labels of namespaces nobody asks for any more.
    std::set<std::string> live;
    for (const auto& [key, slot] : next->slots) live.insert(key.ns);
    AddWholeClusterNamespaces(*next, &live);
    for (auto it = next->pod_labels.begin(); it != next->pod_labels.end();) {
      if (!live.contains(it->first)) {
        // Held for a whole-cluster table only: nobody demanded it, so it is not in `forgotten`.
        if (pod_source_ != nullptr &&
            std::find(forgotten.begin(), forgotten.end(), it->first) == forgotten.end()) {
          pod_source_->Forget(it->first);
        }
        next->pod_labels.erase(it++);
      } else {
        ++it;
      }
    }
  }

  // Each metric (and selector variant; each namespace of an external one) is one task; up to
  // sampling.maxConcurrentQueries of them query at once, each folding its tables into `next`.
  // The tasks point into `work`, `set`, `adhoc` and `next`, which outlive RunAll below.
  std::vector<std::function<void()>> tasks;
  Snapshot* out = next.get();
  for (const auto& entry : work) {
    const std::string& metric = entry.first.first;
    const std::string* extra = &entry.first.second;
    const std::vector<std::string>* nss = &entry.second;
    const MetricSet& from = IsAdhocKey(metric) ? *adhoc : *set;
    auto it = from.by_key.find(metric);
    if (it == from.by_key.end()) continue;
    const config::MetricDefinition* def = &from.definitions[it->second];
    if (def->resource.is(config::MetricResource::Kind::kExternal) && !def->whole_cluster_query) {
      // External series carry no object label to split a batch by: one query per namespace.
      for (const auto& ns : *nss) {
        tasks.emplace_back([this, def, ns, extra, out] { SampleMetric(*def, {ns}, *extra, out); });
      }
    } else {
      tasks.emplace_back([this, def, nss, extra, out] { SampleMetric(*def, *nss, *extra, out); });
    }
  }
  if (!queries_) queries_ = std::make_unique<TaskPool>(config_.sampling.max_concurrent_queries);
  queries_->RunAll(std::move(tasks));
  // Every namespace with a row in a whole-cluster table has its pods' labels indexed too (from the
  // pod source, else from one kube_pod_labels query without a namespace matcher).
  bool whole = false;
  for (const auto& [variant, nss] : work) {
    if (std::find(nss.begin(), nss.end(), kAllNamespaces) != nss.end()) whole = true;
  }
  if (whole) AddWholeClusterNamespaces(*next, &namespaces);
  if ((pod_source_ != nullptr || config_.pod_labels.enabled) && !namespaces.empty()) {
    std::vector<std::string> wanted;
    for (const auto& ns : namespaces) {
      if (pod_source_ != nullptr) {
        if (auto table = pod_source_->PodLabels(ns)) {
          next->pod_labels[ns] = std::move(table);
          continue;
        }
      }
      if (config_.pod_labels.enabled && (periodic || !next->pod_labels.contains(ns))) {
        wanted.push_back(ns);
      }
    }
    if (!wanted.empty()) SamplePodLabels(wanted, next.get(), whole && wanted.size() > 1);
  }
  bool probe_needed;
  {
    std::lock_guard lock(mu_);
    probe_needed = periodic && work.empty() && !probe_succeeded_;
  }
  if (probe_needed) {
    ++round_queries_;
    absl::Status probe = QueryBackend(BackendName(""), "vector(1)", now).status();
    std::lock_guard lock(mu_);
    probe_succeeded_ = probe.ok();
    if (!probe.ok()) last_query_error_ = probe;
    if (!probe.ok()) LogWarn("prometheus probe failed", {{"error", probe}});
  }
  if (periodic && backends_.size() > 1) {
    // Every backend that never answered is probed, for its readiness check.
    for (const std::string& name : backends_.Names()) {
      {
        std::lock_guard lock(mu_);
        if (backend_answered_.contains(name)) continue;
      }
      ++round_queries_;
      absl::Status probe = QueryBackend(name, "vector(1)", now).status();
      if (!probe.ok()) {
        LogWarn("prometheus probe failed", {{"backend", name}, {"error", probe}});
      }
    }
  }
  panic_windows_->Apply(next.get());    // panic-aware metrics: windowed values, before anyone reads
  metrics_->Round(clock_.Now() - now);  // before Publish: whoever sees the snapshot sees this
  if (periodic) metrics_->RoundWork(round_queries_, round_chunks_);
  Publish(next);
}

void Sampler::SampleMetric(const config::MetricDefinition& def,
                           const std::vector<std::string>& namespaces,
                           const std::string& extra_matchers, Snapshot* next) {
  // Every chunk is evaluated at the round's time, so the values are those of one query.
  const absl::Time at = round_at_;
  const std::string key = def.Key();
  // The slots (and failure state) of this selector variant; self-metrics stay per definition.
  const std::pair<std::string, std::string> variant{key, extra_matchers};
  // Every namespace at once: one query without a namespace matcher, which also serves the
  // namespaces demanded one by one.
  if (auto all = std::find(namespaces.begin(), namespaces.end(), kAllNamespaces);
      all != namespaces.end()) {
    std::vector<std::string> rest = namespaces;
    rest.erase(rest.begin() + (all - namespaces.begin()));
    FinishMetric(def, variant, SampleChunk(def, rest, extra_matchers, true, at, next, true));
    return;
  }
  std::vector<std::vector<std::string>> chunks;
  if (def.namespace_label.empty() || def.whole_cluster_query) {
    chunks.push_back(namespaces);
  } else {
    chunks = NamespaceChunks(namespaces);
  }
  bool all_namespaces = false;
  if (chunks.size() > 1) {
    std::lock_guard lock(mu_);
    all_namespaces =
        WholeClusterPays(BackendName(def.backend), def.namespace_label, namespaces.size());
  }
  absl::Status status;
  if (all_namespaces) {
    status = SampleChunk(def, namespaces, extra_matchers, true, at, next);
  } else {
    for (const auto& chunk : chunks) {
      absl::Status s = SampleChunk(def, chunk, extra_matchers, false, at, next);
      if (status.ok()) status = s;
    }
  }
  FinishMetric(def, variant, status);
}

void Sampler::FillPanicWindows(const MetricSet& set) {
  const absl::Duration interval = interval_.Get();
  for (const config::MetricDefinition& def : set.definitions) {
    const std::string key = def.Key();
    if (!panic_windows_->IsPanicAware(key)) continue;
    std::vector<std::string> namespaces;
    {
      std::lock_guard lock(mu_);
      for (auto d = demand_.lower_bound(SlotKey{key, "", ""});
           d != demand_.end() && d->first.metric == key && d->first.matchers.empty(); ++d) {
        if (!d->first.ns.empty() && d->first.ns != kAllNamespaces)
          namespaces.push_back(d->first.ns);
      }
    }
    // The boundaries within the stable window before the round's own.
    const absl::Time start = round_at_ - def.panic->stable_window + interval;
    const absl::Time end = round_at_ - interval;
    if (namespaces.empty() || end < start) continue;
    // As the round's queries: chunks of at most max_namespaces_per_query namespaces and
    // max_matcher_bytes of regex, so the range query's length is bounded too.
    std::vector<prom::Series> all_series;
    absl::Status failed;
    for (const auto& chunk : NamespaceChunks(namespaces)) {
      ++round_queries_;
      absl::StatusOr<std::string> query = RenderQuery(def.query, &def, chunk, "");
      prom::Client* client = backends_.Find(BackendName(def.backend));
      absl::StatusOr<prom::QueryResult> result =
          absl::NotFoundError(absl::StrCat("no backend named ", BackendName(def.backend)));
      if (!query.ok()) {
        result = query.status();
      } else if (client != nullptr) {
        result = client->QueryRange(*query, start, end, interval);
      }
      if (result.ok() && result->type != prom::ResultType::kMatrix) {
        result = absl::InvalidArgumentError("the range query did not answer a matrix");
      }
      if (!result.ok()) {
        failed = result.status();
        break;
      }
      std::move(result->series.begin(), result->series.end(), std::back_inserter(all_series));
    }
    if (!failed.ok()) {
      LogWarn("panic windows start empty: the range query over the stable window failed",
              {{"metric", key}, {"error", failed}});
      continue;
    }
    std::map<std::string, PanicWindows::SeedPoints> seeds;
    for (const auto& ns : namespaces) seeds[ns];
    size_t points = 0;
    for (const prom::Series& series : all_series) {
      auto it = seeds.find(std::string(prom::LabelValue(series.labels, def.namespace_label)));
      std::string pod(prom::LabelValue(series.labels, def.pod_label));
      if (it == seeds.end() || pod.empty()) continue;
      if (!def.container_label.empty()) {
        std::string_view container = prom::LabelValue(series.labels, def.container_label);
        if (container.empty()) continue;
        absl::StrAppend(&pod, "/", ToAbsl(container));
      }
      auto& history = it->second[pod];
      for (const auto& [ms, value] : series.points) {
        if (!std::isfinite(value)) continue;
        history.emplace_back(absl::FromUnixMillis(ms), value);
        ++points;
      }
    }
    for (auto& [ns, pods] : seeds) panic_windows_->Seed(SlotKey{key, "", ns}, std::move(pods));
    LogInfo("panic windows filled from Prometheus",
            {{"metric", key},
             {"namespaces", static_cast<int64_t>(namespaces.size())},
             {"series", static_cast<int64_t>(all_series.size())},
             {"points", static_cast<int64_t>(points)}});
  }
}

void Sampler::FinishMetric(const config::MetricDefinition& def,
                           const std::pair<std::string, std::string>& variant,
                           const absl::Status& status) {
  const std::string& key = variant.first;
  bool changed;
  {
    std::lock_guard lock(mu_);
    changed = failing_.count(variant) != static_cast<size_t>(!status.ok());
    if (status.ok()) {
      // Ad-hoc queries come and go: a success counts as reaching Prometheus, not per key.
      if (def.adhoc) {
        probe_succeeded_ = true;
      } else {
        ever_succeeded_.insert(key);
      }
      failing_.erase(variant);
    } else {
      failing_.insert(variant);
      last_query_error_ = status;
    }
  }
  if (changed && status.ok()) LogInfo("metric sampling recovered", {{"metric", key}});
  if (changed && !status.ok())
    LogWarn("metric sampling failed", {{"metric", key}, {"error", status}});
}

absl::Status Sampler::SampleChunk(const config::MetricDefinition& def,
                                  const std::vector<std::string>& namespaces,
                                  const std::string& extra_matchers, bool all_namespaces,
                                  absl::Time at, Snapshot* next, bool whole) {
  const std::string key = def.Key();
  const std::string metric_label = def.adhoc ? std::string(kAdhocMetricLabel) : key;
  ++round_chunks_;
  std::map<std::string, std::vector<PodValue>, std::less<>> by_ns;
  for (const auto& ns : namespaces) by_ns[ns];
  std::map<std::string, int> dropped;
  // The whole cluster's table (`whole`): every series that has a namespace, its rows named
  // "<namespace>/<pod>" (kept apart from by_ns, whose keys are namespaces).
  std::vector<PodValue> everything;
  int everything_dropped = 0;
  // Sorts `pods`, keeping the last series of each name for an unrestricted query, or refuses two.
  auto finish = [&](std::vector<PodValue>& pods, bool unrestricted,
                    std::string_view ns) -> absl::Status {
    if (unrestricted) {
      // prometheus-adapter keeps the last series of each object name.
      std::stable_sort(pods.begin(), pods.end(),
                       [](const PodValue& a, const PodValue& b) { return a.pod < b.pod; });
      std::vector<PodValue> last;
      for (size_t i = 0; i < pods.size(); ++i) {
        if (i + 1 == pods.size() || pods[i + 1].pod != pods[i].pod) {
          last.push_back(std::move(pods[i]));
        }
      }
      pods = std::move(last);
    }
    std::sort(pods.begin(), pods.end(),
              [](const PodValue& a, const PodValue& b) { return a.pod < b.pod; });
    for (size_t i = 1; i < pods.size(); ++i) {
      if (pods[i].pod == pods[i - 1].pod) {
        metrics_->DroppedValue(metric_label, "duplicate");
        return absl::InvalidArgumentError(
            absl::StrCat("the query returned more than one series for pod ", ToAbsl(pods[i].pod),
                         " in namespace ", ToAbsl(ns), ": aggregate it by (<<.GroupBy>>)"));
      }
    }
    return absl::OkStatus();
  };

  // The labels this function reads from the answers; an external metric's series keep all of theirs
  // (its key and its labels are every label).
  const bool external_labels =
      def.adhoc || def.resource.is(config::MetricResource::Kind::kExternal);
  const prom::LabelFilter keep =
      external_labels
          ? prom::LabelFilter()
          : prom::LabelFilter::Only({def.namespace_label, def.pod_label, def.container_label});
  prom::QueryOptions keep_only;  // the baseline's and span's queries have no options of their own
  keep_only.keep_labels = keep;
  auto run = [&]() -> absl::Status {
    ++round_queries_;
    // Ad-hoc queries are sent as written, with their own options.
    absl::StatusOr<std::string> query =
        def.adhoc ? absl::StatusOr<std::string>(def.query)
                  : RenderQuery(def.query, &def, namespaces, extra_matchers, all_namespaces);
    if (!query.ok()) return query.status();
    prom::QueryOptions options = def.query_options;
    options.keep_labels = keep;
    const bool external = def.resource.is(config::MetricResource::Kind::kExternal);
    // A query not restricted to namespaces (prometheus-adapter's metricsQuery without
    // <<.LabelMatchers>>): a series counts in its own namespace when it has the label, else in
    // every namespace asked for; one without the object label matches no object.
    const bool unrestricted = def.whole_cluster_query && !def.namespace_label.empty();
    // Each series of the answer as it is parsed, into the tables above; `refused` is the first
    // series that cannot be a row (the answer is then refused), `nan`/`inf` the values left out,
    // counted once the answer is known to be good.
    absl::Status refused;
    int nan = 0;
    int inf = 0;
    auto add_row = [&](const prom::SampleRef& s) {
      if (!refused.ok()) return;
      std::string_view ns = def.namespace_label.empty() || external
                                ? std::string_view(namespaces[0])
                                : s.Label(def.namespace_label);
      std::string pod = external ? SeriesKey(s.labels) : std::string(s.Label(def.pod_label));
      if (unrestricted && pod.empty()) return;
      if (!unrestricted &&
          ((ns.empty() && !def.namespace_label.empty()) || (pod.empty() && !external))) {
        refused = absl::InvalidArgumentError(absl::StrCat(
            "a series has no label \"", ns.empty() ? def.namespace_label : def.pod_label,
            "\": aggregate the query by (<<.GroupBy>>)"));
        return;
      }
      if (!def.container_label.empty()) {
        // Per-container tables: "<pod>/<container>" (neither name can contain '/').
        std::string_view container = s.Label(def.container_label);
        if (container.empty()) return;  // the pod's cgroup total, not a container
        absl::StrAppend(&pod, "/", ToAbsl(container));
      }
      if (ns == kAllNamespaces) return;  // not a namespace
      const bool everywhere = unrestricted && (external || ns.empty());
      const bool in_whole = whole && !everywhere && !ns.empty();
      auto it = everywhere ? by_ns.begin() : by_ns.find(ns);
      if (it == by_ns.end() && !in_whole) return;  // a namespace we did not ask for
      if (!std::isfinite(s.value)) {
        for (auto& [name, pods] : by_ns) {
          if (everywhere || (it != by_ns.end() && name == it->first)) ++dropped[name];
        }
        if (in_whole) ++everything_dropped;
        ++(std::isnan(s.value) ? nan : inf);
        return;
      }
      if (in_whole) {
        everything.push_back(PodValue{
            absl::StrCat(ToAbsl(ns), "/", ToAbsl(pod)), s.value, 0, false, -1, s.timestamp_ms, {}});
      }
      if (it == by_ns.end()) return;
      PodValue v{pod, s.value, 0, false, -1, s.timestamp_ms, {}};
      if (external) {
        for (const auto& [name, value] : s.labels) {
          if (name != "__name__") v.labels.emplace_back(name, value);
        }
      }
      if (everywhere) {
        for (auto& [name, pods] : by_ns) pods.push_back(v);
      } else {
        it->second.push_back(std::move(v));
      }
    };
    auto result = QueryBackend(BackendName(def.backend), *query, at, options, add_row);
    if (!result.ok()) return result.status();
    if (def.adhoc && result->type == prom::ResultType::kMatrix) {
      // As KEDA's prometheus scaler reads it: each series is an element without a value.
      std::vector<std::pair<std::string_view, std::string_view>> labels;
      for (const prom::Series& series : result->series) {
        labels.assign(series.labels.begin(), series.labels.end());
        add_row(prom::SampleRef{labels, std::numeric_limits<double>::quiet_NaN(), 0});
      }
      result->type = prom::ResultType::kVector;
    }
    if (def.adhoc && result->type != prom::ResultType::kVector) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the query returned a ", result->type == prom::ResultType::kScalar ? "scalar" : "string",
          "; it must return an instant vector (e.g. vector(...) or sum(...))"));
    }
    if (result->type != prom::ResultType::kVector) {
      return absl::InvalidArgumentError(
          "the query must return an instant vector grouped by namespace and pod");
    }
    if (!refused.ok()) return refused;
    for (int i = 0; i < nan; ++i) metrics_->DroppedValue(metric_label, "nan");
    for (int i = 0; i < inf; ++i) metrics_->DroppedValue(metric_label, "inf");
    for (auto& [ns, pods] : by_ns) {
      if (absl::Status s = finish(pods, unrestricted, ns); !s.ok()) return s;
    }
    if (absl::Status s = finish(everything, unrestricted, "(every namespace)"); !s.ok()) return s;
    if (!def.baseline_query.empty()) {
      ++round_queries_;
      auto baseline_query =
          RenderQuery(def.baseline_query, &def, namespaces, extra_matchers, all_namespaces);
      if (!baseline_query.ok()) return baseline_query.status();
      auto set_baseline = [](std::vector<PodValue>& pods, std::string_view pod, double value) {
        auto p =
            std::lower_bound(pods.begin(), pods.end(), pod,
                             [](const PodValue& v, std::string_view name) { return v.pod < name; });
        if (p != pods.end() && p->pod == pod) {
          p->baseline = value;
          p->has_baseline = true;
        }
      };
      // Each series as it is parsed; when the query fails, so does the chunk (its tables are
      // dropped, with the baselines set so far).
      auto add_baseline = [&](const prom::SampleRef& s) {
        if (!std::isfinite(s.value) || s.value <= 0) return;
        std::string_view ns = s.Label(def.namespace_label);
        std::string_view pod = s.Label(def.pod_label);
        if (whole) set_baseline(everything, absl::StrCat(ToAbsl(ns), "/", ToAbsl(pod)), s.value);
        if (auto it = by_ns.find(ns); it != by_ns.end()) set_baseline(it->second, pod, s.value);
      };
      auto baseline =
          QueryBackend(BackendName(def.backend), *baseline_query, at, keep_only, add_baseline);
      if (!baseline.ok()) {
        return absl::Status(baseline.status().code(),
                            absl::StrCat("baseline query: ", baseline.status().message()));
      }
    }
    if (!def.span_query.empty()) {
      // The real span of the samples behind each value. Best effort: when it cannot be read the
      // values stay and their span is unknown (served as the definition's window, as before).
      ++round_queries_;
      const int64_t window_ms = absl::ToInt64Milliseconds(def.preset.window);
      auto set_span = [&](std::vector<PodValue>& pods, std::string_view pod, int32_t ms) {
        auto p =
            std::lower_bound(pods.begin(), pods.end(), pod,
                             [](const PodValue& v, std::string_view name) { return v.pod < name; });
        if (p != pods.end() && p->pod == pod) p->span_ms = ms;
      };
      auto add_span = [&](const prom::SampleRef& s) {
        if (!std::isfinite(s.value) || s.value < 0) return;
        std::string_view ns = def.namespace_label.empty() ? std::string_view(namespaces[0])
                                                          : s.Label(def.namespace_label);
        std::string pod(s.Label(def.pod_label));
        if (!def.container_label.empty()) {
          std::string_view container = s.Label(def.container_label);
          if (container.empty()) return;
          absl::StrAppend(&pod, "/", ToAbsl(container));
        }
        // Never more than the window: a subquery step can reach a sample just before it.
        int64_t ms = std::llround(s.value * 1000);
        if (window_ms > 0) ms = std::min(ms, window_ms);
        const auto span =
            static_cast<int32_t>(std::clamp<int64_t>(ms, 0, std::numeric_limits<int32_t>::max()));
        if (whole) set_span(everything, absl::StrCat(ToAbsl(ns), "/", pod), span);
        if (auto it = by_ns.find(ns); it != by_ns.end()) set_span(it->second, pod, span);
      };
      auto span_query =
          RenderQuery(def.span_query, &def, namespaces, extra_matchers, all_namespaces);
      absl::Status spans = span_query.ok() ? QueryBackend(BackendName(def.backend), *span_query, at,
                                                          keep_only, add_span)
                                                 .status()
                                           : span_query.status();
      if (!spans.ok()) {
        // What the failed answer set is no answer: every span unknown again.
        for (auto& [ns, pods] : by_ns) {
          for (PodValue& p : pods) p.span_ms = -1;
        }
        for (PodValue& p : everything) p.span_ms = -1;
      }
    }
    return absl::OkStatus();
  };

  absl::Status status = run();
  metrics_->Query(metric_label, status.ok());
  auto put = [&](const std::string& ns, std::vector<PodValue> pods, int dropped_non_finite) {
    Slot& slot = next->slots[SlotKey{key, extra_matchers, ns}];
    if (!status.ok()) {
      slot.last_error = status;
      slot.last_attempt = at;
      return;
    }
    auto table = std::make_shared<MetricTable>();
    table->pods = std::move(pods);
    table->sampled_at = at;
    table->dropped_non_finite = dropped_non_finite;
    slot = Slot{std::move(table), absl::OkStatus(), at};
  };
  std::lock_guard lock(next_mu_);  // other queries of the round fold theirs at the same time
  for (auto& [ns, pods] : by_ns) put(ns, std::move(pods), dropped[ns]);
  if (whole) put(std::string(kAllNamespaces), std::move(everything), everything_dropped);
  return status;
}

bool Sampler::WholeClusterPays(const std::string& backend, const std::string& label,
                               size_t demanded) const {
  const auto percent = static_cast<size_t>(config_.sampling.whole_cluster_percent);
  if (percent == 0) return false;
  auto known = known_ns_.find({backend, label});
  return CheckError(backend).ok() && known != known_ns_.end() && !known->second.empty() &&
         demanded * 100 >= known->second.size() * percent;
}

bool Sampler::NamespaceListWanted(
    const std::map<std::pair<std::string, std::string>, std::vector<std::string>>& work,
    const MetricSet& set, const MetricSet& adhoc, const std::set<std::string>& namespaces,
    absl::Time now) const {
  if (config_.sampling.whole_cluster_percent == 0) return false;
  {
    std::lock_guard lock(mu_);
    if (checks_ > 0 && now - checked_at_ < config_.sampling.namespace_check_interval) return false;
  }
  for (const auto& [variant, nss] : work) {
    const MetricSet& from = IsAdhocKey(variant.first) ? adhoc : set;
    auto it = from.by_key.find(variant.first);
    if (it == from.by_key.end()) continue;
    const config::MetricDefinition& def = from.definitions[it->second];
    // Queries without a namespace matcher, or one per namespace (external): nothing to replace.
    if (def.namespace_label.empty() || def.whole_cluster_query) continue;
    if (def.resource.is(config::MetricResource::Kind::kExternal)) continue;
    if (NamespaceChunks(nss).size() > 1) return true;
  }
  // The pod labels' query (kube_pod_labels; for the namespaces a pod source does not answer).
  return config_.pod_labels.enabled && namespaces.size() > 1 &&
         NamespaceChunks({namespaces.begin(), namespaces.end()}).size() > 1;
}

void Sampler::CheckNamespaces(const MetricSet& set) {
  // backend -> its namespace labels in use
  std::map<std::string, std::set<std::string>> labels;
  for (const auto& def : set.definitions) {
    if (!def.namespace_label.empty()) labels[BackendName(def.backend)].insert(def.namespace_label);
  }
  // kube_pod_labels' namespaces, for its whole-cluster query (usually the metrics' already).
  if (config_.pod_labels.enabled) {
    labels[BackendName(config_.pod_labels.backend)].insert("namespace");
  }
  const absl::Time now = clock_.Now();
  std::map<std::pair<std::string, std::string>, std::set<std::string>> known;
  std::map<std::string, absl::Status> status;  // per backend
  absl::Status first_error;
  bool unsupported = false;
  for (const auto& [backend, backend_labels] : labels) {
    absl::Status& backend_status = status[backend];
    for (const auto& label : backend_labels) {
      ++round_queries_;
      prom::Client* client = backends_.Find(backend);
      auto values = client == nullptr
                        ? absl::StatusOr<std::vector<std::string>>(
                              absl::NotFoundError(absl::StrCat("no backend named ", backend)))
                        : client->LabelValues(label, now - kNamespaceLookback, now);
      if (values.status().code() != absl::StatusCode::kUnimplemented) {
        NoteBackend(backend, values.status());
      }
      if (!values.ok()) {
        backend_status = values.status();
        break;
      }
      known[{backend, label}] = std::set<std::string>(values->begin(), values->end());
    }
    if (backend_status.code() == absl::StatusCode::kUnimplemented) {
      unsupported = true;
    } else if (!backend_status.ok() && first_error.ok()) {
      first_error = backend_status;
    }
  }
  metrics_->NamespaceCheck(!first_error.ok() ? "error" : unsupported ? "unsupported" : "success");
  std::vector<std::pair<std::string, absl::Status>> changed;
  {
    std::lock_guard lock(mu_);
    for (const auto& [backend, backend_status] : status) {
      if (backend_status.code() != CheckError(backend).code() || checks_ == 0) {
        changed.emplace_back(backend, backend_status);
      }
      check_error_[backend] = backend_status;
      if (!backend_status.ok()) continue;
      // This backend's values replace its previous ones; a failed backend keeps its last good.
      for (auto it = known_ns_.begin(); it != known_ns_.end();) {
        it = it->first.first == backend ? known_ns_.erase(it) : std::next(it);
      }
    }
    known_ns_.merge(known);
    checked_at_ = now;
    ++checks_;
    check_wanted_ = false;
  }
  published_cv_.notify_all();
  for (const auto& [backend, backend_status] : changed) {
    if (backend_status.code() == absl::StatusCode::kUnimplemented) {
      LogInfo("namespace check unsupported: every valid namespace asked for is sampled",
              {{"backend", backend}, {"error", backend_status}});
    } else if (!backend_status.ok()) {
      LogWarn("namespace check failed: new namespaces are refused until it succeeds",
              {{"backend", backend}, {"error", backend_status}});
    }
  }
}

const absl::Status& Sampler::CheckError(const std::string& backend) const {
  static const absl::Status* const kOk = new absl::Status();
  auto it = check_error_.find(backend);
  return it == check_error_.end() ? *kOk : it->second;
}

absl::StatusOr<prom::QueryResult> Sampler::QueryBackend(const std::string& backend,
                                                        const std::string& promql, absl::Time at,
                                                        const prom::QueryOptions& options,
                                                        std::optional<prom::SampleVisitor> visit) {
  prom::Client* client = backends_.Find(backend);
  absl::StatusOr<prom::QueryResult> result =
      client == nullptr   ? absl::NotFoundError(absl::StrCat("no backend named ", backend))
      : visit.has_value() ? client->QueryEach(promql, at, options, *visit)
                          : client->Query(promql, at, options);
  NoteBackend(backend, result.status());
  return result;
}

void Sampler::NoteBackend(const std::string& backend, const absl::Status& status) {
  std::lock_guard lock(mu_);
  if (status.ok()) {
    backend_answered_.insert(backend);
  } else {
    backend_error_[backend] = status;
  }
}

absl::Status Sampler::BackendReadyStatus(std::string_view backend) const {
  const std::string name = BackendName(backend);
  if (backends_.Find(name) == nullptr) {
    return absl::NotFoundError(absl::StrCat("no backend named ", name));
  }
  std::lock_guard lock(mu_);
  if (backend_answered_.contains(name)) return absl::OkStatus();
  auto error = backend_error_.find(name);
  return absl::UnavailableError(
      absl::StrCat("waiting for the first successful query to backend ", name,
                   error == backend_error_.end()
                       ? ""
                       : absl::StrCat(" (last error: ", error->second.message(), ")")));
}

Sampler::Exists Sampler::NamespaceExists(const config::MetricDefinition& def, const std::string& ns,
                                         bool has_pods, absl::Time now) const {
  if (!config_.sampling.check_namespaces || has_pods) return Exists::kYes;
  const std::string backend = BackendName(def.backend);
  const absl::Status& check_error = CheckError(backend);
  // A client that cannot list label values: do without the check (demand stays bounded by the
  // ceiling and the token bucket).
  if (checks_ > 0 && check_error.code() == absl::StatusCode::kUnimplemented) return Exists::kYes;
  auto known = known_ns_.find({backend, def.namespace_label});
  if (known != known_ns_.end() && known->second.contains(ns)) return Exists::kYes;
  if (checks_ == 0 || now - checked_at_ >= config_.sampling.namespace_check_interval) {
    return Exists::kCheck;
  }
  if (!check_error.ok()) return Exists::kFailed;
  return known == known_ns_.end() ? Exists::kCheck : Exists::kNo;
}

absl::Status Sampler::AdmitNamespace(const config::MetricDefinition& def, std::string_view ns,
                                     absl::Time now) {
  const auto& s = config_.sampling;
  if (ns_demand_.size() >= static_cast<size_t>(s.max_namespaces)) {
    metrics_->Rejected("ceiling");
    return WithWhy(absl::UnavailableError(absl::StrCat(
                       "metric ", def.name, " in namespace ", ToAbsl(ns),
                       ": not sampled: the demand ceiling is reached (", ns_demand_.size(),
                       " namespaces demanded, sampling.maxNamespaces ", s.max_namespaces,
                       "); they keep being served, and a new namespace is admitted once one is "
                       "not asked for during demandTTL (",
                       absl::FormatDuration(demand_ttl_.Get()), ")")),
                   Why::kDemandLimit);
  }
  if (now > tokens_at_) {
    tokens_ = std::min(static_cast<double>(s.new_namespace_burst),
                       tokens_ + absl::ToDoubleSeconds(now - tokens_at_) *
                                     static_cast<double>(s.new_namespaces_per_second));
    tokens_at_ = now;
  }
  if (tokens_ < 1) {
    metrics_->Rejected("rate_limited");
    return WithWhy(
        absl::UnavailableError(absl::StrCat(
            "metric ", def.name, " in namespace ", ToAbsl(ns),
            ": not sampled yet: too many new namespaces at once (at most ", s.new_namespace_burst,
            " at once and ", s.new_namespaces_per_second,
            " per second: sampling.newNamespaceBurst, sampling.newNamespacesPerSecond); ask "
            "again in a second")),
        Why::kDemandLimit);
  }
  tokens_ -= 1;
  return absl::OkStatus();
}

MetricRead Sampler::AbsentRead(std::shared_ptr<const MetricSet> set,
                               const config::MetricDefinition* def, std::string_view ns,
                               absl::Time now) const {
  const absl::Time checked = std::min(checked_at_, now);
  auto snap = std::make_shared<Snapshot>();
  snap->generation = snapshot_->generation;
  snap->published_at = snapshot_->published_at;
  if (pod_source_ != nullptr) {
    // The pod watch has no pod there either: nothing to select.
    auto pods = std::make_shared<PodLabelsTable>();
    pods->from_kubernetes = true;
    pods->sampled_at = checked;
    snap->pod_labels[std::string(ns)] = std::move(pods);
  }
  auto table = std::make_shared<MetricTable>();
  table->sampled_at = checked;
  MetricRead read;
  read.metrics = std::move(set);
  read.definition = def;
  read.snapshot = std::move(snap);
  read.table = table.get();
  read.own_table = std::move(table);
  read.age = now - checked;
  return read;
}

void Sampler::SamplePodLabels(const std::vector<std::string>& namespaces, Snapshot* next,
                              bool all_namespaces) {
  const absl::Time at = round_at_;
  // Chunked as the metrics' queries (one query when it has no namespace matcher); a failed chunk
  // leaves its namespaces' tables as they were.
  std::vector<std::vector<std::string>> chunks =
      all_namespaces ? std::vector<std::vector<std::string>>{namespaces}
                     : NamespaceChunks(namespaces);
  if (chunks.size() > 1) {
    // Most of the namespaces Prometheus knows: one query without a namespace matcher, as the
    // metrics' (sampling.wholeClusterPercent).
    std::lock_guard lock(mu_);
    if (WholeClusterPays(BackendName(config_.pod_labels.backend), "namespace", namespaces.size())) {
      all_namespaces = true;
      chunks = {namespaces};
    }
  }
  SharedLabelsMaker shared;  // the pods of one workload have the same labels
  // Read below: namespace, pod and kube-state-metrics' label_* (KubeStateLabels).
  prom::QueryOptions pod_labels_options;
  pod_labels_options.keep_labels = prom::LabelFilter::Only({"namespace", "pod"}, {"label_"});
  for (const auto& chunk : chunks) {
    ++round_queries_;
    std::map<std::string, std::shared_ptr<PodLabelsTable>, std::less<>> tables;
    for (const auto& ns : chunk) {
      tables[ns] = std::make_shared<PodLabelsTable>();
      tables[ns]->sampled_at = at;
    }
    // Each series as it is parsed; a failed query's tables are dropped.
    auto add_pod = [&](const prom::SampleRef& s) {
      auto it = tables.find(s.Label("namespace"));
      std::string_view pod = s.Label("pod");
      if (it == tables.end() || pod.empty()) return;
      it->second->pods[PodName(pod)] = shared.Make(KubeStateLabels(s.labels));
    };
    // Without a definition the query is rendered by replacement, which cannot fail.
    auto result =
        QueryBackend(BackendName(config_.pod_labels.backend),
                     *RenderQuery(config_.pod_labels.query, nullptr, chunk, "", all_namespaces), at,
                     pod_labels_options, add_pod);
    metrics_->Query("pod_labels", result.ok());
    if (!result.ok()) {
      LogDebug("pod labels query failed", {{"error", result.status()}});
      continue;
    }
    for (auto& [ns, table] : tables) next->pod_labels[ns] = std::move(table);
  }
}

std::vector<std::vector<std::string>> Sampler::NamespaceChunks(
    const std::vector<std::string>& namespaces) const {
  return ChunkNamespaces(namespaces, static_cast<size_t>(config_.sampling.max_namespaces_per_query),
                         static_cast<size_t>(config_.sampling.max_matcher_bytes));
}

void Sampler::Publish(const std::shared_ptr<Snapshot>& next) {
  next->published_at = clock_.Now();
  std::shared_ptr<const Snapshot> published;
  {
    std::lock_guard lock(mu_);
    next->generation = snapshot_->generation + 1;
    snapshot_ = next;
    in_round_.clear();
    published = snapshot_;
  }
  {
    // Listeners run before waiters are woken, so a waiter sees every listener's effect of this
    // generation.
    std::lock_guard lock(listeners_mu_);
    for (auto& [id, listener] : listeners_) listener(published);
  }
  published_cv_.notify_all();
  FireWaiters();
}

std::shared_ptr<const Snapshot> Sampler::snapshot() const {
  std::lock_guard lock(mu_);
  return snapshot_;
}

bool Sampler::WaitForGeneration(uint64_t generation, absl::Duration timeout) {
  std::unique_lock lock(mu_);
  return published_cv_.wait_for(lock, ToChrono(timeout),
                                [&] { return snapshot_->generation >= generation; });
}

uint64_t Sampler::Subscribe(Listener listener) {
  std::lock_guard lock(listeners_mu_);
  uint64_t id = next_listener_id_++;
  listeners_[id] = std::move(listener);
  return id;
}

void Sampler::Unsubscribe(uint64_t id) {
  std::lock_guard lock(listeners_mu_);
  listeners_.erase(id);
}

absl::Status Sampler::ReadyStatus() const {
  std::lock_guard lock(mu_);
  std::string last_error = last_query_error_.ok()
                               ? ""
                               : absl::StrCat(" (last error: ", last_query_error_.message(), ")");
  if (!config_.rules.empty() && !discovered_) {
    return absl::UnavailableError(
        "waiting for the first discovery of metrics from the prometheus-adapter rules");
  }
  if (!config_.sampling.wait_for_first_sample) return absl::OkStatus();
  if (config_.sampling.warm_namespaces.empty()) {
    if (probe_succeeded_ || !ever_succeeded_.empty()) return absl::OkStatus();
    return absl::UnavailableError(
        absl::StrCat("waiting for the first successful query to Prometheus", last_error));
  }
  for (const auto& def : config_.metrics) {
    if (!ever_succeeded_.contains(def.Key())) {
      return absl::UnavailableError(
          absl::StrCat("waiting for the first successful query of metric ", def.Key(),
                       " (warm namespaces)", last_error));
    }
  }
  return absl::OkStatus();
}

absl::Status Sampler::Freshness(const config::MetricDefinition& def, std::string_view ns,
                                const Slot* slot, absl::Time now) const {
  std::string where = ns == kAllNamespaces
                          ? absl::StrCat("metric ", def.name, " in every namespace")
                          : absl::StrCat("metric ", def.name, " in namespace ", ToAbsl(ns));
  if (slot == nullptr) {
    return WithWhy(absl::UnavailableError(absl::StrCat(
                       where, ": no sample yet: the first query did not finish within ",
                       absl::FormatDuration(first_sample_timeout_.Get()))),
                   Why::kNotSampledYet);
  }
  std::string error = slot->last_error.ok() ? "none" : std::string(slot->last_error.message());
  if (!slot->table) {
    return WithWhy(absl::UnavailableError(
                       absl::StrCat(where, ": no good sample yet; Prometheus error: ", error)),
                   Why::kBackendFailed);
  }
  absl::Duration age = now - slot->table->sampled_at;
  const absl::Duration max_age = max_age_.Get();
  if (age > max_age) {
    return WithWhy(absl::UnavailableError(
                       absl::StrCat(where, ": data is stale: last good sample at ",
                                    FormatRfc3339Millis(slot->table->sampled_at), " (",
                                    absl::FormatDuration(absl::Trunc(age, absl::Milliseconds(1))),
                                    " ago, older than maxAge ", absl::FormatDuration(max_age),
                                    "); Prometheus error: ", error)),
                   Why::kStale);
  }
  return absl::OkStatus();
}

absl::StatusOr<MetricRead> Sampler::Read(std::string_view metric, std::string_view ns,
                                         const config::MetricResource& resource,
                                         std::string_view extra_matchers) {
  return ReadImpl(metric, ns, resource, extra_matchers, ReadMode::kWait, nullptr);
}

absl::StatusOr<MetricRead> Sampler::ReadNow(std::string_view metric, std::string_view ns,
                                            const config::MetricResource& resource,
                                            std::string_view extra_matchers) {
  return ReadImpl(metric, ns, resource, extra_matchers, ReadMode::kNow, nullptr);
}

void Sampler::ReadWhenSampled(std::string_view metric, std::string_view ns,
                              const config::MetricResource& resource,
                              std::string_view extra_matchers, ReadDone done) {
  auto answer = ReadImpl(metric, ns, resource, extra_matchers, ReadMode::kNotify, &done);
  if (done) done(std::move(answer));  // not taken by a waiter: the answer did not have to wait
}

absl::StatusOr<MetricRead> Sampler::ReadImpl(std::string_view metric, std::string_view ns,
                                             const config::MetricResource& resource,
                                             std::string_view extra_matchers, ReadMode mode,
                                             ReadDone* done) {
  auto looked_up = Lookup(resource, metric);
  std::shared_ptr<const MetricSet>& set = looked_up.first;
  const config::MetricDefinition* def = looked_up.second;
  if (def == nullptr && resource == config::MetricResource::KedaAdhoc()) {
    return WithWhy(absl::NotFoundError(absl::StrCat("ad-hoc query ", ToAbsl(metric),
                                                    " is no longer sampled; ask again")),
                   Why::kUnknownMetric);
  }
  if (def == nullptr) {
    std::vector<std::string> names;
    for (const auto& d : set->definitions) {
      if (d.resource == resource) names.push_back(d.name);
      if (names.size() == 50) {
        names.emplace_back("...");
        break;
      }
    }
    return WithWhy(
        absl::NotFoundError(absl::StrCat(
            "unknown metric \"", ToAbsl(metric), "\" for ", resource.name(),
            "; this adapter serves: ", names.empty() ? "none" : absl::StrJoin(names, ", "))),
        Why::kUnknownMetric);
  }
  if (def->namespace_label.empty()) {
    ns = "";  // cluster-scoped: one table for every namespace
  } else if (ns == kAllNamespaces) {
    if (def->resource.is(config::MetricResource::Kind::kExternal)) {
      return WithWhy(absl::InvalidArgumentError(absl::StrCat(
                         "external metric ", def->name,
                         " is read one namespace at a time, not for every namespace at once")),
                     Why::kBadQuestion);
    }
  } else {
    absl::Status ns_ok = ValidateNamespace(ns);
    if (!ns_ok.ok()) return WithWhy(ns_ok, Why::kBadQuestion);
  }
  const SlotKey key{def->Key(), std::string(extra_matchers), std::string(ns)};
  absl::Time now = clock_.Now();
  // Every namespace at once is one table: no namespace to check or admit.
  const bool namespaced = !def->namespace_label.empty() && ns != kAllNamespaces;
  bool has_pods = false;
  if (namespaced && pod_source_ != nullptr && config_.sampling.check_namespaces) {
    bool demanded;
    {
      std::lock_guard lock(mu_);
      demanded = ns_demand_.contains(key.ns);
    }
    if (!demanded) has_pods = pod_source_->HasPods(ns);  // outside mu_: it takes the watch's lock
  }
  // kNotify, with mu_ held: hands `*done` to a waiter for the slot of `key` (or, unless
  // `checks_seen` is kNoCheck, for the namespace check after that many) and says so.
  auto park = [&](uint64_t checks_seen, std::string_view what) -> absl::Status {
    Waiter w;
    w.key = key;
    w.checks_seen = checks_seen;
    w.metric = std::string(metric);
    w.resource = resource;
    w.deadline = std::chrono::steady_clock::now() + ToChrono(first_sample_timeout_.Get());
    w.timeout_error = Freshness(*def, ns, nullptr, now);
    w.done = std::move(*done);
    waiters_.push_back(std::move(w));
    *done = nullptr;
    return WithWhy(absl::UnavailableError(ToAbsl(what)), Why::kNotSampledYet);
  };
  std::shared_ptr<const Snapshot> snap;
  {
    std::unique_lock lock(mu_);
    // A namespace nobody demands yet: it must exist and be admitted.
    while (namespaced && !ns_demand_.contains(key.ns)) {
      Exists exists = NamespaceExists(*def, key.ns, has_pods, now);
      if (exists == Exists::kYes) {
        absl::Status admitted = AdmitNamespace(*def, ns, now);
        if (!admitted.ok()) return admitted;
        break;
      }
      if (exists == Exists::kNo) {
        metrics_->Rejected("unknown_namespace");
        return AbsentRead(set, def, ns, now);
      }
      if (exists == Exists::kFailed) {
        metrics_->Rejected("check_failed");
        return WithWhy(
            absl::UnavailableError(absl::StrCat("metric ", def->name, " in namespace ", ToAbsl(ns),
                                                ": cannot check whether the namespace exists: ",
                                                CheckError(BackendName(def->backend)).message())),
            Why::kBackendFailed);
      }
      // kCheck: wait for the next namespace check (one for every namespace that waits).
      if (!candidates_.contains(key) &&
          candidates_.size() >= static_cast<size_t>(config_.sampling.new_namespace_burst)) {
        metrics_->Rejected("rate_limited");
        return WithWhy(absl::UnavailableError(absl::StrCat(
                           "metric ", def->name, " in namespace ", ToAbsl(ns),
                           ": not sampled yet: too many new namespaces wait for their check "
                           "(sampling.newNamespaceBurst ",
                           config_.sampling.new_namespace_burst, "); ask again in a second")),
                       Why::kDemandLimit);
      }
      candidates_.emplace(key, now);
      check_wanted_ = true;
      cv_.notify_all();
      const uint64_t seen = checks_;
      if (stopping_) return Freshness(*def, ns, nullptr, now);
      switch (mode) {
        case ReadMode::kWait:
          published_cv_.wait_for(lock, ToChrono(first_sample_timeout_.Get()),
                                 [&] { return stopping_ || checks_ > seen; });
          if (checks_ == seen) return Freshness(*def, ns, nullptr, now);
          now = clock_.Now();
          continue;  // the check's round admitted it, or it now answers at once
        case ReadMode::kNow:
          return WithWhy(absl::UnavailableError(absl::StrCat(
                             "metric ", def->name, " in namespace ", ToAbsl(ns),
                             ": not sampled yet; checking whether the namespace exists")),
                         Why::kNotSampledYet);
        case ReadMode::kNotify:
          return park(seen, "waiting for the namespace check");
      }
    }
    if (!extra_matchers.empty() && !demand_.contains(key)) {
      // Selector variants are demanded by clients: at most kMaxSelectorVariants (variant,
      // namespace) pairs per definition; a new one evicts the least recently asked for.
      auto oldest = demand_.end();
      size_t variants = 0;
      for (auto it = demand_.lower_bound(SlotKey{key.metric, "", ""});
           it != demand_.end() && it->first.metric == key.metric; ++it) {
        if (it->first.matchers.empty()) continue;
        ++variants;
        if (oldest == demand_.end() || it->second < oldest->second) oldest = it;
      }
      if (variants >= kMaxSelectorVariants && oldest != demand_.end()) {
        evicted_.insert(oldest->first);
        urgent_.erase(oldest->first);
        EraseDemand(oldest);
        metrics_->VariantEvicted();
      }
    }
    AddDemand(key, now);
    if (snapshot_->FindSlot(key) == nullptr && !stopping_) {
      // A key the round under way already samples (admitted by its namespace check while this
      // read waited for it) waits for that round: asking again would query it twice.
      if (!in_round_.contains(key)) urgent_.insert(key);
      cv_.notify_all();
      switch (mode) {
        case ReadMode::kWait:
          published_cv_.wait_for(lock, ToChrono(first_sample_timeout_.Get()),
                                 [&] { return stopping_ || snapshot_->FindSlot(key) != nullptr; });
          break;
        case ReadMode::kNow:
          return WithWhy(absl::UnavailableError(
                             absl::StrCat("metric ", def->name, " in namespace ", ToAbsl(ns),
                                          ": not sampled yet; its first sample is on its way")),
                         Why::kNotSampledYet);
        case ReadMode::kNotify:
          return park(Waiter::kNoCheck, "waiting for the first sample");
      }
    }
    snap = snapshot_;
  }
  now = clock_.Now();  // after a first-sample wait, the sample may be younger than the request
  const Slot* slot = snap->FindSlot(key);
  absl::Status fresh = Freshness(*def, ns, slot, now);
  if (!fresh.ok()) return fresh;
  return MetricRead{set, def, snap, slot->table.get(), now - slot->table->sampled_at, nullptr};
}

void Sampler::FireWaiters() {
  std::vector<Waiter> ready;
  std::vector<Waiter> checked;
  std::vector<Waiter> expired;
  {
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (snapshot_->FindSlot(it->key) != nullptr) {
        ready.push_back(std::move(*it));
      } else if (!stopping_ && it->checks_seen != Waiter::kNoCheck && checks_ > it->checks_seen) {
        checked.push_back(std::move(*it));
      } else if (stopping_ || it->deadline <= now) {
        expired.push_back(std::move(*it));
      } else {
        ++it;
        continue;
      }
      it = waiters_.erase(it);
    }
  }
  // Outside the lock. The slot is published now, so this read does not wait.
  for (Waiter& w : ready) {
    w.done(ReadImpl(w.metric, w.key.ns, w.resource, w.key.matchers, ReadMode::kNow, nullptr));
  }
  // Their namespace check is done: ask again (answers at once, or waits for the first sample).
  for (Waiter& w : checked) {
    ReadWhenSampled(w.metric, w.key.ns, w.resource, w.key.matchers, std::move(w.done));
  }
  for (Waiter& w : expired) w.done(w.timeout_error);
}

bool Sampler::HasSlot(std::string_view metric, std::string_view ns,
                      const config::MetricResource& resource,
                      std::string_view extra_matchers) const {
  auto [set, def] = Lookup(resource, metric);
  if (def == nullptr) return false;
  if (def->namespace_label.empty()) {
    ns = "";
  } else if (ns != kAllNamespaces && !ValidateNamespace(ns).ok()) {
    return false;
  }
  return snapshot()->FindSlot(SlotKey{def->Key(), std::string(extra_matchers), std::string(ns)}) !=
         nullptr;
}

void Sampler::UpdateGauges() {
  std::shared_ptr<const Snapshot> snap = snapshot();
  absl::Time now = clock_.Now();
  std::map<std::string, std::pair<absl::Time, int64_t>>
      per_metric;  // oldest good sample, series held
  for (const auto& def : metrics()->definitions) {
    per_metric[def.Key()] = {absl::InfiniteFuture(), 0};
  }
  for (const auto& [key, slot] : snap->slots) {
    auto& entry = per_metric[IsAdhocKey(key.metric) ? std::string(kAdhocMetricLabel) : key.metric];
    if (slot.table) {
      entry.first = std::min(entry.first, slot.table->sampled_at);
      entry.second += static_cast<int64_t>(slot.table->pods.size());
    }
  }
  for (const auto& [metric, entry] : per_metric) {
    std::optional<double> age;
    if (entry.first != absl::InfiniteFuture()) age = absl::ToDoubleSeconds(now - entry.first);
    metrics_->SetGauges(metric, age, entry.second);
  }
  metrics_->SetDemand(static_cast<int64_t>(demanded_namespaces()));
}

}  // namespace aa::pipeline
