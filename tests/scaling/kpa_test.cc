// The KPA model: Knative's window averaging, Scale() decision and scale-to-zero step.
#include "scaling/kpa.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace aa::scaling {
namespace {

using ::testing::HasSubstr;

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

TEST(KpaOptionsTest, DefaultsAndValidation) {
  KpaOptions o;
  EXPECT_EQ(o.panic_window(), absl::Seconds(6));
  EXPECT_TRUE(ValidateKpaOptions(o).ok());
  o.panic_threshold_percentage = 100;
  EXPECT_THAT(ValidateKpaOptions(o).message(), HasSubstr("panicThresholdPercentage"));
  o = KpaOptions{};
  o.stable_window = absl::Seconds(5);
  EXPECT_THAT(ValidateKpaOptions(o).message(),
              HasSubstr("stableWindow: must be in 6s..1h (got 5s)"));
  o = KpaOptions{};
  o.max_scale_down_rate = 1;
  EXPECT_THAT(ValidateKpaOptions(o).message(), HasSubstr("maxScaleDownRate"));
  o = KpaOptions{};
  o.target = 0;
  EXPECT_THAT(ValidateKpaOptions(o).message(), HasSubstr("target"));
  EXPECT_DOUBLE_EQ(KpaConcurrencyTarget(100, 70), 70.0);
  EXPECT_DOUBLE_EQ(KpaConcurrencyTarget(0, 70), 70.0);  // 0 = unlimited: default 100
  EXPECT_DOUBLE_EQ(KpaConcurrencyTarget(1, 0.1), 0.01);
}

TEST(WindowAverageTest, AveragesOverTheFilledPart) {
  WindowAverage w(absl::Seconds(60));
  EXPECT_EQ(w.Average(kT0), 0);
  EXPECT_TRUE(w.IsEmpty(kT0));
  // 10 for 10 s: the average over what has been filled so far is 10, not 10 * 10 / 60.
  for (int s = 0; s < 10; ++s) w.Record(kT0 + absl::Seconds(s), 10);
  EXPECT_DOUBLE_EQ(w.Average(kT0 + absl::Seconds(9)), 10);
  // Two more seconds without data count as 0: 100 / 12.
  EXPECT_DOUBLE_EQ(w.Average(kT0 + absl::Seconds(11)), 100.0 / 12);
  // Values in one bucket add up (one per pod).
  w.Record(kT0 + absl::Seconds(12), 5);
  w.Record(kT0 + absl::Seconds(12) + absl::Milliseconds(500), 5);
  EXPECT_DOUBLE_EQ(w.Average(kT0 + absl::Seconds(12)), 110.0 / 13);
}

TEST(WindowAverageTest, SlidesAndForgets) {
  WindowAverage w(absl::Seconds(6));
  for (int s = 0; s < 6; ++s) w.Record(kT0 + absl::Seconds(s), 1);
  for (int s = 6; s < 12; ++s) w.Record(kT0 + absl::Seconds(s), 7);
  EXPECT_DOUBLE_EQ(w.Average(kT0 + absl::Seconds(11)), 7);
  // Three quiet seconds: the three oldest buckets fall out, three empty ones come in.
  EXPECT_DOUBLE_EQ(w.Average(kT0 + absl::Seconds(14)), 3.5);
  // A whole window without data: 0, and the next write starts over.
  EXPECT_EQ(w.Average(kT0 + absl::Seconds(18)), 0);
  EXPECT_TRUE(w.IsEmpty(kT0 + absl::Seconds(18)));
  w.Record(kT0 + absl::Seconds(30), 4);
  EXPECT_DOUBLE_EQ(w.Average(kT0 + absl::Seconds(30)), 4);
}

TEST(WindowAverageTest, AllZeroBucketsAverageExactlyZero) {
  // Values whose running sum leaves float residue once they slide out: the window of zeros that
  // follows must read 0 (else ceil(total / target) asks for a pod and scale to zero never comes).
  WindowAverage w(absl::Seconds(20));
  for (int s = 0; s < 40; ++s) w.Record(kT0 + absl::Seconds(s), 250.1 + 0.37 * s - 0.013 * s * s);
  for (int s = 40; s < 70; ++s) w.Record(kT0 + absl::Seconds(s), 0);
  EXPECT_EQ(w.Average(kT0 + absl::Seconds(69)), 0);
  EXPECT_EQ(w.Average(kT0 + absl::Seconds(72)), 0);
}

TEST(KpaDeciderTest, StableModeScalesToStableDesire) {
  KpaDecider kpa{KpaOptions{}};
  // 3 pods, 150 concurrent: ceil(150 / 70) = 3, panic desire 3 / 3 < 2: stable.
  KpaDecision d = kpa.Scale(kT0, 3, 150, 150);
  EXPECT_TRUE(d.valid);
  EXPECT_EQ(d.desired_pods, 3);
  EXPECT_FALSE(d.in_panic);
  // Max scale down rate 2: from 10 pods at most down to 5.
  d = kpa.Scale(kT0, 10, 0, 0);
  EXPECT_EQ(d.desired_pods, 5);
  // Max scale up rate: 1000 x ready pods.
  KpaOptions slow;
  slow.max_scale_up_rate = 1.5;
  KpaDecider limited{slow};
  d = limited.Scale(kT0, 2, 700, 700);
  EXPECT_EQ(d.desired_stable, 3);
}

TEST(KpaDeciderTest, PanicNeverScalesDownAndEndsAfterStableWindow) {
  KpaDecider kpa{KpaOptions{}};
  absl::Time t = kT0;
  // 1 pod; a 5x burst shows in the panic window first: ceil(350 / 70) = 5 >= 2 x 1: panic.
  KpaDecision d = kpa.Scale(t, 1, 70, 350);
  EXPECT_TRUE(d.in_panic);
  EXPECT_TRUE(d.over_panic_threshold);
  EXPECT_EQ(d.desired_pods, 5);
  EXPECT_EQ(d.panic_since, t);
  // The panic value falls back while the stable one rises: the count never goes down in panic.
  t += absl::Seconds(2);
  d = kpa.Scale(t, 5, 150, 140);
  EXPECT_TRUE(d.in_panic);
  EXPECT_EQ(d.desired_pods, 5);
  // Higher panic desire raises it.
  t += absl::Seconds(2);
  d = kpa.Scale(t, 5, 200, 700);  // 10 / 5 >= 2: still over, panic extended
  EXPECT_EQ(d.desired_pods, 10);
  absl::Time last_over = t;
  // Calm: stays in panic (and at 10) until a stable window after the last crossing.
  for (int i = 0; i < 40; ++i) {
    t += absl::Seconds(2);
    d = kpa.Scale(t, 10, 140, 140);
    if (t - last_over <= absl::Seconds(60)) {
      EXPECT_TRUE(d.in_panic) << t - last_over;
      EXPECT_EQ(d.desired_pods, 10);
    } else {
      EXPECT_FALSE(d.in_panic) << t - last_over;
      EXPECT_EQ(d.desired_pods, 5);  // ceil(140 / 70) = 2, but at most halved: 5
      break;
    }
  }
  EXPECT_FALSE(kpa.in_panic());
}

TEST(KpaDeciderTest, UnreachableHasNoScaleDownLimit) {
  KpaOptions o;
  o.reachable = false;
  KpaDecider kpa{o};
  EXPECT_EQ(kpa.Scale(kT0, 10, 0, 0).desired_pods, 0);
}

TEST(ScaleToZeroGateTest, HoldsOnePodForTheGracePeriod) {
  KpaOptions o;
  ScaleToZeroGate gate{o};
  EXPECT_EQ(gate.Apply(kT0, 3), 3);
  EXPECT_EQ(gate.Apply(kT0 + absl::Seconds(2), 0), 1);
  EXPECT_EQ(gate.Apply(kT0 + absl::Seconds(31), 0), 1);
  EXPECT_EQ(gate.Apply(kT0 + absl::Seconds(32), 0), 0);
  EXPECT_EQ(gate.Apply(kT0 + absl::Seconds(34), 2), 2);
  o.min_scale = 2;
  o.max_scale = 4;
  ScaleToZeroGate bounded{o};
  EXPECT_EQ(bounded.Apply(kT0, 0), 2);
  EXPECT_EQ(bounded.Apply(kT0 + absl::Minutes(5), 0), 2);
  EXPECT_EQ(bounded.Apply(kT0, 9), 4);
  o = KpaOptions{};
  o.enable_scale_to_zero = false;
  ScaleToZeroGate never{o};
  EXPECT_EQ(never.Apply(kT0 + absl::Hours(1), 0), 1);
}

TEST(KpaAutoscalerTest, BurstThenIdleToZero) {
  KpaAutoscaler kpa{KpaOptions{}};
  absl::Time t = kT0;
  EXPECT_FALSE(kpa.Decide(t, 1, 1).valid);
  EXPECT_EQ(kpa.Decide(t, 1, 1).desired_pods, 1);
  int32_t pods = 1;
  // 60 s at 70 concurrent: one pod.
  for (int s = 0; s < 60; ++s, t += absl::Seconds(1)) kpa.Record(t, 70);
  KpaDecision d = kpa.Decide(t - absl::Seconds(1), pods, pods);
  EXPECT_EQ(d.desired_pods, 1);
  EXPECT_FALSE(d.in_panic);
  // A 5x burst: within the 6 s panic window the decision jumps to 5 while the stable average
  // has barely moved.
  int first_panic_second = -1;
  for (int s = 0; s < 6; ++s, t += absl::Seconds(1)) {
    kpa.Record(t, 350);
    d = kpa.Decide(t, pods, pods);
    if (d.in_panic && first_panic_second < 0) first_panic_second = s;
  }
  ASSERT_GE(first_panic_second, 0);
  EXPECT_LE(first_panic_second, 5);
  EXPECT_EQ(d.desired_pods, 5);
  EXPECT_LT(kpa.StableAverage(t - absl::Seconds(1)), 140);
  // Traffic stops: after the stable window (no more panic) and the grace period, zero.
  absl::Time stop = t;
  pods = 5;
  bool reached_zero = false;
  for (int s = 0; s < 200; ++s, t += absl::Seconds(1)) {
    kpa.Record(t, 0);
    if (s % 2 == 0) {
      d = kpa.Decide(t, pods, pods);
      pods = std::max(d.desired_pods, 0);
      if (pods == 0) {
        reached_zero = true;
        EXPECT_GE(t - stop, absl::Seconds(90));  // 60 s of zero stable average + 30 s grace
        break;
      }
    }
  }
  EXPECT_TRUE(reached_zero);
}

}  // namespace
}  // namespace aa::scaling
