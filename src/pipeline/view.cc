#include "pipeline/view.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "pipeline/discovery.h"
#include "pipeline/object_select.h"
#include "pipeline/pod_select.h"
#include "pipeline/pod_source.h"
#include "pipeline/sampler.h"
#include "selector/selector.h"

namespace aa::pipeline {
namespace {

using Kind = config::MetricResource::Kind;

}  // namespace

bool Selection::Selected(size_t table_index) const {
  return std::binary_search(rows.begin(), rows.end(), table_index);
}

WorkloadStats Selection::Stats(std::optional<double> target,
                               std::optional<double> target_utilization) const {
  const PodValue* first = table->pods.data();
  return Aggregate(
      *definition, *table,
      [&](const PodValue& pod) { return Selected(static_cast<size_t>(&pod - first)); }, target,
      target_utilization);
}

namespace {

// The error for questions that select pods by labels while the pod-label index is stale.
absl::Status PodIndexError(const PodLabelSource* pods) {
  if (pods == nullptr) return absl::OkStatus();
  absl::Status s = pods->IndexStatus();
  if (s.ok()) return s;
  return WithWhy(
      absl::UnavailableError(absl::StrCat(
          "pods are selected by their labels from the Kubernetes pod watch: ", s.message())),
      Why::kBackendFailed);
}

// The rows of `read` that `q` selects.
absl::StatusOr<Selection> SelectRows(ObjectSource* objects, const PodLabelSource* pods,
                                     const Question& q, absl::StatusOr<MetricRead> read) {
  if (!read.ok()) return read.status();
  Selection sel;
  sel.metrics = std::move(read->metrics);
  sel.definition = read->definition;
  sel.snapshot = std::move(read->snapshot);
  sel.table = read->table;
  sel.age = read->age;
  const config::MetricDefinition& def = *sel.definition;
  const std::vector<PodValue>& rows = sel.table->pods;
  auto named = [&](const PodValue& v) { return !q.name || v.pod == *q.name; };
  // A query not restricted to namespaces (whole_cluster_query) can put objects of other namespaces
  // in this namespace's table (series without the namespace label count everywhere): a list keeps
  // the objects that exist here, as prometheus-adapter lists the namespace's objects first. A named
  // object is answered as asked (prometheus-adapter does not check that it exists either).
  const bool list_existing = def.whole_cluster_query && !q.name && !def.namespace_label.empty();

  if (def.resource.is(Kind::kPods)) {
    auto include = PodSelector(*sel.snapshot, q.ns, q.label_selector);
    if (!include.ok()) return WithWhy(include.status(), Why::kBadQuestion);
    if (*include) {
      if (absl::Status s = PodIndexError(pods); !s.ok()) {
        return absl::Status(
            s.code(), absl::StrCat("metric ", def.name, " in namespace ", q.ns, ": ", s.message()));
      }
    }
    if (q.name) {
      if (const PodValue* v = sel.table->Find(*q.name);
          v != nullptr && (!*include || (*include)(*v))) {
        sel.rows.push_back(static_cast<size_t>(v - rows.data()));
      }
    } else {
      const bool indexed = sel.snapshot->pod_labels.contains(q.ns);
      for (size_t i = 0; i < rows.size(); ++i) {
        if (list_existing && indexed && sel.snapshot->FindPodLabels(q.ns, rows[i].pod) == nullptr) {
          continue;
        }
        if (!*include || (*include)(rows[i])) sel.rows.push_back(i);
      }
    }
    if (sel.rows.empty()) {
      if (!q.name) sel.existing_pods = CountIndexedPods(*sel.snapshot, q.ns, q.label_selector);
      sel.named_pod_exists = q.name && sel.snapshot->FindPodLabels(q.ns, *q.name) != nullptr;
      sel.why_empty = sel.existing_pods == size_t{0} ? Why::kNoSuchObject : Why::kNoValue;
    }
    return sel;
  }

  if (!q.label_selector.empty()) {
    // Objects other than pods, by their Kubernetes labels (not the series' labels).
    auto parsed = selector::Selector::Parse(q.label_selector);
    if (!parsed.ok()) return WithWhy(parsed.status(), Why::kBadQuestion);
    if (!parsed->Empty()) {
      const KubeResource* kr = FindKubeResource(def.resource.name());
      if (kr == nullptr) {
        return WithWhy(absl::NotFoundError(absl::StrCat(
                           "labelSelector: unknown resource \"", def.resource.name(),
                           "\": objects are selected by their labels for the resources this "
                           "adapter knows (",
                           KnownResourceNames(), ")")),
                       Why::kBadQuestion);
      }
      if (objects == nullptr) {
        return WithWhy(absl::InvalidArgumentError(absl::StrCat(
                           "labelSelector: selecting ", def.resource.name(),
                           " by their labels is not supported without an object source (the "
                           "Kubernetes API or kube-state-metrics); name the object instead")),
                       Why::kBadQuestion);
      }
      auto names = objects->Select(*kr, kr->namespaced ? std::string_view(q.ns) : "", *parsed);
      if (!names.ok()) return WithWhy(names.status(), Why::kBackendFailed);
      for (size_t i = 0; i < rows.size(); ++i) {
        if (named(rows[i]) && std::binary_search(names->begin(), names->end(), rows[i].pod)) {
          sel.rows.push_back(i);
        }
      }
      if (sel.rows.empty()) {
        const bool picked = !names->empty() &&
                            (!q.name || std::binary_search(names->begin(), names->end(), *q.name));
        sel.why_empty = picked ? Why::kNoValue : Why::kNoSuchObject;
      }
      sel.objects = *std::move(names);
      return sel;
    }
  }
  std::optional<std::vector<std::string>> existing;
  if (const KubeResource* kr = FindKubeResource(def.resource.name());
      list_existing && objects != nullptr && kr != nullptr && kr->namespaced) {
    auto names = objects->Select(*kr, q.ns, selector::Selector());
    if (names.ok()) existing = *std::move(names);
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    if (existing && !std::binary_search(existing->begin(), existing->end(), rows[i].pod)) continue;
    if (named(rows[i])) sel.rows.push_back(i);
  }
  if (sel.rows.empty()) sel.why_empty = Why::kNoValue;
  return sel;
}

// Values are finite one by one (the sampler drops NaN and Inf samples), but their sum, or a
// windowed average, may still overflow: such a total is an error, never a quantity.
absl::Status CheckFinite(const Selection& sel, const Question& q) {
  if (sel.rows.empty()) return absl::OkStatus();
  const WorkloadStats stats = sel.Stats();
  const bool total_bad = !std::isfinite(stats.total);
  const double bad = total_bad ? stats.total : stats.baseline_total;
  if (std::isfinite(bad)) return absl::OkStatus();
  return WithWhy(absl::UnavailableError(absl::StrCat(
                     "metric ", sel.def().name, q.ns.empty() ? "" : " in namespace ", q.ns,
                     ": the ", total_bad ? "total" : "baseline total", " of the ", sel.rows.size(),
                     " selected values is ", std::isnan(bad) ? "NaN" : (bad > 0 ? "+Inf" : "-Inf"),
                     " (the values overflow a double): not served")),
                 Why::kBackendFailed);
}

absl::StatusOr<Selection> Answer(ObjectSource* objects, const PodLabelSource* pods,
                                 const Question& q, absl::StatusOr<MetricRead> read) {
  absl::StatusOr<Selection> sel = SelectRows(objects, pods, q, std::move(read));
  if (sel.ok()) {
    if (absl::Status s = CheckFinite(*sel, q); !s.ok()) return s;
  }
  return sel;
}

}  // namespace

View::View(Sampler& sampler, ObjectSource* objects) : sampler_(sampler), objects_(objects) {}

std::shared_ptr<const MetricSet> View::metrics() const { return sampler_.metrics(); }

std::shared_ptr<const Snapshot> View::snapshot() const { return sampler_.snapshot(); }

std::vector<std::string> View::Namespaces(const config::MetricDefinition& def) const {
  std::vector<std::string> out = sampler_.snapshot()->Namespaces(def.Key());
  for (const std::string& w : sampler_.config().sampling.warm_namespaces) out.push_back(w);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

const config::Config& View::config() const { return sampler_.config(); }

absl::Duration View::discovery_interval() const { return sampler_.config().discovery_interval; }

absl::StatusOr<Selection> View::Select(const Question& q) const {
  return Answer(objects_, sampler_.pod_label_source(), q,
                sampler_.Read(q.metric, q.ns, q.resource, q.series_matchers));
}

absl::StatusOr<Selection> View::SelectNow(const Question& q) const {
  return Answer(objects_, sampler_.pod_label_source(), q,
                sampler_.ReadNow(q.metric, q.ns, q.resource, q.series_matchers));
}

absl::Status View::PodIndexStatus() const { return PodIndexError(sampler_.pod_label_source()); }

bool View::Sampled(const Question& q) const {
  return sampler_.HasSlot(q.metric, q.ns, q.resource, q.series_matchers);
}

void View::SelectWhenSampled(Question q, Done done) const {
  const std::string metric = q.metric, ns = q.ns, matchers = q.series_matchers;
  const config::MetricResource resource = q.resource;
  sampler_.ReadWhenSampled(
      metric, ns, resource, matchers,
      [objects = objects_, pods = sampler_.pod_label_source(), q = std::move(q),
       done = std::move(done)](absl::StatusOr<MetricRead> read) {
        done(Answer(objects, pods, q, std::move(read)));
      });
}

absl::StatusOr<std::string> View::DefineAdhoc(config::MetricDefinition def) const {
  return sampler_.DefineAdhoc(std::move(def));
}

absl::Status View::ReadyStatus() const { return sampler_.ReadyStatus(); }

void View::UpdateGauges() const { sampler_.UpdateGauges(); }

uint64_t View::Subscribe(Listener listener) const {
  return sampler_.Subscribe(std::move(listener));
}

void View::Unsubscribe(uint64_t id) const { sampler_.Unsubscribe(id); }

}  // namespace aa::pipeline
