#pragma once
// Values and labels as Prometheus' HTTP API returns them. Plain data; no behaviour.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"

namespace aa::prom {

// A label set, sorted by name, names unique (as Prometheus guarantees for one series).
using Labels = std::vector<std::pair<std::string, std::string>>;

// Returns the value of label `name`, or "" when absent (Prometheus treats the two alike).
std::string_view LabelValue(const Labels& labels, std::string_view name);

// Which labels of each series a caller keeps from a query answer (ParseQueryResponse,
// QueryOptions::keep_labels). The default keeps every label. Made by Only(), it keeps a label when
// its name is one of `names` or starts with one of `prefixes`; every other label is skipped while
// the answer is parsed (checked as any label, never stored). A caller that keeps only some labels
// must not read the others: LabelValue() returns "" for them, as for an absent label.
struct LabelFilter {
  bool all = true;
  std::vector<std::string> names;     // kept exactly (empty strings are ignored)
  std::vector<std::string> prefixes;  // kept by prefix, e.g. "label_" (empty strings are ignored)

  // Keeps `names` and the labels starting with one of `prefixes`, nothing else.
  static LabelFilter Only(std::vector<std::string> names, std::vector<std::string> prefixes = {});
  bool Keeps(std::string_view name) const;

  friend bool operator==(const LabelFilter&, const LabelFilter&) = default;
};

// One instant-vector element (or a scalar, as one sample with no labels). `value` may be NaN or
// +-Inf.
struct Sample {
  Labels labels;
  double value = 0;
  int64_t timestamp_ms = 0;  // evaluation time of the query, milliseconds since the Unix epoch
};

// One instant-vector element as it is parsed (ParseQueryResponse and Client::QueryEach with a
// visitor): its labels are views into the parser's buffers, valid only while the visitor runs.
struct SampleRef {
  std::span<const std::pair<std::string_view, std::string_view>> labels;  // sorted by name
  double value = 0;
  int64_t timestamp_ms = 0;

  // The value of label `name`, or "" when absent (as LabelValue()).
  std::string_view Label(std::string_view name) const;
};

// Receives each element of an instant vector, in the answer's order.
using SampleVisitor = absl::FunctionRef<void(const SampleRef&)>;

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
