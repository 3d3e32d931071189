#include "kube/pod.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/fake_apiserver.h"

namespace aa::kube {
namespace {

using ::testing::HasSubstr;
using testing::MakePod;

TEST(QuantityTest, ParsesKubernetesQuantities) {
  struct Case {
    const char* text;
    double want;
  } cases[] = {{"500m", 0.5},    {"2", 2},      {"1.5", 1.5},     {"100n", 100e-9},
               {"250u", 250e-6}, {"1k", 1000},  {"1Ki", 1024},    {"2Gi", 2.0 * (1 << 30)},
               {"1e3", 1000},    {"5E-1", 0.5}, {"0", 0},         {".5", 0.5},
               {"+1", 1},        {"3M", 3e6},   {"1Mi", 1 << 20}, {"1E", 1e18}};
  for (const auto& c : cases) {
    auto v = ParseQuantity(c.text);
    ASSERT_TRUE(v.ok()) << c.text << ": " << v.status();
    EXPECT_DOUBLE_EQ(*v, c.want) << c.text;
  }
  for (const char* bad : {"", "m", "1x", "1mi", "1 m", "abc", "1..2", "1Xi", "1e", "--1"}) {
    EXPECT_EQ(ParseQuantity(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ParsePodTest, KeepsWhatTheAdapterNeeds) {
  nlohmann::json pod = MakePod({.ns = "kserve-test",
                                .name = "m-predictor-1",
                                .labels = {{"serving.kserve.io/inferenceservice", "m"}},
                                .start_time = "2026-11-28T10:00:05Z",
                                .cpu_requests = {"500m", "250m"}});
  pod["metadata"]["resourceVersion"] = "42";
  auto info = ParsePod(pod);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->ns, "kserve-test");
  EXPECT_EQ(info->name, "m-predictor-1");
  EXPECT_EQ(info->labels.at("serving.kserve.io/inferenceservice"), "m");
  EXPECT_EQ(info->phase, "Running");
  EXPECT_TRUE(info->ready);
  EXPECT_FALSE(info->terminating);
  EXPECT_EQ(info->start_time, absl::FromUnixSeconds(1795860005));
  EXPECT_DOUBLE_EQ(info->cpu_request_cores, 0.75);
  EXPECT_TRUE(info->cpu_request_complete);
  EXPECT_EQ(info->resource_version, "42");
}

TEST(ParsePodTest, PendingUnreadyTerminatingAndMissingRequests) {
  auto pending = ParsePod(MakePod({.ns = "n",
                                   .name = "p",
                                   .phase = "Pending",
                                   .ready = false,
                                   .start_time = "",
                                   .cpu_requests = {"1", ""}}));
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->phase, "Pending");
  EXPECT_FALSE(pending->ready);
  EXPECT_EQ(pending->start_time, absl::InfinitePast());
  EXPECT_DOUBLE_EQ(pending->cpu_request_cores, 1);
  EXPECT_FALSE(pending->cpu_request_complete);

  nlohmann::json deleting = MakePod({.ns = "n", .name = "d", .ready = false});
  deleting["metadata"]["deletionTimestamp"] = "2026-11-28T10:01:00Z";
  auto d = ParsePod(deleting);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->terminating);
  EXPECT_FALSE(d->ready);
}

TEST(ParsePodTest, Errors) {
  EXPECT_EQ(ParsePod(nlohmann::json::object()).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParsePod({{"metadata", {{"name", "x"}}}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto bad = ParsePod(MakePod({.ns = "n", .name = "p", .cpu_requests = {"lots"}}));
  EXPECT_THAT(bad.status().message(), HasSubstr("pod n/p, container kserve-container"));
}

}  // namespace
}  // namespace aa::kube
