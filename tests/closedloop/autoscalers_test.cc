// The demo's HPA specs, checked against the real decision (src/scaling): the two-metric LLM mode
// takes the larger of its metrics' recommendations, whichever metric gives it.

#include "demo/closedloop/autoscalers.h"

#include "demo/closedloop/loop.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace aa::closedloop {
namespace {

using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

ModeSpec Mode(const std::string& name) {
  for (const ModeSpec& m : DefaultModes(true)) {
    if (m.name == name) return m;
  }
  ADD_FAILURE() << "no mode " << name;
  return {};
}

// Two old, ready pods.
scaling::HpaObservations TwoPods() {
  scaling::HpaObservations obs;
  for (const char* name : {"p1", "p2"}) {
    scaling::Pod p;
    p.name = name;
    p.phase = scaling::PodPhase::kRunning;
    p.ready = true;
    p.start_time = kNow - absl::Hours(1);
    p.ready_transition = kNow - absl::Hours(1);
    obs.pods.push_back(p);
  }
  return obs;
}

// A Pods metric observation: every pod at `value`.
scaling::MetricObservation Each(double value) {
  scaling::MetricObservation m;
  for (const char* name : {"p1", "p2"}) {
    m.pod_samples[name] = {scaling::MilliValue(value), kNow - absl::Seconds(1), absl::Seconds(15)};
  }
  return m;
}

int Decide(const scaling::HpaSpec& spec, double waiting, double kv_cache, std::string* reason) {
  auto hpa = scaling::HpaController::Create(spec, {});
  EXPECT_TRUE(hpa.ok()) << hpa.status();
  scaling::HpaObservations obs = TwoPods();
  obs.metrics = {Each(waiting), Each(kv_cache)};
  scaling::HpaDecision d = hpa->Sync(kNow, 2, obs);
  EXPECT_TRUE(d.error.ok()) << d.error;
  *reason = d.reason;
  return d.desired_replicas;
}

TEST(HpaSpecFor, TwoMetricLlmModeHasBothPodsMetricsWithTheirTargets) {
  const scaling::HpaSpec spec = HpaSpecFor(Mode("llm-hpa-two-metrics"), DefaultScenario());
  ASSERT_EQ(spec.metrics.size(), 2u);
  EXPECT_EQ(spec.metrics[0].source, scaling::MetricSourceType::kPods);
  EXPECT_EQ(spec.metrics[0].name, "llm_waiting");
  EXPECT_EQ(spec.metrics[0].target_milli, scaling::MilliValue(kLlmWaitingTarget));
  EXPECT_EQ(spec.metrics[1].source, scaling::MetricSourceType::kPods);
  EXPECT_EQ(spec.metrics[1].name, "llm_kv_cache");
  EXPECT_EQ(spec.metrics[1].target_milli, scaling::MilliValue(kLlmKvCacheTarget));
  const scaling::HpaSpec running = HpaSpecFor(Mode("llm-hpa-running"), DefaultScenario());
  ASSERT_EQ(running.metrics.size(), 1u);
  EXPECT_EQ(running.metrics[0].name, "llm_running");
  EXPECT_EQ(running.metrics[0].target_milli, scaling::MilliValue(kLlmRunningTarget));
  // The tutorial's modes keep their single metric.
  EXPECT_EQ(HpaSpecFor(Mode("concurrency-hpa"), DefaultScenario()).metrics.size(), 1u);
  EXPECT_EQ(HpaSpecFor(Mode("cpu-hpa"), DefaultScenario()).metrics[0].name, "cpu");
}

TEST(HpaSpecFor, TwoMetricHpaTakesTheLargerRecommendation) {
  const scaling::HpaSpec spec = HpaSpecFor(Mode("llm-hpa-two-metrics"), DefaultScenario());
  std::string reason;
  // Waiting 6 per pod of 4 wants 3 pods; KV cache at its target wants 2: 3.
  EXPECT_EQ(Decide(spec, 6, kLlmKvCacheTarget, &reason), 3);
  EXPECT_THAT(reason, HasSubstr("llm_waiting above target"));
  // Nobody waits (wants 1), the KV cache at 2.25 x its target wants 5 (the policies allow 6): 5.
  EXPECT_EQ(Decide(spec, 0, 2.25 * kLlmKvCacheTarget, &reason), 5);
  EXPECT_THAT(reason, HasSubstr("llm_kv_cache above target"));
}

}  // namespace
}  // namespace aa::closedloop
