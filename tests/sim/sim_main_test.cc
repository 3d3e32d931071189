// Runs the autoscale-sim executable: flags, the "listening" log line, the HTTP API, SIGTERM -> exit
// 0.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"

namespace {

using ::testing::HasSubstr;

class Child {
 public:
  explicit Child(std::vector<std::string> args) {
    args.insert(args.begin(), AA_SIM_BINARY);
    int fds[2];
    EXPECT_EQ(pipe(fds), 0);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], STDERR_FILENO);
      dup2(fds[1], STDOUT_FILENO);
      close(fds[0]);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(fds[1]);
    fd_ = fds[0];
  }
  ~Child() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) close(fd_);
  }

  // Reads output until a line contains `needle` or the deadline (10 s) passes; returns the line or
  // "".
  std::string WaitForLine(const std::string& needle) {
    for (int i = 0; i < 100; ++i) {
      size_t nl;
      while ((nl = buf_.find('\n')) != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        all_ += line + "\n";
        if (line.find(needle) != std::string::npos) return line;
      }
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char tmp[4096];
      const ssize_t n = read(fd_, tmp, sizeof(tmp));
      if (n <= 0) break;
      buf_.append(tmp, static_cast<size_t>(n));
    }
    return "";
  }

  // Reads everything until EOF (bounded) and waits for the exit status.
  int Wait() {
    WaitForLine("\x01never");
    int status = 0;
    waitpid(pid_, &status, 0);
    reaped_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  pid_t pid() const { return pid_; }
  const std::string& output() const { return all_; }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  bool reaped_ = false;
  std::string buf_, all_;
};

TEST(SimMain, HelpListsFlagsWithDefaultsInDashForm) {
  Child c({"--help"});
  c.Wait();
  for (const char* s : {"--listen", "default: \"127.0.0.1:0\"", "--scenario", "--seed", "--tick",
                        "default: 100ms", "--log-level (", "--log-format ("}) {
    EXPECT_THAT(c.output(), HasSubstr(s));
  }
}

TEST(SimMain, ListensServesAndStopsOnSigterm) {
  Child c({"--listen=127.0.0.1:0", "--log-format", "json", "--seed=9", "--tick=50ms"});
  const std::string line = c.WaitForLine("\"msg\":\"listening\"");
  ASSERT_FALSE(line.empty()) << c.output();
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["server"], "http");
  const int port = j["port"].get<int>();
  ASSERT_GT(port, 0);
  EXPECT_EQ(j["address"], "127.0.0.1:" + std::to_string(port));

  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(5, 0);
  auto r = client.Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = client.Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_THAT(r->body, HasSubstr("kube_pod_labels{namespace=\"kserve-test\""));
  r = client.Put("/api/v1/services/kserve-test/concurrency-model/replicas", R"({"replicas":2})",
                 "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(nlohmann::json::parse(r->body)["desired_replicas"], 2);

  ASSERT_EQ(kill(c.pid(), SIGTERM), 0);
  EXPECT_EQ(c.Wait(), 0) << c.output();
  EXPECT_THAT(c.output(), HasSubstr("\"msg\":\"stopped\""));
}

TEST(SimMain, BadScenarioExitsNonZeroWithTheReason) {
  Child c({"--scenario=/nonexistent/scenario.yaml"});
  EXPECT_EQ(c.Wait(), 2);
  EXPECT_THAT(c.output(), HasSubstr("/nonexistent/scenario.yaml"));
}

}  // namespace
