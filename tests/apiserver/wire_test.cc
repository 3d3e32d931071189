#include "apiserver/wire.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace aa::apiserver {
namespace {

using nlohmann::json;

absl::Time At(int h, int m, int s) {
  return absl::FromCivil(absl::CivilSecond(2026, 11, 28, h, m, s), absl::UTCTimeZone());
}

// Parses without exceptions escaping into the test; a parse failure is a test failure.
json Parse(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << text;
  return j;
}

CustomMetricItem ConcurrencyItem() {
  CustomMetricItem item;
  item.object = {"Pod", "concurrency-model-predictor-7d9f-abcde", "kserve-test", "v1"};
  item.metric = "concurrency";
  item.timestamp = At(10, 0, 0);
  item.window_seconds = 60;
  item.value = 1.5;
  return item;
}

TEST(CustomMetricValueListTest, V1beta2MatchesReferenceLiteral) {
  const json expected = json::parse(
      R"({"kind":"MetricValueList","apiVersion":"custom.metrics.k8s.io/v1beta2","metadata":{},
 "items":[{"describedObject":{"kind":"Pod","namespace":"kserve-test","name":"concurrency-model-predictor-7d9f-abcde","apiVersion":"v1"},
   "metric":{"name":"concurrency","selector":null},
   "timestamp":"2026-11-28T10:00:00Z","windowSeconds":60,"value":"1500m"}]})");
  const std::string body = CustomMetricValueList("v1beta2", {ConcurrencyItem()});
  EXPECT_EQ(Parse(body), expected) << body;
  // Field by field, so a failure names the field.
  const json got = Parse(body);
  EXPECT_EQ(got["kind"], "MetricValueList");
  EXPECT_EQ(got["apiVersion"], "custom.metrics.k8s.io/v1beta2");
  ASSERT_EQ(got["items"].size(), 1u);
  const json& item = got["items"][0];
  EXPECT_EQ(item["describedObject"], expected["items"][0]["describedObject"]);
  EXPECT_TRUE(item["metric"]["selector"].is_null());
  EXPECT_EQ(item["windowSeconds"], 60);
  EXPECT_FALSE(item.contains("window"));
  EXPECT_FALSE(item.contains("metricName"));
  EXPECT_EQ(item["value"], "1500m");
}

TEST(CustomMetricValueListTest, V1beta1MatchesReferenceLiteral) {
  CustomMetricItem item = ConcurrencyItem();
  item.value = 70;
  const json expected = json::parse(
      R"({"kind":"MetricValueList","apiVersion":"custom.metrics.k8s.io/v1beta1","metadata":{},
 "items":[{"describedObject":{"kind":"Pod","namespace":"kserve-test","name":"concurrency-model-predictor-7d9f-abcde","apiVersion":"v1"},
   "metricName":"concurrency","timestamp":"2026-11-28T10:00:00Z","window":60,"value":"70","selector":null}]})");
  const std::string body = CustomMetricValueList("v1beta1", {item});
  EXPECT_EQ(Parse(body), expected) << body;
  const json got = Parse(body)["items"][0];
  EXPECT_FALSE(got.contains("metric"));
  EXPECT_FALSE(got.contains("windowSeconds"));
  EXPECT_EQ(got["window"], 60);
}

TEST(CustomMetricValueListTest, SelectorIsALabelSelector) {
  CustomMetricItem item = ConcurrencyItem();
  item.selector = {{"queue", "jobs"}, {"a", "b"}};
  const json selector = json::parse(R"({"matchLabels":{"queue":"jobs","a":"b"}})");
  EXPECT_EQ(Parse(CustomMetricValueList("v1beta2", {item}))["items"][0]["metric"]["selector"],
            selector);
  EXPECT_EQ(Parse(CustomMetricValueList("v1beta1", {item}))["items"][0]["selector"], selector);
}

TEST(CustomMetricValueListTest, ClusterScopedObjectHasNoNamespace) {
  CustomMetricItem item = ConcurrencyItem();
  item.object = {"Namespace", "kserve-test", "", "v1"};
  const json obj = Parse(CustomMetricValueList("v1beta2", {item}))["items"][0]["describedObject"];
  EXPECT_EQ(obj, json::parse(R"({"kind":"Namespace","name":"kserve-test","apiVersion":"v1"})"));
}

TEST(CustomMetricValueListTest, EmptyAndManyItems) {
  const json empty = Parse(CustomMetricValueList("v1beta2", {}));
  EXPECT_TRUE(empty["items"].is_array());
  EXPECT_TRUE(empty["items"].empty());
  EXPECT_EQ(empty["kind"], "MetricValueList");

  std::vector<CustomMetricItem> items;
  for (int i = 0; i < 1000; ++i) {
    CustomMetricItem item = ConcurrencyItem();
    item.object.name = "pod-" + std::to_string(i);
    item.value = i / 4.0;
    item.timestamp = At(10, 0, i % 2);  // alternating timestamps
    items.push_back(item);
  }
  const json got = Parse(CustomMetricValueList("v1beta2", items));
  ASSERT_EQ(got["items"].size(), 1000u);
  EXPECT_EQ(got["items"][999]["describedObject"]["name"], "pod-999");
  EXPECT_EQ(got["items"][999]["value"], "249750m");
  EXPECT_EQ(got["items"][998]["value"], "249500m");
  EXPECT_EQ(got["items"][4]["value"], "1");
  EXPECT_EQ(got["items"][0]["value"], "0");
  EXPECT_EQ(got["items"][0]["timestamp"], "2026-11-28T10:00:00Z");
  EXPECT_EQ(got["items"][1]["timestamp"], "2026-11-28T10:00:01Z");
  EXPECT_EQ(got["items"][2]["timestamp"], "2026-11-28T10:00:00Z");
}

TEST(ExternalMetricValueListTest, MatchesReferenceLiteral) {
  ExternalMetricItem item{"queue_depth", {{"queue", "jobs"}}, At(10, 0, 0), 60, 12000};
  const json expected = json::parse(
      R"({"kind":"ExternalMetricValueList","apiVersion":"external.metrics.k8s.io/v1beta1","metadata":{},
 "items":[{"metricName":"queue_depth","metricLabels":{"queue":"jobs"},"timestamp":"2026-11-28T10:00:00Z","window":60,"value":"12k"}]})");
  const std::string body = ExternalMetricValueList({item});
  EXPECT_EQ(Parse(body), expected) << body;

  item.labels.clear();
  const json no_labels = Parse(ExternalMetricValueList({item}))["items"][0]["metricLabels"];
  EXPECT_TRUE(no_labels.is_object());
  EXPECT_TRUE(no_labels.empty());
}

PodMetricsItem ReferencePod() {
  PodMetricsItem pod;
  pod.name = "cpu-model-predictor-5c-xyz";
  pod.ns = "kserve-test";
  pod.labels = {{"app", "x"}};
  pod.creation = At(10, 0, 5);
  pod.timestamp = At(10, 0, 0);
  pod.window = absl::Seconds(15);
  pod.containers = {{"kserve-container", 0.012345678, 26284032}};
  return pod;
}

TEST(PodMetricsTest, ListMatchesReferenceLiteral) {
  const json expected =
      json::parse(R"({"kind":"PodMetricsList","apiVersion":"metrics.k8s.io/v1beta1","metadata":{},
 "items":[{"metadata":{"name":"cpu-model-predictor-5c-xyz","namespace":"kserve-test","creationTimestamp":"2026-11-28T10:00:05Z","labels":{"app":"x"}},
   "timestamp":"2026-11-28T10:00:00Z","window":"15s",
   "containers":[{"name":"kserve-container","usage":{"cpu":"12345678n","memory":"25668Ki"}}]}]})");
  const std::string body = PodMetricsList({ReferencePod()});
  EXPECT_EQ(Parse(body), expected) << body;
}

TEST(PodMetricsTest, SingleHasKindAndApiVersion) {
  PodMetricsItem pod = ReferencePod();
  pod.labels.clear();
  pod.creation = absl::InfinitePast();
  pod.window = absl::Seconds(60);
  pod.containers.push_back({"sidecar", 0.25, 2.0 * 1024 * 1024 * 1024});
  const json got = Parse(PodMetrics(pod));
  EXPECT_EQ(got["kind"], "PodMetrics");
  EXPECT_EQ(got["apiVersion"], "metrics.k8s.io/v1beta1");
  EXPECT_FALSE(got["metadata"].contains("labels"));  // omitempty
  EXPECT_TRUE(got["metadata"]["creationTimestamp"].is_null());
  EXPECT_EQ(got["metadata"]["namespace"], "kserve-test");
  EXPECT_EQ(got["window"], "1m0s");
  ASSERT_EQ(got["containers"].size(), 2u);
  EXPECT_EQ(got["containers"][1],
            json::parse(R"({"name":"sidecar","usage":{"cpu":"250m","memory":"2Gi"}})"));
}

TEST(PodMetricsTest, UsageWithoutMemoryHasOnlyCpu) {
  // A config with no memory metric: the ResourceList holds cpu only, never a made-up 0.
  PodMetricsItem pod = ReferencePod();
  pod.containers = {{"kserve-container", 0.25, std::nullopt}};
  EXPECT_EQ(Parse(PodMetrics(pod))["containers"][0]["usage"], json::parse(R"({"cpu":"250m"})"));
  NodeMetricsItem node;
  node.name = "node-1";
  node.cpu_cores = 1.5;
  EXPECT_EQ(Parse(NodeMetrics(node))["usage"], json::parse(R"({"cpu":"1500m"})"));
}

TEST(PodMetricsTest, NoContainersIsAnEmptyArray) {
  PodMetricsItem pod = ReferencePod();
  pod.containers.clear();
  const json got = Parse(PodMetricsList({pod, pod}));
  ASSERT_EQ(got["items"].size(), 2u);
  // Each item's creationTimestamp and timestamp, though printed alternately from caches.
  EXPECT_EQ(got["items"][1]["metadata"]["creationTimestamp"], "2026-11-28T10:00:05Z");
  EXPECT_EQ(got["items"][1]["timestamp"], "2026-11-28T10:00:00Z");
  EXPECT_TRUE(got["items"][1]["containers"].is_array());
  EXPECT_TRUE(got["items"][1]["containers"].empty());
  EXPECT_TRUE(Parse(PodMetricsList({}))["items"].empty());
}

TEST(NodeMetricsTest, MatchesReferenceShape) {
  NodeMetricsItem node{"node-1",          {},   At(10, 0, 0),
                       absl::Seconds(20), 0.25, 2.0 * 1024 * 1024 * 1024};
  const json expected = json::parse(R"({"kind":"NodeMetrics","apiVersion":"metrics.k8s.io/v1beta1",
    "metadata":{"name":"node-1","creationTimestamp":null},"timestamp":"2026-11-28T10:00:00Z",
    "window":"20s","usage":{"cpu":"250m","memory":"2Gi"}})");
  EXPECT_EQ(Parse(NodeMetrics(node)), expected) << NodeMetrics(node);
  node.creation = At(10, 0, 5);
  EXPECT_EQ(Parse(NodeMetrics(node))["metadata"]["creationTimestamp"], "2026-11-28T10:00:05Z");

  node.labels = {{"kubernetes.io/hostname", "node-1"}};
  const json list = Parse(NodeMetricsList({node}));
  EXPECT_EQ(list["kind"], "NodeMetricsList");
  EXPECT_EQ(list["apiVersion"], "metrics.k8s.io/v1beta1");
  EXPECT_EQ(list["metadata"], json::object());
  ASSERT_EQ(list["items"].size(), 1u);
  EXPECT_FALSE(list["items"][0].contains("kind"));
  EXPECT_EQ(list["items"][0]["metadata"]["labels"]["kubernetes.io/hostname"], "node-1");
  EXPECT_EQ(list["items"][0]["usage"], expected["usage"]);
}

TEST(DiscoveryTest, APIResourceListMatchesReferenceLiteral) {
  const json expected = json::parse(
      R"({"kind":"APIResourceList","apiVersion":"v1","groupVersion":"custom.metrics.k8s.io/v1beta2",
 "resources":[{"name":"pods/concurrency","singularName":"","namespaced":true,"kind":"MetricValueList","verbs":["get"]},
              {"name":"namespaces/concurrency","singularName":"","namespaced":false,"kind":"MetricValueList","verbs":["get"]}]})");
  const std::string body =
      APIResourceList("custom.metrics.k8s.io/v1beta2",
                      {{"pods/concurrency", true, "MetricValueList", {"get"}},
                       {"namespaces/concurrency", false, "MetricValueList", {"get"}}});
  EXPECT_EQ(Parse(body), expected) << body;

  const json external =
      Parse(APIResourceList("external.metrics.k8s.io/v1beta1",
                            {{"queue_depth", true, "ExternalMetricValueList", {"get"}}}));
  EXPECT_EQ(external["resources"][0], json::parse(R"({"name":"queue_depth","singularName":"",
      "namespaced":true,"kind":"ExternalMetricValueList","verbs":["get"]})"));

  const json metrics = Parse(
      APIResourceList("metrics.k8s.io/v1beta1", {{"nodes", false, "NodeMetrics", {"get", "list"}},
                                                 {"pods", true, "PodMetrics", {"get", "list"}}}));
  EXPECT_EQ(metrics["resources"][1]["verbs"], json::parse(R"(["get","list"])"));
  EXPECT_EQ(metrics["resources"][0]["namespaced"], false);
  EXPECT_TRUE(Parse(APIResourceList("x/v1", {}))["resources"].empty());
}

TEST(DiscoveryTest, APIGroupAndList) {
  const json group = Parse(APIGroup("custom.metrics.k8s.io", {"v1beta2", "v1beta1"}));
  EXPECT_EQ(group,
            json::parse(R"({"kind":"APIGroup","apiVersion":"v1","name":"custom.metrics.k8s.io",
    "versions":[{"groupVersion":"custom.metrics.k8s.io/v1beta2","version":"v1beta2"},
                {"groupVersion":"custom.metrics.k8s.io/v1beta1","version":"v1beta1"}],
    "preferredVersion":{"groupVersion":"custom.metrics.k8s.io/v1beta2","version":"v1beta2"}})"));
  EXPECT_FALSE(Parse(APIGroup("g", {})).contains("preferredVersion"));

  const json list = Parse(APIGroupList(
      {{"custom.metrics.k8s.io", {"v1beta2", "v1beta1"}}, {"metrics.k8s.io", {"v1beta1"}}}));
  EXPECT_EQ(list["kind"], "APIGroupList");
  EXPECT_EQ(list["apiVersion"], "v1");
  ASSERT_EQ(list["groups"].size(), 2u);
  json first = group;
  first.erase("kind");
  first.erase("apiVersion");
  EXPECT_EQ(list["groups"][0], first);
  EXPECT_EQ(list["groups"][1]["preferredVersion"]["groupVersion"], "metrics.k8s.io/v1beta1");
  EXPECT_TRUE(Parse(APIGroupList({}))["groups"].empty());
}

TEST(StatusTest, MatchesReferenceLiteralByteForByte) {
  const std::string expected =
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server could not find the metric concurrency for pods","reason":"NotFound","code":404})";
  EXPECT_EQ(StatusJson(404, "the server could not find the metric concurrency for pods"), expected);
  EXPECT_EQ(
      StatusJson(absl::NotFoundError("the server could not find the metric concurrency for pods")),
      expected);
}

TEST(StatusTest, ReasonsForEveryCode) {
  const std::vector<std::pair<int, std::string>> table = {{400, "BadRequest"},
                                                          {401, "Unauthorized"},
                                                          {403, "Forbidden"},
                                                          {404, "NotFound"},
                                                          {405, "MethodNotAllowed"},
                                                          {406, "NotAcceptable"},
                                                          {413, "RequestEntityTooLarge"},
                                                          {414, "BadRequest"},
                                                          {416, "BadRequest"},
                                                          {431, "BadRequest"},
                                                          {429, "TooManyRequests"},
                                                          {500, "InternalError"},
                                                          {503, "ServiceUnavailable"},
                                                          {504, "Timeout"}};
  for (const auto& [code, reason] : table) {
    const json got = Parse(StatusJson(code, "m"));
    EXPECT_EQ(got["kind"], "Status");
    EXPECT_EQ(got["apiVersion"], "v1");
    EXPECT_EQ(got["metadata"], json::object());
    EXPECT_EQ(got["status"], "Failure");
    EXPECT_EQ(got["message"], "m");
    EXPECT_EQ(got["reason"], reason) << code;
    EXPECT_EQ(got["code"], code);
  }
  const json unknown = Parse(StatusJson(418, "teapot"));
  EXPECT_FALSE(unknown.contains("reason"));
  EXPECT_EQ(unknown["code"], 418);
  EXPECT_EQ(unknown["status"], "Failure");
  const json ok = Parse(StatusJson(absl::OkStatus()));
  EXPECT_EQ(ok["status"], "Success");
  EXPECT_EQ(ok["code"], 200);
  EXPECT_FALSE(ok.contains("reason"));
}

TEST(StatusTest, HttpCodeForAbslCodes) {
  EXPECT_EQ(HttpCodeFor(absl::StatusCode::kOk), 200);
  EXPECT_EQ(HttpCodeFor(absl::StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpCodeFor(absl::StatusCode::kUnauthenticated), 401);
  EXPECT_EQ(HttpCodeFor(absl::StatusCode::kPermissionDenied), 403);
  EXPECT_EQ(HttpCodeFor(absl::StatusCode::kNotFound), 404);
  EXPECT_EQ(HttpCodeFor(absl::StatusCode::kUnimplemented), 405);
  EXPECT_EQ(HttpCodeFor(absl::StatusCode::kUnavailable), 503);
  EXPECT_EQ(HttpCodeFor(absl::StatusCode::kDeadlineExceeded), 504);
  for (absl::StatusCode c :
       {absl::StatusCode::kInternal, absl::StatusCode::kUnknown, absl::StatusCode::kCancelled,
        absl::StatusCode::kAlreadyExists, absl::StatusCode::kFailedPrecondition,
        absl::StatusCode::kResourceExhausted, absl::StatusCode::kAborted,
        absl::StatusCode::kOutOfRange, absl::StatusCode::kDataLoss}) {
    EXPECT_EQ(HttpCodeFor(c), 500) << absl::StatusCodeToString(c);
  }
  const json got = Parse(StatusJson(absl::UnavailableError("data too old")));
  EXPECT_EQ(got["code"], 503);
  EXPECT_EQ(got["reason"], "ServiceUnavailable");
  EXPECT_EQ(got["message"], "data too old");
  EXPECT_EQ(Parse(StatusJson(absl::InvalidArgumentError("bad selector")))["reason"], "BadRequest");
  EXPECT_EQ(Parse(StatusJson(absl::InternalError("x")))["reason"], "InternalError");
}

TEST(EscapingTest, StringsRoundTripThroughJson) {
  const std::string nasty = "quote\" backslash\\ newline\n tab\t cr\r bell\x07 nul" +
                            std::string(1, '\0') + " del\x7f é 日本 😀 </script>";
  const json got = Parse(StatusJson(500, nasty));
  EXPECT_EQ(got["message"], nasty);

  ExternalMetricItem item{"m\"x", {{"k\\ey", "v\nal"}, {"ü", "✓"}}, At(10, 0, 0), 1, 1};
  const json ext = Parse(ExternalMetricValueList({item}))["items"][0];
  EXPECT_EQ(ext["metricName"], "m\"x");
  EXPECT_EQ(ext["metricLabels"]["k\\ey"], "v\nal");
  EXPECT_EQ(ext["metricLabels"]["ü"], "✓");
}

TEST(EscapingTest, InvalidUtf8BecomesReplacementCharacter) {
  const std::string replacement = "\xEF\xBF\xBD";
  struct Case {
    std::string in, out;
  };
  const std::vector<Case> cases = {
      {"a\xff"
       "b",
       "a" + replacement + "b"},
      {"\xc3", replacement},                                      // truncated 2-byte sequence
      {"\xc3(", replacement + "("},                               // bad continuation
      {"\xc0\xaf", replacement + replacement},                    // overlong
      {"\xed\xa0\x80", replacement + replacement + replacement},  // surrogate
      {"\xf4\x90\x80\x80", replacement + replacement + replacement + replacement},  // > U+10FFFF
      {"\xe2\x9c\x93", "\xe2\x9c\x93"},          // valid 3-byte stays
      {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},  // valid 4-byte stays
  };
  for (const Case& c : cases) {
    const json got = Parse(StatusJson(400, c.in));
    EXPECT_EQ(got["message"], c.out);
  }
}

TEST(Rfc3339Test, UtcTruncatedClamped) {
  EXPECT_EQ(Rfc3339(At(10, 0, 0)), "2026-11-28T10:00:00Z");
  EXPECT_EQ(Rfc3339(At(23, 59, 59) + absl::Milliseconds(999)), "2026-11-28T23:59:59Z");
  EXPECT_EQ(Rfc3339(absl::UnixEpoch()), "1970-01-01T00:00:00Z");
  EXPECT_EQ(Rfc3339(absl::UnixEpoch() - absl::Milliseconds(1)), "1969-12-31T23:59:59Z");
  EXPECT_EQ(Rfc3339(absl::FromUnixSeconds(951782400)), "2000-02-29T00:00:00Z");
  EXPECT_EQ(Rfc3339(absl::InfinitePast()), "0001-01-01T00:00:00Z");
  EXPECT_EQ(Rfc3339(absl::InfiniteFuture()), "9999-12-31T23:59:59Z");
}

}  // namespace
}  // namespace aa::apiserver
