// Feeds arbitrary bytes to the config loader: it may only succeed with a config that keeps every
// documented invariant, or fail with InvalidArgument naming the source; it must never crash, hang
// or let a yaml-cpp exception escape. Seed corpus: tests/testdata/config/corpus/.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "config/config.h"

namespace {

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

bool Contains(const std::string& s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<aa::config::Config> config = aa::config::ParseConfig(text, "fuzz.yaml");
  if (!config.ok()) {
    Check(config.status().code() == absl::StatusCode::kInvalidArgument);
    Check(config.status().message().substr(0, 9) == "fuzz.yaml");
    return 0;
  }
  const aa::config::Config& c = *config;
  Check(c.source == "fuzz.yaml");
  Check(c.sampling.interval >= absl::Seconds(1));
  Check(c.sampling.max_age >= c.sampling.interval);
  Check(c.sampling.demand_ttl >= c.sampling.interval);
  Check(c.sampling.first_sample_timeout > absl::ZeroDuration());
  Check(c.prometheus.timeout > absl::ZeroDuration());
  Check(c.prometheus.max_retries >= 0 && c.prometheus.max_retries <= 10);
  Check(c.prometheus.method == "auto" || c.prometheus.method == "GET" ||
        c.prometheus.method == "POST");
  Check(c.prometheus.tls.key_file.empty() == c.prometheus.tls.cert_file.empty());
  if (c.pod_labels.enabled) Check(Contains(c.pod_labels.query, "<<.LabelMatchers>>"));
  std::set<std::string> names;
  for (const aa::config::MetricDefinition& m : c.metrics) {
    // (name, resource) is unique; FindMetric finds the per-pod ones (the embedded default also
    // adds per-container cpu and memory for metrics.k8s.io).
    Check(names.insert(m.Key()).second);
    Check(!m.name.empty() && !m.resource.name().empty());
    if (m.resource.is(aa::config::MetricResource::Kind::kPods)) Check(c.FindMetric(m.name) == &m);
    Check(Contains(m.query, "<<.LabelMatchers>>"));
    if (!m.baseline_query.empty()) Check(Contains(m.baseline_query, "<<.LabelMatchers>>"));
    if (m.resource.is(aa::config::MetricResource::Kind::kPods))
      Check(!m.namespace_label.empty() && !m.pod_label.empty());
    if (m.target) Check(std::isfinite(*m.target) && *m.target > 0);
    if (m.target_utilization) {
      Check(std::isfinite(*m.target_utilization) && *m.target_utilization > 0);
      Check(!m.baseline_query.empty());
    }
    if (!m.preset.type.empty()) Check(m.preset.window >= absl::Seconds(1));
  }
  // Whatever the URL, the run-time check answers without crashing.
  absl::Status run = aa::config::ValidateForRun(c);
  Check(run.ok() || run.code() == absl::StatusCode::kInvalidArgument);
  Check(run.ok() == !c.prometheus.url.empty());
  return 0;
}
