// Panic-aware metrics: the windows computed from the pipeline's own samples, served through the
// sampler like any other value.
#include "pipeline/panic_windows.h"

#include <mutex>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pipeline/sampler.h"
#include "pipeline/sampler_fixture.h"
#include "pipeline/workload.h"
#include "testutil/fake_prometheus.h"

namespace aa::pipeline {
namespace {

using ::aa::testing::FakePrometheus;
using ::aa::testing::PodLabelsOf;
using ::aa::testing::VectorOf;

constexpr absl::Duration kInterval = absl::Seconds(2);

config::Config PanicConfig() {
  config::Config c = ::aa::testing::SamplingTestConfig(kInterval);
  c.source = "test";
  config::MetricDefinition plain;
  plain.name = "concurrency";
  plain.query = "sum by (<<.GroupBy>>) (rate(lat_sum{<<.LabelMatchers>>}[2s]))";
  plain.target = 70;
  config::MetricDefinition panic = plain;
  panic.name = "concurrency_panic";
  panic.panic = config::PanicConfig{};  // 60 s stable, 6 s panic, 200 %
  c.metrics = {plain, panic};
  c.pod_labels.enabled = true;
  return c;
}

// One InferenceService "m" with two pods in namespace "ns", another one "other" with one pod; the
// test sets the per-pod concurrency of each.
class PanicSamplerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    prom_.SetHandler(
        [this](const std::string& q, absl::Time at) -> absl::StatusOr<prom::QueryResult> {
          std::lock_guard lock(mu_);
          if (absl::StartsWith(q, "kube_pod_labels")) {
            return PodLabelsOf("ns", {{"m-1", "m"}, {"m-2", "m"}, {"o-1", "other"}}, at);
          }
          return VectorOf({{{{"namespace", "ns"}, {"pod", "m-1"}}, m_},
                           {{{"namespace", "ns"}, {"pod", "m-2"}}, m_},
                           {{{"namespace", "ns"}, {"pod", "o-1"}}, other_}},
                          at);
        });
  }
  void Set(double m, double other) {
    std::lock_guard lock(mu_);
    m_ = m;
    other_ = other;
  }
  void NextRound(Sampler& s) { ASSERT_TRUE(::aa::testing::NextSamplerRound(s, clock_, kInterval)); }
  // The served value of pod `pod` of the panic-aware metric, and the table it came from.
  MetricRead Read(Sampler& s) {
    auto read = s.Read("concurrency_panic", "ns");
    EXPECT_TRUE(read.ok()) << read.status();
    return *read;
  }
  static double Value(const MetricRead& r, std::string_view pod) {
    const PodValue* v = r.table->Find(pod);
    return v ? v->value : -1;
  }
  static const WorkloadWindow& Workload(const MetricRead& r, std::string_view name) {
    for (const auto& w : r.table->windows->workloads) {
      if (w.name == name) return w;
    }
    ADD_FAILURE() << "no workload " << name;
    static WorkloadWindow none;
    return none;
  }

  std::mutex mu_;
  double m_ = 60;
  double other_ = 10;
  FakePrometheus prom_;
  SimulatedClock clock_;
};

TEST_F(PanicSamplerTest, BurstServesThePanicValueWithinThePanicWindowThenStableAgain) {
  Sampler s(PanicConfig(), prom_, clock_, nullptr);
  s.Start();
  ASSERT_TRUE(s.Read("concurrency", "ns").ok());
  Read(s);
  // A minute of steady load: 60 per pod, below 2 x 70: stable, served = stable mean = 60.
  for (int i = 0; i < 30; ++i) NextRound(s);
  MetricRead r = Read(s);
  EXPECT_FALSE(Workload(r, "m").in_panic);
  EXPECT_DOUBLE_EQ(Value(r, "m-1"), 60);
  ASSERT_EQ(r.table->windows->stable_window, absl::Seconds(60));
  ASSERT_EQ(r.table->windows->panic_window, absl::Seconds(6));

  // A 5x burst on "m" only. Within the panic window (6 s = 3 rounds) the served value is the
  // panic-window mean, far above what the 60 s mean shows; "other" stays stable.
  Set(300, 10);
  absl::Time burst = clock_.Now();
  bool flipped = false;
  while (clock_.Now() - burst < absl::Seconds(6)) {
    NextRound(s);
    r = Read(s);
    const WorkloadWindow& m = Workload(r, "m");
    if (m.in_panic) {
      flipped = true;
      const PodWindow& w = r.table->windows->pods[0];
      EXPECT_DOUBLE_EQ(Value(r, "m-1"), w.panic);
      EXPECT_GT(w.panic, 2 * w.stable);
    }
    EXPECT_FALSE(Workload(r, "other").in_panic);
    EXPECT_DOUBLE_EQ(Value(r, "o-1"), 10);
  }
  EXPECT_TRUE(flipped) << "no panic within the 6 s panic window";
  EXPECT_DOUBLE_EQ(Value(r, "m-1"), 300);  // the panic window holds only burst samples now
  // The plain metric serves the sampled value, unwindowed.
  auto plain = s.Read("concurrency", "ns");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->table->windows, nullptr);
  EXPECT_DOUBLE_EQ(plain->table->Find("m-1")->value, 300);
  // Every serving path aggregates the same table: the workload average is the panic value.
  WorkloadStats stats = Aggregate(*plain->definition, *r.table, {}, std::nullopt, std::nullopt);
  EXPECT_GT(stats.total, 600);

  // Load back to 60. Panic holds until a stable window after the last crossing (never serving a
  // lower panic decision meanwhile), then the stable mean is served again.
  Set(60, 10);
  absl::Time last_over = Workload(r, "m").panic_since;
  ASSERT_NE(last_over, absl::InfinitePast());
  bool ended = false;
  for (int i = 0; i < 45 && !ended; ++i) {
    NextRound(s);
    r = Read(s);
    const WorkloadWindow& m = Workload(r, "m");
    const PodWindow& w = r.table->windows->pods[0];
    if (m.in_panic) {
      last_over = m.panic_since;
      EXPECT_LE(clock_.Now() - last_over, absl::Seconds(60));
      EXPECT_DOUBLE_EQ(Value(r, "m-1"), w.panic);
    } else {
      ended = true;
      EXPECT_GT(clock_.Now() - last_over, absl::Seconds(60));
      EXPECT_DOUBLE_EQ(Value(r, "m-1"), w.stable);
      EXPECT_EQ(w.stable_samples, 30);  // one stable window of 2 s samples
    }
  }
  EXPECT_TRUE(ended) << "panic did not end a stable window after the burst";
}

TEST(PanicWindowsTest, FirstSampleAndForgetting) {
  config::Config c = PanicConfig();
  c.pod_labels.enabled = false;
  PanicWindows windows(c);
  ASSERT_FALSE(windows.empty());
  absl::Time t = absl::FromUnixSeconds(1'800'000'000);
  auto table_at = [](absl::Time at, std::vector<std::pair<std::string, double>> pods) {
    auto table = std::make_shared<MetricTable>();
    for (auto& [pod, v] : pods) {
      PodValue value;
      value.pod = pod;
      value.value = v;
      table->pods.push_back(value);
    }
    table->sampled_at = at;
    return table;
  };
  Snapshot snap;
  snap.slots[SlotKey{"concurrency_panic", "", "ns"}] = Slot{table_at(t, {{"a", 500}}), {}, t};
  snap.slots[SlotKey{"concurrency", "", "ns"}] = Slot{table_at(t, {{"a", 500}}), {}, t};
  windows.Apply(&snap);
  const MetricTable& first = *snap.FindSlot({"concurrency_panic", "", "ns"})->table;
  ASSERT_NE(first.windows, nullptr);
  // One sample: both windows hold it; 500 for one pod against 70 is a panic, served 500.
  EXPECT_TRUE(first.windows->workloads[0].in_panic);
  EXPECT_EQ(first.windows->workloads[0].name, "");
  EXPECT_DOUBLE_EQ(first.pods[0].value, 500);
  EXPECT_EQ(snap.FindSlot({"concurrency", "", "ns"})->table->windows, nullptr);  // not panic-aware
  // A metricLabelSelector variant of the panic-aware definition is windowed too.
  const SlotKey variant{"concurrency_panic", "code=\"200\"", "ns"};
  snap.slots[variant] = Slot{table_at(t, {{"a", 3}}), {}, t};
  windows.Apply(&snap);
  ASSERT_NE(snap.FindSlot(variant)->table->windows, nullptr);
  EXPECT_DOUBLE_EQ(snap.FindSlot(variant)->table->windows->pods[0].stable, 3);
  // Applying again (no new sample) changes nothing.
  auto before = snap.FindSlot({"concurrency_panic", "", "ns"})->table;
  windows.Apply(&snap);
  EXPECT_EQ(snap.FindSlot({"concurrency_panic", "", "ns"})->table, before);
  // A pod gone for more than a stable window is forgotten: a new sample starts its history anew.
  t += absl::Seconds(61);
  snap.slots[SlotKey{"concurrency_panic", "", "ns"}] = Slot{table_at(t, {{"b", 1}}), {}, t};
  windows.Apply(&snap);
  t += absl::Seconds(2);
  snap.slots[SlotKey{"concurrency_panic", "", "ns"}] =
      Slot{table_at(t, {{"a", 7}, {"b", 1}}), {}, t};
  windows.Apply(&snap);
  const MetricTable& later = *snap.FindSlot({"concurrency_panic", "", "ns"})->table;
  EXPECT_EQ(later.windows->pods[0].stable_samples, 1);
  EXPECT_DOUBLE_EQ(later.windows->pods[0].stable, 7);
  EXPECT_FALSE(later.windows->workloads[0].in_panic);  // the workload's panic state expired too
  EXPECT_DOUBLE_EQ(later.pods[0].value, 7);
}

// A panic-aware cpu definition decides panic on utilization (value / baseline against
// targetUtilization), and each served value carries the span of the samples behind it: the
// oldest sample of the mean up to now, plus that sample's own rate span.
TEST(PanicWindowsTest, CpuDecidesOnUtilizationAndReportsTheSpan) {
  config::Config c = ::aa::testing::SamplingTestConfig(absl::Seconds(1));
  config::MetricDefinition cpu;
  cpu.name = "cpu";
  cpu.query = "usage{<<.LabelMatchers>>}";
  cpu.baseline_query = "requests{<<.LabelMatchers>>}";
  cpu.target_utilization = 50;
  cpu.preset.window = absl::Seconds(3);
  cpu.panic = config::PanicConfig{absl::Seconds(15), 40, 200};  // panic window 6 s
  c.metrics = {cpu};
  PanicWindows windows(c);
  ASSERT_FALSE(windows.empty());
  absl::Time t = absl::FromUnixSeconds(1'800'000'000);
  auto apply = [&](double cores, int32_t span_ms) {
    auto table = std::make_shared<MetricTable>();
    PodValue v;
    v.pod = "a";
    v.value = cores;
    v.baseline = 1;  // 1-core request
    v.has_baseline = true;
    v.span_ms = span_ms;
    table->pods.push_back(v);
    table->sampled_at = t;
    Snapshot snap;
    snap.slots[SlotKey{"cpu", "", "ns"}] = Slot{table, {}, t};
    windows.Apply(&snap);
    return snap.FindSlot({"cpu", "", "ns"})->table;
  };
  // A new pod: its first sample's rate covers 1 s. 0.2 core of a 1-core request (40 %) is below
  // the 50 % target: stable (one pod panics as soon as ceil(utilization / target) reaches 2).
  auto table = apply(0.2, 1000);
  EXPECT_FALSE(table->windows->workloads[0].in_panic);
  EXPECT_EQ(table->pods[0].span_ms, 1000);
  for (int i = 0; i < 14; ++i) {
    t += absl::Seconds(1);
    table = apply(0.2, 3000);
  }
  EXPECT_FALSE(table->windows->workloads[0].in_panic);
  EXPECT_DOUBLE_EQ(table->pods[0].value, 0.2);
  // 14 s from the oldest sample kept (the first, 1 s of rate) to now.
  EXPECT_EQ(table->pods[0].span_ms, 15000);
  t += absl::Seconds(1);
  table = apply(0.2, 3000);
  EXPECT_EQ(table->pods[0].span_ms, 17000);  // the oldest kept is 14 s old with a 3 s rate
  // 1.2 cores: the panic window's mean over twice the target: panic, served the panic window's
  // mean, with the span of that window (the oldest of its samples, 5 s ago, plus 3 s).
  for (int i = 0; i < 3; ++i) {
    t += absl::Seconds(1);
    table = apply(1.2, 3000);
  }
  ASSERT_TRUE(table->windows->workloads[0].in_panic);
  EXPECT_NEAR(table->pods[0].value, (3 * 0.2 + 3 * 1.2) / 6, 1e-9);
  EXPECT_EQ(table->pods[0].span_ms, 8000);
}

// A reload keeps the windows of an unchanged panic-aware definition and starts a changed one's
// afresh.
TEST_F(PanicSamplerTest, ReloadKeepsTheWindowsOfUnchangedDefinitions) {
  Sampler s(PanicConfig(), prom_, clock_, nullptr);
  s.Start();
  Read(s);
  for (int i = 0; i < 5; ++i) NextRound(s);
  EXPECT_EQ(Read(s).table->windows->pods[0].stable_samples, 6);

  s.Reload(PanicConfig());  // the same definitions
  NextRound(s);
  EXPECT_EQ(Read(s).table->windows->pods[0].stable_samples, 7);

  config::Config changed = PanicConfig();
  changed.metrics[1].panic->panic_threshold_percentage = 300;
  // Demanded: the round that samples it afresh comes at once, without a clock step (read the
  // generation before the reload: that round may publish before this thread looks again).
  const uint64_t generation = s.snapshot()->generation;
  s.Reload(changed);
  ASSERT_TRUE(s.WaitForGeneration(generation + 1, ::aa::testing::kSamplerWait));
  MetricRead r = Read(s);
  EXPECT_EQ(r.definition->panic->panic_threshold_percentage, 300);
  EXPECT_EQ(r.table->windows->pods[0].stable_samples, 1);
}

}  // namespace
}  // namespace aa::pipeline
