#include "demo/sim/scenario.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace aa::sim {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

std::string Message(const absl::Status& s) { return std::string(s.message()); }

TEST(Scenario, DefaultIsTheTutorial) {
  const auto specs = DefaultScenario();
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].name, "concurrency-model");
  EXPECT_EQ(specs[0].ns, "kserve-test");
  EXPECT_EQ(specs[0].container_concurrency, 100);
  EXPECT_EQ(specs[0].target_utilization_percent, 70);
  EXPECT_EQ(specs[0].replicas, 1);
  EXPECT_EQ(specs[1].name, "cpu-model");
  EXPECT_EQ(specs[1].cpu_request, 1);
  EXPECT_EQ(specs[1].target_utilization_percent, 50);
  EXPECT_EQ(specs[1].replicas, 1);
  for (const auto& s : specs) EXPECT_TRUE(ValidateServiceSpec(s).ok()) << s.name;
  // Peak load needs ~3 pods: ceil(peak concurrency / 70) and ceil(peak cores / 0.5).
  double peak_rps = 0;
  for (const auto& seg : specs[0].load.segments) peak_rps = std::max(peak_rps, seg.to_rps);
  EXPECT_EQ(std::ceil(peak_rps * absl::ToDoubleSeconds(specs[0].service_time) / 70), 3);
  peak_rps = 0;
  for (const auto& seg : specs[1].load.segments) peak_rps = std::max(peak_rps, seg.to_rps);
  EXPECT_EQ(std::ceil((peak_rps * specs[1].cpu_per_request + specs[1].idle_cpu) / 0.5), 3);
}

TEST(Scenario, ParsesEveryField) {
  const auto specs = ParseScenario(R"(
services:
  - name: a
    namespace: team-x
    model_name: llama
    container_concurrency: 8
    target_utilization_percent: 60
    service_time: 250ms
    distribution: lognormal
    lognormal_sigma: 0.3
    cpu_per_request: 0.2
    idle_cpu: 50m
    cpu_request: 500m
    memory_request: 2Gi
    memory_working_set: 1.5Gi
    memory_per_request: 10Mi
    replicas: 2
    start_delay: 30s
    queue_limit: 50
    load:
      loop: false
      steps:
        - {duration: 1m, rps: 0}
        - {duration: 30s, rps: 10, to_rps: 50}
  - name: b
)",
                                   "x.yaml");
  ASSERT_TRUE(specs.ok()) << specs.status();
  ASSERT_EQ(specs->size(), 2u);
  const ServiceSpec& a = (*specs)[0];
  EXPECT_EQ(a.ns, "team-x");
  EXPECT_EQ(a.ModelName(), "llama");
  EXPECT_EQ(a.container_concurrency, 8);
  EXPECT_EQ(a.service_time, absl::Milliseconds(250));
  EXPECT_EQ(a.distribution, ServiceTimeDistribution::kLognormal);
  EXPECT_DOUBLE_EQ(a.idle_cpu, 0.05);
  EXPECT_DOUBLE_EQ(a.cpu_request, 0.5);
  EXPECT_DOUBLE_EQ(a.memory_request, 2.0 * (1 << 30));
  EXPECT_DOUBLE_EQ(a.memory_working_set, 1.5 * (1 << 30));
  EXPECT_EQ(a.replicas, 2);
  EXPECT_EQ(a.start_delay, absl::Seconds(30));
  EXPECT_EQ(a.queue_limit, 50);
  EXPECT_FALSE(a.load.loop);
  ASSERT_EQ(a.load.segments.size(), 2u);
  EXPECT_EQ(a.load.segments[0].to_rps, 0);
  EXPECT_EQ(a.load.segments[1].duration, absl::Seconds(30));
  EXPECT_EQ(a.load.segments[1].to_rps, 50);
  EXPECT_EQ((*specs)[1].ns, "default");
  EXPECT_EQ((*specs)[1].ModelName(), "b");
}

TEST(Scenario, UnknownFieldNamesFileLineFieldAndValue) {
  auto r = ParseScenario("services:\n  - name: a\n    contianer_concurrency: 100\n", "demo.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(r.status()),
              AllOf(HasSubstr("demo.yaml:3:"), HasSubstr("services[0].contianer_concurrency"),
                    HasSubstr("unknown field"), HasSubstr("\"100\"")));
  r = ParseScenario(
      "services:\n  - name: a\n    load:\n      steps:\n        - {duration: 1m, rsp: 3}\n",
      "f.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(Message(r.status()),
              AllOf(HasSubstr("f.yaml:5:"), HasSubstr("services[0].load.steps[0].rsp")));
  r = ParseScenario("services: []\nextra: 1\n", "f.yaml");
  ASSERT_FALSE(r.ok());
  r = ParseScenario("servics:\n  - name: a\n", "f.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(Message(r.status()),
              AllOf(HasSubstr("f.yaml:1:"), HasSubstr("servics"), HasSubstr("unknown field")));
}

TEST(Scenario, BadValuesAreErrorsWithTheValue) {
  struct Case {
    std::string yaml;
    std::string field;
    std::string value;
  };
  const Case cases[] = {
      {"services:\n  - name: a\n    service_time: fast\n", "services[0].service_time", "fast"},
      {"services:\n  - name: a\n    replicas: three\n", "services[0].replicas", "three"},
      {"services:\n  - name: a\n    replicas: 1001\n", "replicas", "1001"},
      {"services:\n  - name: a\n    distribution: normal\n", "services[0].distribution", "normal"},
      {"services:\n  - name: a\n    cpu_request: lots\n", "services[0].cpu_request", "lots"},
      {"services:\n  - name: A_b\n", "name", "A_b"},
      {"services:\n  - name: a\n    load:\n      loop: sometimes\n", "services[0].load.loop",
       "sometimes"},
      {"services:\n  - name: a\n    load:\n      steps:\n        - {duration: 0s, rps: 1}\n",
       "duration", "0"},
      {"services:\n  - name: a\n    load:\n      steps:\n        - {rps: 1}\n", "steps[0].duration",
       ""},
      {"services:\n  - namespace: x\n", "services[0].name", ""},
  };
  for (const Case& c : cases) {
    auto r = ParseScenario(c.yaml, "s.yaml");
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(r.status()),
                AllOf(HasSubstr("s.yaml:"), HasSubstr(c.field), HasSubstr(c.value)))
        << c.yaml;
  }
}

TEST(Scenario, ParsesAnLlmServer) {
  auto r = ParseScenario(R"(
services:
  - name: llm
    container_concurrency: 32
    llm:
      prompt_tokens: 1024
      output_tokens: 128
      prefill_tokens_per_second: 4000
      time_per_output_token: 40ms
      kv_cache_tokens: 65536
  - name: defaults
    llm: {}
  - name: plain
)",
                         "llm.yaml");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE((*r)[0].llm.has_value());
  const LlmSpec& l = *(*r)[0].llm;
  EXPECT_EQ(l.prompt_tokens, 1024);
  EXPECT_EQ(l.output_tokens, 128);
  EXPECT_EQ(l.prefill_tokens_per_second, 4000);
  EXPECT_EQ(l.time_per_output_token, absl::Milliseconds(40));
  EXPECT_EQ(l.kv_cache_tokens, 65536);
  ASSERT_TRUE((*r)[1].llm.has_value());
  EXPECT_EQ((*r)[1].llm->prompt_tokens, LlmSpec{}.prompt_tokens);
  EXPECT_FALSE((*r)[2].llm.has_value());

  for (const auto& [yaml, want] : std::vector<std::pair<std::string, std::string>>{
           {"services:\n  - name: a\n    llm: {prompt_tokens: many}\n", "llm.prompt_tokens"},
           {"services:\n  - name: a\n    llm: {output_tokens: 0}\n", "llm.output_tokens"},
           {"services:\n  - name: a\n    llm: {kv_cache: 5}\n", "unknown field"},
           {"services:\n  - name: a\n    llm: {time_per_output_token: 0s}\n",
            "llm.time_per_output_token"},
           {"services:\n  - name: a\n    llm: 3\n", "expected a mapping"}}) {
    auto bad = ParseScenario(yaml, "s.yaml");
    ASSERT_FALSE(bad.ok()) << yaml;
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(bad.status()), AllOf(HasSubstr("s.yaml:"), HasSubstr(want))) << yaml;
  }
}

TEST(Scenario, MalformedYamlAndMissingFile) {
  auto r = ParseScenario("services: [\n", "bad.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(Message(r.status()), HasSubstr("bad.yaml:"));
  EXPECT_FALSE(ParseScenario("", "e.yaml").ok());
  EXPECT_EQ(LoadScenarioFile("/nonexistent/x.yaml").status().code(), absl::StatusCode::kNotFound);
}

TEST(Scenario, ShippedDemoScenarioLoads) {
  auto r = LoadScenarioFile(std::string(AA_SIM_TESTDATA_DIR) + "/demo.yaml");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_TRUE(Simulator::Create(*r, 1, absl::UnixEpoch()).ok());
}

}  // namespace
}  // namespace aa::sim
