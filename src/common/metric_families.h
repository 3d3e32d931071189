#pragma once
// Registering the adapter's own metric families in a prometheus-cpp registry: one call a family
// instead of a builder chain each, and the duration buckets the adapter's histograms share.
// prometheus-cpp families are thread-safe; Add() on a family finds or creates the labelled child.

#include <string>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace aa {

// Registers (or finds, when `registry` already has it with the same help) the family `name`.
prometheus::Family<prometheus::Counter>& CounterFamily(prometheus::Registry& registry,
                                                       const std::string& name,
                                                       const std::string& help);
prometheus::Family<prometheus::Gauge>& GaugeFamily(prometheus::Registry& registry,
                                                   const std::string& name,
                                                   const std::string& help);
prometheus::Family<prometheus::Histogram>& HistogramFamily(prometheus::Registry& registry,
                                                           const std::string& name,
                                                           const std::string& help);

// Bucket bounds in seconds for durations: 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 30 60, the
// ones up to `max_seconds` (10: an API call's timeout; 60: a sampling round or discovery pass).
prometheus::Histogram::BucketBoundaries DurationBuckets(double max_seconds);

}  // namespace aa
