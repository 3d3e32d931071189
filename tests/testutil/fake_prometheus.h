#pragma once
// The in-memory Prometheus of the unit tests, fuzzers and the KEDA test server: a prom::Client that
// answers from canned rows or from a handler the test sets, and records the queries.
//
// Query() answers, in this order:
// 1. Unavailable(message) while SetDown(true, message) holds;
// 2. the first canned answer, in the order they were added, whose pattern the query has
//    (AnswerPrefix: the query starts with it; AnswerContaining: the query contains it), as a vector
//    of its rows timestamped at the evaluation time;
// 3. the handler set with SetHandler, if any;
// 4. the rows of AnswerOtherwise, if set;
// 5. else Unavailable("fake prometheus: no handler").
// Series() answers the canned series of AnswerSeries whose first matcher equals match[0], else the
// series handler, else no series. LabelValues() is Unimplemented (as prom::Client's default) until
// SetLabelValues gives a label its values; then it answers them (Unavailable while down).
// QueryRange() is Unimplemented (as prom::Client's default) until EnableRangeQueries(); then it
// answers as Prometheus does, a matrix of the handler's answers at start, start + step, ... up to
// end (canned answers are not used), recorded in range_queries() (not in queries()).
// Thread-safe; handlers run without the fake's lock held.

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/client.h"

namespace aa::testing {

// Rows of a vector answer: one sample per (labels, value).
using Rows = std::vector<std::pair<prom::Labels, double>>;

// Builds a vector answer: one sample per (labels, value), labels sorted, timestamped `at`.
inline prom::QueryResult VectorOf(Rows rows, absl::Time at) {
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

// kube_pod_labels rows: pods of namespace `ns`, each labelled with its InferenceService
// (label_serving_kserve_io_inferenceservice), as kube-state-metrics exports them.
inline Rows PodLabelsRows(const std::string& ns,
                          const std::vector<std::pair<std::string, std::string>>& pod_to_isvc) {
  Rows rows;
  for (const auto& [pod, isvc] : pod_to_isvc) {
    rows.push_back(
        {{{"namespace", ns}, {"pod", pod}, {"label_serving_kserve_io_inferenceservice", isvc}}, 1});
  }
  return rows;
}

// The same rows as a vector answer timestamped `at`.
inline prom::QueryResult PodLabelsOf(
    const std::string& ns, const std::vector<std::pair<std::string, std::string>>& pod_to_isvc,
    absl::Time at) {
  return VectorOf(PodLabelsRows(ns, pod_to_isvc), at);
}

class FakePrometheus : public prom::Client {
 public:
  using Handler =
      std::function<absl::StatusOr<prom::QueryResult>(const std::string& query, absl::Time at)>;
  // Receives the match[] selectors.
  using SeriesHandler = std::function<absl::StatusOr<std::vector<prom::Labels>>(
      const std::vector<std::string>& matchers)>;

  // Canned answers (see the top of the file). Adding a pattern again replaces its rows in place.
  void AnswerPrefix(std::string prefix, Rows rows) {
    Put(Canned{std::move(prefix), true, std::move(rows)});
  }
  void AnswerContaining(std::string text, Rows rows) {
    Put(Canned{std::move(text), false, std::move(rows)});
  }
  void AnswerOtherwise(Rows rows) {
    absl::MutexLock lock(&mu_);
    otherwise_ = std::move(rows);
  }
  void SetHandler(Handler h) {
    absl::MutexLock lock(&mu_);
    handler_ = std::move(h);
  }
  // While down, every query fails with Unavailable(message).
  void SetDown(bool down, std::string message = "connection refused") {
    absl::MutexLock lock(&mu_);
    down_ = down;
    down_message_ = std::move(message);
  }

  // Series() whose first match[] selector is `first_matcher` answers `series` (replaced if set).
  void AnswerSeries(std::string first_matcher, std::vector<prom::Labels> series) {
    absl::MutexLock lock(&mu_);
    for (auto& [m, s] : series_) {
      if (m == first_matcher) {
        s = std::move(series);
        return;
      }
    }
    series_.emplace_back(std::move(first_matcher), std::move(series));
  }
  void SetSeriesHandler(SeriesHandler h) {
    absl::MutexLock lock(&mu_);
    series_handler_ = std::move(h);
  }

  // LabelValues(label) answers `values` from now on (other labels: no values).
  void SetLabelValues(std::string label, std::vector<std::string> values) {
    absl::MutexLock lock(&mu_);
    label_values_[std::move(label)] = std::move(values);
  }
  size_t label_values_count() const {
    absl::MutexLock lock(&mu_);
    return label_values_calls_;
  }

  // A range query as QueryRange() received it.
  struct RangeQuery {
    std::string promql;
    absl::Time start, end;
    absl::Duration step;
  };
  void EnableRangeQueries(bool enabled = true) {
    absl::MutexLock lock(&mu_);
    range_enabled_ = enabled;
  }
  std::vector<RangeQuery> range_queries() const {
    absl::MutexLock lock(&mu_);
    return range_queries_;
  }

  std::vector<std::string> queries() const {
    absl::MutexLock lock(&mu_);
    return queries_;
  }
  // The options of each query, parallel to queries().
  std::vector<prom::QueryOptions> query_options() const {
    absl::MutexLock lock(&mu_);
    return query_options_;
  }
  size_t query_count() const {
    absl::MutexLock lock(&mu_);
    return queries_.size();
  }
  size_t series_count() const {
    absl::MutexLock lock(&mu_);
    return series_calls_;
  }

  using prom::Client::Query;
  absl::StatusOr<prom::QueryResult> Query(std::string_view promql, absl::Time at,
                                          const prom::QueryOptions& options) override {
    Handler h;
    {
      absl::MutexLock lock(&mu_);
      queries_.emplace_back(promql);
      query_options_.push_back(options);
      if (down_) return absl::UnavailableError(down_message_);
      for (const Canned& c : canned_) {
        if (c.prefix ? promql.starts_with(c.pattern)
                     : promql.find(c.pattern) != std::string_view::npos) {
          return KeepLabels(VectorOf(c.rows, at), options.keep_labels);
        }
      }
      if (!handler_ && otherwise_)
        return KeepLabels(VectorOf(*otherwise_, at), options.keep_labels);
      h = handler_;
    }
    if (!h) return absl::UnavailableError("fake prometheus: no handler");
    return KeepLabels(h(std::string(promql), at), options.keep_labels);
  }

  // As the HTTP client's parser does: only the labels the caller keeps, so tests see what a caller
  // that reads a label it did not ask for would get in production.
  static absl::StatusOr<prom::QueryResult> KeepLabels(absl::StatusOr<prom::QueryResult> result,
                                                      const prom::LabelFilter& keep) {
    if (!result.ok() || keep.all) return result;
    auto filter = [&keep](prom::Labels& labels) {
      std::erase_if(labels, [&keep](const auto& l) { return !keep.Keeps(l.first); });
    };
    for (prom::Sample& s : result->samples) filter(s.labels);
    for (prom::Series& s : result->series) filter(s.labels);
    return result;
  }

  absl::StatusOr<prom::QueryResult> QueryRange(std::string_view promql, absl::Time start,
                                               absl::Time end, absl::Duration step) override {
    Handler h;
    {
      absl::MutexLock lock(&mu_);
      if (!range_enabled_) return prom::Client::QueryRange(promql, start, end, step);
      range_queries_.push_back(RangeQuery{std::string(promql), start, end, step});
      if (down_) return absl::UnavailableError(down_message_);
      h = handler_;
    }
    if (!h) return absl::UnavailableError("fake prometheus: no handler");
    prom::QueryResult out;
    out.type = prom::ResultType::kMatrix;
    std::map<prom::Labels, size_t> index;  // labels -> out.series
    for (absl::Time t = start; t <= end && step > absl::ZeroDuration(); t += step) {
      auto answer = h(std::string(promql), t);
      if (!answer.ok()) return answer.status();
      for (prom::Sample& s : answer->samples) {
        auto [it, inserted] = index.emplace(s.labels, out.series.size());
        if (inserted) out.series.push_back(prom::Series{std::move(s.labels), {}});
        out.series[it->second].points.emplace_back(absl::ToUnixMillis(t), s.value);
      }
    }
    return out;
  }

  absl::StatusOr<std::vector<prom::Labels>> Series(const std::vector<std::string>& matchers,
                                                   absl::Time, absl::Time) override {
    SeriesHandler h;
    {
      absl::MutexLock lock(&mu_);
      ++series_calls_;
      for (const auto& [m, s] : series_) {
        if (!matchers.empty() && matchers[0] == m) return s;
      }
      h = series_handler_;
    }
    if (!h) return std::vector<prom::Labels>{};
    return h(matchers);
  }

  absl::StatusOr<std::vector<std::string>> LabelValues(const std::string& label, absl::Time start,
                                                       absl::Time end) override {
    absl::MutexLock lock(&mu_);
    if (label_values_.empty()) return prom::Client::LabelValues(label, start, end);
    ++label_values_calls_;
    if (down_) return absl::UnavailableError(down_message_);
    auto it = label_values_.find(label);
    if (it == label_values_.end()) return std::vector<std::string>{};
    return it->second;
  }

 private:
  struct Canned {
    std::string pattern;
    bool prefix;
    Rows rows;
  };
  void Put(Canned c) {
    absl::MutexLock lock(&mu_);
    for (Canned& have : canned_) {
      if (have.pattern == c.pattern && have.prefix == c.prefix) {
        have.rows = std::move(c.rows);
        return;
      }
    }
    canned_.push_back(std::move(c));
  }

  mutable absl::Mutex mu_;
  bool down_ ABSL_GUARDED_BY(mu_) = false;
  std::string down_message_ ABSL_GUARDED_BY(mu_);
  std::vector<Canned> canned_ ABSL_GUARDED_BY(mu_);
  Handler handler_ ABSL_GUARDED_BY(mu_);
  std::optional<Rows> otherwise_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<std::string, std::vector<prom::Labels>>> series_ ABSL_GUARDED_BY(mu_);
  SeriesHandler series_handler_ ABSL_GUARDED_BY(mu_);
  size_t series_calls_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, std::vector<std::string>> label_values_ ABSL_GUARDED_BY(mu_);
  size_t label_values_calls_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> queries_ ABSL_GUARDED_BY(mu_);
  bool range_enabled_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<RangeQuery> range_queries_ ABSL_GUARDED_BY(mu_);
  std::vector<prom::QueryOptions> query_options_ ABSL_GUARDED_BY(mu_);
};

}  // namespace aa::testing
