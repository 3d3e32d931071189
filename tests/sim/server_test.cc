#include "demo/sim/server.h"

#include "absl/synchronization/mutex.h"
#include "demo/sim/scenario.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"

namespace aa::sim {
namespace {

using ::testing::HasSubstr;

class SimServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto sim = Simulator::Create(DefaultScenario(), 1, absl::FromUnixSeconds(1'800'000'000));
    ASSERT_TRUE(sim.ok());
    sim_ = std::move(*sim);
    auto server = SimHttpServer::Start("127.0.0.1:0", sim_.get(), &mu_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    ASSERT_GT(server_->port(), 0);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(5, 0);
  }

  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    sim_->Advance(d);
  }

  nlohmann::json Json(const httplib::Result& r) {
    EXPECT_TRUE(r);
    if (!r) return nullptr;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
    return nlohmann::json::parse(r->body);
  }

  absl::Mutex mu_;
  std::unique_ptr<Simulator> sim_;
  std::unique_ptr<SimHttpServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(SimServerTest, ServesMetricsAndHealth) {
  Advance(absl::Seconds(20));
  auto r = client_->Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_THAT(r->get_header_value("Content-Type"), HasSubstr("text/plain; version=0.0.4"));
  EXPECT_THAT(r->body, HasSubstr("# TYPE revision_request_latencies histogram"));
  EXPECT_THAT(r->body, HasSubstr("sim_time_seconds 20"));
  r = client_->Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(server_->address(), "127.0.0.1:" + std::to_string(server_->port()));
}

TEST_F(SimServerTest, ListsServices) {
  auto j = Json(client_->Get("/api/v1/services"));
  ASSERT_EQ(j["services"].size(), 2u);
  EXPECT_EQ(j["services"][0]["name"], "concurrency-model");
  EXPECT_EQ(j["services"][0]["namespace"], "kserve-test");
  EXPECT_EQ(j["services"][0]["desired_replicas"], 1);
  EXPECT_EQ(j["services"][0]["ready_replicas"], 1);  // the initial pods run from the start
  EXPECT_EQ(j["services"][0]["pods"].size(), 1u);
  // Each pod names its node (the first pod of the cluster goes to the first node).
  EXPECT_EQ(j["services"][0]["pods"][0]["node"], "sim-node-1");
  EXPECT_EQ(j["services"][1]["pods"][0]["node"], "sim-node-2");
  EXPECT_TRUE(j["services"][0]["rps_override"].is_null());
  Advance(absl::Seconds(11));
  j = Json(client_->Get("/api/v1/services/kserve-test/cpu-model"));
  EXPECT_EQ(j["name"], "cpu-model");
  EXPECT_EQ(j["ready_replicas"], 1);
  EXPECT_EQ(client_->Get("/api/v1/services/kserve-test/nope")->status, 404);
}

TEST_F(SimServerTest, ChangesReplicas) {
  auto r = client_->Put("/api/v1/services/kserve-test/concurrency-model/replicas",
                        R"({"replicas":4})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto j = Json(r);
  EXPECT_EQ(j["desired_replicas"], 4);
  EXPECT_EQ(j["pods"].size(), 4u);
  {
    absl::MutexLock lock(&mu_);
    EXPECT_EQ(sim_->Services()[0].desired_replicas, 4);
    EXPECT_EQ(sim_->Services()[1].desired_replicas, 1);
  }
  r = client_->Put("/api/v1/services/kserve-test/concurrency-model/replicas", R"({"replicas":0})",
                   "application/json");
  EXPECT_EQ(Json(r)["desired_replicas"], 0);
}

TEST_F(SimServerTest, ReplicasErrors) {
  const std::string path = "/api/v1/services/kserve-test/concurrency-model/replicas";
  for (const char* body : {R"({"replicas":1001})", R"({"replicas":-1})", R"({"replicas":1.5})",
                           R"({"replicas":"3"})", R"({"replica":3})", R"([3])", "not json", ""}) {
    auto r = client_->Put(path, body, "application/json");
    ASSERT_TRUE(r) << body;
    EXPECT_EQ(r->status, 400) << body;
    auto j = Json(r);
    EXPECT_EQ(j["code"], 400);
    EXPECT_FALSE(j["error"].get<std::string>().empty());
  }
  auto r = client_->Put(path, R"({"replicas":1001})", "application/json");
  EXPECT_THAT(Json(r)["error"].get<std::string>(), HasSubstr("0..1000"));
  r = client_->Put("/api/v1/services/kserve-test/missing/replicas", R"({"replicas":1})",
                   "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_THAT(Json(r)["error"].get<std::string>(), HasSubstr("kserve-test/missing"));
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(sim_->Services()[0].desired_replicas, 1);
}

TEST_F(SimServerTest, OverridesAndRestoresLoad) {
  const std::string path = "/api/v1/services/kserve-test/cpu-model/load";
  auto r = client_->Put(path, R"({"rps":123.5})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto j = Json(r);
  EXPECT_EQ(j["arrival_rate"], 123.5);
  EXPECT_EQ(j["rps_override"], 123.5);
  Advance(absl::Seconds(10));
  {
    absl::MutexLock lock(&mu_);
    EXPECT_NEAR(static_cast<double>(sim_->Services()[1].arrived) / 10, 123.5, 15);
  }
  j = Json(client_->Put(path, R"({"rps":null})", "application/json"));
  EXPECT_TRUE(j["rps_override"].is_null());
  EXPECT_EQ(j["arrival_rate"], 4);  // the profile's first step
  for (const char* body : {R"({"rps":-1})", R"({"rps":"fast"})", R"({})", R"({"rps":1e9})"}) {
    r = client_->Put(path, body, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << body;
  }
  r = client_->Put("/api/v1/services/other/cpu-model/load", R"({"rps":1})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

TEST(SimServer, RejectsBadListenAddresses) {
  auto sim = Simulator::Create(DefaultScenario(), 1, absl::UnixEpoch());
  ASSERT_TRUE(sim.ok());
  absl::Mutex mu;
  EXPECT_EQ(SimHttpServer::Start("nocolon", sim->get(), &mu).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SimHttpServer::Start("127.0.0.1:99999", sim->get(), &mu).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto first = SimHttpServer::Start("127.0.0.1:0", sim->get(), &mu);
  ASSERT_TRUE(first.ok());
  auto second =
      SimHttpServer::Start("127.0.0.1:" + std::to_string((*first)->port()), sim->get(), &mu);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace aa::sim
