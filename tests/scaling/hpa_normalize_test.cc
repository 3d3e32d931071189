// The HPA's normalization steps one at a time (upstream horizontal.go: stabilizeRecommendation,
// convertDesiredReplicasWithRules, stabilizeRecommendationWithBehaviors,
// convertDesiredReplicasWithBehaviorRate), each with the history it is given, so a wrong clamp or
// reason shows here before it shows as a wrong count in a whole sync.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "scaling/hpa.h"

namespace aa::scaling {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

absl::Time Ago(int seconds) { return kNow - absl::Seconds(seconds); }

// "<replicas> <reason>", so one expectation checks both.
std::string Show(const ReasonedReplicas& r) {
  return absl::StrCat(r.replicas, " ", std::string(r.reason));
}

// ----- no behavior -----

TEST(StabilizeRecommendationTest, HighestInsideTheWindowAndTheOldSlotReused) {
  std::vector<Recommendation> history = {{8, Ago(60)}, {9, Ago(400)}, {3, Ago(120)}};
  // 9 is older than the 5 min window: it neither counts nor stays; 8 is the highest left.
  EXPECT_EQ(StabilizeRecommendation(4, absl::Minutes(5), kNow, &history), 8);
  ASSERT_EQ(history.size(), 3u);
  EXPECT_EQ(history[1].replicas, 4);
  EXPECT_EQ(history[1].time, kNow);

  // Nothing old: appended; a higher desire than every recent one is itself the answer.
  EXPECT_EQ(StabilizeRecommendation(12, absl::Minutes(5), kNow, &history), 12);
  ASSERT_EQ(history.size(), 4u);
  EXPECT_EQ(history[3].replicas, 12);
}

TEST(ConvertDesiredReplicasWithRulesTest, ScaleUpLimitMinAndMax) {
  EXPECT_EQ(CalculateScaleUpLimit(0), 4);
  EXPECT_EQ(CalculateScaleUpLimit(1), 4);
  EXPECT_EQ(CalculateScaleUpLimit(3), 6);

  EXPECT_EQ(Show(ConvertDesiredReplicasWithRules(3, 20, 1, 10)),
            "6 ScaleUpLimit");  // 2 * 3 at once, though max allows 10
  EXPECT_EQ(Show(ConvertDesiredReplicasWithRules(1, 20, 1, 3)),
            "3 TooManyReplicas");  // the limit (4) is above max
  EXPECT_EQ(Show(ConvertDesiredReplicasWithRules(3, 0, 2, 10)), "2 TooFewReplicas");
  EXPECT_EQ(Show(ConvertDesiredReplicasWithRules(3, 5, 1, 10)), "5 DesiredWithinRange");
}

// ----- behavior -----

TEST(StabilizeRecommendationWithBehaviorsTest, ScaleDownHoldsTheHighestRecentRecommendation) {
  const Behavior b = KServeBehavior();  // up window 0 s, down window 300 s
  std::vector<Recommendation> history = {{5, Ago(100)}};
  EXPECT_EQ(
      Show(StabilizeRecommendationWithBehaviors(
          {.min_replicas = 1, .max_replicas = 10, .current_replicas = 5, .desired_replicas = 2}, b,
          kNow, &history)),
      "5 ScaleDownStabilized");
  ASSERT_EQ(history.size(), 2u);  // the desire is recorded, not the stabilized count
  EXPECT_EQ(history[1].replicas, 2);
  EXPECT_EQ(history[1].time, kNow);
}

TEST(StabilizeRecommendationWithBehaviorsTest, ScaleUpTakesTheLowestInsideItsWindow) {
  BehaviorSpec spec;
  spec.scale_up = ScalingRulesSpec{.stabilization_window_seconds = 60};
  spec.scale_down = ScalingRulesSpec{.stabilization_window_seconds = 0};
  const Behavior b = DefaultedBehavior(spec);
  std::vector<Recommendation> history = {{3, Ago(30)}, {1, Ago(90)}};
  EXPECT_EQ(
      Show(StabilizeRecommendationWithBehaviors(
          {.min_replicas = 1, .max_replicas = 10, .current_replicas = 2, .desired_replicas = 6}, b,
          kNow, &history)),
      "3 ScaleUpStabilized");  // 1 is outside the 60 s window
  // 1 is older than both windows: its slot takes the new recommendation.
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[1].replicas, 6);
}

TEST(StabilizeRecommendationWithBehaviorsTest, NoHistoryGivesTheDesire) {
  std::vector<Recommendation> history;
  EXPECT_EQ(
      StabilizeRecommendationWithBehaviors(
          {.min_replicas = 1, .max_replicas = 10, .current_replicas = 4, .desired_replicas = 7},
          KServeBehavior(), kNow, &history)
          .replicas,
      7);
  ASSERT_EQ(history.size(), 1u);
}

NormalizationArg Arg(int32_t current, int32_t desired, int32_t min = 1, int32_t max = 10) {
  return {.min_replicas = min,
          .max_replicas = max,
          .current_replicas = current,
          .desired_replicas = desired};
}

TEST(ConvertDesiredReplicasWithBehaviorRateTest, ScaleUpPolicyAndMax) {
  const Behavior b = KServeBehavior();  // up: max of Pods 4 and Percent 100 per 15 s
  EXPECT_EQ(Show(ConvertDesiredReplicasWithBehaviorRate(Arg(2, 5), b, {}, {}, kNow)),
            "5 DesiredWithinRange");
  EXPECT_EQ(Show(ConvertDesiredReplicasWithBehaviorRate(Arg(2, 9), b, {}, {}, kNow)),
            "6 ScaleUpLimit");  // 2 + 4
  EXPECT_EQ(Show(ConvertDesiredReplicasWithBehaviorRate(Arg(2, 9, 1, 5), b, {}, {}, kNow)),
            "5 TooManyReplicas");

  // 4 added 5 s ago count against the period: from 6 the policies allow 6 (start 2) until the
  // event is 15 s old.
  const std::vector<ScaleEvent> up = {{4, Ago(5)}};
  EXPECT_EQ(Show(ConvertDesiredReplicasWithBehaviorRate(Arg(6, 10), b, up, {}, kNow)),
            "6 ScaleUpLimit");
  EXPECT_EQ(
      Show(ConvertDesiredReplicasWithBehaviorRate(Arg(6, 10), b, up, {}, kNow + absl::Seconds(11))),
      "10 DesiredWithinRange");
}

TEST(ConvertDesiredReplicasWithBehaviorRateTest, APolicyLimitBelowCurrentHoldsCurrent) {
  // Pods 1 / 60 s with 3 added 10 s ago: the policy's limit from 4 is 2, below current; the
  // answer is current (no further scale-up), never a scale-down.
  BehaviorSpec spec;
  spec.scale_up =
      ScalingRulesSpec{.policies = std::vector<ScalingPolicy>{{ScalingPolicyType::kPods, 1, 60}}};
  const Behavior b = DefaultedBehavior(spec);
  EXPECT_EQ(Show(ConvertDesiredReplicasWithBehaviorRate(Arg(4, 8), b, {{3, Ago(10)}}, {}, kNow)),
            "4 ScaleUpLimit");
}

TEST(ConvertDesiredReplicasWithBehaviorRateTest, ScaleDownPolicyMinAndDisabled) {
  BehaviorSpec spec;
  spec.scale_down =
      ScalingRulesSpec{.policies = std::vector<ScalingPolicy>{{ScalingPolicyType::kPods, 2, 60}}};
  Behavior b = DefaultedBehavior(spec);
  EXPECT_EQ(Show(ConvertDesiredReplicasWithBehaviorRate(Arg(10, 3), b, {}, {}, kNow)),
            "8 ScaleDownLimit");
  // 2 deleted 30 s ago count: from 8 the period started at 10, so 8 is the limit: no change.
  EXPECT_EQ(Show(ConvertDesiredReplicasWithBehaviorRate(Arg(8, 3), b, {}, {{2, Ago(30)}}, kNow)),
            "8 ScaleDownLimit");
  // The policy allows 0 from 2, min does not.
  EXPECT_EQ(Show(ConvertDesiredReplicasWithBehaviorRate(Arg(2, 0, 1), b, {}, {}, kNow)),
            "1 TooFewReplicas");

  b.scale_down.select_policy = SelectPolicy::kDisabled;
  EXPECT_EQ(Show(ConvertDesiredReplicasWithBehaviorRate(Arg(10, 3), b, {}, {}, kNow)),
            "10 ScaleDownLimit");
}

TEST(ConvertDesiredReplicasWithBehaviorRateTest, NoChangeIsWithinRange) {
  const std::vector<ScaleEvent> up = {{4, Ago(5)}};
  EXPECT_EQ(Show(ConvertDesiredReplicasWithBehaviorRate(Arg(6, 6), KServeBehavior(), up, up, kNow)),
            "6 DesiredWithinRange");
}

}  // namespace
}  // namespace aa::scaling
