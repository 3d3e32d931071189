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
  void RoundWork(int, int) override {}
  void SetDemand(int64_t) override {}
  void Rejected(const std::string&) override {}
  void VariantEvicted() override {}
  void NamespaceCheck(const std::string&) override {}
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
                   .Add({}, RunBuckets())),
        round_queries_(
            GaugeFamily(registry, "autoscale_adapter_sampler_round_queries",
                        "Queries sent to Prometheus by the last periodic sampling round.")
                .Add({})),
        round_chunks_(GaugeFamily(registry, "autoscale_adapter_sampler_round_chunks",
                                  "Metric query chunks (bounded namespace lists) of the last "
                                  "periodic sampling round.")
                          .Add({})),
        demanded_(GaugeFamily(registry, "autoscale_adapter_sampler_demanded_namespaces",
                              "Namespaces demanded (sampled) now.")
                      .Add({})),
        rejections_(CounterFamily(registry, "autoscale_adapter_sampler_demand_rejections_total",
                                  "First requests of a namespace that did not become demand, by "
                                  "reason.")),
        evicted_(CounterFamily(registry, "autoscale_adapter_sampler_variants_evicted_total",
                               "Selector variants evicted (least recently asked for) for a new "
                               "one.")
                     .Add({})),
        checks_(CounterFamily(registry, "autoscale_adapter_sampler_namespace_checks_total",
                              "Reads of the namespaces Prometheus has, by outcome.")) {}

  // prometheus-cpp families are thread-safe; Add() finds or creates the labelled child.
  void Query(const std::string& metric, bool ok) override {
    queries_.Add({{"metric", metric}, {"outcome", ok ? "success" : "error"}}).Increment();
  }
  void DroppedValue(const std::string& metric, const std::string& reason) override {
    dropped_.Add({{"metric", metric}, {"reason", reason}}).Increment();
  }
  void Round(absl::Duration elapsed) override { round_.Observe(absl::ToDoubleSeconds(elapsed)); }
  void RoundWork(int queries, int chunks) override {
    round_queries_.Set(queries);
    round_chunks_.Set(chunks);
  }
  void SetDemand(int64_t namespaces) override { demanded_.Set(static_cast<double>(namespaces)); }
  void Rejected(const std::string& reason) override {
    rejections_.Add({{"reason", reason}}).Increment();
  }
  void VariantEvicted() override { evicted_.Increment(); }
  void NamespaceCheck(const std::string& outcome) override {
    checks_.Add({{"outcome", outcome}}).Increment();
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
  prometheus::Histogram& round_;
  prometheus::Gauge& round_queries_;
  prometheus::Gauge& round_chunks_;
  prometheus::Gauge& demanded_;
  prometheus::Family<prometheus::Counter>& rejections_;
  prometheus::Counter& evicted_;
  prometheus::Family<prometheus::Counter>& checks_;
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
