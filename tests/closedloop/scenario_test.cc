#include "demo/closedloop/scenario.h"

#include <ostream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testutil/temp_dir.h"

namespace aa::closedloop {
namespace {

using ::testing::HasSubstr;

constexpr char kValid[] = R"(
phases:
- {name: idle, duration: 10s, load: 0.2}
- {name: ramp, duration: 10s, load: 0.2, to: 1}
- {name: burst, duration: 30s, load: 5}
- {name: steady, duration: 40s, load: 5}
- {name: drop, duration: 50s, load: 0}
baseRps: {concurrency: 50, cpu: 4, llm: 2}
autoscaling:
  syncPeriod: 5s
  scaleDownStabilization: 20s
  metricWindow: 20s
  panicWindow: 4s
  kpaStableWindow: 20s
)";

TEST(Scenario, ParsesAFileAndAnswersPerStep) {
  auto s = ParseScenario(kValid, "s.yaml");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->Length(), absl::Seconds(140));
  EXPECT_EQ(s->Steps(), 140);
  EXPECT_EQ(s->concurrency_base_rps, 50);
  EXPECT_EQ(s->cpu_base_rps, 4);
  EXPECT_EQ(s->llm_base_rps, 2);
  EXPECT_EQ(s->autoscaling.sync_period, absl::Seconds(5));
  EXPECT_EQ(s->autoscaling.scale_down_stabilization, absl::Seconds(20));
  EXPECT_EQ(s->autoscaling.max_replicas, 10);  // default
  EXPECT_EQ(s->PhaseAt(absl::Seconds(25))->name, "burst");
  EXPECT_EQ(s->PhaseAt(absl::Seconds(500))->name, "drop");
  EXPECT_DOUBLE_EQ(s->LoadAt(absl::Seconds(15)), 0.6);  // halfway up the ramp
  EXPECT_DOUBLE_EQ(s->LoadAt(absl::Seconds(20)), 5);
  EXPECT_DOUBLE_EQ(s->LoadAt(absl::Seconds(1000)), 0);
  EXPECT_EQ(s->PhaseStart("steady"), absl::Seconds(50));
  EXPECT_EQ(s->PhaseStart("nope"), absl::InfiniteDuration());
  EXPECT_DOUBLE_EQ(s->PhaseMaxLoad("ramp"), 1);
}

TEST(Scenario, BuiltInScenariosAreValidAndTheDefaultFitsInFiveMinutes) {
  EXPECT_TRUE(ValidateScenario(DefaultScenario()).ok());
  EXPECT_TRUE(ValidateScenario(LongScenario()).ok());
  EXPECT_LE(DefaultScenario().Length(), absl::Seconds(280));
  EXPECT_EQ(LongScenario().autoscaling.scale_down_stabilization, absl::Minutes(5));
}

struct BadCase {
  std::string text;
  std::string message;
};

// Failure output shows the case's text and expected message, not its bytes.
void PrintTo(const BadCase& c, std::ostream* os) {
  *os << "{text: \"" << absl::CEscape(c.text) << "\", message: \"" << absl::CEscape(c.message)
      << "\"}";
}

// Test names from the expected message: "Cases/BadScenario.IsRefusedWithAClearMessage/
// 3_phases_expected_a_sequence" (the index keeps them unique; at most 6 words).
std::string BadCaseName(const ::testing::TestParamInfo<BadCase>& info) {
  std::string name = std::to_string(info.index);
  int words = 0;
  bool in_word = false;
  for (char c : info.param.message) {
    const bool alnum = absl::ascii_isalnum(static_cast<unsigned char>(c));
    if (alnum && !in_word) {
      if (++words > 6) break;
      name += '_';
    }
    if (alnum) name += c;
    in_word = alnum;
  }
  return name;
}

class BadScenario : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadScenario, IsRefusedWithAClearMessage) {
  auto s = ParseScenario(GetParam().text, "bad.yaml");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.status().message(), HasSubstr(GetParam().message)) << s.status();
  EXPECT_THAT(s.status().message(), HasSubstr("bad.yaml"));
}

const std::string kPhases =
    "- {name: burst, duration: 10s, load: 5}\n"
    "- {name: steady, duration: 10s, load: 5}\n"
    "- {name: drop, duration: 10s, load: 0}\n";

INSTANTIATE_TEST_SUITE_P(
    Cases, BadScenario,
    ::testing::Values(
        BadCase{"phases: [", "YAML syntax error"},
        BadCase{"- a\n- b\n", "expected a mapping with `phases`"},
        BadCase{"phase: []\n", "bad.yaml:1:1: phase: unknown field"},
        BadCase{"phases: {}\n", "phases: expected a sequence"},
        BadCase{"phases:\n- {name: burst, duration: fast, load: 5}\n",
                "phases[0].duration: expected a duration such as 20s (got \"fast\")"},
        BadCase{"phases:\n- {name: burst, load: 5}\n", "phases[0].duration: required"},
        BadCase{"phases:\n- {name: burst, duration: 10s, load: lots}\n",
                "phases[0].load: expected a number (got \"lots\")"},
        BadCase{"phases:\n- {name: burst, duration: 10s, load: 5, color: red}\n",
                "phases[0].color: unknown field"},
        BadCase{"phases:\n- {name: burst, duration: 10s, load: -1}\n",
                "phases[0].load: must be a number in [0, 1000] (got \"-1\")"},
        BadCase{"phases:\n- {name: Burst, duration: 10s, load: 1}\n",
                "phases[0].name: must match [a-z][a-z0-9-]*"},
        BadCase{"phases:\n- {name: burst, duration: 1500ms, load: 1}\n",
                "phases[0].duration: must be a positive whole multiple of the step (1s) (got "
                "\"1.5s\")"},
        BadCase{"phases:\n" + kPhases + "- {name: drop, duration: 10s, load: 0}\n",
                "phases[3].name: duplicate phase name (got \"drop\")"},
        BadCase{"phases:\n- {name: burst, duration: 10s, load: 5}\n",
                "a phase named \"steady\" is required"},
        BadCase{"phases:\n- {name: steady, duration: 10s, load: 5}\n"
                "- {name: burst, duration: 10s, load: 5}\n- {name: drop, duration: 10s, load: 0}\n",
                "\"steady\" must come after"},
        BadCase{"phases:\n" + kPhases + "autoscaling: {maxReplicas: 0}\n",
                "autoscaling.maxReplicas: must be in [minReplicas, 100] (got \"0\")"},
        BadCase{"phases:\n" + kPhases + "autoscaling: {minReplicas: 1.5}\n",
                "autoscaling.minReplicas: expected an integer"},
        BadCase{"phases:\n" + kPhases + "autoscaling: {syncPeriod: 0s}\n",
                "autoscaling.syncPeriod: must be in [1s, 1h] (got \"0s\")"},
        BadCase{"phases:\n" + kPhases + "autoscaling: {panicWindow: 2m}\n",
                "autoscaling.panicWindow: must be shorter than metricWindow"},
        BadCase{"phases:\n" + kPhases + "autoscaling: {speed: 2}\n",
                "autoscaling.speed: unknown field"},
        BadCase{"phases:\n" + kPhases + "step: 10s\n", "step: must be in [100ms, 5s]"},
        BadCase{"phases:\n" + kPhases + "baseRps: {concurrency: 0}\n",
                "baseRps.concurrency: must be a number in (0, 10000]"}),
    BadCaseName);

TEST(Scenario, MissingFileIsNotFound) {
  testutil::TempDir dir;
  auto s = LoadScenarioFile(dir.File("nope.yaml"));
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.status().message(), HasSubstr("nope.yaml"));
  auto ok = LoadScenarioFile(dir.WriteFile("ok.yaml", kValid));
  EXPECT_TRUE(ok.ok()) << ok.status();
}

}  // namespace
}  // namespace aa::closedloop
