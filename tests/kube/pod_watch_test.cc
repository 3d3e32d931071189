#include "kube/pod_watch.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/fake_apiserver.h"

namespace aa::kube {
namespace {

using ::testing::ElementsAre;
using testing::FakeApiServer;
using testing::MakePod;
using ::testing::Pair;
using Stats = PodWatch::Stats;

class PodWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = FakeApiServer::Start({.required_token = "sa-token"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    auto client = Client::Create(server_->ClientConfigFor("sa-token"));
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }

  std::unique_ptr<PodWatch> StartWatch(PodWatchOptions options = {}) {
    options.jitter = 0;
    auto watch = std::make_unique<PodWatch>(*client_, clock_, options);
    watch->Start();
    return watch;
  }

  std::vector<std::string> Names(const PodWatch& watch, std::string_view ns) {
    std::vector<std::string> out;
    auto pods = watch.Pods(ns);
    if (!pods) return {"<not synced>"};
    for (const auto& [name, pod] : pods->pods) out.push_back(name);
    return out;
  }

  // The resourceVersion parameter of the n-th watch request (0-based).
  std::string WatchVersion(int n) {
    int i = 0;
    for (const auto& r : server_->Requests()) {
      if (r.Param("watch") != "1") continue;
      if (i++ == n) return r.Param("resourceVersion");
    }
    return "<none>";
  }

  SimulatedClock clock_;
  std::unique_ptr<FakeApiServer> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(PodWatchTest, ListsThenFollowsAddModifyDelete) {
  server_->Upsert("pods", MakePod({.ns = "a", .name = "a-1", .labels = {{"app", "x"}}}));
  server_->Upsert("pods", MakePod({.ns = "b", .name = "b-1"}));
  auto watch = StartWatch();
  EXPECT_EQ(watch->Pods("a"), nullptr);  // may still be null; the assertion below waits
  ASSERT_TRUE(watch->WaitFor([](const Stats& s) { return s.lists == 1 && s.watches == 1; }));
  ASSERT_TRUE(server_->WaitForOpenWatches("pods", 1));
  EXPECT_TRUE(watch->Synced());
  EXPECT_THAT(Names(*watch, "a"), ElementsAre("a-1"));
  EXPECT_THAT(Names(*watch, "b"), ElementsAre("b-1"));
  EXPECT_THAT(Names(*watch, "none"), ElementsAre());
  EXPECT_EQ(WatchVersion(0), absl::StrCat(server_->resource_version()));
  auto requests = server_->Requests();
  EXPECT_EQ(requests[0].path, "/api/v1/pods");
  EXPECT_EQ(requests[0].Param("limit"), "500");
  EXPECT_EQ(requests[1].Param("allowWatchBookmarks"), "true");
  EXPECT_EQ(requests[1].Param("timeoutSeconds"), "300");

  auto before = watch->Pods("a");
  server_->Upsert("pods", MakePod({.ns = "a", .name = "a-2", .phase = "Pending", .ready = false}));
  server_->Upsert("pods", MakePod({.ns = "a", .name = "a-1", .labels = {{"app", "y"}}}));
  server_->Delete("pods", "b", "b-1");
  ASSERT_TRUE(watch->WaitFor([](const Stats& s) { return s.events == 3; }));
  EXPECT_THAT(Names(*watch, "a"), ElementsAre("a-1", "a-2"));
  EXPECT_THAT(Names(*watch, "b"), ElementsAre());
  EXPECT_THAT(watch->Find("a", "a-1")->labels, ElementsAre(Pair("app", "y")));
  EXPECT_EQ(watch->Find("a", "a-2")->phase, "Pending");
  EXPECT_FALSE(watch->Find("a", "a-2")->ready);
  EXPECT_FALSE(watch->Find("b", "b-1").has_value());
  EXPECT_EQ(watch->stats().resource_version, absl::StrCat(server_->resource_version()));
  EXPECT_EQ(watch->size(), 2u);
  // A table handed out before is not changed under its reader.
  EXPECT_THAT(before->pods.at("a-1").labels, ElementsAre(Pair("app", "x")));
  EXPECT_EQ(before->pods.size(), 1u);
}

TEST_F(PodWatchTest, BookmarkMovesTheResourceVersionAndTheWatchResumesFromIt) {
  server_->Upsert("pods", MakePod({.ns = "a", .name = "a-1"}));
  // A pod in another namespace changes: a namespaced watch sees no event, only the bookmark.
  auto watch = StartWatch({.ns = "a"});
  ASSERT_TRUE(server_->WaitForOpenWatches("pods", 1));
  int64_t rv = server_->Upsert("pods", MakePod({.ns = "b", .name = "b-1"}));
  ASSERT_EQ(server_->Bookmark("pods"), 1);
  ASSERT_TRUE(watch->WaitFor([](const Stats& s) { return s.bookmarks == 1; }));
  EXPECT_EQ(watch->stats().resource_version, absl::StrCat(rv));
  EXPECT_EQ(watch->stats().events, 0);

  // The server ends the stream (timeoutSeconds): the next watch starts from the bookmark.
  ASSERT_EQ(server_->CloseWatches("pods"), 1);
  ASSERT_TRUE(
      server_->WaitForRequests("GET", "/api/v1/namespaces/a/pods", 2, FakeApiServer::Kind::kWatch));
  EXPECT_EQ(WatchVersion(1), absl::StrCat(rv));
  EXPECT_EQ(watch->stats().lists, 1);
  EXPECT_EQ(server_->Requests()[0].path, "/api/v1/namespaces/a/pods");
  EXPECT_THAT(Names(*watch, "a"), ElementsAre("a-1"));
  EXPECT_THAT(Names(*watch, "b"), ElementsAre());
}

TEST_F(PodWatchTest, GoneAsErrorEventRelists) {
  server_->Upsert("pods", MakePod({.ns = "a", .name = "a-1"}));
  auto watch = StartWatch();
  ASSERT_TRUE(server_->WaitForOpenWatches("pods", 1));
  ASSERT_EQ(server_->ExpireWatches("pods"), 1);
  ASSERT_TRUE(watch->WaitFor([](const Stats& s) { return s.gone == 1 && s.lists == 2; }));
  EXPECT_TRUE(IsGone(watch->stats().last_error));
  EXPECT_EQ(server_->CountRequests("GET", "/api/v1/pods", FakeApiServer::Kind::kNonWatch), 2);
  EXPECT_EQ(watch->stats().backoff_until, absl::InfinitePast());  // no backoff for a 410
  // The relisted state is served and followed.
  ASSERT_TRUE(server_->WaitForOpenWatches("pods", 1));
  server_->Upsert("pods", MakePod({.ns = "a", .name = "a-2"}));
  ASSERT_TRUE(watch->WaitFor([](const Stats& s) { return s.events == 1; }));
  EXPECT_THAT(Names(*watch, "a"), ElementsAre("a-1", "a-2"));
}

TEST_F(PodWatchTest, GoneAsHttp410RelistsAndDropsPodsDeletedMeanwhile) {
  server_->Upsert("pods", MakePod({.ns = "a", .name = "a-1"}));
  server_->Upsert("pods", MakePod({.ns = "a", .name = "a-2"}));
  auto watch = StartWatch();
  ASSERT_TRUE(server_->WaitForOpenWatches("pods", 1));
  // The stream ends; before the watch resumes, history is compacted past a deletion it never saw.
  server_->SetGoneMode(testing::GoneMode::kHttp);
  server_->FailNext("GET", "/api/v1/pods", 410, 1, /*watch_only=*/true);
  server_->CloseWatches("pods");
  ASSERT_TRUE(watch->WaitFor([](const Stats& s) { return s.gone == 1; }));
  ASSERT_TRUE(watch->WaitFor([](const Stats& s) { return s.lists == 2; }));
  EXPECT_EQ(HttpStatusOf(watch->stats().last_error), 410);
  ASSERT_TRUE(server_->WaitForOpenWatches("pods", 1));
  server_->Delete("pods", "a", "a-2");
  ASSERT_TRUE(watch->WaitFor([](const Stats& s) { return s.events == 1; }));
  EXPECT_THAT(Names(*watch, "a"), ElementsAre("a-1"));
}

TEST_F(PodWatchTest, ListErrorsBackOffOnTheInjectedClock) {
  server_->Upsert("pods", MakePod({.ns = "a", .name = "a-1"}));
  server_->FailNext("GET", "/api/v1/pods", 500, 2);
  absl::Time t0 = clock_.Now();
  auto watch = StartWatch({.initial_backoff = absl::Seconds(1), .max_backoff = absl::Seconds(3)});
  ASSERT_TRUE(
      watch->WaitFor([&](const Stats& s) { return s.backoff_until == t0 + absl::Seconds(1); }));
  EXPECT_EQ(watch->stats().list_failures, 1);
  EXPECT_EQ(watch->stats().last_error.code(), absl::StatusCode::kInternal);
  EXPECT_FALSE(watch->Synced());
  EXPECT_EQ(watch->Pods("a"), nullptr);
  // Nothing happens until the clock moves.
  watch->Wake();
  EXPECT_FALSE(
      watch->WaitFor([](const Stats& s) { return s.list_failures == 2; }, absl::Milliseconds(200)));
  clock_.Advance(absl::Seconds(1));
  watch->Wake();
  ASSERT_TRUE(
      watch->WaitFor([&](const Stats& s) { return s.backoff_until == t0 + absl::Seconds(3); }));
  EXPECT_EQ(watch->stats().list_failures, 2);
  clock_.Advance(absl::Seconds(2));
  watch->Wake();
  ASSERT_TRUE(watch->WaitFor([](const Stats& s) { return s.lists == 1; }));
  EXPECT_TRUE(watch->Synced());
  EXPECT_THAT(Names(*watch, "a"), ElementsAre("a-1"));
}

TEST_F(PodWatchTest, WatchErrorsBackOffThenResumeWithoutRelisting) {
  auto watch = StartWatch({.initial_backoff = absl::Seconds(2)});
  ASSERT_TRUE(server_->WaitForOpenWatches("pods", 1));
  int64_t rv = server_->Upsert("pods", MakePod({.ns = "a", .name = "a-1"}));
  ASSERT_TRUE(watch->WaitFor([](const Stats& s) { return s.events == 1; }));
  server_->FailNext("GET", "/api/v1/pods", 503, 1, /*watch_only=*/true);
  server_->CloseWatches("pods");
  absl::Time t0 = clock_.Now();
  ASSERT_TRUE(
      watch->WaitFor([&](const Stats& s) { return s.backoff_until == t0 + absl::Seconds(2); }));
  EXPECT_EQ(watch->stats().watch_failures, 1);
  EXPECT_EQ(watch->stats().last_error.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Names(*watch, "a"), ElementsAre("a-1"));  // still served during the backoff
  clock_.Advance(absl::Seconds(2));
  watch->Wake();
  ASSERT_TRUE(server_->WaitForOpenWatches("pods", 1));
  EXPECT_EQ(watch->stats().lists, 1);
  EXPECT_EQ(WatchVersion(2), absl::StrCat(rv));  // after the normal end and the 503
}

TEST_F(PodWatchTest, BadTokenIsAFailureWithBackoff) {
  auto client = Client::Create(server_->ClientConfigFor("wrong"));
  ASSERT_TRUE(client.ok());
  PodWatch watch(**client, clock_, {.jitter = 0});
  watch.Start();
  ASSERT_TRUE(watch.WaitFor([](const Stats& s) { return s.list_failures == 1; }));
  EXPECT_EQ(watch.stats().last_error.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_FALSE(watch.Synced());
  watch.Stop();
}

TEST_F(PodWatchTest, PagedList) {
  for (int i = 0; i < 5; ++i) {
    server_->Upsert("pods", MakePod({.ns = "a", .name = absl::StrCat("p-", i)}));
  }
  auto watch = StartWatch({.list_page_size = 2});
  ASSERT_TRUE(watch->WaitFor([](const Stats& s) { return s.lists == 1; }));
  EXPECT_THAT(Names(*watch, "a"), ElementsAre("p-0", "p-1", "p-2", "p-3", "p-4"));
  EXPECT_EQ(server_->CountRequests("GET", "/api/v1/pods", FakeApiServer::Kind::kNonWatch), 3);
}

// After its first list the index keeps serving while the watch fails, but once it went without a
// successful list or an open watch for longer than max_staleness it reports itself stale, until a
// watch is accepted again.
TEST_F(PodWatchTest, StaleAfterFailingLongerThanMaxStaleness) {
  server_->Upsert("pods", MakePod({.ns = "a", .name = "a-1"}));
  auto watch = StartWatch({.initial_backoff = absl::Seconds(1),
                           .max_backoff = absl::Seconds(1),
                           .max_staleness = absl::Minutes(2)});
  ASSERT_TRUE(server_->WaitForOpenWatches("pods", 1));
  server_->Upsert("pods", MakePod({.ns = "b", .name = "b-1"}));
  ASSERT_TRUE(watch->WaitFor([](const Stats& s) { return s.events == 1; }));
  clock_.Advance(absl::Minutes(10));  // an open watch is current however long it runs
  EXPECT_TRUE(watch->SyncStatus().ok()) << watch->SyncStatus();
  // The stream ends (at t0) and the next three watches are refused.
  const absl::Time t0 = clock_.Now();
  server_->FailNext("GET", "/api/v1/pods", 503, 3, /*watch_only=*/true);
  server_->CloseWatches("pods");
  // Each step waits until the backoff has read the clock before moving it.
  auto backing_off = [&](int failures, absl::Time until) {
    return watch->WaitFor(
        [&](const Stats& s) { return s.watch_failures == failures && s.backoff_until == until; });
  };
  ASSERT_TRUE(backing_off(1, t0 + absl::Seconds(1)));
  clock_.Advance(absl::Seconds(1));
  watch->Wake();
  ASSERT_TRUE(backing_off(2, t0 + absl::Seconds(2)));
  EXPECT_TRUE(watch->SyncStatus().ok()) << watch->SyncStatus();  // failing for 1 s only
  EXPECT_TRUE(watch->StaleStatus().ok());
  clock_.Advance(absl::Minutes(2));
  watch->Wake();
  ASSERT_TRUE(backing_off(3, t0 + absl::Minutes(2) + absl::Seconds(2)));
  absl::Status stale = watch->SyncStatus();
  EXPECT_EQ(stale.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(stale.message()),
              ::testing::HasSubstr("the pod index is stale: no successful list or watch"));
  EXPECT_THAT(std::string(stale.message()), ::testing::HasSubstr("2m1s"));
  EXPECT_THAT(std::string(stale.message()), ::testing::HasSubstr("--pod-watch-max-staleness 2m"));
  EXPECT_THAT(std::string(stale.message()), ::testing::HasSubstr("HTTP 503"));
  EXPECT_EQ(watch->StaleStatus().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(clock_.Now() - t0, absl::Minutes(2) + absl::Seconds(1));
  EXPECT_THAT(Names(*watch, "a"), ElementsAre("a-1"));  // still there for who does not mind
  // The next watch is accepted: current again.
  clock_.Advance(absl::Seconds(1));
  watch->Wake();
  ASSERT_TRUE(server_->WaitForOpenWatches("pods", 1));
  server_->Upsert("pods", MakePod({.ns = "a", .name = "a-2"}));
  ASSERT_TRUE(watch->WaitFor([](const Stats& s) { return s.events == 2; }));
  EXPECT_EQ(watch->stats().watches, 5);
  EXPECT_TRUE(watch->SyncStatus().ok()) << watch->SyncStatus();
}

// Before the first list there is no index to be stale: SyncStatus waits, StaleStatus is OK (the
// sampler falls back to kube_pod_labels meanwhile).
TEST_F(PodWatchTest, NotStaleBeforeTheFirstList) {
  server_->FailNext("GET", "/api/v1/pods", 500, 100);
  auto watch = StartWatch({.max_staleness = absl::Seconds(1)});
  ASSERT_TRUE(watch->WaitFor([](const Stats& s) { return s.list_failures == 1; }));
  clock_.Advance(absl::Minutes(5));
  EXPECT_THAT(std::string(watch->SyncStatus().message()),
              ::testing::HasSubstr("waiting for the first list"));
  EXPECT_TRUE(watch->StaleStatus().ok());
}

}  // namespace
}  // namespace aa::kube
