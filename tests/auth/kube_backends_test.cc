// The Kubernetes-backed auth seams against the fake kube-apiserver: TokenReview and
// SubjectAccessReview wire formats, and the extension-apiserver-authentication ConfigMap watch.

#include "auth/kube_backends.h"

#include <functional>
#include <memory>
#include <mutex>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/fake_apiserver.h"
#include "testutil/temp_dir.h"
#include "testutil/tls_certs.h"

namespace aa::auth {
namespace {

using kube::testing::FakeApiServer;
using kube::testing::FakeRequest;
using kube::testing::FakeResponse;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAdapterToken[] = "adapter-sa-token";

class KubeBackendsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto fake = FakeApiServer::Start({.required_token = kAdapterToken});
    ASSERT_TRUE(fake.ok()) << fake.status();
    fake_ = *std::move(fake);
    auto client = kube::Client::Create(fake_->ClientConfigFor(kAdapterToken));
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }
  std::unique_ptr<FakeApiServer> fake_;
  std::unique_ptr<kube::Client> client_;
};

TEST_F(KubeBackendsTest, TokenReview) {
  std::mutex mu;
  json seen;
  fake_->Handle("POST", kube::testing::kTokenReviewPath, [&](const FakeRequest& req) {
    json review = req.Json();
    {
      std::lock_guard lock(mu);
      seen = review;
    }
    if (review["spec"]["token"] == "good") {
      review["status"] = {{"authenticated", true},
                          {"user",
                           {{"username", "system:serviceaccount:kube-system:hpa"},
                            {"uid", "u-1"},
                            {"groups", {"system:serviceaccounts", "system:authenticated"}},
                            {"extra", {{"authentication.kubernetes.io/pod-name", {"p"}}}}}}};
    } else {
      review["status"] = {{"authenticated", false}, {"error", "token expired"}};
    }
    return FakeResponse{201, review};
  });
  KubeTokenReviewer reviewer(*client_);
  auto good = reviewer.Review("good");
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_TRUE(good->authenticated);
  EXPECT_EQ(good->user.name, "system:serviceaccount:kube-system:hpa");
  EXPECT_EQ(good->user.uid, "u-1");
  EXPECT_THAT(good->user.groups, ElementsAre("system:serviceaccounts", "system:authenticated"));
  EXPECT_THAT(good->user.extra["authentication.kubernetes.io/pod-name"], ElementsAre("p"));
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(seen["apiVersion"], "authentication.k8s.io/v1");
    EXPECT_EQ(seen["kind"], "TokenReview");
  }
  auto bad = reviewer.Review("bad");
  ASSERT_TRUE(bad.ok());
  EXPECT_FALSE(bad->authenticated);
  EXPECT_EQ(bad->error, "token expired");
  // The API failing: an error that does not carry the token.
  fake_->FailNext("POST", kube::testing::kTokenReviewPath, 500);
  auto failed = reviewer.Review("s3cr3t");
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(failed.status().message(), Not(HasSubstr("s3cr3t")));
}

TEST_F(KubeBackendsTest, SubjectAccessReviewBodiesAndDecisions) {
  std::mutex mu;
  json seen;
  fake_->Handle("POST", kube::testing::kSubjectAccessReviewPath, [&](const FakeRequest& req) {
    json review = req.Json();
    {
      std::lock_guard lock(mu);
      seen = review;
    }
    const json& spec = review["spec"];
    if (spec["user"] == "alice") {
      review["status"] = {{"allowed", true}, {"reason", "RBAC: allowed by ClusterRoleBinding"}};
    } else if (spec["user"] == "mallory") {
      review["status"] = {{"allowed", false}, {"denied", true}, {"reason", "denied by policy"}};
    } else {
      review["status"] = {{"allowed", false}};
    }
    return FakeResponse{201, review};
  });
  KubeAuthorizer authorizer(*client_);
  net::HttpRequest req;
  req.method = "GET";
  req.path = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/ns/pods/*/concurrency";
  UserInfo alice;
  alice.name = "alice";
  alice.uid = "uid-a";
  alice.groups = {"devs"};
  alice.extra["scopes"] = {"x"};
  auto allowed = authorizer.Authorize(AttributesFor(req, alice));
  ASSERT_TRUE(allowed.ok()) << allowed.status();
  EXPECT_EQ(allowed->decision, Decision::kAllow);
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(seen["apiVersion"], "authorization.k8s.io/v1");
    EXPECT_EQ(seen["kind"], "SubjectAccessReview");
    EXPECT_EQ(seen["spec"]["user"], "alice");
    EXPECT_EQ(seen["spec"]["uid"], "uid-a");
    EXPECT_EQ(seen["spec"]["groups"], json({"devs"}));
    EXPECT_EQ(seen["spec"]["extra"]["scopes"], json({"x"}));
    EXPECT_EQ(seen["spec"]["resourceAttributes"], json({{"namespace", "ns"},
                                                        {"verb", "get"},
                                                        {"group", "custom.metrics.k8s.io"},
                                                        {"version", "v1beta2"},
                                                        {"resource", "pods"},
                                                        {"subresource", "concurrency"},
                                                        {"name", "*"}}));
  }
  UserInfo mallory;
  mallory.name = "mallory";
  req.path = "/apis/external.metrics.k8s.io/v1beta1/namespaces/ns/queue_depth";
  auto denied = authorizer.Authorize(AttributesFor(req, mallory));
  ASSERT_TRUE(denied.ok());
  EXPECT_EQ(denied->decision, Decision::kDeny);
  EXPECT_EQ(denied->reason, "denied by policy");
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(seen["spec"]["resourceAttributes"], json({{"namespace", "ns"},
                                                        {"verb", "list"},
                                                        {"group", "external.metrics.k8s.io"},
                                                        {"version", "v1beta1"},
                                                        {"resource", "queue_depth"}}));
  }
  UserInfo nobody;
  nobody.name = "nobody";
  req.path = "/apis/custom.metrics.k8s.io/v1beta2";
  auto none = authorizer.Authorize(AttributesFor(req, nobody));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->decision, Decision::kNoOpinion);
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(seen["spec"]["nonResourceAttributes"],
              json({{"path", "/apis/custom.metrics.k8s.io/v1beta2"}, {"verb", "get"}}));
    EXPECT_FALSE(seen["spec"].contains("resourceAttributes"));
  }
  fake_->FailNext("POST", kube::testing::kSubjectAccessReviewPath, 503);
  EXPECT_FALSE(authorizer.Authorize(AttributesFor(req, nobody)).ok());
}

// Answers the adapter does not control never throw: wrong types, non-objects, missing fields.
TEST(KubeAnswers, WrongShapesReadAsAbsent) {
  for (const char* text : {R"([1,2])", R"("x")", R"(null)", R"({"status":"yes"})",
                           R"({"status":{"authenticated":"true","user":[]}})",
                           R"({"status":{"allowed":1,"denied":"no","reason":7}})"}) {
    json j = json::parse(text);
    auto review = ParseTokenReview(j);
    ASSERT_TRUE(review.ok()) << text;
    EXPECT_FALSE(review->authenticated) << text;
    EXPECT_EQ(ParseSubjectAccessReview(j).decision, Decision::kNoOpinion) << text;
    EXPECT_TRUE(ConfigMapData(j).empty()) << text;
  }
  json no_name = json::parse(R"({"status":{"authenticated":true,"user":{"username":5}}})");
  EXPECT_EQ(ParseTokenReview(no_name).status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(ConfigMapData(json::parse(R"({"data":{"a":"x","b":1,"c":null}})")),
              ElementsAre(::testing::Pair("a", "x")));
}

// A path and a user name with invalid UTF-8 (from a client) reach the SubjectAccessReview as
// U+FFFD instead of making the JSON writer throw.
TEST_F(KubeBackendsTest, InvalidUtf8InAReviewIsReplacedNotThrown) {
  std::mutex mu;
  json seen;
  fake_->Handle("POST", kube::testing::kSubjectAccessReviewPath, [&](const FakeRequest& req) {
    json review = req.Json();
    {
      std::lock_guard lock(mu);
      seen = review;
    }
    review["status"] = {{"allowed", false}};
    return FakeResponse{201, review};
  });
  KubeAuthorizer authorizer(*client_);
  Attributes a;
  a.user.name = "bob\xff";
  a.verb = "get";
  a.path = "/apis/\xc3\x28";
  auto decision = authorizer.Authorize(a);
  ASSERT_TRUE(decision.ok()) << decision.status();
  std::lock_guard lock(mu);
  EXPECT_EQ(seen["spec"]["user"], "bob\xef\xbf\xbd");
  EXPECT_EQ(seen["spec"]["nonResourceAttributes"]["path"], "/apis/\xef\xbf\xbd(");
}

// An answer of the wrong shape (here a list instead of the ConfigMap, then a watch event without
// an object) is read as an empty ConfigMap; it used to abort the process.
TEST_F(KubeBackendsTest, NonObjectConfigMapAnswerDoesNotAbort) {
  fake_->Handle("GET", kube::testing::kAuthConfigMapPath, [](const FakeRequest&) {
    return FakeResponse{200, json::array({1, 2})};
  });
  TrustStore store;
  AuthConfigMapWatcher watcher(*client_, TrustFlags{}, store);
  EXPECT_TRUE(watcher.Start().ok());
  EXPECT_EQ(watcher.applied(), 1);
  EXPECT_FALSE(store.Get()->request_header.has_value());
  watcher.Stop();
}

class ConfigMapWatchTest : public KubeBackendsTest {
 protected:
  void SetUp() override {
    KubeBackendsTest::SetUp();
    auto a = testutil::TestCa::Create(dir_.path(), "a", "front-proxy-ca");
    auto b = testutil::TestCa::Create(dir_.path(), "b", "kubernetes-ca");
    ASSERT_TRUE(a.ok() && b.ok());
    a_pem_ = a->cert_pem();
    b_pem_ = b->cert_pem();
  }
  void PutConfigMap(const std::map<std::string, std::string>& data) {
    fake_->Upsert("configmaps", kube::testing::MakeConfigMap(
                                    "kube-system", "extension-apiserver-authentication", data));
  }
  testutil::TempDir dir_;
  std::string a_pem_, b_pem_;
  TrustStore store_;
};

TEST_F(ConfigMapWatchTest, FollowsTheConfigMap) {
  PutConfigMap({{"requestheader-client-ca-file", a_pem_},
                {"requestheader-allowed-names", "[\"front-proxy-client\"]"},
                {"client-ca-file", b_pem_}});
  AuthConfigMapWatcher watcher(*client_, TrustFlags{}, store_);
  ASSERT_TRUE(watcher.Start().ok());
  auto trust = store_.Get();
  ASSERT_TRUE(trust->request_header.has_value());
  EXPECT_THAT(trust->request_header->allowed_names, ElementsAre("front-proxy-client"));
  ASSERT_NE(trust->client_ca, nullptr);
  ASSERT_TRUE(fake_->WaitForOpenWatches("configmaps", 1));

  // A change arrives through the watch.
  PutConfigMap({{"requestheader-client-ca-file", a_pem_},
                {"requestheader-allowed-names", "[\"aggregator\"]"}});
  ASSERT_TRUE(watcher.WaitForApplied(2, absl::Seconds(10)));
  trust = store_.Get();
  EXPECT_THAT(trust->request_header->allowed_names, ElementsAre("aggregator"));
  EXPECT_EQ(trust->client_ca, nullptr);

  // Malformed data is refused; the previous trust stays.
  PutConfigMap({{"requestheader-client-ca-file", "garbage"}});
  ASSERT_TRUE(watcher.WaitForApplied(3, absl::Seconds(10)));
  EXPECT_THAT(store_.Get()->request_header->allowed_names, ElementsAre("aggregator"));

  // Waits for the watcher to reach a state (each step waits for one more ConfigMap state).
  auto eventually = [&](const std::function<bool()>& condition) {
    for (int i = 0; i < 50 && !condition(); ++i) {
      watcher.WaitForApplied(watcher.applied() + 1, absl::Milliseconds(200));
    }
    return condition();
  };

  // 410 Gone under the watch: relist, then keep following.
  fake_->Compact();
  fake_->ExpireWatches("configmaps");
  PutConfigMap({{"requestheader-client-ca-file", a_pem_}});
  EXPECT_TRUE(eventually([&] {
    auto t = store_.Get();
    return t->request_header.has_value() && t->request_header->allowed_names.empty();
  }));

  // Deleted: only the flags (nothing) remain.
  fake_->Delete("configmaps", "kube-system", "extension-apiserver-authentication");
  EXPECT_TRUE(eventually([&] { return !store_.Get()->request_header.has_value(); }));
  watcher.Stop();
}

TEST_F(ConfigMapWatchTest, MissingConfigMapLeavesTheFlags) {
  TrustFlags flags;
  flags.client_ca_file = dir_.WriteFile("client-ca.crt", b_pem_);
  AuthConfigMapWatcher watcher(*client_, flags, store_);
  EXPECT_TRUE(watcher.Start().ok());
  auto trust = store_.Get();
  ASSERT_NE(trust->client_ca, nullptr);
  EXPECT_FALSE(trust->request_header.has_value());
  // Created later: picked up by the watch, the flag's client CA still wins.
  ASSERT_TRUE(fake_->WaitForOpenWatches("configmaps", 1));
  PutConfigMap({{"requestheader-client-ca-file", a_pem_}, {"client-ca-file", a_pem_}});
  ASSERT_TRUE(watcher.WaitForApplied(2, absl::Seconds(10)));
  trust = store_.Get();
  EXPECT_TRUE(trust->request_header.has_value());
  EXPECT_EQ(trust->client_ca->source(), flags.client_ca_file);
}

TEST_F(ConfigMapWatchTest, UnreadableConfigMapIsRetried) {
  fake_->FailNext("GET", kube::testing::kAuthConfigMapPath, 403, 1);
  PutConfigMap({{"requestheader-client-ca-file", a_pem_}});
  AuthConfigMapWatcher watcher(*client_, TrustFlags{}, store_);
  absl::Status first = watcher.Start();
  EXPECT_FALSE(first.ok());
  EXPECT_FALSE(store_.Get()->request_header.has_value());
  // The background loop lists again after its backoff (1 s).
  ASSERT_TRUE(watcher.WaitForApplied(1, absl::Seconds(10)));
  EXPECT_TRUE(store_.Get()->request_header.has_value());
}

}  // namespace
}  // namespace aa::auth
