#include "pipeline/sampler_metrics.h"

#include "common/metric_families.h"

namespace aa::pipeline {
namespace {

// Rounds and passes run queries with timeouts and retries: from milliseconds to tens of seconds.
prometheus::Histogram::BucketBoundaries RunBuckets() { return DurationBuckets(60); }

class NoMetrics final : public SamplerMetrics {
 public:
  void Query(const std::string&, bool) override {}
  void DroppedValue(const std::string&, const std::string&) override {}
  void SetGauges(const std::string&, std::optional<double>, int64_t) override {}
  void Round(absl::Duration) override {}
};

class RegistryMetrics final : public SamplerMetrics {
 public:
  explicit RegistryMetrics(prometheus::Registry& registry)
      : queries_(CounterFamily(registry, "autoscale_adapter_sampler_queries_total",
                               "Sampler queries to Prometheus by metric definition and outcome.")),
        dropped_(
            CounterFamily(registry, "autoscale_adapter_sampler_dropped_values_total",
                          "Series left out of the snapshot: NaN or Inf values, duplicate pods.")),
        age_(GaugeFamily(registry, "autoscale_adapter_snapshot_age_seconds",
                         "Age of the oldest good sample held per metric (absent: none yet).")),
        series_(GaugeFamily(registry, "autoscale_adapter_series_held",
                            "Pod values held in the snapshot per metric.")),
        round_(HistogramFamily(registry, "autoscale_adapter_sampler_round_duration_seconds",
                               "Duration of one sampling round: its Prometheus queries and the "
                               "making of its snapshot.")
                   .Add({}, RunBuckets())) {}

  // prometheus-cpp families are thread-safe; Add() finds or creates the labelled child.
  void Query(const std::string& metric, bool ok) override {
    queries_.Add({{"metric", metric}, {"outcome", ok ? "success" : "error"}}).Increment();
  }
  void DroppedValue(const std::string& metric, const std::string& reason) override {
    dropped_.Add({{"metric", metric}, {"reason", reason}}).Increment();
  }
  void Round(absl::Duration elapsed) override { round_.Observe(absl::ToDoubleSeconds(elapsed)); }
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
  prometheus::Histogram& round_;
};

class NoDiscoveryMetrics final : public DiscoveryMetrics {
 public:
  void Run(absl::Duration, bool) override {}
};

class RegistryDiscoveryMetrics final : public DiscoveryMetrics {
 public:
  explicit RegistryDiscoveryMetrics(prometheus::Registry& registry)
      : runs_(HistogramFamily(
            registry, "autoscale_adapter_discovery_duration_seconds",
            "Duration of one rule discovery pass (series calls to Prometheus), by outcome.")) {}
  void Run(absl::Duration elapsed, bool ok) override {
    runs_.Add({{"outcome", ok ? "success" : "error"}}, RunBuckets())
        .Observe(absl::ToDoubleSeconds(elapsed));
  }

 private:
  prometheus::Family<prometheus::Histogram>& runs_;
};

}  // namespace

std::unique_ptr<SamplerMetrics> SamplerMetrics::Create(prometheus::Registry* registry) {
  if (registry == nullptr) return std::make_unique<NoMetrics>();
  return std::make_unique<RegistryMetrics>(*registry);
}

std::unique_ptr<DiscoveryMetrics> DiscoveryMetrics::Create(prometheus::Registry* registry) {
  if (registry == nullptr) return std::make_unique<NoDiscoveryMetrics>();
  return std::make_unique<RegistryDiscoveryMetrics>(*registry);
}

}  // namespace aa::pipeline
