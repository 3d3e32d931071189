// Objects selected by labels from the watch cache (the fake kube-apiserver counts the requests):
// many requests cost one LIST and one WATCH, watch events change the answers, 410 Gone lists again,
// a resource nobody asks for is never listed, and the cache falls back to a LIST per request when
// it cannot answer (too many objects, stale, not served).

#include "kube/object_watch.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/fake_apiserver.h"
#include "kube/labeled_objects_test_base.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace aa::kube {
namespace {

using ::testing::ElementsAre;
using testing::FakeApiServer;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::LabeledObjectsTest;
using testing::MakeObject;
using ::testing::Not;
using testing::R;
using testing::Sel;
using Kind = FakeApiServer::Kind;
using Stats = ObjectWatchCache::Stats;

constexpr char kDeployments[] = "/apis/apps/v1/deployments";  // every namespace
constexpr char kNsDeployments[] = "/apis/apps/v1/namespaces/";

class ObjectWatchTest : public LabeledObjectsTest {
 protected:
  ObjectWatchOptions Options() {
    ObjectWatchOptions o;
    o.list_page_size = 2;
    o.jitter = 0;
    return o;
  }
  std::vector<std::string> Names(ObjectWatchCache& cache, std::string_view resource,
                                 std::string_view ns, std::string_view selector) {
    auto names = cache.Select(R(resource), ns, Sel(selector));
    EXPECT_TRUE(names.ok()) << names.status();
    return names.ok() ? *names : std::vector<std::string>{};
  }
  // Waits until the informer of `resource` applied `events` events in total.
  bool EventsSeen(ObjectWatchCache& cache, std::string_view resource, int events) {
    return cache.WaitFor(resource, [events](const Stats& s) { return s.events >= events; });
  }
};

TEST_F(ObjectWatchTest, ManyRequestsCostOneListAndOneWatch) {
  ObjectWatchCache cache(*client_, clock_, Options());
  EXPECT_EQ(cache.informers(), 0u);  // lazy: nothing before the first request
  EXPECT_EQ(server_->CountRequests("GET", "/apis/apps/v1"), 0);
  for (int i = 0; i < 50; ++i) {
    EXPECT_THAT(Names(cache, "deployments.apps", "ns", "app.kubernetes.io/name=web,i!=3"),
                ElementsAre("web-0", "web-1", "web-2", "web-4"));
    EXPECT_THAT(Names(cache, "deployments.apps", "other", "app.kubernetes.io/name=web"),
                ElementsAre("web-x"));
    EXPECT_THAT(Names(cache, "deployments.apps", "nowhere", ""), IsEmpty());
  }
  ASSERT_TRUE(server_->WaitForOpenWatches("deployments.apps", 1));
  // One paged LIST of every namespace (7 objects, 2 a page: 4 pages), one WATCH, no LIST of a
  // namespace.
  EXPECT_EQ(server_->CountRequests("GET", kDeployments, Kind::kNonWatch), 4);
  EXPECT_EQ(server_->CountRequests("GET", kDeployments, Kind::kWatch), 1);
  EXPECT_EQ(server_->CountRequests("GET", kNsDeployments), 0);
  auto stats = cache.stats("deployments.apps");
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->lists, 1);
  EXPECT_EQ(stats->watches, 1);
  EXPECT_EQ(stats->objects, 7u);
  // Metadata only: the list asks for PartialObjectMetadataList, the watch for
  // PartialObjectMetadata, from the list's resourceVersion.
  for (const auto& r : server_->Requests()) {
    if (r.path != kDeployments) continue;
    if (r.Param("watch").empty()) {
      EXPECT_THAT(r.Header("Accept"),
                  HasSubstr("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"));
    } else {
      EXPECT_THAT(r.Header("Accept"),
                  HasSubstr("application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"));
      EXPECT_EQ(r.Param("resourceVersion"), stats->resource_version);
      EXPECT_EQ(r.Param("allowWatchBookmarks"), "true");
    }
  }
  // Cluster-scoped resources too; a resource nobody asks for (services) is never listed.
  EXPECT_THAT(Names(cache, "nodes", "", "pool=gpu"), ElementsAre("n1"));
  EXPECT_EQ(cache.informers(), 2u);
  EXPECT_EQ(server_->CountRequests("GET", "/api/v1/services"), 0);
  EXPECT_EQ(server_->CountRequests("GET", "/api/v1/namespaces/ns/services"), 0);
}

TEST_F(ObjectWatchTest, WatchEventsChangeTheAnswer) {
  ObjectWatchCache cache(*client_, clock_, Options());
  EXPECT_THAT(Names(cache, "deployments.apps", "ns", "app.kubernetes.io/name=api"),
              ElementsAre("api"));
  ASSERT_TRUE(server_->WaitForOpenWatches("deployments.apps", 1));
  // ADDED
  server_->Upsert("deployments.apps",
                  MakeObject("ns", "api-2", {{"app.kubernetes.io/name", "api"}}));
  ASSERT_TRUE(EventsSeen(cache, "deployments.apps", 1));
  EXPECT_THAT(Names(cache, "deployments.apps", "ns", "app.kubernetes.io/name=api"),
              ElementsAre("api", "api-2"));
  // MODIFIED: its labels no longer match
  server_->Upsert("deployments.apps", MakeObject("ns", "api", {{"app.kubernetes.io/name", "old"}}));
  ASSERT_TRUE(EventsSeen(cache, "deployments.apps", 2));
  EXPECT_THAT(Names(cache, "deployments.apps", "ns", "app.kubernetes.io/name=api"),
              ElementsAre("api-2"));
  // DELETED
  server_->Delete("deployments.apps", "ns", "api-2");
  ASSERT_TRUE(EventsSeen(cache, "deployments.apps", 3));
  EXPECT_THAT(Names(cache, "deployments.apps", "ns", "app.kubernetes.io/name=api"), IsEmpty());
  EXPECT_EQ(cache.stats("deployments.apps")->objects, 7u);
  // Still the one list.
  EXPECT_EQ(cache.stats("deployments.apps")->lists, 1);
}

TEST_F(ObjectWatchTest, GoneListsAgain) {
  for (bool http : {false, true}) {
    SCOPED_TRACE(http ? "HTTP 410" : "ERROR event");
    ObjectWatchCache cache(*client_, clock_, Options());
    EXPECT_THAT(Names(cache, "nodes", "", ""), ElementsAre("n1", "n2"));
    ASSERT_TRUE(server_->WaitForOpenWatches("nodes", 1));
    if (http) {
      // The watch ends; the next one is refused with an HTTP 410 Status.
      server_->FailNext("GET", "/api/v1/nodes", 410, 1, /*watch_only=*/true);
      EXPECT_GE(server_->CloseWatches("nodes"), 1);
    } else {
      // History compacted under the running watch: an ERROR event with code 410.
      server_->Compact();
      EXPECT_GE(server_->ExpireWatches("nodes"), 1);
    }
    ASSERT_TRUE(cache.WaitFor("nodes", [](const Stats& s) { return s.gone >= 1 && s.lists >= 2; }))
        << cache.stats("nodes")->last_error;
    // The new list's watch follows changes again.
    ASSERT_TRUE(server_->WaitForOpenWatches("nodes", 1));
    server_->Upsert("nodes", MakeObject("", "n3", {{"pool", "gpu"}}));
    ASSERT_TRUE(EventsSeen(cache, "nodes", 1));
    EXPECT_THAT(Names(cache, "nodes", "", "pool=gpu"), ElementsAre("n1", "n3"));
    EXPECT_EQ(cache.stats("nodes")->gone, 1);
    server_->Delete("nodes", "", "n3");
  }
}

TEST_F(ObjectWatchTest, TooManyObjectsFallBackToAListPerRequest) {
  ObjectWatchOptions o = Options();
  o.max_objects = 5;  // 7 deployments
  ObjectWatchCache cache(*client_, clock_, o);
  for (int i = 0; i < 3; ++i) {
    EXPECT_THAT(Names(cache, "deployments.apps", "ns", "app.kubernetes.io/name=api"),
                ElementsAre("api"));
  }
  EXPECT_TRUE(cache.stats("deployments.apps")->gave_up);
  EXPECT_EQ(cache.stats("deployments.apps")->objects, 0u);
  EXPECT_EQ(server_->CountRequests("GET", "/apis/apps/v1/namespaces/ns/deployments"), 3);
  EXPECT_EQ(server_->CountRequests("GET", kDeployments, Kind::kWatch), 0);
  // Nodes (2) are cached.
  EXPECT_THAT(Names(cache, "nodes", "", "pool=cpu"), ElementsAre("n2"));
  EXPECT_FALSE(cache.stats("nodes")->gave_up);
}

TEST_F(ObjectWatchTest, AResourceTheServerDoesNotServeIsNotFoundAtOnce) {
  ObjectWatchCache cache(*client_, clock_, Options());  // the fake serves no batch/v1
  auto names = cache.Select(R("jobs"), "ns", Sel("a=b"));
  EXPECT_EQ(names.status().code(), absl::StatusCode::kNotFound) << names.status();
  EXPECT_EQ(cache.stats("jobs.batch")->list_failures, 1);
}

TEST_F(ObjectWatchTest, AFailingApiServerIsUnavailableUntilTheInformerLists) {
  ObjectWatchCache cache(*client_, clock_, Options());
  // The informer's first list and the request's own LIST are refused.
  server_->FailNext("GET", "/apis/apps/v1/", 403, 2);
  auto names = cache.Select(R("deployments.apps"), "ns", Sel("app.kubernetes.io/name=api"));
  EXPECT_EQ(names.status().code(), absl::StatusCode::kUnavailable) << names.status();
  EXPECT_THAT(std::string(names.status().message()),
              HasSubstr("the Kubernetes API server failed listing deployments.apps"));
  // After its backoff (however far it got when the clock moves) the informer lists, and answers.
  bool listed = false;
  for (int i = 0; i < 50 && !listed; ++i) {
    clock_.Advance(absl::Seconds(2));
    cache.Wake();
    listed = cache.WaitFor(
        "deployments.apps", [](const Stats& s) { return s.lists == 1; }, absl::Milliseconds(200));
  }
  ASSERT_TRUE(listed);
  EXPECT_THAT(Names(cache, "deployments.apps", "ns", "app.kubernetes.io/name=api"),
              ElementsAre("api"));
  EXPECT_EQ(cache.stats("deployments.apps")->list_failures, 1);
}

TEST_F(ObjectWatchTest, AStaleCacheFallsBackToAListPerRequest) {
  ObjectWatchOptions o = Options();
  o.max_staleness = absl::Minutes(2);
  ObjectWatchCache cache(*client_, clock_, o);
  EXPECT_THAT(Names(cache, "nodes", "", "pool=gpu"), ElementsAre("n1"));
  ASSERT_TRUE(server_->WaitForOpenWatches("nodes", 1));
  // Every further watch is refused (RBAC without watch); the open one ends.
  server_->FailNext("GET", "/api/v1/nodes", 403, 1000, /*watch_only=*/true);
  EXPECT_EQ(server_->CloseWatches("nodes"), 1);
  ASSERT_TRUE(cache.WaitFor("nodes", [](const Stats& s) { return s.watch_failures >= 1; }));
  // Within max_staleness the cache answers (no LIST).
  const int lists = server_->CountRequests("GET", "/api/v1/nodes", Kind::kNonWatch);
  EXPECT_THAT(Names(cache, "nodes", "", "pool=gpu"), ElementsAre("n1"));
  EXPECT_EQ(server_->CountRequests("GET", "/api/v1/nodes", Kind::kNonWatch), lists);
  // Past it, each request is a LIST (which sees a node the cache missed).
  server_->Upsert("nodes", MakeObject("", "n5", {{"pool", "gpu"}}));
  clock_.Advance(absl::Minutes(3));
  EXPECT_THAT(Names(cache, "nodes", "", "pool=gpu"), ElementsAre("n1", "n5"));
  EXPECT_EQ(server_->CountRequests("GET", "/api/v1/nodes", Kind::kNonWatch), lists + 1);
}

TEST_F(ObjectWatchTest, AtMostMaxResourcesInformers) {
  ObjectWatchOptions o = Options();
  o.max_resources = 1;
  ObjectWatchCache cache(*client_, clock_, o);
  EXPECT_THAT(Names(cache, "nodes", "", "pool=gpu"), ElementsAre("n1"));
  EXPECT_THAT(Names(cache, "services", "ns", "app.kubernetes.io/name=web"), ElementsAre("web"));
  EXPECT_EQ(cache.informers(), 1u);
  EXPECT_EQ(server_->CountRequests("GET", "/api/v1/namespaces/ns/services"), 1);  // a LIST
  EXPECT_EQ(server_->CountRequests("GET", "/api/v1/services"), 0);
}

// The self-metrics on /metrics: objects held, lists, relists after 410 Gone, and each request a
// LIST answered instead of the cache, with the reason.
TEST_F(ObjectWatchTest, SelfMetricsCountObjectsListsRelistsAndFallbacks) {
  prometheus::Registry registry;
  ObjectWatchOptions o = Options();
  o.max_objects = 5;    // 7 deployments
  o.max_resources = 2;  // nodes and deployments; services are LISTed
  o.registry = &registry;
  ObjectWatchCache cache(*client_, clock_, o);
  EXPECT_THAT(Names(cache, "nodes", "", "pool=gpu"), ElementsAre("n1"));
  EXPECT_THAT(Names(cache, "deployments.apps", "ns", "app.kubernetes.io/name=api"),
              ElementsAre("api"));
  EXPECT_THAT(Names(cache, "services", "ns", "app.kubernetes.io/name=web"), ElementsAre("web"));
  EXPECT_THAT(Names(cache, "services", "ns", "app.kubernetes.io/name=web"), ElementsAre("web"));
  ASSERT_TRUE(server_->WaitForOpenWatches("nodes", 1));
  server_->Compact();
  EXPECT_GE(server_->ExpireWatches("nodes"), 1);
  ASSERT_TRUE(cache.WaitFor("nodes", [](const Stats& s) { return s.gone >= 1 && s.lists >= 2; }));
  const std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
  EXPECT_THAT(text, HasSubstr("autoscale_adapter_object_watch_objects{resource=\"nodes\"} 2"));
  EXPECT_THAT(text,
              HasSubstr("autoscale_adapter_object_watch_objects{resource=\"deployments.apps\"} 0"));
  EXPECT_THAT(text, HasSubstr("autoscale_adapter_object_watch_lists_total{outcome=\"success\","
                              "resource=\"nodes\"} 2"));
  EXPECT_THAT(text, HasSubstr("autoscale_adapter_object_watch_lists_total{outcome=\"failure\","
                              "resource=\"deployments.apps\"} 1"));
  EXPECT_THAT(text,
              HasSubstr("autoscale_adapter_object_watch_relists_total{resource=\"nodes\"} 1"));
  EXPECT_THAT(text, HasSubstr("autoscale_adapter_object_watch_fallbacks_total{reason=\"too_many_"
                              "objects\",resource=\"deployments.apps\"} 1"));
  EXPECT_THAT(text, HasSubstr("autoscale_adapter_object_watch_fallbacks_total{reason=\"too_many_"
                              "resources\",resource=\"services\"} 2"));
  for (const char* reason : {"not_synced", "stale", "stopped"}) {
    EXPECT_THAT(text, Not(HasSubstr(absl::StrCat("fallbacks_total{reason=\"", reason))));
  }
}

}  // namespace
}  // namespace aa::kube
