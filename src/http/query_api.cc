#include "http/query_api.h"

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
#include "nlohmann/json.hpp"
#include "pipeline/pod_select.h"
#include "pipeline/workload.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "selector/selector.h"

namespace aa::http {
namespace {

using nlohmann::json;

HttpResponse Json(const json& body, std::string route) {
  HttpResponse r;
  r.body = body.dump();
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

// Parses an optional positive finite number parameter.
absl::StatusOr<std::optional<double>> PositiveParam(const HttpRequest& req, std::string_view name) {
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

}  // namespace

HttpResponse ErrorResponse(const absl::Status& status) {
  int code = HttpStatusFor(status.code());
  HttpResponse r;
  r.status = code;
  r.body = json{{"error",
                 {{"code", code},
                  {"reason", HttpReasonFor(code) ? HttpReasonFor(code) : "InternalError"},
                  {"message", std::string(status.message())}}}}
               .dump();
  return r;
}

HttpResponse QueryApi::Handle(const HttpRequest& req) const {
  std::vector<absl::string_view> parts = absl::StrSplit(req.path, '/', absl::SkipEmpty());
  auto route = [&]() -> std::string {
    if (req.path == "/healthz" || req.path == "/livez" || req.path == "/readyz" ||
        req.path == "/metrics") {
      return req.path;
    }
    if (req.path == "/api/v1/metrics") return req.path;
    if (parts.size() == 6 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "namespaces" &&
        parts[4] == "metrics") {
      return "/api/v1/namespaces/{ns}/metrics/{metric}";
    }
    return "";
  }();
  if (route.empty()) {
    HttpResponse r = ErrorResponse(absl::NotFoundError(
        absl::StrCat("no such path: ", req.path,
                     " (try /api/v1/metrics or /api/v1/namespaces/{ns}/metrics/{metric})")));
    r.route = "unknown";
    return r;
  }
  if (req.method != "GET" && req.method != "HEAD") {
    HttpResponse r = ErrorResponse(absl::UnimplementedError(
        absl::StrCat("method ", req.method, " is not allowed on ", req.path, ": only GET")));
    r.headers.emplace_back("Allow", "GET, HEAD");
    r.route = route;
    return r;
  }
  if (route == "/healthz" || route == "/livez") return Text(200, "ok", route);
  if (route == "/readyz") {
    return sampler_.Ready()
               ? Text(200, "ok", route)
               : Text(503, "not ready: waiting for the first successful sample from Prometheus",
                      route);
  }
  if (route == "/metrics") return SelfMetrics();
  if (route == "/api/v1/metrics") return ListMetrics();
  HttpResponse r = GetMetric(req, FromAbsl(parts[3]), FromAbsl(parts[5]));
  r.route = route;
  return r;
}

HttpResponse QueryApi::ListMetrics() const {
  json items = json::array();
  for (const auto& def : sampler_.config().metrics) {
    json item = {{"name", def.name},
                 {"resource", def.resource},
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

HttpResponse QueryApi::GetMetric(const HttpRequest& req, std::string_view ns,
                                 std::string_view metric) const {
  static const std::set<std::string, std::less<>> kParams = {
      "pod",    "inferenceService", "labelSelector",      "target",
      "targetUtilization", "resource", "metricLabelSelector"};
  for (const auto& [name, value] : req.params) {
    if (!kParams.contains(name)) {
      return ErrorResponse(absl::InvalidArgumentError(
          absl::StrCat("unknown parameter \"", name, "\"; known: ", absl::StrJoin(kParams, ", "))));
    }
  }
  auto target = PositiveParam(req, "target");
  if (!target.ok()) return ErrorResponse(target.status());
  auto target_utilization = PositiveParam(req, "targetUtilization");
  if (!target_utilization.ok()) return ErrorResponse(target_utilization.status());
  std::string selector = req.Param("labelSelector") ? *req.Param("labelSelector") : "";
  if (const std::string* isvc = req.Param("inferenceService")) {
    auto s = pipeline::InferenceServiceSelector(*isvc);
    if (!s.ok()) return ErrorResponse(s.status());
    selector = selector.empty() ? *s : absl::StrCat(selector, ",", *s);
  }

  // Rule metrics of other objects (services, deployments.apps...): "pods" then lists those.
  const std::string* resource = req.Param("resource");
  // metricLabelSelector filters the series (in the query), as in the Kubernetes APIs.
  std::string extra_matchers;
  if (const std::string* series = req.Param("metricLabelSelector")) {
    auto parsed = selector::Selector::Parse(*series);
    if (!parsed.ok()) return ErrorResponse(parsed.status());
    auto matchers =
        selector::ToPromQLMatchers(*parsed, [](std::string_view key) { return std::string(key); });
    if (!matchers.ok()) return ErrorResponse(matchers.status());
    extra_matchers = absl::StrJoin(*matchers, ",");
  }
  auto read = sampler_.Read(metric, ns, resource ? std::string_view(*resource) : "pods",
                            extra_matchers);
  if (!read.ok()) return ErrorResponse(read.status());
  auto select = pipeline::PodSelector(*read->snapshot, ns, selector);
  if (!select.ok()) return ErrorResponse(select.status());
  pipeline::PodPredicate include = *std::move(select);
  if (const std::string* pod = req.Param("pod")) {
    pipeline::PodPredicate by_labels = include;
    include = [pod = *pod, by_labels](const pipeline::PodValue& v) {
      return v.pod == pod && (!by_labels || by_labels(v));
    };
  }
  const config::MetricDefinition& def = *read->definition;
  const pipeline::MetricTable& table = *read->table;
  pipeline::WorkloadStats stats =
      pipeline::Aggregate(def, table, include, *target, *target_utilization);
  if (stats.pods == 0) {
    std::string what =
        req.Param("pod")
            ? absl::StrCat("pod ", *req.Param("pod"))
            : (selector.empty() ? "any pod" : absl::StrCat("pods matching ", selector));
    return ErrorResponse(absl::NotFoundError(
        absl::StrCat("metric ", def.name, " has no value for ", what, " in namespace ", ToAbsl(ns),
                     " (Prometheus returned ", table.pods.size(), " pods at ",
                     FormatRfc3339Millis(table.sampled_at), ")")));
  }
  json pods = json::array();
  int64_t formatted_ms = -1;  // pods of one query share a timestamp: format it once
  std::string formatted;
  for (const pipeline::PodValue& pod : table.pods) {
    if (include && !include(pod)) continue;
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
    pods.push_back(std::move(p));
  }
  json body = {{"metric", def.name},
               {"namespace", std::string(ns)},
               {"sampledAt", FormatRfc3339Millis(table.sampled_at)},
               {"ageSeconds", absl::ToDoubleSeconds(read->age)},
               {"pods", std::move(pods)},
               {"podCount", stats.pods},
               {"total", stats.total},
               {"average", stats.average},
               {"target", OptionalNumber(stats.target)},
               {"targetUtilization", OptionalNumber(stats.target_utilization)},
               {"utilizationPercent", OptionalNumber(stats.utilization_percent)}};
  if (!def.baseline_query.empty()) body["baselineTotal"] = stats.baseline_total;
  if (table.dropped_non_finite > 0) body["droppedNonFinite"] = table.dropped_non_finite;
  return Json(body, "");
}

HttpResponse QueryApi::SelfMetrics() const {
  sampler_.UpdateGauges();
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = prometheus::TextSerializer().Serialize(registry_.Collect());
  r.route = "/metrics";
  return r;
}

}  // namespace aa::http
