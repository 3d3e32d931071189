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
#include "selector/field_selector.h"
#include "selector/selector.h"

namespace aa::pipeline {
namespace {

using Kind = config::MetricResource::Kind;

}  // namespace

namespace {

// What the row named `rest` describes (Selection::Object).
RowObject SplitRow(const config::MetricDefinition& def, std::string_view ns, bool all_namespaces,
                   std::string_view rest) {
  RowObject o;
  o.ns = ns;
  if (all_namespaces) {  // "<namespace>/..."
    const size_t slash = rest.find('/');
    o.ns = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  }
  if (!def.container_label.empty()) {  // "<pod>/<container>"
    const size_t slash = rest.find('/');
    if (slash != std::string_view::npos) {
      o.container = rest.substr(slash + 1);
      rest = rest.substr(0, slash);
    }
  }
  o.name = rest;
  return o;
}

}  // namespace

RowObject Selection::Object(size_t i) const {
  return SplitRow(*definition, ns, all_namespaces, row(i).pod);
}

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

// The namespace the sampler reads for `q`.
std::string_view SamplerNamespace(const Question& q) {
  return q.all_namespaces ? kAllNamespaces : std::string_view(q.ns);
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
  const bool namespaced = !def.namespace_label.empty();
  sel.ns = namespaced ? q.ns : "";
  sel.all_namespaces = namespaced && q.all_namespaces;
  if (sel.all_namespaces) sel.ns.clear();
  const std::string where = sel.all_namespaces ? "every namespace" : "namespace ";
  auto fields = selector::FieldSelector::Parse(q.field_selector);
  if (!fields.ok()) return WithWhy(fields.status(), Why::kBadQuestion);
  // Objects other than pods: by name, and by their fields (their namespace is the question's).
  auto named = [&](const PodValue& v) {
    return (!q.name || v.pod == *q.name) && fields->Matches({v.pod, sel.ns});
  };
  // A query not restricted to namespaces (whole_cluster_query) can put objects of other namespaces
  // in this namespace's table (series without the namespace label count everywhere): a list keeps
  // the objects that exist here, as prometheus-adapter lists the namespace's objects first. A named
  // object is answered as asked (prometheus-adapter does not check that it exists either). The
  // whole-cluster table has only series with their own namespace.
  const bool list_existing =
      def.whole_cluster_query && !q.name && namespaced && !sel.all_namespaces;

  if (def.resource.is(Kind::kPods) || def.resource.is(Kind::kContainers)) {
    // Pods by their labels, from the index of their namespace (one predicate per namespace).
    auto include = PodSelector(*sel.snapshot, sel.ns, q.label_selector);
    if (!include.ok()) return WithWhy(include.status(), Why::kBadQuestion);
    if (*include) {
      if (absl::Status s = PodIndexError(pods); !s.ok()) {
        return absl::Status(
            s.code(), absl::StrCat("metric ", def.name, " in ", where, sel.ns, ": ", s.message()));
      }
    }
    std::string_view include_ns = sel.ns;
    PodValue probe;
    const bool indexed = list_existing && sel.snapshot->pod_labels.contains(q.ns);
    auto selected = [&](const PodValue& v) {
      const RowObject o = SplitRow(def, sel.ns, sel.all_namespaces, v.pod);
      if (q.name && o.name != *q.name) return false;
      if (indexed && sel.snapshot->FindPodLabels(q.ns, o.name) == nullptr) return false;
      if (!fields->Matches({o.name, o.ns})) return false;
      if (!*include) return true;
      if (o.ns != include_ns) {
        include_ns = o.ns;
        include = PodSelector(*sel.snapshot, o.ns, q.label_selector);
      }
      probe.pod = std::string(o.name);
      return (*include)(probe);
    };
    if (q.name && def.resource.is(Kind::kPods) && !sel.all_namespaces) {
      if (const PodValue* v = sel.table->Find(*q.name); v != nullptr && selected(*v)) {
        sel.rows.push_back(static_cast<size_t>(v - rows.data()));
      }
    } else {
      for (size_t i = 0; i < rows.size(); ++i) {
        if (selected(rows[i])) sel.rows.push_back(i);
      }
    }
    if (sel.rows.empty()) {
      if (!q.name && !sel.all_namespaces && fields->Empty()) {
        sel.existing_pods = CountIndexedPods(*sel.snapshot, q.ns, q.label_selector);
      }
      sel.named_pod_exists =
          q.name && !sel.all_namespaces && sel.snapshot->FindPodLabels(q.ns, *q.name) != nullptr;
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

const prom::Backends& View::backends() const { return sampler_.backends(); }

absl::Duration View::discovery_interval() const { return sampler_.config().discovery_interval; }

absl::StatusOr<Selection> View::Select(const Question& q) const {
  return Answer(objects_, sampler_.pod_label_source(), q,
                sampler_.Read(q.metric, SamplerNamespace(q), q.resource, q.series_matchers));
}

absl::StatusOr<Selection> View::SelectNow(const Question& q) const {
  return Answer(objects_, sampler_.pod_label_source(), q,
                sampler_.ReadNow(q.metric, SamplerNamespace(q), q.resource, q.series_matchers));
}

absl::Status View::PodIndexStatus() const { return PodIndexError(sampler_.pod_label_source()); }

bool View::Sampled(const Question& q) const {
  return sampler_.HasSlot(q.metric, SamplerNamespace(q), q.resource, q.series_matchers);
}

void View::SelectWhenSampled(Question q, Done done) const {
  const std::string metric = q.metric, ns(SamplerNamespace(q)), matchers = q.series_matchers;
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
