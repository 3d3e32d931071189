#include "keda/internal/keda_metrics.h"

#include <string>

#include "common/enum_names.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace aa::keda {
namespace {

constexpr EnumName<Method> kMethodNames[] = {{Method::kIsActive, "IsActive"},
                                             {Method::kStreamIsActive, "StreamIsActive"},
                                             {Method::kGetMetricSpec, "GetMetricSpec"},
                                             {Method::kGetMetrics, "GetMetrics"}};

std::string MethodName(Method m) { return std::string(NameOf(m, kMethodNames, "unknown")); }

}  // namespace

KedaMetrics::KedaMetrics(prometheus::Registry* registry) {
  if (registry == nullptr) return;
  requests_ = &prometheus::BuildCounter()
                   .Name("autoscale_adapter_keda_requests_total")
                   .Help("KEDA external scaler RPCs finished, by method and gRPC status code.")
                   .Register(*registry);
  streams_gauge_ = &prometheus::BuildGauge()
                        .Name("autoscale_adapter_keda_streams")
                        .Help("Open KEDA StreamIsActive streams.")
                        .Register(*registry)
                        .Add({});
}

void KedaMetrics::Request(Method method, absl::StatusCode code) {
  if (requests_ == nullptr) return;
  int c = static_cast<int>(code);
  if (c < 0 || c >= kCodes) c = static_cast<int>(absl::StatusCode::kUnknown);
  auto& slot = counters_[static_cast<int>(method)][c];
  prometheus::Counter* counter = slot.load(std::memory_order_acquire);
  if (counter == nullptr) {
    absl::MutexLock lock(&mu_);
    counter = slot.load(std::memory_order_relaxed);
    if (counter == nullptr) {
      counter =
          &requests_->Add({{"method", MethodName(method)},
                           {"code", absl::StatusCodeToString(static_cast<absl::StatusCode>(c))}});
      slot.store(counter, std::memory_order_release);
    }
  }
  counter->Increment();
}

void KedaMetrics::StreamOpened() {
  streams_.fetch_add(1, std::memory_order_relaxed);
  if (streams_gauge_ != nullptr) streams_gauge_->Increment();
}

void KedaMetrics::StreamClosed() {
  streams_.fetch_sub(1, std::memory_order_relaxed);
  if (streams_gauge_ != nullptr) streams_gauge_->Decrement();
}

}  // namespace aa::keda
