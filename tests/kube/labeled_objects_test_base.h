#pragma once
// The fixture the two suites of objects selected by labels share (object_list_test.cc,
// object_watch_test.cc): a fake kube-apiserver that requires token "t", a client with that token, a
// simulated clock, and these objects:
//   deployments.apps  ns/web-0..web-4 (app.kubernetes.io/name=web, i=<n>), ns/api (name=api),
//                     other/web-x (name=web)
//   services          ns/web (app.kubernetes.io/name=web)
//   nodes             n1 (pool=gpu), n2 (pool=cpu)

#include <memory>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "gtest/gtest.h"
#include "kube/client.h"
#include "kube/fake_apiserver.h"
#include "pipeline/discovery.h"
#include "selector/selector.h"

namespace aa::kube::testing {

// A selector parsed from `text`; a parse error fails the test (and gives the empty selector).
inline selector::Selector Sel(std::string_view text) {
  auto s = selector::Selector::Parse(text);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : selector::Selector();
}

// A resource of the built-in table; `name` must be in it.
inline const pipeline::KubeResource& R(std::string_view name) {
  return *pipeline::FindKubeResource(name);
}

class LabeledObjectsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = FakeApiServer::Start({.required_token = "t"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    auto client = Client::Create(server_->ClientConfigFor("t"));
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
    for (int i = 0; i < 5; ++i) {
      server_->Upsert("deployments.apps",
                      MakeObject("ns", "web-" + std::to_string(i),
                                 {{"app.kubernetes.io/name", "web"}, {"i", std::to_string(i)}}));
    }
    server_->Upsert("deployments.apps",
                    MakeObject("ns", "api", {{"app.kubernetes.io/name", "api"}}));
    server_->Upsert("deployments.apps",
                    MakeObject("other", "web-x", {{"app.kubernetes.io/name", "web"}}));
    server_->Upsert("services", MakeObject("ns", "web", {{"app.kubernetes.io/name", "web"}}));
    server_->Upsert("nodes", MakeObject("", "n1", {{"pool", "gpu"}}));
    server_->Upsert("nodes", MakeObject("", "n2", {{"pool", "cpu"}}));
  }

  SimulatedClock clock_;
  std::unique_ptr<FakeApiServer> server_;
  std::unique_ptr<Client> client_;
};

}  // namespace aa::kube::testing
