// End to end security of the adapter binary's HTTPS port (Kubernetes metrics APIs and the query
// API): the fake kube-apiserver (in this process) answers TokenReview and SubjectAccessReview and
// serves ConfigMap kube-system/extension-apiserver-authentication; curl and kubectl are the
// clients. A second fake server stands in for Prometheus (one series, for the query API's 200s).

#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "demo/proc/subprocess.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "integration/integration_util.h"
#include "kube/fake_apiserver.h"
#include "nlohmann/json.hpp"
#include "testutil/temp_dir.h"
#include "testutil/tls_certs.h"

namespace aa {
namespace {

using integration::RunCommand;
using kube::testing::FakeApiServer;
using kube::testing::FakeRequest;
using kube::testing::FakeResponse;
using kube::testing::Responder;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAdapterToken[] = "adapter-sa-token-one";
constexpr char kAdapterToken2[] = "adapter-sa-token-two";
constexpr char kHpaToken[] = "hpa-client-token";
constexpr char kSecondToken[] = "second-client-token";
constexpr char kReaderToken[] = "reader-token";  // may read custom metrics of namespace ns only
constexpr char kNobodyToken[] = "nobody-token";  // authenticated, no rights at all
constexpr char kQueryPath[] = "/api/v1/namespaces/ns/metrics/concurrency";
constexpr char kScalingPath[] = "/api/v1/namespaces/ns/metrics/concurrency/scaling";
constexpr char kHpaUser[] = "system:serviceaccount:kube-system:horizontal-pod-autoscaler";
constexpr char kPodsPath[] = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/ns/pods/*/concurrency";
constexpr char kExternalPath[] = "/apis/external.metrics.k8s.io/v1beta1/namespaces/ns/queue";

// The SubjectAccessReview resourceAttributes of reading pods' concurrency in namespace ns through
// custom.metrics.k8s.io (and through the query API, which asks the same).
json PodsConcurrencyReview() {
  return {{"namespace", "ns"},    {"verb", "get"},      {"group", "custom.metrics.k8s.io"},
          {"version", "v1beta2"}, {"resource", "pods"}, {"subresource", "concurrency"},
          {"name", "*"}};
}

struct Curl {
  int status = 0;
  std::string body;
};

class AuthIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testutil::TempDir();
    auto make_ca = [](const char* name, const char* cn) {
      auto ca = testutil::TestCa::Create(dir_->path(), name, cn);
      EXPECT_TRUE(ca.ok()) << ca.status();
      return new testutil::TestCa(*ca);
    };
    front_ca_ = make_ca("front-ca", "front-proxy-ca");
    client_ca_ = make_ca("client-ca", "kubernetes");
    other_ca_ = make_ca("other-ca", "attacker");
    serving_ca_ = make_ca("serving-ca", "serving-ca");
    serving_ca2_ = make_ca("serving-ca2", "serving-ca-rotated");
    current_ca_ = serving_ca_;

    auto fake = FakeApiServer::Start({.required_token = kAdapterToken});
    ASSERT_TRUE(fake.ok()) << fake.status();
    fake_ = fake->release();
    fake_->Handle("POST", kube::testing::kTokenReviewPath, [](const FakeRequest& req) {
      json review = req.Json();
      std::string token = review["spec"]["token"];
      const std::string user = token == kHpaToken      ? kHpaUser
                               : token == kSecondToken ? "second"
                               : token == kReaderToken ? "reader"
                               : token == kNobodyToken ? "nobody"
                                                       : "";
      if (!user.empty()) {
        review["status"] = {
            {"authenticated", true},
            {"user",
             {{"username", user}, {"groups", {"system:serviceaccounts", "system:authenticated"}}}}};
      } else {
        review["status"] = {{"authenticated", false}, {"error", "invalid bearer token"}};
      }
      return FakeResponse{201, review};
    });
    // RBAC of the fake cluster: the HPA's user and "second" may read custom metrics of pods and
    // discovery; "reader" the same in namespace ns only (a RoleBinding); nothing else is allowed.
    fake_->Handle("POST", kube::testing::kSubjectAccessReviewPath, [](const FakeRequest& req) {
      json review = req.Json();
      {
        std::lock_guard lock(mu_);
        reviews_.push_back(review);
      }
      const json& spec = review["spec"];
      std::string user = spec.value("user", "");
      bool known = user == kHpaUser || user == "second" || user == "reader";
      bool allowed = false;
      if (spec.contains("resourceAttributes")) {
        const json& ra = spec["resourceAttributes"];
        allowed = known && ra.value("group", "") == "custom.metrics.k8s.io" &&
                  ra.value("resource", "") == "pods" && ra.value("verb", "") == "get" &&
                  (user != "reader" || ra.value("namespace", "") == "ns");
      } else {
        allowed =
            known && absl::StartsWith(spec["nonResourceAttributes"].value("path", ""), "/apis");
      }
      review["status"] = {{"allowed", allowed}};
      if (!allowed) review["status"]["reason"] = "no RBAC policy matched";
      return FakeResponse{201, review};
    });
    PutConfigMap({"front-proxy-client"});

    // Prometheus: one series of `c` in namespace ns, stamped now.
    auto prom = FakeApiServer::Start();
    ASSERT_TRUE(prom.ok()) << prom.status();
    prom_ = prom->release();
    Responder vector = [](const FakeRequest&) {
      const double now = absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
      return FakeResponse{
          200,
          {{"status", "success"},
           {"data",
            {{"resultType", "vector"},
             {"result",
              {{{"metric", {{"namespace", "ns"}, {"pod", "a-1"}}}, {"value", {now, "35"}}}}}}}}};
    };
    prom_->Handle("GET", "/api/v1/query", vector);
    prom_->Handle("POST", "/api/v1/query", vector);
    std::string config = dir_->WriteFile(
        "adapter.yaml",
        "metrics:\n- {name: concurrency, query: 'sum by (<<.GroupBy>>) (c{<<.LabelMatchers>>})', "
        "target: 70}\n");

    // The adapter reads its own token from a file (rotated below), as in a pod.
    token_file_ = dir_->WriteFile("sa/token", kAdapterToken);
    std::string kubeconfig = fake_->Kubeconfig(kAdapterToken);
    kubeconfig =
        absl::StrReplaceAll(kubeconfig, {{absl::StrCat("token: \"", kAdapterToken, "\""),
                                          absl::StrCat("tokenFile: \"", token_file_, "\"")}});
    ASSERT_THAT(kubeconfig, HasSubstr("tokenFile"));
    std::string kubeconfig_file = dir_->WriteFile("kubeconfig", kubeconfig);

    auto serving = serving_ca_->IssueServer(dir_->path(), "serving");
    ASSERT_TRUE(serving.ok());
    cert_file_ = dir_->WriteFile("tls/tls.crt", serving->cert_pem);
    key_file_ = dir_->WriteFile("tls/tls.key", serving->key_pem);

    auto adapter = proc::Subprocess::Start(
        {{AA_BIN_DIR "/autoscale-adapter", "--prometheus_url=" + prom_->url(),
          "--prometheus_ca_file=" + prom_->ca_file(), "--config=" + config,
          "--http_listen=127.0.0.1:0", "--grpc_listen=off", "--https_listen=127.0.0.1:0",
          "--kubeconfig=" + kubeconfig_file, "--pod_source=prometheus",
          "--tls_cert_file=" + cert_file_, "--tls_key_file=" + key_file_, "--log_level=debug"},
         dir_->File("adapter.log"),
         ""});
    ASSERT_TRUE(adapter.ok()) << adapter.status();
    adapter_ = adapter->release();
    auto port = adapter_->WaitForListeningPort("https", absl::Seconds(30));
    ASSERT_TRUE(port.ok()) << port.status() << adapter_->LogTail();
    port_ = *port;
    auto http_port = adapter_->WaitForListeningPort("http", absl::Seconds(30));
    ASSERT_TRUE(http_port.ok()) << http_port.status() << adapter_->LogTail();
    http_port_ = *http_port;
  }

  static void TearDownTestSuite() {
    if (adapter_) {
      int code = adapter_->Stop();
      EXPECT_EQ(code, 0) << adapter_->LogTail();
    }
    delete adapter_;
    delete fake_;
    delete prom_;
    for (auto* ca : {front_ca_, client_ca_, other_ca_, serving_ca_, serving_ca2_}) delete ca;
    delete dir_;
  }

  static void PutConfigMap(const std::vector<std::string>& allowed_names) {
    fake_->Upsert("configmaps",
                  kube::testing::MakeConfigMap(
                      "kube-system", "extension-apiserver-authentication",
                      {{"client-ca-file", client_ca_->cert_pem()},
                       {"requestheader-client-ca-file", front_ca_->cert_pem()},
                       {"requestheader-allowed-names", json(allowed_names).dump()},
                       {"requestheader-username-headers", "[\"X-Remote-User\"]"},
                       {"requestheader-group-headers", "[\"X-Remote-Group\"]"},
                       {"requestheader-extra-headers-prefix", "[\"X-Remote-Extra-\"]"}}));
  }

  // curl against the adapter's HTTPS port, verifying it with `ca` (default: the serving CA).
  static Curl Get(const std::string& path, const std::vector<std::string>& args = {},
                  const testutil::TestCa* ca = nullptr) {
    std::string out = dir_->File("curl.out");
    std::string cmd = absl::StrCat("/usr/bin/curl -s -o '", out, "' -w '%{http_code}' --cacert '",
                                   (ca ? ca : current_ca_)->cert_file(), "'");
    for (const std::string& a : args) absl::StrAppend(&cmd, " '", a, "'");
    absl::StrAppend(&cmd, " 'https://127.0.0.1:", port_, path, "'");
    Curl c;
    std::string code = RunCommand(cmd);
    c.status = atoi(code.c_str());
    c.body = testutil::ReadFileOrEmpty(out);
    return c;
  }

  static std::vector<std::string> ClientCert(const testutil::TestCa& ca, const std::string& name,
                                             const std::string& cn,
                                             const std::vector<std::string>& orgs = {},
                                             bool expired = false) {
    auto files = ca.IssueClient(dir_->path(), name, cn, orgs, expired);
    EXPECT_TRUE(files.ok()) << files.status();
    return {"--cert", files->cert_file, "--key", files->key_file};
  }

  static std::vector<json> Reviews() {
    std::lock_guard lock(mu_);
    return reviews_;
  }

  static inline testutil::TempDir* dir_ = nullptr;
  static inline testutil::TestCa *front_ca_ = nullptr, *client_ca_ = nullptr, *other_ca_ = nullptr,
                                 *serving_ca_ = nullptr, *serving_ca2_ = nullptr;
  static inline const testutil::TestCa* current_ca_ = nullptr;  // of the served certificate
  static inline FakeApiServer* fake_ = nullptr;
  static inline FakeApiServer* prom_ = nullptr;  // stands in for Prometheus
  static inline proc::Subprocess* adapter_ = nullptr;
  static inline int port_ = 0;       // HTTPS
  static inline int http_port_ = 0;  // plain HTTP
  static inline std::string token_file_, cert_file_, key_file_;
  static inline std::mutex mu_;
  static inline std::vector<json> reviews_;
};

TEST_F(AuthIntegrationTest, NoCredentialsAnd401) {
  Curl c = Get(kPodsPath);
  EXPECT_EQ(c.status, 401);
  EXPECT_EQ(json::parse(c.body)["reason"], "Unauthorized");
  EXPECT_EQ(Get("/livez").status, 200);
  EXPECT_EQ(Get("/healthz").status, 200);
  // Forged front-proxy headers without a certificate are ignored.
  EXPECT_EQ(
      Get(kPodsPath, {"-H", "X-Remote-User: system:admin", "-H", "X-Remote-Group: system:masters"})
          .status,
      401);
  EXPECT_EQ(Get(kPodsPath, {"-H", "Authorization: Bearer wrong-token"}).status, 401);
}

TEST_F(AuthIntegrationTest, KubectlWithTokensThroughTokenReviewAndSar) {
  std::string kubeconfig = dir_->File("kubectl.yaml");
  {
    std::ofstream out(kubeconfig);
    out << "apiVersion: v1\nkind: Config\nclusters:\n- name: adapter\n  cluster:\n"
        << "    server: https://127.0.0.1:" << port_ << "\n"
        << "    certificate-authority: " << serving_ca_->cert_file() << "\n"
        << "users:\n- name: hpa\n  user:\n    token: " << kHpaToken << "\n"
        << "- name: bad\n  user:\n    token: not-a-valid-token\n"
        << "contexts:\n- name: adapter\n  context: {cluster: adapter, user: hpa}\n"
        << "- name: bad\n  context: {cluster: adapter, user: bad}\n"
        << "current-context: adapter\n";
  }
  int code = -1;
  std::string out = integration::RunKubectl(kubeconfig, {"get", "--raw", "/apis"}, &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_THAT(out, HasSubstr("custom.metrics.k8s.io"));
  out = integration::RunKubectl(kubeconfig, {"--context=bad", "get", "--raw", "/apis"}, &code);
  EXPECT_NE(code, 0);
  EXPECT_THAT(out, HasSubstr("Unauthorized"));
  out = integration::RunKubectl(kubeconfig, {"get", "--raw", kExternalPath}, &code);
  EXPECT_NE(code, 0);
  EXPECT_THAT(out, HasSubstr("Forbidden"));

  // The exact statuses, and the SubjectAccessReview the adapter asked for.
  Curl c = Get(kExternalPath, {"-H", absl::StrCat("Authorization: Bearer ", kHpaToken)});
  EXPECT_EQ(c.status, 403);
  json status = json::parse(c.body);
  EXPECT_EQ(status["reason"], "Forbidden");
  EXPECT_THAT(status["message"].get<std::string>(),
              HasSubstr("cannot list resource \"queue\" in API group \"external.metrics.k8s.io\" "
                        "in the namespace \"ns\""));
  c = Get(kPodsPath, {"-H", absl::StrCat("Authorization: Bearer ", kHpaToken)});
  EXPECT_NE(c.status, 401);
  EXPECT_NE(c.status, 403);  // allowed: the handler answers (no data: 404/503)
  bool seen = false;
  for (const json& r : Reviews()) {
    const json& spec = r["spec"];
    if (spec.contains("resourceAttributes") &&
        spec["resourceAttributes"].value("resource", "") == "pods") {
      seen = true;
      EXPECT_EQ(spec["user"], kHpaUser);
      EXPECT_EQ(spec["resourceAttributes"], PodsConcurrencyReview());
    }
  }
  EXPECT_TRUE(seen);
}

// The query API and /scaling answer on the HTTPS port only to callers allowed to read the same
// metric through custom.metrics.k8s.io: 401 without credentials, 403 without that right, 200 with
// it.
TEST_F(AuthIntegrationTest, QueryApiNeedsTheCustomMetricsRightWithCurl) {
  auto bearer = [](const char* token) {
    return std::vector<std::string>{"-H", absl::StrCat("Authorization: Bearer ", token)};
  };
  for (const char* path : {kQueryPath, kScalingPath, "/api/v1/metrics"}) {
    Curl c = Get(path);
    EXPECT_EQ(c.status, 401) << path;
    EXPECT_EQ(json::parse(c.body, nullptr, false).value("reason", ""), "Unauthorized") << c.body;
    EXPECT_EQ(Get(path, bearer("not-a-token")).status, 401) << path;
  }
  for (const char* path : {kQueryPath, kScalingPath}) {
    Curl c = Get(path, bearer(kNobodyToken));
    EXPECT_EQ(c.status, 403) << path;
    json status = json::parse(c.body, nullptr, false);
    EXPECT_EQ(status.value("reason", ""), "Forbidden") << c.body;
    EXPECT_THAT(status.value("message", ""),
                HasSubstr("User \"nobody\" cannot get resource \"pods/concurrency\" in API group "
                          "\"custom.metrics.k8s.io\" in the namespace \"ns\""));
  }
  // reader's RoleBinding is for namespace ns: other namespaces are forbidden.
  EXPECT_EQ(Get("/api/v1/namespaces/other/metrics/concurrency", bearer(kReaderToken)).status, 403);
  // A parameter that would change the authorized resource is refused before any review.
  EXPECT_EQ(Get(std::string(kQueryPath) + "?resource=pods%2Fx", bearer(kReaderToken)).status, 400);

  Curl value;
  ASSERT_TRUE(proc::PollUntil(
      [&] {
        value = Get(kQueryPath, bearer(kReaderToken));
        return value.status == 200;
      },
      absl::Seconds(20)))
      << value.status << " " << value.body;
  EXPECT_EQ(json::parse(value.body)["total"], 35);
  Curl scaling = Get(kScalingPath, bearer(kReaderToken));
  EXPECT_EQ(scaling.status, 200) << scaling.body;
  EXPECT_EQ(Get(std::string(kQueryPath) + "?pod=a-1", bearer(kReaderToken)).status, 200);
  // The metric definitions: whoever may read the custom metrics API's discovery.
  Curl defs = Get("/api/v1/metrics", bearer(kReaderToken));
  EXPECT_EQ(defs.status, 200) << defs.body;
  EXPECT_EQ(Get("/api/v1/metrics", bearer(kNobodyToken)).status, 403);

  // The review the adapter asked for is the one custom.metrics.k8s.io would ask for.
  bool seen = false;
  for (const json& r : Reviews()) {
    const json& spec = r["spec"];
    if (spec["user"] != "reader" || !spec.contains("resourceAttributes") ||
        spec["resourceAttributes"].value("namespace", "") != "ns" ||
        spec["resourceAttributes"].value("name", "") != "*") {
      continue;
    }
    seen = true;
    EXPECT_EQ(spec["resourceAttributes"], PodsConcurrencyReview());
  }
  EXPECT_TRUE(seen);

  // The plain-HTTP port serves no query API, to anyone, and says where it went.
  for (const char* path : {kQueryPath, kScalingPath, "/api/v1/metrics"}) {
    auto plain = net::HttpCall("GET", "127.0.0.1", http_port_, path);
    ASSERT_TRUE(plain.ok()) << plain.status();
    EXPECT_EQ(plain->status, 404) << path;
    EXPECT_THAT(plain->body, HasSubstr("HTTPS port")) << path;
  }
  auto metrics = net::HttpCall("GET", "127.0.0.1", http_port_, "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_EQ(metrics->status, 200);
  EXPECT_THAT(metrics->body, HasSubstr("autoscale_adapter_auth_requests_total"));
}

// kubectl with a token that has the right, one without, and one TokenReview refuses (kubectl asks
// for a password instead when it has no credentials at all: curl covers that case above).
TEST_F(AuthIntegrationTest, QueryApiWithKubectl) {
  std::string kubeconfig = dir_->File("kubectl-query.yaml");
  {
    std::ofstream out(kubeconfig);
    out << "apiVersion: v1\nkind: Config\nclusters:\n- name: adapter\n  cluster:\n"
        << "    server: https://127.0.0.1:" << port_ << "\n"
        << "    certificate-authority: " << current_ca_->cert_file() << "\n"
        << "users:\n- name: reader\n  user:\n    token: " << kReaderToken << "\n"
        << "- name: nobody\n  user:\n    token: " << kNobodyToken << "\n"
        << "- name: bad\n  user:\n    token: not-a-valid-token\n"
        << "contexts:\n- name: reader\n  context: {cluster: adapter, user: reader}\n"
        << "- name: nobody\n  context: {cluster: adapter, user: nobody}\n"
        << "- name: bad\n  context: {cluster: adapter, user: bad}\n"
        << "current-context: reader\n";
  }
  for (const char* path : {kQueryPath, kScalingPath}) {
    int code = -1;
    std::string out;
    ASSERT_TRUE(proc::PollUntil(
        [&] {
          out = integration::RunKubectl(kubeconfig, {"get", "--raw", path}, &code);
          return code == 0;
        },
        absl::Seconds(20)))
        << path << ": " << out;
    json j = json::parse(out, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << out;
    if (path == std::string(kQueryPath)) {
      EXPECT_EQ(j["total"], 35);
    }
    out = integration::RunKubectl(kubeconfig, {"--context=nobody", "get", "--raw", path}, &code);
    EXPECT_NE(code, 0);
    EXPECT_THAT(out, HasSubstr("Forbidden")) << path;
    out = integration::RunKubectl(kubeconfig, {"--context=bad", "get", "--raw", path}, &code);
    EXPECT_NE(code, 0);
    EXPECT_THAT(out, HasSubstr("Unauthorized")) << path;
  }
}

TEST_F(AuthIntegrationTest, FrontProxyAndClientCertificates) {
  auto proxy = ClientCert(*front_ca_, "proxy", "front-proxy-client");
  auto with = [](std::vector<std::string> a, std::vector<std::string> b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  std::vector<std::string> hpa_headers = {"-H", absl::StrCat("X-Remote-User: ", kHpaUser), "-H",
                                          "X-Remote-Group: system:serviceaccounts"};
  Curl first = Get("/apis", with(proxy, hpa_headers));
  EXPECT_EQ(first.status, 200) << first.body;
  // The front proxy's user is the one the SAR is about.
  EXPECT_EQ(Get(kExternalPath, with(proxy, hpa_headers)).status, 403);
  // A proxy certificate from another CA, a CN not allowed, an expired one: the headers count for
  // nothing.
  EXPECT_EQ(Get("/apis", with(ClientCert(*other_ca_, "forged", "front-proxy-client"), hpa_headers))
                .status,
            401);
  EXPECT_EQ(
      Get("/apis", with(ClientCert(*front_ca_, "intruder", "not-the-proxy"), hpa_headers)).status,
      401);
  EXPECT_EQ(
      Get("/apis", with(ClientCert(*front_ca_, "old", "front-proxy-client", {}, true), hpa_headers))
          .status,
      401);
  // A direct client certificate (the ConfigMap's client-ca-file): system:masters skip the SAR.
  size_t before = Reviews().size();
  EXPECT_NE(
      Get(kExternalPath, ClientCert(*client_ca_, "admin", "admin", {"system:masters"})).status,
      403);
  EXPECT_EQ(Reviews().size(), before);
  EXPECT_EQ(Get(kExternalPath, ClientCert(*client_ca_, "dev", "dev", {"devs"})).status, 403);
}

TEST_F(AuthIntegrationTest, ConfigMapChangesApplyWithoutRestart) {
  auto proxy = ClientCert(*front_ca_, "proxy2", "front-proxy-client");
  proxy.insert(proxy.end(), {"-H", absl::StrCat("X-Remote-User: ", kHpaUser)});
  ASSERT_EQ(Get("/apis", proxy).status, 200);
  PutConfigMap({"aggregator"});
  EXPECT_TRUE(
      proc::PollUntil([&] { return Get("/apis", proxy).status == 401; }, absl::Seconds(15)));
  PutConfigMap({"front-proxy-client"});
  EXPECT_TRUE(
      proc::PollUntil([&] { return Get("/apis", proxy).status == 200; }, absl::Seconds(15)));
}

TEST_F(AuthIntegrationTest, ServingCertificateRotation) {
  auto rotated = serving_ca2_->IssueServer(dir_->path(), "serving2");
  ASSERT_TRUE(rotated.ok());
  auto replace = [](const std::string& path, const std::string& contents) {
    std::string tmp = dir_->WriteFile("tls/tmp", contents);
    ASSERT_EQ(rename(tmp.c_str(), path.c_str()), 0);
  };
  replace(key_file_, rotated->key_pem);
  replace(cert_file_, rotated->cert_pem);
  EXPECT_TRUE(proc::PollUntil([&] { return Get("/livez", {}, serving_ca2_).status == 200; },
                              absl::Seconds(15)));
  current_ca_ = serving_ca2_;
  EXPECT_EQ(Get("/livez", {}, serving_ca_).status, 0);  // curl: the old CA no longer verifies
  EXPECT_THAT(testutil::ReadFileOrEmpty(adapter_->log_file()),
              HasSubstr("reloaded the serving certificate"));
}

TEST_F(AuthIntegrationTest, AdapterTokenFileRotation) {
  // The cluster rotates the adapter's service account token: the old one stops working, the file
  // gets the new one. TokenReviews (for a token not cached yet) keep working.
  fake_->SetRequiredToken(kAdapterToken2);
  std::string tmp = dir_->WriteFile("sa/token.new", kAdapterToken2);
  ASSERT_EQ(rename(tmp.c_str(), token_file_.c_str()), 0);
  EXPECT_EQ(Get("/apis", {"-H", absl::StrCat("Authorization: Bearer ", kSecondToken)}).status, 200);
}

TEST_F(AuthIntegrationTest, NoSecretInTheLog) {
  Get(kPodsPath, {"-H", absl::StrCat("Authorization: Bearer ", kHpaToken)});
  Get(kPodsPath, {"-H", "Authorization: Bearer wrong-token"});
  std::string log = testutil::ReadFileOrEmpty(adapter_->log_file());
  ASSERT_THAT(log, HasSubstr("unauthorized request"));
  ASSERT_THAT(log, HasSubstr("authentication trust from ConfigMap"));
  for (const char* secret : {kAdapterToken, kAdapterToken2, kHpaToken, kSecondToken, kReaderToken,
                             kNobodyToken, "wrong-token", "PRIVATE KEY", "BEGIN CERTIFICATE"}) {
    EXPECT_THAT(log, Not(HasSubstr(secret))) << secret;
  }
}

}  // namespace
}  // namespace aa
