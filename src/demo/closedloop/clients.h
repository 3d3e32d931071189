#pragma once
// The closed loop's I/O, each the way the real component talks:
// - SimClient: the simulator's JSON API (state, load, replicas), standing in for the Deployment's
//   scale subresource and the pod lister;
// - KubeMetricsClient: the adapter's Kubernetes metrics APIs over HTTPS, the requests the HPA's
//   metrics client sends (custom.metrics.k8s.io v1beta2 for Pods metrics, metrics.k8s.io PodMetrics
//   for Resource metrics);
// - KedaClient: the adapter's KEDA external scaler over gRPC (GetMetricSpec, GetMetrics, and a
//   StreamIsActive stream read on its own thread).
// Every call is blocking with a timeout; errors are Unavailable (transport) or carry the server's
// code and message.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace aa::closedloop {

// One pod as the simulator reports it.
struct SimPod {
  std::string name;
  bool ready = false;     // serving (ready and not draining)
  bool draining = false;  // being deleted (deletionTimestamp set)
  absl::Time created;
  absl::Time ready_at;  // when it became, or will become, ready
};

// One service's state and run totals (see src/sim/README.md).
struct SimService {
  std::string name;
  int desired_replicas = 0;
  int ready_replicas = 0;
  double arrival_rate = 0;
  int64_t queue_length = 0;
  int64_t in_flight = 0;
  uint64_t arrived = 0;
  uint64_t queued = 0;
  uint64_t completed = 0;
  uint64_t dropped = 0;
  double concurrency_seconds = 0;
  double pod_seconds = 0;
  double cpu_seconds = 0;
  double cpu_request = 0;  // cores per pod
  double service_time_seconds = 0;
  double cpu_per_request = 0;
  double idle_cpu = 0;
  int container_concurrency = 0;
  // LLM models: every time to first token so far, as non-empty buckets (the simulator's fine
  // buckets, each about 10 % wide); empty for the other models.
  struct TtftBucket {
    double lower = 0, upper = 0;
    uint64_t count = 0;
  };
  std::vector<TtftBucket> ttft_buckets;
  // Cold start (simulated seconds; -1 while none): the first arrival, the first pod that became
  // ready after start, and the queue waits of the first requests, in arrival order.
  double first_arrival_seconds = -1;
  double first_ready_seconds = -1;
  std::vector<double> first_waits;
  std::vector<SimPod> pods;
};

struct SimState {
  double time_seconds = 0;                     // simulated time since the simulator started
  std::map<std::string, SimService> services;  // the namespace's services, by name
};

class SimClient {
 public:
  SimClient(int port, std::string ns) : port_(port), ns_(std::move(ns)) {}
  absl::StatusOr<SimState> State() const;
  absl::Status SetLoad(const std::string& service, double rps) const;
  absl::Status SetReplicas(const std::string& service, int replicas) const;

 private:
  int port_;
  std::string ns_;
};

// Waits until the adapter's query API (HTTPS port, the self-signed certificate not verified, no
// credentials: the demo stack runs with --authentication=off) serves `metric` in `ns` for at least
// `pods` pods (Prometheus needs two scrapes before a rate has a value). DeadlineExceeded after
// `timeout` with the last answer.
absl::Status WaitForAdapterData(int adapter_https_port, const std::string& ns,
                                const std::string& metric, int pods, absl::Duration timeout);

// One value of a Kubernetes metrics API item, in milli-units as the HPA reads it
// (Quantity.MilliValue(): rounded up).
struct PodSample {
  std::string pod;
  int64_t milli_value = 0;
  absl::Time timestamp;
  absl::Duration window;
};

// Parses a resource.Quantity string ("70", "500m", "12345678n", "1k", "1536Mi", "1e3") to
// milli-units, rounding up as MilliValue() does. InvalidArgument for anything else.
absl::StatusOr<int64_t> ParseQuantityMilli(std::string_view q);

class KubeMetricsClient {
 public:
  // `bearer_token` is sent when not empty (the adapter's local mode may not check it).
  KubeMetricsClient(int https_port, std::string bearer_token)
      : port_(https_port), token_(std::move(bearer_token)) {}
  // GET /apis/custom.metrics.k8s.io/v1beta2/namespaces/{ns}/pods/*/{metric}?labelSelector=...
  absl::StatusOr<std::vector<PodSample>> PodsMetric(const std::string& ns,
                                                    const std::string& metric,
                                                    const std::string& label_selector) const;
  // GET /apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods?labelSelector=...: per pod, the CPU of
  // its containers summed, in millicores.
  absl::StatusOr<std::vector<PodSample>> PodCpu(const std::string& ns,
                                                const std::string& label_selector) const;

 private:
  absl::StatusOr<std::string> Get(const std::string& path) const;
  int port_;
  std::string token_;
};

// A KEDA ScaledObject's trigger against the adapter's gRPC port. Thread-safe.
class KedaClient {
 public:
  // `metadata` is the trigger's metadata (metric, inferenceService, target ...).
  static absl::StatusOr<std::unique_ptr<KedaClient>> Create(
      int grpc_port, std::string scaled_object, std::string ns,
      const std::map<std::string, std::string>& metadata);
  ~KedaClient();  // cancels the stream and joins its thread

  // GetMetricSpec: the metric name and per-pod target (targetSizeFloat).
  absl::StatusOr<std::pair<std::string, double>> MetricSpec();
  // GetMetrics: the value of the metric (the workload total).
  absl::StatusOr<double> Metric(const std::string& metric_name);
  // Opens StreamIsActive; the latest pushed state is then in active(), the number of messages in
  // pushes().
  void StartStream();
  bool active() const { return active_.load(); }
  int pushes() const { return pushes_.load(); }

 private:
  struct Impl;
  explicit KedaClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> active_{false};
  std::atomic<int> pushes_{0};
};

}  // namespace aa::closedloop
