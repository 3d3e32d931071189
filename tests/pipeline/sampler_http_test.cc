// The sampler with the real HTTP Prometheus client against a misbehaving Prometheus: every kind of
// bad answer gets a clear error, is counted in the self-metrics, and leaves the last good data
// intact.

#include <httplib.h>

#include <mutex>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pipeline/sampler.h"
#include "pipeline/sampler_fixture.h"
#include "pipeline/view.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace aa::pipeline {
namespace {

using ::testing::HasSubstr;

constexpr char kGood[] =
    R"({"status":"success","data":{"resultType":"vector","result":[)"
    R"({"metric":{"namespace":"ns","pod":"p1"},"value":[1800000000,"12.5"]}]}})";

class MisbehavingPrometheus {
 public:
  MisbehavingPrometheus() {
    auto handle = [this](const httplib::Request&, httplib::Response& res) {
      std::string mode = Mode();
      if (mode == "good") {
        res.set_content(kGood, "application/json");
      } else if (mode == "500") {
        res.status = 500;
        res.set_content("internal error", "text/plain");
      } else if (mode == "html") {
        res.set_content("<html><body>Bad Gateway</body></html>", "text/html");
      } else if (mode == "truncated") {
        res.set_content(std::string(kGood).substr(0, 60), "application/json");
      } else if (mode == "invalid") {
        res.set_content(
            "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{]}}",
            "application/json");
      } else if (mode == "huge") {
        res.set_content(std::string(2 << 20, ' ') + kGood, "application/json");
      } else if (mode == "nan") {
        res.set_content(R"({"status":"success","data":{"resultType":"vector","result":[)"
                        R"({"metric":{"namespace":"ns","pod":"p1"},"value":[1800000000,"NaN"]}]}})",
                        "application/json");
      } else if (mode == "duplicate") {
        res.set_content(
            R"({"status":"success","data":{"resultType":"vector","result":[)"
            R"({"metric":{"namespace":"ns","pod":"p1","code":"1"},"value":[1800000000,"1"]},)"
            R"({"metric":{"namespace":"ns","pod":"p1","code":"2"},"value":[1800000000,"2"]}]}})",
            "application/json");
      } else if (mode == "warnings") {
        res.set_content(R"({"status":"success","warnings":["partial response: store a down"],)"
                        R"("data":{"resultType":"vector","result":[)"
                        R"({"metric":{"namespace":"ns","pod":"p1"},"value":[1800000000,"99"]}]}})",
                        "application/json");
      } else if (mode == "empty") {
        res.set_content(R"({"status":"success","data":{"resultType":"vector","result":[]}})",
                        "application/json");
      } else if (mode == "bad_data") {
        res.status = 400;
        res.set_content(
            R"({"status":"error","errorType":"bad_data","error":"parse error at char 3"})",
            "application/json");
      }
    };
    server_.Get("/api/v1/query", handle);
    server_.Post("/api/v1/query", handle);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~MisbehavingPrometheus() {
    server_.stop();
    thread_.join();
  }
  void Set(const std::string& mode) {
    std::lock_guard lock(mu_);
    mode_ = mode;
  }
  std::string Mode() {
    std::lock_guard lock(mu_);
    return mode_;
  }
  int port() const { return port_; }

 private:
  std::mutex mu_;
  std::string mode_ = "good";
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};

// The real HTTP client towards `prom`: no retries, 1 MiB answers at most, never sleeping.
prom::ClientOptions ClientOptionsFor(const MisbehavingPrometheus& prom,
                                     prometheus::Registry* registry) {
  prom::ClientOptions options;
  options.url = absl::StrCat("http://127.0.0.1:", prom.port());
  options.max_retries = 0;
  options.timeout = absl::Seconds(5);
  options.max_response_bytes = 1 << 20;
  options.sleep = [](absl::Duration) {};
  options.registry = registry;
  return options;
}

// One metric "m" sampled every 5 s, served for 5 min, without kube_pod_labels.
config::Config OneMetricConfig() {
  config::Config cfg;
  cfg.sampling.interval = absl::Seconds(5);
  cfg.sampling.max_age = absl::Seconds(300);
  cfg.pod_labels.enabled = false;
  config::MetricDefinition def;
  def.name = "m";
  def.query = "sum by (<<.GroupBy>>) (x{<<.LabelMatchers>>})";
  cfg.metrics = {def};
  return cfg;
}

TEST(SamplerWithHttpClient, BadAnswersKeepLastGoodDataAndAreCounted) {
  MisbehavingPrometheus prom;
  prom.Set("good");
  prometheus::Registry registry;
  auto client = prom::NewHttpClient(ClientOptionsFor(prom, &registry));
  ASSERT_TRUE(client.ok()) << client.status();

  SimulatedClock clock;
  Sampler sampler(OneMetricConfig(), **client, clock, &registry);
  sampler.Start();
  auto read = sampler.Read("m", "ns");
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->table->pods.size(), 1u);
  const absl::Time good_at = read->table->sampled_at;

  for (const char* mode :
       {"500", "html", "truncated", "invalid", "huge", "duplicate", "bad_data"}) {
    prom.Set(mode);
    ASSERT_TRUE(
        ::aa::testing::NextSamplerRound(sampler, clock, absl::Seconds(5), absl::Seconds(20)))
        << mode;
    const Slot* slot = sampler.snapshot()->FindSlot({"m", "", "ns"});
    ASSERT_NE(slot, nullptr);
    EXPECT_FALSE(slot->last_error.ok()) << mode;
    EXPECT_FALSE(slot->last_error.message().empty()) << mode;
    read = sampler.Read("m", "ns");
    ASSERT_TRUE(read.ok()) << mode << ": " << read.status();
    EXPECT_EQ(read->table->sampled_at, good_at) << mode;  // the last good table is still served
    EXPECT_EQ(read->table->pods[0].value, 12.5) << mode;
  }
  // NaN values are dropped, not served; an empty answer is an empty table (the API turns it into a
  // 404).
  for (const char* mode : {"nan", "empty"}) {
    prom.Set(mode);
    ASSERT_TRUE(
        ::aa::testing::NextSamplerRound(sampler, clock, absl::Seconds(5), absl::Seconds(20)))
        << mode;
    read = sampler.Read("m", "ns");
    ASSERT_TRUE(read.ok()) << mode;
    EXPECT_TRUE(read->table->pods.empty()) << mode;
  }
  std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
  EXPECT_THAT(
      text, HasSubstr("autoscale_adapter_sampler_queries_total{metric=\"m\",outcome=\"error\"} 7"));
  EXPECT_THAT(text, HasSubstr("outcome=\"error_http\""));
  EXPECT_THAT(text, HasSubstr("outcome=\"error_parse\""));
  EXPECT_THAT(text, HasSubstr("outcome=\"error_too_large\""));
  EXPECT_THAT(text, HasSubstr("outcome=\"error_query\""));
  EXPECT_THAT(
      text,
      HasSubstr("autoscale_adapter_sampler_dropped_values_total{metric=\"m\",reason=\"nan\"} 1"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "autoscale_adapter_sampler_dropped_values_total{metric=\"m\",reason=\"duplicate\"} 1"));
}

// A partial answer (success with warnings) is a failed query: never a value. Without an earlier
// good table the view answers "backend failed" naming the warning; with one, that table stays
// served (until maxAge) as for any failed query.
TEST(SamplerWithHttpClient, PartialAnswersAreFailedQueries) {
  MisbehavingPrometheus prom;
  prom.Set("warnings");
  auto client = prom::NewHttpClient(ClientOptionsFor(prom, nullptr));
  ASSERT_TRUE(client.ok()) << client.status();
  SimulatedClock clock;
  Sampler sampler(OneMetricConfig(), **client, clock, nullptr);
  sampler.Start();
  const View view(sampler);
  Question q;
  q.metric = "m";
  q.ns = "ns";
  auto sel = view.Select(q);
  ASSERT_EQ(sel.status().code(), absl::StatusCode::kUnavailable) << sel.status();
  EXPECT_EQ(WhyOf(sel.status()), Why::kBackendFailed);
  EXPECT_THAT(sel.status().message(), HasSubstr("partial response: store a down"));

  // A round already under way when the answers change may still publish the old outcome: wait
  // for up to three rounds.
  prom.Set("good");
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(
        ::aa::testing::NextSamplerRound(sampler, clock, absl::Seconds(5), absl::Seconds(20)));
    sel = view.Select(q);
    if (sel.ok()) break;
  }
  ASSERT_TRUE(sel.ok()) << sel.status();
  EXPECT_EQ(sel->Stats().total, 12.5);
  prom.Set("warnings");
  const Slot* slot = nullptr;
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(
        ::aa::testing::NextSamplerRound(sampler, clock, absl::Seconds(5), absl::Seconds(20)));
    sel = view.Select(q);
    ASSERT_TRUE(sel.ok()) << sel.status();
    EXPECT_EQ(sel->Stats().total, 12.5);  // never the partial 99
    slot = sampler.snapshot()->FindSlot({"m", "", "ns"});
    ASSERT_NE(slot, nullptr);
    if (!slot->last_error.ok()) break;
  }
  EXPECT_THAT(slot->last_error.message(), HasSubstr("partial answer"));
}

}  // namespace
}  // namespace aa::pipeline
