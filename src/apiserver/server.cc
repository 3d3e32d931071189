#include "apiserver/server.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "apiserver/wire.h"
#include "common/strings.h"
#include "pipeline/discovery.h"
#include "pipeline/object_select.h"
#include "pipeline/pod_select.h"
#include "pipeline/validation.h"
#include "pipeline/workload.h"
#include "selector/field_selector.h"
#include "selector/selector.h"

namespace aa::apiserver {
namespace {

using net::HttpRequest;
using net::HttpResponse;
using Kind = config::MetricResource::Kind;

constexpr std::string_view kCustomGroup = "custom.metrics.k8s.io";
constexpr std::string_view kExternalGroup = "external.metrics.k8s.io";
constexpr std::string_view kResourceGroup = "metrics.k8s.io";
// The one container a PodMetrics item reports (the pipeline keeps per-pod values only).
constexpr std::string_view kContainerName = "kserve-container";

HttpResponse Body(std::string body, std::string route) {
  HttpResponse r;
  r.body = std::move(body);
  r.route = std::move(route);
  return r;
}

HttpResponse Error(const absl::Status& status, std::string route) {
  HttpResponse r;
  r.status = HttpCodeFor(status.code());
  r.body = StatusJson(status);
  r.route = std::move(route);
  return r;
}

HttpResponse Text(int status, std::string body, std::string route) {
  HttpResponse r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(body);
  r.route = std::move(route);
  return r;
}

int64_t WindowSeconds(const config::MetricDefinition& def) {
  if (def.preset.window > absl::ZeroDuration()) {
    int64_t s = absl::ToInt64Seconds(def.preset.window);
    return s > 0 ? s : 1;
  }
  return 60;
}

bool IsVersion(std::string_view group, std::string_view version) {
  if (group == kCustomGroup) return version == "v1beta2" || version == "v1beta1";
  return (group == kExternalGroup || group == kResourceGroup) && version == "v1beta1";
}

std::string Param(const HttpRequest& req, std::string_view name) {
  const std::string* v = req.Param(name);
  return v ? *v : std::string();
}

// A labelSelector that failed to parse or to select: 400 BadRequest naming the parameter.
absl::Status LabelSelectorError(const absl::Status& s) {
  return absl::InvalidArgumentError(absl::StrCat("labelSelector: ", s.message()));
}

// The error of a question about pods whose namespace was checked: a bad question is then the
// labelSelector.
absl::Status PodsQuestionError(const absl::Status& s) {
  return pipeline::WhyOf(s) == pipeline::Why::kBadQuestion ? LabelSelectorError(s) : s;
}

absl::Status CheckNamespace(std::string_view ns) { return pipeline::ValidateNamespace(ns); }

// A fieldSelector as the generic apiserver checks it before anything else: 400 with upstream's
// message when malformed or naming a field other than metadata.name and metadata.namespace (the
// view applies it).
absl::Status CheckFieldSelector(const HttpRequest& req) {
  return selector::FieldSelector::Parse(Param(req, "fieldSelector")).status();
}

// A metric name as the config allows it: [a-zA-Z_:][a-zA-Z0-9_:.-]*. Anything else cannot exist.
absl::Status CheckMetricName(std::string_view metric) {
  auto ok_first = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
  };
  auto ok_rest = [&](char c) {
    return ok_first(c) || (c >= '0' && c <= '9') || c == '.' || c == '-';
  };
  bool ok = !metric.empty() && metric.size() <= 253 && ok_first(metric[0]);
  for (size_t i = 1; ok && i < metric.size(); ++i) ok = ok_rest(metric[i]);
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("invalid metric name \"",
                                                 ToAbsl(metric.substr(0, 80)),
                                                 "\": must match [a-zA-Z_:][a-zA-Z0-9_:.-]*"));
}

absl::StatusOr<SeriesSelector> ParseSeriesSelector(const HttpRequest& req, std::string_view param) {
  auto parsed = selector::ParseSeriesSelector(Param(req, param), param);
  if (!parsed.ok()) return parsed.status();
  SeriesSelector out;
  out.matchers = std::move(parsed->matchers);
  // As metav1.ParseToLabelSelector prints it.
  for (const selector::Requirement& r : parsed->selector.requirements()) {
    switch (r.op) {
      case selector::Op::kEquals:
      case selector::Op::kDoubleEquals:
        out.match_labels[r.key] = r.values[0];
        break;
      case selector::Op::kNotEquals:
      case selector::Op::kNotIn:
        out.expressions.push_back({r.key, "NotIn", r.values});
        break;
      case selector::Op::kIn:
        out.expressions.push_back({r.key, "In", r.values});
        break;
      case selector::Op::kExists:
        out.expressions.push_back({r.key, "Exists", {}});
        break;
      case selector::Op::kDoesNotExist:
        out.expressions.push_back({r.key, "DoesNotExist", {}});
        break;
      default:
        break;  // > and < have no PromQL matcher: refused above
    }
  }
  return out;
}

// One custom metrics item: `value` of `def` for `object`, sampled at `at`, echoing `series`.
CustomMetricItem CustomItem(const config::MetricDefinition& def, absl::Time at,
                            DescribedObject object, double value, const SeriesSelector& series) {
  CustomMetricItem item;
  item.object = std::move(object);
  item.metric = def.name;
  item.selector = series.match_labels;
  item.selector_expressions = series.expressions;
  item.timestamp = at;
  item.window_seconds = WindowSeconds(def);
  item.value = value;
  return item;
}

// One external metrics item: `value` of `def` with `labels`, sampled at `at`.
ExternalMetricItem ExternalItem(const config::MetricDefinition& def, absl::Time at,
                                std::map<std::string, std::string> labels, double value) {
  ExternalMetricItem item;
  item.metric = def.name;
  item.labels = std::move(labels);
  item.timestamp = at;
  item.window_seconds = WindowSeconds(def);
  item.value = value;
  return item;
}

}  // namespace

HttpResponse StatusResponse(int status, const std::string& message) {
  HttpResponse r;
  r.status = status;
  r.body = StatusJson(status, message);
  r.route = "rejected";
  return r;
}

HttpResponse MetricsApi::Handle(const HttpRequest& req) const {
  const std::string& path = req.path;
  if (path == "/healthz" || path == "/livez") return Text(200, "ok", path);
  if (http::Readiness::IsReadyzPath(path)) return readiness_->Handle(req);
  if (req.method != "GET" && req.method != "HEAD") {
    HttpResponse r;
    r.status = 405;
    r.body = StatusJson(405, absl::StrCat("method ", req.method, " is not allowed on ", path,
                                          ": the metrics APIs are read-only (GET)"));
    r.route = "method";
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  if (path.empty() || path[0] != '/') {
    return Error(absl::InvalidArgumentError(absl::StrCat("malformed path \"", path, "\"")),
                 "unknown");
  }
  std::vector<std::string> parts = absl::StrSplit(path.substr(1), '/');
  if (!parts.empty() && parts.back().empty()) parts.pop_back();  // one trailing slash is fine
  for (const std::string& p : parts) {
    if (p.empty()) {
      return Error(
          absl::InvalidArgumentError(absl::StrCat("malformed path \"", path, "\": empty segment")),
          "unknown");
    }
  }
  auto not_found = [&](std::string_view what) {
    return Error(absl::NotFoundError(absl::StrCat("the server could not find the requested "
                                                  "resource: ",
                                                  ToAbsl(what), " ", path)),
                 "unknown");
  };
  if (parts.empty() || parts[0] != "apis") return not_found("path");
  if (parts.size() == 1) return Body(GroupListJson(), "/apis");
  const std::string& group = parts[1];
  if (group != kCustomGroup && group != kExternalGroup && group != kResourceGroup) {
    return not_found("group");
  }
  if (parts.size() == 2) return Body(GroupJson(group), "/apis/{group}");
  const std::string& version = parts[2];
  if (!IsVersion(group, version)) return not_found("version");
  if (parts.size() == 3) {
    auto lists = ResourceLists();
    auto it = lists->find(absl::StrCat(ToAbsl(group), "/", ToAbsl(version)));
    if (it == lists->end()) return not_found("version");
    return Body(it->second, "/apis/{group}/{version}");
  }

  std::vector<std::string_view> rest(parts.begin() + 3, parts.end());
  if (group == kCustomGroup) {
    std::string route = absl::StrCat("/apis/", group, "/{version}");
    if (rest[0] == "namespaces" && rest.size() == 5 && rest[2] == "pods") {
      return CustomPods(req, version, rest[1], rest[3], rest[4],
                        route + "/namespaces/{ns}/pods/{name}/{metric}");
    }
    if (rest[0] == "namespaces" && rest.size() == 4 && rest[2] == "metrics") {
      return CustomNamespace(req, version, rest[1], rest[3],
                             route + "/namespaces/{ns}/metrics/{metric}");
    }
    if (rest[0] == "namespaces" && rest.size() == 3 && rest[1] != "*") {
      return CustomNamespace(req, version, rest[1], rest[2], route + "/namespaces/{name}/{metric}");
    }
    if (rest[0] == "namespaces" && rest.size() == 5) {
      return CustomObject(req, version, rest[1], rest[2], rest[3], rest[4],
                          route + "/namespaces/{ns}/{resource}/{name}/{metric}");
    }
    if (rest.size() == 3) {
      return CustomObject(req, version, std::nullopt, rest[0], rest[1], rest[2],
                          route + "/{resource}/{name}/{metric}");
    }
    return Error(absl::InvalidArgumentError(
                     absl::StrCat("malformed custom metrics path \"", path,
                                  "\": expected namespaces/{ns}/pods/{name|*}/{metric} or "
                                  "namespaces/{ns}/metrics/{metric}")),
                 route + "/malformed");
  }
  if (group == kExternalGroup) {
    std::string route = "/apis/external.metrics.k8s.io/v1beta1/namespaces/{ns}/{metric}";
    if (rest.size() == 3 && rest[0] == "namespaces") {
      return External(req, rest[1], rest[2], route);
    }
    return Error(absl::InvalidArgumentError(absl::StrCat("malformed external metrics path \"", path,
                                                         "\": expected namespaces/{ns}/{metric}")),
                 "/apis/external.metrics.k8s.io/v1beta1/malformed");
  }
  // metrics.k8s.io
  std::string route = "/apis/metrics.k8s.io/v1beta1";
  if (rest.size() == 1 && rest[0] == "pods") {
    return ResourcePods(req, std::nullopt, std::nullopt, route + "/pods");
  }
  if (rest.size() == 3 && rest[0] == "namespaces" && rest[2] == "pods") {
    return ResourcePods(req, rest[1], std::nullopt, route + "/namespaces/{ns}/pods");
  }
  if (rest.size() == 4 && rest[0] == "namespaces" && rest[2] == "pods") {
    return ResourcePods(req, rest[1], rest[3], route + "/namespaces/{ns}/pods/{name}");
  }
  if (rest.size() == 1 && rest[0] == "nodes") {
    return ResourceNodes(req, std::nullopt, route + "/nodes");
  }
  if (rest.size() == 2 && rest[0] == "nodes") {
    return ResourceNodes(req, rest[1], route + "/nodes/{name}");
  }
  return Error(absl::NotFoundError(absl::StrCat("the server could not find the requested "
                                                "resource: ",
                                                path)),
               route + "/unknown");
}

MetricsApi::MetricsApi(pipeline::View view, Clock& clock, const http::Readiness* readiness)
    : view_(view),
      clock_(clock),
      own_readiness_(readiness == nullptr ? http::Readiness::ForView(view_) : nullptr),
      readiness_(readiness == nullptr ? own_readiness_.get() : readiness) {
  ResourceLists();
}

absl::StatusOr<pipeline::Selection> MetricsApi::ReadAll(std::string_view metric,
                                                        const config::MetricResource& resource,
                                                        std::string_view ns,
                                                        std::string_view field_selector) const {
  pipeline::Question q;
  q.metric = std::string(metric);
  q.resource = resource;
  q.ns = std::string(ns);
  q.field_selector = std::string(field_selector);
  return view_.Select(q);
}

std::shared_ptr<const std::map<std::string, std::string, std::less<>>> MetricsApi::ResourceLists()
    const {
  std::shared_ptr<const pipeline::MetricSet> set = view_.metrics();
  absl::MutexLock lock(&lists_mu_);
  if (resource_lists_ && lists_version_ == set->version) return resource_lists_;
  auto lists = std::make_shared<std::map<std::string, std::string, std::less<>>>();
  for (auto [group, version] :
       {std::pair{kCustomGroup, "v1beta2"}, std::pair{kCustomGroup, "v1beta1"},
        std::pair{kExternalGroup, "v1beta1"}, std::pair{kResourceGroup, "v1beta1"}}) {
    (*lists)[absl::StrCat(ToAbsl(group), "/", version)] = ResourceListJson(*set, group, version);
  }
  resource_lists_ = std::move(lists);
  lists_version_ = set->version;
  return resource_lists_;
}

std::string MetricsApi::GroupListJson() const {
  return APIGroupList({{std::string(kCustomGroup), {"v1beta2", "v1beta1"}},
                       {std::string(kExternalGroup), {"v1beta1"}},
                       {std::string(kResourceGroup), {"v1beta1"}}});
}

std::string MetricsApi::GroupJson(std::string_view group) const {
  if (group == kCustomGroup) return APIGroup(group, {"v1beta2", "v1beta1"});
  return APIGroup(group, {"v1beta1"});
}

std::string MetricsApi::ResourceListJson(const pipeline::MetricSet& set, std::string_view group,
                                         std::string_view version) const {
  std::vector<ApiResource> resources;
  const auto& metrics = set.definitions;
  std::set<std::string> seen;
  auto add = [&](std::string name, bool namespaced, const char* kind) {
    if (seen.insert(name).second) resources.push_back({std::move(name), namespaced, kind, {"get"}});
  };
  // resourceRules' cpu and memory serve metrics.k8s.io only, as in prometheus-adapter.
  auto resource_rule = [](const config::MetricDefinition& def) {
    return absl::StartsWith(def.rule, "resourceRules.");
  };
  if (group == kCustomGroup) {
    resources.reserve(metrics.size() * 2);
    // `metrics:` entries describe pods and, summed, their namespace.
    for (const auto& def : metrics) {
      if (def.rule.empty() && def.resource.is(Kind::kPods)) {
        add(absl::StrCat("pods/", def.name), true, "MetricValueList");
      }
    }
    for (const auto& def : metrics) {
      if (def.rule.empty() && def.resource.is(Kind::kPods)) {
        add(absl::StrCat("namespaces/", def.name), false, "MetricValueList");
      }
    }
    // Rule metrics: one entry per resource their labels map to.
    for (const auto& def : metrics) {
      if (def.rule.empty() || def.resource.is(Kind::kExternal) || resource_rule(def)) continue;
      const pipeline::KubeResource* r = pipeline::FindKubeResource(def.resource.name());
      bool namespaced = r ? r->namespaced : !def.namespace_label.empty();
      add(absl::StrCat(def.resource.name(), "/", def.name), namespaced, "MetricValueList");
    }
  } else if (group == kExternalGroup) {
    resources.reserve(metrics.size());
    for (const auto& def : metrics) {
      if ((def.rule.empty() && def.resource.is(Kind::kPods)) || def.resource.is(Kind::kExternal)) {
        add(def.name, true, "ExternalMetricValueList");
      }
    }
  } else {
    resources.push_back({"nodes", false, "NodeMetrics", {"get", "list"}});
    resources.push_back({"pods", true, "PodMetrics", {"get", "list"}});
  }
  return APIResourceList(absl::StrCat(ToAbsl(group), "/", ToAbsl(version)), resources);
}

HttpResponse MetricsApi::CustomObject(const HttpRequest& req, std::string_view version,
                                      std::optional<std::string_view> ns, std::string_view resource,
                                      std::string_view name, std::string_view metric,
                                      std::string route) const {
  if (ns) {
    if (auto s = CheckNamespace(*ns); !s.ok()) return Error(s, route);
  }
  if (auto s = CheckMetricName(metric); !s.ok()) return Error(s, route);
  const pipeline::KubeResource* kr = pipeline::FindKubeResource(resource);
  std::string group_resource = kr ? kr->GroupResource() : std::string(resource);
  const config::MetricResource typed = config::MetricResource::FromName(group_resource);
  if (kr != nullptr && kr->namespaced != ns.has_value()) {
    return Error(absl::NotFoundError(absl::StrCat(
                     "the server could not find the requested resource: ", ToAbsl(resource),
                     kr->namespaced ? " are namespaced: use /namespaces/{ns}/"
                                    : " are cluster-scoped: use /",
                     ToAbsl(group_resource), "/{name}/", ToAbsl(metric))),
                 route);
  }
  const bool wildcard = name == "*";
  std::string label_selector = Param(req, "labelSelector");
  auto parsed = selector::Selector::Parse(label_selector);
  if (!parsed.ok()) {
    return Error(LabelSelectorError(parsed.status()), route);
  }
  const bool by_labels = !parsed->Empty();
  if (by_labels && kr == nullptr) {
    return Error(absl::NotFoundError(absl::StrCat(
                     "labelSelector: unknown resource \"", ToAbsl(resource),
                     "\": objects are selected by their labels for the resources this adapter "
                     "knows (",
                     pipeline::KnownResourceNames(), ")")),
                 route);
  }
  if (by_labels && view_.objects() == nullptr) {
    return Error(absl::InvalidArgumentError(absl::StrCat(
                     "labelSelector: selecting ", ToAbsl(group_resource),
                     " by their labels is not supported without an object source (the Kubernetes "
                     "API or kube-state-metrics); name the object instead")),
                 route);
  }
  auto series = ParseSeriesSelector(req, "metricLabelSelector");
  if (!series.ok()) return Error(series.status(), route);
  // A namespace's own metric is sampled in the namespace's batch, like its pods' metrics.
  const bool is_namespace = typed.is(Kind::kNamespaces);
  if (is_namespace && wildcard) {
    if (by_labels) {
      return CustomNamespacesSelected(version, metric, label_selector, *series, std::move(route));
    }
    return Error(absl::InvalidArgumentError(absl::StrCat(
                     "namespaces/*/", ToAbsl(metric), ": name the namespace (namespaces/{name}/",
                     ToAbsl(metric),
                     ") or select namespaces with labelSelector; metrics are sampled per "
                     "namespace asked for")),
                 route);
  }
  pipeline::Question q;
  q.metric = std::string(metric);
  q.resource = typed;
  q.ns = std::string(is_namespace ? name : ns.value_or(""));
  if (!wildcard) q.name = std::string(name);
  q.label_selector = by_labels ? label_selector : "";
  q.series_matchers = series->matchers;
  auto sel = view_.Select(q);
  if (!sel.ok()) {
    if (pipeline::WhyOf(sel.status()) == pipeline::Why::kUnknownMetric) {
      return Error(
          absl::NotFoundError(absl::StrCat("the server could not find the metric ", ToAbsl(metric),
                                           " for ", ToAbsl(group_resource))),
          route);
    }
    return Error(sel.status(), route);
  }
  const std::string where = ns ? absl::StrCat(" in namespace ", ToAbsl(*ns)) : std::string();
  const config::MetricDefinition& def = sel->def();
  if (sel->rows.empty()) {
    // labelSelector picks the objects by their Kubernetes labels (not the series' labels).
    if (sel->objects && sel->objects->empty()) {
      return Error(absl::NotFoundError(
                       absl::StrCat("no metrics returned: no ", ToAbsl(group_resource),
                                    " match labelSelector \"", label_selector, "\"", where,
                                    " (object labels from ", view_.objects()->Describe(*kr), ")")),
                   route);
    }
    if (sel->objects && wildcard) {
      const size_t n = sel->objects->size();
      return Error(
          absl::NotFoundError(absl::StrCat(
              "no metrics returned: ", n, " ", ToAbsl(group_resource), " match labelSelector \"",
              label_selector, "\"", where, " but ", n == 1 ? "it has no" : "none has a",
              " value of metric ", def.name, " (Prometheus returned ", sel->table->pods.size(), " ",
              ToAbsl(group_resource), ")")),
          route);
    }
    if (sel->why_empty == pipeline::Why::kNoSuchObject) {
      return Error(absl::NotFoundError(absl::StrCat(
                       "no metrics returned: ", ToAbsl(group_resource), " ", ToAbsl(name),
                       " does not match labelSelector \"", label_selector, "\"", where)),
                   route);
    }
    return Error(absl::NotFoundError(absl::StrCat(
                     "no metrics returned: metric ", def.name, " has no value for ",
                     wildcard ? std::string("any of the ") : std::string(), ToAbsl(group_resource),
                     wildcard ? "" : " ", wildcard ? "" : ToAbsl(name), where)),
                 route);
  }
  std::vector<CustomMetricItem> items;
  items.reserve(sel->rows.size());
  for (size_t i = 0; i < sel->rows.size(); ++i) {
    const pipeline::PodValue& v = sel->row(i);
    items.push_back(CustomItem(def, sel->sampled_at(),
                               {kr ? kr->kind : std::string(resource), v.pod,
                                kr == nullptr || kr->namespaced ? std::string(ns.value_or("")) : "",
                                kr ? kr->api_version : "v1"},
                               v.value, *series));
  }
  return Body(CustomMetricValueList(version, items), std::move(route));
}

HttpResponse MetricsApi::CustomNamespacesSelected(std::string_view version, std::string_view metric,
                                                  std::string_view label_selector,
                                                  const SeriesSelector& series,
                                                  std::string route) const {
  const pipeline::KubeResource& kr = *pipeline::FindKubeResource("namespaces");
  auto parsed = selector::Selector::Parse(label_selector);
  if (!parsed.ok()) return Error(LabelSelectorError(parsed.status()), route);
  auto names = view_.objects()->Select(kr, "", *parsed);
  if (!names.ok()) return Error(names.status(), route);
  if (names->empty()) {
    return Error(
        absl::NotFoundError(absl::StrCat(
            "no metrics returned: no namespaces match labelSelector \"", ToAbsl(label_selector),
            "\" (object labels from ", view_.objects()->Describe(kr), ")")),
        route);
  }
  // Each namespace is its own sample (metrics are sampled per namespace asked for): bound them.
  constexpr size_t kMaxNamespaces = 100;
  if (names->size() > kMaxNamespaces) {
    return Error(
        absl::InvalidArgumentError(absl::StrCat(
            "labelSelector \"", ToAbsl(label_selector), "\" selects ", names->size(),
            " namespaces; at most ", kMaxNamespaces, " can be read at once: narrow the selector")),
        route);
  }
  const bool rule = view_.metrics()->Find(config::MetricResource::Namespaces(), metric) != nullptr;
  std::vector<CustomMetricItem> items;
  for (const std::string& n : *names) {
    // A namespaces rule metric (grouped by the namespace label), or the sum over the namespace's
    // pods of a `metrics:` definition, as for one named namespace.
    pipeline::Question q;
    q.metric = std::string(metric);
    q.resource = rule ? config::MetricResource::Namespaces() : config::MetricResource::Pods();
    q.ns = n;
    if (rule) q.name = n;
    q.series_matchers = series.matchers;
    auto sel = view_.Select(q);
    if (!sel.ok()) {
      if (pipeline::WhyOf(sel.status()) == pipeline::Why::kUnknownMetric) {
        return Error(absl::NotFoundError(absl::StrCat("the server could not find the metric ",
                                                      ToAbsl(metric), " for namespaces")),
                     route);
      }
      return Error(sel.status(), route);
    }
    if (sel->rows.empty()) continue;
    items.push_back(CustomItem(sel->def(), sel->sampled_at(), {"Namespace", n, "", "v1"},
                               sel->Stats().total, series));
  }
  if (items.empty()) {
    return Error(
        absl::NotFoundError(absl::StrCat(
            "no metrics returned: ", names->size(), " namespaces match labelSelector \"",
            ToAbsl(label_selector), "\" but ", names->size() == 1 ? "it has no" : "none has a",
            " value of metric ", ToAbsl(metric))),
        route);
  }
  return Body(CustomMetricValueList(version, items), std::move(route));
}

HttpResponse MetricsApi::CustomPods(const HttpRequest& req, std::string_view version,
                                    std::string_view ns, std::string_view name,
                                    std::string_view metric, std::string route) const {
  if (auto s = CheckNamespace(ns); !s.ok()) return Error(s, route);
  if (auto s = CheckMetricName(metric); !s.ok()) return Error(s, route);
  auto series = ParseSeriesSelector(req, "metricLabelSelector");
  if (!series.ok()) return Error(series.status(), route);
  const bool wildcard = name == "*";
  pipeline::Question q;
  q.metric = std::string(metric);
  q.ns = std::string(ns);
  if (!wildcard) q.name = std::string(name);
  q.label_selector = Param(req, "labelSelector");
  q.series_matchers = series->matchers;
  auto sel = view_.Select(q);
  if (!sel.ok()) return Error(PodsQuestionError(sel.status()), route);
  const config::MetricDefinition& def = sel->def();
  if (sel->rows.empty()) {
    const std::string& label_selector = q.label_selector;
    std::string what =
        wildcard ? (label_selector.empty() ? std::string("any pod")
                                           : absl::StrCat("pods matching \"", label_selector, "\""))
                 : absl::StrCat("pod ", ToAbsl(name));
    // With the Kubernetes pod watch we know whether such pods exist: pods without a sample yet are
    // left out of answers (the HPA counts them as missing), never given a made-up value.
    std::string existing;
    if (auto n = sel->existing_pods; n.has_value()) {
      existing = *n == 0   ? std::string("; no such pod exists")
                 : *n == 1 ? std::string("; 1 such pod exists but has no sample yet")
                           : absl::StrCat("; ", *n, " such pods exist, none has a sample yet");
    } else if (sel->named_pod_exists) {
      existing = "; the pod exists but has no sample yet";
    }
    return Error(
        absl::NotFoundError(absl::StrCat(
            "no metrics returned: metric ", def.name, " has no value for ", what, " in namespace ",
            ToAbsl(ns), " (Prometheus returned ", sel->table->pods.size(), " pods", existing, ")")),
        route);
  }
  std::vector<CustomMetricItem> items;
  items.reserve(sel->rows.size());
  for (size_t i = 0; i < sel->rows.size(); ++i) {
    const pipeline::PodValue& pod = sel->row(i);
    items.push_back(CustomItem(def, sel->sampled_at(), {"Pod", pod.pod, std::string(ns), "v1"},
                               pod.value, *series));
  }
  return Body(CustomMetricValueList(version, items), std::move(route));
}

HttpResponse MetricsApi::CustomNamespace(const HttpRequest& req, std::string_view version,
                                         std::string_view ns, std::string_view metric,
                                         std::string route) const {
  if (auto s = CheckNamespace(ns); !s.ok()) return Error(s, route);
  if (auto s = CheckMetricName(metric); !s.ok()) return Error(s, route);
  if (view_.metrics()->Find(config::MetricResource::Namespaces(), metric) != nullptr) {
    // A rule metric of the namespace itself (grouped by the namespace label).
    return CustomObject(req, version, std::nullopt, "namespaces", ns, metric, std::move(route));
  }
  auto series = ParseSeriesSelector(req, "metricLabelSelector");
  if (!series.ok()) return Error(series.status(), route);
  pipeline::Question q;
  q.metric = std::string(metric);
  q.ns = std::string(ns);
  q.series_matchers = series->matchers;
  auto sel = view_.Select(q);
  if (!sel.ok()) return Error(sel.status(), route);
  if (sel->rows.empty()) {
    return Error(
        absl::NotFoundError(absl::StrCat("no metrics returned: metric ", sel->def().name,
                                         " has no value for any pod in namespace ", ToAbsl(ns))),
        route);
  }
  return Body(CustomMetricValueList(version, {CustomItem(sel->def(), sel->sampled_at(),
                                                         {"Namespace", std::string(ns), "", "v1"},
                                                         sel->Stats().total, *series)}),
              std::move(route));
}

HttpResponse MetricsApi::External(const HttpRequest& req, std::string_view ns,
                                  std::string_view metric, std::string route) const {
  if (auto s = CheckNamespace(ns); !s.ok()) return Error(s, route);
  if (auto s = CheckMetricName(metric); !s.ok()) return Error(s, route);
  if (view_.metrics()->Find(config::MetricResource::External(), metric) != nullptr) {
    return ExternalRule(req, ns, metric, std::move(route));
  }
  std::string label_selector = Param(req, "labelSelector");
  auto parsed = selector::Selector::Parse(label_selector);
  if (!parsed.ok()) {
    return Error(LabelSelectorError(parsed.status()), route);
  }
  pipeline::Question q;
  q.metric = std::string(metric);
  q.ns = std::string(ns);
  q.label_selector = label_selector;
  auto sel = view_.Select(q);
  if (!sel.ok()) return Error(PodsQuestionError(sel.status()), route);
  const config::MetricDefinition& def = sel->def();
  if (sel->rows.empty()) {
    return Error(
        absl::NotFoundError(absl::StrCat(
            "no metrics returned: external metric ", def.name, " has no value for ",
            label_selector.empty() ? std::string("any pod")
                                   : absl::StrCat("pods matching \"", label_selector, "\""),
            " in namespace ", ToAbsl(ns))),
        route);
  }
  std::map<std::string, std::string> labels;
  for (const selector::Requirement& r : parsed->requirements()) {
    if ((r.op == selector::Op::kEquals || r.op == selector::Op::kDoubleEquals ||
         (r.op == selector::Op::kIn && r.values.size() == 1)) &&
        r.values.size() == 1) {
      labels[r.key] = r.values[0];
    }
  }
  return Body(ExternalMetricValueList(
                  {ExternalItem(def, sel->sampled_at(), std::move(labels), sel->Stats().total)}),
              std::move(route));
}

HttpResponse MetricsApi::ExternalRule(const HttpRequest& req, std::string_view ns,
                                      std::string_view metric, std::string route) const {
  // externalRules: labelSelector filters the metric's own series (in the query), and each series
  // is one item carrying its labels.
  auto series = ParseSeriesSelector(req, "labelSelector");
  if (!series.ok()) return Error(series.status(), route);
  pipeline::Question q;
  q.metric = std::string(metric);
  q.resource = config::MetricResource::External();
  q.ns = std::string(ns);
  q.series_matchers = series->matchers;
  auto sel = view_.Select(q);
  if (!sel.ok()) return Error(sel.status(), route);
  const config::MetricDefinition& def = sel->def();
  if (sel->rows.empty()) {
    std::string selector = Param(req, "labelSelector");
    return Error(
        absl::NotFoundError(absl::StrCat(
            "no metrics returned: external metric ", def.name, " has no series",
            selector.empty() ? std::string() : absl::StrCat(" matching \"", selector, "\""),
            " in namespace ", ToAbsl(ns))),
        route);
  }
  std::vector<ExternalMetricItem> items;
  items.reserve(sel->rows.size());
  for (size_t i = 0; i < sel->rows.size(); ++i) {
    const pipeline::PodValue& v = sel->row(i);
    std::map<std::string, std::string> labels;
    for (const auto& [k, value] : v.labels) labels[k] = value;
    items.push_back(ExternalItem(def, sel->sampled_at(), std::move(labels), v.value));
  }
  return Body(ExternalMetricValueList(items), std::move(route));
}

HttpResponse MetricsApi::ResourcePods(const HttpRequest& req, std::optional<std::string_view> ns,
                                      std::optional<std::string_view> name,
                                      std::string route) const {
  if (ns) {
    if (auto s = CheckNamespace(*ns); !s.ok()) return Error(s, route);
  }
  if (auto s = CheckFieldSelector(req); !s.ok()) return Error(s, route);
  std::string label_selector = Param(req, "labelSelector");
  auto parsed = selector::Selector::Parse(label_selector);
  if (!parsed.ok()) return Error(LabelSelectorError(parsed.status()), route);
  std::shared_ptr<const pipeline::MetricSet> set = view_.metrics();
  // Per container when the config has container definitions (resourceRules or the cAdvisor
  // default), else one container per pod with the pod's totals.
  const bool per_container = set->Find(config::MetricResource::Containers(), "cpu") != nullptr;
  const config::MetricResource resource =
      per_container ? config::MetricResource::Containers() : config::MetricResource::Pods();
  const config::MetricDefinition* cpu_def = set->Find(resource, "cpu");
  if (cpu_def == nullptr) {
    return Error(absl::NotFoundError("metrics.k8s.io needs a metric named \"cpu\" (cores) in the "
                                     "adapter config, or resourceRules"),
                 route);
  }
  const bool has_memory = set->Find(resource, "memory") != nullptr;
  if (!parsed->Empty()) {
    // Pods picked by their labels need a current pod-label index.
    if (absl::Status s = view_.PodIndexStatus(); !s.ok()) return Error(s, route);
  }
  // One read of each metric: one namespace, or every namespace at once (the sampler's
  // whole-cluster table), with the pods the selectors and the name pick.
  pipeline::Question q;
  q.metric = "cpu";
  q.resource = resource;
  q.ns = ns ? std::string(*ns) : "";
  q.all_namespaces = !ns;
  if (name) q.name = std::string(*name);
  q.label_selector = label_selector;
  q.field_selector = Param(req, "fieldSelector");
  auto cpu = view_.Select(q);
  if (!cpu.ok()) return Error(cpu.status(), route);
  std::optional<pipeline::Selection> memory;
  if (has_memory) {
    q.metric = "memory";
    auto m = view_.Select(q);
    if (!m.ok()) return Error(m.status(), route);
    memory = *std::move(m);
  }
  // Containers by pod, ordered by namespace and name as metrics-server orders them.
  std::map<std::pair<std::string_view, std::string_view>, std::vector<ContainerUsage>> pods;
  std::set<std::pair<std::string_view, std::string_view>> without_memory;
  std::map<std::pair<std::string_view, std::string_view>, int32_t> spans;  // ms
  bool named_without_memory = false;
  for (size_t i = 0; i < cpu->rows.size(); ++i) {
    const pipeline::PodValue& v = cpu->row(i);
    const pipeline::RowObject o = cpu->Object(i);
    if (per_container && o.container.empty()) continue;
    const std::pair<std::string_view, std::string_view> pod{o.ns, o.name};
    std::optional<double> memory_bytes;
    if (memory) {
      // A container with cpu but no memory value leaves its pod out (as metrics-server does)
      // rather than being served with a made-up 0.
      const pipeline::PodValue* m = memory->table->Find(v.pod);
      if (m == nullptr) {
        without_memory.insert(pod);
        named_without_memory = name.has_value();
        continue;
      }
      memory_bytes = std::max(0.0, m->value);
    }
    // NaN never gets here; negatives (counter resets) are 0, as prometheus-adapter does.
    pods[pod].push_back({per_container ? std::string(o.container) : std::string(kContainerName),
                         std::max(0.0, v.value), memory_bytes});
    // The pod's window: the shortest real span of its containers' samples, when known.
    if (v.span_ms >= 0) {
      auto [it, inserted] = spans.emplace(pod, v.span_ms);
      if (!inserted) it->second = std::min(it->second, v.span_ms);
    }
  }
  std::vector<PodMetricsItem> items;
  // A panic-aware cpu serves means of rates over its stable (or panic) window.
  const absl::Duration configured_window =
      absl::Seconds(WindowSeconds(*cpu_def)) +
      (cpu_def->panic ? cpu_def->panic->stable_window : absl::ZeroDuration());
  const absl::Time now = clock_.Now();
  for (auto& [pod, containers] : pods) {
    if (without_memory.contains(pod)) continue;
    PodMetricsItem item;
    item.ns = std::string(pod.first);
    item.name = std::string(pod.second);
    if (const prom::Labels* labels = cpu->snapshot->FindPodLabels(pod.first, pod.second)) {
      for (const auto& [k, v] : *labels) item.labels[k] = v;
    }
    item.timestamp = cpu->table->sampled_at;
    item.creation = now;  // when the response is built, as metrics-server does
    // What the value really covers (never more than the configured window), as metrics-server
    // reports the time between its two samples; the configured window when unknown.
    auto span = spans.find(pod);
    item.window = span == spans.end()
                      ? configured_window
                      : std::min(configured_window, absl::Milliseconds(span->second));
    std::sort(containers.begin(), containers.end(),
              [](const ContainerUsage& a, const ContainerUsage& b) { return a.name < b.name; });
    item.containers = std::move(containers);
    items.push_back(std::move(item));
  }
  if (name) {
    if (items.empty()) {
      return Error(
          absl::NotFoundError(absl::StrCat(
              "podmetrics \"", ToAbsl(*name), "\" not found in namespace ", ToAbsl(*ns),
              named_without_memory ? ": a container has a cpu value but no memory value yet" : "")),
          route);
    }
    return Body(PodMetrics(items[0]), std::move(route));
  }
  return Body(PodMetricsList(items), std::move(route));
}

HttpResponse MetricsApi::ResourceNodes(const HttpRequest& req, std::optional<std::string_view> name,
                                       std::string route) const {
  if (auto s = CheckFieldSelector(req); !s.ok()) return Error(s, route);
  std::string label_selector = Param(req, "labelSelector");
  auto parsed = selector::Selector::Parse(label_selector);
  if (!parsed.ok()) {
    return Error(LabelSelectorError(parsed.status()), route);
  }
  std::shared_ptr<const pipeline::MetricSet> set = view_.metrics();
  const config::MetricDefinition* cpu_def = set->Find(config::MetricResource::NodeMetrics(), "cpu");
  if (cpu_def == nullptr) {
    if (name) {
      return Error(absl::NotFoundError(absl::StrCat(
                       "nodemetrics \"", ToAbsl(*name),
                       "\" not found: node metrics need resourceRules with a nodeQuery")),
                   route);
    }
    return Body(NodeMetricsList({}), std::move(route));
  }
  // labelSelector picks nodes by their Kubernetes labels, from the object source (the Kubernetes
  // API or kube_node_labels), as metrics-server does through kube-apiserver.
  std::optional<std::set<std::string, std::less<>>> selected;
  if (!parsed->Empty()) {
    if (view_.objects() == nullptr) {
      return Error(absl::InvalidArgumentError(
                       "labelSelector: selecting nodes by their labels is not supported without "
                       "an object source (the Kubernetes API or kube-state-metrics)"),
                   route);
    }
    const pipeline::KubeResource& kr = *pipeline::FindKubeResource("nodes");
    auto names = view_.objects()->Select(kr, "", *parsed);
    if (!names.ok()) return Error(names.status(), route);
    selected.emplace(names->begin(), names->end());
  }
  // fieldSelector: metadata.name (and metadata.namespace, "" for nodes), as metrics-server.
  const std::string field_selector = Param(req, "fieldSelector");
  auto cpu = ReadAll("cpu", config::MetricResource::NodeMetrics(), "", field_selector);
  if (!cpu.ok()) return Error(cpu.status(), route);
  std::optional<pipeline::Selection> memory;
  if (set->Find(config::MetricResource::NodeMetrics(), "memory") != nullptr) {
    auto m = ReadAll("memory", config::MetricResource::NodeMetrics(), "");
    if (!m.ok()) return Error(m.status(), route);
    memory = *std::move(m);
  }
  std::vector<NodeMetricsItem> items;
  bool named_without_memory = false;
  const absl::Time now = clock_.Now();
  for (size_t i = 0; i < cpu->rows.size(); ++i) {
    const pipeline::PodValue& v = cpu->row(i);
    if (name && v.pod != *name) continue;
    if (selected && !selected->contains(v.pod)) continue;
    NodeMetricsItem item;
    item.name = v.pod;
    item.creation = now;  // when the response is built, as metrics-server does
    item.timestamp = cpu->table->sampled_at;
    item.window = absl::Seconds(WindowSeconds(*cpu_def));
    if (v.span_ms >= 0) item.window = std::min(item.window, absl::Milliseconds(v.span_ms));
    item.cpu_cores = std::max(0.0, v.value);
    if (memory) {
      // A node without a memory value is left out (as metrics-server does; kubectl top node
      // prints <unknown> for it) rather than served with a made-up 0.
      const pipeline::PodValue* m = memory->table->Find(v.pod);
      if (m == nullptr) {
        named_without_memory = name.has_value();
        continue;
      }
      item.memory_bytes = std::max(0.0, m->value);
    }
    items.push_back(std::move(item));
  }
  if (name) {
    if (items.empty()) {
      return Error(
          absl::NotFoundError(absl::StrCat(
              "nodemetrics \"", ToAbsl(*name), "\" not found",
              named_without_memory ? ": the node has a cpu value but no memory value yet" : "")),
          route);
    }
    return Body(NodeMetrics(items[0]), std::move(route));
  }
  return Body(NodeMetricsList(items), std::move(route));
}

}  // namespace aa::apiserver
