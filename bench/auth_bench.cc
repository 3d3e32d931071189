// What the HTTPS port's security costs per request: sequential GETs over one keep-alive TLS
// connection (and, last row, a new TLS handshake per request) against a trivial handler, with
// authentication and authorization off, by client certificate, by bearer token and by front proxy
// (TokenReview and SubjectAccessReview answers cached, as in steady state). Prints a table.

#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "auth/authenticator.h"
#include "auth/authorizer.h"
#include "auth/filter.h"
#include "auth/serving_tls.h"
#include "common/log.h"
#include "net/server.h"
#include "testutil/temp_dir.h"
#include "testutil/tls_certs.h"

namespace aa {
namespace {

class AllowAll : public auth::Authorizer {
 public:
  absl::StatusOr<auth::AuthorizationResult> Authorize(const auth::Attributes&) override {
    return auth::AuthorizationResult{auth::Decision::kAllow, ""};
  }
};
class OneToken : public auth::TokenReviewer {
 public:
  absl::StatusOr<auth::TokenReviewResult> Review(const std::string& token) override {
    auth::TokenReviewResult r;
    r.authenticated = token == "bench-token";
    r.user.name = "bench";
    return r;
  }
};

int Run() {
  (void)SetLogLevel("warn");
  testutil::TempDir dir;
  auto server_ca = testutil::TestCa::Create(dir.path(), "server-ca");
  auto client_ca = testutil::TestCa::Create(dir.path(), "client-ca");
  auto front_ca = testutil::TestCa::Create(dir.path(), "front-ca");
  if (!server_ca.ok() || !client_ca.ok() || !front_ca.ok()) return 1;
  auto serving = server_ca->IssueServer(dir.path(), "serving");
  auto client = client_ca->IssueClient(dir.path(), "client", "bench", {"devs"});
  auto proxy = front_ca->IssueClient(dir.path(), "proxy", "front-proxy-client");
  if (!serving.ok() || !client.ok() || !proxy.ok()) return 1;

  auto cert =
      auth::ServingCertificate::Load(serving->cert_file, serving->key_file, RealClock::Get());
  if (!cert.ok()) return 1;
  auth::TrustConfig trust;
  trust.client_ca = *auth::CaPool::FromFile(client_ca->cert_file());
  auth::RequestHeaderConfig rh;
  rh.client_ca = *auth::CaPool::FromFile(front_ca->cert_file());
  rh.allowed_names = {"front-proxy-client"};
  trust.request_header = rh;
  auth::TrustStore store(trust);
  OneToken tokens;
  auth::CachingTokenReviewer cached_tokens(tokens, RealClock::Get());
  AllowAll allow;
  auth::CachingAuthorizer cached_allow(allow, RealClock::Get());
  auth::Authenticator authenticator({&store, &cached_tokens, &RealClock::Get()});

  struct Mode {
    const char* name;
    bool secured;
    const testutil::CertFiles* cert;
    httplib::Headers headers;
    bool new_connection;
  };
  const Mode modes[] = {
      {"auth off", false, nullptr, {}, false},
      {"client certificate (x509 verify + cached SAR)", true, &*client, {}, false},
      {"bearer token (cached TokenReview + SAR)",
       true,
       nullptr,
       {{"Authorization", "Bearer bench-token"}},
       false},
      {"front proxy (x509 verify + headers + cached SAR)",
       true,
       &*proxy,
       {{"X-Remote-User", "system:serviceaccount:kube-system:hpa"},
        {"X-Remote-Group", "system:serviceaccounts"}},
       false},
      {"client certificate, new TLS handshake per request", true, &*client, {}, true},
  };
  std::printf("%-52s %10s %12s\n", "HTTPS request (2-core machine, sequential)", "requests",
              "mean (us)");
  for (const Mode& m : modes) {
    auth::AuthFilter filter(
        {m.secured ? &authenticator : nullptr, m.secured ? &cached_allow : nullptr, nullptr});
    net::HttpServerOptions options;
    options.name = "https";
    options.threads = 4;
    options.tls_setup = [&](ssl_ctx_st* ctx) { return (*cert)->ConfigureContext(ctx); };
    auto server = net::StartHttpServer(options, filter.Wrap([](const net::HttpRequest&) {
      net::HttpResponse r;
      r.body = "{}";
      return r;
    }));
    if (!server.ok()) return 1;
    auto make_client = [&] {
      auto c = m.cert ? std::make_unique<httplib::SSLClient>("127.0.0.1", (*server)->port(),
                                                             m.cert->cert_file, m.cert->key_file)
                      : std::make_unique<httplib::SSLClient>("127.0.0.1", (*server)->port());
      c->set_ca_cert_path(server_ca->cert_file().c_str());
      c->enable_server_certificate_verification(true);
      c->set_keep_alive(!m.new_connection);
      return c;
    };
    auto c = make_client();
    const int n = m.new_connection ? 300 : 3000;
    const char* path = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/ns/pods/*/concurrency";
    for (int i = 0; i < 50; ++i) c->Get(path, m.headers);  // warm up (and fill the caches)
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) {
      if (m.new_connection) c = make_client();
      auto r = c->Get(path, m.headers);
      if (!r || r->status != 200) {
        std::fprintf(stderr, "%s: request failed (%d)\n", m.name, r ? r->status : -1);
        return 1;
      }
    }
    double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                    .count() /
                n;
    std::printf("%-52s %10d %12.1f\n", m.name, n, us);
    (*server)->Stop();
  }
  return 0;
}

}  // namespace
}  // namespace aa

int main() { return aa::Run(); }
