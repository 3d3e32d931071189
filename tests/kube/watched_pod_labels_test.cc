#include "kube/watched_pod_labels.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/fake_apiserver.h"

namespace aa::kube {
namespace {

using testing::FakeApiServer;
using testing::MakePod;
using Stats = PodWatch::Stats;

TEST(WatchedPodLabelsTest, RealKeysExistingPodsOnlyAndCachedUntilChanged) {
  auto server = FakeApiServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  auto client = Client::Create((*server)->ClientConfigFor(""));
  ASSERT_TRUE(client.ok()) << client.status();
  SimulatedClock clock;
  PodWatch watch(**client, clock, {.jitter = 0});
  WatchedPodLabels source(watch, clock);
  EXPECT_EQ(source.PodLabels("a"), nullptr);  // not synced: the sampler falls back

  (*server)->Upsert(
      "pods", MakePod({.ns = "a",
                       .name = "web-1",
                       .labels = {{"serving.kserve.io/inferenceservice", "web"}, {"app", "web"}}}));
  (*server)->Upsert(
      "pods",
      MakePod(
          {.ns = "a", .name = "pending", .phase = "Pending", .ready = false, .start_time = ""}));
  (*server)->Upsert("pods", MakePod({.ns = "a", .name = "failed", .phase = "Failed"}));
  nlohmann::json deleting = MakePod({.ns = "a", .name = "deleting"});
  deleting["metadata"]["deletionTimestamp"] = "2026-11-28T10:01:00Z";
  (*server)->Upsert("pods", deleting);
  watch.Start();
  ASSERT_TRUE(watch.WaitFor([](const Stats& s) { return s.lists == 1; }));

  auto table = source.PodLabels("a");
  ASSERT_NE(table, nullptr);
  EXPECT_TRUE(table->from_kubernetes);
  EXPECT_EQ(table->sampled_at, clock.Now());
  ASSERT_EQ(table->pods.size(), 2u);  // Failed and terminating pods are left out
  EXPECT_EQ(table->pods.at("web-1"),
            (prom::Labels{{"app", "web"}, {"serving.kserve.io/inferenceservice", "web"}}));
  EXPECT_TRUE(table->pods.at("pending").empty());
  EXPECT_EQ(source.PodLabels("a"), table);  // unchanged: the same table
  auto other = source.PodLabels("other");
  ASSERT_NE(other, nullptr);
  EXPECT_TRUE(other->pods.empty());

  ASSERT_TRUE((*server)->WaitForOpenWatches("pods", 1));
  (*server)->Delete("pods", "a", "pending");
  ASSERT_TRUE(watch.WaitFor([](const Stats& s) { return s.events == 1; }));
  auto changed = source.PodLabels("a");
  EXPECT_NE(changed, table);
  EXPECT_EQ(changed->pods.size(), 1u);
  EXPECT_EQ(table->pods.size(), 2u);  // the old table is untouched
  watch.Stop();
}

TEST(WatchedPodLabelsTest, HasPodsCachesNothingAndForgetDropsTheTable) {
  auto server = FakeApiServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  (*server)->Upsert("pods", MakePod({.ns = "a", .name = "web-1"}));
  auto client = Client::Create((*server)->ClientConfigFor(""));
  ASSERT_TRUE(client.ok()) << client.status();
  SimulatedClock clock;
  PodWatch watch(**client, clock, {.jitter = 0});
  WatchedPodLabels source(watch, clock);
  EXPECT_FALSE(source.HasPods("a"));  // not synced
  watch.Start();
  ASSERT_TRUE(watch.WaitFor([](const Stats& s) { return s.lists == 1; }));
  EXPECT_TRUE(source.HasPods("a"));
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(source.HasPods("invented-" + std::to_string(i)));
  EXPECT_EQ(source.cached_namespaces(), 0u);
  ASSERT_NE(source.PodLabels("a"), nullptr);
  ASSERT_NE(source.PodLabels("b"), nullptr);
  EXPECT_EQ(source.cached_namespaces(), 2u);
  source.Forget("b");
  source.Forget("never-cached");
  EXPECT_EQ(source.cached_namespaces(), 1u);
  EXPECT_EQ(source.PodLabels("a")->pods.size(), 1u);
  watch.Stop();
}

}  // namespace
}  // namespace aa::kube
