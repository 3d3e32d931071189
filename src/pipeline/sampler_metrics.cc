#include "pipeline/sampler_metrics.h"

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace aa::pipeline {
namespace {

class NoMetrics final : public SamplerMetrics {
 public:
  void Query(const std::string&, bool) override {}
  void DroppedValue(const std::string&, const std::string&) override {}
  void SetGauges(const std::string&, std::optional<double>, int64_t) override {}
};

class RegistryMetrics final : public SamplerMetrics {
 public:
  explicit RegistryMetrics(prometheus::Registry& registry)
      : queries_(prometheus::BuildCounter()
                     .Name("autoscale_adapter_sampler_queries_total")
                     .Help("Sampler queries to Prometheus by metric definition and outcome.")
                     .Register(registry)),
        dropped_(prometheus::BuildCounter()
                     .Name("autoscale_adapter_sampler_dropped_values_total")
                     .Help("Series left out of the snapshot: NaN or Inf values, duplicate pods.")
                     .Register(registry)),
        age_(prometheus::BuildGauge()
                 .Name("autoscale_adapter_snapshot_age_seconds")
                 .Help("Age of the oldest good sample held per metric (absent: none yet).")
                 .Register(registry)),
        series_(prometheus::BuildGauge()
                    .Name("autoscale_adapter_series_held")
                    .Help("Pod values held in the snapshot per metric.")
                    .Register(registry)) {}

  // prometheus-cpp families are thread-safe; Add() finds or creates the labelled child.
  void Query(const std::string& metric, bool ok) override {
    queries_.Add({{"metric", metric}, {"outcome", ok ? "success" : "error"}}).Increment();
  }
  void DroppedValue(const std::string& metric, const std::string& reason) override {
    dropped_.Add({{"metric", metric}, {"reason", reason}}).Increment();
  }
  void SetGauges(const std::string& metric, std::optional<double> age_seconds,
                 int64_t series) override {
    const prometheus::Labels labels = {{"metric", metric}};
    if (age_seconds.has_value()) {
      age_.Add(labels).Set(*age_seconds);
    } else if (age_.Has(labels)) {
      age_.Remove(&age_.Add(labels));  // -1 or a stale age would read as a value
    }
    series_.Add({{"metric", metric}}).Set(static_cast<double>(series));
  }

 private:
  prometheus::Family<prometheus::Counter>& queries_;
  prometheus::Family<prometheus::Counter>& dropped_;
  prometheus::Family<prometheus::Gauge>& age_;
  prometheus::Family<prometheus::Gauge>& series_;
};

}  // namespace

std::unique_ptr<SamplerMetrics> SamplerMetrics::Create(prometheus::Registry* registry) {
  if (registry == nullptr) return std::make_unique<NoMetrics>();
  return std::make_unique<RegistryMetrics>(*registry);
}

}  // namespace aa::pipeline
