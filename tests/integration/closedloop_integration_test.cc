// The closed-loop demo end to end: the autoscale-demo binary (simulator, real Prometheus, adapter,
// HPA/KEDA emulators, KPA) on a shortened scenario (tests/testdata/closedloop/short.yaml: phases,
// sync period, stabilization and metric windows shortened through its config). Assertions read the
// CSV the demo writes and count time in the loop's own steps; the test never sleeps for timing.
// Also: Ctrl-C and a failure mid-run clean up every process and the temp dir; bad flags and
// scenario files are refused before anything starts.

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "demo/closedloop/scenario.h"
#include "demo/proc/subprocess.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "integration/integration_util.h"
#include "testutil/temp_dir.h"

namespace aa {
namespace {

using ::testing::HasSubstr;

const std::string kShort = std::string(AA_SOURCE_DIR) + "/tests/testdata/closedloop/short.yaml";

std::vector<std::string> DemoArgs(const std::string& out_dir) {
  return {std::string(AA_BIN_DIR) + "/autoscale-demo", "--bin_dir=" + std::string(AA_BIN_DIR),
          "--prometheus_bin=" + std::string(AA_PROMETHEUS_BIN), "--out_dir=" + out_dir};
}

// One CSV file as rows of named fields.
std::vector<std::map<std::string, std::string>> ReadCsv(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::vector<std::string> header;
  std::vector<std::map<std::string, std::string>> rows;
  while (std::getline(in, line)) {
    std::vector<std::string> fields = absl::StrSplit(line, ',');
    if (header.empty()) {
      header = fields;
      continue;
    }
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < header.size() && i < fields.size(); ++i) row[header[i]] = fields[i];
    rows.push_back(std::move(row));
  }
  return rows;
}

double Num(const std::map<std::string, std::string>& row, const std::string& key) {
  double v = -1;
  auto it = row.find(key);
  if (it == row.end() || !absl::SimpleAtod(it->second, &v)) return -1;
  return v;
}

// Every process whose command line mentions `text` (the stack's work dir is in each child's
// arguments).
std::vector<int> ProcessesMentioning(const std::string& text) {
  std::vector<int> out;
  DIR* d = opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    int pid = 0;
    if (!absl::SimpleAtoi(e->d_name, &pid)) continue;
    std::ifstream f(absl::StrCat("/proc/", pid, "/cmdline"));
    std::string cmdline((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (cmdline.find(text) != std::string::npos) out.push_back(pid);
  }
  closedir(d);
  return out;
}

// Whether something accepts TCP connections on 127.0.0.1:port.
bool PortOpen(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool open = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return open;
}

struct Started {
  std::string work_dir;
  // simulator, Prometheus, adapter HTTP, HTTPS, gRPC (and the saturation-aware adapter's three, and
  // the panic-aware cpu adapter's three)
  std::vector<int> ports;
};

// Reads the work dir and ports from the demo's first lines.
Started ParseStart(const std::string& log) {
  Started s;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    size_t at = line.find("(logs in ");
    if (at != absl::string_view::npos) {
      s.work_dir = std::string(line.substr(at + 9, line.find(')', at) - at - 9));
    }
    for (absl::string_view word : absl::StrSplit(line, absl::ByAnyChar(" /"))) {
      size_t colon = word.rfind(':');
      int port = 0;
      if (absl::StartsWith(word, "127.0.0.1:") && absl::SimpleAtoi(word.substr(colon + 1), &port)) {
        s.ports.push_back(port);
      }
    }
  }
  return s;
}

void ExpectCleanedUp(const Started& s, size_t ports = 11) {
  ASSERT_FALSE(s.work_dir.empty());
  EXPECT_FALSE(std::filesystem::exists(s.work_dir)) << s.work_dir;
  EXPECT_THAT(ProcessesMentioning(s.work_dir), ::testing::IsEmpty()) << s.work_dir;
  EXPECT_EQ(s.ports.size(), ports);
  for (int port : s.ports) EXPECT_FALSE(PortOpen(port)) << "port " << port << " still open";
}

TEST(ClosedLoopIntegrationTest, BothModelsScaleUpForTheBurstSettleAndReturnToMin) {
  auto scenario = closedloop::LoadScenarioFile(kShort);
  ASSERT_TRUE(scenario.ok()) << scenario.status();
  const double burst = absl::ToDoubleSeconds(scenario->PhaseStart("burst"));
  const double steady = absl::ToDoubleSeconds(scenario->PhaseStart("steady"));
  const double drop = absl::ToDoubleSeconds(scenario->PhaseStart("drop"));
  const double window = absl::ToDoubleSeconds(scenario->autoscaling.scale_down_stabilization);
  // The flapping check below covers the steady phase, which must span a full window.
  ASSERT_GE(drop - steady, window);

  testutil::TempDir dir;
  const std::string out = dir.path() + "/out";
  std::vector<std::string> argv = DemoArgs(out);
  argv.push_back("--scenario=" + kShort);
  auto demo = proc::Subprocess::Start({argv, dir.File("demo.log"), ""});
  ASSERT_TRUE(demo.ok()) << demo.status();
  const absl::Duration bound = scenario->Length() + absl::Minutes(2);
  ASSERT_TRUE(proc::PollUntil([&] { return !(*demo)->Running(); }, bound, absl::Milliseconds(500)))
      << (*demo)->LogTail(40);
  const int code = (*demo)->Stop();
  const std::string log = testutil::ReadFileOrEmpty(dir.File("demo.log"));
  ASSERT_EQ(code, 0) << log;
  std::printf("%s\n", log.substr(log.find("| mode")).c_str());
  ExpectCleanedUp(ParseStart(log));

  auto summary = ReadCsv(out + "/summary.csv");
  std::map<std::string, std::map<std::string, std::string>> by_mode;
  for (auto& row : summary) by_mode[row["mode"]] = row;
  ASSERT_EQ(by_mode.size(), 15u) << testutil::ReadFileOrEmpty(out + "/summary.csv");
  // The LLM modes read their metrics at every sync and measure the time to first token (whether
  // the two-metric HPA takes the larger recommendation is checked deterministically in
  // tests/closedloop/autoscalers_test.cc).
  for (const std::string mode : {"llm-hpa-running", "llm-hpa-two-metrics"}) {
    SCOPED_TRACE(mode);
    EXPECT_EQ(Num(by_mode[mode], "failed_syncs"), 0);
    EXPECT_GT(Num(by_mode[mode], "ttft_p95_s"), 0);
    EXPECT_GT(Num(by_mode[mode], "peak"), 1);
  }

  for (const std::string mode :
       {"concurrency-hpa", "concurrency-hpa-panic", "concurrency-keda", "concurrency-keda-panic",
        "concurrency-kpa", "cpu-hpa", "cpu-keda", "cpu-hpa-saturation", "cpu-keda-saturation"}) {
    SCOPED_TRACE(mode);
    auto rows = ReadCsv(absl::StrCat(out, "/", mode, ".csv"));
    ASSERT_EQ(rows.size(), static_cast<size_t>(scenario->Steps()));
    const auto& s = by_mode[mode];
    const int needed = static_cast<int>(Num(s, "needed"));
    EXPECT_GE(needed, 3);  // the burst needs several pods
    EXPECT_EQ(Num(s, "failed_syncs"), 0);

    // Scales up after the burst: the first scale-up comes after the burst starts and within its
    // phase, and enough pods are ready before the drop.
    double first_up = -1, ready_enough = -1;
    for (const auto& r : rows) {
      const double t = Num(r, "t");
      if (first_up < 0 && Num(r, "set_replicas") > Num(r, "desired")) first_up = t;
      if (ready_enough < 0 && t >= burst && Num(r, "ready") >= needed) ready_enough = t;
    }
    EXPECT_GE(first_up, burst);
    EXPECT_LT(first_up, steady);
    EXPECT_GE(ready_enough, burst);
    EXPECT_LT(ready_enough, drop);
    EXPECT_EQ(Num(s, "time_to_capacity_s"), ready_enough - burst);

    // Settles at steady load: during the whole steady phase (at least one stabilization window)
    // the replicas never change direction, and they end near what the load needs.
    int last_direction = 0, reversals = 0;
    int end_of_steady = 0;
    for (const auto& r : rows) {
      const double t = Num(r, "t");
      if (t < steady || t >= drop) continue;
      end_of_steady = static_cast<int>(Num(r, "replicas"));
      if (Num(r, "set_replicas") < 0) continue;
      const int direction = Num(r, "set_replicas") > Num(r, "desired") ? 1 : -1;
      if (last_direction != 0 && direction != last_direction) ++reversals;
      last_direction = direction;
    }
    EXPECT_EQ(reversals, 0);
    EXPECT_EQ(Num(s, "steady_direction_changes"), 0);
    EXPECT_GE(end_of_steady, needed);
    EXPECT_LE(end_of_steady, needed + 1);

    // Returns to min after the drop, and stays there.
    EXPECT_EQ(Num(rows.back(), "replicas"), scenario->autoscaling.min_replicas);
    EXPECT_GE(Num(s, "back_to_min_s"), 0);
    EXPECT_GT(Num(s, "pod_seconds"), 0);
    EXPECT_GE(Num(s, "queued_share"), 0);
    EXPECT_LE(Num(s, "queued_share"), 1);
  }
  // The panic-aware metric reacts to the burst the way the KPA does: fewer requests wait in the
  // queue than behind the plain stable-window average (same HPA, same load).
  EXPECT_LT(Num(by_mode["concurrency-hpa-panic"], "queued_share"),
            Num(by_mode["concurrency-hpa"], "queued_share"));
  EXPECT_LE(Num(by_mode["concurrency-hpa-panic"], "peak"), Num(by_mode["concurrency-hpa"], "peak"));
  // The CPU bound: on the saturation-aware cpu (usage + CFS throttled time) the HPA, through
  // metrics.k8s.io and its CPU readiness rules, and KEDA have the burst's capacity ready within two
  // syncs and a pod start of the burst (plus one loop step: the loop may see a pod ready one step
  // late when the wall-clock pacing lags), and sooner than on the usage alone, pinned at the limit.
  const double cpu_bound =
      absl::ToDoubleSeconds(2 * scenario->autoscaling.sync_period +
                            scenario->autoscaling.pod_start_delay + scenario->step);
  // The same for the saturation- and panic-aware cpu (third adapter).
  for (const std::string mode :
       {"cpu-hpa-saturation", "cpu-keda-saturation", "cpu-hpa-panic", "cpu-keda-panic"}) {
    SCOPED_TRACE(mode);
    EXPECT_LE(Num(by_mode[mode], "time_to_capacity_s"), cpu_bound);
    EXPECT_GE(Num(by_mode[mode], "time_to_capacity_s"), 0);
    EXPECT_EQ(Num(by_mode[mode], "failed_syncs"), 0);
  }
  EXPECT_LT(Num(by_mode["cpu-hpa-saturation"], "time_to_capacity_s"),
            Num(by_mode["cpu-hpa"], "time_to_capacity_s"));
  // Scale from zero: both services start at 0 pods with their requests held by the activator.
  // None is lost; the KPA (poked by the activator) has a pod ready one pod start after the first
  // request (plus pacing), KEDA (StreamIsActive pushed when the adapter's sample of the
  // activator's series shows a waiting request) within one scrape + one sampling interval (both
  // 1 s in the demo) + one pod start of the KPA's figure, the goal, plus two loop steps of
  // pacing lag on a loaded machine. Both return to 0 after the drop.
  const double start = absl::ToDoubleSeconds(scenario->autoscaling.pod_start_delay);
  const double step = absl::ToDoubleSeconds(scenario->step);
  for (const std::string mode : {"concurrency-keda-zero", "concurrency-kpa-zero"}) {
    SCOPED_TRACE(mode);
    const auto& s = by_mode[mode];
    EXPECT_EQ(Num(s, "dropped"), 0);
    EXPECT_EQ(Num(s, "failed_syncs"), 0);
    EXPECT_GE(Num(s, "first_ready_s"), start);
    EXPECT_GT(Num(s, "first_wait_max_s"), 0);
    EXPECT_LE(Num(s, "first_wait_max_s"), Num(s, "first_ready_s") + step);
    auto rows = ReadCsv(absl::StrCat(out, "/", mode, ".csv"));
    ASSERT_FALSE(rows.empty());
    EXPECT_EQ(Num(rows.front(), "desired"), 0);
    EXPECT_GT(Num(s, "peak"), 1);
    EXPECT_EQ(Num(rows.back(), "replicas"), 0);
    EXPECT_GE(Num(s, "back_to_min_s"), 0);
  }
  EXPECT_LE(Num(by_mode["concurrency-kpa-zero"], "first_ready_s"), start + 2 * step);
  EXPECT_LE(Num(by_mode["concurrency-keda-zero"], "first_ready_s"),
            Num(by_mode["concurrency-kpa-zero"], "first_ready_s") + 2 + start + 2 * step);
  for (const std::string png : {"overview", "concurrency-hpa", "cpu-hpa"}) {
    const std::string path = absl::StrCat(out, "/", png, ".png");
    ASSERT_TRUE(std::filesystem::exists(path)) << path;
    EXPECT_GT(std::filesystem::file_size(path), 10000u) << path;
    EXPECT_EQ(testutil::ReadFileOrEmpty(path).substr(1, 3), "PNG");
  }
}

// Starts the demo on the short scenario and waits until its loop runs; returns the log so far.
std::string StartAndWaitForTheLoop(proc::Subprocess* demo, const std::string& log_file) {
  std::string log;
  EXPECT_TRUE(proc::PollUntil(
      [&] {
        log = testutil::ReadFileOrEmpty(log_file);
        return log.find("running ") != std::string::npos || !demo->Running();
      },
      absl::Seconds(60)))
      << log;
  EXPECT_THAT(log, HasSubstr("running ")) << log;
  return log;
}

TEST(ClosedLoopIntegrationTest, CtrlCStopsEverythingAndRemovesTheTempDir) {
  testutil::TempDir dir;
  std::vector<std::string> argv = DemoArgs(dir.path() + "/out");
  argv.push_back("--scenario=" + kShort);
  auto demo = proc::Subprocess::Start({argv, dir.File("demo.log"), ""});
  ASSERT_TRUE(demo.ok()) << demo.status();
  const std::string log = StartAndWaitForTheLoop(demo->get(), dir.File("demo.log"));
  const Started started = ParseStart(log);
  ASSERT_FALSE(started.work_dir.empty()) << log;
  EXPECT_TRUE(std::filesystem::exists(started.work_dir));
  EXPECT_FALSE(ProcessesMentioning(started.work_dir).empty());
  (*demo)->Signal(SIGINT);
  ASSERT_TRUE(proc::PollUntil([&] { return !(*demo)->Running(); }, absl::Seconds(60)));
  EXPECT_EQ((*demo)->Stop(), 130);
  const std::string final_log = testutil::ReadFileOrEmpty(dir.File("demo.log"));
  EXPECT_THAT(final_log, HasSubstr("interrupted (SIGINT)"));
  EXPECT_THAT(final_log, HasSubstr("stopped; all processes ended"));
  ExpectCleanedUp(started);
}

TEST(ClosedLoopIntegrationTest, AFailureMidRunStopsEverythingAndRemovesTheTempDir) {
  testutil::TempDir dir;
  std::vector<std::string> argv = DemoArgs(dir.path() + "/out");
  argv.push_back("--scenario=" + kShort);
  argv.push_back("--modes=concurrency-kpa");
  auto demo = proc::Subprocess::Start({argv, dir.File("demo.log"), ""});
  ASSERT_TRUE(demo.ok()) << demo.status();
  const std::string log = StartAndWaitForTheLoop(demo->get(), dir.File("demo.log"));
  const Started started = ParseStart(log);
  ASSERT_FALSE(started.work_dir.empty()) << log;
  // Kill the simulator: the loop's next step cannot read it.
  int killed = 0;
  for (int pid : ProcessesMentioning(started.work_dir + "/sim-scenario.yaml")) {
    if (pid != (*demo)->pid() && kill(pid, SIGKILL) == 0) ++killed;
  }
  ASSERT_EQ(killed, 1);
  ASSERT_TRUE(proc::PollUntil([&] { return !(*demo)->Running(); }, absl::Seconds(60)));
  EXPECT_EQ((*demo)->Stop(), 1);
  EXPECT_THAT(testutil::ReadFileOrEmpty(dir.File("demo.log")), HasSubstr("the loop stopped: "));
  ExpectCleanedUp(started, 5);  // the KPA alone: no saturation-aware adapter
}

TEST(ClosedLoopIntegrationTest, BadFlagsAndScenariosAreRefusedBeforeAnythingStarts) {
  testutil::TempDir dir;
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::string broken = std::string(AA_SOURCE_DIR) + "/tests/testdata/closedloop/broken.yaml";
  for (const Case& c : std::vector<Case>{
           {{"--scenario=" + dir.File("missing.yaml")}, "cannot read scenario file"},
           {{"--scenario=" + broken},
            "broken.yaml:3:28: phases[1].duration: expected a duration such as 20s (got \"soon\")"},
           {{"--scenario=" + kShort, "--long"}, "--scenario and --long exclude each other"},
           {{"--modes=cpu-hpa,warp-drive"}, "--modes: unknown mode \"warp-drive\""},
           {{"--scrape_interval=0s"}, "--scrape_interval: must be in [1s, 5s]"},
           {{"--scrape_interval=often"}, "--scrape_interval: "},
           {{"--out_dir=" + dir.WriteFile("file", "x") + "/sub"}, "--out_dir: cannot write"},
           {{"--gnuplot_bin=/nonexistent/gnuplot"}, "--gnuplot_bin: \"/nonexistent/gnuplot\""},
           {{"extra"}, "unexpected argument \"extra\""}}) {
    std::vector<std::string> argv = DemoArgs(dir.path() + "/out");
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    std::string cmd;
    for (const std::string& a : argv) absl::StrAppend(&cmd, "'", a, "' ");
    int code = 0;
    const std::string output = integration::RunCommand(cmd + "2>&1", &code);
    EXPECT_EQ(code, 2) << cmd << "\n" << output;
    EXPECT_THAT(output, HasSubstr(c.message)) << cmd;
    EXPECT_THAT(output, ::testing::Not(HasSubstr("starting the simulator"))) << cmd;
  }
}

}  // namespace
}  // namespace aa
