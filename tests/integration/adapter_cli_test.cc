// The adapter binary's command line: --version, the first log line, flags written with dashes (and
// still with underscores), an explicitly empty listen flag turning its listener off, and the
// process and build self-metrics on /metrics, SIGHUP reloading the config file. No Prometheus: the
// adapter starts without one.

#include <signal.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "demo/proc/subprocess.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "testutil/temp_dir.h"

namespace aa {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

constexpr absl::Duration kWait = absl::Seconds(30);

class AdapterCli : public ::testing::Test {
 protected:
  // Starts the adapter with `args` (after a Prometheus URL nothing listens on).
  void Start(std::vector<std::string> args) {
    args.insert(args.begin(),
                {AA_BIN_DIR "/autoscale-adapter", "--prometheus-url", "http://127.0.0.1:1",
                 "--authentication=off", "--authorization=off"});
    auto p = proc::Subprocess::Start({args, dir_.File("adapter.log"), ""});
    ASSERT_TRUE(p.ok()) << p.status();
    adapter_ = *std::move(p);
  }

  // The log records (JSON lines) written so far.
  std::vector<json> Records() const {
    std::vector<json> out;
    for (absl::string_view line :
         absl::StrSplit(testutil::ReadFileOrEmpty(dir_.File("adapter.log")), '\n')) {
      json j = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
      if (j.is_object()) out.push_back(std::move(j));
    }
    return out;
  }

  // Waits for the record with "msg" `msg`; null when it did not come.
  json WaitForRecord(const std::string& msg) {
    json found;
    proc::PollUntil(
        [&] {
          for (json& r : Records()) {
            if (r.value("msg", "") == msg) {
              found = std::move(r);
              return true;
            }
          }
          return !adapter_->Running();
        },
        kWait);
    return found;
  }

  // The servers the adapter logged as listening.
  std::vector<std::string> Listening() const {
    std::vector<std::string> out;
    for (const json& r : Records()) {
      if (r.value("msg", "") == "listening") out.push_back(r.value("server", ""));
    }
    return out;
  }

  testutil::TempDir dir_;
  std::unique_ptr<proc::Subprocess> adapter_;
};

TEST_F(AdapterCli, VersionPrintsVersionAndRevisionAndExitsZero) {
  Start({"--version"});
  ASSERT_TRUE(proc::PollUntil([&] { return !adapter_->Running(); }, kWait));
  EXPECT_EQ(adapter_->Stop(), 0);
  const std::string out = testutil::ReadFileOrEmpty(dir_.File("adapter.log"));
  // 12 hex digits (maybe -dirty) from git, or "unknown" when built without git metadata.
  EXPECT_THAT(out, MatchesRegex("autoscale-adapter version " AA_VERSION
                                ", revision ([0-9a-f]{12}(-dirty)?|unknown)\n"));
}

TEST_F(AdapterCli, DashedFlagsAndTheFirstLogLineAndSelfMetrics) {
  // --https-listen "" (explicitly empty): no HTTPS port.
  Start({"--http-listen=127.0.0.1:0", "--grpc-listen", "127.0.0.1:0", "--grpc-insecure",
         "--https-listen", "", "--log-format=json", "--sampling-interval=1s"});
  auto http_port = adapter_->WaitForListeningPort("http", kWait);
  ASSERT_TRUE(http_port.ok()) << http_port.status();
  ASSERT_TRUE(adapter_->WaitForListeningPort("grpc", kWait).ok());
  json started = WaitForRecord("started");
  ASSERT_TRUE(started.is_object()) << adapter_->LogTail();
  EXPECT_EQ(started["https"], false);
  EXPECT_THAT(Listening(), Not(::testing::Contains("https")));

  std::vector<json> records = Records();
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records[0]["msg"], "autoscale-adapter");
  EXPECT_EQ(records[0]["version"], AA_VERSION);
  EXPECT_THAT(records[0].value("revision", ""), MatchesRegex("[0-9a-f]{12}(-dirty)?|unknown"));

  httplib::Client client("127.0.0.1", *http_port);
  client.set_read_timeout(10, 0);
  auto r = client.Get("/metrics");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  ASSERT_EQ(r->status, 200);
  EXPECT_THAT(r->body,
              HasSubstr("autoscale_adapter_build_info{revision=\"" +
                        records[0].value("revision", "") + "\",version=\"" AA_VERSION "\"} 1"));
  double rss = 0, start = 0, fds = 0;
  for (absl::string_view line : absl::StrSplit(r->body, '\n')) {
    if (absl::ConsumePrefix(&line, "process_resident_memory_bytes "))
      (void)absl::SimpleAtod(line, &rss);
    if (absl::ConsumePrefix(&line, "process_start_time_seconds "))
      (void)absl::SimpleAtod(line, &start);
    if (absl::ConsumePrefix(&line, "process_open_fds ")) (void)absl::SimpleAtod(line, &fds);
  }
  EXPECT_GT(rss, 1 << 20);
  EXPECT_GT(fds, 3);
  const double now = absl::ToUnixMillis(absl::Now()) / 1000.0;
  EXPECT_LE(start, now + 1);
  EXPECT_GT(start, now - 60);
  // Prometheus is down: no sample, so no snapshot age (not -1).
  EXPECT_THAT(r->body, Not(HasSubstr("autoscale_adapter_snapshot_age_seconds{")));
}

// The gRPC port without TLS files: the adapter refuses to start and says what to set; with
// --grpc-insecure it serves plaintext and logs a warning.
TEST_F(AdapterCli, PlaintextGrpcOnlyWithTheInsecureFlag) {
  Start({"--http-listen=127.0.0.1:0", "--grpc-listen=127.0.0.1:0", "--https-listen=off"});
  ASSERT_TRUE(proc::PollUntil([&] { return !adapter_->Running(); }, kWait));
  EXPECT_EQ(adapter_->Stop(), 1);
  json fatal = WaitForRecord("fatal");
  ASSERT_TRUE(fatal.is_object()) << adapter_->LogTail();
  EXPECT_THAT(fatal.value("error", ""), HasSubstr("--grpc-tls-cert-file"));
  EXPECT_THAT(fatal.value("error", ""), HasSubstr("--grpc-insecure"));
  EXPECT_THAT(Listening(), Not(::testing::Contains("grpc")));

  Start({"--http-listen=127.0.0.1:0", "--grpc-listen=127.0.0.1:0", "--https-listen=off",
         "--grpc-insecure"});
  json warning = WaitForRecord("keda server: PLAINTEXT gRPC port (--grpc-insecure)");
  ASSERT_TRUE(warning.is_object()) << adapter_->LogTail();
  EXPECT_EQ(warning["level"], "warn");
  ASSERT_TRUE(adapter_->WaitForListeningPort("grpc", kWait).ok());
}

TEST_F(AdapterCli, EmptyGrpcListenTurnsTheKedaPortOff) {
  // Without the flag the config's keda.listen (:9500) applies; an explicitly empty one is "off".
  Start({"--http-listen=127.0.0.1:0", "--grpc-listen", "", "--https-listen=off"});
  json started = WaitForRecord("started");
  ASSERT_TRUE(started.is_object()) << adapter_->LogTail();
  EXPECT_EQ(started["grpc"], false);
  EXPECT_EQ(started["http"], true);
  EXPECT_THAT(Listening(), ::testing::ElementsAre("http"));
}

TEST_F(AdapterCli, UnderscoreFormsStillWork) {
  Start({"--http_listen=", "--grpc_listen=127.0.0.1:0", "--grpc_insecure",
         "--https_listen=127.0.0.1:0"});
  json started = WaitForRecord("started");
  ASSERT_TRUE(started.is_object()) << adapter_->LogTail();
  EXPECT_EQ(started["http"], false);
  EXPECT_THAT(Listening(), ::testing::UnorderedElementsAre("https", "grpc"));
}

// SIGHUP reloads the --config file with the same flag overrides as at start (--prometheus-url, the
// file has none; --grpc-listen, unlike the file's keda.listen: no restart warning), and leaves the
// adapter running.
TEST_F(AdapterCli, SighupReloadsTheConfigFileWithTheFlagOverrides) {
  constexpr char kOne[] = "metrics:\n- name: one\n  query: a{<<.LabelMatchers>>}\n";
  const std::string path = dir_.WriteFile("adapter.yaml", kOne);
  Start({"--config", path, "--http-listen=127.0.0.1:0", "--grpc-listen=127.0.0.1:0",
         "--grpc-insecure", "--https-listen=off"});
  ASSERT_TRUE(WaitForRecord("started").is_object()) << adapter_->LogTail();
  adapter_->Signal(SIGHUP);
  ASSERT_TRUE(WaitForRecord("config reload: the file is unchanged").is_object())
      << adapter_->LogTail();

  dir_.WriteFile("adapter.yaml",
                 absl::StrCat(kOne, "- name: two\n  query: b{<<.LabelMatchers>>}\n"));
  adapter_->Signal(SIGHUP);
  json reloaded = WaitForRecord("config reloaded");
  ASSERT_TRUE(reloaded.is_object()) << adapter_->LogTail();
  EXPECT_EQ(reloaded["metrics"], 2);
  EXPECT_TRUE(adapter_->Running());
  for (const json& r : Records()) {
    EXPECT_NE(r.value("msg", ""),
              "config reload: changed fields that need a restart keep their running values")
        << r.dump();
    EXPECT_NE(r.value("msg", ""), "config reload failed: the previous configuration keeps serving")
        << r.dump();
  }
  auto http_port = adapter_->WaitForListeningPort("http", kWait);
  ASSERT_TRUE(http_port.ok());
  httplib::Client client("127.0.0.1", *http_port);
  auto r = client.Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_THAT(r->body, HasSubstr("autoscale_adapter_config_last_reload_successful 1"));
  EXPECT_THAT(r->body, HasSubstr("autoscale_adapter_config_reloads_total{outcome=\"success\"} 1"));
}

TEST_F(AdapterCli, RaisesTheOpenFileLimitToTheHardLimit) {
  // Each port's connection cap must fit under the descriptor limit: started with a soft limit of
  // 256 (prlimit execs the adapter in its own process), the adapter raises it to the hard limit.
  auto p = proc::Subprocess::Start(
      {{"/usr/bin/prlimit", "--nofile=256:", AA_BIN_DIR "/autoscale-adapter", "--prometheus-url",
        "http://127.0.0.1:1", "--authentication=off", "--authorization=off",
        "--http-listen=127.0.0.1:0", "--grpc-listen=off", "--https-listen=off"},
       dir_.File("adapter.log"),
       ""});
  ASSERT_TRUE(p.ok()) << p.status();
  adapter_ = *std::move(p);
  ASSERT_TRUE(WaitForRecord("started").is_object()) << adapter_->LogTail();
  std::string limits =
      testutil::ReadFileOrEmpty(absl::StrCat("/proc/", adapter_->pid(), "/limits"));
  std::string soft, hard;
  for (absl::string_view line : absl::StrSplit(limits, '\n')) {
    if (!absl::StartsWith(line, "Max open files")) continue;
    std::vector<std::string> f = absl::StrSplit(line.substr(14), ' ', absl::SkipEmpty());
    ASSERT_GE(f.size(), 2u) << line;
    soft = f[0];
    hard = f[1];
  }
  EXPECT_NE(soft, "256");
  EXPECT_EQ(soft, hard) << limits;
}

// prometheus-adapter's flags with values that make no sense here: the adapter refuses to start,
// naming the flag (and a setting given under two names must agree).
TEST(AdapterCliPrometheusAdapterFlags, BadValuesAreStartErrorsNamingTheFlag) {
  struct Case {
    std::vector<std::string> args;
    std::string want;
  } cases[] = {
      {{"--prometheus-verb=PUT"}, "--prometheus-verb=PUT: want GET or POST"},
      {{"--prometheus-header=NoValue"}, "--prometheus-header=NoValue: want Name=Value"},
      {{"--tls-key-file=/a.key", "--tls-private-key-file=/b.key"}, "give one"},
      {{"--metrics-relist-interval=1m", "--metrics-max-age=30s"}, "must not be less than"},
      {{"--metrics-relist-interval=5s"}, "must be at least 10s"},
      {{"--lister-kubeconfig=/a", "--authentication-kubeconfig=/b"}, "must agree"},
      {{"--secure-port=6443", "--https-listen=:7443"}, "give one"},
      {{"--secure-port=70000"}, "--secure-port=70000"},
      {{"--v=-1"}, "--v=-1: want 0 or more"},
      {{"--sampling-interval=40s"}, "maxAge >= 2 x interval (got interval 40s, maxAge 30s)"},
      {{"--prometheus-auth-config=/nonexistent/kubeconfig"},
       "--prometheus-auth-config: kubeconfig: cannot read /nonexistent/kubeconfig"},
  };
  testutil::TempDir dir;
  int n = 0;
  for (const Case& c : cases) {
    std::vector<std::string> args = {AA_BIN_DIR "/autoscale-adapter", "--prometheus-url",
                                     "http://127.0.0.1:1", "--http-listen=off",
                                     "--grpc-listen=off"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const std::string log = dir.File(absl::StrCat("adapter-", ++n, ".log"));
    auto p = proc::Subprocess::Start({args, log, ""});
    ASSERT_TRUE(p.ok()) << p.status();
    ASSERT_TRUE(proc::PollUntil([&] { return !(*p)->Running(); }, kWait)) << c.want;
    EXPECT_EQ((*p)->Stop(), 1) << c.want;
    EXPECT_THAT(testutil::ReadFileOrEmpty(log), HasSubstr(c.want));
  }
}

}  // namespace
}  // namespace aa
