// Each bound of net::HttpServer attacked on loopback: slow and idle connections, oversized and
// too many headers, trickling clients, stalled TLS handshakes, a full worker queue. Bounded in
// count (a few hundred sockets) and time (deadlines of a fraction of a second).
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "net/raw_socket.h"
#include "net/server.h"
#include "prometheus/registry.h"
#include "testutil/metric_value.h"
#include "testutil/temp_dir.h"
#include "testutil/tls_certs.h"

namespace aa::net {
namespace {

using ::testing::HasSubstr;
using testing::RawSocket;
using testing::StatusOf;
using Clock = std::chrono::steady_clock;

// Resident memory of this process, bytes.
size_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

HttpResponse Ok(const HttpRequest& r) {
  HttpResponse out;
  out.body = "ok " + r.path;
  out.route = "/x";
  return out;
}

class ServerLimits : public ::testing::Test {
 protected:
  void Start(HttpServerOptions options, HttpHandler handler = Ok) {
    options.registry = &registry_;
    auto server = StartHttpServer(std::move(options), std::move(handler));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }
  // A server whose handler waits for release_ (counting the calls in in_handler_).
  void StartBlocking(HttpServerOptions options) {
    Start(std::move(options), [this](const HttpRequest& r) {
      ++in_handler_;
      release_.WaitForNotification();
      return Ok(r);
    });
  }
  int port() const { return server_->port(); }
  // One GET on a fresh connection, with a client that gives up after 5 s.
  httplib::Result Get(const std::string& path = "/healthz") {
    httplib::Client client("127.0.0.1", port());
    client.set_connection_timeout(5);
    client.set_read_timeout(5);
    return client.Get(path.c_str());
  }
  double Metric(const std::string& family, const std::map<std::string, std::string>& labels) {
    return testutil::MetricValue(registry_, family, labels);
  }

  prometheus::Registry registry_;
  absl::Notification release_;
  std::atomic<int> in_handler_{0};
  std::unique_ptr<HttpServer> server_;  // stopped (and joined) before what its handler uses goes
};

// 300 connections that each sent one byte and wait hold no worker: a legitimate client still gets
// every answer, each on a new connection.
TEST_F(ServerLimits, SlowLorisSocketsDoNotStarveALegitimateClient) {
  HttpServerOptions options;
  options.threads = 4;
  Start(options);
  std::vector<RawSocket> loris;
  for (int i = 0; i < 300; ++i) {
    loris.emplace_back(port());
    ASSERT_TRUE(loris.back().ok());
    ASSERT_TRUE(loris.back().Send("G"));
  }
  auto start = Clock::now();
  for (int i = 0; i < 20; ++i) {
    auto res = Get();
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->body, "ok /healthz");
  }
  // Twenty answers while 300 connections hang: well under the 5 s one slow answer would take.
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  // The 300 (the last probe's connection may not be closed yet).
  EXPECT_GE(Metric("autoscale_adapter_http_open_connections", {{"server", "http"}}), 300);
}

// A header line that never ends: the server reads no more than its header limit and closes; the
// process does not grow with what the client sends.
TEST_F(ServerLimits, HugeHeaderLineIsRefusedWithBoundedMemory) {
  Start({});
  ASSERT_TRUE(Get());  // threads and pools warmed up before measuring
  RawSocket s(port());
  ASSERT_TRUE(s.Send("GET /healthz HTTP/1.1\r\nX-Huge: "));
  const size_t before = ResidentBytes();
  const std::string chunk(64 << 10, 'a');
  size_t sent = 0;
  while (sent < (size_t{256} << 20) && s.Send(chunk)) sent += chunk.size();
  const size_t after = ResidentBytes();
  // The server stopped reading at 32 KiB: the sends failed long before 256 MiB went out (what
  // did go out sits in kernel socket buffers, not in the process).
  EXPECT_LT(sent, size_t{64} << 20);
  EXPECT_LT(after, before + (size_t{8} << 20)) << "grew from " << before << " to " << after;
  EXPECT_EQ(Metric("autoscale_adapter_http_requests_total", {{"code", "431"}}), 1);
  ASSERT_TRUE(Get());  // still serving
}

TEST_F(ServerLimits, TooManyOrTooLargeHeadersAre431) {
  Start({});
  auto with_headers = [&](int count, size_t value_bytes) {
    std::string request = "GET /a HTTP/1.1\r\n";
    for (int i = 0; i < count; ++i) {
      absl::StrAppend(&request, "X-", i, ": ", std::string(value_bytes, 'v'), "\r\n");
    }
    RawSocket s(port());
    EXPECT_TRUE(s.Send(request + "\r\n"));
    return s.ReadResponse();
  };
  EXPECT_EQ(StatusOf(with_headers(100, 10)), 200);
  std::string r = with_headers(101, 10);
  EXPECT_EQ(StatusOf(r), 431) << r;
  EXPECT_THAT(r, HasSubstr("too many request header fields: over the limit of 100"));
  // Five fields of 8000 bytes: each under the field limit, together over 32 KiB.
  r = with_headers(5, 8000);
  EXPECT_EQ(StatusOf(r), 431) << r;
  EXPECT_THAT(r, HasSubstr("32768-byte limit of all header fields together"));
}

// A body is read and dropped within its limit (the connection stays usable); over it, 413.
TEST_F(ServerLimits, BodiesAreBoundedAndDrained) {
  HttpServerOptions options;
  options.max_body_bytes = 1000;
  Start(options);
  RawSocket s(port());
  ASSERT_TRUE(s.Send("POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\n\r\n"));
  std::string r = s.ReadResponse();
  EXPECT_EQ(StatusOf(r), 200) << r;
  EXPECT_THAT(r, HasSubstr("ok /a"));
  r = s.ReadResponse();
  EXPECT_EQ(StatusOf(r), 200) << r;
  EXPECT_THAT(r, HasSubstr("ok /b"));
  RawSocket chunked(port());
  ASSERT_TRUE(chunked.Send("POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"));
  std::string chunk = absl::StrCat("200\r\n", std::string(0x200, 'x'), "\r\n");
  for (int i = 0; i < 3; ++i) chunked.Send(chunk);
  r = chunked.ReadResponse();
  EXPECT_EQ(StatusOf(r), 413) << r;
  EXPECT_THAT(r, HasSubstr("1000-byte limit"));
}

// At the connection limit, the connection that has waited longest without a complete request
// makes room for the new one.
TEST_F(ServerLimits, IdleConnectionsAreEvictedAtTheCap) {
  HttpServerOptions options;
  options.max_connections = 10;
  Start(options);
  std::vector<RawSocket> idle;
  for (int i = 0; i < 10; ++i) {
    idle.emplace_back(port());
    // Each completes a request and stays open (keep-alive), in this order.
    ASSERT_TRUE(idle.back().Send("GET /a HTTP/1.1\r\n\r\n"));
    ASSERT_EQ(StatusOf(idle.back().ReadResponse()), 200);
  }
  // Three newcomers (each kept open after its answer) take the place of the three oldest.
  std::vector<RawSocket> newcomers;
  for (int i = 0; i < 3; ++i) {
    newcomers.emplace_back(port());
    ASSERT_TRUE(newcomers.back().Send("GET /new HTTP/1.1\r\n\r\n"));
    EXPECT_EQ(StatusOf(newcomers.back().ReadResponse()), 200) << i;
  }
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(idle[i].ClosedWithin(5000)) << i;
  for (int i = 3; i < 10; ++i) {
    ASSERT_TRUE(idle[i].Send("GET /b HTTP/1.1\r\n\r\n"));
    EXPECT_EQ(StatusOf(idle[i].ReadResponse()), 200) << i;
  }
  // A probe on a connection of its own (closed after its answer) is served too.
  auto res = Get();
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(Metric("autoscale_adapter_http_connections_evicted_total", {{"server", "http"}}), 4);
}

// When every connection is busy in a handler there is nothing to evict: the new one gets 503 at
// once instead of waiting.
TEST_F(ServerLimits, AtTheCapWithEveryConnectionBusyNewOnesGet503AtOnce) {
  HttpServerOptions options;
  options.max_connections = 2;
  StartBlocking(options);
  RawSocket a(port()), b(port());
  ASSERT_TRUE(a.Send("GET /a HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(b.Send("GET /b HTTP/1.1\r\n\r\n"));
  while (in_handler_.load() < 2) std::this_thread::yield();
  RawSocket c(port());
  std::string r = c.ReadResponse();
  EXPECT_EQ(StatusOf(r), 503) << r;
  EXPECT_THAT(r, HasSubstr("too many connections"));
  EXPECT_EQ(
      Metric("autoscale_adapter_http_connections_refused_total", {{"reason", "max_connections"}}),
      1);
  release_.Notify();
  EXPECT_EQ(StatusOf(a.ReadResponse()), 200);
  EXPECT_EQ(StatusOf(b.ReadResponse()), 200);
}

// A full worker queue answers 503 at once.
TEST_F(ServerLimits, FullWorkerQueueAnswers503) {
  HttpServerOptions options;
  options.threads = 1;
  options.max_queued_requests = 1;
  StartBlocking(options);
  RawSocket a(port()), b(port()), c(port());
  ASSERT_TRUE(a.Send("GET /a HTTP/1.1\r\n\r\n"));
  while (in_handler_.load() < 1) std::this_thread::yield();
  // One worker busy, room for one more request in the queue: of the next two, one waits and the
  // other is refused at once (which one depends on the order the server reads them).
  ASSERT_TRUE(b.Send("GET /b HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(c.Send("GET /c HTTP/1.1\r\n\r\n"));
  pollfd ready[2] = {{b.fd(), POLLIN, 0}, {c.fd(), POLLIN, 0}};
  ASSERT_EQ(poll(ready, 2, 10000), 1);
  RawSocket& refused = (ready[0].revents & POLLIN) ? b : c;
  RawSocket& waiting = (ready[0].revents & POLLIN) ? c : b;
  std::string r = refused.ReadResponse();
  EXPECT_EQ(StatusOf(r), 503) << r;
  EXPECT_THAT(r, HasSubstr("server busy"));
  release_.Notify();
  EXPECT_EQ(StatusOf(a.ReadResponse()), 200);
  EXPECT_EQ(StatusOf(waiting.ReadResponse()), 200);
}

// Workers start as requests need them, never more than `threads`: an idle server holds no worker
// (its stack and malloc arena), a busy one the workers it needed, and the bound still refuses.
TEST_F(ServerLimits, WorkersStartOnDemandUpToTheBound) {
  auto threads = [] {
    return std::distance(std::filesystem::directory_iterator("/proc/self/task"),
                         std::filesystem::directory_iterator());
  };
  const auto before = threads();
  HttpServerOptions options;
  options.threads = 3;
  options.max_queued_requests = 0;
  StartBlocking(options);
  EXPECT_EQ(threads(), before + 1);  // the I/O thread only
  RawSocket a(port()), b(port()), c(port()), d(port());
  for (RawSocket* s : {&a, &b, &c}) ASSERT_TRUE(s->Send("GET /a HTTP/1.1\r\n\r\n"));
  while (in_handler_.load() < 3) std::this_thread::yield();
  EXPECT_EQ(threads(), before + 4);
  // Three workers busy, no queue: refused at once, no fourth worker.
  ASSERT_TRUE(d.Send("GET /d HTTP/1.1\r\n\r\n"));
  EXPECT_EQ(StatusOf(d.ReadResponse()), 503);
  EXPECT_EQ(threads(), before + 4);
  release_.Notify();
  for (RawSocket* s : {&a, &b, &c}) EXPECT_EQ(StatusOf(s->ReadResponse()), 200);
}

// Sends a byte every 20 ms until the server closes the connection (or `limit` passes); returns how
// long the connection lived.
Clock::duration TrickleUntilClosed(RawSocket& s, std::string_view bytes, Clock::duration limit) {
  auto start = Clock::now();
  size_t i = 0;
  while (Clock::now() - start < limit) {
    if (!s.Send(bytes.substr(i++ % bytes.size(), 1))) break;
    if (s.ClosedWithin(20)) break;
  }
  return Clock::now() - start;
}

// A client that keeps sending header bytes, slowly, is dropped at the header deadline: the
// deadline covers the headers as a whole, not each read.
TEST_F(ServerLimits, TricklingClientIsDroppedAtTheHeaderDeadline) {
  HttpServerOptions options;
  options.request_header_timeout = absl::Milliseconds(300);
  Start(options);
  RawSocket s(port());
  auto lived =
      TrickleUntilClosed(s, "GET /a HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                         std::chrono::seconds(10));
  EXPECT_GE(lived, std::chrono::milliseconds(300));
  EXPECT_LT(lived, std::chrono::seconds(10)) << "never dropped";
  EXPECT_EQ(Metric("autoscale_adapter_http_connections_timed_out_total", {{"reason", "header"}}),
            1);
}

TEST_F(ServerLimits, TricklingBodyIsDroppedAtTheBodyDeadline) {
  HttpServerOptions options;
  options.body_timeout = absl::Milliseconds(300);
  Start(options);
  RawSocket s(port());
  ASSERT_TRUE(s.Send("POST /a HTTP/1.1\r\nContent-Length: 100000\r\n\r\n"));
  auto lived = TrickleUntilClosed(s, "x", std::chrono::seconds(10));
  EXPECT_LT(lived, std::chrono::seconds(10)) << "never dropped";
  EXPECT_EQ(Metric("autoscale_adapter_http_connections_timed_out_total", {{"reason", "body"}}), 1);
}

TEST_F(ServerLimits, IdleKeepAliveConnectionIsClosedAtTheIdleTimeout) {
  HttpServerOptions options;
  options.keep_alive_timeout = absl::Milliseconds(200);
  Start(options);
  RawSocket s(port());
  ASSERT_TRUE(s.Send("GET /a HTTP/1.1\r\n\r\n"));
  ASSERT_EQ(StatusOf(s.ReadResponse()), 200);
  EXPECT_TRUE(s.ClosedWithin(10000));
  EXPECT_EQ(Metric("autoscale_adapter_http_connections_timed_out_total", {{"reason", "idle"}}), 1);
  EXPECT_EQ(Metric("autoscale_adapter_http_open_connections", {{"server", "http"}}), 0);
}

// TLS handshakes that never complete are held by the I/O thread, not by workers: other clients
// are served meanwhile, and the stalled ones are closed at the handshake deadline.
TEST_F(ServerLimits, StalledTlsHandshakesDoNotBlockOtherClients) {
  testutil::TempDir dir;
  auto ca = testutil::TestCa::Create(dir.path(), "ca");
  ASSERT_TRUE(ca.ok()) << ca.status();
  auto cert = ca->IssueServer(dir.path(), "server");
  ASSERT_TRUE(cert.ok()) << cert.status();
  HttpServerOptions options;
  options.name = "https";
  options.threads = 4;
  options.tls_cert_file = cert->cert_file;
  options.tls_key_file = cert->key_file;
  options.tls_handshake_timeout = absl::Milliseconds(500);
  Start(options);
  std::vector<RawSocket> stalled;
  for (int i = 0; i < 200; ++i) {
    stalled.emplace_back(port());
    ASSERT_TRUE(stalled.back().ok());
    ASSERT_TRUE(stalled.back().Send(std::string(1, '\x16')));  // a TLS record's first byte
  }
  httplib::SSLClient client("127.0.0.1", port());
  client.set_ca_cert_path(ca->cert_file().c_str());
  client.set_connection_timeout(5);
  client.set_read_timeout(5);
  for (int i = 0; i < 5; ++i) {
    auto res = client.Get("/livez");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->body, "ok /livez");
  }
  for (auto& s : stalled) EXPECT_TRUE(s.ClosedWithin(10000));
  EXPECT_EQ(Metric("autoscale_adapter_http_connections_timed_out_total",
                   {{"server", "https"}, {"reason", "tls_handshake"}}),
            200);
}

}  // namespace
}  // namespace aa::net
