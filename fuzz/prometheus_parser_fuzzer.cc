// Feeds arbitrary bytes to every parser of Prometheus answers: none may crash, hang or throw,
// whatever the input. Seed corpus: tests/testdata/prometheus/corpus/.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "prometheus/parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto q = aa::prom::ParseQueryResponse(body);
  if (q.ok()) {
    // A success must be internally consistent.
    if (q->type == aa::prom::ResultType::kMatrix && !q->samples.empty()) __builtin_trap();
    for (const auto& s : q->samples) {
      for (size_t i = 1; i < s.labels.size(); ++i) {
        if (!(s.labels[i - 1].first < s.labels[i].first)) __builtin_trap();
      }
    }
  }
  auto s = aa::prom::ParseSeriesResponse(body);
  (void)s;
  auto e = aa::prom::ExtractApiError(body);
  (void)e;
  double v;
  (void)aa::prom::ParseSampleValue(body, &v);
  return 0;
}
