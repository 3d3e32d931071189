#pragma once
// A small HTTP(S) server: one handler for every request, a bounded worker pool, keep-alive, port 0,
// graceful stop. The adapter's servers touch cpp-httplib only here (its header stays inside
// server.cc); the simulator's own HTTP face (sim/server.cc) uses it directly.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace prometheus {
class Registry;
}
// OpenSSL's SSL and SSL_CTX (openssl/ssl.h), declared here so the header stays free of OpenSSL.
struct ssl_st;
struct ssl_ctx_st;

namespace aa::net {

// Header and parameter names are kept as received; header lookups ignore case.
struct HttpRequest {
  std::string method;
  std::string path;                                // percent-decoded path, without the query string
  std::multimap<std::string, std::string> params;  // decoded query parameters ('+' is a space)
  std::vector<std::pair<std::string, std::string>> headers;
  std::string remote_addr;
  // The TLS connection the request came on (HTTPS only, else null): for reading the client's
  // certificate (SSL_get0_peer_certificate). Valid for the duration of the handler call.
  const ssl_st* ssl = nullptr;

  // First value of query parameter `name`, or nullptr.
  const std::string* Param(std::string_view name) const;
  // First value of header `name` (case-insensitive), or nullptr.
  const std::string* Header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Low-cardinality name of what was served ("/api/v1/namespaces/{ns}/metrics/{metric}"), for
  // self-metrics.
  std::string route = "other";
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  // "host:port"; port 0 picks a free port (logged, and returned by port()). "[::1]:0" for IPv6.
  std::string listen = "127.0.0.1:0";
  // Name in logs and self-metrics ("http", "https").
  std::string name = "http";
  // Worker threads; each open keep-alive connection holds one while it waits. Default 64.
  int threads = 64;
  // Idle keep-alive connections are closed after this long; Stop() may wait this long for them.
  // Default 5 s.
  absl::Duration keep_alive_timeout = absl::Seconds(5);
  // Requests whose path + query exceed this are answered 414 without calling the handler.
  // Default 8 KiB. cpp-httplib itself limits the request line (method, target and version) to
  // 8192 bytes (414) and each header line to 8192 bytes: the server answers those 414 and 431
  // (Request Header Fields Too Large), through `error_response` like its other own errors.
  size_t max_uri_bytes = 8192;
  // Renders the errors the server answers by itself, without calling the handler: 400 (request
  // line unparsable), 405 (a method HTTP/1.1 does not know), 413 (body over 1 MiB), 414, 431 and
  // any other status cpp-httplib answers on its own. Gets the status and a message a person can
  // act on; what it returns is sent with that status (its `status` is ignored). Default: the
  // message as text/plain. Called on worker threads, concurrently.
  std::function<HttpResponse(int status, std::string message)> error_response;
  // TLS: both set -> HTTPS. PEM files.
  std::string tls_cert_file;
  std::string tls_key_file;
  // TLS set up by the caller instead (takes precedence over the files): called once with the new
  // server's SSL_CTX to install certificates (e.g. a per-handshake certificate callback for
  // rotation), protocol versions and client-certificate requests. An error fails the start
  // (InvalidArgument). The context outlives neither the server nor what the callback captured.
  std::function<absl::Status(ssl_ctx_st*)> tls_setup;
  // Self-metrics: autoscale_adapter_http_requests_total{server,route,code} and
  // autoscale_adapter_http_request_duration_seconds{server,route}. May be null.
  prometheus::Registry* registry = nullptr;
};

// Thread-safe. The handler runs on worker threads, concurrently.
class HttpServer {
 public:
  virtual ~HttpServer() = default;
  virtual int port() const = 0;
  // Stops accepting, lets in-flight requests finish, joins the workers. Idempotent.
  virtual void Stop() = 0;
};

// Binds and starts serving. InvalidArgument for a malformed listen address or unreadable TLS files;
// Unavailable when the address cannot be bound.
absl::StatusOr<std::unique_ptr<HttpServer>> StartHttpServer(HttpServerOptions options,
                                                            HttpHandler handler);

// What an answer cpp-httplib gave on its own (before the handler ran) means, from the status it
// chose and what it parsed of the request line: 414 request line over 8192 bytes; 400 split into
// 431 (a header line over 8192 bytes, or the connection ended inside the headers: the library
// does not tell these apart, and only the first gets an answer read), 405 (a method it does not
// know) and 400 (malformed request line or target); 416 bad Range header. Exposed for tests.
struct LibraryError {
  int status;
  std::string message;
};
LibraryError ExplainLibraryError(int status, std::string_view method, std::string_view target,
                                 std::string_view version, std::string_view path);

// Splits "host:port" / "[v6]:port" / ":port". InvalidArgument naming the text when malformed.
absl::StatusOr<std::pair<std::string, int>> ParseListenAddress(std::string_view address);

}  // namespace aa::net
