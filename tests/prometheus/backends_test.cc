// prom::Backends: lookup by name and by normalized URL; self-metrics labelled by backend.

#include "prometheus/backends.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace aa::prom {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class NullClient : public Client {
 public:
  absl::StatusOr<QueryResult> Query(std::string_view, absl::Time, const QueryOptions&) override {
    return QueryResult{};
  }
  absl::StatusOr<std::vector<Labels>> Series(const std::vector<std::string>&, absl::Time,
                                             absl::Time) override {
    return std::vector<Labels>{};
  }
};

TEST(BackendsTest, FindByNameWithEmptyMeaningDefault) {
  NullClient a, b;
  Backends backends = Backends::Single(a, "http://prometheus:9090");
  ASSERT_TRUE(backends.AddUnowned("zone-b", "https://b.example/prom", b).ok());
  EXPECT_EQ(backends.Find("default"), &a);
  EXPECT_EQ(backends.Find(""), &a);
  EXPECT_EQ(backends.Find("zone-b"), &b);
  EXPECT_EQ(backends.Find("zone-c"), nullptr);
  EXPECT_THAT(backends.Names(), ElementsAre("default", "zone-b"));
  EXPECT_EQ(backends.size(), 2u);
  // Names are unique and not empty.
  EXPECT_EQ(backends.AddUnowned("zone-b", "http://x", b).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(backends.AddUnowned("", "http://x", b).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(backends.Add("c", "http://x", nullptr).code(), absl::StatusCode::kInvalidArgument);
  // Copies share the clients.
  Backends copy = backends;
  EXPECT_EQ(copy.Find("zone-b"), &b);
}

TEST(BackendsTest, FindByUrlComparesNormalizedUrls) {
  NullClient a, b, c;
  Backends backends = Backends::Single(a, "http://prometheus.monitoring:9090");
  ASSERT_TRUE(backends.AddUnowned("zone-b", "https://B.Example/prom/", b).ok());
  ASSERT_TRUE(backends.AddUnowned("no-url", "", c).ok());
  EXPECT_EQ(backends.FindByUrl("http://prometheus.monitoring:9090"), "default");
  EXPECT_EQ(backends.FindByUrl("http://prometheus.monitoring:9090/"), "default");
  EXPECT_EQ(backends.FindByUrl("HTTP://Prometheus.Monitoring:9090"), "default");
  EXPECT_EQ(backends.FindByUrl("https://b.example/prom"), "zone-b");
  EXPECT_EQ(backends.FindByUrl("https://b.example:443/prom/"), "zone-b");
  EXPECT_EQ(backends.FindByUrl("https://user:secret@b.example/prom"), "zone-b");
  // A different port, scheme, host or path is another server.
  EXPECT_EQ(backends.FindByUrl("http://prometheus.monitoring:9091"), std::nullopt);
  EXPECT_EQ(backends.FindByUrl("http://b.example/prom"), std::nullopt);
  EXPECT_EQ(backends.FindByUrl("https://b.example/prom/api"), std::nullopt);
  EXPECT_EQ(backends.FindByUrl("https://b.example"), std::nullopt);
  EXPECT_EQ(backends.FindByUrl("http://evil.example:9090"), std::nullopt);
  // Not a URL, or an empty one, names nothing (not even the backend without a URL).
  EXPECT_EQ(backends.FindByUrl(""), std::nullopt);
  EXPECT_EQ(backends.FindByUrl("prometheus:9090"), std::nullopt);
  EXPECT_EQ(backends.FindByUrl("ftp://prometheus.monitoring:9090"), std::nullopt);
  EXPECT_EQ(*NormalizeBackendUrl("HTTPS://B.example/prom/"), "https://b.example:443/prom");
}

TEST(BackendsTest, CreateBuildsHttpClientsLabelledByBackendInOneRegistry) {
  prometheus::Registry registry;
  ClientOptions a;
  a.url = "http://127.0.0.1:1";
  a.registry = &registry;
  ClientOptions b = a;
  b.name = "zone-b";
  absl::StatusOr<Backends> backends = Backends::Create({a, b});
  ASSERT_TRUE(backends.ok()) << backends.status();
  EXPECT_THAT(backends->Names(), ElementsAre("default", "zone-b"));
  const std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
  EXPECT_THAT(text, HasSubstr("autoscale_adapter_prometheus_requests_total{backend=\"default\","
                              "endpoint=\"query\",outcome=\"success\"} 0"));
  EXPECT_THAT(text, HasSubstr("autoscale_adapter_prometheus_requests_total{backend=\"zone-b\","
                              "endpoint=\"query\",outcome=\"success\"} 0"));
  // A client that cannot be built names its backend.
  ClientOptions bad = b;
  bad.name = "vm";
  bad.url = "ftp://vm";
  bad.registry = nullptr;
  absl::StatusOr<Backends> failed = Backends::Create({bad});
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(failed.status().message(), HasSubstr("backend vm: "));
}

}  // namespace
}  // namespace aa::prom
