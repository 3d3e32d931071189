// The client and parser against the real Prometheus binary (Debian package `prometheus`), on
// 127.0.0.1 port 0. Skipped when /usr/bin/prometheus is not installed.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/client.h"
#include "testutil/temp_dir.h"

extern char** environ;

namespace aa::prom {
namespace {

using ::testing::HasSubstr;

constexpr char kPrometheus[] = "/usr/bin/prometheus";

class RealPrometheusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kPrometheus, X_OK) != 0) GTEST_SKIP() << kPrometheus << " not installed";
    std::string config =
        dir_.WriteFile("prometheus.yml", "global:\n  scrape_interval: 15s\nscrape_configs: []\n");
    std::string log = dir_.File("prometheus.log");
    std::vector<std::string> args = {kPrometheus, "--config.file=" + config,
                                     "--storage.tsdb.path=" + dir_.File("data"),
                                     "--web.listen-address=127.0.0.1:0", "--log.level=info"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int rc = posix_spawn(&pid_, kPrometheus, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ASSERT_EQ(rc, 0) << "posix_spawn " << kPrometheus;
    // Prometheus logs the port it bound: msg="Listening on" address=127.0.0.1:NNNNN. Waiting for a
    // process to start (bounded, 30 s), not for time to pass.
    std::regex listening(R"(msg="Listening on" address=127\.0\.0\.1:(\d+))");
    for (int i = 0; i < 3000 && port_ == 0; ++i) {
      std::smatch m;
      std::string text = testutil::ReadFileOrEmpty(log);
      if (std::regex_search(text, m, listening)) port_ = std::stoi(m[1]);
      if (port_ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_GT(port_, 0) << testutil::ReadFileOrEmpty(log);
    ClientOptions o;
    o.url = "http://127.0.0.1:" + std::to_string(port_);
    o.timeout = absl::Seconds(10);
    o.max_retries = 0;
    auto c = NewHttpClient(o);
    ASSERT_TRUE(c.ok()) << c.status();
    client_ = *std::move(c);
    // Ready once queries answer (the TSDB opens after the listener).
    absl::Status last;
    for (int i = 0; i < 300; ++i) {
      auto r = client_->Query("1", absl::InfinitePast());
      last = r.status();
      if (r.ok()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL() << "Prometheus never answered: " << last;
  }

  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status;
      waitpid(pid_, &status, 0);
    }
  }

  testutil::TempDir dir_;
  pid_t pid_ = 0;
  int port_ = 0;
  std::unique_ptr<Client> client_;
};

TEST_F(RealPrometheusTest, AnswersOfEveryTypeAndErrors) {
  absl::Time at = absl::FromUnixSeconds(1700000000);
  auto v = client_->Query("label_replace(vector(1.5), \"pod\", \"web-1\", \"\", \"\")", at);
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->type, ResultType::kVector);
  ASSERT_EQ(v->samples.size(), 1u);
  EXPECT_EQ(v->samples[0].value, 1.5);
  EXPECT_EQ(LabelValue(v->samples[0].labels, "pod"), "web-1");
  EXPECT_EQ(v->samples[0].timestamp_ms, 1700000000000);

  auto s = client_->Query("1 / 0", at);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->type, ResultType::kScalar);
  EXPECT_EQ(s->samples.at(0).value, INFINITY);

  auto str = client_->Query("\"hello\"", at);
  ASSERT_TRUE(str.ok()) << str.status();
  EXPECT_EQ(str->type, ResultType::kString);
  EXPECT_EQ(str->string_value, "hello");

  auto m = client_->Query("vector(2)[3m:1m]", at);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->type, ResultType::kMatrix);
  ASSERT_EQ(m->series.size(), 1u);
  EXPECT_EQ(m->series[0].points.size(), 3u);

  auto bad = client_->Query("sum(", at);
  ASSERT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << bad.status();
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("bad_data"));

  auto series = client_->Series({"up"}, absl::InfinitePast(), absl::InfiniteFuture());
  ASSERT_TRUE(series.ok()) << series.status();
  EXPECT_TRUE(series->empty());
}

TEST_F(RealPrometheusTest, PostForm) {
  ClientOptions o;
  o.url = "http://127.0.0.1:" + std::to_string(port_) + "/";
  o.method = "POST";
  auto c = NewHttpClient(o);
  ASSERT_TRUE(c.ok());
  std::string long_query = "vector(3)";
  for (int i = 0; i < 300; ++i) long_query += " + 0";
  auto r = (*c)->Query(long_query, absl::InfinitePast());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->samples.at(0).value, 3);
}

}  // namespace
}  // namespace aa::prom
