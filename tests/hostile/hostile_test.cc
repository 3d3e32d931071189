// The hostile-client suite: the adapter binary, a real Prometheus behind a fault-injecting proxy,
// and the fake kube-apiserver answering TokenReview and SubjectAccessReview, attacked on loopback
// one case at a time while a legitimate HPA-like client reads custom.metrics over HTTPS twenty
// times a second (so that a case's p99 is over 120 reads or more, not its single slowest read),
// a kubelet-like probe opens a new connection to /livez twice a second, and a KEDA
// StreamIsActive stream stays open.
//
// Every case is bounded in count and time and prints one row of figures; its pass criteria:
// - the legitimate reads keep getting correct values (exactly the pods and values the metric has;
//   while Prometheus itself misbehaves, a read may fail with an error but is never wrong), with
//   p99 under 50 ms;
// - /livez keeps answering (no probe fails its 3 s timeout);
// - the adapter's resident memory stays under 128 MiB;
// - queries to Prometheus per minute stay within twice the figure without the attack;
// - afterwards everything returns to its baseline (open descriptors, query rate, correct reads).

#include <arpa/inet.h>
#include <dirent.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "demo/proc/subprocess.h"
#include "demo/stack.h"
#include "externalscaler.grpc.pb.h"
#include "gtest/gtest.h"
#include "hostile/exact_metric.h"
#include "integration/integration_util.h"
#include "kube/fake_apiserver.h"
#include "net/call.h"
#include "net/client.h"
#include "net/server.h"
#include "net/url.h"
#include "nlohmann/json.hpp"
#include "testutil/temp_dir.h"
#include "testutil/tls_certs.h"

namespace aa {
namespace {

using kube::testing::FakeApiServer;
using kube::testing::FakeRequest;
using kube::testing::FakeResponse;
using nlohmann::json;

constexpr char kHpaToken[] = "hostile-suite-hpa-token";        // the legitimate reader's
constexpr char kTenantToken[] = "hostile-suite-tenant-token";  // an authorized tenant who attacks
constexpr const char* kNs = hostile::kExactNamespace;
constexpr const char* kMetric = hostile::kExactMetric;

constexpr absl::Duration kLegitPeriod = absl::Milliseconds(50);
constexpr absl::Duration kProbePeriod = absl::Milliseconds(500);
constexpr absl::Duration kProbeTimeout = absl::Seconds(3);
constexpr double kMaxP99Ms = 50;
constexpr int kFailuresShown = 3;  // per case; the rest are counted
constexpr double kMaxRssMiB = 128;
constexpr absl::Duration kMinWindow = absl::Seconds(6);

// ---------------------------------------------------------------------------------------------
// Prometheus as the adapter sees it: every query passes through here and is counted; the mode
// makes Prometheus answer with half the series and a warning (a partial response, as Thanos or
// Mimir give one), or not at all (502, as a load balancer with no backend answers).
class FaultProxy {
 public:
  enum class Mode { kPass, kPartial, kDown };

  static std::unique_ptr<FaultProxy> Start(int prometheus_port) {
    auto proxy = std::unique_ptr<FaultProxy>(new FaultProxy());
    auto upstream = net::Client::Create({.url = absl::StrCat("http://127.0.0.1:", prometheus_port),
                                         .max_idle_connections = 16,
                                         .name = "prometheus"});
    EXPECT_TRUE(upstream.ok()) << upstream.status();
    if (!upstream.ok()) return nullptr;
    proxy->upstream_ = *std::move(upstream);
    net::HttpServerOptions options;
    options.listen = "127.0.0.1:0";
    options.name = "fault-proxy";
    options.threads = 16;
    FaultProxy* self = proxy.get();
    auto server = net::StartHttpServer(
        options, [self](const net::HttpRequest& r) { return self->Handle(r); });
    EXPECT_TRUE(server.ok()) << server.status();
    if (!server.ok()) return nullptr;
    proxy->server_ = *std::move(server);
    return proxy;
  }
  ~FaultProxy() {
    if (server_) server_->Stop();
  }

  std::string url() const { return absl::StrCat("http://127.0.0.1:", server_->port()); }
  void SetMode(Mode mode) { mode_ = mode; }
  uint64_t queries() const { return queries_.load(); }

 private:
  FaultProxy() = default;

  net::HttpResponse Handle(const net::HttpRequest& r) {
    queries_.fetch_add(1);
    net::HttpResponse out;
    out.content_type = "application/json";
    const Mode mode = mode_.load();
    if (mode == Mode::kDown) {
      out.status = 502;
      out.content_type = "text/plain";
      out.body = "no Prometheus behind the proxy";
      return out;
    }
    std::string target = r.path;
    char sep = '?';
    for (const auto& [k, v] : r.params) {
      absl::StrAppend(&target, std::string(1, sep), net::UrlEncode(k), "=", net::UrlEncode(v));
      sep = '&';
    }
    net::Result res = upstream_->Send({.target = target});
    if (!res.ok()) {
      out.status = 502;
      out.body = res.detail;
      return out;
    }
    out.status = res.response.status;
    out.body = std::move(res.response.body);
    if (mode == Mode::kPartial && out.status == 200) {
      json j = json::parse(out.body, nullptr, false);
      if (j.is_object() && j.contains("data")) {
        json& data = j["data"];
        json* list =
            data.is_array() ? &data : (data.contains("result") ? &data["result"] : nullptr);
        if (list != nullptr && list->is_array()) {
          json half = json::array();
          for (size_t i = 0; i < list->size(); i += 2) half.push_back((*list)[i]);
          *list = std::move(half);
        }
        j["warnings"] = {"partial response: half of the stores did not answer"};
        out.body = j.dump();
      }
    }
    return out;
  }

  std::unique_ptr<net::Client> upstream_;
  std::unique_ptr<net::HttpServer> server_;
  std::atomic<Mode> mode_{Mode::kPass};
  std::atomic<uint64_t> queries_{0};
};

// ---------------------------------------------------------------------------------------------
// What the monitors record.
struct Sample {
  absl::Time at;
  absl::Duration latency;
  bool ok = false;     // answered and correct
  bool wrong = false;  // answered 200 with values that are not the metric's
  std::string error;
};

class Recorder {
 public:
  void Add(Sample s) {
    std::lock_guard lock(mu_);
    samples_.push_back(std::move(s));
  }
  std::vector<Sample> Between(absl::Time from, absl::Time to) const {
    std::lock_guard lock(mu_);
    std::vector<Sample> out;
    for (const Sample& s : samples_) {
      if (s.at >= from && s.at <= to) out.push_back(s);
    }
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Sample> samples_;
};

// Runs `tick` every `period` on a thread of its own until destroyed. The period paces a load; no
// test waits on it.
class Periodic {
 public:
  Periodic(absl::Duration period, std::function<void()> tick)
      : thread_([this, period, tick = std::move(tick)] {
          while (!stop_.WaitForNotificationWithTimeout(period)) tick();
        }) {}
  ~Periodic() {
    stop_.Notify();
    thread_.join();
  }

 private:
  absl::Notification stop_;
  std::thread thread_;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * v.size()));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

int OpenFds(pid_t pid) {
  DIR* d = opendir(absl::StrCat("/proc/", pid, "/fd").c_str());
  if (d == nullptr) return -1;
  int n = 0;
  while (readdir(d) != nullptr) ++n;
  closedir(d);
  return n - 2;
}

// ---------------------------------------------------------------------------------------------
// Raw sockets of the attackers. `wait`: a blocking connect; else the connect is started and the
// socket returned at once (non-blocking), so that thousands open without waiting on a full accept
// queue: a connection the adapter never accepts shows up as closed (ClosedByPeer) or idle.
int ConnectLoopback(int port, bool wait = true) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (wait ? 0 : SOCK_NONBLOCK), 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{.tv_sec = 2, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  return fd;
}

// Whether the peer closed (or reset) the connection; never blocks.
bool ClosedByPeer(int fd) {
  pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
  if (poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLHUP | POLLERR)) return true;
  char buf[4096];
  ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

// What a slow client sends, one byte at a time: the start of an HTTP/1.1 request, of a TLS
// ClientHello record (the handshake never completes), or of the HTTP/2 connection preface.
enum class Speaks { kHttp, kTls, kH2 };
std::string SlowScript(Speaks s) {
  switch (s) {
    case Speaks::kHttp:
      return "GET /livez HTTP/1.1\r\nHost: adapter\r\nX-Slow: "
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    case Speaks::kTls:
      return std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11) + std::string(64, 'a');
    case Speaks::kH2:
      return "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  }
  return "";
}

struct Target {
  int port;
  Speaks speaks;
  std::string name;
};

// Opens `per_target` sockets to each target, then sends each one more byte of its script every
// second for `hold`. Returns how many were opened and how many the adapter closed.
std::string SlowLoris(const std::vector<Target>& targets, int per_target, absl::Duration hold) {
  struct Conn {
    int fd;
    const std::string* script;
    size_t sent = 0;
    bool closed = false;
  };
  std::vector<std::string> scripts;
  for (const Target& t : targets) scripts.push_back(SlowScript(t.speaks));
  std::vector<Conn> conns;
  std::vector<int> refused(targets.size(), 0);
  for (size_t t = 0; t < targets.size(); ++t) {
    for (int i = 0; i < per_target; ++i) {
      int fd = ConnectLoopback(targets[t].port, /*wait=*/false);
      if (fd < 0) {
        ++refused[t];
        continue;
      }
      conns.push_back({fd, &scripts[t]});
    }
  }
  const absl::Time end = absl::Now() + hold;
  while (true) {
    for (Conn& c : conns) {
      if (c.closed) continue;
      if (ClosedByPeer(c.fd)) {
        c.closed = true;
        continue;
      }
      if (c.sent < c.script->size()) {
        if (send(c.fd, c.script->data() + c.sent, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1) {
          ++c.sent;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
          c.closed = true;
        }
      }
    }
    if (absl::Now() >= end) break;
    absl::SleepFor(std::min(absl::Seconds(1), end - absl::Now()));  // the trickle's pace
  }
  int closed = 0;
  for (Conn& c : conns) {
    closed += c.closed || ClosedByPeer(c.fd) ? 1 : 0;
    close(c.fd);
  }
  return absl::StrFormat(
      "%d sockets (%d per port on %d ports) sending a byte a second for %s: %d "
      "closed by the adapter, %d not accepted",
      static_cast<int>(conns.size()), per_target, static_cast<int>(targets.size()),
      absl::FormatDuration(hold), closed, std::accumulate(refused.begin(), refused.end(), 0));
}

// Opens `count` connections spread over `ports` that never send anything, and holds them.
std::string IdleConnections(const std::vector<int>& ports, int count, absl::Duration hold) {
  std::vector<int> fds;
  int refused = 0;
  for (int i = 0; i < count; ++i) {
    int fd = ConnectLoopback(ports[i % ports.size()], /*wait=*/false);
    if (fd < 0) {
      ++refused;
    } else {
      fds.push_back(fd);
    }
  }
  const absl::Time opened = absl::Now();
  absl::SleepFor(hold);  // the attack is to hold them open this long
  int closed = 0;
  for (int fd : fds) {
    closed += ClosedByPeer(fd) ? 1 : 0;
    close(fd);
  }
  return absl::StrFormat(
      "%d idle connections on %d ports held %s: %d closed by the adapter, %d not accepted",
      static_cast<int>(fds.size()), static_cast<int>(ports.size()),
      absl::FormatDuration(absl::Now() - opened), closed, refused);
}

// One connection that starts a request, then sends a header line of `bytes` bytes.
std::string HugeHeader(int port, size_t bytes, absl::Duration limit) {
  int fd = ConnectLoopback(port);
  if (fd < 0) return "could not connect";
  std::string head = "GET /livez HTTP/1.1\r\nHost: adapter\r\nX-Huge: ";
  send(fd, head.data(), head.size(), MSG_NOSIGNAL);
  const std::string chunk(1 << 20, 'a');
  size_t sent = 0;
  const absl::Time end = absl::Now() + limit;
  while (sent < bytes && absl::Now() < end) {
    ssize_t n = send(fd, chunk.data(), std::min(chunk.size(), bytes - sent), MSG_NOSIGNAL);
    if (n <= 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) continue;  // SO_SNDTIMEO: the peer reads slowly
      break;
    }
    sent += static_cast<size_t>(n);
  }
  // What the adapter answered, if anything, before it closed.
  std::string answer;
  char buf[512];
  pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
  if (poll(&p, 1, 2000) > 0) {
    ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
    if (n > 0) answer.assign(buf, static_cast<size_t>(std::min<ssize_t>(n, 40)));
  }
  close(fd);
  std::string status_line = answer.substr(0, answer.find('\r'));
  return absl::StrFormat(
      "a header line of %d MiB: %.1f MiB accepted before the adapter stopped "
      "reading; it answered \"%s\"",
      static_cast<int>(bytes >> 20), sent / 1048576.0, status_line);
}

// `count` GETs of path_for(i) over HTTPS from `threads` kept-alive connections, each with the
// bearer token token_for(i), for at most `limit`. Returns the statuses seen.
std::string HttpsFlood(int port, int count, int threads, absl::Duration limit,
                       const std::function<std::string(int)>& path_for,
                       const std::function<std::string(int)>& token_for) {
  std::mutex mu;
  std::map<int, int> statuses;
  std::atomic<int> next{0};
  const absl::Time start = absl::Now();
  const absl::Time end = start + limit;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      auto client = net::Client::Create({.url = absl::StrCat("https://127.0.0.1:", port),
                                         .tls = {.insecure_skip_verify = true},
                                         .timeout = absl::Seconds(5),
                                         .max_idle_connections = 1,
                                         .name = "attacker"});
      if (!client.ok()) return;
      std::map<int, int> mine;
      for (int i = next++; i < count && absl::Now() < end; i = next++) {
        net::Result r = (*client)->Send(
            {.target = path_for(i),
             .headers = {{"Authorization", absl::StrCat("Bearer ", token_for(i))}}});
        ++mine[r.ok() ? r.response.status : 0];
      }
      std::lock_guard lock(mu);
      for (auto [s, n] : mine) statuses[s] += n;
    });
  }
  for (auto& w : workers) w.join();
  int sent = 0;
  std::vector<std::string> parts;
  for (auto [s, n] : statuses) {
    sent += n;
    parts.push_back(absl::StrCat(s == 0 ? "no answer" : absl::StrCat(s), ": ", n));
  }
  return absl::StrFormat("%d requests in %.1f s (%s)", sent,
                         absl::ToDoubleSeconds(absl::Now() - start), absl::StrJoin(parts, ", "));
}

// `count` StreamIsActive streams from one client over `channels` connections, held for `hold`.
std::string GrpcStreams(int port, int count, int channels, absl::Duration hold) {
  grpc::CompletionQueue cq;
  struct Call {
    grpc::ClientContext ctx;
    externalscaler::IsActiveResponse msg;
    std::unique_ptr<grpc::ClientAsyncReader<externalscaler::IsActiveResponse>> reader;
    grpc::Status status;
    bool answered = false;
    bool finished = false;
  };
  std::vector<std::shared_ptr<grpc::Channel>> chans;
  std::vector<std::unique_ptr<externalscaler::ExternalScaler::Stub>> stubs;
  for (int c = 0; c < channels; ++c) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own
    chans.push_back(grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                              grpc::InsecureChannelCredentials(), args));
    stubs.push_back(externalscaler::ExternalScaler::NewStub(chans.back()));
  }
  externalscaler::ScaledObjectRef ref;
  ref.set_name("attacker");
  ref.set_namespace_(kNs);
  (*ref.mutable_scalermetadata())["metric"] = "concurrency";
  (*ref.mutable_scalermetadata())["inferenceService"] = "concurrency-model";
  std::vector<std::unique_ptr<Call>> calls;
  // Tags: call index * 4 + step (0 started, 1 read, 2 finished).
  auto tag = [](size_t i, int step) { return reinterpret_cast<void*>(i * 4 + step); };
  for (int i = 0; i < count; ++i) {
    auto call = std::make_unique<Call>();
    call->reader = stubs[i % channels]->PrepareAsyncStreamIsActive(&call->ctx, ref, &cq);
    call->reader->StartCall(tag(i, 0));
    calls.push_back(std::move(call));
  }
  auto drive = [&](absl::Time until) {
    void* got;
    bool ok;
    while (true) {
      auto r = cq.AsyncNext(&got, &ok, absl::ToChronoTime(until));
      if (r != grpc::CompletionQueue::GOT_EVENT) return;
      size_t i = reinterpret_cast<size_t>(got) / 4;
      int step = static_cast<int>(reinterpret_cast<size_t>(got) % 4);
      Call& c = *calls[i];
      if (step == 2) {
        c.finished = true;
        if (std::all_of(calls.begin(), calls.end(), [](auto& x) { return x->finished; })) return;
        continue;
      }
      if (ok) {
        if (step == 1) c.answered = true;
        c.reader->Read(&c.msg, tag(i, 1));
      } else {
        c.reader->Finish(&c.status, tag(i, 2));
      }
    }
  };
  drive(absl::Now() + hold);
  int answered = 0;
  std::map<std::string, int> codes;
  for (auto& c : calls) answered += c->answered ? 1 : 0;
  for (auto& c : calls) c->ctx.TryCancel();
  drive(absl::Now() + absl::Seconds(20));
  for (auto& c : calls) {
    if (!c->answered && c->finished) ++codes[absl::StrCat(c->status.error_code())];
  }
  cq.Shutdown();
  void* got;
  bool ok;
  while (cq.Next(&got, &ok)) {
  }
  std::vector<std::string> parts;
  for (auto& [code, n] : codes) parts.push_back(absl::StrCat("code ", code, ": ", n));
  return absl::StrFormat("%d streams over %d connections held %s: %d got an answer; refused: %s",
                         count, channels, absl::FormatDuration(hold), answered,
                         parts.empty() ? "none" : absl::StrJoin(parts, ", "));
}

// ---------------------------------------------------------------------------------------------
struct Figures {
  std::string name;
  int reads = 0, wrong = 0, errors = 0;
  double p99_ms = 0;
  int probes = 0, probe_failures = 0;
  double probe_max_ms = 0;
  double peak_rss_mib = 0;
  double queries_per_min = 0;
  bool recovered = false;
  std::string attack;
};

class HostileTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rlimit nofile{};
    getrlimit(RLIMIT_NOFILE, &nofile);
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);

    dir_ = new testutil::TempDir();
    auto ca = testutil::TestCa::Create(dir_->path(), "client-ca", "kubernetes");
    ASSERT_TRUE(ca.ok()) << ca.status();
    auto fake = FakeApiServer::Start({.required_token = "adapter-sa-token"});
    ASSERT_TRUE(fake.ok()) << fake.status();
    fake_ = fake->release();
    fake_->Handle("POST", kube::testing::kTokenReviewPath, [](const FakeRequest& req) {
      token_reviews_++;
      json review = req.Json();
      std::string token = review["spec"].value("token", "");
      if (token == kHpaToken || token == kTenantToken) {
        review["status"] = {
            {"authenticated", true},
            {"user",
             {{"username", token == kHpaToken ? "system:serviceaccount:kube-system:hpa" : "tenant"},
              {"groups", {"system:authenticated"}}}}};
      } else {
        review["status"] = {{"authenticated", false}, {"error", "invalid bearer token"}};
      }
      return FakeResponse{201, review};
    });
    // Both users may read every metric; the tenant abuses it.
    fake_->Handle("POST", kube::testing::kSubjectAccessReviewPath, [](const FakeRequest& req) {
      json review = req.Json();
      review["status"] = {{"allowed", true}};
      return FakeResponse{201, review};
    });
    fake_->Upsert("configmaps",
                  kube::testing::MakeConfigMap("kube-system", "extension-apiserver-authentication",
                                               {{"client-ca-file", ca->cert_pem()}}));
    std::string kubeconfig = dir_->WriteFile("kubeconfig", fake_->Kubeconfig("adapter-sa-token"));

    demo::StackOptions options = integration::StackOptionsFor(hostile::kExactMetricConfig);
    options.start_adapter = false;
    auto stack = demo::Stack::Start(options);
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = stack->release();
    proxy_ = FaultProxy::Start(stack_->prometheus_port()).release();
    ASSERT_NE(proxy_, nullptr);
    absl::Status started = stack_->StartAdapter(
        {"--prometheus-url=" + proxy_->url(), "--authentication=on", "--authorization=on",
         "--kubeconfig=" + kubeconfig, "--pod-source=prometheus"});
    ASSERT_TRUE(started.ok()) << started;
    pid_ = stack_->adapter()->pid();

    auto legit = net::Client::Create(
        {.url = absl::StrCat("https://127.0.0.1:", stack_->adapter_https_port()),
         .tls = {.insecure_skip_verify = true},
         .timeout = absl::Seconds(5),
         .max_idle_connections = 1,
         .name = "hpa"});
    ASSERT_TRUE(legit.ok()) << legit.status();
    legit_ = legit->release();

    // The pods the metric has: every read from now on must name exactly these, each with 1.
    ASSERT_TRUE(proc::PollUntil(
        [] {
          std::set<std::string> pods;
          if (!ReadPods(&pods) || pods.empty()) return false;
          expected_pods_ = new std::set<std::string>(pods);
          return true;
        },
        absl::Seconds(60)))
        << stack_->adapter()->LogTail();
    std::printf("the metric has %zu pods\n", expected_pods_->size());

    StartKedaStream();
    legit_reads_ = new Recorder();
    probes_ = new Recorder();
    peak_rss_ = new std::atomic<double>(0);
    monitors_.push_back(
        std::make_unique<Periodic>(kLegitPeriod, [] { legit_reads_->Add(Read()); }));
    monitors_.push_back(std::make_unique<Periodic>(kProbePeriod, [] { probes_->Add(Probe()); }));
    monitors_.push_back(std::make_unique<Periodic>(absl::Milliseconds(200), [] {
      double rss = hostile::ResidentMiB(pid_);
      double peak = peak_rss_->load();
      while (rss > peak && !peak_rss_->compare_exchange_weak(peak, rss)) {
      }
    }));

    // The baseline: the same figures with nobody attacking.
    baseline_ = new Figures(Measure("baseline (no attack)", [] {
      absl::SleepFor(absl::Seconds(20));  // the length of the quiet window
      return std::string("none");
    }));
    baseline_fds_ = OpenFds(pid_);
  }

  static void TearDownTestSuite() {
    monitors_.clear();
    if (keda_ctx_) {
      keda_ctx_->TryCancel();
      keda_thread_->join();
    }
    std::printf("\nhostile-client suite, %zu rows:\n", rows_.size());
    std::printf("%-34s %6s %5s %6s %8s %7s %9s %9s %8s %9s\n", "case", "reads", "wrong", "errors",
                "p99 ms", "probes", "probe max", "peak RSS", "q/min", "recovered");
    for (const Figures& f : rows_) {
      std::printf("%-34s %6d %5d %6d %8.1f %3d/%-3d %7.0fms %7.1fMiB %8.0f %9s\n", f.name.c_str(),
                  f.reads, f.wrong, f.errors, f.p99_ms, f.probes - f.probe_failures, f.probes,
                  f.probe_max_ms, f.peak_rss_mib, f.queries_per_min, f.recovered ? "yes" : "no");
    }
    for (const Figures& f : rows_) std::printf("  %s: %s\n", f.name.c_str(), f.attack.c_str());
    std::printf("TokenReviews sent to the Kubernetes API: %d\n", token_reviews_.load());
    delete legit_;
    if (stack_) stack_->Stop();
    delete proxy_;
    delete stack_;
    delete fake_;
    delete dir_;
  }

  void SetUp() override {
    ASSERT_NE(stack_, nullptr);
    ASSERT_NE(baseline_, nullptr);
  }

  // One read of the metric's pods. False when it failed or was not the expected shape.
  static bool ReadPods(std::set<std::string>* pods, std::string* error = nullptr,
                       bool* all_one = nullptr) {
    net::Result r =
        legit_->Send({.target = absl::StrCat("/apis/custom.metrics.k8s.io/v1beta2/namespaces/", kNs,
                                             "/pods/*/", kMetric),
                      .headers = {{"Authorization", absl::StrCat("Bearer ", kHpaToken)}},
                      .read_timeout = absl::Seconds(5)});
    if (!r.ok()) {
      if (error) *error = absl::StrCat("transport: ", r.detail);
      return false;
    }
    if (r.response.status != 200) {
      if (error) *error = absl::StrCat(r.response.status, " ", r.response.body.substr(0, 200));
      return false;
    }
    json j = json::parse(r.response.body, nullptr, false);
    if (!j.is_object() || !j["items"].is_array()) {
      if (error) *error = "not a MetricValueList";
      return false;
    }
    bool one = true;
    for (const json& item : j["items"]) {
      pods->insert(item["describedObject"].value("name", ""));
      one = one && item.value("value", "") == "1";
    }
    if (all_one) *all_one = one;
    return true;
  }

  static Sample Read() {
    Sample s;
    s.at = absl::Now();
    std::set<std::string> pods;
    bool all_one = false;
    bool answered = ReadPods(&pods, &s.error, &all_one);
    s.latency = absl::Now() - s.at;
    s.ok = answered && all_one && pods == *expected_pods_;
    s.wrong = answered && !s.ok;
    if (s.wrong) {
      s.error = absl::StrCat("wrong answer: ", pods.size(), " pods, all 1: ", all_one);
    }
    return s;
  }

  // A kubelet-like liveness probe: a new connection each time.
  static Sample Probe() {
    Sample s;
    s.at = absl::Now();
    auto r = net::HttpCall("GET", "127.0.0.1", stack_->adapter_port(), "/livez", "", kProbeTimeout);
    s.latency = absl::Now() - s.at;
    s.ok = r.ok() && r->status == 200;
    if (!s.ok) s.error = r.ok() ? absl::StrCat(r->status) : r.status().ToString();
    return s;
  }

  // The KEDA stream that stays open through every case.
  static void StartKedaStream() {
    keda_channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", stack_->adapter_grpc_port()),
                                        grpc::InsecureChannelCredentials());
    keda_ctx_ = new grpc::ClientContext();
    keda_thread_ = new std::thread([] {
      auto stub = externalscaler::ExternalScaler::NewStub(keda_channel_);
      externalscaler::ScaledObjectRef ref;
      ref.set_name("legit");
      ref.set_namespace_(kNs);
      (*ref.mutable_scalermetadata())["metric"] = "concurrency";
      (*ref.mutable_scalermetadata())["inferenceService"] = "concurrency-model";
      auto stream = stub->StreamIsActive(keda_ctx_, ref);
      externalscaler::IsActiveResponse msg;
      while (stream->Read(&msg)) keda_messages_++;
      grpc::Status st = stream->Finish();
      std::lock_guard lock(keda_mu_);
      keda_end_ = absl::StrCat("ended: code ", st.error_code(), " ", st.error_message());
    });
  }
  static std::string KedaStreamState() {
    std::lock_guard lock(keda_mu_);
    return keda_end_.empty() ? absl::StrCat("open, ", keda_messages_.load(), " messages")
                             : keda_end_;
  }

  // Runs `attack` while the monitors record; the figures of that window.
  static Figures Measure(const std::string& name, const std::function<std::string()>& attack) {
    Figures f;
    f.name = name;
    peak_rss_->store(hostile::ResidentMiB(pid_));
    const uint64_t q0 = proxy_->queries();
    const absl::Time from = absl::Now();
    f.attack = attack();
    // A quick attack (a header line cut after a few MiB) still gets a window with reads and probes
    // in it: the monitors keep recording while the adapter settles.
    absl::SleepFor(from + kMinWindow - absl::Now());
    const absl::Time to = absl::Now();
    const uint64_t q1 = proxy_->queries();
    f.queries_per_min = (q1 - q0) / absl::ToDoubleMinutes(to - from);
    f.peak_rss_mib = peak_rss_->load();
    std::vector<double> latencies;
    for (const Sample& s : legit_reads_->Between(from, to)) {
      ++f.reads;
      f.wrong += s.wrong ? 1 : 0;
      f.errors += !s.ok && !s.wrong ? 1 : 0;
      latencies.push_back(absl::ToDoubleMilliseconds(s.latency));
      if (!s.ok && f.wrong + f.errors <= kFailuresShown) {
        std::printf("  %s: legit read failed: %s\n", name.c_str(), s.error.c_str());
      }
    }
    if (f.wrong + f.errors > kFailuresShown) {
      std::printf("  %s: %d more legit reads failed\n", name.c_str(),
                  f.wrong + f.errors - kFailuresShown);
    }
    f.p99_ms = Percentile(latencies, 99);
    for (const Sample& s : probes_->Between(from, to)) {
      ++f.probes;
      f.probe_failures += s.ok ? 0 : 1;
      f.probe_max_ms = std::max(f.probe_max_ms, absl::ToDoubleMilliseconds(s.latency));
      if (!s.ok) std::printf("  %s: /livez failed: %s\n", name.c_str(), s.error.c_str());
    }
    return f;
  }

  // Runs one case: the attack, its figures, then the way back to the baseline. `prometheus_fault`:
  // Prometheus itself misbehaves, so reads may fail (never be wrong) and queries may be retried.
  static void RunCase(const std::string& name, const std::function<std::string()>& attack,
                      bool prometheus_fault = false) {
    Figures f = Measure(name, attack);
    std::printf("%s: %s\n", name.c_str(), f.attack.c_str());
    // Back to the baseline: descriptors released, a correct read, and the query rate of a quiet
    // 10 s window within twice the baseline's.
    bool fds_back =
        proc::PollUntil([] { return OpenFds(pid_) <= baseline_fds_ + 16; }, absl::Seconds(30));
    bool read_back = proc::PollUntil([] { return Read().ok; }, absl::Seconds(30));
    Figures after = Measure(name + " (after)", [] {
      absl::SleepFor(absl::Seconds(10));  // the length of the quiet window
      return std::string("none");
    });
    f.recovered = fds_back && read_back && after.queries_per_min <= 2 * baseline_->queries_per_min;
    std::printf(
        "%s: after it, %d descriptors open (baseline %d), %.0f queries/min, KEDA stream %s\n",
        name.c_str(), OpenFds(pid_), baseline_fds_, after.queries_per_min,
        KedaStreamState().c_str());
    rows_.push_back(f);

    EXPECT_EQ(f.wrong, 0) << name << ": a legitimate read got a wrong value";
    if (!prometheus_fault) {
      EXPECT_EQ(f.errors, 0) << name << ": legitimate reads failed";
      EXPECT_LT(f.p99_ms, kMaxP99Ms) << name;
      EXPECT_LE(f.queries_per_min, 2 * baseline_->queries_per_min) << name;
    }
    EXPECT_EQ(f.probe_failures, 0) << name << ": /livez did not answer";
    EXPECT_LT(f.peak_rss_mib, kMaxRssMiB) << name;
    EXPECT_TRUE(f.recovered) << name << ": fds back " << fds_back << ", read back " << read_back
                             << ", queries/min after " << after.queries_per_min;
    EXPECT_EQ(KedaStreamState().rfind("open", 0), 0u) << KedaStreamState();
  }

  static inline testutil::TempDir* dir_ = nullptr;
  static inline FakeApiServer* fake_ = nullptr;
  static inline demo::Stack* stack_ = nullptr;
  static inline FaultProxy* proxy_ = nullptr;
  static inline net::Client* legit_ = nullptr;
  static inline pid_t pid_ = -1;
  static inline std::set<std::string>* expected_pods_ = nullptr;
  static inline Recorder* legit_reads_ = nullptr;
  static inline Recorder* probes_ = nullptr;
  static inline std::atomic<double>* peak_rss_ = nullptr;
  static inline std::vector<std::unique_ptr<Periodic>> monitors_;
  static inline Figures* baseline_ = nullptr;
  static inline int baseline_fds_ = 0;
  static inline std::vector<Figures> rows_;
  static inline std::atomic<int> token_reviews_{0};
  static inline std::shared_ptr<grpc::Channel> keda_channel_;
  static inline grpc::ClientContext* keda_ctx_ = nullptr;
  static inline std::thread* keda_thread_ = nullptr;
  static inline std::atomic<int> keda_messages_{0};
  static inline std::mutex keda_mu_;
  static inline std::string keda_end_;
};

TEST_F(HostileTest, SlowLorisOnEveryPort) {
  RunCase("1,000 slow-loris sockets per port", [] {
    return SlowLoris({{stack_->adapter_port(), Speaks::kHttp, "http"},
                      {stack_->adapter_https_port(), Speaks::kTls, "https"},
                      {stack_->adapter_grpc_port(), Speaks::kH2, "grpc"}},
                     1000, absl::Seconds(15));
  });
}

TEST_F(HostileTest, TenThousandIdleConnections) {
  RunCase("10,000 idle connections", [] {
    return IdleConnections({stack_->adapter_port(), stack_->adapter_https_port()}, 10000,
                           absl::Seconds(15));
  });
}

TEST_F(HostileTest, HugeHeaderLine) {
  RunCase("a 300 MiB header line",
          [] { return HugeHeader(stack_->adapter_port(), size_t{300} << 20, absl::Seconds(30)); });
}

TEST_F(HostileTest, InventedNamespaces) {
  RunCase("100,000 invented namespaces", [] {
    return HttpsFlood(
        stack_->adapter_https_port(), 100000, 8, absl::Seconds(90),
        [](int i) {
          return absl::StrCat("/apis/custom.metrics.k8s.io/v1beta2/namespaces/invented-", i,
                              "/pods/*/", kMetric);
        },
        [](int) { return std::string(kTenantToken); });
  });
}

TEST_F(HostileTest, RandomBearerTokens) {
  RunCase("100,000 random bearer tokens", [] {
    const int before = token_reviews_.load();
    std::string out = HttpsFlood(
        stack_->adapter_https_port(), 100000, 8, absl::Seconds(90),
        [](int) {
          return absl::StrCat("/apis/custom.metrics.k8s.io/v1beta2/namespaces/", kNs, "/pods/*/",
                              kMetric);
        },
        [](int i) {
          thread_local std::mt19937_64 rng(std::random_device{}());
          return absl::StrFormat("%016x%016x-%d", rng(), rng(), i);
        });
    return absl::StrCat(out, "; ", token_reviews_.load() - before,
                        " TokenReviews reached the Kubernetes API");
  });
}

TEST_F(HostileTest, TenThousandGrpcStreamsFromOneClient) {
  RunCase("10,000 gRPC streams, one client",
          [] { return GrpcStreams(stack_->adapter_grpc_port(), 10000, 100, absl::Seconds(15)); });
}

TEST_F(HostileTest, PrometheusPartialThenDown) {
  RunCase(
      "Prometheus partial, then down",
      [] {
        proxy_->SetMode(FaultProxy::Mode::kPartial);
        absl::SleepFor(absl::Seconds(15));  // how long the partial answers last
        proxy_->SetMode(FaultProxy::Mode::kDown);
        absl::SleepFor(absl::Seconds(15));  // how long Prometheus stays away
        proxy_->SetMode(FaultProxy::Mode::kPass);
        return std::string("15 s of answers with a warning and half the series, then 15 s of 502");
      },
      /*prometheus_fault=*/true);
}

}  // namespace
}  // namespace aa
