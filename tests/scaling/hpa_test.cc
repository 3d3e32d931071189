// The HPA model against the upstream controller's documented cases (replica_calculator_test.go,
// horizontal_test.go and the HPA documentation's behavior examples).
#include "scaling/hpa.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace aa::scaling {
namespace {

using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);
// Upstream's test pods: "cool" started long ago; "hot" started 10 s ago (inside the 5 min CPU
// initialization period) and became ready then, so their first full metric window is not over.
enum class Start { kCool, kHot };

constexpr int kContainersPerPod = 2;  // as upstream's tests: values and requests per container

struct CpuCase {
  int32_t current = 0;
  std::vector<bool> ready;
  std::vector<Start> start;
  std::vector<PodPhase> phase;
  std::vector<bool> deleting;
  std::vector<int64_t> requests_milli;  // per container
  std::vector<int64_t> levels;          // per container, pod i gets test-pod-i
  std::vector<std::string> level_pods;  // overrides the pod names of levels
  int32_t target = 0;
};

std::string PodName(size_t i) { return "test-pod-" + std::to_string(i); }

std::vector<Pod> MakePods(const CpuCase& c) {
  size_t n = std::max<size_t>(c.current, c.phase.size());
  std::vector<Pod> pods;
  for (size_t i = 0; i < n; ++i) {
    Pod p;
    p.name = PodName(i);
    p.ready = i < c.ready.size() ? c.ready[i] : true;
    bool hot = i < c.start.size() && c.start[i] == Start::kHot;
    p.start_time = hot ? kNow - absl::Seconds(10) : kNow - absl::Hours(24);
    p.ready_transition = *p.start_time;
    p.phase = i < c.phase.size() ? c.phase[i] : PodPhase::kRunning;
    p.deleting = i < c.deleting.size() && c.deleting[i];
    for (int k = 0; k < kContainersPerPod; ++k) {
      Container container;
      container.name = "container" + std::to_string(k);
      if (i < c.requests_milli.size()) container.requests_milli["cpu"] = c.requests_milli[i];
      p.containers.push_back(container);
    }
    pods.push_back(p);
  }
  return pods;
}

PodSamples MakeSamples(const std::vector<int64_t>& levels, int per_pod_multiplier = 1,
                       const std::vector<std::string>& names = {}) {
  PodSamples samples;
  for (size_t i = 0; i < levels.size(); ++i) {
    std::string name = i < names.size() ? names[i] : PodName(i);
    samples[name] = PodSample{levels[i] * per_pod_multiplier, kNow, absl::Minutes(1)};
  }
  return samples;
}

absl::StatusOr<MetricProposal> RunCpu(const CpuCase& c) {
  return ResourceUtilizationReplicas(c.current, c.target, "cpu", "", MakePods(c),
                                     MakeSamples(c.levels, kContainersPerPod, c.level_pods),
                                     Tolerances{}, ReplicaCalculatorOptions{}, kNow);
}

void ExpectCpu(const CpuCase& c, int32_t replicas, int32_t utilization,
               int64_t value_per_container) {
  absl::StatusOr<MetricProposal> p = RunCpu(c);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->replicas, replicas);
  EXPECT_EQ(p->utilization_percent, utilization);
  EXPECT_EQ(p->usage_milli, kContainersPerPod * value_per_container);
}

std::vector<int64_t> Cores(size_t n) { return std::vector<int64_t>(n, 1000); }

TEST(ReplicaCalcTest, ScaleUp) {
  ExpectCpu({.current = 3, .requests_milli = Cores(3), .levels = {300, 500, 700}, .target = 30}, 5,
            50, 500);
}

TEST(ReplicaCalcTest, ScaleUpUnreadyLessScale) {
  ExpectCpu({.current = 3,
             .ready = {false, true, true},
             .requests_milli = Cores(3),
             .levels = {300, 500, 700},
             .target = 30},
            4, 60, 600);
}

TEST(ReplicaCalcTest, ScaleUpHotCpuLessScale) {
  ExpectCpu({.current = 3,
             .start = {Start::kHot, Start::kCool, Start::kCool},
             .requests_milli = Cores(3),
             .levels = {300, 500, 700},
             .target = 30},
            4, 60, 600);
}

TEST(ReplicaCalcTest, ScaleUpUnreadyNoScale) {
  ExpectCpu({.current = 3,
             .ready = {true, false, false},
             .requests_milli = Cores(3),
             .levels = {400, 500, 700},
             .target = 30},
            3, 40, 400);
}

TEST(ReplicaCalcTest, ScaleHotCpuNoScale) {
  ExpectCpu({.current = 3,
             .ready = {true, false, false},
             .start = {Start::kCool, Start::kHot, Start::kHot},
             .requests_milli = Cores(3),
             .levels = {400, 500, 700},
             .target = 30},
            3, 40, 400);
}

TEST(ReplicaCalcTest, ScaleUpIgnoresFailedPods) {
  ExpectCpu(
      {.current = 2,
       .ready = {true, true, false, false},
       .phase = {PodPhase::kRunning, PodPhase::kRunning, PodPhase::kFailed, PodPhase::kFailed},
       .requests_milli = Cores(4),
       .levels = {500, 700},
       .target = 30},
      4, 60, 600);
}

TEST(ReplicaCalcTest, ScaleUpIgnoresDeletionPods) {
  ExpectCpu(
      {.current = 2,
       .ready = {true, true, false, false},
       .phase = {PodPhase::kRunning, PodPhase::kRunning, PodPhase::kRunning, PodPhase::kRunning},
       .deleting = {false, false, true, true},
       .requests_milli = Cores(4),
       .levels = {500, 700},
       .target = 30},
      4, 60, 600);
}

TEST(ReplicaCalcTest, ScaleDown) {
  ExpectCpu(
      {.current = 5, .requests_milli = Cores(5), .levels = {100, 300, 500, 250, 250}, .target = 50},
      3, 28, 280);
}

TEST(ReplicaCalcTest, ScaleDownIncludeUnreadyPods) {
  ExpectCpu({.current = 5,
             .ready = {true, true, true, false, false},
             .requests_milli = Cores(5),
             .levels = {100, 300, 500, 250, 250},
             .target = 50},
            2, 30, 300);
}

TEST(ReplicaCalcTest, ScaleDownExcludeUnscheduledPods) {
  ExpectCpu({.current = 5,
             .ready = {true, false, false, false, false},
             .phase = {PodPhase::kRunning, PodPhase::kPending, PodPhase::kPending,
                       PodPhase::kPending, PodPhase::kPending},
             .requests_milli = Cores(5),
             .levels = {100},
             .target = 50},
            1, 10, 100);
}

TEST(ReplicaCalcTest, ScaleDownIgnoreHotCpuPods) {
  ExpectCpu({.current = 5,
             .start = {Start::kCool, Start::kCool, Start::kCool, Start::kHot, Start::kHot},
             .requests_milli = Cores(5),
             .levels = {100, 300, 500, 250, 250},
             .target = 50},
            2, 30, 300);
}

TEST(ReplicaCalcTest, ScaleDownIgnoresFailedAndDeletingPods) {
  std::vector<PodPhase> running(7, PodPhase::kRunning);
  std::vector<PodPhase> failed = running;
  failed[5] = failed[6] = PodPhase::kFailed;
  ExpectCpu({.current = 5,
             .ready = {true, true, true, true, true, false, false},
             .phase = failed,
             .requests_milli = Cores(7),
             .levels = {100, 300, 500, 250, 250},
             .target = 50},
            3, 28, 280);
  ExpectCpu({.current = 5,
             .ready = {true, true, true, true, true, false, false},
             .phase = running,
             .deleting = {false, false, false, false, false, true, true},
             .requests_milli = Cores(7),
             .levels = {100, 300, 500, 250, 250},
             .target = 50},
            3, 28, 280);
}

TEST(ReplicaCalcTest, Tolerance) {
  ExpectCpu({.current = 3,
             .requests_milli = {900, 1000, 1100},
             .levels = {1010, 1030, 1020},
             .target = 100},
            3, 102, 1020);
}

TEST(ReplicaCalcTest, SuperfluousMetrics) {
  ExpectCpu({.current = 4,
             .requests_milli = Cores(4),
             .levels = {4000, 9500, 3000, 7000, 3200, 2000},
             .target = 100},
            24, 587, 5875);
}

TEST(ReplicaCalcTest, MissingMetrics) {
  absl::StatusOr<MetricProposal> p =
      RunCpu({.current = 4, .requests_milli = Cores(4), .levels = {400, 95}, .target = 100});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->replicas, 3);
  EXPECT_EQ(p->utilization_percent, 24);
  EXPECT_EQ(p->usage_milli, 495);
}

TEST(ReplicaCalcTest, MissingMetricsNoChange) {
  ExpectCpu({.current = 2, .requests_milli = Cores(2), .levels = {1000}, .target = 100}, 2, 100,
            1000);
  ExpectCpu({.current = 2, .requests_milli = Cores(2), .levels = {1900}, .target = 100}, 2, 190,
            1900);
  ExpectCpu({.current = 2, .requests_milli = Cores(2), .levels = {600}, .target = 100}, 2, 60, 600);
}

TEST(ReplicaCalcTest, MissingMetricsUnready) {
  // Change / no change / scale up / scale down with a missing pod and an unready one.
  ExpectCpu({.current = 3,
             .ready = {false, true, true},
             .requests_milli = Cores(3),
             .levels = {100, 450},
             .target = 50},
            3, 45, 450);
  ExpectCpu({.current = 3,
             .start = {Start::kHot, Start::kCool, Start::kCool},
             .requests_milli = Cores(3),
             .levels = {100, 450},
             .target = 50},
            3, 45, 450);
  ExpectCpu({.current = 3,
             .ready = {false, true, true},
             .requests_milli = Cores(3),
             .levels = {100, 2000},
             .target = 50},
            4, 200, 2000);
  ExpectCpu({.current = 3,
             .ready = {false, true, true},
             .start = {Start::kHot, Start::kCool, Start::kCool},
             .requests_milli = Cores(3),
             .levels = {100, 2000},
             .target = 50},
            4, 200, 2000);
  ExpectCpu({.current = 4,
             .ready = {false, true, true, true},
             .requests_milli = Cores(4),
             .levels = {100, 100, 100},
             .target = 50},
            3, 10, 100);
}

TEST(ReplicaCalcTest, DuringRollingUpdateWithMaxSurge) {
  ExpectCpu({.current = 2,
             .phase = {PodPhase::kRunning, PodPhase::kRunning, PodPhase::kRunning},
             .requests_milli = Cores(3),
             .levels = {100, 100},
             .target = 50},
            2, 10, 100);
}

TEST(ReplicaCalcTest, Errors) {
  absl::StatusOr<MetricProposal> p = RunCpu({.current = 1,
                                             .requests_milli = Cores(1),
                                             .levels = {100},
                                             .level_pods = {"an-older-pod-name"},
                                             .target = 100});
  EXPECT_THAT(p.status().message(), HasSubstr("no metrics returned matched known pods"));
  p = RunCpu({.current = 1, .requests_milli = {}, .levels = {200}, .target = 100});
  EXPECT_THAT(p.status().message(), HasSubstr("missing request for"));
  p = RunCpu({.current = 0, .requests_milli = {}, .levels = {200}, .target = 100});
  EXPECT_THAT(p.status().message(), HasSubstr("no pods returned by selector"));
  p = RunCpu({.current = 2,
              .ready = {false, false},
              .requests_milli = Cores(2),
              .levels = {200, 200},
              .target = 100});
  EXPECT_THAT(p.status().message(), HasSubstr("did not receive metrics for targeted pods"));
}

TEST(ReplicaCalcTest, ComputedToleranceAlgImplementation) {
  // 10 pods using 150m each, requesting about 300m: a target just outside the tolerance scales
  // down, one just inside does not.
  const int64_t per_pod_requested = 300;
  std::vector<int64_t> requests = {per_pod_requested + 100, per_pod_requested - 100,
                                   per_pod_requested + 10,  per_pod_requested - 10,
                                   per_pod_requested + 2,   per_pod_requested - 2,
                                   per_pod_requested + 1,   per_pod_requested - 1,
                                   per_pod_requested,       per_pod_requested};
  CpuCase c{.current = 10, .requests_milli = requests, .levels = std::vector<int64_t>(10, 150)};
  double target = 1 / (2 * (1 - 0.1)) + .01;
  c.target = static_cast<int32_t>(target * 100);
  double used_ratio = 1500.0 / (3000.0 * target);
  ExpectCpu(c, static_cast<int32_t>(std::ceil(used_ratio * 10)), 50, 150);
  c.target = static_cast<int32_t>((1 / (2 * (1 - 0.1)) + .004) * 100);
  ExpectCpu(c, 10, 50, 150);
}

// ----- Pods, Object and External metrics -----

std::vector<Pod> SimplePods(int n, std::vector<bool> ready = {}) {
  CpuCase c{.current = n, .ready = std::move(ready)};
  return MakePods(c);
}

TEST(ReplicaCalcTest, PodsMetric) {
  Tolerances tol;
  auto p = PodsMetricReplicas(3, 15000, SimplePods(3), MakeSamples({20000, 10000, 30000}), tol);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->replicas, 4);
  EXPECT_EQ(p->usage_milli, 20000);
  // Readiness rules are CPU only: an unready running pod with a sample counts.
  CpuCase c{.current = 3,
            .ready = {true, true, false},
            .start = {Start::kCool, Start::kCool, Start::kHot}};
  p = PodsMetricReplicas(3, 15000, MakePods(c), MakeSamples({50000, 10000, 30000}), tol);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->replicas, 6);
  EXPECT_EQ(p->usage_milli, 30000);
  c = CpuCase{.current = 3,
              .ready = {false, true, false},
              .start = {Start::kHot, Start::kCool, Start::kHot}};
  p = PodsMetricReplicas(3, 15000, MakePods(c), MakeSamples({50000, 15000, 30000}), tol);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->replicas, 7);
  EXPECT_EQ(p->usage_milli, 31666);
  p = PodsMetricReplicas(5, 20000, SimplePods(5), MakeSamples({12000, 12000, 12000, 12000, 12000}),
                         tol);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->replicas, 3);
  p = PodsMetricReplicas(3, 20000, SimplePods(3), MakeSamples({20000, 21000, 21000}), tol);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->replicas, 3);
  EXPECT_EQ(p->usage_milli, 20666);
  // Upstream's "external" case that actually runs the Pods path with one pod.
  p = PodsMetricReplicas(1, 4400, SimplePods(1), MakeSamples({8600}), tol);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->replicas, 2);
}

TEST(ReplicaCalcTest, PodsMetricMissingPods) {
  Tolerances tol;
  // Scale up: the missing pod counts 0 -> (30000 + 30000 + 0) / 3 = 20000 vs 10000: 6.
  auto p = PodsMetricReplicas(3, 10000, SimplePods(3), MakeSamples({30000, 30000}), tol);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->replicas, 6);
  EXPECT_EQ(p->usage_milli, 30000);
  // Scale down: the missing pod counts at the target -> (5000 + 5000 + 10000) / 3 = 6666: 2.
  p = PodsMetricReplicas(3, 10000, SimplePods(3), MakeSamples({5000, 5000}), tol);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->replicas, 2);
  // Unready (pending) pods count 0 when scaling up.
  std::vector<Pod> pods = SimplePods(3);
  pods[2].phase = PodPhase::kPending;
  p = PodsMetricReplicas(3, 10000, pods, MakeSamples({20000, 20000}), tol);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->replicas, 4);  // (20000 + 20000 + 0) / 3 = 13333 -> ceil(1.3333 * 3)
}

TEST(ReplicaCalcTest, ObjectMetric) {
  Tolerances tol;
  auto p = ObjectValueReplicas(3, 15000, 20000, SimplePods(3), tol);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->replicas, 4);
  EXPECT_EQ(p->usage_milli, 20000);
  p = ObjectValueReplicas(3, 10000, 50000, SimplePods(3, {false, true, false}), tol);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->replicas, 5);  // unready pods are not counted (15 otherwise)
  p = ObjectValueReplicas(5, 20000, 12000, SimplePods(5), tol);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->replicas, 3);
  p = ObjectValueReplicas(3, 20000, 20666, SimplePods(3), tol);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->replicas, 3);
  p = ObjectValueReplicas(0, 20000, 50000, {}, tol);  // from zero: ceil(ratio), no pods needed
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->replicas, 3);
  EXPECT_FALSE(ObjectValueReplicas(3, 20000, 50000, {}, tol).ok());

  MetricProposal q = ObjectAverageValueReplicas(3, 5000, 20000, tol);
  EXPECT_EQ(q.replicas, 4);
  EXPECT_EQ(q.usage_milli, 6667);
  q = ObjectAverageValueReplicas(5, 2000, 6000, tol);
  EXPECT_EQ(q.replicas, 3);
  EXPECT_EQ(q.usage_milli, 1200);
  q = ObjectAverageValueReplicas(4, 5000, 20166, tol);
  EXPECT_EQ(q.replicas, 4);
  EXPECT_EQ(q.usage_milli, 5042);
}

TEST(ReplicaCalcTest, ExternalMetric) {
  Tolerances tol;
  auto p = ExternalValueReplicas(3, 4400, {8600}, SimplePods(3, {false, true, false}), tol);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->replicas, 2);  // 6 if unready pods counted
  p = ExternalValueReplicas(5, 14334, {8600}, SimplePods(5), tol);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->replicas, 3);
  p = ExternalValueReplicas(3, 8888, {8600}, SimplePods(3), tol);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->replicas, 3);
  p = ExternalValueReplicas(2, 1000, {1000, 2000, 3000}, SimplePods(2), tol);  // items sum
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->replicas, 12);
  EXPECT_EQ(p->usage_milli, 6000);

  MetricProposal q = ExternalAverageValueReplicas(3, 2150, {8600}, tol);
  EXPECT_EQ(q.replicas, 4);
  EXPECT_EQ(q.usage_milli, 2867);
  q = ExternalAverageValueReplicas(5, 2867, {8600}, tol);
  EXPECT_EQ(q.replicas, 3);
  EXPECT_EQ(q.usage_milli, 1720);
  q = ExternalAverageValueReplicas(3, 2900, {8600}, tol);
  EXPECT_EQ(q.replicas, 3);
  EXPECT_EQ(q.usage_milli, 2867);
}

TEST(ReplicaCalcTest, ResourceAverageValue) {
  CpuCase c{.current = 3, .requests_milli = Cores(3)};
  auto p = ResourceAverageValueReplicas(3, 300, "memory", MakePods(c), MakeSamples({500, 500, 500}),
                                        Tolerances{}, ReplicaCalculatorOptions{}, kNow);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->replicas, 5);
  EXPECT_EQ(p->usage_milli, 500);
}

TEST(ReplicaCalcTest, ContainerResourceUsesOneContainer) {
  CpuCase c{.current = 2, .requests_milli = {1000, 1000}};
  std::vector<Pod> pods = MakePods(c);
  pods[0].containers[1].requests_milli.erase("cpu");  // only container0 is looked at
  pods[1].containers[1].requests_milli.erase("cpu");
  auto p = ResourceUtilizationReplicas(2, 50, "cpu", "container0", pods, MakeSamples({900, 900}),
                                       Tolerances{}, ReplicaCalculatorOptions{}, kNow);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->utilization_percent, 90);
  EXPECT_EQ(p->replicas, 4);
}

TEST(ToleranceTest, PerDirection) {
  Tolerances t{.scale_down = 0.2, .scale_up = 0.05};
  EXPECT_TRUE(t.IsWithin(0.8));
  EXPECT_FALSE(t.IsWithin(0.79));
  EXPECT_TRUE(t.IsWithin(1.05));
  EXPECT_FALSE(t.IsWithin(1.06));
}

TEST(MilliValueTest, RoundsUp) {
  EXPECT_EQ(MilliValue(70), 70000);
  EXPECT_EQ(MilliValue(0.0001), 1);
  EXPECT_EQ(MilliValue(std::nan("")), 0);
}

// ----- behavior -----

TEST(BehaviorTest, Defaults) {
  Behavior b = KServeBehavior();
  EXPECT_EQ(b.scale_up.stabilization_window_seconds, 0);
  EXPECT_EQ(b.scale_up.select_policy, SelectPolicy::kMax);
  ASSERT_EQ(b.scale_up.policies.size(), 2u);
  EXPECT_EQ(b.scale_up.policies[0].type, ScalingPolicyType::kPods);
  EXPECT_EQ(b.scale_up.policies[0].value, 4);
  EXPECT_EQ(b.scale_up.policies[1].type, ScalingPolicyType::kPercent);
  EXPECT_EQ(b.scale_up.policies[1].value, 100);
  EXPECT_EQ(b.scale_up.policies[1].period_seconds, 15);
  EXPECT_EQ(b.scale_down.stabilization_window_seconds, 300);
  ASSERT_EQ(b.scale_down.policies.size(), 1u);
  EXPECT_EQ(b.scale_down.policies[0].type, ScalingPolicyType::kPercent);
  EXPECT_EQ(b.scale_down.policies[0].value, 100);

  BehaviorSpec spec;
  spec.scale_down = ScalingRulesSpec{.select_policy = SelectPolicy::kMin};
  b = DefaultedBehavior(spec, absl::Seconds(120));
  EXPECT_EQ(b.scale_down.stabilization_window_seconds, 120);
  EXPECT_EQ(b.scale_down.select_policy, SelectPolicy::kMin);
  EXPECT_EQ(b.scale_down.policies.size(), 1u);
}

TEST(BehaviorTest, Validation) {
  BehaviorSpec spec;
  spec.scale_up =
      ScalingRulesSpec{.policies = std::vector<ScalingPolicy>{{ScalingPolicyType::kPods, 4, 0}}};
  EXPECT_THAT(ValidateBehaviorSpec(spec).message(),
              HasSubstr("behavior.scaleUp.policies[0].periodSeconds: must be in 1..1800 (got 0)"));
  spec.scale_up = ScalingRulesSpec{.stabilization_window_seconds = 3601};
  EXPECT_THAT(ValidateBehaviorSpec(spec).message(),
              HasSubstr("behavior.scaleUp.stabilizationWindowSeconds"));
  spec.scale_up.reset();
  spec.scale_down = ScalingRulesSpec{
      .policies = std::vector<ScalingPolicy>{{ScalingPolicyType::kPercent, 0, 15}}};
  EXPECT_THAT(ValidateBehaviorSpec(spec).message(),
              HasSubstr("behavior.scaleDown.policies[0].value"));
}

TEST(BehaviorTest, ScaleUpLimitPolicies) {
  Behavior b = KServeBehavior();
  // Max of Pods 4 and Percent 100: from 1 -> 5, from 10 -> 20.
  EXPECT_EQ(ScaleUpLimit(1, {}, {}, b.scale_up, kNow), 5);
  EXPECT_EQ(ScaleUpLimit(10, {}, {}, b.scale_up, kNow), 20);
  // Events inside the period count against it: 5 now after adding 4 five seconds ago -> start 1.
  std::vector<ScaleEvent> up = {{4, kNow - absl::Seconds(5)}};
  EXPECT_EQ(ScaleUpLimit(5, up, {}, b.scale_up, kNow), 5);
  // 15 s later the event is outside the period.
  EXPECT_EQ(ScaleUpLimit(5, up, {}, b.scale_up, kNow + absl::Seconds(10)), 10);
  ScalingRules min_rules = b.scale_up;
  min_rules.select_policy = SelectPolicy::kMin;
  EXPECT_EQ(ScaleUpLimit(10, {}, {}, min_rules, kNow), 14);
  min_rules.select_policy = SelectPolicy::kDisabled;
  EXPECT_EQ(ScaleUpLimit(10, {}, {}, min_rules, kNow), 10);
}

TEST(BehaviorTest, ScaleDownLimitDocumentationExample) {
  // The HPA documentation: Percent 10 / 60 s and Pods 5 / 60 s; from 80 pods, Max takes the larger
  // change (8 pods -> 72), Min the smaller (5 -> 75).
  ScalingRules rules;
  rules.policies = {{ScalingPolicyType::kPercent, 10, 60}, {ScalingPolicyType::kPods, 5, 60}};
  rules.select_policy = SelectPolicy::kMax;
  EXPECT_EQ(ScaleDownLimit(80, {}, {}, rules, kNow), 72);
  rules.select_policy = SelectPolicy::kMin;
  EXPECT_EQ(ScaleDownLimit(80, {}, {}, rules, kNow), 75);
  // Below 50 pods the Pods policy gives the larger change under Max: 40 -> 35.
  rules.select_policy = SelectPolicy::kMax;
  EXPECT_EQ(ScaleDownLimit(40, {}, {}, rules, kNow), 35);
  // Deleted pods within the period count: 72 after deleting 8 thirty seconds ago starts at 80.
  std::vector<ScaleEvent> down = {{8, kNow - absl::Seconds(30)}};
  EXPECT_EQ(ScaleDownLimit(72, {}, down, rules, kNow), 72);
  rules.select_policy = SelectPolicy::kDisabled;
  EXPECT_EQ(ScaleDownLimit(80, {}, {}, rules, kNow), 80);
}

// ----- controller -----

HpaSpec ConcurrencySpec(std::optional<BehaviorSpec> behavior = BehaviorSpec{}) {
  HpaSpec spec;
  spec.min_replicas = 1;
  spec.max_replicas = 10;
  spec.metrics = {MetricSpec{.source = MetricSourceType::kPods,
                             .name = "concurrency",
                             .target_type = MetricTargetType::kAverageValue,
                             .target_milli = 70000}};
  spec.behavior = behavior;
  return spec;
}

// `n` ready pods, each reporting `per_pod` concurrency.
HpaObservations Observe(int n, double per_pod) {
  HpaObservations obs;
  obs.pods = SimplePods(n);
  MetricObservation m;
  for (int i = 0; i < n; ++i) m.pod_samples[PodName(i)] = PodSample{MilliValue(per_pod), kNow};
  obs.metrics.push_back(m);
  return obs;
}

TEST(HpaControllerTest, CreateValidates) {
  HpaSpec spec = ConcurrencySpec();
  spec.metrics.clear();
  EXPECT_FALSE(HpaController::Create(spec).ok());
  spec = ConcurrencySpec();
  spec.min_replicas = 0;
  EXPECT_THAT(HpaController::Create(spec).status().message(), HasSubstr("minReplicas"));
  spec = ConcurrencySpec();
  spec.max_replicas = 0;
  EXPECT_THAT(HpaController::Create(spec).status().message(), HasSubstr("maxReplicas"));
  spec = ConcurrencySpec();
  spec.metrics[0].target_type = MetricTargetType::kUtilization;
  EXPECT_THAT(HpaController::Create(spec).status().message(), HasSubstr("metrics[0].target.type"));
  spec = ConcurrencySpec();
  spec.metrics[0].target_milli = 0;
  EXPECT_THAT(HpaController::Create(spec).status().message(),
              HasSubstr("metrics[0].target.averageValue"));
}

TEST(HpaControllerTest, KServeBehaviorScaleUpPacesByPolicy) {
  auto hpa = HpaController::Create(ConcurrencySpec());
  ASSERT_TRUE(hpa.ok());
  absl::Time t = kNow;
  // A burst: 700 concurrent on one pod wants 10; the first sync may add 4 (Pods 4 beats 100 %).
  HpaDecision d = hpa->Sync(t, 1, Observe(1, 700));
  EXPECT_EQ(d.metric_desired_replicas, 10);
  EXPECT_EQ(d.desired_replicas, 5);
  EXPECT_EQ(d.reason, "pods metric concurrency above target");
  EXPECT_EQ(d.scaling_limited_reason, "ScaleUpLimit");
  // 15 s later: the event left the period; 100 % of 5 allows 10.
  t += absl::Seconds(15);
  d = hpa->Sync(t, 5, Observe(5, 140));
  EXPECT_EQ(d.desired_replicas, 10);
  EXPECT_EQ(d.scaling_limited_reason, "DesiredWithinRange");
  ASSERT_EQ(hpa->scale_up_events().size(), 2u);
}

TEST(HpaControllerTest, ScaleDownWaitsForStabilizationWindow) {
  auto hpa = HpaController::Create(ConcurrencySpec());
  ASSERT_TRUE(hpa.ok());
  absl::Time t = kNow;
  HpaDecision d = hpa->Sync(t, 4, Observe(4, 70));
  EXPECT_EQ(d.desired_replicas, 4);
  EXPECT_FALSE(d.rescale);
  // Load drops to 10 per pod: wants 1, but the 300 s window still holds the 4.
  for (int i = 1; i <= 20; ++i) {
    t += absl::Seconds(15);
    d = hpa->Sync(t, 4, Observe(4, 10));
    EXPECT_EQ(d.metric_desired_replicas, 1);
    if (t - kNow < absl::Seconds(300)) {  // upstream keeps recommendations newer than the cutoff
      EXPECT_EQ(d.desired_replicas, 4) << "after " << t - kNow;
      EXPECT_EQ(d.able_to_scale_reason, "ScaleDownStabilized");
    } else {
      EXPECT_EQ(d.desired_replicas, 1) << "after " << t - kNow;
      EXPECT_EQ(d.reason, "All metrics below target");
      break;
    }
  }
  EXPECT_EQ(d.desired_replicas, 1);
}

TEST(HpaControllerTest, ScaleUpStabilizationWindowTakesMinimum) {
  BehaviorSpec b;
  b.scale_up = ScalingRulesSpec{.stabilization_window_seconds = 60};
  auto hpa = HpaController::Create(ConcurrencySpec(b));
  ASSERT_TRUE(hpa.ok());
  absl::Time t = kNow;
  EXPECT_EQ(hpa->Sync(t, 2, Observe(2, 70)).desired_replicas, 2);
  t += absl::Seconds(15);
  HpaDecision d = hpa->Sync(t, 2, Observe(2, 140));  // wants 4; the 2 is inside the window
  EXPECT_EQ(d.metric_desired_replicas, 4);
  EXPECT_EQ(d.desired_replicas, 2);
  EXPECT_EQ(d.able_to_scale_reason, "ScaleUpStabilized");
  t += absl::Seconds(50);  // the 2 at t0 is now older than 60 s
  d = hpa->Sync(t, 2, Observe(2, 140));
  EXPECT_EQ(d.desired_replicas, 4);
}

TEST(HpaControllerTest, DisabledScaleDown) {
  BehaviorSpec b;
  b.scale_down =
      ScalingRulesSpec{.stabilization_window_seconds = 0, .select_policy = SelectPolicy::kDisabled};
  auto hpa = HpaController::Create(ConcurrencySpec(b));
  ASSERT_TRUE(hpa.ok());
  HpaDecision d = hpa->Sync(kNow, 5, Observe(5, 1));
  EXPECT_EQ(d.desired_replicas, 5);
  EXPECT_FALSE(d.rescale);
}

TEST(HpaControllerTest, MinMaxAndOutOfRangeCurrent) {
  auto hpa = HpaController::Create(ConcurrencySpec());
  ASSERT_TRUE(hpa.ok());
  HpaDecision d = hpa->Sync(kNow, 12, Observe(12, 70));
  EXPECT_EQ(d.desired_replicas, 10);
  EXPECT_EQ(d.reason, "Current number of replicas above Spec.MaxReplicas");
  d = hpa->Sync(kNow, 0, Observe(0, 70));
  EXPECT_EQ(d.desired_replicas, 0);
  EXPECT_EQ(d.scaling_disabled_reason, "ScalingDisabled");
  // Desired above max with the policies allowing it: TooManyReplicas.
  d = hpa->Sync(kNow + absl::Seconds(30), 8, Observe(8, 700));
  EXPECT_EQ(d.desired_replicas, 10);
  EXPECT_EQ(d.scaling_limited_reason, "TooManyReplicas");
}

TEST(HpaControllerTest, LegacyPathWithoutBehavior) {
  auto hpa = HpaController::Create(ConcurrencySpec(std::nullopt));
  ASSERT_TRUE(hpa.ok());
  // Scale up at most max(2 * current, 4).
  HpaDecision d = hpa->Sync(kNow, 1, Observe(1, 700));
  EXPECT_EQ(d.desired_replicas, 4);
  EXPECT_EQ(d.scaling_limited_reason, "ScaleUpLimit");
  d = hpa->Sync(kNow + absl::Seconds(15), 4, Observe(4, 175));
  EXPECT_EQ(d.desired_replicas, 8);
  // A low recommendation takes the highest of the last 5 minutes (10 from the previous sync).
  d = hpa->Sync(kNow + absl::Seconds(30), 8, Observe(8, 10));
  EXPECT_EQ(d.metric_desired_replicas, 2);
  EXPECT_EQ(d.desired_replicas, 10);
  EXPECT_EQ(d.able_to_scale_reason, "ScaleDownStabilized");
  EXPECT_TRUE(hpa->scale_up_events().empty());  // legacy keeps no events
}

TEST(HpaControllerTest, MaxOverMetricsAndInvalidMetrics) {
  HpaSpec spec = ConcurrencySpec();
  spec.metrics.push_back(MetricSpec{.source = MetricSourceType::kExternal,
                                    .name = "queue",
                                    .target_type = MetricTargetType::kAverageValue,
                                    .target_milli = 10000});
  auto hpa = HpaController::Create(spec);
  ASSERT_TRUE(hpa.ok());
  HpaObservations obs = Observe(4, 70);  // concurrency: stay at 4
  MetricObservation queue;
  queue.external_values_milli = {60000};  // 60 / 10 per pod: 6
  obs.metrics.push_back(queue);
  HpaDecision d = hpa->Peek(kNow, 4, obs);
  EXPECT_EQ(d.metric_desired_replicas, 6);
  EXPECT_EQ(d.metric, "external metric queue");
  EXPECT_EQ(d.desired_replicas, 6);
  // One invalid metric while the other scales up: proceed, report the error.
  obs.metrics[0].status = absl::UnavailableError("stale");
  d = hpa->Peek(kNow, 4, obs);
  EXPECT_EQ(d.desired_replicas, 6);
  EXPECT_THAT(d.error.message(), HasSubstr("invalid metrics (1 invalid out of 2)"));
  // One invalid while the other would scale down: no change.
  obs.metrics[1].external_values_milli = {10000};
  d = hpa->Peek(kNow, 4, obs);
  EXPECT_EQ(d.desired_replicas, 4);
  EXPECT_EQ(d.metric_desired_replicas, -1);
  EXPECT_EQ(d.scaling_disabled_reason, "FailedComputeMetricsReplicas");
  EXPECT_TRUE(hpa->recommendations().empty());  // Peek records nothing
}

TEST(HpaControllerTest, CpuUtilizationTutorial) {
  // cpu-model: Resource cpu Utilization 50 with 1 core requested; two pods at 900m -> 180 % ->
  // ceil(3.6 * 2) = 8, paced to 2 + 4 = 6 by the Pods 4 policy.
  HpaSpec spec;
  spec.metrics = {MetricSpec{.source = MetricSourceType::kResource,
                             .name = "cpu",
                             .target_type = MetricTargetType::kUtilization,
                             .target_utilization_percent = 50}};
  spec.behavior = BehaviorSpec{};
  auto hpa = HpaController::Create(spec);
  ASSERT_TRUE(hpa.ok());
  CpuCase c{.current = 2, .requests_milli = {500, 500}};  // 2 containers x 500m = 1 core
  HpaObservations obs;
  obs.pods = MakePods(c);
  MetricObservation m;
  m.pod_samples = MakeSamples({1800, 1800});
  obs.metrics.push_back(m);
  HpaDecision d = hpa->Sync(kNow, 2, obs);
  EXPECT_EQ(d.metric_desired_replicas, 8);
  EXPECT_EQ(d.metrics[0].proposal.utilization_percent, 180);
  EXPECT_EQ(d.desired_replicas, 6);
}

}  // namespace
}  // namespace aa::scaling
