// The HTTPS port's TLS policy: Kubernetes' names and defaults, refusals by name, and what an
// OpenSSL context ends up offering.

#include "auth/tls_policy.h"

#include <openssl/ssl.h>

#include <memory>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace aa::auth {
namespace {

using ::testing::HasSubstr;

// The suites `policy` makes a server context offer (OpenSSL names).
std::set<std::string> Offered(const TlsPolicy& policy) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_server_method()),
                                                        SSL_CTX_free);
  EXPECT_TRUE(ApplyTlsPolicy(policy, ctx.get()).ok());
  EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx.get()), policy.min_version);
  std::set<std::string> out;
  STACK_OF(SSL_CIPHER)* ciphers = SSL_CTX_get_ciphers(ctx.get());
  for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i) {
    out.insert(SSL_CIPHER_get_name(sk_SSL_CIPHER_value(ciphers, i)));
  }
  return out;
}

TEST(TlsPolicy, DefaultIsKubernetesForwardSecretAeadListAndTls13) {
  auto policy = ParseTlsPolicy({}, "");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->min_version, TLS1_2_VERSION);
  EXPECT_EQ(Offered(*policy),
            (std::set<std::string>{"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
                                   "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
                                   "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
                                   "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                   "TLS_CHACHA20_POLY1305_SHA256"}));
  EXPECT_EQ(ParseTlsPolicy({}, "VersionTLS12")->min_version, TLS1_2_VERSION);
  EXPECT_EQ(ParseTlsPolicy({""}, "VersionTLS13")->min_version, TLS1_3_VERSION);
}

TEST(TlsPolicy, ChosenSuitesOnlyWithTls13KeptUnlessNamed) {
  auto policy = ParseTlsPolicy(
      {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305"},
      "VersionTLS12");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(Offered(*policy),
            (std::set<std::string>{"ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305",
                                   "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                   "TLS_CHACHA20_POLY1305_SHA256"}));
  policy = ParseTlsPolicy({"TLS_AES_256_GCM_SHA384"}, "VersionTLS13");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_TRUE(Offered(*policy).contains("TLS_AES_256_GCM_SHA384"));
  EXPECT_FALSE(Offered(*policy).contains("TLS_AES_128_GCM_SHA256"));
}

TEST(TlsPolicy, UnknownAndInsecureNamesAreRefusedByName) {
  struct Case {
    std::string name;
    std::string why;
  };
  for (const Case& c : std::vector<Case>{
           {"TLS_RSA_WITH_AES_128_GCM_SHA256", "no forward secrecy"},
           {"TLS_RSA_WITH_AES_256_CBC_SHA", "no forward secrecy"},
           {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "CBC"},
           {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "CBC"},
           {"TLS_RSA_WITH_3DES_EDE_CBC_SHA", "broken"},
           {"TLS_ECDHE_RSA_WITH_RC4_128_SHA", "broken"},
           {"TLS_NOT_A_SUITE", "unknown cipher suite"},
           {"ECDHE-RSA-AES128-GCM-SHA256", "unknown cipher suite"},  // OpenSSL's spelling
       }) {
    auto policy = ParseTlsPolicy({"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", c.name}, "");
    EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_THAT(policy.status().message(), HasSubstr("--tls-cipher-suites")) << c.name;
    EXPECT_THAT(policy.status().message(), HasSubstr(c.name));
    EXPECT_THAT(policy.status().message(), HasSubstr(c.why)) << c.name;
  }
}

TEST(TlsPolicy, InsecureCipherSuiteReasonNamesWhatParseRefusesForKnownSuitesOnly) {
  EXPECT_THAT(InsecureCipherSuiteReason("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"), HasSubstr("CBC"));
  EXPECT_THAT(InsecureCipherSuiteReason("TLS_RSA_WITH_AES_128_GCM_SHA256"),
              HasSubstr("no forward secrecy"));
  EXPECT_EQ(InsecureCipherSuiteReason("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"), "");
  EXPECT_EQ(InsecureCipherSuiteReason("TLS_NOT_A_SUITE"), "");
}

TEST(TlsPolicy, VersionsBelowTls12AndUnknownSpellingsAreRefused) {
  for (const char* v : {"VersionTLS10", "VersionTLS11", "TLS12", "1.2", "VersionSSL30"}) {
    auto policy = ParseTlsPolicy({}, v);
    EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument) << v;
    EXPECT_THAT(policy.status().message(), HasSubstr(absl::StrCat("--tls-min-version=", v)));
  }
  // TLS 1.3 suites alone leave TLS 1.2 with nothing to offer.
  auto policy = ParseTlsPolicy({"TLS_AES_128_GCM_SHA256"}, "VersionTLS12");
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(policy.status().message(), HasSubstr("--tls-min-version=VersionTLS13"));
}

}  // namespace
}  // namespace aa::auth
