#pragma once
// The query API for people and scripts, plus the adapter's own /metrics and health endpoints.
// The adapter serves the query API (/api/v1/...) on the HTTPS port behind authentication and
// authorization (queryapi/authorization.h), and only /metrics and health on the plain-HTTP port
// (HandleOperational).
//
//   GET /api/v1/metrics                                   the metric definitions
//   GET /api/v1/namespaces/{ns}/metrics/{metric}          per-pod values, workload total/average,
//   utilization
//       ?pod=NAME              only this pod
//       ?inferenceService=NAME only the pods of this InferenceService (label
//       serving.kserve.io/inferenceservice) ?labelSelector=SEL     only pods whose Kubernetes
//       labels match (selector syntax) ?fieldSelector=SEL  only pods whose metadata.name and
//       metadata.namespace match (Kubernetes field selector syntax, as metrics-server)
//       ?target=X              per-pod target value for utilization
//       (default: the definition's target) ?targetUtilization=P   target utilization percent, for
//       metrics with a baseline (default: the definition's)
//   GET /api/v1/namespaces/{ns}/metrics/{metric}/scaling   "what would happen now" for the selected
//       workload (same selection and target parameters, no ?pod): current value and utilization,
//       the replicas an HPA (Pods AverageValue = target, or Resource Utilization for metrics with a
//       baseline; min/max/behavior from the definition's `scaling`, default 1, 10 and KServe's
//       behavior) would set at its next sync from a steady state, where it settles, and what
//       Knative's KPA would decide (concurrency-like metrics; from the panic-aware windows when the
//       metric has them).
//       ?currentReplicas=N     default: the pods with a value; ?minReplicas= / ?maxReplicas=
//       override
//   GET /metrics   self-metrics (Prometheus text format): the registry's and the process_* ones
//                  (http/process_metrics.h)
//   GET /healthz, /livez   200 while the process serves; GET /readyz (?verbose, /readyz/<check>)
//   200 once every readiness check passes (http/readiness.h), else 503 listing them with reasons
// `timeout` (which Kubernetes clients add) is accepted and ignored; any other unknown parameter
// is a 400. Errors are JSON {"error":{"code":N,"reason":"...","message":"..."}}: 400 bad parameter,
// 404 unknown metric or path or no such pod/series, 405 wrong method, 503 stale data or Prometheus
// down. Handlers only read snapshots (the first request for a new (metric, namespace) waits for its
// first sample).

#include <memory>
#include <optional>
#include <set>
#include <string>

#include "common/clock.h"
#include "http/readiness.h"
#include "net/server.h"
#include "pipeline/view.h"
#include "pipeline/workload.h"

namespace prometheus {
class Registry;
}

namespace aa::queryapi {

class QueryApi {
 public:
  // What `view` reads, `registry`, `clock` and `readiness` must outlive this object. /readyz
  // answers from `readiness` (null: the pipeline's check alone).
  QueryApi(pipeline::View view, prometheus::Registry& registry, Clock& clock,
           const http::Readiness* readiness = nullptr)
      : view_(view),
        registry_(registry),
        clock_(clock),
        own_readiness_(readiness == nullptr ? http::Readiness::ForView(view_) : nullptr),
        readiness_(readiness == nullptr ? own_readiness_.get() : readiness) {}

  // Every path above. Thread-safe.
  net::HttpResponse Handle(const net::HttpRequest& request) const;
  // The plain-HTTP port: /metrics and health as Handle; any other path 404, saying that the query
  // API is served on the HTTPS port with credentials. Thread-safe.
  net::HttpResponse HandleOperational(const net::HttpRequest& request) const;

 private:
  // The pods a request selects and their aggregate.
  struct Selection {
    pipeline::Selection answer;  // the rows selected
    std::string selector;
    std::optional<double> target;
    std::optional<double> target_utilization;
    pipeline::WorkloadStats stats;
  };
  absl::StatusOr<Selection> Select(const net::HttpRequest& req, std::string_view ns,
                                   std::string_view metric,
                                   const std::set<std::string, std::less<>>& known_params) const;
  net::HttpResponse GetScaling(const net::HttpRequest& request, std::string_view ns,
                               std::string_view metric) const;
  net::HttpResponse ListMetrics() const;
  net::HttpResponse GetMetric(const net::HttpRequest& request, std::string_view ns,
                              std::string_view metric) const;
  net::HttpResponse SelfMetrics() const;

  const pipeline::View view_;
  prometheus::Registry& registry_;
  Clock& clock_;
  std::unique_ptr<http::Readiness> own_readiness_;  // when none was given
  const http::Readiness* readiness_;
};

// A query API path (split on '/', empty segments skipped, as Handle reads it).
struct QueryPath {
  enum class Kind {
    kList,     // /api/v1/metrics
    kMetric,   // /api/v1/namespaces/{ns}/metrics/{metric}
    kScaling,  // /api/v1/namespaces/{ns}/metrics/{metric}/scaling
  };
  Kind kind = Kind::kList;
  std::string ns;      // empty for kList
  std::string metric;  // empty for kList
};
// nullopt when `path` is none of the three (e.g. /metrics, health, anything else).
std::optional<QueryPath> ParseQueryPath(std::string_view path);
// /metrics, /healthz, /livez, /readyz and /readyz/<check>: what the plain-HTTP port serves.
bool IsOperationalPath(std::string_view path);

// A JSON error body with the HTTP code that matches `status` (common/http_status.h: 400, 404, 503,
// 500...).
net::HttpResponse ErrorResponse(const absl::Status& status);
// The same for an HTTP code and message (for net::HttpServerOptions::error_response).
net::HttpResponse ErrorResponse(int code, std::string message);

}  // namespace aa::queryapi
