// prometheus-adapter's flags as this adapter reads them: the flags without a meaning here taken out
// of the command line, --v as a log level, --secure-port/--bind-address as a listen address,
// --prometheus-header, the inherited cipher-suite list, and --prometheus-auth-config's kubeconfig
// applied to the Prometheus client (inline secrets only in the private directory).

#include "app/prometheus_adapter_flags.h"

#include <sys/stat.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testutil/temp_dir.h"

namespace aa::app {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// The program's own flags for DropIgnoredFlags: config and prometheus_url take values, v too;
// grpc_insecure is a bool.
FlagLookup OwnFlags() {
  return [](std::string_view name) -> std::optional<FlagKind> {
    if (name == "config" || name == "prometheus_url" || name == "v") return FlagKind{false};
    if (name == "grpc_insecure") return FlagKind{true};
    return std::nullopt;
  };
}

TEST(DropIgnoredFlags, TakesOutKlogAndApiServerFlagsInEverySpelling) {
  CommandLineWithoutIgnored r = DropIgnoredFlags(
      {"adapter", "/adapter", "--logtostderr=true", "--secure-port=6443", "--log_dir", "/var/log",
       "-alsologtostderr", "--audit-log-path=/x", "--audit-log-maxage", "3", "--profiling", "--v=4",
       "--config", "/etc/adapter/config.yaml"},
      OwnFlags());
  EXPECT_THAT(r.args, ElementsAre("adapter", "/adapter", "--secure-port=6443", "--v=4", "--config",
                                  "/etc/adapter/config.yaml"));
  std::vector<std::string> dropped;
  for (const DroppedFlag& d : r.dropped) dropped.push_back(d.flag);
  EXPECT_THAT(dropped, ElementsAre("--logtostderr", "--log-dir", "--alsologtostderr",
                                   "--audit-log-path", "--audit-log-maxage", "--profiling"));
  EXPECT_THAT(r.dropped[0].instead, HasSubstr("--log-format"));
  EXPECT_THAT(r.dropped[0].instead, HasSubstr("--log-level"));
}

TEST(DropIgnoredFlags, ValuesOfOwnFlagsAndEverythingAfterDoubleDashStay) {
  // --config's value looks like an ignored flag: it is --config's value. A bool flag of ours takes
  // no value, so the next argument is a flag again.
  CommandLineWithoutIgnored r =
      DropIgnoredFlags({"adapter", "--config", "--logtostderr", "--grpc-insecure", "--profiling",
                        "--", "--logtostderr"},
                       OwnFlags());
  EXPECT_THAT(r.args, ElementsAre("adapter", "--config", "--logtostderr", "--grpc-insecure", "--",
                                  "--logtostderr"));
  ASSERT_EQ(r.dropped.size(), 1u);
  EXPECT_EQ(r.dropped[0].flag, "--profiling");
}

TEST(DropIgnoredFlags, EveryIgnoredFlagNamesWhatDoesItHere) {
  for (const IgnoredFlag& f : IgnoredFlags()) {
    EXPECT_FALSE(f.instead.empty()) << f.name;
    EXPECT_FALSE(OwnFlags()(std::string(f.name)).has_value()) << f.name;
  }
}

TEST(LogLevelForVerbosity, KlogFourAndMoreIsDebug) {
  EXPECT_EQ(*LogLevelForVerbosity(0), "info");
  EXPECT_EQ(*LogLevelForVerbosity(3), "info");
  EXPECT_EQ(*LogLevelForVerbosity(4), "debug");
  EXPECT_EQ(*LogLevelForVerbosity(10), "debug");
  EXPECT_EQ(LogLevelForVerbosity(-1).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SecurePortListen, BindAddressAndPort) {
  EXPECT_EQ(*SecurePortListen("", 6443), ":6443");
  EXPECT_EQ(*SecurePortListen("0.0.0.0", 443), ":443");
  EXPECT_EQ(*SecurePortListen("127.0.0.1", 0), "127.0.0.1:0");
  EXPECT_EQ(*SecurePortListen("::", 6443), "[::]:6443");
  EXPECT_EQ(*SecurePortListen("fd00::1", 6443), "[fd00::1]:6443");
  EXPECT_THAT(SecurePortListen("", 70000).status().message(), HasSubstr("--secure-port=70000"));
  EXPECT_THAT(SecurePortListen("[::1]", 1).status().message(), HasSubstr("--bind-address"));
}

TEST(ParsePrometheusHeaders, NameEqualsValueRepeatable) {
  auto h = ParsePrometheusHeaders({"X-Scope-OrgID=tenant-a", "X-Extra=a=b", "X-Empty="});
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(*h, (std::map<std::string, std::string>{
                    {"X-Scope-OrgID", "tenant-a"}, {"X-Extra", "a=b"}, {"X-Empty", ""}}));
  EXPECT_THAT(ParsePrometheusHeaders({"NoValue"}).status().message(),
              HasSubstr("--prometheus-header=NoValue: want Name=Value"));
  EXPECT_THAT(ParsePrometheusHeaders({"=v"}).status().message(), HasSubstr("want Name=Value"));
  EXPECT_THAT(ParsePrometheusHeaders({"A=1", "a=2"}).status().message(), HasSubstr("twice"));
}

TEST(DropInsecureCipherSuites, TheDeploymentsListKeepsItsSixForwardSecretAeadSuites) {
  // prometheus-adapter's deploy/manifests/deployment.yaml --tls-cipher-suites, in its order.
  CipherSuites s = DropInsecureCipherSuites(
      {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
       "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
       "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
       "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
       "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
       "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "TLS_RSA_WITH_AES_128_GCM_SHA256",
       "TLS_RSA_WITH_AES_256_GCM_SHA384", "TLS_RSA_WITH_AES_128_CBC_SHA",
       "TLS_RSA_WITH_AES_256_CBC_SHA", "TLS_NOT_A_SUITE"});
  EXPECT_EQ(s.kept.size(), 7u);  // the six, and the unknown name for ParseTlsPolicy to refuse
  EXPECT_EQ(s.kept.back(), "TLS_NOT_A_SUITE");
  ASSERT_EQ(s.dropped.size(), 9u);
  EXPECT_EQ(s.dropped[0], "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA (CBC mode, not an AEAD cipher)");
  EXPECT_THAT(s.dropped[5], HasSubstr("no forward secrecy"));
}

class PrometheusAuthConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto secrets = PrivateTempDir::Create("prometheus-adapter-flags-test");
    ASSERT_TRUE(secrets.ok()) << secrets.status();
    secrets_ = *std::move(secrets);
  }
  // A kubeconfig whose current context's cluster and user are `cluster` and `user` (YAML maps).
  std::string Kubeconfig(const std::string& cluster, const std::string& user) {
    return dir_.WriteFile(
        "kubeconfig", absl::StrCat("apiVersion: v1\nkind: Config\ncurrent-context: p\n"
                                   "clusters: [{name: prom, cluster: ",
                                   cluster,
                                   "}]\n"
                                   "users: [{name: u, user: ",
                                   user,
                                   "}]\n"
                                   "contexts: [{name: p, context: {cluster: prom, user: u}}]\n"));
  }
  testutil::TempDir dir_;
  std::unique_ptr<PrivateTempDir> secrets_;
};

TEST_F(PrometheusAuthConfigTest, InlineDataGoesToPrivateFilesAndTheServerIsNotUsed) {
  const std::string ca = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
  std::string path = Kubeconfig(
      absl::StrCat("{server: 'https://ignored:1', certificate-authority-data: ",
                   absl::Base64Escape(ca), ", tls-server-name: prometheus.monitoring.svc}"),
      absl::StrCat("{token: s3cr3t, client-certificate-data: ", absl::Base64Escape("CERT"),
                   ", client-key-data: ", absl::Base64Escape("KEY"), "}"));
  prom::ClientOptions o;
  o.url = "https://prometheus:9090";
  ASSERT_TRUE(ApplyPrometheusAuthConfig(path, *secrets_, &o).ok());
  EXPECT_EQ(o.url, "https://prometheus:9090");
  EXPECT_EQ(o.tls.server_name, "prometheus.monitoring.svc");
  for (auto [file, want] : {std::pair{o.tls.ca_file, ca},
                            {o.tls.cert_file, std::string("CERT")},
                            {o.tls.key_file, std::string("KEY")},
                            {o.bearer_token_file, std::string("s3cr3t")}}) {
    EXPECT_THAT(file, StartsWith(secrets_->path() + "/"));
    EXPECT_EQ(*ReadFile(file), want);
    struct stat st {};
    ASSERT_EQ(stat(file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << file;
  }
  struct stat st {};
  ASSERT_EQ(stat(secrets_->path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST_F(PrometheusAuthConfigTest, FilesTokenFileBasicAuthAndInsecureSkipVerify) {
  std::string path = Kubeconfig(
      "{server: 'https://x', certificate-authority: ca.crt, insecure-skip-tls-verify: true}",
      "{tokenFile: /var/run/token, client-certificate: /c.crt, client-key: /c.key}");
  prom::ClientOptions o;
  ASSERT_TRUE(ApplyPrometheusAuthConfig(path, *secrets_, &o).ok());
  EXPECT_EQ(o.tls.ca_file, dir_.path() + "/ca.crt");  // relative to the kubeconfig
  EXPECT_TRUE(o.tls.insecure_skip_verify);
  EXPECT_EQ(o.bearer_token_file, "/var/run/token");
  EXPECT_EQ(o.tls.cert_file, "/c.crt");
  EXPECT_EQ(o.tls.key_file, "/c.key");

  // What the kubeconfig does not set keeps its value (the config file's).
  prom::ClientOptions kept;
  kept.tls.ca_file = "/etc/prometheus-ca.crt";
  ASSERT_TRUE(
      ApplyPrometheusAuthConfig(Kubeconfig("{server: 'https://x'}", "{token: t}"), *secrets_, &kept)
          .ok());
  EXPECT_EQ(kept.tls.ca_file, "/etc/prometheus-ca.crt");
  EXPECT_EQ(*ReadFile(kept.bearer_token_file), "t");

  prom::ClientOptions basic;
  ASSERT_TRUE(
      ApplyPrometheusAuthConfig(
          Kubeconfig("{server: 'https://x'}", "{username: admin, password: pw}"), *secrets_, &basic)
          .ok());
  EXPECT_EQ(basic.basic_auth_username, "admin");
  EXPECT_EQ(basic.basic_auth_password, "pw");
  EXPECT_EQ(basic.bearer_token_file, "");
}

TEST_F(PrometheusAuthConfigTest, UnsupportedFieldsAreErrorsNamingTheFileAndField) {
  struct Case {
    std::string cluster, user, want;
  } cases[] = {
      {"{server: 'https://x'}", "{exec: {command: aws}, token: t}", "users[name=u].user.exec"},
      {"{server: 'https://x'}", "{token: t, as: admin}", "users[name=u].user.as"},
      {"{server: 'https://x', proxy-url: 'http://p'}", "{token: t}",
       "clusters[name=prom].cluster.proxy-url"},
      {"{server: 'https://x'}", "{token: t, username: a, password: b}", "both a token and"},
      {"{server: 'https://x', certificate-authority-data: '@@'}", "{}",
       "certificate-authority-data is not valid base64"},
  };
  for (const Case& c : cases) {
    std::string path = Kubeconfig(c.cluster, c.user);
    prom::ClientOptions o;
    absl::Status s = ApplyPrometheusAuthConfig(path, *secrets_, &o);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.user;
    EXPECT_THAT(s.message(), HasSubstr("--prometheus-auth-config")) << c.user;
    EXPECT_THAT(s.message(), HasSubstr(path)) << c.user;
    EXPECT_THAT(s.message(), HasSubstr(c.want)) << c.user;
  }
  prom::ClientOptions o;
  EXPECT_EQ(ApplyPrometheusAuthConfig(dir_.path() + "/missing", *secrets_, &o).code(),
            absl::StatusCode::kNotFound);
}

TEST(PrometheusAuthInCluster, ServiceAccountTokenAndCa) {
  testutil::TempDir dir;
  kube::InClusterPaths paths;
  paths.token_file = dir.path() + "/token";
  paths.ca_file = dir.path() + "/ca.crt";
  prom::ClientOptions o;
  EXPECT_EQ(ApplyInClusterPrometheusAuth(paths, &o).code(), absl::StatusCode::kFailedPrecondition);
  dir.WriteFile("token", "t");
  dir.WriteFile("ca.crt", "CA");
  ASSERT_TRUE(ApplyInClusterPrometheusAuth(paths, &o).ok());
  EXPECT_EQ(o.bearer_token_file, paths.token_file);
  EXPECT_EQ(o.tls.ca_file, paths.ca_file);
}

TEST(PrivateTempDir, FilesAreReplacedWholeAndRemovedWithTheDirectory) {
  std::string path;
  {
    auto dir = PrivateTempDir::Create("private-temp-dir-test");
    ASSERT_TRUE(dir.ok()) << dir.status();
    path = (*dir)->path();
    auto f = (*dir)->WriteFile("token", "one");
    ASSERT_TRUE(f.ok()) << f.status();
    ASSERT_TRUE((*dir)->WriteFile("token", "two").ok());
    EXPECT_EQ(*ReadFile(*f), "two");
  }
  struct stat st {};
  EXPECT_NE(stat(path.c_str(), &st), 0);
}

}  // namespace
}  // namespace aa::app
