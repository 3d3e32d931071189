// Reloading the config file: the watch notices a kubelet-style ConfigMap swap (the `..data`
// symlink renamed over to a new directory) and a plain rewrite, only a changed content reloads, an
// invalid file keeps the running config and reads 0 on the gauge, and the error names the file,
// line and field. Also which changed fields need a restart.
#include "app/config_reload.h"

#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "config/error_location.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "testutil/temp_dir.h"

namespace aa::app {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kConfigV1[] = R"(prometheus:
  url: http://127.0.0.1:9090
metrics:
- name: one
  query: a{<<.LabelMatchers>>}
)";
constexpr char kConfigV2[] = R"(prometheus:
  url: http://127.0.0.1:9090
metrics:
- name: one
  query: a{<<.LabelMatchers>>}
- name: two
  query: b{<<.LabelMatchers>>}
)";
// metrics[1].target is not a number: line 7.
constexpr char kInvalid[] = R"(prometheus:
  url: http://127.0.0.1:9090
metrics:
- name: one
  query: a{<<.LabelMatchers>>}
- name: two
  target: lots
  query: b{<<.LabelMatchers>>}
)";

std::string Scrape(prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

class ConfigReloaderTest : public ::testing::Test {
 protected:
  ConfigReloaderOptions Options(const std::string& path) {
    ConfigReloaderOptions o;
    o.path = path;
    o.parse = [path](std::string_view text) { return config::ParseConfig(text, path); };
    o.apply = [this](const config::Config& c) {
      std::vector<std::string> names;
      for (const auto& def : c.metrics) names.push_back(def.name);
      applied_.push_back(names);
    };
    o.clock = &clock_;
    o.check_interval = absl::ZeroDuration();  // the test calls Poll()
    o.registry = &registry_;
    return o;
  }

  SimulatedClock clock_;
  prometheus::Registry registry_;
  std::vector<std::vector<std::string>> applied_;
};

TEST_F(ConfigReloaderTest, AKubeletSwapReloadsAndAnInvalidFileKeepsTheRunningConfig) {
  testutil::TempDir dir;
  testutil::ConfigMapVolume volume(dir, "adapter.yaml");
  volume.Write(kConfigV1);
  ConfigReloader reloader(Options(volume.file()));
  EXPECT_THAT(Scrape(registry_), HasSubstr("autoscale_adapter_config_last_reload_successful 1"));
  EXPECT_EQ(reloader.Poll(), ConfigReloader::Outcome::kUnchanged);
  EXPECT_TRUE(applied_.empty());

  volume.Write(kConfigV2);
  EXPECT_EQ(reloader.Poll(), ConfigReloader::Outcome::kApplied);
  ASSERT_EQ(applied_.size(), 1u);
  EXPECT_THAT(applied_[0], ElementsAre("one", "two"));
  EXPECT_EQ(reloader.Poll(), ConfigReloader::Outcome::kUnchanged);

  // The same content in a new version: nothing to apply.
  volume.Write(kConfigV2);
  EXPECT_EQ(reloader.Poll(), ConfigReloader::Outcome::kUnchanged);
  EXPECT_EQ(applied_.size(), 1u);

  clock_.Advance(absl::Minutes(1));
  volume.Write(kInvalid);
  EXPECT_EQ(reloader.Poll(), ConfigReloader::Outcome::kFailed);
  EXPECT_EQ(applied_.size(), 1u);
  std::string metrics = Scrape(registry_);
  EXPECT_THAT(metrics, HasSubstr("autoscale_adapter_config_last_reload_successful 0"));
  EXPECT_THAT(metrics, HasSubstr("autoscale_adapter_config_reloads_total{outcome=\"failure\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("autoscale_adapter_config_reloads_total{outcome=\"success\"} 1"));
  // The failed content is not tried again until it changes.
  EXPECT_EQ(reloader.Poll(), ConfigReloader::Outcome::kUnchanged);

  volume.Write(kConfigV1);
  EXPECT_EQ(reloader.Check(), ConfigReloader::Outcome::kApplied);
  ASSERT_EQ(applied_.size(), 2u);
  EXPECT_THAT(applied_[1], ElementsAre("one"));
  metrics = Scrape(registry_);
  EXPECT_THAT(metrics, HasSubstr("autoscale_adapter_config_last_reload_successful 1"));
  EXPECT_THAT(metrics, HasSubstr(absl::StrCat(
                           "autoscale_adapter_config_last_reload_success_timestamp_seconds ",
                           absl::ToUnixSeconds(clock_.Now()))));
}

TEST_F(ConfigReloaderTest, APlainRewriteAndSighupReload) {
  testutil::TempDir dir;
  const std::string path = dir.WriteFile("adapter.yaml", kConfigV1);
  ConfigReloader reloader(Options(path));
  EXPECT_EQ(reloader.Check(), ConfigReloader::Outcome::kUnchanged);  // SIGHUP, same content
  dir.WriteFile("adapter.yaml", kConfigV2);
  EXPECT_EQ(reloader.Check(), ConfigReloader::Outcome::kApplied);
  dir.WriteFile("adapter.yaml", kConfigV1);
  EXPECT_EQ(reloader.Poll(), ConfigReloader::Outcome::kApplied);
  // A file that disappears is a failure, and so is one that comes back invalid.
  ASSERT_EQ(unlink(path.c_str()), 0);
  EXPECT_EQ(reloader.Poll(), ConfigReloader::Outcome::kFailed);
  EXPECT_THAT(Scrape(registry_), HasSubstr("autoscale_adapter_config_last_reload_successful 0"));
  dir.WriteFile("adapter.yaml", kConfigV1);
  EXPECT_EQ(reloader.Poll(), ConfigReloader::Outcome::kApplied);
  EXPECT_EQ(applied_.size(), 3u);
}

TEST_F(ConfigReloaderTest, TheWatchThreadNoticesAChange) {
  testutil::TempDir dir;
  const std::string path = dir.WriteFile("adapter.yaml", kConfigV1);
  absl::Mutex mu;
  bool applied = false;
  ConfigReloaderOptions o = Options(path);
  o.apply = [&](const config::Config&) {
    absl::MutexLock lock(&mu);
    applied = true;
  };
  o.check_interval = absl::Milliseconds(20);
  ConfigReloader reloader(o);
  reloader.Start();
  dir.WriteFile("adapter.yaml", kConfigV2);
  absl::MutexLock lock(&mu);
  EXPECT_TRUE(mu.AwaitWithTimeout(absl::Condition(&applied), absl::Seconds(30)));
}

TEST(ErrorLocationTest, FieldErrorsGetTheirLineAndSyntaxErrorsKeepTheirs) {
  absl::StatusOr<config::Config> bad = config::ParseConfig(kInvalid, "adapter.yaml");
  ASSERT_FALSE(bad.ok());
  config::ErrorLocation at = config::LocateError(bad.status(), "adapter.yaml", kInvalid);
  EXPECT_EQ(at.file, "adapter.yaml");
  EXPECT_EQ(at.field, "metrics[1].target");
  EXPECT_EQ(at.line, 7);

  const std::string unknown =
      "metrics:\n- name: one\n  query: a{<<.LabelMatchers>>}\n  tagret: 3\n";
  bad = config::ParseConfig(unknown, "f.yaml");
  ASSERT_FALSE(bad.ok());
  at = config::LocateError(bad.status(), "f.yaml", unknown);
  EXPECT_EQ(at.field, "metrics[0].tagret");
  EXPECT_EQ(at.line, 4);

  const std::string syntax = "metrics:\n- name: [one\n";
  bad = config::ParseConfig(syntax, "f.yaml");
  ASSERT_FALSE(bad.ok());
  at = config::LocateError(bad.status(), "f.yaml", syntax);
  EXPECT_GT(at.line, 0) << bad.status();
  EXPECT_EQ(at.field, "");

  // A field the file does not have points at its nearest ancestor.
  at = config::LocateError(absl::InvalidArgumentError("f.yaml: prometheus.url: is required"),
                           "f.yaml", "sampling:\n  interval: 5s\nprometheus:\n  timeout: 3s\n");
  EXPECT_EQ(at.field, "prometheus.url");
  EXPECT_EQ(at.line, 3);
}

TEST(RestartOnlyChangesTest, NamesEachChangedFieldThatNeedsARestart) {
  config::Config a;
  config::Config b = a;
  b.metrics.emplace_back();            // reloads
  b.sampling.interval *= 2;            // reloads
  b.sampling.warm_namespaces = {"x"};  // restart
  b.prometheus.url = "http://other:9090";
  b.keda.listen = ":9600";
  EXPECT_THAT(RestartOnlyChanges(a, b),
              ElementsAre("prometheus.url", "sampling.warmNamespaces", "keda.listen"));
  EXPECT_TRUE(RestartOnlyChanges(a, a).empty());
}

TEST(RestartOnlyChangesTest, BackendsNeedARestart) {
  config::Config a;
  a.backends.push_back({.path = "backends[0]", .options = {}});
  a.backends[0].options.name = "vm";
  a.backends[0].options.url = "http://vm:8428";
  config::Config b = a;
  b.backends[0].options.headers = {{"X-Scope-OrgID", "t2"}};
  b.pod_labels.backend = "vm";
  EXPECT_THAT(RestartOnlyChanges(a, b), ElementsAre("backends.vm.headers", "podLabels.backend"));
  config::Config c = a;
  c.backends.clear();  // a backend removed
  EXPECT_THAT(RestartOnlyChanges(a, c), ElementsAre("backends"));
}

}  // namespace
}  // namespace aa::app
