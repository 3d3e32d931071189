#include "net/call.h"

#include <httplib.h>

#include <memory>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testutil/loopback_http.h"
#include "testutil/temp_dir.h"
#include "testutil/tls_certs.h"

namespace aa::net {
namespace {

using ::testing::HasSubstr;

// Runs `server` on a loopback port until destroyed.
class Running {
 public:
  explicit Running(httplib::Server& server) : server_(server) {
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::yield();
  }
  ~Running() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }

 private:
  httplib::Server& server_;
  std::thread thread_;
  int port_ = 0;
};

TEST(HttpCall, SendsTheJsonBodyAndReturnsAnyStatus) {
  httplib::Server server;
  std::string got;
  server.Put("/svc/load", [&](const httplib::Request& req, httplib::Response& res) {
    got = req.get_header_value("Content-Type") + " " + req.body;
    res.status = 404;
    res.set_content("no such service", "text/plain");
  });
  Running running(server);
  auto r = HttpCall("PUT", "127.0.0.1", running.port(), "/svc/load", R"({"rps":5})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body, "no such service");
  EXPECT_EQ(got, R"(application/json {"rps":5})");
}

TEST(HttpCall, NoConnectionIsUnavailableNamingTheRequest) {
  int port = 0;
  { port = testutil::DroppingServer("").port(); }  // closed again: nothing listens there
  auto r = HttpCall("GET", "127.0.0.1", port, "/readyz", "", absl::Seconds(2));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(),
              HasSubstr("GET http://127.0.0.1:" + std::to_string(port) + "/readyz: "));
}

TEST(HttpsGetInsecure, AcceptsAnUntrustedCertificateAndSendsTheBearerToken) {
  testutil::TempDir dir;
  auto ca = testutil::TestCa::Create(dir.path(), "ca");
  ASSERT_TRUE(ca.ok()) << ca.status();
  auto cert = ca->IssueServer(dir.path(), "server");
  ASSERT_TRUE(cert.ok()) << cert.status();
  httplib::SSLServer server(cert->cert_file.c_str(), cert->key_file.c_str());
  std::string auth;
  server.Get("/apis", [&](const httplib::Request& req, httplib::Response& res) {
    auth = req.get_header_value("Authorization");
    res.set_content("{}", "application/json");
  });
  Running running(server);
  auto r = HttpsGetInsecure("127.0.0.1", running.port(), "/apis", "t0ken");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "{}");
  EXPECT_EQ(auth, "Bearer t0ken");
}

}  // namespace
}  // namespace aa::net
