#include "config/internal/presets.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/duration.h"
#include "config/internal/syntax.h"

namespace aa::config::internal {
namespace {

// "sum by (<<.GroupBy>>) (<fn>(<metric>{<extra><<.LabelMatchers>>}[<window>]))"
std::string SumOverWindow(const std::string& fn, const std::string& metric,
                          const std::string& extra_matchers, const std::string& window) {
  return absl::StrCat("sum by (<<.GroupBy>>) (", fn, "(", metric, "{", extra_matchers,
                      "<<.LabelMatchers>>}[", window, "]))");
}

// Mean requests in flight from a latency histogram (Little's law): rate(<base>_sum[w]) is in the
// histogram's unit.
std::string LittlesLaw(const std::string& base, const std::string& unit, const std::string& extra,
                       const std::string& window) {
  std::string q = SumOverWindow("rate", base + "_sum", extra, window);
  if (unit == "ms") q += " / 1000";
  return q;
}

}  // namespace

std::string CpuQuery(const std::string& filter, const std::string& window, bool saturation) {
  auto sum_rate = [&](const char* metric) {
    return absl::StrCat("sum by (<<.GroupBy>>) (rate(", metric, "{", filter, "}[", window, "]))");
  };
  std::string usage = sum_rate("container_cpu_usage_seconds_total");
  if (!saturation) return usage;
  return absl::StrCat(usage, " + (", sum_rate("container_cpu_cfs_throttled_seconds_total"),
                      " or 0 * ", usage, ")");
}

std::string CpuSpanQuery(const std::string& filter, const std::string& window) {
  const std::string ts = absl::StrCat("timestamp(container_cpu_usage_seconds_total{", filter, "})");
  // The newest sample's time minus the oldest one's within the window (a 1s subquery finds the
  // first sample of a series younger than the window); the smallest of the grouped series.
  return absl::StrCat("min by (<<.GroupBy>>) (", ts, " - min_over_time(", ts, "[", window,
                      ":1s]))");
}

std::string MatcherPrefix(const std::vector<std::string>& matchers) {
  return matchers.empty() ? "" : absl::StrCat(absl::StrJoin(matchers, ","), ",");
}

void ExpandPreset(const PresetSpec& spec, MetricDefinition* def) {
  const std::string w = FormatPromDuration(spec.window);
  const std::string extra = MatcherPrefix(spec.source_matchers);
  const std::string w_go = FormatGoDuration(spec.window);
  PresetInfo info;
  info.type = spec.type;
  info.source = spec.source;
  info.window = spec.window;
  info.source_matchers = spec.source_matchers;
  info.baseline_matchers = spec.baseline_matchers;
  info.saturation = spec.saturation;
  std::string ns_label = "namespace";
  std::string pod_label = "pod";
  std::string description;
  def->baseline_query.clear();

  if (spec.type == "cpu") {
    info.metric = "container_cpu_usage_seconds_total";
    def->query = CpuQuery("container!=\"\",container!=\"POD\"," + extra + "<<.LabelMatchers>>", w,
                          spec.saturation);
    def->baseline_query = absl::StrCat(
        "sum by (<<.GroupBy>>) "
        "(kube_pod_container_resource_requests{resource=\"cpu\",unit=\"core\",",
        MatcherPrefix(spec.baseline_matchers), "<<.LabelMatchers>>})");
    description =
        absl::StrCat(spec.saturation ? "CPU demand per pod in cores (usage + CFS throttled "
                                       "time), rate over "
                                     : "CPU usage per pod in cores, rate over ",
                     w_go, " (cAdvisor); baseline: CPU requests in cores (kube-state-metrics)");
  } else if (spec.type == "activity" && spec.source == "istio-gateway") {
    // An external metric over Istio's request counter, per destination Service. A gateway (a client
    // proxy: reporter "source") keeps counting the requests for a Service whose Deployment has zero
    // pods: Envoy answers them 503 at once (no healthy upstream, flag UH) rather than holding them,
    // so its pending-request gauges stay at 0 there, while this counter grows. reporter="source"
    // also keeps the destination's own sidecar from counting a request twice once pods exist.
    info.metric = "istio_requests_total";
    ns_label = "destination_service_namespace";
    pod_label = "";
    def->query = absl::StrCat("sum by (<<.GroupBy>>, destination_service_name) (rate(", info.metric,
                              "{reporter=\"source\",", extra, "<<.LabelMatchers>>}[", w, "]))");
    description = absl::StrCat(
        "Requests per second Istio's gateway (and client sidecars) routed to the "
        "Service over ",
        w_go, ", any response code (istio_requests_total); exists at zero pods");
  } else if (spec.type == "activity") {
    // An external metric: the activator's series carry the revision's namespace and names, and
    // exist while the revision has no pod at all.
    info.source = "knative-activator";
    info.metric = "activator_request_concurrency";
    ns_label = "namespace_name";
    pod_label = "";
    def->query =
        absl::StrCat("sum by (<<.GroupBy>>, configuration_name, revision_name) (max_over_time(",
                     info.metric, "{", extra, "<<.LabelMatchers>>}[", w, "]))");
    description = absl::StrCat("Requests held by Knative's activator per revision, the most over ",
                               w_go, " (activator_request_concurrency); exists at zero pods");
  } else if (spec.type == "waiting") {
    info.source = "vllm";
    info.metric = "vllm:num_requests_waiting";
    def->query = SumOverWindow("avg_over_time", info.metric, extra, w);
    description =
        absl::StrCat("Mean requests waiting per pod over ", w_go, " (vLLM num_requests_waiting)");
  } else if (spec.type == "kv-cache") {
    info.source = "vllm";
    info.metric = "vllm:gpu_cache_usage_perc";
    def->query = SumOverWindow("avg_over_time", info.metric, extra, w) + " * 100";
    description = absl::StrCat("Mean KV-cache usage per pod over ", w_go,
                               ", percent (vLLM gpu_cache_usage_perc x 100)");
  } else if (spec.type == "ttft") {
    info.source = "vllm";
    info.metric = "vllm:time_to_first_token_seconds";
    info.unit = "s";
    const std::string q = absl::StrCat(spec.quantile);
    def->query = absl::StrCat("histogram_quantile(", q, ", sum by (<<.GroupBy>>, le) (rate(",
                              info.metric, "_bucket{", extra, "<<.LabelMatchers>>}[", w, "])))");
    description = absl::StrCat("Quantile ", q, " of the time to first token per pod over ", w_go,
                               ", seconds (vLLM time_to_first_token_seconds)");
  } else {  // concurrency
    if (spec.source == "knative-queue-proxy") {
      info.metric = "revision_request_latencies";
      info.unit = "ms";
      ns_label = "namespace_name";
      pod_label = "pod_name";
      def->query = LittlesLaw(info.metric, info.unit, extra, w);
      description =
          absl::StrCat("Mean requests in flight per pod over ", w_go,
                       " (Little's law on Knative queue-proxy revision_request_latencies)");
    } else if (spec.source == "kserve") {
      info.metric = "request_predict_seconds";
      info.unit = "s";
      def->query = LittlesLaw(info.metric, info.unit, extra, w);
      description = absl::StrCat("Mean predict requests in flight per pod over ", w_go,
                                 " (Little's law on KServe request_predict_seconds)");
    } else if (spec.source == "vllm") {
      info.metric = "vllm:num_requests_running";
      def->query = SumOverWindow("avg_over_time", info.metric, extra, w);
      description =
          absl::StrCat("Mean requests running per pod over ", w_go, " (vLLM num_requests_running)");
    } else if (spec.source == "histogram") {
      info.metric = spec.metric;
      info.unit = spec.unit;
      def->query = LittlesLaw(info.metric, info.unit, extra, w);
      description = absl::StrCat("Mean requests in flight per pod over ", w_go,
                                 " (Little's law on ", spec.metric, ", in ", spec.unit, ")");
    } else {  // gauge
      info.metric = spec.metric;
      def->query = SumOverWindow("avg_over_time", info.metric, extra, w);
      description = absl::StrCat("Mean of gauge ", spec.metric, " per pod over ", w_go);
    }
  }
  def->namespace_label = spec.namespace_label.empty() ? ns_label : spec.namespace_label;
  def->pod_label = spec.pod_label.empty() ? pod_label : spec.pod_label;
  if (def->description.empty()) def->description = std::move(description);
  def->preset = std::move(info);
}

}  // namespace aa::config::internal
