#pragma once
// An in-memory prom::Client for tests: answers every query from a handler the test sets, and
// records the queries.

#include <algorithm>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "prometheus/client.h"

namespace aa::testing {

class FakePrometheus final : public prom::Client {
 public:
  using Handler =
      std::function<absl::StatusOr<prom::QueryResult>(const std::string& query, absl::Time at)>;

  void SetHandler(Handler h) {
    std::lock_guard lock(mu_);
    handler_ = std::move(h);
  }
  std::vector<std::string> queries() const {
    std::lock_guard lock(mu_);
    return queries_;
  }
  size_t query_count() const {
    std::lock_guard lock(mu_);
    return queries_.size();
  }

  absl::StatusOr<prom::QueryResult> Query(std::string_view promql, absl::Time at) override {
    Handler h;
    {
      std::lock_guard lock(mu_);
      queries_.emplace_back(promql);
      h = handler_;
    }
    if (!h) return absl::UnavailableError("fake prometheus: no handler");
    return h(std::string(promql), at);
  }
  // Answers Series() calls (default: no series). Receives the match[] selectors.
  using SeriesHandler = std::function<absl::StatusOr<std::vector<prom::Labels>>(
      const std::vector<std::string>& matchers)>;
  void SetSeriesHandler(SeriesHandler h) {
    std::lock_guard lock(mu_);
    series_handler_ = std::move(h);
  }
  size_t series_count() const {
    std::lock_guard lock(mu_);
    return series_calls_;
  }

  absl::StatusOr<std::vector<prom::Labels>> Series(const std::vector<std::string>& matchers,
                                                   absl::Time, absl::Time) override {
    SeriesHandler h;
    {
      std::lock_guard lock(mu_);
      ++series_calls_;
      h = series_handler_;
    }
    if (!h) return std::vector<prom::Labels>{};
    return h(matchers);
  }

 private:
  mutable std::mutex mu_;
  Handler handler_;
  SeriesHandler series_handler_;
  size_t series_calls_ = 0;
  std::vector<std::string> queries_;
};

// Builds a vector answer: one sample per (labels, value), timestamped `at`.
inline prom::QueryResult VectorOf(std::vector<std::pair<prom::Labels, double>> rows,
                                  absl::Time at) {
  prom::QueryResult r;
  r.type = prom::ResultType::kVector;
  for (auto& [labels, value] : rows) {
    std::sort(labels.begin(), labels.end());
    r.samples.push_back(prom::Sample{labels, value, absl::ToUnixMillis(at)});
  }
  return r;
}

// A series' label set as /api/v1/series returns it: `labels` and __name__ `name`, sorted.
inline prom::Labels SeriesOf(std::string name, prom::Labels labels) {
  labels.emplace_back("__name__", std::move(name));
  std::sort(labels.begin(), labels.end());
  return labels;
}

// A kube_pod_labels answer: pods of namespace `ns`, each labelled with its InferenceService
// (label_serving_kserve_io_inferenceservice), as kube-state-metrics exports them.
inline prom::QueryResult PodLabelsOf(
    const std::string& ns, const std::vector<std::pair<std::string, std::string>>& pod_to_isvc,
    absl::Time at) {
  std::vector<std::pair<prom::Labels, double>> rows;
  for (const auto& [pod, isvc] : pod_to_isvc) {
    rows.push_back(
        {{{"namespace", ns}, {"pod", pod}, {"label_serving_kserve_io_inferenceservice", isvc}}, 1});
  }
  return VectorOf(std::move(rows), at);
}

}  // namespace aa::testing
