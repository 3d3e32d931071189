#include "auth/trust_config.h"

#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testutil/temp_dir.h"
#include "testutil/tls_certs.h"

namespace aa::auth {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class TrustConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto a = testutil::TestCa::Create(dir_.path(), "a");
    auto b = testutil::TestCa::Create(dir_.path(), "b");
    ASSERT_TRUE(a.ok() && b.ok());
    a_pem_ = a->cert_pem();
    a_file_ = a->cert_file();
    b_pem_ = b->cert_pem();
    b_file_ = b->cert_file();
  }
  testutil::TempDir dir_;
  std::string a_pem_, a_file_, b_pem_, b_file_;
};

TEST_F(TrustConfigTest, NothingConfiguredTrustsNoCertificate) {
  auto t = BuildTrustConfig({}, nullptr);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->client_ca, nullptr);
  EXPECT_FALSE(t->request_header.has_value());
  EXPECT_THAT(DescribeTrust(*t), HasSubstr("never trusted"));
}

TEST_F(TrustConfigTest, FromTheConfigMap) {
  std::map<std::string, std::string> cm = {
      {"client-ca-file", a_pem_},
      {"requestheader-client-ca-file", b_pem_},
      {"requestheader-allowed-names", "[\"front-proxy-client\"]"},
      {"requestheader-username-headers", "[\"X-Remote-User\"]"},
      {"requestheader-group-headers", "[\"X-Remote-Group\",\"X-Other-Group\"]"},
      {"requestheader-extra-headers-prefix", "[\"X-Remote-Extra-\"]"}};
  auto t = BuildTrustConfig({}, &cm);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_NE(t->client_ca, nullptr);
  EXPECT_THAT(t->client_ca->source(), HasSubstr("client-ca-file"));
  ASSERT_TRUE(t->request_header.has_value());
  EXPECT_THAT(t->request_header->allowed_names, ElementsAre("front-proxy-client"));
  EXPECT_THAT(t->request_header->group_headers, ElementsAre("X-Remote-Group", "X-Other-Group"));
  std::string text = DescribeTrust(*t);
  EXPECT_THAT(text, HasSubstr("front-proxy-client"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("BEGIN CERTIFICATE")));
  // An empty allowed-names list ("[]" or absent) means any CN.
  cm["requestheader-allowed-names"] = "[]";
  t = BuildTrustConfig({}, &cm);
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->request_header->allowed_names.empty());
}

TEST_F(TrustConfigTest, FlagsWin) {
  std::map<std::string, std::string> cm = {
      {"client-ca-file", a_pem_},
      {"requestheader-client-ca-file", a_pem_},
      {"requestheader-allowed-names", "[\"front-proxy-client\"]"},
      {"requestheader-username-headers", "[\"X-Cm-User\"]"}};
  TrustFlags flags;
  flags.client_ca_file = b_file_;
  flags.requestheader_username_headers = {"X-Flag-User"};
  auto t = BuildTrustConfig(flags, &cm);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->client_ca->source(), b_file_);
  EXPECT_THAT(t->request_header->allowed_names, ElementsAre("front-proxy-client"));
  EXPECT_THAT(t->request_header->username_headers, ElementsAre("X-Flag-User"));
  EXPECT_THAT(t->request_header->group_headers, ElementsAre("X-Remote-Group"));
  // The requestheader CA from a file: the ConfigMap's requestheader keys are not used.
  flags.requestheader_client_ca_file = b_file_;
  flags.requestheader_allowed_names = {"aggregator"};
  t = BuildTrustConfig(flags, &cm);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->request_header->client_ca->source(), b_file_);
  EXPECT_THAT(t->request_header->allowed_names, ElementsAre("aggregator"));
  EXPECT_TRUE(FlagsCoverEverything(flags));
}

TEST_F(TrustConfigTest, BadInputNamesTheKeyOrFile) {
  std::map<std::string, std::string> cm = {{"requestheader-client-ca-file", a_pem_},
                                           {"requestheader-allowed-names", "front-proxy-client"}};
  auto t = BuildTrustConfig({}, &cm);
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.status().message(), HasSubstr("requestheader-allowed-names"));
  cm = {{"client-ca-file", "not a certificate"}};
  t = BuildTrustConfig({}, &cm);
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.status().message(), HasSubstr("client-ca-file"));
  TrustFlags flags;
  flags.requestheader_client_ca_file = "/nonexistent/front-proxy-ca.crt";
  t = BuildTrustConfig(flags, nullptr);
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.status().message(), HasSubstr("/nonexistent/front-proxy-ca.crt"));
}

}  // namespace
}  // namespace aa::auth
