#pragma once
// The one HTTP/1.1 client of the project, under the Prometheus client and the Kubernetes API
// client: one base URL, a pool of kept-alive connections, TLS (CA, client certificate, server
// name), timeouts, one retry of a request that met a stale kept-alive connection, and the proxy
// variables (net/proxy.h). What goes over it (headers, auth, JSON, retry policy for HTTP answers)
// is the caller's.
//
//   auto client = net::Client::Create({.url = "https://10.96.0.1:443", .tls = {.ca_pem = ca}});
//   net::Result r = (*client)->Send({.target = "/api/v1/pods?limit=500"});
//   if (r.ok() && r.response.status == 200) Use(r.response.body);
//
// Connections: a request takes an idle kept-alive connection whose socket is still open, or opens a
// new one; after a complete answer the connection goes back to the pool (at most
// max_idle_connections idle ones are kept). Requests with keep_alive = false (long streams) always
// open a connection of their own and close it afterwards.
//
// Stale connections: a request sent on a reused kept-alive connection that fails before any
// response header arrived because the connection was closed or reset (EOF or reset on read or
// write: the server closed the idle connection as it was reused) is sent once more on a new
// connection. Nothing else is retried here: not timeouts, not HTTP answers of any status, not
// failures on a new connection, not a request whose answer had begun. A request may therefore
// reach the server twice: callers send only requests that are safe to repeat.
//
// Proxies: HTTPS_PROXY, HTTP_PROXY and NO_PROXY as net/proxy.h reads them, from the process
// environment at Create unless the options give them. http:// targets are requested from the proxy
// in absolute form; https:// targets through a CONNECT tunnel, TLS end to end with the target. A
// proxy that refuses the tunnel is a kNetwork failure naming its status. (cpp-httplib 0.11 hangs
// on a refusal that also says "Connection: close": a known limit of the library.)
//
// TLS: TLS 1.2 or newer. The server certificate is verified against the CA bundle (default: the
// system trust store) for the name `server_name` (default: the URL's host; an IP address is checked
// against the certificate's IP SANs), which is also sent as SNI. CA and client certificate files
// are read at Create and read again for new connections when they changed (inode, size or mtime): a
// rotated client certificate is used without a restart; while a changed file does not load, the
// last good material stays in use (logged).
//
// Thread-safe: Send may run concurrently from many threads, each on its own connection.

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "net/proxy.h"
#include "net/url.h"

namespace aa::net {

// Empty strings mean "not set"; inline PEM wins over a file.
struct ClientTls {
  std::string ca_file{};  // PEM bundle that verifies the server; none: the system trust store
  std::string ca_pem{};
  std::string cert_file{};  // client certificate (then intermediates) for mutual TLS; with a key
  std::string cert_pem{};
  std::string key_file{};  // its private key
  std::string key_pem{};
  std::string server_name{};          // SNI and verified name; default: the URL's host
  bool insecure_skip_verify = false;  // no verification of the server (the caller logs it)
};

struct ClientOptions {
  // Base URL "http[s]://host[:port][/path]"; request targets are appended to its path.
  std::string url{};
  ClientTls tls{};
  // Connect timeout, and the longest wait for each read or write. Default 10 s.
  absl::Duration timeout = absl::Seconds(10);
  // Idle kept-alive connections kept for reuse. Default 4.
  size_t max_idle_connections = 4;
  // The proxy variables; nullopt: ProxyEnvironment::FromProcess() at Create.
  std::optional<ProxyEnvironment> proxy{};
  // Names this client in logs ("prometheus", "kubernetes").
  std::string name = "http";
};

// Stops a running request from another thread (closes its connection); a request started with an
// already cancelled one does not start. Thread-safe.
class Cancellation {
 public:
  void Cancel();
  bool cancelled() const { return cancelled_.load(); }

 private:
  friend class Client;
  std::atomic<bool> cancelled_{false};
  absl::Mutex mu_;
  // Closes the running request's connection.
  std::function<void()> stop_ ABSL_GUARDED_BY(mu_);
};

struct Response {
  int status = 0;  // 0: no answer
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // the whole body, unless the request streamed it to on_body

  // First value of header `name` (case-insensitive), or nullptr.
  const std::string* Header(std::string_view name) const;
};

struct Request {
  std::string method = "GET";
  // Path and query appended to the base URL's path, already percent-encoded: "/api/v1/query?q=up".
  std::string target{};
  std::vector<std::pair<std::string, std::string>> headers{};
  std::string body{};          // sent with Content-Type content_type when not empty (or on POST)
  std::string content_type{};  // e.g. "application/json"
  // The longest wait for each read; zero: options.timeout. For streams, the idle timeout.
  absl::Duration read_timeout = absl::ZeroDuration();
  // The whole answer must have arrived by then (checked as the body arrives). Default: none.
  absl::Time deadline = absl::InfiniteFuture();
  // A larger body (by Content-Length or as it arrives) fails with kTooLarge. Default 64 MiB.
  size_t max_body_bytes = 64 << 20;
  // An answer without Content-Length (chunked) gets room for this many bytes (at most
  // max_body_bytes) before its first byte, so a large body is not copied each time it outgrows its
  // buffer. 0: none reserved. A guess: a larger body grows as before (prom::AnswerSizes).
  size_t expected_body_bytes = 0;
  // Called once the status line and headers arrived (`response.body` still empty); false stops the
  // request (kStopped).
  std::function<bool(const Response& response)> on_head{};
  // Receives the body as it arrives instead of Response::body; false stops (kStopped).
  std::function<bool(std::string_view chunk)> on_body{};
  // false: a connection of its own, closed afterwards (long streams such as watches).
  bool keep_alive = true;
  // May be null. Must outlive the call.
  Cancellation* cancel = nullptr;
};

enum class Failure {
  kNone,             // an HTTP answer (any status) arrived complete
  kTimeout,          // no connection, or nothing read, within the timeout; or the deadline passed
  kNetwork,          // cannot connect (refused, DNS, proxy refused CONNECT), reset, EOF, TLS error
  kTlsVerification,  // the server certificate did not verify (not worth retrying)
  kTooLarge,         // the body exceeded max_body_bytes
  kStopped,          // on_head or on_body returned false
  kCancelled,        // Cancellation::Cancel()
};

struct Result {
  Failure failure = Failure::kNone;
  // Why it failed, for error messages: "Connection" (refused or unreachable), "Read", "certificate
  // has expired", "Content-Length 123456", ... Never names credentials.
  std::string detail;
  // The answer (status 0 when none arrived; the head only when it failed later).
  Response response;
  bool ok() const { return failure == Failure::kNone; }
};

class Client {
 public:
  // Validates the options (URL, PEM data and files, proxy variables) and builds the client; no
  // connection is made. InvalidArgument naming the fault: "url: ...", "tls: ...", "HTTPS_PROXY:
  // ...".
  static absl::StatusOr<std::unique_ptr<Client>> Create(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends one request (see the header comment for connections, retries and proxies).
  Result Send(const Request& request);

  const Url& url() const;
  // The proxy requests go through, or nullopt when direct.
  const std::optional<Url>& proxy() const;

 private:
  class Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// PEM checks, for callers that validate their own options with their own names in the messages.
// InvalidArgument "no PEM certificate in it" / "no PEM private key in it" / "the key does not match
// the certificate".
absl::Status CheckCertificatePem(std::string_view pem);
absl::Status CheckPrivateKeyPem(std::string_view pem);
absl::Status CheckKeyMatchesCertificate(std::string_view cert_pem, std::string_view key_pem);

}  // namespace aa::net
