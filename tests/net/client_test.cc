#include "net/client.h"

#include <httplib.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testutil/loopback_http.h"
#include "testutil/temp_dir.h"
#include "testutil/tls_certs.h"

namespace aa::net {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

constexpr char kBody[] = R"({"status":"success"})";

std::unique_ptr<Client> MustClient(ClientOptions options) {
  if (!options.proxy.has_value()) options.proxy = ProxyEnvironment{};  // not the test's environment
  auto client = Client::Create(std::move(options));
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

// ---- connections and the stale-connection retry -------------------------------------------------

TEST(NetClient, KeptAliveConnectionIsReused) {
  testutil::DroppingServer server(kBody);
  auto client = MustClient({.url = server.Url()});
  for (int i = 0; i < 3; ++i) {
    Result r = client->Send({.target = "/x"});
    ASSERT_TRUE(r.ok()) << r.detail;
    EXPECT_EQ(r.response.status, 200);
    EXPECT_EQ(r.response.body, kBody);
    ASSERT_NE(r.response.Header("content-type"), nullptr);
    EXPECT_EQ(*r.response.Header("content-type"), "application/json");
  }
  EXPECT_THAT(server.Connections(), ElementsAre(1, 1, 1));
}

TEST(NetClient, RequestOnAConnectionClosedAsItIsReusedIsSentOnceMoreOnANewOne) {
  testutil::DroppingServer server(kBody);
  auto client = MustClient({.url = server.Url()});
  ASSERT_TRUE(client->Send({.target = "/x"}).ok());
  server.DropNext(1);
  Result get = client->Send({.target = "/x"});
  ASSERT_TRUE(get.ok()) << get.detail;
  EXPECT_EQ(get.response.body, kBody);
  EXPECT_THAT(server.Connections(), ElementsAre(1, 1, 2));

  server.DropNext(1);
  Result post = client->Send(
      {.method = "POST", .target = "/y", .body = "{}", .content_type = "application/json"});
  ASSERT_TRUE(post.ok()) << post.detail;
  EXPECT_THAT(server.Connections(), ElementsAre(1, 1, 2, 2, 3));
}

TEST(NetClient, FailureOnANewConnectionIsNotRetried) {
  testutil::DroppingServer server(kBody);
  auto client = MustClient({.url = server.Url()});
  server.DropNext(1);
  Result r = client->Send({.target = "/x"});
  EXPECT_EQ(r.failure, Failure::kNetwork);
  EXPECT_EQ(r.response.status, 0);
  EXPECT_THAT(server.Connections(), ElementsAre(1));
}

TEST(NetClient, StaleConnectionRetryHappensOnceOnly) {
  testutil::DroppingServer server(kBody);
  auto client = MustClient({.url = server.Url()});
  ASSERT_TRUE(client->Send({.target = "/x"}).ok());
  server.DropNext(2);
  EXPECT_EQ(client->Send({.target = "/x"}).failure, Failure::kNetwork);
  EXPECT_THAT(server.Connections(), ElementsAre(1, 1, 2));
  EXPECT_TRUE(client->Send({.target = "/x"}).ok());
}

TEST(NetClient, BodyOverTheLimitIsRefusedOnItsContentLength) {
  testutil::DroppingServer server(std::string(100, 'x'));
  auto client = MustClient({.url = server.Url()});
  Result r = client->Send({.target = "/x", .max_body_bytes = 10});
  EXPECT_EQ(r.failure, Failure::kTooLarge);
  EXPECT_EQ(r.detail, "Content-Length 100");
}

TEST(NetClient, ChunkedAnswerGetsTheRoomExpectedBeforeItArrives) {
  // A chunked answer (no Content-Length, as Prometheus sends large ones) of 100,000 bytes: with
  // expected_body_bytes its body is reserved before the first chunk, not regrown as chunks arrive,
  // and never beyond max_body_bytes.
  const std::string piece(1000, 'x');
  httplib::Server server;
  server.Get("/x", [&](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("application/json",
                                     [&](size_t offset, httplib::DataSink& sink) {
                                       if (offset >= 100 * piece.size()) {
                                         sink.done();
                                       } else {
                                         sink.write(piece.data(), piece.size());
                                       }
                                       return true;
                                     });
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread thread([&] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::yield();
  auto client = MustClient({.url = absl::StrCat("http://127.0.0.1:", port)});

  Result r = client->Send({.target = "/x", .expected_body_bytes = 1 << 20});
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_EQ(r.response.Header("Content-Length"), nullptr);
  EXPECT_EQ(r.response.body, std::string(100000, 'x'));
  EXPECT_GE(r.response.body.capacity(), size_t{1} << 20);

  r = client->Send({.target = "/x", .max_body_bytes = 150000, .expected_body_bytes = 1 << 30});
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_GE(r.response.body.capacity(), 150000u);
  EXPECT_LT(r.response.body.capacity(), 300000u);

  r = client->Send({.target = "/x"});  // nothing expected: it grows as it arrives
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_EQ(r.response.body.size(), 100000u);
  EXPECT_LT(r.response.body.capacity(), 300000u);
  server.stop();
  thread.join();
}

TEST(NetClient, ConnectionRefusedIsANetworkFailure) {
  int port;
  { port = testutil::DroppingServer("").port(); }  // closed again: nothing listens there
  auto client = MustClient({.url = "http://127.0.0.1:" + std::to_string(port)});
  Result r = client->Send({.target = "/x"});
  EXPECT_EQ(r.failure, Failure::kNetwork);
}

TEST(NetClient, CreateRejectsBadOptions) {
  EXPECT_THAT(Client::Create({.url = "ftp://x"}).status().message(), HasSubstr("url: "));
  EXPECT_THAT(Client::Create({.url = "https://x", .tls = {.ca_pem = "garbage"}}).status().message(),
              HasSubstr("tls: CA: no PEM certificate"));
  EXPECT_THAT(
      Client::Create({.url = "https://x", .proxy = ProxyEnvironment{.https_proxy = "socks5://p"}})
          .status()
          .message(),
      HasSubstr("HTTPS_PROXY"));
}

// ---- TLS ---------------------------------------------------------------------------------------

// An HTTPS server (cpp-httplib) that records the SNI of each handshake and the CN of the client
// certificate of each request.
class TlsServer {
 public:
  TlsServer(const testutil::CertFiles& cert, const std::string& client_ca_file = "") {
    server_ = std::make_unique<httplib::SSLServer>([&, this](SSL_CTX& ctx) {
      if (SSL_CTX_use_certificate_chain_file(&ctx, cert.cert_file.c_str()) != 1 ||
          SSL_CTX_use_PrivateKey_file(&ctx, cert.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
        return false;
      }
      if (!client_ca_file.empty()) {
        SSL_CTX_load_verify_locations(&ctx, client_ca_file.c_str(), nullptr);
        SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      }
      SSL_CTX_set_tlsext_servername_arg(&ctx, this);
      SSL_CTX_set_tlsext_servername_callback(&ctx, &TlsServer::OnServerName);
      return true;
    });
    server_->Get("/x", [this](const httplib::Request& req, httplib::Response& res) {
      std::string cn;
      if (X509* peer = SSL_get1_peer_certificate(req.ssl)) {
        char buf[256] = {};
        X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, buf, sizeof buf);
        cn = buf;
        X509_free(peer);
      }
      std::lock_guard lock(mu_);
      client_cns_.push_back(cn);
      res.set_content(kBody, "application/json");
    });
    port_ = server_->bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    while (!server_->is_running()) std::this_thread::yield();
  }
  ~TlsServer() {
    server_->stop();
    thread_.join();
  }
  int port() const { return port_; }
  std::vector<std::string> server_names() {
    std::lock_guard lock(mu_);
    return server_names_;
  }
  std::vector<std::string> client_cns() {
    std::lock_guard lock(mu_);
    return client_cns_;
  }

 private:
  static int OnServerName(SSL* ssl, int*, void* arg) {
    auto* self = static_cast<TlsServer*>(arg);
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    std::lock_guard lock(self->mu_);
    self->server_names_.push_back(name ? name : "");
    return SSL_TLSEXT_ERR_OK;
  }

  std::unique_ptr<httplib::SSLServer> server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::vector<std::string> server_names_;
  std::vector<std::string> client_cns_;
};

class NetTls : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = testutil::TestCa::Create(dir_.path(), "ca");
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = std::make_unique<testutil::TestCa>(*std::move(ca));
  }
  testutil::CertFiles Named(const std::string& file, const std::string& dns) {
    testutil::CertSpec spec;
    spec.common_name = dns;
    spec.dns_names = {dns};
    spec.server_auth = true;
    auto cert = ca_->Issue(dir_.path(), file, spec);
    EXPECT_TRUE(cert.ok()) << cert.status();
    return *cert;
  }
  testutil::TempDir dir_;
  std::unique_ptr<testutil::TestCa> ca_;
};

TEST_F(NetTls, ServerNameIsSentAsSniAndVerified) {
  TlsServer server(Named("named", "prom.internal"));
  std::string url = "https://127.0.0.1:" + std::to_string(server.port());
  // The certificate has no IP SAN: 127.0.0.1 does not verify.
  Result wrong =
      MustClient({.url = url, .tls = {.ca_pem = ca_->cert_pem()}})->Send({.target = "/x"});
  EXPECT_EQ(wrong.failure, Failure::kTlsVerification);
  EXPECT_THAT(wrong.detail, HasSubstr("mismatch"));
  Result r =
      MustClient({.url = url, .tls = {.ca_pem = ca_->cert_pem(), .server_name = "prom.internal"}})
          ->Send({.target = "/x"});
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_EQ(r.response.status, 200);
  ASSERT_FALSE(server.server_names().empty());
  EXPECT_EQ(server.server_names().back(), "prom.internal");
  // Unverified on request.
  EXPECT_TRUE(
      MustClient({.url = url, .tls = {.insecure_skip_verify = true}})->Send({.target = "/x"}).ok());
}

TEST_F(NetTls, ChangedClientCertificateFilesAreUsedByNewConnections) {
  auto server_cert = ca_->IssueServer(dir_.path(), "server");
  ASSERT_TRUE(server_cert.ok());
  TlsServer server(*server_cert, ca_->cert_file());
  auto first = ca_->IssueClient(dir_.path(), "client", "first");
  ASSERT_TRUE(first.ok());
  auto client = MustClient({.url = "https://127.0.0.1:" + std::to_string(server.port()),
                            .tls = {.ca_file = ca_->cert_file(),
                                    .cert_file = first->cert_file,
                                    .key_file = first->key_file}});
  ASSERT_TRUE(client->Send({.target = "/x", .keep_alive = false}).ok());
  // Rotated in place (same file names), as cert-manager or a projected volume does.
  auto second = ca_->IssueClient(dir_.path(), "client", "second-identity");
  ASSERT_TRUE(second.ok());
  Result r = client->Send({.target = "/x", .keep_alive = false});
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_THAT(server.client_cns(), ElementsAre("first", "second-identity"));
  // A half-written rotation (garbage key) keeps the last good pair.
  dir_.WriteFile("client.key", "not a key");
  ASSERT_TRUE(client->Send({.target = "/x", .keep_alive = false}).ok());
  EXPECT_EQ(server.client_cns().back(), "second-identity");
}

// ---- proxies -----------------------------------------------------------------------------------

TEST(NetProxy, HttpTargetsAreRequestedFromTheProxyInAbsoluteForm) {
  testutil::DroppingServer target(kBody);
  testutil::ConnectProxy proxy(
      {{"prom.example:9090", "127.0.0.1:" + std::to_string(target.port())}});
  auto client = MustClient({.url = "http://prom.example:9090/prefix",
                            .proxy = ProxyEnvironment{.http_proxy = proxy.Url()}});
  ASSERT_TRUE(client->proxy().has_value());
  Result r = client->Send({.target = "/api/v1/query?query=up"});
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_EQ(r.response.body, kBody);
  ASSERT_EQ(proxy.Requests().size(), 1u);
  EXPECT_THAT(proxy.Requests()[0],
              StartsWith("GET http://prom.example:9090/prefix/api/v1/query?query=up HTTP/1.1\r\n"));
  EXPECT_THAT(target.Connections(), ElementsAre(1));
}

TEST_F(NetTls, HttpsTargetsTunnelThroughConnectWithTlsEndToEnd) {
  TlsServer target(Named("kube", "kube.example"));
  testutil::ConnectProxy proxy(
      {{"kube.example:443", "127.0.0.1:" + std::to_string(target.port())}});
  auto client = MustClient(
      {.url = "https://kube.example",
       .tls = {.ca_pem = ca_->cert_pem()},
       .proxy = ProxyEnvironment{.http_proxy = "http://wrong:1", .https_proxy = proxy.Url()}});
  for (int i = 0; i < 2; ++i) {
    Result r = client->Send({.target = "/x"});
    ASSERT_TRUE(r.ok()) << r.detail;
    EXPECT_EQ(r.response.body, kBody);
  }
  // One tunnel, kept alive for the second request; the proxy saw CONNECT, never the request.
  ASSERT_EQ(proxy.Requests().size(), 1u);
  EXPECT_THAT(proxy.Requests()[0], StartsWith("CONNECT kube.example:443 HTTP/1.1\r\n"));
  EXPECT_THAT(target.server_names(), ElementsAre("kube.example"));

  // A proxy that refuses the tunnel (502 for an unknown target) is a network failure.
  auto unknown = MustClient({.url = "https://other.example",
                             .tls = {.ca_pem = ca_->cert_pem()},
                             .proxy = ProxyEnvironment{.https_proxy = proxy.Url()}});
  EXPECT_EQ(unknown->Send({.target = "/x"}).failure, Failure::kNetwork);
}

TEST_F(NetTls, NoProxyAndLoopbackTargetsGoDirect) {
  TlsServer target(Named("local", "localhost"));
  testutil::ConnectProxy proxy({});
  ProxyEnvironment env{.https_proxy = proxy.Url(), .no_proxy = "kube.example,10.0.0.0/8"};
  // Loopback: always direct; the request succeeds without the proxy.
  auto local = MustClient({.url = "https://localhost:" + std::to_string(target.port()),
                           .tls = {.ca_pem = ca_->cert_pem()},
                           .proxy = env});
  EXPECT_FALSE(local->proxy().has_value());
  Result r = local->Send({.target = "/x"});
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_THAT(proxy.Requests(), IsEmpty());
  // NO_PROXY by name and by CIDR (decided at Create; the names need not resolve).
  EXPECT_FALSE(MustClient({.url = "https://kube.example", .proxy = env})->proxy().has_value());
  EXPECT_FALSE(MustClient({.url = "https://10.96.0.1", .proxy = env})->proxy().has_value());
  auto proxied = MustClient({.url = "https://kube2.example", .proxy = env});
  ASSERT_TRUE(proxied->proxy().has_value());
  EXPECT_EQ(proxied->proxy()->port, proxy.port());
}

}  // namespace
}  // namespace aa::net
