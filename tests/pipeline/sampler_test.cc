#include "pipeline/sampler.h"

#include <cmath>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pipeline/sampler_fixture.h"
#include "pipeline/workload.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "testutil/fake_prometheus.h"

namespace aa::pipeline {
namespace {

using ::aa::testing::FakePrometheus;
using ::aa::testing::VectorOf;
using ::testing::HasSubstr;
using ::testing::Not;

using ::aa::testing::kSamplerWait;

config::Config TestConfig() {
  config::Config c = ::aa::testing::SamplingTestConfig();
  c.source = "test";
  c.sampling.demand_ttl = absl::Minutes(5);
  config::MetricDefinition conc;
  conc.name = "concurrency";
  conc.query = "sum by (<<.GroupBy>>) (rate(lat_sum{<<.LabelMatchers>>}[1m]))";
  conc.namespace_label = "namespace_name";
  conc.pod_label = "pod_name";
  conc.target = 70;
  config::MetricDefinition cpu;
  cpu.name = "cpu";
  cpu.query = "usage{<<.LabelMatchers>>}";
  cpu.baseline_query = "requests{<<.LabelMatchers>>}";
  cpu.target_utilization = 50;
  c.metrics = {conc, cpu};
  c.pod_labels.enabled = false;
  return c;
}

// Answers like a Prometheus holding two namespaces of pods.
class SamplerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    prom_.SetHandler([this](const std::string& q,
                            absl::Time at) -> absl::StatusOr<prom::QueryResult> {
      std::lock_guard lock(mu_);
      if (!error_.ok()) return error_;
      std::vector<std::pair<prom::Labels, double>> rows;
      for (const char* ns : {"a", "b"}) {
        if (!absl::StrContains(q, ns)) continue;
        if (absl::StartsWith(q, "sum by")) {
          rows.push_back({{{"namespace_name", ns}, {"pod_name", std::string(ns) + "-1"}}, conc_});
          rows.push_back(
              {{{"namespace_name", ns}, {"pod_name", std::string(ns) + "-2"}}, 2 * conc_});
        } else if (absl::StartsWith(q, "usage")) {
          rows.push_back({{{"namespace", ns}, {"pod", "p1"}}, 0.25});
          rows.push_back({{{"namespace", ns}, {"pod", "p2"}}, 0.75});
        } else if (absl::StartsWith(q, "requests")) {
          rows.push_back({{{"namespace", ns}, {"pod", "p1"}}, 1});
          rows.push_back({{{"namespace", ns}, {"pod", "p2"}}, 1});
        }
      }
      return VectorOf(rows, at);
    });
  }
  void SetError(absl::Status s) {
    std::lock_guard lock(mu_);
    error_ = std::move(s);
  }
  void SetConcurrency(double v) {
    std::lock_guard lock(mu_);
    conc_ = v;
  }
  // Advances the clock one interval and waits for the round it triggers.
  void NextRound(Sampler& s) { ASSERT_TRUE(::aa::testing::NextSamplerRound(s, clock_)); }

  std::mutex mu_;
  absl::Status error_;
  double conc_ = 10;
  FakePrometheus prom_;
  SimulatedClock clock_;
};

TEST_F(SamplerTest, FirstReadSamplesImmediatelyAndServesPerPodValues) {
  Sampler s(TestConfig(), prom_, clock_, nullptr);
  s.Start();
  auto read = s.Read("concurrency", "a");
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->table->pods.size(), 2u);
  EXPECT_EQ(read->table->pods[0].pod, "a-1");
  EXPECT_EQ(read->table->pods[0].value, 10);
  EXPECT_EQ(read->table->pods[1].value, 20);
  EXPECT_EQ(read->table->pods[0].timestamp_ms, absl::ToUnixMillis(clock_.Now()));
  // The query was restricted to the namespace and grouped by the definition's labels.
  EXPECT_THAT(prom_.queries(),
              ::testing::Contains(
                  "sum by (namespace_name, pod_name) (rate(lat_sum{namespace_name=\"a\"}[1m]))"));
}

TEST_F(SamplerTest, AsksOnlyForTheLabelsItReads) {
  Sampler s(TestConfig(), prom_, clock_, nullptr);
  s.Start();
  ASSERT_TRUE(s.Read("concurrency", "a").ok());
  auto read = s.Read("cpu", "a");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(read->table->pods[0].has_baseline);  // the baseline query keeps its labels too
  const auto queries = prom_.queries();
  const auto options = prom_.query_options();
  size_t checked = 0;
  for (size_t i = 0; i < queries.size(); ++i) {
    const prom::LabelFilter& keep = options[i].keep_labels;
    if (absl::StartsWith(queries[i], "sum by")) {
      EXPECT_EQ(keep, prom::LabelFilter::Only({"namespace_name", "pod_name"})) << queries[i];
      ++checked;
    } else if (absl::StartsWith(queries[i], "usage") || absl::StartsWith(queries[i], "requests")) {
      EXPECT_EQ(keep, prom::LabelFilter::Only({"namespace", "pod"})) << queries[i];
      EXPECT_FALSE(keep.Keeps("instance"));
      ++checked;
    }
  }
  EXPECT_EQ(checked, 3u);
}

TEST_F(SamplerTest, UnrequestedMetricsCostNothing) {
  Sampler s(TestConfig(), prom_, clock_, nullptr);
  s.Start();
  ASSERT_TRUE(s.Read("concurrency", "a").ok());
  for (int i = 0; i < 3; ++i) NextRound(s);
  for (const auto& q : prom_.queries()) EXPECT_THAT(q, ::testing::Not(HasSubstr("usage"))) << q;
}

TEST_F(SamplerTest, OneBatchedQueryPerMetricPerRoundAcrossNamespaces) {
  Sampler s(TestConfig(), prom_, clock_, nullptr);
  s.Start();
  ASSERT_TRUE(s.Read("concurrency", "a").ok());
  ASSERT_TRUE(s.Read("concurrency", "b").ok());
  size_t before = prom_.query_count();
  NextRound(s);
  auto queries = prom_.queries();
  ASSERT_EQ(queries.size(), before + 1);
  EXPECT_THAT(queries.back(), HasSubstr("namespace_name=~\"a|b\""));
  // Many readers add no queries: they read the snapshot.
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(s.Read("concurrency", i % 2 ? "a" : "b").ok());
  EXPECT_EQ(prom_.query_count(), before + 1);
}

TEST_F(SamplerTest, ConcurrentFirstReadsShareOneQuery) {
  Sampler s(TestConfig(), prom_, clock_, nullptr);
  s.Start();
  std::vector<std::thread> readers;
  std::atomic<int> ok{0};
  for (int i = 0; i < 16; ++i) {
    readers.emplace_back([&] { ok += s.Read("concurrency", "a").ok(); });
  }
  for (auto& t : readers) t.join();
  EXPECT_EQ(ok.load(), 16);
  int concurrency_queries = 0;
  for (const auto& q : prom_.queries()) concurrency_queries += absl::StrContains(q, "lat_sum");
  EXPECT_LE(concurrency_queries, 2);  // the first read's query, at most one periodic round
}

TEST_F(SamplerTest, NewValuesAppearAfterTheNextRound) {
  Sampler s(TestConfig(), prom_, clock_, nullptr);
  s.Start();
  ASSERT_TRUE(s.Read("concurrency", "a").ok());
  SetConcurrency(42);
  NextRound(s);
  auto read = s.Read("concurrency", "a");
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->table->pods[0].value, 42);
}

TEST_F(SamplerTest, FailureKeepsLastGoodDataUntilMaxAgeThenRefusesWithReason) {
  Sampler s(TestConfig(), prom_, clock_, nullptr);
  s.Start();
  ASSERT_TRUE(s.Read("concurrency", "a").ok());
  absl::Time good = clock_.Now();
  SetError(absl::UnavailableError("connection refused"));
  NextRound(s);  // +5s: still within maxAge 30s
  auto read = s.Read("concurrency", "a");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->table->sampled_at, good);
  EXPECT_EQ(read->age, absl::Seconds(5));
  for (int i = 0; i < 6; ++i) NextRound(s);  // +35s
  read = s.Read("concurrency", "a");
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(read.status().message()), HasSubstr("stale"));
  EXPECT_THAT(std::string(read.status().message()), HasSubstr("connection refused"));
  EXPECT_THAT(std::string(read.status().message()), HasSubstr("last good sample at"));
  // Prometheus comes back: values return without a restart.
  SetError(absl::OkStatus());
  NextRound(s);
  EXPECT_TRUE(s.Read("concurrency", "a").ok());
}

TEST_F(SamplerTest, FirstSampleFailureIsUnavailableNotEmpty) {
  SetError(absl::UnavailableError("connection refused"));
  Sampler s(TestConfig(), prom_, clock_, nullptr);
  s.Start();
  auto read = s.Read("concurrency", "a");
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(read.status().message()), HasSubstr("connection refused"));
}

TEST_F(SamplerTest, SnapshotAgeIsAbsentUntilTheFirstGoodSample) {
  SetError(absl::UnavailableError("connection refused"));
  prometheus::Registry registry;
  Sampler s(TestConfig(), prom_, clock_, &registry);
  s.Start();
  auto gauges = [&] {
    s.UpdateGauges();
    return prometheus::TextSerializer().Serialize(registry.Collect());
  };
  // Neither before any round nor after failed ones: no -1 or 0 that reads as a value.
  EXPECT_THAT(gauges(), Not(HasSubstr("autoscale_adapter_snapshot_age_seconds{")));
  ASSERT_FALSE(s.Read("concurrency", "a").ok());
  std::string text = gauges();
  EXPECT_THAT(text, Not(HasSubstr("autoscale_adapter_snapshot_age_seconds{")));
  EXPECT_THAT(text, HasSubstr("autoscale_adapter_series_held{metric=\"concurrency\"} 0"));
  SetError(absl::OkStatus());
  NextRound(s);
  clock_.Advance(absl::Seconds(2));
  text = gauges();
  EXPECT_THAT(text, HasSubstr("autoscale_adapter_snapshot_age_seconds{metric=\"concurrency\"} 2"));
  EXPECT_THAT(text, Not(HasSubstr("autoscale_adapter_snapshot_age_seconds{metric=\"cpu\"}")));
}

// The value of the sample `name` (with its labels, if any) in a text exposition; -1 when absent.
double SampleValue(const std::string& text, const std::string& name) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, name + " ")) continue;
    double v;
    if (absl::SimpleAtod(line, &v)) return v;
  }
  return -1;
}

TEST_F(SamplerTest, RoundsAreTimedByTheSamplersClock) {
  // Every query takes 250 ms of the injected clock.
  prom_.SetHandler([&](const std::string&, absl::Time at) -> absl::StatusOr<prom::QueryResult> {
    clock_.Advance(absl::Milliseconds(250));
    return VectorOf({{{{"namespace_name", "a"}, {"pod_name", "x"}}, 1}}, at);
  });
  prometheus::Registry registry;
  Sampler s(TestConfig(), prom_, clock_, &registry);
  s.Start();
  ASSERT_TRUE(s.Read("concurrency", "a").ok());
  NextRound(s);
  const std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
  const double count = SampleValue(text, "autoscale_adapter_sampler_round_duration_seconds_count");
  EXPECT_GE(count, 2);  // the first request's round and the periodic one
  // Each round's duration is its queries' time; together every query's.
  EXPECT_DOUBLE_EQ(SampleValue(text, "autoscale_adapter_sampler_round_duration_seconds_sum"),
                   0.25 * static_cast<double>(prom_.queries().size()));
  EXPECT_EQ(
      SampleValue(text, "autoscale_adapter_sampler_round_duration_seconds_bucket{le=\"0.1\"}"),
      SampleValue(text, "autoscale_adapter_sampler_round_duration_seconds_bucket{le=\"0.01\"}"));
}

TEST_F(SamplerTest, UnknownMetricAndBadNamespace) {
  Sampler s(TestConfig(), prom_, clock_, nullptr);
  s.Start();
  auto unknown = s.Read("nope", "a");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(unknown.status().message()), HasSubstr("concurrency, cpu"));
  for (const std::string& bad :
       std::vector<std::string>{"", "A", "a_b", "-a", "a\"}", std::string(64, 'a')}) {
    EXPECT_EQ(s.Read("concurrency", bad).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
  // Nothing was demanded: at most the sampler's connectivity probe went out, no metric query.
  for (const auto& q : prom_.queries()) EXPECT_EQ(q, "vector(1)");
}

TEST_F(SamplerTest, OneFailingMetricDoesNotStopTheOthers) {
  Sampler s(TestConfig(), prom_, clock_, nullptr);
  s.Start();
  ASSERT_TRUE(s.Read("concurrency", "a").ok());
  ASSERT_TRUE(s.Read("cpu", "a").ok());
  prom_.SetHandler([&](const std::string& q, absl::Time at) -> absl::StatusOr<prom::QueryResult> {
    if (absl::StrContains(q, "lat_sum")) return absl::InvalidArgumentError("bad_data: parse error");
    return VectorOf({{{{"namespace", "a"}, {"pod", "p1"}}, 0.5}}, at);
  });
  for (int i = 0; i < 7; ++i) NextRound(s);
  EXPECT_EQ(s.Read("concurrency", "a").status().code(), absl::StatusCode::kUnavailable);
  auto cpu = s.Read("cpu", "a");
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  EXPECT_EQ(cpu->table->pods[0].value, 0.5);
}

TEST_F(SamplerTest, NonFiniteValuesAreDroppedAndCounted) {
  prom_.SetHandler([&](const std::string&, absl::Time at) -> absl::StatusOr<prom::QueryResult> {
    return VectorOf({{{{"namespace_name", "a"}, {"pod_name", "x"}}, std::nan("")},
                     {{{"namespace_name", "a"}, {"pod_name", "y"}}, INFINITY},
                     {{{"namespace_name", "a"}, {"pod_name", "z"}}, 3}},
                    at);
  });
  prometheus::Registry registry;
  Sampler s(TestConfig(), prom_, clock_, &registry);
  s.Start();
  auto read = s.Read("concurrency", "a");
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->table->pods.size(), 1u);
  EXPECT_EQ(read->table->pods[0].pod, "z");
  EXPECT_EQ(read->table->dropped_non_finite, 2);
  std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
  EXPECT_THAT(text, HasSubstr("autoscale_adapter_sampler_dropped_values_total{metric="
                              "\"concurrency\",reason=\"nan\"} 1"));
}

TEST_F(SamplerTest, DuplicateSeriesPerPodIsAnErrorNotAGuess) {
  prom_.SetHandler([&](const std::string&, absl::Time at) -> absl::StatusOr<prom::QueryResult> {
    return VectorOf({{{{"namespace_name", "a"}, {"pod_name", "x"}, {"code", "200"}}, 1},
                     {{{"namespace_name", "a"}, {"pod_name", "x"}, {"code", "500"}}, 2}},
                    at);
  });
  Sampler s(TestConfig(), prom_, clock_, nullptr);
  s.Start();
  auto read = s.Read("concurrency", "a");
  ASSERT_FALSE(read.ok());
  EXPECT_THAT(std::string(read.status().message()), HasSubstr("more than one series for pod x"));
}

TEST_F(SamplerTest, EmptyAnswerIsAnEmptyTable) {
  prom_.SetHandler([&](const std::string&, absl::Time at) -> absl::StatusOr<prom::QueryResult> {
    return VectorOf({}, at);
  });
  Sampler s(TestConfig(), prom_, clock_, nullptr);
  s.Start();
  auto read = s.Read("concurrency", "a");
  ASSERT_TRUE(read.ok());
  EXPECT_TRUE(read->table->pods.empty());
}

TEST_F(SamplerTest, BaselineJoinsPerPodAndUtilizationIsSumOverSum) {
  Sampler s(TestConfig(), prom_, clock_, nullptr);
  s.Start();
  auto read = s.Read("cpu", "a");
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->table->pods.size(), 2u);
  EXPECT_TRUE(read->table->pods[0].has_baseline);
  WorkloadStats stats =
      Aggregate(*read->definition, *read->table, nullptr, std::nullopt, std::nullopt);
  EXPECT_EQ(stats.pods, 2);
  EXPECT_DOUBLE_EQ(stats.total, 1.0);
  EXPECT_DOUBLE_EQ(stats.baseline_total, 2.0);
  EXPECT_DOUBLE_EQ(*stats.utilization_percent, 50.0);
  EXPECT_EQ(*stats.target_utilization, 50);
}

TEST_F(SamplerTest, DemandExpiresAndTheSlotIsDropped) {
  auto cfg = TestConfig();
  cfg.sampling.demand_ttl = absl::Seconds(20);
  Sampler s(cfg, prom_, clock_, nullptr);
  s.Start();
  ASSERT_TRUE(s.Read("concurrency", "a").ok());
  for (int i = 0; i < 5; ++i) NextRound(s);  // 25 s without a read
  EXPECT_EQ(s.snapshot()->FindSlot({"concurrency", "", "a"}), nullptr);
  size_t before = prom_.query_count();
  NextRound(s);
  // Nothing demanded, nothing queried (probe already succeeded).
  EXPECT_EQ(prom_.query_count(), before);
}

config::MetricDefinition AdhocDef(std::string query, prom::QueryOptions options = {}) {
  config::MetricDefinition def;
  def.adhoc = true;
  def.query = std::move(query);
  def.query_options = std::move(options);
  return def;
}

TEST_F(SamplerTest, AdhocQueriesAreSentAsWrittenOncePerRoundAndShared) {
  prom_.SetHandler([&](const std::string& q, absl::Time at) -> absl::StatusOr<prom::QueryResult> {
    if (q == "sum(x{a=\"b\"})") return VectorOf({{{}, 4}}, at);
    return VectorOf({{{{"job", "j1"}}, 1}, {{{"job", "j2"}}, std::nan("")}}, at);
  });
  prometheus::Registry registry;
  Sampler s(TestConfig(), prom_, clock_, &registry);
  s.Start();
  prom::QueryOptions opts;
  opts.params = {{"namespace", "team-a"}};
  opts.headers = {{"X-Scope-OrgID", "t1"}};
  opts.timeout = absl::Seconds(3);
  auto name = s.DefineAdhoc(AdhocDef("sum(x{a=\"b\"})", opts));
  ASSERT_TRUE(name.ok()) << name.status();
  // The same query, parameters, headers and timeout: the same definition.
  prom::QueryOptions same = opts;
  EXPECT_EQ(*s.DefineAdhoc(AdhocDef("sum(x{a=\"b\"})", same)), *name);
  // Another timeout: another definition (each trigger's timeout applies to its query).
  prom::QueryOptions other_timeout = opts;
  other_timeout.timeout = absl::Seconds(1);
  auto slow = s.DefineAdhoc(AdhocDef("sum(x{a=\"b\"})", other_timeout));
  ASSERT_TRUE(slow.ok());
  EXPECT_NE(*slow, *name);
  // A parameter is not a header of the same name and value.
  prom::QueryOptions as_param;
  as_param.params = {{"X-Scope-OrgID", "t1"}};
  prom::QueryOptions as_header;
  as_header.headers = {{"X-Scope-OrgID", "t1"}};
  EXPECT_NE(*s.DefineAdhoc(AdhocDef("sum(x{a=\"b\"})", as_param)),
            *s.DefineAdhoc(AdhocDef("sum(x{a=\"b\"})", as_header)));
  // Other headers, parameters or query: another one.
  prom::QueryOptions other_tenant = opts;
  other_tenant.headers = {{"X-Scope-OrgID", "t2"}};
  auto other = s.DefineAdhoc(AdhocDef("sum(x{a=\"b\"})", other_tenant));
  ASSERT_TRUE(other.ok());
  EXPECT_NE(*other, *name);
  EXPECT_NE(*s.DefineAdhoc(AdhocDef("sum(x{a=\"c\"})", opts)), *name);
  EXPECT_EQ(s.adhoc_queries(), 6u);
  // Never listed with the served metrics, and no other resource reads it.
  EXPECT_EQ(s.metrics()->definitions.size(), 2u);
  EXPECT_EQ(s.Read(*name, "", config::MetricResource::External()).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(s.Read(*name, "", config::MetricResource::FromName("keda-adhoc")).status().code(),
            absl::StatusCode::kNotFound);

  // Many readers, any namespace asked: one table, one query per round.
  const config::MetricResource adhoc = config::MetricResource::KedaAdhoc();
  auto read = s.Read(*name, "whatever", adhoc);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->table->pods.size(), 1u);
  EXPECT_EQ(read->table->pods[0].value, 4);
  // The sampler's readiness probe of the backend (vector(1)) may run in its first round, before
  // this read; it is not the ad-hoc query's.
  const size_t probes = prom_.query_count() - 1;
  ASSERT_LE(probes, 1u);
  ASSERT_EQ(prom_.query_count(), probes + 1);
  EXPECT_EQ(prom_.queries()[probes], "sum(x{a=\"b\"})");
  const prom::QueryOptions sent = prom_.query_options()[probes];
  EXPECT_EQ(sent.params, opts.params);
  EXPECT_EQ(sent.headers, opts.headers);
  EXPECT_EQ(sent.timeout, absl::Seconds(3));
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(s.Read(*name, "", adhoc).ok());
  EXPECT_EQ(prom_.query_count(), probes + 1);
  NextRound(s);
  EXPECT_EQ(prom_.query_count(), probes + 2);  // the two others were never read: not sampled

  // Non-finite values are counted, as for any external series, under one metric label.
  auto two = s.DefineAdhoc(AdhocDef("two"));
  ASSERT_TRUE(two.ok());
  auto read_two = s.Read(*two, "", adhoc);
  ASSERT_TRUE(read_two.ok());
  EXPECT_EQ(read_two->table->pods.size(), 1u);
  EXPECT_EQ(read_two->table->dropped_non_finite, 1);
  std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
  EXPECT_THAT(text, HasSubstr("autoscale_adapter_sampler_dropped_values_total{metric="
                              "\"keda_adhoc\",reason=\"nan\"} 1"));
  EXPECT_THAT(text, Not(HasSubstr("adhoc-1")));
}

TEST_F(SamplerTest, AdhocQueriesAreBoundedAndExpireWithTheirDemand) {
  prom_.SetHandler([&](const std::string&, absl::Time at) -> absl::StatusOr<prom::QueryResult> {
    return VectorOf({{{}, 1}}, at);
  });
  auto cfg = TestConfig();
  cfg.sampling.demand_ttl = absl::Seconds(20);
  cfg.keda.adhoc_queries.max = 2;
  Sampler s(cfg, prom_, clock_, nullptr);
  s.Start();
  const config::MetricResource adhoc = config::MetricResource::KedaAdhoc();
  auto a = s.DefineAdhoc(AdhocDef("vector(1)"));
  auto b = s.DefineAdhoc(AdhocDef("vector(2)"));
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(s.Read(*a, "", adhoc).ok());
  const size_t queries = prom_.query_count();
  auto c = s.DefineAdhoc(AdhocDef("vector(3)"));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("keda.adhocQueries.max 2"));
  EXPECT_EQ(prom_.query_count(), queries);  // nothing new queried
  // Registered again, the live ones are still admitted.
  EXPECT_EQ(*s.DefineAdhoc(AdhocDef("vector(1)")), *a);

  // 25 s without a read or a registration: both expire with their tables, and room is made.
  for (int i = 0; i < 5; ++i) NextRound(s);
  EXPECT_EQ(s.adhoc_queries(), 0u);
  EXPECT_EQ(s.snapshot()->FindSlot({"keda-adhoc/" + *a, "", ""}), nullptr);
  EXPECT_EQ(s.Read(*a, "", adhoc).status().code(), absl::StatusCode::kNotFound);
  const size_t before = prom_.query_count();
  NextRound(s);
  EXPECT_EQ(prom_.query_count(), before);
  auto d = s.DefineAdhoc(AdhocDef("vector(3)"));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_NE(*d, *a);  // names are never reused
}

TEST_F(SamplerTest, AdhocScalarIsAnErrorAndAMatrixHasNoValues) {
  prom_.SetHandler([&](const std::string& q, absl::Time at) -> absl::StatusOr<prom::QueryResult> {
    prom::QueryResult r;
    if (q == "scalar(x)") {
      r.type = prom::ResultType::kScalar;
      r.samples.push_back({{}, 1, absl::ToUnixMillis(at)});
    } else {
      r.type = prom::ResultType::kMatrix;
      r.series.push_back({{{"job", "a"}}, {{absl::ToUnixMillis(at), 1}}});
    }
    return r;
  });
  Sampler s(TestConfig(), prom_, clock_, nullptr);
  s.Start();
  const config::MetricResource adhoc = config::MetricResource::KedaAdhoc();
  auto scalar = s.Read(*s.DefineAdhoc(AdhocDef("scalar(x)")), "", adhoc);
  EXPECT_EQ(scalar.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(scalar.status().message()), HasSubstr("returned a scalar"));
  auto matrix = s.Read(*s.DefineAdhoc(AdhocDef("x[1m]")), "", adhoc);
  ASSERT_TRUE(matrix.ok()) << matrix.status();
  EXPECT_TRUE(matrix->table->pods.empty());
  EXPECT_EQ(matrix->table->dropped_non_finite, 1);
}

TEST_F(SamplerTest, ReadyAfterEveryWarmMetricSampled) {
  auto cfg = TestConfig();
  cfg.sampling.warm_namespaces = {"a"};
  Sampler s(cfg, prom_, clock_, nullptr);
  EXPECT_FALSE(s.Ready());
  s.Start();
  ASSERT_TRUE(s.WaitForGeneration(1, kSamplerWait));
  EXPECT_TRUE(s.Ready());
  EXPECT_NE(s.snapshot()->FindSlot({"cpu", "", "a"}), nullptr);
}

TEST_F(SamplerTest, NotReadyWhilePrometheusIsDown) {
  SetError(absl::UnavailableError("down"));
  auto cfg = TestConfig();
  cfg.sampling.warm_namespaces = {"a"};
  Sampler s(cfg, prom_, clock_, nullptr);
  s.Start();
  ASSERT_TRUE(s.WaitForGeneration(1, kSamplerWait));
  EXPECT_FALSE(s.Ready());
}

TEST_F(SamplerTest, ListenersSeeEveryPublication) {
  Sampler s(TestConfig(), prom_, clock_, nullptr);
  std::atomic<uint64_t> seen{0};
  uint64_t id =
      s.Subscribe([&](const std::shared_ptr<const Snapshot>& snap) { seen = snap->generation; });
  s.Start();
  ASSERT_TRUE(s.Read("concurrency", "a").ok());
  NextRound(s);
  EXPECT_EQ(seen.load(), s.snapshot()->generation);
  s.Unsubscribe(id);
}

TEST_F(SamplerTest, PodLabelsIndexStripsThePrefix) {
  auto cfg = TestConfig();
  cfg.pod_labels.enabled = true;
  prom_.SetHandler([&](const std::string& q, absl::Time at) -> absl::StatusOr<prom::QueryResult> {
    if (absl::StartsWith(q, "kube_pod_labels")) {
      EXPECT_EQ(q, "kube_pod_labels{namespace=\"a\"}");
      return VectorOf(
          {{{{"namespace", "a"}, {"pod", "a-1"}, {"label_app", "web"}, {"job", "ksm"}}, 1}}, at);
    }
    return VectorOf({{{{"namespace_name", "a"}, {"pod_name", "a-1"}}, 1}}, at);
  });
  Sampler s(cfg, prom_, clock_, nullptr);
  s.Start();
  auto read = s.Read("concurrency", "a");
  ASSERT_TRUE(read.ok());
  const prom::Labels* labels = read->snapshot->FindPodLabels("a", "a-1");
  ASSERT_NE(labels, nullptr);
  EXPECT_EQ(*labels, (prom::Labels{{"app", "web"}}));
}

// A reload: the unchanged definition keeps its table (the very same one, no new query), the
// changed one is sampled afresh with its new query at once, a removed one is NotFound at once and
// its table goes at the next round, a new one is served; the new durations apply.
TEST_F(SamplerTest, ReloadKeepsUnchangedTablesAndStartsChangedOnesAfresh) {
  Sampler s(TestConfig(), prom_, clock_, nullptr);
  s.Start();
  auto conc = s.Read("concurrency", "a");
  ASSERT_TRUE(conc.ok()) << conc.status();
  ASSERT_TRUE(s.Read("cpu", "a").ok());
  const uint64_t generation = s.snapshot()->generation;

  config::Config next = TestConfig();
  next.metrics[1].query = "usage{job=\"x\",<<.LabelMatchers>>}";  // cpu changed
  config::MetricDefinition fresh;
  fresh.name = "fresh";
  fresh.query = "usage{<<.LabelMatchers>>}";
  next.metrics.push_back(fresh);
  next.sampling.interval = absl::Seconds(10);
  next.sampling.max_age = absl::Seconds(40);
  const size_t queries = prom_.query_count();
  s.Reload(next);
  EXPECT_EQ(s.metrics()->definitions.size(), 3u);
  EXPECT_EQ(s.interval(), absl::Seconds(10));
  EXPECT_EQ(s.max_age(), absl::Seconds(40));
  // The changed definition is demanded in "a": a round comes at once and samples it again.
  ASSERT_TRUE(s.WaitForGeneration(generation + 1, kSamplerWait));
  auto cpu = s.Read("cpu", "a");
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  EXPECT_EQ(cpu->definition->query, next.metrics[1].query);
  EXPECT_THAT(prom_.queries(), ::testing::Contains("usage{job=\"x\",namespace=\"a\"}"));
  auto again = s.Read("concurrency", "a");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->table, conc->table);         // kept, not re-sampled
  EXPECT_EQ(prom_.query_count(), queries + 2);  // cpu's query and its baseline only
  ASSERT_TRUE(s.Read("fresh", "b").ok());

  // Removed: NotFound at once, its table gone after the next round.
  next.metrics.erase(next.metrics.begin() + 1);
  s.Reload(next);
  auto gone = s.Read("cpu", "a");
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kNotFound) << gone.status();
  // The next periodic round (the new interval) drops its table.
  const uint64_t before = s.snapshot()->generation;
  clock_.Advance(absl::Seconds(10));
  s.Wake();
  ASSERT_TRUE(s.WaitForGeneration(before + 1, kSamplerWait));
  for (const auto& [key, slot] : s.snapshot()->slots) EXPECT_NE(key.metric, "cpu");
  ASSERT_TRUE(s.Read("concurrency", "a").ok());
}

// Definitions compare by content: a reload of the same file changes nothing.
TEST_F(SamplerTest, ReloadOfTheSameDefinitionsKeepsEverything) {
  Sampler s(TestConfig(), prom_, clock_, nullptr);
  s.Start();
  auto conc = s.Read("concurrency", "a");
  ASSERT_TRUE(conc.ok());
  const size_t queries = prom_.query_count();
  s.Reload(TestConfig());
  NextRound(s);  // periodic: samples concurrency once more, nothing else
  EXPECT_EQ(prom_.query_count(), queries + 1) << ::testing::PrintToString(prom_.queries());
  config::MetricDefinition a = TestConfig().metrics[0];
  config::MetricDefinition b = a;
  EXPECT_EQ(a, b);
  b.target = 71;
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace aa::pipeline
