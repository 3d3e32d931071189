// A round's queries run concurrently up to sampling.maxConcurrentQueries: one slow metric does not
// delay the others, the limit holds, 1 is sequential, and a round still publishes one snapshot.

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pipeline/sampler.h"
#include "pipeline/sampler_fixture.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "testutil/fake_prometheus.h"

namespace aa::pipeline {
namespace {

using ::aa::testing::FakePrometheus;
using ::aa::testing::kSamplerWait;
using ::aa::testing::VectorOf;
using ::testing::HasSubstr;

// Metrics m0..m<n-1> (query `m<i>{...}`), sampled from the start in namespace "a".
config::Config Metrics(int n, int64_t max_concurrent_queries) {
  config::Config c = ::aa::testing::SamplingTestConfig();
  c.source = "test";
  c.pod_labels.enabled = false;
  c.sampling.warm_namespaces = {"a"};
  c.sampling.max_concurrent_queries = max_concurrent_queries;
  for (int i = 0; i < n; ++i) {
    config::MetricDefinition def;
    def.name = absl::StrCat("m", i);
    def.query = absl::StrCat("m", i, "{<<.LabelMatchers>>}");
    c.metrics.push_back(def);
  }
  return c;
}

// A Prometheus whose queries can be held: each answers one pod with value i for metric m<i>, once
// the test lets it (Hold/Release), and which records how many queries were in flight at most.
class HeldPrometheus {
 public:
  HeldPrometheus() {
    prom_.SetHandler(
        [this](const std::string& q, absl::Time at) -> absl::StatusOr<prom::QueryResult> {
          const std::string metric = q.substr(0, q.find('{'));
          std::unique_lock lock(mu_);
          ++in_flight_;
          peak_ = std::max(peak_, in_flight_);
          threads_.insert(std::this_thread::get_id());
          entered_.insert(metric);
          if (in_flight_ >= wait_for_) wait_for_ = 0;  // reached: from now on nobody waits for it
          cv_.notify_all();
          cv_.wait(lock, [&] { return !held_.contains(metric) && in_flight_ >= wait_for_; });
          --in_flight_;
          answered_.insert(metric);
          cv_.notify_all();
          return VectorOf({{{{"namespace", "a"}, {"pod", "p"}}, std::stod(metric.substr(1))}}, at);
        });
  }
  // Queries of `metric` wait until Release(metric).
  void Hold(const std::string& metric) {
    std::lock_guard lock(mu_);
    held_.insert(metric);
  }
  void Release(const std::string& metric) {
    std::lock_guard lock(mu_);
    held_.erase(metric);
    cv_.notify_all();
  }
  // Queries wait until this many are in flight (reached once, then every query passes).
  void WaitForInFlight(int n) {
    std::lock_guard lock(mu_);
    wait_for_ = n;
  }
  // Waits (real time, bounded) until `pred` holds under the lock.
  template <typename Pred>
  bool Await(Pred pred) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, absl::ToChronoNanoseconds(kSamplerWait), [&] { return pred(); });
  }
  bool Answered(const std::string& metric) const { return answered_.contains(metric); }
  bool Entered(const std::string& metric) const { return entered_.contains(metric); }
  int peak() {
    std::lock_guard lock(mu_);
    return peak_;
  }
  size_t threads() {
    std::lock_guard lock(mu_);
    return threads_.size();
  }
  void ReleaseEverything() {
    std::lock_guard lock(mu_);
    held_.clear();
    wait_for_ = 0;
    cv_.notify_all();
  }

  FakePrometheus prom_;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> held_;
  std::set<std::string> entered_;
  std::set<std::string> answered_;
  std::set<std::thread::id> threads_;
  int in_flight_ = 0;
  int peak_ = 0;
  int wait_for_ = 0;
};

TEST(ParallelRoundsTest, OneSlowMetricDoesNotDelayTheOthersOfItsRound) {
  HeldPrometheus prom;
  prom.Hold("m0");
  SimulatedClock clock;
  Sampler s(Metrics(3, /*max_concurrent_queries=*/4), prom.prom_, clock, nullptr);
  s.Start();
  // While m0's query hangs, the round's other queries run and answer.
  ASSERT_TRUE(
      prom.Await([&] { return prom.Entered("m0") && prom.Answered("m1") && prom.Answered("m2"); }));
  EXPECT_FALSE(prom.Answered("m0"));
  // Nothing is published before the whole round is done: one snapshot per round.
  EXPECT_EQ(s.snapshot()->generation, 0u);
  prom.Release("m0");
  ASSERT_TRUE(s.WaitForGeneration(1, kSamplerWait));
  std::shared_ptr<const Snapshot> snap = s.snapshot();
  EXPECT_EQ(snap->generation, 1u);
  for (int i = 0; i < 3; ++i) {
    const Slot* slot = snap->FindSlot(SlotKey{absl::StrCat("m", i), "", "a"});
    ASSERT_NE(slot, nullptr) << i;
    ASSERT_NE(slot->table, nullptr) << i;
    ASSERT_EQ(slot->table->pods.size(), 1u);
    EXPECT_EQ(slot->table->pods[0].value, i);
  }
  s.Stop();
}

TEST(ParallelRoundsTest, NeverMoreQueriesAtOnceThanTheLimit) {
  HeldPrometheus prom;
  prom.WaitForInFlight(2);  // the first queries wait for each other: the limit is reached
  SimulatedClock clock;
  prometheus::Registry registry;
  Sampler s(Metrics(6, /*max_concurrent_queries=*/2), prom.prom_, clock, &registry);
  s.Start();
  ASSERT_TRUE(s.WaitForGeneration(1, kSamplerWait));
  EXPECT_EQ(prom.peak(), 2);
  EXPECT_EQ(prom.prom_.query_count(), 6u);
  EXPECT_EQ(s.snapshot()->slots.size(), 6u);
  // The self-metrics count every query of the round, whichever thread ran it.
  EXPECT_THAT(prometheus::TextSerializer().Serialize(registry.Collect()),
              HasSubstr("autoscale_adapter_sampler_round_queries 6"));
  // Later rounds too.
  ASSERT_TRUE(::aa::testing::NextSamplerRound(s, clock));
  EXPECT_EQ(prom.peak(), 2);
  EXPECT_EQ(prom.prom_.query_count(), 12u);
  s.Stop();
}

TEST(ParallelRoundsTest, OneMeansOneQueryAtATimeOnTheSamplingThread) {
  HeldPrometheus prom;
  prom.Hold("m0");
  SimulatedClock clock;
  Sampler s(Metrics(4, /*max_concurrent_queries=*/1), prom.prom_, clock, nullptr);
  s.Start();
  ASSERT_TRUE(prom.Await([&] { return prom.Entered("m0"); }));
  // m0 comes first and holds the round: nobody else has been asked.
  EXPECT_EQ(prom.prom_.query_count(), 1u);
  prom.Release("m0");
  ASSERT_TRUE(s.WaitForGeneration(1, kSamplerWait));
  ASSERT_TRUE(::aa::testing::NextSamplerRound(s, clock));
  EXPECT_EQ(prom.peak(), 1);
  EXPECT_EQ(prom.threads(), 1u);  // the sampling thread, round after round
  EXPECT_EQ(
      prom.prom_.queries(),
      (std::vector<std::string>{"m0{namespace=\"a\"}", "m1{namespace=\"a\"}", "m2{namespace=\"a\"}",
                                "m3{namespace=\"a\"}", "m0{namespace=\"a\"}", "m1{namespace=\"a\"}",
                                "m2{namespace=\"a\"}", "m3{namespace=\"a\"}"}));
  s.Stop();
}

TEST(ParallelRoundsTest, StopWhileAQueryHangsEndsOnceItAnswers) {
  HeldPrometheus prom;
  prom.Hold("m1");
  SimulatedClock clock;
  auto s = std::make_unique<Sampler>(Metrics(3, 4), prom.prom_, clock, nullptr);
  s->Start();
  ASSERT_TRUE(prom.Await([&] { return prom.Entered("m1"); }));
  std::thread stopper([&] { s->Stop(); });
  prom.ReleaseEverything();
  stopper.join();
  s.reset();
}

}  // namespace
}  // namespace aa::pipeline
