#include "queryapi/query_api.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/http_status.h"
#include "common/strings.h"
#include "common/time_format.h"
#include "http/process_metrics.h"
#include "nlohmann/json.hpp"
#include "pipeline/pod_select.h"
#include "pipeline/workload.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "scaling/hpa.h"
#include "scaling/kpa.h"
#include "selector/selector.h"

namespace aa::queryapi {

using http::Readiness;
using net::HttpRequest;
using net::HttpResponse;
namespace {

using nlohmann::json;

net::HttpResponse Json(const json& body, std::string route) {
  net::HttpResponse r;
  // Invalid UTF-8 (a client's parameter echoed back) becomes U+FFFD instead of throwing.
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  r.route = std::move(route);
  return r;
}

net::HttpResponse Text(int status, std::string body, std::string route) {
  net::HttpResponse r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(body);
  r.route = std::move(route);
  return r;
}

// Parses an optional positive finite number parameter.
absl::StatusOr<std::optional<double>> PositiveParam(const net::HttpRequest& req,
                                                    std::string_view name) {
  const std::string* text = req.Param(name);
  if (text == nullptr) return std::optional<double>();
  double v;
  if (!absl::SimpleAtod(*text, &v) || !std::isfinite(v) || v <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("parameter ", ToAbsl(name), "=\"", *text,
                                                   "\" must be a positive finite number"));
  }
  return std::optional<double>(v);
}

json OptionalNumber(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

// Parses an optional integer parameter in [min, max].
absl::StatusOr<std::optional<int32_t>> IntParam(const net::HttpRequest& req, std::string_view name,
                                                int32_t min, int32_t max) {
  const std::string* text = req.Param(name);
  if (text == nullptr) return std::optional<int32_t>();
  int32_t v;
  if (!absl::SimpleAtoi(*text, &v) || v < min || v > max) {
    return absl::InvalidArgumentError(absl::StrCat("parameter ", ToAbsl(name), "=\"", *text,
                                                   "\" must be an integer in ", min, "..", max));
  }
  return std::optional<int32_t>(v);
}

json RulesJson(const scaling::ScalingRules& r) {
  json policies = json::array();
  for (const auto& p : r.policies) {
    policies.push_back({{"type", p.type == scaling::ScalingPolicyType::kPods ? "Pods" : "Percent"},
                        {"value", p.value},
                        {"periodSeconds", p.period_seconds}});
  }
  const char* select = r.select_policy == scaling::SelectPolicy::kMax   ? "Max"
                       : r.select_policy == scaling::SelectPolicy::kMin ? "Min"
                                                                        : "Disabled";
  return {{"stabilizationWindowSeconds", r.stabilization_window_seconds},
          {"selectPolicy", select},
          {"policies", std::move(policies)}};
}

// The panic state of the workloads `shown` of a panic-aware metric's table.
json PanicJson(const pipeline::WindowedValues& windows, const std::set<size_t>& shown) {
  json workloads = json::array();
  for (size_t index : shown) {
    const pipeline::WorkloadWindow& w = windows.workloads[index];
    workloads.push_back(
        {{"workload", w.name},
         {"pods", w.pods},
         {"stableTotal", w.stable_total},
         {"panicTotal", w.panic_total},
         {"inPanic", w.in_panic},
         {"panicSince", w.in_panic ? json(FormatRfc3339Millis(w.panic_since)) : json(nullptr)}});
  }
  return {{"stableWindowSeconds", absl::ToDoubleSeconds(windows.stable_window)},
          {"panicWindowSeconds", absl::ToDoubleSeconds(windows.panic_window)},
          {"workloads", std::move(workloads)}};
}

}  // namespace

net::HttpResponse ErrorResponse(const absl::Status& status) {
  return ErrorResponse(HttpStatusFor(status.code()), std::string(status.message()));
}

net::HttpResponse ErrorResponse(int code, std::string message) {
  net::HttpResponse r;
  r.status = code;
  r.body = json{{"error",
                 {{"code", code},
                  {"reason", HttpReasonFor(code) ? HttpReasonFor(code) : "InternalError"},
                  {"message", std::move(message)}}}}
               .dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

std::optional<QueryPath> ParseQueryPath(std::string_view path) {
  if (path == "/api/v1/metrics") return QueryPath{};
  std::vector<absl::string_view> parts = absl::StrSplit(ToAbsl(path), '/', absl::SkipEmpty());
  if (parts.size() < 6 || parts.size() > 7 || parts[0] != "api" || parts[1] != "v1" ||
      parts[2] != "namespaces" || parts[4] != "metrics" ||
      (parts.size() == 7 && parts[6] != "scaling")) {
    return std::nullopt;
  }
  return QueryPath{parts.size() == 7 ? QueryPath::Kind::kScaling : QueryPath::Kind::kMetric,
                   std::string(parts[3]), std::string(parts[5])};
}

bool IsOperationalPath(std::string_view path) {
  return path == "/healthz" || path == "/livez" || path == "/metrics" ||
         Readiness::IsReadyzPath(path);
}

net::HttpResponse QueryApi::HandleOperational(const net::HttpRequest& req) const {
  if (IsOperationalPath(req.path)) return Handle(req);
  const bool query_api = ParseQueryPath(req.path).has_value();
  net::HttpResponse r = ErrorResponse(absl::NotFoundError(absl::StrCat(
      query_api ? "the query API is not served on this port: " : "no such path: ", req.path,
      " (this plain-HTTP port serves /metrics, /healthz, /livez and /readyz only; the query API "
      "(/api/v1/metrics, /api/v1/namespaces/{ns}/metrics/{metric}[/scaling]) is on the HTTPS "
      "port (--https-listen, default :6443), for callers Kubernetes authenticates and authorizes "
      "to read that metric)")));
  r.route = query_api ? "moved" : "unknown";
  return r;
}

net::HttpResponse QueryApi::Handle(const net::HttpRequest& req) const {
  const std::optional<QueryPath> query = ParseQueryPath(req.path);
  auto route = [&]() -> std::string {
    if (req.path == "/healthz" || req.path == "/livez" || req.path == "/metrics") return req.path;
    if (Readiness::IsReadyzPath(req.path)) return std::string("/readyz");
    if (!query.has_value()) return "";
    switch (query->kind) {
      case QueryPath::Kind::kList:
        return "/api/v1/metrics";
      case QueryPath::Kind::kMetric:
        return "/api/v1/namespaces/{ns}/metrics/{metric}";
      case QueryPath::Kind::kScaling:
        return "/api/v1/namespaces/{ns}/metrics/{metric}/scaling";
    }
    return "";
  }();
  if (route.empty()) {
    net::HttpResponse r = ErrorResponse(absl::NotFoundError(
        absl::StrCat("no such path: ", req.path,
                     " (try /api/v1/metrics, /api/v1/namespaces/{ns}/metrics/{metric} or "
                     "/api/v1/namespaces/{ns}/metrics/{metric}/scaling)")));
    r.route = "unknown";
    return r;
  }
  if (req.method != "GET" && req.method != "HEAD") {
    net::HttpResponse r = ErrorResponse(absl::UnimplementedError(
        absl::StrCat("method ", req.method, " is not allowed on ", req.path, ": only GET")));
    r.headers.emplace_back("Allow", "GET, HEAD");
    r.route = route;
    return r;
  }
  if (route == "/healthz" || route == "/livez") return Text(200, "ok", route);
  if (route == "/readyz") return readiness_->Handle(req);
  if (route == "/metrics") return SelfMetrics();
  if (query->kind == QueryPath::Kind::kList) return ListMetrics();
  net::HttpResponse r = query->kind == QueryPath::Kind::kScaling
                            ? GetScaling(req, query->ns, query->metric)
                            : GetMetric(req, query->ns, query->metric);
  r.route = route;
  return r;
}

net::HttpResponse QueryApi::ListMetrics() const {
  json items = json::array();
  // The per-pod metrics this API reads by default (configured and discovered from rules).
  for (const auto& def : view_.metrics()->definitions) {
    if (!def.resource.is(config::MetricResource::Kind::kPods)) continue;
    json item = {{"name", def.name},
                 {"resource", def.resource.name()},
                 {"description", def.description},
                 {"query", def.query},
                 {"target", OptionalNumber(def.target)},
                 {"targetUtilization", OptionalNumber(def.target_utilization)}};
    if (!def.baseline_query.empty()) item["baselineQuery"] = def.baseline_query;
    if (!def.preset.type.empty())
      item["preset"] = {{"type", def.preset.type}, {"source", def.preset.source}};
    items.push_back(std::move(item));
  }
  return Json({{"metrics", std::move(items)}}, "/api/v1/metrics");
}

absl::StatusOr<QueryApi::Selection> QueryApi::Select(
    const net::HttpRequest& req, std::string_view ns, std::string_view metric,
    const std::set<std::string, std::less<>>& known_params) const {
  for (const auto& [name, value] : req.params) {
    // Kubernetes clients (kubectl --request-timeout) add ?timeout= to every request: accepted and
    // ignored, as the Kubernetes APIs on the same port do (answers come from snapshots).
    if (!known_params.contains(name) && name != "timeout") {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown parameter \"", name, "\"; known: ", absl::StrJoin(known_params, ", ")));
    }
  }
  Selection sel;
  auto target = PositiveParam(req, "target");
  if (!target.ok()) return target.status();
  auto target_utilization = PositiveParam(req, "targetUtilization");
  if (!target_utilization.ok()) return target_utilization.status();
  sel.target = *target;
  sel.target_utilization = *target_utilization;
  sel.selector = req.Param("labelSelector") ? *req.Param("labelSelector") : "";
  if (const std::string* isvc = req.Param("inferenceService")) {
    auto s = pipeline::InferenceServiceSelector(*isvc);
    if (!s.ok()) return s.status();
    sel.selector = sel.selector.empty() ? *s : absl::StrCat(sel.selector, ",", *s);
  }

  // Rule metrics of other objects (services, deployments.apps...): "pods" then lists those.
  const std::string* resource = req.Param("resource");
  // metricLabelSelector filters the series (in the query), as in the Kubernetes APIs.
  std::string extra_matchers;
  if (const std::string* series = req.Param("metricLabelSelector")) {
    auto parsed = selector::ParseSeriesSelector(*series, "metricLabelSelector");
    if (!parsed.ok()) return parsed.status();
    extra_matchers = std::move(parsed->matchers);
  }
  pipeline::Question q;
  q.metric = std::string(metric);
  q.resource =
      resource ? config::MetricResource::FromName(*resource) : config::MetricResource::Pods();
  q.ns = std::string(ns);
  if (const std::string* pod = req.Param("pod")) q.name = *pod;
  q.label_selector = sel.selector;
  if (const std::string* fields = req.Param("fieldSelector")) q.field_selector = *fields;
  q.series_matchers = std::move(extra_matchers);
  auto selected = view_.Select(q);
  if (!selected.ok()) return selected.status();
  sel.answer = *std::move(selected);
  const config::MetricDefinition& def = sel.answer.def();
  const pipeline::MetricTable& table = *sel.answer.table;
  sel.stats = sel.answer.Stats(sel.target, sel.target_utilization);
  if (sel.stats.pods == 0) {
    std::string what =
        req.Param("pod")
            ? absl::StrCat("pod ", *req.Param("pod"))
            : (sel.selector.empty() ? "any pod" : absl::StrCat("pods matching ", sel.selector));
    if (!q.field_selector.empty()) absl::StrAppend(&what, " with fields ", q.field_selector);
    return absl::NotFoundError(absl::StrCat("metric ", def.name, " has no value for ", what,
                                            " in namespace ", ToAbsl(ns), " (Prometheus returned ",
                                            table.pods.size(), " pods at ",
                                            FormatRfc3339Millis(table.sampled_at), ")"));
  }
  return sel;
}

net::HttpResponse QueryApi::GetMetric(const net::HttpRequest& req, std::string_view ns,
                                      std::string_view metric) const {
  static const std::set<std::string, std::less<>> kParams = {
      "pod",      "inferenceService",    "labelSelector", "target", "targetUtilization",
      "resource", "metricLabelSelector", "fieldSelector"};
  auto selected = Select(req, ns, metric, kParams);
  if (!selected.ok()) return ErrorResponse(selected.status());
  const Selection& sel = *selected;
  const std::optional<double>* target = &sel.target;
  const config::MetricDefinition& def = sel.answer.def();
  const pipeline::MetricTable& table = *sel.answer.table;
  const pipeline::WorkloadStats& stats = sel.stats;
  json pods = json::array();
  int64_t formatted_ms = -1;  // pods of one query share a timestamp: format it once
  std::string formatted;
  const pipeline::WindowedValues* windows = table.windows.get();
  std::set<size_t> workloads_shown;
  for (size_t i : sel.answer.rows) {
    const pipeline::PodValue& pod = table.pods[i];
    if (pod.timestamp_ms != formatted_ms) {
      formatted_ms = pod.timestamp_ms;
      formatted = FormatRfc3339Millis(absl::FromUnixMillis(pod.timestamp_ms));
    }
    json p = {
        {"pod", pod.pod},
        {"value", pod.value},
        {"timestamp", formatted},
        {"utilizationPercent", OptionalNumber(pipeline::PodUtilizationPercent(def, pod, *target))}};
    if (pod.has_baseline) p["baseline"] = pod.baseline;
    if (windows != nullptr) {
      const pipeline::PodWindow& w = windows->pods[i];
      p["window"] = {{"sampled", w.sampled},
                     {"stable", w.stable},
                     {"panic", w.panic},
                     {"workload", windows->workloads[w.workload].name}};
      workloads_shown.insert(w.workload);
    }
    pods.push_back(std::move(p));
  }
  json body = {{"metric", def.name},
               {"namespace", std::string(ns)},
               {"sampledAt", FormatRfc3339Millis(table.sampled_at)},
               {"ageSeconds", absl::ToDoubleSeconds(sel.answer.age)},
               {"pods", std::move(pods)},
               {"podCount", stats.pods},
               {"total", stats.total},
               {"average", stats.average},
               {"target", OptionalNumber(stats.target)},
               {"targetUtilization", OptionalNumber(stats.target_utilization)},
               {"utilizationPercent", OptionalNumber(stats.utilization_percent)}};
  if (!def.baseline_query.empty()) body["baselineTotal"] = stats.baseline_total;
  if (table.dropped_non_finite > 0) body["droppedNonFinite"] = table.dropped_non_finite;
  if (windows != nullptr) body["panic"] = PanicJson(*windows, workloads_shown);
  return Json(body, "");
}

namespace {

// The HPA's view of the workload, as its spec: a Resource Utilization metric for metrics with a
// baseline (as for CPU), else a Pods metric with the per-pod target as AverageValue; replica
// bounds from the request, else the metric's scaling config. InvalidArgument without a target.
absl::StatusOr<scaling::HpaSpec> HpaSpecFor(const config::MetricDefinition& def,
                                            const pipeline::WorkloadStats& stats,
                                            std::optional<int32_t> min_replicas,
                                            std::optional<int32_t> max_replicas) {
  scaling::HpaSpec spec;
  spec.min_replicas = min_replicas.value_or(def.scaling.min_replicas);
  spec.max_replicas = max_replicas.value_or(def.scaling.max_replicas);
  spec.behavior = def.scaling.behavior;
  scaling::MetricSpec m;
  m.name = def.name;
  if (!def.baseline_query.empty()) {
    if (!stats.target_utilization) {
      return absl::InvalidArgumentError(absl::StrCat(
          "metric ", def.name, " has no target utilization: pass ?targetUtilization=P"));
    }
    m.source = scaling::MetricSourceType::kResource;
    m.target_type = scaling::MetricTargetType::kUtilization;
    m.target_utilization_percent =
        std::max<int32_t>(1, static_cast<int32_t>(std::lround(*stats.target_utilization)));
  } else {
    if (!stats.target) {
      return absl::InvalidArgumentError(
          absl::StrCat("metric ", def.name, " has no per-pod target: pass ?target=X"));
    }
    m.source = scaling::MetricSourceType::kPods;
    m.target_type = scaling::MetricTargetType::kAverageValue;
    m.target_milli = std::max<int64_t>(1, scaling::MilliValue(*stats.target));
  }
  spec.metrics = {m};
  return spec;
}

// What the HPA's metrics client would report for the selected pods: each one long running and
// ready (no CPU initialization rules), with its value and, for the resource path, its request (the
// resource name is the metric's).
scaling::HpaObservations HpaObservationsOf(const pipeline::Selection& sel, absl::Time now) {
  scaling::HpaObservations obs;
  scaling::MetricObservation observed;
  for (size_t i : sel.rows) {
    const pipeline::PodValue& pod = sel.table->pods[i];
    scaling::Pod p;
    p.name = pod.pod;
    p.start_time = now - absl::Hours(1);
    p.ready_transition = *p.start_time;
    scaling::Container c;
    c.name = "main";
    if (pod.has_baseline) c.requests_milli[sel.def().name] = scaling::MilliValue(pod.baseline);
    p.containers.push_back(std::move(c));
    obs.pods.push_back(std::move(p));
    observed.pod_samples[pod.pod] = scaling::PodSample{scaling::MilliValue(pod.value), now};
  }
  obs.metrics.push_back(std::move(observed));
  return obs;
}

// The HPA's next sync from a steady state (it has been recommending `current`, so scale-down waits
// for its stabilization window), and where it settles if the load stays.
absl::StatusOr<json> HpaPrediction(const scaling::HpaSpec& spec,
                                   const scaling::HpaObservations& obs, int32_t current,
                                   absl::Time now) {
  auto hpa = scaling::HpaController::Create(spec);
  if (!hpa.ok()) return hpa.status();
  hpa->SeedRecommendation(now - absl::Seconds(1), current);
  scaling::HpaDecision next = hpa->Sync(now, current, obs);
  const bool resource = spec.metrics[0].source == scaling::MetricSourceType::kResource;
  json out = {{"metricSource", resource ? "Resource" : "Pods"},
              {"minReplicas", spec.min_replicas},
              {"maxReplicas", spec.max_replicas},
              {"behavior",
               {{"scaleUp", RulesJson(hpa->behavior()->scale_up)},
                {"scaleDown", RulesJson(hpa->behavior()->scale_down)}}}};
  if (next.metric_desired_replicas < 0) {
    out["error"] = std::string(next.error.message());
    out["desiredReplicas"] = current;
    return out;
  }
  out["metricDesiredReplicas"] = next.metric_desired_replicas;
  out["desiredReplicas"] = next.desired_replicas;
  out["settledReplicas"] =
      std::clamp(next.metric_desired_replicas, spec.min_replicas, spec.max_replicas);
  out["reason"] = next.reason;
  out["ableToScale"] = next.able_to_scale_reason;
  out["scalingLimited"] = next.scaling_limited_reason;
  if (next.metrics[0].proposal.utilization_percent) {
    out["utilizationPercent"] = *next.metrics[0].proposal.utilization_percent;
  }
  return out;
}

// Knative's KPA (concurrency-like metrics, with a per-pod target): its Scale() over the stable and
// panic totals from the panic-aware windows when the metric has them, else the sampled total
// stands for both.
json KpaPrediction(const pipeline::Selection& sel, const pipeline::WorkloadStats& stats,
                   const scaling::HpaSpec& spec, int32_t current, absl::Time now) {
  const config::MetricDefinition& def = sel.def();
  scaling::KpaOptions options;
  options.target = std::max(0.01, *stats.target);
  if (def.panic) {
    options.stable_window = def.panic->stable_window;
    options.panic_window_percentage = def.panic->panic_window_percentage;
    options.panic_threshold_percentage = def.panic->panic_threshold_percentage;
  }
  options.min_scale = spec.min_replicas;
  options.max_scale = spec.max_replicas;
  double stable_total = stats.total, panic_total = stats.total;
  bool windowed_panic = false;
  if (const pipeline::WindowedValues* w = sel.table->windows.get()) {
    stable_total = panic_total = 0;
    for (size_t i : sel.rows) {
      stable_total += w->pods[i].stable;
      panic_total += w->pods[i].panic;
      windowed_panic = windowed_panic || w->workloads[w->pods[i].workload].in_panic;
    }
  }
  scaling::KpaDecider decider(options);
  scaling::KpaDecision d = decider.Scale(now, current, stable_total, panic_total);
  bool in_panic = d.in_panic || windowed_panic;
  int32_t desired = in_panic ? std::max(d.desired_stable, d.desired_panic) : d.desired_stable;
  desired = std::clamp(desired, options.min_scale, options.max_scale);
  return {{"target", options.target},
          {"stableTotal", stable_total},
          {"panicTotal", panic_total},
          {"windowed", sel.table->windows != nullptr},
          {"desiredStable", d.desired_stable},
          {"desiredPanic", d.desired_panic},
          {"inPanic", in_panic},
          {"desiredReplicas", desired}};
}

}  // namespace

HttpResponse QueryApi::GetScaling(const HttpRequest& req, std::string_view ns,
                                  std::string_view metric) const {
  static const std::set<std::string, std::less<>> kParams = {
      "inferenceService", "labelSelector", "target",      "targetUtilization",
      "currentReplicas",  "minReplicas",   "maxReplicas", "fieldSelector"};
  auto selected = Select(req, ns, metric, kParams);
  if (!selected.ok()) return ErrorResponse(selected.status());
  const Selection& sel = *selected;
  const config::MetricDefinition& def = sel.answer.def();
  const pipeline::WorkloadStats& stats = sel.stats;
  auto current_param = IntParam(req, "currentReplicas", 1, 1'000'000);
  if (!current_param.ok()) return ErrorResponse(current_param.status());
  auto min_param = IntParam(req, "minReplicas", 1, 1'000'000);
  if (!min_param.ok()) return ErrorResponse(min_param.status());
  auto max_param = IntParam(req, "maxReplicas", 1, 1'000'000);
  if (!max_param.ok()) return ErrorResponse(max_param.status());
  const int32_t current = current_param->value_or(stats.pods);
  const absl::Time now = clock_.Now();

  auto spec = HpaSpecFor(def, stats, *min_param, *max_param);
  if (!spec.ok()) return ErrorResponse(spec.status());
  auto hpa = HpaPrediction(*spec, HpaObservationsOf(sel.answer, now), current, now);
  if (!hpa.ok()) return ErrorResponse(hpa.status());
  const bool resource = !def.baseline_query.empty();
  json kpa = resource ? json(nullptr) : KpaPrediction(sel.answer, stats, *spec, current, now);

  json workload = json::object();
  if (const std::string* isvc = req.Param("inferenceService")) workload["inferenceService"] = *isvc;
  if (const std::string* ls = req.Param("labelSelector")) workload["labelSelector"] = *ls;
  json body = {{"metric", def.name},
               {"namespace", std::string(ns)},
               {"workload", std::move(workload)},
               {"sampledAt", FormatRfc3339Millis(sel.answer.sampled_at())},
               {"ageSeconds", absl::ToDoubleSeconds(sel.answer.age)},
               {"podCount", stats.pods},
               {"currentReplicas", current},
               {"total", stats.total},
               {"average", stats.average},
               {"target", OptionalNumber(stats.target)},
               {"targetUtilization", OptionalNumber(stats.target_utilization)},
               {"utilizationPercent", OptionalNumber(stats.utilization_percent)},
               {"hpa", *std::move(hpa)},
               {"kpa", std::move(kpa)}};
  return Json(body, "");
}

HttpResponse QueryApi::SelfMetrics() const {
  view_.UpdateGauges();
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  std::vector<prometheus::MetricFamily> families = registry_.Collect();
  for (auto& family : http::CollectProcessMetrics()) families.push_back(std::move(family));
  r.body = prometheus::TextSerializer().Serialize(families);
  r.route = "/metrics";
  return r;
}

}  // namespace aa::queryapi
