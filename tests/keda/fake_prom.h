#pragma once
// An in-memory prom::Client for the KEDA tests, test server and benchmarks, plus the config that
// goes with it.
//
// Each metric of KedaTestConfig() reads one "series" token (`conc`, `cpu_usage`, `cpu_request`,
// `plain`); the fake answers a query containing `<token>{` with one sample per (namespace, pod) it
// holds for that token, and `kube_pod_labels{` with the pod labels set by SetLabels (as
// kube-state-metrics exports them: `label_` + the sanitized key). Every namespace is returned; the
// sampler keeps the ones it asked for. Thread-safe.

#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "config/config.h"
#include "prometheus/client.h"
#include "selector/selector.h"

namespace aa::keda::testing {

// Metrics: concurrency (token conc, target 70), cpu (cpu_usage with baseline cpu_request,
// targetUtilization 50), plain (token plain, no target). Sampling interval 5s, maxAge 60s,
// firstSampleTimeout 10s.
inline std::string_view KedaTestConfigYaml() {
  return R"(
sampling:
  interval: 5s
  maxAge: 60s
  demandTTL: 5m
  firstSampleTimeout: 10s
metrics:
- name: concurrency
  query: 'sum by (<<.GroupBy>>) (conc{<<.LabelMatchers>>})'
  target: 70
- name: cpu
  query: 'sum by (<<.GroupBy>>) (cpu_usage{<<.LabelMatchers>>})'
  baselineQuery: 'sum by (<<.GroupBy>>) (cpu_request{<<.LabelMatchers>>})'
  targetUtilization: 50
- name: plain
  query: 'sum by (<<.GroupBy>>) (plain{<<.LabelMatchers>>})'
)";
}

inline config::Config KedaTestConfig() {
  auto c = config::ParseConfig(KedaTestConfigYaml(), "keda-test");
  if (!c.ok()) std::abort();
  return *std::move(c);
}

class FakeProm final : public prom::Client {
 public:
  void Set(const std::string& token, const std::string& ns, const std::string& pod, double value) {
    std::lock_guard lock(mu_);
    data_[token][ns][pod] = value;
  }
  void Erase(const std::string& token, const std::string& ns, const std::string& pod) {
    std::lock_guard lock(mu_);
    data_[token][ns].erase(pod);
  }
  // Kubernetes labels of a pod, e.g. {{"serving.kserve.io/inferenceservice", "isvc-a"}}.
  void SetLabels(const std::string& ns, const std::string& pod,
                 const std::map<std::string, std::string>& labels) {
    std::lock_guard lock(mu_);
    prom::Labels out;
    for (const auto& [k, v] : labels) out.emplace_back(selector::KubeStateMetricsLabelName(k), v);
    labels_[ns][pod] = std::move(out);
  }
  void SetDown(bool down) {
    std::lock_guard lock(mu_);
    down_ = down;
  }
  int queries() const {
    std::lock_guard lock(mu_);
    return queries_;
  }

  absl::StatusOr<prom::QueryResult> Query(std::string_view promql, absl::Time at) override {
    std::lock_guard lock(mu_);
    ++queries_;
    if (down_) return absl::UnavailableError("fake prometheus: connection refused");
    prom::QueryResult r;
    r.type = prom::ResultType::kVector;
    int64_t ts = absl::ToUnixMillis(at);
    if (promql.find("vector(1)") != std::string_view::npos) {
      r.samples.push_back(prom::Sample{{}, 1, ts});
      return r;
    }
    if (promql.find("kube_pod_labels{") != std::string_view::npos) {
      for (const auto& [ns, pods] : labels_) {
        for (const auto& [pod, labels] : pods) {
          prom::Labels l = labels;
          l.emplace_back("namespace", ns);
          l.emplace_back("pod", pod);
          std::sort(l.begin(), l.end());
          r.samples.push_back(prom::Sample{std::move(l), 1, ts});
        }
      }
      return r;
    }
    for (const auto& [token, by_ns] : data_) {
      if (promql.find(token + "{") == std::string_view::npos) continue;
      for (const auto& [ns, pods] : by_ns) {
        for (const auto& [pod, value] : pods) {
          r.samples.push_back(prom::Sample{{{"namespace", ns}, {"pod", pod}}, value, ts});
        }
      }
      return r;
    }
    return r;  // a series nobody set: an empty vector
  }

  absl::StatusOr<std::vector<prom::Labels>> Series(const std::vector<std::string>&, absl::Time,
                                                   absl::Time) override {
    return std::vector<prom::Labels>{};
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::map<std::string, std::map<std::string, double>>> data_;
  std::map<std::string, std::map<std::string, prom::Labels>> labels_;
  bool down_ = false;
  int queries_ = 0;
};

}  // namespace aa::keda::testing
