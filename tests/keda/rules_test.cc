// KEDA triggers naming metrics discovered from prometheus-adapter rules: a real Sampler and
// Discoverer over a FakePrometheus (series and queries), the Scaler directly for values and errors,
// and the gRPC service over a real channel for the four RPCs. The sampler runs on a SimulatedClock.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "externalscaler.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "keda/scaler.h"
#include "keda/server.h"
#include "pipeline/discovery.h"
#include "pipeline/sampler.h"
#include "pipeline/view.h"
#include "testutil/fake_prometheus.h"

namespace aa::keda {
namespace {

using ::aa::testing::FakePrometheus;
using ::aa::testing::VectorOf;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kNs[] = "ns";
constexpr absl::Duration kWait = absl::Seconds(20);

prom::Labels Series(std::string name, prom::Labels labels) {
  labels.emplace_back("__name__", std::move(name));
  std::sort(labels.begin(), labels.end());
  return labels;
}

class KedaRulesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config::Config c;
    c.sampling.interval = absl::Seconds(5);
    c.sampling.max_age = absl::Seconds(30);
    c.sampling.first_sample_timeout = absl::Seconds(10);
    config::MetricDefinition concurrency;
    concurrency.name = "concurrency";
    concurrency.query = "sum by (<<.GroupBy>>) (conc{<<.LabelMatchers>>})";
    concurrency.target = 70;
    c.metrics = {concurrency};
    // The usual prometheus-adapter rule: pods/ and namespaces/http_requests_per_second.
    config::AdapterRule pods;
    pods.path = "rules[0]";
    pods.series_query = "{__name__=~\"^http_requests_total$\",namespace!=\"\",pod!=\"\"}";
    pods.resources.overrides["namespace"] = {"", "namespace"};
    pods.resources.overrides["pod"] = {"", "pod"};
    pods.name_matches = "^(.*)_total$";
    pods.name_as = "${1}_per_second";
    pods.metrics_query = "sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)";
    // services/ and namespaces/svc_latency: no pods metric of that name.
    config::AdapterRule services;
    services.path = "rules[1]";
    services.series_query = "svc_latency";
    services.resources.label_template = "<<.Resource>>";
    services.metrics_query = "max(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)";
    config::AdapterRule external;
    external.path = "externalRules[0]";
    external.external = true;
    external.series_query = "queue_depth";
    external.resources.overrides["namespace"] = {"", "namespace"};
    external.metrics_query = "sum(<<.Series>>{<<.LabelMatchers>>}) by (queue)";
    c.rules = {pods, services, external};
    prom_.SetSeriesHandler(
        [this](const std::vector<std::string>& m) -> absl::StatusOr<std::vector<prom::Labels>> {
          std::lock_guard lock(mu_);
          if (m[0] == "queue_depth") {
            if (!queue_exists_) return std::vector<prom::Labels>{};
            return std::vector<prom::Labels>{
                Series("queue_depth", {{"namespace", kNs}, {"queue", "jobs"}}),
                Series("queue_depth", {{"namespace", kNs}, {"queue", "mail"}})};
          }
          if (m[0] == "svc_latency") {
            return std::vector<prom::Labels>{
                Series("svc_latency", {{"namespace", kNs}, {"service", "web"}})};
          }
          return std::vector<prom::Labels>{
              Series("http_requests_total", {{"namespace", kNs}, {"pod", "p1"}})};
        });
    prom_.SetHandler(
        [this](const std::string& q, absl::Time at) -> absl::StatusOr<prom::QueryResult> {
          std::lock_guard lock(mu_);
          if (absl::StartsWith(q, "kube_pod_labels{")) {
            return VectorOf({{{{"namespace", kNs}, {"pod", "p1"}, {"label_app", "web"}}, 1},
                             {{{"namespace", kNs}, {"pod", "p2"}, {"label_app", "web"}}, 1},
                             {{{"namespace", kNs}, {"pod", "p3"}, {"label_app", "batch"}}, 1}},
                            at);
          }
          if (absl::StartsWith(q, "sum(queue_depth{")) {
            // The matchers the labelSelector became, as external.metrics.k8s.io sends them.
            std::vector<std::pair<prom::Labels, double>> rows;
            bool only_mail =
                absl::StrContains(q, "queue=\"mail\"") || absl::StrContains(q, "queue=~\"mail\"");
            bool only_jobs = absl::StrContains(q, "queue=\"jobs\"");
            if (!only_mail) rows.push_back({{{"queue", "jobs"}}, jobs_});
            if (!only_jobs) rows.push_back({{{"queue", "mail"}}, 5});
            return VectorOf(rows, at);
          }
          if (absl::StartsWith(q, "max(svc_latency{") &&
              absl::StrContains(q, "by (namespace, service)")) {
            return VectorOf({{{{"namespace", kNs}, {"service", "web"}}, 0.25},
                             {{{"namespace", kNs}, {"service", "api"}}, 0.5}},
                            at);
          }
          if (absl::StartsWith(q, "sum(rate(http_requests_total{")) {
            if (absl::StrContains(q, "by (namespace, pod)")) {
              return VectorOf({{{{"namespace", kNs}, {"pod", "p1"}}, 3},
                               {{{"namespace", kNs}, {"pod", "p2"}}, 4},
                               {{{"namespace", kNs}, {"pod", "p3"}}, 10}},
                              at);
            }
            if (absl::StrContains(q, "by (namespace)"))
              return VectorOf({{{{"namespace", kNs}}, 17.5}}, at);
          }
          return VectorOf({}, at);
        });
    sampler_ = std::make_unique<pipeline::Sampler>(c, prom_, clock_, nullptr);
    discoverer_ = std::make_unique<pipeline::Discoverer>(*sampler_, prom_, clock_);
    discoverer_->RunOnce();
    sampler_->Start();
    scaler_ = std::make_unique<Scaler>(pipeline::View(*sampler_));
  }

  void TearDown() override {
    if (server_) server_->Shutdown(absl::Seconds(2));
    sampler_->Stop();
  }

  absl::StatusOr<Trigger> Parse(const std::map<std::string, std::string>& md) {
    Metadata m;
    for (const auto& [k, v] : md) m.emplace(k, v);
    return ParseTrigger(m, kNs);
  }

  // GetMetrics' value for the trigger, or its error.
  absl::StatusOr<double> Value(const std::map<std::string, std::string>& md) {
    auto t = Parse(md);
    if (!t.ok()) return t.status();
    auto v = scaler_->Metrics(*t);
    if (!v.ok()) return v.status();
    return v->total;
  }

  absl::Status SpecError(const std::map<std::string, std::string>& md) {
    auto t = Parse(md);
    if (!t.ok()) return t.status();
    return scaler_->MetricSpec(*t).status();
  }

  void Tick() {
    uint64_t generation = sampler_->snapshot()->generation;
    clock_.Advance(absl::Seconds(5));
    sampler_->Wake();
    ASSERT_TRUE(sampler_->WaitForGeneration(generation + 1, kWait));
  }

  void StartServer() {
    ServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.allow_plaintext = true;
    auto server = Server::Start(options, pipeline::View(*sampler_));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    stub_ = externalscaler::ExternalScaler::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials()));
  }

  static externalscaler::ScaledObjectRef Ref(const std::map<std::string, std::string>& md) {
    externalscaler::ScaledObjectRef ref;
    ref.set_name("so");
    ref.set_namespace_(kNs);
    for (const auto& [k, v] : md) (*ref.mutable_scalermetadata())[k] = v;
    return ref;
  }

  static void SetDeadline(grpc::ClientContext* ctx) {
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  }

  std::mutex mu_;
  bool queue_exists_ = true;
  double jobs_ = 12;
  FakePrometheus prom_;
  SimulatedClock clock_;
  std::unique_ptr<pipeline::Sampler> sampler_;
  std::unique_ptr<pipeline::Discoverer> discoverer_;
  std::unique_ptr<Scaler> scaler_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<externalscaler::ExternalScaler::Stub> stub_;
};

TEST_F(KedaRulesTest, PodsRuleMetricSumsThePodsTheLabelSelectorChooses) {
  // The name exists for pods and namespaces: pods is the default.
  EXPECT_EQ(Value({{"metric", "http_requests_per_second"}}).value_or(-1), 17);
  EXPECT_EQ(
      Value({{"metric", "http_requests_per_second"}, {"labelSelector", "app=web"}}).value_or(-1),
      7);
  EXPECT_EQ(Value({{"metric", "http_requests_per_second"},
                   {"resource", "pods"},
                   {"labelSelector", "app notin (web)"}})
                .value_or(-1),
            10);
  // The namespace object: the rule's own per-namespace value.
  EXPECT_EQ(Value({{"metric", "http_requests_per_second"}, {"resource", "namespace"}}).value_or(-1),
            17.5);
  absl::Status s = Value({{"metric", "http_requests_per_second"},
                          {"resource", "namespaces"},
                          {"labelSelector", "app=web"}})
                       .status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("scalerMetadata.labelSelector"));
}

TEST_F(KedaRulesTest, ExternalRuleLabelSelectorFiltersTheSeriesInTheQuery) {
  EXPECT_EQ(Value({{"metric", "queue_depth"}}).value_or(-1), 17);
  EXPECT_EQ(Value({{"metric", "queue_depth"}, {"labelSelector", "queue=jobs"}}).value_or(-1), 12);
  EXPECT_EQ(Value({{"metric", "queue_depth"},
                   {"resource", "external"},
                   {"labelSelector", "queue in (mail)"}})
                .value_or(-1),
            5);
  // The selector's matchers come first in <<.LabelMatchers>>, exactly as the ExternalRule path of
  // external.metrics.k8s.io renders them.
  bool seen = false;
  for (const std::string& q : prom_.queries()) {
    seen = seen || q == "sum(queue_depth{queue=\"jobs\",namespace=\"ns\"}) by (queue)";
  }
  EXPECT_TRUE(seen);
  bool regex = false;
  for (const std::string& q : prom_.queries())
    regex = regex || absl::StrContains(q, "queue=~\"mail\"");
  EXPECT_TRUE(regex);
  // Keys must be Prometheus label names; inferenceService selects pods.
  absl::Status s =
      Value({{"metric", "queue_depth"}, {"labelSelector", "app.kubernetes.io/name=x"}}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("scalerMetadata.labelSelector"));
  s = Value({{"metric", "queue_depth"}, {"inferenceService", "isvc"}}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("labelSelector"));
}

TEST_F(KedaRulesTest, ResourceChoosesAmongSeveralAndOtherwiseErrorNamesThem) {
  absl::Status s = Value({{"metric", "svc_latency"}}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()), AllOf(HasSubstr("scalerMetadata.resource"),
                                              HasSubstr("services"), HasSubstr("namespaces")));
  // Singular, plural or kind spelling; the value is the sum over the namespace's services.
  EXPECT_EQ(Value({{"metric", "svc_latency"}, {"resource", "service"}}).value_or(-1), 0.75);
  s = Value({{"metric", "svc_latency"}, {"resource", "pods"}}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_THAT(std::string(s.message()),
              AllOf(HasSubstr("not served for \"pods\""), HasSubstr("services")));
  s = Value({{"metric", "queue_depth"}, {"resource", "Not_A_Resource"}}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
}

TEST_F(KedaRulesTest, RuleMetricsNeedATargetInTheTrigger) {
  absl::Status s = SpecError({{"metric", "http_requests_per_second"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()),
              AllOf(HasSubstr("scalerMetadata.target"), HasSubstr("rules[0]")));
  s = SpecError({{"metric", "queue_depth"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("externalRules[0]"));
  auto t = Parse({{"metric", "queue_depth"}, {"target", "4"}});
  ASSERT_TRUE(t.ok());
  auto spec = scaler_->MetricSpec(*t);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->target, 4);
  EXPECT_EQ(spec->metric_name, "queue_depth");
}

TEST_F(KedaRulesTest, UnknownMetricListsConfiguredAndDiscoveredNames) {
  absl::Status s = Value({{"metric", "nope"}}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_THAT(std::string(s.message()),
              AllOf(HasSubstr("unknown metric \"nope\""), HasSubstr("concurrency"),
                    HasSubstr("http_requests_per_second (namespaces, pods)"),
                    HasSubstr("queue_depth (external)"), HasSubstr("svc_latency")));
}

TEST_F(KedaRulesTest, MetricDiscoveredLaterIsUsableAndOneThatDisappearsIsNotFound) {
  {
    std::lock_guard lock(mu_);
    queue_exists_ = false;
  }
  discoverer_->RunOnce();
  absl::Status s = Value({{"metric", "queue_depth"}}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("unknown metric"));
  {
    std::lock_guard lock(mu_);
    queue_exists_ = true;
  }
  discoverer_->RunOnce();  // the next discovery pass: no restart
  EXPECT_EQ(Value({{"metric", "queue_depth"}}).value_or(-1), 17);
  {
    std::lock_guard lock(mu_);
    queue_exists_ = false;
  }
  discoverer_->RunOnce();
  s = Value({{"metric", "queue_depth"}}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_THAT(std::string(s.message()),
              AllOf(HasSubstr("no longer served"), HasSubstr("externalRules[0]"),
                    Not(HasSubstr("unknown metric"))));
}

TEST_F(KedaRulesTest, FourRpcsOverGrpc) {
  StartServer();
  std::map<std::string, std::string> md = {{"metric", "queue_depth"},
                                           {"labelSelector", "queue=jobs"},
                                           {"target", "5"},
                                           {"activationThreshold", "20"}};
  {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    externalscaler::GetMetricSpecResponse spec;
    grpc::Status st = stub_->GetMetricSpec(&ctx, Ref(md), &spec);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_EQ(spec.metricspecs_size(), 1);
    EXPECT_EQ(spec.metricspecs(0).targetsizefloat(), 5);
  }
  {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    externalscaler::GetMetricsRequest req;
    *req.mutable_scaledobjectref() = Ref(md);
    req.set_metricname("queue_depth");
    externalscaler::GetMetricsResponse values;
    grpc::Status st = stub_->GetMetrics(&ctx, req, &values);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_EQ(values.metricvalues_size(), 1);
    EXPECT_EQ(values.metricvalues(0).metricvaluefloat(), 12);
  }
  {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    externalscaler::IsActiveResponse active;
    grpc::Status st = stub_->IsActive(&ctx, Ref(md), &active);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_FALSE(active.result());  // 12 <= 20
  }
  // StreamIsActive: the current state at once, then true when the pushed snapshot crosses 20.
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  auto reader = stub_->StreamIsActive(&ctx, Ref(md));
  externalscaler::IsActiveResponse msg;
  ASSERT_TRUE(reader->Read(&msg));
  EXPECT_FALSE(msg.result());
  {
    std::lock_guard lock(mu_);
    jobs_ = 25;
  }
  Tick();
  ASSERT_TRUE(reader->Read(&msg));
  EXPECT_TRUE(msg.result());
  ctx.TryCancel();
  // An unknown name is refused at once, over every RPC.
  grpc::ClientContext bad_ctx;
  SetDeadline(&bad_ctx);
  externalscaler::IsActiveResponse ignored;
  grpc::Status st = stub_->IsActive(&bad_ctx, Ref({{"metric", "queue_depthx"}}), &ignored);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(st.error_message(), HasSubstr("queue_depth (external)"));
}

}  // namespace
}  // namespace aa::keda
