#include "demo/sim/exposition.h"

#include <charconv>
#include <cmath>
#include <functional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/strings.h"

namespace aa::sim {
namespace {

using Labels = std::vector<std::pair<std::string_view, std::string>>;

class Writer {
 public:
  void Family(std::string_view name, std::string_view type, std::string_view help) {
    absl::StrAppend(&out_, "# HELP ", ToAbsl(name), " ", ToAbsl(help), "\n# TYPE ", ToAbsl(name),
                    " ", ToAbsl(type), "\n");
  }

  void Sample(std::string_view name, const Labels& labels, double value) {
    out_.append(name);
    if (!labels.empty()) {
      out_.push_back('{');
      bool first = true;
      for (const auto& [k, v] : labels) {
        if (!first) out_.push_back(',');
        first = false;
        absl::StrAppend(&out_, ToAbsl(k), "=\"", EscapeLabelValue(v), "\"");
      }
      out_.push_back('}');
    }
    absl::StrAppend(&out_, " ", FormatSampleValue(value), "\n");
  }

  void Histogram(std::string_view name, const Labels& labels, const sim::Histogram& h) {
    Labels with_le = labels;
    with_le.emplace_back("le", "");
    uint64_t cumulative = 0;
    const std::string bucket = absl::StrCat(ToAbsl(name), "_bucket");
    for (size_t i = 0; i < h.bounds->size(); ++i) {
      cumulative += h.counts[i];
      with_le.back().second = FormatSampleValue((*h.bounds)[i]);
      Sample(bucket, with_le, static_cast<double>(cumulative));
    }
    with_le.back().second = "+Inf";
    Sample(bucket, with_le, static_cast<double>(h.count));
    Sample(absl::StrCat(ToAbsl(name), "_sum"), labels, h.sum);
    Sample(absl::StrCat(ToAbsl(name), "_count"), labels, static_cast<double>(h.count));
  }

  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

double UnixSeconds(absl::Time t) { return absl::ToDoubleSeconds(t - absl::UnixEpoch()); }

}  // namespace

std::string FormatSampleValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string RenderMetrics(const Simulator& sim) {
  const std::vector<ServiceView> services = sim.Services();
  Writer w;
  // Calls `f(service, pod)` for every pod.
  auto each_pod = [&](const std::function<void(const ServiceView&, const PodView&)>& f) {
    for (const auto& s : services) {
      for (const auto& p : s.pods) f(s, p);
    }
  };
  auto queue_proxy_labels = [](const ServiceView& s, const PodView& p) {
    const std::string config = s.spec->name + "-predictor";
    return Labels{{"namespace_name", s.spec->ns},       {"configuration_name", config},
                  {"revision_name", config + "-00001"}, {"pod_name", p.name},
                  {"container_name", "queue-proxy"},    {"response_code", "200"},
                  {"response_code_class", "2xx"}};
  };
  auto model_labels = [](const ServiceView& s, const PodView& p) {
    return Labels{{"namespace", s.spec->ns}, {"pod", p.name}, {"model_name", s.spec->ModelName()}};
  };
  // cAdvisor series carry the node from the scrape target (deploy/prometheus/scrape-config.yaml).
  auto container_labels = [](const ServiceView& s, const PodView& p, std::string_view container) {
    return Labels{{"namespace", s.spec->ns},
                  {"pod", p.name},
                  {"container", std::string(container)},
                  {"node", p.node}};
  };
  const std::vector<NodeView> nodes = sim.Nodes();
  // cAdvisor's root cgroup (the whole node): no namespace, pod or container.
  auto root_labels = [](const NodeView& n) { return Labels{{"id", "/"}, {"node", n.name}}; };
  auto pod_labels = [](const ServiceView& s, const PodView& p) {
    return Labels{{"namespace", s.spec->ns}, {"pod", p.name}};
  };

  // Knative queue-proxy.
  w.Family("revision_request_latencies", "histogram",
           "The response latencies (queue wait + service time), in milliseconds");
  each_pod([&](const ServiceView& s, const PodView& p) {
    w.Histogram("revision_request_latencies", queue_proxy_labels(s, p), *p.latency_ms);
  });
  w.Family("revision_request_count", "counter",
           "The number of requests that are routed to queue-proxy");
  each_pod([&](const ServiceView& s, const PodView& p) {
    w.Sample("revision_request_count", queue_proxy_labels(s, p), static_cast<double>(p.requests));
  });

  // Knative's activator (one replica, "activator-sim" in knative-serving), per revision: the
  // requests it holds (the service queue: every request at zero ready pods, and the overflow
  // beyond containerConcurrency), and the requests that entered it.
  auto activator_labels = [](const ServiceView& s) {
    const std::string config = s.spec->name + "-predictor";
    return Labels{{"namespace_name", s.spec->ns}, {"service_name", config},
                  {"configuration_name", config}, {"revision_name", config + "-00001"},
                  {"pod_name", "activator-sim"},  {"container_name", "activator"}};
  };
  w.Family("activator_request_concurrency", "gauge",
           "Concurrent requests that are routed to Activator");
  for (const auto& s : services) {
    w.Sample("activator_request_concurrency", activator_labels(s),
             static_cast<double>(s.queue_length));
  }
  w.Family("activator_request_count", "counter",
           "The number of requests that are routed to Activator");
  for (const auto& s : services) {
    Labels l = activator_labels(s);
    l.emplace_back("response_code", "200");
    l.emplace_back("response_code_class", "2xx");
    w.Sample("activator_request_count", l, static_cast<double>(s.queued));
  }

  // Istio's ingress gateway (one pod, "istio-ingressgateway" in istio-system), per
  // InferenceService: the route to the predictor's Service, as KServe's Standard mode (no
  // activator) has it. Two kinds of series, with the names and labels Istio and Envoy give them:
  // - istio_requests_total, Istio's standard request counter. The gateway is a client proxy, so its
  //   reporter is "source"; the destination_service_* labels name the Service, which exists (and so
  //   does the series, once a request came) while the Deployment has zero pods. A real Envoy at
  //   zero endpoints does not hold a request: it answers 503 at once ("no healthy upstream",
  //   response flag UH) and counts it here with that code. This counter is therefore what reports
  //   demand at zero endpoints, and what preset activity with source istio-gateway reads. Istio
  //   counts a request when it ends; the simulator, whose gateway holds requests like the
  //   activator, counts it when it arrives (at zero endpoints, where a real one ends at once, the
  //   two agree).
  // - Envoy's per-cluster gauges of the outbound cluster
  //   "outbound|80||<svc>-predictor.<ns>.svc.cluster.local": upstream_rq_pending_active (requests
  //   waiting for a connection-pool slot: here the service queue, as the activator's) and
  //   upstream_rq_active (requests sent upstream). In a real Envoy the pending gauge counts only
  //   requests queued for an existing endpoint's connection pool (none at zero endpoints: those are
  //   refused with UH), and Istio does not export cluster stats unless proxyStatsMatcher includes
  //   them; so no preset reads them.
  auto gateway_labels = [](const ServiceView& s) {
    const std::string svc = s.spec->name + "-predictor";
    return Labels{{"reporter", "source"},
                  {"source_workload", "istio-ingressgateway"},
                  {"source_workload_namespace", "istio-system"},
                  {"source_app", "istio-ingressgateway"},
                  {"destination_service", absl::StrCat(svc, ".", s.spec->ns, ".svc.cluster.local")},
                  {"destination_service_name", svc},
                  {"destination_service_namespace", s.spec->ns},
                  {"destination_workload", svc},
                  {"destination_workload_namespace", s.spec->ns},
                  {"request_protocol", "http"},
                  {"response_code", "200"},
                  {"response_flags", "-"},
                  {"connection_security_policy", "unknown"}};
  };
  w.Family("istio_requests_total", "counter", "Total requests.");
  for (const auto& s : services) {
    w.Sample("istio_requests_total", gateway_labels(s), static_cast<double>(s.arrived));
  }
  auto envoy_cluster_labels = [](const ServiceView& s) {
    return Labels{{"cluster_name", absl::StrCat("outbound|80||", s.spec->name, "-predictor.",
                                                s.spec->ns, ".svc.cluster.local")}};
  };
  w.Family("envoy_cluster_upstream_rq_pending_active", "gauge",
           "Total active requests pending a connection pool connection");
  for (const auto& s : services) {
    w.Sample("envoy_cluster_upstream_rq_pending_active", envoy_cluster_labels(s),
             static_cast<double>(s.queue_length));
  }
  w.Family("envoy_cluster_upstream_rq_active", "gauge", "Total active requests");
  for (const auto& s : services) {
    w.Sample("envoy_cluster_upstream_rq_active", envoy_cluster_labels(s),
             static_cast<double>(s.in_flight));
  }

  // KServe model server.
  w.Family("request_predict_seconds", "histogram", "predict latency in seconds");
  each_pod([&](const ServiceView& s, const PodView& p) {
    w.Histogram("request_predict_seconds", model_labels(s, p), *p.predict_seconds);
  });

  // vLLM.
  w.Family("vllm:num_requests_running", "gauge", "Number of requests currently running on GPU.");
  each_pod([&](const ServiceView& s, const PodView& p) {
    w.Sample("vllm:num_requests_running", model_labels(s, p), p.in_flight);
  });
  w.Family("vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.");
  each_pod([&](const ServiceView& s, const PodView& p) {
    w.Sample("vllm:num_requests_waiting", model_labels(s, p), p.waiting_share);
  });
  // Only the vLLM-like servers (ServiceSpec::llm) have a KV cache and a time to first token.
  w.Family("vllm:gpu_cache_usage_perc", "gauge", "GPU KV-cache usage. 1 means 100 percent usage.");
  each_pod([&](const ServiceView& s, const PodView& p) {
    if (p.ttft_seconds != nullptr)
      w.Sample("vllm:gpu_cache_usage_perc", model_labels(s, p), p.kv_cache_usage);
  });
  w.Family("vllm:time_to_first_token_seconds", "histogram",
           "Histogram of time to first token in seconds.");
  each_pod([&](const ServiceView& s, const PodView& p) {
    if (p.ttft_seconds != nullptr)
      w.Histogram("vllm:time_to_first_token_seconds", model_labels(s, p), *p.ttft_seconds);
  });

  // cAdvisor (through the kubelet).
  w.Family("container_cpu_usage_seconds_total", "counter",
           "Cumulative cpu time consumed in seconds.");
  each_pod([&](const ServiceView& s, const PodView& p) {
    const double pause = kPauseContainerCpu * absl::ToDoubleSeconds(sim.Now() - p.created);
    w.Sample("container_cpu_usage_seconds_total", container_labels(s, p, ""),
             p.cpu_seconds + pause);
    w.Sample("container_cpu_usage_seconds_total", container_labels(s, p, "POD"), pause);
    w.Sample("container_cpu_usage_seconds_total", container_labels(s, p, "kserve-container"),
             p.cpu_seconds);
  });
  for (const NodeView& n : nodes) {
    w.Sample("container_cpu_usage_seconds_total", root_labels(n), n.cpu_seconds);
  }
  // CFS counters: only containers with a CPU limit have them (as cAdvisor reports them).
  auto each_limited = [&](const std::function<void(const ServiceView&, const PodView&)>& f) {
    each_pod([&](const ServiceView& s, const PodView& p) {
      if (s.spec->cpu_limit > 0) f(s, p);
    });
  };
  w.Family("container_cpu_cfs_periods_total", "counter",
           "Number of elapsed enforcement period intervals.");
  each_limited([&](const ServiceView& s, const PodView& p) {
    w.Sample("container_cpu_cfs_periods_total", container_labels(s, p, "kserve-container"),
             std::floor(p.cfs_periods));
  });
  w.Family("container_cpu_cfs_throttled_periods_total", "counter",
           "Number of throttled period intervals.");
  each_limited([&](const ServiceView& s, const PodView& p) {
    w.Sample("container_cpu_cfs_throttled_periods_total",
             container_labels(s, p, "kserve-container"), std::floor(p.cfs_throttled_periods));
  });
  w.Family("container_cpu_cfs_throttled_seconds_total", "counter",
           "Total time duration the container has been throttled.");
  each_limited([&](const ServiceView& s, const PodView& p) {
    w.Sample("container_cpu_cfs_throttled_seconds_total",
             container_labels(s, p, "kserve-container"), p.throttled_seconds);
  });
  w.Family("container_memory_working_set_bytes", "gauge", "Current working set in bytes.");
  each_pod([&](const ServiceView& s, const PodView& p) {
    w.Sample("container_memory_working_set_bytes", container_labels(s, p, ""),
             p.memory_bytes + kPauseContainerMemory);
    w.Sample("container_memory_working_set_bytes", container_labels(s, p, "POD"),
             kPauseContainerMemory);
    w.Sample("container_memory_working_set_bytes", container_labels(s, p, "kserve-container"),
             p.memory_bytes);
  });
  for (const NodeView& n : nodes) {
    w.Sample("container_memory_working_set_bytes", root_labels(n), n.memory_bytes);
  }

  // The kubelet's resource metrics endpoint (/metrics/resource, what metrics-server reads), with
  // the node from the scrape target.
  w.Family("node_cpu_usage_seconds_total", "counter",
           "Cumulative cpu time consumed by the node in core-seconds");
  for (const NodeView& n : nodes) {
    w.Sample("node_cpu_usage_seconds_total", Labels{{"node", n.name}}, n.cpu_seconds);
  }
  w.Family("node_memory_working_set_bytes", "gauge", "Current working set of the node in bytes");
  for (const NodeView& n : nodes) {
    w.Sample("node_memory_working_set_bytes", Labels{{"node", n.name}}, n.memory_bytes);
  }

  // kube-state-metrics.
  // kube-state-metrics names the pod's node too.
  auto cpu_labels = [&](const ServiceView& s, const PodView& p) {
    Labels l = container_labels(s, p, "kserve-container");
    l.emplace_back("resource", "cpu");
    l.emplace_back("unit", "core");
    return l;
  };
  w.Family("kube_pod_container_resource_requests", "gauge",
           "The number of requested request resource by a container.");
  each_pod([&](const ServiceView& s, const PodView& p) {
    Labels l = cpu_labels(s, p);
    w.Sample("kube_pod_container_resource_requests", l, s.spec->cpu_request);
    l[l.size() - 2].second = "memory";
    l[l.size() - 1].second = "byte";
    w.Sample("kube_pod_container_resource_requests", l, s.spec->memory_request);
  });
  w.Family("kube_pod_container_resource_limits", "gauge",
           "The number of requested limit resource by a container.");
  each_limited([&](const ServiceView& s, const PodView& p) {
    w.Sample("kube_pod_container_resource_limits", cpu_labels(s, p), s.spec->cpu_limit);
  });
  w.Family("kube_pod_labels", "gauge", "Kubernetes labels converted to Prometheus labels.");
  each_pod([&](const ServiceView& s, const PodView& p) {
    Labels l = pod_labels(s, p);
    l.emplace_back("label_serving_kserve_io_inferenceservice", s.spec->name);
    l.emplace_back("label_app", s.spec->name + "-predictor");
    l.emplace_back("label_component", "predictor");
    w.Sample("kube_pod_labels", l, 1);
  });
  w.Family("kube_pod_info", "gauge", "Information about pod.");
  each_pod([&](const ServiceView& s, const PodView& p) {
    Labels l = pod_labels(s, p);
    l.emplace_back("node", p.node);
    w.Sample("kube_pod_info", l, 1);
  });
  w.Family("kube_pod_status_ready", "gauge",
           "Describes whether the pod is ready to serve requests.");
  each_pod([&](const ServiceView& s, const PodView& p) {
    Labels l = pod_labels(s, p);
    l.emplace_back("condition", "true");
    w.Sample("kube_pod_status_ready", l, p.ready ? 1 : 0);
    l.back().second = "false";
    w.Sample("kube_pod_status_ready", l, p.ready ? 0 : 1);
    l.back().second = "unknown";
    w.Sample("kube_pod_status_ready", l, 0);
  });
  w.Family("kube_pod_start_time", "gauge", "Start time in unix timestamp for a pod.");
  each_pod([&](const ServiceView& s, const PodView& p) {
    w.Sample("kube_pod_start_time", pod_labels(s, p), std::floor(UnixSeconds(p.created)));
  });
  w.Family("kube_pod_deletion_timestamp", "gauge", "Unix deletion timestamp");
  each_pod([&](const ServiceView& s, const PodView& p) {
    if (p.draining)
      w.Sample("kube_pod_deletion_timestamp", pod_labels(s, p),
               std::floor(UnixSeconds(p.deletion)));
  });

  w.Family("kube_node_info", "gauge", "Information about a cluster node.");
  for (const NodeView& n : nodes) {
    w.Sample("kube_node_info",
             Labels{{"node", n.name}, {"os_image", "Debian GNU/Linux 12 (bookworm)"}}, 1);
  }
  w.Family("kube_node_labels", "gauge", "Kubernetes labels converted to Prometheus labels.");
  for (const NodeView& n : nodes) {
    w.Sample("kube_node_labels",
             Labels{{"node", n.name},
                    {"label_kubernetes_io_hostname", n.name},
                    {"label_kubernetes_io_os", "linux"}},
             1);
  }
  for (const auto& [family, help] :
       {std::pair<const char*, const char*>{"kube_node_status_capacity",
                                            "The capacity for different resources of a node."},
        {"kube_node_status_allocatable",
         "The allocatable for different resources of a node that are available for scheduling."}}) {
    const bool capacity = std::string_view(family) == "kube_node_status_capacity";
    w.Family(family, "gauge", help);
    for (const NodeView& n : nodes) {
      w.Sample(family, Labels{{"node", n.name}, {"resource", "cpu"}, {"unit", "core"}},
               capacity ? n.spec->cpu_capacity : n.spec->cpu_allocatable);
      w.Sample(family, Labels{{"node", n.name}, {"resource", "memory"}, {"unit", "byte"}},
               capacity ? n.spec->memory_capacity : n.spec->memory_allocatable);
    }
  }

  // kube-state-metrics' objects behind the pods (KServe raw deployment mode): one Deployment
  // "<isvc>-predictor" and one Service named like the InferenceService (the `service` label of the
  // sim_* series), both labelled like their pods.
  auto object_labels = [](const ServiceView& s, const char* kind, std::string name) {
    return Labels{{"namespace", s.spec->ns},
                  {kind, std::move(name)},
                  {"label_serving_kserve_io_inferenceservice", s.spec->name},
                  {"label_app", s.spec->name + "-predictor"},
                  {"label_component", "predictor"}};
  };
  w.Family("kube_deployment_labels", "gauge", "Kubernetes labels converted to Prometheus labels.");
  for (const auto& s : services) {
    w.Sample("kube_deployment_labels", object_labels(s, "deployment", s.spec->name + "-predictor"),
             1);
  }
  w.Family("kube_deployment_status_replicas", "gauge",
           "The number of replicas per deployment (pods not terminating).");
  for (const auto& s : services) {
    int live = 0;
    for (const auto& p : s.pods) live += p.draining ? 0 : 1;
    w.Sample("kube_deployment_status_replicas",
             Labels{{"namespace", s.spec->ns}, {"deployment", s.spec->name + "-predictor"}}, live);
  }
  w.Family("kube_service_labels", "gauge", "Kubernetes labels converted to Prometheus labels.");
  for (const auto& s : services) {
    w.Sample("kube_service_labels", object_labels(s, "service", s.spec->name), 1);
  }

  // Ground truth.
  struct Truth {
    const char* name;
    const char* type;
    const char* help;
    std::function<double(const ServiceView&)> value;
  };
  const Truth truths[] = {
      {"sim_service_replicas", "gauge", "Desired replicas.",
       [](const ServiceView& s) { return s.desired_replicas; }},
      {"sim_service_ready_replicas", "gauge", "Ready pods that take traffic.",
       [](const ServiceView& s) { return s.ready_replicas; }},
      {"sim_service_arrival_rate", "gauge", "Current arrival rate in requests per second.",
       [](const ServiceView& s) { return s.arrival_rate; }},
      {"sim_service_queue_length", "gauge", "Requests waiting for a free slot.",
       [](const ServiceView& s) { return static_cast<double>(s.queue_length); }},
      {"sim_service_in_flight", "gauge", "Requests being served.",
       [](const ServiceView& s) { return static_cast<double>(s.in_flight); }},
      {"sim_requests_arrived_total", "counter", "Requests that arrived.",
       [](const ServiceView& s) { return static_cast<double>(s.arrived); }},
      {"sim_requests_completed_total", "counter", "Requests completed.",
       [](const ServiceView& s) { return static_cast<double>(s.completed); }},
      {"sim_requests_queued_total", "counter", "Requests that had to wait in the queue.",
       [](const ServiceView& s) { return static_cast<double>(s.queued); }},
      {"sim_requests_dropped_total", "counter", "Requests rejected because the queue was full.",
       [](const ServiceView& s) { return static_cast<double>(s.dropped); }},
      {"sim_service_concurrency_seconds_total", "counter",
       "Integral over time of (in flight + queued); its rate is the mean concurrency.",
       [](const ServiceView& s) { return s.concurrency_seconds; }},
      {"sim_request_latency_seconds_sum_total", "counter",
       "Sum of the latencies of completed requests, seconds.",
       [](const ServiceView& s) { return s.latency_seconds_sum; }},
  };
  for (const Truth& t : truths) {
    w.Family(t.name, t.type, t.help);
    for (const auto& s : services) {
      w.Sample(t.name, Labels{{"namespace", s.spec->ns}, {"service", s.spec->name}}, t.value(s));
    }
  }
  w.Family("sim_time_seconds", "gauge", "Simulated time since start, seconds.");
  w.Sample("sim_time_seconds", {}, absl::ToDoubleSeconds(sim.elapsed()));
  return w.Take();
}

}  // namespace aa::sim
