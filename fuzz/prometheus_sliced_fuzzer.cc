// Differential: a query answer parsed whole and parsed in pieces (ParseSizes set so small that
// every input takes the sliced path, in batches of 1-64 bytes), each also with a visitor taking
// the samples (ParseQueryResponse's SampleVisitor), must give the same result or the same error,
// with every label kept and with a filter. The pieces are cut by a
// hand-written scanner (prometheus/parser.cc); the large answers that reach it in production are
// too big for the plain parser fuzzer's inputs. Seed corpus: tests/testdata/prometheus/corpus/.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "prometheus/parser.h"
#include "prometheus/types.h"

namespace {

using aa::prom::QueryResult;

bool SameValue(double a, double b) {
  return std::bit_cast<uint64_t>(a) == std::bit_cast<uint64_t>(b);
}

bool SameResult(const QueryResult& a, const QueryResult& b) {
  if (a.type != b.type || a.string_value != b.string_value || a.warnings != b.warnings ||
      a.samples.size() != b.samples.size() || a.series.size() != b.series.size()) {
    return false;
  }
  for (size_t i = 0; i < a.samples.size(); ++i) {
    const auto& x = a.samples[i];
    const auto& y = b.samples[i];
    if (x.labels != y.labels || x.timestamp_ms != y.timestamp_ms || !SameValue(x.value, y.value)) {
      return false;
    }
  }
  for (size_t i = 0; i < a.series.size(); ++i) {
    const auto& x = a.series[i];
    const auto& y = b.series[i];
    if (x.labels != y.labels || x.points.size() != y.points.size()) return false;
    for (size_t j = 0; j < x.points.size(); ++j) {
      if (x.points[j].first != y.points[j].first ||
          !SameValue(x.points[j].second, y.points[j].second)) {
        return false;
      }
    }
  }
  return true;
}

// `body` parsed with a visitor: the result, its samples replaced by those visited.
absl::StatusOr<QueryResult> ParseVisiting(std::string_view body, const aa::prom::LabelFilter& keep,
                                          const aa::prom::ParseSizes& sizes) {
  std::vector<aa::prom::Sample> seen;
  auto result = aa::prom::ParseQueryResponse(body, keep, sizes, [&](const aa::prom::SampleRef& s) {
    seen.push_back({aa::prom::Labels(s.labels.begin(), s.labels.end()), s.value, s.timestamp_ms});
  });
  if (result.ok() && result->type == aa::prom::ResultType::kVector) {
    if (!result->samples.empty()) __builtin_trap();  // a vector's samples go to the visitor only
    result->samples = std::move(seen);
  }
  return result;
}

void ExpectSame(const absl::StatusOr<QueryResult>& whole,
                const absl::StatusOr<QueryResult>& other) {
  if (whole.ok() != other.ok()) __builtin_trap();
  if (!whole.ok() && whole.status() != other.status()) __builtin_trap();
  if (whole.ok() && !SameResult(*whole, *other)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  for (const auto& keep : {aa::prom::LabelFilter(), aa::prom::LabelFilter::Only({"pod"}, {"l"})}) {
    const aa::prom::ParseSizes unsliced{.slice_above = SIZE_MAX};
    auto whole = aa::prom::ParseQueryResponse(body, keep, unsliced);
    ExpectSame(whole, ParseVisiting(body, keep, unsliced));
    // Batches of one element each (1 byte), of a few, and of a length the input's size chooses.
    for (size_t batch_bytes :
         {size_t{1}, size_t{2}, size_t{3}, size_t{5}, size_t{8}, size_t{13}, 1 + size % 64}) {
      const aa::prom::ParseSizes sliced{.slice_above = 0, .batch_bytes = batch_bytes};
      ExpectSame(whole, aa::prom::ParseQueryResponse(body, keep, sliced));
      ExpectSame(whole, ParseVisiting(body, keep, sliced));
    }
  }
  return 0;
}
