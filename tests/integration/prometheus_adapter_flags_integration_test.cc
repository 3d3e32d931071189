// The adapter binary started with prometheus-adapter's own argument lists, paths adjusted to
// temporary files and ports picked free: its Deployment's (deploy/manifests/deployment.yaml:
// --cert-dir, --config, --metrics-relist-interval, --prometheus-url, --secure-port and its
// 15-suite --tls-cipher-suites), with Prometheus behind TLS and a header-checking proxy reached
// through --prometheus-auth-config (a kubeconfig with a token and an inline CA),
// --prometheus-header and --prometheus-verb=POST; and its Helm chart's rendered list (/adapter
// first, --secure-port, --cert-dir, --logtostderr, --prometheus-url, --metrics-relist-interval,
// --v=4, --config, and tls.enable's --tls-cert-file/--tls-private-key-file). Each serves the
// HTTPS port on --secure-port's value, where kubectl (verifying the certificate) reads pod values
// equal to Prometheus' own answer. The environment adds only what a test machine lacks: no
// Kubernetes API (--authentication=off --authorization=off) and a free plain-HTTP port.

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "demo/proc/subprocess.h"
#include "demo/stack.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "integration/integration_util.h"
#include "testutil/temp_dir.h"
#include "testutil/tls_certs.h"

namespace aa {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr char kNamespace[] = "kserve-test";
constexpr char kToken[] = "prometheus-token-from-kubeconfig";
constexpr absl::Duration kWait = absl::Seconds(60);

// A port nothing listens on right now (bound to 0, read, closed).
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ADD_FAILURE() << "no free port";
  }
  close(fd);
  return ntohs(addr.sin_port);
}

// Prometheus behind TLS (a certificate of `ca`) that answers only requests carrying the bearer
// token and X-Scope-OrgID: tenant-a, forwarded to the real Prometheus; counts what it saw.
class CheckingProxy {
 public:
  CheckingProxy(const testutil::CertFiles& cert, int prometheus_port)
      : server_(cert.cert_file.c_str(), cert.key_file.c_str()), prometheus_port_(prometheus_port) {
    auto handle = [this](const httplib::Request& req, httplib::Response& res) {
      if (req.get_header_value("Authorization") != absl::StrCat("Bearer ", kToken) ||
          req.get_header_value("X-Scope-OrgID") != "tenant-a") {
        ++refused_;
        res.status = 401;
        return;
      }
      (req.method == "POST" ? posts_ : gets_)++;
      httplib::Client prometheus("127.0.0.1", prometheus_port_);
      auto r = req.method == "POST" ? prometheus.Post(req.path.c_str(), req.body,
                                                      "application/x-www-form-urlencoded")
                                    : prometheus.Get(req.target.c_str());
      if (!r) {
        res.status = 502;
        return;
      }
      res.status = r->status;
      res.set_content(r->body, "application/json");
    };
    server_.Get(R"(/api/v1/.*)", handle);
    server_.Post(R"(/api/v1/.*)", handle);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~CheckingProxy() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  int gets() const { return gets_; }
  int posts() const { return posts_; }
  int refused() const { return refused_; }

 private:
  httplib::SSLServer server_;
  const int prometheus_port_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<int> gets_{0}, posts_{0}, refused_{0};
};

class PrometheusAdapterFlags : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    demo::StackOptions options = integration::StackOptionsFor("");
    options.start_adapter = false;
    auto stack = demo::Stack::Start(options);
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = stack->release();
  }
  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(stack_, nullptr); }
  void TearDown() override {
    if (adapter_) adapter_->Stop();
  }

  // The prometheus-adapter config file the integration suite serves (its rules, unchanged).
  std::string Config() {
    std::ifstream in(std::string(AA_SOURCE_DIR) + "/tests/testdata/prometheus-adapter/config.yaml");
    std::stringstream ss;
    ss << in.rdbuf();
    return dir_.WriteFile("etc/adapter/config.yaml", ss.str());
  }

  // Starts the adapter binary with `args` (after the program) and what the test machine needs.
  void Start(std::vector<std::string> args) {
    args.insert(args.begin(), AA_BIN_DIR "/autoscale-adapter");
    for (const char* a :
         {"--authentication=off", "--authorization=off", "--http-listen=127.0.0.1:0"})
      args.push_back(a);
    log_ = dir_.File(absl::StrCat("adapter-", ++starts_, ".log"));
    auto p = proc::Subprocess::Start({args, log_, ""});
    ASSERT_TRUE(p.ok()) << p.status();
    adapter_ = *std::move(p);
  }

  // The log records (JSON lines) the adapter started last wrote so far.
  std::vector<json> Records() const {
    std::vector<json> out;
    std::istringstream in(testutil::ReadFileOrEmpty(log_));
    for (std::string line; std::getline(in, line);) {
      json j = json::parse(line, nullptr, false);
      if (j.is_object()) out.push_back(std::move(j));
    }
    return out;
  }
  std::vector<json> RecordsWith(const std::string& msg) const {
    std::vector<json> out;
    for (json& r : Records()) {
      if (r.value("msg", "") == msg) out.push_back(std::move(r));
    }
    return out;
  }

  // A kubeconfig for kubectl at https://127.0.0.1:port verifying the served certificate with
  // `ca_file` (its token is not checked: the test runs the HTTPS port without authentication).
  std::string KubectlConfig(int port, const std::string& ca_file) {
    return dir_.WriteFile(
        "kubectl.kubeconfig",
        absl::StrCat("apiVersion: v1\nkind: Config\nclusters:\n- name: a\n  cluster:\n"
                     "    server: https://127.0.0.1:",
                     port, "\n    certificate-authority: ", ca_file,
                     "\nusers:\n- name: u\n  user: {token: unused}\ncontexts:\n- name: a\n"
                     "  context: {cluster: a, user: u}\ncurrent-context: a\n"));
  }

  // kubectl (verifying the served certificate) reads pods/*/cpu_usage until the items carry the
  // table's second, then each value must equal Prometheus' answer for the rule's query at the
  // table's exact evaluation time.
  void ExpectPodValuesEqualPrometheus(int https_port, const std::string& kubeconfig) {
    const std::string path = absl::StrCat("/apis/custom.metrics.k8s.io/v1beta2/namespaces/",
                                          kNamespace, "/pods/*/cpu_usage");
    const std::string query =
        absl::StrCat("sum(rate(container_cpu_usage_seconds_total{namespace=\"", kNamespace,
                     "\",container!=\"POD\"}[2m])) by (namespace, pod)");
    bool equal = false;
    std::string last;
    for (const absl::Time deadline = absl::Now() + kWait; !equal && absl::Now() < deadline;
         absl::SleepFor(absl::Milliseconds(500))) {
      int code = -1;
      last = integration::RunKubectl(kubeconfig, {"get", "--raw", path}, &code);
      json j = json::parse(last, nullptr, false);
      if (code != 0 || j.is_discarded() || j["items"].empty()) continue;
      const absl::Time at = integration::SampledAt(https_port, kNamespace, "cpu_usage", "pods");
      if (j["items"][0]["timestamp"] != integration::Rfc3339Seconds(at)) continue;
      std::map<std::string, double> prom =
          integration::PrometheusValuesBy(stack_->prometheus_port(), query, {"pod"}, at);
      equal = !prom.empty() && prom.size() == j["items"].size();
      for (const auto& item : j["items"]) {
        const std::string pod = item["describedObject"]["name"].get<std::string>();
        const double v = integration::ParseQuantity(item["value"].get<std::string>());
        equal = equal && prom.contains(pod) && std::abs(prom[pod] - v) <= 0.0005 + 1e-9;
      }
      last = absl::StrCat(last, " vs Prometheus ", json(prom).dump());
    }
    EXPECT_TRUE(equal) << path << ": " << last << "\n" << adapter_->LogTail();
  }

  static demo::Stack* stack_;
  testutil::TempDir dir_;
  std::unique_ptr<proc::Subprocess> adapter_;
  int starts_ = 0;
  std::string log_;  // of the adapter started last
};

demo::Stack* PrometheusAdapterFlags::stack_ = nullptr;

// deploy/manifests/deployment.yaml of prometheus-adapter v0.12.0, its arguments in its order.
TEST_F(PrometheusAdapterFlags, TheDeploymentsArgumentsWithPrometheusBehindAuth) {
  auto ca = testutil::TestCa::Create(dir_.path(), "prometheus-ca");
  ASSERT_TRUE(ca.ok()) << ca.status();
  auto cert = ca->IssueServer(dir_.path(), "prometheus");
  ASSERT_TRUE(cert.ok()) << cert.status();
  CheckingProxy proxy(*cert, stack_->prometheus_port());
  // How prometheus-adapter users reach an authenticating Prometheus: a kubeconfig with the CA
  // inline and a token (the server is not used).
  const std::string auth_config = dir_.WriteFile(
      "prometheus-auth.kubeconfig",
      absl::StrCat("apiVersion: v1\nkind: Config\ncurrent-context: prom\nclusters:\n- name: prom\n"
                   "  cluster:\n    server: https://unused.example\n"
                   "    certificate-authority-data: ",
                   absl::Base64Escape(ca->cert_pem()),
                   "\nusers:\n- name: adapter\n  user:\n    token: ", kToken,
                   "\ncontexts:\n- name: prom\n  context: {cluster: prom, user: adapter}\n"));
  const std::string cert_dir = dir_.File("var/run/serving-cert");
  const int port = FreePort();
  const std::vector<std::string> deployment = {
      "--cert-dir=" + cert_dir,
      "--config=" + Config(),
      "--metrics-relist-interval=1m",
      absl::StrCat("--prometheus-url=https://127.0.0.1:", proxy.port(), "/"),
      absl::StrCat("--secure-port=", port),
      "--tls-cipher-suites=TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305,TLS_ECDHE_ECDSA_WITH_CHACHA20_"
      "POLY1305,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_"
      "ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_"
      "WITH_AES_128_CBC_SHA,TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,TLS_ECDHE_ECDSA_WITH_AES_128_"
      "CBC_SHA,TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,TLS_RSA_"
      "WITH_AES_128_GCM_SHA256,TLS_RSA_WITH_AES_256_GCM_SHA384,TLS_RSA_WITH_AES_128_CBC_SHA,TLS_"
      "RSA_WITH_AES_256_CBC_SHA",
      // prometheus-adapter's flags for a Prometheus behind authentication.
      "--prometheus-auth-config=" + auth_config,
      "--prometheus-header=X-Scope-OrgID=tenant-a",
      "--prometheus-verb=POST",
  };
  Start(deployment);
  auto https = adapter_->WaitForListeningPort("https", kWait);
  ASSERT_TRUE(https.ok()) << https.status() << adapter_->LogTail();
  EXPECT_EQ(*https, port);
  // --cert-dir holds the self-signed pair Kubernetes' way, the key readable by its owner only;
  // kubectl verifies the served certificate against it.
  struct stat st {};
  ASSERT_EQ(stat((cert_dir + "/apiserver.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string served = testutil::ReadFileOrEmpty(cert_dir + "/apiserver.crt");
  ASSERT_FALSE(served.empty());
  ExpectPodValuesEqualPrometheus(port, KubectlConfig(port, cert_dir + "/apiserver.crt"));
  // Every query went through the proxy as POST with the kubeconfig's token and the header.
  EXPECT_GT(proxy.posts(), 0);
  EXPECT_EQ(proxy.refused(), 0);
  // The CBC and RSA suites of the list are left out, named; the KEDA port stays off.
  std::vector<json> left_out =
      RecordsWith("--tls-cipher-suites: suites this port never offers left out");
  ASSERT_EQ(left_out.size(), 1u);
  EXPECT_THAT(left_out[0].value("dropped", ""), HasSubstr("TLS_RSA_WITH_AES_128_CBC_SHA"));
  std::vector<json> started = RecordsWith("started");
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0]["grpc"], false);
  EXPECT_EQ(adapter_->Stop(), 0);

  // A restart reuses the pair in --cert-dir.
  Start(deployment);
  ASSERT_TRUE(adapter_->WaitForListeningPort("https", kWait).ok()) << adapter_->LogTail();
  EXPECT_EQ(testutil::ReadFileOrEmpty(cert_dir + "/apiserver.crt"), served);
  EXPECT_EQ(RecordsWith("serving the certificate of --cert-dir").size(), 1u);
  EXPECT_EQ(adapter_->Stop(), 0);  // before the proxy goes
}

// charts/prometheus-adapter templates/deployment.yaml rendered with its default values (and
// tls.enable, which adds the certificate flags), as the chart's versions with --logtostderr wrote
// it.
TEST_F(PrometheusAdapterFlags, TheHelmChartsRenderedArguments) {
  auto ca = testutil::TestCa::Create(dir_.path(), "serving-ca");
  ASSERT_TRUE(ca.ok()) << ca.status();
  auto serving = ca->IssueServer(dir_.path(), "serving");
  ASSERT_TRUE(serving.ok()) << serving.status();
  const int port = FreePort();
  Start({
      "/adapter",
      absl::StrCat("--secure-port=", port),
      "--tls-cert-file=" + serving->cert_file,
      "--tls-private-key-file=" + serving->key_file,
      "--cert-dir=" + dir_.File("tmp/cert"),
      "--logtostderr=true",
      absl::StrCat("--prometheus-url=http://127.0.0.1:", stack_->prometheus_port()),
      "--metrics-relist-interval=1m",
      "--v=4",
      "--config=" + Config(),
  });
  auto https = adapter_->WaitForListeningPort("https", kWait);
  ASSERT_TRUE(https.ok()) << https.status() << adapter_->LogTail();
  EXPECT_EQ(*https, port);
  // The chart's certificate is served (kubectl verifies it with its CA).
  ExpectPodValuesEqualPrometheus(port, KubectlConfig(port, ca->cert_file()));
  // --logtostderr is accepted, naming what does it here; the program name the chart passes first
  // is ignored with a warning; --v=4 is the debug level.
  std::vector<json> no_effect = RecordsWith("flag has no effect here");
  ASSERT_EQ(no_effect.size(), 1u);
  EXPECT_EQ(no_effect[0]["flag"], "--logtostderr");
  EXPECT_THAT(no_effect[0].value("instead", ""), HasSubstr("--log-format"));
  EXPECT_EQ(no_effect[0]["level"], "warn");
  std::vector<json> positional = RecordsWith("positional argument ignored");
  ASSERT_EQ(positional.size(), 1u);
  EXPECT_EQ(positional[0]["arg"], "/adapter");
  std::vector<json> level = RecordsWith("log level from --v");
  ASSERT_EQ(level.size(), 1u);
  EXPECT_EQ(level[0]["log_level"], "debug");

  // A changed file reloads under this command line too: the KEDA port that --secure-port turned
  // off is part of the effective config, so the reload names no field as needing a restart.
  const std::string config_file = dir_.File("etc/adapter/config.yaml");
  const std::string text = testutil::ReadFileOrEmpty(config_file);
  dir_.WriteFile("etc/adapter/config.yaml", text + "\n# edited\n");
  adapter_->Signal(SIGHUP);
  ASSERT_TRUE(proc::PollUntil([&] { return !RecordsWith("config reloaded").empty(); }, kWait))
      << adapter_->LogTail();
  EXPECT_TRUE(
      RecordsWith("config reload: changed fields that need a restart keep their running values")
          .empty())
      << adapter_->LogTail();
}

}  // namespace
}  // namespace aa
