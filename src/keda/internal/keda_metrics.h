#pragma once
// The KEDA scaler's self-metrics, declared in one place and built once from the registry:
//   autoscale_adapter_keda_requests_total{method,code}
//       counter: finished RPCs by method and gRPC code name
//   autoscale_adapter_keda_streams
//       gauge: open StreamIsActive streams
// Thread-safe; cheap on the request path (one atomic load after the first request of a (method,
// code)).

#include <array>
#include <atomic>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
template <typename T>
class Family;
}  // namespace prometheus

namespace aa::keda {

enum class Method { kIsActive = 0, kStreamIsActive, kGetMetricSpec, kGetMetrics };
inline constexpr int kMethodCount = 4;

class KedaMetrics {
 public:
  // `registry` may be null: then only the in-process stream count is kept.
  explicit KedaMetrics(prometheus::Registry* registry);
  KedaMetrics(const KedaMetrics&) = delete;
  KedaMetrics& operator=(const KedaMetrics&) = delete;

  void Request(Method method, absl::StatusCode code);
  void StreamOpened();
  void StreamClosed();
  int64_t streams() const { return streams_.load(std::memory_order_relaxed); }

 private:
  static constexpr int kCodes = 17;  // gRPC / absl canonical codes 0..16
  prometheus::Family<prometheus::Counter>* requests_ = nullptr;
  prometheus::Gauge* streams_gauge_ = nullptr;
  // Serializes the creation of counters (double-checked: the slots are atomics read without it),
  // so it guards no field of its own.
  absl::Mutex mu_;
  std::array<std::array<std::atomic<prometheus::Counter*>, kCodes>, kMethodCount> counters_{};
  std::atomic<int64_t> streams_{0};
};

}  // namespace aa::keda
