// The serving certificate: loaded from files, TLS >= 1.2, and rotated without a restart.

#include "auth/serving_tls.h"

#include <httplib.h>
#include <openssl/ssl.h>

#include <cstdio>
#include <memory>

#include "common/log.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "net/server.h"
#include "testutil/temp_dir.h"
#include "testutil/tls_certs.h"

namespace aa::auth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class ServingTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto a = testutil::TestCa::Create(dir_.path(), "ca-a");
    auto b = testutil::TestCa::Create(dir_.path(), "ca-b");
    ASSERT_TRUE(a.ok() && b.ok());
    ca_a_ = std::make_unique<testutil::TestCa>(*a);
    ca_b_ = std::make_unique<testutil::TestCa>(*b);
    auto ca = ca_a_->IssueServer(dir_.path(), "a");
    auto cb = ca_b_->IssueServer(dir_.path(), "b");
    ASSERT_TRUE(ca.ok() && cb.ok());
    cert_a_ = *ca;
    cert_b_ = *cb;
    cert_file_ = dir_.WriteFile("live/tls.crt", cert_a_.cert_pem);
    key_file_ = dir_.WriteFile("live/tls.key", cert_a_.key_pem);
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  void Start() {
    auto cert = ServingCertificate::Load(cert_file_, key_file_, clock_, absl::Seconds(1));
    ASSERT_TRUE(cert.ok()) << cert.status();
    cert_ = *std::move(cert);
    net::HttpServerOptions options;
    options.name = "https";
    options.threads = 2;
    options.tls_setup = [this](ssl_ctx_st* ctx) { return cert_->ConfigureContext(ctx); };
    auto server = net::StartHttpServer(options, [](const net::HttpRequest&) {
      net::HttpResponse r;
      r.content_type = "text/plain";
      r.body = "ok";
      return r;
    });
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  // Whether a fresh connection trusting only `ca` gets an answer.
  bool Trusted(const testutil::TestCa& ca) {
    httplib::SSLClient client("127.0.0.1", server_->port());
    client.set_ca_cert_path(ca.cert_file().c_str());
    client.enable_server_certificate_verification(true);
    auto r = client.Get("/");
    return r && r->status == 200;
  }

  // Replaces a file the way a rename-based writer does (new inode).
  void Replace(const std::string& path, const std::string& contents) {
    std::string tmp = path + ".new";
    FILE* f = fopen(tmp.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fwrite(contents.data(), 1, contents.size(), f);
    fclose(f);
    ASSERT_EQ(rename(tmp.c_str(), path.c_str()), 0);
  }

  testutil::TempDir dir_;
  SimulatedClock clock_{absl::Now()};
  std::unique_ptr<testutil::TestCa> ca_a_, ca_b_;
  testutil::CertFiles cert_a_, cert_b_;
  std::string cert_file_, key_file_;
  std::unique_ptr<ServingCertificate> cert_;
  std::unique_ptr<net::HttpServer> server_;
};

TEST_F(ServingTlsTest, RotatedFilesServedToNewHandshakesWithoutRestart) {
  Start();
  EXPECT_TRUE(Trusted(*ca_a_));
  EXPECT_FALSE(Trusted(*ca_b_));
  const std::string fingerprint_a = cert_->Fingerprint();

  Replace(cert_file_, cert_b_.cert_pem);
  Replace(key_file_, cert_b_.key_pem);
  // Within the check interval the files are not looked at.
  EXPECT_TRUE(Trusted(*ca_a_));
  clock_.Advance(absl::Seconds(2));
  EXPECT_TRUE(Trusted(*ca_b_));
  EXPECT_FALSE(Trusted(*ca_a_));
  EXPECT_EQ(cert_->reloads(), 1);
  EXPECT_NE(cert_->Fingerprint(), fingerprint_a);
}

TEST_F(ServingTlsTest, HalfRotatedPairKeepsServingTheOldOne) {
  Start();
  ::testing::internal::CaptureStderr();
  Replace(cert_file_, cert_b_.cert_pem);  // the key is still A's
  clock_.Advance(absl::Seconds(2));
  EXPECT_TRUE(Trusted(*ca_a_));
  EXPECT_EQ(cert_->reloads(), 0);
  auto again = cert_->ReloadIfChanged();
  EXPECT_FALSE(again.ok());
  EXPECT_THAT(again.status().message(), HasSubstr("does not match"));
  Replace(key_file_, cert_b_.key_pem);
  clock_.Advance(absl::Seconds(2));
  EXPECT_TRUE(Trusted(*ca_b_));
  EXPECT_EQ(cert_->reloads(), 1);
  std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(log, HasSubstr("cannot be loaded"));
  EXPECT_THAT(log, HasSubstr("reloaded the serving certificate"));
  EXPECT_THAT(log, Not(HasSubstr("PRIVATE KEY")));
  EXPECT_THAT(log, Not(HasSubstr("BEGIN CERTIFICATE")));
}

TEST_F(ServingTlsTest, ReloadIfChangedIsANoOpWhenUnchanged) {
  Start();
  auto r = cert_->ReloadIfChanged();
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
}

TEST_F(ServingTlsTest, BadFilesAreRejectedAtLoadWithoutTheirContents) {
  auto missing = ServingCertificate::Load(dir_.File("nope.crt"), key_file_, clock_);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("nope.crt"));
  auto mismatch = ServingCertificate::Load(cert_file_, cert_b_.key_file, clock_);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_THAT(mismatch.status().message(), HasSubstr("does not match"));
  std::string garbage = dir_.WriteFile("garbage.key", "-----BEGIN PRIVATE KEY-----\nQUJD\n");
  auto bad_key = ServingCertificate::Load(cert_file_, garbage, clock_);
  ASSERT_FALSE(bad_key.ok());
  EXPECT_THAT(bad_key.status().message(), Not(HasSubstr("QUJD")));
}

TEST_F(ServingTlsTest, OldProtocolVersionsAreRefused) {
  Start();
  // A raw OpenSSL client limited to TLS 1.1 cannot complete a handshake.
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  ASSERT_NE(ctx, nullptr);
  SSL_CTX_set_security_level(ctx, 0);
  SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_1_VERSION);
  BIO* bio = BIO_new_ssl_connect(ctx);
  BIO_set_conn_hostname(bio, ("127.0.0.1:" + std::to_string(server_->port())).c_str());
  EXPECT_LE(BIO_do_handshake(bio), 0);
  BIO_free_all(bio);
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
  bio = BIO_new_ssl_connect(ctx);
  BIO_set_conn_hostname(bio, ("127.0.0.1:" + std::to_string(server_->port())).c_str());
  EXPECT_EQ(BIO_do_handshake(bio), 1);
  BIO_free_all(bio);
  SSL_CTX_free(ctx);
}

}  // namespace
}  // namespace aa::auth
