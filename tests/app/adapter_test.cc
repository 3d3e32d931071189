// The adapter started in process, as main() starts it: ports 0, a fake Prometheus, no Kubernetes
// API. It serves a sampled value on its plain-HTTP port, answers on its HTTPS and gRPC ports, stops
// cleanly, and refuses options it cannot run with before starting anything.
#include "app/adapter.h"

#include <httplib.h>

#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "pipeline/sampler_fixture.h"
#include "testutil/fake_prometheus.h"

namespace aa::app {
namespace {

using ::aa::testing::FakePrometheus;
using ::aa::testing::VectorOf;
using ::testing::HasSubstr;

AdapterOptions TestOptions(prom::Client& prometheus) {
  AdapterOptions o;
  o.config = ::aa::testing::SamplingTestConfig();
  o.config.sampling.warm_namespaces = {"ns"};
  config::MetricDefinition conc;
  conc.name = "concurrency";
  conc.query = "conc{<<.LabelMatchers>>}";
  conc.target = 70;
  o.config.metrics = {conc};
  o.config.keda.listen = "127.0.0.1:0";
  o.config.keda.insecure = true;
  o.http_listen = "127.0.0.1:0";
  o.https_listen = "127.0.0.1:0";
  o.http_threads = 4;
  o.authentication = false;
  o.authorization = false;
  o.prometheus = &prometheus;
  return o;
}

class AdapterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    prom_.SetHandler([](const std::string& q, absl::Time at) -> absl::StatusOr<prom::QueryResult> {
      if (absl::StartsWith(q, "conc")) {
        return VectorOf({{{{"namespace", "ns"}, {"pod", "a-1"}}, 35},
                         {{{"namespace", "ns"}, {"pod", "a-2"}}, 105}},
                        at);
      }
      return VectorOf({}, at);
    });
  }

  FakePrometheus prom_;
};

TEST_F(AdapterTest, ServesASampledValueAndStops) {
  Adapter adapter(TestOptions(prom_));
  ASSERT_TRUE(adapter.Start().ok());
  ASSERT_GT(adapter.http_port(), 0);
  EXPECT_GT(adapter.https_port(), 0);
  EXPECT_GT(adapter.grpc_port(), 0);
  const int http_port = adapter.http_port();

  // The query API is on the HTTPS port (authentication off here), beside the Kubernetes API.
  httplib::SSLClient secure("127.0.0.1", adapter.https_port());
  secure.enable_server_certificate_verification(false);
  auto res = secure.Get("/api/v1/namespaces/ns/metrics/concurrency");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  nlohmann::json body = nlohmann::json::parse(res->body);
  EXPECT_EQ(body["total"], 140);
  EXPECT_EQ(body["podCount"], 2);
  auto scaling = secure.Get("/api/v1/namespaces/ns/metrics/concurrency/scaling");
  ASSERT_TRUE(scaling);
  EXPECT_EQ(scaling->status, 200) << scaling->body;
  auto discovery = secure.Get("/apis/custom.metrics.k8s.io/v1beta2");
  ASSERT_TRUE(discovery);
  EXPECT_EQ(discovery->status, 200) << discovery->body;

  // The plain-HTTP port keeps /metrics and health only, and says where the query API went.
  httplib::Client client("127.0.0.1", http_port);
  for (const char* path :
       {"/api/v1/namespaces/ns/metrics/concurrency",
        "/api/v1/namespaces/ns/metrics/concurrency/scaling", "/api/v1/metrics"}) {
    auto moved = client.Get(path);
    ASSERT_TRUE(moved);
    EXPECT_EQ(moved->status, 404) << path;
    EXPECT_THAT(moved->body, HasSubstr("the query API is not served on this port")) << path;
    EXPECT_THAT(moved->body, HasSubstr("HTTPS port (--https-listen")) << path;
  }
  auto other = client.Get("/apis/custom.metrics.k8s.io/v1beta2");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 404);
  for (const char* path : {"/metrics", "/healthz", "/livez", "/readyz"}) {
    auto ok = client.Get(path);
    ASSERT_TRUE(ok);
    EXPECT_NE(ok->status, 404) << path << ": " << ok->body;  // /readyz may still be 503
  }

  adapter.Stop();
  EXPECT_EQ(adapter.http_port(), 0);
  EXPECT_EQ(adapter.https_port(), 0);
  EXPECT_EQ(adapter.grpc_port(), 0);
  httplib::Client after("127.0.0.1", http_port);
  after.set_connection_timeout(absl::ToChronoSeconds(absl::Seconds(2)));
  EXPECT_FALSE(after.Get("/healthz"));  // nobody listens any more
  adapter.Stop();                       // idempotent
}

// Several backends: each metric reads its own, /readyz has one check per backend that fails alone,
// and a backend's client that cannot be built names the backend.
TEST_F(AdapterTest, SeveralBackendsEachWithItsReadinessCheck) {
  FakePrometheus zone_b;
  zone_b.SetDown(true, "HTTP 401 Unauthorized from http://zone-b");
  AdapterOptions options = TestOptions(prom_);
  options.config.sampling.warm_namespaces.clear();
  options.config.sampling.interval = absl::Seconds(1);  // the probe's round comes sooner
  config::BackendConfig b;
  b.path = "backends[0]";
  b.options.name = "zone-b";
  b.options.url = "http://zone-b:9090";
  options.config.backends = {b};
  config::MetricDefinition conc_b = options.config.metrics[0];
  conc_b.name = "concurrency_b";
  conc_b.backend = "zone-b";
  options.config.metrics.push_back(conc_b);
  options.prometheus_backends["zone-b"] = &zone_b;
  Adapter adapter(std::move(options));
  ASSERT_TRUE(adapter.Start().ok());
  httplib::SSLClient secure("127.0.0.1", adapter.https_port());
  secure.enable_server_certificate_verification(false);
  auto a = secure.Get("/api/v1/namespaces/ns/metrics/concurrency");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, 200) << a->body;
  auto b_read = secure.Get("/api/v1/namespaces/ns/metrics/concurrency_b");
  ASSERT_TRUE(b_read);
  EXPECT_EQ(b_read->status, 503) << b_read->body;
  EXPECT_THAT(b_read->body, HasSubstr("401 Unauthorized"));
  httplib::Client http("127.0.0.1", adapter.http_port());
  auto ready = http.Get("/readyz?verbose");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503);
  EXPECT_THAT(ready->body, HasSubstr("[+]prometheus-default ok\n"));
  EXPECT_THAT(ready->body, HasSubstr("[-]prometheus-zone-b failed: waiting for the first "
                                     "successful query to backend zone-b (last error: HTTP 401 "
                                     "Unauthorized from http://zone-b)\n"));
  auto one = http.Get("/readyz/prometheus-default");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->status, 200);
  // Once zone-b answers (its probe runs every round), its check passes too.
  zone_b.SetDown(false);
  zone_b.AnswerOtherwise({{{{"namespace", "ns"}, {"pod", "b-1"}}, 7}});
  bool passed = false;
  for (absl::Time deadline = absl::Now() + absl::Seconds(20); !passed && absl::Now() < deadline;) {
    auto r = http.Get("/readyz/prometheus-zone-b");
    passed = r && r->status == 200;
    if (!passed) absl::SleepFor(absl::Milliseconds(50));  // polls the next real round
  }
  EXPECT_TRUE(passed);
  adapter.Stop();

  // A client that cannot be built is refused at Start, naming its backend.
  AdapterOptions bad = TestOptions(prom_);
  config::BackendConfig vm;
  vm.path = "backends[0]";
  vm.options.name = "vm";
  vm.options.url = "http://vm:8428";
  vm.options.tls.cert_file = "/nonexistent/c.pem";
  vm.options.tls.key_file = "/nonexistent/k.pem";
  bad.config.backends = {vm};
  Adapter refused(std::move(bad));
  absl::Status s = refused.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("backend vm: "));
}

TEST_F(AdapterTest, CertificateWithoutKeyIsRefusedBeforeStarting) {
  AdapterOptions options = TestOptions(prom_);
  options.tls_cert_file = "/nonexistent/tls.crt";
  Adapter adapter(std::move(options));
  absl::Status s = adapter.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("--tls-cert-file and --tls-key-file go together"));
  EXPECT_EQ(adapter.http_port(), 0);
  EXPECT_EQ(prom_.query_count(), 0u);  // nothing sampled
}

TEST_F(AdapterTest, APortInUseFailsTheStartAndStopsWhatHadStarted) {
  Adapter first(TestOptions(prom_));
  ASSERT_TRUE(first.Start().ok());
  AdapterOptions options = TestOptions(prom_);
  // The KEDA port starts last (the HTTP(S) ports would share a taken port: SO_REUSEPORT).
  options.config.keda.listen = "127.0.0.1:" + std::to_string(first.grpc_port());
  Adapter second(std::move(options));
  EXPECT_FALSE(second.Start().ok());
  // Its HTTP and HTTPS ports, started before, are closed again.
  EXPECT_EQ(second.http_port(), 0);
  EXPECT_EQ(second.https_port(), 0);
  // The first one is unaffected.
  httplib::Client client("127.0.0.1", first.http_port());
  auto res = client.Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

// A Prometheus (here an HTTP stand-in for Thanos) whose answers carry warnings: a partial
// response. By default the adapter serves no value from it (503 naming the warning) and counts it;
// with prometheus.acceptWarnings it serves the value.
TEST(AdapterPartialAnswers, WarningsAreAnErrorUnlessAccepted) {
  httplib::Server thanos;
  thanos.Get("/api/v1/query", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(
        R"({"status":"success","warnings":["partial response: store eu-1 unreachable"],)"
        R"("data":{"resultType":"vector","result":[)"
        R"({"metric":{"namespace":"ns","pod":"a-1"},"value":[1800000000,"35"]}]}})",
        "application/json");
  });
  const int port = thanos.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread serving([&] { thanos.listen_after_bind(); });
  FakePrometheus unused;
  for (bool accept : {false, true}) {
    AdapterOptions options = TestOptions(unused);
    options.prometheus = nullptr;
    options.config.prometheus.url = "http://127.0.0.1:" + std::to_string(port);
    options.config.prometheus.accept_warnings = accept;
    Adapter adapter(std::move(options));
    ASSERT_TRUE(adapter.Start().ok());
    httplib::SSLClient secure("127.0.0.1", adapter.https_port());
    secure.enable_server_certificate_verification(false);
    auto res = secure.Get("/apis/custom.metrics.k8s.io/v1beta2/namespaces/ns/pods/*/concurrency");
    ASSERT_TRUE(res);
    httplib::Client http("127.0.0.1", adapter.http_port());
    auto metrics = http.Get("/metrics");
    ASSERT_TRUE(metrics);
    if (!accept) {
      EXPECT_EQ(res->status, 503) << res->body;
      nlohmann::json status = nlohmann::json::parse(res->body);
      EXPECT_EQ(status["kind"], "Status");
      EXPECT_EQ(status["reason"], "ServiceUnavailable");
      EXPECT_THAT(status["message"].get<std::string>(),
                  HasSubstr("partial answer: Prometheus answered with warnings"));
      EXPECT_THAT(status["message"].get<std::string>(), HasSubstr("store eu-1 unreachable"));
      EXPECT_THAT(metrics->body,
                  HasSubstr("autoscale_adapter_prometheus_warnings_total{action=\"rejected\","
                            "backend=\"default\",endpoint=\"query\"}"));
    } else {
      EXPECT_EQ(res->status, 200) << res->body;
      nlohmann::json list = nlohmann::json::parse(res->body);
      ASSERT_EQ(list["items"].size(), 1u);
      EXPECT_EQ(list["items"][0]["value"], "35");
      EXPECT_THAT(metrics->body,
                  HasSubstr("autoscale_adapter_prometheus_warnings_total{action=\"accepted\","
                            "backend=\"default\",endpoint=\"query\"}"));
    }
    adapter.Stop();
  }
  thanos.stop();
  serving.join();
}

}  // namespace
}  // namespace aa::app
