// Parse throughput of an instant-query answer with 10,000 series (labels namespace, pod, container;
// one value), the shape of the sampler's batched per-metric queries, keeping every label and
// keeping only namespace and pod as the sampler does (prom::LabelFilter). Reports series/s.
#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "prometheus/parser.h"

namespace {

std::string MakeVectorAnswer(int n) {
  std::string body = R"({"status":"success","data":{"resultType":"vector","result":[)";
  for (int i = 0; i < n; ++i) {
    if (i > 0) body += ',';
    absl::StrAppend(&body, R"({"metric":{"container":"kserve-container","namespace":"team-)",
                    i % 50, R"(","pod":"sklearn-iris-predictor-00001-deployment-)", i,
                    R"(-x7k2q"},"value":[1700000000.123,")", i % 97, ".", i % 10, R"("]})");
  }
  body += "]}}";
  return body;
}

void Parse(benchmark::State& state, const aa::prom::LabelFilter& keep) {
  const int n = static_cast<int>(state.range(0));
  const std::string body = MakeVectorAnswer(n);
  size_t parsed = 0;
  for (auto _ : state) {
    auto r = aa::prom::ParseQueryResponse(body, keep);
    if (!r.ok()) {
      state.SkipWithError(std::string(r.status().message()).c_str());
      break;
    }
    parsed += r->samples.size();
    benchmark::DoNotOptimize(r);
  }
  state.counters["series_per_s"] =
      benchmark::Counter(static_cast<double>(parsed), benchmark::Counter::kIsRate);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(body.size()));
}

void BM_ParseVector(benchmark::State& state) { Parse(state, aa::prom::LabelFilter()); }
BENCHMARK(BM_ParseVector)->Arg(10000)->Unit(benchmark::kMillisecond);

void BM_ParseVectorKeepingNamespaceAndPod(benchmark::State& state) {
  Parse(state, aa::prom::LabelFilter::Only({"namespace", "pod"}));
}
BENCHMARK(BM_ParseVectorKeepingNamespaceAndPod)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
