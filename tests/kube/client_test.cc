#include "kube/client.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/client_metrics.h"
#include "kube/fake_apiserver.h"
#include "kube/json_fields.h"
#include "kube/pod.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "testutil/loopback_http.h"
#include "testutil/temp_dir.h"
#include "testutil/tls_certs.h"

namespace aa::kube {
namespace {

using ::testing::ElementsAre;
using testing::FakeApiServer;
using testing::FakeRequest;
using testing::FakeResponse;
using ::testing::HasSubstr;
using testing::MakeConfigMap;
using testing::MakePod;
using json = nlohmann::json;

std::unique_ptr<FakeApiServer> StartServer(testing::FakeApiServerOptions options = {}) {
  auto server = FakeApiServer::Start(std::move(options));
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

std::unique_ptr<Client> NewClient(ClientConfig config) {
  auto client = Client::Create(std::move(config));
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

TEST(ClientTest, KubeconfigClientListsPodsWithTheBearerToken) {
  auto server = StartServer({.required_token = "t0k"});
  server->Upsert("pods", MakePod({.ns = "ns", .name = "p-1", .labels = {{"app", "web"}}}));
  server->Upsert("pods", MakePod({.ns = "other", .name = "p-2"}));
  auto config = ParseKubeconfig(server->Kubeconfig("t0k", "ns"), "");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->default_namespace, "ns");
  auto client = NewClient(*config);
  auto list = client->GetJson("/api/v1/namespaces/ns/pods");
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ((*list)["kind"], "PodList");
  EXPECT_EQ((*list)["metadata"]["resourceVersion"], absl::StrCat(server->resource_version()));
  ASSERT_EQ((*list)["items"].size(), 1u);
  EXPECT_EQ((*list)["items"][0]["metadata"]["name"], "p-1");
  EXPECT_EQ((*list)["items"][0]["metadata"]["labels"]["app"], "web");
  auto requests = server->Requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].bearer_token, "t0k");
  EXPECT_EQ(requests[0].Header("Accept"), "application/json");
}

TEST(ClientTest, ErrorsCarryTheKubernetesStatusMessageAndCode) {
  auto server = StartServer({.required_token = "right"});
  auto bad = NewClient(server->ClientConfigFor("wrong"));
  auto list = bad->GetJson("/api/v1/pods");
  EXPECT_EQ(list.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(HttpStatusOf(list.status()), 401);
  EXPECT_THAT(list.status().message(), HasSubstr("GET /api/v1/pods: HTTP 401: Unauthorized"));

  auto client = NewClient(server->ClientConfigFor("right"));
  auto cm = client->GetJson(testing::kAuthConfigMapPath);
  EXPECT_EQ(cm.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(HttpStatusOf(cm.status()), 404);
  EXPECT_THAT(cm.status().message(),
              HasSubstr("configmaps \"extension-apiserver-authentication\" not found"));

  server->FailNext("GET", "/api/v1/pods", 503);
  EXPECT_EQ(client->GetJson("/api/v1/pods").status().code(), absl::StatusCode::kUnavailable);
  server->FailNext("GET", "/api/v1/pods", 403);
  auto denied = client->GetJson("/api/v1/pods");
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_FALSE(IsGone(denied.status()));
  server->FailNext("GET", "/api/v1/pods", 410);
  EXPECT_TRUE(IsGone(client->GetJson("/api/v1/pods").status()));
  EXPECT_TRUE(client->GetJson("/api/v1/pods").ok());
}

// Answers of any shape are read without exceptions: a Status whose fields have other types, watch
// lines that are not events, events without an object.
TEST(ClientTest, AnswersOfTheWrongShapeNeverThrow) {
  absl::Status s = StatusFromHttp(500, R"({"kind":1,"message":["x"],"reason":2})", "GET /x");
  EXPECT_EQ(HttpStatusOf(s), 500);
  s = StatusFromHttp(403, R"({"kind":"Status","message":7,"reason":"Forbidden"})", "GET /x");
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("HTTP 403: Forbidden"));
  for (const char* line : {"[]", R"({"type":1})", "\xff", R"({"type":["ADDED"]})"}) {
    auto e = ParseWatchEvent(line);
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInternal) << line;
  }
  auto e = ParseWatchEvent(R"({"type":"ADDED"})");
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->object.is_null());
  EXPECT_FALSE(ParsePod(e->object).ok());
  EXPECT_EQ(MetadataString(e->object, "resourceVersion"), "");
  EXPECT_EQ(MetadataString(nlohmann::json::parse(R"({"metadata":[1]})"), "name"), "");
  EXPECT_EQ(SafeDump(nlohmann::json("a\xff")), "\"a\xef\xbf\xbd\"");
}

TEST(ClientMetrics, ClassifiesRequestsByVerbAndResource) {
  auto labels = [](std::string_view method, std::string_view path) {
    RequestLabels l = ClassifyRequest(method, path);
    return l.verb + " " + l.resource;
  };
  EXPECT_EQ(labels("GET", "/api/v1/pods?limit=500"), "list pods");
  EXPECT_EQ(labels("GET", "/api/v1/namespaces/ns/pods"), "list pods");
  EXPECT_EQ(labels("GET", "/api/v1/namespaces/kube-system/configmaps/x"), "get configmaps");
  EXPECT_EQ(labels("GET", "/api/v1/namespaces"), "list namespaces");
  EXPECT_EQ(labels("GET", "/api/v1/namespaces/ns"), "get namespaces");
  EXPECT_EQ(labels("GET", "/apis/apps/v1/namespaces/ns/deployments/d/scale"),
            "get deployments/scale");
  EXPECT_EQ(labels("POST", "/apis/authentication.k8s.io/v1/tokenreviews"), "create tokenreviews");
  EXPECT_EQ(labels("GET", "/version"), "get other");
}

TEST(ClientMetrics, EveryCallIsTimedByVerbResourceAndAnswerClass) {
  auto server = StartServer();
  prometheus::Registry registry;
  auto created = Client::Create(server->ClientConfigFor(""), &registry);
  ASSERT_TRUE(created.ok()) << created.status();
  Client& client = **created;
  ASSERT_TRUE(client.GetJson("/api/v1/namespaces/ns/pods").ok());
  ASSERT_TRUE(client.GetJson("/api/v1/pods").ok());
  EXPECT_EQ(HttpStatusOf(client.GetJson(testing::kAuthConfigMapPath).status()), 404);
  server->FailNext("GET", "/api/v1/pods", 503);
  EXPECT_FALSE(client.GetJson("/api/v1/pods").ok());
  server.reset();  // nothing answers any more
  EXPECT_FALSE(client.GetJson("/api/v1/pods").ok());
  const std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
  const std::string name = "autoscale_adapter_kube_request_duration_seconds_count";
  EXPECT_THAT(text, HasSubstr(name + "{code=\"2xx\",resource=\"pods\",verb=\"list\"} 2"));
  EXPECT_THAT(text, HasSubstr(name + "{code=\"4xx\",resource=\"configmaps\",verb=\"get\"} 1"));
  EXPECT_THAT(text, HasSubstr(name + "{code=\"5xx\",resource=\"pods\",verb=\"list\"} 1"));
  EXPECT_THAT(text, HasSubstr(name + "{code=\"error\",resource=\"pods\",verb=\"list\"} 1"));
}

TEST(ClientTest, PostJsonSendsTheBodyAndReturnsTheAnswer) {
  auto server = StartServer();
  server->Handle("POST", testing::kTokenReviewPath, [](const FakeRequest& req) {
    json in = req.Json();
    bool ok = in["spec"]["token"] == "user-token";
    json out = in;
    out["status"] = {{"authenticated", ok}};
    if (ok) out["status"]["user"] = {{"username", "jane"}, {"groups", {"dev"}}};
    return FakeResponse{201, out};
  });
  auto client = NewClient(server->ClientConfigFor(""));
  json review = {{"apiVersion", "authentication.k8s.io/v1"},
                 {"kind", "TokenReview"},
                 {"spec", {{"token", "user-token"}}}};
  auto answer = client->PostJson(testing::kTokenReviewPath, review);
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ((*answer)["status"]["authenticated"], true);
  EXPECT_EQ((*answer)["status"]["user"]["username"], "jane");
  auto requests = server->Requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].Header("Content-Type"), "application/json");
  EXPECT_EQ(requests[0].bearer_token, "");
}

// ---- kept-alive connections closed by the server (client.h "Stale connections")

// A TokenReview answerer, so that POSTs are answered like GETs.
void HandleTokenReviews(FakeApiServer& server) {
  server.Handle("POST", testing::kTokenReviewPath, [](const FakeRequest& req) {
    json out = req.Json();
    out["status"] = {{"authenticated", false}};
    return FakeResponse{201, out};
  });
}

constexpr char kPods[] = "/api/v1/namespaces/ns/pods";
const json kReview = {{"apiVersion", "authentication.k8s.io/v1"},
                      {"kind", "TokenReview"},
                      {"spec", {{"token", "t"}}}};

// The remote ports of the requests with this method, in order (one port = one connection).
std::vector<int> PortsOf(const FakeApiServer& server, std::string_view method) {
  std::vector<int> ports;
  for (const auto& r : server.Requests()) {
    if (r.method == method) ports.push_back(r.remote_port);
  }
  return ports;
}

TEST(ClientTest, RequestsAfterTheServerClosedIdleConnectionsSucceed) {
  auto server = StartServer();
  HandleTokenReviews(*server);
  auto client = NewClient(server->ClientConfigFor(""));
  ASSERT_TRUE(client->GetJson(kPods).ok());
  ASSERT_TRUE(client->PostJson(testing::kTokenReviewPath, kReview).ok());
  ASSERT_TRUE(client->GetJson(kPods).ok());  // reuses the kept-alive connection
  std::vector<int> before = PortsOf(*server, "GET");
  ASSERT_EQ(before.size(), 2u);
  EXPECT_EQ(before[0], before[1]);

  EXPECT_GE(server->CloseConnections(), 1);
  auto list = client->GetJson(kPods);
  EXPECT_TRUE(list.ok()) << list.status();
  auto review = client->PostJson(testing::kTokenReviewPath, kReview);
  EXPECT_TRUE(review.ok()) << review.status();
  std::vector<int> gets = PortsOf(*server, "GET");
  ASSERT_EQ(gets.size(), 3u);
  EXPECT_NE(gets[2], gets[0]);  // a new connection
  EXPECT_EQ(PortsOf(*server, "POST").size(), 2u);
}

// The server closes the connection just as the client reuses it: the request got no answer and
// is sent once more, on a new connection.
TEST(ClientTest, RequestOnAConnectionClosedAsItIsReusedIsRetriedOnceOnANewOne) {
  auto server = StartServer();
  HandleTokenReviews(*server);
  auto client = NewClient(server->ClientConfigFor(""));
  ASSERT_TRUE(client->GetJson(kPods).ok());
  server->DropNext("GET", kPods);
  auto list = client->GetJson(kPods);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ((*list)["kind"], "PodList");
  std::vector<int> gets = PortsOf(*server, "GET");
  ASSERT_EQ(gets.size(), 3u);
  EXPECT_EQ(gets[1], gets[0]);  // the dropped request came on the kept-alive connection
  EXPECT_NE(gets[2], gets[1]);  // the retry on a new one

  ASSERT_TRUE(client->PostJson(testing::kTokenReviewPath, kReview).ok());
  server->DropNext("POST", testing::kTokenReviewPath);
  auto review = client->PostJson(testing::kTokenReviewPath, kReview);
  ASSERT_TRUE(review.ok()) << review.status();
  EXPECT_EQ((*review)["kind"], "TokenReview");
  std::vector<int> posts = PortsOf(*server, "POST");
  ASSERT_EQ(posts.size(), 3u);
  EXPECT_EQ(posts[1], posts[0]);
  EXPECT_NE(posts[2], posts[1]);
  EXPECT_EQ(server->Requests().back().Json()["spec"]["token"], "t");  // the same body again
}

TEST(ClientTest, FailureOnANewConnectionIsNotRetried) {
  auto server = StartServer();
  HandleTokenReviews(*server);
  auto client = NewClient(server->ClientConfigFor(""));
  server->DropNext("GET", kPods);
  auto list = client->GetJson(kPods);
  EXPECT_EQ(list.status().code(), absl::StatusCode::kUnavailable) << list.status();
  EXPECT_EQ(HttpStatusOf(list.status()), 0);
  EXPECT_EQ(server->CountRequests("GET", kPods), 1);

  server->DropNext("POST", testing::kTokenReviewPath);
  auto review = client->PostJson(testing::kTokenReviewPath, kReview);
  EXPECT_EQ(review.status().code(), absl::StatusCode::kUnavailable) << review.status();
  EXPECT_EQ(server->CountRequests("POST", testing::kTokenReviewPath), 1);
}

TEST(ClientTest, StaleConnectionRetryHappensOnceOnly) {
  auto server = StartServer();
  auto client = NewClient(server->ClientConfigFor(""));
  ASSERT_TRUE(client->GetJson(kPods).ok());
  server->DropNext("GET", kPods, 2);  // the retry, on a new connection, fails too
  auto list = client->GetJson(kPods);
  EXPECT_EQ(list.status().code(), absl::StatusCode::kUnavailable) << list.status();
  EXPECT_EQ(server->CountRequests("GET", kPods), 3);
  EXPECT_TRUE(client->GetJson(kPods).ok());
}

TEST(ClientTest, HttpErrorsAndTimeoutsOnAReusedConnectionAreNotRetried) {
  absl::Notification release;  // outlives the server, whose handler waits on it
  std::atomic<bool> stall{false};
  auto server = StartServer();
  server->Handle("GET", "/api/v1/namespaces/ns/configmaps/slow", [&](const FakeRequest&) {
    if (stall.load()) release.WaitForNotificationWithTimeout(absl::Seconds(10));
    return FakeResponse{200, MakeConfigMap("ns", "slow", {})};
  });
  ClientConfig config = server->ClientConfigFor("");
  config.timeout = absl::Milliseconds(300);
  auto client = NewClient(config);
  ASSERT_TRUE(client->GetJson(kPods).ok());
  server->FailNext("GET", kPods, 503);
  auto list = client->GetJson(kPods);
  EXPECT_EQ(HttpStatusOf(list.status()), 503) << list.status();
  EXPECT_EQ(server->CountRequests("GET", kPods), 2);

  ASSERT_TRUE(client->GetJson("/api/v1/namespaces/ns/configmaps/slow").ok());
  stall = true;
  auto slow = client->GetJson("/api/v1/namespaces/ns/configmaps/slow");
  EXPECT_EQ(slow.status().code(), absl::StatusCode::kDeadlineExceeded) << slow.status();
  release.Notify();
  EXPECT_EQ(server->CountRequests("GET", "/api/v1/namespaces/ns/configmaps/slow"), 2);
}

TEST(ClientTest, TokenFileIsReReadWhenItRotates) {
  testutil::TempDir dir;
  auto server = StartServer({.required_token = "first"});
  std::string token_file = dir.WriteFile("token", "first\n");
  ClientConfig config = server->ClientConfigFor("");
  config.token_file = token_file;
  auto client = NewClient(config);
  ASSERT_TRUE(client->GetJson("/api/v1/pods").ok());

  // kubelet swaps the projected token atomically (a new file under the same name).
  server->SetRequiredToken("second");
  dir.WriteFile("token.new", "second\n");
  ASSERT_EQ(std::rename(dir.File("token.new").c_str(), token_file.c_str()), 0);
  auto list = client->GetJson("/api/v1/pods");
  ASSERT_TRUE(list.ok()) << list.status();
  auto requests = server->Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].bearer_token, "first");
  EXPECT_EQ(requests[1].bearer_token, "second");
  EXPECT_EQ(*client->CurrentToken(), "second");
}

TEST(ClientTest, TlsVerificationAgainstTheConfiguredCa) {
  auto server = StartServer();
  testutil::TempDir dir;
  auto other_ca = testutil::TestCa::Create(dir.path(), "other");
  ASSERT_TRUE(other_ca.ok());

  ClientConfig wrong = server->ClientConfigFor("");
  wrong.ca_file = other_ca->cert_file();
  auto client = NewClient(wrong);
  auto list = client->GetJson("/api/v1/pods");
  EXPECT_EQ(list.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(list.status().message(),
              HasSubstr("TLS verification of the server certificate failed"));
  EXPECT_EQ(server->CountRequests("GET", "/"), 0);

  // Inline CA data works as the file does.
  ClientConfig inline_ca = server->ClientConfigFor("");
  inline_ca.ca_file = "";
  inline_ca.ca_pem = server->ca_pem();
  EXPECT_TRUE(NewClient(inline_ca)->GetJson("/api/v1/pods").ok());

  // The name in the certificate must match: the server certificate has no SAN "example.com".
  ClientConfig wrong_name = server->ClientConfigFor("");
  wrong_name.tls_server_name = "example.com";
  EXPECT_EQ(NewClient(wrong_name)->GetJson("/api/v1/pods").status().code(),
            absl::StatusCode::kUnavailable);

  ClientConfig skip = wrong;
  skip.insecure_skip_tls_verify = true;
  EXPECT_TRUE(NewClient(skip)->GetJson("/api/v1/pods").ok());
}

TEST(ClientTest, ClientCertificateAuthenticates) {
  testutil::TempDir dir;
  auto ca = testutil::TestCa::Create(dir.path(), "client-ca");
  ASSERT_TRUE(ca.ok());
  auto cert = ca->IssueClient(dir.path(), "adapter", "system:serviceaccount:aa:adapter");
  ASSERT_TRUE(cert.ok());
  auto server = StartServer({.client_ca_file = ca->cert_file(), .required_token = "nobody-has-it"});

  ClientConfig config = server->ClientConfigFor("");
  config.client_cert_file = cert->cert_file;
  config.client_key_file = cert->key_file;
  auto list = NewClient(config)->GetJson("/api/v1/pods");
  ASSERT_TRUE(list.ok()) << list.status();
  ClientConfig inline_config = server->ClientConfigFor("");
  inline_config.client_cert_pem = cert->cert_pem;
  inline_config.client_key_pem = cert->key_pem;
  ASSERT_TRUE(NewClient(inline_config)->GetJson("/api/v1/pods").ok());
  auto requests = server->Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].client_cert_cn, "system:serviceaccount:aa:adapter");

  EXPECT_EQ(NewClient(server->ClientConfigFor(""))->GetJson("/api/v1/pods").status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(ClientTest, CreateRejectsBadConfig) {
  testutil::TempDir dir;
  ClientConfig c;
  c.server = "ftp://x";
  EXPECT_THAT(Client::Create(c).status().message(), HasSubstr("https://"));
  c.server = "https://h:99999";
  EXPECT_THAT(Client::Create(c).status().message(), HasSubstr("bad port"));
  c.server = "https://h";
  c.ca_file = dir.File("missing.crt");
  EXPECT_THAT(Client::Create(c).status().message(),
              HasSubstr("certificate-authority: cannot read"));
  c.ca_file = dir.WriteFile("garbage.crt", "not pem");
  EXPECT_THAT(Client::Create(c).status().message(), HasSubstr("no PEM certificate"));
  c.ca_file = "";
  c.client_cert_pem = "x";
  EXPECT_THAT(Client::Create(c).status().message(), HasSubstr("together"));
  c.client_cert_pem = "";
  c.token_file = dir.File("missing-token");
  EXPECT_THAT(Client::Create(c).status().message(), HasSubstr("tokenFile"));
}

std::vector<std::string> Names(const std::vector<WatchEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) {
    out.push_back(absl::StrCat(e.type, " ", e.object["metadata"].value("name", "")));
  }
  return out;
}

TEST(ClientTest, WatchStreamsEventsUntilTheHandlerStops) {
  auto server = StartServer();
  int64_t rv = server->Upsert("pods", MakePod({.ns = "ns", .name = "a"}));
  auto client = NewClient(server->ClientConfigFor(""));
  std::vector<WatchEvent> events;
  std::thread writer([&] {
    ASSERT_TRUE(server->WaitForOpenWatches("pods", 1));
    server->Upsert("pods", MakePod({.ns = "ns", .name = "b"}));
    server->Upsert("pods", MakePod({.ns = "ns", .name = "a", .ready = false}));
    server->Bookmark("pods");
    server->Delete("pods", "ns", "b");
  });
  absl::Status s = client->Watch(
      absl::StrCat("/api/v1/namespaces/ns/pods?watch=1&allowWatchBookmarks=true&resourceVersion=",
                   rv),
      [&](const WatchEvent& e) {
        events.push_back(e);
        return e.type != "DELETED";
      });
  writer.join();
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_THAT(Names(events), ElementsAre("ADDED b", "MODIFIED a", "BOOKMARK ", "DELETED b"));
  EXPECT_EQ(events[2].object["metadata"]["resourceVersion"], absl::StrCat(rv + 2));
}

// HTTPS_PROXY: requests and watches tunnel through the proxy (CONNECT), TLS end to end with the
// API server.
TEST(ClientTest, RequestsAndWatchesTunnelThroughHttpsProxy) {
  auto server = StartServer();
  int64_t rv = server->Upsert("pods", MakePod({.ns = "ns", .name = "a"}));
  testutil::ConnectProxy proxy(
      {{"kube.example:6443",
        absl::StrCat("127.0.0.1:", server->url().substr(server->url().rfind(':') + 1))}});
  ClientConfig config = server->ClientConfigFor("");
  config.server = "https://kube.example:6443";
  config.tls_server_name = "localhost";  // the fake's certificate names localhost, not kube.example
  config.proxy =
      net::ProxyEnvironment{.http_proxy = "", .https_proxy = proxy.Url(), .no_proxy = ""};
  auto client = NewClient(config);
  auto list = client->GetJson(kPods);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ((*list)["kind"], "PodList");
  std::vector<WatchEvent> events;
  std::thread writer([&] {
    ASSERT_TRUE(server->WaitForOpenWatches("pods", 1));
    server->Upsert("pods", MakePod({.ns = "ns", .name = "b"}));
  });
  absl::Status s =
      client->Watch(absl::StrCat(kPods, "?watch=1&resourceVersion=", rv), [&](const WatchEvent& e) {
        events.push_back(e);
        return false;
      });
  writer.join();
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_THAT(Names(events), ElementsAre("ADDED b"));
  ASSERT_EQ(proxy.Requests().size(), 2u);  // the kept-alive tunnel, and the watch's own
  EXPECT_THAT(proxy.Requests()[0], ::testing::StartsWith("CONNECT kube.example:6443 HTTP/1.1"));
}

TEST(ClientTest, WatchEndsOkWhenTheServerClosesAndGoneOtherwise) {
  auto server = StartServer();
  server->Upsert("pods", MakePod({.ns = "ns", .name = "a"}));
  auto client = NewClient(server->ClientConfigFor(""));
  std::vector<WatchEvent> events;
  auto collect = [&](const WatchEvent& e) {
    events.push_back(e);
    return true;
  };
  std::thread closer([&] {
    ASSERT_TRUE(server->WaitForOpenWatches("pods", 1));
    server->CloseWatches("pods");
  });
  // No resourceVersion: the current objects first, as synthetic ADDED events.
  EXPECT_TRUE(client->Watch("/api/v1/pods?watch=true", collect).ok());
  closer.join();
  EXPECT_THAT(Names(events), ElementsAre("ADDED a"));

  server->Upsert("pods", MakePod({.ns = "ns", .name = "b"}));
  server->Compact();
  events.clear();
  EXPECT_TRUE(client->Watch("/api/v1/pods?watch=true&resourceVersion=101", collect).ok());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "ERROR");
  absl::Status gone = StatusFromWatchError(events[0].object);
  EXPECT_TRUE(IsGone(gone));
  EXPECT_THAT(gone.message(), HasSubstr("too old resource version"));

  server->SetGoneMode(testing::GoneMode::kHttp);
  absl::Status s = client->Watch("/api/v1/pods?watch=true&resourceVersion=101", collect);
  EXPECT_TRUE(IsGone(s)) << s;
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
}

TEST(ClientTest, WatchCancelFromAnotherThread) {
  auto server = StartServer();
  auto client = NewClient(server->ClientConfigFor(""));
  WatchCancel cancel;
  std::thread canceller([&] {
    ASSERT_TRUE(server->WaitForOpenWatches("pods", 1));
    cancel.Cancel();
  });
  absl::Status s = client->Watch(
      "/api/v1/pods?watch=1", [](const WatchEvent&) { return true; }, &cancel);
  canceller.join();
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled) << s;
  // Cancelled before it starts: returns at once.
  EXPECT_EQ(client
                ->Watch(
                    "/api/v1/pods?watch=1", [](const WatchEvent&) { return true; }, &cancel)
                .code(),
            absl::StatusCode::kCancelled);
}

TEST(ClientTest, WatchIdleTimeoutIsDeadlineExceeded) {
  auto server = StartServer();
  auto client = NewClient(server->ClientConfigFor(""));
  absl::Status s = client->Watch(
      "/api/v1/pods?watch=1", [](const WatchEvent&) { return true; }, nullptr,
      absl::Milliseconds(300));
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
}

TEST(ClientTest, ConfigMapWatchByFieldSelector) {
  auto server = StartServer();
  server->Upsert("configmaps", MakeConfigMap("kube-system", "other", {{"x", "1"}}));
  server->Upsert("configmaps",
                 MakeConfigMap("kube-system", "extension-apiserver-authentication",
                               {{"requestheader-allowed-names", "[\"front-proxy-client\"]"}}));
  auto client = NewClient(server->ClientConfigFor(""));
  auto cm = client->GetJson(testing::kAuthConfigMapPath);
  ASSERT_TRUE(cm.ok()) << cm.status();
  EXPECT_EQ((*cm)["kind"], "ConfigMap");
  EXPECT_EQ((*cm)["data"]["requestheader-allowed-names"], "[\"front-proxy-client\"]");

  std::vector<WatchEvent> events;
  std::thread writer([&] {
    ASSERT_TRUE(server->WaitForOpenWatches("configmaps", 1));
    server->Upsert("configmaps", MakeConfigMap("kube-system", "other", {{"x", "2"}}));
    server->Upsert("configmaps", MakeConfigMap("kube-system", "extension-apiserver-authentication",
                                               {{"requestheader-allowed-names", "[]"}}));
  });
  absl::Status s = client->Watch(
      absl::StrCat("/api/v1/namespaces/kube-system/configmaps?watch=1&fieldSelector=metadata.name%"
                   "3Dextension-apiserver-authentication&resourceVersion=",
                   (*cm)["metadata"]["resourceVersion"].get<std::string>()),
      [&](const WatchEvent& e) {
        events.push_back(e);
        return false;
      });
  writer.join();
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_THAT(Names(events), ElementsAre("MODIFIED extension-apiserver-authentication"));
  EXPECT_EQ(events[0].object["data"]["requestheader-allowed-names"], "[]");
}

}  // namespace
}  // namespace aa::kube
