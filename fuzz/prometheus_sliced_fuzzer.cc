// Differential: a query answer parsed whole and parsed in pieces (ParseSizes set so small that
// every input takes the sliced path, in batches of 1-64 bytes) must give the same
// result or the same error, with every label kept and with a filter. The pieces are cut by a
// hand-written scanner (prometheus/parser.cc); the large answers that reach it in production are
// too big for the plain parser fuzzer's inputs. Seed corpus: tests/testdata/prometheus/corpus/.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <string_view>

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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  for (const auto& keep : {aa::prom::LabelFilter(), aa::prom::LabelFilter::Only({"pod"}, {"l"})}) {
    auto whole = aa::prom::ParseQueryResponse(body, keep, {.slice_above = SIZE_MAX});
    // Batches of one element each (1 byte), of a few, and of a length the input's size chooses.
    for (size_t batch_bytes :
         {size_t{1}, size_t{2}, size_t{3}, size_t{5}, size_t{8}, size_t{13}, 1 + size % 64}) {
      auto pieces =
          aa::prom::ParseQueryResponse(body, keep, {.slice_above = 0, .batch_bytes = batch_bytes});
      if (whole.ok() != pieces.ok()) __builtin_trap();
      if (!whole.ok() && whole.status() != pieces.status()) __builtin_trap();
      if (whole.ok() && !SameResult(*whole, *pieces)) __builtin_trap();
    }
  }
  return 0;
}
