// Objects selected by labels through the Kubernetes API (the fake kube-apiserver): metadata-only
// paged LISTs with the selector passed through, resource paths, and errors.

#include "kube/object_list.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/fake_apiserver.h"
#include "kube/labeled_objects_test_base.h"

namespace aa::kube {
namespace {

using ::testing::ElementsAre;
using testing::FakeApiServer;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::LabeledObjectsTest;
using testing::MakeObject;
using testing::R;
using testing::Sel;

TEST(CollectionPathTest, CoreAndGroups) {
  EXPECT_EQ(CollectionPath(R("services"), "ns"), "/api/v1/namespaces/ns/services");
  EXPECT_EQ(CollectionPath(R("deployments.apps"), "ns"), "/apis/apps/v1/namespaces/ns/deployments");
  EXPECT_EQ(CollectionPath(R("nodes"), ""), "/api/v1/nodes");
  EXPECT_EQ(CollectionPath(R("namespaces"), ""), "/api/v1/namespaces");
  EXPECT_EQ(CollectionPath(R("ingresses"), "a"),
            "/apis/networking.k8s.io/v1/namespaces/a/ingresses");
  EXPECT_EQ(CollectionPath(R("horizontalpodautoscalers"), "a"),
            "/apis/autoscaling/v2/namespaces/a/horizontalpodautoscalers");
  EXPECT_EQ(CollectionPath(R("jobs"), "a"), "/apis/batch/v1/namespaces/a/jobs");
}

// With a namespace object too (ns, team=a).
class ApiObjectListerTest : public LabeledObjectsTest {
 protected:
  void SetUp() override {
    LabeledObjectsTest::SetUp();
    server_->Upsert("namespaces", MakeObject("", "ns", {{"team", "a"}}));
  }
};

TEST_F(ApiObjectListerTest, ListsMetadataWithTheSelectorInPages) {
  ApiObjectLister lister(*client_, clock_, {.page_size = 2});
  auto names = lister.Select(R("deployments.apps"), "ns", Sel("app.kubernetes.io/name=web,i!=3"));
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_THAT(*names, ElementsAre("web-0", "web-1", "web-2", "web-4"));
  // Two objects a page: 2 pages, the second with the first page's continue token.
  std::vector<testing::FakeRequest> lists;
  for (const auto& r : server_->Requests()) {
    if (r.path == "/apis/apps/v1/namespaces/ns/deployments") lists.push_back(r);
  }
  ASSERT_EQ(lists.size(), 2u);
  EXPECT_EQ(lists[0].Param("labelSelector"), "app.kubernetes.io/name=web,i!=3");
  EXPECT_EQ(lists[0].Param("limit"), "2");
  EXPECT_EQ(lists[0].Param("continue"), "");
  EXPECT_NE(lists[1].Param("continue"), "");
  EXPECT_THAT(lists[0].Header("Accept"), HasSubstr("as=PartialObjectMetadataList"));
  EXPECT_EQ(lister.Describe(R("deployments.apps")), "the Kubernetes API");
}

TEST_F(ApiObjectListerTest, CoreClusterScopedAndNoMatch) {
  ApiObjectLister lister(*client_, clock_);
  EXPECT_THAT(*lister.Select(R("services"), "ns", Sel("app.kubernetes.io/name=web")),
              ElementsAre("web"));
  EXPECT_THAT(*lister.Select(R("nodes"), "", Sel("pool in (gpu)")), ElementsAre("n1"));
  EXPECT_THAT(*lister.Select(R("namespaces"), "", Sel("team=a")), ElementsAre("ns"));
  auto none = lister.Select(R("deployments.apps"), "ns", Sel("app.kubernetes.io/name=nope"));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_THAT(*none, IsEmpty());
}

TEST_F(ApiObjectListerTest, ApiServerErrors) {
  ApiObjectLister lister(*client_, clock_);
  server_->FailNext("GET", "/apis/apps/v1/namespaces/ns/deployments", 403);
  auto denied = lister.Select(R("deployments.apps"), "ns", Sel("a=b"));
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(
      denied.status().message(),
      HasSubstr("the Kubernetes API server failed listing deployments.apps in namespace ns"));
  EXPECT_THAT(denied.status().message(), HasSubstr("403"));
  // A resource the server does not serve (no such API group here).
  auto missing = lister.Select(R("cronjobs.batch"), "ns", Sel("a=b"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("does not serve cronjobs.batch"));
  // An API server that is gone.
  auto dead_client = Client::Create(server_->ClientConfigFor("t"));
  ASSERT_TRUE(dead_client.ok());
  server_.reset();
  ApiObjectLister dead(**dead_client, clock_);
  auto down = dead.Select(R("services"), "ns", Sel("a=b"));
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(down.status().message(), HasSubstr("the Kubernetes API server failed"));
}

TEST_F(ApiObjectListerTest, PagesPastTheTimeBoundFail) {
  // The clock moves 3 s per page (a slow server); the bound is 5 s: the third page is not asked.
  server_->Handle("GET", "/apis/apps/v1/namespaces/slow/deployments",
                  [this](const testing::FakeRequest&) {
                    clock_.Advance(absl::Seconds(3));
                    return testing::FakeResponse{
                        200,
                        {{"kind", "DeploymentList"},
                         {"apiVersion", "apps/v1"},
                         {"metadata", {{"continue", "more"}}},
                         {"items", nlohmann::json::array({{{"metadata", {{"name", "d"}}}}})}}};
                  });
  ApiObjectLister lister(*client_, clock_, {.timeout = absl::Seconds(5)});
  auto names = lister.Select(R("deployments.apps"), "slow", Sel("a=b"));
  ASSERT_FALSE(names.ok());
  EXPECT_EQ(names.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(names.status().message(), HasSubstr("no complete answer within 5s (2 pages"));
}

}  // namespace
}  // namespace aa::kube
