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
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "config/config.h"
#include "prometheus/client.h"
#include "selector/selector.h"
#include "testutil/fake_prometheus.h"

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

// The shared fake Prometheus (testutil/fake_prometheus.h) holding per-token values: each Set or
// Erase replaces the canned answer of queries containing `<token>{`.
class FakeProm final : public aa::testing::FakePrometheus {
 public:
  FakeProm() {
    AnswerContaining("vector(1)", {{{}, 1}});  // the sampler's reachability probe
    AnswerContaining("kube_pod_labels{", {});
    AnswerOtherwise({});  // a series nobody set: an empty vector
  }

  void Set(const std::string& token, const std::string& ns, const std::string& pod, double value) {
    absl::MutexLock lock(&mu_);
    data_[token][ns][pod] = value;
    AnswerContaining(token + "{", RowsOf(token));
  }
  void Erase(const std::string& token, const std::string& ns, const std::string& pod) {
    absl::MutexLock lock(&mu_);
    data_[token][ns].erase(pod);
    AnswerContaining(token + "{", RowsOf(token));
  }
  // Kubernetes labels of a pod, e.g. {{"serving.kserve.io/inferenceservice", "isvc-a"}}.
  void SetLabels(const std::string& ns, const std::string& pod,
                 const std::map<std::string, std::string>& labels) {
    absl::MutexLock lock(&mu_);
    prom::Labels out = {{"namespace", ns}, {"pod", pod}};
    for (const auto& [k, v] : labels) out.emplace_back(selector::KubeStateMetricsLabelName(k), v);
    labels_[ns][pod] = std::move(out);
    aa::testing::Rows rows;
    for (const auto& [n, pods] : labels_) {
      for (const auto& [p, l] : pods) rows.push_back({l, 1});
    }
    AnswerContaining("kube_pod_labels{", std::move(rows));
  }
  void SetDown(bool down) { FakePrometheus::SetDown(down, "fake prometheus: connection refused"); }
  int queries() const { return static_cast<int>(query_count()); }

 private:
  aa::testing::Rows RowsOf(const std::string& token) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    aa::testing::Rows rows;
    for (const auto& [ns, pods] : data_.at(token)) {
      for (const auto& [pod, value] : pods)
        rows.push_back({{{"namespace", ns}, {"pod", pod}}, value});
    }
    return rows;
  }

  mutable absl::Mutex mu_;
  std::map<std::string, std::map<std::string, std::map<std::string, double>>> data_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::map<std::string, prom::Labels>> labels_ ABSL_GUARDED_BY(mu_);
};

}  // namespace aa::keda::testing
