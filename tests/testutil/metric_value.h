#pragma once
// Reading one sample out of a prometheus::Registry in tests. Header-only: the tests that use it
// link prometheus-cpp already.

#include <map>
#include <string>

#include "prometheus/registry.h"

namespace aa::testutil {

// Value of a sample of `family` whose labels include all of `labels` (a counter's or a gauge's);
// -1 when absent.
inline double MetricValue(prometheus::Registry& registry, const std::string& family,
                          const std::map<std::string, std::string>& labels = {}) {
  for (const auto& f : registry.Collect()) {
    if (f.name != family) continue;
    for (const auto& m : f.metric) {
      bool match = true;
      for (const auto& [k, v] : labels) {
        bool found = false;
        for (const auto& l : m.label) found = found || (l.name == k && l.value == v);
        match = match && found;
      }
      if (!match) continue;
      if (f.type == prometheus::MetricType::Counter) return m.counter.value;
      return m.gauge.value;
    }
  }
  return -1;
}

}  // namespace aa::testutil
