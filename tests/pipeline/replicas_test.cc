// Replicas that agree: every query of a round is evaluated at the sampling interval's boundary
// (EvaluationTime), so two samplers on their own clocks, reading one Prometheus, serve the same
// values and timestamps.
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pipeline/sampler.h"
#include "pipeline/sampler_fixture.h"
#include "testutil/fake_prometheus.h"

namespace aa::pipeline {
namespace {

using ::aa::testing::FakePrometheus;
using ::aa::testing::kSamplerWait;
using ::aa::testing::PodLabelsOf;
using ::aa::testing::VectorOf;
using ::testing::ElementsAre;

constexpr absl::Duration kInterval = absl::Seconds(5);
// A boundary of kInterval (and of every whole number of seconds up to 60).
const absl::Time kBoundary = absl::FromUnixSeconds(1'800'000'000);

config::Config TestConfig() {
  config::Config c = ::aa::testing::SamplingTestConfig(kInterval);
  c.source = "test";
  config::MetricDefinition conc;
  conc.name = "concurrency";
  conc.query = "sum by (<<.GroupBy>>) (rate(lat_sum{<<.LabelMatchers>>}[1m]))";
  conc.target = 70;
  c.metrics = {conc};
  c.pod_labels.enabled = false;
  return c;
}

// A Prometheus whose one series' value depends on the evaluation time only (its seconds since the
// Unix epoch, mod 1000), as a real one holding the same data does; records each query's time.
class TimedPrometheus : public FakePrometheus {
 public:
  TimedPrometheus() {
    SetHandler([this](const std::string& q, absl::Time at) -> absl::StatusOr<prom::QueryResult> {
      {
        std::lock_guard lock(mu_);
        if (absl::StrContains(q, "lat_sum")) times_.push_back(at);
      }
      double value = static_cast<double>(absl::ToUnixSeconds(at) % 1000);
      return VectorOf({{{{"namespace", "a"}, {"pod", "a-1"}}, value}}, at);
    });
  }
  // The evaluation times of the metric's queries so far.
  std::vector<absl::Time> times() const {
    std::lock_guard lock(mu_);
    return times_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<absl::Time> times_;
};

// Moves `clock` to `t`, wakes `s` and waits for the round that triggers.
[[nodiscard]] bool RoundAt(Sampler& s, SimulatedClock& clock, absl::Time t) {
  const uint64_t generation = s.snapshot()->generation;
  clock.Set(t);
  s.Wake();
  return s.WaitForGeneration(generation + 1, kSamplerWait);
}

TEST(EvaluationTimeTest, IsTheIntervalsBoundaryAtOrBeforeNow) {
  EXPECT_EQ(EvaluationTime(kBoundary, kInterval), kBoundary);
  EXPECT_EQ(EvaluationTime(kBoundary + absl::Milliseconds(4999), kInterval), kBoundary);
  EXPECT_EQ(EvaluationTime(kBoundary + kInterval, kInterval), kBoundary + kInterval);
  EXPECT_EQ(EvaluationTime(kBoundary - absl::Milliseconds(1), kInterval), kBoundary - kInterval);
  // Boundaries are multiples of the interval since the epoch, whatever the interval.
  EXPECT_EQ(EvaluationTime(absl::FromUnixMillis(7'400), absl::Milliseconds(1500)),
            absl::FromUnixMillis(6'000));
  EXPECT_EQ(EvaluationTime(kBoundary + absl::Seconds(29), absl::Seconds(15)),
            kBoundary + absl::Seconds(15));
  EXPECT_EQ(EvaluationTime(absl::FromUnixSeconds(1'800'000'010), absl::Seconds(7)),
            absl::FromUnixSeconds(1'800'000'006));
  EXPECT_EQ(EvaluationTime(kBoundary + absl::Seconds(3), absl::ZeroDuration()),
            kBoundary + absl::Seconds(3));
}

TEST(ReplicasTest, QueriesAreEvaluatedAtTheIntervalsBoundaryAndAgeCountsFromIt) {
  TimedPrometheus prom;
  SimulatedClock clock(kBoundary + absl::Milliseconds(3700));
  Sampler s(TestConfig(), prom, clock, nullptr);
  s.Start();
  // A first read between two boundaries: evaluated at the boundary before it.
  auto read = s.Read("concurrency", "a");
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_THAT(prom.times(), ElementsAre(kBoundary));
  EXPECT_EQ(read->table->sampled_at, kBoundary);
  EXPECT_EQ(read->table->pods[0].timestamp_ms, absl::ToUnixMillis(kBoundary));
  EXPECT_EQ(read->age, absl::Milliseconds(3700));

  // The next periodic round is due at the next boundary, 1.3 s later (not one interval after the
  // first round), and is evaluated there.
  ASSERT_TRUE(RoundAt(s, clock, kBoundary + kInterval));
  EXPECT_THAT(prom.times(), ElementsAre(kBoundary, kBoundary + kInterval));
  // A round late in its interval is still evaluated at the interval's boundary.
  ASSERT_TRUE(RoundAt(s, clock, kBoundary + 2 * kInterval + absl::Milliseconds(4200)));
  EXPECT_THAT(prom.times(),
              ElementsAre(kBoundary, kBoundary + kInterval, kBoundary + 2 * kInterval));
  read = s.Read("concurrency", "a");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->table->sampled_at, kBoundary + 2 * kInterval);
  EXPECT_EQ(read->age, absl::Milliseconds(4200));
}

TEST(ReplicasTest, MaxAgeCountsFromTheEvaluationTime) {
  TimedPrometheus prom;
  SimulatedClock clock(kBoundary + absl::Seconds(4));
  config::Config config = TestConfig();
  config.sampling.max_age = kInterval;
  Sampler s(config, prom, clock, nullptr);
  s.Start();
  ASSERT_TRUE(s.Read("concurrency", "a").ok());  // evaluated at kBoundary, 4 s ago
  prom.SetDown(true);
  // 5.5 s after the evaluation time (1.5 s after the round): stale, and said so with that time.
  ASSERT_TRUE(RoundAt(s, clock, kBoundary + absl::Milliseconds(5500)));
  auto read = s.Read("concurrency", "a");
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(read.status().message()),
              ::testing::HasSubstr("last good sample at 2027-01-15T08:00:00.000Z (5.5s ago"));
}

TEST(ReplicasTest, TwoSamplersOnTheirOwnClocksServeTheSameValuesAndTimestamps) {
  TimedPrometheus prom;
  // Two replicas started at different moments: their rounds and first reads fall at different
  // points of each interval.
  SimulatedClock clock_a(kBoundary + absl::Milliseconds(600));
  SimulatedClock clock_b(kBoundary + absl::Milliseconds(4100));
  Sampler a(TestConfig(), prom, clock_a, nullptr);
  Sampler b(TestConfig(), prom, clock_b, nullptr);
  a.Start();
  b.Start();
  for (int i = 0; i < 4; ++i) {
    const absl::Time boundary = kBoundary + i * kInterval;
    if (i > 0) {
      ASSERT_TRUE(RoundAt(a, clock_a, boundary + absl::Milliseconds(600)));
      ASSERT_TRUE(RoundAt(b, clock_b, boundary + absl::Milliseconds(4100)));
    }
    auto read_a = a.Read("concurrency", "a");
    auto read_b = b.Read("concurrency", "a");
    ASSERT_TRUE(read_a.ok()) << read_a.status();
    ASSERT_TRUE(read_b.ok()) << read_b.status();
    EXPECT_EQ(read_a->table->sampled_at, boundary);
    EXPECT_EQ(read_b->table->sampled_at, boundary);
    ASSERT_EQ(read_a->table->pods.size(), 1u);
    ASSERT_EQ(read_b->table->pods.size(), 1u);
    EXPECT_EQ(read_a->table->pods[0].value, read_b->table->pods[0].value);
    EXPECT_EQ(read_a->table->pods[0].timestamp_ms, read_b->table->pods[0].timestamp_ms);
  }
}

// A panic-aware metric in warm namespace "ns": InferenceService "m" with two pods whose
// concurrency depends on the evaluation time only, bursting in the last 4 s before kBoundary.
constexpr absl::Duration kPanicInterval = absl::Seconds(2);

config::Config PanicConfig() {
  config::Config c = ::aa::testing::SamplingTestConfig(kPanicInterval);
  c.source = "test";
  config::MetricDefinition panic;
  panic.name = "concurrency_panic";
  panic.query = "sum by (<<.GroupBy>>) (rate(lat_sum{<<.LabelMatchers>>}[2s]))";
  panic.target = 70;
  panic.panic = config::PanicConfig{};  // 60 s stable, 6 s panic, 200 %
  c.metrics = {panic};
  c.pod_labels.enabled = true;
  c.sampling.warm_namespaces = {"ns"};
  return c;
}

class PanicPrometheus : public FakePrometheus {
 public:
  PanicPrometheus() {
    SetHandler([](const std::string& q, absl::Time at) -> absl::StatusOr<prom::QueryResult> {
      if (absl::StartsWith(q, "kube_pod_labels")) {
        return PodLabelsOf("ns", {{"m-1", "m"}, {"m-2", "m"}}, at);
      }
      const int64_t s = absl::ToUnixSeconds(at);
      const double m = at > kBoundary - absl::Seconds(5) ? 400 : static_cast<double>(10 + s % 7);
      return VectorOf({{{{"namespace", "ns"}, {"pod", "m-1"}}, m},
                       {{{"namespace", "ns"}, {"pod", "m-2"}}, m + 1}},
                      at);
    });
  }
};

// The windowed table a sampler serves for the panic-aware metric in "ns".
MetricRead PanicRead(Sampler& s) {
  auto read = s.Read("concurrency_panic", "ns");
  EXPECT_TRUE(read.ok()) << read.status();
  return read.ok() ? *read : MetricRead{};
}

TEST(ReplicasTest, AStartingSamplerFillsItsPanicWindowsFromOneRangeQuery) {
  PanicPrometheus prom;
  // Replica A has run for a minute up to kBoundary (from empty windows: range queries are not
  // answered yet).
  SimulatedClock clock_a(kBoundary - absl::Seconds(60));
  Sampler a(PanicConfig(), prom, clock_a, nullptr);
  a.Start();
  PanicRead(a);
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(RoundAt(a, clock_a, clock_a.Now() + kPanicInterval));
  ASSERT_EQ(clock_a.Now(), kBoundary);
  prom.EnableRangeQueries();
  // Replica B starts 0.7 s after the boundary, with no history of its own.
  SimulatedClock clock_b(kBoundary + absl::Milliseconds(700));
  Sampler b(PanicConfig(), prom, clock_b, nullptr);
  b.Start();
  MetricRead ra = PanicRead(a);
  MetricRead rb = PanicRead(b);
  ASSERT_TRUE(b.Ready());
  ASSERT_NE(ra.table, nullptr);
  ASSERT_NE(rb.table, nullptr);
  // One range query over the stable window before the round's boundary, at the interval's
  // boundaries, for the warm namespace.
  auto ranges = prom.range_queries();
  ASSERT_EQ(ranges.size(), 1u);
  EXPECT_THAT(ranges[0].promql, ::testing::HasSubstr("namespace=\"ns\""));
  EXPECT_EQ(ranges[0].start, kBoundary - absl::Seconds(58));
  EXPECT_EQ(ranges[0].end, kBoundary - kPanicInterval);
  EXPECT_EQ(ranges[0].step, kPanicInterval);
  // B serves what A serves: the same values, windows and panic decision.
  EXPECT_EQ(rb.table->sampled_at, kBoundary);
  ASSERT_EQ(ra.table->pods.size(), 2u);
  ASSERT_EQ(rb.table->pods.size(), 2u);
  ASSERT_NE(rb.table->windows, nullptr);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(rb.table->pods[i].value, ra.table->pods[i].value) << i;
    const PodWindow& wa = ra.table->windows->pods[i];
    const PodWindow& wb = rb.table->windows->pods[i];
    EXPECT_EQ(wb.stable_samples, 30);
    EXPECT_EQ(wb.stable_samples, wa.stable_samples);
    EXPECT_EQ(wb.panic_samples, wa.panic_samples);
    EXPECT_DOUBLE_EQ(wb.stable, wa.stable);
    EXPECT_DOUBLE_EQ(wb.panic, wa.panic);
  }
  ASSERT_EQ(rb.table->windows->workloads.size(), 1u);
  const WorkloadWindow& wla = ra.table->windows->workloads[0];
  const WorkloadWindow& wlb = rb.table->windows->workloads[0];
  EXPECT_TRUE(wlb.in_panic);
  EXPECT_EQ(wlb.in_panic, wla.in_panic);
  EXPECT_EQ(wlb.panic_since, wla.panic_since);  // the decision was replayed, not just the means
}

TEST(ReplicasTest, AFailedRangeQueryStartsTheWindowsEmpty) {
  PanicPrometheus prom;  // range queries Unimplemented
  SimulatedClock clock(kBoundary + absl::Milliseconds(700));
  Sampler s(PanicConfig(), prom, clock, nullptr);
  s.Start();
  MetricRead r = PanicRead(s);
  ASSERT_NE(r.table, nullptr);
  EXPECT_TRUE(s.Ready());
  ASSERT_NE(r.table->windows, nullptr);
  EXPECT_EQ(r.table->windows->pods[0].stable_samples, 1);
  EXPECT_EQ(r.table->pods[0].value, 400);
}

}  // namespace
}  // namespace aa::pipeline
