#include "prometheus/client.h"

#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "common/strings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "testutil/loopback_http.h"
#include "testutil/temp_dir.h"
#include "testutil/tls_certs.h"

namespace aa::prom {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;

constexpr char kVectorAnswer[] =
    R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"pod":"p1","namespace":"ns"},"value":[1700000000,"7"]}]}})";
constexpr char kSeriesAnswer[] = R"({"status":"success","data":[{"__name__":"up","job":"a"}]})";

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

// An httplib server on 127.0.0.1, port 0, serving on its own thread until destroyed.
class TestServer {
 public:
  explicit TestServer(std::unique_ptr<httplib::Server> server = std::make_unique<httplib::Server>())
      : server_(std::move(server)) {
    // As Go servers do; without it keep-alive answers stall on delayed ACKs.
    server_->set_tcp_nodelay(true);
  }
  ~TestServer() { Stop(); }

  httplib::Server& http() { return *server_; }

  // Call after registering handlers.
  void Start() {
    port_ = server_->bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_->listen_after_bind(); });
  }

  void Stop() {
    if (!thread_.joinable()) return;
    // The accept loop may not have started yet; stop() is a no-op until it has. Bounded wait.
    for (int i = 0; i < 5000 && !server_->is_running(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    server_->stop();
    thread_.join();
  }

  int port() const { return port_; }
  std::string Url(const std::string& scheme = "http", const std::string& prefix = "") const {
    return scheme + "://127.0.0.1:" + std::to_string(port_) + prefix;
  }

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

// What the server saw.
struct Seen {
  std::mutex mu;
  std::vector<httplib::Request> requests;
  void Add(const httplib::Request& r) {
    std::lock_guard lock(mu);
    requests.push_back(r);
  }
  size_t size() {
    std::lock_guard lock(mu);
    return requests.size();
  }
  httplib::Request at(size_t i) {
    std::lock_guard lock(mu);
    return requests.at(i);
  }
};

struct SleepRecorder {
  std::mutex mu;
  std::vector<absl::Duration> waits;
  std::function<void(absl::Duration)> Fn() {
    return [this](absl::Duration d) {
      std::lock_guard lock(mu);
      waits.push_back(d);
    };
  }
};

ClientOptions BaseOptions(const std::string& url, SleepRecorder* sleeps) {
  ClientOptions o;
  o.url = url;
  o.timeout = absl::Seconds(5);
  o.retry_backoff = absl::Milliseconds(100);
  o.sleep = sleeps->Fn();
  return o;
}

std::unique_ptr<Client> MustClient(ClientOptions o) {
  auto c = NewHttpClient(std::move(o));
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *std::move(c) : nullptr;
}

// The value of the counter of `family` whose labels `name` and `endpoint` have these values; -1
// when there is none.
double LabeledCounter(prometheus::Registry& registry, const std::string& family_name,
                      const std::string& endpoint, const std::string& name,
                      const std::string& value) {
  for (const auto& family : registry.Collect()) {
    if (family.name != family_name) continue;
    for (const auto& m : family.metric) {
      std::string e, v;
      for (const auto& l : m.label) {
        if (l.name == "endpoint") e = l.value;
        if (l.name == name) v = l.value;
      }
      if (e == endpoint && v == value) return m.counter.value;
    }
  }
  return -1;
}

double CounterValue(prometheus::Registry& registry, const std::string& endpoint,
                    const std::string& outcome) {
  return LabeledCounter(registry, "autoscale_adapter_prometheus_requests_total", endpoint,
                        "outcome", outcome);
}

double WarningsValue(prometheus::Registry& registry, const std::string& endpoint,
                     const std::string& action) {
  return LabeledCounter(registry, "autoscale_adapter_prometheus_warnings_total", endpoint, "action",
                        action);
}

uint64_t HistogramCount(prometheus::Registry& registry, const std::string& endpoint) {
  for (const auto& family : registry.Collect()) {
    if (family.name != "autoscale_adapter_prometheus_request_duration_seconds") continue;
    for (const auto& m : family.metric) {
      for (const auto& l : m.label) {
        if (l.name == "endpoint" && l.value == endpoint) return m.histogram.sample_count;
      }
    }
  }
  return 0;
}

// A proxy that refuses a credential and echoes it (vmauth: `cannot find the provided auth token
// "Basic ..."`): the error names the status and the refusal, never the credential.
TEST(HttpClient, ErrorAnswersEchoingTheCredentialAreRedacted) {
  TestServer server;
  server.http().Get("/api/v1/query", [](const httplib::Request& req, httplib::Response& res) {
    res.status = 400;
    res.set_content(absl::StrCat("cannot find the provided auth token \"",
                                 req.get_header_value("Authorization"), "\" in config; tenant ",
                                 req.get_header_value("X-Api-Key")),
                    "text/plain");
  });
  server.Start();
  SleepRecorder sleeps;
  ClientOptions o = BaseOptions(server.Url(), &sleeps);
  o.basic_auth_username = "adapter";
  o.basic_auth_password = "wrong-password";
  o.headers = {{"X-Api-Key", "api-key-secret"}};
  auto client = MustClient(o);
  ASSERT_NE(client, nullptr);
  auto r = client->Query("up", absl::InfinitePast());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  const std::string message(r.status().message());
  EXPECT_THAT(message, HasSubstr("HTTP 400: cannot find the provided auth token \"<redacted>\""));
  EXPECT_THAT(message, Not(HasSubstr(absl::Base64Escape("adapter:wrong-password"))));
  EXPECT_THAT(message, Not(HasSubstr("api-key-secret")));
  // A bearer token likewise, whole or as the credential part alone.
  testutil::TempDir dir;
  o.basic_auth_username.clear();
  o.basic_auth_password.clear();
  o.bearer_token_file = dir.WriteFile("token", "t0ken-value");
  client = MustClient(o);
  r = client->Query("up", absl::InfinitePast());
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), Not(HasSubstr("t0ken-value")));
}

TEST(HttpClient, GetWithPathPrefixHeadersAndRotatingBearerToken) {
  TestServer server;
  Seen seen;
  server.http().Get("/thanos/query/api/v1/query",
                    [&](const httplib::Request& req, httplib::Response& res) {
                      seen.Add(req);
                      res.set_content(kVectorAnswer, "application/json");
                    });
  server.Start();
  testutil::TempDir dir;
  std::string token_file = dir.WriteFile("token", "first-token\n");
  SleepRecorder sleeps;
  ClientOptions o = BaseOptions(server.Url("http", "/thanos/query/"), &sleeps);
  o.headers = {{"X-Scope-OrgID", "tenant-a"}};
  o.bearer_token_file = token_file;
  auto client = MustClient(o);
  ASSERT_NE(client, nullptr);

  auto r =
      client->Query("sum by (pod) (rate(x{a=\"b c\"}[1m]))", absl::FromUnixMillis(1700000000123));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->samples.size(), 1u);
  EXPECT_THAT(r->samples[0].labels, ElementsAre(Pair("namespace", "ns"), Pair("pod", "p1")));
  EXPECT_EQ(r->samples[0].value, 7);
  ASSERT_EQ(seen.size(), 1u);
  httplib::Request first = seen.at(0);
  EXPECT_EQ(first.method, "GET");
  EXPECT_EQ(first.get_param_value("query"), "sum by (pod) (rate(x{a=\"b c\"}[1m]))");
  EXPECT_EQ(first.get_param_value("time"), "1700000000.123");
  EXPECT_EQ(first.get_header_value("X-Scope-OrgID"), "tenant-a");
  EXPECT_EQ(first.get_header_value("Authorization"), "Bearer first-token");

  // The token file is read again on every request.
  dir.WriteFile("token", "second-token");
  ASSERT_TRUE(client->Query("up", absl::InfinitePast()).ok());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen.at(1).get_header_value("Authorization"), "Bearer second-token");
  EXPECT_FALSE(seen.at(1).has_param("time"));  // InfinitePast: the server's "now"
  EXPECT_TRUE(sleeps.waits.empty());
}

TEST(HttpClient, PostWhenQueryIsLongOrMethodSaysSo) {
  TestServer server;
  Seen seen;
  server.http().Post("/api/v1/query", [&](const httplib::Request& req, httplib::Response& res) {
    seen.Add(req);
    res.set_content(kVectorAnswer, "application/json");
  });
  server.http().Get("/api/v1/query", [&](const httplib::Request& req, httplib::Response& res) {
    seen.Add(req);
    res.set_content(kVectorAnswer, "application/json");
  });
  server.Start();
  SleepRecorder sleeps;
  ClientOptions o = BaseOptions(server.Url(), &sleeps);
  o.post_threshold_bytes = 100;
  auto client = MustClient(o);
  ASSERT_NE(client, nullptr);

  std::string long_query = "sum(" + std::string(200, 'x') + "{pod=~\"a|b&c\"})";
  ASSERT_TRUE(client->Query(long_query, absl::InfinitePast()).ok());
  ASSERT_TRUE(client->Query("up", absl::InfinitePast()).ok());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen.at(0).method, "POST");
  EXPECT_EQ(seen.at(0).get_header_value("Content-Type"), "application/x-www-form-urlencoded");
  // httplib decodes the form body into params.
  EXPECT_EQ(seen.at(0).get_param_value("query"), long_query);
  EXPECT_EQ(seen.at(1).method, "GET");

  o.method = "POST";
  auto post_client = MustClient(o);
  ASSERT_TRUE(post_client->Query("up", absl::InfinitePast()).ok());
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen.at(2).method, "POST");
  EXPECT_EQ(seen.at(2).get_param_value("query"), "up");
}

TEST(HttpClient, QueryOptionsAddParametersAndHeaders) {
  TestServer server;
  Seen seen;
  server.http().Get("/api/v1/query", [&](const httplib::Request& req, httplib::Response& res) {
    seen.Add(req);
    res.set_content(kVectorAnswer, "application/json");
  });
  server.http().Post("/api/v1/query", [&](const httplib::Request& req, httplib::Response& res) {
    seen.Add(req);
    res.set_content(kVectorAnswer, "application/json");
  });
  server.Start();
  SleepRecorder sleeps;
  ClientOptions o = BaseOptions(server.Url(), &sleeps);
  o.headers = {{"X-Scope-OrgID", "tenant-a"}};
  auto client = MustClient(o);
  ASSERT_NE(client, nullptr);

  QueryOptions q;
  q.params = {{"namespace", "team a"}, {"dedup", "true"}};
  q.headers = {{"X-Extra", "v=1, w"}, {"Accept", "application/json; q=1"}};
  ASSERT_TRUE(client->Query("up", absl::FromUnixSeconds(1700000000), q).ok());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen.at(0).get_param_value("query"), "up");
  EXPECT_EQ(seen.at(0).get_param_value("time"), "1700000000.000");
  EXPECT_EQ(seen.at(0).get_param_value("namespace"), "team a");
  EXPECT_EQ(seen.at(0).get_param_value("dedup"), "true");
  EXPECT_EQ(seen.at(0).get_header_value("X-Extra"), "v=1, w");
  EXPECT_EQ(seen.at(0).get_header_value("X-Scope-OrgID"), "tenant-a");
  // A query's Accept replaces the default one (one header, not two).
  EXPECT_EQ(seen.at(0).get_header_value_count("Accept"), 1u);
  EXPECT_EQ(seen.at(0).get_header_value("Accept"), "application/json; q=1");

  // Parameters go into the form body when the client POSTs.
  o.method = "POST";
  ASSERT_TRUE(MustClient(o)->Query("up", absl::InfinitePast(), q).ok());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen.at(1).method, "POST");
  EXPECT_EQ(seen.at(1).get_param_value("namespace"), "team a");
}

TEST(HttpClient, QueryTimeoutReplacesTheClients) {
  // Declared before the server: the handler still runs while the server shuts down.
  std::mutex mu;
  std::condition_variable cv;
  bool released = false;
  TestServer server;
  server.http().Get("/api/v1/query", [&](const httplib::Request&, httplib::Response& res) {
    std::unique_lock lock(mu);
    // Held past the query's 100 ms timeout (the client's is 10 s) until the test releases it.
    cv.wait_for(lock, std::chrono::seconds(10), [&] { return released; });
    res.set_content(kVectorAnswer, "application/json");
  });
  server.Start();
  SleepRecorder sleeps;
  ClientOptions o = BaseOptions(server.Url(), &sleeps);
  o.max_retries = 0;
  QueryOptions quick;
  quick.timeout = absl::Milliseconds(100);
  auto r = MustClient(o)->Query("up", absl::InfinitePast(), quick);
  {
    std::lock_guard lock(mu);
    released = true;
  }
  cv.notify_all();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  EXPECT_THAT(Msg(r.status()), HasSubstr("100ms"));
}

TEST(HttpClient, BadQueryOptionsAreRefusedBeforeAnythingIsSent) {
  TestServer server;
  Seen seen;
  server.http().Get("/api/v1/query", [&](const httplib::Request& req, httplib::Response& res) {
    seen.Add(req);
    res.set_content(kVectorAnswer, "application/json");
  });
  server.Start();
  testutil::TempDir dir;
  SleepRecorder sleeps;
  ClientOptions o = BaseOptions(server.Url(), &sleeps);
  o.headers = {{"X-Scope-OrgID", "tenant-a"}};
  o.bearer_token_file = dir.WriteFile("token", "t");
  auto client = MustClient(o);
  ASSERT_NE(client, nullptr);
  auto refused = [&](QueryOptions q, std::string_view why) {
    auto r = client->Query("up", absl::InfinitePast(), q);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << why;
    EXPECT_THAT(Msg(r.status()), HasSubstr(why));
  };
  refused({{{"query", "other"}}, {}, {}, {}}, "query parameter query");
  refused({{{"time", "0"}}, {}, {}, {}}, "query parameter time");
  refused({{{"", "x"}}, {}, {}, {}}, "empty name");
  refused({{}, {{"Bad Name", "x"}}, {}, {}}, "not a valid HTTP header name");
  refused({{}, {{"X-A", "a\r\nX-Injected: 1"}}, {}, {}}, "CR, LF or NUL");
  refused({{}, {{"host", "evil"}}, {}, {}}, "reserved");
  refused({{}, {{"Content-Length", "0"}}, {}, {}}, "reserved");
  // The backend's own headers and credentials are never replaced by a query.
  refused({{}, {{"x-scope-orgid", "tenant-b"}}, {}, {}}, "set by the backend");
  refused({{}, {{"Authorization", "Bearer mine"}}, {}, {}}, "set by the backend");
  refused({{}, {}, absl::Seconds(-1), {}}, "must not be negative");
  EXPECT_EQ(seen.size(), 0u);
  EXPECT_TRUE(
      ValidateQueryOptions({{{"namespace", "a"}}, {{"X-A", "b"}}, absl::Seconds(1), {}}).ok());
}

TEST(HttpClient, BasicAuthWithPasswordFileReRead) {
  TestServer server;
  Seen seen;
  server.http().Get("/api/v1/query", [&](const httplib::Request& req, httplib::Response& res) {
    seen.Add(req);
    res.set_content(kVectorAnswer, "application/json");
  });
  server.Start();
  testutil::TempDir dir;
  SleepRecorder sleeps;
  ClientOptions o = BaseOptions(server.Url(), &sleeps);
  o.basic_auth_username = "alice";
  o.basic_auth_password_file = dir.WriteFile("pw", "s3cret\n");
  auto client = MustClient(o);
  ASSERT_TRUE(client->Query("up", absl::InfinitePast()).ok());
  dir.WriteFile("pw", "changed");
  ASSERT_TRUE(client->Query("up", absl::InfinitePast()).ok());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen.at(0).get_header_value("Authorization"),
            "Basic " + absl::Base64Escape("alice:s3cret"));
  EXPECT_EQ(seen.at(1).get_header_value("Authorization"),
            "Basic " + absl::Base64Escape("alice:changed"));
}

TEST(HttpClient, CredentialsInUrlAreUsedButNeverShown) {
  TestServer server;
  Seen seen;
  server.http().Get("/api/v1/query", [&](const httplib::Request& req, httplib::Response& res) {
    seen.Add(req);
    res.status = 500;
    res.set_content("oops", "text/plain");
  });
  server.Start();
  SleepRecorder sleeps;
  auto client = MustClient(
      BaseOptions("http://bob:hunter2@127.0.0.1:" + std::to_string(server.port()), &sleeps));
  auto r = client->Query("up", absl::InfinitePast());
  ASSERT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Msg(r.status()),
              HasSubstr("http://127.0.0.1:" + std::to_string(server.port()) + "/api/v1/query"));
  EXPECT_THAT(Msg(r.status()), HasSubstr("HTTP 500"));
  EXPECT_THAT(Msg(r.status()), Not(HasSubstr("hunter2")));
  EXPECT_THAT(Msg(r.status()), Not(HasSubstr("bob")));
  ASSERT_EQ(seen.size(), 1u);  // 500 is not retried
  EXPECT_EQ(seen.at(0).get_header_value("Authorization"),
            "Basic " + absl::Base64Escape("bob:hunter2"));
}

TEST(HttpClient, RetriesTransientErrorsWithBackoffThenSucceeds) {
  TestServer server;
  std::atomic<int> attempts{0};
  server.http().Get("/api/v1/query", [&](const httplib::Request&, httplib::Response& res) {
    int n = ++attempts;
    if (n == 1) {
      res.status = 503;
      res.set_content(R"({"status":"error","errorType":"unavailable","error":"too many queries"})",
                      "application/json");
    } else if (n == 2) {
      res.status = 429;
      res.set_content("slow down", "text/plain");
    } else {
      res.set_content(kVectorAnswer, "application/json");
    }
  });
  server.Start();
  SleepRecorder sleeps;
  prometheus::Registry registry;
  ClientOptions o = BaseOptions(server.Url(), &sleeps);
  o.max_retries = 2;
  o.registry = &registry;
  auto client = MustClient(o);
  auto r = client->Query("up", absl::InfinitePast());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(attempts.load(), 3);
  ASSERT_EQ(sleeps.waits.size(), 2u);
  // Equal jitter: retry n waits between backoff*2^n/2 and backoff*2^n.
  EXPECT_GE(sleeps.waits[0], absl::Milliseconds(50));
  EXPECT_LE(sleeps.waits[0], absl::Milliseconds(100));
  EXPECT_GE(sleeps.waits[1], absl::Milliseconds(100));
  EXPECT_LE(sleeps.waits[1], absl::Milliseconds(200));
  EXPECT_EQ(CounterValue(registry, "query", "error_query"), 1);
  EXPECT_EQ(CounterValue(registry, "query", "error_http"), 1);
  EXPECT_EQ(CounterValue(registry, "query", "success"), 1);
  EXPECT_EQ(CounterValue(registry, "series", "success"), 0);
  EXPECT_EQ(HistogramCount(registry, "query"), 3u);
}

TEST(HttpClient, GivesUpAfterMaxRetries) {
  TestServer server;
  std::atomic<int> attempts{0};
  server.http().Get("/api/v1/query", [&](const httplib::Request&, httplib::Response& res) {
    ++attempts;
    res.status = 502;
    res.set_content("<html><body>Bad Gateway</body></html>", "text/html");
  });
  server.Start();
  SleepRecorder sleeps;
  ClientOptions o = BaseOptions(server.Url(), &sleeps);
  o.max_retries = 3;
  auto r = MustClient(o)->Query("up", absl::InfinitePast());
  ASSERT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Msg(r.status()), HasSubstr("HTTP 502"));
  EXPECT_THAT(Msg(r.status()), HasSubstr("Bad Gateway"));
  EXPECT_THAT(Msg(r.status()), HasSubstr("after 4 attempts"));
  EXPECT_EQ(attempts.load(), 4);
  EXPECT_EQ(sleeps.waits.size(), 3u);
}

TEST(HttpClient, NoRetryOnBadDataOrExecutionErrors) {
  TestServer server;
  std::atomic<int> attempts{0};
  server.http().Get("/api/v1/query", [&](const httplib::Request& req, httplib::Response& res) {
    ++attempts;
    if (req.get_param_value("query") == "bad(") {
      res.status = 400;
      res.set_content(
          R"({"status":"error","errorType":"bad_data","error":"1:5: parse error: unclosed left parenthesis"})",
          "application/json");
    } else {
      res.status = 422;
      res.set_content(
          R"({"status":"error","errorType":"execution","error":"found duplicate series"})",
          "application/json");
    }
  });
  server.Start();
  SleepRecorder sleeps;
  prometheus::Registry registry;
  ClientOptions o = BaseOptions(server.Url(), &sleeps);
  o.registry = &registry;
  auto client = MustClient(o);
  auto r = client->Query("bad(", absl::InfinitePast());
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Msg(r.status()), HasSubstr("unclosed left parenthesis"));
  EXPECT_THAT(Msg(r.status()), HasSubstr("HTTP 400"));
  EXPECT_EQ(attempts.load(), 1);
  r = client->Query("a / b", absl::InfinitePast());
  ASSERT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Msg(r.status()), HasSubstr("found duplicate series"));
  EXPECT_EQ(attempts.load(), 2);
  EXPECT_TRUE(sleeps.waits.empty());
  EXPECT_EQ(CounterValue(registry, "query", "error_query"), 2);
}

// Thanos and Mimir answer "success" with warnings when some stores did not answer: a partial
// value, refused unless accept_warnings.
TEST(HttpClient, AnswersWithWarningsAreRefusedUnlessAccepted) {
  TestServer server;
  std::atomic<int> attempts{0};
  server.http().Get("/api/v1/query", [&](const httplib::Request&, httplib::Response& res) {
    ++attempts;
    res.set_content(
        R"({"status":"success","warnings":["partial response: store 10.0.0.7:10901 did not answer"],)"
        R"("data":{"resultType":"vector","result":[{"metric":{"pod":"p1","namespace":"ns"},"value":[1700000000,"3"]}]}})",
        "application/json");
  });
  server.http().Get("/api/v1/series", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(
        R"({"status":"success","data":[{"__name__":"up"}],"warnings":["w1","w2","w3","w4"]})",
        "application/json");
  });
  server.Start();
  SleepRecorder sleeps;
  prometheus::Registry registry;
  ClientOptions o = BaseOptions(server.Url(), &sleeps);
  o.registry = &registry;
  auto strict = MustClient(o);
  auto r = strict->Query("up", absl::InfinitePast());
  ASSERT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_THAT(Msg(r.status()), HasSubstr("partial answer"));
  EXPECT_THAT(Msg(r.status()), HasSubstr("store 10.0.0.7:10901 did not answer"));
  EXPECT_THAT(Msg(r.status()), HasSubstr("prometheus.acceptWarnings"));
  EXPECT_EQ(attempts.load(), 1);  // not retried
  EXPECT_TRUE(sleeps.waits.empty());
  auto series = strict->Series({"up"}, absl::InfinitePast(), absl::InfiniteFuture());
  ASSERT_EQ(series.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Msg(series.status()), HasSubstr("w1; w2; w3; and 1 more"));
  EXPECT_EQ(CounterValue(registry, "query", "error_warnings"), 1);
  EXPECT_EQ(CounterValue(registry, "query", "success"), 0);
  EXPECT_EQ(WarningsValue(registry, "query", "rejected"), 1);
  EXPECT_EQ(WarningsValue(registry, "series", "rejected"), 1);
  EXPECT_EQ(WarningsValue(registry, "query", "accepted"), 0);

  prometheus::Registry accepting_registry;
  o.registry = &accepting_registry;
  o.accept_warnings = true;
  auto accepting = MustClient(o);
  r = accepting->Query("up", absl::InfinitePast());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->samples.size(), 1u);
  EXPECT_EQ(r->samples[0].value, 3);
  EXPECT_THAT(r->warnings, ElementsAre("partial response: store 10.0.0.7:10901 did not answer"));
  series = accepting->Series({"up"}, absl::InfinitePast(), absl::InfiniteFuture());
  ASSERT_TRUE(series.ok()) << series.status();
  EXPECT_EQ(series->size(), 1u);
  EXPECT_EQ(CounterValue(accepting_registry, "query", "success"), 1);
  EXPECT_EQ(WarningsValue(accepting_registry, "query", "accepted"), 1);
  EXPECT_EQ(WarningsValue(accepting_registry, "series", "accepted"), 1);
  EXPECT_EQ(WarningsValue(accepting_registry, "query", "rejected"), 0);
}

TEST(HttpClient, QueryEachHandsOverTheSamplesAsTheyAreParsed) {
  TestServer server;
  server.http().Get("/api/v1/query", [&](const httplib::Request& req, httplib::Response& res) {
    const std::string warnings =
        req.get_param_value("query") == "partial" ? R"("warnings":["store down"],)" : "";
    res.set_content(
        R"({"status":"success",)" + warnings +
            R"("data":{"resultType":"vector","result":[)"
            R"({"metric":{"pod":"p1","namespace":"ns","job":"x"},"value":[1700000000,"3"]},)"
            R"({"metric":{"pod":"p2","namespace":"ns","job":"x"},"value":[1700000000,"4"]}]}})",
        "application/json");
  });
  server.Start();
  SleepRecorder sleeps;
  auto client = MustClient(BaseOptions(server.Url(), &sleeps));
  QueryOptions options;
  options.keep_labels = LabelFilter::Only({"pod"});
  std::vector<std::string> seen;
  auto visit = [&](const SampleRef& s) {
    seen.push_back(absl::StrCat(s.labels.size(), " ", ToAbsl(s.Label("pod")), "=", s.value, "@",
                                s.timestamp_ms, ToAbsl(s.Label("job"))));
  };
  auto r = client->QueryEach("up", absl::InfinitePast(), options, visit);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type, ResultType::kVector);
  EXPECT_TRUE(r->samples.empty());
  EXPECT_THAT(seen, ElementsAre("1 p1=3@1700000000000", "1 p2=4@1700000000000"));
  // A partial answer is refused after its samples were parsed: the caller drops them.
  r = client->QueryEach("partial", absl::InfinitePast(), options, visit);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_THAT(Msg(r.status()), HasSubstr("partial answer"));
}

TEST(Client, QueryEachByDefaultVisitsTheSamplesOfQuery) {
  // A client with Query only (as the tests' fakes): QueryEach visits its answer's samples.
  class OneSample : public Client {
   public:
    absl::StatusOr<QueryResult> Query(std::string_view, absl::Time, const QueryOptions&) override {
      QueryResult r;
      r.samples.push_back(Sample{{{"namespace", "ns"}, {"pod", "p1"}}, 5, 1000});
      return r;
    }
    absl::StatusOr<std::vector<Labels>> Series(const std::vector<std::string>&, absl::Time,
                                               absl::Time) override {
      return std::vector<Labels>{};
    }
  } client;
  std::vector<std::string> seen;
  auto r = client.QueryEach("up", absl::InfinitePast(), {}, [&](const SampleRef& s) {
    seen.push_back(
        absl::StrCat(ToAbsl(s.Label("namespace")), "/", ToAbsl(s.Label("pod")), "=", s.value));
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->samples.empty());
  EXPECT_THAT(seen, ElementsAre("ns/p1=5"));
}

TEST(HttpClient, TimeoutIsDeadlineExceeded) {
  // Declared before the server: the handler still runs while the server shuts down.
  std::mutex mu;
  std::condition_variable cv;
  bool released = false;
  std::atomic<int> attempts{0};
  TestServer server;
  server.http().Get("/api/v1/query", [&](const httplib::Request&, httplib::Response& res) {
    ++attempts;
    std::unique_lock lock(mu);
    // Held past the client's 200 ms timeout until the test releases it (bounded, in case it never
    // does).
    cv.wait_for(lock, std::chrono::seconds(10), [&] { return released; });
    res.set_content(kVectorAnswer, "application/json");
  });
  server.Start();
  SleepRecorder sleeps;
  prometheus::Registry registry;
  ClientOptions o = BaseOptions(server.Url(), &sleeps);
  o.timeout = absl::Milliseconds(200);
  o.max_retries = 0;
  o.registry = &registry;
  auto r = MustClient(o)->Query("up", absl::InfinitePast());
  {
    std::lock_guard lock(mu);
    released = true;
  }
  cv.notify_all();
  ASSERT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  EXPECT_THAT(Msg(r.status()), HasSubstr(server.Url() + "/api/v1/query"));
  EXPECT_THAT(Msg(r.status()), HasSubstr("200ms"));
  EXPECT_EQ(attempts.load(), 1);
  EXPECT_EQ(CounterValue(registry, "query", "error_timeout"), 1);
}

TEST(HttpClient, HugeAnswerIsResourceExhausted) {
  // Declared before the server: its handlers read it until the server has stopped (a handler can
  // still be writing the answer the client gave up on when the test ends).
  std::string big =
      std::string(R"({"status":"success","data":{"resultType":"string","result":[1,")") +
      std::string(5000, 'x') + "\"]}}";
  TestServer server;
  server.http().Get("/api/v1/query", [&](const httplib::Request& req, httplib::Response& res) {
    if (req.get_param_value("query") == "chunked") {
      // No Content-Length: the limit must hold while streaming.
      res.set_chunked_content_provider("application/json", [&](size_t, httplib::DataSink& sink) {
        sink.write(big.data(), big.size());
        sink.done();
        return true;
      });
    } else {
      res.set_content(big, "application/json");
    }
  });
  server.Start();
  SleepRecorder sleeps;
  prometheus::Registry registry;
  ClientOptions o = BaseOptions(server.Url(), &sleeps);
  o.max_response_bytes = 1000;
  o.registry = &registry;
  auto client = MustClient(o);
  for (const char* q : {"sized", "chunked"}) {
    auto r = client->Query(q, absl::InfinitePast());
    ASSERT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted) << q << ": " << r.status();
    EXPECT_THAT(Msg(r.status()), HasSubstr("max_response_bytes (1000 bytes)"));
  }
  EXPECT_EQ(CounterValue(registry, "query", "error_too_large"), 2);
  EXPECT_TRUE(sleeps.waits.empty());
  // Under the limit, the same answer is fine.
  o.max_response_bytes = 10000;
  auto r = MustClient(o)->Query("chunked", absl::InfinitePast());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->string_value.size(), 5000u);
}

TEST(HttpClient, HtmlAnswerIsUnavailableWithClearMessage) {
  TestServer server;
  server.http().Get("/api/v1/query", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content("<!DOCTYPE html><html><body>Login required</body></html>", "text/html");
  });
  server.Start();
  SleepRecorder sleeps;
  prometheus::Registry registry;
  ClientOptions o = BaseOptions(server.Url(), &sleeps);
  o.registry = &registry;
  auto r = MustClient(o)->Query("up", absl::InfinitePast());
  ASSERT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Msg(r.status()), HasSubstr("not a Prometheus API answer"));
  EXPECT_THAT(Msg(r.status()), HasSubstr("<!DOCTYPE html>"));
  EXPECT_THAT(Msg(r.status()), HasSubstr(server.Url() + "/api/v1/query"));
  EXPECT_EQ(CounterValue(registry, "query", "error_parse"), 1);
}

TEST(HttpClient, ConnectionRefusedIsUnavailableAndRetried) {
  int port;
  {
    TestServer server;
    server.Start();
    port = server.port();
  }  // closed: nothing listens on the port any more
  SleepRecorder sleeps;
  prometheus::Registry registry;
  ClientOptions o = BaseOptions("http://127.0.0.1:" + std::to_string(port), &sleeps);
  o.max_retries = 1;
  o.registry = &registry;
  auto r = MustClient(o)->Query("up", absl::InfinitePast());
  ASSERT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_THAT(Msg(r.status()), HasSubstr("127.0.0.1:" + std::to_string(port)));
  EXPECT_EQ(sleeps.waits.size(), 1u);
  EXPECT_EQ(CounterValue(registry, "query", "error_network"), 2);
}

TEST(HttpClient, SeriesSendsMatchersAndRange) {
  TestServer server;
  Seen seen;
  server.http().Get("/api/v1/series", [&](const httplib::Request& req, httplib::Response& res) {
    seen.Add(req);
    res.set_content(kSeriesAnswer, "application/json");
  });
  server.Start();
  SleepRecorder sleeps;
  prometheus::Registry registry;
  ClientOptions o = BaseOptions(server.Url(), &sleeps);
  o.registry = &registry;
  auto client = MustClient(o);
  auto r = client->Series({"up{job=\"a\"}", "http_requests_total"}, absl::FromUnixSeconds(1000),
                          absl::FromUnixSeconds(2000));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_THAT((*r)[0], ElementsAre(Pair("__name__", "up"), Pair("job", "a")));
  ASSERT_EQ(seen.size(), 1u);
  httplib::Request req = seen.at(0);
  ASSERT_EQ(req.get_param_value_count("match[]"), 2u);
  EXPECT_EQ(req.get_param_value("match[]", 0), "up{job=\"a\"}");
  EXPECT_EQ(req.get_param_value("match[]", 1), "http_requests_total");
  EXPECT_EQ(req.get_param_value("start"), "1000.000");
  EXPECT_EQ(req.get_param_value("end"), "2000.000");
  EXPECT_EQ(CounterValue(registry, "series", "success"), 1);
  EXPECT_EQ(client->Series({}, absl::InfinitePast(), absl::InfiniteFuture()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(HttpClient, QueryRangeSendsStartEndAndStepAndParsesTheMatrix) {
  TestServer server;
  Seen seen;
  server.http().Get(
      "/api/v1/query_range", [&](const httplib::Request& req, httplib::Response& res) {
        seen.Add(req);
        res.set_content(
            R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{"pod":"p"},)"
            R"("values":[[1000,"1"],[1005,"2.5"]]}]}})",
            "application/json");
      });
  server.Start();
  SleepRecorder sleeps;
  prometheus::Registry registry;
  ClientOptions o = BaseOptions(server.Url(), &sleeps);
  o.registry = &registry;
  auto client = MustClient(o);
  auto r = client->QueryRange("x", absl::FromUnixSeconds(1000), absl::FromUnixSeconds(1005),
                              absl::Milliseconds(5500));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->type, ResultType::kMatrix);
  ASSERT_EQ(r->series.size(), 1u);
  EXPECT_EQ(LabelValue(r->series[0].labels, "pod"), "p");
  ASSERT_EQ(r->series[0].points.size(), 2u);
  EXPECT_EQ(r->series[0].points[1], std::make_pair(int64_t{1'005'000}, 2.5));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen.at(0).get_param_value("query"), "x");
  EXPECT_EQ(seen.at(0).get_param_value("start"), "1000.000");
  EXPECT_EQ(seen.at(0).get_param_value("end"), "1005.000");
  EXPECT_EQ(seen.at(0).get_param_value("step"), "5.500");
  EXPECT_EQ(CounterValue(registry, "query_range", "success"), 1);
  // Refused before anything is sent.
  EXPECT_EQ(client
                ->QueryRange("x", absl::FromUnixSeconds(1000), absl::FromUnixSeconds(1005),
                             absl::ZeroDuration())
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client
                ->QueryRange("x", absl::FromUnixSeconds(1005), absl::FromUnixSeconds(1000),
                             absl::Seconds(1))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(seen.size(), 1u);
}

TEST(HttpClient, LabelValuesAsksTheLabelsPathAndA404IsUnimplemented) {
  TestServer server;
  Seen seen;
  server.http().Get(
      "/api/v1/label/namespace/values", [&](const httplib::Request& req, httplib::Response& res) {
        seen.Add(req);
        res.set_content(R"({"status":"success","data":["a","b"]})", "application/json");
      });
  server.Start();
  SleepRecorder sleeps;
  prometheus::Registry registry;
  ClientOptions o = BaseOptions(server.Url(), &sleeps);
  o.registry = &registry;
  auto client = MustClient(o);
  auto r =
      client->LabelValues("namespace", absl::FromUnixSeconds(1000), absl::FromUnixSeconds(2000));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(*r, ElementsAre("a", "b"));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen.at(0).get_param_value("start"), "1000.000");
  EXPECT_EQ(seen.at(0).get_param_value("end"), "2000.000");
  EXPECT_EQ(CounterValue(registry, "label_values", "success"), 1);
  // A server without the endpoint: Unimplemented, so callers do without.
  EXPECT_EQ(
      client->LabelValues("other", absl::InfinitePast(), absl::InfiniteFuture()).status().code(),
      absl::StatusCode::kUnimplemented);
  EXPECT_EQ(client->LabelValues("bad/label", absl::InfinitePast(), absl::InfiniteFuture())
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  // Prometheus has no POST form of this endpoint (405): method POST still asks with GET.
  o.method = "POST";
  auto post_client = MustClient(o);
  ASSERT_TRUE(
      post_client->LabelValues("namespace", absl::InfinitePast(), absl::InfiniteFuture()).ok());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen.at(1).method, "GET");
}

TEST(HttpClient, ReusesKeepAliveConnections) {
  TestServer server;
  Seen seen;
  server.http().Get("/api/v1/query", [&](const httplib::Request& req, httplib::Response& res) {
    seen.Add(req);
    res.set_content(kVectorAnswer, "application/json");
  });
  server.Start();
  SleepRecorder sleeps;
  auto client = MustClient(BaseOptions(server.Url(), &sleeps));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client->Query("up", absl::InfinitePast()).ok());
  ASSERT_EQ(seen.size(), 3u);
  // Same client-side port: one TCP connection served all three.
  EXPECT_EQ(seen.at(0).remote_port, seen.at(1).remote_port);
  EXPECT_EQ(seen.at(1).remote_port, seen.at(2).remote_port);
}

// The server closes a kept-alive connection just as the client reuses it: the transport sends the
// query once more on a new connection at once, without the client's backoff (no sleep) and as one
// attempt.
TEST(HttpClient, QueryOnAConnectionClosedAsItIsReusedIsSentAgainOnANewOne) {
  testutil::DroppingServer server(kVectorAnswer);
  SleepRecorder sleeps;
  ClientOptions o = BaseOptions(server.Url(), &sleeps);
  o.max_retries = 0;
  auto client = MustClient(o);
  ASSERT_TRUE(client->Query("up", absl::InfinitePast()).ok());
  server.DropNext(1);
  auto r = client->Query("up", absl::InfinitePast());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->samples.size(), 1u);
  EXPECT_THAT(server.Connections(), ElementsAre(1, 1, 2));
  EXPECT_TRUE(sleeps.waits.empty());
  // Dropped on a new connection too: an ordinary network failure (no transport retry).
  server.DropNext(2);
  EXPECT_EQ(client->Query("up", absl::InfinitePast()).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_THAT(server.Connections(), ElementsAre(1, 1, 2, 2, 3));
}

// HTTP_PROXY: the query goes to the proxy in absolute form; NO_PROXY sends the same URL direct.
TEST(HttpClient, HttpProxyFromTheProxyVariables) {
  testutil::DroppingServer server(kVectorAnswer);
  testutil::ConnectProxy proxy(
      {{"prometheus.example:9090", "127.0.0.1:" + std::to_string(server.port())}});
  SleepRecorder sleeps;
  ClientOptions o = BaseOptions("http://prometheus.example:9090/prefix", &sleeps);
  o.max_retries = 0;
  o.proxy = net::ProxyEnvironment{.http_proxy = proxy.Url(), .https_proxy = "", .no_proxy = ""};
  auto r = MustClient(o)->Query("up", absl::InfinitePast());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(proxy.Requests().size(), 1u);
  EXPECT_THAT(proxy.Requests()[0],
              ::testing::StartsWith("GET http://prometheus.example:9090/prefix/api/v1/query?"));
  // Loopback targets never go through the proxy.
  o.url = server.Url();
  ASSERT_TRUE(MustClient(o)->Query("up", absl::InfinitePast()).ok());
  EXPECT_EQ(proxy.Requests().size(), 1u);
  EXPECT_THAT(server.Connections(), ElementsAre(1, 2));
}

TEST(HttpClient, ConcurrentCallsShareTheClient) {
  TestServer server;
  std::atomic<int> served{0};
  server.http().Get("/api/v1/query", [&](const httplib::Request&, httplib::Response& res) {
    ++served;
    res.set_content(kVectorAnswer, "application/json");
  });
  server.Start();
  SleepRecorder sleeps;
  auto client = MustClient(BaseOptions(server.Url(), &sleeps));
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        if (client->Query("up", absl::InfinitePast()).ok()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 120);
  EXPECT_EQ(served.load(), 120);
}

TEST(NewHttpClient, RejectsBadOptions) {
  testutil::TempDir dir;
  auto check = [](ClientOptions o, const std::string& part) {
    auto c = NewHttpClient(std::move(o));
    ASSERT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << part;
    EXPECT_THAT(Msg(c.status()), HasSubstr(part));
  };
  ClientOptions o;
  o.url = "ftp://prometheus:9090";
  check(o, "url");
  o.url = "prometheus:9090";
  check(o, "url");
  o.url = "http://:9090";
  check(o, "missing host");
  o.url = "http://prometheus:99999";
  check(o, "invalid port");
  o.url = "http://prometheus:9090";
  o.method = "PUT";
  check(o, "method");
  o.method = "auto";
  o.bearer_token_file = dir.File("missing");
  check(o, "bearer_token_file");
  o.bearer_token_file.clear();
  o.tls.cert_file = dir.WriteFile("c.pem", "x");
  check(o, "tls.key_file");
  o.tls = {};
  o.timeout = absl::ZeroDuration();
  check(o, "timeout");
  o.timeout = absl::Seconds(1);
  o.url = "https://prometheus:9090";
  o.tls.cert_file = dir.WriteFile("c.pem", "not a certificate");
  o.tls.key_file = dir.WriteFile("k.pem", "not a key");
  check(o, "tls.cert_file");
  ClientOptions good;
  good.url = "https://[::1]:9090/prefix/";
  EXPECT_TRUE(NewHttpClient(good).ok());
}

// --- TLS ---

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = testutil::TestCa::Create(dir_.path(), "ca");
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = std::make_unique<testutil::TestCa>(*std::move(ca));
    auto other = testutil::TestCa::Create(dir_.path(), "other-ca", "some other CA");
    ASSERT_TRUE(other.ok()) << other.status();
    other_ca_ = std::make_unique<testutil::TestCa>(*std::move(other));
    auto server = ca_->IssueServer(dir_.path(), "server");
    ASSERT_TRUE(server.ok()) << server.status();
    server_cert_ = *std::move(server);
    auto client = ca_->IssueClient(dir_.path(), "client", "autoscale-adapter");
    ASSERT_TRUE(client.ok()) << client.status();
    client_cert_ = *std::move(client);
  }

  std::unique_ptr<TestServer> StartHttps(const testutil::CertFiles& cert,
                                         const char* client_ca = nullptr) {
    auto https = std::make_unique<httplib::SSLServer>(cert.cert_file.c_str(), cert.key_file.c_str(),
                                                      client_ca);
    EXPECT_TRUE(https->is_valid());
    auto server = std::make_unique<TestServer>(std::move(https));
    server->http().Get("/api/v1/query", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(kVectorAnswer, "application/json");
    });
    server->Start();
    return server;
  }

  ClientOptions Options(const TestServer& server) {
    ClientOptions o = BaseOptions(server.Url("https"), &sleeps_);
    o.max_retries = 0;
    return o;
  }

  testutil::TempDir dir_;
  std::unique_ptr<testutil::TestCa> ca_;
  std::unique_ptr<testutil::TestCa> other_ca_;
  testutil::CertFiles server_cert_;
  testutil::CertFiles client_cert_;
  SleepRecorder sleeps_;
};

TEST_F(TlsTest, VerifiesServerWithCaFile) {
  auto server = StartHttps(server_cert_);
  ClientOptions o = Options(*server);
  o.tls.ca_file = ca_->cert_file();
  auto r = MustClient(o)->Query("up", absl::InfinitePast());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->samples.size(), 1u);
}

TEST_F(TlsTest, WrongCaFailsAndInsecureSkipVerifyPasses) {
  auto server = StartHttps(server_cert_);
  ClientOptions o = Options(*server);
  o.tls.ca_file = other_ca_->cert_file();
  auto r = MustClient(o)->Query("up", absl::InfinitePast());
  ASSERT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Msg(r.status()), HasSubstr("certificate verification failed"));
  o.tls.insecure_skip_verify = true;
  r = MustClient(o)->Query("up", absl::InfinitePast());
  ASSERT_TRUE(r.ok()) << r.status();
}

TEST_F(TlsTest, ExpiredServerCertificateFails) {
  auto expired = ca_->IssueServer(dir_.path(), "expired", {}, /*expired=*/true);
  ASSERT_TRUE(expired.ok()) << expired.status();
  auto server = StartHttps(*expired);
  ClientOptions o = Options(*server);
  o.tls.ca_file = ca_->cert_file();
  auto r = MustClient(o)->Query("up", absl::InfinitePast());
  ASSERT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Msg(r.status()), HasSubstr("expired"));
}

TEST_F(TlsTest, ServerNameOverridesTheUrlHost) {
  testutil::CertSpec spec;
  spec.common_name = "prometheus.monitoring.svc";
  spec.dns_names = {"prometheus.monitoring.svc"};  // no IP SAN: 127.0.0.1 alone does not verify
  spec.server_auth = true;
  auto named = ca_->Issue(dir_.path(), "named", spec);
  ASSERT_TRUE(named.ok()) << named.status();
  auto server = StartHttps(*named);
  ClientOptions o = Options(*server);
  o.tls.ca_file = ca_->cert_file();
  EXPECT_EQ(MustClient(o)->Query("up", absl::InfinitePast()).status().code(),
            absl::StatusCode::kUnavailable);
  o.tls.server_name = "prometheus.monitoring.svc";
  auto r = MustClient(o)->Query("up", absl::InfinitePast());
  ASSERT_TRUE(r.ok()) << r.status();
}

TEST_F(TlsTest, MutualTls) {
  auto server = StartHttps(server_cert_, ca_->cert_file().c_str());
  ClientOptions o = Options(*server);
  o.tls.ca_file = ca_->cert_file();
  // Without a client certificate the handshake is refused.
  EXPECT_EQ(MustClient(o)->Query("up", absl::InfinitePast()).status().code(),
            absl::StatusCode::kUnavailable);
  o.tls.cert_file = client_cert_.cert_file;
  o.tls.key_file = client_cert_.key_file;
  auto r = MustClient(o)->Query("up", absl::InfinitePast());
  ASSERT_TRUE(r.ok()) << r.status();
  // A client certificate from another CA is refused too.
  auto foreign = other_ca_->IssueClient(dir_.path(), "foreign", "intruder");
  ASSERT_TRUE(foreign.ok());
  o.tls.cert_file = foreign->cert_file;
  o.tls.key_file = foreign->key_file;
  EXPECT_EQ(MustClient(o)->Query("up", absl::InfinitePast()).status().code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace aa::prom
