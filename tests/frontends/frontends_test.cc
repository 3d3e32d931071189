// The three frontends over one view of the pipeline: the Kubernetes metrics APIs (MetricsApi's
// HTTP handler), KEDA's external scaler (the real gRPC server and the generated stub) and the
// query API (its HTTP handler) are asked the same questions (pods by selector, objects by
// selector, external series, a panic-aware metric, stale data, an unknown metric) and must give
// the same numbers and the same kinds of error (HTTP 400/404/503 are gRPC INVALID_ARGUMENT,
// NOT_FOUND, UNAVAILABLE). One Sampler on a SimulatedClock, fed by FakePrometheus.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "apiserver/server.h"
#include "common/http_status.h"
#include "externalscaler.grpc.pb.h"
#include "gtest/gtest.h"
#include "keda/server.h"
#include "nlohmann/json.hpp"
#include "pipeline/object_select.h"
#include "pipeline/sampler.h"
#include "pipeline/sampler_fixture.h"
#include "pipeline/view.h"
#include "prometheus/registry.h"
#include "queryapi/query_api.h"
#include "testutil/fake_prometheus.h"

namespace aa {
namespace {

using ::aa::testing::FakePrometheus;
using ::aa::testing::VectorOf;
using nlohmann::json;

constexpr char kNs[] = "ns";

// Deployments d1 (app=a) and d2 (app=b), by their Kubernetes labels.
// While held, every Select() waits for Release() (a slow Kubernetes API).
class FakeObjects final : public pipeline::ObjectSource {
 public:
  absl::StatusOr<std::vector<std::string>> Select(const pipeline::KubeResource& resource,
                                                  std::string_view ns,
                                                  const selector::Selector& sel) override {
    {
      absl::MutexLock lock(&mu_);
      ++waiting_;
      mu_.Await(absl::Condition(
          +[](bool* held) { return !*held; }, &held_));
      --waiting_;
    }
    std::vector<std::string> out;
    const std::vector<std::pair<std::string, std::string>> deployments = {{"d1", "a"}, {"d2", "b"}};
    for (const auto& [name, app] : deployments) {
      if (resource.plural == "deployments" && ns == kNs &&
          sel.Matches([&app = app](std::string_view key) -> std::optional<std::string_view> {
            if (key == "app") return std::string_view(app);
            return std::nullopt;
          })) {
        out.push_back(name);
      }
    }
    return out;
  }
  std::string Describe(const pipeline::KubeResource&) const override { return "the test"; }

  void Hold() {
    absl::MutexLock lock(&mu_);
    held_ = true;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    held_ = false;
  }
  // Whether `n` calls are waiting within `timeout`.
  bool AwaitWaiting(int n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return waiting_ >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }

 private:
  absl::Mutex mu_;
  bool held_ ABSL_GUARDED_BY(mu_) = false;
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
};

config::MetricDefinition Rule(std::string name, config::MetricResource resource, std::string query,
                              std::string object_label) {
  config::MetricDefinition def;
  def.name = std::move(name);
  def.resource = std::move(resource);
  def.rule = "rules[0]";
  def.query = std::move(query);
  def.pod_label = std::move(object_label);
  def.target = 1;
  return def;
}

config::Config TestConfig() {
  config::Config c = ::aa::testing::SamplingTestConfig();
  config::MetricDefinition conc;
  conc.name = "concurrency";
  conc.query = "conc{<<.LabelMatchers>>}";
  conc.target = 70;
  config::MetricDefinition panic = conc;
  panic.name = "concurrency_panic";
  panic.panic = config::PanicConfig{};
  config::MetricDefinition huge = conc;
  huge.name = "huge";
  huge.query = "huge{<<.LabelMatchers>>}";
  c.metrics = {conc, panic, huge};
  return c;
}

// What a frontend answered: an error kind, and the number (a total, or the one item's value).
struct Answer {
  absl::StatusCode code = absl::StatusCode::kOk;
  double value = 0;
};

absl::StatusCode FromHttp(int status) {
  switch (status) {
    case 200:
      return absl::StatusCode::kOk;
    case 400:
      return absl::StatusCode::kInvalidArgument;
    case 404:
      return absl::StatusCode::kNotFound;
    case 503:
      return absl::StatusCode::kUnavailable;
    default:
      return absl::StatusCode::kUnknown;
  }
}

// A Kubernetes quantity as the APIs print these values ("140", "3500m").
double Quantity(const std::string& q) {
  double v = 0;
  if (absl::EndsWith(q, "m")) {
    EXPECT_TRUE(absl::SimpleAtod(q.substr(0, q.size() - 1), &v)) << q;
    return v / 1000;
  }
  EXPECT_TRUE(absl::SimpleAtod(q, &v)) << q;
  return v;
}

// One question, as each frontend spells it.
struct Question {
  std::string name;
  std::string metric;
  // The Kubernetes APIs: path under /apis and query parameters; the answer is the sum of the items.
  std::string apiserver_path;
  std::multimap<std::string, std::string> apiserver_params;
  // The query API's parameters (the path is /api/v1/namespaces/ns/metrics/<metric>); its total.
  std::multimap<std::string, std::string> query_params;
  // KEDA's scalerMetadata besides the metric; GetMetrics' value.
  std::map<std::string, std::string> keda_metadata;
};

class FrontendsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    prom_.SetHandler(
        [this](const std::string& q, absl::Time at) -> absl::StatusOr<prom::QueryResult> {
          if (down_) return absl::UnavailableError("connection refused");
          if (absl::StartsWith(q, "kube_pod_labels")) {
            return aa::testing::PodLabelsOf(kNs, {{"a-1", "a"}, {"a-2", "a"}, {"b-1", "b"}}, at);
          }
          if (absl::StartsWith(q, "conc")) {
            return VectorOf({{{{"namespace", kNs}, {"pod", "a-1"}}, 35},
                             {{{"namespace", kNs}, {"pod", "a-2"}}, 105},
                             {{{"namespace", kNs}, {"pod", "b-1"}}, 7}},
                            at);
          }
          if (absl::StartsWith(q, "huge")) {
            // Each value finite, their sum not.
            return VectorOf({{{{"namespace", kNs}, {"pod", "a-1"}}, 1e308},
                             {{{"namespace", kNs}, {"pod", "a-2"}}, 1e308}},
                            at);
          }
          if (absl::StartsWith(q, "deploy_requests")) {
            return VectorOf({{{{"namespace", kNs}, {"deployment", "d1"}}, 3},
                             {{{"namespace", kNs}, {"deployment", "d2"}}, 4}},
                            at);
          }
          if (absl::StartsWith(q, "queue")) {
            std::vector<std::pair<prom::Labels, double>> rows;
            if (!absl::StrContains(q, "queue=\"q2\"")) rows.push_back({{{"queue", "q1"}}, 5});
            if (!absl::StrContains(q, "queue=\"q1\"")) rows.push_back({{{"queue", "q2"}}, 6});
            return VectorOf(rows, at);
          }
          return VectorOf({}, at);
        });
    sampler_ = std::make_unique<pipeline::Sampler>(TestConfig(), prom_, clock_, &registry_);
    sampler_->SetPodLabelSource(&pod_source_);
    config::MetricDefinition queue =
        Rule("queue_depth", config::MetricResource::External(), "queue{<<.LabelMatchers>>}", "");
    sampler_->SetDiscoveredMetrics(
        {Rule("requests", config::MetricResource::FromName("deployments.apps"),
              "deploy_requests{<<.LabelMatchers>>}", "deployment"),
         queue});
    sampler_->Start();
    const pipeline::View view(*sampler_, &objects_);
    metrics_api_ = std::make_unique<apiserver::MetricsApi>(view, clock_);
    query_api_ = std::make_unique<queryapi::QueryApi>(view, registry_, clock_);
    keda::ServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.allow_plaintext = true;
    auto server = keda::Server::Start(options, view);
    ASSERT_TRUE(server.ok()) << server.status();
    keda_ = *std::move(server);
    stub_ = externalscaler::ExternalScaler::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", keda_->port()), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    keda_->Shutdown(absl::Seconds(2));
    sampler_->Stop();
  }

  Answer AskApiserver(const Question& q) {
    net::HttpRequest r;
    r.method = "GET";
    r.path = "/apis/" + q.apiserver_path;
    r.params = q.apiserver_params;
    net::HttpResponse res = metrics_api_->Handle(r);
    Answer a{FromHttp(res.status), 0};
    if (res.status != 200) return a;
    json body = json::parse(res.body);
    for (const json& item : body["items"]) a.value += Quantity(item["value"].get<std::string>());
    return a;
  }
  Answer AskQueryApi(const Question& q) {
    net::HttpRequest r;
    r.method = "GET";
    r.path = absl::StrCat("/api/v1/namespaces/", kNs, "/metrics/", q.metric);
    r.params = q.query_params;
    net::HttpResponse res = query_api_->Handle(r);
    Answer a{FromHttp(res.status), 0};
    if (res.status == 200) a.value = json::parse(res.body)["total"].get<double>();
    return a;
  }
  Answer AskKeda(const Question& q) {
    externalscaler::GetMetricsRequest req;
    externalscaler::ScaledObjectRef* ref = req.mutable_scaledobjectref();
    ref->set_name("so");
    ref->set_namespace_(kNs);
    (*ref->mutable_scalermetadata())["metric"] = q.metric;
    (*ref->mutable_scalermetadata())["target"] = "1";
    for (const auto& [k, v] : q.keda_metadata) (*ref->mutable_scalermetadata())[k] = v;
    req.set_metricname("m");
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    externalscaler::GetMetricsResponse res;
    grpc::Status s = stub_->GetMetrics(&ctx, req, &res);
    Answer a{static_cast<absl::StatusCode>(s.error_code()), 0};
    if (s.ok() && res.metricvalues_size() == 1) a.value = res.metricvalues(0).metricvaluefloat();
    return a;
  }

  // Asks the three frontends `q` and expects `want` from each.
  void ExpectSame(const Question& q, Answer want) {
    const std::vector<std::pair<std::string, Answer>> answers = {
        {"apiserver", AskApiserver(q)}, {"keda", AskKeda(q)}, {"queryapi", AskQueryApi(q)}};
    for (const auto& [frontend, got] : answers) {
      EXPECT_EQ(got.code, want.code) << q.name << " / " << frontend;
      if (want.code == absl::StatusCode::kOk) {
        EXPECT_DOUBLE_EQ(got.value, want.value) << q.name << " / " << frontend;
      }
    }
  }

  std::atomic<bool> down_{false};
  FakePrometheus prom_;
  SimulatedClock clock_;
  prometheus::Registry registry_;
  FakeObjects objects_;
  ::aa::testing::StalablePodIndex pod_source_;
  std::unique_ptr<pipeline::Sampler> sampler_;
  std::unique_ptr<apiserver::MetricsApi> metrics_api_;
  std::unique_ptr<queryapi::QueryApi> query_api_;
  std::unique_ptr<keda::Server> keda_;
  std::unique_ptr<externalscaler::ExternalScaler::Stub> stub_;
};

TEST_F(FrontendsTest, SameQuestionsSameAnswers) {
  const std::string external = "external.metrics.k8s.io/v1beta1/namespaces/ns/";
  const std::vector<std::pair<Question, Answer>> table = {
      {{"pods by selector",
        "concurrency",
        external + "concurrency",
        {{"labelSelector", "serving.kserve.io/inferenceservice=a"}},
        {{"labelSelector", "serving.kserve.io/inferenceservice=a"}},
        {{"labelSelector", "serving.kserve.io/inferenceservice=a"}}},
       {absl::StatusCode::kOk, 140}},
      {{"every pod",
        "concurrency",
        "custom.metrics.k8s.io/v1beta2/namespaces/ns/pods/*/concurrency",
        {},
        {},
        {}},
       {absl::StatusCode::kOk, 147}},
      {{"external series",
        "queue_depth",
        external + "queue_depth",
        {{"labelSelector", "queue=q1"}},
        {{"resource", "external"}, {"metricLabelSelector", "queue=q1"}},
        {{"labelSelector", "queue=q1"}, {"resource", "external"}}},
       {absl::StatusCode::kOk, 5}},
      {{"panic-aware",
        "concurrency_panic",
        external + "concurrency_panic",
        {{"labelSelector", "serving.kserve.io/inferenceservice=b"}},
        {{"labelSelector", "serving.kserve.io/inferenceservice=b"}},
        {{"labelSelector", "serving.kserve.io/inferenceservice=b"}}},
       {absl::StatusCode::kOk, 7}},
      {{"unknown", "nope", external + "nope", {}, {}, {}}, {absl::StatusCode::kNotFound, 0}},
      {{"bad selector",
        "concurrency",
        external + "concurrency",
        {{"labelSelector", "app in (a"}},
        {{"labelSelector", "app in (a"}},
        {{"labelSelector", "app in (a"}}},
       {absl::StatusCode::kInvalidArgument, 0}},
      {{"no pod matches",
        "concurrency",
        "custom.metrics.k8s.io/v1beta2/namespaces/ns/pods/*/concurrency",
        {{"labelSelector", "app=zzz"}},
        {{"labelSelector", "app=zzz"}},
        {{"labelSelector", "app=zzz"}}},
       // KEDA serves the total of no pods, 0; the HTTP APIs answer 404.
       {absl::StatusCode::kOk, 0}},
  };
  for (const auto& [q, want] : table) {
    if (q.name == "no pod matches") {
      EXPECT_EQ(AskApiserver(q).code, absl::StatusCode::kNotFound);
      EXPECT_EQ(AskQueryApi(q).code, absl::StatusCode::kNotFound);
      Answer keda = AskKeda(q);
      EXPECT_EQ(keda.code, absl::StatusCode::kOk);
      EXPECT_EQ(keda.value, 0);
      continue;
    }
    ExpectSame(q, want);
  }
}

Question DeploymentsOfAppA() {
  return {"objects by selector",
          "requests",
          "custom.metrics.k8s.io/v1beta2/namespaces/ns/deployments.apps/*/requests",
          {{"labelSelector", "app=a"}},
          {{"resource", "deployments.apps"}, {"labelSelector", "app=a"}},
          {{"resource", "deployments.apps"}, {"labelSelector", "app=a"}}};
}

TEST_F(FrontendsTest, ObjectsBySelector) {
  Question q = DeploymentsOfAppA();
  ExpectSame(q, {absl::StatusCode::kOk, 3});
  // Without the selector, every frontend serves the namespace's deployments: 3 + 4.
  q.apiserver_params.clear();
  q.query_params = {{"resource", "deployments.apps"}};
  q.keda_metadata = {{"resource", "deployments.apps"}};
  ExpectSame(q, {absl::StatusCode::kOk, 7});
}

// KEDA asks a slow object source on two reader threads of its own, with at most eight reads
// waiting or running: of twelve requests four are refused at once, gRPC's threads stay free for
// other reads, and the eight held ones answer once the source recovers.
TEST_F(FrontendsTest, KedaBoundsReadsThatAskASlowObjectSource) {
  const Question q = DeploymentsOfAppA();
  ExpectSame(q, {absl::StatusCode::kOk, 3});  // sampled
  objects_.Hold();
  std::vector<Answer> answers(12);
  absl::Mutex mu;
  int refused = 0;
  std::vector<std::thread> askers;
  for (size_t i = 0; i < answers.size(); ++i) {
    askers.emplace_back([&, i] {
      Answer a = AskKeda(q);
      absl::MutexLock lock(&mu);
      answers[i] = a;
      if (a.code == absl::StatusCode::kResourceExhausted) ++refused;
    });
  }
  ASSERT_TRUE(objects_.AwaitWaiting(2, absl::Seconds(20)));
  {
    absl::MutexLock lock(&mu);
    auto four = [&refused]() { return refused == 4; };
    EXPECT_TRUE(mu.AwaitWithTimeout(absl::Condition(&four), absl::Seconds(20)));
  }
  // Reads that do not ask the object source are answered meanwhile.
  Question pods{"every pod", "concurrency", "", {}, {}, {}};
  Answer free = AskKeda(pods);
  EXPECT_EQ(free.code, absl::StatusCode::kOk);
  EXPECT_DOUBLE_EQ(free.value, 147);
  objects_.Release();
  for (std::thread& t : askers) t.join();
  int served = 0;
  for (const Answer& a : answers) {
    if (a.code != absl::StatusCode::kOk) continue;
    ++served;
    EXPECT_DOUBLE_EQ(a.value, 3);
  }
  EXPECT_EQ(served, 8);
  EXPECT_EQ(refused, 4);
}

// A StreamIsActive stream over deployments picked by labels is evaluated (by the push pass) and
// sends the objects' state: 3 > 2 is active, 3 > 5 is not.
TEST_F(FrontendsTest, KedaStreamsOverObjectsPickedByLabels) {
  for (const auto& [threshold, want] :
       std::vector<std::pair<std::string, bool>>{{"2", true}, {"5", false}}) {
    externalscaler::ScaledObjectRef ref;
    ref.set_name("so");
    ref.set_namespace_(kNs);
    (*ref.mutable_scalermetadata())["metric"] = "requests";
    (*ref.mutable_scalermetadata())["resource"] = "deployments.apps";
    (*ref.mutable_scalermetadata())["labelSelector"] = "app=a";
    (*ref.mutable_scalermetadata())["activationThreshold"] = threshold;
    (*ref.mutable_scalermetadata())["target"] = "1";
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    auto reader = stub_->StreamIsActive(&ctx, ref);
    externalscaler::IsActiveResponse res;
    ASSERT_TRUE(reader->Read(&res)) << threshold;
    EXPECT_EQ(res.result(), want) << threshold;
    ctx.TryCancel();
    (void)reader->Finish();
  }
}

TEST_F(FrontendsTest, StaleDataIsUnavailableEverywhere) {
  Question q{
      "stale", "concurrency", "external.metrics.k8s.io/v1beta1/namespaces/ns/concurrency", {}, {},
      {}};
  ExpectSame(q, {absl::StatusCode::kOk, 147});
  down_ = true;
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(::aa::testing::NextSamplerRound(*sampler_, clock_));
  ExpectSame(q, {absl::StatusCode::kUnavailable, 0});
}

// While the pod index is stale, every question that picks pods by their labels is Unavailable
// (503 with the reason on the Kubernetes APIs); the others are answered as before.
TEST_F(FrontendsTest, StalePodIndexIsUnavailableForPodsPickedByLabels) {
  const std::string external = "external.metrics.k8s.io/v1beta1/namespaces/ns/";
  Question by_labels{"pods by selector",
                     "concurrency",
                     external + "concurrency",
                     {{"labelSelector", "serving.kserve.io/inferenceservice=a"}},
                     {{"labelSelector", "serving.kserve.io/inferenceservice=a"}},
                     {{"labelSelector", "serving.kserve.io/inferenceservice=a"}}};
  Question every_pod{"every pod",
                     "concurrency",
                     "custom.metrics.k8s.io/v1beta2/namespaces/ns/pods/*/concurrency",
                     {},
                     {},
                     {}};
  ExpectSame(by_labels, {absl::StatusCode::kOk, 140});
  pod_source_.Set(absl::UnavailableError("the pod index is stale: no successful list since X"));
  ExpectSame(by_labels, {absl::StatusCode::kUnavailable, 0});
  ExpectSame(every_pod, {absl::StatusCode::kOk, 147});
  net::HttpRequest r;
  r.method = "GET";
  r.path = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/ns/pods/*/concurrency";
  r.params = {{"labelSelector", "serving.kserve.io/inferenceservice=a"}};
  net::HttpResponse res = metrics_api_->Handle(r);
  EXPECT_EQ(res.status, 503) << res.body;
  json status = json::parse(res.body);
  EXPECT_EQ(status["kind"], "Status");
  EXPECT_EQ(status["reason"], "ServiceUnavailable");
  EXPECT_EQ(status["message"],
            "metric concurrency in namespace ns: pods are selected by their labels from the "
            "Kubernetes pod watch: the pod index is stale: no successful list since X");
  pod_source_.Set(absl::OkStatus());
  ExpectSame(by_labels, {absl::StatusCode::kOk, 140});
}

// A total that overflows a double is an error in every frontend, never a quantity ("0" before)
// or a number; the Kubernetes APIs say why.
TEST_F(FrontendsTest, NonFiniteTotalsAreErrorsEverywhere) {
  Question q{"huge", "huge", "external.metrics.k8s.io/v1beta1/namespaces/ns/huge", {}, {}, {}};
  ExpectSame(q, {absl::StatusCode::kUnavailable, 0});
  for (const char* path : {"/apis/external.metrics.k8s.io/v1beta1/namespaces/ns/huge",
                           "/apis/custom.metrics.k8s.io/v1beta2/namespaces/ns/metrics/huge"}) {
    net::HttpRequest r;
    r.method = "GET";
    r.path = path;
    net::HttpResponse res = metrics_api_->Handle(r);
    EXPECT_EQ(res.status, 503) << path << ": " << res.body;
    EXPECT_TRUE(absl::StrContains(
        res.body, "metric huge in namespace ns: the total of the 2 selected values is +Inf"))
        << path << ": " << res.body;
  }
  // One pod's value alone is finite and served.
  Question one{
      "one pod", "huge",           "custom.metrics.k8s.io/v1beta2/namespaces/ns/pods/a-1/huge",
      {},        {{"pod", "a-1"}}, {}};
  EXPECT_EQ(AskApiserver(one).code, absl::StatusCode::kOk);
}

}  // namespace
}  // namespace aa
