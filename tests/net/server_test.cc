#include "net/server.h"

#include <httplib.h>

#include <atomic>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
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

// What cpp-httplib refused by itself, told apart from what it parsed of the request line.
TEST(HttpServer, ExplainsTheLibrarysOwnErrors) {
  EXPECT_EQ(ExplainLibraryError(414, "", "", "", "").status, 414);
  EXPECT_THAT(ExplainLibraryError(414, "", "", "", "").message, HasSubstr("8192-byte limit"));
  // Request line parsed (path set, at most one '?'): the headers failed.
  LibraryError e = ExplainLibraryError(400, "GET", "/a?b=c", "HTTP/1.1", "/a");
  EXPECT_EQ(e.status, 431);
  EXPECT_THAT(e.message, HasSubstr("request headers exceed the 8192-byte limit"));
  EXPECT_EQ(ExplainLibraryError(400, "GET", "/a?b?c", "HTTP/1.1", "/a").status, 400);
  // Not parsed: an unknown method on an otherwise fine line is 405, anything else 400.
  e = ExplainLibraryError(400, "FOO", "/a", "HTTP/1.1", "");
  EXPECT_EQ(e.status, 405);
  EXPECT_THAT(e.message, HasSubstr("FOO"));
  EXPECT_EQ(ExplainLibraryError(400, "GET", "/a", "HTTP/2.0", "").status, 400);
  EXPECT_EQ(ExplainLibraryError(400, "", "", "", "").status, 400);
  EXPECT_EQ(ExplainLibraryError(400, "FOO", "a", "HTTP/1.1", "").status, 400);
  EXPECT_EQ(ExplainLibraryError(416, "GET", "/a", "HTTP/1.1", "/a").status, 416);
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
