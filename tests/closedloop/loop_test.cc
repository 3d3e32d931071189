// The loop against an in-process simulator, driven step by step: the test advances the simulator by
// one step between loop steps, so nothing waits on a wall clock. The KPA mode needs no adapter.

#include "demo/closedloop/loop.h"

#include <filesystem>

#include "absl/synchronization/mutex.h"
#include "demo/closedloop/report.h"
#include "demo/sim/scenario.h"
#include "demo/sim/server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testutil/temp_dir.h"

namespace aa::closedloop {
namespace {

using ::testing::HasSubstr;

const absl::Time kEpoch = absl::FromUnixSeconds(1'800'000'000);

Scenario Short() {
  Scenario s;
  s.phases = {{"idle", absl::Seconds(5), 0.2, 0.2},
              {"ramp", absl::Seconds(5), 0.2, 1},
              {"burst", absl::Seconds(20), 5, 5},
              {"steady", absl::Seconds(40), 5, 5},
              {"drop", absl::Seconds(40), 0, 0}};
  s.autoscaling.kpa_stable_window = absl::Seconds(10);
  s.autoscaling.panic_window = absl::Seconds(2);
  s.autoscaling.pod_start_delay = absl::Seconds(5);
  return s;
}

class LoopTest : public ::testing::Test {
 protected:
  void Start(const Scenario& scenario, std::vector<ModeSpec> modes) {
    auto specs = sim::ParseScenario(SimScenarioYaml(scenario, modes, "kserve-test"), "sim.yaml");
    ASSERT_TRUE(specs.ok()) << specs.status();
    auto sim = sim::Simulator::Create(*std::move(specs), 3, kEpoch);
    ASSERT_TRUE(sim.ok()) << sim.status();
    sim_ = *std::move(sim);
    auto server = sim::SimHttpServer::Start("127.0.0.1:0", sim_.get(), &mu_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    ClosedLoop::Options o;
    o.scenario = scenario;
    o.modes = std::move(modes);
    o.sim_port = server_->port();
    auto loop = ClosedLoop::Create(o);
    ASSERT_TRUE(loop.ok()) << loop.status();
    loop_ = *std::move(loop);
  }

  // Runs every step: the loop acts at t, then the simulator moves one step on.
  void RunAll() {
    for (int i = 0; i < loop_->steps(); ++i) {
      ASSERT_TRUE(loop_->Step(i, kEpoch + loop_->scenario().step * i).ok());
      absl::MutexLock lock(&mu_);
      sim_->Advance(loop_->scenario().step);
    }
  }

  absl::Mutex mu_;
  std::unique_ptr<sim::Simulator> sim_;
  std::unique_ptr<sim::SimHttpServer> server_;
  std::unique_ptr<ClosedLoop> loop_;
};

ModeSpec Kpa() {
  for (const ModeSpec& m : DefaultModes(false)) {
    if (m.scaler == ScalerKind::kKpa) return m;
  }
  return {};
}

TEST_F(LoopTest, KpaScalesUpForTheBurstSettlesAndReturnsToMin) {
  Start(Short(), {Kpa()});
  RunAll();
  const std::vector<Row>& rows = loop_->rows()[0];
  ASSERT_EQ(rows.size(), 110u);
  // The load follows the scenario: 0.2 x 100 rps idle, 500 rps in the burst, 0 after the drop.
  EXPECT_DOUBLE_EQ(rows[0].load_rps, 20);
  EXPECT_DOUBLE_EQ(rows[10].load_rps, 500);
  EXPECT_DOUBLE_EQ(rows[75].load_rps, 0);
  EXPECT_EQ(rows[12].phase, "burst");
  // The replicas each step's load needs: 1 idle, 4 in the burst, 1 (min) after the drop.
  EXPECT_EQ(rows[0].needed, 1);
  EXPECT_EQ(rows[10].needed, 4);
  EXPECT_EQ(rows[75].needed, 1);

  const ModeSummary m = loop_->Summarize()[0];
  EXPECT_EQ(m.needed, 4);  // 500 rps x 0.5 s = 250 in flight, 70 per pod
  EXPECT_GE(m.time_to_capacity, 0);
  EXPECT_LE(m.time_to_capacity, 15);  // panic mode: within a few decisions + the 5 s start
  EXPECT_GE(m.peak, 4);
  EXPECT_EQ(m.steady_direction_changes, 0);
  EXPECT_GE(m.steady_end_replicas, 4);
  EXPECT_LE(m.steady_end_replicas, 5);
  EXPECT_GE(m.back_to_min, 0);
  EXPECT_LT(m.back_to_min, 40);
  EXPECT_EQ(rows.back().desired, 1);
  EXPECT_GT(m.pod_seconds, 110);   // at least one pod all along
  EXPECT_LT(m.pod_seconds, 1100);  // never ten pods all along
  EXPECT_GT(m.arrived, 10000u);
  EXPECT_GT(m.queued_share, 0);  // one pod takes 200 rps: the burst queues at first
  EXPECT_LT(m.queued_share, 0.5);
  EXPECT_EQ(m.decisions_failed, 0);

  // The replicas the loop set are the simulator's.
  auto v = sim_->Service("kserve-test", "concurrency-kpa");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->desired_replicas,
            rows.back().set_replicas >= 0 ? rows.back().set_replicas : rows.back().desired);
}

TEST_F(LoopTest, KpaFromZeroIsPokedByTheActivatorLosesNothingAndReturnsToZero) {
  Scenario sc = Short();
  sc.autoscaling.scale_to_zero_grace = absl::Seconds(10);
  ModeSpec zero;
  for (const ModeSpec& m : DefaultModes(false)) {
    if (m.name == "concurrency-kpa-zero") zero = m;
  }
  ASSERT_TRUE(zero.from_zero);
  Start(sc, {zero});
  RunAll();
  const std::vector<Row>& rows = loop_->rows()[0];
  ASSERT_EQ(rows.size(), 110u);
  EXPECT_EQ(rows[0].desired, 0);
  EXPECT_EQ(rows[0].pods, 0);
  // Step 0 sets the load; at step 1 requests wait in the activator, which pokes the KPA: one pod
  // at once, not at the next 2 s decision.
  EXPECT_GT(rows[1].queue, 0);
  EXPECT_EQ(rows[1].set_replicas, 1);
  const ModeSummary m = loop_->Summarize()[0];
  EXPECT_EQ(m.dropped, 0u);
  EXPECT_GT(m.first_ready, 5 - 1e-9);  // the pod start
  EXPECT_LE(m.first_ready, 6);         // + at most one step
  EXPECT_EQ(m.first_waits_count, 100);
  EXPECT_NEAR(m.first_wait_max, m.first_ready, 1e-9);  // the first request waited for it all
  EXPECT_LT(m.first_wait_median, m.first_wait_max);
  EXPECT_GE(m.time_to_capacity, 0);
  EXPECT_EQ(rows.back().desired, 0);
  EXPECT_GE(m.back_to_min, 0);
  const std::string table = SummaryTable(loop_->Summarize(), loop_->scenario());
  EXPECT_THAT(table, HasSubstr("| scale-from-zero mode | first request to first ready pod |"));
  EXPECT_THAT(table, HasSubstr("| concurrency, Knative KPA from zero (reference) | "));
}

TEST_F(LoopTest, WritesCsvAndTheSummaryTable) {
  Start(Short(), {Kpa()});
  RunAll();
  testutil::TempDir dir;
  ASSERT_TRUE(WriteCsv(*loop_, dir.path() + "/out").ok());
  const std::string csv = testutil::ReadFileOrEmpty(dir.path() + "/out/concurrency-kpa.csv");
  EXPECT_THAT(csv, HasSubstr("step,t,phase,load_rps,desired,ready,pods,queue,demand"));
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 111);  // header + one row per step
  const std::string summary = testutil::ReadFileOrEmpty(dir.path() + "/out/summary.csv");
  EXPECT_THAT(summary, HasSubstr("\nconcurrency-kpa,4,"));
  const std::string table = SummaryTable(loop_->Summarize(), loop_->scenario());
  EXPECT_THAT(table, HasSubstr("| concurrency, Knative KPA (reference) |"));
  EXPECT_THAT(LiveTable(*loop_), HasSubstr("100%"));
  EXPECT_THAT(LiveLines(*loop_), HasSubstr("concurrency-kpa: load 0/s"));
  // An unwritable directory is an error naming it.
  const std::string file = dir.WriteFile("plain-file", "x");
  absl::Status bad = WriteCsv(*loop_, file + "/sub");
  EXPECT_FALSE(bad.ok());
  EXPECT_THAT(bad.message(), HasSubstr("plain-file"));
}

TEST_F(LoopTest, StopsWithAnErrorWhenTheSimulatorLacksTheService) {
  Start(Short(), {Kpa()});
  ModeSpec other = Kpa();
  other.name = "not-there";
  ClosedLoop::Options o;
  o.scenario = Short();
  o.modes = {other};
  o.sim_port = server_->port();
  auto loop = ClosedLoop::Create(o);
  ASSERT_TRUE(loop.ok());
  absl::Status s = (*loop)->Step(0, kEpoch);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("kserve-test/not-there"));
}

// An LLM mode whose HPA cannot reach an adapter (none runs): every sync fails and the replicas stay
// at one pod through the 5x burst, so requests wait and the time to first token grows; the summary
// measures it from the simulator.
TEST_F(LoopTest, LlmModeMeasuresTimeToFirstTokenDuringTheBurst) {
  ModeSpec llm;
  for (const ModeSpec& m : DefaultModes(false)) {
    if (m.name == "llm-hpa-running") llm = m;
  }
  ASSERT_EQ(llm.model, ModelKind::kLlm);
  Start(Short(), {llm});
  RunAll();
  const std::vector<ModeSummary> s = loop_->Summarize();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_GT(s[0].decisions_failed, 0);
  EXPECT_EQ(s[0].peak, 1);
  // 7.5 rps x 6.5 s = 49 running wanted: ceil(49 / 12) = 5 pods.
  EXPECT_EQ(s[0].needed, 5);
  // One pod serves 16 / 6.5 s = 2.5 rps of the 7.5: the queue grows by 5 a second for 60 s.
  EXPECT_GT(s[0].ttft_p95, 10);
  EXPECT_LT(s[0].ttft_p95, 200);
  const std::string table = SummaryTable(s, Short());
  EXPECT_THAT(table, HasSubstr("| LLM mode | TTFT p95, burst + steady | pod-seconds |"));
  EXPECT_THAT(table, HasSubstr("| llm, HPA, requests running | "));
}

TEST(Modes, SelectByNameWithClearErrors) {
  const auto all = DefaultModes(true);
  EXPECT_EQ(all.size(), 15u);
  EXPECT_EQ(DefaultModes(false).size(), 13u);
  auto two = SelectModes("cpu-hpa,concurrency-hpa", all);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ((*two)[0].name, "cpu-hpa");
  EXPECT_EQ(SelectModes("all", all)->size(), 15u);
  // The scale-from-zero modes start at 0 pods; the adapter serves the activator's series.
  auto zero = SelectModes("concurrency-keda-zero,concurrency-kpa-zero", all);
  ASSERT_TRUE(zero.ok());
  for (const ModeSpec& m : *zero) {
    EXPECT_TRUE(m.from_zero);
    EXPECT_EQ(ModeMinReplicas(m, Short()), 0);
  }
  EXPECT_EQ(ModeMinReplicas((*two)[0], Short()), 1);
  EXPECT_THAT(SimScenarioYaml(Short(), *zero, "ns"), HasSubstr("replicas: 0\n"));
  EXPECT_THAT(AdapterConfigYaml(Short(), true),
              HasSubstr("- name: activator_requests\n  preset: {type: activity, window: 2s}\n"));
  auto saturation = SelectModes("cpu-hpa-saturation,cpu-keda", all);
  ASSERT_TRUE(saturation.ok());
  EXPECT_TRUE((*saturation)[0].saturation);
  EXPECT_TRUE(NeedsSaturationAdapter(*saturation));
  EXPECT_FALSE(NeedsSaturationAdapter(*two));
  auto cpu_panic = SelectModes("cpu-keda-panic", all);
  ASSERT_TRUE(cpu_panic.ok());
  EXPECT_TRUE(NeedsCpuPanicAdapter(*cpu_panic));
  EXPECT_FALSE(NeedsCpuPanicAdapter(*saturation));
  // The third adapter's cpu: the demand over 3 s (here the 2 s panic window, shorter), windowed
  // over cpuWindow (15 s) and the panic window.
  EXPECT_THAT(AdapterConfigYaml(Short(), true, true, true),
              HasSubstr("preset: {type: cpu, window: 2s, saturation: true}\n  targetUtilization: "
                        "50\n  panic: {stableWindow: 15s, panicWindowPercentage: 13.3333}"));
  EXPECT_THAT(AdapterConfigYaml(DefaultScenario(), true, true, true),
              HasSubstr("window: 3s, saturation: true}\n  targetUtilization: 50\n  panic: "
                        "{stableWindow: 15s, panicWindowPercentage: 40}"));
  // The second adapter's config differs in the cpu preset only.
  EXPECT_THAT(AdapterConfigYaml(Short(), true, true),
              HasSubstr("preset: {type: cpu, window: 15s, saturation: true}"));
  EXPECT_THAT(AdapterConfigYaml(Short(), true), HasSubstr("preset: {type: cpu, window: 15s}"));
  auto bad = SelectModes("cpu-hpa,nope", all);
  EXPECT_THAT(bad.status().message(), HasSubstr("unknown mode \"nope\" (valid: all, "));
  EXPECT_THAT(SelectModes("cpu-hpa,cpu-hpa", all).status().message(), HasSubstr("given twice"));
}

}  // namespace
}  // namespace aa::closedloop
