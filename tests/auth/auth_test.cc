// Authentication and authorization of the HTTPS port, end to end over real TLS connections
// (cpp-httplib client with and without client certificates), with fake TokenReview and
// SubjectAccessReview backends.

#include <httplib.h>

#include <atomic>
#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "auth/authenticator.h"
#include "auth/authorizer.h"
#include "auth/filter.h"
#include "auth/serving_tls.h"
#include "common/log.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "net/server.h"
#include "nlohmann/json.hpp"
#include "testutil/temp_dir.h"
#include "testutil/tls_certs.h"

namespace aa::auth {
namespace {

using nlohmann::json;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

UserInfo User(std::string name) {
  UserInfo u;
  u.name = std::move(name);
  return u;
}

constexpr char kPodsPath[] = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/ns/pods/*/concurrency";

// Answers from a table; counts the calls.
class FakeTokenReviewer : public TokenReviewer {
 public:
  absl::StatusOr<TokenReviewResult> Review(const std::string& token) override {
    ++calls;
    if (down) return absl::UnavailableError("connection refused");
    auto it = users.find(token);
    if (it == users.end()) return TokenReviewResult{false, {}, "invalid bearer token"};
    return TokenReviewResult{true, it->second, ""};
  }
  std::map<std::string, UserInfo> users;
  std::atomic<int> calls{0};
  std::atomic<bool> down{false};
};

// Allows what `allow` says; records the last attributes.
class FakeAuthorizer : public Authorizer {
 public:
  absl::StatusOr<AuthorizationResult> Authorize(const Attributes& a) override {
    std::lock_guard lock(mu);
    ++calls;
    last = a;
    if (down) return absl::UnavailableError("SubjectAccessReview: connection refused");
    if (allow(a)) return AuthorizationResult{Decision::kAllow, "RBAC: allowed"};
    return AuthorizationResult{Decision::kDeny, "no RBAC policy matched"};
  }
  std::mutex mu;
  std::function<bool(const Attributes&)> allow = [](const Attributes&) { return true; };
  int calls = 0;
  bool down = false;
  Attributes last;
};

struct Client {
  std::string cert_file, key_file;  // empty: no client certificate
};

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server_ca = testutil::TestCa::Create(dir_.path(), "server-ca");
    auto front_ca = testutil::TestCa::Create(dir_.path(), "front-ca", "front-proxy-ca");
    auto client_ca = testutil::TestCa::Create(dir_.path(), "client-ca", "kubernetes");
    auto other_ca = testutil::TestCa::Create(dir_.path(), "other-ca", "attacker");
    ASSERT_TRUE(server_ca.ok() && front_ca.ok() && client_ca.ok() && other_ca.ok());
    server_ca_ = std::make_unique<testutil::TestCa>(*server_ca);
    front_ca_ = std::make_unique<testutil::TestCa>(*front_ca);
    client_ca_ = std::make_unique<testutil::TestCa>(*client_ca);
    other_ca_ = std::make_unique<testutil::TestCa>(*other_ca);
    auto serving = server_ca_->IssueServer(dir_.path(), "serving");
    ASSERT_TRUE(serving.ok());
    auto cert = ServingCertificate::Load(serving->cert_file, serving->key_file, clock_);
    ASSERT_TRUE(cert.ok()) << cert.status();
    serving_ = *std::move(cert);

    auto front = CaPool::FromFile(front_ca_->cert_file());
    auto direct = CaPool::FromFile(client_ca_->cert_file());
    ASSERT_TRUE(front.ok() && direct.ok());
    TrustConfig trust;
    trust.client_ca = *direct;
    RequestHeaderConfig rh;
    rh.client_ca = *front;
    rh.allowed_names = {"front-proxy-client", "aggregator"};
    rh.extra_headers_prefixes = {"X-Remote-Extra-"};
    trust.request_header = rh;
    trust_.Set(trust);
  }

  void TearDown() override {
    if (server_) server_->Stop();
  }

  // Starts the HTTPS server: the filter in front of a handler that echoes who it was.
  void Start(bool authn = true, bool authz = true) {
    authenticator_ =
        std::make_unique<Authenticator>(AuthenticatorOptions{&trust_, &tokens_cached_, &clock_});
    filter_ = std::make_unique<AuthFilter>(AuthFilterOptions{
        authn ? authenticator_.get() : nullptr, authz ? &authz_cached_ : nullptr, nullptr});
    net::HttpServerOptions options;
    options.name = "https";
    options.threads = 4;
    options.tls_setup = [this](ssl_ctx_st* ctx) { return serving_->ConfigureContext(ctx); };
    auto handler = filter_->Wrap([this](const net::HttpRequest& req) {
      net::HttpResponse r;
      json body = {{"path", req.path}};
      if (auto who = authenticator_->Authenticate(req); who.ok()) {
        body["user"] = who->user.name;
        body["groups"] = who->user.groups;
        body["extra"] = who->user.extra;
        body["method"] = who->method;
      }
      r.body = body.dump();
      return r;
    });
    auto server = net::StartHttpServer(options, handler);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  httplib::Result Get(const std::string& path, const Client& client = {},
                      const httplib::Headers& headers = {}) {
    std::unique_ptr<httplib::SSLClient> c;
    if (client.cert_file.empty()) {
      c = std::make_unique<httplib::SSLClient>("127.0.0.1", server_->port());
    } else {
      c = std::make_unique<httplib::SSLClient>("127.0.0.1", server_->port(), client.cert_file,
                                               client.key_file);
    }
    c->set_ca_cert_path(server_ca_->cert_file().c_str());
    c->enable_server_certificate_verification(true);
    return c->Get(path.c_str(), headers);
  }

  Client Issue(const testutil::TestCa& ca, const std::string& name, const std::string& cn,
               const std::vector<std::string>& orgs = {}, bool expired = false) {
    auto files = ca.IssueClient(dir_.path(), name, cn, orgs, expired);
    EXPECT_TRUE(files.ok()) << files.status();
    return Client{files->cert_file, files->key_file};
  }

  static json Body(const httplib::Result& r) { return json::parse(r->body); }

  testutil::TempDir dir_;
  SimulatedClock clock_{absl::Now()};
  std::unique_ptr<testutil::TestCa> server_ca_, front_ca_, client_ca_, other_ca_;
  std::unique_ptr<ServingCertificate> serving_;
  TrustStore trust_;
  FakeTokenReviewer tokens_;
  CachingTokenReviewer tokens_cached_{tokens_, clock_};
  FakeAuthorizer authz_;
  CachingAuthorizer authz_cached_{authz_, clock_};
  std::unique_ptr<Authenticator> authenticator_;
  std::unique_ptr<AuthFilter> filter_;
  std::unique_ptr<net::HttpServer> server_;
};

TEST_F(AuthTest, NoCredentialsIs401StatusButHealthIsOpen) {
  Start();
  auto r = Get(kPodsPath);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  json status = Body(r);
  EXPECT_EQ(status["kind"], "Status");
  EXPECT_EQ(status["reason"], "Unauthorized");
  EXPECT_EQ(status["code"], 401);
  for (const char* path : {"/healthz", "/livez", "/readyz", "/readyz/ping"}) {
    auto h = Get(path);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->status, 200) << path;
  }
  EXPECT_EQ(Get("/apis")->status, 401);
  EXPECT_EQ(Get("/healthzfoo")->status, 401);
  EXPECT_EQ(Get("/livez/../apis")->status, 401);
  EXPECT_EQ(authz_.calls, 0);
}

TEST_F(AuthTest, ForgedRemoteUserWithoutCertificateIsIgnored) {
  Start();
  httplib::Headers forged = {{"X-Remote-User", "system:admin"},
                             {"X-Remote-Group", "system:masters"}};
  auto r = Get(kPodsPath, {}, forged);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  // With a token, the token's user is the caller, not the header's.
  tokens_.users["good"] = UserInfo{"alice", "", {"devs"}, {}};
  httplib::Headers with_token = forged;
  with_token.emplace("Authorization", "Bearer good");
  r = Get(kPodsPath, {}, with_token);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(Body(r)["user"], "alice");
  EXPECT_EQ(Body(r)["method"], "token");
  EXPECT_EQ(authz_.last.user.name, "alice");
  EXPECT_THAT(authz_.last.user.groups, ElementsAre("devs"));
}

TEST_F(AuthTest, ForgedRemoteUserWithDirectClientCertificateIsIgnored) {
  Start();
  Client direct = Issue(*client_ca_, "bob", "bob", {"team-a", "team-b"});
  auto r = Get(kPodsPath, direct, {{"X-Remote-User", "system:admin"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(Body(r)["user"], "bob");
  EXPECT_EQ(Body(r)["method"], "x509");
  EXPECT_EQ(Body(r)["groups"], json({"team-a", "team-b"}));
}

TEST_F(AuthTest, FrontProxyHeadersTrustedWithValidProxyCertificate) {
  Start();
  Client proxy = Issue(*front_ca_, "proxy", "front-proxy-client");
  httplib::Headers headers = {{"X-Remote-User", "system:serviceaccount:kube-system:hpa"},
                              {"X-Remote-Group", "system:serviceaccounts"},
                              {"x-remote-group", "system:authenticated"},
                              {"X-Remote-Extra-Scopes", "a"},
                              {"X-Remote-Extra-Scopes", "b"},
                              {"X-Remote-Extra-Example.com%2Fteam", "x"}};
  auto r = Get(kPodsPath, proxy, headers);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json body = Body(r);
  EXPECT_EQ(body["user"], "system:serviceaccount:kube-system:hpa");
  EXPECT_EQ(body["method"], "front-proxy");
  EXPECT_EQ(body["groups"], json({"system:serviceaccounts", "system:authenticated"}));
  EXPECT_EQ(body["extra"]["scopes"], json({"a", "b"}));
  EXPECT_EQ(body["extra"]["example.com/team"], json({"x"}));
  // The authorizer saw that user and the custom metrics attributes.
  EXPECT_EQ(authz_.last.user.name, "system:serviceaccount:kube-system:hpa");
  EXPECT_EQ(authz_.last.resource, "pods");
  EXPECT_EQ(authz_.last.subresource, "concurrency");
  EXPECT_EQ(authz_.last.name, "*");
}

TEST_F(AuthTest, ProxyCertificateWithoutUserHeaderFallsThrough) {
  Start();
  Client proxy = Issue(*front_ca_, "proxy", "front-proxy-client");
  auto r = Get(kPodsPath, proxy);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
}

TEST_F(AuthTest, ProxyCertificateFromAnotherCaIsRejected) {
  Start();
  Client forged = Issue(*other_ca_, "forged-proxy", "front-proxy-client");
  auto r = Get(kPodsPath, forged, {{"X-Remote-User", "system:admin"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(authz_.calls, 0);
}

TEST_F(AuthTest, ProxyCertificateWithCnNotAllowedIsRejected) {
  Start();
  Client proxy = Issue(*front_ca_, "intruder", "someone-else");
  auto r = Get(kPodsPath, proxy, {{"X-Remote-User", "system:admin"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  // With no allowed names configured, any CN the CA signed is a proxy.
  TrustConfig trust = *trust_.Get();
  trust.request_header->allowed_names.clear();
  trust_.Set(trust);
  r = Get(kPodsPath, proxy, {{"X-Remote-User", "carol"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(Body(r)["user"], "carol");
}

TEST_F(AuthTest, ExpiredCertificatesAreRejected) {
  Start();
  Client proxy = Issue(*front_ca_, "old-proxy", "front-proxy-client", {}, /*expired=*/true);
  auto r = Get(kPodsPath, proxy, {{"X-Remote-User", "system:admin"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  Client direct = Issue(*client_ca_, "old-bob", "bob", {}, /*expired=*/true);
  r = Get(kPodsPath, direct);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  // Validity is checked at the injected clock's time: a valid certificate expires with it.
  Client fresh = Issue(*client_ca_, "bob", "bob");
  EXPECT_EQ(Get(kPodsPath, fresh)->status, 200);
  clock_.Advance(absl::Hours(25));
  EXPECT_EQ(Get(kPodsPath, fresh)->status, 401);
}

TEST_F(AuthTest, ClientCaSwappedAtRunTime) {
  Start();
  Client other = Issue(*other_ca_, "dave", "dave");
  EXPECT_EQ(Get(kPodsPath, other)->status, 401);
  TrustConfig trust = *trust_.Get();
  trust.client_ca = *CaPool::FromFile(other_ca_->cert_file());
  trust_.Set(trust);
  EXPECT_EQ(Get(kPodsPath, other)->status, 200);
}

TEST_F(AuthTest, BadTokenIs401AndReviewsAreCached) {
  Start();
  tokens_.users["good"] = UserInfo{"alice", "uid-1", {"devs"}, {}};
  auto r = Get(kPodsPath, {}, {{"Authorization", "Bearer nope"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(Body(r)["reason"], "Unauthorized");
  EXPECT_EQ(Get(kPodsPath, {}, {{"Authorization", "Bearer nope"}})->status, 401);
  EXPECT_EQ(tokens_.calls, 1);  // the negative answer is cached too
  EXPECT_EQ(Get(kPodsPath, {}, {{"Authorization", "bearer good"}})->status, 200);
  EXPECT_EQ(Get(kPodsPath, {}, {{"Authorization", "Bearer good"}})->status, 200);
  EXPECT_EQ(tokens_.calls, 2);
  clock_.Advance(absl::Seconds(11));
  EXPECT_EQ(Get(kPodsPath, {}, {{"Authorization", "Bearer good"}})->status, 200);
  EXPECT_EQ(tokens_.calls, 3);
  // A reviewer that cannot be reached: 401, and nothing cached.
  tokens_.down = true;
  EXPECT_EQ(Get(kPodsPath, {}, {{"Authorization", "Bearer other"}})->status, 401);
  EXPECT_EQ(Get(kPodsPath, {}, {{"Authorization", "Bearer other"}})->status, 401);
  EXPECT_EQ(tokens_.calls, 5);
  // Malformed headers carry no token.
  EXPECT_EQ(Get(kPodsPath, {}, {{"Authorization", "Basic Z29vZA=="}})->status, 401);
  EXPECT_EQ(Get(kPodsPath, {}, {{"Authorization", "Bearer"}})->status, 401);
  EXPECT_EQ(tokens_.calls, 5);
}

TEST_F(AuthTest, SarDenialIs403AllowIs200) {
  Start();
  tokens_.users["t"] = UserInfo{"alice", "", {"devs"}, {}};
  authz_.allow = [](const Attributes& a) { return a.namespace_ == "ns"; };
  httplib::Headers auth = {{"Authorization", "Bearer t"}};
  auto r = Get("/apis/custom.metrics.k8s.io/v1beta2/namespaces/other/pods/*/concurrency", {}, auth);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  json status = Body(r);
  EXPECT_EQ(status["reason"], "Forbidden");
  EXPECT_EQ(status["code"], 403);
  EXPECT_EQ(status["message"],
            "User \"alice\" cannot get resource \"pods/concurrency\" in API group "
            "\"custom.metrics.k8s.io\" in the namespace \"other\": no RBAC policy matched");
  r = Get(kPodsPath, {}, auth);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(Body(r)["user"], "alice");
}

TEST_F(AuthTest, AuthorizerUnreachableIs500) {
  Start();
  tokens_.users["t"] = UserInfo{"alice", "", {}, {}};
  authz_.down = true;
  auto r = Get(kPodsPath, {}, {{"Authorization", "Bearer t"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(Body(r)["reason"], "InternalError");
}

TEST_F(AuthTest, SystemMastersSkipAuthorization) {
  Start();
  authz_.allow = [](const Attributes&) { return false; };
  Client admin = Issue(*client_ca_, "admin", "kubernetes-admin", {"system:masters"});
  auto r = Get(kPodsPath, admin);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(authz_.calls, 0);
  Client user = Issue(*client_ca_, "user", "someone", {"devs"});
  EXPECT_EQ(Get(kPodsPath, user)->status, 403);
  EXPECT_EQ(authz_.calls, 1);
}

TEST_F(AuthTest, DecisionsAreCachedBriefly) {
  Start();
  tokens_.users["t"] = UserInfo{"alice", "", {}, {}};
  httplib::Headers auth = {{"Authorization", "Bearer t"}};
  EXPECT_EQ(Get(kPodsPath, {}, auth)->status, 200);
  EXPECT_EQ(Get(kPodsPath, {}, auth)->status, 200);
  EXPECT_EQ(authz_.calls, 1);
  authz_.allow = [](const Attributes&) { return false; };
  EXPECT_EQ(Get(kPodsPath, {}, auth)->status, 200);  // still the cached allow
  clock_.Advance(absl::Seconds(11));
  EXPECT_EQ(Get(kPodsPath, {}, auth)->status, 403);
  EXPECT_EQ(authz_.calls, 2);
  authz_.allow = [](const Attributes&) { return true; };
  EXPECT_EQ(Get(kPodsPath, {}, auth)->status, 403);  // the cached deny
  EXPECT_EQ(authz_.calls, 2);
  clock_.Advance(absl::Seconds(11));
  EXPECT_EQ(Get(kPodsPath, {}, auth)->status, 200);
  EXPECT_EQ(authz_.calls, 3);
  // Another path is another decision.
  EXPECT_EQ(Get("/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods", {}, auth)->status, 200);
  EXPECT_EQ(authz_.calls, 4);
}

TEST_F(AuthTest, AuthenticationAndAuthorizationOff) {
  Start(/*authn=*/false, /*authz=*/false);
  EXPECT_EQ(Get(kPodsPath)->status, 200);
  server_->Stop();
  server_.reset();
  Start(/*authn=*/true, /*authz=*/false);
  EXPECT_EQ(Get(kPodsPath)->status, 401);
  tokens_.users["t"] = UserInfo{"alice", "", {}, {}};
  authz_.allow = [](const Attributes&) { return false; };
  EXPECT_EQ(Get(kPodsPath, {}, {{"Authorization", "Bearer t"}})->status, 200);
  EXPECT_EQ(authz_.calls, 0);
}

// A "token" with bytes no Kubernetes token has (invalid UTF-8, controls) is refused without a
// TokenReview: it could not authenticate, and its JSON would need replacing anyway.
TEST(AuthenticatorTest, TokensOutsidePrintableAsciiAreNotReviewed) {
  TrustStore trust;
  SimulatedClock clock;
  FakeTokenReviewer tokens;
  tokens.users["good"] = UserInfo{"alice", "uid-1", {}, {}};
  Authenticator authenticator({.trust = &trust, .token_reviewer = &tokens, .clock = &clock});
  for (const char* token : {"\xff\xfe", "ab\xc3\x28", "tab\there"}) {
    net::HttpRequest r;
    r.headers.emplace_back("Authorization", std::string("Bearer ") + token);
    auto who = authenticator.Authenticate(r);
    EXPECT_EQ(who.status().code(), absl::StatusCode::kUnauthenticated) << token;
    EXPECT_THAT(std::string(who.status().message()), HasSubstr("outside printable ASCII"));
  }
  EXPECT_EQ(tokens.calls, 0);
  net::HttpRequest good;
  good.headers.emplace_back("Authorization", "Bearer good");
  EXPECT_TRUE(authenticator.Authenticate(good).ok());
  EXPECT_EQ(tokens.calls, 1);
  EXPECT_FALSE(IsTokenText("caf\xc3\xa9"));
  EXPECT_TRUE(IsTokenText("eyJhbGciOiJSUzI1NiJ9.e30.sig-_~+/="));
}

TEST(CacheTest, TokenCacheIsBounded) {
  SimulatedClock clock;
  FakeTokenReviewer backend;
  backend.users = {{"a", User("a")}, {"b", User("b")}, {"c", User("c")}};
  CachingTokenReviewer cache(backend, clock, absl::Seconds(10), /*max_entries=*/2);
  for (const char* t : {"a", "b", "c"}) ASSERT_TRUE(cache.Review(t).ok());
  EXPECT_EQ(backend.calls, 3);
  ASSERT_TRUE(cache.Review("c").ok());
  ASSERT_TRUE(cache.Review("b").ok());
  EXPECT_EQ(backend.calls, 3);  // b and c kept
  auto a = cache.Review("a");   // a was the oldest: dropped
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->user.name, "a");
  EXPECT_EQ(backend.calls, 4);
  EXPECT_EQ(cache.hits(), 2u);
  EXPECT_EQ(cache.misses(), 4u);
}

TEST(CacheTest, AuthorizerCacheIsBoundedAndKeyedOnEveryAttribute) {
  SimulatedClock clock;
  FakeAuthorizer backend;
  CachingAuthorizer cache(backend, clock, absl::Seconds(10), absl::Seconds(10), 2);
  Attributes a;
  a.user.name = "u";
  a.verb = "get";
  a.resource_request = true;
  a.resource = "pods";
  Attributes b = a;
  b.user.groups = {"g"};
  Attributes c = a;
  c.subresource = "cpu";
  for (const Attributes* x : {&a, &b, &c, &c, &b}) ASSERT_TRUE(cache.Authorize(*x).ok());
  EXPECT_EQ(backend.calls, 3);
  ASSERT_TRUE(cache.Authorize(a).ok());
  EXPECT_EQ(backend.calls, 4);
}

struct AttributesCase {
  std::string method, path, query;
  bool resource_request;
  std::string verb, ns, group, version, resource, subresource, name;
};

TEST(AttributesTest, LikeKubernetesRequestInfo) {
  const std::vector<AttributesCase> cases = {
      {"GET", "/apis/custom.metrics.k8s.io/v1beta2/namespaces/ns/pods/*/concurrency", "", true,
       "get", "ns", "custom.metrics.k8s.io", "v1beta2", "pods", "concurrency", "*"},
      {"GET", "/apis/custom.metrics.k8s.io/v1beta1/namespaces/ns/pods/web-1/cpu", "", true, "get",
       "ns", "custom.metrics.k8s.io", "v1beta1", "pods", "cpu", "web-1"},
      {"GET", "/apis/custom.metrics.k8s.io/v1beta2/namespaces/ns/metrics/requests", "", true, "get",
       "ns", "custom.metrics.k8s.io", "v1beta2", "metrics", "", "requests"},
      {"GET", "/apis/external.metrics.k8s.io/v1beta1/namespaces/ns/queue_depth", "", true, "list",
       "ns", "external.metrics.k8s.io", "v1beta1", "queue_depth", "", ""},
      {"GET", "/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods", "", true, "list", "ns",
       "metrics.k8s.io", "v1beta1", "pods", "", ""},
      {"GET", "/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods/p", "", true, "get", "ns",
       "metrics.k8s.io", "v1beta1", "pods", "", "p"},
      {"GET", "/apis/metrics.k8s.io/v1beta1/pods", "", true, "list", "", "metrics.k8s.io",
       "v1beta1", "pods", "", ""},
      {"GET", "/apis/metrics.k8s.io/v1beta1/nodes/n1", "", true, "get", "", "metrics.k8s.io",
       "v1beta1", "nodes", "", "n1"},
      {"GET", "/apis/metrics.k8s.io/v1beta1/pods", "watch=true", true, "watch", "",
       "metrics.k8s.io", "v1beta1", "pods", "", ""},
      {"GET", "/apis/metrics.k8s.io/v1beta1/namespaces/ns", "", true, "get", "ns", "metrics.k8s.io",
       "v1beta1", "namespaces", "", "ns"},
      {"GET", "/apis/metrics.k8s.io/v1beta1", "", false, "get", "", "", "", "", "", ""},
      {"GET", "/apis/metrics.k8s.io", "", false, "get", "", "", "", "", "", ""},
      {"GET", "/apis", "", false, "get", "", "", "", "", "", ""},
      {"GET", "/api/v1", "", false, "get", "", "", "", "", "", ""},
      {"GET", "/api/v1/namespaces/ns/pods", "", true, "list", "ns", "", "v1", "pods", "", ""},
      {"GET", "/openapi/v2", "", false, "get", "", "", "", "", "", ""},
      {"POST", "/apis/custom.metrics.k8s.io/v1beta2/namespaces/ns/pods/x", "", true, "create", "ns",
       "custom.metrics.k8s.io", "v1beta2", "pods", "", "x"},
  };
  for (const auto& c : cases) {
    net::HttpRequest req;
    req.method = c.method;
    req.path = c.path;
    if (!c.query.empty()) {
      auto eq = c.query.find('=');
      req.params.emplace(c.query.substr(0, eq), c.query.substr(eq + 1));
    }
    Attributes a = AttributesFor(req, User("u"));
    SCOPED_TRACE(c.path);
    EXPECT_EQ(a.resource_request, c.resource_request);
    EXPECT_EQ(a.verb, c.verb);
    EXPECT_EQ(a.namespace_, c.ns);
    EXPECT_EQ(a.api_group, c.group);
    EXPECT_EQ(a.api_version, c.version);
    EXPECT_EQ(a.resource, c.resource);
    EXPECT_EQ(a.subresource, c.subresource);
    EXPECT_EQ(a.name, c.name);
    EXPECT_EQ(a.path, c.resource_request ? "" : c.path);
  }
}

TEST(AttributesTest, ForbiddenMessages) {
  Attributes a;
  a.user.name = "u";
  a.verb = "get";
  a.path = "/apis";
  EXPECT_EQ(ForbiddenMessage(a, ""), "User \"u\" cannot get path \"/apis\"");
  a.resource_request = true;
  a.api_group = "metrics.k8s.io";
  a.resource = "nodes";
  a.verb = "list";
  EXPECT_EQ(ForbiddenMessage(a, "r"),
            "User \"u\" cannot list resource \"nodes\" in API group \"metrics.k8s.io\" at the "
            "cluster scope: r");
}

TEST(BearerTokenTest, ParsesLikeKubernetes) {
  net::HttpRequest r;
  EXPECT_EQ(BearerToken(r), "");
  r.headers = {{"authorization", "BeArEr abc"}};
  EXPECT_EQ(BearerToken(r), "abc");
  r.headers = {{"Authorization", "Bearer abc def"}};
  EXPECT_EQ(BearerToken(r), "abc");
  r.headers = {{"Authorization", "Bearer "}};
  EXPECT_EQ(BearerToken(r), "");
  r.headers = {{"Authorization", "Token abc"}};
  EXPECT_EQ(BearerToken(r), "");
}

TEST(CaPoolTest, BadBundlesNameTheSource) {
  auto empty = CaPool::FromPem("", "configmap key client-ca-file");
  ASSERT_FALSE(empty.ok());
  EXPECT_THAT(empty.status().message(), HasSubstr("configmap key client-ca-file"));
  auto garbage =
      CaPool::FromPem("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n", "x.pem");
  ASSERT_FALSE(garbage.ok());
  EXPECT_THAT(garbage.status().message(), HasSubstr("x.pem"));
  EXPECT_TRUE(absl::IsNotFound(CaPool::FromFile("/nonexistent/ca.crt").status()));
}

TEST(CaPoolTest, VerifiesChainsInPem) {
  testutil::TempDir dir;
  auto ca = testutil::TestCa::Create(dir.path(), "ca");
  auto other = testutil::TestCa::Create(dir.path(), "other");
  ASSERT_TRUE(ca.ok() && other.ok());
  auto pool = CaPool::FromPem(ca->cert_pem() + other->cert_pem(), "bundle");
  ASSERT_TRUE(pool.ok());
  EXPECT_EQ((*pool)->size(), 2u);
  auto leaf = other->IssueClient(dir.path(), "c", "carol", {"o1", "o2"});
  ASSERT_TRUE(leaf.ok());
  auto id = (*pool)->VerifyPem(leaf->cert_pem, absl::Now());
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->common_name, "carol");
  EXPECT_THAT(id->organizations, ElementsAre("o1", "o2"));
  auto only_ca = CaPool::FromPem(ca->cert_pem(), "ca");
  auto bad = (*only_ca)->VerifyPem(leaf->cert_pem, absl::Now());
  EXPECT_TRUE(absl::IsUnauthenticated(bad.status()));
  // A server-only certificate (extendedKeyUsage serverAuth) is no client certificate.
  auto server = other->IssueServer(dir.path(), "s");
  EXPECT_TRUE(absl::IsUnauthenticated((*pool)->VerifyPem(server->cert_pem, absl::Now()).status()));
}

TEST_F(AuthTest, NoSecretInTheLog) {
  ASSERT_TRUE(SetLogLevel("debug").ok());
  ::testing::internal::CaptureStderr();
  Start();
  tokens_.users["s3cr3t-good-token"] = UserInfo{"alice", "", {}, {}};
  authz_.allow = [](const Attributes&) { return false; };
  Get(kPodsPath, {}, {{"Authorization", "Bearer s3cr3t-bad-token"}});
  Get(kPodsPath, {}, {{"Authorization", "Bearer s3cr3t-good-token"}});
  tokens_.down = true;
  Get(kPodsPath, {}, {{"Authorization", "Bearer s3cr3t-other-token"}});
  authz_.down = true;
  clock_.Advance(absl::Seconds(20));
  tokens_.down = false;
  Get(kPodsPath, {}, {{"Authorization", "Bearer s3cr3t-good-token"}});
  Client forged = Issue(*other_ca_, "forged", "front-proxy-client");
  Get(kPodsPath, forged, {{"X-Remote-User", "x"}});
  std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(SetLogLevel("info").ok());
  EXPECT_THAT(log, HasSubstr("unauthorized request"));
  EXPECT_THAT(log, HasSubstr("forbidden request"));
  EXPECT_THAT(log, HasSubstr("authorization failed"));
  EXPECT_THAT(log, Not(HasSubstr("s3cr3t")));
  EXPECT_THAT(log, Not(HasSubstr("PRIVATE KEY")));
  EXPECT_THAT(log, Not(HasSubstr("BEGIN CERTIFICATE")));
}

// ---- what reviews may cost the Kubernetes API

TEST(ReviewBudgetTest, RatePerKeyWithBurstAndRefill) {
  SimulatedClock clock;
  internal::ReviewBudget budget(clock, {.per_second = 2, .burst = 4, .max_in_flight = 0});
  int granted = 0;
  for (int i = 0; i < 10; ++i) {
    if (budget.TryAcquire("a")) {
      ++granted;
      budget.Release();
    }
  }
  EXPECT_EQ(granted, 4);                // the burst
  EXPECT_TRUE(budget.TryAcquire("b"));  // another key has its own bucket
  budget.Release();
  EXPECT_FALSE(budget.TryAcquire("a"));
  clock.Advance(absl::Milliseconds(500));  // one more at 2 per second
  EXPECT_TRUE(budget.TryAcquire("a"));
  budget.Release();
  EXPECT_FALSE(budget.TryAcquire("a"));
  clock.Advance(absl::Hours(1));  // refills to the burst, not beyond
  granted = 0;
  for (int i = 0; i < 10; ++i) {
    if (budget.TryAcquire("a")) {
      ++granted;
      budget.Release();
    }
  }
  EXPECT_EQ(granted, 4);
}

TEST(ReviewBudgetTest, InFlightCapOverAllKeys) {
  SimulatedClock clock;
  internal::ReviewBudget budget(clock, {.per_second = 0, .burst = 1, .max_in_flight = 2});
  EXPECT_TRUE(budget.TryAcquire("a"));
  EXPECT_TRUE(budget.TryAcquire("b"));
  EXPECT_FALSE(budget.TryAcquire("c"));
  budget.Release();
  EXPECT_TRUE(budget.TryAcquire("c"));
}

TEST(ReviewBudgetTest, KeysAreBounded) {
  SimulatedClock clock;
  internal::ReviewBudget budget(clock,
                                {.per_second = 1, .burst = 1, .max_in_flight = 0, .max_keys = 2});
  ASSERT_TRUE(budget.TryAcquire("a"));
  budget.Release();
  clock.Advance(absl::Milliseconds(1));
  EXPECT_FALSE(budget.TryAcquire("a"));  // empty bucket, remembered (last used now)
  clock.Advance(absl::Milliseconds(1));
  ASSERT_TRUE(budget.TryAcquire("b"));
  budget.Release();
  clock.Advance(absl::Milliseconds(1));
  ASSERT_TRUE(budget.TryAcquire("c"));  // drops the bucket used longest ago: "a"'s
  budget.Release();
  EXPECT_TRUE(budget.TryAcquire("a"));  // a new, full bucket
}

TEST(BoundedTokenReviewerTest, InventedTokensCannotFloodTheApiOrLockOutKnownOnes) {
  SimulatedClock clock;
  FakeTokenReviewer backend;
  backend.users = {{"real", User("alice")}};
  BoundedTokenReviewer bounded(backend, clock, {.per_second = 10, .burst = 20, .max_in_flight = 4});
  ASSERT_TRUE(bounded.Review("real").value().authenticated);  // remembered from now on
  int refused = 0;
  for (int i = 0; i < 1000; ++i) {
    auto r = bounded.Review(absl::StrCat("invented-", i));
    if (!r.ok()) {
      EXPECT_TRUE(absl::IsResourceExhausted(r.status())) << r.status();
      ++refused;
    } else {
      EXPECT_FALSE(r->authenticated);
    }
  }
  EXPECT_EQ(refused, 1000 - 19);     // the burst, less the one "real" took
  EXPECT_EQ(backend.calls, 1 + 19);  // the refused ones never reached the Kubernetes API
  EXPECT_EQ(bounded.refused(), 981u);
  // The budget is empty, but a token that authenticated before is still reviewed.
  auto again = bounded.Review("real");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->authenticated);
  clock.Advance(absl::Seconds(1));
  int granted = 0;
  for (int i = 0; i < 100; ++i) granted += bounded.Review(absl::StrCat("later-", i)).ok() ? 1 : 0;
  EXPECT_EQ(granted, 10);
}

TEST(BoundedAuthorizerTest, OneUsersFloodLeavesOthersAlone) {
  SimulatedClock clock;
  FakeAuthorizer backend;
  BoundedAuthorizer bounded(backend, clock, {.per_second = 5, .burst = 10, .max_in_flight = 4});
  Attributes a;
  a.user.name = "tenant";
  a.verb = "get";
  a.resource_request = true;
  a.resource = "pods";
  int refused = 0;
  for (int i = 0; i < 500; ++i) {
    a.namespace_ = absl::StrCat("invented-", i);
    auto r = bounded.Authorize(a);
    if (!r.ok()) {
      EXPECT_TRUE(absl::IsResourceExhausted(r.status()));
      EXPECT_THAT(std::string(r.status().message()), HasSubstr("tenant"));
      ++refused;
    }
  }
  EXPECT_EQ(refused, 490);
  EXPECT_EQ(backend.calls, 10);
  Attributes hpa = a;
  hpa.user.name = "hpa";
  EXPECT_TRUE(bounded.Authorize(hpa).ok());
}

TEST(AuthFilterTest, OverTheReviewBudgetIs429WithRetryAfter) {
  SimulatedClock clock;
  TrustStore trust;
  FakeTokenReviewer tokens;
  tokens.users = {{"real", User("alice")}};
  BoundedTokenReviewer bounded_tokens(tokens, clock, {.per_second = 1, .burst = 1});
  FakeAuthorizer authz;
  BoundedAuthorizer bounded_authz(authz, clock, {.per_second = 1, .burst = 1});
  Authenticator authenticator({&trust, &bounded_tokens, &clock});
  AuthFilter filter({&authenticator, &bounded_authz, nullptr});
  auto request = [](const std::string& token, const std::string& ns) {
    net::HttpRequest r;
    r.method = "GET";
    r.path = absl::StrCat("/apis/custom.metrics.k8s.io/v1beta2/namespaces/", ns, "/pods/*/m");
    r.headers = {{"Authorization", absl::StrCat("Bearer ", token)}};
    return r;
  };
  EXPECT_EQ(filter.Check(request("real", "a")), std::nullopt);
  // The token budget is spent: an unknown token is 429, not 401, and nothing was asked.
  auto throttled = filter.Check(request("invented", "a"));
  ASSERT_TRUE(throttled.has_value());
  EXPECT_EQ(throttled->status, 429);
  json status = json::parse(throttled->body);
  EXPECT_EQ(status["code"], 429);
  EXPECT_THAT(status["message"].get<std::string>(), HasSubstr("Too many requests"));
  EXPECT_THAT(throttled->headers,
              Contains(std::pair<std::string, std::string>("Retry-After", "1")));
  EXPECT_EQ(tokens.calls, 1);
  // alice's access-review budget is spent too: another namespace is 429.
  auto second = filter.Check(request("real", "b"));
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->status, 429);
  EXPECT_EQ(authz.calls, 1);
}

}  // namespace
}  // namespace aa::auth
