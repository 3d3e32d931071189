// The query API's SubjectAccessReview attributes are those of the Kubernetes metrics API request
// that reads the same values.

#include "queryapi/authorization.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "queryapi/query_api.h"

namespace aa::queryapi {
namespace {

using ::testing::HasSubstr;

net::HttpRequest Request(std::string path, std::multimap<std::string, std::string> params = {},
                         std::string method = "GET") {
  net::HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.params = std::move(params);
  return r;
}

auth::UserInfo User() {
  auth::UserInfo u;
  u.name = "u";
  return u;
}

// What the custom metrics API itself derives for `path`.
auth::Attributes Direct(const std::string& path, const std::string& method = "GET") {
  return auth::AttributesFor(Request(path, {}, method), User());
}

auth::Attributes For(const net::HttpRequest& r) {
  auto a = AuthorizationAttributes(r, User());
  EXPECT_TRUE(a.ok()) << a.status();
  return a.ok() ? *a : auth::Attributes{};
}

TEST(QueryApiAuthorization, AMetricAndItsScalingAreTheCustomMetricsReadOfPods) {
  const auth::Attributes want =
      Direct("/apis/custom.metrics.k8s.io/v1beta2/namespaces/ns/pods/*/concurrency");
  EXPECT_TRUE(want.resource_request);
  EXPECT_EQ(want.verb, "get");
  EXPECT_EQ(want.namespace_, "ns");
  EXPECT_EQ(want.api_group, "custom.metrics.k8s.io");
  EXPECT_EQ(want.resource, "pods");
  EXPECT_EQ(want.subresource, "concurrency");
  EXPECT_EQ(want.name, "*");
  EXPECT_EQ(For(Request("/api/v1/namespaces/ns/metrics/concurrency")), want);
  EXPECT_EQ(For(Request("/api/v1/namespaces/ns/metrics/concurrency/scaling",
                        {{"inferenceService", "m"}, {"target", "5"}})),
            want);
  EXPECT_EQ(For(Request("/api/v1/namespaces/ns/metrics/concurrency", {{"pod", "a-1"}})),
            Direct("/apis/custom.metrics.k8s.io/v1beta2/namespaces/ns/pods/a-1/concurrency"));
  // A write is a create: no read-only role allows it.
  EXPECT_EQ(For(Request("/api/v1/namespaces/ns/metrics/concurrency", {}, "POST")).verb, "create");
}

TEST(QueryApiAuthorization, OtherResourcesAsTheirOwnApi) {
  EXPECT_EQ(For(Request("/api/v1/namespaces/ns/metrics/m", {{"resource", "deployments.apps"}})),
            Direct("/apis/custom.metrics.k8s.io/v1beta2/namespaces/ns/deployments.apps/*/m"));
  EXPECT_EQ(For(Request("/api/v1/namespaces/ns/metrics/m", {{"resource", "namespaces"}})),
            Direct("/apis/custom.metrics.k8s.io/v1beta2/namespaces/ns/metrics/m"));
  EXPECT_EQ(For(Request("/api/v1/namespaces/ns/metrics/m", {{"resource", "nodes"}})),
            Direct("/apis/custom.metrics.k8s.io/v1beta2/nodes/*/m"));
  auth::Attributes external =
      For(Request("/api/v1/namespaces/ns/metrics/queue", {{"resource", "external"}}));
  EXPECT_EQ(external, Direct("/apis/external.metrics.k8s.io/v1beta1/namespaces/ns/queue"));
  EXPECT_EQ(external.verb, "list");
  EXPECT_EQ(For(Request("/api/v1/namespaces/ns/metrics/cpu", {{"resource", "containers"}})),
            Direct("/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods"));
  EXPECT_EQ(For(Request("/api/v1/namespaces/default/metrics/cpu", {{"resource", "nodemetrics"}})),
            Direct("/apis/metrics.k8s.io/v1beta1/nodes"));
}

TEST(QueryApiAuthorization, TheDefinitionsAreTheCustomMetricsDiscovery) {
  auth::Attributes a = For(Request("/api/v1/metrics"));
  EXPECT_FALSE(a.resource_request);
  EXPECT_EQ(a.path, "/apis/custom.metrics.k8s.io/v1beta2");
  EXPECT_EQ(a.verb, "get");
}

TEST(QueryApiAuthorization, ParametersThatWouldChangeTheResourceAreRefused) {
  for (auto [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"resource", "pods/x"}, {"resource", ""}, {"pod", "a/b"}, {"pod", ""}}) {
    auto a = AuthorizationAttributes(Request("/api/v1/namespaces/ns/metrics/m", {{name, value}}),
                                     User());
    EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument) << name << "=" << value;
    EXPECT_THAT(a.status().message(), HasSubstr(name));
  }
  EXPECT_FALSE(AuthorizationAttributes(Request("/apis"), auth::UserInfo{}).ok());
}

TEST(QueryApiPaths, OnlyTheThreeQueryRoutes) {
  EXPECT_EQ(ParseQueryPath("/api/v1/metrics")->kind, QueryPath::Kind::kList);
  auto metric = ParseQueryPath("/api/v1/namespaces/ns/metrics/m");
  ASSERT_TRUE(metric.has_value());
  EXPECT_EQ(metric->kind, QueryPath::Kind::kMetric);
  EXPECT_EQ(metric->ns, "ns");
  EXPECT_EQ(metric->metric, "m");
  EXPECT_EQ(ParseQueryPath("/api/v1/namespaces/ns/metrics/m/scaling")->kind,
            QueryPath::Kind::kScaling);
  for (const char* other :
       {"/metrics", "/healthz", "/readyz", "/apis", "/api/v1", "/api/v2/namespaces/ns/metrics/m",
        "/api/v1/namespaces/ns/metrics/m/x", "/api/v1/namespaces/ns/pods/m", "/api/v1/metrics/x"}) {
    EXPECT_FALSE(ParseQueryPath(other).has_value()) << other;
  }
  for (const char* op : {"/metrics", "/healthz", "/livez", "/readyz", "/readyz/prometheus"}) {
    EXPECT_TRUE(IsOperationalPath(op)) << op;
  }
  EXPECT_FALSE(IsOperationalPath("/api/v1/metrics"));
}

}  // namespace
}  // namespace aa::queryapi
