// Tests of the shared TLS test helpers (tests/testutil/tls_certs.h), checked with OpenSSL's own
// verifier.
#include "testutil/tls_certs.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "testutil/temp_dir.h"

namespace aa::testutil {
namespace {

struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

X509Ptr Load(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return X509Ptr(x);
}

// OpenSSL's verdict on `leaf` against `ca`, with the given purpose.
int Verify(X509* ca, X509* leaf, int purpose) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, nullptr);
  X509_STORE_CTX_set_purpose(ctx, purpose);
  int ok = X509_verify_cert(ctx);
  int err = ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return err;
}

TEST(TlsCerts, ServerAndClientCertificatesChainToTheirCa) {
  TempDir dir;
  auto ca = TestCa::Create(dir.path(), "ca");
  ASSERT_TRUE(ca.ok()) << ca.status();
  EXPECT_EQ(ReadFileOrEmpty(ca->cert_file()), ca->cert_pem());
  EXPECT_NE(ReadFileOrEmpty(ca->key_file()).find("PRIVATE KEY"), std::string::npos);
  auto server = ca->IssueServer(dir.path(), "server", {"prometheus.example"});
  ASSERT_TRUE(server.ok()) << server.status();
  auto client = ca->IssueClient(dir.path(), "client", "system:kube-aggregator", {"system:masters"});
  ASSERT_TRUE(client.ok()) << client.status();

  X509Ptr ca_x = Load(ca->cert_pem());
  X509Ptr server_x = Load(ReadFileOrEmpty(server->cert_file));
  X509Ptr client_x = Load(client->cert_pem);
  ASSERT_TRUE(ca_x && server_x && client_x);
  EXPECT_EQ(Verify(ca_x.get(), server_x.get(), X509_PURPOSE_SSL_SERVER), X509_V_OK);
  EXPECT_EQ(Verify(ca_x.get(), client_x.get(), X509_PURPOSE_SSL_CLIENT), X509_V_OK);
  // Purposes are distinct: a client certificate is not a server certificate.
  EXPECT_NE(Verify(ca_x.get(), client_x.get(), X509_PURPOSE_SSL_SERVER), X509_V_OK);

  EXPECT_EQ(X509_check_ip_asc(server_x.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(server_x.get(), "::1", 0), 1);
  EXPECT_EQ(X509_check_host(server_x.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(server_x.get(), "prometheus.example", 0, 0, nullptr), 1);
  EXPECT_NE(X509_check_host(server_x.get(), "evil.example", 0, 0, nullptr), 1);

  char cn[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(client_x.get()), NID_commonName, cn, sizeof cn);
  EXPECT_STREQ(cn, "system:kube-aggregator");
  char org[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(client_x.get()), NID_organizationName, org,
                            sizeof org);
  EXPECT_STREQ(org, "system:masters");

  // Another CA does not vouch for them.
  auto other = TestCa::Create(dir.path(), "other");
  ASSERT_TRUE(other.ok());
  X509Ptr other_x = Load(other->cert_pem());
  EXPECT_NE(Verify(other_x.get(), server_x.get(), X509_PURPOSE_SSL_SERVER), X509_V_OK);
}

TEST(TlsCerts, ExpiredCertificatesAreExpired) {
  TempDir dir;
  auto ca = TestCa::Create(dir.path(), "ca");
  ASSERT_TRUE(ca.ok());
  auto client = ca->IssueClient(dir.path(), "old", "someone", {}, /*expired=*/true);
  ASSERT_TRUE(client.ok());
  X509Ptr ca_x = Load(ca->cert_pem());
  X509Ptr client_x = Load(client->cert_pem);
  EXPECT_EQ(Verify(ca_x.get(), client_x.get(), X509_PURPOSE_SSL_CLIENT),
            X509_V_ERR_CERT_HAS_EXPIRED);
}

TEST(TempDir, WritesAndCleansUp) {
  std::string path;
  {
    TempDir dir;
    path = dir.path();
    std::string f = dir.WriteFile("a/b.txt", "hello");
    EXPECT_EQ(f, path + "/a/b.txt");
    EXPECT_EQ(ReadFileOrEmpty(f), "hello");
  }
  EXPECT_EQ(ReadFileOrEmpty(path + "/a/b.txt"), "");
}

}  // namespace
}  // namespace aa::testutil
