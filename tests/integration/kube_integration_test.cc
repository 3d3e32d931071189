// End to end with the Kubernetes pod watch: the simulator, a real Prometheus scraping it, the fake
// kube-apiserver (in this process), and the adapter binary started with --kubeconfig pointing at
// the fake. The fake's pods carry labels kube-state-metrics never exported (real keys with dots and
// slashes, a "team" label); the adapter's custom.metrics API must select pods by them, follow label
// changes through the watch, and leave out pods that exist but have no sample yet, saying so. With
// the Kubernetes API, labelSelector on Deployments is served from a watch cache of the fake's
// Deployments.

#include <fstream>
#include <map>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "demo/stack.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "integration/integration_util.h"
#include "kube/client.h"
#include "kube/fake_apiserver.h"
#include "net/call.h"
#include "net/url.h"
#include "nlohmann/json.hpp"
#include "testutil/temp_dir.h"

namespace aa {
namespace {

using integration::GetJson;
using kube::testing::FakeApiServer;
using kube::testing::FakeRequest;
using kube::testing::FakeResponse;
using kube::testing::MakeObject;
using kube::testing::MakePod;
using nlohmann::json;
using ::testing::HasSubstr;

constexpr char kNamespace[] = "kserve-test";
constexpr char kAdapterToken[] = "adapter-service-account-token";
constexpr char kClientToken[] = "hpa-token";
constexpr char kIsvcLabel[] = "serving.kserve.io/inferenceservice";

constexpr char kAdapterConfig[] = R"(
sampling:
  interval: 2s
  maxAge: 30s
  warmNamespaces: [kserve-test]
metrics:
- name: cpu
  preset: {type: cpu, window: 30s}
  targetUtilization: 50
rules:
- seriesQuery: '{__name__="kube_deployment_status_replicas",namespace!="",deployment!=""}'
  resources:
    overrides:
      namespace: {resource: namespace}
      deployment: {group: apps, resource: deployment}
  name: {matches: "^kube_(.*)$", as: "${1}"}
  metricsQuery: sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)
)";

class KubeIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto fake = FakeApiServer::Start({.required_token = kAdapterToken});
    ASSERT_TRUE(fake.ok()) << fake.status();
    fake_ = fake->release();
    // Should the HTTPS port authenticate and authorize callers through the API, let ours in.
    fake_->Handle("POST", kube::testing::kTokenReviewPath, [](const FakeRequest& req) {
      json review = req.Json();
      bool ok = review["spec"]["token"] == kClientToken;
      review["status"] = {{"authenticated", ok}};
      if (ok)
        review["status"]["user"] = {{"username", "hpa"}, {"groups", {"system:authenticated"}}};
      return FakeResponse{201, review};
    });
    fake_->Handle("POST", kube::testing::kSubjectAccessReviewPath, [](const FakeRequest& req) {
      json review = req.Json();
      review["status"] = {{"allowed", true}};
      return FakeResponse{201, review};
    });
    dir_ = new testutil::TempDir();
    std::string kubeconfig = dir_->WriteFile("kubeconfig", fake_->Kubeconfig(kAdapterToken));

    demo::StackOptions options = integration::StackOptionsFor(kAdapterConfig);
    options.adapter_args = {"--kubeconfig=" + kubeconfig, "--pod_source=kubernetes"};
    auto stack = demo::Stack::Start(options);
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = stack->release();

    // The simulator's pods, as kube-state-metrics exports them: name -> InferenceService.
    for (int i = 0; i < 60 && pods_.empty(); ++i) {
      json j = GetJson(stack_->prometheus_port(),
                       absl::StrCat("/api/v1/query?query=",
                                    net::UrlEncode(absl::StrCat("kube_pod_labels{namespace=\"",
                                                                kNamespace, "\"}"))));
      for (const auto& s : j["data"]["result"]) {
        pods_[s["metric"]["pod"].get<std::string>()] =
            s["metric"]["label_serving_kserve_io_inferenceservice"].get<std::string>();
      }
      if (pods_.empty()) absl::SleepFor(absl::Milliseconds(500));
    }
    ASSERT_FALSE(pods_.empty());
    for (const auto& [pod, isvc] : pods_) isvcs_.insert(isvc);
    ASSERT_GE(isvcs_.size(), 2u);
    blue_isvc_ = *isvcs_.begin();
    // The pods as the Kubernetes API shows them: real label keys, and a label kube-state-metrics
    // never saw.
    for (const auto& [pod, isvc] : pods_) {
      fake_->Upsert("pods", MakePod({.ns = kNamespace,
                                     .name = pod,
                                     .labels = {{kIsvcLabel, isvc},
                                                {"app.kubernetes.io/part-of", "demo"},
                                                {"team", isvc == blue_isvc_ ? "blue" : "red"}}}));
    }
  }
  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
    delete fake_;
    fake_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(stack_, nullptr);
    ASSERT_NE(fake_, nullptr);
    MakeClient();
  }

  static void MakeClient() {
    if (client_ != nullptr) return;
    kube::ClientConfig config;
    config.server = absl::StrCat("https://127.0.0.1:", stack_->adapter_https_port());
    config.insecure_skip_tls_verify = true;  // the adapter's self-signed certificate
    config.token = kClientToken;
    auto client = kube::Client::Create(config);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = client->release();
  }

  static absl::StatusOr<json> CpuFor(const std::string& selector) {
    return client_->GetJson(absl::StrCat("/apis/custom.metrics.k8s.io/v1beta2/namespaces/",
                                         kNamespace,
                                         "/pods/*/cpu?labelSelector=", net::UrlEncode(selector)));
  }

  static std::set<std::string> Names(const json& list) {
    std::set<std::string> out;
    for (const auto& item : list["items"]) {
      out.insert(item["describedObject"]["name"].get<std::string>());
    }
    return out;
  }

  static std::set<std::string> PodsOf(const std::string& isvc) {
    std::set<std::string> out;
    for (const auto& [pod, i] : pods_) {
      if (i == isvc) out.insert(pod);
    }
    return out;
  }

  // Polls (bounded: the adapter takes the watch's labels at its next sampling round) until
  // `selector` selects exactly `want` (none: the 404 "no metrics returned"); returns the last set
  // seen.
  static std::set<std::string> WaitForSelection(const std::string& selector,
                                                const std::set<std::string>& want) {
    std::set<std::string> got;
    for (int i = 0; i < 60; ++i) {
      auto list = CpuFor(selector);
      if (list.ok()) {
        got = Names(*list);
      } else if (kube::HttpStatusOf(list.status()) == 404 &&
                 absl::StrContains(list.status().message(), "no metrics returned")) {
        got.clear();
      } else {
        got = {absl::StrCat("<", list.status().message(), ">")};
      }
      if (got == want) break;
      absl::SleepFor(absl::Milliseconds(500));
    }
    return got;
  }

  static FakeApiServer* fake_;
  static testutil::TempDir* dir_;
  static demo::Stack* stack_;
  static kube::Client* client_;
  static std::map<std::string, std::string> pods_;
  static std::set<std::string> isvcs_;
  static std::string blue_isvc_;
};

FakeApiServer* KubeIntegrationTest::fake_ = nullptr;
testutil::TempDir* KubeIntegrationTest::dir_ = nullptr;
demo::Stack* KubeIntegrationTest::stack_ = nullptr;
kube::Client* KubeIntegrationTest::client_ = nullptr;
std::map<std::string, std::string> KubeIntegrationTest::pods_;
std::set<std::string> KubeIntegrationTest::isvcs_;
std::string KubeIntegrationTest::blue_isvc_;

TEST_F(KubeIntegrationTest, TheAdapterListsAndWatchesPodsWithItsCredentials) {
  ASSERT_TRUE(fake_->WaitForRequests("GET", "/api/v1/pods", 1, FakeApiServer::Kind::kWatch,
                                     absl::Seconds(30)));
  bool listed = false;
  for (const FakeRequest& r : fake_->Requests()) {
    if (r.path != "/api/v1/pods") continue;
    EXPECT_EQ(r.bearer_token, kAdapterToken);
    if (r.Param("watch").empty()) {
      listed = true;
      EXPECT_EQ(r.Param("limit"), "500");
    } else {
      EXPECT_EQ(r.Param("allowWatchBookmarks"), "true");
      EXPECT_FALSE(r.Param("resourceVersion").empty());
    }
  }
  EXPECT_TRUE(listed);
}

TEST_F(KubeIntegrationTest, ReadyzChecksThePodWatchAndPrometheus) {
  // Polls (bounded): ready once Prometheus answered and the pod watch listed.
  ASSERT_TRUE(demo::WaitForHttp(stack_->adapter_port(), "/readyz", 200, absl::Seconds(60)).ok());
  auto verbose = net::HttpCall("GET", "127.0.0.1", stack_->adapter_port(), "/readyz?verbose");
  ASSERT_TRUE(verbose.ok()) << verbose.status();
  EXPECT_EQ(verbose->status, 200);
  EXPECT_EQ(verbose->body, "[+]prometheus ok\n[+]pod-watch ok\nreadyz check passed\n");
  auto one = net::HttpCall("GET", "127.0.0.1", stack_->adapter_port(), "/readyz/pod-watch");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->status, 200);
}

TEST_F(KubeIntegrationTest, LabelSelectorUsesTheWatchedLabels) {
  // "team" exists only in the Kubernetes API, not in kube_pod_labels.
  std::set<std::string> blue = PodsOf(blue_isvc_);
  EXPECT_EQ(WaitForSelection("team=blue", blue), blue);
  // Real keys with dots and slashes, set-based selectors.
  EXPECT_EQ(WaitForSelection(absl::StrCat(kIsvcLabel, "=", blue_isvc_), blue), blue);
  std::set<std::string> all;
  for (const auto& [pod, isvc] : pods_) all.insert(pod);
  EXPECT_EQ(WaitForSelection("app.kubernetes.io/part-of=demo,team in (blue,red)", all), all);
  // The values are Prometheus' (checked elsewhere); here only that they are there and positive.
  auto list = CpuFor("team=blue");
  ASSERT_TRUE(list.ok()) << list.status();
  for (const auto& item : (*list)["items"]) {
    EXPECT_EQ(item["metric"]["name"], "cpu");
    EXPECT_FALSE(item["value"].get<std::string>().empty());
  }
}

TEST_F(KubeIntegrationTest, RelabelingAPodThroughTheApiChangesTheSelection) {
  std::set<std::string> blue = PodsOf(blue_isvc_);
  ASSERT_EQ(WaitForSelection("team=blue", blue), blue);
  std::string moved = *blue.begin();
  fake_->Upsert("pods", MakePod({.ns = kNamespace,
                                 .name = moved,
                                 .labels = {{kIsvcLabel, blue_isvc_}, {"team", "green"}}}));
  std::set<std::string> rest = blue;
  rest.erase(moved);
  EXPECT_EQ(WaitForSelection("team=blue", rest), rest);
  EXPECT_EQ(WaitForSelection("team=green", {moved}), std::set<std::string>{moved});
  // Back as it was, for the other tests.
  fake_->Upsert("pods", MakePod({.ns = kNamespace,
                                 .name = moved,
                                 .labels = {{kIsvcLabel, blue_isvc_},
                                            {"app.kubernetes.io/part-of", "demo"},
                                            {"team", "blue"}}}));
  EXPECT_EQ(WaitForSelection("team=blue", blue), blue);
}

TEST_F(KubeIntegrationTest, PodsWithoutSamplesAreLeftOutAndExplained) {
  // A pod that exists but Prometheus has nothing for (just scheduled).
  fake_->Upsert("pods", MakePod({.ns = kNamespace,
                                 .name = "just-scheduled-0",
                                 .labels = {{"team", "blue"}, {"stage", "new"}},
                                 .phase = "Pending",
                                 .ready = false,
                                 .start_time = ""}));
  std::set<std::string> blue = PodsOf(blue_isvc_);
  // It matches team=blue but is not in the answer: the HPA counts it as missing.
  EXPECT_EQ(WaitForSelection("team=blue", blue), blue);
  absl::Status status;
  for (int i = 0; i < 60; ++i) {
    status = CpuFor("stage=new").status();
    if (absl::StrContains(status.message(), "1 such pod exists")) break;
    absl::SleepFor(absl::Milliseconds(500));
  }
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_EQ(kube::HttpStatusOf(status), 404);
  EXPECT_THAT(std::string(status.message()), HasSubstr("1 such pod exists but has no sample yet"));
  status = CpuFor("stage=nonexistent").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(status.message()), HasSubstr("no such pod exists"));
  fake_->Delete("pods", kNamespace, "just-scheduled-0");
}

// Deployments are selected from the adapter's watch cache: one metadata-only LIST of every
// namespace and one WATCH with the adapter's credentials, however many requests; a Deployment added
// later is seen through the watch; their values are the rule's: labels the simulator's
// kube-state-metrics never exported ("team") select.
TEST_F(KubeIntegrationTest, LabelSelectorOnDeploymentsIsServedFromTheWatchCache) {
  for (const std::string& isvc : isvcs_) {
    fake_->Upsert("deployments.apps",
                  MakeObject(kNamespace, isvc + "-predictor",
                             {{kIsvcLabel, isvc}, {"team", isvc == blue_isvc_ ? "blue" : "red"}}));
  }
  fake_->Upsert("deployments.apps", MakeObject(kNamespace, "idle", {{"team", "green"}}));
  const std::string path =
      absl::StrCat("/apis/custom.metrics.k8s.io/v1beta2/namespaces/", kNamespace,
                   "/deployments.apps/*/deployment_status_replicas");
  // Rule discovery runs at start: wait (bounded) for the metric.
  absl::StatusOr<json> blue = absl::UnknownError("not asked");
  for (int i = 0; i < 60; ++i) {
    blue = client_->GetJson(path + "?labelSelector=team%3Dblue");
    if (blue.ok()) break;
    absl::SleepFor(absl::Milliseconds(500));
  }
  ASSERT_TRUE(blue.ok()) << blue.status();
  EXPECT_EQ(Names(*blue), std::set<std::string>{blue_isvc_ + "-predictor"});
  EXPECT_EQ((*blue)["items"][0]["describedObject"]["kind"], "Deployment");
  // The value is Prometheus' (the simulator's pods of that InferenceService, not draining).
  EXPECT_EQ((*blue)["items"][0]["value"], std::to_string(PodsOf(blue_isvc_).size()));
  // Matches with no value, and no match: two different answers.
  for (int i = 0; i < 10; ++i) {
    auto idle = client_->GetJson(path + "?labelSelector=team%3Dgreen");
    EXPECT_EQ(kube::HttpStatusOf(idle.status()), 404) << idle.status();
    EXPECT_THAT(std::string(idle.status().message()),
                HasSubstr("1 deployments.apps match labelSelector \"team=green\" in namespace "
                          "kserve-test but it has no value"));
    auto none = client_->GetJson(path + "?labelSelector=team%3Dnobody");
    EXPECT_EQ(kube::HttpStatusOf(none.status()), 404) << none.status();
    EXPECT_THAT(std::string(none.status().message()),
                HasSubstr("no deployments.apps match labelSelector \"team=nobody\""));
  }
  ASSERT_TRUE(fake_->WaitForOpenWatches("deployments.apps", 1));
  // 21 requests: one LIST of every namespace and one WATCH, with the adapter's credentials and
  // metadata only; no LIST per request.
  const std::string all = "/apis/apps/v1/deployments";
  EXPECT_EQ(fake_->CountRequests("GET", all, FakeApiServer::Kind::kNonWatch), 1);
  EXPECT_EQ(fake_->CountRequests("GET", all, FakeApiServer::Kind::kWatch), 1);
  EXPECT_EQ(fake_->CountRequests(
                "GET", absl::StrCat("/apis/apps/v1/namespaces/", kNamespace, "/deployments")),
            0);
  for (const FakeRequest& r : fake_->Requests()) {
    if (r.path != all) continue;
    EXPECT_EQ(r.bearer_token, kAdapterToken);
    if (r.Param("watch").empty()) {
      EXPECT_EQ(r.Param("limit"), "500");
      EXPECT_THAT(r.Header("Accept"), HasSubstr("as=PartialObjectMetadataList"));
    } else {
      EXPECT_THAT(r.Header("Accept"), HasSubstr("as=PartialObjectMetadata;"));
    }
  }
  // A Deployment added now is seen through the watch.
  fake_->Upsert("deployments.apps", MakeObject(kNamespace, "idle-2", {{"team", "green"}}));
  bool seen = false;
  for (int i = 0; i < 100 && !seen; ++i) {
    auto idle = client_->GetJson(path + "?labelSelector=team%3Dgreen");
    seen = absl::StrContains(idle.status().message(), "2 deployments.apps match");
    if (!seen) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(seen);
  EXPECT_EQ(fake_->CountRequests("GET", all, FakeApiServer::Kind::kNonWatch), 1);
}

}  // namespace
}  // namespace aa
