#include "kube/config.h"

#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testutil/temp_dir.h"

namespace aa::kube {
namespace {

using ::testing::HasSubstr;

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

InClusterPaths PathsIn(const testutil::TempDir& dir) {
  InClusterPaths p;
  p.token_file = dir.File("sa/token");
  p.ca_file = dir.File("sa/ca.crt");
  p.namespace_file = dir.File("sa/namespace");
  return p;
}

TEST(InClusterTest, BuildsConfigFromEnvironmentAndServiceAccountFiles) {
  testutil::TempDir dir;
  dir.WriteFile("sa/token", "tok\n");
  dir.WriteFile("sa/ca.crt", "-----BEGIN CERTIFICATE-----\n");
  dir.WriteFile("sa/namespace", "autoscaling\n");
  auto env =
      FakeEnv({{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}});
  EXPECT_TRUE(InCluster(PathsIn(dir), env));
  auto config = InClusterConfig(PathsIn(dir), env);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://10.96.0.1:443");
  EXPECT_EQ(config->token_file, dir.File("sa/token"));
  EXPECT_EQ(config->token, "");
  EXPECT_EQ(config->ca_file, dir.File("sa/ca.crt"));
  EXPECT_EQ(config->default_namespace, "autoscaling");
  EXPECT_EQ(config->source, "in-cluster");
}

TEST(InClusterTest, Ipv6HostIsBracketed) {
  testutil::TempDir dir;
  dir.WriteFile("sa/token", "tok");
  auto config = InClusterConfig(PathsIn(dir), FakeEnv({{"KUBERNETES_SERVICE_HOST", "fd00::1"},
                                                       {"KUBERNETES_SERVICE_PORT", "6443"}}));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://[fd00::1]:6443");
  EXPECT_EQ(config->ca_file, "");  // no CA file: the system trust store
  EXPECT_EQ(config->default_namespace, "default");
}

TEST(InClusterTest, NotInClusterWithoutVariablesOrToken) {
  testutil::TempDir dir;
  EXPECT_FALSE(InCluster(PathsIn(dir), FakeEnv({{"KUBERNETES_SERVICE_HOST", "10.96.0.1"},
                                                {"KUBERNETES_SERVICE_PORT", "443"}})));
  dir.WriteFile("sa/token", "tok");
  EXPECT_FALSE(InCluster(PathsIn(dir), FakeEnv({})));
  auto config = InClusterConfig(PathsIn(dir), FakeEnv({}));
  EXPECT_EQ(config.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(config.status().message(), HasSubstr("KUBERNETES_SERVICE_HOST"));
}

TEST(InClusterTest, BadPortOrUnreadableTokenAreErrors) {
  testutil::TempDir dir;
  auto env =
      FakeEnv({{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "https"}});
  dir.WriteFile("sa/token", "tok");
  auto config = InClusterConfig(PathsIn(dir), env);
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("KUBERNETES_SERVICE_PORT"));

  testutil::TempDir empty;
  config = InClusterConfig(PathsIn(empty), FakeEnv({{"KUBERNETES_SERVICE_HOST", "10.96.0.1"},
                                                    {"KUBERNETES_SERVICE_PORT", "443"}}));
  EXPECT_EQ(config.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(config.status().message(), HasSubstr("token"));
}

constexpr char kKubeconfig[] = R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: prod
  cluster:
    server: https://prod.example:6443
    certificate-authority-data: %CA%
- name: dev
  cluster:
    server: https://127.0.0.1:6443/prefix/
    certificate-authority: certs/ca.crt
    tls-server-name: kubernetes.default
contexts:
- name: dev
  context:
    cluster: dev
    user: dev-user
    namespace: kserve-test
- name: prod
  context:
    cluster: prod
    user: prod-user
users:
- name: dev-user
  user:
    client-certificate: certs/client.crt
    client-key: /abs/client.key
    tokenFile: token
- name: prod-user
  user:
    client-certificate-data: %CERT%
    client-key-data: %KEY%
    token: s3cr3t
)";

std::string Kubeconfig() {
  std::string text = kKubeconfig;
  auto replace = [&](const std::string& from, const std::string& to) {
    text.replace(text.find(from), from.size(), to);
  };
  replace("%CA%", absl::Base64Escape("CA PEM"));
  replace("%CERT%", absl::Base64Escape("CERT PEM"));
  replace("%KEY%", absl::Base64Escape("KEY PEM"));
  return text;
}

TEST(KubeconfigTest, CurrentContextWithFilesRelativeToTheKubeconfig) {
  testutil::TempDir dir;
  std::string path = dir.WriteFile("kube/config", Kubeconfig());
  auto config = LoadKubeconfig(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://127.0.0.1:6443/prefix/");
  EXPECT_EQ(config->ca_file, dir.File("kube/certs/ca.crt"));
  EXPECT_EQ(config->ca_pem, "");
  EXPECT_EQ(config->tls_server_name, "kubernetes.default");
  EXPECT_EQ(config->client_cert_file, dir.File("kube/certs/client.crt"));
  EXPECT_EQ(config->client_key_file, "/abs/client.key");
  EXPECT_EQ(config->token_file, dir.File("kube/token"));
  EXPECT_EQ(config->default_namespace, "kserve-test");
  EXPECT_FALSE(config->insecure_skip_tls_verify);
  EXPECT_THAT(config->source, HasSubstr("context dev"));
}

TEST(KubeconfigTest, ExplicitContextWithInlineData) {
  auto config = ParseKubeconfig(Kubeconfig(), "/etc", "prod");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://prod.example:6443");
  EXPECT_EQ(config->ca_pem, "CA PEM");
  EXPECT_EQ(config->client_cert_pem, "CERT PEM");
  EXPECT_EQ(config->client_key_pem, "KEY PEM");
  EXPECT_EQ(config->token, "s3cr3t");
  EXPECT_EQ(config->default_namespace, "default");
}

TEST(KubeconfigTest, InsecureSkipTlsVerify) {
  auto config = ParseKubeconfig(R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://h:1", insecure-skip-tls-verify: true}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
users: [{name: u, user: {token: t}}]
)",
                                "");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->insecure_skip_tls_verify);
  EXPECT_EQ(config->token, "t");
}

TEST(KubeconfigTest, BasicAuthAndTheFieldsLeftUnapplied) {
  auto config = ParseKubeconfig(R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://h:1", proxy-url: "http://proxy:3128"}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
users: [{name: u, user: {username: admin, password: pw, as: someone, token: t,
                         auth-provider: {name: oidc}}}]
)",
                                "", "", "kc");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->username, "admin");
  EXPECT_EQ(config->password, "pw");
  EXPECT_THAT(
      config->unapplied_fields,
      ::testing::ElementsAre("kc: clusters[name=k].cluster.proxy-url",
                             "kc: users[name=u].user.auth-provider", "kc: users[name=u].user.as"));
  auto plain = ParseKubeconfig(R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://h:1"}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
users: [{name: u, user: {token: t}}]
)",
                               "");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_TRUE(plain->unapplied_fields.empty());
  EXPECT_EQ(plain->username, "");
}

TEST(KubeconfigTest, ErrorsNameTheField) {
  struct Case {
    const char* text;
    const char* context;
    const char* want;
  } cases[] = {
      {"current-context: x\n", "", "no entry named \"x\" in contexts"},
      {"contexts: []\n", "", "no current-context"},
      {"current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n", "",
       "no entry named \"k\" in clusters"},
      {"current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n"
       "clusters: [{name: k, cluster: {}}]\n",
       "", "clusters[name=k].cluster.server is not set"},
      {"current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n"
       "clusters: [{name: k, cluster: {server: 'https://h', certificate-authority-data: '@@'}}]\n",
       "", "certificate-authority-data is not valid base64"},
      {"current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n"
       "clusters: [{name: k, cluster: {server: 'https://h'}}]\n"
       "users: [{name: u, user: {exec: {command: aws}}}]\n",
       "", "exec and auth-provider credentials are not supported"},
      {"current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n"
       "clusters: [{name: k, cluster: {server: 'https://h'}}]\n"
       "users: [{name: u, user: {client-certificate: a.crt}}]\n",
       "", "must be set together"},
      {"current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n"
       "clusters: [{name: k, cluster: {server: 'https://h', insecure-skip-tls-verify: maybe}}]\n",
       "", "insecure-skip-tls-verify must be true or false"},
      {"[not, a, map", "", "not valid YAML"},
  };
  for (const auto& c : cases) {
    auto config = ParseKubeconfig(c.text, "", c.context);
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(config.status().message(), HasSubstr(c.want)) << c.text;
  }
  EXPECT_EQ(LoadKubeconfig("/nonexistent/kubeconfig").status().code(), absl::StatusCode::kNotFound);
}

TEST(ResolveClientConfigTest, KubeconfigThenInClusterThenNothing) {
  testutil::TempDir dir;
  auto in_cluster_env =
      FakeEnv({{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}});
  std::string kubeconfig = dir.WriteFile("kubeconfig", Kubeconfig());
  // Not in a cluster, nothing given: nullopt.
  auto none = ResolveClientConfig("", "", PathsIn(dir), in_cluster_env);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());
  // In a cluster.
  dir.WriteFile("sa/token", "tok");
  auto in_cluster = ResolveClientConfig("", "", PathsIn(dir), in_cluster_env);
  ASSERT_TRUE(in_cluster.ok() && in_cluster->has_value());
  EXPECT_EQ((*in_cluster)->source, "in-cluster");
  // A kubeconfig wins, with its context.
  auto from_file = ResolveClientConfig(kubeconfig, "prod", PathsIn(dir), in_cluster_env);
  ASSERT_TRUE(from_file.ok() && from_file->has_value()) << from_file.status();
  EXPECT_EQ((*from_file)->server, "https://prod.example:6443");
  EXPECT_EQ(ResolveClientConfig("", "prod", PathsIn(dir), in_cluster_env).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      ResolveClientConfig(dir.File("missing"), "", PathsIn(dir), in_cluster_env).status().code(),
      absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace aa::kube
