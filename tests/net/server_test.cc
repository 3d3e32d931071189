#include "net/server.h"

#include <httplib.h>

#include <atomic>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "net/raw_socket.h"
#include "prometheus/registry.h"

namespace aa::net {
namespace {

using ::testing::HasSubstr;

TEST(HttpServer, ServesOverKeepAliveOnPortZeroAndCountsRequests) {
  prometheus::Registry registry;
  HttpServerOptions options;
  options.registry = &registry;
  auto server = StartHttpServer(options, [](const HttpRequest& r) {
    HttpResponse out;
    out.body = r.path + "|" + (r.Param("q") ? *r.Param("q") : "") + "|" +
               (r.Header("x-test") ? *r.Header("x-test") : "");
    out.route = "/echo";
    return out;
  });
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);
  httplib::Client client("127.0.0.1", (*server)->port());
  client.set_keep_alive(true);
  client.set_url_encode(false);  // send the query exactly as the aggregator does
  for (int i = 0; i < 3; ++i) {
    auto res = client.Get("/pods/%2A/x?q=app+in+%28a%2Cb%29", {{"X-Test", "v"}});
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->body, "/pods/*/x|app in (a,b)|v");
  }
  auto res = client.Get(("/" + std::string(10000, 'a')).c_str());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 414);
  client.stop();
  (*server)->Stop();
  EXPECT_FALSE(client.Get("/x"));  // stopped: refused
}

// What the server refuses by itself, over the wire: each status with a message that says why.
TEST(HttpServer, ExplainsItsOwnRefusals) {
  auto server = StartHttpServer({}, [](const HttpRequest&) { return HttpResponse{}; });
  ASSERT_TRUE(server.ok()) << server.status();
  auto refusal = [&](const std::string& request) {
    testing::RawSocket s((*server)->port());
    EXPECT_TRUE(s.Send(request));
    return s.ReadResponse();
  };
  // A request line longer than all headers may be: 414, though nothing of it was kept.
  std::string r = refusal("GET /" + std::string(40000, 'a') + " HTTP/1.1\r\n\r\n");
  EXPECT_EQ(testing::StatusOf(r), 414) << r;
  EXPECT_THAT(r, HasSubstr("request URI too long"));
  r = refusal("GET /a?b=c HTTP/1.1\r\nX-Big: " + std::string(9000, 'x') + "\r\n\r\n");
  EXPECT_EQ(testing::StatusOf(r), 431) << r;
  EXPECT_THAT(r, HasSubstr("request headers exceed the 8192-byte limit of one header field"));
  r = refusal("GET /a?b?c HTTP/1.1\r\n\r\n");
  EXPECT_EQ(testing::StatusOf(r), 400) << r;
  EXPECT_THAT(r, HasSubstr("more than one '?'"));
  // An unknown method on an otherwise fine line is 405, anything else malformed 400.
  r = refusal("FOO /a HTTP/1.1\r\n\r\n");
  EXPECT_EQ(testing::StatusOf(r), 405) << r;
  EXPECT_THAT(r, HasSubstr("method FOO is not allowed"));
  EXPECT_EQ(testing::StatusOf(refusal("GET /a HTTP/2.0\r\n\r\n")), 400);
  EXPECT_EQ(testing::StatusOf(refusal("FOO a HTTP/1.1\r\n\r\n")), 400);
  EXPECT_EQ(testing::StatusOf(refusal("nonsense\r\n\r\n")), 400);
  EXPECT_EQ(testing::StatusOf(refusal("GET /a HTTP/1.1\r\nNo colon here\r\n\r\n")), 400);
  // A body over the limit: 413 before any of it is read.
  r = refusal("POST /a HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n");
  EXPECT_EQ(testing::StatusOf(r), 413) << r;
  EXPECT_THAT(r, HasSubstr("1048576-byte limit"));
}

// The server's own refusals go through error_response; the handler never sees them.
TEST(HttpServer, OwnRefusalsAreRenderedByErrorResponse) {
  HttpServerOptions options;
  options.max_uri_bytes = 100;
  options.error_response = [](int status, std::string message) {
    HttpResponse r;
    r.body = absl::StrCat("{\"code\":", status, ",\"message\":\"", message, "\"}");
    return r;
  };
  std::atomic<int> calls{0};
  auto server = StartHttpServer(options, [&](const HttpRequest&) {
    ++calls;
    return HttpResponse{};
  });
  ASSERT_TRUE(server.ok()) << server.status();
  httplib::Client client("127.0.0.1", (*server)->port());
  auto res = client.Get(("/" + std::string(200, 'a')).c_str());
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 414);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  EXPECT_THAT(res->body, HasSubstr("201 bytes, over the 100-byte limit"));
  res = client.Get("/", {{"X-Big", std::string(9000, 'x')}});
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 431);
  EXPECT_THAT(res->body, HasSubstr("\"code\":431"));
  EXPECT_EQ(calls.load(), 0);
  res = client.Get("/ok");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(calls.load(), 1);
  (*server)->Stop();
}

TEST(HttpServer, RejectsBadListenAddresses) {
  for (const char* bad : {"nope", "1.2.3.4:99999", "::1:80", "host:-1"}) {
    HttpServerOptions options;
    options.listen = bad;
    EXPECT_EQ(StartHttpServer(options, nullptr).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
  auto ok = ParseListenAddress(":8080");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->first, "0.0.0.0");
  EXPECT_EQ(ParseListenAddress("[::1]:0")->first, "::1");
}

}  // namespace
}  // namespace aa::net
