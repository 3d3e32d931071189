#pragma once
// Renders the simulator's state in the Prometheus text exposition format (version 0.0.4), with the
// metric names and labels the real exporters use, so one scrape of the simulator looks like a
// cluster's queue-proxies, KServe model servers, vLLM, cAdvisor and kube-state-metrics at once.
// Every pod-level series carries its labels on the metric itself (no target relabelling needed).
// Families are written in a fixed order, series in service and pod order.
//
// Exposed families (pods of a deleted pod disappear with it; counters never decrease while a pod
// lives):
//   revision_request_latencies (histogram, ms; queue wait + service time),
//   revision_request_count (counter)
//     {namespace_name, configuration_name=<svc>-predictor, revision_name=<svc>-predictor-00001,
//      pod_name, container_name="queue-proxy", response_code="200", response_code_class="2xx"}
//   activator_request_concurrency (gauge: the service queue, i.e. the requests Knative's activator
//     holds: all of them at zero ready pods), activator_request_count (counter: requests that
//     entered it; plus response_code="200", response_code_class="2xx")
//     {namespace_name, service_name=configuration_name=<svc>-predictor,
//      revision_name=<svc>-predictor-00001, pod_name="activator-sim", container_name="activator"}:
//     one series per service, present at zero pods too
//   istio_requests_total (counter: requests Istio's ingress gateway routed to the service, counted
//     on arrival) {reporter="source", source_workload="istio-ingressgateway",
//      source_workload_namespace="istio-system", source_app,
//      destination_service=<svc>-predictor.<ns>.svc.cluster.local,
//      destination_service_name=<svc>-predictor,
//      destination_service_namespace, destination_workload, destination_workload_namespace,
//      request_protocol="http", response_code="200", response_flags="-",
//      connection_security_policy="unknown"}; envoy_cluster_upstream_rq_pending_active (gauge: the
//     service queue, the same value as activator_request_concurrency) and
//     envoy_cluster_upstream_rq_active (gauge: in flight)
//     {cluster_name="outbound|80||<svc>-predictor.<ns>.svc.cluster.local"}: one series per
//     service, present at zero pods too
//   request_predict_seconds (histogram, service time) {namespace, pod, model_name}
//   vllm:num_requests_running, vllm:num_requests_waiting (gauges) {namespace, pod, model_name};
//     waiting is the pod's share of the service queue (shared out evenly over the serving pods,
//     remainder to the oldest)
//   vllm:gpu_cache_usage_perc (gauge, 0..1) and vllm:time_to_first_token_seconds (histogram, s,
//     vLLM's buckets) {namespace, pod, model_name}: vLLM-like services (ServiceSpec::llm) only
//   container_cpu_usage_seconds_total (counter) {namespace, pod, container, node}:
//     container="kserve-container", plus the pause container "POD" (constant 0.001 core) and the
//     pod cgroup container="" (their sum), as cAdvisor does; and per node the root cgroup
//     {id="/", node} (the node's total, see model.h)
//   container_memory_working_set_bytes (gauge) {namespace, pod, container, node} (same three
//     containers) and {id="/", node}
//   node_cpu_usage_seconds_total (counter), node_memory_working_set_bytes (gauge) {node}: the
//     kubelet's resource metrics (/metrics/resource), equal to the root cgroup's
//   kube_pod_info {namespace, pod, node}; kube_node_info {node, os_image}, kube_node_labels {node,
//     label_kubernetes_io_hostname, label_kubernetes_io_os}, kube_node_status_capacity and
//     kube_node_status_allocatable {node, resource=cpu|memory, unit=core|byte}
//   kube_pod_container_resource_requests {namespace, pod, container="kserve-container", node,
//     resource=cpu|memory, unit=core|byte}
//   kube_pod_labels {namespace, pod, label_serving_kserve_io_inferenceservice, label_app,
//     label_component}
//   kube_pod_status_ready {namespace, pod, condition=true|false|unknown}, kube_pod_start_time,
//     kube_pod_deletion_timestamp (draining pods only)
//   kube_deployment_labels {namespace, deployment=<svc>-predictor, label_* as the pods'},
//   kube_deployment_status_replicas {namespace, deployment} (pods not draining),
//   kube_service_labels {namespace, service=<svc>, label_* as the pods'}
//   sim_* ground truth per service {namespace, service}: sim_service_replicas,
//     sim_service_ready_replicas, sim_service_arrival_rate, sim_service_queue_length,
//     sim_service_in_flight, sim_requests_arrived_total, sim_requests_completed_total,
//     sim_requests_queued_total, sim_requests_dropped_total, sim_service_concurrency_seconds_total
//     (integral of in flight + queued: its rate is the true mean concurrency),
//     sim_request_latency_seconds_sum_total; and sim_time_seconds.

#include <string>

#include "demo/sim/model.h"

namespace aa::sim {

// The content type to serve the text with.
inline constexpr char kExpositionContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// Renders every family. Pure: reads only `sim`.
std::string RenderMetrics(const Simulator& sim);

// Formats a sample value: shortest round-trip decimal, "+Inf", "-Inf", "NaN".
std::string FormatSampleValue(double v);

// Escapes a label value (backslash, double quote, newline).
std::string EscapeLabelValue(std::string_view v);

}  // namespace aa::sim
