// keda_bench: load benchmarks of the KEDA external scaler, printed as a table.
//
// The server is keda_test_server (the real keda::Server + pipeline::Sampler, fed by an in-memory
// Prometheus) in its own process, so its resident memory can be measured alone; this process is the
// client (gRPC callback API).
//  1. GetMetrics with 100 concurrent clients (closed loop, 4 channels), the tutorial's KServe
//     trigger (InferenceService selector + containerConcurrency/targetUtilizationPercentage):
//     calls/s and latency.
//  2. 1,000 open StreamIsActive streams (10 channels): server RSS before and after opening them,
//     then activity toggled 20 times: latency from the `tick` command (one sampling round +
//     snapshot publication) until each stream received the new state.
//
//   keda_bench [--server PATH] [--seconds N]

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "externalscaler.grpc.pb.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
using externalscaler::ExternalScaler;

// keda_test_server as a child process driven over pipes.
class ServerProcess {
 public:
  explicit ServerProcess(const std::string& binary) {
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) std::abort();
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    // Plaintext, and room for the 1,000 streams of one client (the per-client default is 1,000).
    char insecure[] = "--insecure";
    char per_client_flag[] = "--max-streams-per-client";
    char per_client[] = "10000";
    char* argv[] = {const_cast<char*>(binary.c_str()), insecure, per_client_flag, per_client,
                    nullptr};
    if (posix_spawn(&pid_, binary.c_str(), &fa, nullptr, argv, environ) != 0) {
      std::cerr << "cannot start " << binary << "\n";
      std::exit(1);
    }
    close(in[0]);
    close(out[1]);
    to_ = fdopen(in[1], "w");
    from_ = fdopen(out[0], "r");
    std::string line = ReadLine();
    if (line.rfind("PORT ", 0) != 0) {
      std::cerr << "keda_test_server did not start: " << line << "\n";
      std::exit(1);
    }
    port_ = std::stoi(line.substr(5));
  }
  ~ServerProcess() {
    Cmd("quit", /*expect_answer=*/false);
    int status;
    waitpid(pid_, &status, 0);
  }

  std::string Cmd(const std::string& cmd, bool expect_answer = true) {
    std::fprintf(to_, "%s\n", cmd.c_str());
    std::fflush(to_);
    if (!expect_answer) return "";
    std::string answer = ReadLine();
    if (answer.rfind("ok", 0) != 0) {
      std::cerr << "server: " << cmd << " -> " << answer << "\n";
      std::exit(1);
    }
    return answer;
  }

  // Resident set size of the server process, bytes.
  long RssBytes() const {
    std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
    std::string key;
    while (status >> key) {
      if (key == "VmRSS:") {
        long kb;
        status >> kb;
        return kb * 1024;
      }
      status.ignore(1 << 20, '\n');
    }
    return -1;
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  std::string ReadLine() {
    char buf[4096];
    if (std::fgets(buf, sizeof buf, from_) == nullptr) return "";
    std::string s(buf);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
  }

  pid_t pid_ = 0;
  FILE* to_ = nullptr;
  FILE* from_ = nullptr;
  int port_ = 0;
};

externalscaler::ScaledObjectRef KServeRef() {
  externalscaler::ScaledObjectRef ref;
  ref.set_name("concurrency-model-predictor");
  ref.set_namespace_("kserve-test");
  auto& md = *ref.mutable_scalermetadata();
  md["scalerAddress"] = "autoscale-adapter:9500";
  md["metric"] = "concurrency";
  md["inferenceService"] = "model-a";
  md["containerConcurrency"] = "100";
  md["targetUtilizationPercentage"] = "70";
  return ref;
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t k = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

std::vector<std::shared_ptr<grpc::Channel>> Channels(const std::string& address, int n) {
  std::vector<std::shared_ptr<grpc::Channel>> out;
  for (int i = 0; i < n; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("bench.channel", i);  // distinct arguments: distinct connections
    out.push_back(grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
  }
  return out;
}

// ------------------------------------------------------------------------------------------
// GetMetrics load

// One client: a closed loop (next call when the previous answer arrives), or paced (`period` > 0:
// calls are due at fixed times; latency counts from the due time, so a slow answer also delays and
// charges the next call).
class Looper {
 public:
  Looper(ExternalScaler::Stub* stub, Clock::time_point record_from, Clock::time_point stop_at,
         std::atomic<int>* running, Clock::duration period = Clock::duration::zero(),
         Clock::duration offset = Clock::duration::zero())
      : stub_(stub),
        record_from_(record_from),
        stop_at_(stop_at),
        running_(running),
        period_(period) {
    *request_.mutable_scaledobjectref() = KServeRef();
    due_ = Clock::now() + offset;
  }
  void Start() { Next(); }
  std::vector<double>& latencies_ms() { return latencies_ms_; }
  std::vector<double>& rpc_ms() { return rpc_ms_; }
  int errors() const { return errors_; }

 private:
  void Next() {
    if (period_ == Clock::duration::zero() || Clock::now() >= due_) {
      Issue();
      return;
    }
    alarm_ = std::make_unique<grpc::Alarm>();
    alarm_->Set(std::chrono::system_clock::now() + (due_ - Clock::now()),
                [this](bool) { Issue(); });
  }
  void Issue() {
    ctx_ = std::make_unique<grpc::ClientContext>();
    response_.Clear();
    issued_ = Clock::now();
    started_ = period_ == Clock::duration::zero() ? issued_ : due_;
    due_ += period_;
    stub_->async()->GetMetrics(ctx_.get(), &request_, &response_,
                               [this](grpc::Status s) { Done(s); });
  }
  void Done(const grpc::Status& s) {
    auto now = Clock::now();
    if (!s.ok() || response_.metricvalues_size() != 1) ++errors_;
    if (started_ >= record_from_) {
      latencies_ms_.push_back(std::chrono::duration<double, std::milli>(now - started_).count());
      rpc_ms_.push_back(std::chrono::duration<double, std::milli>(now - issued_).count());
    }
    if (now < stop_at_) {
      Next();
    } else {
      running_->fetch_sub(1);
    }
  }

  ExternalScaler::Stub* stub_;
  Clock::time_point record_from_, stop_at_;
  std::atomic<int>* running_;
  externalscaler::GetMetricsRequest request_;
  externalscaler::GetMetricsResponse response_;
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<grpc::Alarm> alarm_;
  Clock::duration period_;
  Clock::time_point due_;
  Clock::time_point started_, issued_;
  std::vector<double> latencies_ms_;  // from the due time (paced) or the call (closed loop)
  std::vector<double> rpc_ms_;        // from the call
  int errors_ = 0;
};

void RunLoad(std::vector<std::unique_ptr<ExternalScaler::Stub>>& stubs, int clients, double seconds,
             Clock::duration period, const char* label) {
  auto start = Clock::now();
  auto record_from = start + std::chrono::seconds(1);
  auto stop_at = record_from + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(seconds));
  std::atomic<int> running{clients};
  std::vector<std::unique_ptr<Looper>> loopers;
  for (int i = 0; i < clients; ++i) {
    loopers.push_back(std::make_unique<Looper>(stubs[i % stubs.size()].get(), record_from, stop_at,
                                               &running, period, period * i / clients));
  }
  for (auto& l : loopers) l->Start();
  while (running.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::vector<double> all, rpc;
  int errors = 0;
  for (auto& l : loopers) {
    all.insert(all.end(), l->latencies_ms().begin(), l->latencies_ms().end());
    rpc.insert(rpc.end(), l->rpc_ms().begin(), l->rpc_ms().end());
    errors += l->errors();
  }
  double rate = static_cast<double>(all.size()) / seconds;
  std::string head = std::string("  ") + label + ": ";
  std::printf("%-58s %12.0f %10s\n", (head + "calls/s").c_str(), rate, ">= 10000");
  std::printf("%-58s %12.2f %10s\n", (head + "latency p50 (ms)").c_str(), Percentile(all, 50), "");
  std::printf("%-58s %12.2f %10s\n", (head + "latency p99 (ms)").c_str(), Percentile(all, 99),
              "< 5");
  std::printf("%-58s %12.2f %10s\n", (head + "latency p99.9 (ms)").c_str(), Percentile(all, 99.9),
              "");
  if (period != Clock::duration::zero()) {
    std::printf("%-58s %12.2f %10s\n",
                (head + "call-to-answer p99 (ms, ignores late starts)").c_str(),
                Percentile(rpc, 99), "");
  }
  std::printf("%-58s %12d %10s\n", (head + "errors").c_str(), errors, "0");
}

void BenchGetMetrics(ServerProcess& server, double seconds) {
  constexpr int kClients = 100;
  auto channels = Channels(server.address(), 4);
  std::vector<std::unique_ptr<ExternalScaler::Stub>> stubs;
  for (auto& c : channels) stubs.push_back(ExternalScaler::NewStub(c));
  // Warm up: the first request samples the namespace.
  {
    grpc::ClientContext ctx;
    externalscaler::GetMetricsRequest req;
    *req.mutable_scaledobjectref() = KServeRef();
    externalscaler::GetMetricsResponse resp;
    grpc::Status s = stubs[0]->GetMetrics(&ctx, req, &resp);
    if (!s.ok()) {
      std::cerr << "GetMetrics failed: " << s.error_message() << "\n";
      std::exit(1);
    }
    std::printf("GetMetrics answer: %s = %.1f\n", resp.metricvalues(0).metricname().c_str(),
                resp.metricvalues(0).metricvaluefloat());
  }
  std::printf("\n%-58s %12s %10s\n", "GetMetrics, 100 concurrent clients", "measured", "goal");
  RunLoad(stubs, kClients, seconds, Clock::duration::zero(), "closed loop (saturation)");
  // 10,000 calls/s in total: each client calls every 10 ms.
  RunLoad(stubs, kClients, seconds, std::chrono::milliseconds(10), "paced, 10,000 calls/s");
}

// ------------------------------------------------------------------------------------------
// streams

struct StreamBoard {
  std::mutex mu;
  std::condition_variable cv;
  int with_state[2] = {0, 0};  // streams whose latest message is false / true
  int done = 0;
};

class StreamReader : public grpc::ClientReadReactor<externalscaler::IsActiveResponse> {
 public:
  StreamReader(ExternalScaler::Stub* stub, StreamBoard* board) : board_(board), ref_(KServeRef()) {
    (*ref_.mutable_scalermetadata())["activationThreshold"] = "0";
    stub->async()->StreamIsActive(&ctx_, &ref_, this);
    StartRead(&response_);
    StartCall();
  }
  void Cancel() { ctx_.TryCancel(); }
  // Receipt time of the latest message.
  Clock::time_point last_at() const { return Clock::time_point(Clock::duration(last_at_.load())); }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    auto now = Clock::now();
    last_at_.store(now.time_since_epoch().count());
    {
      std::lock_guard lock(board_->mu);
      if (state_ >= 0) --board_->with_state[state_];
      state_ = response_.result() ? 1 : 0;
      ++board_->with_state[state_];
    }
    board_->cv.notify_all();
    StartRead(&response_);
  }
  void OnDone(const grpc::Status&) override {
    std::lock_guard lock(board_->mu);
    ++board_->done;
    board_->cv.notify_all();
  }

 private:
  StreamBoard* board_;
  grpc::ClientContext ctx_;
  externalscaler::ScaledObjectRef ref_;
  externalscaler::IsActiveResponse response_;
  int state_ = -1;
  std::atomic<Clock::rep> last_at_{0};
};

bool WaitAll(StreamBoard& board, int state, int count) {
  std::unique_lock lock(board.mu);
  return board.cv.wait_for(lock, std::chrono::seconds(60),
                           [&] { return board.with_state[state] == count; });
}

void BenchStreams(ServerProcess& server) {
  constexpr int kStreams = 1000;
  constexpr int kToggles = 20;
  auto channels = Channels(server.address(), 10);
  std::vector<std::unique_ptr<ExternalScaler::Stub>> stubs;
  for (auto& c : channels) stubs.push_back(ExternalScaler::NewStub(c));
  server.Cmd("set conc kserve-test model-a-1 0");
  server.Cmd("set conc kserve-test model-a-2 0");
  long rss_before = server.RssBytes();

  StreamBoard board;
  std::vector<std::unique_ptr<StreamReader>> readers;
  auto open_start = Clock::now();
  for (int i = 0; i < kStreams; ++i) {
    readers.push_back(std::make_unique<StreamReader>(stubs[i % stubs.size()].get(), &board));
  }
  if (!WaitAll(board, 0, kStreams)) {
    std::cerr << "not every stream got its first message\n";
    std::exit(1);
  }
  double open_ms = std::chrono::duration<double, std::milli>(Clock::now() - open_start).count();
  server.Cmd("waitstreams " + std::to_string(kStreams));
  long rss_after = server.RssBytes();

  std::vector<double> per_stream_ms, all_streams_ms;
  for (int t = 1; t <= kToggles; ++t) {
    int state = t % 2;
    server.Cmd(std::string("set conc kserve-test model-a-1 ") + (state ? "5" : "0"));
    auto sent = Clock::now();
    server.Cmd("tick");
    if (!WaitAll(board, state, kStreams)) {
      std::cerr << "streams did not all receive toggle " << t << "\n";
      std::exit(1);
    }
    double worst = 0;
    for (auto& r : readers) {
      double ms = std::chrono::duration<double, std::milli>(r->last_at() - sent).count();
      per_stream_ms.push_back(ms);
      worst = std::max(worst, ms);
    }
    all_streams_ms.push_back(worst);
  }
  long rss_end = server.RssBytes();

  for (auto& r : readers) r->Cancel();
  {
    std::unique_lock lock(board.mu);
    board.cv.wait_for(lock, std::chrono::seconds(60), [&] { return board.done == kStreams; });
  }
  server.Cmd("waitstreams 0");
  long rss_closed = server.RssBytes();

  std::printf("\n%-58s %12s %10s\n", "StreamIsActive, 1,000 open streams", "measured", "goal");
  std::printf("%-58s %12.1f %10s\n", "time to open all and receive the first state (ms)", open_ms,
              "");
  std::printf("%-58s %12.1f %10s\n", "server RSS before opening (MiB)", rss_before / 1048576.0, "");
  std::printf("%-58s %12.1f %10s\n", "server extra RSS with 1,000 streams open (MiB)",
              (rss_after - rss_before) / 1048576.0, "< 50");
  std::printf("%-58s %12.1f %10s\n", "server extra RSS after 20 pushes (MiB)",
              (rss_end - rss_before) / 1048576.0, "");
  std::printf("%-58s %12.1f %10s\n", "server extra RSS after all streams closed (MiB)",
              (rss_closed - rss_before) / 1048576.0, "");
  std::printf("%-58s %12.2f %10s\n", "push latency per stream p50 (ms, tick -> received)",
              Percentile(per_stream_ms, 50), "");
  std::printf("%-58s %12.2f %10s\n", "push latency per stream p99 (ms)",
              Percentile(per_stream_ms, 99), "< 100");
  std::printf("%-58s %12.2f %10s\n", "push latency to all 1,000 streams, worst of 20 (ms)",
              *std::max_element(all_streams_ms.begin(), all_streams_ms.end()), "");
}

}  // namespace

int main(int argc, char** argv) {
  std::string binary = KEDA_TEST_SERVER;
  double seconds = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--server") binary = argv[i + 1];
    if (a == "--seconds") seconds = std::stod(argv[i + 1]);
  }
  std::printf("keda_bench: server %s, %u hardware threads\n", binary.c_str(),
              std::thread::hardware_concurrency());
  {
    ServerProcess server(binary);
    server.Cmd("set conc kserve-test model-a-1 30");
    server.Cmd("set conc kserve-test model-a-2 45.5");
    server.Cmd("set conc kserve-test other-1 7");
    server.Cmd("labels kserve-test model-a-1 serving.kserve.io/inferenceservice=model-a");
    server.Cmd("labels kserve-test model-a-2 serving.kserve.io/inferenceservice=model-a");
    server.Cmd("labels kserve-test other-1 app=other");
    BenchGetMetrics(server, seconds);
  }
  {
    ServerProcess server(binary);
    server.Cmd("labels kserve-test model-a-1 serving.kserve.io/inferenceservice=model-a");
    server.Cmd("labels kserve-test model-a-2 serving.kserve.io/inferenceservice=model-a");
    BenchStreams(server);
  }
  return 0;
}
