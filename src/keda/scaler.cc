#include "keda/scaler.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/strings.h"
#include "selector/selector.h"

namespace aa::keda {
namespace {

constexpr size_t kMaxListedNames = 50;
using Kind = config::MetricResource::Kind;

// Definitions KEDA triggers may name: the metrics.k8s.io internals (per-container and per-node cpu
// and memory) are not metrics of a workload.
bool ServedToKeda(const config::MetricDefinition& def) {
  return !def.resource.is(Kind::kContainers) && !def.resource.is(Kind::kNodeMetrics);
}

std::vector<const config::MetricDefinition*> Candidates(const pipeline::MetricSet& set,
                                                        std::string_view name) {
  std::vector<const config::MetricDefinition*> out;
  for (const config::MetricDefinition* def : set.FindAll(name)) {
    if (ServedToKeda(*def)) out.push_back(def);
  }
  return out;
}

std::string Resources(const std::vector<const config::MetricDefinition*>& defs) {
  std::vector<std::string> names;
  names.reserve(defs.size());
  for (const config::MetricDefinition* def : defs) names.push_back(def->resource.name());
  return absl::StrJoin(names, ", ");
}

// "concurrency, cpu, http_requests_per_second (pods, namespaces), queue_depth (external)".
std::string ServedNames(const pipeline::MetricSet& set) {
  std::vector<std::string> out;
  size_t total = 0;
  for (const auto& [name, indexes] : set.by_name) {
    auto defs = Candidates(set, name);
    if (defs.empty()) continue;
    if (++total > kMaxListedNames) continue;
    if (defs.size() == 1 && defs[0]->resource.is(Kind::kPods)) {
      out.push_back(name);
    } else {
      out.push_back(absl::StrCat(name, " (", Resources(defs), ")"));
    }
  }
  if (total > kMaxListedNames) out.push_back(absl::StrCat("... (", total - out.size(), " more)"));
  return out.empty() ? std::string("none") : absl::StrJoin(out, ", ");
}

constexpr size_t kMaxQuotedQuery = 200;

// The query as messages quote it.
std::string QuotedQuery(const std::string& query) {
  if (query.size() <= kMaxQuotedQuery) return absl::StrCat("\"", query, "\"");
  return absl::StrCat("\"", query.substr(0, kMaxQuotedQuery), "...\"");
}

}  // namespace

Scaler::Scaler(pipeline::View view) : view_(view), alive_(std::make_shared<Alive>()) {
  for (const std::string& regex : view_.config().keda.adhoc_queries.allowlist) {
    allowlist_.push_back(std::make_unique<RE2>(regex, RE2::Quiet));
  }
}

absl::StatusOr<std::string> Scaler::DefineAdhoc(const Trigger& trigger) const {
  const config::Config& cfg = view_.config();
  const AdhocQuery& a = *trigger.adhoc;
  if (!cfg.keda.adhoc_queries.enabled) {
    return absl::PermissionDeniedError(
        "scalerMetadata.query: this adapter does not run queries of triggers "
        "(keda.adhocQueries.enabled is false): name a metric it serves with `metric` instead");
  }
  if (!allowlist_.empty() &&
      std::none_of(allowlist_.begin(), allowlist_.end(),
                   [&](const auto& re) { return RE2::FullMatch(a.query, *re); })) {
    return absl::PermissionDeniedError(absl::StrCat("scalerMetadata.query: ", QuotedQuery(a.query),
                                                    " matches none of the ", allowlist_.size(),
                                                    " regexes of keda.adhocQueries.allowlist"));
  }
  // serverAddress names a configured backend, by name or by its URL (none: the default one).
  std::string backend(prom::Backends::kDefault);
  if (!a.server_address.empty()) {
    const prom::Backends& backends = view_.backends();
    if (backends.Find(a.server_address) != nullptr) {
      backend = a.server_address;
    } else if (std::optional<std::string> by_url = backends.FindByUrl(a.server_address)) {
      backend = *by_url;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "scalerMetadata.serverAddress: \"", a.server_address.substr(0, 200),
          "\" is not a backend of this adapter: give a backend's name (default, or one of "
          "`backends:`) or its URL as configured; the adapter queries no other address"));
    }
  }
  config::MetricDefinition def;
  def.adhoc = true;
  def.backend = backend;
  def.query = a.query;
  def.query_options = a.options;
  return view_.DefineAdhoc(std::move(def));
}

absl::StatusOr<Observation> Scaler::AdhocObservation(const Trigger& trigger,
                                                     const pipeline::Selection& sel) const {
  const AdhocQuery& a = *trigger.adhoc;
  const size_t elements = sel.rows.size() + static_cast<size_t>(sel.table->dropped_non_finite);
  double value = 0;
  if (elements > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("prometheus query ", QuotedQuery(a.query), " returned multiple elements (",
                     elements, "): it must return one; aggregate it, e.g. sum(...)"));
  }
  if (elements == 0 && !a.ignore_null_values) {
    return absl::UnavailableError(
        absl::StrCat("prometheus query ", QuotedQuery(a.query),
                     ": target may be lost, the result is empty (ignoreNullValues is false)"));
  }
  if (elements == 1 && sel.rows.empty() && !a.ignore_null_values) {
    return absl::UnavailableError(
        absl::StrCat("prometheus query ", QuotedQuery(a.query),
                     ": the value is NaN, Inf or missing (ignoreNullValues is false)"));
  }
  if (!sel.rows.empty()) value = sel.row(0).value;
  Observation obs;
  obs.metrics = sel.metrics;
  obs.definition = sel.definition;
  obs.generation = sel.snapshot->generation;
  obs.stats.total = value;
  obs.stats.pods = static_cast<int>(elements);
  return obs;
}

absl::Status Scaler::UnknownMetric(const Trigger& trigger, const pipeline::MetricSet& set) const {
  std::string gone;
  {
    absl::MutexLock lock(&seen_mu_);
    if (auto it = seen_discovered_.find(trigger.metric); it != seen_discovered_.end()) {
      gone = it->second;
    }
  }
  if (!gone.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "scalerMetadata.metric: metric \"", trigger.metric, "\" (", gone,
        ") is no longer served: the latest rule discovery found no series for it (discovery runs "
        "every ",
        absl::FormatDuration(view_.discovery_interval()),
        "; the metric comes back when its series do); this adapter serves: ", ServedNames(set)));
  }
  return absl::NotFoundError(absl::StrCat("scalerMetadata.metric: unknown metric \"",
                                          trigger.metric,
                                          "\"; this adapter serves: ", ServedNames(set)));
}

absl::StatusOr<ResolvedMetric> Scaler::Resolve(const Trigger& trigger) const {
  ResolvedMetric out;
  if (trigger.adhoc) {
    auto name = DefineAdhoc(trigger);
    if (!name.ok()) return name.status();
    out.adhoc_name = *std::move(name);
    return out;
  }
  out.metrics = view_.metrics();
  const pipeline::MetricSet& set = *out.metrics;
  std::vector<const config::MetricDefinition*> defs = Candidates(set, trigger.metric);
  if (defs.empty()) return UnknownMetric(trigger, set);
  if (!trigger.resource.empty()) {
    const config::MetricResource wanted = config::MetricResource::FromName(trigger.resource);
    for (const config::MetricDefinition* def : defs) {
      if (def->resource == wanted) out.definition = def;
    }
    if (out.definition == nullptr) {
      return absl::NotFoundError(absl::StrCat("scalerMetadata.resource: metric \"", trigger.metric,
                                              "\" is not served for \"", trigger.resource,
                                              "\"; it is served for: ", Resources(defs)));
    }
  } else {
    for (const config::MetricDefinition* def : defs) {
      if (def->resource.is(Kind::kPods)) out.definition = def;
    }
    if (out.definition == nullptr && defs.size() == 1) out.definition = defs[0];
    if (out.definition == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("scalerMetadata.resource: metric \"", trigger.metric,
                       "\" is served for several resources (", Resources(defs),
                       "): set resource to the one to scale on"));
    }
  }
  const config::MetricDefinition& def = *out.definition;
  if (def.resource.is(Kind::kPods)) {
    out.object_selector = trigger.label_selector;
  } else if (!trigger.inference_service.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "scalerMetadata.inferenceService: selects pods, but metric \"", def.name, "\" is ",
        def.resource.is(Kind::kExternal)
            ? std::string("an external metric: use labelSelector to filter its series")
            : absl::StrCat("a metric of ", def.resource.name())));
  } else if (def.resource.is(Kind::kExternal)) {
    // As external.metrics.k8s.io serves externalRules: the selector filters the series in the
    // query.
    auto series =
        selector::ParseSeriesSelector(trigger.label_selector, "scalerMetadata.labelSelector");
    if (!series.ok()) return series.status();
    out.extra_matchers = std::move(series->matchers);
  } else if (def.resource.is(Kind::kNamespaces) && !trigger.label_selector.empty()) {
    return absl::InvalidArgumentError(
        "scalerMetadata.labelSelector: a namespaces metric is the trigger's namespace's own value; "
        "there is nothing to select");
  } else if (!trigger.label_selector.empty()) {
    // As custom.metrics.k8s.io serves {resource}/*/{metric}?labelSelector=: the view asks the
    // object source which objects the selector picks (it refuses resources it cannot list).
    out.object_selector = trigger.label_selector;
    out.asks_object_source = true;
  }
  if (!def.rule.empty()) {
    absl::MutexLock lock(&seen_mu_);
    if (seen_discovered_.size() < kMaxRemembered || seen_discovered_.contains(def.name)) {
      seen_discovered_[def.name] = absl::StrCat(def.resource.name(), ", from ", def.rule);
    }
  }
  return out;
}

pipeline::Question Scaler::QuestionFor(const Trigger& trigger, const ResolvedMetric& metric) {
  pipeline::Question q;
  if (!metric.adhoc_name.empty()) {
    q.metric = metric.adhoc_name;
    q.resource = config::MetricResource::KedaAdhoc();
    return q;
  }
  q.metric = trigger.metric;
  q.resource = metric.definition->resource;
  q.ns = trigger.ns;
  q.label_selector = metric.object_selector;
  q.series_matchers = metric.extra_matchers;
  return q;
}

bool Scaler::WouldWait(const Trigger& trigger) const {
  auto metric = Resolve(trigger);
  return metric.ok() && !view_.Sampled(QuestionFor(trigger, *metric));
}

bool Scaler::AsksObjectSource(const Trigger& trigger) const {
  auto metric = Resolve(trigger);
  return metric.ok() && metric->asks_object_source;
}

void Scaler::Demand(const Trigger& trigger) const {
  auto metric = Resolve(trigger);
  if (!metric.ok()) return;
  // What is sampled is (metric, namespace, matchers); which objects are picked does not matter, so
  // the object source is not asked.
  pipeline::Question q = QuestionFor(trigger, *metric);
  q.label_selector.clear();
  (void)view_.SelectNow(q);
}

absl::StatusOr<Observation> Scaler::Observe(const Trigger& trigger,
                                            absl::StatusOr<pipeline::Selection> sel) const {
  if (!sel.ok()) {
    // The metric may have disappeared between Resolve() and the read.
    if (pipeline::WhyOf(sel.status()) == pipeline::Why::kUnknownMetric) {
      auto again = Resolve(trigger);
      if (!again.ok()) return again.status();
    }
    return sel.status();
  }
  if (trigger.adhoc) return AdhocObservation(trigger, *sel);
  Observation obs;
  obs.metrics = sel->metrics;
  obs.definition = sel->definition;
  obs.generation = sel->snapshot->generation;
  obs.stats = sel->Stats();
  return obs;
}

absl::StatusOr<Observation> Scaler::Stats(const Trigger& trigger) const {
  auto metric = Resolve(trigger);
  if (!metric.ok()) return metric.status();
  return Observe(trigger, view_.Select(QuestionFor(trigger, *metric)));
}

absl::StatusOr<Observation> Scaler::StatsIfSampled(const Trigger& trigger) const {
  auto metric = Resolve(trigger);
  if (!metric.ok()) return metric.status();
  pipeline::Question q = QuestionFor(trigger, *metric);
  if (!view_.Sampled(q)) {
    return absl::FailedPreconditionError(
        absl::StrCat("metric ", trigger.metric, " in namespace ", trigger.ns, ": not sampled yet"));
  }
  return Observe(trigger, view_.Select(q));
}

void Scaler::StatsWhenSampled(const Trigger& trigger, ObservationDone done) const {
  auto metric = Resolve(trigger);
  if (!metric.ok()) return done(metric.status());
  if (metric->asks_object_source) {
    return done(absl::FailedPreconditionError(
        "internal: a trigger that selects objects by labels is read with Stats(), not on the "
        "sampling thread"));
  }
  view_.SelectWhenSampled(QuestionFor(trigger, *metric),
                          [this, alive = alive_, trigger,
                           done = std::move(done)](absl::StatusOr<pipeline::Selection> sel) {
                            absl::MutexLock lock(&alive->mu);
                            if (!alive->alive) return;  // this scaler is gone
                            done(Observe(trigger, std::move(sel)));
                          });
}

void Scaler::Stop() {
  absl::MutexLock lock(&alive_->mu);
  alive_->alive = false;
}

bool Scaler::SpecReads(const Trigger& trigger) const {
  if (trigger.adhoc) return false;
  auto metric = Resolve(trigger);
  if (!metric.ok()) return false;
  auto rule = ResolveTargetRule(trigger, *metric->definition);
  return rule.ok() && rule->kind == TargetRule::Kind::kBaselinePercent;
}

absl::StatusOr<MetricSpecResult> Scaler::MetricSpec(const Trigger& trigger) const {
  return MetricSpec(trigger, SpecReads(trigger) ? Stats(trigger) : absl::StatusOr<Observation>());
}

absl::StatusOr<MetricSpecResult> Scaler::MetricSpec(
    const Trigger& trigger, const absl::StatusOr<Observation>& observed) const {
  auto metric = Resolve(trigger);
  if (!metric.ok()) return metric.status();
  if (trigger.adhoc) {
    const double threshold = trigger.adhoc->threshold;
    return MetricSpecResult{trigger.MetricName(), threshold, TargetSize(threshold)};
  }
  auto rule = ResolveTargetRule(trigger, *metric->definition);
  if (!rule.ok()) return rule.status();
  pipeline::WorkloadStats stats;
  if (rule->kind == TargetRule::Kind::kBaselinePercent) {
    if (!observed.ok()) return observed.status();
    stats = observed->stats;
  }
  auto target = PerPodTarget(*rule, stats, trigger.metric);
  if (!target.ok()) return target.status();
  return MetricSpecResult{trigger.MetricName(), *target, TargetSize(*target)};
}

absl::StatusOr<MetricValueResult> Scaler::Metrics(const Trigger& trigger) const {
  return Metrics(trigger, Stats(trigger));
}

absl::StatusOr<MetricValueResult> Scaler::Metrics(const Trigger& trigger,
                                                  const absl::StatusOr<Observation>& obs) const {
  if (!obs.ok()) return obs.status();
  return MetricValueResult{trigger.MetricName(), obs->stats.total, RoundForKeda(obs->stats.total),
                           obs->stats.pods};
}

absl::StatusOr<bool> Scaler::IsActive(const Trigger& trigger) const {
  return IsActive(trigger, Stats(trigger));
}

absl::StatusOr<bool> Scaler::IsActive(const Trigger& trigger,
                                      const absl::StatusOr<Observation>& obs) const {
  if (!obs.ok()) return obs.status();
  return obs->stats.total > trigger.activation_threshold;
}

}  // namespace aa::keda
