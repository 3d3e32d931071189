#pragma once
// Values and labels as Prometheus' HTTP API returns them. Plain data; no behaviour.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aa::prom {

// A label set, sorted by name, names unique (as Prometheus guarantees for one series).
using Labels = std::vector<std::pair<std::string, std::string>>;

// Returns the value of label `name`, or "" when absent (Prometheus treats the two alike).
std::string_view LabelValue(const Labels& labels, std::string_view name);

// One instant-vector element (or a scalar, as one sample with no labels). `value` may be NaN or
// +-Inf.
struct Sample {
  Labels labels;
  double value = 0;
  int64_t timestamp_ms = 0;  // evaluation time of the query, milliseconds since the Unix epoch
};

// One range-vector element.
struct Series {
  Labels labels;
  std::vector<std::pair<int64_t, double>> points;  // (timestamp_ms, value), in time order
};

enum class ResultType { kVector, kScalar, kMatrix, kString };

// A parsed `/api/v1/query` success answer.
struct QueryResult {
  ResultType type = ResultType::kVector;
  std::vector<Sample> samples;        // kVector; kScalar as one sample without labels
  std::vector<Series> series;         // kMatrix
  std::string string_value;           // kString
  std::vector<std::string> warnings;  // the answer's "warnings", if any
};

}  // namespace aa::prom
